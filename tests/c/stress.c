/* madvise-stress: concurrency, fork and signal stress for madvise, one
 * subcommand per workload.  tests/stress.bats drives it.
 *
 * Every workload is bounded in count: threads stop after a fixed number of
 * operations or when the main thread says so, and even then no loop runs
 * more than a fixed maximum of rounds.  Nothing here measures time.
 *
 * Output follows the other test programs: one "ok ..." line per check that
 * held, a "FAIL ..." line on stderr per check that did not (with the first
 * offending page or call), "note ..." lines with figures that are not checked,
 * and a closing "passed: SUBCOMMAND (N checks)" with exit status 0.  Exit
 * status 1 means a check failed, 2 that the workload could not be set up.
 *
 * Page contents.  Every page a workload writes is filled with 64-bit words
 * tag + i (i the word's index), where tag names the owning thread, the page
 * and a generation, and is never 0.  A page whose expected tag is 0 must read
 * zero.  So a page that was emptied, one that kept a write it should have
 * lost, and one that lost a write it should have kept all show up.
 *
 * The same binary runs natively (the oracle) and under madvise-sim with the
 * shim.  Natively MADV_FREE may leave a page as it was until memory runs
 * short, so an advised page may read zero or its old contents; --must-zero
 * demands zero, which is what the shim promises for its emulation.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

#include "compat.h"

extern char **environ;

static size_t pg;
static bool must_zero;

/* ---- reporting (main thread only) ------------------------------------ */

/* A thread keeps its first failure as text; main prints it. */
struct failure {
	long count;
	char first[240];
};

static void __attribute__((format(printf, 2, 3)))
record(struct failure *f, const char *fmt, ...)
{
	if (f->count++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->first, sizeof f->first, fmt, ap);
		va_end(ap);
	}
}

static void show_failure(const char *who, const struct failure *f)
{
	if (f->count)
		fprintf(stderr, "     %s: %ld failures, the first: %s\n", who, f->count,
			f->first);
}

/* ---- numbers and pages ----------------------------------------------- */

/* A thread's own seed for rnd() (report.h), from its number. */
static uint64_t seed_for(unsigned who)
{
	return 0x9e3779b97f4a7c15ULL * (who + 1) ^ 0xd1b54a32d192ed03ULL;
}

static uint64_t make_tag(unsigned owner, size_t page, uint64_t gen)
{
	return ((uint64_t)(owner + 1) << 52) ^ ((uint64_t)page << 28) ^ (gen + 1);
}

static size_t words(void)
{
	return pg / sizeof(uint64_t);
}

static void fill_page(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	for (size_t i = 0; i < words(); i++)
		w[i] = tag + i;
}

/* The whole page: 0 for a zero page, 1 for tag throughout, -1 otherwise. */
static int page_full(const char *p, uint64_t tag)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;
	bool zero = true, tagged = tag != 0;
	for (size_t i = 0; i < words() && (zero || tagged); i++) {
		uint64_t v = w[i];
		zero &= v == 0;
		tagged &= v == tag + i;
	}
	return zero ? 0 : tagged ? 1 : -1;
}

/* The same from three words: the first, the last and one in between. */
static int page_quick(const char *p, uint64_t tag, size_t mid)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;
	size_t idx[3] = { 0, mid % words(), words() - 1 };
	bool zero = true, tagged = tag != 0;
	for (int k = 0; k < 3; k++) {
		uint64_t v = w[idx[k]];
		zero &= v == 0;
		tagged &= v == tag + idx[k];
	}
	return zero ? 0 : tagged ? 1 : -1;
}

static const char *page_word(int state)
{
	return state == 0 ? "zero" : state == 1 ? "its data" : "something else";
}

static char *map_pages(size_t n)
{
	char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap %zu pages", n);
	return p;
}

/* Pages with a large free gap above them.  mmap(NULL, ...) takes the highest
 * gap that fits, so no mapping the shim makes for itself (a moved copy, a
 * scratch page) lands in a hole left among these pages.  The gap is made by
 * reserving 1 GiB, keeping its bottom and giving the rest back; no fixed
 * address is used, which sanitizers with their own memory layout refuse. */
static char *map_far(size_t n)
{
	const size_t span = (size_t)1 << 30;
	char *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (r == MAP_FAILED)
		setup_failed("mmap a 1 GiB reservation");
	char *p = mmap(r, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		       -1, 0);
	if (p != r || munmap(r + n * pg, span - n * pg))
		setup_failed("mmap %zu pages at the bottom of a reservation", n);
	return p;
}

static int adv_value(const char *name)
{
	if (!strcmp(name, "dontneed"))
		return MADV_DONTNEED;
	if (!strcmp(name, "free"))
		return MADV_FREE;
	if (!strcmp(name, "mixed"))
		return -1;
	fprintf(stderr, "madvise-stress: unknown advice '%s' (dontneed, free, mixed)\n", name);
	exit(2);
}

static const char *adv_name(int advice)
{
	return advice == MADV_DONTNEED ? "DONTNEED" : advice == MADV_FREE ? "FREE" : "mixed";
}

/* ---- advisors: threads that advise ranges of their own cell ------------
 *
 * A shared region is cut into cells, one per advisor, with one sentinel page
 * before each cell and one after the last:
 *
 *   S | cell 0 | S | cell 1 | S | ... | cell n-1 | S
 *
 * An advisor writes pages of its cell, advises a random range of it (often
 * one that touches an edge, next to a sentinel), then checks that the range
 * reads zero and that the rest of its cell is as it left it.  Sentinel
 * threads keep rewriting the sentinel pages and check each time that their
 * last write is still there. */

struct region {
	char *base;
	size_t cells, cell_pages, pages;
	_Atomic bool stop;
};

static size_t sentinel_index(const struct region *r, size_t i)
{
	return i * (r->cell_pages + 1);
}

struct advisor {
	pthread_t th;
	unsigned id;
	struct region *r;
	int advice;         /* MADV_DONTNEED, MADV_FREE, or -1 for both */
	long ops;           /* calls to make; 0: until stop (at most max_ops) */
	long max_ops;
	char *cell;
	uint64_t *tag;      /* per page; 0 means zero is expected */
	bool *maybe_old;    /* native MADV_FREE may leave the old data */
	uint64_t gen, seed;
	/* results */
	long calls, advised_pages, kept_checks;
	struct failure fail;
};

static void advisor_check_rest(struct advisor *a, size_t from, size_t to)
{
	for (size_t k = 0; k < a->r->cell_pages; k++) {
		if (k >= from && k < to)
			continue;
		int s = page_quick(a->cell + k * pg, a->tag[k], (size_t)rnd(&a->seed));
		bool good = a->tag[k] == 0 ? s == 0 : s == 1 || (a->maybe_old[k] && s == 0);
		if (good) {
			a->kept_checks++;
			continue;
		}
		record(&a->fail, "advisor %u: page %zu of its cell, outside the advised pages "
		       "%zu-%zu, reads %s (expected %s)", a->id, k, from, to - 1, page_word(s),
		       a->tag[k] ? "its data" : "zero");
		if (s == 0)
			a->tag[k] = 0; /* one report per loss, not one per step */
	}
}

