/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ExecRequest: an agent asks the suite to run a command for one of its tasks. The request is
 * validated, its token must grant exec.command, an "exec" audit row must be durable, and then the
 * supervisor spawns it under the task profile in the task's workspace. We follow it from here: its
 * output (stdout and stderr, merged by the supervisor) goes line by line into the task's journal
 * while it runs, the last 16 KiB are kept for the ExecResult, and ProcessExited ends it.
 *
 * Everything is asynchronous: the registry is one thread on sd-event, and the supervisor itself asks
 * the registry (RecordAudit) before it spawns, so a blocking call to it would deadlock. An Exec
 * therefore moves through phases driven by callbacks, and answers the agent exactly once. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "paths/path-resolve.h"
#include "registryd-privilege.h"

#define SUPERVISOR_BUS_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_PATH "/org/troupe/Supervisor1"
#define SUPERVISOR_MANAGER_INTERFACE "org.troupe.Supervisor1.Manager"
#define SUPERVISOR_PROCESS_INTERFACE "org.troupe.Supervisor1.Process"

/* ExecRequest limits (proto/troupe/v1/exec.proto). */
#define EXEC_REQUEST_ID_MAX 64U
#define EXEC_ARGV_MAX 256U
#define EXEC_ARGV_BYTES_MAX (64U * 1024U)
#define EXEC_ARG_MAX 4096U /* one argv or env entry: the supervisor's limit */
#define EXEC_ENV_MAX 128U
#define EXEC_TIMEOUT_MS_DEFAULT (10U * 60U * 1000U)
#define EXEC_TIMEOUT_MS_MAX (24U * 3600U * 1000U)
#define EXEC_ERROR_MAX 1024U
/* The tail of the output the ExecResult carries. */
#define EXEC_TAIL_MAX (16U * 1024U)
/* Stop(): SIGTERM, then SIGKILL this much later, so that a canceled task's commands are gone well
 * within the 5 s a cancel may take. */
#define EXEC_STOP_TIMEOUT_USEC (2 * USEC_PER_SEC)
/* After a kill, a stop, the exit or the end of the log: how long the rest may take to arrive
 * before the result goes out with what we have. */
#define EXEC_GRACE_USEC (5 * USEC_PER_SEC)
/* A command's output journaled per ExecRequest; beyond it only the tail is kept. */
#define EXEC_JOURNAL_BYTES_MAX ((size_t) 4U * 1024U * 1024U)
/* Read per wake-up, so that one chatty command does not starve the agents. */
#define EXEC_READ_PER_WAKE ((size_t) 256U * 1024U)

typedef enum ExecPhase {
        EXEC_AUDITING, /* the "exec" audit row is on its way to disk */
        EXEC_SPAWNING, /* Spawn() was called */
        EXEC_RUNNING, /* started: following its log, waiting for ProcessExited */
} ExecPhase;

typedef enum ExecTimer {
        EXEC_TIMER_NONE,
        EXEC_TIMER_TIMEOUT, /* timeout_ms since Spawn() */
        EXEC_TIMER_GRACE, /* what is still missing (exit, end of log) may take this long */
} ExecTimer;

struct Exec {
        Context *context;
        char task_id[TASK_ID_LEN + 1];
        char *agent;
        char *request_id;
        char **argv;
        char **env;
        char *cwd; /* absolute; NULL: the workspace */
        char *workspace;
        char **capabilities; /* those of the token that shape the sandbox */
        uint32_t timeout_ms;
        unsigned n; /* the process is named task-<id>-<n> */
        ExecPhase phase;
        bool orphaned; /* the registry is exiting while the audit row is pending */

        sd_bus_slot *spawn_slot, *log_slot;
        char *process_id, *process_path;
        usec_t started_usec; /* CLOCK_MONOTONIC, at the Spawn() reply */
        usec_t duration_usec;
        bool exited;
        int exit_code; /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
        int exit_status;

        sd_event_source *timer;
        ExecTimer timer_kind;
        bool timed_out, kill_sent, stop_sent;
        char *stop_reason; /* stopped on purpose: the result's error */

        int log_fd;
        sd_event_source *log_io;
        bool log_done;
        char *line; /* a line without its newline yet, up to TASK_LOG_TEXT_MAX bytes */
        size_t line_size;
        size_t journaled;
        bool journal_capped;
        uint8_t tail[EXEC_TAIL_MAX];
        size_t tail_size;
        bool tail_truncated;

        LIST_FIELDS(Exec, execs);
};

