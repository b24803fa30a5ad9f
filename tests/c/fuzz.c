/* madvise-fuzz: a seeded differential fuzzer for madvise(2).
 *
 * Where tests/c/differential.c walks a fixed cross product of advice, layout
 * and range shape, this program draws them at random: case K of seed S is a
 * pure function of (S, K), so any case can be run again on its own, on any
 * kernel, with or without the shim.  tests/fuzz.bats runs the same seed
 * natively (the oracle) and on simulated kernels with the shim preloaded, and
 * compares the records with --compare.
 *
 * A case:
 *
 *   layout  a window of 3 to 400 pages at a fixed address, far from anything
 *           the program, libc or the shim maps.  It is cut into segments;
 *           each is a hole, or a mapping: private or shared, anonymous, a
 *           regular file in $TMPDIR or a memfd (the file at some page offset,
 *           possibly shorter than the mapping, a shared one possibly opened
 *           read-only; the descriptor kept or closed, the file unlinked or
 *           not), MAP_NORESERVE or not, with one protection (rw, r, none, rx,
 *           and rarely w or rwx) or one per page, part of it mlocked (mlock,
 *           or mlock2 MLOCK_ONFAULT).  Pages are written with bytes unique to
 *           the case and page.  Some segments get advice during set-up
 *           (GUARD_INSTALL, DONTFORK, WIPEONFORK, through madvise, so through
 *           the shim where it is preloaded), and then perhaps an mprotect
 *           over it, or an mremap away and back.
 *   call    one call of madvise(), syscall(SYS_madvise) or process_madvise()
 *           on the process's own pidfd, with an advice value from
 *           advice_table.h (never HWPOISON or SOFT_OFFLINE) or garbage, a
 *           start in the window, in a hole, unaligned, NULL, in the kernel
 *           half or random, and a length of some pages, 0, 1, unaligned,
 *           huge, negative or random.  Ranges that would reach memory outside
 *           the fuzzer's playground are cut to end there (see range_safe), so
 *           the call can never touch the program's own mappings.
 *
 * Cases run in batches (--batch, 100): a worker process runs the cases of a
 * batch one after the other, each on a fresh layout, and exits; so both the
 * shim's first-call path and its cached path are exercised.  A batch is the
 * run of cases K with the same K / BATCH, whatever --first says, so a run of
 * part of a batch is the same process history as the full run up to there.
 *
 * The record, one line per case:
 *
 *   K call=ADVICE/E/ADDR/LEN ret=R errno=E [pre=...] [dump=D] data=... prot=...
 *     [child=...] [sec=...]
 *
 *   call     the advice's name (or unknown-N), the entry point (m madvise,
 *            s syscall, p process_madvise) and the arguments in hex
 *   ret      the return value (process_madvise: bytes advised)
 *   errno    the errno name, or "kept" when errno still holds the value it
 *            had before the call (a successful call must not touch it)
 *   pre      the results of the set-up advice, in order, as ADVICE:RET:ERRNO
 *   dump     present when the call changed prctl(PR_GET_DUMPABLE): the new
 *            value
 *   data     per window page, what the process reads there, run-length
 *            coded (TOKEN*COUNT):
 *              .   nothing mapped          -  not readable, or the read faulted
 *              G   a kernel guard region (pagemap bit 58)
 *              B   the read raised SIGBUS (beyond the end of the file)
 *              Z   zero                    W  the bytes written there
 *              F   the file's bytes at that page's offset
 *              OZ  MADV_FREE only: a private anonymous page inside the range
 *                  that reads its old bytes or zero (the kernel frees lazily;
 *                  both outcomes are right)
 *              hXXXXXXXX  anything else: FNV-1a of the page
 *   prot     per page, the permissions from /proc/self/smaps ("rw-p"), with
 *            L for VmFlags lo, O for lf, N for nr; "." unmapped
 *   child    fork and guard advice, and layouts set up with advice: what a
 *            child forked after the call reads, with the data tokens
 *   sec      the security checks that failed (see security_checks): a
 *            protection widened, a mapping lost or made, a lock dropped,
 *            shared or file data lost, or a page changed that the advice may
 *            not change.  Absent when every check passed.
 *
 * A case whose set-up fails prints "K call=... setup=STEP:ERRNO"; one whose
 * worker dies prints "K call=... crashed=HOW" (a signal, exit-N, timeout).
 * The next case then starts in a new worker.
 *
 * Usage:
 *   madvise-fuzz [--seed S] [--cases N] [--first K] [--batch B]
 *                [--timeout SEC] [--case K] [--describe] [--stats]
 *                [--crash-case K] [--hang-case K]
 *   madvise-fuzz --compare NATIVE OTHER --variant NAME [--rerun PREFIX]
 *                [--max-show N]
 *   madvise-fuzz --security RECORDS --variant NAME [--rerun PREFIX]
 *   madvise-fuzz --edge maxmap|overcommit|mlock|mseal|reserve|hugetlb
 *                [--edge-arg N] [--warm] [--sysctl] [--limit N]
 *
 *   --case K      run only case K, alone in a fresh worker
 *   --describe    print the cases' layout and call instead of running them
 *   --stats       print what the selected cases cover, without running them
 *   --compare     compare two record files of the same seed (see compare());
 *                 exit 0 when they agree but for the accepted approximations
 *   --security    list the records that failed a security check
 *   --rerun       the command prefix of the variant (madvise-sim ... env
 *                 LD_PRELOAD=...), for the reproducers printed
 *   --edge        one resource edge for tests/resources.bats (see "resource
 *                 edges" below): maxmap (--edge-arg: free mappings left,
 *                 --warm, --limit), overcommit (--edge-arg: MiB of commit
 *                 left), mlock, mseal, reserve, hugetlb
 * Exit status: 0, 1 when --compare or --security found something, 2 on a
 * usage or environment error.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "names.h"

#include "advice_table.h"

#define PROG "madvise-fuzz"

/* ---- the playground ------------------------------------------------------ */

#define WINDOW_ADDR ((uintptr_t)0x100000000000ULL)   /* 16 TiB */
#define MOVE_ADDR ((uintptr_t)0x180000000000ULL)     /* mremap detours */
#define SAFE_END ((uintptr_t)0x400000000000ULL)      /* 64 TiB */
#define KERNEL_HALF ((uintptr_t)0xffff800000000000ULL)
#define MAX_PAGES 400
#define MAX_SEGS 64
#define TOKLEN 12

static size_t pg;
static uint64_t seed = 1;
static unsigned batch = 100;

/* ---- randomness ------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct rng {
	uint64_t x;
};

static uint64_t rnd(struct rng *r)
{
	r->x += 0x9e3779b97f4a7c15ULL;
	return mix64(r->x);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned percent)
{
	return below(r, 100) < percent;
}

/* ---- cases ------------------------------------------------------------------- */

enum backing { BK_ANON, BK_FILE, BK_MEMFD };
static const char *const backing_names[] = { "anon", "file", "memfd" };

enum entry { E_MADVISE = 'm', E_SYSCALL = 's', E_PM = 'p' };

#define RW (PROT_READ | PROT_WRITE)
#define RO PROT_READ
#define NO PROT_NONE
#define RX (PROT_READ | PROT_EXEC)
#define WO PROT_WRITE
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

struct seg {
	int first, npages;
	bool hole;
	enum backing bk;
	bool shared;
	bool noreserve;
	int lock;                 /* 0, 1 mlock, 2 mlock2(MLOCK_ONFAULT) */
	int lock_first, lock_pages;
	int file_off;             /* in pages */
	int file_pages;           /* the object's size */
	bool rdonly;              /* a shared file mapping of an O_RDONLY descriptor */
	bool keep_fd, unlinked;
	int pre_advice;           /* -1: none */
	int pre_first, pre_pages;
	bool pre_move;            /* mremap the advised part away and back */
	int pre_mprotect;         /* -1, or mprotect the advised part to this */
};

struct fcase {
	uint64_t idx;
	uint64_t key;             /* the bytes written depend on it */
	int npages, nsegs;
	struct seg segs[MAX_SEGS];
	signed char seg_of[MAX_PAGES];
	unsigned char setprot[MAX_PAGES]; /* the protection set before set-up advice */
	unsigned char prot[MAX_PAGES];    /* the protection the program set last */
	bool written[MAX_PAGES];
	/* the call */
	uintptr_t start;
	size_t len;
	int advice;
	enum entry entry;
	const char *addr_kind, *len_kind;
};

static const struct advice_info *advice_info(int v)
{
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (advice_table[i].value == v)
			return &advice_table[i];
	return NULL;
}

static const char *advice_name(int v, char *buf, size_t n)
{
	const struct advice_info *a = advice_info(v);
	if (!a) {
		snprintf(buf, n, "unknown%d", v);
		return buf;
	}
	size_t j = 0;
	for (const char *c = a->name; *c && j + 1 < n; c++)
		buf[j++] = *c == '_' ? '-' : (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	buf[j] = 0;
	return buf;
}

static int pick_prot(struct rng *r, bool rdonly)
{
	if (rdonly) {
		static const int ro[] = { RO, RO, NO, RX };
		return ro[below(r, 4)];
	}
	unsigned x = (unsigned)below(r, 100);
	if (x < 52)
		return RW;
	if (x < 72)
		return RO;
	if (x < 85)
		return NO;
	if (x < 95)
		return RX;
	if (x < 98)
		return WO;
	return RWX;
}

/* Advice weights by class: the destructive and structural ones are where a
 * shim can do harm, the hints where it can only be wrong. */
static int pick_advice(struct rng *r)
{
	if (chance(r, 7)) {
		/* garbage: never 100 or 101 (HWPOISON, SOFT_OFFLINE), which a
		 * root process must not give at random */
		static const int odd[] = { -1, INT_MIN, INT_MAX, 5, 6, 7, 26, 99, 104,
					   127, 128, 255, 256, 1000, 0x10004, -4 };
		int v;
		switch (below(r, 3)) {
		case 0:
			v = odd[below(r, sizeof odd / sizeof odd[0])];
			break;
		case 1:
			v = 26 + (int)below(r, 74);
			break;
		default:
			v = (int)(uint32_t)rnd(r);
			break;
		}
		if (v == MADV_HWPOISON || v == MADV_SOFT_OFFLINE)
			v = 99;
		return v;
	}
	unsigned total = 0, w[ADVICE_COUNT];
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		switch (advice_table[i].class) {
		case CLASS_DESTRUCTIVE: w[i] = 9; break;
		case CLASS_GUARD: w[i] = 8; break;
		case CLASS_FILE: w[i] = 7; break;
		case CLASS_POPULATE: w[i] = 5; break;
		case CLASS_FORK: w[i] = 4; break;
		case CLASS_HINT: w[i] = 2; break;
		default: w[i] = 0; break; /* TEST: never */
		}
		total += w[i];
	}
	unsigned x = (unsigned)below(r, total);
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		if (x < w[i])
			return advice_table[i].value;
		x -= w[i];
	}
	return MADV_DONTNEED;
}

/* Whether a call with these arguments can only act inside the playground:
 * the window's part of the address space below SAFE_END, or the kernel half,
 * where nothing is mapped.  Calls the kernel rejects before looking at any
 * mapping are safe whatever their range. */
static bool range_safe(uintptr_t start, size_t len)
{
	if (start & (pg - 1))
		return true;
	size_t rounded = (len + pg - 1) & ~(pg - 1);
	if (len && !rounded)
		return true;
	uintptr_t end = start + rounded;
	if (end <= start)
		return true;
	if (end <= SAFE_END)
		return true;
	return start >= KERNEL_HALF;
}

