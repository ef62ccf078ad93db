"""Integration-test harness for xmppshield (stdlib + python3-slixmpp only).

Every helper here starts real processes (the daemon, Prosody, ejabberd,
openssl, slixmpp) in a per-test temporary directory, waits on events (log
lines, ports answering, stream headers) with bounded timeouts, and stops only
the processes it started, by PID.
"""
