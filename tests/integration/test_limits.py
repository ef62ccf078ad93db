#!/usr/bin/python3
"""Limits under attack: absolute deadlines (slowloris on the header and on
the handshake, authentication, idleness), connection caps (total, per
address, rate), the name length bound, stanza size (both ways), depth and
attribute count after TLS, log flood control and running out
of file descriptors.  Every case checks what the client saw and the event
logged.

Timers are the behaviour under test here: the waits below are the
deadlines themselves (kept at 1-2 s, with generous margins for the ASan
run), everything else waits for a byte or a log line."""
import os
import re
import resource
import time

from lib import (backend_suite, certs, common, daemon, expect, prosody, raw,
                 spy, tap, util)

PRE_TLS_TIMEOUT = 2
HANDSHAKE_TIMEOUT = 2
AUTH_TIMEOUT = 2
IDLE_TIMEOUT = 2
MAX_NAME = 64
MAX_STANZA = 4096
MAX_BACKEND_STANZA = 8192
MAX_DEPTH = 8
MAX_ATTRS = 8
# how late a deadline may fire (a slow, sanitized build on a busy CI box)
LATE = 3.0
# how early: timers are whole seconds from an event a little before ours
EARLY = 0.3

LOG_RATE = 20
FLOOD = 300
NOFILE = 24

SASL_SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
AUTH = ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        "AGFsaWNlAHNlY3JldA==</auth>")
BIND = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
ANY = rb"."


def login_backend(conn):
    """After the first features: answer <auth/> with SASL <success/>, then
    the restarted stream header with a new header and <bind/>."""
    m = conn.wait_data(rb"<auth\b.*?(/>|</auth>)", 10)
    if not m:
        return
    conn.send(SASL_SUCCESS)
    if not conn.wait_data(rb"<(\w+:)?stream\b[^>]*>", 10, start=m.end()):
        return
    conn.send(spy.BACKEND_HEADER.replace("spy-stream-1", "spy-stream-2") +
              "<stream:features>" + BIND + "</stream:features>")


def trickle(cl, data, pace, limit):
    """Send data one byte every pace seconds (the attack's rate, not a
    synchronisation) until the daemon sends anything or closes, or limit
    seconds pass.  Returns the number of bytes sent."""
    if isinstance(data, str):
        data = data.encode()
    sent = 0
    deadline = time.monotonic() + limit
    while sent < len(data) and time.monotonic() < deadline:
        if not cl.try_send(data[sent:sent + 1]):
            break
        sent += 1
        if cl.recv_until(ANY, timeout=pace, start=len(cl.data)) or cl.eof:
            break
    return sent


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def refused_line(d, cl, timeout=util.DEFAULT_TIMEOUT):
    line = d.wait_for(r"event=%s\b.*\bclient=%s(\s|$)"
                      % (expect.REFUSED, re.escape(cl.local)), timeout,
                      cl.mark)
    return daemon.parse_line(line) if line else None


def check_refused(k, d, cl, reason):
    """The client got our header + <resource-constraint/> and the close;
    one event=refused line with the reason; no session for it."""
    common.stream_error(k, cl, expect.SE_RESOURCE_CONSTRAINT)
    k.check(b"<proceed" not in cl.data and b"starttls" not in cl.data,
            "no features offered", repr(cl.data))
    ref = refused_line(d, cl)
    if k.check(ref is not None, "event=refused for client=%s" % cl.local,
               d.text(cl.mark)[-1500:]):
        k.check(ref.get("reason") == reason, "reason=%s" % reason, ref)
        k.check(ref.get("listener") == "c2s" and "connections" in ref,
                "listener= and connections= fields", ref)
    k.check(not d.lines_matching(r"event=%s\b.*\bclient=%s(\s|$)"
                                 % (expect.ACCEPT, re.escape(cl.local)),
                                 cl.mark),
            "no session (no accept line) for the refused client")
    return ref


def admitted(k, d, cl, what):
    """The client is served: pre-TLS features with <starttls/>."""
    m = cl.open_stream()
    k.check(m is not None and b"urn:ietf:params:xml:ns:xmpp-tls" in cl.data,
            "%s is served (pre-TLS features)" % what, repr(cl.data))
    k.check(d.accept_of(cl, 5) is not None, "%s has an accept line" % what)


