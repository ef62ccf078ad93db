/*
 * main.c - xmppshield: mandatory STARTTLS in front of an XMPP server.
 *
 * Start-up order matters: read and check everything (config, every
 * certificate and key) while errors can still reach the admin's terminal,
 * bind the ports, then detach and drop privileges, and only then serve.
 * With several workers this process becomes their master after that
 * (the supervisor is workers.c); main.c keeps the options, the start-up
 * order, and what each signal means to a master and to a worker.
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
#include <unistd.h>

#include <event2/event.h>

#include "admission.h"
#include "config.h"
#include "dialbackkey.h"
#include "generation.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_cert.h"
#include "metrics_http.h"
#include "metrics_status.h"
#include "s2sout.h"
#include "session.h"
#include "tls.h"
#include "workers.h"
#include "xmlstream.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/xmppshield/xmppshield.conf"

struct daemon_state {
	struct server srv;	/* a worker's; the master uses base and gen */
	const char *config_path;
	struct listeners *listeners;
	struct event *ev_term, *ev_int, *ev_hup, *ev_grace;

	/* With workers > 1: the master forks and watches them. */
	unsigned nworkers;
	int is_master;
	unsigned slot;		/* a worker's index */
	struct workers *workers;	/* the master's; NULL in a worker */
	struct metrics_http *metrics;	/* the master's (or only process's) */
};

/* Each worker numbers its sessions from its own block, so that session=
   is unique in the log of one daemon run. */
#define SESSION_ID_BLOCK	1000000000ULL

/* Addresses tracked for the per-address caps (see admission.h). */
#define ADMISSION_MAX_ENTRIES	65536

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: xmppshield [-dknsV] [-c file]\n"
	    "  -c file  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -k       list every configuration key and exit\n"
	    "  -n       check the configuration and exit\n"
	    "  -s       print the running daemon's figures (metrics_listen)\n"
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
apply_log_settings(struct event_base *base, const struct config *cfg)
{
	log_set(cfg->syslog_facility, cfg->log_level);
	log_set_rate(base, cfg->log_rate_limit);
}

