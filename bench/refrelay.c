/*
 * refrelay.c - the benchmark's floor: the least a TLS relay built on
 * mbedTLS (Debian 12's 2.28, or the 3.6 xmppshield builds against) and
 * libevent can do.
 *
 *   refrelay PORT BACKEND_PORT CERT KEY [tickets|notickets] [1.2|1.3]
 *
 * Direct TLS on 127.0.0.1:PORT (printed when 0) with the same policy as
 * xmppshield (TLS 1.2 or, on 3.6, 1.3 only; ECDHE-ECDSA/RSA with AES-GCM
 * or ChaCha20-Poly1305, X25519/P-256/P-384), session tickets from
 * mbedTLS's own ssl_ticket module when "tickets" is given.  After the handshake it connects to
 * 127.0.0.1:BACKEND_PORT and copies bytes both ways, nothing else: no
 * parsing, no limits, no logging.  Not a product; only a yardstick.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <psa/crypto.h>
#define MBEDTLS3 1
#endif

static struct event_base *base;
static mbedtls_ssl_config conf;
static struct sockaddr_in backend_sa;

static const int suites[] = {
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};
#ifdef MBEDTLS3
static const uint16_t groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};
#else
static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE,
};
#endif

struct conn {
	int fd;
	mbedtls_ssl_context ssl;
	struct event *rev, *wev;
	struct bufferevent *be;
	int established;
	size_t wlen;		/* an mbedtls_ssl_write to repeat */
};

static void relay_client(struct conn *);

static void
conn_free(struct conn *c)
{
	if (c->be != NULL)
		bufferevent_free(c->be);
	event_free(c->rev);
	event_free(c->wev);
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
	free(c);
}

static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct conn *c = arg;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE :
		    MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)n;
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct conn *c = arg;
	ssize_t n = recv(c->fd, buf, len, 0);

	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ :
		    MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

/* Backend -> client: encrypt what the backend sent. */
static int
flush_to_client(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->be);
	size_t len;
	int r;

	while ((len = evbuffer_get_length(in)) > 0) {
		size_t want = c->wlen ? c->wlen : (len > 16384 ? 16384 : len);
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)want);

		r = mbedtls_ssl_write(&c->ssl, p, want);
		if (r == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    r == MBEDTLS_ERR_SSL_WANT_READ) {
			c->wlen = want;
			bufferevent_disable(c->be, EV_READ);
			event_add(c->wev, NULL);
			return 0;
		}
		if (r < 0)
			return -1;
		c->wlen = 0;
		evbuffer_drain(in, (size_t)r);
	}
	bufferevent_enable(c->be, EV_READ);
	return 0;
}

static void
on_backend_read(struct bufferevent *be, void *arg)
{
	struct conn *c = arg;

	(void)be;
	if (flush_to_client(c) == -1)
		conn_free(c);
}

static void
on_backend_drained(struct bufferevent *be, void *arg)
{
	struct conn *c = arg;

	(void)be;
	event_add(c->rev, NULL);
	relay_client(c);
}

static void
on_backend_event(struct bufferevent *be, short what, void *arg)
{
	(void)be;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

/* Client -> backend: decrypt records, pass the plaintext on. */
static void
relay_client(struct conn *c)
{
	unsigned char buf[16384];
	int r;

	for (;;) {
		if (evbuffer_get_length(bufferevent_get_output(c->be)) >=
		    65536) {
			event_del(c->rev);
			return;
		}
		r = mbedtls_ssl_read(&c->ssl, buf, sizeof(buf));
		if (r == MBEDTLS_ERR_SSL_WANT_READ)
			return;
		if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
			event_add(c->wev, NULL);
			return;
		}
		if (r <= 0) {
			conn_free(c);
			return;
		}
		bufferevent_write(c->be, buf, (size_t)r);
	}
}

