/*
 * test_proxyproto.c - the PROXY protocol codec against the byte layouts of
 * HAProxy's doc/proxy-protocol.txt: v1 lines, v2 headers written out by
 * hand from the spec, the decoder's strictness (one table of malformed
 * headers), chunking invariance, and trusted address blocks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "tap.h"

#define SIG "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"

static struct sockaddr_storage
ip(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
		s4->sin_port = htons((uint16_t)port);
	}
	return ss;
}

static socklen_t
sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

#define SA(ss)	(const struct sockaddr *)&(ss), sslen(&(ss))

/* "a.b.c.d:port" / "[v6]:port" of a decoded address, for comparisons. */
static const char *
fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else
		snprintf(buf, len, "none");
	return buf;
}

static void
hexdump_diff(const unsigned char *got, size_t glen, const unsigned char *want,
    size_t wlen)
{
	size_t i;

	for (i = 0; i < glen || i < wlen; i++) {
		if (i < glen && i < wlen && got[i] == want[i])
			continue;
		printf("# first difference at byte %zu: got %s%02x, want %s%02x "
		    "(lengths %zu, %zu)\n", i, i < glen ? "" : "-",
		    i < glen ? got[i] : 0, i < wlen ? "" : "-",
		    i < wlen ? want[i] : 0, glen, wlen);
		return;
	}
}

static int
same_bytes(const unsigned char *got, int glen, const unsigned char *want,
    size_t wlen)
{
	if (glen == (int)wlen && memcmp(got, want, wlen) == 0)
		return 1;
	hexdump_diff(got, glen < 0 ? 0 : (size_t)glen, want, wlen);
	return 0;
}

/* --- v1 encoding ----------------------------------------------------- */

static void
test_encode_v1(void)
{
	struct sockaddr_storage c4 = ip("192.0.2.1", 56324),
	    s4 = ip("198.51.100.11", 5222), c6 = ip("2001:db8::1", 40000),
	    s6 = ip("2001:db8:0:0:0:0:0:2", 5222),
	    m4 = ip("::ffff:192.0.2.7", 1234);
	struct sockaddr_storage unx = { .ss_family = AF_UNIX };
	char buf[PROXYPROTO_V1_MAX + 1];
	int n;

	n = proxyproto_encode_v1(SA(c4), SA(s4), buf, sizeof(buf));
	ok(n > 0 && strcmp(buf, "PROXY TCP4 192.0.2.1 198.51.100.11 56324 "
	    "5222\r\n") == 0 && n == (int)strlen(buf),
	    "v1 TCP4 line, exact text (%d bytes)", n);
	n = proxyproto_encode_v1(SA(c6), SA(s6), buf, sizeof(buf));
	ok(n > 0 && strcmp(buf, "PROXY TCP6 2001:db8::1 2001:db8::2 40000 "
	    "5222\r\n") == 0, "v1 TCP6 line, compressed IPv6");
	n = proxyproto_encode_v1(SA(m4), SA(s4), buf, sizeof(buf));
	ok(n > 0 && strcmp(buf, "PROXY TCP4 192.0.2.7 198.51.100.11 1234 "
	    "5222\r\n") == 0, "v1: IPv4-mapped IPv6 client written as "
	    "TCP4");
	n = proxyproto_encode_v1(SA(c6), SA(s4), buf, sizeof(buf));
	ok(n > 0 && strcmp(buf, "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.11 "
	    "40000 5222\r\n") == 0, "v1: mixed families give TCP6 with the "
	    "IPv4 end mapped");
	n = proxyproto_encode_v1((const struct sockaddr *)&unx, sizeof(unx),
	    SA(s4), buf, sizeof(buf));
	ok(n == 15 && strcmp(buf, "PROXY UNKNOWN\r\n") == 0,
	    "v1: a non-IP end gives PROXY UNKNOWN");
	n = proxyproto_encode_v1(SA(c4), SA(s4), buf, 20);
	ok(n == -1, "v1: a buffer too small is an error, not a cut line");
}

/* --- v2 encoding, byte for byte from spec 2.2 ------------------------ */

