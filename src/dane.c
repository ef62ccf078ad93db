/*
 * dane.c - TLSA records against a presented chain; see dane.h.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "dane.h"

#define USAGE_DANE_TA	2
#define USAGE_DANE_EE	3
#define SEL_CERT	0
#define SEL_SPKI	1
#define MT_FULL		0
#define MT_SHA256	1
#define MT_SHA512	2

/* Enough for the SubjectPublicKeyInfo of an RSA key of 16384 bits. */
#define SPKI_MAX	2200

struct record {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct dane_set {
	struct record rec[DANE_MAX_RECORDS];
	size_t n;
	size_t bytes;
};

struct dane_set *
dane_set_new(void)
{
	return calloc(1, sizeof(struct dane_set));
}

void
dane_set_free(struct dane_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->rec[i].data);
	free(s);
}

int
dane_set_add(struct dane_set *s, const unsigned char *rdata, size_t len)
{
	struct record *r;
	size_t dlen;

	if (len < 4 || s->n >= DANE_MAX_RECORDS)
		return 0;
	dlen = len - 3;
	if (dlen > DANE_MAX_BYTES - s->bytes)
		return 0;
	if ((rdata[0] != USAGE_DANE_TA && rdata[0] != USAGE_DANE_EE) ||
	    (rdata[1] != SEL_CERT && rdata[1] != SEL_SPKI) ||
	    (rdata[2] == MT_SHA256 && dlen != 32) ||
	    (rdata[2] == MT_SHA512 && dlen != 64) || rdata[2] > MT_SHA512)
		return 0;
	r = &s->rec[s->n];
	if ((r->data = malloc(dlen)) == NULL)
		return -1;
	memcpy(r->data, rdata + 3, dlen);
	r->len = dlen;
	s->bytes += dlen;
	r->usage = rdata[0];
	r->selector = rdata[1];
	r->mtype = rdata[2];
	s->n++;
	return 0;
}

size_t
dane_set_usable(const struct dane_set *s)
{
	return s == NULL ? 0 : s->n;
}

const char *
dane_result_name(enum dane_result r)
{
	switch (r) {
	case DANE_NONE: return "none";
	case DANE_MISMATCH: return "mismatch";
	case DANE_EE: return "ee";
	case DANE_TA: return "ta";
	}
	return "none";
}

/* The bytes a record of this selector and matching type compares. */
static int
matches(const struct record *r, const unsigned char *sel, size_t len)
{
	unsigned char md[64];
	const mbedtls_md_info_t *info;

	switch (r->mtype) {
	case MT_FULL:
		return r->len == len && memcmp(r->data, sel, len) == 0;
	case MT_SHA256:
	case MT_SHA512:
		info = mbedtls_md_info_from_type(r->mtype == MT_SHA256 ?
		    MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA512);
		if (info == NULL || mbedtls_md(info, sel, len, md) != 0)
			return 0;
		return memcmp(md, r->data, r->len) == 0;
	}
	return 0;
}

/* One certificate against every record of usage. */
static int
cert_matches(const struct dane_set *s, uint8_t usage,
    const unsigned char *der, size_t len, mbedtls_x509_crt *crt)
{
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	int k, found = 0;

	for (size_t i = 0; i < s->n && !found; i++) {
		const struct record *r = &s->rec[i];

		if (r->usage != usage)
			continue;
		if (r->selector == SEL_CERT) {
			found = matches(r, der, len);
			continue;
		}
		if (spki == NULL) {
			if ((spki = malloc(SPKI_MAX)) == NULL)
				return 0;
			/* Written at the end of the buffer. */
			k = mbedtls_pk_write_pubkey_der(&crt->pk, spki,
			    SPKI_MAX);
			if (k <= 0) {
				free(spki);
				return 0;
			}
			spki_len = (size_t)k;
		}
		found = matches(r, spki + SPKI_MAX - spki_len, spki_len);
	}
	free(spki);
	return found;
}

enum dane_result
dane_check(const struct dane_set *s, const unsigned char *const *der,
    const size_t *len, size_t n)
{
	mbedtls_x509_crt chain, ta;
	enum dane_result res = DANE_MISMATCH;
	uint32_t flags;
	size_t i, j;

	if (s == NULL || s->n == 0)
		return DANE_NONE;
	if (n == 0)
		return DANE_MISMATCH;
	mbedtls_x509_crt_init(&chain);
	/* Parsed one by one: chain.next follows the order sent. */
	for (i = 0; i < n; i++)
		if (mbedtls_x509_crt_parse_der(&chain, der[i], len[i]) != 0)
			break;
	if (i == 0)
		goto done;
	n = i;
	if (cert_matches(s, USAGE_DANE_EE, der[0], len[0], &chain)) {
		res = DANE_EE;
		goto done;
	}
	for (i = 1; i < n && res == DANE_MISMATCH; i++) {
		mbedtls_x509_crt *c = &chain;

		for (j = 0; j < i; j++)
			c = c->next;
		if (!cert_matches(s, USAGE_DANE_TA, der[i], len[i], c))
			continue;
		/* The chain up to it, with it as the one trust anchor. */
		mbedtls_x509_crt_init(&ta);
		if (mbedtls_x509_crt_parse_der(&ta, der[i], len[i]) == 0 &&
		    mbedtls_x509_crt_verify(&chain, &ta, NULL, NULL, &flags,
		    NULL, NULL) == 0 && flags == 0)
			res = DANE_TA;
		mbedtls_x509_crt_free(&ta);
	}
done:
	mbedtls_x509_crt_free(&chain);
	return res;
}
