#!/usr/bin/env bash
# Confinement, from the outside: the real troupe-supervisord on a private bus spawns sandbox-probe
# under the task profile, which tries each forbidden thing, and every attempt must fail with exactly
# the errno the layer that stops it gives (bubblewrap's try-syscall): Landlock EACCES for files
# outside the workspace, seccomp EAFNOSUPPORT for sockets and EPERM for ptrace/unshare/mount,
# Landlock's signal scope EPERM for kill, the tasks limit EAGAIN for a fork bomb, the memory limit
# SIGKILL (cgroup) or ENOMEM (rlimit) for a memory hog. What is allowed still works, and the
# Confinement property names what was applied. test-confinement-user.sh runs this again as an
# unprivileged user (the user-namespace path); $CONFINEMENT_RUN names the run in the TAP lines.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

PYTHON=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 is needed to read the JSON reports"
PROBE="$TOP_BUILDDIR/sandbox-probe"
RUN=${CONFINEMENT_RUN:-as $(id -un)}

source "$TOP_SRCDIR/tests/integration/confinement-lib.sh"

# expect DESCRIPTION RESULT CHECK [ARGS]...: the probe, under the task profile in the workspace,
# prints "CHECK RESULT".
expect() {
        local desc=$1 want=$2
        shift 2
        if ! run_probe "${TASK[@]}" -- "$@"; then
                not_ok "$desc ($RUN)" "the probe did not run: $(cat "$T/spawn.err")"
                return
        fi
        check_eq "$desc ($RUN)" "$1 $want" "$(line "$1")"
}

applied() {
        [ "$(jget "$CONF" "'$1' in j['applied']")" = true ]
}

missing() {
        [ "$(jget "$CONF" "any(m['layer'] == '$1' for m in j['missing'])")" = true ]
}

start_bus
start_supervisor

# What the machine supports, as the supervisor saw it at start.
support=$(bus_string "$SUP_PATH" "$SUP.Manager" ConfinementSupport)
abi=$(jget "$support" "j['landlock_abi']") || { not_ok "ConfinementSupport is JSON ($RUN)" "$support"; exit 1; }
[ "$abi" -gt 0 ] || skip_all "Landlock is not available here ($(jget "$support" "j['layers'][0]['detail']")): the escape tests need it"
ok "ConfinementSupport is JSON naming the Landlock ABI, $abi ($RUN)"
check "ConfinementSupport lists every layer with its availability ($RUN)" test \
        "$(jget "$support" "all('available' in l for l in j['layers']) and len(j['layers']) > 0")" = true
d=$(tbusctl --json=short call "$SUP" "$SUP_PATH" "$SUP.Manager" Describe |
        "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"][0])')
check_eq "Describe() carries the same ($RUN)" "$(jget "$support" j)" "$(jget "$d" "j['confinement_support']")"
check "the supervisor logged what it supports ($RUN)" grep -q "Confinement: " "$T/troupe-supervisord.log"
diag "missing here: $(jget "$support" "[l['layer'] for l in j['layers'] if not l['available']]")"

# The world outside the sandbox: a file next to the workspace, one in $HOME, a symlink out, a TCP
# listener on the host's loopback and a process to signal and trace.
WS="$T/ws"
mkdir -p "$WS/mnt" "$HOME"
echo secret >"$HOME/secret"
echo outside >"$T/outside"
ln -s "$T/outside" "$WS/link-out"
"$PROBE" listen "$T/port" 2>>"$T/listener.log" &
_pids+=($!)
wait_until test -s "$T/port" || { not_ok "the loopback listener started ($RUN)"; exit 1; }
PORT=$(cat "$T/port")
sleep 1000 &
VICTIM=$!
_pids+=("$VICTIM")
ESCAPE="/tmp/troupe-confinement-$$-$RANDOM"

TASK=(4 workspace s "$WS" profile s task tasks_max t 16 memory_max t $((64 * 1024 * 1024)))