static void
test_encode_v2(void)
{
	struct sockaddr_storage c4 = ip("192.0.2.1", 56324),
	    s4 = ip("198.51.100.11", 5222), c6 = ip("2001:db8::1", 40000),
	    s6 = ip("2001:db8::2", 5222);
	struct sockaddr_storage unx = { .ss_family = AF_UNIX };
	/* 12-byte signature, 0x21 = version 2 + PROXY, 0x11 = TCP over
	   IPv4, length 12, then src addr, dst addr, src port, dst port. */
	static const unsigned char plain4[] = SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x0b" "\xdc\x04" "\x14\x66";
	/* The same with ALPN (0x01), AUTHORITY (0x02) and SSL (0x20):
	   client = PP2_CLIENT_SSL, verify = 1 (no client certificate),
	   sub-TLVs VERSION (0x21) and CIPHER (0x23).  Lengths: ALPN 3+11,
	   AUTHORITY 3+11, SSL 3+45 (5 + 3+7 + 3+27); total 12+14+14+48 =
	   88 = 0x58. */
	static const unsigned char tlv4[] = SIG "\x21\x11\x00\x58"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x0b" "\xdc\x04" "\x14\x66"
	    "\x01\x00\x0b" "xmpp-client"
	    "\x02\x00\x0b" "example.org"
	    "\x20\x00\x2d" "\x01" "\x00\x00\x00\x01"
	    "\x21\x00\x07" "TLSv1.2"
	    "\x23\x00\x1b" "ECDHE-RSA-AES128-GCM-SHA256";
	/* TCP over IPv6 (0x21), length 36. */
	static const unsigned char plain6[] = SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
	    "\x9c\x40" "\x14\x66";
	/* A non-IP end: AF_UNSPEC (0x00), no address block, TLVs only. */
	static const unsigned char unspec[] = SIG "\x21\x00\x00\x0e"
	    "\x02\x00\x0b" "example.org";
	struct proxyproto_tlvs all = {
		.alpn = "xmpp-client", .authority = "example.org",
		.tls_version = "TLSv1.2",
		.tls_cipher = "ECDHE-RSA-AES128-GCM-SHA256",
	}, auth = { .authority = "example.org" }, empty = { .alpn = "" };
	unsigned char buf[PROXYPROTO_MAX_HEADER];
	char longname[PROXYPROTO_MAX_HEADER];
	int n;

	n = proxyproto_encode_v2(SA(c4), SA(s4), NULL, buf, sizeof(buf));
	ok(same_bytes(buf, n, plain4, sizeof(plain4) - 1),
	    "v2 TCP over IPv4, no TLVs: the spec's 28 bytes");
	n = proxyproto_encode_v2(SA(c4), SA(s4), &empty, buf, sizeof(buf));
	ok(same_bytes(buf, n, plain4, sizeof(plain4) - 1),
	    "v2: empty TLV strings are left out");
	n = proxyproto_encode_v2(SA(c4), SA(s4), &all, buf, sizeof(buf));
	ok(same_bytes(buf, n, tlv4, sizeof(tlv4) - 1),
	    "v2 with ALPN, AUTHORITY and SSL{VERSION, CIPHER} TLVs, byte for "
	    "byte (104 bytes)");
	n = proxyproto_encode_v2(SA(c6), SA(s6), NULL, buf, sizeof(buf));
	ok(same_bytes(buf, n, plain6, sizeof(plain6) - 1),
	    "v2 TCP over IPv6: family 0x21, 36-byte address block");
	n = proxyproto_encode_v2((const struct sockaddr *)&unx, sizeof(unx),
	    SA(s4), &auth, buf, sizeof(buf));
	ok(same_bytes(buf, n, unspec, sizeof(unspec) - 1),
	    "v2 with a non-IP end: AF_UNSPEC, TLVs right after the 16 bytes");
	n = proxyproto_encode_v2(SA(c6), SA(s4), NULL, buf, sizeof(buf));
	ok(n == 16 + 36 && buf[13] == 0x21 && memcmp(buf + 16 + 16,
	    "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x0b", 16) == 0,
	    "v2 mixed families: TCP over IPv6, the IPv4 end mapped");
	n = proxyproto_encode_v2(SA(c4), SA(s4), &all, buf, 60);
	ok(n == -1, "v2: buffer too small for the TLVs is an error");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	auth.authority = longname;
	n = proxyproto_encode_v2(SA(c4), SA(s4), &auth, buf, sizeof(buf));
	ok(n == -1, "v2: a header over PROXYPROTO_MAX_HEADER is refused");
}