#define log_exec(level, error, e, ...) log_full_errno_field(level, error, "TASK", (e)->task_id, __VA_ARGS__)

static Exec *exec_free(Exec *e) {
        if (!e)
                return NULL;
        if (!e->orphaned) {
                LIST_REMOVE(execs, e->context->execs_head, e->context->execs_tail, e);
                e->context->n_execs--;
        }
        sd_bus_slot_unref(e->spawn_slot);
        sd_bus_slot_unref(e->log_slot);
        sd_event_source_disable_unref(e->timer);
        sd_event_source_disable_unref(e->log_io);
        safe_close(e->log_fd);
        free(e->agent);
        free(e->request_id);
        strv_free(e->argv);
        strv_free(e->env);
        free(e->cwd);
        free(e->workspace);
        strv_free(e->capabilities);
        free(e->process_id);
        free(e->process_path);
        free(e->stop_reason);
        free(e->line);
        return mfree(e);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Exec *, exec_free);

/* ---- answering ---- */

static int send_result(AgentConn *conn, Troupe__V1__ExecResult *res) {
        IpcEnvelope env = TROUPE__V1__ENVELOPE__INIT;

        env.body_case = TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT;
        env.exec_result = res;
        return ipc_connection_send(conn->ipc, &env);
}

/* An ExecResult that says only why nothing was run. */
static int send_refusal(AgentConn *conn, const char *request_id, const char *error) {
        Troupe__V1__ExecResult res = TROUPE__V1__EXEC_RESULT__INIT;
        _cleanup_free_ char *msg = utf8_sanitize_copy(error, strlen(error), EXEC_ERROR_MAX, NULL);

        if (!msg)
                return -ENOMEM;
        res.request_id = (char *) request_id;
        res.error = msg;
        return send_result(conn, &res);
}

static int send_refusalf(AgentConn *conn, const char *request_id, const char *format, ...) _printf_(3, 4);
static int send_refusalf(AgentConn *conn, const char *request_id, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return send_refusal(conn, request_id, s);
}

/* Sends the ExecResult to the agent's current connection (it may have reconnected meanwhile) and
 * frees the Exec. `error` is why the command could not run; otherwise how it ended is reported. */
static void exec_finish(Exec *e, const char *error) {
        Troupe__V1__ExecResult res = TROUPE__V1__EXEC_RESULT__INIT;
        _cleanup_free_ char *msg = NULL, *timeout_msg = NULL;
        Agent *a = agent_get(e->context, e->agent);
        char task_id[TASK_ID_LEN + 1];
        Context *c;
        int r;

        if (!error && e->timed_out) {
                if (asprintf_safe(&timeout_msg, "timed out after %" PRIu32 " ms", e->timeout_ms) < 0)
                        log_oom();
                error = timeout_msg ?: "timed out";
        } else if (!error)
                error = e->stop_reason;

        res.request_id = e->request_id;
        if (e->exited && e->exit_code == CLD_EXITED) {
                res.termination_case = TROUPE__V1__EXEC_RESULT__TERMINATION_EXIT_CODE;
                res.exit_code = e->exit_status;
        } else if (e->exited) {
                res.termination_case = TROUPE__V1__EXEC_RESULT__TERMINATION_SIGNAL;
                res.signal = e->exit_status;
        }
        res.stdout_tail.data = e->tail;
        res.stdout_tail.len = e->tail_size;
        res.stdout_truncated = e->tail_truncated;
        res.duration_usec = e->exited || e->started_usec == 0 ? e->duration_usec
                                                              : now_usec(CLOCK_MONOTONIC) - e->started_usec;
        if (error) {
                msg = utf8_sanitize_copy(error, strlen(error), EXEC_ERROR_MAX, NULL);
                res.error = msg ?: (char *) "failed";
        }

        log_exec(LOG_DEBUG, 0, e, "Exec %s of task %s done: %s%s%s.", e->request_id, e->task_id,
                 e->exited ? (e->exit_code == CLD_EXITED ? "exited" : "killed") : "not run",
                 error ? ", " : "", strempty(error));
        if (!a || !a->conn)
                log_exec(LOG_INFO, 0, e, "Agent %s is gone, dropping the result of exec %s of task %s.",
                         e->agent, e->request_id, e->task_id);
        else {
                r = send_result(a->conn, &res);
                if (r < 0)
                        log_exec(LOG_WARNING, r, e,
                                 "Failed to send the result of exec %s to agent %s, ignoring: %m",
                                 e->request_id, e->agent);
        }
        memcpy(task_id, e->task_id, sizeof(task_id));
        c = e->context;
        exec_free(e);
        /* The task may have ended waiting for its last command to remove its workspace. */
        task_exec_done(c, task_id);
}

