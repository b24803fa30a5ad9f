/* posix_fadvise and posix_fadvise64.
 *
 * This file is built without _FILE_OFFSET_BITS=64 so that posix_fadvise keeps
 * its own name and the native off_t (32 bits on 32-bit systems); glibc exports
 * both names and a program may bind to either. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "next.h"
#include "rawsys.h"
#include "shim.h"

enum { FA_UNKNOWN, FA_NATIVE, FA_ABSENT };
static _Atomic int fa_state;

static bool valid_advice(int advice)
{
	switch (advice) {
	case POSIX_FADV_NORMAL:
	case POSIX_FADV_RANDOM:
	case POSIX_FADV_SEQUENTIAL:
	case POSIX_FADV_WILLNEED:
	case POSIX_FADV_DONTNEED:
	case POSIX_FADV_NOREUSE:
		return true;
	default:
		return false;
	}
}

/* The kernel's answers (mm/fadvise.c): a bad descriptor, then a pipe, then a
 * negative length or an unknown advice.  Hints have no visible effect, so
 * success is faithful; WILLNEED still starts the read-ahead it asks for. */
static int emulate_fadvise(int fd, off64_t offset, off64_t len, int advice)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_PATH))
		return EBADF;
	struct stat64 st;
	if (fstat64(fd, &st) != 0)
		return EBADF;
	if (S_ISFIFO(st.st_mode))
		return ESPIPE;
	if (len < 0 || !valid_advice(advice))
		return EINVAL;
	if (advice == POSIX_FADV_WILLNEED && S_ISREG(st.st_mode) && offset >= 0) {
		off64_t n = len ? len : (st.st_size > offset ? st.st_size - offset : 0);
		readahead(fd, offset, (size_t)n);
	}
	return 0;
}

static int raw_fadvise(int fd, off64_t offset, off64_t len, int advice)
{
#if defined(SYS_fadvise64) && UINTPTR_MAX > 0xffffffffu
	long r = raw_syscall5(SYS_fadvise64, fd, offset, len, advice, 0);
	return r < 0 ? (int)-r : 0;
#else
	/* 32-bit conventions split and order the offsets per architecture */
	(void)fd, (void)offset, (void)len, (void)advice;
	return ENOSYS;
#endif
}

static int next_fadvise(int fd, off64_t offset, off64_t len, int advice)
{
	int (*next)(int, int64_t, int64_t, int) = NEXT(posix_fadvise64);
	return next ? next(fd, offset, len, advice) : raw_fadvise(fd, offset, len, advice);
}

static int shim_fadvise(int fd, off64_t offset, off64_t len, int advice)
{
	int st = atomic_load_explicit(&fa_state, memory_order_relaxed);
	if (st == FA_NATIVE || shim_mode == MODE_OFF)
		return next_fadvise(fd, offset, len, advice);
	if (st == FA_UNKNOWN) {
		int r = next_fadvise(fd, offset, len, advice);
		if (r != ENOSYS) {
			atomic_store_explicit(&fa_state, FA_NATIVE, memory_order_relaxed);
			return r;
		}
		atomic_store_explicit(&fa_state, FA_ABSENT, memory_order_relaxed);
	}
	int saved = errno;
	int r = emulate_fadvise(fd, offset, len, advice);
	errno = saved;
	return r;
}

static __attribute__((noinline)) int observed_fadvise(int fd, off64_t offset, off64_t len,
							int advice, void *caller)
{
	struct outcome o = {
		.entry = ENTRY_POSIX_FADVISE, .advice = advice, .addr = (uintptr_t)fd,
		.len = (size_t)len, .kernel = KERNEL_NOT_ASKED, .caller = caller,
	};
	int st = atomic_load_explicit(&fa_state, memory_order_relaxed);
	int r = shim_fadvise(fd, offset, len, advice);
	if (st != FA_ABSENT && shim_mode != MODE_OFF &&
	    atomic_load_explicit(&fa_state, memory_order_relaxed) == FA_ABSENT)
		o.kernel = -ENOSYS; /* this call found the syscall missing */
	else if (st != FA_ABSENT)
		o.kernel = -r;
	bool emulated = atomic_load_explicit(&fa_state, memory_order_relaxed) == FA_ABSENT &&
			shim_mode != MODE_OFF;
	o.action = emulated ? "emulated" : "native";
	o.how = emulated ? (advice == POSIX_FADV_WILLNEED ? "readahead" : "hint") : NULL;
	o.result = -r;
	observe_done(&o);
	return r;
}

SHIM_EXPORT int posix_fadvise(int fd, off_t offset, off_t len, int advice)
{
	if (SHIM_UNLIKELY(shim_observing))
		return observed_fadvise(fd, offset, len, advice, __builtin_return_address(0));
	return shim_fadvise(fd, offset, len, advice);
}

SHIM_EXPORT int posix_fadvise64(int fd, off64_t offset, off64_t len, int advice)
{
	if (SHIM_UNLIKELY(shim_observing))
		return observed_fadvise(fd, offset, len, advice, __builtin_return_address(0));
	return shim_fadvise(fd, offset, len, advice);
}