/* --- decoding -------------------------------------------------------- */

/* Decode msg (len bytes) in chunks of step bytes; returns the result and
   sets *used to the bytes taken in total. */
static int
decode_chunked(struct proxyproto_decoder *d, const void *msg, size_t len,
    size_t step, size_t *used)
{
	const unsigned char *p = msg;
	size_t off = 0, n, u;
	int r = 0;

	*used = 0;
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = proxyproto_decode(d, p + off, n, &u);
		*used += u;
		if (r != 0)
			return r;
		off += n;
	}
	return r;
}

static void
test_roundtrip(void)
{
	struct sockaddr_storage c4 = ip("203.0.113.9", 61000),
	    s4 = ip("198.51.100.11", 5222), c6 = ip("2001:db8::99", 443),
	    s6 = ip("2001:db8::1", 5222);
	struct proxyproto_tlvs all = {
		.alpn = "xmpp-client", .authority = "example.org",
		.tls_version = "TLSv1.2",
		.tls_cipher = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
	};
	static const size_t steps[] = { 1, 2, 3, 7, 16, 4096 };
	const char tail[] = "<?xml version='1.0'?>";
	unsigned char msg[PROXYPROTO_MAX_HEADER + 64];
	const struct proxyproto_info *info;
	struct proxyproto_decoder *d;
	char a[80], b[80];
	size_t s, used;
	int n, r, v, good;

	for (v = 0; v < 4; v++) {
		const struct sockaddr_storage *src = v % 2 ? &c6 : &c4,
		    *dst = v % 2 ? &s6 : &s4;

		if (v < 2)
			n = proxyproto_encode_v1(SA(*src), SA(*dst), (char *)msg,
			    sizeof(msg));
		else
			n = proxyproto_encode_v2(SA(*src), SA(*dst), &all, msg,
			    sizeof(msg));
		memcpy(msg + n, tail, sizeof(tail) - 1);
		good = 1;
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			d = proxyproto_decoder_new();
			r = decode_chunked(d, msg, (size_t)n + sizeof(tail) - 1,
			    steps[s], &used);
			info = proxyproto_decoder_info(d);
			if (r <= 0 || info == NULL || used != (size_t)n ||
			    !info->proxied ||
			    info->version != (v < 2 ? PROXYPROTO_V1 :
			    PROXYPROTO_V2) ||
			    strcmp(fmt(&info->src, a, sizeof(a)),
			    fmt(src, b, sizeof(b))) != 0 ||
			    strcmp(fmt(&info->dst, a, sizeof(a)),
			    fmt(dst, b, sizeof(b))) != 0) {
				printf("# v%d %s, chunks of %zu: r=%d used=%zu "
				    "(header %d) error=%s\n", v < 2 ? 1 : 2,
				    v % 2 ? "IPv6" : "IPv4", steps[s], r, used,
				    n, proxyproto_decoder_error(d));
				good = 0;
			} else if (v >= 2 && (strcmp(info->alpn, all.alpn) ||
			    strcmp(info->authority, all.authority) ||
			    strcmp(info->tls_version, all.tls_version) ||
			    strcmp(info->tls_cipher, all.tls_cipher) ||
			    !info->tls)) {
				printf("# TLVs differ: %s %s %s %s\n", info->alpn,
				    info->authority, info->tls_version,
				    info->tls_cipher);
				good = 0;
			}
			proxyproto_decoder_free(d);
		}
		ok(good, "decode(encode_v%d(%s)) gives the addresses%s back in "
		    "any chunking, and stops exactly at the header's end",
		    v < 2 ? 1 : 2, v % 2 ? "IPv6" : "IPv4",
		    v >= 2 ? " and TLVs" : "");
	}

	/* After the end: the same answer, nothing more taken. */
	d = proxyproto_decoder_new();
	n = proxyproto_encode_v1(SA(c4), SA(s4), (char *)msg, sizeof(msg));
	r = proxyproto_decode(d, msg, (size_t)n, &used);
	r = proxyproto_decode(d, "abc", 3, &used);
	ok(r == 1 && used == 0, "after the header, further input is not "
	    "taken");
	proxyproto_decoder_free(d);
}