static void exec_finishf(Exec *e, const char *format, ...) _printf_(2, 3);
static void exec_finishf(Exec *e, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        exec_finish(e, r < 0 ? "out of memory" : s);
}

/* The exit and the whole log are in: answer. */
static void exec_maybe_finish(Exec *e) {
        if (e->exited && e->log_done)
                exec_finish(e, NULL);
}

/* ---- timers ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int exec_arm_timer(Exec *e, ExecTimer kind, usec_t after) {
        int r;

        if (e->timer) {
                r = sd_event_source_set_time_relative(e->timer, after);
                if (r >= 0)
                        r = sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(e->context->event, &e->timer, CLOCK_MONOTONIC, after,
                                               10 * USEC_PER_MSEC, on_timer, e);
        if (r < 0)
                return log_exec(LOG_ERR, r, e, "Failed to arm the timer of exec %s: %m", e->request_id);
        e->timer_kind = kind;
        return 0;
}

/* Waits at most EXEC_GRACE_USEC for what is still missing, unless a grace period runs already. */
static void exec_start_grace(Exec *e) {
        if (e->timer_kind == EXEC_TIMER_GRACE)
                return;
        if (exec_arm_timer(e, EXEC_TIMER_GRACE, EXEC_GRACE_USEC) < 0)
                exec_finish(e, "the registry could not wait for the command to end");
}

static int on_signal_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *error = sd_bus_message_get_error(m);

        /* The process may have ended in between: ProcessExited, or the grace timer, settles it. */
        if (error)
                log_debug("Stopping an exec process failed, ignoring: %s", strna(error->message));
        return 0;
}

/* Kill(SIGKILL) for a timeout, Stop() for everything else. Needs the process. Returns true when a
 * call went out. */
static bool exec_send_stop(Exec *e, bool kill) {
        int r;

        if (!e->process_path || e->exited || (kill ? e->kill_sent : e->stop_sent || e->kill_sent))
                return false;
        if (kill)
                r = sd_bus_call_method_async(e->context->bus, NULL, SUPERVISOR_BUS_NAME, e->process_path,
                                             SUPERVISOR_PROCESS_INTERFACE, "Kill", on_signal_reply, NULL,
                                             "i", (int32_t) SIGKILL);
        else
                r = sd_bus_call_method_async(e->context->bus, NULL, SUPERVISOR_BUS_NAME, e->process_path,
                                             SUPERVISOR_PROCESS_INTERFACE, "Stop", on_signal_reply, NULL,
                                             NULL);
        if (r < 0)
                log_exec(LOG_WARNING, r, e, "Failed to ask the supervisor to %s process %s, ignoring: %m",
                         kill ? "kill" : "stop", e->process_id);
        if (kill)
                e->kill_sent = true;
        else
                e->stop_sent = true;
        return true;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Exec *e = userdata;
        ExecTimer kind = e->timer_kind;

        e->timer_kind = EXEC_TIMER_NONE;
        switch (kind) {
        case EXEC_TIMER_TIMEOUT:
                log_exec(LOG_INFO, 0, e, "Exec %s of task %s timed out after %" PRIu32 " ms, killing it.",
                         e->request_id, e->task_id, e->timeout_ms);
                e->timed_out = true;
                /* Before Spawn() has answered, the kill goes out with its reply. */
                (void) exec_send_stop(e, true);
                exec_start_grace(e);
                break;
        case EXEC_TIMER_GRACE:
                if (!e->exited && e->spawn_slot)
                        /* Spawn() has not answered: its reply (or the bus's timeout) settles it, and a
                         * process that does start is stopped then rather than left behind. */
                        break;
                if (!e->exited && !e->process_path)
                        exec_finish(e, e->timed_out || e->stop_reason
                                               ? NULL
                                               : "the supervisor did not start the command");
                else if (!e->exited)
                        exec_finish(e, e->timed_out || e->stop_reason
                                               ? NULL
                                               : "the supervisor stopped reporting on the command");
                else
                        /* Exited, but the log did not end: answer with the output we have. */
                        exec_finish(e, NULL);
                break;
        case EXEC_TIMER_NONE:
                break;
        }
        return 0;
}

/* ---- output ---- */

