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

static const struct relay_callbacks cb = { .to_backend = to_backend,
    .to_client = to_client };

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
	static const struct relay_callbacks ccb = {
		.to_backend = to_backend, .to_client = to_client,
		.peer_claim = record_claim };
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

/* --- the SASL hold (issue 10, defect 2) ------------------------------ */

#define SASL_NS "urn:ietf:params:xml:ns:xmpp-sasl"
#define AUTH "<auth xmlns='" SASL_NS "' mechanism='PLAIN'>AGE=</auth>"
#define RESP "<response xmlns='" SASL_NS "'>cmVzcA==</response>"
#define ABORT "<abort xmlns='" SASL_NS "'/>"
#define SUCCESS "<success xmlns='" SASL_NS "'/>"
#define FAILURE "<failure xmlns='" SASL_NS "'><not-authorized/></failure>"
#define CHALLENGE "<challenge xmlns='" SASL_NS "'>Y2g=</challenge>"
#define BIND "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:" \
	"xmpp-bind'><resource>r</resource></bind></iq>"
/* The smuggled stream: after <success/> the backend reads it as its new
   header and stanzas; it names another domain. */
#define SMUGGLED CHDR_TO("other.org") BIND "</stream:stream>"

struct outcome {
	int failed;		/* RELAY_ERROR at some point */
	char reason[64];
	char held[16384];	/* to the backend before the first answer */
	char b[16384];		/* to the backend in the end */
	int authenticated, client_ended;
};

#define CUT_BYTEWISE ((size_t)-1)

/* While the client's bytes are held, the backend answers the request
   with the next of answers (NULL-terminated), as a real one would. */
static enum relay_result
answer_held(struct relay *r, struct sink *s, const char *const **answers,
    struct outcome *o)
{
	enum relay_result res = RELAY_OK;

	while (res != RELAY_ERROR && **answers != NULL &&
	    relay_client_room(r) != (size_t)-1) {
		if (o->held[0] == '\0')
			snprintf(o->held, sizeof(o->held), "%s", s->b);
		res = FROM_BACKEND(r, **answers);
		(*answers)++;
	}
	return res;
}

/*
 * The backend's header and features, then the client's bytes cut in two
 * at cut (or one byte at a time); the backend answers each held request
 * as soon as it is held (early) or only once all client bytes are in.
 */
static void
run_hold(const char *client, size_t cut, const char *const *answers,
    int early, struct outcome *o)
{
	size_t len = strlen(client), i, step;
	struct sink s;
	struct relay *r = fresh(&s);
	enum relay_result res;

	memset(o, 0, sizeof(*o));
	res = FROM_BACKEND(r, BHDR FEATURES);
	if (cut == 0 || (cut != CUT_BYTEWISE && cut > len))
		cut = len;
	for (i = 0; i < len && res != RELAY_ERROR; i += step) {
		if (cut == CUT_BYTEWISE)
			step = 1;
		else
			step = i == 0 ? cut : len - i;
		res = relay_from_client(r, client + i, step);
		if (early && res != RELAY_ERROR)
			res = answer_held(r, &s, &answers, o);
	}
	if (res != RELAY_ERROR)
		res = answer_held(r, &s, &answers, o);
	o->failed = res == RELAY_ERROR;
	if (o->failed)
		snprintf(o->reason, sizeof(o->reason), "%s",
		    relay_verdict(r)->reason);
	snprintf(o->b, sizeof(o->b), "%s", s.b);
	o->authenticated = relay_authenticated(r);
	o->client_ended = relay_client_ended(r);
	relay_free(r);
}

static int
same_outcome(const struct outcome *a, const struct outcome *b)
{
	return a->failed == b->failed && strcmp(a->reason, b->reason) == 0 &&
	    strcmp(a->b, b->b) == 0 && strcmp(a->held, b->held) == 0 &&
	    a->authenticated == b->authenticated &&
	    a->client_ended == b->client_ended;
}

/* The outcome of feeding client at once, after checking that every
   split (two pieces at each offset, byte by byte, answers early or
   late) gives the very same. */
