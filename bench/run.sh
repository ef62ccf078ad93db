#!/bin/bash
# bench/run.sh - xmppshield against stunnel, HAProxy, hitch and a bare
# mbedTLS relay, side by side in one run on this machine.
#
#   sudo bench/run.sh            full run (about 5-10 minutes)
#   sudo bench/run.sh --quick    smaller counts, no 10k-connection test
#   make bench                   the same as bench/run.sh from a build tree
#
# Options: --quick, --no-install (use what is installed), --keep (keep the
# work directory).  XMPPSHIELD=/path/to/xmppshield uses that binary instead
# of building one in the work directory (BENCH_DIR, default build-bench/);
# BENCH_SERVERS="xs-starttls ref" measures only those;
# BENCH_WORKERS_SERVERS="xs-direct" limits the workers table to those;
# BENCH_MANY=N holds N idle connections to xmppshield at once (default
# 50000, 0 skips; --quick skips it unless set).
#
# Three rounds, peers always at the same TLS version as xmppshield:
#   3.6/TLS1.3  xmppshield and the bare relay on mbedTLS 3.6 (the default
#               build: contrib/install-deps.sh's private copy), TLS 1.3;
#   3.6/TLS1.2  the same binaries, TLS 1.2;
#   2.28/TLS1.2 xmppshield and the bare relay built against Debian 12's
#               mbedTLS 2.28 (./configure --with-mbedtls=system), TLS 1.2.
# BENCH_ROUNDS="3.6/1.3 3.6/1.2 2.28/1.2" picks rounds.  The workers and
# many-connections tables run in the first round only.
#
# Every server gets the same ECDSA P-256 certificate, the round's TLS
# version only, and the
# same client (bench/loadgen.c, OpenSSL) and backend (bench/backend.c).
# Peers get direct TLS (none speaks XMPP STARTTLS); xmppshield is measured
# with STARTTLS, and with direct TLS too when its listeners offer it.
# Server CPU is utime+stime from /proc/PID/stat, memory is VmRSS; the
# load generator and the backend run on the same machine and their CPU is
# not counted.  xmppshield runs with workers = 1 in the side-by-side table
# (every peer runs one process or thread too); a second table measures
# handshakes with 1, 2 and nproc workers.  Not part of "make check".
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 INSTALL=1 KEEP=0
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	--no-install) INSTALL=0 ;;
	--keep) KEEP=1 ;;
	*) echo "usage: bench/run.sh [--quick] [--no-install] [--keep]" >&2
	   exit 2 ;;
	esac
done
W=${BENCH_DIR:-$TOP/build-bench}
mkdir -p "$W"
W=$(cd "$W" && pwd)
RUN=$W/run
rm -rf "$RUN"
mkdir -p "$RUN"

say() { printf '%s\n' "$*" >&2; }

