#!/usr/bin/python3
"""xmppshield behind a real HAProxy (TCP mode, send-proxy-v2, from
127.0.0.9), issue 10 defects 4 and 5:

  - the per-address caps count the client the PROXY header names, not the
    balancer: one client behind HAProxy cannot lock the others out;
  - the balancer has its own cap, max_connections_per_balancer;
  - tls = direct with accept_proxy_protocol = yes: the PROXY header is
    read before TLS, byte-exact, and a real TLS client reaches the backend
    through HAProxy with its own address logged.

Clients connect to HAProxy from 127.0.0.2 .. 127.0.0.6, so each is its
own address to the daemon; admission_exempt = none, as loopback is exempt
by default."""
import re
import ssl

from lib import certs, common, daemon, expect, haproxy, raw, spy, tap, util

LB = "127.0.0.9"


def main(t):
    daemon.binary()
    util.require_tool(haproxy.HAPROXY)
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS, spy.close_on_end))

    def listener(tls="starttls"):
        return {"listen": "127.0.0.1:0", "kind": "c2s", "tls": tls,
                "backend": "127.0.0.1:%d" % backend.port,
                "domains": "example.org", "accept_proxy_protocol": "yes",
                "proxy_trusted": LB}

    d = daemon.Daemon(tmp, {
        "global": {"log_level": "info", "workers": 1, "shutdown_grace": 0},
        "tls": {"certificate": cert.cert, "key": cert.key},
        "limits": {"max_connections_per_ip": 2, "connection_rate_per_ip": 4,
                   "max_connections_per_balancer": 12,
                   "admission_exempt": "none"},
        "domain example.org": {},
        "listener lb": listener(),
        "listener lbdirect": listener("direct"),
    }).start()
    lb = haproxy.HAProxy(tmp, {"lb": d.port("lb"),
                               "lbdirect": d.port("lbdirect")},
                         source=LB).start()

    def client(source, name="lb"):
        return raw.RawClient(lb.port[name], source=source, mark=d.mark())

    def served(cl):
        m = cl.open_stream()
        return m is not None and b"urn:ietf:params:xml:ns:xmpp-tls" in \
            cl.data

    def refused_line(cl, reason):
        line = d.wait_for(r"event=%s\b.*\bclient=%s\b.*\breason=%s\b"
                          % (expect.REFUSED, re.escape(cl.local),
                             re.escape(reason)), 10, cl.mark)
        return daemon.parse_line(line) if line else None

    def ended(k, cl):
        """The end-of-session line naming the client (the accept line
        names HAProxy: the header comes after it)."""
        line = d.wait_for(r"event=(%s)\b.*\bclient=%s\b"
                          % ("|".join(expect.END_EVENTS),
                             re.escape(cl.local)), 10, cl.mark)
        k.check(line, "an end-of-session line for client=%s" % cl.local,
                d.text(cl.mark)[-800:])

    held = []
    with t.case("balancer_per_client_cap: behind HAProxy, "
                "max_connections_per_ip = 2 counts the client the PROXY "
                "header names: 127.0.0.2's third is refused "
                "(event=refused client=127.0.0.2 via=%s reason="
                "max-connections-per-ip, <resource-constraint/>), "
                "127.0.0.3 and 127.0.0.4 are still served" % LB) as k:
        for i in range(2):
            cl = client("127.0.0.2")
            held.append(cl)
            k.require(served(cl), "127.0.0.2 connection %d served" % (i + 1),
                      repr(cl.data))
        third = client("127.0.0.2")
        common.stream_error(k, third, expect.SE_RESOURCE_CONSTRAINT)
        ref = refused_line(third, expect.R_MAX_PER_IP)
        if k.check(ref is not None, "event=refused for %s" % third.local,
                   d.text(third.mark)[-1500:]):
            k.check(ref.get("via", "").startswith(LB + ":"),
                    "via=%s:PORT names HAProxy" % LB, ref)
            k.check(ref.get("listener") == "lb" and "connections" in ref,
                    "listener= and connections=", ref)
        third.close()
        for src in ("127.0.0.3", "127.0.0.4"):
            cl = client(src)
            held.append(cl)
            k.check(served(cl), "%s served behind the same balancer" % src,
                    repr(cl.data))
        k.check(not d.lines_matching(r"event=%s\b.*\bclient=%s:"
                                     % (expect.REFUSED, re.escape(LB))),
                "HAProxy's own address was never refused")

    for cl in held:
        cl.close()
    for cl in held:
        ended(k, cl)

    with t.case("direct_tls_behind_haproxy: tls = direct with "
                "accept_proxy_protocol = yes behind HAProxy send-proxy-v2: "
                "a TLS client (ALPN xmpp-client, SNI example.org) gets the "
                "backend's features; tls-established logs client= the "
                "client and via=%s" % LB) as k:
        n = backend.connection_count()
        cl = client("127.0.0.2", "lbdirect")
        ctx = raw.client_context(cert.cert)
        ctx.set_alpn_protocols(["xmpp-client"])
        try:
            cl.upgrade(context=ctx)
        except (OSError, ssl.SSLError) as e:
            k.check(False, "TLS handshake through HAProxy", repr(e))
        else:
            k.check(cl.tls.selected_alpn_protocol() == "xmpp-client",
                    "ALPN xmpp-client", cl.tls.selected_alpn_protocol())
            cl.send(raw.header())
            k.check(cl.recv_until(rb"</stream:features>"),
                    "the backend's features over TLS", repr(cl.data))
            conn = backend.wait_connection(index=n)
            k.check(conn is not None and conn.wait_data(
                rb"<stream:stream", 5), "the backend got the stream header")
            est = d.wait_for(r"event=%s\b.*\bclient=%s\b"
                             % (expect.TLS_ESTABLISHED, re.escape(cl.local)),
                             5, cl.mark)
            if k.check(est, "tls-established client=%s" % cl.local,
                       d.text(cl.mark)[-1500:]):
                k.check(daemon.parse_line(est).get("via", "")
                        .startswith(LB + ":"), "via=%s:PORT" % LB, est)
            cl.send(raw.END)
            cl.read_to_eof(5)
        cl.close()
        ended(k, cl)

    with t.case("balancer_cap: max_connections_per_balancer = 12: with 12 "
                "open through HAProxy the 13th is refused at accept "
                "(event=refused client=%s:PORT reason="
                "max-connections-per-balancer)" % LB) as k:
        mark = d.mark()
        many = []
        for i in range(12):
            cl = client("127.0.0.%d" % (10 + i))
            many.append(cl)
            k.require(served(cl), "connection %d served" % (i + 1),
                      repr(cl.data))
        extra = client("127.0.0.30")
        common.stream_error(k, extra, expect.SE_RESOURCE_CONSTRAINT)
        line = d.wait_for(r"event=%s\b.*\bclient=%s:\d+ .*\breason="
                          r"max-connections-per-balancer\b"
                          % (expect.REFUSED, re.escape(LB)), 10, mark)
        k.check(line, "event=refused for HAProxy's address",
                d.text(mark)[-1500:])
        for cl in many + [extra]:
            cl.close()

    with t.case("balancer_per_client_rate: connection_rate_per_ip = 3 "
                "counts the client: 127.0.0.5's 4th new connection in a "
                "burst through HAProxy is refused (reason=connection-rate), "
                "127.0.0.6 is served right after") as k:
        tmp2 = util.make_tmpdir()
        d2 = daemon.Daemon(tmp2, {
            "global": {"log_level": "info", "workers": 1,
                       "shutdown_grace": 0},
            "tls": {"certificate": cert.cert, "key": cert.key},
            "limits": {"connection_rate_per_ip": 3,
                       "admission_exempt": "none"},
            "domain example.org": {},
            "listener lb": listener(),
        }, name="rate").start()
        lb2 = haproxy.HAProxy(tmp2, {"lb": d2.port("lb")}, source=LB).start()
        mark = d2.mark()
        burst = [raw.RawClient(lb2.port["lb"], source="127.0.0.5")
                 for _ in range(4)]
        line = d2.wait_for(r"event=%s\b.*\bclient=127\.0\.0\.5:\d+ .*"
                           r"\breason=%s\b" % (expect.REFUSED,
                                               expect.R_CONNECTION_RATE),
                           10, mark)
        k.check(line and "via=%s:" % LB in line, "event=refused "
                "client=127.0.0.5:PORT via=%s:PORT reason=connection-rate"
                % LB, d2.text(mark)[-1500:])
        with raw.RawClient(lb2.port["lb"], source="127.0.0.6") as other:
            k.check(served(other), "127.0.0.6 served", repr(other.data))
        k.check(not d2.lines_matching(r"event=%s\b.*\bclient=%s:"
                                      % (expect.REFUSED, re.escape(LB))),
                "HAProxy's own address was never refused")
        for cl in burst:
            cl.close()
        lb2.stop()
        d2.stop()

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