def main(t):
    daemon.binary()
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    cert = c["rsa"]
    backend = spy.Spy(spy.xmpp_script(spy.MECHANISMS, login_backend))
    stalled = spy.Spy()                  # accepts, records, never answers
    d = daemon.Daemon(tmp, daemon.base_config(
        cert, backend.port, limits={
            "pre_tls_timeout": PRE_TLS_TIMEOUT,
            "handshake_timeout": HANDSHAKE_TIMEOUT,
            "auth_timeout": AUTH_TIMEOUT,
            "idle_timeout": IDLE_TIMEOUT,
            "max_name_length": MAX_NAME,
            "max_stanza_size": MAX_STANZA,
            "max_backend_stanza_size": MAX_BACKEND_STANZA,
            "max_depth": MAX_DEPTH, "max_attributes": MAX_ATTRS},
        extra={"listener stall": {
            "listen": "127.0.0.1:0", "kind": "c2s",
            "backend": "127.0.0.1:%d" % stalled.port,
            "domains": "example.org"}})).start()

    def tls_client(listener="c2s", features=True):
        return common.relayed(d.client(listener), cert.cert,
                              features=features)

    def backend_conn(spy_, n_before):
        conn = spy_.wait_connection(index=n_before)
        if conn is None:
            raise util.HarnessError("daemon did not connect to the backend")
        return conn

    # -- deadlines --------------------------------------------------------
    with t.case("slowloris on the header: a byte every 0.3 s does not "
                "extend pre_tls_timeout; <connection-timeout/>, "
                "reason=pre-tls") as k:
        hdr = raw.header().encode()
        cl = d.client(nodelay=True)
        t0 = time.monotonic()
        sent = trickle(cl, hdr, 0.3, PRE_TLS_TIMEOUT + LATE + 5)
        cl.read_to_eof(5)
        took = time.monotonic() - t0
        k.check(sent >= 3 and sent < len(hdr),
                "the deadline struck while the client was still trickling "
                "its header", "%d of %d bytes sent" % (sent, len(hdr)))
        k.check(PRE_TLS_TIMEOUT - EARLY <= took <= PRE_TLS_TIMEOUT + LATE,
                "closed about pre_tls_timeout after connecting",
                "%.2f s" % took)
        common.stream_error(k, cl, expect.SE_CONNECTION_TIMEOUT)
        common.no_proceed(k, cl)
        cl.close()
        common.end_line(k, d, cl, expect.TIMEOUT, expect.R_PRE_TLS_TIMEOUT,
                        limit=str(PRE_TLS_TIMEOUT))
        tap.diag("%d bytes in %.2f s" % (sent, took))

    with t.case("slowloris on the handshake: a ClientHello trickled byte "
                "by byte after <proceed/> ends at handshake_timeout, "
                "reason=handshake") as k:
        hello = raw.client_hello_bytes()
        cl = d.client(nodelay=True)
        k.require(cl.open_stream(), "pre-TLS features", repr(cl.data))
        cl.send(raw.STARTTLS)
        k.require(cl.recv_until(rb"<proceed[^>]*/>"), "<proceed/>",
                  repr(cl.data))
        after = len(cl.data)
        t0 = time.monotonic()
        sent = trickle(cl, hello, 0.1, HANDSHAKE_TIMEOUT + LATE + 5)
        k.check(cl.read_to_eof(5), "connection closed by the daemon")
        took = time.monotonic() - t0
        k.check(0 < sent < len(hello),
                "the deadline struck before the ClientHello was complete",
                "%d of %d bytes sent" % (sent, len(hello)))
        k.check(HANDSHAKE_TIMEOUT - EARLY <= took
                <= HANDSHAKE_TIMEOUT + LATE,
                "closed about handshake_timeout after <proceed/>",
                "%.2f s" % took)
        rest = cl.data[after:]
        k.check(b"<" not in rest, "no XML after <proceed/> (the stream is "
                "TLS now; no stream error in clear text)", repr(rest))
        cl.close()
        common.end_line(k, d, cl, expect.TIMEOUT,
                        expect.R_HANDSHAKE_TIMEOUT,
                        limit=str(HANDSHAKE_TIMEOUT))

    with t.case("auth_timeout: a client that does not authenticate after "
                "the backend's features gets <connection-timeout/>, "
                "reason=auth") as k:
        n = backend.connection_count()
        t0 = time.monotonic()
        cl = tls_client()
        conn = backend_conn(backend, n)
        k.check(b"mechanisms" in cl.data, "backend features relayed",
                repr(cl.data))
        common.stream_error(k, cl, expect.SE_CONNECTION_TIMEOUT,
                            timeout=AUTH_TIMEOUT + LATE + 5)
        took = time.monotonic() - t0
        k.check(AUTH_TIMEOUT - EARLY <= took <= AUTH_TIMEOUT + LATE,
                "about auth_timeout after the handshake", "%.2f s" % took)
        cl.close()
        common.end_line(k, d, cl, expect.TIMEOUT, expect.R_AUTH_TIMEOUT,
                        limit=str(AUTH_TIMEOUT))
        k.check(conn.wait_closed(5), "backend connection closed")

    with t.case("auth_timeout: a backend that never answers the stream "
                "header; the client gets our header, <connection-timeout/>, "
                "reason=auth") as k:
        n = stalled.connection_count()
        t0 = time.monotonic()
        cl = tls_client("stall", features=False)
        conn = backend_conn(stalled, n)
        k.check(conn.wait_data(rb"<stream:stream\b"),
                "the stalled backend got the header", repr(conn.data))
        common.stream_error(k, cl, expect.SE_CONNECTION_TIMEOUT,
                            timeout=AUTH_TIMEOUT + LATE + 5)
        took = time.monotonic() - t0
        k.check(AUTH_TIMEOUT - EARLY <= took <= AUTH_TIMEOUT + LATE,
                "about auth_timeout after the handshake", "%.2f s" % took)
        k.check(cl.view().header is not None and
                cl.view().header.get("from") == "example.org",
                "a header of ours from='example.org'", repr(cl.data[:300]))
        cl.close()
        common.end_line(k, d, cl, expect.TIMEOUT, expect.R_AUTH_TIMEOUT,
                        limit=str(AUTH_TIMEOUT))
        k.check(conn.wait_closed(5), "backend connection closed")

    with t.case("idle_timeout: after SASL <success/>, whitespace keepalives "
                "keep the session past idle_timeout; silence then gets "
                "<connection-timeout/>, reason=idle") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(backend, n)
        mark = len(cl.data)
        cl.send(AUTH)
        k.require(cl.recv_until(re.escape(SASL_SUCCESS), start=mark),
                  "SASL <success/> relayed", repr(cl.data[mark:]))
        restart = mark = len(cl.data)
        cl.send(raw.header())
        k.require(cl.recv_until(rb"</stream:features>", start=mark),
                  "features of the restarted stream", repr(cl.data[mark:]))
        mark = len(cl.data)
        # keepalives every 0.5 s for 2.5 x idle_timeout (and well past
        # auth_timeout, which no longer applies)
        t0 = time.monotonic()
        kmark = len(conn.data)
        sent = 0
        while time.monotonic() - t0 < 2.5 * IDLE_TIMEOUT:
            if not cl.try_send(b" "):
                break
            last = time.monotonic()
            sent += 1
            if cl.recv_until(ANY, timeout=0.5, start=len(cl.data)) or \
                    cl.eof:
                break
        alive = time.monotonic() - t0
        k.check(not cl.eof and cl.data[mark:] == b"",
                "still connected after %.1f s of keepalives" % alive,
                repr(cl.data[-200:]))
        k.check(alive >= 2.5 * IDLE_TIMEOUT - 0.1,
                "keepalive phase outlasted idle_timeout", "%.2f s" % alive)
        acc = d.accept_of(cl)
        ended = [x for x in d.session_lines(acc["session"])
                 if x.get("event") in expect.END_EVENTS]
        k.check(not ended, "no end line during the keepalives", ended)
        k.check(conn.wait_data(rb" {%d}$" % sent, start=kmark, timeout=5),
                "the keepalives reached the backend",
                repr(conn.data[kmark:]))
        common.stream_error(k, cl, expect.SE_CONNECTION_TIMEOUT,
                            timeout=IDLE_TIMEOUT + LATE + 5, start=restart)
        silent = time.monotonic() - last
        k.check(IDLE_TIMEOUT - EARLY <= silent <= IDLE_TIMEOUT + LATE,
                "closed about idle_timeout after the last keepalive",
                "%.2f s" % silent)
        cl.close()
        common.end_line(k, d, cl, expect.TIMEOUT, expect.R_IDLE_TIMEOUT,
                        limit=str(IDLE_TIMEOUT))
        tap.diag("%d keepalives over %.2f s, then %.2f s of silence"
               % (sent, alive, silent))

    # -- name length ------------------------------------------------------
    for label, stanza in (
            ("an element name",
             "<message to='bob@example.org' id='nl1'><%s xmlns='urn:x'/>"
             "</message>" % ("e" * (MAX_NAME + 1))),
            ("an attribute name",
             "<message to='bob@example.org' id='nl2'><body %s='v'>b</body>"
             "</message>" % ("a" * (MAX_NAME + 1))),
            ("a namespace prefix",
             "<message to='bob@example.org' id='nl4'><%s:x xmlns:%s='urn:x'"
             "/></message>" % ("p" * (MAX_NAME + 1), "p" * (MAX_NAME + 1)))):
        with t.case("%s over max_name_length gets <policy-violation/>, "
                    "reason=name-too-long, and never reaches the backend"
                    % label) as k:
            n = backend.connection_count()
            cl = tls_client()
            conn = backend_conn(backend, n)
            mark = len(conn.data)
            cl.try_send(stanza)
            common.stream_error(k, cl, expect.SE_POLICY,
                                need_header_from=False)
            cl.close()
            common.end_line(k, d, cl, expect.POLICY, expect.R_NAME_TOO_LONG)
            k.check(conn.wait_closed(5), "backend connection closed")
            k.check(b"<message" not in conn.data[mark:] and
                    b"e" * MAX_NAME not in conn.data and
                    b"a" * MAX_NAME not in conn.data and
                    b"p" * MAX_NAME not in conn.data,
                    "nothing of the stanza at the backend",
                    repr(conn.data[mark:]))

    with t.case("names within max_name_length pass byte for byte") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(backend, n)
            # the attribute name has no namespace; the child element's
            # name counts with its namespace URI ('urn:x' + separator)
            st = ("<message to='bob@example.org' id='nl3'><%s xmlns='urn:x'"
                  " %s='v'/></message>" % ("e" * (MAX_NAME - 7),
                                           "a" * MAX_NAME)).encode()
            mark = len(conn.data)
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark), "delivered",
                    repr(conn.data[mark:]))

    with t.case("max_name_length below 64 (where the stream header and "
                "<starttls/> would no longer fit) is refused by -n") as k:
        conf = daemon.write_config(os.path.join(tmp, "short-names.conf"),
                                   daemon.base_config(cert, backend.port,
                                   limits={"max_name_length": 63}))
        r = daemon.check_config(conf)
        k.check(r.returncode == 1 and "max_name_length" in r.stderr,
                "exit 1 naming max_name_length", "%d %r" % (r.returncode,
                                                           r.stderr))

    # -- stanza size, depth, attributes ---------------------------------
    with t.case("a stanza over max_stanza_size gets <policy-violation/> and "
                "is not delivered whole") as k:
        n = backend.connection_count()
        cl = tls_client()
        conn = backend_conn(backend, n)
        body = "B" * (2 * MAX_STANZA)
        cl.try_send("<message to='bob@example.org' id='big'><body>%s</body>"
                    "<marker-end/></message>" % body)
        common.stream_error(k, cl, expect.SE_POLICY)
        cl.close()
        common.end_line(k, d, cl, expect.POLICY,
                        expect.R_STANZA_TOO_LARGE)
        k.check(b"marker-end" not in conn.data, "stanza not delivered",
                "%d bytes at backend" % len(conn.data))

    with t.case("a stanza just under max_stanza_size passes") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(backend, n)
            pre = "<message to='bob@example.org' id='fits'><body>"
            post = "</body></message>"
            st = (pre + "f" * (MAX_STANZA - len(pre) - len(post) - 64)
                  + post).encode()
            mark = len(conn.data)
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark),
                    "delivered", "%d of %d bytes" % (len(conn.data) - mark,
                                                     len(st)))

    for label, st, reason in (
            ("nested deeper than max_depth",
             "<message><x xmlns='urn:example:deep'>%s%s</x></message>"
             % ("<a>" * MAX_DEPTH, "</a>" * MAX_DEPTH), expect.R_TOO_DEEP),
            ("with more than max_attributes attributes",
             "<message %s/>" % " ".join("a%d='v'" % i
                                        for i in range(MAX_ATTRS + 4)),
             expect.R_TOO_MANY_ATTRS)):
        with t.case("a stanza %s gets <policy-violation/> and is not "
                    "relayed" % label) as k:
            n = backend.connection_count()
            cl = tls_client()
            conn = backend_conn(backend, n)
            mark = len(conn.data)
            cl.try_send(st)
            common.stream_error(k, cl, expect.SE_POLICY)
            cl.close()
            common.end_line(k, d, cl, expect.POLICY, reason)
            k.check(b"<message" not in conn.data[mark:], "not relayed",
                    repr(conn.data[mark:][:200]))

    with t.case("a stanza within max_depth and max_attributes passes") as k:
        n = backend.connection_count()
        with tls_client() as cl:
            conn = backend_conn(backend, n)
            st = ("<message %s><x xmlns='urn:example:deep'>%s%s</x>"
                  "</message>" % (" ".join("a%d='v'" % i
                                           for i in range(MAX_ATTRS)),
                                  "<a>" * (MAX_DEPTH - 3),
                                  "</a>" * (MAX_DEPTH - 3))).encode()
            mark = len(conn.data)
            cl.send(st)
            k.check(conn.wait_data(re.escape(st), start=mark), "delivered",
                    repr(conn.data[mark:]))

    with t.case("a backend stanza over max_backend_stanza_size: the client "
                "gets a well-formed stream error, not the stanza") as k:
        def big(conn):
            conn.send("<message id='huge'><body>%s</body></message>"
                      % ("H" * (2 * MAX_BACKEND_STANZA)))
        backend.handler = spy.xmpp_script(spy.MECHANISMS, big)
        n = backend.connection_count()
        cl = tls_client()
        backend_conn(backend, n)
        k.check(cl.read_to_eof(), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed and v.stream_error(),
                "well-formed stream error and </stream:stream>",
                "%s %r" % (v.error, cl.data[-300:]))
        k.check(b"HHHH" not in cl.data, "no part of the stanza",
                "%d bytes" % len(cl.data))
        cl.close()
        common.end_line(k, d, cl, expect.BACKEND_ERROR)
        backend.handler = spy.xmpp_script(spy.MECHANISMS, login_backend)

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    t.ok(not backend.errors, "scripted backend ran without errors",
         "\n".join(backend.errors))
    d.stop()
    common.sessions_end_once(t, d)

    # -- caps ---------------------------------------------------------------
    def cap_daemon(name, limits):
        dd = util.make_tmpdir()
        return daemon.Daemon(dd, daemon.base_config(cert, backend.port,
                                                    limits=limits),
                             name=name).start()

    with t.case("max_connections=3: the 4th connection gets "
                "<resource-constraint/>, reason=max-connections; the first "
                "three complete STARTTLS; a closed one frees its slot") as k:
        dc = cap_daemon("maxconn", {"max_connections": 3})
        held = []
        for i in range(3):
            cl = dc.client()
            held.append(cl)
            k.require(cl.open_stream(), "connection %d served" % (i + 1),
                      repr(cl.data))
        fourth = dc.client()
        check_refused(k, dc, fourth, expect.R_MAX_CONNECTIONS)
        fourth.close()
        # a real client sends its header at once, before the refusal
        eager = dc.client()
        eager.send(raw.header())
        check_refused(k, dc, eager, expect.R_MAX_CONNECTIONS)
        eager.close()
        n = backend.connection_count()
        for i, cl in enumerate(held):
            cl.starttls(cafile=cert.cert)
            cl.send(raw.header())
            k.check(cl.recv_until(rb"</stream:features>"),
                    "connection %d: TLS and the backend's features"
                    % (i + 1), repr(cl.data))
        k.check(backend.connection_count() == n + 3,
                "three backend connections")
        held[0].close()
        common.end_line(k, dc, held[0], expect.CLOSE,
                        expect.R_CLIENT_CLOSED)
        with dc.client() as again:
            admitted(k, dc, again, "a new connection after one closed")
        for cl in held[1:]:
            cl.close()
        dc.stop()

    with t.case("max_connections_per_ip=2: a third from 127.0.0.1 is "
                "refused (reason=max-connections-per-ip), 127.0.0.2 is "
                "admitted; a closed one frees its slot") as k:
        # loopback is admission_exempt by default: exempt none of it here
        dp = cap_daemon("perip", {"max_connections_per_ip": 2,
                                  "admission_exempt": "none"})
        held = []
        for i in range(2):
            cl = dp.client()
            held.append(cl)
            k.require(cl.open_stream(), "connection %d served" % (i + 1),
                      repr(cl.data))
        third = dp.client()
        check_refused(k, dp, third, expect.R_MAX_PER_IP)
        third.close()
        other = dp.client(source="127.0.0.2")
        admitted(k, dp, other, "a client from 127.0.0.2")
        held[0].close()
        common.end_line(k, dp, held[0], expect.CLOSE,
                        expect.R_CLIENT_CLOSED)
        with dp.client() as again:
            admitted(k, dp, again, "127.0.0.1 after one of its connections "
                     "closed")
        for cl in held[1:] + [other]:
            cl.close()
        dp.stop()

    with t.case("connection_rate_per_ip=5: the 6th of a quick burst is "
                "refused (reason=connection-rate); another address is not")\
            as k:
        dr = cap_daemon("rate", {"connection_rate_per_ip": 5,
                                 "admission_exempt": "none"})
        t0 = time.monotonic()
        burst = [dr.client() for _ in range(6)]
        took = time.monotonic() - t0
        for i, cl in enumerate(burst[:5]):
            k.check(dr.accept_of(cl, 5) is not None,
                    "connection %d admitted" % (i + 1))
        check_refused(k, dr, burst[5], expect.R_CONNECTION_RATE)
        with dr.client(source="127.0.0.2") as other:
            admitted(k, dr, other, "a client from 127.0.0.2")
        m = burst[0].open_stream()
        k.check(m is not None, "an admitted client of the burst is served",
                repr(burst[0].data))
        for cl in burst:
            cl.close()
        tap.diag("burst of 6 connects took %.3f s" % took)
        dr.stop()

    # -- admission_exempt ---------------------------------------------------
    with t.case("admission_exempt (issue 10): with the default config a "
                "burst of 40 TLS handshakes from 127.0.0.1 (a TLS scanner "
                "run by the operator) is all admitted, past "
                "connection_rate_per_ip = 30") as k:
        # connection_rate_per_ip = 30 is the daemon's default (base_config
        # turns it off); admission_exempt is left at its default
        dd = cap_daemon("exempt-default", {"connection_rate_per_ip": 30})
        mark = dd.mark()
        burst = [dd.client() for _ in range(40)]
        served = hs = 0
        for cl in burst:
            try:
                if cl.open_stream() is not None and \
                        b"urn:ietf:params:xml:ns:xmpp-tls" in cl.data:
                    served += 1
                    cl.starttls(cafile=cert.cert)
                    hs += 1
            except (OSError, raw.ConnectionClosed):
                pass
        k.check(served == 40, "40 of 40 served (%d)" % served)
        k.check(hs == 40, "40 TLS handshakes completed (%d)" % hs)
        k.check(not dd.lines_matching(r"event=%s\b" % expect.REFUSED, mark),
                "no event=refused", dd.text(mark)[-800:])
        for cl in burst:
            cl.close()
        dd.stop()

    with t.case("admission_exempt = 127.0.0.5: a burst of 8 from 127.0.0.5 "
                "passes connection_rate_per_ip = 5 and max_connections_per_ip "
                "= 3; 127.0.0.2 is still held to both") as k:
        de = cap_daemon("exempt", {"connection_rate_per_ip": 5,
                                   "max_connections_per_ip": 3,
                                   "admission_exempt": "127.0.0.5"})
        probes = [de.client(source="127.0.0.5") for _ in range(8)]
        for i, cl in enumerate(probes):
            admitted(k, de, cl, "exempt connection %d" % (i + 1))
        held = [de.client(source="127.0.0.2") for _ in range(3)]
        for i, cl in enumerate(held):
            admitted(k, de, cl, "127.0.0.2 connection %d" % (i + 1))
        fourth = de.client(source="127.0.0.2")
        check_refused(k, de, fourth, expect.R_MAX_PER_IP)
        for cl in probes + held + [fourth]:
            cl.close()
        de.stop()

    # -- log flood ----------------------------------------------------------
    with t.case("log flood: %d pre-TLS violations from loopback give at "
                "most log_rate_limit=%d lines a second plus "
                "event=log-suppressed lines=N, and every event is accounted "
                "for" % (FLOOD, LOG_RATE)) as k:
        df = daemon.Daemon(util.make_tmpdir(), daemon.base_config(
            cert, spy.refused_port(),
            extra={"global": {"log_rate_limit": LOG_RATE}}),
            name="flood").start()
        # the last line of the start-up, before counting
        k.require(df.wait_for(r"event=%s\b" % expect.STARTED),
                  "event=started", df.text())
        mark = df.mark()
        payload = (raw.header() + "<message to='bob@example.org'>"
                   "<body>x</body></message>").encode()
        got_error = 0

        def burst(n):
            ok = 0
            for _ in range(n):
                with raw.RawClient(df.port()) as cl:
                    cl.send(payload)
                    cl.read_to_eof(5)
                    ok += b"<policy-violation" in cl.data
            return ok

        # Two bursts in two different seconds of CLOCK_MONOTONIC (the
        # daemon's windows are whole seconds of the same clock), so that
        # both the roll-over of a busy second and the timer that reports
        # the last one are exercised.
        t0 = time.monotonic()
        got_error += burst(FLOOD // 2)
        next_second = int(time.monotonic()) + 1
        time.sleep(max(0.0, next_second - time.monotonic()) + 0.02)
        got_error += burst(FLOOD - FLOOD // 2)
        t1 = time.monotonic()
        flood = t1 - t0
        windows = int(t1) - int(t0) + 1
        k.check(got_error == FLOOD, "every client got <policy-violation/>",
                "%d of %d" % (got_error, FLOOD))
        # each connection is two events: accept and its end line
        want = 2 * FLOOD
        ev_rx = re.compile(r"event=(%s|%s)\b" % (expect.ACCEPT,
                                                 expect.POLICY))
        sup_rx = re.compile(r"event=%s\b" % expect.LOG_SUPPRESSED)

        def tally():
            lines = df.log.lines[mark:]
            written = [l for l in lines if ev_rx.search(l)]
            sup = [daemon.parse_line(l) for l in lines if sup_rx.search(l)]
            return lines, written, sup, sum(int(s.get("lines", 0))
                                             for s in sup)

        # the last count is written when its second is over: wait for it
        deadline = time.monotonic() + 5
        while True:
            lines, written, sup, suppressed = tally()
            if len(written) + suppressed >= want:
                break
            left = deadline - time.monotonic()
            if left <= 0 or df.wait_for(r".", left, mark + len(lines)) \
                    is None:
                break
        k.check(sup, "event=log-suppressed logged", "\n".join(lines[-20:]))
        k.check(all(s.get("limit") == str(LOG_RATE) for s in sup),
                "limit=%d on every log-suppressed line" % LOG_RATE, sup)
        k.check(len(written) <= LOG_RATE * windows,
                "at most %d lines a second were written" % LOG_RATE,
                "%d lines over %d seconds" % (len(written), windows))
        k.check(2 <= len(sup) <= windows,
                "one log-suppressed line for each flooded second",
                "%d over %d seconds" % (len(sup), windows))
        k.check(len(written) + suppressed == want,
                "written + suppressed = every event",
                "%d written + %d suppressed != %d" % (len(written),
                                                      suppressed, want))
        others = [l for l in lines if not ev_rx.search(l) and
                  not sup_rx.search(l)]
        k.check(not others, "no other lines during the flood", others[:5])
        tap.diag("%d connections in %.2f s: %d lines written, %d suppressed "
               "in %d summaries (%d seconds)" % (FLOOD, flood, len(written),
                                                 suppressed, len(sup),
                                                 windows))
        k.check(df.alive(), "daemon still running")
        df.stop()

    # -- out of file descriptors --------------------------------------------
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

    de = daemon.Daemon(util.make_tmpdir(), daemon.base_config(
        cert, backend.port, limits={"pre_tls_timeout": 60}),
        name="emfile", preexec_fn=low_nofile).start()
    paused_rx = r"event=%s\b.*\berror=EMFILE\b" % expect.ACCEPT_PAUSED
    held = []
    with t.case("EMFILE (RLIMIT_NOFILE=%d): event=fd-limit at start, "
                "event=accept-paused error=EMFILE about once a second "
                "without a busy loop" % NOFILE) as k:
        fdl = de.lines_matching(r"event=%s\b" % expect.FD_LIMIT)
        k.check(fdl and daemon.parse_line(fdl[0]).get("limit") ==
                str(NOFILE), "event=fd-limit limit=%d at start" % NOFILE,
                fdl or de.text())
        # one session through TLS before the descriptors run out: it
        # will need one more for its backend
        early = de.client()
        k.require(early.open_stream(), "pre-TLS features", repr(early.data))
        early.starttls(cafile=cert.cert)
        first_pause = None
        for _ in range(2 * NOFILE):
            cl = de.client()
            held.append(cl)
            line = de.wait_for(r"event=%s\b.*\bclient=%s(\s|$)|%s"
                               % (expect.ACCEPT, re.escape(cl.local),
                                  paused_rx), 5, cl.mark)
            if line is not None and expect.ACCEPT_PAUSED in line:
                first_pause = line
                break
        k.require(first_pause is not None, "event=accept-paused "
                  "error=EMFILE after %d connections" % len(held),
                  de.text()[-1500:])
        accepted = len(held) - 1
        # the last client stays in the backlog: each retry of the paused
        # listener fails again; watch two more retries
        cpu0 = cpu_seconds(de.proc.pid)
        t0 = time.monotonic()
        start = len(de.lines_matching(paused_rx))
        ok = True
        for i in range(2):
            ok = ok and de.wait_for(paused_rx, 5, de.mark()) is not None
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(de.proc.pid) - cpu0
        pauses = len(de.lines_matching(paused_rx)) - start
        k.check(ok, "the listener retried and paused again",
                de.text()[-800:])
        k.check(cpu < 0.5, "no busy loop while paused",
                "%.2f s CPU in %.2f s" % (cpu, elapsed))
        k.check(pauses <= elapsed + 1 and elapsed >= 1.5,
                "about one accept-paused line a second",
                "%d lines in %.2f s" % (pauses, elapsed))
        k.check(not held[-1].recv_until(ANY, timeout=0.01),
                "the client in the backlog was not served meanwhile",
                repr(held[-1].data))
        tap.diag("%d sessions before EMFILE; %d pauses in %.2f s, %.3f s "
                 "CPU" % (accepted, pauses, elapsed, cpu))

    with t.case("EMFILE: a session that needs its backend socket then gets "
                "<remote-connection-failed/>, reason=connect-failed") as k:
        early.send(raw.header())
        common.stream_error(k, early, expect.SE_REMOTE_FAILED)
        early.close()
        end = common.end_line(k, de, early, expect.BACKEND_ERROR,
                              expect.R_CONNECT_FAILED)
        k.check(end and re.search(r"open.*files", end.get("error", "")),
                "error= names the cause", end)

    with t.case("EMFILE: after the clients close, a new connection is "
                "accepted and served again") as k:
        for cl in held:
            cl.close()
        with de.client() as again:
            m = again.open_stream(timeout=10)
            k.check(m is not None and b"starttls" in again.data,
                    "a new connection is served", repr(again.data))
            k.check(de.accept_of(again, 5) is not None, "its accept line")
        k.check(de.alive(), "daemon still running")
    de.stop()
    common.sessions_end_once(t, de)

    preauth_bound(t, tmp, cert)


def preauth_bound(t, tmp, cert):
    """max_preauth_stanza_size (default 16 KiB) before authentication,
    max_stanza_size (default 256 KiB) after a real login to a real
    Prosody, all limits at their defaults."""
    why = prosody.available()
    if why:
        t.skip("pre-auth stanza bound against Prosody", why)
        return
    pw = backend_suite.USERS["alice"]
    be = prosody.Prosody(tmp, cert=cert, debug_log=True).start()
    be.register("alice", pw)
    dp = daemon.Daemon(tmp, daemon.base_config(cert, be.port),
                       name="xmppshield-preauth").start()

    def big_message(to, marker, size):
        """A message of size bytes; and the length of its body."""
        pre = "<message to='%s' id='%s' type='chat'><body>" % (to, marker)
        post = "</body></message>"
        n = size - len(pre) - len(post)
        return pre + "p" * n + post, n

    with t.case("max_preauth_stanza_size: a 20 KiB stanza before "
                "authentication gets <policy-violation/>, "
                "reason=stanza-too-large limit=16384, and Prosody never "
                "reads it") as k:
        start = len(be.log_text())
        cl = common.relayed(dp.client(), cert.cert)
        cl.try_send(big_message("bob@example.org", "preauth-20k",
                                20 * 1024)[0])
        common.stream_error(k, cl, expect.SE_POLICY)
        cl.close()
        common.end_line(k, dp, cl, expect.POLICY, expect.R_STANZA_TOO_LARGE,
                        limit="16384")
        k.check("preauth-20k" not in be.log_text()[start:],
                "nothing of the stanza in Prosody's log",
                be.log_text()[start:][-1500:])

    with t.case("max_preauth_stanza_size: after a real login to Prosody "
                "(SASL PLAIN, restart, bind) a 100 KiB message passes, "
                "to its sender and back") as k:
        with dp.client() as cl:
            common.relayed(cl, cafile=cert.cert)
            mark = len(cl.data)
            cl.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                    "mechanism='PLAIN'>%s</auth>"
                    % backend_suite.plain("alice", pw))
            k.require(cl.recv_until(rb"<success\b", start=mark),
                      "SASL <success/>", repr(cl.data[mark:]))
            mark = len(cl.data)
            cl.send(raw.header())
            k.require(cl.recv_until(rb"</stream:features>", start=mark),
                      "features of the new stream", repr(cl.data[mark:]))
            mark = len(cl.data)
            cl.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:"
                    "xml:ns:xmpp-bind'><resource>big</resource></bind>"
                    "</iq>")
            k.require(cl.recv_until(rb"<jid>alice@example\.org/big</jid>",
                                    start=mark),
                      "resource bound", repr(cl.data[mark:]))
            mark = len(cl.data)
            st, n = big_message("alice@example.org/big", "postauth-100k",
                                100 * 1024)
            cl.send(st)
            m = cl.recv_until(rb"<message\b[^>]*id='postauth-100k'[^>]*>"
                              rb"<body>p{%d}</body>" % n,
                              timeout=30, start=mark)
            k.check(m is not None, "the 100 KiB message came back whole",
                    repr(cl.data[mark:][:300]))
            k.check(not cl.eof, "still connected")
        ends = [x for x in dp.lines_matching(r"event=policy-violation\b")
                if "client=%s " % cl.local in x]
        k.check(not ends, "no policy event for the session", ends)
    t.ok(dp.alive(), "pre-auth daemon still running", dp.text()[-1500:])
    dp.stop()
    common.sessions_end_once(t, dp)
    be.stop()

if __name__ == "__main__":
    tap.main(main)
