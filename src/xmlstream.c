/*
 * xmlstream.c - restricted-XML stream parser over Expat; see xmlstream.h.
 *
 * The bytes fed are kept in buf until the unit they belong to is complete.
 * Expat reports the offset of every event (XML_GetCurrentByteIndex plus
 * XML_GetCurrentByteCount is the end of the construct just parsed, for an
 * empty element too); plus shift it is the absolute offset in the stream,
 * so a unit is exactly buf[head, end - base).
 *
 * Idle streams hold no Expat parser.  Between stanzas (depth 1, nothing
 * pending) all that Expat knows about the stream is what the stream
 * header declared: its namespace bindings and the open root element (no
 * CDATA section can be open there: see on_cdata_start()).  So
 * at the end of a feed that leaves the stream there, the parser (about
 * 10 KiB, and a buffer as large as the largest feed) is freed, and
 * rebuilt on the next byte by parsing the saved header bytes again with
 * every handler muted ("priming"): the new parser is in the very state
 * the old one was in, and the bytes after it get the same units and the
 * same errors.  shift maps the rebuilt parser's offsets, which count the
 * primed header, to the stream's.
 *
 * A rebuild costs a few microseconds, as much as parsing a small stanza
 * several times: a busy stream should not pay it for every stanza.  So a
 * stream that woke XMLSTREAM_HOT_WAKES times in a row within
 * XMLSTREAM_WARM_FEEDS feeds of going to sleep is busy and, at its next
 * boundary, keeps its parser on the warm list instead; each feed of the
 * process gives back the parsers of warm streams that had no feed of
 * their own in the last XMLSTREAM_WARM_FEEDS.  Feeds, not time, count:
 * the module stays pure and reproducible, and a process never holds more
 * than XMLSTREAM_WARM_FEEDS warm parsers.  Other streams (a new one,
 * one idle for longer, a login's handful of exchanges) give their parser
 * back at once.
 *
 * Expat remembers every distinct element and attribute name it met, as
 * written (a prefix makes another name; "xmlns:p" is an attribute name
 * and a prefix), for as long as the parser lives (about 80 bytes each):
 * a stream of stanzas with ever new names grew without bound.  names_cost
 * counts the distinct names a parser met (their bytes, plus NAME_COST for
 * each), read from the raw start tags (count_names()), the stream
 * header's in every rebuilt parser too; repeated names cost nothing, so
 * ordinary stanzas never add up.  Past the budget
 * (xmlstream_limits.max_names) the parser is rebuilt at the next
 * boundary, in the middle of a feed too, the way a restart re-feeds the
 * rest; and one unit may not add more than the budget by itself
 * (XMLSTREAM_ERR_TOO_MANY_NAMES): a parser holds at most twice the
 * budget of names.  What a unit adds is counted as in a parser just
 * rebuilt, which knows only the header's names (unit_cost), never
 * against what the parser learnt from earlier units: whether it was
 * kept or rebuilt (idle release, the budget) must not change where a
 * stream ends, and a parser rebuilt before the unit would pay it all.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmlstream.h"

#define NS_SEP		' '	/* cannot occur in a namespace URI */
#define FEED_SLICE	16384	/* bounds how far buf grows past max_unit */
#define MAX_STRIP	4
#define MAX_CUTS	16	/* children removed from one unit, at most */
#define NAME_COST	128	/* Expat's bytes per remembered name, its
				   hash tables and ours included (measured) */
#define SMALL_TOKEN	128	/* a partial token this short is rescanned at
				   once (see feed_slice()) */
#define NAMES_BUDGET	65536	/* default for max_names */

enum xmlstream_state { XMLSTREAM_RUNNING, XMLSTREAM_STOPPED, XMLSTREAM_FAILED };

/* Where the bytes after Expat's partial token are (see feed_slice()). */
enum lex {
	LEX_OTHER,	/* not a tag: only the doubling rule applies */
	LEX_TAG,	/* inside a start or end tag, outside quotes */
	LEX_APOS,	/* inside an attribute value in '...' */
	LEX_QUOT,	/* inside an attribute value in "..." */
	LEX_COMMENT,	/* inside <!-- ... */
	LEX_COMMENT1,	/* ... after one '-' */
	LEX_COMMENT2,	/* ... after two or more */
	LEX_PI,		/* inside <? ... */
	LEX_PI_Q,	/* ... after a '?' */
	LEX_END,	/* the token may be complete: rescan now */
};

struct strip_rule {
	const char *parent_ns, *parent_name, *ns, *name;	/* not ours */
};

struct cut {
	long long start, end;	/* absolute offsets */
};

/* Name hashes, open addressing (0: free slot), at most half full. */
struct nameset {
	uint64_t *h;
	size_t cap, used;
};

struct xmlstream {
	XML_Parser parser;	/* NULL before the first byte and while idle */
	unsigned long salt;	/* Expat's hash salt, 0: Expat picks one */
	struct xmlstream_limits lim;
	struct xmlstream_callbacks cb;
	void *ctx;
	const char *detail;

	char *hdr;		/* the current stream's header bytes */
	size_t hdrlen;
	size_t names_cost;	/* names this parser met, see the top */
	struct nameset names;	/* ... their hashes */
	struct nameset hdr_names;	/* the stream header's names */
	struct nameset unit_names;	/* the current unit's, not the header's */
	size_t unit_cost;	/* ... their cost, whatever the parser knew */
	unsigned ns_decls;	/* xmlns declarations of the next start tag */
	long long shift;	/* stream offset = Expat's offset + shift */
	long long fed;		/* stream offset Expat has the bytes up to */
	long long token;	/* ... and where its partial token starts */
	enum lex lex;		/* that token's state at buf's end */

	/* Bytes not yet handed out: buf[head, len) starts at offset base. */
	char *buf;
	size_t head, len, cap;
	long long base;

	char *default_ns;	/* declared before the root start handler */

	/* The top-level element being parsed. */
	char *el_ns, *el_name;

	struct strip_rule *strip;	/* nstrip of them */
	struct cut *cuts;	/* MAX_CUTS, only while a unit is cut */
	long long child_start;

	TAILQ_ENTRY(xmlstream) warm_entry;
	unsigned slept;		/* feeds, when the parser was freed */
	unsigned last;		/* feeds, when it joined the warm list */

