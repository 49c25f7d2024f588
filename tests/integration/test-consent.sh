#!/usr/bin/env bash
# Consent and the ActionRequest path: exec.editor pre-granted, asked and allowed once, denied,
# allowed always (stored, listed, surviving a restart, revoked), decided by the policy file, voided
# by a canceled task, expired; the errors of the bus API; and an audit row for every decision.
#
# VS Code cannot be installed on these machines: the editor is a stand-in script that records how it
# was run (its arguments, working directory and DISPLAY), which is what the registry controls.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

CONSENT_IF=org.troupe.Registry1.Consent

start_bus

# Cards are read by the registry from the card directories: these, not the copies the probes send.
export TROUPE_AGENT_CARDS_DIR="$T/cards"
# write_perm_card NAME CAPABILITIES REQUESTABLE: a card with those permissions (JSON arrays).
write_perm_card() {
        mkdir -p "$T/cards"
        cat >"$T/cards/$1.json" <<EOF
{
  "name": "$1",
  "description": "Test agent $1",
  "version": "1.0.0",
  "skills": [ { "id": "$1-skill", "name": "Main", "description": "What $1 does" } ],
  "permissions": { "capabilities": $2, "requestable": $3 }
}
EOF
}
write_perm_card asker '[]' '["exec.editor"]'
write_perm_card granted '["exec.editor"]' '[]'
write_perm_card plain '[]' '[]'

mkdir -p "$T/bin"
cat >"$T/bin/fake-editor" <<EOF
#!/bin/sh
# The stand-in for VS Code: one line per run, "cwd|DISPLAY|arg|arg...".
{ printf '%s|%s' "\$(pwd)" "\${DISPLAY-}"; for a in "\$@"; do printf '|%s' "\$a"; done; echo; } >>"$T/editor.log"
EOF
chmod +x "$T/bin/fake-editor"
: >"$T/editor.log"
# Two words: the registry splits the command without a shell.
export TROUPE_EDITOR="$T/bin/fake-editor --new-window"
export DISPLAY=:42

# The registry first: the supervisor records its spawns in the registry's audit log.
start_registry --heartbeat-interval-ms=200 --consent-timeout=60
start_supervisor

tbusctl monitor --json=short --match "type='signal',sender='$REG',member='ConsentRequested'" \
        --match "type='signal',sender='$REG',member='ConsentAnswered'" \
        --match "type='signal',member='Marker'" >"$T/monitor.json" 2>/dev/null &
_pids+=($!)
monitor_ready() {
        tbusctl emit /org/troupe/Test org.troupe.Test Marker >/dev/null 2>&1
        grep -q '"Marker"' "$T/monitor.json"
}
wait_until monitor_ready || not_ok "busctl monitor started"

start_agent() {
        start_probe "$1" register "$1" --card "$T/cards/$1.json" --forever --accept-tasks
        wait_until agent_state_is "$1" healthy || not_ok "agent $1 is healthy"
}
start_agent asker
start_agent granted
start_agent plain

# The workspace "proj" with a src/ directory and a symlink that leads out of it.
mkdir -p "$WORKSPACES/proj/src" "$T/outside"
chmod 0700 "$WORKSPACES" "$WORKSPACES/proj"
ln -s "$T/outside" "$WORKSPACES/proj/escape"

# act AGENT ACTION [ARGS_JSON]: a held task in workspace proj whose agent sends the ActionRequest at
# once; prints the task id.
act() {
        create_task "$1" --workspace proj --reuse \
                --params "{\"hold\":true,\"action\":\"$2\",\"action_args\":${3:-[]}}"
}
# result AGENT ID STATUS [MESSAGE-REGEX]: the probe got that ActionResult for the task's request, its
# message matching.
result() {
        probe_said "$1" "^action-result act-$2 $3 [^ ]+ .*${4:-}"
}
# consent_of AGENT ID: the consent id of the task's CONSENT_PENDING result.
consent_of() {
        sed -n "s/^action-result act-$2 consent-pending \\([^ ]*\\) .*/\\1/p" "$T/$1.log" | head -n 1
}
consent_prop() {
        tbusctl get-property $REG "$REG_PATH/consent/$1" $CONSENT_IF "$2" 2>/dev/null | cut -d' ' -f2-
}
answered_with() {
        grep '"ConsentAnswered"' "$T/monitor.json" | grep -q "\"$1\",\"$2\""
}
editor_runs() {
        wc -l <"$T/editor.log"
}
editor_runs_are() {
        [ "$(editor_runs)" -eq "$1" ]
}
# mgr_error METHOD ARGS...: the error name a failing Manager call (string arguments) gets; busctl
# prints only the message, the probe prints both.
mgr_error() {
        "$PROBE" manager "$@" 2>&1 | sed -n 's/^error \([^:]*\):.*/\1/p'
}
mgr_error_message() {
        "$PROBE" manager "$@" 2>&1 | sed -n 's/^error [^:]*: //p'
}
kill_and_wait_task() {
        mgr CancelTask s "$1" >/dev/null
        wait_until task_state_is "$1" canceled
}

