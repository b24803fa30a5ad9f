/* madvise-sim: run a command as if the kernel had less madvise(2) than it has.
 *
 * The simulator installs a seccomp filter that makes chosen calls fail the
 * way an older or smaller kernel would, then execs the command.  It is how
 * the shim is tested on a kernel that has every advice value: the filter
 * plays the kernel the shim was written for.
 *
 * Everything it knows about advice values (names, numbers, the kernel that
 * introduced them) comes from advice_table.h; there is no second list here.
 *
 * The filter's default action is ALLOW and libseccomp sets no_new_privs
 * before loading it, so no privilege is needed, and the restriction is
 * inherited by every child and survives exec, as a real kernel's would.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "advice_table.h"

#ifndef MADVISE_SIM_VERSION
#define MADVISE_SIM_VERSION "0.1.0" /* keep in step with meson.build */
#endif

#define PROG "madvise-sim"

/* Exit statuses of the simulator itself, chosen like env(1) and the shells:
 * anything else is the command's own status, since exec replaces us. */
enum {
	EXIT_USAGE = 2,     /* bad options or values */
	EXIT_SETUP = 125,   /* the seccomp filter could not be built or loaded */
	EXIT_NOEXEC = 126,  /* the command exists but could not be executed */
	EXIT_NOTFOUND = 127 /* the command was not found */
};

/* The state array below is indexed by advice value, so every value in the
 * table must fit; checked at compile time for this architecture's values. */
