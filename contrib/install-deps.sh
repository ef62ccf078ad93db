#!/bin/sh
# install-deps.sh - install the Debian 12 packages xmppshield needs.
#
#   contrib/install-deps.sh          build dependencies only
#   contrib/install-deps.sh --tests  plus the real servers and clients the
#                                    test suite runs (Prosody, ejabberd,
#                                    slixmpp, openssl, clang, HAProxy,
#                                    fail2ban-regex, systemd-analyze,
#                                    prometheus and promtool;
#                                    dnsmasq-base answers DNS inside the
#                                    federation test's network namespace,
#                                    nftables redirects the backend's
#                                    outgoing s2s in one of them)
#
# Installing prosody or ejabberd would start their system services and
# take ports 5222/5269: a policy-rc.d that forbids starting services is in
# place for the duration of the install (and removed after, if we made it).
set -eu

BUILD="build-essential autoconf automake pkg-config libevent-dev
    libmbedtls-dev libexpat1-dev libinih-dev libc-ares-dev"
TESTS="prosody ejabberd python3 python3-slixmpp openssl clang
    libclang-rt-14-dev iproute2 procps dnsmasq-base nftables
    haproxy fail2ban systemd prometheus python3-cryptography"

pkgs=$BUILD
[ "${1:-}" = "--tests" ] && pkgs="$BUILD $TESTS"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (sudo $0 $*)" >&2
	exit 1
fi

made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs
