/* MADV_DONTFORK, DOFORK, WIPEONFORK, KEEPONFORK: not emulated yet. */
#include "shim.h"

long emulate_fork_advice(uintptr_t start, uintptr_t end, int advice)
{
	(void)start, (void)end, (void)advice;
	return SHIM_PASS;
}

void fork_advice_init(void)
{
}
