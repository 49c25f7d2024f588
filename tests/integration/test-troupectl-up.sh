#!/usr/bin/env bash
# troupectl up and down: with no session bus, `up` starts a private dbus-daemon and the suite,
# records them, and later commands find the bus by themselves; `up` again does nothing; `down`
# stops exactly that and leaves no process behind. On a bus that already exists, `up` uses it and
# `down` leaves the bus alone; a suite `up` did not start is not stopped by `down`.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"
export TROUPE_LIBEXECDIR="$TOP_BUILDDIR"
RUNTIME="$XDG_RUNTIME_DIR/troupe"

# In case a check fails half-way: stop whatever `up` started, by its recorded pids.
emergency_stop() {
        local f
        for f in "$RUNTIME/suite.pid" "$RUNTIME/bus.pid"; do
                [ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
        done
}
trap 'emergency_stop; finish' EXIT

# --- up with no bus at all ------------------------------------------------------------------------
check "there is no session bus to begin with" test ! -e "$XDG_RUNTIME_DIR/bus"

# A failed `up` takes back what it started: here the private bus, when the supervisor is missing.
TROUPE_LIBEXECDIR=/nonexistent ctl up
check_eq "up without a supervisor to run exits 1" 1 "$RC"
check "up without a supervisor says where it looked and what to set" \
        grep -q "troupe-supervisord from /nonexistent.*TROUPE_LIBEXECDIR" "$T/err"
check "the failed up left no records" bash -c "! ls '$RUNTIME'/bus.address '$RUNTIME'/bus.pid '$RUNTIME'/suite.pid 2>/dev/null | grep -q ."
check "the failed up stopped the private bus it had started" wait_until bash -c "! pgrep -f '[d]bus-daemon.*$T/' >/dev/null"

ctl up
check_eq "up exits 0" 0 "$RC"
check "up says the suite is up" grep -q "^troupe is up" "$T/out"
check "up prints the export line for other shells" grep -q "export TROUPE_BUS_ADDRESS='unix:path=$RUNTIME/bus" "$T/out"
check "up recorded the private bus address" grep -q "^unix:path=$RUNTIME/bus" "$RUNTIME/bus.address"
check "up recorded the dbus-daemon's pid" test -s "$RUNTIME/bus.pid"
check "up recorded the supervisor's pid" test -s "$RUNTIME/suite.pid"
bus_pid=$(cat "$RUNTIME/bus.pid" 2>/dev/null)
suite_pid=$(cat "$RUNTIME/suite.pid" 2>/dev/null)
check "the recorded dbus-daemon runs" alive "$bus_pid"
check_eq "the recorded pid is a dbus-daemon" dbus-daemon "$(cat "/proc/$bus_pid/comm" 2>/dev/null)"
check "the recorded supervisor runs" alive "$suite_pid"
check "the supervisor's output goes to the suite log" test -f "$XDG_STATE_HOME/troupe/logs/suite.log"

# Later commands find the private bus through the records, with nothing in the environment.
ctl health
check_eq "health on the recorded private bus exits 0" 0 "$RC"
ctl status --json
check_json \
        "status --json: the private bus, found through the records" \
        "j['bus_source'] == 'private' and j['bus'].startswith('unix:path=$RUNTIME/bus')" \
        "status --json: the supervisor is the recorded one" "j['daemons'][1]['pid'] == $suite_pid" \
        "status --json: all three daemons run" "all(d['running'] and d['health'] == 'ok' for d in j['daemons'])"
daemon_pids=$(py "' '.join(str(d['pid']) for d in j['daemons'])")

ctl up
check_eq "up again exits 0" 0 "$RC"
check "up again says the suite is already running" grep -q "already running" "$T/out"
check_eq "up again started no second supervisor" "$suite_pid" "$(cat "$RUNTIME/suite.pid" 2>/dev/null)"
check_eq "up again kept the same bus" "$bus_pid" "$(cat "$RUNTIME/bus.pid" 2>/dev/null)"

ctl run echo --param a=b --wait --json
check_eq "run --wait on the private bus exits 0" 0 "$RC"
check_json "run --wait on the private bus returns the params" "j['result'] == {'a': 'b'}"
children=$(supervised_pids "$(cat "$RUNTIME/bus.address")")
check_eq "the supervisor runs the registry, the router and the echo agent" 3 "$(wc -w <<<"$children")"

# --- down ------------------------------------------------------------------------------------------
ctl down
check_eq "down exits 0" 0 "$RC"
check "down says the suite and its bus are down" grep -q "troupe is down and its private bus stopped" "$T/out"
# shellcheck disable=SC2086
check "down leaves no process of the suite behind (daemons, agent, dbus-daemon)" \
        wait_until none_alive $daemon_pids $children "$bus_pid"
# ("[d]" keeps pgrep's pattern from matching the command line of the shell that runs it.)
check "no dbus-daemon of this test is left" bash -c "! pgrep -f '[d]bus-daemon.*$T/' >/dev/null"
check "down removed the records" bash -c "! ls '$RUNTIME'/bus.address '$RUNTIME'/bus.pid '$RUNTIME'/suite.pid 2>/dev/null | grep -q ."
check "down removed the bus socket" test ! -e "$RUNTIME/bus"
ctl health
check_eq "health after down exits 1" 1 "$RC"
ctl down
check_eq "down when nothing runs exits 0" 0 "$RC"
check "down when nothing runs says so" grep -q "not running" "$T/out"

# --- a bus that exists already: use it, and leave it alone -----------------------------------------
start_bus
bus_daemon=${_pids[-1]}
ctl up
check_eq "up on an existing bus exits 0" 0 "$RC"
check "up on an existing bus started no private bus" test ! -e "$RUNTIME/bus.pid"
check "the suite answers on the existing bus" "$CTL" health
suite_pid=$(cat "$RUNTIME/suite.pid" 2>/dev/null)
ctl down
check_eq "down on an existing bus exits 0" 0 "$RC"
check "down stopped the supervisor it started" wait_until none_alive "$suite_pid"
check "down left the existing bus running" alive "$bus_daemon"
check "the suite's names left the bus" bash -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' status org.troupe.Supervisor1"

# --- a suite `up` did not start: `down` refuses ----------------------------------------------------------
start_daemon troupe-supervisord --suite
foreign=$LAST_PID
wait_until "$CTL" health
ctl down
check_eq "down refuses a suite it did not start (exit 1)" 1 "$RC"
check "down says how to stop that suite instead" grep -q "not started by troupectl up" "$T/err"
check "the foreign suite still runs" "$CTL" health
check "its supervisor still runs" alive "$foreign"
