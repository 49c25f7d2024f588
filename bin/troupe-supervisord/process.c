/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "confinement.h"
#include "ipc/socket.h"
#include "paths/paths.h"
#include "process.h"
#include "spawn.h"
#include "workspace.h"
#include "supervisor-bus.h"

/* Tries at a fresh id when <id>.log already exists (a leftover of an earlier run). */
#define PROCESS_ID_ATTEMPTS 8

static const char *const process_state_table[_PROCESS_STATE_MAX] = {
        [PROCESS_STARTING] = "starting",
        [PROCESS_RUNNING] = "running",
        [PROCESS_EXITED] = "exited",
        [PROCESS_FAILED] = "failed",
};
DEFINE_STRING_TABLE_LOOKUP(process_state, ProcessState);

#define log_process_errno(p, level, error, ...)                                                             \
        log_full_errno_field(level, error, "TROUPE_PROCESS", (p)->id, __VA_ARGS__)

bool process_is_active(const Process *p) {
        return p->state == PROCESS_STARTING || p->state == PROCESS_RUNNING;
}

static int process_make_id(char ret[static PROCESS_ID_LENGTH + 1]) {
        uint8_t bytes[PROCESS_ID_LENGTH / 2];
        ssize_t n;

        n = getrandom(bytes, sizeof(bytes), 0);
        if (n < 0)
                return -errno;
        if ((size_t) n != sizeof(bytes))
                return -EIO;
        for (size_t i = 0; i < sizeof(bytes); i++)
                snprintf(ret + 2 * i, 3, "%02x", bytes[i]);
        return 0;
}

static void process_set_state(Process *p, ProcessState state) {
        p->state = state;
        if (!process_is_active(p)) {
                p->ended_usec = now_usec(CLOCK_MONOTONIC);
                process_log_finish(p->log);
                supervisor_schedule_check(p->context);
        }
        supervisor_bus_process_changed(p);
        if (p->watch)
                p->watch(p, p->watch_userdata);
}

static int agent_socket_path(char **ret) {
        const char *e = getenv("TROUPE_AGENT_SOCKET");

        if (!isempty(e)) {
                if (e[0] != '/')
                        return -EINVAL;
                *ret = strdup(e);
                return *ret ? 0 : -ENOMEM;
        }
        return troupe_path_get(TROUPE_PATH_AGENT_SOCKET, ret);
}

static int open_agent_connection(sd_bus_error *error, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = agent_socket_path(&path);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Cannot find the agent socket: %m");
        fd = ipc_socket_connect(path);
        if (fd < 0)
                return bus_error_setf(
                        error, BUS_ERROR_FAILED,
                        "Cannot connect to the agent socket %s (is troupe-registryd running?): %s", path,
                        strerror(-fd));
        *ret_fd = fd;
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata);

/* What one run needs from the parent; all of it is made before the fork. */
typedef struct ProcessRun {
        SpawnWorkspace workspace;
        int agent_fd;
        char **env;
        Sandbox *sandbox; /* released unless taken */
        char *report;
} ProcessRun;

static void process_run_done(ProcessRun *run) {
        spawn_workspace_done(&run->workspace);
        run->agent_fd = safe_close(run->agent_fd);
        run->env = strv_free(run->env);
        if (run->sandbox) {
                (void) sandbox_release(run->sandbox);
                run->sandbox = sandbox_free(run->sandbox);
        }
        run->report = mfree(run->report);
}

/* Everything the spawn needs that can fail in the parent is made first, so a refusal leaves
 * nothing behind; the sandbox last, since it may create a cgroup. */
static int process_prepare(Process *p, sd_bus_error *error, ProcessRun *run) {
        int r;

        r = spawn_check_executable(p->argv[0]);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "argv[0] '%s' is not an executable file: %s", p->argv[0],
                                      strerror(-r));
        r = spawn_workspace_open(&p->options, error, &run->workspace);
        if (r < 0)
                return r;
        if (p->options.agent) {
                r = open_agent_connection(error, &run->agent_fd);
                if (r < 0)
                        return r;
        }
        r = spawn_build_env(&p->options, p->id, run->workspace.private_dir, &run->env);
        if (r < 0)
                return r;
        return confinement_prepare(&p->context->confinement, &p->options, p->id, run->workspace.private_dir,
                                   error, &run->sandbox, &run->report);
}

