/*
 * test_pretls.c - the closed pre-TLS grammar, through pretls.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "pretls.h"
#include "tap.h"

#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define HDR_TO(to) "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " \
	"to='" to "' version='1.0'>"
#define HDR HDR_TO("example.org")
#define STARTTLS "<starttls xmlns='" NS_TLS "'/>"
#define PROCEED "<proceed xmlns='" NS_TLS "'/>"

static const char conf_text[] =
    "[tls]\ncertificate = /nonexistent.crt\nkey = /nonexistent.key\n"
    "[limits]\nmax_pre_tls_bytes = 1k\n"
    "[domain example.org]\n"
    "[listener c2s]\nlisten = 127.0.0.1:0\nkind = c2s\n"
    "backend = 127.0.0.1:1\ndomains = example.org\n";

static struct config *cfg;

struct out {
	char buf[16384];
	size_t len;
};

static void
out_write(void *ctx, const char *data, size_t len)
{
	struct out *o = ctx;

	if (o->len + len < sizeof(o->buf)) {
		memcpy(o->buf + o->len, data, len);
		o->len += len;
		o->buf[o->len] = '\0';
	}
}

/*
 * Feed in, split at split (0 = whole), as the session does: after
 * PRETLS_STARTTLS the rest is "drained" into pretls too, then proceed.
 */
static enum pretls_result
talk(const char *in, size_t split, struct out *o, const char **reason,
    char *fields, size_t flen)
{
	struct pretls *p;
	enum pretls_result r;
	size_t len = strlen(in);

	memset(o, 0, sizeof(*o));
	p = pretls_new(cfg, cfg->listeners, "0123abcd", out_write, o);
	if (split == 0 || split >= len)
		r = pretls_feed(p, in, len);
	else {
		r = pretls_feed(p, in, split);
		if (r != PRETLS_CLOSE)
			r = pretls_feed(p, in + split, len - split);
	}
	if (r == PRETLS_STARTTLS)
		pretls_proceed(p);
	*reason = r == PRETLS_CLOSE ? pretls_verdict(p)->reason : "";
	if (fields != NULL)
		snprintf(fields, flen, "%s", r == PRETLS_CLOSE ?
		    pretls_verdict(p)->fields : "");
	pretls_free(p);
	return r;
}

static void
refused(const char *name, const char *in, const char *reason,
    const char *error)
{
	struct out o;
	const char *why;
	enum pretls_result r = talk(in, 0, &o, &why, NULL, 0);

	ok(r == PRETLS_CLOSE && strcmp(why, reason) == 0 &&
	    strstr(o.buf, error) != NULL && strstr(o.buf, "<stream:stream")
	    != NULL && strstr(o.buf, "</stream:stream>") != NULL &&
	    strstr(o.buf, PROCEED) == NULL, "%s -> %s", name, reason);
	if (r != PRETLS_CLOSE || strcmp(why, reason) != 0)
		printf("# result %d reason %s out %s\n", r, why, o.buf);
}

