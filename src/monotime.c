/*
 * monotime.c - the one monotonic clock; see monotime.h.
 */
#include "autoconf.h"

#include <time.h>

#include "monotime.h"

double
monotime_now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
