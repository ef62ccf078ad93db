/*
 * test_log.c - log_escape(), the level and facility names, and the line
 * format on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "tap.h"

struct esc_case {
	const char *what;
	const char *in;
	size_t len;
	const char *want;
};

static const struct esc_case esc[] = {
	{ "plain", "alice@example.org/phone", 64, "alice@example.org/phone" },
	{ "NULL", NULL, 64, "-" },
	{ "empty", "", 64, "" },
	{ "newline", "a\nevent=forged", 64, "a\\x0aevent\\x3dforged" },
	{ "carriage return", "a\rb", 64, "a\\x0db" },
	{ "equals", "k=v", 64, "k\\x3dv" },
	{ "space", "a b", 64, "a\\x20b" },
	{ "double quote", "say \"hi\"", 64, "say\\x20\\x22hi\\x22" },
	{ "backslash", "a\\x41", 64, "a\\x5cx41" },
	{ "tab", "a\tb", 64, "a\\x09b" },
	{ "escape sequence", "\033[31mred", 64, "\\x1b[31mred" },
	{ "DEL", "a\177", 64, "a\\x7f" },
	{ "non-ASCII UTF-8", "caf\xc3\xa9", 64, "caf\\xc3\\xa9" },
	{ "exact fit", "abcdefg", 8, "abcdefg" },
	{ "exact fit with escape", "abc\n", 8, "abc\\x0a" },
	{ "cut", "abcdefghij", 8, "abcd..." },
	{ "cut by one", "abcdefgh", 8, "abcd..." },
	{ "cut before an escape", "ab\n\n\n", 10, "ab\\x0a..." },
	{ "escape never split", "abc\n", 7, "abc..." },
	{ "smallest buffer", "abcdef", 4, "..." },
	{ "smallest buffer, fits", "abc", 4, "abc" },
	{ "NULL in a small buffer", NULL, 4, "-" },
};

static void
test_escape(void)
{
	char buf[128], big[4096], out[64];
	int clean = 1;

	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		const char *r;

		memset(buf, 'Z', sizeof(buf));
		r = log_escape(esc[i].in, buf, esc[i].len);
		ok(r == buf && strcmp(buf, esc[i].want) == 0 &&
		    strlen(buf) < esc[i].len, "log_escape: %s (%s)",
		    esc[i].what, buf);
	}

	/* Every byte value, cut: NUL-terminated, printable, no separators. */
	for (int b = 0; b < 4095; b++)
		big[b] = (char)(b % 255 + 1);
	big[4095] = '\0';
	log_escape(big, out, sizeof(out));
	for (size_t i = 0; i < sizeof(out) && out[i] != '\0'; i++)
		if (out[i] <= ' ' || out[i] >= 0x7f || out[i] == '=' ||
		    out[i] == '"')
			clean = 0;
	ok(strlen(out) < sizeof(out) && clean &&
	    strcmp(out + strlen(out) - 3, "...") == 0,
	    "log_escape: all byte values, cut, stay printable");

	buf[0] = 'Z';
	log_escape("abc", buf, 1);
	ok(buf[0] == '\0', "log_escape: buffer of 1 gets an empty string");
	ok(log_escape("abc", NULL, 0) == NULL, "log_escape: no buffer");
}

static void
test_names(void)
{
	ok(log_level_from_name("error") == LOG_ERR &&
	    log_level_from_name("warning") == LOG_WARNING &&
	    log_level_from_name("notice") == LOG_NOTICE &&
	    log_level_from_name("info") == LOG_INFO &&
	    log_level_from_name("debug") == LOG_DEBUG, "level names");
	ok(log_level_from_name("verbose") == -1 &&
	    log_level_from_name("") == -1 && log_level_from_name(NULL) == -1,
	    "unknown level names");
	ok(log_facility_from_name("daemon") == LOG_DAEMON &&
	    log_facility_from_name("user") == LOG_USER &&
	    log_facility_from_name("auth") == LOG_AUTH &&
	    log_facility_from_name("authpriv") == LOG_AUTHPRIV &&
	    log_facility_from_name("local0") == LOG_LOCAL0 &&
	    log_facility_from_name("local7") == LOG_LOCAL7, "facility names");
	ok(log_facility_from_name("kern") == -1 &&
	    log_facility_from_name("local8") == -1 &&
	    log_facility_from_name(NULL) == -1, "unknown facility names");
}

