/*
 * backend.c - the XMPP "server" behind every proxy the benchmark measures.
 *
 *   backend PORT sink|echo [ADDRESS]
 *
 * Listens on ADDRESS:PORT (127.0.0.1 by default; prints the port when
 * PORT is 0).  On each
 * connection it waits for the client's stream header (it ends with
 * "version='1.0'>", as bench/loadgen.c writes it), answers with its own
 * header and an empty <stream:features/>, then either discards everything
 * (sink) or sends every byte back (echo).  Plain epoll, one thread, so it
 * stays cheap next to the proxy under test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char marker[] = "version='1.0'>";
static const char reply[] =
    "<stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='bench' "
    "from='example.org' version='1.0'><stream:features/>";

struct conn {
	int fd;
	int header_done;
	size_t matched;		/* bytes of marker seen so far */
	char *pending;		/* echo output not yet written */
	size_t plen, pcap;
	int reading;
};

static int echo, ep;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->pending);
	free(c);
}

static void
set_events(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = (c->reading ? EPOLLIN : 0) | (c->plen ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queue bytes to the client; writes what the socket takes now. */
static int
out(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	if (c->plen == 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (n == 0)
		return 0;
	if (c->plen + n > c->pcap) {
		c->pcap = (c->plen + n) * 2;
		if ((c->pending = realloc(c->pending, c->pcap)) == NULL)
			die("realloc");
	}
	memcpy(c->pending + c->plen, p, n);
	c->plen += n;
	if (c->plen > (1 << 20))
		c->reading = 0;	/* backpressure */
	set_events(c);
	return 0;
}

static int
on_read(struct conn *c)
{
	static char buf[256 * 1024];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	char *p = buf;

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	if (!c->header_done) {
		while (p < buf + n && !c->header_done) {
			c->matched = *p == marker[c->matched] ? c->matched + 1 :
			    (*p == marker[0] ? 1 : 0);
			p++;
			if (c->matched == sizeof(marker) - 1) {
				c->header_done = 1;
				if (out(c, reply, sizeof(reply) - 1) == -1)
					return -1;
			}
		}
	}
	if (echo && c->header_done && p < buf + n)
		return out(c, p, (size_t)(buf + n - p));
	return 0;
}

static int
on_write(struct conn *c)
{
	ssize_t w = send(c->fd, c->pending, c->plen, MSG_NOSIGNAL);

	if (w < 0)
		return errno == EAGAIN ? 0 : -1;
	memmove(c->pending, c->pending + w, c->plen - (size_t)w);
	c->plen -= (size_t)w;
	if (c->plen < (1 << 19))
		c->reading = 1;
	set_events(c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	struct rlimit rl;
	socklen_t sl = sizeof(sin);
	int lfd, one = 1, i, n;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: backend PORT sink|echo [ADDRESS]\n");
		return 2;
	}
	echo = strcmp(argv[2], "echo") == 0;
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc == 4 && inet_pton(AF_INET, argv[3], &sin.sin_addr) != 1) {
		fprintf(stderr, "backend: bad address %s\n", argv[3]);
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1)
		die("bind/listen");
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	if ((ep = epoll_create1(0)) == -1)
		die("epoll");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					c->reading = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if ((evs[i].events & (EPOLLOUT | EPOLLERR)) &&
			    on_write(c) == -1) {
				conn_close(c);
				continue;
			}
			if ((evs[i].events & (EPOLLIN | EPOLLHUP)) &&
			    on_read(c) == -1)
				conn_close(c);
		}
	}
}
