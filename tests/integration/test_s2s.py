#!/usr/bin/python3
"""Server-to-server listeners (kind = s2s): jabber:server streams with the
dialback namespace; before TLS the same closed grammar (only <starttls/>:
<db:result/>, <db:verify/> or a stanza is a policy violation, nothing
reaches the backend); after TLS dialback passes through unchanged and the
backend's SASL <mechanisms/> (EXTERNAL) are removed; direct TLS on 5270
with ALPN xmpp-server.  Real clients: openssl s_client -starttls
xmpp-server and -alpn, Python's ssl.  The real federation between two
servers is test_federation.py."""
from lib import certs, common, daemon, expect, raw, sclient, spy, tap, util

DB_NS = "jabber:server:dialback"
S2S_HDR = raw.header(to="example.org", ns=raw.NS_SERVER,
                     extra=" xmlns:db='%s' from='remote.example'" % DB_NS)
BACKEND_S2S_HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server'"
                   " xmlns:stream='http://etherx.jabber.org/streams'"
                   " xmlns:db='jabber:server:dialback' from='example.org'"
                   " id='spy-s2s-1' version='1.0'>")
FEATURES = ("<stream:features>" + spy.STARTTLS_FEATURE +
            "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            "<mechanism>EXTERNAL</mechanism></mechanisms>"
            "<dialback xmlns='urn:xmpp:features:dialback'><errors/>"
            "</dialback></stream:features>")
DB_RESULT = ("<db:result from='remote.example' to='example.org'>"
             "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"
             "</db:result>")
DB_VALID = ("<db:result from='example.org' to='remote.example' "
            "type='valid'/>")


