/* errno-table: madvise's argument and mapping checks, one case per line.
 *
 * The program lays out a fixed set of mappings inside one reserved region
 * (holes between them are really unmapped), runs madvise once per case and
 * prints
 *
 *     case-name ret errno-name
 *
 * where errno-name is "0" when errno was left at 0.  The output depends only
 * on the kernel's (or the shim's) behaviour, never on addresses, so runs on
 * the native kernel and under madvise-sim + the shim can be compared with
 * diff.
 *
 * Every case also carries the result documented for Linux 6.x; --check
 * compares against it and exits 1 on a mismatch.
 *
 * Usage: errno-table [--list] [--check] [PATTERN...]
 *   PATTERN   run only the cases whose name matches one of these globs
 *   --list    print the case names and what each does, run nothing
 *   --check   also compare every result with the documented one
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "names.h"

/* ---- the layout ------------------------------------------------------ */

/* Page numbers inside the reserved region.  Every region is its own VMA:
 * there is an unmapped page between any two of them. */
enum region {
	R_BASE,        /* the reservation itself; page 0 is a hole */
	R_ANON,        /* private anonymous, read-write, 4 pages */
	R_ANON2,       /* private anonymous, read-write, 2 pages after a hole */
	R_SHARED,      /* shared anonymous (shmem), 4 pages */
	R_FILE,        /* private mapping of a regular file, read-write */
	R_FILESHARED,  /* shared mapping of a regular file, read-write */
	R_NONE,        /* private anonymous, PROT_NONE (was written first) */
	R_RO,          /* private anonymous, PROT_READ (was written first) */
	R_LOCKED,      /* private anonymous, mlocked */
	R_LAST,        /* the last mapping; everything after it is unmapped */
	R_TAIL,        /* the unmapped tail of the reservation */
	R_ABS,         /* not a region: the address is absolute */
};

static const struct region_def {
	const char *name;
	long first;    /* first page inside the reservation */
	long pages;
} regions[] = {
	[R_BASE]       = { "base",        0,  64 },
	[R_ANON]       = { "anon",        1,   4 },
	[R_ANON2]      = { "anon2",       6,   2 },
	[R_SHARED]     = { "shared-anon", 9,   4 },
	[R_FILE]       = { "file-private", 14, 4 },
	[R_FILESHARED] = { "file-shared", 19,  4 },
	[R_NONE]       = { "prot-none",   24,  4 },
	[R_RO]         = { "read-only",   29,  4 },
	[R_LOCKED]     = { "locked",      34,  4 },
	[R_LAST]       = { "last",        39,  4 },
	[R_TAIL]       = { "tail",        43, 21 },
};
#define RESERVE_PAGES 64

/* Far below where mmap(NULL) places things (top-down from below the stack),
 * so that nothing the program, libc or the shim maps later fills our holes. */
#define RESERVE_HINT ((uintptr_t)0x100000000000ULL)

static size_t pg;
static char *base;

static char *region_addr(enum region r)
{
	return base + (size_t)regions[r].first * pg;
}

static int make_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/errno-table.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	char *buf = malloc(8 * pg);
	if (!buf) {
		perror("malloc");
		exit(2);
	}
	memset(buf, 'F', 8 * pg);
	if (write(fd, buf, 8 * pg) != (ssize_t)(8 * pg)) {
		perror("write");
		exit(2);
	}
	free(buf);
	return fd;
}

static void map_at(enum region r, int prot, int flags, int fd, off_t off)
{
	void *want = region_addr(r);
	void *got = mmap(want, (size_t)regions[r].pages * pg, prot,
			 flags | MAP_FIXED, fd, off);
	if (got != want) {
		fprintf(stderr, "errno-table: mmap %s: %s\n", regions[r].name,
			strerror(errno));
		exit(2);
	}
	if (prot & PROT_WRITE)
		memset(want, 0x5a, (size_t)regions[r].pages * pg);
}

