#!/usr/bin/python3
"""Incoming s2s peer verification by certificate (issue 13): s2s_verify =
require on the listener refuses, each with its own reason, a peer whose
certificate names another domain, has expired, comes from an unknown CA,
is revoked (CRL), is self-signed, or is missing, and a dialback request
for a second domain the certificate does not cover (piggybacking); a
valid certificate (DNS-ID, XmppAddr or SRV-ID) is verified and dialback
passes through.  s2s_verify = log per [domain] lets an unverified peer go
on and logs why.

The peers are Python ssl clients presenting certificates from a test CA
made with openssl ca (tests/integration/lib/certs.py); the real Prosody
presenting its certificate on outgoing s2s is test_federation.py.  The
backend is a scripted receiving server that proves what reached it."""
import re
import signal

from lib import certs, common, daemon, expect, raw, spy, tap, util

DB_NS = "jabber:server:dialback"
PEER = "a.example"
EVENT_UNVERIFIED = "s2s-peer-unverified"
EVENT_VERIFIED = "s2s-peer-verified"
R_UNVERIFIED = "peer-unverified"   # end-of-session reason


def s2s_header(to="example.org", frm=PEER):
    return raw.header(to=to, ns=raw.NS_SERVER,
                      extra=" xmlns:db='%s'%s" % (
                          DB_NS, " from='%s'" % frm if frm else ""))


def db_result(frm, to="example.org", key="k3y"):
    return "<db:result from='%s' to='%s'>%s</db:result>" % (frm, to, key)


BACKEND_HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server'"
               " xmlns:stream='http://etherx.jabber.org/streams'"
               " xmlns:db='jabber:server:dialback' from='example.org'"
               " id='spy-s2s' version='1.0'>")
FEATURES = ("<stream:features><dialback xmlns='urn:xmpp:features:dialback'>"
            "<errors/></dialback></stream:features>")


def receiving_server(conn):
    """Header and features; each <db:result/> request answered valid."""
    if not conn.wait_data(rb"<stream:stream\b[^>]*>", 10):
        return
    conn.send(BACKEND_HDR + FEATURES)
    seen = 0
    while True:
        m = conn.wait_data(rb"<db:result from='([^']*)'[^>]*>[^<]*"
                           rb"</db:result>", 10, start=seen)
        if not m:
            return
        seen = m.end()
        conn.send("<db:result from='example.org' to='%s' type='valid'/>"
                  % m.group(1).decode())


def peer_context(cert):
    ctx = raw.client_context(None)
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    return ctx


