#!/usr/bin/env bash
# troupe-registryd: liveness. A killed agent is noticed at once and its task fails; a frozen one
# becomes unresponsive after 3 intervals and lost after 10; a card with exec.retry gets its task
# dispatched once more, and only once.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

INTERVAL_MS=300
start_bus
write_card victim
write_card sleeper
write_card phoenix true
start_registry --heartbeat-interval-ms=$INTERVAL_MS --reclaim-grace-ms=20000

# SIGKILL: the closed connection is noticed at once, far within 3 heartbeat intervals.
start_probe victim register victim --card "$T/cards/victim.json" --forever --hold-tasks
victim_pid=$PROBE_PID
wait_until agent_state_is victim healthy
id=$(create_task victim)
check "the task is working" wait_until task_state_is "$id" working
t0=$(now_ms)
kill_wait KILL "$victim_pid"
check "the killed agent is lost" wait_until agent_state_is victim lost
check "its task fails instead of hanging" wait_until task_state_is "$id" failed
# When the registry noticed, by its own clock: the time of the task's final event.
t1=$(final_event_ms "$id")
check "...within 3 heartbeat intervals of the kill ($((t1 - t0)) ms <= $((3 * INTERVAL_MS)) ms)" \
        test $((t1 - t0)) -le $((3 * INTERVAL_MS))
check "Error names the lost agent" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$id org.troupe.Registry1.Task Error | grep -q 'agent victim was lost'"
check_eq "CurrentTasks of the lost agent is empty" "0" "$(agent_prop victim CurrentTasks)"
check "CreateTask() for a lost agent is NoSuchAgent" sh -c "'$PROBE' create-task victim | grep -q '^error org.troupe.Error.NoSuchAgent'"

# SIGSTOP: silence makes it unresponsive (3 intervals), then lost (10), in that order.
start_probe sleeper register sleeper --card "$T/cards/sleeper.json" --forever --hold-tasks --reconnect
sleeper_pid=$PROBE_PID
wait_until agent_state_is sleeper healthy
id2=$(create_task sleeper)
wait_until task_state_is "$id2" working
kill -STOP "$sleeper_pid"
t0=$(now_ms)
check "a frozen agent becomes unresponsive" wait_until agent_state_is sleeper unresponsive
t1=$(now_ms)
check_eq "its task keeps working while it is only unresponsive" working "$(task_state "$id2")"
check "an unresponsive agent becomes lost" wait_until agent_state_is sleeper lost
t2=$(now_ms)
# The last heartbeat came at most one interval before the stop.
check "unresponsive no sooner than 2 intervals after the stop ($((t1 - t0)) ms)" test $((t1 - t0)) -ge $((2 * INTERVAL_MS))
check "lost no sooner than 9 intervals after the stop ($((t2 - t0)) ms)" test $((t2 - t0)) -ge $((9 * INTERVAL_MS))
check "the lost agent's task fails" wait_until task_state_is "$id2" failed
t3=$(final_event_ms "$id2")
check "lost within 12 intervals of the stop, by the registry's clock ($((t3 - t0)) ms)" \
        test $((t3 - t0)) -le $((12 * INTERVAL_MS))
kill -CONT "$sleeper_pid"
check "the thawed agent finds its connection closed" wait_until probe_said sleeper "^disconnected"
check "...registers again by itself" wait_until probe_said sleeper "^reconnected"
check "...and is healthy again" wait_until agent_state_is sleeper healthy
check "it is told to drop the task the registry failed" wait_until probe_said sleeper "^cancel-task $id2 "
check_eq "the failed task stays failed" failed "$(task_state "$id2")"

# exec.retry: the task waits for the agent to come back and runs once more.
start_probe phoenix1 register phoenix --card "$T/cards/phoenix.json" --forever --hold-tasks
phoenix_pid=$PROBE_PID
wait_until agent_state_is phoenix healthy
id3=$(create_task phoenix --params '{"n":1}')
wait_until task_state_is "$id3" working
kill_wait KILL "$phoenix_pid"
check "with exec.retry the task goes back to submitted" wait_until task_state_is "$id3" submitted
check_eq "and waits with no agent" "lost" "$(agent_state phoenix)"
start_probe phoenix2 register phoenix --card "$T/cards/phoenix.json" --forever --accept-tasks
check "the agent back gets the task once more" wait_until probe_said phoenix2 "^start-task $id3 "
check "and completes it" wait_until task_state_is "$id3" completed
"$PROBE" events "$id3" >"$T/retry.txt"
check "the events say it was dispatched once more" grep -q 'dispatched once more' "$T/retry.txt"
check_eq "the states: submitted accepted working submitted accepted working completed" \
        "submitted accepted working submitted accepted working completed" \
        "$(grep '"type":"state"' "$T/retry.txt" | sed 's/.*"state":"\([a-z-]*\)".*/\1/' | tr '\n' ' ' | sed 's/ $//')"

# ...but only once.
start_probe phoenix3 register phoenix --card "$T/cards/phoenix.json" --forever --hold-tasks
phoenix3_pid=$PROBE_PID
wait_until probe_said phoenix3 "^registered"
id4=$(create_task phoenix)
wait_until task_state_is "$id4" working
kill_wait KILL "$phoenix3_pid"
check "the first death sends the task back" wait_until task_state_is "$id4" submitted
start_probe phoenix4 register phoenix --card "$T/cards/phoenix.json" --forever --hold-tasks
phoenix4_pid=$PROBE_PID
wait_until probe_said phoenix4 "^start-task $id4 "
wait_until task_state_is "$id4" working
kill_wait KILL "$phoenix4_pid"
check "the second death fails it" wait_until task_state_is "$id4" failed

check_eq "Health() is ok" 's "ok"' "$(mgr Health)"
