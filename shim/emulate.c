/* The madvise semantics: the kernel's argument checks, then per advice what a
 * kernel that has the call would do, applied mapping by mapping. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

/* ---- facts learnt once ---- */

enum { FACT_UNKNOWN, FACT_YES, FACT_NO };

/* learn answers FACT_YES, FACT_NO, or FACT_UNKNOWN when it could not tell
 * (a transient shortage): that is not remembered, the next call asks again. */
static int cached_fact(_Atomic int *fact, int (*learn)(void))
{
	int f = atomic_load_explicit(fact, memory_order_relaxed);
	if (f == FACT_UNKNOWN) {
		f = learn();
		if (f != FACT_UNKNOWN)
			atomic_store_explicit(fact, f, memory_order_relaxed);
	}
	return f;
}

static int learn_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0 ? FACT_YES : FACT_NO;
}

static int learn_ksm(void)
{
	return access("/sys/kernel/mm/ksm", F_OK) == 0 ? FACT_YES : FACT_NO;
}

/* What a scratch probe's error says about the kernel: a shortage of memory
 * or of mappings (near vm.max_map_count) says nothing. */
static int probe_verdict(long r)
{
	if (r == 0)
		return FACT_YES;
	return r == -ENOMEM || r == -EAGAIN ? FACT_UNKNOWN : FACT_NO;
}

/* mremap(MREMAP_DONTUNMAP) moves a range's pages away and leaves the mapping
 * in place with every attribute (protection, noreserve, pkey, name, policy):
 * what MADV_DONTNEED leaves behind.  Linux 5.7 has it for private anonymous
 * memory, 5.13 for every kind. */
/* The kernel's own MADV_DONTNEED, as one step of an emulation. */
static long kernel_dontneed(uintptr_t from, uintptr_t to)
{
	long r = real_madvise(from, to - from, MADV_DONTNEED);
	if (r == 0)
		outcome_how("kernel-dontneed", to - from);
	return r;
}

/* The move and the unmap of the moved copy bypass the map wrappers: the copy
 * lives only between the two calls, so neither the fork table nor the guards
 * need to hear of it, and the wrappers' lock would cost two signal-mask
 * system calls each.  Only where the range has fork advice recorded does a
 * fork have to wait until the copy is gone (fork_exclude). */
struct move {
	uintptr_t from;
	size_t len;
	int err;
};

