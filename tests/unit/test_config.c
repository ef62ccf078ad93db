/*
 * test_config.c - the configuration parser: what it accepts, what it
 * refuses, and that every refusal names the right line.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

#define NAME	"test.conf"

/* Lines 1-3, 4, 5-8: the smallest file that loads. */
#define TLS_OK	"[tls]\ncertificate = /etc/x.crt\nkey = /etc/x.key\n"
#define DOM_OK	"[domain example.org]\n"
#define LST_OK	"[listener c2s]\nlisten = 127.0.0.1:5222\n" \
		"backend = 127.0.0.1:15222\ndomains = example.org\n"
#define MIN_OK	TLS_OK DOM_OK LST_OK

/* A listener section, lines N..N+3. */
#define LST(name, listen, backend, domains) \
	"[listener " name "]\nlisten = " listen "\nbackend = " backend \
	"\ndomains = " domains "\n"

struct bad_case {
	const char *what;
	const char *text;
	int line;
	const char *substr;
};

static const struct bad_case bad[] = {
	/* metrics */
	{ "metrics_listen with two addresses",
	    MIN_OK "[global]\nmetrics_listen = 127.0.0.1:1 127.0.0.1:2\n", 10,
	    "metrics_listen takes one address" },
	{ "metrics_listen by name", MIN_OK "[global]\n"
	    "metrics_listen = localhost:9470\n", 10, "metrics_listen" },
	{ "metrics_allow not a block", MIN_OK "[global]\n"
	    "metrics_allow = 10.0.0.1/8\n", 10, "not an IP address or CIDR" },
	{ "cert_warn_days too large", MIN_OK "[global]\n"
	    "cert_warn_days = 9999\n", 10, "cert_warn_days" },
	/* structure */
	{ "unknown section", MIN_OK "[foo]\n", 9, "unknown section [foo]" },
	{ "section without ]", MIN_OK "[global\n", 9, "no closing ']'" },
	{ "text after section header", "[global] junk\n" MIN_OK, 1,
	    "text after the section header" },
	{ "[global] with a name", "[global x]\n" MIN_OK, 1,
	    "[global] takes no name" },
	{ "key before any section", "log_level = info\n" MIN_OK, 1,
	    "outside any section" },
	{ "line without =", MIN_OK "[global]\nlog_level\n", 10,
	    "not a \"key = value\" line" },
	{ "colon separator", MIN_OK "[global]\nlog_level: info\n", 10,
	    "':' between key and value" },
	{ "empty key", MIN_OK "[global]\n= info\n", 10, "no key before '='" },
	{ "continuation line", TLS_OK DOM_OK
	    "[listener c2s]\nlisten = 127.0.0.1:5222\n"
	    "backend = 127.0.0.1:15222\ndomains = example.org\n"
	    "  example.net\n", 9, "continuation lines are not supported" },
	{ "indented key", MIN_OK "[global]\n\tlog_level = info\n", 10,
	    "line starts with a blank" },
	{ "unknown key in [global]", MIN_OK "[global]\nloglevel = info\n", 10,
	    "unknown key \"loglevel\" in [global]; see xmppshield.conf(5)" },
	{ "unknown key, long list", MIN_OK "[limits]\nmax_size = 1k\n", 10,
	    "unknown key \"max_size\" in [limits]; see xmppshield.conf(5)" },
	{ "unknown key in [domain]", MIN_OK "[domain a.org]\ncert = x\n", 10,
	    "unknown key \"cert\" in [domain a.org]; known keys: certificate key" },
	{ "key in the wrong section", "[tls]\nlog_level = info\n" DOM_OK
	    LST_OK, 2, "log_level does not belong in [tls]; move it to "
	    "[global]" },
	{ "tls = tunnel", TLS_OK DOM_OK LST_OK "tls = tunnel\n", 9,
	    "tls = tunnel is unknown; write starttls" },
	{ "sni_strict = maybe", "[tls]\ncertificate = /c\nkey = /k\n"
	    "sni_strict = maybe\n" DOM_OK LST_OK, 4,
	    "sni_strict = maybe is not yes or no" },
	{ "domain backend without port", TLS_OK "[domain example.org]\n"
	    "backend = 127.0.0.1\n" LST_OK, 5, "backend: 127.0.0.1 has no port" },
	{ "domain s2s_backend two addresses", TLS_OK "[domain example.org]\n"
	    "s2s_backend = 127.0.0.1:1 127.0.0.1:2\n" LST_OK, 5,
	    "s2s_backend takes one address" },
	{ "sni_strict in [domain]", TLS_OK "[domain example.org]\n"
	    "sni_strict = yes\n" LST_OK, 5, "move it to [tls]" },
	{ "listener key in [global]", "[global]\nbackend = x:1\n" MIN_OK, 2,
	    "move it to [domain NAME] or [listener NAME]" },
	{ "duplicate key", "[tls]\ncertificate = /a\ncertificate = /b\n"
	    "key = /k\n" DOM_OK LST_OK, 3,
	    "duplicate key certificate in [tls] (first set on line 2)" },
	{ "duplicate key in listener", MIN_OK
	    LST("s2s", "127.0.0.1:5269", "127.0.0.1:15269", "example.org")
	    "kind = s2s\nkind = s2s\n", 14, "duplicate key kind in [listener s2s] (first set on line 13)" },
	{ "duplicate [tls]", MIN_OK "[tls]\n", 9,
	    "duplicate section [tls] (first on line 1)" },
	{ "duplicate [global]", "[global]\n" MIN_OK "[global]\n", 10,
	    "duplicate section [global]" },
	{ "duplicate [domain], other case", MIN_OK "[domain Example.ORG]\n",
	    9, "duplicate section [domain example.org] (first on line 4)" },
	{ "duplicate [listener]", MIN_OK LST("c2s", "127.0.0.1:1",
	    "127.0.0.1:2", "example.org"), 9,
	    "duplicate section [listener c2s] (first on line 5)" },
	{ "empty value", MIN_OK "[global]\nuser =\n", 10, "user has no value" },
	{ "empty value after comment", MIN_OK "[global]\nuser = ; me\n", 10,
	    "user has no value" },
	{ "# after a value", MIN_OK "[global]\npidfile = /run/x.pid # pid\n",
	    10, "'#' after the value of pidfile" },
	{ "control character", MIN_OK "[global]\nuser = a\001b\n", 10,
	    "control character" },

	/* [global] */
	{ "bad log_level", MIN_OK "[global]\nlog_level = verbose\n", 10,
	    "log_level = verbose is not a log level" },
	{ "bad syslog_facility", MIN_OK "[global]\nsyslog_facility = kern\n",
	    10, "not a syslog facility" },

	/* [tls] */
	{ "min_version TLSv1.1 refused", "[tls]\nmin_version = TLSv1.1\n"
	    "certificate = /c\nkey = /k\n" DOM_OK LST_OK, 2,
	    "never negotiates below TLS 1.2; write min_version = TLSv1.2" },
	{ "min_version TLSv1 refused", "[tls]\nmin_version = TLSv1\n", 2,
	    "never negotiates below TLS 1.2" },
	{ "min_version TLSv1.0 refused", "[tls]\nmin_version = TLSv1.0\n", 2,
	    "never negotiates below TLS 1.2" },
	{ "min_version SSLv3 refused", "[tls]\nmin_version = SSLv3\n", 2,
	    "SSLv3 is refused: xmppshield never negotiates below TLS 1.2" },
	{ "min_version junk", "[tls]\nmin_version = 1.2\n", 2,
	    "not a TLS version; xmppshield never negotiates below TLS 1.2" },
#ifndef XMPPSHIELD_HAVE_TLS13
	{ "min_version TLSv1.3 without TLS 1.3", "[tls]\n"
	    "min_version = TLSv1.3\n", 2, "TLSv1.3 needs xmppshield built "
	    "against mbedTLS 3 with TLS 1.3; use TLSv1.2" },
#endif
	{ "CBC cipher refused", "[tls]\nciphers = AES128-GCM AES128-SHA\n", 2,
	    "AES128-SHA is refused: only ECDHE key exchange with AEAD ciphers "
	    "is negotiated; allowed names: AES128-GCM AES256-GCM "
	    "CHACHA20-POLY1305" },
	{ "RC4 refused", "[tls]\nciphers = RC4-SHA\n", 2,
	    "only ECDHE key exchange with AEAD ciphers is negotiated" },
	{ "3DES refused", "[tls]\nciphers = DES-CBC3-SHA\n", 2,
	    "DES-CBC3-SHA is refused" },
	{ "NULL refused", "[tls]\nciphers = NULL\n", 2, "NULL is refused" },
	{ "OpenSSL GCM name gets a hint", "[tls]\n"
	    "ciphers = ECDHE-RSA-AES128-GCM-SHA256\n", 2,
	    "(write AES128-GCM)" },
	{ "IANA ChaCha name gets a hint", "[tls]\n"
	    "ciphers = TLS_CHACHA20_POLY1305_SHA256\n", 2,
	    "(write CHACHA20-POLY1305)" },
	{ "AES256 name gets a hint", "[tls]\n"
	    "ciphers = ECDHE-ECDSA-AES256-GCM-SHA384\n", 2,
	    "(write AES256-GCM)" },
	{ "duplicate cipher", "[tls]\nciphers = AES128-GCM aes128-gcm\n", 2,
	    "lists AES128-GCM twice" },
	{ "session_tickets not yes/no", "[tls]\nsession_tickets = on\n", 2,
	    "session_tickets = on is not yes or no" },
	{ "ticket_lifetime too long", "[tls]\nticket_lifetime = 999999\n", 2,
	    "ticket_lifetime = 999999 is out of range; write a value between "
	    "60 and 604800" },
	{ "[tls] certificate without key", "[tls]\ncertificate = /c\n"
	    DOM_OK LST_OK, 1, "[tls] sets certificate but not key" },

	/* [limits] */
	{ "size below min", MIN_OK "[limits]\nmax_stanza_size = 1023\n", 10,
	    "max_stanza_size = 1023 is out of range; write a value between "
	    "1k and 16M" },
	{ "size above max", MIN_OK "[limits]\nmax_stanza_size = 17M\n", 10,
	    "out of range" },
	{ "size negative", MIN_OK "[limits]\nmax_stanza_size = -1\n", 10,
	    "max_stanza_size = -1 is not a size" },
	{ "pre-auth bound below 4k", MIN_OK "[limits]\n"
	    "max_preauth_stanza_size = 2k\n", 10,
	    "max_preauth_stanza_size = 2k is out of range; write a value "
	    "between 4k and 16M" },
	{ "pre-auth bound over max_stanza_size", MIN_OK "[limits]\n"
	    "max_stanza_size = 8k\nmax_preauth_stanza_size = 16k\n", 11,
	    "max_preauth_stanza_size = 16384 is larger than max_stanza_size "
	    "= 8192 (line 10); write at most 8192, or raise max_stanza_size" },
	{ "pre-auth bound over max_stanza_size set later", MIN_OK
	    "[limits]\nmax_preauth_stanza_size = 32k\nmax_stanza_size = 16k\n",
	    10, "is larger than max_stanza_size = 16384 (line 11)" },
	{ "pre-auth bound over the default max_stanza_size", MIN_OK
	    "[limits]\nmax_preauth_stanza_size = 300k\n", 10,
	    "max_stanza_size = 262144 (the default); write at most 262144" },
	{ "size overflow", MIN_OK "[limits]\n"
	    "buffer_size = 99999999999999999999999\n", 10, "out of range" },
	{ "size overflow by suffix", MIN_OK "[limits]\n"
	    "buffer_size = 18014398509481984M\n", 10, "out of range" },
	{ "size with junk", MIN_OK "[limits]\nbuffer_size = 64kb\n", 10,
	    "is not a size" },
	{ "size with fraction", MIN_OK "[limits]\nbuffer_size = 1.5M\n", 10,
	    "is not a size" },
	{ "size in hex", MIN_OK "[limits]\nbuffer_size = 0x10000\n", 10,
	    "is not a size" },
	{ "size with inner blank", MIN_OK "[limits]\nbuffer_size = 64 k\n",
	    10, "is not a size" },
	{ "pre-TLS bytes below 512", MIN_OK "[limits]\n"
	    "max_pre_tls_bytes = 511\n", 10, "between 512 and 64k" },
	{ "backend stanza size above 64M", MIN_OK "[limits]\n"
	    "max_backend_stanza_size = 65M\n", 10, "between 1k and 64M" },
	{ "depth below 2", MIN_OK "[limits]\nmax_depth = 1\n", 10,
	    "max_depth = 1 is out of range; write a value between 2 and 256" },
	{ "attributes above 1024", MIN_OK "[limits]\nmax_attributes = 1025\n",
	    10, "between 1 and 1024" },
	{ "name length below 64", MIN_OK "[limits]\nmax_name_length = 63\n",
	    10, "between 64 and 4096" },
	{ "timeout 0", MIN_OK "[limits]\npre_tls_timeout = 0\n", 10,
	    "between 1 and 3600" },
	{ "connect timeout above 600", MIN_OK "[limits]\n"
	    "backend_connect_timeout = 601\n", 10, "between 1 and 600" },
	{ "timeout with suffix", MIN_OK "[limits]\nhandshake_timeout = 1k\n",
	    10, "is not a number" },

	/* [domain] */
	{ "[domain] without a name", MIN_OK "[domain]\n", 9,
	    "[domain] needs the XMPP domain" },
	{ "domain with _", MIN_OK "[domain exa_mple.org]\n", 9,
	    "may contain only letters, digits" },
	{ "domain with empty label", MIN_OK "[domain a..org]\n", 9,
	    "empty label" },
	{ "domain with trailing dot", MIN_OK "[domain a.org.]\n", 9,
	    "ends in a dot" },
	{ "domain certificate without key", MIN_OK "[domain b.org]\n"
	    "certificate = /b.crt\n", 9,
	    "[domain b.org] sets certificate but not key" },
	{ "domain key without certificate", "[domain b.org]\nkey = /b.key\n"
	    MIN_OK, 1, "sets key but not certificate" },
	{ "no certificate at all", DOM_OK LST_OK, 1,
	    "[domain example.org] has no certificate and key; set certificate "
	    "and key in [tls] or in [domain example.org]" },
	{ "one domain with, one without certificate", DOM_OK LST_OK
	    "[domain b.org]\ncertificate = /b\nkey = /k\n", 1,
	    "set certificate and key in [tls] or in [domain example.org]" },

	/* [listener] */
	{ "listener name with blank", MIN_OK "[listener a b]\n", 9,
	    "a listener needs a name" },
	{ "listener name too long", MIN_OK
	    "[listener abcdefghijklmnopqrstuvwxyz0123456]\n", 9,
	    "1 to 32 letters" },
	{ "listener without name", MIN_OK "[listener]\n", 9,
	    "a listener needs a name" },
	{ "listener without backend", TLS_OK DOM_OK "[listener c2s]\n"
	    "listen = 127.0.0.1:5222\ndomains = example.org\n[global]\n", 5,
	    "[listener c2s] has no backend; add e.g. backend = " },
	{ "listener without listen", TLS_OK DOM_OK "[listener c2s]\n"
	    "backend = 127.0.0.1:1\ndomains = example.org\n", 5,
	    "[listener c2s] has no listen" },
	{ "listener without domains", TLS_OK DOM_OK "[listener c2s]\n"
	    "backend = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", 5,
	    "[listener c2s] has no domains" },
	{ "bad kind", MIN_OK LST("x", "127.0.0.1:1", "127.0.0.1:2",
	    "example.org") "kind = bosh\n", 13, "kind = bosh is unknown" },
	{ "listen on a name", MIN_OK LST("x", "localhost:5222", "127.0.0.1:2",
	    "example.org"), 10, "localhost:5222 is not a numeric IPv4 "
	    "address" },
	{ "listen on short IPv4", MIN_OK LST("x", "127.1:5222", "127.0.0.1:2",
	    "example.org"), 10, "not a numeric IPv4 address" },
	{ "listen without port", MIN_OK LST("x", "127.0.0.1", "127.0.0.1:2",
	    "example.org"), 10, "127.0.0.1 has no port" },
	{ "listen v6 without port", MIN_OK LST("x", "[::1]", "127.0.0.1:2",
	    "example.org"), 10, "is not [IPv6]:port" },
	{ "listen v6 without brackets", MIN_OK LST("x", "::1:5222",
	    "127.0.0.1:2", "example.org"), 10, "write it in brackets" },
	{ "listen bad v6", MIN_OK LST("x", "[::g]:5222", "127.0.0.1:2",
	    "example.org"), 10, "not a numeric IPv6 address" },
	{ "listen v4 in brackets", MIN_OK LST("x", "[127.0.0.1]:5222",
	    "127.0.0.1:2", "example.org"), 10, "not a numeric IPv6 address" },
	{ "listen port 65536", MIN_OK LST("x", "127.0.0.1:65536",
	    "127.0.0.1:2", "example.org"), 10, "has no valid port" },
	{ "listen port name", MIN_OK LST("x", "127.0.0.1:xmpp-client",
	    "127.0.0.1:2", "example.org"), 10, "has no valid port" },
	{ "listen without host", MIN_OK LST("x", ":5222", "127.0.0.1:2",
	    "example.org"), 10, "has no valid host" },
	{ "listen on 5 addresses", MIN_OK LST("x",
	    "127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5",
	    "127.0.0.1:2", "example.org"), 10, "at most 4" },
	{ "backend port 0", MIN_OK LST("x", "127.0.0.1:1", "127.0.0.1:0",
	    "example.org"), 11, "from 1 to 65535" },
	{ "two backends", MIN_OK LST("x", "127.0.0.1:1",
	    "127.0.0.1:2 127.0.0.1:3", "example.org"), 11,
	    "backend takes one address" },
	{ "bad domain in domains", MIN_OK LST("x", "127.0.0.1:1",
	    "127.0.0.1:2", "example.org exa/mple.org"), 12,
	    "domain exa/mple.org may contain only" },
	{ "domain twice in domains", MIN_OK LST("x", "127.0.0.1:1",
	    "127.0.0.1:2", "example.org Example.Org"), 12,
	    "domains lists example.org twice" },
	{ "domain without section", MIN_OK LST("x", "127.0.0.1:1",
	    "127.0.0.1:2", "example.org example.net"), 9,
	    "[listener x] serves example.net but there is no "
	    "[domain example.net] section" },
	{ "no listener", TLS_OK DOM_OK "[limits]\n", 5, "no [listener] section" },
	{ "empty file", "", 1, "no [listener] section" },
	{ "same address in two listeners", MIN_OK LST("s2s",
	    "[::]:5269 127.0.0.1:5222", "127.0.0.1:2", "example.org"), 9,
	    "[listener s2s] listens on 127.0.0.1:5222, as [listener c2s] "
	    "(line 5) does" },
	{ "same address twice in one listener", MIN_OK LST("s2s",
	    "[::1]:5269 [0:0::1]:5269", "127.0.0.1:2", "example.org"), 9,
	    "[listener s2s] lists [0:0::1]:5269 twice" },
};

