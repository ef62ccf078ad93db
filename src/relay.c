/*
 * relay.c - post-TLS stream filters; see relay.h.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"
#include "xmlstream.h"

/* The backend is ours, but its nesting is still bounded. */
#define BACKEND_MAX_DEPTH	256
#define BACKEND_MAX_ATTRIBUTES	1024
/* The backend relays other users' stanzas: a budget of names four times
   the client's (about 2000 new names in one stanza) before it fails the
   recipient's stream; docs/SECURITY.md counts it. */
#define BACKEND_MAX_NAMES	(256 * 1024)

/* What our own s2s stream header (xmpp_write_header()) binds, sorted as
   ns_decls() sorts: the backend's units must read the same under it. */
#define OUR_S2S_DECLS	"xmlns=" XMPP_NS_SERVER "\n" \
	"xmlns:db=" XMPP_NS_DIALBACK "\n" \
	"xmlns:stream=" XMPP_NS_STREAMS "\n"

#define SASL_SUCCESS	"<success xmlns='" XMPP_NS_SASL "'/>"
#define SASL_FAILURE(cond) "<failure xmlns='" XMPP_NS_SASL "'><" cond \
	"/></failure>"
#define EXTERNAL_MECHANISMS "<mechanisms xmlns='" XMPP_NS_SASL "'>" \
	"<mechanism>EXTERNAL</mechanism></mechanisms>"
#define EMPTY_FEATURES	"<stream:features/>"

/*
 * SASL EXTERNAL for servers (see relay.h), in the order it happens.
 */
enum relay_ext {
	RELAY_EXT_NONE,		/* not offered (not yet, or not at all) */
	RELAY_EXT_OFFERED,	/* in the backend's first features */
	RELAY_EXT_RESTART,	/* <success/> sent: the peer's new header
				   is expected; the backend has our
				   <db:result/> */
	RELAY_EXT_WAIT,		/* answered it: the peer's units are held
				   until the backend's answer */
	RELAY_EXT_DONE,		/* the backend said valid */
};

struct relay {
	const struct config *cfg;
	const struct config_listener *l;
	struct relay_callbacks cb;
	void *ctx;
	struct xmlstream *client;
	struct xmlstream *backend;
	char *domain;
	char id[64];
	int client_has_header;	/* the client got a header on this stream */
	int client_ended;	/* </stream:stream> seen from the client */
	int backend_ended;	/* ... and from the backend */
	int failed;
	int authenticated;	/* see relay_authenticated() */
	int held;		/* client input held: a SASL request waits
				   for the backend's answer (see below) */
	unsigned stripped;
	struct verdict *verdict;	/* made on the first failure */

	/* s2s SASL EXTERNAL (see enum relay_ext) */
	enum relay_ext ext;
	int ext_ok;		/* the peer's certificate covers peer */
	int backend_features;	/* the backend's first features went by */
	int backend_valid;	/* its answer came before the peer's
				   new header */
	char peer[256];		/* the peer's header 'from', lower-cased */
	char backend_id[128];	/* the backend header's id */
	char *peer_decls;	/* ns_decls() of the peer's first header */
	char *hold;		/* the peer's units, held (RELAY_EXT_WAIT) */
	size_t hold_len, hold_cap;
	char *stage;		/* backend units for the peer before our
				   new header (RELAY_EXT_RESTART) */
	size_t stage_len, stage_cap;
};

/*
 * Most sessions never fail: a verdict (mostly its fields text) is made
 * only when one is set.  Out of memory then, this one stands in; it is
 * read at once by the owner, in this single-threaded process.
 */
static struct verdict spare_verdict;

static struct verdict *
failure(struct relay *r)
{
	if (r->verdict == NULL &&
	    (r->verdict = calloc(1, sizeof(*r->verdict))) == NULL) {
		verdict_set(&spare_verdict, "internal-error", "out-of-memory",
		    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NULL);
		return &spare_verdict;
	}
	return r->verdict;
}

/*
 * The client's stanza bound: max_preauth_stanza_size until it has
 * authenticated (nothing it legitimately sends before is large, and an
 * unauthenticated peer should pin little memory: docs/SECURITY.md),
 * max_stanza_size after.  Held bytes count against it too.
 */
static size_t
client_limit(const struct relay *r)
{
	return r->authenticated ? r->cfg->limits.max_stanza_size :
	    r->cfg->limits.max_preauth_stanza_size;
}

/* The backend accepted the peer: the session's full bounds apply. */
static void
authenticate(struct relay *r)
{
	r->authenticated = 1;
	xmlstream_set_max_unit(r->client, client_limit(r));
}

/* ---- SASL EXTERNAL for servers ---- */

