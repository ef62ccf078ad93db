/*
 * listener.c - listening sockets; see listener.h.
 *
 * With several workers every address is bound once per worker with
 * SO_REUSEPORT, all before the first fork (as root, and so that port 0
 * resolves to one port for the whole group).  A classic BPF program on
 * the group steers each connection by the client's address (IPv4
 * address, or the upper 64 bits of an IPv6 one), so that one client
 * always lands on the same worker and its per-address caps hold exactly.
 *
 * On EMFILE/ENFILE libevent would call the error callback again at once
 * for as long as the backlog holds a connection: the listener is paused
 * instead and re-enabled from a timer.
 */
#include "autoconf.h"

#include <errno.h>
#include <linux/filter.h>
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
#include "s2sout.h"

#define BACKLOG		512
#define PAUSE_SECONDS	1

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

struct bound {
	int fds[LISTENER_MAX_SLOTS];	/* one socket per worker slot */
	unsigned nfds;
	int fd;				/* this process's, or -1 */
	struct evconnlistener *evl;
	struct event *resume;
	struct server *srv;
	const struct config_listener *l;
	struct config_addr conf;	/* as configured: reloads match on it */
	const struct config_listener *next_l;	/* reload: kept for it */
	int added;			/* bound by the last reload */
	char address[64];		/* as bound (port 0 resolved) */
	struct bound *next;
};

/* A socket the master bound for this worker (listeners_offer()). */
struct offer {
	struct config_addr conf;
	int fd;
	struct offer *next;
};

struct listeners {
	struct bound *all;
	unsigned nslots;
	struct offer *offers;
};

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bound *b = arg;

	(void)evl;
	if (b->l->kind == LISTENER_S2S_OUT)
		s2sout_accept(b->srv, b->l, fd, sa, (socklen_t)salen);
	else
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

/*
 * Steer by client address: A = source address word(s) (the IP header is
 * at SKF_NET_OFF), A % nslots is the index of the socket in the group.
 */
static void
attach_steering(int fd, int family, unsigned nslots)
{
	struct sock_filter v4[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nslots),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	/* IPv6 source address at 8; its /64 is the words at 8 and 12. */
	struct sock_filter v6[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nslots),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog;

	if (family == AF_INET6) {
		prog.len = sizeof(v6) / sizeof(v6[0]);
		prog.filter = v6;
	} else {
		prog.len = sizeof(v4) / sizeof(v4[0]);
		prog.filter = v4;
	}
	/* Without it the kernel hashes the 4-tuple: still balanced, but one
	   client's connections may spread over workers. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog)) == -1)
		log_msg(LOG_WARNING, "event=steering-unavailable error=%s",
		    strerror(errno));
}

static int
bind_socket(const struct config_addr *a, const struct sockaddr *sa,
    socklen_t salen, int reuseport)
{
	int fd, one = 1;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* "[::]:5222" means IPv6 only, so "0.0.0.0:5222" can sit beside. */
	if (a->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) == -1 || listen(fd, BACKLOG) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
free_bound(struct bound *b)
{
	unsigned i;

	if (b->evl != NULL)
		evconnlistener_free(b->evl);	/* closes b->fd */
	else if (b->fd != -1)
		close(b->fd);
	for (i = 0; i < b->nfds; i++)
		if (b->fds[i] != -1 && b->fds[i] != b->fd)
			close(b->fds[i]);
	if (b->resume != NULL)
		event_free(b->resume);
	free(b);
}

static void
free_list(struct bound *b)
{
	struct bound *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free_bound(b);
	}
}

/* This process accepts on b->fd from now on. */
static int
start_one(struct bound *b, struct server *srv)
{
	b->srv = srv;
	b->evl = evconnlistener_new(srv->base, on_accept, b,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, b->fd);
	b->resume = evtimer_new(srv->base, on_resume, b);
	if (b->evl == NULL || b->resume == NULL)
		return -1;
	evconnlistener_set_error_cb(b->evl, on_accept_error);
	return 0;
}

/*
 * Bind address a of listener l nslots times (one group).  The new bound
 * goes to the head of *list.
 */
