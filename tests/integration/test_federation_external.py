#!/usr/bin/python3
"""Incoming SASL EXTERNAL (XEP-0178) for servers that authenticate only by
certificate (issue 13): xmppshield offers EXTERNAL to a peer whose
certificate is valid for the domain its header claims, answers <auth/>
and the peer's restarted header itself, and vouches for the peer to the
legacy backend by dialback: <db:result/> with a key only xmppshield can
make, which the backend verifies through the s2s-out listener, whose hook
answers the backend's <db:verify/> for it.

Part 1, scripted (no namespace): Python ssl peers with certificates from
a test CA, a scripted receiving server as the backend (it proves what
reached it and chooses the dialback answer):
  - EXTERNAL offered (the backend's own mechanisms removed), <auth/> for
    a domain the certificate does not cover: <failure/> + event, nothing
    reaches the backend;
  - <success/>, the new header answered here, the peer's stanza held
    until the backend's type='valid' (swallowed), then passed on;
  - the backend's type='invalid': <remote-connection-failed/>;
  - a certificate for another domain, s2s_external = off, a domain no
    s2s-out listener serves: no EXTERNAL, today's behaviour.

Part 2, real servers in a network namespace (skips without root, netns,
dnsmasq, Prosody or slixmpp):

    Prosody B  b.example 127.0.0.1:15222 c2s, :15269 s2s (plaintext,
               legacy: no TLS, dialback only)
    xmppshield 127.0.0.20:5269 s2s (inbound, -> B :15269)
               127.0.0.1:15270 s2s-out (B's outgoing s2s, split DNS)
    Prosody A  a.example 127.0.0.10:5269, s2s_secure_auth = true,
               modules_disabled = { "dialback" }: certificates only

alice@a.example writes to bob@b.example: A authenticates to xmppshield by
EXTERNAL, xmppshield gives B a dialback key, B verifies it by connecting
to a.example through s2s-out (which authenticates to A by EXTERNAL on
B's behalf and answers B's <db:verify/> itself); bob's reply goes back
B -> A over that outgoing stream."""
import base64
import json
import os
import re
import sys
import threading
import time

from lib import certs, common, daemon, expect, fedworld, raw, spy, tap, util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

DB_NS = "jabber:server:dialback"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
PEER = "a.example"
BACKEND_HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server'"
               " xmlns:stream='http://etherx.jabber.org/streams'"
               " xmlns:db='jabber:server:dialback' from='%s'"
               " id='spy-ext-1' version='1.0'>")
# the backend offers EXTERNAL itself too: removed, it cannot do it
BACKEND_FEATURES = ("<stream:features><dialback xmlns='urn:xmpp:features:"
                    "dialback'><errors/></dialback><mechanisms xmlns='%s'>"
                    "<mechanism>EXTERNAL</mechanism><mechanism>PLAIN"
                    "</mechanism></mechanisms></stream:features>" % SASL_NS)
MSG = ("<message from='alice@a.example' to='bob@example.org' type='chat'>"
       "<body>held-until-valid</body></message>")
EVENT_AUTHED = "s2s-peer-authenticated"
EVENT_FAILED = "s2s-peer-auth-failed"


def s2s_header(to="example.org", frm=PEER, xmldecl=True):
    return raw.header(to=to, ns=raw.NS_SERVER, xmldecl=xmldecl,
                      extra=" xmlns:db='%s' from='%s'" % (DB_NS, frm))


def auth(authzid):
    return "<auth xmlns='%s' mechanism='EXTERNAL'>%s</auth>" % (
        SASL_NS, authzid)


class Backend:
    """The scripted receiving server: header and features; xmppshield's
    <db:result/> is answered as self.answer says, once self.gate is set
    (so a test can look at what was held before)."""

    def __init__(self):
        self.answer = "valid"
        self.gate = threading.Event()
        self.spy = spy.Spy(self.handler)

    def prepare(self, answer, gate):
        """The next connection's <db:result/> gets type=answer, at once
        if gate, else once the test sets self.gate; that connection's
        index in the spy."""
        self.answer = answer
        if gate:
            self.gate.set()
        else:
            self.gate.clear()
        return self.spy.connection_count()

    def handler(self, conn):
        m = conn.wait_data(rb"<stream:stream\b[^>]*\bto='([^']*)'[^>]*>", 10)
        if not m:
            return
        conn.send(BACKEND_HDR % m.group(1).decode() + BACKEND_FEATURES)
        m = conn.wait_data(rb"<db:result\b[^>]*>[0-9a-f]{64}</db:result>",
                           10)
        if not m or not self.gate.wait(15):
            return
        key = re.search(rb">([0-9a-f]{64})<", m.group(0)).group(1).decode()
        conn.send("<db:result from='example.org' to='%s' type='%s'>%s"
                  "</db:result>" % (PEER, self.answer, key))