# --- the report ------------------------------------------------------------------------------------
run_probe "${TASK[@]}" -- no-new-privs
check_eq "Confinement names the task profile ($RUN)" task "$(jget "$CONF" "j['profile']")"
for layer in landlock seccomp capabilities no-new-privs; do
        check "Confinement says $layer was applied ($RUN)" applied "$layer"
done
if [ "$(jget "$support" "j['privileged']")" = false ] && [ "$(jget "$support" "j['user_namespaces']")" = true ]; then
        # The unprivileged path: the network namespace needs a user namespace around it.
        check "without privileges, the network namespace is made in a user namespace ($RUN)" applied userns
fi
if applied netns; then
        ok "Confinement says the network namespace was applied ($RUN)"
else
        check "Confinement says why there is no network namespace ($RUN)" missing netns
fi
check_eq "Confinement keeps what was requested ($RUN)" '{"profile": "task", "memory_max": 67108864, "tasks_max": 16}' \
        "$(jget "$CONF" "j['requested']")"
check_eq "Confinement reports the Landlock ABI in use ($RUN)" "$abi" "$(jget "$CONF" "j['landlock_abi']")"
check_eq "no_new_privs is set ($RUN)" "no-new-privs 1" "$(line no-new-privs)"

# --- forbidden: the filesystem outside the workspace ----------------------------------------------
expect "/etc/shadow cannot be read" EACCES read-file /etc/shadow
expect "a file in \$HOME cannot be read" EACCES read-file "$HOME/secret"
expect "/tmp cannot be written" EACCES write-file "$ESCAPE"
check "and nothing was written there ($RUN)" test ! -e "$ESCAPE"
expect "workspace/.. cannot be read" EACCES read-file "$WS/../outside"
expect "workspace/.. cannot be written" EACCES write-file "$WS/../written"
check "and nothing was written there ($RUN)" test ! -e "$T/written"
expect "a symlink out of the workspace cannot be read" EACCES read-file "$WS/link-out"
expect "a symlink out of the workspace cannot be written" EACCES write-file "$WS/link-out"
check_eq "and the file it points to is untouched ($RUN)" outside "$(cat "$T/outside")"
expect "an executable outside the system dirs cannot be run" EACCES exec "$T/outside"

# --- forbidden: network, the bus, other processes, namespaces, mounts ------------------------------
expect "TCP to the host's loopback listener is refused" EAFNOSUPPORT tcp-connect 127.0.0.1 "$PORT"
expect "TCP over IPv6 is refused" EAFNOSUPPORT tcp-connect ::1 "$PORT"
expect "the private bus's socket is refused" EAFNOSUPPORT unix-connect "$T/bus"
expect "ptrace of a process outside is refused" EPERM ptrace "$VICTIM"
run_probe "${TASK[@]}" -- kill "$VICTIM"
if [ "$abi" -ge 6 ]; then
        check_eq "a signal to a process outside is refused (Landlock scope) ($RUN)" "kill EPERM" "$(line kill)"
else
        check "Landlock ABI $abi cannot scope signals, and Confinement says so ($RUN)" missing landlock-scopes
fi
check "the process outside is still alive ($RUN)" kill -0 "$VICTIM"
run_probe "${TASK[@]}" -- unshare
for ns in mount user net; do
        check_eq "unshare of a $ns namespace is refused ($RUN)" "unshare-$ns EPERM" "$(line "unshare-$ns")"
done
expect "mount is refused" EPERM mount "$WS/mnt"
run_probe "${TASK[@]}" -- caps
check "no capability is effective, permitted, inheritable or ambient ($RUN)" grep -qE \
        '^caps eff=0{16} prm=0{16} inh=0{16} bnd=[0-9a-f]{16} amb=0{16}$' <<<"$OUT"

# --- allowed ----------------------------------------------------------------------------------------
expect "a file in the workspace can be written" ok write-file "$WS/written-inside"
check_eq "and holds what was written ($RUN)" x "$(cat "$WS/written-inside")"
expect "/usr/bin/env can be read" ok read-file /usr/bin/env
expect "/usr/bin/true can be run" ok exec /usr/bin/true
sup_spawn private "${TASK[@]}" -- /bin/sh -c \
        'echo "HOME=$HOME"; echo "TMPDIR=$TMPDIR"; exec "$0" write-file "$TMPDIR/t" write-file "$HOME/h"' "$PROBE"
