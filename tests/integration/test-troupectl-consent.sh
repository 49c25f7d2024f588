#!/usr/bin/env bash
# troupectl consent against the real registry and supervisor on a private bus: an agent
# (agent-probe) whose card makes exec.editor requestable asks for it once per task, which raises a
# consent request; the test answers with `consent allow`, `allow --always`, `deny`, and with
# `consent watch` fed from a pipe (answers one by one and ahead, a request answered elsewhere, the
# end of input, the registry leaving), and checks list, grants and revoke in text and --json, and
# the exit code 4 for requests that are unknown or no longer pending.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/test-registry-common.sh
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"

# shellcheck source=tests/integration/troupectl-consent-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-consent-lib.sh"

start_bus
start_registry
start_daemon troupe-supervisord
wait_until bus_has_name org.troupe.Supervisor1 || { not_ok "the supervisor started"; exit 1; }
start_asker || { not_ok "the asking agent registered"; exit 1; }

pending_ids() { "$CTL" consent list --json >"$T/pending.json" 2>/dev/null && py "' '.join(c['id'] for c in j)" "$T/pending.json"; }
is_pending() { [[ " $(pending_ids) " == *" $1 "* ]]; }

# --- nothing pending ---------------------------------------------------------------------------
ctl consent list --json
check_eq "consent list --json exits 0" 0 "$RC"
check_eq "consent list --json: no requests yet" "[]" "$OUT"
ctl consent grants --json
check_eq "consent grants --json: no grants yet" "[]" "$OUT"
script -qec "$CTL consent list" /dev/null </dev/null >"$T/tty" 2>&1
check "consent list on a terminal says when nothing is pending" grep -q "No pending consent requests" "$T/tty"

# --- list ---------------------------------------------------------------------------------------
raise
check "an action that needs exec.editor raises a consent request" test -n "$CONSENT"
first_task=$TASK first=$CONSENT
ctl consent list --json
check_eq "consent list --json exits 0" 0 "$RC"
check_json \
        "consent list --json: the one pending request" "[c['id'] for c in j] == ['$first']" \
        "consent list --json: its agent, capability and task" \
        "j[0]['agent'] == 'asker' and j[0]['capability'] == 'exec.editor' and j[0]['task'] == '$first_task'" \
        "consent list --json: pending, with a reason" "j[0]['state'] == 'pending' and len(j[0]['reason']) > 0" \
        "consent list --json: it expires after it was created" \
        "isinstance(j[0]['created_usec'], int) and j[0]['expires_usec'] > j[0]['created_usec'] > 0"
ctl consent list
check_eq "consent list (text, not a terminal) exits 0" 0 "$RC"
check_eq "consent list on a pipe: one tab-separated row, no header" "$first	asker	exec.editor	$first_task" \
        "$(cut -f1-4 "$T/out")"
check "consent list on a pipe: the time left to answer" bash -c '[[ "$(cut -f6 "$1")" =~ ^[0-9]+(s|min) ]]' _ "$T/out"
script -qec "$CTL consent list" /dev/null </dev/null >"$T/tty" 2>&1
check "consent list on a terminal: a header line" grep -qE '^ID +AGENT +CAPABILITY +TASK +REASON +EXPIRES-IN' "$T/tty"

# --- allow once ---------------------------------------------------------------------------------
ctl consent allow "$first"
check_eq "consent allow ID exits 0" 0 "$RC"
check "the agent gets its final answer" wait_until has_final_result "$first_task"
check_eq "allowed once: the editor runs" "done" "$(final_result "$first_task")"
check "the answered request is no longer pending" bash -c '! [[ " $1 " == *" $2 "* ]]' _ "$(pending_ids)" "$first"
ctl consent grants --json
check_eq "allow once stores no grant" "[]" "$OUT"

ctl consent allow "$first"
check_eq "allowing an answered request exits 4" 4 "$RC"
check "the error says how to list pending requests" grep -q "troupectl consent list" "$T/err"
ctl consent deny 0000000000000000
check_eq "denying an unknown request exits 4" 4 "$RC"
check "the error names the request" grep -q "0000000000000000" "$T/err"
ctl consent allow "../etc"
check_eq "an impossible id exits 4" 4 "$RC"

