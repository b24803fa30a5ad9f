/* Reaching the real functions: the next definition (libc, or another
 * interposer after this one), resolved once from the constructor for every
 * name in wrapped.def, and the raw system call before that or where there is
 * no next definition.  dlsym may allocate, and allocators call madvise: such
 * a call, made while next_resolve() runs, finds its pointer still NULL and
 * takes the raw syscall. */
#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "next.h"
#include "rawsys.h"
#include "shim.h"

/* The call being observed on this thread: every layer notes in it what it
 * did (outcome_how), core/observe.c formats it. */
__thread struct outcome *shim_outcome __attribute__((tls_model("initial-exec")));

#define WRAP(name, ret, params) ret (*_Atomic next_##name) params;
#include "wrapped.def"
#undef WRAP

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

/* The hot path calls through this pointer with no test of its own: it
 * starts at the raw call and becomes the next madvise in next_resolve(). */
int (*_Atomic real_madvise_fn)(void *, size_t, int) = raw_madvise;

void next_resolve(void)
{
#define WRAP(name, ret, params)                                                   \
	atomic_store_explicit(&next_##name, (ret (*) params)dlsym(RTLD_NEXT, #name), \
			      memory_order_release);
#include "wrapped.def"
#undef WRAP
	int (*next)(void *, size_t, int) = NEXT(madvise);
	if (next)
		atomic_store_explicit(&real_madvise_fn, next, memory_order_release);
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
	ssize_t (*next)(int, const struct iovec *, size_t, int, unsigned int) =
		NEXT(process_madvise);
	if (!next)
#ifdef SYS_process_madvise
		return raw_syscall5(SYS_process_madvise, pidfd, (long)iov, (long)vlen,
				    advice, flags);
#else
		return -ENOSYS;
#endif
	int saved = errno;
	long r = next(pidfd, (const struct iovec *)iov, vlen, advice, flags);
	if (r >= 0)
		return r;
	r = -errno;
	errno = saved;
	return r;
}

/* ---- mmap, munmap, mremap, with no bookkeeping: errno as libc sets it ---- */

/* the raw result in libc's convention for calls that return an address */
static void *raw_address(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

/* SYS_mmap takes a byte offset, SYS_mmap2 (32-bit) one in 4096-byte units. */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
#ifdef SYS_mmap2
	if (off & 4095) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return raw_address(raw_syscall6(SYS_mmap2, (long)addr, (long)len, prot, flags, fd,
					(long)((uint64_t)off >> 12)));
#else
	return raw_address(raw_syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd,
					(long)off));
#endif
}

void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
	if (sizeof(long) == sizeof(int64_t)) {
		void *(*next)(void *, size_t, int, int, int, long) = NEXT(mmap);
		if (next)
			return next(addr, len, prot, flags, fd, (long)off);
	} else {
		void *(*next)(void *, size_t, int, int, int, int64_t) = NEXT(mmap64);
		if (next)
			return next(addr, len, prot, flags, fd, off);
	}
	return raw_mmap(addr, len, prot, flags, fd, off);
}

int real_munmap(void *addr, size_t len)
{
	int (*next)(void *, size_t) = NEXT(munmap);
	if (next)
		return next(addr, len);
	return raw_address(raw_syscall(SYS_munmap, addr, len, 0)) == MAP_FAILED ? -1 : 0;
}

/* The new address is always passed on: some libc versions forward it only
 * with MREMAP_FIXED, and MREMAP_DONTUNMAP then gets whatever is in the
 * register. */
void *real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	void *(*next)(void *, size_t, size_t, int, ...) = NEXT(mremap);
	if (next)
		return next(old, old_len, new_len, flags, new_addr);
	return raw_address(raw_syscall5(SYS_mremap, old, old_len, new_len, flags, new_addr));
}
