#!/usr/bin/env bash
# Workspaces and typed parameters from the agent card's "task" object, with the real registry,
# supervisor and dbus-daemon (agent-probe stands in for the agents: only the registry is tested):
# BootstrapParams built from params reach the agent, also when dispatched again after a restart;
# the workspace is named after a parameter, and a bad name is refused with nothing created;
# replace_workspace moves an existing workspace aside; keep_workspace "completed" removes a
# workspace the task created when it fails, is canceled or rejected, after its commands have
# exited, never following a symlink; cancel ends the task within the deadline even when the agent
# never answers.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is needed to read the audit rows (dev/setup installs it)"

SUP=org.troupe.Supervisor1
CARDS="$TOP_SRCDIR/tests/data/agentcards"

not() {
        ! "$@"
}

start_bus

# The installed cards, which the registry reads: the fixtures, and copies of task-keeper.json
# under other names for agents that reject every task or never answer a cancel.
export TROUPE_AGENT_CARDS_DIR="$T/cards"
mkdir -p "$T/cards" "$T/outside"
cp "$CARDS/task-bootstrap.json" "$T/cards/boot.json"
cp "$CARDS/task-keeper.json" "$T/cards/keeper.json"
for name in rejecter stubborn; do
        jq --arg n "$name" '.name = $n' "$CARDS/task-keeper.json" >"$T/cards/$name.json"
done

start_daemon troupe-supervisord
wait_until bus_has_name $SUP || { not_ok "the supervisor is on the bus"; exit 1; }
start_registry --heartbeat-interval-ms=200
start_probe boot register boot --card "$T/cards/boot.json" --forever --accept-tasks --delay-ms 200
start_probe keeper register keeper --card "$T/cards/keeper.json" --forever --accept-tasks
start_probe rejecter register rejecter --card "$T/cards/rejecter.json" --forever --reject-tasks
start_probe stubborn register stubborn --card "$T/cards/stubborn.json" --forever --hold-tasks --ignore-cancel
for a in boot keeper rejecter stubborn; do
        wait_until agent_state_is $a healthy || { not_ok "agent $a registered"; exit 1; }
done
ok "registry, supervisor and four agents are up"

# create_out AGENT [options]: the probe's answer to CreateTask ("ok ID PATH" or "error NAME: MSG").
create_out() {
        "$PROBE" create-task "$@"
}
audit_json() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 10000 | jq -r '.data[0]'
}
audit_has() {
        audit_json | jq -e "$1" >/dev/null
}
# tree: every path under $XDG_DATA_HOME and $T/outside, to show that nothing was created.
tree() {
        find "$XDG_DATA_HOME" "$T/outside" | sort
}
first_log() { # ID: the text of the task's first log event (its second event, after "submitted")
        "$PROBE" events "$1" 0 --max 2 | jq -r 'select(.type == "log") | .text'
}
process_of() { # ID: the supervisor's object path of the task's first command
        tbusctl call $SUP /org/troupe/Supervisor1 $SUP.Manager ListProcesses |
                grep -o "\"task-$1-1\" [0-9]* \"[a-z]*\" \"[^\"]*\"" | sed 's/.* "\([^"]*\)"$/\1/'
}
process_state() { # PATH
        tbusctl get-property $SUP "$1" $SUP.Process State | cut -d' ' -f2 | tr -d '"'
}

NAME_RULES="1..64 of a-z 0-9 . _ -, starting with a letter or digit, without '..'"

# --- typed parameters reach the agent, and the workspace is named after project_name ---
params='{"stack":"fastapi","project_name":"billing","options":{"python_version":"3.11","docker":"no"},"force":true,"open":true}'
id=$(create_task boot --params "$params" --prompt "make billing")
check "a task of an agent with typed parameters is created" test -n "$id"
check "StartTask carries BootstrapParams built from params, options in order" \
        wait_until probe_said boot "^bootstrap $id stack=fastapi project_name=billing force=1 open=1 options=python_version=3.11,docker=no\$"
