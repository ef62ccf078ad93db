#!/bin/sh
# install-deps.sh - install what xmppshield needs on Debian 12 or 13.
#
#   contrib/install-deps.sh          build dependencies, and mbedTLS 3.6
#   contrib/install-deps.sh --tests  plus the real servers and clients the
#                                    test suite runs (Prosody, ejabberd,
#                                    slixmpp, openssl, clang, HAProxy,
#                                    testssl.sh, fail2ban-regex,
#                                    systemd-analyze, prometheus and
#                                    promtool; dnsmasq-base answers DNS
#                                    inside the federation test's network
#                                    namespace, nftables redirects the
#                                    backend's outgoing s2s in one of them;
#                                    unbound serves a zone ldnsutils signs
#                                    for the DANE test, dns-root-data is
#                                    the default DNSSEC trust anchor)
#   contrib/install-deps.sh --mbedtls-only
#                                    only (re)build the private mbedTLS 3.6
#                                    (the update command in docs/SECURITY.md)
#
# mbedTLS 3.6 LTS (TLS 1.3).  Debian 12 ships 2.28 only, so on Debian 12
# this script builds Debian 13's `mbedtls` source package into a private
# prefix, /opt/xmppshield-mbedtls (override: MBEDTLS_PREFIX=...), which
# ./configure finds by itself:
#   - apt-get source runs with its own state directory
#     (/var/cache/xmppshield/apt) holding one `deb-src ... trixie main` line,
#     signed-by the Debian archive keyring Debian 12 already has: the
#     download is verified as any apt download is, and nothing in the
#     system's apt sources or package database changes;
#   - the library is built static, with Debian's configuration plus
#     Everest, mbedTLS's own formally verified X25519 (upstream carries it
#     in 3rdparty/, Debian's build leaves it out): it makes X25519
#     handshakes about twice as cheap.  p256-m stays off (it made TLS 1.3
#     P-256 handshakes 3.5x slower here).  Outgoing records are capped at
#     8 KiB (MBEDTLS_SSL_OUT_CONTENT_LEN): 8 KiB less memory per
#     connection;
#   - if that exact Debian version, built by this recipe, is already in
#     the prefix, nothing is rebuilt: re-running the script is the update
#     path when Debian publishes a fix (then rebuild xmppshield).
# On Debian 13 the system's libmbedtls-dev is 3.6 and is used (security
# updates then come with apt); MBEDTLS_PRIVATE=1 builds the private copy
# there too (Everest).  MBEDTLS_PRIVATE=0 skips the private build.
#
# Installing prosody or ejabberd would start their system services and
# take ports 5222/5269: a policy-rc.d that forbids starting services is in
# place for the duration of the install (and removed after, if we made it).
set -eu

BUILD="build-essential autoconf automake pkg-config libevent-dev
    libmbedtls-dev libexpat1-dev libinih-dev libc-ares-dev libunbound-dev"
# what building the mbedTLS source package needs (apt-get source, cmake)
MBEDTLS_BUILD="dpkg-dev cmake python3 debian-archive-keyring xz-utils bzip2"
TESTS="prosody ejabberd python3 python3-slixmpp openssl clang
    libclang-rt-14-dev iproute2 procps dnsmasq-base nftables
    haproxy fail2ban systemd prometheus python3-cryptography testssl.sh
    unbound ldnsutils dns-root-data"

# Bump when the build recipe below changes: the prefix is rebuilt.
RECIPE=2
PREFIX=${MBEDTLS_PREFIX:-/opt/xmppshield-mbedtls}
STATE=/var/cache/xmppshield
SUITE=trixie

mode=${1:-}
case $mode in
	""|--tests|--mbedtls-only) ;;
	*) echo "usage: $0 [--tests | --mbedtls-only]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (as root: $0 $*)" >&2
	exit 1
fi

debian_major() {
	sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release 2>/dev/null
}

# apt-get with a private state: only our trixie deb-src line, our lists and
# cache; the system's sources, lists and dpkg database are not touched.
papt() {
	cmd=$1; shift
	"$cmd" -q \
	    -o Dir::Etc::SourceList="$STATE/apt/sources.list" \
	    -o Dir::Etc::SourceParts="$STATE/apt/sources.list.d" \
	    -o Dir::State::Lists="$STATE/apt/lists" \
	    -o Dir::Cache="$STATE/apt/cache" \
	    -o APT::Sandbox::User=root "$@"
}

