#!/usr/bin/python3
"""Outgoing federation through xmppshield (listener kind s2s-out, issue
13): a legacy Prosody B without s2s TLS of its own reaches remote servers
only through xmppshield, which resolves the remote, connects out with
STARTTLS or direct TLS, verifies the remote's certificate and relays.

    namespace xmppshield-PID, loopback only:
      Prosody B  b.example 127.0.0.1:15222 c2s, :15269 s2s (plaintext,
                 no TLS module, s2s_require_encryption = false)
      xmppshield 127.0.0.20: s2s 5269 (inbound, -> B :15269)
                 127.0.0.1:15270 s2s-out (B's outgoing s2s)
      Prosody A  a.example 127.0.0.10:5269, s2s_require_encryption = true
      Prosody E  e.example 127.0.0.50:5270 direct TLS only (its plain s2s
                 port is on 25269, named by no DNS record)
      Prosody D  d.example 127.0.0.30:5269, certificate for other.example
      Prosody N  n.example 127.0.0.70:5269, no TLS at all
      openssl    weak.example 127.0.0.60:5270 TLS 1.0 only,
                 cbc.example 127.0.0.61:5270 TLS 1.2 CBC suites only

    Two views of DNS (split horizon, how B is routed to xmppshield):
      the namespace's resolver (what Prosody B, A, D, E use): SRV
        _xmpp-server._tcp.{a,e,d,nx,nowhere}.example -> out.example:15270
        (127.0.0.1: xmppshield's s2s-out listener)
      xmppshield's s2s_out_resolver (127.0.0.54): the real records, SRV
        _xmpps-server._tcp.e.example -> e.example:5270, weak/cbc likewise,
        _xmpp-server._tcp.nowhere.example -> gone.example (no address)
      a silent resolver (127.0.0.55, never answers) for a second s2s-out
        listener (15271)

bob@b.example (straight to Prosody B) writes to alice@a.example (STARTTLS
remote requiring encryption) and erin@e.example (direct TLS only); both
answer through xmppshield's inbound s2s.  Refusals are driven by a raw
backend connection (the legacy server's first bytes) so that the stream
error it gets is checked byte for byte, and its time bounded."""
import json
import os
import re
import socket
import subprocess
import sys
import time

from lib import certs, daemon, fedworld, prosody, tap, util, xmppclient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_federation import NsProsody  # noqa: E402

A_IP, B_IP, D_IP, E_IP = "127.0.0.10", "127.0.0.20", "127.0.0.30", \
    "127.0.0.50"
WEAK_IP, CBC_IP, N_IP, S_IP = "127.0.0.60", "127.0.0.61", "127.0.0.70", \
    "127.0.0.80"
SASL_IP = "127.0.0.90"      # the scripted SASL remote
REAL_DNS, SILENT_DNS = "127.0.0.54", "127.0.0.55"
OUT_PORT, OUT_SILENT_PORT = 15270, 15271
USERS = {"alice@a.example": "alice-Out-1", "bob@b.example": "bob-Out-2",
         "erin@e.example": "erin-Out-3", "sam@s.example": "sam-Out-4"}
TIMEOUT = 6     # s2s_out_timeout of the listeners