/* Issue 3: TLS on a STARTTLS port, plaintext on a direct port, s2s. */
static void
test_doors(void)
{
	static const char hello[] = "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";
	static const char alert[] = "\x15\x03\x03\x00\x02\x02\x28";
	struct config *c2;
	struct pretls *p;
	struct out o;
	char err[256];
	enum pretls_result r;

	memset(&o, 0, sizeof(o));
	p = pretls_new(cfg, cfg->listeners, "id1", out_write, &o);
	r = pretls_feed(p, hello, sizeof(hello) - 1);
	ok(r == PRETLS_CLOSE && strcmp(pretls_verdict(p)->event,
	    "protocol-error") == 0 && strcmp(pretls_verdict(p)->reason,
	    "tls-on-starttls-port") == 0,
	    "ClientHello first on a STARTTLS port: tls-on-starttls-port");
	ok(o.len == sizeof(alert) - 1 && memcmp(o.buf, alert, o.len) == 0,
	    "... answered with a TLS handshake_failure alert, no XML");
	ok(pretls_feed(p, HDR, strlen(HDR)) == PRETLS_CLOSE &&
	    o.len == sizeof(alert) - 1, "... and nothing after it");
	pretls_free(p);

	memset(&o, 0, sizeof(o));
	p = pretls_new(cfg, cfg->listeners, "id2", out_write, &o);
	r = pretls_feed(p, " ", 1);
	r = pretls_feed(p, hello, sizeof(hello) - 1);
	ok(r == PRETLS_CLOSE && strcmp(pretls_verdict(p)->reason,
	    "not-well-formed") == 0 && strstr(o.buf, "<stream:error>"),
	    "a TLS record later in the stream is just not XML");
	pretls_free(p);

	memset(&o, 0, sizeof(o));
	p = pretls_new(cfg, cfg->listeners, "id3", out_write, &o);
	pretls_refuse_plaintext(p);
	ok(strcmp(pretls_verdict(p)->reason, "plaintext-on-tls-port") == 0 &&
	    strcmp(pretls_verdict(p)->event, "protocol-error") == 0,
	    "plaintext on a direct port: plaintext-on-tls-port");
	ok(strstr(o.buf, "<stream:stream") && strstr(o.buf,
	    "<policy-violation") && strstr(o.buf, "XEP-0368") &&
	    strstr(o.buf, "</stream:stream>") && !strstr(o.buf, "from="),
	    "... our header, <policy-violation/> with a hint, no from");
	pretls_free(p);

	if (config_parse_string("[tls]\ncertificate = /c\nkey = /k\n"
	    "[domain example.org]\n[listener s2s]\nlisten = 127.0.0.1:0\n"
	    "kind = s2s\nbackend = 127.0.0.1:1\ndomains = example.org\n",
	    "s2s.conf", &c2, err, sizeof(err)) != 0) {
		ok(0, "s2s config: %s", err);
		return;
	}
#define S2S_HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:server' " \
	"xmlns:stream='http://etherx.jabber.org/streams' " \
	"xmlns:db='jabber:server:dialback' from='a.example' " \
	"to='example.org' version='1.0'>"
	memset(&o, 0, sizeof(o));
	p = pretls_new(c2, c2->listeners, "id4", out_write, &o);
	r = pretls_feed(p, S2S_HDR STARTTLS, strlen(S2S_HDR STARTTLS));
	ok(r == PRETLS_STARTTLS && strstr(o.buf, "xmlns='jabber:server'") &&
	    strstr(o.buf, "xmlns:db='jabber:server:dialback'"),
	    "s2s: jabber:server header with xmlns:db, then STARTTLS");
	pretls_free(p);
	memset(&o, 0, sizeof(o));
	p = pretls_new(c2, c2->listeners, "id5", out_write, &o);
	r = pretls_feed(p, S2S_HDR "<db:result from='a.example' "
	    "to='example.org'>k3y</db:result>", strlen(S2S_HDR) + 60);
	ok(r == PRETLS_CLOSE && strcmp(pretls_verdict(p)->reason,
	    "pre-tls-element") == 0 && strstr(pretls_verdict(p)->fields,
	    "element=result ns=jabber:server:dialback") && strstr(o.buf,
	    "<policy-violation"), "s2s: <db:result/> before TLS refused");
	pretls_free(p);
	memset(&o, 0, sizeof(o));
	p = pretls_new(c2, c2->listeners, "id6", out_write, &o);
	r = pretls_feed(p, HDR, strlen(HDR));
	ok(r == PRETLS_CLOSE && strcmp(pretls_verdict(p)->reason,
	    "invalid-namespace") == 0, "s2s: a jabber:client header refused");
	pretls_free(p);
	config_free(c2);
}

/* CPU seconds of this process. */
static double
cpu_now(void)
{
	return (double)clock() / CLOCKS_PER_SEC;
}

/* Feed in one byte at a time to a new conversation; the CPU it took. */
static double
drip(const struct config *c, const char *in, size_t len,
    enum pretls_result *last)
{
	struct out o;
	struct pretls *p;
	double t0 = cpu_now();
	size_t i;

	memset(&o, 0, sizeof(o));
	p = pretls_new(c, c->listeners, "drip", out_write, &o);
	*last = PRETLS_MORE;
	for (i = 0; i < len && *last == PRETLS_MORE; i++)
		*last = pretls_feed(p, in + i, 1);
	pretls_free(p);
	return cpu_now() - t0;
}

/*
 * test_drip_cpu, before TLS (issue 10): a <starttls> start tag as long
 * as max_pre_tls_bytes allows, fed a byte at a time, costs about as much
 * as whitespace of the same size (it was quadratic: Expat rescanned the
 * unfinished tag for every byte); and so does a stream header, which is
 * refused at XMLSTREAM_MAX_HEADER bytes.
 */
