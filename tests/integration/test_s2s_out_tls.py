#!/usr/bin/python3
"""The client side of outgoing s2s TLS (issue 13 step 2, tls_client_new(),
not wired to a listener yet), through tests/helpers/tlsconnect, against
remote servers made with Python's ssl (OpenSSL): SNI is the remote domain,
our domain's certificate is presented as the client certificate, ALPN
xmpp-server on direct TLS, and the remote's chain and name are checked
with the same code as inbound (peercert, certname).  A remote offering
only TLS 1.0, or only CBC suites, fails the handshake; a remote whose
certificate names another domain, or is self-signed, is reported."""
import os
import re
import socket
import ssl
import threading

from lib import certs, daemon, tap, util

OURS, REMOTE = "b.example", "a.example"


def helper():
    top = os.environ.get("TOP_BUILDDIR")
    path = os.path.join(top, "tests", "helpers", "tlsconnect") if top \
        else None
    if not path or not os.access(path, os.X_OK):
        raise util.Skip("tests/helpers/tlsconnect not built")
    return path


class Remote:
    """One TLS server on 127.0.0.1:0 accepting one connection; records the
    SNI, the ALPN and the client certificate it saw."""

    def __init__(self, cert, ca=None, alpn=None, tls10=False, cbc=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.cert, cert.key)
        if tls10:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        if cbc:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
                            "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA")
        if ca:
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        if alpn:
            ctx.set_alpn_protocols(alpn)
        self.sni = None
        self.alpn = None
        self.client_cn = None
        self.error = None

        def sni_cb(sock, name, c):
            self.sni = name
        ctx.sni_callback = sni_cb
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        util.on_cleanup(self.sock.close)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(10)
            with self.ctx.wrap_socket(conn, server_side=True) as s:
                self.alpn = s.selected_alpn_protocol()
                peer = s.getpeercert()
                if peer:
                    for rdn in peer.get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                self.client_cn = v
                try:
                    s.recv(1)
                except (OSError, ssl.SSLError):
                    pass
        except (OSError, ssl.SSLError) as e:
            self.error = str(e)

    def wait(self):
        self.thread.join(20)


def run(conf, remote, mode="starttls", name=REMOTE):
    r = util.run([helper(), conf, OURS, name, "127.0.0.1", str(remote.port),
                  mode], timeout=30)
    remote.wait()
    out = {"rc": r.returncode, "text": r.stdout + r.stderr}
    for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', r.stdout):
        out.setdefault(k, v.strip('"'))
    return out


def main(t):
    helper()
    tmp = util.make_tmpdir()
    ca = certs.CA(tmp, "xmppshield test CA")
    ours = ca.issue(OURS)
    good = ca.issue(REMOTE)
    wrong = ca.issue("other.example")
    selfsigned = certs.make_cert(tmp, "ecdsa", REMOTE)
    rsa = certs.make_cert(tmp, "rsa", REMOTE)
    conf = daemon.write_config(os.path.join(tmp, "x.conf"), {
        "tls": {"s2s_ca_file": ca.cert},
        "domain %s" % OURS: {"certificate": ours.cert, "key": ours.key},
        "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                         "backend": "127.0.0.1:1", "domains": OURS}})

    with t.case("a remote with a certificate from the CA for its domain: "
                "TLS 1.2 or 1.3 (mbedTLS 3.6) AEAD, SNI a.example, our "
                "b.example certificate presented, verified (XmppAddr)") as k:
        rem = Remote(good, ca=ca.cert)
        r = run(conf, rem)
        k.check(r.get("handshake") == "ok" and
                r.get("version") in ("TLSv1.2", "TLSv1.3") and
                re.search(r"GCM|CHACHA", r.get("cipher", "")),
                "handshake=ok TLSv1.2/1.3 AEAD", r)
        k.check(rem.sni == REMOTE, "SNI %s" % REMOTE, rem.sni)
        k.check(rem.client_cn == OURS, "the remote saw our certificate "
                "(CN=%s)" % OURS, (rem.client_cn, rem.error))
        k.check(r.get("verify") == "ok" and r.get("name") == "xmppaddr" and
                r.get("issuer") == "CN=xmppshield test CA",
                "verify=ok name=xmppaddr", r)

    with t.case("direct TLS (XEP-0368): ALPN xmpp-server negotiated") as k:
        rem = Remote(good, alpn=["xmpp-server"])
        r = run(conf, rem, "direct")
        k.check(r.get("handshake") == "ok" and r.get("alpn") ==
                "xmpp-server" and rem.alpn == "xmpp-server",
                "alpn=xmpp-server both sides", (r, rem.alpn))

    with t.case("a remote whose certificate names another domain: the "
                "chain verifies, the name does not (name=none)") as k:
        r = run(conf, Remote(wrong))
        k.check(r.get("handshake") == "ok" and r.get("verify") == "ok" and
                r.get("name") == "none", "verify=ok name=none", r)

    with t.case("a self-signed remote: verify=self-signed") as k:
        r = run(conf, Remote(selfsigned))
        k.check(r.get("verify") == "self-signed", "verify=self-signed", r)

    with t.case("a remote offering only TLS 1.0: the handshake fails") as k:
        rem = Remote(rsa, tls10=True)
        r = run(conf, rem)
        k.check(r.get("handshake") == "failed" and r.get("reason") in
                ("protocol-version", "peer-alert", "handshake-failure"),
                "handshake=failed (protocol-version or the remote's alert)",
                (r, rem.error))

    with t.case("a remote offering only CBC suites (TLS 1.2): the handshake "
                "fails") as k:
        rem = Remote(rsa, cbc=True)
        r = run(conf, rem)
        k.check(r.get("handshake") == "failed" and r.get("reason") in
                ("no-shared-cipher", "peer-alert", "handshake-failure"),
                "handshake=failed (no shared cipher or the remote's alert)",
                (r, rem.error))


if __name__ == "__main__":
    tap.main(main)
