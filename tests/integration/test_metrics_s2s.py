#!/usr/bin/python3
"""Metrics of federation (issue 13): the s2s-out listener's connections
are counted as a client listener's (accepted, open, ended by event= and
reason=, TLS handshakes), every s2s-out end and every reason a server's
certificate can be unverified are reported at 0 from the start, and
real traffic moves them: a remote domain with no DNS record (dnsmasq
NXDOMAIN: s2s-out-failed reason=dns-not-found), a resolver that refuses
(dns-failed), a remote whose certificate names another domain
(peer-unverified, name-mismatch), a verified remote relayed and closed,
and inbound s2s peers verified and unverified (s2s_verify = log).  A reload counts a relaying outgoing
connection in sessions_on_old=; xmppshield -s shows the s2s-out row.

The remotes are scripted (Python ssl, STARTTLS server side) and found
through a loopback dnsmasq; the inbound peers are Python ssl clients;
the backend of the s2s listener is a scripted receiving server."""
import re
import signal
import time
import urllib.request

from lib import certs, daemon, raw, s2sremote, spy, tap, util
from lib.promtext import parse, value

OURS, GOOD, WRONG, NX = "b.example", "r.example", "w.example", "nx.example"
PEER = "a.example"
OUT, IN, REFUSED = "s2s-out", "s2s", "s2s-out-refused"
DB_NS = "jabber:server:dialback"
ENDS = [("s2s-out-failed", r) for r in (
    "bad-header", "dns-not-found", "dns-timeout", "dns-failed",
    "no-service", "connect-failed", "connect-timeout", "no-starttls",
    "tls-failed", "peer-unverified", "auth-failed", "timeout", "shutdown", "backend-xml",
    "internal-error")] + [("s2s-out-closed", r) for r in (
        "backend-closed", "remote-closed", "idle", "remote-xml",
        "tls-failed", "shutdown")]
UNVERIFIED = ("no-certificate", "revoked", "self-signed", "unknown-ca",
              "expired", "not-yet-valid", "crl-expired", "bad-crl",
              "weak-key", "bad-key-usage", "invalid-certificate",
              "name-mismatch", "piggyback-not-covered")


def receiving_server(conn):
    """The s2s listener's backend: header and dialback features."""
    if conn.wait_data(rb"<stream:stream\b[^>]*>", 10):
        conn.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server'"
                  " xmlns:stream='http://etherx.jabber.org/streams'"
                  " xmlns:db='%s' from='%s' id='spy-s2s' version='1.0'>"
                  "<stream:features/>" % (DB_NS, OURS))


def inbound_peer(d, cert):
    """An s2s peer through STARTTLS presenting cert (from a.example)."""
    hdr = raw.header(to=OURS, ns=raw.NS_SERVER,
                     extra=" xmlns:db='%s' from='%s'" % (DB_NS, PEER))
    cl = d.client(IN)
    if not cl.open_stream(hdr):
        raise util.HarnessError("no pre-TLS features: %r" % cl.data)
    ctx = raw.client_context(None)
    ctx.load_cert_chain(cert.cert, cert.key)
    cl.starttls(server_hostname=OURS, context=ctx)
    cl.send(hdr)
    return cl


