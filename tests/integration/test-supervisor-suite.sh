#!/usr/bin/env bash
# troupe-supervisord --suite: members started in table order, READY=1 only once every member owns
# its bus name, a killed member restarted, reverse-order stop on SIGTERM, a suite that cannot start;
# with stand-ins from a table file, then with the real troupe-registryd and troupe-routerd.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

SUPD="$TOP_BUILDDIR/troupe-supervisord"
REG=org.troupe.Test.Registry
ROUTER=org.troupe.Test.Router

# name_pid NAME: the pid owning a bus name.
name_pid() {
        tbusctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s "$1" | cut -d' ' -f2
}

name_owned_by_other_than() {
        local p
        p=$(name_pid "$1") && [ -n "$p" ] && [ "$p" != "$2" ]
}

no_name() {
        ! bus_has_name "$1"
}

start_notify_listener() {
        "$HELPER" notify-listen "$1" >"$2" 2>&1 &
        _pids+=($!)
        wait_until test -S "$1"
}

# A table that does not parse stops the supervisor before it starts anything.
printf '# comment\nregistry %s on-failure\n' "$REG" >"$T/bad.table"
err=$("$SUPD" --suite-table="$T/bad.table" 2>&1)
check_eq "a bad table makes it exit 1" 1 $?
check "the error names the line" grep -q "line 2: expected NAME BUS_NAME RESTART EXECUTABLE" <<<"$err"
printf 'a %s sometimes /bin/true\n' "$REG" >"$T/bad.table"
check "a bad restart policy is refused" grep -q "line 1: restart must be" \
        <<<"$("$SUPD" --suite-table="$T/bad.table" 2>&1)"
printf 'a %s no /bin/true\na %s no /bin/true\n' "$REG" "$ROUTER" >"$T/bad.table"
check "a repeated name is refused" grep -q "line 2 repeats" <<<"$("$SUPD" --suite-table="$T/bad.table" 2>&1)"
check "a missing table is refused" not "$SUPD" --suite-table="$T/none.table"

start_bus

# Stand-ins: the router takes its name a second late, so an early READY=1 would be caught.
cat >"$T/suite.table" <<EOF
# name     bus name  restart     executable and arguments
registry   $REG      on-failure  $HELPER bus-name $REG $T/stops
router     $ROUTER   on-failure  $HELPER bus-name $ROUTER $T/stops 1000
EOF
start_notify_listener "$T/notify" "$T/notify.out"
export NOTIFY_SOCKET="$T/notify"
start_supervisor --suite-table="$T/suite.table"
unset NOTIFY_SOCKET
check "READY=1 arrives" wait_until grep -qx 'READY=1' "$T/notify.out"
check "the first member owns its name at READY=1" bus_has_name "$REG"
check "the second member owns its name at READY=1" bus_has_name "$ROUTER"
d=$(describe)
check "Describe says the suite is ready" grep -q '"suite":{"ready":true' <<<"$d"
check "Describe lists the members in order" grep -q '"name":"registry".*"name":"router"' <<<"$d"
check "Describe says both own their names" test "$(grep -o '"owns_name":true' <<<"$d" | wc -l)" -eq 2
list=$(tbusctl call "$SUP" "$SUP_PATH" "$SUP.Manager" ListProcesses)
check "members are processes like any other" grep -q '"registry" [0-9]* "running".*"router"\|"router" [0-9]* "running".*"registry"' <<<"$list"
reg_id=$(grep -oE '"[0-9a-f]{16}" "registry"' <<<"$list" | cut -d'"' -f2)
check "a member's output is captured" grep -q "^owning $REG as pid" "$LOGS/$reg_id.log"
conf=$(prop "$SUP_PATH/process/$reg_id" Confinement)
check "a member runs unconfined (our own daemons need the bus)" grep -q '^{"profile":"unconfined","applied":\[\]' <<<"$conf"
check "and its Confinement says why" grep -q '"note":"a suite member' <<<"$conf"

