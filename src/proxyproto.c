/*
 * proxyproto.c - PROXY protocol v1/v2 encoder, decoder and trusted
 * address blocks; see proxyproto.h.  Written from HAProxy's
 * doc/proxy-protocol.txt (2020/03/05 revision).
 *
 * The decoder takes one byte at a time into a fixed buffer: a header is
 * at most PROXYPROTO_MAX_HEADER bytes, and each byte is checked as soon
 * as it arrives (signature, version, command, family, length), so a
 * client that is not speaking the protocol is refused at its first wrong
 * byte instead of after a timeout.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

#define V2_FIXED	16	/* signature, ver_cmd, fam, len */
#define V1_MIN		15	/* "PROXY UNKNOWN\r\n" */
#define V2_LEN_IP4	12	/* 2 * 4 + 2 * 2 */
#define V2_LEN_IP6	36	/* 2 * 16 + 2 * 2 */
#define V2_LEN_UNIX	216	/* 2 * 108 */
#define SSL_FIXED	5	/* client (1) + verify (4) */
#define UNIQUE_ID_MAX	128

enum dstate {
	D_RUNNING,
	D_DONE,
	D_FAILED,
};

struct proxyproto_decoder {
	unsigned char buf[PROXYPROTO_MAX_HEADER];
	size_t have;
	size_t need;		/* v2: total header length once known */
	enum dstate state;
	const char *error;
	struct proxyproto_info info;
};

/* An IP endpoint with IPv4-mapped IPv6 unfolded to IPv4. */
struct endpoint {
	int family;		/* AF_INET, AF_INET6, or 0: not IP */
	unsigned char addr[16];
	uint16_t port;		/* network byte order */
};

static void
endpoint_of(const struct sockaddr *sa, socklen_t len, struct endpoint *e)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	memset(e, 0, sizeof(*e));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		e->family = AF_INET;
		memcpy(e->addr, &sin->sin_addr, 4);
		e->port = sin->sin_port;
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
			e->family = AF_INET;
			memcpy(e->addr, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			e->family = AF_INET6;
			memcpy(e->addr, sin6->sin6_addr.s6_addr, 16);
		}
		e->port = sin6->sin6_port;
	}
}

/*
 * Both ends in one family: IPv4 when both are IPv4 (or IPv4-mapped),
 * otherwise IPv6 with an IPv4 end written IPv4-mapped, so that no address
 * is lost.  0 when either end is not IP.
 */
static int
endpoint_pair(const struct sockaddr *src, socklen_t srclen,
    const struct sockaddr *dst, socklen_t dstlen, struct endpoint *s,
    struct endpoint *d)
{
	struct endpoint *e[2] = { s, d };
	int i;

	endpoint_of(src, srclen, s);
	endpoint_of(dst, dstlen, d);
	if (s->family == 0 || d->family == 0)
		return 0;
	if (s->family == d->family)
		return s->family;
	for (i = 0; i < 2; i++)
		if (e[i]->family == AF_INET) {
			memmove(e[i]->addr + 12, e[i]->addr, 4);
			memset(e[i]->addr, 0, 10);
			e[i]->addr[10] = e[i]->addr[11] = 0xff;
			e[i]->family = AF_INET6;
		}
	return AF_INET6;
}

/* --- encoding -------------------------------------------------------- */

