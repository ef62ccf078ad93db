/*
 * test_dane.c - dane.h against known vectors: test certificates and the
 * digests openssl computed for them (tests/unit/dane_fixtures.sh makes
 * dane_fixtures.h).  Each row: TLSA records, a chain, the expected result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "tap.h"
#include "dane_fixtures.h"

/* RDATA: usage, selector, matching type, then the hex digest or data. */
static size_t
rdata_hex(unsigned char *out, int u, int s, int m, const char *hex)
{
	size_t n = 3;

	out[0] = (unsigned char)u;
	out[1] = (unsigned char)s;
	out[2] = (unsigned char)m;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static size_t
rdata_raw(unsigned char *out, int u, int s, const unsigned char *d,
    size_t len)
{
	out[0] = (unsigned char)u;
	out[1] = (unsigned char)s;
	out[2] = 0;
	memcpy(out + 3, d, len);
	return len + 3;
}

static enum dane_result
check1(const unsigned char *rd, size_t rlen, const unsigned char *const *der,
    const size_t *len, size_t n)
{
	struct dane_set *s = dane_set_new();
	enum dane_result r;

	dane_set_add(s, rd, rlen);
	r = dane_check(s, der, len, n);
	dane_set_free(s);
	return r;
}

/* Flip one bit of a digest in hex. */
static const char *
spoil(const char *hex)
{
	static char buf[200];

	snprintf(buf, sizeof(buf), "%s", hex);
	buf[0] = buf[0] == '0' ? '1' : '0';
	return buf;
}

int
main(void)
{
	unsigned char rd[4096];
	size_t n;
	const unsigned char *self[] = { fx_self_der };
	const size_t self_len[] = { sizeof(fx_self_der) };
	const unsigned char *chain[] = { fx_leaf_der, fx_ca_der };
	const size_t chain_len[] = { sizeof(fx_leaf_der), sizeof(fx_ca_der) };
	const unsigned char *leaf_only[] = { fx_leaf_der };
	const size_t leaf_only_len[] = { sizeof(fx_leaf_der) };
	struct dane_set *s;

	/* DANE-EE, every selector and matching type */
	n = rdata_hex(rd, 3, 1, 1, fx_self_spki_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 1 1 (SPKI SHA-256)");
	n = rdata_hex(rd, 3, 1, 2, fx_self_spki_sha512);
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 1 2 (SPKI SHA-512)");
	n = rdata_hex(rd, 3, 0, 1, fx_self_cert_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 0 1 (cert SHA-256)");
	n = rdata_hex(rd, 3, 0, 2, fx_self_cert_sha512);
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 0 2 (cert SHA-512)");
	n = rdata_raw(rd, 3, 0, fx_self_der, sizeof(fx_self_der));
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 0 0 (full cert)");
	n = rdata_raw(rd, 3, 1, fx_self_spki, sizeof(fx_self_spki));
	ok(check1(rd, n, self, self_len, 1) == DANE_EE, "3 1 0 (full SPKI)");
	/* mismatches */
	n = rdata_hex(rd, 3, 1, 1, spoil(fx_self_spki_sha256));
	ok(check1(rd, n, self, self_len, 1) == DANE_MISMATCH,
	    "3 1 1 one bit off: mismatch");
	n = rdata_hex(rd, 3, 1, 1, fx_self_cert_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_MISMATCH,
	    "3 1 1 with the cert's digest: mismatch (selector matters)");
	n = rdata_hex(rd, 3, 1, 1, fx_leaf_spki_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_MISMATCH,
	    "3 1 1 of another key: mismatch");
	n = rdata_hex(rd, 3, 1, 1, fx_ca_spki_sha256);
	ok(check1(rd, n, chain, chain_len, 2) == DANE_MISMATCH,
	    "DANE-EE naming the CA, not the leaf: mismatch");
	ok(check1(rd, n, chain, chain_len, 0) == DANE_MISMATCH,
	    "no certificate presented: mismatch");

	/* DANE-TA */
	n = rdata_hex(rd, 2, 1, 1, fx_ca_spki_sha256);
	ok(check1(rd, n, chain, chain_len, 2) == DANE_TA, "2 1 1 of the CA");
	n = rdata_hex(rd, 2, 0, 2, fx_ca_cert_sha512);
	ok(check1(rd, n, chain, chain_len, 2) == DANE_TA, "2 0 2 of the CA");
	n = rdata_hex(rd, 2, 0, 1, fx_ca_cert_sha256);
	ok(check1(rd, n, leaf_only, leaf_only_len, 1) == DANE_MISMATCH,
	    "DANE-TA whose CA the remote did not send: mismatch");
	{
		/* the CA sent, but the leaf is another one's */
		const unsigned char *bad[] = { fx_self_der, fx_ca_der };
		const size_t bad_len[] = { sizeof(fx_self_der),
		    sizeof(fx_ca_der) };

		ok(check1(rd, n, bad, bad_len, 2) == DANE_MISMATCH,
		    "DANE-TA matches a sent CA that did not sign the leaf: "
		    "mismatch");
	}
	n = rdata_hex(rd, 2, 1, 1, fx_leaf_spki_sha256);
	ok(check1(rd, n, chain, chain_len, 2) == DANE_MISMATCH,
	    "DANE-TA naming the leaf: mismatch (a TA is above the leaf)");

	/* unusable records: PKIX decides */
	n = rdata_hex(rd, 1, 1, 1, fx_self_spki_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_NONE,
	    "PKIX-EE(1) is unusable: none");
	n = rdata_hex(rd, 0, 1, 1, fx_ca_spki_sha256);
	ok(check1(rd, n, chain, chain_len, 2) == DANE_NONE,
	    "PKIX-TA(0) is unusable: none");
	n = rdata_hex(rd, 3, 1, 3, fx_self_spki_sha256);
	ok(check1(rd, n, self, self_len, 1) == DANE_NONE,
	    "unknown matching type: none");
	n = rdata_hex(rd, 3, 1, 1, "abcd");
	ok(check1(rd, n, self, self_len, 1) == DANE_NONE,
	    "SHA-256 record of the wrong length: none");
	ok(check1(rd, 2, self, self_len, 1) == DANE_NONE,
	    "truncated RDATA: none");

	/* sets */
	s = dane_set_new();
	n = rdata_hex(rd, 1, 1, 1, fx_self_spki_sha256);
	dane_set_add(s, rd, n);
	n = rdata_hex(rd, 3, 1, 1, spoil(fx_self_spki_sha256));
	dane_set_add(s, rd, n);
	ok(dane_set_usable(s) == 1, "one usable of two");
	ok(dane_check(s, self, self_len, 1) == DANE_MISMATCH,
	    "unusable + non-matching usable: mismatch");
	n = rdata_hex(rd, 2, 1, 1, fx_ca_spki_sha256);
	dane_set_add(s, rd, n);
	ok(dane_check(s, chain, chain_len, 2) == DANE_TA,
	    "one of several matches (TA)");
	n = rdata_hex(rd, 3, 1, 1, fx_leaf_spki_sha256);
	dane_set_add(s, rd, n);
	ok(dane_check(s, chain, chain_len, 2) == DANE_EE,
	    "EE preferred when EE and TA both match");
	dane_set_free(s);
	ok(strcmp(dane_result_name(DANE_EE), "ee") == 0 &&
	    strcmp(dane_result_name(DANE_TA), "ta") == 0 &&
	    strcmp(dane_result_name(DANE_MISMATCH), "mismatch") == 0,
	    "names");
	return tap_done();
}
