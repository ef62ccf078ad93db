#!/usr/bin/python3
"""contrib/fail2ban against log lines the real daemon writes: the daemon is
provoked from distinct loopback addresses (one per kind of event), its
stderr is captured, and the real fail2ban-regex must extract exactly the
abusers' addresses in mode=normal and mode=aggressive, and never a benign
client, a load balancer, or an address a client tried to forge into a
field.  fail2ban-client -t checks the jail file loads."""
import os
import re
import shutil
import ssl

from lib import certs, common, daemon, expect, raw, spy, tap, util

FAIL2BAN_REGEX = "/usr/bin/fail2ban-regex"
FAIL2BAN_CLIENT = "/usr/bin/fail2ban-client"
FORGED = "203.0.113.66"

# source address -> (what it does, event, reason or None, matched in modes)
NORMAL = ("normal", "aggressive")
AGGR = ("aggressive",)
NEVER = ()


def main(t):
    daemon.binary()
    for tool in (FAIL2BAN_REGEX, FAIL2BAN_CLIENT):
        util.require_tool(tool)
    if not os.path.exists("/etc/fail2ban/filter.d/common.conf"):
        raise util.Skip("fail2ban's common.conf not installed")
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    cert = c["rsa"]
    backend = spy.Spy()
    v6 = util.have_ipv6_loopback()
    listen = "127.0.0.1:0 [::1]:0" if v6 else "127.0.0.1:0"

    def listener(listen, **kw):
        lst = {"listen": listen, "kind": "c2s",
               "backend": "127.0.0.1:%d" % backend.port,
               "domains": "example.org"}
        lst.update(kw)
        return lst

    d = daemon.Daemon(tmp, {
        "global": {"log_level": "info", "workers": 1, "shutdown_grace": 0},
        "tls": {"certificate": cert.cert, "key": cert.key},
        "limits": {"pre_tls_timeout": 1, "connection_rate_per_ip": 0},
        "domain example.org": {},
        "listener c2s": listener(listen),
        "listener lb": listener("127.0.0.1:0", accept_proxy_protocol="yes",
                                proxy_trusted="127.0.0.1"),
        "listener untrusted": listener("127.0.0.1:0",
                                       accept_proxy_protocol="yes",
                                       proxy_trusted="192.0.2.1"),
        "listener s2s": listener("127.0.0.1:0", kind="s2s",
                                 s2s_verify="require"),
    }).start()

    provoked = []   # (address, event, reason, modes)

    def client(src, listener="c2s"):
        if src == "::1":
            return raw.RawClient(d.port(listener, 6), host="::1",
                                 mark=d.mark())
        return raw.RawClient(d.port(listener), source=src, mark=d.mark())

    def expect_end(cl, event, reason, modes):
        end, _ = d.end_of(cl)
        if end is None or end.get("event") != event or (
                reason and end.get("reason") != reason):
            raise util.HarnessError("%s: wanted event=%s reason=%s, got %r"
                                    % (cl.local, event, reason, end))
        host = cl.local.rsplit(":", 1)[0].strip("[]")
        provoked.append((host, event, end.get("reason"), modes))

    # -- abuse --------------------------------------------------------------
    with client("127.0.0.11") as cl:    # SASL before TLS, forging a field
        cl.open_stream()
        cl.send("<auth xmlns='urn:x?client=%s:1' mechanism='PLAIN'>"
                "AGFsaWNlAHNlY3JldA==</auth>" % FORGED)
        cl.read_to_eof(5)
    expect_end(cl, expect.POLICY, expect.R_PRE_TLS_ELEMENT, NORMAL)

    with client("127.0.0.12") as cl:    # STARTTLS command injection
        cl.open_stream()
        cl.send(raw.STARTTLS + "<iq type='get' id='x'/>")
        cl.read_to_eof(5)
    expect_end(cl, expect.POLICY, expect.R_INJECTION, NORMAL)

    with client("::1" if v6 else "127.0.0.14") as cl:   # a DTD before TLS
        cl.send(raw.XMLDECL + "<!DOCTYPE x [<!ENTITY a 'b'>]>")
        cl.read_to_eof(5)
    expect_end(cl, expect.POLICY, None, NORMAL)

    with client("127.0.0.13", "untrusted") as cl:   # bypassing the balancer
        cl.try_send(raw.header())
        cl.read_to_eof(5)
    expect_end(cl, expect.POLICY, "proxy-untrusted", NORMAL)

    # -- scanners: aggressive mode only -------------------------------------
    with client("127.0.0.21") as cl:
        cl.open_stream(raw.header(to="unserved.example"))
        cl.read_to_eof(5)
    expect_end(cl, expect.PROTOCOL, expect.R_HOST_UNKNOWN, AGGR)

    with client("127.0.0.22") as cl:    # HTTP after <proceed/>
        cl.open_stream()
        cl.send(raw.STARTTLS)
        cl.recv_until(rb"<proceed")
        cl.send(b"GET / HTTP/1.0\r\n\r\n")
        cl.read_to_eof(5)
    expect_end(cl, expect.TLS_FAILED, None, AGGR)

    with client("127.0.0.23") as cl:    # nothing within pre_tls_timeout
        cl.read_to_eof(5)
    expect_end(cl, expect.TIMEOUT, expect.R_PRE_TLS_TIMEOUT, AGGR)

    # a server without a certificate under s2s_verify = require: most often
    # a misconfigured peer that retries, so aggressive only
    s2s_hdr = raw.header(ns=raw.NS_SERVER, extra=" from='peer.example'")
    with client("127.0.0.24", "s2s") as cl:
        cl.open_stream(s2s_hdr)
        cl.starttls()
        cl.send(s2s_hdr)
        cl.read_to_eof(5)
    expect_end(cl, expect.POLICY, "peer-unverified", AGGR)

    # -- benign: never matched ----------------------------------------------
    with client("127.0.0.31") as cl:    # opens a stream and goes away
        cl.open_stream()
    expect_end(cl, expect.CLOSE, expect.R_CLIENT_CLOSED, NEVER)

    with client("127.0.0.32") as cl:    # rejects our certificate
        cl.open_stream()
        try:
            cl.starttls(cafile=c["ecdsa"].cert)
        except (ssl.SSLError, OSError):
            pass
    expect_end(cl, expect.TLS_FAILED, None, NEVER)

    with client("127.0.0.1", "lb") as cl:    # the balancer, broken header
        cl.try_send(raw.header())
        cl.read_to_eof(5)
    expect_end(cl, expect.PROTOCOL, "proxy-header", NEVER)

    log = os.path.join(tmp, "xmppshield.log")
    with open(log, "w") as f:
        f.write(d.text())
    d.stop()
    tap.diag("%d sessions provoked; %d log lines captured"
             % (len(provoked), len(d.text().splitlines())))

    # fail2ban's own common.conf beside our filter, as in /etc/fail2ban
    conf = os.path.join(tmp, "fail2ban")
    shutil.copytree("/etc/fail2ban", conf, symlinks=True)
    for n in os.listdir(os.path.join(conf, "jail.d")):
        os.unlink(os.path.join(conf, "jail.d", n))
    if os.path.exists(os.path.join(conf, "jail.local")):
        os.unlink(os.path.join(conf, "jail.local"))
    src = os.path.join(daemon.top_srcdir(), "contrib", "fail2ban")
    shutil.copy(os.path.join(src, "filter.d", "xmppshield.conf"),
                os.path.join(conf, "filter.d"))
    shutil.copy(os.path.join(src, "jail.d", "xmppshield.conf"),
                os.path.join(conf, "jail.d"))
    filt = os.path.join(conf, "filter.d", "xmppshield.conf")

    for mode in ("normal", "aggressive"):
        with t.case("fail2ban-regex mode=%s on the daemon's real log: "
                    "matches exactly the abusers" % mode) as k:
            r = util.run([FAIL2BAN_REGEX, "-o", "ip", log,
                          "%s[mode=%s]" % (filt, mode)], timeout=60)
            k.require(r.returncode == 0, "fail2ban-regex ran",
                      r.stdout + r.stderr)
            got = sorted(l.strip() for l in r.stdout.splitlines()
                         if l.strip())
            want = sorted(a for a, e, rs, m in provoked if mode in m)
            k.check(got == want, "extracted %s" % want,
                    "got %s\nprovoked %s" % (got, provoked))
            k.check(FORGED not in got, "never the forged %s" % FORGED, got)
            for a, e, rs, m in provoked:
                if mode not in m:
                    k.check(a not in got, "not %s (event=%s reason=%s)"
                            % (a, e, rs), got)

    with t.case("fail2ban-regex counts: every matched line is an "
                "end-of-session line of an abuser; benign lines such as "
                "event=close reason=client-closed are missed") as k:
        r = util.run([FAIL2BAN_REGEX, "--print-all-matched", log, filt],
                     timeout=60)
        m = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, "
                      r"(\d+) missed", r.stdout)
        k.require(m, "summary line", r.stdout[-1500:])
        want = len([p for p in provoked if "normal" in p[3]])
        k.check(int(m.group(3)) == want, "%d matched (normal)" % want,
                m.group(0))
        matched = [l for l in r.stdout.splitlines() if "event=" in l and
                   l.lstrip().startswith("|")]
        k.check(all("event=policy-violation" in l for l in matched),
                "only policy-violation lines matched", "\n".join(matched))
        k.check(not any("reason=client-closed" in l for l in matched),
                "no client-closed line matched", "\n".join(matched))

    with t.case("fail2ban-client -t loads the jail and filter from contrib "
                "(backend systemd, mode normal)") as k:
        r = util.run([FAIL2BAN_CLIENT, "-c", conf, "-t"], timeout=60)
        k.check(r.returncode == 0 and "OK" in r.stdout + r.stderr,
                "configuration test is successful",
                (r.stdout + r.stderr)[-1500:])
        r = util.run([FAIL2BAN_CLIENT, "-c", conf, "-d"], timeout=60)
        dump = r.stdout
        k.check("['add', 'xmppshield', 'systemd']" in dump,
                "jail xmppshield with the systemd backend", dump[-1500:])
        k.check("_SYSTEMD_UNIT=xmppshield.service" in dump,
                "journalmatch on the unit", dump[-1500:])
        k.check(re.search(r"addfailregex.*event=policy-violation", dump) and
                not re.search(r"addfailregex.*event=protocol-error", dump),
                "mode normal: policy-violation only", dump[-1500:])


if __name__ == "__main__":
    tap.main(main)
