/* The advice table: one row per advice value the project knows.
 *
 * It is the single source for the shim (what to emulate), the simulator
 * (which values a given kernel version lacks), the probe and docs/semantics.md
 * (a test compares them).  Values come from the system headers through
 * compat.h, never from this file.
 *
 * X(name, value, since_major, since_minor, since_patch, class, emulation)
 *
 * class:     HINT        changes no contents, only how the kernel manages pages
 *            DESTRUCTIVE may discard contents
 *            FORK        changes what a child inherits
 *            POPULATE    faults pages in
 *            GUARD       installs or removes guard regions
 *            FILE        acts on the backing file
 *            TEST        memory-failure injection for kernel testing
 *
 * emulation: NOOP        success without effect (after the kernel's checks)
 *            THP         like NOOP, but EINVAL where the kernel has no THP
 *            KSM         like NOOP, but EINVAL where the kernel has no KSM
 *            DISCARD     MADV_DONTNEED semantics
 *            FREE        MADV_FREE: DONTNEED on private anonymous memory only
 *            DONTDUMP    keeps the range out of core dumps, conservatively
 *            REMOVE      punches a hole in the shared mapping's backing file
 *            FORK        recorded, and applied to the child by a fork handler
 *            POPULATE    faults the pages in without changing a byte
 *            GUARD       guard regions from protections the shim records
 *            NONE        not emulated: the kernel's own error is returned
 *            NEVER       never emulated and never cached: always the kernel's
 */
#ifndef MADVISE_SHIM_ADVICE_TABLE_H
#define MADVISE_SHIM_ADVICE_TABLE_H

#include "compat.h"

#define MADVISE_ADVICE_TABLE(X)                                                  \
	X(NORMAL,          MADV_NORMAL,          2, 4, 0,  HINT,        NOOP)     \
	X(RANDOM,          MADV_RANDOM,          2, 4, 0,  HINT,        NOOP)     \
	X(SEQUENTIAL,      MADV_SEQUENTIAL,      2, 4, 0,  HINT,        NOOP)     \
	X(WILLNEED,        MADV_WILLNEED,        2, 4, 0,  HINT,        NOOP)     \
	X(DONTNEED,        MADV_DONTNEED,        2, 4, 0,  DESTRUCTIVE, DISCARD)  \
	X(FREE,            MADV_FREE,            4, 5, 0,  DESTRUCTIVE, FREE)     \
	X(REMOVE,          MADV_REMOVE,          2, 6, 16, FILE,        REMOVE)     \
	X(DONTFORK,        MADV_DONTFORK,        2, 6, 16, FORK,        FORK)     \
	X(DOFORK,          MADV_DOFORK,          2, 6, 16, FORK,        FORK)     \
	X(MERGEABLE,       MADV_MERGEABLE,       2, 6, 32, HINT,        KSM)      \
	X(UNMERGEABLE,     MADV_UNMERGEABLE,     2, 6, 32, HINT,        KSM)      \
	X(HUGEPAGE,        MADV_HUGEPAGE,        2, 6, 38, HINT,        THP)      \
	X(NOHUGEPAGE,      MADV_NOHUGEPAGE,      2, 6, 38, HINT,        THP)      \
	X(DONTDUMP,        MADV_DONTDUMP,        3, 4, 0,  HINT,        DONTDUMP) \
	X(DODUMP,          MADV_DODUMP,          3, 4, 0,  HINT,        NOOP)     \
	X(WIPEONFORK,      MADV_WIPEONFORK,      4, 14, 0, FORK,        FORK)     \
	X(KEEPONFORK,      MADV_KEEPONFORK,      4, 14, 0, FORK,        FORK)     \
	X(COLD,            MADV_COLD,            5, 4, 0,  HINT,        NOOP)     \
	X(PAGEOUT,         MADV_PAGEOUT,         5, 4, 0,  HINT,        NOOP)     \
	X(POPULATE_READ,   MADV_POPULATE_READ,   5, 14, 0, POPULATE,    POPULATE)     \
	X(POPULATE_WRITE,  MADV_POPULATE_WRITE,  5, 14, 0, POPULATE,    POPULATE)     \
	X(DONTNEED_LOCKED, MADV_DONTNEED_LOCKED, 5, 18, 0, DESTRUCTIVE, DISCARD)     \
	X(COLLAPSE,        MADV_COLLAPSE,        6, 1, 0,  HINT,        NONE)      \
	X(HWPOISON,        MADV_HWPOISON,        2, 6, 32, TEST,        NEVER)    \
	X(SOFT_OFFLINE,    MADV_SOFT_OFFLINE,    2, 6, 33, TEST,        NEVER)    \
	X(GUARD_INSTALL,   MADV_GUARD_INSTALL,   6, 13, 0, GUARD,       GUARD)     \
	X(GUARD_REMOVE,    MADV_GUARD_REMOVE,    6, 13, 0, GUARD,       GUARD)

/* Other kernel facts that decide behaviour, as KV() versions. */
#define KV(a, b, c) (((a) << 16) | ((b) << 8) | (c))
#define KV_PROCESS_MADVISE KV(5, 10, 0)
#define KV_MREMAP_DONTUNMAP KV(5, 7, 0)        /* private anonymous only */
#define KV_MREMAP_DONTUNMAP_ALL KV(5, 13, 0)   /* every mapping kind */
#define KV_PROCMAP_QUERY KV(6, 11, 0)
#define KV_MSEAL KV(6, 10, 0)

/* The state array is indexed by advice value; every value in the table and on
 * every architecture is below this bound (checked at build time in shim.c). */
#define ADVICE_SLOTS 128

enum advice_class {
	CLASS_HINT, CLASS_DESTRUCTIVE, CLASS_FORK, CLASS_POPULATE, CLASS_GUARD,
	CLASS_FILE, CLASS_TEST,
};

enum advice_emulation {
	EMU_NOOP, EMU_THP, EMU_KSM, EMU_DISCARD, EMU_FREE, EMU_DONTDUMP,
	EMU_REMOVE, EMU_FORK, EMU_POPULATE, EMU_GUARD, EMU_NONE, EMU_NEVER,
};

struct advice_info {
	const char *name;      /* without the MADV_ prefix */
	int value;
	int since;             /* KV() of the kernel that introduced it */
	enum advice_class class;
	enum advice_emulation emulation;
};

#define ADVICE_INFO_ROW(n, v, a, b, c, cls, emu) \
	{ #n, v, KV(a, b, c), CLASS_##cls, EMU_##emu },

/* A static table for programs (simulator, probe, tests); the shim indexes its
 * own copy by value. */
static const struct advice_info advice_table[] = {
	MADVISE_ADVICE_TABLE(ADVICE_INFO_ROW)
};
#define ADVICE_COUNT (sizeof advice_table / sizeof advice_table[0])

static inline const char *advice_class_name(enum advice_class c)
{
	static const char *const names[] = {
		"hint", "destructive", "fork", "populate", "guard", "file", "test",
	};
	return names[c];
}

static inline const char *advice_emulation_name(enum advice_emulation e)
{
	static const char *const names[] = {
		"noop", "noop-thp", "noop-ksm", "discard", "free", "dontdump",
		"remove", "fork", "populate", "guard", "none", "never",
	};
	return names[e];
}

#endif