class RemoteProsody(NsProsody):
    """NsProsody with its s2s policy changed: require encryption, direct
    TLS only, certificate authentication (secure_auth), no dialback
    (certificates only, SASL EXTERNAL both ways)."""

    def __init__(self, *a, require=False, direct=False, secure_auth=None,
                 dialback=True, **kw):
        self.require = require
        self.direct = direct
        self.secure_auth = secure_auth     # the CA file it trusts
        self.dialback = dialback           # False: certificates only
        super().__init__(*a, **kw)

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = f.read()
        if self.require:
            cfg = cfg.replace("s2s_require_encryption = false",
                              "s2s_require_encryption = true")
        if self.direct:
            q = prosody._lua_str
            cfg = cfg.replace("s2s_direct_tls_ports = { }",
                              "s2s_direct_tls_ports = { 5270 }\n"
                              "s2s_direct_tls_ssl = { certificate = %s, "
                              "key = %s }" % (
                                  q(os.path.join(self.cert_dir, self.vhosts[0]
                                                 + ".crt")),
                                  q(os.path.join(self.cert_dir, self.vhosts[0]
                                                 + ".key"))))
            cfg = re.sub(r"s2s_ports = \{ \d+ \}", "s2s_ports = { 25269 }",
                         cfg)
        if self.secure_auth:
            import shutil
            ca = os.path.join(self.cert_dir, "trusted-ca.pem")
            shutil.copy(self.secure_auth, ca)
            os.chmod(ca, 0o644)
            cfg = cfg.replace("s2s_secure_auth = false",
                              "s2s_secure_auth = true\n"
                              "ssl = { cafile = %s }" % prosody._lua_str(ca))
        if not self.dialback:
            cfg = cfg.replace(', "dialback"', "")
            cfg = cfg.replace('modules_disabled = { "tls_unused" }',
                              'modules_disabled = { "tls_unused", '
                              '"dialback" }')
        with open(self.config, "w") as f:
            f.write(cfg)

    def start(self, timeout=util.DEFAULT_TIMEOUT):
        super().start(timeout)
        if self.direct and not self._out.wait_for(
                r"Activated service 's2s_direct_tls' on \[", timeout):
            raise util.HarnessError("Prosody %s: no direct TLS s2s:\n%s\n%s"
                                    % (self.vhosts, self._out.text(),
                                       util.tail_file(self.log, 40)))
        return self


def start_in_ns(ns, argv, ready=None):
    proc = subprocess.Popen(ns.prefix() + argv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    util.on_cleanup(util.stop_process, proc)
    proc.log = util.LineCollector(proc.stdout, argv[0])
    if ready and proc.log.wait_for(ready, 10) is None:
        raise util.HarnessError("%s did not start: %s" % (argv,
                                                          proc.log.text()))
    return proc


def raw_backend(ns, to, port=OUT_PORT, frm="b.example", steps=(),
                until="</stream:stream>"):
    """The legacy server's first bytes to the s2s-out listener, from inside
    the namespace; what came back and how long it took.  steps: (wait
    for this text, then send that) pairs after the header; until: the
    text that ends the reading."""
    argv = ns.prefix() + [sys.executable, os.path.abspath(__file__), "--raw",
                          json.dumps({"to": to, "from": frm, "port": port,
                                      "steps": list(steps),
                                      "until": until})]
    env = dict(os.environ, PYTHONPATH=HERE)
    r = util.run(argv, timeout=60, env=env)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"data": "", "elapsed": -1, "error": r.stderr[-1000:]}
    return json.loads(lines[-1])


def raw_child(spec):
    s = socket.create_connection(("127.0.0.1", spec["port"]), timeout=5)
    t0 = time.monotonic()
    s.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "xmlns:db='jabber:server:dialback' from='%s' to='%s' "
               "version='1.0'>" % (spec["from"], spec["to"])).encode())
    data = b""
    s.settimeout(40)
    try:
        for wait, send in spec["steps"] + [[spec["until"], None]]:
            while wait.encode() not in data:
                b = s.recv(4096)
                if not b:
                    raise socket.timeout
                data += b
            if send:
                s.sendall(send.encode())
    except socket.timeout:
        pass
    print(json.dumps({"data": data.decode("utf-8", "replace"),
                      "elapsed": time.monotonic() - t0}))
    sys.stdout.flush()
    os._exit(0)


