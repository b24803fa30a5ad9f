/* madvise-scenario: behaviour checks for madvise, posix_madvise,
 * process_madvise and posix_fadvise, one subcommand per scenario.
 *
 * Each subcommand prints an "ok ..." line per check that held and a FAIL line
 * on stderr, saying what was expected and what happened, per check that did
 * not; it ends with "passed: SUBCOMMAND (N checks)" and exit status 0, or
 * exit status 1.  Exit status 2 means the scenario could not be set up, 3
 * that this host cannot give what it needs (a huge page), with a last line
 * "skip: host: WHY" for the caller to skip with.
 *
 * The same binary runs on the native kernel (the oracle) and under
 * madvise-sim with the shim preloaded; where the kernel allows a choice
 * (MADV_FREE may keep the old contents until memory pressure) the native run
 * accepts either, and --must-zero / --must-drop demand what an emulation
 * promises.
 *
 * Page contents are reported one letter per page:
 *   o  the original test pattern    f  the backing file's bytes
 *   z  all zero                     x  anything else
 * and expectations use the same letters plus '?' for "o or z" and '-' for
 * a page that is not mapped (not looked at).
 *
 * Mappings that need unmapped neighbours are placed far from where
 * mmap(NULL, ...) allocates, so a probe mapping made by the shim can never
 * fill a hole a scenario relies on.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

#include "report.h"

#include "advice_table.h"
#include "rawsys.h"

#define SENTINEL_ERRNO 12345

static size_t pg;
static bool must_zero, must_drop, valid_first;

/* ---- reporting ------------------------------------------------------- */

static const char *ename(int e)
{
	static char buf[4][32];
	static int slot;
	if (e == 0)
		return "0";
	if (e == SENTINEL_ERRNO)
		return "sentinel";
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof buf[slot], "E%d", e);
	return buf[slot];
}

/* A call that should return ret_want and, on -1, set errno to err_want. */
static void expect_call(const char *what, long ret, int err, long ret_want,
			int err_want)
{
	bool ok = ret == ret_want && (ret_want != -1 || err == err_want);
	if (ret_want == -1)
		check(ok, "%s: %s-1 %s", what, ok ? "" : "expected ",
		      ename(err_want));
	else
		check(ok, "%s: %s%ld", what, ok ? "" : "expected ", ret_want);
	if (!ok)
		fprintf(stderr, "     got %ld, errno %s\n", ret, ename(err));
}

/* The same for calls that return an error number (posix_*). */
static void expect_errnum(const char *what, int got, int want)
{
	check(got == want, "%s: %s%s", what, got == want ? "" : "expected ",
	      ename(want));
	if (got != want)
		fprintf(stderr, "     got %s\n", ename(got));
}

/* ---- memory helpers -------------------------------------------------- */

static unsigned char orig_byte(size_t page) { return (unsigned char)('A' + page % 26); }
static unsigned char file_byte(size_t page) { return (unsigned char)('a' + page % 26); }

static void fill(char *p, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++)
		memset(p + i * pg, orig_byte(i), pg);
}

static bool page_all(const char *p, unsigned char c)
{
	for (size_t i = 0; i < pg; i++)
		if ((unsigned char)p[i] != c)
			return false;
	return true;
}

/* The letter for page number idx of a mapping, found at q. */
static char page_letter(const char *q, size_t idx)
{
	return page_all(q, 0) ? 'z' : page_all(q, orig_byte(idx)) ? 'o'
	     : page_all(q, file_byte(idx)) ? 'f' : 'x';
}

/* One letter per page; the caller makes sure the pages are readable. */
static void states(const char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = page_letter(p + i * pg, i);
	out[n] = '\0';
}

/* Long letter strings are shown run-length encoded: "o259 z3 o762". */
static const char *show(const char *letters, char *buf, size_t size)
{
	size_t n = strlen(letters);
	if (n <= 32) {
		snprintf(buf, size, "%s", letters);
		return buf;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size;) {
		size_t j = i;
		while (j < n && letters[j] == letters[i])
			j++;
		int w = snprintf(buf + used, size - used, "%s%c%zu",
				 used ? " " : "", letters[i], j - i);
		if (w < 0)
			break;
		used += (size_t)w;
		i = j;
	}
	return buf;
}

static bool states_match(const char *got, const char *want)
{
	for (; *want; got++, want++) {
		if (*want == '-')
			continue;
		if (*want == '?' ? (*got != 'o' && *got != 'z') : *got != *want)
			return false;
	}
	return *got == '\0';
}

/* Checks the letters of the pages of the mapping at p, one per letter of
 * want; a '-' in want skips a page (a hole).  Returns the letters found. */
static const char *expect_states(const char *what, const char *p, const char *want)
{
	static char got[4096];
	size_t n = strlen(want);
	for (size_t i = 0; i < n && i < sizeof got - 1; i++)
		got[i] = want[i] == '-' ? '-' : page_letter(p + i * pg, i);
	got[n] = '\0';
	bool ok = states_match(got, want);
	char buf[512];
	check(ok, "%s: pages %s", what, show(ok ? got : want, buf, sizeof buf));
	if (!ok)
		fprintf(stderr, "     pages are %s (o original, f file, z zero, "
			"x other, ? o-or-z, - hole)\n", show(got, buf, sizeof buf));
	return got;
}

/* Mappings that need holes around them come from an area far below where
 * mmap(NULL, ...) puts things, so that nothing mapped later (by libc or the
 * shim's own scratch mappings) can land in a hole a scenario relies on. */
static uintptr_t arena_next = 0x200000000000ULL;

static char *map_fixed_or_any(size_t npages, int prot, int flags, int fd, off_t off)
{
	size_t len = npages * pg;
	void *p = mmap((void *)arena_next, len, prot, flags | MAP_FIXED_NOREPLACE,
		       fd, off);
	if (p == MAP_FAILED)
		p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		setup_failed("mmap %zu pages", npages);
	/* 1 GiB apart, so every area starts on a huge-page boundary. */
	arena_next += ((len >> 30) + 2) << 30;
	return p;
}

static char *map_anon(size_t npages)
{
	char *p = map_fixed_or_any(npages, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(p, 0, npages);
	return p;
}

static int make_file(size_t npages)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/madvise-scenario.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		setup_failed("mkstemp %s", path);
	unlink(path);
	char *buf = malloc(pg);
	if (!buf)
		setup_failed("malloc");
	for (size_t i = 0; i < npages; i++) {
		memset(buf, file_byte(i), pg);
		if (write(fd, buf, pg) != (ssize_t)pg)
			setup_failed("write");
	}
	free(buf);
	return fd;
}

/* A second, independent open of the same (unlinked) file. */
static int open_file_again(int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int nfd = open(path, flags | O_CLOEXEC);
	if (nfd < 0)
		setup_failed("open %s", path);
	return nfd;
}

static unsigned char file_at(int fd, size_t page)
{
	unsigned char c = 0;
	if (pread(fd, &c, 1, (off_t)(page * pg)) != 1)
		setup_failed("pread");
	return c;
}

/* ---- /proc helpers --------------------------------------------------- */

/* The perms column of /proc/self/maps for the mapping holding addr. */
static const char *maps_perms(const void *addr)
{
	static char perms[8];
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		setup_failed("open /proc/self/maps");
	char *line = NULL;
	size_t cap = 0;
	strcpy(perms, "none");
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) != 3)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			snprintf(perms, sizeof perms, "%s", p);
			break;
		}
	}
	free(line);
	fclose(f);
	return perms;
}

/* The value of FIELD ("VmFlags", "AnonHugePages"...) in the smaps entry of
 * the mapping holding addr, copied into buf; false where there is none. */
static bool smaps_field(const void *addr, const char *field, char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		setup_failed("open /proc/self/smaps");
	char *line = NULL;
	size_t cap = 0, n = strlen(field);
	bool in = false, found = false;
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi;
		char dash;
		if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
			if (in)
				break;
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && !strncmp(line, field, n) && line[n] == ':') {
			snprintf(buf, size, "%s", line + n + 1);
			found = true;
			break;
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Whether the VmFlags of the mapping holding addr include flag. */
static bool smaps_has_flag(const void *addr, const char *flag)
{
	char flags[512];
	if (!smaps_field(addr, "VmFlags", flags, sizeof flags))
		return false;
	for (char *t = strtok(flags, " \n"); t; t = strtok(NULL, " \n"))
		if (!strcmp(t, flag))
			return true;
	return false;
}

static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		setup_failed("open /proc/self/status");
	char line[256];
	size_t n = strlen(field);
	long kb = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	if (kb < 0)
		setup_failed("no %s in /proc/self/status", field);
	return kb;
}

static size_t resident_pages(void *p, size_t npages)
{
	unsigned char *vec = malloc(npages);
	if (!vec)
		setup_failed("malloc");
	if (mincore(p, npages * pg, vec))
		setup_failed("mincore");
	size_t n = 0;
	for (size_t i = 0; i < npages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/* Touch addr in a child; returns a description of how the child ended:
 * "SIGSEGV", "no fault", ... */
static const char *child_access(volatile char *addr, bool write)
{
	static char how[64];
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		setup_failed("fork");
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		if (write)
			*addr = 1;
		else
			(void)*addr;
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		setup_failed("waitpid");
	if (WIFSIGNALED(st))
		snprintf(how, sizeof how, "%s", sigabbrev_np(WTERMSIG(st)) ?
			 sigabbrev_np(WTERMSIG(st)) : "signal");
	else if (WEXITSTATUS(st) == 0)
		snprintf(how, sizeof how, "no fault");
	else
		snprintf(how, sizeof how, "exit %d", WEXITSTATUS(st));
	if (!strcmp(how, "SEGV"))
		strcpy(how, "SIGSEGV");
	return how;
}

static void expect_fault(const char *what, char *addr, bool write)
{
	const char *how = child_access(addr, write);
	check(!strcmp(how, "SIGSEGV"), "%s: %s faults: %s", what,
	      write ? "write" : "read", how);
}

/* ---- advice names ---------------------------------------------------- */

static int advice_value(const char *name)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (!strcasecmp(name, advice_table[i].name))
			return advice_table[i].value;
	fprintf(stderr, "madvise-scenario: unknown advice '%s'\n", name);
	exit(2);
}

static const struct advice_info *advice_by_value(int v)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (advice_table[i].value == v)
			return &advice_table[i];
	return NULL;
}

