# Helpers for the troupectl and dev/up tests, sourced after lib.sh: running troupectl with its
# output captured, checking its --json output with Python (many checks per interpreter start, since
# starting one is slow on a loaded machine), and telling live processes from gone ones.
# shellcheck shell=bash

CTL="$TOP_BUILDDIR/troupectl"
# The system's interpreter when there is one: version-manager shims cost seconds per start.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)

# ctl ARGS...: runs troupectl; stdout in $OUT (and $T/out), stderr in $T/err, exit status in $RC.
ctl() {
        "$CTL" "$@" >"$T/out" 2>"$T/err"
        # shellcheck disable=SC2034 # read by the tests
        RC=$?
        # read, not $(cat ...): no extra process per call, which adds up on a loaded machine.
        IFS= read -r -d '' OUT <"$T/out"
        OUT=${OUT%$'\n'}
}

# py EXPR [FILE]: prints a Python expression over `j`, the JSON in FILE (default: $T/out).
py() {
        "$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' \
                "$1" "${2:-$T/out}"
}

# check_json DESCRIPTION EXPR [DESCRIPTION EXPR]...: one TAP test per pair, passing when the Python
# expression over `j` (the JSON in $T/out) is true. One interpreter for all of them.
check_json() {
        local line desc
        while IFS= read -r line; do
                desc=${line#* }
                case "$line" in
                "1 "*) ok "$desc" ;;
                *) not_ok "${desc%% :: *}" "${desc#* :: } :: $(head -c 600 "$T/out")" ;;
                esac
        done < <("$PYTHON" - "$T/out" "$@" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    bad = None
except Exception as e:
    bad = "not JSON: %s" % e
args = sys.argv[2:]
for desc, expr in zip(args[0::2], args[1::2]):
    if bad:
        print("0 %s :: %s" % (desc, bad))
        continue
    try:
        v = eval(expr)
    except Exception as e:
        v = "%s: %s" % (type(e).__name__, e)
    print(("1 %s" % desc) if v is True else ("0 %s :: %s -> %r" % (desc, expr, v)))
EOF
        )
}

# A process that exists and is not a zombie: what `up` and dev/up start is reparented when they
# exit, and a zombie has already let go of everything.
alive() {
        local s
        s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
        [ -n "$s" ] && [ "${s:0:1}" != Z ]
}

gone() { ! alive "$1"; }

none_alive() {
        local p
        for p in "$@"; do alive "$p" && return 1; done
        return 0
}

# supervised_pids ADDRESS: the pids of every process the supervisor on ADDRESS runs (suite members
# and agents), from its ListProcesses(). Agent.Pid cannot stand in for the agent's process: the
# registry reports the peer of the agent socket, and the supervisor connects that on the agent's
# behalf.
supervised_pids() {
        busctl --address="$1" --json=short call org.troupe.Supervisor1 /org/troupe/Supervisor1 \
                org.troupe.Supervisor1.Manager ListProcesses >"$T/processes.json" &&
                py "' '.join(str(p[2]) for p in j['data'][0] if p[3] in ('starting', 'running'))" "$T/processes.json"
}

# The state of a task, as troupectl reports it.
task_state() {
        "$CTL" --json task show "$1" >"$T/state.json" 2>/dev/null && py "j['state']" "$T/state.json"
}

state_is() { [ "$(task_state "$1")" = "$2" ]; }
