/*
 * tls.c - mbedTLS server side with a fixed, strong policy; see tls.h.
 *
 * Debian's mbedTLS 2.28 is built with TLS 1.0/1.1, CBC, static RSA,
 * renegotiation and weak curves compiled in, and 3.6 keeps some of them
 * (CBC, static RSA, pure-PSK TLS 1.3), so every restriction is made here
 * at run time, for every domain's configuration alike.  One source builds
 * against both: 2.28 serves TLS 1.2, 3.6 TLS 1.2 and 1.3.
 */
#include "autoconf.h"

/* 3.x: the type of the last handshake message (KeyUpdate) after a read
   error is only in a private field. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS 1

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <psa/crypto.h>
#else
#include <mbedtls/ecp.h>
#include <mbedtls/ssl_internal.h>	/* the handshake's group (2.28) */
#endif

#include "peercert.h"
#include "s2speer.h"
#include "ticket.h"
#include "tls.h"
#include "vhost.h"

#if MBEDTLS_VERSION_MAJOR >= 3
#define MBEDTLS3 1
#endif

#define MAX_SUITES	16

#define ALERT_NO_APPLICATION_PROTOCOL	120	/* RFC 7301 */
#define HS_KEY_UPDATE	24	/* RFC 8446 4.6.3 */

#if defined(MBEDTLS3) && defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLS13 1
#endif

struct tls_domain {
	char *name;
	mbedtls_x509_crt chain;
	mbedtls_pk_context key;
	mbedtls_ssl_config conf;	/* STARTTLS: no ALPN */
	mbedtls_ssl_config conf_c2s;	/* direct TLS, ALPN xmpp-client */
	mbedtls_ssl_config conf_s2s;	/* direct TLS, ALPN xmpp-server */
	/* Client side, outgoing s2s (only with a trust store): after
	   <starttls/>, and direct TLS with ALPN xmpp-server. */
	mbedtls_ssl_config conf_out;
	mbedtls_ssl_config conf_out_direct;
	int has_out;
	struct tls_domain *next;
};

struct tls_ctx {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int suites[MAX_SUITES];
	int sni_strict;
	struct tls_domain *domains;
	struct ticket *tickets;	/* NULL: session_tickets = no */
	struct peercert_trust *trust;	/* s2s peers; NULL: none verified */
};

enum tls_refusal {
	REFUSAL_NONE,
	REFUSAL_SNI_MISMATCH,	/* SNI names another served domain */
	REFUSAL_UNKNOWN_SNI,	/* SNI names no served domain; sni_strict */
};

struct tls_conn {
	mbedtls_ssl_context ssl;	/* first: the SNI callback finds us */
	struct tls_ctx *ctx;
	const struct config_listener *l;	/* NULL on a client */
	const char *domain;	/* served domain, NULL while unknown */
	char fixed[256];	/* the pre-TLS domain; "" on direct TLS */
	char sni[256];		/* as sent, "" if none */
	int has_sni;
	enum tls_refusal refusal;
	int alert;		/* fatal alert we sent, -1 if none */
	int fd;
	int last_error;
	unsigned long long bytes_in, bytes_out;
	unsigned char *ra;	/* read ahead, not yet given to mbedTLS */
	size_t ra_off, ra_len;
	int drained;		/* the last recv() emptied the socket */
	int keyupdate;		/* the peer sent a TLS 1.3 KeyUpdate */
	int hello_failed;	/* the handshake failed on the ClientHello */
	int peer_alert;		/* plaintext alert the peer sent, -1 if none */
	int alert_hdr;		/* mbedTLS just read an alert record header */
	int resumed;		/* a session ticket was accepted */
	const char *group;	/* key exchange group, NULL if unknown */
};

/* ALPN (XEP-0368): one protocol per listener kind. */
static const char *alpn_c2s[] = { "xmpp-client", NULL };
static const char *alpn_s2s[] = { "xmpp-server", NULL };

/*
 * mbedTLS 2.28 asks the socket for a record's 5-byte header, then for its
 * body, then finds the socket empty: three recv() calls per record.  One
 * recv() into this buffer serves many records instead; what mbedTLS did
 * not ask for yet is kept per connection only until it is consumed, so an
 * idle connection holds nothing here.
 */
#define READ_AHEAD	32768
static _Thread_local unsigned char read_ahead[READ_AHEAD];

