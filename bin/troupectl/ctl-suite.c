/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-suite.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-bus.h"
#include "ctl-records.h"
#include "paths/paths.h"

#define CTL_POLL_USEC (50U * USEC_PER_MSEC)
#define CTL_BUS_START_TIMEOUT_USEC (10U * USEC_PER_SEC)
#define CTL_BUS_STOP_TIMEOUT_USEC (10U * USEC_PER_SEC)
/* Fds handed to a child are moved up here first, so its dup2() onto 0..4 cannot clobber them. */
#define CTL_FD_HIGH 10

bool ctl_session_bus_exists(void) {
        const char *e = getenv("DBUS_SESSION_BUS_ADDRESS"), *runtime = getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (!isempty(e))
                return true;
        if (isempty(runtime))
                return false;
        path = strjoin(runtime, "/bus");
        return path && stat(path, &st) >= 0 && S_ISSOCK(st.st_mode);
}

static void sleep_usec(usec_t usec) {
        struct timespec ts = {.tv_sec = (time_t) (usec / USEC_PER_SEC),
                              .tv_nsec = (long) (usec % USEC_PER_SEC * NSEC_PER_USEC)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* An fd at CTL_FD_HIGH or above, O_CLOEXEC; the original is closed. */
static int fd_move_high(int fd) {
        int n = fcntl(fd, F_DUPFD_CLOEXEC, CTL_FD_HIGH);
        int saved = errno;

        safe_close(fd);
        return n < 0 ? -saved : n;
}

static int open_log(const char *log_path) {
        _cleanup_free_ char *dir = NULL;
        char *slash;
        int r;

        dir = strdup(log_path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                r = mkdir_p_secure(dir, 0700, NULL);
                if (r < 0)
                        return r;
        }
        r = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        return r < 0 ? -errno : fd_move_high(r);
}

/* Reads one line from a pipe a child writes, waiting until `deadline`. */
static int read_line_until(int fd, usec_t deadline, char *buf, size_t size) {
        size_t n = 0;

        while (n + 1 < size) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                ssize_t k;
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / USEC_PER_MSEC) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        continue;
                k = read(fd, buf + n, 1);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0 || buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = 0;
        return n > 0 ? 0 : -EPIPE;
}

/* The child side: stdio and the two report pipes at 3 and 4, then dbus-daemon. */
_noreturn_ static void bus_child(int null_fd, int log_fd, int address_fd, int pid_fd, char **argv) {
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0 || dup2(address_fd, 3) < 0 || dup2(pid_fd, 4) < 0)
                _exit(127);
        execvp(argv[0], argv);
        _exit(127);
}

static int bus_pipes(int address_pipe[2], int pid_pipe[2]) {
        if (pipe2(address_pipe, O_CLOEXEC) < 0 || pipe2(pid_pipe, O_CLOEXEC) < 0)
                return -errno;
        for (size_t i = 0; i < 2; i++) {
                address_pipe[i] = fd_move_high(address_pipe[i]);
                pid_pipe[i] = fd_move_high(pid_pipe[i]);
                if (address_pipe[i] < 0 || pid_pipe[i] < 0)
                        return -EMFILE;
        }
        return 0;
}

static int bus_spawn(const char *socket_path, int log_fd, int *ret_address_fd, int *ret_pid_fd) {
        _cleanup_free_ char *address_arg = NULL;
        _cleanup_close_ int null_fd = -EBADF;
        int address_pipe[2] = {-EBADF, -EBADF}, pid_pipe[2] = {-EBADF, -EBADF};
        const char *dbus = getenv("DBUS_DAEMON");
        pid_t pid = -1;
        int r, status;

        address_arg = strjoin("--address=unix:path=", socket_path);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (!address_arg || null_fd < 0)
                return address_arg ? -errno : -ENOMEM;
        null_fd = fd_move_high(TAKE_FD(null_fd));
        r = null_fd < 0 ? null_fd : bus_pipes(address_pipe, pid_pipe);
        if (r >= 0) {
                char *argv[] = {(char *) (isempty(dbus) ? "dbus-daemon" : dbus),
                                (char *) "--session",
                                (char *) "--fork",
                                (char *) "--nopidfile",
                                address_arg,
                                (char *) "--print-address=3",
                                (char *) "--print-pid=4",
                                NULL};
                pid = fork();
                if (pid == 0)
                        bus_child(null_fd, log_fd, address_pipe[1], pid_pipe[1], argv);
                r = pid < 0 ? -errno : 0;
        }
        safe_close(address_pipe[1]);
        safe_close(pid_pipe[1]);
        if (r < 0) {
                safe_close(address_pipe[0]);
                safe_close(pid_pipe[0]);
                return r;
        }
        /* With --fork the process we started exits once the daemon is set up. */
        (void) TEMP_FAILURE_RETRY(waitpid(pid, &status, 0));
        *ret_address_fd = address_pipe[0];
        *ret_pid_fd = pid_pipe[0];
        return 0;
}