static void
check_bad(const struct bad_case *c)
{
	char err[512], prefix[64];
	struct config *cfg = (struct config *)&cfg;	/* must be reset */
	int rc;

	rc = config_parse_string(c->text, NAME, &cfg, err, sizeof(err));
	snprintf(prefix, sizeof(prefix), NAME ":%d: ", c->line);
	ok(rc == -1 && cfg == NULL &&
	    strncmp(err, prefix, strlen(prefix)) == 0 &&
	    strstr(err, c->substr) != NULL && strchr(err, '\n') == NULL,
	    "refused: %s (%s)", c->what, err);
	if (rc == 0)
		config_free(cfg);
}

static struct config *
parse_ok(const char *text, const char *what)
{
	char err[512];
	struct config *cfg = NULL;
	int rc;

	rc = config_parse_string(text, NAME, &cfg, err, sizeof(err));
	ok(rc == 0 && cfg != NULL, "accepted: %s%s%s", what,
	    rc ? ": " : "", rc ? err : "");
	return rc == 0 ? cfg : NULL;
}

static unsigned
port_of(const struct config_addr *a)
{
	if (a->sa.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

static void
test_defaults(void)
{
	struct config *cfg = parse_ok(MIN_OK, "minimal file");
	const struct config_listener *l;

	if (cfg == NULL)
		return;
	ok(strcmp(cfg->path, NAME) == 0, "path kept");
	ok(cfg->log_level == LOG_INFO, "log_level defaults to info");
	ok(cfg->syslog_facility == LOG_DAEMON, "facility defaults to daemon");
	ok(cfg->user == NULL && cfg->group == NULL && cfg->pidfile == NULL,
	    "user, group, pidfile default to unset");
	ok(strcmp(cfg->tls.certificate, "/etc/x.crt") == 0 &&
	    strcmp(cfg->tls.key, "/etc/x.key") == 0, "[tls] paths stored");
	ok(cfg->tls.min_version == TLS_VERSION_1_2, "min_version TLSv1.2");
	ok(cfg->tls.nciphers == 3 &&
	    cfg->tls.ciphers[0] == TLS_CIPHER_CHACHA20_POLY1305 &&
	    cfg->tls.ciphers[1] == TLS_CIPHER_AES128_GCM &&
	    cfg->tls.ciphers[2] == TLS_CIPHER_AES256_GCM,
	    "ciphers default to all three, CHACHA20-POLY1305 first");
	ok(cfg->tls.session_tickets == 1 && cfg->tls.ticket_key_file == NULL &&
	    cfg->tls.ticket_lifetime == 7200,
	    "session tickets on by default, derived keys, 7200 s");
	ok(cfg->limits.max_stanza_size == 262144, "max_stanza_size 256k");
	ok(cfg->limits.max_preauth_stanza_size == 16384,
	    "max_preauth_stanza_size 16k");
	ok(cfg->limits.max_backend_stanza_size == 1048576,
	    "max_backend_stanza_size 1M");
	ok(cfg->limits.max_pre_tls_bytes == 4096, "max_pre_tls_bytes 4k");
	ok(cfg->limits.max_depth == 32 && cfg->limits.max_attributes == 64,
	    "max_depth 32, max_attributes 64");
	ok(cfg->limits.pre_tls_timeout == 30 &&
	    cfg->limits.handshake_timeout == 30 &&
	    cfg->limits.backend_connect_timeout == 10, "timeouts 30 30 10");
	ok(cfg->limits.buffer_size == 65536, "buffer_size 64k");
	ok(cfg->domains != NULL && cfg->domains->next == NULL &&
	    strcmp(cfg->domains->name, "example.org") == 0 &&
	    cfg->domains->certificate == NULL && cfg->domains->key == NULL,
	    "one domain, using the [tls] certificate");
	l = cfg->listeners;
	ok(l != NULL && l->next == NULL && strcmp(l->name, "c2s") == 0 &&
	    l->kind == LISTENER_C2S, "one c2s listener");
	if (l != NULL) {
		ok(l->nlisten == 1 && l->listen[0].sa.ss_family == AF_INET &&
		    port_of(&l->listen[0]) == 5222 &&
		    strcmp(l->listen[0].text, "127.0.0.1:5222") == 0 &&
		    l->listen[0].len == sizeof(struct sockaddr_in),
		    "listen address parsed");
		ok(l->backend.sa.ss_family == AF_INET &&
		    port_of(&l->backend) == 15222 &&
		    strcmp(l->backend.text, "127.0.0.1:15222") == 0,
		    "backend parsed");
		ok(l->ndomains == 1 && strcmp(l->domains[0], "example.org") == 0,
		    "domains parsed");
	}
	config_free(cfg);
}

static void
test_values(void)
{
	struct config *cfg;
	const struct config_listener *l;
	const struct config_domain *d;
	const struct sockaddr_in6 *s6;

	cfg = parse_ok("[global]\nlog_level = debug\n"
	    "syslog_facility = local3\nuser = _xmppshield\ngroup = nogroup\n"
	    "pidfile = /run/xmppshield.pid\n"
	    "[limits]\nmax_stanza_size = 1k\nmax_backend_stanza_size = 64M\n"
	    "max_pre_tls_bytes = 512\nbuffer_size = 16m\nmax_depth = 256\n"
	    "max_attributes = 1\npre_tls_timeout = 3600\n"
	    "handshake_timeout = 1\nbackend_connect_timeout = 600\n"
	    "[tls]\nciphers = chacha20-poly1305  AES256-gcm\n"
	    "min_version = tlsv1.2\ncertificate = /c\nkey = /k\n"
	    DOM_OK LST_OK, "every [global] and [limits] key");
	if (cfg != NULL) {
		ok(cfg->log_level == LOG_DEBUG, "log_level debug");
		ok(cfg->syslog_facility == LOG_LOCAL3, "facility local3");
		ok(strcmp(cfg->user, "_xmppshield") == 0 &&
		    strcmp(cfg->group, "nogroup") == 0 &&
		    strcmp(cfg->pidfile, "/run/xmppshield.pid") == 0,
		    "strings stored");
		ok(cfg->limits.max_stanza_size == 1024, "1k is 1024");
		ok(cfg->limits.max_preauth_stanza_size == 1024,
		    "max_preauth_stanza_size unset follows a smaller "
		    "max_stanza_size");
		ok(cfg->limits.max_backend_stanza_size == 64 * 1048576,
		    "64M is 67108864");
		ok(cfg->limits.max_pre_tls_bytes == 512, "plain 512");
		ok(cfg->limits.buffer_size == 16 * 1048576, "16m is 16 MiB");
		ok(cfg->limits.max_depth == 256 &&
		    cfg->limits.max_attributes == 1 &&
		    cfg->limits.pre_tls_timeout == 3600 &&
		    cfg->limits.handshake_timeout == 1 &&
		    cfg->limits.backend_connect_timeout == 600,
		    "uint bounds accepted");
		ok(cfg->tls.nciphers == 2 &&
		    cfg->tls.ciphers[0] == TLS_CIPHER_CHACHA20_POLY1305 &&
		    cfg->tls.ciphers[1] == TLS_CIPHER_AES256_GCM,
		    "ciphers in the admin's order, any case");
		config_free(cfg);
	}

	cfg = parse_ok(TLS_OK "[domain Example.ORG]\n"
	    "[domain b.example]\ncertificate = /b.crt\nkey = /b.key\n"
	    "[listener v6]\nlisten = [::1]:5222 [::]:0 0.0.0.0:65535\n"
	    "backend = [::1]:15222\nkind = s2s\n"
	    "domains = EXAMPLE.org  b.example\n", "IPv6, case, s2s");
	if (cfg != NULL) {
		l = cfg->listeners;
		ok(l->nlisten == 3 && l->listen[0].sa.ss_family == AF_INET6 &&
		    l->listen[1].sa.ss_family == AF_INET6 &&
		    l->listen[2].sa.ss_family == AF_INET,
		    "listen: two IPv6, one IPv4");
		s6 = (const struct sockaddr_in6 *)&l->listen[0].sa;
		ok(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) &&
		    port_of(&l->listen[0]) == 5222 &&
		    l->listen[0].len == sizeof(struct sockaddr_in6),
		    "[::1]:5222");
		s6 = (const struct sockaddr_in6 *)&l->listen[1].sa;
		ok(IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) &&
		    port_of(&l->listen[1]) == 0 &&
		    strcmp(l->listen[1].text, "[::]:0") == 0, "[::]:0");
		ok(port_of(&l->listen[2]) == 65535, "port 65535");
		ok(l->backend.sa.ss_family == AF_INET6 &&
		    port_of(&l->backend) == 15222 &&
		    strcmp(l->backend.text, "[::1]:15222") == 0,
		    "IPv6 backend");
		ok(l->kind == LISTENER_S2S &&
		    strcmp(config_kind_name(l->kind), "s2s") == 0, "kind s2s");
		ok(l->ndomains == 2 && strcmp(l->domains[0], "example.org") == 0,
		    "listener domains lower-cased");
		d = config_find_domain(cfg, "EXAMPLE.ORG");
		ok(d != NULL && strcmp(d->name, "example.org") == 0,
		    "config_find_domain is case-insensitive");
		ok(config_find_domain(cfg, "example.net") == NULL,
		    "config_find_domain: unknown domain");
		d = config_find_domain(cfg, "b.example");
		ok(d != NULL && strcmp(d->certificate, "/b.crt") == 0 &&
		    strcmp(d->key, "/b.key") == 0, "domain's own certificate");
		ok(config_listener_serves(l, "Example.Org") == 1 &&
		    config_listener_serves(l, "B.EXAMPLE") == 1 &&
		    config_listener_serves(l, "example.net") == 0 &&
		    config_listener_serves(l, "example.or") == 0,
		    "config_listener_serves");
		config_free(cfg);
	}

	cfg = parse_ok("[domain example.org]\ncertificate = /c\nkey = /k\n"
	    LST("a", "127.0.0.1:0", "localhost:5222", "example.org")
	    LST("b", "127.0.0.1:0", "127.0.0.1:1", "example.org"),
	    "no [tls]; backend by name; port 0 twice");
	if (cfg != NULL) {
		char err[256];

		l = cfg->listeners;
		ok(l->backend.len == 0 && l->backend.resolve != NULL &&
		    strcmp(l->backend.resolve, "localhost:5222") == 0,
		    "parsing leaves a backend name unresolved");
		ok(config_resolve(cfg, err, sizeof(err)) == 0 &&
		    l->backend.resolve == NULL, "config_resolve: %s",
		    l->backend.resolve == NULL ? "done" : err);
		ok(port_of(&l->backend) == 5222 &&
		    (l->backend.sa.ss_family == AF_INET ||
		    l->backend.sa.ss_family == AF_INET6) &&
		    strcmp(l->backend.text, "localhost:5222") == 0,
		    "backend name resolved");
		ok(l->next != NULL && strcmp(l->next->name, "b") == 0,
		    "listeners kept in file order");
		config_free(cfg);
	}
}