# --- dependencies ------------------------------------------------------
PEERS="stunnel4 haproxy hitch libssl-dev openssl gcc libc6-dev"
if [ "$INSTALL" = 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		say "bench/run.sh: run as root to install packages (or --no-install)"
		exit 1
	fi
	"$TOP/contrib/install-deps.sh" >/dev/null
	# Installing haproxy, hitch and stunnel4 would start their system
	# services: forbid that while installing, as install-deps.sh does.
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -q --no-install-recommends $PEERS >/dev/null
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
for t in haproxy hitch stunnel4 openssl cc; do
	command -v $t >/dev/null || { say "bench: $t missing (drop --no-install)"; exit 1; }
done

# --- build -------------------------------------------------------------
# build_xs DIR CONFIGURE-ARGS: xmppshield built in $W/DIR.
build_xs() {
	say "bench: building xmppshield in $W/$1 ($2)"
	if [ ! -x "$TOP/configure" ]; then
		(cd "$TOP" && autoreconf -fi >/dev/null 2>&1)
	fi
	mkdir -p "$W/$1"
	# shellcheck disable=SC2086
	(cd "$W/$1" && { [ -f Makefile ] || "$TOP/configure" $2 >/dev/null; } &&
	    make -j"$(nproc)" src/xmppshield >/dev/null)
}
if [ -z "${XMPPSHIELD:-}" ]; then
	build_xs xs ""
	XMPPSHIELD=$W/xs/src/xmppshield
fi
XS36=$XMPPSHIELD
B=$W/bin
mkdir -p "$B"
CFLAGS="-O2 -std=gnu11 -Wall -Wextra"
cc $CFLAGS -o "$B/backend" "$TOP/bench/backend.c"
cc $CFLAGS -o "$B/loadgen" "$TOP/bench/loadgen.c" -lssl -lcrypto
# The bare relay against the mbedTLS each xmppshield uses: the same
# compile and link flags configure chose.
ref_build() {	# ref_build XS_BUILD_DIR OUT
	local mk=$1/Makefile cf libs
	cf=$(sed -n 's/^MBEDTLS_CFLAGS = //p' "$mk")
	libs="$(sed -n 's/^MBEDTLS_LDFLAGS = //p' "$mk") $(sed -n 's/^MBEDTLS_LIBS = //p' "$mk")"
	# shellcheck disable=SC2086
	cc $CFLAGS $cf -o "$2" "$TOP/bench/refrelay.c" -levent $libs
	# shellcheck disable=SC2086
	cc $CFLAGS $cf -o "$2-aead" "$TOP/bench/aeadspeed.c" $libs
}
XSDIR36=$(dirname "$(dirname "$XS36")")
ref_build "$XSDIR36" "$B/refrelay-3.6"
ROUNDS=${BENCH_ROUNDS:-3.6/1.3 3.6/1.2 2.28/1.2}
case " $ROUNDS " in *" 2.28/"*)
	build_xs xs-system "--with-mbedtls=system"
	XS228=$W/xs-system/src/xmppshield
	ref_build "$W/xs-system" "$B/refrelay-2.28" ;;
esac

# --- parameters --------------------------------------------------------
if [ "$QUICK" = 1 ]; then
	NFULL=150 NRES=1000 SECS=2 BIGS=""
else
	NFULL=600 NRES=4000 SECS=5 BIGS=10000
fi
# A proxy holds two descriptors per connection (client, backend).  Root
# may raise the hard limit only with CAP_SYS_RESOURCE (not in every
# container); what is left caps the large idle test.
if [ -n "$BIGS" ] && [ "$(ulimit -Hn)" != unlimited ] &&
    [ "$(ulimit -Hn)" -lt $((BIGS * 2 + 1000)) ]; then
	ulimit -Hn $((BIGS * 2 + 1000)) 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FDMAX=$(ulimit -n)
if [ -n "$BIGS" ] && [ $((BIGS * 2 + 200)) -gt "$FDMAX" ]; then
	BIGS=$(((FDMAX - 200) / 2 / 1000 * 1000))
	say "bench: the fd limit is $FDMAX (hard); the large idle test uses $BIGS connections"
