#!/usr/bin/python3
"""SIGTERM with a session in the relay phase: the client gets
<system-shutdown/> at a stanza boundary, the backend connection is closed,
the session logs reason=shutdown once, and the daemon exits 0.  A SIGHUP
during the shutdown grace (a log rotation's reload) is ignored and logged,
never fatal, in a single process as in a master and its workers.  (The
grace period itself and a second SIGTERM: test_reload.py.)"""
import os
import re
import signal

from lib import certs, common, daemon, expect, spy, tap, util


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS))
    d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port)).start()

    with t.case("SIGTERM: a relayed session gets <system-shutdown/>, "
                "reason=shutdown, the daemon exits 0") as k:
        n = backend.connection_count()
        cl = common.relayed(d.client(), cert.cert)
        conn = backend.wait_connection(index=n)
        k.require(conn is not None, "the daemon connected to the backend")
        d.proc.send_signal(signal.SIGTERM)
        common.stream_error(k, cl, expect.SE_SYSTEM_SHUTDOWN)
        cl.close()
        common.end_line(k, d, cl, expect.CLOSE, expect.R_SHUTDOWN)
        k.check(conn.wait_closed(), "backend connection closed")
        try:
            rc = d.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "exit status 0", rc)
        accepts, bad = common.end_lines_not_once(d)
        k.check(accepts and not bad, "the session logged exactly one end "
                "line", "\n".join(bad) or "no sessions seen")
        k.check(not backend.errors, "scripted backend ran without errors",
                "\n".join(backend.errors))
    d.stop()

    def grace_daemon(workers):
        dd = util.make_tmpdir()
        return daemon.Daemon(dd, daemon.base_config(
            cert, backend.port, extra={"global": {
                "shutdown_grace": 60, "workers": workers}})).start()

    def relayed_session(dd):
        n = backend.connection_count()
        cl = common.relayed(dd.client(), cert.cert)
        conn = backend.wait_connection(index=n)
        if conn is None:
            raise util.HarnessError("daemon did not connect to the backend")
        return cl, conn

    def still_relays(k, cl, conn, n):
        st = ("<message to='bob@example.org' id='after-hup-%d'/>"
              % n).encode()
        mark = len(conn.data)
        k.check(cl.try_send(st) and
                conn.wait_data(re.escape(st), start=mark),
                "the session in grace still relays", repr(conn.data[mark:]))

    def second_term(k, dd, cl):
        dd.proc.send_signal(signal.SIGTERM)
        common.stream_error(k, cl, expect.SE_SYSTEM_SHUTDOWN)
        cl.close()
        try:
            rc = dd.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "a second SIGTERM ends the grace; exit status 0 "
                "(not killed by SIGHUP)", rc)

    with t.case("SIGHUP during the shutdown grace: event=reload-ignored "
                "reason=stopping, the daemon and its session live on") as k:
        dg = grace_daemon(1)
        cl, conn = relayed_session(dg)
        mark = dg.mark()
        dg.proc.send_signal(signal.SIGTERM)
        k.require(dg.wait_for(r"event=stopping\b", start=mark),
                  "event=stopping")
        dg.proc.send_signal(signal.SIGHUP)
        line = dg.wait_for(r"event=reload-ignored\b", start=mark)
        k.check(line and "reason=stopping" in line,
                "event=reload-ignored reason=stopping", line)
        k.check(dg.alive(), "still running", dg.text(mark))
        still_relays(k, cl, conn, 1)
        second_term(k, dg, cl)
        dg.stop()

    with t.case("workers=2: SIGHUP to the master and to a worker during the "
                "shutdown grace is ignored by both, never fatal") as k:
        dg = grace_daemon(2)
        cl, conn = relayed_session(dg)
        acc = dg.accept_of(cl)
        k.require(acc is not None, "accept line")
        worker = int(acc["_pid"])
        mark = dg.mark()
        dg.proc.send_signal(signal.SIGTERM)
        k.require(dg.wait_for(r"xmppshield\[%d\]: \w+: event=stopping\b"
                              % worker, start=mark),
                  "the worker logged event=stopping")
        dg.proc.send_signal(signal.SIGHUP)
        os.kill(worker, signal.SIGHUP)
        for pid, who in ((dg.proc.pid, "master"), (worker, "worker")):
            line = dg.wait_for(r"xmppshield\[%d\]: \w+: "
                               r"event=reload-ignored reason=stopping\b"
                               % pid, start=mark)
            k.check(line is not None, "the %s logged event=reload-ignored"
                    % who, dg.text(mark)[-1500:])
        k.check(dg.alive(), "the master still runs")
        still_relays(k, cl, conn, 2)
        second_term(k, dg, cl)
        dg.stop()


if __name__ == "__main__":
    tap.main(main)
