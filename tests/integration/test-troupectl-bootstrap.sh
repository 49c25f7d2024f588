#!/usr/bin/env bash
# troupectl bootstrap and open, without rendering anything: --help, usage errors (exit 2, found before
# any bus is used: unknown stacks listed with the known ones, bad --set syntax, unknown options, bad
# values and hostile project names), --list and --list --json against templates/, broken template
# folders (exit 1); then against the real registry, supervisor and router with a stand-in bootstrap
# agent (agent-probe, which answers with its params): the params and options sent, only the id
# without --wait, the live events and the outcome with --wait (exit 0, and 3 when the task is
# rejected), the workspace named after the project, "exists; --force moves it aside" (exit 1) and
# --force; `open` through a consent request (the notice on stderr, allow, deny) with a stand-in editor,
# and exit 4 for an unknown target. tests/e2e/test-bootstrap.sh does the real thing end to end.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/test-registry-common.sh
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"

export TROUPE_TEMPLATES_DIR="$TOP_SRCDIR/templates"

# has_all_words FILE WORD...: FILE contains every WORD.
has_all_words() {
        local file=$1 w
        shift
        for w in "$@"; do
                grep -qF -e "$w" "$file" || { echo "no '$w' in $file"; return 1; }
        done
}
not() { ! "$@"; }

# --- help -------------------------------------------------------------------------------------------
for verb in bootstrap open; do
        ctl "$verb" --help
        check_eq "troupectl $verb --help exits 0" 0 "$RC"
        case "$OUT" in
        "Usage: troupectl $verb"*) ok "troupectl $verb --help starts with its usage" ;;
        *) not_ok "troupectl $verb --help starts with its usage" "$(printf '%s' "$OUT" | head -n 1)" ;;
        esac
done
ctl bootstrap --help
check "bootstrap --help names every option" has_all_words "$T/out" --set --wait --open --force --list --json
ctl --help
check "troupectl --help lists bootstrap and open" bash -c 'grep -q "^  bootstrap" "$1" && grep -q "^  open" "$1"' _ "$T/out"

# --- usage errors: exit 2 with a message, before any bus (there is none yet) --------------------------
long=$(printf 'a%.0s' $(seq 300))
usage_cases=(
        "bootstrap"
        "bootstrap fastapi"
        "bootstrap fastapi billing extra"
        "bootstrap fastapi billing --set novalue"
        "bootstrap fastapi billing --set =x"
        "bootstrap fastapi billing --set nosuch=1"
        "bootstrap fastapi billing --set license=GPL"
        "bootstrap fastapi billing --set dockerfile=maybe"
        "bootstrap fastapi billing --set project_name=other"
        "bootstrap fastapi billing --set python_version=3.11 --set python_version=3.12"
        "bootstrap django billing --set app_name=billing"
        "bootstrap fastapi ../x"
        "bootstrap fastapi /tmp/x"
        "bootstrap fastapi a/b"
        "bootstrap fastapi .x"
        "bootstrap fastapi Billing"
        "bootstrap fastapi my-app"
        "bootstrap fastapi json"
        "bootstrap fastapi $long"
        "bootstrap fastapi billing --path x"
        "bootstrap fastapi billing --always"
        "bootstrap --list fastapi"
        "bootstrap --list --wait"
        "bootstrap --list --set a=b"
        "open"
        "open a b"
        "open billing --set a=b"
        "open billing --wait"
        "open billing --path="
        "run echo --open"
        "tasks --force"
)
for args in "${usage_cases[@]}"; do
        # shellcheck disable=SC2086
        ctl $args
        check_eq "usage error exits 2: troupectl ${args:0:60}" 2 "$RC"
        check "usage error explains itself: troupectl ${args:0:60}" test -s "$T/err"
done
ctl bootstrap fastapi billing --set "description=one {{ 7*7 }}"
check_eq "a description with braces is a usage error" 2 "$RC"

