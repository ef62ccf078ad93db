#!/usr/bin/python3
"""TLS 1.3 (mbedTLS 3.6) with real clients, the same strict policy as TLS
1.2: the three AEAD suites, groups X25519/P-256/P-384 with
HelloRetryRequest, ECDSA and RSA-PSS signatures, min_version = TLSv1.3
refusing a TLS 1.2-only client, a client KeyUpdate ending the session with
a reason an operator understands, a fresh PSA random generator in each
worker (CVE-2026-25835: the first ServerHello key shares of two workers
differ), and SNI, per-domain certificates, sni_strict, sni-mismatch, ALPN
on direct TLS and s2s behaving as under TLS 1.2.  Skipped, with the
reason, on mbedTLS 2.28."""
import re

from lib import certs, common, daemon, expect, sclient, spy, tap, util

SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
          "TLS_CHACHA20_POLY1305_SHA256")
HELLO_RX = re.compile(r"^(>>>|<<<) TLS 1\.3, Handshake \[length [0-9a-f]+\], "
                      r"(ClientHello|ServerHello)", re.M)


def established(k, d, mark, **kv):
    line = d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED, start=mark)
    e = daemon.parse_line(line) if line else {}
    for key, v in kv.items():
        k.check(e.get(key) == v, "tls-established %s=%s" % (key, v), e)
    return e


def failed(k, d, mark, event=expect.TLS_FAILED, reasons=None):
    line = d.wait_for(r"event=%s\b" % event, start=mark)
    k.check(line is not None, "event=%s logged" % event, d.text(mark))
    if line and reasons:
        k.check(daemon.parse_line(line).get("reason") in reasons,
                "reason one of %s" % (reasons,), line)
    k.check(d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED, 0.2,
                       start=mark) is None, "no tls-established",
            d.text(mark))


