/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "confinement.h"
#include "spawn.h"

/* Where the child moves the fds it keeps before it rearranges 0..3, so none overwrites another. */
#define CHILD_FD_MIN 10

static const char *const spawn_step_table[_SPAWN_STEP_MAX] = {
        [SPAWN_STEP_SIGNALS] = "signals",
        [SPAWN_STEP_SESSION] = "session",
        [SPAWN_STEP_PARENT_DEATH] = "parent-death-signal",
        [SPAWN_STEP_CWD] = "working-directory",
        [SPAWN_STEP_FDS] = "file-descriptors",
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

/* Everything below runs in the forked child: no malloc, no logging, only async-signal-safe calls. */

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

_noreturn_ static void child_fail_layer(int report_fd, SpawnStep step, int error, const char *layer) {
        SpawnReport report = {.step = step, .error = abs(error)};

        /* strscpy() only copies bytes (strnlen, memcpy): safe after fork. */
        if (layer)
                (void) strscpy(report.layer, sizeof(report.layer), layer);

        /* Nothing more can be done if this fails: the parent then sees the exit without a report. */
        if (write(report_fd, &report, sizeof(report)) < 0)
                _exit(127);
        _exit(127);
}

_noreturn_ static void child_fail(int report_fd, SpawnStep step, int error) {
        child_fail_layer(report_fd, step, error, NULL);
}

_noreturn_ static void spawn_child(const SpawnRequest *req, pid_t parent, int report_fd) {
        const char *layer = NULL;
        int r;

        r = child_reset_signals();
        if (r < 0)
                child_fail(report_fd, SPAWN_STEP_SIGNALS, r);
        if (setsid() < 0)
                child_fail(report_fd, SPAWN_STEP_SESSION, -errno);
        r = child_parent_death(parent);
        if (r < 0)
                child_fail(report_fd, SPAWN_STEP_PARENT_DEATH, r);

        report_fd = child_move_high(report_fd);
        if (report_fd < 0)
                _exit(127);

        if ((req->cwd_fd >= 0 ? fchdir(req->cwd_fd) : chdir("/")) < 0)
                child_fail(report_fd, SPAWN_STEP_CWD, -errno);
        r = child_setup_fds(req);
        if (r < 0)
                child_fail(report_fd, SPAWN_STEP_FDS, r);

        /* The sandbox goes here, last before exec, once everything it would forbid is done. */
        r = confinement_apply_in_child(req->sandbox, &layer);
        if (r < 0)
                child_fail_layer(report_fd, SPAWN_STEP_CONFINEMENT, r, layer);

        execve(req->argv[0], req->argv, req->envp);
        child_fail(report_fd, SPAWN_STEP_EXEC, -errno);
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

int spawn_start(const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure) {
        _cleanup_close_ int report_read = -EBADF, report_write = -EBADF;
        SpawnReport report;
        pid_t parent = getpid(), pid;
        int fds[2], r;

        assert_return(req && req->argv && req->argv[0] && req->envp, -EINVAL);
        assert_return(req->output_fd >= 0, -EBADF);

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        report_read = fds[0];
        report_write = fds[1];

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                spawn_child(req, parent, report_write);

        report_write = safe_close(report_write);
        /* Blocks only until the exec: end of file means it happened (the pipe is O_CLOEXEC). */
        r = read_report(report_read, &report);
        /* A read error tells us nothing about the child, which exists: treat it as started, and
         * its exit will be reported like any other. */
        if (r <= 0) {
                *ret_pid = pid;
                return 0;
        }

        (void) waitpid(pid, NULL, 0);
        if (ret_failure) {
                ret_failure->step = report.step;
                report.layer[sizeof(report.layer) - 1] = 0;
                memcpy(ret_failure->layer, report.layer, sizeof(ret_failure->layer));
        }
        return report.error > 0 ? -report.error : -EIO;
}
