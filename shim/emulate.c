/* The madvise semantics: the kernel's argument checks, then per advice what a
 * kernel that has the call would do, applied mapping by mapping. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "shim.h"

/* ---- facts learnt once ---- */

enum { FACT_UNKNOWN, FACT_YES, FACT_NO };

static int cached_fact(_Atomic int *fact, bool (*learn)(void))
{
	int f = atomic_load_explicit(fact, memory_order_relaxed);
	if (f == FACT_UNKNOWN) {
		f = learn() ? FACT_YES : FACT_NO;
		atomic_store_explicit(fact, f, memory_order_relaxed);
	}
	return f;
}

static bool learn_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
}

static bool learn_ksm(void)
{
	return access("/sys/kernel/mm/ksm", F_OK) == 0;
}

/* mremap(MREMAP_DONTUNMAP) moves a range's pages away and leaves the mapping
 * in place with every attribute (protection, noreserve, pkey, name, policy):
 * what MADV_DONTNEED leaves behind.  Linux 5.7 has it for private anonymous
 * memory, 5.13 for every kind. */
static long dontunmap_range(uintptr_t from, uintptr_t to)
{
	size_t len = to - from;
	/* the fifth argument must be given: glibc up to 2.39 passes garbage */
	void *moved = mremap((void *)from, len, len,
			     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (moved == MAP_FAILED)
		return -errno;
	munmap(moved, len);
	return 0;
}

static bool learn_dontunmap(void)
{
	size_t page = shim_page_size();
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	long r = dontunmap_range((uintptr_t)p, (uintptr_t)p + page);
	munmap(p, page);
	return r == 0;
}

static _Atomic int have_thp, have_ksm, have_dontunmap;
static _Atomic bool maybe_locked;

/* Called by the mlock family wrappers: DONTNEED must then look for VM_LOCKED,
 * which only smaps shows (mremap would silently unlock such a range). */
void emulate_note_locking(void)
{
	atomic_store_explicit(&maybe_locked, true, memory_order_relaxed);
}

/* ---- the kernel's argument checks (mm/madvise.c do_madvise) ---- */

static bool behavior_valid(int emu)
{
	if (emu == EMU_THP)
		return cached_fact(&have_thp, learn_thp) == FACT_YES;
	if (emu == EMU_KSM)
		return cached_fact(&have_ksm, learn_ksm) == FACT_YES;
	return true;
}

/* 0 with *end set, 1 for an empty range (success), or -EINVAL. */
static int check_args(uintptr_t start, size_t len, int emu, uintptr_t *end)
{
	size_t page = shim_page_size();
	if (!behavior_valid(emu))
		return -EINVAL;
	if (start & (page - 1))
		return -EINVAL;
	size_t rounded = (len + page - 1) & ~(page - 1);
	if (len && !rounded)
		return -EINVAL;
	*end = start + rounded;
	if (*end < start)
		return -EINVAL;
	return *end == start;
}

/* ---- per-mapping rules ---- */

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

/* Private anonymous pages replaced by fresh ones with the mapping's own flags:
 * the fallback where mremap cannot do it (before Linux 5.7).  Needs smaps. */
static long remap_anon(const struct vma *v, uintptr_t from, uintptr_t to)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	if (v->noreserve)
		flags |= MAP_NORESERVE;
	if (v->growsdown)
		flags |= MAP_GROWSDOWN;
	if (mmap((void *)from, to - from, v->prot, flags, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

/* Moves pages away, in pieces where the whole range finds no room. */
static long dontunmap_chunked(uintptr_t from, uintptr_t to)
{
	long r = dontunmap_range(from, to);
	const size_t chunk = (size_t)64 << 20;
	if (r != -ENOMEM || to - from <= chunk)
		return r;
	for (uintptr_t a = from; a < to; a += chunk) {
		uintptr_t b = to - a > chunk ? a + chunk : to;
		r = dontunmap_range(a, b);
		if (r)
			return r;
	}
	return 0;
}

static long discard_private(const struct vma *v, uintptr_t from, uintptr_t to,
			    int advice)
{
	/* MADV_FREE where the kernel has MADV_DONTNEED: the same result */
	if (advice == MADV_FREE &&
	    atomic_load_explicit(&shim_state[MADV_DONTNEED], memory_order_relaxed) == ST_NATIVE)
		return real_madvise(from, to - from, MADV_DONTNEED);
	if (cached_fact(&have_dontunmap, learn_dontunmap) == FACT_YES) {
		long r = dontunmap_chunked(from, to);
		/* EINVAL: a kernel before 5.13 for file mappings, or a mapping
		 * mremap refuses; the kernel's own answer is the honest one */
		return r == -EINVAL ? SHIM_PASS : r;
	}
	if (v->kind != VMA_ANON)
		return SHIM_PASS;
	return remap_anon(v, from, to);
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
	return discard_private(v, from, to, advice);
}

static int walk_needs(void)
{
	if (atomic_load_explicit(&maybe_locked, memory_order_relaxed))
		return VMA_NEED_FLAGS;
	return 0;
}

static long emulate_discard(uintptr_t start, uintptr_t end, int advice)
{
	int need = walk_needs();
	bool dontunmap = cached_fact(&have_dontunmap, learn_dontunmap) == FACT_YES;
	/* The common case needs no lookup: one mapping, nothing locked, and
	 * mremap gives exactly DONTNEED's result for every mapping kind. */
	if (advice == MADV_DONTNEED && !need && dontunmap) {
		long r = dontunmap_range(start, end);
		if (r == 0)
			return 0;
		/* EFAULT: several mappings or holes; others: let the walk
		 * decide per mapping */
	}
	if (!dontunmap)
		need = VMA_NEED_FLAGS; /* the mmap fallback needs noreserve etc. */
	return vma_walk(start, end, need, visit_discard, &advice);
}

/* A range kept out of core dumps: without the kernel's VM_DONTDUMP the only
 * sure way is that the process dumps no core at all. */
static long emulate_dontdump(uintptr_t start, uintptr_t end)
{
	int advice = MADV_DONTDUMP;
	long r = vma_walk(start, end, 0, visit_hint, &advice);
	if (r == 0 || r == -ENOMEM) {
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
			return r == 0 ? SHIM_PASS : r;
	}
	return r;
}

static long pass_error(uintptr_t start, size_t len, int advice, enum advice_state st)
{
	if (st == ST_FORCED)
		return real_madvise(start, len, advice);
	return st == ST_MISSING_ENOSYS ? -ENOSYS : -EINVAL;
}

long emulate_madvise(uintptr_t start, size_t len, int advice, enum advice_state st)
{
	int emu = advice_emulation(advice);
	if (emu == EMU_NONE)
		return pass_error(start, len, advice, st);
	uintptr_t end = 0;
	int c = check_args(start, len, emu, &end);
	if (c)
		return c < 0 ? c : 0;
	long r;
	switch (emu) {
	case EMU_DISCARD:
	case EMU_FREE:
		r = emulate_discard(start, end, advice);
		break;
	case EMU_DONTDUMP:
		r = emulate_dontdump(start, end);
		break;
	case EMU_REMOVE:
		r = emulate_remove(start, end);
		break;
	case EMU_FORK:
		r = emulate_fork_advice(start, end, advice);
		break;
	case EMU_POPULATE:
		r = emulate_populate(start, end, advice);
		break;
	case EMU_GUARD:
		r = emulate_guard(start, end, advice);
		break;
	default:
		r = vma_walk(start, end, (advice == MADV_COLD || advice == MADV_PAGEOUT) ?
			     walk_needs() : 0, visit_hint, &advice);
		break;
	}
	return r == SHIM_PASS ? pass_error(start, len, advice, st) : r;
}

/* Advice values this build does not know: the kernel decides, but a kernel
 * without the syscall is presented as one that has it and rejects them. */
static long unknown_advice(uintptr_t start, size_t len, int advice)
{
	if (state_syscall_absent())
		return -EINVAL;
	long r = real_madvise(start, len, advice);
	if (r == -ENOSYS) {
		state_learn(MADV_NORMAL, r, start, len);
		return -EINVAL;
	}
	return r;
}

long shim_madvise(uintptr_t start, size_t len, int advice)
{
	if (shim_mode == MODE_OFF)
		return real_madvise(start, len, advice);
	int emu = advice_emulation(advice);
	if (emu < 0)
		return unknown_advice(start, len, advice);
	if (emu == EMU_NEVER)
		return real_madvise(start, len, advice);
	enum advice_state st = atomic_load_explicit(&shim_state[advice],
						     memory_order_relaxed);
	if (st == ST_UNKNOWN) {
		long r = real_madvise(start, len, advice);
		st = state_learn(advice, r, start, len);
		if (st == ST_NATIVE || st == ST_UNKNOWN)
			return r;
	}
	if (st == ST_NATIVE)
		return real_madvise(start, len, advice);
	return emulate_madvise(start, len, advice, st);
}
