/*
 * config.h - the xmppshield configuration file (INI, read with inih).
 *
 * One table of keys drives parsing, validation and defaults.  The parser
 * fails closed: unknown sections or keys, duplicate keys or sections,
 * continuation lines and lines longer than Debian's inih limit of 200 bytes
 * are errors reported as "file:line: what is wrong; how to fix it".
 *
 * config_parse_string() is pure: no I/O, no resolver, no libevent, no
 * mbedTLS.  config_load() is the module's one door to the system: it reads
 * the file and has addr_resolve() (addr.h) look up backend host names.  TLS
 * policy words (min_version, ciphers) are validated here so that a config
 * asking for less than TLS 1.2 / ECDHE / AEAD is refused before anything
 * starts.
 */
#ifndef XMPPSHIELD_CONFIG_H
#define XMPPSHIELD_CONFIG_H

/* Debian's dns-root-data: the root zone's trust anchor. */
#define CONFIG_DNSSEC_ANCHOR	"/usr/share/dns/root.key"

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "proxyproto.h"

#define CONFIG_MAX_ADDRS 4	/* addresses in one "listen =" list */
#define CONFIG_MAX_SOURCES 16	/* addresses in one "backend_source =" */
#define CONFIG_MAX_CIPHERS 3	/* AEAD ciphers xmppshield knows */
#define CONFIG_MAX_TRUSTED 16	/* address blocks in "proxy_trusted =",
				   "admission_exempt =" */

enum listener_kind {
	LISTENER_C2S,		/* jabber:client, STARTTLS on 5222 */
	LISTENER_S2S,		/* jabber:server, STARTTLS on 5269 */
	LISTENER_S2S_OUT,	/* the backend's outgoing s2s (s2sout.h) */
};

/* How a listener starts TLS. */
enum listener_tls {
	LISTENER_TLS_STARTTLS,	/* XMPP first, then <starttls/> (5222, 5269) */
	LISTENER_TLS_DIRECT,	/* TLS from the first byte, XEP-0368 (5223,
				   5270) */
};

/* The AEAD ciphers an admin may order; key exchange is always ECDHE. */
enum tls_cipher {
	TLS_CIPHER_AES128_GCM,
	TLS_CIPHER_AES256_GCM,
	TLS_CIPHER_CHACHA20_POLY1305,
};

enum tls_version {
	TLS_VERSION_1_2 = 12,
	TLS_VERSION_1_3 = 13,
};

/* s2s_verify: what a server's certificate must show (s2speer.h). */
enum config_s2s_verify {
	CONFIG_S2S_VERIFY_UNSET = 0,	/* [domain]: the listener's policy */
	CONFIG_S2S_VERIFY_OFF,		/* no certificate asked for */
	CONFIG_S2S_VERIFY_LOG,		/* checked and logged; dialback goes on */
	CONFIG_S2S_VERIFY_REQUIRE,	/* no valid certificate: refused */
};

/* s2s_external: SASL EXTERNAL for incoming servers (relay.h). */
enum config_s2s_external {
	CONFIG_S2S_EXTERNAL_UNSET = 0,	/* [domain]: the listener's */
	CONFIG_S2S_EXTERNAL_OFF,
	CONFIG_S2S_EXTERNAL_ON,
};

struct config_addr {
	struct sockaddr_storage sa;
	socklen_t len;		/* 0: unset, or a name not yet resolved */
	char text[64];		/* as written by the admin, for logs */
	int line;		/* in the file, for errors */
	char *resolve;		/* host:port to resolve (owned); NULL: sa set.
				   config_load() leaves none. */
};

struct config_domain {
	char *name;		/* lower-cased XMPP domain */
	char *certificate;	/* PEM chain; NULL = use [tls] certificate */
	char *key;		/* PEM key;   NULL = use [tls] key */
	struct config_addr backend;	/* c2s backend; len 0: the listener's */
	struct config_addr s2s_backend;	/* s2s backend; len 0: the listener's */
	enum config_s2s_verify s2s_verify;	/* UNSET: the listener's */
	enum config_s2s_external s2s_external;	/* UNSET: the listener's */
	struct config_domain *next;
};

struct config_listener {
	char *name;		/* from [listener NAME] */
	enum listener_kind kind;
	enum listener_tls tls;
	struct config_addr listen[CONFIG_MAX_ADDRS];
	size_t nlisten;
	struct config_addr backend;
	char **domains;		/* lower-cased; each is a [domain] section */
	size_t ndomains;
	/* PROXY protocol: the header written to the backend before any
	   client byte (NONE: none), and whether a header from a trusted
	   load balancer comes first on accepted connections. */
	enum proxyproto_version backend_proxy;
	int accept_proxy;
	struct proxyproto_cidr trusted[CONFIG_MAX_TRUSTED];
	size_t ntrusted;
	/* Local addresses backend connections are made from, in turn: each
	   adds ~28,000 ports (the ephemeral range) towards one backend. */
	struct config_addr sources[CONFIG_MAX_SOURCES];
	size_t nsources;
	enum config_s2s_verify s2s_verify;	/* s2s: peer certificates */
	enum config_s2s_external s2s_external;	/* s2s: SASL EXTERNAL */
	/* s2s-out: DNS servers ("host:port,..."; NULL: resolv.conf) and
	   the deadline from the backend's header to relaying. */
	char *s2s_out_resolver;
	unsigned s2s_out_timeout;
	/* s2s-out: DANE (dane.h) with DNSSEC validated from this anchor
	   file (resolver_new_dnssec()). */
	int s2s_out_dane;
	char *s2s_out_dnssec_anchor;
	struct config_listener *next;
};

