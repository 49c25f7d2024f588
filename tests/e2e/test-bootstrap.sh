#!/usr/bin/env bash
# End to end: `troupectl bootstrap` and the router drive the real bootstrap agent on the real registry,
# supervisor and router (private dbus-daemon), which renders the templates with Debian's cookiecutter,
# runs the projects' tests and probes their dev servers inside the task sandbox. Checked here:
# - both stacks through `troupectl bootstrap --wait` and through the router (`troupectl run` with a
#   prompt and explicit params, and Router1.Submit routing by the prompt alone);
# - the generated projects hold exactly the manifest's files, and their tests pass again here, run
#   outside troupe with /usr/bin/python3; the fastapi server answers /health here too;
# - the log arrives live (a log line is printed before the task has ended);
# - TaskAccepted: valid tasks go through "accepted", invalid ones end "rejected" with the reason;
# - cancel in the middle of rendering and of the tests: canceled within 5 s, no process of the task
#   left, the workspace removed, nothing written outside the workspaces root;
# - four bootstraps at once stay isolated and all complete;
# - hostile names (../x, /tmp/x, a/b, .x, 300 characters), an unknown stack, an unknown option and a
#   template that fails to render end with a clear error and nothing outside the workspace;
# - opening in the editor (`bootstrap --open`, `troupectl open`) through consent: allow once, deny,
#   allow always. VS Code cannot be installed on these machines: the editor ($TROUPE_EDITOR) is a
#   stand-in script that records its arguments.
# Everything runs on /usr/bin/python3 (or $TROUPE_PYTHON), where dev/setup installs Debian's packages.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"

PY=${TROUPE_PYTHON:-/usr/bin/python3}
export TROUPE_PYTHON=$PY
CHECK=$TOP_SRCDIR/tests/e2e/template-check.py
WS=$XDG_DATA_HOME/troupe/workspaces
# A bootstrap takes seconds of CPU; four at once on two loaded cores take a while.
DEADLINE_SEC=180
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE DJANGO_SETTINGS_MODULE COOKIECUTTER_CONFIG

if ! "$PY" -c 'import cookiecutter, fastapi, uvicorn, httpx, pytest, django' 2>"$T/prereq.err"; then
        not_ok "Debian's cookiecutter, FastAPI, uvicorn, httpx, pytest and Django are there for $PY" \
                "$(tail -n 1 "$T/prereq.err"): run dev/setup, which installs them"
        exit 1
fi
ok "Debian's cookiecutter, FastAPI, uvicorn, httpx, pytest and Django are there for $PY"

# The templates of the tree, and "broken": fastapi with a filter Jinja does not know in a file, so that
# its manifest is valid and cookiecutter fails half-way through rendering.
TEMPLATES=$T/templates
mkdir -p "$TEMPLATES" "$T/projects"
cp -r "$TOP_SRCDIR/templates/fastapi" "$TOP_SRCDIR/templates/django" "$TEMPLATES/"
cp -r "$TOP_SRCDIR/templates/fastapi" "$TEMPLATES/broken"
"$PY" - "$TEMPLATES/broken" <<'EOF'
import json, os, sys
top = sys.argv[1]
path = os.path.join(top, "troupe-template.json")
m = json.load(open(path))
m["name"] = "broken"
m["description"] = "fastapi with a template error"
json.dump(m, open(path, "w"), indent=2)
main = os.path.join(top, "{{cookiecutter.project_name}}", "{{cookiecutter.project_name}}", "main.py")
with open(main, "a") as f:
    f.write("# {{ cookiecutter.project_name | no_such_filter }}\n")
EOF
export TROUPE_TEMPLATES_DIR=$TEMPLATES
TROUPE_SANDBOX_READ_ONLY="$TROUPE_SANDBOX_READ_ONLY:$(realpath "$TEMPLATES")"
export TROUPE_SANDBOX_READ_ONLY

# The editor the supervisor runs for exec.editor: records its arguments, one line each.
export TROUPE_EDITOR=$T/editor
cat >"$TROUPE_EDITOR" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >>"$T/editor.args"
EOF
chmod +x "$TROUPE_EDITOR"
editor_ran_on() { grep -qxF "$1" "$T/editor.args" 2>/dev/null; }

