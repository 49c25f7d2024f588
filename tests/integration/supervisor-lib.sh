# Sourced by the supervisor's integration tests after lib.sh: starting troupe-supervisord and
# talking to it through busctl and supervisor-helper.
# shellcheck shell=bash

SUP=org.troupe.Supervisor1
SUP_PATH=/org/troupe/Supervisor1
HELPER="$TOP_BUILDDIR/supervisor-helper"
LOGS="$XDG_STATE_HOME/troupe/logs"

audit_registry_healthy() {
        [ "$(tbusctl call org.troupe.Registry1 /org/troupe/Registry1 org.troupe.Registry1.Manager Health 2>/dev/null)" = 's "ok"' ]
}

# start_audit_registry: a troupe-registryd to write the audit rows of Spawn(), which the supervisor
# refuses while it cannot record them, unless a registry is on the bus already. It listens on an
# agent socket of its own, so tests that stand in for the agent socket keep theirs.
start_audit_registry() {
        bus_has_name org.troupe.Registry1 && return 0
        TROUPE_AGENT_SOCKET="$T/audit-registry.sock" "$TOP_BUILDDIR/troupe-registryd" >>"$T/troupe-registryd.log" 2>&1 &
        _pids+=($!)
        wait_until audit_registry_healthy || { not_ok "troupe-registryd (for the audit log) started"; exit 1; }
}

# start_supervisor [ARGS...]: starts troupe-supervisord (and, unless it runs a suite, which brings its
# own, a registry for the audit log) and waits for its bus name. Sets SUP_PID.
start_supervisor() {
        case " $* " in
        *" --suite"*) ;;
        *) start_audit_registry ;;
        esac
        start_daemon troupe-supervisord "$@"
        SUP_PID=$LAST_PID
        if ! wait_until bus_has_name "$SUP"; then
                not_ok "troupe-supervisord took $SUP"
                exit 1
        fi
}

# stop_supervisor: SIGTERM, and waits for it to exit; sets SUP_STATUS.
stop_supervisor() {
        kill -TERM "$SUP_PID"
        wait "$SUP_PID"
        SUP_STATUS=$?
}

# sup_spawn NAME OPTIONS... -- ARGV...: OPTIONS are busctl's a{sv} tokens, starting with the
# count ("0", or "1 restart s on-failure"). Sets ID and OBJ (the object path); prints the error
# and fails when Spawn fails.
sup_spawn() {
        local name=$1 out
        local opts=()
        shift
        while [ "$1" != "--" ]; do
                opts+=("$1")
                shift
        done
        shift
        out=$(tbusctl call -- "$SUP" "$SUP_PATH" "$SUP.Manager" Spawn 'sasa{sv}' "$name" $# "$@" "${opts[@]}" 2>&1) ||
                { printf '%s\n' "$out"; return 1; }
        # so "ID" "PATH"
        read -r _ ID OBJ <<<"$out"
        ID=${ID//\"/}
        OBJ=${OBJ//\"/}
}

# spawn_error NAME OPTIONS... -- ARGV...: prints the error Spawn gives; fails if Spawn succeeds.
spawn_error() {
        local out
        if out=$(sup_spawn "$@"); then
                return 1
        fi
        printf '%s\n' "$out"
}

# prop OBJ NAME: a Process property, without its type and quotes.
prop() {
        tbusctl get-property "$SUP" "$1" "$SUP.Process" "$2" | sed -E 's/^[a-z]+ //; s/^"(.*)"$/\1/; s/\\"/"/g'
}

# prop_is OBJ NAME VALUE
prop_is() {
        [ "$(prop "$1" "$2")" = "$3" ]
}

describe() {
        tbusctl call "$SUP" "$SUP_PATH" "$SUP.Manager" Describe | sed -E 's/^s "(.*)"$/\1/; s/\\"/"/g'
}

# start_exit_watcher: records every ProcessExited in $T/exits ("ID CODE STATUS").
start_exit_watcher() {
        "$HELPER" watch-exits >"$T/exits" 2>>"$T/watch-exits.log" &
        _pids+=($!)
        wait_until grep -q '^watching' "$T/exits" || { not_ok "exit watcher started"; exit 1; }
}

# exit_of ID: the "CODE STATUS" of its first exit, once there is one.
exit_of() {
        wait_until grep -q "^$1 " "$T/exits" && grep -m1 "^$1 " "$T/exits" | cut -d' ' -f2-
}

log_file() {
        cat "$LOGS/$1.log"
}

# now_ms: CLOCK_REALTIME in milliseconds.
now_ms() {
        local t=${EPOCHREALTIME/[.,]/}
        echo $((t / 1000))
}

# not COMMAND...: succeeds when COMMAND fails (for check).
not() {
        ! "$@"
}
