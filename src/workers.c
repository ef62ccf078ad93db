/*
 * workers.c - the master/worker supervisor; see workers.h.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "workers.h"

/* One worker process, as the master sees it. */
struct worker {
	pid_t pid;		/* 0: not running */
	time_t started;		/* monotonic seconds, for respawn backoff */
	int chan;		/* the master's end of its channel, or -1 */
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
	int chan;		/* in a worker: its end of the channel */
};

/*
 * In the child: the chores every fork needs, then the caller's body.
 * A worker whose master is gone (killed outright) drains and exits
 * instead of serving on unsupervised; a fork shares the parent's event
 * loop, which is renewed before anything is dispatched.
 */
static void __attribute__((noreturn))
child(struct workers *w, unsigned slot, unsigned serial, int chan)
{
	unsigned i;

	/* The master's ends of every channel are the master's. */
	for (i = 0; i < w->n; i++)
		if (w->w[i].chan != -1) {
			close(w->w[i].chan);
			w->w[i].chan = -1;
		}
	w->chan = chan;
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
	int sv[2];
	pid_t pid;

	w->master_pid = getpid();
	/* The channel passes sockets bound on reload (workers.h). */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv) == -1) {
		log_msg(LOG_ERR, "event=worker-error worker=%u error=%s", slot,
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_msg(LOG_ERR, "event=worker-error worker=%u error=%s", slot,
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	w->spawned++;
	if (pid == 0) {
		close(sv[0]);
		child(w, slot, w->spawned - 1, sv[1]);
	}
	close(sv[1]);
	w->w[slot].chan = sv[0];
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
		close(w->w[i].chan);
		w->w[i].chan = -1;
		if (w->stopping)
			continue;
		metrics_worker_replaced(i);	/* before a new one counts */
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
	unsigned i;

	if (n < 1 || n > LISTENER_MAX_SLOTS ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->chan = -1;
	for (i = 0; i < LISTENER_MAX_SLOTS; i++)
		w->w[i].chan = -1;
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
	unsigned i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		if (w->w[i].chan != -1)
			close(w->w[i].chan);
	if (w->chan != -1)
		close(w->chan);
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

int
workers_send_socket(struct workers *w, unsigned slot, const void *desc,
    size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)desc, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	if (slot >= w->n || w->w[slot].pid == 0 || w->w[slot].chan == -1 ||
	    len > WORKERS_DESC_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(w->w[slot].chan, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len ? 0 : -1;
}

int
workers_receive_socket(struct workers *w, void *desc, size_t desclen,
    size_t *len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = desc, .iov_len = desclen };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	if (w == NULL || w->chan == -1)
		return -1;
	for (;;) {
		msg.msg_controllen = sizeof(cbuf);
		n = recvmsg(w->chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;	/* none waiting, or the master is gone */
		fd = -1;
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd == -1)
			continue;
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			close(fd);
			continue;
		}
		*len = (size_t)n;
		return fd;
	}
}
