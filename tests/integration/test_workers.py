#!/usr/bin/python3
"""Several worker processes: one master that binds, forks and watches;
connections steered by client address (so per-address caps hold across
workers); a DRBG reseeded in every worker; a killed worker replaced; reload
and stop reaching every worker."""
import os
import signal

from lib import certs, daemon, spy, tap, util

WORKERS = 2


def main(t):
    daemon.binary()
    tmp = util.make_tmpdir()
    cert = certs.make_cert(tmp, "ecdsa")
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS))
    # loopback is admission_exempt by default: the caps are tested here
    cfg = daemon.base_config(cert, backend.port, limits={
        "max_connections_per_ip": 3, "admission_exempt": "none"})
    cfg["global"]["workers"] = WORKERS
    d = daemon.Daemon(tmp, cfg).start()

    def worker_pids(start=0, n=WORKERS):
        pids = {}
        for _ in range(n):
            line = d.wait_for(r"event=worker-started\b", start=start)
            if line is None:
                break
            p = daemon.parse_line(line)
            pids[p["worker"]] = int(p["pid"])
            start = d.log.lines.index(line) + 1
        return pids

    def served_by(cl):
        """The PID that logged the accept line of this client."""
        acc = d.accept_of(cl)
        return int(acc["_pid"]) if acc else None

    with t.case("workers=2: a master and two worker processes, each a "
                "child of the master") as k:
        started = d.wait_for(r"event=started\b")
        k.check(started and "workers=%d" % WORKERS in started,
                "event=started workers=2", started)
        pids = worker_pids()
        k.check(len(pids) == WORKERS and len(set(pids.values())) == WORKERS,
                "two worker-started lines with distinct PIDs", pids)
        for pid in pids.values():
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            k.check(ppid == d.proc.pid, "worker %d's parent is the master"
                    % pid, ppid)

    with t.case("connections are steered by client address: one address "
                "always reaches the same worker, and each worker's stream "
                "ids come from its own reseeded DRBG") as k:
        by_source = {}
        ids = {}
        for src in ("127.0.0.1", "127.0.0.2"):
            for _ in range(3):
                c = d.client(source=src)
                c.open_stream()
                pid = served_by(c)
                by_source.setdefault(src, set()).add(pid)
                hdr = c.view().header or {}
                ids.setdefault(pid, hdr.get("id"))
                c.close()
        k.check(all(len(v) == 1 for v in by_source.values()),
                "each source address reached one worker", by_source)
        k.check(len(set().union(*by_source.values())) == WORKERS,
                "the two addresses reached different workers", by_source)
        firsts = list(ids.values())
        k.check(len(firsts) == WORKERS and len(set(firsts)) == WORKERS,
                "the first stream ids of the two workers differ (no shared "
                "random stream after fork)", ids)

    with t.case("max_connections_per_ip holds across workers: the 4th "
                "connection from one address is refused") as k:
        open_ = [d.client(source="127.0.0.3") for _ in range(3)]
        for c in open_:
            c.open_stream()
        mark = d.mark()
        extra = d.client(source="127.0.0.3")
        extra.read_to_eof(5)
        k.check(extra.view().stream_error() == "resource-constraint",
                "<resource-constraint/>", extra.data[-200:])
        line = d.wait_for(r"event=refused\b.*reason=max-connections-per-ip",
                          start=mark)
        k.check(line is not None, "event=refused "
                "reason=max-connections-per-ip logged", line)
        for c in open_ + [extra]:
            c.close()

    with t.case("a killed worker is replaced and its clients are served "
                "again") as k:
        c = d.client(source="127.0.0.1")
        c.open_stream()
        victim = served_by(c)
        c.close()
        mark = d.mark()
        os.kill(victim, signal.SIGKILL)
        line = d.wait_for(r"event=worker-exited\b", start=mark)
        k.check(line is not None and "signal=9" in line,
                "event=worker-exited signal=9 logged", line)
        new = worker_pids(start=mark, n=1)
        k.check(len(new) == 1 and victim not in new.values(),
                "a new worker started", new)
        c = d.client(source="127.0.0.1")
        ok = c.open_stream()
        k.check(bool(ok) and b"<starttls" in c.data,
                "the same client address is served again", c.data[-200:])
        k.check(served_by(c) in new.values(), "by the new worker")
        c.close()

    with t.case("SIGHUP reaches every worker; SIGTERM stops them all and "
                "the master exits 0") as k:
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        got = []
        start = mark
        for _ in range(WORKERS):
            line = d.wait_for(r"event=reloaded\b", start=start)
            if line is None:
                break
            got.append(int(daemon.parse_line(line)["_pid"]))
            start = d.log.lines.index(line) + 1
        k.check(len(set(got)) == WORKERS, "event=reloaded from each worker",
                got)
        pids = [int(daemon.parse_line(l)["_pid"])
                for l in d.lines_matching(r"event=worker-started\b")]
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "master exited 0", rc)
        alive = [p for p in pids if os.path.exists("/proc/%d" % p) and
                 "zombie" not in open("/proc/%d/status" % p).read()]
        k.check(not alive, "no worker left running", alive)

    with t.case("a master killed outright (SIGKILL) takes its workers "
                "with it: they get SIGTERM and exit") as k:
        tmp2 = util.make_tmpdir()
        d2 = daemon.Daemon(tmp2, cfg).start()
        d2.wait_for(r"event=started\b")
        pids = []
        start = 0
        for _ in range(WORKERS):
            line = d2.wait_for(r"event=worker-started\b", start=start)
            if line is None:
                break
            pids.append(int(daemon.parse_line(line)["pid"]))
            start = d2.log.lines.index(line) + 1
        k.require(len(pids) == WORKERS, "both workers started", pids)
        os.kill(d2.proc.pid, signal.SIGKILL)
        d2.proc.wait(5)
        for pid in pids:
            line = d2.wait_for(r"xmppshield\[%d\]: \w+: event=stopped\b"
                               % pid, start=start)
            k.check(line is not None, "worker %d logged event=stopped"
                    % pid, d2.text(start)[-800:])


if __name__ == "__main__":
    tap.main(main)
