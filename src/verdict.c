/*
 * verdict.c - how sessions end, and the shared rules that decide it; see
 * verdict.h.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"
#include "verdict.h"
#include "xmlstream.h"

/* Every event a verdict ends a session with, and how loud its line is. */
static const struct {
	const char *event;
	int priority;
} events[] = {
	{ "close", LOG_INFO },
	{ "timeout", LOG_NOTICE },
	{ "protocol-error", LOG_NOTICE },
	{ "tls-failed", LOG_NOTICE },
	{ "policy-violation", LOG_WARNING },
	{ "refused", LOG_WARNING },
	{ "backend-error", LOG_ERR },
	{ "internal-error", LOG_ERR },
};

/*
 * Every (event, reason) pair a verdict may carry: the one list of them.
 * tests/test_docs.sh reads the lines between "names[] = {" and "};" and
 * wants one pair a line, each documented in xmppshield(8).
 */
static const struct {
	const char *event, *reason;
} names[] = {
	{ "close", "client-closed" },
	{ "close", "client-reset" },
	{ "close", "client-tls-error" },
	{ "close", "tls-keyupdate-unsupported" },
	{ "close", "backend-closed" },
	{ "close", "shutdown" },
	{ "timeout", "proxy-header" },
	{ "timeout", "handshake" },
	{ "timeout", "pre-tls" },
	{ "timeout", "auth" },
	{ "timeout", "idle" },
	{ "protocol-error", "proxy-header" },
	{ "protocol-error", "tls-on-starttls-port" },
	{ "protocol-error", "plaintext-on-tls-port" },
	{ "protocol-error", "not-well-formed" },
	{ "protocol-error", "bad-format" },
	{ "protocol-error", "invalid-namespace" },
	{ "protocol-error", "unsupported-version" },
	{ "protocol-error", "host-unknown" },
	{ "tls-failed", "protocol-version" },
	{ "tls-failed", "no-shared-cipher" },
	{ "tls-failed", "bad-record" },
	{ "tls-failed", "bad-client-hello" },
	{ "tls-failed", "peer-alert" },
	{ "tls-failed", "peer-closed" },
	{ "tls-failed", "socket-error" },
	{ "tls-failed", "handshake-failure" },
	{ "tls-failed", "unknown-sni" },
	{ "tls-failed", "no-application-protocol" },
	{ "policy-violation", "proxy-untrusted" },
	{ "policy-violation", "sni-mismatch" },
	{ "policy-violation", "pre-tls-element" },
	{ "policy-violation", "starttls-injection" },
	{ "policy-violation", "pre-tls-too-large" },
	{ "policy-violation", "restricted-xml" },
	{ "policy-violation", "unsupported-encoding" },
	{ "policy-violation", "stanza-too-large" },
	{ "policy-violation", "header-too-large" },
	{ "policy-violation", "too-many-names" },
	{ "policy-violation", "too-deep" },
	{ "policy-violation", "too-many-attributes" },
	{ "policy-violation", "name-too-long" },
	{ "policy-violation", "post-tls-element" },
	{ "policy-violation", "peer-unverified" },
	{ "policy-violation", "nested-stream" },
	{ "policy-violation", "domain-changed" },
	{ "policy-violation", "restart-mismatch" },
	{ "refused", "max-connections-per-ip" },
	{ "refused", "connection-rate" },
	{ "backend-error", "connect-failed" },
	{ "backend-error", "connect-timeout" },
	{ "backend-error", "backend-lost" },
	{ "backend-error", "bad-xml" },
	{ "backend-error", "external-refused" },
	{ "internal-error", "out-of-memory" },
	{ "internal-error", "tls-setup" },
};

/*
 * Every (event, reason) pair an outgoing s2s connection (s2sout.c) ends
 * with: a list of their own, because they are no verdicts (no client
 * gets their stream error, verdict_set() refuses them).  The metrics
 * report each at 0 from the start; tests/test_docs.sh reads the lines
 * between "s2sout_names[] = {" and "};" as it reads names[].  A reason
 * missing here is still counted, from its first use.
 */
