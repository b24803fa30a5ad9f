/* process_madvise(2) (Linux 5.10): emulated only for the calling process's own
 * pidfd, when the kernel lacks the syscall; anything else goes to the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rawsys.h"
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

/* Linux's MAX_RW_COUNT, the most one vector may carry: INT_MAX rounded down to
 * the kernel's page size, which differs between architectures and kernels. */
static size_t max_rw_count(void)
{
	return (size_t)INT_MAX & ~(shim_page_size() - 1);
}

/* Whether the kernel's access_ok accepts an empty range at page-aligned p:
 * 1 yes, 0 no, -1 when it cannot be asked.  mincore runs access_ok on its
 * range before anything else and, with no page to report, stops right after:
 * ENOMEM is that check failing.  It needs no descriptor, touches no memory
 * and changes nothing. */
static int user_address_ok(uintptr_t p)
{
#ifdef SYS_mincore
	long r = raw_syscall(SYS_mincore, p, 0, 0);
	if (r == 0)
		return 1;
	if (r == -ENOMEM)
		return 0;
#else
	(void)p;
#endif
	return -1;
}

/* The highest address a range may end at and still pass access_ok, which
 * import_iovec checks every segment with.  That is the kernel's TASK_SIZE_MAX,
 * which no header gives and no constant can stand for: it depends on the
 * architecture, the kernel's configuration and even the boot (x86-64: 2^47 or,
 * with 5-level paging, 2^56 less a page; arm64: 2^VA_BITS; a 32-bit kernel:
 * 3 GiB or less; a 32-bit program on a 64-bit kernel: all it can address;
 * s390 and sparc64: no kernel half at all).  So the kernel is asked, once per
 * process (the limit is fixed at exec): powers of two upwards, then a binary
 * search between the last that passed and the first that failed.  The limit
 * is a page boundary, so the highest page boundary that passes is also the
 * highest end that passes, to the byte (on Linux 6.18, x86-64: 0x7ffffffff000,
 * and process_madvise refuses an end one byte further).  Where mincore cannot
 * be asked (a seccomp filter) there is no limit but the wrap: the shim then
 * misses some EFAULTs (madvise answers ENOMEM instead), but it never refuses
 * a range the kernel would take. */
static _Atomic uintptr_t user_end_cache;

static uintptr_t user_end(void)
{
	uintptr_t end = atomic_load_explicit(&user_end_cache, memory_order_relaxed);
	if (SHIM_LIKELY(end))
		return end;
	size_t page = shim_page_size();
	uintptr_t ok = 0, bad = 0;
	int r = 1;
	/* Upwards first: above some bit, tagged-address schemes (arm64's top
	 * byte, x86's LAM) strip bits, and the answers stop being monotonic. */
	for (uintptr_t p = page; p && r == 1; p <<= 1) {
		r = user_address_ok(p);
		if (r == 1)
			ok = p;
		else if (r == 0)
			bad = p;
	}
	if (r == 1) {
		/* every power of two passed: the top page decides */
		uintptr_t top = UINTPTR_MAX & ~(uintptr_t)(page - 1);
		r = user_address_ok(top);
		if (r == 1)
			ok = top;
		else
			bad = top;
	}
	while (r >= 0 && bad && bad - ok > page) {
		uintptr_t mid = ok + (((bad - ok) / 2) & ~(uintptr_t)(page - 1));
		r = user_address_ok(mid);
		if (r == 1)
			ok = mid;
		else if (r == 0)
			bad = mid;
	}
	end = r < 0 ? UINTPTR_MAX : ok;
	atomic_store_explicit(&user_end_cache, end, memory_order_relaxed);
	return end;
}

/* import_iovec's access_ok on each segment.  Linux 6.x imports a vector of one
 * segment as a single buffer, cut to MAX_RW_COUNT before the check (seen on
 * 6.18: {0x1000, 2^62} alone is ENOMEM, beside another segment EFAULT); longer
 * vectors are checked whole, then cut.  A range that wraps fails on every
 * kernel as wide as the caller. */
static long check_segments(const struct iovec *iov, size_t vlen)
{
	size_t cut = vlen == 1 ? max_rw_count() : SIZE_MAX;
	uintptr_t limit = user_end();
	for (size_t i = 0; i < vlen; i++) {
		uintptr_t base = (uintptr_t)iov[i].iov_base;
		size_t len = iov[i].iov_len < cut ? iov[i].iov_len : cut;
		if (base + len < base || base + len > limit)
			return -EFAULT;
	}
	return 0;
}

/* Linux's vector_madvise over the vector import_iovec left: the total cut at
 * MAX_RW_COUNT, the segments past the cut empty.  The kernel's iterator
 * starts on the first segment even when it is empty, and that one is checked
 * like madvise(base, 0) (advice, alignment); every later empty segment is
 * stepped over unseen, and a vector with no byte in it is not looked at.
 * The result is the bytes done if any, else the error that stopped it. */
static long emulate_self(const struct iovec *iov, size_t vlen, int advice)
{
	size_t i = 0;
	while (i < vlen && !iov[i].iov_len)
		i++;
	if (i == vlen)
		return 0;
	if (i > 0) {
		long r = shim_madvise((uintptr_t)iov[0].iov_base, 0, advice);
		if (r < 0)
			return r;
	}
	size_t left = max_rw_count(), done = 0;
	for (; i < vlen && left; i++) {
		size_t len = iov[i].iov_len < left ? iov[i].iov_len : left;
		if (!len)
			continue;
		long r = shim_madvise((uintptr_t)iov[i].iov_base, len, advice);
		if (r < 0)
			return done ? (long)done : r;
		done += len;
		left -= len;
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
	long r = vma_walk(start & ~(page - 1), shim_page_round(end), 0,
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
	/* The copy refuses a negative length in any segment before access_ok
	 * looks at one; a total past SSIZE_MAX is cut, not refused. */
	for (size_t i = 0; i < vlen; i++)
		if ((ssize_t)iov[i].iov_len < 0)
			return -EINVAL;
	c = check_segments(iov, vlen);
	if (c)
		return c;
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
