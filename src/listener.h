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
 */
int listeners_reload(struct listeners *ls, struct server *srv,
    const struct config *cfg, char *err, size_t errlen);

/* Stop accepting and close every listening socket. */
void listeners_close(struct listeners *ls);

#endif