	enum xmlstream_state state;
	enum xmlstream_err err;
	enum xmlstream_release release;
	unsigned depth;		/* 0 before the header, 1 between stanzas */
	unsigned char nstrip, ncuts;
	unsigned char child_rule;	/* the rule of the child being cut */
	unsigned char cut_rules;	/* bit i: rule i cut a child */
	unsigned char heat;	/* quick wakes in a row, up to
				   XMLSTREAM_HOT_WAKES */
	unsigned is_warm:1;	/* on the warm list, parser kept */
	unsigned priming:1;	/* parsing hdr again: handlers are mute */
	unsigned primed:1;	/* ... and the root start tag was seen */
	unsigned first_byte_seen:1;	/* of the stream (BOM check) */
	unsigned want_restart:1;
	unsigned want_rebuild:1;	/* names over budget, at a boundary */
	unsigned strip_parent:1;	/* top-level element matches a rule */
	unsigned strip_child:1;	/* current depth-2 child is to be cut */
};

static int parser_create(struct xmlstream *);
static void XMLCALL on_text(void *, const XML_Char *, int);

/* This process's xmlstream_feed() calls (modulo 2^32: intervals are
   what counts), and its warm streams, oldest first (one event loop per
   process). */
static unsigned feeds;
static TAILQ_HEAD(, xmlstream) warm = TAILQ_HEAD_INITIALIZER(warm);

/* Expat hash salts: a secret key from xmlstream_seed() and a counter. */
static uint64_t salt_key, salt_count;

static void
fail(struct xmlstream *xs, enum xmlstream_err err, const char *detail)
{
	if (xs->state != XMLSTREAM_RUNNING)
		return;
	xs->state = XMLSTREAM_FAILED;
	xs->err = err;
	xs->detail = detail;
	if (xs->parser != NULL)
		XML_StopParser(xs->parser, XML_FALSE);
}

/* Split Expat's "uri<SEP>local" into two strings; no namespace gives "". */
static void
split_name(const char *qname, char **ns, char **name)
{
	const char *sep = strrchr(qname, NS_SEP);

	if (sep == NULL) {
		*ns = strdup("");
		*name = strdup(qname);
	} else {
		*ns = strndup(qname, (size_t)(sep - qname));
		*name = strdup(sep + 1);
	}
}

static int
name_is(const char *qname, const char *ns, const char *name)
{
	size_t nslen = strlen(ns);

	return strncmp(qname, ns, nslen) == 0 && qname[nslen] == NS_SEP &&
	    strcmp(qname + nslen + 1, name) == 0;
}

/* Stream offsets of the start and the end of the event being reported. */
static long long
event_start(struct xmlstream *xs)
{
	return (long long)XML_GetCurrentByteIndex(xs->parser) + xs->shift;
}

static long long
event_end(struct xmlstream *xs)
{
	return event_start(xs) + XML_GetCurrentByteCount(xs->parser);
}

static void
free_header(struct xmlstream_header *h)
{
	free((char *)h->ns);
	free((char *)h->name);
	free((char *)h->default_ns);
	free((char *)h->to);
	free((char *)h->from);
	free((char *)h->version);
	free((char *)h->id);
}

static size_t
header_max(const struct xmlstream *xs)
{
	return xs->lim.max_header ? xs->lim.max_header : XMLSTREAM_MAX_HEADER;
}

static size_t
names_budget(const struct xmlstream *xs)
{
	return xs->lim.max_names ? xs->lim.max_names : NAMES_BUDGET;
}

static void
nameset_clear(struct nameset *set)
{
	free(set->h);
	set->h = NULL;
	set->cap = set->used = 0;
}

/* Add h to set: 1 if new, 0 if there already, -1 out of memory. */
static int
nameset_add(struct nameset *set, uint64_t h)
{
	uint64_t *t;
	size_t i, cap;

	if (2 * (set->used + 1) > set->cap) {
		cap = set->cap ? 2 * set->cap : 64;
		if ((t = calloc(cap, sizeof(*t))) == NULL)
			return -1;
		for (i = 0; i < set->cap; i++) {
			size_t j;

			if (set->h[i] == 0)
				continue;
			for (j = set->h[i] & (cap - 1); t[j] != 0;
			    j = (j + 1) & (cap - 1))
				;
			t[j] = set->h[i];
		}
		free(set->h);
		set->h = t;
		set->cap = cap;
	}
	for (i = h & (set->cap - 1); set->h[i] != 0;
	    i = (i + 1) & (set->cap - 1))
		if (set->h[i] == h)
			return 0;
	set->h[i] = h;
	set->used++;
	return 1;
}

static int
nameset_has(const struct nameset *set, uint64_t h)
{
	size_t i;

	if (set->cap == 0)
		return 0;
	for (i = h & (set->cap - 1); set->h[i] != 0;
	    i = (i + 1) & (set->cap - 1))
		if (set->h[i] == h)
			return 1;
	return 0;
}

/* A new parser knows no names (the header's are counted again). */
static void
names_forget(struct xmlstream *xs)
{
	nameset_clear(&xs->names);
	nameset_clear(&xs->hdr_names);
	nameset_clear(&xs->unit_names);
	xs->names_cost = xs->unit_cost = 0;
	xs->ns_decls = 0;
}

/* A new unit has added no names yet. */
static void
unit_names_forget(struct xmlstream *xs)
{
	if (xs->unit_names.cap > 64)
		nameset_clear(&xs->unit_names);
	else if (xs->unit_names.cap > 0) {
		memset(xs->unit_names.h, 0,
		    xs->unit_names.cap * sizeof(*xs->unit_names.h));
		xs->unit_names.used = 0;
	}
	xs->unit_cost = 0;
}

/*
 * Count the name p[0, n): in the parser's names_cost if this parser has
 * not met it; in the header's names while the header is read or
 * primed; else in unit_cost if neither the header nor the unit had it,
 * whatever earlier units taught this parser, so that a unit's count is
 * the same in a kept parser and in a rebuilt one.  0, or -1 no memory.
 */