static void
test_syntax(void)
{
	struct config *cfg;
	char line[256], text[1024];

	cfg = parse_ok("\xEF\xBB\xBF# bom\r\n[tls]\r\ncertificate = /c\r\n"
	    "key = /k ; inline comment\r\n" DOM_OK LST_OK,
	    "BOM, CRLF, inline comment");
	if (cfg != NULL) {
		ok(strcmp(cfg->tls.key, "/k") == 0 &&
		    strcmp(cfg->tls.certificate, "/c") == 0,
		    "CR and inline comment stripped");
		config_free(cfg);
	}

	cfg = parse_ok("; comment\n# comment\n  # indented comment\n\t\n\n"
	    "[ tls ] ; comment\nkey=/k\ncertificate =/c\n"
	    DOM_OK LST_OK "\n", "comments, blank lines, no blanks around =");
	config_free(cfg);

	cfg = parse_ok(MIN_OK "[global]\nuser = a;b", "';' without blank "
	    "before it is data; no newline at the end");
	if (cfg != NULL) {
		ok(strcmp(cfg->user, "a;b") == 0, "user a;b");
		config_free(cfg);
	}

	/* 199 bytes is the longest line; one more is refused. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "pidfile = /", 11);
	line[199] = '\0';
	snprintf(text, sizeof(text), MIN_OK "[global]\n%s\n", line);
	cfg = parse_ok(text, "a line of 199 bytes");
	if (cfg != NULL) {
		ok(strlen(cfg->pidfile) == 199 - 10, "199-byte line kept whole");
		config_free(cfg);
	}
	line[199] = 'a';
	line[200] = '\0';
	snprintf(text, sizeof(text), MIN_OK "[global]\n%s\n", line);
	{
		struct bad_case c = { "a line of 200 bytes", text, 10,
		    "line is longer than 199 bytes; split the list or shorten "
		    "the path" };
		check_bad(&c);
	}
	line[199] = 'a';
	line[250] = '\0';
	memset(line + 200, 'b', 50);
	snprintf(text, sizeof(text), "[global]\n%s\n" MIN_OK, line);
	{
		struct bad_case c = { "a line of 250 bytes", text, 2,
		    "line is longer than 199 bytes" };
		check_bad(&c);
	}
	/* A long comment is refused too: inih would cut it into a key. */
	memset(line, 'x', 250);
	line[0] = '#';
	line[250] = '\0';
	snprintf(text, sizeof(text), MIN_OK "%s\n", line);
	{
		struct bad_case c = { "a comment of 250 bytes", text, 9,
		    "line is longer than 199 bytes" };
		check_bad(&c);
	}
	/* Long [domain] names outgrow inih's 50-byte section buffer. */
	snprintf(text, sizeof(text), TLS_OK "[domain %s.example.org]\n"
	    LST("c2s", "127.0.0.1:1", "127.0.0.1:2", "%s.example.org"),
	    "abcdefghijklmnopqrstuvwxyz-0123456789.abcdefghijklmnopqrstuvwxyz",
	    "abcdefghijklmnopqrstuvwxyz-0123456789.abcdefghijklmnopqrstuvwxyz");
	cfg = parse_ok(text, "a 76-byte domain name");
	if (cfg != NULL) {
		ok(strlen(cfg->domains->name) == 76, "domain name kept whole");
		config_free(cfg);
	}
}

