/* madvise-demo: does madvise(2) give memory back?
 *
 * Maps a private anonymous region, touches every page, then calls
 * madvise(MADV_DONTNEED) on it and shows the process RSS and the region's
 * resident size before and after; then the same with MADV_FREE on a second
 * region.  On a kernel built without madvise (or under madvise-sim) the calls
 * fail with ENOSYS and the memory stays; under madvise-shim it comes back.
 *
 * Exit status: 0 when both calls returned the memory (the region's resident
 * size fell below 10% of what it was; for MADV_FREE, pages the kernel lists as
 * LazyFree count as returned, since it drops them without writing them
 * anywhere), 1 when either did not, 2 on a usage or system error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_FREE
#include "compat.h"
#endif

#define DEFAULT_MIB 256u
#define MIB ((uint64_t)1 << 20)

static const char *progname = "madvise-demo";
static size_t page_size;
static unsigned char *zero_page;  /* page_size zero bytes */
static unsigned char *mincore_vec;  /* one byte per page of a region */

struct usage {
	uint64_t rss;       /* process resident set, bytes */
	uint64_t resident;  /* pages of the region in memory, bytes */
	uint64_t lazyfree;  /* of which marked by MADV_FREE, bytes */
	bool lazyfree_known;
};

__attribute__((noreturn))
static void fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", progname, what, strerror(errno));
	exit(2);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--mib N]\n"
		"Touch a region of N MiB (default %u), give it back with\n"
		"madvise(MADV_DONTNEED), then do the same with MADV_FREE, showing the\n"
		"process RSS and the region's resident size at each step.\n"
		"Exit status: 0 if both calls returned the memory, 1 if not, 2 on error.\n",
		progname, DEFAULT_MIB);
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: %s [--mib N], N a whole number of MiB >= 1)\n", progname);
	exit(2);
}

static size_t parse_mib(const char *arg)
{
	char *end;
	unsigned long long n;

	if (*arg < '0' || *arg > '9')
		usage_error("--mib needs a positive whole number, not '%s'", arg);
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (*end != '\0')
		usage_error("--mib needs a positive whole number, not '%s'", arg);
	if (n == 0)
		usage_error("--mib must be at least 1, not '%s'", arg);
	if (errno == ERANGE || n > SIZE_MAX / MIB)
		usage_error("--mib '%s' is too large", arg);
	return (size_t)n;
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	default: return NULL;
	}
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (double)MIB;
}

static uint64_t process_rss(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		fail("/proc/self/statm");
	if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
		errno = EPROTO;
		fail("/proc/self/statm");
	}
	fclose(f);
	return (uint64_t)resident * page_size;
}

static uint64_t region_resident(void *addr, size_t len)
{
	size_t pages = len / page_size, n = 0;

	if (mincore(addr, len, mincore_vec) != 0)
		fail("mincore");
	for (size_t i = 0; i < pages; i++)
		n += mincore_vec[i] & 1;
	return (uint64_t)n * page_size;
}

/* Sums the LazyFree lines of the mappings in /proc/self/smaps that overlap
 * [addr, addr + len).  Returns false when the kernel does not report LazyFree
 * (before Linux 4.12) or smaps cannot be read. */
static bool region_lazyfree(void *addr, size_t len, uint64_t *out)
{
	uintptr_t start = (uintptr_t)addr, end = start + len;
	bool overlaps = false, seen = false;
	char line[512];
	uint64_t total = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		unsigned long long kib;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			overlaps = lo < end && hi > start;
		} else if (sscanf(line, "LazyFree: %llu kB", &kib) == 1) {
			seen = true;
			if (overlaps)
				total += (uint64_t)kib * 1024;
		}
		/* A line longer than the buffer: skip the rest of it. */
		while (!strchr(line, '\n') && fgets(line, sizeof line, f))
			;
	}
	fclose(f);
	*out = total;
	return seen;
}

static struct usage measure(void *addr, size_t len, bool want_lazyfree)
{
	struct usage u = {0};

	u.rss = process_rss();
	u.resident = region_resident(addr, len);
	if (want_lazyfree)
		u.lazyfree_known = region_lazyfree(addr, len, &u.lazyfree);
	return u;
}

