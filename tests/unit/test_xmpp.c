/*
 * test_xmpp.c - the XML xmppshield writes (xmpp.h) and the verdicts that
 * end sessions (verdict.h): the stream-header check shared by pretls and
 * relay, stream errors, escaping, the table of event and reason names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "tap.h"
#include "verdict.h"
#include "xmlstream.h"
#include "xmpp.h"

#define WORD "abcdefghijklmnopqrstuvwxyz-"

static const char conf_text[] =
    "[tls]\ncertificate = /nonexistent.crt\nkey = /nonexistent.key\n"
    "[domain example.org]\n[domain example.net]\n"
    "[listener c2s]\nlisten = 127.0.0.1:0\nkind = c2s\n"
    "backend = 127.0.0.1:1\ndomains = example.org example.net\n"
    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
    "backend = 127.0.0.1:1\ndomains = example.org\n";

static struct config *cfg;

/* A client header: everything right unless changed by the caller. */
static struct xmlstream_header
header(const char *to)
{
	struct xmlstream_header h;

	memset(&h, 0, sizeof(h));
	h.ns = XMPP_NS_STREAMS;
	h.name = "stream";
	h.default_ns = XMPP_NS_CLIENT;
	h.version = "1.0";
	h.to = to;
	return h;
}

/* Check h on the c2s listener; "ok" or "event/reason fields". */
static const char *
check(const struct xmlstream_header *h, const char *domain,
    const char **served)
{
	static char out[512];
	struct verdict v;
	const char *s = NULL;

	memset(&v, 0, sizeof(v));
	if (verdict_check_header(&v, cfg, cfg->listeners, h, domain, &s) == 0) {
		if (served != NULL)
			*served = s;
		return "ok";
	}
	snprintf(out, sizeof(out), "%s/%s%s", v.event, v.reason, v.fields);
	return out;
}

static void
test_header(void)
{
	struct xmlstream_header h;
	const char *served = NULL;

	h = header("example.org");
	ok(strcmp(check(&h, NULL, &served), "ok") == 0 &&
	    strcmp(served, "example.org") == 0,
	    "header naming a served domain: accepted, the domain chosen");
	h = header("EXAMPLE.net");
	ok(strcmp(check(&h, NULL, &served), "ok") == 0 &&
	    strcmp(served, "example.net") == 0,
	    "domain case ignored, the configured name chosen");
	h = header("example.org");
	h.ns = "jabber:client";
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/invalid-namespace "
	    "detail=stream-element") == 0, "wrong stream namespace: %s",
	    check(&h, NULL, NULL));
	h = header("example.org");
	h.name = "strem";
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/invalid-namespace "
	    "detail=stream-element") == 0, "wrong root name");
	h = header("example.org");
	h.default_ns = NULL;
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/invalid-namespace "
	    "detail=content-namespace") == 0, "no content namespace");
	h = header("example.org");
	h.default_ns = XMPP_NS_SERVER;
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/invalid-namespace "
	    "detail=content-namespace") == 0,
	    "jabber:server on a c2s listener");
	h = header("example.org");
	h.version = NULL;
	ok(strcmp(check(&h, NULL, NULL),
	    "protocol-error/unsupported-version") == 0, "no version");
	h.version = "2.0";
	ok(strcmp(check(&h, NULL, NULL),
	    "protocol-error/unsupported-version") == 0, "version 2.0");
	h.version = "1.5";
	ok(strcmp(check(&h, NULL, NULL), "ok") == 0, "version 1.5 is 1.x");
	h = header(NULL);
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/host-unknown to=-")
	    == 0, "no to: host-unknown, to=-");
	h = header("");
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/host-unknown to=-")
	    == 0, "empty to: the same");
	h = header("evil.example");
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/host-unknown "
	    "to=evil.example") == 0, "unserved domain: host-unknown, to=");
	h = header("a b\n=x");
	ok(strcmp(check(&h, NULL, NULL), "protocol-error/host-unknown "
	    "to=a\\x20b\\x0a\\x3dx") == 0, "to is escaped in the log: %s",
	    check(&h, NULL, NULL));

	/* After TLS (or SASL): the domain is fixed. */
	h = header("Example.ORG");
	ok(strcmp(check(&h, "example.org", &served), "ok") == 0 &&
	    strcmp(served, "example.org") == 0, "the same domain again");
	h = header("example.net");
	ok(strcmp(check(&h, "example.org", NULL), "policy-violation/"
	    "domain-changed to=example.net") == 0,
	    "another served domain: domain-changed");
	h = header(NULL);
	ok(strcmp(check(&h, "example.org", NULL), "policy-violation/"
	    "domain-changed to=-") == 0, "no to after the domain is fixed");
	h = header("example.net");
	h.version = "0.9";
	ok(strcmp(check(&h, "example.org", NULL),
	    "protocol-error/unsupported-version") == 0,
	    "version checked before the domain, as before TLS");

	h = header("example.org");
	h.default_ns = XMPP_NS_SERVER;
	{
		struct verdict v;
		const char *s;

		ok(verdict_check_header(&v, cfg, cfg->listeners->next, &h,
		    NULL, &s) == 0, "jabber:server on an s2s listener");
	}
}

