#!/usr/bin/python3
"""A real Prosody 0.12 (offering STARTTLS on its plaintext port) behind the
real daemon, used by slixmpp and raw clients."""
import re

from lib import backend_suite, expect, prosody, tap, util


def main(t):
    why = prosody.available()
    if why:
        raise util.Skip(why)

    def make(tmp, cert):
        return prosody.Prosody(tmp, offer_starttls=True, cert=cert).start()

    def encrypted(p):
        return len(re.findall(r"Stream encrypted", p.log_text()))

    # Prosody ends its streams with <system-shutdown/> when it stops: the
    # daemon relays it and sees the backend close its stream.  Under load
    # Prosody 0.12 sometimes exits before flushing it (seen connecting to
    # it directly): then the daemon sees the backend lost mid-stream.
    backend_suite.run(t, "Prosody", make, encrypted, on_shutdown=[
        (expect.SE_SYSTEM_SHUTDOWN, expect.CLOSE, expect.R_BACKEND_CLOSED),
        (expect.SE_REMOTE_FAILED, expect.BACKEND_ERROR,
         expect.R_BACKEND_LOST)])


if __name__ == "__main__":
    tap.main(main)
