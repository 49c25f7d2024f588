#!/usr/bin/env bash
# ExecRequest end to end, with the real registry and supervisor: a command run in the task's
# workspace answers with its exit status and output; its output reaches the task's events while it
# still runs; a timeout kills it; canceling the task stops it within 5 s; it is confined; every
# run is audited; bad requests and a missing supervisor are answered with a reason.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is needed to read the audit rows (dev/setup installs it)"

SUP=org.troupe.Supervisor1

not() {
        ! "$@"
}

start_bus

# The registry reads what tokens grant from the installed cards: these.
export TROUPE_AGENT_CARDS_DIR="$T/cards"
mkdir -p "$T/cards"
cat >"$T/cards/runner.json" <<EOF
{
  "name": "runner",
  "description": "Runs commands for its tasks",
  "version": "1.0.0",
  "skills": [ { "id": "run", "name": "Run", "description": "Runs things" } ],
  "permissions": { "capabilities": ["fs.workspace", "exec.command"] },
  "limits": { "memory_max": 268435456, "tasks_max": 64, "cpu_weight": 50 }
}
EOF

start_daemon troupe-supervisord
SUP_PID=$LAST_PID
wait_until bus_has_name $SUP || { not_ok "the supervisor is on the bus"; exit 1; }
start_registry --heartbeat-interval-ms=200
start_probe runner register runner --card "$T/cards/runner.json" --forever --accept-tasks
wait_until agent_state_is runner healthy || { not_ok "the agent registered"; exit 1; }
ok "registry, supervisor and agent are up"

# run PARAMS: a task of runner whose agent sends the ExecRequest at once and completes when the
# ExecResult arrives; prints the task id.
run() {
        create_task runner --params "$1"
}
# result ID: the probe's exec-result line of the task's first request.
result() {
        grep -m1 "^exec-result x-$1-1 " "$T/runner.log"
}
has_result() {
        grep -q "^exec-result x-$1-1 " "$T/runner.log"
}
# follow ID: copies the task's events to $T/ID.events in the background, live until the task ends.
follow() {
        "$PROBE" events "$1" >"$T/$1.events" &
        _pids+=($!)
}
events_have() { # ID TEXT: a log event of the task, as followed, carries TEXT as its text
        grep -q "\"text\":\"$2\"" "$T/$1.events"
}
# audit_json: GetAudit()'s rows (busctl's JSON output keeps the string intact).
audit_json() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 1000 | jq -r '.data[0]'
}
audit_has() {
        audit_json | jq -e "$1" >/dev/null
}
# process_of ID: the supervisor's object path of the task's first command.
process_of() {
        tbusctl call $SUP /org/troupe/Supervisor1 $SUP.Manager ListProcesses |
                grep -o "\"task-$1-1\" [0-9]* \"[a-z]*\" \"[^\"]*\"" | sed 's/.* "\([^"]*\)"$/\1/'
}
process_prop() { # PATH NAME
        tbusctl get-property $SUP "$1" $SUP.Process "$2" | cut -d' ' -f2- | sed -e 's/^"//' -e 's/"$//' -e 's/\\"/"/g'
}

# --- a command, its exit status and its output ---
id=$(run '{"exec":["/bin/sh","-c","echo hello; echo err >&2; pwd; exit 3"],"exec_finish":true}')
check "the ExecResult arrives" wait_until has_result "$id"
line=$(result "$id")
check "it exited 3" grep -q " exit=3 " <<<"$line"
check "stdout_tail holds stdout and stderr, merged in order, and the working directory" \
        grep -qF "output=hello\\nerr\\n$WORKSPACES/$id\\n error=" <<<"$line"
check "no error, nothing truncated" grep -q "truncated=0 .* error=$" <<<"$line"
check "the task completed" wait_until task_state_is "$id" completed
check "its output lines are events of the task (stream stdout)" \
        sh -c "'$PROBE' events '$id' | grep -q '\"type\":\"log\".*\"stream\":\"stdout\",\"text\":\"err\"'"
check "the run is audited before it happens: action exec, with argv and cwd" \
        audit_has "[.[] | select(.action == \"exec\" and .task == \"$id\" and .agent == \"runner\" and .detail.argv[0] == \"/bin/sh\" and .detail.cwd == \"\" and .detail.request_id == \"x-$id-1\")] | length == 1"
proc=$(process_of "$id")
check "the supervisor ran it as task-ID-1" test -n "$proc"
check_eq "... under the task profile" task "$(process_prop "$proc" Confinement | jq -r '.profile // .requested.profile')"

