/*
 * fuzz_relay.c - the post-TLS filters: the input is split into a client
 * part and a backend part, each fed in pieces.  Property: what reaches
 * the backend is a prefix of what the client sent (after its resets on
 * SASL success, a concatenation of such prefixes cannot be checked
 * simply, so the check applies when no success came from the backend).
 * The low bit of the first byte picks the s2s listener, where every
 * domain the peer claims goes to a callback that checks it is a string
 * of a bounded length and refuses one in three (issue 13).  The next bit
 * turns on SASL EXTERNAL answered by the relay (a certificate "valid"
 * for domains of odd length); then the backend gets our <db:result/>,
 * which is not the client's, and only the sanitizers judge.
 */
#include "autoconf.h"
#include <stdio.h>
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

static int
external_ok(void *ctx, const char *to, const char *domain)
{
	(void)ctx;
	if (to == NULL || strlen(domain) >= 1024)
		abort();
	return strlen(domain) % 2 == 1;
}

static int
make_key(void *ctx, const char *ours, const char *peer, const char *id,
    char *out, size_t outlen)
{
	(void)ctx;
	(void)ours;
	(void)peer;
	(void)id;
	snprintf(out, outlen, "%064d", 7);
	return 0;
}

static void
external_log(void *ctx, enum relay_external_event ev, const char *domain,
    const char *reason)
{
	(void)ctx;
	(void)ev;
	(void)reason;
	if (strlen(domain) >= 1024)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct relay_callbacks plain = {
		.to_backend = to_backend, .to_client = to_client,
		.peer_claim = claim };
	static const struct relay_callbacks ext = {
		.to_backend = to_backend, .to_client = to_client,
		.peer_claim = claim, .external_ok = external_ok,
		.make_key = make_key, .external_log = external_log };
	const struct relay_callbacks *cb;
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
	cb = (data[0] & 2) ? &ext : &plain;
	data += 2;
	size -= 2;
	client = (const char *)data;
	clen = half;
	backend = (const char *)data + half;
	blen = size - half;
	if ((r = relay_new(cfg, l, "example.org", "id", cb,
	    &s)) == NULL)
		abort();
	relay_from_client(r, client, clen / 2);
	relay_from_backend(r, backend, blen / 2);
	relay_from_client(r, client + clen / 2, clen - clen / 2);
	relay_from_backend(r, backend + blen / 2, blen - blen / 2);
	if (cb == &plain && memmem(backend, blen, "success", 7) == NULL &&
	    (s.blen > clen || (s.blen > 0 && memcmp(s.b, client, s.blen))))
		abort();	/* forwarded bytes are not the client's prefix */
	relay_fail(r, relay_verdict(r));
	relay_free(r);
	free(s.b);
	return 0;
}
