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
#include "next.h"
#include "rawsys.h"
#include "shim.h"

static struct range_set guards;

/* Called by fork.c's handlers, around its own lock, whose hold() disables
 * cancellation from just after this taking until just before the giving
 * back, with no cancellation point in between (fork is none).  The guard
 * lock leaves the cancellation state alone here: had it disabled it,
 * hold() would save that DISABLE as the state to put back, and the child,
 * whose handler gives the guard lock back before hold()'s release, would
 * go on with cancellation disabled for good. */
static struct ranges_held fork_held;
void guard_atfork_prepare(void) { ranges_lock_keep_cancel(&guards, &fork_held); }
void guard_atfork_parent(void) { ranges_unlock(&guards, &fork_held); }

/* The child frees the lock before the fork table's, for guard_lift, with
 * every signal still blocked until the child handler is done; the mask the
 * program had goes to *mask, for that handler to put back last. */
void guard_atfork_child(sigset_t *mask)
{
	struct ranges_held keep = { .cancel = RANGES_CANCEL_KEPT };
	sigfillset(&keep.mask);
	*mask = fork_held.mask;
	ranges_unlock(&guards, &keep);
}

/* The program unmapped or replaced [start, end): its guards went with it. */
void guard_forget(uintptr_t start, uintptr_t end)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	struct ranges_held saved;
	ranges_lock(&guards, &saved);
	ranges_remove(&guards, start, end);
	ranges_unlock(&guards, &saved);
}

/* The child of fork got fresh pages for [from, to) (WIPEONFORK): as in the
 * kernel, no guard survives there. */
void guard_lift(uintptr_t from, uintptr_t to)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	struct range g;
	struct ranges_held saved;
	ranges_lock(&guards, &saved);
	for (uintptr_t at = from; at < to && ranges_find(&guards, at, to, &g, 1); at = g.end) {
		raw_syscall(SYS_mprotect, g.start, g.end - g.start, g.value);
		ranges_remove(&guards, g.start, g.end);
	}
	ranges_unlock(&guards, &saved);
}

/* mremap moved [old, old + len) to new: the guards travel with the pages.
 * With MREMAP_DONTUNMAP the old range keeps its (PROT_NONE) mapping, and its
 * records stay so that GUARD_REMOVE can still restore it. */
void guard_move(uintptr_t old, uintptr_t new, size_t len, bool keep_old)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return;
	struct range g;
	struct ranges_held saved;
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

/* The mapping at an address, if the lookup found it: found, not the walk's
 * result, says so, since a walk can end without a visit for more than one
 * reason (nothing mapped there, or a lookup that could not be made). */
struct bounds {
	uintptr_t start, end;
	bool found;
};

static long visit_bounds(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	struct bounds *b = arg;
	(void)from;
	(void)to;
	b->start = v->start;
	b->end = v->end;
	b->found = true;
	return 1; /* the first mapping is the one asked about: stop there */
}

static long visit_mayprot(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)from;
	(void)to;
	int want = *(int *)arg;
	if (!v->flags_known)
		return 0; /* no smaps to tell: the kernel's answer is unknown, not EACCES */
	return (want & ~v->mayprot) ? -EACCES : 0;
}

/* The kernel's checks for a guard part of an mprotect, without ever making
 * its pages accessible: the protection's other bits (PROT_SEM, PROT_BTI,
 * PROT_MTE...) and the address by a real call that asks for no access, the
 * access itself against what the mapping may take (smaps mr, mw, me),
 * EACCES as the kernel's mprotect gives. */
static int protect_guard_part(int (*next)(void *, size_t, int), uintptr_t from, uintptr_t to,
			      int prot)
{
	int access = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
	if (next((void *)from, to - from, prot & ~access))
		return -1;
	if (access) {
		long r = vma_walk(from, to, VMA_NEED_FLAGS, visit_mayprot, &access);
		/* smaps could not be read (no descriptor free): whether the
		 * kernel would refuse is unknown, so the guard keeps its record
		 * and the call ends here, with ENOMEM, the kernel's own error
		 * when it lacks the resources for a change, the parts before
		 * changed as it would leave them */
		if (r == SHIM_PASS)
			r = -ENOMEM;
		if (r) {
			errno = (int)-r;
			return -1;
		}
	}
	return 0;
}

