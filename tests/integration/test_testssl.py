#!/usr/bin/python3
"""testssl.sh (Debian's testssl.sh package) against the daemon through
STARTTLS, as an auditor would run it: TLS 1.2 offered (and TLS 1.3 on
mbedTLS 3.6), nothing older, and every cipher it finds an ECDHE AEAD one
(AES-GCM or ChaCha20-Poly1305).  Skipped when testssl is not installed
(contrib/install-deps.sh --tests installs it)."""
import json
import os
import re
import shutil

from lib import certs, common, daemon, spy, tap, util

AEAD_RX = re.compile(r"\b(AESGCM|ChaCha20)\b")


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    if not testssl:
        raise util.Skip("testssl not installed (apt-get install testssl.sh)")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["ecdsa"]
    backend = spy.Spy()
    d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port)).start()
    out = os.path.join(tmp, "testssl.json")
    r = util.run([testssl, "--quiet", "--color", "0", "--warnings", "off",
                  "--starttls", "xmpp", "--xmpphost", "example.org",
                  "--jsonfile", out, "-p", "-E",
                  "127.0.0.1:%d" % d.port()], timeout=240)
    with t.case("testssl -p -E --starttls xmpp runs and writes its "
                "findings") as k:
        k.require(os.path.exists(out), "JSON written",
                  "rc=%d\n%s\n%s" % (r.returncode, r.stdout[-1500:],
                                     r.stderr[-500:]))
        with open(out) as f:
            found = json.load(f)
        by_id = {x["id"]: x["finding"] for x in found}
        k.check("TLS1_2" in by_id, "protocols probed", by_id.keys())
    with t.case("protocols: TLS 1.2 offered, SSLv2/SSLv3/TLS 1.0/1.1 not") \
            as k:
        k.check(by_id.get("TLS1_2", "").startswith("offered"),
                "TLS1_2 offered", by_id.get("TLS1_2"))
        for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            k.check(by_id.get(p, "").startswith("not offered"),
                    "%s not offered" % p, by_id.get(p))
    if daemon.has_tls13():
        with t.case("TLS 1.3 offered, with exactly the three AEAD suites")\
                as k:
            k.check(by_id.get("TLS1_3", "").startswith("offered"),
                    "TLS1_3 offered", by_id.get("TLS1_3"))
            s13 = sorted(f.split()[-1] for i, f in by_id.items()
                         if i.startswith("cipher-tls1_3_"))
            k.check(s13 == ["TLS_AES_128_GCM_SHA256",
                            "TLS_AES_256_GCM_SHA384",
                            "TLS_CHACHA20_POLY1305_SHA256"],
                    "TLS 1.3 suites", s13)
    else:
        with t.case("mbedTLS 2.28: TLS 1.3 not offered") as k:
            k.check(by_id.get("TLS1_3", "").startswith("not offered"),
                    "TLS1_3 not offered", by_id.get("TLS1_3"))
    with t.case("every cipher found is ECDHE with an AEAD (no CBC, no "
                "static RSA, no SHA-1 MAC)") as k:
        ciphers = {i: f for i, f in by_id.items() if i.startswith("cipher-")}
        k.check(ciphers, "ciphers listed", by_id.keys())
        bad = {i: f for i, f in ciphers.items()
               if not AEAD_RX.search(f) or
               (i.startswith("cipher-tls1_2") and "ECDHE" not in f)}
        k.check(not bad, "all ECDHE AEAD", bad)
        k.check(any(i.startswith("cipher-tls1_2") for i in ciphers),
                "TLS 1.2 ciphers listed", ciphers)
    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    os.environ.setdefault("XMPPSHIELD_TEST_BUDGET", "300")
    tap.main(main)
