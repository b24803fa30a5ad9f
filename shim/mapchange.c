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
 * The next definition is found once with dlsym(RTLD_NEXT); while that lookup
 * runs (dlsym may allocate, and an allocator maps memory) or where it finds
 * nothing, the raw syscall is made: SYS_mmap takes a byte offset, SYS_mmap2
 * (32-bit) one in 4096-byte units.
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

#include "shim.h"

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef void *(*mmap64_fn)(void *, size_t, int, int, int, off64_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);

static void *_Atomic mmap_cache, *_Atomic mmap64_cache, *_Atomic munmap_cache,
	*_Atomic mremap_cache;

/* From the constructor: resolve before a signal handler can be first. */
void mapchange_resolve(void)
{
	real_next("mmap", &mmap_cache);
	real_next("mmap64", &mmap64_cache);
	real_next("munmap", &munmap_cache);
	real_next("mremap", &mremap_cache);
}

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
#ifdef SYS_mmap2
	if (off & 4095) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap2, addr, len, prot, flags, fd,
			       (unsigned long)((uint64_t)off >> 12));
#else
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, (long)off);
#endif
}

static void *next_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	mmap_fn next = (mmap_fn)real_next("mmap", &mmap_cache);
	if (next)
		return next(addr, len, prot, flags, fd, off);
	return raw_mmap(addr, len, prot, flags, fd, off);
}

static void *next_mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	mmap64_fn next = (mmap64_fn)real_next("mmap64", &mmap64_cache);
	if (next)
		return next(addr, len, prot, flags, fd, off);
	return raw_mmap(addr, len, prot, flags, fd, off);
}

void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
	if (sizeof(off_t) == sizeof(int64_t))
		return next_mmap(addr, len, prot, flags, fd, (off_t)off);
	return next_mmap64(addr, len, prot, flags, fd, off);
}

int real_munmap(void *addr, size_t len)
{
	munmap_fn next = (munmap_fn)real_next("munmap", &munmap_cache);
	if (next)
		return next(addr, len);
	return (int)syscall(SYS_munmap, addr, len);
}

/* The new address is always passed on: some libc versions forward it only
 * with MREMAP_FIXED, and MREMAP_DONTUNMAP then gets whatever is in the
 * register. */
void *real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	mremap_fn next = (mremap_fn)real_next("mremap", &mremap_cache);
	if (next)
		return next(old, old_len, new_len, flags, new_addr);
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
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
	void *p = c->is64 ? next_mmap64(c->addr, c->len, c->prot, c->flags, c->fd, c->off)
			  : next_mmap(c->addr, c->len, c->prot, c->flags, c->fd, (off_t)c->off);
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

static size_t round_len(size_t len)
{
	size_t page = shim_page_size();
	return (len + page - 1) & ~(page - 1);
}

static void forget_guards(uintptr_t start, size_t len)
{
	size_t rounded = round_len(len);
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
		size_t moved = round_len(old_len < new_len ? old_len : new_len);
		guard_move((uintptr_t)old, (uintptr_t)p, moved, flags & MREMAP_DONTUNMAP);
		if (!(flags & MREMAP_DONTUNMAP) && round_len(old_len) > moved)
			guard_forget((uintptr_t)old + moved, (uintptr_t)old + round_len(old_len));
		errno = saved;
	} else if (round_len(new_len) < round_len(old_len)) {
		forget_guards((uintptr_t)old + round_len(new_len),
			      round_len(old_len) - round_len(new_len));
	}
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (SHIM_LIKELY(!fork_advice_busy()))
		return mapped(next_mmap(addr, len, prot, flags, fd, off), len);
	struct map_call c = { addr, len, prot, flags, fd, off, false };
	return mapped((void *)fork_track_map((uintptr_t)addr, len, flags & MAP_FIXED,
					     call_mmap, &c), len);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (SHIM_LIKELY(!fork_advice_busy()))
		return mapped(next_mmap64(addr, len, prot, flags, fd, off), len);
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