#define CHECK_SLOT(n, v, a, b, c, cls, emu) \
	_Static_assert((v) >= 0 && (v) < ADVICE_SLOTS, "MADV_" #n " outside ADVICE_SLOTS");
MADVISE_ADVICE_TABLE(CHECK_SLOT)

/* What the simulated kernel does with one advice value. */
enum outcome {
	OUT_PASS,   /* the real kernel handles it */
	OUT_ERRNO,  /* the call fails with `err` */
	OUT_IGNORE, /* madvise returns 0 and does nothing */
};

struct verdict {
	enum outcome outcome;
	int err;
};

struct sim {
	/* The option that asked for per-advice rules first, for the message
	 * when it is combined with --no-advise-syscalls. */
	const char *rules_option;
	bool no_advise;           /* --no-advise-syscalls given */
	const char *kernel_arg;   /* --kernel's value as given, or NULL */
	unsigned kernel;          /* KV() of --kernel */
	struct verdict advice[ADVICE_SLOTS];
};

/* ---- messages ---------------------------------------------------------- */

static void die(int status, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Every error is one line on stderr, so that callers and tests can rely on
 * the first line being the whole story. */
static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* "NORMAL, RANDOM, ..." from the table, for error messages and --help. */
static const char *advice_names(void)
{
	static char buf[ADVICE_COUNT * 24];
	size_t len = 0;

	if (buf[0])
		return buf;
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
					i ? ", " : "", advice_table[i].name);
	return buf;
}

/* The version as the kernel spells it: the patch level only where the
 * table has one (2.6.16), since most rows name a major release. */
static void format_version(char *buf, size_t n, unsigned kv)
{
	if (kv & 0xff)
		snprintf(buf, n, "%u.%u.%u", kv >> 16, (kv >> 8) & 0xff, kv & 0xff);
	else
		snprintf(buf, n, "%u.%u", kv >> 16, (kv >> 8) & 0xff);
}

/* The oldest kernel in the table: the first one with madvise at all. */
static unsigned oldest_kernel(void)
{
	unsigned oldest = UINT32_MAX;

	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if ((unsigned)advice_table[i].since < oldest)
			oldest = (unsigned)advice_table[i].since;
	return oldest;
}

static void print_help(void)
{
	char since[16], name[40];

	printf("Usage: " PROG " [OPTIONS] [--] COMMAND [ARGS...]\n"
	       "\n"
	       "Run COMMAND on a simulated kernel that lacks some of madvise(2), using a\n"
	       "seccomp filter.  No privilege is needed; the command runs with\n"
	       "no_new_privs set, so set-user-ID programs do not gain privileges.\n"
	       "\n"
	       "Options:\n"
	       "  (none)                 same as --no-advise-syscalls\n"
	       "  --no-advise-syscalls   madvise, process_madvise and fadvise fail with\n"
	       "                         ENOSYS, as with CONFIG_ADVISE_SYSCALLS=n\n"
	       "  --kernel X.Y[.Z]       behave like Linux X.Y: advice added later fails\n"
	       "                         with EINVAL; process_madvise (5.10) fails with\n"
	       "                         ENOSYS; mremap rejects MREMAP_DONTUNMAP (5.7)\n"
	       "                         with EINVAL; the PROCMAP_QUERY ioctl (6.11)\n"
	       "                         fails with ENOTTY; given at most once\n"
	       "  --deny ADVICE[,ADVICE...][:ERRNO]\n"
	       "                         madvise and process_madvise with these advice\n"
	       "                         values fail with ERRNO (a name such as EPERM, or\n"
	       "                         a number 1..4095; default EINVAL)\n"
	       "  --ignore ADVICE[,ADVICE...]\n"
	       "                         madvise with these values returns 0 and does\n"
	       "                         nothing (as qemu-user did for DONTNEED);\n"
	       "                         process_madvise is left to the kernel\n"
	       "  -h, --help             show this help\n"
	       "  --version              show the version\n"
	       "\n"
	       "--kernel, --deny and --ignore combine; for the same advice value the\n"
	       "later option wins.  ADVICE is a name from the table below, with or\n"
	       "without MADV_, in any case; numbers are not accepted.  Options may be\n"
	       "written --kernel=5.10.  The first argument that is not an option, or\n"
	       "the one after --, is COMMAND; it is searched for in PATH.\n"
	       "\n"
	       "Exit status: COMMAND's own; 2 for a usage error; 125 if the filter\n"
	       "could not be set up (e.g. no CONFIG_SECCOMP_FILTER); 126 if COMMAND\n"
	       "could not be executed; 127 if it was not found.\n"
	       "\n"
	       "Advice values (from advice_table.h, for this architecture):\n"
	       "  %-21s %5s  %-7s %s\n", "NAME", "VALUE", "SINCE", "CLASS");
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		const struct advice_info *a = &advice_table[i];

		snprintf(name, sizeof name, "MADV_%s", a->name);
		format_version(since, sizeof since, (unsigned)a->since);
		printf("  %-21s %5d  %-7s %s\n", name, a->value, since,
		       advice_class_name(a->class));
	}
}

/* ---- parsing values ---------------------------------------------------- */

/* A run of decimal digits into *out, at most `max`.  strtoul is not used
 * because it accepts signs, blanks and hex, which a version never has. */
static const char *parse_digits(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return NULL;
	}
	*out = v;
	return s;
}

/* "X.Y" or "X.Y.Z" into KV().  The patch level is clamped to KV()'s 8 bits:
 * stable kernels go past 255 (4.9.337), but no table row names a patch that
 * high, so the comparisons still come out right. */
static bool parse_version(const char *s, unsigned *kv)
{
	unsigned major, minor, patch = 0;

	s = parse_digits(s, 255, &major);
	if (!s || *s++ != '.')
		return false;
	s = parse_digits(s, 255, &minor);
	if (!s)
		return false;
	if (*s == '.') {
		s = parse_digits(s + 1, 65535, &patch);
		if (!s)
			return false;
	}
	if (*s)
		return false;
	*kv = KV(major, minor, patch > 255 ? 255 : patch);
	return true;
}

/* No advice name starts with a digit, so anything that does (8, -1, 0x8)
 * was meant as a number. */
static bool looks_numeric(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return *s >= '0' && *s <= '9';
}