static void advisor_step(struct advisor *a)
{
	size_t n = a->r->cell_pages;
	size_t maxlen = n < 4 ? n : 4;
	size_t len = 1 + (size_t)(rnd(&a->seed) % maxlen);
	size_t from;
	switch (rnd(&a->seed) % 4) {
	case 0:
		from = 0; /* next to the sentinel before the cell */
		break;
	case 1:
		from = n - len; /* next to the one after it */
		break;
	default:
		from = (size_t)(rnd(&a->seed) % (n - len + 1));
	}
	size_t to = from + len;
	/* new data in the range, and now and then in one page outside it */
	for (size_t k = from; k < to; k++) {
		a->tag[k] = make_tag(a->id, k, a->gen++);
		a->maybe_old[k] = false;
		fill_page(a->cell + k * pg, a->tag[k]);
	}
	if (rnd(&a->seed) % 2) {
		size_t k = (size_t)(rnd(&a->seed) % n);
		if (k < from || k >= to) {
			a->tag[k] = make_tag(a->id, k, a->gen++);
			a->maybe_old[k] = false;
			fill_page(a->cell + k * pg, a->tag[k]);
		}
	}
	int advice = a->advice;
	if (advice < 0)
		advice = rnd(&a->seed) % 2 ? MADV_DONTNEED : MADV_FREE;
	errno = 0;
	int r = madvise(a->cell + from * pg, len * pg, advice);
	a->calls++;
	if (r != 0) {
		record(&a->fail, "advisor %u: madvise(pages %zu-%zu, %s) = %d, errno %s",
		       a->id, from, to - 1, adv_name(advice), r, strerrorname_np(errno));
		/* nothing is known about the range now: forget it */
		for (size_t k = from; k < to; k++) {
			int s = page_full(a->cell + k * pg, a->tag[k]);
			a->tag[k] = s == 0 ? 0 : a->tag[k];
		}
		return;
	}
	bool may_keep = advice == MADV_FREE && !must_zero;
	for (size_t k = from; k < to; k++) {
		int s = page_full(a->cell + k * pg, a->tag[k]);
		if (s == 0) {
			a->tag[k] = 0;
			a->advised_pages++;
		} else if (s == 1 && may_keep) {
			a->maybe_old[k] = true; /* lazily freed, may still go */
			a->advised_pages++;
		} else {
			record(&a->fail, "advisor %u: page %zu after madvise(pages %zu-%zu, %s) "
			       "reads %s (expected zero)", a->id, k, from, to - 1,
			       adv_name(advice), page_word(s));
			a->tag[k] = s == 0 ? 0 : a->tag[k];
		}
	}
	advisor_check_rest(a, from, to);
}

static void *advisor_main(void *arg)
{
	struct advisor *a = arg;
	for (long i = 0; i < a->max_ops; i++) {
		if (a->ops ? i >= a->ops : atomic_load(&a->r->stop))
			break;
		advisor_step(a);
	}
	return NULL;
}

struct sentinel {
	pthread_t th;
	unsigned id, nthreads;
	struct region *r;
	long max_rounds;
	uint64_t *tag;      /* per sentinel page (index = sentinel number) */
	uint64_t gen, seed;
	long writes, rounds;
	struct failure fail;
};

static void *sentinel_main(void *arg)
{
	struct sentinel *s = arg;
	for (long round = 0; round < s->max_rounds && !atomic_load(&s->r->stop); round++) {
		for (size_t i = s->id; i <= s->r->cells; i += s->nthreads) {
			char *p = s->r->base + sentinel_index(s->r, i) * pg;
			/* a full check now and then, three words otherwise */
			int st = round % 16 == 0 ? page_full(p, s->tag[i])
						 : page_quick(p, s->tag[i], (size_t)rnd(&s->seed));
			if (st != (s->tag[i] ? 1 : 0))
				record(&s->fail, "sentinel %zu (page %zu of the region, next to "
				       "advised cells) lost its last write: reads %s", i,
				       sentinel_index(s->r, i), page_word(st));
			s->tag[i] = make_tag(100 + s->id, i, s->gen++);
			fill_page(p, s->tag[i]);
			s->writes++;
		}
		s->rounds++;
		sched_yield();
	}
	return NULL;
}

/* Threads that map, advise fork behaviour on and unmap memory of their own,
 * so that the shim's table of fork advice changes all the time and every
 * mmap, munmap and mremap goes through its lock. */
struct mapper {
	pthread_t th;
	unsigned id;
	_Atomic bool *stop;
	long max_rounds, rounds;
	bool fork_advice;   /* WIPEONFORK/KEEPONFORK on the new mapping */
	struct failure fail;
};

/* A madvise on the mapper's own, freshly mapped pages failed: mincore (which
 * the kernel answers under its mmap lock) tells whether they were mapped. */
static void mapper_failed(struct mapper *m, const char *what, char *p, size_t pages)
{
	int e = errno;
	unsigned char vec[4];
	bool mapped = mincore(p, pages * pg, vec) == 0;
	record(&m->fail, "mapper %u: madvise(%p, %zu pages, %s) on its own mapping: -1 %s; "
	       "mincore right after: %s", m->id, (void *)p, pages, what, strerrorname_np(e),
	       mapped ? "all mapped" : "not all mapped");
}

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;
	for (long i = 0; i < m->max_rounds && !atomic_load(m->stop); i++) {
		char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			record(&m->fail, "mapper %u: mmap: %s", m->id, strerrorname_np(errno));
			continue;
		}
		memset(p, 'm', 4 * pg);
		if (m->fork_advice) {
			if (madvise(p + pg, 2 * pg, MADV_WIPEONFORK) != 0)
				mapper_failed(m, "WIPEONFORK", p + pg, 2);
			if (i % 2 && madvise(p + 2 * pg, pg, MADV_KEEPONFORK) != 0)
				mapper_failed(m, "KEEPONFORK", p + 2 * pg, 1);
		}
		if (p[0] != 'm' || p[4 * pg - 1] != 'm')
			record(&m->fail, "mapper %u: its own mapping changed", m->id);
		/* the middle first: splits the recorded range.  Then the two
		 * pieces left, each on its own: a munmap over the freed middle
		 * page could hit whatever another thread mapped there since. */
		if (munmap(p + 2 * pg, pg) != 0 || munmap(p, 2 * pg) != 0 ||
		    munmap(p + 3 * pg, pg) != 0)
			record(&m->fail, "mapper %u: munmap: %s", m->id, strerrorname_np(errno));
		m->rounds++;
	}
	return NULL;
}

struct crowd {
	struct region r;
	unsigned nadv, nsent, nmap;
	struct advisor *adv;
	struct sentinel *sent;
	struct mapper *map;
	uint64_t *sent_tag;
};