int ctl_private_bus_start(const char *log_path, char **ret_address, pid_t *ret_pid) {
        _cleanup_free_ char *runtime = NULL, *socket_path = NULL;
        _cleanup_close_ int log_fd = -EBADF, address_fd = -EBADF, pid_fd = -EBADF;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + CTL_BUS_START_TIMEOUT_USEC;
        char address[4096], pid[32];
        int r;

        r = troupe_path_get(TROUPE_PATH_RUNTIME, &runtime);
        if (r < 0)
                return r;
        r = mkdir_p_secure(runtime, 0700, NULL);
        if (r < 0)
                return r;
        socket_path = strjoin(runtime, "/" CTL_PRIVATE_BUS_SOCKET);
        if (!socket_path)
                return -ENOMEM;
        /* A socket left behind by a dbus-daemon that died; no live one is recorded. */
        (void) unlink(socket_path);

        log_fd = open_log(log_path);
        if (log_fd < 0)
                return log_fd;
        r = bus_spawn(socket_path, log_fd, &address_fd, &pid_fd);
        if (r < 0)
                return r;
        r = read_line_until(address_fd, deadline, address, sizeof(address));
        if (r >= 0)
                r = read_line_until(pid_fd, deadline, pid, sizeof(pid));
        if (r < 0)
                return r;

        *ret_pid = (pid_t) strtol(pid, NULL, 10);
        if (*ret_pid <= 1)
                return -EIO;
        *ret_address = strdup(address);
        return *ret_address ? 0 : -ENOMEM;
}

int ctl_pid_wait_gone(pid_t pid, usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;

        while (pid_is_alive(pid)) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(20 * USEC_PER_MSEC);
        }
        return 0;
}

int ctl_private_bus_stop(pid_t pid) {
        if (!pid_is_alive(pid))
                return 0;
        /* A recycled pid is someone else's process. */
        if (!pid_has_comm(pid, "dbus-daemon"))
                return -ESRCH;
        if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
                return -errno;
        if (ctl_pid_wait_gone(pid, CTL_BUS_STOP_TIMEOUT_USEC) >= 0)
                return 0;
        if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
                return -errno;
        return ctl_pid_wait_gone(pid, CTL_BUS_STOP_TIMEOUT_USEC);
}

int ctl_child_stop(pid_t pid) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + CTL_BUS_STOP_TIMEOUT_USEC;

        if (kill(pid, SIGTERM) < 0)
                return -errno;
        while (waitpid(pid, NULL, WNOHANG) == 0) {
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        (void) kill(pid, SIGKILL);
                        return TEMP_FAILURE_RETRY(waitpid(pid, NULL, 0)) < 0 ? -errno : 0;
                }
                sleep_usec(20 * USEC_PER_MSEC);
        }
        return 0;
}

int ctl_libexec_path(const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL, *p = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_LIBEXEC, &dir);
        if (r < 0)
                return r;
        p = strjoin(dir, "/", name);
        if (!p)
                return -ENOMEM;
        if (access(p, X_OK) < 0)
                return -errno;
        *ret = TAKE_PTR(p);
        return 0;
}

int ctl_supervisor_start(const char *address, const char *log_path, pid_t *ret_pid) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int log_fd = -EBADF, null_fd = -EBADF;
        pid_t pid;
        int r;

        r = ctl_libexec_path("troupe-supervisord", &path);
        if (r < 0)
                return r;
        log_fd = open_log(log_path);
        if (log_fd < 0)
                return log_fd;
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;
        null_fd = fd_move_high(TAKE_FD(null_fd));
        if (null_fd < 0)
                return null_fd;
        if (setenv("TROUPE_BUS_ADDRESS", address, 1) < 0)
                return -errno;

        char *argv[] = {(char *) "troupe-supervisord", (char *) "--suite", NULL};
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Its own session: a terminal's Ctrl-C or hangup must not reach the suite. */
                if (setsid() < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
                    dup2(log_fd, STDERR_FILENO) < 0)
                        _exit(127);
                execv(path, argv);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

bool ctl_name_answers(sd_bus *bus, const char *name, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(bus, &m, name, path, "org.freedesktop.DBus.Peer", "Ping") < 0)
                return false;
        /* An installed activation file must not make the bus try to start it for us. */
        if (sd_bus_message_set_auto_start(m, false) < 0)
                return false;
        return sd_bus_call(bus, m, 2 * USEC_PER_SEC, NULL, NULL) >= 0;
}

static bool name_has_owner(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has = 0;

        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", name) < 0)
                return false;
        return sd_bus_message_read(reply, "b", &has) >= 0 && has;
}

static bool suite_is(sd_bus *bus, bool present) {
        for (size_t i = 0; i < ELEMENTSOF(ctl_suite); i++) {
                bool up = present ? ctl_name_answers(bus, ctl_suite[i]->name, ctl_suite[i]->path)
                                  : name_has_owner(bus, ctl_suite[i]->name);
                if (up != present)
                        return false;
        }
        return true;
}

int ctl_suite_wait(sd_bus *bus, bool present, pid_t child, int *ret_status) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + CTL_SUITE_TIMEOUT_USEC;

        for (;;) {
                if (suite_is(bus, present))
                        return 0;
                if (child > 0) {
                        int status;
                        if (waitpid(child, &status, WNOHANG) == child) {
                                *ret_status = status;
                                return -ECHILD;
                        }
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(CTL_POLL_USEC);
        }
}
