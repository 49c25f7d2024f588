#!/usr/bin/env bash
# troupe-registryd: hostile input on the agent socket. Each kind of bad packet gets its typed Error
# and a hang-up; hundreds of idle connections are capped and timed out; through all of it the
# registry stays healthy and keeps serving a well-behaved agent.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

start_bus
write_card steady
start_registry --heartbeat-interval-ms=200 --register-timeout-ms=4000 --max-unregistered=400

start_probe steady register steady --card "$T/cards/steady.json" --forever --accept-tasks
wait_until agent_state_is steady healthy

expect_refusal() {
        local mode=$1 code=$2 out
        out=$("$PROBE" "$mode" 2>&1)
        if printf '%s\n' "$out" | grep -qx "error $code" && printf '%s\n' "$out" | grep -qx closed; then
                ok "$mode: Error $code, then the connection is closed"
        else
                not_ok "$mode: Error $code, then the connection is closed" "probe said: $(printf '%s' "$out" | tr '\n' ' ')"
        fi
}
expect_refusal garbage malformed
expect_refusal oversized oversized
expect_refusal truncated truncated
expect_refusal wrong-version wrong-version
expect_refusal unknown-body unknown-body
expect_refusal before-register wrong-state

for i in $(seq 1 20); do "$PROBE" garbage >/dev/null 2>&1 & done
wait_until sh -c "! pgrep -f 'agent-probe garbage' >/dev/null"
check_eq "Health() is ok after 20 garbage connections" 's "ok"' "$(mgr Health)"
check "the registry is still running" kill -0 "$REG_PID"

# Idle connections: 500 against a cap of 400 unregistered ones.
"$PROBE" idle 500 20 1500 >"$T/idle.log" 2>&1 &
idle=$!
check "the probe opened 500 connections" wait_until grep -qx "opened 500" "$T/idle.log"
check "the 100 above the cap are refused at once" wait_until grep -qx "closed-early 100" "$T/idle.log"
check_eq "Health() is ok with 400 idle connections" 's "ok"' "$(mgr Health)"
check_eq "Describe() counts them" 400 "$(describe | sed -n 's/.*"unregistered":\([0-9]*\).*/\1/p')"
# Agents keep registering: at the cap, a new connection pushes out the oldest idle one.
write_card newcomer
start_probe newcomer register newcomer --card "$T/cards/newcomer.json" --forever --accept-tasks
check "an agent registers while 400 idle connections are open" wait_until agent_state_is newcomer healthy
id=$(create_task steady --params '{"k":"v"}')
check "a task runs meanwhile" wait_until task_state_is "$id" completed
check "the idle ones are closed when the register timeout ends" wait_until grep -qx "closed 500" "$T/idle.log"
wait "$idle" 2>/dev/null
check_eq "no unregistered connection is left" 0 "$(describe | sed -n 's/.*"unregistered":\([0-9]*\).*/\1/p')"

# A registered agent that misbehaves gets Errors, not a crash.
write_card asker
start_probe asker register asker --card "$T/cards/asker.json" --forever --send-exec
check "an ExecRequest without a token is refused in its ExecResult" \
        wait_until probe_said asker "^exec-result x1 none .* error=refused: the request carries no capability token$"
check "an ActionRequest without a token is denied" wait_until probe_said asker "^action-result a1 denied "
# Its first heartbeat may still be on the way: wait for healthy rather than read it once.
check "the agent stays connected and becomes healthy" wait_until agent_state_is asker healthy

# Task messages out of place: refused one by one, the task and the connection carry on.
id2=$(create_task steady --params '{"bogus":true}')
check "a task event for another task is no-such-task" wait_until probe_said steady "^error no-such-task "
check "progress above 1 is invalid-args" wait_until probe_said steady "^error invalid-args "
check "a second TaskAccepted is wrong-state" wait_until probe_said steady "^error wrong-state "
check "the task completes all the same" wait_until task_state_is "$id2" completed
check_eq "its progress never went past 1" 1 "$(task_prop "$id2" Progress)"
id3=$(create_task steady --params '{"bad_result":true}')
check "a result that is not JSON fails the task" wait_until task_state_is "$id3" failed
check "Error says so" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$id3 org.troupe.Registry1.Task Error | grep -q 'not valid JSON'"

check_eq "Health() is ok at the end" 's "ok"' "$(mgr Health)"
check_eq "the first agent was healthy throughout" healthy "$(agent_state steady)"
check "the registry is still running" kill -0 "$REG_PID"
