#!/bin/sh
# test_prometheus_rules.sh - contrib/prometheus is valid for Debian's
# promtool: the alert rules load, the example configuration loads them,
# and the rules' unit tests (xmppshield.rules.test.yml) fire the alerts
# they should.  TAP output.  Needs TOP_SRCDIR (set by make check).
set -u
: "${TOP_SRCDIR:?}"
dir=$TOP_SRCDIR/contrib/prometheus
if ! command -v promtool >/dev/null 2>&1; then
	echo "1..0 # SKIP promtool not installed (apt-get install prometheus)"
	exit 0
fi
n=0
failed=0
check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		echo "$out" | sed 's/^/# /'
		failed=1
	fi
}
check "promtool check rules xmppshield.rules.yml" \
    promtool check rules "$dir/xmppshield.rules.yml"
check "promtool check config prometheus.yml (with the rules)" \
    promtool check config "$dir/prometheus.yml"
check "promtool test rules: each alert fires on its series" \
    sh -c 'cd "$1" && promtool test rules xmppshield.rules.test.yml' sh "$dir"
echo "1..$n"
exit $failed
