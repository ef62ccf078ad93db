#!/bin/sh
# test_docs.sh - every log event the code writes is in xmppshield(8), every
# config key the daemon knows is in xmppshield.conf(5) and in the example.
# TAP output.  Needs XMPPSHIELD and TOP_SRCDIR (set by make check).
set -u
: "${TOP_SRCDIR:?}" "${XMPPSHIELD:?}"
man8=$TOP_SRCDIR/docs/xmppshield.8
man5=$TOP_SRCDIR/docs/xmppshield.conf.5
example=$TOP_SRCDIR/etc/xmppshield.conf.example
n=0
failed=0
check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=1
	fi
}

# Events: literal "event=NAME" in the sources (one line each), and the
# end-of-session events and reasons, read from the one table of them in
# verdict.c (verdict_set() refuses a pair the table lacks).
events=$(grep -ho 'event=[a-z][a-z0-9-]*' "$TOP_SRCDIR"/src/*.c | sort -u | sed 's/event=//')
table=$(sed -n '/^} names\[\] = {$/,/^};$/p' "$TOP_SRCDIR"/src/verdict.c |
    sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", "\([a-z-]*\)" },$/\1 \2/p')
check "verdict table read from verdict.c" test -n "$table"
# The ends of outgoing s2s connections: their own table in verdict.c.
s2sout=$(sed -n '/^} s2sout_names\[\] = {$/,/^};$/p' "$TOP_SRCDIR"/src/verdict.c |
    sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)", "\([a-z-]*\)" },$/\1 \2/p')
check "s2s-out table read from verdict.c" test -n "$s2sout"
table="$table
$s2sout"
verdicts=$(echo "$table" | cut -d' ' -f1 | sort -u)
for e in $events $verdicts; do
	check "event $e documented in xmppshield(8)" grep -q -- "event=$e" "$man8"
done
reasons=$(echo "$table" | cut -d' ' -f2 | sort -u)
for r in $reasons; do
	check "reason $r documented in xmppshield(8)" grep -q -- "$r" "$man8"
done

# Config keys, as the daemon itself lists them.
"$XMPPSHIELD" -k | while IFS='	' read -r section key rest; do
	echo "$section $key"
done > keys.$$
while read -r section key; do
	check "key [$section] $key in xmppshield.conf(5)" grep -q -- "$key" "$man5"
	check "key [$section] $key in the example config" grep -q -- "$key" "$example"
done < keys.$$
rm -f keys.$$
echo "1..$n"
exit $failed
