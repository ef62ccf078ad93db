#!/usr/bin/python3
"""TLS 1.3 session resumption (NewSessionTicket, psk_dhe_ke): the cases
of test_resumption.py with TLS 1.3 clients, plus 0-RTT refused.  Skipped,
with the reason, when the daemon is built against mbedTLS 2.28."""
import test_resumption
from lib import tap

if __name__ == "__main__":
    tap.main(lambda t: test_resumption.main(t, version="1.3"))
