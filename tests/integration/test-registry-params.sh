#!/usr/bin/env bash
# troupe-registryd: CreateTask() validates everything before it creates anything. Hostile workspace
# names, unknown keys, wrong types and bad params are refused with InvalidArgs and leave no task and
# no directory behind; workspaces are made beneath the root, never through a symlink.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

start_bus
write_card worker
start_registry --heartbeat-interval-ms=200
start_probe worker register worker --card "$T/cards/worker.json" --forever --accept-tasks
wait_until agent_state_is worker healthy

# Everything under the data directory (workspaces live there), and whether /tmp/x exists.
snapshot() {
        { find "$XDG_DATA_HOME" | sort; test -e /tmp/x && echo "/tmp/x exists"; } >"$1"
}
snapshot "$T/before.txt"

# refused DESCRIPTION CREATE-TASK-ARGS...: InvalidArgs, and nothing was created.
refused() {
        local desc=$1 out
        shift
        out=$("$PROBE" create-task "$@" 2>&1)
        if printf '%s' "$out" | grep -q '^error org.troupe.Error.InvalidArgs: '; then
                ok "$desc is refused with InvalidArgs"
        else
                not_ok "$desc is refused with InvalidArgs" "got: $out"
        fi
}
long=$(printf 'a%.0s' $(seq 1 300))
refused "workspace ../x" worker --workspace ../x
refused "workspace /tmp/x" worker --workspace /tmp/x
refused "workspace a/b" worker --workspace a/b
refused "workspace .x" worker --workspace .x
refused "workspace .." worker --workspace ..
refused "an empty workspace" worker --workspace ""
refused "a 300-character workspace" worker --workspace "$long"
refused "workspace with upper case" worker --workspace Proj
refused "workspace with a newline" worker --workspace "$(printf 'a\nb')"
refused "an unknown key" worker --unknown-key
refused "params that are an array" worker --params '[1,2]'
refused "params that are a string" worker --params '"text"'
refused "params that are a number" worker --params '12'
refused "params that are not JSON" worker --params '{"a":'
refused "params with a duplicate key" worker --params '{"a":1,"a":2}'
refused "params of the wrong D-Bus type" worker --params-int
refused "params over 64 KiB" worker --params "{\"big\":\"$(head -c 70000 /dev/zero | tr '\0' x)\"}"
refused "an invalid agent name" "../evil"
snapshot "$T/after.txt"
check "nothing was created by the refused calls" cmp -s "$T/before.txt" "$T/after.txt"
check_eq "no task exists" "a(ssso) 0" "$(mgr ListTasks 'a{sv}' 0)"
check_eq "the agent was sent nothing" 0 "$(grep -c '^start-task' "$T/worker.log")"

# Valid names: the workspace is made 0700 beneath the root.
id=$(create_task worker --workspace proj.v1_x-2 --params '{"n":1}')
check "a valid workspace name is accepted" test -n "$id"
check "the workspace is created beneath the root" test -d "$WORKSPACES/proj.v1_x-2"
check_eq "Workspace is its absolute path" "\"$WORKSPACES/proj.v1_x-2\"" "$(task_prop "$id" Workspace)"
wait_until task_state_is "$id" completed
check "an existing workspace is refused" sh -c \
        "'$PROBE' create-task worker --workspace proj.v1_x-2 | grep -q '^error org.troupe.Error.AlreadyExists'"
id2=$(create_task worker --workspace proj.v1_x-2 --reuse)
check "...unless reuse_workspace is set" test -n "$id2"
check "the reused task runs" wait_until task_state_is "$id2" completed

# A symlink planted in the root is never followed.
mkdir -p "$T/elsewhere"
ln -s "$T/elsewhere" "$WORKSPACES/planted"
check "a workspace that is a symlink is refused" sh -c \
        "'$PROBE' create-task worker --workspace planted --reuse | grep -q '^error org.troupe.Error.InvalidArgs'"
check "without reuse too" sh -c "'$PROBE' create-task worker --workspace planted | grep -q '^error '"
check "nothing was written through it" test -z "$(ls -A "$T/elsewhere")"
check_eq "the refusals made no task" 2 "$(mgr ListTasks 'a{sv}' 0 | cut -d' ' -f2)"
check_eq "Health() is ok" 's "ok"' "$(mgr Health)"
