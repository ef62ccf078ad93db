/*
 * listener.c - listening sockets; see listener.h.
 *
 * On EMFILE/ENFILE libevent would call the error callback again at once
 * for as long as the backlog holds a connection: the listener is paused
 * instead and re-enabled from a timer.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "listener.h"
#include "log.h"

#define BACKLOG		512
#define PAUSE_SECONDS	1

struct bound {
	struct evconnlistener *evl;
	struct event *resume;
	struct server *srv;
	const struct config_listener *l;
	struct config_addr conf;	/* as configured: reloads match on it */
	const struct config_listener *next_l;	/* reload: kept for it */
	char address[64];		/* as bound (port 0 resolved) */
	struct bound *next;
};

struct listeners {
	struct bound *all;
};

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bound *b = arg;

	(void)evl;
	session_accept(b->srv, b->l, fd, sa, (socklen_t)salen);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct bound *b = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(b->evl);
}

static void
on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct bound *b = arg;
	struct timeval tv = { .tv_sec = PAUSE_SECONDS };
	int err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_msg(LOG_ERR, "event=accept-paused listener=%s address=%s "
		    "error=%s seconds=%d", b->l->name, b->address,
		    err == EMFILE ? "EMFILE" : err == ENFILE ? "ENFILE" :
		    "ENOMEM", PAUSE_SECONDS);
		evconnlistener_disable(evl);
		event_add(b->resume, &tv);
	}
}

static int
bind_one(struct bound **list, struct server *srv,
    const struct config_listener *l, const struct config_addr *a,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct bound *b;
	int fd, one = 1;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listener %s: socket for %s: %s",
		    l->name, a->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:5222" means IPv6 only, so "0.0.0.0:5222" can sit beside. */
	if (a->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) == -1 ||
	    listen(fd, BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, errlen, "listener %s: cannot listen on %s: %s",
		    l->name, a->text, strerror(errno));
		close(fd);
		return -1;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	b->srv = srv;
	b->l = l;
	b->conf = *a;
	addr_format((struct sockaddr *)&ss, sslen, b->address,
	    sizeof(b->address));
	b->evl = evconnlistener_new(srv->base, on_accept, b,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	b->resume = evtimer_new(srv->base, on_resume, b);
	b->next = *list;
	*list = b;
	if (b->evl == NULL || b->resume == NULL) {
		if (b->evl == NULL)
			close(fd);
		snprintf(err, errlen, "listener %s: cannot watch %s",
		    l->name, a->text);
		return -1;
	}
	evconnlistener_set_error_cb(b->evl, on_accept_error);
	log_msg(LOG_NOTICE, "event=listening listener=%s kind=%s address=%s "
	    "backend=%s", l->name, config_kind_name(l->kind), b->address,
	    l->backend.text);
	return 0;
}

struct listeners *
listeners_open(struct server *srv, char *err, size_t errlen)
{
	const struct config_listener *l;
	struct listeners *ls;
	size_t i;

	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (l = srv->cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->nlisten; i++)
			if (bind_one(&ls->all, srv, l, &l->listen[i], err,
			    errlen) == -1) {
				listeners_close(ls);
				return NULL;
			}
	return ls;
}

static void
free_list(struct bound *b)
{
	struct bound *next;

	for (; b != NULL; b = next) {
		next = b->next;
		if (b->evl != NULL)
			evconnlistener_free(b->evl);
		if (b->resume != NULL)
			event_free(b->resume);
		free(b);
	}
}

void
listeners_close(struct listeners *ls)
{
	if (ls == NULL)
		return;
	free_list(ls->all);
	free(ls);
}

static int
same_address(const struct config_addr *a, const struct config_addr *b)
{
	return a->len == b->len && a->sa.ss_family == b->sa.ss_family &&
	    memcmp(&a->sa, &b->sa, a->len) == 0;
}

int
listeners_reload(struct listeners *ls, struct server *srv,
    const struct config *cfg, char *err, size_t errlen)
{
	const struct config_listener *l;
	struct bound *b, *added = NULL, **pp;
	size_t i;

	for (b = ls->all; b != NULL; b = b->next)
		b->next_l = NULL;
	/* First everything that can fail: claim or bind each address. */
	for (l = cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->nlisten; i++) {
			for (b = ls->all; b != NULL; b = b->next)
				if (b->next_l == NULL &&
				    same_address(&b->conf, &l->listen[i]))
					break;
			if (b != NULL) {
				b->next_l = l;
				continue;
			}
			if (bind_one(&added, srv, l, &l->listen[i], err,
			    errlen) == -1) {
				free_list(added);
				return -1;
			}
		}
	/* Then commit: sockets kept change hands, the rest close. */
	for (pp = &ls->all; (b = *pp) != NULL; ) {
		if (b->next_l != NULL) {
			b->l = b->next_l;
			pp = &b->next;
			continue;
		}
		log_msg(LOG_NOTICE, "event=listener-closed listener=%s "
		    "address=%s", b->l->name, b->address);
		*pp = b->next;
		b->next = NULL;
		free_list(b);
	}
	*pp = added;
	return 0;
}
