/*
 * addr.h - socket addresses as admins write and read them.
 *
 * Parsing, comparing and formatting are pure (no I/O, no resolver).  One
 * function, addr_resolve(), asks the system resolver (getaddrinfo) and may
 * block on DNS: it is the only place in xmppshield that does, and only
 * config_load() calls it, at start and on reload.
 */
#ifndef XMPPSHIELD_ADDR_H
#define XMPPSHIELD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Flags of addr_parse(). */
#define ADDR_PASSIVE	0x01	/* a listen address: numeric, port 0 allowed */
#define ADDR_NAME	0x02	/* the host may be a name (returns 1) */
#define ADDR_NO_PORT	0x04	/* "a.b.c.d", "v6" or "[v6]", port 0 */

/*
 * Parse text as "a.b.c.d:port" or "[v6]:port" (with ADDR_NO_PORT: an
 * address without a port) into *ss and *len.  IPv4 is dotted quad only
 * (no "127.1" or octal forms); a port is 1..65535 (0 too with
 * ADDR_PASSIVE).  Returns 0 when parsed; 1 (only with ADDR_NAME) when the
 * host is not numeric but may be a name: nothing is stored, pass text to
 * addr_resolve(); -1 with a message in err ("TEXT is not ...; write ...",
 * no file or key name: the caller adds those).
 */
int addr_parse(const char *text, unsigned flags,
    struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen);

/*
 * Resolve "host:port" (host a name or numeric, as addr_parse() accepted
 * it with ADDR_NAME) with the system resolver; the first address wins.
 * May block.  0, or -1 with a message in err.
 */
int addr_resolve(const char *text, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen);

/*
 * 1 if a and b are the same socket address: same family, address and
 * port (and IPv6 scope), else 0.  Bytes the kernel ignores (sin_zero,
 * IPv6 flow label) do not count, and neither does how the address was
 * written ("[::1]" and "[0::1]" are equal).  A port of 0 is compared like
 * any other: deciding what port 0 means is the caller's business.
 */
int addr_equal(const struct sockaddr *a, socklen_t alen,
    const struct sockaddr *b, socklen_t blen);

/* The port of an AF_INET or AF_INET6 address in host order, else 0. */
unsigned addr_port(const struct sockaddr *sa);

/*
 * Write sa as "192.0.2.1:5222" or "[2001:db8::1]:5222" into buf (always
 * NUL-terminated).  An IPv4-mapped IPv6 address is shown as IPv4, so one
 * client always looks the same to a log filter.  Returns buf.
 */
const char *addr_format(const struct sockaddr *sa, socklen_t len,
    char *buf, size_t buflen);

#endif
