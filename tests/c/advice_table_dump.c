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
 * With --facts it prints instead the other kernel features of
 * advice_table.h, one "NAME<TAB>version" line each (the KV_ constants), for
 * tests/lib/host.bash to name the release a missing feature came in.
 *
 * Exit 0, 1 if stdout cannot be written, 2 on a usage error.
 */
#include <stdio.h>
#include <string.h>

#include "advice_table.h"

/* "major.minor", or "major.minor.patch" where there is a patch level. */
static const char *version(int kv, char buf[static 16])
{
	unsigned major = ((unsigned)kv >> 16) & 0xff;
	unsigned minor = ((unsigned)kv >> 8) & 0xff;
	unsigned patch = (unsigned)kv & 0xff;

	if (patch)
		snprintf(buf, 16, "%u.%u.%u", major, minor, patch);
	else
		snprintf(buf, 16, "%u.%u", major, minor);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int since; } facts[] = {
		{ "process_madvise", KV_PROCESS_MADVISE },
		{ "MREMAP_DONTUNMAP", KV_MREMAP_DONTUNMAP },
		{ "PROCMAP_QUERY", KV_PROCMAP_QUERY },
		{ "mseal", KV_MSEAL },
	};
	char buf[16];

	if (argc == 2 && strcmp(argv[1], "--facts") == 0) {
		for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
			printf("%s\t%s\n", facts[i].name, version(facts[i].since, buf));
	} else if (argc > 1) {
		fputs("usage: advice-table-dump [--facts]\n", stderr);
		return 2;
	} else {
		for (size_t i = 0; i < ADVICE_COUNT; i++) {
			const struct advice_info *a = &advice_table[i];

			printf("MADV_%s\t%d\t%s\t%s\t%s\n", a->name, a->value,
			       version(a->since, buf), advice_class_name(a->class),
			       advice_emulation_name(a->emulation));
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return 0;
}
