/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-scope.c: the limits of a confined process as a transient systemd scope, for a supervisor
 * that cannot make cgroups of its own but runs under (or beside) a systemd manager.
 *
 * The parent forks the child, which waits; StartTransientUnit("troupe-<name>.scope") moves the pid
 * into a new scope with MemoryMax, TasksMax and CPUWeight; once the job's JobRemoved says "done" the
 * child goes on (without joining any cgroup itself). Kill and the report then use the scope's own
 * cgroups; release stops the scope. When the manager refuses, the child enters the limits prepared
 * as the fallback (cgroup v1 or rlimits) and the reason goes to the report (docs/sandbox.md). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "sandbox/limits-internal.h"
#include "sandbox/sandbox-internal.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

/* How long the supervisor waits for a scope: the call and its job together. The spawn is refused
 * past it (the child never goes on): a scope that appears later must not move a running sandbox. */
#define SCOPE_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define SCOPE_STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define SCOPE_UNIT_MAX (sizeof(LIMITS_GROUP_PREFIX) + LIMITS_NAME_MAX + sizeof(".scope"))

struct SandboxScopeManager {
        sd_bus *bus; /* our own connection, never attached to an event loop: used synchronously */
        bool direct; /* a manager's private socket (no bus daemon, no sender names) */
        char *description; /* "user manager at /run/user/0/systemd/private" */
        /* The job we wait for and its result, filled in by the JobRemoved match. */
        const char *waiting_job;
        char *job_result;
};

SandboxScopeManager *sandbox_scope_manager_free(SandboxScopeManager *m) {
        if (!m)
                return NULL;
        sd_bus_flush_close_unref(m->bus);
        free(m->description);
        free(m->job_result);
        return mfree(m);
}

const char *sandbox_scope_manager_describe(const SandboxScopeManager *m) {
        return m ? m->description : NULL;
}

static int on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        SandboxScopeManager *m = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(msg, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (m->waiting_job && streq(path, m->waiting_job) && !m->job_result)
                m->job_result = strdup(result);
        return 0;
}

/* Subscribe() makes the manager send JobRemoved to us; it also proves it answers. */
static int manager_subscribe(SandboxScopeManager *m, char **ret_reason) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = sd_bus_add_match(m->bus, NULL,
                             m->direct ? "type='signal',path='" SYSTEMD_PATH "',interface='" SYSTEMD_MANAGER
                                         "',member='JobRemoved'"
                                       : "type='signal',sender='" SYSTEMD_DEST "',path='" SYSTEMD_PATH
                                         "',interface='" SYSTEMD_MANAGER "',member='JobRemoved'",
                             on_job_removed, m);
        if (r < 0)
                return asprintf_safe(ret_reason, "cannot watch for JobRemoved: %s", strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        r = sd_bus_message_new_method_call(m->bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "Subscribe");
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r < 0)
                return r;
        r = sd_bus_call(m->bus, call, SCOPE_TIMEOUT_USEC, &error, NULL);
        if (r < 0)
                return asprintf_safe(ret_reason, "Subscribe() failed: %s", error.message ?: strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        return 1;
}

