/*
 * peercert.c - trust store and peer certificates of s2s listeners; see
 * peercert.h.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "peercert.h"

/* Identifiers of one kind kept from a certificate: more are ignored
   (public CAs issue at most 100 names per certificate). */
#define MAX_NAMES	128

/* The kinds of identifier, as stored in front of each name. */
#define KIND_DNS	'd'
#define KIND_SRV	's'
#define KIND_XMPP	'x'
#define KIND_CN		'c'

/* id-on-xmppAddr 1.3.6.1.5.5.7.8.5 and id-on-dnsSRV 1.3.6.1.5.5.7.8.7 */
#define OID_XMPPADDR	"\x2b\x06\x01\x05\x05\x07\x08\x05"
#define OID_DNSSRV	"\x2b\x06\x01\x05\x05\x07\x08\x07"

#define SAN_OTHER	(MBEDTLS_ASN1_CONTEXT_SPECIFIC | \
			    MBEDTLS_ASN1_CONSTRUCTED | 0)
#define SAN_DNS		(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)
#define SAN_URI		(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6)

struct peercert_trust {
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	int have_crl;
	size_t nca;
};

struct peercert {
	const char *problem;
	char issuer[256];
	/* Every name as its kind byte, the name and a NUL, back to back:
	   a connection keeps at most the certificate's size here. */
	char *strings;
	size_t used, size;
	size_t nuri;
	const mbedtls_x509_crt *chain;	/* the connection's, not ours */
};

/* mbedTLS's words for a file it could not read are "Read/write of file
   failed": say why, if the file cannot be opened at all. */
static void
errtext(int ret, const char *path, char *buf, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(buf, len, "cannot open: %s", strerror(errno));
		return;
	}
	fclose(f);
	mbedtls_strerror(ret, buf, len);
}

int
peercert_trust_load(const char *ca_file, const char *crl_file,
    struct peercert_trust **out, char *err, size_t errlen)
{
	struct peercert_trust *t;
	char why[128];
	int ret;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory loading the s2s trust "
		    "store; try again");
		return -1;
	}
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crl_init(&t->crl);
	/* A positive result counts certificates that could not be parsed
	   (algorithms mbedTLS lacks): the bundle is used without them. */
	ret = mbedtls_x509_crt_parse_file(&t->ca, ca_file);
	for (const mbedtls_x509_crt *c = &t->ca; c != NULL && c->version != 0;
	    c = c->next)
		t->nca++;
	if (ret < 0 || t->nca == 0) {
		if (ret < 0)
			errtext(ret, ca_file, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "no certificate in it");
		snprintf(err, errlen, "s2s_ca_file %s: %s; name a PEM file of "
		    "CA certificates (install ca-certificates for %s), or set "
		    "s2s_verify = off", ca_file, why, PEERCERT_SYSTEM_CA_FILE);
		goto fail;
	}
	if (crl_file != NULL) {
		if ((ret = mbedtls_x509_crl_parse_file(&t->crl, crl_file)) != 0) {
			errtext(ret, crl_file, why, sizeof(why));
			snprintf(err, errlen, "s2s_crl_file %s: %s; name a file "
			    "of CRLs (PEM, concatenated) from the CAs in "
			    "s2s_ca_file", crl_file, why);
			goto fail;
		}
		t->have_crl = 1;
	}
	*out = t;
	return 0;
fail:
	peercert_trust_free(t);
	return -1;
}

void
peercert_trust_free(struct peercert_trust *t)
{
	if (t == NULL)
		return;
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crl_free(&t->crl);
	free(t);
}

size_t
peercert_trust_count(const struct peercert_trust *t)
{
	return t == NULL ? 0 : t->nca;
}