static void gen_call(struct rng *r, struct fcase *c)
{
	int n = c->npages;
	uintptr_t w = WINDOW_ADDR;
	unsigned x = (unsigned)below(r, 100);
	c->addr_kind = "window";
	if (x < 45) {
		/* at a segment boundary, or one page off it */
		const struct seg *s = &c->segs[below(r, (uint64_t)c->nsegs)];
		long p = s->first + (chance(r, 50) ? 0 : (long)below(r, 3) - 1);
		c->start = w + (uintptr_t)(p * (long)pg);
		c->addr_kind = "boundary";
	} else if (x < 80) {
		c->start = w + below(r, (uint64_t)n) * pg;
	} else if (x < 86) {
		c->start = w + below(r, (uint64_t)n) * pg + 1 + below(r, pg - 1);
		c->addr_kind = "unaligned";
	} else if (x < 90) {
		/* before or after the window: holes */
		c->start = chance(r, 50) ? w - (1 + below(r, 4)) * pg
					 : w + (uint64_t)(n + (int)below(r, 4)) * pg;
		c->addr_kind = "outside";
	} else if (x < 93) {
		static const uintptr_t low[] = { 0, 4096, 65536, 0x10000000 };
		c->start = low[below(r, 4)];
		c->addr_kind = "low";
	} else if (x < 97) {
		static const uintptr_t high[] = {
			KERNEL_HALF, 0xffffffffff600000ULL, (uintptr_t)0 - 4096,
			(uintptr_t)0 - 8192, 0xffffffff80000000ULL,
		};
		c->start = high[below(r, 5)];
		c->addr_kind = "kernel";
	} else {
		c->start = (uintptr_t)rnd(r);
		if (chance(r, 50))
			c->start &= ~(uintptr_t)(pg - 1);
		c->addr_kind = "random";
	}

	x = (unsigned)below(r, 100);
	c->len_kind = "pages";
	long start_page = (long)(c->start - w) / (long)pg;
	if (x < 30) {
		c->len = (1 + below(r, 4)) * pg;
	} else if (x < 55) {
		long left = n - start_page;
		c->len = (size_t)(left > 0 ? 1 + (long)below(r, (uint64_t)left + 2) : 1 + (long)below(r, 8)) * pg;
	} else if (x < 65) {
		c->len = (size_t)(n + 2) * pg;
		c->len_kind = "window";
	} else if (x < 72) {
		c->len = (1 + below(r, 8)) * pg - 1 - below(r, pg - 1);
		c->len_kind = "unaligned";
	} else if (x < 78) {
		static const size_t small[] = { 0, 1, 4095, 4097 };
		c->len = small[below(r, 4)];
		c->len_kind = c->len == 0 ? "zero" : "small";
	} else if (x < 84) {
		static const size_t huge[] = {
			(size_t)1 << 30, (size_t)1 << 40, (size_t)1 << 44, (size_t)1 << 47,
			(size_t)1 << 62, (size_t)INT_MAX + 1, (size_t)UINT32_MAX + 1,
		};
		c->len = huge[below(r, 7)];
		c->len_kind = "huge";
	} else if (x < 94) {
		switch (below(r, 5)) {
		case 0: c->len = (size_t)-1; break;
		case 1: c->len = (size_t)0 - pg; break;
		case 2: c->len = (size_t)0 - (1 + below(r, 64)) * pg; break;
		case 3: c->len = (size_t)0 - c->start; break; /* end wraps to 0 */
		default: c->len = (size_t)0 - c->start - pg; break; /* ends a page below 2^64 */
		}
		c->len_kind = "negative";
	} else {
		c->len = (size_t)rnd(r);
		if (chance(r, 50))
			c->len >>= below(r, 64);
		c->len_kind = "random";
	}
	if (!range_safe(c->start, c->len)) {
		/* cut at the playground's end (whole pages, so still aligned) */
		if (c->start < SAFE_END) {
			c->len = SAFE_END - c->start;
		} else {
			c->start = w;
			c->len = (size_t)n * pg;
		}
		c->len_kind = "cut";
	}
	c->advice = pick_advice(r);
	x = (unsigned)below(r, 100);
	c->entry = x < 80 ? E_MADVISE : x < 90 ? E_SYSCALL : E_PM;
}

static void gen_segment(struct rng *r, struct fcase *c, struct seg *s)
{
	s->pre_advice = -1;
	s->pre_mprotect = -1;
	if (chance(r, 20) && c->nsegs > 0 && !c->segs[c->nsegs - 1].hole) {
		s->hole = true;
		return;
	}
	unsigned x = (unsigned)below(r, 100);
	s->bk = x < 45 ? BK_ANON : x < 75 ? BK_FILE : BK_MEMFD;
	s->shared = chance(r, 40);
	s->noreserve = !s->shared && chance(r, 15);
	if (s->bk != BK_ANON) {
		s->file_off = (int)below(r, 4);
		s->file_pages = s->file_off + s->npages;
		if (chance(r, 12))
			s->file_pages = s->file_off + (int)below(r, (uint64_t)s->npages);
		else if (chance(r, 10))
			s->file_pages += 1 + (int)below(r, 3);
		s->rdonly = s->bk == BK_FILE && s->shared && chance(r, 15);
		s->keep_fd = chance(r, 50);
		s->unlinked = s->bk == BK_FILE && chance(r, 50);
	}
	int base = pick_prot(r, s->rdonly);
	bool varied = chance(r, 22);
	for (int k = 0; k < s->npages; k++) {
		int i = s->first + k;
		c->prot[i] = (unsigned char)(varied && chance(r, 35) ? pick_prot(r, s->rdonly) : base);
		bool beyond = s->bk != BK_ANON && s->file_off + k >= s->file_pages;
		c->written[i] = !s->rdonly && !beyond &&
				chance(r, s->bk == BK_ANON ? 75 : 40);
	}
	/* mlock faults the pages in: a page beyond the end of the file would
	 * make it fail, so locks stay before it */
	int lockable = s->bk == BK_ANON ? s->npages : s->file_pages - s->file_off;
	if (lockable > s->npages)
		lockable = s->npages;
	if (lockable > 0 && chance(r, 6)) {
		s->lock = chance(r, 70) ? 1 : 2;
		s->lock_first = (int)below(r, (uint64_t)lockable);
		s->lock_pages = 1 + (int)below(r, (uint64_t)(lockable - s->lock_first));
	}
	if (chance(r, 6)) {
		x = (unsigned)below(r, 100);
		s->pre_advice = x < 55 ? MADV_GUARD_INSTALL : x < 78 ? MADV_DONTFORK : MADV_WIPEONFORK;
		s->pre_first = (int)below(r, (uint64_t)s->npages);
		s->pre_pages = 1 + (int)below(r, (uint64_t)(s->npages - s->pre_first));
		bool uniform = true;
		for (int k = s->pre_first + 1; k < s->pre_first + s->pre_pages; k++)
			uniform &= c->prot[s->first + k] == c->prot[s->first + s->pre_first];
		s->pre_move = uniform && !s->lock && chance(r, 15);
		if (s->pre_advice == MADV_GUARD_INSTALL && chance(r, 20))
			s->pre_mprotect = pick_prot(r, s->rdonly);
	}
}

static void gen_case(uint64_t idx, struct fcase *c)
{
	memset(c, 0, sizeof *c);
	struct rng r = { mix64(seed ^ mix64(idx + 0x1234567ULL)) };
	c->idx = idx;
	c->key = rnd(&r);
	unsigned x = (unsigned)below(&r, 100);
	c->npages = x < 68 ? 3 + (int)below(&r, 22) : x < 95 ? 16 + (int)below(&r, 113)
							 : 128 + (int)below(&r, MAX_PAGES - 127);
	for (int p = 0; p < c->npages;) {
		struct seg *s = &c->segs[c->nsegs];
		int left = c->npages - p, cap;
		x = (unsigned)below(&r, 100);
		cap = x < 60 ? 8 : x < 90 ? 32 : left;
		if (cap > left)
			cap = left;
		if (c->nsegs == MAX_SEGS - 1)
			cap = left;
		s->first = p;
		s->npages = 1 + (int)below(&r, (uint64_t)cap);
		gen_segment(&r, c, s);
		for (int k = 0; k < s->npages; k++)
			c->seg_of[p + k] = (signed char)c->nsegs;
		p += s->npages;
		c->nsegs++;
	}
	memcpy(c->setprot, c->prot, sizeof c->prot);
	for (int si = 0; si < c->nsegs; si++) {
		struct seg *s = &c->segs[si];
		if (s->pre_mprotect >= 0)
			for (int k = s->pre_first; k < s->pre_first + s->pre_pages; k++)
				c->prot[s->first + k] = (unsigned char)s->pre_mprotect;
	}
	gen_call(&r, c);
}

/* ---- page contents ---------------------------------------------------------------- */

#define GOLD 0x9e3779b97f4a7c15ULL

/* W: the bytes written to window page i; F: the object's page p of segment s */
static uint64_t pattern_base(const struct fcase *c, char tag, long a, long b)
{
	return mix64(c->key ^ ((uint64_t)(unsigned char)tag << 56) ^
		     mix64((uint64_t)a * 0x100000001b3ULL + (uint64_t)b)) | 1;
}

static void fill(void *page, uint64_t base)
{
	uint64_t *w = page;
	for (size_t j = 0; j < pg / 8; j++)
		w[j] = base + j * GOLD;
}

/* Every page the fuzzer writes is whole, and madvise acts on whole pages,
 * so a page is told by a sample: its first and last words and every
 * seventh in between. */
static bool matches(const void *page, uint64_t base)
{
	const uint64_t *w = page;
	size_t n = pg / 8;
	if (w[n - 1] != base + (n - 1) * GOLD)
		return false;
	for (size_t j = 0; j < n; j += 7)
		if (w[j] != base + j * GOLD)
			return false;
	return true;
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

/* The object page behind window page i, or -1. */
static long object_page(const struct fcase *c, int i)
{
	int si = c->seg_of[i];
	const struct seg *s = &c->segs[si];
	if (s->hole)
		return -1;
	if (s->bk == BK_ANON)
		return s->shared ? i - s->first : -1;
	return s->file_off + i - s->first;
}

static void classify(const struct fcase *c, int i, const unsigned char *page, char *out)
{
	const uint64_t *w = (const uint64_t *)page;
	const struct seg *s = &c->segs[c->seg_of[i]];
	if (w[0] == 0) {
		bool zero = w[pg / 8 - 1] == 0;
		for (size_t j = 0; j < pg / 8 && zero; j += 7)
			zero = w[j] == 0;
		if (zero) {
			strcpy(out, "Z");
			return;
		}
	}
	uint64_t bw = pattern_base(c, 'W', i, 0);
	if (w[0] == bw && matches(page, bw)) {
		strcpy(out, "W");
		return;
	}
	if (!s->hole && s->bk != BK_ANON) {
		uint64_t bf = pattern_base(c, 'F', c->seg_of[i], object_page(c, i));
		if (w[0] == bf && matches(page, bf)) {
			strcpy(out, "F");
			return;
		}
	}
	snprintf(out, TOKLEN, "h%08x", fnv1a(page, pg));
}

/* ---- records ---------------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) sb_add(struct sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			perror(PROG ": realloc");
			exit(2);
		}
		b->p = p;
		b->cap = cap;
	}
}

typedef char token_t[TOKLEN];

static void sb_tokens(struct sbuf *b, const char *field, token_t *t, int n)
{
	sb_add(b, " %s=", field);
	for (int i = 0; i < n;) {
		int j = i + 1;
		while (j < n && !strcmp(t[j], t[i]))
			j++;
		sb_add(b, "%s%s", i ? "," : "", t[i]);
		if (j - i > 1)
			sb_add(b, "*%d", j - i);
		i = j;
	}
}

static void sb_call(struct sbuf *b, const struct fcase *c)
{
	char an[32];
	sb_add(b, "%llu call=%s/%c/%#lx/%#lx", (unsigned long long)c->idx,
	       advice_name(c->advice, an, sizeof an), c->entry, (unsigned long)c->start,
	       (unsigned long)c->len);
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

/* ---- set-up (in the worker) --------------------------------------------------------------- */

struct runtime {
	int fd[MAX_SEGS];
	char path[MAX_SEGS][256];
	bool path_live[MAX_SEGS];
	bool uncertain[MAX_PAGES];   /* set-up advice failed here: no model */
	bool guarded[MAX_PAGES];     /* a set-up GUARD_INSTALL covers it */
	struct sbuf pre;
	const char *step;
	int step_errno;
};

static char *page_addr(int i)
{
	return (char *)WINDOW_ADDR + (size_t)i * pg;
}

static bool fail(struct runtime *rt, const char *step)
{
	rt->step = step;
	rt->step_errno = errno;
	return false;
}

static unsigned char *scratch_page;

static int make_object(const struct fcase *c, int si, struct runtime *rt)
{
	const struct seg *s = &c->segs[si];
	int fd;
	if (s->bk == BK_MEMFD) {
		fd = memfd_create("fuzz", MFD_CLOEXEC);
	} else {
		const char *dir = getenv("TMPDIR");
		snprintf(rt->path[si], sizeof rt->path[si], "%s/madvise-fuzz.XXXXXX",
			 dir && *dir ? dir : "/tmp");
		fd = mkostemp(rt->path[si], O_CLOEXEC);
		rt->path_live[si] = fd >= 0;
	}
	if (fd < 0)
		return -1;
	for (int p = 0; p < s->file_pages; p++)
		fill(scratch_page + (size_t)p * pg, pattern_base(c, 'F', si, p));
	size_t want = (size_t)s->file_pages * pg;
	if (want && pwrite(fd, scratch_page, want, 0) != (ssize_t)want) {
		close(fd);
		return -1;
	}
	if (s->bk == BK_FILE && s->rdonly) {
		int ro = open(rt->path[si], O_RDONLY | O_CLOEXEC);
		int e = errno;
		close(fd);
		errno = e;
		fd = ro;
	}
	return fd;
}

static void record_pre(struct runtime *rt, int advice, long ret, int err)
{
	char an[32];
	sb_add(&rt->pre, "%s%s:%ld:%s", rt->pre.len ? "," : "",
	       advice_name(advice, an, sizeof an), ret, ret ? errno_name(err) : "0");
}

static bool setup_segment(const struct fcase *c, int si, struct runtime *rt)
{
	const struct seg *s = &c->segs[si];
	char *a = page_addr(s->first);
	size_t len = (size_t)s->npages * pg;
	int flags = MAP_FIXED | (s->shared ? MAP_SHARED : MAP_PRIVATE) |
		    (s->noreserve ? MAP_NORESERVE : 0);
	int fd = -1;
	if (s->bk == BK_ANON) {
		flags |= MAP_ANONYMOUS;
	} else if ((fd = make_object(c, si, rt)) < 0) {
		return fail(rt, "object");
	}
	void *got = mmap(a, len, s->rdonly ? RO : RW, flags, fd,
			 (off_t)s->file_off * (off_t)pg);
	if (got != a) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return fail(rt, "mmap");
	}
	if (fd >= 0) {
		if (s->keep_fd)
			rt->fd[si] = fd;
		else
			close(fd);
	}
	if (s->unlinked && rt->path_live[si]) {
		unlink(rt->path[si]);
		rt->path_live[si] = false;
	}
	for (int k = 0; k < s->npages; k++)
		if (c->written[s->first + k])
			fill(page_addr(s->first + k), pattern_base(c, 'W', s->first + k, 0));
	return true;
}

