#!/usr/bin/python3
"""PROXY protocol with real peers on both sides of the real daemon:

  client (127.0.0.2) -> xmppshield -PROXY v2-> ejabberd (use_proxy_protocol)
  client -> HAProxy (TCP, send-proxy-v2, source 127.0.0.9)
         -> xmppshield (accept_proxy_protocol, proxy_trusted = 127.0.0.9)
         -PROXY v1-> ejabberd

ejabberd must show the client's own address (ejabberdctl
connected_users_info, and its log), never the daemon's 127.0.0.1; the
daemon must log the client behind HAProxy as client= and HAProxy as via=.
Clients: raw sockets (SASL PLAIN, resource binding) and openssl s_client
-starttls xmpp."""
import base64
import re
import subprocess
import time

from lib import (backend_suite, certs, common, daemon, ejabberd, expect,
                 haproxy, raw, tap, util)

LB_SOURCE = "127.0.0.9"
CLIENT_SOURCE = "127.0.0.2"
USERS = {"alice": "alice-Pw-1", "bob": "bob-Pw-2", "carol": "carol-Pw-3"}


def plain(user, pw):
    return base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()


def login(k, cl, cert, user, resource="r1", direct=False):
    """STARTTLS (direct: TLS from the first byte, ALPN xmpp-client), SASL
    PLAIN, restart, bind; True when bound."""
    if direct:
        ctx = raw.client_context(cert.cert)
        ctx.set_alpn_protocols(["xmpp-client"])
        cl.upgrade(context=ctx)
    else:
        k.require(cl.open_stream(), "pre-TLS features", repr(cl.data))
        cl.starttls(cafile=cert.cert)
    cl.send(raw.header())
    k.require(cl.recv_until(rb"</stream:features>"), "backend features",
              repr(cl.data))
    m = len(cl.data)
    cl.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='PLAIN'>%s</auth>" % plain(user, USERS[user]))
    k.require(cl.recv_until(rb"<success", start=m), "SASL success",
              repr(cl.data[m:]))
    m = len(cl.data)
    cl.send(raw.header())
    k.require(cl.recv_until(rb"<bind\b.*</stream:features>", start=m),
              "features with <bind/>", repr(cl.data[m:]))
    m = len(cl.data)
    cl.send("<iq type='set' id='b1'><bind xmlns='%s'><resource>%s</resource>"
            "</bind></iq>" % (raw.NS_BIND, resource))
    k.require(cl.recv_until(rb"<jid>[^<]*</jid>", start=m), "bound",
              repr(cl.data[m:]))


def sessions(be):
    """ejabberdctl connected_users_info: {jid/resource: (ip, port)}."""
    r = be.ctl("connected_users_info")
    out = {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) >= 9:
            out[f[0]] = (f[2], f[3])
    return out, r.stdout + r.stderr


def ejabberd_sees_client_port(k, be, cl, user):
    """ejabberd's session for user/r1 comes from the client's own port
    (through two PROXY headers); then the client ends its stream."""
    port = cl.local.rsplit(":", 1)[1]
    s, out = sessions(be)
    k.check(s.get("%s@example.org/r1" % user) == ("127.0.0.1", port),
            "ejabberd: %s@example.org/r1 from 127.0.0.1 port %s "
            "(the client's, through two PROXY headers)" % (user, port), out)
    cl.send(raw.END)
    cl.read_to_eof(5)


def end_line_via(k, d, cl, mark):
    """The session's end line names the client and HAProxy (via=)."""
    line = d.wait_for(r"event=%s\b.*\bclient=%s\b"
                      % (expect.CLOSE, re.escape(cl.local)), 10, mark)
    k.check(line and "via=%s:" % LB_SOURCE in line,
            "end line with client= and via=", d.text(mark)[-800:])