/*
 * Curves: X25519 first (mbedTLS computes it fastest), then the NIST
 * curves clients commonly offer.  Signature hashes: SHA-2 only.
 */
#ifndef MBEDTLS3
static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE,
};
static const int sig_hashes[] = {
	MBEDTLS_MD_SHA512, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA256,
	MBEDTLS_MD_NONE,
};
#else
/* A TLS 1.3 client whose key share is another of these groups is sent a
   HelloRetryRequest naming the one it offered that we accept. */
static const uint16_t groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};
/* Signatures (TLS 1.2 ServerKeyExchange, TLS 1.3 CertificateVerify):
   ECDSA and RSA-PSS with SHA-2; PKCS#1 v1.5 only for TLS 1.2 with an RSA
   certificate (mbedTLS never uses it in 1.3); never SHA-1. */
static const uint16_t sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE,
};
#endif

/* The two ECDHE suites (ECDSA and RSA certificates) of each AEAD. */
static void
add_suites(struct tls_ctx *ctx, const struct config_tls *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->nciphers; i++) {
		switch (t->ciphers[i]) {
		case TLS_CIPHER_AES128_GCM:
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
			ctx->suites[n++] = MBEDTLS_TLS1_3_AES_128_GCM_SHA256;
#endif
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
			break;
		case TLS_CIPHER_AES256_GCM:
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
			ctx->suites[n++] = MBEDTLS_TLS1_3_AES_256_GCM_SHA384;
#endif
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384;
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384;
			break;
		case TLS_CIPHER_CHACHA20_POLY1305:
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
			ctx->suites[n++] =
			    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256;
#endif
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
			ctx->suites[n++] =
			    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256;
			break;
		}
	}
	ctx->suites[n] = 0;
}

static void
errtext(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
}

/* Load and check one domain's certificate chain and key. */
static int
load_domain(struct tls_ctx *ctx, struct tls_domain *d, const char *crt_path,
    const char *key_path, char *err, size_t errlen)
{
	char e[160];
	size_t bits;
	int ret;

#ifndef MBEDTLS3
	(void)ctx;	/* 3.x needs the DRBG to parse and check keys */
#endif
	if ((ret = mbedtls_x509_crt_parse_file(&d->chain, crt_path)) != 0) {
		errtext(ret, e, sizeof(e));
		snprintf(err, errlen, "domain %s: cannot load certificate %s: "
		    "%s; it must be a PEM chain, leaf first", d->name,
		    crt_path, e);
		return -1;
	}
#ifdef MBEDTLS3
	ret = mbedtls_pk_parse_keyfile(&d->key, key_path, NULL,
	    mbedtls_ctr_drbg_random, &ctx->drbg);
#else
	ret = mbedtls_pk_parse_keyfile(&d->key, key_path, NULL);
#endif
	if (ret != 0) {
		errtext(ret, e, sizeof(e));
		snprintf(err, errlen, "domain %s: cannot load key %s: %s; it "
		    "must be an unencrypted PEM key readable at start",
		    d->name, key_path, e);
		return -1;
	}
#ifdef MBEDTLS3
	ret = mbedtls_pk_check_pair(&d->chain.pk, &d->key,
	    mbedtls_ctr_drbg_random, &ctx->drbg);
#else
	ret = mbedtls_pk_check_pair(&d->chain.pk, &d->key);
#endif
	if (ret != 0) {
		snprintf(err, errlen, "domain %s: key %s does not match "
		    "certificate %s; give the key the certificate was issued "
		    "for", d->name, key_path, crt_path);
		return -1;
	}
	/* The Certificate message is sent in one record: it must fit the
	   library's output buffer (8 KiB in the build install-deps.sh
	   makes).  Say so now rather than fail every handshake. */
	{
		const mbedtls_x509_crt *x;
		size_t total = 16, n = 0;

		for (x = &d->chain; x != NULL && x->raw.len > 0; x = x->next) {
			total += x->raw.len + 5;
			n++;
		}
		if (total > MBEDTLS_SSL_OUT_CONTENT_LEN - 256) {
			snprintf(err, errlen, "domain %s: certificate chain %s "
			    "(%zu certificates, %zu bytes) is too large for "
			    "this mbedTLS build (handshake messages up to %d "
			    "bytes); leave the root and cross-signed "
			    "certificates out of the file", d->name, crt_path,
			    n, total, MBEDTLS_SSL_OUT_CONTENT_LEN - 256);
			return -1;
		}
	}
	bits = mbedtls_pk_get_bitlen(&d->key);
	if (mbedtls_pk_can_do(&d->key, MBEDTLS_PK_RSA) && bits < 2048) {
		snprintf(err, errlen, "domain %s: RSA key %s has %zu bits; "
		    "use at least 2048", d->name, key_path, bits);
		return -1;
	}
	return 0;
}