static int
bind_group(struct bound **list, const struct config_listener *l,
    const struct config_addr *a, unsigned nslots, int reuseport, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct bound *b;
	unsigned i;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->fd = -1;
	b->l = l;
	b->conf = *a;
	b->next = *list;
	*list = b;
	for (i = 0; i < nslots; i++) {
		/* The first socket resolves port 0; the others join it. */
		b->fds[i] = i == 0 ?
		    bind_socket(a, (const struct sockaddr *)&a->sa, a->len,
		    reuseport) :
		    bind_socket(a, (const struct sockaddr *)&ss, sslen, 1);
		if (b->fds[i] == -1) {
			snprintf(err, errlen, "listener %s: cannot listen on "
			    "%s: %s", l->name, a->text, strerror(errno));
			return -1;
		}
		b->nfds = i + 1;
		if (i == 0 && getsockname(b->fds[0], (struct sockaddr *)&ss,
		    &sslen) == -1) {
			snprintf(err, errlen, "listener %s: %s: %s", l->name,
			    a->text, strerror(errno));
			return -1;
		}
	}
	if (nslots > 1)
		attach_steering(b->fds[0], a->sa.ss_family, nslots);
	addr_format((struct sockaddr *)&ss, sslen, b->address,
	    sizeof(b->address));
	log_msg(LOG_NOTICE, "event=listening listener=%s kind=%s address=%s "
	    "backend=%s", l->name, config_kind_name(l->kind), b->address,
	    l->backend.text[0] ? l->backend.text : "-");
	return 0;
}

struct listeners *
listeners_open(const struct config *cfg, unsigned nslots, char *err,
    size_t errlen)
{
	const struct config_listener *l;
	struct listeners *ls;
	size_t i;

	if (nslots < 1 || nslots > LISTENER_MAX_SLOTS) {
		snprintf(err, errlen, "bad number of workers");
		return NULL;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->nslots = nslots;
	for (l = cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->nlisten; i++)
			if (bind_group(&ls->all, l, &l->listen[i], nslots,
			    nslots > 1, err, errlen) == -1) {
				listeners_close(ls);
				return NULL;
			}
	return ls;
}

int
listeners_start(struct listeners *ls, struct server *srv, unsigned slot,
    char *err, size_t errlen)
{
	struct bound *b;
	unsigned i;

	for (b = ls->all; b != NULL; b = b->next) {
		/* The other slots' sockets belong to other workers. */
		for (i = 0; i < b->nfds; i++)
			if (i != slot && b->fds[i] != -1) {
				close(b->fds[i]);
				b->fds[i] = -1;
			}
		b->fd = b->fds[slot];
		if (start_one(b, srv) == -1) {
			snprintf(err, errlen, "listener %s: cannot watch %s",
			    b->l->name, b->address);
			return -1;
		}
	}
	return 0;
}

void
listeners_close(struct listeners *ls)
{
	if (ls == NULL)
		return;
	listeners_forget_offers(ls);
	free_list(ls->all);
	free(ls);
}

/* Reload: a configured address that was already listening keeps its
   socket, and a socket the master offers is matched to its address the
   same way.  Port 0 too: "any free port" keeps the one it got (whereas
   config.c's duplicate check never counts two port-0 addresses as one). */
static int
same_listen(const struct config_addr *a, const struct config_addr *b)
{
	return addr_equal((const struct sockaddr *)&a->sa, a->len,
	    (const struct sockaddr *)&b->sa, b->len);
}

int
listeners_offer(struct listeners *ls, const struct config_addr *conf, int fd)
{
	struct offer *o, **pp;

	/* Two reloads in a row: the later socket for an address wins. */
	for (pp = &ls->offers; (o = *pp) != NULL; pp = &o->next)
		if (same_listen(&o->conf, conf)) {
			close(o->fd);
			o->fd = fd;
			return 0;
		}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		close(fd);
		return -1;
	}
	o->conf = *conf;
	o->fd = fd;
	*pp = o;
	return 0;
}

