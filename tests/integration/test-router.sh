#!/usr/bin/env bash
# troupe-routerd with the real registry, supervisor and echo agent: cards, Route() ranking, Submit()
# by agent name, by skill id and by prompt, clear errors, and reloading cards on SIGHUP.
# shellcheck shell=bash
source "$TOP_SRCDIR/tests/integration/lib.sh"

ROUTER=org.troupe.Router1
ROUTER_PATH=/org/troupe/Router1
REG=org.troupe.Registry1

router() {
        tbusctl call $ROUTER $ROUTER_PATH $ROUTER "$@"
}

# submit TARGET PROMPT [KEY TYPE VALUE]...: Submit(); sets TASK_ID and TASK_PATH, or ERR.
submit() {
        local target=$1 prompt=$2 out
        shift 2
        TASK_ID= TASK_PATH= ERR=
        if out=$(router Submit 'ssa{sv}' "$target" "$prompt" $(($# / 3)) "$@" 2>&1); then
                # so "ID" "PATH"
                TASK_ID=$(printf '%s' "$out" | cut -d' ' -f2 | tr -d '"')
                TASK_PATH=$(printf '%s' "$out" | cut -d' ' -f3 | tr -d '"')
                return 0
        fi
        ERR=$out
        return 1
}

task_prop() {
        tbusctl get-property $REG "$1" org.troupe.Registry1.Task "$2" 2>/dev/null | cut -d' ' -f2-
}

task_state_is() {
        [ "$(task_prop "$1" State)" = "\"$2\"" ]
}

# A card directory of our own before the source tree's: a second agent with no executable, and a
# broken card that must be skipped without stopping the others.
mkdir -p "$T/cards/reviewer"
cat >"$T/cards/reviewer/reviewer.json" <<'EOF'
{
  "name": "reviewer",
  "description": "Reads a repository and comments on its code",
  "version": "1.0.0",
  "skills": [
    { "id": "code-review", "name": "Review code", "description": "Comments on a repository's code",
      "tags": ["review", "lint"], "examples": ["review this repo", "look over my pull request"] }
  ],
  "exec": { "path": "troupe-agent-reviewer-not-installed" }
}
EOF
echo '{"name": "broken"' >"$T/cards/broken.json"
export TROUPE_AGENT_CARDS_DIR="$T/cards:$TOP_SRCDIR/agents"
# 200 ms like the registry tests: short enough to be quick, long enough that a loaded CI
# machine does not starve an agent past 3 intervals (unresponsive) by accident.
export TROUPE_HEARTBEAT_INTERVAL_MS=200

check "troupe-routerd --help" "$TOP_BUILDDIR/troupe-routerd" --help
check "troupe-routerd --version" "$TOP_BUILDDIR/troupe-routerd" --version
if "$TOP_BUILDDIR/troupe-routerd" --no-such-option >/dev/null 2>&1; then
        not_ok "troupe-routerd refuses an unknown option"
else
        ok "troupe-routerd refuses an unknown option"
fi

start_bus
start_daemon troupe-registryd
start_daemon troupe-supervisord
start_daemon troupe-routerd
ROUTER_PID=$LAST_PID
for name in $REG org.troupe.Supervisor1 $ROUTER; do
        wait_until bus_has_name $name || { not_ok "$name on the bus"; exit 1; }
done
ok "registry, supervisor and router on the bus"

intro=$(tbusctl introspect $ROUTER $ROUTER_PATH 2>&1)
for member in .Submit .Route .ListCards .Describe .Reload .Cards .CardDirectories; do
        if printf '%s\n' "$intro" | grep -q -- "^$member "; then ok "introspect shows $member"; else not_ok "introspect shows $member"; fi
done
check "LogControl1 is served" tbusctl get-property $ROUTER /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel

cards=$(router ListCards)
check_eq "ListCards: bootstrap and echo from the source tree and reviewer from the nested layout, not the broken card" \
        "a(sss) 3 \"bootstrap\" \"0.1.0\" \"$TOP_SRCDIR/agents/bootstrap/bootstrap.json\" \"echo\" \"0.1.0\" \"$TOP_SRCDIR/agents/echo/echo.json\" \"reviewer\" \"1.0.0\" \"$T/cards/reviewer/reviewer.json\"" \
        "$cards"
check "the broken card was reported" grep -q "Ignoring agent card $T/cards/broken.json" "$T/troupe-routerd.log"

# Route(): ranks without running anything.
route=$(router Route s "please review this repo")
case $route in
'a(sd) 1 "reviewer" '* | 'a(sd) 2 "reviewer" '*) ok "Route ranks reviewer first for a review prompt" ;;
*) not_ok "Route ranks reviewer first for a review prompt" "got: $route" ;;
esac
route=$(router Route s "echo hello world")
case $route in
'a(sd) '[12]' "echo" '*) ok "Route ranks echo first for an echo prompt" ;;
*) not_ok "Route ranks echo first for an echo prompt" "got: $route" ;;
esac
check_eq "Route returns nothing for unrelated words" "a(sd) 0" "$(router Route s "xyzzy plugh")"
desc=$(router Describe)
check "Describe names the card directories" grep -q -F "$T/cards" <<<"$desc"
check "nothing was started by Route" grep -q '\\"agents_started\\":0' <<<"$desc"

