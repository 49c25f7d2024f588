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


# --- consented capabilities: a stored grant, and a policy allow rule, reach the tokens minted later ---
# Agent netter pre-grants exec.command and may request net.loopback. Its task's command (the
# sandbox probe) opens a TCP socket to 127.0.0.1: refused by seccomp (EAFNOSUPPORT) without the
# network; with net.loopback answered in the sandbox's own loopback, where nothing listens
# (ECONNREFUSED) -- or, on a machine without network namespaces, still refused, the supervisor
# then refusing net.loopback. Either way the exec row records what the token carried.
SANDBOX_PROBE="$TOP_BUILDDIR/sandbox-probe"
cat >"$T/cards/netter.json" <<CARD
{ "name": "netter", "description": "Asks for the loopback", "version": "1.0.0",
  "skills": [ { "id": "net", "name": "Net", "description": "Nets" } ],
  "permissions": { "capabilities": ["exec.command"], "requestable": ["net.loopback", "exec.editor"] } }
CARD
start_probe netter register netter --card "$T/cards/netter.json" --forever --accept-tasks
wait_until agent_state_is netter healthy || not_ok "agent netter registered"
NET_EXEC="\"exec\":[\"$SANDBOX_PROBE\",\"tcp-connect\",\"127.0.0.1\",\"1\"],\"exec_finish\":true"
netns=$(tbusctl --json=short get-property $SUP /org/troupe/Supervisor1 $SUP.Manager ConfinementSupport |
        jq -r '.data | fromjson | .layers[] | select(.layer == "netns") | .available')
# net_run: a task of netter that runs the probe; prints its id once its ExecResult is in.
net_run() {
        local id
        id=$(create_task netter --params "{$NET_EXEC}")
        wait_until grep -q "^exec-result x-$id-1 " "$T/netter.log"
        printf '%s\n' "$id"
}
net_output() { # ID: the probe's line
        grep -m1 "^exec-result x-$1-1 " "$T/netter.log" | sed -n 's/.* output=\(tcp-connect [A-Z]*\).*/\1/p'
}
exec_caps() { # ID: the capabilities of the task's exec row, as JSON
        audit_json | jq -c "[.[] | select(.action == \"exec\" and .task == \"$1\")][0].detail.capabilities"
}
token_has() { # AGENT ID CAPABILITY: the token StartTask brought names the capability
        token_of "$1" "$2" | grep -q "$(printf '%s' "$3" | od -An -tx1 | tr -d ' \n')"
}
token_lacks() {
        ! token_has "$@"
}
loopback_answers() { # ID
        if [ "$netns" = true ]; then
                [ "$(net_output "$1")" = "tcp-connect ECONNREFUSED" ]
        else
                [ "$(net_output "$1")" = "tcp-connect EAFNOSUPPORT" ]
        fi
}

id=$(net_run)
check_eq "without a grant, the command cannot open an AF_INET socket" "tcp-connect EAFNOSUPPORT" "$(net_output "$id")"
check_eq "... its exec row carries no capability" "[]" "$(exec_caps "$id")"
check "... and its token does not name net.loopback" token_lacks netter "$id" net.loopback

# The agent asks for a lasting grant; the user answers allow-always.
ask=$(create_task netter --params '{"hold":true,"action":"capability.request","action_args":["net.loopback"]}')
check "capability.request for net.loopback raises a consent request" \
        wait_until grep -q "^action-result act-$ask consent-pending " "$T/netter.log"
cid=$(sed -n "s/^action-result act-$ask consent-pending \\([^ ]*\\) .*/\\1/p" "$T/netter.log" | head -n 1)
check "AnswerConsent(allow-always)" mgr AnswerConsent ss "$cid" allow-always
check "the request is DONE: the grant reaches the tasks started from now on" \
        wait_until grep -q "^action-result act-$ask done .*net.loopback is granted to agent netter (by user): the tokens of the tasks it starts from now on carry it" "$T/netter.log"
check "ListGrants() lists it" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListGrants | grep -q '\"netter\" \"net.loopback\" \"$cid\"'"
check "audit: the action row of the grant" \
        audit_has "[.[] | select(.action == \"action\" and .task == \"$ask\" and .detail.action == \"capability.request\" and .detail.capability == \"net.loopback\" and .detail.consent == \"$cid\")] | length == 1"

id=$(net_run)
check "the token minted after the grant names net.loopback" token_has netter "$id" net.loopback
check_eq "... the exec under it gets it (its exec row)" '["net.loopback"]' "$(exec_caps "$id")"
check "... and the command's socket reaches its own loopback: ECONNREFUSED (netns available: $netns)" \
        loopback_answers "$id"
check "the registry logs where the capability came from" \
        grep -q "Task $id: its token carries net.loopback, granted to agent netter" "$T/troupe-registryd.log"

check "RevokeGrant(netter, net.loopback)" mgr RevokeGrant ss netter net.loopback
id=$(net_run)
check "after the revocation a new task's token does not name it" token_lacks netter "$id" net.loopback
check_eq "... its exec row carries no capability" "[]" "$(exec_caps "$id")"
check_eq "... and the socket is refused again" "tcp-connect EAFNOSUPPORT" "$(net_output "$id")"

# The policy file's allow rules are standing grants too; its deny rules, and allow rules for a
# capability the card does not make requestable, add nothing.
mkdir -p "$XDG_CONFIG_HOME/troupe"
cat >"$XDG_CONFIG_HOME/troupe/consent.json" <<'POLICY'
{ "version": 1, "rules": [
  { "agent": "netter", "capability": "exec.editor", "decision": "deny" },
  { "agent": "*", "capability": "net.connect:example.com:443", "decision": "allow" },
  { "agent": "netter", "capability": "net.loopback", "decision": "allow" } ] }
POLICY
id=$(net_run)
check "a policy allow rule: the token names net.loopback" token_has netter "$id" net.loopback
check_eq "... the exec gets it" '["net.loopback"]' "$(exec_caps "$id")"
check "... a requestable capability the policy denies is not in it" token_lacks netter "$id" exec.editor
check "... nor an allowed one the card does not make requestable" \
        token_lacks netter "$id" net.connect:example.com:443
rm -f "$XDG_CONFIG_HOME/troupe/consent.json"
id=$(net_run)
check_eq "the rule removed, the next token has nothing more" "[]" "$(exec_caps "$id")"
check "VerifyAudit() still verifies the chain" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true '"
