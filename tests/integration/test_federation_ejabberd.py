#!/usr/bin/python3
"""ejabberd 23.01 as the legacy federation backend behind xmppshield,
both directions (issue 13): ejabberd J has no s2s TLS of its own
(`s2s_use_starttls: false`, contrib/backends/ejabberd-federation.yml);
its incoming s2s comes through xmppshield's s2s listener, its outgoing
s2s goes out through the s2s-out listener, and it exchanges messages with

  A  a Prosody that requires encryption (STARTTLS, dialback),
  S  a Prosody with s2s_secure_auth = true (certificate authentication;
     it trusts the test CA that issued xmppshield's b.example certificate),
  E  a Prosody reachable only by XEP-0368 direct TLS (_xmpps-server SRV;
     its plain s2s port 25269 is named by no DNS record),
  C  a Prosody that authenticates servers by certificate only
     (s2s_secure_auth = true, dialback module disabled): SASL EXTERNAL
     both ways, xmppshield's on ejabberd's behalf out, and in
     xmppshield's EXTERNAL plus a dialback key ejabberd checks through
     s2s-out.

The same matrix runs in two worlds, one per way of routing ejabberd's
outgoing s2s to the s2s-out listener (DEPLOYMENT.md):

  split DNS   namespace xmppshield-ej-PID: the namespace's resolver (what
              ejabberd asks, through /etc/resolv.conf) answers SRV
              _xmpp-server._tcp.{a,e,s}.example -> out.example:15270
              (127.0.0.1, the s2s-out listener); xmppshield's
              s2s_out_resolver (127.0.0.54) has the real records.
  redirect    namespace xmppshield-ejnft-PID: one view of DNS (the real
              records); nftables (table inet): meta skuid "ejabberd" tcp
              dport 5269 redirect to :15270.  ejabberd (no TLS: it asks
              no _xmpps-server) dials a.example:5269 (over IPv6 first:
              a.example also has ::1), s.example:5269 and e.example:5269;
              xmppshield resolves the remote itself.  Here b.example
              also publishes _xmpps-server._tcp -> b.example:5270, so the
              remotes come in by direct TLS (xmppshield's s2s-direct
              listener), where the split-DNS world has them use STARTTLS.

    each namespace, loopback only:
      ejabberd J  b.example  127.0.0.1:15222 c2s, :15269 ejabberd_s2s_in
      xmppshield  127.0.0.20:5269 s2s (-> J :15269, s2s_verify = require)
                  127.0.0.20:5270 s2s-direct (redirect world only)
                  127.0.0.1:15270, [::1]:15270 s2s-out (domains b.example)
      Prosody A   a.example 127.0.0.10:5269
      Prosody S   s.example 127.0.0.80:5269
      Prosody E   e.example 127.0.0.50:5270 (direct TLS only)
      Prosody C   c.example 127.0.0.90:5269 (certificates only)

bob@b.example (straight to ejabberd's c2s) writes to alice, sam and erin
(ejabberd -> remote: J's outgoing s2s through s2s-out; the remote dials
b.example back through the inbound listener to check J's dialback key);
each answers (remote -> ejabberd: the remote's outgoing s2s through the
inbound listener; J checks the remote's key by dialling it through
s2s-out).  Skips without root, netns, dnsmasq, Prosody, ejabberd or (for
the second world) nftables."""
import os
import re
import sys
import time

from lib import certs, daemon, fedworld, netns, nsejabberd, tap, util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_federation_out as fo  # noqa: E402

A_IP, B_IP, E_IP, S_IP = "127.0.0.10", "127.0.0.20", "127.0.0.50", \
    "127.0.0.80"
REAL_DNS = "127.0.0.54"
OUT_PORT = 15270
C_IP = "127.0.0.90"
USERS = {"alice@a.example": "alice-Ej-1", "bob@b.example": "bob-Ej-2",
         "erin@e.example": "erin-Ej-3", "sam@s.example": "sam-Ej-4",
         "carol@c.example": "carol-Ej-5"}
HOSTS = {"a.example": A_IP, "b.example": B_IP, "e.example": E_IP,
         "s.example": S_IP, "c.example": C_IP}
REAL_SRV = ["_xmpps-server._tcp.e.example,e.example,5270"]
# (client, remote domain, cell label, direct TLS)
REMOTES = (("alice", "a.example", "prosody(require-encryption)", False),
           ("sam", "s.example", "prosody(secure-auth)", False),
           ("erin", "e.example", "prosody(direct-tls-only)", True),
           ("carol", "c.example", "prosody(certificates-only)", False))
