/*
 * tls.h - TLS termination with mbedTLS; the only module that knows it.
 *
 * The policy is not negotiable by configuration: TLS 1.2 or 1.3 (1.3 with
 * mbedTLS 3.6), ECDHE key exchange (TLS 1.3 resumption only as
 * psk_dhe_ke), AEAD ciphers (AES-GCM, ChaCha20-Poly1305), groups X25519,
 * P-256, P-384, ECDSA/RSA-PSS (RSA PKCS#1 in TLS 1.2) SHA-2 signatures,
 * no renegotiation, no compression, no 0-RTT.  The configuration may only
 * reorder the AEAD ciphers and raise the minimum version.
 *
 * A tls_ctx is one generation of keys and settings: a DRBG, and per
 * served domain its certificate and three mbedTLS configurations: one for
 * STARTTLS (no ALPN), one for direct TLS on c2s listeners (ALPN
 * xmpp-client) and one for direct TLS on s2s listeners (xmpp-server).  A
 * ClientHello with no ALPN is accepted on direct TLS; one offering only
 * other protocols (h2, http/1.1) is refused (ALPACA).  SNI chooses the
 * certificate among the listener's domains (see vhost.h for the rules).
 * A tls_conn is one server-side TLS connection on a non-blocking socket;
 * its calls never block and say what they wait for.
 */
#ifndef XMPPSHIELD_TLS_H
#define XMPPSHIELD_TLS_H

#include <stddef.h>
#include <time.h>

#include "config.h"

struct peercert;
struct tls_ctx;
struct tls_conn;

enum tls_io {
	TLS_IO_OK,
	TLS_IO_WANT_READ,	/* call again when the socket is readable */
	TLS_IO_WANT_WRITE,	/* ... writable */
	TLS_IO_EOF,		/* close_notify or TCP EOF from the peer */
	TLS_IO_ERROR,		/* see tls_error_reason() */
};

/*
 * Load every certificate and key the configuration names, check each key
 * against its certificate, and build the per-domain settings.  Returns
 * NULL and a one-line message in err on any failure.
 */
struct tls_ctx *tls_ctx_new(const struct config *cfg, char *err,
    size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/* Reseed the DRBG: every process that forked from the one that seeded
   it must, or parent and child share a random stream.  0 or -1. */
int tls_ctx_reseed(struct tls_ctx *ctx);

/* n bytes from the context's DRBG; 0 or -1. */
int tls_random(struct tls_ctx *ctx, void *buf, size_t n);

/*
 * A new server connection on fd, accepted on listener l (kept; its mode
 * and kind choose the ALPN).  domain: the served domain the pre-TLS
 * stream named (STARTTLS), whose certificate is used unless an SNI names
 * another (refused: sni-mismatch); NULL on direct TLS, where the SNI
 * chooses and the listener's first domain is the default.  NULL on
 * failure.
 */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx,
    const struct config_listener *l, const char *domain, int fd);
void tls_conn_free(struct tls_conn *c);

/*
 * A client connection for outgoing s2s on the connected socket fd: our
 * served domain's certificate as the client certificate, SNI (and
 * mbedTLS's own name check, which peercert ignores) = remote, ALPN
 * xmpp-server when direct (XEP-0368), the same TLS policy as inbound,
 * the server's chain checked against the s2s trust store without
 * failing the handshake (tls_peer_certificate() says how it went).
 * NULL if domain is not served, no trust store is loaded
 * (s2speer_any() false), or out of memory.  tls_handshake() and the
 * rest work as for a server connection.
 */
struct tls_conn *tls_client_new(struct tls_ctx *ctx, const char *domain,
    const char *remote, int direct, int fd);

enum tls_io tls_handshake(struct tls_conn *c);

/* Read up to len bytes of plaintext into buf; *n is set on TLS_IO_OK. */
enum tls_io tls_read(struct tls_conn *c, void *buf, size_t len, size_t *n);

