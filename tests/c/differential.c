/* madvise-differential: the differential scenario runner.
 *
 * A scenario is one madvise(2) call on one layout of mappings and one shape
 * of range.  The runner performs it in a freshly forked process and prints
 * what that process can observe afterwards as one canonical line, the record.
 * The same binary runs natively, where the kernel is the oracle, and under
 * madvise-sim with the shim preloaded; tests/differential.bats compares the
 * records.  Nothing in a record depends on addresses chosen by the kernel or
 * on timing, so two runs on the same kernel print the same bytes.
 *
 * The window: WINDOW_PAGES pages at a fixed address, far below where
 * mmap(NULL) puts anything, so that nothing the program, libc or the shim
 * maps later lands in it (and a 1 TiB range from it covers nothing else):
 *
 *   page  0       hole
 *   pages 1-2     N: shared anonymous, read-write, written  (the neighbour)
 *   pages 3-6     T: the mapping under test, as the layout says
 *   page  7       hole
 *   pages 8-9     M: private anonymous, read-write, written
 *   pages 10-11   hole
 *
 * N and T touch, so a range over both spans two mappings.  T is anonymous,
 * shared anonymous (shm), a regular file in $TMPDIR or a memfd, mapped
 * private or shared; its pages get one protection each (rw, r, none, rx),
 * it may be mlocked (mlock, or mlock2 MLOCK_ONFAULT) or MAP_NORESERVE, and a
 * few layouts have advice applied during set-up (through madvise, so through
 * the shim where it is preloaded): a guard page, DONTFORK or WIPEONFORK,
 * possibly followed by a fresh mapping over T, an munmap and a new mapping,
 * or an mremap that moves the advised mapping onto T.  Anonymous T
 * pages 0, 1 and 3 are written, page 2 is left untouched; file-backed T pages
 * 0 and 2 are written (copied, for a private mapping), 1 and 3 keep the
 * file's bytes.  Protections and locks are applied after the writes.
 *
 * The advice: every value in advice_table.h except the TEST class (HWPOISON,
 * SOFT_OFFLINE), and the unknown values -1, 26, 99, 104 and 200.  The
 * scenarios are cross products of advice, layouts and shapes, in groups
 * (build_scenarios): every advice on the main kinds of mapping over the
 * shapes that reach mappings (whole, part, spanning N and T, ending in a
 * hole, across a hole), on the other protections and flags whole and in
 * part, the argument shapes (start in a hole, unaligned, len 0, len 1, 1 TiB,
 * wrapping) on a few layouts, the layouts set up with advice, and the other
 * entry points.
 *
 * The record:
 *
 *   NAME ret=R errno=E data=D,... prot=P,... [child=C,...] dumpable=N res=S
 *
 *   NAME      advice/layout/shape; shapes starting with sys- give the advice
 *             through syscall(SYS_madvise), pm- through process_madvise()
 *             on the process's own pidfd, the others through madvise()
 *   ret       the call's return value (process_madvise: bytes advised)
 *   errno     the errno name after the call, or "kept" when errno still
 *             holds the value it was given before (success must not touch it)
 *   data      per page, what the process reads there:
 *               .  nothing mapped (from /proc/self/smaps)
 *               G  a kernel guard region (/proc/self/pagemap bit 58): told
 *                  apart from "-" because an emulated guard is a PROT_NONE
 *                  page, and the comparison must know which pages the
 *                  kernel guards to accept only those (differential.bats)
 *               -  no access: PROT_NONE or a read that raised SIGSEGV
 *               B  the read raised SIGBUS (a page beyond the end of the file)
 *               Z  all zero
 *               W  the bytes the runner wrote to that page
 *               F  the file's bytes at that page's offset
 *               OZ MADV_FREE only, for private anonymous pages inside the
 *                  range: the old bytes or zero (the kernel frees lazily, an
 *                  emulation may empty the page at once; both are right),
 *                  in the process and in the child view
 *               hXXXXXXXX  anything else: FNV-1a of the page
 *             Pages are read only when the maps say they are readable and
 *             pagemap shows no guard, and then under a SIGSEGV/SIGBUS
 *             handler, so observing never kills the scenario.
 *   prot      per page, the mapping's permissions from /proc/self/smaps
 *             ("rw-p", "r--s", ...), with L appended when VmFlags has lo
 *             (mlocked), O for lf (locked on fault) and N for nr
 *             (MAP_NORESERVE); "." unmapped
 *   child     fork and guard advice, and layouts set up with advice, only:
 *             what a child forked after the call reads, per page, with the
 *             data tokens ("." where the child has no mapping)
 *   dumpable  prctl(PR_GET_DUMPABLE)
 *   res       mincore per page: 1 resident, 0 not, . unmapped, and for
 *             MADV_FREE only
 *               *  a private anonymous page inside the range that was
 *                  resident before the call: the kernel frees it lazily (it
 *                  stays resident until reclaim, which may come at any
 *                  moment), an emulation may free it at once; both are right
 *             A page not resident before the call must not be after it.
 *             DONTNEED, DONTNEED_LOCKED, REMOVE and GUARD_INSTALL free what
 *             they free at once, so their residency is compared as is: an
 *             emulation that empties pages without freeing them differs.
 *             Compared for every advice but PAGEOUT, whose result the
 *             scenario does not decide: whether a page goes depends on swap
 *             (anonymous pages stay without it), on writeback (a dirty file
 *             page stays until it is clean, and the file was just written)
 *             and on other mappings of the page, and the shim's PAGEOUT is
 *             a hint that frees nothing.  PAGEOUT prints "~res", which
 *             comparisons ignore unless strict.  The window's mappings are
 *             too small for a PMD-sized transparent huge page, so THP
 *             (always or madvise) puts no unwritten page in memory; a
 *             smaller multi-size one, where enabled, forms natively and
 *             under the shim alike (the kernel faults the pages in both).
 *
 * A scenario whose process dies prints "NAME crashed=HOW" (a signal name,
 * exit-N, timeout or no-record); one whose set-up fails prints
 * "NAME setup=STEP:ERRNO".  Both are records like any other.
 *
 * Usage: madvise-differential [--list] [--seed N] [--timeout SEC] [--warm]
 *                             [--crash GLOB] [--hang GLOB] [GLOB...]
 *   GLOB         run (or list) only the scenarios whose name matches one
 *   --list       print the scenario names, run nothing
 *   --seed N     run in an order shuffled by N and derive the written bytes
 *                from N (records do not change; hXXXXXXXX hashes do)
 *   --timeout S  a scenario still running after S seconds is killed (10)
 *   --warm       first give the same advice with len 0 (no effect on any
 *                kernel), so that a shim has learnt whether the kernel has it
 *                and the scenario's call takes its cached path
 *   --crash GLOB, --hang GLOB
 *                for testing the runner: those scenarios fault on an
 *                unmapped page, or sleep forever, before their madvise call
 * Exit status: 0 when every selected scenario printed a record, 2 on a usage
 * error or when no scenario matches.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "names.h"

#include "advice_table.h"

/* ---- the window ------------------------------------------------------ */