wait_until ended "$OBJ"
OUT=$(log_file "$ID")
check "HOME is private, beneath the workspace ($RUN)" grep -qx "HOME=$WS/.troupe/home" <<<"$OUT"
check "TMPDIR is private, beneath the workspace ($RUN)" grep -qx "TMPDIR=$WS/.troupe/tmp" <<<"$OUT"
check_eq "both can be written ($RUN)" $'write-file ok\nwrite-file ok' "$(grep '^write-file' <<<"$OUT")"
check_eq "the private directories are 0700 ($RUN)" "700 700 700" \
        "$(stat -c %a "$WS/.troupe" "$WS/.troupe/home" "$WS/.troupe/tmp" | tr '\n' ' ' | sed 's/ $//')"

# A read-only path given to one Spawn: readable, and still not writable.
run_probe 5 workspace s "$WS" profile s task read_only as 1 "$T/outside" tasks_max t 16 \
        memory_max t $((64 * 1024 * 1024)) -- read-file "$T/outside" write-file "$T/outside"
check_eq "a read_only path can be read ($RUN)" "read-file ok" "$(line read-file)"
check_eq "a read_only path cannot be written ($RUN)" "write-file EACCES" "$(line write-file)"

# net.loopback: a network namespace of its own, where nothing listens on the loopback.
run_probe 5 workspace s "$WS" profile s task capabilities as 1 net.loopback tasks_max t 16 \
        memory_max t $((64 * 1024 * 1024)) -- tcp-connect 127.0.0.1 "$PORT"
if [ "$(jget "$CONF" "j['net']")" = loopback ]; then
        check_eq "with net.loopback, the loopback is its own: nothing listens there ($RUN)" \
                "tcp-connect ECONNREFUSED" "$(line tcp-connect)"
else
        check "net.loopback without a network namespace is refused, and Confinement says so ($RUN)" missing netns
        check_eq "AF_INET then stays refused ($RUN)" "tcp-connect EAFNOSUPPORT" "$(line tcp-connect)"
fi

# --- limits -----------------------------------------------------------------------------------------
run_probe "${TASK[@]}" -- fork-bomb 2000
via=$(jget "$CONF" "j['limits'].get('via', {}).get('tasks_max')")
diag "tasks_max via $via; $(grep '^# fork-bomb' <<<"$OUT")"
if [ "$via" != None ] && [ "$via" != none ]; then
        check_eq "a fork bomb hits tasks_max: EAGAIN ($via) ($RUN)" "fork-bomb EAGAIN" "$(line fork-bomb)"
        if [ "${via#cgroup}" != "$via" ]; then
                started=$(sed -n 's/^# fork-bomb: \([0-9]*\) children started$/\1/p' <<<"$OUT")
                check "fewer than 16 children were started (${started:-?}) ($RUN)" test "${started:-99}" -lt 16
        fi
else
        check "no layer can limit tasks here, and Confinement says so ($RUN)" missing cgroup-pids
fi

run_probe "${TASK[@]}" -- memory-hog 1024
via=$(jget "$CONF" "j['limits'].get('via', {}).get('memory_max')")
diag "memory_max via $via; $(grep '^# memory-hog' <<<"$OUT")"
case $via in
cgroup*)
        check_eq "a memory hog is killed by SIGKILL ($via) ($RUN)" "2 9" \
                "$(prop "$OBJ" ExitCode) $(prop "$OBJ" ExitStatus)"
        ;;
rlimit-as)
        check_eq "a memory hog's allocation fails with ENOMEM (rlimit-as) ($RUN)" "memory-hog ENOMEM" "$(line memory-hog)"
        ;;
*)
        check "no layer can limit memory here, and Confinement says so ($RUN)" missing cgroup-memory
        ;;
esac

