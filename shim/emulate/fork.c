/* MADV_DONTFORK, DOFORK, WIPEONFORK and KEEPONFORK where the kernel lacks them.
 *
 * The kernel keeps this advice as flags of the mappings (VM_DONTCOPY and
 * VM_WIPEONFORK) and obeys them while it copies the address space in fork: a
 * DONTFORK range is left out of the child, a WIPEONFORK range reaches the
 * child empty, so that it reads zero there, and keeps its flag, so that the
 * child's own children are wiped too.
 *
 * Emulated, the advised ranges go into a fixed table of disjoint ranges,
 * sorted and merged, each with its flags.  A pthread_atfork child handler
 * then does in the child what the kernel would have done: it unmaps the
 * DONTFORK ranges (and forgets them) and empties the WIPEONFORK ones in place
 * with every attribute kept (mremap(MREMAP_DONTUNMAP) moves the pages away
 * and the moved copy is unmapped; where the kernel has no MREMAP_DONTUNMAP,
 * before Linux 5.7, fresh zero pages are mapped over the range with its
 * protection, MAP_NORESERVE and MAP_GROWSDOWN read from smaps).  If the child
 * cannot do that, it says so on stderr and exits with status 127: it never
 * runs on with what the advice was to keep from it.
 *
 * The table follows the mappings as the kernel's flags do: they vanish with
 * an unmapped or replaced mapping and travel with a moved one.  The mmap,
 * munmap and mremap wrappers (mapchange.c) therefore hand their real call to
 * fork_track_*() while the table is in use, which make it under the table's
 * lock and change the table only when it succeeded.
 *
 * Locking.  One lock guards the table.  Its holder blocks every signal first
 * (so a signal handler on the same thread cannot deadlock on it) and disables
 * cancellation (the lookups it makes are cancellation points).  The owning
 * thread may take it again: handlers that other code registered with
 * pthread_atfork run while fork holds it and may unmap memory.  fork takes it
 * in the prepare handler and releases it in the parent and child handlers, so
 * that no thread is half-way through a change when the address space is
 * copied, and the child applies a consistent table.
 *
 * The table holds FORK_SLOTS ranges.  madvise may fill all but FORK_RESERVE
 * of them; the rest is left for the splits that munmap, mmap(MAP_FIXED) and
 * mremap cause.  Whatever would need more fails with ENOMEM before anything
 * changes (the kernel's error where it cannot split a mapping), and the first
 * such failure is reported once on stderr.
 *
 * Limits (what the kernel does that this cannot):
 *   - Only fork() runs the child handler.  vfork(), posix_spawn(), _Fork(),
 *     clone() and syscall(SYS_fork) children get the parent's memory as it is
 *     (the first two share it until they exec, which discards it).
 *   - Handlers registered with pthread_atfork before the shim's own (by code
 *     initialised earlier) run first in the child and could still read a
 *     range before it is unmapped or wiped.
 *   - Mappings changed behind the wrappers' back leave the table stale:
 *     glibc's internal munmap and mmap (free() of a large chunk, thread
 *     stacks, dlclose), brk/sbrk, shmat/shmdt and raw syscalls.  A stale
 *     range would be unmapped or wiped in the child even though its new
 *     mapping was not advised.  Each successful interposed mmap forgets the
 *     ranges it lands on, and each fork forgets the WIPEONFORK parts that are
 *     no longer mapped private anonymous memory, which heals most of it.
 *   - A program that unmaps a range in one thread while it gives its first
 *     fork advice for the same range in another may keep a stale range.
 *   - DONTFORK memory is still shared copy-on-write between fork and the
 *     child handler: the parent's pages are write-protected in between, so a
 *     page under DMA (RDMA) can still be copied in the parent.
 *   - A value is emulated only where the kernel lacks the one that undoes it
 *     too (as every kernel does); otherwise the kernel's error is returned.
 *   - Errors the kernel gives that need information the shim does not read:
 *     KEEPONFORK on MAP_DROPPABLE memory (EINVAL) and DONTFORK or WIPEONFORK
 *     on sealed read-only anonymous memory (EPERM) succeed here.
 *   - Without MREMAP_DONTUNMAP the child's wiped range is a new mapping: its
 *     name, protection key, memory policy and madvise flags (DONTDUMP,
 *     HUGEPAGE, MERGEABLE) are not carried over.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ranges.h"
#include "shim.h"

#ifndef FORK_SLOTS
#define FORK_SLOTS 1024
#endif
#ifndef FORK_RESERVE
#define FORK_RESERVE 16
#endif
/* What a full table answers: the kernel's ENOMEM where it cannot split a
 * mapping (Linux 6.x turns that into EAGAIN for madvise). */
