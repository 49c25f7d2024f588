#!/usr/bin/env bash
# troupectl against the real registry, supervisor and router on a private bus: every verb, --json
# parsed field by field, text output on a pipe and on a terminal, and the exit codes 0 (ok),
# 1 (failure), 3 (task did not complete) and 4 (no such object). test-troupectl-cli.sh covers what
# needs no suite: --help for every verb, usage errors (2) and no bus at all.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"
export TROUPE_LIBEXECDIR="$TOP_BUILDDIR"

# --- the suite on the test bus -------------------------------------------------------------------
start_bus
start_daemon troupe-registryd
registry_pid=$LAST_PID
start_daemon troupe-supervisord
supervisor_pid=$LAST_PID
start_daemon troupe-routerd
router_pid=$LAST_PID
wait_until "$CTL" health || { not_ok "the suite answers Health"; exit 1; }

ctl health
check_eq "health exits 0 when every daemon is ok" 0 "$RC"
check_eq "health prints one ok line per daemon" 3 "$(grep -c ': ok$' "$T/out")"
ctl health --json
check_json "health --json lists the three daemons, all ok" \
        '[d["name"] for d in j] == ["org.troupe.Registry1", "org.troupe.Supervisor1", "org.troupe.Router1"] and all(d["ok"] and d["health"] == "ok" for d in j)'

ctl status
check_eq "status exits 0" 0 "$RC"
check "status names the bus" grep -qF "$TROUPE_BUS_ADDRESS" "$T/out"
check_eq "status shows health ok three times" 3 "$(grep -cE '^ +health: +ok$' "$T/out")"
ctl status --json
check_json \
        "status --json: the bus in use" "j['bus'] == '$TROUPE_BUS_ADDRESS' and j['bus_source'] == 'environment'" \
        "status --json: each daemon runs, with its pid" \
        "[d['pid'] for d in j['daemons']] == [$registry_pid, $supervisor_pid, $router_pid] and all(d['running'] for d in j['daemons'])" \
        "status --json: each owner is a unique name" "all(d['owner'].startswith(':') for d in j['daemons'])" \
        "status --json: each Describe() is an object" "all(isinstance(d['describe'], dict) for d in j['daemons'])" \
        "status --json: what confinement this machine supports" \
        "isinstance(j['confinement']['landlock_abi'], int) and all({'layer', 'available', 'detail'} <= set(l) for l in j['confinement']['layers'])"
ctl status
check "status shows what confinement this machine supports" grep -qE '^ +landlock +(yes|no) ' "$T/out"
check "status shows how limits are applied" grep -qE '^ +limits +(yes +cgroup-v[12]|no +none) \(memory: ' "$T/out"

# --bus-address beats everything else.
ctl_env_free() { env -u TROUPE_BUS_ADDRESS -u DBUS_SESSION_BUS_ADDRESS "$CTL" "$@"; }
check "--bus-address=ADDR reaches the suite with no bus in the environment" ctl_env_free --bus-address="$TROUPE_BUS_ADDRESS" health
check "--bus-address ADDR (separate argument) works too" ctl_env_free --bus-address "$TROUPE_BUS_ADDRESS" health
ctl --bus-address=unix:path=/nonexistent/bus health
check_eq "an unreachable --bus-address exits 1" 1 "$RC"
check "an unreachable --bus-address is named in the error" grep -q "/nonexistent/bus" "$T/err"

# --- agents and run --------------------------------------------------------------------------------
ctl agents --json
check_eq "agents --json exits 0" 0 "$RC"
check_json "agents --json is an array" "isinstance(j, list)"

ctl run echo --param a=b --wait --json
check_eq "run echo --param a=b --wait --json exits 0" 0 "$RC"
check_json \
        "run --wait --json: the result is the params" "j['result'] == {'a': 'b'}" \
        "run --wait --json: state completed" "j['state'] == 'completed'" \
        "run --wait --json: a 16-hex-digit id" "len(j['id']) == 16 and all(c in '0123456789abcdef' for c in j['id'])" \
        "run --wait --json: agent echo" "j['agent'] == 'echo'" \
        "run --wait --json: an absolute workspace named for the task" "j['workspace'].startswith('/') and j['workspace'].endswith('/' + j['id'])" \
        "run --wait --json: created and finished times in order" \
        "isinstance(j['created_usec'], int) and 0 < j['created_usec'] <= j['finished_usec']" \
        "run --wait --json: progress is a number from 0 to 1" "isinstance(j['progress'], (int, float)) and 0 <= j['progress'] <= 1" \
        "run --wait --json: no error" "j['error'] is None" \
        "run --wait --json: the task's property names in snake_case" \
        "set(['id','agent','state','workspace','created_usec','finished_usec','progress','result','error']) <= set(j)"