static void
apply_limits(struct server *srv)
{
	const struct config_limits *lim = &srv->gen->cfg->limits;
	unsigned n = srv->nworkers ? srv->nworkers : 1;
	struct admission_limits al = {
		/* Each worker takes its share of the total. */
		.max_connections = (lim->max_connections + n - 1) / n,
		.max_per_ip = lim->max_connections_per_ip,
		.rate_per_ip = lim->connection_rate_per_ip,
		/* Not shared: steering sends all of one balancer's
		   connections to one worker. */
		.max_per_balancer = lim->max_connections_per_balancer,
	};

	admission_set_limits(srv->admission, &al);
	apply_log_settings(srv->base, srv->gen->cfg);
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
 * A worker of several, at SIGHUP: the sockets the master bound for the
 * new generation's new addresses are waiting on the channel; offer them
 * to the listeners (listener.h).
 */
static void
take_offered_sockets(struct daemon_state *d)
{
	struct config_addr conf;
	size_t len;
	int fd;

	while ((fd = workers_receive_socket(d->workers, &conf, sizeof(conf),
	    &len)) != -1) {
		if (len != sizeof(conf) || d->listeners == NULL) {
			close(fd);
			continue;
		}
		listeners_offer(d->listeners, &conf, fd);
	}
}

/*
 * SIGHUP: a new generation beside the old one.  Anything wrong with the
 * new files (syntax, an unreadable or mismatched key, a port that cannot
 * be bound) leaves the old generation serving; the log says why.  The
 * listening sockets follow it in every process, the master of several
 * workers included (its copies of a removed address are closed).
 */
static struct generation *
load_next_generation(struct daemon_state *d)
{
	struct generation *g;
	char err[512], esc[600];

	if (!d->is_master && d->workers != NULL)
		take_offered_sockets(d);
	g = generation_load(d->config_path, err, sizeof(err));
	if (g != NULL && d->listeners != NULL &&
	    listeners_reload(d->listeners, d->is_master ? NULL : &d->srv,
	    g->cfg, err, sizeof(err)) == -1) {
		generation_unref(g);
		g = NULL;
	}
	if (d->listeners != NULL)
		listeners_forget_offers(d->listeners);
	if (g == NULL) {
		log_msg(LOG_ERR, "event=reload-failed generation=%u "
		    "detail=%s", d->srv.gen->number, log_quote(err, esc,
		    sizeof(esc)));
		return NULL;
	}
	g->number = d->srv.gen->number + 1;
	return g;
}

/* The serving process (master, or the only one) took a new generation. */
static void
observe_generation(struct daemon_state *d, struct generation *g)
{
	metrics_reload(1);
	metrics_http_reload(d->metrics, g->cfg);
	metrics_cert_check(g->tls, g->cfg->cert_warn_days);
}

static void
reload(struct daemon_state *d)
{
	struct generation *g, *old = d->srv.gen;

	log_msg(LOG_NOTICE, "event=reloading config=%s", d->config_path);
	if ((g = load_next_generation(d)) == NULL) {
		if (d->nworkers == 1)
			metrics_reload(0);
		return;
	}
	d->srv.gen = g;
	if (d->nworkers == 1)
		observe_generation(d, g);
	apply_limits(&d->srv);
	log_msg(LOG_NOTICE, "event=reloaded generation=%u sessions=%u "
	    "sessions_on_old=%u", g->number, d->srv.nsessions,
	    session_count_old(&d->srv) + s2sout_count_old(&d->srv));
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
	s2sout_shutdown_all(&d->srv);
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
	struct timeval tv = { .tv_sec = d->srv.gen->cfg->shutdown_grace };

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
	    signame, d->srv.nsessions, d->srv.gen->cfg->shutdown_grace);
	if (d->srv.nsessions == 0) {
		event_base_loopexit(d->srv.base, NULL);
		return;
	}
	if (d->srv.gen->cfg->shutdown_grace == 0)
		on_grace(-1, 0, d);
	else
		event_add(d->ev_grace, &tv);
}

/* --- the master of several workers (workers.c supervises) ----------- */

static void
pass_sockets(void *arg, const struct config_addr *conf, const int *fds,
    unsigned nfds)
{
	struct daemon_state *d = arg;
	unsigned i;

	for (i = 0; i < nfds; i++)
		if (workers_send_socket(d->workers, i, conf, sizeof(*conf),
		    fds[i]) == -1 && errno != EINVAL)
			/* That worker binds the address alone: served,
			   but not steered with the others. */
			log_msg(LOG_WARNING, "event=worker-error worker=%u "
			    "error=%s detail=socket-not-passed", i,
			    strerror(errno));
}

/*
 * The master's SIGHUP: check the new files first (so that a broken
 * configuration is reported once, not by every worker), bind the new
 * addresses for every slot and close the removed ones, then let every
 * worker load it.  A worker respawned later starts from it too, with
 * the master's sockets as they are now.
 */
static void
master_reload(struct daemon_state *d)
{
	struct generation *g;

	if ((g = load_next_generation(d)) == NULL) {
		metrics_reload(0);
		return;
	}
	/* Each worker its slot's socket of every new address, before the
	   signal that makes it reload. */
	listeners_foreach_added(d->listeners, pass_sockets, d);
	generation_unref(d->srv.gen);
	d->srv.gen = g;
	observe_generation(d, g);
	apply_log_settings(d->srv.base, g->cfg);
	workers_signal(d->workers, SIGHUP);
}

