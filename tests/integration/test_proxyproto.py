#!/usr/bin/python3
"""PROXY protocol both ways with the real daemon: the header the backend
receives (v1 line, v2 binary with TLVs, decoded here independently from
HAProxy's doc/proxy-protocol.txt), a header accepted from a trusted load
balancer (the client's address then logged as client=, the balancer as
via=, and passed on to the backend), and the refusals: untrusted source,
malformed header, header timeout, bad configurations."""
import re
import socket
import ssl as tlsmod
import struct

from lib import common, daemon, expect, raw, spy, tap, util

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_HEADER = "proxy-header"
R_UNTRUSTED = "proxy-untrusted"


def parse_v2(data):
    """Decode a v2 header at the start of data (spec 2.2): returns a dict
    with length, command, family, src, dst, tlvs {type: bytes} and ssl
    {client, verify, subtype: bytes}; raises ValueError."""
    if len(data) < 16 or data[:12] != V2SIG:
        raise ValueError("no v2 signature: %r" % data[:16])
    ver_cmd, fam, length = data[12], data[13], struct.unpack("!H",
                                                             data[14:16])[0]
    if ver_cmd >> 4 != 2:
        raise ValueError("version %d" % (ver_cmd >> 4))
    body = data[16:16 + length]
    if len(body) != length:
        raise ValueError("short header")
    out = {"length": 16 + length, "command": ver_cmd & 0xF, "family": fam,
           "tlvs": {}, "ssl": None}
    if fam == 0x11:
        s, d = socket.inet_ntop(socket.AF_INET, body[0:4]), \
            socket.inet_ntop(socket.AF_INET, body[4:8])
        sp, dp = struct.unpack("!HH", body[8:12])
        out["src"], out["dst"] = "%s:%d" % (s, sp), "%s:%d" % (d, dp)
        off = 12
    elif fam == 0x21:
        s, d = socket.inet_ntop(socket.AF_INET6, body[0:16]), \
            socket.inet_ntop(socket.AF_INET6, body[16:32])
        sp, dp = struct.unpack("!HH", body[32:36])
        out["src"], out["dst"] = "[%s]:%d" % (s, sp), "[%s]:%d" % (d, dp)
        off = 36
    else:
        off = 0
    while off < length:
        t, n = body[off], struct.unpack("!H", body[off + 1:off + 3])[0]
        v = body[off + 3:off + 3 + n]
        if len(v) != n:
            raise ValueError("TLV 0x%02x overruns the header" % t)
        out["tlvs"][t] = v
        if t == 0x20:
            ssl = {"client": v[0], "verify": struct.unpack("!I", v[1:5])[0]}
            o = 5
            while o < n:
                st, sn = v[o], struct.unpack("!H", v[o + 1:o + 3])[0]
                ssl[st] = v[o + 3:o + 3 + sn]
                o += 3 + sn
            out["ssl"] = ssl
        off += 3 + n
    return out


