/* MADV_POPULATE_READ and POPULATE_WRITE: not emulated yet. */
#include "shim.h"

long emulate_populate(uintptr_t start, uintptr_t end, int advice)
{
	(void)start, (void)end, (void)advice;
	return SHIM_PASS;
}
