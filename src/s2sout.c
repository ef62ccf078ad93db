/*
 * s2sout.c - one outgoing server-to-server connection of the backend;
 * see s2sout.h for the states.
 *
 * The backend side is a plaintext bufferevent; the remote side a raw
 * socket with two events, because mbedTLS sits directly on it (as in
 * session.c).  Both directions are bounded by buffer_size: a direction
 * whose queue is over it stops reading its source until it drained to
 * half.  Nothing is freed synchronously from parser callbacks: endings
 * are recorded and acted on when the callback has returned.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

/* <linux/netfilter_ipv4.h> clashes with <netinet/in.h>: the value, as
   both linux/netfilter_ipv4.h and ip6_tables.h define it. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST		80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST	80
#endif

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "certname.h"
#include "dane.h"
#include "dialbackkey.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "peercert.h"
#include "relay.h"
#include "resolver.h"
#include "s2sout.h"
#include "s2speer.h"
#include "s2starget.h"
#include "session.h"
#include "tls.h"
#include "verdict.h"
#include "xmlstream.h"
#include "xmpp.h"

#define READ_CHUNK	16384
#define LINGER_SECONDS	5
#define MAX_ADDRS	16

/*
 * SASL EXTERNAL on the backend's behalf (XEP-0178).  A remote that offers
 * SASL after TLS has accepted our domain's certificate (it offers
 * EXTERNAL only then): xmppshield authenticates with it, restarts the
 * remote's stream itself, and the backend, which only knows dialback,
 * gets dialback features and a local type='valid' for its <db:result/>
 * of the pair the remote authenticated.
 */
enum s2sout_auth {
	S2SOUT_AUTH_NONE,	/* relaying as it comes (dialback) */
	S2SOUT_AUTH_FEATURES,	/* waiting for the remote's first features */
	S2SOUT_AUTH_SENT,	/* <auth/> sent, waiting for its answer */
	S2SOUT_AUTH_RESTART,	/* <success/>: the remote's new header and
				   features, which stay here */
	S2SOUT_AUTH_DONE,	/* authenticated: answer <db:result/> here */
};

/* The remote parser's strip rules, in the order new_remote_stream()
   adds them (bits of xmlstream_unit.stripped_rules). */
#define STRIPPED_SASL	(1u << 2)

/* What the backend reads instead of the remote's post-SASL features:
   dialback, the one authentication it knows, answered here. */
#define DIALBACK_FEATURES "<stream:features xmlns:stream='" \
	XMPP_NS_STREAMS "'><dialback xmlns='urn:xmpp:features:dialback'>" \
	"<errors/></dialback></stream:features>"

enum s2sout_state {
	S2SOUT_HEADER,
	S2SOUT_RESOLVE,
	S2SOUT_CONNECT,
	S2SOUT_NEGOTIATE,
	S2SOUT_HANDSHAKE,
	S2SOUT_RELAY,
	S2SOUT_CLOSING,
};

struct s2sout {
	TAILQ_ENTRY(s2sout) entry;
	struct server *srv;
	struct generation *gen;
	const struct config *cfg;
	const struct config_listener *l;
	unsigned long long id;
	char backend_addr[64];
	char ours[256];		/* the backend's 'from' */
	char remote[256];	/* the backend's 'to' */
	char stream_id[17];
	enum s2sout_state state;
	double start;

	struct bufferevent *bev;	/* the backend, plaintext */
	struct xmlstream *bx;		/* the backend's stream */
	struct evbuffer *to_remote;	/* the backend's units, waiting */
	int backend_paused;
	int backend_header;	/* its header was seen */
	int backend_ended;
	int header_sent;	/* a stream header went to the backend */

	struct resolver *res;
	struct resolver_query *q;
	struct s2starget targets[S2STARGET_MAX];
	int ntargets, cur_target;
	struct sockaddr_storage addrs[MAX_ADDRS];
	size_t naddrs, cur_addr;
	char address[64];	/* of the remote, for logs */
	int dns_secure;		/* DANE: the SRV step was DNSSEC-secure */
	struct dane_set *dane;	/* DANE: this target's usable TLSA records */

	int rfd;
	struct event *ev_rread, *ev_rwrite, *ev_connect, *ev_timer;
	struct tls_conn *tls;
	struct xmlstream *rx;		/* the remote's stream */
	struct evbuffer *remote_out;	/* to the remote (plaintext) */
	size_t tls_write_len;
	int remote_paused;
	int proceed;		/* <proceed/> seen, handshake next */
	int remote_ended;
	unsigned attempt;	/* +1 per closed remote socket */
	enum s2sout_auth auth;
	struct evbuffer *features;	/* the remote's first header and
					   features, for the backend if
					   EXTERNAL is not used */
	int resume_backend;	/* authentication settled inside a parser
				   callback: read the backend after it */

	const char *last_reason;	/* why the last attempt failed */
	enum xmpp_condition last_cond;
	char last_detail[160];
	const char *defer_reason;	/* a failure found inside a parser
					   callback, acted on after it */
	const char *defer_fail;	/* a failure of the relayed stream found
				   inside a parser callback */
	const char *reason;	/* the failure, or NULL */
	int failed;		/* its line was event=s2s-out-failed */
	unsigned long long bytes_in, bytes_out;	/* with remotes, TLS */
	enum xmpp_condition cond;
	char detail[160];
};

/* This process's connections, for s2sout_shutdown_all(). */
static TAILQ_HEAD(, s2sout) all = TAILQ_HEAD_INITIALIZER(all);

static void fail(struct s2sout *, const char *, enum xmpp_condition,
    const char *, ...) __attribute__((format(printf, 4, 5)));
static void next_target(struct s2sout *);
static void next_address(struct s2sout *);
static void flush_remote(struct s2sout *);
static void read_remote(struct s2sout *);
static void read_backend(struct s2sout *);

static const char *
s2sout_strstate(enum s2sout_state st)
{
	switch (st) {
	case S2SOUT_HEADER: return "header";
	case S2SOUT_RESOLVE: return "resolve";
	case S2SOUT_CONNECT: return "connect";
	case S2SOUT_NEGOTIATE: return "negotiate";
	case S2SOUT_HANDSHAKE: return "handshake";
	case S2SOUT_RELAY: return "relay";
	case S2SOUT_CLOSING: return "closing";
	}
	return "unknown";
}

static void
enter(struct s2sout *o, enum s2sout_state st)
{
	if (log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "event=state session=%llu from=%s to=%s",
		    o->id, s2sout_strstate(o->state), s2sout_strstate(st));
	o->state = st;
}

/* Authentication with the remote is under way: the backend waits. */
static int
auth_busy(const struct s2sout *o)
{
	return o->auth == S2SOUT_AUTH_FEATURES || o->auth == S2SOUT_AUTH_SENT ||
	    o->auth == S2SOUT_AUTH_RESTART;
}

/* The idle timeout replaces the connection's deadline. */
static void
arm_idle(struct s2sout *o)
{
	struct timeval tv = { o->cfg->limits.idle_timeout, 0 };

	event_del(o->ev_timer);
	if (o->cfg->limits.idle_timeout)
		event_add(o->ev_timer, &tv);
}

/* Authentication is settled (NONE: the backend's dialback goes to the
   remote; DONE: answered here): relaying begins, the backend is read
   once the parser callback has returned. */
static void
settle_auth(struct s2sout *o, enum s2sout_auth auth)
{
	o->auth = auth;
	o->resume_backend = 1;
	arm_idle(o);
}

static void
close_remote(struct s2sout *o)
{
	if (o->ev_rread) event_free(o->ev_rread);
	if (o->ev_rwrite) event_free(o->ev_rwrite);
	if (o->ev_connect) event_free(o->ev_connect);
	o->ev_rread = o->ev_rwrite = o->ev_connect = NULL;
	if (o->tls != NULL) {
		o->bytes_in += tls_bytes_in(o->tls);
		o->bytes_out += tls_bytes_out(o->tls);
	}
	tls_conn_free(o->tls);
	o->tls = NULL;
	if (o->rfd != -1)
		close(o->rfd);
	o->rfd = -1;
	xmlstream_free(o->rx);
	o->rx = NULL;
	o->tls_write_len = 0;
	o->attempt++;
	evbuffer_drain(o->remote_out, evbuffer_get_length(o->remote_out));
}

