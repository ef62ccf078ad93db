/*
 * resolver.c - c-ares driven by libevent; see resolver.h.
 *
 * A query owns a c-ares channel.  c-ares tells which sockets it wants
 * watched (sock_state_cb); each gets a libevent event that hands the
 * readiness to ares_process_fd().  c-ares' own retransmission timer is a
 * libevent timer re-armed from ares_timeout() after every step, and a
 * second timer is the query's deadline, which cancels the channel.  The
 * result is delivered from a deferred event, outside any c-ares call, so
 * the channel can be destroyed right after.
 *
 * With libunbound (resolver_new_dnssec()), a query is one or two
 * ub_resolve_event() calls on a context shared per event base, servers
 * and anchor.  libunbound offers no safe cancellation of those, so each
 * call gets a ticket: a cancelled or timed-out query lets go of its
 * tickets, and the late answer (libunbound bounds its own retries) only
 * frees its ticket.  The answers are DNS packets, parsed with c-ares.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>
#ifdef XMPPSHIELD_HAVE_UNBOUND
#include <unbound.h>
#include <unbound-event.h>
#endif

#include "resolver.h"

#define MAX_SOCKS	8
#define MAX_SRV		32
#define MAX_ADDRS	16
#define MAX_TLSA	16

#define TYPE_A		1
#define TYPE_AAAA	28
#define TYPE_SRV	33
#define TYPE_TLSA	52

struct resolver {
	struct event_base *base;
	char *servers;
	unsigned timeout_ms;
	struct ub_ctx *ub;	/* dnssec: shared, not ours to free */
};

enum kind { KIND_SRV, KIND_ADDR, KIND_TLSA };

/* One ub_resolve_event() call; q NULL once the query let go of it. */
struct ticket {
	struct resolver_query *q;
	int slot;
};

struct sock {
	ares_socket_t fd;
	struct event *ev;
};

struct resolver_query {
	struct resolver *r;
	ares_channel ch;
	int channel_ok;
	enum kind kind;
	struct ticket *tk[2];		/* dnssec: the calls under way */
	int insecure;			/* dnssec: an answer was not secure */
	struct event *timer;		/* c-ares' retransmissions */
	struct event *deadline;
	struct event *finish;		/* deliver, then free */
	struct sock socks[MAX_SOCKS];
	int pending;			/* c-ares callbacks to come */
	int cancelled, timed_out;

	enum resolver_status st[2];	/* SRV: per name; addr: [0] */
	struct s2starget_srv srv[MAX_SRV];
	size_t nsrv;
	struct sockaddr_storage addrs[MAX_ADDRS];
	size_t naddrs;
	struct sockaddr_storage addrs4[MAX_ADDRS];	/* dnssec: A */
	size_t naddrs4;
	uint16_t port;
	struct resolver_rdata tlsa[MAX_TLSA];
	size_t ntlsa;

	resolver_srv_fn *srv_cb;
	resolver_addr_fn *addr_cb;
	resolver_tlsa_fn *tlsa_cb;
	void *arg;
};

const char *
resolver_strstatus(enum resolver_status st)
{
	switch (st) {
	case RESOLVER_OK: return "ok";
	case RESOLVER_NOT_FOUND: return "not-found";
	case RESOLVER_TIMEOUT: return "timeout";
	case RESOLVER_FAILED: return "failed";
	case RESOLVER_BOGUS: return "bogus";
	}
	return "failed";
}

struct resolver *
resolver_new(struct event_base *base, const char *servers,
    unsigned timeout_ms, char *err, size_t errlen)
{
	struct resolver *r;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (servers != NULL && (r->servers = strdup(servers)) == NULL)) {
		free(r);
		ares_library_cleanup();
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->base = base;
	r->timeout_ms = timeout_ms;
	return r;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	free(r->servers);
	free(r);
	ares_library_cleanup();
}