# --- the interface ---
intro=$(tbusctl introspect $REG $REG_PATH $MGR)
check "Manager has ListConsents() -> a(ssso)" introspect_has "$intro" ListConsents method - "a(ssso)"
check "Manager has AnswerConsent(ss)" introspect_has "$intro" AnswerConsent method ss -
check "Manager has ListGrants() -> a(ssst)" introspect_has "$intro" ListGrants method - "a(ssst)"
check "Manager has RevokeGrant(ss)" introspect_has "$intro" RevokeGrant method ss -
check "Manager has signal ConsentRequested(so)" introspect_has "$intro" ConsentRequested signal so
check "Manager has signal ConsentAnswered(ss)" introspect_has "$intro" ConsentAnswered signal ss
check_eq "ConsentTimeoutUSec is --consent-timeout" "60000000" \
        "$(tbusctl get-property $REG $REG_PATH $MGR ConsentTimeoutUSec | cut -d' ' -f2)"
check_eq "no consent requests at first" "a(ssso) 0" "$(mgr ListConsents)"
check_eq "no grants at first" "a(ssst) 0" "$(mgr ListGrants)"

# --- pre-granted: no question ---
id=$(act granted exec.editor)
check "a pre-granted exec.editor is DONE without asking" wait_until result granted "$id" done "the editor is running"
check "the editor ran once" wait_until editor_runs_are 1
check_eq "it ran in the workspace, with DISPLAY, split without a shell, the workspace last" \
        "$WORKSPACES/proj|:42|--new-window|$WORKSPACES/proj" "$(sed -n 1p "$T/editor.log")"
check "no consent request was raised for it" sh -c "! grep -q '\"ConsentRequested\"' '$T/monitor.json'"
kill_and_wait_task "$id"

# --- not requestable: refused, audited ---
id=$(act plain exec.editor)
check "a capability neither granted nor requestable is DENIED" \
        wait_until result plain "$id" denied "capability exec.editor is neither granted nor requestable"
kill_and_wait_task "$id"

# --- unknown action, bad paths ---
id=$(act asker exec.nothing)
check "an unknown action is FAILED \"unknown action\"" wait_until result asker "$id" failed "unknown action"
kill_and_wait_task "$id"
id=$(act asker exec.editor '["../x"]')
check "a path with .. is FAILED before anyone is asked" wait_until result asker "$id" failed "args\\[0\\] must be a path"
kill_and_wait_task "$id"
id=$(act asker exec.editor '["escape"]')
check "a symlink out of the workspace is FAILED" wait_until result asker "$id" failed "leads out of the workspace"
kill_and_wait_task "$id"
id=$(act asker exec.editor '["src", "more"]')
check "two arguments are FAILED" wait_until result asker "$id" failed "too many arguments"
kill_and_wait_task "$id"
check_eq "none of these asked the user" "a(ssso) 0" "$(mgr ListConsents)"

# --- asked, allowed once ---
id=$(act asker exec.editor '["src"]')
check "a requestable capability answers CONSENT_PENDING with a consent id" \
        wait_until result asker "$id" consent-pending "waiting for the user"
cid=$(consent_of asker "$id")
check "the consent id is 16 hex digits" sh -c "printf '%s' '$cid' | grep -Eq '^[a-f][0-9a-f]{15}$'"
check "ConsentRequested(id, path) was emitted" sh -c \
        "grep '\"ConsentRequested\"' '$T/monitor.json' | grep -q '\"$cid\",\"/org/troupe/Registry1/consent/$cid\"'"
check_eq "ListConsents() lists it: id, agent, capability, path" \
        "a(ssso) 1 \"$cid\" \"asker\" \"exec.editor\" \"/org/troupe/Registry1/consent/$cid\"" "$(mgr ListConsents)"