static void
test_local_unknown(void)
{
	static const char unknown[] = "PROXY UNKNOWN\r\n<stream>";
	static const char unknown_long[] = "PROXY UNKNOWN ffff::1 ffff::2 "
	    "65535 65535\r\n";
	/* LOCAL (0x20) with an address block the receiver must skip. */
	static const unsigned char local[] = SIG "\x20\x11\x00\x0c"
	    "\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x50\x00\x50" "<x/>";
	/* PROXY over UDP: valid, but not ours: real endpoints are used. */
	static const unsigned char udp[] = SIG "\x21\x12\x00\x0c"
	    "\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x50\x00\x50";
	/* UNSPEC with a NOOP TLV. */
	static const unsigned char noop[] = SIG "\x21\x00\x00\x05"
	    "\x04\x00\x02\x00\x00";
	const struct proxyproto_info *info;
	struct proxyproto_decoder *d;
	size_t used;
	int r;

	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, unknown, sizeof(unknown) - 1, &used);
	info = proxyproto_decoder_info(d);
	ok(r == 1 && used == 15 && info && !info->proxied &&
	    info->version == PROXYPROTO_V1, "v1 UNKNOWN: accepted, real "
	    "addresses kept, 15 bytes taken");
	proxyproto_decoder_free(d);

	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, unknown_long, sizeof(unknown_long) - 1, &used);
	ok(r == 1 && !proxyproto_decoder_info(d)->proxied,
	    "v1 UNKNOWN with addresses: the rest of the line is ignored");
	proxyproto_decoder_free(d);

	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, local, sizeof(local) - 1, &used);
	info = proxyproto_decoder_info(d);
	ok(r == 1 && used == 28 && info && !info->proxied &&
	    info->version == PROXYPROTO_V2, "v2 LOCAL: accepted, block "
	    "skipped, real addresses kept");
	proxyproto_decoder_free(d);

	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, udp, sizeof(udp) - 1, &used);
	ok(r == 1 && !proxyproto_decoder_info(d)->proxied,
	    "v2 UDP over IPv4: falls back to the real endpoints");
	proxyproto_decoder_free(d);

	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, noop, sizeof(noop) - 1, &used);
	ok(r == 1 && used == 21 && !proxyproto_decoder_info(d)->proxied,
	    "v2 UNSPEC with a NOOP TLV: accepted");
	proxyproto_decoder_free(d);
}

struct bad_case {
	const char *what;
	const char *bytes;
	size_t len;
	const char *error;
	size_t max_fed;		/* refused after at most this many bytes */
};

#define B(s)	s, sizeof(s) - 1