static void
test_tls13(void)
{
	struct config *cfg;
	char err[512];
	int rc;

	rc = config_parse_string("[tls]\nmin_version = TLSv1.3\n"
	    "certificate = /c\nkey = /k\n" DOM_OK LST_OK, NAME, &cfg, err,
	    sizeof(err));
#ifdef XMPPSHIELD_HAVE_TLS13
	ok(rc == 0 && cfg->tls.min_version == TLS_VERSION_1_3,
	    "TLSv1.3 accepted when built with TLS 1.3");
#else
	ok(rc == -1 && strstr(err, ":2: min_version = TLSv1.3: TLSv1.3 needs") !=
	    NULL, "TLSv1.3 refused without TLS 1.3 support");
#endif
	if (rc == 0)
		config_free(cfg);
}

static void
test_errors(void)
{
	struct config *cfg;
	char err[16], path[64], big[600];
	FILE *f;
	int fd, rc;

	memset(err, 'z', sizeof(err));
	rc = config_parse_string("[foo]\n", NAME, &cfg, err, sizeof(err));
	ok(rc == -1 && strlen(err) == sizeof(err) - 1 &&
	    strncmp(err, NAME ":1: ", 12) == 0,
	    "error truncated to errlen, NUL-terminated");
	rc = config_parse_string("[foo]\n", NAME, &cfg, NULL, 0);
	ok(rc == -1 && cfg == NULL, "errlen 0 is safe");

	/* A value quoted back cannot break the message into two lines. */
	{
		char e[512];

		rc = config_parse_string("[global]\nlog_level = a\rb\n", NAME,
		    &cfg, e, sizeof(e));
		ok(rc == -1 && strchr(e, '\r') == NULL && strchr(e, '\n') ==
		    NULL, "control characters not echoed (%s)", e);
	}

	rc = config_load("/nonexistent/xmppshield.conf", &cfg, big,
	    sizeof(big));
	ok(rc == -1 && cfg == NULL &&
	    strstr(big, "/nonexistent/xmppshield.conf: cannot open") != NULL,
	    "config_load: missing file (%s)", big);

	snprintf(path, sizeof(path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f != NULL) {
		fputs(MIN_OK, f);
		fclose(f);
		rc = config_load(path, &cfg, big, sizeof(big));
		ok(rc == 0 && strcmp(cfg->path, path) == 0,
		    "config_load: a file");
		if (rc == 0)
			config_free(cfg);

		f = fopen(path, "w");
		fputs(MIN_OK "[global]\nuser = a", f);
		fputc('\0', f);
		fputs("b\n", f);
		fclose(f);
		rc = config_load(path, &cfg, big, sizeof(big));
		ok(rc == -1 && strstr(big, ":10: NUL byte") != NULL,
		    "config_load: NUL byte refused with its line (%s)", big);

		f = fopen(path, "w");
		fputs(MIN_OK "[limits]\nmax_depth = 1\n", f);
		fclose(f);
		rc = config_load(path, &cfg, big, sizeof(big));
		ok(rc == -1 && strncmp(big, path, strlen(path)) == 0 &&
		    strncmp(big + strlen(path), ":10: ", 5) == 0,
		    "config_load: errors start with path:line (%s)", big);
		unlink(path);
	} else
		ok(0, "mkstemp: cannot create a temporary file");
}

static void
test_example(void)
{
	const char *top = getenv("TOP_SRCDIR");
	char path[4096], err[512];
	struct config *cfg;
	int rc;

	if (top == NULL) {
		ok(1, "# SKIP TOP_SRCDIR unset: example file not checked");
		return;
	}
	snprintf(path, sizeof(path), "%s/etc/xmppshield.conf.example", top);
	rc = config_load(path, &cfg, err, sizeof(err));
	ok(rc == 0, "etc/xmppshield.conf.example loads%s%s", rc ? ": " : "",
	    rc ? err : "");
	if (rc != 0)
		return;
	ok(cfg->listeners != NULL && cfg->listeners->nlisten == 2 &&
	    config_listener_serves(cfg->listeners, "example.org"),
	    "example: c2s listener on two addresses for example.org");
	ok(cfg->limits.max_stanza_size == 262144 &&
	    cfg->limits.buffer_size == 65536, "example: limits as documented");
	config_free(cfg);
}

/* Issue 3: listener tls mode, [tls] sni_strict, per-domain backends. */
static void
test_doors(void)
{
	const struct config_listener *l;
	const struct config_domain *d;
	struct config *cfg;

	cfg = parse_ok(MIN_OK, "defaults of tls, sni_strict, domain backends");
	if (cfg != NULL) {
		ok(cfg->listeners->tls == LISTENER_TLS_STARTTLS &&
		    strcmp(config_tls_mode_name(cfg->listeners->tls),
		    "starttls") == 0, "tls defaults to starttls");
		ok(cfg->tls.sni_strict == 0, "sni_strict defaults to no");
		ok(cfg->domains->backend.len == 0 &&
		    cfg->domains->s2s_backend.len == 0,
		    "no per-domain backend by default");
		config_free(cfg);
	}
	cfg = parse_ok("[tls]\ncertificate = /c\nkey = /k\nsni_strict = Yes\n"
	    "[domain a.example]\nbackend = 127.0.0.1:15222\n"
	    "s2s_backend = [::1]:15269\n[domain b.example]\n"
	    "[listener c2s-direct]\nlisten = 127.0.0.1:5223\ntls = DIRECT\n"
	    "backend = 127.0.0.1:25222\ndomains = a.example b.example\n"
	    "[listener s2s-direct]\nlisten = 127.0.0.1:5270\nkind = s2s\n"
	    "tls = direct\nbackend = 127.0.0.1:25269\n"
	    "domains = a.example\n", "direct listeners, domain backends");
	if (cfg != NULL) {
		l = cfg->listeners;
		ok(cfg->tls.sni_strict == 1, "sni_strict = Yes");
		ok(l->tls == LISTENER_TLS_DIRECT && l->kind == LISTENER_C2S &&
		    strcmp(config_tls_mode_name(l->tls), "direct") == 0,
		    "tls = DIRECT on a c2s listener");
		ok(l->next->tls == LISTENER_TLS_DIRECT &&
		    l->next->kind == LISTENER_S2S, "tls = direct on s2s");
		d = config_find_domain(cfg, "a.example");
		ok(d != NULL && port_of(&d->backend) == 15222 &&
		    strcmp(d->backend.text, "127.0.0.1:15222") == 0,
		    "[domain] backend");
		ok(d != NULL && d->s2s_backend.sa.ss_family == AF_INET6 &&
		    port_of(&d->s2s_backend) == 15269, "[domain] s2s_backend");
		d = config_find_domain(cfg, "b.example");
		ok(d != NULL && d->backend.len == 0, "b.example: no backend");
		config_free(cfg);
	}
}

/* metrics_listen, metrics_allow, cert_warn_days: defaults and values. */
static void
test_metrics_keys(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct config *cfg;

	if ((cfg = parse_ok(MIN_OK, "no metrics keys")) != NULL) {
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok(cfg->metrics_listen.len == 0 && cfg->cert_warn_days == 21 &&
		    cfg->nmetrics_allow == 2 &&
		    proxyproto_cidr_match(cfg->metrics_allow,
		    cfg->nmetrics_allow, (struct sockaddr *)&sin,
		    sizeof(sin)), "defaults: off, loopback, 21 days");
		sin.sin_addr.s_addr = htonl(0x0a000001);
		ok(!proxyproto_cidr_match(cfg->metrics_allow,
		    cfg->nmetrics_allow, (struct sockaddr *)&sin,
		    sizeof(sin)), "default allow-list refuses 10.0.0.1");
		config_free(cfg);
	}
	if ((cfg = parse_ok(MIN_OK "[global]\nmetrics_listen = [::1]:9470\n"
	    "metrics_allow = 10.0.0.0/8, 2001:db8::/32\ncert_warn_days = 0\n",
	    "metrics keys set")) != NULL) {
		ok(cfg->metrics_listen.len != 0 && port_of(&cfg->metrics_listen)
		    == 9470 && cfg->nmetrics_allow == 2 &&
		    cfg->cert_warn_days == 0, "metrics keys read");
		config_free(cfg);
	}
}

static void
test_print_keys(void)
{
	char *buf = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		ok(0, "open_memstream");
		return;
	}
	config_print_keys(f);
	fclose(f);
	for (char *c = buf; *c != '\0'; c++)
		lines += *c == '\n';
	ok(lines == 60, "config_print_keys: one line per key (%zu)", lines);
	ok(strstr(buf, "limits\tmax_stanza_size\t256k\t") != NULL &&
	    strstr(buf, "listener\tbackend\trequired\t") != NULL &&
	    strstr(buf, "global\tuser\t-\t") != NULL &&
	    strstr(buf, "tls\tciphers\tCHACHA20-POLY1305 AES128-GCM "
	    "AES256-GCM\t") != NULL &&
	    strstr(buf, "tls\tsession_tickets\tyes\t") != NULL,
	    "config_print_keys: section, key, default, help");
	free(buf);

	ok(strcmp(config_cipher_name(TLS_CIPHER_AES256_GCM), "AES256-GCM") == 0 &&
	    strcmp(config_cipher_name(TLS_CIPHER_CHACHA20_POLY1305),
	    "CHACHA20-POLY1305") == 0, "config_cipher_name");
	ok(strcmp(config_kind_name(LISTENER_C2S), "c2s") == 0,
	    "config_kind_name");
}