def dialback_backend(conn):
    """A receiving server's side of dialback: header and features, then on
    the peer's <db:result/> (after its own check, which a real server does
    by dialling back) the verdict."""
    if not conn.wait_data(rb"<stream:stream\b[^>]*>", 10):
        return
    conn.send(BACKEND_S2S_HDR + FEATURES)
    if conn.wait_data(rb"</db:result>", 10):
        conn.send(DB_VALID)
    spy.close_on_end(conn)


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    backend = spy.Spy(dialback_backend)
    d = daemon.Daemon(tmp, {
        "tls": {"certificate": c["rsa"].cert, "key": c["rsa"].key},
        "domain example.org": {},
        "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                         "backend": "127.0.0.1:%d" % backend.port,
                         "domains": "example.org"},
        "listener s2s-direct": {"listen": "127.0.0.1:0", "kind": "s2s",
                                "tls": "direct",
                                "backend": "127.0.0.1:%d" % backend.port,
                                "domains": "example.org"},
    }).start()

    with t.case("an s2s stream header (jabber:server, xmlns:db) gets our "
                "jabber:server header and only <starttls><required/>") as k:
        with d.client("s2s") as cl:
            k.require(cl.open_stream(S2S_HDR), "features", repr(cl.data))
            v = cl.view()
            k.check(v.error is None, "well-formed", v.error)
            k.check(b"xmlns='jabber:server'" in cl.data and
                    b"xmlns:db='jabber:server:dialback'" in cl.data,
                    "jabber:server and the dialback namespace declared",
                    repr(cl.data))
            kids = [x.tag for x in v.features()]
            k.check(kids == [raw.q("starttls", raw.NS_TLS)],
                    "only <starttls/>", kids)
        common.spy_untouched(k, backend)

    pre_tls = [
        ("<db:result/> (dialback key)", DB_RESULT, "result", DB_NS),
        ("<db:verify/>", "<db:verify from='remote.example' to='example.org'"
         " id='abc'>k3y</db:verify>", "verify", DB_NS),
        ("a <message/> stanza", "<message from='x@remote.example' "
         "to='y@example.org'><body>hi</body></message>", "message",
         raw.NS_SERVER),
        ("SASL <auth mechanism='EXTERNAL'/>", "<auth xmlns='urn:ietf:params:"
         "xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>", "auth",
         raw.NS_SASL),
    ]
    for what, payload, element, ns in pre_tls:
        with t.case("s2s before TLS: %s is a policy violation, "
                    "<policy-violation/>, nothing relayed" % what) as k:
            with d.client("s2s") as cl:
                k.require(cl.open_stream(S2S_HDR), "features")
                cl.send(payload)
                common.stream_error(k, cl, expect.SE_POLICY)
                common.no_proceed(k, cl)
            common.end_line(k, d, cl, expect.POLICY,
                            expect.R_PRE_TLS_ELEMENT, element=element, ns=ns)
            common.spy_untouched(k, backend)

    with t.case("a jabber:client header on the s2s listener: "
                "<invalid-namespace/>") as k:
        with d.client("s2s") as cl:
            cl.send(raw.header())
            common.stream_error(k, cl, expect.SE_INVALID_NS)
        common.end_line(k, d, cl, expect.PROTOCOL, expect.R_INVALID_NS)
        common.spy_untouched(k, backend)

    with t.case("openssl s_client -starttls xmpp-server: TLS with "
                "example.org's certificate, no ALPN on STARTTLS") as k:
        mark = d.mark()
        r = sclient.run(d.port("s2s"), starttls="xmpp-server",
                        xmpphost="example.org")
        k.check(r.ok and r.subject_cn == "example.org", "CN=example.org", r)
        line = d.wait_for(r"event=%s\b.*listener=s2s\b"
                          % expect.TLS_ESTABLISHED, start=mark)
        e = daemon.parse_line(line) if line else {}
        k.check(e.get("domain") == "example.org" and e.get("alpn") == "-",
                "tls-established listener=s2s domain=example.org alpn=-", e)
        common.spy_untouched(k, backend)

    def dialback(cl, k):
        cl.send(S2S_HDR)
        k.require(cl.recv_until(rb"</stream:features>"), "backend features",
                  repr(cl.data))
        v = cl.view()
        kids = [x.tag for x in v.features()]
        k.check(raw.q("starttls", raw.NS_TLS) not in kids,
                "<starttls/> removed", kids)
        k.check(raw.q("mechanisms", raw.NS_SASL) not in kids and
                b"EXTERNAL" not in cl.data,
                "SASL <mechanisms/> (EXTERNAL) removed", repr(cl.data))
        k.check("{urn:xmpp:features:dialback}dialback" in kids,
                "dialback feature kept", kids)
        mark = len(cl.data)
        cl.send(DB_RESULT)
        k.check(cl.recv_until(rb"type='valid'", start=mark) is not None,
                "<db:result type='valid'/> relayed back", repr(cl.data))
        conn = backend.conns[-1]
        k.check(conn.wait_data(DB_RESULT.encode()) is not None,
                "backend got the <db:result/> byte for byte",
                repr(conn.data[-300:]))
        cl.send(raw.END)
        cl.read_to_eof(5)

    with t.case("after STARTTLS: dialback passes through unchanged, the "
                "backend's <mechanisms/> are removed") as k:
        n = backend.connection_count()
        with d.client("s2s") as cl:
            k.require(cl.open_stream(S2S_HDR), "features")
            cl.starttls(server_hostname="example.org")
            k.check(backend.connection_count() == n,
                    "no backend connection before the post-TLS header")
            dialback(cl, k)
        common.end_line(k, d, cl, expect.CLOSE)

    # -- direct TLS on the s2s port (5270) ---------------------------------
    with t.case("s2s direct TLS: openssl s_client -alpn xmpp-server "
                "negotiates xmpp-server") as k:
        mark = d.mark()
        r = sclient.run(d.port("s2s-direct"), alpn="xmpp-server",
                        servername="example.org")
        k.check(r.ok and r.alpn == "xmpp-server", "ALPN xmpp-server", r)
        line = d.wait_for(r"event=%s\b.*listener=s2s-direct\b"
                          % expect.TLS_ESTABLISHED, start=mark)
        e = daemon.parse_line(line) if line else {}
        k.check(e.get("alpn") == "xmpp-server", "alpn=xmpp-server logged", e)

    with t.case("s2s direct TLS: ALPN xmpp-client or h2 only is refused, "
                "reason=no-application-protocol") as k:
        for offer in ("xmpp-client", "h2"):
            mark = d.mark()
            r = sclient.run(d.port("s2s-direct"), alpn=offer,
                            servername="example.org")
            k.check(not r.ok and r.alert_number == 120,
                    "%s: alert 120" % offer, r)
            line = d.wait_for(r"event=%s\b.*reason=no-application-protocol"
                              % expect.TLS_FAILED, start=mark)
            k.check(line is not None, "%s: logged" % offer)

    with t.case("s2s direct TLS (ALPN xmpp-server, SNI example.org): "
                "dialback passes through") as k:
        with d.client("s2s-direct") as cl:
            ctx = raw.client_context(c["rsa"].cert)
            ctx.set_alpn_protocols(["xmpp-server"])
            cl.upgrade(server_hostname="example.org", context=ctx)
            k.check(cl.tls.selected_alpn_protocol() == "xmpp-server",
                    "ALPN xmpp-server")
            dialback(cl, k)
        common.end_line(k, d, cl, expect.CLOSE, domain="example.org")

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
