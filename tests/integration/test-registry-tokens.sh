#!/usr/bin/env bash
# Capability tokens at the registry: StartTask brings one; an ExecRequest with a forged (one bit
# flipped), missing, expired or out-of-scope token (another task's, another agent's, a finished
# task's, one without exec.command) is refused with the reason in its ExecResult, never reaches the
# supervisor, and leaves a token-refused row in the audit log.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is needed to read the audit rows (dev/setup installs it)"

SUP=org.troupe.Supervisor1

start_bus

export TROUPE_AGENT_CARDS_DIR="$T/cards"
# perm_card NAME CAPABILITIES: a card granting those (a JSON array).
perm_card() {
        mkdir -p "$T/cards"
        cat >"$T/cards/$1.json" <<EOF
{
  "name": "$1",
  "description": "Test agent $1",
  "version": "1.0.0",
  "skills": [ { "id": "$1-skill", "name": "Main", "description": "What $1 does" } ],
  "permissions": { "capabilities": $2 }
}
EOF
}
perm_card tok '["exec.command"]'
perm_card other '["exec.command"]'
perm_card nocap '["fs.workspace"]'

start_daemon troupe-supervisord
wait_until bus_has_name $SUP || { not_ok "the supervisor is on the bus"; exit 1; }
start_registry --heartbeat-interval-ms=200
for a in tok other nocap; do
        start_probe "$a" register "$a" --card "$T/cards/$a.json" --forever --accept-tasks --reconnect
        eval "${a}_pid=$PROBE_PID"
        wait_until agent_state_is "$a" healthy || { not_ok "agent $a registered"; exit 1; }
done
ok "registry, supervisor and three agents are up"
check "the token key was created 0600" sh -c "[ \"\$(stat -c %a '$XDG_STATE_HOME/troupe/token.key')\" = 600 ]"

# token_of AGENT ID / expiry_of AGENT ID: the token (hex) StartTask brought, and its expiry (usec).
token_of() {
        wait_until grep -q "^token $2 " "$T/$1.log" && sed -n "s/^token $2 \\([0-9a-f]*\\) .*/\\1/p" "$T/$1.log" | tail -n 1
}
expiry_of() {
        sed -n "s/^token $2 [0-9a-f]* \\([0-9]*\\)$/\\1/p" "$T/$1.log" | tail -n 1
}
has_result() { # AGENT ID
        grep -q "^exec-result x-$2-1 " "$T/$1.log"
}
# refused AGENT ID MESSAGE: the task's ExecResult ran nothing and says "refused: MESSAGE...".
refused() {
        wait_until has_result "$1" "$2" &&
                grep -m1 "^exec-result x-$2-1 " "$T/$1.log" | grep -q "^exec-result x-$2-1 none .* error=refused: $3"
}
processes_of() { # ID: how many processes the supervisor started for the task
        tbusctl call $SUP /org/troupe/Supervisor1 $SUP.Manager ListProcesses | grep -o "\"task-$1-[0-9]*\"" | wc -l
}
# audit_json: GetAudit()'s rows (busctl's JSON output keeps the string intact).
audit_json() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 1000 | jq -r '.data[0]'
}
audit_has() {
        audit_json | jq -e "$1" >/dev/null
}
# refusal_row ID AGENT REASON: exactly one token-refused row for the task, by that agent, with that reason.
refusal_row() {
        audit_json | jq -e "[.[] | select(.action == \"token-refused\" and .task == \"$1\" and .agent == \"$2\" and .detail.reason == \"$3\" and .detail.request == \"exec\")] | length == 1" >/dev/null
}
EXEC='"exec":["/bin/true"],"exec_finish":true'

# --- the control: the token as minted works ---
id=$(create_task tok --params "{$EXEC}")
check "a task's own token runs its command" wait_until sh -c "grep -q '^exec-result x-$id-1 exit=0 ' '$T/tok.log'"
check "StartTask carried a token" test -n "$(token_of tok "$id")"

