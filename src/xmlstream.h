/*
 * xmlstream.h - one direction of an XMPP stream, parsed as restricted XML.
 *
 * Wraps Expat (namespace-aware, UTF-8 only, rescans bounded) and cuts
 * the byte stream into units: the stream header, whitespace keepalives,
 * complete top-level elements (stanzas, features, ...) and the stream's
 * closing tag.  Each unit is handed to the owner as the exact bytes the
 * peer sent, and only once it is complete and valid, so a forwarder built
 * on it never passes half a stanza or a byte that failed to parse.
 *
 * Rejected, as RFC 6120 section 11 asks: comments, processing instructions,
 * DOCTYPE (and so every entity declaration), references to undefined
 * entities, byte-order marks and encodings other than UTF-8; text between
 * stanzas (a CDATA section there too); and, as limits:
 * a unit larger than max_unit bytes, nesting deeper than max_depth,
 * more than max_attributes attributes (xmlns declarations included) on one
 * element, a stream header over max_header bytes, a unit adding more
 * than max_names of new names.  Parse cost is linear in the bytes fed
 * however they are split, and no complete unit waits for more bytes (see
 * feed_slice() in xmlstream.c).
 *
 * Between stanzas an idle stream holds no Expat parser: it is freed at the
 * end of a feed that leaves nothing pending and rebuilt, in the same state,
 * on the next byte (see xmlstream.c); the units and errors are the same.
 *
 * Pure module: no I/O, no libevent, no mbedTLS.
 */
#ifndef XMPPSHIELD_XMLSTREAM_H
#define XMPPSHIELD_XMLSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct xmlstream;

enum xmlstream_err {
	XMLSTREAM_ERR_NONE = 0,
	XMLSTREAM_ERR_NOT_WELL_FORMED,		/* Expat refused the bytes */
	XMLSTREAM_ERR_RESTRICTED_XML,	/* comment, PI, DOCTYPE, entity */
	XMLSTREAM_ERR_UNSUPPORTED_ENCODING, /* BOM, encoding not UTF-8 */
	XMLSTREAM_ERR_BAD_FORMAT,	/* text between top-level elements */
	XMLSTREAM_ERR_TOO_LARGE,		/* a unit over max_unit bytes */
	XMLSTREAM_ERR_TOO_DEEP,		/* nesting over max_depth */
	XMLSTREAM_ERR_TOO_MANY_ATTRIBUTES,
	XMLSTREAM_ERR_NAME_TOO_LONG,		/* element or attribute name */
	XMLSTREAM_ERR_REJECTED,		/* the owner's callback said no */
	XMLSTREAM_ERR_NO_MEMORY,
	XMLSTREAM_ERR_HEADER_TOO_LARGE,	/* a stream header over max_header */
	XMLSTREAM_ERR_TOO_MANY_NAMES,	/* one unit met max_names of new names */
	XMLSTREAM_ERR_STRIP_LIMIT,	/* more children to strip than it can */
};

enum xmlstream_unit_kind {
	XMLSTREAM_UNIT_HEADER,	/* <?xml?> (if any) and <stream:stream> */
	XMLSTREAM_UNIT_WHITESPACE, /* whitespace between top-level elements */
	XMLSTREAM_UNIT_ELEMENT,	/* a complete top-level element */
	XMLSTREAM_UNIT_END,		/* </stream:stream> */
};

/* Attributes of a stream header; NULL where absent. */
struct xmlstream_header {
	const char *ns;		/* namespace of the root element */
	const char *name;	/* local name of the root element */
	const char *default_ns;	/* xmlns='...' declared on it */
	const char *to;
	const char *from;
	const char *version;
	const char *id;
};

struct xmlstream_unit {
	enum xmlstream_unit_kind kind;
	const char *data;	/* the bytes to forward (after stripping) */
	size_t len;
	const char *ns;		/* ELEMENT, HEADER: namespace and */
	const char *name;	/* local name of the element */
	const struct xmlstream_header *header;	/* HEADER only, during
						   the call */
	unsigned stripped;	/* ELEMENT: children removed (see strip) */
	unsigned stripped_rules; /* ELEMENT: bit i set when the i-th
				   xmlstream_strip() rule removed one */
};

/* What a unit callback tells the parser to do next. */
enum xmlstream_next {
	XMLSTREAM_CONTINUE = 0,	/* go on parsing */
	XMLSTREAM_STOP = 1,	/* stop after this unit; see xmlstream_tail() */
	XMLSTREAM_RESTART = 2,		/* the bytes after this unit begin a new
				   XML stream (after SASL success) */
};

struct xmlstream_callbacks {
	/*
	 * A top-level element (depth 1) starts.  Lets the owner refuse an
	 * element by name before its content arrives (pre-TLS <auth>).
	 * Return 0 to go on, -1 to stop with XMLSTREAM_ERR_REJECTED.  May be
	 * NULL.
	 */
	int (*element_start)(void *ctx, const char *ns, const char *name);
	/* A complete unit; returns enum xmlstream_next, or -1
	   (XMLSTREAM_ERR_REJECTED). */
	int (*unit)(void *ctx, const struct xmlstream_unit *u);
};

