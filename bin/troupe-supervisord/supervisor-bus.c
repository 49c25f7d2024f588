/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-describe.h"
#include "bus/bus-error.h"
#include "bus/bus-log-control.h"
#include "bus/bus-util.h"
#include "spawn.h"
#include "supervisor-audit.h"
#include "supervisor-bus.h"

static int process_not_running(sd_bus_error *error, const Process *p) {
        return bus_error_setf(error, BUS_ERROR_FAILED, "Process %s (%s) is not running: it is %s.", p->id,
                              p->name, process_state_to_string(p->state));
}

static int method_stop_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        int r;

        r = process_stop(p);
        if (r == -ESRCH)
                return process_not_running(error, p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}
BUS_DEFINE_METHOD_HANDLER(method_stop, method_stop_impl)

static int method_kill_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        int sig, r;

        r = sd_bus_message_read(m, "i", &sig);
        if (r < 0)
                return r;
        if (sig <= 0 || sig > SIGRTMAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Signal %d is not valid: use 1..%d.",
                                      sig, SIGRTMAX);
        r = process_kill(p, sig);
        if (r == -ESRCH)
                return process_not_running(error, p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}
BUS_DEFINE_METHOD_HANDLER(method_kill, method_kill_impl)

static int method_open_log_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        Process *p = userdata;
        uint64_t offset;
        int r;

        r = sd_bus_message_read(m, "t", &offset);
        if (r < 0)
                return r;
        r = process_log_open_reader(p->log, offset, &fd);
        if (r == -ERANGE)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Offset %llu is beyond the end of the log of %s (%llu bytes so far).",
                                      (unsigned long long) offset, p->id,
                                      (unsigned long long) p->log->total);
        if (r == -ENOBUFS)
                return bus_error_setf(error, BUS_ERROR_OVERLOADED,
                                      "The log of %s already has %u readers: close one first.", p->id,
                                      PROCESS_LOG_READERS_MAX);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "h", fd);
}
BUS_DEFINE_METHOD_HANDLER(method_open_log, method_open_log_impl)

static int property_get_argv(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        return sd_bus_message_append_strv(reply, p->argv);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        return sd_bus_message_append(reply, "s", process_state_to_string(p->state));
}

static int property_get_restart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        return sd_bus_message_append(reply, "s", restart_policy_to_string(p->options.restart));
}

static int property_get_restart_limit_hit(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        Process *p = userdata;
        return sd_bus_message_append(reply, "b", (int) p->restart_limit_hit);
}

static int property_get_log_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Process *p = userdata;
        return sd_bus_message_append(reply, "s", p->log->path);
}

