#!/usr/bin/python3
"""contrib/systemd/xmppshield.service.in: systemd-analyze verify accepts
the unit without a single warning (a typo'd copy shows verify would
complain), systemd-analyze security --offline rates it, the hardening
directives the issue asks for are there, and the daemon started the way
the unit starts it (unprivileged, CAP_NET_BIND_SERVICE as the only
capability, no new privileges) binds a port below 1024, and reloads the
way ExecReload= does it: -n first, then SIGHUP."""
import os
import re
import signal
import socket
import subprocess

from lib import certs, daemon, expect, tap, util

ANALYZE = "/usr/bin/systemd-analyze"
SETPRIV = "/usr/bin/setpriv"
MAX_EXPOSURE = 2.0      # systemd-analyze security: 1.6 when written


def unit_lines(text):
    """[(key, value)] of the [Service] section, in order."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.append((k, v))
    return out


def free_low_port():
    """A free port below 1024 on 127.0.0.1 (bound as root to check)."""
    for port in range(1000, 600, -7):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise util.Skip("no free port below 1024 on 127.0.0.1")


def main(t):
    binary = daemon.binary()
    util.require_tool(ANALYZE)
    tmp = util.make_tmpdir()
    os.chmod(tmp, 0o711)
    src = os.path.join(daemon.top_srcdir(), "contrib", "systemd",
                       "xmppshield.service.in")
    sbindir = os.path.dirname(os.path.abspath(binary))
    etc = os.path.join(tmp, "etc")
    os.makedirs(os.path.join(etc, "xmppshield"))
    conf = os.path.join(etc, "xmppshield", "xmppshield.conf")
    with open(src) as f:
        text = f.read().replace("@sbindir@", sbindir).replace(
            "@sysconfdir@", etc)
    unit = os.path.join(tmp, "xmppshield.service")
    with open(unit, "w") as f:
        f.write(text)
    svc = unit_lines(text)

    def values(key):
        return [v for k, v in svc if k == key]

    with t.case("systemd-analyze verify: the unit loads without a warning") \
            as k:
        r = util.run([ANALYZE, "verify", "--man=no", unit], timeout=60)
        out = (r.stdout + r.stderr).strip()
        k.check(r.returncode == 0, "exit 0", out)
        k.check("xmppshield.service" not in out, "no warning about the unit",
                out)

    with t.case("negative control: verify reports a misspelt directive in a "
                "copy of the unit") as k:
        bad = os.path.join(tmp, "typo.service")
        with open(bad, "w") as f:
            f.write(text.replace("ProtectSystem=strict",
                                 "ProtectSytem=strict"))
        r = util.run([ANALYZE, "verify", "--man=no", bad], timeout=60)
        k.check("Unknown key" in r.stdout + r.stderr and
                "ProtectSytem" in r.stdout + r.stderr,
                "'Unknown key ProtectSytem' reported", r.stdout + r.stderr)

    with t.case("systemd-analyze security --offline: exposure at most %.1f"
                % MAX_EXPOSURE) as k:
        r = util.run([ANALYZE, "security", "--offline=yes", unit],
                     timeout=60)
        m = re.search(r"Overall exposure level for xmppshield\.service: "
                      r"([0-9.]+)", r.stdout + r.stderr)
        k.require(m, "an exposure level", (r.stdout + r.stderr)[-800:])
        tap.diag("systemd-analyze security --offline: exposure %s"
                 % m.group(1))
        k.check(float(m.group(1)) <= MAX_EXPOSURE, "exposure %s <= %.1f"
                % (m.group(1), MAX_EXPOSURE))

    with t.case("unprivileged user, CAP_NET_BIND_SERVICE only, the "
                "hardening directives, foreground, reload checks first") as k:
        k.check(values("User") and values("User")[0] not in ("root", "0"),
                "User= an unprivileged account", values("User"))
        for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
            k.check(values(key) == ["CAP_NET_BIND_SERVICE"],
                    "%s=CAP_NET_BIND_SERVICE only" % key, values(key))
        for key, want in (("NoNewPrivileges", "yes"),
                          ("ProtectSystem", "strict"),
                          ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                          ("PrivateDevices", "yes"),
                          ("MemoryDenyWriteExecute", "yes"),
                          ("RestrictNamespaces", "yes"),
                          ("LockPersonality", "yes"),
                          ("SystemCallArchitectures", "native")):
            k.check(values(key) == [want], "%s=%s" % (key, want),
                    values(key))
        k.check(values("RestrictAddressFamilies") ==
                ["AF_INET AF_INET6 AF_UNIX"],
                "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                values("RestrictAddressFamilies"))
        k.check("@system-service" in values("SystemCallFilter"),
                "SystemCallFilter=@system-service", values("SystemCallFilter"))
        start = values("ExecStart")
        k.check(len(start) == 1 and " -d " in start[0] + " ",
                "ExecStart runs in the foreground (-d)", start)
        reload = values("ExecReload")
        k.check(len(reload) == 2 and
                reload[0] == "%s/xmppshield -n -c %s" % (sbindir, conf) and
                reload[1] == "/bin/kill -HUP $MAINPID",
                "ExecReload: -n -c CONF, then kill -HUP $MAINPID", reload)

    # -- run it the way the unit does -------------------------------------
    if os.geteuid() != 0:
        raise util.Skip("running as the unit does needs root (setpriv)")
    util.require_tool(SETPRIV)
    cert = certs.make_cert(tmp, "ecdsa")
    for p in (cert.cert, cert.key):
        os.chmod(p, 0o644)
    port = free_low_port()
    daemon.write_config(conf, {
        "global": {"log_level": "info", "shutdown_grace": 0},
        "tls": {"certificate": cert.cert, "key": cert.key},
        "domain example.org": {},
        "listener c2s": {"listen": "127.0.0.1:%d" % port,
                         "backend": "127.0.0.1:15222",
                         "domains": "example.org"}})
    os.chmod(conf, 0o644)
    setpriv = [SETPRIV, "--reuid=nobody", "--regid=nogroup",
               "--clear-groups", "--inh-caps=-all,+net_bind_service",
               "--ambient-caps=-all,+net_bind_service",
               "--bounding-set=-all,+net_bind_service", "--no-new-privs"]
    argv = setpriv + start[0].split()
    with t.case("as nobody with only CAP_NET_BIND_SERVICE (setpriv, as the "
                "unit grants it): ExecStartPre's -n passes, ExecStart binds "
                "127.0.0.1:%d" % port) as k:
        r = util.run(setpriv + values("ExecStartPre")[0].split(), timeout=20)
        k.check(r.returncode == 0 and expect.CONFIG_OK in r.stdout,
                "ExecStartPre: configuration OK", r.stdout + r.stderr)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        util.on_cleanup(util.stop_process, proc)
        log = util.LineCollector(proc.stderr, "xmppshield")
        line = log.wait_for(r"event=%s\b.*address=127\.0\.0\.1:%d\b"
                            % (expect.LISTENING, port), 10)
        k.require(line, "event=listening on the low port", log.text())
        k.require(log.wait_for(r"event=%s\b" % expect.STARTED, 10),
                  "event=started", log.text())
        with open("/proc/%d/status" % proc.pid) as f:
            status = f.read()
        caps = dict(re.findall(r"^(Cap\w+):\s*([0-9a-f]+)$", status, re.M))
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
        k.check(uid == "65534", "runs as nobody", uid)
        k.check(int(caps.get("CapEff", "0"), 16) == 1 << 10 and
                int(caps.get("CapBnd", "0"), 16) == 1 << 10,
                "effective and bounding sets: CAP_NET_BIND_SERVICE only",
                caps)
        k.check(re.search(r"^NoNewPrivs:\s+1$", status, re.M),
                "NoNewPrivs", status)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"<?xml version='1.0'?><stream:stream "
                      b"xmlns='jabber:client' xmlns:stream='http://etherx."
                      b"jabber.org/streams' to='example.org' version='1.0'>")
            data = b""
            while b"</stream:features>" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        k.check(b"<starttls" in data, "a client gets <starttls/> on :%d"
                % port, data)

    with t.case("ExecReload as the unit runs it: -n on the config, then "
                "SIGHUP; the daemon logs the reload and keeps serving") as k:
        mark = log.mark()
        r = util.run(setpriv + reload[0].split(), timeout=20)
        k.check(r.returncode == 0, "-n passes", r.stdout + r.stderr)
        os.kill(proc.pid, signal.SIGHUP)
        k.check(log.wait_for(r"event=reload", 10, mark),
                "an event=reload... line", log.text(mark))
        k.check(proc.poll() is None, "still running", log.text(mark))
        with open(conf, "a") as f:
            f.write("bogus_key = 1\n")
        r = util.run(setpriv + reload[0].split(), timeout=20)
        k.check(r.returncode != 0 and "bogus_key" in r.stderr,
                "a broken config fails ExecReload's -n (so no SIGHUP is "
                "sent)", r.stdout + r.stderr)
    util.stop_process(proc, 5)


if __name__ == "__main__":
    tap.main(main)
