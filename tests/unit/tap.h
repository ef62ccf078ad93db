/*
 * tap.h - the smallest TAP producer the unit tests need.
 * ok(cond, fmt, ...) prints one "ok N - ..." / "not ok N - ..." line;
 * tap_done() prints the plan and returns the exit status.
 */
#ifndef XMPPSHIELD_TAP_H
#define XMPPSHIELD_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

static inline int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	return cond;
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
