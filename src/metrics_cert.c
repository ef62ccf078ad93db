/*
 * metrics_cert.c - certificate validity warnings; see metrics_cert.h.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "metrics_cert.h"
#include "tls.h"

#define DAY	86400

struct cert {
	char domain[256];
	time_t not_before, not_after;
};

static struct cert *certs;
static size_t ncerts;
static unsigned warn_days;
static struct event *daily;

static const char *
utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static void
check_one(const struct cert *c, time_t now)
{
	char when[32], esc[300];
	long long days;

	log_escape(c->domain, esc, sizeof(esc));
	/* Days left, rounded up: "expires within N days", 1 on the last
	   day; an expired one says how many days ago, as -N. */
	days = ((long long)c->not_after - now + DAY - 1) / DAY;
	if (now > c->not_after) {
		days = -(((long long)now - c->not_after) / DAY);
		log_msg(LOG_ERR, "event=certificate-expired domain=%s "
		    "not_after=%s days=%lld", esc,
		    utc(c->not_after, when, sizeof(when)), days);
	} else if (now < c->not_before)
		log_msg(LOG_ERR, "event=certificate-not-yet-valid domain=%s "
		    "not_before=%s", esc,
		    utc(c->not_before, when, sizeof(when)));
	else if (days <= (long long)warn_days)
		log_msg(LOG_WARNING, "event=certificate-expiring domain=%s "
		    "days=%lld not_after=%s", esc, days,
		    utc(c->not_after, when, sizeof(when)));
}

static void
check_all(void)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < ncerts; i++)
		check_one(&certs[i], now);
}

void
metrics_cert_check(const struct tls_ctx *tls, unsigned days)
{
	const char *domain;
	time_t nb, na;
	struct cert *n;
	size_t i;

	warn_days = days;
	metrics_certificates_begin();
	for (i = 0; tls_ctx_certificate(tls, i, &domain, &nb, &na) == 0; i++)
		;
	if ((n = calloc(i ? i : 1, sizeof(*n))) == NULL)
		return;		/* keep the last set */
	free(certs);
	certs = n;
	ncerts = i;
	for (i = 0; i < ncerts; i++) {
		tls_ctx_certificate(tls, i, &domain, &nb, &na);
		snprintf(certs[i].domain, sizeof(certs[i].domain), "%s",
		    domain);
		certs[i].not_before = nb;
		certs[i].not_after = na;
		metrics_certificate(domain, nb, na);
	}
	check_all();
}

static void
on_daily(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	check_all();
}

int
metrics_cert_daily(struct event_base *base)
{
	struct timeval day = { DAY, 0 };

	if (daily != NULL)
		return 0;
	if ((daily = event_new(base, -1, EV_PERSIST, on_daily, NULL)) ==
	    NULL)
		return -1;
	return event_add(daily, &day);
}

void
metrics_cert_drop(void)
{
	if (daily != NULL) {
		event_free(daily);
		daily = NULL;
	}
}
