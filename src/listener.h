/*
 * listener.h - the listening sockets of every [listener] section.
 */
#ifndef XMPPSHIELD_LISTENER_H
#define XMPPSHIELD_LISTENER_H

#include <stddef.h>

#include "session.h"

struct listeners;

/*
 * Bind every address of every listener in srv->cfg (as root, before
 * privileges are dropped) and log "event=listening" with each address
 * really bound (port 0 picks a free port: tests read it back).  Returns
 * NULL and a message in err on failure.  Accepting starts at once.
 */
struct listeners *listeners_open(struct server *srv, char *err,
    size_t errlen);

/* Stop accepting and close every listening socket. */
void listeners_close(struct listeners *ls);

#endif
