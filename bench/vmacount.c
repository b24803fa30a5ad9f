/* Does emulation leave the address space as it found it?
 *
 * Run under madvise-sim with the shim preloaded.  One 1 GiB private
 * anonymous mapping; CALLS times, a random page of it is written and then
 * advised (MADV_DONTNEED, then as many MADV_FREE).  The mappings of the
 * process (lines of /proc/self/maps) are counted before and after each run:
 * the kernel's madvise never changes that number, so the emulation must not
 * either (mremap(MREMAP_DONTUNMAP) of part of a mapping splits it, and only
 * the kernel's merging afterwards makes it whole again).
 *
 * Output: "vmas ADVICE BEFORE AFTER NS_PER_CALL". */
#include <sys/mman.h>

#include "bench.h"

#define PAGE 4096UL
#define REGION (1UL << 30)

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void run(char *region, const char *name, int advice, long calls)
{
	long before = bench_vma_count();
	uint64_t spent = 0;
	for (long i = 0; i < calls; i++) {
		char *p = region + (next_random() % (REGION / PAGE)) * PAGE;
		*(volatile char *)p = 1;
		uint64_t t0 = bench_now();
		if (madvise(p, PAGE, advice) != 0)
			bench_die("madvise failed");
		spent += bench_now() - t0;
		/* MADV_FREE may keep the page; the emulation never does */
		if (advice == MADV_DONTNEED && *(volatile char *)p != 0)
			bench_die("the page was not emptied");
	}
	long after = bench_vma_count();
	printf("vmas %s %ld %ld %.1f\n", name, before, after, (double)spent / (double)calls);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long calls = bench_opt(argc, argv, "--calls", 100000);
	char *region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		bench_die("mmap");
	run(region, "dontneed", MADV_DONTNEED, calls);
	run(region, "free", MADV_FREE, calls);
	return 0;
}