static void
s2sout_free(struct s2sout *o)
{
	if (o->q != NULL)
		resolver_cancel(o->q);
	resolver_free(o->res);
	dane_set_free(o->dane);
	close_remote(o);
	if (o->ev_timer) event_free(o->ev_timer);
	if (o->bev) bufferevent_free(o->bev);
	xmlstream_free(o->bx);
	if (o->to_remote) evbuffer_free(o->to_remote);
	if (o->remote_out) evbuffer_free(o->remote_out);
	if (o->features) evbuffer_free(o->features);
	TAILQ_REMOVE(&all, o, entry);
	o->srv->nsessions--;
	metrics_session_ended(o->l->name, o->failed ? "s2s-out-failed" :
	    "s2s-out-closed", o->reason ? o->reason : "internal-error",
	    o->bytes_in, o->bytes_out);
	if (o->srv->stopping && o->srv->nsessions == 0)
		event_base_loopexit(o->srv->base, NULL);
	generation_unref(o->gen);
	free(o);
}

/* Free once the backend has its last bytes, or after the linger. */
static void
finish(struct s2sout *o)
{
	struct timeval tv = { LINGER_SECONDS, 0 };

	if (o->q != NULL) {
		resolver_cancel(o->q);
		o->q = NULL;
	}
	close_remote(o);
	enter(o, S2SOUT_CLOSING);
	bufferevent_disable(o->bev, EV_READ);
	event_add(o->ev_timer, &tv);
	if (evbuffer_get_length(bufferevent_get_output(o->bev)) == 0)
		event_active(o->ev_timer, EV_TIMEOUT, 0);
}

/* The backend's stream ends with cond: our header first if the remote's
   never reached it. */
static void
end_backend(struct s2sout *o, enum xmpp_condition cond, const char *text)
{
	char buf[1024];
	size_t n;

	if (!o->header_sent) {
		o->header_sent = 1;
		n = xmpp_write_header(buf, sizeof(buf), LISTENER_S2S,
		    o->remote[0] ? o->remote : NULL, o->stream_id);
		bufferevent_write(o->bev, buf, n);
	}
	if (cond == XMPP_COND_NONE)
		bufferevent_write(o->bev, XMPP_STREAM_END,
		    strlen(XMPP_STREAM_END));
	else {
		n = xmpp_write_stream_error(buf, sizeof(buf), cond, text);
		bufferevent_write(o->bev, buf, n);
	}
}

/*
 * The connection failed: one line, the stream error to the backend, then
 * closing.  Only the first failure counts.
 */
