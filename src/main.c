/*
 * main.c - xmppshield: mandatory STARTTLS in front of an XMPP server.
 *
 * Start-up order matters: read and check everything (config, every
 * certificate and key) while errors can still reach the admin's terminal,
 * bind the ports, then detach and drop privileges, and only then serve.
 */
#include "autoconf.h"

#include <errno.h>
#include <expat.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "tls.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/xmppshield/xmppshield.conf"

struct daemon_state {
	struct server srv;
	struct listeners *listeners;
	struct event *ev_term, *ev_int, *ev_hup;
	int stopping;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: xmppshield [-dknV] [-c file]\n"
	    "  -c file  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -k       list every configuration key and exit\n"
	    "  -n       check the configuration and exit\n"
	    "  -V       print versions and exit\n");
	exit(2);
}

static void
print_versions(void)
{
	printf("xmppshield %s\n", PACKAGE_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("%s\n", tls_library_version());
	printf("Expat %s\n", XML_ExpatVersion());
}

/* Drop to user/group for good; verify root cannot be regained. */
static int
drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (cfg->user == NULL)
		return 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		snprintf(err, errlen, "user %s does not exist; create it or "
		    "change [global] user", cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group != NULL) {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen, "group %s does not exist; create "
			    "it or change [global] group", cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become user %s: %s (start "
		    "xmppshield as root to drop privileges)", cfg->user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "could regain root after dropping "
		    "privileges; refusing to run");
		return -1;
	}
	return 0;
}

static void
write_pidfile(const char *path)
{
	FILE *f;

	if (path == NULL)
		return;
	if ((f = fopen(path, "w")) == NULL) {
		log_msg(LOG_WARNING, "event=pidfile-error path=%s error=%s",
		    path, strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_msg(LOG_NOTICE, "event=reload-ignored reason=not-supported "
		    "detail=restart-to-apply-changes");
		return;
	}
	if (d->stopping)
		return;
	d->stopping = 1;
	log_msg(LOG_NOTICE, "event=stopping signal=%s sessions=%u",
	    sig == SIGTERM ? "TERM" : "INT", d->srv.nsessions);
	listeners_close(d->listeners);
	d->listeners = NULL;
	session_shutdown_all(&d->srv);
	/* With the signal events gone the loop ends when the last session
	   has flushed its <system-shutdown/>. */
	event_del(d->ev_term);
	event_del(d->ev_int);
	event_del(d->ev_hup);
}

int
main(int argc, char *argv[])
{
	const char *path = DEFAULT_CONFIG;
	int foreground = 0, check_only = 0, ch;
	struct daemon_state d;
	struct config *cfg;
	char err[512];

	while ((ch = getopt(argc, argv, "c:dknVh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'k':
			config_print_keys(stdout);
			return 0;
		case 'n':
			check_only = 1;
			break;
		case 'V':
			print_versions();
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init(foreground || check_only, LOG_DAEMON, LOG_INFO);
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	memset(&d, 0, sizeof(d));
	TAILQ_INIT(&d.srv.sessions);
	d.srv.cfg = cfg;
	if ((d.srv.tls = tls_ctx_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "xmppshield: %s: %s\n", path, err);
		config_free(cfg);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		tls_ctx_free(d.srv.tls);
		config_free(cfg);
		return 0;
	}
	log_set(cfg->syslog_facility, cfg->log_level);
	signal(SIGPIPE, SIG_IGN);

	if ((d.srv.base = event_base_new()) == NULL) {
		fprintf(stderr, "xmppshield: cannot start the event loop\n");
		return 1;
	}
	/* Handlers first: a test (or an admin) may send SIGTERM as soon as
	   the "listening" line appears. */
	d.ev_term = evsignal_new(d.srv.base, SIGTERM, on_signal, &d);
	d.ev_int = evsignal_new(d.srv.base, SIGINT, on_signal, &d);
	d.ev_hup = evsignal_new(d.srv.base, SIGHUP, on_signal, &d);
	event_add(d.ev_term, NULL);
	event_add(d.ev_int, NULL);
	event_add(d.ev_hup, NULL);
	if ((d.listeners = listeners_open(&d.srv, err, sizeof(err))) == NULL) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	if (!foreground) {
		if (daemon(0, 0) == -1) {
			fprintf(stderr, "xmppshield: daemon: %s\n",
			    strerror(errno));
			return 1;
		}
		if (event_reinit(d.srv.base) == -1 ||
		    tls_ctx_reseed(d.srv.tls) == -1) {
			log_msg(LOG_ERR, "event=startup-error "
			    "reason=after-fork");
			return 1;
		}
	}
	write_pidfile(cfg->pidfile);
	if (drop_privileges(cfg, err, sizeof(err)) == -1) {
		char esc[256];

		log_msg(LOG_ERR, "event=startup-error reason=privileges "
		    "detail=%s", log_escape(err, esc, sizeof(esc)));
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}

	log_msg(LOG_NOTICE, "event=started version=%s config=%s",
	    PACKAGE_VERSION, path);
	event_base_dispatch(d.srv.base);
	log_msg(LOG_NOTICE, "event=stopped");

	if (cfg->pidfile != NULL)
		unlink(cfg->pidfile);
	event_free(d.ev_term);
	event_free(d.ev_int);
	event_free(d.ev_hup);
	listeners_close(d.listeners);
	event_base_free(d.srv.base);
	tls_ctx_free(d.srv.tls);
	config_free(cfg);
	return 0;
}