# --- the working directory, and what is refused before anything runs ---
mkdir -p "$WORKSPACES/cwdtest/sub/deeper" "$T/outside"
chmod 0700 "$WORKSPACES/cwdtest"
ln -s "$T/outside" "$WORKSPACES/cwdtest/escape"
id=$(create_task runner --workspace cwdtest --reuse --params '{"exec":["/bin/pwd"],"exec_cwd":"sub/deeper","exec_finish":true}')
check "cwd is relative to the workspace" wait_until sh -c "grep -qF 'exec-result x-$id-1 exit=0 truncated=0 duration_ms=' '$T/runner.log' && grep -F 'exec-result x-$id-1 ' '$T/runner.log' | grep -qF 'output=$WORKSPACES/cwdtest/sub/deeper\\n'"
refused() { # PARAMS REGEX: the ExecResult says REGEX and no process ran
        local i
        i=$(create_task runner --workspace cwdtest --reuse --params "$1")
        wait_until has_result "$i" && result "$i" | grep -q "^exec-result x-$i-1 none .* error=$2" &&
                [ -z "$(process_of "$i")" ]
}
check "cwd with .. is refused" refused '{"exec":["/bin/pwd"],"exec_cwd":"sub/../..","exec_finish":true}' "cwd: a relative path"
check "an absolute cwd is refused" refused '{"exec":["/bin/pwd"],"exec_cwd":"/tmp","exec_finish":true}' "cwd: a relative path"
check "a cwd through a symlink is refused" refused '{"exec":["/bin/pwd"],"exec_cwd":"escape","exec_finish":true}' "cwd: 'escape' goes through a symbolic link"
check "a missing cwd is refused" refused '{"exec":["/bin/pwd"],"exec_cwd":"nope","exec_finish":true}' "cwd: no directory 'nope'"
check "a relative argv[0] is refused" refused '{"exec":["sh","-c","true"],"exec_finish":true}' "argv\\[0\\]: must be an absolute path"
check "TROUPE_* in env is refused" refused '{"exec":["/bin/true"],"exec_env":["TROUPE_AGENT_FD=9"],"exec_finish":true}' "env\\[0\\]: TROUPE_"
check "a malformed env entry is refused" refused '{"exec":["/bin/true"],"exec_env":["1X=y"],"exec_finish":true}' "env\\[0\\]: expected NAME=value"
id=$(run '{"exec":["/bin/sh","-c","echo $GREETING"],"exec_env":["GREETING=bonjour"],"exec_finish":true}')
check "env entries reach the command" wait_until sh -c "grep -F 'exec-result x-$id-1 exit=0 ' '$T/runner.log' | grep -qF 'output=bonjour\\n'"

# --- live output: lines arrive while the command still runs ---
id=$(run '{"exec":["/bin/sh","-c","echo first; while [ ! -e release ]; do sleep 0.05; done; echo last"],"exec_finish":true}')
follow "$id"
check "the first line is an event while the command runs" wait_until events_have "$id" first
check "... and the command has not ended yet" not has_result "$id"
touch "$WORKSPACES/$id/release"
check "it ends once released" wait_until has_result "$id"
check "... with the last line as an event too" wait_until events_have "$id" last

# --- timeout ---
start=$(now_ms)
id=$(run '{"exec":["/bin/sleep","30"],"exec_timeout_ms":300,"exec_finish":true}')
check "a command past timeout_ms is killed" wait_until has_result "$id"
check "... by SIGKILL, and the error says so" grep -q " signal=9 .* error=timed out after 300 ms$" <<<"$(result "$id")"
check "... long before it would have ended" test $(($(now_ms) - start)) -lt 10000

# --- cancel stops the task's commands within 5 s ---
id=$(run '{"exec":["/bin/sh","-c","echo started; exec sleep 60"],"exec_finish":true}')
follow "$id"
check "a long command runs" wait_until events_have "$id" started
proc=$(process_of "$id")
start=$(now_ms)
"$PROBE" manager CancelTask "$id" >/dev/null
check "the task is canceled" wait_until task_state_is "$id" canceled
check "its command is stopped" wait_until sh -c "[ \"\$(busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $SUP '$proc' $SUP.Process State)\" != 's \"running\"' ]"
elapsed=$(($(now_ms) - start))
check "... within 5 s of the cancel (${elapsed} ms)" test "$elapsed" -lt 5000
check "the ExecResult still comes, saying why" wait_until sh -c "grep -q '^exec-result x-$id-1 signal=[0-9]* .* error=stopped: the task was canceled$' '$T/runner.log'"

# --- at most 16 commands per task at once ---
id=$(run '{"exec":["/bin/sh","-c","while [ ! -e release ]; do sleep 0.05; done"],"exec_count":17,"hold":true}')
check "the 17th command of a task is refused as busy" \
        wait_until sh -c "grep -q '^exec-result x-$id-17 none .* error=busy: task $id runs 16 commands already$' '$T/runner.log'"
