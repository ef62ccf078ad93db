/*
 * resolver.h - asynchronous DNS inside the event loop, for outgoing s2s.
 *
 * c-ares does the DNS (Debian's libc-ares: small, no threads, a socket
 * interface a libevent loop can drive).  A resolver made with
 * resolver_new_dnssec() uses libunbound instead (when built with it):
 * every answer is DNSSEC-validated from a trust anchor and says whether
 * it was secure, which DANE needs (dane.h); there libunbound also sends
 * the queries (through the forwarders given), c-ares parses the answers.
 * Each c-ares query has its own
 * c-ares channel, so that it can be cancelled alone and is bounded by its
 * own deadline: whatever the servers do (no answer, slow answers, SERVFAIL
 * retries), the callback comes within the timeout given to
 * resolver_new(), exactly once, unless the query is cancelled first.
 *
 * Knows libevent, c-ares and libunbound; never logs.
 */
#ifndef XMPPSHIELD_RESOLVER_H
#define XMPPSHIELD_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s2starget.h"

struct event_base;
struct resolver;
struct resolver_query;

enum resolver_status {
	RESOLVER_OK,		/* answered (possibly with no records) */
	RESOLVER_NOT_FOUND,	/* NXDOMAIN, or no record of the type */
	RESOLVER_TIMEOUT,	/* no answer within the deadline */
	RESOLVER_FAILED,	/* SERVFAIL, REFUSED, bad answer, no memory */
	RESOLVER_BOGUS,		/* DNSSEC validation failed (dnssec only) */
};

/*
 * A resolver on base.  servers: NULL for the system's (/etc/resolv.conf),
 * or "host:port,..." (tests).  timeout_ms bounds every query.  NULL with
 * a message in err on failure.
 */
struct resolver *resolver_new(struct event_base *base, const char *servers,
    unsigned timeout_ms, char *err, size_t errlen);
/*
 * A validating resolver (libunbound): anchor is a file of DS or DNSKEY
 * records in zone format (Debian: /usr/share/dns/root.key); servers as
 * above, NULL for /etc/resolv.conf's; they must pass DNSSEC records
 * through (a validating or at least DNSSEC-aware recursive resolver).
 * The libunbound context (its cache and the anchor) is shared by every
 * resolver of the same event base, servers and anchor in this process.
 * NULL with a message in err, also when built without libunbound.
 */
struct resolver *resolver_new_dnssec(struct event_base *base,
    const char *servers, const char *anchor, unsigned timeout_ms, char *err,
    size_t errlen);
/*
 * At start and reload: can anchor be read, and does it hold a DS or
 * DNSKEY record?  0, or -1 with "anchor: problem; remedy" in err.
 */
int resolver_check_anchor(const char *anchor, char *err, size_t errlen);

/* 1 when built with libunbound (resolver_new_dnssec() can work). */
int resolver_have_dnssec(void);

/* Every query must have completed or been cancelled. */
void resolver_free(struct resolver *r);

/*
 * The SRV records of _xmpps-server._tcp.domain and
 * _xmpp-server._tcp.domain, together (direct_tls says which), for
 * s2starget_order().  st is RESOLVER_OK when either name answered with
 * records, RESOLVER_NOT_FOUND when both have none (use the fallback),
 * RESOLVER_BOGUS when either failed validation, else the worse failure.
 * secure: 1 when both answers (records or their denial) were
 * DNSSEC-secure, always 0 without dnssec.  The records are valid during
 * the call.
 */
typedef void resolver_srv_fn(void *arg, enum resolver_status st, int secure,
    const struct s2starget_srv *srv, size_t n);
struct resolver_query *resolver_srv(struct resolver *r, const char *domain,
    resolver_srv_fn *cb, void *arg);

/*
 * The IPv6 and IPv4 addresses of host, with port set, in the order
 * the resolver gave them (at most 16).  Valid during the call.  secure as
 * above (both the A and the AAAA answer).
 */
typedef void resolver_addr_fn(void *arg, enum resolver_status st, int secure,
    const struct sockaddr_storage *addrs, size_t n);
struct resolver_query *resolver_addr(struct resolver *r, const char *host,
    uint16_t port, resolver_addr_fn *cb, void *arg);

/*
 * The TLSA records of _port._tcp.host (RFC 6698), their RDATA; only on a
 * resolver_new_dnssec() resolver (NULL otherwise).  Valid during the call.
 */
struct resolver_rdata {
	const unsigned char *data;
	size_t len;
};
typedef void resolver_tlsa_fn(void *arg, enum resolver_status st, int secure,
    const struct resolver_rdata *rr, size_t n);
struct resolver_query *resolver_tlsa(struct resolver *r, const char *host,
    uint16_t port, resolver_tlsa_fn *cb, void *arg);

/* Stop q; its callback is never called.  Not from inside it. */
void resolver_cancel(struct resolver_query *q);

/* "ok", "not-found", "timeout", "failed", "bogus": for logs. */
const char *resolver_strstatus(enum resolver_status st);

#endif
