/* alloc-churn: allocation churn, then a purge, with whatever malloc is
 * loaded; tests/allocators.bats runs it with jemalloc, mimalloc and tcmalloc
 * preloaded, natively and under madvise-sim with and without the shim.
 *
 * Each round allocates blocks of mixed sizes (16 bytes to 48 KiB) up to the
 * asked total and writes every byte of them, frees every other block, asks
 * the allocator to give free memory back, checks that the blocks still live
 * hold what was written, allocates into the gaps, checks everything again,
 * then frees all and purges once more.  The last round keeps one block in 64
 * alive, scattered over the heap, so that the allocator cannot hand whole
 * regions back with munmap: only madvise (MADV_DONTNEED or MADV_FREE) on the
 * free pages between them returns memory.  Those survivors are checked
 * byte for byte after the final purge.
 *
 * The allocator is recognised by the symbols it exports, and purged through
 * its own interface, looked up with dlsym so that nothing has to be linked:
 *   jemalloc   mallctl("thread.tcache.flush"), mallctl("arena.<all>.purge")
 *   mimalloc   mi_collect(true)
 *   tcmalloc   MallocExtension_ReleaseFreeMemory()
 *   glibc      malloc_trim(0)
 *
 * Memory is measured in /proc/self/smaps_rollup: anonymous memory minus the
 * part freed lazily with MADV_FREE (LazyFree), which the kernel takes back as
 * soon as it needs it.  The figures come out on one line,
 *   rss-kib baseline=B peak=P half=H purged=U lazyfree=L
 * (resident KiB before the first round, after the last allocation, after
 * the first half was freed and purged, and after all but the survivors were
 * freed and purged, and the LazyFree part of the last), for the test to
 * compare runs.
 *
 * Output otherwise as the other test programs: "ok" lines, "note" lines,
 * FAIL lines on stderr, and "passed: churn (N checks)"; exit status 1 when a
 * check failed, 2 when the workload could not be set up.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report.h"


/* ---- the allocator ---------------------------------------------------- */

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*mi_collect_fn)(bool);
typedef void (*release_fn)(void);

static const char *alloc_name = "glibc";
static mallctl_fn je_mallctl;
static mi_collect_fn mi_collect_p;
static release_fn tc_release;