#define WINDOW_ADDR ((uintptr_t)0x100000000000ULL)
#define WINDOW_PAGES 12
#define N_FIRST 1
#define N_PAGES 2
#define T_FIRST 3
#define T_PAGES 4
#define M_FIRST 8
#define M_PAGES 2
#define T_FILE_PAGE 2   /* T maps the file from this page on */
#define FILE_PAGES 8    /* the file's length, in pages */
#define NO_ADVICE INT_MIN

enum role { ROLE_HOLE, ROLE_N, ROLE_T, ROLE_M };

static enum role page_role(int i)
{
	if (i >= N_FIRST && i < N_FIRST + N_PAGES)
		return ROLE_N;
	if (i >= T_FIRST && i < T_FIRST + T_PAGES)
		return ROLE_T;
	if (i >= M_FIRST && i < M_FIRST + M_PAGES)
		return ROLE_M;
	return ROLE_HOLE;
}

static size_t pg;
static uint64_t seed = 0x6469666621ULL;

static char *page_addr(int i)
{
	return (char *)WINDOW_ADDR + (size_t)i * pg;
}

/* ---- layouts ----------------------------------------------------------- */

enum backing { BK_ANON, BK_FILE, BK_MEMFD };

/* What happens to T after the set-up advice, so that the mapping the
 * scenario advises is not the one the set-up advice went to (a shim that
 * records advice must notice). */
enum then {
	THEN_KEEP,     /* nothing */
	THEN_REMAP,    /* a fresh mapping is put over T with MAP_FIXED */
	THEN_UNMAP,    /* T is unmapped, then mapped afresh */
	THEN_MOVED,    /* the advice went to a mapping elsewhere, which mremap
			* then moved onto T (the advice moves with it) */
};

#define RW (PROT_READ | PROT_WRITE)
#define RO PROT_READ
#define NO PROT_NONE
#define RX (PROT_READ | PROT_EXEC)
#define ALL4(p) { p, p, p, p }

struct layout {
	const char *name;
	enum backing backing;
	bool shared;
	int prot[T_PAGES];
	bool locked;
	bool lock_onfault;   /* locked with mlock2(MLOCK_ONFAULT) */
	bool noreserve;
	bool short_file;     /* the file ends before T's last page */
	int pre_advice;      /* applied during set-up, or NO_ADVICE */
	int pre_first, pre_pages;  /* T pages it is applied to */
	enum then then;
};