check "the workspace is named after project_name" probe_said boot "^start-task $id $WORKSPACES/billing \\{"
check "params_json still carries the whole object, with the prompt" \
        sh -c "grep '^start-task $id ' '$T/boot.log' | grep -qF '\"stack\":\"fastapi\"' && grep '^start-task $id ' '$T/boot.log' | grep -qF '\"prompt\":\"make billing\"'"
check_eq "the Workspace property says so" "\"$WORKSPACES/billing\"" "$(task_prop "$id" Workspace)"
check "the task completes" wait_until task_state_is "$id" completed
check "a completed task keeps its workspace" test -d "$WORKSPACES/billing"
check_eq "the first log event says the workspace goes unless the task completes" \
        "workspace $WORKSPACES/billing created for this task: it is removed if the task does not complete" \
        "$(first_log "$id")"
id=$(create_task boot --params '{"stack":"django","project_name":"ledger"}')
check "force and open default to false, options to none" \
        wait_until probe_said boot "^bootstrap $id stack=django project_name=ledger force=0 open=0 options=\$"

# --- parameters that do not fit BootstrapParams: InvalidArgs naming the member, nothing created ---
before=$(tree)
out=$(create_out boot --params '{"stack":"fastapi","project_name":"x1","template":"t"}')
check_eq "an unknown member is refused, named" \
        "error org.troupe.Error.InvalidArgs: Agent 'boot' takes bootstrap parameters: params: unknown field \"template\"; the members are stack, project_name, options (an object of strings), force and open." "$out"
out=$(create_out boot --params '{"stack":"fastapi","project_name":"x1","options":{"python_version":3}}')
check "a non-string option value is refused, named" \
        grep -qF "InvalidArgs: Agent 'boot' takes bootstrap parameters: params.options.python_version: expected a string, got an integer" <<<"$out"
out=$(create_out boot --params '{"project_name":"x1"}')
check "a missing stack is refused" grep -qF "params.stack: required field is missing" <<<"$out"
out=$(create_out boot --params '{"stack":"fastapi","project_name":"x1","force":"yes"}')
check "a non-boolean force is refused" grep -qF "params.force: expected a boolean, got a string" <<<"$out"
check_eq "... and nothing was created" "$before" "$(tree)"

# --- hostile workspace names from the parameter ---
long=$(printf 'a%.0s' $(seq 300))
before=$(tree)
tmpx_before=$(ls -d /tmp/x 2>/dev/null)
for bad in ../x /tmp/x a/b .x "$long" ""; do
        out=$(create_out keeper --params "{\"ws\":\"$bad\",\"hold\":true}")
        check "workspace name '${bad:0:20}' from the parameter is refused with what is allowed" \
                grep -qF "error org.troupe.Error.InvalidArgs: Parameter 'ws' names the task's workspace and is not a valid workspace name: $NAME_RULES." <<<"$out"
done
out=$(create_out keeper --params '{"ws":7}')
check "a parameter that is not a string is refused the same way" grep -qF "Parameter 'ws' names the task's workspace" <<<"$out"
out=$(create_out keeper --params '{"hold":true}')
check_eq "a missing parameter is refused, naming it and the option that replaces it" \
        "error org.troupe.Error.InvalidArgs: Parameter 'ws' is missing: agent 'keeper' names the task's workspace after it (or give the 'workspace' option)." "$out"
out=$(create_out boot --params "{\"stack\":\"fastapi\",\"project_name\":\"../x\"}")
check "... and from project_name" grep -qF "Parameter 'project_name' names the task's workspace and is not a valid workspace name" <<<"$out"
check_eq "nothing was created anywhere" "$before" "$(tree)"
check_eq "not even /tmp/x" "$tmpx_before" "$(ls -d /tmp/x 2>/dev/null)"
id=$(create_task keeper --workspace explicit --params '{"ws":"ignored","hold":true}')
check "the workspace option wins over the parameter" wait_until probe_said keeper "^start-task $id $WORKSPACES/explicit "
"$PROBE" manager CancelTask "$id" >/dev/null