static int
append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	char *nb;
	size_t nc;

	if (*len + n > *cap) {
		nc = *cap ? *cap : 256;
		while (nc < *len + n)
			nc *= 2;
		if ((nb = realloc(*buf, nc)) == NULL)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* Keep a unit that waits (XMLSTREAM_CONTINUE); when it cannot be kept
   (buf NULL: over its bound; or out of memory) the stream fails. */
static int
keep_unit(struct relay *r, char **buf, size_t *len, size_t *cap,
    const struct xmlstream_unit *u)
{
	if (buf == NULL || append(buf, len, cap, u->data, u->len) == -1) {
		verdict_set(failure(r), "internal-error", "out-of-memory",
		    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NULL);
		return -1;
	}
	return XMLSTREAM_CONTINUE;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_DECLS	32

/* Does a ns_decls() list declare name ("xmlns:db=": one line begins so)? */
static int
has_decl(const char *decls, const char *name)
{
	size_t n = strlen(name);
	const char *p = decls;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0)
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/*
 * The root element's qualified name and its namespace declarations
 * (xmlns, xmlns:P: "name=value\n" each, sorted) of a stream header unit
 * (Expat found it well-formed): what the units after it are read with.
 * Values are compared raw: a declaration written with a character
 * reference differs, which only refuses.  NULL out of memory or when
 * there are more than MAX_DECLS.
 */
static char *
ns_decls(const char *p, size_t len, char *qname, size_t qlen)
{
	const char *e = p + len, *name, *val;
	char *decl[MAX_DECLS], *out = NULL;
	size_t nd = 0, nlen, vlen, total = 1, i;
	char q;

	qname[0] = '\0';
	/* Skip the XML declaration: the root is the first '<' not '<?'. */
	while (p < e && !(*p == '<' && p + 1 < e && p[1] != '?'))
		p++;
	if (p >= e)
		return NULL;
	for (name = ++p; p < e && *p != ' ' && *p != '\t' && *p != '\r' &&
	    *p != '\n' && *p != '>' && *p != '/'; p++)
		;
	snprintf(qname, qlen, "%.*s", (int)(p - name), name);
	for (;;) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p >= e || *p == '>' || *p == '/')
			break;
		for (name = p; p < e && *p != '=' && *p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '\n'; p++)
			;
		nlen = (size_t)(p - name);
		while (p < e && *p != '\'' && *p != '"')
			p++;
		if (p >= e)
			break;
		q = *p++;
		for (val = p; p < e && *p != q; p++)
			;
		vlen = (size_t)(p - val);
		p++;
		if (!((nlen == 5 && memcmp(name, "xmlns", 5) == 0) ||
		    (nlen > 6 && memcmp(name, "xmlns:", 6) == 0)))
			continue;
		if (nd == MAX_DECLS || (decl[nd] = malloc(nlen + vlen + 3)) ==
		    NULL)
			goto out;
		snprintf(decl[nd], nlen + vlen + 3, "%.*s=%.*s\n", (int)nlen,
		    name, (int)vlen, val);
		total += nlen + vlen + 2;
		nd++;
	}
	qsort(decl, nd, sizeof(decl[0]), cmp_str);
	if ((out = malloc(total)) == NULL)
		goto out;
	out[0] = '\0';
	for (i = 0; i < nd; i++)
		strcat(out, decl[i]);
out:
	for (i = 0; i < nd; i++)
		free(decl[i]);
	return out;
}

/* Standard base64 of n bytes at s into out (NUL-terminated); -1 if it is
   not base64 or does not fit. */
static int
base64_decode(const char *s, size_t n, char *out, size_t outlen)
{
	unsigned v = 0, bits = 0;
	size_t o = 0, i, pad = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];
		int d;

		if (c >= 'A' && c <= 'Z') d = c - 'A';
		else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
		else if (c >= '0' && c <= '9') d = c - '0' + 52;
		else if (c == '+') d = 62;
		else if (c == '/') d = 63;
		else if (c == '=') { pad++; continue; }
		else return -1;
		if (pad)
			return -1;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	if ((n - pad) % 4 == 1 || pad > 2)
		return -1;
	out[o] = '\0';
	return memchr(out, '\0', o) == NULL ? 0 : -1;
}

/* The backend's header: can its units be read under our own header? */
static void
backend_header_seen(struct relay *r, const struct xmlstream_unit *u)
{
	char qname[64], *decls;

	if (u->header->id != NULL)
		snprintf(r->backend_id, sizeof(r->backend_id), "%s",
		    u->header->id);
	decls = ns_decls(u->data, u->len, qname, sizeof(qname));
	/* Every declaration the backend made must be one of ours, with
	   the same value: ours may bind more. */
	if (decls == NULL || strcmp(qname, "stream:stream") != 0)
		r->ext_ok = 0;
	else
		for (char *d = decls, *nl; *d != '\0'; d = nl + 1) {
			nl = strchr(d, '\n');
			*nl = '\0';
			if (strstr(OUR_S2S_DECLS, d) == NULL ||
			    strstr(OUR_S2S_DECLS, d)[strlen(d)] != '\n')
				r->ext_ok = 0;
		}
	free(decls);
}

