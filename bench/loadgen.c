/*
 * loadgen.c - the benchmark's client (OpenSSL libssl, one thread).
 *
 *   loadgen -m MODE -P PORT [options]
 *
 * Modes (each prints one line of key=value results):
 *   hs      -n N sequential TLS handshakes; with -r every handshake after
 *           the first resumes the previous session by its ticket.
 *           Reports the server CPU per handshake (-p PIDs).
 *           With -C K: K client processes, each doing handshakes one
 *           after another for -t seconds (after a short warm-up); reports
 *           handshakes per second of wall time too.  Client k connects
 *           from 127.0.0.(2 + k % S) (-S S), so that servers which steer
 *           connections by client address spread them over workers.
 *   idle    open -n N connections, each through TLS and the XMPP stream
 *           header exchange with the backend, and report the servers' RSS
 *           growth per connection; then close them all.  With -C K, K
 *           processes hold N/K connections each (a process's descriptors
 *           are capped by RLIMIT_NOFILE).
 *   tput    -n N connections each writing 16,000-byte stanzas for -t
 *           seconds (after 1 s warm-up): bytes per second and per
 *           second of server CPU.
 *   stanza  -n N connections, each keeping -w 256-byte stanzas in flight
 *           through an echo backend for -t seconds: stanzas per second
 *           and server CPU per stanza.
 *
 * Options:
 *   -s          XMPP STARTTLS first (xmppshield); otherwise direct TLS
 *   -c LIST     OpenSSL TLS 1.2 cipher list (ECDHE-ECDSA-AES128-GCM-SHA256),
 *               or with -V 1.3 TLS 1.3 suites (TLS_AES_128_GCM_SHA256)
 *   -V VER      TLS version offered, 1.2 (default) or 1.3; with 1.3 and -r
 *               the stream header is exchanged after each handshake so
 *               that the NewSessionTicket (sent after the handshake)
 *               arrives
 *   -g LIST     groups offered (X25519:P-256)
 *   -r          resume sessions with tickets
 *   -p PIDS     comma-separated server PIDs whose CPU/RSS is measured
 *   -S N        spread connections over 127.0.0.2 .. 127.0.0.(N+1)
 *   -C K        hs, idle: K client processes
 *   -L N        connect to ports PORT .. PORT+N-1 in turn
 *   -t SECS     measuring time (tput, stanza)
 *   -w N        stanzas in flight per connection (stanza)
 *
 * The server's CPU is utime+stime from /proc/PID/stat (all threads, and
 * the threads that have exited); its memory is VmRSS from
 * /proc/PID/status.  The children of every PID given (found once at start
 * by their ppid in /proc/NNN/stat: xmppshield's or hitch's workers) are
 * measured too: a live child's CPU shows in its parent's cutime/cstime
 * only after it has exited.
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
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXPIDS 64
#define STANZA	256
#define BIG	16000

static const char header[] =
    "<?xml version='1.0'?><stream:stream to='example.org' "
    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "version='1.0'>";
static const char starttls_cmd[] =
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

static int port, nports = 1, starttls, resume, nsrc = 1, window = 8, conc;
static double secs = 5;
static long n = 100;
static const char *ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
static const char *groups = "X25519:P-256";
static int pids[MAXPIDS], npids;
static SSL_CTX *ctx;
static SSL_SESSION *sess;
static long resumed;
static int tls13;

/* Every session the server hands out: in TLS 1.3 a ticket arrives after
   the handshake, so SSL_get1_session() right after it is too early. */
static int
on_new_session(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	if (sess != NULL)
		SSL_SESSION_free(sess);
	sess = s;
	return 1;	/* we keep the reference */
}

struct conn {
	int fd;
	SSL *ssl;
	long sent, inflight;		/* stanza mode: stanzas */
	unsigned long long rx;		/* plaintext bytes received */
	size_t woff;			/* tput: offset in the write buffer */
	size_t wlen;			/* an SSL_write to repeat, or 0 */
};

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Add pid to the measured set unless it is there already. */
static void
add_pid(int pid)
{
	int i;

	for (i = 0; i < npids; i++)
		if (pids[i] == pid)
			return;
	if (npids < MAXPIDS)
		pids[npids++] = pid;
}

