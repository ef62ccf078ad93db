/*
 * test_relay.c - the post-TLS filters, through relay.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "relay.h"
#include "tap.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define CHDR_TO(to) "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:client' xmlns:stream='" NS_STREAMS "' to='" to \
	"' version='1.0'>"
#define CHDR CHDR_TO("example.org")
#define BHDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
	"xmlns:stream='" NS_STREAMS "' from='example.org' id='b1' " \
	"version='1.0'>"
#define MECHS "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" \
	"<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>" \
	"</mechanisms>"
#define FEATURES "<stream:features><starttls xmlns='urn:ietf:params:xml:" \
	"ns:xmpp-tls'/>" MECHS "<compression xmlns='http://jabber.org/" \
	"features/compress'><method>zlib</method></compression>" \
	"</stream:features>"

static const char conf_text[] =
    "[tls]\ncertificate = /nonexistent.crt\nkey = /nonexistent.key\n"
    "[limits]\nmax_stanza_size = 1k\n"
    "[domain example.org]\n"
    "[listener c2s]\nlisten = 127.0.0.1:0\nkind = c2s\n"
    "backend = 127.0.0.1:1\ndomains = example.org\n";

static struct config *cfg;

struct sink {
	char b[16384], c[16384];	/* to backend, to client */
	size_t blen, clen;
};

static void
append(char *buf, size_t *len, const char *data, size_t n)
{
	if (*len + n < 16384) {
		memcpy(buf + *len, data, n);
		*len += n;
		buf[*len] = '\0';
	}
}

static void
to_backend(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	append(s->b, &s->blen, data, len);
}

static void
to_client(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	append(s->c, &s->clen, data, len);
}

static const struct relay_callbacks cb = { to_backend, to_client, NULL };

#define FROM_CLIENT(r, str) relay_from_client((r), (str), strlen(str))
#define FROM_BACKEND(r, str) relay_from_backend((r), (str), strlen(str))

static struct relay *
fresh(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	return relay_new(cfg, cfg->listeners, "example.org", "ourid", &cb, s);
}

static enum relay_result
client_bytewise(struct relay *r, const char *in)
{
	enum relay_result res = RELAY_OK;

	for (; *in != '\0' && res == RELAY_OK; in++)
		res = relay_from_client(r, in, 1);
	return res;
}

/* Issue 3: domain fixed by the first header (direct TLS, no SNI); s2s. */
static void
test_doors(void)
{
	static const char two[] =
	    "[tls]\ncertificate = /c\nkey = /k\n"
	    "[domain example.org]\n[domain b.example]\n[domain c.example]\n"
	    "[listener c2s]\nlisten = 127.0.0.1:0\ntls = direct\n"
	    "backend = 127.0.0.1:1\ndomains = example.org b.example\n"
	    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
	    "backend = 127.0.0.1:2\ndomains = example.org\n";
	struct config *c2;
	struct sink s;
	struct relay *r;
	enum relay_result res;
	char err[256];

	if (config_parse_string(two, "two.conf", &c2, err, sizeof(err))) {
		ok(0, "config: %s", err);
		return;
	}
	memset(&s, 0, sizeof(s));
	r = relay_new(c2, c2->listeners, NULL, "id", &cb, &s);
	ok(r != NULL && relay_domain(r) == NULL, "no domain before a header");
	res = FROM_CLIENT(r, CHDR_TO("B.Example"));
	ok(res == RELAY_OK && strcmp(relay_domain(r), "b.example") == 0 &&
	    strcmp(s.b, CHDR_TO("B.Example")) == 0,
	    "the first header fixes a served domain, passed on as sent");
	FROM_BACKEND(r, BHDR "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>");
	res = FROM_CLIENT(r, CHDR_TO("example.org"));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "domain-changed") == 0, "a restart may not switch to another "
	    "served domain");
	relay_free(r);

	memset(&s, 0, sizeof(s));
	r = relay_new(c2, c2->listeners, NULL, "id", &cb, &s);
	res = FROM_CLIENT(r, CHDR_TO("c.example"));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "host-unknown") == 0 && s.blen == 0 &&
	    strstr(relay_verdict(r)->fields, "to=c.example"),
	    "a domain not served on the listener: host-unknown, nothing "
	    "passed on");
	relay_fail(r, relay_verdict(r));
	ok(strstr(s.c, "<host-unknown") && !strstr(s.c, "from="),
	    "... our header without from, then <host-unknown/>");
	relay_free(r);

#define SHDR "<?xml version='1.0'?><stream:stream xmlns='jabber:server' " \
	"xmlns:stream='" NS_STREAMS "' xmlns:db='jabber:server:dialback' " \
	"from='a.example' to='example.org' version='1.0'>"
