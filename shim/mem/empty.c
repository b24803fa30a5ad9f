/* The one way to empty pages of a private mapping as MADV_DONTNEED does,
 * for every caller: the emulated discards (emulate.c), guard installation
 * (guard.c) and the wipe of WIPEONFORK ranges in a fork child (fork.c).
 *
 * mremap(MREMAP_DONTUNMAP) moves a range's pages away and leaves the mapping
 * in place with every attribute (protection, noreserve, pkey, name, policy):
 * what DONTNEED leaves behind.  Linux 5.7 has it for private anonymous
 * memory, 5.13 for every kind; whether this kernel has it is learnt once per
 * kind, on a scratch page.  Where it does not, fresh pages are mapped over
 * the range with the mapping's flags (from smaps), and the advice the kernel
 * kept as flags of the old mapping is given again. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

/* What a scratch probe's error says about the kernel: a shortage of memory
 * or of mappings (near vm.max_map_count) says nothing. */
static int probe_verdict(long r)
{
	if (r == 0)
		return FACT_YES;
	return r == -ENOMEM || r == -EAGAIN ? FACT_UNKNOWN : FACT_NO;
}

/* The move and the unmap of the moved copy bypass the map wrappers: the copy
 * lives only between the two calls, so neither the fork table nor the guards
 * need to hear of it, and the wrappers' lock would cost two signal-mask
 * system calls each. */
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

/* One move.  In a parent, only where the range has fork advice recorded does
 * a fork have to wait until the copy is gone (fork_exclude); a fork child
 * has one thread and its fork table's lock held already. */
static long move_once(uintptr_t from, uintptr_t to, bool in_child)
{
	struct move m = { from, to - from, 0 };
	int saved = errno;
	intptr_t r = in_child ? move_away(&m) : fork_exclude(from, to, move_away, &m);
	errno = saved;
	if (r != 0)
		return -m.err;
	outcome_how("mremap", m.len);
	return 0;
}

long empty_move(uintptr_t from, uintptr_t to, bool in_child)
{
	long r = move_once(from, to, in_child);
	/* no room for the whole copy: in pieces */
	const size_t chunk = (size_t)64 << 20;
	if (r != -ENOMEM || to - from <= chunk)
		return r;
	for (uintptr_t a = from; a < to; a += chunk) {
		uintptr_t b = to - a > chunk ? a + chunk : to;
		r = move_once(a, b, in_child);
		if (r)
			return r;
	}
	return 0;
}

/* ---- whether mremap can do it, per kind of mapping ---- */

static int learn_on(void *p, size_t page)
{
	if (p == MAP_FAILED)
		return FACT_UNKNOWN;
	long r = move_once((uintptr_t)p, (uintptr_t)p + page, false);
	real_munmap(p, page);
	return probe_verdict(r);
}

static int learn_anon(void)
{
	size_t page = shim_page_size();
	return learn_on(real_mmap(NULL, page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), page);
}

static int learn_file(void)
{
	size_t page = shim_page_size();
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE || errno == ENOMEM ?
			FACT_UNKNOWN : FACT_NO;
	void *p = real_mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return learn_on(p, page);
}

static _Atomic int have_dontunmap, have_dontunmap_file;

/* The learning steps empty scratch pages, not the program's: they are kept
 * out of the trace's count. */
int empty_can_move(bool file)
{
	_Atomic int *fact = file ? &have_dontunmap_file : &have_dontunmap;
	int f = atomic_load_explicit(fact, memory_order_relaxed);
	if (f != FACT_UNKNOWN)
		return f;
	struct outcome *o = shim_outcome;
	shim_outcome = NULL;
	f = fact_cached(fact, file ? learn_file : learn_anon);
	shim_outcome = o;
	return f;
}

void empty_moved(bool file)
{
	_Atomic int *fact = file ? &have_dontunmap_file : &have_dontunmap;
	int unknown = FACT_UNKNOWN;
	atomic_compare_exchange_strong(fact, &unknown, FACT_YES);
}

int empty_known_move(bool file)
{
	return atomic_load_explicit(file ? &have_dontunmap_file : &have_dontunmap,
				    memory_order_relaxed);
}

/* ---- fresh pages over the range ---- */

/* Private anonymous pages replaced by fresh ones with the mapping's own
 * flags.  Needs smaps (noreserve, growsdown). */
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
long empty_remap(const struct vma *v, uintptr_t from, uintptr_t to)
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
