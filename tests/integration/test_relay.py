#!/usr/bin/python3
"""After TLS: the relay to the backend.  Feature rewriting (no STARTTLS or
compression reaches the client, everything else byte for byte), restricted
XML and stanza limits on client data, the domain re-check at the stream
restart, and how backend failures and closes reach the client."""
import re
import signal

from lib import (certs, common, daemon, expect, prosody, raw, spy, tap,
                 util)

MAX_STANZA = 4096
MAX_BACKEND_STANZA = 8192
MAX_DEPTH = 8
MAX_ATTRS = 8
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
    d = daemon.Daemon(tmp, daemon.base_config(
        cert, backend.port, limits={
            "max_stanza_size": MAX_STANZA,
            "max_backend_stanza_size": MAX_BACKEND_STANZA,
            "max_depth": MAX_DEPTH, "max_attributes": MAX_ATTRS})).start()

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

    with t.case("a stanza over max_stanza_size gets <policy-violation/> and "
                "is not delivered whole") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
        body = "B" * (2 * MAX_STANZA)
        cl.try_send("<message to='bob@example.org' id='big'><body>%s</body>"
                    "<marker-end/></message>" % body)
        common.stream_error(k, cl, expect.SE_POLICY)
        cl.close()
        common.end_line(k, d, cl, expect.POLICY,
                        expect.R_STANZA_TOO_LARGE)
        k.check(b"marker-end" not in conn.data, "stanza not delivered",
                "%d bytes at backend" % len(conn.data))

    with t.case("a stanza just under max_stanza_size passes") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(n)
            pre = "<message to='bob@example.org' id='fits'><body>"
            post = "</body></message>"
            st = (pre + "f" * (MAX_STANZA - len(pre) - len(post) - 64)
                  + post).encode()
            mark = len(conn.data)
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark),
                    "delivered", "%d of %d bytes" % (len(conn.data) - mark,
                                                     len(st)))

    for label, st, reason in (
            ("nested deeper than max_depth",
             "<message><x xmlns='urn:example:deep'>%s%s</x></message>"
             % ("<a>" * MAX_DEPTH, "</a>" * MAX_DEPTH), expect.R_TOO_DEEP),
            ("with more than max_attributes attributes",
             "<message %s/>" % " ".join("a%d='v'" % i
                                        for i in range(MAX_ATTRS + 4)),
             expect.R_TOO_MANY_ATTRS)):
        with t.case("a stanza %s gets <policy-violation/> and is not "
                    "relayed" % label) as k:
            n = backend.connection_count()
            cl = tls_client()
            conn = backend_conn(n)
            mark = len(conn.data)
            cl.try_send(st)
            common.stream_error(k, cl, expect.SE_POLICY)
            cl.close()
            common.end_line(k, d, cl, expect.POLICY, reason)
            k.check(b"<message" not in conn.data[mark:], "not relayed",
                    repr(conn.data[mark:][:200]))

    with t.case("a stanza within max_depth and max_attributes passes") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(n)
            st = ("<message %s><x xmlns='urn:example:deep'>%s%s</x>"
                  "</message>" % (" ".join("a%d='v'" % i
                                           for i in range(MAX_ATTRS)),
                                  "<a>" * (MAX_DEPTH - 3),
                                  "</a>" * (MAX_DEPTH - 3))).encode()
            mark = len(conn.data)
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark), "delivered",
                    repr(conn.data[mark:]))

    with t.case("a backend stanza over max_backend_stanza_size: the client "
                "gets a well-formed stream error, not the stanza") as k:
        def big(conn):
            conn.send("<message id='huge'><body>%s</body></message>"
                      % ("H" * (2 * MAX_BACKEND_STANZA)))
        script(spy.MECHANISMS, big)
        n = backend.connection_count()
        cl = tls_client()
        backend_conn(n)
        k.check(cl.read_to_eof(), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed and v.stream_error(),
                "well-formed stream error and </stream:stream>",
                "%s %r" % (v.error, cl.data[-300:]))
        k.check(b"HHHH" not in cl.data, "no part of the stanza",
                "%d bytes" % len(cl.data))
        cl.close()
        common.end_line(k, d, cl, expect.BACKEND_ERROR)
        script(spy.MECHANISMS)

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

    def ipv6_case(k):
        tmp4 = util.make_tmpdir()
        d4 = daemon.Daemon(tmp4, daemon.base_config(
            cert, backend.port, listen="[::1]:0 127.0.0.1:0")).start()
        hosts = sorted(h for h, p in d4.addresses["c2s"])
        k.check(hosts == ["127.0.0.1", "::1"], "two listening lines", hosts)
        n = backend.connection_count()
        with d4.client(family=6) as cl:
            k.require(cl.open_stream(), "features", repr(cl.data))
            cl.starttls(cafile=cert.cert)
            cl.send(raw.header())
            k.check(cl.recv_until(rb"</stream:features>"),
                    "backend features", repr(cl.data))
            backend_conn(n)
        common.end_line(k, d4, cl, expect.CLOSE,
                        expect.R_CLIENT_CLOSED)
        d4.stop()

    name6 = ("listening on [::1] and 127.0.0.1: both addresses logged, a "
             "client over IPv6 is relayed")
    if not util.have_ipv6_loopback():
        t.skip(name6, "no IPv6 loopback here")
    else:
        with t.case(name6) as k:
            ipv6_case(k)

    # -- a real Prosody offering STARTTLS ----------------------------------
    why = prosody.available()
    if why:
        t.skip("a real Prosody's <starttls/> is stripped", why)
    else:
        with t.case("a real Prosody offering STARTTLS: the client sees its "
                    "mechanisms byte for byte and no <starttls/>") as k:
            p = prosody.Prosody(tmp, offer_starttls=True, cert=cert).start()
            with raw.RawClient(p.port) as direct:
                direct.open_stream()
            k.require(b"<starttls" in direct.data,
                      "Prosody offers STARTTLS directly", repr(direct.data))
            mech = re.search(rb"<mechanisms\b.*?</mechanisms>", direct.data)
            tmp3 = util.make_tmpdir()
            d3 = daemon.Daemon(tmp3, daemon.base_config(cert,
                                                        p.port)).start()
            cl = d3.client()
            cl.open_stream()
            cl.starttls(cafile=cert.cert)
            cl.send(raw.header())
            k.require(cl.recv_until(rb"</stream:features>"),
                      "features through the proxy", repr(cl.data))
            v = cl.view()
            tags = [x.tag for x in v.features()]
            k.check(raw.q("starttls", raw.NS_TLS) not in tags,
                    "no <starttls/>", tags)
            k.check(mech and mech.group(0) in cl.data,
                    "mechanisms byte for byte", "%r vs %r" % (
                        mech and mech.group(0), cl.data))
            cl.send(raw.END)
            cl.read_to_eof(5)
            cl.close()
            common.end_line(k, d3, cl, expect.CLOSE)
            d3.stop()
            p.stop()

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    t.ok(not backend.errors, "scripted backend ran without errors",
         "\n".join(backend.errors))

    script(spy.MECHANISMS)
    with t.case("SIGTERM: a relayed session gets <system-shutdown/>, "
                "reason=shutdown, the daemon exits 0") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(n)
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
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
