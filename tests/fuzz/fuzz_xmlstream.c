/*
 * fuzz_xmlstream.c - the stream parser, split at a point the input picks.
 * Property: with no strip rules the units handed out, joined, are exactly
 * a prefix of the input (nothing invented, reordered or repaired).
 */
#include "autoconf.h"
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmlstream.h"

struct acc {
	char *buf;
	size_t len, cap;
};

static int
on_unit(void *ctx, const struct xs_unit *u)
{
	struct acc *a = ctx;

	if (a->len + u->len > a->cap) {
		a->cap = (a->len + u->len) * 2;
		if ((a->buf = realloc(a->buf, a->cap)) == NULL)
			abort();
	}
	memcpy(a->buf + a->len, u->data, u->len);
	a->len += u->len;
	/* After SASL success a new stream may follow, as in the relay. */
	if (u->kind == XS_UNIT_ELEMENT && strcmp(u->name, "success") == 0)
		return XS_RESTART;
	return XS_CONTINUE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xs_callbacks cb = { NULL, on_unit };
	static const struct xs_limits lim = { 2048, 16, 16, 128 };
	struct acc a = { NULL, 0, 0 };
	struct xmlstream *xs;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] % (size);
	data++;
	size--;
	if (split > size)
		split = size;
	if ((xs = xmlstream_new(&lim, &cb, &a)) == NULL)
		abort();
	if (xmlstream_feed(xs, (const char *)data, split) == 0)
		xmlstream_feed(xs, (const char *)data + split, size - split);
	if (a.len > size || (a.len > 0 && memcmp(a.buf, data, a.len) != 0))
		abort();	/* forwarded bytes are not the input's prefix */
	xmlstream_free(xs);
	free(a.buf);
	return 0;
}
