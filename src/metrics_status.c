/*
 * metrics_status.c - the status table of "xmppshield -s"; see
 * metrics_status.h.
 */
#include "autoconf.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "metrics.h"
#include "metrics_status.h"

#define MAX_ROWS	METRICS_MAX_LISTENERS
#define MAX_CERTS	METRICS_MAX_DOMAINS
#define MAX_BODY	(4 * 1024 * 1024)

enum column {
	COL_OPEN, COL_ACCEPTED, COL_REFUSED, COL_HANDSHAKES, COL_RESUMED,
	COL_TLS_FAILED, COL_POLICY, COL_BACKEND, COL_IN, COL_OUT, NCOLS
};

static const char *const col_names[NCOLS] = {
	"OPEN", "ACCEPTED", "REFUSED", "TLS", "RESUMED", "TLS-FAIL",
	"POLICY", "BACKEND-FAIL", "IN", "OUT",
};

struct row {
	char listener[64];
	double v[NCOLS];
};

struct status {
	struct row rows[MAX_ROWS];
	size_t nrows;
	struct {
		char domain[256];
		double not_after;
	} certs[MAX_CERTS];
	size_t ncerts;
	char version[64];
	double start, workers, restarts, reloads_ok, reloads_failed;
	int seen;
};

/* One sample line: name, labels (name="value" pairs), value. */
struct sample {
	char name[128];
	char keys[8][32];
	char vals[8][256];
	size_t nlabels;
	double value;
};

/* Parse line into s; 0, or -1 for a comment or a line not understood. */
static int
parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n;
	char *end;

	memset(s, 0, sizeof(*s));
	if (*p == '#' || *p == '\0')
		return -1;
	n = strcspn(p, "{ ");
	if (n == 0 || n >= sizeof(s->name))
		return -1;
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t k = strcspn(p, "=");
			size_t o = 0;

			if (s->nlabels == 8 || k == 0 ||
			    k >= sizeof(s->keys[0]) || p[k] != '=' ||
			    p[k + 1] != '"')
				return -1;
			memcpy(s->keys[s->nlabels], p, k);
			p += k + 2;
			while (*p != '"') {
				if (*p == '\0' ||
				    o + 1 >= sizeof(s->vals[0]))
					return -1;
				if (*p == '\\' && p[1] != '\0') {
					p++;
					s->vals[s->nlabels][o++] =
					    *p == 'n' ? '\n' : *p;
				} else
					s->vals[s->nlabels][o++] = *p;
				p++;
			}
			p++;
			s->nlabels++;
			if (*p == ',')
				p++;
		}
		p++;
	}
	if (*p != ' ')
		return -1;
	s->value = strtod(p + 1, &end);
	return end == p + 1 ? -1 : 0;
}

static const char *
label(const struct sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->vals[i];
	return "";
}

static struct row *
row_for(struct status *st, const char *listener)
{
	size_t i;

	for (i = 0; i < st->nrows; i++)
		if (strcmp(st->rows[i].listener, listener) == 0)
			return &st->rows[i];
	if (st->nrows == MAX_ROWS)
		return NULL;
	snprintf(st->rows[st->nrows].listener,
	    sizeof(st->rows[0].listener), "%s", listener);
	return &st->rows[st->nrows++];
}

