#!/usr/bin/env bash
# Failing closed: when the audit log cannot be written, CreateTask() and the supervisor's Spawn() are
# refused with the reason, Health() and Describe() show it, nothing half-written is left behind, and
# everything works again once the log can be written. Three ways to get there: --audit-max-size (runs
# anywhere), a full state directory and a read-only one (both on a small tmpfs in a private mount
# namespace, so as root only).

# As root, the whole test runs in a mount namespace of its own, where it can mount a tmpfs for the
# registry's state without touching the machine's mounts.
if [ -z "${AUDIT_TEST_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] &&
        unshare --mount --propagation private true 2>/dev/null; then
        AUDIT_TEST_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/test-registry-common.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

PYTHON=$(command -v /usr/bin/python3 || command -v python3) || skip_all "python3 is needed to read the JSON rows"

# rows: GetAudit(0, 0) as a JSON array in $T/rows. rows_print EXPR: a Python expression over it.
rows() {
        tbusctl --json=short call $REG $REG_PATH $MGR GetAudit tu 0 0 |
                "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"][0])' >"$T/rows"
}
rows_print() {
        "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/rows" "$1"
}

verify() {
        mgr VerifyAuditDetailed | sed -e 's/^btsts //' -e 's/"//g'
}

health() {
        mgr Health | sed -e 's/^s "//' -e 's/"$//'
}

health_says() {
        grep -q -- "$1" <<<"$(health)"
}

reg_describe() {
        mgr Describe | sed -e 's/^s "//' -e 's/"$//' -e 's/\\"/"/g'
}

# create: CreateTask() for the probe agent; prints "ok ID PATH" or "error NAME: MESSAGE".
create() {
        "$PROBE" create-task auditee
}

# start_registry_at DIR [ARGS...]: the registry with its state (journal, audit log) in DIR.
start_registry_at() {
        local dir=$1
        shift
        TROUPE_STATE_DIR="$dir" start_daemon troupe-registryd "$@"
        REG_PID=$LAST_PID
        wait_until registry_healthy || { not_ok "registry started on $dir"; exit 1; }
}

agent_ready() {
        wait_until agent_state_is auditee healthy || { not_ok "the agent registered"; exit 1; }
}

# create_done: a task that is created and has completed (so nothing more of it is journaled later).
create_done() {
        local out
        out=$(create)
        grep -q '^ok ' <<<"$out" && wait_until task_state_is "$(cut -d' ' -f2 <<<"$out")" completed
}

stop_registry() {
        kill_wait TERM "$REG_PID"
}

# refused_everything HOW REASON: CreateTask() and Spawn() are both refused as the audit log cannot be
# written, naming REASON, and Health() says so.
refused_everything() {
        local out
        out=$(create)
        check "$1: CreateTask() is refused as PermissionDenied" grep -q "^error org.troupe.Error.PermissionDenied" <<<"$out"
        check "$1: ...saying the audit log cannot be written" grep -q "audit log cannot be written" <<<"$out"
        check "$1: ...and why" grep -q -- "$2" <<<"$out"
        out=$("$HELPER" spawn "refused-$RANDOM" /bin/true)
        check "$1: Spawn() is refused as PermissionDenied" grep -q "^org.troupe.Error.PermissionDenied " <<<"$out"
        check "$1: ...because the audit log is unavailable" grep -q "audit log is unavailable" <<<"$out"
        check "$1: ...and why" grep -q -- "$2" <<<"$out"
        check "$1: Health() is not ok and says why" health_says "audit: .*$2"
        check "$1: Describe() says the log is not writable" grep -q '"writable":false' <<<"$(reg_describe)"
}

# recovered HOW ROWS_BEFORE: CreateTask() works again, Health() is ok, the log verifies and holds the
# rows from before, perhaps the "audit-lost" marker, then the new one: nothing of the refused ones.
recovered() {
        local out
        check "$1: CreateTask() works again" create_done
        check "$1: Health() is ok again" wait_until health_says '^ok$'
        check "$1: the log verifies" grep -q '^true' <<<"$(verify)"
        rows
        check_eq "$1: the rows from before are there, then the new task's" "task-create" \
                "$(rows_print "' '.join(x['action'] for x in r[$2:] if x['action'] != 'audit-lost')")"
        check_eq "$1: nothing of the refused actions is in the log" "" \
                "$(rows_print "' '.join(x['detail'].get('name', '') for x in r if 'refused' in str(x['detail']))")"
}

