/*
 * relay.c - post-TLS stream filters; see relay.h.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"
#include "xmlstream.h"

/* The backend is ours, but its nesting is still bounded. */
#define BACKEND_MAX_DEPTH	256
#define BACKEND_MAX_ATTRIBUTES	1024
/* The backend relays other users' stanzas: a budget of names four times
   the client's (about 2000 new names in one stanza) before it fails the
   recipient's stream; docs/SECURITY.md counts it. */
#define BACKEND_MAX_NAMES	(256 * 1024)

struct relay {
	const struct config *cfg;
	const struct config_listener *l;
	struct relay_callbacks cb;
	void *ctx;
	struct xmlstream *client;
	struct xmlstream *backend;
	char *domain;
	char id[64];
	int client_has_header;	/* the client got a header on this stream */
	int client_ended;	/* </stream:stream> seen from the client */
	int backend_ended;	/* ... and from the backend */
	int failed;
	int authenticated;	/* see relay_authenticated() */
	int held;		/* client input held: a SASL request waits
				   for the backend's answer (see below) */
	unsigned stripped;
	struct verdict *verdict;	/* made on the first failure */
};

/*
 * Most sessions never fail: a verdict (mostly its fields text) is made
 * only when one is set.  Out of memory then, this one stands in; it is
 * read at once by the owner, in this single-threaded process.
 */
static struct verdict spare_verdict;

static struct verdict *
failure(struct relay *r)
{
	if (r->verdict == NULL &&
	    (r->verdict = calloc(1, sizeof(*r->verdict))) == NULL) {
		verdict_set(&spare_verdict, "internal-error", "out-of-memory",
		    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NULL);
		return &spare_verdict;
	}
	return r->verdict;
}

/*
 * The client's stanza bound: max_preauth_stanza_size until it has
 * authenticated (nothing it legitimately sends before is large, and an
 * unauthenticated peer should pin little memory: docs/SECURITY.md),
 * max_stanza_size after.  Held bytes count against it too.
 */
static size_t
client_limit(const struct relay *r)
{
	return r->authenticated ? r->cfg->limits.max_stanza_size :
	    r->cfg->limits.max_preauth_stanza_size;
}

/* The backend accepted the peer: the session's full bounds apply. */
static void
authenticate(struct relay *r)
{
	r->authenticated = 1;
	xmlstream_set_max_unit(r->client, client_limit(r));
}

/* The header check shared with pretls; the first one may fix the
   domain (direct TLS without a served SNI), once. */