/* The backend's first features, with EXTERNAL added before their end
   tag (or in place of an empty element's "/>"). */
static int
offer_external(struct relay *r, const struct xmlstream_unit *u)
{
	const char *p = u->data;
	size_t n = u->len, lt, q;
	char qname[64];

	for (lt = n; lt > 0 && p[lt - 1] != '<'; lt--)
		;
	if (lt == 0 || n < 2)
		return -1;
	lt--;
	if (p[lt + 1] == '/') {		/* ...</stream:features> */
		r->cb.to_client(r->ctx, p, lt);
		r->cb.to_client(r->ctx, EXTERNAL_MECHANISMS,
		    strlen(EXTERNAL_MECHANISMS));
		r->cb.to_client(r->ctx, p + lt, n - lt);
		return 0;
	}
	/* <stream:features .../>: the only '<' is its own. */
	for (q = 1; q < n && p[q] != ' ' && p[q] != '\t' && p[q] != '\r' &&
	    p[q] != '\n' && p[q] != '/' && p[q] != '>'; q++)
		;
	if (q - 1 >= sizeof(qname) || p[n - 2] != '/')
		return -1;
	snprintf(qname, sizeof(qname), "%.*s", (int)(q - 1), p + 1);
	r->cb.to_client(r->ctx, p, n - 2);
	r->cb.to_client(r->ctx, ">" EXTERNAL_MECHANISMS "</",
	    strlen(">" EXTERNAL_MECHANISMS "</"));
	r->cb.to_client(r->ctx, qname, strlen(qname));
	r->cb.to_client(r->ctx, ">", 1);
	return 0;
}

static void
sasl_failure(struct relay *r, const char *answer, const char *reason)
{
	r->cb.to_client(r->ctx, answer, strlen(answer));
	r->cb.external_log(r->ctx, RELAY_EXTERNAL_FAILED, r->peer, reason);
}

/*
 * The peer's SASL element while EXTERNAL is offered: answered here.
 * Its identity is the stream header's 'from'; the authzid may be empty
 * ("=") or name that domain, nothing else.  <success/> sends the
 * backend our <db:result/> and restarts the peer's parser.
 */
static int
external_sasl(struct relay *r, const struct xmlstream_unit *u)
{
	char mech[32], authzid[256], key[128], buf[1024];
	const char *text;
	size_t tlen;
	int n;

	if (strcmp(u->name, "abort") == 0) {
		sasl_failure(r, SASL_FAILURE("aborted"), "aborted");
		return XMLSTREAM_CONTINUE;
	}
	if (strcmp(u->name, "auth") != 0) {
		sasl_failure(r, SASL_FAILURE("not-authorized"), "unexpected");
		return XMLSTREAM_CONTINUE;
	}
	if (!xmpp_start_tag_attr(u->data, u->len, "mechanism", mech,
	    sizeof(mech)) || strcmp(mech, "EXTERNAL") != 0) {
		sasl_failure(r, SASL_FAILURE("invalid-mechanism"),
		    "invalid-mechanism");
		return XMLSTREAM_CONTINUE;
	}
	xmpp_element_text(u->data, u->len, &text, &tlen);
	if (tlen == 0 || (tlen == 1 && text[0] == '='))
		authzid[0] = '\0';
	else if (base64_decode(text, tlen, authzid, sizeof(authzid)) == -1) {
		sasl_failure(r, SASL_FAILURE("incorrect-encoding"),
		    "incorrect-encoding");
		return XMLSTREAM_CONTINUE;
	}
	xmpp_lower(authzid);
	if (authzid[0] != '\0' && strcmp(authzid, r->peer) != 0) {
		/* Another domain than the stream's: what the certificate
		   covers is asked for the log only. */
		sasl_failure(r, SASL_FAILURE("not-authorized"),
		    r->cb.external_ok(r->ctx, r->domain, authzid) ?
		    "authzid-mismatch" : "not-covered");
		return XMLSTREAM_CONTINUE;
	}
	/* Asked again: the answer is now, whatever changed since the offer
	   (nothing should). */
	if (!r->cb.external_ok(r->ctx, r->domain, r->peer)) {
		sasl_failure(r, SASL_FAILURE("not-authorized"), "not-covered");
		return XMLSTREAM_CONTINUE;
	}
	if (r->backend_id[0] == '\0' || r->cb.make_key(r->ctx, r->domain,
	    r->peer, r->backend_id, key, sizeof(key)) == -1) {
		sasl_failure(r, SASL_FAILURE("temporary-auth-failure"),
		    "no-key");
		return XMLSTREAM_CONTINUE;
	}
	/* Both names are host names (external_ok() matched them against
	   the certificate and the configuration), the key hex: nothing to
	   escape. */
	n = snprintf(buf, sizeof(buf), "<db:result xmlns:db='"
	    XMPP_NS_DIALBACK "' from='%s' to='%s'>%s</db:result>", r->peer,
	    r->domain, key);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		sasl_failure(r, SASL_FAILURE("temporary-auth-failure"),
		    "no-key");
		return XMLSTREAM_CONTINUE;
	}
	r->cb.to_backend(r->ctx, buf, (size_t)n);
	r->cb.to_client(r->ctx, SASL_SUCCESS, strlen(SASL_SUCCESS));
	r->cb.external_log(r->ctx, RELAY_EXTERNAL_SUCCESS, r->peer, NULL);
	r->ext = RELAY_EXT_RESTART;
	r->client_has_header = 0;
	/*
	 * Invariant 7, per parser pair.  The peer restarts its stream
	 * right behind this <auth/> (RFC 6120 6.4.6: it sends its new
	 * header once it has our <success/>), and so does its parser here:
	 * XMLSTREAM_RESTART makes the next byte the start of a new
	 * document, exactly where the peer's new document begins.  The
	 * backend saw no <auth/> and no <success/>: its document (the
	 * peer's first header, then what we pass on) goes on unrestarted,
	 * and the peer's new header never reaches it, so the backend never
	 * parses a byte as belonging to another document than its own.
	 * Units read under the peer's new header go on to the backend,
	 * read there under the first: external_header() makes both bind
	 * the same names.  Our answer to the new header is written here,
	 * and the backend's units after it read the same under it (their
	 * names are ours: backend_header_seen()).
	 */
	return XMLSTREAM_RESTART;
}

