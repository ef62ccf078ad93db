#!/usr/bin/python3
"""Feature rewriting fails closed (issue 10, defect 8).  xmppshield
removes <starttls/> and <compression/> from the backend's
<stream:features/>; it can remove 16 children from one unit.  A backend
that offers more (a bug, or a stanza built to smuggle a STARTTLS offer
past the proxy) used to get the 17th through to the client.  Now the
stream ends with <internal-server-error/>, event=backend-error
reason=bad-xml detail=strip-limit, and no offer reaches the client."""
from lib import common, daemon, expect, raw, spy, tap, util

LIMIT = 16


def main(t):
    tmp, cert, backend = common.spy_world()
    d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port)).start()

    def offer(features):
        backend.handler = spy.xmpp_script(features)
        n = backend.connection_count()
        cl = common.relayed(d.client(), cert.cert, features=False)
        if backend.wait_connection(index=n) is None:
            raise util.HarnessError("no backend connection")
        return cl

    for what, child in (("starttls", spy.STARTTLS_FEATURE),
                        ("compression", spy.COMPRESSION_FEATURE)):
        with t.case("test_strip_limit: %d <%s/> in the backend's features "
                    "are all removed, the rest passes" % (LIMIT, what)) as k:
            cl = offer(child * LIMIT + spy.MECHANISMS)
            k.check(cl.recv_until(rb"</stream:features>"),
                    "the features came", repr(cl.data[-200:]))
            k.check(what.encode() not in cl.data, "no <%s/> passed" % what,
                    repr(cl.data))
            k.check(spy.MECHANISMS.encode() in cl.data,
                    "mechanisms byte for byte", repr(cl.data))
            cl.close()

        with t.case("test_strip_limit: %d <%s/>: the stream fails closed, "
                    "none reaches the client" % (LIMIT + 1, what)) as k:
            cl = offer(child * (LIMIT + 1) + spy.MECHANISMS)
            common.stream_error(k, cl, "internal-server-error")
            k.check(what.encode() not in cl.data and
                    b"<stream:features" not in cl.data,
                    "no features and no <%s/> reached the client" % what,
                    repr(cl.data))
            common.end_line(k, d, cl, expect.BACKEND_ERROR,
                            expect.R_BACKEND_BAD_XML, detail="strip-limit")
            cl.close()

    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