# Submit by agent name: the router starts echo, which answers with its params.
if submit echo "" params s '{"msg":"hi","delay_ms":"50"}'; then ok "Submit echo by name"; else not_ok "Submit echo by name" "$ERR"; fi
check "the task completes" wait_until task_state_is "$TASK_PATH" completed
check_eq "the result is the params" '"{\"msg\":\"hi\",\"delay_ms\":\"50\"}"' "$(task_prop "$TASK_PATH" Result)"
check_eq "the task went to echo" '"echo"' "$(task_prop "$TASK_PATH" Agent)"

# By skill id, and by prompt alone.
if submit wait "" params s '{"n":2}'; then ok "Submit by skill id"; else not_ok "Submit by skill id" "$ERR"; fi
check_eq "the skill's agent got it" '"echo"' "$(task_prop "$TASK_PATH" Agent)"
check "that task completes" wait_until task_state_is "$TASK_PATH" completed
if submit "" "echo this back to me" params s '{"n":3}'; then ok "Submit by prompt"; else not_ok "Submit by prompt" "$ERR"; fi
check_eq "the prompt was routed to echo" '"echo"' "$(task_prop "$TASK_PATH" Agent)"
check "that task completes" wait_until task_state_is "$TASK_PATH" completed

# The agent refuses bad params: the task is rejected, not failed.
if submit echo "" params s '{"delay_ms":-5}'; then ok "Submit with a bad delay_ms"; else not_ok "Submit with a bad delay_ms" "$ERR"; fi
check "echo rejects a negative delay_ms" wait_until task_state_is "$TASK_PATH" rejected

# Clear errors.
submit nosuchagent "" || true
case $ERR in
*org.troupe.Error.NoSuchAgent*"troupectl agents"* | *"No agent or skill is called 'nosuchagent'"*) ok "an unknown target is NoSuchAgent" ;;
*) not_ok "an unknown target is NoSuchAgent" "got: $ERR" ;;
esac
submit "" "xyzzy plugh" || true
case $ERR in
*"No agent matches"*) ok "a prompt nothing matches is refused" ;;
*) not_ok "a prompt nothing matches is refused" "got: $ERR" ;;
esac
submit "" "" || true
case $ERR in
*"Give a target"*) ok "no target and no prompt is refused" ;;
*) not_ok "no target and no prompt is refused" "got: $ERR" ;;
esac
submit echo "hello" prompt s "x" || true
case $ERR in
*"second argument"*) ok "a prompt key in params is refused" ;;
*) not_ok "a prompt key in params is refused" "got: $ERR" ;;
esac
submit reviewer "" || true
case $ERR in
*"not installed"*troupe-agent-reviewer-not-installed*) ok "an agent without an executable is refused clearly" ;;
*) not_ok "an agent without an executable is refused clearly" "got: $ERR" ;;
esac
submit "../etc" "" || true
case $ERR in
*"not a valid agent name"*) ok "an invalid target is refused" ;;
*) not_ok "an invalid target is refused" "got: $ERR" ;;
esac
check "the router is still serving" router ListCards

# SIGHUP reads the cards again.
sed -e 's/"reviewer"/"linter"/' -e 's/code-review/lint-code/' "$T/cards/reviewer/reviewer.json" >"$T/cards/linter.json"
kill -HUP "$ROUTER_PID"
cards_include_linter() {
        router ListCards | grep -q '"linter"'
}
check "SIGHUP loads a new card" wait_until cards_include_linter
check_eq "the router counts four cards" "u 4" "$(tbusctl get-property $ROUTER $ROUTER_PATH $ROUTER Cards)"
rm -f "$T/cards/linter.json"
check_eq "Reload() drops it again" "u 3" "$(router Reload)"
check "the router is alive after all of it" kill -0 "$ROUTER_PID"
