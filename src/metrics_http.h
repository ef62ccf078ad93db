/*
 * metrics_http.h - the Prometheus endpoint: GET /metrics over plain HTTP
 * ([global] metrics_listen), served by libevent's evhttp.
 *
 * The process that serves it is the master (with one worker: the only
 * process).  The master accepts no client and does no TLS, it outlives
 * every worker and it can read every worker's slot, so a scrape never
 * takes time from a client's event loop, and the endpoint stays up while
 * a worker is replaced.
 *
 * Bounded against a slow or hostile scraper: only addresses in
 * metrics_allow are answered (403 otherwise, and the connection is cut
 * at once), request headers at most 8 KiB, no body, 5 seconds of silence
 * or 10 seconds in all per connection, at most 16 connections at once
 * (then accepting pauses until one ends).  The answer is built from the
 * bounded label space of metrics.h.
 */
#ifndef XMPPSHIELD_METRICS_HTTP_H
#define XMPPSHIELD_METRICS_HTTP_H

#include <stddef.h>

struct config;
struct event_base;
struct metrics_http;

/*
 * Bind cfg->metrics_listen (call before dropping privileges).  Returns
 * NULL with nothing to do if metrics_listen is unset (*err = '\0'), or
 * NULL with a message in err if the address cannot be bound.
 */
struct metrics_http *metrics_http_open(const struct config *cfg, char *err,
    size_t errlen);

/*
 * Start answering on base (the serving process, after the workers were
 * forked) and log event=metrics-listening with the bound address.
 * The allow-list is copied from cfg; metrics_http_reload() renews it.
 * Returns 0 or -1.
 */
int metrics_http_start(struct metrics_http *mh, struct event_base *base,
    const struct config *cfg);

/* Take the allow-list of a reloaded configuration (metrics_listen
   itself is read at start only: a change is logged and ignored). */
void metrics_http_reload(struct metrics_http *mh, const struct config *cfg);

/*
 * In a worker right after fork(): close this process's copies of the
 * endpoint's sockets without touching the master's connections (no
 * shutdown), so only the master answers.  NULL is fine.
 */
void metrics_http_drop(struct metrics_http *mh);

/* Close the endpoint and every connection (at exit).  NULL is fine. */
void metrics_http_free(struct metrics_http *mh);

#endif
