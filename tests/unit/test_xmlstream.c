/*
 * test_xmlstream.c - the restricted-XML stream parser, through its header.
 *
 * The central property: the units handed out are exactly the bytes fed,
 * cut at element boundaries, whatever the chunking of the input.  And a
 * stream that gave back its Expat parser between stanzas (idle release,
 * on by default) behaves exactly as one that kept it: every chunked run
 * below is made both ways.
 */
#include <stdarg.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xmlstream.h"

#define HDR "<?xml version='1.0'?><stream:stream " \
	"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " \
	"to='example.org' version='1.0'>"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_STREAMS "http://etherx.jabber.org/streams"

/* What the callbacks saw, as one printable transcript. */
struct rec {
	char log[65536];
	size_t len;
	int stop_on;		/* unit number to return XMLSTREAM_STOP on, or -1 */
	int restart_on;		/* unit number to return XMLSTREAM_RESTART on */
	int reject_element;	/* element_start returns -1 for this name */
	const char *reject_name;
	int units;
	int last_kind;
	int names;		/* also record namespace, name, stripped */
	int idles;		/* feeds after which the stream held no parser */
};

/* Idle release for the next runs. */
static enum xmlstream_release release = XMLSTREAM_RELEASE_IDLE;

static void __attribute__((format(printf, 2, 3)))
rec_add(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(r->log) - r->len)
		r->len += (size_t)n;
}

static int
on_start(void *ctx, const char *ns, const char *name)
{
	struct rec *r = ctx;

	(void)ns;
	if (r->reject_name != NULL && strcmp(name, r->reject_name) == 0)
		return -1;
	return 0;
}

static int
on_unit(void *ctx, const struct xmlstream_unit *u)
{
	static const char *kinds[] = { "H", "W", "E", "X" };
	struct rec *r = ctx;
	int n = r->units++;

	/* How whitespace is cut into units depends on the chunking; its
	   bytes and their place do not: merge adjacent whitespace units. */
	if (u->kind == XMLSTREAM_UNIT_WHITESPACE && r->len > 0 &&
	    r->last_kind == XMLSTREAM_UNIT_WHITESPACE) {
		r->len--;	/* reopen "W[...]" */
		rec_add(r, "%.*s]", (int)u->len, u->data);
		return n == r->stop_on ? XMLSTREAM_STOP : XMLSTREAM_CONTINUE;
	}
	r->last_kind = (int)u->kind;
	rec_add(r, "%s[%.*s]", kinds[u->kind], (int)u->len, u->data);
	if (r->names && (u->kind == XMLSTREAM_UNIT_ELEMENT ||
	    u->kind == XMLSTREAM_UNIT_HEADER))
		rec_add(r, "{%s|%s|%u}", u->ns, u->name, u->stripped);
	if (u->kind == XMLSTREAM_UNIT_HEADER)
		rec_add(r, "{to=%s}", u->header->to ? u->header->to : "");
	if (n == r->stop_on)
		return XMLSTREAM_STOP;
	if (n == r->restart_on)
		return XMLSTREAM_RESTART;
	return XMLSTREAM_CONTINUE;
}

static const struct xmlstream_callbacks cb = { on_start, on_unit };
static const struct xmlstream_limits lim = { 4096, 8, 16, 64, 0, 0 };
/* Names budget so small the parser is rebuilt every stanza or two. */
static const struct xmlstream_limits lim_few = { 4096, 8, 16, 64, 200, 0 };
/* The limits of the next runs. */
static const struct xmlstream_limits *limits = &lim;

/* Feed input split into pieces of step bytes; 0 = whole; returns result
   of the last feed and the transcript in r. */
static int
run(struct rec *r, const char *in, size_t len, size_t step, size_t split,
    int strip)
{
	struct xmlstream *xs = xmlstream_new(limits, &cb, r);
	int ret = 0;
	size_t off = 0;

	xmlstream_set_idle_release(xs, release);
	if (strip)
		xmlstream_strip(xs, NS_STREAMS, "features", NS_TLS, "starttls");
	if (split > 0) {
		ret = xmlstream_feed(xs, in, split);
		r->idles += xmlstream_idle(xs);
		if (ret != -1)
			ret = xmlstream_feed(xs, in + split, len - split);
	} else {
		while (off < len && ret != -1) {
			size_t n = step == 0 || step > len - off ?
			    len - off : step;

			ret = xmlstream_feed(xs, in + off, n);
			r->idles += xmlstream_idle(xs);
			off += n;
		}
	}
	if (ret == -1)
		rec_add(r, "!%s(%s)", xmlstream_strerror(xmlstream_error(xs)),
		    xmlstream_error_detail(xs));
	if (ret == 1) {
		const char *t;
		size_t tl;

		xmlstream_tail(xs, &t, &tl);
		rec_add(r, "T[%.*s]", (int)tl, t);
	}
	xmlstream_free(xs);
	return ret;
}

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->stop_on = r->restart_on = -1;
	r->last_kind = -1;
}

static void
rec_setup(struct rec *r, int stop_on, int restart_on)
{
	rec_init(r);
	r->stop_on = stop_on;
	r->restart_on = restart_on;
	r->names = 1;
}

