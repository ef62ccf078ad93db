#!/usr/bin/python3
"""DANE on outgoing federation (issue 13's stretch goal): an s2s-out
listener with s2s_out_dane = on resolves the remote through libunbound,
validating DNSSEC from a trust anchor, and lets a remote's secure TLSA
records (DANE-EE, DANE-TA) decide over PKIX.

Real DNS with DNSSEC: the zone example. is signed here with ldns-keygen
and ldns-signzone and served, with the unsigned zone plain., by a private
unbound (auth-zone) on a loopback port; xmppshield's anchor is the zone's
DS record.  The remotes are scripted STARTTLS servers (Python ssl) on
loopback ports that the SRV records name, so no network namespace is
needed; the backend is a raw socket.  Cases:
  - ee.example: a self-signed certificate and a secure DANE-EE (3 1 1)
    TLSA: accepted, dane=ee;
  - self.example: the same kind of certificate without TLSA: refused by
    PKIX (peer-unverified, self-signed);
  - mm.example: a PKIX-valid certificate, but a secure TLSA that does not
    match: refused, dane-mismatch;
  - ta.example: a chain from a CA xmppshield does not trust, and a
    DANE-TA (2 0 1) TLSA for that CA: accepted, dane=ta, name checked;
  - pk.plain: an unsigned (insecure) zone whose TLSA does not match:
    ignored, PKIX as before (dane=none);
  - bogus.example: a TLSA record altered after signing: dns-bogus.
Skips without unbound or ldnsutils (contrib/install-deps.sh --tests) or
in a build without libunbound."""
import datetime
import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading

from lib import certs, daemon, tap, util

UNBOUND = "/usr/sbin/unbound"
OURS = "ours.test"
BOGUS_TLSA = "3 1 1 " + "ab" * 32


def spki_sha256(cert_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo, as openssl
    writes it (DER)."""
    pem = util.run(["openssl", "x509", "-in", cert_path, "-pubkey",
                    "-noout"], check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pem.encode(), stdout=subprocess.PIPE,
                         check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cert_path):
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform",
                          "DER"], stdout=subprocess.PIPE, check=True,
                         timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


class Remote:
    """A scripted remote server on 127.0.0.1:0: stream header, STARTTLS
    required, <proceed/>, TLS with certfile (the whole chain in it), then
    the post-TLS header and dialback features; holds the stream open."""

    HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "xmlns:db='jabber:server:dialback' from='%s' id='%s' "
           "version='1.0'>")

    def __init__(self, domain, certfile, keyfile):
        self.domain = domain
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.conns = []
        util.on_cleanup(self.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        for c in [self.ls] + self.conns:
            try:
                c.close()
            except OSError:
                pass

    def _serve(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._one, args=(c,),
                             daemon=True).start()

    def _one(self, c):
        c.settimeout(30)
        try:
            _, rest = util.recv_upto(c, b"", "version='1.0'>")
            c.sendall((self.HDR % (self.domain, "pre") +
                       "<stream:features><starttls xmlns='urn:ietf:params:"
                       "xml:ns:xmpp-tls'><required/></starttls>"
                       "</stream:features>").encode())
            util.recv_upto(c, rest, "/>")
            c.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            c = self.ctx.wrap_socket(c, server_side=True)
            self.conns.append(c)
            util.recv_upto(c, b"", "version='1.0'>")
            c.sendall((self.HDR % (self.domain, "tls") +
                       "<stream:features><dialback xmlns='urn:xmpp:"
                       "features:dialback'/></stream:features>").encode())
            while c.recv(4096):
                pass
        except (OSError, EOFError, ssl.SSLError):
            pass


def backend(port, remote):
    """The legacy server's stream to the s2s-out listener; what came back
    (until features or the stream's end)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=40)
    s.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "xmlns:db='jabber:server:dialback' from='%s' to='%s' "
               "version='1.0'>" % (OURS, remote)).encode())
    data = b""
    try:
        while b"</stream:stream>" not in data and \
                b"urn:xmpp:features:dialback" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    s.close()
    return data.decode("utf-8", "replace")


