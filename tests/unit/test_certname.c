/*
 * test_certname.c - RFC 6125/9525 identity checks for XMPP servers
 * (RFC 6120 13.7.1.2, RFC 7590) through certname.h: one table, each row a
 * certificate's identifiers, a claimed domain and the expected match.
 */
#include <stdio.h>
#include <string.h>

#include "certname.h"
#include "tap.h"

#define MAXN	4

struct row {
	const char *dns[MAXN];
	const char *srv[MAXN];
	const char *xmpp[MAXN];
	const char *cn[MAXN];
	size_t nuri;
	const char *domain;
	enum certname_match want;
	const char *why;
};

static const struct row rows[] = {
	/* DNS-ID */
	{ { "example.org" }, {0}, {0}, {0}, 0, "example.org", CERTNAME_DNS,
	    "DNS-ID equal" },
	{ { "Example.ORG" }, {0}, {0}, {0}, 0, "example.org", CERTNAME_DNS,
	    "DNS-ID case-insensitive" },
	{ { "example.org." }, {0}, {0}, {0}, 0, "EXAMPLE.org", CERTNAME_DNS,
	    "trailing dot on the presented name ignored" },
	{ { "example.org" }, {0}, {0}, {0}, 0, "example.org.", CERTNAME_DNS,
	    "trailing dot on the reference ignored" },
	{ { "other.org", "example.org" }, {0}, {0}, {0}, 0, "example.org",
	    CERTNAME_DNS, "second DNS-ID" },
	{ { "example.org" }, {0}, {0}, {0}, 0, "example.com", CERTNAME_NONE,
	    "another domain" },
	{ { "example.org" }, {0}, {0}, {0}, 0, "sub.example.org",
	    CERTNAME_NONE, "a parent's DNS-ID does not cover a subdomain" },
	{ { "sub.example.org" }, {0}, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "a subdomain's DNS-ID does not cover the parent" },
	{ { "example.org.evil" }, {0}, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "no prefix match" },
	{ { "xexample.org" }, {0}, {0}, {0}, 0, "example.org", CERTNAME_NONE,
	    "no suffix match" },
	/* wildcards */
	{ { "*.example.org" }, {0}, {0}, {0}, 0, "chat.example.org",
	    CERTNAME_DNS, "wildcard as the whole left-most label" },
	{ { "*.example.org" }, {0}, {0}, {0}, 0, "CHAT.Example.Org.",
	    CERTNAME_DNS, "wildcard, case and trailing dot" },
	{ { "*.example.org" }, {0}, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "wildcard does not match the bare domain" },
	{ { "*.example.org" }, {0}, {0}, {0}, 0, "a.b.example.org",
	    CERTNAME_NONE, "wildcard stands for one label only" },
	{ { "f*.example.org" }, {0}, {0}, {0}, 0, "foo.example.org",
	    CERTNAME_NONE, "partial-label wildcard refused" },
	{ { "*oo.example.org" }, {0}, {0}, {0}, 0, "foo.example.org",
	    CERTNAME_NONE, "wildcard with a suffix in the label refused" },
	{ { "chat.*.org" }, {0}, {0}, {0}, 0, "chat.example.org",
	    CERTNAME_NONE, "wildcard not in the left-most label refused" },
	{ { "*.*.example.org" }, {0}, {0}, {0}, 0, "a.b.example.org",
	    CERTNAME_NONE, "two wildcards refused" },
	{ { "*.org" }, {0}, {0}, {0}, 0, "example.org", CERTNAME_NONE,
	    "wildcard over a single label refused" },
	{ { "*" }, {0}, {0}, {0}, 0, "example", CERTNAME_NONE,
	    "bare wildcard refused" },
	{ { "*.example..org" }, {0}, {0}, {0}, 0, "a.example..org",
	    CERTNAME_NONE, "empty label never matches" },
	/* SRV-ID */
	{ {0}, { "_xmpp-server.example.org" }, {0}, {0}, 0, "example.org",
	    CERTNAME_SRV, "SRV-ID _xmpp-server" },
	{ {0}, { "_XMPP-Server.Example.org" }, {0}, {0}, 0, "example.org",
	    CERTNAME_SRV, "SRV-ID case-insensitive" },
	{ {0}, { "_xmpp-client.example.org" }, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "SRV-ID for clients does not name a server" },
	{ {0}, { "_xmpp-server.*.org" }, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "no wildcard in an SRV-ID" },
	{ {0}, { "_xmpp-server.example.org" }, {0}, {0}, 0, "other.org",
	    CERTNAME_NONE, "SRV-ID of another domain" },
	{ {0}, { "_xmpp-server." }, {0}, {0}, 0, "example.org",
	    CERTNAME_NONE, "SRV-ID without a domain" },
	/* XmppAddr */
	{ {0}, {0}, { "example.org" }, {0}, 0, "example.org",
	    CERTNAME_XMPPADDR, "XmppAddr" },
	{ {0}, {0}, { "EXAMPLE.org" }, {0}, 0, "example.org",
	    CERTNAME_XMPPADDR, "XmppAddr case-insensitive (ASCII)" },
	{ {0}, {0}, { "*.example.org" }, {0}, 0, "a.example.org",
	    CERTNAME_NONE, "no wildcard in an XmppAddr" },
	{ {0}, {0}, { "user@example.org" }, {0}, 0, "example.org",
	    CERTNAME_NONE, "a user's XmppAddr does not name the server" },
	{ {0}, {0}, { "\xc3\xa9t\xc3\xa9.example" }, {0}, 0,
	    "\xc3\xa9t\xc3\xa9.example", CERTNAME_XMPPADDR,
	    "UTF-8 XmppAddr against the same UTF-8 domain" },
	{ { "xn--t-bmaa.example" }, {0}, {0}, {0}, 0,
	    "\xc3\xa9t\xc3\xa9.example", CERTNAME_NONE,
	    "A-label DNS-ID against a U-label domain: no IDNA mapping" },
	{ { "other.org" }, { "_xmpp-server.other.org" }, { "example.org" },
	    {0}, 0, "example.org", CERTNAME_XMPPADDR,
	    "XmppAddr among other identifiers" },
	/* CN-ID */
	{ {0}, {0}, {0}, { "example.org" }, 0, "example.org", CERTNAME_CN,
	    "CN-ID when there is no subjectAltName identifier" },
	{ { "other.org" }, {0}, {0}, { "example.org" }, 0, "example.org",
	    CERTNAME_NONE, "no CN fallback when a DNS-ID is present" },
	{ {0}, { "_xmpp-server.other.org" }, {0}, { "example.org" }, 0,
	    "example.org", CERTNAME_NONE,
	    "no CN fallback when an SRV-ID is present" },
	{ {0}, {0}, { "other.org" }, { "example.org" }, 0, "example.org",
	    CERTNAME_NONE, "no CN fallback when an XmppAddr is present" },
	{ {0}, {0}, {0}, { "example.org" }, 1, "example.org", CERTNAME_NONE,
	    "no CN fallback when a URI-ID is present" },
	{ {0}, {0}, {0}, { "*.example.org" }, 0, "a.example.org",
	    CERTNAME_NONE, "no wildcard in a CN" },
	/* references that are no domain */
	{ { "*.example.org" }, {0}, {0}, {0}, 0, "*.example.org",
	    CERTNAME_NONE, "a claimed '*' label is no domain" },
	{ {0}, {0}, { "a@example.org" }, {0}, 0, "a@example.org",
	    CERTNAME_NONE, "a claimed JID with a localpart is no domain" },
	{ { "example.org" }, {0}, {0}, {0}, 0, "", CERTNAME_NONE,
	    "empty reference" },
	{ { "." }, {0}, {0}, {0}, 0, ".", CERTNAME_NONE, "root only" },
	{ { "example.org" }, {0}, {0}, {0}, 0, "example.org/res",
	    CERTNAME_NONE, "a resource is no domain" },
	{ { "a&amp;b.org" }, {0}, {0}, {0}, 0, "a&amp;b.org", CERTNAME_NONE,
	    "an undecoded reference is no domain" },
	{ { "example .org" }, {0}, {0}, {0}, 0, "example .org",
	    CERTNAME_NONE, "blank in a reference" },
	{ {0}, {0}, {0}, {0}, 0, "example.org", CERTNAME_NONE,
	    "no identifiers at all" },
};