void
peercert_conf(struct mbedtls_ssl_config *conf)
{
	mbedtls_ssl_conf_cert_req_ca_list(conf,
	    MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
}

void
peercert_conf_client(const struct peercert_trust *t,
    struct mbedtls_ssl_config *conf)
{
	mbedtls_ssl_conf_ca_chain(conf, (mbedtls_x509_crt *)&t->ca,
	    t->have_crl ? (mbedtls_x509_crl *)&t->crl : NULL);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
}

void
peercert_request(const struct peercert_trust *t,
    struct mbedtls_ssl_context *ssl)
{
	/* mbedTLS takes non-const chains but only reads them. */
	mbedtls_ssl_set_hs_ca_chain(ssl, (mbedtls_x509_crt *)&t->ca,
	    t->have_crl ? (mbedtls_x509_crl *)&t->crl : NULL);
	mbedtls_ssl_set_hs_authmode(ssl, MBEDTLS_SSL_VERIFY_OPTIONAL);
}

/* Keep a copy of len bytes as a string; NULL if it holds a NUL (a name
   that would read as another) or is empty.  Every name is a part of the
   certificate, so strings (sized at examine) always has room. */
static void
keep(struct peercert *pc, char kind, const unsigned char *p, size_t len)
{
	char *s;

	if (len == 0 || memchr(p, '\0', len) != NULL ||
	    pc->used + len + 2 > pc->size)
		return;
	s = pc->strings + pc->used;
	s[0] = kind;
	memcpy(s + 1, p, len);
	s[len + 1] = '\0';
	pc->used += len + 2;
}

/* otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }: the
   XmppAddr (UTF8String) and SRVName (IA5String) ones. */
static void
other_name(struct peercert *pc, const mbedtls_x509_buf *san)
{
	unsigned char *p = san->p, *end = san->p + san->len;
	mbedtls_x509_buf oid;
	size_t len;

	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OID) != 0)
		return;
	oid.tag = MBEDTLS_ASN1_OID;
	oid.p = p;
	oid.len = len;
	p += len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
	    MBEDTLS_ASN1_CONSTRUCTED | 0) != 0)
		return;
	end = p + len;
	if (MBEDTLS_OID_CMP(OID_XMPPADDR, &oid) == 0) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_UTF8_STRING) == 0)
			keep(pc, KIND_XMPP, p, len);
	} else if (MBEDTLS_OID_CMP(OID_DNSSRV, &oid) == 0) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_IA5_STRING) == 0)
			keep(pc, KIND_SRV, p, len);
	}
}

static void
collect_names(struct peercert *pc, const mbedtls_x509_crt *leaf)
{
	const mbedtls_x509_sequence *san;
	const mbedtls_x509_name *n;

	for (san = &leaf->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.p == NULL)
			continue;
		switch (san->buf.tag) {
		case SAN_DNS:
			keep(pc, KIND_DNS, san->buf.p, san->buf.len);
			break;
		case SAN_URI:
			pc->nuri++;
			break;
		case SAN_OTHER:
			other_name(pc, &san->buf);
			break;
		}
	}
	for (n = &leaf->subject; n != NULL; n = n->next)
		if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN,
		    &n->oid) == 0)
			keep(pc, KIND_CN, n->val.p, n->val.len);
}