def sign_zone(tmp, text):
    """example. signed (NSEC) with a fresh KSK and ZSK; returns the signed
    zone file and the KSK's DS file (the trust anchor)."""
    keygen = util.require_tool("ldns-keygen")
    signzone = util.require_tool("ldns-signzone")
    zdir = os.path.join(tmp, "zone")
    os.makedirs(zdir)
    ksk = util.run([keygen, "-a", "ECDSAP256SHA256", "-k", "example."],
                   cwd=zdir, check=True).stdout.strip()
    zsk = util.run([keygen, "-a", "ECDSAP256SHA256", "example."],
                   cwd=zdir, check=True).stdout.strip()
    zone = os.path.join(zdir, "example.zone")
    with open(zone, "w") as f:
        f.write(text)
    now = datetime.datetime.now(datetime.timezone.utc)
    util.run([signzone, "-i", (now - datetime.timedelta(days=1)).strftime(
        "%Y%m%d"), "-e", (now + datetime.timedelta(days=30)).strftime(
        "%Y%m%d"), "-f", zone + ".signed", zone, ksk, zsk], cwd=zdir,
        check=True)
    return zone + ".signed", os.path.join(zdir, ksk + ".ds")


def start_unbound(tmp, zones):
    """A private unbound answering for zones ({name: file}) on a loopback
    port: authoritative data (auth-zone), RRSIGs served as signed."""
    port = util.free_port()
    conf = os.path.join(tmp, "unbound.conf")
    with open(conf, "w") as f:
        f.write("server:\n  interface: 127.0.0.1\n  port: %d\n"
                "  do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n"
                "  directory: \"%s\"\n  pidfile: \"\"\n  use-syslog: no\n"
                "  logfile: \"\"\n  verbosity: 1\n  do-ip6: no\n"
                "  access-control: 127.0.0.0/8 allow\n"
                "  module-config: \"iterator\"\n" % (port, tmp))
        for name, path in zones.items():
            f.write("auth-zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n"
                    "  for-downstream: yes\n  for-upstream: no\n"
                    "  fallback-enabled: no\n" % (name, path))
    util.start_logged([UNBOUND, "-d", "-c", conf], "unbound",
                      r"start of service", 20)
    return "127.0.0.1:%d" % port


def srv_block(label, port, tlsa=None, origin="example"):
    """An SRV (STARTTLS on port; no direct TLS, said with '.'), the
    target's address and optionally its TLSA record."""
    out = ("_xmpp-server._tcp.{l} IN SRV 0 0 {p} xmpp.{l}.{o}.\n"
           "_xmpps-server._tcp.{l} IN SRV 0 0 0 .\n"
           "xmpp.{l} IN A 127.0.0.1\n").format(l=label, p=port, o=origin)
    if tlsa:
        out += "_%d._tcp.xmpp.%s IN TLSA %s\n" % (port, label, tlsa)
    return out


