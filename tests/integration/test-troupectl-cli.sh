#!/usr/bin/env bash
# troupectl without a suite: --help for every verb, --version, usage errors (exit 2, with a message,
# found before any bus is used), and failure (exit 1, with the way out) when there is no bus at all.
# shellcheck source=tests/integration/lib.sh
source "$TOP_SRCDIR/tests/integration/lib.sh"

# shellcheck source=tests/integration/troupectl-lib.sh
source "$TOP_SRCDIR/tests/integration/troupectl-lib.sh"

# --- usage, help and version: no bus needed -----------------------------------------------------
for verb in up down status health agents tasks task run logs cancel consent audit bootstrap open; do
        ctl "$verb" --help
        check_eq "troupectl $verb --help exits 0" 0 "$RC"
        case "$OUT" in
        "Usage: troupectl $verb"*) ok "troupectl $verb --help starts with its usage" ;;
        *) not_ok "troupectl $verb --help starts with its usage" "$(printf '%s' "$OUT" | head -n 1)" ;;
        esac
done
ctl --help
check_eq "troupectl --help exits 0" 0 "$RC"
check "troupectl --help lists every verb" bash -c 'for v in up down status health agents tasks "task show" run logs cancel consent audit bootstrap open; do grep -q "^  $v" "$1" || exit 1; done' _ "$T/out"
ctl --version
check_eq "troupectl --version exits 0" 0 "$RC"
check "troupectl --version prints the version" grep -qE '^troupectl [0-9]+\.[0-9]+' "$T/out"

usage_cases=(
        ""
        "frobnicate"
        "run"
        "run a b"
        "task frob 0123456789abcdef"
        "tasks --wait"
        "tasks --limit 0"
        "run echo --param novalue"
        "run echo --param a=1 --param a=2"
        "run echo --param a:={bad"
        "--no-such-option status"
        "consent"
        "consent frob"
        "consent allow"
        "consent deny a b"
        "consent list --always"
        "consent revoke echo"
        "tasks --always"
        "audit frob"
        "audit verify --task 0123456789abcdef"
        "audit --after -1"
        "audit --after x"
        "audit --limit 0"
        "audit --task="
        "audit --wait"
)
for args in "${usage_cases[@]}"; do
        # shellcheck disable=SC2086
        ctl $args
        check_eq "usage error exits 2: troupectl $args" 2 "$RC"
        check "usage error explains itself: troupectl $args" test -s "$T/err"
done

# --- no bus at all: failure (1) with the way out -------------------------------------------------
ctl health
check_eq "health without any bus exits 1" 1 "$RC"
check "health without any bus says how to start the suite" grep -q "troupectl up" "$T/err"
ctl tasks
check_eq "tasks without any bus exits 1" 1 "$RC"
ctl down
check_eq "down without any bus exits 0: nothing to stop" 0 "$RC"
check "down without any bus says nothing runs" grep -q "not running" "$T/out"