void
listeners_forget_offers(struct listeners *ls)
{
	struct offer *o, *next;

	for (o = ls->offers; o != NULL; o = next) {
		next = o->next;
		close(o->fd);
		free(o);
	}
	ls->offers = NULL;
}

/* The offered socket for address a, now the caller's; -1 if none. */
static int
take_offer(struct listeners *ls, const struct config_addr *a)
{
	struct offer *o, **pp;
	int fd;

	for (pp = &ls->offers; (o = *pp) != NULL; pp = &o->next)
		if (same_listen(&o->conf, a)) {
			fd = o->fd;
			*pp = o->next;
			free(o);
			return fd;
		}
	return -1;
}

/*
 * A worker of several: take over fd, the socket of this worker's slot
 * in the group the master bound (and logged) for address a of l.
 */
static int
adopt(struct bound **list, const struct config_listener *l,
    const struct config_addr *a, int fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct bound *b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->l = l;
	b->conf = *a;
	b->fds[0] = b->fd = fd;
	b->nfds = 1;
	b->next = *list;
	*list = b;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, errlen, "listener %s: %s: %s", l->name, a->text,
		    strerror(errno));
		return -1;
	}
	addr_format((struct sockaddr *)&ss, sslen, b->address,
	    sizeof(b->address));
	return 0;
}

void
listeners_foreach_added(struct listeners *ls,
    void (*fn)(void *arg, const struct config_addr *conf, const int *fds,
    unsigned nfds), void *arg)
{
	struct bound *b;

	for (b = ls->all; b != NULL; b = b->next)
		if (b->added)
			fn(arg, &b->conf, b->fds, b->nfds);
}

int
listeners_reload(struct listeners *ls, struct server *srv,
    const struct config *cfg, char *err, size_t errlen)
{
	const struct config_listener *l;
	struct bound *b, *added = NULL, **pp;
	/* A worker of several: the master binds and logs, once. */
	int quiet = srv != NULL && ls->nslots > 1;
	int fd, rc = -1;
	size_t i;

	for (b = ls->all; b != NULL; b = b->next) {
		b->next_l = NULL;
		b->added = 0;
	}
	/* First everything that can fail: claim or bind each address. */
	for (l = cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->nlisten; i++) {
			for (b = ls->all; b != NULL; b = b->next)
				if (b->next_l == NULL &&
				    same_listen(&b->conf, &l->listen[i]))
					break;
			if (b != NULL) {
				b->next_l = l;
				continue;
			}
			if (srv == NULL) {
				/* The master: one socket per slot, steered
				   like those bound at start; the workers are
				   handed theirs (listeners_foreach_added). */
				if (bind_group(&added, l, &l->listen[i],
				    ls->nslots, ls->nslots > 1, err,
				    errlen) == -1)
					goto out;
				added->added = 1;
				continue;
			}
			if ((fd = take_offer(ls, &l->listen[i])) != -1) {
				if (adopt(&added, l, &l->listen[i], fd, err,
				    errlen) == -1)
					goto out;
			} else {
				/* One worker, or no socket from the master
				   (the file changed between its load and
				   ours): bound by this process alone
				   (SO_REUSEPORT lets every worker do the
				   same), unsteered. */
				if (bind_group(&added, l, &l->listen[i], 1,
				    ls->nslots > 1, err, errlen) == -1)
					goto out;
				added->fd = added->fds[0];
			}
			if (start_one(added, srv) == -1) {
				snprintf(err, errlen, "listener %s: cannot "
				    "watch %s", l->name, added->address);
				goto out;
			}
		}
	/* Then commit: sockets kept change hands, the rest close. */
	for (pp = &ls->all; (b = *pp) != NULL; ) {
		if (b->next_l != NULL) {
			b->l = b->next_l;
			pp = &b->next;
			continue;
		}
		if (!quiet)
			log_msg(LOG_NOTICE, "event=listener-closed listener=%s "
			    "address=%s", b->l->name, b->address);
		*pp = b->next;
		free_bound(b);
	}
	*pp = added;
	added = NULL;
	rc = 0;
out:
	free_list(added);
	listeners_forget_offers(ls);
	return rc;
}
