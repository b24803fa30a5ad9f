/* madvise-probe: what the running kernel answers to each advice value, and
 * what the shim would make of that answer.
 *
 * Each advice value of advice_table.h is tried once on a scratch mapping of
 * the kind a kernel that has the value accepts (the same kinds the shim's
 * own probe in shim/kernel/state.c uses).  Where the effect can be seen, the page
 * is read back, so that a kernel (or an emulator such as qemu-user) that
 * answers 0 and does nothing shows up as "fake-success".
 *
 * The probe observes the kernel through libc and does not load the shim.
 * Run under madvise-sim it reports the simulated kernel, which is how the
 * tests check that the two agree.  Run with the shim preloaded, the shim
 * answers instead of the kernel; the probe says so on stderr and goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "advice_table.h"

#ifndef MADVISE_PROBE_VERSION
#define MADVISE_PROBE_VERSION "0.1.0" /* keep in step with meson.build */
#endif

#define PROG "madvise-probe"
#define EXIT_USAGE 2

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define KSM_DIR "/sys/kernel/mm/ksm"

/* ---- answers ------------------------------------------------------------ */

enum verdict {
	V_SUPPORTED, /* the call did what it should (as far as can be seen) */
	V_ERRNO,     /* the call failed with `err` */
	V_FAKE,      /* 0 came back but the page kept its contents */
	V_SKIPPED,   /* not called; `text` says why */
};

struct answer {
	enum verdict verdict;
	int err;
	char text[64];
};

/* "EINVAL" rather than "Invalid argument": the names are what the
 * simulator's options and the tests use. */
static const char *errno_name(int e)
{
	static char num[24];
	const char *name = strerrorname_np(e);

	if (name)
		return name;
	snprintf(num, sizeof num, "errno %d", e);
	return num;
}

static void answer(struct answer *a, enum verdict v, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void answer(struct answer *a, enum verdict v, int err, const char *fmt, ...)
{
	va_list ap;

	a->verdict = v;
	a->err = err;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof a->text, fmt, ap);
	va_end(ap);
}

static void answer_result(struct answer *a, bool ok, int err)
{
	if (ok)
		answer(a, V_SUPPORTED, 0, "supported");
	else
		answer(a, V_ERRNO, err, "%s", errno_name(err));
}

/* The answers that make the shim take a value as missing and emulate it:
 * ENOSYS (no syscall), EINVAL (no such advice), or a lie. */
static bool missing(const struct answer *a)
{
	return a->verdict == V_FAKE ||
	       (a->verdict == V_ERRNO && (a->err == EINVAL || a->err == ENOSYS));
}

/* ---- probes ----------------------------------------------------------- */

static size_t page;

/* One advice value on a scratch mapping where a kernel that has it accepts
 * it: a private anonymous page; a shared anonymous page for REMOVE; a
 * written, 2 MiB-aligned 2 MiB range for COLLAPSE, which refuses an empty
 * one.  The memory-failure values are never called: they would take the
 * page away from the system for good. */
static void probe_advice(const struct advice_info *ai, struct answer *a)
{
	size_t len = page, map_len = page;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	/* advice whose effect is seen by reading back: the page must come
	 * back empty.  FREE may rightly leave it as it was. */
	bool emptied = ai->value == MADV_DONTNEED || ai->value == MADV_DONTNEED_LOCKED ||
		       ai->value == MADV_REMOVE;
	char *map, *start;
	volatile unsigned char *p;
	int r = -1, err = 0;

	if (ai->class == CLASS_TEST) {
		answer(a, V_SKIPPED, 0, "not probed (would poison memory)");
		return;
	}
	if (ai->value == MADV_REMOVE)
		flags = MAP_SHARED | MAP_ANONYMOUS;
	if (ai->value == MADV_COLLAPSE) {
		len = 2u << 20;
		map_len = 2 * len;
	}
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (map == MAP_FAILED) {
		answer(a, V_SKIPPED, errno, "not probed (no scratch mapping: %s)",
		       errno_name(errno));
		return;
	}
	start = (char *)(((uintptr_t)map + len - 1) & ~(uintptr_t)(len - 1));
	p = (volatile unsigned char *)start;
	if (ai->value == MADV_COLLAPSE)
		for (size_t off = 0; off < len; off += page)
			p[off] = 1;
	if (emptied) {
		p[0] = 0xa5;
		p[len - 1] = 0x5a;
	}
	/* collapse says EAGAIN for a passing obstacle (a page briefly pinned
	 * or locked); asking again is what the kernel's documentation advises */
	for (int tries = 0; tries < 3; tries++) {
		r = madvise(start, len, ai->value);
		err = errno;
		if (r == 0 || err != EAGAIN || ai->value != MADV_COLLAPSE)
			break;
	}
	if (r == 0 && emptied && (p[0] != 0 || p[len - 1] != 0))
		answer(a, V_FAKE, 0, "fake-success");
	else
		answer_result(a, r == 0, err);
	munmap(map, map_len);
}

