/* The interposed madvise and posix_madvise. */
#include <errno.h>
#include <sys/mman.h>

#include "shim.h"

static __attribute__((noinline)) int madvise_slow(void *addr, size_t len, int advice,
						       void *caller)
{
	int saved = errno;
	long r = SHIM_UNLIKELY(shim_observing) ?
		observe_madvise(ENTRY_MADVISE, (uintptr_t)addr, len, advice, caller) :
		shim_madvise((uintptr_t)addr, len, advice);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return 0;
}

SHIM_EXPORT int madvise(void *addr, size_t len, int advice)
{
	/* Where the kernel has the advice: one load, one branch, the real call. */
	if (SHIM_LIKELY((unsigned)advice < ADVICE_SLOTS &&
			atomic_load_explicit(&shim_fast[advice], memory_order_relaxed)))
		return atomic_load_explicit(&real_madvise_fn, memory_order_relaxed)(
			addr, len, advice);
	return madvise_slow(addr, len, advice, __builtin_return_address(0));
}

/* glibc and musl: POSIX_MADV_DONTNEED is ignored (POSIX forbids discarding
 * data), every other value goes to the madvise syscall as it is, and the
 * result is an error number with errno untouched. */
SHIM_EXPORT int posix_madvise(void *addr, size_t len, int advice)
{
	if (advice == POSIX_MADV_DONTNEED)
		return 0;
	int saved = errno;
	long r = SHIM_UNLIKELY(shim_observing) ?
		observe_madvise(ENTRY_POSIX_MADVISE, (uintptr_t)addr, len, advice,
				__builtin_return_address(0)) :
		shim_madvise((uintptr_t)addr, len, advice);
	errno = saved;
	return r < 0 ? (int)-r : 0;
}
