/*
 * certname.h - does a certificate name an XMPP server's domain?
 *
 * The identity check of RFC 6125 (updated by RFC 9525) as RFC 6120
 * 13.7.1.2 and RFC 7590 profile it for server-to-server streams.  The
 * reference identifier is the domain the peer claims (a stream header's
 * or a dialback request's 'from'); the presented identifiers are the
 * names peercert.c took out of the certificate:
 *
 *   DNS-ID    subjectAltName dNSName "example.org" or "*.example.org"
 *   SRV-ID    subjectAltName otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7)
 *             "_xmpp-server.example.org"
 *   XmppAddr  subjectAltName otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5)
 *             "example.org"
 *   CN-ID     the subject's commonName, only when the certificate has no
 *             subjectAltName identifier at all (DNS, SRV, URI, XmppAddr):
 *             RFC 6125 6.4.4; RFC 9525 drops CN-IDs, so this is kept for
 *             old private CAs only.
 *
 * Names are compared case-insensitively in ASCII, one trailing dot
 * ignored on either side.  A wildcard is honoured only in a DNS-ID and
 * only as the whole left-most label ("*.example.org", not "f*.example.org"
 * or "www.*.example.org") of a name with at least two more labels; it
 * stands for exactly one non-empty label.  A reference domain must look
 * like a domain (labels of 1..63 bytes, at most 253 bytes, no '*', '@',
 * '/', '&', blanks or controls) or nothing matches it: a 'from' that is
 * no domain is never "verified".  Internationalised domains match only
 * byte for byte (A-label DNS-IDs against A-label references; an XmppAddr
 * in UTF-8 against the same UTF-8).
 *
 * Pure module: no I/O, no mbedTLS.
 */
#ifndef XMPPSHIELD_CERTNAME_H
#define XMPPSHIELD_CERTNAME_H

#include <stddef.h>

/* The identifiers a certificate presents (strings without NUL bytes:
   the extractor drops a name with an embedded NUL). */
struct certname_ids {
	const char *const *dns;		/* dNSName entries */
	size_t ndns;
	const char *const *srv;		/* id-on-dnsSRV entries */
	size_t nsrv;
	const char *const *xmpp;	/* id-on-xmppAddr entries */
	size_t nxmpp;
	const char *const *cn;		/* subject commonName values */
	size_t ncn;
	size_t nuri;			/* uniformResourceIdentifier count
					   (never matched; it only turns the
					   CN-ID fallback off) */
};

/* Which identifier matched. */
enum certname_match {
	CERTNAME_NONE = 0,
	CERTNAME_DNS,
	CERTNAME_SRV,
	CERTNAME_XMPPADDR,
	CERTNAME_CN,
};

/*
 * Does ids name the XMPP server domain?  CERTNAME_NONE (0) if not (or if
 * domain is no valid reference), else which kind of identifier matched
 * (XmppAddr first, then SRV-ID, DNS-ID, CN-ID).
 */
enum certname_match certname_match(const struct certname_ids *ids,
    const char *domain);

/* 1 if s is acceptable as a reference domain (see above), else 0. */
int certname_valid_reference(const char *s);

/* "dns", "srv", "xmppaddr", "cn" or "none", for logs. */
const char *certname_match_name(enum certname_match m);

#endif
