/* What the differential harness, the fuzzer and the errno table share: the
 * names in their records (the same text for the same outcome, whichever
 * program wrote it) and how they read numbers from their command lines. */
#ifndef MADVISE_SHIM_TESTS_NAMES_H
#define MADVISE_SHIM_TESTS_NAMES_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What errno is set to before a call, to tell "kept" from any real value. */
#define SENTINEL_ERRNO 4242

/* "0", "kept" (the sentinel survived), "EINVAL"..., or "E<number>". */
static inline const char *errno_name(int e)
{
	static char buf[16];
	if (e == 0)
		return "0";
	if (e == SENTINEL_ERRNO)
		return "kept";
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

/* "SIGSEGV" for a signal number, "signal-N" where libc has no name. */
static inline const char *signal_name(int sig)
{
	static char buf[24];
	const char *n = sigabbrev_np(sig);
	if (n)
		snprintf(buf, sizeof buf, "SIG%s", n);
	else
		snprintf(buf, sizeof buf, "signal-%d", sig);
	return buf;
}

/* A whole decimal, hex or octal number from 0 to max; no sign, no rest. */
static inline bool parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

#endif
