#!/bin/sh
# run.sh - install what the tests need, build, and run the whole suite.
#
#   tests/run.sh                 the suite, as a user and CI run it (as root)
#   tests/run.sh --asan          the same under AddressSanitizer + UBSan
#   tests/run.sh --system-mbedtls  the suite against the system's mbedTLS
#                                (2.28 on Debian 12: TLS 1.2 only; the TLS
#                                1.3 tests are skipped, with the reason)
#
# The default build uses mbedTLS 3.6 (contrib/install-deps.sh builds it on
# Debian 12).  Builds out of tree (build/, build-asan/ or build-system/)
# so the source stays clean.
# The real Prosody and ejabberd tests need root (they run the servers as
# their own users); without root they are skipped, not failed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

dir=build
flags="--enable-werror"
cflags="-g -O2"
case ${1:-} in
--asan)
	dir=build-asan
	cflags="-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	;;
--system-mbedtls)
	dir=build-system
	flags="$flags --with-mbedtls=system"
	;;
"") ;;
*)	echo "usage: tests/run.sh [--asan | --system-mbedtls]" >&2; exit 2 ;;
esac

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
