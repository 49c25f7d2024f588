#!/usr/bin/env bash
# troupe-registryd: durability. Killed with SIGKILL and started again, the registry has every task
# and every event a reader had seen; an agent that reconnects reclaims its running task; a task
# nobody reclaims fails after the grace period; retention keeps the newest finished tasks.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

ARGS=(--heartbeat-interval-ms=200 --reclaim-grace-ms=3000)
start_bus
write_card keeper
write_card ghost
start_registry "${ARGS[@]}"

start_probe keeper register keeper --card "$T/cards/keeper.json" --forever --accept-tasks --reconnect
keeper_pid=$PROBE_PID
wait_until agent_state_is keeper healthy
start_probe ghost register ghost --card "$T/cards/ghost.json" --forever --hold-tasks
wait_until agent_state_is ghost healthy

a=$(create_task keeper --params '{"events":3}')
check "task A completes" wait_until task_state_is "$a" completed
"$PROBE" events "$a" >"$T/a-before.txt"
b=$(create_task keeper --params '{"hold":true,"events":2}')
check "task B is working" wait_until task_state_is "$b" working
c=$(create_task ghost)
check "task C is working" wait_until task_state_is "$c" working
# A reader following B live: what it saw was published, so it must survive the crash.
"$PROBE" events "$b" >"$T/b-live.txt" &
b_reader=$!
d=$(create_task keeper --params '{"delay_ms":10,"events":5000}')
"$PROBE" events "$d" >"$T/d-live.txt" &
d_reader=$!
wait_until sh -c "[ \$(wc -l <'$T/d-live.txt') -ge 200 ]"

kill_wait KILL "$REG_PID"
check "the readers see EOF when the registry dies" wait_until sh -c "! kill -0 $b_reader 2>/dev/null && ! kill -0 $d_reader 2>/dev/null"
check "the agent with --reconnect noticed" wait_until probe_said keeper "^disconnected"
start_registry "${ARGS[@]}"
check_eq "Health() is ok after the restart" 's "ok"' "$(mgr Health)"
check "the agent registers again by itself" wait_until probe_said keeper "^reconnected"
check "...and is healthy" wait_until agent_state_is keeper healthy
check_eq "task B is still working: the agent reclaimed it" working "$(task_state "$b")"
check_eq "CurrentTasks shows it" "1 \"$b\"" "$(agent_prop keeper CurrentTasks)"
kill -USR1 "$keeper_pid"

check_eq "task A is still completed" completed "$(task_state "$a")"
"$PROBE" events "$a" >"$T/a-after.txt"
check "task A's events are all there, unchanged" cmp -s "$T/a-before.txt" "$T/a-after.txt"
check_eq "ListTasks() has all four" 4 "$(mgr ListTasks 'a{sv}' 0 | cut -d' ' -f2)"
"$PROBE" events "$d" >"$T/d-after.txt"
nd=$(wc -l <"$T/d-live.txt")
check "every event a live reader saw before the crash is in the journal ($nd lines)" \
        sh -c "head -n $nd '$T/d-after.txt' | cmp -s - '$T/d-live.txt'"

check "task B completes after the restart" wait_until task_state_is "$b" completed
"$PROBE" events "$b" >"$T/b-after.txt"
nb=$(wc -l <"$T/b-after.txt")
check "task B's events run from 1 to $nb without gaps" seqs_consecutive "$T/b-after.txt" 1 "$nb"
check "they begin with what the reader saw before the crash" \
        sh -c "head -n \$(wc -l <'$T/b-live.txt') '$T/b-after.txt' | cmp -s - '$T/b-live.txt'"
check "they record the reclaim" grep -q '"text":"reclaimed by the agent after it registered again"' "$T/b-after.txt"

check "task C, whose agent never came back, fails after the grace period" wait_until task_state_is "$c" failed
check "Error says it was not reclaimed" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$c org.troupe.Registry1.Task Error | grep -q 'did not reclaim the task within 3 s'"
check "task D ends in a final state" wait_until sh -c "case \$(busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$d org.troupe.Registry1.Task State) in *completed*|*failed*) true;; *) false;; esac"

# Retention: a restart with a smaller limit drops the oldest finished tasks and their events.
kill -TERM "$REG_PID"
wait "$REG_PID"
check_eq "SIGTERM stops the registry with status 0" 0 $?
start_registry "${ARGS[@]}" --max-finished-tasks=2
check_eq "two finished tasks are kept" 2 "$(mgr ListTasks 'a{sv}' 0 | cut -d' ' -f2)"
check "the newest two are kept" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListTasks 'a{sv}' 0 | grep -q '$c' && busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListTasks 'a{sv}' 0 | grep -q '$d'"
check "the oldest one is gone from the bus" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$a org.troupe.Registry1.Task State 2>/dev/null"
if command -v sqlite3 >/dev/null; then
        check_eq "...and from the journal, with its events" 0 \
                "$(sqlite3 "$XDG_STATE_HOME/troupe/registry.db" "SELECT COUNT(*) FROM events WHERE task_id IN ('$a', '$b')")"
fi
e=$(create_task keeper)
check "a new task completes" wait_until task_state_is "$e" completed
check_eq "and the limit holds: still two finished tasks" 2 "$(mgr ListTasks 'a{sv}' 0 | cut -d' ' -f2)"
check "the oldest of the kept ones made way" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$c org.troupe.Registry1.Task State 2>/dev/null"

# A second registry on the same journal is refused, the first keeps working.
start_daemon troupe-registryd "${ARGS[@]}"
second=$LAST_PID
check "a second registry refuses to start" wait_until sh -c "! kill -0 $second 2>/dev/null"
check_eq "the first is healthy" 's "ok"' "$(mgr Health)"