static void
fail(struct s2sout *o, const char *reason, enum xmpp_condition cond,
    const char *fmt, ...)
{
	char target[300] = "-", d[200], e[200];
	va_list ap;

	if (o->state == S2SOUT_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
	va_end(ap);
	o->reason = reason;
	o->cond = cond;
	o->failed = 1;
	if (o->cur_target >= 0 && o->cur_target < o->ntargets)
		snprintf(target, sizeof(target), "%s:%u%s",
		    o->targets[o->cur_target].host,
		    o->targets[o->cur_target].port,
		    o->targets[o->cur_target].direct_tls ? "/direct" : "");
	log_msg(LOG_WARNING, "event=s2s-out-failed session=%llu listener=%s "
	    "backend=%s from=%s remote=%s reason=%s state=%s target=%s "
	    "address=%s detail=%s", o->id, o->l->name, o->backend_addr,
	    o->ours[0] ? log_escape(o->ours, e, sizeof(e)) : "-",
	    o->remote[0] ? o->remote : "-", reason,
	    s2sout_strstate(o->state), target,
	    o->address[0] ? o->address : "-",
	    log_quote(o->detail, d, sizeof(d)));
	end_backend(o, cond, NULL);
	finish(o);
}

/* A relaying session ends between stanzas: its event=s2s-out-closed line
   (reason: idle or shutdown), <COND/> to the backend, the stream's end to
   the remote, then finish. */
static void
close_relay(struct s2sout *o, const char *reason, enum xmpp_condition cond)
{
	log_msg(LOG_INFO, "event=s2s-out-closed session=%llu "
	    "listener=%s from=%s remote=%s address=%s reason=%s "
	    "detail=- duration=%.3f", o->id, o->l->name, o->ours,
	    o->remote, o->address, reason, monotime_now() - o->start);
	end_backend(o, cond, NULL);
	if (o->rfd != -1) {
		evbuffer_add(o->remote_out, XMPP_STREAM_END,
		    strlen(XMPP_STREAM_END));
		flush_remote(o);
	}
	finish(o);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct s2sout *o = arg;

	(void)fd;
	(void)what;
	if (o->state == S2SOUT_CLOSING) {
		s2sout_free(o);
		return;
	}
	if (o->state == S2SOUT_RELAY && !auth_busy(o)) {
		/* idle */
		close_relay(o, "idle", XMPP_COND_CONNECTION_TIMEOUT);
		return;
	}
	fail(o, "timeout", XMPP_COND_REMOTE_CONNECTION_FAILED,
	    "not relaying after s2s_out_timeout=%us", o->l->s2s_out_timeout);
}

/* A domain name we may put in a header and a DNS query. */
static int
hostname_ok(const char *s)
{
	char name[254];

	/* Lower case already (the callers lowered it), at most 253 bytes,
	   and not beginning with a dot or a hyphen. */
	return xmpp_host_name(s, name, sizeof(name)) &&
	    strcmp(name, s) == 0 && s[0] != '.' && s[0] != '-';
}

/* ---- DNS ---- */

static uint32_t
draw(void *ctx, uint32_t bound)
{
	struct s2sout *o = ctx;
	uint32_t x = 0;

	if (tls_random(o->gen->tls, &x, sizeof(x)) != 0)
		x = (uint32_t)rand();
	return bound == UINT32_MAX ? x : x % (bound + 1);
}

static void
dns_failed(struct s2sout *o, enum resolver_status st, const char *what)
{
	if (st == RESOLVER_TIMEOUT)
		fail(o, "dns-timeout", XMPP_COND_REMOTE_CONNECTION_FAILED,
		    "%s", what);
	else if (st == RESOLVER_NOT_FOUND)
		fail(o, "dns-not-found", XMPP_COND_HOST_UNKNOWN, "%s", what);
	else if (st == RESOLVER_BOGUS)
		fail(o, "dns-bogus", XMPP_COND_REMOTE_CONNECTION_FAILED,
		    "DNSSEC validation failed: %s", what);
	else
		fail(o, "dns-failed", XMPP_COND_REMOTE_CONNECTION_FAILED, "%s",
		    what);
}

static void
on_srv(void *arg, enum resolver_status st, int secure,
    const struct s2starget_srv *srv, size_t n)
{
	struct s2sout *o = arg;
	int k;

	o->q = NULL;
	o->dns_secure = secure;
	if (st != RESOLVER_OK && st != RESOLVER_NOT_FOUND) {
		dns_failed(o, st, "srv");
		return;
	}
	k = s2starget_order(o->remote, st == RESOLVER_OK ? srv : NULL,
	    st == RESOLVER_OK ? n : 0, draw, o, o->targets, S2STARGET_MAX);
	if (k == S2STARGET_NO_SERVICE) {
		fail(o, "no-service", XMPP_COND_HOST_UNKNOWN,
		    "SRV target '.'");
		return;
	}
	if (k < 1) {
		fail(o, "dns-failed", XMPP_COND_HOST_UNKNOWN, "bad domain");
		return;
	}
	o->ntargets = k;
	o->cur_target = -1;
	next_target(o);
}

/*
 * DANE: a DNS answer about the current target (QUERY: its addresses or
 * its TLSA records) that cannot be used: bogus is dns-bogus, a timeout
 * dns-timeout, any other failure dns-failed, with the detail "QUERY:
 * why".  The next target, or give up.
 */
static void
target_dns_failed(struct s2sout *o, enum resolver_status st,
    const char *query)
{
	o->last_reason = st == RESOLVER_BOGUS ? "dns-bogus" :
	    st == RESOLVER_TIMEOUT ? "dns-timeout" : "dns-failed";
	o->last_cond = XMPP_COND_REMOTE_CONNECTION_FAILED;
	snprintf(o->last_detail, sizeof(o->last_detail), "%s: %s", query,
	    st == RESOLVER_BOGUS ? "DNSSEC validation failed" :
	    resolver_strstatus(st));
	if (o->cur_target + 1 >= o->ntargets) {
		fail(o, o->last_reason, o->last_cond, "%s", o->last_detail);
		return;
	}
	next_target(o);
}

static void
connect_target(struct s2sout *o)
{
	o->cur_addr = 0;
	enter(o, S2SOUT_CONNECT);
	next_address(o);
}

/*
 * DANE: the TLSA records of the target (RFC 7673: _PORT._tcp.TARGET; for
 * the fallback target that is _5269._tcp.DOMAIN).  A secure set with
 * usable records decides in verify_remote(); none, or an insecure
 * answer: PKIX.  Bogus or failed: this target cannot be checked.
 */
static void
on_tlsa(void *arg, enum resolver_status st, int secure,
    const struct resolver_rdata *rr, size_t n)
{
	struct s2sout *o = arg;
	const struct s2starget *t = &o->targets[o->cur_target];
	char query[300];

	o->q = NULL;
	if (st != RESOLVER_OK && st != RESOLVER_NOT_FOUND) {
		snprintf(query, sizeof(query), "tlsa _%u._tcp.%s", t->port,
		    t->host);
		target_dns_failed(o, st, query);
		return;
	}
	if (st == RESOLVER_OK && secure) {
		size_t i = 0;

		if ((o->dane = dane_set_new()) != NULL)
			while (i < n && dane_set_add(o->dane, rr[i].data,
			    rr[i].len) == 0)
				i++;
		if (o->dane == NULL || i < n) {
			fail(o, "internal-error",
			    XMPP_COND_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
		if (dane_set_usable(o->dane) == 0) {
			dane_set_free(o->dane);
			o->dane = NULL;
		}
	}
	connect_target(o);
}

static void
on_addr(void *arg, enum resolver_status st, int secure,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct s2sout *o = arg;
	const struct s2starget *t = &o->targets[o->cur_target];

	o->q = NULL;
	if (st == RESOLVER_BOGUS) {
		target_dns_failed(o, st, t->host);
		return;
	}
	if (st != RESOLVER_OK || n == 0) {
		/* Out of targets: an earlier target that was reached says
		   more than this one's DNS. */
		if (o->cur_target + 1 >= o->ntargets) {
			if (o->last_reason != NULL)
				fail(o, o->last_reason, o->last_cond, "%s",
				    o->last_detail);
			else
				dns_failed(o, st == RESOLVER_OK ?
				    RESOLVER_NOT_FOUND : st,
				    o->targets[o->cur_target].host);
			return;
		}
		next_target(o);
		return;
	}
	if (n > MAX_ADDRS)
		n = MAX_ADDRS;
	memcpy(o->addrs, addrs, n * sizeof(*addrs));
	o->naddrs = n;
	/* DANE only where the way to the target was secure: the SRV
	   answer (or its secure denial) and the addresses, as RFC 7672
	   2.2 asks of MX hosts. */
	if (o->l->s2s_out_dane && o->dns_secure && secure) {
		o->q = resolver_tlsa(o->res, t->host, t->port, on_tlsa, o);
		if (o->q == NULL)
			fail(o, "internal-error",
			    XMPP_COND_INTERNAL_SERVER_ERROR, "resolver_tlsa");
		return;
	}
	connect_target(o);
}

static void
next_target(struct s2sout *o)
{
	if (++o->cur_target >= o->ntargets) {
		o->cur_target = o->ntargets - 1;
		fail(o, o->last_reason ? o->last_reason : "connect-failed",
		    o->last_reason ? o->last_cond :
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s", o->last_detail);
		return;
	}
	dane_set_free(o->dane);
	o->dane = NULL;
	enter(o, S2SOUT_RESOLVE);
	o->q = resolver_addr(o->res, o->targets[o->cur_target].host,
	    o->targets[o->cur_target].port, on_addr, o);
	if (o->q == NULL)
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "resolver_addr");
}

/* ---- one attempt: connect, STARTTLS, handshake, verification ---- */

/* This address failed: try the next one, the next target, or give up. */
static void
attempt_failed(struct s2sout *o, const char *reason, enum xmpp_condition cond,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void
attempt_failed(struct s2sout *o, const char *reason, enum xmpp_condition cond,
    const char *fmt, ...)
{
	char d[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->last_detail, sizeof(o->last_detail), fmt, ap);
	va_end(ap);
	o->last_reason = reason;
	o->last_cond = cond;
	close_remote(o);
	o->proceed = 0;
	if (o->cur_addr + 1 >= o->naddrs && o->cur_target + 1 >= o->ntargets) {
		fail(o, reason, cond, "%s", o->last_detail);
		return;
	}
	log_msg(LOG_INFO, "event=s2s-out-retry session=%llu remote=%s "
	    "reason=%s address=%s detail=%s", o->id, o->remote, reason,
	    o->address, log_quote(o->last_detail, d, sizeof(d)));
	if (++o->cur_addr < o->naddrs) {
		next_address(o);
		return;
	}
	next_target(o);
}

static void on_remote_read(evutil_socket_t, short, void *);
static void on_remote_write(evutil_socket_t, short, void *);
static void remote_connected(struct s2sout *);

static void
on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct s2sout *o = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT) {
		attempt_failed(o, "connect-timeout",
		    XMPP_COND_REMOTE_CONNECTION_FAILED,
		    "no answer within backend_connect_timeout=%us",
		    o->cfg->limits.backend_connect_timeout);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		attempt_failed(o, "connect-failed",
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s", strerror(err));
		return;
	}
	event_free(o->ev_connect);
	o->ev_connect = NULL;
	remote_connected(o);
}

static void
next_address(struct s2sout *o)
{
	const struct sockaddr_storage *ss = &o->addrs[o->cur_addr];
	socklen_t len = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	struct timeval tv = { o->cfg->limits.backend_connect_timeout, 0 };

	enter(o, S2SOUT_CONNECT);
	addr_format((const struct sockaddr *)ss, len, o->address,
	    sizeof(o->address));
	o->rfd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (o->rfd == -1) {
		attempt_failed(o, "connect-failed",
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "socket: %s",
		    strerror(errno));
		return;
	}
	if (connect(o->rfd, (const struct sockaddr *)ss, len) == -1 &&
	    errno != EINPROGRESS) {
		attempt_failed(o, "connect-failed",
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s", strerror(errno));
		return;
	}
	o->ev_connect = event_new(o->srv->base, o->rfd, EV_WRITE, on_connect,
	    o);
	if (o->ev_connect == NULL) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	event_add(o->ev_connect, &tv);
}

static int remote_unit(void *, const struct xmlstream_unit *);

/*
 * A parser for the remote's next stream: pre-TLS (features checked for
 * <starttls/>) or relayed (features rewritten for the backend).  The
 * remote is a peer like any inbound s2s peer: the client bounds, and
 * before TLS (anyone on the path may speak) max_preauth_stanza_size,
 * since a header, features and <proceed/> are all it legitimately sends.
 */
static int
new_remote_stream(struct s2sout *o)
{
	static const struct xmlstream_callbacks cb = { .unit = remote_unit };
	struct xmlstream_limits lim;

	xmlstream_free(o->rx);
	memset(&lim, 0, sizeof(lim));
	lim.max_unit = o->state == S2SOUT_NEGOTIATE ?
	    o->cfg->limits.max_preauth_stanza_size :
	    o->cfg->limits.max_stanza_size;
	lim.max_depth = o->cfg->limits.max_depth;
	lim.max_attributes = o->cfg->limits.max_attributes;
	lim.max_name = o->cfg->limits.max_name_length;
	if ((o->rx = xmlstream_new(&lim, &cb, o)) == NULL)
		return -1;
	if (xmlstream_strip(o->rx, XMPP_NS_STREAMS, "features", XMPP_NS_TLS,
	    "starttls") == -1)
		return -1;
	/* Rule 2, mechanisms, is STRIPPED_SASL: keep the order. */
	if (o->state != S2SOUT_NEGOTIATE && (xmlstream_strip(o->rx,
	    XMPP_NS_STREAMS, "features", XMPP_NS_COMPRESS_FEATURE,
	    "compression") == -1 || xmlstream_strip(o->rx, XMPP_NS_STREAMS,
	    "features", XMPP_NS_SASL, "mechanisms") == -1))
		return -1;
	return 0;
}

static int
start_tls(struct s2sout *o)
{
	const struct s2starget *t = &o->targets[o->cur_target];

	o->tls = tls_client_new(o->gen->tls, o->ours, o->remote,
	    t->direct_tls, o->rfd);
	if (o->tls == NULL) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "tls_client_new");
		return -1;
	}
	enter(o, S2SOUT_HANDSHAKE);
	return 0;
}

/* Our stream header to the remote, before STARTTLS and after SASL. */
static void
write_our_header(struct s2sout *o)
{
	char buf[1024];
	int n;

	/* Both names are host names (checked), nothing to escape. */
	n = snprintf(buf, sizeof(buf), "<?xml version='1.0'?><stream:stream "
	    "xmlns='" XMPP_NS_SERVER "' xmlns:stream='" XMPP_NS_STREAMS "' "
	    "xmlns:db='" XMPP_NS_DIALBACK "' from='%s' to='%s' "
	    "version='1.0'>", o->ours, o->remote);
	evbuffer_add(o->remote_out, buf, (size_t)n);
}

static void
remote_connected(struct s2sout *o)
{
	const struct s2starget *t = &o->targets[o->cur_target];

	o->ev_rread = event_new(o->srv->base, o->rfd, EV_READ | EV_PERSIST,
	    on_remote_read, o);
	o->ev_rwrite = event_new(o->srv->base, o->rfd, EV_WRITE,
	    on_remote_write, o);
	if (o->ev_rread == NULL || o->ev_rwrite == NULL) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	event_add(o->ev_rread, NULL);
	if (t->direct_tls) {
		if (start_tls(o) == 0)
			read_remote(o);	/* starts the handshake */
		return;
	}
	enter(o, S2SOUT_NEGOTIATE);
	if (new_remote_stream(o) == -1) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	write_our_header(o);
	flush_remote(o);
}

/* After the handshake: is the remote who DNS said? */
static int
verify_remote(struct s2sout *o)
{
	struct peercert *pc = tls_peer_certificate(o->tls);
	enum config_s2s_verify pol = o->l->s2s_verify;
	const char *problem, *why = NULL;
	enum certname_match m = CERTNAME_NONE;
	enum dane_result dr = DANE_NONE;
	const unsigned char *der[8];
	size_t len[8], nder;
	char issuer[200];

	if (pc == NULL) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return -1;
	}
	problem = peercert_problem(pc);
	log_escape(peercert_issuer(pc), issuer, sizeof(issuer));
	metrics_handshake(o->l->name, tls_version(o->tls), tls_cipher(o->tls),
	    tls_group(o->tls), 0);
	if (o->dane != NULL) {
		/* A secure TLSA set decides, whatever s2s_verify says: the
		   remote published which keys are its own. */
		nder = peercert_chain(pc, der, len, 8);
		dr = dane_check(o->dane, der, len, nder);
		if (dr == DANE_TA)
			m = peercert_match(pc, o->remote);
		peercert_free(pc);
		if (dr == DANE_MISMATCH || (dr == DANE_TA &&
		    m == CERTNAME_NONE)) {
			why = dr == DANE_TA ? "dane-ta-name-mismatch" :
			    "dane-mismatch";
			metrics_s2s_peer(o->l->name, why);
			attempt_failed(o, "peer-unverified",
			    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s: "
			    "certificate %s, issuer %s", why,
			    problem ? problem : "pkix-valid", issuer);
			return -1;
		}
	} else {
		if (problem != NULL)
			why = problem;
		else if ((m = peercert_match(pc, o->remote)) ==
		    CERTNAME_NONE)
			why = "name-mismatch";
		peercert_free(pc);
	}
	metrics_s2s_peer(o->l->name, why);
	if (why != NULL && pol == CONFIG_S2S_VERIFY_REQUIRE) {
		attempt_failed(o, "peer-unverified",
		    XMPP_COND_REMOTE_CONNECTION_FAILED,
		    "certificate: %s, issuer %s", why, issuer);
		return -1;
	}
	log_msg(LOG_NOTICE, "event=s2s-out-established session=%llu "
	    "listener=%s from=%s remote=%s address=%s direct=%s tls=%s "
	    "cipher=%s verified=%s name=%s issuer=%s policy=%s dane=%s",
	    o->id, o->l->name, o->ours, o->remote, o->address,
	    o->targets[o->cur_target].direct_tls ? "yes" : "no",
	    tls_version(o->tls), tls_cipher(o->tls),
	    why == NULL ? "yes" : why, certname_match_name(m), issuer,
	    s2speer_policy_name(pol), !o->l->s2s_out_dane ? "off" :
	    o->dane == NULL ? "none" : dane_result_name(dr));
	/* Not needed while relaying (a failed attempt keeps it for the
	   target's next address). */
	dane_set_free(o->dane);
	o->dane = NULL;
	return 0;
}

static void
start_relay(struct s2sout *o)
{
	enter(o, S2SOUT_RELAY);
	if (new_remote_stream(o) == -1) {
		fail(o, "internal-error", XMPP_COND_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	/* Until the remote's features say how we authenticate, the
	   connection's deadline still runs and the backend waits. */
	o->auth = S2SOUT_AUTH_FEATURES;
	/* The backend's header, as it came, and whatever followed it. */
	evbuffer_add_buffer(o->remote_out, o->to_remote);
	flush_remote(o);
	if (o->state != S2SOUT_RELAY)
		return;
	read_backend(o);
}

static void
handshake(struct s2sout *o)
{
	switch (tls_handshake(o->tls)) {
	case TLS_IO_OK:
		if (verify_remote(o) == 0)
			start_relay(o);
		return;
	case TLS_IO_WANT_WRITE:
		event_add(o->ev_rwrite, NULL);
		return;
	case TLS_IO_WANT_READ:
		return;
	case TLS_IO_EOF:
	case TLS_IO_ERROR:
		metrics_handshake_failed(o->l->name,
		    tls_error_reason(o->tls));
		attempt_failed(o, "tls-failed",
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s: %s",
		    tls_error_reason(o->tls), tls_error_detail(o->tls));
		return;
	}
}

/* ---- the remote's units ---- */

/* A failure found in a parser callback, acted on by feed_remote(). */
static int
defer_fail(struct s2sout *o, const char *reason, const char *detail)
{
	o->defer_fail = reason;
	snprintf(o->last_detail, sizeof(o->last_detail), "%.150s", detail);
	return XMLSTREAM_STOP;
}

#define FORWARD	(-2)	/* auth_unit(): relay the unit as usual */

/* The remote's first header and features, held while SASL was tried,
   go to the backend as they came. */
static void
release_features(struct s2sout *o)
{
	if (o->features == NULL || evbuffer_get_length(o->features) == 0)
		return;
	bufferevent_write_buffer(o->bev, o->features);
	o->header_sent = 1;
}

/*
 * The remote's units while authentication is being settled.  Invariant
 * 7 holds on both sides: the remote's parser restarts exactly behind
 * <success/>, where the remote restarts; the backend reads one stream,
 * unrestarted: the remote's first header and features when SASL is not
 * used, else our header and DIALBACK_FEATURES in place of the remote's
 * two streams, which only we see.
 */
static int
auth_unit(struct s2sout *o, const struct xmlstream_unit *u)
{
	char buf[512];
	size_t n;
	int features = u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_STREAMS) == 0 &&
	    strcmp(u->name, "features") == 0;
	int sasl = u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_SASL) == 0;

	switch (o->auth) {
	case S2SOUT_AUTH_FEATURES:
		if (u->kind == XMLSTREAM_UNIT_HEADER) {
			/* A stream before version 1.0 has no features:
			   dialback at once. */
			if (u->header->version == NULL ||
			    strncmp(u->header->version, "1.", 2) != 0) {
				settle_auth(o, S2SOUT_AUTH_NONE);
				return FORWARD;
			}
			/* Held: after EXTERNAL the backend gets our header
			   instead, which declares dialback (a remote without
			   dialback declares no xmlns:db, and ejabberd then
			   will not do it). */
			if ((o->features == NULL &&
			    (o->features = evbuffer_new()) == NULL) ||
			    evbuffer_add(o->features, u->data, u->len) == -1)
				return defer_fail(o, "internal-error",
				    "out of memory");
			return XMLSTREAM_CONTINUE;
		}
		if (u->kind == XMLSTREAM_UNIT_WHITESPACE)
			return XMLSTREAM_CONTINUE;
		if (!features || !(u->stripped_rules & STRIPPED_SASL)) {
			/* No SASL: the backend's own dialback, on the
			   remote's stream as it came. */
			release_features(o);
			settle_auth(o, S2SOUT_AUTH_NONE);
			return FORWARD;
		}
		/* SASL offered after TLS, on s2s: EXTERNAL, which the remote
		   offers only for a certificate it accepted. */
		if (evbuffer_add(o->features, u->data, u->len) == -1 ||
		    (n = xmpp_write_sasl_external(buf, sizeof(buf),
		    o->ours)) == 0)
			return defer_fail(o, "internal-error", "out of memory");
		evbuffer_add(o->remote_out, buf, n);
		o->auth = S2SOUT_AUTH_SENT;
		return XMLSTREAM_CONTINUE;
	case S2SOUT_AUTH_SENT:
		if (u->kind == XMLSTREAM_UNIT_WHITESPACE)
			return XMLSTREAM_CONTINUE;
		if (sasl && strcmp(u->name, "success") == 0) {
			write_our_header(o);
			o->auth = S2SOUT_AUTH_RESTART;
			return XMLSTREAM_RESTART;
		}
		if (sasl && strcmp(u->name, "failure") == 0) {
			/* The remote refused our certificate: the backend's
			   dialback may still convince it. */
			log_msg(LOG_WARNING, "event=s2s-out-auth-failed "
			    "session=%llu listener=%s from=%s remote=%s "
			    "address=%s mechanism=external fallback=dialback",
			    o->id, o->l->name, o->ours, o->remote,
			    o->address);
			metrics_sasl_external(o->l->name, 0);
			release_features(o);
			settle_auth(o, S2SOUT_AUTH_NONE);
			return XMLSTREAM_CONTINUE;
		}
		snprintf(buf, sizeof(buf), "<%.40s> after <auth/>",
		    u->kind == XMLSTREAM_UNIT_END ? "/stream:stream" :
		    u->kind == XMLSTREAM_UNIT_HEADER ? "stream:stream" :
		    u->name);
		return defer_fail(o, "auth-failed", buf);
	case S2SOUT_AUTH_RESTART:
		/* The new stream's header and features are ours alone. */
		if (u->kind == XMLSTREAM_UNIT_HEADER ||
		    u->kind == XMLSTREAM_UNIT_WHITESPACE)
			return XMLSTREAM_CONTINUE;
		if (features) {
			n = xmpp_write_header(buf, sizeof(buf), LISTENER_S2S,
			    o->remote, o->stream_id);
			bufferevent_write(o->bev, buf, n);
			o->header_sent = 1;
			bufferevent_write(o->bev, DIALBACK_FEATURES,
			    strlen(DIALBACK_FEATURES));
			log_msg(LOG_NOTICE, "event=s2s-out-authenticated "
			    "session=%llu listener=%s from=%s remote=%s "
			    "address=%s mechanism=external", o->id,
			    o->l->name, o->ours, o->remote, o->address);
			metrics_sasl_external(o->l->name, 1);
			settle_auth(o, S2SOUT_AUTH_DONE);
			return XMLSTREAM_CONTINUE;
		}
		snprintf(buf, sizeof(buf), "<%.40s> instead of features "
		    "after <success/>", u->kind == XMLSTREAM_UNIT_END ?
		    "/stream:stream" : u->name);
		return defer_fail(o, "auth-failed", buf);
	case S2SOUT_AUTH_NONE:
	case S2SOUT_AUTH_DONE:
		break;
	}
	return FORWARD;
}

static int
remote_unit(void *arg, const struct xmlstream_unit *u)
{
	struct s2sout *o = arg;
	int r;

	if (o->state == S2SOUT_NEGOTIATE) {
		if (u->kind == XMLSTREAM_UNIT_HEADER ||
		    u->kind == XMLSTREAM_UNIT_WHITESPACE)
			return XMLSTREAM_CONTINUE;
		if (u->kind == XMLSTREAM_UNIT_ELEMENT &&
		    strcmp(u->ns, XMPP_NS_STREAMS) == 0 &&
		    strcmp(u->name, "features") == 0) {
			if (u->stripped == 0) {
				o->defer_reason = "no-starttls";
				snprintf(o->last_detail,
				    sizeof(o->last_detail), "%s",
				    "the remote offers no <starttls/>");
				return XMLSTREAM_STOP;
			}
			evbuffer_add(o->remote_out, "<starttls xmlns='"
			    XMPP_NS_TLS "'/>", strlen("<starttls xmlns='"
			    XMPP_NS_TLS "'/>"));
			return XMLSTREAM_CONTINUE;
		}
		if (u->kind == XMLSTREAM_UNIT_ELEMENT &&
		    strcmp(u->ns, XMPP_NS_TLS) == 0 &&
		    strcmp(u->name, "proceed") == 0) {
			o->proceed = 1;
			return XMLSTREAM_STOP;
		}
		o->defer_reason = "no-starttls";
		snprintf(o->last_detail, sizeof(o->last_detail),
		    "unexpected <%.40s> before TLS", u->kind ==
		    XMLSTREAM_UNIT_END ? "/stream:stream" : u->name);
		return XMLSTREAM_STOP;
	}
	if (o->state != S2SOUT_RELAY)
		return XMLSTREAM_STOP;
	if (auth_busy(o) && (r = auth_unit(o, u)) != FORWARD)
		return r;
	bufferevent_write(o->bev, u->data, u->len);
	if (u->kind == XMLSTREAM_UNIT_HEADER)
		o->header_sent = 1;
	if (u->kind == XMLSTREAM_UNIT_END) {
		o->remote_ended = 1;
		return XMLSTREAM_STOP;
	}
	return XMLSTREAM_CONTINUE;
}

/* The remote broke its stream (or ours): end both. */
static void
remote_gone(struct s2sout *o, const char *reason, enum xmpp_condition cond,
    const char *detail)
{
	char d[200];

	if (o->state == S2SOUT_CLOSING)
		return;
	log_msg(LOG_NOTICE, "event=s2s-out-closed session=%llu listener=%s "
	    "from=%s remote=%s address=%s reason=%s detail=%s duration=%.3f",
	    o->id, o->l->name, o->ours, o->remote, o->address, reason,
	    log_quote(detail, d, sizeof(d)), monotime_now() - o->start);
	o->reason = reason;
	end_backend(o, cond, NULL);
	finish(o);
}

/*
 * The remote's stream broke restricted XML or a limit while relaying:
 * it gets the stream error an inbound peer would (best effort, before
 * the socket closes), the line names the rule (detail=stanza-too-large
 * limit=...), the backend gets <remote-connection-failed/>.
 */
static void
remote_bad_xml(struct s2sout *o)
{
	struct verdict v;
	char buf[512], detail[300];
	size_t n;

	verdict_from_xmlstream(&v, o->rx);
	n = xmpp_write_stream_error(buf, sizeof(buf), v.cond, v.text);
	evbuffer_add(o->remote_out, buf, n);
	flush_remote(o);
	if (o->state == S2SOUT_CLOSING)
		return;
	snprintf(detail, sizeof(detail), "%s%s", v.reason, v.fields);
	remote_gone(o, "remote-xml", XMPP_COND_REMOTE_CONNECTION_FAILED,
	    detail);
}

static void
feed_remote(struct s2sout *o, const char *buf, size_t n)
{
	const char *tail, *reason;
	size_t tlen;
	int r;

	r = xmlstream_feed(o->rx, buf, n);
	if (o->state == S2SOUT_CLOSING || o->rx == NULL)
		return;
	if (o->defer_reason != NULL) {
		char d[160];

		snprintf(d, sizeof(d), "%s", o->last_detail);
		reason = o->defer_reason;
		o->defer_reason = NULL;
		attempt_failed(o, reason, XMPP_COND_REMOTE_CONNECTION_FAILED,
		    "%s", d);
		return;
	}
	if (o->defer_fail != NULL) {
		reason = o->defer_fail;
		o->defer_fail = NULL;
		fail(o, reason, XMPP_COND_REMOTE_CONNECTION_FAILED, "%s",
		    o->last_detail);
		return;
	}
	if (evbuffer_get_length(o->remote_out) > 0)
		flush_remote(o);
	if (o->state == S2SOUT_CLOSING || o->rx == NULL)
		return;
	if (o->resume_backend) {
		o->resume_backend = 0;
		bufferevent_enable(o->bev, EV_READ);
		read_backend(o);
		if (o->state == S2SOUT_CLOSING || o->rx == NULL)
			return;
	}
	if (r == -1) {
		if (o->state == S2SOUT_NEGOTIATE)
			attempt_failed(o, "no-starttls",
			    XMPP_COND_REMOTE_CONNECTION_FAILED, "%s",
			    xmlstream_strerror(xmlstream_error(o->rx)));
		else
			remote_bad_xml(o);
		return;
	}
	if (r == 1 && o->proceed) {
		/* STARTTLS injection from the remote's side: nothing may
		   follow <proceed/> in the clear. */
		xmlstream_tail(o->rx, &tail, &tlen);
		if (tlen != 0) {
			attempt_failed(o, "tls-failed",
			    XMPP_COND_REMOTE_CONNECTION_FAILED,
			    "bytes behind <proceed/>");
			return;
		}
		o->proceed = 0;
		if (start_tls(o) == 0)
			handshake(o);
		return;
	}
	if (r == 1 && o->remote_ended && o->state == S2SOUT_RELAY) {
		/* </stream:stream> already went to the backend. */
		log_msg(LOG_INFO, "event=s2s-out-closed session=%llu "
		    "listener=%s from=%s remote=%s address=%s "
		    "reason=remote-closed detail=- duration=%.3f", o->id,
		    o->l->name, o->ours, o->remote, o->address,
		    monotime_now() - o->start);
		o->reason = "remote-closed";
		finish(o);
	}
}

static void
read_remote(struct s2sout *o)
{
	char buf[READ_CHUNK];
	unsigned attempt = o->attempt;
	size_t n;
	ssize_t k;

	/* Only this socket: a failed attempt may already have opened the
	   next one, which is still connecting. */
	while (o->attempt == attempt && o->rfd != -1 && !o->remote_paused &&
	    (o->state == S2SOUT_NEGOTIATE || o->state == S2SOUT_HANDSHAKE ||
	    o->state == S2SOUT_RELAY)) {
		if (o->state == S2SOUT_HANDSHAKE) {
			handshake(o);
			if (o->state == S2SOUT_HANDSHAKE)
				return;	/* waiting */
			continue;
		}
		if (o->tls == NULL) {
			k = recv(o->rfd, buf, sizeof(buf), 0);
			if (k == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			if (k <= 0) {
				attempt_failed(o, "no-starttls",
				    XMPP_COND_REMOTE_CONNECTION_FAILED,
				    "the remote closed before TLS");
				return;
			}
			/* Before TLS only as far as <proceed/>: the rest is
			   checked in the tail. */
			feed_remote(o, buf, (size_t)k);
			continue;
		}
		switch (tls_read(o->tls, buf, sizeof(buf), &n)) {
		case TLS_IO_OK:
			feed_remote(o, buf, n);
			if (o->state == S2SOUT_RELAY &&
			    evbuffer_get_length(bufferevent_get_output(o->bev))
			    >= o->cfg->limits.buffer_size)
				o->remote_paused = 1;
			continue;
		case TLS_IO_WANT_WRITE:
			event_add(o->ev_rwrite, NULL);
			return;
		case TLS_IO_WANT_READ:
			return;
		case TLS_IO_EOF:
			remote_gone(o, "remote-closed",
			    XMPP_COND_REMOTE_CONNECTION_FAILED, "eof");
			return;
		case TLS_IO_ERROR:
			remote_gone(o, "tls-failed",
			    XMPP_COND_REMOTE_CONNECTION_FAILED,
			    tls_error_reason(o->tls));
			return;
		}
	}
}

static void
on_remote_read(evutil_socket_t fd, short what, void *arg)
{
	struct s2sout *o = arg;

	(void)fd;
	(void)what;
	if (o->tls != NULL)
		tls_readable(o->tls);
	read_remote(o);
}

static void
on_remote_write(evutil_socket_t fd, short what, void *arg)
{
	struct s2sout *o = arg;
	unsigned attempt;

	(void)fd;
	(void)what;
	if (o->state == S2SOUT_HANDSHAKE) {
		handshake(o);
		return;
	}
	attempt = o->attempt;
	flush_remote(o);
	if (o->attempt == attempt)
		read_remote(o);
}

/* Send what waits for the remote; resumes the backend below half. */
static void
flush_remote(struct s2sout *o)
{
	size_t n, len;
	unsigned char *p;

	while (o->rfd != -1 &&
	    (len = evbuffer_get_length(o->remote_out)) > 0) {
		if (o->tls == NULL) {
			if (evbuffer_write(o->remote_out, o->rfd) == -1 &&
			    errno != EAGAIN && errno != EINTR) {
				attempt_failed(o, "connect-failed",
				    XMPP_COND_REMOTE_CONNECTION_FAILED,
				    "send: %s", strerror(errno));
				return;
			}
			if (evbuffer_get_length(o->remote_out) > 0)
				event_add(o->ev_rwrite, NULL);
			return;
		}
		if (o->state == S2SOUT_HANDSHAKE)
			return;
		if (o->tls_write_len == 0)
			o->tls_write_len = len < READ_CHUNK ? len : READ_CHUNK;
		p = evbuffer_pullup(o->remote_out, (ssize_t)o->tls_write_len);
		switch (tls_write(o->tls, p, o->tls_write_len, &n)) {
		case TLS_IO_OK:
			evbuffer_drain(o->remote_out, n);
			o->tls_write_len = 0;
			continue;
		case TLS_IO_WANT_WRITE:
		case TLS_IO_WANT_READ:
			event_add(o->ev_rwrite, NULL);
			return;
		case TLS_IO_EOF:
		case TLS_IO_ERROR:
			remote_gone(o, "tls-failed",
			    XMPP_COND_REMOTE_CONNECTION_FAILED,
			    tls_error_reason(o->tls));
			return;
		}
	}
	if (o->backend_paused && o->state == S2SOUT_RELAY && !auth_busy(o) &&
	    evbuffer_get_length(o->remote_out) <
	    o->cfg->limits.buffer_size / 2) {
		o->backend_paused = 0;
		bufferevent_enable(o->bev, EV_READ);
	}
}

/* ---- the backend ---- */

/*
 * After SASL EXTERNAL, the backend's dialback request (<db:result/>
 * without type, XEP-0220 2.1) is answered here: valid for the pair the
 * remote authenticated, invalid for any other (the remote vouched for
 * one domain only).  1 if answered, 0 to relay it (names that are no
 * host names: the remote answers those).
 */
static int
answer_dialback(struct s2sout *o, const struct xmlstream_unit *u)
{
	char from[256], to[256], type[16], buf[700];
	int valid, n;

	if (xmpp_start_tag_attr(u->data, u->len, "type", type, sizeof(type)) ||
	    !xmpp_start_tag_attr(u->data, u->len, "from", from,
	    sizeof(from)) ||
	    !xmpp_start_tag_attr(u->data, u->len, "to", to, sizeof(to)))
		return 0;
	xmpp_lower(from);
	xmpp_lower(to);
	if (!hostname_ok(from) || !hostname_ok(to))
		return 0;
	valid = strcmp(from, o->ours) == 0 && strcmp(to, o->remote) == 0;
	n = snprintf(buf, sizeof(buf), "<db:result xmlns:db='"
	    XMPP_NS_DIALBACK "' from='%s' to='%s' type='%s'/>", to, from,
	    valid ? "valid" : "invalid");
	bufferevent_write(o->bev, buf, (size_t)n);
	log_msg(valid ? LOG_INFO : LOG_NOTICE, "event=s2s-out-dialback "
	    "session=%llu listener=%s from=%s to=%s remote=%s result=%s",
	    o->id, o->l->name, from, to, o->remote,
	    valid ? "valid" : "invalid");
	return 1;
}

static int
backend_unit(void *arg, const struct xmlstream_unit *u)
{
	struct s2sout *o = arg;
	const struct xmlstream_header *h;

	if (o->state == S2SOUT_CLOSING)
		return XMLSTREAM_STOP;
	if (u->kind == XMLSTREAM_UNIT_HEADER && !o->backend_header) {
		h = u->header;
		if (h->ns == NULL || strcmp(h->ns, XMPP_NS_STREAMS) != 0 ||
		    strcmp(h->name, "stream") != 0 || h->default_ns == NULL ||
		    strcmp(h->default_ns, XMPP_NS_SERVER) != 0) {
			fail(o, "bad-header", XMPP_COND_INVALID_NAMESPACE,
			    "not a jabber:server stream");
			return XMLSTREAM_STOP;
		}
		if (h->from == NULL ||
		    !config_listener_serves(o->l, h->from)) {
			fail(o, "bad-header", XMPP_COND_HOST_UNKNOWN,
			    "from names no domain of this listener");
			return XMLSTREAM_STOP;
		}
		snprintf(o->ours, sizeof(o->ours), "%s", h->from);
		xmpp_lower(o->ours);
		if (h->to == NULL || strlen(h->to) >= sizeof(o->remote) ||
		    (snprintf(o->remote, sizeof(o->remote), "%s", h->to),
		    xmpp_lower(o->remote), !hostname_ok(o->remote)) ||
		    config_find_domain(o->cfg, o->remote) != NULL) {
			o->remote[0] = '\0';
			fail(o, "bad-header", XMPP_COND_HOST_UNKNOWN,
			    "to names no remote domain");
			return XMLSTREAM_STOP;
		}
		o->backend_header = 1;
		evbuffer_add(o->to_remote, u->data, u->len);
		enter(o, S2SOUT_RESOLVE);
		o->q = resolver_srv(o->res, o->remote, on_srv, o);
		if (o->q == NULL)
			fail(o, "internal-error",
			    XMPP_COND_INTERNAL_SERVER_ERROR, "resolver_srv");
		return XMLSTREAM_CONTINUE;
	}
	if (u->kind == XMLSTREAM_UNIT_HEADER) {
		fail(o, "bad-header", XMPP_COND_POLICY_VIOLATION,
		    "stream restart");
		return XMLSTREAM_STOP;
	}
	/* Incoming SASL EXTERNAL (relay.c, dialbackkey.h): the backend
	   verifies a key xmppshield gave it for a peer that authenticated
	   by certificate on an s2s listener.  Answered here, valid, never
	   relayed (the remote may not speak dialback at all); any other
	   <db:verify/> goes to the remote. */
	if (o->state == S2SOUT_RELAY && o->header_sent &&
	    u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
	    strcmp(u->name, "verify") == 0) {
		char ans[1024];
		size_t n = dialbackkey_answer(u->data, u->len, o->ours,
		    o->remote, ans, sizeof(ans));

		if (n > 0) {
			bufferevent_write(o->bev, ans, n);
			log_msg(LOG_INFO, "event=s2s-out-verify "
			    "session=%llu listener=%s from=%s remote=%s "
			    "result=valid", o->id, o->l->name, o->ours,
			    o->remote);
			return XMLSTREAM_CONTINUE;
		}
	}
	if (o->state == S2SOUT_RELAY && o->auth == S2SOUT_AUTH_DONE &&
	    u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
	    strcmp(u->name, "result") == 0 && answer_dialback(o, u))
		return XMLSTREAM_CONTINUE;
	evbuffer_add(o->state == S2SOUT_RELAY ? o->remote_out : o->to_remote,
	    u->data, u->len);
	if (u->kind == XMLSTREAM_UNIT_END) {
		o->backend_ended = 1;
		if (o->state != S2SOUT_RELAY) {
			log_msg(LOG_INFO, "event=s2s-out-closed session=%llu "
			    "listener=%s from=%s remote=%s address=%s "
			    "reason=backend-closed detail=stream-end "
			    "duration=%.3f", o->id, o->l->name,
			    o->ours[0] ? o->ours : "-",
			    o->remote[0] ? o->remote : "-",
			    o->address[0] ? o->address : "-",
			    monotime_now() - o->start);
			o->reason = "backend-closed";
			end_backend(o, XMPP_COND_NONE, NULL);
			finish(o);
		}
		return XMLSTREAM_STOP;
	}
	return XMLSTREAM_CONTINUE;
}

static void
read_backend(struct s2sout *o)
{
	struct evbuffer *in = bufferevent_get_input(o->bev);
	struct verdict v;
	unsigned char *p;
	size_t n;

	if (o->state == S2SOUT_RELAY && auth_busy(o)) {
		/* Its features are not written yet: nothing but whitespace
		   can come, and it waits unread. */
		bufferevent_disable(o->bev, EV_READ);
		return;
	}
	while (o->state != S2SOUT_CLOSING && !o->backend_ended &&
	    (n = evbuffer_get_length(in)) > 0) {
		if (o->state != S2SOUT_RELAY && o->backend_header &&
		    evbuffer_get_length(o->to_remote) >=
		    o->cfg->limits.buffer_size)
			break;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		p = evbuffer_pullup(in, (ssize_t)n);
		if (xmlstream_feed(o->bx, (const char *)p, n) == -1) {
			if (o->state == S2SOUT_CLOSING)
				return;
			log_msg(LOG_WARNING, "event=s2s-out-failed "
			    "session=%llu listener=%s backend=%s from=%s "
			    "remote=%s reason=backend-xml state=%s "
			    "target=- address=- detail=%s", o->id,
			    o->l->name, o->backend_addr,
			    o->ours[0] ? o->ours : "-",
			    o->remote[0] ? o->remote : "-",
			    s2sout_strstate(o->state),
			    xmlstream_strerror(xmlstream_error(o->bx)));
			o->reason = "backend-xml";
			o->failed = 1;
			if (o->state == S2SOUT_RELAY && o->rfd != -1) {
				evbuffer_add(o->remote_out, XMPP_STREAM_END,
				    strlen(XMPP_STREAM_END));
				flush_remote(o);
			}
			/* The stream error a client would get (a limit:
			   <policy-violation/>). */
			verdict_from_xmlstream(&v, o->bx);
			end_backend(o, v.cond, v.text);
			finish(o);
			return;
		}
		evbuffer_drain(in, n);
	}
	if (o->state == S2SOUT_RELAY) {
		flush_remote(o);
		if (o->state != S2SOUT_RELAY)
			return;
		if (evbuffer_get_length(o->remote_out) >=
		    o->cfg->limits.buffer_size) {
			o->backend_paused = 1;
			bufferevent_disable(o->bev, EV_READ);
		}
	} else if (o->backend_header && evbuffer_get_length(o->to_remote) >=
	    o->cfg->limits.buffer_size) {
		o->backend_paused = 1;
		bufferevent_disable(o->bev, EV_READ);
	}
}

static void
on_backend_read(struct bufferevent *bev, void *arg)
{
	struct s2sout *o = arg;
	struct timeval tv = { o->cfg->limits.idle_timeout, 0 };

	(void)bev;
	if (o->state == S2SOUT_RELAY && !auth_busy(o) &&
	    o->cfg->limits.idle_timeout)
		event_add(o->ev_timer, &tv);
	read_backend(o);
}

static void
on_backend_write(struct bufferevent *bev, void *arg)
{
	struct s2sout *o = arg;

	(void)bev;
	if (o->state == S2SOUT_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(o->bev)) == 0)
			event_active(o->ev_timer, EV_TIMEOUT, 0);
		return;
	}
	if (o->remote_paused) {
		o->remote_paused = 0;
		read_remote(o);
	}
}

