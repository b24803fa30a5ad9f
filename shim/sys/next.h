/* The next definitions of the interposed libc functions (wrapped.def), and
 * the calls the shim makes through them or, without them, as raw system
 * calls (real.c). */
#ifndef MADVISE_SHIM_NEXT_H
#define MADVISE_SHIM_NEXT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define WRAP(name, ret, params) extern ret (*_Atomic next_##name) params;
#include "wrapped.def"
#undef WRAP

/* The next definition of NAME, or NULL: not resolved yet, or none. */
#define NEXT(name) atomic_load_explicit(&next_##name, memory_order_acquire)

/* From the constructor, before any signal handler can be the first caller
 * (dlsym is not async-signal-safe). */
void next_resolve(void);

#endif