static int
hold_invariant(const char *client, const char *const *answers,
    struct outcome *o)
{
	struct outcome other;
	size_t len = strlen(client), cut;
	int early, same = 1;

	run_hold(client, 0, answers, 0, o);
	for (early = 0; early <= 1; early++) {
		for (cut = 1; cut <= len; cut++) {
			run_hold(client, cut, answers, early, &other);
			same &= same_outcome(o, &other);
		}
		run_hold(client, CUT_BYTEWISE, answers, early, &other);
		same &= same_outcome(o, &other);
	}
	return same;
}

#define ANSWERS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* A header inside a stream carries no XML declaration (which would be
   not-well-formed there). */
#define NESTED_HDR "<stream:stream xmlns='jabber:client' xmlns:stream='" \
	NS_STREAMS "' to='example.org' version='1.0'>"

static void
test_sasl_hold(void)
{
	struct outcome o;
	int inv;

	/* The report: <auth/> and a whole stream in one record. */
	inv = hold_invariant(CHDR AUTH SMUGGLED, ANSWERS(SUCCESS), &o);
	ok(strcmp(o.held, CHDR AUTH) == 0, "bytes behind <auth/> are held "
	    "until the backend answers");
	ok(o.failed && strcmp(o.reason, "domain-changed") == 0 &&
	    strcmp(o.b, CHDR AUTH) == 0, "smuggled stream after <success/>: "
	    "parsed as the new stream, its header refused (domain-changed), "
	    "nothing of it passed on");
	ok(inv, "... the same however the client's bytes are split and "
	    "whenever the answer comes");

	inv = hold_invariant(CHDR AUTH NESTED_HDR BIND "</stream:stream>",
	    ANSWERS(FAILURE), &o);
	ok(o.failed && strcmp(o.reason, "nested-stream") == 0 &&
	    strcmp(o.b, CHDR AUTH) == 0, "smuggled stream after <failure/>: "
	    "a <stream:stream> element in the old stream, refused "
	    "(nested-stream), nothing of it passed on");
	ok(inv, "... whatever the split");

	inv = hold_invariant(CHDR NESTED_HDR, ANSWERS(NULL), &o);
	ok(o.failed && strcmp(o.reason, "nested-stream") == 0 &&
	    strcmp(o.b, CHDR) == 0, "a <stream:stream> element without any "
	    "SASL refused at its start tag");
	ok(inv, "... whatever the split");

	/* Pipelining clients: delayed, not lost. */
	inv = hold_invariant(CHDR AUTH CHDR BIND, ANSWERS(SUCCESS), &o);
	ok(strcmp(o.held, CHDR AUTH) == 0 && !o.failed &&
	    strcmp(o.b, CHDR AUTH CHDR BIND) == 0 && o.authenticated,
	    "pipelined login (<auth/>, new header, bind in one write): all "
	    "passed on after <success/>, in order");
	ok(inv, "... whatever the split");

	inv = hold_invariant(CHDR AUTH RESP CHDR BIND,
	    ANSWERS(CHALLENGE, SUCCESS), &o);
	ok(!o.failed && strcmp(o.b, CHDR AUTH RESP CHDR BIND) == 0,
	    "<challenge/> releases the hold on the same stream, <response/> "
	    "holds again until <success/>");
	ok(inv, "... whatever the split");

	inv = hold_invariant(CHDR AUTH "<presence/>", ANSWERS(FAILURE), &o);
	ok(!o.failed && strcmp(o.b, CHDR AUTH "<presence/>") == 0 &&
	    !o.authenticated, "<failure/> releases the hold: the rest is "
	    "the same stream");
	ok(inv, "... whatever the split");

	inv = hold_invariant(CHDR AUTH ABORT AUTH, ANSWERS(FAILURE, FAILURE),
	    &o);
	ok(!o.failed && strcmp(o.b, CHDR AUTH ABORT AUTH) == 0,
	    "<abort/> is held behind like a request, answered by <failure/>");
	ok(inv, "... whatever the split");

	inv = hold_invariant(CHDR AUTH "</stream:stream>", ANSWERS(FAILURE),
	    &o);
	ok(!o.failed && o.client_ended &&
	    strcmp(o.b, CHDR AUTH "</stream:stream>") == 0,
	    "a held </stream:stream> is passed on and reported once released");
	ok(inv, "... whatever the split");

	/* Bounded: held bytes count as a pending stanza. */
	{
		char big[2048];
		struct sink s;
		struct relay *r = fresh(&s);
		enum relay_result res;

		FROM_BACKEND(r, BHDR FEATURES);
		ok(relay_client_room(r) == (size_t)-1, "no hold, no bound "
		    "beyond the parser's");
		res = FROM_CLIENT(r, CHDR AUTH "<iq>");
		ok(res == RELAY_OK && relay_client_room(r) == 1024 - 4,
		    "while held, the room left is max_stanza_size minus what "
		    "waits (%zu)", relay_client_room(r));
		memset(big, 'x', sizeof(big));
		res = relay_from_client(r, big, relay_client_room(r));
		ok(res == RELAY_OK && relay_client_room(r) == 0,
		    "held up to max_stanza_size: room 0 (the session stops "
		    "reading)");
		res = relay_from_client(r, big, 1);
		ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
		    "stanza-too-large") == 0 && strcmp(s.b, CHDR AUTH) == 0,
		    "one byte more: stanza-too-large, nothing passed on");
		relay_free(r);
	}
}