# --- allow always, grants, revoke -------------------------------------------------------------------
raise
second_task=$TASK second=$CONSENT
check "a second task asks again" test -n "$second"
ctl consent allow "$second" --always
check_eq "consent allow ID --always exits 0" 0 "$RC"
check "allowed always: the agent gets its final answer" wait_until has_final_result "$second_task"
ctl consent grants --json
check_eq "consent grants --json exits 0" 0 "$RC"
check_json \
        "consent grants --json: the stored grant" \
        "[(g['agent'], g['capability'], g['consent_id']) for g in j] == [('asker', 'exec.editor', '$second')]" \
        "consent grants --json: when it was granted" "isinstance(j[0]['granted_usec'], int) and j[0]['granted_usec'] > 0"
ctl consent grants
check_eq "consent grants on a pipe: agent, capability, time, request" "asker	exec.editor	$second" \
        "$(cut -f1,2,4 "$T/out")"
script -qec "$CTL consent grants" /dev/null </dev/null >"$T/tty" 2>&1
check "consent grants on a terminal: a header line" grep -qE '^AGENT +CAPABILITY +GRANTED +CONSENT' "$T/tty"

raise
check "with the grant stored, the next task is not asked" test -z "$CONSENT"
check "with the grant stored, the action is answered" wait_until has_final_result "$TASK"
check_eq "with the grant stored, the editor runs" "done" "$(final_result "$TASK")"

ctl consent revoke asker exec.editor
check_eq "consent revoke AGENT CAPABILITY exits 0" 0 "$RC"
ctl consent grants --json
check_eq "the revoked grant is gone" "[]" "$OUT"
ctl consent revoke asker exec.editor
check_eq "revoking a grant that does not exist exits 4" 4 "$RC"
check "the error says how to list grants" grep -q "troupectl consent grants" "$T/err"

# --- deny ---------------------------------------------------------------------------------------------
raise
check "after the revoke, the agent is asked again" test -n "$CONSENT"
ctl consent deny "$CONSENT"
check_eq "consent deny ID exits 0" 0 "$RC"
check "the agent gets its final answer" wait_until has_final_result "$TASK"
check_eq "denied: the action is denied" denied "$(final_result "$TASK")"
ctl consent deny "$CONSENT"
check_eq "denying it again exits 4" 4 "$RC"

# --- watch, answering from a pipe ---------------------------------------------------------------------
# The answers go through a FIFO that the test keeps open, one line after each prompt appears.
mkfifo "$T/answers"
"$CTL" consent watch <"$T/answers" >"$T/watch.out" 2>"$T/watch.err" &
watcher=$!
exec 3>"$T/answers"
watch_said() { grep -qF -- "$1" "$T/watch.out"; }
# The prompts so far; a new one appears for each request asked about.
prompts() { grep -o 'Allow [^?]*?' "$T/watch.out" | wc -l; }
prompts_are() { [ "$(prompts)" -eq "$1" ]; }

check "watch says when nothing is pending" wait_until watch_said "No pending consent requests"

raise
check "watch asks about a new request" \
        wait_until watch_said "Allow asker to use exec.editor for task $TASK ("
check "watch's prompt offers once, always, deny and skip" watch_said "[o]nce, [a]lways, [d]eny, [s]kip: "
check "watch shows the request as it arrives" watch_said "Consent request $CONSENT: asker wants exec.editor for task $TASK"
echo o >&3
check "watch: o allows once" wait_until watch_said "Allowed once: $CONSENT."
check "watch: the agent gets its final answer" wait_until has_final_result "$TASK"
check_eq "watch: allowed once, the editor runs" "done" "$(final_result "$TASK")"

raise
check "watch asks about the next request" wait_until prompts_are 2
echo always >&3
check "watch: a (always) allows always" wait_until watch_said "Allowed always (revoke with: troupectl consent revoke AGENT CAPABILITY): $CONSENT."
ctl consent grants --json
check_json "watch: allow always stored a grant" "[(g['agent'], g['consent_id']) for g in j] == [('asker', '$CONSENT')]"
"$CTL" consent revoke asker exec.editor

raise
check "watch asks about a third request" wait_until prompts_are 3
echo maybe >&3
check "watch asks again after an answer it does not know" wait_until watch_said "Please answer o (allow once), a (allow always), d (deny) or s (skip)."
check "watch repeats the question" wait_until prompts_are 4
echo d >&3
check "watch: d denies" wait_until watch_said "Denied: $CONSENT."
check "watch: the agent is denied" wait_until has_final_result "$TASK"
check_eq "watch: the action is denied" denied "$(final_result "$TASK")"

