#!/usr/bin/env bash
# troupe-registryd: a task's whole life, its signals and properties, OpenEvents (replay, resume,
# live, a slow reader), cancel, reject, ListTasks filters.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

start_bus
write_card echoer
write_card holder
write_card stubborn
write_card naysayer
start_registry --heartbeat-interval-ms=200 --cancel-timeout-ms=1500

# Signals, as the bus carries them, one JSON message per line.
tbusctl monitor --json=short --match "type='signal',sender='$REG',member='TaskStateChanged'" \
        --match "type='signal',sender='$REG',interface='org.freedesktop.DBus.Properties'" \
        --match "type='signal',member='Marker'" >"$T/monitor.json" 2>/dev/null &
_pids+=($!)
monitor_ready() {
        tbusctl emit /org/troupe/Test org.troupe.Test Marker >/dev/null 2>&1
        grep -q '"Marker"' "$T/monitor.json"
}
wait_until monitor_ready || not_ok "busctl monitor started"

start_probe echoer register echoer --card "$T/cards/echoer.json" --forever --accept-tasks
check "the echo agent is healthy" wait_until agent_state_is echoer healthy

check "CreateTask() for an unknown agent is NoSuchAgent" sh -c \
        "'$PROBE' create-task nobody | grep -q '^error org.troupe.Error.NoSuchAgent'"

# A whole life: submitted -> accepted -> working -> completed, with its result.
id=$(create_task echoer --params '{"message":"hi","events":3}' --prompt "say hi")
check "CreateTask() returns a 16-hex-digit id" sh -c "printf '%s' '$id' | grep -Eq '^[0-9a-f]{16}$'"
check "the task completes" wait_until task_state_is "$id" completed
check_eq "Result is the params the agent echoed, with the prompt" '"{\"message\":\"hi\",\"events\":3,\"prompt\":\"say hi\"}"' \
        "$(task_prop "$id" Result)"
check_eq "Progress is 1 at the end" "1" "$(task_prop "$id" Progress)"
check_eq "Agent is the agent" '"echoer"' "$(task_prop "$id" Agent)"
check_eq "Error is empty" '""' "$(task_prop "$id" Error)"
check "FinishedUSec >= CreatedUSec > 0" test "$(task_prop "$id" FinishedUSec)" -ge "$(task_prop "$id" CreatedUSec)" -a \
        "$(task_prop "$id" CreatedUSec)" -gt 0
check_eq "Workspace defaults to workspaces/<id>" "\"$WORKSPACES/$id\"" "$(task_prop "$id" Workspace)"
check "the workspace exists, mode 0700" sh -c "[ \"\$(stat -c %a '$WORKSPACES/$id')\" = 700 ]"
check "the agent got the workspace and params in StartTask" \
        probe_said echoer "^start-task $id $WORKSPACES/$id \\{\"message\":\"hi\",\"events\":3,\"prompt\":\"say hi\"\\}$"
tintro=$(tbusctl introspect $REG "$REG_PATH/task/$id" org.troupe.Registry1.Task)
for p in "Id s const" "Agent s const" "State s emits-change" "Workspace s const" "CreatedUSec t const" \
        "FinishedUSec t emits-change" "Progress d emits-change" "Result s emits-change" "Error s emits-change"; do
        set -- $p
        check "Task has property $1 ($2, $3)" introspect_has "$tintro" "$1" property "$2" "" "$3"
done
check "Task has method Cancel()" introspect_has "$tintro" Cancel method - -
check "Task has method OpenEvents(t) -> h" introspect_has "$tintro" OpenEvents method t h

"$PROBE" events "$id" >"$T/full.txt"
n=$(wc -l <"$T/full.txt")
check "OpenEvents(0) replays from seq 1 without gaps" seqs_consecutive "$T/full.txt" 1 "$n"
check_eq "the events are submitted, accepted, working, progress, 3 logs, progress, completed" \
        "state:submitted state:accepted state:working progress log log log progress state:completed" \
        "$(sed -e 's/.*"type":"\([a-z]*\)".*"state":"\([a-z-]*\)".*/\1:\2/' -e 's/.*"type":"\([a-z]*\)".*/\1/' "$T/full.txt" | tr '\n' ' ' | sed 's/ $//')"
check "the final event carries the result" grep -q '"state":"completed","result":{"message":"hi","events":3,"prompt":"say hi"}' "$T/full.txt"
check "every line has seq, time_usec and type first" sh -c "! grep -Ev '^\\{\"seq\":[0-9]+,\"time_usec\":[0-9]{16},\"type\":\"[a-z]+\"' '$T/full.txt'"

# Resuming: nothing lost, nothing twice.
"$PROBE" events "$id" 3 >"$T/resumed.txt"
check "OpenEvents(3) starts at seq 4" seqs_consecutive "$T/resumed.txt" 4 "$n"
check "the first 3 lines plus the resumed ones are the full stream" \
        sh -c "head -n 3 '$T/full.txt' | cat - '$T/resumed.txt' | cmp -s - '$T/full.txt'"
"$PROBE" events "$id" 2 --max 2 >"$T/part1.txt"
last=$(seqs "$T/part1.txt" | tail -n 1)
"$PROBE" events "$id" "$last" >"$T/part2.txt"
check "stop after seq $last and resume from it: the whole stream again" \
        sh -c "head -n 2 '$T/full.txt' | cat - '$T/part1.txt' '$T/part2.txt' | cmp -s - '$T/full.txt'"
check_eq "OpenEvents(past the end) of a finished task is empty" 0 "$("$PROBE" events "$id" 1000 | wc -l)"