touch "$WORKSPACES/$id/release"
check "the 16 others run to their end" \
        wait_until sh -c "[ \$(grep -c '^exec-result x-$id-[0-9]* exit=0 ' '$T/runner.log') -eq 16 ]"

# --- confinement: the command cannot read outside its workspace ---
id=$(run '{"exec":["/bin/cat","/etc/shadow"],"exec_finish":true}')
wait_until has_result "$id"
proc=$(process_of "$id")
confinement=$(process_prop "$proc" Confinement)
if jq -e '.applied | index("landlock")' >/dev/null 2>&1 <<<"$confinement"; then
        check "reading /etc/shadow fails inside the sandbox" sh -c "grep -F 'exec-result x-$id-1 ' '$T/runner.log' | grep -qv ' exit=0 '"
else
        ok "reading /etc/shadow fails inside the sandbox # SKIP the supervisor applied no Landlock layer: $confinement"
fi

# --- net.loopback: a server and its probe inside the sandbox's own network namespace ---
LOOPBACK_PY="import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); c = socket.create_connection(s.getsockname(), timeout=5); print('loopback ok')"
if [ -x /usr/bin/python3 ]; then
        cat >"$T/cards/server.json" <<EOF
{ "name": "server", "description": "Runs dev servers", "version": "1.0.0",
  "skills": [ { "id": "serve", "name": "Serve", "description": "Serves" } ],
  "permissions": { "capabilities": ["exec.command", "net.loopback"] } }
EOF
        start_probe server register server --card "$T/cards/server.json" --forever --accept-tasks
        wait_until agent_state_is server healthy || not_ok "agent server registered"
        params=$(jq -cn --arg py "$LOOPBACK_PY" '{exec: ["/usr/bin/python3", "-c", $py], exec_finish: true}')
        id=$(create_task server --params "$params")
        check "with net.loopback a command listens on 127.0.0.1 and connects to itself" \
                wait_until sh -c "grep -F 'exec-result x-$id-1 exit=0 ' '$T/server.log' | grep -qF 'output=loopback ok\n'"
        check "... and the token's net.loopback reached the supervisor" \
                audit_has "[.[] | select(.action == \"exec\" and .task == \"$id\" and .detail.capabilities == [\"net.loopback\"])] | length == 1"
        id=$(run "$params")
        check "without it the same command cannot" wait_until has_result "$id"
        check "... (it fails, no output)" sh -c "grep -F 'exec-result x-$id-1 ' '$T/runner.log' | grep -qv ' exit=0 '"
else
        ok "net.loopback # SKIP no /usr/bin/python3"
fi

# --- without a supervisor ---
kill_wait TERM "$SUP_PID"
wait_until not bus_has_name $SUP
id=$(run '{"exec":["/bin/true"],"exec_finish":true}')
check "without the supervisor the ExecResult says it is not running" \
        wait_until sh -c "grep -q '^exec-result x-$id-1 none .* error=the supervisor (org.troupe.Supervisor1) is not running' '$T/runner.log'"

check "the registry is still healthy" registry_healthy
check "VerifyAudit() verifies the chain" sh -c "'$PROBE' manager VerifyAudit >/dev/null && busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true '"

# --- fail closed: when the audit log cannot be written, nothing runs ---
kill_wait TERM "$REG_PID"
cat >"$T/cards/capper.json" <<EOF
{ "name": "capper", "description": "Runs commands", "version": "1.0.0",
  "skills": [ { "id": "run", "name": "Run", "description": "Runs things" } ],
  "permissions": { "capabilities": ["exec.command"] } }
EOF
TROUPE_STATE_DIR="$T/capped" start_registry --heartbeat-interval-ms=200 --audit-max-size=1
start_probe capper register capper --card "$T/cards/capper.json" --forever --accept-tasks
wait_until agent_state_is capper healthy || not_ok "capper registered"
id=$(create_task capper --params '{"exec":["/bin/true"],"exec_on_signal":true,"exec_finish":true}')
check "a task to run a command in is created while the log has room" test -n "$id"
# Tasks are audited too: create them until the capped log refuses.
for _ in $(seq 300); do
        "$PROBE" create-task capper --params '{"hold":true}' | grep -q '^ok ' || break
done
check "the capped audit log is full" sh -c "'$PROBE' create-task capper | grep -q 'audit log cannot be written'"
kill -USR2 "$PROBE_PID"
check "an ExecRequest is then refused with the reason, and nothing runs" \
        wait_until sh -c "grep -q '^exec-result x-$id-1 none .* error=refused: the audit log cannot be written (' '$T/capper.log'"