def connect(d, cert, listener="s2s", to="example.org", frm=PEER):
    """test_s2s_verify's peer (STARTTLS presenting cert, its post-TLS
    header sent), then the backend's features read.  (client, mark)."""
    from test_s2s_verify import connect as tls_peer
    cl, mark = tls_peer(d, cert, to=to, frm=frm, listener=listener)
    if not cl.recv_until(rb"</stream:features>|<stream:features/>"):
        raise util.HarnessError("no post-TLS features: %r" % cl.data)
    return cl, mark


def authed(d, cert, tail=""):
    """connect(), <auth/> with authzid '=' (its <success/> read), the
    peer's new header with tail sent, our <stream:features/> read.
    (client, mark, where the answer to the new header starts)."""
    cl, mark = connect(d, cert)
    cl.send(auth("="))
    cl.recv_until(rb"<success")
    at = len(cl.data)
    cl.send(s2s_header(xmldecl=False) + tail)
    cl.recv_until(rb"<stream:features/>", start=at)
    return cl, mark, at


def features_of(cl):
    m = re.search(rb"<stream:features.*?(</stream:features>|"
                  rb"<stream:features/>)", cl.data, re.S)
    return m.group(0).decode() if m else ""


def scripted(t, tmp):
    server = certs.make_cert(tmp, "ecdsa", "example.org")
    ca = certs.CA(tmp, "xmppshield test CA")
    good, wrong = ca.issue(PEER), ca.issue("other.example")
    be = Backend()
    backend = "127.0.0.1:%d" % be.spy.port
    d = daemon.Daemon(tmp, {
        "global": {"log_level": "debug"},
        "tls": {"certificate": server.cert, "key": server.key,
                "s2s_ca_file": ca.cert},
        "domain example.org": {},
        "domain noout.example": {},
        "listener s2s": {"listen": "127.0.0.1:0", "kind": "s2s",
                         "backend": backend, "s2s_verify": "require",
                         "domains": "example.org noout.example"},
        "listener s2s-log": {"listen": "127.0.0.1:0", "kind": "s2s",
                             "backend": backend, "s2s_verify": "log",
                             "domains": "example.org"},
        "listener s2s-off": {"listen": "127.0.0.1:0", "kind": "s2s",
                             "backend": backend, "s2s_external": "off",
                             "domains": "example.org"},
        # the backend's verification path: without it, no EXTERNAL
        "listener out": {"listen": "127.0.0.1:0", "kind": "s2s-out",
                         "domains": "example.org",
                         "s2s_out_resolver": "127.0.0.1:9"},
    }).start()

    with t.case("a peer whose certificate is valid for its header's from "
                "is offered EXTERNAL (only: the backend's own mechanisms "
                "are removed); an <auth/> for a domain the certificate "
                "does not cover gets <failure><not-authorized/>, one "
                "event, and never reaches the backend") as k:
        n = be.spy.connection_count()
        cl, mark = connect(d, good)
        with cl:
            f = features_of(cl)
            k.check(f.count("<mechanisms") == 1 and
                    "<mechanism>EXTERNAL</mechanism>" in f and
                    "PLAIN" not in f and "urn:xmpp:features:dialback" in f,
                    "features: dialback and our EXTERNAL", f)
            at = len(cl.data)
            cl.send(auth(base64.b64encode(b"b.example").decode()))
            k.check(cl.recv_until(rb"<failure xmlns='%s'><not-authorized/>"
                                  rb"</failure>" % SASL_NS.encode(),
                                  start=at) is not None,
                    "<failure><not-authorized/></failure>", cl.data[at:])
            line = d.wait_for(r"event=%s\b" % EVENT_FAILED, start=mark)
            e = daemon.parse_line(line) if line else {}
            k.check(e.get("mechanism") == "external" and
                    e.get("domain") == PEER and
                    e.get("reason") == "not-covered" and
                    e.get("listener") == "s2s",
                    "event=%s mechanism=external domain=%s "
                    "reason=not-covered listener=s2s" % (EVENT_FAILED, PEER),
                    d.text(mark)[-1500:])
            cl.send(raw.END)
            cl.read_to_eof(5)
        conn = be.spy.wait_connection(index=n)
        k.check(conn is not None and b"<auth" not in conn.data and
                b"<stream:stream" in conn.data,
                "the backend got the header, never the <auth/>",
                conn.data if conn else None)

    with t.case("<auth/> with authzid '=': <success/>; the peer's new "
                "header is answered by xmppshield (our header, empty "
                "features), the backend gets <db:result from='a.example'>"
                "with a 64-digit key on its unrestarted stream, and the "
                "peer's stanza is held until the backend says valid") as k:
        n = be.prepare("valid", gate=False)
        cl, mark = connect(d, good)
        with cl:
            at = len(cl.data)
            cl.send(auth("="))
            k.check(cl.recv_until(rb"<success xmlns='%s'/>"
                                  % SASL_NS.encode(), start=at) is not None,
                    "<success/>", cl.data[at:])
            at = len(cl.data)
            # new header and a stanza in one write: one TLS record
            cl.send(s2s_header(xmldecl=False) + MSG)
            k.check(cl.recv_until(rb"<stream:stream [^>]*>"
                                  rb"<stream:features/>", start=at)
                    is not None, "our header and <stream:features/>",
                    cl.data[at:])
            conn = be.spy.wait_connection(index=n)
            k.check(conn is not None and conn.wait_data(
                rb"<db:result xmlns:db='jabber:server:dialback' "
                rb"from='a\.example' to='example\.org'>[0-9a-f]{64}"
                rb"</db:result>", 5) is not None,
                "the backend got our <db:result/>",
                conn.data if conn else None)
            data = conn.data if conn else b""
            k.check(data.count(b"<stream:stream") == 1 and
                    b"<auth" not in data and b"<success" not in data and
                    b"<message" not in data,
                    "the backend's stream was not restarted, saw no SASL, "
                    "and not yet the held stanza", data)
            be.gate.set()
            k.check(conn is not None and conn.wait_data(
                re.escape(MSG.encode()), 5) is not None,
                "after type='valid' the held stanza reached the backend",
                conn.data if conn else None)
            line = d.wait_for(r"event=%s\b" % EVENT_AUTHED, start=mark)
            e = daemon.parse_line(line) if line else {}
            k.check(e.get("mechanism") == "external" and
                    e.get("domain") == PEER and e.get("listener") == "s2s"
                    and "client" in e,
                    "event=%s mechanism=external domain=%s listener=s2s "
                    "client=" % (EVENT_AUTHED, PEER), d.text(mark)[-1500:])
            cl.send(raw.END)
            cl.read_to_eof(5)
            k.check(b"type='valid'" not in cl.data and
                    b"db:result" not in cl.data,
                    "the backend's answer (with the key) never reached "
                    "the peer", cl.data)

    with t.case("once authenticated by EXTERNAL for a.example, a "
                "<db:result/> for another domain still goes through the "
                "piggyback check (s2s_verify = require): refused, never "
                "reaching the backend") as k:
        n = be.prepare("valid", gate=True)
        cl, mark, at = authed(d, good)
        with cl:
            k.check(d.wait_for(r"event=%s\b" % EVENT_AUTHED, start=mark)
                    is not None, "authenticated by EXTERNAL",
                    d.text(mark)[-1500:])
            cl.send("<db:result from='other.example' to='example.org'>"
                    "k3y</db:result>")
            common.stream_error(k, cl, expect.SE_POLICY, start=at)
            common.end_line(k, d, cl, expect.POLICY, "peer-unverified",
                            peer_domain="other.example",
                            detail="piggyback-not-covered")
        conn = be.spy.wait_connection(index=n)
        k.check(conn is not None and b"other.example" not in conn.data,
                "the request never reached the backend",
                conn.data if conn else None)

    with t.case("the backend answers type='invalid' (its verification "
                "did not reach s2s-out): <remote-connection-failed/>, "
                "event=backend-error reason=external-refused, the held "
                "stanza never reaches the backend") as k:
        n = be.prepare("invalid", gate=False)
        cl, mark, at = authed(d, good, MSG)
        with cl:
            be.gate.set()
            common.stream_error(k, cl, expect.SE_REMOTE_FAILED, start=at)
            common.end_line(k, d, cl, expect.BACKEND_ERROR,
                            "external-refused", peer=PEER, result="invalid")
        conn = be.spy.wait_connection(index=n)
        k.check(conn is not None and b"<message" not in conn.data,
                "the held stanza never reached the backend",
                conn.data if conn else None)

    for name, listener, cert, to in (
            ("a certificate for another domain (s2s_verify = log lets it "
             "on)", "s2s-log", wrong, "example.org"),
            ("s2s_external = off: today's behaviour", "s2s-off", good,
             "example.org"),
            ("a domain no s2s-out listener serves (the backend's "
             "verification could not reach the hook)", "s2s", good,
             "noout.example")):
        with t.case("no EXTERNAL offered: %s; no SASL mechanisms at all, "
                    "dialback kept" % name) as k:
            cl, mark = connect(d, cert, listener=listener, to=to)
            with cl:
                f = features_of(cl)
                k.check("<mechanisms" not in f and "EXTERNAL" not in f and
                        "urn:xmpp:features:dialback" in f,
                        "features without mechanisms, with dialback", f)
                cl.send(raw.END)
                cl.read_to_eof(5)
            k.check(not d.lines_matching(r"event=s2s-peer-external\b",
                                         mark),
                    "no EXTERNAL event", d.text(mark)[-1000:])
    rc = d.stop()
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "xmppshield exited 0 on SIGTERM, no sanitizer report",
         "rc=%s %s" % (rc, d.text()[-2000:]))
    be.spy.close()