#define L_PLAIN .pre_advice = NO_ADVICE
static const struct layout layouts[] = {
	{ "anon-rw", BK_ANON, false, ALL4(RW), L_PLAIN },
	{ "anon-r", BK_ANON, false, ALL4(RO), L_PLAIN },
	{ "anon-none", BK_ANON, false, ALL4(NO), L_PLAIN },
	{ "anon-rx", BK_ANON, false, ALL4(RX), L_PLAIN },
	{ "anon-mixed", BK_ANON, false, { RW, NO, RO, RX }, L_PLAIN },
	{ "anon-rw-locked", BK_ANON, false, ALL4(RW), .locked = true, L_PLAIN },
	{ "anon-rw-lockonfault", BK_ANON, false, ALL4(RW), .locked = true,
	  .lock_onfault = true, L_PLAIN },
	{ "anon-rw-noreserve", BK_ANON, false, ALL4(RW), .noreserve = true, L_PLAIN },
	{ "shm-rw", BK_ANON, true, ALL4(RW), L_PLAIN },
	{ "shm-r", BK_ANON, true, ALL4(RO), L_PLAIN },
	{ "shm-rw-locked", BK_ANON, true, ALL4(RW), .locked = true, L_PLAIN },
	{ "file-priv-rw", BK_FILE, false, ALL4(RW), L_PLAIN },
	{ "file-priv-r", BK_FILE, false, ALL4(RO), L_PLAIN },
	{ "file-priv-none", BK_FILE, false, ALL4(NO), L_PLAIN },
	{ "file-priv-rx", BK_FILE, false, ALL4(RX), L_PLAIN },
	{ "file-priv-rw-locked", BK_FILE, false, ALL4(RW), .locked = true, L_PLAIN },
	{ "file-shared-rw", BK_FILE, true, ALL4(RW), L_PLAIN },
	{ "file-shared-r", BK_FILE, true, ALL4(RO), L_PLAIN },
	{ "file-shared-rw-locked", BK_FILE, true, ALL4(RW), .locked = true, L_PLAIN },
	{ "file-shared-short", BK_FILE, true, ALL4(RW), .short_file = true, L_PLAIN },
	{ "memfd-priv-rw", BK_MEMFD, false, ALL4(RW), L_PLAIN },
	{ "memfd-shared-rw", BK_MEMFD, true, ALL4(RW), L_PLAIN },
	{ "memfd-shared-none", BK_MEMFD, true, ALL4(NO), L_PLAIN },
	/* set up with advice: the first of these install a guard region on
	 * T's page 1, the others mark the whole of T for fork */
	{ "anon-rw+guard", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_GUARD_INSTALL, .pre_first = 1, .pre_pages = 1 },
	{ "file-priv-rw+guard", BK_FILE, false, ALL4(RW),
	  .pre_advice = MADV_GUARD_INSTALL, .pre_first = 1, .pre_pages = 1 },
	{ "anon-rw+wipeonfork", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_WIPEONFORK, .pre_first = 0, .pre_pages = T_PAGES },
	{ "anon-rw+dontfork", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_DONTFORK, .pre_first = 0, .pre_pages = T_PAGES },
	{ "shm-rw+dontfork", BK_ANON, true, ALL4(RW),
	  .pre_advice = MADV_DONTFORK, .pre_first = 0, .pre_pages = T_PAGES },
	/* the advised mapping replaced, or moved into place */
	{ "anon-rw+guard+remap", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_GUARD_INSTALL, .pre_first = 1, .pre_pages = 1,
	  .then = THEN_REMAP },
	{ "anon-rw+dontfork+remap", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_DONTFORK, .pre_first = 0, .pre_pages = T_PAGES,
	  .then = THEN_REMAP },
	{ "anon-rw+wipeonfork+unmap", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_WIPEONFORK, .pre_first = 0, .pre_pages = T_PAGES,
	  .then = THEN_UNMAP },
	{ "anon-rw+guard+moved", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_GUARD_INSTALL, .pre_first = 1, .pre_pages = 1,
	  .then = THEN_MOVED },
	{ "anon-rw+dontfork+moved", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_DONTFORK, .pre_first = 0, .pre_pages = T_PAGES,
	  .then = THEN_MOVED },
	{ "anon-rw+wipeonfork+moved", BK_ANON, false, ALL4(RW),
	  .pre_advice = MADV_WIPEONFORK, .pre_first = 0, .pre_pages = T_PAGES,
	  .then = THEN_MOVED },
};
#define NLAYOUTS (sizeof layouts / sizeof layouts[0])

static const struct layout *layout_named(const char *name)
{
	for (size_t i = 0; i < NLAYOUTS; i++)
		if (!strcmp(layouts[i].name, name))
			return &layouts[i];
	fprintf(stderr, "madvise-differential: no layout %s\n", name);
	exit(2);
}

static bool t_page_written(const struct layout *l, int t)
{
	if (l->backing == BK_ANON)
		return t != 2;
	return t == 0 || t == 2;
}

static bool t_page_beyond_eof(const struct layout *l, int t)
{
	return l->short_file && t == T_PAGES - 1;
}

/* A page whose contents MADV_FREE may drop: private anonymous. */
static bool page_freeable(const struct layout *l, int i)
{
	switch (page_role(i)) {
	case ROLE_M:
		return true;
	case ROLE_T:
		return l->backing == BK_ANON && !l->shared;
	default:
		return false;
	}
}

/* ---- shapes of range ----------------------------------------------------- */

/* How the advice is given. */
enum entry {
	ENTRY_MADVISE,   /* madvise() */
	ENTRY_SYSCALL,   /* syscall(SYS_madvise, ...) */
	ENTRY_PM,        /* process_madvise() on the process's own pidfd, one iovec */
};

struct shape {
	const char *name;
	int page;           /* first page in the window */
	size_t byte;        /* bytes added to the start */
	long len_pages;
	size_t len_bytes;   /* len = len_pages pages + len_bytes */
	bool wrap;          /* len = minus one page: start + len wraps */
	enum entry entry;
};