# What the messages say.
ctl bootstrap rails billing
check_eq "an unknown stack exits 2" 2 "$RC"
check "an unknown stack is named, with the known ones" grep -qF "Unknown stack 'rails'. The stacks are: django, fastapi." "$T/err"
check "and where to see them" grep -qF "troupectl bootstrap --list" "$T/err"
ctl bootstrap ../fastapi billing
check "a stack given as a path is unknown" grep -qF "Unknown stack '../fastapi'" "$T/err"
ctl bootstrap fastapi billing --set novalue
check "bad --set syntax says what it wants" grep -qF -- "--set wants KEY=VALUE" "$T/err"
ctl bootstrap fastapi billing --set nosuch=1
check "an unknown option is named" grep -q "nosuch" "$T/err"
check "and the known ones are listed" has_all_words "$T/err" description python_version dockerfile license
ctl bootstrap fastapi billing --set license=GPL
check "a bad choice lists the choices" has_all_words "$T/err" license MIT Apache-2.0 BSD-3-Clause proprietary
for name in ../x /tmp/x a/b .x "$long"; do
        ctl bootstrap fastapi "$name"
        check "a hostile name (${name:0:20}) is refused with what is allowed" grep -q "lowercase" "$T/err"
done
ctl bootstrap fastapi billing --set project_name=other
check "project_name through --set points at NAME" grep -q "NAME operand" "$T/err"
ctl bootstrap fastapi
check "a missing NAME is named" grep -q "Missing the NAME operand" "$T/err"

# --- a valid request, but no suite: failure (1) with the way out --------------------------------------
ctl bootstrap fastapi billing --set python_version=3.12 --set dockerfile=no
check_eq "a valid bootstrap without any bus exits 1" 1 "$RC"
check "it says how to start the suite" grep -q "troupectl up" "$T/err"
ctl open billing
check_eq "open without any bus exits 1" 1 "$RC"

# --- --list -----------------------------------------------------------------------------------------------
ctl bootstrap --list
check_eq "bootstrap --list exits 0" 0 "$RC"
check "--list shows both stacks with their descriptions" \
        bash -c 'grep -q "^django: " "$1" && grep -q "^fastapi: FastAPI service" "$1"' _ "$T/out"
check "--list shows the options, types and choices" \
        bash -c 'grep -qE "^    python_version +choice, default \"3.11\"; one of 3.11, 3.12, 3.10$" "$1" &&
                 grep -qE "^    project_name +slug, required: the NAME operand$" "$1" &&
                 grep -qE "^    dockerfile +bool, default \"yes\"" "$1" &&
                 grep -qE "^    app_name +slug, default \"core\"" "$1"' _ "$T/out"
check "--list shows each option's help" grep -q "at most 200 characters, no braces" "$T/out"
ctl bootstrap --list --json
check_eq "bootstrap --list --json exits 0" 0 "$RC"
check_json \
        "--list --json: the stacks, by name" "[s['name'] for s in j] == ['django', 'fastapi']" \
        "--list --json: a description each" "all(isinstance(s['description'], str) and s['description'] for s in j)" \
        "--list --json: the options in the manifest's order" \
        "[o['name'] for o in j[1]['options']] == list(json.load(open('$TROUPE_TEMPLATES_DIR/fastapi/troupe-template.json'))['options'])" \
        "--list --json: types, defaults, required" \
        "[(o['type'], o['default'], o['required']) for o in j[1]['options']][:2] == [('slug', 'my_service', True), ('string', 'A FastAPI service.', False)]" \
        "--list --json: choices" "[o['choices'] for o in j[1]['options'] if o['name'] == 'license'] == [['MIT', 'Apache-2.0', 'BSD-3-Clause', 'proprietary']]" \
        "--list --json: django's app_name" "'app_name' in [o['name'] for o in j[0]['options']]" \
        "--list --json: each option has its help" "all(o['help'] for s in j for o in s['options'])"

