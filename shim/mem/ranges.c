#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>

#include "ranges.h"
#include "rawsys.h"

/* Helgrind cannot tell that these atomics make a lock, so it would call
 * every access the lock orders a race, and a missing lock would look the
 * same as a held one.  Its client requests tell it when the lock is taken
 * and given back, as for a pthread mutex.  Outside valgrind each request is
 * a few register instructions over a stack array, with no branch, call or
 * shared write: the lock stays async-signal-safe. */
#ifdef SHIM_HAVE_HELGRIND
#include <valgrind/helgrind.h>
#else
#define VALGRIND_HG_MUTEX_LOCK_PRE(mutex, trylock) ((void)(mutex))
#define VALGRIND_HG_MUTEX_LOCK_POST(mutex) ((void)(mutex))
#define VALGRIND_HG_MUTEX_UNLOCK_PRE(mutex) ((void)(mutex))
#define VALGRIND_HG_MUTEX_UNLOCK_POST(mutex) ((void)(mutex))
#define ANNOTATE_BENIGN_RACE_SIZED(address, size, why) ((void)(address))
#endif

static void futex(_Atomic int *word, int op, int val)
{
	raw_syscall(SYS_futex, (int *)word, op, val);
}

/* 0 free, 1 held, 2 held with waiters: a waiter sleeps, not spins against a
 * holder that the scheduler has put aside (holders make system calls). */
void futex_mutex_lock(_Atomic int *word)
{
	VALGRIND_HG_MUTEX_LOCK_PRE(word, 0);
	int c = 0;
	if (!atomic_compare_exchange_strong(word, &c, 1)) {
		if (c != 2)
			c = atomic_exchange(word, 2);
		while (c != 0) {
			futex(word, FUTEX_WAIT_PRIVATE, 2);
			c = atomic_exchange(word, 2);
		}
	}
	VALGRIND_HG_MUTEX_LOCK_POST(word);
}

void futex_mutex_unlock(_Atomic int *word)
{
	VALGRIND_HG_MUTEX_UNLOCK_PRE(word);
	if (atomic_exchange(word, 0) == 2)
		futex(word, FUTEX_WAKE_PRIVATE, 1);
	VALGRIND_HG_MUTEX_UNLOCK_POST(word);
}

static void block_signals(struct ranges_held *h)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &h->mask);
}

/* Takes the lock, or counts one more taking by its holder: only the thread
 * that stored its id can find it in owner (a relaxed read: any other thread
 * sees another id or 0, never its own). */
static void take(struct range_set *s)
{
	unsigned long self = (unsigned long)pthread_self();
	if (atomic_load_explicit(&s->owner, memory_order_relaxed) == self) {
		s->depth++;
		return;
	}
	futex_mutex_lock(&s->lock);
	/* count and owner are atomics read without the lock (count 0: nothing
	 * to look at; owner: is it mine), which helgrind, not knowing relaxed
	 * atomics, takes for races; told here, before any write to them, which
	 * only a holder of the lock makes.  The ranges themselves stay
	 * checked: a change to the set without the lock still shows as a race
	 * on r. */
	ANNOTATE_BENIGN_RACE_SIZED(&s->count, sizeof s->count,
				   "read without the lock to see that the set is empty");
	ANNOTATE_BENIGN_RACE_SIZED(&s->owner, sizeof s->owner,
				   "read without the lock to tell a nested taking");
	atomic_store_explicit(&s->owner, self, memory_order_relaxed);
	s->depth = 1;
}

/* Signals are blocked first and unblocked last, so that a handler that
 * advises never runs on this thread between the two changes and finds the
 * cancellation state half set.  Cancellation is disabled before the lock is
 * taken, as fork.c's hold() does, so that no moment has the lock held and
 * cancellation on: a thread of asynchronous cancellation type could be
 * cancelled in any such moment.  pthread_setcancelstate is not on POSIX's
 * list of async-signal-safe functions, but glibc's is a compare-and-swap on
 * the calling thread's own word, with no lock, which a handler interrupting
 * it cannot break (fork.c relies on it the same way). */
void ranges_lock(struct range_set *s, struct ranges_held *h)
{
	block_signals(h);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &h->cancel);
	take(s);
}

