/*
 * metrics_status.h - "xmppshield -s": the running daemon's figures for a
 * person at a terminal, one line per listener.
 *
 * It reads the daemon's own metrics endpoint (metrics_listen in the
 * configuration, through libevent's HTTP client), so a person sees what
 * Prometheus sees, through the same allow-list, and no second way into
 * the daemon is needed.
 */
#ifndef XMPPSHIELD_METRICS_STATUS_H
#define XMPPSHIELD_METRICS_STATUS_H

#include <stdio.h>
#include <time.h>

/*
 * Read the configuration at config_path, fetch GET /metrics from its
 * metrics_listen and print the table to out.  Errors go to stderr.
 * Returns the exit status: 0, or 1.
 */
int metrics_status_main(const char *config_path, FILE *out);

/*
 * Print the table for one exposition text (as metrics_write() makes it)
 * to out, with now for uptime and certificate days.  Pure.  0, or -1 if
 * the text holds no xmppshield metrics.
 */
int metrics_status_format(const char *text, time_t now, FILE *out);

#endif