# --- other template folders ---------------------------------------------------------------------------
TROUPE_TEMPLATES_DIR=templates ctl bootstrap --list
check_eq "a relative TROUPE_TEMPLATES_DIR exits 1" 1 "$RC"
check "it says it must be absolute" grep -q "absolute" "$T/err"
TROUPE_TEMPLATES_DIR=$T/none ctl bootstrap fastapi billing
check_eq "a missing templates folder exits 1" 1 "$RC"
check "it names the folder" grep -qF "$T/none" "$T/err"
mkdir -p "$T/tmpl"
cp -r "$TROUPE_TEMPLATES_DIR/fastapi" "$T/tmpl/"
TROUPE_TEMPLATES_DIR=$T/tmpl ctl bootstrap django billing
check_eq "with one stack installed, django is unknown" 2 "$RC"
check "and only the installed stack is listed" grep -qF "The stacks are: fastapi." "$T/err"
cp -r "$TROUPE_TEMPLATES_DIR/fastapi" "$T/tmpl/broken"
"$PYTHON" - "$T/tmpl/broken/troupe-template.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["name"] = "broken"
m["options"]["license"]["type"] = "colour"
json.dump(m, open(sys.argv[1], "w"))
EOF
TROUPE_TEMPLATES_DIR=$T/tmpl ctl bootstrap broken billing
check_eq "a malformed manifest exits 1" 1 "$RC"
check "it names the template and the problem" bash -c 'grep -q "broken" "$1" && grep -q "license" "$1"' _ "$T/err"
TROUPE_TEMPLATES_DIR=$T/tmpl ctl bootstrap --list
check_eq "--list with a malformed manifest exits 1" 1 "$RC"
check "--list names the broken stack" grep -q "broken" "$T/err"

# --- against the suite, with a stand-in bootstrap agent -------------------------------------------------
# agent-probe registers as "bootstrap" under this card (workspaces named after project_name, the editor
# requestable) and completes each task with its params as the result.
export TROUPE_AGENT_CARDS_DIR="$T/cards"
export TROUPE_EDITOR="$T/editor"
mkdir -p "$T/cards"
cat >"$T/cards/bootstrap.json" <<'CARD'
{
  "name": "bootstrap",
  "description": "Stand-in for the bootstrap agent",
  "version": "1.0.0",
  "skills": [{ "id": "bootstrap", "name": "Bootstrap", "description": "Makes projects" }],
  "exec": { "path": "agent-probe", "restart": "no" },
  "permissions": { "requestable": ["exec.editor"] },
  "task": { "workspace_from_param": "project_name", "keep_workspace": "always" }
}
CARD
# The editor: VS Code cannot be installed on these machines, so a script records its arguments.
cat >"$TROUPE_EDITOR" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >>"$T/editor.args"
EOF
chmod +x "$TROUPE_EDITOR"

start_bus
start_registry
start_daemon troupe-supervisord
start_daemon troupe-routerd
wait_until "$CTL" health || { not_ok "the suite answers Health"; exit 1; }
start_bootstrap_probe() {
        start_probe bootstrap register bootstrap --card "$T/cards/bootstrap.json" --forever "$@"
        wait_until agent_state_is bootstrap healthy
}
start_bootstrap_probe --accept-tasks --delay-ms 300 || { not_ok "the stand-in agent registered"; exit 1; }

ctl bootstrap fastapi billing --set python_version=3.12 --set "description=The billing service"
check_eq "bootstrap without --wait exits 0" 0 "$RC"
check "bootstrap without --wait prints only the task id" bash -c '[[ "$1" =~ ^[a-f][0-9a-f]{15}$ ]]' _ "$OUT"
first=$OUT
check "the task completes" wait_until state_is "$first" completed
ctl task show "$first" --json
check_json \
        "the params: stack, project_name, only the options given, force and open false" \
        "j['result'] == {'stack': 'fastapi', 'project_name': 'billing', 'options': {'python_version': '3.12', 'description': 'The billing service'}, 'force': False, 'open': False}" \
        "the workspace is named after the project" "j['workspace'] == '$WORKSPACES/billing'"

ctl bootstrap fastapi billing
check_eq "an existing workspace exits 1" 1 "$RC"
check "it says --force moves it aside" grep -qF "Workspace 'billing' exists; --force moves it aside." "$T/err"

ctl bootstrap fastapi billing --force --open --wait
check_eq "bootstrap --force --open --wait exits 0 when the task completes" 0 "$RC"
second=$(sed -n 's/^Task \([0-9a-f]*\): fastapi project billing$/\1/p' "$T/out")
check "--wait names the task first" test -n "$second"
check "--wait prints the events: the states" \
        bash -c 'grep -qE "  state +working" "$1" && grep -qE "  state +completed" "$1"' _ "$T/out"
