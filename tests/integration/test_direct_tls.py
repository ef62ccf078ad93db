#!/usr/bin/python3
"""Direct TLS (XEP-0368): a listener with tls = direct speaks TLS from the
first byte, offers no STARTTLS, negotiates ALPN xmpp-client (or none) and
refuses a ClientHello offering only other protocols (ALPACA); plaintext on
it, and a ClientHello on a STARTTLS port, are refused cleanly.  Real
clients: slixmpp (use_ssl, ALPN) against a real Prosody, openssl s_client,
Python's ssl module; recording backends prove what never reached a
backend."""
import ssl

from lib import (certs, common, daemon, expect, prosody, raw, sclient, spy,
                 tap, util, xmppclient)

PRE_TLS_TIMEOUT = 1
USERS = {"alice": "alice-Direct-1", "bob": "bob-Direct-2"}


def ctx_alpn(protocols):
    c = raw.client_context(None)
    if protocols:
        c.set_alpn_protocols(protocols)
    return c


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    ca = certs.make_certs(tmp)
    cb = certs.make_cert(tmp, "ecdsa", "b.example")
    feats = spy.STARTTLS_FEATURE + spy.MECHANISMS
    spy_a = spy.Spy(spy.xmpp_script(feats, spy.close_on_end))  # listeners'
    spy_b = spy.Spy(spy.xmpp_script(feats, spy.close_on_end))  # b.example's
    d = daemon.Daemon(tmp, {
        "tls": {"certificate": ca["rsa"].cert, "key": ca["rsa"].key},
        "limits": {"pre_tls_timeout": PRE_TLS_TIMEOUT},
        "domain example.org": {},
        "domain b.example": {"certificate": cb.cert, "key": cb.key,
                             "backend": "127.0.0.1:%d" % spy_b.port},
        "listener direct": {"listen": "127.0.0.1:0", "tls": "direct",
                            "backend": "127.0.0.1:%d" % spy_a.port,
                            "domains": "example.org b.example"},
        "listener c2s": {"listen": "127.0.0.1:0",
                         "backend": "127.0.0.1:%d" % spy_a.port,
                         "domains": "example.org"},
    }).start()
    port = d.port("direct")

    def direct(alpn=None, sni="example.org", cafile=None):
        cl = d.client("direct")
        ctx = raw.client_context(cafile) if cafile else ctx_alpn(alpn)
        if cafile and alpn:
            ctx.set_alpn_protocols(alpn)
        cl.upgrade(server_hostname=sni, context=ctx)
        return cl

    # -- openssl s_client ------------------------------------------------
    with t.case("openssl s_client -alpn xmpp-client -servername example.org:"
                " ALPN xmpp-client, example.org's certificate, logged") as k:
        mark = d.mark()
        r = sclient.run(port, alpn="xmpp-client", servername="example.org")
        k.check(r.ok and r.alpn == "xmpp-client", "ALPN xmpp-client", r)
        k.check(r.subject_cn == "example.org", "subject CN=example.org", r)
        _, e = d.wait_fields(r"event=%s\b.*listener=direct"
                             % expect.TLS_ESTABLISHED, start=mark)
        k.check(e.get("alpn") == "xmpp-client" and
                e.get("sni") == "example.org" and
                e.get("domain") == "example.org",
                "tls-established alpn=xmpp-client sni=example.org "
                "domain=example.org", e)

    with t.case("ALPN h2,http/1.1,xmpp-client: xmpp-client is chosen") as k:
        r = sclient.run(port, alpn="h2,http/1.1,xmpp-client",
                        servername="example.org")
        k.check(r.ok and r.alpn == "xmpp-client", "ALPN xmpp-client", r)

    for offer in ("h2", "h2,http/1.1", "xmpp-server"):
        with t.case("ALPN offering only %s is refused (ALPACA): "
                    "no_application_protocol alert, reason="
                    "no-application-protocol" % offer) as k:
            mark = d.mark()
            n = spy_a.connection_count()
            r = sclient.run(port, alpn=offer, servername="example.org")
            k.check(not r.ok and r.alert_number == 120,
                    "s_client got alert 120 no_application_protocol", r)
            common.end_event(k, d, mark, expect.TLS_FAILED,
                      "no-application-protocol", sni="example.org")
            k.check(spy_a.connection_count() == n, "no backend connection")

    with t.case("a ClientHello without ALPN is accepted (alpn=-), and "
                "without SNI gets the listener's first domain's "
                "certificate") as k:
        mark = d.mark()
        r = sclient.run(port)
        k.check(r.ok and r.alpn is None, "handshake done, no ALPN", r)
        k.check(r.subject_cn == "example.org", "CN=example.org", r)
        _, e = d.wait_fields(r"event=%s\b.*listener=direct"
                             % expect.TLS_ESTABLISHED, start=mark)
        k.check(e.get("alpn") == "-" and e.get("sni") == "-" and
                e.get("domain") == "-", "alpn=- sni=- domain=-", e)

    with t.case("SNI b.example: b.example's own ECDSA certificate") as k:
        r = sclient.run(port, alpn="xmpp-client", servername="b.example")
        k.check(r.ok and r.subject_cn == "b.example", "CN=b.example", r)
        # TLS 1.2 names the signature in the suite, TLS 1.3 does not
        k.check("ECDSA" in (r.cipher or "") or
                "Peer signature type: ECDSA" in r.out,
                "an ECDSA signature", r)

    # -- the relay after direct TLS ---------------------------------------
    with t.case("after direct TLS: no STARTTLS ever offered, backend's "
                "features rewritten, header relayed only after TLS") as k:
        n = spy_a.connection_count()
        with direct(["xmpp-client"], cafile=ca["rsa"].cert) as cl:
            k.check(cl.tls.selected_alpn_protocol() == "xmpp-client",
                    "client sees ALPN xmpp-client")
            k.check(spy_a.connection_count() == n,
                    "no backend connection before the stream header")
            k.require(cl.open_stream(raw.header()), "features",
                      repr(cl.data))
            v = cl.view()
            k.check(v.header.get("from") == "example.org",
                    "the backend's header", v.header)
            f = v.features()
            kids = [x.tag for x in f] if f is not None else []
            k.check(raw.q("starttls", raw.NS_TLS) not in kids and
                    raw.q("mechanisms", raw.NS_SASL) in kids,
                    "<starttls/> removed, <mechanisms/> kept", kids)
            conn = spy_a.wait_connection(index=n)
            k.check(conn is not None and
                    conn.wait_data(rb"to='example.org'") is not None,
                    "backend got the client's header")
            cl.send(raw.END)
            cl.read_to_eof(5)
        common.end_line(k, d, cl, expect.CLOSE)

    with t.case("direct TLS without SNI: the first header chooses b.example, "
                "routed to b.example's backend") as k:
        na, nb = spy_a.connection_count(), spy_b.connection_count()
        with direct(["xmpp-client"], sni=None) as cl:
            k.require(cl.open_stream(raw.header(to="b.example")),
                      "features", repr(cl.data))
            k.check(spy_b.connection_count() == nb + 1 and
                    spy_a.connection_count() == na,
                    "b.example's backend got the session",
                    (spy_a.connection_count(), spy_b.connection_count()))
            cl.send(raw.END)
            cl.read_to_eof(5)
        common.end_line(k, d, cl, expect.CLOSE, domain="b.example")

    with t.case("direct TLS with SNI example.org, header to='b.example' "
                "(another served domain): <host-unknown/>, domain-changed, "
                "nothing relayed") as k:
        na, nb = spy_a.connection_count(), spy_b.connection_count()
        with direct(["xmpp-client"], sni="example.org") as cl:
            cl.send(raw.header(to="b.example"))
            common.stream_error(k, cl, expect.SE_HOST_UNKNOWN)
        common.end_line(k, d, cl, expect.POLICY, expect.R_DOMAIN_CHANGED,
                        domain="example.org")
        k.check((spy_a.connection_count(), spy_b.connection_count()) ==
                (na, nb), "no backend connection")

    with t.case("direct TLS without SNI, header to an unserved domain: "
                "<host-unknown/>, nothing relayed") as k:
        na, nb = spy_a.connection_count(), spy_b.connection_count()
        with direct(None, sni=None) as cl:
            cl.send(raw.header(to="example.net"))
            common.stream_error(k, cl, expect.SE_HOST_UNKNOWN,
                                domain=None)
        common.end_line(k, d, cl, expect.PROTOCOL, expect.R_HOST_UNKNOWN,
                        to="example.net")
        k.check((spy_a.connection_count(), spy_b.connection_count()) ==
                (na, nb), "no backend connection")

    # -- the wrong protocol on each port ----------------------------------
    with t.case("plaintext XML on the direct-TLS port: our header and "
                "<policy-violation/> in plaintext, reason="
                "plaintext-on-tls-port, nothing parsed or relayed") as k:
        na = spy_a.connection_count()
        with d.client("direct") as cl:
            cl.send(raw.header() + raw.STARTTLS)
            v = common.stream_error(k, cl, expect.SE_POLICY, domain=None)
            k.check(b"XEP-0368" in cl.data, "the text names XEP-0368",
                    repr(cl.data))
            k.check(b"starttls" not in cl.data.lower(),
                    "no STARTTLS offered", repr(cl.data))
        common.end_line(k, d, cl, expect.PROTOCOL, "plaintext-on-tls-port")
        k.check(spy_a.connection_count() == na, "no backend connection")

    with t.case("a TLS ClientHello on the STARTTLS port: a TLS "
                "handshake_failure alert, no XML, reason="
                "tls-on-starttls-port") as k:
        na = spy_a.connection_count()
        with d.client("c2s") as cl:
            err = None
            try:
                cl.upgrade(server_hostname="example.org",
                           context=ctx_alpn(["xmpp-client"]))
            except (ssl.SSLError, OSError) as e:
                err = e
            k.check(err is not None and
                    "HANDSHAKE_FAILURE" in str(err).upper(),
                    "Python's ssl reports the handshake_failure alert",
                    repr(err))
        common.end_line(k, d, cl, expect.PROTOCOL, "tls-on-starttls-port")
        k.check(spy_a.connection_count() == na, "no backend connection")
        with d.client("c2s") as cl:
            cl.send(raw.client_hello_bytes())
            cl.read_to_eof(5)
            k.check(cl.data == b"\x15\x03\x03\x00\x02\x02\x28",
                    "exactly one fatal alert record on the wire",
                    repr(cl.data))

    with t.case("openssl s_client -starttls xmpp against the direct port "
                "fails cleanly: plaintext-on-tls-port") as k:
        mark = d.mark()
        r = sclient.run(port, starttls="xmpp", xmpphost="example.org",
                        timeout=10)
        k.check(not r.ok, "no TLS session", r)
        common.end_event(k, d, mark, expect.PROTOCOL, "plaintext-on-tls-port")

    with t.case("a silent client on the direct port is closed after "
                "pre_tls_timeout without a byte of XML") as k:
        with d.client("direct") as cl:
            k.check(cl.read_to_eof(PRE_TLS_TIMEOUT + 5), "closed",
                    repr(cl.data))
            k.check(cl.data == b"", "nothing written", repr(cl.data))
        common.end_line(k, d, cl, expect.TIMEOUT, expect.R_PRE_TLS_TIMEOUT)

    # -- a real client and a real server -----------------------------------
    why = prosody.available() or xmppclient.available()
    if why:
        t.skip("slixmpp over direct TLS with ALPN to a real Prosody", why)
    else:
        with t.case("slixmpp (use_ssl, ALPN xmpp-client, SNI example.org) "
                    "logs alice and bob in to a real Prosody through the "
                    "direct-TLS listener; roster, presence, messages") as k:
            pro = prosody.Prosody(tmp).start()
            for u, pw in USERS.items():
                pro.register(u, pw)
            d2 = daemon.Daemon(tmp, {
                "tls": {"certificate": ca["rsa"].cert,
                        "key": ca["rsa"].key},
                "domain example.org": {},
                "listener direct": {"listen": "127.0.0.1:0",
                                    "tls": "direct",
                                    "backend": "127.0.0.1:%d" % pro.port,
                                    "domains": "example.org"},
            }, name="xmppshield-prosody").start()
            mark = d2.mark()
            r = xmppclient.run_scenario(
                d2.port("direct"), cafile=ca["rsa"].cert, direct_tls=True,
                alpn=["xmpp-client"], logfile=tmp + "/slixmpp-direct.log",
                alice=("alice", USERS["alice"]), bob=("bob", USERS["bob"]))
            k.check(r["ok"], "scenario passes", "%s steps=%s\n%s" % (
                r.get("error"), r.get("steps"),
                util.tail_file(tmp + "/slixmpp-direct.log", 30)))
            for who, info in sorted((r.get("tls") or {}).items()):
                k.check(info and info.get("alpn") == "xmpp-client",
                        "%s negotiated ALPN xmpp-client" % who, info)
            est = [daemon.parse_line(x) for x in d2.lines_matching(
                r"event=%s\b" % expect.TLS_ESTABLISHED, mark)]
            k.check(len(est) == 2 and all(
                e.get("alpn") == "xmpp-client" and
                e.get("sni") == "example.org" and
                e.get("domain") == "example.org" for e in est),
                "two tls-established alpn=xmpp-client sni=example.org",
                est)
            d2.stop()
            pro.stop()

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