/* Run the stderr logger into a file and return what it wrote. */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX", *buf;
	int fd, saved;
	ssize_t n;

	if ((fd = mkstemp(path)) < 0)
		return NULL;
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	buf = calloc(1, 8192);
	if (buf != NULL) {
		lseek(fd, 0, SEEK_SET);
		n = read(fd, buf, 8191);
		buf[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	return buf;
}

static int saved_errno_ok;

static void
write_lines(void)
{
	char big[5000];

	log_init(1, LOG_DAEMON, LOG_INFO);
	log_msg(LOG_INFO, "event=test n=%d", 1);
	log_msg(LOG_DEBUG, "event=hidden");
	log_msg(LOG_ERR, "event=bad value=%s", "a\nb");
	log_set(LOG_DAEMON, LOG_DEBUG);
	errno = ENOENT;
	log_msg(LOG_DEBUG, "event=shown");
	saved_errno_ok = errno == ENOENT;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_msg(LOG_WARNING, "event=long v=%s", big);
	log_set(LOG_DAEMON, LOG_INFO);
}

static void
test_stderr(void)
{
	char want[128], *out, *line, *save = NULL;
	long pid = (long)getpid();

	out = capture(write_lines);
	if (out == NULL) {
		ok(0, "capture stderr");
		return;
	}
	line = strtok_r(out, "\n", &save);
	snprintf(want, sizeof(want), "xmppshield[%ld]: info: event=test n=1",
	    pid);
	ok(line != NULL && strcmp(line, want) == 0, "stderr line format (%s)",
	    line ? line : "");
	line = strtok_r(NULL, "\n", &save);
	snprintf(want, sizeof(want), "xmppshield[%ld]: error: event=bad "
	    "value=a?b", pid);
	ok(line != NULL && strcmp(line, want) == 0,
	    "debug filtered; raw newline cannot split a line (%s)",
	    line ? line : "");
	line = strtok_r(NULL, "\n", &save);
	ok(line != NULL && strstr(line, ": debug: event=shown") != NULL,
	    "log_set raises the level");
	ok(saved_errno_ok, "errno preserved across log_msg");
	line = strtok_r(NULL, "\n", &save);
	ok(line != NULL && strlen(line) == 2046 &&
	    strstr(line, ": warning: event=long v=xxx") != NULL &&
	    strcmp(line + strlen(line) - 3, "...") == 0,
	    "long line cut to the buffer, marked with ...");
	ok(strtok_r(NULL, "\n", &save) == NULL, "nothing else written");
	free(out);

	ok(log_enabled(LOG_INFO) && log_enabled(LOG_ERR) &&
	    !log_enabled(LOG_DEBUG), "log_enabled follows the level");
}

/* stderr is "the journal" when JOURNAL_STREAM names its device:inode. */
static void
write_journal(void)
{
	struct stat st;
	char env[64];

	fstat(STDERR_FILENO, &st);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(1, LOG_DAEMON, LOG_INFO);
	log_msg(LOG_WARNING, "event=journal n=%d", 1);
	log_msg(LOG_INFO, "event=journal n=%d", 2);
	setenv("JOURNAL_STREAM", "1:1", 1);	/* some other file */
	log_init(1, LOG_DAEMON, LOG_INFO);
	log_msg(LOG_INFO, "event=journal n=%d", 3);
	unsetenv("JOURNAL_STREAM");
	log_init(1, LOG_DAEMON, LOG_INFO);
}

static void
test_journal(void)
{
	char *out = capture(write_journal), want[128];

	snprintf(want, sizeof(want), "<4>event=journal n=1\n<6>event=journal "
	    "n=2\nxmppshield[%ld]: info: event=journal n=3\n",
	    (long)getpid());
	if (!ok(out != NULL && strcmp(out, want) == 0, "journal stream: <N> "
	    "priority prefix, no name or PID; other files: the usual prefix"))
		printf("# got: %s\n", out ? out : "(null)");
	free(out);
}

static void
libevent_warning(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	log_init(1, LOG_DAEMON, LOG_INFO);
	event_config_avoid_method(ec, "epoll");
	event_config_avoid_method(ec, "poll");
	event_config_avoid_method(ec, "select");
	base = event_base_new_with_config(ec);
	if (base != NULL)
		event_base_free(base);
	event_config_free(ec);
}

static void
test_libevent(void)
{
	char *out = capture(libevent_warning);

	ok(out != NULL && strstr(out, ": warning: event=libevent msg=") !=
	    NULL && strstr(out, "no\\x20event\\x20mechanism") != NULL &&
	    strchr(out, '\n') == out + strlen(out) - 1,
	    "libevent warnings routed, escaped, one line (%s)",
	    out ? out : "");
	free(out);
}

static void
test_quote(void)
{
	char buf[64], tiny[12];

	ok(strcmp(log_quote("a.conf:3: no such key; remove it", buf,
	    sizeof(buf)), "\"a.conf:3: no such key; remove it\"") == 0,
	    "quote: spaces kept, value in double quotes (%s)", buf);
	ok(strcmp(log_quote("say \"hi\" \\o/", buf, sizeof(buf)),
	    "\"say \\\"hi\\\" \\\\o/\"") == 0,
	    "quote: quote and backslash escaped (%s)", buf);
	ok(strcmp(log_quote("a\nb", buf, sizeof(buf)), "\"a\\x0ab\"") == 0,
	    "quote: newline becomes \\x0a (%s)", buf);
	log_quote("0123456789abcdef", tiny, sizeof(tiny));
	ok(strlen(tiny) < sizeof(tiny) && strcmp(tiny, "\"012345...\"") == 0,
	    "quote: cut values end in ... inside the quotes (%s)", tiny);
	ok(strcmp(log_quote(NULL, buf, sizeof(buf)), "\"-\"") == 0,
	    "quote: NULL is \"-\"");
}

int
main(void)
{
	test_escape();
	test_quote();
	test_journal();
	test_names();
	test_stderr();
	test_libevent();
	return tap_done();
}