first=$(py "j['id']")

ctl run echo --param n:=42 --param s=hi --param obj:='{"k":[1,2]}' --wait --json
check_json "run --param K:=JSON sends JSON values, K=V strings" "j['result'] == {'n': 42, 's': 'hi', 'obj': {'k': [1, 2]}}"

ctl agents --json
check_json \
        "agents --json: echo is registered" "[a['name'] for a in j] == ['echo']" \
        "agents --json: echo is healthy or registered" "j[0]['state'] in ('healthy', 'registered')" \
        "agents --json: pid, version, skills" "j[0]['pid'] > 0 and j[0]['version'] == '0.1.0' and j[0]['skills'] == ['echo', 'wait']" \
        "agents --json: last_heartbeat_usec and current_tasks" \
        "isinstance(j[0]['last_heartbeat_usec'], int) and j[0]['current_tasks'] == []"
agent_pid=$(py "j[0]['pid']")
check "the agent's pid is a live process" alive "$agent_pid"

ctl agents
check_eq "agents (text, not a terminal) exits 0" 0 "$RC"
check_eq "agents on a pipe: one tab-separated line, no header" \
        "echo" "$(awk -F'\t' 'NF == 7 { print $1 }' "$T/out")"
check_eq "agents on a pipe: the pid column" "$agent_pid" "$(cut -f3 "$T/out")"

# A terminal gets a header and aligned columns.
script -qec "$CTL agents" /dev/null </dev/null >"$T/tty" 2>&1
check "agents on a terminal: a header line" grep -qE '^NAME +STATE +PID +VERSION +SKILLS +HEARTBEAT +TASKS' "$T/tty"
check "agents on a terminal: echo's row lines up with the header" "$PYTHON" -c '
import sys
lines = [x.rstrip("\r\n") for x in open(sys.argv[1])]
head, row = lines[0], [x for x in lines if x.startswith("echo ")][0]
sys.exit(0 if head.index("STATE") == row.index(row.split()[1]) and head.index("PID") == row.index(row.split()[2]) else 1)' "$T/tty"

# run without --wait: only the id.
ctl run echo --param x=1
check_eq "run without --wait exits 0" 0 "$RC"
check "run without --wait prints only a task id" bash -c '[[ "$1" =~ ^[0-9a-f]{16}$ ]]' _ "$OUT"
second=$OUT
check "the task submitted without --wait completes" wait_until state_is "$second" completed
ctl run echo --json
check_json "run --json without --wait prints {\"id\": ...}" "list(j) == ['id'] and len(j['id']) == 16"
third=$(py "j['id']")
wait_until state_is "$third" completed

# --- task show -------------------------------------------------------------------------------------
ctl task show "$second"
check_eq "task show exits 0" 0 "$RC"
check "task show prints the state" grep -qE '^state: +completed$' "$T/out"
check "task show prints the result" grep -qF '{"x":"1"}' "$T/out"
ctl task show "$second" --json
check_json "task show --json: one object with its id, state and result" \
        "j['id'] == '$second' and j['state'] == 'completed' and j['result'] == {'x': '1'}"

ctl task show 0000000000000000
check_eq "task show of an unknown id exits 4" 4 "$RC"
check "the error names the task and how to list tasks" grep -q "No task '0000000000000000'.*troupectl tasks" "$T/err"
ctl task show "../../etc"
check_eq "task show of an impossible id exits 4" 4 "$RC"

# --- tasks -----------------------------------------------------------------------------------------
ctl tasks --json
check_eq "tasks --json exits 0" 0 "$RC"
check_json \
        "tasks --json: every task so far, newest first" \
        "len(j) == 4 and j[0]['id'] == '$third' and j[-1]['id'] == '$first' and '$second' in [t['id'] for t in j]" \
        "tasks --json: every object has the task fields" \
        "all(set(['id','agent','state','workspace','created_usec','finished_usec','progress','result','error']) <= set(t) for t in j)"
ctl tasks --json --limit 1
check_json "tasks --limit 1" "len(j) == 1 and j[0]['id'] == '$third'"
ctl tasks --json --agent echo --state completed
check_json "tasks --agent echo --state completed" "len(j) == 4 and all(t['state'] == 'completed' and t['agent'] == 'echo' for t in j)"
ctl tasks --json --state failed
check_json "tasks --state failed: none" "j == []"
ctl tasks
check_eq "tasks on a pipe: one tab-separated line per task" 4 "$(grep -c "	echo	completed	" "$T/out")"

