/* Names in the records that the differential harness and the fuzzer print:
 * the same text for the same outcome, whichever program wrote it. */
#ifndef MADVISE_SHIM_TESTS_NAMES_H
#define MADVISE_SHIM_TESTS_NAMES_H

#include <stdio.h>
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

#endif
