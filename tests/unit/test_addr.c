/*
 * test_addr.c - addresses as admins write them: addr_parse() accepts the
 * documented forms only, addr_equal() compares what the kernel compares,
 * addr_format() prints what a log filter expects.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

struct parsed {
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	int rc;
};

static struct parsed
parse(const char *text, unsigned flags)
{
	struct parsed p;

	memset(&p, 0x5a, sizeof(p.ss));	/* must be overwritten */
	p.len = 0;
	p.err[0] = '\0';
	p.rc = addr_parse(text, flags, &p.ss, &p.len, p.err, sizeof(p.err));
	return p;
}

static const char *
fmt(const struct parsed *p)
{
	static char buf[80];

	return addr_format((const struct sockaddr *)&p->ss, p->len, buf,
	    sizeof(buf));
}

struct good_case {
	const char *text;
	unsigned flags;
	const char *shown;	/* addr_format() of the result */
};

static const struct good_case good[] = {
	{ "127.0.0.1:5222", 0, "127.0.0.1:5222" },
	{ "0.0.0.0:0", ADDR_PASSIVE, "0.0.0.0:0" },
	{ "[::1]:5222", 0, "[::1]:5222" },
	{ "[0:0::1]:5269", ADDR_PASSIVE, "[::1]:5269" },
	{ "[::]:0", ADDR_PASSIVE, "[::]:0" },
	{ "[2001:DB8::1]:65535", 0, "[2001:db8::1]:65535" },
	{ "[fe80::1%2]:5222", ADDR_PASSIVE, "[fe80::1]:5222" },
	{ "[::ffff:192.0.2.1]:5222", 0, "192.0.2.1:5222" },
	{ "10.1.2.3:00080", ADDR_NAME, "10.1.2.3:80" },
	{ "127.0.0.2", ADDR_NO_PORT, "127.0.0.2:0" },
	{ "[::1]", ADDR_NO_PORT, "[::1]:0" },
	{ "2001:db8::7", ADDR_NO_PORT, "[2001:db8::7]:0" },
};

struct bad_case {
	const char *text;
	unsigned flags;
	const char *substr;
};

static const struct bad_case bad[] = {
	{ "127.0.0.1", 0, "127.0.0.1 has no port; write HOST:PORT" },
	{ "[::1]", 0, "[::1] is not [IPv6]:port" },
	{ "[::1]5222", 0, "is not [IPv6]:port" },
	{ "::1:5222", 0, "looks like an IPv6 address; write it in brackets" },
	{ ":5222", ADDR_PASSIVE, "has no valid host; write e.g. 0.0.0.0:5222" },
	{ ":5222", 0, "has no valid host; write e.g. 127.0.0.1:15222" },
	{ "[]:5222", 0, "has no valid host" },
	{ "127.0.0.1:0", 0, "has no valid port; write a port number from 1" },
	{ "127.0.0.1:65536", ADDR_PASSIVE, "from 0 to 65535" },
	{ "127.0.0.1:", 0, "has no valid port" },
	{ "127.0.0.1:-1", 0, "has no valid port" },
	{ "127.0.0.1:xmpp-client", 0, "has no valid port" },
	{ "127.0.0.1:123456", 0, "has no valid port" },
	{ "127.1:5222", ADDR_PASSIVE, "127.1:5222 is not a numeric IPv4 "
	    "address" },
	{ "0177.0.0.1:5222", 0, "is not a numeric IPv4 address" },
	{ "localhost:5222", 0, "names are not resolved here" },
	{ "[::g]:5222", 0, "is not a numeric IPv6 address" },
	{ "[127.0.0.1]:5222", 0, "is not a numeric IPv6 address" },
	{ "[fe80::1%eth0]:5222", ADDR_PASSIVE, "not a numeric IPv6" },
	{ "[fe80::1%]:5222", 0, "not a numeric IPv6" },
	{ "127.0.0.1:5", ADDR_NO_PORT, "is not a numeric IP address" },
	{ "localhost", ADDR_NO_PORT, "is not a numeric IP address" },
	{ "[::1", ADDR_NO_PORT, "is not a numeric IP address" },
	{ "fe80::1%1", ADDR_NO_PORT, "is not a numeric IP address" },
	{ "", ADDR_NO_PORT, "is not a numeric IP address" },
};

