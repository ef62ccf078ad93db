/*
 * xmpp.c - XMPP vocabulary and the XML xmppshield writes; see xmpp.h.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xmpp.h"

static const char *const condition_names[] = {
	[XMPP_COND_NONE] = "",
	[XMPP_COND_BAD_FORMAT] = "bad-format",
	[XMPP_COND_CONNECTION_TIMEOUT] = "connection-timeout",
	[XMPP_COND_HOST_UNKNOWN] = "host-unknown",
	[XMPP_COND_INTERNAL_SERVER_ERROR] = "internal-server-error",
	[XMPP_COND_INVALID_NAMESPACE] = "invalid-namespace",
	[XMPP_COND_NOT_WELL_FORMED] = "not-well-formed",
	[XMPP_COND_POLICY_VIOLATION] = "policy-violation",
	[XMPP_COND_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
	[XMPP_COND_RESOURCE_CONSTRAINT] = "resource-constraint",
	[XMPP_COND_RESTRICTED_XML] = "restricted-xml",
	[XMPP_COND_SYSTEM_SHUTDOWN] = "system-shutdown",
	[XMPP_COND_UNSUPPORTED_ENCODING] = "unsupported-encoding",
	[XMPP_COND_UNSUPPORTED_VERSION] = "unsupported-version",
};

static const char *
xmpp_condition_name(enum xmpp_condition c)
{
	if ((size_t)c >= sizeof(condition_names) / sizeof(condition_names[0]))
		return "internal-server-error";
	return condition_names[c];
}

const char *
xmpp_content_ns(enum listener_kind kind)
{
	return kind == LISTENER_S2S ? XMPP_NS_SERVER : XMPP_NS_CLIENT;
}

/* Escape s for an XML attribute value or text into buf; 0 if too small. */
static size_t
xmpp_escape(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		size_t n;

		switch (*s) {
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '&': rep = "&amp;"; break;
		case '\'': rep = "&apos;"; break;
		case '"': rep = "&quot;"; break;
		}
		n = rep ? strlen(rep) : 1;
		if (o + n >= len)
			return 0;
		if (rep)
			memcpy(buf + o, rep, n);
		else
			buf[o] = *s;
		o += n;
	}
	if (o >= len)
		return 0;
	buf[o] = '\0';
	return o;
}

/* snprintf that reports overflow as 0, as the writers promise. */
static size_t __attribute__((format(printf, 3, 4)))
put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return 0;
	return (size_t)n;
}

size_t
xmpp_write_header(char *buf, size_t len, enum listener_kind kind,
    const char *domain, const char *id)
{
	char from[512] = "", esc[400];

	if (domain != NULL) {
		if (xmpp_escape(esc, sizeof(esc), domain) == 0)
			return 0;
		snprintf(from, sizeof(from), " from='%s'", esc);
	}
	return put(buf, len, "<?xml version='1.0'?>"
	    "<stream:stream xmlns='%s' xmlns:stream='" XMPP_NS_STREAMS "'%s"
	    " id='%s'%s version='1.0'>", xmpp_content_ns(kind),
	    kind == LISTENER_S2S ? " xmlns:db='" XMPP_NS_DIALBACK "'" : "",
	    id, from);
}

size_t
xmpp_write_starttls_features(char *buf, size_t len)
{
	return put(buf, len, "<stream:features>"
	    "<starttls xmlns='" XMPP_NS_TLS "'><required/></starttls>"
	    "</stream:features>");
}

size_t
xmpp_write_stream_error(char *buf, size_t len, enum xmpp_condition cond,
    const char *text)
{
	char esc[512], body[640] = "";

	if (text != NULL) {
		if (xmpp_escape(esc, sizeof(esc), text) == 0)
			return 0;
		snprintf(body, sizeof(body), "<text xmlns='"
		    XMPP_NS_STREAM_ERRORS "'>%s</text>", esc);
	}
	return put(buf, len, "<stream:error><%s xmlns='"
	    XMPP_NS_STREAM_ERRORS "'/>%s</stream:error>" XMPP_STREAM_END,
	    xmpp_condition_name(cond), body);
}

size_t
xmpp_write_sasl_external(char *buf, size_t len, const char *authzid)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)authzid;
	size_t n = strlen(authzid), i, o;
	char enc[400];
	unsigned v;

	if (n == 0 || (n + 2) / 3 * 4 >= sizeof(enc))
		return 0;
	for (i = 0, o = 0; i < n; i += 3) {
		v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		enc[o++] = b64[v >> 18 & 63];
		enc[o++] = b64[v >> 12 & 63];
		enc[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		enc[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	enc[o] = '\0';
	return put(buf, len, "<auth xmlns='" XMPP_NS_SASL "' "
	    "mechanism='EXTERNAL'>%s</auth>", enc);
}

/*
 * The value of the unprefixed attribute name on the start tag that
 * begins p (a unit Expat found well-formed), copied raw into buf (a
 * value with references stays undecoded, and so is never a valid domain
 * to certname.h).  1 if found and it fits, else 0.
 */
int
xmpp_start_tag_attr(const char *p, size_t len, const char *name, char *buf,
    size_t buflen)
{
	const char *end = p + len, *n, *v;
	size_t nlen = strlen(name);
	char quote;

	/* Skip '<' and the element name. */
	for (p++; p < end && !strchr(" \t\r\n/>", *p); p++)
		;
	for (;;) {
		while (p < end && strchr(" \t\r\n", *p))
			p++;
		if (p >= end || *p == '/' || *p == '>')
			return 0;
		for (n = p; p < end && !strchr(" \t\r\n=", *p); p++)
			;
		if ((size_t)(p - n) == nlen && memcmp(n, name, nlen) == 0)
			nlen = (size_t)-1;	/* found: mark */
		while (p < end && *p != '\'' && *p != '"')
			p++;
		if (p >= end)
			return 0;
		quote = *p++;
		for (v = p; p < end && *p != quote; p++)
			;
		if (p >= end)
			return 0;
		if (nlen == (size_t)-1) {
			if ((size_t)(p - v) >= buflen)
				return 0;
			memcpy(buf, v, (size_t)(p - v));
			buf[p - v] = '\0';
			return 1;
		}
		p++;
	}
}

int
xmpp_element_text(const char *p, size_t len, const char **text,
    size_t *tlen)
{
	size_t i;
	char q = 0;

	*text = "";
	*tlen = 0;
	for (i = 0; i < len; i++) {
		if (q != 0) {
			if (p[i] == q)
				q = 0;
		} else if (p[i] == '\'' || p[i] == '"')
			q = p[i];
		else if (p[i] == '>')
			break;
	}
	if (i >= len || (i > 0 && p[i - 1] == '/'))
		return 0;	/* <x .../>: no text */
	*text = p + i + 1;
	while (i + 1 + *tlen < len && (*text)[*tlen] != '<')
		(*tlen)++;
	return 1;
}

void
xmpp_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
xmpp_host_name(const char *s, char *buf, size_t buflen)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.') || n + 1 >= buflen)
			return 0;
		buf[n] = c;
	}
	buf[n] = '\0';
	return n > 0;
}
