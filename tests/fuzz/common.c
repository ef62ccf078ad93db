/*
 * common.c - what the fuzz targets share.
 */
#include "autoconf.h"
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz.h"

struct config *
fuzz_config(void)
{
	static const char text[] =
	    "[tls]\ncertificate = /x.crt\nkey = /x.key\n"
	    "[limits]\nmax_stanza_size = 8k\nmax_preauth_stanza_size = 4k\n"
	    "max_backend_stanza_size = 4k\n"
	    "max_pre_tls_bytes = 1k\n"
	    "[domain example.org]\n"
	    "[listener c2s]\nlisten = 127.0.0.1:0\nbackend = 127.0.0.1:1\n"
	    "domains = example.org\n"
	    "[listener s2s]\nlisten = 127.0.0.1:0\nbackend = 127.0.0.1:2\n"
	    "kind = s2s\ndomains = example.org\n";
	static struct config *cfg;
	char err[256];

	if (cfg == NULL && config_parse_string(text, "fuzz", &cfg, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "fuzz config: %s\n", err);
		abort();
	}
	return cfg;
}
