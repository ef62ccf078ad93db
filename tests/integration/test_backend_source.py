#!/usr/bin/python3
"""backend_source: backend connections come from the listed local
addresses in turn (each adds an ephemeral port range towards one
backend), and a list the backend cannot use is refused at start."""
import os

from lib import certs, common, daemon, spy, tap, util


def main(t):
    daemon.binary()
    tmp = util.make_tmpdir()
    cert = certs.make_cert(tmp, "ecdsa")
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS))
    cfg = daemon.base_config(cert, backend.port)
    cfg["listener c2s"]["backend_source"] = "127.0.0.5 [::1] 127.0.0.6"
    d = daemon.Daemon(tmp, cfg).start()

    with t.case("backend connections come from each backend_source of the "
                "backend's family in turn; the IPv6 one is skipped for an "
                "IPv4 backend") as k:
        for i in range(4):
            try:
                common.relayed(d.client()).close()
                reached = True
            except util.HarnessError as e:
                reached = str(e)
            k.check(reached is True,
                    "session %d reaches the backend's features" % i, reached)
        sources = [backend.wait_connection(index=i).addr[0]
                   for i in range(4)]
        k.check(sources == ["127.0.0.5", "127.0.0.6"] * 2,
                "the backend saw 127.0.0.5, .6, .5, .6", sources)
    d.stop()

    with t.case("a backend_source list with no address of the backend's "
                "family, or with a port, is refused with file:line") as k:
        for value, want in (("[::1]", "no backend_source of the backend's "
                             "address family (IPv4)"),
                            ("127.0.0.5:1000", "is not a numeric IP "
                             "address")):
            bad = daemon.base_config(cert, backend.port)
            bad["listener c2s"]["backend_source"] = value
            path = daemon.write_config(os.path.join(tmp, "bad.conf"), bad)
            r = daemon.check_config(path)
            k.check(r.returncode == 1 and want in r.stderr and
                    "bad.conf:" in r.stderr,
                    "backend_source = %s refused: %s" % (value, want),
                    r.stderr)


if __name__ == "__main__":
    tap.main(main)
