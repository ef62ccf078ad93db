#!/usr/bin/python3
"""The bounds of the two parsers of an outgoing s2s connection (listener
kind s2s-out, src/s2sout.c; docs/SECURITY.md "The trust the s2s-out
listener implies").

The backend's stream carries our users' stanzas and those the backend
relays for others: it gets the bounds a backend gets on the inbound
relay (max_backend_stanza_size, its depth, attribute and names budget).
The remote is a peer like any inbound s2s peer: max_stanza_size and the
client bounds while relaying, max_preauth_stanza_size before TLS.

Against a scripted remote (Python ssl, STARTTLS server side) found
through a loopback dnsmasq; the backend is a raw client."""
import re

from lib import daemon, raw, s2sremote, tap, util

OURS, REMOTE, PRE = "b.example", "r.example", "pre.example"
KB = 1024
S = 32 * KB         # max_stanza_size
A = 4 * KB          # max_preauth_stanza_size
B = 64 * KB         # max_backend_stanza_size


def stanza(size, to=REMOTE, frm=OURS):
    head = "<message xmlns='jabber:server' from='u@%s' to='u@%s'><body>" % (
        frm, to)
    tail = "</body></message>"
    return head + "x" * (size - len(head) - len(tail)) + tail


def main(t):
    tmp, ca, ours = s2sremote.setup(OURS)
    script = {}

    def relaying(conn):
        conn.negotiate()
        script[conn] = conn
        conn.remote.released.wait(60)

    def big_features(conn):
        """Pre-TLS features over max_preauth_stanza_size."""
        if not conn.wait_data(rb"<stream:stream\b[^>]*>", 10):
            return
        conn.send(s2sremote.server_header(PRE, OURS) + "<stream:features>" +
                  "<x xmlns='urn:x'>%s</x>" % ("y" * (A + 100)) +
                  "<starttls xmlns='%s'/></stream:features>" % raw.NS_TLS)
        conn.wait_closed(20)

    remote = s2sremote.Remote(ca.issue(REMOTE), REMOTE, relaying)
    pre = s2sremote.Remote(ca.issue(PRE), PRE, big_features)
    dns = s2sremote.Dns({REMOTE: remote.port, PRE: pre.port})
    d = daemon.Daemon(tmp, s2sremote.config(ca, ours, dns, limits={
        "max_stanza_size": S, "max_preauth_stanza_size": A,
        "max_backend_stanza_size": B})).start()

    def connect(index):
        b = s2sremote.backend(d, OURS, REMOTE)
        conn = remote.connection(index)
        if conn is None or not b.recv_until(rb"<stream:features", 20):
            raise util.HarnessError("no relay: %r %r" % (remote.errors,
                                                           b.data[-300:]))
        return b, conn

    with t.case("test_s2s_out_backend_stanza_over_client_bound: a backend "
                "stanza of 48 KiB (over max_stanza_size 32 KiB, under "
                "max_backend_stanza_size 64 KiB) reaches the remote") as k:
        b, conn = connect(0)
        msg = stanza(48 * KB)
        b.send(msg)
        m = conn.wait_data(re.escape(msg[-200:].encode()), 20)
        k.check(m is not None, "the whole stanza reached the remote",
                conn.data[-200:])
        b.send(stanza(20 * KB + 1))
        m = conn.wait_data(rb"x</body></message>", 20,
                           start=m.end() if m else 0)
        k.check(m is not None, "and the stream goes on")

    with t.case("test_s2s_out_remote_stanza_too_large: a remote stanza "
                "over max_stanza_size (32 KiB) ends the stream: "
                "event=s2s-out-closed reason=remote-xml "
                "detail=\"stanza-too-large limit=32768\", the remote gets "
                "<policy-violation/>, the backend "
                "<remote-connection-failed/>") as k:
        mark = d.mark()
        ok = stanza(20 * KB, to=OURS, frm=REMOTE)
        conn.send(ok)
        k.check(b.recv_until(re.escape(ok[-100:].encode()), 20),
                "a 20 KiB stanza from the remote (over "
                "max_preauth_stanza_size) reaches the backend")
        conn.send(stanza(S + KB, to=OURS, frm=REMOTE))
        line, f = d.wait_fields(r"event=s2s-out-closed\b", 20, mark)
        k.check(f.get("reason") == "remote-xml" and
                f.get("detail") == "stanza-too-large limit=%d" % S,
                "event=s2s-out-closed reason=remote-xml "
                "detail=\"stanza-too-large limit=%d\"" % S, line)
        k.check(conn.wait_data(rb"<policy-violation\b", 10) is not None,
                "the remote got <policy-violation/>", conn.data[-300:])
        k.check(b.recv_until(rb"<remote-connection-failed\b", 10),
                "the backend got <remote-connection-failed/>",
                b.data[-300:])
        k.check(b.closed_by_peer(10), "the backend's connection closed")

    with t.case("test_s2s_out_backend_stanza_too_large: a backend stanza "
                "over max_backend_stanza_size (64 KiB): "
                "event=s2s-out-failed reason=backend-xml "
                "detail=stanza-too-large, <policy-violation/> to the "
                "backend, </stream:stream> to the remote") as k:
        b, conn = connect(1)
        mark = d.mark()
        b.send(stanza(B + KB))
        line, f = d.wait_fields(r"event=s2s-out-failed\b", 20, mark)
        k.check(f.get("reason") == "backend-xml" and
                f.get("detail") == "stanza-too-large",
                "reason=backend-xml detail=stanza-too-large", line)
        k.check(b.recv_until(rb"<policy-violation\b", 10),
                "the backend got <policy-violation/>", b.data[-300:])
        k.check(conn.wait_data(rb"</stream:stream>", 10) is not None,
                "the remote got </stream:stream>", conn.data[-200:])

    with t.case("test_s2s_out_pretls_features_too_large: pre-TLS features "
                "over max_preauth_stanza_size (4 KiB) end the attempt: "
                "event=s2s-out-failed reason=no-starttls "
                "detail=stanza-too-large") as k:
        b, line, f = s2sremote.failed_attempt(d, OURS, PRE)
        k.check(f.get("reason") == "no-starttls" and
                f.get("detail") == "stanza-too-large" and
                f.get("state") == "negotiate",
                "reason=no-starttls state=negotiate "
                "detail=stanza-too-large", line)
        k.check(b.recv_until(rb"<remote-connection-failed\b", 10),
                "the backend got <remote-connection-failed/>",
                b.data[-300:])

    k_errors = remote.errors + pre.errors
    with t.case("the scripted remotes saw no harness error") as k:
        k.check(not k_errors, "no error", k_errors)
    remote.release()
    d.stop()


if __name__ == "__main__":
    tap.main(main)
