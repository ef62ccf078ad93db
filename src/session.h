/*
 * session.h - one client connection, from accept to close.
 *
 * States (session_strstate() names them in debug logs):
 *
 *   PRETLS --<starttls/>, nothing buffered behind it--> PROCEED
 *   PROCEED --<proceed/> flushed--> HANDSHAKE
 *   HANDSHAKE --done--> RELAY  (backend connected on the client's
 *                               first post-TLS stream header)
 *   any --session_end()--> CLOSING --output flushed or linger over--> freed
 *
 * The backend connection is opened only in RELAY, so no client byte can
 * reach the backend before the TLS handshake has completed.  Every
 * session ends through session_end(), which logs exactly one line.
 */
#ifndef XMPPSHIELD_SESSION_H
#define XMPPSHIELD_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "config.h"

struct admission;
struct event_base;
struct generation;
struct session;

/* What every session shares: one per daemon. */
struct server {
	struct event_base *base;
	struct generation *gen;	/* the newest: new connections take it */
	struct admission *admission;	/* connection caps, across reloads */
	int stopping;		/* SIGTERM: the loop ends with the last session */
	unsigned nworkers;	/* processes sharing the caps */
	unsigned long next_source;	/* backend_source taken in turn */
	unsigned long long next_id;
	unsigned nsessions;
	TAILQ_HEAD(, session) sessions;
};

/*
 * Take over the accepted, non-blocking socket fd from listener l, which
 * belongs to srv->gen (the session keeps a reference to it).  A client
 * over a connection cap gets a stream error at once and is closed.  On
 * failure the socket is closed and the failure logged.
 */
void session_accept(struct server *srv, const struct config_listener *l,
    int fd, const struct sockaddr *peer, socklen_t peerlen);

/* End every session with <system-shutdown/> (at a stanza boundary). */
void session_shutdown_all(struct server *srv);

/* Sessions of generations older than srv->gen (after a reload). */
unsigned session_count_old(const struct server *srv);

#endif
