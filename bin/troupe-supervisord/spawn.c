/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "confinement.h"

/* Where the child moves the fds it keeps before it rearranges 0..3, so none overwrites another. */
#define CHILD_FD_MIN 10

static const char *const spawn_step_table[_SPAWN_STEP_MAX] = {
        [SPAWN_STEP_SIGNALS] = "signals",
        [SPAWN_STEP_SESSION] = "session",
        [SPAWN_STEP_PARENT_DEATH] = "parent-death-signal",
        [SPAWN_STEP_CWD] = "working-directory",
        [SPAWN_STEP_FDS] = "file-descriptors",
        [SPAWN_STEP_PLACEMENT] = "placement",
        [SPAWN_STEP_CONFINEMENT] = "confinement",
        [SPAWN_STEP_EXEC] = "exec",
};
DEFINE_STRING_TABLE_LOOKUP(spawn_step, SpawnStep);

typedef struct SpawnReport {
        int step;
        int error;
        char layer[SPAWN_LAYER_MAX];
} SpawnReport;

int spawn_check_executable(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EISDIR;
        if (faccessat(fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) < 0)
                return -errno;
        return 0;
}

/* Everything below runs in the child, on the parent's memory after sandbox_clone_vfork() or on a copy
 * after fork(): no malloc, no logging, only async-signal-safe calls, and no writes to anything but
 * our own stack and the report. */

static int child_reset_signals(void) {
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                /* SIGKILL, SIGSTOP and the C library's internal signals refuse; that is fine. */
                (void) sigaction(sig, &sa, NULL);
        if (sigemptyset(&none) < 0)
                return -errno;
        return RET_NERRNO(sigprocmask(SIG_SETMASK, &none, NULL));
}

static int child_parent_death(pid_t parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                return -errno;
        /* The parent may have died before the prctl(): then nobody would send the signal. */
        if (getppid() != parent)
                return -ESRCH;
        return 0;
}

static int child_move_high(int fd) {
        if (fd < 0)
                return fd;
        return RET_NERRNO(fcntl(fd, F_DUPFD_CLOEXEC, CHILD_FD_MIN));
}

static int child_setup_fds(const SpawnRequest *req) {
        int null_fd, out_fd, agent_fd = -EBADF;

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;
        null_fd = child_move_high(null_fd);
        out_fd = child_move_high(req->output_fd);
        if (null_fd < 0 || out_fd < 0)
                return -EBADF;
        if (req->agent_fd >= 0) {
                agent_fd = child_move_high(req->agent_fd);
                if (agent_fd < 0)
                        return agent_fd;
        }

        /* dup2() clears FD_CLOEXEC on the copies, and only on them. */
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                return -errno;
        if (agent_fd >= 0 && dup2(agent_fd, 3) < 0)
                return -errno;

        /* Everything else goes at exec, including the report pipe, which must live until then. */
        return RET_NERRNO(close_range(agent_fd >= 0 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC));
}

/* Where the child reports a failure before exec: the parent's memory (vfork) or a pipe (fork). */
typedef struct ChildContext {
        const SpawnRequest *req;
        pid_t parent;
        SpawnReport *shared; /* sandbox_clone_vfork(): the parent's report, in memory we share */
        int report_fd; /* fork(): the write end of the report pipe (O_CLOEXEC) */
        int place_fd; /* fork() with req->place: our end of the socket the verdict comes through */
        bool placed; /* sandbox_clone_parked(): set by the parent before it lets us go on */
} ChildContext;

_noreturn_ static void child_fail_layer(ChildContext *ctx, SpawnStep step, int error, const char *layer) {
        SpawnReport report = {.step = step, .error = abs(error)};

        /* strscpy() only copies bytes (strnlen, memcpy): safe after fork and on shared memory. */
        if (layer)
                (void) strscpy(report.layer, sizeof(report.layer), layer);
        if (report.error == 0)
                report.error = EIO;

        if (ctx->shared) {
                /* The parent is suspended until we exit, and reads this then. */
                *ctx->shared = report;
                _exit(127);
        }
        /* Nothing more can be done if this fails: the parent then sees the exit without a report. */
        if (write(ctx->report_fd, &report, sizeof(report)) < 0)
                _exit(127);
        _exit(127);
}

_noreturn_ static void child_fail(ChildContext *ctx, SpawnStep step, int error) {
        child_fail_layer(ctx, step, error, NULL);
}

/* Waits for the parent's verdict: 'P' when it placed us (a systemd scope holds our limits), 'N' when
 * not. Anything else (end of file: the parent gave up or died) fails the spawn. */
static int child_wait_placement(int fd, bool *ret_placed) {
        char verdict;
        ssize_t n;

        do
                n = read(fd, &verdict, 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0 || (verdict != 'P' && verdict != 'N'))
                return -EPIPE;
        *ret_placed = verdict == 'P';
        return 0;
}

_noreturn_ static void spawn_child(ChildContext *ctx) {
        const SpawnRequest *req = ctx->req;
        const char *layer = NULL;
        bool placed = ctx->placed;
        int r;

        r = child_reset_signals();
        if (r < 0)
                child_fail(ctx, SPAWN_STEP_SIGNALS, r);
        if (ctx->place_fd >= 0) {
                r = child_wait_placement(ctx->place_fd, &placed);
                if (r < 0)
                        child_fail(ctx, SPAWN_STEP_PLACEMENT, r);
        }
        if (setsid() < 0)
                child_fail(ctx, SPAWN_STEP_SESSION, -errno);
        r = child_parent_death(ctx->parent);
        if (r < 0)
                child_fail(ctx, SPAWN_STEP_PARENT_DEATH, r);

        if (!ctx->shared) {
                ctx->report_fd = child_move_high(ctx->report_fd);
                if (ctx->report_fd < 0)
                        _exit(127);
        }

        if ((req->cwd_fd >= 0 ? fchdir(req->cwd_fd) : chdir("/")) < 0)
                child_fail(ctx, SPAWN_STEP_CWD, -errno);
        r = child_setup_fds(req);
        if (r < 0)
                child_fail(ctx, SPAWN_STEP_FDS, r);

        /* The sandbox goes here, last before exec, once everything it would forbid is done. */
        r = confinement_apply_in_child(req->sandbox, placed, &layer);
        if (r < 0)
                child_fail_layer(ctx, SPAWN_STEP_CONFINEMENT, r, layer);

        execve(req->argv[0], req->argv, req->envp);
        child_fail(ctx, SPAWN_STEP_EXEC, -errno);
}

