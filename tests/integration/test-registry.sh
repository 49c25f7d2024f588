#!/usr/bin/env bash
# troupe-registryd: the v1 bus surface, registration and heartbeats, refusals, replacement,
# LogControl1, and the consent/audit surface that issue 4 fills in.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"

REGD="$TOP_BUILDDIR/troupe-registryd"

check "--help exits 0" "$REGD" --help
check "--version names the package" sh -c "'$REGD' --version | grep -q '^troupe '"
check "an unknown option is refused" sh -c "! '$REGD' --no-such-option 2>/dev/null"
check "a bad heartbeat interval is refused" sh -c "! '$REGD' --heartbeat-interval-ms=abc 2>/dev/null"

start_bus
write_card alpha
write_card beta
start_registry --heartbeat-interval-ms=200

check_eq "Health() is ok" 's "ok"' "$(mgr Health)"
check "Describe() returns JSON with the store path" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR Describe | grep -q 'registry.db'"

# Every method, property and signal of DESIGN.md section 2 for the registry, with its signature.
intro=$(tbusctl introspect $REG $REG_PATH $MGR)
for m in "Health - s" "ListAgents - a(sso)" "ListTasks a{sv} a(ssso)" "CreateTask sa{sv} so" "CancelTask s -" \
        "ListConsents - a(ssso)" "AnswerConsent ss -" "GetAudit tu s" "VerifyAudit - bts" "Describe - s"; do
        set -- $m
        check "Manager has method $1($2) -> $3" introspect_has "$intro" "$1" method "$2" "$3"
done
for s in "TaskStateChanged ss" "ConsentRequested so" "AgentStateChanged ss"; do
        set -- $s
        check "Manager has signal $1($2)" introspect_has "$intro" "$1" signal "$2"
done
check "the Manager object carries an ObjectManager" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' introspect $REG $REG_PATH | grep -q '^org.freedesktop.DBus.ObjectManager'"
check "LogControl1 is served" sh -c \
        "busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel | grep -q debug"
check "LogLevel can be changed" tbusctl set-property $REG /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel s info
check_eq "LogLevel reads back" '"info"' \
        "$(tbusctl get-property $REG /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel | cut -d' ' -f2)"
tbusctl set-property $REG /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel s debug

# Consent and audit: present, empty until issue 4.
check_eq "ListConsents() is empty" "a(ssso) 0" "$(mgr ListConsents)"
check_eq "GetAudit() is an empty array" 's "[]"' "$(mgr GetAudit tu 0 100)"
check_eq "VerifyAudit() verifies the empty chain" "bts true 0 \"$(printf '0%.0s' $(seq 64))\"" "$(mgr VerifyAudit)"
check "AnswerConsent() refuses a bad decision" sh -c "'$PROBE' manager AnswerConsent x maybe | grep -q 'org.troupe.Error.InvalidArgs'"
check "AnswerConsent() knows no consent request" sh -c "'$PROBE' manager AnswerConsent x deny | grep -q 'org.troupe.Error.NoSuchConsent'"

# Register and heartbeat.
start_probe alpha register alpha --card "$T/cards/alpha.json" --version 2.5 --forever --send-exec
alpha_pid=$PROBE_PID
check "the probe is told the heartbeat interval" wait_until probe_said alpha "^registered interval_ms=200$"
check "the agent becomes healthy" wait_until agent_state_is alpha healthy
check_eq "Pid is the peer's pid (SO_PEERCRED)" "$alpha_pid" "$(agent_prop alpha Pid)"
check_eq "Version is the registered one" '"2.5"' "$(agent_prop alpha Version)"
check_eq "Skills are the card's" '2 "alpha-skill" "alpha-extra"' "$(agent_prop alpha Skills)"
check_eq "Name is const" '"alpha"' "$(agent_prop alpha Name)"
check_eq "CurrentTasks is empty" "0" "$(agent_prop alpha CurrentTasks)"
hb1=$(agent_prop alpha LastHeartbeatUSec)
sleep 0.5
hb2=$(agent_prop alpha LastHeartbeatUSec)
check "LastHeartbeatUSec moves forward" test "$hb2" -gt "$hb1"
check "ListAgents() lists it" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR ListAgents | grep -q '\"alpha\" \"healthy\" \"/org/troupe/Registry1/agent/alpha\"'"
aintro=$(tbusctl introspect $REG $REG_PATH/agent/alpha org.troupe.Registry1.Agent)
for p in "Name s const" "State s emits-change" "Pid u emits-change" "Version s emits-change" \
        "Skills as emits-change" "LastHeartbeatUSec t" "CurrentTasks as emits-change"; do
        set -- $p
        check "Agent has property $1 ($2${3:+, $3})" introspect_has "$aintro" "$1" property "$2" "" "${3:-}"
