#!/usr/bin/env bash
# troupe-supervisord: command line, bus surface, Spawn() validation, what a child gets (environment,
# fds, working directory, fd 3 on the agent socket) and the Confinement report.
source "$TOP_SRCDIR/tests/integration/lib.sh"
source "$TOP_SRCDIR/tests/integration/supervisor-lib.sh"

SUPD="$TOP_BUILDDIR/troupe-supervisord"

out=$("$SUPD" --help)
check "--help exits 0" test $? -eq 0
check "--help names --suite" grep -q -- '--suite-table' <<<"$out"
check_eq "--version prints the version" "troupe-supervisord" "$("$SUPD" --version | cut -d' ' -f1)"
check "an unknown option is refused" not "$SUPD" --bogus
check "a too small --log-size-max is refused" not "$SUPD" --log-size-max=12
check "--help names --read-only-path" grep -q -- '--read-only-path=PATH' <<<"$out"
check "a relative --read-only-path is refused" grep -q "Read-only path 'rel' .* is not absolute" \
        <<<"$("$SUPD" --read-only-path=rel 2>&1)"
check "a --read-only-path that does not exist is refused" grep -q "Read-only path '$T/nope' .*No such file" \
        <<<"$("$SUPD" --read-only-path="$T/nope" 2>&1)"
check "so is one in \$TROUPE_SANDBOX_READ_ONLY" grep -q "Read-only path '$T/gone' .*No such file" \
        <<<"$(TROUPE_SANDBOX_READ_ONLY="$TROUPE_SANDBOX_READ_ONLY:$T/gone" "$SUPD" 2>&1)"

start_bus
# A variable of the supervisor's own environment that no child may see.
export SUPERVISOR_SECRET=hunter2
start_supervisor
unset SUPERVISOR_SECRET

intro=$(tbusctl introspect "$SUP" "$SUP_PATH" "$SUP.Manager")
for m in .Spawn .ListProcesses .Describe .Shutdown .ProcessExited; do
        check "Manager has $m" grep -q -- "^$m " <<<"$intro"
done
check "ObjectManager is served" tbusctl call "$SUP" "$SUP_PATH" org.freedesktop.DBus.ObjectManager GetManagedObjects
check_eq "LogControl1 reports the level" 's "debug"' \
        "$(tbusctl get-property "$SUP" /org/freedesktop/LogControl1 org.freedesktop.LogControl1 LogLevel)"
d=$(describe)
check "Describe names the version" grep -q '"version":"0.1.0"' <<<"$d"
check "Describe names the log directory" grep -qF "\"log_directory\":\"$LOGS\"" <<<"$d"

# Refusals: each names what is wrong, as org.troupe.Error.InvalidArgs.
err=$("$HELPER" spawn x /bin/true bogus=1)
check "an unknown option is InvalidArgs" grep -q '^org.troupe.Error.InvalidArgs ' <<<"$err"
check "the error names the unknown option" grep -q "Unknown option 'bogus'" <<<"$err"
err=$("$HELPER" spawn x bin/true)
check "a relative argv[0] is InvalidArgs" grep -q '^org.troupe.Error.InvalidArgs .*absolute path' <<<"$err"
err=$("$HELPER" spawn x /nonexistent/program)
check "a missing executable is InvalidArgs" grep -q '^org.troupe.Error.InvalidArgs .*No such file' <<<"$err"
err=$("$HELPER" spawn x /bin/true restart=sometimes)
check "a bad restart policy is InvalidArgs" grep -q '^org.troupe.Error.InvalidArgs .*on-failure' <<<"$err"

check "a wrong option type is refused" grep -q "Option 'restart' must have type 's'" \
        <<<"$(spawn_error x 1 restart b true -- /bin/true)"
check "empty argv is refused" grep -q "argv must not be empty" <<<"$(spawn_error x 0 --)"
check "a directory as argv[0] is refused" grep -q "not an executable file" <<<"$(spawn_error x 0 -- /tmp)"
touch "$T/not-executable"
check "a file without x as argv[0] is refused" grep -q "Permission denied" \
        <<<"$(spawn_error x 0 -- "$T/not-executable")"
check "a bad process name is refused" grep -q "Invalid process name" <<<"$(spawn_error 'Bad Name' 0 -- /bin/true)"
check "a malformed env entry is refused" grep -q "NAME=value" <<<"$(spawn_error x 1 env as 1 NOEQUALS -- /bin/true)"
check "env may not set TROUPE_AGENT_FD" grep -q "TROUPE_AGENT_FD" \
        <<<"$(spawn_error x 1 env as 1 TROUPE_AGENT_FD=7 -- /bin/true)"
check "a relative workspace is refused" grep -q "'workspace' must be an absolute path" \
        <<<"$(spawn_error x 1 workspace s rel/dir -- /bin/true)"
check "a missing workspace is refused" grep -q "Cannot use '$T/nope' as the workspace" \
        <<<"$(spawn_error x 1 workspace s "$T/nope" -- /bin/true)"
