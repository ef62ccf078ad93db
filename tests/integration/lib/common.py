"""Checks shared by the test files (what the client saw, what was logged)."""
import re

from . import daemon as daemon_mod
from . import certs, expect, raw, spy, util


def spy_world():
    """What most single-daemon tests start from: the daemon built,
    openssl here, a temporary directory with an RSA certificate, a spy
    backend.  Returns (tmp, cert, backend)."""
    daemon_mod.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    return tmp, cert, spy.Spy()


def relayed(cl, cafile=None, hdr=None, features=True):
    """Take a connected RawClient through STARTTLS and send its post-TLS
    header (hdr, default raw.header()); with features=True wait for the
    backend's relayed <stream:features>.  Returns cl; raises HarnessError
    when a step does not come."""
    if not cl.open_stream():
        raise util.HarnessError("no pre-TLS features: %r" % cl.data)
    cl.starttls(cafile=cafile)
    cl.send(hdr if hdr is not None else raw.header())
    if features and not cl.recv_until(rb"</stream:features>"):
        raise util.HarnessError("no features after TLS: %r" % cl.data)
    return cl


def end_line(case, d, client, event, reason=None,
             timeout=util.DEFAULT_TIMEOUT, **kv):
    """Wait for the end-of-session line of client_addr and check event
    (a name, a tuple of acceptable names, or None for any), reason, the
    standard keys and any key=value given in kv."""
    end, ends = d.end_of(client, timeout)
    addr = getattr(client, "local", client)
    if not case.check(end is not None,
                      "an end-of-session line for client=%s" % addr,
                      "none within %ss" % timeout):
        acc = d.accept_of(client, 0.1)
        case.note("session lines:\n" + "\n".join(
            str(l) for l in (d.session_lines(acc["session"]) if acc else [])))
        return None
    events = event if isinstance(event, tuple) else (event,)
    want = "event=%s%s" % ("|".join(str(e) for e in events),
                           " reason=%s" % reason if reason else "")
    got = "event=%s reason=%s" % (end.get("event"), end.get("reason"))
    if event is not None:
        case.check(end.get("event") in events, "logged " + want,
                   "saw " + got)
    if reason is not None:
        case.check(end.get("reason") == reason, "logged " + want,
                   "saw " + got)
    for k, v in kv.items():
        case.check(end.get(k) == v, "end line has %s=%s" % (k, v),
                   "saw %s=%s" % (k, end.get(k)))
    missing = [k for k in expect.END_KEYS if k not in end]
    case.check(not missing, "end line carries %s" % " ".join(expect.END_KEYS),
               "missing %s in %r" % (missing, end))
    case.check(len(ends) == 1, "exactly one end line for the session",
               "saw %d: %r" % (len(ends), ends))
    return end


def end_event(k, d, mark, event, reason, **kv):
    """The end line with event and reason logged after mark (for clients
    whose local address the test does not know, like openssl)."""
    line = d.wait_for(r"event=%s\b.*\breason=%s\b" % (event, reason),
                      start=mark)
    k.check(line is not None, "logged event=%s reason=%s" % (event, reason),
            d.text(mark)[-1500:])
    e = daemon_mod.parse_line(line) if line else {}
    for key, v in kv.items():
        k.check(e.get(key) == v, "%s=%s" % (key, v), e)
    return e


def stream_error(case, c, condition, timeout=util.DEFAULT_TIMEOUT,
                 domain="example.org", need_header_from=True, start=0):
    """The client got: our header, <stream:error><condition/>, then
    </stream:stream>, then the connection closed; all well-formed.
    start: offset in c.data of the stream to look at (after a stream
    restart, where the last header begins)."""
    c.read_to_eof(timeout)
    v = raw.StreamView(c.data[start:])
    case.check(c.eof, "connection closed by the daemon",
               "still open after %ss; got %r" % (timeout, c.data[-300:]))
    case.check(v.error is None, "what the client got is well-formed XML",
               "%s in %r" % (v.error, c.data))
    case.check(v.header is not None, "a stream header came first",
               repr(c.data[:300]))
    if v.header is not None and need_header_from:
        case.check(v.header_tag == raw.q("stream", raw.NS_STREAM),
                   "header is <stream:stream>", v.header_tag)
        # RFC 6120 4.9.1.2: a header first; its 'from' may be left out when
        # the domain is unknown, but must never echo an unserved name.
        case.check(v.header.get("from") in (None, domain),
                   "header from= absent or '%s'" % domain, repr(v.header))
    case.check(v.stream_error() == condition,
               "stream error <%s/>" % condition,
               "got %r; data %r" % (v.stream_error(), c.data[-400:]))
    case.check(v.closed, "</stream:stream> after the error",
               repr(c.data[-200:]))
    return v


def no_proceed(case, c):
    case.check(b"<proceed" not in c.data, "no <proceed/> sent",
               repr(c.data))


def spy_untouched(case, spy, what="the backend"):
    case.check(spy.connection_count() == 0,
               "%s got no connection" % what,
               "%d connection(s), %d bytes: %r" % (
                   spy.connection_count(), spy.bytes_received(),
                   spy.all_data()[:300]))


def log_clean(case, d, secrets):
    """None of the strings in secrets appears anywhere in the log."""
    text = d.text()
    for s in secrets:
        case.check(s not in text, "log does not contain %r" % s,
                   "found in: %s" % "\n".join(
                       l for l in text.splitlines() if s in l))


def end_lines_not_once(d):
    """The accepted sessions of d, and a description of each one that has
    not exactly one end-of-session line."""
    accepts = [daemon_mod.parse_line(l)
               for l in d.lines_matching(r"event=%s(\s|$)" % expect.ACCEPT)]
    rx = re.compile(r"event=(%s)\b" % "|".join(expect.END_EVENTS))
    ends = {}
    for l in d.lines_matching(rx):
        p = daemon_mod.parse_line(l)
        ends.setdefault(p.get("session"), []).append(p.get("event"))
    bad = ["session %s: %r" % (a.get("session"),
                               ends.get(a.get("session"), []))
           for a in accepts if len(ends.get(a.get("session"), [])) != 1]
    return accepts, bad


def sessions_end_once(t, d):
    """Every accepted session has exactly one end-of-session line."""
    accepts, bad = end_lines_not_once(d)
    t.ok(accepts and not bad,
         "each of the %d sessions logged exactly one end line" % len(accepts),
         "\n".join(bad) or "no sessions seen")
