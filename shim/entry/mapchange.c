/* mmap, mmap64, munmap and mremap: thin wrappers around the next definition.
 *
 * They exist for the emulated fork advice (fork.c), whose table must follow
 * the mappings as the kernel's flags would, and tell the emulated guards
 * (guard.c) what was unmapped.  While neither has anything recorded (in every
 * program that never needs them emulated) each wrapper costs two relaxed
 * atomic loads and branches on top of the call it wraps; otherwise the call
 * is made through fork_track_*(), which change nothing unless it succeeds.
 * Results and errno are the next definition's own.
 *
 * The next definitions come from next.h; without them (before the
 * constructor, or where there is none) real.c makes the raw syscall.
 *
 * glibc's own calls (malloc's mmap and munmap, thread stacks, dlclose) do not
 * come through here: see the limits in fork.c.
 */
/* The build asks for 64-bit off_t, which would turn the mmap defined here
 * into mmap64; both are defined, each with its own offset type. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "next.h"
#include "shim.h"

/* The calls as the program asked for them, made through the next definition
 * (next.h): mmap and mmap64 each with its own offset type. */
static void *call_next_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *(*next)(void *, size_t, int, int, int, long) = NEXT(mmap);
	if (next)
		return next(addr, len, prot, flags, fd, (long)off);
	return real_mmap(addr, len, prot, flags, fd, off);
}

static void *call_next_mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	void *(*next)(void *, size_t, int, int, int, int64_t) = NEXT(mmap64);
	if (next)
		return next(addr, len, prot, flags, fd, off);
	return real_mmap(addr, len, prot, flags, fd, off);
}

/* ---- the calls as fork_track_*() make them ---- */

struct map_call {
	void *addr;
	size_t len;
	int prot, flags, fd;
	int64_t off;
	bool is64;
};

static intptr_t call_mmap(void *arg)
{
	const struct map_call *c = arg;
	void *p = c->is64 ? call_next_mmap64(c->addr, c->len, c->prot, c->flags, c->fd, c->off)
			  : call_next_mmap(c->addr, c->len, c->prot, c->flags, c->fd, (off_t)c->off);
	return (intptr_t)p;
}

struct unmap_call {
	void *addr;
	size_t len;
};

static intptr_t call_munmap(void *arg)
{
	const struct unmap_call *c = arg;
	return real_munmap(c->addr, c->len);
}

struct remap_call {
	void *old;
	size_t old_len, new_len;
	int flags;
	void *new_addr;
};

static intptr_t call_mremap(void *arg)
{
	const struct remap_call *c = arg;
	return (intptr_t)real_mremap(c->old, c->old_len, c->new_len, c->flags, c->new_addr);
}

/* ---- the interposed entry points ----
 * After a successful call, what it unmapped or replaced loses its emulated
 * guards too (guard.c; one relaxed load while there are none). */

static void forget_guards(uintptr_t start, size_t len)
{
	size_t rounded = shim_page_round(len);
	if (!rounded || start + rounded < start)
		return;
	int saved = errno;
	guard_forget(start, start + rounded);
	errno = saved;
}

static void *mapped(void *p, size_t len)
{
	if (p != MAP_FAILED)
		forget_guards((uintptr_t)p, len);
	return p;
}

static void *remapped(void *p, void *old, size_t old_len, size_t new_len, int flags)
{
	if (p == MAP_FAILED)
		return p;
	if (p != old) {
		int saved = errno;
		size_t moved = shim_page_round(old_len < new_len ? old_len : new_len);
		guard_move((uintptr_t)old, (uintptr_t)p, moved, flags & MREMAP_DONTUNMAP);
		if (!(flags & MREMAP_DONTUNMAP) && shim_page_round(old_len) > moved)
			guard_forget((uintptr_t)old + moved, (uintptr_t)old + shim_page_round(old_len));
		errno = saved;
	} else if (shim_page_round(new_len) < shim_page_round(old_len)) {
		forget_guards((uintptr_t)old + shim_page_round(new_len),
			      shim_page_round(old_len) - shim_page_round(new_len));
	}
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (SHIM_LIKELY(!fork_advice_busy()))
		return mapped(call_next_mmap(addr, len, prot, flags, fd, off), len);
	struct map_call c = { addr, len, prot, flags, fd, off, false };
	return mapped((void *)fork_track_map((uintptr_t)addr, len, flags & MAP_FIXED,
					     call_mmap, &c), len);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (SHIM_LIKELY(!fork_advice_busy()))
		return mapped(call_next_mmap64(addr, len, prot, flags, fd, off), len);
	struct map_call c = { addr, len, prot, flags, fd, off, true };
	return mapped((void *)fork_track_map((uintptr_t)addr, len, flags & MAP_FIXED,
					     call_mmap, &c), len);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	int r;
	if (SHIM_LIKELY(!fork_advice_busy())) {
		r = real_munmap(addr, len);
	} else {
		struct unmap_call c = { addr, len };
		r = (int)fork_track_unmap((uintptr_t)addr, len, call_munmap, &c);
	}
	if (r == 0)
		forget_guards((uintptr_t)addr, len);
	return r;
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	void *p;
	if (SHIM_LIKELY(!fork_advice_busy())) {
		p = real_mremap(old, old_len, new_len, flags, new_addr);
	} else {
		struct remap_call c = { old, old_len, new_len, flags, new_addr };
		p = (void *)fork_track_remap((uintptr_t)old, old_len, new_len, flags,
					     (uintptr_t)new_addr, call_mremap, &c);
	}
	return remapped(p, old, old_len, new_len, flags);
}
