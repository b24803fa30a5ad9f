/* The mlock family, watched but not changed: once a process locks memory,
 * madvise emulation must look for locked mappings (MADV_DONTNEED fails with
 * EINVAL there, and the mremap it would use clears the lock). */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "next.h"
#include "rawsys.h"
#include "shim.h"

/* libc's convention for a raw result: -1 and errno */
static int raw_result(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

SHIM_EXPORT int mlock(const void *addr, size_t len)
{
	emulate_note_locking();
	int (*next)(const void *, size_t) = NEXT(mlock);
	return next ? next(addr, len) : raw_result(raw_syscall(SYS_mlock, addr, len, 0));
}

SHIM_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	emulate_note_locking();
	int (*next)(const void *, size_t, unsigned int) = NEXT(mlock2);
	if (next)
		return next(addr, len, flags);
#ifdef SYS_mlock2
	return raw_result(raw_syscall(SYS_mlock2, addr, len, flags));
#else
	errno = ENOSYS;
	return -1;
#endif
}

SHIM_EXPORT int mlockall(int flags)
{
	emulate_note_locking();
	int (*next)(int) = NEXT(mlockall);
	return next ? next(flags) : raw_result(raw_syscall(SYS_mlockall, flags, 0, 0));
}
