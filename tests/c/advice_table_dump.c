/* advice-table-dump: print the advice table the code is built with.
 *
 * One line per row of advice_table.h, in the table's order, five fields
 * separated by tabs:
 *
 *   MADV_NAME  value  version  class  emulation
 *
 * value is decimal, as this architecture's headers define it.  version is
 * "major.minor", or "major.minor.patch" where the table gives a patch level.
 * class and emulation are the names advice_class_name() and
 * advice_emulation_name() give.  tests/docs.bats compares this output with
 * the table in docs/semantics.md.
 *
 * No arguments; exit 0, or 1 if stdout cannot be written.
 */
#include <stdio.h>

#include "advice_table.h"

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs("usage: advice-table-dump\n", stderr);
		return 2;
	}
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		const struct advice_info *a = &advice_table[i];
		unsigned major = ((unsigned)a->since >> 16) & 0xff;
		unsigned minor = ((unsigned)a->since >> 8) & 0xff;
		unsigned patch = (unsigned)a->since & 0xff;
		char version[16];
		if (patch)
			snprintf(version, sizeof version, "%u.%u.%u", major, minor, patch);
		else
			snprintf(version, sizeof version, "%u.%u", major, minor);
		printf("MADV_%s\t%d\t%s\t%s\t%s\n", a->name, a->value, version,
		       advice_class_name(a->class),
		       advice_emulation_name(a->emulation));
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return 0;
}
