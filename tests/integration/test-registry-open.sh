#!/usr/bin/env bash
# OpenWorkspace(target, options) -> (status, message): the user opens a task's workspace in the
# editor through the same path as the agent's ActionRequest for exec.editor. With the real
# dbus-daemon, registry and supervisor: consent allowed once (the editor runs on the workspace, an
# audit row names the caller), denied, expired, allowed always (the next call asks nothing) and
# revoked (asked again); a task that ends while the user is asked; a finished task; a pre-granted
# card and a card without exec.editor; an unknown target, hostile path options, and the target
# named by workspace (the newest task) or by task id.
#
# VS Code cannot be installed on these machines: the editor ($TROUPE_EDITOR) is a stand-in script
# that records how it was run (its working directory and arguments), which is what the registry
# controls.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is needed to read the audit rows (dev/setup installs it)"

start_bus

export TROUPE_AGENT_CARDS_DIR="$T/cards"
# perm_card NAME CAPABILITIES REQUESTABLE (JSON arrays).
perm_card() {
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
perm_card opener '[]' '["exec.editor"]'
perm_card granted '["exec.editor"]' '[]'
perm_card plain '[]' '[]'

mkdir -p "$T/bin"
cat >"$T/bin/fake-editor" <<EOF
#!/bin/sh
# The stand-in for VS Code: one line per run, "cwd|arg|arg...".
{ printf '%s' "\$(pwd)"; for a in "\$@"; do printf '|%s' "\$a"; done; echo; } >>"$T/editor.log"
EOF
chmod +x "$T/bin/fake-editor"
: >"$T/editor.log"
export TROUPE_EDITOR="$T/bin/fake-editor"

start_registry --heartbeat-interval-ms=200 --consent-timeout=60
start_supervisor
for a in opener granted plain; do
        start_probe "$a" register "$a" --card "$T/cards/$a.json" --forever --accept-tasks
        wait_until agent_state_is "$a" healthy || { not_ok "agent $a registered"; exit 1; }
done
ok "registry, supervisor and three agents are up"

editor_runs() {
        wc -l <"$T/editor.log"
}
editor_runs_are() {
        [ "$(editor_runs)" -eq "$1" ]
}
# open_bg NAME TARGET [a{sv} COUNT KEY TYPE VALUE...]: OpenWorkspace() in the background (it answers
# only once decided); its reply in $T/open-NAME.out, its error in $T/open-NAME.err.
open_bg() {
        local name=$1 target=$2
        shift 2
        [ $# -gt 0 ] || set -- 0
        tbusctl --timeout=120 call $REG $REG_PATH $MGR OpenWorkspace 'sa{sv}' "$target" "$@" \
                >"$T/open-$name.out" 2>"$T/open-$name.err" &
        eval "open_${name}_pid=$!"
}
# open_now TARGET [a{sv}...]: OpenWorkspace() that is decided without asking; prints the reply.
open_now() {
        local target=$1
        shift
        [ $# -gt 0 ] || set -- 0
        tbusctl --timeout=20 call $REG $REG_PATH $MGR OpenWorkspace 'sa{sv}' "$target" "$@" 2>&1
}
replied() { # NAME
        [ -s "$T/open-$1.out" ] || [ -s "$T/open-$1.err" ]
}
reply_of() { # NAME: the reply once it came
        wait_until replied "$1" && cat "$T/open-$1.out" "$T/open-$1.err"
}
# pending_consent: the id of the one pending consent request.
pending_consent() {
        mgr ListConsents | awk '$2 == 1 { gsub("\"", "", $3); print $3 }'
}
has_pending() {
        [ -n "$(pending_consent)" ]
}
consent_prop() {
        tbusctl get-property $REG "$REG_PATH/consent/$1" org.troupe.Registry1.Consent "$2" 2>/dev/null | cut -d' ' -f2-
}
audit_json() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 1000 | jq -r '.data[0]'
}
audit_has() {
        audit_json | jq -e "$1" >/dev/null
}
# error_name ARGS...: the error name OpenWorkspace() fails with, through gdbus (busctl prints only
# the message); empty without gdbus.
error_name() {
        command -v gdbus >/dev/null 2>&1 || return 0
        gdbus call --address "$DBUS_SESSION_BUS_ADDRESS" --dest $REG --object-path $REG_PATH \
                --method $MGR.OpenWorkspace "$@" 2>&1 | sed -n 's/.*GDBus\.Error:\([^:]*\):.*/\1/p'
}
check_error_name() { # DESCRIPTION NAME ARGS...
        local desc=$1 want=$2
        shift 2
        if command -v gdbus >/dev/null 2>&1; then
                check_eq "$desc" "$want" "$(error_name "$@")"
        else
                ok "$desc # SKIP no gdbus to read the error name (busctl prints only the message)"
        fi
}

# --- the interface ---
intro=$(tbusctl introspect $REG $REG_PATH $MGR)
check "Manager has OpenWorkspace(sa{sv}) -> ss" introspect_has "$intro" OpenWorkspace method 'sa{sv}' ss

# A finished bootstrap-like task: workspace "billing", params naming project "billing", which exists.
id_billing=$(create_task opener --workspace billing --params '{"project_name":"billing"}')
check "the task in workspace billing completed" wait_until task_state_is "$id_billing" completed
WS="$WORKSPACES/billing"
mkdir -p "$WS/billing" "$WS/src" "$T/outside"
ln -s "$T/outside" "$WS/escape"

# --- allowed once, for a finished task; the project folder by default ---
open_bg once billing
check "OpenWorkspace(billing) raises a consent request" wait_until has_pending
cid=$(pending_consent)
check_eq "... for the task's agent and exec.editor" \
        "a(ssso) 1 \"$cid\" \"opener\" \"exec.editor\" \"$REG_PATH/consent/$cid\"" "$(mgr ListConsents)"
check_eq "... for that task" "\"$id_billing\"" "$(consent_prop "$cid" Task)"
check_eq "... its reason names the project folder" '"open the task workspace in your editor: billing"' \
        "$(consent_prop "$cid" Reason)"
check "the call has no answer while the user thinks" sh -c "! test -s '$T/open-once.out'"
check_eq "the editor has not run" 0 "$(editor_runs)"
check "AnswerConsent(allow-once)" mgr AnswerConsent ss "$cid" allow-once
check_eq "the reply is (done, opened PATH with EDITOR)" \
        "ss \"done\" \"opened $WS/billing with $T/bin/fake-editor\"" "$(reply_of once)"
check "the editor ran once" wait_until editor_runs_are 1
check_eq "in the workspace, on the project folder" "$WS|$WS/billing" "$(sed -n 1p "$T/editor.log")"
check "audit: an action row by the user, via OpenWorkspace, with the caller's pid and uid" \
        wait_until audit_has "[.[] | select(.action == \"action\" and .actor == \"user\" and .task == \"$id_billing\" and .agent == \"opener\" and .detail.action == \"exec.editor\" and .detail.via == \"OpenWorkspace\" and .detail.granted_by == \"user\" and .detail.consent == \"$cid\" and .detail.profile == \"unconfined\" and .detail.caller.uid == $(id -u) and .detail.caller.pid > 0 and .detail.argv == [\"$T/bin/fake-editor\", \"$WS/billing\"])] | length == 1"
check "audit: the user's allow-once" \
        audit_has "[.[] | select(.action == \"consent\" and .detail.consent == \"$cid\" and .detail.decision == \"allow-once\")] | length == 1"
check_eq "allow-once stores no grant" "a(ssst) 0" "$(mgr ListGrants)"

# --- denied ---
open_bg deny billing
check "asked again" wait_until has_pending
check "AnswerConsent(deny)" mgr AnswerConsent ss "$(pending_consent)" deny
check_eq "the reply is (denied, denied by the user)" 'ss "denied" "denied by the user"' "$(reply_of deny)"
check_eq "the editor did not run" 1 "$(editor_runs)"

# --- the path option ---
open_bg path billing 1 path s src
check "with a path, asked" wait_until has_pending
check_eq "... the reason names the path" '"open the task workspace in your editor: src"' \
        "$(consent_prop "$(pending_consent)" Reason)"
mgr AnswerConsent ss "$(pending_consent)" allow-once >/dev/null
check_eq "the path beneath the workspace is opened" "ss \"done\" \"opened $WS/src with $T/bin/fake-editor\"" \
        "$(reply_of path)"
check "the editor ran on it" wait_until editor_runs_are 2

# --- hostile paths and unknown targets: refused before anyone is asked ---
for p in ../x /etc escape escape/x nothing-here ./src src/../src; do
        out=$(open_now billing 1 path s "$p")
        check "path '$p' is refused" grep -q "Option path" <<<"$out"
done
check_error_name "a path with .. is org.troupe.Error.InvalidArgs" org.troupe.Error.InvalidArgs \
        billing "{'path': <'../x'>}"
check_error_name "an absolute path is org.troupe.Error.InvalidArgs" org.troupe.Error.InvalidArgs \
        billing "{'path': <'/etc'>}"
check_error_name "a symlink out of the workspace is org.troupe.Error.InvalidArgs" org.troupe.Error.InvalidArgs \
        billing "{'path': <'escape'>}"
check_error_name "an unknown option is org.troupe.Error.InvalidArgs" org.troupe.Error.InvalidArgs \
        billing "{'wait': <true>}"
out=$(open_now no-such-thing)
check "an unknown target is refused, naming it" grep -q "No task 'no-such-thing', and no task used a workspace named 'no-such-thing'" <<<"$out"
check_error_name "an unknown target is org.troupe.Error.NoSuchTask" org.troupe.Error.NoSuchTask \
        no-such-thing "{}"
check_error_name "an unknown task id is org.troupe.Error.NoSuchTask" org.troupe.Error.NoSuchTask \
        a000000000000000 "{}"
check_error_name "a target of ../billing is org.troupe.Error.NoSuchTask" org.troupe.Error.NoSuchTask \
        ../billing "{}"
check_eq "none of these asked the user" "a(ssso) 0" "$(mgr ListConsents)"
check_eq "nor ran the editor" 2 "$(editor_runs)"

# --- allowed always, then without asking, then revoked ---
open_bg always billing
check "asked" wait_until has_pending
check "AnswerConsent(allow-always)" mgr AnswerConsent ss "$(pending_consent)" allow-always
check_eq "done" "ss \"done\" \"opened $WS/billing with $T/bin/fake-editor\"" "$(reply_of always)"
check "ListGrants() lists the grant" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListGrants | grep -q '\"opener\" \"exec.editor\"'"
check_eq "with the grant, the next call is done at once, without a consent request" \
        "ss \"done\" \"opened $WS/billing with $T/bin/fake-editor\"" "$(open_now billing)"
check "the editor ran for both" wait_until editor_runs_are 4
check "audit: the stored grant decided" \
        audit_has "[.[] | select(.action == \"consent\" and .detail.by == \"grant\" and .detail.via == \"OpenWorkspace\")] | length == 1"
check "RevokeGrant(opener, exec.editor)" mgr RevokeGrant ss opener exec.editor
open_bg revoked billing
check "after revoking, the user is asked again" wait_until has_pending
mgr AnswerConsent ss "$(pending_consent)" deny >/dev/null
check_eq "... (denied this time)" 'ss "denied" "denied by the user"' "$(reply_of revoked)"

# --- by workspace name (the newest task) vs by task id ---
old=$(create_task opener --workspace shared --params '{"project_name":"one"}')
wait_until task_state_is "$old" completed
mkdir -p "$WORKSPACES/shared/one" "$WORKSPACES/shared/two"
new=$(create_task opener --workspace shared --reuse --params '{"project_name":"two"}')
wait_until task_state_is "$new" completed
check "two tasks used workspace shared" test -n "$old" -a -n "$new"
open_bg byname shared
check "by name: asked for the newest task" wait_until has_pending
check_eq "... the consent request is the newest task's" "\"$new\"" "$(consent_prop "$(pending_consent)" Task)"
mgr AnswerConsent ss "$(pending_consent)" allow-once >/dev/null
check_eq "... and the newest task's project is opened" \
        "ss \"done\" \"opened $WORKSPACES/shared/two with $T/bin/fake-editor\"" "$(reply_of byname)"
open_bg byid "$old"
check "by id: asked for that task" wait_until has_pending
check_eq "... the consent request is the older task's" "\"$old\"" "$(consent_prop "$(pending_consent)" Task)"
mgr AnswerConsent ss "$(pending_consent)" allow-once >/dev/null
check_eq "... and its own project is opened" \
        "ss \"done\" \"opened $WORKSPACES/shared/one with $T/bin/fake-editor\"" "$(reply_of byid)"
rmdir "$WORKSPACES/shared/one"
open_bg noproject "$old"
wait_until has_pending && mgr AnswerConsent ss "$(pending_consent)" allow-once >/dev/null
check_eq "a project folder that is gone: the workspace itself is opened" \
        "ss \"done\" \"opened $WORKSPACES/shared with $T/bin/fake-editor\"" "$(reply_of noproject)"

# --- a running task that ends while the user is asked: asked again for the finished task ---
held=$(create_task opener --workspace held --params '{"hold":true}')
wait_until task_state_is "$held" working
open_bg held held
check "a running task's workspace: asked" wait_until has_pending
first=$(pending_consent)
mgr CancelTask s "$held" >/dev/null
wait_until task_state_is "$held" canceled
asked_anew() {
        local c
        c=$(pending_consent)
        [ -n "$c" ] && [ "$c" != "$first" ]
}
check "the task ends: the request is asked anew for the finished task" wait_until asked_anew
check "the call is still waiting" sh -c "! test -s '$T/open-held.out'"
mgr AnswerConsent ss "$(pending_consent)" allow-once >/dev/null
check_eq "... and, allowed, it is done" "ss \"done\" \"opened $WORKSPACES/held with $T/bin/fake-editor\"" \
        "$(reply_of held)"

# --- cards: pre-granted, and without exec.editor ---
g=$(create_task granted --workspace gws)
wait_until task_state_is "$g" completed
check_eq "a card that pre-grants exec.editor: done without asking" \
        "ss \"done\" \"opened $WORKSPACES/gws with $T/bin/fake-editor\"" "$(open_now gws)"
check "audit: granted by the card" \
        audit_has "[.[] | select(.action == \"action\" and .task == \"$g\" and .detail.granted_by == \"card\")] | length == 1"
p=$(create_task plain --workspace pws)
wait_until task_state_is "$p" completed
check_eq "a card without exec.editor: denied, saying why" \
        'ss "denied" "capability exec.editor is neither granted nor requestable in the card of agent plain"' \
        "$(open_now pws)"
check "audit: the refusal, by the user via OpenWorkspace" \
        audit_has "[.[] | select(.action == \"action-denied\" and .task == \"$p\" and .actor == \"user\" and .detail.via == \"OpenWorkspace\")] | length == 1"

# --- a workspace that is gone ---
rm -rf "${WORKSPACES:?}/pws"
check_eq "a removed workspace: failed, saying so" \
        "ss \"failed\" \"the workspace $WORKSPACES/pws of task $p is gone (removed, or moved aside)\"" \
        "$(open_now pws)"

# --- expired: nobody answers ---
kill_wait TERM "$REG_PID"
start_registry --heartbeat-interval-ms=200 --consent-timeout=1
open_bg expired billing
check_eq "unanswered within --consent-timeout=1: (denied, no answer within 1 s)" \
        'ss "denied" "no answer within 1 s"' "$(reply_of expired)"
check "the finished task is still found after a restart" \
        audit_has "[.[] | select(.action == \"consent\" and .task == \"$id_billing\" and .detail.decision == \"expired\")] | length == 1"

runs=$(editor_runs)
check_eq "every editor run has its action row" "$runs" \
        "$(audit_json | jq '[.[] | select(.action == "action" and .detail.action == "exec.editor")] | length')"
check "VerifyAudit() verifies the chain" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR VerifyAudit | grep -q '^bts true '"
check "the registry is still healthy" registry_healthy

