#!/usr/bin/python3
"""resolver.c (c-ares in the libevent loop, for outgoing s2s; issue 13
step 2, not wired to a listener yet) against a real DNS server: dnsmasq on
a loopback port answering SRV, A and AAAA records, NXDOMAIN for the rest;
and a "resolver" that never answers, which must end in bounded time.
Driven through tests/helpers/resolve.  Skips without dnsmasq."""
import os
import socket

from lib import tap, util

DNSMASQ = "/usr/sbin/dnsmasq"


def helper():
    top = os.environ.get("TOP_BUILDDIR")
    path = os.path.join(top, "tests", "helpers", "resolve") if top else None
    if not path or not os.access(path, os.X_OK):
        raise util.Skip("tests/helpers/resolve not built")
    return path


def resolve(servers, *args, timeout_ms=2000):
    r = util.run([helper(), servers, str(timeout_ms)] + list(args),
                 timeout=30)
    out = {"lines": r.stdout.splitlines(), "rc": r.returncode,
           "err": r.stderr}
    for line in out["lines"]:
        if line.startswith("status="):
            out["status"] = line.split()[0].split("=")[1]
        if line.startswith("elapsed_ms="):
            out["elapsed_ms"] = int(line.split("=")[1])
        if line.startswith("called="):
            out["called"] = int(line.split("=")[1])
    out["targets"] = [l.split(None, 1)[1] for l in out["lines"]
                      if l.startswith("target ")]
    out["addrs"] = [l.split(None, 1)[1] for l in out["lines"]
                    if l.startswith("addr ")]
    return out


def main(t):
    helper()
    if not os.access(DNSMASQ, os.X_OK):
        raise util.Skip("dnsmasq (dnsmasq-base) not installed")
    port = util.free_port()
    argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--no-poll",
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=%d" % port, "--local=/example/", "--pid-file=",
            "--log-facility=-", "--log-queries",
            # a.example: both services, priorities 5 (direct) and 10
            "--srv-host=_xmpps-server._tcp.a.example,tls.a.example,5270,5,0",
            "--srv-host=_xmpp-server._tcp.a.example,xmpp.a.example,5269,10,0",
            "--host-record=xmpp.a.example,127.0.0.11,::11",
            "--host-record=tls.a.example,127.0.0.12",
            # b.example: no SRV at all; the domain's own address
            "--host-record=b.example,127.0.0.21",
            # none.example: "." for the only service
            "--srv-host=_xmpp-server._tcp.none.example"]
    if os.geteuid() == 0:
        argv.append("--user=root")
    util.start_logged(argv, "dnsmasq", r"\bstarted\b")
    dns = "127.0.0.1:%d" % port

    with t.case("SRV: _xmpps-server and _xmpp-server of a.example, ordered "
                "as one list by priority (direct TLS 5270 first)") as k:
        r = resolve(dns, "srv", "a.example")
        k.check(r.get("status") == "ok", "status=ok", r)
        k.check(r["targets"] == ["tls.a.example 5270 1",
                                 "xmpp.a.example 5269 0"],
                "targets in order", r)

    with t.case("SRV: no record for b.example: not-found, the fallback is "
                "b.example:5269 with STARTTLS") as k:
        r = resolve(dns, "srv", "b.example")
        k.check(r.get("status") == "not-found", "status=not-found", r)
        k.check(r["targets"] == ["b.example 5269 0"], "fallback target", r)

    with t.case("SRV: a lone \".\" target: the domain offers no s2s "
                "service") as k:
        r = resolve(dns, "srv", "none.example")
        k.check(r.get("status") == "ok" and "order -1" in r["lines"],
                "no service (s2starget -1)", r)

    with t.case("addresses: AAAA and A of xmpp.a.example, port set") as k:
        r = resolve(dns, "addr", "xmpp.a.example", "5269")
        k.check(r.get("status") == "ok", "status=ok", r)
        k.check(sorted(r["addrs"]) == ["127.0.0.11 5269", "::11 5269"],
                "both families", r)

    with t.case("addresses: NXDOMAIN is not-found, at once") as k:
        r = resolve(dns, "addr", "nowhere.example", "5269")
        k.check(r.get("status") == "not-found" and not r["addrs"],
                "status=not-found", r)

    with t.case("a resolver that never answers: the query ends with "
                "status=timeout within its deadline (1 s, bound 5 s)") as k:
        mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        mute.bind(("127.0.0.1", 0))
        util.on_cleanup(mute.close)
        silent = "127.0.0.1:%d" % mute.getsockname()[1]
        for args in (("srv", "a.example"), ("addr", "a.example", "5269")):
            r = resolve(silent, *args, timeout_ms=1000)
            k.check(r.get("status") == "timeout" and r.get("called") == 1,
                    "%s: status=timeout, one callback" % args[0], r)
            k.check(r.get("elapsed_ms", 99999) < 5000,
                    "%s: ended in %s ms" % (args[0], r.get("elapsed_ms")), r)

    with t.case("a cancelled query never calls back and leaves nothing "
                "behind (the loop ends)") as k:
        r = resolve(silent, "cancel", "a.example", timeout_ms=10000)
        k.check(r["rc"] == 0 and r.get("called") == 0 and
                r.get("elapsed_ms", 99999) < 5000,
                "no callback, loop ended", r)


if __name__ == "__main__":
    tap.main(main)