static const struct shape shapes[] = {
	{ "all", T_FIRST, 0, T_PAGES, 0, false, ENTRY_MADVISE },
	{ "part", T_FIRST + 1, 0, 2, 0, false, ENTRY_MADVISE },
	{ "span", N_FIRST, 0, N_PAGES + 2, 0, false, ENTRY_MADVISE },
	{ "ends-in-hole", T_FIRST + 2, 0, 3, 0, false, ENTRY_MADVISE },
	{ "hole-between", T_FIRST + 2, 0, 5, 0, false, ENTRY_MADVISE },
	{ "start-in-hole", 0, 0, 4, 0, false, ENTRY_MADVISE },
	{ "unaligned", T_FIRST, 1, 1, 0, false, ENTRY_MADVISE },
	{ "len0", T_FIRST, 0, 0, 0, false, ENTRY_MADVISE },
	{ "len1", T_FIRST, 0, 0, 1, false, ENTRY_MADVISE },
	{ "huge", T_FIRST, 0, 0, (size_t)1 << 40, false, ENTRY_MADVISE },
	{ "wrap", T_FIRST, 0, 0, 0, true, ENTRY_MADVISE },
	/* the other entry points */
	{ "sys-all", T_FIRST, 0, T_PAGES, 0, false, ENTRY_SYSCALL },
	{ "sys-hole-between", T_FIRST + 2, 0, 5, 0, false, ENTRY_SYSCALL },
	{ "pm-all", T_FIRST, 0, T_PAGES, 0, false, ENTRY_PM },
	{ "pm-hole-between", T_FIRST + 2, 0, 5, 0, false, ENTRY_PM },
	{ "pm-unaligned", T_FIRST, 1, 1, 0, false, ENTRY_PM },
	{ "pm-len0", T_FIRST, 0, 0, 0, false, ENTRY_PM },
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static const struct shape *shape_named(const char *name)
{
	for (size_t i = 0; i < NSHAPES; i++)
		if (!strcmp(shapes[i].name, name))
			return &shapes[i];
	fprintf(stderr, "madvise-differential: no shape %s\n", name);
	exit(2);
}

static size_t shape_len(const struct shape *s)
{
	if (s->wrap)
		return (size_t)0 - pg;
	return (size_t)s->len_pages * pg + s->len_bytes;
}

/* ---- advice values -------------------------------------------------------- */

struct advice {
	char name[32];
	int value;
	bool fork;          /* FORK class: a child's view is part of the record */
	bool res_promised;  /* residency is compared */
};

static struct advice advices[ADVICE_COUNT + 8];
static size_t nadvices;
static struct advice unknowns[5];

static void add_advice(struct advice *a, const char *name, int value,
		       enum advice_class class)
{
	snprintf(a->name, sizeof a->name, "%s", name);
	for (char *c = a->name; *c; c++)
		*c = *c == '_' ? '-' : (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	a->value = value;
	a->fork = class == CLASS_FORK;
	/* see "res" at the top: PAGEOUT's result depends on swap and
	 * writeback, not on the scenario */
	a->res_promised = value != MADV_PAGEOUT;
}

static void build_advices(void)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		const struct advice_info *a = &advice_table[i];
		if (a->class == CLASS_TEST)
			continue;
		add_advice(&advices[nadvices++], a->name, a->value, a->class);
	}
	static const struct {
		const char *name;
		int value;
	} unk[] = {
		{ "unknown-neg1", -1 },     /* negative */
		{ "unknown-26", 26 },       /* after MADV_COLLAPSE */
		{ "unknown-99", 99 },       /* before MADV_HWPOISON */
		{ "unknown-104", 104 },     /* after MADV_GUARD_REMOVE */
		{ "unknown-200", 200 },     /* beyond the shim's state array */
	};
	for (size_t i = 0; i < sizeof unk / sizeof unk[0]; i++)
		add_advice(&unknowns[i], unk[i].name, unk[i].value, CLASS_HINT);
}

/* ---- scenarios --------------------------------------------------------------- */

struct scenario {
	char name[96];
	const struct advice *adv;
	const struct layout *lay;
	const struct shape *shp;
};

static struct scenario *scenarios;
static size_t nscenarios, capscenarios;

static void add_scenario(const struct advice *a, const struct layout *l,
			 const struct shape *s)
{
	if (nscenarios == capscenarios) {
		capscenarios = capscenarios ? 2 * capscenarios : 1024;
		scenarios = realloc(scenarios, capscenarios * sizeof *scenarios);
		if (!scenarios) {
			perror("madvise-differential: realloc");
			exit(2);
		}
	}
	struct scenario *sc = &scenarios[nscenarios++];
	snprintf(sc->name, sizeof sc->name, "%s/%s/%s", a->name, l->name, s->name);
	sc->adv = a;
	sc->lay = l;
	sc->shp = s;
}

/* add_group(advice list, layout names, shape names): the cross product. */
static void add_group(const struct advice *adv, size_t nadv,
		      const char *const *lays, const char *const *shps)
{
	for (size_t a = 0; a < nadv; a++)
		for (const char *const *l = lays; *l; l++)
			for (const char *const *s = shps; *s; s++)
				add_scenario(&adv[a], layout_named(*l), shape_named(*s));
}

static void build_scenarios(void)
{
	/* Every advice on the main kinds of mapping, over every shape that
	 * reaches mappings; on the other protections and flags over the whole
	 * mapping and a part of it (which splits it). */
	static const char *const main_kinds[] = {
		"anon-rw", "anon-mixed", "anon-rw-locked", "shm-rw",
		"file-priv-rw", "file-priv-rw-locked", "file-shared-rw",
		"memfd-priv-rw", "memfd-shared-rw", NULL,
	};
	static const char *const mapped_shapes[] = {
		"all", "part", "span", "ends-in-hole", "hole-between", NULL,
	};
	static const char *const variants[] = {
		"anon-r", "anon-none", "anon-rx", "anon-rw-lockonfault",
		"anon-rw-noreserve", "shm-r",
		"shm-rw-locked", "file-priv-r", "file-priv-none", "file-priv-rx",
		"file-shared-r", "file-shared-rw-locked", "file-shared-short",
		"memfd-shared-none", NULL,
	};
	static const char *const whole_or_part[] = { "all", "part", NULL };
	/* the argument checks, which come before any mapping is looked at */
	static const char *const arg_layouts[] = { "anon-rw", "file-priv-rw", NULL };
	static const char *const arg_shapes[] = {
		"start-in-hole", "unaligned", "len0", "len1", "huge", "wrap", NULL,
	};
	static const char *const unknown_layouts[] = {
		"anon-rw", "file-shared-rw", NULL,
	};
	static const char *const unknown_shapes[] = {
		"all", "unaligned", "len0", "huge", NULL,
	};
	/* mappings that carry earlier advice */
	static const char *const advised[] = {
		"anon-rw+guard", "file-priv-rw+guard", "anon-rw+wipeonfork",
		"anon-rw+dontfork", "shm-rw+dontfork", NULL,
	};
	/* ... and mappings put where advised ones were, or moved there */
	static const char *const replaced[] = {
		"anon-rw+guard+remap", "anon-rw+dontfork+remap",
		"anon-rw+wipeonfork+unmap", "anon-rw+guard+moved",
		"anon-rw+dontfork+moved", "anon-rw+wipeonfork+moved", NULL,
	};
	static const char *const whole[] = { "all", NULL };
	/* syscall() and process_madvise() */
	static const char *const entry_layouts[] = {
		"anon-rw", "shm-rw", "file-priv-rw", NULL,
	};
	static const char *const entry_shapes[] = {
		"sys-all", "sys-hole-between", "pm-all", "pm-hole-between",
		"pm-unaligned", "pm-len0", NULL,
	};
	static const char *const entry_unknown_shapes[] = {
		"sys-all", "pm-all", NULL,
	};
	static const char *const anon_rw[] = { "anon-rw", NULL };

	add_group(advices, nadvices, main_kinds, mapped_shapes);
	add_group(advices, nadvices, variants, whole_or_part);
	add_group(advices, nadvices, arg_layouts, arg_shapes);
	add_group(unknowns, sizeof unknowns / sizeof unknowns[0], unknown_layouts,
		  unknown_shapes);
	add_group(advices, nadvices, advised, whole_or_part);
	add_group(advices, nadvices, replaced, whole);
	add_group(advices, nadvices, entry_layouts, entry_shapes);
	add_group(unknowns, sizeof unknowns / sizeof unknowns[0], anon_rw,
		  entry_unknown_shapes);
}