fi
# Workers measured for the scaling table: 1, 2 and nproc if larger; the
# load is the same for each: WCONC client processes, each from its own
# source address (xmppshield steers connections to workers by client
# address).
NCPU=$(nproc)
WLIST="1 2"
[ "$NCPU" -gt 2 ] && WLIST="$WLIST $NCPU"
WMAX=${WLIST##* }
WCONC=$((4 * WMAX))
[ "$WCONC" -gt 250 ] && WCONC=250
AES=ECDHE-ECDSA-AES128-GCM-SHA256
CHACHA=ECDHE-ECDSA-CHACHA20-POLY1305
NSRC=4		# client source addresses 127.0.0.2 .. 127.0.0.5

# --- certificate, backends ---------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$RUN/key.pem" -out "$RUN/cert.pem" -days 30 \
    -subj /CN=example.org -addext subjectAltName=DNS:example.org 2>/dev/null
cat "$RUN/cert.pem" "$RUN/key.pem" > "$RUN/combined.pem"

PIDS_STARTED=()
cleanup() {
	local p
	for p in "${PIDS_STARTED[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ "$KEEP" = 1 ] || rm -rf "$RUN"
}
trap cleanup EXIT

start_bg() {	# start_bg OUTFILE cmd... ; sets LASTPID
	"${@:2}" > "$1" 2>&1 &
	LASTPID=$!
	PIDS_STARTED+=("$LASTPID")
}
wait_file_line() {	# wait_file_line FILE REGEX
	local _
	for _ in $(seq 1 200); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	say "bench: timed out waiting for /$2/ in $1:"; cat "$1" >&2; return 1
}
wait_port() {
	local _
	for _ in $(seq 1 200); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	say "bench: nothing listens on port $1"; return 1
}
stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

start_bg "$RUN/sink.out" "$B/backend" 0 sink
SINKPID=$LASTPID
start_bg "$RUN/echo.out" "$B/backend" 0 echo
wait_file_line "$RUN/sink.out" '^[0-9]+$'
wait_file_line "$RUN/echo.out" '^[0-9]+$'
SINK=$(head -1 "$RUN/sink.out")
ECHO=$(head -1 "$RUN/echo.out")
: "$SINKPID"

# --- the servers -------------------------------------------------------
HAVE_DIRECT=0
"$XMPPSHIELD" -k | grep -qE '^listener[[:space:]]+tls[[:space:]]' && HAVE_DIRECT=1
SERVERS="xs-starttls"
[ "$HAVE_DIRECT" = 1 ] && SERVERS="$SERVERS xs-direct"
SERVERS="$SERVERS ref haproxy hitch stunnel"
# BENCH_SERVERS="xs-starttls ref" measures a subset (e.g. before/after).
SERVERS=${BENCH_SERVERS:-$SERVERS}
PORT=24100

# start_server NAME BACKEND_PORT: sets SPORT, SPIDS (comma list), SMAIN.
start_server() {
	local name=$1 bp=$2 f
	PORT=$((PORT + 1))
	SPORT=$PORT
	f=$RUN/$name.$SPORT
	case $name in
	xs-*)
		local tlsline=""
		[ "$name" = xs-direct ] && tlsline="tls = direct"
		# The benchmark's clients come from a few addresses, fast:
		# no per-address caps; idle streams never authenticate.
		cat > "$f.conf" <<-EOF
		[global]
		log_level = notice
		workers = $XS_WORKERS
		[tls]
		certificate = $RUN/cert.pem
		key = $RUN/key.pem
		$XS_TLS_EXTRA
		[limits]
		pre_tls_timeout = 600
		auth_timeout = 3600
		max_connections = $((XS_WORKERS * (FDMAX / 2 - 100)))
		max_connections_per_ip = 0
		connection_rate_per_ip = 0
		[domain example.org]
		[listener c2s]
		listen = 127.0.0.1:$SPORT
		backend = 127.0.0.1:$bp
		domains = example.org
		$tlsline
		EOF
		start_bg "$f.log" "$XMPPSHIELD" -d -c "$f.conf"
		SMAIN=$LASTPID
		# "started" comes after the workers are forked.
		wait_file_line "$f.log" 'event=started'
		;;
	ref)
		start_bg "$f.log" "$REFRELAY" "$SPORT" "$bp" "$RUN/cert.pem" \
		    "$RUN/key.pem" tickets "$TLSV"
		SMAIN=$LASTPID
		wait_file_line "$f.log" '^[0-9]+$'
		;;
	haproxy)
		cat > "$f.conf" <<-EOF
		global
		    maxconn $((FDMAX / 2 - 100))
		    nbthread 1
		    ssl-default-bind-ciphers $AES:$CHACHA:ECDHE-ECDSA-AES256-GCM-SHA384
		    ssl-default-bind-options ssl-min-ver TLSv$TLSV ssl-max-ver TLSv$TLSV
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 10m
		    timeout server 10m
		frontend f
		    bind 127.0.0.1:$SPORT ssl crt $RUN/combined.pem curves X25519:P-256:P-384
		    default_backend b
		backend b
		    server s 127.0.0.1:$bp
		EOF
		start_bg "$f.log" haproxy -db -f "$f.conf"
		SMAIN=$LASTPID
		wait_port "$SPORT"
		;;
	hitch)
		cat > "$f.conf" <<-EOF
		frontend = "[127.0.0.1]:$SPORT"
		backend = "[127.0.0.1]:$bp"
		pem-file = "$RUN/combined.pem"
		workers = 1
		daemon = off
		user = "nobody"
		tls-protos = TLSv$TLSV
		ciphers = "$AES:$CHACHA:ECDHE-ECDSA-AES256-GCM-SHA384"
		EOF
		start_bg "$f.log" hitch --config="$f.conf"
		SMAIN=$LASTPID
		wait_port "$SPORT"
		;;
	stunnel)
		cat > "$f.conf" <<-EOF
		foreground = yes
		pid =
		debug = 3
		[bench]
		accept = 127.0.0.1:$SPORT
		connect = 127.0.0.1:$bp
		cert = $RUN/combined.pem
		sslVersionMin = TLSv$TLSV
		sslVersionMax = TLSv$TLSV
		ciphers = $AES:$CHACHA:ECDHE-ECDSA-AES256-GCM-SHA384
		curves = X25519:P-256:P-384
		EOF
		start_bg "$f.log" stunnel4 "$f.conf"
		SMAIN=$LASTPID
		wait_port "$SPORT"
		;;
	esac
	# The measured processes: the server and its children (hitch's
	# worker, xmppshield's workers; bench/loadgen.c looks for them as
	# well).
	SPIDS=$SMAIN
	local c
	for c in $(pgrep -P "$SMAIN" 2>/dev/null); do SPIDS="$SPIDS,$c"; done
}

