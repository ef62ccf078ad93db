#!/usr/bin/python3
"""TLS session resumption through the real daemon with openssl s_client
-starttls xmpp: tickets on by default, session_tickets = no, a shared
ticket_key_file resuming across two daemons (and the previous/current/next
roll), and bad key files refused at start with a clear message."""
import base64
import os
import re
import subprocess

from lib import certs, common, daemon, expect, spy, tap, util

SESSION_RX = re.compile(r"^(New|Reused), (TLSv[\d.]+), Cipher is (\S+)",
                        re.M)


def s_client(port, cert, sess_out=None, sess_in=None, timeout=20):
    args = ["openssl", "s_client", "-starttls", "xmpp", "-xmpphost",
            "example.org", "-connect", "127.0.0.1:%d" % port,
            "-servername", "example.org", "-CAfile", cert.cert,
            "-verify_return_error", "-tls1_2"]
    if sess_out:
        args += ["-sess_out", sess_out]
    if sess_in:
        args += ["-sess_in", sess_in]
    try:
        r = subprocess.run(args, input="", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise util.HarnessError("s_client timed out: %r" % e.stderr)
    r.out = r.stdout + r.stderr
    m = SESSION_RX.search(r.out)
    r.how = m.group(1) if m else None
    return r


def key_line():
    return base64.b64encode(os.urandom(48)).decode()


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["ecdsa"]
    backend = spy.Spy()
    n = [0]

    def sess_path():
        n[0] += 1
        return os.path.join(tmp, "session%d.pem" % n[0])

    def start(name, tls_extra=None):
        cfg = daemon.base_config(cert, backend.port,
                                 extra={"tls": tls_extra or {}})
        return daemon.Daemon(tmp, cfg, name=name).start()

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
        r1 = s_client(d_out.port(), cert, sess_out=p)
        k.require(r1.how == "New", "first handshake is a full one",
                  r1.out[-600:])
        k.require(os.path.exists(p), "s_client saved the session")
        r2 = s_client(d_in.port(), cert, sess_in=p)
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
    with t.case("default config: a second s_client -starttls xmpp with "
                "-sess_in resumes the session by ticket (Reused)") as k:
        resume(k, d, d, "Reused")
    with t.case("the ticket resumes repeatedly (a fresh one each time)") \
            as k:
        p = sess_path()
        r = s_client(d.port(), cert, sess_out=p)
        k.require(r.how == "New", "full handshake", r.out[-400:])
        for i in range(3):
            r = s_client(d.port(), cert, sess_in=p, sess_out=p)
            k.check(r.how == "Reused", "resumption %d" % (i + 1),
                    r.out[-400:])

    d2 = start("other")
    with t.case("another daemon (its own derived keys) does not resume "
                "the first one's session: full handshake") as k:
        resume(k, d, d2, "New")
    d.stop()
    d2.stop()
    common.sessions_end_once(t, d)
    common.sessions_end_once(t, d2)

    off = start("off", {"session_tickets": "no"})
    with t.case("session_tickets = no: no resumption (New)") as k:
        resume(k, off, off, "New")
    off.stop()

    k1, k2, k3 = key_line(), key_line(), key_line()
    kf_a = os.path.join(tmp, "a.keys")
    kf_b = os.path.join(tmp, "b.keys")
    with open(kf_a, "w") as f:
        f.write("# previous, current, next\n%s\n%s\n" % (k1, k2))
    with open(kf_b, "w") as f:
        f.write("%s\n\n%s\n%s\n" % (k1, k2, k3))
    a = start("keys-a", {"ticket_key_file": kf_a})
    b = start("keys-b", {"ticket_key_file": kf_b})
    with t.case("ticket_key_file: a daemon one roll behind (keys 1,2; key 1 "
                "encrypts) resumes on one ahead (1,2,3; key 2)") as k:
        resume(k, a, b, "Reused")
    with t.case("ticket_key_file: and the other way round (key 2 was "
                "'next' for the one behind)") as k:
        resume(k, b, a, "Reused")
    kf_c = os.path.join(tmp, "c.keys")
    with open(kf_c, "w") as f:
        f.write("%s\n" % key_line())
    c = start("keys-c", {"ticket_key_file": kf_c})
    with t.case("ticket_key_file: a daemon with other keys does not resume "
                "(New)") as k:
        resume(k, a, c, "New")
    for x in (a, b, c):
        x.stop()
        common.sessions_end_once(t, x)

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

    t.ok(backend.connection_count() == 0,
         "no TLS-only session reached the backend",
         "%d connections" % backend.connection_count())


if __name__ == "__main__":
    tap.main(main)
