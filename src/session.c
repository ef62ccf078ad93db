/*
 * session.c - one client connection; see session.h for the states.
 *
 * The client socket is driven by two raw events (read, write) because
 * mbedTLS sits directly on it; the backend connection is backend.c's,
 * which reports back through callbacks.  Both directions are bounded: a
 * direction whose queue is over buffer_size stops reading from its source
 * until the queue has drained to half.
 *
 * Every state change goes through session_enter_state(), which asserts
 * that it is one the diagram in session.h allows.
 *
 * Nothing frees a session synchronously: session_end() records the
 * verdict and hands the rest (flush, close, the one log line) to the
 * event loop, so callers may safely return through parser callbacks.
 */
#include "autoconf.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "addr.h"
#include "admission.h"
#include "backend.h"
#include "dialbackkey.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "pretls.h"
#include "proxyproto.h"
#include "relay.h"
#include "s2speer.h"
#include "session.h"
#include "tls.h"
#include "vhost.h"
#include "verdict.h"
#include "xmpp.h"

#define READ_CHUNK	16384	/* one TLS record of plaintext */
#define LINGER_SECONDS	5	/* to flush a final stream error */

enum session_state {
	SESSION_PRETLS,
	SESSION_PROCEED,
	SESSION_HANDSHAKE,
	SESSION_RELAY,
	SESSION_CLOSING,
};

struct session {
	TAILQ_ENTRY(session) entry;
	struct server *srv;
	struct generation *gen;	/* held until freed: a reload never
				   changes a session in flight */
	struct admission_entry *admitted;
	struct admission_entry *claimed;	/* the client a PROXY header
						   named (admission_claim) */
	const struct config *cfg;	/* gen->cfg */
	const struct config_listener *l;
	unsigned long long id;
	int fd;
	char client[64];
	char via[64];		/* the load balancer, when a PROXY header
				   named the client; "" otherwise */
	/* The connection as the client made it: the socket's own ends, or
	   what a trusted PROXY header said.  Sent on to the backend. */
	struct sockaddr_storage peer, local;
	socklen_t peerlen, locallen;
	struct proxyproto_decoder *proxy;	/* header still expected */
	char stream_id[33];
	char domain[256];
	enum session_state state;
	struct timeval start;

	struct event *ev_read, *ev_write, *ev_timer;
	struct evbuffer *raw_out;	/* before TLS: to the client as is */
	struct evbuffer *tls_out;	/* after TLS: plaintext to encrypt */
	size_t tls_write_len;	/* an unfinished tls_write() to repeat */
	int read_wants_write;	/* tls_read() said WANT_WRITE */
	int client_paused;	/* client reads stopped: backend queue full */
	int client_ended;	/* client sent </stream:stream> */
	int authenticated;	/* backend said SASL <success/> */
	double last_client;	/* monotonic time of the last client bytes */

	struct pretls *pretls;
	struct tls_conn *tls;
	struct relay *relay;
	struct s2speer *s2speer;	/* s2s: the peer's certificate, if asked */
	struct backend *backend;
	const struct config_addr *backend_addr;	/* chosen by domain */
	int backend_start_failed;
	int backend_errno;	/* why, saved where it failed */

	unsigned long long raw_in, raw_bytes_out;
	struct verdict verdict;
};

static void on_client_read(evutil_socket_t, short, void *);
static void on_client_write(evutil_socket_t, short, void *);
static void on_timer(evutil_socket_t, short, void *);
static void read_relayed(struct session *);
static void to_backend(void *, const char *, size_t);
static void to_client(void *, const char *, size_t);
static int peer_claim(void *, const char *, int, struct verdict *);
static int external_ok(void *, const char *, const char *);
static int make_key(void *, const char *, const char *, const char *, char *,
    size_t);
static void external_log(void *, enum relay_external_event, const char *,
    const char *);

static const struct relay_callbacks relayed_cb = {
	.to_backend = to_backend,
	.to_client = to_client,
	.peer_claim = peer_claim,
	.external_ok = external_ok,
	.make_key = make_key,
	.external_log = external_log,
};

static const char *
session_strstate(enum session_state st)
{
	switch (st) {
	case SESSION_PRETLS: return "pretls";
	case SESSION_PROCEED: return "proceed";
	case SESSION_HANDSHAKE: return "handshake";
	case SESSION_RELAY: return "relay";
	case SESSION_CLOSING: return "closing";
	}
	return "unknown";
}

/* 1 if the diagram in session.h has an arrow from "from" to "to". */
static int
transition_allowed(enum session_state from, enum session_state to)
{
	switch (to) {
	case SESSION_PRETLS:
		return 0;	/* only at accept */
	case SESSION_PROCEED:
		return from == SESSION_PRETLS;
	case SESSION_HANDSHAKE:
		/* direct TLS skips PROCEED */
		return from == SESSION_PRETLS || from == SESSION_PROCEED;
	case SESSION_RELAY:
		return from == SESSION_HANDSHAKE;
	case SESSION_CLOSING:
		return from != SESSION_CLOSING;
	}
	return 0;
}

/* The only place a session changes state. */
static void
session_enter_state(struct session *s, enum session_state st)
{
	assert(transition_allowed(s->state, st));
	if (log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "event=state session=%llu from=%s to=%s",
		    s->id, session_strstate(s->state), session_strstate(st));
	s->state = st;
}

static void
set_timer(struct session *s, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	event_add(s->ev_timer, &tv);
}

