#!/usr/bin/python3
"""Outgoing federation through xmppshield routed by the firewall, as a
network team deploys it (issue 13): the legacy Prosody B resolves remote
domains itself, with the real DNS, and connects to them on 5269; an
nftables rule in the namespace redirects its connections (by user:
xmppshield runs as root, Prosody as `prosody`) to xmppshield's s2s-out
listener, which reads the original destination from conntrack
(SO_ORIGINAL_DST) for its log and the remote domain from the header.

    namespace, one DNS view (dnsmasq):
      a.example 127.0.0.10  Prosody A, s2s_require_encryption = true
      b.example 127.0.0.20  xmppshield s2s 5269 -> Prosody B 127.0.0.1:15269
                            s2s-out 127.0.0.1:15270 (no s2s_out_resolver)
      e.example 127.0.0.50  Prosody E, direct TLS only (SRV
                            _xmpps-server._tcp.e.example -> 5270)
    nft: meta skuid != 0 ip daddr != 127.0.0.20 tcp dport 5269
         redirect to :15270

Prosody B has no TLS, so it never asks for _xmpps-server: it connects to
e.example:5269 (nothing listens there), the redirect brings it to
xmppshield, which finds the _xmpps-server record and uses direct TLS."""
import os
import sys
import time

from lib import certs, daemon, fedworld, tap, util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_federation_out as fo  # noqa: E402

A_IP, B_IP, E_IP = fo.A_IP, fo.B_IP, fo.E_IP
OUT_PORT = 15270


def main(t):
    fedworld.require()
    nft = util.which("nft") or ("/usr/sbin/nft" if os.access(
        "/usr/sbin/nft", os.X_OK) else None)
    if not nft:
        raise util.Skip("nft (nftables) not installed")
    t0 = time.monotonic()
    tmp, ns = fedworld.world({"a.example": A_IP, "b.example": B_IP,
                              "e.example": E_IP},
                             ["_xmpps-server._tcp.e.example,e.example,5270"],
                             tag="xmppshield-nft")
    rule = ("table ip xmppshield_test {\n chain output {\n"
            "  type nat hook output priority -100; policy accept;\n"
            "  meta skuid != 0 ip daddr != %s tcp dport 5269 "
            "redirect to :%d\n }\n}\n" % (B_IP, OUT_PORT))
    r = util.run(ns.prefix() + [nft, "-f", "-"], input=rule, timeout=10)
    if r.returncode != 0:
        raise util.Skip("nftables unusable here: %s" % r.stderr.strip())

    test_ca = certs.CA(tmp, "federation test CA")
    ca, ce, cb = (test_ca.issue(d) for d in ("a.example", "e.example",
                                             "b.example"))
    dirs = fedworld.server_dirs(tmp, ("a", "b", "e"))
    pa = fo.RemoteProsody(dirs["a"], ns, ["a.example"], A_IP, 5222, 5269,
                          cert=ca, require=True)
    pb = fo.NsProsody(dirs["b"], ns, ["b.example"], "127.0.0.1", 15222,
                      15269)
    pe = fo.RemoteProsody(dirs["e"], ns, ["e.example"], E_IP, 5222, 5269,
                          cert=ce, require=True, direct=True)
    servers = {"a.example": pa, "b.example": pb, "e.example": pe}
    fedworld.start_servers((pa, pb, pe), servers, {
        jid: pw for jid, pw in fo.USERS.items()
        if jid.split("@")[1] in servers})

    d = daemon.Daemon(tmp, {
        "global": {"log_level": "debug"},
        "tls": {"s2s_ca_file": test_ca.cert},
        "domain b.example": {"certificate": cb.cert, "key": cb.key},
        "listener s2s": {"listen": B_IP + ":5269", "kind": "s2s",
                         "backend": "127.0.0.1:15269",
                         "domains": "b.example", "s2s_verify": "require"},
        "listener s2s-out": {"listen": "127.0.0.1:%d" % OUT_PORT,
                             "kind": "s2s-out", "domains": "b.example"},
    }, prefix=ns.prefix()).start()
    mark = d.mark()
    tap.diag("namespace %s with nftables redirect, servers up in %.2f s"
             % (ns.name, time.monotonic() - t0))

    spec = {
        "bob": {"jid": "bob@b.example", "pw": fo.USERS["bob@b.example"],
                "host": "127.0.0.1", "port": 15222, "tls": "none"},
        "alice": {"jid": "alice@a.example",
                  "pw": fo.USERS["alice@a.example"], "host": A_IP,
                  "port": 5222, "tls": "none"},
        "erin": {"jid": "erin@e.example", "pw": fo.USERS["erin@e.example"],
                 "host": E_IP, "port": 5222, "tls": "none"},
    }
    r = fo.run_clients(ns, spec, os.path.join(tmp, "clients.log"))

    def diag():
        return "%s steps=%s\n-- xmppshield:\n%s\n-- Prosody B:\n%s" % (
            r.get("error"), r.get("steps"), d.text(mark)[-4000:],
            util.tail_file(pb.log, 40))

    acc = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-accept\b", mark)]
    est = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-established\b", mark)]
    with t.case("redirected: bob@b.example <-> alice@a.example (Prosody A "
                "requires encryption; B has no TLS)") as k:
        k.check("reply_alice" in r.get("steps", []),
                "message and reply delivered", diag())
        k.check(any(e.get("remote") == "a.example" and
                    e.get("verified") == "yes" for e in est),
                "event=s2s-out-established remote=a.example verified=yes",
                est)
    with t.case("redirected: bob@b.example <-> erin@e.example (B dialled "
                "e.example:5269; xmppshield used _xmpps-server, direct "
                "TLS)") as k:
        k.check("reply_erin" in r.get("steps", []),
                "message and reply delivered", diag())
        k.check(any(e.get("remote") == "e.example" and
                    e.get("direct") == "yes" for e in est),
                "event=s2s-out-established remote=e.example direct=yes", est)
    with t.case("event=s2s-out-accept names the original destination "
                "(SO_ORIGINAL_DST) of the redirected connections") as k:
        origs = {e.get("original") for e in acc}
        k.check(A_IP + ":5269" in origs and E_IP + ":5269" in origs,
                "original=%s:5269 and %s:5269" % (A_IP, E_IP), acc)
    rc = d.stop()
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "xmppshield exited 0 on SIGTERM, no sanitizer report",
         "rc=%s %s" % (rc, d.text()[-2000:]))
    for p in (pa, pb, pe):
        p.stop()
    util.run_cleanups()
    t.ok(ns.gone(), "namespace %s removed" % ns.name)
    tap.diag("redirect federation test total %.1f s"
             % (time.monotonic() - t0))


if __name__ == "__main__":
    tap.main(main)