static void
on_backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct s2sout *o = arg;

	(void)bev;
	if (o->state == S2SOUT_CLOSING) {
		s2sout_free(o);
		return;
	}
	if (o->state != S2SOUT_RELAY) {
		log_msg(LOG_INFO, "event=s2s-out-closed session=%llu "
		    "listener=%s from=%s remote=%s address=%s "
		    "reason=backend-closed detail=%s duration=%.3f", o->id,
		    o->l->name, o->ours[0] ? o->ours : "-",
		    o->remote[0] ? o->remote : "-",
		    o->address[0] ? o->address : "-",
		    (what & BEV_EVENT_EOF) ? "eof" : "error",
		    monotime_now() - o->start);
		o->reason = "backend-closed";
		s2sout_free(o);
		return;
	}
	log_msg(LOG_INFO, "event=s2s-out-closed session=%llu listener=%s "
	    "from=%s remote=%s address=%s reason=backend-closed detail=%s "
	    "duration=%.3f", o->id, o->l->name, o->ours, o->remote,
	    o->address, (what & BEV_EVENT_EOF) ? "eof" : "error",
	    monotime_now() - o->start);
	if (o->rfd != -1) {
		evbuffer_add(o->remote_out, XMPP_STREAM_END,
		    strlen(XMPP_STREAM_END));
		flush_remote(o);
	}
	o->reason = "backend-closed";
	s2sout_free(o);
}