/* The one word for what is wrong with a chain mbedTLS checked. */
static const char *
problem(const mbedtls_x509_crt *leaf, uint32_t flags)
{
	if (leaf == NULL || (flags & (MBEDTLS_X509_BADCERT_MISSING |
	    MBEDTLS_X509_BADCERT_SKIP_VERIFY)))
		return "no-certificate";
	if (flags & MBEDTLS_X509_BADCERT_REVOKED)
		return "revoked";
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return leaf->issuer_raw.len == leaf->subject_raw.len &&
		    memcmp(leaf->issuer_raw.p, leaf->subject_raw.p,
		    leaf->issuer_raw.len) == 0 ? "self-signed" : "unknown-ca";
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		return "expired";
	if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		return "not-yet-valid";
	if (flags & (MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE))
		return "crl-expired";
	if (flags & (MBEDTLS_X509_BADCRL_NOT_TRUSTED |
	    MBEDTLS_X509_BADCRL_BAD_MD | MBEDTLS_X509_BADCRL_BAD_PK |
	    MBEDTLS_X509_BADCRL_BAD_KEY))
		return "bad-crl";
	if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
	    MBEDTLS_X509_BADCERT_BAD_KEY))
		return "weak-key";
	/* mbedTLS wants clientAuth in an EKU (and nsCertType) of a client
	   certificate; a server's serverAuth certificate is what XMPP peers
	   present, so that is checked here instead. */
	if ((flags & (MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
	    MBEDTLS_X509_BADCERT_NS_CERT_TYPE)) &&
	    mbedtls_x509_crt_check_extended_key_usage(leaf,
	    MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0 &&
	    mbedtls_x509_crt_check_extended_key_usage(leaf,
	    MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0)
		return "bad-key-usage";
	if (flags & MBEDTLS_X509_BADCERT_KEY_USAGE)
		return "bad-key-usage";
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
	    MBEDTLS_X509_BADCERT_NS_CERT_TYPE | MBEDTLS_X509_BADCERT_CN_MISMATCH);
	return flags ? "invalid-certificate" : NULL;
}

struct peercert *
peercert_examine(const struct mbedtls_ssl_context *ssl)
{
	const mbedtls_x509_crt *leaf = mbedtls_ssl_get_peer_cert(ssl);
	struct peercert *pc;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	pc->problem = problem(leaf, mbedtls_ssl_get_verify_result(ssl));
	strcpy(pc->issuer, "-");
	pc->chain = leaf;
	if (leaf == NULL)
		return pc;
	if (mbedtls_x509_dn_gets(pc->issuer, sizeof(pc->issuer),
	    &leaf->issuer) < 0)
		strcpy(pc->issuer, "?");
	/* Each name is a part of the DER behind a header of two bytes or
	   more, and is kept with two (kind, NUL): the DER's size bounds all. */
	pc->size = leaf->raw.len + 2;
	if ((pc->strings = malloc(pc->size)) == NULL) {
		free(pc);
		return NULL;
	}
	collect_names(pc, leaf);
	return pc;
}

void
peercert_free(struct peercert *pc)
{
	if (pc == NULL)
		return;
	free(pc->strings);
	free(pc);
}

size_t
peercert_chain(const struct peercert *pc, const unsigned char **der,
    size_t *len, size_t max)
{
	const mbedtls_x509_crt *c;
	size_t n = 0;

	for (c = pc->chain; c != NULL && c->raw.len > 0 && n < max;
	    c = c->next, n++) {
		der[n] = c->raw.p;
		len[n] = c->raw.len;
	}
	return n;
}

const char *
peercert_problem(const struct peercert *pc)
{
	return pc->problem;
}

const char *
peercert_issuer(const struct peercert *pc)
{
	return pc->issuer;
}

enum certname_match
peercert_match(const struct peercert *pc, const char *domain)
{
	const char *dns[MAX_NAMES], *srv[MAX_NAMES], *xmpp[MAX_NAMES];
	const char *cn[MAX_NAMES];
	struct certname_ids ids = { .dns = dns, .srv = srv, .xmpp = xmpp,
	    .cn = cn, .nuri = pc->nuri };
	size_t off, len;

	for (off = 0; off < pc->used; off += len + 2) {
		const char *name = pc->strings + off + 1;

		len = strlen(name);
		switch (pc->strings[off]) {
		case KIND_DNS:
			if (ids.ndns < MAX_NAMES)
				dns[ids.ndns++] = name;
			break;
		case KIND_SRV:
			if (ids.nsrv < MAX_NAMES)
				srv[ids.nsrv++] = name;
			break;
		case KIND_XMPP:
			if (ids.nxmpp < MAX_NAMES)
				xmpp[ids.nxmpp++] = name;
			break;
		case KIND_CN:
			if (ids.ncn < MAX_NAMES)
				cn[ids.ncn++] = name;
			break;
		}
	}
	return certname_match(&ids, domain);
}