static int
name_met(struct xmlstream *xs, const char *p, size_t n)
{
	uint64_t h = xs->salt ^ UINT64_C(0xcbf29ce484222325);
	size_t i;
	int r;

	/* FNV-1a, keyed by the stream's secret salt, then mixed: a peer
	   cannot aim at collisions to hide names from the count. */
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
	h ^= h >> 32;
	h *= UINT64_C(0xd6e8feb86659fd93);
	h ^= h >> 32;
	if (h == 0)
		h = 1;
	if ((r = nameset_add(&xs->names, h)) == -1)
		return -1;
	if (r == 1)
		xs->names_cost += NAME_COST + n;
	if (xs->priming || xs->depth == 0)
		return nameset_add(&xs->hdr_names, h) == -1 ? -1 : 0;
	if (nameset_has(&xs->hdr_names, h))
		return 0;
	if ((r = nameset_add(&xs->unit_names, h)) == -1)
		return -1;
	if (r == 1)
		xs->unit_cost += NAME_COST + n;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Count the names of the start tag being reported, as written: its
 * element name and every attribute name (xmlns:p included).  Expat has
 * checked the tag, so it is '<' NAME (S NAME S? = S? QUOTED)* S? '/'? '>'.
 * 0, or -1 out of memory.
 */
static int
count_names(struct xmlstream *xs)
{
	long long at = (long long)XML_GetCurrentByteIndex(xs->parser);
	size_t n = (size_t)XML_GetCurrentByteCount(xs->parser), i = 1, s;
	const char *p;

	/* While priming, shift is 0 and the bytes are the saved header. */
	if (xs->priming) {
		if (at < 0 || (size_t)at + n > xs->hdrlen)
			return 0;
		p = xs->hdr + at;
	} else {
		at += xs->shift;
		if (at < xs->base || (size_t)(at - xs->base) + n >
		    xs->len - xs->head)
			return 0;
		p = xs->buf + xs->head + (size_t)(at - xs->base);
	}
	while (i < n) {
		for (s = i; i < n && !is_space(p[i]) && p[i] != '=' &&
		    p[i] != '/' && p[i] != '>'; i++)
			;
		if (i > s && name_met(xs, p + s, i - s) == -1)
			return -1;
		while (i < n && (is_space(p[i]) || p[i] == '='))
			i++;
		if (i < n && (p[i] == '\'' || p[i] == '"')) {
			char q = p[i++];

			while (i < n && p[i] != q)
				i++;
			i++;
			while (i < n && is_space(p[i]))
				i++;
		}
		if (i < n && (p[i] == '/' || p[i] == '>'))
			break;
	}
	return 0;
}

static void
free_element(struct xmlstream *xs)
{
	free(xs->el_ns);
	free(xs->el_name);
	xs->el_ns = xs->el_name = NULL;
}

/* Remove the recorded child ranges from the unit in place; new length. */
static size_t
apply_cuts(struct xmlstream *xs, char *data, size_t n)
{
	size_t out = 0, in = 0, i;

	for (i = 0; i < xs->ncuts; i++) {
		size_t cs = (size_t)(xs->cuts[i].start - xs->base);
		size_t ce = (size_t)(xs->cuts[i].end - xs->base);

		memmove(data + out, data + in, cs - in);
		out += cs - in;
		in = ce;
	}
	memmove(data + out, data + in, n - in);
	out += n - in;
	return out;
}

/* Hand buf[head, end - base) to the owner as one unit; h for HEADER. */
static void
emit(struct xmlstream *xs, enum xmlstream_unit_kind kind, long long end,
    const struct xmlstream_header *h)
{
	struct xmlstream_unit u;
	size_t n = (size_t)(end - xs->base);
	int next;

	if (kind == XMLSTREAM_UNIT_HEADER && n > header_max(xs)) {
		fail(xs, XMLSTREAM_ERR_HEADER_TOO_LARGE, "header-size");
		return;
	}
	if (n > xs->lim.max_unit) {
		fail(xs, XMLSTREAM_ERR_TOO_LARGE, "unit-size");
		return;
	}
	memset(&u, 0, sizeof(u));
	u.kind = kind;
	u.data = xs->buf + xs->head;
	u.len = n;
	if (kind == XMLSTREAM_UNIT_ELEMENT) {
		u.ns = xs->el_ns;
		u.name = xs->el_name;
		u.stripped = (unsigned)xs->ncuts;
		u.stripped_rules = xs->cut_rules;
		if (xs->ncuts > 0)
			u.len = apply_cuts(xs, xs->buf + xs->head, n);
	} else if (kind == XMLSTREAM_UNIT_HEADER) {
		u.ns = h->ns;
		u.name = h->name;
		u.header = h;
	}
	next = xs->cb.unit(xs->ctx, &u);
	xs->head += n;
	xs->base = end;
	xs->ncuts = 0;
	xs->cut_rules = 0;
	free(xs->cuts);
	xs->cuts = NULL;
	if (next < 0)
		fail(xs, XMLSTREAM_ERR_REJECTED, "rejected");
	else if (next == XMLSTREAM_STOP) {
		xs->state = XMLSTREAM_STOPPED;
		XML_StopParser(xs->parser, XML_FALSE);
	} else if (next == XMLSTREAM_RESTART) {
		xs->want_restart = 1;
		XML_StopParser(xs->parser, XML_FALSE);
	} else if (kind != XMLSTREAM_UNIT_HEADER &&
	    kind != XMLSTREAM_UNIT_END &&
	    xs->release != XMLSTREAM_RELEASE_OFF &&
	    xs->names_cost > names_budget(xs)) {
		/* Between stanzas: a new parser for the rest. */
		xs->want_rebuild = 1;
		XML_StopParser(xs->parser, XML_FALSE);
	}
}

static int
running(struct xmlstream *xs)
{
	return xs->state == XMLSTREAM_RUNNING && !xs->want_restart &&
	    !xs->want_rebuild && !xs->priming;
}

static void XMLCALL
on_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct xmlstream *xs = ud;

	(void)version;
	(void)standalone;
	if (!running(xs))
		return;
	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		fail(xs, XMLSTREAM_ERR_UNSUPPORTED_ENCODING, "encoding");
}

static void XMLCALL
on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct xmlstream *xs = ud;

	if (!running(xs))
		return;
	/* Expat keeps declared prefixes and namespaces as names too; the
	   element names check counts neither a prefix nor an unused one. */
	if (xs->lim.max_name > 0 && ((prefix != NULL &&
	    strlen(prefix) > xs->lim.max_name) ||
	    (uri != NULL && strlen(uri) > xs->lim.max_name))) {
		fail(xs, XMLSTREAM_ERR_NAME_TOO_LONG, "name");
		return;
	}
	/* An attribute for max_attributes: Expat keeps a binding for each
	   (the name itself is counted with the start tag's). */
	xs->ns_decls++;
	if (xs->depth != 0 || prefix != NULL)
		return;
	free(xs->default_ns);
	xs->default_ns = strdup(uri != NULL ? uri : "");
}

