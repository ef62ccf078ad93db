#!/usr/bin/python3
"""Memory per connection is bounded by the formula in docs/SECURITY.md
(issue 10, defect 3).  N connections are held at the worst case of each
phase (before TLS; after TLS, unauthenticated; authenticated) and the
daemon's RSS growth per connection must stay within the formula for the
config.  The crafted input is what used to amplify: xmlns declarations
(not counted as attributes), a long stream header (re-parsed on every
parser rebuild), and stanzas full of new names (counted only between
stanzas), held open by an unfinished start tag as long as a stanza may
be.  The formula is an upper bound: the measured growth is reported.
An outgoing s2s connection (s2s-out) is held likewise, both of its
parsers at their worst case, against a scripted remote (Python ssl)
found through a loopback dnsmasq."""
import itertools
import os
import threading

from lib import certs, common, daemon, raw, s2sremote, spy, tap, util

KB = 1024
# The config under test, and the formula of docs/SECURITY.md.
S = 256 * KB            # max_stanza_size (the default)
A = 16 * KB             # max_preauth_stanza_size (the default)
B = 256 * KB            # max_backend_stanza_size
Q = 64 * KB             # buffer_size
P = 4 * KB              # max_pre_tls_bytes
NAMES = 64 * KB         # the names budget of the client's parser
NAMES_B = 256 * KB      # ... and of the backend's
F = 16 * KB             # bytes xmlstream parses at once
R = 16 * KB             # one read: a TLS record, or libevent's
E0 = 16 * KB            # a fresh Expat parser with its header, our stream
SESSION = 8 * KB        # session, events, evbuffers, relay
TLS = 40 * KB           # mbedTLS context, 2 x 16.7 KiB record buffers


def stream(u, f=F, names=NAMES):
    """One direction's parser holding a unit of up to u bytes."""
    return 4 * (u + f) + E0 + 5 * names // 2


M_PRE = SESSION + stream(P, 4 * KB, 0)
M_UNAUTH = SESSION + TLS + stream(A) + E0 + 2 * (Q + R)
M_AUTH = SESSION + TLS + stream(S) + stream(B, names=NAMES_B) + 2 * (Q + R)
# An outgoing s2s connection (listener kind s2s-out) while relaying: the
# backend's parser with the backend bounds, the remote's with the client
# bounds, the remote's certificate chain, the queue to the remote (up to
# Q, then what one read completes: B + R, and one more read as relaying
# starts), to the backend (Q + S + R), one read from the backend.
S2SOUT = 16 * KB        # struct s2sout (7.4 KiB), bufferevent, events
CHAIN = 48 * KB         # the remote's chain, parsed, kept by mbedTLS
M_OUT = S2SOUT + TLS + CHAIN + stream(B, names=NAMES_B) + stream(S) + \
    (Q + B + 2 * R) + (Q + S + R) + R

N = 16
SASL_SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
AUTH = ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        "AGFsaWNlAHNlY3JldA==</auth>")


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KB
    return 0


def names_stanza(tag, k, n):
    """A stanza of n elements with new names (two each), xmlns too."""
    body = "".join("<e%s_%d a%s_%d='1' xmlns:p%d='u'/>" % (k, i, k, i, i % 8)
                   for i in range(n))
    return "<%s%s>%s" % (tag, k, body)


def worst_unit(k, size):
    """One stanza of new names, then an unfinished one: more new names,
    xmlns declarations, and a start tag filling it up to size."""
    done = names_stanza("x", k, 200) + "</x%s>" % k
    open_ = names_stanza("y", k, 200)
    tag = "<big xmlns:q='u' xmlns:r='u' a='"
    return (done + open_ + tag + "z" * (size - len(open_) - len(tag) -
                                        512)).encode()