static bool setup_layout(const struct fcase *c, struct runtime *rt)
{
	size_t wlen = (size_t)c->npages * pg;
	void *w = mmap((void *)WINDOW_ADDR, wlen, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (w != (void *)WINDOW_ADDR)
		return fail(rt, "reserve");
	for (int si = 0; si < c->nsegs; si++)
		if (!c->segs[si].hole && !setup_segment(c, si, rt))
			return false;
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		if (s->hole && munmap(page_addr(s->first), (size_t)s->npages * pg))
			return fail(rt, "munmap-hole");
	}
	/* protections the program sets (before any set-up advice changes them) */
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		if (s->hole)
			continue;
		/* locked first: mlock faults pages in, which PROT_NONE refuses */
		if (s->lock) {
			char *la = page_addr(s->first + s->lock_first);
			size_t ll = (size_t)s->lock_pages * pg;
			if (s->lock == 1 ? mlock(la, ll) : mlock2(la, ll, MLOCK_ONFAULT))
				return fail(rt, s->lock == 1 ? "mlock" : "mlock2");
		}
		for (int k = 0; k < s->npages;) {
			int i = s->first + k, want = c->setprot[i];
			int j = k + 1;
			while (j < s->npages && c->setprot[s->first + j] == want)
				j++;
			if (want != (s->rdonly ? RO : RW) &&
			    mprotect(page_addr(i), (size_t)(j - k) * pg, want))
				return fail(rt, "mprotect");
			k = j;
		}
	}
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		if (s->hole || s->pre_advice < 0)
			continue;
		char *pa = page_addr(s->first + s->pre_first);
		size_t pl = (size_t)s->pre_pages * pg;
		errno = SENTINEL_ERRNO;
		long r = madvise(pa, pl, s->pre_advice);
		record_pre(rt, s->pre_advice, r, errno);
		for (int k = s->pre_first; k < s->pre_first + s->pre_pages; k++) {
			if (r)
				rt->uncertain[s->first + k] = true;
			else if (s->pre_advice == MADV_GUARD_INSTALL)
				rt->guarded[s->first + k] = true;
		}
		if (s->pre_move) {
			if (mremap(pa, pl, pl, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)MOVE_ADDR) !=
			    (void *)MOVE_ADDR)
				return fail(rt, "mremap-away");
			if (mremap((void *)MOVE_ADDR, pl, pl, MREMAP_MAYMOVE | MREMAP_FIXED, pa) != pa)
				return fail(rt, "mremap-back");
		}
		if (s->pre_mprotect >= 0 && mprotect(pa, pl, s->pre_mprotect))
			return fail(rt, "mprotect-after");
	}
	return true;
}

static void teardown(const struct fcase *c, struct runtime *rt)
{
	/* a generous margin: a shim that mapped into a hole is cleaned up too */
	munmap((void *)(WINDOW_ADDR - 64 * pg), (size_t)(MAX_PAGES + 128) * pg);
	munmap((void *)MOVE_ADDR, (size_t)MAX_PAGES * pg);
	for (int si = 0; si < c->nsegs; si++) {
		if (rt->fd[si] >= 0)
			close(rt->fd[si]);
		rt->fd[si] = -1;
		if (rt->path_live[si])
			unlink(rt->path[si]);
		rt->path_live[si] = false;
	}
}

/* ---- observing ---------------------------------------------------------------------------- */

struct obs {
	int n;
	bool mapped[MAX_PAGES], readable[MAX_PAGES], guard[MAX_PAGES];
	char prot[MAX_PAGES][8];
	int nvmas;
	uintptr_t vma_start[MAX_PAGES], vma_end[MAX_PAGES];
};

/* Descriptors on this process's smaps, maps and pagemap, kept open by the
 * worker (a forked child opens its own: they describe the opener's memory). */
static int smaps_fd = -1, maps_fd = -1, pagemap_fd = -1;
static pid_t fds_owner;