/* The PROXY protocol keys of [listener]. */
static void
test_proxy_keys(void)
{
	static const struct bad_case pbad[] = {
		{ "backend_proxy_protocol v3", MIN_OK
		    "backend_proxy_protocol = v3\n", 9, "write none, v1 or v2" },
		{ "accept_proxy_protocol maybe", MIN_OK
		    "accept_proxy_protocol = maybe\n", 9, "write yes or no" },
		{ "accept without proxy_trusted", MIN_OK
		    "accept_proxy_protocol = yes\n", 5, "[listener c2s] has "
		    "accept_proxy_protocol = yes but no proxy_trusted" },
		{ "proxy_trusted without accept", MIN_OK
		    "proxy_trusted = 127.0.0.1\n", 5, "[listener c2s] has "
		    "proxy_trusted but accept_proxy_protocol is not yes" },
		{ "proxy_trusted with host bits", MIN_OK
		    "accept_proxy_protocol = yes\nproxy_trusted = 10.0.0.1/8\n",
		    10, "proxy_trusted: 10.0.0.1/8 is not an IP address or CIDR" },
		{ "proxy_trusted with a name", MIN_OK
		    "accept_proxy_protocol = yes\nproxy_trusted = lb.example\n",
		    10, "lb.example is not an IP address" },
		{ "proxy_trusted only commas", MIN_OK
		    "accept_proxy_protocol = yes\nproxy_trusted = , ,\n", 10,
		    "proxy_trusted is empty" },
		{ "proxy_trusted with 17 blocks", MIN_OK
		    "accept_proxy_protocol = yes\nproxy_trusted = 10.0.0.1,"
		    "10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,"
		    "10.0.0.8,10.0.0.9,10.0.0.10,10.0.0.11,10.0.0.12,10.0.0.13,"
		    "10.0.0.14,10.0.0.15,10.0.0.16,10.0.0.17\n", 10,
		    "more than 16 address blocks" },
	};
	struct config *cfg;
	const struct config_listener *l;

	for (size_t i = 0; i < sizeof(pbad) / sizeof(pbad[0]); i++)
		check_bad(&pbad[i]);
	cfg = parse_ok(MIN_OK, "no PROXY keys");
	if (cfg != NULL) {
		l = cfg->listeners;
		ok(l->backend_proxy == PROXYPROTO_NONE && !l->accept_proxy &&
		    l->ntrusted == 0, "PROXY protocol off by default");
		config_free(cfg);
	}
	cfg = parse_ok(MIN_OK "backend_proxy_protocol = V2\n"
	    "accept_proxy_protocol = Yes\n"
	    "proxy_trusted = 10.0.0.5, 192.0.2.0/28 2001:db8::/32,::1\n",
	    "every PROXY key");
	if (cfg != NULL) {
		l = cfg->listeners;
		ok(l->backend_proxy == PROXYPROTO_V2 && l->accept_proxy &&
		    l->ntrusted == 4 && l->trusted[0].family == AF_INET &&
		    l->trusted[0].prefix == 32 && l->trusted[1].prefix == 28 &&
		    l->trusted[2].family == AF_INET6 &&
		    l->trusted[2].prefix == 32 && l->trusted[3].prefix == 128,
		    "v2, accept, four blocks with their prefixes");
		config_free(cfg);
	}
	cfg = parse_ok(MIN_OK "backend_proxy_protocol = v1\n", "v1 to the "
	    "backend");
	if (cfg != NULL) {
		ok(cfg->listeners->backend_proxy == PROXYPROTO_V1, "v1");
		config_free(cfg);
	}
}

