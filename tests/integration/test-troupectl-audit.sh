#!/usr/bin/env bash
# troupectl audit against the real registry on a private bus: the rows that consent decisions and
# actions leave, in text and --json, filtered by task and paged by seq; more rows than one
# GetAudit() call returns (appended, properly chained, while the registry is stopped); and
# `audit verify` on the intact log (exit 0) and on logs tampered with the sqlite3 CLI (exit 1,
# naming the first bad row).
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse --json output"
# shellcheck source=tests/integration/test-registry-common.sh
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"
# shellcheck source=tests/integration/troupectl-consent-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-consent-lib.sh"

AUDIT_DB="$XDG_STATE_HOME/troupe/audit.db"

start_bus
start_registry
start_daemon troupe-supervisord
wait_until bus_has_name org.troupe.Supervisor1 || { not_ok "the supervisor started"; exit 1; }
start_asker || { not_ok "the asking agent registered"; exit 1; }

# --- rows from two tasks: one allowed, one denied ---------------------------------------------------
ctl audit --json
check_eq "audit --json exits 0" 0 "$RC"
check_eq "audit --json: an empty log is []" "[]" "$OUT"
script -qec "$CTL audit" /dev/null </dev/null >"$T/tty" 2>&1
check "audit on a terminal says when the log is empty" grep -q "The audit log has no rows" "$T/tty"
ctl audit verify
check_eq "audit verify of an empty log exits 0" 0 "$RC"
check "audit verify of an empty log: intact, 0 rows" grep -q "^audit log intact: 0 rows" "$T/out"

raise
allowed_task=$TASK allowed=$CONSENT
"$CTL" consent allow "$allowed"
wait_until has_final_result "$allowed_task"
raise
denied_task=$TASK denied=$CONSENT
"$CTL" consent deny "$denied"
wait_until has_final_result "$denied_task"
check "both requests were answered" bash -c '[ -n "$1" ] && [ -n "$2" ]' _ "$(final_result "$allowed_task")" \
        "$(final_result "$denied_task")"
# Every row of a decision is durable before the agent hears of it; the supervisor's rows of the
# editor it ran may come a moment later. Wait for the editor's exit row, the last one.
editor_exited() { "$CTL" audit --json >"$T/all.json" && py "any(r['action'] == 'exit' for r in j)" "$T/all.json" | grep -q True; }
check "the editor's exit is audited" wait_until editor_exited

ctl audit --json
check_eq "audit --json exits 0" 0 "$RC"
cp "$T/out" "$T/rows.json"
check_json \
        "audit --json: seqs 1, 2, 3... without gaps" "[r['seq'] for r in j] == list(range(1, len(j) + 1)) and len(j) >= 4" \
        "audit --json: every row has its fields" \
        "all(set(r) == {'seq', 'time', 'actor', 'action', 'task', 'agent', 'detail', 'prev', 'hash'} for r in j)" \
        "audit --json: details are objects, times are µs" \
        "all(isinstance(r['detail'], dict) and r['time'] > 1500000000000000 for r in j)" \
        "audit --json: each row chains to the one before" \
        "j[0]['prev'] == '0' * 64 and all(j[i]['prev'] == j[i - 1]['hash'] for i in range(1, len(j)))" \
        "audit --json: the user's allow-once of the first request" \
        "any(r['action'] == 'consent' and r['actor'] == 'user' and r['task'] == '$allowed_task' and r['detail']['decision'] == 'allow-once' and r['detail']['consent'] == '$allowed' for r in j)" \
        "audit --json: the user's deny of the second request" \
        "any(r['action'] == 'consent' and r['task'] == '$denied_task' and r['detail']['decision'] == 'deny' for r in j)" \
        "audit --json: the editor action of the allowed task" \
        "any(r['action'] == 'action' and r['task'] == '$allowed_task' and r['agent'] == 'asker' for r in j)"
rows=$(py "len(j)" "$T/rows.json")
head=$(py "j[-1]['hash']" "$T/rows.json")

ctl audit --task "$allowed_task" --json
check_eq "audit --task ID --json exits 0" 0 "$RC"
check_json \
        "audit --task: only that task's rows" "len(j) >= 2 and all(r['task'] == '$allowed_task' for r in j)" \
        "audit --task: its consent and its action" "{'consent', 'action'} <= set(r['action'] for r in j)" \
        "audit --task: oldest first" "[r['seq'] for r in j] == sorted(r['seq'] for r in j)"
ctl audit --task "$denied_task"
check_eq "audit --task ID (text) exits 0" 0 "$RC"
check "audit on a pipe: seven tab-separated columns, the task in the fifth" \
        awk -F'\t' -v t="$denied_task" 'NF != 7 || $5 != t { bad = 1 } END { exit bad || NR == 0 }' "$T/out"
check "audit on a pipe: the denial's detail summed up on one line" \
        grep -qE "	user	consent	$denied_task	asker	.*decision=deny" "$T/out"
ctl audit --task 0000000000000000 --json
check_eq "audit --task of a task without rows: []" "[]" "$OUT"

