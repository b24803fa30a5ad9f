/* What the C test programs share.  What they print: "ok ..." lines on stdout
 * for checks that held, "FAIL SUBCOMMAND: ..." on stderr for those that did
 * not, "note ..." for figures, and a set-up failure as one line on stderr with
 * exit status 2 (the bats suites tell a broken set-up from a failed check by
 * it).  And a pseudo-random sequence.
 *
 * A program sets report_prog to its name and report_subcmd to what it runs,
 * and reads report_passed and report_failed at the end. */
#ifndef MADVISE_SHIM_TESTS_REPORT_H
#define MADVISE_SHIM_TESTS_REPORT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *report_prog = "?";
static const char *report_subcmd = "?";
static int report_passed, report_failed;

static inline void __attribute__((format(printf, 2, 3)))
check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (ok) {
		fputs("ok ", stdout);
		vprintf(fmt, ap);
		putchar('\n');
		report_passed++;
	} else {
		fflush(stdout);
		fprintf(stderr, "FAIL %s: ", report_subcmd);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		report_failed++;
	}
	va_end(ap);
}

static inline void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("note ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
setup_failed(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	fprintf(stderr, "%s %s: setup: ", report_prog, report_subcmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (%s)\n", strerror(e));
	va_end(ap);
	exit(2);
}

/* xorshift64*: a private pseudo-random sequence per state word. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