stop_server() {
	local c
	for c in ${SPIDS//,/ }; do
		[ "$c" = "$SMAIN" ] || kill "$c" 2>/dev/null || true
	done
	stop_pid "$SMAIN"
}

# lg NAME ARGS...: run the load generator against the started server.
lg() {
	local st=""
	case $1 in xs-starttls) st=-s ;; esac
	"$B/loadgen" $st -V "$TLSV" -P "$SPORT" -p "$SPIDS" "${@:2}"
}
val() {	# val KEY LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

RES=$RUN/results.tsv
: > "$RES"
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RES$ROUNDTAG"; }

say "bench: machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
# Other jobs on the machine skew wall-clock rates: say how busy it was.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "bench: load average at start: $LOAD0"
T0=$(date +%s)
AEAD=$("$B/refrelay-3.6-aead")
say "bench: mbedTLS 3.6 AEAD on one core: $AEAD"

XS_TLS_EXTRA=${XS_TLS_EXTRA:-}
XS_WORKERS=1
ALLSERVERS=$SERVERS
FIRST=1
for round in $ROUNDS; do
lib=${round%/*} TLSV=${round#*/}
ROUNDTAG=.$lib-$TLSV
: > "$RES$ROUNDTAG"
case $lib in
3.6) XMPPSHIELD=$XS36 REFRELAY=$B/refrelay-3.6 ;;
2.28) XMPPSHIELD=$XS228 REFRELAY=$B/refrelay-2.28 ;;
esac
if [ "$TLSV" = 1.3 ]; then
	CH13=TLS_CHACHA20_POLY1305_SHA256
else
	CH13=$CHACHA
fi
# 2.28 round: xmppshield, the bare relay and HAProxy (the reference peer).
SERVERS=$ALLSERVERS
[ "$lib" = 2.28 ] && SERVERS=${BENCH_SERVERS_228:-xs-starttls ref haproxy}
say "bench: round mbedTLS $lib, TLS $TLSV: $SERVERS"
for s in $SERVERS; do
	say "bench: $s: handshakes"
	start_server "$s" "$SINK"
	r=$(lg "$s" -m hs -n "$NFULL" -g X25519:P-256)
	put "$s" hs_x25519 "$(val cpu_ms_per_hs "$r")"
	r=$(lg "$s" -m hs -n "$NFULL" -g P-256)
	put "$s" hs_p256 "$(val cpu_ms_per_hs "$r")"
	r=$(lg "$s" -m hs -n "$NRES" -r)
	put "$s" hs_resumed "$(val cpu_ms_per_hs "$r")"
	put "$s" resumed_ok "$(val resumed "$r")/$NRES"
	say "bench: $s: throughput"
	r=$(lg "$s" -m tput -n 1 -t "$SECS")
	put "$s" tput1_aes "$(val mb_per_cpu_s "$r")"
	put "$s" tput1_aes_wall "$(val mb_per_s "$r")"
	r=$(lg "$s" -m tput -n 1 -t "$SECS" -c "$CH13")
	put "$s" tput1_chacha "$(val mb_per_cpu_s "$r")"
	r=$(lg "$s" -m tput -n 32 -t "$SECS")
	put "$s" tput32_aes "$(val mb_per_cpu_s "$r")"
	put "$s" tput32_aes_wall "$(val mb_per_s "$r")"
	stop_server

	say "bench: $s: stanzas"
	start_server "$s" "$ECHO"
	r=$(lg "$s" -m stanza -n 100 -w 8 -t "$SECS")
	put "$s" stanza_rate "$(val stanzas_per_s "$r")"
	put "$s" stanza_us "$(val us_per_stanza "$r")"
	stop_server

	for nconn in 1000 $BIGS; do
		say "bench: $s: $nconn idle connections"
		start_server "$s" "$SINK"
		r=$(lg "$s" -m idle -r -n "$nconn" -S $NSRC)
		put "$s" "idle_$nconn" "$(val kib_per_conn "$r")"
		stop_server
	done
