/* MADV_GUARD_INSTALL and MADV_GUARD_REMOVE (Linux 6.13; file mappings 6.15).
 *
 * The kernel marks guard pages in the page tables: touching one faults, the
 * mapping's protection is unchanged, and removing the guard gives back empty
 * pages (zero, or the file's contents).  Without it the shim empties the pages
 * and makes them PROT_NONE, recording the protection they had so that
 * GUARD_REMOVE can restore it.  What differs, and is documented: /proc/self/maps
 * shows the guard pages as ---p, and an mprotect() by the program lifts the
 * emulated guard where the kernel's would stay. */
#include <errno.h>
#include <sys/mman.h>

#include "ranges.h"
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

uintptr_t guard_first_in(uintptr_t from, uintptr_t to)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return to;
	struct range first;
	sigset_t saved;
	ranges_lock(&guards, &saved);
	size_t n = ranges_find(&guards, from, to, &first, 1);
	ranges_unlock(&guards, &saved);
	return n ? first.start : to;
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
		if (!r && mprotect((void *)gaps[i].start, gaps[i].end - gaps[i].start,
				   PROT_NONE) != 0)
			r = -errno;
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
	sigset_t saved;
	long r = 0;
	for (;;) {
		ranges_lock(&guards, &saved);
		size_t n = ranges_find(&guards, from, to, have, PIECES);
		if (n)
			r = ranges_remove(&guards, have[0].start, have[n - 1].end);
		ranges_unlock(&guards, &saved);
		if (r || n == 0)
			return r;
		/* A guard the program lifted with mprotect is gone already:
		 * only pages still PROT_NONE get their protection back. */
		for (size_t i = 0; i < n && v->prot == PROT_NONE; i++)
			if (mprotect((void *)have[i].start, have[i].end - have[i].start,
				     (int)have[i].value) != 0)
				return -errno;
		if (n < PIECES)
			return 0;
		from = have[n - 1].end;
	}
}

long emulate_guard(uintptr_t start, uintptr_t end, int advice)
{
	bool install = advice == MADV_GUARD_INSTALL;
	return vma_walk(start, end, install ? guard_walk_needs() : 0,
			install ? visit_install : visit_remove, NULL);
}