/* " via=LB" when a PROXY header named the client, else "". */
static const char *
via_field(const struct session *s, char *buf, size_t len)
{
	if (s->via[0] == '\0')
		return "";
	snprintf(buf, len, " via=%s", s->via);
	return buf;
}

/* The one line a session leaves behind, then everything is released. */
static void
session_free(struct session *s)
{
	struct timeval now, d;
	unsigned long long in = s->raw_in, out = s->raw_bytes_out;
	char via[80];

	if (s->tls != NULL) {
		in += tls_bytes_in(s->tls);
		out += tls_bytes_out(s->tls);
	}
	/* A refusal after the header had named a served domain. */
	if (s->domain[0] == '\0' && s->pretls != NULL &&
	    pretls_domain(s->pretls) != NULL)
		snprintf(s->domain, sizeof(s->domain), "%s",
		    pretls_domain(s->pretls));
	gettimeofday(&now, NULL);
	timersub(&now, &s->start, &d);
	log_msg(verdict_priority(&s->verdict), "event=%s session=%llu "
	    "client=%s%s listener=%s domain=%s reason=%s%s bytes_in=%llu "
	    "bytes_out=%llu duration=%ld.%03ld", s->verdict.event, s->id,
	    s->client, via_field(s, via, sizeof(via)), s->l->name,
	    s->domain[0] ? s->domain : "-", s->verdict.reason,
	    s->verdict.fields, in, out, (long)d.tv_sec,
	    (long)d.tv_usec / 1000);
	metrics_session_ended(s->l->name, s->verdict.event, s->verdict.reason,
	    in, out);

	TAILQ_REMOVE(&s->srv->sessions, s, entry);
	s->srv->nsessions--;
	admission_release(s->srv->admission, s->claimed);
	admission_leave(s->srv->admission, s->admitted);
	/* Draining after SIGTERM: the last session out ends the loop. */
	if (s->srv->stopping && s->srv->nsessions == 0)
		event_base_loopexit(s->srv->base, NULL);
	backend_free(s->backend);
	event_free(s->ev_read);
	event_free(s->ev_write);
	event_free(s->ev_timer);
	evbuffer_free(s->raw_out);
	evbuffer_free(s->tls_out);
	pretls_free(s->pretls);
	proxyproto_decoder_free(s->proxy);
	relay_free(s->relay);
	s2speer_free(s->s2speer);
	tls_conn_free(s->tls);
	generation_unref(s->gen);	/* last: tls and relay point into it */
	close(s->fd);
	free(s);
}

/*
 * End the session with v.  Whatever the client is owed (a stream error
 * already queued by pretls or relay) is flushed from the event loop; the
 * backend is dropped at once.  Callers return right after.
 */
static void
session_end(struct session *s, const struct verdict *v)
{
	if (s->state == SESSION_CLOSING)
		return;
	s->verdict = *v;
	session_enter_state(s, SESSION_CLOSING);
	backend_free(s->backend);
	s->backend = NULL;
	event_del(s->ev_read);
	set_timer(s, LINGER_SECONDS);
	event_active(s->ev_write, EV_WRITE, 0);
}

static void
end_with(struct session *s, const char *event, const char *reason,
    const char *fields)
{
	struct verdict v;

	verdict_set(&v, event, reason, XMPP_COND_NONE, NULL, "%s",
	    fields ? fields : "");
	session_end(s, &v);
}

/* --- before TLS ------------------------------------------------------ */

static void
to_client_raw(void *ctx, const char *data, size_t len)
{
	struct session *s = ctx;

	evbuffer_add(s->raw_out, data, len);
}

/* Write raw_out; 1 when empty, 0 when waiting, -1 on a socket error. */
static int
flush_raw(struct session *s)
{
	while (evbuffer_get_length(s->raw_out) > 0) {
		int n = evbuffer_write(s->raw_out, s->fd);

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				event_add(s->ev_write, NULL);
				return 0;
			}
			return -1;
		}
		s->raw_bytes_out += (unsigned long long)n;
	}
	return 1;
}

static void start_handshake(struct session *);

/*
 * After a plaintext recv() of n bytes from the client: 1 if the caller
 * stops here (nothing to read yet, or the client closed or reset, which
 * ends the session), 0 if there are bytes.
 */
static int
recv_stops(struct session *s, ssize_t n)
{
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 1;
	if (n <= 0) {
		end_with(s, "close", n == 0 ? "client-closed" : "client-reset",
		    NULL);
		return 1;
	}
	return 0;
}
/*
 * Direct TLS (XEP-0368): the first byte must open a TLS handshake record,
 * which is left in the socket for mbedTLS.  Anything else is a client
 * speaking plaintext to a TLS port: what it sent is read (so that close()
 * does not reset the connection under our answer) but never parsed.
 */
