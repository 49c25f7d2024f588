#!/usr/bin/env bash
# dev/up runs the suite in the foreground on its own private bus, prints how to reach it, answers
# troupectl, and on Ctrl-C (SIGINT to its process group, as a terminal sends it) stops the suite,
# then the bus, and exits, leaving no process behind. Run with --no-build: nothing is rebuilt here.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"
export TROUPE_BUILDDIR="$TOP_BUILDDIR"
# dev/up must tell the supervisor itself which trees its sandboxes may read.
unset TROUPE_SANDBOX_READ_ONLY

check "dev/up --help exits 0" "$TOP_SRCDIR/dev/up" --help
check "dev/up --help explains --no-build and --state" bash -c '"$1" --help | grep -q -- --no-build && "$1" --help | grep -q -- --state' _ "$TOP_SRCDIR/dev/up"
"$TOP_SRCDIR/dev/up" --frobnicate >/dev/null 2>&1
check_eq "dev/up with an unknown option exits 2" 2 "$?"

# start_devup LOG ARGS...: dev/up in the background in a process group of its own (job control),
# so that SIGINT is not ignored in it and can be sent to the group the way a terminal does.
start_devup() {
        local log=$1
        shift
        set -m
        "$TOP_SRCDIR/dev/up" --no-build "$@" >"$log" 2>&1 &
        DEVUP=$!
        set +m
        _pids+=("$DEVUP")
}

# --- with --state: everything beneath the given directory, kept afterwards ---------------------------
STATE="$T/s"
start_devup "$T/dev-up.log" --state "$STATE"
check "dev/up says the suite runs" wait_until grep -q "troupe is running in the foreground" "$T/dev-up.log"
ADDRESS="unix:path=$STATE/run/bus"
check "dev/up prints the export line" grep -qF "export TROUPE_BUS_ADDRESS='$ADDRESS'" "$T/dev-up.log"
check "dev/up prints example troupectl commands" grep -q "troupectl run echo" "$T/dev-up.log"

check "troupectl health answers on dev/up's bus" "$CTL" --bus-address="$ADDRESS" health
ctl --bus-address="$ADDRESS" run echo --param via=dev-up --wait --json
check_json \
        "a task runs on dev/up's suite" "j['result'] == {'via': 'dev-up'}" \
        "the task's workspace is beneath --state" "j['workspace'].startswith('$STATE/data/troupe/workspaces/')"

ctl --bus-address="$ADDRESS" status --json
pids=$(py "' '.join(str(d['pid']) for d in j['daemons'])")
bus_pid=$(pgrep -f "[d]bus-daemon.*--address=$ADDRESS")
children=$(supervised_pids "$ADDRESS")
check_eq "three daemons with pids" 3 "$(wc -w <<<"$pids")"
check_eq "the supervisor runs the registry, the router and the echo agent" 3 "$(wc -w <<<"$children")"
check "dev/up's dbus-daemon is found" test -n "$bus_pid"

kill -INT -- "-$DEVUP"
check "dev/up exits after Ctrl-C" wait_until gone "$DEVUP"
wait "$DEVUP"
check_eq "dev/up exits with 130 after SIGINT" 130 "$?"
# shellcheck disable=SC2086
check "Ctrl-C stopped the daemons, the agent and the bus" none_alive $pids $children "$bus_pid"
check "dev/up said it stopped the suite" grep -q "stopping the suite" "$T/dev-up.log"
check "--state is kept" test -d "$STATE/state/troupe"
check "the bus socket is gone" test ! -S "$STATE/run/bus"

# --- default: a temporary directory, removed on exit; SIGTERM works too --------------------------------
mkdir -p "$T/tmp"
TMPDIR="$T/tmp" start_devup "$T/dev-up2.log"
check "dev/up (temporary state) says the suite runs" wait_until grep -q "troupe is running in the foreground" "$T/dev-up2.log"
tmpbase=$(find "$T/tmp" -maxdepth 1 -name 'troupe-dev-*' | head -n 1)
check "dev/up made its temporary directory beneath \$TMPDIR" test -d "$tmpbase"
check "troupectl health answers on the temporary bus" "$CTL" --bus-address="unix:path=$tmpbase/run/bus" health
kill -TERM "$DEVUP"
check "dev/up exits after SIGTERM" wait_until gone "$DEVUP"
wait "$DEVUP"
check_eq "dev/up exits with 143 after SIGTERM" 143 "$?"
check "dev/up removed its temporary directory" test ! -e "$tmpbase"
check "no dbus-daemon of this test is left" bash -c "! pgrep -f '[d]bus-daemon.*$T/' >/dev/null"