build_mbedtls() {
	mkdir -p "$STATE/apt/lists/partial" "$STATE/apt/cache/archives/partial" \
	    "$STATE/apt/sources.list.d"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
	    > "$STATE/apt/sources.list"
	papt apt-get update
	ver=$(papt apt-cache showsrc mbedtls | sed -n 's/^Version: //p' | sort -V | tail -n 1)
	if [ -z "$ver" ]; then
		echo "install-deps.sh: no mbedtls source package in $SUITE" >&2
		exit 1
	fi
	want="mbedtls $ver recipe $RECIPE"
	if [ "$(cat "$PREFIX/VERSION" 2>/dev/null)" = "$want" ]; then
		echo "install-deps.sh: $want already in $PREFIX"
		return 0
	fi
	echo "install-deps.sh: building $want into $PREFIX"
	work="$STATE/mbedtls-build"
	rm -rf "$work" && mkdir -p "$work"
	(cd "$work" && papt apt-get source "mbedtls=$ver")
	src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'mbedtls-*' | head -n 1)
	cd "$src"
	# Debian's configuration (debian/rules)...
	for opt in MBEDTLS_DEPRECATED_WARNING MBEDTLS_THREADING_C \
	    MBEDTLS_THREADING_PTHREAD MBEDTLS_CMAC_C MBEDTLS_SSL_DTLS_SRTP; do
		python3 scripts/config.py set "$opt"
	done
	# ...plus Everest X25519, which needs the 3rdparty directory Debian's
	# cmake-disable-3rdparty.patch takes out of the build.
	python3 scripts/config.py set MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED
	# Records we send are at most 8 KiB (any size is valid TLS): 8 KiB
	# less per connection, which keeps an idle TLS 1.3 connection under
	# 40 KiB (mbedTLS 3.6 keeps its TLS 1.3 handshake state until the
	# connection ends).  Incoming records stay at 16 KiB.  A handshake
	# message must fit: xmppshield refuses at start a certificate chain
	# larger than that, naming it.
	python3 scripts/config.py set MBEDTLS_SSL_OUT_CONTENT_LEN 8192
	grep -q '^add_subdirectory(3rdparty)' CMakeLists.txt ||
	    sed -i 's/^add_subdirectory(library)$/add_subdirectory(3rdparty)\nadd_subdirectory(library)/' CMakeLists.txt
	# Debian's hardening flags; position-independent for PIE binaries.
	CFLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
	LDFLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)"
	export CFLAGS LDFLAGS
	rm -rf "$PREFIX.new"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_INSTALL_PREFIX="$PREFIX.new" -DCMAKE_INSTALL_LIBDIR=lib \
	    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
	    -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
	    -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DGEN_FILES=OFF \
	    -DMBEDTLS_FATAL_WARNINGS=OFF >/dev/null
	cmake --build build -j "$(nproc)" >/dev/null
	cmake --install build >/dev/null
	echo "$want" > "$PREFIX.new/VERSION"
	# swap in one step: a build that failed above leaves the old prefix
	rm -rf "$PREFIX.old"
	[ ! -e "$PREFIX" ] || mv "$PREFIX" "$PREFIX.old"
	mv "$PREFIX.new" "$PREFIX"
	rm -rf "$PREFIX.old" "$work"
	echo "install-deps.sh: $want installed in $PREFIX"
}

made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive

major=$(debian_major)
private=${MBEDTLS_PRIVATE:-}
if [ -z "$private" ]; then
	# Debian 13 and later ship 3.6 themselves.
	if [ -n "$major" ] && [ "$major" -ge 13 ]; then private=0; else private=1; fi
fi

pkgs=$BUILD
[ "$mode" = "--tests" ] && pkgs="$BUILD $TESTS"
[ "$private" = 1 ] && pkgs="$pkgs $MBEDTLS_BUILD"
[ "$mode" = "--mbedtls-only" ] && pkgs=$MBEDTLS_BUILD

apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs

if [ "$private" = 1 ] || [ "$mode" = "--mbedtls-only" ]; then
	build_mbedtls
fi
