/* process_madvise(2) (Linux 5.10): emulated only for the calling process's own
 * pidfd, when the kernel lacks the syscall; anything else goes to the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

enum { PM_UNKNOWN, PM_NATIVE, PM_ABSENT };
static _Atomic int pm_state;

/* The pid a pidfd refers to, from its fdinfo: 0 with *pid, or -EBADF when fd
 * is not an open pidfd. */
static int pidfd_pid(int pidfd, long *pid)
{
	struct msgbuf path = { .len = 0 };
	msg_str(&path, "/proc/self/fdinfo/");
	msg_num(&path, pidfd);
	path.buf[path.len < sizeof path.buf ? path.len : sizeof path.buf - 1] = 0;
	if (pidfd < 0)
		return -EBADF;
	int fd = open(path.buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -EBADF;
	char buf[512];
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -EBADF;
	buf[n] = 0;
	const char *p = strstr(buf, "\nPid:\t");
	if (!p)
		return -EBADF;
	p += 6;
	bool neg = *p == '-';
	if (neg)
		p++;
	long v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	*pid = neg ? -v : v;
	return 0;
}

/* Linux's vector_madvise: each range in turn; the bytes done if any, else
 * the error that stopped it. */
static long emulate_self(const struct iovec *iov, size_t vlen, int advice)
{
	size_t done = 0;
	for (size_t i = 0; i < vlen; i++) {
		long r = shim_madvise((uintptr_t)iov[i].iov_base, iov[i].iov_len, advice);
		if (r < 0)
			return done ? (long)done : r;
		done += iov[i].iov_len;
	}
	return (long)done;
}

static long visit_readable(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)from, (void)to, (void)arg;
	return (v->prot & PROT_READ) ? 0 : -EFAULT;
}

/* The kernel copies the vector and answers EFAULT where it cannot; the shim
 * must not fault instead, so it checks the mappings first. */
static long check_vector(const struct iovec *iov, size_t vlen)
{
	if (vlen == 0)
		return 0;
	uintptr_t start = (uintptr_t)iov;
	uintptr_t end = start + vlen * sizeof *iov;
	if (end < start)
		return -EFAULT;
	size_t page = shim_page_size();
	long r = vma_walk(start & ~(page - 1), (end + page - 1) & ~(page - 1), 0,
			  visit_readable, NULL);
	if (r == -ENOMEM)
		return -EFAULT;
	return r == SHIM_PASS ? -ENOSYS : r;
}

static long emulate_process_madvise(int pidfd, const struct iovec *iov, size_t vlen,
				    int advice, unsigned int flags)
{
	if (flags != 0)
		return -EINVAL;
	if (vlen > UIO_MAXIOV)
		return -EINVAL;
	long c = check_vector(iov, vlen);
	if (c)
		return c;
	size_t total = 0;
	for (size_t i = 0; i < vlen; i++) {
		if ((ssize_t)iov[i].iov_len < 0 || total + iov[i].iov_len < total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	long pid;
	int e = pidfd_pid(pidfd, &pid);
	if (e)
		return e;
	if (pid <= 0)
		return -ESRCH;
	if (pid != getpid())
		return -ENOSYS; /* another process: nothing the shim can do */
	return emulate_self(iov, vlen, advice);
}

SHIM_EXPORT ssize_t process_madvise(int pidfd, const struct iovec *iov, size_t vlen,
				    int advice, unsigned int flags)
{
	int saved = errno;
	long r;
	struct outcome o = {
		.entry = ENTRY_PROCESS_MADVISE, .advice = advice, .addr = (uintptr_t)pidfd,
		.len = vlen, .kernel = KERNEL_NOT_ASKED, .action = "native",
		.caller = __builtin_return_address(0),
	};
	int st = atomic_load_explicit(&pm_state, memory_order_relaxed);
	if (st != PM_ABSENT || shim_mode == MODE_OFF) {
		r = real_process_madvise(pidfd, iov, vlen, advice, flags);
		o.kernel = r < 0 ? r : 0;
		if (r != -ENOSYS || shim_mode == MODE_OFF) {
			if (st == PM_UNKNOWN)
				atomic_store_explicit(&pm_state, PM_NATIVE, memory_order_relaxed);
			goto out;
		}
		atomic_store_explicit(&pm_state, PM_ABSENT, memory_order_relaxed);
	}
	o.action = "emulated";
	o.how = "own-process";
	r = emulate_process_madvise(pidfd, iov, vlen, advice, flags);
out:
	if (SHIM_UNLIKELY(shim_observing)) {
		o.result = r;
		observe_done(&o);
	}
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return r;
}