static void
handshake(struct conn *c)
{
	int r = mbedtls_ssl_handshake(&c->ssl), one = 1;

	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		event_del(c->wev);
		return;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		event_add(c->wev, NULL);
		return;
	}
	if (r != 0) {
		conn_free(c);
		return;
	}
	c->established = 1;
	event_del(c->wev);
	c->be = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->be, on_backend_read, on_backend_drained,
	    on_backend_event, c);
	bufferevent_setwatermark(c->be, EV_WRITE, 32768, 0);
	if (bufferevent_socket_connect(c->be, (struct sockaddr *)&backend_sa,
	    sizeof(backend_sa)) == -1) {
		conn_free(c);
		return;
	}
	setsockopt(bufferevent_getfd(c->be), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	bufferevent_enable(c->be, EV_READ | EV_WRITE);
	relay_client(c);
}

static void
on_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->established)
		relay_client(c);
	else
		handshake(c);
}

static void
on_client_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->established) {
		handshake(c);
		return;
	}
	event_del(c->wev);
	if (flush_to_client(c) == -1) {
		conn_free(c);
		return;
	}
	relay_client(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &conf) != 0) {
		close(fd);
		free(c);
		return;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_client_read, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_client_write, c);
	event_add(c->rev, NULL);
}

int
main(int argc, char **argv)
{
	static mbedtls_entropy_context entropy;
	static mbedtls_ctr_drbg_context drbg;
	static mbedtls_x509_crt crt;
	static mbedtls_pk_context key;
	static mbedtls_ssl_ticket_context ticket;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct evconnlistener *l;
	struct rlimit rl;

	int tls13 = argc > 6 && strcmp(argv[6], "1.3") == 0;

	if (argc < 5) {
		fprintf(stderr, "usage: refrelay PORT BACKEND_PORT CERT KEY "
		    "[tickets|notickets] [1.2|1.3]\n");
		return 2;
	}
#ifdef MBEDTLS3
	if (psa_crypto_init() != PSA_SUCCESS) {
		fprintf(stderr, "refrelay: psa_crypto_init failed\n");
		return 1;
	}
#else
	if (tls13) {
		fprintf(stderr, "refrelay: TLS 1.3 needs mbedTLS 3\n");
		return 1;
	}
#endif
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	mbedtls_ssl_config_init(&conf);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	    NULL, 0) != 0 ||
	    mbedtls_x509_crt_parse_file(&crt, argv[3]) != 0 ||
#ifdef MBEDTLS3
	    mbedtls_pk_parse_keyfile(&key, argv[4], NULL,
	    mbedtls_ctr_drbg_random, &drbg) != 0 ||
#else
	    mbedtls_pk_parse_keyfile(&key, argv[4], NULL) != 0 ||
#endif
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
	    mbedtls_ssl_conf_own_cert(&conf, &crt, &key) != 0) {
		fprintf(stderr, "refrelay: TLS setup failed\n");
		return 1;
	}
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
#ifdef MBEDTLS3
	mbedtls_ssl_conf_min_tls_version(&conf, tls13 ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&conf, tls13 ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_groups(&conf, groups);
#else
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_curves(&conf, curves);
#endif
	mbedtls_ssl_conf_ciphersuites(&conf, suites);
	mbedtls_ssl_conf_renegotiation(&conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	if (argc > 5 && strcmp(argv[5], "tickets") == 0) {
		mbedtls_ssl_ticket_init(&ticket);
		if (mbedtls_ssl_ticket_setup(&ticket, mbedtls_ctr_drbg_random,
		    &drbg, MBEDTLS_CIPHER_AES_256_GCM, 7200) != 0) {
			fprintf(stderr, "refrelay: ticket setup failed\n");
			return 1;
		}
		mbedtls_ssl_conf_session_tickets_cb(&conf,
		    mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
		    &ticket);
	}

	backend_sa.sin_family = AF_INET;
	backend_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	backend_sa.sin_port = htons((unsigned short)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	base = event_base_new();
	l = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL) {
		perror("refrelay: listen");
		return 1;
	}
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