check_eq "Consent.Task is the task" "\"$id\"" "$(consent_prop "$cid" Task)"
check_eq "Consent.Agent" '"asker"' "$(consent_prop "$cid" Agent)"
check_eq "Consent.Capability" '"exec.editor"' "$(consent_prop "$cid" Capability)"
check_eq "Consent.Reason says what and where" '"open the task workspace in your editor: src"' \
        "$(consent_prop "$cid" Reason)"
check_eq "Consent.State is pending" '"pending"' "$(consent_prop "$cid" State)"
check_eq "ExpiresUSec - CreatedUSec is the timeout" 60000000 \
        $(($(consent_prop "$cid" ExpiresUSec) - $(consent_prop "$cid" CreatedUSec)))
cintro=$(tbusctl introspect $REG "$REG_PATH/consent/$cid" $CONSENT_IF)
for p in "Id s const" "Task s const" "Agent s const" "Capability s const" "Reason s const" \
        "CreatedUSec t const" "ExpiresUSec t const" "State s emits-change"; do
        set -- $p
        check "Consent has property $1 ($2, $3)" introspect_has "$cintro" "$1" property "$2" "" "$3"
done
check "Consent has method Answer(s)" introspect_has "$cintro" Answer method s -
check "the request is under the ObjectManager" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH org.freedesktop.DBus.ObjectManager GetManagedObjects | grep -q '/org/troupe/Registry1/consent/$cid'"
check "the editor has not run while the user thinks" editor_runs_are 1

check_eq "AnswerConsent with a bad decision is InvalidArgs" "org.troupe.Error.InvalidArgs" \
        "$(mgr_error AnswerConsent "$cid" maybe)"
check "... and its message lists the decisions" sh -c \
        "'$PROBE' manager AnswerConsent '$cid' maybe | grep -q 'use allow-once, allow-always or deny'"
check_eq "AnswerConsent for an unknown id is NoSuchConsent" "org.troupe.Error.NoSuchConsent" \
        "$(mgr_error AnswerConsent a000000000000000 deny)"
check_eq "an expired/canceled decision cannot be given by a user" "org.troupe.Error.InvalidArgs" \
        "$(mgr_error AnswerConsent "$cid" expired)"

check "AnswerConsent(allow-once) succeeds" mgr AnswerConsent ss "$cid" allow-once
check "the action is then DONE with the same request_id" wait_until result asker "$id" done "the editor is running"
check "the editor ran on workspace/src" wait_until editor_runs_are 2
check_eq "its arguments" "$WORKSPACES/proj|:42|--new-window|$WORKSPACES/proj/src" "$(sed -n 2p "$T/editor.log")"
check "ConsentAnswered(id, allow-once) was emitted" wait_until answered_with "$cid" allow-once
check "the object is gone" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG '$REG_PATH/consent/$cid' $CONSENT_IF State"
check_eq "ListConsents() is empty again" "a(ssso) 0" "$(mgr ListConsents)"
check_eq "answering it again is NoSuchConsent" "org.troupe.Error.NoSuchConsent" \
        "$(mgr_error AnswerConsent "$cid" allow-once)"
check_eq "allow-once stores no grant" "a(ssst) 0" "$(mgr ListGrants)"
kill_and_wait_task "$id"

# --- asked, denied ---
id=$(act asker exec.editor)
check "asked again" wait_until result asker "$id" consent-pending
cid_deny=$(consent_of asker "$id")
check "AnswerConsent(deny) succeeds" mgr AnswerConsent ss "$cid_deny" deny
check "the action is DENIED \"denied by the user\"" wait_until result asker "$id" denied "denied by the user"
check "ConsentAnswered(id, deny)" wait_until answered_with "$cid_deny" deny
check "the editor did not run" editor_runs_are 2
kill_and_wait_task "$id"

# --- allowed always, through the object's Answer() ---
id=$(act asker exec.editor)
check "asked a third time" wait_until result asker "$id" consent-pending
cid_always=$(consent_of asker "$id")
check "Consent.Answer(allow-always) succeeds" \
        tbusctl call $REG "$REG_PATH/consent/$cid_always" $CONSENT_IF Answer s allow-always