raise
check "watch asks about a fourth request" wait_until prompts_are 5
echo s >&3
check "watch: s skips" wait_until watch_said "Skipped $CONSENT; it stays pending"
check "a skipped request stays pending" is_pending "$CONSENT"
"$CTL" consent deny "$CONSENT"

raise
check "watch asks about a fifth request" wait_until prompts_are 6
ctl consent allow "$CONSENT"
check_eq "answering elsewhere while watch asks exits 0" 0 "$RC"
check "watch reports the request answered elsewhere" \
        wait_until watch_said "Request $CONSENT was answered elsewhere (allow-once)."

exec 3>&-
check "watch ends at the end of its input" wait_until gone "$watcher"
wait "$watcher"
check_eq "watch exits 0 at the end of its input" 0 "$?"
check "watch printed no errors" test ! -s "$T/watch.err"

# --- watch --json -----------------------------------------------------------------------------------
raise
waiting=$CONSENT waiting_task=$TASK
"$CTL" consent watch --json </dev/null >"$T/watch.json" 2>"$T/watch-json.err" &
watcher=$!
# json_events: every line of watch --json parses, and EXPR over the list `ev` holds.
json_events() {
        "$PYTHON" -c 'import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/watch.json" "$1"
}
check "watch --json reports the pending request" \
        wait_until json_events "any(e['event'] == 'requested' and e['id'] == '$waiting' for e in ev)"
check "watch --json: the request's properties" \
        json_events "[(e['agent'], e['capability'], e['task'], e['state']) for e in ev] == [('asker', 'exec.editor', '$waiting_task', 'pending')]"
raise
check "watch --json reports a new request" \
        wait_until json_events "any(e['event'] == 'requested' and e['id'] == '$CONSENT' for e in ev)"
"$CTL" consent deny "$waiting"
"$CTL" consent allow "$CONSENT"
check "watch --json reports each answer with its decision" \
        wait_until json_events "[(e['id'], e['decision']) for e in ev if e['event'] == 'answered'] == [('$waiting', 'deny'), ('$CONSENT', 'allow-once')]"
check "watch --json does not prompt" bash -c '! grep -q "Allow " "$1"' _ "$T/watch.json"
kill -TERM "$watcher"
wait "$watcher"
check_eq "watch --json exits 0 on SIGTERM" 0 "$?"
check "watch --json printed no errors" test ! -s "$T/watch-json.err"

# --- watch with requests already pending, answered ahead, and the registry leaving ----------------------
raise
early_a=$CONSENT task_a=$TASK
raise
early_b=$CONSENT task_b=$TASK
mkfifo "$T/answers2"
"$CTL" consent watch <"$T/answers2" >"$T/watch2.out" 2>"$T/watch2.err" &
watcher=$!
exec 4>"$T/answers2"
watch2_said() { grep -qF -- "$1" "$T/watch2.out"; }
check "watch shows the requests pending when it starts" \
        wait_until bash -c 'grep -q "^Consent request $1:" "$3" && grep -q "^Consent request $2:" "$3"' _ "$early_a" "$early_b" "$T/watch2.out"
check "watch asks about the oldest first" wait_until watch2_said "Allow asker to use exec.editor for task $task_a ("
printf 'o\nd\n' >&4
check "answers given ahead: the first goes to the first request" wait_until watch2_said "Allowed once: $early_a."
check "answers given ahead: the second goes to the second request" wait_until watch2_said "Denied: $early_b."
check "answers given ahead: each follows its question" "$PYTHON" -c '
import sys
out = open(sys.argv[1]).read()
assert out.index("for task " + sys.argv[2] + " (") < out.index("Allowed once: " + sys.argv[3]) < out.rindex("for task " + sys.argv[4] + " (") < out.index("Denied: " + sys.argv[5]), out
' "$T/watch2.out" "$task_a" "$early_a" "$task_b" "$early_b"

kill_wait TERM "$REG_PID"
check "watch ends when the registry leaves the bus" wait_until gone "$watcher"
wait "$watcher"
check_eq "watch exits 1 when the registry leaves the bus" 1 "$?"
check "watch says the registry left" grep -q "org.troupe.Registry1 left the bus" "$T/watch2.out"
exec 4>&-
ctl consent list
check_eq "consent list without a registry exits 1" 1 "$RC"
check "consent list without a registry says to start the suite" grep -q "troupectl up" "$T/err"
ctl consent allow 0123456789abcdef
check_eq "consent allow without a registry exits 1" 1 "$RC"
