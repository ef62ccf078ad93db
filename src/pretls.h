/*
 * pretls.h - the conversation before TLS, where xmppshield speaks for the
 * backend.  Its grammar is closed: an optional XML declaration, one stream
 * header, whitespace, and one <starttls/> in the TLS namespace.  Anything
 * else ends the stream with an error and a policy event.
 *
 * Pure module: bytes from the client go in through pretls_feed(), the
 * bytes to send back come out through the write callback, and the result
 * says what the session does next.  The session checks for STARTTLS
 * command injection by feeding pretls every byte already buffered behind
 * <starttls/> before it calls pretls_proceed().
 *
 * A TLS ClientHello as the very first bytes (a client set up for direct
 * TLS on a STARTTLS port) is answered with a TLS handshake_failure alert,
 * never with XML: protocol-error, reason tls-on-starttls-port.
 */
#ifndef XMPPSHIELD_PRETLS_H
#define XMPPSHIELD_PRETLS_H

#include <stddef.h>

#include "config.h"
#include "verdict.h"

struct pretls;

enum pretls_result {
	PRETLS_MORE,		/* waiting for more input */
	PRETLS_STARTTLS,	/* <starttls/> read: drain, then proceed */
	PRETLS_CLOSE,		/* reply written; end with pretls_verdict() */
};

typedef void pretls_write_fn(void *ctx, const char *data, size_t len);

/*
 * A new pre-TLS conversation for listener l.  stream_id is our fresh
 * random stream id (copied).  write is called with every byte to send.
 * NULL on allocation failure.
 */
struct pretls *pretls_new(const struct config *cfg,
    const struct config_listener *l, const char *stream_id,
    pretls_write_fn *write, void *ctx);
void pretls_free(struct pretls *p);

/*
 * Feed bytes read from the client.  After PRETLS_STARTTLS, feed every
 * further byte already buffered (socket included): whitespace is
 * dropped, anything else turns the result into PRETLS_CLOSE with a
 * starttls-injection verdict.  After PRETLS_CLOSE, returns PRETLS_CLOSE.
 */
enum pretls_result pretls_feed(struct pretls *p, const char *data,
    size_t len);

/* Write <proceed/>; the session starts TLS once it is flushed. */
void pretls_proceed(struct pretls *p);

/*
 * End the conversation with v (timeout, shutdown): writes our header if
 * not yet sent, and the stream error.
 */
void pretls_fail(struct pretls *p, const struct verdict *v);

/*
 * On a direct-TLS listener the first byte was not a TLS handshake record:
 * answer in plain XML (our header, <policy-violation/> saying that the
 * port expects TLS) and end with a protocol-error verdict, reason
 * plaintext-on-tls-port.  Nothing the client sent is parsed.
 */
void pretls_refuse_plaintext(struct pretls *p);

/* The served domain named by the client's 'to', or NULL if none yet. */
const char *pretls_domain(const struct pretls *p);

/* Why the conversation ended (valid after PRETLS_CLOSE). */
const struct verdict *pretls_verdict(const struct pretls *p);

#endif