/* Fork advice changes what a child sees; guard regions are inherited (or
 * not) by a child too, and layouts set up with advice carry it. */
static bool wants_child_view(const struct scenario *s)
{
	int v = s->adv->value;
	return s->adv->fork || v == MADV_GUARD_INSTALL || v == MADV_GUARD_REMOVE ||
	       s->lay->pre_advice != NO_ADVICE;
}

/* ---- deterministic bytes ------------------------------------------------------ */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The bytes of page PAGE of kind TAG ('W' written to a window page, 'F' a
 * file page). */
static void fill_pattern(unsigned char *buf, char tag, int page)
{
	uint64_t x = seed ^ ((uint64_t)(unsigned char)tag << 40) ^ (uint64_t)page << 8;
	for (size_t j = 0; j < pg; j += 8) {
		uint64_t v = splitmix(&x);
		memcpy(buf + j, &v, 8);
	}
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* ---- records ------------------------------------------------------------------------ */

struct rec {
	char buf[2048];
	size_t len;
};

static void __attribute__((format(printf, 2, 3)))
rec_add(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n < sizeof r->buf - r->len ? (size_t)n
							      : sizeof r->buf - r->len - 1;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* ---- set-up (in the scenario's process) ---------------------------------------------- */

static const char *setup_step;
static int setup_errno;

static bool fail_step(const char *step)
{
	setup_step = step;
	setup_errno = errno;
	return false;
}

static int make_backing_file(const struct layout *l)
{
	int fd;
	if (l->backing == BK_MEMFD) {
		fd = memfd_create("differential", MFD_CLOEXEC);
	} else {
		const char *dir = getenv("TMPDIR");
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/differential.XXXXXX",
			 dir && *dir ? dir : "/tmp");
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -1;
	int pages = l->short_file ? T_FILE_PAGE + T_PAGES - 1 : FILE_PAGES;
	unsigned char *buf = malloc(pg);
	if (!buf) {
		close(fd);
		return -1;
	}
	for (int k = 0; k < pages; k++) {
		fill_pattern(buf, 'F', k);
		if (pwrite(fd, buf, pg, (off_t)k * (off_t)pg) != (ssize_t)pg) {
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	return fd;
}

static bool map_fixed(int first, int pages, int prot, int flags, int fd, off_t off)
{
	void *want = page_addr(first);
	void *got = mmap(want, (size_t)pages * pg, prot, flags | MAP_FIXED, fd, off);
	return got == want;
}

static void write_page(int i)
{
	fill_pattern((unsigned char *)page_addr(i), 'W', i);
}

/* Private anonymous pages, advised at SCRATCH_ADDR and then moved onto T
 * by mremap (over the T set up already). */
#define SCRATCH_ADDR (WINDOW_ADDR + ((uintptr_t)64 << 20))

static bool setup_moved(const struct layout *l)
{
	size_t len = T_PAGES * pg;
	char *s = mmap((void *)SCRATCH_ADDR, len, RW,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (s != (char *)SCRATCH_ADDR)
		return fail_step("mmap-scratch");
	for (int t = 0; t < T_PAGES; t++)
		if (t_page_written(l, t))
			fill_pattern((unsigned char *)s + (size_t)t * pg, 'W', T_FIRST + t);
	if (madvise(s + (size_t)l->pre_first * pg, (size_t)l->pre_pages * pg,
		    l->pre_advice))
		return fail_step("pre-advice");
	if (mremap(s, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, page_addr(T_FIRST)) !=
	    page_addr(T_FIRST))
		return fail_step("mremap");
	return true;
}

static bool setup_layout(const struct layout *l)
{
	void *w = mmap((void *)WINDOW_ADDR, WINDOW_PAGES * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (w != (void *)WINDOW_ADDR)
		return fail_step("reserve");

	if (!map_fixed(N_FIRST, N_PAGES, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0))
		return fail_step("mmap-n");
	for (int i = N_FIRST; i < N_FIRST + N_PAGES; i++)
		write_page(i);

	int flags = l->shared ? MAP_SHARED : MAP_PRIVATE;
	if (l->noreserve)
		flags |= MAP_NORESERVE;
	if (l->backing == BK_ANON) {
		if (!map_fixed(T_FIRST, T_PAGES, RW, flags | MAP_ANONYMOUS, -1, 0))
			return fail_step("mmap-t");
	} else {
		int fd = make_backing_file(l);
		if (fd < 0)
			return fail_step("file");
		bool ok = map_fixed(T_FIRST, T_PAGES, RW, flags, fd,
				    (off_t)T_FILE_PAGE * (off_t)pg);
		close(fd);
		if (!ok)
			return fail_step("mmap-t");
	}
	for (int t = 0; t < T_PAGES; t++)
		if (t_page_written(l, t) && !t_page_beyond_eof(l, t))
			write_page(T_FIRST + t);

	if (!map_fixed(M_FIRST, M_PAGES, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
		return fail_step("mmap-m");
	for (int i = M_FIRST; i < M_FIRST + M_PAGES; i++)
		write_page(i);

	for (int i = 0; i < WINDOW_PAGES; i++)
		if (page_role(i) == ROLE_HOLE && munmap(page_addr(i), pg))
			return fail_step("munmap-hole");

	for (int t = 0; t < T_PAGES; t++)
		if (l->prot[t] != RW &&
		    mprotect(page_addr(T_FIRST + t), pg, l->prot[t]))
			return fail_step("mprotect");
	if (l->locked && !l->lock_onfault && mlock(page_addr(T_FIRST), T_PAGES * pg))
		return fail_step("mlock");
	if (l->lock_onfault &&
	    mlock2(page_addr(T_FIRST), T_PAGES * pg, MLOCK_ONFAULT))
		return fail_step("mlock2");
	if (l->pre_advice == NO_ADVICE)
		return true;
	if (l->then == THEN_MOVED)
		return setup_moved(l);
	if (madvise(page_addr(T_FIRST + l->pre_first), (size_t)l->pre_pages * pg,
		    l->pre_advice))
		return fail_step("pre-advice");
	if (l->then == THEN_UNMAP && munmap(page_addr(T_FIRST), T_PAGES * pg))
		return fail_step("unmap-t");
	if (l->then == THEN_REMAP || l->then == THEN_UNMAP) {
		/* private anonymous layouts only */
		if (!map_fixed(T_FIRST, T_PAGES, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
			return fail_step("remap-t");
		for (int t = 0; t < T_PAGES; t++)
			if (t_page_written(l, t))
				write_page(T_FIRST + t);
	}
	return true;
}

/* What a page held right after set-up, as a data token. */
static const char *initial_token(const struct layout *l, int i)
{
	switch (page_role(i)) {
	case ROLE_HOLE:
		return ".";
	case ROLE_N:
	case ROLE_M:
		return "W";
	case ROLE_T:
		break;
	}
	int t = i - T_FIRST;
	if (!(l->prot[t] & PROT_READ))
		return "-";
	if (t_page_beyond_eof(l, t))
		return "B";
	if (t_page_written(l, t))
		return "W";
	return l->backing == BK_ANON ? "Z" : "F";
}

/* ---- observing ------------------------------------------------------------------------- */

struct page_obs {
	bool mapped, readable, guard;
	char prot[12];
	char res;
};

static void observe_maps(struct page_obs *o)
{
	for (int i = 0; i < WINDOW_PAGES; i++) {
		o[i].mapped = o[i].readable = false;
		strcpy(o[i].prot, ".");
	}
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return;
	char line[1024];
	int first = 0, last = -1;  /* window pages of the current mapping */
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		int consumed = 0;
		if (sscanf(line, "%lx-%lx %7s %n", &lo, &hi, perms, &consumed) == 3 &&
		    consumed > 0) {
			uintptr_t wlo = WINDOW_ADDR, whi = WINDOW_ADDR + WINDOW_PAGES * pg;
			first = 0;
			last = -1;
			if (hi <= wlo || lo >= whi)
				continue;
			uintptr_t a = lo > wlo ? lo : wlo, b = hi < whi ? hi : whi;
			first = (int)((a - wlo) / pg);
			last = (int)((b - wlo) / pg) - 1;
			for (int i = first; i <= last; i++) {
				o[i].mapped = true;
				o[i].readable = perms[0] == 'r';
				snprintf(o[i].prot, sizeof o[i].prot, "%.4s", perms);
			}
		} else if (!strncmp(line, "VmFlags:", 8) && last >= first) {
			bool locked = false, onfault = false, noreserve = false;
			for (char *tok = strtok(line + 8, " \n"); tok; tok = strtok(NULL, " \n")) {
				if (!strcmp(tok, "lo"))
					locked = true;
				else if (!strcmp(tok, "lf"))
					onfault = true;
				else if (!strcmp(tok, "nr"))
					noreserve = true;
			}
			for (int i = first; i <= last; i++) {
				size_t n = strlen(o[i].prot);
				if (locked)
					o[i].prot[n++] = 'L';
				if (onfault)
					o[i].prot[n++] = 'O';
				if (noreserve)
					o[i].prot[n++] = 'N';
				o[i].prot[n] = 0;
			}
			last = -1;
		}
	}
	fclose(f);
}

/* Guard regions (Linux 6.13+) look readable in the maps; pagemap shows them. */
static void observe_guards(struct page_obs *o)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < WINDOW_PAGES; i++) {
		uint64_t v = 0;
		o[i].guard = false;
		if (fd >= 0 && o[i].mapped &&
		    pread(fd, &v, sizeof v,
			  (off_t)((uintptr_t)page_addr(i) / pg * sizeof v)) == sizeof v)
			o[i].guard = (v >> 58) & 1;
	}
	if (fd >= 0)
		close(fd);
}

static void observe_residency(struct page_obs *o)
{
	for (int i = 0; i < WINDOW_PAGES; i++) {
		unsigned char v = 0;
		if (mincore(page_addr(i), pg, &v))
			o[i].res = errno == ENOMEM ? '.' : '?';
		else
			o[i].res = (v & 1) ? '1' : '0';
	}
}

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jmp, sig);
	}
	/* a fault outside a guarded read: die of it, so it is reported */
	signal(sig, SIG_DFL);
}

static void install_fault_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* Copies one page; 0, or the signal the read raised. */
static int guarded_copy(unsigned char *dst, const unsigned char *src)
{
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig)
		return sig;
	fault_armed = 1;
	memcpy(dst, src, pg);
	fault_armed = 0;
	return 0;
}

static const struct layout *cur_layout;

static void data_token(char *tok, size_t n, const struct page_obs *o, int i,
		       unsigned char *buf, unsigned char *want)
{
	if (!o->mapped) {
		snprintf(tok, n, ".");
		return;
	}
	if (o->guard) {
		snprintf(tok, n, "G");
		return;
	}
	if (!o->readable) {
		snprintf(tok, n, "-");
		return;
	}
	int sig = guarded_copy(buf, (const unsigned char *)page_addr(i));
	if (sig) {
		snprintf(tok, n, "%s", sig == SIGBUS ? "B" : "-");
		return;
	}
	bool zero = true;
	for (size_t j = 0; j < pg && zero; j++)
		zero = buf[j] == 0;
	if (zero) {
		snprintf(tok, n, "Z");
		return;
	}
	fill_pattern(want, 'W', i);
	if (!memcmp(buf, want, pg)) {
		snprintf(tok, n, "W");
		return;
	}
	if (page_role(i) == ROLE_T && cur_layout->backing != BK_ANON) {
		fill_pattern(want, 'F', T_FILE_PAGE + i - T_FIRST);
		if (!memcmp(buf, want, pg)) {
			snprintf(tok, n, "F");
			return;
		}
	}
	snprintf(tok, n, "h%08x", fnv1a(buf, pg));
}

typedef char token_t[16];

static void read_tokens(const struct page_obs *o, token_t *tok)
{
	static unsigned char *buf, *want;
	if (!buf) {
		buf = malloc(pg);
		want = malloc(pg);
		if (!buf || !want)
			abort();
	}
	for (int i = 0; i < WINDOW_PAGES; i++)
		data_token(tok[i], sizeof tok[i], &o[i], i, buf, want);
}

static void rec_tokens(struct rec *r, const char *field, token_t *tok)
{
	rec_add(r, " %s=", field);
	for (int i = 0; i < WINDOW_PAGES; i++)
		rec_add(r, "%s%s", i ? "," : "", tok[i]);
}

/* What a child forked now reads, as data tokens; NULL with *why set when
 * the child could not tell. */
static token_t *child_view(token_t *tok, const char **why)
{
	int p[2];
	if (pipe(p)) {
		*why = "pipe-failed";
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		*why = "fork-failed";
		return NULL;
	}
	if (pid == 0) {
		close(p[0]);
		struct page_obs o[WINDOW_PAGES];
		observe_maps(o);
		observe_guards(o);
		read_tokens(o, tok);
		write_all(p[1], (const char *)tok, WINDOW_PAGES * sizeof *tok);
		_exit(0);
	}
	close(p[1]);
	size_t len = 0, want = WINDOW_PAGES * sizeof *tok;
	while (len < want) {
		ssize_t n = read(p[0], (char *)tok + len, want - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		static char how[32];
		snprintf(how, sizeof how, "crashed-%s", signal_name(WTERMSIG(status)));
		*why = how;
		return NULL;
	}
	if (len < want) {
		*why = "no-record";
		return NULL;
	}
	for (int i = 0; i < WINDOW_PAGES; i++)
		tok[i][sizeof tok[i] - 1] = 0;
	return tok;
}

/* Whether window page i lies inside the range madvise was given, for a
 * well-formed call (an unaligned or wrapping one advises nothing). */
static bool page_in_range(int i, uintptr_t start, size_t len)
{
	if (start % pg)
		return false;
	size_t rounded = (len + pg - 1) / pg * pg;
	if (len && !rounded)
		return false;
	uintptr_t end = start + rounded;
	if (end < start)
		return false;
	uintptr_t a = (uintptr_t)page_addr(i);
	return a >= start && a < end;
}

/* MADV_FREE frees lazily: each private anonymous page in the range reads
 * its old bytes until reclaim, zero after, so either is printed as OZ (in
 * the process and in a child forked after the call). */
static void free_class(const struct scenario *s, token_t *tok, uintptr_t start,
		       size_t len)
{
	for (int i = 0; i < WINDOW_PAGES; i++)
		if (page_freeable(s->lay, i) && page_in_range(i, start, len) &&
		    (!strcmp(tok[i], "Z") || !strcmp(tok[i], initial_token(s->lay, i))))
			snprintf(tok[i], sizeof tok[i], "OZ");
}

/* MADV_FREE's residency (see "res" at the top): each private anonymous page
 * in the range that was resident before the call may be resident or not
 * after it, printed as '*'; any other page keeps what mincore said. */
static void free_res_class(const struct scenario *s, struct page_obs *o,
			   const struct page_obs *before, uintptr_t start, size_t len)
{
	for (int i = 0; i < WINDOW_PAGES; i++)
		if (page_freeable(s->lay, i) && page_in_range(i, start, len) &&
		    before[i].res == '1' && (o[i].res == '0' || o[i].res == '1'))
			o[i].res = '*';
}

static const char *crash_glob, *hang_glob;
static bool warm;

static void run_scenario(const struct scenario *s, int out)
{
	struct rec r = { .len = 0 };
	rec_add(&r, "%s", s->name);
	cur_layout = s->lay;
	install_fault_handlers();
	if (!setup_layout(s->lay)) {
		rec_add(&r, " setup=%s:%s\n", setup_step, errno_name(setup_errno));
		write_all(out, r.buf, r.len);
		return;
	}

	uintptr_t start = (uintptr_t)page_addr(s->shp->page) + s->shp->byte;
	size_t len = shape_len(s->shp);
	if (crash_glob && !fnmatch(crash_glob, s->name, 0))
		*(volatile char *)page_addr(0) = 1;
	if (hang_glob && !fnmatch(hang_glob, s->name, 0))
		for (;;)
			pause();
	if (warm)
		madvise(page_addr(0), 0, s->adv->value);
	int pidfd = -1;
	if (s->shp->entry == ENTRY_PM && (pidfd = pidfd_open(getpid(), 0)) < 0) {
		rec_add(&r, " setup=pidfd_open:%s\n", errno_name(errno));
		write_all(out, r.buf, r.len);
		return;
	}
	/* what was resident before, for FREE (free_res_class); mincore
	 * faults nothing in */
	struct page_obs before[WINDOW_PAGES];
	observe_residency(before);
	struct iovec iov = { (void *)start, len };
	long ret;
	errno = SENTINEL_ERRNO;
	switch (s->shp->entry) {
	case ENTRY_SYSCALL:
		ret = syscall(SYS_madvise, start, len, s->adv->value);
		break;
	case ENTRY_PM:
		ret = process_madvise(pidfd, &iov, 1, s->adv->value, 0);
		break;
	default:
		ret = madvise((void *)start, len, s->adv->value);
		break;
	}
	int err = errno;
	if (pidfd >= 0)
		close(pidfd);

	/* residency first: reading a page faults it in */
	struct page_obs o[WINDOW_PAGES];
	observe_residency(o);
	observe_maps(o);
	observe_guards(o);

	token_t child_tok[WINDOW_PAGES], *child = NULL;
	const char *child_why = NULL;
	if (wants_child_view(s))
		child = child_view(child_tok, &child_why);

	token_t tok[WINDOW_PAGES];
	read_tokens(o, tok);
	if (s->adv->value == MADV_FREE) {
		free_res_class(s, o, before, start, len);
		free_class(s, tok, start, len);
		if (child)
			free_class(s, child, start, len);
	}

	rec_add(&r, " ret=%ld errno=%s", ret, errno_name(err));
	rec_tokens(&r, "data", tok);
	rec_add(&r, " prot=");
	for (int i = 0; i < WINDOW_PAGES; i++)
		rec_add(&r, "%s%s", i ? "," : "", o[i].prot);
	if (child)
		rec_tokens(&r, "child", child);
	else if (child_why)
		rec_add(&r, " child=%s", child_why);
	rec_add(&r, " dumpable=%d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	rec_add(&r, " %sres=", s->adv->res_promised ? "" : "~");
	for (int i = 0; i < WINDOW_PAGES; i++)
		rec_add(&r, "%c", o[i].res);
	rec_add(&r, "\n");
	write_all(out, r.buf, r.len);
}

/* ---- the runner (parent) -------------------------------------------------------------------- */

static int timeout_sec = 10;

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Runs one scenario in a fresh process and prints its record. */
static void run_one(const struct scenario *s)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		perror("madvise-differential: pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("madvise-differential: fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		setpgid(0, 0);
		run_scenario(s, p[1]);
		_exit(0);
	}
	close(p[1]);
	setpgid(pid, pid);

	char buf[4096];
	size_t len = 0;
	bool timed_out = false;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = timeout_sec * 1000L - ms_since(&t0);
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1)
			break;
	}
	close(p[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = 0;

	if (timed_out)
		printf("%s crashed=timeout\n", s->name);
	else if (WIFSIGNALED(status))
		printf("%s crashed=%s\n", s->name, signal_name(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0)
		printf("%s crashed=exit-%d\n", s->name, WEXITSTATUS(status));
	else if (len == 0 || buf[len - 1] != '\n')
		printf("%s crashed=no-record\n", s->name);
	else
		fputs(buf, stdout);
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
	fputs("usage: madvise-differential [--list] [--seed N] [--timeout SEC] [--warm]\n"
	      "                            [--crash GLOB] [--hang GLOB] [GLOB...]\n", f);
}

int main(int argc, char **argv)
{
	long sz = sysconf(_SC_PAGESIZE);
	pg = sz > 0 ? (size_t)sz : 4096;

	bool list = false, shuffle = false;
	unsigned long long shuffle_seed = 0;
	int npat = 0;
	char **pat = calloc((size_t)argc + 1, sizeof *pat);
	if (!pat)
		return 2;
	for (int i = 1; i < argc; i++) {
		unsigned long long v;
		if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (!parse_number(argv[++i], UINT64_MAX, &v)) {
				usage(stderr);
				return 2;
			}
			shuffle = true;
			shuffle_seed = v;
			seed ^= v * 0x100000001b3ULL;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (!parse_number(argv[++i], 3600, &v) || v == 0) {
				usage(stderr);
				return 2;
			}
			timeout_sec = (int)v;
		} else if (!strcmp(argv[i], "--warm")) {
			warm = true;
		} else if (!strcmp(argv[i], "--crash") && i + 1 < argc) {
			crash_glob = argv[++i];
		} else if (!strcmp(argv[i], "--hang") && i + 1 < argc) {
			hang_glob = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				pat[npat++] = argv[i];
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else {
			pat[npat++] = argv[i];
		}
	}

	build_advices();
	build_scenarios();

	size_t *order = malloc(nscenarios * sizeof *order);
	if (!order)
		return 2;
	size_t n = 0;
	for (size_t i = 0; i < nscenarios; i++)
		if (selected(scenarios[i].name, npat, pat))
			order[n++] = i;
	if (n == 0) {
		fprintf(stderr, "madvise-differential: no scenario matches\n");
		return 2;
	}
	if (shuffle) {
		uint64_t x = shuffle_seed;
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)(splitmix(&x) % (i + 1));
			size_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	}

	for (size_t i = 0; i < n; i++) {
		const struct scenario *s = &scenarios[order[i]];
		if (list)
			puts(s->name);
		else
			run_one(s);
	}
	fflush(stdout);
	return 0;
}
