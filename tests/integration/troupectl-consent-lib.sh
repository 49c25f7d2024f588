# Sourced by the troupectl consent and audit tests after lib.sh, test-registry-common.sh and
# troupectl-lib.sh: an agent (agent-probe, "asker") whose card makes exec.editor requestable, and
# raise(), which gives it a task that asks for exec.editor and so raises a consent request.
# shellcheck shell=bash

# The editor an allowed exec.editor runs; the supervisor starts it outside any sandbox.
export TROUPE_EDITOR=/bin/true

# The card, where the registry looks for cards ($XDG_CONFIG_HOME/troupe/agents).
ASKER_CARD="$XDG_CONFIG_HOME/troupe/agents/asker.json"
mkdir -p "$XDG_CONFIG_HOME/troupe/agents"
cat >"$ASKER_CARD" <<'CARD'
{
  "name": "asker",
  "description": "Asks for the editor in every task",
  "version": "1.0.0",
  "skills": [{ "id": "ask", "name": "Ask", "description": "Asks for exec.editor" }],
  "permissions": { "requestable": ["exec.editor"] }
}
CARD

# start_asker: the agent, registered and healthy; it holds its tasks open, so that their requests
# are not withdrawn by the task ending.
start_asker() {
        start_probe asker register asker --card "$ASKER_CARD" --forever --hold-tasks
        wait_until agent_state_is asker healthy
}

# raise: a task of asker that asks for exec.editor. Sets TASK, and CONSENT to the id of the
# consent request raised, or to "" when the registry answered without asking (a stored grant).
# shellcheck disable=SC2034 # TASK and CONSENT are read by the tests
raise() {
        local line
        TASK=$(create_task asker --params '{"action": "exec.editor"}')
        CONSENT=
        [ -n "$TASK" ] || return 1
        wait_until probe_said asker "^action-result act-$TASK " || return 1
        line=$(grep -E "^action-result act-$TASK " "$T/asker.log" | head -n 1)
        case "$line" in
        *" consent-pending "*) CONSENT=$(printf '%s\n' "$line" | cut -d' ' -f4) ;;
        esac
        return 0
}

# final_result TASK: the status of the agent's final ActionResult (done, denied, failed), once the
# request was answered; empty before.
final_result() {
        grep -E "^action-result act-$1 " "$T/asker.log" | grep -v " consent-pending " | head -n 1 | cut -d' ' -f3
}
has_final_result() { [ -n "$(final_result "$1")" ]; }
