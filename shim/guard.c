/* MADV_GUARD_INSTALL and GUARD_REMOVE: not emulated yet. */
#include "shim.h"

long emulate_guard(uintptr_t start, uintptr_t end, int advice)
{
	(void)start, (void)end, (void)advice;
	return SHIM_PASS;
}