static void
start_header(struct xmlstream *xs, const XML_Char *qname,
    const XML_Char **atts)
{
	struct xmlstream_header h;
	char *ns, *name;
	long long end;
	size_t i, n;

	memset(&h, 0, sizeof(h));
	split_name(qname, &ns, &name);
	h.ns = ns;
	h.name = name;
	h.default_ns = xs->default_ns;
	xs->default_ns = NULL;
	for (i = 0; atts[i] != NULL; i += 2) {
		const char **slot = NULL;

		if (strcmp(atts[i], "to") == 0)
			slot = &h.to;
		else if (strcmp(atts[i], "from") == 0)
			slot = &h.from;
		else if (strcmp(atts[i], "version") == 0)
			slot = &h.version;
		else if (strcmp(atts[i], "id") == 0)
			slot = &h.id;
		if (slot != NULL && *slot == NULL)
			*slot = strdup(atts[i + 1]);
	}
	if (ns == NULL || name == NULL) {
		fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
		free_header(&h);
		return;
	}
	/* Kept to rebuild the parser after idling (see the top); a header
	   over max_unit fails in emit() anyway. */
	end = event_end(xs);
	n = (size_t)(end - xs->base);
	if (n <= xs->lim.max_unit) {
		free(xs->hdr);
		if ((xs->hdr = malloc(n)) == NULL) {
			xs->hdrlen = 0;
			fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
			free_header(&h);
			return;
		}
		memcpy(xs->hdr, xs->buf + xs->head, n);
		xs->hdrlen = n;
	}
	xs->depth = 1;
	emit(xs, XMLSTREAM_UNIT_HEADER, end, &h);
	/* The owner had it during the callback; nothing needs it later. */
	free_header(&h);
}

static void XMLCALL
on_start(void *ud, const XML_Char *qname, const XML_Char **atts)
{
	struct xmlstream *xs = ud;
	size_t natts = 0, i;

	if (xs->priming) {
		/* The header's names live in every rebuilt parser. */
		xs->primed = 1;
		xs->ns_decls = 0;
		if (count_names(xs) == -1)
			fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
		return;
	}
	if (!running(xs))
		return;
	while (atts[natts] != NULL)
		natts += 2;
	/* xmlns declarations are attributes too (Expat takes them out). */
	if (natts / 2 + xs->ns_decls > xs->lim.max_attributes) {
		fail(xs, XMLSTREAM_ERR_TOO_MANY_ATTRIBUTES, "attributes");
		return;
	}
	xs->ns_decls = 0;
	if (xs->depth == 0)
		nameset_clear(&xs->hdr_names);
	else if (xs->depth == 1)
		unit_names_forget(xs);
	if (count_names(xs) == -1) {
		fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
		return;
	}
	/* (The header's names are bounded by its own cap.) */
	if (xs->depth >= 1 && xs->unit_cost > names_budget(xs)) {
		fail(xs, XMLSTREAM_ERR_TOO_MANY_NAMES, "names");
		return;
	}
	/* Names are hashed and compared by Expat and by us: keep them
	   short, whatever the stanza size allows. */
	if (xs->lim.max_name > 0) {
		int toolong = strlen(qname) > xs->lim.max_name;

		for (i = 0; i < natts && !toolong; i += 2)
			toolong = strlen(atts[i]) > xs->lim.max_name;
		if (toolong) {
			fail(xs, XMLSTREAM_ERR_NAME_TOO_LONG, "name");
			return;
		}
	}
	if (xs->depth == 0) {
		start_header(xs, qname, atts);
		return;
	}
	if (xs->depth == 1) {
		free_element(xs);
		split_name(qname, &xs->el_ns, &xs->el_name);
		if (xs->el_ns == NULL || xs->el_name == NULL) {
			fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
			return;
		}
		if (xs->cb.element_start != NULL &&
		    xs->cb.element_start(xs->ctx, xs->el_ns, xs->el_name) < 0) {
			fail(xs, XMLSTREAM_ERR_REJECTED, "rejected");
			return;
		}
		xs->strip_parent = 0;
		for (i = 0; i < xs->nstrip; i++)
			if (strcmp(xs->el_ns, xs->strip[i].parent_ns) == 0 &&
			    strcmp(xs->el_name, xs->strip[i].parent_name) == 0)
				xs->strip_parent = 1;
	} else if (xs->depth > xs->lim.max_depth) {
		/* the new element's level is depth: 1 is the stanza itself */
		fail(xs, XMLSTREAM_ERR_TOO_DEEP, "depth");
		return;
	} else if (xs->depth == 2 && xs->strip_parent) {
		xs->strip_child = 0;
		for (i = 0; i < xs->nstrip; i++)
			if (strcmp(xs->el_ns, xs->strip[i].parent_ns) == 0 &&
			    strcmp(xs->el_name, xs->strip[i].parent_name) == 0 &&
			    name_is(qname, xs->strip[i].ns, xs->strip[i].name)) {
				xs->strip_child = 1;
				xs->child_rule = (unsigned char)i;
			}
		/* Past MAX_CUTS, a child to remove would pass: fail closed. */
		if (xs->strip_child && xs->ncuts >= MAX_CUTS) {
			fail(xs, XMLSTREAM_ERR_STRIP_LIMIT, "strip-limit");
			return;
		}
		if (xs->strip_child) {
			xs->child_start = event_start(xs);
			if (xs->cuts == NULL && (xs->cuts = malloc(MAX_CUTS *
			    sizeof(*xs->cuts))) == NULL) {
				fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
				return;
			}
		} else
			xs->strip_child = 0;
	}
	xs->depth++;
	/* Text matters only between stanzas (on_text()): inside one, Expat
	   still checks every byte but need not call us for each run. */
	if (xs->depth == 2)
		XML_SetCharacterDataHandler(xs->parser, NULL);
}

static void XMLCALL
on_end(void *ud, const XML_Char *qname)
{
	struct xmlstream *xs = ud;

	(void)qname;
	if (!running(xs))
		return;
	xs->depth--;
	if (xs->depth == 0) {
		emit(xs, XMLSTREAM_UNIT_END, event_end(xs), NULL);
	} else if (xs->depth == 1) {
		XML_SetCharacterDataHandler(xs->parser, on_text);
		emit(xs, XMLSTREAM_UNIT_ELEMENT, event_end(xs), NULL);
		xs->strip_parent = 0;
	} else if (xs->depth == 2 && xs->strip_child) {
		xs->cuts[xs->ncuts].start = xs->child_start;
		xs->cuts[xs->ncuts].end = event_end(xs);
		xs->ncuts++;
		xs->cut_rules |= (unsigned char)(1u << xs->child_rule);
		xs->strip_child = 0;
	}
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xmlstream *xs = ud;
	long long start;

	(void)s;
	(void)len;
	if (!running(xs) || xs->depth != 1)
		return;
	/* Judge the raw bytes: "&#32;" decodes to a space but is not one. */
	start = event_start(xs);
	if (!xmlstream_all_space(xs->buf + xs->head +
	    (size_t)(start - xs->base),
	    (size_t)XML_GetCurrentByteCount(xs->parser))) {
		fail(xs, XMLSTREAM_ERR_BAD_FORMAT, "text-between-stanzas");
		return;
	}
	emit(xs, XMLSTREAM_UNIT_WHITESPACE, event_end(xs), NULL);
}