static void
direct_read(struct session *s)
{
	unsigned char first;
	char buf[4096];
	ssize_t n;

	n = recv(s->fd, &first, 1, MSG_PEEK);
	if (recv_stops(s, n))
		return;
	if (first == 0x16) {
		start_handshake(s);
		return;
	}
	if ((n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		s->raw_in += (unsigned long long)n;
	pretls_refuse_plaintext(s->pretls);
	session_end(s, pretls_verdict(s->pretls));
}

/*
 * The decision point for STARTTLS command injection: every byte the
 * client sent before seeing <proceed/> is in the socket buffer now.  Feed
 * it all to pretls, which accepts whitespace only.
 */
static enum pretls_result
drain_behind_starttls(struct session *s)
{
	char buf[4096];
	ssize_t n;
	enum pretls_result r = PRETLS_STARTTLS;

	while (r == PRETLS_STARTTLS) {
		n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			end_with(s, "close", "client-closed", NULL);
			return PRETLS_CLOSE;
		}
		s->raw_in += (unsigned long long)n;
		r = pretls_feed(s->pretls, buf, (size_t)n);
	}
	return r;
}

/*
 * The client a trusted PROXY header named is held to the per-address
 * caps, as if it had connected itself (the balancer's connection was
 * counted at accept).  0, or -1 when it is over a cap and the session
 * ended with event=refused.
 */
static int
admit_named_client(struct session *s)
{
	const struct config_limits *lim = &s->cfg->limits;
	struct sockaddr *peer = (struct sockaddr *)&s->peer;
	enum admission_result ar;
	struct verdict v;

	ar = admission_claim(s->srv->admission, peer,
	    proxyproto_cidr_match(lim->exempt, lim->nexempt, peer,
	    s->peerlen) ? ADMISSION_EXEMPT : ADMISSION_CLIENT,
	    monotime_now(), &s->claimed);
	if (ar == ADMIT_OK)
		return 0;
	verdict_set(&v, "refused", admission_reason(ar),
	    XMPP_COND_RESOURCE_CONSTRAINT, "Too many connections",
	    " connections=%u", admission_connections(s->srv->admission));
	metrics_refused(s->l->name, admission_reason(ar));
	if (s->l->tls == LISTENER_TLS_STARTTLS)
		pretls_fail(s->pretls, &v);
	session_end(s, &v);
	return -1;
}

/*
 * A listener behind a load balancer: the PROXY header comes first.  On
 * return *data and *len are what follows it (possibly nothing).  Returns
 * 1 when the header is complete, 0 when more is needed, -1 when the
 * session ended.
 */
static int
read_proxy_header(struct session *s, char **data, size_t *len)
{
	const struct proxyproto_info *info;
	struct verdict v;
	size_t used;
	char a[64], esc[80];
	int r, proxied;

	r = proxyproto_decode(s->proxy, *data, *len, &used);
	if (r == 0)
		return 0;
	if (r < 0) {
		verdict_set(&v, "protocol-error", "proxy-header",
		    XMPP_COND_NONE, NULL, " detail=%s",
		    proxyproto_decoder_error(s->proxy));
		session_end(s, &v);
		return -1;
	}
	info = proxyproto_decoder_info(s->proxy);
	if (info->proxied) {
		/* From here on the client is who the header says; the
		   balancer that said it is kept beside it. */
		snprintf(s->via, sizeof(s->via), "%s", s->client);
		s->peer = info->src;
		s->peerlen = info->srclen;
		s->local = info->dst;
		s->locallen = info->dstlen;
		addr_format((struct sockaddr *)&s->peer, s->peerlen,
		    s->client, sizeof(s->client));
	}
	addr_format((struct sockaddr *)&s->local, s->locallen, a, sizeof(a));
	log_msg(LOG_INFO, "event=proxy-header session=%llu client=%s via=%s "
	    "listener=%s version=v%d command=%s address=%s%s%s",
	    s->id, s->client, s->via[0] ? s->via : s->client, s->l->name,
	    (int)info->version, info->proxied ? "proxy" : "local", a,
	    info->authority[0] ? " authority=" : "",
	    info->authority[0] ? log_escape(info->authority, esc,
	    sizeof(esc)) : "");
	proxied = info->proxied;	/* info dies with the decoder */
	proxyproto_decoder_free(s->proxy);
	s->proxy = NULL;
	*data += used;
	*len -= used;
	if (proxied && admit_named_client(s) == -1)
		return -1;
	return 1;
}

/*
 * The PROXY header was the first thing on the socket; read it exactly,
 * never a byte past it, so that what follows (a ClientHello on a
 * direct-TLS listener) stays in the socket for its reader.
 */
static void
read_proxy_bytes(struct session *s)
{
	char buf[PROXYPROTO_MAX_HEADER], *p = buf;
	size_t want = proxyproto_decoder_want(s->proxy), len;
	ssize_t n;

	n = recv(s->fd, buf, want < sizeof(buf) ? want : sizeof(buf), 0);
	if (recv_stops(s, n))
		return;
	s->raw_in += (unsigned long long)n;
	len = (size_t)n;
	/* Complete or not, the decoder took every byte it allowed. */
	if (read_proxy_header(s, &p, &len) == 1)
		assert(len == 0);
}

static void
read_plaintext(struct session *s)
{
	char buf[4096], *p = buf;
	size_t len;
	ssize_t n;
	enum pretls_result r;

	if (s->proxy != NULL) {
		read_proxy_bytes(s);
		return;
	}
	if (s->l->tls == LISTENER_TLS_DIRECT) {
		direct_read(s);
		return;
	}
	n = recv(s->fd, buf, sizeof(buf), 0);
	if (recv_stops(s, n))
		return;
	s->raw_in += (unsigned long long)n;
	len = (size_t)n;
	r = pretls_feed(s->pretls, p, len);
	if (r == PRETLS_STARTTLS)
		r = drain_behind_starttls(s);
	if (s->state == SESSION_CLOSING)
		return;
	switch (r) {
	case PRETLS_MORE:
		if (flush_raw(s) == -1)
			end_with(s, "close", "client-reset", NULL);
		break;
	case PRETLS_CLOSE:
		session_end(s, pretls_verdict(s->pretls));
		break;
	case PRETLS_STARTTLS:
		snprintf(s->domain, sizeof(s->domain), "%s",
		    pretls_domain(s->pretls));
		pretls_proceed(s->pretls);
		session_enter_state(s, SESSION_PROCEED);
		/* From here on the socket belongs to TLS: nothing more is
		   read as plaintext. */
		event_del(s->ev_read);
		switch (flush_raw(s)) {
		case 1:
			start_handshake(s);
			break;
		case -1:
			end_with(s, "close", "client-reset", NULL);
			break;
		}
		break;
	}
}

/* --- TLS handshake --------------------------------------------------- */

static void
do_handshake(struct session *s)
{
	char detail[200], fields[256], sni[128] = "", via[80];
	const char *name;
	struct verdict v;

	switch (tls_handshake(s->tls)) {
	case TLS_IO_WANT_READ:
		event_del(s->ev_write);
		event_add(s->ev_read, NULL);
		return;
	case TLS_IO_WANT_WRITE:
		event_add(s->ev_write, NULL);
		return;
	case TLS_IO_EOF:
	case TLS_IO_ERROR:
		if ((name = tls_sni(s->tls)) != NULL) {
			strcpy(sni, " sni=");
			log_escape(name, sni + 5, sizeof(sni) - 5);
		}
		snprintf(fields, sizeof(fields), "%s detail=%s", sni,
		    log_escape(tls_error_detail(s->tls), detail,
		    sizeof(detail)));
		/* RFC 6120 5.4.3.2: a failed handshake just closes TCP.  An
		   SNI naming another of our domains than the stream did is
		   refused as policy, not as a TLS failure. */
		metrics_handshake_failed(s->l->name, tls_error_reason(s->tls));
		verdict_set(&v, tls_policy_refused(s->tls) ?
		    "policy-violation" : "tls-failed", tls_error_reason(s->tls),
		    XMPP_COND_NONE, NULL, "%s", fields);
		session_end(s, &v);
		return;
	case TLS_IO_OK:
		break;
	}

	if (tls_domain(s->tls) != NULL)
		snprintf(s->domain, sizeof(s->domain), "%s",
		    tls_domain(s->tls));
	name = tls_sni(s->tls);
	log_msg(LOG_INFO, "event=tls-established session=%llu client=%s%s "
	    "listener=%s domain=%s tls_version=%s cipher=%s sni=%s alpn=%s",
	    s->id, s->client, via_field(s, via, sizeof(via)), s->l->name,
	    s->domain[0] ? s->domain : "-", tls_version(s->tls), tls_cipher(s->tls),
	    name ? log_escape(name, sni, sizeof(sni)) : "-",
	    tls_alpn(s->tls) ? tls_alpn(s->tls) : "-");
	metrics_handshake(s->l->name, tls_version(s->tls), tls_cipher(s->tls),
	    tls_group(s->tls), tls_resumed(s->tls));
	pretls_free(s->pretls);
	s->pretls = NULL;
	/* s2s: what the peer's certificate says, checked against each
	   domain it claims on the stream (s2speer.h). */
	if (tls_peer_asked(s->tls)) {
		char ctx[192];

		snprintf(ctx, sizeof(ctx), " session=%llu client=%s%s "
		    "listener=%s", s->id, s->client,
		    via_field(s, via, sizeof(via)), s->l->name);
		if ((s->s2speer = s2speer_new(s->cfg, s->l,
		    tls_peer_certificate(s->tls), ctx)) == NULL) {
			end_with(s, "internal-error", "out-of-memory", NULL);
			return;
		}
	}
	/* RFC 6120 5.4.3.3: nothing learned before TLS survives it, except
	   the domain, which chose the certificate (direct TLS without a
	   served SNI: none yet, the first header chooses). */
	s->relay = relay_new(s->cfg, s->l, s->domain[0] ? s->domain : NULL,
	    s->stream_id, &relayed_cb, s);
	if (s->relay == NULL) {
		end_with(s, "internal-error", "out-of-memory", NULL);
		return;
	}
	session_enter_state(s, SESSION_RELAY);
	/* A peer must authenticate within auth_timeout: SASL success for
	   a client, a valid dialback result for a server. */
	s->last_client = monotime_now();
	set_timer(s, s->cfg->limits.auth_timeout);
	event_del(s->ev_write);
	event_add(s->ev_read, NULL);
	/* The client's new stream header may already sit inside mbedTLS. */
	read_relayed(s);
}

static void
start_handshake(struct session *s)
{
	struct verdict v;

	s->tls = tls_conn_new(s->gen->tls, s->l,
	    s->domain[0] ? s->domain : NULL, s->fd);
	if (s->tls == NULL) {
		verdict_set(&v, "internal-error", "tls-setup",
		    XMPP_COND_NONE, NULL, NULL);
		session_end(s, &v);
		return;
	}
	session_enter_state(s, SESSION_HANDSHAKE);
	set_timer(s, s->cfg->limits.handshake_timeout);
	do_handshake(s);
}

/* The relay saw the peer claim a domain (s2s): its certificate decides. */
static int
peer_claim(void *ctx, const char *from, int dialback, struct verdict *v)
{
	struct session *s = ctx;

	if (s->s2speer == NULL)
		return 0;
	return s2speer_claim(s->s2speer, relay_domain(s->relay), from, dialback,
	    v);
}

/* SASL EXTERNAL for a server (relay.h): its certificate and the policy
   decide. */
static int
external_ok(void *ctx, const char *to, const char *domain)
{
	struct session *s = ctx;

	return s->s2speer != NULL && dialbackkey_ready() &&
	    s2speer_external(s->s2speer, to, domain);
}

static int
make_key(void *ctx, const char *ours, const char *peer, const char *id,
    char *out, size_t outlen)
{
	(void)ctx;
	return dialbackkey_make(ours, peer, id, out, outlen);
}

static void
external_log(void *ctx, enum relay_external_event ev, const char *domain,
    const char *reason)
{
	struct session *s = ctx;
	char d[128], via[80];

	log_escape(domain, d, sizeof(d));
	switch (ev) {
	case RELAY_EXTERNAL_FAILED:
		log_msg(LOG_WARNING, "event=s2s-peer-auth-failed session=%llu "
		    "client=%s%s listener=%s mechanism=external domain=%s "
		    "to=%s reason=%s", s->id, s->client,
		    via_field(s, via, sizeof(via)), s->l->name, d,
		    relay_domain(s->relay), reason);
		metrics_sasl_external(s->l->name, 0);
		break;
	case RELAY_EXTERNAL_SUCCESS:
		log_msg(LOG_INFO, "event=s2s-peer-external session=%llu "
		    "client=%s%s listener=%s domain=%s to=%s "
		    "backend=dialback-sent", s->id, s->client,
		    via_field(s, via, sizeof(via)), s->l->name, d,
		    relay_domain(s->relay));
		break;
	case RELAY_EXTERNAL_ACCEPTED:
		log_msg(LOG_NOTICE, "event=s2s-peer-authenticated session=%llu "
		    "client=%s%s listener=%s mechanism=external domain=%s "
		    "to=%s", s->id, s->client, via_field(s, via, sizeof(via)),
		    s->l->name, d, relay_domain(s->relay));
		metrics_sasl_external(s->l->name, 1);
		break;
	}
}

/* The client's </stream:stream> is passed on: wait (bounded) for the
   backend to close its side. */
static void
client_stream_ended(struct session *s)
{
	s->client_ended = 1;
	event_del(s->ev_read);
	set_timer(s, LINGER_SECONDS);
}

/* --- the backend ------------------------------------------------------ */

static int flush_tls(struct session *);

static void
end_backend_error(struct session *s, const char *reason, const char *error)
{
	char esc[128];
	struct verdict v;

	if (strncmp(reason, "connect-", 8) == 0)
		metrics_backend_failed(s->l->name, reason);
	verdict_set(&v, "backend-error", reason,
	    XMPP_COND_REMOTE_CONNECTION_FAILED,
	    "The XMPP service behind this server is unavailable",
	    " backend=%s error=%s", s->backend_addr != NULL ?
	    s->backend_addr->text : s->l->backend.text,
	    log_escape(error, esc, sizeof(esc)));
	relay_fail(s->relay, &v);
	session_end(s, &v);
}

/* Backend callback: bytes for the client.  -1 once the session ended. */
static int
from_backend(void *arg, const char *data, size_t len)
{
	struct session *s = arg;
	enum relay_result r;

	assert(s->state == SESSION_RELAY);
	r = relay_from_backend(s->relay, data, len);
	if (!s->authenticated && relay_authenticated(s->relay)) {
		s->authenticated = 1;
		if (s->cfg->limits.idle_timeout > 0)
			set_timer(s, s->cfg->limits.idle_timeout);
		else
			event_del(s->ev_timer);
	}
	if (r == RELAY_ERROR) {
		relay_fail(s->relay, relay_verdict(s->relay));
		session_end(s, relay_verdict(s->relay));
		return -1;
	}
	if (r == RELAY_STREAM_END) {
		end_with(s, "close", s->client_ended ?
		    "client-closed" : "backend-closed", NULL);
		return -1;
	}
	/* Held client bytes released by a SASL answer may have ended the
	   client's stream. */
	if (!s->client_ended && relay_client_ended(s->relay))
		client_stream_ended(s);
	return 0;
}

/* Backend callback: what one wake read is queued for the client. */
static void
from_backend_done(void *arg)
{
	struct session *s = arg;

	assert(s->state == SESSION_RELAY);
	if (flush_tls(s) == -1) {
		end_with(s, "close", "client-reset", NULL);
		return;
	}
	if (evbuffer_get_length(s->tls_out) >= s->cfg->limits.buffer_size)
		backend_pause_reading(s->backend);
	/* A SASL answer released the client input held behind the request:
	   read again what waited meanwhile (in mbedTLS or the socket). */
	if (s->client_paused && !s->client_ended &&
	    relay_client_room(s->relay) > 0 &&
	    !backend_output_full(s->backend)) {
		s->client_paused = 0;
		event_add(s->ev_read, NULL);
		read_relayed(s);
	}
}

/* Backend callback: its queue drained below half: take client input
   again. */
static void
backend_drained(void *arg)
{
	struct session *s = arg;

	assert(s->state == SESSION_RELAY);
	if (s->client_paused) {
		s->client_paused = 0;
		event_add(s->ev_read, NULL);
		read_relayed(s);
	}
}

static void
backend_failed(void *arg, enum backend_failure what, const char *error)
{
	struct session *s = arg;

	assert(s->state == SESSION_RELAY);
	switch (what) {
	case BACKEND_CONNECT_FAILED:
		end_backend_error(s, "connect-failed", error);
		break;
	case BACKEND_CONNECT_TIMEOUT:
		end_backend_error(s, "connect-timeout", error);
		break;
	case BACKEND_EOF:
		if (s->client_ended)
			end_with(s, "close", "client-closed", NULL);
		else
			end_backend_error(s, "backend-lost", error);
		break;
	case BACKEND_LOST:
		end_backend_error(s, "backend-lost", error);
		break;
	}
}

static const struct backend_callbacks backend_cb = {
	.data = from_backend,
	.data_done = from_backend_done,
	.drained = backend_drained,
	.failed = backend_failed,
};

/* Open the backend connection; 0, or -1 with s->backend_errno set. */
static int
start_backend(struct session *s)
{
	/* The served domain rather than the raw SNI bytes: it is what the
	   SNI named when there was one, and it was checked. */
	struct backend_client client = {
		.peer = (const struct sockaddr *)&s->peer,
		.peerlen = s->peerlen,
		.local = (const struct sockaddr *)&s->local,
		.locallen = s->locallen,
		.tlvs = {
			.alpn = tls_alpn(s->tls),
			.authority = s->domain,
			.tls_version = tls_version(s->tls),
			.tls_cipher = tls_cipher(s->tls),
		},
	};

	/* The relay has checked the header that fixed the domain. */
	if (relay_domain(s->relay) != NULL)
		snprintf(s->domain, sizeof(s->domain), "%s",
		    relay_domain(s->relay));
	s->backend_addr = vhost_backend(s->cfg, s->l, relay_domain(s->relay));
	s->backend = backend_connect(s->srv->base, s->backend_addr, s->l,
	    &s->srv->next_source, s->id, s->cfg->limits.backend_connect_timeout,
	    s->cfg->limits.buffer_size, &client, &backend_cb, s,
	    &s->backend_errno);
	return s->backend == NULL ? -1 : 0;
}

/* Relay callback: accepted client bytes.  The first one opens the
   backend connection: by construction this is after TLS. */
static void
to_backend(void *ctx, const char *data, size_t len)
{
	struct session *s = ctx;

	assert(s->state == SESSION_RELAY);
	if (s->backend_start_failed)
		return;
	if (s->backend == NULL && start_backend(s) == -1) {
		s->backend_start_failed = 1;
		return;
	}
	backend_write(s->backend, data, len);
}

static void
to_client(void *ctx, const char *data, size_t len)
{
	struct session *s = ctx;

	evbuffer_add(s->tls_out, data, len);
}

/* --- relay: client side ---------------------------------------------- */

/* Encrypt tls_out to the client; 0, or -1 on a TLS or socket error. */
static int
flush_tls(struct session *s)
{
	size_t len, n;
	unsigned char *p;

	while ((len = evbuffer_get_length(s->tls_out)) > 0) {
		/* mbedTLS wants the very same length after WANT_WRITE. */
		size_t want = s->tls_write_len ? s->tls_write_len :
		    (len < READ_CHUNK ? len : READ_CHUNK);

		p = evbuffer_pullup(s->tls_out, (ev_ssize_t)want);
		switch (tls_write(s->tls, p, want, &n)) {
		case TLS_IO_OK:
			evbuffer_drain(s->tls_out, n);
			s->tls_write_len = 0;
			break;
		case TLS_IO_WANT_WRITE:
		case TLS_IO_WANT_READ:
			s->tls_write_len = want;
			event_add(s->ev_write, NULL);
			return 0;
		case TLS_IO_EOF:
		case TLS_IO_ERROR:
			return -1;
		}
	}
	if (!s->read_wants_write)
		event_del(s->ev_write);
	if (s->backend != NULL)
		backend_resume_reading(s->backend);
	return 0;
}

static void
read_relayed(struct session *s)
{
	char buf[READ_CHUNK];
	enum relay_result r;
	size_t n, room;

	s->read_wants_write = 0;
	while (s->state == SESSION_RELAY && !s->client_ended) {
		/* Stop while the backend's queue is full, or while the relay
		   holds as much client input as it may (behind a SASL
		   request, until the backend answers). */
		room = relay_client_room(s->relay);
		if (room == 0 || (s->backend != NULL &&
		    backend_output_full(s->backend))) {
			s->client_paused = 1;
			event_del(s->ev_read);
			return;
		}
		switch (tls_read(s->tls, buf, room < sizeof(buf) ? room :
		    sizeof(buf), &n)) {
		case TLS_IO_WANT_READ:
			return;
		case TLS_IO_WANT_WRITE:
			s->read_wants_write = 1;
			event_add(s->ev_write, NULL);
			return;
		case TLS_IO_EOF:
			end_with(s, "close", "client-closed", NULL);
			return;
		case TLS_IO_ERROR:
			end_with(s, "close", tls_read_error_reason(s->tls),
			    NULL);
			return;
		case TLS_IO_OK:
			break;
		}
		s->last_client = monotime_now();
		r = relay_from_client(s->relay, buf, n);
		if (s->backend_start_failed) {
			end_backend_error(s, "connect-failed",
			    strerror(s->backend_errno));
			return;
		}
		if (r == RELAY_ERROR) {
			relay_fail(s->relay, relay_verdict(s->relay));
			session_end(s, relay_verdict(s->relay));
			return;
		}
		if (r == RELAY_STREAM_END)
			client_stream_ended(s);
		/* What the relay answered itself (s2s SASL EXTERNAL: the
		   SASL outcome, our stream header) goes out now: no backend
		   bytes may come to carry it. */
		if (evbuffer_get_length(s->tls_out) > 0 && flush_tls(s) == -1) {
			end_with(s, "close", "client-reset", NULL);
			return;
		}
	}
}

/* --- events ---------------------------------------------------------- */

static void
on_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->tls != NULL)
		tls_readable(s->tls);
	switch (s->state) {
	case SESSION_PRETLS:
		read_plaintext(s);
		break;
	case SESSION_HANDSHAKE:
		do_handshake(s);
		break;
	case SESSION_RELAY:
		read_relayed(s);
		break;
	case SESSION_PROCEED:
	case SESSION_CLOSING:
		/* Entering either state deletes ev_read, and nothing adds
		   it back: the socket is TLS's, or the session is over. */
		assert(!"client read event in PROCEED or CLOSING");
		event_del(s->ev_read);
		break;
	}
}

