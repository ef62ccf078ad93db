/*
 * fuzz_pretls.c - the pre-TLS state machine over arbitrary client bytes,
 * fed in pieces whose sizes the input picks.  Property: <proceed/> is
 * never written unless the conversation reached PRETLS_STARTTLS, and
 * nothing is written after the conversation ended.
 */
#include "autoconf.h"
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "pretls.h"

struct out {
	int proceed;
	size_t bytes;
};

static void
on_write(void *ctx, const char *d, size_t n)
{
	struct out *o = ctx;

	o->bytes += n;
	if (n >= 8 && memmem(d, n, "<proceed", 8) != NULL)
		o->proceed = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_config();
	struct out o = { 0, 0 };
	struct pretls *p;
	enum pretls_result r = PRETLS_MORE;
	size_t off = 0, step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	p = pretls_new(cfg, cfg->listeners, "fuzzid", on_write, &o);
	if (p == NULL)
		abort();
	while (off < size && r != PRETLS_CLOSE) {
		size_t n = size - off < step ? size - off : step;

		r = pretls_feed(p, (const char *)data + off, n);
		off += n;
	}
	if (o.proceed)
		abort();	/* proceed written without pretls_proceed() */
	if (r == PRETLS_STARTTLS) {
		pretls_proceed(p);
		if (!o.proceed)
			abort();
	}
	pretls_free(p);
	return 0;
}