/* 1: connected (*ret), 0: not (*ret_reason), <0: out of memory. */
static int manager_try(const char *address, bool direct, const char *what, SandboxScopeManager **ret,
                       char **ret_reason) {
        _cleanup_(sandbox_scope_manager_freep) SandboxScopeManager *m = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->direct = direct;
        r = sd_bus_new(&m->bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(m->bus, address);
        if (r >= 0 && !direct)
                r = sd_bus_set_bus_client(m->bus, true);
        if (r >= 0)
                r = sd_bus_start(m->bus);
        if (r < 0)
                return asprintf_safe(ret_reason, "%s: %s", what, strerror(-r)) < 0 ? -ENOMEM : 0;
        r = manager_subscribe(m, &why);
        if (r < 0)
                return r;
        if (r == 0)
                return asprintf_safe(ret_reason, "%s: %s", what, strna(why)) < 0 ? -ENOMEM : 0;
        m->description = strdup(what);
        if (!m->description)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 1;
}

static int reason_append(char **reasons, const char *reason) {
        char *t = isempty(*reasons) ? strdup(reason) : strjoin(*reasons, "; ", reason);

        if (!t)
                return -ENOMEM;
        free(*reasons);
        *reasons = t;
        return 0;
}

/* The places a manager may be reached, in order: the user manager's private socket (as systemctl
 * --user does), the system manager's when we are root, then org.freedesktop.systemd1 on the
 * session bus and, as root, on the system bus. */
int sandbox_scope_manager_connect(SandboxScopeManager **ret, char **ret_reason) {
        _cleanup_free_ char *reasons = NULL, *user_private = NULL, *user_what = NULL, *session = NULL;
        const char *runtime = getenv("XDG_RUNTIME_DIR"), *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
        struct {
                char *address;
                bool direct;
                const char *what;
        } tries[4];
        size_t n = 0;
        int r;

        assert_return(ret && ret_reason, -EINVAL);

        if (runtime && runtime[0] == '/') {
                if (asprintf(&user_private, "%s/systemd/private", runtime) < 0 ||
                    asprintf(&user_what, "user manager at %s/systemd/private", runtime) < 0)
                        return -ENOMEM;
                if (access(user_private, F_OK) >= 0) {
                        free(user_what);
                        if (asprintf(&user_what, "user manager at %s", user_private) < 0)
                                return -ENOMEM;
                        free(user_private);
                        if (asprintf(&user_private, "unix:path=%s/systemd/private", runtime) < 0)
                                return -ENOMEM;
                        tries[n++] = (typeof(tries[0])){user_private, true, user_what};
                } else if (reason_append(&reasons, "no $XDG_RUNTIME_DIR/systemd/private (no user manager)") <
                           0)
                        return -ENOMEM;
        } else if (reason_append(&reasons, "$XDG_RUNTIME_DIR is not set (no user manager)") < 0)
                return -ENOMEM;
        if (geteuid() == 0) {
                if (access("/run/systemd/private", F_OK) >= 0)
                        tries[n++] = (typeof(tries[0])){(char *) "unix:path=/run/systemd/private", true,
                                                        "system manager at /run/systemd/private"};
                else if (reason_append(&reasons, "no /run/systemd/private (no system manager)") < 0)
                        return -ENOMEM;
        }
        if (bus) {
                session = strdup(bus);
                if (!session)
                        return -ENOMEM;
                tries[n++] =
                        (typeof(tries[0])){session, false, "org.freedesktop.systemd1 on the session bus"};
        }
        if (geteuid() == 0 && access("/run/dbus/system_bus_socket", F_OK) >= 0)
                tries[n++] = (typeof(tries[0])){(char *) "unix:path=/run/dbus/system_bus_socket", false,
                                                "org.freedesktop.systemd1 on the system bus"};

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *why = NULL;

                r = manager_try(tries[i].address, tries[i].direct, tries[i].what, ret, &why);
                if (r != 0)
                        return r;
                if (reason_append(&reasons, why) < 0)
                        return -ENOMEM;
        }
        *ret_reason = TAKE_PTR(reasons);
        return 0;
}

static int append_property_u64(sd_bus_message *m, const char *name, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", name, "t", v);
}

static int build_start(SandboxScopeManager *m, const char *unit, const char *description,
                       const SandboxLimits *l, pid_t pid, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sv)(sv)(sv)(sv)", "Description", "s", description, "PIDs",
                                          "au", 1, (uint32_t) pid, "CollectMode", "s", "inactive-or-failed",
                                          "TasksAccounting", "b", 1);
        /* Nothing is left to stop by the time we stop it (we killed it all): a short timeout only
         * bounds a stop that races a fork. */
        if (r >= 0)
                r = append_property_u64(call, "TimeoutStopUSec", SCOPE_STOP_TIMEOUT_USEC);
        if (r >= 0 && l->memory_max != SANDBOX_LIMIT_UNSET)
                r = sd_bus_message_append(call, "(sv)(sv)", "MemoryAccounting", "b", 1, "MemoryMax", "t",
                                          l->memory_max);
        if (r >= 0 && l->tasks_max != SANDBOX_LIMIT_UNSET)
                r = append_property_u64(call, "TasksMax", l->tasks_max);
        if (r >= 0 && l->cpu_weight != SANDBOX_LIMIT_UNSET)
                r = append_property_u64(call, "CPUWeight", l->cpu_weight);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_message_append(call, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(call);
        return 0;
}