static size_t
count(const char *const *v)
{
	size_t n = 0;

	while (n < MAXN && v[n] != NULL)
		n++;
	return n;
}

int
main(void)
{
	char longlabel[80], longname[300];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct certname_ids ids = {
			.dns = r->dns, .ndns = count(r->dns),
			.srv = r->srv, .nsrv = count(r->srv),
			.xmpp = r->xmpp, .nxmpp = count(r->xmpp),
			.cn = r->cn, .ncn = count(r->cn),
			.nuri = r->nuri,
		};
		enum certname_match got = certname_match(&ids, r->domain);

		ok(got == r->want, "%s (%s: got %s, want %s)", r->why,
		    r->domain, certname_match_name(got),
		    certname_match_name(r->want));
	}

	/* lengths: a 64-byte label and a 254-byte name are no domain */
	memset(longlabel, 'a', 64);
	strcpy(longlabel + 64, ".org");
	ok(!certname_valid_reference(longlabel), "64-byte label refused");
	ok(certname_valid_reference(longlabel + 1), "63-byte label accepted");
	memset(longname, 0, sizeof(longname));
	for (size_t i = 0; i < 254; i++)
		longname[i] = (i % 10 == 9) ? '.' : 'a';
	longname[253] = 'a';
	ok(!certname_valid_reference(longname), "254-byte name refused");
	longname[253] = '\0';
	ok(certname_valid_reference(longname), "253-byte name accepted");
	longname[253] = '.';
	ok(certname_valid_reference(longname),
	    "253 bytes and a trailing dot accepted");
	ok(certname_match(&(struct certname_ids){ 0 }, NULL) == CERTNAME_NONE,
	    "NULL reference matches nothing");
	return tap_done();
}