done

# The workers and many-connection tables: first round only.
if [ "$FIRST" = 1 ]; then
# --- workers -----------------------------------------------------------
# Full and resumed handshakes from WCONC concurrent clients for SECS
# seconds: per second of wall time, and server CPU (master and every
# worker) per handshake.
WSERVERS=""
for s in $SERVERS; do
	case $s in xs-*) WSERVERS="$WSERVERS $s" ;; esac
done
WSERVERS=${BENCH_WORKERS_SERVERS:-${WSERVERS# }}
for s in $WSERVERS; do
	for w in $WLIST; do
		XS_WORKERS=$w
		say "bench: $s: handshakes with $w worker(s), $WCONC clients"
		start_server "$s" "$SINK"
		r=$(lg "$s" -m hs -C "$WCONC" -S "$WCONC" -t "$SECS" \
		    -g X25519:P-256)
		put "$s" "w${w}_full_rate" "$(val hs_per_s "$r")"
		put "$s" "w${w}_full_cpu" "$(val cpu_ms_per_hs "$r")"
		put "$s" "w${w}_full_cores" "$(val server_cores "$r")"
		r=$(lg "$s" -m hs -C "$WCONC" -S "$WCONC" -t "$SECS" -r)
		put "$s" "w${w}_res_rate" "$(val hs_per_s "$r")"
		put "$s" "w${w}_res_cpu" "$(val cpu_ms_per_hs "$r")"
		put "$s" "w${w}_res_cores" "$(val server_cores "$r")"
		put "$s" "w${w}_res_ok" "$(val resumed "$r")/$(val n "$r")"
		stop_server
	done
done
XS_WORKERS=1

# --- many idle connections ----------------------------------------------
# MANY (default 50,000) idle STARTTLS connections to xmppshield.  Every
# process's descriptors are capped by RLIMIT_NOFILE (FDMAX), and one
# source address reaches one address:port at most once per ephemeral port
# (about 28,000): so the connections are spread over enough workers
# (two descriptors each), client processes, source addresses and
# listeners, each listener relaying to its own backend process on its own
# loopback address (127.0.1.x).
MANY=${BENCH_MANY:-50000}
[ "$QUICK" = 1 ] && MANY=${BENCH_MANY:-0}
case " $SERVERS " in *" xs-starttls "*) ;; *) MANY=0 ;; esac
if [ "$MANY" -gt 0 ]; then
	per=$((FDMAX - 1000))
	MW=$(((2 * MANY + per - 1) / per))		# workers
	[ "$MW" -lt 2 ] && MW=2
	MP=$(((MANY + per - 1) / per))			# client processes
	ML=$(((MANY + 19999) / 20000))			# listeners, backends
	[ "$ML" -lt "$MP" ] && ML=$MP
	MS=$(((4 + MW - 1) / MW * MW))			# source addresses
	say "bench: xs-starttls: $MANY idle connections: $MW workers," \
	    "$ML listeners and backends, $MP client processes, $MS source addresses"
	MBP=()
	for k in $(seq 1 "$ML"); do
		start_bg "$RUN/many-sink$k.out" "$B/backend" 0 sink "127.0.1.$k"
		wait_file_line "$RUN/many-sink$k.out" '^[0-9]+$'
		MBP+=("$(head -1 "$RUN/many-sink$k.out")")
	done
	PORT=$((PORT + 1))
	f=$RUN/xs-many.$PORT
	{
		cat <<-EOF
		[global]
		log_level = notice
		workers = $MW
		[tls]
		certificate = $RUN/cert.pem
		key = $RUN/key.pem
		[limits]
		pre_tls_timeout = 600
		auth_timeout = 3600
		max_connections = $((MW * (FDMAX / 2 - 100)))
		max_connections_per_ip = 0
		connection_rate_per_ip = 0
		[domain example.org]
		EOF
		for k in $(seq 1 "$ML"); do
			cat <<-EOF
			[listener c2s$k]
			listen = 127.0.0.1:$((PORT + k - 1))
			backend = 127.0.1.$k:${MBP[$((k - 1))]}
			domains = example.org
			EOF
		done
	} > "$f.conf"
	start_bg "$f.log" "$XMPPSHIELD" -d -c "$f.conf"
	SMAIN=$LASTPID SPIDS=$LASTPID SPORT=$PORT
	wait_file_line "$f.log" 'event=started'
	PORT=$((PORT + ML))
	if r=$(lg xs-starttls -m idle -r -n "$MANY" -C "$MP" -L "$ML" \
	    -S "$MS"); then
		put xs-starttls many_n "$MANY"
		put xs-starttls many_kib "$(val kib_per_conn "$r")"
		put xs-starttls many_mib $(($(val rss1_kib "$r") / 1024))
		put xs-starttls many_s "$(val wall_s "$r")"
	else
		say "bench: the $MANY-connection test failed:"
		grep -v 'event=stopping' "$f.log" | tail -5 >&2
	fi
	stop_server