/*
 * Same transcript (units, names, stripping, error and its detail, tail)
 * whole, byte by byte, and split at every position, each with the parser
 * kept, given back at every boundary, and given back when idle (the
 * default).  Returns the feeds after which a stream held no parser, byte
 * by byte, given back at every boundary.
 */
static int
check_invariant(const char *name, const char *in, int strip,
    int stop_on, int restart_on)
{
	static const char *how[] = { "", ", parser given back between "
	    "stanzas", ", parser given back when idle" };
	static struct rec whole, other;
	size_t len = strlen(in), i;
	int same, mode, idles = 0;

	release = XMLSTREAM_RELEASE_OFF;
	rec_setup(&whole, stop_on, restart_on);
	run(&whole, in, len, 0, 0, strip);
	for (mode = XMLSTREAM_RELEASE_OFF; mode <= XMLSTREAM_RELEASE_ALWAYS; mode++) {
		release = (enum xmlstream_release)mode;
		rec_setup(&other, stop_on, restart_on);
		run(&other, in, len, 1, 0, strip);
		same = strcmp(whole.log, other.log) == 0 &&
		    (mode != XMLSTREAM_RELEASE_OFF || other.idles == 0);
		if (mode == XMLSTREAM_RELEASE_ALWAYS)
			idles = other.idles;
		ok(same, "%s: byte by byte gives the same units%s", name,
		    how[mode]);
		if (!same)
			printf("# whole: %s\n# bytes: %s\n", whole.log,
			    other.log);
		same = 1;
		for (i = 1; i < len && same; i++) {
			rec_setup(&other, stop_on, restart_on);
			run(&other, in, len, 0, i, strip);
			if (strcmp(whole.log, other.log) != 0) {
				same = 0;
				printf("# split at %zu: %s\n", i, other.log);
			}
		}
		ok(same, "%s: split at every position gives the same units%s",
		    name, how[mode]);
	}
	release = XMLSTREAM_RELEASE_IDLE;
	return idles;
}

static void
expect(const char *name, const char *in, int strip, const char *want)
{
	static struct rec r;

	rec_init(&r);
	run(&r, in, strlen(in), 0, 0, strip);
	if (!ok(strstr(r.log, want) != NULL, "%s", name))
		printf("# want %s\n# got  %s\n", want, r.log);
}

/* Feed a string; returns xmlstream_feed()'s result. */
static int
feed(struct xmlstream *xs, const char *str)
{
	return xmlstream_feed(xs, str, strlen(str));
}

#ifdef __GLIBC__
static size_t
heap_used(void)
{
	return mallinfo2().uordblks;
}
#endif

static void
repeat(char *out, size_t size, const char *pre, const char *unit, int n,
    const char *post)
{
	size_t len = (size_t)snprintf(out, size, "%s", pre);

	while (n-- > 0 && len < size)
		len += (size_t)snprintf(out + len, size - len, "%s", unit);
	if (len < size)
		snprintf(out + len, size - len, "%s", post);
}

/*
 * The bounds of issue 10: rescans (a long tag in any split gives the same
 * units, none waits for more bytes), xmlns declarations as attributes, the
 * header's own cap, names inside one stanza, and the strip limit.
 */