static void
take(struct status *st, const struct sample *s)
{
	static const struct {
		const char *name;
		enum column col;
	} map[] = {
		{ "xmppshield_connections_open", COL_OPEN },
		{ "xmppshield_connections_accepted_total", COL_ACCEPTED },
		{ "xmppshield_connections_refused_total", COL_REFUSED },
		{ "xmppshield_tls_handshakes_total", COL_HANDSHAKES },
		{ "xmppshield_tls_handshake_failures_total", COL_TLS_FAILED },
		{ "xmppshield_backend_connect_failures_total", COL_BACKEND },
		{ "xmppshield_client_bytes_received_total", COL_IN },
		{ "xmppshield_client_bytes_sent_total", COL_OUT },
	};
	struct row *r;
	size_t i;

	if (strncmp(s->name, "xmppshield_", 11) == 0)
		st->seen = 1;
	if (strcmp(s->name, "xmppshield_build_info") == 0)
		snprintf(st->version, sizeof(st->version), "%s",
		    label(s, "version"));
	else if (strcmp(s->name, "xmppshield_start_time_seconds") == 0)
		st->start = s->value;
	else if (strcmp(s->name, "xmppshield_workers") == 0)
		st->workers = s->value;
	else if (strcmp(s->name, "xmppshield_worker_restarts_total") == 0)
		st->restarts = s->value;
	else if (strcmp(s->name, "xmppshield_reloads_total") == 0) {
		if (strcmp(label(s, "result"), "ok") == 0)
			st->reloads_ok = s->value;
		else
			st->reloads_failed = s->value;
	} else if (strcmp(s->name,
	    "xmppshield_certificate_not_after_seconds") == 0) {
		if (st->ncerts < MAX_CERTS) {
			snprintf(st->certs[st->ncerts].domain,
			    sizeof(st->certs[0].domain), "%s",
			    label(s, "domain"));
			st->certs[st->ncerts++].not_after = s->value;
		}
	} else if (strcmp(s->name, "xmppshield_sessions_ended_total") == 0) {
		if (strcmp(label(s, "event"), "policy-violation") == 0 &&
		    (r = row_for(st, label(s, "listener"))) != NULL)
			r->v[COL_POLICY] += s->value;
		/* An s2s-out listener's upstream is the remote server. */
		if (strcmp(label(s, "event"), "s2s-out-failed") == 0 &&
		    (r = row_for(st, label(s, "listener"))) != NULL)
			r->v[COL_BACKEND] += s->value;
	} else {
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(s->name, map[i].name) == 0)
				break;
		if (i == sizeof(map) / sizeof(map[0]) ||
		    (r = row_for(st, label(s, "listener"))) == NULL)
			return;
		r->v[map[i].col] += s->value;
		if (map[i].col == COL_HANDSHAKES &&
		    strcmp(label(s, "resumed"), "yes") == 0)
			r->v[COL_RESUMED] += s->value;
	}
}

