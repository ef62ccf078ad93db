/*
 * metricsspeed.c - the CPU the counters cost one connection: the calls
 * session.c makes for a connection that is accepted, completes a TLS
 * handshake and ends (metrics_accepted, metrics_handshake,
 * metrics_session_ended), and the cost of one exposition (a scrape) of
 * the resulting store.  Build from a build tree:
 *   cc -O2 -I../src -I. -o metricsspeed ../bench/metricsspeed.c \
 *       libxmppshield.a -levent -lexpat -linih -lmbedtls -lmbedx509 \
 *       -lmbedcrypto
 */
#include <stdio.h>
#include <time.h>

#include "metrics.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t total;

static void
sink(void *arg, const char *text, size_t len)
{
	(void)arg;
	(void)text;
	total += len;
}

int
main(void)
{
	const int n = 1000000, scrapes = 2000;
	double t0, t1;
	int i;

	if (metrics_init(2) == -1)
		return 1;
	metrics_set_worker(0);
	t0 = now();
	for (i = 0; i < n; i++) {
		metrics_accepted("c2s");
		metrics_handshake("c2s", "TLSv1.2",
		    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "x25519",
		    i & 1);
		metrics_session_ended("c2s", i & 1 ? "close" : "timeout",
		    i & 1 ? "client-closed" : "idle", 1000, 2000);
	}
	t1 = now();
	printf("per connection (accept, handshake, end): %.0f ns\n",
	    (t1 - t0) / n * 1e9);
	t0 = now();
	for (i = 0; i < scrapes; i++)
		metrics_write(sink, NULL);
	t1 = now();
	printf("per scrape (%zu bytes): %.0f us\n", total / scrapes,
	    (t1 - t0) / scrapes * 1e6);
	return 0;
}