static int
setup_conf(struct tls_ctx *ctx, const struct config *cfg,
    struct tls_domain *d, mbedtls_ssl_config *conf, int endpoint, char *err,
    size_t errlen)
{
	char e[160];
	int ret;

	ret = mbedtls_ssl_config_defaults(conf, endpoint,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0)
		goto fail;
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &ctx->drbg);
#ifdef MBEDTLS3
	mbedtls_ssl_conf_min_tls_version(conf,
	    cfg->tls.min_version == TLS_VERSION_1_3 ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#ifdef TLS13
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	/* Resumption only with a fresh (EC)DHE share: psk_dhe_ke, never
	   psk_ke, which would give up forward secrecy. */
	mbedtls_ssl_conf_tls13_key_exchange_modes(conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
#ifdef MBEDTLS_SSL_EARLY_DATA
	/* 0-RTT: mbedTLS has no anti-replay; never accept early data. */
	mbedtls_ssl_conf_early_data(conf, MBEDTLS_SSL_EARLY_DATA_DISABLED);
#endif
#else
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
	mbedtls_ssl_conf_groups(conf, groups);
	mbedtls_ssl_conf_sig_algs(conf, sig_algs);
#else
	(void)cfg;
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_curves(conf, curves);
	mbedtls_ssl_conf_sig_hashes(conf, sig_hashes);
#endif
	mbedtls_ssl_conf_ciphersuites(conf, ctx->suites);
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
	peercert_conf(conf);	/* s2s connections ask per handshake */
	/* A client presents it when asked: our domain's, for outgoing s2s. */
	if ((ret = mbedtls_ssl_conf_own_cert(conf, &d->chain, &d->key)) != 0)
		goto fail;
	if (endpoint == MBEDTLS_SSL_IS_CLIENT)
		peercert_conf_client(ctx->trust, conf);
	else if (ctx->tickets != NULL)
		ticket_conf(ctx->tickets, conf);
	return 0;
fail:
	errtext(ret, e, sizeof(e));
	snprintf(err, errlen, "domain %s: TLS setup failed: %s", d->name, e);
	return -1;
}

static struct tls_domain *
find_domain(struct tls_ctx *ctx, const char *name)
{
	struct tls_domain *d;

	for (d = ctx->domains; d != NULL; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

/*
 * SNI (RFC 6066) chooses the certificate among the listener's domains,
 * within the rules of vhost_sni().  Returning non-zero makes mbedTLS
 * send an unrecognized_name alert and fail the handshake.
 */
static int
on_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	struct tls_conn *c = (struct tls_conn *)(void *)((char *)ssl -
	    offsetof(struct tls_conn, ssl));
	struct tls_domain *d;
	const char *dom;
	size_t i, n = len < sizeof(c->sni) ? len : sizeof(c->sni) - 1;

	(void)arg;
	for (i = 0; i < n; i++)
		c->sni[i] = name[i] != '\0' ? (char)name[i] : '?';
	c->sni[n] = '\0';
	c->has_sni = 1;
	switch (vhost_sni(c->l, c->fixed[0] ? c->fixed : NULL,
	    c->ctx->sni_strict, (const char *)name, len, &dom)) {
	case VHOST_SNI_MATCH:
		if ((d = find_domain(c->ctx, dom)) == NULL ||
		    mbedtls_ssl_set_hs_own_cert(ssl, &d->chain, &d->key) != 0)
			return -1;
		c->domain = dom;
		return 0;
	case VHOST_SNI_UNKNOWN:
		return 0;	/* the default certificate */
	case VHOST_SNI_REFUSE:
		c->refusal = REFUSAL_UNKNOWN_SNI;
		return -1;
	case VHOST_SNI_MISMATCH:
		c->refusal = REFUSAL_SNI_MISMATCH;
		return -1;
	}
	return -1;
}

/* The three configurations of a domain: STARTTLS, direct c2s, direct
   s2s; the same policy, certificate and SNI rules, different ALPN. */
static int
setup_domain(struct tls_ctx *ctx, const struct config *cfg,
    struct tls_domain *d, char *err, size_t errlen)
{
	if (setup_conf(ctx, cfg, d, &d->conf, MBEDTLS_SSL_IS_SERVER, err,
	    errlen) == -1 ||
	    setup_conf(ctx, cfg, d, &d->conf_c2s, MBEDTLS_SSL_IS_SERVER, err,
	    errlen) == -1 ||
	    setup_conf(ctx, cfg, d, &d->conf_s2s, MBEDTLS_SSL_IS_SERVER, err,
	    errlen) == -1)
		return -1;
	if (ctx->trust != NULL) {
		if (setup_conf(ctx, cfg, d, &d->conf_out, MBEDTLS_SSL_IS_CLIENT,
		    err, errlen) == -1 ||
		    setup_conf(ctx, cfg, d, &d->conf_out_direct,
		    MBEDTLS_SSL_IS_CLIENT, err, errlen) == -1)
			return -1;
		if (mbedtls_ssl_conf_alpn_protocols(&d->conf_out_direct,
		    alpn_s2s) != 0) {
			snprintf(err, errlen, "domain %s: TLS setup failed: "
			    "ALPN", d->name);
			return -1;
		}
		d->has_out = 1;
	}
	if (mbedtls_ssl_conf_alpn_protocols(&d->conf_c2s, alpn_c2s) != 0 ||
	    mbedtls_ssl_conf_alpn_protocols(&d->conf_s2s, alpn_s2s) != 0) {
		snprintf(err, errlen, "domain %s: TLS setup failed: ALPN",
		    d->name);
		return -1;
	}
	mbedtls_ssl_conf_sni(&d->conf, on_sni, ctx);
	mbedtls_ssl_conf_sni(&d->conf_c2s, on_sni, ctx);
	mbedtls_ssl_conf_sni(&d->conf_s2s, on_sni, ctx);
	return 0;
}

struct tls_ctx *
tls_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	static const char pers[] = "xmppshield";
	const struct config_domain *cd;
	struct tls_ctx *ctx;
	char e[160];
	int ret;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mbedtls_entropy_init(&ctx->entropy);
	mbedtls_ctr_drbg_init(&ctx->drbg);
#ifdef MBEDTLS3
	/* TLS 1.3 (and 3.x's record protection) runs on PSA crypto. */
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(err, errlen, "cannot initialise PSA crypto (mbedTLS "
		    "3): is /dev/urandom readable?");
		goto fail;
	}
#endif
	ret = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func,
	    &ctx->entropy, (const unsigned char *)pers, sizeof(pers) - 1);
	if (ret != 0) {
		errtext(ret, e, sizeof(e));
		snprintf(err, errlen, "cannot seed the random generator: %s", e);
		goto fail;
	}
	add_suites(ctx, &cfg->tls);
	ctx->sni_strict = cfg->tls.sni_strict;
	if (cfg->tls.session_tickets &&
	    (ctx->tickets = ticket_new(&cfg->tls, mbedtls_ctr_drbg_random,
	    &ctx->drbg, err, errlen)) == NULL)
		goto fail;
	if (s2speer_any(cfg) && peercert_trust_load(cfg->tls.s2s_ca_file,
	    cfg->tls.s2s_crl_file, &ctx->trust, err, errlen) == -1)
		goto fail;
	for (cd = cfg->domains; cd != NULL; cd = cd->next) {
		struct tls_domain *d = calloc(1, sizeof(*d));
		const char *crt = cd->certificate ? cd->certificate :
		    cfg->tls.certificate;
		const char *key = cd->key ? cd->key : cfg->tls.key;

		if (d == NULL || (d->name = strdup(cd->name)) == NULL) {
			free(d);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		mbedtls_x509_crt_init(&d->chain);
		mbedtls_pk_init(&d->key);
		mbedtls_ssl_config_init(&d->conf);
		mbedtls_ssl_config_init(&d->conf_c2s);
		mbedtls_ssl_config_init(&d->conf_s2s);
		mbedtls_ssl_config_init(&d->conf_out);
		mbedtls_ssl_config_init(&d->conf_out_direct);
		d->next = ctx->domains;
		ctx->domains = d;
		if (crt == NULL || key == NULL) {
			snprintf(err, errlen, "domain %s has no certificate; set "
			    "certificate and key in [tls] or [domain %s]",
			    cd->name, cd->name);
			goto fail;
		}
		if (load_domain(ctx, d, crt, key, err, errlen) == -1 ||
		    setup_domain(ctx, cfg, d, err, errlen) == -1)
			goto fail;
	}
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	struct tls_domain *d, *next;

	if (ctx == NULL)
		return;
	for (d = ctx->domains; d != NULL; d = next) {
		next = d->next;
		mbedtls_ssl_config_free(&d->conf);
		mbedtls_ssl_config_free(&d->conf_c2s);
		mbedtls_ssl_config_free(&d->conf_s2s);
		mbedtls_ssl_config_free(&d->conf_out);
		mbedtls_ssl_config_free(&d->conf_out_direct);
		mbedtls_x509_crt_free(&d->chain);
		mbedtls_pk_free(&d->key);
		free(d->name);
		free(d);
	}
	ticket_free(ctx->tickets);
	peercert_trust_free(ctx->trust);
	mbedtls_ctr_drbg_free(&ctx->drbg);
	mbedtls_entropy_free(&ctx->entropy);
	free(ctx);
}

