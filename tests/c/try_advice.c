/* try-advice: make one advice-related call and print what the kernel (or the
 * simulator standing in for it) answered.
 *
 *   try-advice madvise ADVICE [--len N] [--kind anon|shared]
 *   try-advice process_madvise ADVICE
 *   try-advice fadvise ADVICE
 *   try-advice mremap-dontunmap
 *   try-advice procmap-query
 *   try-advice mseal
 *   try-advice dontneed-zeroes
 *
 * Output is one line, "ret=R errno=NAME" (errno=0 when the call succeeded),
 * and the exit status is 0 whatever the call returned, so that tests read
 * the outcome from the output alone.  Exit 2 is a usage error, 1 a failure
 * to prepare (mmap, open) before the call under test.
 *
 * ADVICE is a name from advice_table.h (with or without MADV_, any case) or
 * a number.  For fadvise it is a POSIX_FADV_ name (NORMAL, RANDOM, ...) or a
 * number.  This program must not load the shim: it observes the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "advice_table.h"

static void usage(const char *why)
{
	fprintf(stderr, "try-advice: %s\n"
		"usage: try-advice madvise ADVICE [--len N] [--kind anon|shared]\n"
		"       try-advice process_madvise ADVICE\n"
		"       try-advice fadvise ADVICE\n"
		"       try-advice mremap-dontunmap | procmap-query | mseal | dontneed-zeroes\n",
		why);
	exit(2);
}

static void fail(const char *what)
{
	fprintf(stderr, "try-advice: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* "EINVAL" for tests to match; a number if glibc has no name for it. */
static const char *errno_name(int e)
{
	static char num[16];
	const char *name = e ? strerrorname_np(e) : "0";

	if (name)
		return name;
	snprintf(num, sizeof num, "%d", e);
	return num;
}

/* The outcome of a call that returns -1 and sets errno. */
static void report(long ret, int err)
{
	printf("ret=%ld errno=%s\n", ret, errno_name(ret == -1 ? err : 0));
}

static int parse_number(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 0);
	return *s && !*end && !errno;
}

static int advice_value(const char *s)
{
	const char *bare = strncasecmp(s, "MADV_", 5) == 0 ? s + 5 : s;
	long v;

	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (strcasecmp(bare, advice_table[i].name) == 0)
			return advice_table[i].value;
	if (!parse_number(s, &v))
		usage("unknown advice");
	return (int)v;
}

static int fadvise_value(const char *s)
{
	static const struct { const char *name; int value; } names[] = {
		{ "NORMAL", POSIX_FADV_NORMAL },     { "RANDOM", POSIX_FADV_RANDOM },
		{ "SEQUENTIAL", POSIX_FADV_SEQUENTIAL }, { "WILLNEED", POSIX_FADV_WILLNEED },
		{ "DONTNEED", POSIX_FADV_DONTNEED }, { "NOREUSE", POSIX_FADV_NOREUSE },
	};
	const char *bare = strncasecmp(s, "POSIX_FADV_", 11) == 0 ? s + 11 : s;
	long v;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(bare, names[i].name) == 0)
			return names[i].value;
	if (!parse_number(s, &v))
		usage("unknown fadvise advice");
	return (int)v;
}

/* A scratch region of at least `len` bytes, every page touched so that
 * advice has something to act on. */
static char *scratch(size_t len, int flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap");
	memset(p, 0x5a, len);
	return p;
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static void do_madvise(int argc, char **argv)
{
	size_t len = page_size();
	int flags = MAP_PRIVATE;
	int advice, ret;
	char *p;

	if (argc < 1)
		usage("madvise needs ADVICE");
	advice = advice_value(argv[0]);
	for (int i = 1; i < argc; i++) {
		long n;

		if (strcmp(argv[i], "--len") == 0 && i + 1 < argc &&
		    parse_number(argv[i + 1], &n) && n >= 0) {
			len = (size_t)n;
			i++;
		} else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "anon") == 0)
				flags = MAP_PRIVATE;
			else if (strcmp(argv[i], "shared") == 0)
				flags = MAP_SHARED;
			else
				usage("--kind is anon or shared");
		} else {
			usage("bad madvise option");
		}
	}
	/* Map whole pages, at least one, but advise exactly len bytes. */
	p = scratch(len ? (len + page_size() - 1) / page_size() * page_size()
			: page_size(), flags);
	ret = madvise(p, len, advice);
	report(ret, errno);
}

