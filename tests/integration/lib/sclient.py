"""openssl s_client as a real TLS client: direct TLS with -alpn and
-servername, or STARTTLS with -starttls xmpp / xmpp-server.

    r = sclient.run(port, alpn="xmpp-client", servername="example.org")
    r.ok, r.subject_cn, r.alpn, r.alert, r.out

stdin is closed at once: s_client completes the handshake, prints what it
negotiated and exits; the run is bounded by a timeout.
"""
import re

from . import util

SUBJECT_RX = re.compile(r"^subject=.*?CN\s*=\s*([^,/\n]+)", re.M)
ALPN_RX = re.compile(r"^ALPN protocol: (\S+)", re.M)
ALERT_RX = re.compile(r"alert ([a-z ]+):|SSL alert number (\d+)")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = (proc.stdout or "") + (proc.stderr or "")
        m = SUBJECT_RX.search(self.out)
        self.subject_cn = m.group(1).strip() if m else None
        m = ALPN_RX.search(self.out)
        self.alpn = m.group(1) if m else None
        m = re.search(r"tlsv1 alert ([a-z ]+)|sslv3 alert ([a-z ]+)",
                      self.out)
        self.alert = (m.group(1) or m.group(2)).strip() if m else None
        m = re.search(r"SSL alert number (\d+)", self.out)
        self.alert_number = int(m.group(1)) if m else None
        # "Cipher is X" with X not "(NONE)": the handshake completed
        m = re.search(r"Cipher is (\S+)", self.out)
        self.cipher = m.group(1) if m and m.group(1) != "(NONE)" else None
        m = re.search(r"^(?:New|Reused), (TLSv[\d.]+),", self.out, re.M)
        self.version = m.group(1) if m else None
        self.ok = self.cipher is not None and self.alert is None

    def __repr__(self):
        return "s_client rc=%s cn=%s alpn=%s alert=%s cipher=%s\n%s" % (
            self.rc, self.subject_cn, self.alpn, self.alert, self.cipher,
            self.out[-1500:])


def run(port, host=util.LOOPBACK, alpn=None, servername=None,
        starttls=None, xmpphost=None, timeout=10.0, version=None,
        extra=(), input=""):
    """starttls: None (direct TLS), "xmpp" or "xmpp-server"; xmpphost:
    the stream's 'to' for STARTTLS.  servername None: no SNI (s_client
    sends none for an IP address).  version "1.2" or "1.3": offer only
    that version (default: whatever both sides have)."""
    openssl = util.require_tool("openssl")
    argv = [openssl, "s_client", "-connect", "%s:%d" % (host, port),
            "-no_ign_eof"]
    if version:
        argv += ["-tls" + version.replace(".", "_")]
    argv += list(extra)
    if alpn:
        argv += ["-alpn", alpn]
    if servername:
        argv += ["-servername", servername]
    else:
        argv += ["-noservername"]
    if starttls:
        argv += ["-starttls", starttls]
        if xmpphost:
            argv += ["-xmpphost", xmpphost]
    return Result(util.run(argv, timeout=timeout, input=input))
