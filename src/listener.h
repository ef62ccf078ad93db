/*
 * listener.h - the listening sockets of every [listener] section.
 */
#ifndef XMPPSHIELD_LISTENER_H
#define XMPPSHIELD_LISTENER_H

#include <stddef.h>

#include "session.h"

struct listeners;

#define LISTENER_MAX_SLOTS	64	/* workers */

/*
 * Bind every address of every listener in cfg, nslots times (one socket
 * per worker, SO_REUSEPORT, steered by client address), as root before
 * privileges are dropped, and log "event=listening" with each address
 * really bound (port 0 picks a free port: tests read it back).  Returns
 * NULL and a message in err on failure.  Nothing is accepted yet.
 */
struct listeners *listeners_open(const struct config *cfg, unsigned nslots,
    char *err, size_t errlen);

/*
 * In the process that serves slot (0 .. nslots-1): close the other
 * slots' sockets and accept on this slot's into srv (srv->base must be
 * this process's event loop).  0, or -1 with err set.
 */
int listeners_start(struct listeners *ls, struct server *srv, unsigned slot,
    char *err, size_t errlen);

/*
 * Reload: make ls serve the listeners of cfg (the new generation's).
 * A configured address that was already listening keeps its socket (no
 * connection in the backlog is lost), new addresses are bound, and
 * addresses no longer configured are closed.  All or nothing: if one
 * address cannot be bound (a privileged port after privileges were
 * dropped, say) nothing changes and -1 is returned with err set.
 *
 * With several workers both sides reload: first the master, with srv
 * NULL, which accepts nothing; it binds each new address once per slot
 * with the same steering as at start (so one client address still
 * reaches one worker on every address) and closes its copies of the
 * removed ones (else they would still complete handshakes nobody
 * accepts).  It hands each worker its slot's new sockets
 * (listeners_foreach_added()); a worker's own reload then takes the
 * sockets offered to it (listeners_offer()) instead of binding, and
 * closes its copy of each removed address.  Offers not taken are closed
 * whatever the result.
 */
int listeners_reload(struct listeners *ls, struct server *srv,
    const struct config *cfg, char *err, size_t errlen);

/*
 * The master, after a successful listeners_reload(): fn(arg, conf, fds,
 * nfds) for each address that reload bound; fds[i] is slot i's socket
 * (ls keeps them: the sender passes copies).
 */
void listeners_foreach_added(struct listeners *ls,
    void (*fn)(void *arg, const struct config_addr *conf, const int *fds,
    unsigned nfds), void *arg);

/*
 * A worker: fd (now ls's) is the master's socket for address conf; the
 * next listeners_reload() serves it if conf is still configured.  A
 * later offer for the same address replaces (closes) an earlier one.
 * 0, or -1 if out of memory (fd closed).
 */
int listeners_offer(struct listeners *ls, const struct config_addr *conf,
    int fd);

/* Close every offered socket not taken yet. */
void listeners_forget_offers(struct listeners *ls);

/* Stop accepting and close every listening socket. */
void listeners_close(struct listeners *ls);

#endif