static void
on_client_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int r;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SESSION_PRETLS:
	case SESSION_PROCEED:
		r = flush_raw(s);
		if (r == -1)
			end_with(s, "close", "client-reset", NULL);
		else if (r == 1 && s->state == SESSION_PROCEED)
			start_handshake(s);
		else if (r == 1)
			event_del(s->ev_write);
		break;
	case SESSION_HANDSHAKE:
		do_handshake(s);
		break;
	case SESSION_RELAY:
		if (flush_tls(s) == -1) {
			end_with(s, "close", "client-reset", NULL);
			break;
		}
		if (s->read_wants_write)
			read_relayed(s);
		break;
	case SESSION_CLOSING:
		if (s->relay != NULL && s->tls != NULL) {
			if (flush_tls(s) == -1 ||
			    evbuffer_get_length(s->tls_out) == 0) {
				tls_close_notify(s->tls);
				session_free(s);
			}
		} else if (s->tls != NULL) {
			session_free(s);	/* handshake failed */
		} else {
			r = flush_raw(s);
			if (r != 0)
				session_free(s);
		}
		break;
	}
}

/* The relay's deadline: linger, authentication, or idleness. */
static void
relayed_deadline(struct session *s)
{
	const struct config_limits *lim = &s->cfg->limits;
	struct verdict v;
	double silent;

	if (s->client_ended) {
		/* The client closed its stream; the backend did not. */
		end_with(s, "close", "client-closed", NULL);
		return;
	}
	if (!s->authenticated) {
		verdict_set(&v, "timeout", "auth",
		    XMPP_COND_CONNECTION_TIMEOUT, NULL, " limit=%u",
		    lim->auth_timeout);
	} else {
		if (lim->idle_timeout == 0)
			return;
		/* Client bytes do not move the timer (that would cost an
		   event_add per read); the timer looks back instead. */
		silent = monotime_now() - s->last_client;
		if (silent < lim->idle_timeout) {
			struct timeval tv;
			double left = lim->idle_timeout - silent;

			tv.tv_sec = (time_t)left;
			tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) *
			    1e6) + 1;
			event_add(s->ev_timer, &tv);
			return;
		}
		verdict_set(&v, "timeout", "idle",
		    XMPP_COND_CONNECTION_TIMEOUT, NULL, " limit=%u",
		    lim->idle_timeout);
	}
	relay_fail(s->relay, &v);
	session_end(s, &v);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct verdict v;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SESSION_PRETLS:
		if (s->proxy != NULL) {
			/* Not yet XMPP: no stream error to a balancer. */
			verdict_set(&v, "timeout", "proxy-header",
			    XMPP_COND_NONE, NULL, " limit=%u",
			    s->cfg->limits.pre_tls_timeout);
			session_end(s, &v);
			break;
		}
		/* FALLTHROUGH */
	case SESSION_PROCEED:
		verdict_set(&v, "timeout", "pre-tls",
		    XMPP_COND_CONNECTION_TIMEOUT, NULL, " limit=%u",
		    s->cfg->limits.pre_tls_timeout);
		/* A direct-TLS client that sent nothing gets no XML. */
		if (s->l->tls == LISTENER_TLS_STARTTLS)
			pretls_fail(s->pretls, &v);
		session_end(s, &v);
		break;
	case SESSION_HANDSHAKE:
		metrics_handshake_failed(s->l->name, "timeout");
		verdict_set(&v, "timeout", "handshake", XMPP_COND_NONE, NULL,
		    " limit=%u", s->cfg->limits.handshake_timeout);
		session_end(s, &v);
		break;
	case SESSION_RELAY:
		relayed_deadline(s);
		break;
	case SESSION_CLOSING:
		session_free(s);
		break;
	}
}

