#!/bin/sh
# demo.sh - try xmppshield in one command on a fresh Debian 12 machine.
#
#   sudo contrib/demo/demo.sh
#
# Installs the build dependencies and Prosody, builds xmppshield in build/,
# starts a private Prosody on 127.0.0.1:15222 (plaintext, loopback only,
# from build/demo/, never touching /etc/prosody), creates the account
# demo@localhost, makes a self-signed certificate for "localhost" on first
# run, and starts xmppshield in the foreground on port 5222 in front of it.
# It then logs in once through the proxy with a real client to show that
# it works, and keeps running until Ctrl-C.
#
# Point any XMPP client at localhost:5222 as demo@localhost (password
# printed below; accept the self-signed certificate).  Override the port
# with DEMO_PORT=15223 if 5222 is taken.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
port=${DEMO_PORT:-5222}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: sudo $0" >&2
	exit 1
fi
contrib/install-deps.sh
DEBIAN_FRONTEND=noninteractive apt-get install -y -q prosody python3-slixmpp openssl >/dev/null

[ -x configure ] || autoreconf -fi
mkdir -p build
( cd build && { [ -f Makefile ] || ../configure -q; } && make -j2 -s )

demo=$top/build/demo
mkdir -p "$demo/prosody/data" "$demo/prosody/certs"
if [ ! -f "$demo/localhost.crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 365 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	    -keyout "$demo/localhost.key" -out "$demo/localhost.crt" 2>/dev/null
fi
[ -f "$demo/password" ] || od -An -N9 -tx1 /dev/urandom | tr -d ' \n' > "$demo/password"
password=$(cat "$demo/password")

cat > "$demo/prosody/prosody.cfg.lua" <<EOC
-- The backend: plaintext on loopback only; xmppshield adds TLS in front.
pidfile = "$demo/prosody/prosody.pid"
data_path = "$demo/prosody/data"
certificates = "$demo/prosody/certs"
log = { info = "$demo/prosody/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { 15222 }
s2s_ports = { }
component_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
modules_enabled = { "roster", "saslauth", "disco", "ping", "presence", "message", "iq" }
modules_disabled = { "tls", "s2s" }
VirtualHost "localhost"
EOC
cat > "$demo/xmppshield.conf" <<EOC
# The demo configuration: see etc/xmppshield.conf.example for every key.
[global]
log_level = info
[tls]
certificate = $demo/localhost.crt
key = $demo/localhost.key
[domain localhost]
[listener c2s]
listen = 127.0.0.1:$port [::1]:$port
kind = c2s
backend = 127.0.0.1:15222
domains = localhost
EOC
chown -R prosody "$demo/prosody"

prosody_pid=
shield_pid=
cleanup() {
	[ -n "$shield_pid" ] && kill "$shield_pid" 2>/dev/null || true
	[ -n "$prosody_pid" ] && kill "$prosody_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

runuser -u prosody -- prosodyctl --config "$demo/prosody/prosody.cfg.lua" \
    register demo localhost "$password" >/dev/null 2>&1
runuser -u prosody -- prosody -F --config "$demo/prosody/prosody.cfg.lua" \
    >"$demo/prosody/stdout.log" 2>&1 &
prosody_pid=$!

build/src/xmppshield -n -c "$demo/xmppshield.conf"
build/src/xmppshield -d -c "$demo/xmppshield.conf" &
shield_pid=$!

# Wait (bounded) for both to answer rather than sleeping a guess.
i=0
until /usr/bin/python3 -c "
import socket,sys
for p in (15222, $port):
    socket.create_connection(('127.0.0.1', p), 1).close()
" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 50 ]; then
		echo "demo.sh: Prosody or xmppshield did not start; see $demo/prosody/prosody.log" >&2
		exit 1
	fi
	sleep 0.2
done

echo
echo "xmppshield is in front of Prosody on localhost:$port."
echo "Account: demo@localhost  password: $password"
echo "Certificate to trust: $demo/localhost.crt"
echo
/usr/bin/python3 contrib/demo/login-check.py demo@localhost "$password" \
    127.0.0.1 "$port" "$demo/localhost.crt" 2>/dev/null
echo
echo "Try your own client now; Ctrl-C stops both servers."
wait "$shield_pid"
