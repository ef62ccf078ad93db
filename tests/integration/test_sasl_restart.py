#!/usr/bin/python3
"""SASL restart desync (issue 10, defect 2; the CVE-2022-22784 /
CVE-2018-10847 class), against a real Prosody 0.12 and a real ejabberd.

After SASL <success/> the backend parses what follows the client's <auth/>
as a new stream.  A client that put <auth/> and a whole second stream in
one record used to get that stream forwarded as "one element" of the old
one, past the post-authentication header checks.  The daemon now holds
what follows a SASL request until the backend has answered, then parses it
as the backend will: as the new stream after <success/> (header checked),
as the old one otherwise, where a <stream:stream> element is refused."""
import re
import time

from lib import (backend_suite, certs, common, daemon, ejabberd, expect,
                 prosody, raw, tap, util)

NESTED = "nested-stream"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"


def auth(pw):
    return ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='PLAIN'>%s</auth>" % backend_suite.plain("alice", pw))


def bind(marker):
    return ("<iq type='set' id='%s'><bind xmlns='%s'><resource>%s"
            "</resource></bind></iq>" % (marker, BIND_NS, marker))


def nested_header(**kw):
    """A stream header as a client sends it inside a record: no XML
    declaration (the attack does not need one)."""
    return raw.header(xmldecl=False, **kw)


