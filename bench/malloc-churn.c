/* Allocation churn for a malloc that returns memory with madvise (jemalloc,
 * preloaded with LD_PRELOAD by bench/run).
 *
 * ROUNDS times: fill a table of SLOTS blocks of random sizes between 64 bytes
 * and 512 KiB (about log-uniform), writing every page, then free a random 90% of
 * them.  At the end everything is freed and the process reports its resident
 * set, which shows whether the allocator could give the memory back.
 *
 * Output: "rss-after KIB" and "checksum N" (so the writes stay). */
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, resident = 0;
	if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2)
		bench_die("cannot read /proc/self/statm");
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
	long rounds = bench_opt(argc, argv, "--rounds", 40);
	long slots = bench_opt(argc, argv, "--slots", 4096);
	char **block = calloc((size_t)slots, sizeof *block);
	size_t *size = calloc((size_t)slots, sizeof *size);
	if (!block || !size)
		bench_die("calloc");
	unsigned long sum = 0;
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < slots; i++) {
			if (block[i])
				continue;
			/* 2^6 .. 2^19 - 1 bytes, about log-uniform */
			unsigned shift = 6 + (unsigned)(next_random() % 13);
			size[i] = ((size_t)1 << shift) + next_random() % ((size_t)1 << shift);
			block[i] = malloc(size[i]);
			if (!block[i])
				bench_die("malloc");
			for (size_t off = 0; off < size[i]; off += 4096)
				block[i][off] = (char)(i + r);
			block[i][size[i] - 1] = (char)r;
		}
		for (long i = 0; i < slots; i++) {
			if (next_random() % 10 == 0)
				continue;
			sum += (unsigned char)block[i][0];
			free(block[i]);
			block[i] = NULL;
		}
	}
	for (long i = 0; i < slots; i++) {
		if (block[i])
			sum += (unsigned char)block[i][size[i] - 1];
		free(block[i]);
	}
	printf("rss-after %ld\nchecksum %lu\n", rss_kib(), sum);
	return 0;
}
