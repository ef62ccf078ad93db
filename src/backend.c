/*
 * backend.c - a session's connection to the XMPP server behind the proxy;
 * see backend.h.
 *
 * A plain bufferevent with deferred callbacks, so that a connect that
 * fails at once never calls back into the session while its relay parser
 * is running: every report comes from the event loop.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "backend.h"
#include "log.h"

struct backend {
	struct bufferevent *bev;
	const struct config_addr *addr;
	unsigned long long id;	/* the session's, for log lines */
	size_t buffer_size;
	int connected;
	int paused;		/* reading stopped by the session */
	const struct backend_callbacks *cb;
	void *ctx;
};

/*
 * A socket bound to the listener's next backend_source of the backend's
 * family, or -1 to let the kernel choose (no sources, or none of the
 * family; a source that cannot be bound is logged and skipped).  The
 * port is left to connect() (IP_BIND_ADDRESS_NO_PORT), so that one source
 * serves ~28,000 connections per backend address rather than per source.
 */
static int
source_socket(const struct config_listener *l, const struct config_addr *to,
    unsigned long *next_source, unsigned long long id)
{
	const struct config_addr *src = NULL, *c;
	int fd, one = 1;
	size_t i;

	for (i = 0; i < l->nsources && src == NULL; i++) {
		c = &l->sources[(*next_source)++ % l->nsources];
		if (c->sa.ss_family == to->sa.ss_family)
			src = c;
	}
	if (src == NULL)
		return -1;
	fd = socket(src->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&src->sa, src->len) == -1) {
		log_msg(LOG_ERR, "event=backend-source-error session=%llu "
		    "source=%s error=%s", id, src->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The PROXY header for the backend: the client as it connected (or as
 * a trusted balancer's header named it), and for v2 the served domain
 * and the client's TLS parameters.  Queued before any client byte.
 * 0, or -1 with errno set.
 */
static int
write_proxy_header(struct backend *b, enum proxyproto_version version,
    const struct backend_client *c)
{
	unsigned char buf[PROXYPROTO_MAX_HEADER];
	int n;

	if (version == PROXYPROTO_V1)
		n = proxyproto_encode_v1(c->peer, c->peerlen, c->local,
		    c->locallen, (char *)buf, sizeof(buf));
	else
		n = proxyproto_encode_v2(c->peer, c->peerlen, c->local,
		    c->locallen, &c->tlvs, buf, sizeof(buf));
	if (n <= 0) {
		errno = EMSGSIZE;	/* over PROXYPROTO_MAX_HEADER */
		return -1;
	}
	if (bufferevent_write(b->bev, buf, (size_t)n) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct backend *b = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec vec;
	size_t n;

	while (evbuffer_peek(in, -1, NULL, &vec, 1) > 0 && vec.iov_len > 0) {
		n = vec.iov_len;
		if (b->cb->data(b->ctx, vec.iov_base, n) == -1)
			return;	/* b may be gone */
		evbuffer_drain(in, n);
	}
	b->cb->data_done(b->ctx);
}

static void
on_drained(struct bufferevent *bev, void *arg)
{
	struct backend *b = arg;

	(void)bev;
	b->cb->drained(b->ctx);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct backend *b = arg;

	if (what & BEV_EVENT_CONNECTED) {
		b->connected = 1;
		bufferevent_set_timeouts(bev, NULL, NULL);
		log_msg(LOG_DEBUG, "event=backend-connected session=%llu "
		    "backend=%s", b->id, b->addr->text);
		return;
	}
	if (!b->connected) {
		if (what & BEV_EVENT_TIMEOUT)
			b->cb->failed(b->ctx, BACKEND_CONNECT_TIMEOUT,
			    "timeout");
		else
			b->cb->failed(b->ctx, BACKEND_CONNECT_FAILED,
			    evutil_socket_error_to_string(
			    EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (what & BEV_EVENT_EOF)
		b->cb->failed(b->ctx, BACKEND_EOF, "closed-mid-stream");
	else
		b->cb->failed(b->ctx, BACKEND_LOST,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

struct backend *
backend_connect(struct event_base *base, const struct config_addr *addr,
    const struct config_listener *l, unsigned long *next_source,
    unsigned long long id, unsigned connect_timeout, size_t buffer_size,
    const struct backend_client *client,
    const struct backend_callbacks *cb, void *ctx, int *error)
{
	struct timeval tv = { .tv_sec = connect_timeout };
	struct backend *b;
	int fd, one = 1;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto err0;
	b->addr = addr;
	b->id = id;
	b->buffer_size = buffer_size;
	b->cb = cb;
	b->ctx = ctx;
	fd = source_socket(l, addr, next_source, id);
	b->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (b->bev == NULL) {
		if (fd != -1)
			close(fd);
		errno = ENOMEM;
		goto err1;
	}
	bufferevent_setcb(b->bev, on_read, on_drained, on_event, b);
	bufferevent_setwatermark(b->bev, EV_WRITE, buffer_size / 2, 0);
	bufferevent_set_timeouts(b->bev, NULL, &tv);
	if (bufferevent_socket_connect(b->bev,
	    (const struct sockaddr *)&addr->sa, (int)addr->len) == -1)
		goto err2;
	setsockopt(bufferevent_getfd(b->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	if (l->backend_proxy != PROXYPROTO_NONE &&
	    write_proxy_header(b, l->backend_proxy, client) == -1)
		goto err2;
	bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	log_msg(LOG_DEBUG, "event=backend-connect session=%llu backend=%s",
	    id, addr->text);
	return b;
err2:
	*error = errno;	/* before bufferevent_free() can change it */
	bufferevent_free(b->bev);
	free(b);
	return NULL;
err1:
	*error = errno;
	free(b);
	return NULL;
err0:
	*error = errno;
	return NULL;
}

void
backend_free(struct backend *b)
{
	if (b == NULL)
		return;
	/* Also cancels callbacks already deferred. */
	bufferevent_free(b->bev);
	free(b);
}

int
backend_write(struct backend *b, const char *data, size_t len)
{
	return bufferevent_write(b->bev, data, len);
}

int
backend_output_full(const struct backend *b)
{
	return evbuffer_get_length(bufferevent_get_output(b->bev)) >=
	    b->buffer_size;
}

void
backend_pause_reading(struct backend *b)
{
	if (b->paused)
		return;
	b->paused = 1;
	bufferevent_disable(b->bev, EV_READ);
}

void
backend_resume_reading(struct backend *b)
{
	if (!b->paused)
		return;
	b->paused = 0;
	bufferevent_enable(b->bev, EV_READ);
}
