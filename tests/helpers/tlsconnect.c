/*
 * tlsconnect.c - one outgoing s2s TLS handshake with tls_client_new(),
 * for tests/integration/test_s2s_out_tls.py:
 *
 *   tlsconnect CONFIG DOMAIN REMOTE HOST PORT direct|starttls
 *
 * CONFIG is an xmppshield.conf (its certificates and s2s trust store are
 * loaded as the daemon does); the handshake runs on a non-blocking
 * socket, as in the daemon.  Prints "handshake=ok version= cipher=
 * alpn=" or "handshake=failed reason= detail=", then for a completed one
 * "verify=ok|PROBLEM name=dns|srv|xmppaddr|cn|none issuer=...".
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certname.h"
#include "config.h"
#include "peercert.h"
#include "tls.h"

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct config *cfg;
	struct tls_ctx *ctx;
	struct tls_conn *c;
	struct peercert *pc;
	struct pollfd pfd;
	enum tls_io io;
	char err[512];
	int fd, n;

	if (argc != 7) {
		fprintf(stderr, "usage: tlsconnect CONFIG DOMAIN REMOTE HOST "
		    "PORT direct|starttls\n");
		return 2;
	}
	if (config_load(argv[1], &cfg, err, sizeof(err)) != 0 ||
	    (ctx = tls_ctx_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[5]));
	if (inet_pton(AF_INET, argv[4], &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("connect");
		return 1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if ((c = tls_client_new(ctx, argv[2], argv[3],
	    strcmp(argv[6], "direct") == 0, fd)) == NULL) {
		fprintf(stderr, "tls_client_new failed\n");
		return 1;
	}
	pfd.fd = fd;
	while ((io = tls_handshake(c)) == TLS_IO_WANT_READ ||
	    io == TLS_IO_WANT_WRITE) {
		pfd.events = io == TLS_IO_WANT_READ ? POLLIN : POLLOUT;
		if ((n = poll(&pfd, 1, 10000)) <= 0) {
			printf("handshake=failed reason=timeout\n");
			return 0;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			tls_readable(c);
	}
	if (io != TLS_IO_OK) {
		printf("handshake=failed reason=%s detail=\"%s\"\n",
		    tls_error_reason(c), tls_error_detail(c));
		/* freed, so that a leak in the failure path shows (ASan) */
		tls_conn_free(c);
		close(fd);
		tls_ctx_free(ctx);
		config_free(cfg);
		return 0;
	}
	printf("handshake=ok version=%s cipher=%s alpn=%s\n", tls_version(c),
	    tls_cipher(c), tls_alpn(c) ? tls_alpn(c) : "-");
	if ((pc = tls_peer_certificate(c)) == NULL)
		return 1;
	printf("verify=%s name=%s issuer=\"%s\"\n",
	    peercert_problem(pc) ? peercert_problem(pc) : "ok",
	    certname_match_name(peercert_match(pc, argv[3])),
	    peercert_issuer(pc));
	peercert_free(pc);
	tls_close_notify(c);
	tls_conn_free(c);
	close(fd);
	tls_ctx_free(ctx);
	config_free(cfg);
	return 0;
}