static void open_proc_fds(void)
{
	if (fds_owner == getpid())
		return;
	fds_owner = getpid();
	smaps_fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

static char *smaps_buf;
static size_t smaps_cap;

/* The whole of a /proc file, read from the start. */
static size_t read_proc(int fd)
{
	size_t len = 0;
	if (fd < 0)
		return 0;
	for (;;) {
		if (smaps_cap - len < 65536) {
			smaps_cap = smaps_cap ? smaps_cap * 2 : 1 << 20;
			smaps_buf = realloc(smaps_buf, smaps_cap);
			if (!smaps_buf)
				abort();
		}
		ssize_t n = pread(fd, smaps_buf + len, smaps_cap - len - 1, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	smaps_buf[len] = 0;
	return len;
}

/* smaps walks the page tables of every mapping, so it is read only where
 * its flags can tell something: a case with locked or MAP_NORESERVE memory
 * (flags the call may drop), or one whose advice is about locks. */
static bool need_flags;

static void observe_maps(struct obs *o, int n)
{
	o->n = n;
	o->nvmas = 0;
	for (int i = 0; i < n; i++) {
		o->mapped[i] = o->readable[i] = o->guard[i] = false;
		strcpy(o->prot[i], ".");
	}
	open_proc_fds();
	size_t len = read_proc(need_flags ? smaps_fd : maps_fd);
	int first = 0, last = -1;
	uintptr_t wlo = WINDOW_ADDR, whi = WINDOW_ADDR + (size_t)n * pg;
	for (char *line = smaps_buf, *end = smaps_buf + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		*nl = 0;
		char c0 = line[0];
		if ((c0 >= '0' && c0 <= '9') || (c0 >= 'a' && c0 <= 'f')) {
			char *q;
			unsigned long lo = strtoul(line, &q, 16), hi = strtoul(q + 1, &q, 16);
			const char *perms = q + 1;
			last = -1;
			if (!(hi <= wlo || lo >= whi)) {
				if (o->nvmas < MAX_PAGES) {
					o->vma_start[o->nvmas] = lo;
					o->vma_end[o->nvmas++] = hi;
				}
				uintptr_t a = lo > wlo ? lo : wlo, b = hi < whi ? hi : whi;
				first = (int)((a - wlo) / pg);
				last = (int)((b - wlo) / pg) - 1;
				for (int i = first; i <= last; i++) {
					o->mapped[i] = true;
					o->readable[i] = perms[0] == 'r';
					memcpy(o->prot[i], perms, 4);
					o->prot[i][4] = 0;
				}
			}
		} else if (c0 == 'V' && last >= first && !strncmp(line, "VmFlags:", 8)) {
			char fl[4] = "";
			size_t m = 0;
			if (strstr(line, " lo"))
				fl[m++] = 'L';
			if (strstr(line, " lf"))
				fl[m++] = 'O';
			if (strstr(line, " nr"))
				fl[m++] = 'N';
			fl[m] = 0;
			for (int i = first; i <= last; i++)
				strcat(o->prot[i], fl);
			last = -1;
		}
		line = nl + 1;
	}
	if (pagemap_fd >= 0) {
		uint64_t v[MAX_PAGES];
		ssize_t got = pread(pagemap_fd, v, (size_t)n * sizeof v[0],
				    (off_t)(WINDOW_ADDR / pg * sizeof v[0]));
		for (int i = 0; i < n && (i + 1) * (ssize_t)sizeof v[0] <= got; i++)
			o->guard[i] = o->mapped[i] && ((v[i] >> 58) & 1);
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
	signal(sig, SIG_DFL);
}

/* What each page reads; a read that faults gives B (SIGBUS) or - (SIGSEGV). */
static void read_tokens(const struct fcase *c, const struct obs *o, token_t *tok)
{
	static volatile int i;
	i = 0;
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		strcpy(tok[i], sig == SIGBUS ? "B" : "-");
		i++;
	}
	for (; i < o->n; i++) {
		if (!o->mapped[i])
			strcpy(tok[i], ".");
		else if (o->guard[i])
			strcpy(tok[i], "G");
		else if (!o->readable[i])
			strcpy(tok[i], "-");
		else {
			fault_armed = 1;
			classify(c, i, (const unsigned char *)page_addr(i), tok[i]);
			fault_armed = 0;
		}
	}
}

/* What a child forked now reads; false with *why set when it could not tell. */
static bool child_view(const struct fcase *c, token_t *tok, const char **why)
{
	int p[2];
	if (pipe(p)) {
		*why = "pipe-failed";
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		*why = "fork-failed";
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		static struct obs o;
		need_flags = false; /* the child's view is its data only */
		observe_maps(&o, c->npages);
		read_tokens(c, &o, tok);
		write_all(p[1], (const char *)tok, (size_t)c->npages * sizeof *tok);
		_exit(0);
	}
	close(p[1]);
	size_t len = 0, want = (size_t)c->npages * sizeof *tok;
	while (len < want) {
		ssize_t n = read(p[0], (char *)tok + len, want - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		static char how[40];
		snprintf(how, sizeof how, "crashed-%s", signal_name(WTERMSIG(status)));
		*why = how;
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status)) {
		static char how[40];
		snprintf(how, sizeof how, "exit-%d", WEXITSTATUS(status));
		*why = how;
		return false;
	}
	if (len < want) {
		*why = "no-record";
		return false;
	}
	for (int i = 0; i < c->npages; i++)
		tok[i][TOKLEN - 1] = 0;
	return true;
}

/* ---- the model: what each page held before the call ------------------------------------- */

static bool beyond_eof(const struct fcase *c, int i)
{
	const struct seg *s = &c->segs[c->seg_of[i]];
	return !s->hole && s->bk != BK_ANON && object_page(c, i) >= s->file_pages;
}

/* What the page holds, a guard aside. */
static const char *model_data(const struct fcase *c, int i)
{
	const struct seg *s = &c->segs[c->seg_of[i]];
	if (s->hole)
		return ".";
	if (!(c->prot[i] & PROT_READ))
		return "-";
	if (beyond_eof(c, i))
		return "B";
	if (c->written[i])
		return "W";
	return s->bk == BK_ANON ? "Z" : "F";
}

static const char *model_token(const struct fcase *c, const struct runtime *rt, int i)
{
	if (c->segs[c->seg_of[i]].hole)
		return ".";
	return rt->guarded[i] ? "G" : model_data(c, i);
}

/* What a page reads once emptied by DONTNEED (or guarded and unguarded). */
static const char *empty_token(const struct fcase *c, int i)
{
	const struct seg *s = &c->segs[c->seg_of[i]];
	if (!(c->prot[i] & PROT_READ))
		return "-";
	if (s->bk == BK_ANON)
		return "Z";
	return beyond_eof(c, i) ? "B" : "F";
}

/* A guard page reads G natively and - where emulated (a PROT_NONE page). */
static bool same_data(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return true;
	return (!strcmp(a, "G") && !strcmp(b, "-")) || (!strcmp(a, "-") && !strcmp(b, "G"));
}

/* Whether window page i lies in the range a well-formed call advises. */
static bool in_range(const struct fcase *c, int i)
{
	if (c->start & (pg - 1))
		return false;
	size_t rounded = (c->len + pg - 1) & ~(pg - 1);
	if (c->len && !rounded)
		return false;
	uintptr_t end = c->start + rounded;
	if (end < c->start)
		return false;
	uintptr_t a = (uintptr_t)page_addr(i);
	return a >= c->start && a < end;
}

static bool private_anon(const struct fcase *c, int i)
{
	const struct seg *s = &c->segs[c->seg_of[i]];
	return !s->hole && s->bk == BK_ANON && !s->shared;
}

/* MADV_FREE: old bytes or zero for private anonymous pages in the range. */
static void free_class(const struct fcase *c, token_t *tok)
{
	for (int i = 0; i < c->npages; i++)
		if (private_anon(c, i) && in_range(c, i) &&
		    (!strcmp(tok[i], "Z") || !strcmp(tok[i], model_data(c, i))) &&
		    strchr("ZW", tok[i][0]))
			strcpy(tok[i], "OZ");
}

/* ---- security checks ------------------------------------------------------------------------ */

static int prot_bits(const char *p)
{
	if (!strcmp(p, "."))
		return -1;
	return (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
	       (p[2] == 'x' ? PROT_EXEC : 0);
}

static bool has_flag(const char *p, char f)
{
	return strlen(p) > 4 && strchr(p + 4, f);
}

struct checks {
	struct sbuf *out;
	int count;
};

static void __attribute__((format(printf, 2, 3))) violation(struct checks *k, const char *fmt, ...)
{
	if (k->count++ >= 12)
		return; /* enough to see the pattern */
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sb_add(k->out, "%s%s", k->count == 1 ? " sec=" : ";", buf);
}

static bool advice_destroys(int a)
{
	return a == MADV_DONTNEED || a == MADV_DONTNEED_LOCKED || a == MADV_FREE;
}

/* A descriptor on the object behind segment si, to read its bytes: the kept
 * descriptor, the path, or /proc/self/map_files (needs CAP_SYS_ADMIN). */
static int witness(const struct fcase *c, int si, const struct runtime *rt,
		   const struct obs *after, bool *own)
{
	const struct seg *s = &c->segs[si];
	*own = false;
	if (rt->fd[si] >= 0)
		return rt->fd[si];
	*own = true;
	if (s->bk == BK_FILE && rt->path_live[si])
		return open(rt->path[si], O_RDONLY | O_CLOEXEC);
	uintptr_t lo = (uintptr_t)page_addr(s->first),
		  hi = (uintptr_t)page_addr(s->first + s->npages);
	for (int v = 0; v < after->nvmas; v++) {
		if (after->vma_end[v] <= lo || after->vma_start[v] >= hi)
			continue;
		char path[96];
		snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx",
			 (unsigned long)after->vma_start[v], (unsigned long)after->vma_end[v]);
		return open(path, O_RDONLY | O_CLOEXEC);
	}
	return -1;
}

static long checks_unreachable; /* objects no witness could be found for */

/* The checks of one case, on the state after the call:
 *  widened    a page's r, w or x bit appeared (GUARD_REMOVE may give back
 *             what the program last set with mprotect, no more)
 *  lost, made a mapped page became unmapped, or a hole mapped
 *  share      a private page became shared or the reverse
 *  unlocked   an mlocked page lost its lock
 *  shared     a page of a shared mapping reads other bytes than before
 *             (not for REMOVE inside its range)
 *  object     the file, memfd or shared memory behind a segment holds other
 *             bytes than before, or another size (not for REMOVE inside its
 *             range)
 *  changed    a page reads other bytes than before where the advice may not
 *             change it: outside the range, or any advice but the
 *             destructive and guard ones, and for those only to the empty
 *             page (zero or the file's bytes)
 */
static void security_checks(const struct fcase *c, const struct runtime *rt,
			    const struct obs *before, const struct obs *after,
			    token_t *tok, struct sbuf *out)
{
	struct checks k = { out, 0 };
	int adv = c->advice;
	for (int i = 0; i < c->npages; i++) {
		const char *bp = before->prot[i], *ap = after->prot[i];
		int bb = prot_bits(bp), ab = prot_bits(ap);
		if (bb >= 0 && ab < 0) {
			violation(&k, "lost@%d", i);
			continue;
		}
		if (bb < 0 && ab >= 0) {
			violation(&k, "made@%d", i);
			continue;
		}
		if (bb < 0)
			continue;
		int allowed = bb;
		if (adv == MADV_GUARD_REMOVE && in_range(c, i))
			allowed |= c->prot[i];
		if (ab & ~allowed)
			violation(&k, "widened@%d:%s>%s", i, bp, ap);
		if (bp[3] != ap[3])
			violation(&k, "share@%d:%s>%s", i, bp, ap);
		if ((has_flag(bp, 'L') && !has_flag(ap, 'L')) ||
		    (has_flag(bp, 'O') && !has_flag(ap, 'O')))
			violation(&k, "unlocked@%d:%s>%s", i, bp, ap);

		if (rt->uncertain[i])
			continue;
		const struct seg *s = &c->segs[c->seg_of[i]];
		const char *was = model_token(c, rt, i), *now = tok[i];
		bool in = in_range(c, i);
		bool readable_now = strcmp(now, "G") && strcmp(now, "-") && strcmp(now, "B") &&
				    strcmp(now, ".");
		const char *held = model_data(c, i);
		if (s->shared && readable_now && !(adv == MADV_REMOVE && in) &&
		    !same_data(held, now))
			violation(&k, "shared@%d:%s>%s", i, held, now);
		if (same_data(was, now) || (!strcmp(now, "OZ") && adv == MADV_FREE))
			continue;
		bool may = false;
		if (in && !s->shared) {
			if (advice_destroys(adv) || adv == MADV_GUARD_INSTALL ||
			    (adv == MADV_GUARD_REMOVE && !strcmp(was, "G")))
				may = !strcmp(now, empty_token(c, i)) ||
				      (adv == MADV_GUARD_INSTALL && same_data(now, "G"));
		} else if (in && s->shared) {
			if (adv == MADV_REMOVE)
				may = !strcmp(now, "Z") || !strcmp(now, "-");
			else if (adv == MADV_GUARD_INSTALL)
				may = same_data(now, "G");
			else if (adv == MADV_GUARD_REMOVE && !strcmp(was, "G"))
				may = true; /* the object check covers the bytes */
		}
		/* a guard page given a readable protection again */
		if (!may && !strcmp(was, "G") && adv == MADV_GUARD_REMOVE && in)
			may = true;
		if (!may)
			violation(&k, "changed@%d:%s>%s", i, was, now);
	}

	/* the bytes of every object behind the window */
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		if (s->hole || (s->bk == BK_ANON && !s->shared))
			continue;
		bool own;
		int fd = witness(c, si, rt, after, &own);
		if (fd < 0) {
			checks_unreachable++;
			continue;
		}
		struct stat st;
		long want_size = s->bk == BK_ANON ? -1 : (long)s->file_pages * (long)pg;
		if (want_size >= 0 && fstat(fd, &st) == 0 && st.st_size != want_size)
			violation(&k, "object-size@seg%d:%ld>%ld", si, want_size, (long)st.st_size);
		/* every page of the object: those the segment maps, and those
		 * before and after it in the file */
		long obj_pages = s->bk == BK_ANON ? s->npages : s->file_pages;
		long base = s->bk == BK_ANON ? 0 : s->file_off;
		ssize_t obj_read = 0;
		for (size_t want = (size_t)obj_pages * pg; (size_t)obj_read < want;) {
			ssize_t got = pread(fd, scratch_page + obj_read, want - (size_t)obj_read,
					    obj_read);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				break;
			obj_read += got;
		}
		obj_read /= (ssize_t)pg;
		for (long op = 0; op < obj_pages; op++) {
			long kk = op - base;
			int i = kk >= 0 && kk < s->npages ? s->first + (int)kk : -1;
			if (i >= 0 && rt->uncertain[i])
				continue;
			if (op >= obj_read) {
				violation(&k, "object@seg%d:%ld:short-read-%zd", si, op, obj_read);
				break;
			}
			unsigned char *buf = scratch_page + (size_t)op * pg;
			char now[TOKLEN];
			const char *want;
			if (i >= 0) {
				classify(c, i, buf, now);
				want = s->shared && c->written[i] ? "W" : s->bk == BK_ANON ? "Z" : "F";
			} else {
				uint64_t bf = pattern_base(c, 'F', si, op);
				snprintf(now, sizeof now, "%s", matches(buf, bf) ? "F" : "other");
				want = "F";
			}
			if (strcmp(now, want) &&
			    !(adv == MADV_REMOVE && i >= 0 && in_range(c, i) && !strcmp(now, "Z")))
				violation(&k, "object@seg%d:%ld:%s>%s", si, op, want, now);
		}
		if (own)
			close(fd);
	}
	if (k.count > 12)
		sb_add(out, ";+%d", k.count - 12);
}

/* ---- one case ----------------------------------------------------------------------------- */

static long crash_case = -1, hang_case = -1;

/* A child's view is taken where the call or the set-up advice is about
 * children: fork advice, guard advice (a child inherits guards), and
 * destructive advice over guards set up earlier. */
static bool wants_child(const struct fcase *c)
{
	const struct advice_info *a = advice_info(c->advice);
	if (a && (a->class == CLASS_FORK || a->class == CLASS_GUARD))
		return true;
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		if (s->hole || s->pre_advice < 0)
			continue;
		if (s->pre_advice != MADV_GUARD_INSTALL ||
		    (a && a->class == CLASS_DESTRUCTIVE))
			return true;
	}
	return false;
}

static void run_case(const struct fcase *c, struct sbuf *rec)
{
	static struct runtime rt;
	static struct obs before, after;
	static token_t tok[MAX_PAGES], child[MAX_PAGES];
	for (int si = 0; si < MAX_SEGS; si++) {
		rt.fd[si] = -1;
		rt.path_live[si] = false;
	}
	memset(rt.uncertain, 0, sizeof rt.uncertain);
	memset(rt.guarded, 0, sizeof rt.guarded);
	rt.pre.len = 0;
	sb_add(&rt.pre, "%s", "");

	rec->len = 0;
	sb_call(rec, c);
	if (!setup_layout(c, &rt)) {
		sb_add(rec, " setup=%s:%s\n", rt.step, errno_name(rt.step_errno));
		teardown(c, &rt);
		return;
	}
	if ((long)c->idx == crash_case)
		*(volatile char *)(WINDOW_ADDR - pg) = 1;
	if ((long)c->idx == hang_case)
		for (;;)
			pause();
	need_flags = c->advice == MADV_DONTNEED_LOCKED;
	for (int si = 0; si < c->nsegs; si++)
		need_flags |= !c->segs[si].hole && (c->segs[si].lock || c->segs[si].noreserve);
	observe_maps(&before, c->npages);
	int dump0 = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	int pidfd = -1;
	if (c->entry == E_PM && (pidfd = pidfd_open(getpid(), 0)) < 0) {
		sb_add(rec, " setup=pidfd_open:%s\n", errno_name(errno));
		teardown(c, &rt);
		return;
	}
	struct iovec iov = { (void *)c->start, c->len };
	long ret;
	errno = SENTINEL_ERRNO;
	switch (c->entry) {
	case E_SYSCALL:
		ret = syscall(SYS_madvise, c->start, c->len, c->advice);
		break;
	case E_PM:
		ret = process_madvise(pidfd, &iov, 1, c->advice, 0);
		break;
	default:
		ret = madvise((void *)c->start, c->len, c->advice);
		break;
	}
	int err = errno;
	if (pidfd >= 0)
		close(pidfd);

	int dump1 = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	observe_maps(&after, c->npages);
	const char *why = NULL;
	bool have_child = wants_child(c) && child_view(c, child, &why);
	read_tokens(c, &after, tok);
	if (c->advice == MADV_FREE) {
		free_class(c, tok);
		if (have_child)
			free_class(c, child);
	}

	sb_add(rec, " ret=%ld errno=%s", ret, errno_name(err));
	if (rt.pre.len)
		sb_add(rec, " pre=%s", rt.pre.p);
	if (dump1 != dump0)
		sb_add(rec, " dump=%d", dump1);
	sb_tokens(rec, "data", tok, c->npages);
	static token_t prot[MAX_PAGES];
	for (int i = 0; i < c->npages; i++)
		snprintf(prot[i], TOKLEN, "%s", after.prot[i]);
	sb_tokens(rec, "prot", prot, c->npages);
	if (have_child)
		sb_tokens(rec, "child", child, c->npages);
	else if (why)
		sb_add(rec, " child=%s", why);
	security_checks(c, &rt, &before, &after, tok, rec);
	sb_add(rec, "\n");
	teardown(c, &rt);
}

/* ---- the runner ------------------------------------------------------------------------------- */

static int timeout_sec = 10;

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The worker: cases [from, to), one record each, into fd. */
static void worker(uint64_t from, uint64_t to, int fd)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* room for the largest object: a segment's pages, its offset and more */
	scratch_page = malloc((size_t)(MAX_PAGES + 8) * pg);
	if (!scratch_page)
		_exit(3);
	static struct fcase c;
	struct sbuf rec = { 0 };
	for (uint64_t k = from; k < to; k++) {
		gen_case(k, &c);
		run_case(&c, &rec);
		write_all(fd, rec.p, rec.len);
	}
	if (checks_unreachable)
		fprintf(stderr, PROG ": cases %llu-%llu: %ld objects could not be read back "
			"for the checks\n", (unsigned long long)from,
			(unsigned long long)to - 1, checks_unreachable);
}

static void print_dead(uint64_t k, const char *how)
{
	static struct fcase c;
	struct sbuf b = { 0 };
	gen_case(k, &c);
	sb_call(&b, &c);
	printf("%s crashed=%s\n", b.p, how);
	free(b.p);
}

/* Runs cases [from, to) in one worker; returns the first case not done (a
 * worker that died stops there, after the record of the case it died in). */