/* posix_fadvise(POSIX_FADV_NORMAL) on a temporary file: only whether the
 * syscall is there matters. */
static void probe_fadvise(struct answer *a)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd, r;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof path, "%s/" PROG ".XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 && strcmp(dir, "/tmp") != 0) {
		snprintf(path, sizeof path, "/tmp/" PROG ".XXXXXX");
		fd = mkstemp(path);
	}
	if (fd < 0) {
		answer(a, V_SKIPPED, errno, "not probed (no temporary file: %s)",
		       errno_name(errno));
		return;
	}
	unlink(path);
	r = posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL); /* an error number, not -1 */
	answer_result(a, r == 0, r);
	close(fd);
}

/* process_madvise(MADV_COLD) on one of our own pages, through our own
 * pidfd. */
static void probe_process_madvise(struct answer *a)
{
#ifdef SYS_process_madvise
	struct iovec iov;
	long pidfd = -1, r;
	int pidfd_err = ENOSYS, err;
	void *p;

#ifdef SYS_pidfd_open
	pidfd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
	pidfd_err = errno;
#endif
	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		answer(a, V_SKIPPED, errno, "not probed (no scratch mapping: %s)",
		       errno_name(errno));
		if (pidfd >= 0)
			close((int)pidfd);
		return;
	}
	iov.iov_base = p;
	iov.iov_len = page;
	/* Without a pidfd the call can still tell whether the syscall exists:
	 * a kernel without it says ENOSYS before looking at the descriptor. */
	r = syscall(SYS_process_madvise, pidfd, &iov, 1L, (long)MADV_COLD, 0L);
	err = errno;
	if (pidfd < 0 && !(r < 0 && err == ENOSYS))
		answer(a, V_SKIPPED, pidfd_err, "not probed (pidfd_open: %s)",
		       errno_name(pidfd_err));
	else
		answer_result(a, r >= 0, err);
	munmap(p, page);
	if (pidfd >= 0)
		close((int)pidfd);
#else
	answer(a, V_SKIPPED, 0, "not probed (no syscall number in the headers)");
#endif
}

/* mremap(MREMAP_DONTUNMAP) of a private anonymous page (Linux 5.7).  The
 * fifth argument is passed although MREMAP_FIXED is not set: older glibc
 * hands the kernel whatever the register holds, and the kernel checks it
 * for MREMAP_DONTUNMAP. */
static void probe_dontunmap(struct answer *a)
{
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *moved;

	if (p == MAP_FAILED) {
		answer(a, V_SKIPPED, errno, "not probed (no scratch mapping: %s)",
		       errno_name(errno));
		return;
	}
	moved = mremap(p, page, page, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)NULL);
	answer_result(a, moved != MAP_FAILED, errno);
	if (moved != MAP_FAILED)
		munmap(moved, page);
	munmap(p, page);
}

/* The PROCMAP_QUERY ioctl on /proc/self/maps (Linux 6.11): asks for the
 * first mapping at or after address 0, which always exists. */
static void probe_procmap_query(struct answer *a)
{
	struct shim_procmap_query q;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		answer(a, V_SKIPPED, errno, "not probed (/proc/self/maps: %s)",
		       errno_name(errno));
		return;
	}
	memset(&q, 0, sizeof q);
	q.size = sizeof q;
	q.query_flags = SHIM_PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
	q.query_addr = 0;
	r = ioctl(fd, SHIM_PROCMAP_QUERY, &q);
	answer_result(a, r == 0, errno);
	close(fd);
}

/* "2" from the "Seccomp:" line of /proc/self/status: a filter is active, so
 * some answers may come from it rather than from the kernel. */
static const char *seccomp_mode(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	const char *mode = "unknown";

	if (!f)
		return mode;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Seccomp:", 8) != 0)
			continue;
		switch (atoi(line + 8)) {
		case 0: mode = "none"; break;
		case 1: mode = "strict"; break;
		case 2: mode = "filter"; break;
		}
		break;
	}
	fclose(f);
	return mode;
}

/* ---- everything found ----------------------------------------------------- */

