/* The madvise semantics: the kernel's argument checks (mm/madvise.c
 * do_madvise), then the emulation of the advice's class (emulate/), or the
 * kernel's own error where none is faithful. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

/* ---- facts learnt once ---- */

static int learn_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0 ? FACT_YES : FACT_NO;
}

static int learn_ksm(void)
{
	return access("/sys/kernel/mm/ksm", F_OK) == 0 ? FACT_YES : FACT_NO;
}

static _Atomic int have_thp, have_ksm;

/* ---- the kernel's argument checks (mm/madvise.c do_madvise) ---- */

static bool behavior_valid(int emu)
{
	if (emu == EMU_THP)
		return fact_cached(&have_thp, learn_thp) == FACT_YES;
	if (emu == EMU_KSM)
		return fact_cached(&have_ksm, learn_ksm) == FACT_YES;
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
	size_t rounded = shim_page_round(len);
	if (len && !rounded)
		return -EINVAL;
	*end = start + rounded;
	if (*end < start)
		return -EINVAL;
	return *end == start;
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
		r = emulate_hint(start, end, advice);
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