static void crowd_start(struct crowd *c, unsigned nadv, size_t cell_pages, int advice,
			long ops_each, long max_ops, unsigned nsent, unsigned nmap,
			bool fork_advice)
{
	memset(c, 0, sizeof *c);
	c->nadv = nadv;
	c->nsent = nsent;
	c->nmap = nmap;
	c->r.cells = nadv;
	c->r.cell_pages = cell_pages;
	c->r.pages = nadv * (cell_pages + 1) + 1;
	c->r.base = map_pages(c->r.pages);
	atomic_store(&c->r.stop, false);
	c->adv = calloc(nadv, sizeof *c->adv);
	c->sent = calloc(nsent ? nsent : 1, sizeof *c->sent);
	c->map = calloc(nmap ? nmap : 1, sizeof *c->map);
	c->sent_tag = calloc(nadv + 1, sizeof *c->sent_tag);
	if (!c->adv || !c->sent || !c->map || !c->sent_tag)
		setup_failed("calloc");
	/* the sentinel pages get their first data before anyone runs */
	for (size_t i = 0; i <= nadv; i++) {
		c->sent_tag[i] = make_tag(99, i, 0);
		fill_page(c->r.base + sentinel_index(&c->r, i) * pg, c->sent_tag[i]);
	}
	for (unsigned i = 0; i < nadv; i++) {
		struct advisor *a = &c->adv[i];
		a->id = i;
		a->r = &c->r;
		a->advice = advice;
		a->ops = ops_each;
		a->max_ops = max_ops;
		a->cell = c->r.base + (sentinel_index(&c->r, i) + 1) * pg;
		a->tag = calloc(cell_pages, sizeof *a->tag);
		a->maybe_old = calloc(cell_pages, sizeof *a->maybe_old);
		a->seed = seed_for(i);
		if (!a->tag || !a->maybe_old)
			setup_failed("calloc");
	}
	for (unsigned i = 0; i < nsent; i++) {
		struct sentinel *s = &c->sent[i];
		s->id = i;
		s->nthreads = nsent;
		s->r = &c->r;
		s->max_rounds = 50L * 1000 * 1000;
		s->tag = c->sent_tag;
		s->seed = seed_for(1000 + i);
	}
	for (unsigned i = 0; i < nmap; i++) {
		struct mapper *m = &c->map[i];
		m->id = i;
		m->stop = &c->r.stop;
		m->max_rounds = 10L * 1000 * 1000;
		m->fork_advice = fork_advice;
	}
	for (unsigned i = 0; i < nsent; i++)
		if (pthread_create(&c->sent[i].th, NULL, sentinel_main, &c->sent[i]))
			setup_failed("pthread_create");
	for (unsigned i = 0; i < nmap; i++)
		if (pthread_create(&c->map[i].th, NULL, mapper_main, &c->map[i]))
			setup_failed("pthread_create");
	for (unsigned i = 0; i < nadv; i++)
		if (pthread_create(&c->adv[i].th, NULL, advisor_main, &c->adv[i]))
			setup_failed("pthread_create");
}

/* Joins everyone (advisors with a count first), then checks every page of
 * the region once more and reports.  what names the workload in the lines. */
static void crowd_finish(struct crowd *c, const char *what, bool counted)
{
	if (counted)
		for (unsigned i = 0; i < c->nadv; i++)
			pthread_join(c->adv[i].th, NULL);
	atomic_store(&c->r.stop, true);
	if (!counted)
		for (unsigned i = 0; i < c->nadv; i++)
			pthread_join(c->adv[i].th, NULL);
	for (unsigned i = 0; i < c->nsent; i++)
		pthread_join(c->sent[i].th, NULL);
	for (unsigned i = 0; i < c->nmap; i++)
		pthread_join(c->map[i].th, NULL);

	long calls = 0, pages = 0, kept = 0, afail = 0;
	for (unsigned i = 0; i < c->nadv; i++) {
		struct advisor *a = &c->adv[i];
		calls += a->calls;
		pages += a->advised_pages;
		kept += a->kept_checks;
		afail += a->fail.count;
	}
	check(afail == 0, "%s: %ld madvise calls by %u threads returned 0, the %ld advised "
	      "pages read zero%s, and %ld checks of the pages around them found their data",
	      what, calls, c->nadv, pages, must_zero ? "" : " (FREE natively: or their data)",
	      kept);
	for (unsigned i = 0; i < c->nadv; i++) {
		char who[32];
		snprintf(who, sizeof who, "advisor %u", i);
		show_failure(who, &c->adv[i].fail);
	}

	if (c->nsent) {
		long writes = 0, sfail = 0;
		for (unsigned i = 0; i < c->nsent; i++) {
			writes += c->sent[i].writes;
			sfail += c->sent[i].fail.count;
		}
		check(sfail == 0 && writes > 0, "%s: %u sentinel threads made %ld writes next to "
		      "the advised ranges and lost none", what, c->nsent, writes);
		for (unsigned i = 0; i < c->nsent; i++) {
			char who[32];
			snprintf(who, sizeof who, "sentinel %u", i);
			show_failure(who, &c->sent[i].fail);
		}
	}
	if (c->nmap) {
		long rounds = 0, mfail = 0;
		for (unsigned i = 0; i < c->nmap; i++) {
			rounds += c->map[i].rounds;
			mfail += c->map[i].fail.count;
		}
		check(mfail == 0, "%s: %u mapper threads mapped, advised and unmapped %ld times "
		      "without an error", what, c->nmap, rounds);
		for (unsigned i = 0; i < c->nmap; i++) {
			char who[32];
			snprintf(who, sizeof who, "mapper %u", i);
			show_failure(who, &c->map[i].fail);
		}
	}

	/* every page, from the main thread, now that all is quiet */
	long bad = 0;
	size_t first_bad = 0;
	for (size_t i = 0; i <= c->nadv; i++)
		if (page_full(c->r.base + sentinel_index(&c->r, i) * pg, c->sent_tag[i]) !=
		    (c->sent_tag[i] ? 1 : 0) && bad++ == 0)
			first_bad = sentinel_index(&c->r, i);
	for (unsigned i = 0; i < c->nadv; i++) {
		struct advisor *a = &c->adv[i];
		for (size_t k = 0; k < c->r.cell_pages; k++) {
			int s = page_full(a->cell + k * pg, a->tag[k]);
			bool good = a->tag[k] == 0 ? s == 0 : s == 1 || (a->maybe_old[k] && s == 0);
			if (!good && bad++ == 0)
				first_bad = sentinel_index(&c->r, i) + 1 + k;
		}
	}
	check(bad == 0, "%s: afterwards all %zu pages of the region hold what their owners "
	      "last left there", what, c->r.pages);
	if (bad)
		fprintf(stderr, "     %ld pages differ, the first is page %zu of the region\n",
			bad, first_bad);
}

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	long n = 0;
	int ch;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* ---- threads ---------------------------------------------------------- */

static unsigned opt_threads = 16, opt_sentinels = 4, opt_mappers = 0;
static size_t opt_cell = 24;

/* OPS calls in all, spread over the advisors. */
static void sc_threads(int advice, long ops)
{
	if (ops < opt_threads)
		ops = opt_threads;
	long each = ops / opt_threads;
	/* A range with emulated fork advice keeps the table in use, so that
	 * the mremap and munmap of every emulated DONTNEED take its lock. */
	char *df = NULL;
	if (opt_mappers) {
		df = map_pages(4);
		memset(df, 'd', 4 * pg);
		check(madvise(df, 4 * pg, MADV_DONTFORK) == 0,
		      "threads: madvise(DONTFORK) on a range of its own: 0");
	}
	struct crowd c;
	crowd_start(&c, opt_threads, opt_cell, advice, each, each, opt_sentinels, opt_mappers,
		    true);
	crowd_finish(&c, "threads", true);
	if (df) {
		bool kept = true;
		for (size_t i = 0; i < 4 * pg; i++)
			kept &= df[i] == 'd';
		check(kept, "threads: the DONTFORK range kept its data");
	}
	note("threads: %ld calls of %s, %u advisors x %zu pages, %ld lines in /proc/self/maps",
	     each * opt_threads, adv_name(advice), opt_threads, opt_cell, count_maps());
}

