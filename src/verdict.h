/*
 * verdict.h - how a session ends, and the rules that decide it.
 *
 * A verdict names the event and reason logged (one syslog line, see
 * xmppshield(8)), the stream error the client gets, and extra key=value
 * fields.  Every event and reason a verdict may carry is listed once, in
 * the table in verdict.c: the log priority of each event comes from it,
 * tests/test_docs.sh reads it to check that xmppshield(8) documents every
 * name, and verdict_set() refuses (assert) a pair it does not list.
 *
 * The decisions shared by the conversation before TLS (pretls) and the
 * relay after it live here too, so that a refusal is checked and logged
 * the same way on both sides: the client's stream header, and the errors
 * of the restricted-XML parser.
 *
 * Pure module.
 */
#ifndef XMPPSHIELD_VERDICT_H
#define XMPPSHIELD_VERDICT_H

#include <stddef.h>

#include "config.h"
#include "xmpp.h"

struct xmlstream;
struct xmlstream_header;

struct verdict {
	const char *event;	/* "policy-violation", "protocol-error", ... */
	const char *reason;	/* "starttls-injection", ... */
	enum xmpp_condition cond;
	const char *text;	/* fixed <text/> for the stream error, or NULL */
	char fields[256];	/* " key=value ..." or "" */
};

/*
 * Fill v; fields is a printf format for the extra fields (may be NULL),
 * whose values from peers are already escaped (log_escape()).  event and
 * reason must be string constants listed in verdict.c's table.
 */
void verdict_set(struct verdict *v, const char *event, const char *reason,
    enum xmpp_condition cond, const char *text, const char *fields, ...)
    __attribute__((format(printf, 6, 7)));

/* 1 if verdict.c's table lists the pair (event, reason), else 0. */
int verdict_known(const char *event, const char *reason);

/*
 * The table, one pair at a time: for i = 0, 1, ... fills *event and
 * *reason and returns 1, then 0 past the end.
 */
int verdict_name(size_t i, const char **event, const char **reason);

/*
 * The same for the ends of outgoing s2s connections (s2sout.c: events
 * s2s-out-failed and s2s-out-closed), which are not verdicts: their own
 * table, read by the metrics.
 */
int verdict_s2sout_name(size_t i, const char **event, const char **reason);

/* The syslog priority of the line v's event writes (LOG_WARNING...). */
int verdict_priority(const struct verdict *v);

/* The verdict for a stream that xmlstream refused (peer is the client). */
void verdict_from_xmlstream(struct verdict *v, const struct xmlstream *xs);

/*
 * The one check of a client's stream header h on listener l, before TLS
 * and after alike (RFC 6120 4.7, 4.8): the stream element and content
 * namespace (invalid-namespace, detail=stream-element or
 * content-namespace), version 1.0 (unsupported-version), and the domain.
 * domain: the one the session is already bound to (by the pre-TLS header
 * or the SNI), which 'to' must name again (else policy-violation
 * domain-changed, cf. Prosody CVE-2018-10847); NULL if this header
 * chooses it among l's domains (else protocol-error host-unknown).
 * Returns 0 with *served the domain's name (a string of cfg, or domain
 * itself), or -1 with v filled (to= is the escaped 'to', - if none).
 */
int verdict_check_header(struct verdict *v, const struct config *cfg,
    const struct config_listener *l, const struct xmlstream_header *h,
    const char *domain, const char **served);

#endif
