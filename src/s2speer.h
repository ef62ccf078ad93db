/*
 * s2speer.h - who an incoming server is, by its certificate.
 *
 * One s2speer per s2s session after TLS.  It holds the policy
 * (s2s_verify of the served [domain], else of the listener: off, log or
 * require), what the peer's certificate said (peercert.h), and the
 * domains the peer has claimed so far on the stream.  Each domain is
 * checked on its own when first claimed: the stream header's 'from'
 * after TLS, then every 'from' of a dialback <db:result/> request
 * (XEP-0220 piggybacking: one stream, several domain pairs).
 *
 * A claim is verified when the chain is valid and the certificate names
 * the domain (certname.h); it logs event=s2s-peer-verified once per
 * domain.  Otherwise event=s2s-peer-unverified with a reason: the
 * chain's problem (peercert_problem()), or "name-mismatch" for the first
 * domain claimed, "piggyback-not-covered" for a later one.  Under log the
 * stream goes on (the backend still checks dialback); under require the
 * claim is refused: the caller ends the session with the verdict
 * (policy-violation, reason peer-unverified, <policy-violation/>)
 * before the header or the request reaches the backend.
 *
 * Logs (as session.c does); no I/O otherwise, no libevent, no mbedTLS.
 */
#ifndef XMPPSHIELD_S2SPEER_H
#define XMPPSHIELD_S2SPEER_H

#include "config.h"
#include "verdict.h"
#include "xmpp.h"

struct peercert;
struct s2speer;

/* The policy for a stream of listener l to served domain (NULL: not
   known yet, the listener's). */
enum config_s2s_verify s2speer_policy(const struct config *cfg,
    const struct config_listener *l, const char *domain);

/* 1 if some s2s listener or [domain] of cfg verifies peers (its policy
   is not off): then the trust store is loaded and s2s handshakes ask
   for the peer's certificate. */
int s2speer_any(const struct config *cfg);

/*
 * A new s2speer for a session of listener l; pc (taken, freed with the
 * s2speer) is what the peer presented.  logctx is copied into each line
 * after the event name (" session=1 client=... listener=...").  NULL out
 * of memory (pc is freed).
 */
struct s2speer *s2speer_new(const struct config *cfg,
    const struct config_listener *l, struct peercert *pc,
    const char *logctx);
void s2speer_free(struct s2speer *p);

/*
 * The peer claims to be domain from on the stream to our served domain
 * to; dialback: 0 for the stream header, 1 for a <db:result/> request.
 * Returns 0 to go on, or -1 with v filled: refuse the stream.
 */
int s2speer_claim(struct s2speer *p, const char *to, const char *from,
    int dialback, struct verdict *v);

/*
 * SASL EXTERNAL (relay.h): 1 if the stream to our served domain to may
 * offer it (s2s_external of the [domain], else of the listener, is on;
 * s2s_verify is not off; an s2s-out listener of the configuration serves
 * to, through which the backend verifies our dialback key) and the
 * peer's certificate is valid for domain
 * (chain and name, as a verified claim).  Logs nothing.
 */
int s2speer_external(const struct s2speer *p, const char *to,
    const char *domain);

/* The i-th reason= event=s2s-peer-unverified may carry (also the
   verified= of event=s2s-out-established), NULL past the last: the
   bounded label set of the metrics. */
const char *s2speer_reason_name(size_t i);

/* "off", "log", "require". */
const char *s2speer_policy_name(enum config_s2s_verify v);

#endif
