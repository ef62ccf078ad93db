#!/bin/sh
# run.sh - install what the tests need, build, and run the whole suite.
#
#   sudo tests/run.sh           the suite, as a user and CI run it
#   sudo tests/run.sh --asan    the same under AddressSanitizer + UBSan
#
# Builds out of tree (build/ or build-asan/) so the source stays clean.
# The real Prosody and ejabberd tests need root (they run the servers as
# their own users); without root they are skipped, not failed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

dir=build
flags="--enable-werror"
cflags="-g -O2"
if [ "${1:-}" = "--asan" ]; then
	dir=build-asan
	cflags="-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
fi

if [ "$(id -u)" -eq 0 ] && [ "${SKIP_INSTALL:-}" != 1 ]; then
	contrib/install-deps.sh --tests
fi
[ -x configure ] || autoreconf -fi
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || ../configure $flags CFLAGS="$cflags"
make -j2
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    make -j2 check || status=$?

# One closing line a person (and CI) can read at a glance.
pass=$(cat tests/unit/*.trs tests/integration/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
fail=$(cat tests/unit/*.trs tests/integration/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|ERROR\|XPASS\)' || true)
skip=$(cat tests/unit/*.trs tests/integration/*.trs 2>/dev/null | grep -c '^:test-result: SKIP' || true)
if [ "$status" -ne 0 ]; then
	cat test-suite.log
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"
