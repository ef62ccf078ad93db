/*
 * xmpp.h - the XMPP vocabulary: namespaces, stream error conditions and
 * the few pieces of XML xmppshield writes itself.  (Which stream error a
 * session ends with, and why, is decided in verdict.h.)
 *
 * Everything the proxy writes is built here from fixed strings and
 * configured domain names, escaped; never from bytes a peer sent.
 * Pure module.
 */
#ifndef XMPPSHIELD_XMPP_H
#define XMPPSHIELD_XMPP_H

#include <stddef.h>

#include "config.h"

#define XMPP_NS_STREAMS		"http://etherx.jabber.org/streams"
#define XMPP_NS_CLIENT		"jabber:client"
#define XMPP_NS_SERVER		"jabber:server"
#define XMPP_NS_DIALBACK	"jabber:server:dialback"
#define XMPP_NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define XMPP_NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define XMPP_NS_SASL2		"urn:xmpp:sasl:2"	/* XEP-0388 */
#define XMPP_NS_STREAM_ERRORS	"urn:ietf:params:xml:ns:xmpp-streams"
#define XMPP_NS_COMPRESS_FEATURE "http://jabber.org/features/compress"
#define XMPP_NS_COMPRESS	"http://jabber.org/protocol/compress"

#define XMPP_PROCEED \
	"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
#define XMPP_SASL_ENCRYPTION_REQUIRED \
	"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" \
	"<encryption-required/></failure>"
#define XMPP_STREAM_END	"</stream:stream>"

/* Stream error conditions xmppshield sends (RFC 6120 4.9.3). */
enum xmpp_condition {
	XMPP_COND_NONE = 0,	/* close without a stream error */
	XMPP_COND_BAD_FORMAT,
	XMPP_COND_CONNECTION_TIMEOUT,
	XMPP_COND_HOST_UNKNOWN,
	XMPP_COND_INTERNAL_SERVER_ERROR,
	XMPP_COND_INVALID_NAMESPACE,
	XMPP_COND_NOT_WELL_FORMED,
	XMPP_COND_POLICY_VIOLATION,
	XMPP_COND_REMOTE_CONNECTION_FAILED,
	XMPP_COND_RESOURCE_CONSTRAINT,
	XMPP_COND_RESTRICTED_XML,
	XMPP_COND_SYSTEM_SHUTDOWN,
	XMPP_COND_UNSUPPORTED_ENCODING,
	XMPP_COND_UNSUPPORTED_VERSION,
};

/* The content namespace of a listener kind: jabber:client or :server. */
const char *xmpp_content_ns(enum listener_kind kind);

/*
 * Write our own stream header into buf (size len): XML declaration and
 * <stream:stream> with the listener's content namespace, from=domain
 * (omitted when NULL), id and version='1.0'.  Returns the length, or 0 if
 * buf is too small.
 */
size_t xmpp_write_header(char *buf, size_t len, enum listener_kind kind,
    const char *domain, const char *id);

/* <stream:features> offering only <starttls><required/></starttls>. */
size_t xmpp_write_starttls_features(char *buf, size_t len);

/*
 * <stream:error><COND/><text>TEXT</text></stream:error></stream:stream>.
 * text (escaped here) may be NULL.  Returns the length, or 0 if buf is
 * too small.
 */
size_t xmpp_write_stream_error(char *buf, size_t len,
    enum xmpp_condition cond, const char *text);

/*
 * <auth mechanism='EXTERNAL'> (RFC 6120 6.4.2, XEP-0178) with authzid in
 * base64, as a server authenticating as the domain authzid sends it.
 * Returns the length, or 0 if authzid is empty or buf too small.
 */
size_t xmpp_write_sasl_external(char *buf, size_t len, const char *authzid);

/*
 * The value of the unprefixed attribute name on the start tag that
 * begins p (len bytes of a unit Expat found well-formed), copied raw
 * into buf: a value with references stays undecoded (and so is never a
 * valid domain to certname.h).  1 if found and it fits, else 0.  Only
 * the start tag is read.
 */
int xmpp_start_tag_attr(const char *p, size_t len, const char *name,
    char *buf, size_t buflen);

/*
 * The text of a simple element <x ...>TEXT</x> (a unit Expat found
 * well-formed): what follows the start tag's '>' (outside quoted
 * values) up to the next '<', raw.  1 with text and tlen set; 0 for an
 * empty-element tag <x/> (text "" and tlen 0).
 */
int xmpp_element_text(const char *p, size_t len, const char **text,
    size_t *tlen);

/* ASCII lower case in place (domain names compare case-insensitively). */
void xmpp_lower(char *s);

/*
 * s as a host name dialback and DNS carry it: only [A-Za-z0-9.-],
 * copied lower-cased into buf (buflen bytes, NUL included).  1 if it is
 * one and fits, 0 otherwise (empty, another character, too long).
 */
int xmpp_host_name(const char *s, char *buf, size_t buflen);

#endif
