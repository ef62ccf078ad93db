/*
 * metrics.h - counters and gauges shared by the master and every worker,
 * and their Prometheus text exposition.
 *
 * The store is one anonymous MAP_SHARED mapping made before fork(), cut
 * into slots: slot 0 for the master (or the only process), one per worker,
 * and one "retired" slot.  Each process writes only its own slot, with
 * plain relaxed stores (no lock, no atomic read-modify-write); readers sum
 * the slots.  When the master replaces a dead worker it folds the worker's
 * counters into the retired slot before the new worker starts, so no total
 * ever goes backwards; the worker's gauges (connections open) are zeroed,
 * since its connections died with it.  A reload changes nothing in the
 * store: totals go on.
 *
 * Labels come from a fixed, bounded space: listener names (at most
 * METRICS_MAX_LISTENERS, first come first served, the rest count as
 * listener="other"), and per family a bounded table of label sets made
 * of the words the log already writes (event=, reason=, tls_version=,
 * cipher=): one vocabulary.  These words come from the code, never from
 * a peer.  A full table counts the rest under the family's "other" set.
 * Tables are shared and filled on first use by any process (a
 * compare-and-swap claims an entry).
 *
 * No I/O, no libevent, no mbedTLS.  Every counting function does nothing
 * until metrics_init() succeeded (metrics off).
 */
#ifndef XMPPSHIELD_METRICS_H
#define XMPPSHIELD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define METRICS_MAX_LISTENERS	16	/* label values, "other" included */
#define METRICS_MAX_DOMAINS	64	/* certificates reported */

/*
 * Make the store for nworkers workers (1: the started process serves
 * alone) and make this process the master (slot 0).  Call once, before
 * the first fork().  Returns 0, or -1 (errno set) with metrics off.
 */
int metrics_init(unsigned nworkers);

/* 1 once metrics_init() succeeded. */
int metrics_enabled(void);

/* In worker i (0-based) right after fork(): write to its own slot. */
void metrics_set_worker(unsigned i);

/*
 * In the master, after worker i was reaped and before its replacement
 * is forked: fold its counters into the retired slot, zero its gauges,
 * count one restart.
 */
void metrics_worker_replaced(unsigned i);

/*
 * Counting.  listener is the [listener NAME]; the other strings are the
 * words the log line carries.  Cheap enough for every connection; none
 * is called per read or write.
 */
void metrics_accepted(const char *listener);
void metrics_refused(const char *listener, const char *reason);
/* The session that metrics_accepted() counted ended (open - 1). */
void metrics_session_ended(const char *listener, const char *event,
    const char *reason, unsigned long long bytes_in,
    unsigned long long bytes_out);
/* group: "x25519", "secp256r1", ... or NULL if unknown. */
void metrics_handshake(const char *listener, const char *version,
    const char *cipher, const char *group, int resumed);
void metrics_handshake_failed(const char *listener, const char *reason);
void metrics_backend_failed(const char *listener, const char *reason);
/*
 * A server's certificate was checked for a domain: on an s2s listener
 * once per domain the peer claims (event=s2s-peer-verified or
 * s2s-peer-unverified), on an s2s-out listener once per handshake with a
 * remote (event=s2s-out-established, or s2s-out-failed
 * reason=peer-unverified).  unverified: NULL if verified, else the
 * reason (s2speer_reason_name()).
 */
void metrics_s2s_peer(const char *listener, const char *unverified);
/* SASL EXTERNAL on a server stream: an incoming peer authenticated and
   accepted by the backend, or our EXTERNAL accepted by a remote (1);
   refused either way (0). */
void metrics_sasl_external(const char *listener, int accepted);
void metrics_reload(int ok);

/*
 * Certificates, written by the process that serves the metrics (the
 * master): metrics_certificates_begin() forgets the previous set, then
 * one metrics_certificate() per domain.
 */
void metrics_certificates_begin(void);
void metrics_certificate(const char *domain, time_t not_before,
    time_t not_after);

/* Register a listener name now, so it is reported (at 0) before use. */
void metrics_listener(const char *listener);

/*
 * Write every metric in the Prometheus text exposition format (0.0.4),
 * with # HELP and # TYPE lines, through out(arg, text, len).  Sums every
 * slot.  Returns 0, or -1 if metrics are off.
 */
typedef void (*metrics_out)(void *arg, const char *text, size_t len);
int metrics_write(metrics_out out, void *arg);

/*
 * Copy value into buf (size len) escaped for a label value: '\\', '"'
 * and newline get a backslash; bytes outside printable ASCII become '?'.
 * Returns 0, or -1 if it did not fit (buf then holds "").
 */
int metrics_escape(const char *value, char *buf, size_t len);

#endif