static void build_layout(void)
{
	long sz = sysconf(_SC_PAGESIZE);
	pg = sz > 0 ? (size_t)sz : 4096;

	size_t len = RESERVE_PAGES * pg;
	void *p = mmap((void *)RESERVE_HINT, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		       MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("errno-table: reserve");
		exit(2);
	}
	base = p;

	int fd = make_file();
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	const int rw = PROT_READ | PROT_WRITE;
	map_at(R_ANON, rw, anon, -1, 0);
	map_at(R_ANON2, rw, anon, -1, 0);
	map_at(R_SHARED, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	map_at(R_FILE, rw, MAP_PRIVATE, fd, 0);
	map_at(R_FILESHARED, rw, MAP_SHARED, fd, (off_t)(4 * pg));
	map_at(R_NONE, rw, anon, -1, 0);
	map_at(R_RO, rw, anon, -1, 0);
	map_at(R_LOCKED, rw, anon, -1, 0);
	map_at(R_LAST, rw, anon, -1, 0);
	close(fd);

	size_t rlen = (size_t)regions[R_NONE].pages * pg;
	if (mprotect(region_addr(R_NONE), rlen, PROT_NONE) ||
	    mprotect(region_addr(R_RO), rlen, PROT_READ)) {
		perror("errno-table: mprotect");
		exit(2);
	}
	if (mlock(region_addr(R_LOCKED), (size_t)regions[R_LOCKED].pages * pg)) {
		perror("errno-table: mlock");
		exit(2);
	}

	/* Punch every page that belongs to no region. */
	for (long i = 0; i < RESERVE_PAGES; i++) {
		bool used = false;
		for (int r = R_ANON; r <= R_LAST; r++)
			if (i >= regions[r].first &&
			    i < regions[r].first + regions[r].pages)
				used = true;
		if (!used && munmap(base + (size_t)i * pg, pg)) {
			perror("errno-table: munmap");
			exit(2);
		}
	}
}

/* ---- the cases ------------------------------------------------------- */

#define LEN_P(n) ((long)(n)), 0       /* n pages */
#define LEN_B(n) 0, ((size_t)(n))     /* n bytes, taken as is */

struct tcase {
	char name[64];
	enum region region;
	long page;          /* pages from the region's start (may be < 0) */
	uintptr_t byte;     /* bytes added; the whole address for R_ABS */
	long len_pages;
	size_t len_bytes;   /* len = len_pages * page size + len_bytes */
	int advice;
	int expect;         /* documented errno, 0 for success */
	const char *what;
};

/* Cases that do not depend on the kind of mapping. */
static const struct tcase fixed_cases[] = {
	{ "unaligned-len0", R_ANON, 0, 1, LEN_B(0), MADV_DONTNEED, EINVAL,
	  "start not page aligned, len 0: alignment is checked before len" },
	{ "unaligned-len4096", R_ANON, 0, 1, LEN_B(4096), MADV_DONTNEED, EINVAL,
	  "start not page aligned" },
	{ "unaligned-mid-page", R_ANON, 0, 2048, LEN_P(1), MADV_WILLNEED, EINVAL,
	  "start in the middle of a page, hint advice" },
	{ "unaligned-unmapped", R_TAIL, 1, 8, LEN_P(1), MADV_DONTNEED, EINVAL,
	  "unaligned start in an unmapped range: EINVAL beats ENOMEM" },
	{ "aligned-len0", R_ANON, 0, 0, LEN_B(0), MADV_DONTNEED, 0,
	  "len 0 on a mapped page" },
	{ "aligned-len0-unmapped", R_TAIL, 1, 0, LEN_B(0), MADV_DONTNEED, 0,
	  "len 0 on an unmapped page: nothing is looked up" },
	{ "len-rounded-up", R_ANON, 0, 0, LEN_B(1), MADV_DONTNEED, 0,
	  "len 1 is rounded up to a page" },
	{ "len-rounded-up-4097", R_ANON, 0, 0, LEN_B(4097), MADV_DONTNEED, 0,
	  "len 4097 covers two mapped pages" },
	{ "len-rounded-into-hole", R_ANON, 3, 0, LEN_B(4097), MADV_DONTNEED, ENOMEM,
	  "len rounded up reaches the unmapped page after the mapping" },
	{ "overflow-near-top", R_ABS, 0, (uintptr_t)0 - 16 * 4096, LEN_P(32),
	  MADV_DONTNEED, EINVAL, "start near the top of the address space, end wraps" },
	{ "overflow-huge-len", R_LAST, 0, 0, LEN_B(SIZE_MAX - ((size_t)1 << 40)),
	  MADV_NORMAL, EINVAL, "start + len wraps past zero" },
	{ "huge-len-no-wrap", R_LAST, 0, 0, LEN_B(SIZE_MAX / 2 + 4096),
	  MADV_NORMAL, ENOMEM,
	  "end far beyond the user address space without wrapping: no range check" },
	{ "negative-len-4096", R_ANON, 0, 0, LEN_B(-4096), MADV_DONTNEED, EINVAL,
	  "len (size_t)-4096" },
	{ "negative-len-1", R_ANON, 0, 0, LEN_B(-1), MADV_DONTNEED, EINVAL,
	  "len (size_t)-1: rounding it up overflows" },
	{ "negative-len-1-free", R_ANON, 0, 0, LEN_B(-1), MADV_FREE, EINVAL,
	  "len (size_t)-1 with MADV_FREE" },
	{ "kernel-half", R_ABS, 0, (uintptr_t)0xffff800000000000ULL, LEN_P(1),
	  MADV_NORMAL, ENOMEM, "a range in the kernel half of the address space" },
	{ "beyond-task-size", R_ABS, 0, (uintptr_t)0x0000800000000000ULL, LEN_P(1),
	  MADV_DONTNEED, ENOMEM, "first page past the 47-bit user address space" },
	{ "null-page", R_ABS, 0, 0, LEN_P(1), MADV_DONTNEED, ENOMEM,
	  "page zero, never mapped" },
	{ "huge-len-unmapped-after", R_LAST, 0, 0, LEN_B((size_t)1 << 40),
	  MADV_NORMAL, ENOMEM, "1 TiB from the last mapping: mapped start, nothing after" },
	{ "unknown-advice-minus1", R_ANON, 0, 0, LEN_P(1), -1, EINVAL,
	  "advice -1" },
	{ "unknown-advice-26", R_ANON, 0, 0, LEN_P(1), 26, EINVAL,
	  "advice 26, the first value after MADV_COLLAPSE" },
	{ "unknown-advice-99", R_ANON, 0, 0, LEN_P(1), 99, EINVAL,
	  "advice 99, just below MADV_HWPOISON" },
	{ "unknown-advice-104", R_ANON, 0, 0, LEN_P(1), 104, EINVAL,
	  "advice 104, the first value after MADV_GUARD_REMOVE" },
	{ "unknown-advice-1000", R_ANON, 0, 0, LEN_P(1), 1000, EINVAL,
	  "advice 1000" },
	{ "unknown-advice-intmax", R_ANON, 0, 0, LEN_P(1), INT_MAX, EINVAL,
	  "advice INT_MAX" },
	{ "unknown-advice-unaligned", R_ANON, 0, 1, LEN_P(1), 99, EINVAL,
	  "unknown advice and an unaligned start" },
	{ "unknown-advice-len0", R_ANON, 0, 0, LEN_B(0), 99, EINVAL,
	  "unknown advice with len 0: the advice is checked first" },
	{ "unknown-advice-unmapped", R_TAIL, 1, 0, LEN_P(1), 1000, EINVAL,
	  "unknown advice on an unmapped range: EINVAL beats ENOMEM" },
	{ "free-anon-then-shared", R_ANON, 0, 0, LEN_P(12), MADV_FREE, EINVAL,
	  "FREE over anon, hole, anon, hole, shared: the shared VMA's EINVAL wins" },
	{ "free-shared-then-anon", R_SHARED, -3, 0, LEN_P(8), MADV_FREE, EINVAL,
	  "FREE over anon, hole, shared" },
	{ "dontneed-span-all", R_BASE, 0, 0, LEN_P(RESERVE_PAGES), MADV_DONTNEED,
	  EINVAL, "DONTNEED over every region: the mlocked VMA's EINVAL beats the holes" },
	{ "dontneed-span-before-locked", R_BASE, 0, 0, LEN_P(34), MADV_DONTNEED,
	  ENOMEM, "DONTNEED over every region before the locked one" },
	{ "willneed-span-all", R_BASE, 0, 0, LEN_P(RESERVE_PAGES), MADV_WILLNEED,
	  ENOMEM, "WILLNEED over every region: only the holes matter" },
	{ "cold-span-all", R_BASE, 0, 0, LEN_P(RESERVE_PAGES), MADV_COLD,
	  EINVAL, "COLD over every region: the mlocked VMA refuses" },
};

/* The matrix: each advice on each kind of range. */
static const struct {
	const char *name;
	int value;
} matrix_advice[] = {
	{ "dontneed", MADV_DONTNEED },
	{ "free", MADV_FREE },
	{ "willneed", MADV_WILLNEED },
	{ "normal", MADV_NORMAL },
	{ "random", MADV_RANDOM },
	{ "sequential", MADV_SEQUENTIAL },
	{ "cold", MADV_COLD },
	{ "pageout", MADV_PAGEOUT },
	{ "dontdump", MADV_DONTDUMP },
	{ "dodump", MADV_DODUMP },
	{ "nohugepage", MADV_NOHUGEPAGE },
	{ "hugepage", MADV_HUGEPAGE },
};

enum target {
	T_ANON, T_SHARED, T_FILE, T_FILESHARED, T_NONE, T_RO, T_LOCKED,
	T_HOLE, T_START_IN_HOLE, T_UNMAPPED, T_PAST_END, T_UNALIGNED,
	T_LEN0_UNMAPPED, T_LEN1, T_COUNT
};

static const struct {
	const char *name;
	enum region region;
	long page;
	uintptr_t byte;
	long len_pages;
	size_t len_bytes;
	const char *what;
} matrix_target[T_COUNT] = {
	[T_ANON]         = { "anon",          R_ANON,   0, 0, LEN_P(4), "private anonymous" },
	[T_SHARED]       = { "shared-anon",   R_SHARED, 0, 0, LEN_P(4), "shared anonymous" },
	[T_FILE]         = { "file-private",  R_FILE,   0, 0, LEN_P(4), "private file mapping" },
	[T_FILESHARED]   = { "file-shared",   R_FILESHARED, 0, 0, LEN_P(4), "shared file mapping" },
	[T_NONE]         = { "prot-none",     R_NONE,   0, 0, LEN_P(4), "PROT_NONE private anonymous" },
	[T_RO]           = { "read-only",     R_RO,     0, 0, LEN_P(4), "PROT_READ private anonymous" },
	[T_LOCKED]       = { "locked",        R_LOCKED, 0, 0, LEN_P(4), "mlocked private anonymous" },
	[T_HOLE]         = { "hole",          R_ANON,   0, 0, LEN_P(7), "anon, a hole, anon" },
	[T_START_IN_HOLE] = { "start-in-hole", R_ANON, -1, 0, LEN_P(3), "a hole, then anon" },
	[T_UNMAPPED]     = { "unmapped",      R_TAIL,   1, 0, LEN_P(4), "nothing mapped" },
	[T_PAST_END]     = { "past-end",      R_LAST,   2, 0, LEN_P(4), "last mapping's end and beyond" },
	[T_UNALIGNED]    = { "unaligned",     R_ANON,   0, 1, LEN_P(1), "start one byte into a page" },
	[T_LEN0_UNMAPPED] = { "len0-unmapped", R_TAIL,  1, 0, LEN_B(0), "len 0 on an unmapped page" },
	[T_LEN1]         = { "len1",          R_ANON,   0, 0, LEN_B(1), "len 1 on a mapped page" },
};

/* What Linux 6.x answers for the matrix. */
static int matrix_expect(int advice, enum target t)
{
	switch (t) {
	case T_HOLE: case T_START_IN_HOLE: case T_UNMAPPED: case T_PAST_END:
		return ENOMEM;
	case T_UNALIGNED:
		return EINVAL;
	case T_LEN0_UNMAPPED: case T_LEN1: case T_ANON: case T_NONE: case T_RO:
		return 0;
	case T_SHARED: case T_FILE: case T_FILESHARED:
		return advice == MADV_FREE ? EINVAL : 0;
	case T_LOCKED:
		switch (advice) {
		case MADV_DONTNEED: case MADV_FREE: case MADV_COLD:
		case MADV_PAGEOUT:
			return EINVAL;
		}
		return 0;
	case T_COUNT:
		break;
	}
	return -1;
}

static struct tcase *cases;
static size_t ncases;

static void build_cases(void)
{
	size_t nfixed = sizeof fixed_cases / sizeof fixed_cases[0];
	size_t nadv = sizeof matrix_advice / sizeof matrix_advice[0];
	cases = calloc(nfixed + nadv * T_COUNT, sizeof *cases);
	if (!cases) {
		perror("calloc");
		exit(2);
	}
	for (size_t i = 0; i < nfixed; i++)
		cases[ncases++] = fixed_cases[i];
	for (size_t a = 0; a < nadv; a++) {
		for (int t = 0; t < T_COUNT; t++) {
			struct tcase *c = &cases[ncases++];
			snprintf(c->name, sizeof c->name, "%s/%s",
				 matrix_advice[a].name, matrix_target[t].name);
			c->region = matrix_target[t].region;
			c->page = matrix_target[t].page;
			c->byte = matrix_target[t].byte;
			c->len_pages = matrix_target[t].len_pages;
			c->len_bytes = matrix_target[t].len_bytes;
			c->advice = matrix_advice[a].value;
			c->expect = matrix_expect(c->advice, (enum target)t);
			c->what = matrix_target[t].what;
		}
	}
}

static bool selected(const char *name, int npat, char **pat)
{
	if (npat == 0)
		return true;
	for (int i = 0; i < npat; i++)
		if (fnmatch(pat[i], name, 0) == 0)
			return true;
	return false;
}

static void usage(FILE *f)
{
	fputs("usage: errno-table [--list] [--check] [PATTERN...]\n", f);
}

int main(int argc, char **argv)
{
	bool list = false, check = false;
	int npat = 0;
	char **pat = calloc((size_t)argc, sizeof *pat);
	if (!pat)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else
			pat[npat++] = argv[i];
	}

	build_cases();
	if (list) {
		for (size_t i = 0; i < ncases; i++)
			if (selected(cases[i].name, npat, pat))
				printf("%-36s expect %-6s %s\n", cases[i].name,
				       errno_name(cases[i].expect), cases[i].what);
		return 0;
	}

	build_layout();
	int mismatches = 0, ran = 0;
	for (size_t i = 0; i < ncases; i++) {
		const struct tcase *c = &cases[i];
		if (!selected(c->name, npat, pat))
			continue;
		char *addr;
		if (c->region == R_ABS)
			addr = (char *)c->byte;
		else
			addr = region_addr(c->region) + c->page * (long)pg +
			       c->byte;
		size_t len = (size_t)c->len_pages * pg + c->len_bytes;

		errno = 0;
		int ret = madvise(addr, len, c->advice);
		int err = errno;
		printf("%s %d %s\n", c->name, ret, errno_name(err));
		ran++;

		bool ok = c->expect == 0 ? (ret == 0 && err == 0)
					 : (ret == -1 && err == c->expect);
		if (check && !ok) {
			fprintf(stderr,
				"errno-table: %s: got %d %s, documented %s (%s)\n",
				c->name, ret, errno_name(err), errno_name(c->expect),
				c->what);
			mismatches++;
		}
	}
	fflush(stdout);
	if (ran == 0) {
		fprintf(stderr, "errno-table: no case matches\n");
		return 2;
	}
	if (check && mismatches) {
		fprintf(stderr, "errno-table: %d of %d cases differ\n",
			mismatches, ran);
		return 1;
	}
	return 0;
}