# --- forged: one bit flipped ---
id=$(create_task tok --params "{$EXEC,\"tamper\":\"flip\"}")
check "a token with one bit flipped is refused as forged" refused tok "$id" "the capability token was not minted by this registry"
check "... and nothing ran" test "$(processes_of "$id")" -eq 0
check "... and the refusal is audited" wait_until refusal_row "$id" tok forged
forged=$id

# --- missing ---
id=$(create_task tok --params "{$EXEC,\"token_hex\":\"\"}")
check "a request without a token is refused" refused tok "$id" "the request carries no capability token"
check "... audited" wait_until refusal_row "$id" tok missing

# --- task A's token used for task B ---
a=$(create_task tok --params '{"hold":true}')
token_a=$(token_of tok "$a")
b=$(create_task tok --params "{$EXEC,\"token_hex\":\"$token_a\"}")
check "task A's token is refused for task B" refused tok "$b" "the capability token is for task $a, not this one"
check "... nothing ran for B" test "$(processes_of "$b")" -eq 0
check "... audited with what the token named" \
        wait_until audit_has "[.[] | select(.action == \"token-refused\" and .task == \"$b\" and .detail.reason == \"wrong-task\" and .detail.token.task == \"$a\")] | length == 1"

# --- another agent's token ---
c=$(create_task other --params '{"hold":true}')
token_c=$(token_of other "$c")
d=$(create_task tok --params "{$EXEC,\"token_hex\":\"$token_c\",\"exec_task\":\"$c\"}")
check "another agent's token, for that agent's task, is refused" refused tok "$d" "the capability token belongs to agent 'other', not 'tok'"
check "... audited under the agent that sent it" wait_until refusal_row "$c" tok wrong-agent
e=$(create_task tok --params "{$EXEC,\"token_hex\":\"$token_c\"}")
check "... and for its own task too" refused tok "$e" "the capability token belongs to agent 'other'"
check "... audited" wait_until refusal_row "$e" tok wrong-agent
check "the other agent's task ran nothing" test "$(processes_of "$c")" -eq 0

# --- a capability the card does not grant ---
f=$(create_task nocap --params "{$EXEC}")
check "a token without exec.command is refused" refused nocap "$f" "the capability token of task $f does not grant 'exec.command'"
check "... audited" wait_until refusal_row "$f" nocap capability-not-granted

# --- a finished task's token ---
g=$(create_task tok --params '{"hold":true}')
token_g=$(token_of tok "$g")
kill -USR1 "$tok_pid" # completes the held tasks
check "the held task completed" wait_until task_state_is "$g" completed
h=$(create_task tok --params "{$EXEC,\"token_hex\":\"$token_g\",\"exec_task\":\"$g\"}")
check "the token of a finished task is refused" refused tok "$h" "agent 'tok' has no running task $g"
check "... audited" wait_until refusal_row "$g" tok no-such-task

# --- expired: a registry that mints tokens for 1 s ---
kill_wait TERM "$REG_PID"
start_registry --heartbeat-interval-ms=200 --token-lifetime=1
wait_until agent_state_is tok healthy || not_ok "the agent came back"
x=$(create_task tok --params "{$EXEC,\"exec_on_signal\":true}")
token_of tok "$x" >/dev/null
expires=$(expiry_of tok "$x")
check "the token says it expires within 1 s" test "$expires" -le $(($(date +%s%6N) + 1000000))
past_expiry() {
        [ "$(date +%s%6N)" -gt "$expires" ]
}
check "its expiry passes" wait_until past_expiry
kill -USR2 "$tok_pid" # sends the held ExecRequest now
check "an expired token is refused" refused tok "$x" "the capability token expired at "
check "... audited" wait_until refusal_row "$x" tok expired
check "... and nothing ran" test "$(processes_of "$x")" -eq 0

# --- the log ---
check_eq "eight refusals, eight token-refused rows" 8 "$(audit_json | jq '[.[] | select(.action == "token-refused")] | length')"
check "each row names the capability asked for and the error the agent got" \
        audit_has '[.[] | select(.action == "token-refused") | select(.detail.capability != "exec.command" or (.detail.error | length) == 0)] | length == 0' 
check "VerifyAudit() verifies the chain" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true '"
check_eq "the forged request never reached the supervisor" 0 "$(processes_of "$forged")"