# the remotes that offer SASL EXTERNAL to xmppshield's certificate
EXTERNAL = ("s.example", "c.example")


def nft_tool():
    return util.which("nft") or ("/usr/sbin/nft" if os.access(
        "/usr/sbin/nft", os.X_OK) else None)


def world(hosts, srv, tag, extra_hosts=""):
    """fedworld.world(), keeping the namespace's dnsmasq (its query log
    shows what ejabberd asked); extra_hosts: more lines for the hosts
    file (a second address for a name)."""
    tmp = util.make_tmpdir()
    os.chmod(tmp, 0o711)
    ns = netns.Netns(hosts, tag=tag)
    if extra_hosts:
        with open(os.path.join(ns.etc, "hosts"), "a") as f:
            f.write(extra_hosts)
    return tmp, ns, ns.start_dns(srv=srv)


class DualProsody(fo.RemoteProsody):
    """A remote Prosody that also listens on ::1 (its IPv6 address)."""

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = f.read()
        old = "interfaces = { %s }" % fo.prosody._lua_str(self.ip)
        if old not in cfg:
            raise util.HarnessError("Prosody config: no %r" % old)
        cfg = cfg.replace(old, "interfaces = { %s, \"::1\" }"
                          % fo.prosody._lua_str(self.ip), 1)
        with open(self.config, "w") as f:
            f.write(cfg)


def build_world(routing):
    """The namespace, the servers and xmppshield for one routing
    ("split-dns" or "redirect"); returns a dict of its parts."""
    t0 = time.monotonic()
    if routing == "split-dns":
        tmp, ns, dns = world(
            dict(HOSTS, **{"out.example": "127.0.0.1"}),
            ["_xmpp-server._tcp.%s.example,out.example,%d" % (r, OUT_PORT)
             for r in ("a", "e", "s", "c")], tag="xmppshield-ej")
        real = ns.start_dns(address=REAL_DNS, hosts=HOSTS, srv=REAL_SRV)
    else:
        # a.example also has an IPv6 address (::1): ejabberd tries IPv6
        # first, so one `inet` rule has to catch both families
        # and b.example publishes XEP-0368 direct TLS: the remotes come
        # in through xmppshield's s2s-direct listener (5270) here
        tmp, ns, dns = world(HOSTS, REAL_SRV + [
            "_xmpps-server._tcp.b.example,b.example,5270"],
            tag="xmppshield-ejnft", extra_hosts="::1 a.example\n")
        rule = ("table inet xmppshield_test {\n chain output {\n"
                "  type nat hook output priority -100; policy accept;\n"
                "  meta skuid \"ejabberd\" tcp dport 5269 "
                "redirect to :%d\n }\n}\n" % OUT_PORT)
        r = util.run(ns.prefix() + [nft_tool(), "-f", "-"], input=rule,
                     timeout=10)
        if r.returncode != 0:
            raise util.Skip("nftables unusable here: %s" % r.stderr.strip())
        real = None
    test_ca = certs.CA(tmp, "federation test CA")
    ca, ce, cs, cb, cc = (test_ca.issue(d) for d in (
        "a.example", "e.example", "s.example", "b.example", "c.example"))
    dirs = fedworld.server_dirs(tmp, ("a", "e", "s", "c"))
    pa = (DualProsody if routing == "redirect" else fo.RemoteProsody)(
        dirs["a"], ns, ["a.example"], A_IP, 5222, 5269, cert=ca,
        require=True)
    pe = fo.RemoteProsody(dirs["e"], ns, ["e.example"], E_IP, 5222, 5269,
                          cert=ce, require=True, direct=True)
    ps = fo.RemoteProsody(dirs["s"], ns, ["s.example"], S_IP, 5222, 5269,
                          cert=cs, require=True, secure_auth=test_ca.cert)
    pc = fo.RemoteProsody(dirs["c"], ns, ["c.example"], C_IP, 5222, 5269,
                          cert=cc, require=True, secure_auth=test_ca.cert,
                          dialback=False)
    jb = nsejabberd.NsEjabberd(tmp, ns, "b.example", 15222, 15269)
    servers = {"a.example": pa, "b.example": jb, "e.example": pe,
               "s.example": ps, "c.example": pc}
    fedworld.start_servers((pa, pe, ps, pc, jb), servers, USERS)
    out = {"listen": "127.0.0.1:%d [::1]:%d" % (OUT_PORT, OUT_PORT),
           "kind": "s2s-out",
           "domains": "b.example", "s2s_out_timeout": "10"}
    if routing == "split-dns":
        out["s2s_out_resolver"] = REAL_DNS + ":53"
    sections = fedworld.b_sections(test_ca, cb, B_IP, out)
    if routing == "redirect":
        sections["listener s2s-direct"] = dict(
            sections["listener s2s"], listen=B_IP + ":5270", tls="direct")
    d = daemon.Daemon(tmp, sections, prefix=ns.prefix()).start()
    tap.diag("%s: namespace %s, Prosody A, S, E, C and ejabberd up in %.2f s "
             "(ejabberd %.2f s)" % (routing, ns.name, time.monotonic() - t0,
                                    jb.start_time))
    return {"tmp": tmp, "ns": ns, "d": d, "j": jb, "pa": pa, "pe": pe,
            "ps": ps, "pc": pc, "real": real, "dns": dns, "t0": t0,
            "routing": routing}