int
resolver_check_anchor(const char *anchor, char *err, size_t errlen)
{
	char line[1024];
	int found = 0;
	FILE *f;

	if ((f = fopen(anchor, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s; install dns-root-data or set "
		    "s2s_out_dnssec_anchor", anchor, strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = line[0] != ';' && (strstr(line, " DS ") ||
		    strstr(line, "\tDS\t") || strstr(line, "DNSKEY"));
	fclose(f);
	if (!found) {
		snprintf(err, errlen, "%s: no DS or DNSKEY record; "
		    "s2s_out_dnssec_anchor needs a trust anchor in zone-file "
		    "format (Debian: /usr/share/dns/root.key)", anchor);
		return -1;
	}
	return 0;
}

int
resolver_have_dnssec(void)
{
#ifdef XMPPSHIELD_HAVE_UNBOUND
	return 1;
#else
	return 0;
#endif
}

#ifdef XMPPSHIELD_HAVE_UNBOUND
/* The libunbound contexts of this process, never freed: their caches
   outlive connections, and only a new configuration makes another. */
struct ubent {
	struct event_base *base;
	char *servers, *anchor;
	struct ub_ctx *ctx;
};
static struct ubent ubcache[8];
static size_t nubcache;

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* "host:port,[v6]:port,host" as libunbound's "host@port" forwarders. */
static int
set_forwarders(struct ub_ctx *ctx, const char *servers, char *err,
    size_t errlen)
{
	char buf[300], fwd[320], *item, *save = NULL, *host, *port, *p;
	int rc;

	snprintf(buf, sizeof(buf), "%s", servers);
	for (item = strtok_r(buf, ", ", &save); item != NULL;
	    item = strtok_r(NULL, ", ", &save)) {
		host = item;
		port = NULL;
		if (*item == '[') {
			host = item + 1;
			if ((p = strchr(host, ']')) == NULL)
				goto bad;
			*p = '\0';
			if (p[1] == ':')
				port = p + 2;
			else if (p[1] != '\0')
				goto bad;
		} else if ((p = strchr(item, ':')) != NULL &&
		    strchr(p + 1, ':') == NULL) {
			*p = '\0';
			port = p + 1;
		}
		if (port != NULL)
			snprintf(fwd, sizeof(fwd), "%s@%s", host, port);
		else
			snprintf(fwd, sizeof(fwd), "%s", host);
		if ((rc = ub_ctx_set_fwd(ctx, fwd)) != 0) {
			snprintf(err, errlen, "resolver %s: %s", fwd,
			    ub_strerror(rc));
			return -1;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "resolver '%s': expected host:port or "
	    "[v6]:port", item);
	return -1;
}

static struct ub_ctx *
ub_context(struct event_base *base, const char *servers, const char *anchor,
    char *err, size_t errlen)
{
	struct ub_ctx *ctx;
	struct ubent *e;
	FILE *f;
	int rc;

	for (size_t i = 0; i < nubcache; i++)
		if (ubcache[i].base == base && same(ubcache[i].servers,
		    servers) && same(ubcache[i].anchor, anchor))
			return ubcache[i].ctx;
	if (nubcache == sizeof(ubcache) / sizeof(ubcache[0])) {
		snprintf(err, errlen, "too many DNSSEC resolver "
		    "configurations in one process");
		return NULL;
	}
	/* libunbound reads the anchor only at the first query: say now
	   if it cannot. */
	if ((f = fopen(anchor, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s; install dns-root-data or set "
		    "s2s_out_dnssec_anchor", anchor, strerror(errno));
		return NULL;
	}
	fclose(f);
	if ((ctx = ub_ctx_create_event(base)) == NULL) {
		snprintf(err, errlen, "libunbound: cannot create a context");
		return NULL;
	}
	/* The forwarders are the admin's: loopback ones too. */
	ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
	if (servers != NULL) {
		if (set_forwarders(ctx, servers, err, errlen) == -1)
			goto fail;
	} else if ((rc = ub_ctx_resolvconf(ctx, NULL)) != 0) {
		snprintf(err, errlen, "/etc/resolv.conf: %s", ub_strerror(rc));
		goto fail;
	}
	if ((rc = ub_ctx_add_ta_file(ctx, anchor)) != 0) {
		snprintf(err, errlen, "%s: %s", anchor, ub_strerror(rc));
		goto fail;
	}
	e = &ubcache[nubcache];
	e->base = base;
	e->servers = servers ? strdup(servers) : NULL;
	e->anchor = strdup(anchor);
	e->ctx = ctx;
	nubcache++;
	return ctx;
fail:
	ub_ctx_delete(ctx);
	return NULL;
}
#endif

struct resolver *
resolver_new_dnssec(struct event_base *base, const char *servers,
    const char *anchor, unsigned timeout_ms, char *err, size_t errlen)
{
#ifdef XMPPSHIELD_HAVE_UNBOUND
	struct resolver *r;
	struct ub_ctx *ctx;

	if ((ctx = ub_context(base, servers, anchor, err, errlen)) == NULL)
		return NULL;
	if ((r = resolver_new(base, servers, timeout_ms, err, errlen)) ==
	    NULL)
		return NULL;
	r->ub = ctx;
	return r;
#else
	(void)base;
	(void)servers;
	(void)anchor;
	(void)timeout_ms;
	snprintf(err, errlen, "built without libunbound (DNSSEC): install "
	    "libunbound-dev and run ./configure again");
	return NULL;
#endif
}

static enum resolver_status
status_of(struct resolver_query *q, int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return RESOLVER_OK;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return RESOLVER_NOT_FOUND;
	case ARES_ETIMEOUT:
		return RESOLVER_TIMEOUT;
	case ARES_ECANCELLED:
		return q->timed_out ? RESOLVER_TIMEOUT : RESOLVER_FAILED;
	case ARES_EBADRESP:
		return RESOLVER_FAILED;
	default:
		return RESOLVER_FAILED;
	}
}

/* --- the channel on the event loop ------------------------------------- */

static void
rearm(struct resolver_query *q)
{
	struct timeval tv, *tvp;

	if (q->pending == 0)
		return;
	if ((tvp = ares_timeout(q->ch, NULL, &tv)) != NULL)
		evtimer_add(q->timer, tvp);
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;

	ares_process_fd(q->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(q);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;

	(void)fd;
	(void)what;
	ares_process_fd(q->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(q);
}

static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver_query *q = data;
	struct sock *s = NULL, *free_slot = NULL;
	short what = (short)((readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));

	for (int i = 0; i < MAX_SOCKS; i++) {
		if (q->socks[i].ev != NULL && q->socks[i].fd == fd)
			s = &q->socks[i];
		else if (q->socks[i].ev == NULL && free_slot == NULL)
			free_slot = &q->socks[i];
	}
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (what == 0)
		return;
	if (s == NULL && (s = free_slot) == NULL)
		return;		/* more sockets than c-ares ever opens */
	s->fd = fd;
	s->ev = event_new(q->r->base, fd, what | EV_PERSIST, on_sock, q);
	if (s->ev != NULL)
		event_add(s->ev, NULL);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;

	(void)fd;
	(void)what;
	q->timed_out = 1;
	if (q->r->ub != NULL) {
		for (int i = 0; i < 2; i++)
			if (q->tk[i] != NULL) {
				q->tk[i]->q = NULL;
				q->tk[i] = NULL;
				q->st[i] = RESOLVER_TIMEOUT;
			}
		if (q->pending > 0) {
			q->pending = 0;
			event_active(q->finish, 0, 0);
		}
		return;
	}
	ares_cancel(q->ch);	/* every pending callback: ECANCELLED */
}

/* A c-ares callback finished: when the last one did, deliver later. */
static void
one_done(struct resolver_query *q)
{
	if (--q->pending == 0)
		event_active(q->finish, 0, 0);
}

static void
query_free(struct resolver_query *q)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (q->socks[i].ev != NULL)
			event_free(q->socks[i].ev);
	if (q->channel_ok)
		ares_destroy(q->ch);
	if (q->timer != NULL)
		event_free(q->timer);
	if (q->deadline != NULL)
		event_free(q->deadline);
	if (q->finish != NULL)
		event_free(q->finish);
	for (size_t i = 0; i < q->nsrv; i++)
		free((char *)q->srv[i].target);
	for (size_t i = 0; i < q->ntlsa; i++)
		free((unsigned char *)q->tlsa[i].data);
	for (int i = 0; i < 2; i++)
		if (q->tk[i] != NULL)
			q->tk[i]->q = NULL;
	free(q);
}

/* dnssec: 1 when every answer was secure. */
static int
all_secure(const struct resolver_query *q)
{
	return q->r->ub != NULL && !q->insecure && !q->timed_out;
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;
	enum resolver_status st;

	(void)fd;
	(void)what;
	if (!q->cancelled && q->kind == KIND_SRV) {
		if (q->st[0] == RESOLVER_BOGUS || q->st[1] == RESOLVER_BOGUS)
			st = RESOLVER_BOGUS;
		else if (q->nsrv > 0)
			st = RESOLVER_OK;
		else if ((q->st[0] == RESOLVER_OK ||
		    q->st[0] == RESOLVER_NOT_FOUND) &&
		    (q->st[1] == RESOLVER_OK || q->st[1] == RESOLVER_NOT_FOUND))
			st = RESOLVER_NOT_FOUND;
		else
			st = q->st[0] == RESOLVER_TIMEOUT ||
			    q->st[1] == RESOLVER_TIMEOUT ? RESOLVER_TIMEOUT :
			    RESOLVER_FAILED;
		q->srv_cb(q->arg, st, st != RESOLVER_BOGUS && all_secure(q),
		    q->srv, q->nsrv);
	} else if (!q->cancelled && q->kind == KIND_ADDR) {
		st = q->st[0];
		if (q->r->ub != NULL) {
			/* AAAA in [0], then A in [1]: one list */
			for (size_t i = 0; i < q->naddrs4 &&
			    q->naddrs < MAX_ADDRS; i++)
				q->addrs[q->naddrs++] = q->addrs4[i];
			if (q->st[0] == RESOLVER_BOGUS ||
			    q->st[1] == RESOLVER_BOGUS)
				st = RESOLVER_BOGUS;
			else if (q->naddrs > 0)
				st = RESOLVER_OK;
			else if (q->st[0] == RESOLVER_TIMEOUT ||
			    q->st[1] == RESOLVER_TIMEOUT)
				st = RESOLVER_TIMEOUT;
			else if ((q->st[0] == RESOLVER_OK ||
			    q->st[0] == RESOLVER_NOT_FOUND) &&
			    (q->st[1] == RESOLVER_OK ||
			    q->st[1] == RESOLVER_NOT_FOUND))
				st = RESOLVER_NOT_FOUND;
			else
				st = RESOLVER_FAILED;
		}
		if (st == RESOLVER_OK && q->naddrs == 0)
			st = RESOLVER_NOT_FOUND;
		q->addr_cb(q->arg, st, st != RESOLVER_BOGUS && all_secure(q),
		    q->addrs, q->naddrs);
	} else if (!q->cancelled) {
		st = q->st[0];
		if (st == RESOLVER_OK && q->ntlsa == 0)
			st = RESOLVER_NOT_FOUND;
		q->tlsa_cb(q->arg, st, st != RESOLVER_BOGUS && all_secure(q),
		    q->tlsa, q->ntlsa);
	}
	query_free(q);
}

static struct resolver_query *
query_new(struct resolver *r)
{
	struct ares_options opts;
	struct resolver_query *q;
	int mask;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->r = r;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = q;
	/* A try per server of at most a third of the deadline. */
	opts.timeout = (int)(r->timeout_ms / 3 > 0 ? r->timeout_ms / 3 : 1);
	opts.tries = 2;
	/* DNS only: the local hosts file does not name remote servers. */
	opts.lookups = (char *)"b";
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS;
	if (ares_init_options(&q->ch, &opts, mask) != ARES_SUCCESS) {
		free(q);
		return NULL;
	}
	q->channel_ok = 1;
	if ((r->servers != NULL &&
	    ares_set_servers_ports_csv(q->ch, r->servers) != ARES_SUCCESS) ||
	    (q->timer = evtimer_new(r->base, on_timer, q)) == NULL ||
	    (q->deadline = evtimer_new(r->base, on_deadline, q)) == NULL ||
	    (q->finish = event_new(r->base, -1, 0, on_finish, q)) == NULL) {
		query_free(q);
		return NULL;
	}
	return q;
}

static void
query_start(struct resolver_query *q)
{
	struct timeval tv = { .tv_sec = q->r->timeout_ms / 1000,
	    .tv_usec = (q->r->timeout_ms % 1000) * 1000 };

	evtimer_add(q->deadline, &tv);
	if (q->r->ub == NULL)
		rearm(q);
}

static void srv_parse(struct resolver_query *, int, int,
    const unsigned char *, int);

/* --- libunbound ---------------------------------------------------------- */

#ifdef XMPPSHIELD_HAVE_UNBOUND
/* rcode and a c-ares parse result as a status. */
static enum resolver_status
ub_status(int rcode, int parsed)
{
	if (rcode == 3)		/* NXDOMAIN */
		return RESOLVER_NOT_FOUND;
	if (rcode != 0)
		return RESOLVER_FAILED;
	if (parsed == ARES_SUCCESS)
		return RESOLVER_OK;
	return parsed == ARES_ENODATA ? RESOLVER_NOT_FOUND : RESOLVER_FAILED;
}

static int
ares_status_of(int rcode)
{
	return rcode == 0 ? ARES_SUCCESS : rcode == 3 ? ARES_ENOTFOUND :
	    ARES_ESERVFAIL;
}

/* The TLSA records of the answer section (RDATA copied). */
static int
tlsa_parse(struct resolver_query *q, const unsigned char *p, int len)
{
	unsigned qd, an, type, cls, rdlen;
	long off = 12, enc;
	char *name;

	if (len < 12)
		return ARES_EBADRESP;
	qd = (unsigned)(p[4] << 8 | p[5]);
	an = (unsigned)(p[6] << 8 | p[7]);
	for (unsigned i = 0; i < qd; i++) {
		if (ares_expand_name(p + off, p, len, &name, &enc) !=
		    ARES_SUCCESS)
			return ARES_EBADRESP;
		ares_free_string(name);
		off += enc + 4;
		if (off > len)
			return ARES_EBADRESP;
	}
	for (unsigned i = 0; i < an; i++) {
		unsigned char *d;

		if (ares_expand_name(p + off, p, len, &name, &enc) !=
		    ARES_SUCCESS)
			return ARES_EBADRESP;
		ares_free_string(name);
		off += enc;
		if (off + 10 > len)
			return ARES_EBADRESP;
		type = (unsigned)(p[off] << 8 | p[off + 1]);
		cls = (unsigned)(p[off + 2] << 8 | p[off + 3]);
		rdlen = (unsigned)(p[off + 8] << 8 | p[off + 9]);
		off += 10;
		if (off + (long)rdlen > len)
			return ARES_EBADRESP;
		if (type == TYPE_TLSA && cls == 1 && q->ntlsa < MAX_TLSA) {
			if ((d = malloc(rdlen ? rdlen : 1)) == NULL)
				return ARES_ENOMEM;
			memcpy(d, p + off, rdlen);
			q->tlsa[q->ntlsa].data = d;
			q->tlsa[q->ntlsa].len = rdlen;
			q->ntlsa++;
		}
		off += rdlen;
	}
	return q->ntlsa > 0 ? ARES_SUCCESS : ARES_ENODATA;
}

static void
addr_parse(struct resolver_query *q, int slot, const unsigned char *p,
    int len, int *parsed)
{
	struct ares_addrttl a4[MAX_ADDRS];
	struct ares_addr6ttl a6[MAX_ADDRS];
	int n = MAX_ADDRS;

	if (slot == 0) {
		*parsed = ares_parse_aaaa_reply(p, len, NULL, a6, &n);
		for (int i = 0; *parsed == ARES_SUCCESS && i < n &&
		    q->naddrs < MAX_ADDRS; i++) {
			struct sockaddr_in6 *s6 =
			    (struct sockaddr_in6 *)&q->addrs[q->naddrs++];

			memset(s6, 0, sizeof(*s6));
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(q->port);
			memcpy(&s6->sin6_addr, &a6[i].ip6addr, 16);
		}
	} else {
		*parsed = ares_parse_a_reply(p, len, NULL, a4, &n);
		for (int i = 0; *parsed == ARES_SUCCESS && i < n &&
		    q->naddrs4 < MAX_ADDRS; i++) {
			struct sockaddr_in *s4 =
			    (struct sockaddr_in *)&q->addrs4[q->naddrs4++];

			memset(s4, 0, sizeof(*s4));
			s4->sin_family = AF_INET;
			s4->sin_port = htons(q->port);
			memcpy(&s4->sin_addr, &a4[i].ipaddr, 4);
		}
	}
}

static void
on_ub(void *arg, int rcode, void *packet, int len, int sec, char *why,
    int ratelimited)
{
	struct ticket *t = arg;
	struct resolver_query *q = t->q;
	int slot = t->slot, parsed = ARES_EBADRESP;

	(void)why;
	(void)ratelimited;
	free(t);
	if (q == NULL)
		return;		/* cancelled or timed out */
	q->tk[slot] = NULL;
	if (sec == 1) {
		q->st[slot] = RESOLVER_BOGUS;
		one_done(q);
		return;
	}
	if (sec != 2)
		q->insecure = 1;
	/* The packet's own rcode (NXDOMAIN) */
	if (packet != NULL && len >= 12)
		rcode = ((const unsigned char *)packet)[3] & 0x0f;
	if (rcode == 0 && packet != NULL) {
		switch (q->kind) {
		case KIND_SRV:
			srv_parse(q, slot, ARES_SUCCESS, packet, len);
			one_done(q);
			return;
		case KIND_ADDR:
			addr_parse(q, slot, packet, len, &parsed);
			break;
		case KIND_TLSA:
			parsed = tlsa_parse(q, packet, len);
			break;
		}
	} else if (q->kind == KIND_SRV) {
		srv_parse(q, slot, ares_status_of(rcode), NULL, 0);
		one_done(q);
		return;
	}
	q->st[slot] = ub_status(rcode, parsed);
	one_done(q);
}

static struct resolver_query *
ub_query(struct resolver *r, enum kind kind, const char *host, uint16_t port,
    void (*cb)(void), void *arg)
{
	static const char *const svc[2] = { "_xmpp-server._tcp.",
	    "_xmpps-server._tcp." };
	struct resolver_query *q;
	char name[2][300];
	int type[2], n = 2;

	if (strlen(host) > 253 || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->r = r;
	q->kind = kind;
	q->port = port;
	q->arg = arg;
	switch (kind) {
	case KIND_SRV:
		q->srv_cb = (resolver_srv_fn *)cb;
		for (int d = 0; d < 2; d++) {
			snprintf(name[d], sizeof(name[d]), "%s%s", svc[d],
			    host);
			type[d] = TYPE_SRV;
		}
		break;
	case KIND_ADDR:
		q->addr_cb = (resolver_addr_fn *)cb;
		snprintf(name[0], sizeof(name[0]), "%s", host);
		snprintf(name[1], sizeof(name[1]), "%s", host);
		type[0] = TYPE_AAAA;
		type[1] = TYPE_A;
		break;
	case KIND_TLSA:
		q->tlsa_cb = (resolver_tlsa_fn *)cb;
		snprintf(name[0], sizeof(name[0]), "_%u._tcp.%s", port, host);
		type[0] = TYPE_TLSA;
		n = 1;
		q->st[1] = RESOLVER_OK;
		break;
	}
	if ((q->deadline = evtimer_new(r->base, on_deadline, q)) == NULL ||
	    (q->finish = event_new(r->base, -1, 0, on_finish, q)) == NULL) {
		query_free(q);
		return NULL;
	}
	q->pending = n;
	for (int i = 0; i < n; i++) {
		struct ticket *t = calloc(1, sizeof(*t));

		if (t == NULL) {
			q->st[i] = RESOLVER_FAILED;
			one_done(q);
			continue;
		}
		t->q = q;
		t->slot = i;
		q->tk[i] = t;
		/* The answer may come at once (libunbound's cache). */
		if (ub_resolve_event(r->ub, name[i], type[i], 1, t, on_ub,
		    NULL) != 0 && q->tk[i] == t) {
			q->tk[i] = NULL;
			free(t);
			q->st[i] = RESOLVER_FAILED;
			one_done(q);
		}
	}
	query_start(q);
	return q;
}
#endif

/* --- SRV ------------------------------------------------------------------ */

struct srv_ctx {
	struct resolver_query *q;
	int direct;
};

static void
srv_parse(struct resolver_query *q, int direct, int status,
    const unsigned char *abuf, int alen)
{
	struct ares_srv_reply *reply = NULL, *s;

	q->st[direct] = status_of(q, status);
	if (status == ARES_SUCCESS) {
		switch (ares_parse_srv_reply(abuf, alen, &reply)) {
		case ARES_SUCCESS:
			break;
		case ARES_ENODATA:	/* NOERROR, no answer (dnssec) */
			q->st[direct] = RESOLVER_NOT_FOUND;
			break;
		default:
			q->st[direct] = RESOLVER_FAILED;
		}
		for (s = reply; s != NULL && q->nsrv < MAX_SRV; s = s->next) {
			struct s2starget_srv *o = &q->srv[q->nsrv];

			/* c-ares gives the root as "" */
			if ((o->target = strdup(s->host[0] ? s->host : "."))
			    == NULL)
				break;
			o->port = s->port;
			o->priority = s->priority;
			o->weight = s->weight;
			o->direct_tls = direct;
			q->nsrv++;
		}
		if (reply != NULL)
			ares_free_data(reply);
	}
}

static void
on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct srv_ctx *c = arg;
	struct resolver_query *q = c->q;
	int direct = c->direct;

	(void)timeouts;
	free(c);
	srv_parse(q, direct, status, abuf, alen);
	one_done(q);
}

struct resolver_query *
resolver_srv(struct resolver *r, const char *domain, resolver_srv_fn *cb,
    void *arg)
{
	static const char *const svc[2] = { "_xmpp-server._tcp.",
	    "_xmpps-server._tcp." };
	struct resolver_query *q;
	char name[300];

	if (strlen(domain) > 253)
		return NULL;
#ifdef XMPPSHIELD_HAVE_UNBOUND
	if (r->ub != NULL)
		return ub_query(r, KIND_SRV, domain, 0, (void (*)(void))cb,
		    arg);
#endif
	if ((q = query_new(r)) == NULL)
		return NULL;
	q->kind = KIND_SRV;
	q->srv_cb = cb;
	q->arg = arg;
	q->pending = 2;
	for (int d = 0; d < 2; d++) {
		struct srv_ctx *c = calloc(1, sizeof(*c));

		snprintf(name, sizeof(name), "%s%s", svc[d], domain);
		if (c == NULL) {
			q->st[d] = RESOLVER_FAILED;
			one_done(q);
			continue;
		}
		c->q = q;
		c->direct = d;
		ares_query(q->ch, name, ns_c_in, ns_t_srv, on_srv, c);
	}
	query_start(q);
	return q;
}

/* --- addresses -------------------------------------------------------- */

static void
on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolver_query *q = arg;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	q->st[0] = status_of(q, status);
	for (n = res ? res->nodes : NULL; n != NULL && q->naddrs < MAX_ADDRS;
	    n = n->ai_next) {
		struct sockaddr_storage *ss = &q->addrs[q->naddrs];

		if (n->ai_family == AF_INET &&
		    n->ai_addrlen == sizeof(struct sockaddr_in)) {
			memcpy(ss, n->ai_addr, n->ai_addrlen);
			((struct sockaddr_in *)ss)->sin_port = htons(q->port);
		} else if (n->ai_family == AF_INET6 &&
		    n->ai_addrlen == sizeof(struct sockaddr_in6)) {
			memcpy(ss, n->ai_addr, n->ai_addrlen);
			((struct sockaddr_in6 *)ss)->sin6_port = htons(q->port);
		} else
			continue;
		q->naddrs++;
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	one_done(q);
}

struct resolver_query *
resolver_addr(struct resolver *r, const char *host, uint16_t port,
    resolver_addr_fn *cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolver_query *q;

#ifdef XMPPSHIELD_HAVE_UNBOUND
	if (r->ub != NULL)
		return ub_query(r, KIND_ADDR, host, port, (void (*)(void))cb,
		    arg);
#endif
	if ((q = query_new(r)) == NULL)
		return NULL;
	q->kind = KIND_ADDR;
	q->addr_cb = cb;
	q->arg = arg;
	q->port = port;
	q->pending = 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NOSORT;	/* the order DNS gave */
	ares_getaddrinfo(q->ch, host, NULL, &hints, on_addr, q);
	query_start(q);
	return q;
}

struct resolver_query *
resolver_tlsa(struct resolver *r, const char *host, uint16_t port,
    resolver_tlsa_fn *cb, void *arg)
{
#ifdef XMPPSHIELD_HAVE_UNBOUND
	if (r->ub != NULL)
		return ub_query(r, KIND_TLSA, host, port, (void (*)(void))cb,
		    arg);
#else
	(void)host;
	(void)port;
	(void)cb;
	(void)arg;
#endif
	(void)r;
	return NULL;
}

void
resolver_cancel(struct resolver_query *q)
{
	if (q == NULL)
		return;
	q->cancelled = 1;
	if (q->r->ub != NULL) {
		for (int i = 0; i < 2; i++)
			if (q->tk[i] != NULL) {
				q->tk[i]->q = NULL;
				q->tk[i] = NULL;
			}
		q->pending = 0;
		event_active(q->finish, 0, 0);
		return;
	}
	ares_cancel(q->ch);	/* pending callbacks run now; finish later */
	if (q->pending == 0)
		event_active(q->finish, 0, 0);
}