static void tail_append(Exec *e, const uint8_t *p, size_t n) {
        if (n >= EXEC_TAIL_MAX) {
                e->tail_truncated = e->tail_truncated || n > EXEC_TAIL_MAX || e->tail_size > 0;
                memcpy(e->tail, p + n - EXEC_TAIL_MAX, EXEC_TAIL_MAX);
                e->tail_size = EXEC_TAIL_MAX;
                return;
        }
        if (e->tail_size + n > EXEC_TAIL_MAX) {
                size_t drop = e->tail_size + n - EXEC_TAIL_MAX;

                memmove(e->tail, e->tail + drop, e->tail_size - drop);
                e->tail_size -= drop;
                e->tail_truncated = true;
        }
        memcpy(e->tail + e->tail_size, p, n);
        e->tail_size += n;
}

/* One line of output into the task's journal, while the task runs and within the budget. */
static void journal_line(Exec *e, const char *p, size_t n) {
        _cleanup_free_ char *text = NULL;
        Task *t = task_get(e->context, e->task_id);
        int r;

        if (!t || task_state_is_final(t->state) || e->journal_capped)
                return;
        if (e->journaled + n > EXEC_JOURNAL_BYTES_MAX) {
                e->journal_capped = true;
                (void) task_log(
                        t, "registry",
                        "further output of this command is not journaled (more than 4 MiB); its last "
                        "16 KiB are in the ExecResult");
                return;
        }
        e->journaled += n;
        text = utf8_sanitize_copy(p, n, TASK_LOG_TEXT_MAX, NULL);
        if (!text) {
                log_oom();
                return;
        }
        r = task_log(t, "stdout", text);
        if (r < 0)
                log_exec(LOG_WARNING, r, e, "Failed to journal output of exec %s, ignoring: %m",
                         e->request_id);
}

static void lines_feed(Exec *e, const char *p, size_t n) {
        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t k = nl ? (size_t) (nl - p) : n;
                size_t room = TASK_LOG_TEXT_MAX - e->line_size;

                if (k > room) {
                        /* A line longer than a log line: journaled in pieces. */
                        memcpy(e->line + e->line_size, p, room);
                        journal_line(e, e->line, TASK_LOG_TEXT_MAX);
                        e->line_size = 0;
                        p += room;
                        n -= room;
                        continue;
                }
                memcpy(e->line + e->line_size, p, k);
                e->line_size += k;
                if (!nl)
                        return;
                journal_line(e, e->line, e->line_size);
                e->line_size = 0;
                p += k + 1;
                n -= k + 1;
        }
}

static void exec_log_done(Exec *e) {
        if (e->line_size > 0) {
                journal_line(e, e->line, e->line_size);
                e->line_size = 0;
        }
        e->log_io = sd_event_source_disable_unref(e->log_io);
        e->log_fd = safe_close(e->log_fd);
        e->log_done = true;
        if (e->exited)
                exec_maybe_finish(e);
        else
                /* The log ends when the process has ended for good: ProcessExited is due. */
                exec_start_grace(e);
}

static int on_log_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Exec *e = userdata;
        uint8_t buf[16384];
        size_t total = 0;

        while (total < EXEC_READ_PER_WAKE) {
                ssize_t k = read(fd, buf, sizeof(buf));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k < 0)
                        log_exec(LOG_WARNING, -errno, e, "Failed to read the output of exec %s: %m",
                                 e->request_id);
                if (k <= 0) {
                        exec_log_done(e);
                        return 0;
                }
                tail_append(e, buf, (size_t) k);
                lines_feed(e, (const char *) buf, (size_t) k);
                total += (size_t) k;
        }
        return 0;
}

static int on_log_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *error = sd_bus_message_get_error(m);
        _cleanup_close_ int fd = -EBADF;
        Exec *e = userdata;
        int r, k;

        e->log_slot = sd_bus_slot_unref(e->log_slot);
        if (error) {
                log_exec(LOG_WARNING, 0, e, "OpenLog() of process %s failed, its output is lost: %s",
                         e->process_id, strna(error->message));
                exec_log_done(e);
                return 0;
        }
        r = sd_bus_message_read(m, "h", &k);
        if (r >= 0) {
                /* The message owns its fd; ours must outlive it. */
                fd = fcntl(k, F_DUPFD_CLOEXEC, 3);
                r = fd < 0 ? -errno : fd_set_nonblock(fd, true);
        }
        if (r >= 0)
                r = sd_event_add_io(e->context->event, &e->log_io, fd, EPOLLIN, on_log_io, e);
        if (r < 0) {
                log_exec(LOG_WARNING, r, e, "Failed to follow the output of process %s: %m", e->process_id);
                exec_log_done(e);
                return 0;
        }
        e->log_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the process ---- */