static void
test_writers(void)
{
	char buf[1024];
	size_t n;

	n = xmpp_write_stream_error(buf, sizeof(buf),
	    XMPP_COND_POLICY_VIOLATION, "a<b & 'c' \"d\">");
	ok(n > 0 && strcmp(buf, "<stream:error><policy-violation xmlns='"
	    XMPP_NS_STREAM_ERRORS "'/><text xmlns='" XMPP_NS_STREAM_ERRORS
	    "'>a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;</text>"
	    "</stream:error></stream:stream>") == 0 && n == strlen(buf),
	    "stream error with an escaped text");
	n = xmpp_write_stream_error(buf, sizeof(buf),
	    XMPP_COND_HOST_UNKNOWN, NULL);
	ok(n > 0 && strcmp(buf, "<stream:error><host-unknown xmlns='"
	    XMPP_NS_STREAM_ERRORS "'/></stream:error></stream:stream>") == 0,
	    "stream error without a text");
	n = xmpp_write_stream_error(buf, 40, XMPP_COND_HOST_UNKNOWN, NULL);
	ok(n == 0, "too small a buffer: 0");
	n = xmpp_write_header(buf, sizeof(buf), LISTENER_C2S, "ex'<&.org",
	    "abc");
	ok(n > 0 && strstr(buf, " from='ex&apos;&lt;&amp;.org'") != NULL &&
	    strstr(buf, "xmlns='jabber:client'") != NULL &&
	    strstr(buf, " id='abc'") != NULL &&
	    strstr(buf, "version='1.0'>") != NULL, "our header, from escaped");
	n = xmpp_write_header(buf, sizeof(buf), LISTENER_S2S, NULL, "abc");
	ok(n > 0 && strstr(buf, "from=") == NULL &&
	    strstr(buf, "xmlns:db='" XMPP_NS_DIALBACK "'") != NULL &&
	    strstr(buf, "xmlns='jabber:server'") != NULL,
	    "s2s header: dialback namespace, no from without a domain");
	n = xmpp_write_starttls_features(buf, sizeof(buf));
	ok(n > 0 && strcmp(buf, "<stream:features><starttls xmlns='"
	    XMPP_NS_TLS "'><required/></starttls></stream:features>") == 0,
	    "features: only STARTTLS, required");
}

static int
no_unit(void *ctx, const struct xmlstream_unit *u)
{
	(void)ctx;
	(void)u;
	return XMLSTREAM_CONTINUE;
}

