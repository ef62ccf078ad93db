/*
 * config.c - read and validate xmppshield.conf; see config.h.
 *
 * inih does the splitting of "key = value" lines, but Debian builds it with
 * a 200-byte line buffer that silently cuts longer lines into bogus keys,
 * with multi-line values on, with a 50-byte section name buffer, and
 * without calling the handler for a section that has no keys.  So every
 * line goes through our own reader first: it counts lines, refuses what
 * inih would misread, and tracks the sections itself; the handler only
 * sees key lines of a section the reader has already accepted.
 *
 * One table (keys[]) drives parsing, defaults, required keys and
 * config_print_keys(), so the documentation cannot drift from the parser.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <ini.h>

#include "addr.h"
#include "config.h"

#define LINE_MAX_BYTES	199		/* inih's INI_MAX_LINE 200 less NUL */
#define FILE_MAX_BYTES	(1024 * 1024)
#define DOMAIN_MAX	253
#define LABEL_MAX	63
#define LISTENER_NAME_MAX 32
#define KEYLIST_MAX	80		/* longest "known keys" hint */

#define KB		1024ULL
#define MB		(1024ULL * 1024ULL)

enum section_kind {
	SEC_NONE = -1,
	SEC_GLOBAL,
	SEC_TLS,
	SEC_LIMITS,
	SEC_DOMAIN,
	SEC_LISTENER,
	SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {
	"global", "tls", "limits", "domain", "listener",
};

enum key_type {
	KEY_STRING,		/* char *, strdup'ed */
	KEY_SIZE,		/* size_t, bytes with k/M suffix */
	KEY_UINT,		/* unsigned, plain decimal */
	KEY_ENUM,		/* int (or an int-sized enum), key->enums */
	KEY_CUSTOM,		/* key->parse */
};

/* One word of a KEY_ENUM key; gloss: shown in errors, may be NULL. */
struct enum_name {
	const char *name;
	int value;
	const char *gloss;
};

/* The words of a KEY_ENUM key; matched case-insensitively. */
struct enum_type {
	const char *refusal;	/* "%s = %s is <refusal>; write a or b" */
	const struct enum_name *names;
	size_t nnames;
};

struct parser;
struct key;

typedef int (*key_parser)(struct parser *, const struct key *, void *,
    const char *);

struct key {
	enum section_kind section;
	const char *name;
	enum key_type type;
	size_t offset;		/* in the section's struct */
	const char *def;	/* parsed like a value; NULL: unset */
	unsigned long long min, max;
	key_parser parse;
	const struct enum_type *enums;	/* KEY_ENUM */
	const char *example;	/* non-NULL: the key is required */
	const char *help;
};

struct section_rec {
	enum section_kind kind;
	int line;
	void *obj;		/* config_domain or config_listener */
	const char *name;	/* owned by obj */
};

struct parser {
	const char *name;	/* for messages */
	const char *pos;	/* next line of the input */
	int lineno;
	int failed;
	char *err;
	size_t errlen;
	struct config *cfg;
	struct config_domain **domain_tail;
	struct config_listener **listener_tail;

	/* The section being read. */
	enum section_kind cur;
	int cur_line;
	void *cur_obj;
	int seen_line[32];	/* by key index in the section; 0: unset */

	struct section_rec *recs;
	size_t nrecs, arecs;
};

static int parse_min_version(struct parser *, const struct key *, void *,
    const char *);
static int parse_ciphers(struct parser *, const struct key *, void *,
    const char *);
static int parse_listen(struct parser *, const struct key *, void *,
    const char *);
static int parse_workers(struct parser *, const struct key *, void *,
    const char *);
static int parse_backend(struct parser *, const struct key *, void *,
    const char *);
static int parse_domains(struct parser *, const struct key *, void *,
    const char *);
static int parse_trusted(struct parser *, const struct key *, void *,
    const char *);
static int parse_exempt(struct parser *, const struct key *, void *,
    const char *);
static int parse_sources(struct parser *, const struct key *, void *,
    const char *);
static int parse_metrics_listen(struct parser *, const struct key *, void *,
    const char *);
static int parse_metrics_allow(struct parser *, const struct key *, void *,
    const char *);

#define NAMES(t)	(t), sizeof(t) / sizeof((t)[0])

static const struct enum_name bool_names[] = {
	{ "yes", 1, NULL }, { "no", 0, NULL },
};
static const struct enum_type enum_bool = {
	"not yes or no", NAMES(bool_names)
};

static const struct enum_name onoff_names[] = {
	{ "on", 1, NULL }, { "off", 0, NULL },
};
static const struct enum_type enum_onoff = {
	"not on or off", NAMES(onoff_names)
};

static const struct enum_name log_level_names[] = {
	{ "error", LOG_ERR, NULL }, { "warning", LOG_WARNING, NULL },
	{ "notice", LOG_NOTICE, NULL }, { "info", LOG_INFO, NULL },
	{ "debug", LOG_DEBUG, NULL },
};
static const struct enum_type enum_log_level = {
	"not a log level", NAMES(log_level_names)
};

static const struct enum_name facility_names[] = {
	{ "daemon", LOG_DAEMON, NULL }, { "user", LOG_USER, NULL },
	{ "auth", LOG_AUTH, NULL }, { "authpriv", LOG_AUTHPRIV, NULL },
	{ "local0", LOG_LOCAL0, NULL }, { "local1", LOG_LOCAL1, NULL },
	{ "local2", LOG_LOCAL2, NULL }, { "local3", LOG_LOCAL3, NULL },
	{ "local4", LOG_LOCAL4, NULL }, { "local5", LOG_LOCAL5, NULL },
	{ "local6", LOG_LOCAL6, NULL }, { "local7", LOG_LOCAL7, NULL },
};
static const struct enum_type enum_facility = {
	"not a syslog facility", NAMES(facility_names)
};

static const struct enum_name kind_names[] = {
	{ "c2s", LISTENER_C2S, "clients" }, { "s2s", LISTENER_S2S, "servers" },
	{ "s2s-out", LISTENER_S2S_OUT, "the backend's outgoing s2s" },
};
static const struct enum_type enum_kind = {
	"unknown", NAMES(kind_names)
};

static const struct enum_name tls_mode_names[] = {
	{ "starttls", LISTENER_TLS_STARTTLS, "XMPP first, 5222/5269" },
	{ "direct", LISTENER_TLS_DIRECT, "TLS from the first byte, 5223/5270" },
};
static const struct enum_type enum_tls_mode = {
	"unknown", NAMES(tls_mode_names)
};

static const struct enum_name backend_proxy_names[] = {
	{ "none", PROXYPROTO_NONE, NULL }, { "v1", PROXYPROTO_V1, NULL },
	{ "v2", PROXYPROTO_V2, NULL },
};
static const struct enum_type enum_backend_proxy = {
	"unknown", NAMES(backend_proxy_names)
};

static const struct enum_name s2s_verify_names[] = {
	{ "off", CONFIG_S2S_VERIFY_OFF, NULL },
	{ "log", CONFIG_S2S_VERIFY_LOG, "check and log, dialback goes on" },
	{ "require", CONFIG_S2S_VERIFY_REQUIRE,
	    "no valid certificate for the domain: refused" },
};
static const struct enum_type enum_s2s_verify = {
	"unknown", NAMES(s2s_verify_names)
};

static const struct enum_name s2s_external_names[] = {
	{ "on", CONFIG_S2S_EXTERNAL_ON,
	    "offer SASL EXTERNAL to a peer with a valid certificate" },
	{ "off", CONFIG_S2S_EXTERNAL_OFF, "dialback only" },
};
static const struct enum_type enum_s2s_external = {
	"not on or off", NAMES(s2s_external_names)
};

#undef NAMES

/* KEY_ENUM stores an int: every enum behind one must be int-sized. */
_Static_assert(sizeof(enum listener_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum listener_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proxyproto_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_s2s_verify) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_s2s_external) == sizeof(int), "enum size");

#define G(f)	offsetof(struct config, f)
#define T(f)	offsetof(struct config_tls, f)
#define L(f)	offsetof(struct config_limits, f)
#define D(f)	offsetof(struct config_domain, f)
#define S(f)	offsetof(struct config_listener, f)