static void
test_drip_cpu(void)
{
	static char tag[70000], ws[70000], hdr[70000];
	struct config *c;
	char err[256];
	enum pretls_result r1, r2, r3;
	double t_tag, t_ws, t_hdr;
	size_t n = 60 * 1024;

	if (config_parse_string("[tls]\ncertificate = /c\nkey = /k\n"
	    "[limits]\nmax_pre_tls_bytes = 64k\n[domain example.org]\n"
	    "[listener c2s]\nlisten = 127.0.0.1:0\nkind = c2s\n"
	    "backend = 127.0.0.1:1\ndomains = example.org\n", "drip.conf",
	    &c, err, sizeof(err)) != 0) {
		ok(0, "drip config: %s", err);
		return;
	}
	snprintf(tag, sizeof(tag), "%s<starttls xmlns='%s' a='%0*d'/>", HDR,
	    NS_TLS, (int)n, 0);
	snprintf(ws, sizeof(ws), "%s%*s%s", HDR, (int)n + 10, "", STARTTLS);
	snprintf(hdr, sizeof(hdr), "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' to='example.org' "
	    "version='1.0' a='%0*d'>", (int)n, 0);
	t_ws = drip(c, ws, strlen(ws), &r1);
	t_tag = drip(c, tag, strlen(tag), &r2);
	t_hdr = drip(c, hdr, strlen(hdr), &r3);
	ok(r1 == PRETLS_STARTTLS && r2 == PRETLS_STARTTLS &&
	    t_tag <= 4 * t_ws + 0.05, "test_drip_cpu: a %zu KiB <starttls> "
	    "tag fed byte by byte: %.3f s CPU, as much whitespace %.3f s",
	    n / 1024, t_tag, t_ws);
	ok(r3 == PRETLS_CLOSE && t_hdr <= 4 * t_ws + 0.05,
	    "test_drip_cpu: a long header fed byte by byte is refused at "
	    "its cap: %.3f s CPU", t_hdr);
	config_free(c);
}

