/*
 * admission.c - connection caps; see admission.h.
 *
 * A fixed array of hash chains keyed by the client's network (IPv4
 * address or IPv6 /64).  The hash is keyed with a random seed so that a
 * client cannot aim its addresses at one chain.  Idle entries (no open
 * connection, full bucket) are removed as chains are walked.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"

#define NBUCKETS	4096

struct admission_entry {
	unsigned char key[8];	/* IPv4 address, or IPv6 /64 */
	unsigned char keylen;
	unsigned open;		/* connections open now */
	double tokens;		/* new connections allowed right now */
	double stamp;		/* when tokens was computed */
	struct admission_entry *next;
};

struct admission {
	struct admission_limits lim;
	uint64_t seed;
	size_t nentries, max_entries;
	unsigned connections;
	struct admission_entry *bucket[NBUCKETS];
};

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* The part of the address that is counted; 0 if not IP (not counted). */
static size_t
peer_key(const struct sockaddr *sa, unsigned char key[8])
{
	const struct sockaddr_in6 *sin6;

	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (memcmp(sin6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
		memcpy(key, sin6->sin6_addr.s6_addr + 12, 4);
		return 4;
	}
	memcpy(key, sin6->sin6_addr.s6_addr, 8);
	return 8;
}

/* FNV-1a over seed and key: cheap, and unpredictable without the seed. */
static size_t
hash(const struct admission *a, const unsigned char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (size_t)(h % NBUCKETS);
}

static void
refill(const struct admission *a, struct admission_entry *e, double now)
{
	double burst = a->lim.rate_per_ip;

	if (now > e->stamp)
		e->tokens += (now - e->stamp) * a->lim.rate_per_ip;
	if (e->tokens > burst)
		e->tokens = burst;
	e->stamp = now;
}

static int
idle(const struct admission *a, struct admission_entry *e, double now)
{
	if (e->open > 0)
		return 0;
	if (a->lim.rate_per_ip == 0)
		return 1;
	refill(a, e, now);
	return e->tokens >= a->lim.rate_per_ip;
}

struct admission *
admission_new(size_t max_entries, uint64_t seed)
{
	struct admission *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->max_entries = max_entries;
	a->seed = seed;
	return a;
}

void
admission_free(struct admission *a)
{
	struct admission_entry *e, *next;
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (e = a->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(a);
}

void
admission_set_limits(struct admission *a, const struct admission_limits *lim)
{
	a->lim = *lim;
}

enum admission_result
admission_enter(struct admission *a, const struct sockaddr *peer,
    double now, struct admission_entry **entry)
{
	struct admission_entry **pp, *e, *found = NULL;
	unsigned char key[8];
	size_t len, h;

	*entry = NULL;
	if (a->lim.max_connections > 0 &&
	    a->connections >= a->lim.max_connections)
		return ADMIT_MAX_CONNECTIONS;
	if ((len = peer_key(peer, key)) == 0 ||
	    (a->lim.max_per_ip == 0 && a->lim.rate_per_ip == 0)) {
		a->connections++;
		return ADMIT_OK;
	}

	h = hash(a, key, len);
	for (pp = &a->bucket[h]; (e = *pp) != NULL; ) {
		if (e->keylen == len && memcmp(e->key, key, len) == 0) {
			found = e;
			pp = &e->next;
		} else if (idle(a, e, now)) {
			*pp = e->next;
			free(e);
			a->nentries--;
		} else
			pp = &e->next;
	}
	if ((e = found) == NULL) {
		if (a->nentries >= a->max_entries ||
		    (e = calloc(1, sizeof(*e))) == NULL) {
			a->connections++;	/* untracked, see admission.h */
			return ADMIT_OK;
		}
		memcpy(e->key, key, len);
		e->keylen = (unsigned char)len;
		e->tokens = a->lim.rate_per_ip;
		e->stamp = now;
		e->next = a->bucket[h];
		a->bucket[h] = e;
		a->nentries++;
	}
	if (a->lim.max_per_ip > 0 && e->open >= a->lim.max_per_ip)
		return ADMIT_PER_IP;
	if (a->lim.rate_per_ip > 0) {
		refill(a, e, now);
		if (e->tokens < 1.0)
			return ADMIT_RATE;
		e->tokens -= 1.0;
	}
	e->open++;
	a->connections++;
	*entry = e;
	return ADMIT_OK;
}

void
admission_leave(struct admission *a, struct admission_entry *e)
{
	if (a->connections > 0)
		a->connections--;
	if (e != NULL && e->open > 0)
		e->open--;
}

unsigned
admission_connections(const struct admission *a)
{
	return a->connections;
}

size_t
admission_entries(const struct admission *a)
{
	return a->nentries;
}

const char *
admission_reason(enum admission_result r)
{
	switch (r) {
	case ADMIT_OK:
		return "admitted";
	case ADMIT_MAX_CONNECTIONS:
		return "max-connections";
	case ADMIT_PER_IP:
		return "max-connections-per-ip";
	case ADMIT_RATE:
		return "connection-rate";
	}
	return "unknown";
}
