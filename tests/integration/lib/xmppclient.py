"""Real-client check with python3-slixmpp 1.8.3.

run_scenario() starts Debian's /usr/bin/python3 on this module in a child
process with a hard timeout.  The child logs alice and bob in (SCRAM-SHA-1,
STARTTLS, the test certificate as the only trust anchor), adds bob to
alice's roster, fetches it, subscribes alice to bob (bob auto-accepts),
waits for bob's presence at alice, sends a message alice -> bob and a reply
bob -> alice, and disconnects both cleanly.  It prints one JSON object.

slixmpp notes (1.8.3): connect(address=('127.0.0.1', port)) skips SRV/DNS
and keeps the JID's domain for SNI and certificate checks; `force_starttls`
is stored but never enforced, so the wrapper refuses SASL without TLS itself
(unencrypted_scram=False) and reports the TLS version/cipher it got.
"""
import json
import os
import subprocess
import sys

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def available():
    if not os.access(PYTHON, os.X_OK):
        return "%s not found" % PYTHON
    r = subprocess.run([PYTHON, "-c", "import slixmpp"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return "python3-slixmpp not installed for %s" % PYTHON
    return None


def run_scenario(port, cafile=None, domain="example.org",
                 alice=("alice", "alice-pw"), bob=("bob", "bob-pw"),
                 require_tls=True, timeout=45.0, logfile=None,
                 direct_tls=False, alpn=None):
    """Returns the child's JSON result (a dict); result["ok"] is the verdict
    and result["steps"] lists what was reached.  direct_tls: XEP-0368, TLS
    from the first byte (slixmpp's use_ssl, SNI = the JID's domain); alpn:
    protocols the client offers (a list), e.g. ["xmpp-client"]."""
    args = [PYTHON, "-m", "lib.xmppclient", "--port", str(port),
            "--domain", domain, "--alice", "%s:%s" % alice,
            "--bob", "%s:%s" % bob, "--deadline", str(timeout - 5)]
    if direct_tls:
        args += ["--direct-tls"]
    if alpn:
        args += ["--alpn", ",".join(alpn)]
    if cafile:
        args += ["--ca", cafile]
    if not require_tls:
        args += ["--no-tls"]
    if logfile:
        args += ["--log", logfile]
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + (":" + env["PYTHONPATH"]
                                if env.get("PYTHONPATH") else "")
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env,
                           text=True)
    except subprocess.TimeoutExpired as e:
        return {"ok": False, "steps": [], "error": "client timed out",
                "stderr": (e.stderr or "")[-3000:] if isinstance(e.stderr, str)
                else ""}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"ok": False, "steps": [], "error": "no result (exit %d)"
                % r.returncode, "stderr": r.stderr[-3000:]}
    res = json.loads(lines[-1])
    res["stderr"] = r.stderr[-3000:]
    return res


# --------------------------------------------------------------------------
# the child side

def finish_child(loop, scenario, clients, result, deadline,
                 timeout_error=None):
    """The end of a slixmpp child: run scenario() on loop for at most
    deadline seconds, an exception into result["error"] (timeout_error()
    for a timeout, if given), every client's transport aborted, result
    printed as one JSON line, the process gone."""
    import asyncio
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), deadline))
    except Exception as e:
        if timeout_error is not None and \
                isinstance(e, asyncio.TimeoutError):
            result["error"] = timeout_error()
        else:
            result["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        for c in clients:
            try:
                if c.transport:
                    c.transport.abort()
            except Exception:
                pass
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)


