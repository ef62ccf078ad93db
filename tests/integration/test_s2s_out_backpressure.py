#!/usr/bin/python3
"""Backpressure both ways on an outgoing s2s connection (listener kind
s2s-out), as test_backpressure.py checks it inbound: a backend that stops
reading while the remote streams 64 MB, and a remote that stops reading
while the backend sends 64 MB.  The sender is held back (its writes
block before 64 MB), the daemon's peak RSS growth stays within the
s2s-out bound of docs/SECURITY.md, and then every byte arrives.

The remote is scripted (Python ssl, STARTTLS server side) and found
through a loopback dnsmasq; the backend is a raw client.  Speed is not
asserted (see bench/)."""
import os
import sys
import threading
import time

from lib import daemon, s2sremote, tap, util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_backpressure import (drain, flood, flood_thread,  # noqa: E402
                               rss_kb, sanitized, wait_stalled)

OURS, REMOTE = "b.example", "r.example"
TOTAL = 64 * 1024 * 1024
KB = 1024
# The s2s-out bound of docs/SECURITY.md with the defaults (S = 256 KiB,
# B = 1 MiB, Q = 64 KiB): 7656 KiB.
BOUND = 7656 * KB


def main(t):
    asan = sanitized(daemon.binary())
    tmp, ca, ours = s2sremote.setup(OURS)
    state = {"sent": [0], "received": 0, "mode": None}
    go = threading.Event()

    def remote_script(conn):
        conn.negotiate()
        conn.sock.settimeout(180)
        if state["mode"] == "flood":
            flood(conn.sock, state["sent"], TOTAL)
            go.wait(180)
        else:
            go.wait(180)
            while state["received"] < TOTAL:
                chunk = conn.sock.recv(1 << 20)
                if not chunk:
                    break
                state["received"] += len(chunk)

    remote = s2sremote.Remote(ca.issue(REMOTE), REMOTE, remote_script)
    dns = s2sremote.Dns({REMOTE: remote.port})
    # One daemon per direction: each peak (VmHWM) is its own.
    cfg = s2sremote.config(ca, ours, dns)
    d = daemon.Daemon(tmp, cfg, name="flood").start()
    pid = d.proc.pid

    def bounded(k, grow, what):
        if asan:
            tap.diag("AddressSanitizer build: %s reported, not asserted"
                     % what)
            return
        k.check(grow <= BOUND, what, "+%d KiB" % (grow // KB))

    def held_back(k, stalled, base, sender, receiver):
        """The sender's writes blocked (at stalled bytes) before 64 MB and
        the daemon's peak RSS growth since base stayed within BOUND."""
        k.check(stalled is not None and stalled < TOTAL,
                "the %s's writes block before 64 MB" % sender,
                "sent %s of %d" % (stalled, TOTAL))
        grow = (rss_kb(pid, "VmHWM") - base) * KB
        tap.diag("%s->%s: %d bytes in flight when the %s blocked; peak "
                 "RSS growth %d KiB (bound %d KiB)"
                 % (sender, receiver, stalled or 0, sender, grow // KB,
                    BOUND // KB))
        bounded(k, grow, "peak RSS growth <= %d KiB" % (BOUND // KB))

    def relaying():
        b = s2sremote.backend(d, OURS, REMOTE)
        b.sock.settimeout(180)
        if not b.recv_until(rb"<stream:features", 20):
            raise util.HarnessError("no relay: %r %r" % (remote.errors,
                                                           b.data[-300:]))
        return b

    with t.case("a backend that stops reading while the remote streams "
                "64 MB: the remote is held back, the daemon's memory stays "
                "within the s2s-out bound, then all 64 MB arrive") as k:
        state.update(mode="flood", sent=[0])
        go.clear()
        base = rss_kb(pid)
        b = relaying()
        stalled = wait_stalled(lambda: state["sent"][0])
        held_back(k, stalled, base, "remote", "backend")
        got = drain(b.sock, len(b.data), TOTAL)
        k.check(got >= TOTAL, "the backend received all 64 MB", got)
        go.set()
        b.close()
    d.stop()
    d = daemon.Daemon(tmp, cfg, name="sink").start()
    pid = d.proc.pid

    with t.case("a remote that stops reading while the backend sends 64 MB: "
                "the backend is held back, the daemon's memory stays within "
                "the s2s-out bound, then all 64 MB arrive") as k:
        state.update(mode="sink", received=0)
        go.clear()
        base = rss_kb(pid)
        b = relaying()
        w, sent = flood_thread(b.sock, TOTAL)
        stalled = wait_stalled(lambda: sent[0])
        held_back(k, stalled, base, "backend", "remote")
        go.set()
        w.join(180)
        deadline = time.monotonic() + 180
        while state["received"] < TOTAL and time.monotonic() < deadline \
                and d.alive():
            time.sleep(0.1)
        k.check(state["received"] >= TOTAL, "the remote received all 64 MB",
                state["received"])
        b.close()

    with t.case("the scripted remote saw no harness error") as k:
        k.check(not remote.errors, "none", remote.errors)
    d.stop()


if __name__ == "__main__":
    tap.main(main)
