#!/usr/bin/env bash
# troupe-supervisord's logs: stdout and stderr in order, OpenLog() from an offset, live following,
# a stalled and a slow reader of a child that writes a lot (every byte arrives, the supervisor
# stays responsive and small), and rotation with offsets that continue across it.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

rss_kib() {
        awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

start_bus
start_supervisor --log-size-max=64M

# Order: one pipe for both streams keeps the lines in the order they were written.
sup_spawn order 0 -- /bin/sh -c 'for i in 1 2 3; do echo "out$i"; echo "err$i" >&2; done'
wait_until prop_is "$OBJ" State exited
expected=$'out1\nerr1\nout2\nerr2\nout3\nerr3'
check_eq "stdout and stderr are in the log file, in order" "$expected" "$(log_file "$ID")"
check_eq "OpenLog(0) streams the same" "$expected" "$("$HELPER" openlog "$ID" 0)"
check_eq "OpenLog(10) starts at byte 10" "$(log_file "$ID" | tail -c +11)" "$("$HELPER" openlog "$ID" 10)"
check_eq "OpenLog at the end gives an empty stream" "" "$("$HELPER" openlog "$ID" 30)"
check "OpenLog beyond the end is refused" grep -q 'beyond the end' <<<"$("$HELPER" openlog "$ID" 31 2>&1)"

# Live: a reader gets what is written while it reads, and end of file once the process is gone.
sup_spawn live 0 -- /bin/sh -c 'echo first; while [ ! -e "$0" ]; do sleep 0.05; done; echo second' "$T/go"
"$HELPER" openlog "$ID" 0 >"$T/live.out" 2>&1 &
reader=$!
check "a live reader gets the first line" wait_until grep -qx first "$T/live.out"
check "a live reader stays open while the process runs" kill -0 "$reader"
touch "$T/go"
wait "$reader"
check_eq "a live reader gets the rest and then end of file" $'first\nsecond' "$(cat "$T/live.out")"

# A lot of output: ~11 MB, with one reader that reads nothing until the child has exited and one
# that reads in small slow steps meanwhile.
lines=1500000
seq 1 "$lines" >"$T/expected"
want=$(sha256sum <"$T/expected" | cut -d' ' -f1)
rss_before=$(rss_kib "$SUP_PID")
# How long a Describe takes on this machine right now, to compare with one made under load.
base=$(now_ms)
describe >/dev/null
base=$(($(now_ms) - base))
sup_spawn flood 0 -- /usr/bin/seq 1 "$lines"
"$HELPER" openlog "$ID" 0 "$T/go-read" >"$T/stalled.out" 2>>"$T/readers.log" &
stalled=$!
HELPER_DELAY_US=100 "$HELPER" openlog "$ID" 0 >"$T/slow.out" 2>>"$T/readers.log" &
slow=$!
start=$(now_ms)
check "Describe answers while readers lag" describe
took=$(($(now_ms) - start))
limit=$((base * 5 > 2000 ? base * 5 : 2000))
check "Describe answered promptly ($took ms, $base ms before)" test "$took" -lt "$limit"
check "the child finishes while a reader reads nothing" wait_until prop_is "$OBJ" State exited
rss_after=$(rss_kib "$SUP_PID")
diag "supervisor RSS ${rss_before} KiB before, ${rss_after} KiB after 11 MB of output"
check "the supervisor's RSS grew by less than 8 MiB" test $((rss_after - rss_before)) -lt 8192
check_eq "the log file holds every byte" "$want" "$(sha256sum <"$LOGS/$ID.log" | cut -d' ' -f1)"
touch "$T/go-read"
wait "$stalled"
check_eq "the stalled reader gets every byte" "$want" "$(sha256sum <"$T/stalled.out" | cut -d' ' -f1)"
wait "$slow"
check_eq "the slow reader gets every byte" "$want" "$(sha256sum <"$T/slow.out" | cut -d' ' -f1)"

stop_supervisor
check_eq "the supervisor exits 0 on SIGTERM" 0 "$SUP_STATUS"

# Rotation: 4 KiB files. seq 1 2000 is 8893 bytes: two full files and 701 bytes.
start_supervisor --log-size-max=4096
sup_spawn rotate 0 -- /usr/bin/seq 1 2000
wait_until prop_is "$OBJ" State exited
seq 1 2000 >"$T/expected"
check_eq "the rotated file holds the second 4 KiB" 4096 "$(stat -c %s "$LOGS/$ID.log.1")"
check_eq "the current file holds the rest" 701 "$(stat -c %s "$LOGS/$ID.log")"
check_eq "both files are the end of the output" "$(tail -c +4097 "$T/expected")" \
        "$(cat "$LOGS/$ID.log.1" "$LOGS/$ID.log")"
"$HELPER" openlog "$ID" 0 >"$T/rot.out"
check_eq "OpenLog(0) first says what was rotated away" \
        "[troupe-supervisord: 4096 bytes of this log were rotated away before they were read]" \
        "$(head -n 1 "$T/rot.out")"
check_eq "then streams what is left" "$(tail -c +4097 "$T/expected")" "$(tail -n +2 "$T/rot.out")"
check_eq "offsets continue across rotation" "$(tail -c +5001 "$T/expected")" "$("$HELPER" openlog "$ID" 5000)"
check "OpenLog beyond the end counts every byte ever written" grep -q '8893 bytes' \
        <<<"$("$HELPER" openlog "$ID" 9000 2>&1)"

# A reader that stalls while the files rotate many times keeps the file it is in, then skips (and
# says so) to what is still on disk, as often as it falls behind again: what it gets is pieces of
# the output in order, each skip announced with its size, adding up to everything.
check_pieces() {
        local stream=$1 expected=$2 pos=0 prev=0 at note skipped len
        while IFS=: read -r at note; do
                skipped=$(grep -oE '[0-9]+' <<<"$note" | head -n 1)
                len=$((at - prev))
                cmp -s <(tail -c +$((prev + 1)) "$stream" | head -c "$len") \
                        <(tail -c +$((pos + 1)) "$expected" | head -c "$len") || return 1
                pos=$((pos + len + skipped))
                prev=$((at + ${#note} + 1))
        done < <(grep -aboE '\[troupe-supervisord: [0-9]+ bytes of this log were rotated away before they were read\]' \
                "$stream")
        len=$(($(stat -c %s "$stream") - prev))
        cmp -s <(tail -c +$((prev + 1)) "$stream") <(tail -c +$((pos + 1)) "$expected") || return 1
        test $((pos + len)) -eq "$(stat -c %s "$expected")"
}

sup_spawn rotate2 0 -- /bin/sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done; exec seq 1 100000' "$T/go2"
HELPER_OPENED_FILE="$T/opened2" "$HELPER" openlog "$ID" 0 "$T/go2-read" >"$T/rot2.out" &
reader=$!
wait_until test -e "$T/opened2"
touch "$T/go2"
wait_until prop_is "$OBJ" State exited
touch "$T/go2-read"
wait "$reader"
seq 1 100000 >"$T/expected2"
first=$(grep -aboE '\[troupe-supervisord: [0-9]+ bytes' "$T/rot2.out" | head -n 1 | cut -d: -f1)
check "the stalled reader was told that bytes were skipped" test -n "$first"
check "it kept the file it was in before skipping" test "${first:-0}" -ge 4096
check "its pieces are the output in order and add up to all of it" check_pieces "$T/rot2.out" "$T/expected2"