/* A table row by name, with or without MADV_, in any case.  Numbers are
 * refused on purpose: advice values differ between architectures, so a
 * number in a test script would silently mean something else elsewhere. */
static const struct advice_info *parse_advice(const char *opt, const char *name)
{
	const char *bare = name;

	if (strncasecmp(bare, "MADV_", 5) == 0)
		bare += 5;
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (strcasecmp(bare, advice_table[i].name) == 0)
			return &advice_table[i];
	if (looks_numeric(name))
		die(EXIT_USAGE, "%s: advice '%s' is a number; give its name "
		    "(accepted: %s; with or without MADV_, any case)",
		    opt, name, advice_names());
	die(EXIT_USAGE, "%s: unknown advice '%s' (accepted: %s; with or "
	    "without MADV_, any case)", opt, name, advice_names());
}

#define ERRNO_ROW(e) { #e, e }
static const struct {
	const char *name;
	int value;
} errno_names[] = {
	ERRNO_ROW(EPERM),   ERRNO_ROW(ENOENT),  ERRNO_ROW(ESRCH),
	ERRNO_ROW(EINTR),   ERRNO_ROW(EIO),     ERRNO_ROW(ENXIO),
	ERRNO_ROW(E2BIG),   ERRNO_ROW(EBADF),   ERRNO_ROW(EAGAIN),
	ERRNO_ROW(ENOMEM),  ERRNO_ROW(EACCES),  ERRNO_ROW(EFAULT),
	ERRNO_ROW(EBUSY),   ERRNO_ROW(EEXIST),  ERRNO_ROW(ENODEV),
	ERRNO_ROW(EINVAL),  ERRNO_ROW(ENFILE),  ERRNO_ROW(EMFILE),
	ERRNO_ROW(ENOTTY),  ERRNO_ROW(EFBIG),   ERRNO_ROW(ENOSPC),
	ERRNO_ROW(ESPIPE),  ERRNO_ROW(EROFS),   ERRNO_ROW(ERANGE),
	ERRNO_ROW(ENOSYS),  ERRNO_ROW(EOVERFLOW), ERRNO_ROW(EOPNOTSUPP),
	ERRNO_ROW(ENOTSUP), ERRNO_ROW(ETIMEDOUT), ERRNO_ROW(EHWPOISON),
};
#define ERRNO_COUNT (sizeof errno_names / sizeof errno_names[0])

static const char *errno_list(void)
{
	static char buf[ERRNO_COUNT * 16];
	size_t len = 0;

	if (buf[0])
		return buf;
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
					i ? ", " : "", errno_names[i].name);
	return buf;
}

/* An errno by name or as a decimal number.  4095 is the kernel's MAX_ERRNO:
 * seccomp passes larger values through, but libc would not read them as an
 * error return. */
static int parse_errno(const char *opt, const char *s)
{
	unsigned v;
	const char *end = parse_digits(s, 4095, &v);

	if (end && !*end && v >= 1)
		return (int)v;
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		if (strcasecmp(s, errno_names[i].name) == 0)
			return errno_names[i].value;
	die(EXIT_USAGE, "%s: unknown errno '%s' (accepted: %s, or a number "
	    "1..4095)", opt, s, errno_list());
}

/* ---- options ------------------------------------------------------------ */

static void set_kernel(struct sim *sim, const char *arg)
{
	unsigned kv;
	char oldest[16];

	if (sim->kernel_arg)
		die(EXIT_USAGE, "--kernel given twice ('%s' and '%s'); give it once",
		    sim->kernel_arg, arg);
	format_version(oldest, sizeof oldest, oldest_kernel());
	if (!parse_version(arg, &kv))
		die(EXIT_USAGE, "--kernel: bad version '%s' (accepted: X.Y or "
		    "X.Y.Z, numbers only, X and Y up to 255, e.g. 5.4 or 4.19.12)",
		    arg);
	if (kv < oldest_kernel())
		die(EXIT_USAGE, "--kernel: version '%s' predates madvise (accepted: "
		    "%s or later; for no madvise at all use --no-advise-syscalls)",
		    arg, oldest);
	sim->kernel_arg = arg;
	sim->kernel = kv;
	/* Applied now rather than at the end so that a later --deny or
	 * --ignore for the same value overrides it, and an earlier one is
	 * overridden. */
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if ((unsigned)advice_table[i].since > kv)
			sim->advice[advice_table[i].value] =
				(struct verdict){ OUT_ERRNO, EINVAL };
}

