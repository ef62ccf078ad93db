#!/usr/bin/python3
"""IPv6: a listener on [::1] beside one on 127.0.0.1, both logged with the
address really bound, and a client over IPv6 relayed to the backend."""
from lib import certs, common, daemon, expect, raw, spy, tap, util


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    name6 = ("listening on [::1] and 127.0.0.1: both addresses logged, a "
             "client over IPv6 is relayed")
    if not util.have_ipv6_loopback():
        t.skip(name6, "no IPv6 loopback here")
        return
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS))
    with t.case(name6) as k:
        d = daemon.Daemon(tmp, daemon.base_config(
            cert, backend.port, listen="[::1]:0 127.0.0.1:0")).start()
        hosts = sorted(h for h, p in d.addresses["c2s"])
        k.check(hosts == ["127.0.0.1", "::1"], "two listening lines", hosts)
        n = backend.connection_count()
        with d.client(family=6) as cl:
            k.require(cl.open_stream(), "features", repr(cl.data))
            cl.starttls(cafile=cert.cert)
            cl.send(raw.header())
            k.check(cl.recv_until(rb"</stream:features>"),
                    "backend features", repr(cl.data))
            k.check(backend.wait_connection(index=n) is not None,
                    "the daemon connected to the backend")
        common.end_line(k, d, cl, expect.CLOSE, expect.R_CLIENT_CLOSED)
        k.check(not backend.errors, "scripted backend ran without errors",
                "\n".join(backend.errors))
        d.stop()


if __name__ == "__main__":
    tap.main(main)
