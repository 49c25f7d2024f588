#!/usr/bin/env bash
# troupe-supervisord: exit reporting, Stop() (SIGTERM, then SIGKILL for the whole process group),
# Kill(), the on-failure restart policy and its rate limit, and Shutdown().
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

# gone PID: the process does not exist (or is a zombie nobody reaped yet).
gone() {
        [ ! -e "/proc/$1" ] || grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"
}

call_stop() {
        tbusctl call "$SUP" "$1" "$SUP.Process" Stop
}

call_kill() {
        tbusctl call "$SUP" "$1" "$SUP.Process" Kill i "$2"
}

exits_of() {
        grep -c "^$1 " "$T/exits"
}

start_bus
start_supervisor
start_exit_watcher

# Exit reporting: ProcessExited carries si_code and the status or signal.
sup_spawn three 0 -- /bin/sh -c 'exit 3'
check_eq "exit 3 is ProcessExited CLD_EXITED 3" "1 3" "$(exit_of "$ID")"
wait_until prop_is "$OBJ" State failed
check_eq "a non-zero exit ends in failed" failed "$(prop "$OBJ" State)"
check_eq "ExitCode is CLD_EXITED" 1 "$(prop "$OBJ" ExitCode)"
check_eq "ExitStatus is 3" 3 "$(prop "$OBJ" ExitStatus)"
check "PropertiesChanged announced the state" wait_until grep -qx "state $OBJ failed" "$T/exits"
check_eq "Pid is 0 once it has ended" 0 "$(prop "$OBJ" Pid)"

sup_spawn killed 0 -- /bin/sh -c 'kill -9 $$'
check_eq "death by SIGKILL is ProcessExited CLD_KILLED 9" "2 9" "$(exit_of "$ID")"
wait_until prop_is "$OBJ" State failed
check_eq "death by a signal ends in failed" failed "$(prop "$OBJ" State)"

# Stop() of a child that ignores SIGTERM: SIGKILL after the grace period, for its whole group.
sup_spawn stubborn 1 stop_timeout_usec t 700000 -- /bin/sh -c \
        'trap "" TERM; sleep 1000 & echo "grandchild $!"; while :; do sleep 0.1; done'
wait_until grep -q '^grandchild ' "$LOGS/$ID.log"
gc=$(sed -n 's/^grandchild //p' "$LOGS/$ID.log")
pid=$(prop "$OBJ" Pid)
check "Pid is the running child's" kill -0 "$pid"
check_eq "the child leads its own process group" "$pid" "$(ps -o pgid= -p "$pid" | tr -d ' ')"
check_eq "the child leads its own session" "$pid" "$(ps -o sid= -p "$pid" | tr -d ' ')"
t0=$(now_ms)
check "Stop() is accepted" call_stop "$OBJ"
check_eq "a child ignoring SIGTERM is killed with SIGKILL" "2 9" "$(exit_of "$ID")"
elapsed=$(($(now_ms) - t0))
check "it got the grace period first (${elapsed} ms)" test "$elapsed" -ge 650
wait_until prop_is "$OBJ" State exited
check_eq "a stopped process ends in exited" exited "$(prop "$OBJ" State)"
check "its grandchild is gone too" wait_until gone "$gc"
check "Stop() of an ended process is refused" grep -q "is not running" <<<"$(call_stop "$OBJ" 2>&1)"

# Stop() of a child that obeys SIGTERM: what is left of its group goes with it, at once.
sup_spawn obedient 1 stop_timeout_usec t 60000000 -- \
        /bin/sh -c '(trap "" TERM; exec sleep 1000) & echo "grandchild $!"; wait'
wait_until grep -q '^grandchild ' "$LOGS/$ID.log"
gc=$(sed -n 's/^grandchild //p' "$LOGS/$ID.log")
t0=$(now_ms)
call_stop "$OBJ"
check_eq "a child obeying SIGTERM exits by it" "2 15" "$(exit_of "$ID")"
check "its grandchild that ignores SIGTERM is gone too" wait_until gone "$gc"
elapsed=$(($(now_ms) - t0))
check "without waiting for the 60 s grace period (${elapsed} ms)" test "$elapsed" -lt 30000

