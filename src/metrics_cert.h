/*
 * metrics_cert.h - certificate validity: the notAfter/notBefore gauges of
 * metrics.h and the log events that warn before a certificate expires.
 *
 * For each served domain's certificate:
 *   event=certificate-expired domain=D not_after=TIME days=-N    (error)
 *   event=certificate-not-yet-valid domain=D not_before=TIME     (error)
 *   event=certificate-expiring domain=D days=N not_after=TIME    (warning,
 *       when it expires within cert_warn_days days; N rounded up)
 * TIME is UTC, 2026-12-06T21:40:00Z.  Checked at start (and by -n), on
 * every reload, and once a day by a timer in the process that serves the
 * metrics (the master).
 */
#ifndef XMPPSHIELD_METRICS_CERT_H
#define XMPPSHIELD_METRICS_CERT_H

struct event_base;
struct tls_ctx;

/*
 * Check every certificate of tls now, log what is wrong or near, set the
 * gauges, and remember the set for the daily check.  warn_days 0: only
 * expired and not yet valid certificates are logged.
 */
void metrics_cert_check(const struct tls_ctx *tls, unsigned warn_days);

/* Repeat the check of the remembered set once a day on base.  0 or -1. */
int metrics_cert_daily(struct event_base *base);

/* In a worker after fork(): the daily check is the master's. */
void metrics_cert_drop(void);

#endif