static const struct key keys[] = {
	{ SEC_GLOBAL, "log_level", KEY_ENUM, G(log_level), "info", 0, 0,
	    NULL, &enum_log_level, NULL,
	    "most verbose syslog priority written: error, warning, notice, "
	    "info or debug" },
	{ SEC_GLOBAL, "syslog_facility", KEY_ENUM, G(syslog_facility),
	    "daemon", 0, 0, NULL, &enum_facility, NULL,
	    "syslog facility: daemon, user, auth, authpriv, local0..local7" },
	{ SEC_GLOBAL, "user", KEY_STRING, G(user), NULL, 0, 0, NULL, NULL,
	    NULL, "user to run as after binding the ports and reading the keys" },
	{ SEC_GLOBAL, "group", KEY_STRING, G(group), NULL, 0, 0, NULL, NULL,
	    NULL, "group to run as after binding the ports" },
	{ SEC_GLOBAL, "pidfile", KEY_STRING, G(pidfile), NULL, 0, 0, NULL, NULL,
	    NULL, "file the daemon writes its process ID to" },
	{ SEC_GLOBAL, "workers", KEY_CUSTOM, G(workers), "auto", 0, 0,
	    parse_workers, NULL, NULL,
	    "processes serving connections: auto (one per CPU) or 1 to 64; "
	    "read at start only" },
	{ SEC_GLOBAL, "shutdown_grace", KEY_UINT, G(shutdown_grace), "30", 0,
	    3600, NULL, NULL, NULL,
	    "seconds sessions may go on after SIGTERM before <system-shutdown/>" },
	{ SEC_GLOBAL, "log_rate_limit", KEY_UINT, G(log_rate_limit), "200", 0,
	    1000000, NULL, NULL, NULL,
	    "log lines per second before similar lines are counted, not "
	    "written (0: no limit)" },
	{ SEC_GLOBAL, "metrics_listen", KEY_CUSTOM, G(metrics_listen), NULL,
	    0, 0, parse_metrics_listen, NULL, NULL,
	    "address of the Prometheus endpoint (GET /metrics), e.g. "
	    "127.0.0.1:9470; unset: off; read at start only" },
	{ SEC_GLOBAL, "metrics_allow", KEY_CUSTOM, G(metrics_allow),
	    "127.0.0.0/8, ::1", 0, 0, parse_metrics_allow, NULL, NULL,
	    "addresses or CIDR blocks allowed to read the metrics, "
	    "separated by commas" },
	{ SEC_GLOBAL, "cert_warn_days", KEY_UINT, G(cert_warn_days), "21", 0,
	    3650, NULL, NULL, NULL,
	    "log event=certificate-expiring at start, on reload and daily "
	    "when a certificate expires within this many days (0: never)" },

	{ SEC_TLS, "certificate", KEY_STRING, T(certificate), NULL, 0, 0,
	    NULL, NULL, NULL,
	    "PEM certificate chain (leaf first) for domains without their own" },
	{ SEC_TLS, "key", KEY_STRING, T(key), NULL, 0, 0, NULL, NULL, NULL,
	    "PEM private key of the [tls] certificate" },
	{ SEC_TLS, "min_version", KEY_CUSTOM, T(min_version), "TLSv1.2", 0, 0,
	    parse_min_version, NULL, NULL,
	    "oldest TLS version accepted: TLSv1.2 or TLSv1.3" },
	{ SEC_TLS, "ciphers", KEY_CUSTOM, T(ciphers),
	    "CHACHA20-POLY1305 AES128-GCM AES256-GCM", 0, 0, parse_ciphers, NULL,
	    NULL, "AEAD ciphers in order of preference (ECDHE key exchange)" },
	{ SEC_TLS, "sni_strict", KEY_ENUM, T(sni_strict), "no", 0, 0,
	    NULL, &enum_bool, NULL,
	    "yes: refuse a TLS handshake whose SNI names no domain served on "
	    "the listener" },
	{ SEC_TLS, "session_tickets", KEY_ENUM, T(session_tickets), "yes",
	    0, 0, NULL, &enum_bool, NULL,
	    "resume sessions with RFC 5077 tickets: yes or no" },
	{ SEC_TLS, "ticket_key_file", KEY_STRING, T(ticket_key_file), NULL,
	    0, 0, NULL, NULL, NULL,
	    "file of 1-3 shared ticket keys (base64, 48 bytes each)" },
	{ SEC_TLS, "ticket_lifetime", KEY_UINT, T(ticket_lifetime), "7200",
	    60, 604800, NULL, NULL, NULL,
	    "seconds a ticket can resume a session (and key rotation period)" },
	{ SEC_TLS, "s2s_ca_file", KEY_STRING, T(s2s_ca_file),
	    "/etc/ssl/certs/ca-certificates.crt", 0, 0, NULL, NULL, NULL,
	    "PEM CA certificates trusted to vouch for other servers' "
	    "certificates (s2s_verify)" },
	{ SEC_TLS, "s2s_crl_file", KEY_STRING, T(s2s_crl_file), NULL, 0, 0,
	    NULL, NULL, NULL,
	    "PEM CRLs (concatenated) of the s2s_ca_file CAs; revoked "
	    "certificates are refused" },

	{ SEC_LIMITS, "max_stanza_size", KEY_SIZE, L(max_stanza_size), "256k",
	    KB, 16 * MB, NULL, NULL, NULL,
	    "largest stanza a client may send, in bytes" },
	/* Nothing a client sends before authentication is large (header,
	   SASL exchange); XEP-0478 lets servers say so.  The minimum fits
	   a SASL PLAIN or SCRAM element with long names. */
	{ SEC_LIMITS, "max_preauth_stanza_size", KEY_SIZE,
	    L(max_preauth_stanza_size), "16k", 4 * KB, 16 * MB, NULL, NULL,
	    NULL, "largest stanza a client may send before it has "
	    "authenticated, in bytes (at most max_stanza_size)" },
	{ SEC_LIMITS, "max_backend_stanza_size", KEY_SIZE,
	    L(max_backend_stanza_size), "1M", KB, 64 * MB, NULL, NULL, NULL,
	    "largest stanza passed from the backend to a client, in bytes" },
	{ SEC_LIMITS, "max_pre_tls_bytes", KEY_SIZE, L(max_pre_tls_bytes),
	    "4k", 512, 64 * KB, NULL, NULL, NULL,
	    "bytes a client may send before TLS starts" },
	{ SEC_LIMITS, "max_depth", KEY_UINT, L(max_depth), "32", 2, 256, NULL, NULL,
	    NULL, "element nesting allowed inside one stanza" },
	{ SEC_LIMITS, "max_attributes", KEY_UINT, L(max_attributes), "64", 1,
	    1024, NULL, NULL, NULL, "attributes allowed on one element" },
	{ SEC_LIMITS, "pre_tls_timeout", KEY_UINT, L(pre_tls_timeout), "30",
	    1, 3600, NULL, NULL, NULL, "seconds from connect to <starttls/>" },
	{ SEC_LIMITS, "handshake_timeout", KEY_UINT, L(handshake_timeout),
	    "30", 1, 3600, NULL, NULL, NULL, "seconds for the TLS handshake" },
	{ SEC_LIMITS, "backend_connect_timeout", KEY_UINT,
	    L(backend_connect_timeout), "10", 1, 600, NULL, NULL, NULL,
	    "seconds for the backend to accept a connection" },
	{ SEC_LIMITS, "auth_timeout", KEY_UINT, L(auth_timeout), "60", 1,
	    3600, NULL, NULL, NULL,
	    "seconds from the TLS handshake to SASL success or valid dialback" },
	{ SEC_LIMITS, "idle_timeout", KEY_UINT, L(idle_timeout), "900", 0,
	    86400, NULL, NULL, NULL,
	    "seconds a stream may stay silent after authentication (0: never)" },
	{ SEC_LIMITS, "max_connections", KEY_UINT, L(max_connections), "4096",
	    1, 1000000, NULL, NULL, NULL, "connections open at once, in all" },
	{ SEC_LIMITS, "max_connections_per_ip", KEY_UINT,
	    L(max_connections_per_ip), "256", 0, 1000000, NULL, NULL, NULL,
	    "connections open at once from one IPv4 address or IPv6 /64 "
	    "(0: no cap)" },
	{ SEC_LIMITS, "connection_rate_per_ip", KEY_UINT,
	    L(connection_rate_per_ip), "30", 0, 1000000, NULL, NULL, NULL,
	    "new connections per second from one IPv4 address or IPv6 /64 "
	    "(0: no cap)" },
	{ SEC_LIMITS, "max_connections_per_balancer", KEY_UINT,
	    L(max_connections_per_balancer), "0", 0, 1000000, NULL, NULL, NULL,
	    "connections open at once from one proxy_trusted load balancer, "
	    "whose clients are each held to the per-address caps (0: only "
	    "max_connections)" },
	{ SEC_LIMITS, "admission_exempt", KEY_CUSTOM, L(exempt),
	    "127.0.0.0/8 ::1", 0, 0, parse_exempt, NULL, NULL,
	    "address blocks free of the per-address caps (monitoring, your TLS "
	    "scanner), or none" },
	/* The minimum fits every name of RFC 6120 with its namespace (the
	   longest, the xmpp-streams <remote-connection-failed/>, is 60
	   bytes); below 40 even the stream header and <starttls/> were
	   refused. */
	{ SEC_LIMITS, "max_name_length", KEY_UINT, L(max_name_length), "256",
	    64, 4096, NULL, NULL, NULL,
	    "bytes of an element or attribute name with its namespace URI, "
	    "and of a declared prefix or namespace" },
	{ SEC_LIMITS, "buffer_size", KEY_SIZE, L(buffer_size), "64k", 4 * KB,
	    16 * MB, NULL, NULL, NULL,
	    "bytes queued per direction before reading pauses" },

	{ SEC_DOMAIN, "certificate", KEY_STRING, D(certificate), NULL, 0, 0,
	    NULL, NULL, NULL,
	    "PEM certificate chain for this domain (default: the [tls] one)" },
	{ SEC_DOMAIN, "key", KEY_STRING, D(key), NULL, 0, 0, NULL, NULL, NULL,
	    "PEM private key for this domain (default: the [tls] one)" },
	{ SEC_DOMAIN, "backend", KEY_CUSTOM, D(backend), NULL, 0, 0,
	    parse_backend, NULL, NULL,
	    "this domain's c2s backend, host:port (default: the listener's)" },
	{ SEC_DOMAIN, "s2s_backend", KEY_CUSTOM, D(s2s_backend), NULL, 0, 0,
	    parse_backend, NULL, NULL,
	    "this domain's s2s backend, host:port (default: the listener's)" },
	{ SEC_DOMAIN, "s2s_verify", KEY_ENUM, D(s2s_verify), NULL, 0, 0,
	    NULL, &enum_s2s_verify, NULL,
	    "certificates of servers connecting to this domain: off, log or "
	    "require (default: the listener's)" },
	{ SEC_DOMAIN, "s2s_external", KEY_ENUM, D(s2s_external), NULL, 0, 0,
	    NULL, &enum_s2s_external, NULL,
	    "SASL EXTERNAL for servers connecting to this domain: on or off "
	    "(default: the listener's)" },

	{ SEC_LISTENER, "listen", KEY_CUSTOM, S(listen), NULL, 0, 0,
	    parse_listen, NULL, "0.0.0.0:5222 [::]:5222",
	    "numeric addresses to listen on: a.b.c.d:port or [v6]:port" },
	{ SEC_LISTENER, "kind", KEY_ENUM, S(kind), "c2s", 0, 0, NULL,
	    &enum_kind, NULL, "c2s (clients), s2s (other servers) or s2s-out "
	    "(the backend's outgoing s2s, plaintext, loopback)" },
	{ SEC_LISTENER, "tls", KEY_ENUM, S(tls), "starttls", 0, 0,
	    NULL, &enum_tls_mode, NULL,
	    "starttls (5222, 5269) or direct: TLS from the first byte, XEP-0368 "
	    "(5223, 5270)" },
	{ SEC_LISTENER, "backend", KEY_CUSTOM, S(backend), NULL, 0, 0,
	    parse_backend, NULL, "127.0.0.1:15222",
	    "the XMPP server's plaintext port: host:port or [v6]:port" },
	{ SEC_LISTENER, "domains", KEY_CUSTOM, S(domains), NULL, 0, 0,
	    parse_domains, NULL, "example.org",
	    "XMPP domains served here, each with a [domain] section" },
	{ SEC_LISTENER, "backend_proxy_protocol", KEY_ENUM,
	    S(backend_proxy), "none", 0, 0, NULL, &enum_backend_proxy, NULL,
	    "PROXY protocol header sent to the backend: none, v1 or v2" },
	{ SEC_LISTENER, "accept_proxy_protocol", KEY_ENUM, S(accept_proxy),
	    "no", 0, 0, NULL, &enum_bool, NULL,
	    "yes: every connection starts with a PROXY v1/v2 header from a "
	    "proxy_trusted address" },
	{ SEC_LISTENER, "proxy_trusted", KEY_CUSTOM, S(trusted), NULL, 0, 0,
	    parse_trusted, NULL, NULL,
	    "addresses or CIDR blocks allowed to send a PROXY header, "
	    "separated by commas" },
	{ SEC_LISTENER, "backend_source", KEY_CUSTOM, S(sources), NULL, 0, 0,
	    parse_sources, NULL, NULL,
	    "local addresses backend connections come from, used in turn "
	    "(more than ~28,000 connections to one backend)" },
	{ SEC_LISTENER, "s2s_verify", KEY_ENUM, S(s2s_verify), "log", 0, 0,
	    NULL, &enum_s2s_verify, NULL,
	    "s2s: check the certificate of connecting servers: off, log "
	    "(dialback goes on) or require (s2s-out: of remote servers; "
	    "default require)" },
	{ SEC_LISTENER, "s2s_external", KEY_ENUM, S(s2s_external), "on", 0,
	    0, NULL, &enum_s2s_external, NULL,
	    "s2s: offer SASL EXTERNAL (XEP-0178) to a server whose certificate "
	    "is valid for its domain, and vouch for it to the backend by "
	    "dialback: on or off" },
	{ SEC_LISTENER, "s2s_out_resolver", KEY_STRING, S(s2s_out_resolver),
	    NULL, 0, 0, NULL, NULL, NULL,
	    "s2s-out: DNS servers for remote domains, host:port,... "
	    "(default: /etc/resolv.conf)" },
	{ SEC_LISTENER, "s2s_out_timeout", KEY_UINT, S(s2s_out_timeout), "30",
	    3, 600, NULL, NULL, NULL,
	    "s2s-out: seconds from the backend's header to relaying (DNS, "
	    "connections, STARTTLS, TLS)" },
	{ SEC_LISTENER, "s2s_out_dane", KEY_ENUM, S(s2s_out_dane), "off", 0, 0,
	    NULL, &enum_onoff, NULL,
	    "s2s-out: on: a remote's DNSSEC-secure TLSA records (DANE-EE, "
	    "DANE-TA) decide over PKIX; needs a build with libunbound" },
	{ SEC_LISTENER, "s2s_out_dnssec_anchor", KEY_STRING,
	    S(s2s_out_dnssec_anchor), CONFIG_DNSSEC_ANCHOR, 0, 0, NULL, NULL,
	    NULL, "s2s-out: DNSSEC trust anchor file (DS or DNSKEY records) "
	    "for s2s_out_dane" },
};