static const sd_bus_vtable process_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", NULL, offsetof(Process, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Process, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Argv", "as", property_get_argv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pid", "u", NULL, offsetof(Process, pid), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitCode", "i", NULL, offsetof(Process, exit_code),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitStatus", "i", NULL, offsetof(Process, exit_status),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Rebuilt for every run (a restart gets a new sandbox), though normally the same. */
        SD_BUS_PROPERTY("Confinement", "s", NULL, offsetof(Process, confinement),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LogPath", "s", property_get_log_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Restart", "s", property_get_restart, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Restarts", "u", NULL, offsetof(Process, restarts),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RestartLimitHit", "b", property_get_restart_limit_hit, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("i", signal), SD_BUS_NO_RESULT, method_kill,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenLog", SD_BUS_ARGS("t", offset), SD_BUS_RESULT("h", fd), method_open_log,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* A Spawn() whose audit row the registry is writing: the process starts only once the row is durable,
 * and not at all when it cannot be written (supervisor-audit.c). */
typedef struct SpawnCall {
        sd_bus_message *call;
        char *name;
        char **argv;
        SpawnOptions options;
} SpawnCall;

static void spawn_call_free(void *userdata) {
        SpawnCall *sc = userdata;

        if (!sc)
                return;
        sd_bus_message_unref(sc->call);
        free(sc->name);
        strv_free(sc->argv);
        spawn_options_done(&sc->options);
        free(sc);
}

static int spawn_finish(Context *c, SpawnCall *sc, uint64_t seq, sd_bus_error *error) {
        Process *p;
        int r;

        r = process_spawn(c, sc->name, sc->argv, &sc->options, error, &p);
        if (r < 0) {
                r = bus_error_from_return(error, r);
                supervisor_audit_spawn_failed(c, sc->name, seq, error->message);
                return r;
        }
        supervisor_audit_follow(p, seq);
        return sd_bus_reply_method_return(sc->call, "so", p->id, p->path);
}

static void spawn_audited(Context *c, int error, const char *message, uint64_t seq, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        SpawnCall *sc = userdata;
        int r;

        if (error < 0) {
                /* Fail closed: what is not in the log does not run. */
                log_warning_errno(error, "Refusing to spawn %s, the audit log is unavailable: %s", sc->name,
                                  strna(message));
                r = bus_error_setf(&e, BUS_ERROR_PERMISSION_DENIED,
                                   "Spawns are refused while the audit log is unavailable: %s",
                                   strna(message));
        } else
                r = spawn_finish(c, sc, seq, &e);
        if (r < 0 && sd_bus_reply_method_error(sc->call, &e) < 0)
                log_debug("Failed to answer Spawn() of %s, ignoring.", sc->name);
        spawn_call_free(sc);
}

/* What is refused before anything is recorded: requests that could never start. */
static int spawn_check(Context *c, const char *name, char **argv, sd_bus_error *error) {
        int r;

        r = spawn_name_validate(name, error);
        if (r < 0)
                return r;
        r = spawn_argv_validate(argv, error);
        if (r < 0)
                return r;
        if (c->shutting_down)
                return bus_error_setf(error, BUS_ERROR_BUSY, "The supervisor is shutting down.");
        if (supervisor_count_active(c) >= SUPERVISOR_ACTIVE_MAX)
                return bus_error_setf(error, BUS_ERROR_OVERLOADED,
                                      "Too many processes: at most %u may run at once.",
                                      SUPERVISOR_ACTIVE_MAX);
        r = spawn_check_executable(argv[0]);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "argv[0] '%s' is not an executable file: %s", argv[0], strerror(-r));
        return 0;
}

static int method_spawn_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(spawn_options_done) SpawnOptions options = {};
        _cleanup_strv_free_ char **argv = NULL;
        Context *c = userdata;
        const char *name;
        SpawnCall *sc;
        int r;

        spawn_options_init(&options);
        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_read_strv(m, "argv", SPAWN_ARGV_MAX, BUS_OPTION_STRING_MAX, error, &argv);
        if (r < 0)
                return r;
        r = spawn_options_read(m, &options, error);
        if (r < 0)
                return r;
        r = spawn_check(c, name, argv, error);
        if (r < 0)
                return r;

        sc = calloc(1, sizeof(SpawnCall));
        if (!sc)
                return -ENOMEM;
        sc->call = sd_bus_message_ref(m);
        sc->name = strdup(name);
        sc->argv = TAKE_PTR(argv);
        sc->options = options;
        spawn_options_init(&options);
        if (!sc->name) {
                spawn_call_free(sc);
                return -ENOMEM;
        }
        r = supervisor_audit_spawn(c, sd_bus_message_get_sender(m), sc->name, sc->argv, &sc->options,
                                   spawn_audited, spawn_call_free, sc);
        if (r < 0) {
                spawn_call_free(sc);
                return bus_error_set_errnof(error, r, "Failed to ask the registry to record the spawn: %m");
        }
        return 1;
}
BUS_DEFINE_METHOD_HANDLER(method_spawn, method_spawn_impl)