def v1_line(src, dst, sport, dport, fam="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2_header(src, dst, sport, dport):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return V2SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body


def main(t):
    tmp, cert, backend = common.spy_world()

    def end_stream(conn):
        # answer the client's </stream:stream> like a server: close too
        if conn.wait_data(re.escape(raw.END), 10):
            conn.send(raw.END)
            conn.close()

    backend.handler = spy.xmpp_script(spy.MECHANISMS, end_stream)

    def listener(backend_proxy="none", accept="no", trusted=None):
        return {"listen": "127.0.0.1:0", "kind": "c2s",
                "backend": "127.0.0.1:%d" % backend.port,
                "domains": "example.org",
                "backend_proxy_protocol": backend_proxy,
                "accept_proxy_protocol": accept, "proxy_trusted": trusted}

    sections = {
        "global": {"log_level": "info", "workers": 1, "shutdown_grace": 0},
        "tls": {"certificate": cert.cert, "key": cert.key},
        "limits": {"connection_rate_per_ip": 0},
        "domain example.org": {},
        "listener v1out": listener("v1"),
        "listener v2out": listener("v2"),
        "listener direct": dict(listener("v2"), tls="direct"),
        "listener lb": listener("v2", "yes", "10.9.9.9, 127.0.0.0/8"),
        "listener lbv1": listener("v1", "yes", "127.0.0.1"),
        "listener untrusted": listener("v2", "yes", "192.0.2.0/24, ::1"),
        "listener lbdirect": dict(listener("v2", "yes", "127.0.0.0/8"),
                                  tls="direct"),
    }
    d = daemon.Daemon(tmp, sections).start()

    def relayed(listener_name, prefix=b"", bytewise=False):
        """A client through STARTTLS to the backend; returns (client,
        backend conn, tls-established line)."""
        n = backend.connection_count()
        cl = d.client(listener_name, nodelay=bytewise)
        if prefix:
            if bytewise:
                cl.send_bytewise(prefix)
            else:
                cl.send(prefix)
        if not cl.open_stream():
            raise util.HarnessError("no pre-TLS features: %r" % cl.data)
        cl.starttls(cafile=cert.cert)
        cl.send(raw.header())
        if not cl.recv_until(rb"</stream:features>"):
            raise util.HarnessError("no features after TLS: %r" % cl.data)
        conn = backend.wait_connection(index=n)
        if conn is None:
            raise util.HarnessError("no backend connection")
        est = d.wait_event(cl, expect.TLS_ESTABLISHED)
        return cl, conn, est

    # -- to the backend -----------------------------------------------------
    with t.case("backend_proxy_protocol = v1: the backend's first bytes are "
                "'PROXY TCP4 <client> <listener> <cport> <lport>\\r\\n', then "
                "the client's stream header") as k:
        cl, conn, est = relayed("v1out")
        host, cport = cl.local.rsplit(":", 1)
        want = v1_line("127.0.0.1", "127.0.0.1", int(cport), d.port("v1out"))
        k.check(conn.data.startswith(want), "exact v1 line first",
                "want %r, got %r" % (want, conn.data[:80]))
        k.check(re.match(rb"PROXY [^\r\n]*\r\n<\?xml|PROXY [^\r\n]*\r\n"
                         rb"<stream:stream", conn.data),
                "the stream header follows the line directly",
                repr(conn.data[:120]))
        k.check(conn.data.count(b"PROXY") == 1, "one header only",
                repr(conn.data[:200]))
        cl.send(raw.END)
        cl.close()
        common.end_line(k, d, cl, None)

    with t.case("backend_proxy_protocol = v2: signature, PROXY command, TCP "
                "over IPv4, the client's address and port, AUTHORITY = the "
                "served domain, SSL TLV with the TLS version and cipher the "
                "daemon logged") as k:
        cl, conn, est = relayed("v2out")
        h = parse_v2(conn.data)
        k.check(h["command"] == 1 and h["family"] == 0x11,
                "command PROXY, TCP over IPv4", h)
        k.check(h["src"] == cl.local, "src is the client %s" % cl.local, h)
        k.check(h["dst"] == "127.0.0.1:%d" % d.port("v2out"),
                "dst is the listener's address", h)
        k.check(h["tlvs"].get(0x02) == b"example.org",
                "PP2_TYPE_AUTHORITY = example.org", h["tlvs"])
        ssl = h["ssl"] or {}
        k.check(ssl.get("client") == 0x01 and ssl.get("verify") == 1,
                "PP2_CLIENT_SSL, verify=1 (no client certificate)", ssl)
        k.check(est and ssl.get(0x21, b"").decode() == est["tls_version"],
                "PP2_SUBTYPE_SSL_VERSION = %s" % (est or {}).get(
                    "tls_version"), ssl)
        k.check(est and ssl.get(0x23, b"").decode() == est["cipher"],
                "PP2_SUBTYPE_SSL_CIPHER = %s" % (est or {}).get("cipher"),
                ssl)
        rest = conn.data[h["length"]:]
        k.check(rest.startswith(b"<?xml") or rest.startswith(b"<stream"),
                "the stream header follows the PROXY header", repr(rest[:60]))
        cl.send(raw.END)
        cl.close()
        common.end_line(k, d, cl, None)

    with t.case("direct TLS (XEP-0368) with ALPN xmpp-client and SNI: the "
                "v2 header carries PP2_TYPE_ALPN = xmpp-client and "
                "AUTHORITY = example.org") as k:
        n = backend.connection_count()
        ctx = raw.client_context(cert.cert)
        ctx.set_alpn_protocols(["xmpp-client"])
        cl = d.client("direct")
        cl.upgrade(context=ctx)
        k.check(cl.tls.selected_alpn_protocol() == "xmpp-client",
                "ALPN negotiated", cl.tls.selected_alpn_protocol())
        cl.send(raw.header())
        k.require(cl.recv_until(rb"</stream:features>"), "features",
                  repr(cl.data))
        conn = backend.wait_connection(index=n)
        k.require(conn, "backend connection")
        h = parse_v2(conn.data)
        k.check(h["tlvs"].get(0x01) == b"xmpp-client",
                "PP2_TYPE_ALPN = xmpp-client", h["tlvs"])
        k.check(h["tlvs"].get(0x02) == b"example.org",
                "PP2_TYPE_AUTHORITY = example.org", h["tlvs"])
        k.check(h["src"] == cl.local, "src is the client", h)
        cl.send(raw.END)
        cl.close()
        common.end_line(k, d, cl, None)

    # -- from a load balancer ---------------------------------------------
    with t.case("accept_proxy_protocol from a trusted source (v1): the "
                "header's client is logged as client= with via= the "
                "balancer, and passed on in the backend's v2 header") as k:
        mark = d.mark()
        hdr = v1_line("203.0.113.7", "198.51.100.1", 40001, 5222)
        cl, conn, est = relayed("lb", prefix=hdr)
        ph = d.wait_for(r"event=%s\b.*\bclient=203\.0\.113\.7:40001\b"
                        % PROXY_HEADER, 5, mark)
        k.check(ph, "event=proxy-header client=203.0.113.7:40001",
                d.text(mark)[-800:])
        if ph:
            p = daemon.parse_line(ph)
            k.check(p.get("via") == cl.local and p.get("version") == "v1"
                    and p.get("command") == "proxy"
                    and p.get("address") == "198.51.100.1:5222",
                    "via=%s version=v1 command=proxy address=198.51.100.1:5222"
                    % cl.local, p)
        k.check(est and est.get("client") == "203.0.113.7:40001" and
                est.get("via") == cl.local,
                "tls-established names the real client and the balancer",
                est)
        h = parse_v2(conn.data)
        k.check(h.get("src") == "203.0.113.7:40001" and
                h.get("dst") == "198.51.100.1:5222",
                "the backend gets the original endpoints (chained)", h)
        cl.send(raw.END)
        cl.close()
        end = common.end_line(k, d, cl, expect.CLOSE)
        k.check(end and end.get("client") == "203.0.113.7:40001" and
                end.get("via") == cl.local, "end line: client= and via=",
                end)

    with t.case("a v2 header sent one byte per segment, then the stream: "
                "decoded, and the client's bytes after it reach the pre-TLS "
                "grammar intact") as k:
        mark = d.mark()
        hdr = v2_header("198.51.100.77", "198.51.100.1", 50000, 5222)
        cl, conn, est = relayed("lb", prefix=hdr, bytewise=True)
        k.check(d.wait_for(r"event=%s\b.*client=198\.51\.100\.77:50000\b.*"
                           r"version=v2" % PROXY_HEADER, 5, mark),
                "event=proxy-header version=v2 client=198.51.100.77:50000",
                d.text(mark)[-800:])
        h = parse_v2(conn.data)
        k.check(h.get("src") == "198.51.100.77:50000",
                "passed on to the backend", h)
        cl.send(raw.END)
        cl.close()
        common.end_line(k, d, cl, expect.CLOSE)

    with t.case("header and stream header in one segment (v1 into a v1 "
                "backend): both parsed; the backend gets one line, with the "
                "original client") as k:
        hdr = v1_line("192.0.2.200", "198.51.100.1", 1234, 5222)
        n = backend.connection_count()
        cl = d.client("lbv1")
        m = cl.open_stream(hdr.decode() + raw.header())
        k.require(m, "pre-TLS features", repr(cl.data))
        cl.starttls(cafile=cert.cert)
        cl.send(raw.header())
        k.require(cl.recv_until(rb"</stream:features>"), "features",
                  repr(cl.data))
        conn = backend.wait_connection(index=n)
        want = v1_line("192.0.2.200", "198.51.100.1", 1234, 5222)
        k.check(conn and conn.data.startswith(want), "backend line %r" % want,
                repr(conn.data[:80]) if conn else "no connection")
        cl.send(raw.END)
        cl.close()
        common.end_line(k, d, cl, expect.CLOSE)

    with t.case("v2 LOCAL (a balancer's health check): accepted, the "
                "socket's own address stays the client") as k:
        mark = d.mark()
        cl = d.client("lb")
        cl.send(V2SIG + b"\x20\x00\x00\x00")
        m = cl.open_stream()
        k.check(m, "pre-TLS features after the LOCAL header", repr(cl.data))
        k.check(d.wait_for(r"event=%s\b.*client=%s\b.*command=local"
                           % (PROXY_HEADER, re.escape(cl.local)), 5, mark),
                "event=proxy-header command=local client=%s" % cl.local,
                d.text(mark)[-600:])
        cl.close()
        end = common.end_line(k, d, cl, expect.CLOSE)
        k.check(end and "via" not in end, "no via= when nothing was "
                "relayed", end)

    with t.case("direct_tls_proxy_one_segment: tls = direct with "
                "accept_proxy_protocol: a v2 header and the ClientHello in "
                "one segment; the header is read byte-exact, TLS completes, "
                "the backend gets the client's stream and, in its own PROXY "
                "v2 header, the address the first header named") as k:
        n = backend.connection_count()
        mark = d.mark()
        ctx = raw.client_context(cert.cert)
        ctx.set_alpn_protocols(["xmpp-client"])
        inc, out = tlsmod.MemoryBIO(), tlsmod.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="example.org")
        sock = socket.create_connection(("127.0.0.1", d.port("lbdirect")),
                                        timeout=10)
        util.on_cleanup(sock.close)
        first = True
        done = False
        data = b""
        try:
            while not done:
                try:
                    obj.do_handshake()
                    done = True
                except tlsmod.SSLWantReadError:
                    pass
                pending = out.read()
                if first:
                    pending = v2_header("203.0.113.7", "198.51.100.1",
                                        40123, 5223) + pending
                    first = False
                if pending:
                    sock.sendall(pending)
                if not done:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed during handshake")
                    inc.write(chunk)
            obj.write(raw.header().encode())
            sock.sendall(out.read())
            while b"</stream:features>" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                inc.write(chunk)
                try:
                    while True:
                        data += obj.read(65536)
                except tlsmod.SSLWantReadError:
                    pass
        except (OSError, tlsmod.SSLError, ConnectionError) as e:
            k.check(False, "TLS after the header", repr(e))
        k.check(b"</stream:features>" in data, "the backend's features "
                "over TLS", repr(data))
        conn = backend.wait_connection(index=n)
        if k.check(conn is not None and conn.wait_data(rb"<stream:stream",
                                                       5),
                   "the backend got the client's stream"):
            try:
                h = parse_v2(conn.data)
                k.check(h["src"] == "203.0.113.7:40123",
                        "the backend's PROXY v2 names 203.0.113.7:40123",
                        h)
            except ValueError as e:
                k.check(False, "a v2 header to the backend", repr(e))
        k.check(d.wait_for(r"event=%s\b.*client=203\.0\.113\.7:40123\b"
                           r".*\bvia=127\.0\.0\.1:"
                           % expect.TLS_ESTABLISHED, 5, mark),
                "tls-established client=203.0.113.7:40123 via=127.0.0.1",
                d.text(mark)[-800:])
        sock.close()

    # -- refusals -----------------------------------------------------------
    with t.case("a connection from outside proxy_trusted is closed at once "
                "with nothing sent: event=policy-violation "
                "reason=proxy-untrusted; the backend is never contacted") as k:
        n = backend.connection_count()
        with d.client("untrusted") as cl:
            cl.send(v1_line("203.0.113.9", "198.51.100.1", 1, 5222))
            k.check(cl.read_to_eof(5), "closed by the daemon",
                    repr(cl.data))
            k.check(cl.data == b"", "nothing sent to it", repr(cl.data))
        common.end_line(k, d, cl, expect.POLICY, R_UNTRUSTED)
        end, _ = d.end_of(cl)
        k.check(end and end.get("client") == cl.local and "via" not in end,
                "logged with its own address (the header is never read)",
                end)
        k.check(backend.connection_count() == n, "no backend connection",
                backend.connection_count())

    bad = [
        ("a client that speaks XMPP directly", raw.header().encode(),
         "bad-signature"),
        ("a TLS ClientHello", raw.client_hello_bytes(), "bad-signature"),
        ("v1 with a leading zero", b"PROXY TCP4 203.0.113.07 198.51.100.1 "
         b"1 2\r\n", "bad-address"),
        ("v1 ended by LF alone", b"PROXY TCP4 203.0.113.7 198.51.100.1 "
         b"1 2\n", "bad-line"),
        ("v2 version 1", V2SIG + b"\x11\x11\x00\x0c" + b"\0" * 12,
         "bad-version"),
        ("v2 TLV overrunning the header", V2SIG + b"\x21\x11\x00\x10" +
         b"\x7f\0\0\x01\x7f\0\0\x01\0\x01\0\x02" + b"\x02\x00\x09a",
         "bad-tlv"),
        ("v2 length over 1024 bytes", V2SIG + b"\x21\x11\x10\x00",
         "too-large"),
    ]
    for what, data, detail in bad:
        with t.case("malformed header from a trusted source (%s): closed "
                    "with nothing sent; event=protocol-error "
                    "reason=proxy-header detail=%s" % (what, detail)) as k:
            n = backend.connection_count()
            with d.client("lb") as cl:
                cl.try_send(data)
                k.check(cl.read_to_eof(5), "closed by the daemon",
                        repr(cl.data))
                k.check(cl.data == b"", "nothing sent to it", repr(cl.data))
            common.end_line(k, d, cl, expect.PROTOCOL, PROXY_HEADER,
                            detail=detail)
            k.check(backend.connection_count() == n, "backend untouched",
                    backend.connection_count())

    with t.case("configuration: accept_proxy_protocol without proxy_trusted, "
                "proxy_trusted without accept, a bad block, a bad version "
                "are refused by -n with file:line") as k:
        cases = [
            ({"accept_proxy_protocol": "yes"}, r"no proxy_trusted"),
            ({"proxy_trusted": "127.0.0.1"}, r"accept_proxy_protocol is "
             r"not yes"),
            ({"accept_proxy_protocol": "yes",
              "proxy_trusted": "10.0.0.1/8"}, r"not an IP address or CIDR"),
            ({"accept_proxy_protocol": "maybe"}, r"write yes or no"),
            ({"backend_proxy_protocol": "v3"}, r"write none, v1 or v2"),
        ]
        for i, (keys, rx) in enumerate(cases):
            sect = {"tls": sections["tls"], "domain example.org": {},
                    "listener x": dict(listener(), **keys)}
            path = daemon.write_config("%s/bad%d.conf" % (tmp, i), sect)
            r = daemon.check_config(path)
            k.check(r.returncode == 1 and re.search(r"bad%d\.conf:\d+: .*%s"
                                                     % (i, rx), r.stderr),
                    "%r refused: %s" % (keys, rx),
                    "exit %s: %s" % (r.returncode, r.stderr.strip()))

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)

    # The header timeout needs a short pre_tls_timeout: its own daemon.
    short = {"global": sections["global"], "tls": sections["tls"],
             "limits": {"pre_tls_timeout": 1, "connection_rate_per_ip": 0},
             "domain example.org": {},
             "listener lb": listener("none", "yes", "127.0.0.1")}
    d2 = daemon.Daemon(tmp, short, name="timeout").start()
    with t.case("half a header within pre_tls_timeout: closed without a "
                "stream error; event=timeout reason=proxy-header") as k:
        with d2.client("lb") as cl:
            cl.send(b"PROXY TCP4 203.0.113.7")
            k.check(cl.read_to_eof(5), "closed by the daemon", repr(cl.data))
            k.check(cl.data == b"", "nothing sent to it", repr(cl.data))
        common.end_line(k, d2, cl, expect.TIMEOUT, PROXY_HEADER, limit="1")
    d2.stop()


if __name__ == "__main__":
    tap.main(main)