static uint64_t run_batch(uint64_t from, uint64_t to)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		perror(PROG ": pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror(PROG ": fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		setpgid(0, 0);
		worker(from, to, p[1]);
		_exit(0);
	}
	close(p[1]);
	setpgid(pid, pid);
	static char *buf;
	static size_t cap;
	size_t len = 0;
	uint64_t done = from;
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
		if (pr <= 0)
			continue;
		if (len + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf) {
				perror(PROG ": realloc");
				exit(2);
			}
		}
		ssize_t n = read(p[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		/* print whole records as they come, and restart the clock */
		char *nl, *at = buf;
		while ((nl = memchr(at, '\n', len - (size_t)(at - buf)))) {
			fwrite(at, 1, (size_t)(nl - at + 1), stdout);
			at = nl + 1;
			done++;
			clock_gettime(CLOCK_MONOTONIC, &t0);
		}
		len -= (size_t)(at - buf);
		memmove(buf, at, len);
	}
	close(p[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (done >= to)
		return to;
	char how[40];
	if (timed_out)
		snprintf(how, sizeof how, "timeout");
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "%s", signal_name(WTERMSIG(status)));
	else
		snprintf(how, sizeof how, "exit-%d", WEXITSTATUS(status));
	print_dead(done, how);
	kill(-pid, SIGKILL); /* a child view still running */
	return done + 1;
}

static void run_cases(uint64_t first, uint64_t count, bool alone)
{
	printf("# madvise-fuzz seed=%llu batch=%u first=%llu cases=%llu%s\n",
	       (unsigned long long)seed, batch, (unsigned long long)first,
	       (unsigned long long)count, alone ? " alone" : "");
	uint64_t k = first, end = first + count;
	while (k < end) {
		uint64_t stop = alone ? k + 1 : (k / batch + 1) * batch;
		if (stop > end)
			stop = end;
		k = run_batch(k, stop);
	}
	fflush(stdout);
}

/* Nothing may be mapped where calls can reach (range_safe). */
static bool playground_empty(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return false;
	char line[512];
	bool ok = true;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (lo < SAFE_END || (hi > KERNEL_HALF && !strstr(line, "[vsyscall]"))) {
			fprintf(stderr, PROG ": a mapping lies where the fuzzer's calls can reach: %s",
				line);
			ok = false;
		}
	}
	fclose(f);
	return ok;
}

/* ---- --describe and --stats -------------------------------------------------------------------- */

static const char *prot_name(int p)
{
	static const char *const n[] = { "none", "r", "w", "rw", "x", "rx", "wx", "rwx" };
	return n[p & 7];
}

static void describe(const struct fcase *c)
{
	char an[32];
	printf("case %llu (seed %llu): %d pages at %#lx\n", (unsigned long long)c->idx,
	       (unsigned long long)seed, c->npages, (unsigned long)WINDOW_ADDR);
	for (int si = 0; si < c->nsegs; si++) {
		const struct seg *s = &c->segs[si];
		printf("  seg %d: pages %d-%d ", si, s->first, s->first + s->npages - 1);
		if (s->hole) {
			printf("hole\n");
			continue;
		}
		printf("%s %s", s->shared ? "shared" : "private", backing_names[s->bk]);
		if (s->bk != BK_ANON)
			printf(" (offset %d, %d pages%s%s%s)", s->file_off, s->file_pages,
			       s->rdonly ? ", O_RDONLY" : "", s->keep_fd ? ", fd kept" : ", fd closed",
			       s->unlinked ? ", unlinked" : "");
		if (s->noreserve)
			printf(" noreserve");
		printf(" prot");
		for (int k = 0; k < s->npages; k++)
			printf("%s%s", k ? "," : " ", prot_name(c->prot[s->first + k]));
		printf(" written");
		for (int k = 0; k < s->npages; k++)
			printf("%s", c->written[s->first + k] ? "1" : "0");
		if (s->lock)
			printf(" %s pages %d-%d", s->lock == 1 ? "mlock" : "mlock2-onfault",
			       s->first + s->lock_first, s->first + s->lock_first + s->lock_pages - 1);
		if (s->pre_advice >= 0)
			printf(" then %s pages %d-%d%s", advice_name(s->pre_advice, an, sizeof an),
			       s->first + s->pre_first, s->first + s->pre_first + s->pre_pages - 1,
			       s->pre_move ? " moved away and back" : "");
		if (s->pre_mprotect >= 0)
			printf(" then mprotect %s", prot_name(s->pre_mprotect));
		printf("\n");
	}
	const char *e = c->entry == E_MADVISE ? "madvise" : c->entry == E_SYSCALL ?
		"syscall(SYS_madvise)" : "process_madvise";
	printf("  call: %s(%#lx, %#lx, %s) [start: %s, len: %s]\n", e, (unsigned long)c->start,
	       (unsigned long)c->len, advice_name(c->advice, an, sizeof an), c->addr_kind,
	       c->len_kind);
	if (c->start >= WINDOW_ADDR - 64 * pg && c->start < WINDOW_ADDR + MAX_PAGES * pg) {
		long sp = (long)(c->start - WINDOW_ADDR) / (long)pg;
		if (c->start < WINDOW_ADDR)
			sp = -(long)((WINDOW_ADDR - c->start + pg - 1) / pg);
		printf("        from window page %ld%s, %.2f pages\n", sp,
		       c->start % pg ? " (+ bytes)" : "", (double)c->len / (double)pg);
	}
}

struct counter {
	char name[48];
	unsigned long n;
};
static struct counter counters[256];
static size_t ncounters;

static void count(const char *fmt, ...)
{
	char name[48];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < ncounters; i++)
		if (!strcmp(counters[i].name, name)) {
			counters[i].n++;
			return;
		}
	if (ncounters < sizeof counters / sizeof counters[0]) {
		snprintf(counters[ncounters].name, sizeof counters[0].name, "%s", name);
		counters[ncounters++].n = 1;
	}
}

static void stats(uint64_t first, uint64_t n)
{
	static struct fcase c;
	for (uint64_t k = first; k < first + n; k++) {
		gen_case(k, &c);
		char an[32];
		const struct advice_info *a = advice_info(c.advice);
		count("advice %s", a ? advice_name(c.advice, an, sizeof an) : "garbage");
		count("entry %c", c.entry);
		count("start %s", c.addr_kind);
		count("len %s", c.len_kind);
		count("pages %s", c.npages < 16 ? "3-15" : c.npages < 128 ? "16-127" : "128-400");
		bool lock = false, hole = false, pre = false;
		for (int si = 0; si < c.nsegs; si++) {
			const struct seg *s = &c.segs[si];
			hole |= s->hole;
			if (s->hole)
				continue;
			count("segment %s-%s", s->shared ? "shared" : "private", backing_names[s->bk]);
			lock |= s->lock != 0;
			if (s->pre_advice >= 0) {
				pre = true;
				count("pre %s", advice_name(s->pre_advice, an, sizeof an));
			}
			if (s->pre_move)
				count("pre moved");
			if (s->rdonly)
				count("segment rdonly-file");
			if (s->bk != BK_ANON && s->file_pages < s->file_off + s->npages)
				count("segment short-file");
		}
		count("cases with-lock %d", lock);
		count("cases with-hole %d", hole);
		count("cases with-pre %d", pre);
	}
	for (size_t i = 0; i < ncounters; i++)
		printf("%s %lu\n", counters[i].name, counters[i].n);
}

/* ---- --compare and --security ------------------------------------------------------------------ */

#define MAXF 16
struct record {
	char *line;               /* owned, split in place */
	long long idx;            /* -1: none (end of file) */
	int nf;
	char *key[MAXF], *val[MAXF];
};

static const char *rec_get(const struct record *r, const char *key)
{
	for (int i = 0; i < r->nf; i++)
		if (!strcmp(r->key[i], key))
			return r->val[i];
	return NULL;
}

struct header {
	unsigned long long seed, first, cases;
	unsigned batch;
};

/* Reads the next record (skipping comments, keeping the last header). */
static bool read_record(FILE *f, struct record *r, struct header *h)
{
	static char *line;
	static size_t cap;
	free(r->line);
	r->line = NULL;
	r->idx = -1;
	r->nf = 0;
	for (;;) {
		ssize_t n = getline(&line, &cap, f);
		if (n < 0)
			return false;
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (line[0] == '#') {
			sscanf(line, "# madvise-fuzz seed=%llu batch=%u first=%llu cases=%llu",
			       &h->seed, &h->batch, &h->first, &h->cases);
			continue;
		}
		if (!n)
			continue;
		char *copy = strdup(line), *save = NULL;
		if (!copy) {
			perror(PROG ": strdup");
			exit(2);
		}
		r->line = copy; /* key and val point into it */
		r->idx = strtoll(strtok_r(copy, " ", &save), NULL, 10);
		for (char *t = strtok_r(NULL, " ", &save); t && r->nf < MAXF;
		     t = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(t, '=');
			if (!eq)
				continue;
			*eq = 0;
			r->key[r->nf] = t;
			r->val[r->nf++] = eq + 1;
		}
		return true;
	}
}

/* The full line again, for printing (the split copy has NULs). */
static void print_record(const char *label, const struct record *r)
{
	printf("    %s: %lld", label, r->idx);
	for (int i = 0; i < r->nf; i++)
		printf(" %s=%s", r->key[i], r->val[i]);
	printf("\n");
}

/* Expands run-length coded tokens. */
static int expand(const char *s, token_t *out, int max)
{
	int n = 0;
	if (!s)
		return 0;
	while (*s && n < max) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		char t[TOKLEN + 8];
		snprintf(t, sizeof t, "%.*s", (int)(l < sizeof t - 1 ? l : sizeof t - 1), s);
		int times = 1;
		char *star = strchr(t, '*');
		if (star) {
			*star = 0;
			times = atoi(star + 1);
		}
		for (int k = 0; k < times && n < max; k++)
			snprintf(out[n++], TOKLEN, "%.*s", TOKLEN - 1, t);
		if (!e)
			break;
		s = e + 1;
	}
	return n;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *variant_name = "variant", *rerun_prefix = "";
static char self_path[PATH_MAX];

static unsigned long approx_guard, approx_dontdump, approx_collapse, approx_writeonly;

/* The window pages a record's call covers, from its call= field: 1 where
 * the page is in the range a well-formed call advises. */
static int call_range(const char *call, bool *in, int max)
{
	const char *p = call ? strchr(call, '/') : NULL;
	if (!p || !(p = strchr(p + 1, '/')))
		return 0;
	char *end;
	uintptr_t start = strtoul(p + 1, &end, 16);
	size_t len = *end == '/' ? strtoul(end + 1, NULL, 16) : 0;
	size_t rounded = (len + pg - 1) & ~(pg - 1);
	bool ok = !(start & (pg - 1)) && !(len && !rounded) && start + rounded >= start;
	for (int i = 0; i < max; i++) {
		uintptr_t a = WINDOW_ADDR + (uintptr_t)i * pg;
		in[i] = ok && a >= start && a < start + rounded;
	}
	return max;
}

/* The one error a simulated kernel gives for advice the shim hands back to
 * it (pass_error, shim/core/dispatch.c), or NULL for a variant the comparison
 * does not know, which then gets no such approximation:
 *   sim      madvise-sim takes madvise and process_madvise away: ENOSYS
 *   sim-4.4  madvise is there but predates COLLAPSE (6.1) and POPULATE_WRITE
 *            (5.14), so the shim learnt the kernel's answer: EINVAL
 * Any other outcome in these cases is the shim doing something it does not
 * document (emulating in part, or guessing another error). */
static const char *variant_kernel_error(void)
{
	if (!strcmp(variant_name, "sim"))
		return "ENOSYS";
	if (!strcmp(variant_name, "sim-4.4"))
		return "EINVAL";
	return NULL;
}

/* The approximations the shim documents (docs/semantics.md, and
 * tests/differential-exceptions.txt), per field:
 *   guard     a page that is a kernel guard region natively (G) is an
 *             emulated guard: it reads - and its protection is --- with the
 *             same sharing and flags; in a child's view, G may read - only
 *             on a page whose parent is such a guard
 *   dontdump  without the kernel's DONTDUMP (variant sim) the process
 *             becomes non-dumpable: dump=0
 *   collapse  COLLAPSE is not emulated: ret=-1 with the variant's one
 *             kernel error (variant_kernel_error)
 *   write-only populate  POPULATE_WRITE over a write-only page of a file
 *             or shared mapping: the same, ret=-1 and that error
 * Returns the differing fields, comma-separated, or "" when none. */