static intptr_t move_away(void *arg)
{
	struct move *m = arg;
	/* the fifth argument must be given: glibc up to 2.39 passes garbage */
	void *moved = real_mremap((void *)m->from, m->len, m->len,
				  MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (moved == MAP_FAILED) {
		m->err = errno;
		return -1;
	}
	real_munmap(moved, m->len);
	return 0;
}

static long dontunmap_range(uintptr_t from, uintptr_t to)
{
	struct move m = { from, to - from, 0 };
	int saved = errno;
	if (fork_exclude(from, to, move_away, &m) != 0) {
		errno = saved;
		return -m.err;
	}
	outcome_how("mremap", m.len);
	return 0;
}

static int learn_dontunmap_scratch(void)
{
	size_t page = shim_page_size();
	void *p = real_mmap(NULL, page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return FACT_UNKNOWN;
	long r = dontunmap_range((uintptr_t)p, (uintptr_t)p + page);
	real_munmap(p, page);
	return probe_verdict(r);
}

/* The learning steps below empty scratch pages, not the program's: they are
 * kept out of the trace's count. */
static int learn_dontunmap(void)
{
	struct outcome *o = shim_outcome;
	shim_outcome = NULL;
	int r = learn_dontunmap_scratch();
	shim_outcome = o;
	return r;
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
	if (real_mmap((void *)from, to - from, v->prot, flags, -1, 0) == MAP_FAILED)
		return -errno;
	outcome_how("remap", to - from);
	return 0;
}

/* A remap replaces the mapping, and with it the advice the kernel kept as
 * flags of the old one (madvise given natively: a kernel that lacks an
 * advice keeps no flag for it, and the shim's own records do not change).
 * The advice is given again on the new pages.  DONTFORK and WIPEONFORK keep
 * memory out of children: if they cannot be given again, the call fails. */
static long remap_keeping_advice(const struct vma *v, uintptr_t from, uintptr_t to)
{
	long r = v->kind == VMA_FILE ? remap_private_file(v, from, to) :
		 remap_anon(v, from, to);
	if (r || !v->kept_advice)
		return r;
	static const struct { unsigned flag; int advice; bool vital; } kept[] = {
		{ VMA_KEPT_DONTFORK, MADV_DONTFORK, true },
		{ VMA_KEPT_WIPEONFORK, MADV_WIPEONFORK, true },
		{ VMA_KEPT_DONTDUMP, MADV_DONTDUMP, false },
		{ VMA_KEPT_HUGEPAGE, MADV_HUGEPAGE, false },
		{ VMA_KEPT_NOHUGEPAGE, MADV_NOHUGEPAGE, false },
		{ VMA_KEPT_MERGEABLE, MADV_MERGEABLE, false },
	};
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		if (!(v->kept_advice & kept[i].flag))
			continue;
		long k = real_madvise(from, to - from, kept[i].advice);
		if (k && kept[i].vital)
			return k;
	}
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

/* The kernel's own MADV_DONTNEED changes nothing but the pages, where a remap
 * would lose flags the kernel keeps in the mapping (VM_DONTCOPY...). */
static bool dontneed_native(void)
{
	return state_ensure(MADV_DONTNEED) == ST_NATIVE;
}

/* mremap(MREMAP_DONTUNMAP) of a private file mapping: Linux 5.13. */
static int learn_dontunmap_file_scratch(void);
static int learn_dontunmap_file(void)
{
	struct outcome *o = shim_outcome;
	shim_outcome = NULL;
	int r = learn_dontunmap_file_scratch();
	shim_outcome = o;
	return r;
}

static int learn_dontunmap_file_scratch(void)
{
	size_t page = shim_page_size();
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE || errno == ENOMEM ?
			FACT_UNKNOWN : FACT_NO;
	void *p = real_mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return FACT_UNKNOWN;
	long r = dontunmap_range((uintptr_t)p, (uintptr_t)p + page);
	real_munmap(p, page);
	return probe_verdict(r);
}

static _Atomic int have_dontunmap_file;

static long discard_private_once(const struct vma *v, uintptr_t from, uintptr_t to,
				 int advice)
{
	/* FREE and DONTNEED_LOCKED where the kernel has MADV_DONTNEED: the
	 * same result on unlocked memory, with nothing else changed */
	if (advice != MADV_DONTNEED && !v->locked && dontneed_native())
		return kernel_dontneed(from, to);
	_Atomic int *fact = v->kind == VMA_ANON ? &have_dontunmap : &have_dontunmap_file;
	int f = cached_fact(fact, v->kind == VMA_ANON ? learn_dontunmap : learn_dontunmap_file);
	if (f != FACT_NO) {
		long r = dontunmap_chunked(from, to);
		if (r == 0 && f == FACT_UNKNOWN)
			atomic_store_explicit(fact, FACT_YES, memory_order_relaxed);
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
	return remap_keeping_advice(v, from, to);
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
	long r = remap_keeping_advice(v, from, to);
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

static int walk_needs(void)
{
	if (atomic_load_explicit(&maybe_locked, memory_order_relaxed))
		return VMA_NEED_FLAGS;
	return 0;
}

/* What a walk that may call discard_private needs: the smaps flags and paths
 * the fallback remaps read, unless the kernel or mremap does the work. */
int discard_walk_needs(void)
{
	int need = walk_needs();
	if (dontneed_native())
		return need;
	if (cached_fact(&have_dontunmap, learn_dontunmap) != FACT_YES ||
	    cached_fact(&have_dontunmap_file, learn_dontunmap_file) != FACT_YES)
		need |= VMA_NEED_FLAGS | VMA_NEED_PATH;
	return need;
}

static long emulate_discard(uintptr_t start, uintptr_t end, int advice)
{
	int need = walk_needs();
	bool dontunmap = cached_fact(&have_dontunmap, learn_dontunmap) == FACT_YES;
	if (advice != MADV_FREE && !need) {
		/* nothing is locked: DONTNEED_LOCKED is DONTNEED */
		if (dontneed_native())
			return kernel_dontneed(start, end);
		/* The common case needs no lookup: one mapping, and mremap
		 * gives exactly DONTNEED's result for every mapping kind. */
		if (dontunmap && dontunmap_range(start, end) == 0)
			return 0;
		/* else several mappings, holes, or a mapping mremap refuses:
		 * the walk decides mapping by mapping */
	}
	if (!dontunmap || (advice == MADV_DONTNEED_LOCKED && need))
		need |= VMA_NEED_FLAGS; /* the mmap fallback needs noreserve etc. */
	if (advice == MADV_DONTNEED_LOCKED && need)
		need |= VMA_NEED_PATH;  /* locked file pages are remapped from the file */
	if (cached_fact(&have_dontunmap_file, learn_dontunmap_file) != FACT_YES)
		/* private file pages come back from the file, and hugetlb
		 * files (smaps flags) never are */
		need |= VMA_NEED_PATH | VMA_NEED_FLAGS;
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
	struct outcome *o = shim_outcome;
	if (o) {
		o->action = "kernel error";
		o->how = NULL;
		o->emptied = 0;
	}
	if (st == ST_FORCED)
		return real_madvise(start, len, advice);
	/* a kernel that fakes success has no honest error of its own */
	return st == ST_MISSING_ENOSYS ? -ENOSYS : -EINVAL;
}

long emulate_madvise(uintptr_t start, size_t len, int advice, enum advice_state st)
{
	int emu = advice_emulation(advice);
	if (emu == EMU_NONE)
		return pass_error(start, len, advice, st);
	struct outcome *o = shim_outcome;
	if (o) {
		o->action = "emulated";
		o->how = advice_emulation_name(emu);
	}
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
	if (state_syscall_absent()) {
		if (shim_outcome)
			shim_outcome->action = "emulated:unknown-advice";
		return -EINVAL;
	}
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