static void process_take_report(Process *p, char **report) {
        if (streq_ptr(p->confinement, *report))
                return;
        free(p->confinement);
        p->confinement = TAKE_PTR(*report);
}

static int process_start_child(Process *p, sd_bus_error *error) {
        _cleanup_(process_run_done) ProcessRun run = {.workspace = SPAWN_WORKSPACE_NULL, .agent_fd = -EBADF};
        _cleanup_close_ int out_read = -EBADF, out_write = -EBADF;
        SpawnFailure failure = {.step = SPAWN_STEP_EXEC};
        SpawnRequest req;
        pid_t pid;
        int fds[2], r;

        r = process_prepare(p, error, &run);
        if (r < 0)
                return r;
        /* One pipe for stdout and stderr, so their lines stay in the order they were written. */
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        out_read = fds[0];
        out_write = fds[1];

        req = (SpawnRequest) {
                .argv = p->argv,
                .envp = run.env,
                .cwd_fd = run.workspace.cwd_fd,
                .output_fd = out_write,
                .agent_fd = run.agent_fd,
                .sandbox = run.sandbox,
        };
        /* A systemd scope must hold the pid before the child enters its sandbox: spawn_start() then
         * forks and lets the child wait for confinement_place() (see spawn.h). */
        if (sandbox_wants_scope(run.sandbox)) {
                req.place = confinement_place;
                req.place_userdata = run.sandbox;
        }
        r = spawn_start(&req, &pid, &failure);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_FAILED, "Failed to start '%s' (%s%s%s): %s",
                                      p->argv[0], spawn_step_to_string(failure.step),
                                      isempty(failure.layer) ? "" : ": ", failure.layer, strerror(-r));

        p->child_source = sd_event_source_disable_unref(p->child_source);
        r = sd_event_add_child(p->context->event, &p->child_source, pid, WEXITED, on_child, p);
        if (r < 0) {
                (void) kill(-pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        r = process_log_attach(p->log, TAKE_FD(out_read));
        if (r < 0)
                log_process_errno(p, LOG_WARNING, r, "Failed to capture the output of %s, ignoring: %m",
                                  p->id);

        if (req.place) {
                _cleanup_free_ char *report = NULL;

                /* The scope, or the reason there is none, changed what holds the limits. */
                r = confinement_build_report(run.sandbox, &p->options, &report);
                if (r >= 0) {
                        free(run.report);
                        run.report = TAKE_PTR(report);
                } else
                        log_process_errno(p, LOG_WARNING, r,
                                          "Failed to update the confinement report of %s, ignoring: %m",
                                          p->id);
        }

        p->pid = pid;
        p->sandbox = TAKE_PTR(run.sandbox);
        process_take_report(p, &run.report);
        p->stopping = false;
        log_process_errno(p, LOG_INFO, 0, "Started %s (%s) as pid %d.", p->id, p->name, (int) pid);
        process_set_state(p, PROCESS_RUNNING);
        return 0;
}

/* At most PROCESS_RESTART_BURST restarts within PROCESS_RESTART_INTERVAL_USEC. */
static bool process_restart_allowed(const Process *p, usec_t now) {
        if (p->restarts < PROCESS_RESTART_BURST)
                return true;
        return now - p->restart_times[p->restarts % PROCESS_RESTART_BURST] >= PROCESS_RESTART_INTERVAL_USEC;
}

static bool process_wants_restart(const Process *p, bool failure) {
        if (p->stopping || p->context->shutting_down)
                return false;
        switch (p->options.restart) {
        case RESTART_NO:
                return false;
        case RESTART_ON_FAILURE:
                return failure;
        case RESTART_ALWAYS:
                return true;
        case _RESTART_POLICY_MAX:
        case _RESTART_POLICY_INVALID:
                break;
        }
        return false;
}

/* The restart timer's callback schedules the next restart when a start fails. */
static int on_restart(sd_event_source *s, uint64_t usec, void *userdata);

static ProcessState process_schedule_restart(Process *p) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!process_restart_allowed(p, now)) {
                p->restart_limit_hit = true;
                log_process_errno(p, LOG_ERR, 0,
                                  "%s (%s) was restarted %u times within %llu s: not restarting it again.",
                                  p->id, p->name, PROCESS_RESTART_BURST,
                                  (unsigned long long) (PROCESS_RESTART_INTERVAL_USEC / USEC_PER_SEC));
                return PROCESS_FAILED;
        }
        r = sd_event_add_time_relative(p->context->event, &p->restart_timer, CLOCK_MONOTONIC,
                                       PROCESS_RESTART_DELAY_USEC, 0, on_restart, p);
        if (r < 0) {
                log_process_errno(p, LOG_ERR, r, "Failed to schedule a restart of %s: %m", p->id);
                return PROCESS_FAILED;
        }
        p->restart_times[p->restarts % PROCESS_RESTART_BURST] = now;
        p->restarts++;
        return PROCESS_STARTING;
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Process *p = userdata;
        int r;

        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        r = process_start_child(p, &error);
        if (r < 0) {
                /* A start that fails (the agent socket is not back yet, say) counts as a failed
                 * run: try again, under the same rate limit. */
                log_process_errno(p, LOG_ERR, r, "Failed to restart %s (%s): %s", p->id, p->name,
                                  error.message ?: strerror(-r));
                process_set_state(p, process_schedule_restart(p));
        }
        return 0;
}