struct report {
	char release[sizeof ((struct utsname *)0)->release];
	char machine[sizeof ((struct utsname *)0)->machine];
	struct answer advice[ADVICE_COUNT];
	struct answer fadvise, process_madvise, dontunmap, procmap_query;
	bool thp, ksm;
	const char *seccomp;
};

static const struct answer *answer_for(const struct report *r, int value)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (advice_table[i].value == value)
			return &r->advice[i];
	return NULL;
}

static void probe_all(struct report *r)
{
	struct utsname u;

	if (uname(&u) == 0) {
		snprintf(r->release, sizeof r->release, "%s", u.release);
		snprintf(r->machine, sizeof r->machine, "%s", u.machine);
	} else {
		snprintf(r->release, sizeof r->release, "unknown");
		snprintf(r->machine, sizeof r->machine, "unknown");
	}
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		probe_advice(&advice_table[i], &r->advice[i]);
	probe_fadvise(&r->fadvise);
	probe_process_madvise(&r->process_madvise);
	probe_dontunmap(&r->dontunmap);
	probe_procmap_query(&r->procmap_query);
	r->thp = access(THP_DIR, F_OK) == 0;
	r->ksm = access(KSM_DIR, F_OK) == 0;
	r->seccomp = seccomp_mode();
}

/* What the shim does with an answer that is not "missing": a value that
 * works is passed straight on; any other error is the kernel's to give. */
static const char *shim_passes(const struct answer *a, char *buf, size_t n)
{
	if (a->verdict == V_SUPPORTED)
		return "native (pass-through)";
	if (a->verdict == V_SKIPPED)
		return "unknown (not probed)";
	snprintf(buf, n, "pass-through (the kernel's %s)", a->text);
	return buf;
}

/* How the shim empties pages where it cannot use the kernel's DONTNEED. */
static const char *shim_empties(const struct report *r)
{
	return r->dontunmap.verdict == V_SUPPORTED ?
		"emulated: pages emptied (mremap DONTUNMAP)" :
		"emulated: pages emptied (remap)";
}

/* The shim's action in its default mode (MADVISE_SHIM_MODE=auto), from the
 * table's emulation kind and the kernel's answer.  Mirrors shim/core/dispatch.c. */
static const char *shim_for_advice(const struct report *r, size_t i, char *buf, size_t n)
{
	const struct advice_info *ai = &advice_table[i];
	const struct answer *a = &r->advice[i];
	const struct answer *dontneed = answer_for(r, MADV_DONTNEED);

	if (ai->emulation == EMU_NEVER)
		return "passed through";
	if (!missing(a))
		return shim_passes(a, buf, n);
	switch (ai->emulation) {
	case EMU_NOOP:
		return "emulated: success without effect";
	case EMU_THP:
		return r->thp ? "emulated: success without effect" :
			"EINVAL (no " THP_DIR ")";
	case EMU_KSM:
		return r->ksm ? "emulated: success without effect" :
			"EINVAL (no " KSM_DIR ")";
	case EMU_DISCARD:
	case EMU_FREE:
		/* FREE and DONTNEED_LOCKED (on unlocked memory) use the
		 * kernel's DONTNEED where it really works */
		if (ai->value != MADV_DONTNEED && dontneed &&
		    dontneed->verdict == V_SUPPORTED)
			return "emulated: kernel DONTNEED";
		return shim_empties(r);
	case EMU_DONTDUMP:
		return "emulated: process made non-dumpable";
	case EMU_REMOVE:
		return "emulated: hole punched in the backing file";
	case EMU_FORK:
		return "emulated: fork handler";
	case EMU_POPULATE:
		return "emulated: pages touched";
	case EMU_GUARD:
		return "emulated: PROT_NONE guard";
	case EMU_NONE:
		return "kernel's error (not emulated)";
	case EMU_NEVER:
		break;
	}
	return "passed through";
}

static const char *shim_for_fadvise(const struct answer *a, char *buf, size_t n)
{
	if (a->verdict == V_ERRNO && a->err == ENOSYS)
		return "emulated: hints succeed, WILLNEED \u2192 readahead";
	return shim_passes(a, buf, n);
}

static const char *shim_for_process_madvise(const struct answer *a, char *buf, size_t n)
{
	if (missing(a))
		return "emulated for the own process";
	return shim_passes(a, buf, n);
}

/* The version as the kernel spells it: a patch level only where the table
 * has one (2.6.16). */
static void format_version(char *buf, size_t n, unsigned kv)
{
	if (kv & 0xff)
		snprintf(buf, n, "%u.%u.%u", kv >> 16, (kv >> 8) & 0xff, kv & 0xff);
	else
		snprintf(buf, n, "%u.%u", kv >> 16, (kv >> 8) & 0xff);
}