check "--wait prints the events: the progress" grep -qE "  progress +100% done" "$T/out"
check "--force moved the old workspace aside" test -d "$WORKSPACES/.aside/billing-$second"
ctl task show "$second" --json
check_json "--force and --open are in the params" "j['result']['force'] is True and j['result']['open'] is True"

ctl bootstrap django shop --set app_name=store --wait --json
check_eq "bootstrap --wait --json exits 0" 0 "$RC"
check_json \
        "--wait --json: stdout is the task, completed" "j['state'] == 'completed' and j['agent'] == 'bootstrap'" \
        "--wait --json: with its result" "j['result']['options'] == {'app_name': 'store'} and j['result']['stack'] == 'django'"
check "--wait --json: the events went to stderr" grep -qE "  state +completed" "$T/err"

# A task that does not complete: exit 3, with the state.
kill -TERM "$PROBE_PID"
wait_until agent_state_is bootstrap stopped
start_bootstrap_probe --reject-tasks || not_ok "the stand-in agent registered again, rejecting"
ctl bootstrap fastapi refused --wait
check_eq "bootstrap --wait exits 3 when the task is rejected" 3 "$RC"
check "it says the task was rejected" grep -qE "Task [0-9a-f]+ rejected" "$T/err"

# --- open ------------------------------------------------------------------------------------------------
ctl open nosuchworkspace
check_eq "open of an unknown workspace exits 4" 4 "$RC"
check "it names the target" grep -q "nosuchworkspace" "$T/err"

pending_id() { "$CTL" consent list --json >"$T/pending.json" 2>/dev/null && py "j[0]['id'] if j else ''" "$T/pending.json"; }
has_pending() { [ -n "$(pending_id)" ]; }
said_waiting() { grep -q "waiting for consent: troupectl consent allow $1 (or deny $1)" "$T/open.err"; }

# open_in_background ARGS...: troupectl open, its output in $T/open.out and $T/open.err.
open_in_background() {
        "$CTL" open "$@" >"$T/open.out" 2>"$T/open.err" &
        OPEN_PID=$!
        _pids+=("$OPEN_PID")
}

open_in_background billing
check "open raises a consent request" wait_until has_pending
consent=$(pending_id)
check "open tells how to answer it" wait_until said_waiting "$consent"
ctl consent allow "$consent"
wait "$OPEN_PID"
check_eq "allowed: open exits 0" 0 "$?"
check "the editor ran on the workspace of the newest task of billing" grep -qxF "$WORKSPACES/billing" "$T/editor.args"
check "open says it opened it" grep -q "Opened billing in the editor" "$T/open.out"

rm -f "$T/editor.args"
open_in_background "$second"
check "open by task id raises a consent request" wait_until has_pending
consent=$(pending_id)
check "open by task id tells how to answer it" wait_until said_waiting "$consent"
ctl consent deny "$consent"
wait "$OPEN_PID"
check_eq "denied: open exits 1" 1 "$?"
check "denied: it says so" grep -q "denied" "$T/open.err"
check "denied: the editor did not run" test ! -e "$T/editor.args"

mkdir -p "$WORKSPACES/billing/sub/dir"
"$CTL" open billing --path sub/dir --json >"$T/open.out" 2>"$T/open.err" &
OPEN_PID=$!
_pids+=("$OPEN_PID")
wait_until has_pending
ctl consent allow "$(pending_id)" --always
wait "$OPEN_PID"
check_eq "allowed always: open exits 0" 0 "$?"
cp "$T/open.out" "$T/out"
check_json "open --json: target, status and message" "j['target'] == 'billing' and j['status'] == 'done' and isinstance(j['message'], str)"
check "--path: the editor ran on that path in the workspace" grep -qxF "$WORKSPACES/billing/sub/dir" "$T/editor.args"
ctl open billing
check_eq "with the grant stored, open exits 0 at once" 0 "$RC"
check "with the grant stored, nothing is asked" not grep -q "waiting for consent" "$T/err"
check_eq "the editor ran once more" 2 "$(grep -c . "$T/editor.args")"
ctl open billing --path ../x
check_eq "open --path outside the workspace exits 1" 1 "$RC"
check "it says what a path may be" grep -q "relative" "$T/err"
