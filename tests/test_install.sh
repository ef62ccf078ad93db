#!/bin/sh
# test_install.sh - make install and make uninstall into temporary DESTDIRs
# (TAP): every file lands under prefix / sysconfdir as given, the systemd
# unit carries those paths, an admin's existing xmppshield.conf is never
# touched, and uninstall leaves nothing but that config behind.
# Needs TOP_BUILDDIR (set by make check); MAKE defaults to make.
set -u
: "${TOP_BUILDDIR:?}"
MAKE=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xmppshield-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0
check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$tmp/out" | tail -20
		failed=1
	fi
}
installed_only() {	# installed_only DIR FILE...: DIR holds exactly FILEs
	dir=$1
	shift
	(cd "$dir" && find . -type f | sed 's|^\./|/|' | sort) > "$tmp/have"
	for f in "$@"; do echo "$f"; done | sort > "$tmp/want"
	diff "$tmp/want" "$tmp/have"
}

# --- install with prefix and sysconfdir given to make -------------------
dest=$tmp/root
prefix=/opt/xmppshield-test
etc=/etc/xmppshield-test
set -- DESTDIR="$dest" prefix="$prefix" sysconfdir="$etc"
mkdir -p "$dest$etc/xmppshield"
printf '# the admin'"'"'s own configuration\n' > "$dest$etc/xmppshield/xmppshield.conf"
cp "$dest$etc/xmppshield/xmppshield.conf" "$tmp/admin.conf"

check "make install DESTDIR prefix sysconfdir" \
    $MAKE -s -C "$TOP_BUILDDIR" install "$@"
doc=$prefix/share/doc/xmppshield
unit=$prefix/lib/systemd/system/xmppshield.service
check "every file in its place, nothing outside prefix and sysconfdir" \
    installed_only "$dest" \
    "$prefix/sbin/xmppshield" \
    "$prefix/share/man/man8/xmppshield.8" \
    "$prefix/share/man/man5/xmppshield.conf.5" \
    "$etc/xmppshield/xmppshield.conf" \
    "$etc/xmppshield/xmppshield.conf.example" \
    "$unit" \
    "$doc/README.md" "$doc/ARCHITECTURE.md" "$doc/HACKING.md" \
    "$doc/DEPLOYMENT.md" "$doc/SECURITY.md" \
    "$doc/examples/contrib/fail2ban/filter.d/xmppshield.conf" \
    "$doc/examples/contrib/fail2ban/jail.d/xmppshield.conf" \
    "$doc/examples/contrib/backends/ejabberd.yml" \
    "$doc/examples/contrib/backends/ejabberd-federation.yml" \
    "$doc/examples/contrib/backends/prosody.cfg.lua" \
    "$doc/examples/contrib/backends/openfire.md" \
    "$doc/examples/contrib/prometheus/prometheus.yml" \
    "$doc/examples/contrib/prometheus/xmppshield.rules.yml" \
    "$doc/examples/contrib/prometheus/grafana-dashboard.json"
check "the admin's xmppshield.conf is untouched by install" \
    cmp "$tmp/admin.conf" "$dest$etc/xmppshield/xmppshield.conf"
check "the installed daemon runs (-V) and lists its keys (-k)" \
    sh -c '"$1" -V && "$1" -k | grep -q proxy_trusted' sh \
    "$dest$prefix/sbin/xmppshield"
check "the installed example config passes the key check" \
    sh -c '"$1" -k | while IFS="	" read -r s k rest; do
	grep -q -- "$k" "$2" || { echo "missing $k"; exit 1; }; done' sh \
    "$dest$prefix/sbin/xmppshield" "$dest$etc/xmppshield/xmppshield.conf.example"
check "the unit starts $prefix/sbin/xmppshield -d -c $etc/xmppshield/xmppshield.conf" \
    grep -qx "ExecStart=$prefix/sbin/xmppshield -d -c $etc/xmppshield/xmppshield.conf" "$dest$unit"
check "the unit checks the config (-n) before SIGHUP on reload" \
    sh -c 'grep -A1 "^ExecReload=$2/sbin/xmppshield -n -c $3/xmppshield/xmppshield.conf$" "$1" |
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID"' sh "$dest$unit" "$prefix" "$etc"
check "no @placeholder@ left in the unit" sh -c '! grep -n "@[a-z]*@" "$1"' sh "$dest$unit"
check "the unit is mode 644" sh -c 'test "$(stat -c %a "$1")" = 644' sh "$dest$unit"
if command -v groff >/dev/null 2>&1; then
	for page in "$prefix/share/man/man8/xmppshield.8" \
	    "$prefix/share/man/man5/xmppshield.conf.5"; do
		check "$(basename "$page") renders with groff -man without warnings" \
		    sh -c 'out=$(groff -man -Tutf8 -z -wall "$1" 2>&1); echo "$out"; test -z "$out"' \
		    sh "$dest$page"
	done
fi

# The example config is replaced by a new install, the real one never.
echo "# edited" >> "$dest$etc/xmppshield/xmppshield.conf.example"
check "make install again" $MAKE -s -C "$TOP_BUILDDIR" install "$@"
check "the example is refreshed" \
    cmp "$dest$etc/xmppshield/xmppshield.conf.example" \
    "$TOP_SRCDIR/etc/xmppshield.conf.example"
check "the admin's xmppshield.conf is still untouched" \
    cmp "$tmp/admin.conf" "$dest$etc/xmppshield/xmppshield.conf"

check "make uninstall" $MAKE -s -C "$TOP_BUILDDIR" uninstall "$@"
check "uninstall leaves only the admin's xmppshield.conf" \
    installed_only "$dest" "$etc/xmppshield/xmppshield.conf"

# --- install with the configured paths ----------------------------------
dest2=$tmp/root2
check "make install DESTDIR with the configured paths" \
    $MAKE -s -C "$TOP_BUILDDIR" install DESTDIR="$dest2"
unit2=$(find "$dest2" -name xmppshield.service -type f)
bin2=$(find "$dest2" -path '*/sbin/xmppshield' -type f)
check "the unit and the daemon are installed" test -n "$unit2" -a -n "$bin2"
if [ -n "$unit2" ] && [ -n "$bin2" ]; then
	start=$(sed -n 's/^ExecStart=//p' "$unit2")
	check "the unit's ExecStart is where the daemon was installed" \
	    test "$dest2${start%% *}" = "$bin2"
	conf=${start##* -c }
	check "the unit's config path is the daemon's built-in default ($conf)" \
	    sh -c '"$1" -h 2>&1 | grep -qF "(default $2)"' sh "$bin2" "$conf"
	check "the example sits beside that config path" \
	    test -f "$dest2${conf%/*}/xmppshield.conf.example"
fi
check "make uninstall (configured paths)" \
    $MAKE -s -C "$TOP_BUILDDIR" uninstall DESTDIR="$dest2"
check "nothing left" test -z "$(find "$dest2" -type f)"

echo "1..$n"
exit $failed
