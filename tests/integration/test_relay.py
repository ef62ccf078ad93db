#!/usr/bin/python3
"""After TLS: the relay to the backend.  Feature rewriting (no STARTTLS or
compression reaches the client, everything else byte for byte), restricted
XML on client data, the domain re-check at the stream restart, and how
backend failures and closes reach the client.  Elsewhere: stanza size,
depth and attribute limits in test_limits.py, IPv6 in test_ipv6.py,
SIGTERM in test_shutdown.py, a real Prosody offering STARTTLS in
test_prosody_starttls.py."""
import re

from lib import certs, common, daemon, expect, raw, spy, tap, util

SM = "<sm xmlns='urn:xmpp:sm:3'/>"
CB = ("<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
      "<channel-binding type='tls-exporter'/></sasl-channel-binding>")
REQUIRED_STARTTLS = ("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                     "<required/></starttls>")


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    cert = c["rsa"]
    backend = spy.Spy()
    d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port)).start()

    def tls_client(hdr=None, features=True):
        """Connect, STARTTLS, send the post-TLS header; with features=True
        wait for the (relayed) backend features."""
        return common.relayed(d.client(), cert.cert, hdr, features)

    def script(features, then=None):
        backend.handler = spy.xmpp_script(features, then)

    def backend_conn(n_before):
        conn = backend.wait_connection(index=n_before)
        if conn is None:
            raise util.HarnessError("daemon did not connect to the backend")
        return conn

    # ------------------------------------------------------------------
    with t.case("backend <starttls/> and <compression/> are removed from the "
                "features; mechanisms, sm and channel binding pass byte for "
                "byte") as k:
        script(spy.MECHANISMS + REQUIRED_STARTTLS + SM +
               spy.COMPRESSION_FEATURE + CB)
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(n)
            v = cl.view()
            k.check(v.error is None, "client stream well-formed", v.error)
            f = v.features()
            k.require(f is not None, "features", repr(cl.data))
            tags = [x.tag for x in f]
            k.check(raw.q("starttls", raw.NS_TLS) not in tags,
                    "no <starttls/> after TLS", tags)
            k.check(raw.q("compression", raw.NS_COMPRESS_FEATURE)
                    not in tags, "no <compression/>", tags)
            k.check(b"<required/>" not in cl.data,
                    "no orphan <required/>", repr(cl.data))
            for frag in (spy.MECHANISMS, SM, CB):
                k.check(frag.encode() in cl.data, "byte-identical %s"
                        % frag[:30], repr(cl.data))
            k.check(v.header and v.header.get("from") == "example.org",
                    "stream header from the backend's side", v.header)

    with t.case("the backend receives the post-TLS header and nothing "
                "sent before TLS") as k:
        got = conn.data
        k.check(re.match(rb"(<\?xml[^>]*\?>)?\s*<stream:stream\b", got),
                "starts with a stream header", repr(got[:200]))
        k.check(b"to='example.org'" in got or b'to="example.org"' in got,
                "to=example.org relayed", repr(got[:300]))
        k.check(b"starttls" not in got, "no <starttls/> relayed", repr(got))

    script(spy.MECHANISMS)
    with t.case("a client stanza reaches the backend byte for byte") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(n)
            mark = len(conn.data)
            st = ("<message to='bob@example.org' id='m1' type='chat' "
                  "xml:lang='de'><body>gr\u00fc\u00dfe &amp; &lt;3 "
                  "&#x263A; \"q\"</body></message>").encode()
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark),
                    "exact bytes at the backend", repr(conn.data[mark:]))
            mark = len(conn.data)
            cl.send(b"  \n ")
            conn.wait_data(rb"  \n ", start=mark, timeout=5)
            k.check(conn.data[mark:] == b"  \n ",
                    "whitespace keepalive relayed", repr(conn.data[mark:]))

    with t.case("a backend stanza reaches the client byte for byte") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(n)
            st = ("<message from='bob@example.org/r' to='alice@example.org' "
                  "id='b1'><body>\u00e9t\u00e9 &amp; &gt; x</body>"
                  "</message>").encode()
            mark = len(cl.data)
            conn.send(st)
            k.check(cl.recv_until(re.escape(st), start=mark),
                    "exact bytes at the client", repr(cl.data[mark:]))

    with t.case("a comment after TLS gets <restricted-xml/> and never reaches"
                " the backend") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        cl.send("<!-- sneaky -->")
        common.stream_error(k, cl, expect.SE_RESTRICTED)
        cl.close()
        common.end_line(k, d, cl, expect.POLICY, expect.R_RESTRICTED,
                        detail=expect.D_COMMENT)
        k.check(b"sneaky" not in conn.data, "comment not relayed",
                repr(conn.data))
        k.check(conn.wait_closed(5), "backend connection closed")

    with t.case("a changed 'to' after TLS gets <host-unknown/>, "
                "reason=domain-changed, and no backend connection") as k:
        n = backend.connection_count()
        cl = tls_client(hdr=raw.header(to="example.net"), features=False)
        common.stream_error(k, cl, expect.SE_HOST_UNKNOWN)
        cl.close()
        common.end_line(k, d, cl, expect.POLICY,
                        expect.R_DOMAIN_CHANGED)
        k.check(backend.connection_count() == n, "no backend connection",
                "%d new" % (backend.connection_count() - n))

    with t.case("a backend closing its stream: client gets </stream:stream> "
                "and the close, reason=backend-closed") as k:
        def close_after(conn):
            conn.send("</stream:stream>")
            conn.close()
        script(spy.MECHANISMS, close_after)
        n = backend.connection_count()
        cl = tls_client()
        backend_conn(n)
        k.check(cl.read_to_eof(), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed,
                "well-formed stream ending in </stream:stream>",
                "%s %r" % (v.error, cl.data[-200:]))
        cl.close()
        common.end_line(k, d, cl, expect.CLOSE,
                        expect.R_BACKEND_CLOSED)

    with t.case("a backend resetting mid-stanza: the client gets a "
                "well-formed end, never half a stanza") as k:
        def reset_mid(conn):
            conn.send("<message from='bob@example.org' id='half'><body>"
                      "HALF-A-STANZA")
            # the stanza start is out; now reset
            conn.reset_close()
        script(spy.MECHANISMS, reset_mid)
        n = backend.connection_count()
        cl = tls_client()
        backend_conn(n)
        k.check(cl.read_to_eof(), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed,
                "well-formed stream ending in </stream:stream>",
                "%s %r" % (v.error, cl.data[-300:]))
        k.check(b"HALF-A-STANZA" not in cl.data, "no partial stanza",
                repr(cl.data[-300:]))
        cl.close()
        common.end_line(k, d, cl, expect.BACKEND_ERROR,
                        expect.R_BACKEND_LOST)

    with t.case("a backend sending bad XML: the client gets a well-formed "
                "stream error, reason=bad-xml") as k:
        def bad_xml(conn):
            conn.send("<message id='bad'><body>x</bdy></message>")
        script(spy.MECHANISMS, bad_xml)
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        k.check(cl.read_to_eof(), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed and v.stream_error(),
                "well-formed stream error and </stream:stream>",
                "%s %r" % (v.error, cl.data[-300:]))
        cl.close()
        common.end_line(k, d, cl, expect.BACKEND_ERROR, "bad-xml")
        k.check(conn.wait_closed(5), "backend connection closed")

    script(spy.MECHANISMS)
    with t.case("a client closing its stream: the backend gets "
                "</stream:stream> and its connection closed") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        cl.send(raw.END)
        k.check(conn.wait_data(rb"</stream:stream>\s*$"),
                "</stream:stream> relayed", repr(conn.data[-100:]))
        cl.close()
        k.check(conn.wait_closed(), "backend connection closed")
        common.end_line(k, d, cl, expect.CLOSE,
                        expect.R_CLIENT_CLOSED)

    with t.case("a client dropping TCP: the backend connection is closed")\
            as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        cl.sock.close()
        k.check(conn.wait_closed(), "backend connection closed")
        common.end_line(k, d, cl, expect.CLOSE)

    with t.case("<starttls/> from the client after TLS never reaches the "
                "backend and gets no <proceed/>") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        mark = len(cl.data)
        cl.send(raw.STARTTLS)
        # a real backend (Prosody with mod_tls) answers a relayed
        # <starttls/> with <proceed/>; the spy never answers, so this only
        # waits for a possible stream error from the daemon
        cl.read_to_eof(2)
        k.check(b"<proceed" not in cl.data[mark:], "no <proceed/>",
                repr(cl.data[mark:]))
        k.check(b"starttls" not in conn.data, "not relayed",
                repr(conn.data[-200:]))
        cl.close()

    # -- a backend that refuses ------------------------------------------
    with t.case("backend down: header, <remote-connection-failed/>, "
                "</stream:stream>; reason=connect-failed") as k:
        tmp2 = util.make_tmpdir()
        d2 = daemon.Daemon(tmp2, daemon.base_config(
            cert, spy.refused_port())).start()
        cl = d2.client()
        k.require(cl.open_stream(), "pre-TLS features", repr(cl.data))
        cl.starttls(cafile=cert.cert)
        cl.send(raw.header())
        common.stream_error(k, cl, expect.SE_REMOTE_FAILED)
        cl.close()
        common.end_line(k, d2, cl, expect.BACKEND_ERROR,
                        expect.R_CONNECT_FAILED)
        d2.stop()

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    t.ok(not backend.errors, "scripted backend ran without errors",
         "\n".join(backend.errors))

    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