int
proxyproto_encode_v1(const struct sockaddr *src, socklen_t srclen,
    const struct sockaddr *dst, socklen_t dstlen, char *buf, size_t len)
{
	struct endpoint s, d;
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int n;

	if (endpoint_pair(src, srclen, dst, dstlen, &s, &d) == 0)
		n = snprintf(buf, len, "PROXY UNKNOWN\r\n");
	else {
		inet_ntop(s.family, s.addr, sa, sizeof(sa));
		inet_ntop(d.family, d.addr, da, sizeof(da));
		n = snprintf(buf, len, "PROXY %s %s %s %u %u\r\n",
		    s.family == AF_INET ? "TCP4" : "TCP6", sa, da,
		    ntohs(s.port), ntohs(d.port));
	}
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* Append one TLV; -1 if it does not fit in cap. */
static int
put_tlv(unsigned char *buf, size_t *off, size_t cap, unsigned type,
    const void *value, size_t vlen)
{
	if (vlen > 0xffff || *off + 3 + vlen > cap)
		return -1;
	buf[(*off)++] = (unsigned char)type;
	buf[(*off)++] = (unsigned char)(vlen >> 8);
	buf[(*off)++] = (unsigned char)(vlen & 0xff);
	if (vlen > 0)
		memcpy(buf + *off, value, vlen);
	*off += vlen;
	return 0;
}

static int
present(const char *s)
{
	return s != NULL && *s != '\0';
}

int
proxyproto_encode_v2(const struct sockaddr *src, socklen_t srclen,
    const struct sockaddr *dst, socklen_t dstlen,
    const struct proxyproto_tlvs *tlvs, unsigned char *buf, size_t len)
{
	struct endpoint s, d;
	size_t cap = len < PROXYPROTO_MAX_HEADER ? len : PROXYPROTO_MAX_HEADER;
	size_t off = V2_FIXED, ssl_start, body;
	unsigned char ssl_head[SSL_FIXED] = { PP2_CLIENT_SSL, 0, 0, 0, 1 };

	if (cap < V2_FIXED)
		return -1;
	endpoint_pair(src, srclen, dst, dstlen, &s, &d);
	memcpy(buf, v2sig, sizeof(v2sig));
	buf[12] = 0x21;		/* version 2, command PROXY */
	if (s.family == AF_INET) {
		if (off + V2_LEN_IP4 > cap)
			return -1;
		buf[13] = 0x11;	/* TCP over IPv4 */
		memcpy(buf + off, s.addr, 4);
		memcpy(buf + off + 4, d.addr, 4);
		memcpy(buf + off + 8, &s.port, 2);
		memcpy(buf + off + 10, &d.port, 2);
		off += V2_LEN_IP4;
	} else if (s.family == AF_INET6) {
		if (off + V2_LEN_IP6 > cap)
			return -1;
		buf[13] = 0x21;	/* TCP over IPv6 */
		memcpy(buf + off, s.addr, 16);
		memcpy(buf + off + 16, d.addr, 16);
		memcpy(buf + off + 32, &s.port, 2);
		memcpy(buf + off + 34, &d.port, 2);
		off += V2_LEN_IP6;
	} else
		buf[13] = 0x00;	/* AF_UNSPEC: no address block */

	if (tlvs != NULL) {
		if (present(tlvs->alpn) && put_tlv(buf, &off, cap,
		    PP2_TYPE_ALPN, tlvs->alpn, strlen(tlvs->alpn)) == -1)
			return -1;
		if (present(tlvs->authority) && put_tlv(buf, &off, cap,
		    PP2_TYPE_AUTHORITY, tlvs->authority,
		    strlen(tlvs->authority)) == -1)
			return -1;
		if (present(tlvs->tls_version) || present(tlvs->tls_cipher)) {
			/* The SSL TLV's length covers its sub-TLVs: write
			   them first, then patch the length in. */
			ssl_start = off;
			if (put_tlv(buf, &off, cap, PP2_TYPE_SSL, ssl_head,
			    sizeof(ssl_head)) == -1)
				return -1;
			if (present(tlvs->tls_version) && put_tlv(buf, &off,
			    cap, PP2_SUBTYPE_SSL_VERSION, tlvs->tls_version,
			    strlen(tlvs->tls_version)) == -1)
				return -1;
			if (present(tlvs->tls_cipher) && put_tlv(buf, &off,
			    cap, PP2_SUBTYPE_SSL_CIPHER, tlvs->tls_cipher,
			    strlen(tlvs->tls_cipher)) == -1)
				return -1;
			body = off - ssl_start - 3;
			buf[ssl_start + 1] = (unsigned char)(body >> 8);
			buf[ssl_start + 2] = (unsigned char)(body & 0xff);
		}
	}
	body = off - V2_FIXED;
	buf[14] = (unsigned char)(body >> 8);
	buf[15] = (unsigned char)(body & 0xff);
	return (int)off;
}

/* --- decoding -------------------------------------------------------- */

struct proxyproto_decoder *
proxyproto_decoder_new(void)
{
	return calloc(1, sizeof(struct proxyproto_decoder));
}

void
proxyproto_decoder_free(struct proxyproto_decoder *d)
{
	free(d);
}

static int
fail(struct proxyproto_decoder *d, const char *why)
{
	d->state = D_FAILED;
	d->error = why;
	return -1;
}

/* A decimal number without leading zeros, at most max; -1 if not. */
static long
strict_number(const char *s, long max)
{
	long v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* Four decimal octets, no leading zeros (spec 2.1: no octal confusion). */
static int
strict_ipv4(const char *s, unsigned char out[4])
{
	char part[4];
	const char *p = s, *dot;
	long v;
	int i;

	for (i = 0; i < 4; i++) {
		dot = strchr(p, '.');
		if ((i < 3) != (dot != NULL))
			return -1;
		if (dot == NULL)
			dot = p + strlen(p);
		if (dot - p < 1 || dot - p > 3)
			return -1;
		memcpy(part, p, (size_t)(dot - p));
		part[dot - p] = '\0';
		if ((v = strict_number(part, 255)) < 0)
			return -1;
		out[i] = (unsigned char)v;
		p = *dot == '.' ? dot + 1 : dot;
	}
	return 0;
}

/* Hex groups and colons only (no embedded dotted quad), 128 bits. */
static int
strict_ipv6(const char *s, unsigned char out[16])
{
	if (strspn(s, "0123456789abcdefABCDEF:") != strlen(s))
		return -1;
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static void
set_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int family,
    const unsigned char *addr, uint16_t nport)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = nport;
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = nport;
		*len = sizeof(*sin6);
	}
}