# Anything written from now on outside the workspaces root is a leak.
touch "$T/marker"
for p in /tmp/x "$XDG_DATA_HOME/troupe/x"; do
        [ ! -e "$p" ] || { not_ok "$p does not exist before the test"; exit 1; }
done

start_bus
# Requests unanswered for this long are denied; a loaded machine must not run into it.
start_daemon troupe-registryd --consent-timeout 900
start_daemon troupe-supervisord
start_daemon troupe-routerd
wait_until "$CTL" health || { not_ok "the suite answers Health"; exit 1; }

# --- helpers -----------------------------------------------------------------------------------------
not() { ! "$@"; }
final_state() { case "$(task_state "$1")" in completed | failed | canceled | rejected) return 0 ;; esac; return 1; }
# events ID: the task's events as JSON lines in $T/events-ID.json.
events() { "$CTL" logs "$1" --json >"$T/events-$1.json" 2>/dev/null; }
states_of() { events "$1" && "$PYTHON" -c 'import json, sys
print(" ".join(e["state"] for e in map(json.loads, open(sys.argv[1])) if e["type"] == "state"))' "$T/events-$1.json"; }
pending_for() {
        "$CTL" consent list --json >"$T/pending.json" 2>/dev/null &&
                py "' '.join(c['id'] for c in j if c['task'] == '$1')" "$T/pending.json"
}
has_pending_for() { [ -n "$(pending_for "$1")" ]; }
# procs_in DIR: the pids of processes whose current directory is in DIR.
procs_in() {
        local p c
        for p in /proc/[0-9]*; do
                c=$(readlink "$p/cwd" 2>/dev/null) || continue
                case "$c" in "$1" | "$1"/*) printf '%s ' "${p#/proc/}" ;; esac
        done
}
no_procs_in() { [ -z "$(procs_in "$1")" ]; }
# task_processes_running ID: the supervisor runs a process of the task (task-ID-N) right now.
task_processes_running() {
        busctl --address="$TROUPE_BUS_ADDRESS" --json=short call org.troupe.Supervisor1 /org/troupe/Supervisor1 \
                org.troupe.Supervisor1.Manager ListProcesses >"$T/processes.json" &&
                [ "$(py "len([p for p in j['data'][0] if p[1].startswith('task-$1-') and p[3] in ('starting', 'running')])" \
                        "$T/processes.json")" -gt 0 ]
}
# leaks: files written since the start outside the workspaces root (and the test's own files).
leaks() {
        find "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" -newer "$T/marker" ! -path "$WS" ! -path "$WS/*" \
                ! -path "$XDG_DATA_HOME" ! -path "$XDG_DATA_HOME/troupe" ! -path "$HOME" ! -path "$XDG_CONFIG_HOME" \
                2>/dev/null
        [ ! -e /tmp/x ] || echo /tmp/x
        find /tmp -maxdepth 2 \( -name '*cancel_render*' -o -name '*cancel_check*' -o -name '*brokenproj*' \) \
                -newer "$T/marker" 2>/dev/null
}
no_leaks() { [ -z "$(leaks)" ]; }
# files_ok STACK DIR KEY=VALUE...: exactly the manifest's files (template-check.py, the reference).
files_ok() { "$PY" "$CHECK" files "$TEMPLATES/$1" "${@:2}"; }

# --- A: fastapi through troupectl bootstrap --wait --open, live log, consent allowed once ------------
"$CTL" bootstrap fastapi billing --wait --open >"$T/a.out" 2>"$T/a.err" &
a_pid=$!
_pids+=("$a_pid")
wait_until grep -q '^Task [0-9a-f]*: ' "$T/a.out"
a=$(sed -n 's/^Task \([0-9a-f]*\): fastapi project billing$/\1/p' "$T/a.out")
check "bootstrap --wait names its task first" test -n "$a"
diag "A: task $a is $(task_state "$a") $SECONDS s in"
wait_until grep -qE '^[0-9:.]+  log ' "$T/a.out"
diag "A: first log line $SECONDS s in: $(grep -m1 -E '^[0-9:.]+  log ' "$T/a.out" | cut -c1-60)"
if final_state "$a"; then
        not_ok "the log arrives live: a log line is printed while the task runs" "the task was $(task_state "$a") already"
else
        ok "the log arrives live: a log line is printed while the task runs ($(task_state "$a"))"
fi
check "--open: the consent request for the editor is announced" \
        wait_until grep -q "waiting for consent: troupectl consent allow [0-9a-f]* (or deny " "$T/a.err"
a_consent=$(sed -n 's/^waiting for consent: troupectl consent allow \([0-9a-f]*\) .*/\1/p' "$T/a.err" | head -n 1)
check_eq "it is the pending request of the task" "$a_consent" "$(pending_for "$a")"
ctl consent allow "$a_consent"
wait "$a_pid"
check_eq "fastapi: bootstrap --wait --open exits 0" 0 "$?"
A=$WS/billing/billing
check "fastapi: the summary names the project folder" grep -qF "Project billing (fastapi) is ready in $A" "$T/a.out"
check "fastapi: the summary shows both checks passed" \
        bash -c 'grep -qE "^  test +passed " "$1" && grep -qE "^  serve +passed " "$1"' _ "$T/a.out"
check "fastapi: the summary says how to run it" \
        grep -qxF "Run it: cd $A && python -m uvicorn billing.main:app --reload" "$T/a.out"
check "fastapi: the log showed the render, the tests and the probe" \
        bash -c 'grep -q "rendering fastapi with cookiecutter" "$1" && grep -q "passed" "$1" && grep -q "GET /health: 200" "$1"' _ "$T/a.out"
check "allowed once: the editor ran on the project folder" editor_ran_on "$A"
check_eq "TaskAccepted: the valid task went through accepted" "submitted accepted working completed" "$(states_of "$a")"
ctl task show "$a" --json
check_json \
        "fastapi: the result names stack, project and path" \
        "j['result']['stack'] == 'fastapi' and j['result']['project_name'] == 'billing' and j['result']['path'] == '$A'" \
        "fastapi: the result's checks: test and serve passed, with output" \
        "[(c['name'], c['ok']) for c in j['result']['checks']] == [('test', True), ('serve', True)] and all(isinstance(c['output_tail'], str) and c['duration_ms'] >= 0 for c in j['result']['checks'])" \
        "fastapi: the result lists the files" "'billing/main.py' in j['result']['files'] and 'tests/test_health.py' in j['result']['files']" \
        "fastapi: the result has every option's value" "j['result']['options']['license'] == 'MIT' and j['result']['options']['python_version'] == '3.11'" \
        "fastapi: the editor's outcome is in the result" "j['result']['open']['status'] == 'done'"
check "fastapi: the project holds exactly the manifest's files" files_ok fastapi "$A" project_name=billing
# .troupe holds the sandbox's HOME and TMPDIR (the supervisor's).
check_eq "fastapi: the workspace holds only the project (and the sandbox's .troupe)" ".troupe billing" \
        "$(ls -A "$WS/billing" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "fastapi: its tests pass again, outside troupe" "$PY" "$CHECK" test "$TEMPLATES/fastapi" "$A" project_name=billing
out=$(SERVE_LOG="$T/a-serve.log" "$PY" "$CHECK" serve "$TEMPLATES/fastapi" "$A" project_name=billing 2>&1)
check "fastapi: its server answers /health here too" grep -q '^health: ok' <<<"$out"

# --- B: django through troupectl bootstrap --wait --json --open, consent denied ------------------------
"$CTL" bootstrap django shop --set app_name=store --set dockerfile=no --wait --json --open >"$T/b.out" 2>"$T/b.err" &
b_pid=$!
_pids+=("$b_pid")
check "django: the consent request is announced" \
        wait_until grep -q "waiting for consent: troupectl consent allow [0-9a-f]* (or deny " "$T/b.err"
b_consent=$(sed -n 's/^waiting for consent: troupectl consent allow \([0-9a-f]*\) .*/\1/p' "$T/b.err" | head -n 1)
ctl consent deny "$b_consent"
wait "$b_pid"
check_eq "django: bootstrap --wait --json exits 0: the project is made, opening it was denied" 0 "$?"
B=$WS/shop/shop
cp "$T/b.out" "$T/out"
check_json \
        "django: --json prints the task, completed" "j['state'] == 'completed' and j['agent'] == 'bootstrap'" \
        "django: the result's path and checks" \
        "j['result']['path'] == '$B' and [(c['name'], c['ok']) for c in j['result']['checks']] == [('test', True), ('serve', True)]" \
        "django: the run command" "j['result']['run'] == 'cd $B && python manage.py runserver'" \
        "django: the options given and the defaults" "j['result']['options']['app_name'] == 'store' and j['result']['options']['dockerfile'] == 'no' and j['result']['options']['license'] == 'MIT'" \
        "denied: the result says so" "j['result']['open']['status'] == 'denied'"
check "django: --json sent the events to stderr" grep -qE '  state +completed' "$T/b.err"
check "denied: the editor did not run on shop" not editor_ran_on "$B"
check "django: the project holds exactly the manifest's files" \
        files_ok django "$B" project_name=shop app_name=store dockerfile=no
check "django: its tests pass again, outside troupe" \
        "$PY" "$CHECK" test "$TEMPLATES/django" "$B" project_name=shop app_name=store

# --- troupectl open: deny, then allow always; then the router's bootstrap opens without asking -----------
"$CTL" open billing >"$T/open.out" 2>"$T/open.err" &
o_pid=$!
_pids+=("$o_pid")
check "open: the consent request is announced" wait_until grep -q "waiting for consent: troupectl consent allow" "$T/open.err"
ctl consent deny "$(pending_for "$a")"
wait "$o_pid"
check_eq "open: denied exits 1" 1 "$?"
check "open: denied says so" grep -q "denied" "$T/open.err"
rm -f "$T/editor.args"
"$CTL" open billing >"$T/open.out" 2>"$T/open.err" &
o_pid=$!
_pids+=("$o_pid")
wait_until has_pending_for "$a"
ctl consent allow "$(pending_for "$a")" --always
wait "$o_pid"
check_eq "open: allowed always exits 0" 0 "$?"
check "open: the editor ran on the project folder" editor_ran_on "$A"

ctl run bootstrap --prompt "bootstrap a fastapi service called ledger" --param stack=fastapi \
        --param project_name=ledger --param open:=true --param options:='{"license": "Apache-2.0"}' --wait --json
check_eq "router: troupectl run bootstrap --prompt ... --wait exits 0" 0 "$RC"
C=$WS/ledger/ledger
check_json \
        "router: the explicit params were used" "j['result']['project_name'] == 'ledger' and j['result']['options']['license'] == 'Apache-2.0'" \
        "router: both checks passed" "all(c['ok'] for c in j['result']['checks'])" \
        "allowed always: opened without asking" "j['result']['open']['status'] == 'done'"
check "allowed always: the editor ran on ledger" editor_ran_on "$C"
check "router: ledger holds exactly the manifest's files" files_ok fastapi "$C" project_name=ledger license=Apache-2.0

# --- four at once, isolated ----------------------------------------------------------------------------------
"$CTL" bootstrap fastapi alpha --wait >"$T/p1.out" 2>&1 &
p1=$!
"$CTL" bootstrap django beta --set app_name=web --wait >"$T/p2.out" 2>&1 &
p2=$!
"$CTL" bootstrap fastapi gamma --set dockerfile=no --set python_version=3.12 --wait >"$T/p3.out" 2>&1 &
p3=$!
_pids+=("$p1" "$p2" "$p3")
# The fourth through the router from the prompt alone, without params: the router picks the agent,
# the registry reads the stack and the name from the prompt.
out=$(tbusctl call org.troupe.Router1 /org/troupe/Router1 org.troupe.Router1 Submit 'ssa{sv}' "" \
        "scaffold a new Django site named delta." 0 2>&1)
d=$(printf '%s' "$out" | cut -d' ' -f2 | tr -d '"')
check "router: Submit with no target routes the prompt to the bootstrap agent" test -n "$d"
rc1=0 rc2=0 rc3=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
wait "$p3" || rc3=$?
check_eq "at once: alpha, beta and gamma complete (exit 0)" "0 0 0" "$rc1 $rc2 $rc3"
check "at once: delta, routed by its prompt, completes" wait_until state_is "$d" completed
ctl task show "$d" --json
check_json "router by prompt: the bootstrap agent made django's delta" \
        "j['agent'] == 'bootstrap' and j['result']['stack'] == 'django' and j['result']['project_name'] == 'delta'"
D=$WS/delta/delta
check "at once: alpha holds exactly its own files" files_ok fastapi "$WS/alpha/alpha" project_name=alpha
check "at once: beta holds exactly its own files" files_ok django "$WS/beta/beta" project_name=beta app_name=web
check "at once: gamma holds exactly its own files" \
        files_ok fastapi "$WS/gamma/gamma" project_name=gamma dockerfile=no python_version=3.12
check "at once: delta holds exactly its own files" files_ok django "$D" project_name=delta
check "at once: each workspace holds only its project (and .troupe)" bash -c '
        for n in alpha beta gamma delta; do [ "$(ls -A "$1/$n" | LC_ALL=C sort | tr "\n" " ")" = ".troupe $n " ] || exit 1; done' _ "$WS"
check "at once: each project names itself only" bash -c '
        ! grep -rqE "beta|gamma|delta" "$1/alpha/alpha" && ! grep -rqE "alpha|gamma|delta" "$1/beta/beta" &&
        ! grep -rqE "alpha|beta|delta" "$1/gamma/gamma" && ! grep -rqE "alpha|beta|gamma" "$1/delta/delta"' _ "$WS"

# --- cancel in the middle of rendering, and of the tests --------------------------------------------------
# cancel_at NAME WHAT PATTERN: starts a bootstrap of NAME, follows its events until PATTERN shows the
# step WHAT running (and the supervisor runs its process), cancels it and checks the aftermath.
cancel_at() {
        local name=$1 what=$2 pattern=$3 id start elapsed
        ctl bootstrap fastapi "$name"
        id=$OUT
        "$CTL" logs -f "$id" --json >"$T/follow-$id.json" 2>&1 &
        _pids+=($!)
        if ! wait_until grep -qF -- "$pattern" "$T/follow-$id.json" || ! wait_until task_processes_running "$id"; then
                not_ok "cancel in the middle of $what: the step started" "$(tail -n 3 "$T/follow-$id.json")"
                return
        fi
        check "cancel in the middle of $what: the task is still working" state_is "$id" working
        start=$EPOCHREALTIME
        ctl cancel "$id"
        DEADLINE_SEC=5 wait_until state_is "$id" canceled
        elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
        if state_is "$id" canceled; then
                ok "cancel in the middle of $what: canceled within 5 s ($elapsed s)"
        else
                not_ok "cancel in the middle of $what: canceled within 5 s" "it is $(task_state "$id") after $elapsed s"
        fi
        DEADLINE_SEC=5 check "cancel in the middle of $what: no process of the task is left" \
                wait_until not task_processes_running "$id"
        check "cancel in the middle of $what: no process is left in its workspace" wait_until no_procs_in "$WS/$name"
        check "cancel in the middle of $what: the workspace is removed" wait_until test ! -e "$WS/$name"
        check "cancel in the middle of $what: nothing was written outside the workspaces root" no_leaks
}
cancel_at cancel_render "rendering" '"text":"rendering fastapi with cookiecutter"'
cancel_at cancel_check "the tests" '"message":"test"'

# --- refusals ---------------------------------------------------------------------------------------------
# Through the router without a workspace: the workspace would be named after project_name, which the
# registry refuses before anything is made.
long=$(printf 'a%.0s' $(seq 300))
for name in ../x /tmp/x a/b .x "$long"; do
        ctl run bootstrap --param stack=fastapi --param "project_name=$name"
        check_eq "a hostile name (${name:0:12}) as the workspace: refused, exit 1" 1 "$RC"
        check "a hostile name (${name:0:12}) as the workspace: the error says what is allowed" \
                grep -qE "workspace name|project_name: must be at most 64" "$T/err"
done
# With a workspace of their own, the agent sees them and says no (TaskAccepted.accepted = false).
# reject_case LABEL PARAMS_JSON PATTERN: the task ends rejected with an error matching PATTERN.
n=0
reject_case() {
        local label=$1 params=$2 pattern=$3 out id
        n=$((n + 1))
        out=$(tbusctl call org.troupe.Router1 /org/troupe/Router1 org.troupe.Router1 Submit 'ssa{sv}' bootstrap "" 2 \
                params s "$params" workspace s "hostile$n" 2>&1)
        id=$(printf '%s' "$out" | cut -d' ' -f2 | tr -d '"')
        if [ -z "$id" ] || ! wait_until final_state "$id"; then
                not_ok "$label: rejected by the agent" "$out"
                return
        fi
        check_eq "$label: rejected by the agent (TaskAccepted.accepted = false)" "submitted rejected" "$(states_of "$id")"
        ctl task show "$id" --json
        check "$label: the error says what is allowed" py_true "re.search(r'''$pattern''', j['error'] or '') is not None"
        check "$label: the workspace is removed" wait_until test ! -e "$WS/hostile$n"
}
py_true() { [ "$("$PYTHON" -c 'import json, re, sys; j = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$T/out")" = True ]; }
for name in ../x /tmp/x a/b .x; do
        reject_case "a hostile name (${name:0:12})" "{\"stack\":\"fastapi\",\"project_name\":\"$name\"}" "lowercase ASCII letters"
done
reject_case "an unknown stack" '{"stack":"rails","project_name":"app"}' 'unknown stack .rails.: the stacks are broken, django, fastapi'
out=$(tbusctl call org.troupe.Router1 /org/troupe/Router1 org.troupe.Router1 Submit 'ssa{sv}' bootstrap "" 2 \
        params s "{\"stack\":\"fastapi\",\"project_name\":\"$long\"}" workspace s hostile_long 2>&1)
check "a name of 300 characters: refused before any task (InvalidArgs naming project_name)" \
        grep -q "InvalidArgs\|project_name: must be at most 64" <<<"$out"
check "a name of 300 characters: no workspace made" test ! -e "$WS/hostile_long"
reject_case "an unknown option" '{"stack":"fastapi","project_name":"app","options":{"colour":"blue"}}' "colour.*python_version"
reject_case "a bad option value" '{"stack":"django","project_name":"app","options":{"license":"GPL"}}' "MIT, Apache-2.0"
check "refusals: nothing appeared at /tmp/x or beside the workspaces" \
        bash -c '[ ! -e /tmp/x ] && [ ! -e "$1/x" ] && [ ! -e "$1/../x" ] && [ ! -e "$1/a" ]' _ "$WS"

ctl bootstrap broken brokenproj --wait
check_eq "a template that fails to render: exit 3" 3 "$RC"
check "a template that fails to render: the error says cookiecutter failed" grep -q "failed: render failed: cookiecutter failed" "$T/err"
check "a template that fails to render: the live log shows why" grep -q "No filter named 'no_such_filter'" "$T/out"
check "a template that fails to render: the workspace is removed" wait_until test ! -e "$WS/brokenproj"

ctl bootstrap fastapi billing
check_eq "an existing workspace: exit 1" 1 "$RC"
check "an existing workspace: --force moves it aside" grep -qF "Workspace 'billing' exists; --force moves it aside." "$T/err"

check "nothing was written outside the workspaces root, by any bootstrap" no_leaks
check_eq "the workspaces root holds the projects made, and nothing else" \
        "alpha beta billing delta gamma ledger shop " \
        "$(ls -A "$WS" | LC_ALL=C sort | tr '\n' ' ')"
