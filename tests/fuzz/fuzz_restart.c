/*
 * fuzz_restart.c - differential: the client-side relay against a model
 * of the backend's stream restarts (issue 10, defect 2).
 *
 * Input: 4 bytes that seed the splits and the answers, then the client's
 * bytes after TLS.  The client's bytes go to the relay in random pieces;
 * what the relay passes on is read by the model, an Expat parser of its
 * own that behaves as Prosody and ejabberd do: each SASL <auth/>,
 * <response/> or <abort/> it reads gets an answer (<challenge/>,
 * <failure/> or <success/>, chosen by the seed), and after <success/> it
 * parses what follows the request as a new stream.
 *
 * Properties:
 * - nothing is passed on behind a request before its answer (the bytes
 *   there may belong to either stream);
 * - at every <success/>, the relay restarts its client parser at the very
 *   byte where the model restarts: the end of the answered request;
 * - the relay holds client input only behind a request the model read;
 * - the model never finds the forwarded bytes ill-formed.
 */
#include "autoconf.h"
#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "relay.h"

#define SASL_NS	"urn:ietf:params:xml:ns:xmpp-sasl"
#define BHDR	"<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
	"xmlns:stream='http://etherx.jabber.org/streams' from='example.org' " \
	"id='b1' version='1.0'>"
#define FEATURES "<stream:features><mechanisms xmlns='" SASL_NS "'>" \
	"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"

/* Everything the backend received, and the model's view of it. */
struct model {
	char *all;
	size_t len, cap;
	size_t stream_start;	/* where the current stream began */
	unsigned answered;	/* requests answered in this stream */
	/* From the last scan: */
	int pending;		/* a request waits for its answer */
	size_t request_end;	/* offset just after it */
	int ill_formed;
	/* During a scan: */
	XML_Parser p;
	unsigned depth, seen;
};

static void
to_backend(void *ctx, const char *d, size_t n)
{
	struct model *m = ctx;

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		if ((m->all = realloc(m->all, m->cap)) == NULL)
			abort();
	}
	memcpy(m->all + m->len, d, n);
	m->len += n;
}

static void
to_client(void *ctx, const char *d, size_t n)
{
	(void)ctx;
	(void)d;
	(void)n;
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct model *m = ud;

	(void)name;
	(void)atts;
	m->depth++;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct model *m = ud;

	if (--m->depth != 1)
		return;
	if (strcmp(name, SASL_NS " auth") != 0 &&
	    strcmp(name, SASL_NS " response") != 0 &&
	    strcmp(name, SASL_NS " abort") != 0)
		return;
	if (m->seen++ < m->answered)
		return;
	/* The first request not answered yet: the backend reads no
	   further before it has answered. */
	m->pending = 1;
	m->request_end = m->stream_start +
	    (size_t)XML_GetCurrentByteIndex(m->p) +
	    (size_t)XML_GetCurrentByteCount(m->p);
	XML_StopParser(m->p, XML_FALSE);
}

/* Parse the current stream again from its start (inputs are small). */
static void
model_scan(struct model *m)
{
	enum XML_Status st;

	m->pending = 0;
	m->depth = m->seen = 0;
	if ((m->p = XML_ParserCreateNS("UTF-8", ' ')) == NULL)
		abort();
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	XML_SetReparseDeferralEnabled(m->p, XML_FALSE);
#endif
	XML_SetUserData(m->p, m);
	XML_SetElementHandler(m->p, on_start, on_end);
	st = XML_Parse(m->p, m->all + m->stream_start,
	    (int)(m->len - m->stream_start), XML_FALSE);
	if (st == XML_STATUS_ERROR && !m->pending)
		m->ill_formed = 1;
	XML_ParserFree(m->p);
	m->p = NULL;
}

static uint32_t
next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * Check the properties; while the model has a request waiting, answer it
 * now or (unless force) leave it for later, as a slow backend would.
 * Returns the relay's result of the last answer.
 */
static enum relay_result
answer(struct relay *r, struct model *m, uint32_t *rng, int force)
{
	static const char *const answers[] = {
		"<challenge xmlns='" SASL_NS "'>Yw==</challenge>",
		"<failure xmlns='" SASL_NS "'><not-authorized/></failure>",
		"<success xmlns='" SASL_NS "'/>" BHDR FEATURES,
	};
	enum relay_result res = RELAY_OK;
	unsigned a;

	for (;;) {
		model_scan(m);
		if (m->ill_formed)
			abort();	/* forwarded bytes the backend refuses */
		if (!m->pending) {
			/* The relay holds only behind a request. */
			if (relay_client_room(r) != SIZE_MAX)
				abort();
			return res;
		}
		/* Nothing passed on behind a waiting request: on <success/>
		   the relay's new stream starts exactly at the byte where
		   the backend's does. */
		if (m->len != m->request_end)
			abort();
		if (!force && next(rng) % 8 != 0)
			return res;	/* the answer comes later */
		a = next(rng) % 3;
		res = relay_from_backend(r, answers[a], strlen(answers[a]));
		if (a == 2) {
			m->stream_start = m->request_end;
			m->answered = 0;
		} else
			m->answered++;
		if (res != RELAY_OK)
			return res;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct relay_callbacks cb = {
		.to_backend = to_backend, .to_client = to_client };
	struct config *cfg = fuzz_config();
	struct model m;
	struct relay *r;
	enum relay_result res;
	uint32_t rng;
	size_t off, n, room;

	if (size < 4)
		return 0;
	rng = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	    (uint32_t)data[2] << 8 | data[3];
	rng |= 1;	/* xorshift needs a non-zero state */
	data += 4;
	size -= 4;
	memset(&m, 0, sizeof(m));
	if ((r = relay_new(cfg, cfg->listeners, "example.org", "id", &cb,
	    &m)) == NULL)
		abort();
	res = relay_from_backend(r, BHDR FEATURES, strlen(BHDR FEATURES));
	for (off = 0; off < size && res == RELAY_OK; off += n) {
		n = next(&rng) % 4 == 0 ? 1 + next(&rng) % 512 :
		    1 + next(&rng) % 8;
		if (n > size - off)
			n = size - off;
		/* As the session does: no more than the relay takes; none
		   at all until the backend has answered. */
		room = relay_client_room(r);
		if (room == 0) {
			res = answer(r, &m, &rng, 1);
			n = 0;
			continue;
		}
		if (n > room)
			n = room;
		res = relay_from_client(r, (const char *)data + off, n);
		if (res == RELAY_OK)
			res = answer(r, &m, &rng, 0);
	}
	if (res == RELAY_OK)
		answer(r, &m, &rng, 1);
	relay_free(r);
	free(m.all);
	return 0;
}