static void
test_hardening(void)
{
	static char in[16384], tag[4096];
	static struct rec r;
	struct xmlstream *xs;
	size_t len;

	/* Tags longer than SMALL_TOKEN, '>' inside values, a comment. */
	repeat(tag, sizeof(tag), "<m a='", ">", 600, "' b=\"x\"/>");
	repeat(in, sizeof(in), HDR, "", 0, tag);
	len = strlen(in);
	repeat(in + len, sizeof(in) - len, "<n b=\"", "x", 700,
	    "\">text &amp; more</n><o");
	len = strlen(in);
	repeat(in + len, sizeof(in) - len, "", " ", 300, "/>\n");
	check_invariant("long tags, '>' in values", in, 0, -1, -1);
	repeat(in, sizeof(in), HDR "<iq/><!--", "x", 500, "--><iq/>");
	check_invariant("long comment", in, 0, -1, -1);

	/* A complete tag never waits: the last piece is one byte. */
	repeat(in, sizeof(in), HDR "<message a='", "y", 2000, "'/>");
	len = strlen(in);
	rec_init(&r);
	xs = xmlstream_new(&lim, &cb, &r);
	ok(xmlstream_feed(xs, in, len - 1) == 0 && r.units == 1 &&
	    xmlstream_feed(xs, in + len - 1, 1) == 0 && r.units == 2,
	    "a 2 KiB tag whose last byte comes alone is handed out at once");
	ok(feed(xs, "<iq><q") == 0 && feed(xs, "/></iq") == 0 &&
	    r.units == 2 && feed(xs, ">") == 0 && r.units == 3,
	    "... and so is an end tag whose '>' comes alone");
	xmlstream_free(xs);

	/* 16 attributes on <message>: xmlns declarations count. */
	expect("10 attributes and 6 xmlns declarations accepted", HDR
	    "<m a='1' b='1' c='1' d='1' e='1' f='1' g='1' h='1' i='1' j='1' "
	    "xmlns='u' xmlns:p='u' xmlns:q='u' xmlns:r='u' xmlns:s='u' "
	    "xmlns:t='u'/>", 0, "E[<m");
	expect("10 attributes and 7 xmlns declarations: too many", HDR
	    "<m a='1' b='1' c='1' d='1' e='1' f='1' g='1' h='1' i='1' j='1' "
	    "xmlns='u' xmlns:p='u' xmlns:q='u' xmlns:r='u' xmlns:s='u' "
	    "xmlns:t='u' xmlns:v='u'/>", 0, "!too-many-attributes");
	repeat(in, sizeof(in), "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='" NS_STREAMS "' x='", "x", XMLSTREAM_MAX_HEADER,
	    "'>");
	expect("a stream header over XMLSTREAM_MAX_HEADER refused", in, 0,
	    "!header-too-large(header-size)");
	repeat(in, sizeof(in), "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='" NS_STREAMS "' x='", "x",
	    XMLSTREAM_MAX_HEADER - 200, "'><iq/>");
	expect("... one under it accepted", in, 0, "E[<iq/>]");

	/* Names: a budget of 200 is three new names in one stanza. */
	limits = &lim_few;
	expect("one stanza with more new names than the budget refused",
	    HDR "<m><a1/><a2/><a3/><a4/></m>", 0, "!too-many-names");
	limits = &lim;
	repeat(in, sizeof(in), HDR, "<iq a='1'><q xmlns='urn:q'/></iq>", 300,
	    "");
	rec_init(&r);
	run(&r, in, strlen(in), 0, 0, 0);
	ok(r.units == 301 && strchr(r.log, '!') == NULL,
	    "300 stanzas of the same names: all %d units", r.units);

	/* Strip limit: 16 removed, the 17th fails the stream. */
	repeat(in, sizeof(in), HDR "<stream:features>",
	    "<starttls xmlns='" NS_TLS "'/>", 16, "</stream:features>");
	expect("16 <starttls/> removed", in, 1, "E[<stream:features>"
	    "</stream:features>]");
	repeat(in, sizeof(in), HDR "<stream:features>",
	    "<starttls xmlns='" NS_TLS "'/>", 17, "</stream:features>");
	expect("17 <starttls/>: the stream fails, none passes", in, 1,
	    "!strip-limit");
	rec_init(&r);
	run(&r, in, strlen(in), 0, 0, 1);
	ok(strstr(r.log, "starttls") == NULL, "... no <starttls/> handed out");
}

static int counted;

static int
count_unit(void *ctx, const struct xmlstream_unit *u)
{
	(void)ctx;
	(void)u;
	counted++;
	return XMLSTREAM_CONTINUE;
}

static void
rep(char **p, const char *s, int n)
{
	while (n-- > 0)
		*p += sprintf(*p, "%s", s);
}

/*
 * No complete unit waits: random streams of long tokens (attribute values
 * with '>' and quotes, text with references and CRs, CDATA, whitespace,
 * multi-byte characters, long tags) fed in random pieces; after every
 * feed the units handed out are those of the same prefix fed whole.
 */
static void
test_no_unit_waits(void)
{
	static const struct xmlstream_callbacks ccb = { NULL, count_unit };
	static const struct xmlstream_limits big = { 1 << 20, 16, 64, 256, 0,
	    0 };
	static char in[65536];
	struct xmlstream *xs, *ref;
	int iter, k, got, bad = 0, feeds = 0;
	size_t n, off, step;
	char *p;

	srand(1);
	for (iter = 0; iter < 200 && !bad; iter++) {
		p = in;
		p += sprintf(p, "<?xml version='1.0'?>");
		rep(&p, " ", rand() % 300);
		p += sprintf(p, "<stream:stream xmlns='jabber:client' "
		    "xmlns:stream='" NS_STREAMS "' x='");
		rep(&p, "h", rand() % 400);
		p += sprintf(p, "'>");
		for (k = 0; k < 12; k++)
			switch (rand() % 7) {
			case 0:
				p += sprintf(p, "<m a='");
				rep(&p, ">x\"", rand() % 200);
				p += sprintf(p, "'/>");
				break;
			case 1:
				p += sprintf(p, "<m><b>");
				rep(&p, "text\r\n&amp;&#x41;", rand() % 100);
				p += sprintf(p, "</b></m>");
				break;
			case 2:
				rep(&p, " \r\n", rand() % 200);
				break;
			case 3:
				p += sprintf(p, "<m><![CDATA[");
				rep(&p, "]]x>]", rand() % 100);
				p += sprintf(p, "]]></m>");
				break;
			case 4:
				p += sprintf(p, "<m b=\"");
				rep(&p, "y", rand() % 500);
				p += sprintf(p, "\"   \n ><n/></m   \n>");
				break;
			case 5:
				p += sprintf(p, "<m>");
				rep(&p, "\xc3\xa9\xe2\x82\xac", rand() % 200);
				p += sprintf(p, "</m>");
				break;
			default:
				p += sprintf(p, "<m");
				rep(&p, " \n", rand() % 300);
				p += sprintf(p, "/>");
				break;
			}
		n = (size_t)(p - in);
		xs = xmlstream_new(&big, &ccb, NULL);
		got = 0;
		for (off = 0; off < n && !bad; off += step) {
			step = 1 + (rand() % 4 == 0 ? (size_t)(rand() % 2000) :
			    (size_t)(rand() % 3));
			if (step > n - off)
				step = n - off;
			counted = 0;
			bad = xmlstream_feed(xs, in + off, step) != 0;
			got += counted;
			feeds++;
			ref = xmlstream_new(&big, &ccb, NULL);
			counted = 0;
			bad = bad || xmlstream_feed(ref, in, off + step) != 0 ||
			    counted != got;
			xmlstream_free(ref);
		}
		xmlstream_free(xs);
	}
	ok(!bad, "no complete unit waits: %d random streams, %d feeds, "
	    "each as the prefix fed whole", iter, feeds);
}

