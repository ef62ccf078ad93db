/*
 * fuzz_relay.c - the post-TLS filters: the input is split into a client
 * part and a backend part, each fed in pieces.  Property: what reaches
 * the backend is a prefix of what the client sent (after its resets on
 * SASL success, a concatenation of such prefixes cannot be checked
 * simply, so the check applies when no success came from the backend).
 * The low bit of the first byte picks the s2s listener, where every
 * domain the peer claims goes to a callback that checks it is a string
 * of a bounded length and refuses one in three (issue 13).
 */
#include "autoconf.h"
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "relay.h"

struct sink {
	char *b;
	size_t blen, bcap;
	size_t clen;
};

static void
to_backend(void *ctx, const char *d, size_t n)
{
	struct sink *s = ctx;

	if (s->blen + n > s->bcap) {
		s->bcap = (s->blen + n) * 2;
		if ((s->b = realloc(s->b, s->bcap)) == NULL)
			abort();
	}
	memcpy(s->b + s->blen, d, n);
	s->blen += n;
}

static void
to_client(void *ctx, const char *d, size_t n)
{
	struct sink *s = ctx;

	(void)d;
	s->clen += n;
}

static int
claim(void *ctx, const char *from, int dialback, struct verdict *v)
{
	size_t n = strlen(from);

	(void)ctx;
	if (n == 0 || n >= 1024 || (dialback != 0 && dialback != 1))
		abort();
	if (n % 3 == 0) {
		verdict_set(v, "policy-violation", "peer-unverified",
		    XMPP_COND_POLICY_VIOLATION, NULL, NULL);
		return -1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct relay_callbacks cb = {
		.to_backend = to_backend, .to_client = to_client,
		.peer_claim = claim };
	struct config *cfg = fuzz_config();
	const struct config_listener *l;
	struct sink s = { NULL, 0, 0, 0 };
	const char *client, *backend;
	size_t clen, blen, half;
	struct relay *r;

	if (size < 2)
		return 0;
	half = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	l = (data[0] & 1) ? cfg->listeners->next : cfg->listeners;
	data += 2;
	size -= 2;
	client = (const char *)data;
	clen = half;
	backend = (const char *)data + half;
	blen = size - half;
	if ((r = relay_new(cfg, l, "example.org", "id", &cb,
	    &s)) == NULL)
		abort();
	relay_from_client(r, client, clen / 2);
	relay_from_backend(r, backend, blen / 2);
	relay_from_client(r, client + clen / 2, clen - clen / 2);
	relay_from_backend(r, backend + blen / 2, blen - blen / 2);
	if (memmem(backend, blen, "success", 7) == NULL &&
	    (s.blen > clen || (s.blen > 0 && memcmp(s.b, client, s.blen))))
		abort();	/* forwarded bytes are not the client's prefix */
	relay_fail(r, relay_verdict(r));
	relay_free(r);
	free(s.b);
	return 0;
}
