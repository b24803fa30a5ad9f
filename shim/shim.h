/* Internal interfaces of the shim.  Everything here is hidden: the library is
 * built with -fvisibility=hidden and only the names marked SHIM_EXPORT (and
 * listed in libmadvise-shim.map) leave it. */
#ifndef MADVISE_SHIM_H
#define MADVISE_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "advice_table.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* An emulation routine returns 0 or -errno, or SHIM_PASS when it cannot
 * emulate faithfully: the caller then gives the kernel's own answer.
 * vma_walk returns it too when the lookup itself fails (a /proc file that
 * cannot be opened or read).  Its value is one no result can take: below
 * -4095, the lowest -errno; negative, so neither a count nor the nonzero
 * value a visitor stops a walk with (1 for "found"); and within an int, so
 * that no conversion changes it. */
#define SHIM_PASS (-4096)

/* ---- configuration (config.c) ---- */
enum shim_mode { MODE_AUTO, MODE_EMULATE, MODE_OFF };
enum shim_lookup { LOOKUP_AUTO, LOOKUP_PROCMAP, LOOKUP_MAPS };
extern enum shim_mode shim_mode;
extern enum shim_lookup shim_lookup;

/* ---- support state per advice value (state.c) ---- */
enum advice_state {
	ST_UNKNOWN = 0,     /* not called yet: try the kernel */
	ST_NATIVE,          /* the kernel has it: pass through */
	ST_FORCED,          /* MODE_EMULATE: emulate, kernel where we cannot */
	ST_MISSING_EINVAL,  /* the kernel lacks this advice (older kernel) */
	ST_MISSING_ENOSYS,  /* the kernel lacks the madvise syscall */
	ST_MISSING_FAKE,    /* the kernel answers 0 and does nothing (qemu-user) */
};
extern _Atomic unsigned char shim_state[ADVICE_SLOTS];
/* 1 where madvise may go straight to the kernel: native, and no trace or
 * statistics to keep.  The hot path reads only this. */
extern _Atomic unsigned char shim_fast[ADVICE_SLOTS];
/* emulation kind + 1 per advice value, 0 for values not in the table */
extern const unsigned char shim_emulation[ADVICE_SLOTS];

static inline int advice_emulation(int advice)
{
	if ((unsigned)advice >= ADVICE_SLOTS || !shim_emulation[advice])
		return -1;
	return shim_emulation[advice] - 1;
}

/* Facts about the kernel learnt once: FACT_UNKNOWN until learn() can tell. */
enum { FACT_UNKNOWN, FACT_YES, FACT_NO };
/* learn answers FACT_YES, FACT_NO, or FACT_UNKNOWN when it could not tell
 * (a transient shortage): that is not remembered, the next call asks again. */
static inline int fact_cached(_Atomic int *fact, int (*learn)(void))
{
	int f = atomic_load_explicit(fact, memory_order_relaxed);
	if (f == FACT_UNKNOWN) {
		f = learn();
		if (f != FACT_UNKNOWN)
			atomic_store_explicit(fact, f, memory_order_relaxed);
	}
	return f;
}

void state_apply_mode(void);
enum advice_state state_learn(int advice, long kernel_result,
			      uintptr_t start, size_t len);
bool state_syscall_absent(void);
enum advice_state state_ensure(int advice);

/* ---- calls to the next definition or the kernel (real.c) ----
 * All return 0 (or a count) or -errno and never touch errno. */
long real_madvise(uintptr_t start, size_t len, int advice);
long real_process_madvise(int pidfd, const void *iov, size_t vlen, int advice,
			  unsigned int flags);
/* direct entry for the hot path: sets errno like libc's madvise */
extern int (*_Atomic real_madvise_fn)(void *, size_t, int);

/* ---- the madvise semantics (core/dispatch.c) ---- */
long shim_madvise(uintptr_t start, size_t len, int advice);
long emulate_madvise(uintptr_t start, size_t len, int advice,
		     enum advice_state st);

