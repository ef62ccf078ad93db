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
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "admission.h"
#include "config.h"
#include "generation.h"
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
	const char *config_path;
	struct listeners *listeners;
	struct event *ev_term, *ev_int, *ev_hup, *ev_grace;
};

/* Addresses tracked for the per-address caps (see admission.h). */
#define ADMISSION_MAX_ENTRIES	65536

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
apply_limits(struct server *srv)
{
	const struct config_limits *lim = &srv->cfg->limits;
	struct admission_limits al = {
		.max_connections = lim->max_connections,
		.max_per_ip = lim->max_connections_per_ip,
		.rate_per_ip = lim->connection_rate_per_ip,
	};

	admission_set_limits(srv->admission, &al);
	log_set(srv->cfg->syslog_facility, srv->cfg->log_level);
	log_set_rate(srv->base, srv->cfg->log_rate_limit);
}

/*
 * Each session needs its client socket and a backend socket.  Raise the
 * soft descriptor limit to the hard one, and say so at start if
 * max_connections still cannot be reached (accept would then pause on
 * EMFILE before the cap is hit).
 */
static void
check_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	unsigned long long need = 2ULL * cfg->limits.max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_msg(LOG_WARNING, "event=fd-limit limit=%llu needed=%llu "
		    "detail=raise-LimitNOFILE-or-lower-max_connections",
		    (unsigned long long)rl.rlim_cur, need);
}

/*
 * SIGHUP: a new generation beside the old one.  Anything wrong with the
 * new files (syntax, an unreadable or mismatched key, a port that cannot
 * be bound) leaves the old generation serving; the log says why.
 */
static void
reload(struct daemon_state *d)
{
	struct generation *g, *old = d->srv.gen;
	char err[512], esc[600];

	log_msg(LOG_NOTICE, "event=reloading config=%s", d->config_path);
	g = generation_load(d->config_path, err, sizeof(err));
	if (g != NULL && d->listeners != NULL &&
	    listeners_reload(d->listeners, &d->srv, g->cfg, err,
	    sizeof(err)) == -1) {
		generation_unref(g);
		g = NULL;
	}
	if (g == NULL) {
		log_msg(LOG_ERR, "event=reload-failed generation=%u "
		    "detail=%s", old->number, log_quote(err, esc,
		    sizeof(esc)));
		return;
	}
	g->number = old->number + 1;
	d->srv.gen = g;
	d->srv.cfg = g->cfg;
	d->srv.tls = g->tls;
	apply_limits(&d->srv);
	log_msg(LOG_NOTICE, "event=reloaded generation=%u sessions=%u "
	    "sessions_on_old=%u", g->number, d->srv.nsessions,
	    session_count_old(&d->srv));
	generation_unref(old);	/* sessions still on it hold it */
}

/* The grace period is over: whoever is left gets <system-shutdown/>. */
static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)fd;
	(void)what;
	log_msg(LOG_NOTICE, "event=shutdown sessions=%u", d->srv.nsessions);
	session_shutdown_all(&d->srv);
}

/*
 * SIGTERM/SIGINT: stop accepting at once; sessions carry on for
 * shutdown_grace seconds, then get <system-shutdown/> at a stanza
 * boundary.  A second signal cuts the grace short.  The loop ends when
 * the last session is gone.
 */
static void
stop(struct daemon_state *d, const char *signame)
{
	struct timeval tv = { .tv_sec = d->srv.cfg->shutdown_grace };

	if (d->srv.stopping) {
		event_del(d->ev_grace);
		on_grace(-1, 0, d);
		return;
	}
	d->srv.stopping = 1;
	listeners_close(d->listeners);
	d->listeners = NULL;
	/* Logged once the ports are closed: a reader of the log may count
	   on it. */
	log_msg(LOG_NOTICE, "event=stopping signal=%s sessions=%u grace=%u",
	    signame, d->srv.nsessions, d->srv.cfg->shutdown_grace);
	event_del(d->ev_hup);
	if (d->srv.nsessions == 0) {
		event_base_loopexit(d->srv.base, NULL);
		return;
	}
	if (d->srv.cfg->shutdown_grace == 0)
		on_grace(-1, 0, d);
	else
		event_add(d->ev_grace, &tv);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)what;
	if (sig == SIGHUP)
		reload(d);
	else
		stop(d, sig == SIGTERM ? "TERM" : "INT");
}

int
main(int argc, char *argv[])
{
	const char *path = DEFAULT_CONFIG;
	int foreground = 0, check_only = 0, ch;
	struct daemon_state d;
	struct config *cfg;
	char err[512], *pidfile;

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
	memset(&d, 0, sizeof(d));
	TAILQ_INIT(&d.srv.sessions);
	d.config_path = path;
	if ((d.srv.gen = generation_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	cfg = d.srv.cfg = d.srv.gen->cfg;
	d.srv.tls = d.srv.gen->tls;
	if (check_only) {
		printf("configuration OK\n");
		generation_unref(d.srv.gen);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);

	if ((d.srv.base = event_base_new()) == NULL) {
		fprintf(stderr, "xmppshield: cannot start the event loop\n");
		return 1;
	}
	{
		uint64_t seed;

		if (tls_random(d.srv.tls, &seed, sizeof(seed)) == -1 ||
		    (d.srv.admission = admission_new(ADMISSION_MAX_ENTRIES,
		    seed)) == NULL) {
			fprintf(stderr, "xmppshield: out of memory\n");
			return 1;
		}
	}
	apply_limits(&d.srv);
	check_fd_limit(cfg);
	d.ev_grace = evtimer_new(d.srv.base, on_grace, &d);
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
	pidfile = cfg->pidfile ? strdup(cfg->pidfile) : NULL;
	if (drop_privileges(cfg, err, sizeof(err)) == -1) {
		char esc[256];

		log_msg(LOG_ERR, "event=startup-error reason=privileges "
		    "detail=%s", log_quote(err, esc, sizeof(esc)));
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}

	log_msg(LOG_NOTICE, "event=started version=%s config=%s",
	    PACKAGE_VERSION, path);
	event_base_dispatch(d.srv.base);
	log_msg(LOG_NOTICE, "event=stopped");

	/* The pidfile of the first generation: a reload may not move it,
	   and after dropping privileges this may fail (documented). */
	if (pidfile != NULL && unlink(pidfile) == -1 && errno != ENOENT)
		log_msg(LOG_WARNING, "event=pidfile-error path=%s error=%s",
		    pidfile, strerror(errno));
	free(pidfile);
	log_shutdown();
	event_free(d.ev_term);
	event_free(d.ev_int);
	event_free(d.ev_hup);
	event_free(d.ev_grace);
	listeners_close(d.listeners);
	event_base_free(d.srv.base);
	admission_free(d.srv.admission);
	generation_unref(d.srv.gen);
	return 0;
}
