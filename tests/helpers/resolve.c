/*
 * resolve.c - drive resolver.h from the command line, for
 * tests/integration/test_resolver.py:
 *
 *   resolve SERVERS TIMEOUT_MS srv DOMAIN
 *   resolve SERVERS TIMEOUT_MS addr HOST PORT
 *   resolve SERVERS TIMEOUT_MS cancel DOMAIN   (cancelled at once)
 *   resolve SERVERS TIMEOUT_MS tlsa HOST PORT  (needs the anchor)
 *
 * With RESOLVE_DNSSEC_ANCHOR=FILE in the environment, the resolver is a
 * validating one (resolver_new_dnssec()); "secure=0|1" follows the
 * status line, and TLSA records print as "tlsa U S M HEX".
 *
 * Prints "status=WORD n=N", one line per record ("srv PRIO WEIGHT PORT
 * TARGET DIRECT" or "addr ADDRESS PORT"), the order s2starget_order()
 * makes of SRV records ("target HOST PORT DIRECT"), and "elapsed_ms=N".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "resolver.h"
#include "s2starget.h"

static const char *domain;
static int called;
static struct event_base *base;

static uint32_t
first(void *ctx, uint32_t bound)
{
	(void)ctx;
	(void)bound;
	return 0;
}

static void
got_srv(void *arg, enum resolver_status st, int secure,
    const struct s2starget_srv *srv, size_t n)
{
	struct s2starget out[S2STARGET_MAX];
	int k;

	(void)arg;
	called++;
	printf("status=%s n=%zu\n", resolver_strstatus(st), n);
	printf("secure=%d\n", secure);
	event_base_loopexit(base, NULL);
	for (size_t i = 0; i < n; i++)
		printf("srv %u %u %u %s %d\n", srv[i].priority, srv[i].weight,
		    srv[i].port, srv[i].target, srv[i].direct_tls);
	if (st != RESOLVER_OK && st != RESOLVER_NOT_FOUND)
		return;
	k = s2starget_order(domain, srv, n, first, NULL, out, S2STARGET_MAX);
	if (k < 0)
		printf("order %d\n", k);
	for (int i = 0; i < k; i++)
		printf("target %s %u %d\n", out[i].host, out[i].port,
		    out[i].direct_tls);
}

static void
got_addr(void *arg, enum resolver_status st, int secure,
    const struct sockaddr_storage *a, size_t n)
{
	char buf[INET6_ADDRSTRLEN];

	(void)arg;
	called++;
	printf("status=%s n=%zu\n", resolver_strstatus(st), n);
	printf("secure=%d\n", secure);
	event_base_loopexit(base, NULL);
	for (size_t i = 0; i < n; i++) {
		if (a[i].ss_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)&a[i];

			inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
			printf("addr %s %u\n", buf, ntohs(s->sin_port));
		} else {
			const struct sockaddr_in6 *s = (const void *)&a[i];

			inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
			printf("addr %s %u\n", buf, ntohs(s->sin6_port));
		}
	}
}

static void
got_tlsa(void *arg, enum resolver_status st, int secure,
    const struct resolver_rdata *rr, size_t n)
{
	(void)arg;
	called++;
	printf("status=%s n=%zu\n", resolver_strstatus(st), n);
	printf("secure=%d\n", secure);
	for (size_t i = 0; i < n; i++) {
		printf("tlsa");
		for (size_t j = 0; j < rr[i].len; j++)
			printf(j < 3 ? " %u" : j == 3 ? " %02x" : "%02x",
			    rr[i].data[j]);
		printf("\n");
	}
	event_base_loopexit(base, NULL);
}

int
main(int argc, char **argv)
{
	struct resolver *r;
	const char *anchor = getenv("RESOLVE_DNSSEC_ANCHOR");
	struct resolver_query *q = NULL;
	struct timespec t0, t1;
	char err[256];

	if (argc < 5) {
		fprintf(stderr, "usage: resolve SERVERS TIMEOUT_MS srv|addr|"
		    "cancel NAME [PORT]\n");
		return 2;
	}
	domain = argv[4];
	if ((base = event_base_new()) == NULL ||
	    (r = anchor ? resolver_new_dnssec(base, argv[1], anchor,
	    (unsigned)atoi(argv[2]), err, sizeof(err)) :
	    resolver_new(base, argv[1], (unsigned)atoi(argv[2]), err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "resolver: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (strcmp(argv[3], "srv") == 0 || strcmp(argv[3], "cancel") == 0)
		q = resolver_srv(r, argv[4], got_srv, NULL);
	else if (strcmp(argv[3], "addr") == 0 && argc > 5)
		q = resolver_addr(r, argv[4], (uint16_t)atoi(argv[5]),
		    got_addr, NULL);
	else if (strcmp(argv[3], "tlsa") == 0 && argc > 5)
		q = resolver_tlsa(r, argv[4], (uint16_t)atoi(argv[5]),
		    got_tlsa, NULL);
	if (q == NULL) {
		fprintf(stderr, "cannot start the query\n");
		return 1;
	}
	if (strcmp(argv[3], "cancel") == 0) {
		resolver_cancel(q);
		printf("cancelled\n");
	}
	event_base_dispatch(base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("called=%d\n", called);
	printf("elapsed_ms=%ld\n", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	resolver_free(r);
	event_base_free(base);
	return 0;
}