def barrier_through(sender, receiver):
    """A barrier: a round trip through the daemon's one event loop,
    twice (an <iq/> sender sends and receiver, a recording peer, gets),
    after which every byte sent before it has been read and parsed.
    Returns barrier(), each call with new ids."""
    seq = [0]

    def barrier():
        for _ in range(2):
            seq[0] += 1
            tag = ("<iq type='get' id='sync%d'/>" % seq[0]).encode()
            mark = len(receiver.data)
            sender.send(tag)
            if not receiver.wait_data(tag, 30, start=mark):
                raise util.HarnessError("barrier %d" % seq[0])
    return barrier


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]

    def backend_handler(conn):
        """Features; on <auth/> success, then on the new header a new
        stream whose first stanza stays unfinished (up to B)."""
        if not conn.wait_data(rb"<(\w+:)?stream\b[^>]*>", 10):
            return
        conn.send(spy.BACKEND_HEADER + "<stream:features>" + spy.MECHANISMS +
                  "</stream:features>")
        m = conn.wait_data(rb"<auth\b.*?</auth>", 60)
        if not m:
            return
        conn.send(SASL_SUCCESS)
        if not conn.wait_data(rb"<(\w+:)?stream\b[^>]*>", 10, start=m.end()):
            return
        conn.send(spy.BACKEND_HEADER.replace("spy-stream-1", "spy-2") +
                  "<stream:features/>" + worst_unit("b", B).decode())

    backend = spy.Spy(handler=backend_handler)
    d = daemon.Daemon(tmp, daemon.base_config(cert, backend.port, limits={
        "max_stanza_size": S, "max_preauth_stanza_size": A,
        "max_backend_stanza_size": B,
        "buffer_size": Q, "max_pre_tls_bytes": P,
        "max_connections_per_ip": 1000})).start()
    pid = d.proc.pid
    with open("/proc/%d/maps" % pid) as f:
        if "libasan" in f.read():
            d.stop()
            tap.skip_all("RSS under AddressSanitizer (redzones, quarantine) "
                         "says nothing about the formula")

    n0 = backend.connection_count()
    sync = common.relayed(d.client(), cert.cert)
    barrier = barrier_through(sync, backend.wait_connection(index=n0))

    held = []

    def growth(case, name, formula, open_one, n=N, hold=True):
        barrier()
        before = rss(pid)
        mark = d.mark()
        mine = [open_one(i) for i in range(n)]
        held.extend(mine)
        barrier()
        per = (rss(pid) - before) / n
        case.check(d.alive(), "daemon alive")
        ended = [line for line in d.lines_matching(
            r"event=(policy-violation|protocol-error|backend-error|"
            r"internal-error)\b", mark)
            if any("client=%s " % cl.local in line for cl in mine)]
        if hold:
            case.check(not ended, "every connection is still held", ended)
        else:
            tap.diag("%d of %d refused: %s" % (len(ended), n, " ".join(
                sorted({daemon.parse_line(x).get("reason", "?")
                        for x in ended}))))
        case.check(per <= formula, "%s: RSS growth %.0f KiB per connection "
                   "<= formula %.0f KiB" % (name, per / KB, formula / KB))
        tap.diag("%s: %.0f KiB per connection (formula %.0f KiB)"
                 % (name, per / KB, formula / KB))

    with t.case("test_memory_bound: before TLS, %d connections each "
                "holding an unfinished header" % N) as k:
        def pre(i):
            cl = d.client()
            cl.send(raw.header(extra=" xmlns:a='u' x='%s" % ("y" * (P - 400))))
            return cl
        growth(k, "pre-TLS", M_PRE, pre)

    with t.case("test_memory_bound: after TLS, unauthenticated, %d "
                "connections at the worst case" % N) as k:
        def unauth(i):
            cl = common.relayed(d.client(), cert.cert)
            cl.send(worst_unit("c%d" % i, A))
            return cl
        growth(k, "post-TLS unauthenticated", M_UNAUTH, unauth)

    with t.case("test_memory_bound: after TLS, %d connections sending "
                "what amplified: new names and xmlns declarations filling "
                "one stanza" % N) as k:
        def crafted(i):
            cl = common.relayed(d.client(), cert.cert)
            body = "".join("<n%d_%d xmlns:p%d='u'/>" % (i, j, j)
                           for j in range(S // 32))
            cl.try_send(("<y%d>" % i + body)[:A - 1024].encode())
            return cl
        growth(k, "crafted names", M_UNAUTH, crafted, hold=False)

    with t.case("test_memory_bound: authenticated, %d connections at the "
                "worst case both ways" % (N // 2)) as k:
        def auth(i):
            cl = common.relayed(d.client(), cert.cert)
            cl.send(AUTH)
            if not cl.recv_until(rb"<success\b"):
                raise util.HarnessError("no success: %r" % cl.data[-200:])
            mark = len(cl.data)
            cl.send(raw.header())
            if not cl.recv_until(rb"<stream:features/>", start=mark):
                raise util.HarnessError("no new stream: %r"
                                        % cl.data[-200:])
            cl.send(worst_unit("d%d" % i, S))
            return cl
        growth(k, "authenticated", M_AUTH, auth, N // 2)

    for cl in held:
        cl.close()
    sync.close()
    d.stop()
    s2s_out(t, tmp)


def s2s_out(t, tmp):
    """N//2 outgoing s2s connections relaying, the backend's parser
    holding an unfinished unit of B, the remote's one of S."""
    name = ("test_memory_bound: s2s-out, %d outgoing connections relaying, "
            "both parsers at the worst case" % (N // 2))
    try:
        s2sremote.available()
    except util.Skip as e:
        t.skip(name, str(e))
        return
    ca = certs.CA(tmp, "xmppshield test CA")
    ours = ca.issue("b.example")
    serial = itertools.count()

    def sync_remote(conn):
        conn.negotiate()
        conn.sent.set()
        conn.remote.released.wait(300)

    def hold_remote(conn):
        conn.negotiate()
        conn.send(worst_unit("r%d" % next(serial), S))
        conn.sent.set()
        conn.remote.released.wait(300)

    class Remote(s2sremote.Remote):
        def _run(self, conn):
            conn.sent = threading.Event()
            super()._run(conn)

    rsync = Remote(ca.issue("sync.example"), "sync.example", sync_remote)
    rhold = Remote(ca.issue("r.example"), "r.example", hold_remote)
    dns = s2sremote.Dns({"sync.example": rsync.port,
                         "r.example": rhold.port})
    d = daemon.Daemon(tmp, s2sremote.config(ca, ours, dns, limits={
        "max_stanza_size": S, "max_preauth_stanza_size": A,
        "max_backend_stanza_size": B, "buffer_size": Q,
        "max_connections_per_ip": 1000}), name="s2sout").start()
    pid = d.proc.pid

    def relaying(remote, to, index):
        b = s2sremote.backend(d, "b.example", to)
        conn = remote.connection(index)
        if conn is None or not b.recv_until(rb"<stream:features", 30) or \
                not conn.sent.wait(30):
            raise util.HarnessError("no relay to %s: %r %r" % (
                to, remote.errors, b.data[-300:]))
        return b, conn

    bsync, csync = relaying(rsync, "sync.example", 0)
    barrier = barrier_through(bsync, csync)

    with t.case(name) as k:
        n = N // 2
        barrier()
        before = rss(pid)
        mark = d.mark()
        held = []
        for i in range(n):
            b, conn = relaying(rhold, "r.example", i)
            # the remote's first stanza went through whole
            k.require(b.recv_until(rb"</x r\d+>|</xr\d+>", 30),
                      "the remote's complete stanza reached the backend",
                      b.data[-200:])
            b.send(worst_unit("b%d" % i, B))
            k.require(conn.wait_data(rb"</xb%d>" % i, 30),
                      "the backend's complete stanza reached the remote",
                      conn.data[-200:])
            held.append(b)
        barrier()
        per = (rss(pid) - before) / n
        ended = d.lines_matching(r"event=s2s-out-(closed|failed)\b", mark)
        k.check(d.alive() and not ended, "every connection still relaying",
                ended)
        k.check(per <= M_OUT, "s2s-out: RSS growth %.0f KiB per connection "
                "<= formula %.0f KiB" % (per / KB, M_OUT / KB))
        tap.diag("s2s-out: %.0f KiB per connection (formula %.0f KiB)"
                 % (per / KB, M_OUT / KB))
    rsync.release()
    rhold.release()
    for b in held + [bsync]:
        b.close()
    d.stop()


if __name__ == "__main__":
    tap.main(main)
