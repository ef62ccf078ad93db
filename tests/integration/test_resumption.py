#!/usr/bin/python3
"""TLS session resumption through the real daemon with openssl s_client
-starttls xmpp, for TLS 1.2 (tickets, RFC 5077) and TLS 1.3
(NewSessionTicket, psk_dhe_ke; mbedTLS 3.6 only): tickets on by default,
session_tickets = no, across the workers of one daemon and across SIGHUP,
a shared ticket_key_file resuming across two daemons (and the
previous/current/next roll), a resumed session still held to the SNI rule,
no 0-RTT, and bad key files refused at start with a clear message."""
import base64
import os
import re
import signal
import subprocess
import time

from lib import certs, common, daemon, expect, spy, tap, util

SESSION_RX = re.compile(r"^(New|Reused), (TLSv[\d.]+), Cipher is (\S+)",
                        re.M)
NST = "Post-Handshake New Session Ticket arrived"


def s_client_args(port, cert, version, servername, extra):
    return ["openssl", "s_client", "-starttls", "xmpp", "-xmpphost",
            "example.org", "-connect", "127.0.0.1:%d" % port,
            "-servername", servername, "-CAfile", cert.cert,
            "-verify_return_error", "-tls" + version.replace(".", "_")] + \
        list(extra)


def s_client(port, cert, sess_out=None, sess_in=None, timeout=20,
             version="1.2", servername="example.org", extra=()):
    """version "1.2" or "1.3".  A TLS 1.3 ticket (NewSessionTicket) comes
    after the handshake: with sess_out, s_client is kept connected until
    it reports the ticket (it has written sess_out then)."""
    args = s_client_args(port, cert, version, servername, extra)
    if sess_out:
        args += ["-sess_out", sess_out]
    if sess_in:
        args += ["-sess_in", sess_in]
    if version == "1.3" and sess_out:
        out = util.run_until(args, NST, timeout)
        r = subprocess.CompletedProcess(args, 0, out, "")
    else:
        try:
            r = subprocess.run(args, input="", stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise util.HarnessError("s_client timed out: %r" % e.stderr)
    r.out = (r.stdout or "") + (r.stderr or "")
    m = SESSION_RX.search(r.out)
    r.how = m.group(1) if m else None
    r.version = m.group(2) if m else None
    return r


def key_line():
    return base64.b64encode(os.urandom(48)).decode()


def main(t, version="1.2"):
    """TLS 1.2 here, with the key file checks; test_resumption13.py runs
    the same cases with TLS 1.3."""
    daemon.binary()
    util.require_tool("openssl")
    if version == "1.3":
        daemon.need_tls13()
    tmp = util.make_tmpdir()
    certs_ = certs.make_certs(tmp)
    cert = certs_["ecdsa"]
    cert_b = certs.make_cert(tmp, "ecdsa", "b.example")
    backend = spy.Spy()
    resumption(t, tmp, cert, cert_b, backend, version)
    if version == "1.2":
        key_files(t, tmp, cert, backend)
    t.ok(backend.connection_count() == 0,
         "no TLS-only session reached the backend",
         "%d connections" % backend.connection_count())


def resumption(t, tmp, cert, cert_b, backend, version):
    n = [0]
    V = "[TLS %s] " % version

    def s_client_v(*a, **kw):
        kw.setdefault("version", version)
        return s_client(*a, **kw)

    def sess_path():
        n[0] += 1
        return os.path.join(tmp, "session%s-%d.pem" % (version, n[0]))

    def start(name, tls_extra=None, workers=1):
        cfg = daemon.base_config(cert, backend.port,
                                 extra={"tls": tls_extra or {}})
        cfg["global"]["workers"] = workers
        return daemon.Daemon(tmp, cfg, name=name + version).start()

    def established(k, d, mark, count):
        for i in range(count):
            line = d.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED,
                              start=mark)
            k.check(line is not None, "event=tls-established logged",
                    d.text(mark))
            if line is None:
                return
            mark = d.log.lines.index(line) + 1

    def resume(k, d_out, d_in, want):
        """A full handshake on d_out, then its session offered to d_in."""
        p = sess_path()
        m_out, m_in = d_out.mark(), d_in.mark()
        r1 = s_client_v(d_out.port(), cert, sess_out=p)
        k.require(r1.how == "New", "first handshake is a full one",
                  r1.out[-600:])
        k.check(r1.version == "TLSv" + version, "TLSv" + version,
                r1.out[-600:])
        k.require(os.path.exists(p), "s_client saved the session")
        r2 = s_client_v(d_in.port(), cert, sess_in=p)
        k.check(r2.how == want, "second handshake: %s" % want,
                "%s\n%s" % (r2.how, r2.out[-600:]))
        k.check("Verify return code: 0 (ok)" in r2.out,
                "certificate verified", r2.out[-600:])
        if d_in is d_out:
            established(k, d_in, m_in, 2)
        else:
            established(k, d_out, m_out, 1)
            established(k, d_in, m_in, 1)

    d = start("default")
    with t.case(V + "default config: a second s_client -starttls xmpp with "
                "-sess_in resumes the session by ticket (Reused)") as k:
        resume(k, d, d, "Reused")
    with t.case(V + "the ticket resumes repeatedly (a fresh one each time)") \
            as k:
        p = sess_path()
        r = s_client_v(d.port(), cert, sess_out=p)
        k.require(r.how == "New", "full handshake", r.out[-400:])
        for i in range(3):
            r = s_client_v(d.port(), cert, sess_in=p, sess_out=p)
            k.check(r.how == "Reused", "resumption %d" % (i + 1),
                    r.out[-400:])

    cfg = daemon.base_config(cert, backend.port)
    cfg["domain b.example"] = {"certificate": cert_b.cert,
                               "key": cert_b.key}
    cfg["listener c2s"]["domains"] = "example.org b.example"
    two = daemon.Daemon(tmp, cfg, name="two" + version).start()
    with t.case(V + "a resumed session is held to the SNI rule: its "
                "ticket offered with SNI b.example (another served domain) "
                "on a stream to example.org is refused (sni-mismatch)") as k:
        p = sess_path()
        r = s_client_v(two.port(), cert, sess_out=p)
        k.require(r.how == "New", "full handshake", r.out[-400:])
        mark = two.mark()
        r = s_client_v(two.port(), cert, sess_in=p, servername="b.example")
        k.check(r.how != "Reused", "not resumed", r.out[-400:])
        line = two.wait_for(r"event=%s\b.*reason=sni-mismatch" %
                            expect.POLICY, start=mark)
        k.check(line is not None, "policy-violation reason=sni-mismatch",
                two.text(mark))
        k.check(two.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED, 0.2,
                             start=mark) is None, "no tls-established",
                two.text(mark))
    two.stop()
    common.sessions_end_once(t, two)

    if version == "1.3":
        with t.case(V + "0-RTT is refused: the ticket allows no early data "
                    "(Max Early Data: 0) and s_client -early_data sends "
                    "none") as k:
            p = sess_path()
            r = s_client_v(d.port(), cert, sess_out=p)
            k.require(r.how == "New", "full handshake", r.out[-400:])
            with open(p) as f:
                pem = f.read()
            sess = util.run(["openssl", "sess_id", "-text", "-noout"],
                            input=pem, timeout=10).stdout
            k.check(re.search(r"Max Early Data: 0\b", sess),
                    "the ticket carries no early_data permission", sess)
            early = os.path.join(tmp, "early.txt")
            with open(early, "w") as f:
                f.write("<stream:stream to='example.org'>")
            r = s_client_v(d.port(), cert, sess_in=p,
                           extra=["-early_data", early])
            k.check(r.how == "Reused", "resumed", r.out[-600:])
            k.check("Early data was not sent" in r.out or
                    "Early data was rejected" in r.out,
                    "no early data accepted", r.out[-600:])

    w = start("workers", workers=2)
    with t.case(V + "workers = 2: a session resumes on either worker "
                "(keys derived from one secret drawn before the fork)") \
            as k:
        p = sess_path()
        r = s_client_v(w.port(), cert, sess_out=p)
        k.require(r.how == "New", "full handshake", r.out[-400:])
        pids, hows = set(), []
        mark = w.mark()
        # SO_REUSEPORT spreads by address: vary the source address
        for i in range(24):
            r = s_client_v(w.port(), cert, sess_in=p,
                           extra=["-bind", "127.0.0.%d:0" % (10 + i)])
            hows.append(r.how)
            line = w.wait_for(r"event=%s\b" % expect.TLS_ESTABLISHED,
                              start=mark)
            if line is None:
                break
            mark = w.log.lines.index(line) + 1
            pids.add(daemon.parse_line(line).get("_pid"))
            if len(pids) == 2 and i >= 3:
                break
        k.check(len(pids) == 2, "both workers served resumptions", pids)
        k.check(hows and all(h == "Reused" for h in hows),
                "every resumption Reused", hows)
    with t.case(V + "after SIGHUP (every worker reloads) a ticket issued "
                "before still resumes") as k:
        p = sess_path()
        r = s_client_v(w.port(), cert, sess_out=p)
        k.require(r.how == "New", "full handshake", r.out[-400:])
        mark = w.mark()
        w.proc.send_signal(signal.SIGHUP)
        got = set()
        for _ in range(3):
            line = w.wait_for(r"event=reloaded\b", start=mark)
            if line is None:
                break
            mark = w.log.lines.index(line) + 1
            got.add(daemon.parse_line(line).get("_pid"))
            if len(got) == 2:
                break
        k.require(len(got) == 2, "both workers reloaded", w.text()[-800:])
        for i in range(4):
            r = s_client_v(w.port(), cert, sess_in=p)
            k.check(r.how == "Reused", "resumption %d Reused" % (i + 1),
                    r.out[-400:])
    w.stop()
    common.sessions_end_once(t, w)

    d2 = start("other")
    with t.case(V + "another daemon (its own derived keys) does not resume "
                "the first one's session: full handshake") as k:
        resume(k, d, d2, "New")
    d.stop()
    d2.stop()
    common.sessions_end_once(t, d)
    common.sessions_end_once(t, d2)

    off = start("off", {"session_tickets": "no"})
    if version == "1.2":
        with t.case(V + "session_tickets = no: no resumption (New)") as k:
            resume(k, off, off, "New")
    else:
        with t.case(V + "session_tickets = no: no NewSessionTicket") as k:
            # a NewSessionTicket would come before the stream error the
            # daemon answers junk with, and s_client exits on the close
            p = sess_path()
            args = s_client_args(off.port(), cert, "1.3", "example.org",
                                 ["-sess_out", p])
            out = util.run_until(args, NST, 20, input=b"<junk/>\n")
            k.check("CONNECTION ESTABLISHED" in out or
                    "New, TLSv1.3" in out, "handshake done", out[-600:])
            k.check(NST not in out and not os.path.exists(p),
                    "no ticket arrived", out[-600:])
    off.stop()

    k1, k2, k3 = key_line(), key_line(), key_line()
    kf_a = os.path.join(tmp, "a%s.keys" % version)
    kf_b = os.path.join(tmp, "b%s.keys" % version)
    with open(kf_a, "w") as f:
        f.write("# previous, current, next\n%s\n%s\n" % (k1, k2))
    with open(kf_b, "w") as f:
        f.write("%s\n\n%s\n%s\n" % (k1, k2, k3))
    a = start("keys-a", {"ticket_key_file": kf_a})
    b = start("keys-b", {"ticket_key_file": kf_b})
    with t.case(V + "ticket_key_file: a daemon one roll behind (keys 1,2; key 1 "
                "encrypts) resumes on one ahead (1,2,3; key 2)") as k:
        resume(k, a, b, "Reused")
    with t.case(V + "ticket_key_file: and the other way round (key 2 was "
                "'next' for the one behind)") as k:
        resume(k, b, a, "Reused")
    kf_c = os.path.join(tmp, "c%s.keys" % version)
    with open(kf_c, "w") as f:
        f.write("%s\n" % key_line())
    c = start("keys-c", {"ticket_key_file": kf_c})
    with t.case(V + "ticket_key_file: a daemon with other keys does not resume "
                "(New)") as k:
        resume(k, a, c, "New")
    for x in (a, b, c):
        x.stop()
        common.sessions_end_once(t, x)



