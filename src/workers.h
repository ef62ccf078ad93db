/*
 * workers.h - the master/worker supervisor (relayd's proc.c in spirit).
 *
 * With workers = N > 1 the process that was started becomes a master:
 * it has bound every listening socket (once per worker slot) and forks
 * one worker per slot.  The master accepts nothing.  It replaces a
 * worker that dies (at once, or after a second if the dead one lived
 * less than that, so a worker failing at start is no fork loop), passes
 * signals on, and on stop waits until the last worker has exited.
 *
 * What a worker does is the caller's: workers_new() takes a run
 * function, called in each freshly forked child after the fork-related
 * chores (parent-death signal, renewed event loop) are done.
 *
 * Each worker has a channel to the master (a SOCK_SEQPACKET pair): a
 * reload that binds new addresses hands each worker its slot's socket
 * over it, so the steering by client address holds on every address.
 *
 * Forks happen only in workers_dispatch(), outside any callback: a child
 * forked inside a callback would run its own loop from inside the
 * master's, which libevent refuses.
 */
#ifndef XMPPSHIELD_WORKERS_H
#define XMPPSHIELD_WORKERS_H

struct event_base;
struct workers;

/*
 * The body of a worker, called in the child: slot is the worker's index
 * (0 .. n-1), serial the number of workers forked before this one by
 * this master (respawns included; unique per daemon run).  Returns the
 * child's exit status; the child never returns to the caller of
 * workers_start() or workers_dispatch().
 */
typedef int (*workers_run_fn)(void *arg, unsigned slot, unsigned serial);

/*
 * A supervisor of n workers on base (the master's event loop), which
 * watches SIGCHLD from now on.  NULL if out of memory.
 */
struct workers *workers_new(struct event_base *base, unsigned n,
    workers_run_fn run, void *arg);

/* Free the supervisor (the master, at exit; workers are not signalled). */
void workers_free(struct workers *w);

/*
 * Fork every worker.  0, or -1 (logged) if a fork failed; the workers
 * already forked are left running (stop them with workers_stop()).
 */
int workers_start(struct workers *w);

/*
 * Run the master's event loop until it ends, forking replacements for
 * dead workers between passes.
 */
void workers_dispatch(struct workers *w);

/* Workers running now. */
unsigned workers_running(const struct workers *w);

/* Send sig to every running worker. */
void workers_signal(struct workers *w, int sig);

/*
 * Sockets bound by the master after the fork (a reload adding an
 * address) reach a worker over its channel: a description of at most
 * WORKERS_DESC_MAX bytes and one descriptor per message.
 */
#define WORKERS_DESC_MAX	512

/*
 * The master: send a copy of fd (the master keeps its own) to the worker
 * of slot, without blocking.  0, or -1 with errno set (no such worker,
 * or its channel is full).  Send before signalling the worker.
 */
int workers_send_socket(struct workers *w, unsigned slot, const void *desc,
    size_t len, int fd);

/*
 * A worker: the next socket its master sent (close-on-exec, now the
 * caller's), with its description in desc (*len bytes); -1 when none is
 * waiting.  Never blocks.
 */
int workers_receive_socket(struct workers *w, void *desc, size_t desclen,
    size_t *len);

/*
 * Stop: no more replacements, sig to every worker, and the master's loop
 * ends once the last one has exited (at once if none is running).  May
 * be called again (a second SIGTERM is passed on too).
 */
void workers_stop(struct workers *w, int sig);

#endif