def server_key_share(out):
    """The key_share (extension 0x0033) of the last ServerHello in
    s_client -msg output, as hex."""
    blocks = re.split(r"^(?:<<<|>>>) ", out, flags=re.M)
    hexes = [b for b in blocks if b.startswith("TLS 1.3, Handshake") and
             "ServerHello" in b.splitlines()[0]]
    if not hexes:
        return None
    body = bytes.fromhex("".join(hexes[-1].splitlines()[1:]).replace(" ",
                                                                     ""))
    # type(1) len(3) version(2) random(32) sid_len(1)+sid suite(2) comp(1)
    i = 4 + 2 + 32
    i += 1 + body[i]
    i += 3
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    while i + 4 <= end:
        typ = int.from_bytes(body[i:i + 2], "big")
        ln = int.from_bytes(body[i + 2:i + 4], "big")
        if typ == 0x33:
            return body[i + 4:i + 4 + ln].hex()
        i += 4 + ln
    return None


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    daemon.need_tls13()
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    cb = certs.make_cert(tmp, "ecdsa", "b.example")
    backend = spy.Spy()

    # -- the policy, ECDSA and RSA certificates --------------------------
    for kind in ("ecdsa", "rsa"):
        cert = c[kind]
        d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port),
                          name="tls13-" + kind).start()
        port = d.port()

        def s13(extra=(), **kw):
            return sclient.run(port, starttls="xmpp", xmpphost="example.org",
                               servername="example.org", version="1.3",
                               extra=["-CAfile", cert.cert,
                                      "-verify_hostname", "example.org"] +
                               list(extra), **kw)

        with t.case("[%s] s_client -tls1_3 -starttls xmpp gets TLSv1.3 with "
                    "an AEAD suite and the configured certificate" % kind) \
                as k:
            mark = d.mark()
            r = s13()
            k.check(r.ok and r.version == "TLSv1.3", "TLSv1.3", r)
            k.check(r.cipher in SUITES, "an AEAD suite", r)
            k.check("Verify return code: 0 (ok)" in r.out,
                    "certificate verifies for example.org", r)
            sig = "ECDSA" if kind == "ecdsa" else "RSA-PSS"
            k.check("Peer signature type: %s" % sig in r.out,
                    "signed with %s" % sig, r)
            e = established(k, d, mark, tls_version="TLSv1.3",
                            domain="example.org")
            k.check(e.get("cipher") in SUITES,
                    "log cipher= the RFC 8446 suite name", e)

        with t.case("[%s] a client offering both versions gets TLSv1.3"
                    % kind) as k:
            r = sclient.run(port, starttls="xmpp", xmpphost="example.org",
                            servername="example.org")
            k.check(r.ok and r.version == "TLSv1.3", "TLSv1.3", r)

        for suite in SUITES:
            with t.case("[%s] %s alone is accepted" % (kind, suite)) as k:
                r = s13(["-ciphersuites", suite])
                k.check(r.ok and r.cipher == suite, "negotiated " + suite, r)

        for group, temp in (("X25519", "X25519"), ("P-256", "prime256v1"),
                            ("P-384", "secp384r1")):
            with t.case("[%s] key exchange group %s alone is accepted"
                        % (kind, group)) as k:
                r = s13(["-groups", group])
                k.check(r.ok and re.search(r"Server Temp Key: .*%s" % temp,
                                           r.out), "ECDHE over " + group, r)

        with t.case("[%s] HelloRetryRequest: a key share for secp521r1 "
                    "(not accepted) with P-384 also offered gets a second "
                    "ClientHello and P-384" % kind) as k:
            mark = d.mark()
            r = s13(["-groups", "secp521r1:P-384", "-msg"])
            hellos = [m.group(2) for m in HELLO_RX.finditer(r.out)]
            k.check(hellos.count("ClientHello") == 2,
                    "two ClientHellos (HelloRetryRequest between)", hellos)
            k.check(r.ok and re.search(r"Server Temp Key: .*secp384r1",
                                       r.out), "ECDHE over P-384", r)
            established(k, d, mark, tls_version="TLSv1.3")

        with t.case("[%s] a TLS 1.3 client offering only secp521r1 is "
                    "refused" % kind) as k:
            mark = d.mark()
            r = s13(["-groups", "secp521r1"])
            k.check(not r.ok, "handshake refused", r)
            failed(k, d, mark)

        if kind == "rsa":
            with t.case("[rsa] a TLS 1.3 client allowing only RSA PKCS#1 "
                        "signatures is refused (RSA-PSS only in 1.3)") as k:
                mark = d.mark()
                r = s13(["-sigalgs", "RSA+SHA256:RSA+SHA384"])
                k.check(not r.ok, "handshake refused", r)
                failed(k, d, mark)
        else:
            with t.case("[ecdsa] a TLS 1.3 client allowing only SHA-1 "
                        "signatures is refused") as k:
                mark = d.mark()
                r = s13(["-sigalgs", "ECDSA+SHA1", "-cipher",
                         "DEFAULT:@SECLEVEL=0"])
                k.check(not r.ok, "handshake refused", r)
                k.check(d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED,
                                   0.5, start=mark) is None,
                        "no tls-established", d.text(mark))

        with t.case("[%s] a client KeyUpdate (s_client K) ends the session: "
                    "event=close reason=tls-keyupdate-unsupported" % kind) \
                as k:
            mark = d.mark()
            r = s13(["-msg"], input="K\n")
            k.check("KeyUpdate" in r.out, "s_client sent a KeyUpdate", r)
            # s_client may be gone before the unexpected_message alert
            # arrives; when it saw an alert, it is that one
            got = re.findall(r"^<<< TLS 1\.\d, Alert \[length [0-9a-f]+\], "
                             r"(.*)$", r.out, re.M)
            k.check(all("unexpected_message" in a for a in got),
                    "any alert received is unexpected_message", got)
            line = d.wait_for(r"event=%s\b.*reason=%s\b" % (
                expect.CLOSE, expect.R_KEYUPDATE), start=mark)
            k.check(line is not None,
                    "event=close reason=tls-keyupdate-unsupported",
                    d.text(mark))

        t.ok(d.alive(), "[%s] daemon still running" % kind)
        d.stop()
        common.sessions_end_once(t, d)

    # -- min_version = TLSv1.3: Mozilla "modern" -------------------------
    cfg = daemon.base_config(c["ecdsa"], backend.port,
                             extra={"tls": {"min_version": "TLSv1.3"}})
    m = daemon.Daemon(tmp, cfg, name="modern").start()
    with t.case("min_version = TLSv1.3: a TLS 1.2-only client is refused "
                "(tls-failed reason=protocol-version)") as k:
        mark = m.mark()
        r = sclient.run(m.port(), starttls="xmpp", xmpphost="example.org",
                        servername="example.org", version="1.2")
        k.check(not r.ok, "handshake refused", r)
        failed(k, m, mark, reasons=("protocol-version", "handshake-failure",
                                    "no-shared-cipher"))
    with t.case("min_version = TLSv1.3: a TLS 1.3 client is served") as k:
        mark = m.mark()
        r = sclient.run(m.port(), starttls="xmpp", xmpphost="example.org",
                        servername="example.org")
        k.check(r.ok and r.version == "TLSv1.3", "TLSv1.3", r)
        established(k, m, mark, tls_version="TLSv1.3")
    m.stop()
    common.sessions_end_once(t, m)

    # -- per-worker PSA random generator (CVE-2026-25835) -----------------
    cfg = daemon.base_config(c["ecdsa"], backend.port)
    cfg["global"]["workers"] = 2
    w = daemon.Daemon(tmp, cfg, name="workers").start()
    with t.case("workers = 2: the first ServerHello key shares of the two "
                "workers differ (each worker's PSA random generator is "
                "reseeded after fork), and every key share is fresh") as k:
        first, shares = {}, []
        mark = w.mark()
        for i in range(24):
            r = sclient.run(w.port(), starttls="xmpp",
                            xmpphost="example.org", servername="example.org",
                            version="1.3",
                            extra=["-msg", "-groups", "X25519",
                                   "-bind", "127.0.0.%d:0" % (10 + i)])
            line = w.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED,
                              start=mark)
            if line is None:
                break
            mark = w.log.lines.index(line) + 1
            share = server_key_share(r.out)
            shares.append(share)
            first.setdefault(daemon.parse_line(line).get("_pid"), share)
            if len(first) == 2 and i >= 3:
                break
        k.check(len(first) == 2, "both workers served", first.keys())
        vals = list(first.values())
        k.check(len(vals) == 2 and None not in vals and vals[0] != vals[1],
                "first key shares differ", vals)
        k.check(None not in shares and len(set(shares)) == len(shares),
                "no key share repeats", shares)
    w.stop()
    common.sessions_end_once(t, w)

    # -- SNI, per-domain certificates, ALPN, s2s under TLS 1.3 -----------
    def vhosts(strict):
        return {
            "global": {"log_level": "info", "shutdown_grace": 0,
                       "workers": 1},
            "tls": {"certificate": c["rsa"].cert, "key": c["rsa"].key,
                    "sni_strict": "yes" if strict else "no"},
            "domain example.org": {},
            "domain b.example": {"certificate": cb.cert, "key": cb.key},
            "listener c2s": {"listen": "127.0.0.1:0",
                             "backend": "127.0.0.1:%d" % backend.port,
                             "domains": "example.org b.example"},
            "listener direct": {"listen": "127.0.0.1:0", "tls": "direct",
                                "backend": "127.0.0.1:%d" % backend.port,
                                "domains": "b.example example.org"},
            "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                             "backend": "127.0.0.1:%d" % backend.port,
                             "domains": "example.org b.example"},
        }

    v = daemon.Daemon(tmp, vhosts(False), name="vhosts").start()
    c2s, direct, s2s = v.port("c2s"), v.port("direct"), v.port("s2s")
    with t.case("TLS 1.3 STARTTLS to='b.example', SNI b.example: "
                "b.example's own certificate") as k:
        mark = v.mark()
        r = sclient.run(c2s, starttls="xmpp", xmpphost="b.example",
                        servername="b.example", version="1.3")
        k.check(r.ok and r.subject_cn == "b.example", "CN=b.example", r)
        established(k, v, mark, domain="b.example", sni="b.example",
                    tls_version="TLSv1.3")
    with t.case("TLS 1.3 STARTTLS to='b.example' without SNI: b.example's "
                "certificate") as k:
        r = sclient.run(c2s, starttls="xmpp", xmpphost="b.example",
                        version="1.3")
        k.check(r.ok and r.subject_cn == "b.example", "CN=b.example", r)
    with t.case("TLS 1.3 STARTTLS to='example.org' with SNI b.example: "
                "refused, policy-violation reason=sni-mismatch") as k:
        mark = v.mark()
        r = sclient.run(c2s, starttls="xmpp", xmpphost="example.org",
                        servername="b.example", version="1.3")
        k.check(not r.ok, "handshake refused", r)
        failed(k, v, mark, event=expect.POLICY, reasons=("sni-mismatch",))
    with t.case("TLS 1.3 direct TLS, SNI b.example, ALPN xmpp-client: "
                "b.example's certificate, alpn=xmpp-client") as k:
        mark = v.mark()
        r = sclient.run(direct, alpn="xmpp-client", servername="b.example",
                        version="1.3")
        k.check(r.ok and r.subject_cn == "b.example" and
                r.alpn == "xmpp-client", "CN=b.example, ALPN", r)
        established(k, v, mark, sni="b.example", alpn="xmpp-client",
                    tls_version="TLSv1.3")
    with t.case("TLS 1.3 direct TLS offering only ALPN h2: alert 120 "
                "no_application_protocol") as k:
        mark = v.mark()
        r = sclient.run(direct, alpn="h2", servername="example.org",
                        version="1.3")
        k.check(not r.ok and r.alert_number == 120, "alert 120", r)
        failed(k, v, mark, reasons=("no-application-protocol",))
    with t.case("TLS 1.3 s2s STARTTLS (-starttls xmpp-server): "
                "established on the s2s listener") as k:
        mark = v.mark()
        r = sclient.run(s2s, starttls="xmpp-server", xmpphost="b.example",
                        servername="b.example", version="1.3")
        k.check(r.ok and r.version == "TLSv1.3" and
                r.subject_cn == "b.example", "TLSv1.3, CN=b.example", r)
        established(k, v, mark, listener="s2s", domain="b.example",
                    tls_version="TLSv1.3")
    v.stop()
    common.sessions_end_once(t, v)

    s = daemon.Daemon(tmp, vhosts(True), name="strict").start()
    with t.case("TLS 1.3 sni_strict: an unknown SNI is refused "
                "(unrecognized_name, reason=unknown-sni)") as k:
        mark = s.mark()
        r = sclient.run(s.port("direct"), servername="unknown.example",
                        version="1.3")
        k.check(not r.ok, "handshake refused", r)
        failed(k, s, mark, reasons=("unknown-sni",))
    s.stop()
    common.sessions_end_once(t, s)

    t.ok(backend.connection_count() == 0,
         "no TLS-only session reached the backend",
         "%d connections" % backend.connection_count())


if __name__ == "__main__":
    tap.main(main)
