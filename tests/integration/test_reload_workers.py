#!/usr/bin/python3
"""SIGHUP with several workers (workers = 2): the listening sockets follow
the new configuration in the master as in every worker.  An address
removed on reload refuses connections (the master keeps no copy that
would complete handshakes nobody accepts); an address added on reload is
steered by client address like those bound at start (per-address caps
exact across workers and addresses); a removed address can be added
again, and a worker replaced later inherits the master's sockets as they
are now.  And every generation is released once nothing holds it, the
first one included (event=generation-freed, debug)."""
import errno
import os
import signal
import socket

from lib import certs, daemon, raw, spy, tap, util

WORKERS = 2
PER_IP = 3


def main(t):
    daemon.binary()
    tmp = util.make_tmpdir()
    cert = certs.make_cert(tmp, "ecdsa")
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS))
    extra_port = util.free_port()
    added_port = util.free_port()
    while added_port == extra_port:
        added_port = util.free_port()

    def config(extra=True, added=False):
        cfg = daemon.base_config(cert, backend.port, log_level="debug",
                                 limits={"max_connections_per_ip": PER_IP,
                                         # loopback is exempt by default
                                         "admission_exempt": "none"})
        cfg["global"]["workers"] = WORKERS
        for name, on, port in (("extra", extra, extra_port),
                               ("added", added, added_port)):
            if on:
                cfg["listener " + name] = {
                    "listen": "127.0.0.1:%d" % port, "kind": "c2s",
                    "backend": "127.0.0.1:%d" % backend.port,
                    "domains": "example.org"}
        return cfg

    d = daemon.Daemon(tmp, config()).start()

    def lines_from_each(rx, start, n):
        """The pids of the first n lines matching rx after start, one per
        process; fewer if they do not come."""
        pids = []
        for _ in range(n):
            line = d.wait_for(rx, start=start)
            if line is None:
                break
            pids.append(int(daemon.parse_line(line)["_pid"]))
            start = d.log.lines.index(line) + 1
        return pids

    workers = lines_from_each(r"event=worker-started\b", 0, WORKERS)
    first_workers = list(workers)

    def reload(cfg):
        """SIGHUP with cfg; True once every worker has reloaded."""
        daemon.write_config(d.conf, cfg)
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        return len(set(lines_from_each(r"event=reloaded\b", mark,
                                       WORKERS))) == WORKERS

    def connect(port, source="127.0.0.1"):
        """A client on port; (client, pid of the worker that accepted it,
        or None if refused)."""
        mark = d.mark()
        c = raw.RawClient(port, mark=mark, source=source)
        m = c.open_stream()
        if m is None or b"<starttls" not in c.data:
            return c, None
        acc = d.accept_of(c)
        return c, int(acc["_pid"]) if acc else None

    def connect_errno(port):
        s = socket.socket()
        s.settimeout(5)
        try:
            return s.connect_ex(("127.0.0.1", port))
        except socket.timeout:
            return errno.ETIMEDOUT
        finally:
            s.close()

    with t.case("workers=2, SIGHUP removing an address: a connection to it "
                "is refused at once, not left hanging") as k:
        k.require(len(workers) == WORKERS, "both workers started", workers)
        c, pid = connect(extra_port)
        k.check(pid in workers, "served before the reload", c.data[-200:])
        c.close()
        k.require(reload(config(extra=False)), "event=reloaded from each "
                  "worker")
        got = connect_errno(extra_port)
        k.check(got == errno.ECONNREFUSED, "connection refused",
                errno.errorcode.get(got, got))
        c, pid = connect(d.port())
        k.check(pid in workers, "the address kept still serves")
        c.close()

    with t.case("workers=2, SIGHUP adding an address: it is steered like "
                "the others, so max_connections_per_ip holds across "
                "workers and addresses") as k:
        mark = d.mark()
        k.require(reload(config(extra=False, added=True)),
                  "event=reloaded from each worker")
        listening = d.lines_matching(r"event=listening\b.*\blistener=added\b",
                                     mark)
        k.check(len(listening) == 1, "one event=listening, from the "
                "master", listening)
        src = "127.0.0.7"
        held = []
        first, pid0 = connect(d.port(), src)
        held.append(first)
        k.require(pid0 in workers, "the first connection is served")
        admitted, pids = 0, set()
        for _ in range(2 * PER_IP):
            c, pid = connect(added_port, src)
            held.append(c)
            if pid is not None:
                admitted += 1
                pids.add(pid)
        k.check(admitted == PER_IP - 1, "%d of %d admitted on the added "
                "address (%d held on the first)" % (PER_IP - 1, 2 * PER_IP,
                                                    1), admitted)
        k.check(pids == {pid0}, "all by the worker serving that client "
                "address on the first listener", (pids, pid0))
        for c in held:
            c.close()
        # another client address may reach the other worker: the group
        # really spreads
        spread = set()
        for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"):
            c, pid = connect(added_port, src)
            spread.add(pid)
            c.close()
        k.check(spread == set(workers), "both workers serve the added "
                "address", (spread, workers))

    with t.case("workers=2, SIGHUP adding a removed address again: it "
                "serves, steered") as k:
        k.require(reload(config(extra=True, added=True)),
                  "event=reloaded from each worker")
        by_src = {}
        for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"):
            c, pid = connect(extra_port, src)
            k.check(pid in workers, "served from %s" % src, c.data[-200:])
            c.close()
            c, pid2 = connect(d.port(), src)
            by_src[src] = (pid, pid2)
            c.close()
        k.check(all(a == b for a, b in by_src.values()),
                "each client address reaches one worker on both listeners",
                by_src)

    with t.case("workers=2: a worker replaced after the reloads serves "
                "the added address from the master's sockets, steered") as k:
        c, victim = connect(added_port, "127.0.0.9")
        c.close()
        k.require(victim in workers, "served before", c.data[-200:])
        mark = d.mark()
        os.kill(victim, signal.SIGKILL)
        new = lines_from_each(r"event=worker-started\b", mark, 1)
        k.require(len(new) == 1 and victim not in new, "a new worker "
                  "started", new)
        for port in (added_port, extra_port, d.port()):
            c, pid = connect(port, "127.0.0.9")
            k.check(pid == new[0], "port %d: served by the new worker"
                    % port, (pid, new))
            c.close()
        workers[workers.index(victim)] = new[0]

    with t.case("the first generation is released after a reload, in the "
                "master and in each worker (event=generation-freed "
                "generation=1)") as k:
        pids = set(lines_from_each(
            r"event=generation-freed generation=1\b", 0, WORKERS + 1))
        k.check(pids == set(first_workers) | {d.proc.pid}, "freed by all "
                "three processes", (pids, first_workers, d.proc.pid))
        pids = set(lines_from_each(
            r"event=generation-freed generation=2\b", 0, WORKERS + 1))
        k.check(pids == set(first_workers) | {d.proc.pid}, "and the "
                "second", pids)

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    rc = d.stop()
    t.ok(rc == 0, "the master exits 0", rc)


if __name__ == "__main__":
    tap.main(main)
