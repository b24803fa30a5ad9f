/* File-backed mappings: not emulated yet. */
#include "shim.h"

long emulate_remove(uintptr_t start, uintptr_t end)
{
	(void)start, (void)end;
	return SHIM_PASS;
}
