/*
 * fuzz_xmlstream.c - the stream parser, split at a point the input picks.
 * Properties: with no strip rules the units handed out, joined, are
 * exactly a prefix of the input (nothing invented, reordered or repaired);
 * and a stream that gives back its Expat parser between stanzas (idle
 * release, at every boundary and when idle) hands out the same units,
 * names and error as one that keeps it, split there and fed byte by
 * byte, with strip rules too.
 */
#include "autoconf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmlstream.h"

struct acc {
	char *buf;		/* the units' bytes, joined */
	size_t len, cap;
	char *log;		/* kinds, names, lengths, the outcome */
	size_t loglen, logcap;
};

static void
add(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			abort();
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

static void
logf_(struct acc *a, const char *s1, const char *s2, size_t n)
{
	char num[32];

	snprintf(num, sizeof(num), "|%zu|", n);
	add(&a->log, &a->loglen, &a->logcap, s1, strlen(s1) + 1);
	add(&a->log, &a->loglen, &a->logcap, s2, strlen(s2) + 1);
	add(&a->log, &a->loglen, &a->logcap, num, strlen(num));
}

static int
on_unit(void *ctx, const struct xmlstream_unit *u)
{
	static const char *kinds[] = { "H", "W", "E", "X" };
	struct acc *a = ctx;

	add(&a->buf, &a->len, &a->cap, u->data, u->len);
	logf_(a, kinds[u->kind], u->name ? u->name : "", u->len);
	if (u->ns != NULL)
		logf_(a, u->ns, "", u->stripped);
	/* After SASL success a new stream may follow, as in the relay. */
	if (u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->name, "success") == 0)
		return XMLSTREAM_RESTART;
	return XMLSTREAM_CONTINUE;
}

/* Parse data, split at split (bytewise: one byte per feed). */
static void
parse(struct acc *a, const uint8_t *data, size_t size, size_t split,
    int bytewise, enum xmlstream_release release, int strip)
{
	static const struct xmlstream_callbacks cb = { NULL, on_unit };
	/* A names budget this small rebuilds the parser every few
	   stanzas, in the middle of feeds too. */
	static const struct xmlstream_limits lim = { 2048, 16, 16, 128, 300, 1024 };
	struct xmlstream *xs;
	size_t off = 0;
	int r = 0;

	memset(a, 0, sizeof(*a));
	if ((xs = xmlstream_new(&lim, &cb, a)) == NULL)
		abort();
	xmlstream_set_idle_release(xs, release);
	if (strip)
		xmlstream_strip(xs, "http://etherx.jabber.org/streams",
		    "features", "urn:ietf:params:xml:ns:xmpp-tls", "starttls");
	if (bytewise) {
		for (off = 0; off < size && r == 0; off++)
			r = xmlstream_feed(xs, (const char *)data + off, 1);
	} else if ((r = xmlstream_feed(xs, (const char *)data, split)) == 0)
		r = xmlstream_feed(xs, (const char *)data + split,
		    size - split);
	logf_(a, r == -1 ? xmlstream_strerror(xmlstream_error(xs)) : "",
	    r == -1 ? xmlstream_error_detail(xs) : "", (size_t)r);
	xmlstream_free(xs);
}

/* x and y saw the same; y is freed, and x unless kept. */
static void
same(struct acc *x, struct acc *y, int last)
{
	if (x->loglen != y->loglen || x->len != y->len ||
	    (x->len > 0 && memcmp(x->buf, y->buf, x->len) != 0) ||
	    (x->loglen > 0 && memcmp(x->log, y->log, x->loglen) != 0))
		abort();	/* idle release changed what was seen */
	if (last) {
		free(x->buf);
		free(x->log);
	}
	free(y->buf);
	free(y->log);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acc a, b;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] % (size);
	data++;
	size--;
	if (split > size)
		split = size;
	parse(&a, data, size, split, 0, XMLSTREAM_RELEASE_OFF, 0);
	if (a.len > size || (a.len > 0 && memcmp(a.buf, data, a.len) != 0))
		abort();	/* forwarded bytes are not the input's prefix */
	parse(&b, data, size, split, 0, XMLSTREAM_RELEASE_ALWAYS, 0);
	same(&a, &b, 0);
	parse(&b, data, size, split, 0, XMLSTREAM_RELEASE_IDLE, 0);
	same(&a, &b, 1);
	parse(&a, data, size, 0, 1, XMLSTREAM_RELEASE_OFF, 1);
	parse(&b, data, size, 0, 1, XMLSTREAM_RELEASE_ALWAYS, 1);
	same(&a, &b, 0);
	parse(&b, data, size, 0, 1, XMLSTREAM_RELEASE_IDLE, 1);
	same(&a, &b, 1);
	return 0;
}