# --- an existing workspace: AlreadyExists, reuse_workspace, or replace_workspace ---
echo old >"$WORKSPACES/billing/old.txt"
out=$(create_out boot --params "$params")
check_eq "an existing workspace is refused, naming both options" \
        "error org.troupe.Error.AlreadyExists: Workspace 'billing' exists already; set reuse_workspace to use it or replace_workspace to move it aside." "$out"
out=$(create_out boot --params "$params" --reuse --replace)
check_eq "reuse_workspace and replace_workspace together are refused" \
        "error org.troupe.Error.InvalidArgs: Options 'reuse_workspace' and 'replace_workspace' exclude each other." "$out"
check "the old workspace is untouched" test -f "$WORKSPACES/billing/old.txt"
id=$(create_task boot --params "$params" --replace)
check "replace_workspace creates the task" test -n "$id"
check "the old workspace is moved aside to .aside/NAME-ID" test -f "$WORKSPACES/.aside/billing-$id/old.txt"
check "the new one is empty" test -d "$WORKSPACES/billing" -a ! -e "$WORKSPACES/billing/old.txt"
check_eq "the task's first log event says where the old one went" \
        "the existing workspace $WORKSPACES/billing was moved aside to $WORKSPACES/.aside/billing-$id; workspace $WORKSPACES/billing created for this task: it is removed if the task does not complete" \
        "$(first_log "$id")"
check "the task-create audit row says replace_workspace" \
        audit_has "[.[] | select(.action == \"task-create\" and .task == \"$id\" and .detail.replace_workspace == true and .detail.keep_workspace == \"completed\")] | length == 1"
check "a workspace-moved-aside row names both paths" \
        audit_has "[.[] | select(.action == \"workspace-moved-aside\" and .task == \"$id\" and .detail.from == \"$WORKSPACES/billing\" and .detail.to == \"$WORKSPACES/.aside/billing-$id\")] | length == 1"
check "the task completes in the new workspace" wait_until task_state_is "$id" completed
id=$(create_task keeper --params '{"ws":"fresh","hold":true}' --replace)
check "replace_workspace without an existing workspace just creates it" wait_until probe_said keeper "^start-task $id $WORKSPACES/fresh "
check_eq "... and logs nothing about moving" \
        "workspace $WORKSPACES/fresh created for this task: it is removed if the task does not complete" \
        "$(first_log "$id")"
"$PROBE" manager CancelTask "$id" >/dev/null
mkdir -p "$T/real"
ln -s "$T/real" "$WORKSPACES/linked"
out=$(create_out keeper --params '{"ws":"linked","hold":true}' --replace)
check "a symlink in the workspace's place is not moved aside" \
        grep -qF "Workspace 'linked' is not a plain directory beneath the workspaces root." <<<"$out"
check "... it stays where it was" test -L "$WORKSPACES/linked"
rm "$WORKSPACES/linked"

# --- keep_workspace "completed": failed, rejected and canceled tasks lose what they created ---
id=$(create_task keeper --params '{"ws":"willfail","fail":true,"delay_ms":100}')
check "a task that fails" wait_until task_state_is "$id" failed
check "... loses the workspace it created" wait_until test ! -e "$WORKSPACES/willfail"
check "... audited as workspace-removed with the path" \
        wait_until audit_has "[.[] | select(.action == \"workspace-removed\" and .task == \"$id\" and .detail.path == \"$WORKSPACES/willfail\" and .detail.state == \"failed\")] | length == 1"
