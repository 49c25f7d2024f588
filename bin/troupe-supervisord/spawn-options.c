/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "confinement.h"
#include "paths/paths.h"
#include "spawn-options.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static const char *const restart_policy_table[_RESTART_POLICY_MAX] = {
        [RESTART_NO] = "no",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_ALWAYS] = "always",
};
DEFINE_STRING_TABLE_LOOKUP(restart_policy, RestartPolicy);

void spawn_options_init(SpawnOptions *o) {
        *o = (SpawnOptions) {
                .memory_max = SPAWN_LIMIT_UNSET,
                .tasks_max = SPAWN_LIMIT_UNSET,
                .cpu_weight = SPAWN_LIMIT_UNSET,
                .restart = RESTART_NO,
                .stop_timeout_usec = SPAWN_STOP_TIMEOUT_DEFAULT_USEC,
                .env_mode = SPAWN_ENV_SCRUBBED,
        };
}

void spawn_options_done(SpawnOptions *o) {
        o->workspace = mfree(o->workspace);
        o->cwd = mfree(o->cwd);
        o->profile = mfree(o->profile);
        o->env = strv_free(o->env);
        o->capabilities = strv_free(o->capabilities);
        o->read_only = strv_free(o->read_only);
}

static int option_restart(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        RestartPolicy policy;
        const char *s;
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &s);
        if (r < 0)
                return r;
        policy = restart_policy_from_string(s);
        if (policy < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' must be 'no', 'on-failure' or 'always'.", key);
        *(RestartPolicy *) p = policy;
        return 0;
}

static const BusOption spawn_option_table[] = {
        { "workspace", "s", bus_option_string, offsetof(SpawnOptions, workspace) },
        { "cwd", "s", bus_option_string, offsetof(SpawnOptions, cwd) },
        { "profile", "s", bus_option_string, offsetof(SpawnOptions, profile) },
        { "env", "as", bus_option_strv, offsetof(SpawnOptions, env) },
        { "memory_max", "t", bus_option_uint64, offsetof(SpawnOptions, memory_max) },
        { "tasks_max", "t", bus_option_uint64, offsetof(SpawnOptions, tasks_max) },
        { "cpu_weight", "t", bus_option_uint64, offsetof(SpawnOptions, cpu_weight) },
        { "capabilities", "as", bus_option_strv, offsetof(SpawnOptions, capabilities) },
        { "read_only", "as", bus_option_strv, offsetof(SpawnOptions, read_only) },
        { "restart", "s", option_restart, offsetof(SpawnOptions, restart) },
        { "agent", "b", bus_option_bool, offsetof(SpawnOptions, agent) },
        { "stop_timeout_usec", "t", bus_option_uint64, offsetof(SpawnOptions, stop_timeout_usec) },
        {}
};

int spawn_options_read(sd_bus_message *m, SpawnOptions *o, sd_bus_error *error) {
        int r;

        r = bus_read_options(m, spawn_option_table, o, error);
        if (r < 0)
                return r;
        return spawn_options_validate(o, error);
}

static int validate_dir(const char *key, const char *path, sd_bus_error *error) {
        if (!path)
                return 0;
        if (path[0] != '/')
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' must be an absolute path, got '%s'.", key, path);
        if (strlen(path) >= PATH_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option '%s' is longer than PATH_MAX.",
                                      key);
        return 0;
}

static int validate_env(const SpawnOptions *o, sd_bus_error *error) {
        STRV_FOREACH(e, o->env) {
                if (!env_assignment_is_valid(*e))
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Option 'env' entries must be NAME=value, got '%s'.", *e);
                if (startswith(*e, "TROUPE_AGENT_FD=") || startswith(*e, "TROUPE_PROCESS_ID="))
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Option 'env' may not set '%.*s': the supervisor does.",
                                              (int) strcspn(*e, "="), *e);
                /* Not silently replaced: the caller would believe it was used. */
                if (confinement_has_private_dirs(o) &&
                    (startswith(*e, "HOME=") || startswith(*e, "TMPDIR=")))
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Option 'env' may not set '%.*s' with a workspace: the "
                                              "supervisor sets it to a private directory beneath the "
                                              "workspace.",
                                              (int) strcspn(*e, "="), *e);
        }
        return 0;
}

