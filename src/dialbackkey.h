/*
 * dialbackkey.h - the dialback keys xmppshield gives the backend for a
 * peer it authenticated itself (SASL EXTERNAL on an s2s listener), and
 * the check of the backend's <db:verify/> for them.
 *
 * KEY = hex(HMAC-SHA-256(secret, RECEIVING ' ' ORIGINATING ' ' STREAMID)),
 * XEP-0185's recommended construction: for <db:result from='PEER'
 * to='OURS'/> on a backend stream with id ID, RECEIVING is OURS and
 * ORIGINATING is PEER.  The backend asks the authoritative server (PEER,
 * through the s2s-out listener) with <db:verify from='OURS' to='PEER'
 * id='ID'>KEY</db:verify>: the key is ours when HMAC(secret, from ' ' to
 * ' ' id) equals it, and only then does s2sout answer it itself.
 *
 * The secret is drawn once per process lifetime, in the master before
 * any worker forks (main.c), so every worker, a respawned worker and
 * every configuration generation share it (a key made by one worker is
 * checked by another: the backend's verification arrives on another
 * connection), and it survives SIGHUP.  It never leaves the process and
 * is zeroed by dialbackkey_wipe().
 *
 * Uses mbedTLS's md (HMAC); no I/O.
 */
#ifndef XMPPSHIELD_DIALBACKKEY_H
#define XMPPSHIELD_DIALBACKKEY_H

#include <stddef.h>

#define DIALBACKKEY_SECRET	32	/* bytes of the secret */
#define DIALBACKKEY_LEN		64	/* hex digits of a key */

/*
 * Install the secret (len bytes, at least 16), unless one is installed
 * already (a reload keeps it).  0, or -1 (too short: nothing installed).
 */
int dialbackkey_init(const unsigned char *secret, size_t len);

/* 1 once a secret is installed. */
int dialbackkey_ready(void);

/* Zero the secret (at exit); dialbackkey_init() may install one again. */
void dialbackkey_wipe(void);

/*
 * The key for receiving, originating and stream id into out (at least
 * DIALBACKKEY_LEN + 1 bytes), lower-case hex, NUL-terminated.  0, or -1
 * without a secret or on an HMAC failure (out is then empty).
 */
int dialbackkey_make(const char *receiving, const char *originating,
    const char *id, char *out, size_t outlen);

/* 1 if key (len bytes) is the key for these names, compared in constant
   time; 0 otherwise (no secret, another length, another key). */
int dialbackkey_check(const char *receiving, const char *originating,
    const char *id, const char *key, size_t len);

/*
 * s2sout's hook: unit (len bytes, a complete <db:verify/> element the
 * backend sent on its stream from ours to remote, Expat found
 * well-formed) asks about one of our keys: no type, from = ours and to =
 * remote (case-insensitive: the answer vouches for remote on a stream to
 * remote only), an id of [A-Za-z0-9._-], and a key (the element's text)
 * for them.  Then the answer <db:verify from=TO to=FROM id=ID
 * type='valid'/> is written to out and its length returned; 0: not
 * ours, relay it.
 */
size_t dialbackkey_answer(const char *unit, size_t len, const char *ours,
    const char *remote, char *out, size_t outlen);

#endif
