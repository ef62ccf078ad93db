#!/usr/bin/python3
"""One certificate per served domain, chosen by SNI or the stream's 'to',
checked by the certificate subject a real client (openssl s_client, Python's
ssl) sees; the refusals when SNI and the pre-TLS 'to' disagree (cf. Prosody
CVE-2018-10847), sni_strict, and per-domain backends."""
from lib import certs, common, daemon, expect, raw, sclient, spy, tap, util


def established(k, d, mark, **kv):
    line = d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED, start=mark)
    e = daemon.parse_line(line) if line else {}
    for key, v in kv.items():
        k.check(e.get(key) == v, "tls-established %s=%s" % (key, v), e)
    return e


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    ca = certs.make_cert(tmp, "rsa", "example.org")
    cb = certs.make_cert(tmp, "ecdsa", "b.example")
    cc = certs.make_cert(tmp, "rsa", "c.example")
    feats = spy.MECHANISMS
    spy_a = spy.Spy(spy.xmpp_script(feats, spy.close_on_end))
    spy_b = spy.Spy(spy.xmpp_script(feats, spy.close_on_end))
    spy_b_s2s = spy.Spy(spy.xmpp_script("", spy.close_on_end))
    dead = spy.refused_port()

    def config(strict):
        return {
            "tls": {"certificate": ca.cert, "key": ca.key,
                    "sni_strict": "yes" if strict else "no"},
            "domain example.org": {},
            "domain b.example": {
                "certificate": cb.cert, "key": cb.key,
                "backend": "127.0.0.1:%d" % spy_b.port,
                "s2s_backend": "127.0.0.1:%d" % spy_b_s2s.port},
            "domain c.example": {"certificate": cc.cert, "key": cc.key,
                                 "backend": "127.0.0.1:%d" % dead},
            "listener c2s": {"listen": "127.0.0.1:0",
                             "backend": "127.0.0.1:%d" % spy_a.port,
                             "domains": "example.org b.example c.example"},
            "listener direct": {"listen": "127.0.0.1:0", "tls": "direct",
                                "backend": "127.0.0.1:%d" % spy_a.port,
                                "domains": "b.example example.org"},
            "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                             "backend": "127.0.0.1:%d" % spy_a.port,
                             "domains": "example.org b.example"},
        }

    d = daemon.Daemon(tmp, config(False)).start()
    c2s, direct = d.port("c2s"), d.port("direct")

    # -- STARTTLS: the stream's 'to', SNI --------------------------------
    for to, cn in (("example.org", "example.org"), ("b.example", "b.example"),
                   ("c.example", "c.example")):
        with t.case("STARTTLS to='%s' without SNI: certificate CN=%s"
                    % (to, cn)) as k:
            mark = d.mark()
            r = sclient.run(c2s, starttls="xmpp", xmpphost=to)
            k.check(r.ok and r.subject_cn == cn, "s_client sees CN=%s" % cn,
                    r)
            established(k, d, mark, domain=to, sni="-", alpn="-")

    with t.case("STARTTLS to='b.example' with SNI b.example: accepted, "
                "sni=b.example logged") as k:
        mark = d.mark()
        r = sclient.run(c2s, starttls="xmpp", xmpphost="b.example",
                        servername="b.example")
        k.check(r.ok and r.subject_cn == "b.example", "CN=b.example", r)
        established(k, d, mark, domain="b.example", sni="b.example")

    with t.case("STARTTLS to='example.org' with SNI b.example (another "
                "served domain): refused, unrecognized_name alert, "
                "policy-violation reason=sni-mismatch") as k:
        mark = d.mark()
        na, nb = spy_a.connection_count(), spy_b.connection_count()
        r = sclient.run(c2s, starttls="xmpp", xmpphost="example.org",
                        servername="b.example")
        k.check(not r.ok and r.alert_number == 112,
                "s_client got alert 112 unrecognized_name", r)
        common.end_event(k, d, mark, expect.POLICY, "sni-mismatch",
                  sni="b.example", domain="example.org")
        k.check((spy_a.connection_count(), spy_b.connection_count()) ==
                (na, nb), "no backend connection")

    with t.case("the same with Python's ssl: the handshake fails, nothing "
                "relayed") as k:
        with d.client("c2s") as cl:
            k.require(cl.open_stream(raw.header(to="example.org")),
                      "features", repr(cl.data))
            err = None
            try:
                cl.starttls(server_hostname="b.example")
            except Exception as e:      # ssl.SSLError
                err = e
            k.check(err is not None and "UNRECOGNIZED_NAME" in
                    str(err).upper(), "unrecognized_name alert", repr(err))
        common.end_line(k, d, cl, expect.POLICY, "sni-mismatch",
                        sni="b.example")

    with t.case("STARTTLS to='example.org' with an unknown SNI: the 'to' "
                "domain's certificate (sni_strict = no)") as k:
        mark = d.mark()
        r = sclient.run(c2s, starttls="xmpp", xmpphost="example.org",
                        servername="unknown.example")
        k.check(r.ok and r.subject_cn == "example.org", "CN=example.org", r)
        established(k, d, mark, domain="example.org",
                    sni="unknown.example")

    with t.case("after STARTTLS with SNI = to, a post-TLS header naming "
                "another served domain: <host-unknown/>, domain-changed") as k:
        na, nb = spy_a.connection_count(), spy_b.connection_count()
        with d.client("c2s") as cl:
            k.require(cl.open_stream(raw.header(to="example.org")),
                      "features", repr(cl.data))
            cl.starttls(server_hostname="example.org")
            cl.send(raw.header(to="b.example"))
            common.stream_error(k, cl, expect.SE_HOST_UNKNOWN)
        common.end_line(k, d, cl, expect.POLICY, expect.R_DOMAIN_CHANGED,
                        to="b.example", domain="example.org")
        k.check((spy_a.connection_count(), spy_b.connection_count()) ==
                (na, nb), "no backend connection")

    # -- direct TLS: SNI ----------------------------------------------------
    for sni, cn, dom in (("b.example", "b.example", "b.example"),
                         ("example.org", "example.org", "example.org"),
                         (None, "b.example", "-"),
                         ("unknown.example", "b.example", "-")):
        with t.case("direct TLS, SNI %s: certificate CN=%s, domain=%s"
                    % (sni or "none", cn, dom)) as k:
            mark = d.mark()
            r = sclient.run(direct, alpn="xmpp-client", servername=sni)
            k.check(r.ok and r.subject_cn == cn, "CN=%s" % cn, r)
            established(k, d, mark, domain=dom, sni=sni or "-")

    # -- per-domain backends -------------------------------------------------
    with t.case("c2s: to='b.example' goes to b.example's backend, "
                "to='example.org' to the listener's") as k:
        for to, sp in (("b.example", spy_b), ("example.org", spy_a)):
            n = sp.connection_count()
            with d.client("c2s") as cl:
                k.require(cl.open_stream(raw.header(to=to)), "features")
                cl.starttls(server_hostname=to)
                k.check(cl.open_stream(raw.header(to=to)) is not None,
                        "backend features for %s" % to, repr(cl.data))
                k.check(sp.connection_count() == n + 1,
                        "%s routed to its backend" % to)
                cl.send(raw.END)
                cl.read_to_eof(5)
            common.end_line(k, d, cl, expect.CLOSE, domain=to)

    with t.case("s2s: to='b.example' goes to b.example's s2s_backend") as k:
        n = spy_b_s2s.connection_count()
        with d.client("s2s") as cl:
            k.require(cl.open_stream(raw.header(to="b.example",
                                                ns=raw.NS_SERVER)),
                      "features")
            cl.starttls(server_hostname="b.example")
            cl.send(raw.header(to="b.example", ns=raw.NS_SERVER))
            conn = spy_b_s2s.wait_connection(index=n)
            k.check(conn is not None and
                    conn.wait_data(rb"to='b.example'") is not None,
                    "s2s_backend got the stream")
            cl.send(raw.END)
            cl.read_to_eof(5)
        common.end_line(k, d, cl, expect.CLOSE, domain="b.example")

    with t.case("a domain whose own backend is down: "
                "<remote-connection-failed/>, backend= names it") as k:
        with d.client("c2s") as cl:
            k.require(cl.open_stream(raw.header(to="c.example")), "features")
            cl.starttls(server_hostname="c.example")
            cl.send(raw.header(to="c.example"))
            common.stream_error(k, cl, expect.SE_REMOTE_FAILED,
                                domain="c.example")
        common.end_line(k, d, cl, expect.BACKEND_ERROR,
                        expect.R_CONNECT_FAILED,
                        backend="127.0.0.1:%d" % dead)

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)

    # -- sni_strict -----------------------------------------------------------
    d = daemon.Daemon(tmp, config(True), name="strict").start()
    for port, how in ((d.port("c2s"), "STARTTLS"),
                      (d.port("direct"), "direct TLS")):
        with t.case("sni_strict = yes, %s, unknown SNI: refused with "
                    "unrecognized_name, tls-failed reason=unknown-sni" % how) \
                as k:
            mark = d.mark()
            kw = dict(starttls="xmpp", xmpphost="example.org") \
                if how == "STARTTLS" else dict(alpn="xmpp-client")
            r = sclient.run(port, servername="unknown.example", **kw)
            k.check(not r.ok and r.alert_number == 112,
                    "alert 112 unrecognized_name", r)
            common.end_event(k, d, mark, expect.TLS_FAILED, "unknown-sni",
                      sni="unknown.example")
        with t.case("sni_strict = yes, %s: a served SNI and no SNI are "
                    "still accepted" % how) as k:
            kw = dict(starttls="xmpp", xmpphost="b.example") \
                if how == "STARTTLS" else dict(alpn="xmpp-client")
            r = sclient.run(port, servername="b.example", **kw)
            k.check(r.ok and r.subject_cn == "b.example", "SNI b.example", r)
            r = sclient.run(port, **kw)
            k.check(r.ok, "no SNI", r)
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