static bool bus_error_is_missing_service(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static int on_spawn_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *error = sd_bus_message_get_error(m);
        Exec *e = userdata;
        const char *id, *path;
        int r;

        e->spawn_slot = sd_bus_slot_unref(e->spawn_slot);
        if (error && bus_error_is_missing_service(error)) {
                exec_finishf(e, "the supervisor (%s) is not running: %s", SUPERVISOR_BUS_NAME,
                             strna(error->message));
                return 0;
        }
        if (error) {
                exec_finishf(e, "the supervisor could not start the command: %s", strna(error->message));
                return 0;
        }
        r = sd_bus_message_read(m, "so", &id, &path);
        if (r >= 0)
                r = free_and_strdup(&e->process_id, id);
        if (r >= 0)
                r = free_and_strdup(&e->process_path, path);
        if (r < 0) {
                exec_finishf(e, "unexpected reply from the supervisor: %s", strerror(-r));
                return 0;
        }

        e->phase = EXEC_RUNNING;
        e->started_usec = now_usec(CLOCK_MONOTONIC);
        log_exec(LOG_DEBUG, 0, e, "Exec %s of task %s runs as process %s.", e->request_id, e->task_id, id);

        /* Stopped or timed out while Spawn() was on its way. */
        if (e->timed_out || e->stop_reason) {
                (void) exec_send_stop(e, e->timed_out);
                e->log_done = true; /* nobody wants its output now */
                exec_start_grace(e);
                return 0;
        }

        r = sd_bus_call_method_async(e->context->bus, &e->log_slot, SUPERVISOR_BUS_NAME, e->process_path,
                                     SUPERVISOR_PROCESS_INTERFACE, "OpenLog", on_log_reply, e, "t",
                                     UINT64_C(0));
        if (r < 0) {
                log_exec(LOG_WARNING, r, e, "Failed to ask for the output of process %s: %m", e->process_id);
                exec_log_done(e);
        }
        return 0;
}

static int on_process_exited(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *id;
        int32_t code, status;

        if (sd_bus_message_read(m, "sii", &id, &code, &status) < 0)
                return 0;
        LIST_FOREACH(execs, e, c->execs_head) {
                if (!streq_ptr(e->process_id, id) || e->exited)
                        continue;
                e->exited = true;
                e->exit_code = code;
                e->exit_status = status;
                e->duration_usec = now_usec(CLOCK_MONOTONIC) - e->started_usec;
                if (e->timer_kind == EXEC_TIMER_TIMEOUT) {
                        (void) sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
                        e->timer_kind = EXEC_TIMER_NONE;
                }
                if (e->log_done)
                        exec_maybe_finish(e);
                else
                        /* What is left in its pipe was read before the signal: the log ends soon. */
                        exec_start_grace(e);
                break;
        }
        return 0;
}

static int append_spawn_options(Exec *e, sd_bus_message *m) {
        const AgentCard *card = registry_agent_card(e->context, e->agent);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}", "workspace", "s", e->workspace, "profile", "s",
                                          "task", "stop_timeout_usec", "t",
                                          (uint64_t) EXEC_STOP_TIMEOUT_USEC);
        if (r >= 0 && e->cwd)
                r = sd_bus_message_append(m, "{sv}", "cwd", "s", e->cwd);
        if (r >= 0 && e->env && e->env[0]) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "env");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, e->env);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0 && e->capabilities && e->capabilities[0]) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "capabilities");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, e->capabilities);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        /* The card's limits (its defaults when it sets none); the sandbox applies them. */
        if (r >= 0 && card)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}", "memory_max", "t", card->limits.memory_max,
                                          "tasks_max", "t", card->limits.tasks_max, "cpu_weight", "t",
                                          card->limits.cpu_weight);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int exec_spawn(Exec *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char name[64];
        int r;

        (void) snprintf(name, sizeof(name), "task-%s-%u", e->task_id, e->n);
        r = sd_bus_message_new_method_call(e->context->bus, &m, SUPERVISOR_BUS_NAME, SUPERVISOR_PATH,
                                           SUPERVISOR_MANAGER_INTERFACE, "Spawn");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, e->argv);
        if (r >= 0)
                r = append_spawn_options(e, m);
        if (r >= 0)
                r = sd_bus_call_async(e->context->bus, &e->spawn_slot, m, on_spawn_reply, e, 0);
        if (r < 0)
                return r;
        e->phase = EXEC_SPAWNING;
        return exec_arm_timer(e, EXEC_TIMER_TIMEOUT, (usec_t) e->timeout_ms * USEC_PER_MSEC);
}

