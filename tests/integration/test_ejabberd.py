#!/usr/bin/python3
"""A real ejabberd 23.01 (STARTTLS offered, not required) behind the real
daemon, used by slixmpp and raw clients."""
import re

from lib import backend_suite, ejabberd, expect, tap, util


def main(t):
    why = ejabberd.available()
    if why:
        raise util.Skip(why)

    def make(tmp, cert):
        return ejabberd.Ejabberd(tmp, cert=cert, offer_starttls=True).start()

    def encrypted(e):
        # ejabberd tags each c2s log line with its socket type: (tls|<pid>)
        return len(re.findall(r"\(tls\|<[^>]*>\) Accepted c2s",
                              e.log_text()))

    # ejabberd 23.01 drops unauthenticated c2s connections on stop without
    # a stream error or </stream:stream> (checked directly): the daemon
    # sees the backend lost mid-stream and tells the client.
    backend_suite.run(t, "ejabberd", make, encrypted, on_shutdown=[
        (expect.SE_REMOTE_FAILED, expect.BACKEND_ERROR,
         expect.R_BACKEND_LOST)])


if __name__ == "__main__":
    tap.main(main)
