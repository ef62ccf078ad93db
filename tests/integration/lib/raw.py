"""Raw-socket XMPP: exact bytes before TLS, an ssl-module upgrade after
<proceed/>, and a namespace-aware view of what the server sent."""
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET

from . import util

NS_STREAM = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_SERVER = "jabber:server"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_COMPRESS_FEATURE = "http://jabber.org/features/compress"
NS_COMPRESS = "http://jabber.org/protocol/compress"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"

XMLDECL = "<?xml version='1.0'?>"
STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
END = "</stream:stream>"


def header(to="example.org", ns=NS_CLIENT, version="1.0", xmldecl=True,
           extra=""):
    """A client stream header; pass None to leave an attribute out."""
    s = XMLDECL if xmldecl else ""
    s += "<stream:stream"
    if ns is not None:
        s += " xmlns='%s'" % ns
    s += " xmlns:stream='%s'" % NS_STREAM
    if to is not None:
        s += " to='%s'" % to
    if version is not None:
        s += " version='%s'" % version
    s += extra + ">"
    return s


def q(tag, ns):
    return "{%s}%s" % (ns, tag)


class StreamView:
    """Namespace-aware parse of a server's stream bytes.

    header: attributes of <stream:stream> (keys as ElementTree spells them),
    children: top-level elements (features, errors, proceed, stanzas),
    closed: whether </stream:stream> was seen,
    error: XML parse error text, or None when all bytes were well-formed
    (a truncated but so-far well-formed stream has error None).
    """

    def __init__(self, data):
        self.data = data
        self.header = None
        self.header_tag = None
        self.children = []
        self.closed = False
        self.error = None
        p = ET.XMLPullParser(events=("start", "end"))
        depth = 0
        try:
            p.feed(data)
            for ev, el in p.read_events():
                if ev == "start":
                    depth += 1
                    if depth == 1:
                        self.header_tag = el.tag
                        self.header = dict(el.attrib)
                elif ev == "end":
                    depth -= 1
                    if depth == 1:
                        self.children.append(el)
                    elif depth == 0:
                        self.closed = True
        except ET.ParseError as e:
            self.error = str(e)

    def find(self, tag, ns):
        for c in self.children:
            if c.tag == q(tag, ns):
                return c
        return None

    def features(self):
        return self.find("features", NS_STREAM)

    def stream_error(self):
        """The defined condition of a <stream:error>, e.g. 'host-unknown'."""
        e = self.find("error", NS_STREAM)
        if e is None:
            return None
        for c in e:
            if c.tag.startswith("{%s}" % NS_STREAMS) and \
                    not c.tag.endswith("}text"):
                return c.tag.split("}", 1)[1]
        return "(no condition)"

    def tags(self):
        return [c.tag for c in self.children]


class ConnectionClosed(Exception):
    pass


class RawClient:
    """One TCP connection speaking XMPP by hand.

    recv_until() and read_to_eof() are bounded; `data` holds every byte
    received in the current layer (plaintext before TLS, decrypted after),
    `pre_tls_data` keeps what came before the upgrade.
    """

    def __init__(self, port, host=util.LOOPBACK, timeout=util.DEFAULT_TIMEOUT,
                 nodelay=False, mark=None, source=None):
        self.timeout = timeout
        # index of the daemon's log when this client connected (see
        # Daemon.client): its accept line is searched from there, as the
        # kernel may hand the same client port to a later connection
        self.mark = mark
        # source: a local address to bind first (e.g. 127.0.0.2, to come
        # from another client address for the per-address caps)
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # "127.0.0.1:PORT" as the daemon logs it in client=
        h, p = self.sock.getsockname()[:2]
        self.local = ("[%s]:%d" if ":" in h else "%s:%d") % (h, p)
        self.data = b""
        self.pre_tls_data = None
        self.eof = False
        self.reset = False
        self.tls = None

    # -- sending ----------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def try_send(self, data):
        """send() that reports a peer reset instead of raising."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return False

    def send_bytewise(self, data, pace=None):
        """Each byte in its own send() (set nodelay=True on the client).
        pace: optional delay between bytes to force separate segments."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            if pace:
                time.sleep(pace)

    # -- receiving --------------------------------------------------------
    def _recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ssl.SSLZeroReturnError:
            chunk = b""
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        except ssl.SSLError as e:
            # EOF without close_notify and friends: the peer is gone
            if "EOF" in str(e) or "UNEXPECTED" in str(e).upper():
                chunk = b""
            else:
                raise
        if not chunk:
            self.eof = True
        self.data += chunk
        return chunk

    def recv_until(self, pattern, timeout=None, start=0):
        """Read until the received data (from offset start) matches
        pattern (bytes/str regex).  Returns the match, or None on EOF or
        timeout (check .eof)."""
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = rx.search(self.data, start)
            if m:
                return m
            if self.eof:
                return None
            try:
                self._recv_some(deadline)
            except (socket.timeout, TimeoutError):
                return None

    def read_to_eof(self, timeout=None):
        """Read until the peer closes; True if it did within the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._recv_some(deadline)
            except (socket.timeout, TimeoutError):
                return False
        return True

    def closed_by_peer(self, timeout=None):
        return self.read_to_eof(timeout)

    def view(self):
        return StreamView(self.data)

    def text(self):
        return self.data.decode("utf-8", "replace")

    # -- XMPP steps -------------------------------------------------------
    def open_stream(self, hdr=None, timeout=None):
        """Send a header and wait for </stream:features> or EOF."""
        self.send(hdr if hdr is not None else header())
        return self.recv_until(rb"</stream:features>|<stream:features/>",
                               timeout)

    def starttls(self, cafile=None, server_hostname="example.org",
                 timeout=None, **ctxopts):
        """Send <starttls/>, wait for <proceed/>, do the TLS handshake.
        Returns the SSLSocket; raises on no proceed / handshake failure."""
        mark = len(self.data)
        self.send(STARTTLS)
        m = self.recv_until(rb"<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>"
                            rb"|<failure|</stream:stream>", timeout,
                            start=mark)
        if not m or not m.group(0).startswith(b"<proceed"):
            raise ConnectionClosed("no <proceed/>: %r" % self.data[mark:])
        return self.upgrade(cafile, server_hostname, timeout, **ctxopts)

    def upgrade(self, cafile=None, server_hostname="example.org",
                timeout=None, context=None):
        if context is None:
            context = client_context(cafile)
        self.sock.settimeout(timeout or self.timeout)
        self.tls = context.wrap_socket(self.sock,
                                       server_hostname=server_hostname)
        self.sock = self.tls
        self.pre_tls_data = self.data
        self.data = b""
        self.eof = False
        return self.tls

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def client_context(cafile=None):
    """TLS client context: verify against cafile (the test's self-signed
    cert) when given, otherwise no verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_hello_bytes():
    """A TLS ClientHello record (as a client would pipeline it right after
    <starttls/>), produced by the ssl module through memory BIOs."""
    ctx = client_context(None)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="example.org")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert data[:1] == b"\x16", data[:5]
    return data
