#!/usr/bin/python3
"""SIGTERM with a session in the relay phase: the client gets
<system-shutdown/> at a stanza boundary, the backend connection is closed,
the session logs reason=shutdown once, and the daemon exits 0.  (The grace
period and a second SIGTERM: test_reload.py.)"""
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


if __name__ == "__main__":
    tap.main(main)
