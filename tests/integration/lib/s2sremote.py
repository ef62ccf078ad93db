"""Outgoing s2s on loopback, without a network namespace: a dnsmasq on a
127.0.0.1 port for the s2s-out listener's s2s_out_resolver, a scripted
remote server (Python ssl: STARTTLS server side, then whatever the test
sends), and the legacy backend's side as a raw client.

    tmp, ca, ours = setup("b.example")
    remote = Remote(cert, "r.example", handler)   # handler(conn) per conn
    dns = Dns({"r.example": remote.port})         # SRV + A 127.0.0.1
    d = daemon.Daemon(tmp, config(...)).start()
    b = backend(d, "b.example", "r.example")      # its header sent

The remote answers our header with its own and <starttls/>, <proceed/>,
the TLS handshake (its certificate for its domain), then the post-TLS
header and features: conn.negotiate() does all that; conn.send() and
conn.wait_data() after it are on the TLS stream.
"""
import os
import re
import socket
import ssl
import threading
import time

from . import certs, daemon, raw, util

DNSMASQ = "/usr/sbin/dnsmasq"
NS_DIALBACK = "jabber:server:dialback"


def available():
    if not os.access(DNSMASQ, os.X_OK):
        raise util.Skip("dnsmasq (dnsmasq-base) not installed")


def setup(domain):
    """What a test with scripted remotes starts with: skip unless the
    daemon is built and dnsmasq installed; a temporary directory, a test
    CA in it and domain's certificate: (tmp, ca, cert)."""
    daemon.binary()
    available()
    tmp = util.make_tmpdir()
    ca = certs.CA(tmp, "xmppshield test CA")
    return tmp, ca, ca.issue(domain)


def server_header(frm, to, sid="remote-1"):
    return ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            "xmlns:stream='%s' xmlns:db='%s' from='%s' to='%s' id='%s' "
            "version='1.0'>" % (raw.NS_STREAM, NS_DIALBACK, frm, to, sid))


class Dns:
    """dnsmasq on 127.0.0.1:PORT answering for *.example: for each
    domain -> port, _xmpp-server._tcp.DOMAIN SRV DOMAIN:port and DOMAIN A
    127.0.0.1; NXDOMAIN for every other name."""

    def __init__(self, domains):
        available()
        self.port = util.free_port()
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--no-poll",
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--port=%d" % self.port, "--local=/example/",
                "--pid-file=", "--log-facility=-"]
        for domain, port in sorted(domains.items()):
            argv += ["--srv-host=_xmpp-server._tcp.%s,%s,%d,0,0"
                     % (domain, domain, port),
                     "--host-record=%s,127.0.0.1" % domain]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self.proc = util.start_logged(argv, "dnsmasq", r"\bstarted\b")
        self.address = "127.0.0.1:%d" % self.port


