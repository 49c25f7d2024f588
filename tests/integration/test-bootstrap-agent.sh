#!/usr/bin/env bash
# troupe-agent-bootstrap on the real registry and supervisor, without troupectl: TaskAccepted is
# false (task rejected, with a reason naming what is allowed) for invalid parameters and true for
# valid ones; a FastAPI project is rendered by real cookiecutter in the task's sandbox, its tests
# pass, its dev server answers /health, and the result lists the files and the checks.
# shellcheck shell=bash
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is needed to read the results (dev/setup installs it)"
PY=${TROUPE_PYTHON:-/usr/bin/python3}
"$PY" -c 'import cookiecutter, fastapi, uvicorn, httpx, pytest' 2>/dev/null ||
        skip_all "$PY lacks cookiecutter, fastapi, uvicorn, httpx or pytest: run dev/setup"

REG=org.troupe.Registry1
REG_PATH=/org/troupe/Registry1
MGR=org.troupe.Registry1.Manager
BOOT="$TOP_BUILDDIR/troupe-agent-bootstrap"
export TROUPE_AGENT_SOCKET="$XDG_RUNTIME_DIR/troupe/agent.sock"
export TROUPE_AGENT_CARDS_DIR="$TOP_SRCDIR/agents"
export TROUPE_TEMPLATES_DIR="$TOP_SRCDIR/templates"
# The sandboxes read the build tree (the step binary) and the templates.
export TROUPE_SANDBOX_READ_ONLY="$TOP_BUILDDIR:$TOP_SRCDIR"
export TROUPE_HEARTBEAT_INTERVAL_MS=200
DEADLINE_SEC=120

mgr() { tbusctl call $REG $REG_PATH $MGR "$@"; }
registry_healthy() { [ "$(mgr Health 2>/dev/null)" = 's "ok"' ]; }
agent_healthy() {
        [ "$(tbusctl get-property $REG $REG_PATH/agent/bootstrap org.troupe.Registry1.Agent State 2>/dev/null)" = 's "healthy"' ]
}
# task_prop PATH PROP: the property's value, without busctl's type and quotes (strings only).
task_prop() {
        tbusctl --json=short get-property $REG "$1" org.troupe.Registry1.Task "$2" 2>/dev/null | jq -r .data
}
task_state_in() { # PATH STATE...: the task's state is one of these
        local s
        s=$(task_prop "$1" State)
        shift
        for w in "$@"; do [ "$s" = "$w" ] && return 0; done
        return 1
}
# create PARAMS_JSON: CreateTask for bootstrap; sets TASK.
create() {
        local out
        out=$(mgr CreateTask 'sa{sv}' bootstrap 1 params s "$1" 2>"$T/create.err") || { TASK=; return 1; }
        TASK=$(printf '%s' "$out" | cut -d' ' -f3 | tr -d '"')
}

start_bus
start_daemon troupe-supervisord
wait_until bus_has_name org.troupe.Supervisor1 || { not_ok "the supervisor is on the bus"; exit 1; }
start_daemon troupe-registryd
wait_until registry_healthy || { not_ok "registry started"; exit 1; }
TROUPE_AGENT_CARD="$TOP_SRCDIR/agents/bootstrap/bootstrap.json" start_daemon troupe-agent-bootstrap
check "the bootstrap agent registers" wait_until agent_healthy

# rejected PARAMS FRAGMENT: the task is rejected at once and its error holds FRAGMENT.
rejected() {
        create "$1" || { not_ok "CreateTask $1: $(cat "$T/create.err")"; return; }
        if ! wait_until task_state_in "$TASK" rejected; then
                not_ok "$1 is rejected" "state $(task_prop "$TASK" State)"
                return
        fi
        local err
        err=$(task_prop "$TASK" Error)
        case "$err" in
        *"$2"*) ok "$1 is rejected: $err" ;;
        *) not_ok "$1 is rejected with a reason naming '$2'" "got: $err" ;;
        esac
}
rejected '{"stack":"rails","project_name":"billing"}' 'the stacks are django, fastapi'
rejected '{"stack":"fastapi","project_name":"billing","options":{"gpu":"yes"}}' 'unknown option "gpu"'
rejected '{"stack":"fastapi","project_name":"billing","options":{"license":"GPL"}}' 'one of: MIT, Apache-2.0'
rejected '{"stack":"django","project_name":"shop","options":{"app_name":"shop"}}' 'app_name must differ'
rejected '{"stack":"fastapi","project_name":"my-app"}' "'-' is not allowed"
rejected '{"stack":"fastapi","project_name":"1abc"}' 'starting with a letter'
rejected '{"stack":"fastapi","project_name":"json"}' '"json" is reserved'
rejected '{"stack":"fastapi","project_name":"billing","options":{"description":"{{ 7*7 }}"}}' 'no braces'
# Names that cannot even name a workspace are refused by CreateTask itself (the registry), and
# nothing is created.
for bad in ../x /tmp/x a/b .x "$(printf 'a%.0s' $(seq 300))"; do
        if create "{\"stack\":\"fastapi\",\"project_name\":\"$bad\"}"; then
                not_ok "project_name ${bad:0:20} is refused by CreateTask" "created $TASK"
        else
                ok "project_name ${bad:0:20} is refused by CreateTask: $(head -c 120 "$T/create.err")"
        fi
done
check_eq "no workspace was made for the refused names" "" \
        "$(ls -A "$XDG_DATA_HOME/troupe/workspaces" 2>/dev/null | grep -v -x -e billing -e shop -e my-app -e 1abc -e json)"

# A valid request, by typed params (or params_json when the registry builds none).
create '{"stack":"fastapi","project_name":"billing","options":{"license":"BSD-3-Clause"}}' ||
        not_ok "CreateTask for fastapi billing: $(cat "$T/create.err")"
check "a valid request is accepted (not rejected)" wait_until task_state_in "$TASK" working completed failed
check "the fastapi bootstrap completes" wait_until task_state_in "$TASK" completed
if ! task_state_in "$TASK" completed; then
        diag "state $(task_prop "$TASK" State): $(task_prop "$TASK" Error)"
fi
R=$(task_prop "$TASK" Result)
printf '%s\n' "$R" >"$T/result.json"
check_eq "the result names the stack" fastapi "$(jq -r .stack "$T/result.json")"
check_eq "the test check passed" true "$(jq -r '.checks[] | select(.name=="test") | .ok' "$T/result.json")"
check_eq "the serve check passed" true "$(jq -r '.checks[] | select(.name=="serve") | .ok' "$T/result.json")"
P=$(jq -r .path "$T/result.json")
check "the project is in the workspace" test -f "$P/billing/main.py"
check "the files list holds the application" sh -c "jq -e '.files | index(\"billing/main.py\")' '$T/result.json'"
check "the option reached the project" grep -q "BSD" "$P/LICENSE"
check "no scratch folder is left" test ! -e "$(dirname "$P")/.troupe-bootstrap"
check "the run command is given" sh -c "jq -r .run '$T/result.json' | grep -q 'uvicorn billing.main:app'"
check_eq "the options are all listed" BSD-3-Clause "$(jq -r .options.license "$T/result.json")"