/* --- the pre-auth stanza bound --------------------------------------- */

#define SASL2_NS "urn:xmpp:sasl:2"
#define SASL2_AUTH "<authenticate xmlns='" SASL2_NS "' mechanism='PLAIN'>" \
	"<initial-response>AGFsaWNlAHNlY3JldA==</initial-response>" \
	"</authenticate>"
#define SASL2_SUCCESS "<success xmlns='" SASL2_NS "'><authorization-" \
	"identifier>alice@example.org/r</authorization-identifier></success>"

/* A message of n bytes in all. */
static const char *
message(size_t n)
{
	static char buf[12288];
	static const char pre[] = "<message to='bob@example.org'><body>";
	static const char post[] = "</body></message>";
	size_t fill = n - strlen(pre) - strlen(post);

	snprintf(buf, sizeof(buf), "%s%0*d%s", pre, (int)fill, 0, post);
	return buf;
}

static void
test_preauth_bound(void)
{
	static const char text[] =
	    "[tls]\ncertificate = /c\nkey = /k\n"
	    "[limits]\nmax_stanza_size = 64k\nmax_preauth_stanza_size = 4k\n"
	    "[domain example.org]\n"
	    "[listener c2s]\nlisten = 127.0.0.1:0\n"
	    "backend = 127.0.0.1:1\ndomains = example.org\n"
	    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
	    "backend = 127.0.0.1:2\ndomains = example.org\n";
	struct config *c;
	struct sink s;
	struct relay *r;
	enum relay_result res;
	char err[256], big[8192];

	if (config_parse_string(text, "preauth.conf", &c, err, sizeof(err))) {
		ok(0, "config: %s", err);
		return;
	}
#define NEW(l) (memset(&s, 0, sizeof(s)), \
	relay_new(c, (l), "example.org", "id", &cb, &s))

	/* Before authentication: max_preauth_stanza_size. */
	r = NEW(c->listeners);
	FROM_BACKEND(r, BHDR FEATURES);
	res = FROM_CLIENT(r, CHDR);
	res = relay_from_client(r, message(4096), 4096);
	ok(res == RELAY_OK && strstr(s.b, "<message") != NULL,
	    "before authentication a stanza of max_preauth_stanza_size "
	    "passes");
	res = relay_from_client(r, message(4097), 4097);
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "stanza-too-large") == 0 && strcmp(relay_verdict(r)->fields,
	    " limit=4096") == 0 && strstr(s.b, "<message") == s.b +
	    strlen(CHDR) && s.blen == strlen(CHDR) + 4096,
	    "one byte more: stanza-too-large limit=4096, not passed on (%s)",
	    relay_verdict(r)->fields);
	relay_fail(r, relay_verdict(r));
	ok(strstr(s.c, "<policy-violation") != NULL, "... <policy-violation/>");
	relay_free(r);

	/* The SASL hold is bounded by it too. */
	r = NEW(c->listeners);
	FROM_BACKEND(r, BHDR FEATURES);
	res = FROM_CLIENT(r, CHDR AUTH);
	ok(res == RELAY_OK && relay_client_room(r) == 4096,
	    "held behind <auth/>: room max_preauth_stanza_size (%zu)",
	    relay_client_room(r));
	memset(big, ' ', sizeof(big));
	res = relay_from_client(r, big, 4097);
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->fields,
	    " limit=4096") == 0, "held bytes over it: stanza-too-large "
	    "limit=4096");
	relay_free(r);

	/* After SASL <success/>: max_stanza_size, in the new stream and in
	   what was held behind the request (the new stream's first bytes). */
	r = NEW(c->listeners);
	FROM_BACKEND(r, BHDR FEATURES);
	FROM_CLIENT(r, CHDR AUTH CHDR);
	FROM_BACKEND(r, SUCCESS BHDR);
	ok(relay_authenticated(r) && relay_client_room(r) == (size_t)-1,
	    "SASL <success/>: authenticated, the hold released");
	res = relay_from_client(r, message(8192), 8192);
	ok(res == RELAY_OK && s.blen == strlen(CHDR AUTH CHDR) + 8192,
	    "after SASL <success/> an 8 KiB stanza passes");
	relay_free(r);

	/* SASL2 (XEP-0388): success authenticates without a restart. */
	r = NEW(c->listeners);
	FROM_BACKEND(r, BHDR FEATURES);
	res = FROM_CLIENT(r, CHDR SASL2_AUTH);
	ok(res == RELAY_OK && relay_client_room(r) == (size_t)-1 &&
	    strcmp(s.b, CHDR SASL2_AUTH) == 0,
	    "SASL2 <authenticate/> passed on, nothing held (no restart)");
	res = FROM_BACKEND(r, "<message from='x@example.org'><success xmlns='"
	    SASL2_NS "'/></message>");
	ok(res == RELAY_OK && !relay_authenticated(r),
	    "a SASL2 <success/> inside a stanza authenticates no one");
	res = FROM_BACKEND(r, SASL2_SUCCESS);
	ok(res == RELAY_OK && relay_authenticated(r) &&
	    strstr(s.c, SASL2_SUCCESS) != NULL,
	    "SASL2 <success/> passed on: authenticated");
	res = relay_from_client(r, message(8192), 8192);
	ok(res == RELAY_OK && s.blen == strlen(CHDR SASL2_AUTH) + 8192,
	    "... and the same stream (no new header) takes an 8 KiB stanza");
	relay_free(r);

	/* A SASL2 <failure/> does not. */
	r = NEW(c->listeners);
	FROM_BACKEND(r, BHDR FEATURES);
	FROM_CLIENT(r, CHDR SASL2_AUTH);
	FROM_BACKEND(r, "<failure xmlns='" SASL2_NS "'><not-authorized xmlns="
	    "'urn:ietf:params:xml:ns:xmpp-sasl'/></failure>");
	res = relay_from_client(r, message(8192), 8192);
	ok(!relay_authenticated(r) && res == RELAY_ERROR &&
	    strcmp(relay_verdict(r)->reason, "stanza-too-large") == 0,
	    "after SASL2 <failure/> the pre-auth bound still applies");
	relay_free(r);

	/* s2s: a valid dialback result lifts it. */
	r = NEW(c->listeners->next);
	FROM_CLIENT(r, SHDR DBR);
	res = relay_from_client(r, message(8192), 8192);
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "stanza-too-large") == 0, "s2s: before dialback, the pre-auth "
	    "bound");
	relay_free(r);
	r = NEW(c->listeners->next);
	FROM_CLIENT(r, SHDR DBR);
	FROM_BACKEND(r, BHDR "<stream:features/><db:result xmlns:db='jabber:"
	    "server:dialback' type='valid' from='example.org' "
	    "to='a.example'/>");
	s.blen = 0;
	res = relay_from_client(r, message(8192), 8192);
	ok(relay_authenticated(r) && res == RELAY_OK && s.blen == 8192,
	    "s2s: after a valid dialback result an 8 KiB stanza passes");
	relay_free(r);
