/* Emulated MADV_DONTNEED and MADV_FREE against their floor.
 *
 * Run under madvise-sim with the shim preloaded, so that both advice values
 * are emulated.  The floor is what a program would do by hand to get the same
 * result: one mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS) over the range
 * with the same protection, made with the syscall instruction.  Every page of
 * the range is written before each call, outside the timing, so every call
 * has pages to free.
 *
 * The address space can be filled first with FILLERS one-page mappings of
 * alternating protection (so that each is a mapping of its own), all below
 * the target range: the /proc/self/maps parser then reads past every one of
 * them before it reaches the target.
 *
 *   bench-discard [--tag T] [--reps 15] [--fillers N | --mappings N]
 *                 [--advice dontneed,free] [--sizes 4096,65536,2097152]
 *                 [--budget-ms 250] [--dontfork 1]
 *       prints "sample T-ADVICE-SIZE REP EMULATED_NS FLOOR_NS" per repetition:
 *       robust centres of up to 201 (4 KiB), 41 (64 KiB) or 7 (2 MiB) calls
 *       of each, alternating, or of as many as fit in the budget (at least
 *       three); --mappings adds fillers until the process has about N;
 *       --dontfork 1 first marks another page MADV_DONTFORK
 *   bench-discard --count N [--fillers N] [--advice A] [--sizes S] [--dontfork 1]
 *       after a warm-up, makes N calls of each advice and size and nothing
 *       else: run it under strace -c with N and with 0 to count the system
 *       calls of one call.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "bench.h"

#define PAGE 4096UL
#define TARGET_MAX (2UL << 20)

static char *target;

static void touch(size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		((volatile char *)target)[off] = 1;
}

static int advise(int advice, size_t len)
{
	return madvise(target, len, advice);
}

static int floor_mmap(int advice, size_t len)
{
	(void)advice;
	long r = bench_rawsys6(SYS_mmap, (long)target, (long)len, PROT_READ | PROT_WRITE,
			       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return r == (long)target ? 0 : -1;
}

/* One call on freshly written pages; nanoseconds, the writes not counted. */
static uint64_t one(int (*call)(int, size_t), int advice, size_t len)
{
	touch(len);
	uint64_t t0 = bench_now();
	int r = call(advice, len);
	uint64_t t = bench_now() - t0;
	if (r != 0)
		bench_die("madvise or mmap failed");
	if (advice == MADV_DONTNEED && target[0] != 0)
		bench_die("MADV_DONTNEED left the data in place");
	return t;
}

/* Up to n calls of each, alternating (E F F E ...), fewer once budget_ns
 * has gone by (but at least three of each): their robust centres. */
static void pairs(int advice, size_t len, long n, uint64_t budget_ns, uint64_t *te,
		  uint64_t *tf, double *emulated, double *floor_ns)
{
	uint64_t start = bench_now();
	long i = 0;
	while (i < n && (i < 3 || bench_now() - start < budget_ns)) {
		if (i & 1) {
			tf[i] = one(floor_mmap, advice, len);
			te[i] = one(advise, advice, len);
		} else {
			te[i] = one(advise, advice, len);
			tf[i] = one(floor_mmap, advice, len);
		}
		i++;
	}
	*emulated = bench_center(te, i);
	*floor_ns = bench_center(tf, i);
}

static void make_fillers(long fillers)
{
	/* [fillers][gap][target][gap], reserved in one piece so that the
	 * target lies above every filler */
	size_t total = (size_t)fillers * PAGE + PAGE + TARGET_MAX + PAGE;
	char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (base == MAP_FAILED)
		bench_die("cannot reserve the address range");
	int rw = PROT_READ | PROT_WRITE, fixed = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
	if (fillers) {
		if (mmap(base, (size_t)fillers * PAGE, rw, fixed, -1, 0) == MAP_FAILED)
			bench_die("mmap");
		for (long i = 1; i < fillers; i += 2)
			if (mprotect(base + i * PAGE, PAGE, PROT_READ))
				bench_die("mprotect (raise vm.max_map_count?)");
	}
	target = base + (size_t)fillers * PAGE + PAGE;
	/* mapped as the floor maps it, so that neither changes its flags */
	if (mmap(target, TARGET_MAX, rw, fixed, -1, 0) == MAP_FAILED)
		bench_die("mmap");
}

