/*
 * proxyproto.h - the PROXY protocol, versions 1 and 2 (HAProxy's
 * doc/proxy-protocol.txt), both ways.
 *
 * Sending: one header per backend connection, written before any client
 * byte, so that the backend sees the client's address (v1 text line, or
 * v2 binary with TLVs for ALPN, the authority (SNI / served domain) and
 * the client's TLS version and cipher).
 *
 * Receiving: an incremental decoder for a listener behind a load
 * balancer.  It buffers at most PROXYPROTO_MAX_HEADER bytes, refuses as
 * soon as a byte cannot start or continue a valid header, and says how
 * many of the bytes fed belonged to the header; the rest is the client's
 * stream.  Whether a header is expected is configuration, never guessed
 * (spec section 5), and only trusted sources may send one: see
 * proxyproto_cidr_match().
 *
 * Pure module: no I/O, no libevent, no logging.
 */
#ifndef XMPPSHIELD_PROXYPROTO_H
#define XMPPSHIELD_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum proxyproto_version {
	PROXYPROTO_NONE = 0,
	PROXYPROTO_V1 = 1,
	PROXYPROTO_V2 = 2,
};

/* The longest v1 line, CRLF included (spec 2.1). */
#define PROXYPROTO_V1_MAX	107
/* The longest v2 header accepted or written: 16 fixed bytes, the address
   block and TLVs.  Real senders stay far below; the spec allows 64 KiB,
   a bounded receiver refuses more ("too-large"). */
#define PROXYPROTO_MAX_HEADER	1024

/* v2 TLV types and SSL sub-types (spec 2.2). */
#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_CRC32C		0x03
#define PP2_TYPE_NOOP		0x04
#define PP2_TYPE_UNIQUE_ID	0x05
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CN	0x22
#define PP2_SUBTYPE_SSL_CIPHER	0x23
#define PP2_SUBTYPE_SSL_SIG_ALG	0x24
#define PP2_SUBTYPE_SSL_KEY_ALG	0x25
#define PP2_TYPE_NETNS		0x30
#define PP2_CLIENT_SSL		0x01

/* The TLVs a v2 header carries; NULL or "" leaves one out. */
struct proxyproto_tlvs {
	const char *alpn;		/* PP2_TYPE_ALPN, e.g. "xmpp-client" */
	const char *authority;		/* PP2_TYPE_AUTHORITY: SNI / domain */
	const char *tls_version;	/* PP2_SUBTYPE_SSL_VERSION */
	const char *tls_cipher;		/* PP2_SUBTYPE_SSL_CIPHER */
};

/*
 * Write a v1 line "PROXY TCP4|TCP6 src dst sport dport\r\n" into buf.
 * Two IPv4 (or IPv4-mapped IPv6) ends give TCP4; otherwise TCP6, an IPv4
 * end then written IPv4-mapped.  When an end is not an IP address, the
 * line is "PROXY UNKNOWN\r\n".
 * Returns the length written (no NUL), or -1 if buf is too small.
 */
int proxyproto_encode_v1(const struct sockaddr *src, socklen_t srclen,
    const struct sockaddr *dst, socklen_t dstlen, char *buf, size_t len);

/*
 * Write a v2 header (command PROXY, TCP over IPv4 or IPv6 chosen as for
 * v1; AF_UNSPEC with no address block when an end is not an IP address)
 * followed by the TLVs
 * in tlvs (may be NULL), in ascending type order: ALPN, AUTHORITY, SSL.
 * The SSL TLV is written when tls_version or tls_cipher is set, with
 * client = PP2_CLIENT_SSL and verify = 1 (no client certificate was
 * verified).  Returns the length, or -1 if buf is too small or the
 * header would exceed PROXYPROTO_MAX_HEADER.
 */
int proxyproto_encode_v2(const struct sockaddr *src, socklen_t srclen,
    const struct sockaddr *dst, socklen_t dstlen,
    const struct proxyproto_tlvs *tlvs, unsigned char *buf, size_t len);

/* What a received header said. */
struct proxyproto_info {
	enum proxyproto_version version;
	/* 1: src and dst are the original connection's; 0: a v2 LOCAL
	   command, a v1 UNKNOWN line or an address family this receiver
	   does not use: keep the socket's own addresses (spec 2.1, 2.2). */
	int proxied;
	struct sockaddr_storage src, dst;
	socklen_t srclen, dstlen;
	/* v2 TLVs, NUL-terminated; "" when absent. */
	char authority[256];
	char alpn[64];
	char tls_version[32];
	char tls_cipher[64];
	int tls;		/* the SSL TLV had PP2_CLIENT_SSL set */
};

struct proxyproto_decoder;

struct proxyproto_decoder *proxyproto_decoder_new(void);
void proxyproto_decoder_free(struct proxyproto_decoder *d);

/*
 * Feed the next len bytes of the connection.  Returns
 *   < 0  not a valid header: proxyproto_decoder_error() names why;
 *   0    the header is incomplete: every byte was taken, feed more;
 *   > 0  the header is complete: *used bytes of data belonged to it, the
 *        remaining len - *used bytes are the start of the client's
 *        stream; proxyproto_decoder_info() describes it.
 * After a non-zero return, further calls return the same result and take
 * nothing.
 */
int proxyproto_decode(struct proxyproto_decoder *d, const void *data,
    size_t len, size_t *used);

/*
 * How many bytes the caller may read from the connection and feed next
 * without taking a byte that follows the header: at least 1 while the
 * header is incomplete, 0 once decoding ended.  A TLS listener reads
 * exactly this much, so that the ClientHello stays in the socket for the
 * TLS layer (15 bytes first: the shortest v1 line, "PROXY UNKNOWN\r\n";
 * then a v2 header's announced length, or a v1 line byte by byte).
 */
size_t proxyproto_decoder_want(const struct proxyproto_decoder *d);

/* The decoded header, once proxyproto_decode() returned > 0; else NULL. */
const struct proxyproto_info *proxyproto_decoder_info(
    const struct proxyproto_decoder *d);

/*
 * Why decoding failed, one word for logs: "bad-signature", "bad-version",
 * "bad-command", "bad-family", "bad-length", "too-large", "bad-line",
 * "bad-address", "bad-port", "bad-tlv", "bad-checksum"; NULL if none.
 */
const char *proxyproto_decoder_error(const struct proxyproto_decoder *d);

/* An address block a.b.c.d[/n] or v6[/n] of trusted senders. */
struct proxyproto_cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network byte order; host bits zero */
	unsigned prefix;	/* 0..32 or 0..128 */
};

/*
 * Parse text ("192.0.2.10", "10.0.0.0/8", "::1", "2001:db8::/32") into
 * *out.  A prefix with host bits set ("10.0.0.1/8") is refused, since it
 * is most likely a typo.  0 or -1.
 */
int proxyproto_cidr_parse(const char *text, struct proxyproto_cidr *out);

/* 1 if sa falls in any of the n blocks (IPv4-mapped IPv6 addresses
   match IPv4 blocks), else 0. */
int proxyproto_cidr_match(const struct proxyproto_cidr *cidrs, size_t n,
    const struct sockaddr *sa, socklen_t salen);

/* CRC32c (Castagnoli, RFC 4960 appendix B) of len bytes, as the
   PP2_TYPE_CRC32C TLV uses it. */
uint32_t proxyproto_crc32c(const unsigned char *p, size_t len);

#endif