#undef G
#undef T
#undef L
#undef D
#undef S

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const char *const cipher_names[CONFIG_MAX_CIPHERS] = {
	[TLS_CIPHER_AES128_GCM] = "AES128-GCM",
	[TLS_CIPHER_AES256_GCM] = "AES256-GCM",
	[TLS_CIPHER_CHACHA20_POLY1305] = "CHACHA20-POLY1305",
};

/* ---------------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 0)))
vformat_err(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err == NULL || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
	/* Values are quoted back; keep the message one printable line. */
	for (char *c = err; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static void __attribute__((format(printf, 3, 4)))
format_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_err(err, errlen, fmt, ap);
	va_end(ap);
}

/* Record the first error only; always returns -1. */
static int __attribute__((format(printf, 3, 4)))
perr(struct parser *p, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	format_err(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
	return -1;
}

static int
oom(struct parser *p)
{
	return perr(p, p->lineno, "out of memory; try again");
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static const char *
skip_blank(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* Show a size the way the admin would write it. */
static const char *
size_text(unsigned long long v, char *buf, size_t len)
{
	if (v != 0 && v % MB == 0)
		snprintf(buf, len, "%lluM", v / MB);
	else if (v != 0 && v % KB == 0)
		snprintf(buf, len, "%lluk", v / KB);
	else
		snprintf(buf, len, "%llu", v);
	return buf;
}

/*
 * Split value at blanks into a NULL-terminated vector of pointers into a
 * copy (*copy, to free).  Returns the count, or -1 out of memory.
 */
static int
split_words(const char *value, char **copy, char ***words)
{
	char *s, *w, *save = NULL;
	char **v;
	size_t n = 0, max;

	*words = NULL;
	if ((*copy = s = strdup(value)) == NULL)
		return -1;
	max = strlen(s) / 2 + 2;
	if ((v = calloc(max, sizeof(*v))) == NULL) {
		free(s);
		*copy = NULL;
		return -1;
	}
	for (w = strtok_r(s, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		v[n++] = w;
	*words = v;
	return (int)n;
}

/* ---------------------------------------------------------------------- */
/* Values */

static int
parse_number(const char *s, int allow_suffix, unsigned long long *out)
{
	unsigned long long v = 0, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	if (allow_suffix) {
		if (*s == 'k' || *s == 'K') {
			mult = KB;
			s++;
		} else if (*s == 'm' || *s == 'M') {
			mult = MB;
			s++;
		}
	}
	if (*s != '\0')
		return -1;
	if (v > ULLONG_MAX / mult)
		return -2;
	*out = v * mult;
	return 0;
}

static int
parse_ranged(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	char lo[32], hi[32];
	unsigned long long v = 0;
	int size = k->type == KEY_SIZE, rc;

	rc = parse_number(value, size, &v);
	if (size) {
		size_text(k->min, lo, sizeof(lo));
		size_text(k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%llu", k->min);
		snprintf(hi, sizeof(hi), "%llu", k->max);
	}
	if (rc == -1 && size)
		return perr(p, p->lineno, "%s = %s is not a size; write a "
		    "number of bytes, optionally followed by k (x1024) or M "
		    "(x1048576), between %s and %s", k->name, value, lo, hi);
	if (rc == -1)
		return perr(p, p->lineno, "%s = %s is not a number; write a "
		    "whole number between %s and %s", k->name, value, lo, hi);
	if (rc == -2 || v < k->min || v > k->max)
		return perr(p, p->lineno, "%s = %s is out of range; write a "
		    "value between %s and %s", k->name, value, lo, hi);
	if (size)
		*(size_t *)dst = (size_t)v;
	else
		*(unsigned *)dst = (unsigned)v;
	return 0;
}

/* One word of k->enums, case-insensitive; the error lists them all. */
static int
parse_enum(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	const struct enum_type *t = k->enums;
	char list[256];
	size_t i, len = 0;

	for (i = 0; i < t->nnames; i++)
		if (strcasecmp(value, t->names[i].name) == 0) {
			*(int *)dst = t->names[i].value;
			return 0;
		}
	list[0] = '\0';
	for (i = 0; i < t->nnames && len < sizeof(list); i++) {
		const struct enum_name *e = &t->names[i];

		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    "%s%s%s%s%s", i == 0 ? "" : i + 1 == t->nnames ? " or " :
		    ", ", e->name, e->gloss ? " (" : "", e->gloss ? e->gloss :
		    "", e->gloss ? ")" : "");
	}
	return perr(p, p->lineno, "%s = %s is %s; write %s", k->name, value,
	    t->refusal, list);
}

/* The word for value in t, or "unknown". */
static const char *
enum_word(const struct enum_type *t, int value)
{
	for (size_t i = 0; i < t->nnames; i++)
		if (t->names[i].value == value)
			return t->names[i].name;
	return "unknown";
}

static int
parse_min_version(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	static const char *const old[] = {
		"TLSv1", "TLSv1.0", "TLSv1.1", "SSLv3", "SSLv2", "TLS1",
		"TLS1.0", "TLS1.1",
	};

	if (strcasecmp(value, "TLSv1.2") == 0) {
		*(enum tls_version *)dst = TLS_VERSION_1_2;
		return 0;
	}
	if (strcasecmp(value, "TLSv1.3") == 0) {
#ifdef XMPPSHIELD_HAVE_TLS13
		*(enum tls_version *)dst = TLS_VERSION_1_3;
		return 0;
#else
		return perr(p, p->lineno, "%s = %s: TLSv1.3 needs xmppshield "
		    "built against mbedTLS 3 with TLS 1.3; use TLSv1.2",
		    k->name, value);
#endif
	}
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		if (strcasecmp(value, old[i]) == 0)
			return perr(p, p->lineno, "%s = %s is refused: "
			    "xmppshield never negotiates below TLS 1.2; write "
			    "%s = TLSv1.2", k->name, value, k->name);
	return perr(p, p->lineno, "%s = %s is not a TLS version; xmppshield "
	    "never negotiates below TLS 1.2; write %s = TLSv1.2", k->name,
	    value, k->name);
}

/* The short name an OpenSSL- or IANA-style AEAD suite name maps to. */
static const char *
cipher_hint(const char *word)
{
	char up[128];
	size_t i;

	for (i = 0; i < sizeof(up) - 1 && word[i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)word[i]);
	up[i] = '\0';
	if (strstr(up, "CHACHA20") != NULL)
		return "CHACHA20-POLY1305";
	if (strstr(up, "GCM") == NULL || strstr(up, "CCM") != NULL)
		return NULL;
	if (strstr(up, "AES128") != NULL || strstr(up, "AES_128") != NULL)
		return "AES128-GCM";
	if (strstr(up, "AES256") != NULL || strstr(up, "AES_256") != NULL)
		return "AES256-GCM";
	return NULL;
}

static int
parse_ciphers(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_tls *tls = (struct config_tls *)((char *)dst -
	    offsetof(struct config_tls, ciphers));
	enum tls_cipher got[CONFIG_MAX_CIPHERS];
	char *copy, **w;
	const char *hint;
	size_t n = 0;
	int nw, i, c, rc = 0;

	if ((nw = split_words(value, &copy, &w)) < 0)
		return oom(p);
	for (i = 0; i < nw && rc == 0; i++) {
		for (c = 0; c < CONFIG_MAX_CIPHERS; c++)
			if (strcasecmp(w[i], cipher_names[c]) == 0)
				break;
		if (c == CONFIG_MAX_CIPHERS) {
			hint = cipher_hint(w[i]);
			rc = perr(p, p->lineno, "%s: %s is refused: only ECDHE "
			    "key exchange with AEAD ciphers is negotiated; "
			    "allowed names: AES128-GCM AES256-GCM "
			    "CHACHA20-POLY1305%s%s%s", k->name, w[i],
			    hint ? " (write " : "", hint ? hint : "",
			    hint ? ")" : "");
			break;
		}
		for (size_t j = 0; j < n; j++)
			if (got[j] == (enum tls_cipher)c)
				rc = perr(p, p->lineno, "%s lists %s twice; "
				    "name each cipher once, in order of "
				    "preference", k->name, cipher_names[c]);
		if (rc == 0)
			got[n++] = (enum tls_cipher)c;
	}
	if (rc == 0 && n == 0)
		rc = perr(p, p->lineno, "%s is empty; write e.g. %s = "
		    "AES128-GCM AES256-GCM CHACHA20-POLY1305", k->name, k->name);
	if (rc == 0) {
		memcpy(tls->ciphers, got, n * sizeof(got[0]));
		tls->nciphers = n;
	}
	free(w);
	free(copy);
	return rc;
}

static int
parse_workers(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	char *end;
	unsigned long n;

	if (strcasecmp(value, "auto") == 0) {
		*(unsigned *)dst = 0;
		return 0;
	}
	errno = 0;
	n = strtoul(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || n < 1 || n > 64 ||
	    value[0] == '-' || value[0] == '+')
		return perr(p, p->lineno, "%s = %s is not valid; write auto "
		    "(one per CPU) or a number from 1 to 64", k->name, value);
	*(unsigned *)dst = (unsigned)n;
	return 0;
}

/*
 * One address: "a.b.c.d:port" or "[v6]:port"; for a backend the host may
 * also be a name, kept in a->resolve for config_load() to resolve, so that
 * a typo stops the start, not the first client.  passive: a listen
 * address (numeric only, port 0 allowed).
 */
static int
parse_addr(struct parser *p, const char *keyname, const char *word,
    struct config_addr *a, int passive)
{
	char msg[512];
	size_t wlen = strlen(word);
	int rc;

	free(a->resolve);
	memset(a, 0, sizeof(*a));
	rc = addr_parse(word, passive ? ADDR_PASSIVE : ADDR_NAME, &a->sa,
	    &a->len, msg, sizeof(msg));
	if (rc == -1)
		return perr(p, p->lineno, "%s: %s", keyname, msg);
	if (rc == 1 && (a->resolve = strdup(word)) == NULL)
		return oom(p);
	a->line = p->lineno;
	if (wlen < sizeof(a->text))
		memcpy(a->text, word, wlen + 1);
	else {
		memcpy(a->text, word, sizeof(a->text) - 4);
		memcpy(a->text + sizeof(a->text) - 4, "...", 4);
	}
	return 0;
}

/* "a.b.c.d" or "[v6]" / "v6", numeric, no port: a local address. */
static int
parse_sources(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_listener *l = (struct config_listener *)((char *)dst -
	    offsetof(struct config_listener, sources));
	char *copy, **w, msg[128];
	int nw, i, rc = 0;

	if ((nw = split_words(value, &copy, &w)) < 0)
		return oom(p);
	if (nw > CONFIG_MAX_SOURCES)
		rc = perr(p, p->lineno, "%s has %d addresses; at most %d are "
		    "allowed", k->name, nw, CONFIG_MAX_SOURCES);
	l->nsources = 0;
	for (i = 0; i < nw && rc == 0; i++) {
		struct config_addr *a = &l->sources[l->nsources];

		memset(a, 0, sizeof(*a));
		if (addr_parse(w[i], ADDR_NO_PORT, &a->sa, &a->len, msg,
		    sizeof(msg)) == -1) {
			rc = perr(p, p->lineno, "%s: %s is not a numeric IP "
			    "address; write local addresses without a port, "
			    "e.g. %s = 127.0.0.2 127.0.0.3", k->name, w[i],
			    k->name);
			break;
		}
		a->line = p->lineno;
		snprintf(a->text, sizeof(a->text), "%s", w[i]);
		l->nsources++;
	}
	free(w);
	free(copy);
	return rc;
}

static int
parse_listen(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_listener *l = (struct config_listener *)((char *)dst -
	    offsetof(struct config_listener, listen));
	char *copy, **w;
	int nw, i, rc = 0;

	if ((nw = split_words(value, &copy, &w)) < 0)
		return oom(p);
	if (nw > CONFIG_MAX_ADDRS)
		rc = perr(p, p->lineno, "%s has %d addresses; at most %d are "
		    "allowed, use another [listener] for more", k->name, nw,
		    CONFIG_MAX_ADDRS);
	l->nlisten = 0;
	for (i = 0; i < nw && rc == 0; i++) {
		rc = parse_addr(p, k->name, w[i], &l->listen[i], 1);
		if (rc == 0)
			l->nlisten++;
	}
	free(w);
	free(copy);
	return rc;
}

static int
parse_backend(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	if (strpbrk(value, " \t") != NULL)
		return perr(p, p->lineno, "%s takes one address; write e.g. "
		    "%s = 127.0.0.1:15222", k->name, k->name);
	return parse_addr(p, k->name, value, dst, 0);
}

/* NULL if name is a usable DNS-style domain, else what is wrong. */
static const char *
domain_problem(const char *name)
{
	size_t n = 0, label = 0;

	for (; name[n] != '\0'; n++) {
		unsigned char c = (unsigned char)name[n];

		if (c == '.') {
			if (label == 0)
				return "has an empty label";
			label = 0;
		} else if (isalnum(c) || c == '-') {
			if (++label > LABEL_MAX)
				return "has a label longer than 63 characters";
		} else
			return "may contain only letters, digits, '-' and '.'";
	}
	if (n == 0)
		return "is empty";
	if (n > DOMAIN_MAX)
		return "is longer than 253 characters";
	if (label == 0)
		return "ends in a dot";
	return NULL;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
parse_domains(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_listener *l = (struct config_listener *)((char *)dst -
	    offsetof(struct config_listener, domains));
	const char *why;
	char *copy, **w;
	int nw, i, rc = 0;

	if ((nw = split_words(value, &copy, &w)) < 0)
		return oom(p);
	for (i = 0; i < nw && rc == 0; i++) {
		if ((why = domain_problem(w[i])) != NULL) {
			rc = perr(p, p->lineno, "%s: domain %s %s; write XMPP "
			    "domains like example.org, separated by spaces",
			    k->name, w[i], why);
			break;
		}
		lower(w[i]);
		for (int j = 0; j < i; j++)
			if (strcmp(w[j], w[i]) == 0) {
				rc = perr(p, p->lineno, "%s lists %s twice; "
				    "name each domain once", k->name, w[i]);
				break;
			}
	}
	if (rc == 0 && nw == 0)
		rc = perr(p, p->lineno, "%s is empty; write e.g. %s = "
		    "example.org", k->name, k->name);
	if (rc == 0) {
		if ((l->domains = calloc((size_t)nw, sizeof(char *))) == NULL)
			rc = oom(p);
		for (i = 0; i < nw && rc == 0; i++) {
			if ((l->domains[i] = strdup(w[i])) == NULL)
				rc = oom(p);
			else
				l->ndomains++;
		}
	}
	free(w);
	free(copy);
	return rc;
}

/*
 * A list of CIDR blocks separated by commas or blanks into
 * cidrs[CONFIG_MAX_TRUSTED].  who: whose addresses to write when it is
 * empty; NULL: "none" is the empty list, and allowed.
 */
static int
parse_cidr_list(struct parser *p, const struct key *k,
    struct proxyproto_cidr *cidrs, size_t *n, const char *value,
    const char *who)
{
	char *copy, *w, *save = NULL;
	int rc = 0;

	*n = 0;
	if (who == NULL && strcasecmp(value, "none") == 0)
		return 0;
	if ((copy = strdup(value)) == NULL)
		return oom(p);
	for (w = strtok_r(copy, ", \t", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, ", \t", &save)) {
		if (*n == CONFIG_MAX_TRUSTED)
			rc = perr(p, p->lineno, "%s lists more than %d address "
			    "blocks; use wider CIDR blocks", k->name,
			    CONFIG_MAX_TRUSTED);
		else if (proxyproto_cidr_parse(w, &cidrs[*n]) == -1)
			rc = perr(p, p->lineno, "%s: %s is not an IP address "
			    "or CIDR block (host bits zero); write e.g. "
			    "127.0.0.1, 10.0.0.0/8, ::1 or 2001:db8::/32%s",
			    k->name, w, who == NULL ? ", or none" : "");
		else
			(*n)++;
	}
	if (rc == 0 && *n == 0 && who != NULL)
		rc = perr(p, p->lineno, "%s is empty; write %s, e.g. "
		    "%s = 10.0.0.5, 10.0.0.6", k->name, who, k->name);
	else if (rc == 0 && *n == 0)
		rc = perr(p, p->lineno, "%s is empty; write address blocks, "
		    "e.g. %s = 127.0.0.0/8 ::1, or none", k->name, k->name);
	free(copy);
	return rc;
}

static int
parse_trusted(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_listener *l = (struct config_listener *)((char *)dst -
	    offsetof(struct config_listener, trusted));

	return parse_cidr_list(p, k, l->trusted, &l->ntrusted, value,
	    "the load balancers' addresses");
}

static int
parse_metrics_allow(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config *cfg = (struct config *)((char *)dst -
	    offsetof(struct config, metrics_allow));

	return parse_cidr_list(p, k, cfg->metrics_allow, &cfg->nmetrics_allow,
	    value, "the scrapers' addresses");
}

static int
parse_metrics_listen(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	if (strpbrk(value, " \t") != NULL)
		return perr(p, p->lineno, "%s takes one address; write e.g. "
		    "%s = 127.0.0.1:9470", k->name, k->name);
	return parse_addr(p, k->name, value, dst, 1);
}

static int
parse_exempt(struct parser *p, const struct key *k, void *dst,
    const char *value)
{
	struct config_limits *lim = (struct config_limits *)((char *)dst -
	    offsetof(struct config_limits, exempt));

	return parse_cidr_list(p, k, lim->exempt, &lim->nexempt, value, NULL);
}

static int
set_value(struct parser *p, const struct key *k, void *obj,
    const char *value)
{
	void *dst = (char *)obj + k->offset;
	char *s;

	switch (k->type) {
	case KEY_STRING:
		if ((s = strdup(value)) == NULL)
			return oom(p);
		free(*(char **)dst);
		*(char **)dst = s;
		return 0;
	case KEY_SIZE:
	case KEY_UINT:
		return parse_ranged(p, k, dst, value);
	case KEY_ENUM:
		return parse_enum(p, k, dst, value);
	case KEY_CUSTOM:
		return k->parse(p, k, dst, value);
	}
	return perr(p, p->lineno, "internal error: key %s has no type",
	    k->name);
}

/* ---------------------------------------------------------------------- */
/* Sections */

static void *
section_obj(struct parser *p, enum section_kind kind)
{
	switch (kind) {
	case SEC_GLOBAL:
		return p->cfg;
	case SEC_TLS:
		return &p->cfg->tls;
	case SEC_LIMITS:
		return &p->cfg->limits;
	default:
		return p->cur_obj;
	}
}

static int
apply_defaults(struct parser *p, enum section_kind kind, void *obj)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == kind && keys[i].def != NULL &&
		    set_value(p, &keys[i], obj, keys[i].def) == -1)
			return -1;
	return 0;
}

static const struct section_rec *
find_rec(const struct parser *p, enum section_kind kind, const void *obj,
    const char *name)
{
	for (size_t i = 0; i < p->nrecs; i++) {
		const struct section_rec *r = &p->recs[i];

		if (r->kind != kind)
			continue;
		if (obj != NULL ? r->obj == obj :
		    name == NULL || (r->name != NULL &&
		    strcmp(r->name, name) == 0))
			return r;
	}
	return NULL;
}

static int
rec_line(const struct parser *p, enum section_kind kind, const void *obj)
{
	const struct section_rec *r = find_rec(p, kind, obj, NULL);

	return r != NULL ? r->line : p->lineno;
}

/* The line where the current section set key, or 0. */
static int
key_seen(const struct parser *p, enum section_kind sec, const char *key)
{
	size_t idx = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].section != sec)
			continue;
		if (strcmp(keys[i].name, key) == 0)
			return p->seen_line[idx];
		idx++;
	}
	return 0;
}

/*
 * s2s-out listeners connect to remote servers, not to a backend; the
 * s2s-out keys mean nothing elsewhere.  The remote's identity protects
 * the backend's users: certificates are required unless the admin says
 * otherwise.
 */
static int
end_s2s_out(struct parser *p)
{
	struct config_listener *l = p->cur_obj;
	static const char *const only[] = { "s2s_out_resolver",
	    "s2s_out_timeout", "s2s_out_dane", "s2s_out_dnssec_anchor" };
	static const char *const never[] = { "backend", "tls",
	    "backend_proxy_protocol", "accept_proxy_protocol",
	    "proxy_trusted", "backend_source", "s2s_external" };
	int line;

	if (l->kind != LISTENER_S2S_OUT) {
		for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
			if ((line = key_seen(p, SEC_LISTENER, only[i])) != 0)
				return perr(p, line, "%s applies to s2s-out "
				    "listeners only; remove it from [listener "
				    "%s] or set kind = s2s-out", only[i],
				    l->name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if ((line = key_seen(p, SEC_LISTENER, never[i])) != 0)
			return perr(p, line, "%s does not apply to s2s-out "
			    "listeners (the backend connects in plaintext, "
			    "xmppshield connects out to the remote server); "
			    "remove it from [listener %s]", never[i], l->name);
	if (!key_seen(p, SEC_LISTENER, "s2s_verify"))
		l->s2s_verify = CONFIG_S2S_VERIFY_REQUIRE;
#ifndef XMPPSHIELD_HAVE_UNBOUND
	if (l->s2s_out_dane && (line = key_seen(p, SEC_LISTENER,
	    "s2s_out_dane")) != 0)
		return perr(p, line, "s2s_out_dane = on needs DNSSEC "
		    "validation, and this xmppshield was built without "
		    "libunbound: install libunbound-dev and rebuild "
		    "(./configure --with-unbound=yes), or set s2s_out_dane = "
		    "off in [listener %s]", l->name);
#endif
	return 0;
}

/*
 * [limits] bounds that depend on each other: max_preauth_stanza_size is
 * at most max_stanza_size; left unset, it follows a max_stanza_size set
 * below its default.
 */
static int
end_limits(struct parser *p)
{
	struct config_limits *lim = &p->cfg->limits;
	int line = key_seen(p, SEC_LIMITS, "max_preauth_stanza_size");
	int max_line = key_seen(p, SEC_LIMITS, "max_stanza_size");
	char where[32];

	if (lim->max_preauth_stanza_size <= lim->max_stanza_size)
		return 0;
	if (line == 0) {
		lim->max_preauth_stanza_size = lim->max_stanza_size;
		return 0;
	}
	if (max_line != 0)
		snprintf(where, sizeof(where), "line %d", max_line);
	else
		snprintf(where, sizeof(where), "the default");
	return perr(p, line, "max_preauth_stanza_size = %zu is larger than "
	    "max_stanza_size = %zu (%s); write at most %zu, or raise "
	    "max_stanza_size", lim->max_preauth_stanza_size,
	    lim->max_stanza_size, where, lim->max_stanza_size);
}

/* Checks that need the whole section: required keys, certificate pairs. */
static int
end_section(struct parser *p)
{
	const char *name = NULL, *cert = NULL, *key = NULL;
	size_t idx = 0;

	if (p->cur == SEC_NONE)
		return 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].section != p->cur)
			continue;
		if (keys[i].example != NULL && p->seen_line[idx] == 0 &&
		    !(p->cur == SEC_LISTENER && strcmp(keys[i].name,
		    "backend") == 0 && ((struct config_listener *)
		    p->cur_obj)->kind == LISTENER_S2S_OUT)) {
			name = p->cur == SEC_LISTENER ?
			    ((struct config_listener *)p->cur_obj)->name : "";
			return perr(p, p->cur_line, "[listener %s] has no %s; "
			    "add e.g. %s = %s", name, keys[i].name,
			    keys[i].name, keys[i].example);
		}
		idx++;
	}
	if (p->cur == SEC_LISTENER && end_s2s_out(p) == -1)
		return -1;
	if (p->cur == SEC_LISTENER && key_seen(p, SEC_LISTENER, "s2s_verify") &&
	    ((struct config_listener *)p->cur_obj)->kind == LISTENER_C2S)
		return perr(p, key_seen(p, SEC_LISTENER, "s2s_verify"),
		    "s2s_verify applies to s2s listeners only; remove it from "
		    "[listener %s] or set kind = s2s",
		    ((struct config_listener *)p->cur_obj)->name);
	if (p->cur == SEC_LISTENER && key_seen(p, SEC_LISTENER,
	    "s2s_external") && ((struct config_listener *)p->cur_obj)->kind ==
	    LISTENER_C2S)
		return perr(p, key_seen(p, SEC_LISTENER, "s2s_external"),
		    "s2s_external applies to s2s listeners only; remove it "
		    "from [listener %s] or set kind = s2s",
		    ((struct config_listener *)p->cur_obj)->name);
	if (p->cur == SEC_LIMITS)
		return end_limits(p);
	if (p->cur == SEC_TLS) {
		cert = p->cfg->tls.certificate;
		key = p->cfg->tls.key;
		name = "[tls]";
	} else if (p->cur == SEC_DOMAIN) {
		cert = ((struct config_domain *)p->cur_obj)->certificate;
		key = ((struct config_domain *)p->cur_obj)->key;
		name = ((struct config_domain *)p->cur_obj)->name;
	} else
		return 0;
	if ((cert == NULL) != (key == NULL)) {
		if (p->cur == SEC_TLS)
			return perr(p, p->cur_line, "[tls] sets %s but not %s; "
			    "set both certificate and key", cert ?
			    "certificate" : "key", cert ? "key" : "certificate");
		return perr(p, p->cur_line, "[domain %s] sets %s but not %s; "
		    "set both, or neither to use the ones in [tls]", name,
		    cert ? "certificate" : "key", cert ? "key" : "certificate");
	}
	return 0;
}

