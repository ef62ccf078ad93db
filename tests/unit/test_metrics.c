/*
 * test_metrics.c - the shared counter store and its text exposition,
 * through metrics.h: processes forked after metrics_init() count into
 * their own slots and the parent sums them; a replaced worker's counts
 * are kept; labels are bounded and escaped.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_status.h"
#include "s2speer.h"
#include "tap.h"
#include "verdict.h"

struct text {
	char *s;
	size_t len, cap;
};

static void
collect(void *arg, const char *s, size_t n)
{
	struct text *t = arg;

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->s = realloc(t->s, t->cap)) == NULL)
			abort();
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static char *
scrape(void)
{
	struct text t = { NULL, 0, 0 };

	collect(&t, "", 0);
	if (metrics_write(collect, &t) == -1) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* The value of the sample line that starts with series, or -1. */
static long long
value(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static long long
scrape_value(const char *series)
{
	char *t = scrape();
	long long v = t ? value(t, series) : -1;

	free(t);
	return v;
}

/* 1 (and a diagnostic line) if series is not reported at 0. */
static int
not_at_zero(const char *t, const char *series)
{
	if (value(t, series) == 0)
		return 0;
	printf("# missing: %s\n", series);
	return 1;
}

/* How many of the (event, reason) pairs name() lists are not reported
   at 0 in sessions_ended_total; *count: how many it lists. */
static size_t
ends_not_at_zero(const char *t, int (*name)(size_t, const char **,
    const char **), size_t *count)
{
	const char *ev, *why;
	char series[256];
	size_t i, missing = 0;

	for (i = 0; name(i, &ev, &why); i++) {
		snprintf(series, sizeof(series),
		    "xmppshield_sessions_ended_total{listener=\"c2s\","
		    "event=\"%s\",reason=\"%s\"}", ev, why);
		missing += (size_t)not_at_zero(t, series);
	}
	*count = i;
	return missing;
}

/* Run worker i's part in a child process, as the daemon would. */
static void
in_worker(unsigned i, void (*fn)(void))
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		metrics_set_worker(i);
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
}

static void
worker_traffic(void)
{
	metrics_accepted("c2s");
	metrics_accepted("c2s");
	metrics_handshake("c2s", "TLSv1.2",
	    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "x25519", 0);
	metrics_session_ended("c2s", "close", "client-closed", 100, 200);
	metrics_session_ended("c2s", "policy-violation",
	    "starttls-injection", 10, 20);
	metrics_handshake_failed("c2s", "no-shared-cipher");
	metrics_refused("c2s", "max-connections-per-ip");
	metrics_backend_failed("c2s", "connect-failed");
}

static void
open_one(void)
{
	metrics_accepted("c2s");
}

static void
many_listeners(void)
{
	char name[32];
	int i;

	for (i = 0; i < METRICS_MAX_LISTENERS + 5; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		metrics_accepted(name);
	}
}

static void
many_reasons(void)
{
	char reason[32];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(reason, sizeof(reason), "r%d", i);
		metrics_session_ended("c2s", "close", reason, 0, 0);
	}
}

static void
test_off(void)
{
	char *t;

	metrics_accepted("c2s");	/* no store: nothing, no crash */
	ok(!metrics_enabled(), "off before metrics_init()");
	ok((t = scrape()) == NULL, "no exposition while off");
	free(t);
}

static void
test_escape(void)
{
	char buf[32];

	ok(metrics_escape("a\"b\\c\nd", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "a\\\"b\\\\c\\nd") == 0, "escape quote, "
	    "backslash, newline: %s", buf);
	ok(metrics_escape("x\x01\xff", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "x??") == 0, "control and high bytes become ?");
	ok(metrics_escape("0123456789", buf, 8) == -1 && buf[0] == '\0',
	    "too long: refused, empty");
}

