/*
 * s2starget.c - SRV ordering for server-to-server connections; see
 * s2starget.h.
 */
#include "autoconf.h"

#include <string.h>

#include "s2starget.h"

#define MAX_RECORDS	64	/* SRV answers looked at */

/* A DNS host name (LDH labels, underscore tolerated), one trailing dot
   allowed; the length without it in *len. */
static int
host_ok(const char *s, size_t *len)
{
	size_t n = strlen(s), label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	*len = n;
	return label > 0;
}

static void
put(struct s2starget *t, const char *host, size_t len, uint16_t port,
    int direct)
{
	memcpy(t->host, host, len);
	t->host[len] = '\0';
	t->port = port;
	t->direct_tls = direct;
}

int
s2starget_order(const char *domain, const struct s2starget_srv *srv,
    size_t n, s2starget_random_fn *rnd, void *rctx, struct s2starget *out,
    size_t max)
{
	const struct s2starget_srv *left[MAX_RECORDS];
	int dot[2] = { 0, 0 }, real[2] = { 0, 0 };
	size_t nleft = 0, nout = 0, len, i;

	if (!host_ok(domain, &len))
		return S2STARGET_BAD_INPUT;
	if (n > MAX_RECORDS)
		n = MAX_RECORDS;
	for (i = 0; i < n; i++) {
		int d = srv[i].direct_tls != 0;

		if (strcmp(srv[i].target, ".") == 0 ||
		    strcmp(srv[i].target, "") == 0)
			dot[d] = 1;
		else
			real[d] = 1;
	}
	/* RFC 2782: "." as the only record means the service is not
	   offered; next to other records it is just skipped. */
	for (i = 0; i < n; i++) {
		int d = srv[i].direct_tls != 0;
		size_t hl;

		if (!real[d] || strcmp(srv[i].target, ".") == 0 ||
		    !host_ok(srv[i].target, &hl) || srv[i].port == 0)
			continue;
		left[nleft++] = &srv[i];
	}
	if (nleft == 0) {
		if (dot[0] || dot[1] || real[0] || real[1])
			return S2STARGET_NO_SERVICE;
		if (max == 0)
			return 0;
		put(&out[0], domain, len, S2STARGET_DEFAULT_PORT, 0);
		return 1;
	}
	while (nleft > 0 && nout < max) {
		uint16_t prio = 0xffff;
		uint32_t sum = 0, draw, run = 0;
		size_t pick = 0, first = 0;
		int found = 0;

		/* The lowest priority left; zero weights first among it. */
		for (i = 0; i < nleft; i++)
			if (left[i]->priority < prio)
				prio = left[i]->priority;
		for (i = 0; i < nleft; i++) {
			if (left[i]->priority != prio)
				continue;
			if (left[i]->weight == 0) {
				const struct s2starget_srv *tmp = left[first];

				left[first] = left[i];
				left[i] = tmp;
				first++;
			}
		}
		for (i = 0; i < nleft; i++)
			if (left[i]->priority == prio)
				sum += left[i]->weight;
		draw = rnd(rctx, sum);
		for (i = 0; i < nleft; i++) {
			if (left[i]->priority != prio)
				continue;
			run += left[i]->weight;
			if (run >= draw) {
				pick = i;
				found = 1;
				break;
			}
		}
		if (!found)	/* draw beyond sum: a broken generator */
			for (i = 0; i < nleft; i++)
				if (left[i]->priority == prio) {
					pick = i;
					break;
				}
		host_ok(left[pick]->target, &len);
		put(&out[nout++], left[pick]->target, len, left[pick]->port,
		    left[pick]->direct_tls != 0);
		/* Keep the order of the rest (zero weights stay first). */
		memmove(&left[pick], &left[pick + 1],
		    (nleft - pick - 1) * sizeof(left[0]));
		nleft--;
	}
	return (int)nout;
}