/* Feed "<iq/>" n times to xs. */
static void
feed_iqs(struct xmlstream *xs, int n)
{
	while (n-- > 0)
		feed(xs, "<iq/>");
}

/*
 * The default: a stream that is not busy gives its parser back at once;
 * a busy one (it woke XMLSTREAM_HOT_WAKES times in a row soon after going to
 * sleep) keeps it until XMLSTREAM_WARM_FEEDS feeds of the process went by
 * without one of its own.
 */
static void
test_warm(void)
{
	static struct rec ra, rb;
	struct xmlstream *a, *b;

	rec_init(&ra);
	rec_init(&rb);
	a = xmlstream_new(&lim, &cb, &ra);
	b = xmlstream_new(&lim, &cb, &rb);
	ok(feed(a, HDR) == 0 && xmlstream_idle(a), "default: a new stream "
	    "gives its parser back after the header");
	feed_iqs(a, XMLSTREAM_HOT_WAKES - 1);
	ok(xmlstream_idle(a), "woken at once %d times: given back each time",
	    XMLSTREAM_HOT_WAKES - 1);
	feed_iqs(a, 1);
	ok(!xmlstream_idle(a), "once more: busy, the parser is kept");
	feed_iqs(a, 3);
	ok(!xmlstream_idle(a), "... while it stays busy");
	feed(b, HDR);
	feed_iqs(b, XMLSTREAM_WARM_FEEDS - 1);
	ok(!xmlstream_idle(a), "... and for XMLSTREAM_WARM_FEEDS feeds of other "
	    "streams");
	feed_iqs(b, 1);
	ok(xmlstream_idle(a) && !xmlstream_idle(b), "one feed more: given "
	    "back; the stream fed all along keeps its parser");
	feed_iqs(a, 1);
	ok(!xmlstream_idle(a), "woken soon after: still busy");
	feed_iqs(b, 2 * XMLSTREAM_WARM_FEEDS + 2);
	ok(xmlstream_idle(a), "quiet again: given back");
	feed_iqs(a, 1);
	ok(xmlstream_idle(a), "woken long after: not busy, given back at "
	    "once");
	xmlstream_free(b);
	feed_iqs(a, XMLSTREAM_HOT_WAKES);
	ok(!xmlstream_idle(a), "busy again after %d quick wakes",
	    XMLSTREAM_HOT_WAKES);
	xmlstream_reset(a);
	ok(feed(a, HDR) == 0 && xmlstream_idle(a),
	    "a reset stream starts not busy");
	feed_iqs(a, 1);
	ok(xmlstream_idle(a), "... and is not busy after one wake");
	feed_iqs(a, XMLSTREAM_HOT_WAKES);
	xmlstream_free(a);	/* warm: taken off the list */
	ok(strstr(ra.log, "!") == NULL && ra.units == 2 + XMLSTREAM_HOT_WAKES + 5 +
	    2 * XMLSTREAM_HOT_WAKES + 1 && rb.units == 1 + 3 * XMLSTREAM_WARM_FEEDS + 2,
	    "every unit was handed out (%d, %d)", ra.units, rb.units);
}

/*
 * Expat remembers every name it met while its parser lives: past the
 * names budget the parser is rebuilt at the next boundary, in the middle
 * of a feed too.  Same units; memory bounded.
 */
static void
test_names_budget(void)
{
	static const char *streams[] = {
	    HDR "<a x='1'/><b y='2' xmlns:p='urn:p'><p:c/></b>\n<d/>"
	    "<stream:features><starttls xmlns='" NS_TLS "'/><e/>"
	    "</stream:features><f/><g/><h/></stream:stream>",
	    HDR "<a/><b/><c/><d/><success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>" HDR "<e/><f/><g/><h/><i/>",
	    HDR "<a/><b/><c/><d/><e/><x:y/>",
	    /* <b> adds two names to a rebuilt parser, one to a kept one
	       that met <a/>: counted as in a rebuilt one, whatever the
	       parser met before (the crash-xmlstream-names fuzz input). */
	    HDR "<a/><b><a/></b><c/>",
	};
	char name[64];
	size_t i;

	limits = &lim_few;
	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		snprintf(name, sizeof(name), "names budget, stream %zu", i + 1);
		check_invariant(name, streams[i], 1, -1, i == 1 ? 5 : -1);
	}
	expect("a stanza's names counted as by a rebuilt parser",
	    HDR "<a/><b><a/></b><c/>", 0, "E[<a/>]!too-many-names(names)");
	expect("... the header's names cost a stanza nothing",
	    HDR "<a/><b to='x' version='1'/><c/>", 0, "E[<c/>]");
	release = XMLSTREAM_RELEASE_OFF;
	expect("... also in a parser kept for the stream's life",
	    HDR "<a/><b><a/></b><c/>", 0, "E[<a/>]!too-many-names(names)");
	release = XMLSTREAM_RELEASE_IDLE;
	limits = &lim;

