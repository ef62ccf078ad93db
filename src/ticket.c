/*
 * ticket.c - session ticket keys: derivation, rotation, key file, and the
 * wrapped ticket writer; see ticket.h.
 *
 * mbedTLS would replace a key on its own once it is ticket_lifetime old
 * (2.28: the context's lifetime; 3.6: the key's); keys are marked fresh
 * before every use so that only this code rotates them.  mbedTLS 3.6 also
 * takes the key's lifetime as the tickets' maximum age and lifetime hint:
 * a key installed with lifetime 0 (as xmppshield did at first) makes
 * every ticket expired on arrival, and TLS 1.3 clients drop a ticket
 * whose lifetime is 0.
 */
#include "autoconf.h"

/* 3.x: a key's generation time is a private field (see key_touch). */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS 1

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>

#include "ticket.h"

#if MBEDTLS_VERSION_MAJOR >= 3
#define MBEDTLS3 1
#endif

#define TICKET_KEYS	3
#define TICKET_FILE_KEY	48	/* 16-byte name, 32-byte AES-256 key */
#define TICKET_NAME	4	/* as mbedTLS puts it in the ticket */

struct ticket_key {
	unsigned char name[TICKET_NAME];
	mbedtls_ssl_ticket_context t;
	long long period;	/* derived keys: which period */
};

struct ticket {
	struct ticket_key keys[TICKET_KEYS];
	int nkeys;
	int enc;		/* index of the key that encrypts */
	int from_file;
	unsigned long accepted;	/* tickets that parsed: resumptions */
	uint32_t lifetime;
	unsigned char secret[32];	/* derived keys */
};

/* Put name and key into both slots of k's ticket context. */
static int
key_set(struct ticket_key *k, const unsigned char *name,
    const unsigned char key[32], uint32_t lifetime)
{
	int ret = 0;

	memcpy(k->name, name, TICKET_NAME);
#ifdef MBEDTLS3
	for (int i = 0; i < 2 && ret == 0; i++)
		ret = mbedtls_ssl_ticket_rotate(&k->t, name, TICKET_NAME, key,
		    32, lifetime);
#else
	(void)lifetime;
	for (int i = 0; i < 2 && ret == 0; i++) {
		memcpy(k->t.keys[i].name, name, TICKET_NAME);
		ret = mbedtls_cipher_setkey(&k->t.keys[i].ctx, key, 256,
		    MBEDTLS_ENCRYPT);
	}
#endif
	return ret;
}

/* Keep mbedTLS from rotating the key in its own way. */
static void
key_touch(struct ticket_key *k)
{
#ifndef MBEDTLS3
	k->t.keys[0].generation_time = k->t.keys[1].generation_time =
	    (uint32_t)time(NULL);
#else
	k->t.keys[0].generation_time = k->t.keys[1].generation_time =
	    mbedtls_time(NULL);
#endif
}

static int
key_derive(struct ticket *tk, struct ticket_key *k,
    long long period)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(
	    MBEDTLS_MD_SHA256);
	unsigned char msg[24], name[32], key[32];
	int ret, i;

	memcpy(msg, "xmppshield-ticket-", 16);
	for (i = 0; i < 8; i++)
		msg[16 + i] = (unsigned char)((unsigned long long)period >>
		    (56 - 8 * i));
	msg[15] = 'n';
	ret = mbedtls_md_hmac(md, tk->secret, sizeof(tk->secret), msg,
	    sizeof(msg), name);
	msg[15] = 'k';
	if (ret == 0)
		ret = mbedtls_md_hmac(md, tk->secret, sizeof(tk->secret), msg,
		    sizeof(msg), key);
	if (ret == 0)
		ret = key_set(k, name, key, tk->lifetime);
	mbedtls_platform_zeroize(key, sizeof(key));
	k->period = period;
	return ret;
}

/* Derived keys: the current period's encrypts, the previous one's still
   decrypts.  0 or an mbedTLS error. */
static int
keys_update(struct ticket *tk)
{
	long long period = (long long)time(NULL) / tk->lifetime;
	int ret;

	if (tk->from_file || tk->keys[1].period == period)
		return 0;
	if ((ret = key_derive(tk, &tk->keys[0], period - 1)) != 0 ||
	    (ret = key_derive(tk, &tk->keys[1], period)) != 0)
		tk->keys[1].period = -1;	/* try again next time */
	return ret;
}

/*
 * The ticket writer, wrapped: its outputs are zeroed before mbedTLS
 * fills them, so a failing or short write never sends stale memory
 * (CVE-2026-50586 in the unpatched 2.28 Debian ships).
 */
static int
write_cb(void *arg, const mbedtls_ssl_session *session,
    unsigned char *start, const unsigned char *end, size_t *tlen,
    uint32_t *lifetime)
{
	struct ticket *tk = arg;
	struct ticket_key *k;
	int ret;

	if (end > start)
		memset(start, 0, (size_t)(end - start));
	*tlen = 0;
	*lifetime = 0;
	if ((ret = keys_update(tk)) != 0)
		return ret;
	k = &tk->keys[tk->enc];
	key_touch(k);
	return mbedtls_ssl_ticket_write(&k->t, session, start, end, tlen,
	    lifetime);
}

