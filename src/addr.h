/*
 * addr.h - socket addresses as admins write and read them.
 */
#ifndef XMPPSHIELD_ADDR_H
#define XMPPSHIELD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Write sa as "192.0.2.1:5222" or "[2001:db8::1]:5222" into buf (always
 * NUL-terminated).  An IPv4-mapped IPv6 address is shown as IPv4, so one
 * client always looks the same to a log filter.  Returns buf.
 */
const char *addr_format(const struct sockaddr *sa, socklen_t len,
    char *buf, size_t buflen);

#endif