static int
add_rec(struct parser *p, enum section_kind kind, void *obj,
    const char *name)
{
	struct section_rec *r;

	if (p->nrecs == p->arecs) {
		size_t n = p->arecs ? p->arecs * 2 : 8;

		if ((r = reallocarray(p->recs, n, sizeof(*r))) == NULL)
			return oom(p);
		p->recs = r;
		p->arecs = n;
	}
	r = &p->recs[p->nrecs++];
	r->kind = kind;
	r->line = p->lineno;
	r->obj = obj;
	r->name = name;
	return 0;
}

static int
listener_name_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '-')
			return 0;
	return n >= 1 && n <= LISTENER_NAME_MAX;
}

static int
begin_section(struct parser *p, char *line)
{
	const struct section_rec *dup;
	struct config_domain *d;
	struct config_listener *l;
	enum section_kind kind;
	char *rbracket, *word, *arg, *end;
	const char *rest, *why;
	void *obj = NULL;
	int k;

	if (end_section(p) == -1)
		return -1;

	rbracket = strchr(line, ']');
	if (rbracket == NULL)
		return perr(p, p->lineno, "section header has no closing ']'; "
		    "write e.g. [global] or [listener c2s]");
	rest = skip_blank(rbracket + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#')
		return perr(p, p->lineno, "text after the section header; "
		    "put a comment on a line of its own, starting with '#'");
	*rbracket = '\0';
	word = (char *)skip_blank(line + 1);
	for (end = word; *end != '\0' && !is_blank(*end); end++)
		;
	arg = (char *)skip_blank(end);
	*end = '\0';
	for (end = arg + strlen(arg); end > arg && is_blank(end[-1]); end--)
		;
	*end = '\0';

	for (k = 0; k < SEC_COUNT; k++)
		if (strcmp(word, section_names[k]) == 0)
			break;
	if (k == SEC_COUNT)
		return perr(p, p->lineno, "unknown section [%s]; sections are "
		    "[global], [tls], [limits], [domain NAME] and "
		    "[listener NAME]", word);
	kind = (enum section_kind)k;

	switch (kind) {
	case SEC_DOMAIN:
		if (*arg == '\0')
			return perr(p, p->lineno, "[domain] needs the XMPP "
			    "domain it is for; write e.g. [domain example.org]");
		if ((why = domain_problem(arg)) != NULL)
			return perr(p, p->lineno, "[domain %s]: the name %s; "
			    "write an XMPP domain like example.org", arg, why);
		lower(arg);
		if ((dup = find_rec(p, kind, NULL, arg)) != NULL)
			return perr(p, p->lineno, "duplicate section [domain "
			    "%s] (first on line %d); merge the two", arg,
			    dup->line);
		if ((d = calloc(1, sizeof(*d))) == NULL ||
		    (d->name = strdup(arg)) == NULL) {
			free(d);
			return oom(p);
		}
		*p->domain_tail = d;
		p->domain_tail = &d->next;
		obj = d;
		break;
	case SEC_LISTENER:
		if (!listener_name_ok(arg))
			return perr(p, p->lineno, "[listener %s]: a listener "
			    "needs a name of 1 to 32 letters, digits, '_' or "
			    "'-'; write e.g. [listener c2s]", arg);
		if ((dup = find_rec(p, kind, NULL, arg)) != NULL)
			return perr(p, p->lineno, "duplicate section [listener "
			    "%s] (first on line %d); rename one", arg,
			    dup->line);
		if ((l = calloc(1, sizeof(*l))) == NULL ||
		    (l->name = strdup(arg)) == NULL) {
			free(l);
			return oom(p);
		}
		*p->listener_tail = l;
		p->listener_tail = &l->next;
		obj = l;
		break;
	default:
		if (*arg != '\0')
			return perr(p, p->lineno, "[%s] takes no name; write "
			    "[%s]", word, word);
		if ((dup = find_rec(p, kind, NULL, NULL)) != NULL)
			return perr(p, p->lineno, "duplicate section [%s] "
			    "(first on line %d); merge the two", word,
			    dup->line);
		break;
	}

	if (add_rec(p, kind, obj, kind == SEC_DOMAIN ?
	    ((struct config_domain *)obj)->name : kind == SEC_LISTENER ?
	    ((struct config_listener *)obj)->name : NULL) == -1)
		return -1;
	p->cur = kind;
	p->cur_line = p->lineno;
	p->cur_obj = obj;
	memset(p->seen_line, 0, sizeof(p->seen_line));
	if (obj != NULL && apply_defaults(p, kind, obj) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* inih glue */

/*
 * Like inih's find_chars_or_comment(): an inline ';' comment starts only
 * after a blank.
 */
static const char *
find_sep(const char *s)
{
	int was_blank = 0;

	for (; *s != '\0'; s++) {
		if (*s == '=' || *s == ':' || (was_blank && *s == ';'))
			return s;
		was_blank = isspace((unsigned char)*s);
	}
	return s;
}

/* Refuse what inih would misread; track sections.  -1: error recorded. */
static int
check_line(struct parser *p, const char *s)
{
	char header[LINE_MAX_BYTES + 1];
	const char *sep;

	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	if (is_blank(*s)) {
		s = skip_blank(s);
		if (*s == '\0' || *s == '#' || *s == ';')
			return 0;
		return perr(p, p->lineno, "line starts with a blank; "
		    "continuation lines are not supported, so remove the "
		    "indentation and write the whole value on one line");
	}
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		/* A copy: inih must still see the header as written. */
		snprintf(header, sizeof(header), "%s", s);
		return begin_section(p, header);
	}
	sep = find_sep(s);
	if (*sep == ':')
		return perr(p, p->lineno, "':' between key and value; write "
		    "key = value");
	if (*sep != '=')
		return perr(p, p->lineno, "not a \"key = value\" line or a "
		    "[section] header; comment lines start with '#'");
	return 0;
}

static char *
reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *start, *nl;
	size_t len;

	if (p->failed || *p->pos == '\0')
		return NULL;
	start = p->pos;
	nl = strchr(start, '\n');
	len = nl != NULL ? (size_t)(nl - start) : strlen(start);
	p->pos = nl != NULL ? nl + 1 : start + len;
	p->lineno++;
	if (len > 0 && start[len - 1] == '\r')
		len--;
	if (len > LINE_MAX_BYTES || num < 1 || len >= (size_t)num) {
		perr(p, p->lineno, "line is longer than %d bytes; split the "
		    "list or shorten the path", LINE_MAX_BYTES);
		return NULL;
	}
	memcpy(str, start, len);
	str[len] = '\0';
	if (check_line(p, str) == -1)
		return NULL;
	/* Section headers go to inih too, so its line count stays ours. */
	return str;
}

static const struct key *
find_key(enum section_kind kind, const char *name, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].section != kind)
			continue;
		if (strcmp(keys[i].name, name) == 0) {
			*idx = n;
			return &keys[i];
		}
		n++;
	}
	return NULL;
}