# A member that dies is restarted and owns its name again.
old=$(name_pid "$REG")
kill -KILL "$old"
check "a killed member is restarted and owns its name again" wait_until name_owned_by_other_than "$REG" "$old"
d=$(describe)
check "Describe counts the restart" grep -q '"name":"registry"[^}]*"restarts":1' <<<"$d"
check_eq "no second READY=1" 1 "$(grep -c 'READY=1' "$T/notify.out")"

# SIGTERM: members stop in reverse order, then the supervisor exits 0.
stop_supervisor
check_eq "the supervisor exits 0 on SIGTERM" 0 "$SUP_STATUS"
check_eq "members stopped in reverse order" "stop $ROUTER"$'\n'"stop $REG" "$(cat "$T/stops")"
check "the names are gone" no_name "$REG"
check "it said STOPPING=1" grep -qx 'STOPPING=1' "$T/notify.out"

# A member that cannot start (exits at once, every time) fails the suite: exit 1, no READY=1.
printf 'broken %s on-failure /bin/false\n' "$REG" >"$T/broken.table"
rm -f "$T/notify.out" "$T/notify"
start_notify_listener "$T/notify" "$T/notify.out"
export NOTIFY_SOCKET="$T/notify"
start_daemon troupe-supervisord --suite-table="$T/broken.table"
unset NOTIFY_SOCKET
wait "$LAST_PID"
check_eq "a suite that cannot start makes it exit 1" 1 $?
check "without READY=1" not grep -q 'READY=1' "$T/notify.out"
check "saying why" grep -q "The suite could not be started" "$T/troupe-supervisord.log"

# A member whose executable is missing fails the suite the same way.
printf 'registry %s on-failure %s bus-name %s\nmissing %s on-failure troupe-no-such-daemon\n' \
        "$REG" "$HELPER" "$REG" "$ROUTER" >"$T/missing.table"
export TROUPE_LIBEXECDIR="$T"
start_daemon troupe-supervisord --suite-table="$T/missing.table"
unset TROUPE_LIBEXECDIR
wait "$LAST_PID"
check_eq "a member that cannot be executed makes it exit 1" 1 $?
check "saying which, looked up in TROUPE_LIBEXECDIR" grep -q "Failed to start suite member missing: argv\\[0\\] '$T/troupe-no-such-daemon'" \
        "$T/troupe-supervisord.log"
check "after stopping the member it had started" no_name "$REG"

# The real daemons, when they are built.
if [ -x "$TOP_BUILDDIR/troupe-registryd" ] && [ -x "$TOP_BUILDDIR/troupe-routerd" ]; then
        rm -f "$T/notify.out" "$T/notify"
        start_notify_listener "$T/notify" "$T/notify.out"
        export NOTIFY_SOCKET="$T/notify" TROUPE_LIBEXECDIR="$TOP_BUILDDIR"
        start_supervisor --suite
        unset NOTIFY_SOCKET
        check "the real suite gets READY=1" wait_until grep -qx 'READY=1' "$T/notify.out"
        check "troupe-registryd owns org.troupe.Registry1" bus_has_name org.troupe.Registry1
        check "troupe-routerd owns org.troupe.Router1" bus_has_name org.troupe.Router1
        # The daemons notify too when NOTIFY_SOCKET reaches them; it must not.
        check_eq "only the supervisor talks to the service manager" 1 "$(grep -c 'READY=1' "$T/notify.out")"
        check_eq "the registry is healthy" 's "ok"' \
                "$(tbusctl call org.troupe.Registry1 /org/troupe/Registry1 org.troupe.Registry1.Manager Health)"
        old=$(name_pid org.troupe.Registry1)
        kill -KILL "$old"
        check "a killed troupe-registryd is restarted" wait_until name_owned_by_other_than org.troupe.Registry1 "$old"
        stop_supervisor
        check_eq "the real suite stops cleanly" 0 "$SUP_STATUS"
        check "org.troupe.Registry1 is gone" no_name org.troupe.Registry1
        check "org.troupe.Router1 is gone" no_name org.troupe.Router1
else
        ok "the real suite # SKIP troupe-registryd or troupe-routerd is not built"
fi
