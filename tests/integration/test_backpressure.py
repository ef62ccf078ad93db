#!/usr/bin/python3
"""Memory stays bounded whoever stops reading: a client that does not read
while its backend streams 100 MB, and a backend that does not read while
its client sends 100 MB.  Then hundreds of sessions whose backend resets
mid-stanza: each client gets well-formed XML, and no descriptor or memory
is left behind.

The bounds asserted are the daemon's peak RSS growth (VmHWM) over its
resident size before the flood; the figures measured are printed as TAP
diagnostics.  Speed is not asserted here (see bench/)."""
import os
import socket
import threading
import time

from lib import certs, common, daemon, expect, spy, tap, util

TOTAL = 100 * 1024 * 1024
STANZA_BODY = 16 * 1024 - 64
# Peak growth allowed for one connection: both buffer_size queues (64k),
# one stanza each way (256k / 1M bounds), mbedTLS's two 16k record
# buffers: about 1.4 MiB at worst; measured: under 150 KiB.
RSS_BOUND = 2 * 1024 * 1024
REPEATS = int(os.environ.get("XMPPSHIELD_TEST_REPEATS", "300"))


def stanza(i):
    head = "<message id='m%08d'><body>" % i
    tail = "</body></message>"
    return (head + "x" * (STANZA_BODY - len(head) - len(tail)) +
            tail).encode()


def flood(sock, sent, total):
    """Send stanza(0), stanza(1), ... on sock until sent[0], the bytes
    sent so far (updated as it goes, for wait_stalled()), reaches
    total."""
    i = 0
    while sent[0] < total:
        data = stanza(i)
        sock.sendall(data)
        sent[0] += len(data)
        i += 1


def flood_thread(sock, total):
    """flood() in a daemon thread that an OSError (the connection gone)
    ends quietly; (the thread, its counter sent)."""
    sent = [0]

    def writer():
        try:
            flood(sock, sent, total)
        except OSError:
            pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    return w, sent


def drain(sock, got, total):
    """Read sock until got (bytes so far) reaches total or the peer
    closes; the new count."""
    while got < total:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    return got


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def rss_kb(pid, key="VmRSS"):
    return int(proc_status(pid)[key][0])


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Backend:
    """A scripted plaintext XMPP backend on 127.0.0.1:0 that never
    accumulates what it receives (the recording spy would hold 100 MB)."""

    def __init__(self, script):
        self.script = script
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.sent = 0
        self.received = 0
        self.errors = []
        self.go = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()
        util.on_cleanup(self.lsock.close)

    def _loop(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(s,), daemon=True).start()

    def _run(self, s):
        try:
            buf = b""
            while b"<stream:stream" not in buf or not buf.rstrip().endswith(b">"):
                chunk = s.recv(4096)
                if not chunk:
                    return
                buf += chunk
            s.sendall((spy.BACKEND_HEADER + "<stream:features>" +
                       spy.MECHANISMS + "</stream:features>").encode())
            self.script(self, s)
        except OSError as e:
            self.errors.append(repr(e))
        finally:
            s.close()