int
tls_ctx_reseed(struct tls_ctx *ctx)
{
	static const char pers[] = "xmppshield-fork";

	if (mbedtls_ctr_drbg_reseed(&ctx->drbg, (const unsigned char *)pers,
	    sizeof(pers) - 1) != 0)
		return -1;
#ifdef MBEDTLS3
	/* PSA keeps a random generator of its own, which draws the TLS 1.3
	   key shares: a fork duplicates it (CVE-2026-25835). */
#ifdef HAVE_PSA_RANDOM_RESEED
	if (psa_random_reseed((const uint8_t *)pers, sizeof(pers) - 1) !=
	    PSA_SUCCESS)
		return -1;
#else
	/* Before 3.6.6: start PSA afresh; right after fork() it holds no
	   key (nothing is served yet). */
	mbedtls_psa_crypto_free();
	if (psa_crypto_init() != PSA_SUCCESS)
		return -1;
#endif
#endif
	return 0;
}

int
tls_random(struct tls_ctx *ctx, void *buf, size_t n)
{
	return mbedtls_ctr_drbg_random(&ctx->drbg, buf, n) == 0 ? 0 : -1;
}

/* Socket callbacks: non-blocking, never SIGPIPE, counting bytes. */
static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	ssize_t n;

	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	/* mbedTLS reports a refused ALPN like any bad ClientHello; only
	   the (still unencrypted) fatal alert it sends tells them apart. */
	if (len >= 7 && buf[0] == MBEDTLS_SSL_MSG_ALERT && buf[3] == 0 &&
	    buf[4] == 2 && buf[5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL)
		c->alert = buf[6];
	c->bytes_out += (unsigned long long)n;
	return (int)n;
}