/* --- public ---------------------------------------------------------- */

/*
 * Over a connection cap: no session, no timer, no read.  The client gets
 * our stream header and <resource-constraint/> in one write to an empty
 * socket buffer (so it cannot block), then the connection is closed.
 * Each refusal is one log line (log.c holds back floods).
 */
static void
refuse(struct server *srv, const struct config_listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen,
    enum admission_result ar)
{
	char client[64], buf[1024];
	size_t n;
	ssize_t w;

	addr_format(peer, peerlen, client, sizeof(client));
	/* A direct-TLS client expects a ServerHello, not XML: it is only
	   closed, as TLS offers no cheaper way to say why. */
	if (l->tls == LISTENER_TLS_STARTTLS) {
		n = xmpp_write_header(buf, sizeof(buf), l->kind, NULL,
		    "refused");
		n += xmpp_write_stream_error(buf + n, sizeof(buf) - n,
		    XMPP_COND_RESOURCE_CONSTRAINT, "Too many connections");
		w = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)w;
	}
	shutdown(fd, SHUT_WR);
	/* Closing with unread input sends a reset, which can destroy the
	   refusal before the client reads it: take what has arrived
	   (a header, a ClientHello), best effort and bounded. */
	for (int i = 0; i < 4 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	    i++)
		;
	close(fd);
	log_msg(LOG_WARNING, "event=refused client=%s listener=%s reason=%s "
	    "connections=%u", client, l->name, admission_reason(ar),
	    admission_connections(srv->admission));
	metrics_refused(l->name, admission_reason(ar));
}