/* The ppid field of /proc/PID/stat, or -1. */
static int
parent_of(int pid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL &&
	    sscanf(p + 2, "%*c %d", &ppid) != 1)
		ppid = -1;
	fclose(f);
	return ppid;
}

/* Add the live children of the PIDs given with -p (one level). */
static void
add_children(void)
{
	DIR *d;
	struct dirent *e;
	int given = npids, i, pid, ppid;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if ((pid = atoi(e->d_name)) <= 0)
			continue;
		ppid = parent_of(pid);
		for (i = 0; i < given; i++)
			if (ppid == pids[i])
				add_pid(pid);
	}
	closedir(d);
}

/* Server CPU seconds (utime + stime of every PID). */
static double
server_cpu(void)
{
	unsigned long long total = 0;
	char path[64], buf[1024], *p;
	int i;

	for (i = 0; i < npids; i++) {
		FILE *f;
		unsigned long ut, st;

		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %lu %lu", &ut, &st) == 2)
			total += ut + st;
		fclose(f);
	}
	return (double)total / (double)sysconf(_SC_CLK_TCK);
}

/* Server RSS in KiB (sum of VmRSS). */
static long
server_rss(void)
{
	char path[64], line[256];
	long total = 0, v;
	int i;

	for (i = 0; i < npids; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "VmRSS: %ld", &v) == 1)
				total += v;
		fclose(f);
	}
	return total;
}

static int
tcp_connect(long idx)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nsrc > 1) {
		sin.sin_addr.s_addr = htonl(0x7f000002 + (uint32_t)(idx % nsrc));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			die("bind: %s", strerror(errno));
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)(port + idx % nports));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect: %s", strerror(errno));
	return fd;
}

/* Read (plain or TLS) until marker has arrived. */
static void
read_until(int fd, SSL *ssl, const char *marker, const char *marker2)
{
	char buf[4096];
	size_t len = 0;
	int r;

	for (;;) {
		if (len >= sizeof(buf) - 1)
			len = 0;	/* markers are short; keep scanning */
		r = ssl ? SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len))
		    : (int)recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (r <= 0)
			die("connection closed while waiting for %s", marker);
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, marker) != NULL ||
		    (marker2 && strstr(buf, marker2) != NULL))
			return;
	}
}

static void
xwrite(int fd, SSL *ssl, const char *p, size_t len)
{
	if (ssl ? SSL_write(ssl, p, (int)len) != (int)len :
	    send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("write failed%s", "");
}

/* One connection, through TLS (blocking); with xmpp, the stream header
   exchange with the backend too. */
static void
conn_open(struct conn *c, long idx, int xmpp)
{
	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(idx);
	if (starttls) {
		xwrite(c->fd, NULL, header, sizeof(header) - 1);
		read_until(c->fd, NULL, "</stream:features>", NULL);
		xwrite(c->fd, NULL, starttls_cmd, sizeof(starttls_cmd) - 1);
		read_until(c->fd, NULL, "<proceed", NULL);
	}
	if ((c->ssl = SSL_new(ctx)) == NULL)
		die("SSL_new%s", "");
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "example.org");
	/* XEP-0368 direct TLS names the protocol; peers without ALPN
	   configured ignore it. */
	if (!starttls)
		SSL_set_alpn_protos(c->ssl, (const unsigned char *)
		    "\x0bxmpp-client", 12);
	if (resume && sess != NULL)
		SSL_set_session(c->ssl, sess);
	if (SSL_connect(c->ssl) != 1)
		die("TLS handshake failed%s", "");
	if (SSL_session_reused(c->ssl))
		resumed++;
	if (xmpp || (resume && tls13)) {
		xwrite(c->fd, c->ssl, header, sizeof(header) - 1);
		read_until(c->fd, c->ssl, "<stream:features/>",
		    "</stream:features>");
	}
}

static void
conn_close(struct conn *c, int clean)
{
	if (clean)
		SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	close(c->fd);
}