#ifdef __GLIBC__
	/* Stanzas with ever new names, fed whole, and in pieces that never
	   end between stanzas: what the stream holds afterwards. */
	if (heap_used() > 0) {
		static char in[200000];
		static struct rec r;
		struct xmlstream *xs;
		size_t len, before, held[2][2], off, n;
		int mode, pieces, k;
		char *p;

		len = (size_t)snprintf(in, sizeof(in), "%s", HDR);
		for (k = 0; len + 64 < sizeof(in); k++)
			len += (size_t)snprintf(in + len, sizeof(in) - len,
			    "<m%d a%d='1' xmlns:p%d='u'/>", k, k, k);
		for (mode = 0; mode < 2; mode++)
			for (pieces = 0; pieces < 2; pieces++) {
				before = heap_used();
				rec_init(&r);
				xs = xmlstream_new(&lim, &cb, &r);
				xmlstream_set_idle_release(xs, mode ?
				    XMLSTREAM_RELEASE_IDLE : XMLSTREAM_RELEASE_OFF);
				for (off = 0; off < len; off += n) {
					/* in pieces: up to the '<' of a stanza */
					p = pieces && len - off > 1000 ?
					    strstr(in + off + 1000, "<m") : NULL;
					n = p != NULL ? (size_t)(p - in) + 1 - off :
					    len - off;
					if (xmlstream_feed(xs, in + off, n) != 0 ||
					    (pieces && p != NULL &&
					    xmlstream_at_boundary(xs)))
						break;
				}
				held[mode][pieces] = heap_used() - before;
				ok(r.units == k + 1 && xmlstream_error(xs) ==
				    XMLSTREAM_ERR_NONE, "%d stanzas with new names "
				    "(%s, %s)", k, mode ? "default" : "parser "
				    "kept", pieces ? "in pieces" : "whole");
				xmlstream_free(xs);
			}
		ok(held[1][0] < 300 * 1024 && held[1][1] < 300 * 1024 &&
		    held[0][0] > 1024 * 1024, "Expat's names bounded: "
		    "%zu, %zu bytes held (%zu with the parser kept)",
		    held[1][0], held[1][1], held[0][0]);
	} else
		ok(1, "# SKIP heap figures unavailable");
#endif
}

/*
 * Idle release: between stanzas the Expat parser is given back and
 * rebuilt from the saved header on the next byte.  Everything here is
 * run whole with one parser kept and compared with runs that idle at
 * every possible place.
 */