static void compare_fields(const struct record *a, const struct record *b, char *diff,
			   size_t n)
{
	diff[0] = 0;
	const char *call = rec_get(a, "call");
	bool collapse = call && !strncmp(call, "collapse/", 9);
	bool dontdump = call && !strncmp(call, "dontdump/", 9);
	/* the two approximations of ret and errno hold only when the variant
	 * gave exactly ret=-1 and its kernel's error: the pair is checked as
	 * one, so a wrong ret is not excused by a right errno, or the other
	 * way round */
	const char *want = variant_kernel_error();
	const char *br = rec_get(b, "ret"), *be = rec_get(b, "errno");
	bool kernel_error = want && br && !strcmp(br, "-1") && be && !strcmp(be, want);
	/* POPULATE_WRITE on a write-only file or shared mapping: the shim
	 * cannot read it safely first, and gives the kernel's own error */
	bool writeonly = false, used_collapse = false, used_writeonly = false;
	if (kernel_error && call && !strncmp(call, "populate-write/", 15)) {
		static token_t pa[MAX_PAGES];
		static bool in[MAX_PAGES];
		int np = expand(rec_get(a, "prot"), pa, MAX_PAGES);
		call_range(call, in, np);
		for (int i = 0; i < np && !writeonly; i++)
			writeonly = in[i] && !strncmp(pa[i], "-w-", 3);
	}
	static const char *const simple[] = { "call", "setup", "crashed", "ret", "errno",
					      "pre", "dump" };
	for (size_t f = 0; f < sizeof simple / sizeof simple[0]; f++) {
		const char *x = rec_get(a, simple[f]), *y = rec_get(b, simple[f]);
		if (str_eq(x, y))
			continue;
		bool result = !strcmp(simple[f], "ret") || !strcmp(simple[f], "errno");
		if (collapse && kernel_error && result) {
			used_collapse = true;
			continue;
		}
		if (writeonly && result) {
			used_writeonly = true;
			continue;
		}
		if (dontdump && !strcmp(variant_name, "sim") && !strcmp(simple[f], "dump") &&
		    !x && y && !strcmp(y, "0")) {
			approx_dontdump++;
			continue;
		}
		snprintf(diff + strlen(diff), n - strlen(diff), ",%s", simple[f]);
	}
	approx_collapse += used_collapse;
	approx_writeonly += used_writeonly;
	static token_t ad[MAX_PAGES], bd[MAX_PAGES], ap[MAX_PAGES], bp[MAX_PAGES];
	int na = expand(rec_get(a, "data"), ad, MAX_PAGES);
	int nb = expand(rec_get(b, "data"), bd, MAX_PAGES);
	int npa = expand(rec_get(a, "prot"), ap, MAX_PAGES);
	int npb = expand(rec_get(b, "prot"), bp, MAX_PAGES);
	bool ddata = na != nb, dprot = npa != npb;
	/* the parent pages the guard rule explained: only these may be a guard
	 * in the child's view too */
	static bool guard_page[MAX_PAGES];
	memset(guard_page, 0, sizeof guard_page);
	for (int i = 0; i < na && i < nb && i < npa && i < npb; i++) {
		bool same_d = !strcmp(ad[i], bd[i]), same_p = !strcmp(ap[i], bp[i]);
		if (same_d && same_p)
			continue;
		if (!strcmp(ad[i], "G") && !strcmp(bd[i], "-") && strlen(ap[i]) >= 4 &&
		    !strncmp(bp[i], "---", 3) && !strcmp(bp[i] + 3, ap[i] + 3)) {
			guard_page[i] = true;
			approx_guard++;
			continue;
		}
		ddata |= !same_d;
		dprot |= !same_p;
	}
	if (ddata)
		snprintf(diff + strlen(diff), n - strlen(diff), ",data");
	if (dprot)
		snprintf(diff + strlen(diff), n - strlen(diff), ",prot");
	const char *ca = rec_get(a, "child"), *cb = rec_get(b, "child");
	if (!str_eq(ca, cb)) {
		bool dchild = !ca || !cb;
		if (!dchild) {
			na = expand(ca, ad, MAX_PAGES);
			nb = expand(cb, bd, MAX_PAGES);
			dchild = na != nb;
			for (int i = 0; i < na && i < nb; i++)
				if (strcmp(ad[i], bd[i])) {
					if (!strcmp(ad[i], "G") && !strcmp(bd[i], "-") &&
					    guard_page[i])
						approx_guard++;
					else
						dchild = true;
				}
		}
		if (dchild)
			snprintf(diff + strlen(diff), n - strlen(diff), ",child");
	}
	if (diff[0])
		memmove(diff, diff + 1, strlen(diff));
}

static void print_rerun(long long idx, const struct header *h)
{
	unsigned long long b0 = (unsigned long long)idx / h->batch * h->batch;
	if (b0 < h->first)
		b0 = h->first;
	printf("    rerun alone:      %s%s%s --seed %llu --case %lld\n", rerun_prefix,
	       *rerun_prefix ? " " : "", self_path, h->seed, idx);
	printf("    rerun with batch: %s%s%s --seed %llu --batch %u --first %llu --cases %llu\n",
	       rerun_prefix, *rerun_prefix ? " " : "", self_path, h->seed, h->batch, b0,
	       (unsigned long long)idx - b0 + 1);
	printf("    describe:         %s --seed %llu --case %lld --describe\n", self_path,
	       h->seed, idx);
}

struct group {
	char key[96];
	unsigned long n;
	long long first;
};

static int compare(const char *fa, const char *fb, int max_show)
{
	FILE *a = fopen(fa, "re"), *b = fopen(fb, "re");
	if (!a || !b) {
		fprintf(stderr, PROG ": cannot open %s\n", !a ? fa : fb);
		return 2;
	}
	struct record ra = { 0 }, rb = { 0 };
	struct header ha = { 0, 0, 0, 100 }, hb = ha;
	bool more_a = read_record(a, &ra, &ha), more_b = read_record(b, &rb, &hb);
	unsigned long compared = 0, differing = 0;
	static struct group groups[200];
	size_t ngroups = 0;
	int shown = 0;
	char diff[128];
	while (more_a || more_b) {
		const struct record *show_a = NULL, *show_b = NULL;
		long long idx;
		if (more_a && (!more_b || ra.idx < rb.idx)) {
			snprintf(diff, sizeof diff, "missing-in-%s", variant_name);
			idx = ra.idx;
			show_a = &ra;
		} else if (more_b && (!more_a || rb.idx < ra.idx)) {
			snprintf(diff, sizeof diff, "only-in-%s", variant_name);
			idx = rb.idx;
			show_b = &rb;
		} else {
			compare_fields(&ra, &rb, diff, sizeof diff);
			idx = ra.idx;
			show_a = &ra;
			show_b = &rb;
			compared++;
		}
		if (diff[0]) {
			differing++;
			const char *call = rec_get(show_a ? show_a : show_b, "call");
			char key[96];
			snprintf(key, sizeof key, "%.*s [%s]",
				 call ? (int)strcspn(call, "/") : 1, call ? call : "?", diff);
			size_t g = 0;
			while (g < ngroups && strcmp(groups[g].key, key))
				g++;
			if (g == ngroups && ngroups < sizeof groups / sizeof groups[0]) {
				snprintf(groups[g].key, sizeof groups[g].key, "%s", key);
				groups[g].first = idx;
				ngroups++;
			}
			if (g < ngroups)
				groups[g].n++;
			if (shown < max_show) {
				if (!shown)
					printf("mismatches between native and %s (first %d):\n",
					       variant_name, max_show);
				shown++;
				printf("  case %lld differs in %s\n", idx, diff);
				if (show_a)
					print_record("native", show_a);
				if (show_b)
					print_record(variant_name, show_b);
				print_rerun(idx, &ha);
			}
		}
		if (show_a)
			more_a = read_record(a, &ra, &ha);
		if (show_b)
			more_b = read_record(b, &rb, &hb);
	}
	fclose(a);
	fclose(b);
	if (ha.seed != hb.seed) {
		printf("the two files are of different seeds (%llu, %llu)\n", ha.seed, hb.seed);
		return 2;
	}
	if (ngroups) {
		printf("groups (advice [differing fields]: count, first case):\n");
		for (size_t g = 0; g < ngroups; g++)
			printf("  %s: %lu, case %lld\n", groups[g].key, groups[g].n, groups[g].first);
	}
	printf("compared %lu cases of seed %llu, native against %s: %lu differ; "
	       "approximations accepted: guard %lu pages, dontdump %lu cases, collapse %lu cases, "
	       "write-only populate %lu cases\n",
	       compared, ha.seed, variant_name, differing, approx_guard, approx_dontdump,
	       approx_collapse, approx_writeonly);
	return differing ? 1 : 0;
}

static int security(const char *file, int max_show)
{
	FILE *f = fopen(file, "re");
	if (!f) {
		fprintf(stderr, PROG ": cannot open %s\n", file);
		return 2;
	}
	struct record r = { 0 };
	struct header h = { 0, 0, 0, 100 };
	unsigned long n = 0, bad = 0;
	static struct group groups[200];
	size_t ngroups = 0;
	while (read_record(f, &r, &h)) {
		n++;
		const char *sec = rec_get(&r, "sec");
		if (!sec)
			continue;
		bad++;
		const char *call = rec_get(&r, "call");
		char key[96];
		snprintf(key, sizeof key, "%.*s %.*s", call ? (int)strcspn(call, "/") : 1,
			 call ? call : "?", (int)strcspn(sec, "@"), sec);
		size_t g = 0;
		while (g < ngroups && strcmp(groups[g].key, key))
			g++;
		if (g == ngroups && ngroups < sizeof groups / sizeof groups[0]) {
			snprintf(groups[g].key, sizeof groups[g].key, "%s", key);
			groups[g].first = r.idx;
			ngroups++;
		}
		if (g < ngroups)
			groups[g].n++;
		if ((int)bad <= max_show) {
			printf("  case %lld failed a security check in %s: %s\n", r.idx,
			       variant_name, sec);
			print_record(variant_name, &r);
			print_rerun(r.idx, &h);
		}
	}
	fclose(f);
	if (ngroups) {
		printf("groups (advice first-check: count, first case):\n");
		for (size_t g = 0; g < ngroups; g++)
			printf("  %s: %lu, case %lld\n", groups[g].key, groups[g].n, groups[g].first);
	}
	printf("%lu records of %s, %lu failed a security check\n", n, variant_name, bad);
	return bad ? 1 : 0;
}

/* ---- resource edges (--edge NAME), for tests/resources.bats ----------------------------------------
 *
 * Each edge sets up one situation at the limits of a resource, gives one
 * madvise call and prints what it saw as one line per sub-case:
 *
 *   EDGE SUB key=value...
 *
 * with ret and errno as in the fuzz records, data and prot as run-length
 * coded tokens of the pages concerned, and figures (VMA counts, times,
 * memory deltas) the test asserts on.  With --sysctl, maxmap and overcommit
 * set the global limit they test (vm.max_map_count to --limit,
 * vm.overcommit_memory to 2) just before the call and restore it right after
 * it, so that other processes see it for milliseconds; the test keeps the
 * old value too, and restores it whatever happens.
 */

#define FILL_ADDR ((uintptr_t)0x200000000000ULL)   /* 32 TiB: fillers */

static struct fcase edge_c;   /* gives classify() its patterns: one anon segment */

static void edge_init(void)
{
	memset(&edge_c, 0, sizeof edge_c);
	edge_c.key = 0x65646765ULL;
	edge_c.npages = MAX_PAGES;
	edge_c.nsegs = 1;
	edge_c.segs[0].npages = MAX_PAGES;
	edge_c.segs[0].pre_advice = -1;
	/* room for smaps with thousands of mappings, allocated while mappings
	 * are still free */
	smaps_cap = (size_t)16 << 20;
	smaps_buf = malloc(smaps_cap);
	if (!smaps_buf)
		exit(2);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* With --sysctl the edges set the limit they test themselves, for as short
 * a time as they can (it is global: every process on the machine sees it),
 * and put the old value back at once; the test also restores it, in case
 * the edge dies in between. */
static bool edge_sysctl;

struct saved_sysctl {
	const char *path;
	long value;
};

static bool sysctl_write(const char *path, long v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", v);
	bool ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	return ok;
}

static bool sysctl_set(struct saved_sysctl *s, const char *path, long v)
{
	s->path = path;
	s->value = read_long(path);
	return s->value >= 0 && sysctl_write(path, v);
}

static void sysctl_restore(struct saved_sysctl *s)
{
	if (s->path && s->value >= 0)
		sysctl_write(s->path, s->value);
	s->path = NULL;
}

/* A "Key:   N kB" line of /proc/self/status or /proc/meminfo, in kB. */
static long read_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static long count_vmas(void)
{
	open_proc_fds();
	size_t len = read_proc(maps_fd);
	long n = 0;
	for (size_t i = 0; i < len; i++)
		n += smaps_buf[i] == '\n';
	return n - (strstr(smaps_buf, "[vsyscall]") != NULL);
}

static void *edge_map(uintptr_t at, size_t len, int prot, int flags)
{
	void *p = mmap((void *)at, len, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)at) {
		printf("edge: mmap %#lx+%#lx failed: %s\n", (unsigned long)at, (unsigned long)len,
		       strerror(errno));
		exit(2);
	}
	return p;
}

static void edge_fill(int first, int n)
{
	for (int i = first; i < first + n; i++)
		fill(page_addr(i), pattern_base(&edge_c, 'W', i, 0));
}

/* ret, errno, data and prot of window pages [0, n) into b.  After a
 * successful MADV_FREE a private anonymous page reads its old bytes or
 * zero: OZ. */
static int edge_advice = -1;