class RemoteConn:
    """One connection the remote accepted (read by its handler thread)."""

    def __init__(self, sock, remote):
        self.sock = sock
        self.remote = remote
        self.data = b""
        self.tls = None

    def _recv(self, deadline):
        self.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (OSError, ssl.SSLError):
            chunk = b""
        if not chunk:
            return False
        self.data += chunk
        return True

    def wait_data(self, pattern, timeout=util.DEFAULT_TIMEOUT, start=0):
        """The match of pattern in what came since negotiate(), or None
        (timeout or closed)."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.data, start)
            if m:
                return m
            if time.monotonic() >= deadline or not self._recv(deadline):
                return None

    def wait_closed(self, timeout=util.DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._recv(deadline):
                return True
        return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(util.DEFAULT_TIMEOUT)
        self.sock.sendall(data)

    def negotiate(self, features="<stream:features/>"):
        """Pre-TLS header and <starttls/>, <proceed/>, the handshake, then
        the backend's header relayed and our post-TLS header and
        features.  Returns the backend's header (bytes) or raises."""
        if not self.wait_data(rb"<stream:stream\b[^>]*>", 10):
            raise util.HarnessError("remote: no header: %r" % self.data)
        m = re.search(rb"from='([^']*)'", self.data)
        frm = m.group(1).decode() if m else "b.example"
        self.send(server_header(self.remote.domain, frm) +
                  "<stream:features><starttls xmlns='%s'><required/>"
                  "</starttls></stream:features>" % raw.NS_TLS)
        if not self.wait_data(rb"<starttls\b[^>]*/>", 10):
            raise util.HarnessError("remote: no starttls: %r" % self.data)
        self.send("<proceed xmlns='%s'/>" % raw.NS_TLS)
        self.sock.settimeout(10)
        self.sock = self.remote.ctx.wrap_socket(self.sock, server_side=True)
        self.tls = self.sock.version()
        self.data = b""
        m = self.wait_data(rb"<stream:stream\b[^>]*>", 10)
        if not m:
            raise util.HarnessError("remote: no header after TLS: %r"
                                    % self.data)
        self.send(server_header(self.remote.domain, frm, "remote-2") +
                  features)
        return m.group(0)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Remote:
    """A remote server on 127.0.0.1:0 (STARTTLS, its certificate cert for
    domain); handler(conn) runs in a thread per connection, and may keep
    it open until release() (or the end of the test)."""

    def __init__(self, cert, domain, handler):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.cert, cert.key)
        self.ctx = ctx
        self.domain = domain
        self.handler = handler
        self.conns = []
        self.errors = []
        self.released = threading.Event()
        self._lock = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        util.on_cleanup(self.close)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            conn = RemoteConn(sock, self)
            with self._lock:
                self.conns.append(conn)
                self._lock.notify_all()
            threading.Thread(target=self._run, args=(conn,),
                             daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except Exception as e:      # reported by the test, not lost
            with self._lock:
                self.errors.append("%s: %s" % (type(e).__name__, e))
                self._lock.notify_all()

    def connection(self, index=0, timeout=util.DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.conns) <= index:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)
            return self.conns[index]

    def release(self):
        self.released.set()

    def close(self):
        self.released.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.conns:
            c.close()


def listener(domains, dns, timeout=10, verify=None):
    """The [listener NAME] section of an s2s-out listener on loopback."""
    out = {"listen": "127.0.0.1:0", "kind": "s2s-out", "domains": domains,
           "s2s_out_resolver": dns.address,
           "s2s_out_timeout": str(timeout)}
    if verify:
        out["s2s_verify"] = verify
    return out


def backend(d, frm, to, name="s2s-out"):
    """The legacy backend: a raw client on the s2s-out listener that has
    sent its stream header."""
    cl = d.client(name)
    cl.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            "xmlns:stream='%s' xmlns:db='%s' from='%s' to='%s' "
            "version='1.0'>" % (raw.NS_STREAM, NS_DIALBACK, frm, to))
    return cl


def failed_attempt(d, frm, to, name="s2s-out", timeout=20):
    """A backend (see backend()) asks to reach `to` and the attempt
    fails: (the backend's client, the event=s2s-out-failed line after
    it or None, that line's fields or {})."""
    mark = d.mark()
    cl = backend(d, frm, to, name)
    line, fields = d.wait_fields(r"event=s2s-out-failed\b", timeout, mark)
    return cl, line, fields


def config(ca, ours, dns, domain="b.example", limits=None, extra=None,
           **listener_kw):
    """A one-process daemon with only an s2s-out listener for domain
    (its certificate ours), trusting ca for remotes."""
    cfg = {
        "global": {"log_level": "info", "shutdown_grace": 0, "workers": 1},
        "tls": {"s2s_ca_file": ca.cert},
        "limits": dict({"connection_rate_per_ip": 0}, **(limits or {})),
        "domain %s" % domain: {"certificate": ours.cert, "key": ours.key},
        "listener s2s-out": listener(domain, dns, **listener_kw),
    }
    for sect, keys in (extra or {}).items():
        cfg.setdefault(sect, {}).update(keys)
    return cfg