/*
 * A CDATA section between stanzas is text there, whatever it holds (as
 * "&#32;" is): refused at its start.  Let through, a chunk holding only
 * its first whitespace made a unit of "<![CDATA[ " and the next one began
 * with "]]>".
 */
static void XMLCALL
on_cdata_start(void *ud)
{
	struct xmlstream *xs = ud;

	if (running(xs) && xs->depth == 1)
		fail(xs, XMLSTREAM_ERR_BAD_FORMAT, "text-between-stanzas");
}

static void XMLCALL
on_comment(void *ud, const XML_Char *data)
{
	(void)data;
	fail(ud, XMLSTREAM_ERR_RESTRICTED_XML, "comment");
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	fail(ud, XMLSTREAM_ERR_RESTRICTED_XML, "processing-instruction");
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, XMLSTREAM_ERR_RESTRICTED_XML, "doctype");
}

static void XMLCALL
on_entity_decl(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name; (void)is_param; (void)value; (void)value_len;
	(void)base; (void)sysid; (void)pubid; (void)notation;
	fail(ud, XMLSTREAM_ERR_RESTRICTED_XML, "entity");
}

static void XMLCALL
on_skipped_entity(void *ud, const XML_Char *name, int is_param)
{
	(void)name;
	(void)is_param;
	fail(ud, XMLSTREAM_ERR_RESTRICTED_XML, "entity");
}

static int
parser_create(struct xmlstream *xs)
{
	XML_Parser p;

	/* An explicit encoding makes Expat ignore the declaration's; the
	   declaration is still checked in on_xmldecl. */
	p = XML_ParserCreateNS("UTF-8", NS_SEP);
	if (p == NULL)
		return -1;
	/* Ours, drawn once per stream: Expat's own costs it several
	   microseconds for every parser it creates. */
	if (xs->salt != 0)
		XML_SetHashSalt(p, xs->salt);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	/* We defer ourselves, never past a tag's end: see feed_slice(). */
	XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
	XML_SetUserData(p, xs);
	XML_SetXmlDeclHandler(p, on_xmldecl);
	XML_SetStartNamespaceDeclHandler(p, on_ns_start);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartCdataSectionHandler(p, on_cdata_start);
	XML_SetCommentHandler(p, on_comment);
	XML_SetProcessingInstructionHandler(p, on_pi);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity_decl);
	XML_SetSkippedEntityHandler(p, on_skipped_entity);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	xs->parser = p;
	xs->shift = 0;
	names_forget(xs);
	/* A new parser has none of the bytes buffered (if any). */
	xs->fed = xs->token = xs->base;
	xs->lex = LEX_OTHER;
	return 0;
}

/*
 * A parser for the next byte: a new one at the start of a stream, or,
 * between stanzas, one primed with the stream's header.  0, or -1 (out of
 * memory, the stream failed).
 */
static int
parser_wake(struct xmlstream *xs)
{
	enum XML_Status st;

	if (parser_create(xs) == -1) {
		fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
		return -1;
	}
	if (xs->depth == 0) {
		xs->heat = 0;	/* a new stream */
		return 0;
	}
	if (feeds - xs->slept > XMLSTREAM_WARM_FEEDS)
		xs->heat = 0;
	else if (xs->heat < XMLSTREAM_HOT_WAKES)
		xs->heat++;
	xs->priming = 1;
	xs->primed = 0;
	st = XML_Parse(xs->parser, xs->hdr, (int)xs->hdrlen, XML_FALSE);
	xs->priming = 0;
	if (xs->state != XMLSTREAM_RUNNING)
		return -1;
	if (st != XML_STATUS_OK || !xs->primed) {
		/* The same bytes parsed before: only memory can fail. */
		fail(xs, XMLSTREAM_ERR_NO_MEMORY, "memory");
		return -1;
	}
	xs->shift = xs->base - (long long)xs->hdrlen;
	return 0;
}

/* Give back the parser and the unit buffer, between stanzas. */
static void
parser_drop(struct xmlstream *xs)
{
	XML_ParserFree(xs->parser);
	xs->parser = NULL;
	names_forget(xs);
	xs->slept = feeds;
	free_element(xs);
	free(xs->buf);
	xs->buf = NULL;
	xs->cap = xs->len = xs->head = 0;
}

static void
warm_remove(struct xmlstream *xs)
{
	if (xs->is_warm) {
		TAILQ_REMOVE(&warm, xs, warm_entry);
		xs->is_warm = 0;
	}
}

/* Warm streams without a feed in the last XMLSTREAM_WARM_FEEDS go to sleep. */
static void
warm_sweep(void)
{
	struct xmlstream *w;

	while ((w = TAILQ_FIRST(&warm)) != NULL &&
	    feeds - w->last > XMLSTREAM_WARM_FEEDS) {
		warm_remove(w);
		parser_drop(w);
	}
}

/*
 * At the end of a feed: between stanzas, go to sleep, or stay warm if
 * busy; see the top.  An unfinished header, a stream ended or stopped, a
 * restart wanted: the parser is kept.
 */
static void
parser_sleep(struct xmlstream *xs)
{
	if (xs->release == XMLSTREAM_RELEASE_OFF || xs->parser == NULL ||
	    xs->state != XMLSTREAM_RUNNING || xs->want_restart ||
	    xs->depth != 1 ||
	    xs->hdr == NULL || xs->head != xs->len)
		return;
	if (xs->release == XMLSTREAM_RELEASE_IDLE &&
	    xs->heat >= XMLSTREAM_HOT_WAKES) {
		xs->last = feeds;
		TAILQ_INSERT_TAIL(&warm, xs, warm_entry);
		xs->is_warm = 1;
		return;
	}
	parser_drop(xs);
}