static void find_allocator(void)
{
	if ((je_mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl")))
		alloc_name = "jemalloc";
	else if ((mi_collect_p = (mi_collect_fn)dlsym(RTLD_DEFAULT, "mi_collect")))
		alloc_name = "mimalloc";
	else if ((tc_release = (release_fn)dlsym(RTLD_DEFAULT,
						 "MallocExtension_ReleaseFreeMemory")))
		alloc_name = "tcmalloc";
}

/* Gives free memory back; returns how, or why not. */
static const char *purge(void)
{
	static char how[160];
	if (je_mallctl) {
		int a = je_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
		/* 4096 is MALLCTL_ARENAS_ALL: every arena at once */
		int b = je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
		snprintf(how, sizeof how, "mallctl thread.tcache.flush = %d, arena.4096.purge = %d",
			 a, b);
	} else if (mi_collect_p) {
		mi_collect_p(true);
		snprintf(how, sizeof how, "mi_collect(true)");
	} else if (tc_release) {
		tc_release();
		snprintf(how, sizeof how, "MallocExtension_ReleaseFreeMemory()");
	} else {
		snprintf(how, sizeof how, "malloc_trim(0) = %d", malloc_trim(0));
	}
	return how;
}

/* ---- memory figures ---------------------------------------------------- */

struct resident {
	long anon, lazy; /* KiB */
};

static struct resident measure(void)
{
	struct resident r = { -1, 0 };
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		setup_failed("open /proc/self/smaps_rollup");
	char line[256];
	while (fgets(line, sizeof line, f)) {
		long v;
		if (sscanf(line, "Anonymous: %ld kB", &v) == 1)
			r.anon = v;
		else if (sscanf(line, "LazyFree: %ld kB", &v) == 1)
			r.lazy = v;
	}
	fclose(f);
	if (r.anon < 0)
		setup_failed("no Anonymous line in /proc/self/smaps_rollup");
	return r;
}

static long resident_kib(void)
{
	struct resident r = measure();
	return r.anon - r.lazy;
}

/* ---- the churn ---------------------------------------------------------- */

struct block {
	unsigned char *p;
	size_t size;
	uint32_t tag;
};

/* Mostly small blocks, some up to 48 KiB: what a program's heap holds. */
static size_t block_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	switch (r % 8) {
	case 0:
	case 1:
	case 2:
		return 16 + (size_t)(r >> 8) % 240;
	case 3:
	case 4:
		return 256 + (size_t)(r >> 8) % 3840;
	case 5:
	case 6:
		return 4096 + (size_t)(r >> 8) % 12288;
	default:
		return 16384 + (size_t)(r >> 8) % 32768;
	}
}

static unsigned char fill_byte(uint32_t tag, size_t i)
{
	return (unsigned char)(tag * 31u + i * 7u + 1u);
}

static bool make(struct block *b, uint64_t *s, uint32_t tag)
{
	b->size = block_size(s);
	b->tag = tag;
	b->p = malloc(b->size);
	if (!b->p)
		return false;
	for (size_t i = 0; i < b->size; i++)
		b->p[i] = fill_byte(tag, i);
	return true;
}

/* true when every byte is as written */
static bool intact(const struct block *b)
{
	for (size_t i = 0; i < b->size; i++)
		if (b->p[i] != fill_byte(b->tag, i))
			return false;
	return true;
}

struct worker {
	pthread_t th;
	unsigned id;
	size_t bytes;       /* to allocate per round */
	unsigned rounds;
	bool purge_here;    /* purge from this thread (single-threaded runs) */
	struct block *b;    /* kept by the thread for the next step */
	size_t n;
	/* results */
	size_t blocks, survivors, broken, alloc_failed;
	long half_kib, peak_kib;
	char first[160];
};

static void broken_block(struct worker *w, const char *when, size_t i, const struct block *b)
{
	if (w->broken++ == 0)
		snprintf(w->first, sizeof w->first, "block %zu (%zu bytes at %p) changed %s",
			 i, b->size, (void *)b->p, when);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (w->id + 1) ^ 0x5851f42d4c957f2dULL;
	/* Blocks average about 7 KiB: room for three times as many.  The
	 * array is mapped directly, so that it does not count as the
	 * allocator's memory. */
	size_t cap = w->bytes / 2048 + 1024;
	struct block *b = mmap(NULL, cap * sizeof *b, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		setup_failed("mmap room for %zu blocks", cap);
	uint32_t tag = w->id * 1000003u;
	for (unsigned round = 0; round < w->rounds; round++) {
		size_t n = 0, total = 0;
		while (total < w->bytes && n < cap) {
			if (!make(&b[n], &seed, tag++)) {
				w->alloc_failed++;
				break;
			}
			total += b[n++].size;
		}
		w->blocks += n;
		for (size_t i = 0; i < n; i += 2) {
			free(b[i].p);
			b[i].p = NULL;
		}
		if (w->purge_here)
			purge();
		if (round == 0)
			w->half_kib = resident_kib();
		for (size_t i = 1; i < n; i += 2)
			if (!intact(&b[i]))
				broken_block(w, "after half the blocks were freed and purged", i, &b[i]);
		/* into the gaps, with new sizes */
		for (size_t i = 0; i < n; i += 2)
			if (!make(&b[i], &seed, tag++)) {
				w->alloc_failed++;
				b[i].p = NULL;
			}
		if (round + 1 == w->rounds)
			w->peak_kib = resident_kib();
		for (size_t i = 0; i < n; i++)
			if (b[i].p && !intact(&b[i]))
				broken_block(w, "after the gaps were filled again", i, &b[i]);
		/* The last round keeps one block in 64: live data scattered over
		 * the heap, as a long-running program has.  No allocator can
		 * give back whole regions then; only madvise can return the
		 * free pages between the survivors. */
		bool last = round + 1 == w->rounds;
		for (size_t i = 0; i < n; i++) {
			if (last && i % 64 == 0 && b[i].p) {
				w->survivors++;
				continue;
			}
			free(b[i].p);
			b[i].p = NULL;
		}
		if (w->purge_here)
			purge();
		w->b = b;
		w->n = n;
	}
	return NULL;
}

/* After the final purge: the survivors hold what was written, and go. */
static void survivors_check_free(struct worker *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (!w->b[i].p)
			continue;
		if (!intact(&w->b[i]))
			broken_block(w, "after the final purge", i, &w->b[i]);
		free(w->b[i].p);
	}
	munmap(w->b, (w->bytes / 2048 + 1024) * sizeof *w->b);
}

static long number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "alloc-churn: '%s' is not a number from %ld to %ld\n", s, min, max);
		exit(2);
	}
	return v;
}