static void
test_idle_release(void)
{
	/* Faults found by a rebuilt parser, each after idle stanzas. */
	static const struct {
		const char *name, *in;
	} after_idle[] = {
	    { "comment", HDR "<iq/> <!-- c --><iq/>" },
	    { "processing instruction", HDR "<iq/><?pi x?>" },
	    { "undefined entity", HDR "<iq/><iq>&lol;</iq>" },
	    { "unbound prefix", HDR "<iq/><x:y/>" },
	    { "prefix bound only inside an earlier stanza",
	      HDR "<x:a xmlns:x='urn:x'/><x:b/>" },
	    { "mismatched tag", HDR "<iq/><iq></message>" },
	    { "text between stanzas", HDR "<iq/>x<iq/>" },
	    { "char reference between stanzas", HDR "<iq/>&#32;<iq/>" },
	    { "too deep", HDR "<iq/><a><b><c><d><e><f><g><h><i/></h></g>"
	      "</f></e></d></c></b></a>" },
	    { "too many attributes", HDR "<iq/><iq a='1' b='1' c='1' d='1' "
	      "e='1' f='1' g='1' h='1' i='1' j='1' k='1' l='1' m='1' n='1' "
	      "o='1' p='1' q='1'/>" },
	    { "name too long", HDR "<iq/>"
	      "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/>" },
	    { "duplicate attribute", HDR "<iq/><iq a='1' a='2'/>" },
	    { "invalid UTF-8", HDR "<iq/><iq a='\xc3\x28'/>" },
	    { "a second header without a restart", HDR "<iq/>" HDR },
	    { "an XML declaration after stanzas",
	      HDR "<iq/><?xml version='1.0'?>" },
	    { "wrong closing tag for the stream", HDR "<iq/></stream:strean>" },
	    { "bytes after the stream's end",
	      HDR "<iq/></stream:stream><iq/>" },
	};
	/* Streams whose header declares more than the usual two. */
	static const char *headers[] = {
	    "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n\r\t "
	    "<stream:stream xmlns='jabber:server' xmlns:stream='"
	    NS_STREAMS "' xmlns:db='jabber:server:dialback' "
	    "version='1.0'>\n<db:result from='a' to='b'>k</db:result>"
	    "<stream:features><db:x/></stream:features>\n"
	    "<iq xmlns:db='urn:other'><db:x/></iq><db:y/></stream:stream>",
	    "<s:stream xmlns:s='" NS_STREAMS "' xmlns:c='jabber:client'>"
	    "<c:iq/><iq/><s:features/></s:stream>",
	    "<stream:stream xmlns:stream='" NS_STREAMS "' xmlns='a&amp;b&#9;"
	    "&#x10FFFF;\xf4\x8f\xbf\xbf'><iq/></stream:stream>",
	};
	static struct rec r;
	struct xmlstream *xs;
	char name[160];
	size_t i;
	int idles, all = 1;

	for (i = 0; i < sizeof(after_idle) / sizeof(after_idle[0]); i++) {
		snprintf(name, sizeof(name), "after idling: %s",
		    after_idle[i].name);
		idles = check_invariant(name, after_idle[i].in, 0, -1, -1);
		all = all && idles > 0;
	}
	ok(all, "... and each was found by a rebuilt parser");
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		snprintf(name, sizeof(name), "header %zu rebuilt", i + 1);
		idles = check_invariant(name, headers[i], 0, -1, -1);
		ok(idles > 0, "header %zu: parser rebuilt %d times", i + 1,
		    idles);
	}
	/* Restart after SASL, idle before and after: every chunking. */
	check_invariant("restart after idling", HDR "<iq/> <success xmlns="
	    "'urn:ietf:params:xml:ns:xmpp-sasl'/><?xml version='1.0'?>"
	    "<stream:stream xmlns='jabber:client' xmlns:stream='" NS_STREAMS
	    "' to='other' version='1.0'><iq/><other/></stream:stream>", 0,
	    -1, 2);
	check_invariant("stop after idling", HDR "<iq/>\n<starttls xmlns='"
	    NS_TLS "'/><iq/>", 0, 2, -1);

	/* Step by step: when the parser is given back, and what it costs. */
	rec_init(&r);
	r.names = 1;
	xs = xmlstream_new(&lim, &cb, &r);
	xmlstream_set_idle_release(xs, XMLSTREAM_RELEASE_ALWAYS);
	ok(xs != NULL && !xmlstream_idle(xs), "new stream: no parser yet, "
	    "not idle");
	ok(feed(xs, HDR "<iq") == 0 && !xmlstream_idle(xs) &&
	    !xmlstream_at_boundary(xs), "half a stanza: the parser is kept");
	ok(feed(xs, "/>") == 0 && xmlstream_idle(xs) &&
	    xmlstream_pending(xs) == 0, "stanza complete: given back");
	ok(feed(xs, "<stream:features><starttls xmlns='" NS_TLS "'/>"
	    "</stream:features>") == 0 && xmlstream_idle(xs) &&
	    strstr(r.log, "{" NS_STREAMS "|features|0}") != NULL,
	    "rebuilt parser knows the header's prefix");
	ok(feed(xs, "<message/>") == 0 && strstr(r.log,
	    "E[<message/>]{jabber:client|message|0}") != NULL,
	    "... and its default namespace");
	/* The backend's SASL <success/> resets the client's stream while
	   it is idle: the next bytes are a new stream. */
	xmlstream_reset(xs);
	ok(!xmlstream_idle(xs),
	    "reset while idle: a new stream, not idle");
	rec_init(&r);
	r.names = 1;
	ok(feed(xs, "<stream:stream xmlns='jabber:client' xmlns:stream='"
	    NS_STREAMS "' to='x'>") == 0 && strstr(r.log, "{to=x}") != NULL &&
	    xmlstream_idle(xs), "new header after the reset, given back");
	ok(feed(xs, "<iq/></stream:stream>") == 0 && !xmlstream_idle(xs) &&
	    strstr(r.log, "}E[<iq/>]{jabber:client|iq|0}X[</stream:stream>]")
	    != NULL, "stream end: the parser is kept (nothing to wake into)");
	xmlstream_free(xs);

	xs = xmlstream_new(&lim, &cb, &r);
	xmlstream_set_idle_release(xs, XMLSTREAM_RELEASE_OFF);
	ok(feed(xs, HDR "<iq/>") == 0 && !xmlstream_idle(xs) &&
	    xmlstream_at_boundary(xs), "release off: the parser is kept");
	xmlstream_free(xs);

	test_warm();
	test_names_budget();

