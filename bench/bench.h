/* Helpers shared by the benchmark programs: a clock, a system call that no
 * preloaded library can intercept, and the line format bench/run reads.
 *
 * The timing programs print lines of the form
 *   sample MEASURE REP A_NS B_NS
 * one per repetition, where A is the variant under test and B its reference.
 * Within a repetition the two alternate call by call (A B B A A B ...), each
 * call is timed on its own, and A_NS and B_NS are robust centres of the calls
 * (bench_center): a preempted call (the machine is shared) moves them very
 * little.
 * They also print
 *   info KEY VALUE...
 * lines that the runner copies into its notes. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A system call made with the instruction itself: libc's syscall() is
 * interposed by the shim, this is not.  Returns -errno on failure. */
static inline long bench_rawsys6(long nr, long a1, long a2, long a3, long a4, long a5,
				 long a6)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
#error "bench_rawsys6: add this architecture's system call instruction"
#endif
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A robust centre of n values (reorders them): the mean of the middle half
 * (the interquartile mean), or the median of fewer than eight.  Unlike the
 * plain median it is not stuck to the clock's steps. */
static inline double bench_center(uint64_t *v, long n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp_u64);
	if (n < 8)
		return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
	double sum = 0;
	long lo = n / 4, hi = n - n / 4;
	for (long i = lo; i < hi; i++)
		sum += (double)v[i];
	return sum / (double)(hi - lo);
}

static inline void bench_sample(const char *measure, int rep, double a_ns, double b_ns)
{
	printf("sample %s %d %.1f %.1f\n", measure, rep, a_ns, b_ns);
	fflush(stdout);
}

static inline void bench_die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

/* "--name value" options, all integers. */
static inline long bench_opt(int argc, char **argv, const char *name, long dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return strtol(argv[i + 1], NULL, 0);
	return dflt;
}

static inline const char *bench_opt_str(int argc, char **argv, const char *name,
					const char *dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return dflt;
}

/* Lines of /proc/self/maps: the number of mappings. */
static inline long bench_vma_count(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		bench_die("cannot open /proc/self/maps");
	long n = 0;
	int c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

#endif