/* Issue 13: s2s peer certificate keys. */
static void
test_s2s_verify(void)
{
	static const struct bad_case s2sbad[] = {
		{ "s2s_verify on a c2s listener", MIN_OK "s2s_verify = log\n",
		    9, "s2s_verify applies to s2s listeners only" },
		{ "s2s_verify unknown word", TLS_OK DOM_OK
		    "[listener s2s]\nkind = s2s\nlisten = 127.0.0.1:5269\n"
		    "backend = 127.0.0.1:15269\ndomains = example.org\n"
		    "s2s_verify = strict\n", 10,
		    "s2s_verify = strict is unknown; write off, log" },
		{ "[domain] s2s_verify unknown word", TLS_OK
		    "[domain example.org]\ns2s_verify = yes\n" LST_OK, 5,
		    "s2s_verify = yes is unknown" },
	};
	const struct config_domain *d;
	struct config *cfg;

	for (size_t i = 0; i < sizeof(s2sbad) / sizeof(s2sbad[0]); i++)
		check_bad(&s2sbad[i]);
	cfg = parse_ok(TLS_OK DOM_OK "[listener s2s]\nkind = s2s\n"
	    "listen = 127.0.0.1:5269\nbackend = 127.0.0.1:15269\n"
	    "domains = example.org\n", "s2s listener, defaults");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_verify == CONFIG_S2S_VERIFY_LOG,
		    "s2s_verify defaults to log");
		ok(cfg->domains->s2s_verify == CONFIG_S2S_VERIFY_UNSET,
		    "[domain] s2s_verify defaults to the listener's");
		ok(strcmp(cfg->tls.s2s_ca_file,
		    "/etc/ssl/certs/ca-certificates.crt") == 0 &&
		    cfg->tls.s2s_crl_file == NULL,
		    "trust store defaults to the system bundle, no CRL");
		config_free(cfg);
	}
	cfg = parse_ok("[tls]\ncertificate = /c\nkey = /k\n"
	    "s2s_ca_file = /etc/xmpp-ca.pem\ns2s_crl_file = /etc/xmpp.crl\n"
	    "[domain a.example]\ns2s_verify = Require\n"
	    "[domain b.example]\ns2s_verify = off\n"
	    "[listener s2s]\nkind = s2s\nlisten = 127.0.0.1:5269\n"
	    "backend = 127.0.0.1:15269\ndomains = a.example b.example\n"
	    "s2s_verify = off\n", "s2s_verify per listener and domain");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_verify == CONFIG_S2S_VERIFY_OFF,
		    "listener s2s_verify = off");
		d = config_find_domain(cfg, "a.example");
		ok(d != NULL && d->s2s_verify == CONFIG_S2S_VERIFY_REQUIRE,
		    "[domain] s2s_verify = Require");
		d = config_find_domain(cfg, "b.example");
		ok(d != NULL && d->s2s_verify == CONFIG_S2S_VERIFY_OFF,
		    "[domain] s2s_verify = off");
		ok(strcmp(cfg->tls.s2s_ca_file, "/etc/xmpp-ca.pem") == 0 &&
		    strcmp(cfg->tls.s2s_crl_file, "/etc/xmpp.crl") == 0,
		    "s2s_ca_file, s2s_crl_file");
		config_free(cfg);
	}
}

