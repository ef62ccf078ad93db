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
 */
#include "autoconf.h"

#include <sys/types.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "resolver.h"

#define MAX_SOCKS	8
#define MAX_SRV		32
#define MAX_ADDRS	16

struct resolver {
	struct event_base *base;
	char *servers;
	unsigned timeout_ms;
};

struct sock {
	ares_socket_t fd;
	struct event *ev;
};

struct resolver_query {
	struct resolver *r;
	ares_channel ch;
	int channel_ok;
	int is_srv;
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
	uint16_t port;

	resolver_srv_fn *srv_cb;
	resolver_addr_fn *addr_cb;
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
	free(q);
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;
	enum resolver_status st;

	(void)fd;
	(void)what;
	if (!q->cancelled && q->is_srv) {
		if (q->nsrv > 0)
			st = RESOLVER_OK;
		else if ((q->st[0] == RESOLVER_OK ||
		    q->st[0] == RESOLVER_NOT_FOUND) &&
		    (q->st[1] == RESOLVER_OK || q->st[1] == RESOLVER_NOT_FOUND))
			st = RESOLVER_NOT_FOUND;
		else
			st = q->st[0] == RESOLVER_TIMEOUT ||
			    q->st[1] == RESOLVER_TIMEOUT ? RESOLVER_TIMEOUT :
			    RESOLVER_FAILED;
		q->srv_cb(q->arg, st, q->srv, q->nsrv);
	} else if (!q->cancelled) {
		st = q->st[0];
		if (st == RESOLVER_OK && q->naddrs == 0)
			st = RESOLVER_NOT_FOUND;
		q->addr_cb(q->arg, st, q->addrs, q->naddrs);
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
	rearm(q);
}

/* --- SRV ------------------------------------------------------------------ */

struct srv_ctx {
	struct resolver_query *q;
	int direct;
};

static void
on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct srv_ctx *c = arg;
	struct resolver_query *q = c->q;
	struct ares_srv_reply *reply = NULL, *s;
	int direct = c->direct;

	(void)timeouts;
	free(c);
	q->st[direct] = status_of(q, status);
	if (status == ARES_SUCCESS) {
		if (ares_parse_srv_reply(abuf, alen, &reply) != ARES_SUCCESS)
			q->st[direct] = RESOLVER_FAILED;
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

	if (strlen(domain) > 253 || (q = query_new(r)) == NULL)
		return NULL;
	q->is_srv = 1;
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

	if ((q = query_new(r)) == NULL)
		return NULL;
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

void
resolver_cancel(struct resolver_query *q)
{
	if (q == NULL)
		return;
	q->cancelled = 1;
	ares_cancel(q->ch);	/* pending callbacks run now; finish later */
	if (q->pending == 0)
		event_active(q->finish, 0, 0);
}