/* "[tls]", "[domain example.org]": the section as the admin wrote it. */
static const char *
cur_label(const struct parser *p, char *buf, size_t len)
{
	const char *name = NULL;

	if (p->cur == SEC_DOMAIN)
		name = ((const struct config_domain *)p->cur_obj)->name;
	else if (p->cur == SEC_LISTENER)
		name = ((const struct config_listener *)p->cur_obj)->name;
	snprintf(buf, len, "[%s%s%s]", section_names[p->cur],
	    name ? " " : "", name ? name : "");
	return buf;
}

static int
unknown_key(struct parser *p, const char *name)
{
	char list[KEYLIST_MAX + 64], label[LINE_MAX_BYTES + 1];
	const char *secname = cur_label(p, label, sizeof(label));
	size_t len = 0, i;
	int n;

	/* A key of other sections: name them all ("backend" is in two). */
	list[0] = '\0';
	for (i = 0; i < NKEYS; i++)
		if (keys[i].section != p->cur &&
		    strcmp(keys[i].name, name) == 0) {
			len = strlen(list);
			snprintf(list + len, sizeof(list) - len, "%s[%s%s]",
			    len ? " or " : "", section_names[keys[i].section],
			    keys[i].section >= SEC_DOMAIN ? " NAME" : "");
		}
	if (list[0] != '\0')
		return perr(p, p->lineno, "%s does not belong in %s; move it "
		    "to %s", name, secname, list);
	len = 0;

	list[0] = '\0';
	for (i = 0; i < NKEYS && len <= KEYLIST_MAX; i++) {
		if (keys[i].section != p->cur)
			continue;
		n = snprintf(list + len, sizeof(list) - len, "%s%s",
		    len ? " " : "", keys[i].name);
		if (n < 0 || (size_t)n >= sizeof(list) - len)
			len = KEYLIST_MAX + 1;
		else
			len += (size_t)n;
	}
	if (len <= KEYLIST_MAX)
		return perr(p, p->lineno, "unknown key \"%s\" in %s; known "
		    "keys: %s", name, secname, list);
	return perr(p, p->lineno, "unknown key \"%s\" in %s; see "
	    "xmppshield.conf(5) or xmppshield -k for the known keys", name,
	    secname);
}

