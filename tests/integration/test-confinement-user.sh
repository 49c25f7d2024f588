#!/usr/bin/env bash
# The escape tests of test-confinement.sh again, with the private bus, the registry and the supervisor
# all running as an unprivileged user: CI runs the suite as root, where the sandbox makes its network
# namespace directly and limits through cgroups; an ordinary user's supervisor goes through a user
# namespace and rlimits instead, and that path must hold as well. Needs root (to create the user
# and switch to it with setpriv); the TAP lines are the inner run's.
set -u
: "${TOP_BUILDDIR:?run through make check, or export TOP_BUILDDIR and TOP_SRCDIR}"
: "${TOP_SRCDIR:?run through make check, or export TOP_BUILDDIR and TOP_SRCDIR}"

PROBE_USER=troupe-probe

skip_all() {
        printf '1..0 # SKIP %s\n' "$*"
        exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "not running as root: the unprivileged run needs root to create and become $PROBE_USER"
command -v setpriv >/dev/null 2>&1 || skip_all "no setpriv (util-linux)"
if ! id -u "$PROBE_USER" >/dev/null 2>&1; then
        command -v useradd >/dev/null 2>&1 || skip_all "no useradd to create $PROBE_USER"
        # Concurrent runs may race to create it: what counts is that it exists afterwards.
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PROBE_USER" 2>/dev/null ||
                id -u "$PROBE_USER" >/dev/null 2>&1 || skip_all "cannot create the user $PROBE_USER"
fi

as_user() {
        setpriv --reuid="$PROBE_USER" --regid="$PROBE_USER" --clear-groups --reset-env -- "$@"
}

# The user must reach the build and source trees; they are not made reachable for it.
for tree in "$(realpath "$TOP_BUILDDIR")" "$(realpath "$TOP_SRCDIR")"; do
        dir=""
        IFS=/ read -r -a parts <<<"${tree#/}"
        for part in "" "${parts[@]}"; do
                dir="${dir%/}/$part"
                as_user test -r "$dir" -a -x "$dir" ||
                        skip_all "$PROBE_USER cannot read and enter $dir (on the way to $tree): run the tests from a tree it can reach"
        done
done

base=$(mktemp -d "${TMPDIR:-/tmp}/troupe-user-XXXXXX") || exit 1
trap 'rm -rf "$base"' EXIT
chown "$PROBE_USER:" "$base"
chmod 0700 "$base"

# lib.sh makes every XDG and TROUPE directory beneath $TMPDIR, which is the user's own here.
as_user env TOP_BUILDDIR="$TOP_BUILDDIR" TOP_SRCDIR="$TOP_SRCDIR" TMPDIR="$base" \
        DBUS_DAEMON="${DBUS_DAEMON:-dbus-daemon}" CONFINEMENT_RUN="as $PROBE_USER" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        TROUPE_LOG_LEVEL="${TROUPE_LOG_LEVEL:-debug}" DEADLINE_SEC="${DEADLINE_SEC:-30}" \
        bash "$TOP_SRCDIR/tests/integration/test-confinement.sh"