def main(t):
    tmp, ca, ours = s2sremote.setup(OURS)

    def relaying(conn):
        conn.negotiate()
        conn.remote.released.wait(60)
        conn.send(raw.END)
        conn.wait_closed(10)

    def refused(conn):
        """xmppshield closes after the handshake: no header follows."""
        try:
            conn.negotiate()
        except util.HarnessError:
            pass

    good = s2sremote.Remote(ca.issue(GOOD), GOOD, relaying)
    wrong = s2sremote.Remote(ca.issue("other.example"), WRONG, refused)
    dns = s2sremote.Dns({GOOD: good.port, WRONG: wrong.port})
    backend = spy.Spy(receiving_server)
    mport = util.free_port()
    cfg = s2sremote.config(ca, ours, dns, extra={
        "global": {"metrics_listen": "127.0.0.1:%d" % mport},
        # a resolver address where nothing listens: ICMP unreachable
        "listener %s" % REFUSED: dict(
            s2sremote.listener(OURS, dns),
            s2s_out_resolver="127.0.0.1:%d" % util.free_port()),
        "listener %s" % IN: {"listen": "127.0.0.1:0", "kind": "s2s",
                             "backend": "127.0.0.1:%d" % backend.port,
                             "domains": OURS, "s2s_verify": "log"}})
    d = daemon.Daemon(tmp, cfg).start()
    if d.wait_for(r"event=metrics-listening\b") is None:
        raise util.HarnessError("metrics not listening")

    def scrape():
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                    timeout=10) as r:
            return parse(r.read().decode())

    def until(pred, timeout=20):
        """Scrape until pred(samples) holds; the last samples."""
        deadline = time.monotonic() + timeout
        while True:
            s = scrape()
            if pred(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.1)

    def ended(s, event, reason, listener=OUT):
        return value(s, "xmppshield_sessions_ended_total", listener=listener,
                     event=event, reason=reason)

    with t.case("from the start: every end of an s2s-out connection and "
                "every reason a certificate is unverified reported at 0; "
                "connections_open{listener=\"s2s-out\"} 0") as k:
        s = scrape()
        missing = [e for e in ENDS if ended(s, *e) != 0]
        k.check(not missing, "sessions_ended_total{listener=\"s2s-out\","
                "event,reason} = 0 for each of %d pairs" % len(ENDS),
                missing)
        for lst in (OUT, IN):
            missing = [r for r in UNVERIFIED if value(
                s, "xmppshield_s2s_peers_unverified_total", listener=lst,
                reason=r) != 0]
            k.check(not missing, "s2s_peers_unverified_total{listener=%s,"
                    "reason} = 0 for each of %d reasons"
                    % (lst, len(UNVERIFIED)), missing)
            k.check(value(s, "xmppshield_s2s_peers_verified_total",
                          listener=lst) == 0,
                    "s2s_peers_verified_total{listener=%s} 0" % lst)
        k.check(value(s, "xmppshield_connections_open", listener=OUT) == 0,
                "connections_open 0")
        promtool = util.which("promtool")
        if promtool:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                        % mport, timeout=10) as r:
                text = r.read().decode()
            p = util.run([promtool, "check", "metrics"], input=text,
                         timeout=30)
            k.check(p.returncode == 0, "promtool check metrics accepts it",
                    p.stdout + p.stderr)

    with t.case("a remote domain with no DNS record (dnsmasq: NXDOMAIN): "
                "event=s2s-out-failed reason=dns-not-found; accepted 1, "
                "sessions_ended{event=\"s2s-out-failed\","
                "reason=\"dns-not-found\"} 1, open back to 0") as k:
        b, line, f = s2sremote.failed_attempt(d, OURS, NX)
        k.check(f.get("reason") == "dns-not-found" and
                f.get("remote") == NX, "reason=dns-not-found remote=%s" % NX,
                line)
        k.check(b.recv_until(rb"<host-unknown\b", 10), "the backend got "
                "<host-unknown/>", b.data[-300:])
        b.read_to_eof(10)
        s = until(lambda s: ended(s, "s2s-out-failed", "dns-not-found") == 1
                  and value(s, "xmppshield_connections_open",
                            listener=OUT) == 0)
        k.check(value(s, "xmppshield_connections_accepted_total",
                      listener=OUT) == 1, "accepted_total 1")
        k.check(ended(s, "s2s-out-failed", "dns-not-found") == 1,
                "sessions_ended dns-not-found 1")
        k.check(value(s, "xmppshield_connections_open", listener=OUT) == 0,
                "connections_open 0")

    with t.case("a resolver that refuses (nothing on its port): "
                "event=s2s-out-failed reason=dns-failed; sessions_ended"
                "{listener=\"s2s-out-refused\",event=\"s2s-out-failed\","
                "reason=\"dns-failed\"} 1") as k:
        b, line, f = s2sremote.failed_attempt(d, OURS, GOOD, name=REFUSED)
        k.check(f.get("reason") == "dns-failed" and
                f.get("listener") == REFUSED, "reason=dns-failed", line)
        b.read_to_eof(10)
        s = until(lambda s: ended(s, "s2s-out-failed", "dns-failed",
                                  REFUSED) == 1)
        k.check(ended(s, "s2s-out-failed", "dns-failed", REFUSED) == 1,
                "sessions_ended dns-failed 1 on its listener")
        k.check(ended(s, "s2s-out-failed", "dns-failed") == 0,
                "and 0 on the other")

    with t.case("a remote whose certificate names another domain "
                "(s2s_verify = require): s2s-out-failed "
                "reason=peer-unverified; s2s_peers_unverified{listener="
                "\"s2s-out\",reason=\"name-mismatch\"} 1, a TLS handshake "
                "counted") as k:
        b, line, f = s2sremote.failed_attempt(d, OURS, WRONG)
        k.check(f.get("reason") == "peer-unverified",
                "reason=peer-unverified", line)
        b.read_to_eof(10)
        s = until(lambda s: ended(s, "s2s-out-failed", "peer-unverified")
                  == 1)
        k.check(ended(s, "s2s-out-failed", "peer-unverified") == 1,
                "sessions_ended peer-unverified 1")
        k.check(value(s, "xmppshield_s2s_peers_unverified_total",
                      listener=OUT, reason="name-mismatch") == 1,
                "s2s_peers_unverified{name-mismatch} 1")
        hs = sum(v for (n, lb), v in s.items()
                 if n == "xmppshield_tls_handshakes_total" and
                 ("listener", OUT) in lb)
        k.check(hs == 1, "tls_handshakes_total{listener=\"s2s-out\"} 1", hs)

    with t.case("a verified remote, relaying: s2s_peers_verified{listener="
                "\"s2s-out\"} 1, connections_open 1; a reload counts it in "
                "sessions_on_old=1; the remote closes: s2s-out-closed "
                "reason=remote-closed, bytes with the remote counted") as k:
        mark = d.mark()
        b = s2sremote.backend(d, OURS, GOOD)
        k.require(b.recv_until(rb"<stream:features", 20), "relaying",
                  good.errors + [b.data[-300:]])
        line, f = d.wait_fields(r"event=s2s-out-established\b", 10, mark)
        k.check(f.get("verified") == "yes", "verified=yes", line)
        s = scrape()
        k.check(value(s, "xmppshield_s2s_peers_verified_total",
                      listener=OUT) == 1, "s2s_peers_verified 1")
        k.check(value(s, "xmppshield_connections_open", listener=OUT) == 1,
                "connections_open 1")
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        line, f = d.wait_fields(r"event=reloaded\b", 20, mark)
        k.check(f.get("sessions_on_old") == "1", "event=reloaded "
                "sessions_on_old=1 (the outgoing connection)", line)
        mark = d.mark()
        good.release()
        line, f = d.wait_fields(r"event=s2s-out-closed\b", 20, mark)
        k.check(f.get("reason") == "remote-closed", "reason=remote-closed",
                line)
        b.read_to_eof(10)
        s = until(lambda s: ended(s, "s2s-out-closed", "remote-closed") == 1
                  and value(s, "xmppshield_connections_open",
                            listener=OUT) == 0)
        k.check(ended(s, "s2s-out-closed", "remote-closed") == 1,
                "sessions_ended{s2s-out-closed, remote-closed} 1")
        k.check(value(s, "xmppshield_connections_open", listener=OUT) == 0,
                "connections_open 0")
        bin_ = value(s, "xmppshield_client_bytes_received_total",
                     listener=OUT) or 0
        bout = value(s, "xmppshield_client_bytes_sent_total",
                     listener=OUT) or 0
        k.check(bin_ > 0 and bout > 0, "bytes with the remotes counted "
                "(in %d, out %d)" % (bin_, bout))

    with t.case("inbound s2s (s2s_verify = log): a peer with a valid "
                "certificate counts in s2s_peers_verified{listener=\"s2s\"}, "
                "a self-signed one in s2s_peers_unverified{reason="
                "\"self-signed\"}") as k:
        for cert in (ca.issue(PEER), certs.make_cert(tmp, "ecdsa", PEER)):
            mark = d.mark()
            cl = inbound_peer(d, cert)
            k.check(d.wait_for(r"event=s2s-peer-(un)?verified\b", 20, mark),
                    "logged", d.text(mark)[-800:])
            cl.close()
        s = until(lambda s: value(s, "xmppshield_s2s_peers_unverified_total",
                                  listener=IN, reason="self-signed") == 1)
        k.check(value(s, "xmppshield_s2s_peers_verified_total",
                      listener=IN) == 1, "verified 1")
        k.check(value(s, "xmppshield_s2s_peers_unverified_total",
                      listener=IN, reason="self-signed") == 1,
                "unverified{self-signed} 1")

    with t.case("xmppshield -s: the s2s-out row counts its connections and "
                "its 2 failed ones under BACKEND-FAIL") as k:
        r = util.run([d.bin, "-s", "-c", d.conf], timeout=20)
        k.check(r.returncode == 0, "exit 0", r.stderr)
        cols = re.search(r"^LISTENER\s+(.*)$", r.stdout, re.M)
        row = re.search(r"^s2s-out\s+(.*)$", r.stdout, re.M)
        k.require(cols and row, "s2s-out row", r.stdout)
        got = dict(zip(cols.group(1).split(), row.group(1).split()))
        k.check(got.get("ACCEPTED") == "3" and
                got.get("BACKEND-FAIL") == "2" and got.get("OPEN") == "0",
                "ACCEPTED 3, BACKEND-FAIL 2, OPEN 0", r.stdout)

    k_errors = good.errors + wrong.errors
    with t.case("the scripted remotes saw no harness error") as k:
        k.check(not k_errors, "none", k_errors)
    d.stop()


if __name__ == "__main__":
    tap.main(main)
