#!/usr/bin/env bash
# troupe-routerd starting agents: concurrent Submits start an agent exactly once, an agent that
# never registers times out, one that exits first fails at once, and a lost agent is started again.
# shellcheck shell=bash
source "$TOP_SRCDIR/tests/integration/lib.sh"

ROUTER=org.troupe.Router1
ROUTER_PATH=/org/troupe/Router1
REG=org.troupe.Registry1
SUP=org.troupe.Supervisor1
N=6

router() {
        tbusctl call $ROUTER $ROUTER_PATH $ROUTER "$@"
}

task_state_is() {
        [ "$(tbusctl get-property $REG "$1" org.troupe.Registry1.Task State 2>/dev/null)" = "s \"$2\"" ]
}

agent_state_is() {
        [ "$(tbusctl get-property $REG "/org/troupe/Registry1/agent/$1" org.troupe.Registry1.Agent State 2>/dev/null)" = "s \"$2\"" ]
}

# How many processes the supervisor has started under NAME.
processes_named() {
        tbusctl call $SUP /org/troupe/Supervisor1 org.troupe.Supervisor1.Manager ListProcesses 2>/dev/null |
                grep -o "\"$1\"" | wc -l
}

agents_started() {
        router Describe | grep -o '\\"agents_started\\":[0-9]*' | grep -o '[0-9]*$'
}

# Two agents that never register: one sleeps, one exits with status 3. Their cards name them.
mkdir -p "$T/bin" "$T/cards"
printf '#!/bin/sh\nexec sleep 60\n' >"$T/bin/troupe-agent-sleeper"
printf '#!/bin/sh\nexit 3\n' >"$T/bin/troupe-agent-quitter"
chmod +x "$T/bin/troupe-agent-sleeper" "$T/bin/troupe-agent-quitter"
for name in sleeper quitter; do
        cat >"$T/cards/$name.json" <<EOF
{ "name": "$name", "description": "Never registers", "version": "1.0.0",
  "skills": [ { "id": "$name", "name": "$name", "description": "nothing" } ] }
EOF
done
export TROUPE_AGENT_CARDS_DIR="$T/cards:$TOP_SRCDIR/agents"
export TROUPE_AGENT_PATH="$T/bin:$TOP_BUILDDIR"
# Agents installed outside the system directories are executables the sandbox must let them run.
export TROUPE_SANDBOX_READ_ONLY="$TROUPE_SANDBOX_READ_ONLY:$T/bin"
# 200 ms like the registry tests: short enough to be quick, long enough that a loaded CI
# machine does not starve an agent past 3 intervals (unresponsive) by accident.
export TROUPE_HEARTBEAT_INTERVAL_MS=200

start_bus
start_daemon troupe-registryd
start_daemon troupe-supervisord
start_daemon troupe-routerd --spawn-timeout=3000
for name in $REG $SUP $ROUTER; do
        wait_until bus_has_name $name || { not_ok "$name on the bus"; exit 1; }
done
ok "registry, supervisor and router on the bus"

# N Submits at once for an agent that is not running.
for i in $(seq 1 $N); do
        router Submit 'ssa{sv}' echo "" 1 params s "{\"i\":$i,\"delay_ms\":100}" >"$T/submit.$i" 2>&1 &
        _sub_pids+=($!)
done
failed=0
for p in "${_sub_pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "all $N concurrent Submits returned a task" 0 "$failed"
check_eq "echo was started exactly once" 1 "$(processes_named echo)"
check_eq "the router started one agent" 1 "$(agents_started)"
done_count=0
for i in $(seq 1 $N); do
        path=$(cut -d' ' -f3 "$T/submit.$i" | tr -d '"')
        wait_until task_state_is "$path" completed && done_count=$((done_count + 1))
done
check_eq "all $N tasks completed" "$N" "$done_count"

# Once registered, further Submits reuse it.
check "a later Submit" router Submit 'ssa{sv}' echo "" 0
check_eq "and still one echo process" 1 "$(processes_named echo)"
# It runs confined, as an agent, and may read its card, which lies outside its sandbox.
echo_obj=$(tbusctl call $SUP /org/troupe/Supervisor1 org.troupe.Supervisor1.Manager ListProcesses |
        grep -o '"echo" [0-9]* "running" "[^"]*"' | cut -d'"' -f6)
conf=$(tbusctl get-property $SUP "$echo_obj" org.troupe.Supervisor1.Process Confinement)
check "echo runs under the agent profile" grep -q '{\\"profile\\":\\"agent\\"' <<<"$conf"
check "the router let it read its card" grep -q 'read_only\\":\[\\"[^\\]*/agents/echo/echo.json' <<<"$conf"

# An agent that never registers: Timeout after --spawn-timeout, with a pointer to its log.
start=$SECONDS
out=$(router Submit 'ssa{sv}' sleeper "" 0 2>&1) && not_ok "a never-registering agent times out" "got: $out" ||
        case $out in
        *"did not register within 3000 ms"*"troupectl logs"*) ok "a never-registering agent times out" ;;
        *) not_ok "a never-registering agent times out" "got: $out" ;;
        esac
elapsed=$((SECONDS - start))
if [ "$elapsed" -ge 2 ] && [ "$elapsed" -le 10 ]; then ok "after about 3 s ($elapsed s)"; else not_ok "after about 3 s" "took $elapsed s"; fi

# An agent that exits before registering fails at once, with its exit status.
start=$SECONDS
out=$(router Submit 'ssa{sv}' quitter "" 0 2>&1) && not_ok "an agent that exits first fails" "got: $out" ||
        case $out in
        *"exited with status 3 before it registered"*) ok "an agent that exits first fails" ;;
        *) not_ok "an agent that exits first fails" "got: $out" ;;
        esac
[ $((SECONDS - start)) -lt 3 ] && ok "without waiting for the deadline" || not_ok "without waiting for the deadline"

# A lost agent is started again by the next Submit. (Its pid comes from the supervisor: the
# registry sees the supervisor as the peer of a connection the supervisor opened for the agent.)
pid=$(tbusctl call $SUP /org/troupe/Supervisor1 org.troupe.Supervisor1.Manager ListProcesses |
        grep -o '"[0-9a-f]*" "echo" [0-9]* "running"' | cut -d' ' -f3)
if [ -n "$pid" ] && kill -KILL "$pid"; then ok "killed echo (pid $pid)"; else not_ok "killed echo" "no running echo process"; fi
check "the registry notices echo is gone" wait_until agent_state_is echo lost
out=$(router Submit 'ssa{sv}' echo "" 1 params s '{"again":true}' 2>&1)
path=$(printf '%s' "$out" | cut -d' ' -f3 | tr -d '"')
check "a Submit after that starts echo again" wait_until task_state_is "$path" completed
check_eq "the router started it a second time" 4 "$(agents_started)"
check "the router is alive" bus_has_name $ROUTER
