/*
 * fuzz_config.c - the configuration parser over arbitrary text.
 * Property: it either returns a config or one error line; never crashes.
 */
#include "autoconf.h"
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[512], *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* config_parse_string: pure, never a DNS query from here. */
	if (config_parse_string(text, "fuzz.conf", &cfg, err,
	    sizeof(err)) == 0)
		config_free(cfg);
	else if (strchr(err, '\n') != NULL)
		abort();	/* errors are one line */
	free(text);
	return 0;
}