# --- exit 3: a task that does not complete ----------------------------------------------------------
ctl run echo --param delay_ms=soon --wait --json
check_eq "run --wait of a rejected task exits 3" 3 "$RC"
check_json "run --wait --json still prints the task, rejected" "j['state'] == 'rejected'"
check "run --wait says why on stderr" grep -q "delay_ms" "$T/err"

# --- logs ------------------------------------------------------------------------------------------
ctl logs "$second"
check_eq "logs of a finished task exits 0" 0 "$RC"
check "logs shows the state changes" bash -c 'grep -qE "state +submitted" "$1" && grep -qE "state +completed" "$1"' _ "$T/out"
ctl logs --json "$second"
check "logs --json: one JSON object per line, seq rising from 1, ending completed" "$PYTHON" -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seq = [e["seq"] for e in ev]
assert seq == list(range(1, len(seq) + 1)), seq
assert ev[0]["type"] == "state" and ev[0]["state"] == "submitted", ev[0]
assert ev[-1]["type"] == "state" and ev[-1]["state"] == "completed", ev[-1]
' "$T/out"

slow=$("$CTL" run echo --param delay_ms:=3000)
ctl logs "$slow"
check_eq "logs (no -f) of a running task exits 0" 0 "$RC"
check "logs (no -f) returns before the task ends" bash -c '! grep -q completed "$1"' _ "$T/out"
ctl logs -f "$slow"
check_eq "logs -f exits 0 when the task ends" 0 "$RC"
check "logs -f follows to the final state" bash -c 'tail -n 1 "$1" | grep -qE "state +completed"' _ "$T/out"
check "logs -f shows the agent's progress" grep -qE 'progress +100%' "$T/out"
check_eq "the followed task has completed" completed "$(task_state "$slow")"

# A process of the supervisor: by id and by name.
tbusctl --json=short -- call org.troupe.Supervisor1 /org/troupe/Supervisor1 org.troupe.Supervisor1.Manager \
        Spawn 'sasa{sv}' ctl-greeter 3 /bin/sh -c 'echo hello-from-process; echo second-line >&2' 0 >"$T/spawn" 2>&1
proc=$(py "j['data'][0]" "$T/spawn" 2>/dev/null)
check "Spawn a process for logs" test -n "$proc"
ctl logs -f "$proc"
check_eq "logs -f PROCESS-ID exits 0" 0 "$RC"
check_eq "logs -f PROCESS-ID prints its output" "hello-from-process second-line" "$(tr '\n' ' ' <"$T/out" | sed 's/ $//')"
ctl logs ctl-greeter
check_eq "logs PROCESS-NAME exits 0" 0 "$RC"
check "logs PROCESS-NAME prints its output" grep -qx hello-from-process "$T/out"

ctl logs 0000000000000000
check_eq "logs of an unknown id exits 4" 4 "$RC"
check "logs of an unknown id names it" grep -q "0000000000000000" "$T/err"

# --- cancel ----------------------------------------------------------------------------------------
long=$("$CTL" run echo --param delay_ms:=60000)
wait_until state_is "$long" working
ctl cancel "$long"
check_eq "cancel exits 0" 0 "$RC"
check "the canceled task ends canceled" wait_until state_is "$long" canceled
ctl cancel 0000000000000000
check_eq "cancel of an unknown task exits 4" 4 "$RC"
check "cancel of an unknown task says how to list tasks" grep -q "troupectl tasks" "$T/err"

# run --wait of a task canceled meanwhile: 3.
"$CTL" run echo --param delay_ms:=60000 --wait --json >"$T/waited" 2>"$T/waited.err" &
waiter=$!
working_task() { "$CTL" tasks --json --state working >"$T/working" && py "j[0]['id']" "$T/working"; }
wait_until working_task
"$CTL" cancel "$(working_task)"
wait "$waiter"
check_eq "run --wait of a task canceled meanwhile exits 3" 3 "$?"
check_eq "run --wait --json prints the canceled task" canceled "$(py "j['state']" "$T/waited" 2>&1)"

# --- unknown agent: 4 --------------------------------------------------------------------------------
ctl run no-such-agent --wait
check_eq "run of an unknown agent exits 4" 4 "$RC"
check "run of an unknown agent names it" grep -q "no-such-agent" "$T/err"

# --- a daemon that is gone: failure, with the way out --------------------------------------------------
kill -TERM "$router_pid"
wait_until bash -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' status org.troupe.Router1"
ctl health
check_eq "health exits 1 when a daemon is missing" 1 "$RC"
check "health reports the missing router" grep -q "org.troupe.Router1: not running" "$T/out"
ctl run echo
check_eq "run without a router exits 1" 1 "$RC"
check "run without a router says to start the suite" grep -q "org.troupe.Router1 is not running.*troupectl up" "$T/err"
