/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "paths/paths.h"
#include "json/json-util.h"
#include "process.h"
#include "suite.h"

#define SUITE_ARGS_MAX 32U
#define SUITE_LINE_MAX 4096U

struct SuiteMember {
        Suite *suite;
        char *name;
        char *bus_name;
        RestartPolicy restart;
        char **argv; /* argv[0] as the table gives it */

        Process *process; /* NULL until started; pinned, so it lives as long as the context */
        bool owns_name; /* the name's owner is this member's running process */
        sd_bus_slot *match_slot;
        sd_bus_slot *owner_query_slot; /* GetNameOwner */
        sd_bus_slot *pid_query_slot; /* GetConnectionUnixProcessID */
        sd_event_source *start_timer;
};

struct Suite {
        Context *context;
        SuiteMember *members;
        size_t n_members;
        size_t n_started; /* members started so far, in table order */
        bool ready;
};

/* The suite, in start order. */
static const struct {
        const char *name;
        const char *bus_name;
        RestartPolicy restart;
        const char *executable;
} suite_procs[] = {
        {"registry", "org.troupe.Registry1", RESTART_ON_FAILURE, "troupe-registryd"},
        {"router", "org.troupe.Router1", RESTART_ON_FAILURE, "troupe-routerd"},
};

static void member_done(SuiteMember *m) {
        m->match_slot = sd_bus_slot_unref(m->match_slot);
        m->owner_query_slot = sd_bus_slot_unref(m->owner_query_slot);
        m->pid_query_slot = sd_bus_slot_unref(m->pid_query_slot);
        m->start_timer = sd_event_source_disable_unref(m->start_timer);
        m->name = mfree(m->name);
        m->bus_name = mfree(m->bus_name);
        m->argv = strv_free(m->argv);
}

void suite_members_free(SuiteMember *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                member_done(m + i);
        free(m);
}

Suite *suite_free(Suite *s) {
        if (!s)
                return NULL;
        suite_members_free(s->members, s->n_members);
        return mfree(s);
}

static int member_init(SuiteMember *m, const char *name, const char *bus_name, RestartPolicy restart,
                       char **argv) {
        *m = (SuiteMember) { .restart = restart };
        m->name = strdup(name);
        m->bus_name = strdup(bus_name);
        m->argv = strv_copy(argv);
        if (!m->name || !m->bus_name || !m->argv)
                return -ENOMEM;
        return 0;
}

/* Splits one line at blanks into at most max fields. */
static int split_fields(char *line, char **fields, size_t max, size_t *ret_n) {
        char *save = NULL;
        size_t n = 0;

        for (char *tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                if (n >= max)
                        return -E2BIG;
                fields[n++] = tok;
        }
        *ret_n = n;
        return 0;
}

static int parse_member(char *line, unsigned lineno, SuiteMember *m) {
        char *fields[4 + SUITE_ARGS_MAX + 1] = {};
        RestartPolicy restart;
        size_t n;

        if (split_fields(line, fields, ELEMENTSOF(fields) - 1, &n) < 0)
                return log_error_errno(-E2BIG, "Suite table line %u: more than %u arguments.", lineno,
                                       SUITE_ARGS_MAX);
        if (n < 4)
                return log_error_errno(
                        -EINVAL, "Suite table line %u: expected NAME BUS_NAME RESTART EXECUTABLE [ARGS...].",
                        lineno);
        if (!name_is_valid(fields[0], SPAWN_NAME_MAX))
                return log_error_errno(-EINVAL, "Suite table line %u: invalid name '%s'.", lineno,
                                       fields[0]);
        if (!sd_bus_service_name_is_valid(fields[1]) || fields[1][0] == ':')
                return log_error_errno(-EINVAL, "Suite table line %u: invalid bus name '%s'.", lineno,
                                       fields[1]);
        restart = restart_policy_from_string(fields[2]);
        if (restart < 0)
                return log_error_errno(
                        -EINVAL, "Suite table line %u: restart must be no, on-failure or always.", lineno);
        if (strchr(fields[3], '/') && fields[3][0] != '/')
                return log_error_errno(
                        -EINVAL, "Suite table line %u: the executable must be absolute or a bare name.",
                        lineno);
        return member_init(m, fields[0], fields[1], restart, fields + 3);
}

