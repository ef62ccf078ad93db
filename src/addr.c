/*
 * addr.c - socket addresses: parsing, comparing, formatting; see addr.h.
 *
 * Everything here but addr_resolve() is pure: numeric forms are parsed
 * with inet_pton(), never with getaddrinfo(), so that parsing a
 * configuration file sends no query anywhere.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define HOST_MAX	256

/* "0".."65535", decimal digits only. */
static int
parse_port(const char *s, unsigned *port)
{
	unsigned v = 0;
	size_t n;

	for (n = 0; isdigit((unsigned char)s[n]); n++) {
		if (n >= 5)
			return -1;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* "v6" or "v6%N" (N a numeric scope): 0, or -1. */
static int
parse_v6(const char *host, struct sockaddr_in6 *sin6)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(host, '%');
	size_t n = pct != NULL ? (size_t)(pct - host) : strlen(host);
	unsigned long scope = 0;
	char *end;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -1;
	if (pct != NULL) {
		if (!isdigit((unsigned char)pct[1]))
			return -1;
		errno = 0;
		scope = strtoul(pct + 1, &end, 10);
		if (errno != 0 || *end != '\0' || scope > 0xffffffffUL)
			return -1;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_scope_id = (uint32_t)scope;
	return 0;
}

/*
 * Split "host:port" or "[host]:port" into host (NUL-terminated) and the
 * port text.  *v6: it was bracketed.  0, or -1 with err.
 */
static int
split_host_port(const char *text, unsigned flags, char *host,
    const char **port, int *v6, char *err, size_t errlen)
{
	const char *rbracket, *colon;
	size_t hostlen;

	*v6 = 0;
	if (text[0] == '[') {
		rbracket = strchr(text, ']');
		if (rbracket == NULL || rbracket[1] != ':') {
			snprintf(err, errlen, "%s is not [IPv6]:port; write "
			    "e.g. [::1]:5222", text);
			return -1;
		}
		hostlen = (size_t)(rbracket - text - 1);
		*port = rbracket + 2;
		*v6 = 1;
		if (hostlen < HOST_MAX)
			memcpy(host, text + 1, hostlen);
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "%s has no port; write HOST:PORT, "
			    "e.g. 127.0.0.1:5222", text);
			return -1;
		}
		if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
			snprintf(err, errlen, "%s looks like an IPv6 address; "
			    "write it in brackets, e.g. [::1]:5222", text);
			return -1;
		}
		hostlen = (size_t)(colon - text);
		*port = colon + 1;
		if (hostlen < HOST_MAX)
			memcpy(host, text, hostlen);
	}
	if (hostlen == 0 || hostlen >= HOST_MAX) {
		snprintf(err, errlen, "%s has no valid host; write e.g. %s",
		    text, flags & ADDR_PASSIVE ?
		    "0.0.0.0:5222 or [::]:5222 for every address" :
		    "127.0.0.1:15222");
		return -1;
	}
	host[hostlen] = '\0';
	return 0;
}

/* An address without a port: "a.b.c.d", "v6" or "[v6]". */
static int
parse_no_port(const char *text, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[HOST_MAX];
	size_t n = strlen(text);

	if (text[0] == '[' && n > 2 && text[n - 1] == ']') {
		text++;
		n -= 2;
	}
	if (n < sizeof(host)) {
		memcpy(host, text, n);
		host[n] = '\0';
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			*len = sizeof(*sin);
			return 0;
		}
		if (strchr(host, '%') == NULL && parse_v6(host, sin6) == 0) {
			*len = sizeof(*sin6);
			return 0;
		}
	}
	snprintf(err, errlen, "%s is not a numeric IP address", text);
	return -1;
}

int
addr_parse(const char *text, unsigned flags, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char host[HOST_MAX];
	const char *port;
	unsigned portnum;
	int v6;

	if (flags & ADDR_NO_PORT)
		return parse_no_port(text, ss, len, err, errlen);
	if (split_host_port(text, flags, host, &port, &v6, err, errlen) == -1)
		return -1;
	if (parse_port(port, &portnum) == -1 ||
	    (!(flags & ADDR_PASSIVE) && portnum == 0)) {
		snprintf(err, errlen, "%s has no valid port; write a port "
		    "number from %d to 65535 after the colon", text,
		    flags & ADDR_PASSIVE ? 0 : 1);
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (v6) {
		if (parse_v6(host, &sin6) == -1) {
			/* "fe80::1%eth0": the scope by name is the
			   resolver's (if_nametoindex) business. */
			if ((flags & ADDR_NAME) && strchr(host, '%') != NULL)
				return 1;
			snprintf(err, errlen, "%s is not a numeric IPv6 "
			    "address; write e.g. [::1]:5222", text);
			return -1;
		}
		sin6.sin6_port = htons((uint16_t)portnum);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
		return 0;
	}
	/* inet_pton: no "127.1" or octal forms that inet_aton allows. */
	if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)portnum);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
		return 0;
	}
	if (flags & ADDR_NAME)
		return 1;
	snprintf(err, errlen, "%s is not a numeric IPv4 address; write "
	    "a.b.c.d:port or [IPv6]:port (names are not resolved here)", text);
	return -1;
}

int
addr_resolve(const char *text, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char host[HOST_MAX];
	const char *port;
	int v6, rc;

	if (split_host_port(text, ADDR_NAME, host, &port, &v6, err,
	    errlen) == -1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	hints.ai_family = v6 ? AF_INET6 : AF_UNSPEC;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "cannot resolve %s: %s; write an IP "
		    "address or a name the resolver knows", host,
		    rc == EAI_SYSTEM ? strerror(errno) : rc != 0 ?
		    gai_strerror(rc) : "no address");
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	if (res->ai_addrlen > sizeof(*ss) || (res->ai_family != AF_INET &&
	    res->ai_family != AF_INET6)) {
		freeaddrinfo(res);
		snprintf(err, errlen, "%s has an unusable address family; "
		    "write an IPv4 or IPv6 address", text);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
addr_equal(const struct sockaddr *a, socklen_t alen,
    const struct sockaddr *b, socklen_t blen)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		if (alen < sizeof(*a4) || blen < sizeof(*b4))
			return 0;
		a4 = (const struct sockaddr_in *)(const void *)a;
		b4 = (const struct sockaddr_in *)(const void *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		if (alen < sizeof(*a6) || blen < sizeof(*b6))
			return 0;
		a6 = (const struct sockaddr_in6 *)(const void *)a;
		b6 = (const struct sockaddr_in6 *)(const void *)b;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return 0;
}

unsigned
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->
		    sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_port);
	return 0;
}

const char *
addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t buflen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host,
			    sizeof(host));
			snprintf(buf, buflen, "%s:%u", host,
			    ntohs(sin6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, host,
			    sizeof(host));
			snprintf(buf, buflen, "[%s]:%u", host,
			    ntohs(sin6->sin6_port));
		}
	} else
		snprintf(buf, buflen, "unknown");
	return buf;
}