#ifdef __GLIBC__
	/* What an idle stream holds after a large feed (ASan's allocator
	   reports nothing: skipped there). */
	if (heap_used() > 0) {
		static char big[4000];
		size_t before, held[2];
		int mode;

		memset(big, ' ', sizeof(big) - 1);
		memcpy(big, "<iq>", 4);
		memcpy(big + sizeof(big) - 6, "</iq>", 5);
		for (mode = 0; mode < 2; mode++) {
			before = heap_used();
			xs = xmlstream_new(&lim, &cb, &r);
			xmlstream_set_idle_release(xs, mode ?
			    XMLSTREAM_RELEASE_ALWAYS : XMLSTREAM_RELEASE_OFF);
			rec_init(&r);
			feed(xs, HDR);
			feed(xs, big);
			held[mode] = heap_used() - before;
			xmlstream_free(xs);
		}
		ok(held[1] < 2048 && held[0] > 8 * 1024, "an idle stream "
		    "holds %zu bytes, %zu with its parser kept", held[1],
		    held[0]);
	} else
		ok(1, "# SKIP heap figures unavailable");
#endif
}

static int
on_rules(void *ctx, const struct xmlstream_unit *u)
{
	unsigned *rules = ctx;

	if (u->kind == XMLSTREAM_UNIT_ELEMENT)
		rules[rules[0]++ + 1] = u->stripped_rules;
	return XMLSTREAM_CONTINUE;
}

/* Which rule removed a child: s2sout.c tells an offer of SASL from one
   of compression by it. */
static void
test_strip_rules(void)
{
	static const struct xmlstream_callbacks rcb = { NULL, on_rules };
	static const char in[] = "<stream:stream xmlns='jabber:server' "
	    "xmlns:stream='" NS_STREAMS "'>"
	    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>"
	    "</stream:features>"
	    "<stream:features><starttls xmlns='" NS_TLS "'/><compression "
	    "xmlns='http://jabber.org/features/compress'/><dialback "
	    "xmlns='urn:xmpp:features:dialback'/></stream:features>"
	    "<message><starttls xmlns='" NS_TLS "'/></message>";
	unsigned rules[8] = { 0 };
	struct xmlstream *xs = xmlstream_new(&lim, &rcb, rules);

	xmlstream_strip(xs, NS_STREAMS, "features", NS_TLS, "starttls");
	xmlstream_strip(xs, NS_STREAMS, "features",
	    "http://jabber.org/features/compress", "compression");
	xmlstream_strip(xs, NS_STREAMS, "features",
	    "urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms");
	ok(xmlstream_feed(xs, in, sizeof(in) - 1) == 0 && rules[0] == 3,
	    "strip rules: three units");
	ok(rules[1] == 4, "strip rules: mechanisms alone is bit 2 (%u)",
	    rules[1]);
	ok(rules[2] == 3, "strip rules: starttls and compression are bits 0 "
	    "and 1 (%u)", rules[2]);
	ok(rules[3] == 0, "strip rules: nothing cut outside features (%u)",
	    rules[3]);
	xmlstream_free(xs);
}

