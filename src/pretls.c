/*
 * pretls.c - the closed pre-TLS grammar; see pretls.h.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pretls.h"
#include "xmlstream.h"

/* A TLS record starts with its content type; 22 is a handshake. */
#define TLS_RECORD_HANDSHAKE	0x16
/* A fatal handshake_failure alert (RFC 5246 7.2), the answer a TLS
   client understands when it spoke TLS to a STARTTLS port. */
static const char tls_alert_handshake_failure[] = {
	0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28,
};

enum pretls_state {
	PRETLS_HEADER,		/* waiting for the stream header */
	PRETLS_FEATURES_SENT,	/* waiting for <starttls/> */
	PRETLS_STARTTLS_READ,	/* <starttls/> read; only whitespace may
				   follow */
	PRETLS_PROCEED,		/* <proceed/> written */
	PRETLS_CLOSED,
};

struct pretls {
	const struct config *cfg;
	const struct config_listener *l;
	struct xmlstream *xs;
	pretls_write_fn *write;
	void *ctx;
	enum pretls_state state;
	int header_sent;	/* our own header has been written */
	size_t fed;		/* bytes read so far, against the cap */
	char id[64];
	const char *domain;	/* cfg's name, once the header chose it */
	struct verdict verdict;
};

static void
write_str(struct pretls *p, const char *s, size_t n)
{
	p->write(p->ctx, s, n);
}

static void
write_header(struct pretls *p)
{
	char buf[1024];
	size_t n;

	if (p->header_sent)
		return;
	n = xmpp_write_header(buf, sizeof(buf), p->l->kind, p->domain, p->id);
	write_str(p, buf, n);
	p->header_sent = 1;
}

void
pretls_fail(struct pretls *p, const struct verdict *v)
{
	char buf[1024];
	size_t n;

	if (p->state == PRETLS_CLOSED)
		return;
	if (v != &p->verdict)
		p->verdict = *v;
	write_header(p);
	if (v->cond == XMPP_COND_NONE)
		write_str(p, XMPP_STREAM_END, strlen(XMPP_STREAM_END));
	else {
		n = xmpp_write_stream_error(buf, sizeof(buf), v->cond, v->text);
		write_str(p, buf, n);
	}
	p->state = PRETLS_CLOSED;
}

/* The header check shared with the relay; p->domain becomes cfg's. */
static int
check_header(struct pretls *p, const struct xmlstream_header *h)
{
	return verdict_check_header(&p->verdict, p->cfg, p->l, h, NULL,
	    &p->domain);
}

static int
on_element_start(void *ctx, const char *ns, const char *name)
{
	struct pretls *p = ctx;
	char ens[160], ename[80];

	if (p->state == PRETLS_FEATURES_SENT &&
	    strcmp(ns, XMPP_NS_TLS) == 0 && strcmp(name, "starttls") == 0)
		return 0;
	/* Name the element, never its content: a PLAIN <auth/> carries
	   the password. */
	verdict_set(&p->verdict, "policy-violation", "pre-tls-element",
	    XMPP_COND_POLICY_VIOLATION, "STARTTLS is required",
	    " element=%s ns=%s", log_escape(name, ename, sizeof(ename)),
	    log_escape(ns, ens, sizeof(ens)));
	if (strcmp(ns, XMPP_NS_SASL) == 0 && strcmp(name, "auth") == 0)
		write_str(p, XMPP_SASL_ENCRYPTION_REQUIRED,
		    strlen(XMPP_SASL_ENCRYPTION_REQUIRED));
	return -1;
}

static int
on_unit(void *ctx, const struct xmlstream_unit *u)
{
	struct pretls *p = ctx;
	char buf[512];
	size_t n;

	switch (u->kind) {
	case XMLSTREAM_UNIT_HEADER:
		if (check_header(p, u->header) == -1)
			return -1;
		write_header(p);
		n = xmpp_write_starttls_features(buf, sizeof(buf));
		write_str(p, buf, n);
		p->state = PRETLS_FEATURES_SENT;
		return XMLSTREAM_CONTINUE;
	case XMLSTREAM_UNIT_WHITESPACE:
		return XMLSTREAM_CONTINUE;
	case XMLSTREAM_UNIT_ELEMENT:
		/* on_element_start let only <starttls/> through */
		p->state = PRETLS_STARTTLS_READ;
		return XMLSTREAM_STOP;
	case XMLSTREAM_UNIT_END:
		verdict_set(&p->verdict, "close", "client-closed",
		    XMPP_COND_NONE, NULL, NULL);
		return -1;
	}
	return -1;
}