# ---------------------------------------------------------------------------
# Part 2: real Prosody servers in a namespace

A_IP, B_IP = "127.0.0.10", "127.0.0.20"
REAL_DNS = "127.0.0.54"
OUT_PORT = 15270
USERS = {"alice@a.example": "alice-Ext-1", "bob@b.example": "bob-Ext-2"}


def federation(t):
    try:
        fedworld.require()
    except util.Skip as e:
        t.skip("real servers: A (certificates only) -> B (legacy) through "
               "xmppshield", str(e))
        return
    from test_federation import NsProsody
    from test_federation_out import RemoteProsody

    t0 = time.monotonic()
    hosts = {"a.example": A_IP, "b.example": B_IP}
    # the namespace's DNS, as A and B see it: a.example's s2s is
    # xmppshield's s2s-out (how B is routed), b.example is xmppshield
    tmp, ns = fedworld.world(dict(hosts, **{"out.example": "127.0.0.1"}),
                             ["_xmpp-server._tcp.a.example,out.example,%d"
                              % OUT_PORT])
    ns.start_dns(address=REAL_DNS, hosts=hosts, srv=[])
    test_ca = certs.CA(tmp, "federation test CA")
    ca, cb = test_ca.issue("a.example"), test_ca.issue("b.example")
    dirs = fedworld.server_dirs(tmp, ("a", "b"))
    # s2s_secure_auth = true, dialback disabled: only SASL EXTERNAL
    pa = RemoteProsody(dirs["a"], ns, ["a.example"], A_IP, 5222, 5269,
                       cert=ca, require=True, secure_auth=test_ca.cert,
                       dialback=False)
    pb = NsProsody(dirs["b"], ns, ["b.example"], "127.0.0.1", 15222, 15269)
    fedworld.start_servers((pa, pb), {"a.example": pa, "b.example": pb},
                           USERS)
    tap.diag("namespace %s, Prosody A (certificates only) and B (legacy) "
             "up in %.2f s" % (ns.name, time.monotonic() - t0))
    # two workers: the key one worker gave B is checked by whichever
    # worker B's verification reaches (the secret is drawn before fork)
    d = daemon.Daemon(tmp, {
        "global": {"log_level": "debug", "workers": "2"},
        "tls": {"s2s_ca_file": test_ca.cert},
        "domain b.example": {"certificate": cb.cert, "key": cb.key},
        "listener s2s": {"listen": B_IP + ":5269", "kind": "s2s",
                         "backend": "127.0.0.1:15269",
                         "domains": "b.example", "s2s_verify": "require"},
        "listener s2s-out": {"listen": "127.0.0.1:%d" % OUT_PORT,
                             "kind": "s2s-out", "domains": "b.example",
                             "s2s_out_resolver": REAL_DNS + ":53",
                             "s2s_out_timeout": "10"},
    }, prefix=ns.prefix()).start()
    mark = d.mark()
    spec = {
        "alice": {"jid": "alice@a.example", "pw": USERS["alice@a.example"],
                  "host": A_IP, "port": 5222},
        "bob": {"jid": "bob@b.example", "pw": USERS["bob@b.example"],
                "host": "127.0.0.1", "port": 15222},
    }
    r = fedworld.run_clients(ns, __file__, spec,
                             os.path.join(tmp, "clients.log"), 70.0)

    def diag():
        return fedworld.report(r, os.path.join(tmp, "clients.log"),
                               d.text(mark)[-5000:],
                               [("Prosody A", pa), ("Prosody B", pb)])

    with t.case("alice@a.example (Prosody with s2s_secure_auth, no "
                "dialback) -> bob@b.example (legacy Prosody, dialback "
                "only) behind xmppshield: inbound SASL EXTERNAL, the "
                "backend's dialback answered through s2s-out") as k:
        k.check("msg_bob" in r.get("steps", []), "bob got alice's message",
                diag())
        line = d.wait_for(r"event=%s\b.*\bdomain=a\.example\b"
                          % EVENT_AUTHED, start=mark, timeout=2)
        e = daemon.parse_line(line) if line else {}
        k.check(e.get("mechanism") == "external" and
                e.get("listener") == "s2s" and e.get("to") == "b.example",
                "event=%s mechanism=external domain=a.example to=b.example "
                "listener=s2s" % EVENT_AUTHED, d.text(mark)[-3000:])
        k.check(d.lines_matching(r"event=s2s-out-verify\b.*"
                                 r"\bremote=a\.example\b.*\bresult=valid",
                                 mark),
                "event=s2s-out-verify remote=a.example "
                "result=valid: B's <db:verify/> answered by the hook",
                d.text(mark)[-3000:])
        k.check(re.search(r"[Ii]ncoming s2s connection a\.example->"
                          r"b\.example complete", pb.log_text()),
                "Prosody B: incoming s2s a.example->b.example complete "
                "(by its own dialback)", util.tail_file(pb.log, 40))
        blog = pb.log_text()
        k.check(not re.search(r"Received\[s2sin[^\]]*\]: <(auth|success|"
                              r"stream:stream)\b", blog),
                "Prosody B's debug log: its incoming s2s stream received "
                "no <auth/>, no restart", util.tail_file(pb.log, 40))
        done = blog.find("Incoming s2s connection a.example->b.example "
                         "complete")
        msg = blog.find("Received[s2sin]: <message")
        k.check(0 <= done < msg and
                "Received[s2sin_unauthed]: <message" not in blog,
                "Prosody B got alice's message only after it had accepted "
                "a.example (held by xmppshield until then)",
                util.tail_file(pb.log, 40))
    ext = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-peer-external\b", mark)]
    ver = [daemon.parse_line(x) for x in
           d.lines_matching(r"event=s2s-out-verify\b", mark)]
    tap.diag("key made by worker pid %s, checked by pid %s"
             % ([e.get("_pid") for e in ext], [e.get("_pid") for e in ver]))
    with t.case("bob@b.example -> alice@a.example: the reply goes out "
                "through s2s-out, which authenticates to A by EXTERNAL on "
                "B's behalf (the coordinator's outgoing EXTERNAL)") as k:
        k.check("reply_alice" in r.get("steps", []),
                "alice got bob's reply", diag())
        k.check(d.lines_matching(r"event=s2s-out-authenticated\b.*"
                                 r"\bremote=a\.example\b", mark),
                "event=s2s-out-authenticated remote=a.example",
                d.text(mark)[-3000:])
    rc = d.stop()
    t.ok(rc == 0 and "Sanitizer" not in d.text() and
         "runtime error" not in d.text(),
         "xmppshield (namespace) exited 0 on SIGTERM, no sanitizer report",
         "rc=%s %s" % (rc, d.text()[-2000:]))
    for p in (pa, pb):
        p.stop()
    util.run_cleanups()
    t.ok(ns.gone(), "namespace %s removed" % ns.name)
    tap.diag("real-server part %.1f s" % (time.monotonic() - t0))


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    tmp = util.make_tmpdir()
    scripted(t, tmp)
    federation(t)


# --------------------------------------------------------------------------
# the child: slixmpp clients inside the namespace

def child(spec, logfile):
    from lib import xmppclient

    async def body(clients, result):
        a, b = clients["alice"], clients["bob"]
        await a.tell(b, "from-alice-", 30)
        result["steps"].append("msg_bob")
        await b.tell(a, "reply-", 30)
        result["steps"].append("reply_alice")

    xmppclient.federation_child(spec, logfile, "ext", body, 70)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]), sys.argv[3])
    tap.main(main)
