/* MADV_DONTNEED, MADV_DONTNEED_LOCKED and MADV_FREE: the kernel's rules per
 * mapping (locked, shared, special, PFN-mapped memory), the pages emptied
 * through mem/empty.c, or with the kernel's own DONTNEED where it has it and
 * nothing else would change. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

/* The kernel's own MADV_DONTNEED, as one step of an emulation. */
static long kernel_dontneed(uintptr_t from, uintptr_t to)
{
	long r = real_madvise(from, to - from, MADV_DONTNEED);
	if (r == 0)
		outcome_how("kernel-dontneed", to - from);
	return r;
}

static _Atomic bool maybe_locked;

/* Called by the mlock family wrappers: DONTNEED must then look for VM_LOCKED,
 * which only smaps shows (mremap would silently unlock such a range). */
void emulate_note_locking(void)
{
	atomic_store_explicit(&maybe_locked, true, memory_order_relaxed);
}

/* The kernel's own MADV_DONTNEED changes nothing but the pages, where a remap
 * would lose flags the kernel keeps in the mapping (VM_DONTCOPY...). */
static bool dontneed_native(void)
{
	return state_ensure(MADV_DONTNEED) == ST_NATIVE;
}

static long discard_private_once(const struct vma *v, uintptr_t from, uintptr_t to,
				 int advice)
{
	/* FREE and DONTNEED_LOCKED where the kernel has MADV_DONTNEED: the
	 * same result on unlocked memory, with nothing else changed */
	if (advice != MADV_DONTNEED && !v->locked && dontneed_native())
		return kernel_dontneed(from, to);
	bool file = v->kind != VMA_ANON;
	int f = empty_can_move(file);
	if (f != FACT_NO) {
		long r = empty_move(from, to, false);
		if (r == 0 && f == FACT_UNKNOWN)
			empty_moved(file);
		/* EINVAL: a mapping mremap refuses (hugetlb, special): the
		 * kernel's own answer is the honest one.  Where the probe
		 * could not tell whether mremap can do it, the fallback
		 * below decides. */
		if (f == FACT_YES || r != -EINVAL)
			return r == -EINVAL ? SHIM_PASS : r;
	}
	/* A remap rounds to whole huge pages where the kernel rounds down
	 * (DONTNEED of a part frees nothing): never remap hugetlb memory. */
	if (!v->flags_known || v->hugetlb)
		return SHIM_PASS;
	return empty_remap(v, from, to);
}

static long visit_discard_again(const struct vma *v, uintptr_t from, uintptr_t to,
				void *arg)
{
	return discard_private_once(v, from, to, *(int *)arg);
}

/* [from, to) was one mapping, v, when it was looked up.  An mprotect in
 * another thread may have split it since, and the parts need not merge again
 * (after a fork their anonymous memory differs): mremap then refuses the
 * range with EFAULT, where the kernel's own DONTNEED walks the parts.  So
 * does this, once, with a new lookup.  Seen in the stress suite's guards
 * workload with the maps parser: 3 runs in 20 failed GUARD_INSTALL with
 * EFAULT before. */
static long discard_private(const struct vma *v, uintptr_t from, uintptr_t to,
			    int advice)
{
	long r = discard_private_once(v, from, to, advice);
	if (r == -EFAULT)
		r = vma_walk(from, to, discard_walk_needs(), visit_discard_again, &advice);
	return r;
}

/* DONTNEED_LOCKED on locked memory.  mremap(MREMAP_DONTUNMAP) would unlock the
 * whole mapping and leave the process's locked-memory count too high, so the
 * locked pages are replaced in place instead, and the new ones locked as the
 * old were (which faults them in, unless they were locked on fault). */
static long discard_locked(const struct vma *v, uintptr_t from, uintptr_t to)
{
	if (v->hugetlb)
		return SHIM_PASS; /* see discard_private */
	long r = empty_remap(v, from, to);
	if (r)
		return r;
	r = -ENOSYS;
#ifdef SYS_mlock2
	r = raw_syscall(SYS_mlock2, from, to - from, v->lockonfault ? MLOCK_ONFAULT : 0);
#endif
	if (r == -ENOSYS && !v->lockonfault)
		r = raw_syscall(SYS_mlock, from, to - from, 0);
	/* mlock marks the range locked first and then faults it in, which
	 * PROT_NONE memory refuses with ENOMEM: the lock holds all the same,
	 * as it did before (the pages were locked, so the limit allows it). */
	if (r == -ENOMEM && v->prot == PROT_NONE)
		r = 0;
	return r;
}

long discard_range(const struct vma *v, uintptr_t from, uintptr_t to)
{
	if (dontneed_native())
		return kernel_dontneed(from, to);
	return discard_private(v, from, to, MADV_DONTNEED);
}

static long visit_discard(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	int advice = *(int *)arg;
	if (v->kind == VMA_PFNMAP || (v->locked && advice != MADV_DONTNEED_LOCKED))
		return -EINVAL;
	if (advice == MADV_FREE && (v->shared || v->kind != VMA_ANON))
		return -EINVAL;
	/* Shared memory keeps its contents: the kernel only drops the page
	 * table entries.  Special mappings refault the same pages. */
	if (v->shared || v->kind == VMA_SPECIAL)
		return 0;
	if (v->locked)
		return discard_locked(v, from, to);
	return discard_private(v, from, to, advice);
}

/* What a walk must read to see locked mappings: smaps, once the program
 * has locked memory (the mlock wrappers say so). */
int discard_lock_needs(void)
{
	if (atomic_load_explicit(&maybe_locked, memory_order_relaxed))
		return VMA_NEED_FLAGS;
	return 0;
}

/* What a walk that may call discard_private needs: the smaps flags and paths
 * the fallback remaps read, unless the kernel or mremap does the work. */
int discard_walk_needs(void)
{
	int need = discard_lock_needs();
	if (dontneed_native())
		return need;
	if (empty_can_move(false) != FACT_YES || empty_can_move(true) != FACT_YES)
		need |= VMA_NEED_FLAGS | VMA_NEED_PATH;
	return need;
}

long emulate_discard(uintptr_t start, uintptr_t end, int advice)
{
	int need = discard_lock_needs();
	bool dontunmap = empty_can_move(false) == FACT_YES;
	if (advice != MADV_FREE && !need) {
		/* nothing is locked: DONTNEED_LOCKED is DONTNEED */
		if (dontneed_native())
			return kernel_dontneed(start, end);
		/* The common case needs no lookup: one mapping, and mremap
		 * gives exactly DONTNEED's result for every mapping kind. */
		if (dontunmap && empty_move(start, end, false) == 0)
			return 0;
		/* else several mappings, holes, or a mapping mremap refuses:
		 * the walk decides mapping by mapping */
	}
	if (!dontunmap || (advice == MADV_DONTNEED_LOCKED && need))
		need |= VMA_NEED_FLAGS; /* the mmap fallback needs noreserve etc. */
	if (advice == MADV_DONTNEED_LOCKED && need)
		need |= VMA_NEED_PATH;  /* locked file pages are remapped from the file */
	if (empty_can_move(true) != FACT_YES)
		/* private file pages come back from the file, and hugetlb
		 * files (smaps flags) never are */
		need |= VMA_NEED_PATH | VMA_NEED_FLAGS;
	return vma_walk(start, end, need, visit_discard, &advice);
}

