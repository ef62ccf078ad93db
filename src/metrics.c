/*
 * metrics.c - counters shared by every process; see metrics.h.
 */
#include "autoconf.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "admission.h"
#include "metrics.h"
#include "s2speer.h"
#include "verdict.h"

#define LABELS_MAX	160	/* one rendered label set, escaped */
#define SPIN_MAX	10000	/* yields while another process names a set */

/* Label families: counters by listener and one label set. */
enum family {
	FAM_SESSION_END,	/* event, reason */
	FAM_HANDSHAKE,		/* version, cipher, group, resumed */
	FAM_HANDSHAKE_FAIL,	/* reason */
	FAM_REFUSED,		/* reason */
	FAM_BACKEND_FAIL,	/* reason */
	FAM_S2S_UNVERIFIED,	/* reason */
	FAM_COUNT
};

/* Label sets a family can hold; past that, its "other" set (index 0). */
#define CAP_SESSION_END		128
#define CAP_HANDSHAKE		48
#define CAP_HANDSHAKE_FAIL	24
#define CAP_REFUSED		8
#define CAP_BACKEND_FAIL	8
#define CAP_S2S_UNVERIFIED	24
#define CAP_TOTAL	(CAP_SESSION_END + CAP_HANDSHAKE + \
	CAP_HANDSHAKE_FAIL + CAP_REFUSED + CAP_BACKEND_FAIL + \
	CAP_S2S_UNVERIFIED)

static const struct family_def {
	unsigned cap, base;	/* base: first index in a slot's keyed[] */
	const char *other;	/* the "other" label set */
	const char *name, *help;
} families[FAM_COUNT] = {
	[FAM_SESSION_END] = { CAP_SESSION_END, 0,
	    "event=\"other\",reason=\"other\"",
	    "xmppshield_sessions_ended_total",
	    "Sessions ended, by the event= and reason= of their log line." },
	[FAM_HANDSHAKE] = { CAP_HANDSHAKE, CAP_SESSION_END,
	    "version=\"other\",cipher=\"other\",group=\"other\","
	    "resumed=\"other\"",
	    "xmppshield_tls_handshakes_total",
	    "TLS handshakes completed, by version, cipher suite, key "
	    "exchange group and resumption." },
	[FAM_HANDSHAKE_FAIL] = { CAP_HANDSHAKE_FAIL,
	    CAP_SESSION_END + CAP_HANDSHAKE, "reason=\"other\"",
	    "xmppshield_tls_handshake_failures_total",
	    "TLS handshakes that failed, by reason (as in event=tls-failed)." },
	[FAM_REFUSED] = { CAP_REFUSED,
	    CAP_SESSION_END + CAP_HANDSHAKE + CAP_HANDSHAKE_FAIL,
	    "reason=\"other\"",
	    "xmppshield_connections_refused_total",
	    "Connections refused at accept by a connection cap, by reason." },
	[FAM_BACKEND_FAIL] = { CAP_BACKEND_FAIL,
	    CAP_SESSION_END + CAP_HANDSHAKE + CAP_HANDSHAKE_FAIL + CAP_REFUSED,
	    "reason=\"other\"",
	    "xmppshield_backend_connect_failures_total",
	    "Backend connections that could not be made, by reason." },
	[FAM_S2S_UNVERIFIED] = { CAP_S2S_UNVERIFIED,
	    CAP_SESSION_END + CAP_HANDSHAKE + CAP_HANDSHAKE_FAIL +
	    CAP_REFUSED + CAP_BACKEND_FAIL, "reason=\"other\"",
	    "xmppshield_s2s_peers_unverified_total",
	    "Server certificates that did not verify for the domain claimed "
	    "(s2s) or asked for (s2s-out), by reason." },
};

/* Counters by listener alone. */
enum counter {
	CNT_ACCEPTED,
	CNT_BYTES_IN,
	CNT_BYTES_OUT,
	CNT_S2S_VERIFIED,
	CNT_SASL_EXTERNAL,		/* s2s streams authenticated by SASL
					   EXTERNAL, in or out */
	CNT_SASL_EXTERNAL_FAILED,	/* ... refused (<failure/>) */
	CNT_COUNT
};

