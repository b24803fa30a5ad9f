/* What the kernel supports, learnt per advice value and cached atomically.
 *
 * A value goes UNKNOWN -> NATIVE or MISSING once and never back, so a relaxed
 * load is enough on the hot path; racing threads that both learn reach the
 * same answer.  A call known to fail is never issued again. */
#include <errno.h>
#include <sys/mman.h>

#include "shim.h"

enum shim_mode shim_mode = MODE_AUTO;
/* set by core/observe.c: with a trace or statistics on, no call may take
 * the fast path, which records nothing */
bool shim_observing;

#define EMULATION_SLOT(n, v, a, b, c, cls, emu) [v] = EMU_##emu + 1,
const unsigned char shim_emulation[ADVICE_SLOTS] = {
	MADVISE_ADVICE_TABLE(EMULATION_SLOT)
};

#define CHECK_SLOT(n, v, a, b, c, cls, emu) \
	_Static_assert((v) >= 0 && (v) < ADVICE_SLOTS, "MADV_" #n " beyond ADVICE_SLOTS");
MADVISE_ADVICE_TABLE(CHECK_SLOT)

_Atomic unsigned char shim_state[ADVICE_SLOTS];
_Atomic unsigned char shim_fast[ADVICE_SLOTS];

static void set_fast(int advice, enum advice_state st)
{
	atomic_store_explicit(&shim_fast[advice], st == ST_NATIVE && !shim_observing,
			      memory_order_relaxed);
}
static _Atomic bool syscall_absent;

bool state_syscall_absent(void)
{
	return atomic_load_explicit(&syscall_absent, memory_order_relaxed);
}

static void set_state(int advice, enum advice_state st)
{
	atomic_store_explicit(&shim_state[advice], (unsigned char)st,
			      memory_order_relaxed);
	set_fast(advice, st);
}

/* Values in the table whose support is learnt and cached. */
static bool cacheable(int advice)
{
	int emu = advice_emulation(advice);
	return emu >= 0 && emu != EMU_NEVER;
}

/* NATIVE puts a value on the hot path.  Values never emulated always go to
 * the kernel; values outside the table stay on the slow path, which answers
 * EINVAL for them once the syscall is known to be absent. */
void state_apply_mode(void)
{
	for (int a = 0; a < ADVICE_SLOTS; a++) {
		int emu = advice_emulation(a);
		if (shim_mode == MODE_OFF || emu == EMU_NEVER)
			set_state(a, ST_NATIVE);
		else if (shim_mode == MODE_EMULATE && emu >= 0 && emu != EMU_NONE)
			set_state(a, ST_FORCED);
		else
			set_fast(a, atomic_load(&shim_state[a]));
	}
}

/* ENOSYS: the kernel was built without the madvise family.  Values already
 * seen to work keep working (a seccomp policy may deny only some). */
static void mark_syscall_absent(void)
{
	atomic_store_explicit(&syscall_absent, true, memory_order_relaxed);
	for (int a = 0; a < ADVICE_SLOTS; a++) {
		unsigned char expected = ST_UNKNOWN;
		if (cacheable(a))
			atomic_compare_exchange_strong(&shim_state[a], &expected,
						       ST_MISSING_ENOSYS);
	}
}

/* No scratch mapping could be made (address space or map count exhausted):
 * nothing is learnt, and the next call probes again. */
#define PROBE_UNDECIDED 1

/* The kernel's answer on a mapping where a kernel that has the advice accepts
 * it. */
static long probe_advice(int advice)
{
	size_t page = shim_page_size();
	size_t len = page;
	size_t map_len = page;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (advice == MADV_REMOVE)
		flags = MAP_SHARED | MAP_ANONYMOUS;
	if (advice == MADV_COLLAPSE) {
		/* collapse wants a whole PMD-aligned huge page range */
		len = 2u << 20;
		map_len = 2 * len;
	}
	char *p = real_mmap(NULL, map_len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return PROBE_UNDECIDED;
	uintptr_t start = ((uintptr_t)p + len - 1) & ~(uintptr_t)(len - 1);
	/* collapse refuses a range with nothing in it */
	for (size_t off = 0; advice == MADV_COLLAPSE && off < len; off += page)
		((volatile char *)start)[off] = 1;
	long r = real_madvise(start, len, advice);
	real_munmap(p, map_len);
	return r;
}

/* What a kernel answer tells about an advice value: NATIVE (pass the answer
 * on), MISSING_* (emulate) or UNKNOWN (nothing learnt: pass the answer on). */
/* Return codes can lie: qemu-user answered 0 to MADV_DONTNEED and left the
 * memory as it was.  Where an advice's effect is visible, a scratch page
 * shows whether it really happened. */
static bool effect_checkable(int advice)
{
	return advice == MADV_DONTNEED || advice == MADV_DONTNEED_LOCKED ||
	       advice == MADV_REMOVE;
}

/* Writes a scratch page (shared for REMOVE, which needs a file behind it),
 * advises it and reads it back. */
static bool zeroes_for_real(int advice)
{
	size_t page = shim_page_size();
	int flags = advice == MADV_REMOVE ? MAP_SHARED | MAP_ANONYMOUS :
		    MAP_PRIVATE | MAP_ANONYMOUS;
	volatile unsigned char *p = real_mmap(NULL, page, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return true; /* cannot tell: believe the kernel */
	p[0] = 0xa5;
	p[page - 1] = 0x5a;
	bool zeroed = real_madvise((uintptr_t)p, page, advice) != 0 ||
		      (p[0] == 0 && p[page - 1] == 0);
	real_munmap((void *)p, page);
	return zeroed;
}

/* The state of an advice value the shim itself wants to use (MADV_DONTNEED
 * to empty memory for FREE, GUARD_INSTALL...): learnt on a scratch mapping
 * when no call has taught it yet. */
enum advice_state state_ensure(int advice)
{
	enum advice_state st = atomic_load_explicit(&shim_state[advice],
						     memory_order_relaxed);
	if (st != ST_UNKNOWN || shim_mode == MODE_OFF)
		return st;
	long r = probe_advice(advice);
	if (r == PROBE_UNDECIDED)
		return ST_UNKNOWN;
	return state_learn(advice, r, 0, 0);
}

enum advice_state state_learn(int advice, long kernel_result, uintptr_t start,
			      size_t len)
{
	enum advice_state st = ST_NATIVE;
	if (kernel_result == 0 && effect_checkable(advice) && !zeroes_for_real(advice))
		st = ST_MISSING_FAKE;
	if (kernel_result == -ENOSYS) {
		mark_syscall_absent();
		return atomic_load(&shim_state[advice]);
	}
	if (kernel_result == -EINVAL) {
		/* Bad arguments make any kernel say EINVAL: only a well-formed
		 * call (an empty one included) can reveal a missing advice, and
		 * the probe confirms.  A malformed one leaves the state alone. */
		size_t page = shim_page_size();
		size_t rounded = shim_page_round(len);
		if (start & (page - 1) || (len && !rounded) || start + rounded < start)
			return ST_UNKNOWN;
		long p = probe_advice(advice);
		if (p == PROBE_UNDECIDED)
			return ST_UNKNOWN;
		if (p == -EINVAL)
			st = ST_MISSING_EINVAL;
		else if (p == -ENOSYS) {
			mark_syscall_absent();
			return atomic_load(&shim_state[advice]);
		}
	}
	unsigned char expected = ST_UNKNOWN;
	if (!atomic_compare_exchange_strong(&shim_state[advice], &expected,
					    (unsigned char)st))
		return (enum advice_state)expected;
	set_fast(advice, st);
	return st;
}

