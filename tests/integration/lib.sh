# Sourced by every integration test: a private dbus-daemon, temporary XDG directories, the real
# daemons from the build tree, polling helpers with generous deadlines, and TAP output.
# shellcheck shell=bash
set -u

: "${TOP_BUILDDIR:?run through make check, or export TOP_BUILDDIR and TOP_SRCDIR}"
: "${TOP_SRCDIR:?run through make check, or export TOP_BUILDDIR and TOP_SRCDIR}"

T=$(mktemp -d "${TMPDIR:-/tmp}/troupe-it-XXXXXX")
export XDG_RUNTIME_DIR="$T/run" XDG_STATE_HOME="$T/state" XDG_DATA_HOME="$T/data"
export XDG_CONFIG_HOME="$T/config" HOME="$T/home"
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_STATE_HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$HOME"
chmod 0700 "$XDG_RUNTIME_DIR"
# Agents and cards come from the build and source trees, not from an installed copy.
export TROUPE_AGENT_PATH="$TOP_BUILDDIR"
export TROUPE_AGENT_CARDS_DIR="$TOP_SRCDIR/agents"
# Confined processes run the build tree's executables (and libtroupe beside them) and read its
# agent cards: outside the system directories, so the supervisor's sandboxes must let them read
# both trees, and nothing else.
export TROUPE_SANDBOX_READ_ONLY="$(realpath "$TOP_BUILDDIR"):$(realpath "$TOP_SRCDIR")"
export TROUPE_LOG_LEVEL="${TROUPE_LOG_LEVEL:-debug}" TROUPE_LOG_TARGET=console
unset DBUS_SESSION_BUS_ADDRESS TROUPE_BUS_ADDRESS NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID

# Deadline for anything we wait for; generous, because CI machines are slow and shared.
DEADLINE_SEC=${DEADLINE_SEC:-30}

_n=0
_failed=0
_pids=()

diag() { printf '# %s\n' "$*"; }

ok() {
        _n=$((_n + 1))
        printf 'ok %d - %s\n' "$_n" "$1"
}

not_ok() {
        _n=$((_n + 1))
        _failed=$((_failed + 1))
        printf 'not ok %d - %s\n' "$_n" "$1"
        shift
        [ $# -gt 0 ] && diag "$*"
}

# check DESCRIPTION COMMAND...: one TAP test that passes when COMMAND succeeds.
check() {
        local desc=$1 out
        shift
        if out=$("$@" 2>&1); then
                ok "$desc"
        else
                not_ok "$desc" "command failed: $* :: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
        fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                ok "$1"
        else
                not_ok "$1" "expected '$2', got '$3'"
        fi
}

# The plan is the skip line: finish() must not print a second one.
_skipped=0
skip_all() {
        printf '1..0 # SKIP %s\n' "$*"
        _skipped=1
        exit 0
}

# wait_until COMMAND...: polls until COMMAND succeeds or the deadline passes; returns its status.
wait_until() {
        local end=$((SECONDS + DEADLINE_SEC))
        while ! "$@" >/dev/null 2>&1; do
                [ "$SECONDS" -ge "$end" ] && return 1
                sleep 0.05
        done
        return 0
}

start_bus() {
        local dbus=${DBUS_DAEMON:-dbus-daemon}
        command -v "$dbus" >/dev/null 2>&1 || skip_all "no dbus-daemon: install the dbus package (dev/setup does)"
        "$dbus" --session --nofork --nopidfile --address="unix:path=$T/bus" --print-address=3 \
                3>"$T/bus.address" >"$T/dbus.log" 2>&1 &
        _pids+=($!)
        wait_until test -s "$T/bus.address" || { not_ok "dbus-daemon started"; exit 1; }
        export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/bus"
        export TROUPE_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"
}

bus_has_name() {
        busctl --address="$DBUS_SESSION_BUS_ADDRESS" status "$1" >/dev/null 2>&1
}

# start_daemon NAME [ARGS...]: runs $TOP_BUILDDIR/NAME in the background, logging to $T/NAME.log.
# Sets LAST_PID.
start_daemon() {
        local name=$1
        shift
        "$TOP_BUILDDIR/$name" "$@" >>"$T/$name.log" 2>&1 &
        LAST_PID=$!
        _pids+=("$LAST_PID")
}

# busctl on the test bus.
tbusctl() {
        busctl --address="$DBUS_SESSION_BUS_ADDRESS" "$@"
}

finish() {
        local p
        for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${_pids[@]}"; do
                local end=$((SECONDS + 10))
                while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        if [ "$_failed" -gt 0 ]; then
                for f in "$T"/*.log; do
                        [ -f "$f" ] || continue
                        diag "--- $(basename "$f")"
                        tail -n 40 "$f" | sed 's/^/# /'
                done
        fi
        [ "$_skipped" -eq 1 ] || printf '1..%d\n' "$_n"
        rm -rf "$T"
        [ "$_failed" -eq 0 ]
        exit $?
}
trap finish EXIT
