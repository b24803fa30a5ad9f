/* fork-advice: what the children of fork see after MADV_DONTFORK, DOFORK,
 * WIPEONFORK and KEEPONFORK, as one canonical record line per scenario.
 *
 *   fork-advice [SCENARIO...]   run these scenarios (default: every one in
 *                               --list) and print one record line each
 *   fork-advice --list          the names of the differential scenarios
 *   fork-advice table-full      fill the shim's table of fork advice
 *   fork-advice threads         fork from threads while others advise, unmap
 *                               and remap, and signal handlers advise
 *   fork-advice map-loop [--advised]
 *                               1000 mmap/mremap/munmap rounds, to count
 *                               what they cost (after one WIPEONFORK)
 *
 * The differential scenarios print the same lines on the native kernel (the
 * oracle) and under madvise-sim with the shim preloaded, whichever of the
 * four values the simulated kernel lacks; tests/fork.bats compares them.
 * table-full and threads print facts that the tests check per variant.
 *
 * A record is "NAME: field=value ...".  Results of calls are "0" or an errno
 * name.  Page contents are one letter per page:
 *   o  the test pattern     z  all zero       x  anything else
 *   -  not mapped           !  mapped, but reading it faults (PROT_NONE)
 * and protections one letter per page: w rw-, r r--, x r-x, n ---, ? other.
 * "child" is what a child of fork sees, "grand" what the child's own child
 * sees after the child wrote the pattern into every writable page.
 *
 * Exit status 0 when every scenario ran (whatever it printed), 1 on a failed
 * set-up, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "advice_table.h"

#define PATTERN 0x5a
#define MAXPAGES 16

static size_t pg;

static void setup_failed(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fork-advice: set-up failed: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(1);
}

static const char *ename(int e)
{
	if (!e)
		return "0";
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static const char *adv(void *p, size_t npages, int advice)
{
	return ename(madvise(p, npages * pg, advice) ? errno : 0);
}

/* ---- records ---------------------------------------------------------- */

static char rec[4096];

static void field(const char *name, const char *fmt, ...)
{
	size_t n = strlen(rec);
	n += (size_t)snprintf(rec + n, sizeof rec - n, " %s=", name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rec + n, sizeof rec - n, fmt, ap);
	va_end(ap);
}

/* ---- mappings ------------------------------------------------------------
 * Each scenario maps its memory in an area of its own far below where
 * mmap(NULL, ...) places things, so that no mapping made later (by libc or
 * by the shim) can land in a hole a scenario relies on. */

static _Atomic uintptr_t arena = 0x300000000000ULL;