static const struct bad_case bad[] = {
	{ "an XMPP client (no header)", B("<?xml version='1.0'?>"),
	    "bad-signature", 1 },
	{ "a TLS ClientHello", B("\x16\x03\x01\x02\x00\x01"),
	    "bad-signature", 1 },
	{ "HTTP", B("GET / HTTP/1.0\r\n\r\n"), "bad-signature", 1 },
	{ "PROXZ", B("PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    "bad-signature", 5 },
	{ "v2 signature broken at byte 7", B("\r\n\r\n\0\r\nX"),
	    "bad-signature", 8 },
	{ "v1 without the space", B("PROXYTCP4\r\n"), "bad-line", 6 },
	{ "v1 unknown protocol", B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
	    "bad-family", 0 },
	{ "v1 lower-case tcp4", B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    "bad-family", 0 },
	{ "v1 leading zero in an address",
	    B("PROXY TCP4 192.0.2.01 5.6.7.8 1 2\r\n"), "bad-address", 0 },
	{ "v1 octet over 255", B("PROXY TCP4 192.0.2.256 5.6.7.8 1 2\r\n"),
	    "bad-address", 0 },
	{ "v1 three octets", B("PROXY TCP4 192.0.2 5.6.7.8 1 2\r\n"),
	    "bad-address", 0 },
	{ "v1 IPv6 address in TCP4", B("PROXY TCP4 ::1 ::1 1 2\r\n"),
	    "bad-address", 0 },
	{ "v1 IPv4 address in TCP6", B("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"),
	    "bad-address", 0 },
	{ "v1 dotted quad inside IPv6",
	    B("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"), "bad-address", 0 },
	{ "v1 port over 65535", B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
	    "bad-port", 0 },
	{ "v1 port with a leading zero",
	    B("PROXY TCP4 1.2.3.4 5.6.7.8 0443 2\r\n"), "bad-port", 0 },
	{ "v1 negative port", B("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"),
	    "bad-port", 0 },
	{ "v1 two spaces", B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"),
	    "bad-line", 0 },
	{ "v1 trailing space", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"),
	    "bad-line", 0 },
	{ "v1 a field too many", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"),
	    "bad-line", 0 },
	{ "v1 a field missing", B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
	    "bad-line", 0 },
	{ "v1 ended by LF alone", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
	    "bad-line", 0 },
	{ "v1 lone CR inside", B("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"),
	    "bad-line", 0 },
	{ "v1 tab", B("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"), "bad-line", 0 },
	{ "v1 NUL byte", B("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"),
	    "bad-line", 0 },
	{ "v1 no CRLF within 107 bytes",
	    B("PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
	    "bad-line", PROXYPROTO_V1_MAX },
	{ "v2 version 1", B(SIG "\x11\x11\x00\x0c"), "bad-version", 13 },
	{ "v2 version 3", B(SIG "\x31\x11\x00\x0c"), "bad-version", 13 },
	{ "v2 command 2", B(SIG "\x22\x11\x00\x0c"), "bad-command", 13 },
	{ "v2 family 4", B(SIG "\x21\x41\x00\x0c"), "bad-family", 14 },
	{ "v2 protocol 3", B(SIG "\x21\x13\x00\x0c"), "bad-family", 14 },
	{ "v2 AF_INET with UNSPEC protocol", B(SIG "\x21\x10\x00\x0c"),
	    "bad-family", 14 },
	{ "v2 length over the bound", B(SIG "\x21\x11\xff\xff"),
	    "too-large", 16 },
	{ "v2 IPv4 block shorter than 12 bytes",
	    B(SIG "\x21\x11\x00\x04" "\x7f\x00\x00\x01"), "bad-length", 0 },
	{ "v2 IPv6 block shorter than 36 bytes",
	    B(SIG "\x21\x21\x00\x0c" "\x7f\x00\x00\x01\x7f\x00\x00\x01"
	    "\x00\x50\x00\x50"), "bad-length", 0 },
	{ "v2 TLV header cut", B(SIG "\x21\x00\x00\x02" "\x02\x00"),
	    "bad-tlv", 0 },
	{ "v2 TLV value overruns the header",
	    B(SIG "\x21\x00\x00\x05" "\x02\x00\x09" "ab"), "bad-tlv", 0 },
	{ "v2 empty AUTHORITY", B(SIG "\x21\x00\x00\x03" "\x02\x00\x00"),
	    "bad-tlv", 0 },
	{ "v2 NUL inside AUTHORITY",
	    B(SIG "\x21\x00\x00\x06" "\x02\x00\x03" "a\0b"), "bad-tlv", 0 },
	{ "v2 AUTHORITY twice", B(SIG "\x21\x00\x00\x08" "\x02\x00\x01" "a"
	    "\x02\x00\x01" "b"), "bad-tlv", 0 },
	{ "v2 SSL TLV shorter than 5 bytes",
	    B(SIG "\x21\x00\x00\x07" "\x20\x00\x04" "\x01\x00\x00\x00"),
	    "bad-tlv", 0 },
	{ "v2 SSL sub-TLV overruns the SSL TLV",
	    B(SIG "\x21\x00\x00\x0b" "\x20\x00\x08" "\x01\x00\x00\x00\x00"
	    "\x21\x00\x07"), "bad-tlv", 0 },
	{ "v2 CRC32C of 3 bytes",
	    B(SIG "\x21\x00\x00\x06" "\x03\x00\x03" "abc"), "bad-tlv", 0 },
	{ "v2 wrong CRC32C",
	    B(SIG "\x21\x00\x00\x07" "\x03\x00\x04" "\x00\x00\x00\x01"),
	    "bad-checksum", 0 },
	{ "v2 UNIQUE_ID over 128 bytes",
	    B(SIG "\x21\x00\x00\x84" "\x05\x00\x81"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "a"), "bad-tlv", 0 },
};

static void
test_malformed(void)
{
	struct proxyproto_decoder *d;
	const char *err;
	size_t i, used, fed;
	int r, r1, same;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = proxyproto_decoder_new();
		r = proxyproto_decode(d, bad[i].bytes, bad[i].len, &used);
		err = proxyproto_decoder_error(d);
		proxyproto_decoder_free(d);
		/* One byte at a time: the same verdict, and early when the
		   case says how early. */
		d = proxyproto_decoder_new();
		r1 = 0;
		for (fed = 0; fed < bad[i].len && r1 == 0; fed++)
			r1 = proxyproto_decode(d, bad[i].bytes + fed, 1, &used);
		same = r1 < 0 && proxyproto_decoder_error(d) != NULL &&
		    err != NULL && strcmp(proxyproto_decoder_error(d), err) == 0;
		ok(r < 0 && err != NULL && strcmp(err, bad[i].error) == 0 &&
		    same && (bad[i].max_fed == 0 || fed <= bad[i].max_fed),
		    "refused: %s -> %s (got %d %s, bytewise %d after %zu)",
		    bad[i].what, bad[i].error, r, err ? err : "-", r1, fed);
		proxyproto_decoder_free(d);
	}
}

static void
test_crc(void)
{
	/* UNSPEC header with a CRC32C TLV, checksum filled in. */
	unsigned char h[] = SIG "\x21\x00\x00\x07" "\x03\x00\x04"
	    "\x00\x00\x00\x00";
	struct proxyproto_decoder *d;
	uint32_t crc;
	size_t used;
	int r;

	ok(proxyproto_crc32c((const unsigned char *)"123456789", 9) ==
	    0xe3069283U, "CRC32c check value of \"123456789\" (RFC 3720 B.4)");
	crc = proxyproto_crc32c(h, sizeof(h) - 1);
	h[19] = (unsigned char)(crc >> 24);
	h[20] = (unsigned char)(crc >> 16);
	h[21] = (unsigned char)(crc >> 8);
	h[22] = (unsigned char)crc;
	d = proxyproto_decoder_new();
	r = proxyproto_decode(d, h, sizeof(h) - 1, &used);
	ok(r == 1, "v2 header with a correct CRC32C TLV is accepted (%s)",
	    proxyproto_decoder_error(d) ? proxyproto_decoder_error(d) : "ok");
	proxyproto_decoder_free(d);
}

/* --- trusted address blocks ------------------------------------------ */

static void
test_cidr(void)
{
	static const struct {
		const char *text;
		int ok;
	} parse[] = {
		{ "127.0.0.1", 1 }, { "10.0.0.0/8", 1 }, { "0.0.0.0/0", 1 },
		{ "::1", 1 }, { "2001:db8::/32", 1 }, { "::/0", 1 },
		{ "10.0.0.1/8", 0 }, { "10.0.0.0/33", 0 }, { "10.0.0.0/", 0 },
		{ "10.0.0.0/08", 0 }, { "010.0.0.1", 0 }, { "10.0.0", 0 },
		{ "example.org", 0 }, { "", 0 }, { "/8", 0 },
		{ "2001:db8::1/32", 0 }, { "::1/129", 0 }, { "1.2.3.4 ", 0 },
	};
	struct proxyproto_cidr set[3];
	struct sockaddr_storage a;
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(parse) / sizeof(parse[0]); i++) {
		struct proxyproto_cidr c;
		int r = proxyproto_cidr_parse(parse[i].text, &c);

		if ((r == 0) != parse[i].ok) {
			printf("# cidr \"%s\": got %d\n", parse[i].text, r);
			good = 0;
		}
	}
	ok(good, "address blocks: addresses, prefixes, and typos refused "
	    "(host bits, leading zeros, names)");

	proxyproto_cidr_parse("127.0.0.0/8", &set[0]);
	proxyproto_cidr_parse("192.0.2.128/25", &set[1]);
	proxyproto_cidr_parse("2001:db8::/33", &set[2]);
	a = ip("127.3.2.1", 1);
	ok(proxyproto_cidr_match(set, 3, SA(a)), "127.3.2.1 in 127.0.0.0/8");
	a = ip("192.0.2.200", 1);
	ok(proxyproto_cidr_match(set, 3, SA(a)), "192.0.2.200 in "
	    "192.0.2.128/25");
	a = ip("192.0.2.127", 1);
	ok(!proxyproto_cidr_match(set, 3, SA(a)), "192.0.2.127 not in "
	    "192.0.2.128/25");
	a = ip("::ffff:127.0.0.1", 1);
	ok(proxyproto_cidr_match(set, 3, SA(a)), "IPv4-mapped ::ffff:127.0.0.1 "
	    "matches the IPv4 block");
	a = ip("2001:db8:7fff::1", 1);
	ok(proxyproto_cidr_match(set, 3, SA(a)), "2001:db8:7fff::1 in "
	    "2001:db8::/33");
	a = ip("2001:db8:8000::1", 1);
	ok(!proxyproto_cidr_match(set, 3, SA(a)), "2001:db8:8000::1 not in "
	    "2001:db8::/33");
	a = ip("::1", 1);
	ok(!proxyproto_cidr_match(set, 3, SA(a)), "::1 matches no IPv4 block");
	ok(!proxyproto_cidr_match(set, 0, SA(a)), "an empty list trusts "
	    "nobody");
}

/*
 * proxyproto_decoder_want(): reading exactly what it allows never takes
 * a byte past the header, so a TLS listener leaves the ClientHello in the
 * socket for the TLS layer.
 */
static void
test_want(void)
{
	struct sockaddr_storage c4 = ip("203.0.113.9", 61000),
	    s4 = ip("198.51.100.11", 5223), c6 = ip("2001:db8::99", 443),
	    s6 = ip("2001:db8::1", 5223);
	struct proxyproto_tlvs all = {
		.alpn = "xmpp-client", .authority = "example.org",
	};
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00";
	unsigned char msg[PROXYPROTO_MAX_HEADER + 64];
	struct proxyproto_decoder *d;
	size_t hlen, off, want, used, reads;
	int n, r, v, over;

	for (v = 0; v < 6; v++) {
		const char *what;

		switch (v) {
		case 0:
			n = proxyproto_encode_v1(SA(c4), SA(s4), (char *)msg,
			    sizeof(msg));
			what = "v1 TCP4";
			break;
		case 1:
			n = proxyproto_encode_v1(SA(c6), SA(s6), (char *)msg,
			    sizeof(msg));
			what = "v1 TCP6";
			break;
		case 2:
			memcpy(msg, "PROXY UNKNOWN\r\n", 15);
			n = 15;
			what = "v1 UNKNOWN, the shortest header";
			break;
		case 3:
			n = proxyproto_encode_v2(SA(c4), SA(s4), NULL, msg,
			    sizeof(msg));
			what = "v2 TCP4";
			break;
		case 4:
			n = proxyproto_encode_v2(SA(c6), SA(s6), &all, msg,
			    sizeof(msg));
			what = "v2 TCP6 with TLVs";
			break;
		default:
			memcpy(msg, SIG "\x20\x00\x00\x00", 16);
			n = 16;
			what = "v2 LOCAL, the shortest v2 header";
			break;
		}
		if (n <= 0) {
			ok(0, "%s: encoded", what);
			continue;
		}
		hlen = (size_t)n;
		memcpy(msg + hlen, hello, sizeof(hello) - 1);
		if ((d = proxyproto_decoder_new()) == NULL)
			return;
		off = reads = 0;
		over = 0;
		r = 0;
		while (r == 0 && (want = proxyproto_decoder_want(d)) > 0) {
			if (off + want > hlen)
				over = 1;
			r = proxyproto_decode(d, msg + off, want, &used);
			over |= used != want;
			off += used;
			reads++;
		}
		ok(r > 0 && !over && off == hlen &&
		    proxyproto_decoder_want(d) == 0, "want: %s read in %zu "
		    "exact reads, nothing past its %zu bytes", what, reads,
		    hlen);
		proxyproto_decoder_free(d);
	}
	d = proxyproto_decoder_new();
	if (d != NULL) {
		ok(proxyproto_decoder_want(d) == 15, "want: 15 bytes first");
		proxyproto_decode(d, "\x16\x03", 2, &used);
		ok(proxyproto_decoder_want(d) == 0, "want: 0 after a failure");
		proxyproto_decoder_free(d);
	}
	ok(proxyproto_decoder_want(NULL) == 0, "want: NULL decoder");
}

int
main(void)
{
	test_encode_v1();
	test_encode_v2();
	test_roundtrip();
	test_local_unknown();
	test_malformed();
	test_crc();
	test_cidr();
	test_want();
	return tap_done();
}
