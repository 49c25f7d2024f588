#!/usr/bin/env bash
# The systemd user units and D-Bus activation files: the generated units pass
# `systemd-analyze --user verify` without a single complaint, carry the settings troupe relies on,
# and the activation files point at them. Deliberately broken copies must fail the same check, so
# the check itself is known to catch mistakes. systemd does not run as init here: verify loads the
# units into a private manager and needs none.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || skip_all "no systemd-analyze: install systemd (dev/setup does)"

BUILD_UNITS="$TOP_BUILDDIR/units"
SRC_UNITS="$TOP_SRCDIR/units"
DAEMONS=(registryd supervisord routerd)
declare -A BUS=([registryd]=org.troupe.Registry1 [supervisord]=org.troupe.Supervisor1 [routerd]=org.troupe.Router1)

# verify FILE...: passes only when systemd-analyze succeeds AND prints nothing: it reports many
# mistakes (an unknown value, a bad time span) as "..., ignoring." and still exits 0.
verify() {
        local out rc
        out=$(systemd-analyze --user --man=no --generators=no verify "$@" 2>&1)
        rc=$?
        [ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
        printf '%s\n' "$out" | sed 's/^/  /' >&2
        return 1
}

unit_value() { # FILE KEY: the last value of KEY= in FILE
        sed -n "s/^$2=//p" "$1" | tail -n 1
}

# The units as they will be installed, except that ExecStart= names the build tree's programs when
# they are not installed yet: verify insists that the command exists.
STAGE="$T/units"
mkdir -p "$STAGE"
for d in "${DAEMONS[@]}"; do
        f="$BUILD_UNITS/troupe-$d.service"
        check "troupe-$d.service was generated" test -s "$f"
        check_eq "troupe-$d.service has no @placeholder@ left" "" "$(grep -o '@[a-z_]*@' "$f" 2>/dev/null)"
        exec_start=$(unit_value "$f" ExecStart)
        case "$exec_start" in
        /*/troupe/troupe-"$d") ok "troupe-$d.service runs \$pkglibexecdir/troupe-$d ($exec_start)" ;;
        *) not_ok "troupe-$d.service runs \$pkglibexecdir/troupe-$d" "ExecStart=$exec_start" ;;
        esac
        if [ -x "$exec_start" ]; then
                cp "$f" "$STAGE/"
        else
                sed "s|^ExecStart=.*|ExecStart=$TOP_BUILDDIR/troupe-$d|" "$f" >"$STAGE/troupe-$d.service"
        fi
done
cp "$SRC_UNITS/troupe.target" "$STAGE/"

check "systemd-analyze --user verify passes on all units together" verify "$STAGE"/*.service "$STAGE/troupe.target"
for f in "$STAGE"/*.service "$STAGE/troupe.target"; do
        check "systemd-analyze --user verify passes on $(basename "$f")" verify "$f"
done

# What the issue asks of every daemon's unit.
for d in "${DAEMONS[@]}"; do
        f="$STAGE/troupe-$d.service"
        check_eq "troupe-$d: Type=notify" notify "$(unit_value "$f" Type)"
        check_eq "troupe-$d: BusName=${BUS[$d]}" "${BUS[$d]}" "$(unit_value "$f" BusName)"
        check_eq "troupe-$d: Restart=on-failure" on-failure "$(unit_value "$f" Restart)"
        check "troupe-$d: WatchdogSec= is set" test -n "$(unit_value "$f" WatchdogSec)"
        check_eq "troupe-$d: NoNewPrivileges=yes" yes "$(unit_value "$f" NoNewPrivileges)"
        check_eq "troupe-$d: WantedBy=troupe.target" troupe.target "$(unit_value "$f" WantedBy)"
done
# The supervisor puts each sandbox in a child cgroup of its own: under systemd it needs the subtree.
check_eq "troupe-supervisord: Delegate=yes" yes "$(unit_value "$STAGE/troupe-supervisord.service" Delegate)"
check_eq "troupe.target is wanted by default.target" default.target "$(unit_value "$STAGE/troupe.target" WantedBy)"
for d in "${DAEMONS[@]}"; do
        check "troupe.target wants troupe-$d.service" grep -qE "^Wants=.*\btroupe-$d\.service\b" "$STAGE/troupe.target"
done

# D-Bus activation files: the bus name, no Exec= of their own, and the unit that owns that name.
for d in "${DAEMONS[@]}"; do
        f="$SRC_UNITS/${BUS[$d]}.service"
        check "${BUS[$d]}.service has a [D-BUS Service] section" grep -qx '\[D-BUS Service\]' "$f"
        check_eq "${BUS[$d]}.service: Name=" "${BUS[$d]}" "$(unit_value "$f" Name)"
        check_eq "${BUS[$d]}.service: Exec=/bin/false" /bin/false "$(unit_value "$f" Exec)"
        unit=$(unit_value "$f" SystemdService)
        check_eq "${BUS[$d]}.service: SystemdService=troupe-$d.service" "troupe-$d.service" "$unit"
        check_eq "the unit ${BUS[$d]} activates owns that name" "${BUS[$d]}" "$(unit_value "$STAGE/$unit" BusName)"
done

# The check must catch broken units: each mutation of a good unit has to fail it.
mutations=(
        's/^Type=notify/Type=notfy/'
        's/^ExecStart=/ExecStrat=/'
        's|^ExecStart=.*|ExecStart=/nonexistent/troupe-registryd|'
        's/^WatchdogSec=.*/WatchdogSec=twenty/'
        's/^Restart=on-failure/Restart=sometimes/'
        's/^NoNewPrivileges=yes/NoNewPrivileges=perhaps/'
        's/^\[Service\]/[Servce]/'
        's/^RestrictAddressFamilies=.*/RestrictAddressFamilies=AF_BOGUS/'
)
BROKEN="$T/broken"
mkdir -p "$BROKEN"
for m in "${mutations[@]}"; do
        sed "$m" "$STAGE/troupe-registryd.service" >"$BROKEN/troupe-registryd.service"
        if cmp -s "$STAGE/troupe-registryd.service" "$BROKEN/troupe-registryd.service"; then
                not_ok "mutation '$m' changes the unit" "the pattern matched nothing"
        elif verify "$BROKEN/troupe-registryd.service" 2>/dev/null; then
                not_ok "a unit broken by '$m' fails verification" "systemd-analyze accepted it"
        else
                ok "a unit broken by '$m' fails verification"
        fi
done
sed 's/^Wants=/Wnats=/' "$STAGE/troupe.target" >"$BROKEN/troupe.target"
if verify "$BROKEN/troupe.target" 2>/dev/null; then
        not_ok "a troupe.target broken by a misspelled Wants= fails verification" "systemd-analyze accepted it"
else
        ok "a troupe.target broken by a misspelled Wants= fails verification"
fi
