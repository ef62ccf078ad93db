#!/usr/bin/python3
"""Before TLS: the closed grammar (header, whitespace, <starttls/>), stream
errors for everything else, STARTTLS command injection, restricted XML and
encodings.  A recording backend proves that nothing reached the backend."""
import base64

from lib import certs, common, daemon, expect, raw, spy, tap, util

PRE_TLS_LIMIT = 1024
PRE_TLS_TIMEOUT = 2
HANDSHAKE_TIMEOUT = 2

SASL_PW = "pretls-Secret-Pw-4711"
PLAIN_B64 = base64.b64encode(("\0alice\0" + SASL_PW).encode()).decode()


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    backend = spy.Spy()                      # records; never answers
    d = daemon.Daemon(tmp, daemon.base_config(
        c["rsa"], backend.port,
        limits={"max_pre_tls_bytes": PRE_TLS_LIMIT,
                "pre_tls_timeout": PRE_TLS_TIMEOUT,
                "handshake_timeout": HANDSHAKE_TIMEOUT})).start()
    hdr = raw.header()

    def connect(**kw):
        return d.client(**kw)

    def case_error(name, payload, condition, event, reason=None,
                   secrets=(), check_header=True, **kv):
        """Send payload (after nothing), expect stream error + end line."""
        with t.case(name) as k:
            with connect() as cl:
                cl.send(payload)
                common.stream_error(k, cl, condition,
                                    need_header_from=check_header)
                common.no_proceed(k, cl)
                common.end_line(k, d, cl, event, reason, **kv)
            if secrets:
                common.log_clean(k, d, secrets)
            common.spy_untouched(k, backend)

    # ------------------------------------------------------------------
    with t.case("stream header gets our header and only <starttls><required/>"
                " as features") as k:
        ids = []
        for _ in range(2):
            with connect() as cl:
                m = cl.open_stream(hdr)
                k.require(m is not None, "features received", repr(cl.data))
                v = cl.view()
                k.check(v.error is None, "well-formed", v.error)
                k.check(v.header.get("from") == "example.org",
                        "from='example.org'", v.header)
                k.check(v.header.get("version") == "1.0", "version='1.0'",
                        v.header)
                ids.append(v.header.get("id"))
                f = v.features()
                k.require(f is not None, "<stream:features>", repr(cl.data))
                kids = [x.tag for x in f]
                k.check(kids == [raw.q("starttls", raw.NS_TLS)],
                        "the only feature is starttls", kids)
                st = f.find(raw.q("starttls", raw.NS_TLS))
                k.check(st is not None and
                        st.find(raw.q("required", raw.NS_TLS)) is not None,
                        "<required/> inside <starttls/>", repr(cl.data))
                k.check(b"mechanisms" not in cl.data,
                        "no SASL mechanisms before TLS", repr(cl.data))
        k.check(all(ids) and ids[0] != ids[1] and len(ids[0]) >= 16,
                "a fresh, long stream id per connection", ids)
        common.spy_untouched(k, backend)

    with t.case("a stream prefix other than 'stream' is accepted "
                "(namespace-aware parsing)") as k:
        with connect() as cl:
            cl.send("<?xml version='1.0'?><s:stream xmlns='jabber:client' "
                    "xmlns:s='http://etherx.jabber.org/streams' "
                    "to='example.org' version='1.0'>")
            m = cl.recv_until(rb"starttls")
            k.check(m is not None, "features with starttls", repr(cl.data))

    with t.case("encoding='UTF-8' in the XML declaration is accepted") as k:
        with connect() as cl:
            m = cl.open_stream(hdr.replace("version='1.0'?>",
                                           "version='1.0' encoding='UTF-8'?>",
                                           1))
            k.check(m is not None and b"starttls" in cl.data,
                    "features with starttls", repr(cl.data))

    # -- stream header errors -------------------------------------------
    case_error("unserved to='example.net' gets <host-unknown/>",
               raw.header(to="example.net"), expect.SE_HOST_UNKNOWN,
               expect.PROTOCOL, expect.R_HOST_UNKNOWN)
    case_error("a header without 'to' gets <host-unknown/>",
               raw.header(to=None), expect.SE_HOST_UNKNOWN,
               expect.PROTOCOL, expect.R_HOST_UNKNOWN)
    case_error("jabber:server on a c2s listener gets <invalid-namespace/>",
               raw.header(ns=raw.NS_SERVER), expect.SE_INVALID_NS,
               expect.PROTOCOL, expect.R_INVALID_NS)
    case_error("xmlns='jabber:foo' gets <invalid-namespace/>",
               raw.header(ns="jabber:foo"), expect.SE_INVALID_NS,
               expect.PROTOCOL, expect.R_INVALID_NS)
    case_error("a wrong streams namespace gets <invalid-namespace/>",
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='urn:example:not-streams' to='example.org' "
               "version='1.0'>", expect.SE_INVALID_NS,
               expect.PROTOCOL, expect.R_INVALID_NS)
    case_error("a header without version gets <unsupported-version/>",
               raw.header(version=None), expect.SE_UNSUPPORTED_VERSION,
               expect.PROTOCOL, expect.R_UNSUPPORTED_VERSION)
    case_error("version='0.9' gets <unsupported-version/>",
               raw.header(version="0.9"), expect.SE_UNSUPPORTED_VERSION,
               expect.PROTOCOL, expect.R_UNSUPPORTED_VERSION)
    case_error("mismatched tags get <not-well-formed/>",
               hdr + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
               "</stoptls>", expect.SE_NOT_WELL_FORMED,
               expect.PROTOCOL, expect.R_NOT_WELL_FORMED)

    # -- anything but <starttls/> before TLS ------------------------------
    elements = [
        ("an <iq/> (roster get)",
         "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
         "iq", "jabber:client", ()),
        ("a <message/>",
         "<message to='bob@example.org' type='chat'><body>plaintext-body"
         "</body></message>", "message", "jabber:client",
         ("plaintext-body",)),
        ("a <presence/>", "<presence/>", "presence", "jabber:client", ()),
        ("<compress/> (XEP-0138, the CVE-2014-8760 downgrade)",
         "<compress xmlns='http://jabber.org/protocol/compress'>"
         "<method>zlib</method></compress>", "compress",
         "http://jabber.org/protocol/compress", ()),
        ("<enable/> (stream management)",
         "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", "enable",
         "urn:xmpp:sm:3", ()),
        ("in-band registration <iq/>",
         "<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
         "<username>mallory</username><password>ibr-Secret-Pw-1</password>"
         "</query></iq>", "iq", "jabber:client", ("ibr-Secret-Pw-1",)),
        ("legacy jabber:iq:auth <iq/>",
         "<iq type='set' id='auth1'><query xmlns='jabber:iq:auth'>"
         "<username>alice</username><password>legacy-Secret-Pw-2</password>"
         "<resource>r</resource></query></iq>", "iq", "jabber:client",
         ("legacy-Secret-Pw-2",)),
        ("dialback <db:result/> on c2s",
         "<db:result xmlns:db='jabber:server:dialback' from='evil.example' "
         "to='example.org'>ZGlhbGJhY2sta2V5</db:result>", "result",
         "jabber:server:dialback", ("ZGlhbGJhY2sta2V5",)),
        ("<starttls/> in a wrong namespace",
         "<starttls xmlns='urn:example:not-tls'/>", "starttls",
         "urn:example:not-tls", ()),
    ]
    for label, xml, elem, ns, secrets in elements:
        case_error("pre-TLS %s gets <policy-violation/>" % label, hdr + xml,
                   expect.SE_POLICY, expect.POLICY, expect.R_PRE_TLS_ELEMENT,
                   secrets=secrets, element=elem, ns=ns)

    with t.case("pre-TLS SASL <auth/> gets <encryption-required/> then "
                "<policy-violation/>; the password is not logged") as k:
        with connect() as cl:
            cl.send(hdr + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                    "mechanism='PLAIN'>%s</auth>" % PLAIN_B64)
            v = common.stream_error(k, cl, expect.SE_POLICY)
            fail = v.find("failure", raw.NS_SASL)
            k.check(fail is not None and
                    fail.find(raw.q("encryption-required", raw.NS_SASL))
                    is not None,
                    "<failure><encryption-required/></failure>",
                    repr(cl.data))
            k.check(cl.data.find(b"<failure") < cl.data.find(b"error"),
                    "SASL failure comes before the stream error",
                    repr(cl.data))
            common.no_proceed(k, cl)
            common.end_line(k, d, cl, expect.POLICY,
                            expect.R_PRE_TLS_ELEMENT, element="auth",
                            ns=raw.NS_SASL)
        common.log_clean(k, d, [PLAIN_B64, SASL_PW, PLAIN_B64[:12]])
        common.spy_untouched(k, backend)

    # -- restricted XML -----------------------------------------------------
    case_error("a comment before TLS gets <restricted-xml/>",
               hdr + "<!-- hello -->", expect.SE_RESTRICTED, expect.POLICY,
               expect.R_RESTRICTED, detail=expect.D_COMMENT)
    case_error("a processing instruction gets <restricted-xml/>",
               hdr + "<?evil data?>", expect.SE_RESTRICTED, expect.POLICY,
               expect.R_RESTRICTED, detail=expect.D_PI)
    case_error("a DOCTYPE (billion laughs) gets <restricted-xml/>",
               "<?xml version='1.0'?><!DOCTYPE stream:stream ["
               "<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]>"
               + hdr[len(raw.XMLDECL):], expect.SE_RESTRICTED,
               expect.POLICY, expect.R_RESTRICTED,
               detail=expect.D_DOCTYPE)
    case_error("an undeclared entity reference gets <restricted-xml/>",
               hdr + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
               "&xxe;</starttls>", expect.SE_RESTRICTED, expect.POLICY,
               expect.R_RESTRICTED, detail=expect.D_ENTITY)

    # -- size and encoding --------------------------------------------------
    case_error("more than max_pre_tls_bytes before TLS gets "
               "<policy-violation/>", hdr + " " * (PRE_TLS_LIMIT + 512),
               expect.SE_POLICY, expect.POLICY, expect.R_PRE_TLS_TOO_LARGE)
    case_error("a UTF-16 byte-order mark gets <unsupported-encoding/>",
               ("\ufeff" + hdr).encode("utf-16-le"), expect.SE_ENCODING,
               expect.POLICY, expect.R_ENCODING, check_header=False)
    case_error("encoding='ISO-8859-1' gets <unsupported-encoding/>",
               hdr.replace("version='1.0'?>",
                           "version='1.0' encoding='ISO-8859-1'?>", 1),
               expect.SE_ENCODING, expect.POLICY, expect.R_ENCODING,
               check_header=False)

    # -- STARTTLS command injection (CVE-2011-0411 family) -----------------
    injections = [
        ("an <iq/>", "<iq type='get' id='x'/>"),
        ("a SASL <auth/>", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
         "mechanism='PLAIN'>%s</auth>" % PLAIN_B64),
        ("a TLS ClientHello", raw.client_hello_bytes()),
    ]
    for label, tail in injections:
        with t.case("<starttls/> followed in the same send() by %s: no "
                    "<proceed/>, <policy-violation/>" % label) as k:
            with connect() as cl:
                k.require(cl.open_stream(hdr), "features", repr(cl.data))
                data = raw.STARTTLS.encode() + (
                    tail if isinstance(tail, bytes) else tail.encode())
                cl.send(data)
                common.stream_error(k, cl, expect.SE_POLICY)
                common.no_proceed(k, cl)
                common.end_line(k, d, cl, expect.POLICY,
                                expect.R_INJECTION)
            common.log_clean(k, d, [PLAIN_B64])
            common.spy_untouched(k, backend)

    with t.case("<starttls/> then an <iq/> in a second send() right after: "
                "no TLS session, nothing reaches the backend") as k:
        # Either the daemon still has the <iq/> buffered when it would send
        # <proceed/> (policy-violation), or <proceed/> went first and the
        # <iq/> reaches mbedTLS as a broken ClientHello (tls-failed).
        with connect(nodelay=True) as cl:
            k.require(cl.open_stream(hdr), "features", repr(cl.data))
            cl.send(raw.STARTTLS)
            cl.try_send("<iq type='get' id='pipelined'/>")
            k.check(cl.read_to_eof(), "connection closed", repr(cl.data))
        common.end_line(k, d, cl, (expect.POLICY, expect.TLS_FAILED))
        k.check(not d.wait_event(cl, expect.TLS_ESTABLISHED, 0.2),
                "no tls-established")
        common.spy_untouched(k, backend)

    with t.case("client strings in the log are escaped: a newline in 'to' "
                "or in a namespace forges no log line") as k:
        forged = ("example.net&#10;xmppshield[1]: crit: event=forged-to",
                  "urn:x&#10;xmppshield[1]:&#13;crit:event=forged-ns")
        with connect() as cl:
            cl.send(raw.header(to=forged[0]))
            cl.read_to_eof()
        with connect() as cl2:
            cl2.send(hdr + "<foo xmlns='%s'/>" % forged[1])
            cl2.read_to_eof()
        common.end_line(k, d, cl, expect.PROTOCOL,
                        expect.R_HOST_UNKNOWN)
        common.end_line(k, d, cl2, None)
        bad = [l for l in d.text().splitlines()
               if not l.startswith("xmppshield[%d]: " % d.proc.pid)
               or "forged" in l.split("event=", 1)[-1][:12]]
        k.check(not bad, "every log line is the daemon's own", bad)

    with t.case("<starttls/> followed by whitespace only gets <proceed/> "
                "and TLS works") as k:
        with connect() as cl:
            k.require(cl.open_stream(hdr), "features", repr(cl.data))
            cl.send(raw.STARTTLS + " \n\t ")
            m = cl.recv_until(rb"<proceed[^>]*/>")
            k.require(m is not None, "<proceed/>", repr(cl.data))
            k.check(cl.data.endswith(m.group(0)), "nothing after <proceed/>",
                    repr(cl.data))
            cl.upgrade(cafile=c["rsa"].cert)
            k.check(cl.tls.version() == daemon.tls_version(),
                    daemon.tls_version(), cl.tls.version())
            k.check(d.wait_event(cl, expect.TLS_ESTABLISHED),
                    "tls-established logged", d.text()[-500:])
        common.end_line(k, d, cl, expect.CLOSE, expect.R_CLIENT_CLOSED)
        common.spy_untouched(k, backend, "the backend (no post-TLS header)")

    with t.case("<starttls/> sent one byte per send() (TCP_NODELAY) still "
                "gets <proceed/>") as k:
        with connect(nodelay=True) as cl:
            k.require(cl.open_stream(hdr), "features", repr(cl.data))
            mark = len(cl.data)
            cl.send_bytewise(raw.STARTTLS, pace=0.002)
            m = cl.recv_until(rb"<proceed[^>]*/>", timeout=5, start=mark)
            k.require(m is not None, "<proceed/> within 5 s",
                      repr(cl.data[mark:]))
            cl.upgrade(cafile=c["rsa"].cert)
            k.check(cl.tls.version() == daemon.tls_version(),
                    daemon.tls_version(), cl.tls.version())
        common.spy_untouched(k, backend)

    with t.case("the whole header and <starttls/> one byte per send() get "
                "features and <proceed/>") as k:
        with connect(nodelay=True) as cl:
            cl.send_bytewise(hdr, pace=0.001)
            k.require(cl.recv_until(rb"</stream:features>", timeout=5),
                      "features", repr(cl.data))
            mark = len(cl.data)
            cl.send_bytewise(raw.STARTTLS, pace=0.001)
            k.check(cl.recv_until(rb"<proceed[^>]*/>", timeout=5,
                                  start=mark), "<proceed/>",
                    repr(cl.data[mark:]))

    # -- deadlines -----------------------------------------------------------
    with t.case("no <starttls/> within pre_tls_timeout: <connection-timeout/>"
                " and event=timeout reason=pre-tls") as k:
        with connect() as cl:
            k.require(cl.open_stream(hdr), "features", repr(cl.data))
            common.stream_error(k, cl, expect.SE_CONNECTION_TIMEOUT,
                                timeout=PRE_TLS_TIMEOUT + 5)
            common.end_line(k, d, cl, expect.TIMEOUT,
                            expect.R_PRE_TLS_TIMEOUT)

    with t.case("no ClientHello after <proceed/> within handshake_timeout: "
                "closed, event=timeout reason=handshake") as k:
        with connect() as cl:
            k.require(cl.open_stream(hdr), "features", repr(cl.data))
            cl.send(raw.STARTTLS)
            k.require(cl.recv_until(rb"<proceed"), "<proceed/>",
                      repr(cl.data))
            k.check(cl.read_to_eof(HANDSHAKE_TIMEOUT + 5),
                    "connection closed by the daemon", repr(cl.data))
            common.end_line(k, d, cl, expect.TIMEOUT,
                            expect.R_HANDSHAKE_TIMEOUT)

    with t.case("a client that connects and closes at once is logged as "
                "client-closed") as k:
        with connect() as cl:
            pass
        common.end_line(k, d, cl, expect.CLOSE, expect.R_CLIENT_CLOSED)

    t.ok(d.alive(), "daemon still running after every pre-TLS case",
         d.text()[-2000:])
    t.ok(backend.connection_count() == 0,
         "the backend got zero connections over the whole file",
         "%d connections" % backend.connection_count())
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