/* "free,cold" into the table, each with `v`.  The list is copied because
 * it is cut up in place. */
static void set_advice_list(struct sim *sim, const char *opt, const char *list,
			    size_t len, struct verdict v)
{
	char *copy = strndup(list, len);
	char *rest = copy, *name;

	if (!copy)
		die(EXIT_SETUP, "out of memory");
	if (!*copy)
		die(EXIT_USAGE, "%s: no advice given (accepted: %s; comma-separated)",
		    opt, advice_names());
	while ((name = strsep(&rest, ",")) != NULL) {
		if (!*name)
			die(EXIT_USAGE, "%s: empty advice name in '%.*s' (accepted: "
			    "names separated by single commas)", opt, (int)len, list);
		sim->advice[parse_advice(opt, name)->value] = v;
	}
	free(copy);
}

static void set_deny(struct sim *sim, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct verdict v = { OUT_ERRNO, EINVAL };

	if (colon) {
		if (!colon[1])
			die(EXIT_USAGE, "--deny: empty errno after ':' in '%s' "
			    "(accepted: ADVICE[,ADVICE...][:ERRNO])", arg);
		v.err = parse_errno("--deny", colon + 1);
	}
	set_advice_list(sim, "--deny", arg, colon ? (size_t)(colon - arg) : strlen(arg), v);
}

static void set_ignore(struct sim *sim, const char *arg)
{
	set_advice_list(sim, "--ignore", arg, strlen(arg),
			(struct verdict){ OUT_IGNORE, 0 });
}

/* The value of an option that needs one: "--opt=value" or "--opt value". */
static const char *option_value(const char *opt, const char *inline_value,
				char **argv, int *i)
{
	if (inline_value)
		return inline_value;
	if (!argv[*i + 1])
		die(EXIT_USAGE, "option '%s' needs a value (see --help)", opt);
	return argv[++*i];
}

static void note_rules_option(struct sim *sim, const char *opt)
{
	if (!sim->rules_option)
		sim->rules_option = opt;
}

/* Options up to COMMAND; returns the index of COMMAND in argv.  Written by
 * hand rather than with getopt_long so that every message is ours, names
 * the option as typed, and abbreviations are not silently accepted. */
static int parse_options(struct sim *sim, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);
		const char *value = eq ? eq + 1 : NULL;
		char opt[40];

		if (strcmp(arg, "--") == 0)
			return i + 1;
		if (arg[0] != '-' || arg[1] == '\0')
			return i;  /* COMMAND; "-" alone is a name too */
		snprintf(opt, sizeof opt, "%.*s", (int)namelen, arg);
		if (!eq && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			print_help();
			exit(0);
		} else if (!eq && strcmp(arg, "--version") == 0) {
			printf(PROG " " MADVISE_SIM_VERSION "\n");
			exit(0);
		} else if (!eq && strcmp(arg, "--no-advise-syscalls") == 0) {
			sim->no_advise = true;
		} else if (strcmp(opt, "--kernel") == 0) {
			set_kernel(sim, option_value(opt, value, argv, &i));
			note_rules_option(sim, "--kernel");
		} else if (strcmp(opt, "--deny") == 0) {
			set_deny(sim, option_value(opt, value, argv, &i));
			note_rules_option(sim, "--deny");
		} else if (strcmp(opt, "--ignore") == 0) {
			set_ignore(sim, option_value(opt, value, argv, &i));
			note_rules_option(sim, "--ignore");
		} else if (eq && (strcmp(opt, "--help") == 0 ||
				  strcmp(opt, "--version") == 0 ||
				  strcmp(opt, "--no-advise-syscalls") == 0)) {
			die(EXIT_USAGE, "option '%s' takes no value (got '%s')", opt, arg);
		} else {
			die(EXIT_USAGE, "unknown option '%s' (accepted: --kernel, "
			    "--deny, --ignore, --no-advise-syscalls, --help, "
			    "--version; see --help)", arg);
		}
	}
	return i;
}

