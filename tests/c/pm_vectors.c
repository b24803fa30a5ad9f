/* process_madvise with vectors of several ranges, which the fuzzer (one
 * range per call) does not draw: empty ranges first, last and alone, ranges
 * outside user space, wrapping and negative lengths, and the cut of the total
 * at MAX_RW_COUNT (2 GiB less a page) through the middle of a range.
 *
 *   madvise-pm-vectors
 *
 * Prints one line per call (result and errno) and, for the cut, which of
 * the pages around it kept their byte.  The lines are compared between the
 * native kernel and the shim on simulated kernels (tests/differential.bats).
 * Addresses outside user space are x86-64's (kernel half, vsyscall page, the
 * last user page with 4-level paging); elsewhere those lines are left out. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "names.h"

#ifndef MADV_DONTNEED
#define MADV_DONTNEED 4
#endif

static int pidfd;
static size_t page, max_rw;
static char *small, *big;

static void call(const char *what, const struct iovec *v, size_t n, int advice)
{
	errno = SENTINEL_ERRNO;
	long r = syscall(SYS_process_madvise, pidfd, v, n, advice, 0);
	printf("%-40s ret=%ld errno=%s\n", what, r, errno_name(errno));
}

/* The pages from two before the cut to two after it. */
static void mark(void)
{
	for (size_t o = max_rw - 2 * page; o < max_rw + 2 * page; o += page)
		big[o] = 1;
}

static void show(void)
{
	printf("  pages around the cut:");
	for (size_t o = max_rw - 2 * page; o < max_rw + 2 * page; o += page)
		printf(" %d", big[o]);
	putchar('\n');
}

#define V(...) ((struct iovec[]){ __VA_ARGS__ }), sizeof((struct iovec[]){ __VA_ARGS__ }) / sizeof(struct iovec)

static void vectors(int advice)
{
	char *p = small, *u = small + 1;
	printf("-- advice %d\n", advice);
	call("empty unaligned first, then a page", V({ u, 0 }, { p, page }), advice);
	call("a page, then empty unaligned", V({ p, page }, { u, 0 }), advice);
	call("empty, empty unaligned, a page", V({ p, 0 }, { u, 0 }, { p, page }), advice);
	call("two empty unaligned", V({ u, 0 }, { u, 0 }), advice);
	call("one empty unaligned", V({ u, 0 }), advice);
	call("one empty", V({ p, 0 }), advice);
	call("no ranges", NULL, 0, advice);
	call("wrapping range after a page",
	     V({ p, page }, { (void *)(UINTPTR_MAX & ~(uintptr_t)(page - 1)), 2 * page }), advice);
	call("one wrapping range", V({ (void *)(UINTPTR_MAX & ~(uintptr_t)(page - 1)), 2 * page }),
	     advice);
	call("a page, then a negative length", V({ p, page }, { p, (size_t)-1 }), advice);
	call("two of SSIZE_MAX", V({ big, SIZE_MAX / 2 }, { big, SIZE_MAX / 2 }), advice);
#if defined(__x86_64__) && UINTPTR_MAX > 0xffffffffu
	void *kern = (void *)0xffffffff80000000ul, *top = (void *)0x7ffffffff000ul;
	call("kernel address, empty, then a page", V({ kern, 0 }, { p, page }), advice);
	call("a page, then kernel address, empty", V({ p, page }, { kern, 0 }), advice);
	call("kernel address, empty, alone", V({ kern, 0 }), advice);
	call("the vsyscall page", V({ (void *)0xffffffffff600000ul, page }), advice);
	call("last user page, empty, then a page", V({ top, 0 }, { p, page }), advice);
	call("last user page, 1 byte, then a page", V({ top, 1 }, { p, page }), advice);
	call("a page, then past the last user page",
	     V({ p, page }, { (char *)top - page, page + 1 }), advice);
	call("2^62 bytes from 0x1000, alone", V({ (void *)0x1000, 1ul << 62 }), advice);
	call("a page, then 2^62 bytes from 0x1000", V({ p, page }, { (void *)0x1000, 1ul << 62 }),
	     advice);
	call("kernel address, then a negative length", V({ kern, 1 }, { p, (size_t)-1 }), advice);
#endif
	mark();
	call("cut inside the second range",
	     V({ big, max_rw - page }, { big + max_rw - page, 2 * page }), advice);
	show();
	mark();
	call("cut to one byte of the second range",
	     V({ big, max_rw - 1 }, { big + max_rw, page }), advice);
	show();
	mark();
	call("cut at the end of the first range",
	     V({ big, max_rw }, { big + 1, page }), advice);
	show();
	mark();
	call("one range past the cut", V({ big, max_rw + 2 * page }), advice);
	show();
	mark();
	call("empty unaligned first, then past the cut",
	     V({ big + 1, 0 }, { big, max_rw + 2 * page }), advice);
	show();
}

int main(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	max_rw = (size_t)INT_MAX & ~(page - 1);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	small = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	big = mmap(NULL, 2 * max_rw + 32 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pidfd < 0 || small == MAP_FAILED || big == MAP_FAILED) {
		perror("madvise-pm-vectors: set-up");
		return 2;
	}
	small[0] = small[page] = 1;
	vectors(MADV_NORMAL);
	vectors(MADV_DONTNEED);
	vectors(77); /* no such advice */
	return 0;
}