/* mprotect over guard pages: the kernel's guards survive it, and the new
 * protection is what GUARD_REMOVE must give back.  So the guard pages keep
 * PROT_NONE and their records take the new protection.
 *
 * Where the range holds guards, it is done in parts, in address order as the
 * kernel goes through mappings, under the guard lock: the parts between the
 * guards by the real call, the guards by protect_guard_part; the first
 * failure ends it with the parts before it changed, as the kernel leaves
 * them.  So no guard page is ever accessible, not even for the moment a
 * whole-range call would open, and GUARD_INSTALL or GUARD_REMOVE in another
 * thread comes wholly before or after.  PROT_GROWSDOWN and PROT_GROWSUP,
 * whose reach only the kernel knows, take the whole-range call and put the
 * guards back after it: there that moment remains. */
static int protect_around_guards(int (*next)(void *, size_t, int), uintptr_t from, uintptr_t to,
				 int prot)
{
	struct range g;
	uintptr_t at = from;
	int r = 0;
	while (!r && at < to) {
		size_t n = ranges_find(&guards, at, to, &g, 1);
		uintptr_t gap_end = n ? g.start : to;
		if (gap_end > at)
			r = next((void *)at, gap_end - at, prot);
		if (r || !n)
			break;
		r = protect_guard_part(next, g.start, g.end, prot);
		if (!r)
			ranges_assign(&guards, g.start, g.end, (unsigned)prot);
		at = g.end;
	}
	return r;
}

/* The kernel applies the protection down to the start (up to the end) of the
 * mapping at from: to its guards there too, which are put back after the
 * call.  So the shim must know where that mapping starts, and asks before
 * the call: a lookup that failed after it (no descriptor free for
 * /proc/self/maps, say) would leave guards opened below from that nothing
 * could tell from the others.  Closing every guard below from again would
 * keep them all, but the records of those the kernel reached would keep
 * their old protection, and GUARD_REMOVE would give back one the program
 * had changed.  So a failed lookup fails the call before anything changes,
 * with ENOMEM, the kernel's own answer when it lacks the resources for a
 * change: every guard and every record stay true. */
static int protect_growing(int (*next)(void *, size_t, int), uintptr_t from, uintptr_t to,
			   int prot)
{
	struct bounds b = { .found = false };
	long l = vma_walk(from, from + shim_page_size(), 0, visit_bounds, &b);
	if (!b.found && l != -ENOMEM) {
		errno = ENOMEM;
		return -1;
	}
	/* Not found with ENOMEM: nothing is mapped at from, and the kernel
	 * gives its own error.  Should the call succeed all the same (another
	 * thread mapped it meanwhile), the guards in [from, to) are kept. */
	int r = next((void *)from, to - from, prot);
	if (r)
		return r;
	if (b.found) {
		if (prot & PROT_GROWSDOWN)
			from = b.start;
		else
			to = b.end > to ? b.end : to;
	}
	prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP); /* no protection to give back */
	struct range g;
	uintptr_t run = 0, run_end = 0;
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
	return 0;
}

static int raw_mprotect(void *addr, size_t len, int prot)
{
	long k = raw_syscall(SYS_mprotect, addr, len, prot);
	if (k) {
		errno = (int)-k;
		return -1;
	}
	return 0;
}

SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int (*next)(void *, size_t, int) = NEXT(mprotect);
	if (!next)
		next = raw_mprotect;
	size_t page = shim_page_size();
	uintptr_t from = (uintptr_t)addr, to = from + shim_page_round(len);
	/* an empty, unaligned or wrapping range is the kernel's to refuse */
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0 || to <= from ||
	    (from & (page - 1)))
		return next(addr, len, prot);
	struct range g;
	struct ranges_held saved;
	ranges_lock(&guards, &saved);
	int r;
	/* With the lock held before the lookup: a GUARD_INSTALL in another
	 * thread comes before the lookup or after the whole call. */
	if (prot & (PROT_GROWSDOWN | PROT_GROWSUP))
		r = protect_growing(next, from, to, prot);
	else if (ranges_find(&guards, from, to, &g, 1))
		r = protect_around_guards(next, from, to, prot);
	else
		r = next(addr, len, prot);
	int err = errno;
	ranges_unlock(&guards, &saved);
	errno = err;
	return r;
}

uintptr_t guard_first_in(uintptr_t from, uintptr_t to, int *prot)
{
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return to;
	struct range first;
	struct ranges_held saved;
	ranges_lock(&guards, &saved);
	size_t n = ranges_find(&guards, from, to, &first, 1);
	ranges_unlock(&guards, &saved);
	if (!n)
		return to;
	*prot = (int)first.value;
	return first.start;
}

/* Guards [from, to), which holds none: recorded, made PROT_NONE and then
 * emptied, so that no write can slip in between and outlive the guard.  On
 * failure nothing of it is left. */
static long install_part(const struct vma *v, uintptr_t from, uintptr_t to)
{
	long r = ranges_assign(&guards, from, to, (unsigned)v->prot);
	if (r)
		return r; /* the table is full */
	r = raw_syscall(SYS_mprotect, from, to - from, PROT_NONE);
	if (!r && !v->shared) {
		struct vma none = *v; /* what a fallback remap must recreate */
		none.prot = PROT_NONE;
		r = discard_range(&none, from, to);
		if (r)
			raw_syscall(SYS_mprotect, from, to - from, v->prot);
	}
	if (r)
		ranges_remove(&guards, from, to);
	return r;
}

/* Every step of GUARD_INSTALL and GUARD_REMOVE happens under the guard lock
 * (a futex lock: they make system calls under it), so that an install and a
 * remove, or either and an mprotect, in two threads come one after the
 * other, as the kernel's page-table lock orders them: never PROT_NONE pages
 * that nothing records, never a protection given back over a newer one.
 * Emptying pages may take the fork table's lock, which always comes second
 * (fork.c). */
static long visit_install(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	if (v->locked || v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP)
		return -EINVAL;
	struct range g;
	struct ranges_held saved;
	long r = 0;
	ranges_lock(&guards, &saved);
	for (uintptr_t at = from; !r && at < to;) {
		size_t n = ranges_find(&guards, at, to, &g, 1);
		uintptr_t gap_end = n ? g.start : to;
		if (gap_end > at)
			r = install_part(v, at, gap_end);
		at = n ? g.end : to;
	}
	ranges_unlock(&guards, &saved);
	return r;
}

static long visit_remove(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	if (v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP)
		return -EINVAL;
	if (atomic_load_explicit(&guards.count, memory_order_relaxed) == 0)
		return 0;
	struct range g;
	struct ranges_held saved;
	long r = 0;
	ranges_lock(&guards, &saved);
	for (uintptr_t at = from; !r && at < to && ranges_find(&guards, at, to, &g, 1);
	     at = g.end) {
		r = raw_syscall(SYS_mprotect, g.start, g.end - g.start, g.value);
		/* forgetting a piece from the middle of a record needs a slot */
		if (!r && (r = ranges_remove(&guards, g.start, g.end)) != 0)
			raw_syscall(SYS_mprotect, g.start, g.end - g.start, PROT_NONE);
	}
	ranges_unlock(&guards, &saved);
	return r;
}

long emulate_guard(uintptr_t start, uintptr_t end, int advice)
{
	bool install = advice == MADV_GUARD_INSTALL;
	return vma_walk(start, end, install ? discard_walk_needs() : 0,
			install ? visit_install : visit_remove, NULL);
}
