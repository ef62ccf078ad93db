/*
 * metrics_http.c - the Prometheus endpoint; see metrics_http.h.
 *
 * evhttp parses HTTP and enforces the header size, body size and
 * silence limits.  What evhttp has no knob for (a cap on connections,
 * a deadline for the whole connection, refusing a peer before it sent a
 * request) is done here from outside: every connection's bufferevent is
 * made by us (evhttp_set_bevcb), held by one extra reference, and
 * checked by a sweep: a peer outside the allow-list or past its deadline
 * has its socket shut down, which evhttp sees as the peer's end.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

#define MAX_CONNS	16
#define MAX_HEADERS	8192		/* bytes of request line and headers */
#define MAX_BODY	0		/* a GET has none */
#define IDLE_SECONDS	5		/* silence while reading or writing */
#define LIFE_SECONDS	10		/* a connection's whole life */

struct conn {
	struct bufferevent *bev;	/* NULL: free entry */
	time_t deadline;
	int checked;			/* allow-list looked at */
};

struct metrics_http {
	int fd;				/* bound socket, until evhttp has it */
	char address[64];
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *sweep;
	int paused;
	struct proxyproto_cidr allow[CONFIG_MAX_TRUSTED];
	size_t nallow;
	struct conn conns[MAX_CONNS];
	unsigned nconns;
};

static time_t
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct metrics_http *
metrics_http_open(const struct config *cfg, char *err, size_t errlen)
{
	const struct config_addr *a = &cfg->metrics_listen;
	struct metrics_http *mh;
	int fd, one = 1;

	err[0] = '\0';
	if (a->len == 0)
		return NULL;
	if ((mh = calloc(1, sizeof(*mh))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (a->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)&a->sa, a->len) == -1 ||
	    listen(fd, 16) == -1) {
		snprintf(err, errlen, "metrics_listen = %s: cannot listen: %s "
		    "(another program on that port? choose another one)",
		    a->text, strerror(errno));
		if (fd != -1)
			close(fd);
		free(mh);
		return NULL;
	}
	mh->fd = fd;
	return mh;
}

static void
conn_release(struct metrics_http *mh, struct conn *c)
{
	bufferevent_decref(c->bev);
	c->bev = NULL;
	mh->nconns--;
	if (mh->paused && mh->bound != NULL) {
		evconnlistener_enable(evhttp_bound_socket_get_listener(
		    mh->bound));
		mh->paused = 0;
	}
}

static void
conn_cut(struct metrics_http *mh, struct conn *c, const char *reason)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char client[64] = "-";
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	(void)mh;
	if (fd == -1)
		return;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, len, client,
		    sizeof(client));
	log_msg(LOG_WARNING, "event=metrics-dropped client=%s reason=%s",
	    client, reason);
	shutdown(fd, SHUT_RDWR);
}

static int
peer_allowed(const struct metrics_http *mh, evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return proxyproto_cidr_match(mh->allow, mh->nallow,
	    (struct sockaddr *)&ss, len);
}

/*
 * Every second, and right after each accept: release what evhttp has
 * freed (its callbacks are gone), cut peers outside the allow-list and
 * connections past their deadline.
 */
static void
on_sweep(evutil_socket_t unused, short what, void *arg)
{
	struct metrics_http *mh = arg;
	bufferevent_event_cb eventcb;
	time_t now = now_seconds();
	struct conn *c;
	evutil_socket_t fd;
	size_t i;

	(void)unused;
	(void)what;
	for (i = 0; i < MAX_CONNS; i++) {
		c = &mh->conns[i];
		if (c->bev == NULL)
			continue;
		bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
		fd = bufferevent_getfd(c->bev);
		if (eventcb == NULL || fd == -1) {
			conn_release(mh, c);
			continue;
		}
		if (!c->checked) {
			c->checked = 1;
			if (!peer_allowed(mh, fd)) {
				conn_cut(mh, c, "not-allowed");
				continue;
			}
		}
		if (now >= c->deadline) {
			c->deadline = now + LIFE_SECONDS;	/* log once */
			conn_cut(mh, c, "deadline");
		}
	}
}

