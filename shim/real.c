/* Reaching the real madvise family: the next definition (libc, or another
 * interposer before it) found once with dlsym(RTLD_NEXT), and the raw syscall
 * while that lookup runs or when it finds nothing.
 *
 * dlsym may allocate, and allocators call madvise: a madvise made from inside
 * our own dlsym call must not resolve again, so a single flag makes every
 * resolution after the first one in flight take the raw syscall instead. */
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

#define NOT_FOUND ((void *)1)

void *real_next(const char *name, void *_Atomic *cache)
{
	static _Atomic int resolving;
	void *p = atomic_load_explicit(cache, memory_order_acquire);
	if (SHIM_LIKELY(p != NULL))
		return p == NOT_FOUND ? NULL : p;
	if (atomic_exchange_explicit(&resolving, 1, memory_order_acq_rel))
		return NULL;
	p = dlsym(RTLD_NEXT, name);
	atomic_store_explicit(cache, p ? p : NOT_FOUND, memory_order_release);
	atomic_store_explicit(&resolving, 0, memory_order_release);
	return p;
}

/* libc's convention: -1 and errno */
static int raw_madvise(void *addr, size_t len, int advice)
{
	long r = raw_syscall(SYS_madvise, addr, len, advice);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

/* The hot path calls through this pointer; it starts at a trampoline that
 * resolves the next madvise, so that after the first call the pointer is the
 * real function and no branch is spent on resolution. */
static int madvise_trampoline(void *addr, size_t len, int advice);
int (*_Atomic real_madvise_fn)(void *, size_t, int) = madvise_trampoline;

static void *_Atomic madvise_cache;

static int madvise_trampoline(void *addr, size_t len, int advice)
{
	void *_Atomic *cache = &madvise_cache;
	int (*next)(void *, size_t, int) = (int (*)(void *, size_t, int))
		real_next("madvise", cache);
	if (!next)
		/* resolution in flight, or no next madvise: raw, and only cache
		 * the raw function once the lookup is known to have failed */
		next = raw_madvise;
	if (atomic_load_explicit(cache, memory_order_acquire))
		atomic_store_explicit(&real_madvise_fn, next, memory_order_release);
	return next(addr, len, advice);
}

/* From the constructor: resolve before any signal handler can be the first
 * caller (dlsym is not async-signal-safe). */
void real_resolve(void)
{
	if (atomic_load_explicit(&real_madvise_fn, memory_order_acquire) ==
	    madvise_trampoline) {
		void *next = real_next("madvise", &madvise_cache);
		if (next)
			atomic_store_explicit(&real_madvise_fn,
					      (int (*)(void *, size_t, int))next,
					      memory_order_release);
	}
}

long real_madvise(uintptr_t start, size_t len, int advice)
{
	int saved = errno;
	int r = atomic_load_explicit(&real_madvise_fn, memory_order_relaxed)(
		(void *)start, len, advice);
	long result = r == 0 ? 0 : -errno;
	errno = saved;
	/* the first answer the kernel gave to the call being traced */
	struct outcome *o = shim_outcome;
	if (o && o->kernel == KERNEL_NOT_ASKED && start == o->addr && advice == o->advice)
		o->kernel = result;
	return result;
}

long real_process_madvise(int pidfd, const void *iov, size_t vlen, int advice,
			  unsigned int flags)
{
	static void *_Atomic cache;
	ssize_t (*next)(int, const void *, size_t, int, unsigned int) =
		(ssize_t (*)(int, const void *, size_t, int, unsigned int))
		real_next("process_madvise", &cache);
	if (!next)
#ifdef SYS_process_madvise
		return raw_syscall5(SYS_process_madvise, pidfd, (long)iov, (long)vlen,
				    advice, flags);
#else
		return -ENOSYS;
#endif
	int saved = errno;
	long r = next(pidfd, iov, vlen, advice, flags);
	if (r >= 0)
		return r;
	r = -errno;
	errno = saved;
	return r;
}
