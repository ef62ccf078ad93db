/*
 * resolver.h - asynchronous DNS inside the event loop, for outgoing s2s.
 *
 * c-ares does the DNS (Debian's libc-ares: small, no threads, a socket
 * interface a libevent loop can drive; libunbound would be the choice
 * for DNSSEC validation and DANE, not done here).  Each query has its own
 * c-ares channel, so that it can be cancelled alone and is bounded by its
 * own deadline: whatever the servers do (no answer, slow answers, SERVFAIL
 * retries), the callback comes within the timeout given to
 * resolver_new(), exactly once, unless the query is cancelled first.
 *
 * Knows libevent and c-ares; never logs.
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
};

/*
 * A resolver on base.  servers: NULL for the system's (/etc/resolv.conf),
 * or "host:port,..." (tests).  timeout_ms bounds every query.  NULL with
 * a message in err on failure.
 */
struct resolver *resolver_new(struct event_base *base, const char *servers,
    unsigned timeout_ms, char *err, size_t errlen);
/* Every query must have completed or been cancelled. */
void resolver_free(struct resolver *r);

/*
 * The SRV records of _xmpps-server._tcp.domain and
 * _xmpp-server._tcp.domain, together (direct_tls says which), for
 * s2starget_order().  st is RESOLVER_OK when either name answered with
 * records, RESOLVER_NOT_FOUND when both have none (use the fallback),
 * else the worse failure.  The records are valid during the call.
 */
typedef void resolver_srv_fn(void *arg, enum resolver_status st,
    const struct s2starget_srv *srv, size_t n);
struct resolver_query *resolver_srv(struct resolver *r, const char *domain,
    resolver_srv_fn *cb, void *arg);

/*
 * The IPv6 and IPv4 addresses of host, with port set, in the order
 * the resolver gave them (at most 16).  Valid during the call.
 */
typedef void resolver_addr_fn(void *arg, enum resolver_status st,
    const struct sockaddr_storage *addrs, size_t n);
struct resolver_query *resolver_addr(struct resolver *r, const char *host,
    uint16_t port, resolver_addr_fn *cb, void *arg);

/* Stop q; its callback is never called.  Not from inside it. */
void resolver_cancel(struct resolver_query *q);

/* "ok", "not-found", "timeout", "failed": for logs. */
const char *resolver_strstatus(enum resolver_status st);

#endif
