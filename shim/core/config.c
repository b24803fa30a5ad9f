/* Configuration: read once, in a constructor, through secure_getenv (so a
 * setuid program ignores it), from a table of names and accepted values.
 * Until the constructor runs (madvise called from an earlier constructor) the
 * defaults in the variables below apply. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "next.h"
#include "shim.h"


struct option_def {
	const char *env;
	int *target;
	const char *const *values;   /* index = enum value, NULL-terminated */
	const char *accepted;        /* for the error message */
};

static const char *const mode_values[] = { "auto", "emulate", "off", NULL };
static const char *const lookup_values[] = { "auto", "procmap", "maps", NULL };

static const struct option_def options[] = {
	{ "MADVISE_SHIM_MODE", (int *)&shim_mode, mode_values, "auto, emulate, off" },
	{ "MADVISE_SHIM_LOOKUP", (int *)&shim_lookup, lookup_values, "auto, procmap, maps" },
};

static void complain(const struct option_def *o, const char *value)
{
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim: ignoring ");
	msg_str(&m, o->env);
	msg_str(&m, "='");
	msg_str(&m, value);
	msg_str(&m, "' (accepted: ");
	msg_str(&m, o->accepted);
	msg_str(&m, "); using ");
	msg_str(&m, o->values[*o->target]);
	msg_str(&m, "\n");
	msg_write(STDERR_FILENO, &m);
}

static void read_option(const struct option_def *o)
{
	const char *value = secure_getenv(o->env);
	if (!value)
		return;
	for (int i = 0; o->values[i]; i++) {
		if (strcmp(value, o->values[i]) == 0) {
			*o->target = i;
			return;
		}
	}
	complain(o, value);
}

__attribute__((constructor)) static void shim_init(void)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		read_option(&options[i]);
	observe_init();
	state_apply_mode();
	next_resolve();
	fork_advice_init();
}