def sasl_remote(spec):
    """A remote that offers SASL EXTERNAL after STARTTLS and answers
    <auth/> by the domain it is asked for: fail.example <failure/>,
    odd.example a <message/>, ok.example <success/> (then a restarted
    stream with empty features).  Prints what it received."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(spec["cert"], spec["key"])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((spec["ip"], 5269))
    ls.listen(8)
    print("listening", flush=True)
    hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "xmlns:db='jabber:server:dialback' from='%s' id='%s' "
           "version='1.0'>")

    while True:
        c, _ = ls.accept()
        c.settimeout(20)
        try:
            got, rest = util.recv_upto(c, b"", "version='1.0'>")
            dom = re.search(r"to='([^']*)'", got).group(1)
            c.sendall((hdr % (dom, "pre") + "<stream:features><starttls "
                       "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                       "</starttls></stream:features>").encode())
            got, rest = util.recv_upto(c, rest, "/>")
            c.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            c = ctx.wrap_socket(c, server_side=True)
            got, rest = util.recv_upto(c, b"", "version='1.0'>")
            c.sendall((hdr % (dom, "one") + "<stream:features><mechanisms "
                       "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>"
                       "EXTERNAL</mechanism></mechanisms><dialback xmlns="
                       "'urn:xmpp:features:dialback'/></stream:features>"
                       ).encode())
            got, rest = util.recv_upto(c, rest, "</auth>")
            print("AUTH %s %s" % (dom, got), flush=True)
            if dom == "fail.example":
                c.sendall(b"<failure xmlns='urn:ietf:params:xml:ns:"
                          b"xmpp-sasl'><not-authorized/></failure>")
            elif dom == "odd.example":
                c.sendall(b"<message to='x@b.example'><body>msg</body>"
                          b"</message>")
            else:
                c.sendall(b"<success xmlns='urn:ietf:params:xml:ns:"
                          b"xmpp-sasl'/>")
                got, rest = util.recv_upto(c, rest, "version='1.0'>")
                print("RESTART %s" % got, flush=True)
                c.sendall((hdr % (dom, "two") + "<stream:features/>"
                           ).encode())
            while True:
                b = c.recv(4096)
                if not b:
                    break
                rest += b
            print("AFTER %s %s" % (dom, rest.decode("utf-8", "replace")),
                  flush=True)
        except (OSError, EOFError, ssl.SSLError) as e:
            print("ERROR %r" % e, flush=True)
        finally:
            c.close()


def run_clients(ns, spec, logfile, timeout=80.0):
    return fedworld.run_clients(ns, __file__, spec, logfile, timeout)


def main(t):
    fedworld.require()
    openssl = util.require_tool("openssl")
    t0 = time.monotonic()
    hosts = {"a.example": A_IP, "b.example": B_IP, "d.example": D_IP,
             "e.example": E_IP, "weak.example": WEAK_IP,
             "cbc.example": CBC_IP, "n.example": N_IP, "s.example": S_IP,
             "fail.example": SASL_IP, "odd.example": SASL_IP,
             "ok.example": SASL_IP}
    remotes = ("a", "d", "e", "n", "s", "nx", "nowhere", "weak", "cbc",
               "slow", "fail", "odd", "ok")
    # the backend's view: every remote domain is xmppshield's s2s-out
    tmp, ns = fedworld.world(
        dict(hosts, **{"out.example": "127.0.0.1"}),
        ["_xmpp-server._tcp.%s.example,out.example,%d"
         % (r, OUT_SILENT_PORT if r == "slow" else OUT_PORT)
         for r in remotes])
    # xmppshield's view: the real records
    ns.start_dns(address=REAL_DNS, hosts=hosts, srv=[
        "_xmpps-server._tcp.e.example,e.example,5270",
        "_xmpps-server._tcp.weak.example,weak.example,5270",
        "_xmpps-server._tcp.cbc.example,cbc.example,5270",
        "_xmpp-server._tcp.nowhere.example,gone.example,5269",
        # a.example's first target is a TLS-only port (no STARTTLS
        # there): refused, the second one is used
        "_xmpp-server._tcp.a.example,weak.example,5270,0,0",
        "_xmpp-server._tcp.a.example,a.example,5269,10,0"])
    silent = start_in_ns(ns, [sys.executable, "-c",
                              "import socket,time\n"
                              "s=socket.socket(socket.AF_INET,"
                              "socket.SOCK_DGRAM)\n"
                              "s.bind(('%s',53))\nprint('bound',flush=True)\n"
                              "time.sleep(3600)" % SILENT_DNS], r"bound")

    test_ca = certs.CA(tmp, "federation test CA")
    ca, ce = test_ca.issue("a.example"), test_ca.issue("e.example")
    cd = test_ca.issue("other.example")
    cweak, ccbc = test_ca.issue("weak.example"), test_ca.issue("cbc.example")
    cb, cs = test_ca.issue("b.example"), test_ca.issue("s.example")
    csasl = test_ca.issue("fail.example", san="DNS:fail.example,"
                          "DNS:odd.example,DNS:ok.example")
    dirs = fedworld.server_dirs(tmp, ("a", "b", "d", "e", "n", "s"))
    pa = RemoteProsody(dirs["a"], ns, ["a.example"], A_IP, 5222, 5269,
                       cert=ca, require=True)
    pb = NsProsody(dirs["b"], ns, ["b.example"], "127.0.0.1", 15222, 15269)
    pd = RemoteProsody(dirs["d"], ns, ["d.example"], D_IP, 5222, 5269,
                       cert=cd, require=True)
    pe = RemoteProsody(dirs["e"], ns, ["e.example"], E_IP, 5222, 5269,
                       cert=ce, require=True, direct=True)
    # a remote without TLS at all (no tls module: no <starttls/>)
    pn = NsProsody(dirs["n"], ns, ["n.example"], N_IP, 5222, 5269)
    # a remote that requires certificate authentication: Prosody's
    # s2s_secure_auth (it trusts the test CA, which issued ours)
    ps = RemoteProsody(dirs["s"], ns, ["s.example"], S_IP, 5222, 5269,
                       cert=cs, require=True, secure_auth=test_ca.cert)
    servers = {"a.example": pa, "b.example": pb, "d.example": pd,
               "e.example": pe, "s.example": ps}
    fedworld.start_servers((pa, pb, pd, pe, pn, ps), servers, USERS)
    for ip, cert, opt in ((WEAK_IP, cweak, ["-tls1", "-cipher",
                                             "ALL:@SECLEVEL=0"]),
                          (CBC_IP, ccbc, ["-tls1_2", "-cipher",
                                          "ECDHE-RSA-AES128-SHA:"
                                          "ECDHE-ECDSA-AES128-SHA"])):
        start_in_ns(ns, [openssl, "s_server", "-quiet", "-accept",
                         ip + ":5270", "-cert", cert.cert, "-key", cert.key,
                         "-naccept", "50"] + opt)
    sasl = start_in_ns(ns, [sys.executable, os.path.abspath(__file__),
                            "--sasl-remote", json.dumps({
                                "ip": SASL_IP, "cert": csasl.cert,
                                "key": csasl.key})], r"listening")
    tap.diag("namespace %s, Prosody A, B, D, E up in %.2f s"
             % (ns.name, time.monotonic() - t0))

    out = {"kind": "s2s-out", "domains": "b.example",
           "s2s_out_resolver": REAL_DNS + ":53",
           "s2s_out_timeout": str(TIMEOUT)}
    sections = fedworld.b_sections(test_ca, cb, B_IP, dict(
        out, listen="127.0.0.1:%d" % OUT_PORT))
    sections["listener c2s"] = {"listen": B_IP + ":5222",
                                "backend": "127.0.0.1:15222",
                                "domains": "b.example"}
    sections["listener s2s-out-slow"] = dict(
        out, listen="127.0.0.1:%d" % OUT_SILENT_PORT,
        s2s_out_resolver=SILENT_DNS + ":53")
    d = daemon.Daemon(tmp, sections, prefix=ns.prefix()).start()
    mark = d.mark()

    spec = fedworld.clients(USERS, {"a.example": A_IP, "e.example": E_IP,
                                    "s.example": S_IP})
    r = run_clients(ns, spec, os.path.join(tmp, "clients.log"))

    def diag():
        return fedworld.report(r, os.path.join(tmp, "clients.log"),
                               d.text(mark)[-4000:],
                               [("Prosody A", pa), ("Prosody B", pb),
                                ("Prosody E", pe)])

    est = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-established\b", mark)]
    with t.case("bob@b.example -> alice@a.example: legacy Prosody B (no "
                "s2s TLS) through s2s-out, STARTTLS to Prosody A which "
                "requires encryption, certificate verified, dialback "
                "relayed; alice's reply comes back inbound") as k:
        k.check("msg_alice" in r.get("steps", []), "alice got bob's message",
                diag())
        k.check("reply_alice" in r.get("steps", []), "bob got alice's reply",
                diag())
        k.check(any(e.get("remote") == "a.example" and e.get("direct") ==
                    "no" and e.get("verified") == "yes" and
                    e.get("name") not in (None, "none") for e in est),
                "event=s2s-out-established remote=a.example direct=no "
                "verified=yes", est)
    with t.case("a.example's first SRV target speaks no XMPP (a TLS-only "
                "port): event=s2s-out-retry, then the second target") as k:
        retry = [daemon.parse_line(x) for x in
                 d.lines_matching(r"event=s2s-out-retry\b", mark)]
        k.check(any(e.get("remote") == "a.example" and
                    e.get("reason") == "no-starttls" and
                    e.get("address") == WEAK_IP + ":5270" for e in retry),
                "event=s2s-out-retry remote=a.example reason=no-starttls "
                "address=%s:5270" % WEAK_IP, d.text(mark)[-3000:])
        k.check(all(e.get("address") == A_IP + ":5269" for e in est
                    if e.get("remote") == "a.example"),
                "established with %s:5269" % A_IP, est)
    with t.case("bob@b.example -> erin@e.example: remote reachable only by "
                "XEP-0368 direct TLS (_xmpps-server SRV)") as k:
        k.check("msg_erin" in r.get("steps", []), "erin got bob's message",
                diag())
        k.check("reply_erin" in r.get("steps", []), "bob got erin's reply",
                diag())
        k.check(any(e.get("remote") == "e.example" and
                    e.get("direct") == "yes" and e.get("verified") == "yes"
                    for e in est),
                "event=s2s-out-established remote=e.example direct=yes", est)
    auth = [daemon.parse_line(x) for x in
             d.lines_matching(r"event=s2s-out-(authenticated|auth-failed|"
                              r"dialback)\b", mark)]
    with t.case("bob@b.example -> sam@s.example: a remote that requires "
                "certificate authentication (s2s_secure_auth = true) and "
                "offers SASL EXTERNAL for xmppshield's certificate: "
                "xmppshield authenticates as b.example, B's dialback is "
                "answered valid by xmppshield") as k:
        k.check(any(e.get("event") == "s2s-out-authenticated" and
                    e.get("remote") == "s.example" and
                    e.get("from") == "b.example" and
                    e.get("mechanism") == "external" for e in auth),
                "event=s2s-out-authenticated from=b.example remote=s.example "
                "mechanism=external", d.text(mark)[-3000:])
        k.check(any(e.get("event") == "s2s-out-dialback" and
                    e.get("to") == "s.example" and
                    e.get("result") == "valid" for e in auth),
                "event=s2s-out-dialback from=b.example to=s.example "
                "result=valid", auth)
        k.check(re.search(r"Accepting SASL EXTERNAL identity from "
                          r"b\.example", ps.log_text()),
                "Prosody S: Accepting SASL EXTERNAL identity from b.example",
                util.tail_file(ps.log, 30))
        k.check("msg_sam" in r.get("steps", []), "sam got bob's message",
                diag())
        k.check("reply_sam" in r.get("steps", []), "bob got sam's reply",
                diag())
        k.check(any(e.get("remote") == "s.example" and
                    e.get("verified") == "yes" for e in est),
                "event=s2s-out-established remote=s.example verified=yes",
                est)
        k.check(re.search(r"certificate chain validation result: valid",
                          ps.log_text()),
                "Prosody S validated the certificate xmppshield presented "
                "(else s2s_secure_auth refuses the stream)",
                util.tail_file(ps.log, 30))
    with t.case("remotes that do not offer SASL (Prosody A, E: they do "
                "not trust our CA) get B's own dialback, relayed") as k:
        k.check(not any(e.get("remote") in ("a.example", "e.example")
                        for e in auth),
                "no s2s-out-authenticated/dialback line for a.example or "
                "e.example", auth)
    with t.case("Prosody B never saw <starttls/> from the remotes (it has "
                "no TLS) and its dialback was accepted") as k:
        log = pb.log_text()
        for dom in ("a.example", "e.example"):
            k.check(re.search(r"[Oo]utgoing s2s connection b\.example->%s "
                              r"complete" % re.escape(dom), log),
                    "B: outgoing s2s b.example->%s complete" % dom,
                    util.tail_file(pb.log, 30))

    def refused(name, to, reason, cond, port=OUT_PORT):
        m = d.mark()
        got = raw_backend(ns, to, port)
        with t.case(name) as k:
            line, e = d.wait_fields(r"event=s2s-out-failed\b.*remote=%s\b"
                                    % re.escape(to), start=m, timeout=5)
            k.check(e.get("reason") == reason,
                    "event=s2s-out-failed remote=%s reason=%s" % (to, reason),
                    d.text(m)[-2000:])
            data = got.get("data", "")
            k.check(re.search(r"<stream:stream [^>]*from='%s'" %
                              re.escape(to), data) and
                    "<%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                    % cond in data and data.endswith("</stream:stream>"),
                    "the backend got a header from %s and <%s/>, then "
                    "</stream:stream>" % (to, cond), got)
            k.check(0 <= got.get("elapsed", -1) <= TIMEOUT + 2,
                    "within s2s_out_timeout (%d s) + 2 s: %.2f s"
                    % (TIMEOUT, got.get("elapsed", -1)), got)
            k.check("msg" not in data, "no remote byte reached the backend")
            return e

    e = refused("refused: d.example's certificate names other.example "
                "(s2s_verify = require by default on s2s-out)", "d.example",
                "peer-unverified", "remote-connection-failed")
    t.ok("name-mismatch" in e.get("detail", ""), "detail says name-mismatch",
         e)
    refused("refused: weak.example offers only TLS 1.0", "weak.example",
            "tls-failed", "remote-connection-failed")
    refused("refused: cbc.example offers only CBC suites", "cbc.example",
            "tls-failed", "remote-connection-failed")
    refused("refused: n.example offers no TLS (no <starttls/> in its "
            "features)", "n.example", "no-starttls",
            "remote-connection-failed")
    refused("bad DNS: nx.example does not exist (NXDOMAIN)", "nx.example",
            "dns-not-found", "host-unknown")
    refused("bad DNS: nowhere.example's SRV points to a name without "
            "address", "nowhere.example", "dns-not-found", "host-unknown")
    refused("bad DNS: a resolver that never answers", "slow.example",
            "dns-timeout", "remote-connection-failed", port=OUT_SILENT_PORT)
    def sasl_case(name, to, **kw):
        m = d.mark()
        got = raw_backend(ns, to, **kw)
        data = got.get("data", "")
        line = sasl.log.wait_for(r"AFTER %s " % re.escape(to), 10)
        return m, data, got

    m, data, got = sasl_case("fail.example", "fail.example",
                             until="</stream:features>")
    with t.case("SASL EXTERNAL refused by the remote (<failure/>): "
                "event=s2s-out-auth-failed fallback=dialback, the backend "
                "gets the remote's features without SASL, for its own "
                "dialback") as k:
        k.check(d.wait_for(r"event=s2s-out-auth-failed\b.*remote="
                           r"fail\.example\b.*fallback=dialback", start=m,
                           timeout=5),
                "event=s2s-out-auth-failed remote=fail.example "
                "fallback=dialback", d.text(m)[-2000:])
        k.check(re.search(r"AUTH fail\.example <auth xmlns='urn:ietf:params:"
                          r"xml:ns:xmpp-sasl' mechanism='EXTERNAL'>"
                          r"Yi5leGFtcGxl</auth>", sasl.log.text()),
                "the remote got <auth mechanism='EXTERNAL'> with "
                "base64('b.example')", sasl.log.text()[-1500:])
        k.check("from='fail.example'" in data and "urn:xmpp:features:"
                "dialback" in data and "mechanism" not in data and
                "starttls" not in data,
                "the backend: the remote's header, features with dialback, "
                "no <mechanisms/>, no <starttls/>", got)
    m, data, got = sasl_case("odd.example", "odd.example")
    with t.case("the remote answers <auth/> with a stanza: "
                "event=s2s-out-failed reason=auth-failed, the backend gets "
                "<remote-connection-failed/> and nothing of the remote's "
                "stanza") as k:
        line, e = d.wait_fields(
            r"event=s2s-out-failed\b.*remote=odd\.example\b", start=m,
            timeout=5)
        k.check(e.get("reason") == "auth-failed" and
                e.get("state") == "relay",
                "event=s2s-out-failed reason=auth-failed state=relay",
                d.text(m)[-2000:])
        k.check("<remote-connection-failed xmlns='urn:ietf:params:xml:ns:"
                "xmpp-streams'/>" in data and "msg" not in data and
                "mechanism" not in data, "<remote-connection-failed/>, no "
                "<message/>, no <mechanisms/>", got)
    m, data, got = sasl_case(
        "ok.example", "ok.example",
        steps=[["</stream:features>",
                "<db:result from='b.example' to='ok.example'>k1</db:result>"
                "<db:result from='c.example' to='ok.example'>k2</db:result>"
                "<message from='x@b.example' to='y@ok.example'><body>hi"
                "</body></message></stream:stream>"]],
        until="to='c.example' type='invalid'/>")
    with t.case("SASL EXTERNAL accepted (<success/>): the remote's restart "
                "stays with xmppshield, the backend gets dialback features "
                "and type='valid' for b.example->ok.example only; its "
                "stanza reaches the remote, its <db:result/>s do not") as k:
        k.check(d.wait_for(r"event=s2s-out-authenticated\b.*remote="
                           r"ok\.example\b.*mechanism=external", start=m,
                           timeout=5), "event=s2s-out-authenticated "
                "remote=ok.example mechanism=external", d.text(m)[-2000:])
        k.check(data.count("<stream:stream") == 1 and "id='one'" not in
                data and "id='two'" not in data and
                re.search(r"<stream:stream [^>]*xmlns:db='jabber:server:"
                          r"dialback'[^>]*from='ok\.example'", data) and
                "<dialback xmlns='urn:xmpp:features:dialback'>" in data,
                "the backend saw one header, xmppshield's (from "
                "ok.example, declaring xmlns:db; neither of the remote's), "
                "then dialback features", got)
        k.check(re.search(r"<db:result [^>]*from='ok\.example' "
                          r"to='b\.example' type='valid'/>", data) and
                re.search(r"<db:result [^>]*from='ok\.example' "
                          r"to='c\.example' type='invalid'/>", data),
                "valid for b.example, invalid for c.example", got)
        after = sasl.log.matching(r"^AFTER ok\.")
        k.check(after and "<body>hi</body>" in after[-1] and
                "db:result" not in after[-1] and
                re.search(r"RESTART .*from='b\.example' to='ok\.example'",
                          sasl.log.text()),
                "the remote: our restart header, then the stanza, no "
                "<db:result/>", sasl.log.text()[-1500:])
    m = d.mark()
    got = raw_backend(ns, "slow.example", port=OUT_SILENT_PORT,
                      steps=[["", "</stream:stream>"]])
    with t.case("the backend ends its stream while DNS is pending: "
                "event=s2s-out-closed reason=backend-closed "
                "detail=stream-end, and its stream is closed") as k:
        line, e = d.wait_fields(
            r"event=s2s-out-closed\b.*remote=slow\.example\b", start=m,
            timeout=5)
        k.check(e.get("reason") == "backend-closed" and
                e.get("detail") == "stream-end",
                "event=s2s-out-closed reason=backend-closed detail=stream-end",
                d.text(m)[-2000:])
        k.check(got.get("data", "").endswith("</stream:stream>") and
                got.get("elapsed", 99) < TIMEOUT,
                "the backend got </stream:stream> before s2s_out_timeout",
                got)
    with t.case("refused: the backend's header names a domain this "
                "listener does not serve as 'from'") as k:
        got = raw_backend(ns, "a.example", frm="evil.example")
        k.check("<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                in got.get("data", ""), "<host-unknown/>", got)
    rc = d.stop()
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "xmppshield exited 0 on SIGTERM, no sanitizer report",
         "rc=%s %s" % (rc, d.text()[-2000:]))
    for p in (pa, pb, pd, pe, pn, ps):
        p.stop()
    fedworld.teardown(t, ns)
    tap.diag("outgoing federation test total %.1f s"
             % (time.monotonic() - t0))


# --------------------------------------------------------------------------
# the child: slixmpp clients inside the namespace

def child(spec, logfile):
    import asyncio

    async def exchange(b, peer, tag, steps):
        await b.tell(peer, "from-bob-", 25)
        steps.append("msg_" + tag)
        await peer.tell(b, "reply-", 25)
        steps.append("reply_" + tag)

    async def body(clients, result):
        # bob waits for every peer's reply at once
        b = clients["bob"]
        got = await asyncio.gather(
            *(exchange(b, c, n, result["steps"])
              for n, c in clients.items() if n != "bob"),
            return_exceptions=True)
        bad = [g for g in got if isinstance(g, Exception)]
        if bad:
            raise RuntimeError("exchange failed: %r %s" % (bad,
                                                          result["errors"]))

    xmppclient.federation_child(spec, logfile, "out", body, 70)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "--raw":
        raw_child(json.loads(sys.argv[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "--sasl-remote":
        sasl_remote(json.loads(sys.argv[2]))
    tap.main(main)