/* ---- fork-storm ------------------------------------------------------- */

enum {
	CHILD_WIPE_NOT_ZERO = 1,
	CHILD_DONTFORK_MAPPED = 2,
	CHILD_KEEP_CHANGED = 4,
	CHILD_GRANDCHILD = 8,
	CHILD_WIPE_NOT_WRITABLE = 16,
};

static bool all_byte(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* A range is unmapped when mincore says ENOMEM for each of its pages. */
static bool unmapped(char *p, size_t pages)
{
	unsigned char vec;
	for (size_t i = 0; i < pages; i++)
		if (mincore(p + i * pg, pg, &vec) != -1 || errno != ENOMEM)
			return false;
	return true;
}

/* What a child of fork finds; async-signal-safe calls only. */
static int child_looks(char *wipe, char *dontfork, char *keep, size_t pages, bool grand)
{
	int bits = 0;
	if (!all_byte(wipe, pages * pg, 0))
		bits |= CHILD_WIPE_NOT_ZERO;
	if (!unmapped(dontfork, pages))
		bits |= CHILD_DONTFORK_MAPPED;
	if (!all_byte(keep, pages * pg, 'K'))
		bits |= CHILD_KEEP_CHANGED;
	if (grand) {
		/* the child's own children are wiped too (the kernel keeps
		 * VM_WIPEONFORK in the child) */
		memset(wipe, 'c', pages * pg);
		if (!all_byte(wipe, pages * pg, 'c'))
			bits |= CHILD_WIPE_NOT_WRITABLE;
		pid_t g = fork();
		if (g == 0)
			_exit(child_looks(wipe, dontfork, keep, pages, false));
		int st;
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st))
			bits |= CHILD_GRANDCHILD;
	}
	return bits;
}

static void sc_fork_storm(long forks)
{
	const size_t pages = 8;
	char *wipe = map_pages(pages), *dontfork = map_pages(pages), *keep = map_pages(pages);
	memset(wipe, 'W', pages * pg);
	memset(dontfork, 'D', pages * pg);
	memset(keep, 'K', pages * pg);
	check(madvise(wipe, pages * pg, MADV_WIPEONFORK) == 0, "fork-storm: madvise(WIPEONFORK): 0");
	check(madvise(dontfork, pages * pg, MADV_DONTFORK) == 0, "fork-storm: madvise(DONTFORK): 0");

	struct crowd c;
	crowd_start(&c, opt_threads, opt_cell, -1, 0, 10L * 1000 * 1000, opt_sentinels,
		    opt_mappers, true);
	long by_bits[32] = { 0 }, other = 0, fork_errors = 0, grand = 0;
	int first_status = 0;
	for (long i = 0; i < forks; i++) {
		bool with_grandchild = i % 50 == 0;
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_looks(wipe, dontfork, keep, pages, with_grandchild));
		if (pid < 0) {
			fork_errors++;
			continue;
		}
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			fork_errors++;
			continue;
		}
		grand += with_grandchild;
		if (WIFEXITED(st) && WEXITSTATUS(st) < 32) {
			by_bits[WEXITSTATUS(st)]++;
			if (WEXITSTATUS(st) && !first_status)
				first_status = st;
		} else {
			other++;
			if (!first_status)
				first_status = st;
		}
	}
	crowd_finish(&c, "fork-storm", false);

	check(fork_errors == 0, "fork-storm: %ld forks and waits succeeded", forks);
	long good = by_bits[0];
	check(good == forks, "fork-storm: all %ld children found the WIPEONFORK range zero, the "
	      "DONTFORK range unmapped and other memory intact (%ld of them forked a "
	      "grandchild that found the same)", forks, grand);
	if (good != forks) {
		fprintf(stderr, "     %ld children failed; the first exit status: %s %d\n",
			forks - good, WIFEXITED(first_status) ? "exit" : "signal",
			WIFEXITED(first_status) ? WEXITSTATUS(first_status)
						: WTERMSIG(first_status));
		for (int b = 1; b < 32; b++)
			if (by_bits[b])
				fprintf(stderr, "     %ld children exited with %d (1: wipe not zero, "
					"2: dontfork mapped, 4: other memory changed, "
					"8: grandchild, 16: wipe not writable)\n", by_bits[b], b);
		if (other)
			fprintf(stderr, "     %ld children exited with a status of 32 or more, or "
				"were killed (exit 127: the shim's fork handler gave up)\n", other);
	}
	check(all_byte(wipe, pages * pg, 'W') && all_byte(dontfork, pages * pg, 'D') &&
	      all_byte(keep, pages * pg, 'K'),
	      "fork-storm: the parent still has all three ranges as it wrote them");
}

/* ---- signals ---------------------------------------------------------- */

/* Each signal number has its own page: a handler for SIGUSR1 may interrupt
 * one for SIGALRM, never one for itself. */
struct sigpage {
	char *page;
	volatile sig_atomic_t runs, bad, inside;
	volatile uint64_t gen;
};

static struct sigpage sig_usr1, sig_alrm;
static volatile sig_atomic_t in_madvise;

static struct sigpage *sigpage_of(int sig)
{
	return sig == SIGUSR1 ? &sig_usr1 : &sig_alrm;
}

/* The handler does not save errno on purpose: a successful madvise, emulated
 * or not, must leave it alone, or the interrupted code sees it change. */
static void on_signal(int sig)
{
	struct sigpage *s = sigpage_of(sig);
	if (in_madvise)
		s->inside++;
	fill_page(s->page, make_tag(200 + (unsigned)sig, 0, s->gen++));
	if (madvise(s->page, pg, MADV_DONTNEED) != 0 || page_full(s->page, 1) != 0)
		s->bad++;
	s->runs++;
}

/* The helper sends one SIGUSR1 per iteration of the main loop, after a
 * spin of random length so that it lands at varied points of the calls, and
 * the timer is re-armed once per iteration: a handler slower than the loop
 * (one that reads smaps) can slow the loop down but never starve it. */
static _Atomic long main_iteration;

struct pelter {
	pthread_t th;
	pid_t pid, tid;
	long max, sent;
	_Atomic bool stop;
};

static void *pelter_main(void *arg)
{
	struct pelter *p = arg;
	uint64_t seed = seed_for(33);
	long seen = -1;
	for (long i = 0; i < p->max && !atomic_load(&p->stop); i++) {
		long cur = atomic_load(&main_iteration);
		for (long w = 0; w < 10L * 1000 * 1000 && cur == seen && !atomic_load(&p->stop);
		     w++) {
			sched_yield();
			cur = atomic_load(&main_iteration);
		}
		seen = cur;
		for (volatile unsigned spin = (unsigned)(rnd(&seed) % 20000); spin > 0; spin--)
			;
		if (syscall(SYS_tgkill, p->pid, p->tid, SIGUSR1) == 0)
			p->sent++;
	}
	return NULL;
}