/* The complete line in d->buf, CRLF included. */
static int
parse_v1(struct proxyproto_decoder *d)
{
	char line[PROXYPROTO_V1_MAX + 1], *tok[7], *save = NULL, *t;
	unsigned char sa[16], da[16];
	size_t n = d->have - 2, i;
	int family, ntok = 0;
	long sp, dp;

	memcpy(line, d->buf, n);
	line[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return fail(d, "bad-line");
	d->info.version = PROXYPROTO_V1;
	/* "UNKNOWN": the receiver ignores the rest of the line. */
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		d->info.proxied = 0;
		return 1;
	}
	/* Exactly one space between fields: no empty field, none extra. */
	if (strstr(line, "  ") != NULL || line[n - 1] == ' ')
		return fail(d, "bad-line");
	for (t = strtok_r(line, " ", &save); t != NULL && ntok < 7;
	    t = strtok_r(NULL, " ", &save))
		tok[ntok++] = t;
	if (ntok != 6 || strcmp(tok[0], "PROXY") != 0)
		return fail(d, "bad-line");
	if (strcmp(tok[1], "TCP4") == 0) {
		family = AF_INET;
		if (strict_ipv4(tok[2], sa) == -1 ||
		    strict_ipv4(tok[3], da) == -1)
			return fail(d, "bad-address");
	} else if (strcmp(tok[1], "TCP6") == 0) {
		family = AF_INET6;
		if (strict_ipv6(tok[2], sa) == -1 ||
		    strict_ipv6(tok[3], da) == -1)
			return fail(d, "bad-address");
	} else
		return fail(d, "bad-family");
	if ((sp = strict_number(tok[4], 65535)) < 0 ||
	    (dp = strict_number(tok[5], 65535)) < 0)
		return fail(d, "bad-port");
	set_sockaddr(&d->info.src, &d->info.srclen, family, sa,
	    htons((uint16_t)sp));
	set_sockaddr(&d->info.dst, &d->info.dstlen, family, da,
	    htons((uint16_t)dp));
	d->info.proxied = 1;
	return 1;
}

/* Copy a TLV string value; NUL bytes inside are malformed.  Longer
   values than the field are cut (the field is for logs). */