void
xmlstream_seed(uint64_t key)
{
	salt_key = key;
}

int
xmlstream_all_space(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

/*
 * A salt for a new stream: splitmix64 of the secret key and a counter,
 * distinct per stream and unpredictable without the key.  Unseeded, 0:
 * Expat draws its own for every parser it creates (slower, as safe).
 */
static unsigned long
next_salt(void)
{
	uint64_t z;

	if (salt_key == 0)
		return 0;
	z = salt_key + ++salt_count * UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return z != 0 ? (unsigned long)z : 1;
}

struct xmlstream *
xmlstream_new(const struct xmlstream_limits *limits,
    const struct xmlstream_callbacks *cb, void *ctx)
{
	struct xmlstream *xs;

	if ((xs = calloc(1, sizeof(*xs))) == NULL)
		return NULL;
	xs->lim = *limits;
	xs->cb = *cb;
	xs->ctx = ctx;
	xs->release = XMLSTREAM_RELEASE_IDLE;
	xs->salt = next_salt();
	/* The parser comes with the first byte. */
	return xs;
}

void
xmlstream_set_idle_release(struct xmlstream *xs, enum xmlstream_release mode)
{
	xs->release = mode;
}

int
xmlstream_idle(const struct xmlstream *xs)
{
	return xs->parser == NULL && xs->depth == 1;
}

void
xmlstream_free(struct xmlstream *xs)
{
	if (xs == NULL)
		return;
	warm_remove(xs);
	if (xs->parser != NULL)
		XML_ParserFree(xs->parser);
	free_element(xs);
	free(xs->default_ns);
	free(xs->hdr);
	free(xs->strip);
	free(xs->cuts);
	free(xs->buf);
	names_forget(xs);
	free(xs);
}

int
xmlstream_strip(struct xmlstream *xs, const char *parent_ns,
    const char *parent_name, const char *ns, const char *name)
{
	struct strip_rule *r;

	if (xs->nstrip == MAX_STRIP || (r = realloc(xs->strip,
	    (xs->nstrip + 1) * sizeof(*r))) == NULL)
		return -1;
	xs->strip = r;
	r = &xs->strip[xs->nstrip++];
	r->parent_ns = parent_ns;
	r->parent_name = parent_name;
	r->ns = ns;
	r->name = name;
	return 0;
}

void
xmlstream_reset(struct xmlstream *xs)
{
	warm_remove(xs);
	if (xs->parser != NULL)
		XML_ParserFree(xs->parser);
	xs->parser = NULL;
	names_forget(xs);
	free(xs->hdr);
	xs->hdr = NULL;
	xs->hdrlen = 0;
	xs->shift = 0;
	free_element(xs);
	free(xs->default_ns);
	xs->default_ns = NULL;
	xs->state = XMLSTREAM_RUNNING;
	xs->err = XMLSTREAM_ERR_NONE;
	xs->detail = NULL;
	xs->head = xs->len = 0;
	xs->base = 0;
	xs->first_byte_seen = 0;
	xs->depth = 0;
	xs->want_restart = 0;
	xs->strip_parent = xs->strip_child = 0;
	xs->ncuts = 0;
	xs->cut_rules = 0;
	free(xs->cuts);
	xs->cuts = NULL;
	/* The new stream's parser comes with its first byte. */
}

static int
buf_append(struct xmlstream *xs, const char *data, size_t n)
{
	if (xs->head > 0) {
		memmove(xs->buf, xs->buf + xs->head, xs->len - xs->head);
		xs->len -= xs->head;
		xs->head = 0;
	}
	if (xs->len + n > xs->cap) {
		size_t cap = xs->cap ? xs->cap : 1024;
		char *nb;

		while (cap < xs->len + n)
			cap *= 2;
		if ((nb = realloc(xs->buf, cap)) == NULL)
			return -1;
		xs->buf = nb;
		xs->cap = cap;
	}
	memcpy(xs->buf + xs->len, data, n);
	xs->len += n;
	return 0;
}

static void
map_expat_error(struct xmlstream *xs)
{
	enum XML_Error code = XML_GetErrorCode(xs->parser);

	switch (code) {
	case XML_ERROR_UNDEFINED_ENTITY:
	case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
	case XML_ERROR_RECURSIVE_ENTITY_REF:
	case XML_ERROR_BINARY_ENTITY_REF:
	case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
		fail(xs, XMLSTREAM_ERR_RESTRICTED_XML, "entity");
		break;
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		fail(xs, XMLSTREAM_ERR_UNSUPPORTED_ENCODING, "encoding");
		break;
	default:
		fail(xs, XMLSTREAM_ERR_NOT_WELL_FORMED, XML_ErrorString(code));
		break;
	}
}

/*
 * When Expat sees the bytes: the rescanning rule.
 *
 * Expat keeps the bytes of an unfinished token (a start tag with its
 * attributes, a comment...) and, given more, scans that token again from
 * its '<'.  Given every byte as it arrives, a token of n bytes dripped a
 * byte per TLS record cost n^2/2 byte scans: 128 KiB (under
 * max_stanza_size) took 6 s of CPU, before any login.  Expat's own
 * answer, reparse deferral (2.6), waits until the bytes buffered have
 * doubled; but then a tag that is complete may wait too, for bytes that
 * never come when the peer waits for an answer (a start or end tag split
 * over two records, the second one shorter than the first), so it stays
 * off, and this module defers instead, with one exception for tags:
 *
 *  - a partial token of at most SMALL_TOKEN bytes is rescanned with every
 *    feed (cheap; it covers short tags, references, a split UTF-8
 *    character, the XML declaration);
 *  - a longer one when the bytes withheld since Expat last saw it are at
 *    least as many as the token's (the doubling rule: every rescan is
 *    paid for by as many new bytes, so the cost stays linear);
 *  - and a start or end tag as soon as a '>' outside quoted attribute
 *    values arrives, a comment at "-->", a processing instruction (or the
 *    XML declaration) at "?>": where such a token ends, so a complete one
 *    (and the unit it completes) is never held back.  The scan for it
 *    looks at each byte once (token_scan()); a '>' inside a value ('>' is
 *    allowed there) does not count, so a drip of them costs nothing.
 *
 * Other long tokens (only inside a DOCTYPE, refused at its name) get the
 * doubling rule alone.  Parse cost is thus linear in the bytes received
 * however they are split, the bytes Expat holds stay bounded by max_unit
 * (as before), and no complete unit waits.
 */

/* Scan n bytes of the partial token for the '>' that ends a tag. */
static void
token_scan(struct xmlstream *xs, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && xs->lex != LEX_END && xs->lex != LEX_OTHER; i++)
		switch (xs->lex) {
		case LEX_TAG:
			if (p[i] == '>')
				xs->lex = LEX_END;
			else if (p[i] == '\'')
				xs->lex = LEX_APOS;
			else if (p[i] == '"')
				xs->lex = LEX_QUOT;
			break;
		case LEX_APOS:
			if (p[i] == '\'')
				xs->lex = LEX_TAG;
			break;
		case LEX_QUOT:
			if (p[i] == '"')
				xs->lex = LEX_TAG;
			break;
		case LEX_COMMENT:
		case LEX_COMMENT1:
		case LEX_COMMENT2:
			if (p[i] == '-')
				xs->lex = xs->lex == LEX_COMMENT ?
				    LEX_COMMENT1 : LEX_COMMENT2;
			else if (p[i] == '>' && xs->lex == LEX_COMMENT2)
				xs->lex = LEX_END;
			else
				xs->lex = LEX_COMMENT;
			break;
		case LEX_PI:
		case LEX_PI_Q:
			if (p[i] == '>' && xs->lex == LEX_PI_Q)
				xs->lex = LEX_END;
			else
				xs->lex = p[i] == '?' ? LEX_PI_Q : LEX_PI;
			break;
		default:
			break;
		}
}

