/*
 * workers.c - the master/worker supervisor; see workers.h.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "listener.h"
#include "log.h"
#include "monotime.h"
#include "workers.h"

/* One worker process, as the master sees it. */
struct worker {
	pid_t pid;		/* 0: not running */
	time_t started;		/* monotonic seconds, for respawn backoff */
};

struct workers {
	struct event_base *base;
	workers_run_fn run;
	void *arg;
	unsigned n;
	struct worker w[LISTENER_MAX_SLOTS];
	struct event *ev_chld, *ev_respawn;
	int respawn_due;	/* fork once the loop has returned */
	int stopping;
	unsigned spawned;	/* workers forked so far */
	pid_t master_pid;
};

/*
 * In the child: the chores every fork needs, then the caller's body.
 * A worker whose master is gone (killed outright) drains and exits
 * instead of serving on unsupervised; a fork shares the parent's event
 * loop, which is renewed before anything is dispatched.
 */
static void __attribute__((noreturn))
child(struct workers *w, unsigned slot, unsigned serial)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != w->master_pid)
		_exit(1);
	if (event_reinit(w->base) == -1) {
		log_msg(LOG_ERR, "event=startup-error reason=after-fork "
		    "worker=%u", slot);
		_exit(1);
	}
	event_free(w->ev_chld);
	event_free(w->ev_respawn);
	w->ev_chld = w->ev_respawn = NULL;
	_exit(w->run(w->arg, slot, serial));
}

/* Fork the worker for slot; in the child this never returns. */
static int
spawn(struct workers *w, unsigned slot)
{
	pid_t pid;

	w->master_pid = getpid();
	if ((pid = fork()) == -1) {
		log_msg(LOG_ERR, "event=worker-error worker=%u error=%s", slot,
		    strerror(errno));
		return -1;
	}
	w->spawned++;
	if (pid == 0)
		child(w, slot, w->spawned - 1);
	w->w[slot].pid = pid;
	w->w[slot].started = (time_t)monotime_now();
	return 0;
}

unsigned
workers_running(const struct workers *w)
{
	unsigned i, n = 0;

	for (i = 0; i < w->n; i++)
		n += w->w[i].pid != 0;
	return n;
}

void
workers_signal(struct workers *w, int sig)
{
	unsigned i;

	for (i = 0; i < w->n; i++)
		if (w->w[i].pid != 0)
			kill(w->w[i].pid, sig);
}

/* Respawn every slot whose worker died. */
static void
respawn(struct workers *w)
{
	unsigned i;

	for (i = 0; i < w->n && !w->stopping; i++)
		if (w->w[i].pid == 0)
			spawn(w, i);
}

/* Leave the loop; workers_dispatch() forks. */
static void
on_respawn(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;

	(void)fd;
	(void)what;
	w->respawn_due = 1;
	event_base_loopbreak(w->base);
}

/*
 * A worker exited.  While stopping, the last one ends the master.
 * Otherwise it crashed or was killed: its slot's sockets are still open
 * in the master, so connections queue for it; a new worker takes them
 * over at once, or after a second if the last one lived less than that.
 */
static void
on_child(evutil_socket_t sig, short what, void *arg)
{
	struct workers *w = arg;
	struct timeval one = { 1, 0 };
	int status, quick = 0;
	unsigned i;
	pid_t pid;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < w->n; i++)
			if (w->w[i].pid == pid)
				break;
		if (i == w->n)
			continue;
		w->w[i].pid = 0;
		if (w->stopping)
			continue;
		if (WIFSIGNALED(status))
			log_msg(LOG_ERR, "event=worker-exited worker=%u pid=%ld "
			    "signal=%d", i, (long)pid, WTERMSIG(status));
		else
			log_msg(LOG_ERR, "event=worker-exited worker=%u pid=%ld "
			    "status=%d", i, (long)pid, WEXITSTATUS(status));
		quick |= (time_t)monotime_now() - w->w[i].started < 1;
	}
	if (w->stopping) {
		if (workers_running(w) == 0)
			event_base_loopexit(w->base, NULL);
		return;
	}
	if (quick)
		event_add(w->ev_respawn, &one);
	else
		on_respawn(-1, 0, w);
}

struct workers *
workers_new(struct event_base *base, unsigned n, workers_run_fn run,
    void *arg)
{
	struct workers *w;

	if (n < 1 || n > LISTENER_MAX_SLOTS ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->base = base;
	w->n = n;
	w->run = run;
	w->arg = arg;
	w->ev_chld = evsignal_new(base, SIGCHLD, on_child, w);
	w->ev_respawn = evtimer_new(base, on_respawn, w);
	if (w->ev_chld == NULL || w->ev_respawn == NULL ||
	    event_add(w->ev_chld, NULL) == -1) {
		workers_free(w);
		return NULL;
	}
	return w;
}

void
workers_free(struct workers *w)
{
	if (w == NULL)
		return;
	if (w->ev_chld != NULL)
		event_free(w->ev_chld);
	if (w->ev_respawn != NULL)
		event_free(w->ev_respawn);
	free(w);
}

int
workers_start(struct workers *w)
{
	unsigned i;

	for (i = 0; i < w->n; i++)
		if (spawn(w, i) == -1)
			return -1;
	return 0;
}

void
workers_dispatch(struct workers *w)
{
	for (;;) {
		event_base_dispatch(w->base);
		if (!w->respawn_due)
			break;
		w->respawn_due = 0;
		respawn(w);	/* a child does not return from here */
	}
}

void
workers_stop(struct workers *w, int sig)
{
	if (!w->stopping) {
		w->stopping = 1;
		event_del(w->ev_respawn);
	}
	workers_signal(w, sig);
	if (workers_running(w) == 0)
		event_base_loopexit(w->base, NULL);
}