/* What an advice leaves in private anonymous memory it applied to: 'z' for
 * DONTNEED, '?' for FREE (the kernel frees lazily; 'z' with --must-zero),
 * 'o' for the rest. */
static char leaves(int advice)
{
	if (advice == MADV_DONTNEED)
		return 'z';
	if (advice == MADV_FREE)
		return must_zero ? 'z' : '?';
	return 'o';
}

static int madv(void *addr, size_t len, int advice, int *err)
{
	errno = 0;
	int r = madvise(addr, len, advice);
	*err = errno;
	return r;
}

/* ---- scenarios ------------------------------------------------------- */

/* Of n pages at p, pages first..first+count-1 read as letter, the others as
 * their original byte ('o'). */
static void expect_run_changed(const char *what, const char *p, size_t n, size_t first,
			       size_t count, char letter)
{
	char *w = malloc(n + 1);
	if (!w)
		setup_failed("malloc");
	for (size_t i = 0; i < n; i++)
		w[i] = (i >= first && i < first + count) ? letter : 'o';
	w[n] = '\0';
	expect_states(what, p, w);
	free(w);
}

static void sc_zero(int advice, const char *name)
{
	char what[128], want[16];
	int err;
	char *p = map_anon(8);
	int r = madv(p + 2 * pg, 4 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(pages 2-5 of 8, %s)", name);
	expect_call(what, r, err, 0, 0);
	char l = leaves(advice);
	snprintf(want, sizeof want, "oo%c%c%c%coo", l, l, l, l);
	expect_states("contents after it, neighbours untouched", p, want);

	/* The range is still ordinary memory afterwards. */
	memset(p + 3 * pg, 'Q', pg);
	check(page_all(p + 3 * pg, 'Q'), "page 3 is writable and keeps what is written");

	/* 3 pages in the middle of the first 2 MiB of a 4 MiB 2 MiB-aligned
	 * region, written before the call: base pages unless THP is "always"
	 * (zero-thp makes sure of a huge page, and skips where none can be had). */
	size_t n = (4u << 20) / pg, first = (1u << 20) / pg + 1;
	char *h = map_anon(n);
	r = madv(h + first * pg, 3 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(3 pages inside a 4 MiB region, %s)", name);
	expect_call(what, r, err, 0, 0);
	expect_run_changed("4 MiB region: only those 3 pages changed", h, n, first, 3, l);
}

/* ---- zero-thp: 3 pages inside a transparent huge page ---------------- */

#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage"

/* The size of a PMD-mapped huge page, as the kernel says where it has THP;
 * 2 MiB (4 KiB base pages on x86-64 and arm64) where it does not. */
static size_t thp_size(void)
{
	FILE *f = fopen(THP_SYSFS "/hpage_pmd_size", "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v > 0 ? (size_t)v : (size_t)2 << 20;
}

/* The THP mode, as sysfs shows it in brackets ("enabled=madvise"), for the
 * reason of a skip. */
static const char *thp_mode(void)
{
	static char mode[48];
	char line[128];
	FILE *f = fopen(THP_SYSFS "/enabled", "re");
	if (!f)
		return "absent (no " THP_SYSFS ")";
	snprintf(mode, sizeof mode, "enabled=?");
	if (fgets(line, sizeof line, f)) {
		char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
		if (a && b)
			snprintf(mode, sizeof mode, "enabled=%.*s", (int)(b - a - 1), a + 1);
	}
	fclose(f);
	return mode;
}

/* A "kB" field (AnonHugePages...) of the smaps entry of the mapping holding
 * addr; -1 where there is none. */
static long smaps_kb(const void *addr, const char *field)
{
	char value[64];
	return smaps_field(addr, field, value, sizeof value) ? strtol(value, NULL, 10) : -1;
}

/* Exit status 3: the scenario cannot run on this host, for the reason on
 * its last line ("skip: host: ..."), which the caller skips with. */
static void __attribute__((noreturn, format(printf, 1, 2))) skip_host(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("skip: host: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
	exit(3);
}

/* DONTNEED or FREE of 3 base pages in the middle of a PMD-mapped huge page,
 * the first of two: the kernel splits it and changes those 3 pages only; an
 * emulation must not round to the huge page.  The huge page is the premise,
 * not what is tested, so MADV_HUGEPAGE is asked of the kernel itself, past
 * the shim (whose emulated MADV_HUGEPAGE is a hint that makes no huge page;
 * under madvise-sim the kernel answers ENOSYS as a kernel without madvise
 * would), and the huge pages are looked for in smaps before the call.
 * Where there are none (THP "madvise" and MADV_HUGEPAGE refused, THP
 * "never" or absent, disabled for the process, or no huge page free), the
 * scenario says so and exits 3 instead of checking base pages. */
static void sc_zero_thp(int advice, const char *name)
{
	char what[128];
	int err;
	size_t huge = thp_size(), n = 2 * huge / pg, first = huge / 2 / pg + 1;
	/* aligned: map one huge page more and cut the ends off */
	char *m = mmap(NULL, 3 * huge, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		setup_failed("mmap %zu bytes", 3 * huge);
	char *h = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if ((h > m && munmap(m, (size_t)(h - m))) ||
	    munmap(h + 2 * huge, (size_t)(m + huge - h)))
		setup_failed("munmap");
	/* before the first touch: the fault decides the page size */
	long hr = raw_syscall(SYS_madvise, h, 2 * huge, MADV_HUGEPAGE);
	fill(h, 0, n);
	long have = smaps_kb(h, "AnonHugePages");
	int disabled = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (have < (long)(2 * huge >> 10))
		skip_host("no transparent huge page: %ld of %zu kB huge after "
			  "MADV_HUGEPAGE answered %s, THP %s%s", have < 0 ? 0 : have,
			  2 * huge >> 10, hr ? ename((int)-hr) : "0", thp_mode(),
			  disabled > 0 ? ", disabled for this process (PR_SET_THP_DISABLE)" : "");
	note("%ld kB of the %zu kB are huge pages (AnonHugePages)", have, 2 * huge >> 10);
	int r = madv(h + first * pg, 3 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(3 pages inside a huge page, %s)", name);
	expect_call(what, r, err, 0, 0);
	expect_run_changed("2 huge pages: only those 3 base pages changed", h, n, first, 3,
			   leaves(advice));
}

static void sc_rss(int advice, const char *name)
{
	const size_t mib = 256, npages = (mib << 20) / pg;
	char what[128];
	char *p = map_fixed_or_any(npages, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < npages; i++)
		p[i * pg] = 1;
	size_t res0 = resident_pages(p, npages);
	long anon0 = status_kb("RssAnon");
	check(res0 * pg >= ((mib - 8) << 20), "before: %zu MiB of %zu MiB resident "
	      "(expected at least %zu)", res0 * pg >> 20, mib, mib - 8);

	int err;
	int r = madv(p, npages * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(256 MiB, %s)", name);
	expect_call(what, r, err, 0, 0);

	size_t res1 = resident_pages(p, npages);
	long anon1 = status_kb("RssAnon");
	long drop_mib = (anon0 - anon1) / 1024;
	bool need = advice == MADV_DONTNEED || must_drop;
	if (need) {
		check(res1 * pg < (8u << 20), "after: resident part %zu KiB "
		      "(expected below 8 MiB)", res1 * pg >> 10);
		check(drop_mib >= (long)mib - 8, "RssAnon dropped by %ld MiB "
		      "(expected at least %zu; %ld -> %ld kB)", drop_mib, mib - 8,
		      anon0, anon1);
	} else {
		note("after %s: resident %zu MiB, RssAnon dropped %ld MiB "
		     "(not required: freed lazily)", name, res1 * pg >> 20, drop_mib);
	}
	/* Contents, read after measuring: reading maps the zero page. */
	size_t bad = 0;
	char l = leaves(advice);
	for (size_t i = 0; i < npages; i++)
		if (!(p[i * pg] == 0 || (l == '?' && p[i * pg] == 1)))
			bad++;
	check(bad == 0, "every page reads %s (%zu do not)",
	      l == 'z' ? "zero" : "zero or its old byte", bad);
	munmap(p, npages * pg);
}

static void sc_prot(const char *mode, int advice, const char *name)
{
	char what[128], want[8];
	int err;
	char l = leaves(advice);
	if (!strcmp(mode, "none")) {
		char *p = map_anon(4);
		if (mprotect(p, 4 * pg, PROT_NONE))
			setup_failed("mprotect");
		int r = madv(p, 4 * pg, advice, &err);
		snprintf(what, sizeof what, "madvise(PROT_NONE range, %s)", name);
		expect_call(what, r, err, 0, 0);
		const char *perm = maps_perms(p);
		check(!strcmp(perm, "---p"), "first page still ---p: %s", perm);
		perm = maps_perms(p + 3 * pg);
		check(!strcmp(perm, "---p"), "last page still ---p: %s", perm);
		expect_fault("PROT_NONE page 0", p, false);
		expect_fault("PROT_NONE page 3", p + 3 * pg, false);
		if (mprotect(p, 4 * pg, PROT_READ))
			setup_failed("mprotect");
		snprintf(want, sizeof want, "%c%c%c%c", l, l, l, l);
		expect_states("contents once made readable", p, want);
	} else if (!strcmp(mode, "read")) {
		char *p = map_anon(4);
		if (mprotect(p, 4 * pg, PROT_READ))
			setup_failed("mprotect");
		int r = madv(p, 4 * pg, advice, &err);
		snprintf(what, sizeof what, "madvise(PROT_READ range, %s)", name);
		expect_call(what, r, err, 0, 0);
		const char *perm = maps_perms(p);
		check(!strcmp(perm, "r--p"), "first page still r--p: %s", perm);
		perm = maps_perms(p + 3 * pg);
		check(!strcmp(perm, "r--p"), "last page still r--p: %s", perm);
		snprintf(want, sizeof want, "%c%c%c%c", l, l, l, l);
		expect_states("contents", p, want);
		expect_fault("read-only page 0", p, true);
		expect_fault("read-only page 2", p + 2 * pg, true);
	} else if (!strcmp(mode, "mixed")) {
		/* One mapping, four protections: rw, none, r, rx. */
		char *p = map_anon(4);
		if (mprotect(p + pg, pg, PROT_NONE) ||
		    mprotect(p + 2 * pg, pg, PROT_READ) ||
		    mprotect(p + 3 * pg, pg, PROT_READ | PROT_EXEC))
			setup_failed("mprotect");
		int r = madv(p, 4 * pg, advice, &err);
		snprintf(what, sizeof what, "madvise(rw|none|r|rx pages, %s)", name);
		expect_call(what, r, err, 0, 0);
		static const char *const perms[] = { "rw-p", "---p", "r--p", "r-xp" };
		for (int i = 0; i < 4; i++) {
			const char *perm = maps_perms(p + i * pg);
			check(!strcmp(perm, perms[i]), "page %d still %s: %s", i,
			      perms[i], perm);
		}
		expect_fault("page 1 (PROT_NONE)", p + pg, false);
		expect_fault("page 2 (PROT_READ)", p + 2 * pg, true);
		expect_fault("page 3 (PROT_READ|PROT_EXEC)", p + 3 * pg, true);
		if (mprotect(p + pg, pg, PROT_READ))
			setup_failed("mprotect");
		snprintf(want, sizeof want, "%c%c%c%c", l, l, l, l);
		expect_states("contents", p, want);
		p[0] = 'W';
		check(p[0] == 'W', "page 0 still writable");
	} else {
		fprintf(stderr, "madvise-scenario prot: none, read or mixed\n");
		exit(2);
	}
}

static void sc_shared(const char *kind)
{
	int err, r;
	if (!strcmp(kind, "anon")) {
		char *p = map_fixed_or_any(4, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		fill(p, 0, 4);
		r = madv(p, 4 * pg, MADV_DONTNEED, &err);
		expect_call("madvise(shared anonymous, DONTNEED)", r, err, 0, 0);
		expect_states("contents kept", p, "oooo");
		r = madv(p, 4 * pg, MADV_FREE, &err);
		expect_call("madvise(shared anonymous, FREE)", r, err, -1, EINVAL);
		expect_states("contents kept", p, "oooo");
		/* Still shared: a child's write shows here. */
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			memset(p + 2 * pg, 'S', pg);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		check(page_all(p + 2 * pg, 'S'), "still shared with a child after "
		      "DONTNEED: its write is seen");
	} else if (!strcmp(kind, "file")) {
		int fd = make_file(4);
		char *p = map_fixed_or_any(4, PROT_READ | PROT_WRITE, MAP_SHARED,
					   fd, 0);
		fill(p, 1, 1);
		fill(p, 3, 1);
		r = madv(p, 4 * pg, MADV_DONTNEED, &err);
		expect_call("madvise(shared file mapping, DONTNEED)", r, err, 0, 0);
		expect_states("contents kept, written pages too", p, "fofo");
		check(file_at(fd, 1) == orig_byte(1), "the file holds what was "
		      "written through the mapping");
		r = madv(p, 4 * pg, MADV_FREE, &err);
		expect_call("madvise(shared file mapping, FREE)", r, err, -1, EINVAL);
		expect_states("contents kept", p, "fofo");
		memset(p, 'W', pg);
		check(file_at(fd, 0) == 'W', "still shared with the file: a write "
		      "through the mapping reaches it");
		close(fd);
	} else {
		fprintf(stderr, "madvise-scenario shared: anon or file\n");
		exit(2);
	}
}

static void sc_privfile(void)
{
	int err;
	int fd = make_file(4);
	char *p = map_fixed_or_any(4, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	fill(p, 1, 2);  /* pages 1 and 2 become private copies */
	expect_states("before: copies written", p, "foof");
	int r = madv(p, 4 * pg, MADV_DONTNEED, &err);
	char got[8];
	states(p, 4, got);
	if (r == 0) {
		/* madv cleared errno: a success leaves it so (errno-kept) */
		check(err == 0, "madvise(private file mapping with copied pages, "
		      "DONTNEED): 0, errno untouched: %s", ename(err));
		check(!strcmp(got, "ffff"), "success: every page reads the file "
		      "again: %s", got);
	} else {
		note("madvise(private file mapping, DONTNEED) failed: %s", ename(err));
		bool none_zero = strchr(got, 'z') == NULL && strchr(got, 'x') == NULL;
		check(none_zero && got[0] == 'f' && got[3] == 'f',
		      "failure: no page zeroed: %s", got);
	}
	check(file_at(fd, 1) == file_byte(1) && file_at(fd, 2) == file_byte(2),
	      "the file never saw the private copies");

	fill(p, 1, 1);
	r = madv(p, 4 * pg, MADV_FREE, &err);
	expect_call("madvise(private file mapping, FREE)", r, err, -1, EINVAL);
	expect_states("contents kept", p, "fo-f");

	/* A read-only private file mapping never written: the same rule (it
	 * may have been writable once, so it can hold private copies). */
	char *q = map_fixed_or_any(4, PROT_READ, MAP_PRIVATE, fd, 0);
	r = madv(q, 4 * pg, MADV_DONTNEED, &err);
	if (r != 0)
		note("madvise(read-only private file mapping, DONTNEED) failed: %s",
		     ename(err));
	else
		check(err == 0, "madvise(read-only private file mapping, DONTNEED): 0, "
		      "errno untouched: %s", ename(err));
	expect_states("reads the file", q, "ffff");
	close(fd);
}

static void sc_hole(int advice, const char *name)
{
	char what[128], want[8];
	int err, r;
	char l = leaves(advice);

	/* anon, anon, hole, anon, anon */
	char *p = map_anon(5);
	if (munmap(p + 2 * pg, pg))
		setup_failed("munmap");
	r = madv(p, 5 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(2 pages, hole, 2 pages, %s)", name);
	expect_call(what, r, err, -1, ENOMEM);
	snprintf(want, sizeof want, "%c%c-%c%c", l, l, l, l);
	expect_states("applied to the mapped parts", p, want);

	/* hole, anon, anon, anon */
	char *q = map_anon(4);
	if (munmap(q, pg))
		setup_failed("munmap");
	fill(q, 1, 3);
	r = madv(q, 4 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(starting in a hole, %s)", name);
	expect_call(what, r, err, -1, ENOMEM);
	snprintf(want, sizeof want, "-%c%c%c", l, l, l);
	expect_states("applied to the mapped part", q, want);

	r = madv(p + 2 * pg, pg, advice, &err);
	snprintf(what, sizeof what, "madvise(only the hole, %s)", name);
	expect_call(what, r, err, -1, ENOMEM);

	/* Past the end of q: nothing is mapped after it in its area. */
	fill(q, 3, 1);
	r = madv(q + 3 * pg, 3 * pg, advice, &err);
	snprintf(what, sizeof what, "madvise(last page and beyond, %s)", name);
	expect_call(what, r, err, -1, ENOMEM);
	snprintf(want, sizeof want, "---%c", l);
	expect_states("applied to the last page", q, want);
}

static void sc_locked(void)
{
	int err, r;
	char *p = map_anon(4);
	if (mlock(p, 4 * pg))
		setup_failed("mlock");
	long lck0 = status_kb("VmLck");
	check(smaps_has_flag(p, "lo"), "mlocked range has VmFlags lo");

	r = madv(p, 4 * pg, MADV_DONTNEED, &err);
	expect_call("madvise(mlocked, DONTNEED)", r, err, -1, EINVAL);
	expect_states("contents kept", p, "oooo");
	check(smaps_has_flag(p, "lo") && smaps_has_flag(p + 3 * pg, "lo"),
	      "still locked (VmFlags lo)");
	long lck1 = status_kb("VmLck");
	check(lck1 == lck0, "VmLck unchanged: %ld kB", lck1);
	check(resident_pages(p, 4) == 4, "all 4 pages still resident");

	r = madv(p, 4 * pg, MADV_FREE, &err);
	expect_call("madvise(mlocked, FREE)", r, err, -1, EINVAL);
	expect_states("contents kept", p, "oooo");
	check(status_kb("VmLck") == lck0, "VmLck unchanged after FREE");

	/* locked, locked, unlocked, unlocked: the kernel stops at the first
	 * VMA and touches nothing. */
	char *q = map_anon(4);
	if (mlock(q, 2 * pg))
		setup_failed("mlock");
	r = madv(q, 4 * pg, MADV_DONTNEED, &err);
	expect_call("madvise(locked then unlocked, DONTNEED)", r, err, -1, EINVAL);
	expect_states("nothing discarded", q, "oooo");
	check(smaps_has_flag(q, "lo") && !smaps_has_flag(q + 2 * pg, "lo"),
	      "lock state as before");

	/* unlocked, unlocked, locked, locked: the kernel discards the unlocked
	 * part before it meets the locked VMA; either is accepted there. */
	char *s = map_anon(4);
	if (mlock(s + 2 * pg, 2 * pg))
		setup_failed("mlock");
	r = madv(s, 4 * pg, MADV_DONTNEED, &err);
	expect_call("madvise(unlocked then locked, DONTNEED)", r, err, -1, EINVAL);
	const char *got = expect_states("locked part kept", s, "??oo");
	note("unlocked part after the failed call (kernel: zz): %.2s", got);
	check(smaps_has_flag(s + 2 * pg, "lo"), "locked part still locked");
}

static void sc_errno_kept(void)
{
	char *p = map_anon(4);
	char *sh = map_fixed_or_any(1, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *hole = map_anon(1);
	munmap(hole, pg);
	static const int ok_advice[] = {
		MADV_DONTNEED, MADV_FREE, MADV_WILLNEED, MADV_NORMAL,
		MADV_RANDOM, MADV_SEQUENTIAL, MADV_COLD, MADV_PAGEOUT,
		MADV_DONTDUMP, MADV_DODUMP, MADV_NOHUGEPAGE,
	};
	for (size_t i = 0; i < sizeof ok_advice / sizeof ok_advice[0]; i++) {
		errno = SENTINEL_ERRNO;
		int r = madvise(p, 4 * pg, ok_advice[i]);
		int e = errno;
		check(r == 0 && e == SENTINEL_ERRNO, "madvise %s succeeds, errno "
		      "kept: ret %d errno %s", advice_by_value(ok_advice[i])->name,
		      r, ename(e));
	}
	static const struct {
		const char *what;
		int off, advice, err;
		bool shared, unmapped;
	} bad[] = {
		{ "unaligned start", 1, MADV_DONTNEED, EINVAL, false, false },
		{ "unknown advice 99", 0, 99, EINVAL, false, false },
		{ "unmapped range", 0, MADV_DONTNEED, ENOMEM, false, true },
		{ "FREE on shared", 0, MADV_FREE, EINVAL, true, false },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *a = bad[i].unmapped ? hole : bad[i].shared ? sh : p;
		errno = SENTINEL_ERRNO;
		int r = madvise(a + bad[i].off, pg, bad[i].advice);
		int e = errno;
		check(r == -1 && e == bad[i].err, "madvise %s fails, errno is the "
		      "error: ret %d errno %s", bad[i].what, r, ename(e));
	}

	errno = SENTINEL_ERRNO;
	int r = posix_madvise(p, pg, POSIX_MADV_WILLNEED);
	int e = errno;
	check(r == 0 && e == SENTINEL_ERRNO, "posix_madvise WILLNEED: ret %d, "
	      "errno kept (%s)", r, ename(e));
	errno = SENTINEL_ERRNO;
	r = posix_madvise(p + 1, pg, POSIX_MADV_WILLNEED);
	e = errno;
	check(r == EINVAL && e == SENTINEL_ERRNO, "posix_madvise unaligned: "
	      "returns %s, errno kept (%s)", ename(r), ename(e));

	int fd = make_file(2);
	errno = SENTINEL_ERRNO;
	r = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	e = errno;
	check(r == 0 && e == SENTINEL_ERRNO, "posix_fadvise SEQUENTIAL: ret %d, "
	      "errno kept (%s)", r, ename(e));
	errno = SENTINEL_ERRNO;
	r = posix_fadvise(fd, 0, 0, 99);
	e = errno;
	check(r == EINVAL && e == SENTINEL_ERRNO, "posix_fadvise bad advice: "
	      "returns %s, errno kept (%s)", ename(r), ename(e));
	close(fd);

	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		setup_failed("pidfd_open");
	struct iovec iov = { p, 2 * pg };
	errno = SENTINEL_ERRNO;
	ssize_t n = process_madvise(pidfd, &iov, 1, MADV_COLD, 0);
	e = errno;
	check(n == (ssize_t)(2 * pg) && e == SENTINEL_ERRNO, "process_madvise "
	      "COLD: ret %zd, errno kept (%s)", n, ename(e));
	errno = SENTINEL_ERRNO;
	n = process_madvise(pidfd, &iov, 1, MADV_COLD, 1);
	e = errno;
	check(n == -1 && e == EINVAL, "process_madvise flags 1: ret %zd errno %s",
	      n, ename(e));
	close(pidfd);
}

static void sc_posix_madvise(void)
{
	char *p = map_anon(4);
	char *hole = map_anon(1);
	munmap(hole, pg);
	int saved;

#define PM(what, call, want) do {                                            \
		errno = SENTINEL_ERRNO;                                       \
		int r_ = (call);                                              \
		saved = errno;                                                \
		expect_errnum("posix_madvise " what, r_, (want));             \
		check(saved == SENTINEL_ERRNO, "posix_madvise " what          \
		      ": errno %s%s", saved == SENTINEL_ERRNO ? "untouched" : \
		      "changed to ", saved == SENTINEL_ERRNO ? "" : ename(saved)); \
	} while (0)

	PM("DONTNEED on written memory", posix_madvise(p, 4 * pg, POSIX_MADV_DONTNEED), 0);
	expect_states("POSIX_MADV_DONTNEED kept the contents", p, "oooo");
	PM("DONTNEED unaligned", posix_madvise(p + 1, pg, POSIX_MADV_DONTNEED), 0);
	PM("DONTNEED unmapped", posix_madvise(hole, pg, POSIX_MADV_DONTNEED), 0);
	expect_states("contents still kept", p, "oooo");
	PM("NORMAL", posix_madvise(p, 4 * pg, POSIX_MADV_NORMAL), 0);
	PM("RANDOM", posix_madvise(p, 4 * pg, POSIX_MADV_RANDOM), 0);
	PM("SEQUENTIAL", posix_madvise(p, 4 * pg, POSIX_MADV_SEQUENTIAL), 0);
	PM("WILLNEED", posix_madvise(p, 4 * pg, POSIX_MADV_WILLNEED), 0);
	expect_states("hints kept the contents", p, "oooo");
	PM("WILLNEED unaligned", posix_madvise(p + 1, pg, POSIX_MADV_WILLNEED), EINVAL);
	PM("WILLNEED unmapped", posix_madvise(hole, pg, POSIX_MADV_WILLNEED), ENOMEM);
	PM("bad advice 99", posix_madvise(p, pg, 99), EINVAL);
	PM("bad advice -1", posix_madvise(p, pg, -1), EINVAL);
#undef PM
}

static void sc_fadvise(void)
{
	int fd = make_file(8);
	int pfd[2], sv[2];
	if (pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		setup_failed("pipe/socketpair");
	int dir = open(getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
		       : "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int opath = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dir < 0 || opath < 0 || null < 0)
		setup_failed("open");
	int closed = 900;
	while (fcntl(closed, F_GETFD) != -1)
		closed++;

	static const struct { const char *name; int v; } hints[] = {
		{ "NORMAL", POSIX_FADV_NORMAL }, { "RANDOM", POSIX_FADV_RANDOM },
		{ "SEQUENTIAL", POSIX_FADV_SEQUENTIAL },
		{ "WILLNEED", POSIX_FADV_WILLNEED },
		{ "DONTNEED", POSIX_FADV_DONTNEED }, { "NOREUSE", POSIX_FADV_NOREUSE },
	};
	char what[128];
	int e;
#define FA(call, want) do {                                                  \
		errno = SENTINEL_ERRNO;                                       \
		int r_ = (call);                                              \
		e = errno;                                                    \
		expect_errnum(what, r_, (want));                              \
		if (e != SENTINEL_ERRNO)                                      \
			check(false, "%s: errno changed to %s", what, ename(e)); \
	} while (0)
	for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		snprintf(what, sizeof what, "regular file, whole, %s", hints[i].name);
		FA(posix_fadvise(fd, 0, 0, hints[i].v), 0);
		snprintf(what, sizeof what, "regular file, 4096+8192, %s", hints[i].name);
		FA(posix_fadvise(fd, 4096, 8192, hints[i].v), 0);
		snprintf(what, sizeof what, "posix_fadvise64 regular file, %s", hints[i].name);
		FA(posix_fadvise64(fd, 0, 0, hints[i].v), 0);
	}
	snprintf(what, sizeof what, "regular file, range past EOF, DONTNEED");
	FA(posix_fadvise(fd, 1 << 30, 4096, POSIX_FADV_DONTNEED), 0);
	snprintf(what, sizeof what, "regular file, negative offset, NORMAL");
	FA(posix_fadvise(fd, -4096, 4096, POSIX_FADV_NORMAL), 0);
	snprintf(what, sizeof what, "regular file, advice 99");
	FA(posix_fadvise(fd, 0, 0, 99), EINVAL);
	snprintf(what, sizeof what, "regular file, advice 6");
	FA(posix_fadvise(fd, 0, 0, 6), EINVAL);
	snprintf(what, sizeof what, "regular file, advice -1");
	FA(posix_fadvise(fd, 0, 0, -1), EINVAL);
	snprintf(what, sizeof what, "regular file, len -1");
	FA(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL), EINVAL);
	snprintf(what, sizeof what, "regular file, len -4096, WILLNEED");
	FA(posix_fadvise(fd, 4096, -4096, POSIX_FADV_WILLNEED), EINVAL);
	snprintf(what, sizeof what, "posix_fadvise64 regular file, len -1");
	FA(posix_fadvise64(fd, 0, -1, POSIX_FADV_NORMAL), EINVAL);
	snprintf(what, sizeof what, "regular file, len -1 and advice 99");
	FA(posix_fadvise(fd, 0, -1, 99), EINVAL);
	snprintf(what, sizeof what, "closed fd");
	FA(posix_fadvise(closed, 0, 0, POSIX_FADV_NORMAL), EBADF);
	snprintf(what, sizeof what, "closed fd, advice 99");
	FA(posix_fadvise(closed, 0, 0, 99), EBADF);
	snprintf(what, sizeof what, "closed fd, len -1");
	FA(posix_fadvise(closed, 0, -1, POSIX_FADV_NORMAL), EBADF);
	snprintf(what, sizeof what, "fd -1");
	FA(posix_fadvise(-1, 0, 0, POSIX_FADV_WILLNEED), EBADF);
	snprintf(what, sizeof what, "O_PATH fd");
	FA(posix_fadvise(opath, 0, 0, POSIX_FADV_NORMAL), EBADF);
	snprintf(what, sizeof what, "pipe read end");
	FA(posix_fadvise(pfd[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);
	snprintf(what, sizeof what, "pipe write end, WILLNEED");
	FA(posix_fadvise(pfd[1], 0, 0, POSIX_FADV_WILLNEED), ESPIPE);
	snprintf(what, sizeof what, "pipe, advice 99");
	FA(posix_fadvise(pfd[0], 0, 0, 99), ESPIPE);
	snprintf(what, sizeof what, "pipe, len -1");
	FA(posix_fadvise(pfd[0], 0, -1, POSIX_FADV_NORMAL), ESPIPE);
	snprintf(what, sizeof what, "socket");
	FA(posix_fadvise(sv[0], 0, 0, POSIX_FADV_NORMAL), 0);
	snprintf(what, sizeof what, "directory, WILLNEED");
	FA(posix_fadvise(dir, 0, 0, POSIX_FADV_WILLNEED), 0);
	snprintf(what, sizeof what, "/dev/null");
	FA(posix_fadvise(null, 0, 0, POSIX_FADV_NORMAL), 0);
#undef FA
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
	close(dir);
	close(opath);
	close(null);
}

static void sc_process_madvise(void)
{
	/* Area: a 2-page mapping, a hole, a 3-page mapping. */
	char *p = map_anon(6);
	if (munmap(p + 2 * pg, pg))
		setup_failed("munmap");
	char *a = p, *b = p + 3 * pg, *hole = p + 2 * pg;
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		setup_failed("pidfd_open");
	int filefd = make_file(1);
	int closed = 900;
	while (fcntl(closed, F_GETFD) != -1)
		closed++;

	struct iovec two[2] = { { a, 2 * pg }, { b, 3 * pg } };
	struct iovec second_hole[2] = { { a, 2 * pg }, { hole, pg } };
	struct iovec first_hole[2] = { { hole, pg }, { b, 3 * pg } };
	struct iovec first_unaligned[2] = { { a + 1, pg }, { b, pg } };
	struct iovec second_unaligned[2] = { { a, pg }, { b + 1, pg } };
	struct iovec empty_first[2] = { { a, 0 }, { b, 3 * pg } };
	long total = (long)(5 * pg);
	ssize_t n;
	int e;
#define PMV(what, fd, iov, cnt, adv, flags, want, werr) do {                 \
		errno = 0;                                                    \
		n = process_madvise((fd), (iov), (cnt), (adv), (flags));      \
		e = errno;                                                    \
		expect_call("process_madvise " what, n, e, (want), (werr));   \
	} while (0)
	PMV("COLD, 2 iovecs", pidfd, two, 2, MADV_COLD, 0, total, 0);
	PMV("WILLNEED, 2 iovecs", pidfd, two, 2, MADV_WILLNEED, 0, total, 0);
	PMV("PAGEOUT, 2 iovecs", pidfd, two, 2, MADV_PAGEOUT, 0, total, 0);
	PMV("COLD, 1 iovec", pidfd, two, 1, MADV_COLD, 0, (long)(2 * pg), 0);
	PMV("COLD, flags 1", pidfd, two, 2, MADV_COLD, 1, -1, EINVAL);
	PMV("COLD, flags ~0", pidfd, two, 2, MADV_COLD, ~0u, -1, EINVAL);
	PMV("advice 99", pidfd, two, 2, 99, 0, -1, EINVAL);
	PMV("COLD, 0 iovecs", pidfd, two, 0, MADV_COLD, 0, 0, 0);
	PMV("COLD, more than IOV_MAX iovecs", pidfd, two, IOV_MAX + 1, MADV_COLD,
	    0, -1, EINVAL);
	PMV("COLD, second iovec unmapped: bytes done before it", pidfd,
	    second_hole, 2, MADV_COLD, 0, (long)(2 * pg), 0);
	PMV("COLD, first iovec unmapped", pidfd, first_hole, 2, MADV_COLD, 0,
	    -1, ENOMEM);
	PMV("COLD, first iovec unaligned", pidfd, first_unaligned, 2, MADV_COLD,
	    0, -1, EINVAL);
	PMV("COLD, second iovec unaligned: bytes done before it", pidfd,
	    second_unaligned, 2, MADV_COLD, 0, (long)pg, 0);
	PMV("COLD, empty first iovec", pidfd, empty_first, 2, MADV_COLD, 0,
	    (long)(3 * pg), 0);
	PMV("COLD on a regular file's fd", filefd, two, 2, MADV_COLD, 0, -1, EBADF);
	PMV("COLD on a closed fd", closed, two, 2, MADV_COLD, 0, -1, EBADF);
	expect_states("hints kept the contents", p, "oo-ooo");
	/* Last: an emulation that follows the pointer crashes here. */
	PMV("COLD, NULL iovec array", pidfd, NULL, 2, MADV_COLD, 0, -1, EFAULT);
#undef PMV
	close(filefd);
	close(pidfd);
}

static void sc_repeat(int advice, const char *name, long count)
{
	char *p = map_anon(1);
	long good = 0;
	int first_err = 0;
	for (long i = 0; i < count; i++) {
		int err;
		if (madv(p, pg, advice, &err) == 0)
			good++;
		else if (!first_err)
			first_err = err;
	}
	check(good == count, "madvise(%s) %ld times: %ld returned 0%s%s", name,
	      count, good, first_err ? ", first error " : "",
	      first_err ? ename(first_err) : "");
	char want[2] = { leaves(advice), 0 };
	expect_states("contents", p, want);
}

static void sc_hints(void)
{
	static const char *const names[] = {
		"NORMAL", "RANDOM", "SEQUENTIAL", "WILLNEED", "COLD", "PAGEOUT",
		"DODUMP", "DONTDUMP", "NOHUGEPAGE", "HUGEPAGE", "MERGEABLE",
		"UNMERGEABLE",
	};
	char *p = map_anon(4);
	/* mapped, mapped, hole, mapped */
	char *h = map_anon(4);
	munmap(h + 2 * pg, pg);
	int fd = make_file(4);
	char *f = map_fixed_or_any(4, PROT_READ, MAP_SHARED, fd, 0);
	char what[128];
	int err, r;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int adv = advice_value(names[i]);
		const struct advice_info *info = advice_by_value(adv);
		/* THP and KSM hints are EINVAL on kernels built without them,
		 * and only there: such a kernel has no sysfs directory for
		 * them either. */
		bool absent = (info->emulation == EMU_THP && access(THP_SYSFS, F_OK)) ||
			      (info->emulation == EMU_KSM && access("/sys/kernel/mm/ksm", F_OK));
		r = madv(p, 4 * pg, adv, &err);
		snprintf(what, sizeof what, "%s on mapped anonymous memory%s", names[i],
			 absent ? " (not configured)" : "");
		expect_call(what, r, err, absent ? -1 : 0, absent ? EINVAL : 0);
		r = madv(f, 4 * pg, adv, &err);
		snprintf(what, sizeof what, "%s on a shared file mapping%s", names[i],
			 absent ? " (not configured)" : "");
		expect_call(what, r, err, absent ? -1 : 0, absent ? EINVAL : 0);
		r = madv(h + 2 * pg, pg, adv, &err);
		snprintf(what, sizeof what, "%s on an unmapped page", names[i]);
		expect_call(what, r, err, -1, absent ? EINVAL : ENOMEM);
		r = madv(h, 4 * pg, adv, &err);
		snprintf(what, sizeof what, "%s on a range with a hole", names[i]);
		expect_call(what, r, err, -1, absent ? EINVAL : ENOMEM);
	}
	expect_states("contents after every hint", p, "oooo");
	expect_states("contents of the range with a hole", h, "oo-o");
	expect_states("file mapping", f, "ffff");
	close(fd);
}

static void sc_probe(void)
{
	int err, r;
	char *p = map_anon(2);
	int fd = make_file(2);
	char *f = map_fixed_or_any(2, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *sh = map_fixed_or_any(2, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(sh, 0, 2);
	char want[2] = { leaves(MADV_FREE), 0 };

	if (valid_first) {
		r = madv(p, pg, MADV_FREE, &err);
		expect_call("FREE on a valid anonymous page (first call)", r, err, 0, 0);
		expect_states("its contents", p, want);
	}
	r = madv(p + 1, pg, MADV_FREE, &err);
	expect_call("FREE at an unaligned address", r, err, -1, EINVAL);
	r = madv(f, pg, MADV_FREE, &err);
	expect_call("FREE on a private file mapping", r, err, -1, EINVAL);
	expect_states("its contents", f, "f");
	r = madv(sh, pg, MADV_FREE, &err);
	expect_call("FREE on shared anonymous memory", r, err, -1, EINVAL);
	expect_states("its contents", sh, "o");
	r = madv(p + pg, pg, MADV_FREE, &err);
	expect_call("FREE on a valid anonymous page", r, err, 0, 0);
	char both[3] = { valid_first ? want[0] : 'o', want[0], 0 };
	expect_states("that page's contents, the other's as before", p, both);
	r = madv(p, 2 * pg, MADV_FREE, &err);
	expect_call("FREE again on both pages", r, err, 0, 0);
	r = madv(p + 1, pg, MADV_FREE, &err);
	expect_call("FREE at an unaligned address again", r, err, -1, EINVAL);
	if (mlock(p, pg))
		setup_failed("mlock");
	r = madv(p, pg, MADV_DONTNEED, &err);
	expect_call("DONTNEED on an mlocked page", r, err, -1, EINVAL);
	close(fd);
}

/* Not a check: what madvise returns and leaves, for the bats file to read. */
static void sc_raw(int advice, const char *name)
{
	char *p = map_anon(1);
	int err;
	int r = madv(p, pg, advice, &err);
	char s[2];
	states(p, 1, s);
	printf("raw %s %d %s %s\n", name, r, ename(err), s);
}

/* MAP_NORESERVE lives in the mapping, not in its pages: an emulation that
 * replaced the range with a plain mapping would drop it (and change how the
 * memory is accounted under overcommit_memory=2). */
static void sc_noreserve(void)
{
	int err;
	char *p = map_fixed_or_any(8, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	fill(p, 0, 8);
	check(smaps_has_flag(p + 3 * pg, "nr"), "MAP_NORESERVE mapping shows VmFlags nr");
	int r = madv(p + 2 * pg, 4 * pg, MADV_DONTNEED, &err);
	expect_call("madvise(pages 2-5 of a NORESERVE mapping, DONTNEED)", r, err, 0, 0);
	expect_states("contents after it", p, "oozzzzoo");
	check(smaps_has_flag(p + 3 * pg, "nr"), "advised pages still have VmFlags nr");
	check(smaps_has_flag(p, "nr"), "the pages before them still have VmFlags nr");
}

/* A forked child has its own address space: whatever the parent used to find
 * mappings (an open /proc/self/maps for PROCMAP_QUERY) must describe the
 * child's, or the child's madvise would act on the parent's layout. */
static void sc_fork(int advice, const char *name)
{
	int err;
	char *p = map_anon(4);
	fill(p, 0, 4);
	int r = madv(p, pg, advice, &err);
	expect_call("parent: madvise(page 0)", r, err, 0, 0);
	pid_t child = fork();
	if (child < 0)
		setup_failed("fork");
	if (child == 0) {
		/* The parent's mapping goes away here and a new one, which the
		 * parent never had, takes its place. */
		munmap(p, 4 * pg);
		char *c = map_fixed_or_any(4, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		fill(c, 0, 4);
		int e;
		int cr = madv(c + pg, 2 * pg, advice, &e);
		char got[8];
		states(c, 4, got);
		bool ok = cr == 0 && (must_zero ? !strcmp(got, "ozzo") :
				      (got[0] == 'o' && got[3] == 'o'));
		if (!ok)
			fprintf(stderr, "child: madvise(%s) = %d (%s), contents %s\n",
				name, cr, ename(e), got);
		_exit(ok ? 0 : 1);
	}
	int status;
	if (waitpid(child, &status, 0) != child)
		setup_failed("waitpid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child: madvise(%s) on its own new mapping works%s", name,
	      must_zero ? " and zeroes it" : "");
	r = madv(p + 2 * pg, pg, advice, &err);
	expect_call("parent after the child: madvise(page 2)", r, err, 0, 0);
}

/* DONTNEED_LOCKED empties locked memory and leaves it locked. */
static void sc_dontneed_locked(void)
{
	int err;
	char *p = map_anon(4);
	fill(p, 0, 4);
	if (mlock(p, 4 * pg))
		setup_failed("mlock");
	long lck0 = status_kb("VmLck");
	int r = madv(p + pg, 2 * pg, MADV_DONTNEED_LOCKED, &err);
	expect_call("madvise(pages 1-2 of 4 mlocked, DONTNEED_LOCKED)", r, err, 0, 0);
	expect_states("emptied in the middle", p, "ozzo");
	check(smaps_has_flag(p, "lo") && smaps_has_flag(p + pg, "lo") &&
	      smaps_has_flag(p + 3 * pg, "lo"), "every page still locked (VmFlags lo)");
	check(status_kb("VmLck") == lck0, "VmLck unchanged");
	char *q = map_anon(2);
	fill(q, 0, 2);
	r = madv(q, 2 * pg, MADV_DONTNEED_LOCKED, &err);
	expect_call("madvise(unlocked, DONTNEED_LOCKED)", r, err, 0, 0);
	expect_states("emptied", q, "zz");
	check(!smaps_has_flag(q, "lo"), "not locked by it");
}

/* MADV_REMOVE punches a hole in the backing file of a shared mapping. */
static void sc_remove(void)
{
	int err;
	int fd = make_file(4);
	char *s = map_fixed_or_any(4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int r = madv(s + pg, 2 * pg, MADV_REMOVE, &err);
	expect_call("madvise(pages 1-2 of a shared file mapping, REMOVE)", r, err, 0, 0);
	expect_states("the hole reads zero through the mapping", s, "fzzf");
	check(file_at(fd, 1) == 0 && file_at(fd, 2) == 0 && file_at(fd, 3) == file_byte(3),
	      "the file has the hole, the rest is intact");

	char *p = map_fixed_or_any(4, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	r = madv(p, pg, MADV_REMOVE, &err);
	expect_call("madvise(private file mapping, REMOVE)", r, err, -1, EACCES);
	char *a = map_anon(2);
	r = madv(a, pg, MADV_REMOVE, &err);
	expect_call("madvise(private anonymous, REMOVE)", r, err, -1, EINVAL);

	int ro = open_file_again(fd, O_RDONLY);
	char *sr = map_fixed_or_any(2, PROT_READ, MAP_SHARED, ro, 0);
	r = madv(sr, pg, MADV_REMOVE, &err);
	expect_call("madvise(shared mapping of a read-only descriptor, REMOVE)", r, err,
		    -1, EACCES);
	close(ro);

	int m = memfd_create("remove", 0);
	if (m < 0 || ftruncate(m, (off_t)(2 * pg)))
		setup_failed("memfd");
	char *mm = map_fixed_or_any(2, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	memset(mm, 'M', 2 * pg);
	r = madv(mm, pg, MADV_REMOVE, &err);
	expect_call("madvise(memfd mapping, REMOVE)", r, err, 0, 0);
	check(mm[0] == 0 && mm[pg] == 'M', "memfd: first page zero, second kept");
	close(m);
	close(fd);
}

struct writer {
	unsigned *counter;
	unsigned rounds;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	for (unsigned i = 0; i < w->rounds; i++)
		__atomic_fetch_add(w->counter, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* POPULATE_WRITE changes no byte, even while other threads write: every
 * increment they made is still there afterwards. */
static void sc_populate(void)
{
	enum { PAGES = 8, ROUNDS = 200000 };
	int err;
	char *p = map_anon(PAGES);
	memset(p, 0, PAGES * pg);
	pthread_t t[PAGES];
	struct writer w[PAGES];
	for (int i = 0; i < PAGES; i++) {
		w[i] = (struct writer){ (unsigned *)(p + (size_t)i * pg), ROUNDS };
		if (pthread_create(&t[i], NULL, writer_main, &w[i]))
			setup_failed("pthread_create");
	}
	int failures = 0;
	for (int k = 0; k < 200; k++)
		if (madv(p, PAGES * pg, MADV_POPULATE_WRITE, &err) != 0)
			failures++;
	for (int i = 0; i < PAGES; i++)
		pthread_join(t[i], NULL);
	check(failures == 0, "200 x madvise(POPULATE_WRITE) while 8 threads write: all 0");
	bool all = true;
	for (int i = 0; i < PAGES; i++)
		all &= *(unsigned *)(p + (size_t)i * pg) == ROUNDS;
	check(all, "every one of 8 x %u increments is still there", (unsigned)ROUNDS);

	char *q = map_anon(4);
	fill(q, 0, 4);
	int r = madv(q, 4 * pg, MADV_POPULATE_READ, &err);
	expect_call("madvise(written pages, POPULATE_READ)", r, err, 0, 0);
	expect_states("unchanged", q, "oooo");
	check(resident_pages(q, 4) == 4, "resident");

	char *n = map_fixed_or_any(2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = madv(n, pg, MADV_POPULATE_READ, &err);
	expect_call("madvise(PROT_NONE, POPULATE_READ)", r, err, -1, EINVAL);
	char *ro = map_fixed_or_any(2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = madv(ro, pg, MADV_POPULATE_WRITE, &err);
	expect_call("madvise(read-only, POPULATE_WRITE)", r, err, -1, EINVAL);

	/* a shared file mapping that runs past the end of its file */
	int fd = make_file(1);
	char *f = map_fixed_or_any(3, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = madv(f, 3 * pg, MADV_POPULATE_READ, &err);
	expect_call("madvise(past the end of the file, POPULATE_READ)", r, err, -1, EFAULT);
	r = madv(f, 3 * pg, MADV_POPULATE_WRITE, &err);
	expect_call("madvise(past the end of the file, POPULATE_WRITE)", r, err, -1, EFAULT);
	check(file_at(fd, 0) == file_byte(0), "the file is unchanged");
	close(fd);
}

/* Guard pages fault on access; removing them gives empty pages back. */
static void sc_guard(void)
{
	int err;
	char *p = map_anon(4);
	fill(p, 0, 4);
	int r = madv(p + pg, 2 * pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(pages 1-2 of 4, GUARD_INSTALL)", r, err, 0, 0);
	expect_fault("read of a guard page", p + pg, false);
	check(p[0] == (char)orig_byte(0) && p[3 * pg] == (char)orig_byte(3),
	      "pages around the guard keep their data");
	r = madv(p, 4 * pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(all 4, GUARD_REMOVE)", r, err, 0, 0);
	expect_states("guard pages come back empty, the others untouched", p, "ozzo");
	memset(p + pg, 'W', pg);
	check(p[pg] == 'W', "a former guard page is writable again");

	char *l = map_anon(2);
	if (mlock(l, 2 * pg))
		setup_failed("mlock");
	r = madv(l, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(mlocked, GUARD_INSTALL)", r, err, -1, EINVAL);
}

/* How a read (or write) of each of the pages at p ends, one letter per page
 * of want: 's' SIGSEGV, 'a' no fault. */
static void expect_access(const char *what, char *p, const char *want, bool write)
{
	char got[256], buf[512];
	size_t n = strlen(want);
	if (n >= sizeof got)
		setup_failed("expect_access: %zu pages", n);
	for (size_t i = 0; i < n; i++) {
		const char *how = child_access(p + i * pg, write);
		got[i] = !strcmp(how, "SIGSEGV") ? 's' : !strcmp(how, "no fault") ? 'a' : 'x';
	}
	got[n] = '\0';
	bool ok = !strcmp(got, want);
	check(ok, "%s: %s %s", what, write ? "writes" : "reads",
	      show(ok ? got : want, buf, sizeof buf));
	if (!ok)
		fprintf(stderr, "     got %s (s SIGSEGV, a no fault, x other)\n",
			show(got, buf, sizeof buf));
}

/* More guard parts than the shim once handled in one go (16): each stays a
 * guard through mprotect and mremap, and GUARD_REMOVE gives each back with
 * the protection last set. */
#define GUARD_MANY 40
/* mprotect that must succeed and, as every successful call, leave errno as
 * it was (the shim's own lookups under it must not show). */
static void expect_mprotect_ok(const char *what, void *addr, size_t len, int prot)
{
	errno = SENTINEL_ERRNO;
	int r = mprotect(addr, len, prot);
	int e = errno;
	bool ok = r == 0 && e == SENTINEL_ERRNO;
	check(ok, "%s: %s0, errno untouched", what, ok ? "" : "expected ");
	if (!ok)
		fprintf(stderr, "     got %d, errno %s\n", r, ename(e));
}

static void sc_guard_many(void)
{
	int err;
	char faults[GUARD_MANY + 1], alternate[GUARD_MANY + 1], zero[GUARD_MANY + 1];
	memset(faults, 's', GUARD_MANY);
	memset(zero, 'z', GUARD_MANY);
	for (size_t i = 0; i < GUARD_MANY; i++)
		alternate[i] = i % 2 ? 'a' : 's';
	faults[GUARD_MANY] = alternate[GUARD_MANY] = zero[GUARD_MANY] = '\0';
	size_t len = GUARD_MANY * pg;

	/* a protection per page, so that no two parts of the guard are alike */
	char *p = map_anon(GUARD_MANY);
	for (size_t i = 0; i < GUARD_MANY; i += 2)
		if (mprotect(p + i * pg, pg, PROT_READ))
			setup_failed("mprotect");
	int r = madv(p, len, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(40 pages, r and rw in turn, GUARD_INSTALL)", r, err, 0, 0);
	expect_mprotect_ok("mprotect(all 40, PROT_READ)", p, len, PROT_READ);
	expect_access("after mprotect, every guard page", p, faults, false);
	r = madv(p, len, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(all 40, GUARD_REMOVE)", r, err, 0, 0);
	expect_states("every page comes back empty", p, zero);
	expect_access("every page has mprotect's PROT_READ", p, faults, true);

	/* a guard on every other page of PROT_NONE memory: one mapping, which
	 * mremap can move, with 20 parts */
	char *q = map_fixed_or_any(GUARD_MANY, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = map_fixed_or_any(GUARD_MANY, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < GUARD_MANY; i += 2)
		if (madv(q + i * pg, pg, MADV_GUARD_INSTALL, &err))
			setup_failed("GUARD_INSTALL page %zu", i);
	char *m = mremap(q, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	check(m == dst, "mremap moves the 40 pages: %s", m == dst ? "yes" : strerror(errno));
	if (m != dst)
		return;
	expect_mprotect_ok("mprotect(all 40 moved, PROT_READ|PROT_WRITE)", m, len, PROT_READ | PROT_WRITE);
	expect_access("after mremap and mprotect, the guard pages", m, alternate, false);
	r = madv(m, len, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(all 40 moved, GUARD_REMOVE)", r, err, 0, 0);
	memset(faults, 'a', GUARD_MANY);
	expect_access("every moved page is writable", m, faults, true);
	expect_states("every moved page is empty", m, zero);

	/* mprotect with PROT_GROWSDOWN reaches down to the start of the
	 * mapping, over a guard far below the pages named */
	char *g = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	if (g == MAP_FAILED)
		setup_failed("mmap(MAP_GROWSDOWN)");
	r = madv(g + pg, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(page 1 of a MAP_GROWSDOWN mapping, GUARD_INSTALL)", r, err, 0, 0);
	expect_mprotect_ok("mprotect(page 6, PROT_READ|PROT_GROWSDOWN)", g + 6 * pg, pg, PROT_READ | PROT_GROWSDOWN);
	expect_access("pages 0 to 6, the guard at 1", g, "asaaaaa", false);
	r = madv(g + pg, pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(page 1, GUARD_REMOVE)", r, err, 0, 0);
	expect_access("page 1 has PROT_READ, not more", g + pg, "a", false);
	expect_access("page 1 is not writable", g + pg, "s", true);

	/* one GUARD_INSTALL over 20 guard parts and the 20 pages between, in
	 * one PROT_NONE mapping */
	char *h = map_fixed_or_any(GUARD_MANY, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < GUARD_MANY; i += 2)
		if (madv(h + i * pg, pg, MADV_GUARD_INSTALL, &err))
			setup_failed("GUARD_INSTALL page %zu", i);
	r = madv(h, len, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(40 PROT_NONE pages, 20 of them guards, GUARD_INSTALL)", r, err, 0, 0);
	expect_mprotect_ok("mprotect(all 40, PROT_READ|PROT_WRITE)", h, len, PROT_READ | PROT_WRITE);
	memset(faults, 's', GUARD_MANY);
	expect_access("every page is a guard", h, faults, false);
	r = madv(h, len, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(all 40, GUARD_REMOVE)", r, err, 0, 0);
	memset(faults, 'a', GUARD_MANY);
	expect_access("every page is writable", h, faults, true);

	/* mprotect from a guard on: the kernel's checks for the guard's
	 * mapping (write to a read-only file), and the parts before a hole
	 * changed as the kernel leaves them */
	int fd = make_file(2);
	int rd = open_file_again(fd, O_RDONLY);
	char *f = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, rd, 0);
	if (f == MAP_FAILED)
		setup_failed("mmap(read-only file, MAP_SHARED)");
	r = madv(f, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(page 0 of a read-only shared file, GUARD_INSTALL)", r, err, 0, 0);
	errno = 0;
	r = mprotect(f, 2 * pg, PROT_READ | PROT_WRITE);
	expect_call("mprotect(from the guard, PROT_READ|PROT_WRITE)", r, errno, -1, EACCES);
	r = madv(f, pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(page 0, GUARD_REMOVE)", r, err, 0, 0);
	expect_access("the file's pages are readable", f, "aa", false);
	expect_access("and still not writable", f, "ss", true);
	check(f[0] == (char)file_byte(0), "the file's data is back after the guard");
	munmap(f, 2 * pg);
	close(rd);
	close(fd);

	char *k = map_anon(3);
	munmap(k + 2 * pg, pg);
	r = madv(k, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(page 0 of 3, GUARD_INSTALL)", r, err, 0, 0);
	errno = 0;
	r = mprotect(k, 3 * pg, PROT_READ);
	expect_call("mprotect(guard, page, hole; PROT_READ)", r, errno, -1, ENOMEM);
	r = madv(k, pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(page 0, GUARD_REMOVE)", r, err, 0, 0);
	expect_access("pages 0 and 1 took PROT_READ before the hole", k, "ss", true);
	expect_access("and are readable", k, "aa", false);
}

/* Every descriptor the process may open, taken: the soft limit lowered and
 * /dev/null opened until open fails with EMFILE; then given back. */
#define NOFD_MAX 64
static int nofd_held[NOFD_MAX];
static int nofd_count;
static struct rlimit nofd_limit;

static void take_every_fd(void)
{
	if (getrlimit(RLIMIT_NOFILE, &nofd_limit))
		setup_failed("getrlimit(RLIMIT_NOFILE)");
	struct rlimit low = nofd_limit;
	low.rlim_cur = NOFD_MAX / 2;
	if (setrlimit(RLIMIT_NOFILE, &low))
		setup_failed("setrlimit(RLIMIT_NOFILE, %d)", NOFD_MAX / 2);
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != EMFILE)
				setup_failed("open(/dev/null)");
			return;
		}
		if (nofd_count == NOFD_MAX)
			setup_failed("open(/dev/null) %d times and no EMFILE", NOFD_MAX);
		nofd_held[nofd_count++] = fd;
	}
}

static void give_back_fds(void)
{
	while (nofd_count)
		close(nofd_held[--nofd_count]);
	if (setrlimit(RLIMIT_NOFILE, &nofd_limit))
		setup_failed("setrlimit(RLIMIT_NOFILE) back");
}

/* mprotect over emulated guards when the shim cannot look the mapping up:
 * every descriptor is taken, and the lookup needs one for /proc/self/maps
 * (MADVISE_SHIM_LOOKUP=maps, or a kernel without PROCMAP_QUERY) or smaps
 * (the access a guard's mapping may take).  The shim cannot tell then how
 * far PROT_GROWSDOWN reaches, nor whether the kernel would refuse the
 * access: the call fails with ENOMEM, the kernel's error when it lacks the
 * resources, with no guard page opened and no record changed.  For the
 * shim's emulation only: the native kernel needs no lookup. */
static void sc_guard_nofd(void)
{
	int err;
	char *g = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	if (g == MAP_FAILED)
		setup_failed("mmap(MAP_GROWSDOWN)");
	int r = madv(g + pg, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(page 1 of a PROT_NONE MAP_GROWSDOWN mapping, GUARD_INSTALL)", r, err,
		    0, 0);
	char *k = map_anon(3);
	r = madv(k + pg, pg, MADV_GUARD_INSTALL, &err);
	expect_call("madvise(page 1 of 3 read-write pages, GUARD_INSTALL)", r, err, 0, 0);

	take_every_fd();
	errno = 0;
	int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(spare < 0 && errno == EMFILE, "every descriptor taken (%d more opened): open "
	      "fails with EMFILE", nofd_count);
	errno = 0;
	r = mprotect(g + 6 * pg, pg, PROT_READ | PROT_GROWSDOWN);
	expect_call("no descriptor free: mprotect(page 6, PROT_READ|PROT_GROWSDOWN)", r, errno, -1,
		    ENOMEM);
	expect_access("nothing changed: all 8 pages, the guard at 1", g, "ssssssss", false);
	errno = 0;
	r = mprotect(k, 3 * pg, PROT_READ);
	expect_call("no descriptor free: mprotect(page, guard, page; PROT_READ)", r, errno, -1,
		    ENOMEM);
	expect_access("page 0 took PROT_READ before the guard, page 2 was not reached", k, "ssa",
		      true);
	expect_access("and the guard faults", k, "asa", false);
	give_back_fds();

	/* with descriptors again, each call does what the kernel's does, and
	 * the records still hold the protection each guard had */
	expect_mprotect_ok("mprotect(page 6, PROT_READ|PROT_GROWSDOWN)", g + 6 * pg, pg, PROT_READ | PROT_GROWSDOWN);
	expect_access("pages 0 to 6 readable but the guard at 1, page 7 not reached", g,
		      "asaaaaas", false);
	r = madv(g + pg, pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(page 1, GUARD_REMOVE)", r, err, 0, 0);
	expect_access("page 1 has PROT_READ, not more", g + pg, "a", false);
	expect_access("page 1 is not writable", g + pg, "s", true);
	r = madv(k, 3 * pg, MADV_GUARD_REMOVE, &err);
	expect_call("madvise(all 3 read-write pages, GUARD_REMOVE)", r, err, 0, 0);
	expect_access("the guard gives back read-write, page 0 keeps PROT_READ", k, "saa", true);
	expect_states("the guard page comes back empty, the others untouched", k, "ozo");
}

struct caller {
	char *base;
	int advice;
	long calls;
	int failures;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	for (long i = 0; i < c->calls; i++) {
		int err;
		c->base[(size_t)(i % 4) * pg] = 1;
		if (madv(c->base + (size_t)(i % 4) * pg, pg, c->advice, &err) != 0)
			c->failures++;
	}
	return NULL;
}

/* THREADS threads each advise their own pages CALLS times. */
static void sc_threads(int advice, const char *name, long calls)
{
	enum { THREADS = 8 };
	pthread_t t[THREADS];
	struct caller c[THREADS];
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct caller){ map_anon(4), advice, calls, 0 };
		if (pthread_create(&t[i], NULL, caller_main, &c[i]))
			setup_failed("pthread_create");
	}
	int failures = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		failures += c[i].failures;
	}
	check(failures == 0, "%d threads x %ld madvise(%s): all 0", THREADS, calls, name);
}

/* madvise through syscall(2), as programs without a libc wrapper do. */
static void sc_raw_syscall(void)
{
	char *p = map_anon(2);
	fill(p, 0, 2);
	errno = 0;
	long r = syscall(SYS_madvise, p, pg, MADV_DONTNEED);
	expect_call("syscall(SYS_madvise, page 0, DONTNEED)", r, errno, 0, 0);
	expect_states("page 0 emptied", p, "zo");
}

/* Which object's madvise this process calls: tells whether a preload took. */
static void sc_which(void)
{
	Dl_info info;
	void *f = dlsym(RTLD_DEFAULT, "madvise");
	bool found = f && dladdr(f, &info) && info.dli_fname;
	check(found, "madvise comes from %s", found ? info.dli_fname : "nowhere");
}

/* ---- main ------------------------------------------------------------ */

static const struct {
	const char *name, *args, *help;
} subcommands[] = {
	{ "zero", "dontneed|free [--must-zero]", "DONTNEED/FREE on private anonymous memory reads zero, neighbours untouched" },
	{ "zero-thp", "dontneed|free [--must-zero]", "the same for 3 pages inside a transparent huge page (exit 3 where none can be had)" },
	{ "rss", "dontneed|free [--must-drop]", "256 MiB touched, then discarded: mincore and RssAnon drop" },
	{ "prot", "none|read|mixed [ADVICE] [--must-zero]", "protections survive DONTNEED" },
	{ "shared", "anon|file", "shared memory keeps its data; FREE is EINVAL" },
	{ "privfile", "", "private file mapping with copied pages: file again or an error, never zero" },
	{ "hole", "ADVICE [--must-zero]", "ranges with holes: applied to the mapped parts, ENOMEM" },
	{ "locked", "", "DONTNEED/FREE on mlocked memory: EINVAL, still locked" },
	{ "errno-kept", "", "errno untouched on success, the error on failure" },
	{ "posix-madvise", "", "posix_madvise returns error numbers; DONTNEED does nothing" },
	{ "fadvise", "", "posix_fadvise on files, pipes, bad fds, bad arguments" },
	{ "process-madvise", "", "process_madvise on the process's own pidfd" },
	{ "repeat", "ADVICE COUNT", "the same madvise COUNT times, every one succeeds" },
	{ "hints", "", "hints: 0 on mapped ranges, ENOMEM on unmapped ones" },
	{ "probe", "[--must-zero] [--valid-first]", "genuine EINVALs told from a missing MADV_FREE" },
	{ "raw", "ADVICE", "print what one madvise on a written page returns (no check)" },
	{ "noreserve", "", "MAP_NORESERVE survives DONTNEED" },
	{ "fork", "ADVICE [--must-zero]", "a forked child advises its own mappings" },
	{ "dontneed-locked", "", "DONTNEED_LOCKED empties locked memory, which stays locked" },
	{ "remove", "", "REMOVE punches holes in shared files and memfds; kernel errors" },
	{ "populate", "", "POPULATE_* change no byte, even with concurrent writers" },
	{ "guard", "", "guard pages fault; removing them gives empty pages" },
	{ "guard-many", "", "40 guard parts survive mprotect and mremap, a guard survives PROT_GROWSDOWN; GUARD_REMOVE restores each; GUARD_INSTALL over 20 parts; mprotect from a guard: EACCES, ENOMEM at a hole" },
	{ "guard-nofd", "", "with every descriptor taken, a guard mprotect the shim cannot look up (MADVISE_SHIM_LOOKUP=maps): ENOMEM, nothing opened (shim only)" },
	{ "threads", "ADVICE COUNT", "8 threads advise their own pages COUNT times each" },
	{ "raw-syscall", "", "madvise through syscall(SYS_madvise)" },
	{ "which", "", "name the object whose madvise this process calls" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: madvise-scenario SUBCOMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(f, "  %-16s %-38s %s\n", subcommands[i].name,
			subcommands[i].args, subcommands[i].help);
}

int main(int argc, char **argv)
{
	report_prog = "madvise-scenario";
	long sz = sysconf(_SC_PAGESIZE);
	pg = sz > 0 ? (size_t)sz : 4096;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Flags anywhere after the subcommand; the rest are positional. */
	char *pos[8];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--must-zero"))
			must_zero = true;
		else if (!strcmp(argv[i], "--must-drop"))
			must_drop = true;
		else if (!strcmp(argv[i], "--valid-first"))
			valid_first = true;
		else if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "--help") ||
			 !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			fprintf(stderr, "madvise-scenario: unknown option %s\n", argv[i]);
			return 2;
		} else if (npos < 8)
			pos[npos++] = argv[i];
	}
	if (npos == 0) {
		usage(stderr);
		return 2;
	}
	report_subcmd = pos[0];
	const char *arg1 = npos > 1 ? pos[1] : NULL;

	if (!strcmp(report_subcmd, "zero") && arg1)
		sc_zero(advice_value(arg1), arg1);
	else if (!strcmp(report_subcmd, "zero-thp") && arg1)
		sc_zero_thp(advice_value(arg1), arg1);
	else if (!strcmp(report_subcmd, "rss") && arg1)
		sc_rss(advice_value(arg1), arg1);
	else if (!strcmp(report_subcmd, "prot") && arg1)
		sc_prot(arg1, npos > 2 ? advice_value(pos[2]) : MADV_DONTNEED,
			npos > 2 ? pos[2] : "dontneed");
	else if (!strcmp(report_subcmd, "shared") && arg1)
		sc_shared(arg1);
	else if (!strcmp(report_subcmd, "privfile"))
		sc_privfile();
	else if (!strcmp(report_subcmd, "hole") && arg1)
		sc_hole(advice_value(arg1), arg1);
	else if (!strcmp(report_subcmd, "locked"))
		sc_locked();
	else if (!strcmp(report_subcmd, "errno-kept"))
		sc_errno_kept();
	else if (!strcmp(report_subcmd, "posix-madvise"))
		sc_posix_madvise();
	else if (!strcmp(report_subcmd, "fadvise"))
		sc_fadvise();
	else if (!strcmp(report_subcmd, "process-madvise"))
		sc_process_madvise();
	else if (!strcmp(report_subcmd, "repeat") && npos > 2 && atol(pos[2]) > 0)
		sc_repeat(advice_value(arg1), arg1, atol(pos[2]));
	else if (!strcmp(report_subcmd, "hints"))
		sc_hints();
	else if (!strcmp(report_subcmd, "probe"))
		sc_probe();
	else if (!strcmp(report_subcmd, "noreserve"))
		sc_noreserve();
	else if (!strcmp(report_subcmd, "fork") && arg1)
		sc_fork(advice_value(arg1), arg1);
	else if (!strcmp(report_subcmd, "dontneed-locked"))
		sc_dontneed_locked();
	else if (!strcmp(report_subcmd, "remove"))
		sc_remove();
	else if (!strcmp(report_subcmd, "populate"))
		sc_populate();
	else if (!strcmp(report_subcmd, "guard"))
		sc_guard();
	else if (!strcmp(report_subcmd, "guard-many"))
		sc_guard_many();
	else if (!strcmp(report_subcmd, "guard-nofd"))
		sc_guard_nofd();
	else if (!strcmp(report_subcmd, "threads") && npos > 2 && atol(pos[2]) > 0)
		sc_threads(advice_value(arg1), arg1, atol(pos[2]));
	else if (!strcmp(report_subcmd, "raw-syscall"))
		sc_raw_syscall();
	else if (!strcmp(report_subcmd, "which"))
		sc_which();
	else if (!strcmp(report_subcmd, "raw") && arg1) {
		sc_raw(advice_value(arg1), arg1);
		return 0;
	} else {
		usage(stderr);
		return 2;
	}

	fflush(stdout);
	if (report_failed) {
		fprintf(stderr, "FAILED: %s: %d of %d checks failed\n", report_subcmd,
			report_failed, report_failed + report_passed);
		return 1;
	}
	printf("passed: %s (%d checks)\n", report_subcmd, report_passed);
	return 0;
}