/* After a parse: Expat's partial token starts at stream offset start. */
static void
token_start(struct xmlstream *xs, long long start)
{
	const char *p;
	size_t n;

	if (start < xs->base || start > xs->fed)
		start = xs->fed;	/* not expected: rescan at once */
	xs->token = start;
	n = (size_t)(xs->fed - start);
	xs->lex = LEX_OTHER;
	if (n <= SMALL_TOKEN)
		return;
	p = xs->buf + xs->head + (size_t)(start - xs->base);
	/* '<' and a name or '/': a start or end tag (or the header). */
	if (p[0] == '<' && p[1] != '!' && p[1] != '?') {
		xs->lex = LEX_TAG;
		token_scan(xs, p + 1, n - 1);
	} else if (memcmp(p, "<!--", 4) == 0) {
		xs->lex = LEX_COMMENT;
		token_scan(xs, p + 4, n - 4);
	} else if (p[0] == '<' && p[1] == '?') {
		xs->lex = LEX_PI;	/* the XML declaration too */
		token_scan(xs, p + 2, n - 2);
	}
}

/* Whether the n bytes just buffered at data go to Expat now; see above. */
static int
parse_now(struct xmlstream *xs, const char *data, size_t n)
{
	long long partial = xs->fed - xs->token;
	long long withheld = xs->base + (long long)(xs->len - xs->head) -
	    xs->fed;

	if (partial <= SMALL_TOKEN || withheld >= partial)
		return 1;
	token_scan(xs, data, n);
	return xs->lex == LEX_END;
}

/* The bytes of the incomplete unit within bounds?  0, or -1 (failed). */
static int
check_size(struct xmlstream *xs)
{
	size_t n = xs->len - xs->head;

	if (xs->depth == 0 && n > header_max(xs)) {
		fail(xs, XMLSTREAM_ERR_HEADER_TOO_LARGE, "header-size");
		return -1;
	}
	if (n > xs->lim.max_unit) {
		fail(xs, XMLSTREAM_ERR_TOO_LARGE, "unit-size");
		return -1;
	}
	return 0;
}

/* What feeding one slice to Expat came to. */
enum xmlstream_slice {
	XMLSTREAM_SLICE_OK,		/* all parsed: go on */
	XMLSTREAM_SLICE_STOPPED,	/* a unit callback said STOP */
	XMLSTREAM_SLICE_RESTART,	/* ... said RESTART: a new stream */
	XMLSTREAM_SLICE_REBUILD,	/* names over budget: a new parser */
	XMLSTREAM_SLICE_FAILED,		/* the stream failed (xs->err) */
};

/* Feed one slice (at most FEED_SLICE bytes) to Expat. */
static enum xmlstream_slice
feed_slice(struct xmlstream *xs, const char *data, size_t n)
{
	enum XML_Status st;
	long long start;

	if (!xs->first_byte_seen && n > 0) {
		unsigned char c = (unsigned char)data[0];

		xs->first_byte_seen = 1;
		/* UTF-8/16/32 byte-order marks: Expat would honour a UTF-16
		   one whatever encoding it was created for. */
		if (c == 0xEF || c == 0xFE || c == 0xFF || c == 0x00) {
			xs->state = XMLSTREAM_FAILED;
			xs->err = XMLSTREAM_ERR_UNSUPPORTED_ENCODING;
			xs->detail = "byte-order-mark";
			return XMLSTREAM_SLICE_FAILED;
		}
	}
	if (xs->parser == NULL && parser_wake(xs) == -1)
		return XMLSTREAM_SLICE_FAILED;
	if (buf_append(xs, data, n) == -1) {
		xs->state = XMLSTREAM_FAILED;
		xs->err = XMLSTREAM_ERR_NO_MEMORY;
		xs->detail = "memory";
		return XMLSTREAM_SLICE_FAILED;
	}
	if (!parse_now(xs, data, n))
		return check_size(xs) == -1 ? XMLSTREAM_SLICE_FAILED :
		    XMLSTREAM_SLICE_OK;
	start = xs->fed;
	xs->fed = xs->base + (long long)(xs->len - xs->head);
	st = XML_Parse(xs->parser, xs->buf + xs->head +
	    (size_t)(start - xs->base), (int)(xs->fed - start), XML_FALSE);
	if (xs->state == XMLSTREAM_FAILED)
		return XMLSTREAM_SLICE_FAILED;
	if (xs->state == XMLSTREAM_STOPPED)
		return XMLSTREAM_SLICE_STOPPED;
	if (xs->want_restart)
		return XMLSTREAM_SLICE_RESTART;
	if (xs->want_rebuild)
		return XMLSTREAM_SLICE_REBUILD;
	if (st != XML_STATUS_OK) {
		map_expat_error(xs);
		return XMLSTREAM_SLICE_FAILED;
	}
	if (check_size(xs) == -1)
		return XMLSTREAM_SLICE_FAILED;
	token_start(xs, event_start(xs));
	return XMLSTREAM_SLICE_OK;
}

