/*
 * test_vhost.c - virtual host choice from SNI and the pre-TLS 'to', and
 * per-domain backend routing, through vhost.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tap.h"
#include "vhost.h"

static const char conf_text[] =
    "[tls]\ncertificate = /c\nkey = /k\n"
    "[domain a.example]\nbackend = 127.0.0.1:1001\n"
    "s2s_backend = 127.0.0.1:1002\n"
    "[domain b.example]\n"
    "[domain c.example]\n"
    "[listener c2s]\nlisten = 127.0.0.1:0\nbackend = 127.0.0.1:2001\n"
    "domains = a.example b.example\n"
    "[listener s2s]\nlisten = 127.0.0.1:0\nkind = s2s\n"
    "backend = 127.0.0.1:2002\ndomains = b.example a.example\n";

static enum vhost_sni
sni(const struct config_listener *l, const char *fixed, int strict,
    const char *name, const char **dom)
{
	return vhost_sni(l, fixed, strict, name, strlen(name), dom);
}

int
main(void)
{
	const struct config_listener *c2s, *s2s;
	struct config *cfg;
	const char *dom;
	char err[256];

	if (config_parse_string(conf_text, "vhost.conf", &cfg, err,
	    sizeof(err)) != 0) {
		ok(0, "config: %s", err);
		return tap_done();
	}
	c2s = cfg->listeners;
	s2s = c2s->next;

	/* direct TLS: nothing fixed before */
	ok(sni(c2s, NULL, 0, "b.example", &dom) == VHOST_SNI_MATCH &&
	    strcmp(dom, "b.example") == 0, "direct: served SNI chooses");
	ok(sni(c2s, NULL, 0, "B.Example.", &dom) == VHOST_SNI_MATCH &&
	    strcmp(dom, "b.example") == 0,
	    "case and one trailing dot ignored");
	ok(sni(c2s, NULL, 0, "c.example", &dom) == VHOST_SNI_UNKNOWN &&
	    dom == NULL, "a [domain] not served on the listener is unknown");
	ok(sni(c2s, NULL, 0, "evil.example", &dom) == VHOST_SNI_UNKNOWN,
	    "unknown SNI: default certificate");
	ok(sni(c2s, NULL, 1, "evil.example", &dom) == VHOST_SNI_REFUSE,
	    "unknown SNI, sni_strict: refused");
	ok(sni(c2s, NULL, 1, "a.example", &dom) == VHOST_SNI_MATCH,
	    "sni_strict lets a served SNI through");
	ok(vhost_sni(c2s, NULL, 0, "a.example\0x", 11, &dom) ==
	    VHOST_SNI_UNKNOWN, "an SNI with a NUL byte is not a served name");
	ok(vhost_sni(c2s, NULL, 0, "a.exampl", 8, &dom) == VHOST_SNI_UNKNOWN,
	    "a prefix of a served name is not it");
	ok(vhost_sni(c2s, NULL, 0, "", 0, &dom) == VHOST_SNI_UNKNOWN &&
	    vhost_sni(c2s, NULL, 0, ".", 1, &dom) == VHOST_SNI_UNKNOWN,
	    "empty SNI is unknown");

	/* STARTTLS: the pre-TLS 'to' fixed a.example */
	ok(sni(c2s, "a.example", 0, "a.example", &dom) == VHOST_SNI_MATCH &&
	    strcmp(dom, "a.example") == 0, "starttls: SNI == to");
	ok(sni(c2s, "a.example", 0, "b.example", &dom) ==
	    VHOST_SNI_MISMATCH && strcmp(dom, "b.example") == 0,
	    "starttls: SNI naming another served domain: mismatch");
	ok(sni(c2s, "a.example", 0, "evil.example", &dom) ==
	    VHOST_SNI_UNKNOWN, "starttls: unknown SNI keeps to's certificate");
	ok(sni(c2s, "a.example", 1, "evil.example", &dom) ==
	    VHOST_SNI_REFUSE, "starttls: unknown SNI, strict: refused");

	ok(strcmp(vhost_default(c2s, NULL), "a.example") == 0 &&
	    strcmp(vhost_default(s2s, NULL), "b.example") == 0,
	    "default: the listener's first domain");
	ok(strcmp(vhost_default(c2s, "b.example"), "b.example") == 0,
	    "default: the fixed domain");

	ok(strcmp(vhost_backend(cfg, c2s, "a.example")->text,
	    "127.0.0.1:1001") == 0, "c2s: [domain] backend");
	ok(strcmp(vhost_backend(cfg, s2s, "a.example")->text,
	    "127.0.0.1:1002") == 0, "s2s: [domain] s2s_backend");
	ok(strcmp(vhost_backend(cfg, c2s, "b.example")->text,
	    "127.0.0.1:2001") == 0 && strcmp(vhost_backend(cfg, s2s,
	    "b.example")->text, "127.0.0.1:2002") == 0,
	    "no domain backend: the listener's");
	ok(vhost_backend(cfg, c2s, NULL) == &c2s->backend,
	    "domain not known: the listener's");
	config_free(cfg);
	return tap_done();
}