id=$(create_task rejecter --params '{"ws":"rejected"}')
check "a rejected task" wait_until task_state_is "$id" rejected
check "... loses its workspace" wait_until test ! -e "$WORKSPACES/rejected"
id=$(create_task keeper --params '{"ws":"canceled","hold":true}')
wait_until task_state_is "$id" working
# While it works there, its workspace can be neither moved aside nor shared: its removal would take
# the other task's files with it.
out=$(create_out keeper --params '{"ws":"canceled","hold":true}' --replace)
check_eq "replace_workspace of a workspace a task still works in is refused as Busy" \
        "error org.troupe.Error.Busy: Workspace 'canceled' is in use by task $id (working); cancel it or wait for it to end." "$out"
out=$(create_out keeper --params '{"ws":"canceled","hold":true}' --reuse)
check "reuse_workspace of a workspace a running task may remove is refused as Busy" \
        grep -qF "error org.troupe.Error.Busy: Workspace 'canceled' is in use by task $id" <<<"$out"
check "... and the workspace was not moved" bash -c 'test -d "$1/canceled" && ! compgen -G "$1/.aside/canceled-*"' _ "$WORKSPACES"
"$PROBE" manager CancelTask "$id" >/dev/null
check "a canceled task" wait_until task_state_is "$id" canceled
check "... loses its workspace" wait_until test ! -e "$WORKSPACES/canceled"
id=$(create_task keeper --params '{"ws":"kept","delay_ms":50}')
check "a completed task" wait_until task_state_is "$id" completed
check "... keeps it" test -d "$WORKSPACES/kept"
echo mine >"$WORKSPACES/kept/mine.txt"
id=$(create_task keeper --params '{"ws":"kept","fail":true,"delay_ms":50}' --reuse)
check "a failed task in a reused workspace" wait_until task_state_is "$id" failed
check "... leaves the workspace it did not create" test -f "$WORKSPACES/kept/mine.txt"
check "... and audits no removal" not audit_has "[.[] | select(.action == \"workspace-removed\" and .task == \"$id\")] | length > 0"

# --- a symlink inside the workspace is removed, its target left alone ---
echo precious >"$T/outside/precious.txt"
mkdir -p "$T/outside/dir"
echo deep >"$T/outside/dir/deep.txt"
id=$(create_task keeper --params '{"ws":"trap","hold":true}')
wait_until task_state_is "$id" working
mkdir -p "$WORKSPACES/trap/sub/deeper"
ln -s "$T/outside" "$WORKSPACES/trap/to-dir"
ln -s "$T/outside/precious.txt" "$WORKSPACES/trap/sub/to-file"
ln -s "$T/outside/dir" "$WORKSPACES/trap/sub/deeper/to-dir"
ln -s /nonexistent "$WORKSPACES/trap/dangling"
echo x >"$WORKSPACES/trap/sub/deeper/file"
"$PROBE" manager CancelTask "$id" >/dev/null
check "the workspace with symlinks to outside is removed" wait_until test ! -e "$WORKSPACES/trap"
check "... the symlinks' targets are untouched" \
        sh -c "[ \"\$(cat '$T/outside/precious.txt')\" = precious ] && [ \"\$(cat '$T/outside/dir/deep.txt')\" = deep ]"
# The workspace itself replaced by a symlink: refused, logged and audited, nothing outside touched.
id=$(create_task keeper --params '{"ws":"swapped","hold":true}')
wait_until task_state_is "$id" working
rmdir "$WORKSPACES/swapped"
ln -s "$T/outside" "$WORKSPACES/swapped"
"$PROBE" manager CancelTask "$id" >/dev/null
check "a workspace swapped for a symlink is not followed: workspace-remove-failed is audited" \
        wait_until audit_has "[.[] | select(.action == \"workspace-remove-failed\" and .task == \"$id\" and .detail.path == \"$WORKSPACES/swapped\" and .detail.error == \"not a directory: a symbolic link is never followed\")] | length == 1"
check "... the symlink's target is untouched" test -f "$T/outside/precious.txt" -a -f "$T/outside/dir/deep.txt"
check "... and the registry is still healthy" registry_healthy
rm "$WORKSPACES/swapped"

