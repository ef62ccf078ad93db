/*
 * backend.h - a session's connection to the XMPP server behind the proxy.
 *
 * One backend per session, opened only once the client's first post-TLS
 * stream header has chosen the domain (so no client byte can reach the
 * backend before the TLS handshake).  This module owns the socket: it
 * picks a source address (the listener's backend_source, taken in turn),
 * connects within a deadline, queues the PROXY v1/v2 header ahead of any
 * client byte, writes what the session hands it and reports back through
 * completion callbacks (cf. spiped's proto_conn, OpenSMTPD's mta_session).
 *
 * Backpressure: backend_output_full() says when the queue to the backend
 * holds buffer_size bytes (the session then stops reading its client);
 * the drained callback fires once it is back at half.  The session stops
 * and resumes reading from the backend with backend_pause_reading() and
 * backend_resume_reading() when its own queue to the client fills.
 *
 * Callbacks run from the event loop, never from inside backend_connect()
 * or backend_write().  A callback may call backend_free(); the module
 * touches nothing of the backend after a callback that may have done so
 * (see each one).
 */
#ifndef XMPPSHIELD_BACKEND_H
#define XMPPSHIELD_BACKEND_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"
#include "proxyproto.h"

struct backend;
struct event_base;

enum backend_failure {
	BACKEND_CONNECT_FAILED,	/* connect() refused or failed */
	BACKEND_CONNECT_TIMEOUT,	/* not connected within the deadline */
	BACKEND_EOF,		/* connected, then the backend closed */
	BACKEND_LOST,		/* connected, then a socket error */
};

struct backend_callbacks {
	/*
	 * Bytes from the backend, in the order received, possibly in
	 * several calls per wake.  Return 0 to be given more, -1 when the
	 * session ended (the backend may have been freed: nothing more is
	 * read or called for it).
	 */
	int (*data)(void *ctx, const char *data, size_t len);
	/* After the last data() call of one wake, if every one returned 0. */
	void (*data_done)(void *ctx);
	/* The queue to the backend fell to half of buffer_size. */
	void (*drained)(void *ctx);
	/* The connection failed or ended; error is a readable reason.
	   Nothing more is called for this backend. */
	void (*failed)(void *ctx, enum backend_failure what,
	    const char *error);
};

/* Who the client is, for the PROXY header (when l->backend_proxy). */
struct backend_client {
	const struct sockaddr *peer;	/* as connected, or as a trusted */
	socklen_t peerlen;		/* balancer's header named it */
	const struct sockaddr *local;
	socklen_t locallen;
	struct proxyproto_tlvs tlvs;	/* v2 only: domain, TLS parameters */
};

/*
 * Connect to addr for a session (id, for log lines) of listener l: from
 * the next of l's backend_sources of addr's family (*next_source is the
 * turn, shared by all sessions), within connect_timeout seconds, with the
 * PROXY header l->backend_proxy asks for queued first; drained() fires
 * when the queue to the backend falls to buffer_size / 2.
 *
 * Returns the backend, connecting; or NULL with *error set to the errno
 * of the step that failed (nothing is called back then).
 */
struct backend *backend_connect(struct event_base *base,
    const struct config_addr *addr, const struct config_listener *l,
    unsigned long *next_source, unsigned long long id,
    unsigned connect_timeout, size_t buffer_size,
    const struct backend_client *client,
    const struct backend_callbacks *cb, void *ctx, int *error);

/* Close the connection and free b, dropping whatever is still queued.
   NULL is allowed.  Safe from inside b's callbacks. */
void backend_free(struct backend *b);

/* Queue len bytes for the backend; 0, or -1 if out of memory. */
int backend_write(struct backend *b, const char *data, size_t len);

/* 1 when buffer_size bytes or more are queued for the backend. */
int backend_output_full(const struct backend *b);

/* Stop and resume reading from the backend (both idempotent). */
void backend_pause_reading(struct backend *b);
void backend_resume_reading(struct backend *b);

#endif
