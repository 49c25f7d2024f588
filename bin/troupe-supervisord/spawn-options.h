/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn-options.h: what Spawn() accepts (argv and the a{sv} options), its validation, and the
 * environment a child gets. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "basic/time-util.h"

typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_FAILURE, /* after a non-zero exit or a signal */
        RESTART_ALWAYS, /* after any exit that Stop() did not ask for */
        _RESTART_POLICY_MAX,
        _RESTART_POLICY_INVALID = -EINVAL,
} RestartPolicy;

const char *restart_policy_to_string(RestartPolicy p) _const_;
RestartPolicy restart_policy_from_string(const char *s) _pure_;

/* A cgroup limit nobody asked for. */
#define SPAWN_LIMIT_UNSET UINT64_MAX
#define SPAWN_STOP_TIMEOUT_DEFAULT_USEC (5 * USEC_PER_SEC)
#define SPAWN_STOP_TIMEOUT_MAX_USEC (300 * USEC_PER_SEC)
#define SPAWN_CPU_WEIGHT_MIN 1U
#define SPAWN_CPU_WEIGHT_MAX 10000U
#define SPAWN_NAME_MAX 64U
#define SPAWN_ARGV_MAX 256U

/* How a child's environment is built: scrubbed for anything asked for over the bus; suite
 * members (our own daemons) also get the supervisor's TROUPE_*, XDG_* and bus address. */
typedef enum SpawnEnvMode {
        SPAWN_ENV_SCRUBBED,
        SPAWN_ENV_SUITE,
} SpawnEnvMode;

typedef struct SpawnOptions {
        char *workspace;
        char *cwd;
        char *profile;
        char **env;
        uint64_t memory_max;
        uint64_t tasks_max;
        uint64_t cpu_weight;
        char **capabilities; /* sandbox grants: net.loopback, net.connect:HOST:PORT... */
        char **read_only; /* more paths the sandbox lets it read and execute */
        RestartPolicy restart;
        bool agent;
        uint64_t stop_timeout_usec;
        SpawnEnvMode env_mode; /* not settable over the bus */
} SpawnOptions;

void spawn_options_init(SpawnOptions *o);
void spawn_options_done(SpawnOptions *o);

/* Reads Spawn()'s a{sv} argument into `o` (initialised by the caller) and validates it; refusals
 * are org.troupe.Error.InvalidArgs naming the option. */
int spawn_options_read(sd_bus_message *m, SpawnOptions *o, sd_bus_error *error);
/* The checks spawn_options_read() applies after parsing, for options built in code. */
int spawn_options_validate(const SpawnOptions *o, sd_bus_error *error);

/* Checks a process name (name_is_valid(), at most SPAWN_NAME_MAX bytes) and argv: 1..SPAWN_ARGV_MAX
 * entries, argv[0] an absolute path. Whether it is an executable file is checked when it is
 * opened for the spawn. */
int spawn_name_validate(const char *name, sd_bus_error *error);
int spawn_argv_validate(char *const *argv, sd_bus_error *error);

/* Builds the child's environment, "NAME=value" entries:
 *   PATH (the supervisor's, else a default), HOME, LANG;
 *   the TROUPE_* locations as the supervisor computes them (TROUPE_RUNTIME_DIR, TROUPE_STATE_DIR,
 *   TROUPE_DATA_DIR, TROUPE_WORKSPACES_DIR, TROUPE_CONFIG_DIR) and TROUPE_LOG_LEVEL if set;
 *   TROUPE_PROCESS_ID, TROUPE_WORKSPACE when a workspace is given, TROUPE_AGENT_FD=3 for agents;
 *   in SPAWN_ENV_SUITE mode every TROUPE_* and XDG_* variable of the supervisor and its bus
 *   address (DBUS_SESSION_BUS_ADDRESS), never NOTIFY_SOCKET or WATCHDOG_*;
 *   then the `env` option's entries, which replace earlier ones of the same name;
 *   with a private_dir (beneath the workspace), HOME=<private_dir>/home and TMPDIR=<private_dir>/tmp,
 *   which the `env` option may not set (spawn_options_validate() refuses that). */
int spawn_build_env(const SpawnOptions *o, const char *process_id, const char *private_dir, char ***ret);

/* "NAME=value" with NAME of [A-Za-z_][A-Za-z0-9_]*. */
bool env_assignment_is_valid(const char *s) _pure_;
/* Adds or replaces the assignment for NAME in *l. */
int env_put(char ***l, const char *assignment);
int env_set(char ***l, const char *name, const char *value);
