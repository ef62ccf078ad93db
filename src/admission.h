/*
 * admission.h - who may open a connection: the connection caps.
 *
 * Three caps, checked at accept before anything is allocated for the
 * connection: connections in total, connections open per client address,
 * and new connections per client address per second (a token bucket that
 * holds one second's worth).  An IPv6 client is counted by its /64, the
 * smallest network an ISP hands out, so one customer cannot escape the
 * per-address caps by rotating addresses; an IPv4-mapped address counts
 * as the IPv4 address.
 *
 * Who is counted is the caller's decision, by the kind of peer:
 *  - a client: both per-address caps;
 *  - a load balancer (a trusted sender of PROXY headers): its own cap on
 *    open connections (max_per_balancer), no rate, because its
 *    connections are many clients'; each client it names is then held to
 *    the per-address caps with admission_claim(), once its header is read;
 *  - an exempt address (admission_exempt: monitoring, the operator's TLS
 *    scanner): no per-address cap.
 * The total cap holds for every connection whatever its kind.
 *
 * The table of addresses is bounded: entries live while a connection is
 * open or the bucket is refilling.  If it is full, new addresses are
 * admitted untracked (only the total cap applies to them) rather than
 * refused, so a flood of addresses cannot lock everyone out.
 *
 * Pure module: time is passed in.
 */
#ifndef XMPPSHIELD_ADMISSION_H
#define XMPPSHIELD_ADMISSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct admission;
struct admission_entry;

struct admission_limits {
	unsigned max_connections;	/* 0: no cap */
	unsigned max_per_ip;		/* 0: no cap */
	unsigned rate_per_ip;		/* new connections per second; 0: none */
	unsigned max_per_balancer;	/* open from one balancer; 0: no cap */
};

enum admission_peer {
	ADMISSION_CLIENT,	/* per-address caps */
	ADMISSION_BALANCER,	/* max_per_balancer only */
	ADMISSION_EXEMPT,	/* no per-address cap */
};

enum admission_result {
	ADMIT_OK,
	ADMIT_MAX_CONNECTIONS,	/* the total cap is reached */
	ADMIT_PER_IP,		/* this address has max_per_ip open */
	ADMIT_RATE,		/* this address connects too fast */
	ADMIT_PER_BALANCER,	/* this balancer has max_per_balancer open */
};

/* max_entries bounds the address table; seed keys its hash. */
struct admission *admission_new(size_t max_entries, uint64_t seed);
void admission_free(struct admission *a);

/* Limits may change at any time (reload); open connections stay. */
void admission_set_limits(struct admission *a,
    const struct admission_limits *lim);

/*
 * A connection accepted from peer, of the given kind, at time now
 * (seconds, monotonic).  On ADMIT_OK *entry is the handle to give back to
 * admission_leave() (NULL when the address is not counted on its own).
 * Any other result: nothing was counted.
 */
enum admission_result admission_enter(struct admission *a,
    const struct sockaddr *peer, enum admission_peer kind, double now,
    struct admission_entry **entry);

/* The connection admitted with entry has closed. */
void admission_leave(struct admission *a, struct admission_entry *entry);

/*
 * The client a trusted PROXY header named, on a connection already
 * admitted with admission_enter() (as a balancer's): the per-address caps
 * of kind (ADMISSION_CLIENT or ADMISSION_EXEMPT) for it, as if it had
 * connected itself; the total is not counted again.  On ADMIT_OK give
 * *entry back with admission_release() when the connection closes.
 */
enum admission_result admission_claim(struct admission *a,
    const struct sockaddr *client, enum admission_peer kind, double now,
    struct admission_entry **entry);

/* The client claimed with entry is gone (its connection closed). */
void admission_release(struct admission *a, struct admission_entry *entry);

/* Open connections, and addresses in the table. */
unsigned admission_connections(const struct admission *a);
size_t admission_entries(const struct admission *a);

/* "max-connections", "max-connections-per-ip", "connection-rate",
   "max-connections-per-balancer". */
const char *admission_reason(enum admission_result r);

#endif