static char *area(size_t npages)
{
	uintptr_t at = atomic_fetch_add(&arena, (uintptr_t)1 << 30);
	char *p = mmap((void *)at, npages * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, npages * pg, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		setup_failed("reserve %zu pages", npages);
	return p;
}

static char *map_at(char *at, size_t npages, int prot, int flags, int fd)
{
	char *p = mmap(at, npages * pg, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap %zu pages", npages);
	return p;
}

static void fill(char *p, size_t npages)
{
	memset(p, PATTERN, npages * pg);
}

/* npages of private anonymous memory with the pattern, in a fresh area
 * with room after it. */
static char *anon(size_t npages)
{
	char *p = map_at(area(npages + 16), npages, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1);
	munmap(p + npages * pg, 16 * pg);
	fill(p, npages);
	return p;
}

static int scratch_file(size_t npages)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/fork-advice.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		setup_failed("mkstemp %s", path);
	unlink(path);
	char buf[4096];
	memset(buf, PATTERN, sizeof buf);
	for (size_t i = 0; i < npages * pg; i += sizeof buf)
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			setup_failed("write %s", path);
	return fd;
}

/* ---- looking at pages ------------------------------------------------- */

static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probing;

static void on_fault(int sig)
{
	if (probing)
		siglongjmp(probe_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static char letter(const char *p)
{
	unsigned char vec;
	if (mincore((void *)p, pg, &vec) != 0)
		return errno == ENOMEM ? '-' : '?';
	if (sigsetjmp(probe_jmp, 1)) {
		probing = 0;
		return '!';
	}
	probing = 1;
	const volatile unsigned char *q = (const volatile unsigned char *)p;
	bool zero = true, orig = true;
	for (size_t i = 0; i < pg; i++) {
		unsigned char c = q[i];
		zero = zero && c == 0;
		orig = orig && c == PATTERN;
	}
	probing = 0;
	return orig ? 'o' : zero ? 'z' : 'x';
}

static void letters(const char *p, size_t npages, char *out)
{
	for (size_t i = 0; i < npages; i++)
		out[i] = letter(p + i * pg);
	out[npages] = 0;
}

/* /proc/self/maps, read without stdio (the threads scenario forks). */
static char maps_buf[1 << 17];

static size_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

/* The header line of the mapping that holds addr, or NULL. */
static const char *mapping_line(const char *text, uintptr_t addr)
{
	for (const char *l = text; *l;) {
		char *end;
		unsigned long a = strtoul(l, &end, 16);
		if (*end == '-') {
			unsigned long b = strtoul(end + 1, &end, 16);
			if (*end == ' ' && addr >= a && addr < b)
				return l;
		}
		l = strchr(l, '\n');
		if (!l)
			break;
		l++;
	}
	return NULL;
}

static char prot_letter(const char *line)
{
	const char *perm = strchr(line, ' ');
	if (!perm)
		return '?';
	perm++;
	if (!strncmp(perm, "rw-", 3))
		return 'w';
	if (!strncmp(perm, "r--", 3))
		return 'r';
	if (!strncmp(perm, "r-x", 3))
		return 'x';
	if (!strncmp(perm, "---", 3))
		return 'n';
	return '?';
}

static void prots(const char *p, size_t npages, char *out)
{
	read_file("/proc/self/maps", maps_buf, sizeof maps_buf);
	for (size_t i = 0; i < npages; i++) {
		const char *l = mapping_line(maps_buf, (uintptr_t)p + i * pg);
		out[i] = l ? prot_letter(l) : '-';
	}
	out[npages] = 0;
}

/* Whether smaps shows VmFlags flag (two letters) for the mapping at addr. */
static bool vmflag(const char *p, const char *flag)
{
	static char smaps[1 << 20];
	read_file("/proc/self/smaps", smaps, sizeof smaps);
	const char *l = mapping_line(smaps, (uintptr_t)p);
	if (!l)
		return false;
	const char *v = strstr(l, "VmFlags:");
	const char *eol = v ? strchr(v, '\n') : NULL;
	char want[8];
	snprintf(want, sizeof want, " %s", flag);
	for (const char *s = v; s && s < eol; s++) {
		s = strstr(s, want);
		if (!s || s >= eol)
			break;
		if (s[3] == ' ' || s[3] == '\n')
			return true;
	}
	return false;
}

/* ---- the view from children ------------------------------------------- */

struct view {
	char child[MAXPAGES + 1], prot[MAXPAGES + 1], grand[MAXPAGES + 1];
	char status[32];
};

static void put(int fd, const char *tag, const char *s)
{
	char buf[MAXPAGES + 8];
	int n = snprintf(buf, sizeof buf, "%s%s\n", tag, s);
	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

/* A child of fork looks at npages at p; with grand, it then writes the
 * pattern into every writable page and its own child looks again.  hook, if
 * set, runs in the child first. */
static void fork_view(char *p, size_t npages, bool grand, void (*hook)(char *, size_t),
		      struct view *v)
{
	int fds[2];
	if (pipe(fds))
		setup_failed("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		setup_failed("fork");
	if (pid == 0) {
		close(fds[0]);
		char got[MAXPAGES + 1], prot[MAXPAGES + 1];
		if (hook)
			hook(p, npages);
		letters(p, npages, got);
		prots(p, npages, prot);
		put(fds[1], "C", got);
		put(fds[1], "P", prot);
		if (grand) {
			for (size_t i = 0; i < npages; i++)
				if (prot[i] == 'w')
					memset(p + i * pg, PATTERN, pg);
			pid_t g = fork();
			if (g == 0) {
				letters(p, npages, got);
				put(fds[1], "G", got);
				_exit(0);
			}
			int st;
			if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st))
				_exit(4);
		}
		_exit(0);
	}
	close(fds[1]);
	char buf[256];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	memset(v, 0, sizeof *v);
	strcpy(v->child, "?");
	strcpy(v->prot, "?");
	strcpy(v->grand, "?");
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		char *dst = l[0] == 'C' ? v->child : l[0] == 'P' ? v->prot : v->grand;
		snprintf(dst, MAXPAGES + 1, "%s", l + 1);
	}
	if (WIFEXITED(st))
		snprintf(v->status, sizeof v->status, "%d", WEXITSTATUS(st));
	else
		snprintf(v->status, sizeof v->status, "signal%d", WTERMSIG(st));
}

/* Fields child=, [grand=,] parent= (the parent looks after the child ran),
 * and the child's exit status when it is not 0. */
static void view_fields(char *p, size_t npages, bool grand)
{
	struct view v;
	char parent[MAXPAGES + 1];
	fork_view(p, npages, grand, NULL, &v);
	letters(p, npages, parent);
	field("child", "%s", v.child);
	if (grand)
		field("grand", "%s", v.grand);
	field("parent", "%s", parent);
	if (strcmp(v.status, "0"))
		field("child-exit", "%s", v.status);
}

/* ---- scenarios ---------------------------------------------------------- */

static void sc_dontfork(void)
{
	char *p = anon(4);
	field("dontfork", "%s", adv(p + pg, 2, MADV_DONTFORK));
	view_fields(p, 4, true);
}

static void sc_dofork(void)
{
	char *p = anon(4);
	field("dontfork", "%s", adv(p, 4, MADV_DONTFORK));
	field("dofork", "%s", adv(p + pg, 2, MADV_DOFORK));
	view_fields(p, 4, true);
}

static void sc_wipe(void)
{
	char *p = anon(4);
	field("wipe", "%s", adv(p + pg, 2, MADV_WIPEONFORK));
	view_fields(p, 4, true);
}

static void sc_keeponfork(void)
{
	char *p = anon(6);
	field("wipe", "%s", adv(p, 6, MADV_WIPEONFORK));
	field("keep", "%s", adv(p + pg, 2, MADV_KEEPONFORK));
	field("keep2", "%s", adv(p + 4 * pg, 1, MADV_KEEPONFORK));
	view_fields(p, 6, true);
}

static void sc_wipe_dontfork(void)
{
	char *p = anon(4);
	field("wipe", "%s", adv(p, 3, MADV_WIPEONFORK));
	field("dontfork", "%s", adv(p + 2 * pg, 2, MADV_DONTFORK));
	view_fields(p, 4, true);
}

/* Wiped pages keep their protection, whatever it is. */
static void sc_wipe_prot(void)
{
	char *p = anon(5);
	mprotect(p + pg, pg, PROT_READ);
	mprotect(p + 2 * pg, pg, PROT_NONE);
	mprotect(p + 3 * pg, pg, PROT_READ | PROT_EXEC);
	field("wipe", "%s", adv(p, 5, MADV_WIPEONFORK));
	struct view v;
	fork_view(p, 5, true, NULL, &v);
	field("child", "%s", v.child);
	field("prot", "%s", v.prot);
	field("grand", "%s", v.grand);
}

static void child_noreserve(char *p, size_t npages)
{
	(void)npages;
	/* report through the letters: the first page as 'N' or 'R' */
	if (!vmflag(p, "nr"))
		memset(p, 1, pg);
}

/* MAP_NORESERVE stays on the wiped mapping (VmFlags nr). */
static void sc_wipe_noreserve(void)
{
	char *p = map_at(area(4), 2, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	fill(p, 2);
	field("wipe", "%s", adv(p, 2, MADV_WIPEONFORK));
	struct view v;
	fork_view(p, 2, false, child_noreserve, &v);
	field("child", "%s", v.child); /* 'x' first: nr was lost */
}

static bool kept_before;

static void child_kept_advice(char *p, size_t npages)
{
	(void)npages;
	/* the first page as 'x' if the wipe lost the parent's VmFlags dd */
	if (vmflag(p, "dd") != kept_before)
		memset(p, 1, pg);
}

/* Advice the kernel keeps as a flag of the mapping (DONTDUMP: VmFlags dd)
 * stays on the wiped pages, however the wipe is done: a remap in the child
 * (no MREMAP_DONTUNMAP) must give it again.  Where DONTDUMP is emulated too
 * there is no flag, before or after. */
static void sc_wipe_kept_advice(void)
{
	char *p = anon(2);
	field("dontdump", "%s", adv(p, 2, MADV_DONTDUMP));
	kept_before = vmflag(p, "dd");
	field("wipe", "%s", adv(p, 2, MADV_WIPEONFORK));
	struct view v;
	fork_view(p, 2, false, child_kept_advice, &v);
	field("child", "%s", v.child);
}

static void sc_errors(void)
{
	char *sh = map_at(area(2), 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	int fd = scratch_file(2);
	char *pf = map_at(area(2), 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	char *sf = map_at(area(2), 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	fill(sh, 1);
	field("wipe-shared-anon", "%s", adv(sh, 1, MADV_WIPEONFORK));
	field("wipe-private-file", "%s", adv(pf, 1, MADV_WIPEONFORK));
	field("wipe-shared-file", "%s", adv(sf, 1, MADV_WIPEONFORK));
	field("keep-shared-anon", "%s", adv(sh, 1, MADV_KEEPONFORK));
	field("keep-private-file", "%s", adv(pf, 1, MADV_KEEPONFORK));
	field("dontfork-shared-anon", "%s", adv(sh, 1, MADV_DONTFORK));
	field("dontfork-private-file", "%s", adv(pf, 1, MADV_DONTFORK));
	field("dontfork-shared-file", "%s", adv(sf, 1, MADV_DONTFORK));
	/* the file mappings are left out of the child like any other */
	struct view v1, v2, v3;
	fork_view(sh, 1, false, NULL, &v1);
	fork_view(pf, 1, false, NULL, &v2);
	fork_view(sf, 1, false, NULL, &v3);
	field("child", "%s%s%s", v1.child, v2.child, v3.child);
	field("dofork-shared-file", "%s", adv(sf, 1, MADV_DOFORK));
	fork_view(sf, 1, false, NULL, &v3);
	field("child-after-dofork", "%s", v3.child);
	close(fd);
}

static char *find_mapping(const char *name)
{
	read_file("/proc/self/maps", maps_buf, sizeof maps_buf);
	for (char *l = maps_buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *eol = strchr(l, '\n');
		char *hit = strstr(l, name);
		if (hit && (!eol || hit < eol))
			return (char *)strtoul(l, NULL, 16);
	}
	return NULL;
}

/* The kernel's own mappings: [vdso] refuses DONTFORK and WIPEONFORK, [vvar]
 * (VM_IO) DOFORK too. */
static void sc_special(void)
{
	static const int advice[] = { MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK,
				      MADV_KEEPONFORK };
	char *vdso = (char *)getauxval(AT_SYSINFO_EHDR);
	char *vvar = find_mapping("[vvar]");
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof name, "vdso-%d", advice[i]);
		field(name, "%s", vdso ? adv(vdso, 1, advice[i]) : "absent");
		snprintf(name, sizeof name, "vvar-%d", advice[i]);
		field(name, "%s", vvar ? adv(vvar, 1, advice[i]) : "absent");
	}
}

/* Holes: the mapped parts are advised and the call fails with ENOMEM. */
static void sc_holes(void)
{
	char *p = anon(3), *q = anon(3), *r = anon(3);
	munmap(p + pg, pg);
	munmap(q + pg, pg);
	munmap(r + pg, pg);
	field("dontfork", "%s", adv(p, 3, MADV_DONTFORK));
	field("wipe", "%s", adv(q, 3, MADV_WIPEONFORK));
	field("r-dontfork", "%s", adv(r, 3, MADV_DONTFORK));
	field("r-dofork", "%s", adv(r, 3, MADV_DOFORK));
	field("keep-hole-only", "%s", adv(p + pg, 1, MADV_KEEPONFORK));
	struct view v1, v2, v3;
	fork_view(p, 3, false, NULL, &v1);
	fork_view(q, 3, true, NULL, &v2);
	fork_view(r, 3, false, NULL, &v3);
	field("child", "%s/%s/%s", v1.child, v2.child, v3.child);
	field("grand", "%s", v2.grand);
}

/* The walk stops at the first mapping that refuses: what came before is
 * advised, what comes after is not. */
static void sc_stop_at_error(void)
{
	char *p = anon(3);
	map_at(p + pg, 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	fill(p, 3);
	field("wipe", "%s", adv(p, 3, MADV_WIPEONFORK));
	char *q = anon(2);
	munmap(q, pg);
	map_at(q + pg, 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	field("wipe-hole-then-shared", "%s", adv(q, 2, MADV_WIPEONFORK));
	view_fields(p, 3, false);
}

/* A range unmapped, or replaced with MAP_FIXED, loses its advice: the new
 * mapping is not affected. */
static void sc_unmap_remap(void)
{
	char *p = anon(4), *q = anon(4), *r = anon(4);
	field("wipe", "%s", adv(p, 4, MADV_WIPEONFORK));
	munmap(p + pg, 2 * pg);
	map_at(p + pg, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(p + pg, 2);
	field("dontfork", "%s", adv(q, 4, MADV_DONTFORK));
	map_at(q + pg, 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(q + pg, 1);
	field("wipe-all", "%s", adv(r, 4, MADV_WIPEONFORK));
	munmap(r, 4 * pg);
	map_at(r, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(r, 4);
	struct view v1, v2, v3;
	fork_view(p, 4, false, NULL, &v1);
	fork_view(q, 4, false, NULL, &v2);
	fork_view(r, 4, false, NULL, &v3);
	field("child", "%s/%s/%s", v1.child, v2.child, v3.child);
}

/* mremap: a moved range takes its advice along, a grown one extends it, a
 * shrunk one loses the part cut off. */
static void sc_mremap(void)
{
	char *p = anon(4);
	char *to = area(8);
	field("wipe", "%s", adv(p, 4, MADV_WIPEONFORK));
	char *moved = mremap(p, 4 * pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, to + 2 * pg);
	field("move", "%s", moved == MAP_FAILED ? ename(errno) : "0");
	map_at(p, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(p, 4);

	char *g = anon(2);
	field("wipe-g", "%s", adv(g, 2, MADV_WIPEONFORK));
	char *grown = mremap(g, 2 * pg, 4 * pg, 0);
	field("grow", "%s", grown == g ? "in-place" : ename(errno));
	fill(g, 4);

	char *s = anon(4);
	field("dontfork-s", "%s", adv(s, 4, MADV_DONTFORK));
	char *shrunk = mremap(s, 4 * pg, 2 * pg, 0);
	field("shrink", "%s", shrunk == s ? "0" : ename(errno));
	map_at(s + 2 * pg, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(s + 2 * pg, 2);

	/* one page from the middle of a mapping, grown: it has to move */
	char *m = anon(4);
	field("wipe-m", "%s", adv(m + pg, 1, MADV_WIPEONFORK));
	char *mm = mremap(m + pg, pg, 3 * pg, MREMAP_MAYMOVE);
	field("grow-move", "%s", mm == MAP_FAILED ? ename(errno) : mm == m + pg ? "stayed" : "moved");
	if (mm == MAP_FAILED)
		return;
	fill(mm, 3);

	struct view v1, v2, v3, v4, v5, v6;
	fork_view(moved, 4, true, NULL, &v1);
	fork_view(p, 4, false, NULL, &v2);
	fork_view(g, 4, true, NULL, &v3);
	fork_view(s, 4, false, NULL, &v4);
	fork_view(m, 4, false, NULL, &v5);
	fork_view(mm, 3, false, NULL, &v6);
	field("child", "moved:%s old:%s grown:%s shrunk:%s source:%s dest:%s", v1.child,
	      v2.child, v3.child, v4.child, v5.child, v6.child);
	field("grand", "moved:%s grown:%s", v1.grand, v3.grand);
}

/* Moving several mappings at once (Linux 6.17): each keeps its own advice. */
static void sc_mremap_multi(void)
{
	char *p = anon(4);
	char *to = area(8);
	field("wipe", "%s", adv(p + pg, 1, MADV_WIPEONFORK));
	field("dontfork", "%s", adv(p + 3 * pg, 1, MADV_DONTFORK));
	mprotect(p + 2 * pg, pg, PROT_READ);
	char *moved = mremap(p, 4 * pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	field("move", "%s", moved == MAP_FAILED ? ename(errno) : "0");
	if (moved == MAP_FAILED)
		return;
	view_fields(moved, 4, false);
}

/* MREMAP_DONTUNMAP: the pages move, both mappings keep the advice. */
static void sc_mremap_dontunmap(void)
{
	char *p = anon(2);
	char *to = area(4);
	field("wipe", "%s", adv(p, 2, MADV_WIPEONFORK));
	char *moved = mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, to);
	field("move", "%s", moved == MAP_FAILED ? ename(errno) : "0");
	if (moved == MAP_FAILED)
		return;
	fill(p, 2);
	struct view v1, v2;
	fork_view(p, 2, false, NULL, &v1);
	fork_view(moved, 2, false, NULL, &v2);
	field("child", "old:%s new:%s", v1.child, v2.child);
}

/* mprotect splits the mapping, the advice stays on both parts. */
static void sc_mprotect(void)
{
	char *p = anon(3);
	field("wipe", "%s", adv(p, 3, MADV_WIPEONFORK));
	mprotect(p + pg, pg, PROT_READ);
	struct view v;
	fork_view(p, 3, true, NULL, &v);
	field("child", "%s", v.child);
	field("prot", "%s", v.prot);
	field("grand", "%s", v.grand);
}

/* [heap] memory is private anonymous too. */
static void sc_heap(void)
{
	uintptr_t cur = (uintptr_t)sbrk(0);
	uintptr_t start = (cur + pg - 1) & ~(uintptr_t)(pg - 1);
	if (sbrk((intptr_t)(start - cur + 2 * pg)) == (void *)-1)
		setup_failed("sbrk");
	char *p = (char *)start;
	fill(p, 2);
	field("wipe", "%s", adv(p, 1, MADV_WIPEONFORK));
	view_fields(p, 2, true);
}

static void child_keeps(char *p, size_t npages)
{
	madvise(p, npages * pg, MADV_KEEPONFORK);
}

/* The child may undo the advice for its own children. */
static void sc_child_keeps(void)
{
	char *p = anon(2);
	field("wipe", "%s", adv(p, 2, MADV_WIPEONFORK));
	struct view v;
	fork_view(p, 2, true, child_keeps, &v);
	field("child", "%s", v.child);
	field("grand", "%s", v.grand);
}

/* The kernel's argument checks come first. */
static void sc_args(void)
{
	char *p = anon(2);
	field("len0", "%s", ename(madvise(p, 0, MADV_WIPEONFORK) ? errno : 0));
	field("unaligned", "%s", ename(madvise(p + 1, pg, MADV_DONTFORK) ? errno : 0));
	field("wrap", "%s", ename(madvise(p, (size_t)-pg, MADV_KEEPONFORK) ? errno : 0));
	field("partial-len", "%s", ename(madvise(p, pg / 2, MADV_WIPEONFORK) ? errno : 0));
	view_fields(p, 2, false);
}

/* MADV_DONTNEED empties pages but leaves the mapping and its advice. */
static void sc_dontneed(void)
{
	char *p = anon(2), *q = anon(2);
	field("wipe", "%s", adv(p, 2, MADV_WIPEONFORK));
	field("dontfork", "%s", adv(q, 2, MADV_DONTFORK));
	field("dontneed", "%s", adv(p, 2, MADV_DONTNEED));
	field("dontneed-q", "%s", adv(q, 2, MADV_DONTNEED));
	fill(p, 2);
	fill(q, 2);
	int fd = scratch_file(2);
	char *f = map_at(area(2), 2, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	memset(f, 0, 2 * pg);
	field("dontfork-file", "%s", adv(f, 2, MADV_DONTFORK));
	field("dontneed-file", "%s", adv(f, 2, MADV_DONTNEED));
	struct view v1, v2, v3;
	fork_view(p, 2, false, NULL, &v1);
	fork_view(q, 2, false, NULL, &v2);
	fork_view(f, 2, false, NULL, &v3);
	char parent[3];
	letters(f, 2, parent);
	field("child", "%s/%s/%s", v1.child, v2.child, v3.child);
	field("parent-file", "%s", parent);
	close(fd);
}

/* A range unmapped behind the wrappers' back (a raw syscall, as glibc's own
 * munmap does): a new mapping placed there by mmap must not inherit it. */
static void sc_stale(void)
{
	char *p = anon(4);
	field("wipe", "%s", adv(p, 4, MADV_WIPEONFORK));
	field("raw-munmap", "%s", ename(syscall(SYS_munmap, p, 4 * pg) ? errno : 0));
	char *q = mmap(p, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	field("same-place", "%s", q == p ? "yes" : "no");
	fill(q, 4);
	view_fields(q, 4, false);
}

/* The wrappers answer like libc: the result, errno kept on success, the
 * kernel's errno on failure; with the table in use (second round) too. */
/* "kept" when a call succeeded and left errno alone, "failed/ERRNO" when it
 * failed, "set/ERRNO" when it succeeded but changed errno. */
static void outcome(const char *round, const char *what, bool failed)
{
	int e = errno;
	char name[64];
	snprintf(name, sizeof name, "%s-%s", round, what);
	if (failed)
		field(name, "failed/%s", ename(e));
	else if (e == 12345)
		field(name, "kept");
	else
		field(name, "set/%s", ename(e));
}

static void errno_round(const char *round)
{
	const int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p;
	errno = 12345;
	p = mmap(NULL, 2 * pg, rw, pa, -1, 0);
	outcome(round, "mmap", p == MAP_FAILED);
	if (p == MAP_FAILED)
		setup_failed("mmap");
	errno = 12345;
	outcome(round, "munmap-unaligned", munmap(p + 1, pg) != 0);
	errno = 12345;
	outcome(round, "munmap-0", munmap(p, 0) != 0);
	errno = 12345;
	outcome(round, "mremap-flags", mremap(p, pg, pg, 0x7f0) == MAP_FAILED);
	errno = 12345;
	outcome(round, "mremap-shrink", mremap(p, 2 * pg, pg, 0) != p);
	errno = 12345;
	outcome(round, "munmap", munmap(p, pg) != 0);
	errno = 12345;
	outcome(round, "mremap-unmapped", mremap(p, pg, pg, 0) == MAP_FAILED);
	errno = 12345;
	outcome(round, "mmap-0", mmap(NULL, 0, PROT_READ, pa, -1, 0) == MAP_FAILED);
	errno = 12345;
	outcome(round, "mmap-badfd", mmap(NULL, pg, PROT_READ, MAP_SHARED, 999, 0) == MAP_FAILED);
	errno = 12345;
	p = mmap64(NULL, pg, PROT_READ, pa, -1, 0);
	outcome(round, "mmap64", p == MAP_FAILED);
	munmap(p, pg);
}

static void sc_errno(void)
{
	errno_round("first");
	char *p = anon(1);
	field("wipe", "%s", adv(p, 1, MADV_WIPEONFORK));
	errno_round("advised");
}

struct scenario {
	const char *name;
	void (*run)(void);
};

static const struct scenario scenarios[] = {
	{ "dontfork", sc_dontfork },
	{ "dofork", sc_dofork },
	{ "wipe", sc_wipe },
	{ "keeponfork", sc_keeponfork },
	{ "wipe-dontfork", sc_wipe_dontfork },
	{ "wipe-prot", sc_wipe_prot },
	{ "wipe-noreserve", sc_wipe_noreserve },
	{ "wipe-kept-advice", sc_wipe_kept_advice },
	{ "errors", sc_errors },
	{ "special", sc_special },
	{ "holes", sc_holes },
	{ "stop-at-error", sc_stop_at_error },
	{ "unmap-remap", sc_unmap_remap },
	{ "mremap", sc_mremap },
	{ "mremap-multi", sc_mremap_multi },
	{ "mremap-dontunmap", sc_mremap_dontunmap },
	{ "mprotect", sc_mprotect },
	{ "heap", sc_heap },
	{ "child-keeps", sc_child_keeps },
	{ "args", sc_args },
	{ "dontneed", sc_dontneed },
	{ "stale", sc_stale },
	{ "errno", sc_errno },
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

static void run(const struct scenario *s)
{
	rec[0] = 0;
	s->run();
	printf("%s:%s\n", s->name, rec);
	fflush(stdout);
}

/* ---- table-full ------------------------------------------------------------
 * 1100 three-page ranges with a gap between them are advised until one
 * fails, then the middle pages of advised ranges are unmapped (each splits a
 * range) until one fails, up to 100.  A child then looks at the first range
 * and at the first one whose advice failed. */
static void table_full(void)
{
	enum { RANGES = 1100, SPLITS = 100 };
	char *p = map_at(area(4 * RANGES + 4), 4 * RANGES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1);
	fill(p, 4 * RANGES);
	int n = 0, err = 0;
	for (; n < RANGES; n++)
		if (madvise(p + 4 * n * pg, 3 * pg, MADV_WIPEONFORK)) {
			err = errno;
			break;
		}
	printf("table-full: ranges=%d err=%s\n", n, ename(err));
	int splits = 0, serr = 0;
	for (; splits < SPLITS && splits < n; splits++)
		if (munmap(p + (4 * splits + 1) * pg, pg)) {
			serr = errno;
			break;
		}
	printf("table-full: splits=%d err=%s\n", splits, ename(serr));
	struct view v1, v2;
	fork_view(p + 4 * (SPLITS + 1) * pg, 3, false, NULL, &v1);
	fork_view(p + 4 * (n < RANGES ? n : RANGES - 1) * pg, 3, false, NULL, &v2);
	printf("table-full: child advised=%s refused=%s\n", v1.child, v2.child);
	fflush(stdout);
}

/* ---- threads -------------------------------------------------------------
 * Advisers toggle WIPEONFORK on regions of their own, unmap and remap a page
 * of them and move them with mremap; a signaller interrupts them with a
 * signal whose handler advises too; forkers fork meanwhile, and each child
 * checks a region advised before the threads started.  The advisers go on
 * until the last fork is done, and each forker's last fork waits until a
 * handler has advised while forks were under way, so that the handlers
 * really race the forks (what signals-handled-during-forks says); that wait
 * gives up after SIGNAL_TRIES signals sent without one handled (blocked
 * signals), so the run ends unless something deadlocks. */

enum { ADVISERS = 3, FORKERS = 2, ROUNDS = 300, FORKS = 40, SIGNAL_TRIES = 100000 };

static char *stable_wipe, *stable_gone;
static _Atomic int advisers_done, bad_calls, forks_begun, forks_done, children_ok, signals_sent;
static _Atomic int handled_during_forks;
static __thread char *handler_page;

static bool forks_under_way(void)
{
	return forks_begun && forks_done < FORKERS * FORKS;
}

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	if (handler_page) {
		if (madvise(handler_page, pg, MADV_WIPEONFORK) ||
		    madvise(handler_page, pg, MADV_KEEPONFORK))
			bad_calls++;
		else if (forks_under_way())
			handled_during_forks++;
	}
	errno = saved;
}

static void *adviser(void *arg)
{
	(void)arg;
	char *r = anon(8);
	char *alt = area(8);
	handler_page = anon(1);
	for (int i = 0; i < ROUNDS || forks_done < FORKERS * FORKS; i++) {
		if (madvise(r, 8 * pg, MADV_WIPEONFORK) ||
		    madvise(r + 2 * pg, 2 * pg, MADV_KEEPONFORK) ||
		    madvise(r + 6 * pg, pg, MADV_DONTFORK))
			bad_calls++;
		if (munmap(r + 5 * pg, pg) ||
		    mmap(r + 5 * pg, pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			bad_calls++;
		char *m = mremap(r, 8 * pg, 8 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, alt);
		if (m == MAP_FAILED) {
			bad_calls++;
			continue;
		}
		alt = r;
		r = m;
		if (madvise(r, 8 * pg, MADV_DOFORK) || madvise(r, 8 * pg, MADV_KEEPONFORK))
			bad_calls++;
	}
	advisers_done++;
	return NULL;
}

static void *signaller(void *arg)
{
	pthread_t *targets = arg;
	while (advisers_done < ADVISERS) {
		for (int i = 0; i < ADVISERS; i++)
			if (pthread_kill(targets[i], SIGUSR1) == 0)
				signals_sent++;
		sched_yield();
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	forks_begun = 1;
	for (int i = 0; i < FORKS; i++) {
		if (i == FORKS - 1)
			for (int sent = signals_sent;
			     !handled_during_forks && signals_sent - sent < SIGNAL_TRIES;)
				sched_yield();
		pid_t pid = fork();
		if (pid == 0) {
			char a[8], b[8];
			letters(stable_wipe, 4, a);
			letters(stable_gone, 2, b);
			_exit(strcmp(a, "zzzz") || strcmp(b, "--") ? 1 : 0);
		}
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st))
			children_ok++;
		forks_done++;
	}
	return NULL;
}

static void threads(void)
{
	stable_wipe = anon(4);
	stable_gone = anon(2);
	if (madvise(stable_wipe, 4 * pg, MADV_WIPEONFORK) ||
	    madvise(stable_gone, 2 * pg, MADV_DONTFORK))
		setup_failed("advise the stable regions");
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t adv[ADVISERS], frk[FORKERS], sig;
	for (int i = 0; i < ADVISERS; i++)
		pthread_create(&adv[i], NULL, adviser, NULL);
	for (int i = 0; i < FORKERS; i++)
		pthread_create(&frk[i], NULL, forker, NULL);
	pthread_create(&sig, NULL, signaller, adv);
	/* The signaller stops once every adviser has finished its loop, and
	 * signals them until then: an adviser is joined only after that, as
	 * pthread_kill of a joined thread may touch freed memory (a crash seen
	 * once, status 139 in the fork suite, when the advisers were joined first). */
	for (int i = 0; i < FORKERS; i++)
		pthread_join(frk[i], NULL);
	pthread_join(sig, NULL);
	for (int i = 0; i < ADVISERS; i++)
		pthread_join(adv[i], NULL);
	printf("threads: forks=%d children-ok=%d bad-calls=%d signals-handled-during-forks=%s\n",
	       forks_done, children_ok, bad_calls, handled_during_forks > 0 ? "yes" : "no");
	fflush(stdout);
}

/* ---- map-loop -------------------------------------------------------------
 * 1000 mmap/mremap/munmap rounds and nothing else, for counting the system
 * calls they cost: with --advised, after one WIPEONFORK. */
static void map_loop(bool advised)
{
	if (advised) {
		char *w = anon(1);
		if (madvise(w, pg, MADV_WIPEONFORK))
			setup_failed("madvise");
	}
	for (int i = 0; i < 1000; i++) {
		char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || mremap(p, 2 * pg, pg, 0) != p || munmap(p, pg))
			setup_failed("map-loop");
	}
	puts("map-loop: done");
}

/* ---- discard-loop ---------------------------------------------------------
 * 1000 MADV_DONTNEEDs of a written page, each checked to read zero after, with
 * one WIPEONFORK range recorded elsewhere; with --advised the page itself is
 * WIPEONFORK.  For counting the system calls an emulated discard costs. */
static void discard_loop(bool advised)
{
	char *w = anon(1);
	char *p = anon(1);
	if (madvise(w, pg, MADV_WIPEONFORK) || (advised && madvise(p, pg, MADV_WIPEONFORK)))
		setup_failed("madvise");
	for (int i = 0; i < 1000; i++) {
		p[0] = 1;
		p[pg - 1] = 1;
		if (madvise(p, pg, MADV_DONTNEED) || p[0] || p[pg - 1])
			setup_failed("discard-loop");
	}
	puts("discard-loop: done");
}

int main(int argc, char **argv)
{
	pg = (size_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa = { .sa_handler = on_fault };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < NSCENARIOS; i++)
			puts(scenarios[i].name);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "table-full")) {
		table_full();
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "discard-loop")) {
		discard_loop(argc > 2 && !strcmp(argv[2], "--advised"));
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "map-loop")) {
		map_loop(argc > 2 && !strcmp(argv[2], "--advised"));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "threads")) {
		threads();
		return 0;
	}
	if (argc == 1) {
		for (size_t i = 0; i < NSCENARIOS; i++)
			run(&scenarios[i]);
		return 0;
	}
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < NSCENARIOS && strcmp(argv[a], scenarios[i].name))
			i++;
		if (i == NSCENARIOS) {
			fprintf(stderr, "fork-advice: unknown scenario '%s' (see --list)\n", argv[a]);
			return 2;
		}
		run(&scenarios[i]);
	}
	return 0;
}