#define DBR "<db:result from='a.example' to='example.org'>k3y</db:result>"
	memset(&s, 0, sizeof(s));
	r = relay_new(c2, c2->listeners->next, "example.org", "id", &cb, &s);
	res = FROM_CLIENT(r, SHDR DBR);
	ok(res == RELAY_OK && strcmp(s.b, SHDR DBR) == 0,
	    "s2s: dialback <db:result/> passed on unchanged after TLS");
	res = FROM_BACKEND(r, BHDR "<stream:features><starttls xmlns='urn:"
	    "ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:"
	    "xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>"
	    "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>"
	    "<db:result xmlns:db='jabber:server:dialback' type='valid' "
	    "from='example.org' to='a.example'/>");
	ok(res == RELAY_OK && !strstr(s.c, "EXTERNAL") &&
	    !strstr(s.c, "mechanisms") && !strstr(s.c, "starttls") &&
	    strstr(s.c, "<dialback xmlns='urn:xmpp:features:dialback'/>") &&
	    strstr(s.c, "type='valid'") && relay_stripped(r) == 2,
	    "s2s: SASL <mechanisms/> (EXTERNAL) and <starttls/> removed, "
	    "dialback feature and result kept");
	ok(relay_authenticated(r), "s2s: a valid <db:result/> from the "
	    "backend authenticates the stream");
	relay_free(r);

	/* What does not authenticate: another type, type in a value, or a
	   quoted '>' hiding the attribute; and db:verify that does. */
	{
		static const struct {
			const char *el;
			int want;
		} cases[] = {
			{ "<db:result type='invalid' from='example.org' "
			    "to='a.example'/>", 0 },
			{ "<db:result from='x type=\"valid\"' to='a'/>", 0 },
			{ "<db:result from='a>b' to='c'>type='valid'"
			    "</db:result>", 0 },
			{ "<db:result\n\ttype = \"valid\" from='e' to='a'/>", 1 },
			{ "<db:verify type='valid' from='e' to='a' id='1'/>", 1 },
			{ "<db:verify type='validx' from='e' to='a' id='1'/>",
			    0 },
		};
		size_t i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char buf[512];

			memset(&s, 0, sizeof(s));
			r = relay_new(c2, c2->listeners->next, "example.org",
			    "id", &cb, &s);
			FROM_CLIENT(r, SHDR DBR);
			/* The backend header declares no db prefix: bind it
			   on the element itself. */
			snprintf(buf, sizeof(buf), "%s<stream:features/>%.*s "
			    "xmlns:db='jabber:server:dialback'%s", BHDR,
			    (int)strcspn(cases[i].el, " \n"), cases[i].el,
			    cases[i].el + strcspn(cases[i].el, " \n"));
			res = FROM_BACKEND(r, buf);
			ok(res == RELAY_OK &&
			    relay_authenticated(r) == cases[i].want,
			    "s2s dialback case %zu: authenticated %s", i,
			    cases[i].want ? "yes" : "no");
			relay_free(r);
		}
	}
	config_free(c2);
}

/* Issue 13: every domain an s2s peer claims reaches the owner first. */
static char claims[512];

static int
record_claim(void *ctx, const char *from, int dialback, struct verdict *v)
{
	(void)ctx;
	snprintf(claims + strlen(claims), sizeof(claims) - strlen(claims),
	    "%s%s:%s", claims[0] ? " " : "", dialback ? "db" : "hdr", from);
	if (strcmp(from, "evil.example") == 0) {
		verdict_set(v, "policy-violation", "peer-unverified",
		    XMPP_COND_POLICY_VIOLATION, NULL, NULL);
		return -1;
	}
	return 0;
}

#define CLAIM_HDR(from) "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:server' xmlns:db='jabber:server:dialback' " \
	"xmlns:stream='" NS_STREAMS "' to='example.org'" from \
	" version='1.0'>"