#undef NEW
	config_free(c);
}

/*
 * Issue 13: SASL EXTERNAL for servers, answered by the relay; the
 * backend is told by dialback.  The certificate "covers" a.example only.
 */
static char ext_log[512];

static int
ext_ok(void *ctx, const char *to, const char *domain)
{
	(void)ctx;
	return strcmp(to, "example.org") == 0 &&
	    strcmp(domain, "a.example") == 0;
}

static int
ext_key(void *ctx, const char *ours, const char *peer, const char *id,
    char *out, size_t outlen)
{
	(void)ctx;
	snprintf(out, outlen, "K-%s-%s-%s", ours, peer, id);
	return 0;
}

static void
ext_event(void *ctx, enum relay_external_event ev, const char *domain,
    const char *reason)
{
	(void)ctx;
	snprintf(ext_log + strlen(ext_log), sizeof(ext_log) - strlen(ext_log),
	    "%s%s:%s%s%s", ext_log[0] ? " " : "",
	    ev == RELAY_EXTERNAL_FAILED ? "failed" :
	    ev == RELAY_EXTERNAL_SUCCESS ? "success" : "accepted", domain,
	    reason ? ":" : "", reason ? reason : "");
}

#define EXT_PEER_HDR(from) "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:server' xmlns:db='jabber:server:dialback' " \
	"xmlns:stream='" NS_STREAMS "' to='example.org' from='" from "' " \
	"version='1.0'>"
