#!/usr/bin/python3
"""A real Prosody that offers STARTTLS itself behind xmppshield: after TLS
the client sees Prosody's mechanisms byte for byte and no <starttls/>."""
import re

from lib import certs, common, daemon, expect, prosody, raw, tap, util


def main(t):
    daemon.binary()
    util.require_tool("openssl")
    name = ("a real Prosody offering STARTTLS: the client sees its "
            "mechanisms byte for byte and no <starttls/>")
    why = prosody.available()
    if why:
        t.skip(name, why)
        return
    tmp = util.make_tmpdir()
    cert = certs.make_certs(tmp)["rsa"]
    with t.case(name) as k:
        p = prosody.Prosody(tmp, offer_starttls=True, cert=cert).start()
        with raw.RawClient(p.port) as direct:
            direct.open_stream()
        k.require(b"<starttls" in direct.data,
                  "Prosody offers STARTTLS directly", repr(direct.data))
        mech = re.search(rb"<mechanisms\b.*?</mechanisms>", direct.data)
        tmp3 = util.make_tmpdir()
        d = daemon.Daemon(tmp3, daemon.base_config(cert, p.port)).start()
        cl = d.client()
        cl.open_stream()
        cl.starttls(cafile=cert.cert)
        cl.send(raw.header())
        k.require(cl.recv_until(rb"</stream:features>"),
                  "features through the proxy", repr(cl.data))
        v = cl.view()
        tags = [x.tag for x in v.features()]
        k.check(raw.q("starttls", raw.NS_TLS) not in tags,
                "no <starttls/>", tags)
        k.check(mech and mech.group(0) in cl.data,
                "mechanisms byte for byte", "%r vs %r" % (
                    mech and mech.group(0), cl.data))
        cl.send(raw.END)
        cl.read_to_eof(5)
        cl.close()
        common.end_line(k, d, cl, expect.CLOSE)
        d.stop()
        p.stop()


if __name__ == "__main__":
    tap.main(main)