check "the action is DONE" wait_until result asker "$id" done
check "ConsentAnswered(id, allow-always)" wait_until answered_with "$cid_always" allow-always
check "ListGrants() lists the grant: agent, capability, consent id, time" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListGrants | grep -Eq '^a\\(ssst\\) 1 \"asker\" \"exec.editor\" \"$cid_always\" [0-9]{16}$'"
kill_and_wait_task "$id"
id=$(act asker exec.editor)
check "with the grant, the next request is DONE without asking" wait_until result asker "$id" done
check "... and no CONSENT_PENDING came for it" sh -c "! grep -q '^action-result act-$id consent-pending' '$T/asker.log'"
check "the editor ran for both" wait_until editor_runs_are 4
kill_and_wait_task "$id"

# --- the grant survives a restart ---
kill_wait TERM "$REG_PID"
start_registry --heartbeat-interval-ms=200 --consent-timeout=60
check "after a restart ListGrants() still lists it" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListGrants | grep -q '\"asker\" \"exec.editor\" \"$cid_always\"'"
kill_wait TERM "$PROBE_PID" 2>/dev/null
start_agent asker
id=$(act asker exec.editor)
check "and the request after the restart is DONE without asking" wait_until result asker "$id" done
check "... no CONSENT_PENDING" sh -c "! grep -q '^action-result act-$id consent-pending' '$T/asker.log'"
kill_and_wait_task "$id"

# --- revoking ---
check_eq "RevokeGrant of an unknown grant is NoSuchConsent" "org.troupe.Error.NoSuchConsent" \
        "$(mgr_error RevokeGrant asker fs.workspace)"
check_eq "RevokeGrant with a bad capability is InvalidArgs" "org.troupe.Error.InvalidArgs" \
        "$(mgr_error RevokeGrant asker 'not a capability')"
check "RevokeGrant(asker, exec.editor) succeeds" mgr RevokeGrant ss asker exec.editor
check_eq "ListGrants() is empty" "a(ssst) 0" "$(mgr ListGrants)"
check_eq "revoking it again is NoSuchConsent" "org.troupe.Error.NoSuchConsent" \
        "$(mgr_error RevokeGrant asker exec.editor)"
id=$(act asker exec.editor)
check "after revoking, the user is asked again" wait_until result asker "$id" consent-pending
check "the task is canceled while the request is pending" mgr CancelTask s "$id"
cid_cancel=$(consent_of asker "$id")
check "ConsentAnswered(id, canceled)" wait_until answered_with "$cid_cancel" canceled
check "the action is DENIED: the task ended" wait_until result asker "$id" denied "the task ended before the user answered"
check_eq "nothing is pending" "a(ssso) 0" "$(mgr ListConsents)"

# --- the policy file ---
mkdir -p "$XDG_CONFIG_HOME/troupe"
cat >"$XDG_CONFIG_HOME/troupe/consent.json" <<'EOF'
{ "version": 1, "rules": [ { "agent": "asker", "capability": "exec.editor", "decision": "allow" } ] }
EOF
runs=$(editor_runs)
id=$(act asker exec.editor)
check "a policy allow rule: DONE without asking" wait_until result asker "$id" done
check "... no CONSENT_PENDING" sh -c "! grep -q '^action-result act-$id consent-pending' '$T/asker.log'"
check "the editor ran" wait_until editor_runs_are $((runs + 1))
kill_and_wait_task "$id"

cat >"$XDG_CONFIG_HOME/troupe/consent.json" <<'EOF'
{ "version": 1, "rules": [
  { "agent": "someone-else", "capability": "exec.editor", "decision": "allow" },
  { "agent": "*", "capability": "exec.editor", "decision": "deny" },
  { "agent": "asker", "capability": "exec.editor", "decision": "allow" } ] }
EOF
id=$(act asker exec.editor)
check "the file is read again when it changes; the first matching rule (a * deny) wins" \
        wait_until result asker "$id" denied "exec.editor is denied by the consent policy"
kill_and_wait_task "$id"

cat >"$XDG_CONFIG_HOME/troupe/consent.json" <<'EOF'
{ "version": 1, "rules": [ { "agent": "asker", "capability": "exec.editor", "decision": "allow", "why": "x" } ] }
EOF
id=$(act asker exec.editor)
check "a policy with an unknown key is ignored as a whole: the user is asked" \
        wait_until result asker "$id" consent-pending