static void
mode_hs(void)
{
	struct conn c;
	double c0, t0;
	long i, warm = 5;

	for (i = 0; i < warm; i++) {
		conn_open(&c, i, 0);
		conn_close(&c, 1);
	}
	resumed = 0;
	c0 = server_cpu();
	t0 = now();
	for (i = 0; i < n; i++) {
		conn_open(&c, i, 0);
		conn_close(&c, 1);
	}
	c0 = server_cpu() - c0;
	printf("mode=hs n=%ld resumed=%ld server_cpu_s=%.3f "
	    "cpu_ms_per_hs=%.4f wall_s=%.2f\n", n, resumed, c0,
	    c0 * 1000 / (double)n, now() - t0);
}

/*
 * Read one byte from each of k client processes, or die if one of them
 * exits first (the others then see "go" closed and end too).
 */
static void
wait_ready(int fd, int k)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int status;
	char ch;

	while (k > 0) {
		if (poll(&pfd, 1, 1000) == 1) {
			if (read(fd, &ch, 1) != 1)
				die("a client process failed%s", "");
			k--;
			continue;
		}
		if (waitpid(-1, &status, WNOHANG) > 0)
			die("a client process failed%s", "");
	}
}

/*
 * -C K: K processes, each handshaking one connection after another from
 * its own source address.  They warm up (the first handshake gets the
 * ticket the others resume), report ready, and start together when the
 * parent closes the "go" pipe; each stops at the deadline and writes its
 * counts back.  The parent reads the server's CPU around all of it.
 */
static void
mode_hs_conc(void)
{
	int ready[2], go[2], res[2], k, i;
	long total = 0, totres = 0, cnt[2];
	double c0, t0, tend;
	char ch;

	fflush(stdout);

	if (pipe(ready) == -1 || pipe(go) == -1 || pipe(res) == -1)
		die("pipe: %s", strerror(errno));
	for (k = 0; k < conc; k++) {
		pid_t pid = fork();

		if (pid == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			struct conn c;

			close(go[1]);
			for (i = 0; i < 3; i++) {
				conn_open(&c, k, 0);
				conn_close(&c, 1);
			}
			resumed = 0;
			/* Ready; the parent closing "go" (EOF) starts us. */
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &ch, 1) != 0)
				_exit(1);
			tend = now() + secs;
			cnt[0] = 0;
			while (now() < tend) {
				conn_open(&c, k, 0);
				conn_close(&c, 1);
				cnt[0]++;
			}
			cnt[1] = resumed;
			if (write(res[1], cnt, sizeof(cnt)) != sizeof(cnt))
				_exit(1);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	wait_ready(ready[0], conc);
	c0 = server_cpu();
	t0 = now();
	close(go[1]);
	for (k = 0; k < conc; k++) {
		if (read(res[0], cnt, sizeof(cnt)) != sizeof(cnt))
			die("a client process failed%s", "");
		total += cnt[0];
		totres += cnt[1];
	}
	t0 = now() - t0;
	c0 = server_cpu() - c0;
	while (wait(NULL) > 0)
		;
	printf("mode=hs conc=%d n=%ld resumed=%ld server_cpu_s=%.3f "
	    "cpu_ms_per_hs=%.4f wall_s=%.2f hs_per_s=%.1f "
	    "server_cores=%.2f\n", conc, total, totres, c0,
	    c0 * 1000 / (double)(total ? total : 1), t0,
	    (double)total / t0, c0 / t0);
}

/*
 * idle with -C K: each process opens its share (connection i of the whole
 * is opened by process i % K, so the spread over source addresses and
 * ports is the same as with one process), reports ready and holds them
 * until the parent, having read the servers' RSS, closes "go".
 */