static void sc_signals(int advice, long iterations)
{
	const size_t pages = 16;
	sig_usr1.page = map_pages(1);
	sig_alrm.page = map_pages(1);
	char *mine = map_pages(pages);
	/* a mapped page, a hole, a mapped page: madvise there must say ENOMEM */
	char *holed = map_far(3);
	if (munmap(holed + pg, pg))
		setup_failed("munmap");
	char *table = map_pages(4); /* fork advice toggled: the shim's lock */

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: interrupted calls see EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGALRM, &sa, NULL))
		setup_failed("sigaction");

	/* the helper must not take the signals meant for the main thread */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct pelter pel = { .pid = getpid(), .tid = (pid_t)syscall(SYS_gettid),
			      .max = iterations };
	atomic_store(&pel.stop, false);
	if (pthread_create(&pel.th, NULL, pelter_main, &pel))
		setup_failed("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	uint64_t seed = seed_for(77), gen = 0;
	long calls = 0, not_zero = 0, errs = 0, errno_changed = 0, hole_wrong = 0,
	     fork_errs = 0;
	char first[200] = "";
	for (long i = 0; i < iterations; i++) {
		atomic_fetch_add(&main_iteration, 1);
		/* one SIGALRM, some microseconds from now */
		struct itimerval once = { { 0, 0 }, { 0, 10 + (long)(rnd(&seed) % 400) } };
		if (setitimer(ITIMER_REAL, &once, NULL))
			setup_failed("setitimer");
		size_t len = 1 + (size_t)(rnd(&seed) % 4);
		size_t from = (size_t)(rnd(&seed) % (pages - len + 1));
		for (size_t k = 0; k < pages; k++)
			fill_page(mine + k * pg, make_tag(1, k, gen));
		int adv = advice < 0 ? (i % 2 ? MADV_FREE : MADV_DONTNEED) : advice;
		errno = 4321;
		in_madvise = 1;
		int r = madvise(mine + from * pg, len * pg, adv);
		in_madvise = 0;
		int e = errno;
		calls++;
		if (r != 0 && errs++ == 0)
			snprintf(first, sizeof first, "madvise(%s) = %d, errno %s", adv_name(adv), r,
				 strerrorname_np(e));
		if (r == 0 && e != 4321)
			errno_changed++;
		for (size_t k = 0; k < pages; k++) {
			int s = page_full(mine + k * pg, make_tag(1, k, gen));
			bool in = k >= from && k < from + len;
			bool good = in ? s == 0 || (s == 1 && adv == MADV_FREE && !must_zero)
				       : s == 1;
			if (!good && not_zero++ == 0)
				snprintf(first + strlen(first), sizeof first - strlen(first),
					 "%spage %zu %s range %zu-%zu reads %s", *first ? "; " : "",
					 k, in ? "in" : "outside", from, from + len - 1, page_word(s));
		}
		gen++;

		/* a call that must fail, and errno must say why afterwards */
		errno = 0;
		in_madvise = 1;
		r = madvise(holed, 3 * pg, MADV_DONTNEED);
		in_madvise = 0;
		e = errno;
		calls++;
		if (r != -1 || e != ENOMEM)
			hole_wrong++;

		if (i % 8 == 0) {
			in_madvise = 1;
			if (madvise(table, 4 * pg, i % 16 ? MADV_KEEPONFORK : MADV_WIPEONFORK) != 0)
				fork_errs++;
			in_madvise = 0;
			calls++;
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	atomic_store(&pel.stop, true);
	pthread_join(pel.th, NULL);
	/* no more signals can come: what the handlers counted is final */
	signal(SIGALRM, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	long runs = sig_usr1.runs + sig_alrm.runs, inside = sig_usr1.inside + sig_alrm.inside;
	long hbad = sig_usr1.bad + sig_alrm.bad;
	check(errs == 0 && not_zero == 0, "signals: %ld madvise(%s) calls returned 0 and emptied "
	      "exactly their range, with signal handlers calling madvise in between", iterations,
	      adv_name(advice));
	if (*first)
		fprintf(stderr, "     %ld failed calls, %ld wrong pages; the first: %s\n", errs,
			not_zero, first);
	check(errno_changed == 0, "signals: errno was left alone by every successful call");
	if (errno_changed)
		fprintf(stderr, "     errno changed in %ld successful calls\n", errno_changed);
	check(hole_wrong == 0, "signals: %ld calls over a hole gave -1 ENOMEM every time",
	      iterations);
	check(fork_errs == 0, "signals: WIPEONFORK/KEEPONFORK toggled %ld times without an error",
	      (iterations + 7) / 8);
	check(runs > 0 && hbad == 0, "signals: %ld handler runs (%ld SIGUSR1, %ld SIGALRM) each "
	      "emptied its own page with madvise(DONTNEED)", runs, (long)sig_usr1.runs,
	      (long)sig_alrm.runs);
	if (hbad)
		fprintf(stderr, "     %ld handler runs saw madvise fail or the page not zero\n", hbad);
	check(inside > 0, "signals: %ld of them interrupted a madvise call", inside);
	note("signals: %ld tgkill sent, %ld madvise calls in the main loop", pel.sent, calls);
}

/* ---- vfork ------------------------------------------------------------ */

static const char *self_path;

static int spawn_status(pid_t pid)
{
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* vfork children run no fork handlers and share the parent's memory until
 * they exec: they must still be able to exec and exit, with the shim's table
 * of fork advice in use and other threads inside emulation. */
static void sc_vfork(long count)
{
	const size_t pages = 4;
	char *wipe = map_pages(pages), *dontfork = map_pages(pages);
	memset(wipe, 'W', pages * pg);
	memset(dontfork, 'D', pages * pg);
	check(madvise(wipe, pages * pg, MADV_WIPEONFORK) == 0, "vfork: madvise(WIPEONFORK): 0");
	check(madvise(dontfork, pages * pg, MADV_DONTFORK) == 0, "vfork: madvise(DONTFORK): 0");

	struct crowd c;
	crowd_start(&c, opt_threads, opt_cell, -1, 0, 10L * 1000 * 1000, opt_sentinels,
		    opt_mappers, true);
	long exec_bad = 0, exit_bad = 0, spawn_bad = 0, missing_bad = 0;
	int first_exec = 0, first_spawn = 0;
	for (long i = 0; i < count; i++) {
		char code[16];
		snprintf(code, sizeof code, "%ld", 10 + i % 50);
		char *argv[] = { (char *)self_path, (char *)"exit-code", code, NULL };
		int want = 10 + (int)(i % 50);

		pid_t pid = vfork();
		if (pid == 0) {
			execve(self_path, argv, environ);
			_exit(126);
		}
		int st = spawn_status(pid);
		if (st != want && exec_bad++ == 0)
			first_exec = st;

		/* a vfork child that leaves without exec */
		pid = vfork();
		if (pid == 0)
			_exit(7);
		if (spawn_status(pid) != 7)
			exit_bad++;

		/* exec of something that does not exist: the child reports it */
		pid = vfork();
		if (pid == 0) {
			char *nargv[] = { (char *)"/nonexistent/madvise-stress", NULL };
			execve(nargv[0], nargv, environ);
			_exit(errno == ENOENT ? 127 : 126);
		}
		if (spawn_status(pid) != 127)
			missing_bad++;

		pid_t sp;
		int e = posix_spawn(&sp, self_path, NULL, NULL, argv, environ);
		st = e ? -2 : spawn_status(sp);
		if (st != want && spawn_bad++ == 0)
			first_spawn = st;
	}
	crowd_finish(&c, "vfork", false);
	check(exec_bad == 0, "vfork: %ld vfork+execve children ran the program and exited with "
	      "its status", count);
	if (exec_bad)
		fprintf(stderr, "     %ld wrong, the first status %d\n", exec_bad, first_exec);
	check(exit_bad == 0, "vfork: %ld vfork children that _exit(7) without exec: status 7",
	      count);
	check(missing_bad == 0, "vfork: %ld vfork children whose execve found nothing: ENOENT",
	      count);
	check(spawn_bad == 0, "vfork: %ld posix_spawn children ran the program and exited with "
	      "its status", count);
	if (spawn_bad)
		fprintf(stderr, "     %ld wrong, the first status %d\n", spawn_bad, first_spawn);
	check(all_byte(wipe, pages * pg, 'W') && all_byte(dontfork, pages * pg, 'D'),
	      "vfork: the parent's WIPEONFORK and DONTFORK ranges kept their data");
}

/* ---- fork-fds ----------------------------------------------------------- */

/* The program's descriptors are its own, even the numbers the shim once used
 * for itself.  A daemon closes every descriptor above stderr and opens its
 * own files; those get the lowest free numbers, the ones the shim's
 * /proc/self/maps descriptor had.  Children of fork must still be able to
 * write to them, and the shim must not ask another file about this process's
 * mappings. */
enum { FD_FIRST = 3, FD_LAST = 12 };

static void close_above_stderr(void)
{
	for (int fd = FD_FIRST; fd < 1024; fd++)
		close(fd);
}

static void sc_fork_fds(long forks)
{
	const size_t pages = 4;
	char *p = map_pages(pages);
	memset(p, 'a', pages * pg);
	/* an emulated FREE looks its mapping up: the shim opens what it needs */
	check(madvise(p, pg, MADV_FREE) == 0, "fork-fds: madvise(FREE) before the descriptors "
	      "are closed: 0");
	char *wipe = map_pages(pages);
	memset(wipe, 'W', pages * pg);
	check(madvise(wipe, pages * pg, MADV_WIPEONFORK) == 0, "fork-fds: madvise(WIPEONFORK): 0");

	char path[4096];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/madvise-stress-fds.%d", dir && *dir ? dir : "/tmp",
		 (int)getpid());
	close_above_stderr();
	int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (log != FD_FIRST)
		setup_failed("open %s: got descriptor %d, not %d", path, log, FD_FIRST);
	for (int fd = FD_FIRST + 1; fd <= FD_LAST; fd++)
		if (dup2(log, fd) != fd)
			setup_failed("dup2 %d", fd);

	long bad_children = 0;
	int first_bad = -1;
	for (long i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			int lost = 0;
			for (int fd = FD_FIRST; fd <= FD_LAST; fd++)
				if (write(fd, "c", 1) != 1 && lost == 0)
					lost = fd;
			_exit(lost ? lost : all_byte(wipe, pages * pg, 0) ? 0 : 99);
		}
		int st = spawn_status(pid);
		if (st != 0 && bad_children++ == 0)
			first_bad = st;
	}
	for (int fd = FD_FIRST; fd <= FD_LAST; fd++)
		if (write(fd, "p", 1) != 1)
			setup_failed("write to descriptor %d in the parent", fd);
	check(bad_children == 0, "fork-fds: %ld children of fork wrote to each of the program's "
	      "descriptors %d-%d", forks, FD_FIRST, FD_LAST);
	if (bad_children)
		fprintf(stderr, "     %ld children failed; the first exit status %d (a number "
			"from %d to %d: the descriptor it could not write to; 99: wipe not zero)\n",
			bad_children, first_bad, FD_FIRST, FD_LAST);
	struct stat sb;
	long want = forks * (FD_LAST - FD_FIRST + 1) + (FD_LAST - FD_FIRST + 1);
	check(stat(path, &sb) == 0 && sb.st_size == want, "fork-fds: the file holds every "
	      "byte written to it (%ld)", want);
	unlink(path);

	/* Another process's maps file on the numbers the shim used. */
	int go[2];
	if (pipe2(go, O_CLOEXEC))
		setup_failed("pipe");
	pid_t helper = fork();
	if (helper == 0) {
		char c;
		close(go[1]);
		_exit(read(go[0], &c, 1) < 0); /* until the parent is done */
	}
	if (helper < 0)
		setup_failed("fork");
	/* mapped now: the helper has nothing at this address */
	char *q = map_pages(pages);
	memset(q, 'q', pages * pg);
	snprintf(path, sizeof path, "/proc/%d/maps", (int)helper);
	for (int fd = FD_FIRST; fd <= FD_LAST; fd++) {
		if (fd == go[0] || fd == go[1])
			continue;
		int m = open(path, O_RDONLY | O_CLOEXEC);
		if (m < 0 || (m != fd && (dup2(m, fd) != fd || close(m))))
			setup_failed("open %s as descriptor %d", path, fd);
	}
	errno = 0;
	int r = madvise(q, pages * pg, MADV_FREE);
	int e = errno;
	int s = page_full(q, 0);
	check(r == 0 && (s == 0 || (!must_zero && all_byte(q, pages * pg, 'q'))),
	      "fork-fds: with another process's maps file open on descriptors %d-%d, "
	      "madvise(FREE) of the program's own pages: 0, emptied", FD_FIRST, FD_LAST);
	if (r != 0)
		fprintf(stderr, "     madvise returned %d, errno %s\n", r, strerrorname_np(e));
	close(go[1]);
	spawn_status(helper);
}

/* ---- guards: GUARD_INSTALL, GUARD_REMOVE and mprotect racing ---------- */
/* Page 0 of the region is a guard from start to end; a thread installs and
 * removes guards on random runs of the other pages, one mprotects random runs
 * of all of them (page 0 included) to PROT_READ or PROT_READ|PROT_WRITE, one
 * keeps reading page 0 (which must fault every time: a guard is never
 * readable, not even while mprotect changes the pages around it), and one
 * forks, each child checking that page 0 is still a guard.  The upper half is
 * WIPEONFORK, so that emptying guard pages may take the fork table's lock
 * while fork takes both.  At the end, with every guard but page 0 removed,
 * each page must be readable (nothing left PROT_NONE that no guard records)
 * and hold either its data or zeros, whole. */
#define GUARD_PAGES 32

struct guard_job {
	char *base;
	long ops;
	uint64_t seed;
	struct failure fail;
	long done;
};

static atomic_bool guards_over;

/* Reads one byte at p without a signal: process_vm_readv on itself fails with
 * EFAULT where the page is not readable. */
static bool readable(const char *p, char *out)
{
	struct iovec local = { out, 1 }, remote = { (void *)p, 1 };
	return syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL) == 1;
}

static void random_run(uint64_t *seed, size_t lowest, size_t *first, size_t *n)
{
	*first = lowest + rnd(seed) % (GUARD_PAGES - lowest);
	size_t room = GUARD_PAGES - *first;
	*n = 1 + rnd(seed) % (room < 4 ? room : 4);
}

static void *guard_installer(void *arg)
{
	struct guard_job *j = arg;
	for (long i = 0; i < j->ops; i++, j->done++) {
		size_t first, n;
		random_run(&j->seed, 1, &first, &n);
		int advice = rnd(&j->seed) & 1 ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
		if (madvise(j->base + first * pg, n * pg, advice))
			record(&j->fail, "madvise(pages %zu-%zu, %s): %s", first, first + n - 1,
			       advice == MADV_GUARD_INSTALL ? "GUARD_INSTALL" : "GUARD_REMOVE",
			       strerrorname_np(errno));
	}
	return NULL;
}

static void *guard_protector(void *arg)
{
	struct guard_job *j = arg;
	for (long i = 0; i < j->ops; i++, j->done++) {
		size_t first, n;
		random_run(&j->seed, 0, &first, &n);
		int prot = rnd(&j->seed) & 1 ? PROT_READ : PROT_READ | PROT_WRITE;
		if (mprotect(j->base + first * pg, n * pg, prot))
			record(&j->fail, "mprotect(pages %zu-%zu): %s", first, first + n - 1,
			       strerrorname_np(errno));
	}
	return NULL;
}

static void *guard_prober(void *arg)
{
	struct guard_job *j = arg;
	for (long i = 0; i < 100L * 1000 * 1000 && !atomic_load(&guards_over); i++, j->done++) {
		char c;
		if (readable(j->base, &c))
			record(&j->fail, "page 0, a guard, was readable (read %d) after %ld reads",
			       c, i);
	}
	return NULL;
}

static void *guard_forker(void *arg)
{
	struct guard_job *j = arg;
	for (long i = 0; i < j->ops; i++, j->done++) {
		pid_t pid = fork();
		if (pid == 0) {
			char c;
			sigset_t mask;
			/* the shim's fork handlers block signals: none may stay blocked */
			if (pthread_sigmask(SIG_BLOCK, NULL, &mask) || sigismember(&mask, SIGSEGV) ||
			    sigismember(&mask, SIGTERM))
				_exit(2);
			_exit(readable(j->base, &c) ? 1 : 0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			record(&j->fail, "fork or waitpid: %s", strerror(errno));
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			record(&j->fail, "fork %ld: the child %s", i,
			       !WIFEXITED(st)	      ? "was killed" :
			       WEXITSTATUS(st) == 2 ? "has signals blocked" :
						      "could read page 0, a guard");
	}
	return NULL;
}

static void sc_guards(long ops)
{
	char *p = map_pages(GUARD_PAGES);
	for (size_t i = 0; i < GUARD_PAGES; i++)
		memset(p + i * pg, (int)(i + 1), pg);
	if (madvise(p + GUARD_PAGES / 2 * pg, GUARD_PAGES / 2 * pg, MADV_WIPEONFORK))
		setup_failed("madvise(WIPEONFORK)");
	if (madvise(p, pg, MADV_GUARD_INSTALL))
		setup_failed("madvise(page 0, GUARD_INSTALL)");
	struct guard_job jobs[4] = {
		{ .base = p, .ops = ops, .seed = 0x9e3779b97f4a7c15ULL },
		{ .base = p, .ops = ops, .seed = 0xd1b54a32d192ed03ULL },
		{ .base = p },
		{ .base = p, .ops = ops / 200 + 1 },
	};
	void *(*mains[4])(void *) = { guard_installer, guard_protector, guard_prober,
				      guard_forker };
	const char *names[4] = { "installer", "protector", "prober", "forker" };
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, mains[i], &jobs[i]))
			setup_failed("pthread_create");
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_join(t[3], NULL);
	atomic_store(&guards_over, true);
	pthread_join(t[2], NULL);
	for (int i = 0; i < 4; i++) {
		check(jobs[i].fail.count == 0, "guards: %s thread, %ld rounds, no failure", names[i],
		      jobs[i].done);
		show_failure(names[i], &jobs[i].fail);
	}
	check(jobs[2].done > 0, "guards: the prober read page 0 %ld times", jobs[2].done);

	int r = madvise(p + pg, (GUARD_PAGES - 1) * pg, MADV_GUARD_REMOVE);
	check(r == 0, "guards: madvise(pages 1-%d, GUARD_REMOVE): 0", GUARD_PAGES - 1);
	size_t bad = 0, first_bad = 0, emptied = 0;
	for (size_t i = 1; i < GUARD_PAGES; i++) {
		char c;
		bool ok = readable(p + i * pg, &c);
		if (ok && all_byte(p + i * pg, pg, 0))
			emptied++;
		else if (!ok || !all_byte(p + i * pg, pg, (char)(i + 1)))
			if (bad++ == 0)
				first_bad = i;
	}
	check(bad == 0, "guards: every page but 0 is readable and holds its data or zeros, "
	      "whole (%zu emptied)", emptied);
	if (bad)
		fprintf(stderr, "     %zu pages wrong, the first is page %zu\n", bad, first_bad);
	char c;
	check(!readable(p, &c), "guards: page 0 is still a guard");
	r = madvise(p, pg, MADV_GUARD_REMOVE);
	check(r == 0 && readable(p, &c) && all_byte(p, pg, 0),
	      "guards: page 0 comes back readable and empty");
}

/* ---- 2f. cancellation inside the shim --------------------------------- */

/* A thread cancelled while it is inside an mprotect over emulated guard
 * pages: the shim holds its guard lock there and reads smaps (open and read
 * are cancellation points) for each guard part, the access it may take.  A
 * cancellation acted on there would end the thread with the lock held, and
 * every later mprotect over guards, GUARD_INSTALL, GUARD_REMOVE and fork
 * would wait for it for good.  Each round a target thread loops mprotect
 * over 8 guard parts, whose smaps reads take most of its time, with
 * pthread_testcancel between calls; a canceller waits for the target's
 * 1st to 3rd call and a varying count of spins, and cancels it (deferred).
 * The target must end cancelled, and the main thread's mprotect over the
 * guards must return.  A hang is what the bats file's timeout catches. */
#define CANCEL_PAGES 16      /* a guard on every other page */
#define CANCEL_CALLS 100000L /* the target's bound: it is cancelled long before */

struct cancel_job {
	char *base;
	pthread_t target;
	_Atomic long begun; /* mprotect calls the target has begun */
	long wait_calls;    /* the canceller waits for this many */
	long spins;         /* and then spins this many times */
	struct failure fail;
};

static void *cancel_target(void *arg)
{
	struct cancel_job *j = arg;
	for (long i = 0; i < CANCEL_CALLS; i++) {
		atomic_store(&j->begun, i + 1);
		int prot = i & 1 ? PROT_READ : PROT_READ | PROT_WRITE;
		if (mprotect(j->base, CANCEL_PAGES * pg, prot))
			record(&j->fail, "mprotect call %ld: %s", i + 1, strerrorname_np(errno));
		/* the loop's only cancellation point outside the shim */
		pthread_testcancel();
	}
	return NULL;
}

static void *canceller(void *arg)
{
	struct cancel_job *j = arg;
	for (long n = 0; n < 100L * 1000 * 1000 && atomic_load(&j->begun) < j->wait_calls; n++)
		sched_yield();
	for (volatile long n = 0; n < j->spins; n++)
		;
	int e = pthread_cancel(j->target);
	if (e)
		record(&j->fail, "pthread_cancel: %s", strerrorname_np(e));
	return NULL;
}

/* The calling thread's cancellation state, left as it was. */
static int cancel_state(void)
{
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	pthread_setcancelstate(old, NULL);
	return old;
}

static void sc_cancel(long rounds)
{
	char *p = map_pages(CANCEL_PAGES);
	for (size_t i = 0; i < CANCEL_PAGES; i++)
		memset(p + i * pg, (int)(i + 1), pg);
	for (size_t i = 0; i < CANCEL_PAGES; i += 2)
		if (madvise(p + i * pg, pg, MADV_GUARD_INSTALL))
			setup_failed("madvise(page %zu, GUARD_INSTALL)", i);
	struct failure fail = { 0 }, target_fail = { 0 };
	long cancelled = 0, returned = 0, calls = 0;
	for (long round = 0; round < rounds; round++) {
		struct cancel_job j = {
			.base = p,
			.wait_calls = 1 + round % 3,
			.spins = (long)(((uint64_t)round * 2654435761u) % 50000),
		};
		pthread_t c;
		if (pthread_create(&j.target, NULL, cancel_target, &j) ||
		    pthread_create(&c, NULL, canceller, &j))
			setup_failed("pthread_create");
		void *res;
		pthread_join(c, NULL);
		pthread_join(j.target, &res);
		calls += atomic_load(&j.begun);
		if (res == PTHREAD_CANCELED)
			cancelled++;
		else
			record(&fail, "round %ld: the target was not cancelled (%ld calls)", round,
			       atomic_load(&j.begun));
		if (j.fail.count)
			record(&target_fail, "round %ld: %s", round, j.fail.first);
		errno = 0;
		if (mprotect(p, CANCEL_PAGES * pg, PROT_READ) == 0 && errno == 0)
			returned++;
		else
			record(&fail, "round %ld: main's mprotect: %s", round, strerrorname_np(errno));
	}
	check(cancelled == rounds, "cancel: the target ended cancelled in each of %ld rounds "
	      "(%ld mprotect calls begun)", rounds, calls);
	check(returned == rounds, "cancel: main's mprotect over the guards returned 0, errno "
	      "kept, after each round");
	show_failure("main", &fail);
	check(target_fail.count == 0, "cancel: every mprotect of the targets returned 0");
	show_failure("targets", &target_fail);

	size_t bad = 0;
	for (size_t i = 0; i < CANCEL_PAGES; i++) {
		char c;
		bool ok = readable(p + i * pg, &c);
		if (i % 2 ? !ok || !all_byte(p + i * pg, pg, (char)(i + 1)) : ok)
			bad++;
	}
	check(bad == 0, "cancel: each guard page faults, each page between reads its data "
	      "(%zu wrong)", bad);

	/* fork takes the guard lock in its handlers, and the child gives it
	 * back before the fork table's: both ends keep cancellation enabled */
	pid_t pid = fork();
	if (pid == 0)
		_exit(cancel_state() == PTHREAD_CANCEL_ENABLE ? 0 : 1);
	int st;
	check(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "cancel: a fork returns, and its child has cancellation enabled");
	check(cancel_state() == PTHREAD_CANCEL_ENABLE, "cancel: so has the parent, after fork");

	int r = madvise(p, CANCEL_PAGES * pg, MADV_GUARD_REMOVE);
	size_t back = 0;
	for (size_t i = 0; i < CANCEL_PAGES; i += 2) {
		char c;
		if (readable(p + i * pg, &c) && all_byte(p + i * pg, pg, 0))
			back++;
	}
	check(r == 0 && back == CANCEL_PAGES / 2,
	      "cancel: GUARD_REMOVE returns 0, each guard page readable and empty");
}

/* ---- main ------------------------------------------------------------- */

static const struct {
	const char *name, *args, *help;
} subcommands[] = {
	{ "threads", "dontneed|free|mixed OPS", "OPS calls by advisor threads on cells of one "
	  "region, sentinel pages rewritten between them" },
	{ "fork-storm", "FORKS", "FORKS forks while threads advise; children check "
	  "WIPEONFORK and DONTFORK ranges" },
	{ "signals", "dontneed|free|mixed ITERATIONS", "signal handlers call madvise while "
	  "the main loop is inside madvise" },
	{ "vfork", "COUNT", "vfork+exec, vfork+_exit and posix_spawn while threads advise" },
	{ "fork-fds", "FORKS", "descriptors closed and reopened by the program survive fork "
	  "and are never the shim's" },
	{ "guards", "OPS", "OPS GUARD_INSTALL/REMOVE and OPS mprotect calls race while a "
	  "thread reads a guard page and another forks" },
	{ "cancel", "ROUNDS", "ROUNDS threads cancelled inside mprotect over guard pages; "
	  "mprotect from another thread still returns" },
	{ "exit-code", "N", "exit with status N (the program vfork and posix_spawn run)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: madvise-stress SUBCOMMAND ARGS [--must-zero] [--threads N] "
		"[--sentinels N]\n"
		"                     [--mappers N] [--cell PAGES]\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(f, "  %-11s %-32s %s\n", subcommands[i].name, subcommands[i].args,
			subcommands[i].help);
}

static long number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "madvise-stress: '%s' is not a number from %ld to %ld\n", s, min,
			max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	report_prog = "madvise-stress";
	long sz = sysconf(_SC_PAGESIZE);
	pg = sz > 0 ? (size_t)sz : 4096;
	setvbuf(stdout, NULL, _IOLBF, 0);
	self_path = "/proc/self/exe";

	char *pos[4];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (!strcmp(a, "--must-zero"))
			must_zero = true;
		else if (!strcmp(a, "--threads") && has_value)
			opt_threads = (unsigned)number(argv[++i], 1, 256);
		else if (!strcmp(a, "--sentinels") && has_value)
			opt_sentinels = (unsigned)number(argv[++i], 0, 64);
		else if (!strcmp(a, "--mappers") && has_value)
			opt_mappers = (unsigned)number(argv[++i], 0, 64);
		else if (!strcmp(a, "--cell") && has_value)
			opt_cell = (size_t)number(argv[++i], 1, 4096);
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "madvise-stress: unknown option %s\n", a);
			return 2;
		} else if (npos < 4)
			pos[npos++] = argv[i];
	}
	if (npos == 0) {
		usage(stderr);
		return 2;
	}
	report_subcmd = pos[0];
	/* exec'd children find the binary by its real path */
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		self_path = exe;
	}

	if (!strcmp(report_subcmd, "exit-code") && npos == 2)
		return (int)number(pos[1], 0, 255);
	if (!strcmp(report_subcmd, "threads") && npos == 3)
		sc_threads(adv_value(pos[1]), number(pos[2], 1, 100L * 1000 * 1000));
	else if (!strcmp(report_subcmd, "fork-storm") && npos == 2)
		sc_fork_storm(number(pos[1], 1, 1000L * 1000));
	else if (!strcmp(report_subcmd, "signals") && npos == 3)
		sc_signals(adv_value(pos[1]), number(pos[2], 1, 100L * 1000 * 1000));
	else if (!strcmp(report_subcmd, "vfork") && npos == 2)
		sc_vfork(number(pos[1], 1, 1000L * 1000));
	else if (!strcmp(report_subcmd, "fork-fds") && npos == 2)
		sc_fork_fds(number(pos[1], 1, 1000L * 1000));
	else if (!strcmp(report_subcmd, "guards") && npos == 2)
		sc_guards(number(pos[1], 1, 100L * 1000 * 1000));
	else if (!strcmp(report_subcmd, "cancel") && npos == 2)
		sc_cancel(number(pos[1], 1, 1000L * 1000));
	else {
		usage(stderr);
		return 2;
	}

	fflush(stdout);
	if (report_failed) {
		fprintf(stderr, "FAILED: %s: %d of %d checks failed\n", report_subcmd, report_failed,
			report_failed + report_passed);
		return 1;
	}
	printf("passed: %s (%d checks)\n", report_subcmd, report_passed);
	return 0;
}