# --- the workspace goes only after the task's commands have exited ---
# The command ignores SIGTERM, so it lives until the supervisor's SIGKILL, after the task is over.
id=$(create_task keeper --params '{"ws":"busy","exec":["/bin/sh","-c","trap \"\" TERM; echo started; while :; do sleep 0.1; done"],"exec_finish":true}')
"$PROBE" events "$id" >"$T/busy.events" &
_pids+=($!)
check "a task runs a command" wait_until grep -q '"text":"started"' "$T/busy.events"
proc=$(process_of "$id")
check "... under the supervisor" test -n "$proc"
start=$(now_ms)
"$PROBE" manager CancelTask "$id" >/dev/null
check "the task is canceled" wait_until task_state_is "$id" canceled
# Look at the workspace first, then at the process: a workspace gone while the process is still
# running afterwards was removed too early.
saw_running=0
while :; do
        gone=0
        [ -d "$WORKSPACES/busy" ] || gone=1
        [ "$(process_state "$proc")" = running ] || break
        [ "$gone" = 1 ] && { saw_running=2; break; }
        saw_running=1
        sleep 0.05
done
check_eq "while its command still ran, the workspace stayed" 1 "$saw_running"
check "the command is gone within 5 s of the cancel" test $(($(now_ms) - start)) -lt 5000
check "then the workspace is removed" wait_until test ! -e "$WORKSPACES/busy"
check "... within 5 s of the cancel as well" test $(($(now_ms) - start)) -lt 5000

# --- cancel ends the task even when the agent never answers ---
id=$(create_task stubborn --params '{"ws":"stubborn"}')
wait_until task_state_is "$id" working
start=$(now_ms)
"$PROBE" manager CancelTask "$id" >/dev/null
check "a task whose agent ignores CancelTask ends canceled" wait_until task_state_is "$id" canceled
elapsed=$(($(now_ms) - start))
check "... after the 5 s deadline, not much later (${elapsed} ms)" test "$elapsed" -ge 4500 -a "$elapsed" -lt 8000
check "... and its workspace is removed" wait_until test ! -e "$WORKSPACES/stubborn"
check_eq "the error says the agent did not confirm" '"canceled: the agent did not confirm within 5 s"' "$(task_prop "$id" Error)"

# --- after a restart: the same BootstrapParams, and the workspace still disposable ---
# An agent that never answers StartTask: the task stays submitted and is sent again after the
# registry restarts.
jq '.name = "silent"' "$CARDS/task-bootstrap.json" >"$T/cards/silent.json"
start_probe silent register silent --card "$T/cards/silent.json" --forever --reconnect
wait_until agent_state_is silent healthy || not_ok "silent registered"
id=$(create_task silent --params '{"stack":"fastapi","project_name":"survivor","options":{"a":"1","b":"2"},"open":true}')
check "the silent agent got the task" wait_until probe_said silent "^bootstrap $id "
kill_wait TERM "$REG_PID"
start_registry --heartbeat-interval-ms=200
check "after a restart the task is sent again" \
        wait_until sh -c "[ \$(grep -c '^bootstrap $id ' '$T/silent.log') -eq 2 ]"
check "... with the same BootstrapParams" \
        sh -c "[ \$(grep '^bootstrap $id ' '$T/silent.log' | sort -u | wc -l) -eq 1 ] && grep -q '^bootstrap $id stack=fastapi project_name=survivor force=0 open=1 options=a=1,b=2\$' '$T/silent.log'"
"$PROBE" manager CancelTask "$id" >/dev/null
check "canceled after the restart" wait_until task_state_is "$id" canceled
check "... its workspace is still known as disposable and removed" wait_until test ! -e "$WORKSPACES/survivor"

check "the audit chain verifies" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true '"
check "the registry is healthy" registry_healthy
