/*
 * monotime.h - the one monotonic clock every module reads.
 *
 * Deadlines, rates and idleness are measured with it, never with the
 * wall clock, which an administrator or NTP may step.
 */
#ifndef XMPPSHIELD_MONOTIME_H
#define XMPPSHIELD_MONOTIME_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC), with
   sub-second precision. */
double monotime_now(void);

#endif