/* Give mbedTLS up to len bytes kept from an earlier recv(). */
static int
ra_take(struct tls_conn *c, unsigned char *buf, size_t len)
{
	size_t n = len < c->ra_len ? len : c->ra_len;

	memcpy(buf, c->ra + c->ra_off, n);
	c->ra_off += n;
	c->ra_len -= n;
	if (c->ra_len == 0) {
		free(c->ra);
		c->ra = NULL;
		c->ra_off = 0;
	}
	return (int)n;
}

/*
 * A TLS 1.3 client that rejects our certificate sends its alert in
 * plaintext (it has not switched to its handshake keys yet), which
 * mbedTLS, expecting an encrypted record, reports as a bad record.  Note
 * the alert as mbedTLS reads it (a 5-byte header, then the body) so that
 * the failure is logged as what it is: reason=peer-alert.
 */
static int
note_alert(struct tls_conn *c, const unsigned char *buf, int n)
{
	if (c->alert_hdr && n == 2)
		c->peer_alert = buf[1];
	c->alert_hdr = n == 5 && buf[0] == MBEDTLS_SSL_MSG_ALERT &&
	    buf[3] == 0 && buf[4] == 2;
	return n;
}

static int
bio_recv_raw(struct tls_conn *c, unsigned char *buf, size_t len);

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	int n = bio_recv_raw(c, buf, len);

	return n > 0 ? note_alert(c, buf, n) : n;
}

