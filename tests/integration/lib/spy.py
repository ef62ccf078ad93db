"""A recording TCP backend on 127.0.0.1:0.

Spy() records every connection and every byte received (one thread per
connection); tests use it to prove that NOTHING reached the backend.  With a
handler it becomes a scripted backend for the few cases a real server cannot
produce (refuse, reset mid-stanza, offer STARTTLS + compression); see
xmpp_script().
"""
import re
import socket
import struct
import threading
import time

from . import util


class SpyConn:
    def __init__(self, sock, addr):
        self.sock = sock
        self.addr = addr
        self.data = b""
        self.closed = False      # peer closed (EOF) or reset
        self.reset = False
        self.accepted_at = time.monotonic()
        self._thread = None
        self._cond = threading.Condition()

    def _reader(self):
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    self.reset = True
                    chunk = b""
                except OSError:
                    chunk = b""
                with self._cond:
                    if not chunk:
                        self.closed = True
                        self._cond.notify_all()
                        return
                    self.data += chunk
                    self._cond.notify_all()
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def wait_data(self, pattern, timeout=util.DEFAULT_TIMEOUT, start=0):
        """Wait until received data matches pattern; the match or None."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self.data, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self._cond.wait(left)

    def wait_closed(self, timeout=util.DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def reset_close(self, timeout=5.0):
        """Close with RST (SO_LINGER 0).  The reader thread is woken first
        (SHUT_RD sends nothing on Linux): a close() while another thread
        sits in recv() would not release the socket, so no RST would go."""
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()


class Spy:
    def __init__(self, handler=None, host=util.LOOPBACK):
        self.handler = handler
        self.conns = []
        self.errors = []
        self._cond = threading.Condition()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self._stop = False
        self._t = threading.Thread(target=self._accept_loop, daemon=True,
                                   name="spy-accept")
        self._t.start()
        util.on_cleanup(self.close)

    def _accept_loop(self):
        while not self._stop:
            try:
                s, addr = self.lsock.accept()
            except OSError:
                return
            c = SpyConn(s, addr)
            with self._cond:
                self.conns.append(c)
                self._cond.notify_all()
            c._thread = threading.Thread(target=c._reader, daemon=True,
                                         name="spy-conn")
            c._thread.start()
            if self.handler:
                threading.Thread(target=self._run_handler, args=(c,),
                                 daemon=True, name="spy-handler").start()

    def _run_handler(self, c):
        try:
            self.handler(c)
        except Exception as e:   # reported by tests that care
            self.errors.append(repr(e))

    def connection_count(self):
        with self._cond:
            return len(self.conns)

    def bytes_received(self):
        with self._cond:
            return sum(len(c.data) for c in self.conns)

    def all_data(self):
        with self._cond:
            return b"".join(c.data for c in self.conns)

    def wait_connection(self, timeout=util.DEFAULT_TIMEOUT, index=0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.conns) <= index:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self.conns[index]

    def close(self):
        self._stop = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.sock.close()
            except OSError:
                pass


def refused_port():
    """A loopback port with nothing listening (connect() gets RST)."""
    return util.free_port()


# -- a scripted XMPP backend --------------------------------------------------

BACKEND_HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
                  " xmlns:stream='http://etherx.jabber.org/streams'"
                  " from='example.org' id='spy-stream-1' version='1.0'>")
MECHANISMS = ("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
              "<mechanism>SCRAM-SHA-1</mechanism>"
              "<mechanism>PLAIN</mechanism></mechanisms>")
STARTTLS_FEATURE = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
COMPRESSION_FEATURE = ("<compression xmlns='http://jabber.org/features/"
                       "compress'><method>zlib</method></compression>")


def xmpp_script(features, then=None):
    """Handler for Spy: wait for the relayed stream header, answer with
    BACKEND_HEADER + <stream:features>features</stream:features>, then
    call then(conn) (if given) to script the rest."""
    def handler(conn):
        if not conn.wait_data(rb"<(\w+:)?stream\b[^>]*>", 10):
            return
        conn.send(BACKEND_HEADER + "<stream:features>" + features +
                  "</stream:features>")
        if then:
            then(conn)
    return handler


def close_on_end(conn):
    """Script tail: answer the client's </stream:stream> with ours and
    close, as a server does."""
    if conn.wait_data(rb"</stream:stream>", 10):
        conn.send("</stream:stream>")
        conn.close()
