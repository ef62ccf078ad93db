#!/usr/bin/python3
"""TLS policy through STARTTLS with real clients (openssl s_client and the
ssl module): TLS 1.2+, ECDHE, AEAD only; older versions, CBC, static RSA,
DHE, SHA-1 signatures, unlisted curves and renegotiation refused.  Run with
an RSA-2048 and an ECDSA P-256 certificate."""
import re
import ssl
import subprocess

from lib import certs, common, daemon, expect, raw, spy, tap, util

AEAD_RX = r"GCM|CHACHA20"
WEAK_SECLEVEL = "DEFAULT:@SECLEVEL=0"   # let the client really offer it


def s_client(port, cert, extra, stdin_data="", timeout=20):
    args = ["openssl", "s_client", "-starttls", "xmpp", "-xmpphost",
            "example.org", "-connect", "127.0.0.1:%d" % port,
            "-servername", "example.org", "-CAfile", cert.cert,
            "-verify_return_error", "-verify_hostname", "example.org",
            "-brief"] + extra
    try:
        r = subprocess.run(args, input=stdin_data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise util.HarnessError("s_client timed out: %r" % e.stderr)
    r.out = r.stdout + r.stderr
    r.established = "CONNECTION ESTABLISHED" in r.out
    m = re.search(r"Protocol version: (\S+)", r.out)
    r.version = m.group(1) if m else None
    m = re.search(r"Ciphersuite: (\S+)", r.out)
    r.cipher = m.group(1) if m else None
    return r


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    backend = spy.Spy()
    vr = util.run([daemon.binary(), "-V"], timeout=10).stdout
    mbedtls2 = re.search(r"mbedTLS 2\.", vr) is not None

    for kind in ("rsa", "ecdsa"):
        cert = c[kind]
        sig = "RSA" if kind == "rsa" else "ECDSA"
        d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port),
                          name="xmppshield-" + kind).start()
        port = d.port()

        def refused(name, extra, reasons=None, stdin_data=""):
            with t.case("[%s] %s is refused" % (kind, name)) as k:
                mark = d.mark()
                r = s_client(port, cert, extra, stdin_data)
                k.check(not r.established and r.returncode != 0,
                        "s_client fails the handshake",
                        "rc=%d version=%s cipher=%s\n%s" % (
                            r.returncode, r.version, r.cipher, r.out[-800:]))
                line = d.wait_for(r"event=%s\b" % expect.TLS_FAILED,
                                  start=mark)
                k.check(line is not None, "event=tls-failed logged",
                        d.text(mark))
                if line and reasons:
                    reason = daemon.parse_line(line).get("reason")
                    k.check(reason in reasons,
                            "reason is one of %s" % (reasons,), line)
                # this connection's session: the previous case's own
                # tls-established line may be read after the mark
                sess = daemon.parse_line(line).get("session") if line \
                    else r"\d+"
                k.check(d.wait_for(r"event=%s session=%s\b"
                                   % (expect.TLS_ESTABLISHED, sess),
                                   0.2, start=mark) is None,
                        "no tls-established for session %s" % sess,
                        d.text(mark))

        with t.case("[%s] s_client -tls1_2 -starttls xmpp gets TLSv1.2 "
                    "with an ECDHE AEAD cipher and the configured "
                    "certificate" % kind) as k:
            mark = d.mark()
            r = s_client(port, cert, ["-tls1_2"])
            k.check(r.established and r.returncode == 0, "handshake",
                    r.out[-800:])
            k.check(r.version == "TLSv1.2", "TLSv1.2", r.version)
            k.check(r.cipher and re.search(AEAD_RX, r.cipher) and
                    r.cipher.startswith("ECDHE-%s-" % sig),
                    "ECDHE-%s AEAD cipher" % sig, r.cipher)
            k.check("Verification: OK" in r.out,
                    "certificate verifies for example.org", r.out[-800:])
            line = d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED,
                              start=mark)
            p = daemon.parse_line(line or "")
            k.check(p.get("tls_version") == "TLSv1.2",
                    "log tls_version=TLSv1.2", line)
            k.check(re.search(AEAD_RX, p.get("cipher", "")) and
                    "ECDHE" in p.get("cipher", ""),
                    "log cipher=ECDHE ... AEAD", line)
            k.check(p.get("domain") == "example.org", "log domain=",
                    line)

        with t.case("[%s] the certificate served is the configured one "
                    "(TLS 1.2)" % kind) as k:
            with d.client() as cl:
                k.require(cl.open_stream(), "features", repr(cl.data))
                ctx = raw.client_context(cert.cert)
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                cl.starttls(context=ctx)
                der = cl.tls.getpeercert(binary_form=True)
                with open(cert.cert) as f:
                    want = ssl.PEM_cert_to_DER_cert(f.read())
                k.check(der == want, "same DER as %s" % cert.cert)
                k.check(cl.tls.version() == "TLSv1.2", "TLSv1.2",
                        cl.tls.version())
                k.check(cl.tls.compression() is None, "no TLS compression",
                        cl.tls.compression())

        for suite in ("AES128-GCM-SHA256", "AES256-GCM-SHA384",
                      "CHACHA20-POLY1305"):
            name = "ECDHE-%s-%s" % (sig, suite)
            with t.case("[%s] %s alone is accepted" % (kind, name)) as k:
                r = s_client(port, cert, ["-tls1_2", "-cipher", name])
                k.check(r.established and r.cipher == name,
                        "negotiated %s" % name,
                        "%s %s" % (r.cipher, r.out[-500:]))

        for group, temp in (("X25519", "X25519"), ("P-256", "prime256v1"),
                            ("P-384", "secp384r1")):
            if kind == "rsa":
                with t.case("[rsa] key exchange group %s alone is accepted"
                            % group) as k:
                    r = s_client(port, cert, ["-tls1_2", "-groups", group])
                    k.check(r.established, "handshake", r.out[-500:])
                    k.check(re.search(r"Server Temp Key: .*%s" % temp,
                                      r.out), "ECDHE over %s" % group,
                            r.out[-500:])
            else:
                # TLS 1.2 (RFC 8422 5.1): the client's group list also names
                # the curves it can verify ECDSA with, so P-256 must be in it
                # for a P-256 certificate.
                groups = group if group == "P-256" else group + ":P-256"
                with t.case("[ecdsa] key exchange groups %s are accepted"
                            % groups) as k:
                    r = s_client(port, cert, ["-tls1_2", "-groups", groups])
                    k.check(r.established, "handshake", r.out[-500:])

        refused("TLS 1.1 (-tls1_1)",
                ["-tls1_1", "-cipher", WEAK_SECLEVEL],
                ("protocol-version", "handshake-failure"))
        refused("TLS 1.0 (-tls1)",
                ["-tls1", "-cipher", WEAK_SECLEVEL],
                ("protocol-version", "handshake-failure"))
        refused("a CBC-only client (ECDHE-%s-AES128-SHA)" % sig,
                ["-tls1_2", "-cipher", "ECDHE-%s-AES128-SHA" % sig],
                ("no-shared-cipher", "handshake-failure"))
        refused("a CBC-SHA256-only client (ECDHE-%s-AES128-SHA256)" % sig,
                ["-tls1_2", "-cipher", "ECDHE-%s-AES128-SHA256" % sig],
                ("no-shared-cipher", "handshake-failure"))
        refused("a static-RSA-only client (AES128-GCM-SHA256)",
                ["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
                ("no-shared-cipher", "handshake-failure"))
        refused("a DHE-only client (DHE-RSA-AES128-GCM-SHA256)",
                ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"],
                ("no-shared-cipher", "handshake-failure"))
        refused("3DES / RC4 / NULL only",
                ["-tls1_2", "-cipher",
                 "3DES:RC4:eNULL:@SECLEVEL=0"])
        refused("a client allowing only SHA-1 signatures (%s+SHA1)" % sig,
                ["-tls1_2", "-sigalgs", "%s+SHA1" % sig, "-cipher",
                 WEAK_SECLEVEL])
        refused("a client offering only the secp521r1 group",
                ["-tls1_2", "-groups", "secp521r1"])
        if mbedtls2:
            refused("a TLS 1.3-only client (mbedTLS 2.x has no TLS 1.3)",
                    ["-tls1_3"])
        else:
            t.skip("[%s] TLS 1.3-only client refused" % kind,
                   "daemon built with TLS 1.3 (test_tls13.py tests it)")

        with t.case("[%s] client-initiated renegotiation is refused" % kind) \
                as k:
            r = s_client(port, cert, ["-tls1_2"], stdin_data="R\n")
            k.check(r.established, "first handshake", r.out[-500:])
            k.check("RENEGOTIATING" in r.out, "s_client tried",
                    r.out[-500:])
            k.check(re.search(r"no renegotiation|handshake failure|"
                              r"unexpected eof", r.out),
                    "second handshake refused", r.out[-500:])

        t.ok(d.alive(), "[%s] daemon still running" % kind,
             d.text()[-1500:])
        d.stop()
        common.sessions_end_once(t, d)

    with t.case("a certificate chain too large for one handshake message "
                "is refused at start, naming the file") as k:
        cert = c["rsa"]
        with open(cert.cert) as f:
            pem = f.read()
        big = tmp + "/big-chain.pem"
        with open(big, "w") as f:
            f.write(pem * 40)      # about 40 KiB of DER
        cfg = daemon.base_config(cert, backend.port)
        cfg["tls"]["certificate"] = big
        r = daemon.check_config(daemon.write_config(tmp + "/big.conf", cfg))
        k.check(r.returncode == 1 and re.search(
            r"certificate chain .*big-chain\.pem \(40 certificates, \d+ "
            r"bytes\) is too large", r.stderr), "exit 1, message",
            "%d %r" % (r.returncode, r.stderr))

    t.ok(backend.connection_count() == 0,
         "no TLS-only session reached the backend",
         "%d connections" % backend.connection_count())


if __name__ == "__main__":
    tap.main(main)