static bool member_name_taken(const SuiteMember *members, size_t n, const SuiteMember *m) {
        for (size_t i = 0; i < n; i++)
                if (streq(members[i].name, m->name) || streq(members[i].bus_name, m->bus_name))
                        return true;
        return false;
}

int suite_parse_table(const char *text, SuiteMember **ret, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(text);
        SuiteMember *members = NULL;
        size_t n = 0;
        unsigned lineno = 0;
        char *eol;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        members = calloc(SUITE_MEMBERS_MAX, sizeof(SuiteMember));
        if (!members)
                return -ENOMEM;

        for (char *line = copy; line; line = eol ? eol + 1 : NULL) {
                eol = strchr(line, '\n');
                if (eol)
                        *eol = 0;
                lineno++;
                line += strspn(line, " \t");
                if (*line == 0 || *line == '#')
                        continue;
                if (strlen(line) > SUITE_LINE_MAX) {
                        r = log_error_errno(-EINVAL, "Suite table line %u is too long.", lineno);
                        break;
                }
                if (n >= SUITE_MEMBERS_MAX) {
                        r = log_error_errno(-E2BIG, "Suite table has more than %u members.",
                                            SUITE_MEMBERS_MAX);
                        break;
                }
                r = parse_member(line, lineno, members + n);
                if (r < 0) {
                        member_done(members + n);
                        break;
                }
                n++;
                if (member_name_taken(members, n - 1, members + n - 1)) {
                        r = log_error_errno(-EINVAL, "Suite table line %u repeats a name or bus name.",
                                            lineno);
                        break;
                }
        }
        if (r >= 0 && n == 0)
                r = log_error_errno(-EINVAL, "Suite table has no members.");
        if (r < 0) {
                suite_members_free(members, n);
                return r;
        }
        *ret = members;
        *ret_n = n;
        return 0;
}

static int suite_builtin_table(SuiteMember **ret, size_t *ret_n) {
        SuiteMember *members = calloc(ELEMENTSOF(suite_procs), sizeof(SuiteMember));
        int r;

        if (!members)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(suite_procs); i++) {
                char *argv[] = {(char *) suite_procs[i].executable, NULL};

                r = member_init(members + i, suite_procs[i].name, suite_procs[i].bus_name,
                                suite_procs[i].restart, argv);
                if (r < 0) {
                        suite_members_free(members, i + 1);
                        return r;
                }
        }
        *ret = members;
        *ret_n = ELEMENTSOF(suite_procs);
        return 0;
}

