/*
 * fuzz_proxyproto.c - the PROXY protocol decoder over arbitrary bytes fed
 * in pieces whose sizes the input picks.  Properties: the verdict does
 * not depend on the chunking, a header never takes more bytes than it was
 * given or than PROXYPROTO_MAX_HEADER, and a decoded proxied header,
 * encoded again, decodes to the same addresses.
 */
#include "autoconf.h"
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxyproto.h"

static int
decode(const uint8_t *data, size_t size, size_t step, size_t *used,
    struct proxyproto_info *info)
{
	struct proxyproto_decoder *d = proxyproto_decoder_new();
	size_t off = 0, u;
	int r = 0;

	if (d == NULL)
		abort();
	*used = 0;
	while (off < size && r == 0) {
		size_t n = size - off < step ? size - off : step;

		r = proxyproto_decode(d, data + off, n, &u);
		if (u > n)
			abort();
		*used += u;
		off += n;
	}
	if (r > 0)
		*info = *proxyproto_decoder_info(d);
	if (r < 0 && proxyproto_decoder_error(d) == NULL)
		abort();
	proxyproto_decoder_free(d);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_info a, b;
	unsigned char enc[PROXYPROTO_MAX_HEADER];
	size_t used_a, used_b, step;
	int ra, rb, n;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 32 + 1;
	data++;
	size--;
	ra = decode(data, size, size ? size : 1, &used_a, &a);
	rb = decode(data, size, step, &used_b, &b);
	if ((ra > 0) != (rb > 0) || (ra < 0) != (rb < 0))
		abort();	/* the chunking changed the verdict */
	if (ra <= 0)
		return 0;
	if (used_a != used_b || used_a > size ||
	    used_a > PROXYPROTO_MAX_HEADER)
		abort();
	if (!a.proxied)
		return 0;
	n = proxyproto_encode_v2((struct sockaddr *)&a.src, a.srclen,
	    (struct sockaddr *)&a.dst, a.dstlen, NULL, enc, sizeof(enc));
	if (n <= 0 || decode(enc, (size_t)n, (size_t)n, &used_b, &b) <= 0 ||
	    used_b != (size_t)n || !b.proxied || b.srclen != a.srclen ||
	    memcmp(&a.src, &b.src, a.srclen) != 0 ||
	    memcmp(&a.dst, &b.dst, a.dstlen) != 0)
		abort();
	return 0;
}