struct pretls *
pretls_new(const struct config *cfg, const struct config_listener *l,
    const char *stream_id, pretls_write_fn *write, void *ctx)
{
	static const struct xmlstream_callbacks cb = {
		.element_start = on_element_start,
		.unit = on_unit,
	};
	struct xmlstream_limits lim;
	struct pretls *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->cfg = cfg;
	p->l = l;
	p->write = write;
	p->ctx = ctx;
	snprintf(p->id, sizeof(p->id), "%s", stream_id);
	memset(&lim, 0, sizeof(lim));
	lim.max_unit = cfg->limits.max_pre_tls_bytes;
	lim.max_depth = 2;	/* <starttls/> may hold an empty child, no more */
	lim.max_attributes = 16;
	lim.max_name = cfg->limits.max_name_length;
	if ((p->xs = xmlstream_new(&lim, &cb, p)) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
pretls_free(struct pretls *p)
{
	if (p == NULL)
		return;
	xmlstream_free(p->xs);
	free(p);
}

static enum pretls_result
injection(struct pretls *p, size_t bytes)
{
	verdict_set(&p->verdict, "policy-violation", "starttls-injection",
	    XMPP_COND_POLICY_VIOLATION,
	    "Data after <starttls/> before the TLS handshake",
	    " bytes=%zu", bytes);
	pretls_fail(p, &p->verdict);
	return PRETLS_CLOSE;
}

enum pretls_result
pretls_feed(struct pretls *p, const char *data, size_t len)
{
	const char *tail;
	size_t tail_len;
	int r;

	if (p->state == PRETLS_CLOSED)
		return PRETLS_CLOSE;
	/* A client configured for direct TLS (XEP-0368) on a STARTTLS
	   port: answered in its language, before any XML is written. */
	if (p->state == PRETLS_HEADER && p->fed == 0 && len > 0 &&
	    (unsigned char)data[0] == TLS_RECORD_HANDSHAKE) {
		verdict_set(&p->verdict, "protocol-error",
		    "tls-on-starttls-port", XMPP_COND_NONE, NULL, NULL);
		write_str(p, tls_alert_handshake_failure,
		    sizeof(tls_alert_handshake_failure));
		p->fed += len;
		p->state = PRETLS_CLOSED;
		return PRETLS_CLOSE;
	}
	if (p->state == PRETLS_PROCEED)	/* such bytes belong to TLS */
		return injection(p, len);
	if (p->state == PRETLS_STARTTLS_READ &&
	    !xmlstream_all_space(data, len))
		return injection(p, len);
	/* Whitespace drained behind <starttls/> counts too: the session's
	   drain loop ends on this cap at the latest. */
	p->fed += len;
	if (p->fed > p->cfg->limits.max_pre_tls_bytes) {
		verdict_set(&p->verdict, "policy-violation", "pre-tls-too-large",
		    XMPP_COND_POLICY_VIOLATION, "Too much data before TLS",
		    " limit=%zu", p->cfg->limits.max_pre_tls_bytes);
		pretls_fail(p, &p->verdict);
		return PRETLS_CLOSE;
	}
	if (p->state == PRETLS_STARTTLS_READ)
		return PRETLS_STARTTLS;
	r = xmlstream_feed(p->xs, data, len);
	if (r == -1) {
		if (xmlstream_error(p->xs) != XMLSTREAM_ERR_REJECTED)
			verdict_from_xmlstream(&p->verdict, p->xs);
		pretls_fail(p, &p->verdict);
		return PRETLS_CLOSE;
	}
	if (r == 1) {
		/* The parser's unparsed tail is the first place injected
		   bytes hide; the socket buffer is the second (session). */
		xmlstream_tail(p->xs, &tail, &tail_len);
		if (!xmlstream_all_space(tail, tail_len))
			return injection(p, tail_len);
		return PRETLS_STARTTLS;
	}
	return PRETLS_MORE;
}

void
pretls_proceed(struct pretls *p)
{
	/* Only after PRETLS_STARTTLS (the session's contract). */
	assert(p->state == PRETLS_STARTTLS_READ);
	if (p->state != PRETLS_STARTTLS_READ)
		return;
	write_str(p, XMPP_PROCEED, strlen(XMPP_PROCEED));
	p->state = PRETLS_PROCEED;
}

void
pretls_refuse_plaintext(struct pretls *p)
{
	verdict_set(&p->verdict, "protocol-error", "plaintext-on-tls-port",
	    XMPP_COND_POLICY_VIOLATION,
	    "This port expects TLS from the first byte (XEP-0368)", NULL);
	pretls_fail(p, &p->verdict);
}

const char *
pretls_domain(const struct pretls *p)
{
	return p->domain;
}

const struct verdict *
pretls_verdict(const struct pretls *p)
{
	return &p->verdict;
}
