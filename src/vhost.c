/*
 * vhost.c - virtual host choice and backend routing; see vhost.h.
 */
#include "autoconf.h"

#include <string.h>
#include <strings.h>

#include "vhost.h"

/* The listener's own spelling of name (len bytes), or NULL. */
static const char *
served(const struct config_listener *l, const char *name, size_t len)
{
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || memchr(name, '\0', len) != NULL)
		return NULL;
	for (i = 0; i < l->ndomains; i++)
		if (strlen(l->domains[i]) == len &&
		    strncasecmp(l->domains[i], name, len) == 0)
			return l->domains[i];
	return NULL;
}

enum vhost_sni
vhost_sni(const struct config_listener *l, const char *fixed, int strict,
    const char *name, size_t len, const char **domain)
{
	const char *d = served(l, name, len);

	*domain = d;
	if (d == NULL)
		return strict ? VHOST_SNI_REFUSE : VHOST_SNI_UNKNOWN;
	if (fixed != NULL && strcasecmp(fixed, d) != 0)
		return VHOST_SNI_MISMATCH;
	return VHOST_SNI_MATCH;
}

const char *
vhost_default(const struct config_listener *l, const char *fixed)
{
	if (fixed != NULL)
		return fixed;
	return l->ndomains > 0 ? l->domains[0] : NULL;
}

const struct config_addr *
vhost_backend(const struct config *cfg, const struct config_listener *l,
    const char *domain)
{
	const struct config_domain *d = config_find_domain(cfg, domain);
	const struct config_addr *a;

	if (d != NULL) {
		a = l->kind == LISTENER_S2S ? &d->s2s_backend : &d->backend;
		if (a->len != 0)
			return a;
	}
	return &l->backend;
}