/* The verdict after feeding in to a small parser: "event/reason fields". */
static const char *
parsed(const char *in)
{
	static const struct xmlstream_callbacks cb = { NULL, no_unit };
	static const struct xmlstream_limits lim = { 512, 2, 2, 64, 0, 0 };
	static char out[512];
	struct xmlstream *xs = xmlstream_new(&lim, &cb, NULL);
	struct verdict v;

	if (xmlstream_feed(xs, in, strlen(in)) != -1) {
		xmlstream_free(xs);
		return "accepted";
	}
	verdict_from_xmlstream(&v, xs);
	snprintf(out, sizeof(out), "%s/%s%s %s", v.event, v.reason, v.fields,
	    v.text ? v.text : "-");
	xmlstream_free(xs);
	return out;
}

#define S_HDR "<stream:stream xmlns='jabber:client' " \
	"xmlns:stream='http://etherx.jabber.org/streams'>"

static void
test_parser_verdicts(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ S_HDR "<a><!-- c --></a>",
		    "policy-violation/restricted-xml detail=comment -" },
		{ S_HDR "<a><b><c/></b></a>",
		    "policy-violation/too-deep Elements nested too deeply" },
		{ S_HDR "<a x='1' y='1' z='1'/>", "policy-violation/"
		    "too-many-attributes Too many attributes" },
		{ S_HDR "<a xmlns:p='u' xmlns:q='u' x='1'/>", "policy-violation/"
		    "too-many-attributes Too many attributes" },
		{ S_HDR "x", "protocol-error/bad-format "
		    "detail=text-between-stanzas -" },
		{ S_HDR "<a></b>", "protocol-error/not-well-formed "
		    "detail=mismatched-tag -" },
		{ "\xef\xbb\xbf<a/>", "policy-violation/unsupported-encoding "
		    "detail=byte-order-mark Only UTF-8 is accepted" },
	};
	char big[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(strcmp(parsed(cases[i].in), cases[i].want) == 0,
		    "parser verdict: %s", parsed(cases[i].in));
	snprintf(big, sizeof(big), S_HDR "<a>%0600d</a>", 0);
	ok(strcmp(parsed(big), "policy-violation/stanza-too-large limit=512 "
	    "Stanza too large") == 0, "parser verdict: %s", parsed(big));
}

static void
test_table(void)
{
	const char *e, *r;
	struct verdict v;
	size_t i, bad = 0;

	for (i = 0; verdict_name(i, &e, &r); i++)
		if (!verdict_known(e, r) || strspn(e, WORD) != strlen(e) ||
		    strspn(r, WORD) != strlen(r))
			bad++;
	ok(i > 30 && bad == 0, "%zu names in the table, all lower-case words",
	    i);
	ok(!verdict_known("close", "no-such-reason") &&
	    !verdict_known("policy-violation", "client-closed"),
	    "pairs are checked together");
	verdict_set(&v, "policy-violation", "too-deep", XMPP_COND_NONE, NULL,
	    " limit=%d", 3);
	ok(verdict_priority(&v) == LOG_WARNING &&
	    strcmp(v.fields, " limit=3") == 0, "policy violations warn");
	verdict_set(&v, "close", "client-closed", XMPP_COND_NONE, NULL, NULL);
	ok(verdict_priority(&v) == LOG_INFO && v.fields[0] == '\0',
	    "a close is info");
	verdict_set(&v, "backend-error", "bad-xml", XMPP_COND_NONE, NULL, NULL);
	ok(verdict_priority(&v) == LOG_ERR, "backend errors are errors");
}