int
main(void)
{
	static struct rec r;
	const char *stream = HDR "\n <message to='a@b'><body>x &amp; y"
	    "</body></message>\t<iq type='get' id='1'/><a:x xmlns:a='urn:a'>"
	    "<![CDATA[<not-a-tag>]]></a:x> </stream:stream>";
	const char *features = HDR "<stream:features><starttls xmlns='"
	    NS_TLS "'><required/></starttls><mechanisms xmlns='urn:ietf:"
	    "params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
	    "</mechanisms><starttls xmlns='" NS_TLS "'/></stream:features>";
	const char *restart = HDR "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/><?xml version='1.0'?><stream:stream xmlns='jabber:"
	    "client' xmlns:stream='" NS_STREAMS "' to='other' version='1.0'>"
	    "<iq/>";

	/* Units are the exact bytes, in order. */
	expect("stream cut into header, whitespace, elements, end", stream, 0,
	    "H[" HDR "]{to=example.org}W[\n ]E[<message to='a@b'><body>x "
	    "&amp; y</body></message>]W[\t]E[<iq type='get' id='1'/>]"
	    "E[<a:x xmlns:a='urn:a'><![CDATA[<not-a-tag>]]></a:x>]W[ ]"
	    "X[</stream:stream>]");
	check_invariant("stream", stream, 0, -1, -1);

	/* Stripping <starttls/> from features; mechanisms byte for byte. */
	expect("starttls removed from features, mechanisms untouched",
	    features, 1, "E[<stream:features><mechanisms xmlns='urn:ietf:"
	    "params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
	    "</mechanisms></stream:features>]");
	expect("features untouched without strip rules", features, 0,
	    "<required/></starttls><mechanisms");
	check_invariant("features with strip", features, 1, -1, -1);

	/* STOP: the tail is what no parser has seen. */
	rec_init(&r);
	r.stop_on = 1;
	run(&r, HDR "<starttls xmlns='" NS_TLS "'/> \n<iq/>",
	    strlen(HDR "<starttls xmlns='" NS_TLS "'/> \n<iq/>"), 0, 0, 0);
	ok(strstr(r.log, "T[ \n<iq/>]") != NULL, "stop: tail is the bytes "
	    "after the stopping unit");
	check_invariant("stop", HDR "<starttls xmlns='" NS_TLS "'/> <iq/>",
	    0, 1, -1);

	/* RESTART: the bytes after <success/> begin a new stream. */
	expect("without a restart a second header is not well-formed",
	    restart, 0, "!not-well-formed");
	rec_init(&r);
	r.restart_on = 1;
	run(&r, restart, strlen(restart), 0, 0, 0);
	ok(strstr(r.log, "{to=other}E[<iq/>]") != NULL && r.log[0] == 'H',
	    "restart: units after the restart");
	check_invariant("restart", restart, 0, -1, 1);

	/* Restricted XML. */
	expect("comment refused", HDR "<!-- hi -->", 0, "!restricted-xml");
	expect("comment inside a stanza refused", HDR "<iq><!--x--></iq>", 0,
	    "!restricted-xml");
	expect("processing instruction refused", HDR "<?foo bar?>", 0,
	    "!restricted-xml");
	expect("DOCTYPE refused", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY"
	    " a 'b'>]><x/>", 0, "!restricted-xml");
	expect("undefined entity refused", HDR "<iq>&lol;</iq>", 0,
	    "!restricted-xml");
	expect("predefined entities accepted", HDR "<iq a='&lt;&gt;&amp;"
	    "&apos;&quot;'/>", 0, "E[<iq a=");
	expect("UTF-16 byte-order mark refused", "\xfe\xff\0<", 0,
	    "!unsupported-encoding");
	expect("UTF-8 byte-order mark refused", "\xef\xbb\xbf<?xml", 0,
	    "!unsupported-encoding");
	expect("ISO-8859-1 declaration refused", "<?xml version='1.0' "
	    "encoding='ISO-8859-1'?><stream:stream/>", 0,
	    "!unsupported-encoding");
	expect("invalid UTF-8 refused", HDR "<iq a='\xc3\x28'/>", 0,
	    "!not-well-formed");
	expect("text between stanzas refused", HDR "hello<iq/>", 0,
	    "!bad-format");
	expect("mismatched tag refused", HDR "<iq></message>", 0,
	    "!not-well-formed");
	expect("CDATA between stanzas refused", HDR "<iq/><![CDATA[ ]]><iq/>",
	    0, "E[<iq/>]!bad-format");
	check_invariant("CDATA between stanzas", HDR "<iq/><![CDATA[\n]]>",
	    0, -1, -1);

	/* Bounds. */
	{
		char big[8192];

		snprintf(big, sizeof(big), "%s<message>%0*d</message>", HDR,
		    5000, 0);
		expect("stanza over max_unit refused", big, 0,
		    "!stanza-too-large");
		rec_init(&r);
		run(&r, big, strlen(big), 1, 0, 0);
		ok(strstr(r.log, "!stanza-too-large") != NULL,
		    "stanza over max_unit refused when fed byte by byte");
		snprintf(big, sizeof(big), "%s<message a='%0*d'/>", HDR,
		    5000, 0);
		expect("start tag over max_unit refused", big, 0,
		    "!stanza-too-large");
	}
	expect("nesting at max_depth accepted", HDR
	    "<a><b><c><d><e><f><g><h/></g></f></e></d></c></b></a>", 0,
	    "E[<a><b>");
	expect("nesting over max_depth refused", HDR
	    "<a><b><c><d><e><f><g><h><i/></h></g></f></e></d></c></b></a>",
	    0, "!too-deep");
	expect("too many attributes refused", HDR "<iq a='1' b='1' c='1' "
	    "d='1' e='1' f='1' g='1' h='1' i='1' j='1' k='1' l='1' m='1' "
	    "n='1' o='1' p='1' q='1'/>", 0, "!too-many-attributes");
	/* max_name is 64 bytes, namespace URI included ("jabber:client "
	   is 14 of them). */
	expect("element name within max_name accepted", HDR
	    "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/>", 0, "E[<a");
	expect("element name over max_name refused", HDR
	    "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/>", 0,
	    "!name-too-long");
	expect("attribute name over max_name refused", HDR "<message "
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "='1'/>", 0, "!name-too-long");
	expect("long name inside a stanza refused", HDR "<message><x xmlns='"
	    "urn:example:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"
	    "/></message>", 0, "!name-too-long");
	/* A prefix is not part of Expat's name: its declaration is held to
	   the same bound, as is a declared namespace no name uses. */
	expect("namespace prefix over max_name refused", HDR "<message><"
	    "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	    ":x xmlns:"
	    "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	    "='urn:x'/></message>", 0, "!name-too-long");
	expect("unused namespace over max_name refused", HDR "<message "
	    "xmlns:p='urn:example:"
	    "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
	    "'/>", 0, "!name-too-long");
	expect("prefix at max_name accepted", HDR "<message xmlns:"
	    "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	    "='urn:x'/>", 0, "E[<message");

	test_idle_release();
	test_hardening();
	test_no_unit_waits();
	test_strip_rules();

	/* The owner may refuse an element by its start tag alone. */
	rec_init(&r);
	r.reject_name = "auth";
	run(&r, HDR "<auth mechanism='PLAIN'>c2VjcmV0",
	    strlen(HDR "<auth mechanism='PLAIN'>c2VjcmV0"), 0, 0, 0);
	ok(strstr(r.log, "!rejected") != NULL && strstr(r.log, "c2Vj") ==
	    NULL, "element refused at its start tag, content never seen");

	return tap_done();
}
