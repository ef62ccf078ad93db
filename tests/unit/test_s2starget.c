/*
 * test_s2starget.c - SRV ordering for outgoing s2s (RFC 6120 3.2, RFC 2782,
 * XEP-0368) through s2starget.h, with scripted random draws.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2starget.h"
#include "tap.h"

/* Draws from a script; past its end, the bound (the last record). */
struct script {
	const uint32_t *v;
	size_t n, i;
};

static uint32_t
scripted(void *ctx, uint32_t bound)
{
	struct script *s = ctx;
	uint32_t v = s->i < s->n ? s->v[s->i++] : bound;

	return v > bound ? bound : v;
}

static uint32_t
lcg(void *ctx, uint32_t bound)
{
	unsigned long long *x = ctx;

	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((*x >> 33) % ((unsigned long long)bound + 1));
}

static const char *
show(const struct s2starget *t, int n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s:%u",
		    i ? " " : "", t[i].direct_tls ? "tls:" : "", t[i].host,
		    t[i].port);
	return buf;
}

static void
expect(const char *what, const char *domain, const struct s2starget_srv *srv,
    size_t n, const uint32_t *draws, size_t ndraws, const char *want)
{
	struct script s = { draws, ndraws, 0 };
	struct s2starget out[S2STARGET_MAX];
	char buf[1024];
	int got;

	got = s2starget_order(domain, srv, n, scripted, &s, out,
	    S2STARGET_MAX);
	if (got < 0)
		snprintf(buf, sizeof(buf), "error %d", got);
	else
		show(out, got, buf, sizeof(buf));
	ok(strcmp(buf, want) == 0, "%s: %s (want %s)", what, buf, want);
}

int
main(void)
{
	static const struct s2starget_srv mixed[] = {
		{ "b.example.net.", 5269, 20, 0, 0 },
		{ "a.example.net", 5269, 10, 0, 0 },
		{ "tls.example.net", 5270, 5, 0, 1 },
	};
	static const struct s2starget_srv weights[] = {
		{ "w10.example", 5269, 10, 10, 0 },
		{ "w30.example", 5269, 10, 30, 0 },
		{ "w60.example", 5269, 10, 60, 0 },
	};
	static const struct s2starget_srv zero[] = {
		{ "w5.example", 5269, 1, 5, 0 },
		{ "w0.example", 5269, 1, 0, 0 },
	};
	static const struct s2starget_srv nodot[] = {
		{ ".", 0, 0, 0, 0 },
	};
	static const struct s2starget_srv dot_and_tls[] = {
		{ ".", 0, 0, 0, 0 },
		{ "tls.example", 5270, 0, 0, 1 },
	};
	static const struct s2starget_srv bad[] = {
		{ "bad host", 5269, 0, 0, 0 },
		{ "x..example", 5269, 0, 0, 0 },
		{ "ok.example", 0, 0, 0, 0 },
		{ "good.example", 5269, 1, 0, 0 },
	};
	static const uint32_t d0[] = { 0, 0, 0 };
	static const uint32_t d_w30[] = { 11, 0, 0 };	/* 10 < 11 <= 40 */
	static const uint32_t d_last[] = { 100, 60, 0 };
	static const uint32_t d_zero[] = { 0, 0 };
	static const uint32_t d_five[] = { 3, 0 };
	struct s2starget out[S2STARGET_MAX];
	unsigned long long seed = 42;
	unsigned first[3] = { 0, 0, 0 };

	expect("no SRV: the domain on 5269 with STARTTLS", "example.org",
	    NULL, 0, NULL, 0, "example.org:5269");
	expect("no SRV, trailing dot dropped", "example.org.", NULL, 0, NULL,
	    0, "example.org:5269");
	expect("priority first, both services as one list, trailing dots "
	    "dropped", "example.net", mixed, 3, d0, 3,
	    "tls:tls.example.net:5270 a.example.net:5269 b.example.net:5269");
	expect("weighted: draw 0 picks the first non-empty run", "example",
	    weights, 3, d0, 3, "w10.example:5269 w30.example:5269 "
	    "w60.example:5269");
	expect("weighted: draw 11 of 100 picks weight 30", "example", weights,
	    3, d_w30, 3, "w30.example:5269 w10.example:5269 "
	    "w60.example:5269");
	expect("weighted: draw 100 picks weight 60, then 60 of 40 (capped) "
	    "weight 30", "example", weights, 3, d_last, 3,
	    "w60.example:5269 w30.example:5269 w10.example:5269");
	expect("zero weight first in its priority: draw 0 picks it", "example",
	    zero, 2, d_zero, 2, "w0.example:5269 w5.example:5269");
	expect("zero weight: draw 3 of 5 picks weight 5", "example", zero, 2,
	    d_five, 2, "w5.example:5269 w0.example:5269");
	expect("\".\" alone: no s2s service", "example", nodot, 1, NULL, 0,
	    "error -1");
	expect("\".\" for STARTTLS, direct TLS offered: direct TLS only",
	    "example", dot_and_tls, 2, d0, 2, "tls:tls.example:5270");
	expect("targets that are no host name or have port 0 are skipped",
	    "example", bad, 4, d0, 4, "good.example:5269");
	expect("only bad targets: no service (not the fallback)", "example",
	    bad, 3, d0, 3, "error -1");
	expect("a domain that is no host name", "exa mple", NULL, 0, NULL, 0,
	    "error -2");

	ok(s2starget_order("example", weights, 3, lcg, &seed, out, 2) == 2,
	    "max cuts after ordering");
	/* RFC 2782 proportions: weight 60 first about 60% of the time */
	for (int i = 0; i < 10000; i++) {
		s2starget_order("example", weights, 3, lcg, &seed, out, 1);
		first[out[0].host[1] == '1' ? 0 : out[0].host[1] == '3' ? 1 :
		    2]++;
	}
	ok(first[0] > 800 && first[0] < 1200 && first[1] > 2700 &&
	    first[1] < 3300 && first[2] > 5600 && first[2] < 6400,
	    "first picks follow the weights 10/30/60: %u %u %u", first[0],
	    first[1], first[2]);
	return tap_done();
}
