#!/usr/bin/python3
"""CPU linear in the bytes received, however they are split (issue 10,
defect 1).  Expat scans an unfinished token again from its '<' whenever
it is given more bytes: dripped a byte per TLS record, a start tag of
max_stanza_size cost CPU quadratic in its size (128 KiB: 6 s) before any
login.  Here the daemon's CPU (utime+stime from /proc) for such drips is
compared with the CPU of the same number of bytes dripped the same way
as ordinary text, which costs the same TLS records and reads but no
rescans.  The margins are generous: on the old code the ratio was over
50.  The pre-TLS side is measured byte for byte in test_pretls (unit):
over TCP the kernel batches a drip."""
import os
import time

from lib import common, daemon, expect, raw, spy, tap, util

MAX_STANZA = 128 * 1024
RATIO = 4.0
SLACK = 0.15       # seconds: clock ticks and a loaded CI box
ROUNDS = 3         # measured in turns, the cheapest of each compared
DONE = b"<iq type='get' id='done'/>"


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drip(cl, data):
    """Send data one byte per TLS record (one SSL write each); stops
    early if the daemon closes.  Returns the bytes sent."""
    for i in range(len(data)):
        if not cl.try_send(data[i:i + 1]):
            return i
    return len(data)


def main(t):
    tmp, cert, backend = common.spy_world()
    backend.handler = spy.xmpp_script(spy.MECHANISMS)
    d = daemon.Daemon(tmp, daemon.base_config(
        cert, backend.port,
        # the pre-auth bound as large as the stanza bound: the drips
        # below come before any login, and the token under test is the
        # largest one the parser may ever hold
        limits={"max_stanza_size": MAX_STANZA,
                "max_preauth_stanza_size": MAX_STANZA})).start()
    pid = d.proc.pid

    def relayed():
        n = backend.connection_count()
        cl = common.relayed(d.client(), cert.cert)
        conn = backend.wait_connection(index=n)
        if conn is None:
            raise util.HarnessError("no backend connection")
        return cl, conn

    def measure(data, at_once=False):
        """Daemon CPU to relay data (then DONE) to the backend."""
        cl, conn = relayed()
        mark = len(conn.data)
        c0 = cpu_seconds(pid)
        if at_once:
            cl.send(data)
        else:
            drip(cl, data)
        cl.send(DONE)
        got = conn.wait_data(rb"id='done'", 120, start=mark)
        cpu = cpu_seconds(pid) - c0
        whole = got is not None and data in conn.data[mark:]
        cl.close()
        return cpu, whole

    # A start tag as long as a stanza may be, and text of the same size.
    pad = MAX_STANZA - 64
    tag = b"<message to='a@example.org' a='" + b"y" * pad + b"'/>"
    text = (b"<message to='a@example.org'><body>" + b"y" * (pad - 8) +
            b"</body></message>")
    at_once, _ = measure(tag, at_once=True)

    with t.case("test_drip_cpu: a %d KiB start tag dripped a byte per TLS "
                "record costs at most %.0fx the CPU of as much text dripped "
                "alike" % (len(tag) // 1024, RATIO)) as k:
        # How many records the daemon finds per wake-up depends on the
        # machine's load and changes the cost of both drips alike; the
        # rescans this test is about do not depend on it.  So the two are
        # measured in turns, and the cheapest run of each is compared.
        texts, tags = [], []
        for _ in range(ROUNDS):
            texts.append(measure(text))
            tags.append(measure(tag))
        k.require(all(ok for _, ok in texts),
                  "the text stanza was relayed whole")
        k.check(all(ok for _, ok in tags),
                "the dripped tag was relayed whole, at once complete")
        base = min(c for c, _ in texts)
        cpu = min(c for c, _ in tags)
        k.check(cpu <= RATIO * base + SLACK, "CPU %.2f s <= %.1f x %.2f s "
                "+ %.2f" % (cpu, RATIO, base, SLACK))
        tap.diag("drip: tag %.3f s, text %.3f s (ratio %.2f); tag at once "
                 "%.3f s" % (cpu, base, cpu / max(base, 0.01), at_once))

    with t.case("test_drip_cpu: an end tag and a start tag whose '>' comes "
                "in a record of its own are relayed at once") as k:
        cl, conn = relayed()
        mark = len(conn.data)
        body = b"<message to='a@example.org' id='x" + b"z" * 3000 + b"'>"
        cl.send(body[:-1])
        cl.send(body[-1:])
        cl.send(b"<body>hi</body></message")
        cl.send(b">")
        k.check(conn.wait_data(rb"hi</body></message>", 10, start=mark),
                "the stanza reached the backend without another byte")
        cl.close()

    with t.case("test_drip_cpu: a post-TLS stream header dripped a byte per "
                "record is refused at %d bytes (header-too-large), CPU "
                "linear" % 4096) as k:
        n = backend.connection_count()
        cl = d.client()
        k.require(cl.open_stream(), "pre-TLS features")
        cl.starttls(cafile=cert.cert)
        big = raw.header(extra=" x='%s'" % ("y" * (64 * 1024))).encode()
        c0 = cpu_seconds(pid)
        sent = drip(cl, big)
        common.stream_error(k, cl, expect.SE_POLICY)
        cpu = cpu_seconds(pid) - c0
        end = common.end_line(k, d, cl, expect.POLICY,
                              expect.R_HEADER_TOO_LARGE, limit="4096")
        k.check(sent < 8192, "refused within the cap", "%d bytes sent"
                % sent)
        k.check(backend.connection_count() == n,
                "the backend was never contacted")
        k.check(cpu <= RATIO * base * sent / len(text) + SLACK,
                "CPU %.3f s for %d bytes" % (cpu, sent))
        cl.close()

    with t.case("test_drip_cpu: a post-TLS header just under the cap, "
                "dripped a byte per record, is accepted") as k:
        cl = d.client()
        k.require(cl.open_stream(), "pre-TLS features")
        cl.starttls(cafile=cert.cert)
        ok_hdr = raw.header(extra=" x='%s'" % ("y" * 3500)).encode()
        drip(cl, ok_hdr)
        k.check(cl.recv_until(rb"</stream:features>"),
                "the backend's features came back", repr(cl.data[-200:]))
        cl.close()

    d.stop()
    common.sessions_end_once(t, d)


if __name__ == "__main__":
    tap.main(main)