def wait_stalled(counter, still=1.0, timeout=60.0):
    """Wait until counter() stops moving for `still` seconds (a blocked
    writer); returns its value.  Polls: a stall has no event to wait on."""
    deadline = time.monotonic() + timeout
    last, since = counter(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = counter()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return now
    return None


def sanitized(path):
    """ASan keeps freed memory in quarantine (256 MB by default), so RSS
    says nothing about leaks or bounds in an ASan build."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def main(t):
    asan = sanitized(daemon.binary())
    if asan:
        tap.diag("AddressSanitizer build: memory bounds are reported, "
                 "not asserted")

    def bounded(k, grow, what):
        if asan:
            return
        k.check(grow < RSS_BOUND, what, "+%d KiB" % (grow // 1024))
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["ecdsa"]

    def tls_session(d):
        return common.relayed(d.client(timeout=60))

    # -- backend -> client ----------------------------------------------
    def flood_client(be, s):
        i = 0
        while be.sent < TOTAL:
            data = stanza(i)
            s.sendall(data)
            be.sent += len(data)
            i += 1
        be.go.wait(120)

    be = Backend(flood_client)
    d = daemon.Daemon(tmp, daemon.base_config(cert, be.port)).start()
    with t.case("a client that stops reading while its backend streams "
                "100 MB: the backend is held back and the daemon's memory "
                "stays bounded; then all 100 MB arrive") as k:
        cl = tls_session(d)
        base = rss_kb(d.proc.pid)
        stalled = wait_stalled(lambda: be.sent)
        k.check(stalled is not None and stalled < TOTAL,
                "the backend's writes block before 100 MB",
                "sent %s of %d" % (stalled, TOTAL))
        peak = rss_kb(d.proc.pid, "VmHWM")
        grow = (peak - base) * 1024
        tap.diag("backend->client: %d bytes were in flight when the "
                 "backend blocked; daemon RSS %d KiB before, peak %d KiB "
                 "(+%d KiB)" % (stalled or 0, base, peak, grow // 1024))
        bounded(k, grow, "peak RSS growth under %d KiB"
                % (RSS_BOUND // 1024))
        want = TOTAL
        cl.sock.settimeout(60)
        got = drain(cl.sock, 0, want)
        k.check(got >= want, "the client received all 100 MB", got)
        peak2 = rss_kb(d.proc.pid, "VmHWM")
        bounded(k, (peak2 - base) * 1024,
                "peak RSS still bounded after the transfer")
        be.go.set()
        cl.close()
    d.stop()

    # -- client -> backend ----------------------------------------------
    def sink_later(be, s):
        be.go.wait(120)
        s.settimeout(60)
        while be.received < TOTAL:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            be.received += len(chunk)

    be2 = Backend(sink_later)
    tmp2 = util.make_tmpdir()
    d = daemon.Daemon(tmp2, daemon.base_config(cert, be2.port)).start()
    with t.case("a backend that stops reading while its client sends "
                "100 MB: the client is held back and the daemon's memory "
                "stays bounded; then all 100 MB arrive") as k:
        cl = tls_session(d)
        base = rss_kb(d.proc.pid)
        w, sent = flood_thread(cl.sock, TOTAL)
        stalled = wait_stalled(lambda: sent[0])
        k.check(stalled is not None and stalled < TOTAL,
                "the client's writes block before 100 MB",
                "sent %s of %d" % (stalled, TOTAL))
        peak = rss_kb(d.proc.pid, "VmHWM")
        grow = (peak - base) * 1024
        tap.diag("client->backend: %d bytes in flight when the client "
                 "blocked; daemon RSS %d KiB before, peak %d KiB (+%d KiB)"
                 % (stalled or 0, base, peak, grow // 1024))
        bounded(k, grow, "peak RSS growth under %d KiB"
                % (RSS_BOUND // 1024))
        be2.go.set()
        w.join(120)
        deadline = time.monotonic() + 120
        while be2.received < TOTAL and time.monotonic() < deadline:
            time.sleep(0.1)
        k.check(be2.received >= TOTAL, "the backend received all 100 MB "
                "(the relayed header included)", be2.received)
        cl.close()
    d.stop()

    # -- repeated backend failures ----------------------------------------
    def reset_mid_stanza(be, s):
        s.sendall(b"<message id='half'><body>never fin")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\x01\x00\x00\x00\x00\x00\x00\x00")

    be3 = Backend(reset_mid_stanza)
    tmp3 = util.make_tmpdir()
    d = daemon.Daemon(tmp3, daemon.base_config(cert, be3.port,
                                               log_level="notice")).start()
    with t.case("%d sessions whose backend resets mid-stanza: each client "
                "gets well-formed XML ending in a stream error, and no "
                "descriptor or memory is left behind" % REPEATS) as k:
        bad = []
        fds0 = fd_count(d.proc.pid)
        rss_warm = None
        for i in range(REPEATS):
            cl = tls_session(d)
            cl.read_to_eof(10)
            v = cl.view()
            if v.error is not None or v.stream_error() != \
                    expect.SE_REMOTE_FAILED or not v.closed:
                bad.append("%d: %r" % (i, cl.data[-200:]))
            cl.close()
            if i == REPEATS // 4:
                rss_warm = rss_kb(d.proc.pid)
        k.check(not bad, "every client saw <remote-connection-failed/> and "
                "</stream:stream>, never half a stanza", "\n".join(bad[:5]))
        # The last sessions may still be closing: wait for their lines.
        ends = d.wait_for(r"event=backend-error\b.*", 10)
        deadline = time.monotonic() + 10
        while fd_count(d.proc.pid) > fds0 and time.monotonic() < deadline:
            time.sleep(0.05)
        k.check(fd_count(d.proc.pid) <= fds0, "descriptors back to %d"
                % fds0, fd_count(d.proc.pid))
        rss_end = rss_kb(d.proc.pid)
        tap.diag("RSS after %d sessions: %d KiB; after %d: %d KiB"
                 % (REPEATS // 4, rss_warm, REPEATS, rss_end))
        bounded(k, (rss_end - rss_warm) * 1024 * 2,
                "RSS grew by less than 1 MiB over the last %d sessions"
                % (REPEATS - REPEATS // 4))
        k.check(ends is not None, "failures logged as event=backend-error")
    d.stop()


if __name__ == "__main__":
    tap.main(main)