struct config_tls {
	char *certificate;	/* default certificate for domains without one */
	char *key;
	enum tls_version min_version;
	enum tls_cipher ciphers[CONFIG_MAX_CIPHERS];	/* preference order */
	size_t nciphers;
	int sni_strict;		/* refuse a handshake naming an unserved SNI */
	int session_tickets;	/* 1: issue and accept session tickets */
	char *ticket_key_file;	/* shared ticket keys; NULL: derived */
	unsigned ticket_lifetime;	/* seconds a ticket resumes */
	char *s2s_ca_file;	/* CAs that vouch for other servers */
	char *s2s_crl_file;	/* their CRLs; NULL: none */
};

struct config_limits {
	size_t max_stanza_size;		/* client -> backend, bytes */
	size_t max_preauth_stanza_size;	/* ... until authenticated; at
					   most max_stanza_size */
	size_t max_backend_stanza_size;	/* backend -> client, bytes */
	size_t max_pre_tls_bytes;	/* everything a client sends before TLS */
	unsigned max_depth;		/* element nesting inside a stanza */
	unsigned max_attributes;	/* attributes on one element */
	unsigned pre_tls_timeout;	/* seconds from accept to <starttls/> */
	unsigned handshake_timeout;	/* seconds for the TLS handshake */
	unsigned backend_connect_timeout;	/* seconds */
	unsigned auth_timeout;		/* seconds from TLS to SASL success */
	unsigned idle_timeout;		/* seconds without client bytes; 0 off */
	unsigned max_connections;	/* open at once, all listeners */
	unsigned max_connections_per_ip;	/* per IPv4 address or IPv6 /64 */
	unsigned connection_rate_per_ip;	/* new connections per second */
	unsigned max_connections_per_balancer;	/* from one proxy_trusted
						   sender; 0: no cap */
	/* Addresses free of the per-address caps (the total still holds). */
	struct proxyproto_cidr exempt[CONFIG_MAX_TRUSTED];
	size_t nexempt;
	unsigned max_name_length;	/* bytes of an element or attribute name */
	size_t buffer_size;		/* high-water mark of each direction */
};

struct config {
	char *path;
	int log_level;		/* syslog priority: LOG_ERR .. LOG_DEBUG */
	int syslog_facility;	/* LOG_DAEMON, LOG_LOCAL0, ... */
	char *user;		/* NULL: do not drop privileges */
	char *group;
	char *pidfile;		/* NULL: none */
	unsigned workers;		/* 0: one per CPU */
	unsigned shutdown_grace;	/* seconds sessions may drain on SIGTERM */
	unsigned log_rate_limit;	/* lines per second before suppressing */
	/* Prometheus endpoint (metrics_http.c); len 0: off.  Read at start. */
	struct config_addr metrics_listen;
	struct proxyproto_cidr metrics_allow[CONFIG_MAX_TRUSTED];
	size_t nmetrics_allow;
	unsigned cert_warn_days;	/* event=certificate-expiring below */
	struct config_tls tls;
	struct config_limits limits;
	struct config_domain *domains;
	struct config_listener *listeners;
};

/*
 * Read and validate the file at path.  On success returns 0 and stores a
 * new config in *out (free with config_free()).  On failure returns -1 and
 * writes one line "path:line: problem; remedy" (no trailing newline) into
 * err.  Certificate and key files are not opened here (tls.c does that);
 * backend host names are resolved here (config_resolve()), so that a
 * typo stops the start or the reload.
 */
int config_load(const char *path, struct config **out, char *err,
    size_t errlen);

/*
 * As config_load(), from a NUL-terminated string (name is used in
 * errors), but pure: a backend given by host name is only checked for
 * syntax and left with len 0 and resolve set; config_resolve() finishes
 * it.  The fuzzers use this, so they never send a DNS query.
 */
int config_parse_string(const char *text, const char *name,
    struct config **out, char *err, size_t errlen);

/*
 * Resolve every backend host name of cfg with addr_resolve() (may block
 * on DNS).  0, or -1 with "path:line: key: problem; remedy" in err.
 */
int config_resolve(struct config *cfg, char *err, size_t errlen);

void config_free(struct config *cfg);

/* The [domain] section for name (case-insensitive), or NULL. */
const struct config_domain *config_find_domain(const struct config *cfg,
    const char *name);

/* 1 if the listener serves domain (case-insensitive), else 0. */
int config_listener_serves(const struct config_listener *l,
    const char *domain);

/* Names used in logs and the man page. */
const char *config_kind_name(enum listener_kind kind);
const char *config_tls_mode_name(enum listener_tls mode);
const char *config_cipher_name(enum tls_cipher c);

/*
 * Print every known key with section, default and help (for the man page
 * check and "xmppshield -k").  One line per key:
 * "section key default help".
 */
void config_print_keys(FILE *out);

#endif
