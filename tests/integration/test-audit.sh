#!/usr/bin/env bash
# The audit log end to end, with the real registry and supervisor: rows for task creation and cancel
# and for spawns (GetAudit, GetTaskAudit), written before the reply; VerifyAudit/VerifyAuditDetailed on
# an intact log and on logs tampered with (sqlite3, registry stopped) each way: a modified, a deleted,
# a reordered row, a truncated tail; RecordAudit refused to anyone but the supervisor.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

PYTHON=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 is needed to read the JSON rows"
command -v sqlite3 >/dev/null 2>&1 || skip_all "the sqlite3 command is needed to tamper with the log"

STATE="$XDG_STATE_HOME/troupe"
ZEROS=$(printf '0%.0s' $(seq 64))

# rows [TASK]: GetAudit(0, 0), or GetTaskAudit(TASK, 0, 0), as a JSON array in $T/rows.
rows() {
        if [ $# -gt 0 ]; then
                tbusctl --json=short call $REG $REG_PATH $MGR GetTaskAudit stu "$1" 0 0
        else
                tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 0
        fi | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"][0])' >"$T/rows"
}

# rows_are EXPR: a Python expression over `r`, the rows in $T/rows, is true.
rows_are() {
        "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
                "$T/rows" "$1"
}

# rows_print EXPR: prints a Python expression over the rows in $T/rows.
rows_print() {
        "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/rows" "$1"
}

# rows_have EXPR: after reading the rows again, EXPR holds (for rows written after the fact).
rows_have() {
        rows && rows_are "$1"
}

# verify: VerifyAuditDetailed() as "OK ROWS HEAD BAD_SEQ DAMAGE".
verify() {
        mgr VerifyAuditDetailed | sed -e 's/^btsts //' -e 's/"//g'
}

reg_describe() {
        mgr Describe | sed -e 's/^s "//' -e 's/"$//' -e 's/\\"/"/g'
}

record_audit() {
        tbusctl call $REG $REG_PATH $MGR RecordAudit ssss spawn "" "" '{}' 2>&1
}

stop_registry() {
        kill_wait TERM "$REG_PID"
}

mkdir -p "$XDG_CONFIG_HOME/troupe/agents" "$T/cards"
cat >"$XDG_CONFIG_HOME/troupe/agents/auditee.json" <<EOF
{
  "name": "auditee",
  "description": "The audit test's agent, with capabilities its tokens carry",
  "version": "1.0.0",
  "skills": [ { "id": "audit", "name": "Audit", "description": "Is audited" } ],
  "permissions": { "capabilities": [ "fs.workspace", "exec.command" ] }
}
EOF
cp "$XDG_CONFIG_HOME/troupe/agents/auditee.json" "$T/cards/auditee.json"

start_bus
start_registry

intro=$(tbusctl introspect $REG $REG_PATH $MGR)
check "GetAudit(t after_seq, u max) -> s" introspect_has "$intro" GetAudit method tu s
check "GetTaskAudit(s task, t after_seq, u max) -> s" introspect_has "$intro" GetTaskAudit method stu s
check "VerifyAudit() -> (b ok, t rows, s head)" introspect_has "$intro" VerifyAudit method - bts
check "VerifyAuditDetailed() -> (b ok, t rows, s head, t bad_seq, s damage)" \
        introspect_has "$intro" VerifyAuditDetailed method - btsts
check "RecordAudit(s action, s task, s agent, s detail_json) -> t seq" \
        introspect_has "$intro" RecordAudit method ssss t

d=$(reg_describe)
check "Describe() names the log" grep -qF "\"path\":\"$STATE/audit.db\"" <<<"$d"
check "Describe() says it is writable" grep -q '"writable":true' <<<"$d"
check_eq "an empty log verifies, its head all zeros" "true 0 $ZEROS 0 " "$(verify)"
check "RecordAudit() is refused while nobody owns org.troupe.Supervisor1" \
        grep -q "PermissionDenied\|nobody owns it now" <<<"$(record_audit)"

# --- task creation and cancel ------------------------------------------------------------------
start_probe auditee register auditee --card "$T/cards/auditee.json" --forever --hold-tasks --reconnect
check "the agent is healthy" wait_until agent_state_is auditee healthy
id=$(create_task auditee --workspace audit-ws --prompt "be audited")
check "CreateTask() succeeds" grep -qE '^[0-9a-f]{16}$' <<<"$id"
# No waiting: CreateTask() answers only once the row is durable.
rows
check "the task-create row is there when CreateTask() returns" \
        rows_are "[x['action'] for x in r if x['task'] == '$id'] == ['task-create']"
check "it names the actor, task and agent" \
        rows_are "[(x['actor'], x['agent']) for x in r if x['task'] == '$id'] == [('registry', 'auditee')]"
check "it records the capabilities the task's token carries" \
        rows_are "[x['detail'] for x in r if x['task'] == '$id'][0]['capabilities'] == ['fs.workspace', 'exec.command']"
check "it records the workspace" rows_are "[x['detail'] for x in r if x['task'] == '$id'][0]['workspace'] == 'audit-ws'"
check "the prompt stays out of the log" not grep -q "be audited" "$T/rows"

check "CancelTask() is accepted" sh -c "'$PROBE' manager CancelTask '$id' | grep -q '^ok'"
check "the cancel is recorded" wait_until rows_have "[x['action'] for x in r if x['task'] == '$id'] == ['task-create', 'task-cancel']"

# --- spawns -------------------------------------------------------------------------------------
check "RecordAudit() is refused to a client that is not the supervisor" \
        grep -q "PermissionDenied\|only from the owner" <<<"$(record_audit)"
start_supervisor
check "RecordAudit() names the supervisor it accepts rows from" \
        grep -q "only from the owner of org.troupe.Supervisor1 (:" <<<"$(record_audit)"
rows
n_before=$(rows_print "len(r)")
check "a Spawn() refused as invalid records nothing" grep -q "absolute path" <<<"$(spawn_error bad 0 -- bin/true)"
rows
check_eq "...no row" "$n_before" "$(rows_print "len(r)")"

sup_spawn audited 2 env as 1 SECRET_TOKEN=hunter2 cpu_weight t 50 -- /bin/sh -c 'exit 3'
check "Spawn() succeeds" grep -qE '^[0-9a-f]{16}$' <<<"$ID"
rows
check "the spawn row is there when Spawn() returns" \
        rows_are "[x['detail']['name'] for x in r if x['action'] == 'spawn'] == ['audited']"
check "it is the supervisor's" rows_are "[x['actor'] for x in r if x['action'] == 'spawn'] == ['supervisor']"
check "it records argv" rows_are "[x for x in r if x['action'] == 'spawn'][0]['detail']['argv'] == ['/bin/sh', '-c', 'exit 3']"
check "it records the limits asked for" rows_are "[x for x in r if x['action'] == 'spawn'][0]['detail']['limits'] == {'cpu_weight': 50}"
check "it records env names, not their values" \
        rows_are "[x for x in r if x['action'] == 'spawn'][0]['detail']['env'] == ['SECRET_TOKEN']"
check "no value of env is in the log" not grep -q hunter2 "$T/rows"
check "the process's id is recorded once it started" \
        wait_until rows_have "[x['detail']['spawn_seq'] for x in r if x['action'] == 'spawned' and x['detail']['id'] == '$ID'] == [x['seq'] for x in r if x['action'] == 'spawn']"
check "its exit is recorded" \
        wait_until rows_have "[(x['detail']['code'], x['detail']['status']) for x in r if x['action'] == 'exit' and x['detail']['id'] == '$ID'] == [(1, 3)]"

# --- reading ------------------------------------------------------------------------------------
other=$(create_task auditee)
check "another task is created" grep -qE '^[0-9a-f]{16}$' <<<"$other"
rows "$id"
check "GetTaskAudit() gives the task's rows only" \
        rows_are "[x['action'] for x in r] == ['task-create', 'task-cancel'] and all(x['task'] == '$id' for x in r)"
rows
check "seqs run 1, 2, 3... without gaps" rows_are "[x['seq'] for x in r] == list(range(1, len(r) + 1))"
check "each row carries the hash of the one before" \
        rows_are "r[0]['prev'] == '$ZEROS' and all(a['hash'] == b['prev'] for a, b in zip(r, r[1:]))"
n=$(rows_print "len(r)")
head=$(rows_print "r[-1]['hash']")
check_eq "GetAudit(after_seq, max) pages" '[2]' "$(tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 1 1 |
        "$PYTHON" -c 'import json, sys; print([x["seq"] for x in json.loads(json.load(sys.stdin)["data"][0])])')"