/*
 * Write up to len bytes; *n bytes were taken on TLS_IO_OK.  After
 * WANT_READ/WANT_WRITE, call again with the same buffer (mbedTLS rule).
 */
enum tls_io tls_write(struct tls_conn *c, const void *buf, size_t len,
    size_t *n);

/*
 * The socket polled readable: let the next call recv() again.  Reads are
 * served from bytes read ahead, and after a recv() found the socket empty
 * no further recv() is made until this is called, so the caller must
 * watch the socket level-triggered whenever a call returned WANT_READ.
 */
void tls_readable(struct tls_conn *c);

/* Best effort close_notify alert; never blocks. */
void tls_close_notify(struct tls_conn *c);

/* 1 if the handshake asked the peer for its certificate: an s2s listener
   of a configuration where s2speer_any() (the trust store is loaded). */
int tls_peer_asked(const struct tls_conn *c);

/*
 * After the handshake: what the peer presented as its certificate, and
 * what mbedTLS found checking it against the s2s trust store
 * (peercert.h).  NULL out of memory; free with peercert_free().
 */
struct peercert *tls_peer_certificate(const struct tls_conn *c);

/* "TLSv1.2" and the IANA-style suite name, after the handshake. */
const char *tls_version(const struct tls_conn *c);
const char *tls_cipher(const struct tls_conn *c);

/*
 * After the handshake: the served domain the connection is for (the
 * pre-TLS one, or the one the SNI named), or NULL when not known yet
 * (direct TLS without a served SNI: the first stream header decides).
 */
const char *tls_domain(const struct tls_conn *c);

/* The SNI host name the client sent (raw bytes, cut at 255, NUL
   replaced; escape before logging), or NULL if none. */
const char *tls_sni(const struct tls_conn *c);

/* The negotiated ALPN protocol ("xmpp-client"), or NULL. */
const char *tls_alpn(const struct tls_conn *c);

/* 1 if xmppshield refused the handshake by policy (sni-mismatch), so the
   failure is a policy event rather than a TLS failure. */
int tls_policy_refused(const struct tls_conn *c);

/* A stable word for logs ("no-shared-cipher", "protocol-version",
   "bad-record", "peer-closed", "handshake-failure", "sni-mismatch",
   "unknown-sni", "no-application-protocol", ...) and mbedTLS's own
   description of the last error. */
const char *tls_error_reason(const struct tls_conn *c);
const char *tls_error_detail(const struct tls_conn *c);

/* Why tls_read() failed after the handshake, for the end-of-session
   line: "tls-keyupdate-unsupported" when the peer sent a TLS 1.3
   KeyUpdate (mbedTLS 3.6 cannot serve it), else "client-tls-error". */
const char *tls_read_error_reason(const struct tls_conn *c);

/* Raw bytes read from and written to the socket. */
unsigned long long tls_bytes_in(const struct tls_conn *c);
unsigned long long tls_bytes_out(const struct tls_conn *c);

/* After the handshake: the key exchange group ("x25519", "secp256r1",
   ..., "none" for a resumed TLS 1.2 session; NULL where the library
   does not say: mbedTLS 3), and 1 if a session ticket resumed the
   session, else 0. */
const char *tls_group(const struct tls_conn *c);
int tls_resumed(const struct tls_conn *c);

/*
 * The leaf certificate of the i-th served domain (0-based): its domain
 * and validity (notBefore, notAfter) as Unix times.  0, or -1 past the
 * last domain.
 */
int tls_ctx_certificate(const struct tls_ctx *ctx, size_t i,
    const char **domain, time_t *not_before, time_t *not_after);

/* "mbedTLS 3.6.6 (private build in /opt/xmppshield-mbedtls; TLS 1.2
   and 1.3)": the library linked and where it comes from, for -V. */
const char *tls_library_version(void);

/* "3.6.6": the mbedTLS version alone, for the started log line. */
const char *tls_library(void);

/* 1 if this build can negotiate TLS 1.3 (mbedTLS 3 with TLS 1.3). */
int tls_has_tls13(void);

#endif