/* ---- the filter ---------------------------------------------------------- */

/* Architectures whose programs the native kernel also runs.  Their calls
 * carry other syscall numbers, and without a filter for them a 32-bit
 * program would escape the simulation (or, with the default bad-arch
 * action, be killed). */
static void add_compat_arches(scmp_filter_ctx ctx)
{
	static const struct {
		uint32_t native;
		uint32_t compat[2];
	} compat[] = {
		{ SCMP_ARCH_X86_64, { SCMP_ARCH_X86, SCMP_ARCH_X32 } },
		{ SCMP_ARCH_AARCH64, { SCMP_ARCH_ARM, 0 } },
	};
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < sizeof compat / sizeof compat[0]; i++) {
		if (compat[i].native != native)
			continue;
		for (size_t j = 0; j < 2 && compat[i].compat[j]; j++)
			(void)seccomp_arch_add(ctx, compat[i].compat[j]);
	}
}

/* One rule for the syscall `name` on every architecture in the filter.
 * The number is resolved by name: libseccomp maps it to each architecture's
 * own number and leaves out architectures that have no such call (a
 * "pseudo" number), which is how fadvise64_64 lands on x86 only. */
static int add_rule(scmp_filter_ctx ctx, const char *name, uint32_t action,
		    unsigned ncmp, const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	/* A libseccomp older than the call (old releases lack
	 * process_madvise).  Going on is more useful than refusing, but the
	 * hole in the simulation must not be silent. */
	if (nr == __NR_SCMP_ERROR) {
		fprintf(stderr, PROG ": warning: libseccomp does not know %s; "
			"it is not simulated\n", name);
		return 0;
	}
	rc = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp);
	if (rc < 0)
		fprintf(stderr, PROG ": cannot add a seccomp rule for %s: %s\n",
			name, strerror(-rc));
	return rc;
}

/* A rule that applies when the low 32 bits of argument `arg` equal `value`.
 * Advice and ioctl requests are ints to the kernel, so only the low half
 * decides; a caller's sign extension must not let a call slip past. */
static int add_arg_rule(scmp_filter_ctx ctx, const char *name, uint32_t action,
			unsigned arg, uint32_t value)
{
	struct scmp_arg_cmp cmp = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value);

	return add_rule(ctx, name, action, 1, &cmp);
}

static const char *const advise_syscalls[] = {
	"madvise", "process_madvise",
	/* fadvise has a different name (and argument order) per architecture */
	"fadvise64", "fadvise64_64", "arm_fadvise64_64",
};

static int add_no_advise_rules(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < sizeof advise_syscalls / sizeof advise_syscalls[0]; i++)
		if (add_rule(ctx, advise_syscalls[i], SCMP_ACT_ERRNO(ENOSYS), 0, NULL) < 0)
			return -1;
	return 0;
}

static bool kernel_before(const struct sim *sim, unsigned kv)
{
	return sim->kernel_arg && sim->kernel < kv;
}

/* One rule per advice value that is not passed through.  The verdicts were
 * settled while parsing, so there is never more than one rule per value:
 * libseccomp refuses two rules for the same arguments with different
 * actions. */
