#!/usr/bin/python3
"""Operations on a running daemon: SIGHUP reloads as a new generation
(new connections see the new certificate, open sessions keep theirs, a
broken configuration keeps the old one serving), SIGTERM drains sessions
for shutdown_grace before <system-shutdown/>, and privileges are dropped
for good."""
import os
import re
import signal
import socket
import ssl

from lib import certs, common, daemon, expect, raw, spy, tap, util

SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
STANZA_IN = "<message to='a@example.org' id='in-%d'><body>hi</body></message>"
STANZA_OUT = "<message from='a@example.org' id='out-%d'><body>yo</body></message>"


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def echo_backend(conn):
    """After the scripted features: answer each client <message id='in-N'>
    with <message id='out-N'>, until the connection closes."""
    n = 0
    while True:
        m = conn.wait_data(rb"id='in-(\d+)'", 30, start=n)
        if not m:
            return
        conn.send(STANZA_OUT % int(m.group(1)))
        n = m.end()


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS, echo_backend))
    pidfile = os.path.join(tmp, "xmppshield.pid")

    def sections(cert, grace=0, extra_listener=False):
        cfg = daemon.base_config(cert, backend.port, extra={
            "global": {"pidfile": pidfile, "shutdown_grace": grace}})
        if extra_listener:
            cfg["listener second"] = {"listen": "127.0.0.1:0", "kind": "c2s",
                                      "backend": "127.0.0.1:%d" % backend.port,
                                      "domains": "example.org"}
        return cfg

    def session(d, cert, port=None):
        """A client through STARTTLS with the backend's features; returns
        (client, DER of the certificate it was served)."""
        cl = raw.RawClient(port or d.port(), mark=d.mark()) if port \
            else d.client()
        common.relayed(cl)
        return cl, cl.tls.getpeercert(binary_form=True)

    def exchange(k, cl, n, what):
        mark = len(cl.data)
        ok = cl.try_send(STANZA_IN % n)
        got = ok and cl.recv_until(rb"id='out-%d'" % n, start=mark)
        k.check(bool(got), "%s: a stanza goes through both ways" % what,
                repr(cl.data[-200:]))

    def reload(d, sects):
        daemon.write_config(d.conf, sects)
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        return d.wait_for(r"event=(reloaded|reload-failed)\b", start=mark)

    # ------------------------------------------------------------------
    d = daemon.Daemon(tmp, sections(c["rsa"])).start()
    old, old_der = session(d, c["rsa"])

    with t.case("SIGHUP with a new certificate: new connections are served "
                "the new one, an open session keeps working and is not "
                "dropped") as k:
        k.check(old_der == der_of(c["rsa"].cert),
                "before the reload the RSA certificate is served")
        line = reload(d, sections(c["ecdsa"]))
        p = daemon.parse_line(line or "")
        k.check(p.get("event") == "reloaded" and p.get("generation") == "2",
                "event=reloaded generation=2 logged", line)
        k.check(p.get("sessions_on_old") == "1",
                "the open session is counted on the old generation", line)
        new, new_der = session(d, c["ecdsa"])
        k.check(new_der == der_of(c["ecdsa"].cert),
                "a new connection is served the ECDSA certificate")
        exchange(k, old, 1, "the session opened before the reload")
        exchange(k, new, 2, "the session opened after it")
        k.check(d.end_of(old, 0.2)[0] is None,
                "no end-of-session line for the old session")
        new.close()

    with t.case("SIGHUP with a broken configuration: reload-failed says "
                "file:line, the running generation keeps serving") as k:
        daemon.write_config(d.conf, sections(c["ecdsa"]))
        with open(d.conf, "a") as f:
            f.write("no_such_key = 1\n")     # into the last section
        mark = d.mark()
        d.proc.send_signal(signal.SIGHUP)
        line = d.wait_for(r"event=(reloaded|reload-failed)\b", start=mark)
        p = daemon.parse_line(line or "")
        k.check(p.get("event") == "reload-failed",
                "event=reload-failed logged", line)
        detail = p.get("detail", "")
        k.check("no_such_key" in detail and
                re.search(r"%s:\d+: " % re.escape(d.conf), detail),
                "detail names the file, the line and the key", line)
        k.check(p.get("generation") == "2",
                "generation 2 still serving", line)
        cl, der = session(d, c["ecdsa"])
        k.check(der == der_of(c["ecdsa"].cert),
                "new connections still get the generation-2 certificate")
        exchange(k, old, 3, "the session from generation 1")
        cl.close()

    with t.case("SIGHUP with a key that does not match its certificate: "
                "refused, the old generation keeps serving") as k:
        bad = dict(sections(c["ecdsa"]))
        bad["tls"] = {"certificate": c["ecdsa"].cert, "key": c["rsa"].key}
        line = reload(d, bad)
        k.check(daemon.parse_line(line or "").get("event") ==
                "reload-failed", "event=reload-failed logged", line)
        cl, der = session(d, c["ecdsa"])
        k.check(der == der_of(c["ecdsa"].cert),
                "the ECDSA certificate is still served")
        cl.close()

    with t.case("SIGHUP adding a listener: it is bound and serves, the "
                "existing port keeps its socket") as k:
        port_before = d.port()
        mark = d.mark()
        line = reload(d, sections(c["ecdsa"], extra_listener=True))
        k.check(daemon.parse_line(line or "").get("event") == "reloaded",
                "event=reloaded", line)
        lst = d.wait_for(r"event=listening\b.*\blistener=second\b",
                         start=mark)
        k.require(lst is not None, "event=listening for the new listener")
        host, port = daemon.parse_line(lst)["address"].rsplit(":", 1)
        cl, der = session(d, c["ecdsa"], port=int(port))
        k.check(der == der_of(c["ecdsa"].cert), "the new listener serves")
        cl.close()
        cl2, _ = session(d, c["ecdsa"], port=port_before)
        k.check(True, "the first listener still accepts on port %d"
                % port_before)
        cl2.close()
        line = reload(d, sections(c["ecdsa"]))
        k.check(d.wait_for(r"event=listener-closed\b.*\blistener=second\b",
                           start=mark) is not None,
                "removing it again logs event=listener-closed")
        s = socket.socket()
        try:
            s.settimeout(2)
            refused = s.connect_ex(("127.0.0.1", int(port))) != 0
        finally:
            s.close()
        k.check(refused, "the removed listener's port no longer accepts")

    old.close()
    d.stop()
    common.sessions_end_once(t, d)

    # ------------------------------------------------------------------
    with t.case("SIGTERM with shutdown_grace: no new connections, open "
                "sessions go on, then <system-shutdown/>; exit 0, pidfile "
                "removed") as k:
        tmp2 = util.make_tmpdir()
        d = daemon.Daemon(tmp2, sections(c["rsa"], grace=3)).start()
        k.check(d.wait_for(r"event=started\b") is not None, "started")
        k.check(os.path.exists(pidfile), "pidfile written")
        cl, _ = session(d, c["rsa"])
        port = d.port()
        mark = d.mark()
        d.proc.send_signal(signal.SIGTERM)
        line = d.wait_for(r"event=stopping\b", start=mark)
        k.check(line is not None and "grace=3" in line,
                "event=stopping grace=3 logged", line)
        s = socket.socket()
        try:
            s.settimeout(2)
            refused = s.connect_ex(("127.0.0.1", port)) != 0
        finally:
            s.close()
        k.check(refused, "new connections are refused at once")
        exchange(k, cl, 10, "during the grace period")
        common.stream_error(k, cl, expect.SE_SYSTEM_SHUTDOWN, timeout=15)
        k.check(d.wait_for(r"event=shutdown\b", start=mark) is not None,
                "event=shutdown when the grace period ends")
        common.end_line(k, d, cl, expect.CLOSE, expect.R_SHUTDOWN)
        try:
            rc = d.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "exit status 0", rc)
        k.check(not os.path.exists(pidfile), "pidfile removed")

    with t.case("SIGTERM with nothing open exits at once, whatever the "
                "grace period") as k:
        tmp3 = util.make_tmpdir()
        d = daemon.Daemon(tmp3, sections(c["rsa"], grace=600)).start()
        d.wait_for(r"event=started\b")
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(5)
        except Exception:
            rc = None
        k.check(rc == 0, "exited 0 within 5 s with grace=600", rc)

    with t.case("a second SIGTERM cuts the grace period short") as k:
        tmp4 = util.make_tmpdir()
        d = daemon.Daemon(tmp4, sections(c["rsa"], grace=600)).start()
        cl, _ = session(d, c["rsa"])
        mark = d.mark()
        d.proc.send_signal(signal.SIGTERM)
        d.wait_for(r"event=stopping\b", start=mark)
        d.proc.send_signal(signal.SIGTERM)
        common.stream_error(k, cl, expect.SE_SYSTEM_SHUTDOWN)
        try:
            rc = d.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "exit status 0", rc)

    # ------------------------------------------------------------------
    if os.geteuid() != 0:
        t.skip("privilege drop", "needs root")
        return
    with t.case("started as root with user=nobody: uid, gid and groups "
                "are nobody's, no capabilities, and it still serves") as k:
        tmp5 = util.make_tmpdir()
        os.chmod(tmp5, 0o755)
        cfg = sections(c["rsa"])
        cfg["global"].update({"user": "nobody", "group": "nogroup"})
        del cfg["global"]["pidfile"]
        d = daemon.Daemon(tmp5, cfg).start()
        k.require(d.wait_for(r"event=started\b") is not None, "started")
        status = {}
        with open("/proc/%d/status" % d.proc.pid) as f:
            for l in f:
                key, _, val = l.partition(":")
                status[key] = val.split()
        import pwd
        import grp
        uid = str(pwd.getpwnam("nobody").pw_uid)
        gid = str(grp.getgrnam("nogroup").gr_gid)
        k.check(status.get("Uid") == [uid] * 4, "Uid real/effective/saved/fs "
                "are nobody's", status.get("Uid"))
        k.check(status.get("Gid") == [gid] * 4, "Gid all nogroup",
                status.get("Gid"))
        k.check(status.get("Groups") == [gid], "supplementary groups: only "
                "nogroup", status.get("Groups"))
        k.check(status.get("CapEff") == ["0000000000000000"] and
                status.get("CapPrm") == ["0000000000000000"],
                "no effective or permitted capabilities",
                (status.get("CapEff"), status.get("CapPrm")))
        cl, der = session(d, c["rsa"])
        k.check(der == der_of(c["rsa"].cert), "serves TLS after the drop")
        exchange(k, cl, 20, "after the drop")

        # The key is root's (0600): a reload as nobody cannot read it.
        line = reload(d, cfg)
        k.check(daemon.parse_line(line or "").get("event") ==
                "reload-failed", "a reload that cannot read the root-only "
                "key fails and says so", line)
        exchange(k, cl, 21, "after the failed reload")
        cl.close()
        d.stop()


if __name__ == "__main__":
    tap.main(main)
