/* MADV_GUARD_INSTALL and MADV_GUARD_REMOVE (Linux 6.13; file mappings 6.15).
 *
 * The kernel marks guard pages in the page tables: touching one faults, the
 * mapping's protection is unchanged, and removing the guard gives back empty
 * pages (zero, or the file's contents).  Without it the shim empties the pages
 * and makes them PROT_NONE, recording the protection they had so that
 * GUARD_REMOVE can restore it.  What differs, and is documented: /proc/self/maps
 * shows the guard pages as ---p, and only an mprotect() that goes through the
 * shim keeps the guard, where the kernel's survives a raw syscall too. */
#include <errno.h>
#include <sys/mman.h>

#include "ranges.h"
#include "rawsys.h"
#include "shim.h"

static struct range_set guards;

void guard_atfork_prepare(void);
void guard_atfork_parent(void);
void guard_atfork_child(void);

static sigset_t fork_saved;
void guard_atfork_prepare(void) { ranges_lock(&guards, &fork_saved); }
void guard_atfork_parent(void) { ranges_unlock(&guards, &fork_saved); }
void guard_atfork_child(void) { ranges_unlock(&guards, &fork_saved); }

/* The program unmapped or replaced [start, end): its guards went with it. */
void guard_forget(uintptr_t start, uintptr_t end)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	sigset_t saved;
	ranges_lock(&guards, &saved);
	ranges_remove(&guards, start, end);
	ranges_unlock(&guards, &saved);
}

#define PIECES 16

/* Takes the records of [from, to) out of the table, up to PIECES of them. */
static size_t take(uintptr_t from, uintptr_t to, struct range *out)
{
	sigset_t saved;
	ranges_lock(&guards, &saved);
	size_t n = ranges_find(&guards, from, to, out, PIECES);
	for (size_t i = 0; i < n; i++)
		ranges_remove(&guards, out[i].start, out[i].end);
	ranges_unlock(&guards, &saved);
	return n;
}

/* The child of fork got fresh pages for [from, to) (WIPEONFORK): as in the
 * kernel, no guard survives there. */
void guard_lift(uintptr_t from, uintptr_t to)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	struct range have[PIECES];
	size_t n;
	do {
		n = take(from, to, have);
		for (size_t i = 0; i < n; i++)
			raw_syscall(SYS_mprotect, have[i].start, have[i].end - have[i].start,
				    have[i].value);
	} while (n == PIECES);
}

/* mremap moved [old, old + len) to new: the guards travel with the pages.
 * With MREMAP_DONTUNMAP the old range keeps its (PROT_NONE) mapping, and its
 * records stay so that GUARD_REMOVE can still restore it. */
void guard_move(uintptr_t old, uintptr_t new, size_t len, bool keep_old)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	struct range g;
	sigset_t saved;
	ranges_lock(&guards, &saved);
	ranges_remove(&guards, new, new + len);
	/* Piece by piece, so that every record moves however many there are;
	 * each leaves its old place first, freeing the slot its copy takes.
	 * The kernel never moves a mapping onto its own old range, so the walk
	 * cannot meet a piece it has already moved. */
	for (uintptr_t at = old; at < old + len && ranges_find(&guards, at, old + len, &g, 1);
	     at = g.end) {
		if (!keep_old)
			ranges_remove(&guards, g.start, g.end);
		ranges_assign(&guards, g.start - old + new, g.end - old + new, g.value);
	}
	ranges_unlock(&guards, &saved);
}

#ifndef PROT_GROWSUP
#define PROT_GROWSUP 0
#endif

static long visit_bounds(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	uintptr_t *bounds = arg;
	(void)from;
	(void)to;
	bounds[0] = v->start;
	bounds[1] = v->end;
	return 1; /* the first mapping is the one asked about */
}

/* mprotect over guard pages: the kernel's guards survive it, and the new
 * protection is what GUARD_REMOVE must give back.  So the guard pages keep
 * PROT_NONE and their records take the new protection. */
SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	static void *_Atomic cache;
	int (*next)(void *, size_t, int) =
		(int (*)(void *, size_t, int))real_next("mprotect", &cache);
	int r;
	if (next) {
		r = next(addr, len, prot);
	} else {
		long k = raw_syscall(SYS_mprotect, addr, len, prot);
		if (k) {
			errno = (int)-k;
			return -1;
		}
		r = 0;
	}
	if (r != 0 || atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return r;
	size_t page = shim_page_size();
	uintptr_t from = (uintptr_t)addr, to = from + ((len + page - 1) & ~(page - 1));
	/* PROT_GROWSDOWN (GROWSUP) makes the kernel apply the protection down
	 * to the start (up to the end) of the mapping: its guards there too.
	 * The flag itself is no protection to give back. */
	if (prot & (PROT_GROWSDOWN | PROT_GROWSUP)) {
		uintptr_t bounds[2];
		if (vma_walk(from, from + page, 0, visit_bounds, bounds) == 1) {
			if (prot & PROT_GROWSDOWN)
				from = bounds[0];
			else
				to = bounds[1] > to ? bounds[1] : to;
		}
		prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
	}
	struct range g;
	uintptr_t run = 0, run_end = 0;
	sigset_t saved;
	int saved_errno = errno;
	/* Every record in the range, however many, with the lock held until
	 * their pages are PROT_NONE again: a GUARD_REMOVE in another thread
	 * comes before (the pages keep the new protection) or after (it
	 * restores it), never in between, where it would leave PROT_NONE pages
	 * that nothing records.  A full table keeps the old protection on
	 * record; the guard stays all the same. */
	ranges_lock(&guards, &saved);
	for (uintptr_t at = from; at < to && ranges_find(&guards, at, to, &g, 1); at = g.end) {
		ranges_assign(&guards, g.start, g.end, (unsigned)prot);
		if (g.start != run_end) {
			if (run_end > run && prot != PROT_NONE)
				raw_syscall(SYS_mprotect, run, run_end - run, PROT_NONE);
			run = g.start;
		}
		run_end = g.end;
	}
	if (run_end > run && prot != PROT_NONE)
		raw_syscall(SYS_mprotect, run, run_end - run, PROT_NONE);
	ranges_unlock(&guards, &saved);
	errno = saved_errno;
	return 0;
}

uintptr_t guard_first_in(uintptr_t from, uintptr_t to, int *prot)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return to;
	struct range first;
	sigset_t saved;
	ranges_lock(&guards, &saved);
	size_t n = ranges_find(&guards, from, to, &first, 1);
	ranges_unlock(&guards, &saved);
	if (!n)
		return to;
	*prot = (int)first.value;
	return first.start;
}

/* Records the unguarded parts of [from, to) with protection prot and returns
 * them in gaps; -ENOMEM when the table is full (nothing recorded then). */
static long record_gaps(uintptr_t from, uintptr_t to, int prot, struct range *gaps,
			size_t *ngaps)
{
	struct range have[PIECES];
	sigset_t saved;
	long r = 0;
	*ngaps = 0;
	ranges_lock(&guards, &saved);
	size_t n = ranges_find(&guards, from, to, have, PIECES);
	uintptr_t at = from;
	for (size_t i = 0; i <= n && at < to && *ngaps < PIECES; i++) {
		uintptr_t gap_end = i < n ? have[i].start : to;
		if (gap_end > at)
			gaps[(*ngaps)++] = (struct range){ at, gap_end, (unsigned)prot };
		if (i < n)
			at = have[i].end;
	}
	if (n == PIECES || (*ngaps == PIECES && at < to))
		r = -ENOMEM; /* more pieces than one call handles: too fragmented */
	for (size_t i = 0; !r && i < *ngaps; i++)
		r = ranges_assign(&guards, gaps[i].start, gaps[i].end, gaps[i].value);
	if (r) {
		for (size_t i = 0; i < *ngaps; i++)
			ranges_remove(&guards, gaps[i].start, gaps[i].end);
		*ngaps = 0;
	}
	ranges_unlock(&guards, &saved);
	return r;
}

static long visit_install(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	if (v->locked || v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP)
		return -EINVAL;
	struct range gaps[PIECES];
	size_t n;
	long r = record_gaps(from, to, v->prot, gaps, &n);
	for (size_t i = 0; !r && i < n; i++) {
		if (!v->shared)
			r = discard_range(v, gaps[i].start, gaps[i].end);
		if (!r)
			r = raw_syscall(SYS_mprotect, gaps[i].start,
					gaps[i].end - gaps[i].start, PROT_NONE);
	}
	return r;
}

static long visit_remove(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	if (v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP)
		return -EINVAL;
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return 0;
	struct range have[PIECES];
	size_t n;
	do {
		n = take(from, to, have);
		for (size_t i = 0; i < n; i++) {
			long r = raw_syscall(SYS_mprotect, have[i].start,
					     have[i].end - have[i].start, have[i].value);
			if (r)
				return r;
		}
	} while (n == PIECES);
	return 0;
}

long emulate_guard(uintptr_t start, uintptr_t end, int advice)
{
	bool install = advice == MADV_GUARD_INSTALL;
	return vma_walk(start, end, install ? guard_walk_needs() : 0,
			install ? visit_install : visit_remove, NULL);
}