/* The "exec" row is durable (or could not be written): go ahead, or refuse. */
static void on_audited(Context *c, int error, void *userdata) {
        Exec *e = userdata;
        Task *t;
        int r;

        if (e->orphaned) {
                exec_free(e);
                return;
        }
        if (error < 0) {
                log_exec(LOG_ERR, error, e,
                         "Refusing exec %s of task %s: the audit log cannot be written: %m", e->request_id,
                         e->task_id);
                exec_finishf(e, "refused: the audit log cannot be written (%s)",
                             registry_audit_unavailable(c) ?: strerror(-error));
                return;
        }
        if (e->stop_reason) {
                exec_finish(e, NULL);
                return;
        }
        /* The last rows are flushed on the way out: nothing new is started then. */
        r = sd_event_get_state(c->event);
        if (r == SD_EVENT_EXITING || r == SD_EVENT_FINISHED) {
                exec_finish(e, "stopped: the registry is stopping");
                return;
        }
        t = task_get(c, e->task_id);
        if (!t || task_state_is_final(t->state)) {
                exec_finish(e, "stopped: the task ended");
                return;
        }
        r = exec_spawn(e);
        if (r < 0)
                exec_finishf(e, "the registry could not call the supervisor: %s", strerror(-r));
}

/* ---- the request ---- */

static bool env_name_char(char ch, bool first) {
        return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
               (!first && ch >= '0' && ch <= '9');
}

static bool env_entry_is_valid(const char *s) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return false;
        for (const char *p = s; p < eq; p++)
                if (!env_name_char(*p, p == s))
                        return false;
        return true;
}

static bool text_ok(const char *s, size_t max) {
        size_t n = strlen(s);

        return n <= max && utf8_is_valid_n(s, n);
}