/* Waits for our job's JobRemoved. 0 and the result, or -ETIMEDOUT / an I/O error. */
static int wait_job(SandboxScopeManager *m, const char *job, usec_t deadline, char **ret_result) {
        int r;

        m->waiting_job = job;
        for (;;) {
                if (m->job_result) {
                        *ret_result = TAKE_PTR(m->job_result);
                        m->waiting_job = NULL;
                        return 0;
                }
                r = sd_bus_process(m->bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sd_bus_wait(m->bus, deadline - now);
                if (r < 0)
                        break;
        }
        m->waiting_job = NULL;
        m->job_result = mfree(m->job_result);
        return r;
}

/* Starts the scope and waits for it. 1: done; 0: refused or failed, *ret_reason says why;
 * -ETIMEDOUT: no answer in time (the spawn fails); other <0: out of memory. */
int sandbox_scope_start(SandboxScopeManager *m, const char *unit, const char *description,
                        const SandboxLimits *l, pid_t pid, char **ret_reason) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_free_ char *job = NULL, *result = NULL;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + SCOPE_TIMEOUT_USEC;
        const char *path;
        int r;

        assert_return(m && unit && l && ret_reason, -EINVAL);

        r = build_start(m, unit, description, l, pid, &call);
        if (r < 0)
                return r;
        r = sd_bus_call(m->bus, call, SCOPE_TIMEOUT_USEC, &error, &reply);
        if (r == -ETIMEDOUT)
                return r;
        if (r < 0)
                return asprintf_safe(ret_reason, "StartTransientUnit(%s) via the %s failed: %s%s%s", unit,
                                     m->description, strempty(error.name), error.name ? ": " : "",
                                     error.message ?: strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return asprintf_safe(ret_reason, "StartTransientUnit(%s) gave a bad reply: %s", unit,
                                     strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        job = strdup(path);
        if (!job)
                return -ENOMEM;
        r = wait_job(m, job, deadline, &result);
        if (r == -ETIMEDOUT)
                return r;
        if (r < 0)
                return asprintf_safe(ret_reason, "lost the %s while waiting for the job of %s: %s",
                                     m->description, unit, strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        if (!streq(result, "done"))
                return asprintf_safe(ret_reason, "the job starting %s ended with result \"%s\"", unit,
                                     result) < 0
                               ? -ENOMEM
                               : 0;
        return 1;
}

/* Stops the scope (what is in it gets SIGTERM, then SIGKILL): we do not wait for the job. A scope
 * the manager already collected is not an error. */
int sandbox_scope_stop(SandboxScopeManager *m, const char *unit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        assert_return(m && unit, -EINVAL);

        r = sd_bus_message_new_method_call(m->bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StopUnit");
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "ss", unit, "replace");
        if (r < 0)
                return r;
        r = sd_bus_call(m->bus, call, SCOPE_STOP_TIMEOUT_USEC, &error, NULL);
        if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                return 0;
        /* Drain the JobRemoved signals of stops nobody waits for. */
        while (r >= 0 && sd_bus_process(m->bus, NULL) > 0)
                ;
        return r < 0 ? r : 0;
}

/* The scope's group in each hierarchy, read from the process's /proc/PID/cgroup: v1's memory, pids
 * and cpu (NULL where the scope has none of its own), else the v2 group in dirs[0]. */
int sandbox_scope_cgroups(pid_t pid, const char *unit, SandboxCgroupMode *ret_mode,
                          char *ret_dirs[static 3]) {
        static const char *const controllers[] = {"memory", "pids", "cpu"};
        _cleanup_free_ char *mountinfo = NULL, *text = NULL, *suffix = NULL;
        char path[64];
        bool v1 = false;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        r = read_full_file_at(AT_FDCWD, path, LIMITS_PROC_FILE_MAX, &text, NULL);
        if (r < 0)
                return r;
        r = read_full_file_at(AT_FDCWD, "/proc/self/mountinfo", LIMITS_PROC_FILE_MAX * 4, &mountinfo, NULL);
        if (r < 0)
                return r;
        suffix = strjoin("/", unit);
        if (!suffix)
                return -ENOMEM;

        for (size_t i = 0; i <= ELEMENTSOF(controllers); i++) {
                const char *c = i < ELEMENTSOF(controllers) ? controllers[i] : NULL;
                _cleanup_free_ char *p = NULL, *mp = NULL, *root = NULL, *dir = NULL;

                if (!c && v1) /* v2 only when no v1 hierarchy holds the scope */
                        break;
                if (limits_parse_proc_cgroup(text, c, &p) < 0 || !endswith(p, suffix))
                        continue;
                if (limits_parse_mountinfo(mountinfo, c, &mp, &root) < 0 ||
                    limits_cgroup_dir(mp, root, p, &dir) < 0)
                        continue;
                ret_dirs[c ? i : 0] = TAKE_PTR(dir);
                if (c)
                        v1 = true;
                else {
                        *ret_mode = SANDBOX_CGROUP_V2;
                        return 0;
                }
        }
        if (!v1)
                return -ENOENT;
        *ret_mode = SANDBOX_CGROUP_V1;
        return 0;
}