int
main(void)
{
	char err[256], fields[256];
	struct out o;
	const char *why;
	enum pretls_result r;
	size_t i, n;
	int all;

	if (config_parse_string(conf_text, "test.conf", &cfg, err,
	    sizeof(err)) == -1) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}

	/* The happy path. */
	r = talk(HDR STARTTLS, 0, &o, &why, NULL, 0);
	ok(r == PRETLS_STARTTLS, "header and <starttls/> lead to STARTTLS");
	ok(strstr(o.buf, "from='example.org'") && strstr(o.buf,
	    "id='0123abcd'") && strstr(o.buf, "xmlns='jabber:client'"),
	    "our header names the served domain and the fresh id");
	ok(strstr(o.buf, "<stream:features><starttls xmlns='" NS_TLS
	    "'><required/></starttls></stream:features>") != NULL,
	    "features offer only <starttls><required/></starttls>");
	ok(strstr(o.buf, "mechanisms") == NULL, "no SASL before TLS");
	n = strlen(o.buf);
	ok(n > strlen(PROCEED) && strcmp(o.buf + n - strlen(PROCEED),
	    PROCEED) == 0, "<proceed/> comes last");
	r = talk(HDR STARTTLS " \r\n\t", 0, &o, &why, NULL, 0);
	ok(r == PRETLS_STARTTLS, "whitespace after <starttls/> is dropped");
	r = talk(HDR "\n<starttls xmlns='" NS_TLS "'></starttls>", 0, &o,
	    &why, NULL, 0);
	ok(r == PRETLS_STARTTLS, "<starttls></starttls> long form accepted");

	/* Chunking: every split point gives the same outcome. */
	all = 1;
	for (i = 1; i < strlen(HDR STARTTLS); i++)
		if (talk(HDR STARTTLS, i, &o, &why, NULL, 0) !=
		    PRETLS_STARTTLS || strstr(o.buf, PROCEED) == NULL)
			all = 0;
	ok(all, "STARTTLS reached whatever the split point");

	/* STARTTLS command injection, at every split point. */
	all = 1;
	for (i = 1; i < strlen(HDR STARTTLS "<iq type='get'/>"); i++) {
		r = talk(HDR STARTTLS "<iq type='get'/>", i, &o, &why, NULL, 0);
		if (r != PRETLS_CLOSE || strcmp(why, "starttls-injection") != 0
		    || strstr(o.buf, PROCEED) != NULL)
			all = 0;
	}
	ok(all, "<iq/> behind <starttls/> refused at every split point, "
	    "never <proceed/>");
	refused("<auth/> pipelined behind <starttls/>", HDR STARTTLS
	    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
	    "starttls-injection", "<policy-violation");
	refused("TLS ClientHello pipelined behind <starttls/>",
	    HDR STARTTLS "\x16\x03\x01\x02\x00\x01", "starttls-injection",
	    "<policy-violation");
	refused("text behind <starttls/> and whitespace", HDR STARTTLS
	    "  x", "starttls-injection", "<policy-violation");

	/* The header. */
	refused("unserved domain", HDR_TO("evil.example"), "host-unknown",
	    "<host-unknown");
	talk(HDR_TO("evil.example"), 0, &o, &why, fields, sizeof(fields));
	ok(strstr(o.buf, "from=") == NULL && strstr(fields,
	    "to=evil.example") != NULL, "unserved domain: no from, logged");
	refused("missing to", "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
	    "host-unknown", "<host-unknown");
	refused("jabber:server on a c2s listener", "<stream:stream xmlns="
	    "'jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
	    "to='example.org' version='1.0'>", "invalid-namespace",
	    "<invalid-namespace");
	refused("wrong stream namespace", "<stream:stream xmlns='jabber:"
	    "client' xmlns:stream='urn:wrong' to='example.org' "
	    "version='1.0'>", "invalid-namespace", "<invalid-namespace");
	refused("no version", "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "to='example.org'>", "unsupported-version",
	    "<unsupported-version");
	refused("version 0.9", "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "to='example.org' version='0.9'>", "unsupported-version",
	    "<unsupported-version");
	r = talk("<s:stream xmlns='jabber:client' xmlns:s='http://etherx."
	    "jabber.org/streams' to='EXAMPLE.org' version='1.0'>" STARTTLS,
	    0, &o, &why, NULL, 0);
	ok(r == PRETLS_STARTTLS, "any stream prefix and domain case accepted");

	/* Nothing but <starttls/> before TLS. */
	r = talk(HDR "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>", 0, &o, &why,
	    fields, sizeof(fields));
	ok(r == PRETLS_CLOSE && strcmp(why, "pre-tls-element") == 0 &&
	    strstr(o.buf, "<encryption-required/>") != NULL &&
	    strstr(o.buf, "<policy-violation") != NULL,
	    "<auth/> before TLS: encryption-required, policy-violation");
	ok(strstr(fields, "element=auth") != NULL && strstr(fields,
	    "AGFsaWNl") == NULL, "<auth/> logged by name, never its payload");
	refused("<iq/> before TLS", HDR "<iq type='get' id='1'><query "
	    "xmlns='jabber:iq:register'/></iq>", "pre-tls-element",
	    "<policy-violation");
	refused("<message/> before TLS", HDR "<message to='a@b'/>",
	    "pre-tls-element", "<policy-violation");
	refused("<presence/> before TLS", HDR "<presence/>",
	    "pre-tls-element", "<policy-violation");
	refused("<compress/> before TLS", HDR "<compress xmlns='http://"
	    "jabber.org/protocol/compress'><method>zlib</method></compress>",
	    "pre-tls-element", "<policy-violation");
	refused("stream management before TLS", HDR "<enable xmlns='urn:"
	    "xmpp:sm:3'/>", "pre-tls-element", "<policy-violation");
	refused("<starttls/> in the wrong namespace", HDR "<starttls "
	    "xmlns='urn:wrong'/>", "pre-tls-element", "<policy-violation");
	refused("a second <starttls/>", HDR STARTTLS STARTTLS,
	    "starttls-injection", "<policy-violation");

	/* Restricted XML and bounds. */
	refused("comment before TLS", HDR "<!-- x -->", "restricted-xml",
	    "<restricted-xml");
	refused("DOCTYPE before TLS", "<?xml version='1.0'?><!DOCTYPE s [<!"
	    "ENTITY a 'aaaa'>]>", "restricted-xml", "<restricted-xml");
	refused("UTF-16 before TLS", "\xff\xfe<\0", "unsupported-encoding",
	    "<unsupported-encoding");
	refused("junk before TLS", "GET / HTTP/1.1\r\n", "not-well-formed",
	    "<not-well-formed");
	{
		char big[2048];

		snprintf(big, sizeof(big), "%s%*s", HDR, 1100, "");
		refused("more than max_pre_tls_bytes", big,
		    "pre-tls-too-large", "<policy-violation");
	}
	r = talk(HDR "</stream:stream>", 0, &o, &why, NULL, 0);
	ok(r == PRETLS_CLOSE && strcmp(why, "client-closed") == 0 &&
	    strstr(o.buf, "<stream:error") == NULL, "client closing its "
	    "stream before TLS gets </stream:stream>, no error");

	test_doors();
	test_drip_cpu();
	config_free(cfg);
	return tap_done();
}