/* The peer's header after <success/>: answered here, never passed on. */
static int
external_header(struct relay *r, const struct xmlstream_unit *u)
{
	char qname[64], from[256], buf[1024];
	char *decls = ns_decls(u->data, u->len, qname, sizeof(qname));
	size_t n;

	from[0] = '\0';
	if (u->header->from != NULL)
		snprintf(from, sizeof(from), "%s", u->header->from);
	xmpp_lower(from);
	if (decls == NULL || strcmp(decls, r->peer_decls) != 0 ||
	    strcmp(qname, "stream:stream") != 0 ||
	    (from[0] != '\0' && strcmp(from, r->peer) != 0)) {
		free(decls);
		verdict_set(failure(r), "policy-violation", "restart-mismatch",
		    XMPP_COND_INVALID_NAMESPACE, "The new stream header must "
		    "bind the same names and claim the same domain", NULL);
		return -1;
	}
	free(decls);
	n = xmpp_write_header(buf, sizeof(buf), LISTENER_S2S, r->domain,
	    r->id);
	r->cb.to_client(r->ctx, buf, n);
	r->cb.to_client(r->ctx, EMPTY_FEATURES, strlen(EMPTY_FEATURES));
	r->client_has_header = 1;
	if (r->stage_len > 0) {
		r->cb.to_client(r->ctx, r->stage, r->stage_len);
		free(r->stage);
		r->stage = NULL;
		r->stage_len = r->stage_cap = 0;
	}
	r->ext = RELAY_EXT_WAIT;
	return XMLSTREAM_CONTINUE;
}

/* The backend accepted the peer: what was held goes on, in order. */
static void
external_accepted(struct relay *r)
{
	r->ext = RELAY_EXT_DONE;
	authenticate(r);
	r->cb.external_log(r->ctx, RELAY_EXTERNAL_ACCEPTED, r->peer, NULL);
	if (r->hold_len > 0)
		r->cb.to_backend(r->ctx, r->hold, r->hold_len);
	free(r->hold);
	r->hold = NULL;
	r->hold_len = r->hold_cap = 0;
}

/*
 * The backend's answer to our <db:result/> (from OURS to PEER, with a
 * type), swallowed: the peer had its <success/> (and Prosody echoes the
 * key).  1 if it was that answer, -1 if it refused (the verdict is set).
 */
static int
external_answer(struct relay *r, const struct xmlstream_unit *u)
{
	char to[256], type[16];

	if (strcmp(u->ns, XMPP_NS_DIALBACK) != 0 ||
	    strcmp(u->name, "result") != 0 ||
	    !xmpp_start_tag_attr(u->data, u->len, "to", to, sizeof(to)) ||
	    !xmpp_start_tag_attr(u->data, u->len, "type", type, sizeof(type)))
		return 0;
	xmpp_lower(to);
	if (strcmp(to, r->peer) != 0)
		return 0;
	if (strcmp(type, "valid") != 0) {
		/* xmppshield vouched with a correct key: the backend's
		   verification did not reach the s2s-out hook (its
		   outgoing s2s is not routed through s2s-out), or it
		   refuses the domain itself.  Not the peer's certificate,
		   which we accepted: remote-connection-failed. */
		verdict_set(failure(r), "backend-error", "external-refused",
		    XMPP_COND_REMOTE_CONNECTION_FAILED, "The server behind "
		    "this one did not accept the authentication", " peer=%s "
		    "result=%s", r->peer, strcmp(type, "invalid") == 0 ?
		    "invalid" : "error");
		return -1;
	}
	if (r->ext == RELAY_EXT_RESTART)
		r->backend_valid = 1;
	else
		external_accepted(r);
	return 1;
}