int
main(void)
{
	char *t;
	long long before, after;

	test_off();
	test_escape();

	ok(metrics_init(2) == 0 && metrics_enabled(), "init for 2 workers");
	metrics_listener("c2s");
	t = scrape();
	ok(t != NULL && value(t,
	    "xmppshield_connections_accepted_total{listener=\"c2s\"}") == 0,
	    "a registered listener is reported at 0");
	{
		const char *why;
		char series[256];
		size_t i, j, missing;

		missing = ends_not_at_zero(t, verdict_name, &i);
		ok(i > 0 && missing == 0, "every one of verdict.c's %zu "
		    "(event, reason) pairs is reported at 0 from the start "
		    "(one vocabulary with the log)", i);
		missing = ends_not_at_zero(t, verdict_s2sout_name, &i);
		for (j = 0; (why = s2speer_reason_name(j)) != NULL; j++) {
			snprintf(series, sizeof(series),
			    "xmppshield_s2s_peers_unverified_total"
			    "{listener=\"c2s\",reason=\"%s\"}", why);
			missing += (size_t)not_at_zero(t, series);
		}
		ok(i > 0 && j > 0 && missing == 0, "the %zu ends of outgoing "
		    "s2s connections and the %zu reasons a server's "
		    "certificate is unverified are reported at 0", i, j);
		ok(value(t, "xmppshield_s2s_peers_verified_total"
		    "{listener=\"c2s\"}") == 0, "verified servers at 0");
	}
	ok(t != NULL && strstr(t, "# TYPE xmppshield_sessions_ended_total "
	    "counter\n") != NULL && strstr(t, "# HELP "
	    "xmppshield_connections_open ") != NULL, "HELP and TYPE lines");
	free(t);

	in_worker(0, worker_traffic);
	in_worker(1, worker_traffic);
	t = scrape();
	ok(value(t, "xmppshield_connections_accepted_total"
	    "{listener=\"c2s\"}") == 4, "accepted summed over 2 workers");
	ok(value(t, "xmppshield_connections_open{listener=\"c2s\"}") == 0,
	    "open: 4 accepted, 4 ended");
	ok(value(t, "xmppshield_sessions_ended_total{listener=\"c2s\","
	    "event=\"policy-violation\",reason=\"starttls-injection\"}") == 2,
	    "session end by the log's event= and reason=");
	ok(value(t, "xmppshield_tls_handshakes_total{listener=\"c2s\","
	    "version=\"TLSv1.2\",cipher=\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-"
	    "SHA256\",group=\"x25519\",resumed=\"no\"}") == 2,
	    "handshakes by version, cipher, group, resumption");
	ok(value(t, "xmppshield_tls_handshake_failures_total"
	    "{listener=\"c2s\",reason=\"no-shared-cipher\"}") == 2,
	    "handshake failures by reason");
	ok(value(t, "xmppshield_connections_refused_total{listener=\"c2s\","
	    "reason=\"max-connections-per-ip\"}") == 2, "refused by reason");
	ok(value(t, "xmppshield_backend_connect_failures_total"
	    "{listener=\"c2s\",reason=\"connect-failed\"}") == 2,
	    "backend failures by reason");
	ok(value(t, "xmppshield_client_bytes_received_total"
	    "{listener=\"c2s\"}") == 220 && value(t,
	    "xmppshield_client_bytes_sent_total{listener=\"c2s\"}") == 440,
	    "bytes each way");
	ok(strstr(t, "listener=\"other\"") == NULL,
	    "\"other\" not reported while unused");
	free(t);

	metrics_s2s_peer("c2s", NULL);
	metrics_s2s_peer("c2s", "self-signed");
	metrics_s2s_peer("c2s", "self-signed");
	t = scrape();
	ok(value(t, "xmppshield_s2s_peers_verified_total{listener=\"c2s\"}")
	    == 1 && value(t, "xmppshield_s2s_peers_unverified_total"
	    "{listener=\"c2s\",reason=\"self-signed\"}") == 2,
	    "servers verified, and unverified by reason");
	free(t);

	metrics_sasl_external("c2s", 1);
	metrics_sasl_external("c2s", 1);
	metrics_sasl_external("c2s", 0);
	t = scrape();
	ok(value(t, "xmppshield_s2s_sasl_external_total"
	    "{listener=\"c2s\"}") == 2 && value(t,
	    "xmppshield_s2s_sasl_external_failed_total"
	    "{listener=\"c2s\"}") == 1,
	    "SASL EXTERNAL accepted and refused");
	free(t);

	/* Worker 0 holds one open connection and dies; it is replaced. */
	in_worker(0, open_one);
	ok(scrape_value("xmppshield_connections_open{listener=\"c2s\"}") == 1,
	    "one open in worker 0");
	before = scrape_value("xmppshield_connections_accepted_total"
	    "{listener=\"c2s\"}");
	metrics_worker_replaced(0);
	after = scrape_value("xmppshield_connections_accepted_total"
	    "{listener=\"c2s\"}");
	ok(before == 5 && after == 5, "totals kept when a worker is "
	    "replaced (%lld -> %lld)", before, after);
	ok(scrape_value("xmppshield_connections_open{listener=\"c2s\"}") == 0,
	    "its open connections are gone");
	ok(scrape_value("xmppshield_worker_restarts_total") == 1,
	    "one restart counted");
	in_worker(0, worker_traffic);
	ok(scrape_value("xmppshield_connections_accepted_total"
	    "{listener=\"c2s\"}") == 7, "the new worker adds to the total");

	metrics_reload(1);
	metrics_reload(0);
	t = scrape();
	ok(value(t, "xmppshield_reloads_total{result=\"ok\"}") == 1 &&
	    value(t, "xmppshield_reloads_total{result=\"failed\"}") == 1,
	    "reloads by result");
	free(t);

	/* Bounded label space. */
	in_worker(1, many_listeners);
	t = scrape();
	ok(value(t, "xmppshield_connections_accepted_total"
	    "{listener=\"other\"}") == 7, "listeners past %d count as other",
	    METRICS_MAX_LISTENERS);
	free(t);
	in_worker(1, many_reasons);
	t = scrape();
	ok(value(t, "xmppshield_sessions_ended_total{listener=\"c2s\","
	    "event=\"other\",reason=\"other\"}") > 0 &&
	    value(t, "xmppshield_sessions_ended_total{listener=\"c2s\","
	    "event=\"close\",reason=\"r199\"}") == -1,
	    "label sets past the table's size count as other");
	free(t);

	metrics_certificates_begin();
	metrics_certificate("example.org", 1700000000, 1800000000);
	metrics_certificate("bad\"dom", 1, 2);
	t = scrape();
	ok(value(t, "xmppshield_certificate_not_after_seconds"
	    "{domain=\"example.org\"}") == 1800000000,
	    "certificate notAfter by domain");
	ok(value(t, "xmppshield_certificate_not_before_seconds"
	    "{domain=\"bad\\\"dom\"}") == 1, "domain label escaped");
	{
		char *table = NULL;
		size_t tlen = 0;
		FILE *f = open_memstream(&table, &tlen);

		ok(metrics_status_format(t, 1800000000 - 3 * 86400, f) == 0,
		    "status table from the exposition");
		fclose(f);
		ok(strstr(table, "LISTENER") != NULL &&
		    strstr(table, "\nc2s ") != NULL, "a row per listener:\n%s",
		    table);
		ok(strstr(table, "example.org") != NULL &&
		    strstr(table, "(3 days)") != NULL,
		    "certificate with days left");
		free(table);
		ok(metrics_status_format("foo 1\n", 0, stdout) == -1,
		    "no xmppshield metrics: -1");
	}
	metrics_certificates_begin();
	free(t);
	t = scrape();
	ok(strstr(t, "domain=\"example.org\"") == NULL,
	    "a reload's certificates replace the old set");
	free(t);
	return tap_done();
}
