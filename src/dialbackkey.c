/*
 * dialbackkey.c - dialback keys for peers xmppshield authenticated; see
 * dialbackkey.h.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "dialbackkey.h"
#include "xmpp.h"

#define MAX_NAME	253	/* a DNS name */
#define MAX_ID		128

static unsigned char secret[DIALBACKKEY_SECRET];
static int have_secret;

int
dialbackkey_init(const unsigned char *s, size_t len)
{
	if (have_secret)
		return 0;
	if (len < 16)
		return -1;
	memset(secret, 0, sizeof(secret));
	/* A longer secret is as good as its first bytes for HMAC's key
	   block; keep what fits. */
	memcpy(secret, s, len < sizeof(secret) ? len : sizeof(secret));
	have_secret = 1;
	return 0;
}

int
dialbackkey_ready(void)
{
	return have_secret;
}

void
dialbackkey_wipe(void)
{
	mbedtls_platform_zeroize(secret, sizeof(secret));
	have_secret = 0;
}

/* A stream id we may hash and write back unescaped. */
static int
id_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' &&
		    s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '-' || s[n] == '_' || s[n] == '.') || n >= MAX_ID)
			return 0;
	return n > 0;
}

/* The raw HMAC; 0 or -1. */
static int
mac(const char *receiving, const char *originating, const char *id,
    unsigned char out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(
	    MBEDTLS_MD_SHA256);
	char r[MAX_NAME + 1], o[MAX_NAME + 1], msg[2 * MAX_NAME + MAX_ID + 4];
	int n;

	if (!have_secret || md == NULL ||
	    !xmpp_host_name(receiving, r, sizeof(r)) ||
	    !xmpp_host_name(originating, o, sizeof(o)) || !id_ok(id))
		return -1;
	n = snprintf(msg, sizeof(msg), "%s %s %s", r, o, id);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	return mbedtls_md_hmac(md, secret, sizeof(secret),
	    (const unsigned char *)msg, (size_t)n, out) == 0 ? 0 : -1;
}

int
dialbackkey_make(const char *receiving, const char *originating,
    const char *id, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char m[32];
	size_t i;

	if (outlen > 0)
		out[0] = '\0';
	if (outlen < DIALBACKKEY_LEN + 1 ||
	    mac(receiving, originating, id, m) == -1)
		return -1;
	for (i = 0; i < sizeof(m); i++) {
		out[2 * i] = hex[m[i] >> 4];
		out[2 * i + 1] = hex[m[i] & 15];
	}
	out[DIALBACKKEY_LEN] = '\0';
	mbedtls_platform_zeroize(m, sizeof(m));
	return 0;
}

int
dialbackkey_check(const char *receiving, const char *originating,
    const char *id, const char *key, size_t len)
{
	char want[DIALBACKKEY_LEN + 1];
	unsigned char diff = 0;
	size_t i;

	if (len != DIALBACKKEY_LEN ||
	    dialbackkey_make(receiving, originating, id, want,
	    sizeof(want)) == -1)
		return 0;
	/* Constant time in the key's bytes: a peer that can time our
	   answers learns nothing about the right key.  Upper-case hex is
	   the same key. */
	for (i = 0; i < DIALBACKKEY_LEN; i++) {
		unsigned char c = (unsigned char)key[i];

		c |= (unsigned char)((c >= 'A' && c <= 'F') ? 0x20 : 0);
		diff |= (unsigned char)(c ^ (unsigned char)want[i]);
	}
	mbedtls_platform_zeroize(want, sizeof(want));
	return diff == 0;
}

size_t
dialbackkey_answer(const char *unit, size_t len, const char *ours,
    const char *remote, char *out, size_t outlen)
{
	char from[MAX_NAME + 1], to[MAX_NAME + 1], id[MAX_ID + 1], type[16];
	char f[MAX_NAME + 1], t[MAX_NAME + 1], o[MAX_NAME + 1];
	char r[MAX_NAME + 1];
	const char *key;
	size_t klen;
	int n;

	if (xmpp_start_tag_attr(unit, len, "type", type, sizeof(type)) ||
	    !xmpp_start_tag_attr(unit, len, "from", from, sizeof(from)) ||
	    !xmpp_start_tag_attr(unit, len, "to", to, sizeof(to)) ||
	    !xmpp_start_tag_attr(unit, len, "id", id, sizeof(id)) ||
	    !xmpp_host_name(from, f, sizeof(f)) ||
	    !xmpp_host_name(to, t, sizeof(t)) ||
	    !xmpp_host_name(ours, o, sizeof(o)) ||
	    !xmpp_host_name(remote, r, sizeof(r)) || strcmp(f, o) != 0 ||
	    strcmp(t, r) != 0 || !id_ok(id) ||
	    !xmpp_element_text(unit, len, &key, &klen) ||
	    !dialbackkey_check(f, t, id, key, klen))
		return 0;
	n = snprintf(out, outlen, "<db:verify xmlns:db='jabber:server:dialback'"
	    " from='%s' to='%s' id='%s' type='valid'/>", t, f, id);
	if (n < 0 || (size_t)n >= outlen)
		return 0;
	return (size_t)n;
}