/* The header check shared with pretls; the first one may fix the
   domain (direct TLS without a served SNI), once. */
static int
check_client_header(struct relay *r, const struct xmlstream_header *h)
{
	const char *served;

	if (verdict_check_header(failure(r), r->cfg, r->l, h, r->domain,
	    &served) == -1)
		return -1;
	if (r->domain == NULL && (r->domain = strdup(served)) == NULL) {
		verdict_set(failure(r), "internal-error", "out-of-memory",
		    XMPP_COND_RESOURCE_CONSTRAINT, NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * After TLS the client may not start TLS again or compression (neither
 * is ever offered): refused at the start tag, before the backend, which
 * might say <proceed/>, sees a byte of it.  Nor may it open a stream
 * inside its stream: a <stream:stream> element is never a stanza, and a
 * backend that has restarted would read it as its new header (see the
 * hold below).
 */
static int
client_element_start(void *ctx, const char *ns, const char *name)
{
	struct relay *r = ctx;
	char ens[160], ename[80];

	if (strcmp(ns, XMPP_NS_STREAMS) == 0 && strcmp(name, "stream") == 0) {
		verdict_set(failure(r), "policy-violation", "nested-stream",
		    XMPP_COND_POLICY_VIOLATION,
		    "A stream header inside the stream", NULL);
		return -1;
	}
	if ((strcmp(ns, XMPP_NS_TLS) == 0 && strcmp(name, "starttls") == 0) ||
	    (strcmp(ns, XMPP_NS_COMPRESS) == 0 && strcmp(name, "compress") == 0) ||
	    /* After SASL EXTERNAL answered here the peer is authenticated:
	       more SASL could only reach the backend, which never saw the
	       first and might restart a stream we would not. */
	    ((r->ext == RELAY_EXT_WAIT || r->ext == RELAY_EXT_DONE) &&
	    strcmp(ns, XMPP_NS_SASL) == 0)) {
		verdict_set(failure(r), "policy-violation", "post-tls-element",
		    XMPP_COND_POLICY_VIOLATION, "Not offered on this stream",
		    " element=%s ns=%s", log_escape(name, ename, sizeof(ename)),
		    log_escape(ns, ens, sizeof(ens)));
		return -1;
	}
	return 0;
}

/* s2s: every domain the peer claims goes to the owner's check. */
static int
check_claim(struct relay *r, const struct xmlstream_unit *u)
{
	char from[1024];

	if (r->l->kind != LISTENER_S2S || r->cb.peer_claim == NULL)
		return 0;
	if (u->kind == XMLSTREAM_UNIT_HEADER)
		return u->header->from == NULL ? 0 :
		    r->cb.peer_claim(r->ctx, u->header->from, 0, failure(r));
	if (u->kind == XMLSTREAM_UNIT_ELEMENT && strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
	    strcmp(u->name, "result") == 0) {
		/* A 'from' too long to be a domain is still a claim. */
		if (!xmpp_start_tag_attr(u->data, u->len, "from", from,
		    sizeof(from)))
			snprintf(from, sizeof(from), "%s", "-");
		return r->cb.peer_claim(r->ctx, from, 1, failure(r));
	}
	return 0;
}

/*
 * SASL (RFC 6120 6.4): a request whose answer may be <success/>, after
 * which the backend parses what follows as a new stream.  <abort/> is
 * answered with <failure/>.  SASL2 (XEP-0388) restarts no stream, so its
 * elements need no hold.
 */
static int
sasl_request(const struct xmlstream_unit *u)
{
	return strcmp(u->ns, XMPP_NS_SASL) == 0 &&
	    (strcmp(u->name, "auth") == 0 ||
	    strcmp(u->name, "response") == 0 ||
	    strcmp(u->name, "abort") == 0);
}

/* The backend's answer to a SASL request. */
static int
sasl_answer(const struct xmlstream_unit *u)
{
	return strcmp(u->ns, XMPP_NS_SASL) == 0 &&
	    (strcmp(u->name, "challenge") == 0 ||
	    strcmp(u->name, "success") == 0 ||
	    strcmp(u->name, "failure") == 0);
}

/*
 * The hold.  Whether the bytes behind a SASL request belong to this
 * stream or to a new one depends on the backend's answer, which has not
 * come yet: parsing them now could disagree with the backend, which, on
 * <success/>, reads them as its new stream header (CVE-2022-22784 and
 * CVE-2018-10847 class).  So the client's parser stops right after the
 * request (XMLSTREAM_STOP), what the client sends next waits unparsed in its
 * tail, bounded by client_limit() like any pending unit (the session
 * stops reading when relay_client_room() is 0), and the backend's answer
 * says how it is parsed: as a new stream after <success/>, header check
 * included, as the rest of this stream otherwise.
 */
static int
client_unit(void *ctx, const struct xmlstream_unit *u)
{
	struct relay *r = ctx;
	char qname[64];

	if (u->kind == XMLSTREAM_UNIT_HEADER &&
	    check_client_header(r, u->header))
		return -1;
	if (r->ext == RELAY_EXT_RESTART && u->kind == XMLSTREAM_UNIT_HEADER) {
		if (external_header(r, u) == -1)
			return -1;
		if (r->backend_valid)
			external_accepted(r);
		return XMLSTREAM_CONTINUE;
	}
	if (check_claim(r, u))
		return -1;
	if (u->kind == XMLSTREAM_UNIT_HEADER && r->cb.external_ok != NULL &&
	    r->l->kind == LISTENER_S2S && r->ext == RELAY_EXT_NONE &&
	    !r->backend_features && u->header->from != NULL &&
	    strlen(u->header->from) < sizeof(r->peer)) {
		snprintf(r->peer, sizeof(r->peer), "%s", u->header->from);
		xmpp_lower(r->peer);
		free(r->peer_decls);
		r->peer_decls = ns_decls(u->data, u->len, qname,
		    sizeof(qname));
		r->ext_ok = r->peer_decls != NULL &&
		    strcmp(qname, "stream:stream") == 0 &&
		    r->cb.external_ok(r->ctx, r->domain, r->peer);
	}
	if (r->ext == RELAY_EXT_OFFERED && !r->authenticated &&
	    u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_SASL) == 0)
		return external_sasl(r, u);
	if (r->ext == RELAY_EXT_WAIT && u->kind != XMLSTREAM_UNIT_END) {
		/* Held until the backend accepts the peer; bounded by
		   relay_client_room() as held SASL bytes are. */
		return keep_unit(r, &r->hold, &r->hold_len, &r->hold_cap, u);
	}
	if (u->kind == XMLSTREAM_UNIT_HEADER && r->ext_ok &&
	    u->len > 0 && u->data[u->len - 1] == '>' &&
	    !has_decl(r->peer_decls, "xmlns:db=")) {
		/*
		 * A peer without dialback of its own (certificates only)
		 * declares no xmlns:db, and ejabberd then refuses the
		 * <db:result/> we give it for the peer after EXTERNAL.  The
		 * backend reads the header with the declaration added.  Both
		 * still parse the same units: every unit passed on was
		 * well-formed to our parser, where db: is unbound, so none
		 * uses db: without declaring it itself.
		 */
		r->cb.to_backend(r->ctx, u->data, u->len - 1);
		r->cb.to_backend(r->ctx, " xmlns:db='" XMPP_NS_DIALBACK "'>",
		    strlen(" xmlns:db='" XMPP_NS_DIALBACK "'>"));
		return XMLSTREAM_CONTINUE;
	}
	r->cb.to_backend(r->ctx, u->data, u->len);
	if (u->kind == XMLSTREAM_UNIT_END) {
		r->client_ended = 1;
		return XMLSTREAM_STOP;
	}
	if (u->kind == XMLSTREAM_UNIT_ELEMENT && sasl_request(u)) {
		r->held = 1;
		return XMLSTREAM_STOP;
	}
	return XMLSTREAM_CONTINUE;
}

/* The client's parser failed: its verdict, unless a callback set one. */
static void
client_failed(struct relay *r)
{
	r->failed = 1;
	if (xmlstream_error(r->client) == XMLSTREAM_ERR_REJECTED &&
	    relay_verdict(r)->event != NULL)
		return;
	verdict_from_xmlstream(failure(r), r->client);
}

/* The backend answered: parse what was held, as a new stream or not. */
static int
release_held(struct relay *r, int new_stream)
{
	r->held = 0;
	if (xmlstream_resume(r->client, new_stream) == -1) {
		client_failed(r);
		return -1;
	}
	return 0;
}

/* Is this backend <db:result/> or <db:verify/> type='valid'? */
static int
dialback_valid(const char *p, size_t len)
{
	char type[8];

	return xmpp_start_tag_attr(p, len, "type", type, sizeof(type)) &&
	    strcmp(type, "valid") == 0;
}

static int
backend_unit(void *ctx, const struct xmlstream_unit *u)
{
	struct relay *r = ctx;
	int a;

	if ((r->ext == RELAY_EXT_RESTART || r->ext == RELAY_EXT_WAIT) &&
	    u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    (a = external_answer(r, u)) != 0)
		return a == -1 ? -1 : XMLSTREAM_CONTINUE;
	if (r->ext == RELAY_EXT_RESTART && u->kind != XMLSTREAM_UNIT_END) {
		/* The peer has our <success/> but not yet our new header:
		   the backend's units wait for it (a keepalive is dropped),
		   as few as an unauthenticated peer is sent: within the
		   pre-auth bound, like the peer's own held units. */
		if (u->kind == XMLSTREAM_UNIT_WHITESPACE)
			return XMLSTREAM_CONTINUE;
		if (r->stage_len + u->len >
		    r->cfg->limits.max_preauth_stanza_size)
			return keep_unit(r, NULL, NULL, NULL, u);
		return keep_unit(r, &r->stage, &r->stage_len, &r->stage_cap,
		    u);
	}
	if (r->ext == RELAY_EXT_RESTART && !r->client_has_header) {
		/* The backend ends its stream before the peer's new header:
		   the peer reads the end on a stream with our header. */
		char buf[1024];
		size_t n = xmpp_write_header(buf, sizeof(buf), LISTENER_S2S,
		    r->domain, r->id);

		r->cb.to_client(r->ctx, buf, n);
		r->client_has_header = 1;
	}
	if (r->ext == RELAY_EXT_NONE && r->ext_ok && !r->backend_features &&
	    u->kind == XMLSTREAM_UNIT_ELEMENT &&
	    strcmp(u->ns, XMPP_NS_STREAMS) == 0 &&
	    strcmp(u->name, "features") == 0 && offer_external(r, u) == 0) {
		r->backend_features = 1;
		r->ext = RELAY_EXT_OFFERED;
		r->stripped += u->stripped;
		return XMLSTREAM_CONTINUE;
	}
	r->cb.to_client(r->ctx, u->data, u->len);
	switch (u->kind) {
	case XMLSTREAM_UNIT_HEADER:
		r->client_has_header = 1;
		if (r->ext_ok)
			backend_header_seen(r, u);
		break;
	case XMLSTREAM_UNIT_ELEMENT:
		if (strcmp(u->ns, XMPP_NS_STREAMS) == 0 &&
		    strcmp(u->name, "features") == 0)
			r->backend_features = 1;
		r->stripped += u->stripped;
		/* RFC 6120 6.4.6: after SASL success both sides start new
		   streams; the client can only send its new header once it
		   has this <success/>, so its parser is reset now. */
		if (strcmp(u->ns, XMPP_NS_SASL) == 0 &&
		    strcmp(u->name, "success") == 0) {
			r->client_has_header = 0;
			/* Before the held bytes are parsed: they are the new
			   stream of an authenticated client. */
			authenticate(r);
			if (r->held) {
				/* What the client sent behind its request
				   begins its new stream, exactly where the
				   backend's does. */
				if (release_held(r, 1) == -1)
					return -1;
			} else
				xmlstream_reset(r->client);
			return XMLSTREAM_RESTART;
		}
		if (r->held && sasl_answer(u) && release_held(r, 0) == -1)
			return -1;
		/* XEP-0388: SASL2 success authenticates on the same stream
		   (no restart, no hold); what the client pipelined behind
		   its <authenticate/> was parsed under the pre-auth bound. */
		if (strcmp(u->ns, XMPP_NS_SASL2) == 0 &&
		    strcmp(u->name, "success") == 0)
			authenticate(r);
		/* XEP-0220: our backend accepted the peer's domain
		   (db:result), or answered the peer's verification request
		   (db:verify, a stream that only checks keys): for s2s
		   that is authentication. */
		if (strcmp(u->ns, XMPP_NS_DIALBACK) == 0 &&
		    (strcmp(u->name, "result") == 0 ||
		    strcmp(u->name, "verify") == 0) &&
		    dialback_valid(u->data, u->len))
			authenticate(r);
		break;
	case XMLSTREAM_UNIT_END:
		r->backend_ended = 1;
		return XMLSTREAM_STOP;
	case XMLSTREAM_UNIT_WHITESPACE:
		break;
	}
	return XMLSTREAM_CONTINUE;
}

void
relay_backend_limits(const struct config *cfg, struct xmlstream_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_unit = cfg->limits.max_backend_stanza_size;
	lim->max_depth = BACKEND_MAX_DEPTH;
	lim->max_attributes = BACKEND_MAX_ATTRIBUTES;
	lim->max_name = 0;	/* the backend is trusted to be sane */
	lim->max_names = BACKEND_MAX_NAMES;
}

struct relay *
relay_new(const struct config *cfg, const struct config_listener *l,
    const char *domain, const char *stream_id,
    const struct relay_callbacks *cb, void *ctx)
{
	static const struct xmlstream_callbacks client_cb = {
		.element_start = client_element_start,
		.unit = client_unit,
	};
	static const struct xmlstream_callbacks backend_cb = {
		.unit = backend_unit,
	};
	struct xmlstream_limits lim;
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->cfg = cfg;
	r->l = l;
	r->cb = *cb;
	r->ctx = ctx;
	snprintf(r->id, sizeof(r->id), "%s", stream_id);
	if (domain != NULL && (r->domain = strdup(domain)) == NULL)
		goto fail;

	memset(&lim, 0, sizeof(lim));
	lim.max_unit = client_limit(r);
	lim.max_depth = cfg->limits.max_depth;
	lim.max_attributes = cfg->limits.max_attributes;
	lim.max_name = cfg->limits.max_name_length;
	if ((r->client = xmlstream_new(&lim, &client_cb, r)) == NULL)
		goto fail;

	relay_backend_limits(cfg, &lim);
	if ((r->backend = xmlstream_new(&lim, &backend_cb, r)) == NULL)
		goto fail;
	if (xmlstream_strip(r->backend, XMPP_NS_STREAMS, "features",
	    XMPP_NS_TLS, "starttls") == -1 ||
	    xmlstream_strip(r->backend, XMPP_NS_STREAMS, "features",
	    XMPP_NS_COMPRESS_FEATURE, "compression") == -1)
		goto fail;
	/* SASL EXTERNAL (XEP-0178) is the only SASL of s2s, and the backend
	   cannot complete it: the peer's certificate ends here.  Without the
	   offer, the peer uses dialback, which the backend verifies itself. */
	if (l->kind == LISTENER_S2S && xmlstream_strip(r->backend,
	    XMPP_NS_STREAMS, "features", XMPP_NS_SASL, "mechanisms") == -1)
		goto fail;
	return r;
fail:
	relay_free(r);
	return NULL;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	xmlstream_free(r->client);
	xmlstream_free(r->backend);
	free(r->peer_decls);
	free(r->hold);
	free(r->stage);
	free(r->verdict);
	free(r->domain);
	free(r);
}

/* Run one direction; the END unit says the peer closed its stream. */
static enum relay_result
feed(struct relay *r, struct xmlstream *xs, const char *data, size_t len,
    int from_client)
{
	int ended;

	if (r->failed)
		return RELAY_ERROR;
	if (xmlstream_feed(xs, data, len) == -1) {
		if (from_client) {
			client_failed(r);
			return RELAY_ERROR;
		}
		r->failed = 1;
		if (xmlstream_error(xs) == XMLSTREAM_ERR_REJECTED &&
		    relay_verdict(r)->event != NULL)
			return RELAY_ERROR;
		verdict_set(failure(r), "backend-error", "bad-xml",
		    XMPP_COND_INTERNAL_SERVER_ERROR, NULL, " detail=%s",
		    xmlstream_strerror(xmlstream_error(xs)));
		return RELAY_ERROR;
	}
	if ((r->held && xmlstream_pending(r->client) > client_limit(r)) ||
	    (r->ext == RELAY_EXT_WAIT && r->hold_len +
	    xmlstream_pending(r->client) > client_limit(r))) {
		/* Held bytes count as a pending unit does (the session reads
		   no more than relay_client_room(), so only a caller that
		   ignores it gets here). */
		r->failed = 1;
		verdict_set(failure(r), "policy-violation",
		    "stanza-too-large", XMPP_COND_POLICY_VIOLATION,
		    "Stanza too large", " limit=%zu", client_limit(r));
		return RELAY_ERROR;
	}
	ended = from_client ? r->client_ended : r->backend_ended;
	return ended ? RELAY_STREAM_END : RELAY_OK;
}

enum relay_result
relay_from_client(struct relay *r, const char *data, size_t len)
{
	return feed(r, r->client, data, len, 1);
}

enum relay_result
relay_from_backend(struct relay *r, const char *data, size_t len)
{
	return feed(r, r->backend, data, len, 0);
}

void
relay_fail(struct relay *r, const struct verdict *v)
{
	char buf[1024];
	size_t n;

	if (!r->client_has_header) {
		n = xmpp_write_header(buf, sizeof(buf), r->l->kind, r->domain,
		    r->id);
		r->cb.to_client(r->ctx, buf, n);
		r->client_has_header = 1;
	}
	if (v->cond == XMPP_COND_NONE)
		r->cb.to_client(r->ctx, XMPP_STREAM_END,
		    strlen(XMPP_STREAM_END));
	else {
		n = xmpp_write_stream_error(buf, sizeof(buf), v->cond, v->text);
		r->cb.to_client(r->ctx, buf, n);
	}
}

const struct verdict *
relay_verdict(const struct relay *r)
{
	static const struct verdict none;

	if (r->verdict != NULL)
		return r->verdict;
	/* A failure without memory for its verdict; else nothing failed. */
	return r->failed ? &spare_verdict : &none;
}

size_t
relay_client_room(const struct relay *r)
{
	size_t max = client_limit(r);
	size_t held;

	if (r->ext == RELAY_EXT_WAIT) {
		/* After SASL EXTERNAL: units held, plus the one pending. */
		held = r->hold_len + xmlstream_pending(r->client);
		return held < max ? max - held : 0;
	}
	if (!r->held)
		return SIZE_MAX;
	held = xmlstream_pending(r->client);
	return held < max ? max - held : 0;
}

int
relay_client_ended(const struct relay *r)
{
	return r->client_ended;
}

int
relay_authenticated(const struct relay *r)
{
	return r->authenticated;
}

const char *
relay_domain(const struct relay *r)
{
	return r->domain;
}

unsigned
relay_stripped(const struct relay *r)
{
	return r->stripped;
}