static void usage(FILE *f)
{
	fputs("usage: alloc-churn [--mib N] [--threads N] [--rounds N]\n"
	      "  allocate N MiB (default 128) in mixed blocks per round, free and purge,\n"
	      "  and print resident anonymous memory (KiB) along the way\n", f);
}

int main(int argc, char **argv)
{
	report_prog = "alloc-churn";
	report_subcmd = "churn";
	long mib = 128, threads = 1, rounds = 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		bool v = i + 1 < argc;
		if (!strcmp(argv[i], "--mib") && v)
			mib = number(argv[++i], 1, 4096);
		else if (!strcmp(argv[i], "--threads") && v)
			threads = number(argv[++i], 1, 64);
		else if (!strcmp(argv[i], "--rounds") && v)
			rounds = number(argv[++i], 1, 100);
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	find_allocator();
	/* the allocator is up and its first purge done before the baseline */
	free(malloc(64));
	const char *how = purge();
	printf("note allocator: %s (purge: %s)\n", alloc_name, how);
	long baseline = resident_kib();

	struct worker *w = calloc((size_t)threads, sizeof *w);
	if (!w)
		setup_failed("calloc");
	for (long t = 0; t < threads; t++) {
		w[t].id = (unsigned)t;
		w[t].bytes = (size_t)mib * 1024 * 1024 / (size_t)threads;
		w[t].rounds = (unsigned)rounds;
		w[t].purge_here = threads == 1;
	}
	if (threads == 1) {
		worker_main(&w[0]);
	} else {
		for (long t = 0; t < threads; t++)
			if (pthread_create(&w[t].th, NULL, worker_main, &w[t]))
				setup_failed("pthread_create");
		for (long t = 0; t < threads; t++)
			pthread_join(w[t].th, NULL);
	}
	how = purge();
	struct resident end = measure();

	size_t blocks = 0, survivors = 0, broken = 0, alloc_failed = 0;
	long half = 0, peak = 0;
	for (long t = 0; t < threads; t++) {
		survivors_check_free(&w[t]);
		blocks += w[t].blocks;
		survivors += w[t].survivors;
		broken += w[t].broken;
		alloc_failed += w[t].alloc_failed;
		half = w[t].half_kib > half ? w[t].half_kib : half;
		peak = w[t].peak_kib > peak ? w[t].peak_kib : peak;
	}
	check(alloc_failed == 0, "churn: %zu blocks allocated by %ld threads in %ld rounds of "
	      "%ld MiB, no allocation failed", blocks, threads, rounds, mib);
	check(broken == 0, "churn: every block still in use kept every byte through the purges "
	      "(%zu survivors of the last round checked after the final purge)", survivors);
	for (long t = 0; t < threads; t++)
		if (w[t].broken)
			fprintf(stderr, "     thread %ld: %zu blocks changed, the first: %s\n", t,
				w[t].broken, w[t].first);
	printf("note last purge: %s\n", how);
	printf("rss-kib baseline=%ld peak=%ld half=%ld purged=%ld lazyfree=%ld\n", baseline, peak,
	       half, end.anon - end.lazy, end.lazy);
	free(w);

	fflush(stdout);
	if (report_failed) {
		fprintf(stderr, "FAILED: churn: %d of %d checks failed\n", report_failed, report_failed + report_passed);
		return 1;
	}
	printf("passed: churn (%d checks)\n", report_passed);
	return 0;
}
