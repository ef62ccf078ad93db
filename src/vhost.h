/*
 * vhost.h - which served domain (virtual host) a connection is for, and
 * which backend it goes to.
 *
 * A connection's domain is fixed once, before the backend sees a byte:
 *   STARTTLS: by the pre-TLS stream's 'to'; an SNI naming another domain
 *             served on the listener is refused (sni-mismatch);
 *   direct TLS: by the SNI, if it names a domain served on the listener;
 *             else by the first post-TLS stream header.
 * After that, every stream header must name the same domain (relay.c:
 * domain-changed), so a client cannot switch virtual host across the TLS
 * start or a stream restart (cf. Prosody CVE-2018-10847).
 *
 * Pure module: no I/O, no mbedTLS.
 */
#ifndef XMPPSHIELD_VHOST_H
#define XMPPSHIELD_VHOST_H

#include <stddef.h>

#include "config.h"

enum vhost_sni {
	VHOST_SNI_MATCH,	/* names a served domain (*domain), the fixed
				   one if any */
	VHOST_SNI_UNKNOWN,	/* names no domain served here: keep the
				   default certificate */
	VHOST_SNI_REFUSE,	/* ... and sni_strict is on: refuse */
	VHOST_SNI_MISMATCH,	/* names a served domain other than the one
				   the pre-TLS stream fixed: refuse */
};

/*
 * Judge the SNI host name (name, len bytes, not NUL-terminated, as the
 * client sent it; one trailing dot and letter case are ignored) on
 * listener l.  fixed: the domain the pre-TLS stream named, or NULL
 * (direct TLS).  strict: [tls] sni_strict.  On VHOST_SNI_MATCH and
 * VHOST_SNI_MISMATCH, *domain is the served domain named (a string of
 * l's, lower case); otherwise NULL.
 */
enum vhost_sni vhost_sni(const struct config_listener *l, const char *fixed,
    int strict, const char *name, size_t len, const char **domain);

/* The domain whose certificate a connection gets before (or without) SNI:
   the fixed one, else the listener's first. */
const char *vhost_default(const struct config_listener *l, const char *fixed);

/*
 * The backend for domain (NULL: not known yet) on listener l: the
 * domain's backend (c2s listeners) or s2s_backend (s2s listeners) if set,
 * else the listener's.
 */
const struct config_addr *vhost_backend(const struct config *cfg,
    const struct config_listener *l, const char *domain);

#endif