static void
mode_idle_conc(void)
{
	int ready[2], go[2], k;
	long r0, r1, i;
	double t0 = now();
	char ch;

	fflush(stdout);
	if (pipe(ready) == -1 || pipe(go) == -1)
		die("pipe: %s", strerror(errno));
	r0 = server_rss();
	for (k = 0; k < conc; k++) {
		pid_t pid = fork();

		if (pid == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			struct conn *cs = calloc((size_t)(n / conc + 1),
			    sizeof(*cs));
			long m = 0;

			close(go[1]);
			for (i = k; i < n; i += conc)
				conn_open(&cs[m++], i, 1);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &ch, 1) != 0)
				_exit(1);
			for (i = 0; i < m; i++)
				conn_close(&cs[i], 0);
			_exit(0);
		}
	}
	close(go[0]);
	close(ready[1]);
	wait_ready(ready[0], conc);
	r1 = server_rss();
	printf("mode=idle n=%ld procs=%d rss0_kib=%ld rss1_kib=%ld "
	    "kib_per_conn=%.2f wall_s=%.2f\n", n, conc, r0, r1,
	    (double)(r1 - r0) / (double)n, now() - t0);
	fflush(stdout);
	close(go[1]);
	while (wait(NULL) > 0)
		;
}

static void
mode_idle(void)
{
	struct conn *cs = calloc((size_t)n, sizeof(*cs));
	long r0, r1, i;
	double t0 = now();

	r0 = server_rss();
	for (i = 0; i < n; i++)
		conn_open(&cs[i], i, 1);
	r1 = server_rss();
	printf("mode=idle n=%ld resumed=%ld rss0_kib=%ld rss1_kib=%ld "
	    "kib_per_conn=%.2f wall_s=%.2f\n", n, resumed, r0, r1,
	    (double)(r1 - r0) / (double)n, now() - t0);
	fflush(stdout);
	for (i = 0; i < n; i++)
		conn_close(&cs[i], 0);
}

static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Build the repeated stanza stream: count stanzas of size bytes. */
static char *
make_stanzas(size_t size, size_t count, size_t *len)
{
	static const char pre[] = "<message to='bench@example.org' "
	    "type='chat'><body>";
	static const char post[] = "</body></message>";
	char *buf = malloc(size * count), *p = buf;
	size_t i, fill = size - (sizeof(pre) - 1) - (sizeof(post) - 1);

	for (i = 0; i < count; i++) {
		memcpy(p, pre, sizeof(pre) - 1);
		p += sizeof(pre) - 1;
		memset(p, 'a' + (int)(i % 26), fill);
		p += fill;
		memcpy(p, post, sizeof(post) - 1);
		p += sizeof(post) - 1;
	}
	*len = size * count;
	return buf;
}

/* Drain whatever TLS plaintext is readable; -1 on close. */
static int
drain(struct conn *c)
{
	static char buf[65536];
	int r;

	for (;;) {
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
			c->rx += (unsigned long long)r;
			continue;
		}
		r = SSL_get_error(c->ssl, r);
		return r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ?
		    0 : -1;
	}
}