#define EXT_PEER_HDR2 "<stream:stream version='1.0' " \
	"xmlns:stream='" NS_STREAMS "' xmlns:db='jabber:server:dialback' " \
	"from='a.example' to='example.org' xmlns='jabber:server'>"
#define EXT_BHDR "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:server' xmlns:db='jabber:server:dialback' " \
	"xmlns:stream='" NS_STREAMS "' from='example.org' id='bid7' " \
	"version='1.0'>"
#define EXT_BFEAT "<stream:features><dialback xmlns='urn:xmpp:features:" \
	"dialback'/>" MECHS_EXT "</stream:features>"
#define MECHS_EXT "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" \
	"<mechanism>EXTERNAL</mechanism></mechanisms>"
#define EXT_AUTH(text) "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' " \
	"mechanism='EXTERNAL'>" text "</auth>"
#define EXT_DB_RESULT "<db:result xmlns:db='jabber:server:dialback' " \
	"from='a.example' to='example.org'>K-example.org-a.example-bid7" \
	"</db:result>"
#define EXT_MSG "<message from='u@a.example' to='v@example.org'>" \
	"<body>hi</body></message>"

static struct relay *
ext_fresh(struct config *c, struct sink *s, const char *peer_hdr,
    const char *bhdr)
{
	static const struct relay_callbacks xcb = {
		.to_backend = to_backend, .to_client = to_client,
		.external_ok = ext_ok, .make_key = ext_key,
		.external_log = ext_event };
	struct relay *r;

	memset(s, 0, sizeof(*s));
	ext_log[0] = '\0';
	r = relay_new(c, c->listeners, "example.org", "ourid", &xcb, s);
	FROM_CLIENT(r, peer_hdr);
	relay_from_backend(r, bhdr, strlen(bhdr));
	relay_from_backend(r, EXT_BFEAT, strlen(EXT_BFEAT));
	return r;
}