static void
test_claims(void)
{
	static const char s2s[] =
	    "[tls]\ncertificate = /c\nkey = /k\n[domain example.org]\n"
	    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
	    "backend = 127.0.0.1:2\ndomains = example.org\n";
	static const struct relay_callbacks ccb = { to_backend, to_client,
	    record_claim };
	struct config *c2;
	struct sink s;
	struct relay *r;
	enum relay_result res;
	char err[256];

	if (config_parse_string(s2s, "s2s.conf", &c2, err, sizeof(err))) {
		ok(0, "config: %s", err);
		return;
	}
	memset(&s, 0, sizeof(s));
	claims[0] = '\0';
	r = relay_new(c2, c2->listeners, "example.org", "id", &ccb, &s);
	res = FROM_CLIENT(r, CLAIM_HDR(" from='a.example'"));
	ok(res == RELAY_OK && strcmp(claims, "hdr:a.example") == 0,
	    "s2s: the header's from is claimed (%s)", claims);
	res = client_bytewise(r, "<db:result from='a.example' "
	    "to='example.org'>k1</db:result>\n<db:result\tto='example.org'"
	    " from = \"b.example\" >k2</db:result><db:verify from='v.example'"
	    " to='example.org' id='i'>k3</db:verify><message from='m.example'"
	    " to='u@example.org'/><db:result to='example.org' xfrom='x' "
	    "from='c&amp;d'>k4</db:result>");
	ok(res == RELAY_OK && strcmp(claims, "hdr:a.example db:a.example "
	    "db:b.example db:c&amp;d") == 0,
	    "every <db:result/> from is claimed, raw, whatever the quoting; "
	    "not <db:verify/> or stanzas (%s)", claims);
	res = FROM_CLIENT(r, "<db:result from='evil.example' "
	    "to='example.org'>k5</db:result>");
	ok(res == RELAY_ERROR && strstr(s.b, "evil") == NULL &&
	    strcmp(relay_verdict(r)->reason, "peer-unverified") == 0,
	    "a refused claim ends the stream; the request never reaches the "
	    "backend");
	relay_free(r);

	memset(&s, 0, sizeof(s));
	claims[0] = '\0';
	r = relay_new(c2, c2->listeners, "example.org", "id", &ccb, &s);
	res = FROM_CLIENT(r, CLAIM_HDR(" from='evil.example'"));
	ok(res == RELAY_ERROR && s.blen == 0,
	    "a refused header claim: nothing reaches the backend");
	relay_free(r);

	memset(&s, 0, sizeof(s));
	claims[0] = '\0';
	r = relay_new(c2, c2->listeners, "example.org", "id", &ccb, &s);
	res = FROM_CLIENT(r, CLAIM_HDR(""));
	ok(res == RELAY_OK && claims[0] == '\0',
	    "a header without from claims nothing");
	relay_free(r);
	config_free(c2);

	/* c2s: never asked */
	memset(&s, 0, sizeof(s));
	claims[0] = '\0';
	r = relay_new(cfg, cfg->listeners, "example.org", "id", &ccb, &s);
	res = FROM_CLIENT(r, "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' xmlns:stream='" NS_STREAMS "' "
	    "to='example.org' from='evil.example' version='1.0'>");
	ok(res == RELAY_OK && claims[0] == '\0', "c2s: no claims");
	relay_free(r);
}