static int
check_client_header(struct relay *r, const struct xmlstream_header *h)
{
	const char *served;

	if (verdict_check_header(failure(r), r->cfg, r->l, h, r->domain,
	    &served) == -1)
		return -1;
	if (r->domain == NULL && (r->domain = strdup(served)) == NULL) {
		verdict_set(failure(r), "internal-error", "out-of-memory",
		    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * After TLS the client may not start TLS again or compression (neither
 * is ever offered): refused at the start tag, before the backend, which
 * might say <proceed/>, sees a byte of it.  Nor may it open a stream
 * inside its stream: a <stream:stream> element is never a stanza, and a
 * backend that has restarted would read it as its new header (see the
 * hold below).
 */
static int
client_element_start(void *ctx, const char *ns, const char *name)
{
	struct relay *r = ctx;
	char ens[160], ename[80];

	if (strcmp(ns, XMPP_NS_STREAMS) == 0 && strcmp(name, "stream") == 0) {
		verdict_set(failure(r), "policy-violation", "nested-stream",
		    XMPP_COND_POLICY_VIOLATION,
		    "A stream header inside the stream", NULL);
		return -1;
	}
	if ((strcmp(ns, XMPP_NS_TLS) == 0 && strcmp(name, "starttls") == 0) ||
	    (strcmp(ns, XMPP_NS_COMPRESS) == 0 && strcmp(name, "compress") == 0)) {
		verdict_set(failure(r), "policy-violation", "post-tls-element",
		    XMPP_COND_POLICY_VIOLATION, "Not offered on this stream",
		    " element=%s ns=%s", log_escape(name, ename, sizeof(ename)),
		    log_escape(ns, ens, sizeof(ens)));
		return -1;
	}
	return 0;
}

/* s2s: every domain the peer claims goes to the owner's check. */
static int
check_claim(struct relay *r, const struct xmlstream_unit *u)
{
	char from[1024];

	if (r->l->kind != LISTENER_S2S || r->cb.peer_claim == NULL)
		return 0;
	if (u->kind == XMLSTREAM_UNIT_HEADER)
		return u->header->from == NULL ? 0 :
		    r->cb.peer_claim(r->ctx, u->header->from, 0, failure(r));
	if (u->kind == XMLSTREAM_UNIT_ELEMENT && strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
	    strcmp(u->name, "result") == 0) {
		/* A 'from' too long to be a domain is still a claim. */
		if (!xmpp_start_tag_attr(u->data, u->len, "from", from,
		    sizeof(from)))
			snprintf(from, sizeof(from), "%s", "-");
		return r->cb.peer_claim(r->ctx, from, 1, failure(r));
	}
	return 0;
}

/*
 * SASL (RFC 6120 6.4): a request whose answer may be <success/>, after
 * which the backend parses what follows as a new stream.  <abort/> is
 * answered with <failure/>.  SASL2 (XEP-0388) restarts no stream, so its
 * elements need no hold.
 */
static int
sasl_request(const struct xmlstream_unit *u)
{
	return strcmp(u->ns, XMPP_NS_SASL) == 0 &&
	    (strcmp(u->name, "auth") == 0 ||
	    strcmp(u->name, "response") == 0 ||
	    strcmp(u->name, "abort") == 0);
}

/* The backend's answer to a SASL request. */
static int
sasl_answer(const struct xmlstream_unit *u)
{
	return strcmp(u->ns, XMPP_NS_SASL) == 0 &&
	    (strcmp(u->name, "challenge") == 0 ||
	    strcmp(u->name, "success") == 0 ||
	    strcmp(u->name, "failure") == 0);
}

/*
 * The hold.  Whether the bytes behind a SASL request belong to this
 * stream or to a new one depends on the backend's answer, which has not
 * come yet: parsing them now could disagree with the backend, which, on
 * <success/>, reads them as its new stream header (CVE-2022-22784 and
 * CVE-2018-10847 class).  So the client's parser stops right after the
 * request (XMLSTREAM_STOP), what the client sends next waits unparsed in its
 * tail, bounded by client_limit() like any pending unit (the session
 * stops reading when relay_client_room() is 0), and the backend's answer
 * says how it is parsed: as a new stream after <success/>, header check
 * included, as the rest of this stream otherwise.
 */
static int
client_unit(void *ctx, const struct xmlstream_unit *u)
{
	struct relay *r = ctx;

	if (u->kind == XMLSTREAM_UNIT_HEADER &&
	    check_client_header(r, u->header))
		return -1;
	if (check_claim(r, u))
		return -1;
	r->cb.to_backend(r->ctx, u->data, u->len);
	if (u->kind == XMLSTREAM_UNIT_END) {
		r->client_ended = 1;
		return XMLSTREAM_STOP;
	}
	if (u->kind == XMLSTREAM_UNIT_ELEMENT && sasl_request(u)) {
		r->held = 1;
		return XMLSTREAM_STOP;
	}
	return XMLSTREAM_CONTINUE;
}

/* The client's parser failed: its verdict, unless a callback set one. */
static void
client_failed(struct relay *r)
{
	r->failed = 1;
	if (xmlstream_error(r->client) == XMLSTREAM_ERR_REJECTED &&
	    relay_verdict(r)->event != NULL)
		return;
	verdict_from_xmlstream(failure(r), r->client);
}

/* The backend answered: parse what was held, as a new stream or not. */
static int
release_held(struct relay *r, int new_stream)
{
	r->held = 0;
	if (xmlstream_resume(r->client, new_stream) == -1) {
		client_failed(r);
		return -1;
	}
	return 0;
}

/* Is this backend <db:result/> or <db:verify/> type='valid'? */
static int
dialback_valid(const char *p, size_t len)
{
	char type[8];

	return xmpp_start_tag_attr(p, len, "type", type, sizeof(type)) &&
	    strcmp(type, "valid") == 0;
}

static int
backend_unit(void *ctx, const struct xmlstream_unit *u)
{
	struct relay *r = ctx;

	r->cb.to_client(r->ctx, u->data, u->len);
	switch (u->kind) {
	case XMLSTREAM_UNIT_HEADER:
		r->client_has_header = 1;
		break;
	case XMLSTREAM_UNIT_ELEMENT:
		r->stripped += u->stripped;
		/* RFC 6120 6.4.6: after SASL success both sides start new
		   streams; the client can only send its new header once it
		   has this <success/>, so its parser is reset now. */
		if (strcmp(u->ns, XMPP_NS_SASL) == 0 &&
		    strcmp(u->name, "success") == 0) {
			r->client_has_header = 0;
			/* Before the held bytes are parsed: they are the new
			   stream of an authenticated client. */
			authenticate(r);
			if (r->held) {
				/* What the client sent behind its request
				   begins its new stream, exactly where the
				   backend's does. */
				if (release_held(r, 1) == -1)
					return -1;
			} else
				xmlstream_reset(r->client);
			return XMLSTREAM_RESTART;
		}
		if (r->held && sasl_answer(u) && release_held(r, 0) == -1)
			return -1;
		/* XEP-0388: SASL2 success authenticates on the same stream
		   (no restart, no hold); what the client pipelined behind
		   its <authenticate/> was parsed under the pre-auth bound. */
		if (strcmp(u->ns, XMPP_NS_SASL2) == 0 &&
		    strcmp(u->name, "success") == 0)
			authenticate(r);
		/* XEP-0220: our backend accepted the peer's domain
		   (db:result), or answered the peer's verification request
		   (db:verify, a stream that only checks keys): for s2s
		   that is authentication. */
		if (strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
		    (strcmp(u->name, "result") == 0 ||
		    strcmp(u->name, "verify") == 0) &&
		    dialback_valid(u->data, u->len))
			authenticate(r);
		break;
	case XMLSTREAM_UNIT_END:
		r->backend_ended = 1;
		return XMLSTREAM_STOP;
	case XMLSTREAM_UNIT_WHITESPACE:
		break;
	}
	return XMLSTREAM_CONTINUE;
}

void
relay_backend_limits(const struct config *cfg, struct xmlstream_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_unit = cfg->limits.max_backend_stanza_size;
	lim->max_depth = BACKEND_MAX_DEPTH;
	lim->max_attributes = BACKEND_MAX_ATTRIBUTES;
	lim->max_name = 0;	/* the backend is trusted to be sane */
	lim->max_names = BACKEND_MAX_NAMES;
}

struct relay *
relay_new(const struct config *cfg, const struct config_listener *l,
    const char *domain, const char *stream_id,
    const struct relay_callbacks *cb, void *ctx)
{
	static const struct xmlstream_callbacks client_cb = {
		.element_start = client_element_start,
		.unit = client_unit,
	};
	static const struct xmlstream_callbacks backend_cb = {
		.unit = backend_unit,
	};
	struct xmlstream_limits lim;
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->cfg = cfg;
	r->l = l;
	r->cb = *cb;
	r->ctx = ctx;
	snprintf(r->id, sizeof(r->id), "%s", stream_id);
	if (domain != NULL && (r->domain = strdup(domain)) == NULL)
		goto fail;

	memset(&lim, 0, sizeof(lim));
	lim.max_unit = client_limit(r);
	lim.max_depth = cfg->limits.max_depth;
	lim.max_attributes = cfg->limits.max_attributes;
	lim.max_name = cfg->limits.max_name_length;
	if ((r->client = xmlstream_new(&lim, &client_cb, r)) == NULL)
		goto fail;

	relay_backend_limits(cfg, &lim);
	if ((r->backend = xmlstream_new(&lim, &backend_cb, r)) == NULL)
		goto fail;
	if (xmlstream_strip(r->backend, XMPP_NS_STREAMS, "features",
	    XMPP_NS_TLS, "starttls") == -1 ||
	    xmlstream_strip(r->backend, XMPP_NS_STREAMS, "features",
	    XMPP_NS_COMPRESS_FEATURE, "compression") == -1)
		goto fail;
	/* SASL EXTERNAL (XEP-0178) is the only SASL of s2s, and the backend
	   cannot complete it: the peer's certificate ends here.  Without the
	   offer, the peer uses dialback, which the backend verifies itself. */
	if (l->kind == LISTENER_S2S && xmlstream_strip(r->backend,
	    XMPP_NS_STREAMS, "features", XMPP_NS_SASL, "mechanisms") == -1)
		goto fail;
	return r;
fail:
	relay_free(r);
	return NULL;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	xmlstream_free(r->client);
	xmlstream_free(r->backend);
	free(r->verdict);
	free(r->domain);
	free(r);
}

/* Run one direction; the END unit says the peer closed its stream. */
static enum relay_result
feed(struct relay *r, struct xmlstream *xs, const char *data, size_t len,
    int from_client)
{
	int ended;

	if (r->failed)
		return RELAY_ERROR;
	if (xmlstream_feed(xs, data, len) == -1) {
		if (from_client) {
			client_failed(r);
			return RELAY_ERROR;
		}
		r->failed = 1;
		if (xmlstream_error(xs) == XMLSTREAM_ERR_REJECTED &&
		    relay_verdict(r)->event != NULL)
			return RELAY_ERROR;
		verdict_set(failure(r), "backend-error", "bad-xml",
		    XMPP_COND_INTERNAL_SERVER_ERROR, NULL, " detail=%s",
		    xmlstream_strerror(xmlstream_error(xs)));
		return RELAY_ERROR;
	}
	if (r->held && xmlstream_pending(r->client) > client_limit(r)) {
		/* Held bytes count as a pending unit does (the session reads
		   no more than relay_client_room(), so only a caller that
		   ignores it gets here). */
		r->failed = 1;
		verdict_set(failure(r), "policy-violation",
		    "stanza-too-large", XMPP_COND_POLICY_VIOLATION,
		    "Stanza too large", " limit=%zu", client_limit(r));
		return RELAY_ERROR;
	}
	ended = from_client ? r->client_ended : r->backend_ended;
	return ended ? RELAY_STREAM_END : RELAY_OK;
}

enum relay_result
relay_from_client(struct relay *r, const char *data, size_t len)
{
	return feed(r, r->client, data, len, 1);
}

enum relay_result
relay_from_backend(struct relay *r, const char *data, size_t len)
{
	return feed(r, r->backend, data, len, 0);
}

void
relay_fail(struct relay *r, const struct verdict *v)
{
	char buf[1024];
	size_t n;

	if (!r->client_has_header) {
		n = xmpp_write_header(buf, sizeof(buf), r->l->kind, r->domain,
		    r->id);
		r->cb.to_client(r->ctx, buf, n);
		r->client_has_header = 1;
	}
	if (v->cond == XMPP_COND_NONE)
		r->cb.to_client(r->ctx, XMPP_STREAM_END,
		    strlen(XMPP_STREAM_END));
	else {
		n = xmpp_write_stream_error(buf, sizeof(buf), v->cond, v->text);
		r->cb.to_client(r->ctx, buf, n);
	}
}

const struct verdict *
relay_verdict(const struct relay *r)
{
	static const struct verdict none;

	if (r->verdict != NULL)
		return r->verdict;
	/* A failure without memory for its verdict; else nothing failed. */
	return r->failed ? &spare_verdict : &none;
}

size_t
relay_client_room(const struct relay *r)
{
	size_t max = client_limit(r);
	size_t held;

	if (!r->held)
		return SIZE_MAX;
	held = xmlstream_pending(r->client);
	return held < max ? max - held : 0;
}

int
relay_client_ended(const struct relay *r)
{
	return r->client_ended;
}

int
relay_authenticated(const struct relay *r)
{
	return r->authenticated;
}

const char *
relay_domain(const struct relay *r)
{
	return r->domain;
}

unsigned
relay_stripped(const struct relay *r)
{
	return r->stripped;
}