static void
test_external(void)
{
	static const char s2s[] =
	    "[tls]\ncertificate = /c\nkey = /k\n"
	    "[limits]\nmax_preauth_stanza_size = 4k\n"
	    "[domain example.org]\n"
	    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
	    "backend = 127.0.0.1:2\ndomains = example.org\n";
	static const char valid[] = "<db:result from='example.org' "
	    "to='a.example' type='valid'>K-example.org-a.example-bid7"
	    "</db:result>";
	struct config *c;
	struct sink s;
	struct relay *r;
	enum relay_result res;
	char err[256], big[4200];
	const char *p;
	size_t room;

	if (config_parse_string(s2s, "s2s.conf", &c, err, sizeof(err))) {
		ok(0, "config: %s", err);
		return;
	}
	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	ok(strstr(s.c, "<stream:features><dialback xmlns='urn:xmpp:features:"
	    "dialback'/>" MECHS_EXT "</stream:features>") != NULL &&
	    relay_stripped(r) == 1,
	    "a peer certified for its domain is offered EXTERNAL (only), the "
	    "backend's own mechanisms removed");
	s.clen = s.blen = 0;
	res = FROM_CLIENT(r, EXT_AUTH("YS5leGFtcGxl") EXT_PEER_HDR2 EXT_MSG);
	ok(res == RELAY_OK && strcmp(s.b, EXT_DB_RESULT) == 0,
	    "<auth/> (authzid base64 a.example) never reaches the backend, "
	    "which gets our <db:result/> with the key for the backend's "
	    "stream id: %s", s.b);
	p = strstr(s.c, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
	    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
	    "xmlns:stream='" NS_STREAMS "' xmlns:db='jabber:server:dialback' "
	    "id='ourid' from='example.org' version='1.0'><stream:features/>");
	ok(p == s.c, "the peer gets <success/>, then its new header is "
	    "answered here: our header and empty features (%s)", s.c);
	ok(!relay_authenticated(r) && strcmp(ext_log, "success:a.example")
	    == 0, "not yet authenticated: the stanza behind the new header is "
	    "held (%s)", ext_log);
	room = relay_client_room(r);
	ok(room == 4096 - strlen(EXT_MSG), "held bytes count against the "
	    "pre-auth bound: room %zu", room);
	s.clen = 0;
	res = relay_from_backend(r, "  ", 2);
	res = relay_from_backend(r, valid, strlen(valid));
	ok(res == RELAY_OK && strcmp(s.b, EXT_DB_RESULT EXT_MSG) == 0 &&
	    relay_authenticated(r) && strcmp(s.c, "  ") == 0,
	    "the backend's type='valid' (key echoed) is swallowed; the held "
	    "stanza goes on: authenticated");
	ok(strcmp(ext_log, "success:a.example accepted:a.example") == 0,
	    "events: success, accepted (%s)", ext_log);
	s.blen = 0;
	res = FROM_CLIENT(r, EXT_MSG);
	ok(res == RELAY_OK && strcmp(s.b, EXT_MSG) == 0 &&
	    relay_client_room(r) == SIZE_MAX, "then stanzas pass at once");
	relay_free(r);

	/* The same, one byte at a time, the answer before the new header. */
	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	s.clen = s.blen = 0;
	res = client_bytewise(r, EXT_AUTH("="));
	res = relay_from_backend(r, valid, strlen(valid));
	ok(res == RELAY_OK && s.clen == strlen("<success xmlns='urn:ietf:"
	    "params:xml:ns:xmpp-sasl'/>"), "authzid '=': <success/>; the "
	    "backend's answer before the peer's new header: nothing more yet");
	res = client_bytewise(r, EXT_PEER_HDR2 EXT_MSG);
	ok(res == RELAY_OK && strcmp(s.b, EXT_DB_RESULT EXT_MSG) == 0 &&
	    relay_authenticated(r) && strstr(s.c, "<stream:features/>"),
	    "... then the new header is answered and the stanza passes");
	relay_free(r);

	/* Refusals. */
	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	s.clen = s.blen = 0;
	res = FROM_CLIENT(r, EXT_AUTH("Yi5leGFtcGxl"));	/* b.example */
	ok(res == RELAY_OK && s.blen == 0 && strcmp(s.c, "<failure xmlns="
	    "'urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
	    == 0 && strcmp(ext_log, "failed:a.example:not-covered") == 0,
	    "authzid b.example (not covered): <not-authorized/>, event, "
	    "nothing to the backend (%s)", ext_log);
	s.clen = 0;
	res = FROM_CLIENT(r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AGE=</auth>");
	ok(res == RELAY_OK && s.blen == 0 && strstr(s.c,
	    "<invalid-mechanism/>"), "another mechanism: <invalid-mechanism/>");
	s.clen = 0;
	res = FROM_CLIENT(r, EXT_AUTH("!!"));
	ok(res == RELAY_OK && s.blen == 0 && strstr(s.c,
	    "<incorrect-encoding/>"), "bad base64: <incorrect-encoding/>");
	res = FROM_CLIENT(r, "<db:result from='a.example' to='example.org'>"
	    "k</db:result>");
	ok(res == RELAY_OK && strstr(s.b, "<db:result from='a.example'"),
	    "after a failure the peer may still use dialback (passed on)");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("b.example"), EXT_BHDR);
	ok(strstr(s.c, "EXTERNAL") == NULL, "a certificate for another domain "
	    "than the header's from: no EXTERNAL offered");
	s.blen = 0;
	res = FROM_CLIENT(r, EXT_AUTH("="));
	ok(strstr(s.b, "<auth") != NULL, "... and an <auth/> goes to the "
	    "backend as before (held behind, as SASL is)");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"),
	    "<stream:stream xmlns='jabber:server' xmlns:stream='" NS_STREAMS
	    "' xmlns:x='urn:x' id='bid7'>");
	ok(strstr(s.c, "EXTERNAL") == NULL, "a backend header binding a name "
	    "our own header does not: no EXTERNAL offered");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	res = FROM_CLIENT(r, EXT_AUTH("=") "<stream:stream xmlns='jabber:"
	    "server' xmlns:db='urn:x' xmlns:stream='" NS_STREAMS "' "
	    "to='example.org' version='1.0'>");
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "restart-mismatch") == 0, "a new header binding db: to another "
	    "namespace: restart-mismatch (the backend would read its units "
	    "otherwise)");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	s.blen = 0;
	res = FROM_CLIENT(r, EXT_AUTH("=") EXT_PEER_HDR2 EXT_AUTH("="));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "post-tls-element") == 0 && strstr(s.b, "<auth") == NULL,
	    "SASL again after EXTERNAL succeeded: post-tls-element, never "
	    "passed on");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	res = FROM_CLIENT(r, EXT_AUTH("=") EXT_PEER_HDR2 EXT_MSG);
	s.clen = 0;
	p = "<db:result from='example.org' to='a.example' type='invalid'/>";
	res = relay_from_backend(r, p, strlen(p));
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->event,
	    "backend-error") == 0 && strcmp(relay_verdict(r)->reason,
	    "external-refused") == 0 && strstr(s.b, "<message") == NULL &&
	    s.clen == 0, "the backend's type='invalid': backend-error "
	    "external-refused, the held stanza never passed on");
	relay_free(r);

	r = ext_fresh(c, &s, EXT_PEER_HDR("a.example"), EXT_BHDR);
	res = FROM_CLIENT(r, EXT_AUTH("=") EXT_PEER_HDR2);
	memset(big, 'x', sizeof(big));
	memcpy(big, "<message><body>", 15);
	memcpy(big + sizeof(big) - 17, "</body></message>", 17);
	res = relay_from_client(r, big, 300);
	ok(res == RELAY_OK && relay_client_room(r) == 4096 - 300, "a pending "
	    "unit counts too: room %zu", relay_client_room(r));
	res = relay_from_client(r, big + 300, sizeof(big) - 300);
	ok(res == RELAY_ERROR && strcmp(relay_verdict(r)->reason,
	    "stanza-too-large") == 0, "over the pre-auth bound while held: "
	    "stanza-too-large");
	relay_free(r);
	config_free(c);
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
	test_sasl_hold();
	test_preauth_bound();
	test_external();
	config_free(cfg);
	return tap_done();
}
