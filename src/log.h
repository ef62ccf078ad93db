/*
 * log.h - one line per event, to syslog or (foreground) to stderr.
 *
 * Every line the daemon writes is "event=NAME key=value ...".  Values that
 * come from a client go through log_escape() first, so that no client can
 * forge a second line, a field, or a terminal escape.
 */
#ifndef XMPPSHIELD_LOG_H
#define XMPPSHIELD_LOG_H

#include <stddef.h>
#include <syslog.h>

/*
 * Start logging.  to_stderr: write "xmppshield[pid]: LEVEL line" lines to
 * stderr instead of syslog.  facility: LOG_DAEMON, LOG_LOCAL0, ...
 * level: the most verbose priority written (LOG_ERR .. LOG_DEBUG).
 * Also routes libevent's own log messages through log_msg().
 */
void log_init(int to_stderr, int facility, int level);

/* Change facility and level later (after the config is read). */
void log_set(int facility, int level);

struct event_base;

/*
 * Flood control: at most lines_per_second lines of warning priority or
 * below per second (0: no limit); the rest are counted and reported as
 * one "event=log-suppressed lines=N" line once the second is over (from
 * a timer on base).  Errors are always written.
 */
void log_set_rate(struct event_base *base, unsigned lines_per_second);

/* Report any count still held back; release the timer. */
void log_shutdown(void);

/* 1 if a line at prio would be written. */
int log_enabled(int prio);

/* Write one line at prio; fmt should start with "event=". */
void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copy s into buf (size len >= 4) as a log value: printable ASCII except
 * space, '"', '\\' and '=' passes; every other byte becomes \xHH; longer
 * values are cut and end in "...".  Returns buf.  NULL s gives "-".
 */
const char *log_escape(const char *s, char *buf, size_t len);

/*
 * Copy s into buf (size len >= 8) as a quoted log value for messages
 * meant for people (error details): "..." with '"' and '\\' escaped by a
 * backslash and every byte outside printable ASCII as \xHH; a value cut
 * to fit ends in "...".  Returns buf.  NULL s gives "-" quoted.
 */
const char *log_quote(const char *s, char *buf, size_t len);

/* Parse "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_from_name(const char *name);

/* Parse "daemon", "local0".."local7", "user", "auth"...; -1 if unknown. */
int log_facility_from_name(const char *name);

#endif