static void
master_stop(struct daemon_state *d, int sig)
{
	if (!d->srv.stopping) {
		d->srv.stopping = 1;
		/* The master's copies too, or the ports stay open. */
		listeners_close(d->listeners);
		d->listeners = NULL;
		log_msg(LOG_NOTICE, "event=stopping signal=%s workers=%u",
		    sig == SIGTERM ? "TERM" : "INT",
		    workers_running(d->workers));
	}
	workers_stop(d->workers, sig);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)what;
	/* The SIGHUP handler stays installed while draining: deleting the
	   event would bring back the default action, and a log rotation's
	   reload would kill the process and every session in grace. */
	if (sig == SIGHUP && d->srv.stopping) {
		if (d->is_master)
			log_msg(LOG_NOTICE, "event=reload-ignored "
			    "reason=stopping workers=%u",
			    workers_running(d->workers));
		else
			log_msg(LOG_NOTICE, "event=reload-ignored "
			    "reason=stopping sessions=%u", d->srv.nsessions);
		return;
	}
	if (d->is_master) {
		if (sig == SIGHUP)
			master_reload(d);
		else
			master_stop(d, (int)sig);
		return;
	}
	if (sig == SIGHUP)
		reload(d);
	else
		stop(d, sig == SIGTERM ? "TERM" : "INT");
}

/*
 * The dialback key secret (dialbackkey.h): drawn once, here in the
 * process that forks the workers, before it does, so that a key one
 * worker gave the backend is recognised by whichever worker the
 * backend's verification reaches; a reload keeps it.
 */
static int
dialback_secret(struct generation *g)
{
	unsigned char secret[DIALBACKKEY_SECRET];
	int r;

	if (tls_random(g->tls, secret, sizeof(secret)) == -1)
		return -1;
	r = dialbackkey_init(secret, sizeof(secret));
	explicit_bzero(secret, sizeof(secret));
	return r;
}

/* "auto": one worker per online CPU. */
static unsigned
worker_count(const struct config *cfg)
{
	long n = cfg->workers;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > LISTENER_MAX_SLOTS)
		n = LISTENER_MAX_SLOTS;
	return (unsigned)n;
}

/*
 * Everything a serving process sets up: its own event loop state, DRBG
 * and caps, and its slot's sockets.  With one worker this is the process
 * that was started; with several, a child of the master.
 */