# The signals and properties a client follows.
check "TaskStateChanged came for each state in order" sh -c \
        "grep '\"TaskStateChanged\"' '$T/monitor.json' | grep '\"$id\"' | sed 's/.*\"data\":\\[\"$id\",\"\\([a-z-]*\\)\"\\].*/\\1/' | tr '\\n' ' ' | grep -qx 'submitted accepted working completed '"
check "InterfacesAdded announced the task" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH org.freedesktop.DBus.ObjectManager GetManagedObjects | grep -q '/org/troupe/Registry1/task/$id'"
check "PropertiesChanged carried State" sh -c \
        "grep '\"PropertiesChanged\"' '$T/monitor.json' | grep '/task/$id' | grep -q '\"State\"'"

# Live: the reader attaches before the work is done and follows it to the end.
id2=$(create_task echoer --params '{"delay_ms":800,"events":5}')
"$PROBE" events "$id2" >"$T/live.txt" &
reader=$!
check "a live reader sees the task finish and EOF" wait_until sh -c "! kill -0 $reader 2>/dev/null"
n2=$(wc -l <"$T/live.txt")
check "the live stream has every seq once" seqs_consecutive "$T/live.txt" 1 "$n2"
check_eq "the live stream ends with the final state" completed "$(last_state "$T/live.txt")"
check_eq "and has the 5 log lines" 5 "$(grep -c '"type":"log","stream":"agent","text":"line' "$T/live.txt")"

# A slow reader: the registry finds the pipe full, keeps serving, and the reader loses nothing.
id3=$(create_task echoer --params '{"delay_ms":100,"events":3000}')
"$PROBE" events "$id3" 0 --stall-ms 3000 >"$T/slow.txt" &
slow=$!
check "the big task completes while its reader stalls" wait_until task_state_is "$id3" completed
check_eq "Health() answers while a reader stalls" 's "ok"' "$(mgr Health)"
check "the stalled reader gets to EOF" wait_until sh -c "! kill -0 $slow 2>/dev/null"
n3=$(wc -l <"$T/slow.txt")
check "more than a pipe's worth of events arrived" test "$(wc -c <"$T/slow.txt")" -gt 65536
check "the slow reader got every seq once" seqs_consecutive "$T/slow.txt" 1 "$n3"
check_eq "the slow reader got all 3000 log lines" 3000 "$(grep -c '"type":"log"' "$T/slow.txt")"

# Cancel: the agent answers, or the registry ends it after the cancel timeout.
start_probe holder register holder --card "$T/cards/holder.json" --forever --hold-tasks
wait_until agent_state_is holder healthy
id4=$(create_task holder)
check "a held task is working" wait_until task_state_is "$id4" working
check_eq "CurrentTasks lists it" "1 \"$id4\"" "$(agent_prop holder CurrentTasks)"
check "CancelTask() is accepted" sh -c "'$PROBE' manager CancelTask '$id4' | grep -q '^ok'"
check "the agent is told to cancel" wait_until probe_said holder "^cancel-task $id4 canceled by the user"
check "the task ends canceled" wait_until task_state_is "$id4" canceled
check_eq "CurrentTasks is empty again" "0" "$(agent_prop holder CurrentTasks)"
check "CancelTask() on a finished task is a no-op" sh -c "'$PROBE' manager CancelTask '$id4' | grep -q '^ok'"
check "CancelTask() of an unknown task is NoSuchTask" sh -c \
        "'$PROBE' manager CancelTask 0000000000000000 | grep -q '^error org.troupe.Error.NoSuchTask'"

start_probe stubborn register stubborn --card "$T/cards/stubborn.json" --forever --hold-tasks --ignore-cancel
wait_until agent_state_is stubborn healthy
id5=$(create_task stubborn)
wait_until task_state_is "$id5" working
t0=$(now_ms)
check "Task.Cancel() is accepted" tbusctl call $REG "$REG_PATH/task/$id5" org.troupe.Registry1.Task Cancel
check "an agent that ignores the cancel has its task canceled anyway" wait_until task_state_is "$id5" canceled
t1=$(now_ms)
check "...after the cancel timeout (1.5 s here), not before" test $((t1 - t0)) -ge 1400
check "Error says why" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/task/$id5 org.troupe.Registry1.Task Error | grep -q 'did not confirm'"

start_probe naysayer register naysayer --card "$T/cards/naysayer.json" --forever --reject-tasks
wait_until agent_state_is naysayer healthy
id6=$(create_task naysayer)
check "a task the agent refuses is rejected" wait_until task_state_is "$id6" rejected
check_eq "with the agent's reason" '"probe rejects every task"' "$(task_prop "$id6" Error)"

# ListTasks and its filters: newest first.
check_eq "ListTasks(agent=holder)" "a(ssso) 1 \"$id4\" \"holder\" \"canceled\" \"/org/troupe/Registry1/task/$id4\"" \
        "$(mgr ListTasks 'a{sv}' 1 agent s holder)"
check_eq "ListTasks(state=completed, limit=1) is the newest completed" \
        "a(ssso) 1 \"$id3\" \"echoer\" \"completed\" \"/org/troupe/Registry1/task/$id3\"" \
        "$(mgr ListTasks 'a{sv}' 2 state s completed limit u 1)"
check_eq "ListTasks() has them all" 6 "$(mgr ListTasks 'a{sv}' 0 | cut -d' ' -f2)"
check "ListTasks(state=bogus) is refused" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListTasks 'a{sv}' 1 state s bogus 2>/dev/null"
check "ListTasks(colour=...) is refused" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListTasks 'a{sv}' 1 colour s red 2>/dev/null"
check "Describe() counts the tasks by state" sh -c "printf '%s' '$(describe)' | grep -q '\"completed\":3,'"
check_eq "Health() is ok at the end" 's "ok"' "$(mgr Health)"