static int method_list_processes_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, SD_BUS_TYPE_ARRAY, "(ssuso)");
        if (r < 0)
                return r;
        for (Process *p = c->processes; p; p = p->next) {
                r = sd_bus_message_append(reply, "(ssuso)", p->id, p->name, (uint32_t) p->pid,
                                          process_state_to_string(p->state), p->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
BUS_DEFINE_METHOD_HANDLER(method_list_processes, method_list_processes_impl)

static int method_describe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_describe_reply(m, supervisor_describe, userdata, error);
}

static int method_shutdown_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        int r;

        /* Answer first: the caller should not wait for every child to go. */
        r = sd_bus_reply_method_return(m, NULL);
        if (r < 0)
                return r;
        log_info("Shutdown() called by %s.", strna(sd_bus_message_get_sender(m)));
        supervisor_shutdown(c, 0);
        return 1;
}
BUS_DEFINE_METHOD_HANDLER(method_shutdown, method_shutdown_impl)

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LogDirectory", "s", NULL, offsetof(Context, log_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConfinementSupport", "s", NULL, offsetof(Context, confinement.support_json),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Spawn", SD_BUS_ARGS("s", name, "as", argv, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", path), method_spawn, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListProcesses", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuso)", processes),
                                method_list_processes, SD_BUS_VTABLE_UNPRIVILEGED),
        BUS_DESCRIBE_METHOD(method_describe),
        SD_BUS_METHOD_WITH_ARGS("Shutdown", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_shutdown,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ProcessExited", SD_BUS_ARGS("s", id, "i", code, "i", status), 0),
        SD_BUS_VTABLE_END,
};

static int process_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error) {
        _cleanup_free_ char *id = NULL;
        Context *c = userdata;
        Process *p;

        if (bus_object_name(SUPERVISOR_PROCESS_PREFIX, path, &id) < 0)
                return 0;
        p = supervisor_find_process(c, id);
        if (!p)
                return 0;
        *found = p;
        return 1;
}

static int process_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                             sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Context *c = userdata;
        size_t i = 0;

        l = calloc(c->n_processes + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Process *p = c->processes; p && i < c->n_processes; p = p->next) {
                l[i] = strdup(p->path);
                if (!l[i])
                        return -ENOMEM;
                i++;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

int supervisor_bus_add(Context *c) {
        int r;

        r = sd_bus_add_object_vtable(c->bus, NULL, SUPERVISOR_PATH, SUPERVISOR_MANAGER_INTERFACE,
                                     manager_vtable, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the manager object: %m");
        r = sd_bus_add_fallback_vtable(c->bus, NULL, SUPERVISOR_PROCESS_PREFIX, SUPERVISOR_PROCESS_INTERFACE,
                                       process_vtable, process_find, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the process objects: %m");
        r = sd_bus_add_node_enumerator(c->bus, NULL, SUPERVISOR_PROCESS_PREFIX, process_enumerate, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the process enumerator: %m");
        r = bus_add_object_manager(c->bus, SUPERVISOR_PATH, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = bus_log_control_add(c->bus, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add LogControl1: %m");
        return 0;
}

void supervisor_bus_process_added(Process *p) {
        int r;

        if (!p->published || !p->context->bus)
                return;
        r = bus_emit_object_added(p->context->bus, SUPERVISOR_PROCESS_PREFIX, p->id);
        if (r < 0)
                log_debug_errno(r, "Failed to announce process %s, ignoring: %m", p->id);
}

void supervisor_bus_process_removed(Process *p) {
        int r;

        if (!p->published || !p->context->bus)
                return;
        r = bus_emit_object_removed(p->context->bus, SUPERVISOR_PROCESS_PREFIX, p->id);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the removal of process %s, ignoring: %m", p->id);
}

void supervisor_bus_process_changed(Process *p) {
        int r;

        if (!p->published || !p->context->bus)
                return;
        r = bus_emit_properties_changed(p->context->bus, SUPERVISOR_PROCESS_PREFIX, p->id,
                                        SUPERVISOR_PROCESS_INTERFACE, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to send PropertiesChanged for process %s, ignoring: %m", p->id);
}

void supervisor_bus_process_exited(Process *p) {
        int r;

        if (!p->published || !p->context->bus)
                return;
        r = sd_bus_emit_signal(p->context->bus, SUPERVISOR_PATH, SUPERVISOR_MANAGER_INTERFACE,
                               "ProcessExited", "sii", p->id, p->exit_code, p->exit_status);
        if (r < 0)
                log_debug_errno(r, "Failed to send ProcessExited for %s, ignoring: %m", p->id);
}
