/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "bus-test-util.h"
#include "check-main.h"

#define TEST_BUS_TIMEOUT (10 * USEC_PER_SEC)
#define TEST_BUS_CALL_TIMEOUT (10 * USEC_PER_SEC)
#define TEST_BUS_ADDRESS_MAX 4096

/* No service directories: a test must never activate a real service from the machine. */
static const char bus_config[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>session</type>\n"
        "  <listen>unix:dir=%s</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        "    <allow eavesdrop=\"true\"/>\n"
        "    <allow own=\"*\"/>\n"
        "  </policy>\n"
        "</busconfig>\n";

static bool is_executable(const char *path) {
        return !isempty(path) && access(path, X_OK) == 0;
}

char *test_find_executable(const char *name) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = NULL;
        char *state = NULL;

        copy = strdup(isempty(path) ? "/usr/bin:/bin" : path);
        if (!copy)
                return NULL;
        for (char *dir = strtok_r(copy, ":", &state); dir; dir = strtok_r(NULL, ":", &state)) {
                _cleanup_free_ char *p = strjoin(dir, "/", name);

                if (p && is_executable(p))
                        return TAKE_PTR(p);
        }
        return NULL;
}

char *test_bus_find_daemon(void) {
        const char *e = getenv("DBUS_DAEMON");

        if (is_executable(e))
                return strdup(e);
        return test_find_executable("dbus-daemon");
}

void test_bus_skip_if_unavailable(void) {
        _cleanup_free_ char *daemon = test_bus_find_daemon();

        if (daemon)
                return;
        printf("1..0 # SKIP no dbus-daemon: install the dbus package (dev/setup does)\n");
        fflush(stdout);
        exit(EXIT_SUCCESS);
}

static usec_t usec_left(usec_t deadline) {
        usec_t n = now_usec(CLOCK_MONOTONIC);
        return n < deadline ? deadline - n : 0;
}

int test_wait_pid(pid_t pid, usec_t timeout, int *ret_status) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        int status;

        for (;;) {
                pid_t p = waitpid(pid, &status, WNOHANG);

                if (p < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p == pid)
                        break;
                if (usec_left(deadline) == 0) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        return -ETIMEDOUT;
                }
                /* A short poll interval, not a fixed wait: the deadline is what bounds us. */
                (void) nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
        }

        if (ret_status)
                *ret_status = status;
        return 0;
}

pid_t test_fork(void) {
        pid_t parent = getpid(), pid;

        (void) fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                return pid;

        if (signal(SIGTERM, SIG_DFL) == SIG_ERR || signal(SIGINT, SIG_DFL) == SIG_ERR ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        return 0;
}

static int write_config(const char *dir, char **ret_path) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        path = strjoin(dir, "/bus.conf");
        if (!path)
                return -ENOMEM;
        f = fopen(path, "we");
        if (!f)
                return -errno;
        if (fprintf(f, bus_config, dir) < 0 || fflush(f) != 0)
                return -EIO;

        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Reads the line dbus-daemon prints once it listens. EOF first means it failed to start. */
static int read_address(int fd, char **ret) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + TEST_BUS_TIMEOUT;
        char buf[TEST_BUS_ADDRESS_MAX];
        size_t used = 0;
        char *nl, *a;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t left = usec_left(deadline);
                ssize_t n;
                int k;

                if (left == 0)
                        return -ETIMEDOUT;
                k = poll(&p, 1, (int) DIV_ROUND_UP(left, USEC_PER_MSEC));
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k <= 0)
                        continue;

                n = read(fd, buf + used, sizeof(buf) - 1 - used);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPIPE;
                used += (size_t) n;
                buf[used] = 0;
                nl = strchr(buf, '\n');
                if (nl) {
                        *nl = 0;
                        break;
                }
                if (used >= sizeof(buf) - 1)
                        return -E2BIG;
        }

        a = strdup(buf);
        if (!a)
                return -ENOMEM;
        *ret = a;
        return 0;
}

/* Between fork() and exec(): async-signal-safe calls only. */
_noreturn_ static void exec_daemon(const char *daemon, const char *config_arg, int address_fd) {
        char *argv[] = { (char *) daemon, (char *) config_arg, (char *) "--nofork", (char *) "--nopidfile",
                         (char *) "--print-address=3", NULL };
        int null_fd;

        /* fd 3 without O_CLOEXEC for --print-address=3; dup2() onto itself would keep the flag. */
        if (address_fd == 3) {
                if (fcntl(3, F_SETFD, 0) < 0)
                        _exit(EXIT_FAILURE);
        } else if (dup2(address_fd, 3) < 0)
                _exit(EXIT_FAILURE);

        /* stdout carries the test's TAP stream: nothing else may write there. */
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
                _exit(EXIT_FAILURE);

        execv(daemon, argv);
        _exit(127);
}

int test_bus_start(TestBus **ret) {
        _cleanup_(test_bus_stopp) TestBus *b = NULL;
        _cleanup_free_ char *daemon = NULL, *config = NULL, *config_arg = NULL;
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        int fds[2], r;

        daemon = test_bus_find_daemon();
        if (!daemon)
                return -ENOENT;

        b = calloc(1, sizeof(TestBus));
        if (!b)
                return -ENOMEM;
        b->dir = make_tmpdir();
        if (!b->dir)
                return -errno;
        r = write_config(b->dir, &config);
        if (r < 0)
                return r;
        config_arg = strjoin("--config-file=", config);
        if (!config_arg)
                return -ENOMEM;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        read_fd = fds[0];
        write_fd = fds[1];

        b->pid = test_fork();
        if (b->pid < 0)
                return b->pid;
        if (b->pid == 0)
                exec_daemon(daemon, config_arg, write_fd);

        write_fd = safe_close(write_fd);
        r = read_address(read_fd, &b->address);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

TestBus *test_bus_stop(TestBus *b) {
        if (!b)
                return NULL;

        if (b->pid > 0) {
                (void) kill(b->pid, SIGTERM);
                (void) test_wait_pid(b->pid, TEST_BUS_TIMEOUT, NULL);
        }
        rm_rf_tmpdir(b->dir);
        free(b->dir);
        free(b->address);
        free(b);
        return NULL;
}

int test_bus_connect(const TestBus *b, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(b && b->address, -EINVAL);

        r = bus_open_address(b->address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(bus, TEST_BUS_CALL_TIMEOUT);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}