struct label {
	uint32_t ready;		/* 0 while its process writes text */
	char text[LABELS_MAX];
};

struct slot {
	int64_t open[METRICS_MAX_LISTENERS];	/* gauge */
	uint64_t counter[METRICS_MAX_LISTENERS][CNT_COUNT];
	uint64_t keyed[METRICS_MAX_LISTENERS][CAP_TOTAL];
	uint64_t reloads_ok, reloads_failed, restarts;
};

struct cert {
	char domain[256];	/* escaped */
	int64_t not_before, not_after;
};

struct store {
	unsigned nslots;	/* master, workers, retired */
	unsigned nworkers;
	int64_t start_time;
	uint32_t nlisteners;
	struct label listeners[METRICS_MAX_LISTENERS];
	uint32_t nkeys[FAM_COUNT];
	struct label keys[CAP_TOTAL];
	unsigned ncerts;	/* the master's own: no other writer */
	struct cert certs[METRICS_MAX_DOMAINS];
	struct slot slots[];
};

static struct store *store;
static struct slot *mine;

#define RETIRED(st)	(&(st)->slots[(st)->nslots - 1])

/* The one writer of a slot adds with plain loads and stores; the
   relaxed atomics only keep readers from seeing a torn value. */
static void preregister(void);

static inline void
add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
	    __ATOMIC_RELAXED);
}

static inline uint64_t
get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

int
metrics_init(unsigned nworkers)
{
	size_t nslots, size;
	unsigned f;
	void *p;

	if (store != NULL)
		return 0;
	if (nworkers < 1)
		nworkers = 1;
	nslots = 1 + (nworkers > 1 ? nworkers : 0) + 1;
	size = sizeof(struct store) + nslots * sizeof(struct slot);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	store = p;
	store->nslots = (unsigned)nslots;
	store->nworkers = nworkers;
	store->start_time = (int64_t)time(NULL);
	/* Index 0 of each table is "other". */
	strcpy(store->listeners[0].text, "other");
	store->listeners[0].ready = 1;
	store->nlisteners = 1;
	for (f = 0; f < FAM_COUNT; f++) {
		strcpy(store->keys[families[f].base].text, families[f].other);
		store->keys[families[f].base].ready = 1;
		store->nkeys[f] = 1;
	}
	mine = &store->slots[0];
	preregister();
	return 0;
}

int
metrics_enabled(void)
{
	return store != NULL;
}

void
metrics_set_worker(unsigned i)
{
	if (store == NULL)
		return;
	/* With one worker there is no master: slot 0 is the worker's. */
	if (store->nworkers > 1 && i < store->nworkers)
		mine = &store->slots[1 + i];
}

void
metrics_worker_replaced(unsigned i)
{
	struct slot *s, *r;
	size_t l, k;

	if (store == NULL || store->nworkers < 2 || i >= store->nworkers)
		return;
	s = &store->slots[1 + i];
	r = RETIRED(store);
	for (l = 0; l < METRICS_MAX_LISTENERS; l++) {
		for (k = 0; k < CNT_COUNT; k++)
			add(&r->counter[l][k], get(&s->counter[l][k]));
		for (k = 0; k < CAP_TOTAL; k++)
			add(&r->keyed[l][k], get(&s->keyed[l][k]));
	}
	memset(s, 0, sizeof(*s));
	add(&mine->restarts, 1);
}

int
metrics_escape(const char *value, char *buf, size_t len)
{
	size_t o = 0;
	const unsigned char *c;

	if (len == 0)
		return -1;
	for (c = (const unsigned char *)value; *c != '\0'; c++) {
		char e = 0, ch = (char)*c;

		if (*c == '\\' || *c == '"')
			e = ch;
		else if (*c == '\n')
			e = 'n';
		else if (*c < 0x20 || *c >= 0x7f)
			ch = '?';
		if (o + (e ? 2 : 1) >= len) {
			buf[0] = '\0';
			return -1;
		}
		if (e) {
			buf[o++] = '\\';
			buf[o++] = e;
		} else
			buf[o++] = ch;
	}
	buf[o] = '\0';
	return 0;
}