static int
handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct parser *p = user;
	char label[LINE_MAX_BYTES + 1];
	const struct key *k;
	const char *c;
	size_t idx;

	(void)section;		/* inih cuts it at 50 bytes; ours is whole */
	if (p->failed)
		return 0;
	if (p->cur == SEC_NONE) {
		perr(p, p->lineno, "%s is outside any section; put it under "
		    "[global], [tls], [limits], [domain NAME] or "
		    "[listener NAME]", name);
		return 0;
	}
	if (*name == '\0') {
		perr(p, p->lineno, "no key before '='; write key = value");
		return 0;
	}
	if ((k = find_key(p->cur, name, &idx)) == NULL) {
		unknown_key(p, name);
		return 0;
	}
	if (p->seen_line[idx] != 0) {
		perr(p, p->lineno, "duplicate key %s in %s (first set on "
		    "line %d); keep one", name,
		    cur_label(p, label, sizeof(label)), p->seen_line[idx]);
		return 0;
	}
	p->seen_line[idx] = p->lineno;
	if (*value == '\0') {
		perr(p, p->lineno, "%s has no value; write a value or comment "
		    "the line out with '#'", name);
		return 0;
	}
	for (c = value; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\t') {
			perr(p, p->lineno, "%s contains a control character; "
			    "remove it", name);
			return 0;
		}
		if (*c == '#' && c > value && isspace((unsigned char)c[-1])) {
			perr(p, p->lineno, "'#' after the value of %s; '#' "
			    "starts a comment only at the start of a line, "
			    "use ';' after a value", name);
			return 0;
		}
	}
	return set_value(p, k, section_obj(p, p->cur), value) == 0;
}

