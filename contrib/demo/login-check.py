#!/usr/bin/python3
"""login-check.py - log in through xmppshield with a real XMPP client.

usage: login-check.py JID PASSWORD HOST PORT CAFILE

Connects with python3-slixmpp to HOST:PORT, negotiates STARTTLS (the
certificate is checked against CAFILE, e.g. the demo's self-signed one),
authenticates with SCRAM, sends a message to itself and waits for it.
Prints what it did and exits 0 on success, 1 on failure (20 s at most).
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


class Check(slixmpp.ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ok = False
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", self.on_fail)

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        tls = self.socket.version() if hasattr(self.socket, "version") else "?"
        print(f"logged in as {self.boundjid} over {tls}")
        self.send_message(mto=self.boundjid, mbody="hello through xmppshield")

    def on_message(self, msg):
        if msg["body"] == "hello through xmppshield":
            print("message delivered through the proxy")
            self.ok = True
            self.disconnect()

    def on_fail(self, _event):
        print("authentication failed")
        self.disconnect()


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    jid, password, host, port, cafile = sys.argv[1:]
    logging.basicConfig(level=logging.ERROR)
    xmpp = Check(jid, password, cafile)
    xmpp.connect(address=(host, int(port)), force_starttls=True)
    try:
        xmpp.loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 20))
    except asyncio.TimeoutError:
        print("timed out")
    return 0 if xmpp.ok else 1


if __name__ == "__main__":
    sys.exit(main())