def connect(d, cert, to="example.org", frm=PEER, listener="s2s"):
    """A peer through STARTTLS presenting cert, then its post-TLS header.
    Returns the client and the daemon's log mark."""
    mark = d.mark()
    cl = d.client(listener)
    if not cl.open_stream(s2s_header(to, frm)):
        raise util.HarnessError("no pre-TLS features: %r" % cl.data)
    cl.starttls(server_hostname=to, context=peer_context(cert))
    cl.send(s2s_header(to, frm))
    return cl, mark


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    server = certs.make_cert(tmp, "ecdsa", "example.org")
    ca = certs.CA(tmp, "xmppshield test CA")
    other_ca = certs.CA(tmp, "unknown test CA")
    good = ca.issue(PEER)
    xmpp_only = ca.issue("x.example",
                         san="otherName:1.3.6.1.5.5.7.8.5;UTF8:x.example")
    srv_only = ca.issue("s.example", san="otherName:1.3.6.1.5.5.7.8.7;"
                        "IA5STRING:_xmpp-server.s.example")
    wildcard = ca.issue("*.w.example", san="DNS:*.w.example")
    wrong = ca.issue("other.example")
    expired = ca.issue(PEER, start="20200101000000Z", end="20200201000000Z")
    revoked = ca.issue(PEER)
    later = ca.issue(PEER)          # revoked during the test
    ca.revoke(revoked)
    ca.crl()
    unknown = other_ca.issue(PEER)
    selfsigned = certs.make_cert(tmp, "ecdsa", PEER)

    with t.case("xmppshield -n refuses an unreadable s2s_ca_file or a "
                "s2s_crl_file that holds no CRL, naming the file and what "
                "to write") as k:
        for key, path, want in (
                ("s2s_ca_file", "/nonexistent/ca.pem",
                 "cannot open: No such file or directory"),
                ("s2s_crl_file", server.cert, "name a file of CRLs")):
            conf = daemon.write_config(tmp + "/bad.conf", {
                "tls": {"certificate": server.cert, "key": server.key,
                        key: path},
                "domain example.org": {},
                "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                                 "backend": "127.0.0.1:1",
                                 "domains": "example.org"}})
            r = daemon.check_config(conf)
            k.check(r.returncode != 0 and "%s %s" % (key, path) in r.stderr
                    and want in r.stderr, "%s: refused, says %r"
                    % (key, want), r.stderr)

    backend = spy.Spy(receiving_server)
    d = daemon.Daemon(tmp, {
        "global": {"log_level": "debug"},
        "tls": {"certificate": server.cert, "key": server.key,
                "s2s_ca_file": ca.cert, "s2s_crl_file": ca.crl_path},
        "domain example.org": {},
        "domain open.example": {"s2s_verify": "log"},
        "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                         "backend": "127.0.0.1:%d" % backend.port,
                         "domains": "example.org open.example",
                         "s2s_verify": "require"},
    }).start()

    def unverified_line(k, mark, reason, domain=PEER, policy="require",
                        via="header"):
        line = d.wait_for(r"event=%s\b.*\bdomain=%s\b.*\breason=%s\b"
                          % (EVENT_UNVERIFIED, re.escape(domain), reason),
                          start=mark)
        e = daemon.parse_line(line) if line else {}
        k.check(line is not None, "logged event=%s domain=%s reason=%s"
                % (EVENT_UNVERIFIED, domain, reason), d.text(mark)[-1500:])
        k.check(e.get("policy") == policy and e.get("via") == via,
                "policy=%s via=%s" % (policy, via), e)
        return e

    # -- refused, each with its own reason ---------------------------------
    refusals = [
        ("a certificate for another domain (other.example)", wrong,
         "name-mismatch"),
        ("an expired certificate (2020)", expired, "expired"),
        ("a certificate from a CA not in s2s_ca_file", unknown,
         "unknown-ca"),
        ("a revoked certificate (in s2s_crl_file)", revoked, "revoked"),
        ("a self-signed certificate", selfsigned, "self-signed"),
        ("no certificate at all", None, "no-certificate"),
    ]
    for what, cert, reason in refusals:
        with t.case("s2s_verify = require: %s is refused with reason=%s, "
                    "<policy-violation/>, nothing reaches the backend"
                    % (what, reason)) as k:
            cl, mark = connect(d, cert)
            with cl:
                common.stream_error(k, cl, expect.SE_POLICY)
            unverified_line(k, mark, reason)
            common.end_line(k, d, cl, expect.POLICY, R_UNVERIFIED,
                            peer_domain=PEER, detail=reason)
            common.spy_untouched(k, backend)

    # -- verified ----------------------------------------------------------
    def verified(k, cl, mark, domain, ident):
        line = d.wait_for(r"event=%s\b.*\bdomain=%s\b" % (
            EVENT_VERIFIED, re.escape(domain)), start=mark)
        e = daemon.parse_line(line) if line else {}
        k.check(line is not None, "logged event=%s domain=%s"
                % (EVENT_VERIFIED, domain), d.text(mark)[-1500:])
        k.check(e.get("id") == ident and e.get("via") == "header" and
                e.get("issuer") == "CN=xmppshield test CA",
                "id=%s via=header issuer=\"CN=xmppshield test CA\"" % ident,
                e)
        k.check(cl.recv_until(rb"</stream:features>") is not None,
                "the backend's features came back", repr(cl.data))

    with t.case("s2s_verify = require: a certificate from the CA naming "
                "the peer (DNS-ID and XmppAddr) is verified; dialback passes "
                "through") as k:
        n = backend.connection_count()
        cl, mark = connect(d, good)
        with cl:
            verified(k, cl, mark, PEER, "xmppaddr")
            at = len(cl.data)
            cl.send(db_result(PEER))
            k.check(cl.recv_until(rb"type='valid'", start=at) is not None,
                    "the backend's valid dialback result came back",
                    repr(cl.data))
            cl.send(raw.END)
            cl.read_to_eof(5)
        k.check(backend.connection_count() == n + 1, "one backend "
                "connection")
        common.end_line(k, d, cl, expect.CLOSE)
        k.check(not d.lines_matching(r"event=%s\b" % EVENT_UNVERIFIED, mark),
                "no unverified line", d.text(mark)[-1000:])

    for domain, cert, ident in (("x.example", xmpp_only, "xmppaddr"),
                                ("s.example", srv_only, "srv"),
                                ("chat.w.example", wildcard, "dns")):
        with t.case("s2s_verify = require: a certificate naming %s only by "
                    "%s is verified" % (domain, ident) +
                    (" (wildcard *.w.example)" if "w." in domain else ""))\
                as k:
            cl, mark = connect(d, cert, frm=domain)
            with cl:
                verified(k, cl, mark, domain, ident)
                cl.send(raw.END)
                cl.read_to_eof(5)
            common.end_line(k, d, cl, expect.CLOSE)

    with t.case("piggybacking: a dialback request for a second from domain "
                "the certificate does not cover is refused "
                "(reason=piggyback-not-covered); it never reaches the "
                "backend") as k:
        cl, mark = connect(d, good)
        with cl:
            k.require(cl.recv_until(rb"</stream:features>"), "features",
                      repr(cl.data))
            at = len(cl.data)
            cl.send(db_result(PEER, key="first"))
            k.check(cl.recv_until(rb"type='valid'", start=at) is not None,
                    "the covered domain's request went through",
                    repr(cl.data))
            cl.send(db_result("evil.example", key="second"))
            common.stream_error(k, cl, expect.SE_POLICY)
        unverified_line(k, mark, "piggyback-not-covered",
                        domain="evil.example", via="dialback")
        common.end_line(k, d, cl, expect.POLICY, R_UNVERIFIED,
                        peer_domain="evil.example",
                        detail="piggyback-not-covered")
        conn = backend.conns[-1]
        conn.wait_closed()
        k.check(b"first" in conn.data and b"evil.example" not in conn.data
                and b"second" not in conn.data, "the backend got the first "
                "request and nothing of the second", repr(conn.data[-400:]))

    with t.case("[domain open.example] s2s_verify = log: a self-signed peer "
                "is logged (reason=self-signed policy=log) and dialback goes "
                "on") as k:
        cl, mark = connect(d, selfsigned, to="open.example")
        with cl:
            k.check(cl.recv_until(rb"</stream:features>") is not None,
                    "the backend's features came back", repr(cl.data))
            e = unverified_line(k, mark, "self-signed", policy="log")
            k.check(e.get("to") == "open.example", "to=open.example", e)
            k.check(e.get("_level") == "notice", "priority notice", e)
            at = len(cl.data)
            cl.send(db_result(PEER, to="open.example"))
            k.check(cl.recv_until(rb"type='valid'", start=at) is not None,
                    "dialback went on", repr(cl.data))
            cl.send(raw.END)
            cl.read_to_eof(5)
        common.end_line(k, d, cl, expect.CLOSE)
        k.check(len(d.lines_matching(r"event=%s\b" % EVENT_UNVERIFIED,
                                     mark)) == 1,
                "one unverified line for the domain, not one per request",
                d.text(mark)[-1500:])

    with t.case("a CRL refreshed and reloaded (SIGHUP): a certificate "
                "verified before is refused as revoked after; the trust "
                "store belongs to the generation") as k:
        cl, mark = connect(d, later)
        with cl:
            verified(k, cl, mark, PEER, "xmppaddr")
            cl.send(raw.END)
            cl.read_to_eof(5)
        ca.revoke(later)
        ca.crl()
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        line = d.wait_for(r"event=(reloaded|reload-failed)\b", start=mark)
        k.require(line and "event=reloaded" in line, "reloaded",
                  d.text(mark)[-1000:])
        cl, mark = connect(d, later)
        with cl:
            common.stream_error(k, cl, expect.SE_POLICY)
        unverified_line(k, mark, "revoked")

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