#define FORK_FULL_ERROR ENOMEM

enum { F_DONTFORK = 1, F_WIPE = 2 };

struct span {
	uintptr_t start, end;
	unsigned flags;
};

struct table {
	size_t n;
	struct span s[FORK_SLOTS];
};

/* The live table and two to build the next one in; a change is made in a
 * spare table and then published by switching the pointer. */
static struct table tables[3];
static struct table *live = &tables[0];

/* Nonzero while the table has ranges, or a madvise may be adding some: the
 * map wrappers then report their changes. */
_Atomic int fork_table_busy;

static struct table *spare(const struct table *besides)
{
	for (int i = 0;; i++)
		if (&tables[i] != live && &tables[i] != besides)
			return &tables[i];
}

/* ---------------- interval arithmetic ---------------- */

/* Appends a range, merged with the last one where they touch and agree. */
static bool emit(struct table *t, uintptr_t start, uintptr_t end, unsigned flags,
		 size_t limit)
{
	if (start >= end || !flags)
		return true;
	if (t->n) {
		struct span *last = &t->s[t->n - 1];
		if (last->end == start && last->flags == flags) {
			last->end = end;
			return true;
		}
	}
	if (t->n >= limit)
		return false;
	t->s[t->n++] = (struct span){ start, end, flags };
	return true;
}

/* Index of the first range that ends after addr. */
static size_t first_after(const struct table *t, uintptr_t addr)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->s[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t count_overlapping(const struct table *t, uintptr_t a, uintptr_t b)
{
	size_t n = 0;
	for (size_t i = first_after(t, a); i < t->n && t->s[i].start < b; i++)
		n++;
	return n;
}

static unsigned flags_at(const struct table *t, uintptr_t addr)
{
	size_t i = first_after(t, addr);
	return i < t->n && t->s[i].start <= addr ? t->s[i].flags : 0;
}

/* dst = src with the flags inside [a, b) changed to (flags & ~clear) | set. */
static bool table_modify(const struct table *src, struct table *dst, uintptr_t a,
			 uintptr_t b, unsigned set, unsigned clear, size_t limit)
{
	size_t i = 0;
	uintptr_t cur = a;
	dst->n = 0;
	for (; i < src->n && src->s[i].end <= a; i++)
		if (!emit(dst, src->s[i].start, src->s[i].end, src->s[i].flags, limit))
			return false;
	for (; i < src->n && src->s[i].start < b; i++) {
		const struct span *s = &src->s[i];
		uintptr_t from = s->start > a ? s->start : a;
		uintptr_t to = s->end < b ? s->end : b;
		if (!emit(dst, s->start, a, s->flags, limit) ||
		    !emit(dst, cur, from, set, limit) ||
		    !emit(dst, from, to, (s->flags & ~clear) | set, limit) ||
		    !emit(dst, b, s->end, s->flags, limit))
			return false;
		cur = to;
	}
	if (!emit(dst, cur, b, set, limit))
		return false;
	for (; i < src->n; i++)
		if (!emit(dst, src->s[i].start, src->s[i].end, src->s[i].flags, limit))
			return false;
	return true;
}

/* What a moved mapping brings along: the ranges of `from` inside [lo, hi),
 * shifted by delta, then [tail_start, tail_end) with tail_flags (a mapping
 * that grew). */
struct moved {
	const struct table *from;
	uintptr_t lo, hi, delta;
	uintptr_t tail_start, tail_end;
	unsigned tail_flags;
};

/* dst = src with [a, b) emptied, then filled from mv (inside [a, b)). */
static bool table_replace(const struct table *src, struct table *dst, uintptr_t a,
			  uintptr_t b, const struct moved *mv, size_t limit)
{
	size_t i = 0;
	dst->n = 0;
	for (; i < src->n && src->s[i].end <= a; i++)
		if (!emit(dst, src->s[i].start, src->s[i].end, src->s[i].flags, limit))
			return false;
	if (i < src->n && !emit(dst, src->s[i].start, a, src->s[i].flags, limit))
		return false;
	if (mv && mv->from) {
		const struct table *f = mv->from;
		for (size_t j = first_after(f, mv->lo); j < f->n && f->s[j].start < mv->hi; j++) {
			uintptr_t from = f->s[j].start > mv->lo ? f->s[j].start : mv->lo;
			uintptr_t to = f->s[j].end < mv->hi ? f->s[j].end : mv->hi;
			if (!emit(dst, from + mv->delta, to + mv->delta, f->s[j].flags, limit))
				return false;
		}
	}
	if (mv && !emit(dst, mv->tail_start, mv->tail_end, mv->tail_flags, limit))
		return false;
	for (; i < src->n && src->s[i].start < b; i++)
		if (!emit(dst, b, src->s[i].end, src->s[i].flags, limit))
			return false;
	for (; i < src->n; i++)
		if (!emit(dst, src->s[i].start, src->s[i].end, src->s[i].flags, limit))
			return false;
	return true;
}

/* dst = src without every range that overlaps [a, b): never needs a slot. */
static void table_drop_overlapping(const struct table *src, struct table *dst,
				   uintptr_t a, uintptr_t b)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		if (src->s[i].end <= a || src->s[i].start >= b)
			dst->s[dst->n++] = src->s[i];
}