void
session_accept(struct server *srv, const struct config_listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	const struct config_limits *lim = &srv->gen->cfg->limits;
	struct admission_entry *admitted;
	enum admission_result ar;
	enum admission_peer kind;
	unsigned char rnd[16];
	struct session *s;
	int one = 1;
	size_t i;

	/* A trusted balancer's connections are many clients': each is
	   counted when its header names it (admit_named_client). */
	if (l->accept_proxy && proxyproto_cidr_match(l->trusted, l->ntrusted,
	    peer, peerlen))
		kind = ADMISSION_BALANCER;
	else if (proxyproto_cidr_match(lim->exempt, lim->nexempt, peer,
	    peerlen))
		kind = ADMISSION_EXEMPT;
	else
		kind = ADMISSION_CLIENT;
	ar = admission_enter(srv->admission, peer, kind, monotime_now(),
	    &admitted);
	if (ar != ADMIT_OK) {
		refuse(srv, l, fd, peer, peerlen, ar);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		admission_leave(srv->admission, admitted);
		log_msg(LOG_ERR, "event=internal-error reason=out-of-memory "
		    "listener=%s", l->name);
		close(fd);
		return;
	}
	s->srv = srv;
	s->gen = generation_ref(srv->gen);
	s->admitted = admitted;
	s->cfg = s->gen->cfg;
	s->l = l;
	s->fd = fd;
	s->id = ++srv->next_id;
	s->state = SESSION_PRETLS;
	gettimeofday(&s->start, NULL);
	addr_format(peer, peerlen, s->client, sizeof(s->client));
	if (peerlen <= sizeof(s->peer)) {
		memcpy(&s->peer, peer, peerlen);
		s->peerlen = peerlen;
	}
	s->locallen = sizeof(s->local);
	if (getsockname(fd, (struct sockaddr *)&s->local, &s->locallen) == -1)
		s->locallen = 0;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	/* RFC 6120 4.7.3: an unpredictable stream id. */
	if (tls_random(srv->gen->tls, rnd, sizeof(rnd)) == -1)
		goto fail;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(s->stream_id + 2 * i, 3, "%02x", rnd[i]);

	s->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    on_client_read, s);
	s->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST,
	    on_client_write, s);
	s->ev_timer = evtimer_new(srv->base, on_timer, s);
	s->raw_out = evbuffer_new();
	s->tls_out = evbuffer_new();
	s->pretls = pretls_new(s->cfg, l, s->stream_id, to_client_raw, s);
	if (!s->ev_read || !s->ev_write || !s->ev_timer || !s->raw_out ||
	    !s->tls_out || !s->pretls)
		goto fail;

	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	srv->nsessions++;
	metrics_accepted(l->name);
	log_msg(LOG_INFO, "event=accept session=%llu client=%s listener=%s",
	    s->id, s->client, l->name);
	if (l->accept_proxy) {
		/* Only a trusted balancer may say who the client is
		   (proxy-protocol.txt section 5). */
		if (kind != ADMISSION_BALANCER) {
			end_with(s, "policy-violation", "proxy-untrusted", NULL);
			return;
		}
		if ((s->proxy = proxyproto_decoder_new()) == NULL) {
			end_with(s, "internal-error", "out-of-memory", NULL);
			return;
		}
	}
	/* An absolute deadline: a byte every few seconds does not extend
	   it (slowloris). */
	set_timer(s, s->cfg->limits.pre_tls_timeout);
	event_add(s->ev_read, NULL);
	return;