def run_matrix(t, w):
    tmp, ns, d, jb = w["tmp"], w["ns"], w["d"], w["j"]
    routing = w["routing"]
    mark = d.mark()
    spec = fedworld.clients(USERS, HOSTS)
    t1 = time.monotonic()
    r = fo.run_clients(ns, spec, os.path.join(tmp, "clients-%s.log"
                                              % routing))
    tap.diag("%s: message exchange took %.2f s" % (routing,
                                                   time.monotonic() - t1))
    steps = r.get("steps", [])

    def diag(remote=None):
        out = "%s steps=%s errors=%s\n-- clients:\n%s\n-- xmppshield:\n%s" \
            "\n-- ejabberd:\n%s" % (
                r.get("error"), steps, r.get("errors"),
                util.tail_file(os.path.join(tmp, "clients-%s.log" % routing),
                               20),
                d.text(mark)[-5000:], jb.log_text()[-6000:])
        p = {"a.example": w["pa"], "e.example": w["pe"],
             "s.example": w["ps"], "c.example": w["pc"]}.get(remote)
        if p is not None:
            out += "\n-- Prosody %s:\n%s" % (remote, util.tail_file(p.log, 40))
        return out

    est = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-established\b", mark)]
    ver = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-peer-verified\b", mark)]
    acc = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-accept\b", mark)]
    pauth = [daemon.parse_line(x) for x in
             d.lines_matching(r"event=s2s-peer-authenticated\b", mark)]
    for name, dom, label, direct in REMOTES:
        mine = [e for e in est if e.get("remote") == dom]
        how = "; xmppshield authenticates by SASL EXTERNAL and answers " \
            "ejabberd's dialback" if dom in EXTERNAL else \
            "; ejabberd's dialback relayed"
        with t.case("%s: ejabberd -> %s: message delivered (bob@b.example "
                    "-> %s@%s through s2s-out%s)" % (routing, label, name,
                                                      dom, how)) as k:
            k.check("msg_" + name in steps, "%s got bob's message" % name,
                    diag(dom))
            k.check(any(e.get("verified") == "yes" and e.get("direct") ==
                        ("yes" if direct else "no") for e in mine),
                    "event=s2s-out-established remote=%s direct=%s "
                    "verified=yes" % (dom, "yes" if direct else "no"), est)
            k.check(jb.wait_log(r"Accepted outbound s2s dialback "
                                r"authentication b\.example -> %s "
                                % re.escape(dom)),
                    "ejabberd: accepted outbound s2s dialback "
                    "authentication b.example -> %s" % dom, diag(dom))
            if routing == "redirect":
                orig = "[::1]:5269" if dom == "a.example" else \
                    "%s:5269" % HOSTS[dom]
                k.check(any(e.get("original") == orig for e in acc),
                        "event=s2s-out-accept original=%s (ejabberd "
                        "dialled %s itself%s, the redirect brought it to "
                        "s2s-out)" % (orig, dom, ", over IPv6 first"
                                      if ":" in orig[:2] else ""), acc)
            else:
                k.check(w["dns"].log.find(
                    r"query\[SRV\] _xmpp-server\._tcp\.%s from"
                    % re.escape(dom)),
                    "ejabberd asked the namespace's resolver (its "
                    "/etc/resolv.conf) for _xmpp-server._tcp.%s" % dom,
                    w["dns"].log.text()[-3000:])
            auth = [daemon.parse_line(x) for x in d.lines_matching(
                r"event=s2s-out-authenticated\b.*\bremote=%s\b"
                % re.escape(dom), mark)]
            dbl = [daemon.parse_line(x) for x in d.lines_matching(
                r"event=s2s-out-dialback\b.*\bremote=%s\b" % re.escape(dom),
                mark)]
            if dom in EXTERNAL:
                # the remote offers SASL EXTERNAL to xmppshield's
                # certificate: xmppshield authenticates on ejabberd's
                # behalf and answers ejabberd's <db:result/> itself
                k.check(any(e.get("mechanism") == "external" and
                            e.get("from") == "b.example" for e in auth),
                        "event=s2s-out-authenticated remote=%s "
                        "from=b.example mechanism=external" % dom,
                        d.text(mark)[-3000:])
                k.check(any(e.get("from") == "b.example" and
                            e.get("to") == dom and
                            e.get("result") == "valid" for e in dbl),
                        "event=s2s-out-dialback from=b.example to=%s "
                        "result=valid (ejabberd's dialback request "
                        "answered by xmppshield)" % dom,
                        d.text(mark)[-3000:])
                pr = w["ps"] if dom == "s.example" else w["pc"]
                k.check(re.search(r"Accepting SASL EXTERNAL identity from "
                                  r"b\.example", pr.log_text()),
                        "Prosody %s accepted SASL EXTERNAL from b.example "
                        "(it validated the certificate xmppshield "
                        "presented)" % dom, util.tail_file(pr.log, 30))
            else:
                k.check(not auth and not dbl,
                        "no SASL EXTERNAL with %s (it offers none to "
                        "b.example's certificate): ejabberd's own dialback "
                        "was relayed" % dom, auth + dbl)
        inl = "s2s" if routing == "split-dns" else "s2s-direct"
        with t.case("%s: %s -> ejabberd: message delivered (%s@%s -> "
                    "bob@b.example through the inbound %s listener%s; "
                    "ejabberd checked the key through s2s-out)"
                    % (routing, label, name, dom, inl,
                       " (direct TLS, _xmpps-server)" if inl != "s2s"
                       else "")) as k:
            k.check("reply_" + name in steps, "bob got %s's reply" % name,
                    diag(dom))
            k.check(any(e.get("listener") == inl and
                        e.get("domain") == dom and
                        e.get("to") == "b.example" for e in ver),
                    "event=s2s-peer-verified listener=%s domain=%s "
                    "to=b.example" % (inl, dom), ver)
            # an s2s-out listener serves b.example: every remote with a
            # certificate xmppshield verifies is offered EXTERNAL, and
            # Prosody takes it
            k.check(any(e.get("listener") == inl and
                        e.get("domain") == dom and
                        e.get("mechanism") == "external" for e in pauth),
                    "event=s2s-peer-authenticated listener=%s "
                    "mechanism=external domain=%s" % (inl, dom), pauth)
            k.check(jb.wait_log(r"Accepted inbound s2s dialback "
                                r"authentication %s -> b\.example "
                                % re.escape(dom)),
                    "ejabberd: accepted inbound s2s dialback "
                    "authentication %s -> b.example" % dom, diag(dom))
            # ejabberd opens a connection of its own to verify a key
            k.check(len(mine) >= 2,
                    "a second s2s-out-established remote=%s: ejabberd's "
                    "dialback verification went out through s2s-out too "
                    "(%d)" % (dom, len(mine)), est)
    with t.case("%s: no policy or protocol event, no s2s-out-failed"
                % routing) as k:
        bad = d.lines_matching(r"event=(policy-violation|protocol-error|"
                               r"s2s-out-failed|s2s-peer-unverified)\b", mark)
        k.check(not bad, "none", bad)
    return r


def finish(t, w):
    d = w["d"]
    rc = d.stop()
    with open(os.path.join(w["tmp"], "xmppshield-%s.log" % w["routing"]),
              "w") as f:
        f.write(d.text())
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "%s: xmppshield exited 0 on SIGTERM, no sanitizer report"
         % w["routing"], "rc=%s %s" % (rc, d.text()[-2000:]))
    for p in (w["j"], w["pa"], w["pe"], w["ps"], w["pc"]):
        p.stop()


def main(t):
    fedworld.require()
    why = nsejabberd.available()
    if why:
        raise util.Skip(why)
    t0 = time.monotonic()
    for routing in ("split-dns", "redirect"):
        if routing == "redirect" and not nft_tool():
            t.skip("redirect world", "nft (nftables) not installed")
            continue
        w = build_world(routing)
        run_matrix(t, w)
        finish(t, w)
        fedworld.teardown(t, w["ns"])
    tap.diag("ejabberd federation test total %.1f s"
             % (time.monotonic() - t0))


if __name__ == "__main__":
    tap.main(main)