struct vma;
/* Per-class emulations (emulate/), each over a checked, page-aligned,
 * non-empty range; each returns 0, -errno or SHIM_PASS. */
long emulate_discard(uintptr_t start, uintptr_t end, int advice);     /* discard.c */
long emulate_hint(uintptr_t start, uintptr_t end, int advice);        /* hints.c */
long emulate_dontdump(uintptr_t start, uintptr_t end);                /* hints.c */
long emulate_fork_advice(uintptr_t start, uintptr_t end, int advice); /* fork.c */
long emulate_populate(uintptr_t start, uintptr_t end, int advice);    /* populate.c */
long emulate_remove(uintptr_t start, uintptr_t end);                  /* remove.c */
/* The mlock family was called: DONTNEED must look for locked mappings, and
 * discard_lock_needs says what a walk must read for that (discard.c). */
void emulate_note_locking(void);
int discard_lock_needs(void);
/* The file behind a mapping, checked to be the one mapped, and a private
 * file mapping's part mapped again from it (mem/filemap.c). */
int open_mapped_file(const struct vma *v, int flags);
long remap_private_file(const struct vma *v, uintptr_t from, uintptr_t to);
/* Emptying private pages as MADV_DONTNEED does (mem/empty.c).  empty_move moves
 * them away with mremap(MREMAP_DONTUNMAP), in pieces where needed; in_child:
 * in a fork child, where no fork needs keeping out.  empty_can_move says
 * (FACT_*) whether mremap can for private anonymous (or, with file, file)
 * memory, learning it on a scratch page; empty_known_move says what is known
 * without learning; empty_moved records a move that worked.  empty_remap
 * maps fresh pages with the mapping's flags and its kept advice. */
long empty_move(uintptr_t from, uintptr_t to, bool in_child);
int empty_can_move(bool file);
int empty_known_move(bool file);
void empty_moved(bool file);
long empty_remap(const struct vma *v, uintptr_t from, uintptr_t to);
/* MADV_DONTNEED's effect on one private mapping's part (emulate/discard.c) */
long discard_range(const struct vma *v, uintptr_t from, uintptr_t to);
/* what a walk must read to see locked mappings (emulate.c) */
int discard_walk_needs(void);
/* where the first emulated guard page in [from, to) is, or to; if there is
 * one, *prot gets the protection recorded for it */
uintptr_t guard_first_in(uintptr_t from, uintptr_t to, int *prot);
/* the program unmapped or replaced [start, end): forget its guards */
void guard_forget(uintptr_t start, uintptr_t end);
void guard_lift(uintptr_t from, uintptr_t to);
void guard_move(uintptr_t old, uintptr_t new, size_t len, bool keep_old);
void guard_atfork_prepare(void);
void guard_atfork_parent(void);
void guard_atfork_child(sigset_t *mask);
long emulate_guard(uintptr_t start, uintptr_t end, int advice);        /* guard.c */
void fork_advice_init(void);                                           /* fork.c */

/* fork.c keeps the ranges of emulated fork advice in step with the mappings:
 * the mmap, munmap and mremap wrappers (mapchange.c) hand it the real call
 * (map_op_fn: the result, or -1 with errno set) while the table is in use. */
extern _Atomic int fork_table_busy;
static inline bool fork_advice_busy(void)
{
	return atomic_load_explicit(&fork_table_busy, memory_order_relaxed);
}
typedef intptr_t (*map_op_fn)(void *arg);
intptr_t fork_track_map(uintptr_t addr, size_t len, bool fixed, map_op_fn op, void *arg);
intptr_t fork_track_unmap(uintptr_t addr, size_t len, map_op_fn op, void *arg);
intptr_t fork_track_remap(uintptr_t old, size_t old_len, size_t new_len, int flags,
			  uintptr_t new_addr, map_op_fn op, void *arg);
intptr_t fork_exclude(uintptr_t a, uintptr_t b, map_op_fn op, void *arg);
/* The next mmap, munmap and mremap, or the raw syscall: no bookkeeping, errno
 * as libc sets it (mapchange.c). */