/*
 * Index of text in a shared table of cap entries (count *countp),
 * claiming a new entry if it is not there; 0 ("other") if full.
 */
static unsigned
intern(uint32_t *countp, struct label *tab, unsigned cap, const char *text)
{
	uint32_t n, i;
	int spin;

	for (;;) {
		n = __atomic_load_n(countp, __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++) {
			/* Another process is writing this entry. */
			for (spin = 0; !__atomic_load_n(&tab[i].ready,
			    __ATOMIC_ACQUIRE) && spin < SPIN_MAX; spin++)
				sched_yield();
			if (tab[i].ready && strcmp(tab[i].text, text) == 0)
				return i;
		}
		if (n >= cap)
			return 0;
		if (__atomic_compare_exchange_n(countp, &n, n + 1, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			snprintf(tab[n].text, sizeof(tab[n].text), "%s", text);
			__atomic_store_n(&tab[n].ready, 1, __ATOMIC_RELEASE);
			return n;
		}
	}
}

static void render(char *text, size_t len, const char *const *names,
    const char *const *values, size_t n);

/*
 * The label sets known in advance are reported (at 0) from the start, so
 * that rate() and increase() see their first event: every pair of
 * verdict.c's tables (sessions, and outgoing s2s connections), the
 * handshake failures among them, the admission refusals, the backend
 * connect failures, the reasons a server's certificate is unverified.
 */
static void
preregister(void)
{
	static const char *const er[] = { "event", "reason" };
	static const char *const r[] = { "reason" };
	static const enum admission_result refusals[] = {
		ADMIT_MAX_CONNECTIONS, ADMIT_PER_IP, ADMIT_RATE,
		ADMIT_PER_BALANCER,
	};
	const char *ev, *why, *values[2];
	char text[LABELS_MAX];
	size_t i;

#define KEEP(f, text)	(void)intern(&store->nkeys[f], \
	store->keys + families[f].base, families[f].cap, text)
	for (i = 0; verdict_s2sout_name(i, &ev, &why); i++) {
		values[0] = ev;
		values[1] = why;
		render(text, sizeof(text), er, values, 2);
		KEEP(FAM_SESSION_END, text);
	}
	for (i = 0; (why = s2speer_reason_name(i)) != NULL; i++) {
		render(text, sizeof(text), r, &why, 1);
		KEEP(FAM_S2S_UNVERIFIED, text);
	}
	for (i = 0; verdict_name(i, &ev, &why); i++) {
		values[0] = ev;
		values[1] = why;
		render(text, sizeof(text), er, values, 2);
		KEEP(FAM_SESSION_END, text);
		render(text, sizeof(text), r, &why, 1);
		if (strcmp(ev, "tls-failed") == 0 ||
		    strcmp(why, "sni-mismatch") == 0)
			KEEP(FAM_HANDSHAKE_FAIL, text);
		if (strcmp(ev, "backend-error") == 0 &&
		    strncmp(why, "connect-", 8) == 0)
			KEEP(FAM_BACKEND_FAIL, text);
	}
	why = "timeout";
	render(text, sizeof(text), r, &why, 1);
	KEEP(FAM_HANDSHAKE_FAIL, text);
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		why = admission_reason(refusals[i]);
		render(text, sizeof(text), r, &why, 1);
		KEEP(FAM_REFUSED, text);
	}
#undef KEEP
}

static unsigned
listener_index(const char *name)
{
	char esc[LABELS_MAX];

	if (name == NULL || metrics_escape(name, esc, sizeof(esc)) == -1)
		return 0;
	return intern(&store->nlisteners, store->listeners,
	    METRICS_MAX_LISTENERS, esc);
}

void
metrics_listener(const char *listener)
{
	if (store != NULL)
		(void)listener_index(listener);
}

/*
 * Count one in family f for listener, under the label set made of
 * names[i]="values[i]".
 */