/* pidfd_open and process_madvise have glibc wrappers only since 2.36, so
 * the raw calls keep this building on older systems. */
static void do_process_madvise(int argc, char **argv)
{
	struct iovec iov;
	long ret;
	int pidfd, advice;

	if (argc != 1)
		usage("process_madvise needs ADVICE");
	advice = advice_value(argv[0]);
	iov.iov_len = page_size();
	iov.iov_base = scratch(iov.iov_len, MAP_PRIVATE);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		fail("pidfd_open");
	ret = syscall(SYS_process_madvise, pidfd, &iov, 1UL, advice, 0U);
	report(ret, errno);
}

/* posix_fadvise returns the error number instead of setting errno. */
static void do_fadvise(int argc, char **argv)
{
	FILE *f;
	int advice, err;

	if (argc != 1)
		usage("fadvise needs ADVICE");
	advice = fadvise_value(argv[0]);
	/* An unlinked temporary file with a page of data to advise about. */
	f = tmpfile();
	if (!f)
		fail("tmpfile");
	for (int i = 0; i < 4096; i++)
		putc('x', f);
	if (fflush(f) != 0)
		fail("write");
	err = posix_fadvise(fileno(f), 0, 0, advice);
	printf("ret=%d errno=%s\n", err, errno_name(err));
}

/* The fifth argument is passed explicitly: without it glibc 2.36 hands the
 * kernel whatever is in the register, and DONTUNMAP makes the kernel read
 * it as new_address. */
static void do_mremap_dontunmap(void)
{
	size_t len = page_size();
	char *p = scratch(len, MAP_PRIVATE);
	void *q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);

	report(q == MAP_FAILED ? -1 : 0, errno);
}

static void do_procmap_query(void)
{
	char *p = scratch(page_size(), MAP_PRIVATE);
	struct shim_procmap_query q;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		fail("open /proc/self/maps");
	memset(&q, 0, sizeof q);
	q.size = sizeof q;
	q.query_addr = (uint64_t)(uintptr_t)p;
	ret = ioctl(fd, SHIM_PROCMAP_QUERY, &q);
	report(ret, errno);
}

/* mseal (Linux 6.10) on a page of scratch memory.  Without the number in
 * this system's headers the call cannot be made: reported as ENOSYS, as a
 * kernel without it would answer. */
static void do_mseal(void)
{
	char *p = scratch(page_size(), MAP_PRIVATE);
#ifdef SHIM_NR_MSEAL
	long ret = syscall(SHIM_NR_MSEAL, p, page_size(), 0UL);

	report(ret, errno);
#else
	(void)p;
	report(-1, ENOSYS);
#endif
}

/* Whether DONTNEED really dropped the page: private anonymous memory reads
 * back as zeroes afterwards, which is what an ignored DONTNEED breaks. */
static void do_dontneed_zeroes(void)
{
	size_t len = page_size();
	char *p = scratch(len, MAP_PRIVATE);
	int ret = madvise(p, len, MADV_DONTNEED);
	int err = errno;
	int zeroed = 1;

	for (size_t i = 0; i < len; i++)
		if (p[i]) {
			zeroed = 0;
			break;
		}
	printf("ret=%d errno=%s zeroed=%d\n", ret, errno_name(ret == -1 ? err : 0),
	       zeroed);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "madvise") == 0)
		do_madvise(argc - 2, argv + 2);
	else if (strcmp(cmd, "process_madvise") == 0)
		do_process_madvise(argc - 2, argv + 2);
	else if (strcmp(cmd, "fadvise") == 0)
		do_fadvise(argc - 2, argv + 2);
	else if (strcmp(cmd, "mremap-dontunmap") == 0 && argc == 2)
		do_mremap_dontunmap();
	else if (strcmp(cmd, "procmap-query") == 0 && argc == 2)
		do_procmap_query();
	else if (strcmp(cmd, "mseal") == 0 && argc == 2)
		do_mseal();
	else if (strcmp(cmd, "dontneed-zeroes") == 0 && argc == 2)
		do_dontneed_zeroes();
	else
		usage("unknown or malformed command");
	return 0;
}