int
xmlstream_feed(struct xmlstream *xs, const char *data, size_t len)
{
	char *again = NULL;

	/* This stream is busy now: off the warm list, parser kept. */
	feeds++;
	warm_remove(xs);
	warm_sweep();
	if (xs->state == XMLSTREAM_STOPPED) {
		/* The tail grows: it is everything after the stop. */
		if (len > 0 && buf_append(xs, data, len) == -1)
			return -1;
		return 1;
	}
	if (xs->state == XMLSTREAM_FAILED)
		return -1;
	while (len > 0) {
		size_t n = len < FEED_SLICE ? len : FEED_SLICE;
		enum xmlstream_slice r = feed_slice(xs, data, n);

		data += n;
		len -= n;
		if (r == XMLSTREAM_SLICE_FAILED) {
			free(again);
			return -1;
		}
		if (r == XMLSTREAM_SLICE_STOPPED) {
			/* Keep the unparsed rest for xmlstream_tail(). */
			if (len > 0 && buf_append(xs, data, len) == -1) {
				xs->state = XMLSTREAM_FAILED;
				xs->err = XMLSTREAM_ERR_NO_MEMORY;
				free(again);
				return -1;
			}
			free(again);
			return 1;
		}
		if (r == XMLSTREAM_SLICE_RESTART ||
		    r == XMLSTREAM_SLICE_REBUILD) {
			/* Everything after the restarting unit begins the
			   new stream, or (REBUILD) continues this one: parse it
			   again with a new parser. */
			size_t keep = xs->len - xs->head;
			char *rest = malloc(keep + len + 1);

			if (rest == NULL) {
				free(again);
				xs->state = XMLSTREAM_FAILED;
				xs->err = XMLSTREAM_ERR_NO_MEMORY;
				xs->detail = "memory";
				return -1;
			}
			memcpy(rest, xs->buf + xs->head, keep);
			memcpy(rest + keep, data, len);
			free(again);
			again = rest;
			data = rest;
			len = keep + len;
			if (r == XMLSTREAM_SLICE_REBUILD) {
				xs->want_rebuild = 0;
				parser_drop(xs);
			} else
				xmlstream_reset(xs);
		}
	}
	free(again);
	/* Nothing pending: give back a buffer a large stanza grew, so an
	   idle stream does not keep a copy of its largest unit. */
	if (xs->head == xs->len && xs->cap > 1024) {
		free(xs->buf);
		xs->buf = NULL;
		xs->cap = xs->len = xs->head = 0;
	}
	parser_sleep(xs);
	return 0;
}

void
xmlstream_tail(const struct xmlstream *xs, const char **data, size_t *len)
{
	*data = xs->buf + xs->head;
	*len = xs->len - xs->head;
}

int
xmlstream_resume(struct xmlstream *xs, int new_stream)
{
	size_t n = xs->len - xs->head;
	char *tail;
	int r;

	if (xs->state != XMLSTREAM_STOPPED)
		return xs->state == XMLSTREAM_FAILED ? -1 : 0;
	if ((tail = malloc(n + 1)) == NULL) {
		xs->state = XMLSTREAM_FAILED;
		xs->err = XMLSTREAM_ERR_NO_MEMORY;
		xs->detail = "memory";
		return -1;
	}
	memcpy(tail, xs->buf + xs->head, n);
	if (new_stream)
		xmlstream_reset(xs);
	else {
		/* Stopped at the end of a top-level element: depth 1,
		   nothing pending, base the offset of the tail.  A parser
		   primed with the header continues from there. */
		warm_remove(xs);
		parser_drop(xs);
		xs->state = XMLSTREAM_RUNNING;
	}
	r = xmlstream_feed(xs, tail, n);
	free(tail);
	return r;
}

void
xmlstream_set_max_unit(struct xmlstream *xs, size_t max_unit)
{
	xs->lim.max_unit = max_unit;
}

size_t
xmlstream_pending(const struct xmlstream *xs)
{
	return xs->len - xs->head;
}

int
xmlstream_at_boundary(const struct xmlstream *xs)
{
	return xs->depth <= 1 && xs->len == xs->head;
}

enum xmlstream_err
xmlstream_error(const struct xmlstream *xs)
{
	return xs->err;
}

size_t
xmlstream_error_limit(const struct xmlstream *xs)
{
	switch (xs->err) {
	case XMLSTREAM_ERR_TOO_LARGE:
		return xs->lim.max_unit;
	case XMLSTREAM_ERR_HEADER_TOO_LARGE:
		return header_max(xs);
	case XMLSTREAM_ERR_TOO_DEEP:
		return xs->lim.max_depth;
	case XMLSTREAM_ERR_TOO_MANY_ATTRIBUTES:
		return xs->lim.max_attributes;
	case XMLSTREAM_ERR_NAME_TOO_LONG:
		return xs->lim.max_name;
	case XMLSTREAM_ERR_TOO_MANY_NAMES:
		return names_budget(xs);
	case XMLSTREAM_ERR_STRIP_LIMIT:
		return MAX_CUTS;
	default:
		return 0;
	}
}

const char *
xmlstream_error_detail(const struct xmlstream *xs)
{
	return xs->detail != NULL ? xs->detail : "";
}

const char *
xmlstream_strerror(enum xmlstream_err e)
{
	switch (e) {
	case XMLSTREAM_ERR_NONE:
		return "no error";
	case XMLSTREAM_ERR_NOT_WELL_FORMED:
		return "not-well-formed";
	case XMLSTREAM_ERR_RESTRICTED_XML:
		return "restricted-xml";
	case XMLSTREAM_ERR_UNSUPPORTED_ENCODING:
		return "unsupported-encoding";
	case XMLSTREAM_ERR_BAD_FORMAT:
		return "bad-format";
	case XMLSTREAM_ERR_TOO_LARGE:
		return "stanza-too-large";
	case XMLSTREAM_ERR_TOO_DEEP:
		return "too-deep";
	case XMLSTREAM_ERR_TOO_MANY_ATTRIBUTES:
		return "too-many-attributes";
	case XMLSTREAM_ERR_NAME_TOO_LONG:
		return "name-too-long";
	case XMLSTREAM_ERR_REJECTED:
		return "rejected";
	case XMLSTREAM_ERR_NO_MEMORY:
		return "out-of-memory";
	case XMLSTREAM_ERR_HEADER_TOO_LARGE:
		return "header-too-large";
	case XMLSTREAM_ERR_TOO_MANY_NAMES:
		return "too-many-names";
	case XMLSTREAM_ERR_STRIP_LIMIT:
		return "strip-limit";
	}
	return "unknown";
}
