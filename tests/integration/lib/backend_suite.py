"""The cases test_prosody.py and test_ejabberd.py share: a real XMPP server
behind the real daemon, driven by slixmpp and by raw sockets."""
import base64
import re
import time

from . import certs, common, daemon, expect, raw, tap, util, xmppclient

USERS = {"alice": "alice-Pw-1", "bob": "bob-Pw-2"}
AEAD_RX = r"GCM|CHACHA20"


def plain(user, pw):
    return base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()


def run(t, name, make_backend, encrypted_count, on_shutdown):
    """make_backend(tmpdir, cert) -> started backend with .port, .register,
    .stop, .log_text, .start_time; encrypted_count(backend) -> how many
    client sessions the backend itself saw encrypted.  on_shutdown = the
    acceptable outcomes (stream error the client gets, event, reason) when
    the backend stops under an established, unauthenticated session."""
    daemon.binary()
    why = xmppclient.available()
    if why:
        raise util.Skip(why)
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)
    cert = c["rsa"]

    t0 = time.monotonic()
    be = make_backend(tmp, cert)
    tap.diag("%s ready in %.2f s (stream features answered)"
             % (name, be.start_time))
    t1 = time.monotonic()
    for u, pw in USERS.items():
        be.register(u, pw)
    tap.diag("%s: %d accounts registered in %.2f s"
             % (name, len(USERS), time.monotonic() - t1))
    users = dict(alice=("alice", USERS["alice"]), bob=("bob", USERS["bob"]))

    with t.case("harness self-check: slixmpp logs in straight to %s "
                "(its own STARTTLS)" % name) as k:
        r = xmppclient.run_scenario(be.port, cafile=cert.cert,
                                    logfile=tmp + "/slixmpp-direct.log",
                                    **users)
        k.check(r["ok"], "scenario passes", "%s steps=%s\n%s" % (
            r.get("error"), r.get("steps"), r.get("stderr")))

    d = daemon.Daemon(tmp, daemon.base_config(cert, be.port)).start()
    enc_before = encrypted_count(be)
    mark = d.mark()

    want = daemon.tls_version()
    with t.case("slixmpp through xmppshield to %s: SCRAM-SHA-1 over "
                "STARTTLS (%s), roster, presence, message both ways"
                % (name, want)) as k:
        r = xmppclient.run_scenario(d.port(), cafile=cert.cert,
                                    logfile=tmp + "/slixmpp-proxy.log",
                                    **users)
        k.check(r["ok"], "scenario passes", "%s steps=%s errors=%s\n%s"
                % (r.get("error"), r.get("steps"), r.get("errors"),
                   util.tail_file(tmp + "/slixmpp-proxy.log", 30)))
        for who, info in sorted((r.get("tls") or {}).items()):
            k.check(info and info["version"] == want,
                    "%s %s" % (who, want), info)
            # TLS 1.3 suites name no key exchange: it is always (EC)DHE
            k.check(info and re.search(AEAD_RX, info["cipher"]) and
                    info["cipher"].startswith(
                        "TLS_" if want == "TLSv1.3" else "ECDHE"),
                    "%s ECDHE AEAD cipher" % who, info)
        k.check("bob@example.org" in r.get("roster", []),
                "roster fetched with bob", r.get("roster"))

    with t.case("the log shows tls-established and a clean close for both "
                "clients") as k:
        est = [daemon.parse_line(l) for l in d.lines_matching(
            r"event=%s\b" % expect.TLS_ESTABLISHED, mark)]
        k.check(len(est) == 2, "two tls-established lines", est)
        for e in est:
            k.check(e.get("domain") == "example.org" and
                    e.get("tls_version") == want,
                    "domain=example.org tls_version=%s" % want, e)
            end, ends = d.end_of(e.get("client"))
            k.check(end and end.get("event") == expect.CLOSE and
                    end.get("reason") in (expect.R_CLIENT_CLOSED,
                                          expect.R_BACKEND_CLOSED),
                    "session %s ended with event=close" % e.get("session"),
                    end)
            k.check(len(ends) == 1, "one end line", ends)
            if end:
                k.check(int(end.get("bytes_in", "0")) > 0 and
                        int(end.get("bytes_out", "0")) > 0,
                        "byte counters set", end)

    with t.case("%s saw the proxied sessions as plaintext (no double TLS)"
                % name) as k:
        k.check(encrypted_count(be) == enc_before,
                "no new encrypted session at the backend",
                "%d before, %d after" % (enc_before, encrypted_count(be)))

    with t.case("a wrong password is refused by %s through the proxy, the "
                "right one accepted (SASL PLAIN relayed)" % name) as k:
        for pw, want in (("wrong-Pw-0", rb"<failure[^>]*>.*?</failure>"),
                         (USERS["alice"], rb"<success[^>]*(/>|>.*?</success>)")):
            with d.client() as cl:
                k.require(cl.open_stream(), "features", repr(cl.data))
                cl.starttls(cafile=cert.cert)
                cl.send(raw.header())
                k.require(cl.recv_until(rb"</stream:features>"),
                          "backend features", repr(cl.data))
                mark2 = len(cl.data)
                cl.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                        "mechanism='PLAIN'>%s</auth>" % plain("alice", pw))
                m = cl.recv_until(rb"<failure|<success", start=mark2)
                k.check(m is not None and cl.recv_until(want, start=mark2),
                        "answer %s" % want.decode()[:9],
                        repr(cl.data[mark2:]))
                if b"<failure" in cl.data[mark2:]:
                    k.check(b"not-authorized" in cl.data[mark2:],
                            "<not-authorized/>", repr(cl.data[mark2:]))
                else:
                    # RFC 6120 6.4.6: after <success/> the client restarts
                    # the stream; the backend then offers resource binding
                    mark3 = len(cl.data)
                    cl.send(raw.header())
                    k.check(cl.recv_until(rb"<bind\b.*</stream:features>",
                                          start=mark3),
                            "restarted stream offers <bind/>",
                            repr(cl.data[mark3:]))
                cl.send(raw.END)
                cl.read_to_eof(5)
            end, _ = d.end_of(cl)
            k.check(end and end.get("event") == expect.CLOSE,
                    "clean close", end)
        common.log_clean(k, d, [plain("alice", USERS["alice"]),
                                USERS["alice"], "wrong-Pw-0"])

    with t.case("%s shutting down: an established client gets a well-formed "
                "stream end matching what the backend did (%s)"
                % (name, " or ".join("<%s/> event=%s reason=%s" % o
                                     for o in on_shutdown))) as k:
        cl = d.client(timeout=20)
        k.require(cl.open_stream(), "features", repr(cl.data))
        cl.starttls(cafile=cert.cert)
        cl.send(raw.header())
        k.require(cl.recv_until(rb"</stream:features>"), "backend features",
                  repr(cl.data))
        be.stop()
        k.check(cl.read_to_eof(20), "client connection closed",
                repr(cl.data[-200:]))
        v = cl.view()
        k.check(v.error is None and v.closed,
                "well-formed, ends with </stream:stream>",
                "%s %r" % (v.error, cl.data[-300:]))
        outcome = [o for o in on_shutdown if o[0] == v.stream_error()]
        k.check(outcome, "stream error one of %s" % (
            [o[0] for o in on_shutdown],), repr(cl.data[-300:]))
        cl.close()
        if outcome:
            common.end_line(k, d, cl, outcome[0][1], outcome[0][2])

    with t.case("%s stopped: a new client gets <remote-connection-failed/>, "
                "reason=connect-failed" % name) as k:
        with d.client() as cl:
            k.require(cl.open_stream(), "features", repr(cl.data))
            cl.starttls(cafile=cert.cert)
            cl.send(raw.header())
            common.stream_error(k, cl, expect.SE_REMOTE_FAILED)
        common.end_line(k, d, cl, expect.BACKEND_ERROR,
                        expect.R_CONNECT_FAILED)

    t.ok(d.alive(), "daemon still running", d.text()[-1500:])
    d.stop()
    common.sessions_end_once(t, d)
    tap.diag("%s total time %.1f s" % (name, time.monotonic() - t0))