static void
test_parse(void)
{
	struct parsed p;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = parse(good[i].text, good[i].flags);
		ok(p.rc == 0 && strcmp(fmt(&p), good[i].shown) == 0,
		    "parsed: %s as %s%s%s", good[i].text, p.rc == 0 ?
		    fmt(&p) : "error: ", p.rc == 0 ? "" : p.err, "");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = parse(bad[i].text, bad[i].flags);
		ok(p.rc == -1 && strstr(p.err, bad[i].substr) != NULL,
		    "refused: \"%s\" (%s)", bad[i].text, p.err);
	}

	p = parse("[fe80::1%7]:5222", 0);
	ok(p.rc == 0 && p.len == sizeof(struct sockaddr_in6) &&
	    ((struct sockaddr_in6 *)&p.ss)->sin6_scope_id == 7,
	    "numeric IPv6 scope kept");
	p = parse("127.0.0.1:5222", 0);
	ok(p.rc == 0 && p.len == sizeof(struct sockaddr_in) &&
	    addr_port((struct sockaddr *)&p.ss) == 5222,
	    "IPv4: length and port");

	/* ADDR_NAME: a name is reported, not resolved. */
	p = parse("xmpp.example:5222", ADDR_NAME);
	ok(p.rc == 1 && p.len == 0, "a name is left for addr_resolve()");
	p = parse("127.1:5222", ADDR_NAME);
	ok(p.rc == 1, "127.1 is no dotted quad: for the resolver to judge");
	p = parse("[fe80::1%eth0]:5222", ADDR_NAME);
	ok(p.rc == 1, "a scope by interface name is for the resolver");
	p = parse("xmpp.example:0", ADDR_NAME);
	ok(p.rc == -1 && strstr(p.err, "has no valid port") != NULL,
	    "a name still needs a valid port");
	p = parse("xmpp.example", ADDR_NAME);
	ok(p.rc == -1 && strstr(p.err, "has no port") != NULL,
	    "a name still needs a port");
}

static void
test_resolve(void)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[256], buf[80];

	/* Numeric and /etc/hosts forms only: no DNS query leaves here. */
	ok(addr_resolve("127.0.0.1:15222", &ss, &len, err,
	    sizeof(err)) == 0 && strcmp(addr_format((struct sockaddr *)&ss,
	    len, buf, sizeof(buf)), "127.0.0.1:15222") == 0,
	    "addr_resolve: numeric");
	ok(addr_resolve("127.1:15222", &ss, &len, err, sizeof(err)) == 0 &&
	    strcmp(addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf)),
	    "127.0.0.1:15222") == 0, "addr_resolve: 127.1 as the resolver "
	    "reads it");
	ok(addr_resolve("localhost:5222", &ss, &len, err, sizeof(err)) == 0 &&
	    addr_port((struct sockaddr *)&ss) == 5222 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6),
	    "addr_resolve: localhost");
	ok(addr_resolve("[::1]:5222", &ss, &len, err, sizeof(err)) == 0 &&
	    ss.ss_family == AF_INET6, "addr_resolve: bracketed IPv6");
	ok(addr_resolve("nohost", &ss, &len, err, sizeof(err)) == -1 &&
	    strstr(err, "has no port") != NULL, "addr_resolve: no port");
}

static void
v4(struct sockaddr_in *sin, const char *a, unsigned port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, a, &sin->sin_addr);
}

static void
v6(struct sockaddr_in6 *sin6, const char *a, unsigned port)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, a, &sin6->sin6_addr);
}

#define SA(x)	((const struct sockaddr *)(x))