def federation_child(spec, logfile, resource, body, deadline):
    """The child of a federation test (fedworld.run_clients() runs
    `script --child SPEC LOGFILE` inside the namespace): slixmpp's debug
    log in logfile; one client per spec entry, name -> {jid, pw, host,
    port, tls: "none" (the default: SCRAM-SHA-1 without TLS),
    "starttls" or "direct" (XEP-0368); ca: the trust anchor (without
    it no certificate check); alpn: a list}, bound to /resource; all
    logged in within 15 s (step "login"; a failed auth, connection or
    chain fails it at once), each available (presence sent, its roster
    back: step "available"); then `await body(clients, result)`
    (clients: name -> client, in spec order); all disconnected (step
    "disconnect"), result["ok"] set; finish_child() with deadline.

    A client's `await c.expect(frm, text, t)` waits at most t seconds
    until a message (frm: a bare JID, text) has arrived, `await
    c.until(pred, t)` until pred(c.seen): c.seen is every (sender's
    bare JID, body) it got, whenever it came (so several waits may run
    at once); each error message is in result["errors"] too.  `await
    c.tell(peer, prefix, t)` sends peer a chat message (prefix and a
    fresh uuid) and waits until peer has it."""
    import asyncio
    import logging
    import ssl
    import uuid

    import slixmpp

    logging.basicConfig(filename=logfile, level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(message)s")
    result = {"ok": False, "steps": [], "error": None, "errors": []}
    steps = result["steps"]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    class Client(slixmpp.ClientXMPP):
        def __init__(self, name, s):
            self.tls = s.get("tls", "none")
            super().__init__(s["jid"] + "/" + resource, s["pw"],
                             plugin_config={"feature_mechanisms": {
                                 "use_mech": "SCRAM-SHA-1",
                                 "unencrypted_scram": self.tls == "none",
                                 "unencrypted_plain": False}})
            self.name, self.s = name, s
            self.whitespace_keepalive = False
            self.reconnect_max_attempts = 0
            if s.get("alpn"):
                self.ssl_context.set_alpn_protocols(s["alpn"])
            if self.tls == "direct":
                # SNI: slixmpp 1.8.3 leaves it empty for an IP address;
                # it then resolves this name (the namespace's DNS) and
                # connects to default_port
                self.default_domain = self.boundjid.host
            self.default_port = s["port"]
            if s.get("ca"):
                self.ca_certs = s["ca"]
            else:
                self.ssl_context.check_hostname = False
                self.ssl_context.verify_mode = ssl.CERT_NONE
            self.started = loop.create_future()
            self.seen = set()
            self.arrived = asyncio.Condition()
            self.add_event_handler("session_start", self._start)
            for ev in ("failed_auth", "connection_failed",
                       "ssl_invalid_chain"):
                self.add_event_handler(ev, self._fail)
            self.add_event_handler("message", self._message)
            # slixmpp reports type='error' messages only as message_error
            self.add_event_handler("message_error", self._message)

        def _start(self, e):
            if not self.started.done():
                self.started.set_result(True)

        def _fail(self, e):
            result["errors"].append("%s: %s" % (self.name, e))
            if not self.started.done():
                self.started.set_exception(RuntimeError("%s: %s"
                                                        % (self.name, e)))

        def _message(self, m):
            if m["type"] == "error":
                result["errors"].append("%s got error %s from %s" % (
                    self.name, m["error"]["condition"], m["from"]))
            self.seen.add((str(m["from"].bare), m["body"]))
            asyncio.ensure_future(self._notify())

        async def _notify(self):
            async with self.arrived:
                self.arrived.notify_all()

        async def until(self, pred, t):
            async def arrived():
                async with self.arrived:
                    await self.arrived.wait_for(lambda: pred(self.seen))
            await asyncio.wait_for(arrived(), t)

        async def expect(self, frm, text, t):
            await self.until(lambda seen: (frm, text) in seen, t)

        async def tell(self, peer, prefix, t):
            text = prefix + uuid.uuid4().hex
            self.send_message(mto=peer.boundjid.bare, mbody=text,
                              mtype="chat")
            await peer.expect(self.boundjid.bare, text, t)

        def go(self):
            s = self.s
            self.connect(address=(s["host"], s["port"]),
                         use_ssl=self.tls == "direct",
                         force_starttls=self.tls == "starttls",
                         disable_starttls=self.tls != "starttls")

    clients = {n: Client(n, s) for n, s in spec.items()}

    async def scenario():
        for c in clients.values():
            c.go()
        await asyncio.wait_for(asyncio.gather(
            *(c.started for c in clients.values())), 15)
        steps.append("login")
        for c in clients.values():
            c.send_presence()
            # the server handles a client's stanzas in order: once the
            # roster is back, the presence has made the client available
            await asyncio.wait_for(c.get_roster(), 10)
        steps.append("available")
        await body(clients, result)
        for c in clients.values():
            await asyncio.wait_for(c.disconnect(wait=2.0), 8)
        steps.append("disconnect")
        result["ok"] = True

    finish_child(loop, scenario, clients.values(), result, deadline)


def _child(argv):
    import argparse
    import asyncio
    import logging
    import ssl
    import uuid

    import slixmpp

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--domain", default="example.org")
    ap.add_argument("--alice", required=True)
    ap.add_argument("--bob", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--deadline", type=float, default=40)
    ap.add_argument("--log")
    ap.add_argument("--direct-tls", action="store_true")
    ap.add_argument("--alpn")
    a = ap.parse_args(argv)

    if a.log:
        logging.basicConfig(filename=a.log, level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(message)s")
    else:
        logging.basicConfig(level=logging.CRITICAL)

    result = {"ok": False, "steps": [], "tls": {}, "error": None,
              "roster": [], "errors": []}
    steps = result["steps"]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    class Client(slixmpp.ClientXMPP):
        def __init__(self, name, user, pw):
            super().__init__(
                "%s@%s/test" % (user, a.domain), pw,
                plugin_config={"feature_mechanisms": {
                    "use_mech": "SCRAM-SHA-1",
                    "unencrypted_scram": bool(a.no_tls),
                    "unencrypted_plain": False}})
            self.name = name
            self.whitespace_keepalive = False
            self.reconnect_max_attempts = 0
            if a.alpn:
                self.ssl_context.set_alpn_protocols(a.alpn.split(","))
            if a.direct_tls:
                # slixmpp 1.8.3 leaves default_domain (its SNI and
                # certificate name) empty for a literal IP address; a
                # client that found the port by SRV sends the JID domain
                self.default_domain = a.domain
            if a.ca:
                self.ca_certs = a.ca
            else:
                self.ssl_context.check_hostname = False
                self.ssl_context.verify_mode = ssl.CERT_NONE
            self.roster.auto_authorize = True
            self.roster.auto_subscribe = False
            self.started = loop.create_future()
            self.messages = asyncio.Queue()
            self.presences = asyncio.Queue()
            self.add_event_handler("session_start", self._on_start)
            self.add_event_handler("failed_auth", self._on_fail)
            self.add_event_handler("connection_failed", self._on_fail)
            self.add_event_handler("ssl_invalid_chain", self._on_fail)
            self.add_event_handler("stream_error", self._on_stream_error)
            self.add_event_handler("disconnected", self._on_disc)
            self.add_event_handler("message", self._on_message)
            self.add_event_handler("presence_available", self._on_presence)
            self.add_event_handler("session_end", lambda e: None)

        def _on_start(self, event):
            if not self.started.done():
                self.started.set_result(True)

        def _on_fail(self, event):
            result["errors"].append("%s: %s" % (self.name, event))
            if not self.started.done():
                self.started.set_exception(RuntimeError(
                    "%s failed: %s" % (self.name, event)))

        def _on_stream_error(self, err):
            result["errors"].append("%s: stream error %s" % (
                self.name, err["condition"]))

        def _on_disc(self, event):
            if not self.started.done():
                self.started.set_exception(RuntimeError(
                    "%s disconnected before session start: %s"
                    % (self.name, event)))

        def _on_message(self, msg):
            if msg["type"] in ("chat", "normal"):
                self.messages.put_nowait((str(msg["from"].bare),
                                          msg["body"]))

        def _on_presence(self, pres):
            self.presences.put_nowait(str(pres["from"].bare))

        def tls_info(self):
            so = self.transport.get_extra_info("ssl_object") \
                if self.transport else None
            if so is None:
                return None
            return {"version": so.version(), "cipher": so.cipher()[0],
                    "alpn": so.selected_alpn_protocol()}

    ua, pa = a.alice.split(":", 1)
    ub, pb = a.bob.split(":", 1)
    alice = Client("alice", ua, pa)
    bob = Client("bob", ub, pb)
    jb = "%s@%s" % (ub, a.domain)
    ja = "%s@%s" % (ua, a.domain)

    async def step(name, coro, t=10):
        r = await asyncio.wait_for(coro, t)
        steps.append(name)
        return r

    async def wait_queue(q, pred, t=10):
        async def get():
            while True:
                item = await q.get()
                if pred(item):
                    return item
        return await asyncio.wait_for(get(), t)

    async def scenario():
        for c in (alice, bob):
            c.connect(address=(a.host, a.port), use_ssl=a.direct_tls,
                      force_starttls=not a.no_tls and not a.direct_tls,
                      disable_starttls=bool(a.no_tls) or a.direct_tls)
        await step("login", asyncio.gather(alice.started, bob.started), 15)
        for c in (alice, bob):
            info = c.tls_info()
            result["tls"][c.name] = info
            if info is None and not a.no_tls:
                raise RuntimeError("%s logged in without TLS" % c.name)
        steps.append("tls")
        for c in (alice, bob):
            await step("get_roster_" + c.name, c.get_roster())
            c.send_presence()
        await step("roster_add", alice.update_roster(jb, name="Bob",
                                                    groups=["test"]))
        # a plain roster get without 'ver' so the server sends every item
        # (get_roster() uses roster versioning and may get an empty result)
        req = alice.Iq(stype="get")
        req.enable("roster")
        iq = await step("roster_fetch", req.send(timeout=10))
        result["roster"] = sorted(str(j) for j in
                                  iq["roster"]["items"].keys())
        if jb not in result["roster"]:
            raise RuntimeError("bob not in alice's roster: %r"
                               % result["roster"])
        steps.append("roster")
        alice.send_presence_subscription(pto=jb)
        await step("presence", wait_queue(alice.presences,
                                          lambda f: f == jb))
        token = "hello-" + uuid.uuid4().hex
        alice.send_message(mto=jb, mbody=token, mtype="chat")
        await step("message", wait_queue(bob.messages,
                                         lambda m: m == (ja, token)))
        token2 = "reply-" + uuid.uuid4().hex
        bob.send_message(mto=ja, mbody=token2, mtype="chat")
        await step("reply", wait_queue(alice.messages,
                                       lambda m: m == (jb, token2)))
        for c in (alice, bob):
            await step("disconnect_" + c.name, c.disconnect(wait=2.0), 8)
        result["ok"] = True

    finish_child(loop, scenario, (alice, bob), result, a.deadline,
                 lambda: "timeout after steps %s" % steps)


if __name__ == "__main__":
    _child(sys.argv[1:])