static void edge_state(struct sbuf *b, long ret, int err, int n)
{
	static struct obs o;
	static token_t tok[MAX_PAGES], prot[MAX_PAGES];
	need_flags = true;
	observe_maps(&o, n);
	read_tokens(&edge_c, &o, tok);
	for (int i = 0; i < n; i++) {
		snprintf(prot[i], TOKLEN, "%s", o.prot[i]);
		if (edge_advice == MADV_FREE && ret == 0 && o.prot[i][3] == 'p' &&
		    strchr("WZ", tok[i][0]))
			strcpy(tok[i], "OZ");
	}
	sb_add(b, " ret=%ld errno=%s", ret, errno_name(err));
	sb_tokens(b, "data", tok, n);
	sb_tokens(b, "prot", prot, n);
}

static void edge_emit(struct sbuf *b)
{
	sb_add(b, "\n");
	fflush(stdout);
	write_all(1, b->p, b->len);
	b->len = 0;
}

static long edge_call(void *addr, size_t len, int advice, int *err)
{
	edge_advice = advice;
	errno = SENTINEL_ERRNO;
	long r = madvise(addr, len, advice);
	*err = errno;
	return r;
}

static void edge_clear(void)
{
	munmap((void *)WINDOW_ADDR, (size_t)MAX_PAGES * pg);
}

/* "kept" when every mapping over window pages [first, first + n) still has
 * the memory policy bind:0 (from mbind), else "lost".  The kernel's DONTNEED
 * keeps a mapping's policy; a mapping put in its place has the default. */
static const char *policy_kept(int first, int n)
{
	open_proc_fds();
	size_t len = read_proc(maps_fd);
	uintptr_t lo = (uintptr_t)page_addr(first), hi = (uintptr_t)page_addr(first + n);
	uintptr_t starts[64];
	int ns = 0;
	uintptr_t covered = lo;
	for (char *line = smaps_buf, *end = smaps_buf + len; line < end && ns < 64;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		char *q;
		uintptr_t a = strtoul(line, &q, 16), z = strtoul(q + 1, &q, 16);
		if (a <= covered && z > covered && covered < hi) {
			starts[ns++] = a;
			covered = z;
		}
		line = nl + 1;
	}
	if (covered < hi)
		return "lost";
	FILE *f = fopen("/proc/self/numa_maps", "re");
	char line[512];
	int ok = 0;
	while (f && fgets(line, sizeof line, f)) {
		uintptr_t a = strtoul(line, NULL, 16);
		for (int k = 0; k < ns; k++)
			if (a == starts[k] && strstr(line, " bind:0"))
				ok++;
	}
	if (f)
		fclose(f);
	return ok == ns ? "kept" : "lost";
}

/* maxmap: the process has all but SLACK of vm.max_map_count mappings, and
 * MADV_DONTNEED empties the middle of a 16-page mapping.  The kernel needs no
 * new mapping for that; an emulation that moves or replaces pages needs up to
 * three.  WARM first gives DONTNEED once on a scratch page, so that the shim
 * has learnt what it needs while mappings were still free. */
static long edge_limit;   /* --limit: the vm.max_map_count to test at */

static int edge_maxmap(int slack, bool warm)
{
	struct sbuf b = { 0 };
	sb_add(&b, "maxmap slack=%d warm=%d", slack, warm);
	struct saved_sysctl saved = { 0 };
	if (edge_sysctl && edge_limit > 0 &&
	    !sysctl_set(&saved, "/proc/sys/vm/max_map_count", edge_limit)) {
		printf("maxmap setup=sysctl:%s\n", errno_name(errno));
		return 0;
	}
	long limit = read_long("/proc/sys/vm/max_map_count");
	edge_map(WINDOW_ADDR, 16 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS);
	edge_fill(0, 16);
	/* a memory policy, which the kernel's DONTNEED keeps and a replaced
	 * mapping loses (MPOL_BIND to node 0) */
	unsigned long node0 = 1;
	bool named = !syscall(SYS_mbind, WINDOW_ADDR, 16 * pg, 2, &node0, 64, 0);
	if (warm) {
		void *s = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s != MAP_FAILED) {
			*(volatile char *)s = 1;
			madvise(s, pg, MADV_DONTNEED);
			munmap(s, pg);
		}
	}
	long have = count_vmas(), target = limit - slack;
	size_t rpages = 2 * (size_t)(target > have ? target - have : 0) + 8;
	char *r = edge_map(FILL_ADDR, rpages * pg, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	have = count_vmas();
	for (size_t k = 1; have + 2 <= target && 2 * k + 4 < rpages; k++, have += 2)
		if (mprotect(r + (2 * k) * pg, pg, PROT_READ))
			break;
	if (have < target && !mprotect(r + (rpages - 1) * pg, pg, PROT_READ))
		have++;
	long before = count_vmas();
	int err;
	long ret = edge_call(page_addr(4), 8 * pg, MADV_DONTNEED, &err);
	long after = count_vmas();
	sb_add(&b, " limit=%ld vmas=%ld vmas_after=%ld", limit, before, after);
	/* what the process does next needs mappings again: a second call,
	 * now that the filler is gone, shows whether the shim still empties
	 * pages the way it did before */
	munmap(r, rpages * pg);
	sysctl_restore(&saved);
	edge_state(&b, ret, err, 16);
	sb_add(&b, " policy=%s", named ? policy_kept(4, 8) : "unsupported");
	edge_fill(0, 16);
	long ret2 = edge_call(page_addr(4), 8 * pg, MADV_DONTNEED, &err);
	sb_add(&b, " then");
	edge_state(&b, ret2, err, 16);
	sb_add(&b, " policy=%s", named ? policy_kept(4, 8) : "unsupported");
	edge_emit(&b);
	edge_clear();
	return 0;
}

/* overcommit: with vm.overcommit_memory=2, a filler mapping takes all but
 * MARGIN_MB of the commit limit, and MADV_DONTNEED empties the middle half
 * of a T_MB MiB private writable mapping (whose first page of each MiB was
 * written).  The filler goes as soon as the call returns. */
static int edge_overcommit(long margin_mb, long t_mb)
{
	struct sbuf b = { 0 };
	sb_add(&b, "overcommit margin_mb=%ld t_mb=%ld", margin_mb, t_mb);
	if (t_mb > MAX_PAGES)
		t_mb = MAX_PAGES;
	size_t mb = (size_t)1 << 20, tlen = (size_t)t_mb * mb;
	char *t = edge_map(WINDOW_ADDR, tlen, RW, MAP_PRIVATE | MAP_ANONYMOUS);
	for (long k = 0; k < t_mb; k++)
		fill(t + (size_t)k * mb, pattern_base(&edge_c, 'W', k, 0));
	struct saved_sysctl saved = { 0 };
	if (edge_sysctl && !sysctl_set(&saved, "/proc/sys/vm/overcommit_memory", 2)) {
		printf("overcommit setup=sysctl:%s\n", errno_name(errno));
		munmap(t, tlen);
		return 0;
	}
	long mode = read_long("/proc/sys/vm/overcommit_memory");
	void *filler = MAP_FAILED;
	long headroom = 0;
	size_t flen = 0;
	for (int tries = 0; tries < 8 && filler == MAP_FAILED; tries++) {
		long limit = read_kb("/proc/meminfo", "CommitLimit");
		long used = read_kb("/proc/meminfo", "Committed_AS");
		headroom = (limit - used) / 1024;
		long want = headroom - margin_mb - tries * 4;
		if (want <= 0)
			break;
		flen = (size_t)want * mb;
		filler = mmap((void *)FILL_ADDR, flen, RW,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	}
	int err = 0;
	long ret = -2;
	if (filler != MAP_FAILED) {
		ret = edge_call(t + tlen / 4, tlen / 2, MADV_DONTNEED, &err);
		munmap(filler, flen);
	}
	sysctl_restore(&saved);
	sb_add(&b, " mode=%ld headroom_mb=%ld filled=%d", mode, headroom, filler != MAP_FAILED);
	/* mapped: does /proc/self/maps cover all of T, with its protection? */
	open_proc_fds();
	size_t len = read_proc(maps_fd);
	uintptr_t covered = WINDOW_ADDR;
	bool prot_ok = true;
	for (char *line = smaps_buf, *end = smaps_buf + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		char *q;
		uintptr_t lo = strtoul(line, &q, 16), hi = strtoul(q + 1, &q, 16);
		if (lo <= covered && hi > covered && covered < WINDOW_ADDR + tlen) {
			prot_ok &= !strncmp(q + 1, "rw-p", 4);
			covered = hi;
		}
		line = nl + 1;
	}
	sb_add(&b, " ret=%ld errno=%s mapped=%s prot=%s", ret, errno_name(err),
	       covered >= WINDOW_ADDR + tlen ? "all" : "HOLE", prot_ok ? "rw-p" : "CHANGED");
	static token_t tok[MAX_PAGES];
	if (covered >= WINDOW_ADDR + tlen)
		for (long k = 0; k < t_mb; k++)
			classify(&edge_c, (int)k, (const unsigned char *)t + (size_t)k * mb, tok[k]);
	else
		for (long k = 0; k < t_mb; k++)
			strcpy(tok[k], "?");
	sb_tokens(&b, "data", tok, (int)t_mb);
	edge_emit(&b);
	munmap(t, tlen);
	return 0;
}

static void edge_isolated(void (*fn)(long), long arg);

/* mlock: DONTNEED (and relatives) on memory locked in the ways a program can
 * lock it, each in a fresh process (the shim looks for locks only once the
 * program has called mlock).  VmLck is the process's locked memory before
 * and after. */
static const struct {
	const char *name;
	int how;          /* 1 mlock, 2 mlock2 onfault, 3 mlockall, 4 MAP_LOCKED */
	int first, n;     /* locked pages of 8 */
	int advice;
} mlock_subs[] = {
	{ "mlock-dontneed", 1, 0, 8, MADV_DONTNEED },
	{ "mlock-free", 1, 0, 8, MADV_FREE },
	{ "mlock-dontneed-locked", 1, 0, 8, MADV_DONTNEED_LOCKED },
	{ "mlock-partial-dontneed", 1, 4, 4, MADV_DONTNEED },
	{ "onfault-dontneed", 2, 0, 8, MADV_DONTNEED },
	{ "onfault-dontneed-locked", 2, 0, 8, MADV_DONTNEED_LOCKED },
	{ "mlockall-dontneed", 3, 0, 8, MADV_DONTNEED },
	{ "map-locked-dontneed", 4, 0, 8, MADV_DONTNEED },
};

static void edge_mlock_one(long s)
{
	char an[32];
	struct sbuf b = { 0 };
	sb_add(&b, "mlock %s", mlock_subs[s].name);
	edge_map(WINDOW_ADDR, 8 * pg, RW,
		 MAP_PRIVATE | MAP_ANONYMOUS | (mlock_subs[s].how == 4 ? MAP_LOCKED : 0));
	edge_fill(0, 8);
	char *l = page_addr(mlock_subs[s].first);
	size_t ll = (size_t)mlock_subs[s].n * pg;
	int r = 0;
	if (mlock_subs[s].how == 1)
		r = mlock(l, ll);
	else if (mlock_subs[s].how == 2)
		r = mlock2(l, ll, MLOCK_ONFAULT);
	else if (mlock_subs[s].how == 3)
		r = mlockall(MCL_CURRENT);
	if (r) {
		printf("mlock %s setup=%s\n", mlock_subs[s].name, errno_name(errno));
		return;
	}
	long lck0 = read_kb("/proc/self/status", "VmLck");
	int err;
	long ret = edge_call(page_addr(0), 8 * pg, mlock_subs[s].advice, &err);
	long lck1 = read_kb("/proc/self/status", "VmLck");
	sb_add(&b, " advice=%s vmlck_delta_kb=%ld", advice_name(mlock_subs[s].advice, an, sizeof an),
	       lck1 - lck0);
	edge_state(&b, ret, err, 8);
	if (mlock_subs[s].how == 3)
		munlockall();
	edge_emit(&b);
	edge_clear();
}

static int edge_mlock(void)
{
	for (long k = 0; k < (long)(sizeof mlock_subs / sizeof mlock_subs[0]); k++)
		edge_isolated(edge_mlock_one, k);
	return 0;
}

/* Runs fn(arg) in a child, so that what it leaves behind (sealed or locked
 * memory, a non-dumpable process) goes with it. */
static void edge_isolated(void (*fn)(long), long arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror(PROG ": fork");
		exit(2);
	}
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("edge sub-case %ld crashed=%s\n", arg,
		       WIFSIGNALED(st) ? signal_name(WTERMSIG(st)) : "exit");
}

/* mseal (Linux 6.10, SHIM_NR_MSEAL): the advice values that discard
 * or mark memory, on sealed private read-only, private read-write and shared
 * read-only anonymous memory. */