static void process_handle_exit(Process *p) {
        bool failure = !(p->exit_code == CLD_EXITED && p->exit_status == 0);
        ProcessState next;

        if (p->stopping)
                next = PROCESS_EXITED;
        else if (process_wants_restart(p, failure))
                next = process_schedule_restart(p);
        else
                next = failure ? PROCESS_FAILED : PROCESS_EXITED;

        supervisor_bus_process_exited(p);
        process_set_state(p, next);
}

/* The process group, and the sandbox's cgroup, which also holds what left the group (setsid()).
 * Succeeds when either reached something. */
static int process_signal(Process *p, int sig) {
        int r = RET_NERRNO(kill(-p->pid, sig));

        if (p->sandbox && sandbox_kill(p->sandbox, sig) > 0)
                return 0;
        return r;
}

/* Kills whatever is left in the sandbox and removes its cgroup. */
static void process_release_sandbox(Process *p) {
        int r;

        if (!p->sandbox)
                return;
        r = sandbox_release(p->sandbox);
        if (r < 0)
                log_process_errno(p, LOG_WARNING, r, "Failed to release the sandbox of %s, ignoring: %m",
                                  p->id);
        p->sandbox = sandbox_free(p->sandbox);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Process *p = userdata;

        p->exit_code = si->si_code;
        p->exit_status = si->si_status;
        /* sd-event reaps the child only after this returns, so its pid (the group id) cannot have
         * been reused yet: take down whatever is left of the group with it, and of the sandbox. */
        (void) kill(-p->pid, SIGKILL);
        process_release_sandbox(p);
        if (p->exit_code == CLD_EXITED)
                log_process_errno(p, p->exit_status == 0 ? LOG_INFO : LOG_NOTICE, 0,
                                  "%s (%s) exited with status %d.", p->id, p->name, p->exit_status);
        else
                log_process_errno(p, p->stopping ? LOG_INFO : LOG_NOTICE, 0,
                                  "%s (%s) was killed by signal %s.", p->id, p->name,
                                  strsignal(p->exit_status));

        p->pid = 0;
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        /* Read what it wrote last before anyone hears that it ended. */
        process_log_detach(p->log);
        process_handle_exit(p);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = userdata;

        log_process_errno(p, LOG_WARNING, 0, "%s (%s) did not exit after SIGTERM, sending SIGKILL.", p->id,
                          p->name);
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        if (p->pid > 0)
                (void) process_signal(p, SIGKILL);
        return 0;
}