struct xmlstream_limits {
	size_t max_unit;	/* bytes of one unit (stanza) */
	unsigned max_depth;	/* 1 = stanza without children */
	unsigned max_attributes;
	size_t max_name;	/* bytes of a name with its namespace URI;
				   0: bounded by max_unit only */
	size_t max_names;	/* names Expat may remember (their bytes, plus
				   64 each) before its parser is rebuilt at the
				   next boundary; 0: 64 KiB.  Not with
				   XMLSTREAM_RELEASE_OFF.  One unit adding
				   more to a parser that knows only the
				   header's names fails, whatever the parser
				   met: XMLSTREAM_ERR_TOO_MANY_NAMES */
	size_t max_header;	/* bytes of a stream header, XML declaration
				   included; 0: XMLSTREAM_MAX_HEADER */
};
#define XMLSTREAM_MAX_HEADER	4096

/*
 * Key the Expat hash salts of the streams made from now on (a secret
 * drawn once per process from a random source: this module does no I/O).
 * Without a key (or 0) Expat draws a salt itself for every parser it
 * makes, which is as safe and several microseconds slower.
 */
void xmlstream_seed(uint64_t key);

/*
 * A new parser; NULL on allocation failure.  cb and ctx are kept.  Expat's
 * parser is made with the first byte fed (failing there, as
 * XMLSTREAM_ERR_NO_MEMORY, if it cannot be).
 */
struct xmlstream *xmlstream_new(const struct xmlstream_limits *limits,
    const struct xmlstream_callbacks *cb, void *ctx);
void xmlstream_free(struct xmlstream *xs);

/*
 * When a stream between stanzas gives back its Expat parser and unit
 * buffer, to rebuild them on the next byte (see xmlstream.c).
 */
enum xmlstream_release {
	XMLSTREAM_RELEASE_OFF,	/* never: one parser for the stream's life */
	XMLSTREAM_RELEASE_IDLE,	/* the default: at the end of a feed, unless
				   the stream is busy (it woke
				   XMLSTREAM_HOT_WAKES times in a row within
				   XMLSTREAM_WARM_FEEDS feeds of going to
				   sleep); a busy one keeps its parser until
				   XMLSTREAM_WARM_FEEDS feeds of this process
				   went by without one of its own */
	XMLSTREAM_RELEASE_ALWAYS, /* at the end of every such feed (tests) */
};
#define XMLSTREAM_WARM_FEEDS	4096
#define XMLSTREAM_HOT_WAKES	8

void xmlstream_set_idle_release(struct xmlstream *xs,
    enum xmlstream_release mode);

/* 1 while the stream holds no Expat parser between stanzas, else 0. */
int xmlstream_idle(const struct xmlstream *xs);

/*
 * Remove every child element (ns, name) of top-level elements
 * (parent_ns, parent_name) from the units handed out.  Used to take
 * <starttls/> out of the backend's <stream:features/>.  Up to 4 rules.
 * The strings are not copied: they must outlive xs (string constants).
 * Returns 0, or -1 if full.  A unit with more than 16 children to remove
 * fails the stream (XMLSTREAM_ERR_STRIP_LIMIT): none passes.
 */
int xmlstream_strip(struct xmlstream *xs, const char *parent_ns,
    const char *parent_name, const char *ns, const char *name);

/*
 * Parse len bytes.  Units are delivered through the callbacks during the
 * call.  Returns 0 when all bytes were consumed (some may wait inside, in
 * an incomplete unit), 1 when a callback returned XMLSTREAM_STOP (the unparsed
 * rest is in xmlstream_tail()), -1 on error (see xmlstream_error()).
 * After 1, further bytes are added to the tail unparsed; after -1,
 * further calls return -1.
 */
int xmlstream_feed(struct xmlstream *xs, const char *data, size_t len);

/*
 * After XMLSTREAM_STOP: the bytes fed after the stopping unit, which no parser
 * has looked at.  Valid until the next call on xs.
 */
void xmlstream_tail(const struct xmlstream *xs, const char **data,
    size_t *len);

/* Forget everything and expect a new stream (a new Expat parser). */
void xmlstream_reset(struct xmlstream *xs);

/*
 * After XMLSTREAM_STOP on an ELEMENT unit: parse the tail now, as the rest of
 * the same stream (new_stream 0; the stop was between stanzas, so the
 * parser is rebuilt from the saved header as after idling) or as the
 * start of a new stream (new_stream 1: as xmlstream_reset() and then
 * feeding the tail).  Used to hold a peer's bytes behind a request that
 * may restart the stream until the answer says whether it did.  Returns
 * as xmlstream_feed(); 0 with nothing done when xs is not stopped.
 */
int xmlstream_resume(struct xmlstream *xs, int new_stream);

/*
 * Change max_unit from now on (a session raises it once its peer has
 * authenticated).  Bytes already waiting are checked against the new
 * bound when the next bytes are fed, units as they complete.
 */
void xmlstream_set_max_unit(struct xmlstream *xs, size_t max_unit);

/* Bytes waiting in an incomplete unit (bounded by max_unit). */
size_t xmlstream_pending(const struct xmlstream *xs);

/* 1 between units (nothing incomplete is waiting), else 0. */
int xmlstream_at_boundary(const struct xmlstream *xs);

enum xmlstream_err xmlstream_error(const struct xmlstream *xs);

/*
 * A short fixed description of the error for logs ("comment",
 * "processing-instruction", "doctype", "entity", Expat's error text...).
 * Never contains peer bytes.
 */
const char *xmlstream_error_detail(const struct xmlstream *xs);

const char *xmlstream_strerror(enum xmlstream_err e);

/* The bound the error broke (max_unit, max_header, ...), or 0. */
size_t xmlstream_error_limit(const struct xmlstream *xs);

/* 1 if the n bytes at p are all XML whitespace (or n is 0), else 0. */
int xmlstream_all_space(const char *p, size_t n);

#endif
