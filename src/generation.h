/*
 * generation.h - one loaded configuration and the TLS keys it names.
 *
 * SIGHUP builds a new generation beside the running one; new connections
 * take the newest, and every session keeps a reference to the generation
 * it was accepted under until it ends.  So a reload never changes the
 * limits, certificates or backend of a session in flight, and a broken
 * new configuration never replaces a working one.
 */
#ifndef XMPPSHIELD_GENERATION_H
#define XMPPSHIELD_GENERATION_H

#include <stddef.h>

struct config;
struct tls_ctx;

struct generation {
	unsigned refs;
	unsigned number;	/* 1 at start, +1 per successful reload */
	struct config *cfg;
	struct tls_ctx *tls;
};

/*
 * Read the configuration at path and load every certificate and key it
 * names.  Returns a generation holding one reference, or NULL with one
 * line in err ("file:line: ..." or the certificate problem).
 */
struct generation *generation_load(const char *path, char *err,
    size_t errlen);

struct generation *generation_ref(struct generation *g);

/*
 * Drop a reference; the last one frees the config and the TLS keys
 * (zeroized: private keys, ticket secrets, DRBG state) and logs
 * event=generation-freed at debug level.  Every generation is freed
 * this way, the first one included, once no session and no process
 * state (srv->gen) holds it.
 */
void generation_unref(struct generation *g);

#endif