static int advice_of(const char *name)
{
	if (strcmp(name, "dontneed") == 0)
		return MADV_DONTNEED;
	if (strcmp(name, "free") == 0)
		return MADV_FREE;
	bench_die("unknown advice (dontneed, free)");
	return -1;
}

/* Comma-separated list into an array; returns the count. */
static int split(const char *list, char out[][16], int max)
{
	int n = 0;
	const char *p = list;
	while (*p && n < max) {
		size_t k = strcspn(p, ",");
		if (k >= 16)
			bench_die("list item too long");
		memcpy(out[n], p, k);
		out[n][k] = 0;
		n++;
		p += k;
		if (*p == ',')
			p++;
	}
	return n;
}

static const char *size_name(size_t len, char buf[24])
{
	if (len % (1UL << 20) == 0)
		snprintf(buf, 24, "%zum", len >> 20);
	else
		snprintf(buf, 24, "%zuk", len >> 10);
	return buf;
}

int main(int argc, char **argv)
{
	int reps = (int)bench_opt(argc, argv, "--reps", 15);
	long fillers = bench_opt(argc, argv, "--fillers", 0);
	long mappings = bench_opt(argc, argv, "--mappings", 0);
	long dontfork = bench_opt(argc, argv, "--dontfork", 0);
	long count = bench_opt(argc, argv, "--count", -1);
	uint64_t budget_ns = (uint64_t)bench_opt(argc, argv, "--budget-ms", 250) * 1000000u;
	const char *tag = bench_opt_str(argc, argv, "--tag", "emu");
	char advices[4][16], sizes[8][16];
	int nadv = split(bench_opt_str(argc, argv, "--advice", "dontneed,free"), advices, 4);
	int nsize = split(bench_opt_str(argc, argv, "--sizes", "4096,65536,2097152"), sizes, 8);

	/* --mappings N: as many fillers as make about N mappings in all (the
	 * reservation adds the target and two gaps, one of them the fillers'
	 * neighbour) */
	if (mappings) {
		long have = bench_vma_count() + 3;
		fillers = mappings > have ? mappings - have : 0;
	}
	make_fillers(fillers);
	/* --dontfork 1: one page elsewhere marked MADV_DONTFORK first, as V8
	 * does with its allocations, so the shim's fork table is not empty */
	if (dontfork) {
		void *other = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (other == MAP_FAILED || madvise(other, PAGE, MADV_DONTFORK) != 0)
			bench_die("MADV_DONTFORK failed");
	}
	printf("info mappings %ld\n", bench_vma_count());

	uint64_t te[256], tf[256];
	double e, f;
	for (int a = 0; a < nadv; a++)
		for (int s = 0; s < nsize; s++) {
			size_t len = strtoul(sizes[s], NULL, 0);
			if (len == 0 || len > TARGET_MAX || len % PAGE)
				bench_die("sizes are whole pages up to 2 MiB");
			/* warm-up: the shim learns what the kernel lacks, the
			 * lookup descriptor is opened, each path has run */
			pairs(advice_of(advices[a]), len, 3, 0, te, tf, &e, &f);
		}

	if (count >= 0) {
		for (int a = 0; a < nadv; a++)
			for (int s = 0; s < nsize; s++) {
				size_t len = strtoul(sizes[s], NULL, 0);
				int advice = advice_of(advices[a]);
				for (long i = 0; i < count; i++) {
					touch(len);
					if (advise(advice, len))
						bench_die("madvise failed");
				}
			}
		printf("info counted %ld\n", count);
		return 0;
	}

	for (int rep = 0; rep < reps; rep++)
		for (int a = 0; a < nadv; a++)
			for (int s = 0; s < nsize; s++) {
				size_t len = strtoul(sizes[s], NULL, 0);
				long n = len <= PAGE ? 201 : len <= 65536 ? 41 : 7;
				pairs(advice_of(advices[a]), len, n, budget_ns, te, tf, &e, &f);
				char name[96], sz[24];
				snprintf(name, sizeof name, "%s-%s-%s", tag, advices[a],
					 size_name(len, sz));
				bench_sample(name, rep, e, f);
			}
	printf("info mappings-at-end %ld\n", bench_vma_count());
	return 0;
}