/* ---- output ------------------------------------------------------------- */

/* One line of the table.  value < 0: not an advice value. */
struct row {
	char name[40];
	int value;
	char since[16];
	const char *kernel;
	const char *shim;
	char shim_buf[96];
};

#define ROW_COUNT (ADVICE_COUNT + 2)

static void build_rows(const struct report *r, struct row *rows)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		struct row *w = &rows[i];

		snprintf(w->name, sizeof w->name, "MADV_%s", advice_table[i].name);
		w->value = advice_table[i].value;
		format_version(w->since, sizeof w->since, (unsigned)advice_table[i].since);
		w->kernel = r->advice[i].text;
		w->shim = shim_for_advice(r, i, w->shim_buf, sizeof w->shim_buf);
	}
	rows[ADVICE_COUNT] = (struct row){ .name = "posix_fadvise", .value = -1,
					   .since = "2.6", .kernel = r->fadvise.text };
	rows[ADVICE_COUNT].shim = shim_for_fadvise(&r->fadvise, rows[ADVICE_COUNT].shim_buf,
						   sizeof rows[ADVICE_COUNT].shim_buf);
	rows[ADVICE_COUNT + 1] = (struct row){ .name = "process_madvise", .value = -1,
					       .kernel = r->process_madvise.text };
	format_version(rows[ADVICE_COUNT + 1].since, sizeof rows[ADVICE_COUNT + 1].since,
		       KV_PROCESS_MADVISE);
	rows[ADVICE_COUNT + 1].shim =
		shim_for_process_madvise(&r->process_madvise, rows[ADVICE_COUNT + 1].shim_buf,
					 sizeof rows[ADVICE_COUNT + 1].shim_buf);
}

static int width(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

static void print_table(const struct report *r)
{
	static struct row rows[ROW_COUNT];
	int wn = width(0, "ADVICE"), ws = width(0, "SINCE"), wk = width(0, "KERNEL");
	const struct {
		const char *label;
		const char *text;
	} facts[] = {
		{ "mremap MREMAP_DONTUNMAP", r->dontunmap.text },
		{ "PROCMAP_QUERY ioctl", r->procmap_query.text },
		{ "transparent huge pages", r->thp ? "present" : "absent" },
		{ "KSM", r->ksm ? "present" : "absent" },
		{ "seccomp", r->seccomp },
	};
	int wf = 0;

	build_rows(r, rows);
	for (size_t i = 0; i < ROW_COUNT; i++) {
		wn = width(wn, rows[i].name);
		ws = width(ws, rows[i].since);
		wk = width(wk, rows[i].kernel);
	}
	printf("madvise on Linux %s (%s), as seen by this process\n\n",
	       r->release, r->machine);
	printf("%-*s  %5s  %-*s  %-*s  %s\n", wn, "ADVICE", "VALUE", ws, "SINCE",
	       wk, "KERNEL", "SHIM");
	for (size_t i = 0; i < ROW_COUNT; i++) {
		const struct row *w = &rows[i];
		char value[16] = "-";

		if (w->value >= 0)
			snprintf(value, sizeof value, "%d", w->value);
		printf("%-*s  %5s  %-*s  %-*s  %s\n", wn, w->name, value, ws, w->since,
		       wk, w->kernel, w->shim);
	}
	putchar('\n');
	for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
		wf = width(wf, facts[i].label);
	for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
		printf("%-*s  %s\n", wf, facts[i].label, facts[i].text);
}

/* A JSON string: quotes, backslashes and control characters escaped; other
 * bytes as they are (the texts are ASCII or UTF-8). */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_call(const char *key, const struct row *w)
{
	printf("  ");
	json_string(key);
	printf(": {\"since\": ");
	json_string(w->since);
	printf(", \"kernel\": ");
	json_string(w->kernel);
	printf(", \"shim\": ");
	json_string(w->shim);
	printf("},\n");
}

static void print_json(const struct report *r)
{
	static struct row rows[ROW_COUNT];

	build_rows(r, rows);
	printf("{\n  \"kernel\": ");
	json_string(r->release);
	printf(",\n  \"machine\": ");
	json_string(r->machine);
	printf(",\n  \"advice\": [\n");
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		const struct row *w = &rows[i];

		printf("    {\"name\": ");
		json_string(w->name);
		printf(", \"value\": %d, \"since\": ", w->value);
		json_string(w->since);
		printf(", \"kernel\": ");
		json_string(w->kernel);
		printf(", \"shim\": ");
		json_string(w->shim);
		printf("}%s\n", i + 1 < ADVICE_COUNT ? "," : "");
	}
	printf("  ],\n");
	json_call("posix_fadvise", &rows[ADVICE_COUNT]);
	json_call("process_madvise", &rows[ADVICE_COUNT + 1]);
	printf("  \"facts\": {\"mremap_dontunmap\": ");
	json_string(r->dontunmap.text);
	printf(", \"procmap_query\": ");
	json_string(r->procmap_query.text);
	printf(", \"thp\": \"%s\", \"ksm\": \"%s\", \"seccomp\": ",
	       r->thp ? "present" : "absent", r->ksm ? "present" : "absent");
	json_string(r->seccomp);
	printf("}\n}\n");
}