static void print_usage_line(const char *step, const struct usage *u, bool with_lazyfree)
{
	printf("  %-22s process RSS %8.1f MiB   region resident %8.1f MiB",
	       step, mib(u->rss), mib(u->resident));
	if (with_lazyfree) {
		if (u->lazyfree_known)
			printf("   lazily freed %8.1f MiB", mib(u->lazyfree));
		else
			printf("   lazily freed      n/a");
	}
	putchar('\n');
}

static void *map_and_touch(size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap");
	for (size_t off = 0; off < len; off += page_size)
		p[off] = 0xa5;
	return p;
}

/* How many pages of the region read back as all zero bytes. */
static size_t zero_pages(const unsigned char *p, size_t len)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += page_size)
		n += memcmp(p + off, zero_page, page_size) == 0;
	return n;
}

/* One madvise step on a fresh region.  Returns true when the memory was
 * returned. */
static bool run_step(const char *name, int advice, size_t len)
{
	bool is_free = advice == MADV_FREE;
	size_t pages = len / page_size, zeros;
	struct usage before, after;
	unsigned char *p;
	uint64_t kept;
	bool returned;
	int rc, err;

	printf("%s\n", name);
	p = map_and_touch(len);
	before = measure(p, len, false);
	print_usage_line("touched every page", &before, false);

	errno = 0;
	rc = madvise(p, len, advice);
	err = errno;
	if (rc == 0) {
		printf("  madvise(%s) = 0\n", name);
	} else {
		const char *ename = errno_name(err);

		if (ename)
			printf("  madvise(%s) = %d (%s: %s)\n", name, rc, ename, strerror(err));
		else
			printf("  madvise(%s) = %d (errno %d: %s)\n", name, rc, err, strerror(err));
	}

	/* Measure before reading the region back: reading maps the zero page,
	 * which mincore would count as resident. */
	after = measure(p, len, is_free);
	print_usage_line("after madvise", &after, is_free);

	kept = after.resident;
	if (is_free && after.lazyfree_known)
		kept = after.lazyfree >= kept ? 0 : kept - after.lazyfree;
	returned = before.resident > 0 && kept * 10 < before.resident;

	zeros = zero_pages(p, len);
	printf("  %-22s ", "contents");
	if (zeros == pages)
		fputs("read back as zero", stdout);
	else if (zeros == 0)
		fputs("old data still there", stdout);
	else
		printf("%zu of %zu pages zero, the rest old data", zeros, pages);
	if (zeros != pages) {
		if (rc != 0) {
			if (zeros == 0)
				fputs(": nothing was discarded", stdout);
		} else if (is_free) {
			fputs(" (allowed: MADV_FREE pages go only under memory pressure)", stdout);
		} else {
			fputs(": WRONG, MADV_DONTNEED must zero them", stdout);
		}
		/* Private anonymous memory that MADV_DONTNEED did not zero was not
		 * given back, whatever mincore says. */
		if (!is_free)
			returned = false;
	}
	putchar('\n');

	if (munmap(p, len) != 0)
		fail("munmap");
	return returned;
}

int main(int argc, char **argv)
{
	size_t mib_count = DEFAULT_MIB, len;
	long ps;
	bool dontneed_ok, free_ok;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--mib") == 0) {
			if (i + 1 >= argc)
				usage_error("%s needs an argument", a);
			mib_count = parse_mib(argv[++i]);
		} else if (strncmp(a, "--mib=", 6) == 0) {
			mib_count = parse_mib(a + 6);
		} else {
			usage_error("unknown argument '%s'", a);
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0)
		fail("sysconf(_SC_PAGESIZE)");
	page_size = (size_t)ps;
	len = mib_count * MIB;
	if (len < page_size)
		len = page_size;
	zero_page = calloc(1, page_size);
	mincore_vec = malloc(len / page_size);
	if (!zero_page || !mincore_vec)
		fail("malloc");

	printf("madvise-demo: %zu MiB private anonymous region per step, %zu KiB pages\n",
	       mib_count, page_size / 1024);
	dontneed_ok = run_step("MADV_DONTNEED", MADV_DONTNEED, len);
	free_ok = run_step("MADV_FREE", MADV_FREE, len);

	if (dontneed_ok && free_ok) {
		printf("result: memory returned by MADV_DONTNEED and MADV_FREE\n");
		return 0;
	}
	printf("result: memory NOT returned (MADV_DONTNEED: %s, MADV_FREE: %s)\n",
	       dontneed_ok ? "yes" : "no", free_ok ? "yes" : "no");
	return 1;
}