# --- Stop() takes down the whole sandbox, also what left the process group -------------------------
sup_spawn escapee "${TASK[@]}" -- /bin/sh -c 'setsid sleep 1000 & echo "escaped $!"; wait'
wait_until grep -q '^escaped ' "$LOGS/$ID.log"
escaped=$(sed -n 's/^escaped //p' "$LOGS/$ID.log")
gone() {
        [ ! -e "/proc/$1" ] || grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"
}
tbusctl call "$SUP" "$OBJ" "$SUP.Process" Stop
wait_until ended "$OBJ"
CONF=$(bus_string "$OBJ" "$SUP.Process" Confinement)
if jget "$CONF" "j['limits']['via']" | grep -q cgroup; then
        check "a child that left the process group dies with the sandbox ($RUN)" wait_until gone "$escaped"
else
        ok "a child that left the process group dies with the sandbox ($RUN) # SKIP no cgroup holds the sandbox"
        kill -KILL "$escaped" 2>/dev/null
fi

# --- the other profiles -----------------------------------------------------------------------------
# agent, the default without a workspace: nothing writable at all, and still nothing of $HOME.
run_probe 0 -- read-file "$HOME/secret" write-file "$ESCAPE" read-file /usr/bin/env
check_eq "the default without a workspace is the agent profile ($RUN)" agent "$(jget "$CONF" "j['profile']")"
check_eq "an agent cannot read \$HOME ($RUN)" "read-file EACCES" "$(line read-file)"
check_eq "an agent cannot write /tmp ($RUN)" "write-file EACCES" "$(line write-file)"
check_eq "an agent can read /usr ($RUN)" "read-file ok" "$(grep '^read-file' <<<"$OUT" | tail -n 1)"
# unconfined, only when asked for by name (the user's editor): nothing applied, and it says so.
run_probe 1 profile s unconfined -- read-file "$HOME/secret"
check_eq "the unconfined profile is applied only by name ($RUN)" unconfined "$(jget "$CONF" "j['profile']")"
check_eq "it applies no layer ($RUN)" "[]" "$(jget "$CONF" "j['applied']")"
check_eq "and can read \$HOME ($RUN)" "read-file ok" "$(line read-file)"

# --- refusals ---------------------------------------------------------------------------------------
check "an unknown capability is refused ($RUN)" grep -q "InvalidArgs\|invalid capability" \
        <<<"$(spawn_error x 2 workspace s "$WS" capabilities as 1 net.everything -- "$PROBE" caps)"
check "a read_only path that does not exist is refused ($RUN)" grep -q "Option 'read_only' names '$T/nope'" \
        <<<"$(spawn_error x 1 read_only as 1 "$T/nope" -- "$PROBE" caps)"
check "a relative read_only path is refused ($RUN)" grep -q "must list absolute paths" \
        <<<"$(spawn_error x 1 read_only as 1 rel -- "$PROBE" caps)"
check "a cwd outside the workspace is refused ($RUN)" grep -q "must be inside the workspace" \
        <<<"$(spawn_error x 2 workspace s "$WS" cwd s "$T" -- "$PROBE" caps)"
check "a cwd through '..' is refused ($RUN)" grep -q "not a plain path beneath the workspace" \
        <<<"$(spawn_error x 2 workspace s "$WS" cwd s "$WS/mnt/../mnt" -- "$PROBE" caps)"
mkdir -p "$T/elsewhere"
ln -s "$T/elsewhere" "$WS/link-dir"
check "a cwd through a symlink out is refused ($RUN)" grep -q "goes through a symlink" \
        <<<"$(spawn_error x 2 workspace s "$WS" cwd s "$WS/link-dir" -- "$PROBE" caps)"
check "env may not set HOME with a workspace ($RUN)" grep -q "may not set 'HOME' with a workspace" \
        <<<"$(spawn_error x 2 workspace s "$WS" env as 1 HOME=/root -- "$PROBE" caps)"
sup_spawn incwd 2 workspace s "$WS" cwd s "$WS/mnt" -- /bin/sh -c 'pwd'
wait_until ended "$OBJ"
check_eq "a cwd beneath the workspace is used ($RUN)" "$WS/mnt" "$(log_file "$ID")"
