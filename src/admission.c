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
	unsigned char key[9];	/* kind, then IPv4 address or IPv6 /64 */
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

/*
 * The part of the address that is counted, after a byte for the kind (a
 * balancer's count is not its count as a client elsewhere); 0 if not IP
 * (not counted).
 */
static size_t
peer_key(const struct sockaddr *sa, enum admission_peer kind,
    unsigned char key[9])
{
	const struct sockaddr_in6 *sin6;

	key[0] = (unsigned char)kind;
	if (sa->sa_family == AF_INET) {
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 5;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (memcmp(sin6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
		memcpy(key + 1, sin6->sin6_addr.s6_addr + 12, 4);
		return 5;
	}
	memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
	return 9;
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

/*
 * The per-address caps for peer as kind: ADMIT_OK with *entry counted
 * (NULL: not counted on its own), or the cap that refused it.
 */
static enum admission_result
per_address(struct admission *a, const struct sockaddr *peer,
    enum admission_peer kind, double now, struct admission_entry **entry)
{
	struct admission_entry **pp, *e, *found = NULL;
	unsigned char key[9];
	unsigned max_open, rate;
	size_t len, h;

	*entry = NULL;
	switch (kind) {
	case ADMISSION_CLIENT:
		max_open = a->lim.max_per_ip;
		rate = a->lim.rate_per_ip;
		break;
	case ADMISSION_BALANCER:
		max_open = a->lim.max_per_balancer;
		rate = 0;
		break;
	default:
		return ADMIT_OK;
	}
	if ((len = peer_key(peer, kind, key)) == 0 ||
	    (max_open == 0 && rate == 0))
		return ADMIT_OK;

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
		    (e = calloc(1, sizeof(*e))) == NULL)
			return ADMIT_OK;	/* untracked, see admission.h */
		memcpy(e->key, key, len);
		e->keylen = (unsigned char)len;
		e->tokens = a->lim.rate_per_ip;
		e->stamp = now;
		e->next = a->bucket[h];
		a->bucket[h] = e;
		a->nentries++;
	}
	if (max_open > 0 && e->open >= max_open)
		return kind == ADMISSION_BALANCER ? ADMIT_PER_BALANCER :
		    ADMIT_PER_IP;
	if (rate > 0) {
		refill(a, e, now);
		if (e->tokens < 1.0)
			return ADMIT_RATE;
		e->tokens -= 1.0;
	}
	e->open++;
	*entry = e;
	return ADMIT_OK;
}

enum admission_result
admission_enter(struct admission *a, const struct sockaddr *peer,
    enum admission_peer kind, double now, struct admission_entry **entry)
{
	enum admission_result r;

	*entry = NULL;
	if (a->lim.max_connections > 0 &&
	    a->connections >= a->lim.max_connections)
		return ADMIT_MAX_CONNECTIONS;
	if ((r = per_address(a, peer, kind, now, entry)) == ADMIT_OK)
		a->connections++;
	return r;
}

void
admission_leave(struct admission *a, struct admission_entry *e)
{
	if (a->connections > 0)
		a->connections--;
	admission_release(a, e);
}

enum admission_result
admission_claim(struct admission *a, const struct sockaddr *client,
    enum admission_peer kind, double now, struct admission_entry **entry)
{
	return per_address(a, client, kind == ADMISSION_BALANCER ?
	    ADMISSION_CLIENT : kind, now, entry);
}

void
admission_release(struct admission *a, struct admission_entry *e)
{
	(void)a;
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
	case ADMIT_PER_BALANCER:
		return "max-connections-per-balancer";
	}
	return "unknown";
}