void ranges_lock_keep_cancel(struct range_set *s, struct ranges_held *h)
{
	block_signals(h);
	h->cancel = RANGES_CANCEL_KEPT;
	take(s);
}

void ranges_unlock(struct range_set *s, const struct ranges_held *h)
{
	if (--s->depth == 0) {
		atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
		futex_mutex_unlock(&s->lock);
	}
	/* Enabling it again does not act on a cancellation asked for
	 * meanwhile (for a thread of the default, deferred type): that waits
	 * for the thread's next cancellation point, outside the lock.  The
	 * state put back is the one found, so a nested taking leaves
	 * cancellation disabled for the outer one. */
	if (h->cancel != RANGES_CANCEL_KEPT)
		pthread_setcancelstate(h->cancel, NULL);
	pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
}

static size_t count(const struct range_set *s)
{
	return atomic_load_explicit(&s->count, memory_order_relaxed);
}

/* The index of the first range that ends after addr: the set is kept sorted
 * and disjoint, so both starts and ends ascend. */
static size_t first_after(const struct range_set *s, uintptr_t addr)
{
	size_t lo = 0, hi = count(s);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void insert_at(struct range_set *s, size_t i, struct range r)
{
	size_t n = count(s);
	memmove(&s->r[i + 1], &s->r[i], (n - i) * sizeof s->r[0]);
	s->r[i] = r;
	atomic_store_explicit(&s->count, n + 1, memory_order_relaxed);
}

static void delete_at(struct range_set *s, size_t i)
{
	size_t n = count(s);
	memmove(&s->r[i], &s->r[i + 1], (n - i - 1) * sizeof s->r[0]);
	atomic_store_explicit(&s->count, n - 1, memory_order_relaxed);
}

int ranges_remove(struct range_set *s, uintptr_t start, uintptr_t end)
{
	for (size_t i = first_after(s, start); i < count(s) && s->r[i].start < end;) {
		struct range *r = &s->r[i];
		if (r->start < start && r->end > end) {
			/* the hole is inside: split in two */
			if (count(s) == RANGES_MAX)
				return -ENOMEM;
			struct range tail = { end, r->end, r->value };
			r->end = start;
			insert_at(s, i + 1, tail);
			return 0;
		}
		if (r->start < start) {
			r->end = start;
			i++;
		} else if (r->end > end) {
			r->start = end;
			i++;
		} else {
			delete_at(s, i);
		}
	}
	return 0;
}

int ranges_assign(struct range_set *s, uintptr_t start, uintptr_t end, unsigned value)
{
	/* One slot for the new range, one more if it cuts a range in two, one
	 * fewer per range it covers whole: counted exactly, so that a full set
	 * can still change the value of what it holds. */
	size_t need = 1, freed = 0;
	for (size_t i = first_after(s, start); i < count(s) && s->r[i].start < end; i++) {
		if (s->r[i].start < start && s->r[i].end > end)
			need++;
		else if (s->r[i].start >= start && s->r[i].end <= end)
			freed++;
	}
	if (count(s) + need > RANGES_MAX + freed)
		return -ENOMEM;
	ranges_remove(s, start, end);
	size_t i = 0;
	while (i < count(s) && s->r[i].start < start)
		i++;
	insert_at(s, i, (struct range){ start, end, value });
	/* merge with equal neighbours so the set stays small */
	if (i + 1 < count(s) && s->r[i + 1].start == end && s->r[i + 1].value == value) {
		s->r[i].end = s->r[i + 1].end;
		delete_at(s, i + 1);
	}
	if (i > 0 && s->r[i - 1].end == start && s->r[i - 1].value == value) {
		s->r[i - 1].end = s->r[i].end;
		delete_at(s, i);
	}
	return 0;
}

size_t ranges_find(const struct range_set *s, uintptr_t start, uintptr_t end,
		   struct range *out, size_t max)
{
	size_t found = 0;
	for (size_t i = first_after(s, start); i < count(s) && found < max; i++) {
		const struct range *r = &s->r[i];
		if (r->start >= end)
			break;
		out[found].start = r->start > start ? r->start : start;
		out[found].end = r->end < end ? r->end : end;
		out[found].value = r->value;
		found++;
	}
	return found;
}