static int fail(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int fail(char **reterr, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (vasprintf(reterr, format, ap) < 0)
                *reterr = NULL;
        va_end(ap);
        return error;
}

/* Checks what does not need the task; the message says which field and what is allowed. */
static int exec_validate(const Troupe__V1__ExecRequest *req, char **reterr) {
        size_t total = 0;

        if (req->n_argv < 1 || req->n_argv > EXEC_ARGV_MAX)
                return fail(reterr, -EINVAL, "argv: 1 to %u entries, got %zu", EXEC_ARGV_MAX, req->n_argv);
        for (size_t i = 0; i < req->n_argv; i++) {
                if (!text_ok(req->argv[i], EXEC_ARG_MAX))
                        return fail(reterr, -EINVAL, "argv[%zu]: at most %u bytes of UTF-8", i,
                                    EXEC_ARG_MAX);
                total += strlen(req->argv[i]) + 1;
        }
        if (total > EXEC_ARGV_BYTES_MAX)
                return fail(reterr, -EINVAL, "argv: at most 64 KiB in total");
        if (req->argv[0][0] != '/')
                return fail(reterr, -EINVAL,
                            "argv[0]: must be an absolute path (the command is not looked "
                            "up in PATH)");
        if (req->n_env > EXEC_ENV_MAX)
                return fail(reterr, -EINVAL, "env: at most %u entries", EXEC_ENV_MAX);
        for (size_t i = 0; i < req->n_env; i++) {
                if (!text_ok(req->env[i], EXEC_ARG_MAX) || !env_entry_is_valid(req->env[i]))
                        return fail(reterr, -EINVAL,
                                    "env[%zu]: expected NAME=value, NAME of [A-Za-z_][A-Za-z0-9_]*", i);
                if (startswith(req->env[i], "TROUPE_"))
                        return fail(reterr, -EINVAL, "env[%zu]: TROUPE_* variables are set by the suite", i);
        }
        if (!isempty(req->cwd) && path_validate_relative(req->cwd, strlen(req->cwd)) < 0)
                return fail(reterr, -EINVAL,
                            "cwd: a relative path in the workspace without '.', '..' or "
                            "empty components, or empty for the workspace itself");
        if (req->timeout_ms > EXEC_TIMEOUT_MS_MAX)
                return fail(reterr, -EINVAL, "timeout_ms: at most %u (24 h), or 0 for the default",
                            EXEC_TIMEOUT_MS_MAX);
        if (req->stdin_data.len > 0)
                return fail(reterr, -EOPNOTSUPP,
                            "stdin_data: not supported yet; write the input to a file in the "
                            "workspace and redirect from it");
        return 0;
}

/* The working directory, beneath the workspace: resolved by the kernel now, so that a symlink or a
 * missing directory is a clear error here rather than a failed spawn. (The sandbox is what keeps
 * the command inside the workspace if the tree changes in between.) */
static int exec_resolve_cwd(const char *workspace, const char *cwd, char **ret, char **reterr) {
        _cleanup_close_ int root = -EBADF, fd = -EBADF;
        char *p;

        if (isempty(cwd)) {
                *ret = NULL;
                return 0;
        }
        root = open(workspace, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (root < 0)
                return fail(reterr, -errno, "the task's workspace cannot be opened: %s", strerror(errno));
        fd = path_open_beneath(root, cwd, strlen(cwd), O_PATH | O_DIRECTORY);
        if (fd == -ENOENT)
                return fail(reterr, fd, "cwd: no directory '%s' in the workspace", cwd);
        if (fd == -ELOOP || fd == -EXDEV)
                return fail(reterr, fd, "cwd: '%s' goes through a symbolic link", cwd);
        if (fd == -ENOTDIR)
                return fail(reterr, fd, "cwd: '%s' is not a directory", cwd);
        if (fd < 0)
                return fail(reterr, fd, "cwd: '%s' cannot be opened: %s", cwd, strerror(-fd));
        p = strjoin(workspace, "/", cwd);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

size_t exec_count_task(Context *c, const char *task_id) {
        size_t n = 0;

        LIST_FOREACH(execs, e, c->execs_head) {
                if (streq(e->task_id, task_id))
                        n++;
        }
        return n;
}

/* The token's capabilities that change what the sandbox allows: the network ones. */
static int sandbox_capabilities(const Token *tok, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        STRV_FOREACH (cap, tok->capabilities)
                if (streq(*cap, "net.loopback") || startswith(*cap, "net.connect:")) {
                        r = strv_extend(&l, *cap);
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

static int exec_new(Context *c, Task *t, const Token *tok, const Troupe__V1__ExecRequest *req, Exec **ret,
                    char **reterr) {
        _cleanup_(exec_freep) Exec *e = NULL;
        int r;

        e = calloc(1, sizeof(Exec));
        if (!e)
                return -ENOMEM;
        e->context = c;
        e->log_fd = -EBADF;
        e->orphaned = true; /* not on the list yet */
        memcpy(e->task_id, t->id, sizeof(e->task_id));
        e->agent = strdup(t->agent_name);
        e->request_id = strdup(req->request_id);
        e->workspace = strdup(t->workspace);
        e->argv = calloc(req->n_argv + 1, sizeof(char *));
        e->env = calloc(req->n_env + 1, sizeof(char *));
        e->line = malloc(TASK_LOG_TEXT_MAX);
        if (!e->agent || !e->request_id || !e->workspace || !e->argv || !e->env || !e->line)
                return -ENOMEM;
        for (size_t i = 0; i < req->n_argv; i++)
                if (!(e->argv[i] = strdup(req->argv[i])))
                        return -ENOMEM;
        for (size_t i = 0; i < req->n_env; i++)
                if (!(e->env[i] = strdup(req->env[i])))
                        return -ENOMEM;
        e->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : EXEC_TIMEOUT_MS_DEFAULT;
        r = sandbox_capabilities(tok, &e->capabilities);
        if (r < 0)
                return r;
        r = exec_resolve_cwd(t->workspace, req->cwd, &e->cwd, reterr);
        if (r < 0)
                return r;

        e->orphaned = false;
        LIST_APPEND(execs, c->execs_head, c->execs_tail, e);
        c->n_execs++;
        e->n = ++t->n_execs_started;
        *ret = TAKE_PTR(e);
        return 0;
}

static int exec_audit(Exec *e, const char *cwd) {
        _cleanup_json_ json_t *detail = NULL, *argv = NULL, *env = NULL, *caps = NULL;

        argv = json_array();
        env = json_array();
        caps = json_array();
        if (!argv || !env || !caps)
                return -ENOMEM;
        STRV_FOREACH (a, e->argv)
                if (json_array_append_new(argv, json_string(*a)) < 0)
                        return -ENOMEM;
        /* Names only: values may be secrets, and the log is kept for ever. */
        STRV_FOREACH (v, e->env)
                if (json_array_append_new(env, json_stringn(*v, (size_t) (strchr(*v, '=') - *v))) < 0)
                        return -ENOMEM;
        STRV_FOREACH (cap, e->capabilities)
                if (json_array_append_new(caps, json_string(*cap)) < 0)
                        return -ENOMEM;
        detail = json_pack("{s:s, s:O, s:s, s:O, s:I, s:O}", "request_id", e->request_id, "argv", argv,
                           "cwd", strempty(cwd), "env", env, "timeout_ms", (json_int_t) e->timeout_ms,
                           "capabilities", caps);
        if (!detail)
                return -ENOMEM;
        return registry_audit(e->context, NULL, "exec", e->task_id, e->agent, detail, on_audited, e);
}

int exec_handle_request(AgentConn *conn, const IpcEnvelope *env) {
        const Troupe__V1__ExecRequest *req = env->exec_request;
        _cleanup_(token_freep) Token *tok = NULL;
        _cleanup_free_ char *err = NULL;
        Context *c = conn->context;
        Exec *e = NULL;
        Task *t = NULL;
        int r;

        /* Without a usable request id there is nothing to answer to: a protocol error. */
        if (isempty(req->request_id) || !text_ok(req->request_id, EXEC_REQUEST_ID_MAX))
                return ipc_connection_send_error(conn->ipc, TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS,
                                                 env->seq, "request_id: 1 to 64 bytes of UTF-8");
        r = exec_validate(req, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return send_refusal(conn, req->request_id, err ?: "invalid request");

        r = registry_token_check_full(c, conn, "exec", req->task_id, req->token.data, req->token.len,
                                      "exec.command", &t, &tok, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return send_refusalf(conn, req->request_id, "refused: %s", err ?: strerror(-r));

        if (c->n_execs >= EXEC_MAX)
                return send_refusalf(conn, req->request_id, "busy: the registry runs %u commands already",
                                     EXEC_MAX);
        if (exec_count_task(c, t->id) >= EXEC_PER_TASK_MAX)
                return send_refusalf(conn, req->request_id, "busy: task %s runs %u commands already", t->id,
                                     EXEC_PER_TASK_MAX);
        if (!c->bus)
                return send_refusal(conn, req->request_id, "the registry is not connected to the bus");

        r = exec_new(c, t, tok, req, &e, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return send_refusal(conn, req->request_id, err ?: strerror(-r));

        r = exec_audit(e, req->cwd);
        if (r < 0) {
                /* Not even queued: fail closed, nothing runs. */
                log_exec(LOG_ERR, r, e, "Refusing exec %s of task %s: the audit log cannot be written: %m",
                         e->request_id, e->task_id);
                exec_finishf(e, "refused: the audit log cannot be written (%s)",
                             registry_audit_unavailable(c) ?: strerror(-r));
                return 0;
        }
        log_exec(LOG_INFO, 0, e, "Task %s of agent %s runs %s (exec %s).", e->task_id, e->agent, e->argv[0],
                 e->request_id);
        return 0;
}

void exec_task_stop(Task *t, const char *reason) {
        Context *c = t->context;

        LIST_FOREACH_SAFE(execs, e, n, c->execs_head) {
                if (!streq(e->task_id, t->id) || e->stop_reason || e->exited)
                        continue;
                e->stop_reason = strdup(reason);
                if (!e->stop_reason) {
                        log_oom();
                        continue;
                }
                log_exec(LOG_DEBUG, 0, e, "Stopping exec %s of task %s: %s", e->request_id, e->task_id,
                         reason);
                /* Before the spawn the flag is enough: on_audited() and on_spawn_reply() look at it. */
                if (e->phase == EXEC_RUNNING && exec_send_stop(e, false))
                        exec_start_grace(e);
        }
}

int exec_setup(Context *c) {
        int r;

        /* One match for every command, added before the first Spawn() is sent: dbus-daemon handles
         * our messages in order, so no exit can slip past it. */
        r = sd_bus_match_signal_async(c->bus, &c->exec_exited_slot, SUPERVISOR_BUS_NAME, SUPERVISOR_PATH,
                                      SUPERVISOR_MANAGER_INTERFACE, "ProcessExited", on_process_exited, NULL,
                                      c);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the supervisor's ProcessExited: %m");
        return 0;
}

void exec_free_all(Context *c) {
        while (c->execs_head) {
                Exec *e = c->execs_head;

                if (e->phase == EXEC_RUNNING)
                        (void) exec_send_stop(e, false);
                if (e->phase == EXEC_AUDITING) {
                        /* The audit log still holds our callback: it frees the Exec. */
                        LIST_REMOVE(execs, c->execs_head, c->execs_tail, e);
                        c->n_execs--;
                        e->orphaned = true;
                        continue;
                }
                exec_free(e);
        }
        c->exec_exited_slot = sd_bus_slot_unref(c->exec_exited_slot);
}