static int
bio_recv_raw(struct tls_conn *c, unsigned char *buf, size_t len)
{
	unsigned char *dst = len >= READ_AHEAD ? buf : read_ahead;
	size_t cap = len >= READ_AHEAD ? len : READ_AHEAD;
	ssize_t n;

	if (c->ra_len > 0)
		return ra_take(c, buf, len);
	/* Nothing came since the socket was found empty: the event loop
	   (level-triggered) calls tls_readable() when something does. */
	if (c->drained)
		return MBEDTLS_ERR_SSL_WANT_READ;
	do
		n = recv(c->fd, dst, cap, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->drained = 1;
			return MBEDTLS_ERR_SSL_WANT_READ;
		}
		if (errno == ECONNRESET)
			return MBEDTLS_ERR_NET_CONN_RESET;
		return MBEDTLS_ERR_NET_RECV_FAILED;
	}
	c->bytes_in += (unsigned long long)n;
	if ((size_t)n < cap && n > 0)
		c->drained = 1;
	if (dst == buf || (size_t)n <= len) {
		if (dst != buf)
			memcpy(buf, dst, (size_t)n);
		return (int)n;
	}
	/* More than mbedTLS asked for: keep the rest. */
	if ((c->ra = malloc((size_t)n - len)) == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	memcpy(buf, dst, len);
	c->ra_len = (size_t)n - len;
	c->ra_off = 0;
	memcpy(c->ra, dst + len, c->ra_len);
	return (int)len;
}

void
tls_readable(struct tls_conn *c)
{
	c->drained = 0;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, const struct config_listener *l,
    const char *domain, int fd)
{
	const char *def = vhost_default(l, domain);
	mbedtls_ssl_config *conf;
	struct tls_domain *d;
	struct tls_conn *c;

	if (def == NULL || (d = find_domain(ctx, def)) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (l->tls == LISTENER_TLS_STARTTLS)
		conf = &d->conf;
	else
		conf = l->kind == LISTENER_S2S ? &d->conf_s2s : &d->conf_c2s;
	c->ctx = ctx;
	c->l = l;
	c->alert = -1;
	c->peer_alert = -1;
	if (domain != NULL) {
		snprintf(c->fixed, sizeof(c->fixed), "%s", domain);
		c->domain = d->name;	/* lives as long as ctx */
	}
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	c->fd = fd;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	if (tls_peer_asked(c))
		peercert_request(ctx->trust, &c->ssl);
	return c;
}

struct tls_conn *
tls_client_new(struct tls_ctx *ctx, const char *domain, const char *remote,
    int direct, int fd)
{
	struct tls_domain *d;
	struct tls_conn *c;

	if ((d = find_domain(ctx, domain)) == NULL || !d->has_out ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ctx = ctx;
	c->alert = -1;
	c->domain = d->name;
	snprintf(c->sni, sizeof(c->sni), "%s", remote);
	c->has_sni = 1;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, direct ? &d->conf_out_direct :
	    &d->conf_out) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, remote) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	c->fd = fd;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_free(&c->ssl);
	free(c->ra);
	free(c);
}

static enum tls_io
map_result(struct tls_conn *c, int ret)
{
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_IO_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case 0:
		return TLS_IO_EOF;
	}
	c->last_error = ret;
	/* A reset is how a TLS 1.3 client that closes without reading our
	   NewSessionTicket ends (unread data: RST): an end, not an error. */
	if (ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_NET_CONN_RESET)
		return TLS_IO_EOF;
	return TLS_IO_ERROR;
}

/*
 * mbedtls_ssl_handshake(), one step at a time on mbedTLS 2.28, so that
 * the key exchange group is read before the last step frees the
 * handshake state.  mbedTLS 3 keeps that state private: group unknown.
 */
