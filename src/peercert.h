/*
 * peercert.h - the certificates other servers present on s2s listeners.
 *
 * A peercert_trust is the trust store of one generation: the CA
 * certificates (s2s_ca_file, by default the system bundle) and optional
 * CRLs (s2s_crl_file).  During the handshake of an s2s connection the
 * server asks for the peer's certificate without requiring one (mbedTLS
 * verify mode "optional", under TLS 1.2 and 1.3 alike), and mbedTLS
 * checks the chain against the store: signatures, validity dates,
 * revocation by the CRLs, and the key size and hash rules of its default
 * profile (no SHA-1, RSA of 2048 bits or more).  The handshake never
 * fails on the certificate: what to do about it is the policy's, after
 * the handshake, once the peer has said which domain it is (s2speer.h).
 *
 * A peercert is what one peer presented, examined once after the
 * handshake: a stable word for what is wrong with the chain (or nothing),
 * the issuer, and the identifiers of the leaf for certname.h.  The
 * extended key usage is not required to say clientAuth: a server's
 * certificate for serverAuth (as public CAs issue them since 2025) or
 * without EKU is accepted, as XMPP servers do.
 *
 * With tls.c the only modules that know mbedTLS; never logs.
 */
#ifndef XMPPSHIELD_PEERCERT_H
#define XMPPSHIELD_PEERCERT_H

#include <stddef.h>

#include "certname.h"

struct mbedtls_ssl_config;
struct mbedtls_ssl_context;
struct peercert_trust;
struct peercert;

/* The system's CA bundle (Debian's ca-certificates). */
#define PEERCERT_SYSTEM_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"

/*
 * Load the PEM CA certificates of ca_file and the CRLs of crl_file (PEM
 * or DER, may be NULL) into a new trust store in *out.  0, or -1 with
 * "path: problem; remedy" in err.  A bundle in which some certificates
 * cannot be parsed (unsupported algorithms) is used with the rest; one
 * with none is an error.
 */
int peercert_trust_load(const char *ca_file, const char *crl_file,
    struct peercert_trust **out, char *err, size_t errlen);
void peercert_trust_free(struct peercert_trust *t);

/* Number of CA certificates loaded (for the start-up line). */
size_t peercert_trust_count(const struct peercert_trust *t);

/*
 * Settings every server configuration that may ask for certificates
 * needs: the CertificateRequest names no CAs (the system bundle would
 * not fit in one message, and peers send their certificate anyway).
 */
void peercert_conf(struct mbedtls_ssl_config *conf);

/*
 * A client configuration (outgoing s2s): the server's chain is checked
 * against t, without failing the handshake (verify mode optional).
 */
void peercert_conf_client(const struct peercert_trust *t,
    struct mbedtls_ssl_config *conf);

/*
 * Before the handshake of ssl (set up, not started): ask the peer for a
 * certificate, not required, verified against t.  t must outlive ssl's
 * handshake.
 */
void peercert_request(const struct peercert_trust *t,
    struct mbedtls_ssl_context *ssl);

/*
 * After the handshake of ssl: what the peer presented.  NULL only out of
 * memory.  Free with peercert_free().
 */
struct peercert *peercert_examine(const struct mbedtls_ssl_context *ssl);
void peercert_free(struct peercert *pc);

/*
 * NULL if the peer presented a certificate whose chain is valid, else a
 * stable word: "no-certificate", "revoked", "self-signed", "unknown-ca",
 * "expired", "not-yet-valid", "crl-expired" (a CRL for the chain is out
 * of date), "bad-crl" (a CRL's signature does not verify), "weak-key"
 * (a key or signature hash the profile refuses), "bad-key-usage",
 * "invalid-certificate" (anything else).
 */
const char *peercert_problem(const struct peercert *pc);

/* The leaf's issuer as "CN=..., O=..." ("-" without a certificate). */
const char *peercert_issuer(const struct peercert *pc);

/*
 * The DER of the chain the peer sent, leaf first, at most max
 * certificates, for dane.h: the pointers are into the TLS connection's
 * copy, valid while it lives (pc must be examined from it).  Returns the
 * number stored.
 */
size_t peercert_chain(const struct peercert *pc, const unsigned char **der,
    size_t *len, size_t max);

/* The leaf's identifiers against domain (see certname.h). */
enum certname_match peercert_match(const struct peercert *pc,
    const char *domain);

#endif
