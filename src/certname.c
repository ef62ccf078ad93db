/*
 * certname.c - certificate identifiers against an XMPP server domain;
 * see certname.h.
 */
#include "autoconf.h"

#include <string.h>

#include "certname.h"

#define DOMAIN_MAX	253
#define LABEL_MAX	63
#define SRV_PREFIX	"_xmpp-server."

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of s without one trailing dot. */
static size_t
name_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

int
certname_valid_reference(const char *s)
{
	size_t n = name_len(s), label = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c <= 0x20 || c == 0x7f || strchr("*@/&'\"<>:\\", c) != NULL)
			return 0;
		if (++label > LABEL_MAX)
			return 0;
	}
	return label > 0;
}

/*
 * A DNS-ID (or, without wildcard, a CN-ID) against the reference ref of
 * length rlen.  "*.rest" matches "label.rest" for one non-empty label
 * when rest has at least two labels; a '*' anywhere else matches nothing.
 */
static int
match_dns(const char *presented, const char *ref, size_t rlen, int wildcard)
{
	size_t plen = name_len(presented);
	const char *rest, *dot;

	if (plen == 0)
		return 0;
	if (memchr(presented, '*', plen) == NULL)
		return same(presented, plen, ref, rlen);
	if (!wildcard || plen < 2 || presented[0] != '*' ||
	    presented[1] != '.')
		return 0;
	rest = presented + 2;
	plen -= 2;
	/* One '*' only; at least two labels after it, none empty. */
	if (memchr(rest, '*', plen) == NULL && memchr(rest, '.', plen) != NULL &&
	    rest[0] != '.' && strstr(rest, "..") == NULL &&
	    (dot = memchr(ref, '.', rlen)) != NULL && dot > ref)
		return same(rest, plen, dot + 1, rlen - (size_t)(dot + 1 - ref));
	return 0;
}

/* "_xmpp-server.DOMAIN": the service must be xmpp-server, no wildcard. */
static int
match_srv(const char *presented, const char *ref, size_t rlen)
{
	size_t plen = name_len(presented), pre = strlen(SRV_PREFIX);

	return plen > pre && same(presented, pre, SRV_PREFIX, pre) &&
	    memchr(presented, '*', plen) == NULL &&
	    same(presented + pre, plen - pre, ref, rlen);
}

enum certname_match
certname_match(const struct certname_ids *ids, const char *domain)
{
	size_t rlen, i;

	if (domain == NULL || !certname_valid_reference(domain))
		return CERTNAME_NONE;
	rlen = name_len(domain);
	for (i = 0; i < ids->nxmpp; i++)
		if (same(ids->xmpp[i], name_len(ids->xmpp[i]), domain, rlen))
			return CERTNAME_XMPPADDR;
	for (i = 0; i < ids->nsrv; i++)
		if (match_srv(ids->srv[i], domain, rlen))
			return CERTNAME_SRV;
	for (i = 0; i < ids->ndns; i++)
		if (match_dns(ids->dns[i], domain, rlen, 1))
			return CERTNAME_DNS;
	/* RFC 6125 6.4.4: the CN only when no subjectAltName identifier of
	   a type we know is present. */
	if (ids->ndns + ids->nsrv + ids->nxmpp + ids->nuri == 0)
		for (i = 0; i < ids->ncn; i++)
			if (match_dns(ids->cn[i], domain, rlen, 0))
				return CERTNAME_CN;
	return CERTNAME_NONE;
}

const char *
certname_match_name(enum certname_match m)
{
	switch (m) {
	case CERTNAME_NONE: return "none";
	case CERTNAME_DNS: return "dns";
	case CERTNAME_SRV: return "srv";
	case CERTNAME_XMPPADDR: return "xmppaddr";
	case CERTNAME_CN: return "cn";
	}
	return "none";
}