static void
mode_flow(int stanza)
{
	struct conn *cs = calloc((size_t)n, sizeof(*cs));
	struct epoll_event ev, evs[256];
	size_t wlen;
	char *wbuf = stanza ? make_stanzas(STANZA, 64, &wlen) :
	    make_stanzas(BIG, 4, &wlen);
	unsigned long long bytes = 0, b0 = 0, done0 = 0, done = 0;
	double t0, tend, c0 = 0, tm = 0;
	int ep = epoll_create1(0), measuring = 0, k, m;
	long i;

	for (i = 0; i < n; i++) {
		conn_open(&cs[i], i, 1);
		set_nonblock(cs[i].fd);
		SSL_set_mode(cs[i].ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		cs[i].rx = 0;
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.ptr = &cs[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	t0 = now();
	tend = t0 + 1 + secs;
	while (now() < tend) {
		if (!measuring && now() >= t0 + 1) {
			measuring = 1;
			c0 = server_cpu();
			tm = now();
			b0 = bytes;
			done0 = done;
		}
		m = epoll_wait(ep, evs, 256, 100);
		for (k = 0; k < m; k++) {
			struct conn *c = evs[k].data.ptr;
			int r;

			if (evs[k].events & EPOLLIN) {
				unsigned long long before = c->rx;

				if (drain(c) == -1)
					die("connection lost%s", "");
				if (stanza) {
					long got = (long)(c->rx / STANZA) -
					    (long)(before / STANZA);

					c->inflight -= got;
					done += (unsigned long long)got;
				}
			}
			/* Write: tput always, stanza up to the window. */
			for (;;) {
				size_t want;

				if (stanza && c->wlen == 0 &&
				    c->inflight >= window)
					break;
				want = c->wlen ? c->wlen : (stanza ? STANZA :
				    (wlen - c->woff < 16384 ? wlen - c->woff :
				    16384));
				r = SSL_write(c->ssl, wbuf + c->woff, (int)want);
				if (r <= 0) {
					r = SSL_get_error(c->ssl, r);
					if (r != SSL_ERROR_WANT_WRITE &&
					    r != SSL_ERROR_WANT_READ)
						die("write failed%s", "");
					c->wlen = want;
					break;
				}
				c->wlen = 0;
				bytes += (unsigned long long)r;
				c->woff = (c->woff + (size_t)r) % wlen;
				if (stanza) {
					c->sent++;
					c->inflight++;
				}
			}
			ev.events = EPOLLIN | ((!stanza || c->wlen ||
			    c->inflight < window) ? EPOLLOUT : 0);
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
	c0 = server_cpu() - c0;
	tm = now() - tm;
	if (stanza)
		printf("mode=stanza n=%ld window=%d stanzas=%llu "
		    "stanzas_per_s=%.0f server_cpu_s=%.3f us_per_stanza=%.2f\n",
		    n, window, done - done0, (double)(done - done0) / tm, c0,
		    c0 * 1e6 / (double)(done - done0 ? done - done0 : 1));
	else
		printf("mode=tput n=%ld bytes=%llu mb_per_s=%.1f "
		    "server_cpu_s=%.3f mb_per_cpu_s=%.1f\n", n, bytes - b0,
		    (double)(bytes - b0) / tm / 1e6, c0,
		    (double)(bytes - b0) / (c0 > 0 ? c0 : 1e-9) / 1e6);
	for (i = 0; i < n; i++)
		conn_close(&cs[i], 0);
}

int
main(int argc, char **argv)
{
	const char *mode = "hs";
	struct rlimit rl;
	char *p;
	int ch;

	while ((ch = getopt(argc, argv, "m:P:sc:g:rn:p:S:t:w:C:L:V:")) != -1) {
		switch (ch) {
		case 'm': mode = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 's': starttls = 1; break;
		case 'c': ciphers = optarg; break;
		case 'g': groups = optarg; break;
		case 'r': resume = 1; break;
		case 'n': n = atol(optarg); break;
		case 'S': nsrc = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'p':
			for (p = strtok(optarg, ","); p != NULL;
			    p = strtok(NULL, ","))
				add_pid(atoi(p));
			break;
		case 'C': conc = atoi(optarg); break;
		case 'L': nports = atoi(optarg); break;
		case 'V': tls13 = strcmp(optarg, "1.3") == 0; break;
		default:
			fprintf(stderr, "usage: see bench/loadgen.c\n");
			return 2;
		}
	}
	if (port == 0 || n <= 0)
		die("need -P PORT and -n N > 0%s", "");
	add_children();
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new%s", "");
	SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, tls13 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	if (tls13 && strncmp(ciphers, "TLS_", 4) == 0) {
		if (SSL_CTX_set_ciphersuites(ctx, ciphers) != 1)
			die("bad TLS 1.3 suites %s", ciphers);
	} else if (tls13) {
		if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1)
			die("TLS 1.3 suites%s", "");
	} else if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
		die("bad cipher list %s", ciphers);
	if (SSL_CTX_set1_groups_list(ctx, groups) != 1)
		die("bad groups %s", groups);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);

	if (strcmp(mode, "hs") == 0 && conc > 0)
		mode_hs_conc();
	else if (strcmp(mode, "hs") == 0)
		mode_hs();
	else if (strcmp(mode, "idle") == 0 && conc > 0)
		mode_idle_conc();
	else if (strcmp(mode, "idle") == 0)
		mode_idle();
	else if (strcmp(mode, "tput") == 0)
		mode_flow(0);
	else if (strcmp(mode, "stanza") == 0)
		mode_flow(1);
	else
		die("unknown mode %s", mode);
	return 0;
}
