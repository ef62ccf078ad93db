#!/bin/bash
# bench/metrics.sh - what the metrics cost: xmppshield's server CPU per
# full and per resumed TLS handshake (STARTTLS) and per relayed stanza,
# with metrics off (no metrics_listen: nothing is counted) and on
# (metrics_listen set, counters written on every accept, handshake and
# session end, and the endpoint scraped every 0.2 s by curl while
# measuring).  Runs alternate off/on ROUNDS times (default 3) and the
# median of each is printed; the machine's load is printed too, since
# other jobs skew single runs.
#
#   bench/metrics.sh [ROUNDS]     XMPPSHIELD=/path/to/xmppshield
#
# Uses bench/loadgen.c and bench/backend.c (as bench/run.sh does); needs
# gcc, libssl-dev, openssl, curl.  Not part of "make check".  With one
# worker the scrapes are served by the measured process itself, so "on"
# is an upper bound; bench/metricsspeed.c measures the counters alone.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
: "${XMPPSHIELD:?set XMPPSHIELD to the daemon to measure}"
W=$(mktemp -d /tmp/xs-bench-metrics.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }

CFLAGS="-O2 -std=gnu11 -Wall -Wextra"
cc $CFLAGS -o "$W/backend" "$TOP/bench/backend.c"
cc $CFLAGS -o "$W/loadgen" "$TOP/bench/loadgen.c" -lssl -lcrypto
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/key.pem" -out "$W/cert.pem" -days 30 \
    -subj /CN=example.org -addext subjectAltName=DNS:example.org 2>/dev/null

wait_line() {	# wait_line FILE REGEX
	local _
	for _ in $(seq 1 200); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	say "timed out waiting for /$2/ in $1"; cat "$1" >&2; exit 1
}
"$W/backend" 0 sink > "$W/sink.out" 2>&1 & PIDS+=($!)
"$W/backend" 0 echo > "$W/echo.out" 2>&1 & PIDS+=($!)
wait_line "$W/sink.out" '^[0-9]+$'
wait_line "$W/echo.out" '^[0-9]+$'
SINK=$(head -1 "$W/sink.out")
ECHO=$(head -1 "$W/echo.out")
PORT=24700
MPORT=24900

# run MODE(off|on) BACKEND LOADGEN-ARGS...: one loadgen line
run() {
	local mode=$1 bp=$2 f m="" scraper=""
	PORT=$((PORT + 1))
	f=$W/xs.$PORT
	[ "$mode" = on ] && m="metrics_listen = 127.0.0.1:$MPORT"
	cat > "$f.conf" <<-EOF
	[global]
	log_level = notice
	workers = 1
	$m
	[tls]
	certificate = $W/cert.pem
	key = $W/key.pem
	[limits]
	pre_tls_timeout = 600
	auth_timeout = 3600
	max_connections_per_ip = 0
	connection_rate_per_ip = 0
	[domain example.org]
	[listener c2s]
	listen = 127.0.0.1:$PORT
	backend = 127.0.0.1:$bp
	domains = example.org
	EOF
	"$XMPPSHIELD" -d -c "$f.conf" > "$f.log" 2>&1 &
	local xs=$!
	PIDS+=("$xs")
	wait_line "$f.log" 'event=started'
	if [ "$mode" = on ]; then
		( while :; do curl -s -o /dev/null \
		    "http://127.0.0.1:$MPORT/metrics"; sleep 0.2; done ) &
		scraper=$!
		PIDS+=("$scraper")
	fi
	"$W/loadgen" -s -P "$PORT" -p "$xs" "${@:3}"
	if [ -n "$scraper" ]; then
		kill "$scraper" 2>/dev/null || true
		wait "$scraper" 2>/dev/null || true
		curl -s "http://127.0.0.1:$MPORT/metrics" |
		    grep -E '^xmppshield_(connections_accepted_total|tls_handshakes_total)' \
		    > "$W/last-scrape"
	fi
	kill "$xs"
	wait "$xs" 2>/dev/null || true
	MPORT=$((MPORT + 1))
}
val() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for mode in off on; do
		say "round $r, metrics $mode"
		l=$(run $mode "$SINK" -m hs -n 400 -g X25519:P-256)
		val cpu_ms_per_hs "$l" >> "$W/full.$mode"
		l=$(run $mode "$SINK" -m hs -n 3000 -r)
		val cpu_ms_per_hs "$l" >> "$W/res.$mode"
		l=$(run $mode "$ECHO" -m stanza -n 100 -w 8 -t 4)
		val us_per_stanza "$l" >> "$W/stanza.$mode"
	done
done
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %12s %12s\n' "median of $ROUNDS runs" "metrics off" "metrics on"
for k in full:"full handshake, X25519:P-256 (ms CPU)" \
    res:"resumed handshake (ms CPU)" \
    stanza:"stanza, 256 bytes echoed (us CPU)"; do
	printf '%-36s %12s %12s\n' "${k#*:}" \
	    "$(median < "$W/${k%%:*}.off")" "$(median < "$W/${k%%:*}.on")"
done
for k in full res stanza; do
	printf '%s off: %s   on: %s\n' "$k" "$(tr '\n' ' ' < "$W/$k.off")" \
	    "$(tr '\n' ' ' < "$W/$k.on")" >&2
done
say "last scrape (metrics on):"
cat "$W/last-scrape" >&2
