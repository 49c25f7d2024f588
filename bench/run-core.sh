#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-core.sh: runs the core daemons' benchmarks (issue 3) against the daemons of a build directory
# and prints every figure beside its same-run baseline. Build them first:
#
#   make -C BUILDDIR bench-core && bench/run-core.sh BUILDDIR [--quick] [--json] [--only=LIST]
#
#   --quick       short runs (a smoke test, figures not for publishing)
#   --json        one JSON object: {"heartbeat": {...}, "health": {...}, ...}
#   --only=LIST   comma-separated subset of: daemons,health,logstream,heartbeat
#
# Each benchmark starts its own private dbus-daemon and daemons in temporary XDG directories; all
# traffic stays on this machine. The daemons are run from BUILDDIR/.libs (the real executables,
# not libtool's wrapper scripts, whose shell would count in their start-up time). Exits non-zero
# only when a benchmark fails to run, never because a goal was missed.
set -u

usage() {
        sed -n '3,15s/^# \{0,1\}//p' "$0" >&2
        exit 2
}

[ $# -ge 1 ] || usage
B=$(cd "$1" 2>/dev/null && pwd) || { echo "No such build directory: $1" >&2; exit 2; }
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
JSON=0
ONLY=daemons,health,logstream,heartbeat
for a in "$@"; do
        case $a in
        --quick) QUICK=1 ;;
        --json) JSON=1 ;;
        --only=*) ONLY=${a#--only=} ;;
        *) usage ;;
        esac
done

# The real executable behind a libtool wrapper, when there is one.
real_exe() {
        if [ -x "$B/.libs/$1" ]; then echo "$B/.libs/$1"; else echo "$B/$1"; fi
}

REGISTRYD=$(real_exe troupe-registryd)
SUPERVISORD=$(real_exe troupe-supervisord)
ROUTERD=$(real_exe troupe-routerd)
for f in "$REGISTRYD" "$SUPERVISORD" "$ROUTERD" "$B/bench-heartbeat" "$B/bench-health" "$B/bench-logstream" \
        "$B/bench-daemons" "$B/bench-log-writer" "$B/bench-notify-ready"; do
        [ -x "$f" ] || { echo "Missing $f: run 'make -C $B bench-core' first." >&2; exit 2; }
done
export LD_LIBRARY_PATH="$B/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The agent cards of the tree, for the router; nothing else reads outside the temporary directories.
export TROUPE_AGENT_CARDS_DIR="$SRC/agents" TROUPE_AGENT_PATH="$B"
[ -n "${DBUS_DAEMON:-}" ] || DBUS_DAEMON=$(sed -n 's/^DBUS_DAEMON = //p' "$B/Makefile" 2>/dev/null)
[ -n "${DBUS_DAEMON:-}" ] && export DBUS_DAEMON

J=()
[ "$JSON" = 1 ] && J=(--json)
if [ "$QUICK" = 1 ]; then
        HEARTBEAT_ARGS=(--agents=100,1000 --duration=5 --warmup=1)
        HEALTH_ARGS=(--calls=2000 --warmup=200)
        LOGSTREAM_ARGS=(--size=$((32 * 1024 * 1024)) --repeat=1)
        DAEMONS_ARGS=(--repeat=2 --settle-ms=300)
else
        HEARTBEAT_ARGS=()
        HEALTH_ARGS=()
        LOGSTREAM_ARGS=()
        DAEMONS_ARGS=()
fi

failed=0
json_parts=()

run_bench() {
        local name=$1 out rc
        shift
        case ",$ONLY," in *",$name,"*) ;; *) return 0 ;; esac
        if [ "$JSON" = 1 ]; then
                out=$("$@")
                rc=$?
                [ $rc -eq 0 ] && json_parts+=("\"$name\": $out")
        else
                printf '\n== %s ==\n' "$name"
                "$@"
                rc=$?
        fi
        if [ $rc -ne 0 ]; then
                echo "bench $name failed (exit $rc)" >&2
                failed=1
        fi
}

if [ "$JSON" = 0 ]; then
        echo "troupe core benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs"
        echo "tree: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown), build: $B"
        echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

run_bench daemons "$B/bench-daemons" --baseline="$B/bench-notify-ready" --daemon="$REGISTRYD" \
        --daemon="$SUPERVISORD" --daemon="$ROUTERD" ${DAEMONS_ARGS[@]+"${DAEMONS_ARGS[@]}"} ${J[@]+"${J[@]}"}
run_bench health "$B/bench-health" --registryd="$REGISTRYD" ${HEALTH_ARGS[@]+"${HEALTH_ARGS[@]}"} ${J[@]+"${J[@]}"}
run_bench logstream "$B/bench-logstream" --supervisord="$SUPERVISORD" --registryd="$REGISTRYD" \
        --writer="$B/bench-log-writer" ${LOGSTREAM_ARGS[@]+"${LOGSTREAM_ARGS[@]}"} ${J[@]+"${J[@]}"}
run_bench heartbeat "$B/bench-heartbeat" --registryd="$REGISTRYD" ${HEARTBEAT_ARGS[@]+"${HEARTBEAT_ARGS[@]}"} \
        ${J[@]+"${J[@]}"}

if [ "$JSON" = 1 ]; then
        printf '{'
        sep=
        for p in ${json_parts[@]+"${json_parts[@]}"}; do
                printf '%s\n%s' "$sep" "$p"
                sep=,
        done
        printf '\n}\n'
fi
exit $failed
