/*
 * s2speer.c - per-stream s2s peer verification; see s2speer.h.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "peercert.h"
#include "s2speer.h"

/* Distinct domains remembered per stream; later ones are checked (and
   logged) at every claim, which a well-behaved peer never reaches. */
#define MAX_CLAIMED	16

struct s2speer {
	const struct config *cfg;
	const struct config_listener *l;
	struct peercert *pc;
	char logctx[192];
	unsigned nclaims;	/* distinct domains claimed so far */
	char *claimed[MAX_CLAIMED];	/* those already checked */
};

/* Every reason= of event=s2s-peer-unverified: peercert_problem()'s
   words (peercert.h), then the name's. */
static const char *const reasons[] = {
	"no-certificate", "revoked", "self-signed", "unknown-ca", "expired",
	"not-yet-valid", "crl-expired", "bad-crl", "weak-key",
	"bad-key-usage", "invalid-certificate",
	"name-mismatch", "piggyback-not-covered",
};

const char *
s2speer_reason_name(size_t i)
{
	return i < sizeof(reasons) / sizeof(reasons[0]) ? reasons[i] : NULL;
}

const char *
s2speer_policy_name(enum config_s2s_verify v)
{
	switch (v) {
	case CONFIG_S2S_VERIFY_OFF: return "off";
	case CONFIG_S2S_VERIFY_REQUIRE: return "require";
	case CONFIG_S2S_VERIFY_UNSET:
	case CONFIG_S2S_VERIFY_LOG: break;
	}
	return "log";
}

enum config_s2s_verify
s2speer_policy(const struct config *cfg, const struct config_listener *l,
    const char *domain)
{
	const struct config_domain *d;

	if (domain != NULL && (d = config_find_domain(cfg, domain)) != NULL &&
	    d->s2s_verify != CONFIG_S2S_VERIFY_UNSET)
		return d->s2s_verify;
	return l->s2s_verify;
}

int
s2speer_any(const struct config *cfg)
{
	const struct config_listener *l;

	for (l = cfg->listeners; l != NULL; l = l->next) {
		/* Outgoing TLS checks the remote's chain whatever the
		   policy (tls_client_new() needs the store). */
		if (l->kind == LISTENER_S2S_OUT)
			return 1;
		if (l->kind != LISTENER_S2S)
			continue;
		if (l->s2s_verify != CONFIG_S2S_VERIFY_OFF)
			return 1;
		for (size_t i = 0; i < l->ndomains; i++)
			if (s2speer_policy(cfg, l, l->domains[i]) !=
			    CONFIG_S2S_VERIFY_OFF)
				return 1;
	}
	return 0;
}

struct s2speer *
s2speer_new(const struct config *cfg, const struct config_listener *l,
    struct peercert *pc, const char *logctx)
{
	struct s2speer *p;

	if (pc == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		peercert_free(pc);
		return NULL;
	}
	p->cfg = cfg;
	p->l = l;
	p->pc = pc;
	snprintf(p->logctx, sizeof(p->logctx), "%s", logctx);
	return p;
}

void
s2speer_free(struct s2speer *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < MAX_CLAIMED; i++)
		free(p->claimed[i]);
	peercert_free(p->pc);
	free(p);
}

/* 1 if from was claimed (and checked) before on this stream. */
static int
seen(struct s2speer *p, const char *from)
{
	unsigned i;

	for (i = 0; i < MAX_CLAIMED && p->claimed[i] != NULL; i++)
		if (strcasecmp(p->claimed[i], from) == 0)
			return 1;
	if (i < MAX_CLAIMED)
		p->claimed[i] = strdup(from);	/* NULL: checked again */
	return 0;
}

int
s2speer_claim(struct s2speer *p, const char *to, const char *from,
    int dialback, struct verdict *v)
{
	enum config_s2s_verify policy = s2speer_policy(p->cfg, p->l, to);
	enum certname_match m = CERTNAME_NONE;
	char efrom[128], eto[128], issuer[300];
	const char *reason, *via = dialback ? "dialback" : "header";

	if (policy == CONFIG_S2S_VERIFY_OFF || from == NULL || seen(p, from))
		return 0;
	reason = peercert_problem(p->pc);
	if (reason == NULL && (m = peercert_match(p->pc, from)) ==
	    CERTNAME_NONE)
		reason = p->nclaims == 0 ? "name-mismatch" :
		    "piggyback-not-covered";
	p->nclaims++;
	log_escape(from, efrom, sizeof(efrom));
	log_escape(to, eto, sizeof(eto));
	log_quote(peercert_issuer(p->pc), issuer, sizeof(issuer));
	if (reason == NULL) {
		log_msg(LOG_INFO, "event=s2s-peer-verified%s domain=%s to=%s "
		    "via=%s id=%s issuer=%s", p->logctx, efrom, eto, via,
		    certname_match_name(m), issuer);
		metrics_s2s_peer(p->l->name, NULL);
		return 0;
	}
	metrics_s2s_peer(p->l->name, reason);
	log_msg(policy == CONFIG_S2S_VERIFY_REQUIRE ? LOG_WARNING : LOG_NOTICE,
	    "event=s2s-peer-unverified%s domain=%s to=%s via=%s reason=%s "
	    "policy=%s issuer=%s", p->logctx, efrom, eto, via, reason,
	    s2speer_policy_name(policy), issuer);
	if (policy != CONFIG_S2S_VERIFY_REQUIRE)
		return 0;
	verdict_set(v, "policy-violation", "peer-unverified",
	    XMPP_COND_POLICY_VIOLATION,
	    "A valid certificate for the claimed domain is required",
	    " peer_domain=%s detail=%s", efrom, reason);
	return -1;
}

int
s2speer_external(const struct s2speer *p, const char *to, const char *domain)
{
	const struct config_domain *d;
	const struct config_listener *l;
	enum config_s2s_external ext = p->l->s2s_external;

	if (to != NULL && (d = config_find_domain(p->cfg, to)) != NULL &&
	    d->s2s_external != CONFIG_S2S_EXTERNAL_UNSET)
		ext = d->s2s_external;
	if (ext != CONFIG_S2S_EXTERNAL_ON || domain == NULL || to == NULL ||
	    s2speer_policy(p->cfg, p->l, to) == CONFIG_S2S_VERIFY_OFF)
		return 0;
	/* The backend checks our key by dialback through an s2s-out
	   listener of this process (the secret is this process's): without
	   one serving the domain, EXTERNAL could only end in a refusal,
	   where dialback may still succeed. */
	for (l = p->cfg->listeners; l != NULL; l = l->next)
		if (l->kind == LISTENER_S2S_OUT &&
		    config_listener_serves(l, to))
			break;
	if (l == NULL)
		return 0;
	return peercert_problem(p->pc) == NULL &&
	    peercert_match(p->pc, domain) != CERTNAME_NONE;
}
