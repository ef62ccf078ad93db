"""Integration-test harness for xmppshield (stdlib + python3-slixmpp only).

Every helper starts real processes (the daemon, Prosody, ejabberd, openssl,
slixmpp) in a per-test-file temporary directory, waits on events (log lines,
ports answering, stream headers) with bounded timeouts, and stops only the
processes it started, by PID.

Modules
  tap          TAP output, test cases, skip, the per-file watchdog
  util         temp dir, cleanup registry, process stop by PID, ports,
               LineCollector (a child's output as awaitable lines)
  expect       every log event/reason and stream-error name the tests expect
  certs        self-signed RSA-2048 / ECDSA P-256 certificates for example.org
  daemon       config writer, the daemon under test, log parsing and waits
  raw          raw-socket XMPP (exact pre-TLS bytes, ssl upgrade, StreamView)
  spy          recording / scripted TCP backend
  prosody      a private Prosody 0.12 instance
  ejabberd     a private ejabberd 23.01 node
  xmppclient   slixmpp alice/bob scenario in a child process
  common       checks shared by the test files
  backend_suite  the cases test_prosody.py and test_ejabberd.py share

Running one file by hand (as root for Prosody/ejabberd):
  XMPPSHIELD=build/src/xmppshield TOP_SRCDIR=$PWD \\
  PYTHONPATH=tests/integration /usr/bin/python3 tests/integration/test_relay.py

Environment
  XMPPSHIELD              the daemon binary (the file is skipped without it)
  TOP_SRCDIR              source tree (for etc/xmppshield.conf.example)
  XMPPSHIELD_KEEP_TMP=1   keep the temp dirs (configs, logs) for inspection
  XMPPSHIELD_TEST_BUDGET  seconds before a hanging file is stopped (150)
  XMPPSHIELD_SKIP_EXIT    exit status of a skipped file: 0 (default, what
                          automake's tap-driver.sh needs) or 77
"""