/* ---- main ------------------------------------------------------------------ */

static void print_help(void)
{
	printf("Usage: " PROG " [--json]\n"
	       "\n"
	       "Ask the running kernel, once per advice value, whether it has madvise(2)\n"
	       "with that value, and tell what libmadvise-shim would do with the answer.\n"
	       "Each value is tried on a scratch mapping of this process; nothing else is\n"
	       "touched.  Under a seccomp filter (madvise-sim, containers) the answers\n"
	       "are the filter's, as any program would see them.\n"
	       "\n"
	       "Columns:\n"
	       "  ADVICE   the advice value; the last two rows are posix_fadvise and\n"
	       "           process_madvise (on this process's own pidfd, MADV_COLD)\n"
	       "  VALUE    its number on this architecture\n"
	       "  SINCE    the Linux release that introduced it\n"
	       "  KERNEL   what the kernel answered:\n"
	       "             supported     the call succeeded\n"
	       "             EINVAL        the kernel lacks this advice value\n"
	       "             ENOSYS        the kernel lacks the syscall\n"
	       "             EPERM, ...    another error, e.g. from a seccomp policy\n"
	       "             fake-success  0, but the page was not emptied (DONTNEED,\n"
	       "                           DONTNEED_LOCKED and REMOVE are read back)\n"
	       "             not probed    HWPOISON and SOFT_OFFLINE are never called\n"
	       "  SHIM     what the shim does in its default mode (MADVISE_SHIM_MODE=auto):\n"
	       "             native (pass-through)  the kernel's call, unchanged\n"
	       "             emulated: ...          how it stands in for the kernel\n"
	       "             pass-through (...)     the kernel's answer is passed on\n"
	       "             EINVAL (no ...)        a THP or KSM hint where /sys/kernel/mm\n"
	       "                                    shows no THP or KSM\n"
	       "             kernel's error         the value is not emulated\n"
	       "             passed through         HWPOISON and SOFT_OFFLINE, always\n"
	       "\n"
	       "Below the table: whether mremap(MREMAP_DONTUNMAP) and the PROCMAP_QUERY\n"
	       "ioctl work, whether the kernel has transparent huge pages and KSM\n"
	       "(judged from /sys/kernel/mm, as the shim does), and the seccomp mode.\n"
	       "\n"
	       "Options:\n"
	       "  --json      print one JSON object instead of the table\n"
	       "  -h, --help  show this help\n"
	       "  --version   show the version\n"
	       "\n"
	       "Do not run it with the shim preloaded: the shim would answer instead of\n"
	       "the kernel.  Exit status: 0 whatever the kernel answers, 1 if the output\n"
	       "could not be written, 2 for a usage error.\n");
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	static struct report report;
	bool json = false;
	const char *preload;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--json") == 0) {
			json = true;
		} else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			print_help();
			return fflush(stdout) == 0 ? 0 : 1;
		} else if (strcmp(arg, "--version") == 0) {
			printf(PROG " " MADVISE_PROBE_VERSION "\n");
			return fflush(stdout) == 0 ? 0 : 1;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			usage_error("unknown option '%s' (accepted: --json, --help, --version)",
				    arg);
		} else {
			usage_error("unexpected argument '%s' (it takes no arguments; "
				    "accepted: --json, --help, --version)", arg);
		}
	}

	preload = getenv("LD_PRELOAD");
	if (preload && strstr(preload, "libmadvise-shim"))
		fprintf(stderr, PROG ": warning: LD_PRELOAD has libmadvise-shim, so "
			"the answers below come through the shim, not from the kernel\n");

	page = (size_t)sysconf(_SC_PAGESIZE);
	probe_all(&report);
	if (json)
		print_json(&report);
	else
		print_table(&report);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
