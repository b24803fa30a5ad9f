/* MADV_POPULATE_READ and MADV_POPULATE_WRITE: fault every page in, as the
 * kernel's faultin_page_range does, without changing a byte and without a
 * SIGSEGV or SIGBUS ever reaching the program.
 *
 * The kernel's answers: EINVAL where the mapping's protection does not allow
 * the access (or it is a PFN mapping), ENOMEM at the first unmapped page
 * (pages before it stay populated), EFAULT where the access would raise
 * SIGBUS or SIGSEGV (a file mapping beyond the end of its file). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

/* A pipe reads memory the way a system call does: a page that cannot be
 * faulted in makes write() stop short or fail with EFAULT instead of raising
 * a signal.  Sixteen pages fit in a pipe of the default size. */
#define PIPE_PAGES 16

struct populate {
	int advice;
	uintptr_t next;          /* where the previous mapping ended */
	int pipe[2];
	char *drain;             /* PIPE_PAGES pages to empty the pipe into */
};

static long pipe_setup(struct populate *p)
{
	if (p->drain)
		return 0;
	size_t len = PIPE_PAGES * shim_page_size();
	if (pipe2(p->pipe, O_CLOEXEC) != 0)
		return -errno;
	p->drain = real_mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->drain == MAP_FAILED) {
		p->drain = NULL;
		close(p->pipe[0]);
		close(p->pipe[1]);
		return -ENOMEM;
	}
	return 0;
}

static void pipe_teardown(struct populate *p)
{
	if (!p->drain)
		return;
	real_munmap(p->drain, PIPE_PAGES * shim_page_size());
	close(p->pipe[0]);
	close(p->pipe[1]);
}

/* Reads [from, to) through the pipe: 0, or -EFAULT at the first page that
 * cannot be read. */
static long fault_in_safely(struct populate *p, uintptr_t from, uintptr_t to)
{
	long r = pipe_setup(p);
	if (r)
		return r;
	size_t page = shim_page_size();
	while (from < to) {
		size_t chunk = to - from;
		if (chunk > PIPE_PAGES * page)
			chunk = PIPE_PAGES * page;
		ssize_t n = write(p->pipe[1], (const void *)from, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EFAULT;
		for (ssize_t got = 0; got < n;) {
			ssize_t m = read(p->pipe[0], p->drain, (size_t)(n - got));
			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0)
				return -EIO;
			got += m;
		}
		if ((size_t)n < chunk)
			return -EFAULT;
		from += chunk;
	}
	return 0;
}

/* A write fault that changes nothing: compare-and-swap of a byte with its own
 * value.  (An atomic add of zero may be compiled to a plain load.) */
static void touch_for_write(uintptr_t from, uintptr_t to)
{
	size_t page = shim_page_size();
	for (uintptr_t a = from; a < to; a += page) {
		unsigned char *b = (unsigned char *)a;
		unsigned char v = __atomic_load_n(b, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(b, &v, v, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))
			;
	}
}

static void touch_for_read(uintptr_t from, uintptr_t to)
{
	size_t page = shim_page_size();
	for (uintptr_t a = from; a < to; a += page)
		(void)__atomic_load_n((unsigned char *)a, __ATOMIC_RELAXED);
}

static long visit_populate(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	struct populate *p = arg;
	bool write = p->advice == MADV_POPULATE_WRITE;
	if (from > p->next)
		return -ENOMEM; /* the kernel stops at the first hole */
	p->next = to;
	int need = write ? PROT_WRITE : PROT_READ;
	/* The kernel checks a mapping's protection as it enters the mapping,
	 * before it faults any page in (EINVAL), and stops at a guard page,
	 * which cannot be faulted in (EFAULT).  The emulated guard is itself
	 * PROT_NONE, so the protection checked there is the one recorded for
	 * it; the pages before it are checked with their own. */
	int guard_prot = 0;
	uintptr_t guard = guard_first_in(from, to, &guard_prot);
	if (guard < to) {
		long r = guard > from ? visit_populate(v, from, guard, arg) : 0;
		if (r)
			return r;
		return guard_prot & need ? -EFAULT : -EINVAL;
	}
	if (v->kind == VMA_PFNMAP)
		return -EINVAL;
	if (!(v->prot & need))
		return -EINVAL;
	/* Anonymous memory always reads; anything with a file behind it can
	 * end before the mapping does. */
	if (v->kind != VMA_ANON || v->shared) {
		if (!(v->prot & PROT_READ))
			return SHIM_PASS; /* write-only: no safe way to probe */
		long r = fault_in_safely(p, from, to);
		if (r)
			return r;
	} else if (!write) {
		touch_for_read(from, to);
	}
	if (write)
		touch_for_write(from, to);
	return 0;
}

long emulate_populate(uintptr_t start, uintptr_t end, int advice)
{
	struct populate p = { .advice = advice, .next = start };
	long r = vma_walk(start, end, 0, visit_populate, &p);
	pipe_teardown(&p);
	return r;
}