/*
 * Where the backend meant to connect, when a firewall redirect (nftables
 * "redirect", iptables REDIRECT) brought it here: the destination before
 * NAT, from conntrack.  "-" when it connected here itself.  Only for the
 * log: the remote domain is the header's 'to'.
 */
static void
original_destination(int fd, char *buf, size_t len)
{
	struct sockaddr_storage orig, local;
	socklen_t olen = sizeof(orig), llen = sizeof(local);
	int r;

	snprintf(buf, len, "-");
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1)
		return;
	if (local.ss_family == AF_INET6)
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig,
		    &olen);
	else
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &olen);
	if (r == -1 || addr_equal((struct sockaddr *)&orig, olen,
	    (struct sockaddr *)&local, llen))
		return;
	addr_format((struct sockaddr *)&orig, olen, buf, len);
}

void
s2sout_accept(struct server *srv, const struct config_listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	static const struct xmlstream_callbacks bcb = { .unit = backend_unit };
	struct xmlstream_limits lim;
	struct timeval tv;
	struct s2sout *o;
	unsigned char rnd[8];
	char err[256], orig[64];
	unsigned timeout;

	if ((o = calloc(1, sizeof(*o))) == NULL) {
		close(fd);
		log_msg(LOG_ERR, "event=internal-error reason=s2s-out-setup "
		    "listener=%s", l->name);
		return;
	}
	o->srv = srv;
	o->gen = generation_ref(srv->gen);
	o->cfg = o->gen->cfg;
	o->l = l;
	o->id = ++srv->next_id;
	o->rfd = -1;
	o->start = monotime_now();
	o->state = S2SOUT_HEADER;
	addr_format(peer, peerlen, o->backend_addr, sizeof(o->backend_addr));
	if (tls_random(o->gen->tls, rnd, sizeof(rnd)) != 0)
		memset(rnd, 0, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(o->stream_id + 2 * i, 3, "%02x", rnd[i]);
	srv->nsessions++;
	TAILQ_INSERT_TAIL(&all, o, entry);
	metrics_accepted(l->name);

	/* The backend's stream carries our users' stanzas and those it
	   relays for others (MUC, PubSub): the bounds a backend gets on
	   the inbound relay, not a client's (docs/SECURITY.md). */
	relay_backend_limits(o->cfg, &lim);
	timeout = l->s2s_out_timeout;
	o->bx = xmlstream_new(&lim, &bcb, o);
	o->to_remote = evbuffer_new();
	o->remote_out = evbuffer_new();
	o->ev_timer = evtimer_new(srv->base, on_timer, o);
	o->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (o->bev == NULL)
		close(fd);
	if (!o->bx || !o->to_remote || !o->remote_out || !o->ev_timer ||
	    !o->bev)
		goto fail;
	/* A third of the deadline for each DNS query, so that a silent
	   resolver is named as such (dns-timeout). */
	if (l->s2s_out_dane)
		o->res = resolver_new_dnssec(srv->base, l->s2s_out_resolver,
		    l->s2s_out_dnssec_anchor, timeout * 1000 / 3, err,
		    sizeof(err));
	else
		o->res = resolver_new(srv->base, l->s2s_out_resolver,
		    timeout * 1000 / 3, err, sizeof(err));
	if (o->res == NULL) {
		log_msg(LOG_ERR, "event=internal-error reason=s2s-out-setup "
		    "listener=%s detail=%s", l->name,
		    log_quote(err, (char[200]){0}, 200));
		s2sout_free(o);
		return;
	}
	bufferevent_setcb(o->bev, on_backend_read, on_backend_write,
	    on_backend_event, o);
	bufferevent_setwatermark(o->bev, EV_WRITE,
	    o->cfg->limits.buffer_size / 2, 0);
	bufferevent_enable(o->bev, EV_READ);
	original_destination(fd, orig, sizeof(orig));
	log_msg(LOG_INFO, "event=s2s-out-accept session=%llu backend=%s "
	    "listener=%s original=%s", o->id, o->backend_addr, l->name, orig);
	/* One deadline from accept to relaying: header, DNS, connections,
	   TLS, whatever the remote or its DNS do. */
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	event_add(o->ev_timer, &tv);
	return;
fail:
	log_msg(LOG_ERR, "event=internal-error reason=s2s-out-setup "
	    "listener=%s", l->name);
	s2sout_free(o);
}

void
s2sout_shutdown_all(struct server *srv)
{
	struct s2sout *o, *next;

	for (o = TAILQ_FIRST(&all); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o->srv != srv || o->state == S2SOUT_CLOSING)
			continue;
		if (o->state != S2SOUT_RELAY) {
			fail(o, "shutdown", XMPP_COND_SYSTEM_SHUTDOWN, "%s",
			    "xmppshield is stopping");
			continue;
		}
		o->reason = "shutdown";
		/* Both directions move whole units: this lands between
		   stanzas. */
		close_relay(o, "shutdown", XMPP_COND_SYSTEM_SHUTDOWN);
	}
}

unsigned
s2sout_count_old(const struct server *srv)
{
	const struct s2sout *o;
	unsigned n = 0;

	TAILQ_FOREACH(o, &all, entry)
		if (o->srv == srv && o->gen != srv->gen)
			n++;
	return n;
}
