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
      six.example fd00::60  Prosody six, IPv6 only (AAAA, on lo),
                            s2s_require_encryption = true
    nft: meta skuid != 0 ip daddr != 127.0.0.20 tcp dport 5269
         redirect to :15270
         (ip6) meta skuid != 0 tcp dport 5269 redirect to :15270,
         which is [::1]:15270 (xmppshield listens there too)

Prosody B has no TLS, so it never asks for _xmpps-server: it connects to
e.example:5269 (nothing listens there), the redirect brings it to
xmppshield, which finds the _xmpps-server record and uses direct TLS.
For six.example B finds only an AAAA record and connects over IPv6: the
ip6 rule brings it to [::1]:15270, and xmppshield reads the original
destination with IP6T_SO_ORIGINAL_DST (docs/DEPLOYMENT.md's IPv6 rule).
The namespace is private, so an fd00::/8 address on its lo touches
nothing of the host's."""
import os
import sys
import time

from lib import certs, daemon, fedworld, tap, util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_federation_out as fo  # noqa: E402

A_IP, B_IP, E_IP = fo.A_IP, fo.B_IP, fo.E_IP
SIX_IP = "fd00::60"
OUT_PORT = 15270
USERS = dict(fo.USERS, **{"sixt@six.example": "sixt-Out-6"})


def main(t):
    fedworld.require()
    nft = util.which("nft") or ("/usr/sbin/nft" if os.access(
        "/usr/sbin/nft", os.X_OK) else None)
    if not nft:
        raise util.Skip("nft (nftables) not installed")
    t0 = time.monotonic()
    tmp, ns = fedworld.world({"a.example": A_IP, "b.example": B_IP,
                              "e.example": E_IP, "six.example": SIX_IP},
                             ["_xmpps-server._tcp.e.example,e.example,5270"],
                             tag="xmppshield-nft")
    rule = ("table ip xmppshield_test {\n chain output {\n"
            "  type nat hook output priority -100; policy accept;\n"
            "  meta skuid != 0 ip daddr != %s tcp dport 5269 "
            "redirect to :%d\n }\n}\n" % (B_IP, OUT_PORT))
    r = util.run(ns.prefix() + [nft, "-f", "-"], input=rule, timeout=10)
    if r.returncode != 0:
        raise util.Skip("nftables unusable here: %s" % r.stderr.strip())
    # IPv6: an address for six.example on the namespace's lo, and the
    # same redirect in an ip6 table.
    why6 = None
    r = ns.run(["ip", "-6", "addr", "add", SIX_IP + "/128", "dev", "lo",
                "nodad"], timeout=10)
    if r.returncode != 0:
        why6 = "no IPv6 in the namespace: %s" % r.stderr.strip()
    else:
        rule6 = ("table ip6 xmppshield_test6 {\n chain output {\n"
                 "  type nat hook output priority -100; policy accept;\n"
                 "  meta skuid != 0 tcp dport 5269 redirect to :%d\n"
                 " }\n}\n" % OUT_PORT)
        r = util.run(ns.prefix() + [nft, "-f", "-"], input=rule6,
                     timeout=10)
        if r.returncode != 0:
            why6 = "no ip6 nat in nftables here: %s" % r.stderr.strip()

    test_ca = certs.CA(tmp, "federation test CA")
    ca, ce, cb, c6 = (test_ca.issue(d) for d in (
        "a.example", "e.example", "b.example", "six.example"))
    dirs = fedworld.server_dirs(tmp, ("a", "b", "e", "six"))
    pa = fo.RemoteProsody(dirs["a"], ns, ["a.example"], A_IP, 5222, 5269,
                          cert=ca, require=True)
    pb = fo.NsProsody(dirs["b"], ns, ["b.example"], "127.0.0.1", 15222,
                      15269)
    pe = fo.RemoteProsody(dirs["e"], ns, ["e.example"], E_IP, 5222, 5269,
                          cert=ce, require=True, direct=True)
    servers = {"a.example": pa, "b.example": pb, "e.example": pe}
    if why6 is None:
        servers["six.example"] = fo.RemoteProsody(
            dirs["six"], ns, ["six.example"], SIX_IP, 5222, 5269, cert=c6,
            require=True)
    fedworld.start_servers(servers.values(), servers, {
        jid: pw for jid, pw in USERS.items()
        if jid.split("@")[1] in servers})

    d = daemon.Daemon(tmp, fedworld.b_sections(test_ca, cb, B_IP, {
        "listen": "127.0.0.1:%d%s" % (
            OUT_PORT, "" if why6 else " [::1]:%d" % OUT_PORT),
        "kind": "s2s-out", "domains": "b.example"}),
        prefix=ns.prefix()).start()
    mark = d.mark()
    tap.diag("namespace %s with nftables redirect, servers up in %.2f s"
             % (ns.name, time.monotonic() - t0))

    users = {j: fo.USERS[j] for j in ("bob@b.example", "alice@a.example",
                                      "erin@e.example")}
    hosts = {"a.example": A_IP, "e.example": E_IP}
    if why6 is None:
        users["sixt@six.example"] = USERS["sixt@six.example"]
        hosts["six.example"] = SIX_IP
    spec = fedworld.clients(users, hosts)
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
    name6 = ("redirected over IPv6: bob@b.example <-> sixt@six.example "
             "(AAAA only; nft ip6 redirect to [::1]:%d); event=s2s-out-"
             "accept original=[%s]:5269 (IP6T_SO_ORIGINAL_DST)"
             % (OUT_PORT, SIX_IP))
    if why6 is not None:
        t.skip(name6, why6)
    else:
        with t.case(name6) as k:
            k.check("reply_sixt" in r.get("steps", []),
                    "message and reply delivered", diag())
            six = [e for e in acc if e.get("original") ==
                   "[%s]:5269" % SIX_IP]
            # the kernel picks B's source address by the destination's
            k.check(six and six[0].get("backend", "").startswith("["),
                    "original=[%s]:5269 from an IPv6 backend address"
                    % SIX_IP, acc)
            k.check(any(e.get("remote") == "six.example" and
                        e.get("verified") == "yes" and
                        e.get("address") == "[%s]:5269" % SIX_IP
                        for e in est),
                    "event=s2s-out-established remote=six.example "
                    "address=[%s]:5269 verified=yes" % SIX_IP, est)
    rc = d.stop()
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "xmppshield exited 0 on SIGTERM, no sanitizer report",
         "rc=%s %s" % (rc, d.text()[-2000:]))
    for p in servers.values():
        p.stop()
    fedworld.teardown(t, ns)
    tap.diag("redirect federation test total %.1f s"
             % (time.monotonic() - t0))


if __name__ == "__main__":
    tap.main(main)