static const struct {
	const char *event, *reason;
} s2sout_names[] = {
	{ "s2s-out-failed", "bad-header" },
	{ "s2s-out-failed", "dns-not-found" },
	{ "s2s-out-failed", "dns-timeout" },
	{ "s2s-out-failed", "dns-failed" },
	{ "s2s-out-failed", "no-service" },
	{ "s2s-out-failed", "connect-failed" },
	{ "s2s-out-failed", "connect-timeout" },
	{ "s2s-out-failed", "no-starttls" },
	{ "s2s-out-failed", "tls-failed" },
	{ "s2s-out-failed", "peer-unverified" },
	{ "s2s-out-failed", "auth-failed" },
	{ "s2s-out-failed", "timeout" },
	{ "s2s-out-failed", "shutdown" },
	{ "s2s-out-failed", "backend-xml" },
	{ "s2s-out-failed", "internal-error" },
	{ "s2s-out-closed", "backend-closed" },
	{ "s2s-out-closed", "remote-closed" },
	{ "s2s-out-closed", "idle" },
	{ "s2s-out-closed", "remote-xml" },
	{ "s2s-out-closed", "tls-failed" },
	{ "s2s-out-closed", "shutdown" },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
verdict_known(const char *event, const char *reason)
{
	size_t i;

	if (event == NULL || reason == NULL)
		return 0;
	for (i = 0; i < NELEM(names); i++)
		if (strcmp(names[i].event, event) == 0 &&
		    strcmp(names[i].reason, reason) == 0)
			return 1;
	return 0;
}

int
verdict_name(size_t i, const char **event, const char **reason)
{
	if (i >= NELEM(names))
		return 0;
	*event = names[i].event;
	*reason = names[i].reason;
	return 1;
}

int
verdict_s2sout_name(size_t i, const char **event, const char **reason)
{
	if (i >= NELEM(s2sout_names))
		return 0;
	*event = s2sout_names[i].event;
	*reason = s2sout_names[i].reason;
	return 1;
}

int
verdict_priority(const struct verdict *v)
{
	size_t i;

	for (i = 0; i < NELEM(events); i++)
		if (v->event != NULL && strcmp(events[i].event, v->event) == 0)
			return events[i].priority;
	return LOG_NOTICE;
}

void
verdict_set(struct verdict *v, const char *event, const char *reason,
    enum xmpp_condition cond, const char *text, const char *fields, ...)
{
	va_list ap;

	/* A name missing from the table is missing from the man page. */
	assert(verdict_known(event, reason));
	v->event = event;
	v->reason = reason;
	v->cond = cond;
	v->text = text;
	v->fields[0] = '\0';
	if (fields != NULL) {
		va_start(ap, fields);
		vsnprintf(v->fields, sizeof(v->fields), fields, ap);
		va_end(ap);
	}
}

/* Expat's error text as a log-friendly word: "mismatched-tag". */
static void
slug(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < len; s++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[o++] = c;
		else if (o > 0 && out[o - 1] != '-')
			out[o++] = '-';
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	out[o] = '\0';
}

/* How each parser error ends a session; the rest is not-well-formed. */
enum field { NO_FIELD, DETAIL, LIMIT };
static const struct {
	enum xmlstream_err err;
	const char *event, *reason;
	enum xmpp_condition cond;
	const char *text;
	enum field field;
} parser_errors[] = {
	{ XMLSTREAM_ERR_RESTRICTED_XML, "policy-violation", "restricted-xml",
	    XMPP_COND_RESTRICTED_XML, NULL, DETAIL },
	{ XMLSTREAM_ERR_UNSUPPORTED_ENCODING, "policy-violation",
	    "unsupported-encoding", XMPP_COND_UNSUPPORTED_ENCODING,
	    "Only UTF-8 is accepted", DETAIL },
	{ XMLSTREAM_ERR_BAD_FORMAT, "protocol-error", "bad-format",
	    XMPP_COND_BAD_FORMAT, NULL, DETAIL },
	{ XMLSTREAM_ERR_TOO_LARGE, "policy-violation", "stanza-too-large",
	    XMPP_COND_POLICY_VIOLATION, "Stanza too large", LIMIT },
	{ XMLSTREAM_ERR_HEADER_TOO_LARGE, "policy-violation",
	    "header-too-large", XMPP_COND_POLICY_VIOLATION,
	    "Stream header too large", LIMIT },
	{ XMLSTREAM_ERR_TOO_MANY_NAMES, "policy-violation", "too-many-names",
	    XMPP_COND_POLICY_VIOLATION, "Too many distinct names", LIMIT },
	{ XMLSTREAM_ERR_TOO_DEEP, "policy-violation", "too-deep",
	    XMPP_COND_POLICY_VIOLATION, "Elements nested too deeply",
	    NO_FIELD },
	{ XMLSTREAM_ERR_TOO_MANY_ATTRIBUTES, "policy-violation",
	    "too-many-attributes", XMPP_COND_POLICY_VIOLATION,
	    "Too many attributes", NO_FIELD },
	{ XMLSTREAM_ERR_NAME_TOO_LONG, "policy-violation", "name-too-long",
	    XMPP_COND_POLICY_VIOLATION, "Name too long", NO_FIELD },
	{ XMLSTREAM_ERR_NO_MEMORY, "internal-error", "out-of-memory",
	    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NO_FIELD },
};

void
verdict_from_xmlstream(struct verdict *v, const struct xmlstream *xs)
{
	enum xmlstream_err err = xmlstream_error(xs);
	const char *detail = xmlstream_error_detail(xs);
	char word[64];
	size_t i;

	for (i = 0; i < NELEM(parser_errors); i++) {
		if (parser_errors[i].err != err)
			continue;
		verdict_set(v, parser_errors[i].event, parser_errors[i].reason,
		    parser_errors[i].cond, parser_errors[i].text, NULL);
		if (parser_errors[i].field == DETAIL)
			snprintf(v->fields, sizeof(v->fields), " detail=%s",
			    detail);
		else if (parser_errors[i].field == LIMIT)
			snprintf(v->fields, sizeof(v->fields), " limit=%zu",
			    xmlstream_error_limit(xs));
		return;
	}
	/* Expat's own errors (and a callback's refusal without a verdict
	   of its own): its message as one word. */
	slug(word, sizeof(word), detail);
	verdict_set(v, "protocol-error", "not-well-formed",
	    XMPP_COND_NOT_WELL_FORMED, NULL, " detail=%s", word);
}

int
verdict_check_header(struct verdict *v, const struct config *cfg,
    const struct config_listener *l, const struct xmlstream_header *h,
    const char *domain, const char **served)
{
	const char *to = h->to != NULL && h->to[0] != '\0' ? h->to : NULL;
	char esc[256];

	if (strcmp(h->ns, XMPP_NS_STREAMS) != 0 ||
	    strcmp(h->name, "stream") != 0) {
		verdict_set(v, "protocol-error", "invalid-namespace",
		    XMPP_COND_INVALID_NAMESPACE, NULL,
		    " detail=stream-element");
		return -1;
	}
	if (h->default_ns == NULL ||
	    strcmp(h->default_ns, xmpp_content_ns(l->kind)) != 0) {
		verdict_set(v, "protocol-error", "invalid-namespace",
		    XMPP_COND_INVALID_NAMESPACE, NULL,
		    " detail=content-namespace");
		return -1;
	}
	/* RFC 6120 4.7.5: no version means a pre-1.0 entity without
	   features, and so without STARTTLS. */
	if (h->version == NULL || strtol(h->version, NULL, 10) != 1) {
		verdict_set(v, "protocol-error", "unsupported-version",
		    XMPP_COND_UNSUPPORTED_VERSION, "Version 1.0 is required",
		    NULL);
		return -1;
	}
	if (domain == NULL) {
		if (to == NULL || !config_listener_serves(l, to)) {
			verdict_set(v, "protocol-error", "host-unknown",
			    XMPP_COND_HOST_UNKNOWN, NULL, " to=%s",
			    log_escape(to, esc, sizeof(esc)));
			return -1;
		}
		*served = config_find_domain(cfg, to)->name;
		return 0;
	}
	/* The domain was fixed before TLS or by the SNI (and chose the
	   certificate): a client may not switch virtual host across a
	   restart. */
	if (to == NULL || strcasecmp(to, domain) != 0) {
		verdict_set(v, "policy-violation", "domain-changed",
		    XMPP_COND_HOST_UNKNOWN, NULL, " to=%s",
		    log_escape(to, esc, sizeof(esc)));
		return -1;
	}
	*served = domain;
	return 0;
}