check_eq "VerifyAudit() proves the intact log" "bts true $n \"$head\"" "$(mgr VerifyAudit)"
check_eq "VerifyAuditDetailed() too, with no bad row" "true $n $head 0 " "$(verify)"
check "Describe() shows the head" grep -q "\"head_seq\":$n" <<<"$(reg_describe)"

# --- fail closed: no registry, no spawn ---------------------------------------------------------
stop_registry
err=$("$HELPER" spawn nolog /bin/true)
check "Spawn() is refused while the registry is not on the bus" grep -q "^org.troupe.Error.PermissionDenied " <<<"$err"
check "...saying the audit log is unavailable" grep -q "audit log is unavailable" <<<"$err"

# --- tampering, with the registry stopped -------------------------------------------------------
check "the log is long enough to tamper with in the middle" test "$n" -ge 6
for db in audit.db registry.db; do
        sqlite3 "$STATE/$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
        cp "$STATE/$db" "$T/pristine-$db"
done

# tampered DESCRIPTION SQL BAD_SEQ DAMAGE: from the pristine log, apply SQL, start the registry, and
# VerifyAuditDetailed() must name BAD_SEQ and DAMAGE.
tampered() {
        local got
        for db in audit.db registry.db; do
                rm -f "$STATE/$db-wal" "$STATE/$db-shm"
                cp "$T/pristine-$db" "$STATE/$db"
        done
        sqlite3 "$STATE/audit.db" "$2"
        start_registry
        got=$(verify)
        check_eq "$1: VerifyAuditDetailed() names seq $3, $4" "false $3 $4" "$(cut -d' ' -f1,4,5 <<<"$got")"
        check "$1: VerifyAudit() says not ok" grep -q '^bts false' <<<"$(mgr VerifyAudit)"
}