done
check "GetManagedObjects has the agent" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH org.freedesktop.DBus.ObjectManager GetManagedObjects | grep -q '/org/troupe/Registry1/agent/alpha'"
check "an ExecRequest without a token is refused in its ExecResult" \
        wait_until probe_said alpha "^exec-result x1 none .* error=refused: the request carries no capability token$"
check "the agent stays connected after the refusal" agent_state_is alpha healthy

# An agent that inherited a connection its parent opened (as the supervisor starts agents): Pid
# is the agent's own, checked in /proc to be a child of the peer.
write_card child
start_probe child register child --card "$T/cards/child.json" --forever --fork-fd
check "the forked agent registers" wait_until probe_said child "^registered"
child_pid=$(sed -n 's/^pid \([0-9]*\)$/\1/p' "$T/child.log")
check "Pid is the child's, not the connecting parent's" wait_until sh -c \
        "[ \"\$(busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/agent/child org.troupe.Registry1.Agent Pid)\" = 'u $child_pid' ]"
check "...and the parent's differs" test "$child_pid" != "$PROBE_PID"
kill_wait TERM "$PROBE_PID"

# Refused registrations say why and hang up.
start_probe mismatch register beta --card "$T/cards/alpha.json" --forever
check "a name that differs from the card's is refused" wait_until probe_said mismatch "^refused name: differs"
check "...and the connection is closed" wait_until probe_said mismatch "^disconnected"
printf '{"name": "bad"' >"$T/cards/broken.json"
start_probe broken register bad --card "$T/cards/broken.json" --forever
check "a card that is not JSON is refused" wait_until probe_said broken "^refused card_json: "
check "no agent object for a refused registration" sh -c "! busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/agent/bad org.troupe.Registry1.Agent State 2>/dev/null"

# A second registration of the same name takes over.
start_probe alpha2 register alpha --card "$T/cards/alpha.json" --version 2.6 --forever
alpha2_pid=$PROBE_PID
check "the new registration is accepted" wait_until probe_said alpha2 "^registered"
check "the old connection is closed" wait_until probe_said alpha "^disconnected"
check "Pid is the new agent's" wait_until sh -c "[ \"\$(busctl --address='$DBUS_SESSION_BUS_ADDRESS' get-property $REG $REG_PATH/agent/alpha org.troupe.Registry1.Agent Pid)\" = 'u $alpha2_pid' ]"
check "the agent is healthy again" wait_until agent_state_is alpha healthy
check_eq "Version is the new one" '"2.6"' "$(agent_prop alpha Version)"

# A deliberate stop: the last heartbeat says so, and the agent ends stopped, not lost.
kill -TERM "$alpha2_pid"
check "an agent that stops on purpose is stopped" wait_until agent_state_is alpha stopped
start_probe beta register beta --card "$T/cards/beta.json" --heartbeats 3
check "an agent that just hangs up is lost" wait_until agent_state_is beta lost

check_eq "Health() is still ok" 's "ok"' "$(mgr Health)"
# Health() looks at the store: with the journal file gone it says why, and recovers with it.
db="$XDG_STATE_HOME/troupe/registry.db"
mv "$db" "$db.moved"
check "Health() reports a store that is gone" sh -c "busctl --address='$DBUS_SESSION_BUS_ADDRESS' call $REG $REG_PATH $MGR Health | grep -q '^s \"store: '"
mv "$db.moved" "$db"
check_eq "Health() is ok once it is back" 's "ok"' "$(mgr Health)"
kill -TERM "$REG_PID"
wait "$REG_PID"
check_eq "SIGTERM makes the registry exit 0" 0 $?
check "the agent socket is removed on exit" test ! -e "$TROUPE_AGENT_SOCKET"
