/*
 * relay.h - the two directions of a session's stream after TLS.
 *
 * Client to backend: every byte is parsed as restricted XML within the
 * configured bounds, and only complete, valid units are passed on, exactly
 * as the client sent them.  Until the client has authenticated (see
 * relay_authenticated()) a unit may be max_preauth_stanza_size bytes,
 * max_stanza_size after.  Each stream header (after TLS, and after each
 * restart) must address the domain the session was opened for.
 *
 * Backend to client: complete units only, every <stream:features> with
 * <starttls/> and XEP-0138 <compression/> removed and all else untouched
 * (the SASL <mechanisms/> above all: XEP-0474 hashes them).  A SASL
 * <success/> restarts both streams.
 *
 * Both parse the same document (no parser differential): after a SASL
 * <auth/>, <response/> or <abort/> is passed on, the client's further
 * bytes are held unparsed until the backend answers <challenge/>,
 * <success/> or <failure/>; after <success/> they are parsed as the new
 * stream (its header checked like the first), otherwise as the rest of
 * the old one.  A <stream:stream> element inside a stream is refused.  On s2s listeners the SASL
 * <mechanisms/> are removed too: the only s2s mechanism, EXTERNAL, needs
 * the peer's certificate, which never reaches the backend; the peer
 * falls back to dialback (XEP-0220), passed through untouched.
 *
 * SASL EXTERNAL for servers (XEP-0178), when the owner's external_ok()
 * says the peer's certificate is valid for the domain its header claims
 * (the s2s_external policy included): EXTERNAL is added to the backend's
 * first <stream:features/> (its own mechanisms stay removed), and the
 * peer's <auth mechanism='EXTERNAL'/> is answered here, never passed
 * on.  After <success/> the peer's new stream header is answered here
 * too (our header, empty features); the backend's stream goes on
 * unrestarted and gets <db:result from=PEER to=OURS>KEY</db:result>
 * (the owner's make_key()), which the backend verifies by dialback
 * through the s2s-out listener.  The peer's stanzas are held (parsed,
 * within the pre-auth bound) until the backend answers type='valid'
 * (swallowed), then passed on in order; any other answer ends the
 * stream with <remote-connection-failed/>.
 *
 * Because both directions move whole units, a stream error the proxy adds
 * to the client's stream always lands at a stanza boundary.
 *
 * Pure module.
 */
#ifndef XMPPSHIELD_RELAY_H
#define XMPPSHIELD_RELAY_H

#include <stddef.h>

#include "config.h"
#include "verdict.h"

struct relay;

typedef void relay_write_fn(void *ctx, const char *data, size_t len);

/*
 * s2s only: the peer claims to be domain from, in its stream header
 * (dialback 0) or in a dialback <db:result from=.../> request (1).
 * Called before the unit is passed on; return 0 to go on, or -1 with v
 * filled to refuse the stream (the unit is not passed on).
 */
typedef int relay_claim_fn(void *ctx, const char *from, int dialback,
    struct verdict *v);

/*
 * s2s SASL EXTERNAL: 1 if the peer's certificate is valid for domain
 * and EXTERNAL may be offered on a stream to our served domain to.
 */
typedef int relay_external_ok_fn(void *ctx, const char *to,
    const char *domain);

/*
 * The dialback key (NUL-terminated, fits outlen) xmppshield gives the
 * backend for peer on the backend's stream id; 0, or -1.
 */
typedef int relay_make_key_fn(void *ctx, const char *ours, const char *peer,
    const char *id, char *out, size_t outlen);

enum relay_external_event {
	RELAY_EXTERNAL_FAILED,		/* <failure/> sent; reason says why */
	RELAY_EXTERNAL_SUCCESS,		/* <success/> sent, backend asked */
	RELAY_EXTERNAL_ACCEPTED,	/* the backend said valid */
};

/* An EXTERNAL step to log: domain the peer's claim, reason for
   RELAY_EXTERNAL_FAILED. */
typedef void relay_external_log_fn(void *ctx, enum relay_external_event ev,
    const char *domain, const char *reason);

struct relay_callbacks {
	relay_write_fn *to_backend;	/* accepted client bytes */
	relay_write_fn *to_client;	/* rewritten backend bytes */
	relay_claim_fn *peer_claim;	/* may be NULL */
	/* SASL EXTERNAL for s2s: all three, or NULL (never offered) */
	relay_external_ok_fn *external_ok;
	relay_make_key_fn *make_key;
	relay_external_log_fn *external_log;
};

enum relay_result {
	RELAY_OK = 0,
	RELAY_STREAM_END = 1,	/* the peer sent </stream:stream> (passed on) */
	RELAY_ERROR = -1,	/* see relay_verdict(); nothing passed on */
};

/*
 * A relay for a session on listener l serving domain (copied); stream_id
 * is used if the proxy must write a header of its own.  domain NULL
 * (direct TLS without a served SNI): the client's first stream header
 * chooses among l's domains (else host-unknown), and every later header
 * must name the same.  NULL on allocation failure.
 */
struct relay *relay_new(const struct config *cfg,
    const struct config_listener *l, const char *domain,
    const char *stream_id, const struct relay_callbacks *cb, void *ctx);
void relay_free(struct relay *r);

/*
 * The bounds on what a backend (ours, which relays other users' and
 * other servers' stanzas) sends: max_backend_stanza_size, a fixed depth
 * and attribute count, no name length, a names budget four times a
 * client's (docs/SECURITY.md).  The backend side of relay_new(), and the
 * backend's stream on an s2s-out listener (s2sout.c).
 */
struct xmlstream_limits;
void relay_backend_limits(const struct config *cfg,
    struct xmlstream_limits *lim);

enum relay_result relay_from_client(struct relay *r, const char *data,
    size_t len);
enum relay_result relay_from_backend(struct relay *r, const char *data,
    size_t len);

/*
 * End the client's stream with v: our own stream header first if the
 * client has none on its current stream, then the stream error (or just
 * </stream:stream> for XMPP_COND_NONE).
 */
void relay_fail(struct relay *r, const struct verdict *v);

/* Why relay_from_client/backend returned RELAY_ERROR. */
const struct verdict *relay_verdict(const struct relay *r);

/*
 * How many client bytes relay_from_client() takes now: SIZE_MAX, or while
 * client input is held (see the top) what is left of the client's stanza
 * bound for it (max_preauth_stanza_size until authenticated, then
 * max_stanza_size); 0: stop reading the client until a
 * relay_from_backend() call releases the hold.  Held bytes over that
 * bound fail like a stanza that large.  After SASL EXTERNAL the units
 * held until the backend's answer count too, with the one pending.
 */
size_t relay_client_room(const struct relay *r);

/* 1 once the client's </stream:stream> was passed on: reported by
   relay_from_client() as RELAY_STREAM_END, or found in held bytes that a
   relay_from_backend() call released. */
int relay_client_ended(const struct relay *r);

/* 1 once the backend has said SASL <success/> (RFC 6120, or SASL2's of
   XEP-0388), or (s2s) a dialback <db:result/> or <db:verify/> with
   type='valid', to the client (after SASL EXTERNAL: to xmppshield's
   <db:result/>). */
int relay_authenticated(const struct relay *r);

/* The session's served domain, NULL until a header fixed it. */
const char *relay_domain(const struct relay *r);

/* <starttls/>, <compression/> (and s2s <mechanisms/>) removed so far. */
unsigned relay_stripped(const struct relay *r);

#endif