static int validate_read_only(char *const *paths, sd_bus_error *error) {
        const char *bad = NULL;
        int r;

        r = confinement_read_only_validate(paths, &bad);
        if (r == -EINVAL)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'read_only' must list absolute paths, got '%s'.", bad);
        if (r == -E2BIG)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'read_only' lists more than %u paths.",
                                      CONFINEMENT_READ_ONLY_MAX);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option 'read_only' names '%s': %s",
                                      bad, strerror(-r));
        return 0;
}

static int validate_limits(const SpawnOptions *o, sd_bus_error *error) {
        if (o->memory_max == 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'memory_max' must be positive.");
        if (o->tasks_max == 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option 'tasks_max' must be positive.");
        if (o->cpu_weight != SPAWN_LIMIT_UNSET &&
            (o->cpu_weight < SPAWN_CPU_WEIGHT_MIN || o->cpu_weight > SPAWN_CPU_WEIGHT_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'cpu_weight' must be in %u..%u.", SPAWN_CPU_WEIGHT_MIN,
                                      SPAWN_CPU_WEIGHT_MAX);
        if (o->stop_timeout_usec > SPAWN_STOP_TIMEOUT_MAX_USEC)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'stop_timeout_usec' may be at most %llu (%u s).",
                                      (unsigned long long) SPAWN_STOP_TIMEOUT_MAX_USEC,
                                      (unsigned) (SPAWN_STOP_TIMEOUT_MAX_USEC / USEC_PER_SEC));
        return 0;
}

int spawn_options_validate(const SpawnOptions *o, sd_bus_error *error) {
        int r;

        r = validate_dir("workspace", o->workspace, error);
        if (r < 0)
                return r;
        r = validate_dir("cwd", o->cwd, error);
        if (r < 0)
                return r;
        if (o->profile && !confinement_profile_is_known(o->profile))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'profile' names an unknown profile '%s'. Known profiles: %s.",
                                      o->profile, CONFINEMENT_PROFILES);
        r = validate_env(o, error);
        if (r < 0)
                return r;
        /* Capabilities are checked by the sandbox that grants them, when it is built. */
        r = validate_read_only(o->read_only, error);
        if (r < 0)
                return r;
        return validate_limits(o, error);
}

int spawn_name_validate(const char *name, sd_bus_error *error) {
        if (!name_is_valid(name, SPAWN_NAME_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Invalid process name '%s': use 1-%u lowercase letters, digits, '.', "
                                      "'_' or '-', starting with a letter or digit.",
                                      name, SPAWN_NAME_MAX);
        return 0;
}

int spawn_argv_validate(char *const *argv, sd_bus_error *error) {
        size_t n = strv_length(argv);

        if (n == 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "argv must not be empty.");
        if (n > SPAWN_ARGV_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "argv has %zu entries, at most %u are allowed.", n, SPAWN_ARGV_MAX);
        if (argv[0][0] != '/')
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "argv[0] must be an absolute path to an executable, got '%s'.",
                                      argv[0]);
        if (strlen(argv[0]) >= PATH_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "argv[0] is longer than PATH_MAX.");
        return 0;
}

bool env_assignment_is_valid(const char *s) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return false;
        if (!(isalpha((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (const char *c = s; c < eq; c++)
                if (!(isalnum((unsigned char) *c) || *c == '_'))
                        return false;
        return true;
}

int env_put(char ***l, const char *assignment) {
        size_t n = strcspn(assignment, "=");
        char *copy;

        assert_return(assignment[n] == '=', -EINVAL);

        for (char **e = *l; e && *e; e++)
                if (strncmp(*e, assignment, n + 1) == 0) {
                        copy = strdup(assignment);
                        if (!copy)
                                return -ENOMEM;
                        free(*e);
                        *e = copy;
                        return 0;
                }
        return strv_extend(l, assignment);
}

int env_set(char ***l, const char *name, const char *value) {
        _cleanup_free_ char *s = strjoin(name, "=", value);

        if (!s)
                return -ENOMEM;
        return env_put(l, s);
}

static int env_inherit(char ***l, const char *name) {
        const char *v = getenv(name);

        return v ? env_set(l, name, v) : 0;
}

static int env_add_locations(char ***l) {
        static const struct {
                TroupePath path;
                const char *name;
        } locations[] = {
                {TROUPE_PATH_RUNTIME, "TROUPE_RUNTIME_DIR"},
                {TROUPE_PATH_STATE, "TROUPE_STATE_DIR"},
                {TROUPE_PATH_DATA, "TROUPE_DATA_DIR"},
                {TROUPE_PATH_WORKSPACES, "TROUPE_WORKSPACES_DIR"},
                {TROUPE_PATH_CONFIG, "TROUPE_CONFIG_DIR"},
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(locations); i++) {
                _cleanup_free_ char *p = NULL;

                /* A location the supervisor cannot compute (no $XDG_RUNTIME_DIR) is left out. */
                if (troupe_path_get(locations[i].path, &p) < 0)
                        continue;
                r = env_set(l, locations[i].name, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int env_add_suite(char ***l) {
        extern char **environ;
        int r;

        STRV_FOREACH(e, environ) {
                if (!startswith(*e, "TROUPE_") && !startswith(*e, "XDG_") &&
                    !startswith(*e, "DBUS_SESSION_BUS_ADDRESS="))
                        continue;
                if (!env_assignment_is_valid(*e))
                        continue;
                r = env_put(l, *e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int spawn_build_env(const SpawnOptions *o, const char *process_id, const char *private_dir, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *path = getenv("PATH");
        int r;

        r = env_set(&l, "PATH", isempty(path) ? DEFAULT_PATH : path);
        if (r >= 0)
                r = env_inherit(&l, "HOME");
        if (r >= 0)
                r = env_inherit(&l, "LANG");
        if (r >= 0)
                r = env_add_locations(&l);
        if (r >= 0)
                r = env_inherit(&l, "TROUPE_LOG_LEVEL");
        /* Where the bootstrap agent finds its templates and interpreter (dev trees, tests). */
        if (r >= 0)
                r = env_inherit(&l, "TROUPE_TEMPLATES_DIR");
        if (r >= 0)
                r = env_inherit(&l, "TROUPE_PYTHON");
        if (r >= 0 && o->env_mode == SPAWN_ENV_SUITE)
                r = env_add_suite(&l);
        if (r >= 0)
                r = env_set(&l, "TROUPE_PROCESS_ID", process_id);
        if (r >= 0 && o->workspace)
                r = env_set(&l, "TROUPE_WORKSPACE", o->workspace);
        if (r >= 0 && o->agent)
                r = env_set(&l, "TROUPE_AGENT_FD", "3");
        if (r < 0)
                return r;

        STRV_FOREACH(e, o->env) {
                r = env_put(&l, *e);
                if (r < 0)
                        return r;
        }

        if (private_dir) {
                _cleanup_free_ char *home = strjoin(private_dir, "/" CONFINEMENT_PRIVATE_HOME),
                                    *tmp = strjoin(private_dir, "/" CONFINEMENT_PRIVATE_TMP);

                if (!home || !tmp)
                        return -ENOMEM;
                r = env_set(&l, "HOME", home);
                if (r >= 0)
                        r = env_set(&l, "TMPDIR", tmp);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l);
        return 0;
}