ctl audit --after 1 --limit 2 --json
check_json "audit --after 1 --limit 2: rows 2 and 3" "[r['seq'] for r in j] == [2, 3]"
ctl audit --limit 1 --json
check_json "audit --limit 1: the first row" "[r['seq'] for r in j] == [1]"
ctl audit --after "$rows" --json
check_eq "audit --after the last row: []" "[]" "$OUT"
ctl audit
check_eq "audit on a pipe: one line per row" "$rows" "$(wc -l <"$T/out")"

script -qec "$CTL audit" /dev/null </dev/null >"$T/tty" 2>&1
check "audit on a terminal: a header line" grep -qE '^SEQ +TIME +ACTOR +ACTION +TASK +AGENT +DETAIL' "$T/tty"
check "audit on a terminal: long details are cut" bash -c 'tr -d "\r" <"$1" | grep -q "\.\.\.$"' _ "$T/tty"

# --- verify: intact ----------------------------------------------------------------------------------
ctl audit verify
check_eq "audit verify of an intact log exits 0" 0 "$RC"
check_eq "audit verify: rows and head" "audit log intact: $rows rows, head $head" "$OUT"
ctl audit verify --json
check_eq "audit verify --json exits 0" 0 "$RC"
check_json "audit verify --json: ok, rows, head, no bad row" \
        "j['ok'] is True and j['rows'] == $rows and j['head'] == '$head' and j['bad_seq'] == 0"

# --- more rows than one call returns ------------------------------------------------------------------
stop_registry() { kill_wait TERM "$REG_PID"; }
stop_registry
# Rows chained exactly as lib/audit does (docs/audit.md), as if the registry had written them.
"$PYTHON" - "$AUDIT_DB" 2500 b0b0b0b0b0b0b0b0 <<'EOF'
import hashlib, json, sqlite3, struct, sys, time

def row_hash(prev, seq, t, texts):
    h = hashlib.sha256(b"troupe-audit-v1\0" + prev + struct.pack(">QQ", seq, t))
    for x in texts:
        h.update(struct.pack(">I", len(x)) + x)
    return h.digest()

db = sqlite3.connect(sys.argv[1])
seq, prev = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
for i in range(int(sys.argv[2])):
    seq += 1
    t = int(time.time() * 1e6)
    row = ["test", "bulk", sys.argv[3], "bulker", json.dumps({"i": i}, separators=(",", ":"))]
    h = row_hash(prev, seq, t, [x.encode() for x in row])
    db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [seq, t] + row + [prev, h])
    prev = h
db.commit()
EOF
check_eq "2500 more rows appended while the registry was stopped" 0 "$?"
start_registry
total=$((rows + 2500))

ctl audit --json
check_eq "audit --json of $total rows exits 0" 0 "$RC"
check_json "audit --json pages through every row" "[r['seq'] for r in j] == list(range(1, $total + 1))"
ctl audit --task b0b0b0b0b0b0b0b0 --json
check_json "audit --task pages through every row of the task" \
        "len(j) == 2500 and [r['detail']['i'] for r in j] == list(range(2500))"
ctl audit --after 5 --limit 1500 --json
check_json "audit --after 5 --limit 1500: rows 6 to 1505" "[r['seq'] for r in j] == list(range(6, 1506))"
ctl audit verify
check_eq "audit verify of $total rows exits 0" 0 "$RC"
check "audit verify counts every row" grep -q "^audit log intact: $total rows" "$T/out"

# --- verify: tampered -----------------------------------------------------------------------------------
command -v sqlite3 >/dev/null 2>&1 || { diag "no sqlite3 CLI: tampering skipped"; exit 0; }
stop_registry
sqlite3 "$AUDIT_DB" ".backup '$T/audit.orig'"
restore() { rm -f "$AUDIT_DB-wal" "$AUDIT_DB-shm" && cp "$T/audit.orig" "$AUDIT_DB"; }

sqlite3 "$AUDIT_DB" "UPDATE audit SET actor = 'mallory' WHERE seq = 2;"
start_registry
ctl audit verify
check_eq "audit verify of a modified row exits 1" 1 "$RC"
check_eq "audit verify names the modified row" \
        "audit log damaged at row 2: the row's contents do not match its hash: it was modified or forged (modified)" "$OUT"
ctl audit verify --json
check_eq "audit verify --json of a modified row exits 1" 1 "$RC"
check_json "audit verify --json: not ok, the bad row and the damage" \
        "j['ok'] is False and j['bad_seq'] == 2 and j['damage'] == 'modified' and j['rows'] == $total"

stop_registry
restore
sqlite3 "$AUDIT_DB" "DELETE FROM audit WHERE seq = 3;"
start_registry
ctl audit verify
check_eq "audit verify of a deleted row exits 1" 1 "$RC"
check "audit verify names where the row is missing" grep -q "^audit log damaged at row 3: .*(deleted)$" "$T/out"

stop_registry
restore
start_registry
ctl audit verify
check_eq "the restored log verifies again" 0 "$RC"