class Backend:
    """One real server behind a daemon of its own, logging at debug level
    (every element it reads, tagged with its session).  session_rx finds
    the tag of the session that read a SASL <auth/>; closed_rx % tag is
    the line the server writes once done with that session, after all it
    read from it; opened_rx % tag a stream header it parsed."""

    def __init__(self, name, be, d, session_rx, closed_rx, opened_rx):
        self.name, self.be, self.d = name, be, d
        self.session_rx, self.closed_rx = session_rx, closed_rx
        self.opened_rx = opened_rx

    def mark(self):
        """The log offset from which a case's lines are searched; every
        earlier session was waited for with finished_session()."""
        return len(self.be.log_text())

    def finished_session(self, start, timeout=util.DEFAULT_TIMEOUT):
        """Wait (bounded) until the session that read an <auth/> after
        log offset start is over; its log lines, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.be.log_text()[start:]
            m = re.search(self.session_rx, text)
            if m and re.search(self.closed_rx % re.escape(m.group(1)), text):
                tag = m.group(1)
                return [l for l in text.splitlines() if tag in l]
            time.sleep(0.05)
        return None


def attack(t, b, cert, label, payload, want_error, want_event, want_reason,
           marker, answer):
    """One client: STARTTLS, header, features, then `payload` in one write;
    the backend answers <success/> or <failure/> (answer), and the daemon
    must end the stream with want_error, log want_event/want_reason, and
    the server must never see the smuggled bytes (marker)."""
    d = b.d
    with t.case("%s: %s" % (b.name, label)) as k:
        start = b.mark()
        with d.client() as cl:
            common.relayed(cl, cafile=cert.cert)
            mark = len(cl.data)
            cl.send(payload)
            m = cl.recv_until(rb"<%s\b[^>]*(/>|>.*?</%s>)" % (
                answer.encode(), answer.encode()), start=mark)
            k.check(m is not None, "the backend answered <%s/>" % answer,
                    repr(cl.data[mark:]))
            start_new = cl.data.find(b"<stream:stream", mark) \
                if answer == "success" else 0
            common.stream_error(k, cl, want_error, start=max(start_new, 0))
        common.end_line(k, d, cl, want_event, want_reason)
        # The daemon has closed its backend connection; once the server
        # is done with that session, it has logged all it read.
        lines = b.finished_session(start)
        k.require(lines is not None, "%s finished the session" % b.name,
                  b.be.log_text()[start:][-1500:])
        seen = [l for l in b.be.log_text()[start:].splitlines()
                if marker in l]
        k.check(not seen, "%s never saw the smuggled bytes (no '%s' in its "
                "log)" % (b.name, marker), "\n".join(seen)[-1500:])
        opened = [l for l in lines if re.search(b.opened_rx, l)]
        k.check(len(opened) == 1, "%s parsed one stream header in the "
                "session, the first post-TLS one" % b.name,
                "\n".join(opened)[-1500:])


def cases(t, b, cert):
    d = b.d
    pw = backend_suite.USERS["alice"]

    with t.case("%s: a pipelined login (<auth/>, the new stream header and "
                "resource binding in one write) succeeds: delayed behind "
                "<auth/>, not lost" % b.name) as k:
        start = b.mark()
        with d.client() as cl:
            common.relayed(cl, cafile=cert.cert)
            mark = len(cl.data)
            cl.send(auth(pw) + raw.header() + bind("pipelined"))
            k.check(cl.recv_until(rb"<success\b", start=mark),
                    "<success/>", repr(cl.data[mark:]))
            k.check(cl.recv_until(rb"<jid>alice@example\.org/pipelined"
                                  rb"</jid>", start=mark),
                    "resource bound from the pipelined <iq/>",
                    repr(cl.data[mark:]))
            cl.send(raw.END)
            cl.read_to_eof(10)
        common.end_line(k, d, cl, expect.CLOSE)
        # Before the next case: the server has logged all of this one
        # (ejabberd logs asynchronously), so that the next case's lines
        # are the only ones after its mark.
        k.require(b.finished_session(start) is not None,
                  "%s finished the session" % b.name,
                  b.be.log_text()[start:][-1500:])

    # After <success/>: the held bytes are the new stream; its header is
    # checked like the first one.
    attack(t, b, cert, "<auth/> and a whole stream to another domain in "
           "one write: after <success/> its header is refused "
           "(<host-unknown/>, policy-violation reason=domain-changed)",
           auth(pw) + nested_header(to="other.example") +
           bind("smuggled-a") + raw.END,
           expect.SE_HOST_UNKNOWN, expect.POLICY, expect.R_DOMAIN_CHANGED,
           "smuggled-a", "success")
    attack(t, b, cert, "<auth/> and a stream header without version (which "
           "the server would accept) in one write: after <success/> "
           "refused (<unsupported-version/>), no resource bound",
           auth(pw) + nested_header(version=None) + bind("smuggled-b") +
           raw.END,
           expect.SE_UNSUPPORTED_VERSION, expect.PROTOCOL,
           expect.R_UNSUPPORTED_VERSION, "smuggled-b", "success")
    # After <failure/>: the held bytes are the old stream, in which a
    # <stream:stream> element is refused at its start tag.
    attack(t, b, cert, "a wrong password and a whole stream in one write: "
           "after <failure/> the <stream:stream> element is refused "
           "(<policy-violation/>, reason=nested-stream)",
           auth("wrong-Pw-0") + nested_header() + bind("smuggled-c") +
           raw.END,
           expect.SE_POLICY, expect.POLICY, NESTED, "smuggled-c", "failure")


def main(t):
    daemon.binary()
    available = {"Prosody": prosody.available(),
                 "ejabberd": ejabberd.available()}
    if all(available.values()):
        raise util.Skip("; ".join("%s: %s" % kv for kv in available.items()))
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]

    for name in ("Prosody", "ejabberd"):
        if available[name]:
            t.skip("%s cases" % name, available[name])
            continue
        if name == "Prosody":
            # debug: one line per stream header and per stanza received
            be = prosody.Prosody(tmp, cert=cert, debug_log=True).start()
            session_rx = (r"(c2s[0-9a-f]+)\s+debug\s+"
                          r"Received\[c2s_unauthed\]: <auth\b")
            closed_rx = r"%s\s+info\s+Client disconnected"
            opened_rx = r"Client sent opening <stream:stream>"
        else:
            # debug: every XML element received is logged
            be = ejabberd.Ejabberd(tmp, cert=cert, offer_starttls=False,
                                   loglevel="debug").start()
            session_rx = (r"\[notice\] (<[0-9.]+>) \S+ Received XML on "
                          r"stream = <<\"<auth\b")
            closed_rx = (r"%s@ejabberd_hooks:\S+ Running hook "
                         r"c2s_terminated: ejabberd_c2s:")
            opened_rx = r"Received XML on stream = <<\"(<\?xml[^>]*>)?" \
                r"<stream:stream\b"
        be.register("alice", backend_suite.USERS["alice"])
        d = daemon.Daemon(tmp, daemon.base_config(cert, be.port),
                          name="xmppshield-%s" % name.lower()).start()
        cases(t, Backend(name, be, d, session_rx, closed_rx, opened_rx),
              cert)
        t.ok(d.alive(), "%s: daemon still running" % name, d.text()[-1500:])
        d.stop()
        common.sessions_end_once(t, d)
        be.stop()


if __name__ == "__main__":
    tap.main(main)