check "the registry logs the rejection naming the field" grep -q 'consent.json rejected: rules\[0\]' "$T/troupe-registryd.log"
cid_policy=$(consent_of asker "$id")
check "deny it" mgr AnswerConsent ss "$cid_policy" deny
check "DENIED" wait_until result asker "$id" denied "denied by the user"
kill_and_wait_task "$id"
rm -f "$XDG_CONFIG_HOME/troupe/consent.json"

# --- expiry (and, from here on, the editor from troupe.conf, found in PATH) ---
kill_wait TERM "$REG_PID"
unset TROUPE_EDITOR
printf '# the editor\n[ignored section]\neditor = fake-editor --reuse-window "a b" \\\\x\n' >"$XDG_CONFIG_HOME/troupe/troupe.conf"
PATH="$T/bin:$PATH" start_registry --heartbeat-interval-ms=200 --consent-timeout=1
kill_wait TERM "$PROBE_PID" 2>/dev/null
start_agent asker
id=$(act asker exec.editor)
check "with --consent-timeout=1 the request is pending first" wait_until result asker "$id" consent-pending
cid_expired=$(consent_of asker "$id")
check "unanswered, it expires: ConsentAnswered(id, expired)" wait_until answered_with "$cid_expired" expired
check "the action is DENIED \"no answer within 1 s\"" wait_until result asker "$id" denied "no answer within 1 s"
check_eq "nothing is pending" "a(ssso) 0" "$(mgr ListConsents)"
kill_and_wait_task "$id"

cat >"$XDG_CONFIG_HOME/troupe/consent.json" <<'EOF2'
{ "version": 1, "rules": [ { "agent": "asker", "capability": "exec.editor", "decision": "allow" } ] }
EOF2
runs=$(editor_runs)
id=$(act asker exec.editor '["src"]')
check "without \$TROUPE_EDITOR, editor= in troupe.conf is run" wait_until result asker "$id" done
check "the editor ran" wait_until editor_runs_are $((runs + 1))
check_eq "found in PATH, split like a shell would, without one" \
        "$WORKSPACES/proj|:42|--reuse-window|a b|\\x|$WORKSPACES/proj/src" "$(tail -n 1 "$T/editor.log")"
kill_and_wait_task "$id"
printf 'editor=no-such-editor --wait\n' >"$XDG_CONFIG_HOME/troupe/troupe.conf"
id=$(act asker exec.editor)
check "an editor= that is not installed is FAILED, naming it" \
        wait_until result asker "$id" failed "editor 'no-such-editor' \\(from editor= in troupe.conf\\) is not installed"
kill_and_wait_task "$id"
rm -f "$XDG_CONFIG_HOME/troupe/consent.json"

# --- every decision is in the audit log ---
audit_json() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 1000 | jq -r '.data[0]'
}
audit_has() {
        audit_json | jq -e "$1" >/dev/null
}
consent_row() { # ID DECISION BY
        audit_has "[.[] | select(.action == \"consent\" and .detail.consent == \"$1\" and .detail.decision == \"$2\" and .detail.by == \"$3\")] | length == 1" "\"consent\":\"$1\""
}
check "audit: allow-once by the user" wait_until consent_row "$cid" allow-once user
check "audit: deny by the user" consent_row "$cid_deny" deny user
check "audit: allow-always by the user" consent_row "$cid_always" allow-always user
check "audit: canceled by the registry" consent_row "$cid_cancel" canceled registry
check "audit: expired by the registry" consent_row "$cid_expired" expired registry
check "audit: a decision by the stored grant" \
        audit_has '[.[] | select(.action == "consent" and .detail.by == "grant" and .detail.decision == "allow")] | length >= 2' '"by":"grant"'
check "audit: decisions by the policy, allow and deny" \
        audit_has '([.[] | select(.action == "consent" and .detail.by == "policy")] | map(.detail.decision) | unique) == ["allow","deny"]' '"by":"policy"'
check "audit: the revocation" \
        audit_has '[.[] | select(.action == "consent-revoke" and .agent == "asker" and .detail.capability == "exec.editor")] | length == 1' '"consent-revoke"'
check "audit: the refusal of a capability not in the card" \
        audit_has '[.[] | select(.action == "action-denied" and .agent == "plain")] | length == 1' '"action-denied"'
check "audit: an action row for every editor run, with its argv" \
        audit_has "[.[] | select(.action == \"action\" and .detail.action == \"exec.editor\" and .detail.profile == \"unconfined\")] | length == $(editor_runs)" '"action":"action"'