/* sandbox_clone_vfork()'s and sandbox_clone_parked()'s entry: runs on the parent's memory, and
 * writes only its own stack and ctx->shared. */
static int spawn_child_vfork(void *userdata) {
        spawn_child(userdata);
}

static int read_report(int fd, SpawnReport *ret) {
        ssize_t n;

        do
                n = read(fd, ret, sizeof(*ret));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return n == (ssize_t) sizeof(*ret) ? 1 : 0;
}

static int report_failure(pid_t pid, const SpawnReport *report, SpawnFailure *ret_failure) {
        (void) waitpid(pid, NULL, 0);
        if (ret_failure) {
                ret_failure->step = report->step;
                memcpy(ret_failure->layer, report->layer, sizeof(ret_failure->layer));
                ret_failure->layer[sizeof(ret_failure->layer) - 1] = 0;
        }
        return report->error > 0 ? -report->error : -EIO;
}

/* The parent's side of the placement: runs req->place() and tells the child. */
static int spawn_place(const SpawnRequest *req, pid_t pid, int place_fd, SpawnFailure *ret_failure) {
        SpawnReport report = {.step = SPAWN_STEP_PLACEMENT};
        int r;

        r = req->place(pid, req->place_userdata);
        if (r < 0) {
                /* The child reads end of file and exits without going on. */
                (void) shutdown(place_fd, SHUT_WR);
                report.error = -r;
                return report_failure(pid, &report, ret_failure);
        }
        /* MSG_NOSIGNAL: a child that died meanwhile must not take SIGPIPE to us; its exit (and any
         * report it wrote) is seen below. */
        if (send(place_fd, r > 0 ? "P" : "N", 1, MSG_NOSIGNAL) < 0 && errno != EPIPE) {
                report.error = errno;
                (void) shutdown(place_fd, SHUT_WR);
                return report_failure(pid, &report, ret_failure);
        }
        return 0;
}

/* fork(): only for a request with a place() step, which must run while the child waits. */
static int spawn_start_fork(const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure) {
        _cleanup_close_ int report_read = -EBADF, report_write = -EBADF, place_parent = -EBADF,
                            place_child = -EBADF;
        SpawnReport report;
        pid_t pid;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        report_read = fds[0];
        report_write = fds[1];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        place_parent = fds[0];
        place_child = fds[1];

        ChildContext ctx = {
                .req = req,
                .parent = getpid(),
                .report_fd = report_write,
                .place_fd = place_child,
        };
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                spawn_child(&ctx);

        report_write = safe_close(report_write);
        place_child = safe_close(place_child);
        r = spawn_place(req, pid, place_parent, ret_failure);
        if (r < 0)
                return r;

        /* Blocks only until the exec: end of file means it happened (the pipe is O_CLOEXEC). */
        r = read_report(report_read, &report);
        /* A read error tells us nothing about the child, which exists: treat it as started, and
         * its exit will be reported like any other. */
        if (r <= 0) {
                *ret_pid = pid;
                return 0;
        }
        return report_failure(pid, &report, ret_failure);
}

/* The place step of a parked child: into the sandbox's own cgroups, from outside. */
static int place_parked(pid_t pid, void *userdata) {
        ChildContext *ctx = userdata;
        int r;

        r = confinement_place_cgroups(ctx->req->sandbox, pid);
        if (r < 0)
                return r;
        /* The child reads this after we let it go on. */
        ctx->placed = r > 0;
        return 0;
}

int spawn_start(const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure) {
        SpawnReport report = {};
        ChildContext ctx;
        pid_t pid;
        int r;

        assert_return(req && req->argv && req->argv[0] && req->envp, -EINVAL);
        assert_return(req->output_fd >= 0, -EBADF);

        if (req->place)
                return spawn_start_fork(req, ret_pid, ret_failure);

        /* As posix_spawn() does: no page tables copied, and we are suspended until the child has
         * exec'd or exited (after its placement, if parked), so its report (written into `report`, which we
         * share) is complete when this returns. A child killed before it could report looks started: its
         * exit is reported like any other. */
        ctx = (ChildContext){
                .req = req,
                .parent = getpid(),
                .shared = &report,
                .report_fd = -EBADF,
                .place_fd = -EBADF,
        };
        /* With cgroups to join, the child is parked and we move it in: a process that moves itself
         * into a cpu group while it runs is rescheduled there, which cost milliseconds a spawn on a
         * loaded machine (docs/performance.md). */
        if (confinement_has_cgroups(req->sandbox)) {
                r = sandbox_clone_parked(spawn_child_vfork, &ctx, place_parked, &ctx, &pid);
                if (r < 0 && ret_failure)
                        *ret_failure = (SpawnFailure){.step = SPAWN_STEP_PLACEMENT};
        } else
                r = sandbox_clone_vfork(spawn_child_vfork, &ctx, &pid);
        if (r < 0)
                return r;
        if (report.error == 0) {
                *ret_pid = pid;
                return 0;
        }
        return report_failure(pid, &report, ret_failure);
}
