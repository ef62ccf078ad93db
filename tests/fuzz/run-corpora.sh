#!/bin/sh
# run-corpora.sh - replay every fuzz target over its seed corpus (TAP).
# In a --enable-fuzzing build the targets are libFuzzer binaries and run
# each input once (-runs=0); otherwise they are the replay driver.
# FUZZ_SECONDS=N instead fuzzes each target for N seconds (CI).
set -u
: "${TOP_SRCDIR:?}"
corpora=$TOP_SRCDIR/tests/fuzz/corpus
n=0
failed=0
for target in xmlstream pretls relay restart config proxyproto; do
	bin=tests/fuzz/fuzz_$target
	dict=$TOP_SRCDIR/tests/fuzz/xmpp.dict
	[ "$target" = config ] && dict=$TOP_SRCDIR/tests/fuzz/config.dict
	[ "$target" = proxyproto ] && dict=$TOP_SRCDIR/tests/fuzz/proxyproto.dict
	n=$((n + 1))
	if "$bin" -help=1 2>&1 | grep -q libFuzzer; then
		work=$(mktemp -d)
		cp "$corpora/$target"/* "$work"/
		if [ -n "${FUZZ_SECONDS:-}" ]; then
			args="-max_total_time=$FUZZ_SECONDS -dict=$dict -max_len=4096"
		else
			args="-runs=0"
		fi
		# shellcheck disable=SC2086
		if "$bin" $args "$work" > "fuzz_$target.out" 2>&1; then
			echo "ok $n - fuzz_$target: $(grep -o 'stat::number_of_executed_units: [0-9]*\|Done [0-9]* runs' "fuzz_$target.out" | tail -1)"
		else
			echo "not ok $n - fuzz_$target (see fuzz_$target.out)"
			tail -40 "fuzz_$target.out" | sed 's/^/# /'
			failed=1
		fi
		rm -rf "$work"
	elif "$bin" "$corpora/$target" > "fuzz_$target.out" 2>&1; then
		echo "ok $n - fuzz_$target: corpus replayed"
	else
		echo "not ok $n - fuzz_$target: corpus replay failed"
		sed 's/^/# /' "fuzz_$target.out"
		failed=1
	fi
done
echo "1..$n"
exit $failed
