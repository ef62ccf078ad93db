/*
 * s2sout.h - the backend's outgoing server-to-server connections, carried
 * through xmppshield's TLS policy (listener kind s2s-out, issue 13).
 *
 * The backend (a legacy XMPP server without s2s TLS of its own) connects
 * in plaintext to an s2s-out listener (loopback or internal) as if it
 * were the remote server.  One s2sout per such connection:
 *
 *   HEADER     the backend's stream header: jabber:server, 'from' one of
 *              the listener's domains (our certificate), 'to' the remote
 *              domain; else <host-unknown/>
 *   RESOLVE    SRV _xmpps-server/_xmpp-server of 'to' (s2starget.h),
 *              then A/AAAA of each target in turn (resolver.h)
 *   CONNECT    each address in turn, backend_connect_timeout each
 *   NEGOTIATE  STARTTLS targets: our header, the remote's features must
 *              offer <starttls/>, <proceed/> with nothing behind it
 *   HANDSHAKE  TLS client (tls_client_new(): the inbound policy, our
 *              certificate, SNI = remote, ALPN xmpp-server when direct),
 *              then the remote's certificate against the s2s trust store
 *              and the remote domain (peercert.h), policy s2s_verify
 *   RELAY      the backend's header bytes, then both directions as whole
 *              units of restricted XML within the limits; the remote's
 *              features lose <starttls/>, <compression/> and SASL
 *              <mechanisms/> (dialback goes through untouched)
 *
 * Everything from the header to RELAY is bounded by s2s_out_timeout.  A
 * failure before RELAY is one line event=s2s-out-failed with a reason,
 * and the backend gets our stream header (from = the remote) and
 * <remote-connection-failed/> (<host-unknown/> when the remote domain has
 * no server): never a hang.  A failed attempt (address, target) moves on
 * to the next one first.  A relayed connection ends with
 * event=s2s-out-closed.  The backend's original destination, when a
 * firewall redirected it here, is logged from SO_ORIGINAL_DST.
 */
#ifndef XMPPSHIELD_S2SOUT_H
#define XMPPSHIELD_S2SOUT_H

#include <sys/socket.h>

#include "config.h"

struct server;

/*
 * Take over the accepted, non-blocking socket fd of the backend on the
 * s2s-out listener l of srv->gen.  On failure the socket is closed and
 * the failure logged.
 */
void s2sout_accept(struct server *srv, const struct config_listener *l,
    int fd, const struct sockaddr *peer, socklen_t peerlen);

/*
 * End every outgoing connection of this process: relaying ones with
 * <system-shutdown/> to the backend (at a unit boundary) and
 * </stream:stream> to the remote, the others with <system-shutdown/>
 * and event=s2s-out-failed reason=shutdown.  Each is freed once its last
 * bytes are out (or after a short linger).
 */
void s2sout_shutdown_all(struct server *srv);

/* Outgoing connections of generations older than srv->gen (a reload's
   sessions_on_old=, with session_count_old()). */
unsigned s2sout_count_old(const struct server *srv);

#endif