fi

fi	# first round
FIRST=0
done	# rounds
SERVERS=$ALLSERVERS

# --- the table ---------------------------------------------------------
{
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -r)"
	echo "versions: $("$XS36" -V 2>&1 | sed -n 3p)${XS228:+; $("$XS228" -V 2>&1 | sed -n 3p)}; $(haproxy -v | head -1 | cut -d' ' -f1-3); $(hitch --version 2>&1 | head -1); $(stunnel4 -version 2>&1 | grep -m1 '^stunnel'| cut -d' ' -f1-2); $(openssl version | cut -d' ' -f1-2)"
	echo "mbedTLS 3.6 AEAD, one core: $AEAD"
	echo "ECDHE-ECDSA P-256 certificate, AES-128-GCM unless noted; CPU = server utime+stime."
	echo "run: $(date -u +%Y-%m-%d), $(($(date +%s) - T0)) s; load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg); fd limit $FDMAX"
} > "$RUN/table.md"
for round in $ROUNDS; do
lib=${round%/*} TLSV=${round#*/}
SERVERS=$ALLSERVERS
[ "$lib" = 2.28 ] && SERVERS=${BENCH_SERVERS_228:-xs-starttls ref haproxy}
printf '\n### mbedTLS %s, TLS %s (every peer at TLS %s)\n\n' "$lib" "$TLSV" "$TLSV" >> "$RUN/table.md"
awk -F'\t' -v servers="$SERVERS" -v big="$BIGS" '
{ v[$1, $2] = $3 }
function cell(s, m) { return ((s, m) in v) && v[s, m] != "" ? v[s, m] : "-" }
function ratio(a, b) {
	if (a == "-" || b == "-" || b + 0 == 0) return "-"
	return sprintf("%.2f", a / b)
}
END {
	n = split(servers, S, " ")
	split("hs_x25519 hs_p256 hs_resumed resumed_ok idle_1000 idle_" big \
	    " tput1_aes tput1_aes_wall tput1_chacha tput32_aes tput32_aes_wall" \
	    " stanza_rate stanza_us", M, " ")
	L["hs_x25519"] = "CPU per full handshake, X25519 (ms)"
	L["hs_p256"] = "CPU per full handshake, P-256 ECDHE (ms)"
	L["hs_resumed"] = "CPU per resumed handshake, ticket (ms)"
	L["resumed_ok"] = "handshakes resumed"
	L["idle_1000"] = "RSS per idle TLS connection, 1,000 (KiB)"
	L["idle_" big] = "RSS per idle TLS connection, " big " (KiB)"
	L["tput1_aes"] = "relay, 1 conn, MB per server CPU-second"
	L["tput1_aes_wall"] = "relay, 1 conn, MB/s (wall)"
	L["tput1_chacha"] = "relay, 1 conn, ChaCha20, MB per CPU-second"
	L["tput32_aes"] = "relay, 32 conns, MB per server CPU-second"
	L["tput32_aes_wall"] = "relay, 32 conns, MB/s (wall)"
	L["stanza_rate"] = "256-byte stanzas echoed/s, 100 conns"
	L["stanza_us"] = "server CPU per echoed stanza (us)"
	hdr = "| metric |"; sep = "|---|"
	for (i = 1; i <= n; i++) { hdr = hdr " " S[i] " |"; sep = sep "---:|" }
	for (i = 1; i <= n; i++)
		if (S[i] != "xs-starttls" && S[i] != "xs-direct") {
			hdr = hdr " xs/" S[i] " |"; sep = sep "---:|"
		}
	print hdr; print sep
	for (j = 1; M[j] != ""; j++) {
		if (M[j] == "idle_") continue
		line = "| " L[M[j]] " |"
		for (i = 1; i <= n; i++) line = line " " cell(S[i], M[j]) " |"
		for (i = 1; i <= n; i++)
			if (S[i] != "xs-starttls" && S[i] != "xs-direct")
				line = line " " (M[j] == "resumed_ok" ? "" : \
				    ratio(cell("xs-starttls", M[j]), \
				    cell(S[i], M[j]))) " |"
		print line
	}
}' "$RES.$lib-$TLSV" >> "$RUN/table.md"
done
first=${ROUNDS%% *}
FIRSTRES=$RES.${first%/*}-${first#*/}
SERVERS=$ALLSERVERS
echo >> "$RUN/table.md"
echo "xs = xmppshield with workers = 1 (xs-starttls: STARTTLS, including the XMPP exchange before TLS; xs-direct: tls = direct); ref = bench/refrelay.c, a bare mbedTLS+libevent relay (the library's floor); ratios are xs-starttls / peer (CPU and RSS: lower is better; MB and stanzas: higher is better)." >> "$RUN/table.md"
for s in $WSERVERS; do
	{
		echo
		echo "$s (round ${ROUNDS%% *}), workers: $WCONC concurrent clients from $WCONC source addresses, ${SECS} s each; handshakes per second of wall time, server CPU (master and workers) per handshake, server cores busy; scaling = handshakes/s / those at 1 worker."
		echo
	} >> "$RUN/table.md"
	awk -F'\t' -v s="$s" -v wl="$WLIST" '
	$1 == s { v[$2] = $3 }
	function r(a, b) {
		return (a == "" || b == "" || b + 0 == 0) ? "-" : \
		    sprintf("%.2f", a / b)
	}
	END {
		print "| workers | full hs/s | scaling | CPU per full hs (ms) | cores | resumed hs/s | scaling | CPU per resumed hs (ms) | cores | resumed |"
		print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		n = split(wl, W, " ")
		for (i = 1; i <= n; i++) {
			w = "w" W[i] "_"
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			    W[i], v[w "full_rate"],
			    r(v[w "full_rate"], v["w1_full_rate"]),
			    v[w "full_cpu"], v[w "full_cores"],
			    v[w "res_rate"],
			    r(v[w "res_rate"], v["w1_res_rate"]),
			    v[w "res_cpu"], v[w "res_cores"], v[w "res_ok"]
		}
	}' "$FIRSTRES" >> "$RUN/table.md"
done
mk=$(awk -F'\t' '$1 == "xs-starttls" && $2 == "many_kib" { print $3 }' "$FIRSTRES")
if [ -n "$mk" ]; then
	mm=$(awk -F'\t' '$2 == "many_mib" { print $3 }' "$FIRSTRES")
	ms=$(awk -F'\t' '$2 == "many_s" { print $3 }' "$FIRSTRES")
	{
		echo
		echo "xs-starttls, $MANY idle STARTTLS connections held at once ($MW workers, $ML listeners each to its own backend, $MP client processes from $MS source addresses, all opened in $ms s): RSS $mk KiB per connection, $mm MiB in all (master and workers)."
	} >> "$RUN/table.md"
fi
cp "$RUN/table.md" "$W/table.md"
cat "$W/table.md"