/* 1234 -> "1234", 12345678 -> "11.8M" (bytes: K = 1024). */
static const char *
human(double v, int bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double base = bytes ? 1024 : 1000;
	int u = -1;

	while (v >= 10 * base && u < 4) {
		v /= base;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

int
metrics_status_format(const char *text, time_t now, FILE *out)
{
	struct status *st;
	struct sample s;
	const char *p, *nl;
	char line[1024], num[32];
	size_t i, n;
	int c;
	long long up, days;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	for (p = text; *p != '\0'; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		n = (size_t)(nl - p);
		if (n >= sizeof(line))
			continue;
		memcpy(line, p, n);
		line[n] = '\0';
		if (parse_sample(line, &s) == 0)
			take(st, &s);
	}
	if (!st->seen) {
		free(st);
		return -1;
	}
	up = st->start > 0 ? (long long)now - (long long)st->start : 0;
	fprintf(out, "xmppshield %s, up %lldd %02lldh%02lldm, %.0f worker%s, "
	    "%.0f restarted, reloads: %.0f ok, %.0f failed\n\n", st->version,
	    up / 86400, up % 86400 / 3600, up % 3600 / 60, st->workers,
	    st->workers == 1 ? "" : "s", st->restarts, st->reloads_ok,
	    st->reloads_failed);
	fprintf(out, "%-16s", "LISTENER");
	for (c = 0; c < NCOLS; c++)
		fprintf(out, " %*s", c == COL_BACKEND ? 12 : 8, col_names[c]);
	fprintf(out, "\n");
	/* "other" (listeners past the label limit) last. */
	for (i = 0; i < st->nrows; i++)
		if (strcmp(st->rows[i].listener, "other") == 0 &&
		    i + 1 < st->nrows) {
			struct row tmp = st->rows[i];

			memmove(&st->rows[i], &st->rows[i + 1],
			    (st->nrows - i - 1) * sizeof(st->rows[0]));
			st->rows[st->nrows - 1] = tmp;
			break;
		}
	for (i = 0; i < st->nrows; i++) {
		fprintf(out, "%-16s", st->rows[i].listener);
		for (c = 0; c < NCOLS; c++)
			fprintf(out, " %*s", c == COL_BACKEND ? 12 : 8,
			    human(st->rows[i].v[c], c == COL_IN ||
			    c == COL_OUT, num, sizeof(num)));
		fprintf(out, "\n");
	}
	if (st->ncerts > 0)
		fprintf(out, "\n%-32s %s\n", "CERTIFICATE", "EXPIRES");
	for (i = 0; i < st->ncerts; i++) {
		time_t t = (time_t)st->certs[i].not_after;
		struct tm tm;
		char when[32] = "?";

		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		days = ((long long)t - (long long)now) / 86400;
		fprintf(out, "%-32s %s (%s%lld days)\n", st->certs[i].domain,
		    when, t < now ? "expired, " : "", days);
	}
	free(st);
	return 0;
}

/* --- fetching -------------------------------------------------------- */

struct fetch {
	struct evbuffer *body;
	int status;
};

/* libevent's own warnings ("connection failed: Success") say less than
   the message below. */
static void
quiet(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

static void
on_response(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;

	if (req != NULL) {
		f->status = evhttp_request_get_response_code(req);
		evbuffer_add_buffer(f->body,
		    evhttp_request_get_input_buffer(req));
	}
}

int
metrics_status_main(const char *config_path, FILE *out)
{
	struct config *cfg;
	struct event_base *base = NULL;
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	struct fetch f = { NULL, 0 };
	struct sockaddr_storage sa;
	char err[512], host[64], port[8], *text;
	size_t len;
	int rc = 1;

	if (config_load(config_path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	if (cfg->metrics_listen.len == 0) {
		fprintf(stderr, "xmppshield: %s has no metrics_listen: -s reads "
		    "the running daemon's metrics endpoint; set [global] "
		    "metrics_listen = 127.0.0.1:9470 and restart\n",
		    config_path);
		config_free(cfg);
		return 1;
	}
	sa = cfg->metrics_listen.sa;
	/* A wildcard address is asked on the loopback. */
	if (sa.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&sa)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&sa)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	else if (sa.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&sa)->sin6_addr))
		((struct sockaddr_in6 *)&sa)->sin6_addr = in6addr_loopback;
	if (getnameinfo((struct sockaddr *)&sa, cfg->metrics_listen.len, host,
	    sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0 || atoi(port) == 0) {
		fprintf(stderr, "xmppshield: metrics_listen = %s: -s needs "
		    "the address and a fixed port, e.g. 127.0.0.1:9470\n",
		    cfg->metrics_listen.text);
		goto out;
	}
	event_set_log_callback(quiet);
	if ((base = event_base_new()) == NULL ||
	    (f.body = evbuffer_new()) == NULL ||
	    (conn = evhttp_connection_base_new(base, NULL, host,
	    (unsigned short)atoi(port))) == NULL ||
	    (req = evhttp_request_new(on_response, &f)) == NULL) {
		fprintf(stderr, "xmppshield: out of memory\n");
		goto out;
	}
	evhttp_connection_set_timeout(conn, 5);
	evhttp_connection_set_max_body_size(conn, MAX_BODY);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    host);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/metrics") == -1) {
		fprintf(stderr, "xmppshield: cannot ask %s\n",
		    cfg->metrics_listen.text);
		goto out;
	}
	event_base_dispatch(base);
	if (f.status != 200) {
		fprintf(stderr, "xmppshield: no answer from the metrics "
		    "endpoint %s (HTTP status %d): is xmppshield running, and "
		    "is this address in metrics_allow?\n",
		    cfg->metrics_listen.text, f.status);
		goto out;
	}
	len = evbuffer_get_length(f.body);
	evbuffer_add(f.body, "", 1);
	text = (char *)evbuffer_pullup(f.body, -1);
	if (text == NULL || len == 0 ||
	    metrics_status_format(text, time(NULL), out) == -1) {
		fprintf(stderr, "xmppshield: %s did not answer with "
		    "xmppshield metrics\n", cfg->metrics_listen.text);
		goto out;
	}
	rc = 0;
out:
	if (conn != NULL)
		evhttp_connection_free(conn);
	if (f.body != NULL)
		evbuffer_free(f.body);
	if (base != NULL)
		event_base_free(base);
	config_free(cfg);
	return rc;
}