void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off);
int real_munmap(void *addr, size_t len);
void *real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);

/* ---- finding mappings (mapinfo.c) ---- */
enum vma_kind { VMA_ANON, VMA_FILE, VMA_SPECIAL, VMA_PFNMAP };
struct vma {
	uintptr_t start, end;
	uint64_t offset, inode;
	unsigned dev_major, dev_minor;
	int prot;
	bool shared;
	enum vma_kind kind;
	bool flags_known;       /* the booleans below come from smaps VmFlags */
	bool locked, lockonfault, noreserve, growsdown, hugetlb;
	int mayprot;            /* PROT_* the mapping may take (mr, mw, me) */
	unsigned kept_advice;   /* VMA_KEPT_*: advice the kernel keeps as flags */
	const char *path;       /* with VMA_NEED_PATH: the mapped file's path as
				 * /proc shows it, or NULL; valid during visit */
};
/* visit gets each VMA overlapping [start, end) in address order and the part
 * of it inside the range; a nonzero return stops the walk and is returned. */
typedef long (*vma_visit_fn)(const struct vma *v, uintptr_t from, uintptr_t to,
			     void *arg);
/* smaps flags a new mapping would not have: dc, wf, dd, hg, nh, mg */
#define VMA_KEPT_DONTFORK 1
#define VMA_KEPT_WIPEONFORK 2
#define VMA_KEPT_DONTDUMP 4
#define VMA_KEPT_HUGEPAGE 8
#define VMA_KEPT_NOHUGEPAGE 16
#define VMA_KEPT_MERGEABLE 32
#define VMA_NEED_FLAGS 1
#define VMA_NEED_PATH 2
long vma_walk(uintptr_t start, uintptr_t end, int need, vma_visit_fn visit,
	      void *arg);
void mapinfo_after_fork_child(void);

/* ---- trace and statistics (observe.c) ---- */
enum shim_entry { ENTRY_MADVISE, ENTRY_POSIX_MADVISE, ENTRY_PROCESS_MADVISE,
		  ENTRY_POSIX_FADVISE, ENTRY_SYSCALL, ENTRY_COUNT };
#define KERNEL_NOT_ASKED 1
/* What one call asked, what the kernel said and what the shim did. */
struct outcome {
	enum shim_entry entry;
	int advice;
	uintptr_t addr;
	size_t len;
	long kernel;          /* the real call's result, or KERNEL_NOT_ASKED */
	const char *action;   /* "native", "emulated", "kernel error" */
	const char *how;      /* how it was emulated */
	size_t emptied;       /* bytes emptied by emulation */
	long result;          /* 0, a count, or -errno */
	void *caller;
};
extern bool shim_observing;   /* a trace or statistics are on */
/* the call being observed on this thread, or NULL */
extern __thread struct outcome *shim_outcome
	__attribute__((tls_model("initial-exec")));
static inline void outcome_how(const char *how, size_t emptied)
{
	struct outcome *o = shim_outcome;
	if (o) {
		o->how = how;
		o->emptied += emptied;
	}
}
long observe_madvise(enum shim_entry entry, uintptr_t start, size_t len, int advice,
		     void *caller);
void observe_done(struct outcome *o);
void observe_init(void);
void observe_after_fork_child(void);

/* ---- messages (msg.c) ---- */
struct msgbuf {
	char buf[512];
	size_t len;
};
void msg_str(struct msgbuf *m, const char *s);
void msg_num(struct msgbuf *m, long long v);
void msg_hex(struct msgbuf *m, unsigned long long v);
void msg_write(int fd, const struct msgbuf *m);

/* getauxval needs no syscall and works before any constructor has run. */
#include <sys/auxv.h>
static inline size_t shim_page_size(void)
{
	return (size_t)getauxval(AT_PAGESZ);
}

/* len rounded up to whole pages, as the kernel does; 0 where that wraps */
static inline size_t shim_page_round(size_t len)
{
	size_t page = shim_page_size();
	return (len + page - 1) & ~(page - 1);
}

#endif
