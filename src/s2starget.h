/*
 * s2starget.h - where to connect to reach a remote XMPP server: the order
 * of its SRV records (RFC 6120 3.2, RFC 2782) and of XEP-0368's direct
 * TLS ones, and the fallback.
 *
 * Input: the answers to _xmpps-server._tcp.DOMAIN (direct TLS, ALPN
 * xmpp-server) and _xmpp-server._tcp.DOMAIN (STARTTLS), as one list.  The
 * two services are ordered as one (XEP-0368 3): lower priority first;
 * within a priority, a weighted random order (RFC 2782: a record of
 * weight w is picked with probability w / sum, zero-weight records get a
 * small chance); on a tie of the draw, nothing else is preferred.
 * A service whose only record has the target "." is decidedly not
 * offered (RFC 2782): its records are dropped, and if neither service
 * is left and one said ".", the domain offers no server-to-server
 * service at all (S2STARGET_NO_SERVICE).  With no SRV record at all, the
 * domain itself on port 5269 with STARTTLS is the one target (RFC 6120
 * 3.2.2).
 *
 * Pure module: the random draws come from the caller.
 */
#ifndef XMPPSHIELD_S2STARGET_H
#define XMPPSHIELD_S2STARGET_H

#include <stddef.h>
#include <stdint.h>

#define S2STARGET_DEFAULT_PORT	5269
#define S2STARGET_MAX		16	/* targets kept, after ordering */

/* One SRV answer. */
struct s2starget_srv {
	const char *target;	/* host name, "." for "no service" */
	uint16_t port;
	uint16_t priority;
	uint16_t weight;
	int direct_tls;		/* 1: _xmpps-server, 0: _xmpp-server */
};

/* One place to try, in order. */
struct s2starget {
	char host[256];		/* no trailing dot */
	uint16_t port;
	int direct_tls;
};

/* A uniform random number in [0, bound] (bound included). */
typedef uint32_t s2starget_random_fn(void *ctx, uint32_t bound);

#define S2STARGET_NO_SERVICE	(-1)	/* "." and nothing else */
#define S2STARGET_BAD_INPUT	(-2)	/* a target that is no host name */

/*
 * Order the n records of srv (both services, any order) for domain into
 * out (room for max).  Returns the number of targets (>= 1: with n == 0,
 * the domain on 5269), or S2STARGET_NO_SERVICE, or S2STARGET_BAD_INPUT
 * when domain is no host name.  Records whose target is no host name are
 * skipped; more than max targets are cut after ordering.
 */
int s2starget_order(const char *domain, const struct s2starget_srv *srv,
    size_t n, s2starget_random_fn *rnd, void *rctx, struct s2starget *out,
    size_t max);

#endif