def main(t):
    daemon.binary()
    why = ejabberd.available()
    if why:
        raise util.Skip(why)
    util.require_tool(haproxy.HAPROXY)
    openssl = util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    be = ejabberd.Ejabberd(tmp, cert=cert, offer_starttls=True,
                           proxy_protocol=True, admin_extra=True).start()
    tap.diag("ejabberd with use_proxy_protocol ready in %.2f s"
             % be.start_time)
    for u, pw in USERS.items():
        be.register(u, pw)

    def listener(backend_proxy, accept="no", trusted=None, tls="starttls"):
        return {"listen": "127.0.0.1:0", "kind": "c2s", "tls": tls,
                "backend": "127.0.0.1:%d" % be.port,
                "domains": "example.org",
                "backend_proxy_protocol": backend_proxy,
                "accept_proxy_protocol": accept, "proxy_trusted": trusted}

    d = daemon.Daemon(tmp, {
        "global": {"log_level": "info", "workers": 1, "shutdown_grace": 0},
        "tls": {"certificate": cert.cert, "key": cert.key},
        "limits": {"connection_rate_per_ip": 0},
        "domain example.org": {},
        "listener direct": listener("v2"),
        "listener lb": listener("v1", "yes", LB_SOURCE),
        "listener lbdirect": listener("v2", "yes", LB_SOURCE, "direct"),
    }).start()
    lb = haproxy.HAProxy(tmp, {"xmpp": d.port("lb")}, maxconn=64).start()
    lbd = haproxy.HAProxy(util.make_tmpdir(), {"xmpps": d.port("lbdirect")},
                          source=LB_SOURCE).start()

    with t.case("xmppshield -> ejabberd with PROXY v2: ejabberd shows the "
                "client's address %s, not the daemon's 127.0.0.1 "
                "(connected_users_info and its log)" % CLIENT_SOURCE) as k:
        with d.client("direct", source=CLIENT_SOURCE) as cl:
            login(k, cl, cert, "alice")
            port = cl.local.rsplit(":", 1)[1]
            s, out = sessions(be)
            k.check(s.get("alice@example.org/r1") ==
                    (CLIENT_SOURCE, port),
                    "connected_users_info: alice@example.org/r1 from %s "
                    "port %s" % (CLIENT_SOURCE, port), out)
            k.check(re.search(r"Accepted c2s PLAIN authentication for "
                              r"alice@example\.org.* from %s"
                              % re.escape(CLIENT_SOURCE), be.log_text()),
                    "ejabberd's log: authentication from %s" % CLIENT_SOURCE,
                    util.tail_file(be.log_path(), 10))
            cl.send(raw.END)
            cl.read_to_eof(5)
        end = common.end_line(k, d, cl, expect.CLOSE)
        k.check(end and end.get("client") == cl.local,
                "the daemon logs the same client %s" % cl.local, end)

    with t.case("client -> HAProxy send-proxy-v2 -> xmppshield -> PROXY v1 "
                "-> ejabberd: the daemon logs client= the client and via= "
                "HAProxy, ejabberd sees the client's port") as k:
        mark = d.mark()
        with raw.RawClient(lb.port["xmpp"]) as cl:
            login(k, cl, cert, "bob")
            est = d.wait_for(r"event=%s\b.*\bclient=%s\b"
                             % (expect.TLS_ESTABLISHED, re.escape(cl.local)),
                             5, mark)
            k.check(est, "tls-established client=%s" % cl.local,
                    d.text(mark)[-800:])
            if est:
                via = daemon.parse_line(est).get("via", "")
                k.check(via.startswith(LB_SOURCE + ":"),
                        "via=%s:PORT (HAProxy's source)" % LB_SOURCE, est)
            ejabberd_sees_client_port(k, be, cl, "bob")
        end_line_via(k, d, cl, mark)

    with t.case("openssl s_client -starttls xmpp through HAProxy: TLS "
                "established; the daemon's log names HAProxy as via=") as k:
        mark = d.mark()
        p = subprocess.Popen(
            [openssl, "s_client", "-starttls", "xmpp", "-xmpphost",
             "example.org", "-connect", "127.0.0.1:%d" % lb.port["xmpp"],
             "-CAfile", cert.cert, "-verify_return_error", "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        util.on_cleanup(util.stop_process, p)
        est = d.wait_for(r"event=%s\b.*\bvia=%s:\d+"
                         % (expect.TLS_ESTABLISHED, re.escape(LB_SOURCE)),
                         10, mark)
        k.check(est, "tls-established ... via=%s:PORT" % LB_SOURCE,
                d.text(mark)[-800:])
        if est:
            e = daemon.parse_line(est)
            k.check(e.get("client", "").startswith("127.0.0.1:") and
                    e.get("client") != e.get("via"),
                    "client= is s_client's own 127.0.0.1:PORT", e)
        p.stdin.close()
        util.stop_process(p, 5)

    with t.case("direct_tls_login_behind_haproxy: client -> HAProxy "
                "send-proxy-v2 -> xmppshield tls = direct (XEP-0368, ALPN "
                "xmpp-client) -> PROXY v2 -> ejabberd: SASL login and "
                "resource binding succeed; ejabberd sees the client's port, "
                "the daemon logs client= the client and via= HAProxy") as k:
        mark = d.mark()
        with raw.RawClient(lbd.port["xmpps"], mark=mark) as cl:
            login(k, cl, cert, "carol", direct=True)
            est = d.wait_for(r"event=%s\b.*\bclient=%s\b"
                             % (expect.TLS_ESTABLISHED, re.escape(cl.local)),
                             5, mark)
            if k.check(est, "tls-established client=%s" % cl.local,
                       d.text(mark)[-800:]):
                e = daemon.parse_line(est)
                k.check(e.get("via", "").startswith(LB_SOURCE + ":"),
                        "via=%s:PORT (HAProxy's source)" % LB_SOURCE, est)
                k.check(e.get("listener") == "lbdirect", "listener=lbdirect",
                        est)
            ejabberd_sees_client_port(k, be, cl, "carol")
        end_line_via(k, d, cl, mark)

    with t.case("straight to the HAProxy-only listener, bypassing HAProxy: "
                "closed, event=policy-violation reason=proxy-untrusted") as k:
        with d.client("lb") as cl:
            cl.try_send(raw.header())
            k.check(cl.read_to_eof(5) and cl.data == b"",
                    "closed with nothing sent", repr(cl.data))
        common.end_line(k, d, cl, expect.POLICY, "proxy-untrusted")

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