int process_stop(Process *p) {
        int r;

        if (!process_is_active(p))
                return -ESRCH;
        if (p->stopping)
                return 0;
        p->stopping = true;

        if (p->state == PROCESS_STARTING) {
                p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
                process_set_state(p, PROCESS_EXITED);
                return 0;
        }

        /* SIGCONT too, so a stopped process gets to handle the SIGTERM. */
        r = process_signal(p, SIGTERM);
        if (r < 0)
                return r;
        (void) process_signal(p, SIGCONT);
        return sd_event_add_time_relative(p->context->event, &p->kill_timer, CLOCK_MONOTONIC,
                                          p->options.stop_timeout_usec, 0, on_kill_timer, p);
}

int process_kill(Process *p, int sig) {
        if (p->state != PROCESS_RUNNING || p->pid <= 0)
                return -ESRCH;
        return process_signal(p, sig);
}

Process *process_free(Process *p, bool remove_log) {
        if (!p)
                return NULL;

        if (p->published) {
                if (p->prev)
                        p->prev->next = p->next;
                else if (p->context->processes == p)
                        p->context->processes = p->next;
                if (p->next)
                        p->next->prev = p->prev;
                p->context->n_processes--;
        }
        if (p->pid > 0)
                (void) kill(-p->pid, SIGKILL);
        process_release_sandbox(p);

        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->kill_timer);
        sd_event_source_disable_unref(p->restart_timer);
        process_log_free(p->log, remove_log);
        spawn_options_done(&p->options);
        strv_free(p->argv);
        free(p->confinement);
        free(p->path);
        free(p->name);
        free(p->id);
        return mfree(p);
}

static int process_new(Context *c, const char *name, char *const *argv, SpawnOptions *options,
                       Process **ret) {
        char id[PROCESS_ID_LENGTH + 1];
        Process *p;
        int r;

        p = calloc(1, sizeof(Process));
        if (!p) {
                spawn_options_done(options);
                return -ENOMEM;
        }
        p->context = c;
        p->options = *options;
        spawn_options_init(options);
        *ret = p;

        p->name = strdup(name);
        p->argv = strv_copy(argv);
        if (!p->name || !p->argv)
                return -ENOMEM;
        for (unsigned i = 0;; i++) {
                r = process_make_id(id);
                if (r < 0)
                        return r;
                r = process_log_new(c->event, c->log_dir_fd, c->log_dir, id, c->log_size_max, &p->log);
                if (r != -EEXIST || i + 1 >= PROCESS_ID_ATTEMPTS)
                        break;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to create a log file in %s: %m", c->log_dir);
        p->id = strdup(id);
        if (!p->id)
                return -ENOMEM;
        return bus_object_path(SUPERVISOR_PROCESS_PREFIX, p->id, &p->path);
}

int process_spawn(Context *c, const char *name, char *const *argv, SpawnOptions *options,
                  sd_bus_error *error, Process **ret) {
        Process *p = NULL;
        int r;

        r = spawn_name_validate(name, error);
        if (r >= 0)
                r = spawn_argv_validate(argv, error);
        if (r >= 0)
                r = spawn_options_validate(options, error);
        if (r < 0) {
                spawn_options_done(options);
                return r;
        }
        if (c->shutting_down) {
                spawn_options_done(options);
                return bus_error_setf(error, BUS_ERROR_BUSY, "The supervisor is shutting down.");
        }
        if (supervisor_count_active(c) >= SUPERVISOR_ACTIVE_MAX) {
                spawn_options_done(options);
                return bus_error_setf(error, BUS_ERROR_OVERLOADED,
                                      "Too many processes: at most %u may run at once.",
                                      SUPERVISOR_ACTIVE_MAX);
        }

        r = process_new(c, name, argv, options, &p);
        if (r >= 0)
                r = process_start_child(p, error);
        if (r < 0) {
                process_free(p, true);
                return r;
        }

        supervisor_add_process(c, p);
        if (ret)
                *ret = p;
        return 0;
}
