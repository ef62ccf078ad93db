/*
 * ticket.h - session ticket keys (RFC 5077, RFC 8446 §4.6.1): which keys
 * exist, which one encrypts, when they rotate; the ticket writer and
 * parser mbedTLS calls.  hitch keeps its session cache apart from its TLS
 * setup in the same way (shctx.c).
 *
 * mbedTLS's ssl_ticket module seals and opens the tickets (AES-256-GCM,
 * its format and expiry check); one mbedtls_ssl_ticket_context per key.
 * The keys come from one of two sources:
 *
 * - derived (default): the key of period E = now / ticket_lifetime is
 *   HMAC-SHA-256(secret, E), the secret drawn once per process lifetime
 *   (kept across SIGHUP).  Keys rotate every period; the previous
 *   period's key still opens tickets.  Processes forked from the one that
 *   made the secret derive the same keys, so they resume each other's
 *   sessions, before and after a reload.
 * - ticket_key_file: one to three keys, "previous, current, next" as
 *   HAProxy's tls-ticket-keys: the second-to-last (or only) key encrypts,
 *   every key decrypts.  Shared by every instance behind one balancer.
 *
 * The same keys serve TLS 1.2 tickets and TLS 1.3 NewSessionTicket.
 * A TLS module: it knows mbedTLS; the caller owns the random generator.
 */
#ifndef XMPPSHIELD_TICKET_H
#define XMPPSHIELD_TICKET_H

#include <stddef.h>

#include <mbedtls/ssl.h>

#include "config.h"

struct ticket;

/*
 * The keys [tls] asks for (ticket_lifetime, ticket_key_file).  f_rng and
 * p_rng (kept; must outlive the result) draw the derivation secret and
 * the ticket nonces.  NULL and a one-line message in err on failure
 * (ticket_key_file errors name file:line).
 */
struct ticket *ticket_new(const struct config_tls *t,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng, char *err,
    size_t errlen);

/* Zeroes every key; NULL is allowed. */
void ticket_free(struct ticket *tk);

/* Make conf issue and accept tickets with tk's keys (tk must outlive
   conf's use). */
void ticket_conf(struct ticket *tk, mbedtls_ssl_config *conf);

/* Tickets accepted so far (a session resumed); counted in this process,
   so a change across one handshake call means that handshake resumed.
   NULL: 0. */
unsigned long ticket_accepted(const struct ticket *tk);

#endif