/* Issue 13: SASL EXTERNAL for incoming servers (s2s_external). */
static void
test_s2s_external(void)
{
#define EXT_LST	"[listener s2s]\nkind = s2s\nlisten = 127.0.0.1:5269\n" \
	"backend = 127.0.0.1:15269\ndomains = a.example b.example\n"
	static const struct bad_case extbad[] = {
		{ "s2s_external on a c2s listener", MIN_OK
		    "s2s_external = on\n", 9,
		    "s2s_external applies to s2s listeners only" },
		{ "s2s_external on an s2s-out listener", TLS_OK DOM_OK
		    "[listener out]\nkind = s2s-out\n"
		    "listen = 127.0.0.1:15270\ndomains = example.org\n"
		    "s2s_external = on\n", 9,
		    "s2s_external does not apply to s2s-out listeners" },
		{ "s2s_external unknown word", TLS_OK
		    "[domain a.example]\n[domain b.example]\n" EXT_LST
		    "s2s_external = yes\n", 11,
		    "s2s_external = yes is not on or off; write on" },
	};
	const struct config_domain *d;
	struct config *cfg;

	for (size_t i = 0; i < sizeof(extbad) / sizeof(extbad[0]); i++)
		check_bad(&extbad[i]);
	cfg = parse_ok(TLS_OK "[domain a.example]\n[domain b.example]\n"
	    "s2s_external = off\n" EXT_LST, "s2s_external per domain");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_external == CONFIG_S2S_EXTERNAL_ON,
		    "s2s_external defaults to on");
		d = config_find_domain(cfg, "a.example");
		ok(d != NULL && d->s2s_external == CONFIG_S2S_EXTERNAL_UNSET,
		    "[domain] s2s_external defaults to the listener's");
		d = config_find_domain(cfg, "b.example");
		ok(d != NULL && d->s2s_external == CONFIG_S2S_EXTERNAL_OFF,
		    "[domain] s2s_external = off");
		config_free(cfg);
	}
	cfg = parse_ok(TLS_OK "[domain a.example]\n[domain b.example]\n"
	    EXT_LST "s2s_external = Off\n", "s2s_external = Off on the "
	    "listener");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_external == CONFIG_S2S_EXTERNAL_OFF,
		    "listener s2s_external = off");
		config_free(cfg);
	}
#undef EXT_LST
}

/* Issue 13: the s2s-out listener (the backend's outgoing s2s). */
static void
test_s2s_out(void)
{
#define OUT_HDR	TLS_OK DOM_OK "[listener out]\nkind = s2s-out\n" \
	"listen = 127.0.0.1:15270\ndomains = example.org\n"
	static const struct bad_case outbad[] = {
		{ "s2s-out with a backend", OUT_HDR
		    "backend = 127.0.0.1:15269\n", 9,
		    "backend does not apply to s2s-out listeners" },
		{ "s2s-out with tls = direct", OUT_HDR "tls = direct\n", 9,
		    "tls does not apply to s2s-out listeners" },
		{ "s2s_out_timeout on an s2s listener", TLS_OK DOM_OK
		    "[listener s2s]\nkind = s2s\nlisten = 127.0.0.1:5269\n"
		    "backend = 127.0.0.1:15269\ndomains = example.org\n"
		    "s2s_out_timeout = 10\n", 10,
		    "s2s_out_timeout applies to s2s-out listeners only" },
		{ "s2s_out_timeout below 3", OUT_HDR "s2s_out_timeout = 1\n",
		    9, "s2s_out_timeout" },
		{ "s2s_out_dane neither on nor off", OUT_HDR
		    "s2s_out_dane = yes\n", 9, "s2s_out_dane" },
		{ "s2s_out_dane on a c2s listener", TLS_OK DOM_OK
		    "[listener c]\nlisten = 127.0.0.1:5222\n"
		    "backend = 127.0.0.1:15222\ndomains = example.org\n"
		    "s2s_out_dane = on\n", 9,
		    "s2s_out_dane applies to s2s-out listeners only" },
#ifndef XMPPSHIELD_HAVE_UNBOUND
		{ "s2s_out_dane = on without libunbound", OUT_HDR
		    "s2s_out_dane = on\n", 9, "built without libunbound" },
#endif
	};
	struct config *cfg;

	for (size_t i = 0; i < sizeof(outbad) / sizeof(outbad[0]); i++)
		check_bad(&outbad[i]);
	cfg = parse_ok(OUT_HDR, "s2s-out listener, defaults, no backend");
	if (cfg != NULL) {
		ok(cfg->listeners->kind == LISTENER_S2S_OUT &&
		    cfg->listeners->s2s_verify == CONFIG_S2S_VERIFY_REQUIRE &&
		    cfg->listeners->s2s_out_timeout == 30 &&
		    cfg->listeners->s2s_out_resolver == NULL,
		    "s2s-out: s2s_verify require, 30 s, the system resolver");
		config_free(cfg);
	}
	cfg = parse_ok(OUT_HDR "s2s_verify = log\ns2s_out_timeout = 10\n"
	    "s2s_out_resolver = 127.0.0.53:53\n", "s2s-out keys");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_verify == CONFIG_S2S_VERIFY_LOG &&
		    cfg->listeners->s2s_out_timeout == 10 &&
		    strcmp(cfg->listeners->s2s_out_resolver,
		    "127.0.0.53:53") == 0, "s2s-out: log, 10 s, resolver");
		config_free(cfg);
	}
	cfg = parse_ok(OUT_HDR, "s2s-out: DANE defaults");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_out_dane == 0 &&
		    strcmp(cfg->listeners->s2s_out_dnssec_anchor,
		    "/usr/share/dns/root.key") == 0,
		    "s2s-out: s2s_out_dane off, Debian's root anchor");
		config_free(cfg);
	}
