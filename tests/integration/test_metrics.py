#!/usr/bin/python3
"""Prometheus metrics, read by a real Prometheus server (Debian's) that
scrapes the real daemon (2 workers) in front of a real Prosody: a login,
a policy violation and a failed handshake show up with the log's labels,
summed over both workers; promtool accepts the exposition; totals survive
a killed worker and a reload; a slow scraper, a 1 MB header and a peer
outside metrics_allow are cut off while the workers go on serving;
certificate expiry is logged and exported; xmppshield -s prints the
table."""
import datetime
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from lib import certs, daemon, expect, prosody, raw, tap, util, xmppclient
from lib.promtext import parse, total

WORKERS = 2
USERS = {"alice": "alice-Pw-1", "bob": "bob-Pw-2"}


class Prometheus:
    """Debian's prometheus on loopback with a private data directory,
    scraping target every second."""

    def __init__(self, tmp, target):
        self.bin = util.require_tool("prometheus")
        self.port = util.free_port()
        self.dir = os.path.join(tmp, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: xmppshield\n"
                    "    scrape_timeout: 1s\n"
                    "    static_configs:\n      - targets: ['%s']\n"
                    % target)
        self.proc = subprocess.Popen(
            [self.bin, "--config.file=" + conf,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--web.enable-lifecycle"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd=self.dir)
        util.on_cleanup(util.stop_process, self.proc)
        self.log = util.LineCollector(self.proc.stderr, "prometheus")
        if self.log.wait_for(r"Server is ready to receive web requests",
                             60) is None:
            raise util.HarnessError("prometheus did not start:\n%s"
                                    % self.log.text())

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read().decode())
        return body["data"]["result"]

    def value(self, expr):
        """The sum of an instant query's values, None if no series."""
        res = self.query(expr)
        if not res:
            return None
        return sum(float(s["value"][1]) for s in res)

    def wait(self, expr, pred, timeout=30.0):
        """Poll the HTTP API until pred(value) (Prometheus scrapes every
        second); the last value."""
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.value(expr)
            if v is not None and pred(v):
                return v
            time.sleep(0.25)
        return v


def make_dated_cert(tmp, tag, start_days, end_days):
    """A self-signed example.org certificate valid from now + start_days
    to now + end_days (negative: in the past)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=start_days))
            .not_valid_after(now + datetime.timedelta(days=end_days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("example.org")]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, kp = (os.path.join(tmp, tag + ".crt"),
               os.path.join(tmp, tag + ".key"))
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(kp, 0o600)
    return certs.Cert("ecdsa", crt, kp)


def not_after_epoch(crt):
    out = util.run(["openssl", "x509", "-noout", "-enddate", "-in", crt],
                   check=True).stdout
    when = out.strip().split("=", 1)[1]
    return int(datetime.datetime.strptime(
        when, "%b %d %H:%M:%S %Y GMT").replace(
        tzinfo=datetime.timezone.utc).timestamp())


def read_to_close(s):
    """Everything the peer sends until it closes (or the socket fails),
    then the socket is closed."""
    reply = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            reply += b
    except OSError:
        pass
    s.close()
    return reply


def main(t):
    daemon.binary()
    why = prosody.available() or xmppclient.available()
    if why:
        raise util.Skip(why)
    if not util.which("prometheus") or not util.which("promtool"):
        raise util.Skip("prometheus/promtool not installed (apt-get install "
                        "prometheus; contrib/install-deps.sh --tests)")
    tmp = util.make_tmpdir()
    # Expires in 3 days: certificate-expiring at start and on reload.
    cert = certs.make_cert(tmp, "rsa", days=3)
    be = prosody.Prosody(tmp, offer_starttls=True, cert=cert).start()
    for u, pw in USERS.items():
        be.register(u, pw)

    cfg = daemon.base_config(cert, be.port)
    cfg["global"].update({"workers": WORKERS,
                          # a fixed port: -s reads it from the config
                          "metrics_listen": "127.0.0.1:%d"
                          % util.free_port(),
                          "metrics_allow": "127.0.0.1, ::1"})
    d = daemon.Daemon(tmp, cfg).start()
    line = d.wait_for(r"event=metrics-listening\b")
    maddr = daemon.parse_line(line or "").get("address", "")
    mhost, mport = maddr.rsplit(":", 1) if maddr else ("", "0")
    mport = int(mport)
    started = d.wait_for(r"event=started\b")

    def scrape():
        with urllib.request.urlopen("http://%s:%d/metrics" % (mhost, mport),
                                    timeout=10) as r:
            return r.read().decode()

    def workers_started(start=0, n=WORKERS):
        pids = []
        for _ in range(n):
            ln = d.wait_for(r"event=worker-started\b", start=start)
            if ln is None:
                break
            pids.append(int(daemon.parse_line(ln)["pid"]))
            start = d.log.lines.index(ln) + 1
        return pids

    with t.case("metrics_listen: the master answers GET /metrics "
                "(event=metrics-listening), with HELP/TYPE lines and "
                "every listener at 0") as k:
        k.require(line is not None and mport > 0, "metrics-listening logged",
                  d.text())
        k.check(started is not None, "started")
        k.check(daemon.parse_line(line)["_pid"] == str(d.proc.pid),
                "logged by the master", line)
        pids = workers_started()
        k.check(len(pids) == WORKERS, "two workers", pids)
        text = scrape()
        s = parse(text)
        k.check("# TYPE xmppshield_sessions_ended_total counter" in text,
                "TYPE line", text[:500])
        k.check(s.get(("xmppshield_connections_accepted_total",
                       frozenset({("listener", "c2s")}))) == 0,
                "accepted{listener=c2s} 0", text[:2000])
        k.check(total(s, "xmppshield_workers") == WORKERS, "workers 2")

    with t.case("promtool check metrics accepts the exposition") as k:
        r = util.run(["promtool", "check", "metrics"], input=scrape())
        k.check(r.returncode == 0, "promtool exit 0",
                "%s%s" % (r.stdout, r.stderr))

    prom = Prometheus(tmp, "%s:%d" % (mhost, mport))
    k_up = prom.wait("up", lambda v: v == 1)

    with t.case("a real Prometheus scrapes the daemon (up == 1)") as k:
        k.check(k_up == 1, "up", k_up)

    mark = d.mark()
    with t.case("a login through xmppshield (slixmpp to Prosody): "
                "handshakes by version, cipher, group and resumption; "
                "sessions ended by the log's event= and reason=") as k:
        r = xmppclient.run_scenario(d.port(), cafile=cert.cert,
                                    logfile=tmp + "/slixmpp.log",
                                    alice=("alice", USERS["alice"]),
                                    bob=("bob", USERS["bob"]))
        k.require(r["ok"], "scenario passes", "%s %s" % (r.get("error"),
                                                          r.get("steps")))
        est = [daemon.parse_line(ln) for ln in d.lines_matching(
            r"event=%s\b" % expect.TLS_ESTABLISHED, mark)]
        k.check(len(est) == 2, "two tls-established lines", est)
        ends = []
        for e in est:
            end, _ = d.end_of(e["client"])
            ends.append(end)
        k.require(all(ends), "both sessions ended", ends)
        v = prom.wait('sum(xmppshield_tls_handshakes_total{listener="c2s",'
                      'version="%s",cipher="%s"})' % (est[0]["tls_version"],
                                                       est[0]["cipher"]),
                      lambda v: v >= 2)
        k.check(v == 2, "2 handshakes with the logged version and cipher",
                v)
        res = prom.query('xmppshield_tls_handshakes_total{listener="c2s"}'
                         ' > 0')
        k.check(res and all(set(x["metric"]) >= {
            "version", "cipher", "group", "resumed"} for x in res),
            "labels version, cipher, group, resumed", res)
        for e in set((x["event"], x["reason"]) for x in ends):
            want = sum(1 for x in ends if (x["event"], x["reason"]) == e)
            v = prom.wait('sum(xmppshield_sessions_ended_total{listener='
                          '"c2s",event="%s",reason="%s"})' % e,
                          lambda v, w=want: v >= w)
            k.check(v == want, "sessions_ended{event=%s,reason=%s} == %d "
                    "(as many as log lines)" % (e + (want,)), v)
        v = prom.wait('sum(xmppshield_connections_accepted_total)',
                      lambda v: v >= 2)
        k.check(v == 2, "accepted 2", v)
        v = prom.wait('sum(xmppshield_client_bytes_received_total)',
                      lambda v: v > 0)
        k.check(v and v >= sum(int(x["bytes_in"]) for x in ends),
                "bytes received counted", v)

    with t.case("a resumed TLS session counts as resumed=\"yes\"; on "
                "mbedTLS 2.28 the group is named") as k:
        ctx = raw.client_context(cert.cert)
        sess, reused = None, []
        for _ in range(2):
            c = d.client()
            c.open_stream()
            c.send(raw.STARTTLS)
            c.recv_until(rb"<proceed")
            tls = ctx.wrap_socket(c.sock, server_hostname="example.org",
                                  session=sess)
            reused.append(tls.session_reused)
            tls.sendall(raw.header().encode())
            tls.recv(4096)      # a TLS 1.3 ticket comes with the data
            sess = tls.session
            tls.close()
            d.end_of(c)
        k.check(reused == [False, True], "second handshake resumed", reused)
        s = parse(scrape())
        k.check(total(s, "xmppshield_tls_handshakes_total",
                      resumed="yes") == 1, "one resumed handshake")
        if "mbedTLS 2." in util.run([d.bin, "-V"]).stdout:
            k.check(total(s, "xmppshield_tls_handshakes_total",
                          group="unknown") == 0 and
                    total(s, "xmppshield_tls_handshakes_total",
                          group="x25519") >= 1, "group=\"x25519\"",
                    [x for x in s if x[0].startswith("xmppshield_tls_h")])

    with t.case("a policy violation from each of two client addresses "
                "(steered to the two workers) is summed to 2") as k:
        served = set()
        for src in ("127.0.0.1", "127.0.0.2"):
            c = d.client(source=src)
            c.open_stream()
            c.send("<message to='x@example.org'/>")
            end, _ = d.end_of(c)
            k.check(end and end["event"] == expect.POLICY and
                    end["reason"] == expect.R_PRE_TLS_ELEMENT,
                    "policy-violation pre-tls-element logged", end)
            served.add(d.accept_of(c)["_pid"])
            c.close()
        k.check(len(served) == 2, "served by two worker processes", served)
        v = prom.wait('sum(xmppshield_sessions_ended_total{listener="c2s",'
                      'event="policy-violation",reason="pre-tls-element"})',
                      lambda v: v >= 2)
        k.check(v == 2, "Prometheus sums 2 over the workers", v)

    with t.case("a failed TLS handshake: handshake_failures{reason} and "
                "sessions_ended{event=tls-failed} with the log's reason") as k:
        c = d.client()
        c.open_stream()
        c.send(raw.STARTTLS)
        c.recv_until(rb"<proceed")
        c.send(b"\x16\x03\x01\x00\x08not-a-hello-at-all")
        end, _ = d.end_of(c)
        c.close()
        k.require(end and end["event"] == expect.TLS_FAILED,
                  "tls-failed logged", end)
        v = prom.wait('sum(xmppshield_tls_handshake_failures_total{'
                      'listener="c2s",reason="%s"})' % end["reason"],
                      lambda v: v >= 1)
        k.check(v == 1, "handshake_failures{reason=%s} == 1"
                % end["reason"], v)
        v = prom.wait('sum(xmppshield_sessions_ended_total{listener="c2s",'
                      'event="tls-failed",reason="%s"})' % end["reason"],
                      lambda v: v >= 1)
        k.check(v == 1, "sessions_ended{event=tls-failed} == 1", v)

    def counters(text):
        return {key: v for key, v in parse(text).items()
                if key[0].endswith("_total")}

    with t.case("a worker killed mid-run (SIGKILL): no total goes "
                "backwards, one restart counted, Prometheus sees no "
                "counter reset") as k:
        before = counters(scrape())
        mark = d.mark()
        victim = workers_started(0, WORKERS)[0]
        os.kill(victim, signal.SIGKILL)
        k.require(d.wait_for(r"event=worker-exited\b", start=mark),
                  "worker-exited")
        k.require(workers_started(mark, 1), "a new worker started")
        after = counters(scrape())
        back = {key: (v, after.get(key)) for key, v in before.items()
                if after.get(key, -1) < v}
        k.check(not back, "every total kept (%d series)" % len(before),
                back)
        k.check(total(parse(scrape()),
                      "xmppshield_worker_restarts_total") == 1,
                "worker_restarts_total 1")
        v = prom.wait("xmppshield_worker_restarts_total", lambda v: v >= 1)
        k.check(v == 1, "Prometheus scraped the restart", v)
        v = prom.value("sum(resets(xmppshield_sessions_ended_total[5m])) + "
                       "sum(resets(xmppshield_connections_accepted_total"
                       "[5m]))")
        k.check(v == 0, "resets() == 0", v)

    with t.case("reload (SIGHUP): totals continue, reloads_total{ok} 1, "
                "certificate-expiring logged again") as k:
        before = counters(scrape())
        mark = d.mark()
        os.kill(d.proc.pid, signal.SIGHUP)
        k.require(d.wait_for(r"event=certificate-expiring\b", start=mark),
                  "certificate-expiring on reload")
        for _ in range(WORKERS):
            k.check(d.wait_for(r"event=reloaded\b", start=mark),
                    "worker reloaded")
            mark = d.log.lines.index(
                d.wait_for(r"event=reloaded\b", start=mark)) + 1
        c = d.client()
        c.open_stream()
        c.close()
        d.end_of(c)
        after = counters(scrape())
        back = {key: v for key, v in before.items()
                if after.get(key, -1) < v}
        k.check(not back, "no total went backwards", back)
        k.check(total(after, "xmppshield_reloads_total", result="ok") == 1,
                "reloads_total{result=ok} 1")
        k.check(total(after, "xmppshield_connections_accepted_total") ==
                total(before, "xmppshield_connections_accepted_total") + 1,
                "accepted goes on from where it was")

    def still_serving(k):
        c = d.client()
        m = c.open_stream()
        k.check(m is not None, "a client still gets stream features")
        c.close()
        k.check("xmppshield_build_info" in scrape(),
                "a normal scrape still answered")

    with t.case("a slow scraper (a byte every 0.5 s, never finishing its "
                "headers) is cut off after 10 s; workers keep serving") as k:
        mark = d.mark()
        s = socket.create_connection((mhost, mport), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 25 and not closed:
            r, _, _ = select.select([s], [], [], 0.5)
            if r:
                try:
                    closed = s.recv(4096) == b""
                except OSError:
                    closed = True
                continue
            try:
                s.send(b"a")
            except OSError:
                closed = True
        elapsed = time.monotonic() - t0
        s.close()
        k.check(closed and elapsed < 15, "closed by the daemon within "
                "15 s (after %.1f s)" % elapsed)
        k.check(d.wait_for(r"event=metrics-dropped\b.*reason=deadline",
                           start=mark), "metrics-dropped reason=deadline")
        still_serving(k)

    with t.case("a 1 MB request header is refused before it is read; "
                "workers keep serving") as k:
        s = socket.create_connection((mhost, mport), timeout=10)
        sent, cut = 0, False
        chunk = b"a" * 65536
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ")
            while sent < (1 << 20):
                s.sendall(chunk)
                sent += len(chunk)
            s.sendall(b"\r\n\r\n")
        except OSError:
            cut = True
        reply = read_to_close(s)
        status = reply.split(b"\r\n", 1)[0]
        k.check(cut or re.match(rb"HTTP/1\.[01] (4\d\d)", status),
                "cut off or refused with 4xx", (sent, status))
        k.check(b"xmppshield_" not in reply, "no metrics answered")
        still_serving(k)

    with t.case("a scraper outside metrics_allow (127.0.0.2) gets no "
                "metrics; event=metrics-dropped reason=not-allowed") as k:
        mark = d.mark()
        s = socket.create_connection((mhost, mport), timeout=10,
                                     source_address=("127.0.0.2", 0))
        try:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        except OSError:
            pass
        reply = read_to_close(s)
        k.check(b"xmppshield_" not in reply, "no metrics", reply[:200])
        k.check(d.wait_for(r"event=metrics-dropped\b.*client=127\.0\.0\.2:"
                           r".*reason=not-allowed", start=mark) or
                reply.startswith(b"HTTP/1.1 403") or
                reply.startswith(b"HTTP/1.0 403"),
                "dropped (logged) or 403", reply[:100])

    with t.case("a certificate expiring in 3 days: certificate-expiring "
                "days=3 with the certificate's notAfter, and the gauge") as k:
        na = not_after_epoch(cert.cert)
        ln = d.wait_for(r"event=certificate-expiring\b")
        p = daemon.parse_line(ln or "")
        k.check(p.get("domain") == "example.org" and p.get("days") == "3",
                "domain=example.org days=3", ln)
        k.check(p.get("not_after") == datetime.datetime.fromtimestamp(
            na, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after= is the certificate's", (p.get("not_after"), na))
        v = prom.wait('xmppshield_certificate_not_after_seconds{domain='
                      '"example.org"}', lambda v: v > 0)
        k.check(v == na, "gauge == notAfter", (v, na))

    with t.case("every query of contrib/prometheus/grafana-dashboard.json "
                "runs on the real Prometheus, and the certificate panel "
                "says 3 days") as k:
        path = os.path.join(daemon.top_srcdir(), "contrib", "prometheus",
                            "grafana-dashboard.json")
        with open(path) as f:
            dash = json.load(f)
        exprs = [tg["expr"] for p in dash["panels"] for tg in p["targets"]]
        k.check(len(exprs) >= 10, "the dashboard has its queries",
                len(exprs))
        for e in exprs:
            q = e.replace("$__rate_interval", "1m").replace("$instance",
                                                            ".*")
            try:
                prom.query(q)
                err = None
            except Exception as ex:     # HTTP 400: a bad query
                err = ex
            k.check(err is None, "query runs: %s" % q, err)
        days = prom.value([e for e in exprs if "not_after" in e][0]
                          .replace("$instance", ".*"))
        k.check(days is not None and 2.9 < days <= 3, "about 3 days", days)

    with t.case("xmppshield -s prints the per-listener table from the "
                "running daemon") as k:
        r = util.run([d.bin, "-s", "-c", d.conf], timeout=20)
        k.check(r.returncode == 0, "exit 0", r.stderr)
        k.check(re.search(r"^LISTENER\s+OPEN\s+ACCEPTED", r.stdout, re.M),
                "header line", r.stdout)
        k.check(re.search(r"^c2s\s+\d+\s+\d+", r.stdout, re.M), "c2s row",
                r.stdout)
        k.check("example.org" in r.stdout, "certificate listed", r.stdout)

    with t.case("-n warns about an expired certificate, one not yet "
                "valid, and one expiring soon (and still says OK)") as k:
        bad = make_dated_cert(tmp, "expired", -30, -1)
        c2 = daemon.base_config(bad, be.port)
        path = daemon.write_config(os.path.join(tmp, "expired.conf"), c2)
        r = daemon.check_config(path)
        k.check("event=certificate-expired domain=example.org" in r.stderr,
                "certificate-expired", r.stderr)
        k.check(r.returncode == 0 and "configuration OK" in r.stdout,
                "a warning, not an error", (r.returncode, r.stdout))
        early = make_dated_cert(tmp, "early", 2, 60)
        c3 = daemon.base_config(early, be.port)
        p3 = daemon.write_config(os.path.join(tmp, "early.conf"), c3)
        r = daemon.check_config(p3)
        k.check("event=certificate-not-yet-valid domain=example.org"
                in r.stderr, "certificate-not-yet-valid", r.stderr)
        r = daemon.check_config(d.conf)
        k.check("event=certificate-expiring domain=example.org days=3"
                in r.stderr, "certificate-expiring", r.stderr)

    with t.case("xmppshield -s without metrics_listen says what to set") as k:
        path = daemon.write_config(os.path.join(tmp, "nometrics.conf"),
                                   daemon.base_config(cert, be.port))
        r = util.run([d.bin, "-s", "-c", path], timeout=20)
        k.check(r.returncode == 1 and "metrics_listen" in r.stderr,
                "exit 1, names metrics_listen", r.stderr)

    d.stop()
    be.stop()


if __name__ == "__main__":
    tap.main(main)
