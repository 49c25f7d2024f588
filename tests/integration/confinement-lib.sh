# Sourced by the confinement tests (after lib.sh and supervisor-lib.sh, with PYTHON, PROBE and SUP
# set): spawn sandbox-probe through the supervisor and read what it reported.
# shellcheck shell=bash

# jget JSON EXPR: a Python expression over `j`, the parsed JSON.
jget() {
        "$PYTHON" -c 'import json, sys; j = json.loads(sys.argv[1]); v = eval(sys.argv[2]); print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# bus_string OBJ INTERFACE PROPERTY: a string property, exactly (busctl's JSON output, decoded).
bus_string() {
        tbusctl --json=short get-property "$SUP" "$1" "$2" "$3" |
                "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"])'
}

ended() {
        local s
        s=$(prop "$1" State) && [ "$s" = exited ] || [ "$s" = failed ]
}

# run_probe OPTIONS... -- CHECK [ARGS]...: spawns the probe with OPTIONS (busctl's a{sv} tokens,
# starting with their count) and waits for it to end; OUT is its output, CONF its Confinement.
run_probe() {
        local opts=()
        while [ "$1" != "--" ]; do
                opts+=("$1")
                shift
        done
        shift
        OUT="" CONF=""
        sup_spawn probe "${opts[@]}" -- "$PROBE" "$@" >"$T/spawn.err" 2>&1 || return 1
        wait_until ended "$OBJ" || return 1
        OUT=$(log_file "$ID")
        CONF=$(bus_string "$OBJ" "$SUP.Process" Confinement)
}

# line CHECK: the probe's line for CHECK.
line() {
        grep -m1 "^$1 " <<<"$OUT"
}