check "audit: the chain verifies" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true'"

# --- failing closed: an answer that cannot be audited is not taken ---
kill_wait TERM "$REG_PID"
TROUPE_STATE_DIR="$T/capped" start_registry --heartbeat-interval-ms=200 --consent-timeout=60 --audit-max-size=1
kill_wait TERM "$PROBE_PID" 2>/dev/null
start_agent asker
id=$(act asker exec.editor)
check "under a capped audit log, the request is pending" wait_until result asker "$id" consent-pending
cid_closed=$(consent_of asker "$id")
# Fill the log with tasks until CreateTask() is refused for want of it.
for _ in $(seq 300); do
        out=$("$PROBE" create-task asker)
        grep -q '^ok ' <<<"$out" || break
done
check "the capped log fills up: CreateTask() is refused" grep -q "audit log" <<<"$out"
runs=$(editor_runs)
check "AnswerConsent fails with the reason when the decision cannot be audited" sh -c \
        "'$PROBE' manager AnswerConsent '$cid_closed' allow-always | grep -q 'could not be recorded in the audit log'"
check_eq "the request is still pending" '"pending"' "$(consent_prop "$cid_closed" State)"
check "ListConsents() still lists it" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListConsents | grep -q '\"$cid_closed\"'"
check_eq "no grant was stored" "a(ssst) 0" "$(mgr ListGrants)"
check "the action is not performed" sh -c "! grep -q '^action-result act-$id done' '$T/asker.log'"
check "the editor did not run" editor_runs_are "$runs"

# --- capability.request: an agent asks for a lasting grant of a requestable capability ---
# (What the grant then does, the tokens of later tasks carrying it, is in test-registry-tokens.sh.)
kill_wait TERM "$REG_PID"
start_registry --heartbeat-interval-ms=200 --consent-timeout=60
write_perm_card netasker '[]' '["net.loopback"]'
kill_wait TERM "$PROBE_PID" 2>/dev/null
start_agent asker
start_agent granted
start_agent netasker
check_eq "(the grants of before are gone: revoked)" "a(ssst) 0" "$(mgr ListGrants)"
id=$(act netasker capability.request '["net.loopback"]')
check "capability.request asks the user, naming the capability" wait_until result netasker "$id" consent-pending
cid_cap=$(consent_of netasker "$id")
check_eq "Consent.Capability is the one asked for" '"net.loopback"' "$(consent_prop "$cid_cap" Capability)"
check_eq "Consent.Reason says it is a lasting grant" \
        '"net.loopback: use it in the tasks it starts from now on (a lasting grant: answer allow-always to give it)"' \
        "$(consent_prop "$cid_cap" Reason)"
check "allow-once" mgr AnswerConsent ss "$cid_cap" allow-once
check "allowed once grants nothing: DENIED, saying to answer allow-always" \
        wait_until result netasker "$id" denied "allowed once, which grants nothing: net.loopback reaches a task through its token"
check_eq "... and no grant is stored" "a(ssst) 0" "$(mgr ListGrants)"
kill_and_wait_task "$id"
id=$(act netasker capability.request '["net.loopback"]')
wait_until result netasker "$id" consent-pending
check "deny" mgr AnswerConsent ss "$(consent_of netasker "$id")" deny
check "DENIED by the user" wait_until result netasker "$id" denied "denied by the user"
kill_and_wait_task "$id"
id=$(act asker capability.request '["net.loopback"]')
check "a capability the card does not make requestable is DENIED without asking" \
        wait_until result asker "$id" denied "capability net.loopback is neither granted nor requestable in the card of agent asker"
kill_and_wait_task "$id"
id=$(act netasker capability.request '["net.connect:example.com:99999"]')
check "an invalid capability is FAILED" wait_until result netasker "$id" failed "args\\[0\\] must be a capability"
kill_and_wait_task "$id"
id=$(act netasker capability.request '[]')
check "capability.request without its argument is FAILED" \
        wait_until result netasker "$id" failed "capability.request takes one argument"
kill_and_wait_task "$id"
id=$(act granted capability.request '["exec.editor"]')
check "a capability the card pre-grants is DONE at once (by its token)" \
        wait_until result granted "$id" done "exec.editor is granted to agent granted \\(by token\\)"
kill_and_wait_task "$id"
check_eq "nothing is pending" "a(ssso) 0" "$(mgr ListConsents)"