static int
handshake_steps(struct tls_conn *c)
{
#ifdef MBEDTLS3
	return mbedtls_ssl_handshake(&c->ssl);
#else
	const mbedtls_ecp_curve_info *ci;
	int ret = 0;

	while (c->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
		/* A resumed TLS 1.2 session exchanges no key. */
		if (c->ssl.state == MBEDTLS_SSL_HANDSHAKE_WRAPUP &&
		    c->ssl.handshake != NULL && c->ssl.handshake->resume)
			c->group = "none";
		else if (c->ssl.state == MBEDTLS_SSL_HANDSHAKE_WRAPUP &&
		    c->ssl.handshake != NULL && (ci =
		    mbedtls_ecp_curve_info_from_grp_id(
#ifdef MBEDTLS_ECDH_LEGACY_CONTEXT
		    c->ssl.handshake->ecdh_ctx.grp.id
#else
		    c->ssl.handshake->ecdh_ctx.grp_id
#endif
		    )) != NULL)
			c->group = ci->name;
		if ((ret = mbedtls_ssl_handshake_step(&c->ssl)) != 0)
			break;
	}
	return ret;
#endif
}

enum tls_io
tls_handshake(struct tls_conn *c)
{
	unsigned long tickets = ticket_accepted(c->ctx->tickets);
	int ret = handshake_steps(c);

	c->resumed |= ticket_accepted(c->ctx->tickets) != tickets;

#ifdef MBEDTLS3
	/* Still at the ClientHello: it was refused. */
	c->hello_failed = c->ssl.state == MBEDTLS_SSL_CLIENT_HELLO;
#endif

	if (ret == 0)
		return TLS_IO_OK;
	if (ret == MBEDTLS_ERR_SSL_CONN_EOF ||
	    ret == MBEDTLS_ERR_NET_CONN_RESET) {
		/* A handshake cut short is a failure, not a clean end. */
		c->last_error = ret;
		return TLS_IO_ERROR;
	}
	return map_result(c, ret);
}

enum tls_io
tls_read(struct tls_conn *c, void *buf, size_t len, size_t *n)
{
	int ret = mbedtls_ssl_read(&c->ssl, buf, len);

	if (ret > 0) {
		*n = (size_t)ret;
		return TLS_IO_OK;
	}
#ifdef TLS13
	/* mbedTLS 3.6 implements no KeyUpdate (RFC 8446 4.6.3): it refuses
	   the message as unexpected and the connection cannot go on.  Say
	   so, and tell the peer why. */
	if (ret == MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE &&
	    c->ssl.tls_version == MBEDTLS_SSL_VERSION_TLS1_3 &&
	    c->ssl.in_msgtype == MBEDTLS_SSL_MSG_HANDSHAKE &&
	    c->ssl.in_msg != NULL && c->ssl.in_msg[0] == HS_KEY_UPDATE) {
		c->keyupdate = 1;
		(void)mbedtls_ssl_send_alert_message(&c->ssl,
		    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
		    MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE);
	}
#endif
	return map_result(c, ret);
}

enum tls_io
tls_write(struct tls_conn *c, const void *buf, size_t len, size_t *n)
{
	int ret = mbedtls_ssl_write(&c->ssl, buf, len);

	if (ret > 0) {
		*n = (size_t)ret;
		return TLS_IO_OK;
	}
	if (ret == 0) {
		*n = 0;
		return TLS_IO_OK;
	}
	return map_result(c, ret);
}

void
tls_close_notify(struct tls_conn *c)
{
	(void)mbedtls_ssl_close_notify(&c->ssl);
}

int
tls_peer_asked(const struct tls_conn *c)
{
	return c->ctx->trust != NULL &&
	    (c->l == NULL || c->l->kind == LISTENER_S2S);
}

struct peercert *
tls_peer_certificate(const struct tls_conn *c)
{
	return peercert_examine(&c->ssl);
}

const char *
tls_version(const struct tls_conn *c)
{
	return mbedtls_ssl_get_version(&c->ssl);
}

const char *
tls_cipher(const struct tls_conn *c)
{
	const char *name = mbedtls_ssl_get_ciphersuite(&c->ssl);

	/* mbedTLS writes the TLS 1.3 suites "TLS1-3-AES-128-GCM-SHA256":
	   log them by their RFC 8446 names, as clients and testssl.sh do. */
	if (name != NULL && strncmp(name, "TLS1-3-", 7) == 0) {
		if (strcmp(name + 7, "AES-128-GCM-SHA256") == 0)
			return "TLS_AES_128_GCM_SHA256";
		if (strcmp(name + 7, "AES-256-GCM-SHA384") == 0)
			return "TLS_AES_256_GCM_SHA384";
		if (strcmp(name + 7, "CHACHA20-POLY1305-SHA256") == 0)
			return "TLS_CHACHA20_POLY1305_SHA256";
	}
	return name;
}