fail:
	log_msg(LOG_ERR, "event=internal-error reason=session-setup "
	    "client=%s listener=%s", s->client, l->name);
	if (s->ev_read) event_free(s->ev_read);
	if (s->ev_write) event_free(s->ev_write);
	if (s->ev_timer) event_free(s->ev_timer);
	if (s->raw_out) evbuffer_free(s->raw_out);
	if (s->tls_out) evbuffer_free(s->tls_out);
	pretls_free(s->pretls);
	admission_leave(srv->admission, s->admitted);
	generation_unref(s->gen);
	close(fd);
	free(s);
}

unsigned
session_count_old(const struct server *srv)
{
	const struct session *s;
	unsigned n = 0;

	TAILQ_FOREACH(s, &srv->sessions, entry)
		if (s->gen != srv->gen)
			n++;
	return n;
}

void
session_shutdown_all(struct server *srv)
{
	struct session *s, *next;
	struct verdict v;

	verdict_set(&v, "close", "shutdown", XMPP_COND_SYSTEM_SHUTDOWN,
	    NULL, NULL);
	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (((s->state == SESSION_PRETLS && s->proxy == NULL) ||
		    s->state == SESSION_PROCEED) &&
		    s->l->tls == LISTENER_TLS_STARTTLS)
			pretls_fail(s->pretls, &v);
		else if (s->state == SESSION_RELAY)
			relay_fail(s->relay, &v);
		session_end(s, &v);
	}
}
