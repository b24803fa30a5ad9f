/* A fixed-size set of disjoint address ranges, each with a small value, for
 * state the kernel would keep in its VMAs (guard regions, fork advice).
 * No malloc; callers hold the set's lock around every use. */
#ifndef MADVISE_SHIM_RANGES_H
#define MADVISE_SHIM_RANGES_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RANGES_MAX 512

struct range {
	uintptr_t start, end;
	unsigned value;
};

struct range_set {
	_Atomic int lock;
	_Atomic size_t count;    /* readable without the lock: 0 means empty */
	struct range r[RANGES_MAX];
};

/* A futex mutex on one word (the fork table's lock uses it too), described
 * to helgrind as a mutex when the build has valgrind/helgrind.h. */
void futex_mutex_lock(_Atomic int *word);
void futex_mutex_unlock(_Atomic int *word);

/* The lock blocks every signal on this thread while held, so a signal
 * handler that advises cannot deadlock on its own thread; fork handlers take
 * it so a child never inherits it held. */
void ranges_lock(struct range_set *s, sigset_t *saved);
void ranges_unlock(struct range_set *s, const sigset_t *saved);

/* Gives [start, end) the value; 0 or -ENOMEM when the set has no room for
 * the result (nothing changed then). */
int ranges_assign(struct range_set *s, uintptr_t start, uintptr_t end, unsigned value);
/* Forgets [start, end); 0 or -ENOMEM (splitting a range needs a slot). */
int ranges_remove(struct range_set *s, uintptr_t start, uintptr_t end);
/* The pieces of the set inside [start, end), clipped, at most max.  With
 * max 1 and start moved to each piece's end it walks any number of pieces,
 * and stays right while the walker changes the set, as an index would not. */
size_t ranges_find(const struct range_set *s, uintptr_t start, uintptr_t end,
		   struct range *out, size_t max);

#endif