tampered "a row's detail modified" "UPDATE audit SET detail = '{\"forged\":true}' WHERE seq = 2;" 2 modified
stop_registry
tampered "a row deleted" "DELETE FROM audit WHERE seq = 3;" 3 deleted
stop_registry
tampered "two rows swapped" \
        "UPDATE audit SET seq = 1000000 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4;
         UPDATE audit SET seq = 4 WHERE seq = 1000000;" 3 reordered
stop_registry
tampered "the tail truncated" "DELETE FROM audit WHERE seq > 4;" 5 truncated
check "the registry logged that the log no longer reaches its anchor" \
        grep -q "does not reach the anchor" "$T/troupe-registryd.log"
check "Describe() says the anchor is not reached" grep -q '"reached":false' <<<"$(reg_describe)"
# New rows do not hide it: the anchor is kept until the operator says otherwise.
wait_until agent_state_is auditee healthy
check "a task is still created on a damaged log" grep -qE '^[0-9a-f]{16}$' <<<"$(create_task auditee)"
check "the damage is still reported after more rows" grep -q '^false' <<<"$(verify)"
stop_registry

start_registry --audit-forget-anchor
check "--audit-forget-anchor accepts the log as it is" grep -q '^true' <<<"$(verify)"
rows
check "...and records that it did" \
        rows_are "r[-1]['action'] == 'audit-anchor-reset' and r[-1]['detail']['anchor_seq'] == $n"