static void
test_start_tag_attr(void)
{
	static const char dbr[] = "<db:result from='a.example' "
	    "to = \"b.example\" type='valid'>key from='x'</db:result>";
	char buf[64];

	ok(xmpp_start_tag_attr(dbr, strlen(dbr), "from", buf, sizeof(buf)) &&
	    strcmp(buf, "a.example") == 0, "attribute: single quotes");
	ok(xmpp_start_tag_attr(dbr, strlen(dbr), "to", buf, sizeof(buf)) &&
	    strcmp(buf, "b.example") == 0, "attribute: spaces, double quotes");
	ok(xmpp_start_tag_attr(dbr, strlen(dbr), "type", buf, sizeof(buf)) &&
	    strcmp(buf, "valid") == 0, "attribute: the last one");
	ok(!xmpp_start_tag_attr(dbr, strlen(dbr), "id", buf, sizeof(buf)),
	    "attribute: absent (text after the tag is not read)");
	ok(!xmpp_start_tag_attr(dbr, strlen(dbr), "from", buf, 5),
	    "attribute: too long for the buffer");
	ok(!xmpp_start_tag_attr("<x a:from='y'/>", 15, "from", buf,
	    sizeof(buf)), "attribute: a prefixed name is another name");
	ok(xmpp_start_tag_attr("<x t='a>b' from='y'/>", 21, "from", buf,
	    sizeof(buf)) && strcmp(buf, "y") == 0,
	    "attribute: '>' inside a value");
}

static void
test_host_name(void)
{
	char buf[8], s[] = "B.Example";

	xmpp_lower(s);
	ok(strcmp(s, "b.example") == 0, "lower case in place");
	ok(xmpp_host_name("A-1.b", buf, sizeof(buf)) && strcmp(buf, "a-1.b")
	    == 0, "host name: lower-cased copy");
	ok(!xmpp_host_name("a_b", buf, sizeof(buf)) &&
	    !xmpp_host_name("a b", buf, sizeof(buf)) &&
	    !xmpp_host_name("", buf, sizeof(buf)),
	    "host name: '_', space, empty refused");
	ok(xmpp_host_name("abcdefg", buf, sizeof(buf)) &&
	    !xmpp_host_name("abcdefgh", buf, sizeof(buf)),
	    "host name: 7 bytes fit in 8, 8 do not");
}

static void
test_element_text(void)
{
	static const char k[] = "<db:verify id='a>b' from='x'>k3y</db:verify>";
	const char *text;
	size_t n;

	ok(xmpp_element_text(k, strlen(k), &text, &n) == 1 && n == 3 &&
	    memcmp(text, "k3y", 3) == 0, "element text, '>' in a value");
	ok(xmpp_element_text("<a x='1'/>", 10, &text, &n) == 0 && n == 0 &&
	    strcmp(text, "") == 0, "empty-element tag: no text");
	ok(xmpp_element_text("<a></a>", 7, &text, &n) == 1 && n == 0,
	    "empty text");
}

static void
test_sasl_external(void)
{
	char buf[256];

	ok(xmpp_write_sasl_external(buf, sizeof(buf), "b.example") > 0 &&
	    strcmp(buf, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='EXTERNAL'>Yi5leGFtcGxl</auth>") == 0,
	    "EXTERNAL: base64 without padding");
	ok(xmpp_write_sasl_external(buf, sizeof(buf), "ab") > 0 &&
	    strstr(buf, ">YWI=<") != NULL, "EXTERNAL: one pad");
	ok(xmpp_write_sasl_external(buf, sizeof(buf), "a") > 0 &&
	    strstr(buf, ">YQ==<") != NULL, "EXTERNAL: two pads");
	ok(xmpp_write_sasl_external(buf, sizeof(buf), "") == 0 &&
	    xmpp_write_sasl_external(buf, 20, "b.example") == 0,
	    "EXTERNAL: empty authzid, small buffer: 0");
}

int
main(void)
{
	char err[256];

	if (config_parse_string(conf_text, "test.conf", &cfg, err,
	    sizeof(err)) == -1) {
		printf("Bail out! %s\n", err);
		return 99;
	}
	test_header();
	test_writers();
	test_table();
	test_parser_verdicts();
	test_start_tag_attr();
	test_sasl_external();
	test_element_text();
	test_host_name();
	config_free(cfg);
	return tap_done();
}
