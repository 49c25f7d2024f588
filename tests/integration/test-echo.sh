#!/usr/bin/env bash
# troupe-agent-echo on the real registry, started by hand: registration and idle heartbeats, tasks
# with and without delay_ms, rejections, cancellation, surviving a registry restart (kill -9) with
# its running task, and stopping on SIGTERM as "stopped".
# shellcheck shell=bash
source "$TOP_SRCDIR/tests/integration/lib.sh"

REG=org.troupe.Registry1
REG_PATH=/org/troupe/Registry1
MGR=org.troupe.Registry1.Manager
ECHO="$TOP_BUILDDIR/troupe-agent-echo"
# 200 ms like the registry tests: short enough to be quick, long enough that a loaded CI
# machine does not starve an agent past 3 intervals (unresponsive) by accident.
export TROUPE_HEARTBEAT_INTERVAL_MS=200

mgr() {
        tbusctl call $REG $REG_PATH $MGR "$@"
}
agent_prop() {
        tbusctl get-property $REG $REG_PATH/agent/echo org.troupe.Registry1.Agent "$1" 2>/dev/null | cut -d' ' -f2-
}
agent_state_is() {
        [ "$(agent_prop State)" = "\"$1\"" ]
}
task_prop() {
        tbusctl get-property $REG "$1" org.troupe.Registry1.Task "$2" 2>/dev/null | cut -d' ' -f2-
}
task_state_is() {
        [ "$(task_prop "$1" State)" = "\"$2\"" ]
}
# create PARAMS_JSON: CreateTask for echo; sets TASK_PATH.
create() {
        local out
        out=$(mgr CreateTask 'sa{sv}' echo 1 params s "$1") || return 1
        TASK_PATH=$(printf '%s' "$out" | cut -d' ' -f3 | tr -d '"')
}
registry_healthy() {
        [ "$(mgr Health 2>/dev/null)" = 's "ok"' ]
}
start_echo() {
        "$ECHO" >>"$T/echo.log" 2>&1 &
        ECHO_PID=$!
        _pids+=("$ECHO_PID")
}

check "--help" "$ECHO" --help
check_eq "--version" "troupe-agent-echo $(sed -n 's/^AC_INIT(\[troupe\], \[\([^]]*\)\].*/\1/p' "$TOP_SRCDIR/configure.ac")" \
        "$("$ECHO" --version)"

start_bus
start_daemon troupe-registryd
REG_PID=$LAST_PID
wait_until registry_healthy || { not_ok "registry started"; exit 1; }

start_echo
check "echo registers and becomes healthy" wait_until agent_state_is healthy
check_eq "it registers with its card's skills" 'as 2 "echo" "wait"' \
        "$(tbusctl get-property $REG $REG_PATH/agent/echo org.troupe.Registry1.Agent Skills)"
hb1=$(agent_prop LastHeartbeatUSec)
sleep_until_heartbeats_move() {
        [ "$(agent_prop LastHeartbeatUSec)" != "$hb1" ]
}
check "idle, it keeps heartbeating" wait_until sleep_until_heartbeats_move
# Well past 10 intervals (what makes an agent lost) without any task.
end=$((SECONDS + 3))
while [ $SECONDS -lt $end ]; do sleep 0.2; done
check "and stays healthy while idle" agent_state_is healthy

# A task with a delay: working with progress, then completed with its params as the result. The
# delay is long enough for a poll of the state to see "working" on a loaded machine.
create '{"delay_ms":4000,"greeting":"hello"}' && ok "CreateTask with delay_ms 4000" || not_ok "CreateTask with delay_ms 4000"
check "it is working while it waits" wait_until task_state_is "$TASK_PATH" working
check "it completes" wait_until task_state_is "$TASK_PATH" completed
check_eq "its result is its params" '"{\"delay_ms\":4000,\"greeting\":\"hello\"}"' "$(task_prop "$TASK_PATH" Result)"
check_eq "its progress reached 1" "1" "$(task_prop "$TASK_PATH" Progress)"

create '{"delay_ms":"20"}' && check "delay_ms as a string of digits works" wait_until task_state_is "$TASK_PATH" completed
create '{}' && check "no delay_ms at all works" wait_until task_state_is "$TASK_PATH" completed
for bad in '"abc"' '-1' '1.5' '600001' '"12a"' 'true' '""'; do
        create "{\"delay_ms\":$bad}" && check "delay_ms $bad is rejected" wait_until task_state_is "$TASK_PATH" rejected
done
check_eq "with a reason" '"delay_ms must be an integer from 0 to 600000 (milliseconds)"' "$(task_prop "$TASK_PATH" Error)"

# Cancel a long task: canceled by the agent, well before the registry's 5 s deadline.
create '{"delay_ms":600000}'
wait_until task_state_is "$TASK_PATH" working
start=$SECONDS
check "CancelTask" mgr CancelTask s "$(task_prop "$TASK_PATH" Id | tr -d '"')"
check "a canceled task ends canceled" wait_until task_state_is "$TASK_PATH" canceled
[ $((SECONDS - start)) -lt 4 ] && ok "promptly" || not_ok "promptly" "took $((SECONDS - start)) s"
check "echo is still healthy" agent_state_is healthy

# The registry dies with a task running; echo reconnects, re-registers with the task, finishes it.
create '{"delay_ms":2500,"survives":true}'
wait_until task_state_is "$TASK_PATH" working
kill -KILL "$REG_PID"
wait "$REG_PID" 2>/dev/null
start_daemon troupe-registryd
REG_PID=$LAST_PID
check "the registry comes back" wait_until registry_healthy
check "echo registers again by itself" wait_until agent_state_is healthy
check "the running task survives the restart and completes" wait_until task_state_is "$TASK_PATH" completed
check_eq "with its result" '"{\"delay_ms\":2500,\"survives\":true}"' "$(task_prop "$TASK_PATH" Result)"
check "echo said it reconnected" grep -q "Registered as 'echo' (connection 2)" "$T/echo.log"

# SIGTERM: a clean exit, and the registry files it as stopped, not lost.
create '{"delay_ms":600000}'
wait_until task_state_is "$TASK_PATH" working
kill -TERM "$ECHO_PID"
wait "$ECHO_PID"
check_eq "echo exits 0 on SIGTERM" 0 $?
check "the registry marks it stopped" wait_until agent_state_is stopped
check "its running task ended canceled" wait_until task_state_is "$TASK_PATH" canceled