/* ---------------- the lock ---------------- */

static _Atomic int lock_word;            /* 0 free, 1 held, 2 held and waited for */
/* Odd while the lock is held, bumped at each taking and giving up: a reader
 * that found it even and unchanged around a look at the table saw a table
 * that nobody was changing (tables are recycled, see overlaps_unlocked). */
static _Atomic unsigned table_seq;
static _Atomic unsigned long lock_owner; /* pthread_self() of the holder */
static unsigned lock_depth;              /* the holder's nesting */

struct held {
	sigset_t mask;
	int cancel;
};

static void hold(struct held *h)
{
	int saved = errno;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &h->mask);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &h->cancel);
	unsigned long self = (unsigned long)pthread_self();
	if (atomic_load_explicit(&lock_owner, memory_order_relaxed) == self) {
		lock_depth++;
	} else {
		futex_mutex_lock(&lock_word);
		atomic_store_explicit(&lock_owner, self, memory_order_relaxed);
		lock_depth = 1;
		atomic_fetch_add(&table_seq, 1);
	}
	errno = saved;
}

static void release(const struct held *h)
{
	int saved = errno;
	if (--lock_depth == 0) {
		atomic_store(&fork_table_busy, live->n != 0);
		atomic_fetch_add(&table_seq, 1);
		atomic_store_explicit(&lock_owner, 0, memory_order_relaxed);
		futex_mutex_unlock(&lock_word);
	}
	pthread_setcancelstate(h->cancel, NULL);
	pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
	errno = saved;
}

/* Whether [a, b) meets a recorded range, without taking the lock: 0 no,
 * 1 yes, -1 unknown (the table was being changed).  Most calls of the map
 * wrappers touch no recorded range; this spares them the lock and its two
 * signal-mask system calls.  The table read may be one being rebuilt (the
 * three are recycled), so every index is kept in bounds and the answer is
 * used only if the sequence shows nobody held the lock meanwhile. */
static int overlaps_unlocked(uintptr_t a, uintptr_t b)
{
	unsigned seq = atomic_load_explicit(&table_seq, memory_order_acquire);
	if (seq & 1)
		return -1;
	const struct table *t = __atomic_load_n(&live, __ATOMIC_RELAXED);
	size_t n = __atomic_load_n(&t->n, __ATOMIC_RELAXED);
	if (n > FORK_SLOTS)
		n = FORK_SLOTS;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (__atomic_load_n(&t->s[mid].end, __ATOMIC_RELAXED) <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	int hit = lo < n && __atomic_load_n(&t->s[lo].start, __ATOMIC_RELAXED) < b;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&table_seq, memory_order_relaxed) != seq)
		return -1;
	return hit;
}