static int add_advice_rules(scmp_filter_ctx ctx, const struct sim *sim)
{
	bool has_process_madvise = !kernel_before(sim, KV_PROCESS_MADVISE);

	if (!has_process_madvise &&
	    add_rule(ctx, "process_madvise", SCMP_ACT_ERRNO(ENOSYS), 0, NULL) < 0)
		return -1;
	for (unsigned v = 0; v < ADVICE_SLOTS; v++) {
		const struct verdict *d = &sim->advice[v];

		if (d->outcome == OUT_PASS)
			continue;
		if (add_arg_rule(ctx, "madvise", SCMP_ACT_ERRNO((unsigned)d->err), 2, v) < 0)
			return -1;
		/* An ignored process_madvise would report 0 bytes advised, which
		 * callers take as a short count and retry; let the kernel do it. */
		if (d->outcome == OUT_ERRNO && has_process_madvise &&
		    add_arg_rule(ctx, "process_madvise", SCMP_ACT_ERRNO((unsigned)d->err), 3, v) < 0)
			return -1;
	}
	return 0;
}

/* Other things --kernel takes away. */
static int add_kernel_rules(scmp_filter_ctx ctx, const struct sim *sim)
{
	if (kernel_before(sim, KV_MREMAP_DONTUNMAP)) {
		/* Older kernels check mremap's flags against the ones they know. */
		struct scmp_arg_cmp cmp = SCMP_CMP(3, SCMP_CMP_MASKED_EQ,
						   MREMAP_DONTUNMAP, MREMAP_DONTUNMAP);

		if (add_rule(ctx, "mremap", SCMP_ACT_ERRNO(EINVAL), 1, &cmp) < 0)
			return -1;
	}
	/* An unknown ioctl on a /proc file is ENOTTY. */
	if (kernel_before(sim, KV_PROCMAP_QUERY) &&
	    add_arg_rule(ctx, "ioctl", SCMP_ACT_ERRNO(ENOTTY), 1,
			 (uint32_t)SHIM_PROCMAP_QUERY) < 0)
		return -1;
	return 0;
}

/* Builds and loads the filter; returns false (after saying why) if the
 * simulation cannot be set up. */
static bool install_filter(const struct sim *sim)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (!ctx) {
		fprintf(stderr, PROG ": cannot create a seccomp filter\n");
		return false;
	}
	/* Without this, a process of an architecture the filter does not list
	 * would be killed; better to run it unsimulated. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	if (rc < 0) {
		fprintf(stderr, PROG ": cannot set the seccomp bad-arch action: %s\n",
			strerror(-rc));
		goto fail;
	}
	add_compat_arches(ctx);
	if (sim->no_advise ? add_no_advise_rules(ctx) < 0
			   : (add_advice_rules(ctx, sim) < 0 ||
			      add_kernel_rules(ctx, sim) < 0))
		goto fail;
	rc = seccomp_load(ctx);
	if (rc < 0) {
		fprintf(stderr, PROG ": cannot load the seccomp filter: %s (the "
			"kernel needs CONFIG_SECCOMP_FILTER)\n", strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return true;
fail:
	seccomp_release(ctx);
	return false;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct sim sim = { 0 };
	int cmd = parse_options(&sim, argc, argv);

	if (cmd >= argc)
		die(EXIT_USAGE, "no command given (usage: " PROG
		    " [OPTIONS] [--] COMMAND [ARGS...]; see --help)");
	if (sim.no_advise && sim.rules_option)
		die(EXIT_USAGE, "--no-advise-syscalls cannot be combined with %s "
		    "(it already makes every advice call fail with ENOSYS)",
		    sim.rules_option);
	/* With nothing asked for, simulate the most common reason programs
	 * see no madvise at all. */
	if (!sim.rules_option)
		sim.no_advise = true;
	if (!install_filter(&sim))
		return EXIT_SETUP;
	execvp(argv[cmd], &argv[cmd]);
	/* Like a shell: 127 when there is no such command, 126 otherwise. */
	die(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
	    "cannot run '%s': %s", argv[cmd], strerror(errno));
}