static int suite_load_table(const char *path, SuiteMember **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file_at(AT_FDCWD, path, SUITE_TABLE_SIZE_MAX, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read the suite table %s: %m", path);
        r = suite_parse_table(text, ret, ret_n);
        if (r < 0)
                return log_error_errno(r, "Suite table %s is not valid.", path);
        return 0;
}

int suite_new(Context *c, const char *table_path, Suite **ret) {
        Suite *s;
        int r;

        s = calloc(1, sizeof(Suite));
        if (!s)
                return log_oom();
        s->context = c;
        r = table_path ? suite_load_table(table_path, &s->members, &s->n_members)
                       : suite_builtin_table(&s->members, &s->n_members);
        if (r < 0) {
                free(s);
                return r;
        }
        for (size_t i = 0; i < s->n_members; i++)
                s->members[i].suite = s;
        *ret = s;
        return 0;
}

/* A bare executable name lives in the daemons' directory (TROUPE_PATH_LIBEXEC). */
static int member_argv(const SuiteMember *m, char ***ret) {
        _cleanup_strv_free_ char **argv = strv_copy(m->argv);
        _cleanup_free_ char *dir = NULL;
        char *path;
        int r;

        if (!argv)
                return -ENOMEM;
        if (argv[0][0] != '/') {
                r = troupe_path_get(TROUPE_PATH_LIBEXEC, &dir);
                if (r < 0)
                        return r;
                path = strjoin(dir, "/", argv[0]);
                if (!path)
                        return -ENOMEM;
                free(argv[0]);
                argv[0] = path;
        }
        *ret = TAKE_PTR(argv);
        return 0;
}

static void suite_continue(Suite *s);

static void member_set_owned(SuiteMember *m, bool owned) {
        if (m->owns_name == owned)
                return;
        m->owns_name = owned;
        if (!owned) {
                log_warning("Suite member %s no longer owns %s.", m->name, m->bus_name);
                return;
        }
        m->start_timer = sd_event_source_disable_unref(m->start_timer);
        log_info("Suite member %s owns %s.", m->name, m->bus_name);
        suite_continue(m->suite);
}

static int on_owner_pid(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SuiteMember *m = userdata;
        uint32_t pid;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL))
                return 0; /* the owner went away meanwhile: NameOwnerChanged says so */
        r = sd_bus_message_read(reply, "u", &pid);
        if (r < 0)
                return 0;
        if (m->process && m->process->state == PROCESS_RUNNING && (pid_t) pid == m->process->pid) {
                member_set_owned(m, true);
                return 0;
        }
        log_warning("%s is owned by pid %u, not by suite member %s (pid %d).", m->bus_name, pid, m->name,
                    m->process ? (int) m->process->pid : 0);
        return 0;
}

/* An owner appeared or went: check it is our child before counting the member as up. */
static void member_owner_changed(SuiteMember *m, const char *owner) {
        int r;

        m->pid_query_slot = sd_bus_slot_unref(m->pid_query_slot);
        if (isempty(owner)) {
                member_set_owned(m, false);
                return;
        }
        r = sd_bus_call_method_async(m->suite->context->bus, &m->pid_query_slot, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "GetConnectionUnixProcessID", on_owner_pid, m, "s", owner);
        if (r < 0)
                log_warning_errno(r, "Failed to ask for the owner of %s, ignoring: %m", m->bus_name);
}

static int on_name_owner_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        SuiteMember *m = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner) < 0 ||
            !streq(name, m->bus_name))
                return 0;
        member_owner_changed(m, new_owner);
        return 0;
}

static int on_name_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SuiteMember *m = userdata;
        const char *owner;

        if (sd_bus_message_is_method_error(reply, NULL))
                return 0; /* no owner yet */
        if (sd_bus_message_read(reply, "s", &owner) >= 0)
                member_owner_changed(m, owner);
        return 0;
}

/* Once the match is in place, ask once: the name may have been taken before it was. */
static int on_match_installed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SuiteMember *m = userdata;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL))
                log_warning("Failed to watch %s: %s", m->bus_name, sd_bus_message_get_error(reply)->message);
        r = sd_bus_call_method_async(m->suite->context->bus, &m->owner_query_slot, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                     on_name_owner, m, "s", m->bus_name);
        if (r < 0)
                log_warning_errno(r, "Failed to ask for the owner of %s, ignoring: %m", m->bus_name);
        return 0;
}

static int member_watch_name(SuiteMember *m) {
        _cleanup_free_ char *match = NULL;

        if (m->match_slot)
                return 0;
        if (asprintf_safe(&match,
                          "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                          "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                          m->bus_name) < 0)
                return -ENOMEM;
        return sd_bus_add_match_async(m->suite->context->bus, &m->match_slot, match, on_name_owner_changed,
                                      on_match_installed, m);
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        SuiteMember *m = userdata;

        m->start_timer = sd_event_source_disable_unref(m->start_timer);
        log_error("Suite member %s did not take %s within %llu s, killing it.", m->name, m->bus_name,
                  (unsigned long long) (SUITE_START_TIMEOUT_USEC / USEC_PER_SEC));
        if (m->process)
                (void) process_kill(m->process, SIGKILL);
        return 0;
}

