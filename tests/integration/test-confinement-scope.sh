#!/usr/bin/env bash
# Limits through a transient systemd scope (issue 4: "a transient scope through systemd's D-Bus API
# when running under systemd"): a real systemd user manager, started for the test in a private mount
# namespace (it refuses to run unless /run/systemd/system exists, so a scratch directory holding
# system/ is bind-mounted over /run/systemd there), and troupe-supervisord --cgroup=scope beside it.
# Each confined process must land in its own troupe-<id>.scope with the memory and pids limits set on
# that scope's cgroups (read back from the files), the fork bomb and the memory hog must hit them,
# Stop() must kill everything in the scope and the scope must be gone afterwards. When the manager
# goes away, the next spawn falls back to the next layer and says why.
#
# Needs root (the manager moves the supervisor's children, and the mount namespace), systemd and
# unshare; skipped otherwise.
set -u

if [ -z "${TROUPE_SCOPE_TEST_NS:-}" ]; then
        [ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (a private mount namespace and a user manager that moves our children)"; exit 0; }
        SYSTEMD=${SYSTEMD:-/usr/lib/systemd/systemd}
        [ -x "$SYSTEMD" ] || { echo "1..0 # SKIP no systemd at $SYSTEMD"; exit 0; }
        command -v systemctl >/dev/null 2>&1 || { echo "1..0 # SKIP no systemctl"; exit 0; }
        [ -d /run/systemd ] || { echo "1..0 # SKIP no /run/systemd to bind-mount over"; exit 0; }
        unshare -m --propagation private true 2>/dev/null ||
                { echo "1..0 # SKIP unshare -m --propagation private fails here"; exit 0; }
        export TROUPE_SCOPE_TEST_NS=1 SYSTEMD
        exec unshare -m --propagation private -- "${BASH:-bash}" "$0" "$@"
fi

source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

PYTHON=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 is needed to read the JSON reports"
PROBE="$TOP_BUILDDIR/sandbox-probe"

source "$TOP_SRCDIR/tests/integration/confinement-lib.sh"

[ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/pids ] ||
        skip_all "the limits are read back from the cgroup v1 memory and pids hierarchies, which are not mounted here"

# The user manager ------------------------------------------------------------------------------------
mkdir -p "$T/run-systemd/system"
mount --bind "$T/run-systemd" /run/systemd || skip_all "cannot bind-mount over /run/systemd"
"$SYSTEMD" --user >"$T/systemd-user.log" 2>&1 &
MANAGER=$!
_pids+=("$MANAGER")

manager_running() {
        local s
        s=$(systemctl --user is-system-running 2>/dev/null)
        [ "$s" = running ] || [ "$s" = degraded ]
}
wait_until test -S "$XDG_RUNTIME_DIR/systemd/private" && wait_until manager_running ||
        skip_all "the systemd user manager did not start: $(tail -n 3 "$T/systemd-user.log" | tr '\n' ' ')"
ok "a systemd user manager answers on $XDG_RUNTIME_DIR/systemd/private"

# unit_prop UNIT PROPERTY: the manager's view of a unit.
unit_prop() {
        systemctl --user show -P "$2" "$1" 2>/dev/null
}

# cgroup_of PID CONTROLLER: the process's group in that v1 hierarchy ("memory:/app.slice/x.scope").
cgroup_of() {
        sed -n "s/^[0-9]*:$2:\\(.*\\)\$/\\1/p" "/proc/$1/cgroup"
}

start_bus
start_supervisor --cgroup=scope

support=$(bus_string "$SUP_PATH" "$SUP.Manager" ConfinementSupport)
check_eq "ConfinementSupport says the cgroup choice is scope" scope "$(jget "$support" "j['limits']['choice']")"
check_eq "ConfinementSupport names the manager it reached" \
        "user manager at $XDG_RUNTIME_DIR/systemd/private" "$(jget "$support" "j['limits']['scope']")"
check_eq "the systemd-scope layer is available" true \
        "$(jget "$support" "[l['available'] for l in j['layers'] if l['layer'] == 'systemd-scope'][0]")"

WS="$T/ws"
mkdir -p "$WS"
MEM=$((64 * 1024 * 1024))
TASK=(4 workspace s "$WS" profile s task tasks_max t 16 memory_max t "$MEM")

# --- a process in its own scope, with its limits on the scope's groups ------------------------------
sup_spawn escapee "${TASK[@]}" -- /bin/sh -c 'setsid sleep 1000 & echo "escaped $!"; wait' ||
        { not_ok "a confined process starts with --cgroup=scope"; exit 1; }
ok "a confined process starts with --cgroup=scope"
wait_until grep -q '^escaped ' "$LOGS/$ID.log"
escaped=$(sed -n 's/^escaped //p' "$LOGS/$ID.log")
PID=$(prop "$OBJ" Pid)
UNIT="troupe-$ID.scope"
CONF=$(bus_string "$OBJ" "$SUP.Process" Confinement)
diag "Confinement: $CONF"

mem_cg=$(cgroup_of "$PID" memory)
pids_cg=$(cgroup_of "$PID" pids)
check_eq "the process is in $UNIT (memory hierarchy)" "$UNIT" "${mem_cg##*/}"
check_eq "the process is in $UNIT (pids hierarchy)" "$UNIT" "${pids_cg##*/}"
check_eq "so is the child that left its process group" "$mem_cg" "$(cgroup_of "$escaped" memory)"
check_eq "memory.limit_in_bytes of the scope is memory_max" "$MEM" \
        "$(cat "/sys/fs/cgroup/memory$mem_cg/memory.limit_in_bytes")"
check_eq "pids.max of the scope is tasks_max" 16 "$(cat "/sys/fs/cgroup/pids$pids_cg/pids.max")"
check_eq "the manager runs the scope" active "$(unit_prop "$UNIT" ActiveState)"
check_eq "with MemoryMax" "$MEM" "$(unit_prop "$UNIT" MemoryMax)"
check_eq "and TasksMax" 16 "$(unit_prop "$UNIT" TasksMax)"
check_eq "Confinement says systemd-scope" systemd-scope "$(jget "$CONF" "j['cgroup']")"
check_eq "Confinement names the unit and says it holds the pid" "[\"$UNIT\", true]" \
        "$(jget "$CONF" "[j['scope']['unit'], j['scope']['placed']]")"
check_eq "Confinement names the scope's cgroup" "/sys/fs/cgroup/memory$mem_cg" "$(jget "$CONF" "j['scope']['cgroup']")"
check_eq "the limits are applied by the scope" '{"memory_max": "systemd-scope", "tasks_max": "systemd-scope"}' \
        "$(jget "$CONF" "j['limits']['via']")"
check_eq "with their values" "[$MEM, 16]" "$(jget "$CONF" "[j['limits']['memory_max'], j['limits']['tasks_max']]")"
check_eq "systemd-scope is listed as applied, no cgroup-v1 layer" "[true, false]" \
        "$(jget "$CONF" "['systemd-scope' in j['applied'], any(a.startswith('cgroup-v1') for a in j['applied'])]")"
check_eq "nothing about the limits is missing" "[]" \
        "$(jget "$CONF" "[m['layer'] for m in j['missing'] if 'cgroup' in m['layer'] or 'scope' in m['layer'] or 'rlimit' in m['layer']]")"
# The fallback groups prepared before the spawn were removed once the scope held the pid.
check_eq "the supervisor kept no group of its own in the v1 hierarchies" "" \
        "$(find /sys/fs/cgroup/memory /sys/fs/cgroup/pids /sys/fs/cgroup/cpu -maxdepth 6 -type d -name "troupe-$ID" 2>/dev/null)"

# --- Stop() kills everything in the scope, and the scope goes ---------------------------------------
gone() {
        [ ! -e "/proc/$1" ] || grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"
}
unit_gone() {
        local s
        s=$(unit_prop "$UNIT" LoadState)
        [ "$s" = not-found ] || [ -z "$s" ]
}
tbusctl call "$SUP" "$OBJ" "$SUP.Process" Stop
wait_until ended "$OBJ"
check "Stop() kills the child that left the process group" wait_until gone "$escaped"
check "the scope is gone afterwards" wait_until unit_gone
check "and so is its cgroup" wait_until test ! -e "/sys/fs/cgroup/memory$mem_cg"

# --- the limits hold ----------------------------------------------------------------------------------
run_probe "${TASK[@]}" -- fork-bomb 2000 || not_ok "the fork bomb probe ran" "$(cat "$T/spawn.err")"
diag "$(grep '^# fork-bomb' <<<"$OUT")"
check_eq "the probe ran in a scope" systemd-scope "$(jget "$CONF" "j['cgroup']")"
check_eq "a fork bomb hits the scope's TasksMax: EAGAIN" "fork-bomb EAGAIN" "$(line fork-bomb)"
started=$(sed -n 's/^# fork-bomb: \([0-9]*\) children started$/\1/p' <<<"$OUT")
check "fewer than 16 children were started (${started:-?})" test "${started:-99}" -lt 16
UNIT="troupe-$ID.scope"
check "its scope is gone once it exited" wait_until unit_gone

run_probe "${TASK[@]}" -- memory-hog 1024 || not_ok "the memory hog probe ran" "$(cat "$T/spawn.err")"
diag "$(grep '^# memory-hog' <<<"$OUT")"
check_eq "a memory hog is killed by SIGKILL at the scope's MemoryMax" "2 9" \
        "$(prop "$OBJ" ExitCode) $(prop "$OBJ" ExitStatus)"
UNIT="troupe-$ID.scope"
check "its scope is gone once it exited" wait_until unit_gone

# --- without the manager: the next layer, and the reason ---------------------------------------------
kill -TERM "$MANAGER"
wait "$MANAGER" 2>/dev/null
run_probe "${TASK[@]}" -- fork-bomb 2000 || not_ok "the probe ran without the manager" "$(cat "$T/spawn.err")"
check_eq "without the manager the limits fall back to cgroup v1" cgroup-v1 "$(jget "$CONF" "j['cgroup']")"
check_eq "and the scope is reported as not placed" false "$(jget "$CONF" "j['scope']['placed']")"
diag "$(jget "$CONF" "[m['reason'] for m in j['missing'] if m['layer'] == 'systemd-scope']")"
check "Confinement says why there is no scope" grep -q "StartTransientUnit(troupe-$ID.scope)" \
        <<<"$(jget "$CONF" "[m['reason'] for m in j['missing'] if m['layer'] == 'systemd-scope']")"
check_eq "the fork bomb still hits tasks_max: EAGAIN (cgroup-v1-pids)" "fork-bomb EAGAIN" "$(line fork-bomb)"

# --- a failure in the child before exec reaches Spawn()'s caller with its errno --------------------
# Landlock refuses to execute anything outside the system directories and the workspace: execve()
# fails in the child with EACCES, after the placement.
cp /bin/true "$T/outside-true"
chmod 0755 "$T/outside-true"
check "with the scope path (fork), a refused exec fails Spawn() with the step and EACCES" \
        grep -q "Failed to start '$T/outside-true' (exec): Permission denied" \
        <<<"$(spawn_error x "${TASK[@]}" -- "$T/outside-true")"

# The same through a supervisor that makes its own cgroups (--cgroup=v1): the child is started with
# clone(CLONE_VM) and parked until the supervisor has written its pid into its groups.
stop_supervisor
start_supervisor --cgroup=v1
check "with the parked path (clone), a refused exec fails Spawn() with the step and EACCES" \
        grep -q "Failed to start '$T/outside-true' (exec): Permission denied" \
        <<<"$(spawn_error x "${TASK[@]}" -- "$T/outside-true")"
run_probe "${TASK[@]}" -- fork-bomb 2000 || not_ok "the probe ran with --cgroup=v1" "$(cat "$T/spawn.err")"
check_eq "--cgroup=v1 puts the limits in cgroup v1" cgroup-v1 "$(jget "$CONF" "j['cgroup']")"
check_eq "and tries no scope" false "$(jget "$CONF" "'scope' in j")"
check_eq "the fork bomb hits tasks_max in the group the child was placed in: EAGAIN" "fork-bomb EAGAIN" "$(line fork-bomb)"
started=$(sed -n 's/^# fork-bomb: \([0-9]*\) children started$/\1/p' <<<"$OUT")
check "fewer than 16 children were started (${started:-?})" test "${started:-99}" -lt 16