def key_files(t, tmp, cert, backend):
    k1 = key_line()
    bad = {
        "garbage": ("not a key at all\n",
                    r"bad\.keys:1: not a key; each line must be 48 random "
                    r"bytes in base64 \(make one with: openssl rand "
                    r"-base64 48\)"),
        "short": (base64.b64encode(os.urandom(32)).decode() + "\n",
                  r"bad\.keys:1: not a key"),
        "empty": ("# nothing here\n\n", r"holds no key; write one to three "
                  r"lines of: openssl rand -base64 48"),
        "four keys": ("".join(key_line() + "\n" for _ in range(4)),
                      r"bad\.keys:4: more than 3 keys; keep previous, "
                      r"current and next only"),
        "same name": ("%s\n%s\n" % (k1, k1), r"bad\.keys:2: the key name "
                      r"\(first bytes\) repeats line 1"),
    }
    for what, (text, rx) in bad.items():
        with t.case("a ticket_key_file with %s is refused at start, "
                    "naming the file and line" % what) as k:
            path = os.path.join(tmp, "bad.keys")
            with open(path, "w") as f:
                f.write(text)
            cfg = daemon.base_config(cert, backend.port, extra={
                "tls": {"ticket_key_file": path}})
            conf = daemon.write_config(os.path.join(tmp, "bad.conf"), cfg)
            r = daemon.check_config(conf)
            k.check(r.returncode == 1 and expect.CONFIG_OK not in r.stdout,
                    "-n exits 1", "%d %r" % (r.returncode, r.stdout))
            k.check(re.search(rx, r.stderr), "message matches /%s/" % rx,
                    repr(r.stderr))
            r = util.run([daemon.binary(), "-d", "-c", conf], timeout=10)
            k.check(r.returncode == 1, "the daemon itself exits 1",
                    "%d" % r.returncode)
            k.check(re.search(rx, r.stderr) and
                    "event=%s" % expect.LISTENING not in r.stderr,
                    "same message, never listening", repr(r.stderr))
    with t.case("a missing ticket_key_file is refused at start") as k:
        path = os.path.join(tmp, "missing.keys")
        cfg = daemon.base_config(cert, backend.port, extra={
            "tls": {"ticket_key_file": path}})
        r = daemon.check_config(daemon.write_config(
            os.path.join(tmp, "missing.conf"), cfg))
        k.check(r.returncode == 1 and re.search(
            r"ticket_key_file .*missing\.keys: No such file", r.stderr),
            "exit 1 naming the file", "%d %r" % (r.returncode, r.stderr))


if __name__ == "__main__":
    tap.main(main)