const char *
tls_domain(const struct tls_conn *c)
{
	return c->domain;
}

const char *
tls_sni(const struct tls_conn *c)
{
	return c->has_sni ? c->sni : NULL;
}

const char *
tls_alpn(const struct tls_conn *c)
{
	return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

int
tls_policy_refused(const struct tls_conn *c)
{
	return c->refusal == REFUSAL_SNI_MISMATCH;
}

const char *
tls_read_error_reason(const struct tls_conn *c)
{
	return c->keyupdate ? "tls-keyupdate-unsupported" : "client-tls-error";
}

const char *
tls_error_reason(const struct tls_conn *c)
{
	if (c->refusal == REFUSAL_SNI_MISMATCH)
		return "sni-mismatch";
	if (c->refusal == REFUSAL_UNKNOWN_SNI)
		return "unknown-sni";
	if (c->alert == ALERT_NO_APPLICATION_PROTOCOL)
		return "no-application-protocol";
	if (c->peer_alert >= 0)
		return "peer-alert";
#ifdef MBEDTLS3
	/* 3.x reports every "nothing in common" in the ClientHello (suite,
	   group, signature) as a handshake failure. */
	if (c->last_error == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE &&
	    c->hello_failed)
		return "no-shared-cipher";
#endif
	switch (c->last_error) {
#if defined(MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN) || \
    defined(MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE)
#ifdef MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN
	case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
#endif
#ifdef MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE
	case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
#endif
		return "no-shared-cipher";
#endif
#ifdef MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
#endif
#ifdef MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
	case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
#endif
		return "protocol-version";
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
	case MBEDTLS_ERR_SSL_INVALID_MAC:
#ifdef MBEDTLS_ERR_SSL_UNEXPECTED_RECORD
	case MBEDTLS_ERR_SSL_UNEXPECTED_RECORD:
#endif
		return "bad-record";
#ifdef MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO
	case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO:
		return "bad-client-hello";
#endif
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		return "peer-alert";
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
		return "peer-closed";
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		return "socket-error";
	}
	return "handshake-failure";
}

const char *
tls_error_detail(const struct tls_conn *c)
{
	static char buf[160];

	mbedtls_strerror(c->last_error, buf, sizeof(buf));
	return buf;
}

unsigned long long
tls_bytes_in(const struct tls_conn *c)
{
	return c->bytes_in;
}

unsigned long long
tls_bytes_out(const struct tls_conn *c)
{
	return c->bytes_out;
}

const char *
tls_library(void)
{
	static char v[18];

	mbedtls_version_get_string(v);
	return v;
}

int
tls_has_tls13(void)
{
#ifdef TLS13
	return 1;
#else
	return 0;
#endif
}

const char *
tls_library_version(void)
{
	static char buf[160];

	snprintf(buf, sizeof(buf), "mbedTLS %s (%s; TLS 1.2%s)",
	    tls_library(), XMPPSHIELD_MBEDTLS_BUILD,
	    tls_has_tls13() ? " and 1.3" : " only");
	return buf;
}

static time_t
x509_unix_time(const mbedtls_x509_time *t)
{
	struct tm tm = {
		.tm_year = t->year - 1900, .tm_mon = t->mon - 1,
		.tm_mday = t->day, .tm_hour = t->hour, .tm_min = t->min,
		.tm_sec = t->sec,
	};

	return timegm(&tm);
}

int
tls_ctx_certificate(const struct tls_ctx *ctx, size_t i, const char **domain,
    time_t *not_before, time_t *not_after)
{
	const struct tls_domain *d;

	for (d = ctx->domains; d != NULL && i > 0; d = d->next)
		i--;
	if (d == NULL)
		return -1;
	*domain = d->name;
	*not_before = x509_unix_time(&d->chain.valid_from);
	*not_after = x509_unix_time(&d->chain.valid_to);
	return 0;
}

const char *
tls_group(const struct tls_conn *c)
{
	return c->group;
}

int
tls_resumed(const struct tls_conn *c)
{
	return c->resumed;
}