# Kill(): any valid signal to the process group.
sup_spawn usr1 0 -- /bin/sh -c 'trap "echo got-usr1; exit 0" USR1; echo ready; while :; do sleep 0.1; done'
wait_until grep -q '^ready' "$LOGS/$ID.log"
check "Kill(SIGUSR1) is accepted" call_kill "$OBJ" 10
check_eq "the child handled it and exited 0" "1 0" "$(exit_of "$ID")"
check "its handler ran" grep -qx got-usr1 "$LOGS/$ID.log"
check "Kill() of an ended process is refused" grep -q "is not running" <<<"$(call_kill "$OBJ" 15 2>&1)"
sup_spawn nine 0 -- /bin/sleep 1000
check "Kill(0) is refused" grep -q "Signal 0 is not valid" <<<"$(call_kill "$OBJ" 0 2>&1)"
check "Kill(999) is refused" grep -q "Signal 999 is not valid" <<<"$(call_kill "$OBJ" 999 2>&1)"
check "Kill(SIGKILL) is accepted" call_kill "$OBJ" 9
check_eq "Kill(SIGKILL) kills it" "2 9" "$(exit_of "$ID")"

# Restart on failure: a child that fails twice, then succeeds. It counts its runs in its workspace,
# the one place its sandbox lets it write.
mkdir -p "$T/flaky"
sup_spawn flaky 2 restart s on-failure workspace s "$T/flaky" -- /bin/sh -c \
        'n=$(($(cat "$0" 2>/dev/null || echo 0) + 1)); echo "$n" >"$0"; echo "run $n"; [ "$n" -ge 3 ]' "$T/flaky/count"
check_eq "Restart says on-failure" on-failure "$(prop "$OBJ" Restart)"
check "it runs until it succeeds" wait_until prop_is "$OBJ" State exited
check_eq "it was restarted twice" 2 "$(prop "$OBJ" Restarts)"
check_eq "every run is reported" 3 "$(exits_of "$ID")"
check_eq "every run writes to the same log" $'run 1\nrun 2\nrun 3' "$(log_file "$ID")"
check_eq "OpenLog(0) streams every run" $'run 1\nrun 2\nrun 3' "$("$HELPER" openlog "$ID" 0)"

# The rate limit: at most 5 restarts within 10 s, then it stays failed.
sup_spawn crashloop 1 restart s on-failure -- /bin/sh -c 'echo crash; exit 1'
check "a crash loop ends in failed" wait_until prop_is "$OBJ" State failed
check_eq "after 5 restarts" 5 "$(prop "$OBJ" Restarts)"
check_eq "RestartLimitHit says why" true "$(prop "$OBJ" RestartLimitHit)"
check_eq "it ran 6 times" 6 "$(exits_of "$ID")"
check_eq "and wrote 6 lines" 6 "$(grep -c crash "$LOGS/$ID.log")"
check "the supervisor logged that it gave up" grep -q "$ID (crashloop) was restarted 5 times" \
        "$T/troupe-supervisord.log"

# Stop() is not a failure: no restart.
sup_spawn steady 1 restart s on-failure -- /bin/sleep 1000
call_stop "$OBJ"
wait_until prop_is "$OBJ" State exited
check_eq "a stopped on-failure process is not restarted" 0 "$(prop "$OBJ" Restarts)"

# Shutdown(): every child is stopped (the stubborn one after its grace), then the daemon exits 0.
sup_spawn last1 0 -- /bin/sleep 1000
pid1=$(prop "$OBJ" Pid)
sup_spawn last2 1 stop_timeout_usec t 2000000 -- /bin/sh -c 'trap "" TERM; while :; do sleep 0.1; done'
pid2=$(prop "$OBJ" Pid)
check "Shutdown() is accepted" tbusctl call "$SUP" "$SUP_PATH" "$SUP.Manager" Shutdown
check "Spawn is refused while shutting down" grep -q "shutting down" <<<"$(spawn_error late 0 -- /bin/true)"
wait "$SUP_PID"
check_eq "the supervisor exits 0 after Shutdown()" 0 $?
check "the first child is gone" gone "$pid1"
check "the stubborn child is gone" gone "$pid2"
