/*
 * log.c - one line per event, to syslog or to stderr; see log.h.
 *
 * Each line is formatted into a fixed buffer and written with a single
 * write(2) (stderr) or syslog(3) call, so that lines from a busy daemon
 * never interleave and a long value can only shorten a line, never
 * allocate or split it.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "monotime.h"

#define LOG_LINE_MAX	2048	/* one formatted line, prefix included */
#define LOG_EVENT_VALUE	512	/* an escaped libevent message */

static int log_to_stderr = 1;	/* before log_init(): errors still show */
static int log_journal;		/* stderr is systemd's journal stream */
static int log_facility = LOG_DAEMON;
static int log_level = LOG_INFO;
static int log_opened;

/*
 * Flood control: at most log_rate lines of warning priority or below
 * per second; the rest are counted and reported in one line when the
 * second is over.  Errors are never held back.
 */
static unsigned log_rate;		/* 0: no limit */
static time_t log_window;		/* the second being counted */
static unsigned log_window_lines;
static unsigned long long log_suppressed;
static struct event *log_flush_ev;

static const struct {
	const char *name;
	int value;
} level_names[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static const struct {
	const char *name;
	int value;
} facility_names[] = {
	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },
	{ "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static const char *
prio_name(int prio)
{
	switch (LOG_PRI(prio)) {
	case LOG_EMERG:
		return "emerg";
	case LOG_ALERT:
		return "alert";
	case LOG_CRIT:
		return "crit";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void
log_event_cb(int severity, const char *msg)
{
	char val[LOG_EVENT_VALUE];
	int prio;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		prio = LOG_DEBUG;
		break;
	case EVENT_LOG_MSG:
		prio = LOG_INFO;
		break;
	case EVENT_LOG_WARN:
		prio = LOG_WARNING;
		break;
	default:
		prio = LOG_ERR;
		break;
	}
	log_msg(prio, "event=libevent msg=%s", log_escape(msg, val, sizeof(val)));
}

static void
log_open(void)
{
	if (log_opened)
		closelog();
	openlog("xmppshield", LOG_PID | LOG_NDELAY, log_facility);
	log_opened = 1;
}

/*
 * Under systemd, stderr may be a stream into the journal: then each line
 * starts with "<N>" so that the journal records its priority (sd-daemon
 * convention), and the journal adds the name and PID itself.  It is the
 * journal only if JOURNAL_STREAM names the very file stderr is.
 */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(int to_stderr, int facility, int level)
{
	log_to_stderr = to_stderr;
	log_journal = to_stderr && stderr_is_journal();
	log_facility = facility;
	log_level = level;
	if (!log_to_stderr)
		log_open();
	event_set_log_callback(log_event_cb);
}

void
log_set(int facility, int level)
{
	int reopen = facility != log_facility;

	log_facility = facility;
	log_level = level;
	if (!log_to_stderr && (reopen || !log_opened))
		log_open();
}

int
log_enabled(int prio)
{
	return LOG_PRI(prio) <= log_level;
}

static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emit_v(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
flush_suppressed(void)
{
	if (log_suppressed == 0)
		return;
	emit(LOG_WARNING, "event=log-suppressed lines=%llu limit=%u",
	    log_suppressed, log_rate);
	log_suppressed = 0;
}

static void
on_log_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if ((time_t)monotime_now() != log_window) {
		log_window = 0;
		log_window_lines = 0;
		flush_suppressed();
	} else {
		struct timeval tv = { 0, 200000 };

		event_add(log_flush_ev, &tv);
	}
}

/* 1 if this line is over the rate and only counted. */
static int
over_rate(int prio)
{
	time_t now;

	if (log_rate == 0 || LOG_PRI(prio) <= LOG_ERR)
		return 0;
	if ((now = (time_t)monotime_now()) != log_window) {
		flush_suppressed();
		log_window = now;
		log_window_lines = 0;
	}
	if (++log_window_lines <= log_rate)
		return 0;
	if (log_suppressed++ == 0 && log_flush_ev != NULL) {
		struct timeval tv = { 1, 0 };

		event_add(log_flush_ev, &tv);
	}
	return 1;
}

void
log_set_rate(struct event_base *base, unsigned lines_per_second)
{
	flush_suppressed();
	log_rate = lines_per_second;
	log_window_lines = 0;
	if (log_flush_ev == NULL && base != NULL)
		log_flush_ev = evtimer_new(base, on_log_flush, NULL);
}

void
log_shutdown(void)
{
	flush_suppressed();
	if (log_flush_ev != NULL)
		event_free(log_flush_ev);
	log_flush_ev = NULL;
}

/* log_msg() with a va_list. */
static void __attribute__((format(printf, 2, 0)))
log_vmsg(int prio, const char *fmt, va_list ap)
{
	if (!log_enabled(prio) || over_rate(prio))
		return;
	emit_v(prio, fmt, ap);
}

static void __attribute__((format(printf, 2, 0)))
emit_v(int prio, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t start, len;
	int saved_errno = errno, n;

	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>", LOG_PRI(prio));
		start = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
	} else if (log_to_stderr) {
		n = snprintf(line, sizeof(line), "xmppshield[%ld]: %s: ",
		    (long)getpid(), prio_name(prio));
		start = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
	} else
		start = 0;

	/* Room is kept for the newline of the stderr format. */
	n = vsnprintf(line + start, sizeof(line) - start - 1, fmt, ap);
	if (n < 0)
		n = 0;
	len = start + (size_t)n;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}

	/*
	 * Values from peers are escaped by the callers; this is the backstop
	 * that keeps a forgotten log_escape() from forging a second line.
	 */
	for (size_t i = start; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}

	if (log_to_stderr) {
		line[len++] = '\n';
		write_all(STDERR_FILENO, line, len);
	} else {
		line[len] = '\0';
		syslog(LOG_PRI(prio) | log_facility, "%s", line);
	}
	errno = saved_errno;
}

static void
emit(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_v(prio, fmt, ap);
	va_end(ap);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

const char *
log_quote(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i, w;
	unsigned char c;
	char esc[4];

	if (buf == NULL || len < 8) {
		if (buf != NULL && len > 0)
			buf[0] = '\0';
		return buf;
	}
	if (s == NULL)
		s = "-";
	buf[o++] = '"';
	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			esc[0] = (char)c;
			w = 1;
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			w = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 0xf];
			w = 4;
		}
		/* Keep room for '..."' and the NUL unless this is the end. */
		if (o + w + (s[i + 1] == '\0' ? 2 : 5) > len)
			break;
		memcpy(buf + o, esc, w);
		o += w;
	}
	if (s[i] != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *
log_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, room, need, i;
	unsigned char c;

	if (buf == NULL || len == 0)
		return buf;
	if (s == NULL)
		s = "-";

	/* The whole value fits: no "..." needed, so all len - 1 is usable. */
	need = 0;
	for (i = 0; s[i] != '\0' && need < len; i++) {
		c = (unsigned char)s[i];
		need += (c > 0x20 && c < 0x7f && c != '"' && c != '\\' &&
		    c != '=') ? 1 : 4;
	}
	room = (s[i] == '\0' && need <= len - 1) ? len - 1 :
	    (len - 1 > 3 ? len - 1 - 3 : 0);

	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=') {
			if (o + 1 > room)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 > room)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	if (s[i] != '\0') {
		/* Cut: mark it, with as many dots as a tiny buffer allows. */
		for (int d = 0; d < 3 && o < len - 1; d++)
			buf[o++] = '.';
	}
	buf[o] = '\0';
	return buf;
}

int
log_level_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i].name) == 0)
			return level_names[i].value;
	return -1;
}

int
log_facility_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0;
	    i < sizeof(facility_names) / sizeof(facility_names[0]); i++)
		if (strcasecmp(name, facility_names[i].name) == 0)
			return facility_names[i].value;
	return -1;
}
