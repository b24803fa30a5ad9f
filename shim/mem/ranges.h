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
	_Atomic unsigned long owner; /* pthread_self() of the holder, 0 when free */
	unsigned depth;              /* the holder's nesting */
	_Atomic size_t count;    /* readable without the lock: 0 means empty */
	struct range r[RANGES_MAX];
};

/* A futex mutex on one word (the fork table's lock uses it too), described
 * to helgrind as a mutex when the build has valgrind/helgrind.h. */
void futex_mutex_lock(_Atomic int *word);
void futex_mutex_unlock(_Atomic int *word);

/* What taking the lock changed on this thread, for giving it back. */
struct ranges_held {
	sigset_t mask;  /* the signal mask before */
	int cancel;     /* the cancellation state before, or RANGES_CANCEL_KEPT */
};
#define RANGES_CANCEL_KEPT (-1)

/* The lock blocks every signal on this thread while held, so a signal
 * handler that advises cannot deadlock on its own thread, and disables the
 * thread's cancellation: its holders open and read /proc files, which are
 * cancellation points, and a thread cancelled there would be gone with the
 * lock still held, for every later caller to wait on forever.  Both states
 * are saved in *h and put back by ranges_unlock.  The holder may take it
 * again: fork handlers take it so a child never inherits it held, and the
 * handlers other code registered with pthread_atfork run while fork holds
 * it and may unmap or mprotect memory.  No allocation and no other lock:
 * callable from a signal handler. */
void ranges_lock(struct range_set *s, struct ranges_held *h);
/* The same, leaving the cancellation state alone (h->cancel is then
 * RANGES_CANCEL_KEPT), for a caller that keeps cancellation disabled by
 * other means for as long as it holds the lock. */
void ranges_lock_keep_cancel(struct range_set *s, struct ranges_held *h);
void ranges_unlock(struct range_set *s, const struct ranges_held *h);

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