/* ---------------------------------------------------------------------- */
/* Whole-file checks */

/*
 * Two listen addresses that would bind the same socket.  Port 0 asks for
 * any free port: two of those never clash, whereas a reload that finds
 * port 0 configured again keeps its socket (listener.c compares with
 * addr_equal() alone).
 */
static int
listen_clash(const struct config_addr *a, const struct config_addr *b)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;

	return addr_port(sa) != 0 && addr_equal(sa, a->len,
	    (const struct sockaddr *)&b->sa, b->len);
}

static int
check_file(struct parser *p)
{
	const struct config *cfg = p->cfg;
	const struct config_listener *l, *m;
	const struct config_domain *d;
	size_t i, j, mi;

	if (cfg->listeners == NULL)
		return perr(p, p->lineno > 0 ? p->lineno : 1, "no [listener] "
		    "section; add one, e.g. [listener c2s] with listen, "
		    "backend and domains");
	for (l = cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->ndomains; i++)
			if (config_find_domain(cfg, l->domains[i]) == NULL)
				return perr(p, rec_line(p, SEC_LISTENER, l),
				    "[listener %s] serves %s but there is no "
				    "[domain %s] section; add one", l->name,
				    l->domains[i], l->domains[i]);
	/* A PROXY header is only ever accepted from named sources
	   (proxy-protocol.txt section 5); a list without the switch is
	   most likely a mistake. */
	for (l = cfg->listeners; l != NULL; l = l->next) {
		if (l->accept_proxy && l->ntrusted == 0)
			return perr(p, rec_line(p, SEC_LISTENER, l), "[listener "
			    "%s] has accept_proxy_protocol = yes but no "
			    "proxy_trusted; list the load balancers' addresses, "
			    "e.g. proxy_trusted = 10.0.0.5", l->name);
		if (!l->accept_proxy && l->ntrusted > 0)
			return perr(p, rec_line(p, SEC_LISTENER, l), "[listener "
			    "%s] has proxy_trusted but accept_proxy_protocol is "
			    "not yes; set accept_proxy_protocol = yes or remove "
			    "proxy_trusted", l->name);
		/* A source is used only towards a backend of its family. */
		for (i = 0; i < l->nsources; i++)
			if (l->sources[i].sa.ss_family ==
			    l->backend.sa.ss_family)
				break;
		if (l->nsources > 0 && i == l->nsources)
			return perr(p, rec_line(p, SEC_LISTENER, l), "[listener "
			    "%s] has no backend_source of the backend's address "
			    "family (%s); add one, or remove backend_source",
			    l->name, l->backend.sa.ss_family == AF_INET6 ?
			    "IPv6" : "IPv4");
	}
	for (d = cfg->domains; d != NULL; d = d->next)
		if ((d->certificate == NULL || d->key == NULL) &&
		    (cfg->tls.certificate == NULL || cfg->tls.key == NULL))
			return perr(p, rec_line(p, SEC_DOMAIN, d), "[domain %s] "
			    "has no certificate and key; set certificate and "
			    "key in [tls] or in [domain %s]", d->name, d->name);
	for (l = cfg->listeners; l != NULL; l = l->next)
		for (i = 0; i < l->nlisten; i++)
			for (m = cfg->listeners; m != NULL; m = m->next) {
				mi = m == l ? i : m->nlisten;
				for (j = 0; j < mi; j++) {
					if (!listen_clash(&l->listen[i],
					    &m->listen[j]))
						continue;
					if (m == l)
						return perr(p, rec_line(p,
						    SEC_LISTENER, l), "[listener "
						    "%s] lists %s twice; listen "
						    "on each address once",
						    l->name, l->listen[i].text);
					return perr(p, rec_line(p, SEC_LISTENER,
					    l), "[listener %s] listens on %s, "
					    "as [listener %s] (line %d) does; "
					    "listen on each address once",
					    l->name, l->listen[i].text, m->name,
					    rec_line(p, SEC_LISTENER, m));
				}
				if (m == l)
					break;
			}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Interface */

int
config_parse_string(const char *text, const char *name, struct config **out,
    char *err, size_t errlen)
{
	struct parser p;
	int rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.name = name != NULL ? name : "(config)";
	p.pos = text != NULL ? text : "";
	p.err = err;
	p.errlen = errlen;
	p.cur = SEC_NONE;

	if ((p.cfg = calloc(1, sizeof(*p.cfg))) == NULL ||
	    (p.cfg->path = strdup(p.name)) == NULL) {
		free(p.cfg);
		format_err(err, errlen, "%s: out of memory; try again", p.name);
		return -1;
	}
	p.domain_tail = &p.cfg->domains;
	p.listener_tail = &p.cfg->listeners;

	if (apply_defaults(&p, SEC_GLOBAL, p.cfg) == 0 &&
	    apply_defaults(&p, SEC_TLS, &p.cfg->tls) == 0)
		apply_defaults(&p, SEC_LIMITS, &p.cfg->limits);
	if (!p.failed) {
		rc = ini_parse_stream(reader, &p, handler, &p);
		if (!p.failed)
			end_section(&p);
		if (!p.failed && rc > 0)
			perr(&p, rc, "cannot read this line; write key = value "
			    "or a [section] header");
		else if (!p.failed && rc < 0)
			perr(&p, p.lineno, "cannot parse the file (inih error "
			    "%d); try again", rc);
	}
	if (!p.failed)
		check_file(&p);

	free(p.recs);
	if (p.failed) {
		config_free(p.cfg);
		return -1;
	}
	*out = p.cfg;
	return 0;
}

/* Resolve a's host name, if it has one; errors name file:line. */
static int
resolve_one(const struct config *cfg, const char *keyname,
    struct config_addr *a, char *err, size_t errlen)
{
	char msg[512];

	if (a->resolve == NULL)
		return 0;
	if (addr_resolve(a->resolve, &a->sa, &a->len, msg,
	    sizeof(msg)) == -1) {
		format_err(err, errlen, "%s:%d: %s: %s", cfg->path, a->line,
		    keyname, msg);
		return -1;
	}
	free(a->resolve);
	a->resolve = NULL;
	return 0;
}

int
config_resolve(struct config *cfg, char *err, size_t errlen)
{
	struct config_domain *d;
	struct config_listener *l;

	for (l = cfg->listeners; l != NULL; l = l->next)
		if (resolve_one(cfg, "backend", &l->backend, err, errlen) == -1)
			return -1;
	for (d = cfg->domains; d != NULL; d = d->next)
		if (resolve_one(cfg, "backend", &d->backend, err,
		    errlen) == -1 || resolve_one(cfg, "s2s_backend",
		    &d->s2s_backend, err, errlen) == -1)
			return -1;
	return 0;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	FILE *f;
	char *buf, *nul;
	size_t len = 0, n;
	int rc, line;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL) {
		format_err(err, errlen, "%s: cannot open: %s; check the path "
		    "and that the file is readable", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(FILE_MAX_BYTES + 1)) == NULL) {
		fclose(f);
		format_err(err, errlen, "%s: out of memory; try again", path);
		return -1;
	}
	while ((n = fread(buf + len, 1, FILE_MAX_BYTES + 1 - len, f)) > 0 &&
	    len + n <= FILE_MAX_BYTES)
		len += n;
	if (ferror(f)) {
		format_err(err, errlen, "%s: cannot read: %s; check the file",
		    path, strerror(errno));
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	if (n > 0) {
		format_err(err, errlen, "%s: larger than %d bytes; is this the "
		    "configuration file?", path, FILE_MAX_BYTES);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		line = 1;
		for (char *c = buf; c < nul; c++)
			line += *c == '\n';
		format_err(err, errlen, "%s:%d: NUL byte in the file; save it "
		    "as plain text", path, line);
		free(buf);
		return -1;
	}
	rc = config_parse_string(buf, path, out, err, errlen);
	free(buf);
	if (rc == 0 && config_resolve(*out, err, errlen) == -1) {
		config_free(*out);
		*out = NULL;
		rc = -1;
	}
	return rc;
}

void
config_free(struct config *cfg)
{
	struct config_domain *d, *dn;
	struct config_listener *l, *ln;

	if (cfg == NULL)
		return;
	for (d = cfg->domains; d != NULL; d = dn) {
		dn = d->next;
		free(d->backend.resolve);
		free(d->s2s_backend.resolve);
		free(d->name);
		free(d->certificate);
		free(d->key);
		free(d);
	}
	for (l = cfg->listeners; l != NULL; l = ln) {
		ln = l->next;
		for (size_t i = 0; i < l->ndomains; i++)
			free(l->domains[i]);
		free(l->domains);
		free(l->backend.resolve);
		free(l->s2s_out_resolver);
		free(l->s2s_out_dnssec_anchor);
		free(l->name);
		free(l);
	}
	free(cfg->path);
	free(cfg->user);
	free(cfg->group);
	free(cfg->pidfile);
	free(cfg->tls.certificate);
	free(cfg->tls.key);
	free(cfg->tls.ticket_key_file);
	free(cfg->tls.s2s_ca_file);
	free(cfg->tls.s2s_crl_file);
	free(cfg);
}

const struct config_domain *
config_find_domain(const struct config *cfg, const char *name)
{
	const struct config_domain *d;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (d = cfg->domains; d != NULL; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

int
config_listener_serves(const struct config_listener *l, const char *domain)
{
	if (l == NULL || domain == NULL)
		return 0;
	for (size_t i = 0; i < l->ndomains; i++)
		if (strcasecmp(l->domains[i], domain) == 0)
			return 1;
	return 0;
}

const char *
config_kind_name(enum listener_kind kind)
{
	return enum_word(&enum_kind, (int)kind);
}

const char *
config_tls_mode_name(enum listener_tls mode)
{
	return enum_word(&enum_tls_mode, (int)mode);
}

const char *
config_cipher_name(enum tls_cipher c)
{
	if ((unsigned)c < CONFIG_MAX_CIPHERS)
		return cipher_names[c];
	return "unknown";
}

void
config_print_keys(FILE *out)
{
	const char *def;

	for (size_t i = 0; i < NKEYS; i++) {
		def = keys[i].def != NULL ? keys[i].def :
		    keys[i].example != NULL ? "required" : "-";
		fprintf(out, "%s\t%s\t%s\t%s\n", section_names[keys[i].section],
		    keys[i].name, def, keys[i].help);
	}
}