static const struct {
	const char *name;
	int prot, flags;
} seal_kinds[] = {
	{ "anon-ro", RO, MAP_PRIVATE | MAP_ANONYMOUS },
	{ "anon-rw", RW, MAP_PRIVATE | MAP_ANONYMOUS },
	{ "shm-ro", RO, MAP_SHARED | MAP_ANONYMOUS },
};
static const int seal_advices[] = {
	MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, MADV_REMOVE, MADV_DONTFORK,
	MADV_WIPEONFORK, MADV_GUARD_INSTALL, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ,
};
#define NSEAL_ADVICES (sizeof seal_advices / sizeof seal_advices[0])

static void edge_mseal_one(long which)
{
	int k = (int)(which / (long)NSEAL_ADVICES), advice = seal_advices[which % (long)NSEAL_ADVICES];
	char an[32];
	struct sbuf b = { 0 };
	sb_add(&b, "mseal %s-%s", seal_kinds[k].name, advice_name(advice, an, sizeof an));
	char *p = edge_map(WINDOW_ADDR, 4 * pg, RW, seal_kinds[k].flags);
	edge_fill(0, 4);
	if (seal_kinds[k].prot != RW)
		mprotect(p, 4 * pg, seal_kinds[k].prot);
	if (syscall(SHIM_NR_MSEAL, p, 4 * pg, 0)) {
		sb_add(&b, " setup=%s", errno_name(errno));
		edge_emit(&b);
		return;
	}
	int err;
	long ret = edge_call(p, 4 * pg, advice, &err);
	edge_state(&b, ret, err, 4);
	edge_emit(&b);
}

static int edge_mseal(void)
{
	for (long w = 0; w < (long)(NSEAL_ADVICES * (sizeof seal_kinds / sizeof seal_kinds[0])); w++)
		edge_isolated(edge_mseal_one, w);
	return 0;
}

/* reserve: a 1 TiB MAP_NORESERVE reservation, PROT_NONE or read-write with
 * four pages written, emptied whole by DONTNEED or FREE.  Neither may need
 * memory, page tables or time in proportion to the size: the figures are
 * the call's time and the changes of VmRSS and VmPTE. */
static void edge_reserve_one(long which)
{
	static const char *const names[] = { "none-dontneed", "none-free", "rw-dontneed", "rw-free" };
	bool rw = which >= 2;
	int advice = which % 2 ? MADV_FREE : MADV_DONTNEED;
	size_t tib = (size_t)1 << 40;
	struct sbuf b = { 0 };
	sb_add(&b, "reserve %s", names[which]);
	char *p = edge_map(WINDOW_ADDR, tib, rw ? RW : PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	static const size_t at[] = { 0, (size_t)1 << 30, (size_t)1 << 39, ((size_t)1 << 40) - 4096 };
	if (rw)
		for (int k = 0; k < 4; k++)
			fill(p + at[k], pattern_base(&edge_c, 'W', k, 0));
	long rss0 = read_kb("/proc/self/status", "VmRSS");
	long pte0 = read_kb("/proc/self/status", "VmPTE");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err;
	long ret = edge_call(p, tib, advice, &err);
	long ms = ms_since(&t0);
	long rss1 = read_kb("/proc/self/status", "VmRSS");
	long pte1 = read_kb("/proc/self/status", "VmPTE");
	/* the reservation must still be one mapping, with its protection and
	 * flags */
	need_flags = true;
	open_proc_fds();
	size_t len = read_proc(smaps_fd);
	char want[64];
	snprintf(want, sizeof want, "%lx-%lx %s", (unsigned long)WINDOW_ADDR,
		 (unsigned long)(WINDOW_ADDR + tib), rw ? "rw-p" : "---p");
	char *m = memmem(smaps_buf, len, want, strlen(want));
	char *fl = m ? strstr(m, "VmFlags:") : NULL;
	char *eol = fl ? strchr(fl, '\n') : NULL;
	if (eol)
		*eol = 0;
	bool noreserve = fl && strstr(fl, " nr");
	static token_t tok[4];
	for (int k = 0; k < 4; k++) {
		if (!rw) {
			strcpy(tok[k], "-");
			continue;
		}
		/* a private anonymous page reads its old bytes or zero after
		 * FREE, zero after DONTNEED */
		classify(&edge_c, k, (const unsigned char *)p + at[k], tok[k]);
		if (advice == MADV_FREE && strchr("WZ", tok[k][0]))
			strcpy(tok[k], "OZ");
	}
	sb_add(&b, " ret=%ld errno=%s ms=%ld rss_delta_kb=%ld pte_delta_kb=%ld mapping=%s%s",
	       ret, errno_name(err), ms, rss1 - rss0, pte1 - pte0, m ? "same" : "CHANGED",
	       noreserve ? "" : "-without-noreserve");
	sb_tokens(&b, "data", tok, 4);
	edge_emit(&b);
}

static int edge_reserve(void)
{
	for (long w = 0; w < 4; w++)
		edge_isolated(edge_reserve_one, w);
	return 0;
}

/* hugetlb: MAP_HUGETLB mappings of two huge pages, every base page written.
 * A huge page's token is W, Z, or "mixed" when its base pages disagree (an
 * emulation that zeroed part of one). */
static size_t huge_size(void)
{
	long kb = read_kb("/proc/meminfo", "Hugepagesize");
	return kb > 0 ? (size_t)kb * 1024 : (size_t)2 << 20;
}

static void huge_token(const char *hp, size_t hsz, int h, char *out)
{
	size_t n = hsz / pg, w = 0, z = 0;
	for (size_t k = 0; k < n; k++) {
		const unsigned char *page = (const unsigned char *)hp + k * pg;
		char t[TOKLEN];
		classify(&edge_c, h, page, t);
		w += !strcmp(t, "W");
		z += !strcmp(t, "Z");
	}
	snprintf(out, TOKLEN, "%s", w == n ? "W" : z == n ? "Z" : "mixed");
}

static void edge_hugetlb_one(long which)
{
	static const struct {
		const char *name;
		bool shared;
		int advice;
		size_t off, len;   /* in base pages; len 0 is one huge page */
	} subs[] = {
		{ "private-dontneed", false, MADV_DONTNEED, 0, 0 },
		{ "private-dontneed-one-base-page", false, MADV_DONTNEED, 0, 1 },
		{ "private-dontneed-unaligned", false, MADV_DONTNEED, 1, 1 },
		{ "private-dontneed-locked", false, MADV_DONTNEED_LOCKED, 0, 0 },
		{ "private-free", false, MADV_FREE, 0, 0 },
		{ "private-pageout", false, MADV_PAGEOUT, 0, 0 },
		{ "shared-dontneed", true, MADV_DONTNEED, 0, 0 },
		{ "shared-remove", true, MADV_REMOVE, 0, 0 },
	};
	size_t hsz = huge_size();
	struct sbuf b = { 0 };
	sb_add(&b, "hugetlb %s", subs[which].name);
	void *p = mmap((void *)WINDOW_ADDR, 2 * hsz, RW,
		       (subs[which].shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
		       MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)WINDOW_ADDR) {
		sb_add(&b, " setup=%s", errno_name(errno));
		edge_emit(&b);
		return;
	}
	for (int h = 0; h < 2; h++)
		for (size_t k = 0; k < hsz / pg; k++)
			fill((char *)p + h * hsz + k * pg, pattern_base(&edge_c, 'W', h, 0));
	int err;
	size_t len = subs[which].len ? subs[which].len * pg : hsz;
	long ret = edge_call((char *)p + subs[which].off * pg, len, subs[which].advice, &err);
	static token_t tok[2];
	for (int h = 0; h < 2; h++)
		huge_token((char *)p + h * hsz, hsz, h, tok[h]);
	if (subs[which].advice == MADV_FREE && ret == 0)
		for (int h = 0; h < 2; h++)
			if (strchr("WZ", tok[h][0]))
				strcpy(tok[h], "OZ");
	sb_add(&b, " ret=%ld errno=%s", ret, errno_name(err));
	sb_tokens(&b, "data", tok, 2);
	edge_emit(&b);
}

static int edge_hugetlb(void)
{
	long free_pages = read_kb("/proc/meminfo", "HugePages_Free");
	if (free_pages < 2) {
		printf("hugetlb skip=HugePages_Free:%ld\n", free_pages);
		return 0;
	}
	for (long w = 0; w < 8; w++)
		edge_isolated(edge_hugetlb_one, w);
	return 0;
}

static int run_edge(const char *name, long arg, bool warm)
{
	edge_init();
	if (!strcmp(name, "maxmap"))
		return edge_maxmap((int)arg, warm);
	if (!strcmp(name, "overcommit"))
		return edge_overcommit(arg, 256);
	if (!strcmp(name, "mlock"))
		return edge_mlock();
	if (!strcmp(name, "mseal"))
		return edge_mseal();
	if (!strcmp(name, "reserve"))
		return edge_reserve();
	if (!strcmp(name, "hugetlb"))
		return edge_hugetlb();
	fprintf(stderr, PROG ": no edge %s\n", name);
	return 2;
}

/* ---- main ------------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: madvise-fuzz [--seed S] [--cases N] [--first K] [--batch B] [--timeout SEC]\n"
	      "                    [--case K] [--describe] [--stats] [--crash-case K] [--hang-case K]\n"
	      "       madvise-fuzz --compare NATIVE OTHER --variant NAME [--rerun PREFIX] [--max-show N]\n"
	      "       madvise-fuzz --security RECORDS --variant NAME [--rerun PREFIX] [--max-show N]\n"
	      "       madvise-fuzz --edge maxmap|overcommit|mlock|mseal|reserve|hugetlb\n"
	      "                    [--edge-arg N] [--warm] [--sysctl] [--limit N]\n",
	      f);
}

int main(int argc, char **argv)
{
	long sz = sysconf(_SC_PAGESIZE);
	pg = sz > 0 ? (size_t)sz : 4096;
	if (!realpath("/proc/self/exe", self_path))
		snprintf(self_path, sizeof self_path, "%s", argv[0]);

	unsigned long long first = 0, cases = 1000, one = 0, v;
	bool have_one = false, do_describe = false, do_stats = false;
	const char *cmp_a = NULL, *cmp_b = NULL, *sec_file = NULL, *edge = NULL;
	long edge_arg = 0;
	bool edge_warm = false;
	unsigned long long max_show = 20;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		bool arg = i + 1 < argc;
		if (!strcmp(o, "--seed") && arg && parse_number(argv[++i], UINT64_MAX, &v))
			seed = v;
		else if (!strcmp(o, "--cases") && arg && parse_number(argv[++i], UINT64_MAX / 2, &v))
			cases = v;
		else if (!strcmp(o, "--first") && arg && parse_number(argv[++i], UINT64_MAX / 2, &v))
			first = v;
		else if (!strcmp(o, "--batch") && arg && parse_number(argv[++i], 100000, &v) && v)
			batch = (unsigned)v;
		else if (!strcmp(o, "--timeout") && arg && parse_number(argv[++i], 3600, &v) && v)
			timeout_sec = (int)v;
		else if (!strcmp(o, "--case") && arg && parse_number(argv[++i], UINT64_MAX / 2, &v)) {
			one = v;
			have_one = true;
		} else if (!strcmp(o, "--crash-case") && arg && parse_number(argv[++i], LONG_MAX, &v))
			crash_case = (long)v;
		else if (!strcmp(o, "--hang-case") && arg && parse_number(argv[++i], LONG_MAX, &v))
			hang_case = (long)v;
		else if (!strcmp(o, "--edge") && arg)
			edge = argv[++i];
		else if (!strcmp(o, "--edge-arg") && arg && parse_number(argv[++i], LONG_MAX, &v))
			edge_arg = (long)v;
		else if (!strcmp(o, "--warm"))
			edge_warm = true;
		else if (!strcmp(o, "--sysctl"))
			edge_sysctl = true;
		else if (!strcmp(o, "--limit") && arg && parse_number(argv[++i], INT_MAX, &v))
			edge_limit = (long)v;
		else if (!strcmp(o, "--describe"))
			do_describe = true;
		else if (!strcmp(o, "--stats"))
			do_stats = true;
		else if (!strcmp(o, "--compare") && i + 2 < argc) {
			cmp_a = argv[++i];
			cmp_b = argv[++i];
		} else if (!strcmp(o, "--security") && arg)
			sec_file = argv[++i];
		else if (!strcmp(o, "--variant") && arg)
			variant_name = argv[++i];
		else if (!strcmp(o, "--rerun") && arg)
			rerun_prefix = argv[++i];
		else if (!strcmp(o, "--max-show") && arg && parse_number(argv[++i], 1000000, &v))
			max_show = v;
		else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (edge)
		return run_edge(edge, edge_arg, edge_warm);
	if (cmp_a)
		return compare(cmp_a, cmp_b, (int)max_show);
	if (sec_file)
		return security(sec_file, (int)max_show);
	if (have_one) {
		first = one;
		cases = 1;
	}
	if (do_stats) {
		stats(first, cases);
		return 0;
	}
	if (do_describe) {
		static struct fcase c;
		for (unsigned long long k = first; k < first + cases; k++) {
			gen_case(k, &c);
			describe(&c);
		}
		return 0;
	}
	if (!playground_empty())
		return 2;
	run_cases(first, cases, have_one);
	return 0;
}