#ifdef XMPPSHIELD_HAVE_UNBOUND
	cfg = parse_ok(OUT_HDR "s2s_out_dane = on\n"
	    "s2s_out_dnssec_anchor = /etc/xmppshield/anchor.key\n",
	    "s2s-out: DANE on");
	if (cfg != NULL) {
		ok(cfg->listeners->s2s_out_dane == 1 &&
		    strcmp(cfg->listeners->s2s_out_dnssec_anchor,
		    "/etc/xmppshield/anchor.key") == 0,
		    "s2s-out: s2s_out_dane on, anchor file");
		config_free(cfg);
	}
#endif
#undef OUT_HDR
}

/* parse_workers: auto or 1..64, nothing else. */
static void
test_workers(void)
{
	static const struct { const char *v; unsigned want; } good[] = {
		{ "auto", 0 }, { "AUTO", 0 }, { "1", 1 }, { "2", 2 },
		{ "64", 64 }, { "007", 7 },
	};
	static const char *const refused[] = {
		"0", "65", "-1", "+2", "2x", "0x10", "1.5", "one",
		"99999999999999999999999", "4294967297", "auto1",
	};
	struct bad_case b;
	char text[512], sub[128];
	struct config *cfg;

	cfg = parse_ok(MIN_OK, "workers unset");
	if (cfg != NULL) {
		ok(cfg->workers == 0, "workers defaults to auto (0)");
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), MIN_OK "[global]\nworkers = %s\n",
		    good[i].v);
		if ((cfg = parse_ok(text, good[i].v)) == NULL)
			continue;
		ok(cfg->workers == good[i].want, "workers = %s is %u",
		    good[i].v, good[i].want);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), MIN_OK "[global]\nworkers = %s\n",
		    refused[i]);
		snprintf(sub, sizeof(sub), "workers = %s is not valid; write "
		    "auto (one per CPU) or a number from 1 to 64", refused[i]);
		b.what = refused[i];
		b.text = text;
		b.line = 10;
		b.substr = sub;
		check_bad(&b);
	}
}

/* parse_sources: numeric addresses without a port, 1..16 of them. */
static void
test_sources(void)
{
	static const char *const refused[] = {
		"127.0.0.5:1000", "localhost", "[::1", "::1]",
		"127.1", "fe80::1%1", "[::1]:5", "2001:db8::/32", "10.0.0.0/8",
	};
	struct bad_case b;
	char text[1024], sub[128];
	const struct config_listener *l;
	const struct sockaddr_in6 *sin6;
	struct config *cfg;
	size_t i, n;

	cfg = parse_ok(MIN_OK, "no backend_source");
	if (cfg != NULL) {
		ok(cfg->listeners->nsources == 0, "no sources by default");
		config_free(cfg);
	}
	cfg = parse_ok(MIN_OK "backend_source = 127.0.0.2 127.0.0.3\t[::1] "
	    "2001:db8::7\n", "four sources, both families");
	if (cfg != NULL) {
		l = cfg->listeners;
		sin6 = (const struct sockaddr_in6 *)&l->sources[3].sa;
		ok(l->nsources == 4 &&
		    l->sources[0].sa.ss_family == AF_INET &&
		    l->sources[0].len == sizeof(struct sockaddr_in) &&
		    l->sources[1].sa.ss_family == AF_INET &&
		    l->sources[2].sa.ss_family == AF_INET6 &&
		    l->sources[3].len == sizeof(struct sockaddr_in6) &&
		    sin6->sin6_addr.s6_addr[15] == 7, "sources parsed in order");
		ok(port_of(&l->sources[0]) == 0 && port_of(&l->sources[2]) == 0,
		    "sources have port 0 (the kernel picks one)");
		ok(strcmp(l->sources[1].text, "127.0.0.3") == 0 &&
		    strcmp(l->sources[2].text, "[::1]") == 0,
		    "sources keep their text for logs");
		config_free(cfg);
	}

	/* 16 is the most; 17 is refused with the count. */
	for (n = 16; n <= 17; n++) {
		size_t len = (size_t)snprintf(text, sizeof(text), MIN_OK
		    "backend_source =");

		for (i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
			    " 10.0.0.%zu", i + 1);
		snprintf(text + len, sizeof(text) - len, "\n");
		if (n == 16) {
			if ((cfg = parse_ok(text, "16 sources")) != NULL) {
				ok(cfg->listeners->nsources == 16,
				    "16 sources kept");
				config_free(cfg);
			}
			continue;
		}
		b.what = "17 sources";
		b.text = text;
		b.line = 9;
		b.substr = "backend_source has 17 addresses; at most 16";
		check_bad(&b);
	}

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), MIN_OK "backend_source = "
		    "127.0.0.2 %s\n", refused[i]);
		snprintf(sub, sizeof(sub), "backend_source: %s is not a "
		    "numeric IP address; write local addresses without a port",
		    refused[i]);
		b.what = refused[i];
		b.text = text;
		b.line = 9;
		b.substr = sub;
		check_bad(&b);
	}

	/* A source is used only towards a backend of its family. */
	b.what = "only IPv6 sources for an IPv4 backend";
	b.text = MIN_OK "backend_source = ::1 [2001:db8::1]\n";
	b.line = 5;
	b.substr = "has no backend_source of the backend's address family "
	    "(IPv4)";
	check_bad(&b);
	cfg = parse_ok(TLS_OK DOM_OK LST("c2s", "127.0.0.1:5222",
	    "[::1]:15222", "example.org") "backend_source = 127.0.0.2 ::2\n",
	    "one source of the backend's family is enough");
	config_free(cfg);
}

/* admission_exempt and max_connections_per_balancer (issue 10). */
static void
test_admission_keys(void)
{
	struct config *cfg;
	struct bad_case b;

	cfg = parse_ok(MIN_OK, "admission defaults");
	if (cfg != NULL) {
		const struct config_limits *lim = &cfg->limits;

		ok(lim->nexempt == 2 && lim->exempt[0].family == AF_INET &&
		    lim->exempt[0].prefix == 8 && lim->exempt[0].addr[0] == 127 &&
		    lim->exempt[1].family == AF_INET6 &&
		    lim->exempt[1].prefix == 128,
		    "admission_exempt defaults to 127.0.0.0/8 ::1");
		ok(lim->max_connections_per_balancer == 0,
		    "max_connections_per_balancer defaults to 0 (none)");
		config_free(cfg);
	}
	cfg = parse_ok(MIN_OK "[limits]\nadmission_exempt = none\n"
	    "max_connections_per_balancer = 20000\n", "exempt none");
	if (cfg != NULL) {
		ok(cfg->limits.nexempt == 0 &&
		    cfg->limits.max_connections_per_balancer == 20000,
		    "admission_exempt = none; balancer cap 20000");
		config_free(cfg);
	}
	cfg = parse_ok(MIN_OK "[limits]\nadmission_exempt = 192.0.2.7, "
	    "2001:db8::/32 10.0.0.0/8\n", "three exempt blocks");
	if (cfg != NULL) {
		ok(cfg->limits.nexempt == 3 && cfg->limits.exempt[1].prefix == 32,
		    "three blocks, commas or blanks");
		config_free(cfg);
	}
	b.what = "admission_exempt with host bits";
	b.text = MIN_OK "[limits]\nadmission_exempt = 127.0.0.1/8\n";
	b.line = 10;
	b.substr = "admission_exempt: 127.0.0.1/8 is not an IP address or CIDR "
	    "block";
	check_bad(&b);
	b.what = "admission_exempt only commas";
	b.text = MIN_OK "[limits]\nadmission_exempt = ,,\n";
	b.substr = "admission_exempt is empty; write address blocks";
	check_bad(&b);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
	test_defaults();
	test_values();
	test_syntax();
	test_tls13();
	test_errors();
	test_example();
	test_doors();
	test_print_keys();
	test_metrics_keys();
	test_proxy_keys();
	test_s2s_verify();
	test_s2s_external();
	test_s2s_out();
	test_workers();
	test_sources();
	test_admission_keys();
	config_free(NULL);
	return tap_done();
}
