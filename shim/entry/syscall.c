/* syscall(2) for the madvise family: programs that bypass libc's wrappers
 * (or whose libc lacks them) reach the shim here.  Every other number goes
 * to the next syscall() with all six arguments. */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <fcntl.h>

#include "next.h"
#include "rawsys.h"
#include "shim.h"

#if SHIM_HAVE_RAW_SYSCALL

/* The madvise numbers answered like the wrappers, in the syscall()
 * convention: the result, or -1 with errno.  fadvise is only taken where its
 * arguments are plain 64-bit registers; 32-bit conventions split them. */
static bool advise_number(long n)
{
	if (n == SYS_madvise)
		return true;
#ifdef SYS_process_madvise
	if (n == SYS_process_madvise)
		return true;
#endif
#if defined(SYS_fadvise64) && UINTPTR_MAX > 0xffffffffu
	if (n == SYS_fadvise64)
		return true;
#endif
	return false;
}

static long advise(long n, long a, long b, long c, long d, long e, void *caller)
{
	if (n == SYS_madvise) {
		if (!shim_observing)
			return madvise((void *)a, (size_t)b, (int)c);
		int saved = errno;
		long r = observe_madvise(ENTRY_SYSCALL, (uintptr_t)a, (size_t)b, (int)c, caller);
		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		errno = saved;
		return 0;
	}
#ifdef SYS_process_madvise
	if (n == SYS_process_madvise)
		return process_madvise((int)a, (const struct iovec *)b, (size_t)c, (int)d,
				       (unsigned)e);
#endif
	int err = posix_fadvise64((int)a, b, c, (int)d);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

SHIM_EXPORT long syscall(long number, ...)
{
	/* like libc's, read six arguments whatever the call takes */
	va_list ap;
	va_start(ap, number);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	if (SHIM_UNLIKELY(advise_number(number)) && shim_mode != MODE_OFF)
		return advise(number, a, b, c, d, e, __builtin_return_address(0));
	long (*next)(long, ...) = NEXT(syscall);
	if (next)
		return next(number, a, b, c, d, e, f);
	long r = raw_syscall6(number, a, b, c, d, e, f);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#endif
