/* The hints (WILLNEED, COLD, PAGEOUT, the THP and KSM values, DODUMP...):
 * nothing to do but the kernel's checks per mapping; and DONTDUMP, whose
 * promise is kept for the whole process. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "shim.h"

static long visit_hint(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	int advice = *(int *)arg;
	(void)from;
	(void)to;
	if (advice == MADV_COLD || advice == MADV_PAGEOUT)
		if (v->locked || v->kind == VMA_PFNMAP)
			return -EINVAL;
	if (advice == MADV_DODUMP && (v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP))
		return -EINVAL;
	return 0;
}

/* A range kept out of core dumps: without the kernel's VM_DONTDUMP the only
 * sure way is that the process dumps no core at all. */
long emulate_dontdump(uintptr_t start, uintptr_t end)
{
	int advice = MADV_DONTDUMP;
	long r = vma_walk(start, end, 0, visit_hint, &advice);
	if (r == 0 || r == -ENOMEM) {
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
			return r == 0 ? SHIM_PASS : r;
	}
	return r;
}


long emulate_hint(uintptr_t start, uintptr_t end, int advice)
{
	/* COLD and PAGEOUT refuse locked memory: a walk that sees the locks */
	int need = advice == MADV_COLD || advice == MADV_PAGEOUT ? discard_lock_needs() : 0;
	return vma_walk(start, end, need, visit_hint, &advice);
}