/* op with no fork in between where [a, b) meets a recorded range: for the
 * emulation's own mremap(MREMAP_DONTUNMAP) and munmap of the moved copy,
 * whose pages a fork in between would leave in the child at an address no
 * table knows. */
intptr_t fork_exclude(uintptr_t a, uintptr_t b, map_op_fn op, void *arg)
{
	if (!fork_advice_busy() || overlaps_unlocked(a, b) == 0)
		return op(arg);
	struct held h;
	hold(&h);
	intptr_t r = op(arg);
	release(&h);
	return r;
}

/* ---------------- messages ---------------- */

static _Atomic bool full_reported;

static void report_full(const char *call)
{
	if (atomic_exchange(&full_reported, true))
		return;
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim: the table of emulated fork advice is full (");
	msg_num(&m, FORK_SLOTS - FORK_RESERVE);
	msg_str(&m, " ranges, and ");
	msg_num(&m, FORK_RESERVE);
	msg_str(&m, " for splits): ");
	msg_str(&m, call);
	msg_str(&m, " fails with ENOMEM\n");
	msg_write(STDERR_FILENO, &m);
}

static const char *advice_call(int advice)
{
	switch (advice) {
	case MADV_DONTFORK:
		return "madvise(MADV_DONTFORK)";
	case MADV_DOFORK:
		return "madvise(MADV_DOFORK)";
	case MADV_WIPEONFORK:
		return "madvise(MADV_WIPEONFORK)";
	default:
		return "madvise(MADV_KEEPONFORK)";
	}
}

/* ---------------- wiping a range in the child ---------------- */

/* Whether mremap can empty private anonymous memory is learnt in the parent,
 * when WIPEONFORK is first emulated, so that the child does not have to
 * find out (empty.c). */
static bool wipe_can_move(void)
{
	return empty_known_move(false) == FACT_YES;
}

static long visit_remap(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	return empty_remap(v, from, to);
}

/* As the kernel wipes: the pages go, the mapping and its flags stay. */
static long wipe_piece(const struct vma *v, uintptr_t from, uintptr_t to)
{
	if (wipe_can_move()) {
		long r = empty_move(from, to, true);
		if (r != -EINVAL)
			return r;
	}
	if (!v->flags_known) {
		long r = vma_walk(from, to, VMA_NEED_FLAGS, visit_remap, NULL);
		return r == -ENOMEM ? 0 : r;
	}
	return empty_remap(v, from, to);
}

/* Walks the mappings under the WIPEONFORK ranges of t (in address order),
 * wipes them and collects what was wiped into out. */
struct wipe_walk {
	const struct table *t;
	size_t i;
	struct table *out;
	bool overflow;
};

static long visit_wipe(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	struct wipe_walk *w = arg;
	const struct table *t = w->t;
	/* the kernel's flag can only be on private anonymous memory: anything
	 * else under a recorded range replaced it behind our back */
	if (v->shared || v->kind != VMA_ANON)
		return 0;
	while (w->i < t->n && t->s[w->i].end <= from)
		w->i++;
	for (size_t j = w->i; j < t->n && t->s[j].start < to; j++) {
		if (t->s[j].flags != F_WIPE)
			continue; /* DONTFORK ranges are gone already */
		uintptr_t a = t->s[j].start > from ? t->s[j].start : from;
		uintptr_t b = t->s[j].end < to ? t->s[j].end : to;
		long r = wipe_piece(v, a, b);
		if (r)
			return r;
		guard_lift(a, b);
		if (!emit(w->out, a, b, F_WIPE, FORK_SLOTS))
			w->overflow = true;
	}
	return 0;
}

static _Noreturn void child_fails(const char *what, long err)
{
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim: the child of fork cannot ");
	msg_str(&m, what);
	msg_str(&m, " (errno ");
	msg_num(&m, -err);
	msg_str(&m, "): it exits with status 127\n");
	msg_write(STDERR_FILENO, &m);
	_exit(127);
}

/* In the child, with the lock held since fork's prepare handler. */
static void child_apply(void)
{
	const struct table *t = live;
	if (!t->n)
		return;
	bool wipe = false;
	uintptr_t lo = 0, hi = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct span *s = &t->s[i];
		if (s->flags & F_DONTFORK) {
			if (real_munmap((void *)s->start, s->end - s->start) != 0)
				child_fails("unmap its MADV_DONTFORK range", -errno);
			continue;
		}
		if (!wipe)
			lo = s->start;
		hi = s->end;
		wipe = true;
	}
	struct table *out = spare(NULL);
	out->n = 0;
	struct wipe_walk w = { .t = t, .out = out };
	if (wipe) {
		long r;
		if (wipe_can_move()) {
			/* a lookup per range: the ioctl visits only its mappings */
			r = 0;
			for (size_t i = 0; i < t->n && (r == 0 || r == -ENOMEM); i++)
				if (t->s[i].flags == F_WIPE)
					r = vma_walk(t->s[i].start, t->s[i].end, 0, visit_wipe, &w);
		} else {
			/* smaps is read once, for all ranges */
			r = vma_walk(lo, hi, VMA_NEED_FLAGS, visit_wipe, &w);
		}
		if (r != 0 && r != -ENOMEM)
			child_fails("empty its MADV_WIPEONFORK range",
				    r == SHIM_PASS ? -ENOENT : r);
	}
	if (w.overflow) {
		/* the holes found split more ranges than fit: keep them all */
		out->n = 0;
		for (size_t i = 0; i < t->n; i++)
			if (t->s[i].flags == F_WIPE)
				out->s[out->n++] = t->s[i];
	}
	live = out;
}