/* evhttp asks for a bufferevent for each connection it accepted. */
static struct bufferevent *
on_new_conn(struct event_base *base, void *arg)
{
	struct metrics_http *mh = arg;
	struct bufferevent *bev;
	size_t i;

	if ((bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	for (i = 0; i < MAX_CONNS && mh->conns[i].bev != NULL; i++)
		;
	/* The listener pauses at MAX_CONNS, so there is room. */
	if (i < MAX_CONNS) {
		bufferevent_incref(bev);
		mh->conns[i].bev = bev;
		mh->conns[i].deadline = now_seconds() + LIFE_SECONDS;
		mh->conns[i].checked = 0;
		if (++mh->nconns == MAX_CONNS) {
			evconnlistener_disable(evhttp_bound_socket_get_listener(
			    mh->bound));
			mh->paused = 1;
			log_msg(LOG_WARNING, "event=metrics-paused "
			    "connections=%u", mh->nconns);
		}
	}
	/* The allow-list as soon as evhttp has set the socket. */
	event_active(mh->sweep, EV_TIMEOUT, 0);
	return bev;
}

static void
out_evbuffer(void *arg, const char *text, size_t len)
{
	evbuffer_add(arg, text, len);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *mh = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct sockaddr *sa = evhttp_connection_get_addr(evcon);
	struct evbuffer *body;
	const char *path;

	/* Also checked here: a request may be read before the sweep. */
	if (sa == NULL || !proxyproto_cidr_match(mh->allow, mh->nallow, sa,
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in))) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		evhttp_send_error(req, 403, "Forbidden");
		return;
	}
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, 404, "Not found: try /metrics");
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 503, "Out of memory");
		return;
	}
	metrics_write(out_evbuffer, body);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

/* Every listener is reported, at 0 until it counts something. */
static void
register_listeners(const struct config *cfg)
{
	const struct config_listener *l;

	for (l = cfg->listeners; l != NULL; l = l->next)
		metrics_listener(l->name);
}

void
metrics_http_reload(struct metrics_http *mh, const struct config *cfg)
{
	if (mh == NULL)
		return;
	register_listeners(cfg);
	memcpy(mh->allow, cfg->metrics_allow, sizeof(mh->allow));
	mh->nallow = cfg->nmetrics_allow;
	/* The endpoint itself stays where it was bound at start. */
	if (cfg->metrics_listen.len == 0 ||
	    strcmp(cfg->metrics_listen.text, mh->address) != 0)
		log_msg(LOG_WARNING, "event=metrics-listen-unchanged "
		    "address=%s detail=metrics_listen-is-read-at-start-only",
		    mh->address);
}

int
metrics_http_start(struct metrics_http *mh, struct event_base *base,
    const struct config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct timeval one = { 1, 0 };

	if (mh == NULL)
		return 0;
	mh->base = base;
	register_listeners(cfg);
	memcpy(mh->allow, cfg->metrics_allow, sizeof(mh->allow));
	mh->nallow = cfg->nmetrics_allow;
	if ((mh->http = evhttp_new(base)) == NULL ||
	    (mh->sweep = event_new(base, -1, EV_PERSIST, on_sweep,
	    mh)) == NULL)
		return -1;
	evhttp_set_max_headers_size(mh->http, MAX_HEADERS);
	evhttp_set_max_body_size(mh->http, MAX_BODY);
	evhttp_set_timeout(mh->http, IDLE_SECONDS);
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_bevcb(mh->http, on_new_conn, mh);
	evhttp_set_gencb(mh->http, on_request, mh);
	if ((mh->bound = evhttp_accept_socket_with_handle(mh->http,
	    mh->fd)) == NULL)
		return -1;
	mh->fd = -1;	/* evhttp closes it now */
	event_add(mh->sweep, &one);
	if (getsockname(evhttp_bound_socket_get_fd(mh->bound),
	    (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, len, mh->address,
		    sizeof(mh->address));
	log_msg(LOG_NOTICE, "event=metrics-listening address=%s",
	    mh->address);
	/* What the admin wrote, to compare a reload's value with. */
	snprintf(mh->address, sizeof(mh->address), "%s",
	    cfg->metrics_listen.text);
	return 0;
}

void
metrics_http_drop(struct metrics_http *mh)
{
	evutil_socket_t fd;
	size_t i;

	if (mh == NULL)
		return;
	/* evhttp_free() would shut the sockets down, for the master too:
	   take each socket out of this loop and close this copy only. */
	if (mh->sweep != NULL)
		event_del(mh->sweep);
	for (i = 0; i < MAX_CONNS; i++)
		if (mh->conns[i].bev != NULL &&
		    (fd = bufferevent_getfd(mh->conns[i].bev)) != -1) {
			bufferevent_disable(mh->conns[i].bev,
			    EV_READ | EV_WRITE);
			bufferevent_setfd(mh->conns[i].bev, -1);
			close(fd);
		}
	if (mh->bound != NULL) {
		evconnlistener_disable(evhttp_bound_socket_get_listener(
		    mh->bound));
		close(evhttp_bound_socket_get_fd(mh->bound));
	}
	if (mh->fd != -1)
		close(mh->fd);
	/* The evhttp structures stay, unused: a few KiB. */
}

void
metrics_http_free(struct metrics_http *mh)
{
	size_t i;

	if (mh == NULL)
		return;
	if (mh->sweep != NULL)
		event_free(mh->sweep);
	if (mh->http != NULL)
		evhttp_free(mh->http);	/* frees its connections */
	for (i = 0; i < MAX_CONNS; i++)
		if (mh->conns[i].bev != NULL)
			bufferevent_decref(mh->conns[i].bev);
	if (mh->fd != -1)
		close(mh->fd);
	free(mh);
}