static void
test_equal(void)
{
	struct sockaddr_in a4, b4;
	struct sockaddr_in6 a6, b6;
	struct sockaddr_storage ss;
	struct parsed p, q;

	v4(&a4, "192.0.2.1", 5222);
	v4(&b4, "192.0.2.1", 5222);
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&b4), sizeof(b4)) == 1,
	    "same IPv4 address and port");
	memset(b4.sin_zero, 0xff, sizeof(b4.sin_zero));
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&b4), sizeof(b4)) == 1,
	    "sin_zero does not count");
	/* A sockaddr_in inside a larger, dirty storage: only len counts. */
	memset(&ss, 0xee, sizeof(ss));
	memcpy(&ss, &a4, sizeof(a4));
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&ss), sizeof(ss)) == 1,
	    "bytes past the address do not count");
	v4(&b4, "192.0.2.1", 5223);
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&b4), sizeof(b4)) == 0,
	    "other port");
	v4(&b4, "192.0.2.2", 5222);
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&b4), sizeof(b4)) == 0,
	    "other address");
	v4(&a4, "127.0.0.1", 0);
	v4(&b4, "127.0.0.1", 0);
	ok(addr_equal(SA(&a4), sizeof(a4), SA(&b4), sizeof(b4)) == 1,
	    "port 0 equals port 0 (its meaning is the caller's)");
	ok(addr_equal(SA(&a4), 4, SA(&b4), sizeof(b4)) == 0,
	    "a too short length is never equal");

	v6(&a6, "2001:db8::1", 5222);
	v6(&b6, "2001:db8::1", 5222);
	b6.sin6_flowinfo = htonl(12345);
	ok(addr_equal(SA(&a6), sizeof(a6), SA(&b6), sizeof(b6)) == 1,
	    "IPv6: flow label does not count");
	b6.sin6_scope_id = 2;
	ok(addr_equal(SA(&a6), sizeof(a6), SA(&b6), sizeof(b6)) == 0,
	    "IPv6: scope counts");
	v6(&b6, "2001:db8::2", 5222);
	ok(addr_equal(SA(&a6), sizeof(a6), SA(&b6), sizeof(b6)) == 0,
	    "IPv6: other address");
	v6(&a6, "::ffff:192.0.2.1", 5222);
	v4(&a4, "192.0.2.1", 5222);
	ok(addr_equal(SA(&a6), sizeof(a6), SA(&a4), sizeof(a4)) == 0,
	    "IPv4 and IPv4-mapped IPv6 are two sockets");

	/* Spelling does not count: what was parsed does. */
	p = parse("[0:0:0:0:0:0:0:1]:5222", ADDR_PASSIVE);
	q = parse("[::1]:5222", ADDR_PASSIVE);
	ok(p.rc == 0 && q.rc == 0 && addr_equal(SA(&p.ss), p.len, SA(&q.ss),
	    q.len) == 1, "[0:0:0:0:0:0:0:1] equals [::1]");
	p = parse("127.0.0.1:05222", 0);
	q = parse("127.0.0.1:5222", 0);
	ok(p.rc == 0 && q.rc == 0 && addr_equal(SA(&p.ss), p.len, SA(&q.ss),
	    q.len) == 1, "port 05222 equals 5222");
}

static void
test_format(void)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sockaddr_storage none;
	char buf[80], small[8];

	v4(&a4, "192.0.2.1", 5222);
	ok(strcmp(addr_format(SA(&a4), sizeof(a4), buf, sizeof(buf)),
	    "192.0.2.1:5222") == 0, "format IPv4");
	v6(&a6, "2001:db8::1", 5269);
	ok(strcmp(addr_format(SA(&a6), sizeof(a6), buf, sizeof(buf)),
	    "[2001:db8::1]:5269") == 0, "format IPv6");
	ok(strcmp(addr_format(SA(&a6), 8, buf, sizeof(buf)), "unknown") == 0,
	    "format: short length");
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	ok(strcmp(addr_format(SA(&none), sizeof(none), buf, sizeof(buf)),
	    "unknown") == 0 && addr_port(SA(&none)) == 0,
	    "format and port: other family");
	addr_format(SA(&a6), sizeof(a6), small, sizeof(small));
	ok(strlen(small) == sizeof(small) - 1, "format: cut, NUL-terminated");
}

int
main(void)
{
	test_parse();
	test_resolve();
	test_equal();
	test_format();
	return tap_done();
}
