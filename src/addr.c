/*
 * addr.c - socket address formatting; see addr.h.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

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