check "an unknown profile is refused" grep -q "unknown profile 'jail'" \
        <<<"$(spawn_error x 1 profile s jail -- /bin/true)"
check "an unknown capability is refused by the sandbox" grep -q 'Cannot confine the process (profile agent): invalid capability "cap_fly"' \
        <<<"$(spawn_error x 1 capabilities as 1 cap_fly -- /bin/true)"
check "cpu_weight 0 is refused" grep -q "cpu_weight" <<<"$(spawn_error x 1 cpu_weight t 0 -- /bin/true)"
check "a stop timeout over 300 s is refused" grep -q "stop_timeout_usec" \
        <<<"$(spawn_error x 1 stop_timeout_usec t 301000000 -- /bin/true)"
check_eq "refused spawns leave no process behind" 'a(ssuso) 0' \
        "$(tbusctl call "$SUP" "$SUP_PATH" "$SUP.Manager" ListProcesses)"

# What a child gets: a scrubbed environment plus `env`, only fds 0-2, the workspace as its cwd.
mkdir -p "$T/ws"
# In a sanitizer build the helper's LeakSanitizer would need ptrace at exit, which the sandbox
# refuses (and must): leave leak checking to where the helper runs unconfined.
NO_LSAN=ASAN_OPTIONS=detect_leaks=0
sup_spawn envdump 3 env as 3 FOO=bar PATH=/custom/bin "$NO_LSAN" workspace s "$T/ws" profile s agent -- \
        /bin/sh -c '/usr/bin/env; echo "cwd=$(pwd)"; exec "$0" fds' "$HELPER"
check "Spawn returns a 16-hex-digit id" grep -qE '^[0-9a-f]{16}$' <<<"$ID"
check "the process object is under /org/troupe/Supervisor1/process" \
        grep -q '^/org/troupe/Supervisor1/process/' <<<"$OBJ"
wait_until prop_is "$OBJ" State exited
out=$(log_file "$ID")
check "the child does not see the supervisor's environment" not grep -q SUPERVISOR_SECRET <<<"$out"
check "the child does not see the bus address" not grep -q DBUS_SESSION_BUS_ADDRESS <<<"$out"
check "the child sees env entries" grep -qx 'FOO=bar' <<<"$out"
check "env entries replace the defaults" grep -qx 'PATH=/custom/bin' <<<"$out"
check "the child knows its id" grep -qx "TROUPE_PROCESS_ID=$ID" <<<"$out"
check "the child gets TROUPE_STATE_DIR" grep -qx "TROUPE_STATE_DIR=$XDG_STATE_HOME/troupe" <<<"$out"
check "with a workspace, HOME is private, in the workspace" grep -qx "HOME=$T/ws/.troupe/home" <<<"$out"
check "and so is TMPDIR" grep -qx "TMPDIR=$T/ws/.troupe/tmp" <<<"$out"
check "the child runs in its workspace" grep -qx "cwd=$T/ws" <<<"$out"
check_eq "the child has only stdin, stdout and stderr" "fds 0 1 2" "$(grep '^fds' <<<"$out")"
conf=$(prop "$OBJ" Confinement)
check "Confinement names the profile applied" grep -q '^{"profile":"agent",' <<<"$conf"
check "Confinement names the layers applied" grep -qE '"applied":\[[^]]*"landlock"[^]]*"seccomp"' <<<"$conf"
check "Confinement reports the requested profile" grep -q '"requested":{"profile":"agent"}' <<<"$conf"
check_eq "LogPath names the log file" "$LOGS/$ID.log" "$(prop "$OBJ" LogPath)"
check "ListProcesses lists it" grep -q "\"$ID\" \"envdump\" 0 \"exited\" \"$OBJ\"" \
        <<<"$(tbusctl call "$SUP" "$SUP_PATH" "$SUP.Manager" ListProcesses)"
check "it is a managed object" grep -q "$OBJ" \
        <<<"$(tbusctl call "$SUP" "$SUP_PATH" org.freedesktop.DBus.ObjectManager GetManagedObjects)"

# agent=true: fd 3 is a connection to the agent socket (a stand-in listener here).
check "agent=true without an agent socket is refused" grep -q "agent socket" \
        <<<"$(spawn_error agent 1 agent b true -- "$HELPER" agent-child)"
"$HELPER" listen "$XDG_RUNTIME_DIR/troupe/agent.sock" >"$T/listener.out" 2>&1 &
_pids+=($!)
wait_until grep -q '^listening' "$T/listener.out"
sup_spawn agent 2 agent b true env as 1 "$NO_LSAN" -- "$HELPER" agent-child
wait_until prop_is "$OBJ" State exited
out=$(log_file "$ID")
check "the agent child finds a SEQPACKET socket on fd 3" grep -qx 'fd3 ok' <<<"$out"
check_eq "the agent child has fds 0-3 only" "fds 0 1 2 3" "$(grep '^fds' <<<"$out")"
check "the listener got the agent's packet" wait_until grep -q '^packet hello from ' "$T/listener.out"
check_eq "exit status 0 ends in exited" "0" "$(prop "$OBJ" ExitStatus)"
