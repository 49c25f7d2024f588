# Sourced by the test-registry*.sh tests after lib.sh: agent cards, the probe agent, and short ways
# to read the registry's objects. Not a test itself.
# shellcheck shell=bash

PROBE="$TOP_BUILDDIR/agent-probe"
REG=org.troupe.Registry1
REG_PATH=/org/troupe/Registry1
MGR=org.troupe.Registry1.Manager
WORKSPACES="$XDG_DATA_HOME/troupe/workspaces"
export TROUPE_AGENT_SOCKET="$XDG_RUNTIME_DIR/troupe/agent.sock"

[ -x "$PROBE" ] || skip_all "agent-probe not built (make check builds it)"

# write_card NAME [RETRY]: an agent card for NAME at $T/cards/NAME.json, with skills NAME-skill and
# NAME-extra and exec.retry as given (default false).
write_card() {
        local name=$1 retry=${2:-false}
        mkdir -p "$T/cards"
        cat >"$T/cards/$name.json" <<EOF
{
  "name": "$name",
  "description": "Test agent $name",
  "version": "1.0.0",
  "skills": [
    { "id": "$name-skill", "name": "Main", "description": "What $name does" },
    { "id": "$name-extra", "name": "Extra", "description": "More of it" }
  ],
  "exec": { "retry": $retry }
}
EOF
}

registry_healthy() {
        [ "$(tbusctl call $REG $REG_PATH $MGR Health 2>/dev/null)" = 's "ok"' ]
}

# start_registry [ARGS...]: starts troupe-registryd and waits until Health() says "ok". Sets REG_PID.
start_registry() {
        start_daemon troupe-registryd "$@"
        REG_PID=$LAST_PID
        wait_until registry_healthy || { not_ok "registry started"; exit 1; }
}

mgr() {
        tbusctl call $REG $REG_PATH $MGR "$@"
}

# agent_prop NAME PROP / task_prop ID PROP: the value as busctl prints it, without the type.
agent_prop() {
        tbusctl get-property $REG "$REG_PATH/agent/$1" org.troupe.Registry1.Agent "$2" 2>/dev/null | cut -d' ' -f2-
}
task_prop() {
        tbusctl get-property $REG "$REG_PATH/task/$1" org.troupe.Registry1.Task "$2" 2>/dev/null | cut -d' ' -f2-
}
agent_state() {
        agent_prop "$1" State | tr -d '"'
}
task_state() {
        task_prop "$1" State | tr -d '"'
}
agent_state_is() {
        [ "$(agent_state "$1")" = "$2" ]
}
task_state_is() {
        [ "$(task_state "$1")" = "$2" ]
}

# start_probe LOG ARGS...: agent-probe in the background, its output in $T/LOG.log. Sets PROBE_PID.
start_probe() {
        local log=$1
        shift
        "$PROBE" "$@" >>"$T/$log.log" 2>&1 &
        PROBE_PID=$!
        _pids+=("$PROBE_PID")
}

# probe_said LOG REGEX: the probe's output has a line matching REGEX.
probe_said() {
        grep -q -E -- "$2" "$T/$1.log" 2>/dev/null
}

# create_task AGENT [create-task options]: prints the new task's id (nothing on failure).
create_task() {
        "$PROBE" create-task "$@" | awk '$1 == "ok" { print $2 }'
}

# seqs FILE: the seq of each event line, one per line.
seqs() {
        sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1"
}

# seqs_consecutive FILE FIRST LAST: the lines carry exactly FIRST, FIRST+1, ..., LAST.
seqs_consecutive() {
        [ "$(seqs "$1" | tr '\n' ' ')" = "$(seq "$2" "$3" | tr '\n' ' ')" ]
}

# last_state FILE: the state named by the last "state" event of an event stream.
last_state() {
        grep '"type":"state"' "$1" | tail -n 1 | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p'
}

# now_ms: CLOCK_REALTIME in milliseconds.
now_ms() {
        echo $(($(date +%s%N) / 1000000))
}

# introspect_has TEXT MEMBER KIND SIGNATURE [RESULT] [FLAG]: `busctl introspect` output TEXT lists
# .MEMBER as KIND with SIGNATURE (and for a method RESULT; for a property, FLAG among its flags).
introspect_has() {
        printf '%s\n' "$1" | awk -v m=".$2" -v k="$3" -v s="$4" -v r="${5:-}" -v f="${6:-}" '
                $1 == m && $2 == k && $3 == s && (r == "" || $4 == r) && (f == "" || index($0, f)) { ok = 1 }
                END { exit !ok }'
}

# describe: Describe()'s JSON, unquoted.
describe() {
        mgr Describe | sed -e 's/^s "//' -e 's/"$//' -e 's/\\"/"/g'
}

# kill_wait SIGNAL PID: kills one of our background processes and reaps it quietly.
kill_wait() {
        kill "-$1" "$2" 2>/dev/null
        wait "$2" 2>/dev/null
}

# final_event_ms ID: when the registry journaled the task's last event (CLOCK_REALTIME, ms).
final_event_ms() {
        "$PROBE" events "$1" | tail -n 1 | sed -n 's/.*"time_usec":\([0-9]*\)[0-9]\{3\},.*/\1/p'
}