static int
worker_setup(struct daemon_state *d, unsigned slot, char *err,
    size_t errlen)
{
	uint64_t seed;

	d->slot = slot;
	d->srv.nworkers = d->nworkers;
	if (tls_random(d->srv.gen->tls, &seed, sizeof(seed)) == -1 ||
	    (d->srv.admission = admission_new(ADMISSION_MAX_ENTRIES,
	    seed)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Expat's hash salts: a secret of this worker, a salt per stream. */
	if (tls_random(d->srv.gen->tls, &seed, sizeof(seed)) == 0)
		xmlstream_seed(seed);
	apply_limits(&d->srv);
	if ((d->ev_grace = evtimer_new(d->srv.base, on_grace, d)) == NULL ||
	    listeners_start(d->listeners, &d->srv, slot, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * The body of a worker (workers.h), in the child the master forked: its
 * event loop is already renewed; the DRBG is reseeded here, before
 * anything is drawn from it.
 */
static int
run_worker(void *arg, unsigned slot, unsigned serial)
{
	struct daemon_state *d = arg;
	char err[512], esc[600];

	d->is_master = 0;
	/* d->workers is this worker's copy now: its channel to the master
	   brings the sockets a reload binds. */
	metrics_set_worker(slot);
	metrics_http_drop(d->metrics);	/* the master answers scrapes */
	metrics_cert_drop();
	d->srv.next_id = serial * SESSION_ID_BLOCK;
	if (tls_ctx_reseed(d->srv.gen->tls) == -1) {
		log_msg(LOG_ERR, "event=startup-error reason=after-fork "
		    "worker=%u", slot);
		return 1;
	}
	event_add(d->ev_hup, NULL);
	if (worker_setup(d, slot, err, sizeof(err)) == -1) {
		log_msg(LOG_ERR, "event=startup-error reason=worker worker=%u "
		    "detail=%s", slot, log_quote(err, esc, sizeof(esc)));
		return 1;
	}
	log_msg(LOG_INFO, "event=worker-started worker=%u pid=%ld", slot,
	    (long)getpid());
	event_base_dispatch(d->srv.base);
	log_msg(LOG_NOTICE, "event=stopped worker=%u", slot);
	log_shutdown();
	dialbackkey_wipe();
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *path = DEFAULT_CONFIG;
	int foreground = 0, check_only = 0, status_only = 0, ch;
	struct daemon_state d;
	struct config *cfg;
	char err[512], *pidfile;

	while ((ch = getopt(argc, argv, "c:dknsVh")) != -1) {
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
		case 's':
			status_only = 1;
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
	if (status_only)
		return metrics_status_main(path, stdout);

	log_init(foreground || check_only, LOG_DAEMON, LOG_INFO);
	memset(&d, 0, sizeof(d));
	TAILQ_INIT(&d.srv.sessions);
	d.config_path = path;
	if ((d.srv.gen = generation_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	cfg = d.srv.gen->cfg;
	if (!check_only && dialback_secret(d.srv.gen) == -1) {
		fprintf(stderr, "xmppshield: cannot draw the dialback key "
		    "secret from the random generator\n");
		return 1;
	}
	if (check_only) {
		metrics_cert_check(d.srv.gen->tls, cfg->cert_warn_days);
		printf("configuration OK\n");
		generation_unref(d.srv.gen);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	d.nworkers = worker_count(cfg);
	d.is_master = d.nworkers > 1;

	if ((d.srv.base = event_base_new()) == NULL) {
		fprintf(stderr, "xmppshield: cannot start the event loop\n");
		return 1;
	}
	apply_log_settings(d.srv.base, cfg);
	check_fd_limit(cfg);
	/* Handlers first: a test (or an admin) may send SIGTERM as soon as
	   the "listening" line appears. */
	d.ev_term = evsignal_new(d.srv.base, SIGTERM, on_signal, &d);
	d.ev_int = evsignal_new(d.srv.base, SIGINT, on_signal, &d);
	d.ev_hup = evsignal_new(d.srv.base, SIGHUP, on_signal, &d);
	event_add(d.ev_term, NULL);
	event_add(d.ev_int, NULL);
	event_add(d.ev_hup, NULL);
	if ((d.listeners = listeners_open(cfg, d.nworkers, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	/* Counters only with an endpoint to read them; shared before fork. */
	if (cfg->metrics_listen.len != 0 && metrics_init(d.nworkers) == -1) {
		fprintf(stderr, "xmppshield: metrics: %s\n", strerror(errno));
		return 1;
	}
	if ((d.metrics = metrics_http_open(cfg, err, sizeof(err))) == NULL &&
	    err[0] != '\0') {
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
		    tls_ctx_reseed(d.srv.gen->tls) == -1) {
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

	if (d.is_master) {
		if ((d.workers = workers_new(d.srv.base, d.nworkers,
		    run_worker, &d)) == NULL) {
			fprintf(stderr, "xmppshield: out of memory\n");
			return 1;
		}
		if (workers_start(d.workers) == -1)
			master_stop(&d, SIGTERM);
	} else if (worker_setup(&d, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "xmppshield: %s\n", err);
		return 1;
	}
	if (metrics_http_start(d.metrics, d.srv.base, cfg) == -1) {
		log_msg(LOG_ERR, "event=startup-error reason=metrics");
		return 1;
	}
	metrics_cert_check(d.srv.gen->tls, cfg->cert_warn_days);
	metrics_cert_daily(d.srv.base);
	log_msg(LOG_NOTICE, "event=started version=%s config=%s workers=%u "
	    "mbedtls=%s tls13=%s", PACKAGE_VERSION, path, d.nworkers,
	    tls_library(), tls_has_tls13() ? "yes" : "no");
	if (d.is_master)
		workers_dispatch(d.workers);	/* forks happen in there */
	else
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
	if (d.ev_grace != NULL)
		event_free(d.ev_grace);
	workers_free(d.workers);
	listeners_close(d.listeners);
	metrics_http_free(d.metrics);
	metrics_cert_drop();
	event_base_free(d.srv.base);
	admission_free(d.srv.admission);
	generation_unref(d.srv.gen);
	dialbackkey_wipe();
	return 0;
}