/* names[i]="values[i]",... into text; "" if it does not fit. */
static void
render(char *text, size_t len, const char *const *names,
    const char *const *values, size_t n)
{
	char esc[LABELS_MAX];
	size_t i, o = 0;
	int w;

	text[0] = '\0';
	for (i = 0; i < n; i++) {
		if (metrics_escape(values[i] ? values[i] : "unknown", esc,
		    sizeof(esc)) == -1) {
			text[0] = '\0';
			return;
		}
		w = snprintf(text + o, len - o, "%s%s=\"%s\"", i ? "," : "",
		    names[i], esc);
		if (w < 0 || (size_t)w >= len - o) {
			text[0] = '\0';
			return;
		}
		o += (size_t)w;
	}
}

static void
count_keyed(enum family f, const char *listener, const char *const *names,
    const char *const *values, size_t n, uint64_t by)
{
	const struct family_def *fd = &families[f];
	char text[LABELS_MAX];
	unsigned k = 0;

	render(text, sizeof(text), names, values, n);
	if (text[0] != '\0')
		k = intern(&store->nkeys[f], store->keys + fd->base, fd->cap,
		    text);
	add(&mine->keyed[listener_index(listener)][fd->base + k], by);
}

void
metrics_accepted(const char *listener)
{
	unsigned l;

	if (store == NULL)
		return;
	l = listener_index(listener);
	add(&mine->counter[l][CNT_ACCEPTED], 1);
	__atomic_store_n(&mine->open[l], __atomic_load_n(&mine->open[l],
	    __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* One more in family f, labelled reason="REASON". */
static void
count_reason(enum family f, const char *listener, const char *reason)
{
	static const char *const names[] = { "reason" };

	if (store != NULL)
		count_keyed(f, listener, names, &reason, 1, 1);
}

void
metrics_refused(const char *listener, const char *reason)
{
	count_reason(FAM_REFUSED, listener, reason);
}

void
metrics_session_ended(const char *listener, const char *event,
    const char *reason, unsigned long long bytes_in,
    unsigned long long bytes_out)
{
	static const char *const names[] = { "event", "reason" };
	const char *values[] = { event, reason };
	unsigned l;

	if (store == NULL)
		return;
	l = listener_index(listener);
	count_keyed(FAM_SESSION_END, listener, names, values, 2, 1);
	add(&mine->counter[l][CNT_BYTES_IN], bytes_in);
	add(&mine->counter[l][CNT_BYTES_OUT], bytes_out);
	__atomic_store_n(&mine->open[l], __atomic_load_n(&mine->open[l],
	    __ATOMIC_RELAXED) - 1, __ATOMIC_RELAXED);
}

void
metrics_handshake(const char *listener, const char *version,
    const char *cipher, const char *group, int resumed)
{
	static const char *const names[] = {
		"version", "cipher", "group", "resumed"
	};
	const char *values[] = {
		version, cipher, group, resumed ? "yes" : "no"
	};

	if (store != NULL)
		count_keyed(FAM_HANDSHAKE, listener, names, values, 4, 1);
}

void
metrics_handshake_failed(const char *listener, const char *reason)
{
	count_reason(FAM_HANDSHAKE_FAIL, listener, reason);
}

void
metrics_backend_failed(const char *listener, const char *reason)
{
	count_reason(FAM_BACKEND_FAIL, listener, reason);
}

void
metrics_s2s_peer(const char *listener, const char *unverified)
{
	if (store == NULL)
		return;
	if (unverified == NULL)
		add(&mine->counter[listener_index(listener)][CNT_S2S_VERIFIED],
		    1);
	else
		count_reason(FAM_S2S_UNVERIFIED, listener, unverified);
}

void
metrics_sasl_external(const char *listener, int accepted)
{
	if (store != NULL)
		add(&mine->counter[listener_index(listener)][accepted ?
		    CNT_SASL_EXTERNAL : CNT_SASL_EXTERNAL_FAILED], 1);
}

void
metrics_reload(int ok)
{
	if (store != NULL)
		add(ok ? &mine->reloads_ok : &mine->reloads_failed, 1);
}

void
metrics_certificates_begin(void)
{
	if (store != NULL)
		store->ncerts = 0;
}

void
metrics_certificate(const char *domain, time_t not_before, time_t not_after)
{
	struct cert *c;

	if (store == NULL || store->ncerts >= METRICS_MAX_DOMAINS)
		return;
	c = &store->certs[store->ncerts];
	if (metrics_escape(domain, c->domain, sizeof(c->domain)) == -1)
		return;
	c->not_before = (int64_t)not_before;
	c->not_after = (int64_t)not_after;
	store->ncerts++;
}

/* --- exposition ------------------------------------------------------ */

struct writer {
	metrics_out out;
	void *arg;
};

static void __attribute__((format(printf, 2, 3)))
emit(struct writer *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;	/* labels are bounded: never */
	w->out(w->arg, buf, (size_t)n);
}

static void
head(struct writer *w, const char *name, const char *type, const char *help)
{
	emit(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t
sum_counter(unsigned l, enum counter c)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < store->nslots; i++)
		v += get(&store->slots[i].counter[l][c]);
	return v;
}

static uint64_t
sum_keyed(unsigned l, unsigned k)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < store->nslots; i++)
		v += get(&store->slots[i].keyed[l][k]);
	return v;
}

static unsigned
claimed(uint32_t *countp, unsigned cap)
{
	unsigned n = __atomic_load_n(countp, __ATOMIC_ACQUIRE);

	return n > cap ? cap : n;
}

/* "other" is reported only once something was counted under it. */
static int
listener_used(unsigned l)
{
	unsigned i, k;

	if (l != 0)
		return 1;
	for (i = 0; i < store->nslots; i++) {
		if (__atomic_load_n(&store->slots[i].open[0],
		    __ATOMIC_RELAXED) != 0)
			return 1;
		for (k = 0; k < CNT_COUNT; k++)
			if (get(&store->slots[i].counter[0][k]) != 0)
				return 1;
		for (k = 0; k < CAP_TOTAL; k++)
			if (get(&store->slots[i].keyed[0][k]) != 0)
				return 1;
	}
	return 0;
}

static void
write_counter(struct writer *w, unsigned nl, enum counter c,
    const char *name, const char *help)
{
	unsigned l;

	head(w, name, "counter", help);
	for (l = 0; l < nl; l++)
		if (store->listeners[l].ready && listener_used(l))
			emit(w, "%s{listener=\"%s\"} %llu\n", name,
			    store->listeners[l].text,
			    (unsigned long long)sum_counter(l, c));
}

static void
write_family(struct writer *w, unsigned nl, enum family f)
{
	const struct family_def *fd = &families[f];
	unsigned l, k, nk;
	uint64_t v;

	nk = claimed(&store->nkeys[f], fd->cap);
	head(w, fd->name, "counter", fd->help);
	for (l = 0; l < nl; l++) {
		if (!store->listeners[l].ready || !listener_used(l))
			continue;
		for (k = 0; k < nk; k++) {
			const struct label *lb = &store->keys[fd->base + k];

			if (!__atomic_load_n(&lb->ready, __ATOMIC_ACQUIRE))
				continue;
			v = sum_keyed(l, fd->base + k);
			/* "other" only once used */
			if (k == 0 && v == 0)
				continue;
			emit(w, "%s{listener=\"%s\",%s} %llu\n", fd->name,
			    store->listeners[l].text, lb->text,
			    (unsigned long long)v);
		}
	}
}

int
metrics_write(metrics_out out, void *arg)
{
	struct writer w = { out, arg };
	uint64_t ok = 0, failed = 0, restarts = 0;
	unsigned i, l, nl;
	int64_t open;

	if (store == NULL)
		return -1;
	nl = claimed(&store->nlisteners, METRICS_MAX_LISTENERS);

	head(&w, "xmppshield_build_info", "gauge",
	    "Always 1; the version running.");
	emit(&w, "xmppshield_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	head(&w, "xmppshield_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the Unix epoch.");
	emit(&w, "xmppshield_start_time_seconds %lld\n",
	    (long long)store->start_time);
	head(&w, "xmppshield_workers", "gauge",
	    "Worker processes configured.");
	emit(&w, "xmppshield_workers %u\n", store->nworkers);

	write_counter(&w, nl, CNT_ACCEPTED,
	    "xmppshield_connections_accepted_total",
	    "Client connections accepted (past the connection caps).");
	head(&w, "xmppshield_connections_open", "gauge",
	    "Client connections open now.");
	for (l = 0; l < nl; l++) {
		if (!store->listeners[l].ready || !listener_used(l))
			continue;
		for (open = 0, i = 0; i < store->nslots; i++)
			open += __atomic_load_n(&store->slots[i].open[l],
			    __ATOMIC_RELAXED);
		emit(&w, "xmppshield_connections_open{listener=\"%s\"} %lld\n",
		    store->listeners[l].text, (long long)(open < 0 ? 0 : open));
	}
	write_family(&w, nl, FAM_REFUSED);
	write_family(&w, nl, FAM_SESSION_END);
	write_family(&w, nl, FAM_HANDSHAKE);
	write_family(&w, nl, FAM_HANDSHAKE_FAIL);
	write_family(&w, nl, FAM_BACKEND_FAIL);
	write_counter(&w, nl, CNT_S2S_VERIFIED,
	    "xmppshield_s2s_peers_verified_total",
	    "Server certificates verified for the domain claimed (s2s, per "
	    "domain) or asked for (s2s-out, per handshake).");
	write_family(&w, nl, FAM_S2S_UNVERIFIED);
	write_counter(&w, nl, CNT_SASL_EXTERNAL,
	    "xmppshield_s2s_sasl_external_total",
	    "Server streams authenticated by SASL EXTERNAL: incoming (the "
	    "peer's, accepted by the backend) or outgoing (ours, on the "
	    "backend's behalf).");
	write_counter(&w, nl, CNT_SASL_EXTERNAL_FAILED,
	    "xmppshield_s2s_sasl_external_failed_total",
	    "SASL EXTERNAL refused: incoming, <failure/> to a peer; "
	    "outgoing, the remote's <failure/>.");
	write_counter(&w, nl, CNT_BYTES_IN,
	    "xmppshield_client_bytes_received_total",
	    "Bytes read from clients (TLS records included), added when "
	    "a session ends.");
	write_counter(&w, nl, CNT_BYTES_OUT,
	    "xmppshield_client_bytes_sent_total",
	    "Bytes written to clients (TLS records included), added when "
	    "a session ends.");

	for (i = 0; i < store->nslots; i++) {
		ok += get(&store->slots[i].reloads_ok);
		failed += get(&store->slots[i].reloads_failed);
		restarts += get(&store->slots[i].restarts);
	}
	head(&w, "xmppshield_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result.");
	emit(&w, "xmppshield_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)ok);
	emit(&w, "xmppshield_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)failed);
	head(&w, "xmppshield_worker_restarts_total", "counter",
	    "Workers that died and were replaced.");
	emit(&w, "xmppshield_worker_restarts_total %llu\n",
	    (unsigned long long)restarts);

	head(&w, "xmppshield_certificate_not_after_seconds", "gauge",
	    "End of the certificate's validity (notAfter), seconds since "
	    "the Unix epoch, by domain.");
	for (i = 0; i < store->ncerts; i++)
		emit(&w, "xmppshield_certificate_not_after_seconds"
		    "{domain=\"%s\"} %lld\n", store->certs[i].domain,
		    (long long)store->certs[i].not_after);
	head(&w, "xmppshield_certificate_not_before_seconds", "gauge",
	    "Start of the certificate's validity (notBefore), seconds since "
	    "the Unix epoch, by domain.");
	for (i = 0; i < store->ncerts; i++)
		emit(&w, "xmppshield_certificate_not_before_seconds"
		    "{domain=\"%s\"} %lld\n", store->certs[i].domain,
		    (long long)store->certs[i].not_before);
	return 0;
}