def main(t):
    if not os.access(UNBOUND, os.X_OK):
        raise util.Skip("unbound not installed (contrib/install-deps.sh "
                        "--tests)")
    util.require_tool("ldns-signzone")
    tmp = util.make_tmpdir()
    ca = certs.CA(tmp, "xmppshield test CA")
    taca = certs.CA(tmp, "DANE TA CA")       # not in s2s_ca_file
    ours = certs.make_cert(tmp, "ecdsa", OURS)

    ee = certs.make_cert(tmp, "ecdsa", "ee.example")
    selfs = certs.make_cert(tmp, "ecdsa", "self.example")
    mm = ca.issue("mm.example")
    pk = ca.issue("pk.plain")
    bogus = ca.issue("bogus.example")
    ta = taca.issue("ta.example")
    ta_chain = os.path.join(tmp, "ta-chain.pem")
    with open(ta_chain, "w") as f:
        f.write(open(ta.cert).read() + open(taca.cert).read())

    rem = {
        "ee.example": Remote("ee.example", ee.cert, ee.key),
        "self.example": Remote("self.example", selfs.cert, selfs.key),
        "mm.example": Remote("mm.example", mm.cert, mm.key),
        "ta.example": Remote("ta.example", ta_chain, ta.key),
        "pk.plain": Remote("pk.plain", pk.cert, pk.key),
        "bogus.example": Remote("bogus.example", bogus.cert, bogus.key),
    }
    port = {d: r.port for d, r in rem.items()}
    zone = ("$ORIGIN example.\n$TTL 300\n"
            "@ IN SOA ns.example. admin.example. 1 3600 600 86400 300\n"
            "@ IN NS ns.example.\nns IN A 127.0.0.1\n")
    zone += srv_block("ee", port["ee.example"],
                      "3 1 1 " + spki_sha256(ee.cert))
    zone += srv_block("self", port["self.example"])
    zone += srv_block("mm", port["mm.example"],
                      "3 1 1 " + spki_sha256(ee.cert))
    zone += srv_block("ta", port["ta.example"],
                      "2 0 1 " + cert_sha256(taca.cert))
    zone += srv_block("bogus", port["bogus.example"],
                      "3 1 1 " + spki_sha256(bogus.cert))
    signed, anchor = sign_zone(tmp, zone)
    # The TLSA of bogus.example no longer matches its signature.
    text = open(signed).read()
    text, n = re.subn(r"(_%d\._tcp\.xmpp\.bogus\.example\.\s+\d+\s+IN\s+"
                      r"TLSA\s+3 1 1 )[0-9a-fA-F]{64}" % port["bogus.example"],
                      lambda m: m.group(1) + "ab" * 32, text)
    if n != 1:
        raise util.HarnessError("bogus TLSA not found in %s" % signed)
    with open(signed, "w") as f:
        f.write(text)
    plain = os.path.join(tmp, "plain.zone")
    with open(plain, "w") as f:
        f.write("$ORIGIN plain.\n$TTL 300\n"
                "@ IN SOA ns.plain. admin.plain. 1 3600 600 86400 300\n"
                "@ IN NS ns.plain.\nns IN A 127.0.0.1\n" +
                srv_block("pk", port["pk.plain"], BOGUS_TLSA, "plain"))
    dns = start_unbound(tmp, {"example.": signed, "plain.": plain})

    d = daemon.Daemon(tmp, {
        "tls": {"s2s_ca_file": ca.cert},
        "domain %s" % OURS: {"certificate": ours.cert, "key": ours.key},
        "listener out": {"listen": "127.0.0.1:0", "kind": "s2s-out",
                         "domains": OURS, "s2s_out_resolver": dns,
                         "s2s_out_dane": "on",
                         "s2s_out_dnssec_anchor": anchor,
                         "s2s_out_timeout": 20}})
    r = daemon.check_config(d.conf)
    if r.returncode != 0 and "without libunbound" in r.stderr + r.stdout:
        raise util.Skip("built without libunbound")

    helper = os.path.join(os.environ.get("TOP_BUILDDIR", ""), "tests",
                          "helpers", "resolve")
    if os.access(helper, os.X_OK):
        env = dict(os.environ, RESOLVE_DNSSEC_ANCHOR=anchor)

        def resolve(servers, *args, timeout_ms=3000):
            r = util.run([helper, servers, str(timeout_ms)] + list(args),
                         timeout=30, env=env)
            out = dict(l.split("=", 1) for l in r.stdout.split()
                       if "=" in l)
            out["out"] = r.stdout + r.stderr
            return out

        with t.case("resolver.c with libunbound: SRV, addresses and TLSA "
                    "of the signed zone are secure, those of the unsigned "
                    "zone insecure, the altered TLSA bogus") as k:
            for args, want in (
                    (("srv", "ee.example"), ("ok", "1")),
                    (("addr", "xmpp.ee.example", "1"), ("ok", "1")),
                    (("tlsa", "xmpp.ee.example", str(port["ee.example"])),
                     ("ok", "1")),
                    (("tlsa", "xmpp.self.example",
                      str(port["self.example"])), ("not-found", "1")),
                    (("srv", "pk.plain"), ("ok", "0")),
                    (("tlsa", "xmpp.bogus.example",
                      str(port["bogus.example"])), ("bogus", "0"))):
                r = resolve(dns, *args)
                k.check((r.get("status"), r.get("secure")) == want,
                        "%s: status=%s secure=%s" % ((" ".join(args),) +
                                                     want), r["out"])

        with t.case("resolver.c with libunbound and a resolver that never "
                    "answers: status=timeout within the deadline (1 s, "
                    "bound 5 s), one callback") as k:
            mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            mute.bind(("127.0.0.1", 0))
            util.on_cleanup(mute.close)
            silent = "127.0.0.1:%d" % mute.getsockname()[1]
            for args in (("srv", "ee.example"), ("addr", "ee.example", "1"),
                         ("tlsa", "ee.example", "5269")):
                r = resolve(silent, *args, timeout_ms=1000)
                k.check(r.get("status") == "timeout" and
                        r.get("called") == "1" and
                        int(r.get("elapsed_ms", 99999)) < 5000,
                        "%s: status=timeout, one callback, in time" %
                        args[0], r["out"])

    with t.case("an unreadable trust anchor, or one without DS/DNSKEY, is "
                "refused at start, naming the listener and the key") as k:
        for bad, why in ((os.path.join(tmp, "missing.key"), "No such"),
                         (plain, "no DS or DNSKEY")):
            sec = {s: dict(v) for s, v in d.sections.items()}
            sec["listener out"]["s2s_out_dnssec_anchor"] = bad
            conf = daemon.write_config(os.path.join(tmp, "bad.conf"), sec)
            r = daemon.check_config(conf)
            text = r.stderr + r.stdout
            k.check(r.returncode != 0 and "s2s_out_dnssec_anchor" in text
                    and why in text and "[listener out]" in text,
                    "-n fails: %s" % why, text)
        k.check(daemon.check_config(d.conf).returncode == 0,
                "the good anchor passes -n", d.conf)

    d.start()
    out = d.port("out")

    def attempt(remote, event):
        start = d.mark()
        got = backend(out, remote)
        line = d.wait_for(r"event=%s\b.*\bremote=%s\b" % (
            event, re.escape(remote)), 30, start=start)
        return daemon.parse_line(line) if line else {}, got, start

    def diag(k, start):
        k.note("daemon log:\n" + d.text(start))

    with t.case("a self-signed remote with a secure DANE-EE (3 1 1) TLSA: "
                "accepted, event=s2s-out-established dane=ee, the backend "
                "gets the remote's features") as k:
        e, got, start = attempt("ee.example", "s2s-out-established")
        k.check(e.get("dane") == "ee", "dane=ee", e or d.text(start))
        k.check("urn:xmpp:features:dialback" in got,
                "the remote's features reached the backend", got)

    with t.case("the same kind of certificate without TLSA: refused by "
                "PKIX, reason=peer-unverified (self-signed)") as k:
        e, got, start = attempt("self.example", "s2s-out-failed")
        k.check(e.get("reason") == "peer-unverified" and
                "self-signed" in e.get("detail", ""),
                "reason=peer-unverified detail=...self-signed",
                e or d.text(start))
        k.check("remote-connection-failed" in got,
                "the backend got <remote-connection-failed/>", got)

    with t.case("a PKIX-valid certificate and a secure TLSA that does not "
                "match: refused, reason=peer-unverified detail=dane-"
                "mismatch") as k:
        e, got, start = attempt("mm.example", "s2s-out-failed")
        k.check(e.get("reason") == "peer-unverified" and
                e.get("detail", "").startswith("dane-mismatch"),
                "reason=peer-unverified detail=dane-mismatch...",
                e or d.text(start))
        k.check("remote-connection-failed" in got,
                "the backend got <remote-connection-failed/>", got)

    with t.case("a chain from a CA xmppshield does not trust, with a "
                "secure DANE-TA (2 0 1) TLSA for that CA: accepted, "
                "dane=ta, the name checked") as k:
        e, got, start = attempt("ta.example", "s2s-out-established")
        k.check(e.get("dane") == "ta" and e.get("name") not in (None,
                                                                "none"),
                "dane=ta name=dns|xmpp", e or d.text(start))

    with t.case("an unsigned (insecure) zone: its TLSA is not used, PKIX "
                "decides as before (dane=none, verified=yes)") as k:
        e, got, start = attempt("pk.plain", "s2s-out-established")
        k.check(e.get("dane") == "none" and e.get("verified") == "yes",
                "dane=none verified=yes", e or d.text(start))

    with t.case("a TLSA record whose signature no longer matches (bogus): "
                "the attempt fails, reason=dns-bogus, nothing connects") as k:
        e, got, start = attempt("bogus.example", "s2s-out-failed")
        k.check(e.get("reason") == "dns-bogus", "reason=dns-bogus",
                e or d.text(start))
        k.check(e.get("address") == "-", "address=- (no connection)", e)
        k.check("remote-connection-failed" in got,
                "the backend got <remote-connection-failed/>", got)

    with t.case("the daemon stops cleanly: no sanitizer report (ASan "
                "builds), libunbound's late answers freed") as k:
        d.stop()
        d.log.wait_eof(10)
        bad = [l for l in d.log.lines if "Sanitizer" in l or
               "runtime error:" in l]
        k.check(not bad, "no sanitizer lines", bad[:20])


if __name__ == "__main__":
    tap.main(main)