mkdir -p "$T/cards"
write_card auditee
start_bus

# --- --audit-max-size: the log reaches its cap ---------------------------------------------------
capped="$T/capped"
start_registry_at "$capped" --audit-max-size=1
# After the registry, so that it is the one that records the spawns.
start_supervisor
start_probe auditee register auditee --card "$T/cards/auditee.json" --forever --accept-tasks --reconnect
agent_ready
check "a first task is created under the cap" create_done
for _ in $(seq 200); do
        out=$(create)
        grep -q '^ok ' <<<"$out" || break
done
check "the capped log fills up: CreateTask() is refused" grep -q "audit log cannot be written" <<<"$out"
refused_everything "at its cap" "full"
rows
before=$(rows_print "len(r)")
check "the log at its cap verifies" grep -q '^true' <<<"$(verify)"
stop_registry
start_registry_at "$capped" --audit-max-size=0
agent_ready
recovered "without the cap" "$before"
stop_registry

# --- a full and a read-only state directory, on a small tmpfs -------------------------------------
if [ -z "${AUDIT_TEST_PRIVATE_MOUNTS:-}" ]; then
        diag "SKIP a full and a read-only state directory: they need root and unshare --mount to mount a tmpfs"
        exit 0
fi

fs="$T/fs"
mkdir -p "$fs"
if ! mount -t tmpfs -o size=8m,mode=0700 troupe-audit-test "$fs"; then
        diag "SKIP a full and a read-only state directory: cannot mount a tmpfs here"
        exit 0
fi
# Lazily detached before lib.sh removes $T; the daemons using it are gone by then at the latest.
trap 'umount -l "$fs" 2>/dev/null; finish' EXIT
start_registry_at "$fs/state"
agent_ready
check "a task is created on the tmpfs" create_done
rows
before=$(rows_print "len(r)")

# Full: fill every byte that is left.
dd if=/dev/zero of="$fs/filler" bs=64k 2>/dev/null
check "the tmpfs is full" test "$(stat -f -c %a "$fs")" -eq 0
refused_everything "full" "No space left on device"
rm -f "$fs/filler"
recovered "space freed" "$before"
check "the refused rows are accounted for by an audit-lost row" \
        test "$(rows_print "sum(x['detail']['lost'] for x in r if x['action'] == 'audit-lost')")" -ge 2

# Read-only. The registry's open files keep the tmpfs itself busy (a plain remount is refused), so a
# read-only bind mount goes over the directory: every path beneath it is read-only, which the
# registry's check before each privileged row (and Health()) sees.
rows
before=$(rows_print "len(r)")
mount --bind "$fs" "$fs" && mount -o remount,bind,ro "$fs" || { not_ok "bind the tmpfs read-only"; exit 1; }
refused_everything "read-only" "Read-only file system"
umount "$fs"
check "Health() is ok as soon as the directory is writable again" wait_until health_says '^ok$'
recovered "writable again" "$before"

# A log that cannot even be opened (here: a read-only file where audit.db goes): the registry starts
# anyway, refuses every privileged action, and opens the log with the first one after that can.
stop_registry
fresh="$fs/fresh"
mkdir -p "$fresh"
: >"$fresh/audit.db"
mount --bind "$fresh/audit.db" "$fresh/audit.db" && mount -o remount,bind,ro "$fresh/audit.db" ||
        { not_ok "bind audit.db read-only"; exit 1; }
TROUPE_STATE_DIR="$fresh" start_daemon troupe-registryd
REG_PID=$LAST_PID
wait_until bus_has_name $REG || { not_ok "the registry starts without its audit log"; exit 1; }
agent_ready
check "the registry runs without the log, and Health() says why" health_says "audit: cannot open $fresh/audit.db"
refused_everything "unopened" "cannot open"
umount "$fresh/audit.db"
recovered "opened at last" 0