/* ---------------- fork handlers ---------------- */

static struct held fork_held;

/* One set of handlers for the whole shim, so that the order of its locks is
 * fixed however early the first advice comes: the guard table's lock before
 * this table's (an emulated GUARD_INSTALL empties pages under its lock, which
 * may take this one), released in the reverse order.  The child first drops
 * what belonged to the parent (the maps descriptor, the trace's state) and
 * the guard lock, which applying the fork advice needs (guard_lift); the
 * signal mask the program had, which the guard lock saved, comes back last. */
static void fork_prepare(void)
{
	guard_atfork_prepare();
	struct held h;
	hold(&h);
	fork_held = h;
}

static void fork_parent(void)
{
	struct held h = fork_held;
	release(&h);
	guard_atfork_parent();
}

/* Runs only in children of fork(): see the limits above. */
static void fork_child(void)
{
	struct held h = fork_held;
	mapinfo_after_fork_child();
	observe_after_fork_child();
	guard_atfork_child(&h.mask);
	child_apply();
	release(&h);
}

static _Atomic bool handlers_registered;

static void register_handlers(void)
{
	if (!atomic_load_explicit(&handlers_registered, memory_order_acquire) &&
	    !atomic_exchange(&handlers_registered, true))
		pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void fork_advice_init(void)
{
	register_handlers();
}

/* ---------------- madvise ---------------- */

struct advise {
	int advice;
	unsigned set, clear;
	bool full;
};

/* The kernel's per-mapping rules, as Linux 6.18 answers them: DONTFORK and
 * WIPEONFORK are refused on the kernel's special mappings ([vdso], [vvar]),
 * DOFORK on VM_IO ones ([vvar]), WIPEONFORK on anything but private anonymous
 * memory. */
static long visit_advise(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	struct advise *a = arg;
	switch (a->advice) {
	case MADV_DONTFORK:
		if (v->kind == VMA_SPECIAL || v->kind == VMA_PFNMAP)
			return -EINVAL;
		break;
	case MADV_DOFORK:
		if (v->kind == VMA_PFNMAP)
			return -EINVAL;
		break;
	case MADV_WIPEONFORK:
		if (v->shared || v->kind != VMA_ANON)
			return -EINVAL;
		break;
	}
	if (!a->set && !count_overlapping(live, from, to))
		return 0;
	struct table *next = spare(NULL);
	if (!table_modify(live, next, from, to, a->set, a->clear,
			  a->set ? FORK_SLOTS - FORK_RESERVE : FORK_SLOTS)) {
		a->full = true;
		return -FORK_FULL_ERROR;
	}
	live = next;
	return 0;
}

/* Each value is emulated together with the one that undoes it: where the
 * kernel has one of a pair (a seccomp policy may deny just one), that one
 * could not see or undo the other's ranges, so neither is emulated.  A
 * zero-length call tells whether the kernel has the other one. */
static bool partner_native(uintptr_t start, int advice)
{
	int partner;
	switch (advice) {
	case MADV_DONTFORK:
		partner = MADV_DOFORK;
		break;
	case MADV_DOFORK:
		partner = MADV_DONTFORK;
		break;
	case MADV_WIPEONFORK:
		partner = MADV_KEEPONFORK;
		break;
	default:
		partner = MADV_WIPEONFORK;
		break;
	}
	enum advice_state st = atomic_load_explicit(&shim_state[partner], memory_order_relaxed);
	if (st == ST_UNKNOWN)
		st = state_learn(partner, real_madvise(start, 0, partner), start, 0);
	return st == ST_NATIVE;
}

long emulate_fork_advice(uintptr_t start, uintptr_t end, int advice)
{
	struct advise a = { .advice = advice };
	switch (advice) {
	case MADV_DONTFORK:
		a.set = F_DONTFORK;
		break;
	case MADV_DOFORK:
		a.clear = F_DONTFORK;
		break;
	case MADV_WIPEONFORK:
		a.set = F_WIPE;
		empty_can_move(false); /* learnt here, for the child */
		break;
	case MADV_KEEPONFORK:
		a.clear = F_WIPE;
		break;
	default:
		return SHIM_PASS;
	}
	if (partner_native(start, advice))
		return SHIM_PASS;
	register_handlers();
	struct held h;
	hold(&h);
	if (a.set)
		atomic_store(&fork_table_busy, 1); /* before the lookup: see fork_track_* */
	long r = vma_walk(start, end, 0, visit_advise, &a);
	release(&h);
	if (a.full)
		report_full(advice_call(advice));
	return r;
}

/* ---------------- following the mappings ---------------- */

static bool is_error(intptr_t r)
{
	return r == -1;
}

static intptr_t refuse(const struct held *h, const char *call)
{
	release(h);
	report_full(call);
	errno = FORK_FULL_ERROR;
	return -1;
}

/* munmap(addr, len): the ranges inside are forgotten. */
intptr_t fork_track_unmap(uintptr_t addr, size_t len, map_op_fn op, void *arg)
{
	size_t rounded = shim_page_round(len);
	uintptr_t end = addr + rounded;
	if (!rounded || end < addr)
		return op(arg); /* the kernel refuses it */
	if (overlaps_unlocked(addr, end) == 0)
		return op(arg);
	struct held h;
	hold(&h);
	struct table *next = NULL;
	if (count_overlapping(live, addr, end)) {
		next = spare(NULL);
		if (!table_replace(live, next, addr, end, NULL, FORK_SLOTS))
			return refuse(&h, "munmap");
	}
	intptr_t r = op(arg);
	if (!is_error(r) && next)
		live = next;
	release(&h);
	return r;
}

/* mmap: a new mapping carries no advice.  At a fixed address it replaces
 * what was there; anywhere else it lands on unmapped memory, where only a
 * stale range can be recorded. */
intptr_t fork_track_map(uintptr_t addr, size_t len, bool fixed, map_op_fn op, void *arg)
{
	size_t rounded = shim_page_round(len);
	if (!rounded || (fixed && addr + rounded < addr))
		return op(arg);
	if (fixed)
		return fork_track_unmap(addr, len, op, arg);
	/* Made under the lock although only a stale range can lie where the
	 * kernel finds room: a fork between the call and the check would give
	 * the child that stale range over a mapping that was never advised. */
	struct held h;
	hold(&h);
	intptr_t r = op(arg);
	if (!is_error(r) && count_overlapping(live, (uintptr_t)r, (uintptr_t)r + rounded)) {
		struct table *next = spare(NULL);
		if (!table_replace(live, next, (uintptr_t)r, (uintptr_t)r + rounded, NULL,
				   FORK_SLOTS)) {
			real_munmap((void *)r, len);
			return refuse(&h, "mmap");
		}
		live = next;
	}
	release(&h);
	return r;
}

/* mremap: what stays in place keeps its ranges and what is cut off loses
 * them; a moved mapping takes its ranges along (MREMAP_DONTUNMAP leaves the
 * old mapping with its own); a grown mapping extends the flags of the
 * mapping it grew from (mremap grows a single mapping only). */
intptr_t fork_track_remap(uintptr_t old, size_t old_len, size_t new_len, int flags,
			  uintptr_t new_addr, map_op_fn op, void *arg)
{
	size_t os = shim_page_round(old_len), ns = shim_page_round(new_len);
	if ((old_len && !os) || !ns || old + os < old)
		return op(arg);
	size_t page = shim_page_size();
	bool dontunmap = flags & MREMAP_DONTUNMAP;
	size_t keep = os < ns ? os : ns;
	/* Without the lock only where the result is known to meet no range:
	 * the old mapping (with the page a grown one extends) and a fixed
	 * destination are clear, and the mapping stays where it is or goes
	 * where the caller said (see fork_track_map for the room the kernel
	 * would choose). */
	if ((!(flags & MREMAP_MAYMOVE) || (flags & MREMAP_FIXED)) &&
	    overlaps_unlocked(old, old + (os ? os : page)) == 0 &&
	    (!(flags & MREMAP_FIXED) || new_addr + ns < new_addr ||
	     overlaps_unlocked(new_addr, new_addr + ns) == 0))
		return op(arg);
	struct held h;
	hold(&h);
	size_t k = count_overlapping(live, old, old + keep);
	unsigned grow = ns > os ? flags_at(live, os ? old + os - page : old) : 0;
	bool relevant = k || grow || count_overlapping(live, old, old + os) ||
		((flags & MREMAP_FIXED) && new_addr + ns > new_addr &&
		 count_overlapping(live, new_addr, new_addr + ns));
	/* at most: a split where the old range is cut out, one where the new
	 * one is cleared, the two partial ranges moved, the grown part, and with
	 * DONTUNMAP a copy of every range moved */
	size_t need = relevant ? 5 + (dontunmap ? k : 0) : 0;
	if (need && live->n + need > FORK_SLOTS)
		return refuse(&h, "mremap");
	intptr_t r = op(arg);
	if (is_error(r)) {
		release(&h);
		return r;
	}
	uintptr_t ret = (uintptr_t)r;
	struct table *t1 = spare(NULL), *t2 = spare(t1);
	const struct table *cur = live;
	struct moved mv = {
		.from = live, .lo = old, .hi = old + keep, .delta = ret - old,
		.tail_start = ret + keep, .tail_end = ret + ns, .tail_flags = grow,
	};
	bool ok = true;
	if (ret != old) {
		if (!dontunmap) {
			ok = table_replace(cur, t1, old, old + os, NULL, FORK_SLOTS);
			cur = t1;
		}
		ok = ok && table_replace(cur, t2, ret, ret + ns, &mv, FORK_SLOTS);
		cur = t2;
	} else if (ns < os) {
		ok = table_replace(cur, t1, old + ns, old + os, NULL, FORK_SLOTS);
		cur = t1;
	} else if (ns > os) {
		mv.from = NULL;
		ok = table_replace(cur, t1, old + os, old + ns, &mv, FORK_SLOTS);
		cur = t1;
	}
	if (ok) {
		live = (struct table *)cur;
	} else {
		/* Only stale ranges where the kernel found free room can get
		 * here (the check above bounds everything else): drop them. */
		table_drop_overlapping(live, t1, ret, ret + ns);
		live = t1;
	}
	release(&h);
	return r;
}