static int
parse_cb(void *arg, mbedtls_ssl_session *session, unsigned char *buf,
    size_t len)
{
	struct ticket *tk = arg;
	int ret, i;

	if (len < TICKET_NAME)
		return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
	if ((ret = keys_update(tk)) != 0)
		return ret;
	for (i = 0; i < tk->nkeys; i++)
		if (memcmp(buf, tk->keys[i].name, TICKET_NAME) == 0) {
			key_touch(&tk->keys[i]);
			ret = mbedtls_ssl_ticket_parse(&tk->keys[i].t,
			    session, buf, len);
			tk->accepted += ret == 0;
			return ret;
		}
	/* Unknown key: an old generation or another cluster; a full
	   handshake follows. */
	return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
}

/* Read 1-3 keys from path into tk; -1 and a message in err. */
static int
load_file(struct ticket *tk, const char *path, char *err,
    size_t errlen)
{
	unsigned char raw[TICKET_FILE_KEY + 4];
	char line[256], *p, *e;
	size_t olen;
	int lineno = 0, rc = -1, i, lines[TICKET_KEYS];
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "ticket_key_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (e = p + strlen(p); e > p && (e[-1] == '\n' ||
		    e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (tk->nkeys == TICKET_KEYS) {
			snprintf(err, errlen, "ticket_key_file %s:%d: more than "
			    "%d keys; keep previous, current and next only",
			    path, lineno, TICKET_KEYS);
			goto out;
		}
		if (mbedtls_base64_decode(raw, sizeof(raw), &olen,
		    (const unsigned char *)p, strlen(p)) != 0 ||
		    olen != TICKET_FILE_KEY) {
			snprintf(err, errlen, "ticket_key_file %s:%d: not a key; "
			    "each line must be 48 random bytes in base64 (make "
			    "one with: openssl rand -base64 48)", path, lineno);
			goto out;
		}
		for (i = 0; i < tk->nkeys; i++)
			if (memcmp(tk->keys[i].name, raw, TICKET_NAME) == 0) {
				snprintf(err, errlen, "ticket_key_file %s:%d: "
				    "the key name (first bytes) repeats line "
				    "%d; use fresh random keys", path, lineno,
				    lines[i]);
				goto out;
			}
		if (key_set(&tk->keys[tk->nkeys], raw, raw + 16,
		    tk->lifetime) != 0) {
			snprintf(err, errlen, "ticket_key_file %s:%d: cannot "
			    "use the key", path, lineno);
			goto out;
		}
		lines[tk->nkeys++] = lineno;
	}
	if (ferror(f))
		snprintf(err, errlen, "ticket_key_file %s: read error", path);
	else if (tk->nkeys == 0)
		snprintf(err, errlen, "ticket_key_file %s holds no key; write "
		    "one to three lines of: openssl rand -base64 48", path);
	else
		rc = 0;
	tk->enc = tk->nkeys >= 2 ? tk->nkeys - 2 : 0;
	tk->from_file = 1;
out:
	mbedtls_platform_zeroize(raw, sizeof(raw));
	mbedtls_platform_zeroize(line, sizeof(line));
	fclose(f);
	return rc;
}

void
ticket_free(struct ticket *tk)
{
	int i;

	if (tk == NULL)
		return;
	for (i = 0; i < TICKET_KEYS; i++)
		mbedtls_ssl_ticket_free(&tk->keys[i].t);
	mbedtls_platform_zeroize(tk, sizeof(*tk));
	free(tk);
}

/*
 * The derivation secret: drawn once per process, at the first
 * configuration load (in the master, before any worker forks), and kept
 * across SIGHUP.  Every worker, a respawned worker and every later
 * generation derive the same keys, so a reload, or a reconnect that lands
 * on another worker, still resumes.  A restart draws a new one.
 */
static unsigned char secret[32];
static int have_secret;

static int
secret_get(int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
    unsigned char out[32])
{
	int ret;

	if (!have_secret) {
		if ((ret = f_rng(p_rng, secret, sizeof(secret))) != 0)
			return ret;
		have_secret = 1;
	}
	memcpy(out, secret, sizeof(secret));
	return 0;
}

struct ticket *
ticket_new(const struct config_tls *t,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng, char *err,
    size_t errlen)
{
	struct ticket *tk;
	int i, ret = 0;

	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tk->lifetime = t->ticket_lifetime;
	for (i = 0; i < TICKET_KEYS; i++)
		mbedtls_ssl_ticket_init(&tk->keys[i].t);
	for (i = 0; i < TICKET_KEYS && ret == 0; i++)
		ret = mbedtls_ssl_ticket_setup(&tk->keys[i].t,
		    f_rng, p_rng,
		    MBEDTLS_CIPHER_AES_256_GCM, tk->lifetime);
	if (ret == 0 && t->ticket_key_file == NULL) {
		tk->nkeys = 2;
		tk->enc = 1;
		tk->keys[1].period = -1;
		ret = secret_get(f_rng, p_rng, tk->secret);
		if (ret == 0)
			ret = keys_update(tk);
	}
	if (ret != 0) {
		char e[160];

		mbedtls_strerror(ret, e, sizeof(e));
		snprintf(err, errlen, "cannot set up session tickets: %s", e);
		ticket_free(tk);
		return NULL;
	}
	if (t->ticket_key_file != NULL &&
	    load_file(tk, t->ticket_key_file, err, errlen) == -1) {
		ticket_free(tk);
		return NULL;
	}
	return tk;
}

void
ticket_conf(struct ticket *tk, mbedtls_ssl_config *conf)
{
	mbedtls_ssl_conf_session_tickets_cb(conf, write_cb, parse_cb, tk);
}

unsigned long
ticket_accepted(const struct ticket *tk)
{
	return tk != NULL ? tk->accepted : 0;
}
