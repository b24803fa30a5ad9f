/* The shim's cost where the kernel has the advice.
 *
 * Run natively with the shim preloaded.  It times MADV_DONTNEED of one 4 KiB
 * page three ways, call by call in rotation:
 *   shim: madvise(), which the preload makes the shim's;
 *   libc: libc's own madvise, found with dlsym in libc.so.6 (what the program
 *         would call without the shim);
 *   raw:  the syscall instruction, which nothing intercepts.
 * and with the page in two states:
 *   untouched: the page is empty when advised (and never read);
 *   touched:   the page is written before every call (outside the timing),
 *              so every call frees a page.
 *
 *   bench-fastpath [--reps 15] [--calls 2000]
 * Each call is timed on its own; the time of an empty call timed the same
 * way (two clock reads and an indirect call, in the same rotation) is
 * subtracted.  Output per repetition, in nanoseconds (touched: half the
 * calls):
 *   sample fastpath-untouched REP SHIM_NS RAW_NS
 *   sample fastpath-untouched-libc REP SHIM_NS LIBC_NS
 *   sample libc-untouched REP LIBC_NS RAW_NS
 * and the same for touched. */
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "bench.h"

static volatile char *page;
static int (*libc_madvise)(void *, size_t, int);

static int call_shim(void)
{
	return madvise((void *)page, 4096, MADV_DONTNEED);
}

static int call_libc(void)
{
	return libc_madvise((void *)page, 4096, MADV_DONTNEED);
}

static int call_raw(void)
{
	return (int)bench_rawsys6(SYS_madvise, (long)page, 4096, MADV_DONTNEED, 0, 0, 0);
}

/* What the timing itself costs: two clock reads and an indirect call. */
static int call_none(void)
{
	__asm__ volatile("" ::: "memory");
	return 0;
}

enum { SHIM, LIBC, RAW, NONE, WAYS };
static int (*const calls_of[WAYS])(void) = { call_shim, call_libc, call_raw, call_none };

static uint64_t one(int way, int touch)
{
	if (touch)
		page[0] = 1;
	uint64_t t0 = bench_now();
	int r = calls_of[way]();
	uint64_t t = bench_now() - t0;
	if (r != 0)
		bench_die("madvise failed");
	/* (an untouched page is not read either: reading maps the zero page,
	 * which the next call would then have to unmap) */
	if (touch && way != NONE && page[0] != 0)
		bench_die("the page was not emptied");
	return t;
}

/* n calls of each way, in rotating order: their robust centres. */
static void rounds(long n, int touch, uint64_t *t[WAYS], double med[WAYS])
{
	for (long i = 0; i < n; i++)
		for (int k = 0; k < WAYS; k++) {
			int way = (int)((i + k) % WAYS);
			t[way][i] = one(way, touch);
		}
	for (int w = 0; w < WAYS; w++)
		med[w] = bench_center(t[w], n);
}

static void report(const char *state, int rep, const double med[WAYS])
{
	char name[64];
	snprintf(name, sizeof name, "fastpath-%s", state);
	bench_sample(name, rep, med[SHIM], med[RAW]);
	snprintf(name, sizeof name, "fastpath-%s-libc", state);
	bench_sample(name, rep, med[SHIM], med[LIBC]);
	snprintf(name, sizeof name, "libc-%s", state);
	bench_sample(name, rep, med[LIBC], med[RAW]);
}

int main(int argc, char **argv)
{
	int reps = (int)bench_opt(argc, argv, "--reps", 15);
	long calls = bench_opt(argc, argv, "--calls", 2000);
	long calls_touched = calls / 2 > 2 ? calls / 2 : 2;
	if (calls < 2)
		bench_die("--calls: at least 2");
	uint64_t *t[WAYS];
	for (int w = 0; w < WAYS; w++)
		if (!(t[w] = calloc((size_t)calls, sizeof *t[w])))
			bench_die("calloc");

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		bench_die("mmap");

	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (!libc || !(libc_madvise = (int (*)(void *, size_t, int))dlsym(libc, "madvise")))
		bench_die("cannot find libc's madvise");

	/* Which madvise each way calls: the shim's when it is preloaded. */
	Dl_info info;
	if (dladdr((void *)madvise, &info) && info.dli_fname)
		printf("info madvise-from %s\n", info.dli_fname);
	if (dladdr((void *)libc_madvise, &info) && info.dli_fname)
		printf("info libc-madvise-from %s\n", info.dli_fname);

	/* Warm-up: the shim learns that the kernel has MADV_DONTNEED (and
	 * checks once that it really empties), the page tables exist. */
	double med[WAYS];
	rounds(calls_touched, 1, t, med);
	rounds(calls, 0, t, med);

	for (int rep = 0; rep < reps; rep++) {
		rounds(calls, 0, t, med);
		report("untouched", rep, med);
		if (rep == 0)
			printf("info timing-overhead-ns %.1f\n", med[NONE]);
		rounds(calls_touched, 1, t, med);
		report("touched", rep, med);
	}
	return 0;
}