int
main(void)
{
	static const char client_stream[] = CHDR "<auth xmlns='urn:ietf:"
	    "params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth>";
	char err[256];
	struct sink s;
	struct relay *r;
	enum relay_result res;

	if (config_parse_string(conf_text, "test.conf", &cfg, err,
	    sizeof(err)) == -1) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}

	/* Client to backend: exactly the bytes, whatever the chunking. */
	r = fresh(&s);
	res = relay_from_client(r, client_stream, strlen(client_stream));
	ok(res == RELAY_OK && strcmp(s.b, client_stream) == 0,
	    "client header and stanza passed on byte for byte");
	relay_free(r);
	r = fresh(&s);
	res = client_bytewise(r, client_stream);
	ok(res == RELAY_OK && strcmp(s.b, client_stream) == 0,
	    "... and when they arrive one byte at a time");
	relay_free(r);
	r = fresh(&s);
	FROM_CLIENT(r, CHDR "<message><body>half");
	ok(strcmp(s.b, CHDR) == 0, "half a stanza is held back");
	relay_free(r);

	/* Backend to client: features rewritten, the rest untouched. */
	r = fresh(&s);
	res = relay_from_backend(r, BHDR FEATURES, strlen(BHDR FEATURES));
	ok(res == RELAY_OK && strstr(s.c, "starttls") == NULL,
	    "<starttls/> removed from the backend's features");
	ok(strstr(s.c, "compression") == NULL,
	    "<compression/> removed from the backend's features");
	ok(strcmp(s.c, BHDR "<stream:features>" MECHS "</stream:features>")
	    == 0, "header and <mechanisms/> passed on byte for byte");
	ok(relay_stripped(r) == 2, "two features counted as stripped");
	relay_free(r);

	/* SASL success restarts both streams. */
	r = fresh(&s);
	relay_from_client(r, client_stream, strlen(client_stream));
	FROM_BACKEND(r, BHDR FEATURES "<success xmlns='urn:ietf:params:"
	    "xml:ns:xmpp-sasl'/>" BHDR "<stream:features><bind xmlns='urn:"
	    "ietf:params:xml:ns:xmpp-bind'/></stream:features>");
	ok(strstr(s.c, "<success") && strstr(strstr(s.c, "<success"),
	    "<bind") != NULL, "backend's new stream after <success/> passed on");
	s.blen = 0;
	s.b[0] = '\0';
	res = relay_from_client(r, CHDR "<iq type='set'/>",
	    strlen(CHDR "<iq type='set'/>"));
	ok(res == RELAY_OK && strcmp(s.b, CHDR "<iq type='set'/>") == 0,
	    "client's new header after <success/> accepted and passed on");
	relay_free(r);

	/* A restart may not switch virtual host (CVE-2018-10847 class). */
	r = fresh(&s);
	relay_from_client(r, client_stream, strlen(client_stream));
	FROM_BACKEND(r, BHDR "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>");
	s.blen = 0;
	s.b[0] = '\0';
	res = relay_from_client(r, CHDR_TO("other.org"),
	    strlen(CHDR_TO("other.org")));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "domain-changed") == 0 && s.blen == 0,
	    "new header naming another domain refused, nothing passed on");
	relay_fail(r, relay_verdict(r));
	ok(strstr(s.c, "<host-unknown") != NULL && strstr(strstr(s.c,
	    "<success"), "<stream:stream") != NULL, "client gets our header "
	    "on its new stream, then <host-unknown/>");
	relay_free(r);

	/* The first post-TLS header is checked as well. */
	r = fresh(&s);
	res = relay_from_client(r, CHDR_TO("other.org"),
	    strlen(CHDR_TO("other.org")));
	ok(res == RELAY_ERROR && s.blen == 0 && strcmp(
	    relay_verdict(r)->event, "policy-violation") == 0,
	    "post-TLS header for another domain: policy-violation, "
	    "backend untouched");
	relay_free(r);

	/* Restricted XML and limits after TLS. */
	r = fresh(&s);
	res = relay_from_client(r, CHDR "<iq><!-- x --></iq>",
	    strlen(CHDR "<iq><!-- x --></iq>"));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "restricted-xml") == 0 && strcmp(s.b, CHDR) == 0,
	    "comment after TLS: restricted-xml, stanza not passed on");
	relay_fail(r, relay_verdict(r));
	ok(strstr(s.c, BHDR) == NULL && strstr(s.c, "<restricted-xml") &&
	    strstr(s.c, "</stream:stream>"), "client gets our header and "
	    "<restricted-xml/>");
	relay_free(r);
	{
		char big[2048];

		r = fresh(&s);
		snprintf(big, sizeof(big), "%s<message><body>%0*d</body>"
		    "</message>", CHDR, 1100, 0);
		res = relay_from_client(r, big, strlen(big));
		ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
		    "stanza-too-large") == 0 && strcmp(s.b, CHDR) == 0,
		    "stanza over max_stanza_size refused, not passed on");
		relay_free(r);
	}
	r = fresh(&s);
	relay_from_backend(r, BHDR, strlen(BHDR));
	res = relay_from_client(r, CHDR "<presence/></stream:stream>",
	    strlen(CHDR "<presence/></stream:stream>"));
	ok(res == RELAY_STREAM_END && strstr(s.b, "</stream:stream>"),
	    "client's </stream:stream> passed on and reported");
	relay_fail(r, relay_verdict(r));
	res = FROM_BACKEND(r, "<iq/></stream:stream>");
	ok(res == RELAY_STREAM_END, "backend's </stream:stream> reported");
	relay_free(r);

	/* STARTTLS and compression are never offered after TLS. */
	r = fresh(&s);
	res = FROM_CLIENT(r, CHDR "<starttls xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-tls'/>");
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "post-tls-element") == 0 && strcmp(s.b, CHDR) == 0,
	    "<starttls/> after TLS refused, never reaches the backend");
	relay_free(r);
	r = fresh(&s);
	res = FROM_CLIENT(r, CHDR "<compress xmlns='http://jabber.org/"
	    "protocol/compress'><method>zlib</method></compress>");
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "post-tls-element") == 0 && strcmp(s.b, CHDR) == 0,
	    "<compress/> after TLS refused, never reaches the backend");
	relay_free(r);

	/* A backend speaking nonsense is the backend's error. */
	r = fresh(&s);
	res = FROM_BACKEND(r, BHDR "<a></b>");
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->event,
	    "backend-error") == 0, "malformed backend XML is a backend-error");
	relay_free(r);

	test_doors();
	test_claims();
	config_free(cfg);
	return tap_done();
}
