/*
 * generation.c - configuration generations; see generation.h.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "generation.h"
#include "log.h"
#include "resolver.h"
#include "tls.h"

struct generation *
generation_load(const char *path, char *err, size_t errlen)
{
	struct generation *g;
	struct config *cfg;
	char why[512];

	if (config_load(path, &cfg, err, errlen) == -1)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		config_free(cfg);
		return NULL;
	}
	if ((g->tls = tls_ctx_new(cfg, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		config_free(cfg);
		free(g);
		return NULL;
	}
	/* DANE's trust anchor is read at the first query: say now if it
	   cannot be. */
	for (const struct config_listener *l = cfg->listeners; l != NULL;
	    l = l->next)
		if (l->kind == LISTENER_S2S_OUT && l->s2s_out_dane &&
		    resolver_check_anchor(l->s2s_out_dnssec_anchor, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: [listener %s] "
			    "s2s_out_dnssec_anchor: %s", path, l->name, why);
			tls_ctx_free(g->tls);
			config_free(cfg);
			free(g);
			return NULL;
		}
	g->cfg = cfg;
	g->refs = 1;
	g->number = 1;
	return g;
}

struct generation *
generation_ref(struct generation *g)
{
	g->refs++;
	return g;
}

void
generation_unref(struct generation *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	/* tls_ctx_free() zeroizes the keys, ticket secrets and DRBG state
	   before giving their memory back. */
	log_msg(LOG_DEBUG, "event=generation-freed generation=%u",
	    g->number);
	tls_ctx_free(g->tls);
	config_free(g->cfg);
	free(g);
}