static int
tlv_string(char *out, size_t outlen, const unsigned char *v, size_t vlen)
{
	size_t n = vlen < outlen - 1 ? vlen : outlen - 1;

	if (memchr(v, '\0', vlen) != NULL)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

static int
parse_ssl(struct proxyproto_decoder *d, const unsigned char *v, size_t vlen)
{
	size_t off = SSL_FIXED, slen;
	int seen_version = 0, seen_cipher = 0;

	if (vlen < SSL_FIXED)
		return fail(d, "bad-tlv");
	d->info.tls = (v[0] & PP2_CLIENT_SSL) != 0;
	while (off < vlen) {
		if (vlen - off < 3)
			return fail(d, "bad-tlv");
		slen = (size_t)v[off + 1] << 8 | v[off + 2];
		if (slen > vlen - off - 3)
			return fail(d, "bad-tlv");
		switch (v[off]) {
		case PP2_SUBTYPE_SSL_VERSION:
			if (seen_version++ || tlv_string(d->info.tls_version,
			    sizeof(d->info.tls_version), v + off + 3, slen))
				return fail(d, "bad-tlv");
			break;
		case PP2_SUBTYPE_SSL_CIPHER:
			if (seen_cipher++ || tlv_string(d->info.tls_cipher,
			    sizeof(d->info.tls_cipher), v + off + 3, slen))
				return fail(d, "bad-tlv");
			break;
		default:
			break;
		}
		off += 3 + slen;
	}
	return 0;
}

/* TLVs in buf[start, d->need). */
static int
parse_tlvs(struct proxyproto_decoder *d, size_t start)
{
	const unsigned char *b = d->buf;
	size_t off = start, end = d->need, vlen, crc_at = 0;
	unsigned seen = 0;	/* bit per type that may appear once */
	uint32_t want, got;

	while (off < end) {
		if (end - off < 3)
			return fail(d, "bad-tlv");
		vlen = (size_t)b[off + 1] << 8 | b[off + 2];
		if (vlen > end - off - 3)
			return fail(d, "bad-tlv");
		switch (b[off]) {
		case PP2_TYPE_ALPN:
			if ((seen & 1) || vlen == 0 || tlv_string(d->info.alpn,
			    sizeof(d->info.alpn), b + off + 3, vlen))
				return fail(d, "bad-tlv");
			seen |= 1;
			break;
		case PP2_TYPE_AUTHORITY:
			if ((seen & 2) || vlen == 0 || vlen > 255 ||
			    tlv_string(d->info.authority,
			    sizeof(d->info.authority), b + off + 3, vlen))
				return fail(d, "bad-tlv");
			seen |= 2;
			break;
		case PP2_TYPE_CRC32C:
			if ((seen & 4) || vlen != 4)
				return fail(d, "bad-tlv");
			seen |= 4;
			crc_at = off + 3;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (vlen > UNIQUE_ID_MAX)
				return fail(d, "bad-tlv");
			break;
		case PP2_TYPE_SSL:
			if ((seen & 8) || parse_ssl(d, b + off + 3, vlen) == -1)
				return fail(d, "bad-tlv");
			seen |= 8;
			break;
		default:	/* NOOP, NETNS, custom: skipped (spec 2.2) */
			break;
		}
		off += 3 + vlen;
	}
	if (crc_at != 0) {
		/* Checked over the whole header with the field zeroed. */
		want = (uint32_t)b[crc_at] << 24 | (uint32_t)b[crc_at + 1] << 16 |
		    (uint32_t)b[crc_at + 2] << 8 | b[crc_at + 3];
		memset(d->buf + crc_at, 0, 4);
		got = proxyproto_crc32c(d->buf, d->need);
		if (got != want)
			return fail(d, "bad-checksum");
	}
	return 0;
}

/* The complete header (d->need bytes) in d->buf. */
static int
parse_v2(struct proxyproto_decoder *d)
{
	unsigned cmd = d->buf[12] & 0x0f, fam = d->buf[13];
	size_t alen = d->need - V2_FIXED, block;
	uint16_t sp, dp;

	d->info.version = PROXYPROTO_V2;
	switch (fam >> 4) {
	case 0x0:
		block = 0;
		break;
	case 0x1:
		block = V2_LEN_IP4;
		break;
	case 0x2:
		block = V2_LEN_IP6;
		break;
	default:
		block = V2_LEN_UNIX;
		break;
	}
	if (alen < block)
		return fail(d, "bad-length");
	/* LOCAL: a health check by the proxy itself; the whole block is
	   skipped (spec 2.2). */
	if (cmd == 0x0) {
		d->info.proxied = 0;
		return 1;
	}
	if (parse_tlvs(d, V2_FIXED + block) == -1)
		return -1;
	if (fam == 0x11) {
		memcpy(&sp, d->buf + V2_FIXED + 8, 2);
		memcpy(&dp, d->buf + V2_FIXED + 10, 2);
		set_sockaddr(&d->info.src, &d->info.srclen, AF_INET,
		    d->buf + V2_FIXED, sp);
		set_sockaddr(&d->info.dst, &d->info.dstlen, AF_INET,
		    d->buf + V2_FIXED + 4, dp);
		d->info.proxied = 1;
	} else if (fam == 0x21) {
		memcpy(&sp, d->buf + V2_FIXED + 32, 2);
		memcpy(&dp, d->buf + V2_FIXED + 34, 2);
		set_sockaddr(&d->info.src, &d->info.srclen, AF_INET6,
		    d->buf + V2_FIXED, sp);
		set_sockaddr(&d->info.dst, &d->info.dstlen, AF_INET6,
		    d->buf + V2_FIXED + 16, dp);
		d->info.proxied = 1;
	} else {
		/* UNSPEC, UDP or UNIX: fall back to the real endpoints, as
		   a receiver that does not implement them must. */
		d->info.proxied = 0;
	}
	return 1;
}

/* The byte just stored at d->buf[d->have - 1]: -1 bad, 0 more, 1 done. */
static int
step(struct proxyproto_decoder *d)
{
	size_t i = d->have - 1;
	unsigned char c = d->buf[i];

	if (d->buf[0] == 'P') {		/* v1 */
		if (i < 5)
			return c == (unsigned char)"PROXY"[i] ? 0 :
			    fail(d, "bad-signature");
		if (i == 5)
			return c == ' ' ? 0 : fail(d, "bad-line");
		if (c == '\n')
			return d->buf[i - 1] == '\r' ? parse_v1(d) :
			    fail(d, "bad-line");
		if (d->buf[i - 1] == '\r')
			return fail(d, "bad-line");	/* a lone CR */
		if (d->have >= PROXYPROTO_V1_MAX)
			return fail(d, "bad-line");	/* no CRLF in time */
		return 0;
	}
	if (i < sizeof(v2sig))
		return c == v2sig[i] ? 0 : fail(d, "bad-signature");
	if (i == 12) {
		if ((c & 0xf0) != 0x20)
			return fail(d, "bad-version");
		if ((c & 0x0f) > 0x1)
			return fail(d, "bad-command");
		return 0;
	}
	if (i == 13) {
		/* Families 0..3, protocols 0..2; UNSPEC only as 0x00. */
		if ((c >> 4) > 0x3 || (c & 0x0f) > 0x2 ||
		    (((c >> 4) == 0) != ((c & 0x0f) == 0)))
			return fail(d, "bad-family");
		return 0;
	}
	if (i == 15) {
		d->need = V2_FIXED + ((size_t)d->buf[14] << 8 | d->buf[15]);
		if (d->need > PROXYPROTO_MAX_HEADER)
			return fail(d, "too-large");
	}
	if (i < 15 || d->have < d->need)
		return 0;
	return parse_v2(d);
}

int
proxyproto_decode(struct proxyproto_decoder *d, const void *data,
    size_t len, size_t *used)
{
	const unsigned char *p = data;
	size_t i;
	int r;

	*used = 0;
	if (d->state == D_DONE)
		return 1;
	if (d->state == D_FAILED)
		return -1;
	for (i = 0; i < len; i++) {
		if (d->have == 0 && p[i] != 'P' && p[i] != v2sig[0])
			return fail(d, "bad-signature");
		d->buf[d->have++] = p[i];
		r = step(d);
		if (r != 0) {
			*used = i + 1;
			if (r > 0)
				d->state = D_DONE;
			return r;
		}
	}
	*used = len;
	return 0;
}

size_t
proxyproto_decoder_want(const struct proxyproto_decoder *d)
{
	if (d == NULL || d->state != D_RUNNING)
		return 0;
	if (d->have < V1_MIN)
		return V1_MIN - d->have;
	if (d->buf[0] == 'P')
		return 1;	/* the line ends at the first LF */
	if (d->have < V2_FIXED)
		return V2_FIXED - d->have;
	return d->need > d->have ? d->need - d->have : 1;
}

const struct proxyproto_info *
proxyproto_decoder_info(const struct proxyproto_decoder *d)
{
	return d != NULL && d->state == D_DONE ? &d->info : NULL;
}

const char *
proxyproto_decoder_error(const struct proxyproto_decoder *d)
{
	return d != NULL ? d->error : NULL;
}

/* --- trusted senders ------------------------------------------------- */

int
proxyproto_cidr_parse(const char *text, struct proxyproto_cidr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned bits, i;
	long prefix;

	memset(out, 0, sizeof(*out));
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strict_ipv4(host, out->addr) == 0) {
		out->family = AF_INET;
		bits = 32;
	} else if (strchr(host, ':') != NULL &&
	    inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		bits = 128;
	} else
		return -1;
	prefix = slash ? strict_number(slash + 1, bits) : (long)bits;
	if (prefix < 0)
		return -1;
	out->prefix = (unsigned)prefix;
	/* Host bits set: "10.0.0.1/8" is a typo for something. */
	for (i = out->prefix; i < bits; i++)
		if (out->addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

int
proxyproto_cidr_match(const struct proxyproto_cidr *cidrs, size_t n,
    const struct sockaddr *sa, socklen_t salen)
{
	struct endpoint e;
	unsigned full, rest;
	size_t i;

	endpoint_of(sa, salen, &e);
	if (e.family == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (cidrs[i].family != e.family)
			continue;
		full = cidrs[i].prefix / 8;
		rest = cidrs[i].prefix % 8;
		if (memcmp(cidrs[i].addr, e.addr, full) != 0)
			continue;
		if (rest != 0 && ((cidrs[i].addr[full] ^ e.addr[full]) &
		    (0xff00 >> rest) & 0xff) != 0)
			continue;
		return 1;
	}
	return 0;
}

uint32_t
proxyproto_crc32c(const unsigned char *p, size_t len)
{
	uint32_t crc = 0xffffffffU;
	int k;

	while (len-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1U)));
	}
	return ~crc;
}