static void member_arm_start_timer(SuiteMember *m) {
        int r;

        m->start_timer = sd_event_source_disable_unref(m->start_timer);
        r = sd_event_add_time_relative(m->suite->context->event, &m->start_timer, CLOCK_MONOTONIC,
                                       SUITE_START_TIMEOUT_USEC, 0, on_start_timeout, m);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the start timeout of %s, ignoring: %m", m->name);
}

static void member_process_changed(Process *p, void *userdata) {
        SuiteMember *m = userdata;
        Context *c = m->suite->context;

        if (p->state == PROCESS_RUNNING) {
                if (!m->owns_name)
                        member_arm_start_timer(m);
                return;
        }
        m->start_timer = sd_event_source_disable_unref(m->start_timer);
        if (process_is_active(p) || c->shutting_down)
                return;

        log_error("Suite member %s has %s and will not be restarted.", m->name,
                  process_state_to_string(p->state));
        if (!m->suite->ready) {
                log_error("The suite could not be started.");
                supervisor_shutdown(c, EXIT_FAILURE);
        }
}

static int member_start(SuiteMember *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **argv = NULL;
        SpawnOptions options;
        Process *p;
        int r;

        r = member_argv(m, &argv);
        if (r < 0)
                return log_oom();
        r = member_watch_name(m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the bus name %s: %m", m->bus_name);

        spawn_options_init(&options);
        options.restart = m->restart;
        options.env_mode = SPAWN_ENV_SUITE;
        r = process_spawn(m->suite->context, m->name, argv, &options, &error, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to start suite member %s: %s", m->name,
                                       error.message ?: strerror(-r));
        p->pinned = true;
        p->watch = member_process_changed;
        p->watch_userdata = m;
        m->process = p;
        member_arm_start_timer(m);
        return 0;
}

/* Starts the next member once the one before it owns its name; READY=1 after the last. */
static void suite_continue(Suite *s) {
        Context *c = s->context;

        if (c->shutting_down)
                return;
        if (s->n_started > 0 && !s->members[s->n_started - 1].owns_name)
                return;
        if (s->n_started < s->n_members) {
                if (member_start(s->members + s->n_started++) < 0)
                        supervisor_shutdown(c, EXIT_FAILURE);
                return;
        }
        if (!s->ready) {
                s->ready = true;
                supervisor_notify_ready(c);
        }
}

int suite_start(Suite *s) {
        log_info("Starting the suite: %zu members.", s->n_members);
        /* A member that cannot be started shuts the supervisor down with EXIT_FAILURE. */
        suite_continue(s);
        return 0;
}

bool suite_stop_next(Suite *s) {
        for (size_t i = s->n_members; i > 0; i--) {
                SuiteMember *m = s->members + i - 1;

                if (!m->process || !process_is_active(m->process))
                        continue;
                if (!m->process->stopping)
                        log_info("Stopping suite member %s.", m->name);
                (void) process_stop(m->process);
                return true;
        }
        return false;
}

static int member_describe(const SuiteMember *m, json_t **ret) {
        const Process *p = m->process;
        json_t *v;

        v = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:i, s:b, s:i, s:b}", "name", m->name, "bus_name",
                      m->bus_name, "restart", restart_policy_to_string(m->restart), "executable", m->argv[0],
                      "process", p ? p->id : NULL, "state",
                      p ? process_state_to_string(p->state) : "not-started", "pid", p ? (int) p->pid : 0,
                      "owns_name", m->owns_name, "restarts", p ? (int) p->restarts : 0, "restart_limit_hit",
                      p ? p->restart_limit_hit : false);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

int suite_describe(Suite *s, json_t **ret) {
        _cleanup_json_ json_t *members = json_array();
        json_t *v;
        int r;

        if (!members)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_members; i++) {
                r = member_describe(s->members + i, &v);
                if (r < 0)
                        return r;
                if (json_array_append_new(members, v) < 0)
                        return -ENOMEM;
        }
        v = json_pack("{s:b, s:O}", "ready", s->ready, "members", members);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}
