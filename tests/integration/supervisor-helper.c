/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervisor-helper: what the supervisor's integration tests run as children, clients and
 * stand-ins, one verb each:
 *   watch-exits                    print "ID CODE STATUS" for every ProcessExited signal and
 *                                  "state PATH STATE" for every PropertiesChanged of a State
 *   openlog ID OFFSET [WAIT_FILE]  OpenLog(OFFSET) and copy the stream to stdout; with WAIT_FILE,
 *                                  read nothing until that file exists ($HELPER_DELAY_US between
 *                                  reads makes a slow reader; $HELPER_OPENED_FILE is created once
 *                                  OpenLog has answered)
 *   listen PATH                    a stand-in agent socket: prints "connect" and "packet TEXT"
 *   notify-listen PATH             a stand-in NOTIFY_SOCKET: prints each datagram's lines
 *   agent-child                    checks its fd 3 is a SOCK_SEQPACKET connection, sends a packet
 *   fds                            prints the open fds: "fds 0 1 2"
 *   bus-name NAME [RECORD [DELAY_MS]]  a stand-in suite member: owns NAME until SIGTERM, then
 *                                  appends "stop NAME" to RECORD
 *   spawn NAME ARGV0 [KEY=VALUE...]  Spawn() with string options; prints "ok ID" or the error's
 *                                  name and message */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "ipc/socket.h"

#define DEADLINE_USEC (60ULL * 1000000ULL)

static int fail(const char *what, int r) {
        fprintf(stderr, "supervisor-helper: %s: %s\n", what, strerror(abs(r)));
        return EXIT_FAILURE;
}

static int on_exited(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *id;
        int code, status;

        if (sd_bus_message_read(m, "sii", &id, &code, &status) >= 0) {
                printf("%s %d %d\n", id, code, status);
                fflush(stdout);
        }
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *interface, *key, *value;
        int r;

        if (sd_bus_message_read(m, "s", &interface) < 0 ||
            sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if (sd_bus_message_read(m, "s", &key) < 0)
                        return 0;
                if (streq(key, "State") && sd_bus_message_read(m, "v", "s", &value) >= 0) {
                        printf("state %s %s\n", sd_bus_message_get_path(m), value);
                        fflush(stdout);
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

static int verb_watch_exits(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return fail("bus", r);
        r = sd_bus_match_signal(bus, NULL, "org.troupe.Supervisor1", "/org/troupe/Supervisor1",
                                "org.troupe.Supervisor1.Manager", "ProcessExited", on_exited, NULL);
        if (r < 0)
                return fail("match", r);
        r = sd_bus_add_match(
                bus, NULL,
                "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                "path_namespace='/org/troupe/Supervisor1'",
                on_properties_changed, NULL);
        if (r < 0)
                return fail("match", r);
        printf("watching\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail("process", r);
                if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0)
                        return fail("wait", r);
        }
}

static int open_log(const char *id, uint64_t offset, int *ret_fd) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int fd, r;

        r = bus_open(&bus);
        if (r < 0)
                return r;
        r = bus_object_path("/org/troupe/Supervisor1/process", id, &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, "org.troupe.Supervisor1", path, "org.troupe.Supervisor1.Process",
                               "OpenLog", &error, &reply, "t", offset);
        if (r < 0) {
                fprintf(stderr, "OpenLog: %s: %s\n", error.name, error.message);
                return r;
        }
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static void wait_for_file(const char *path) {
        struct stat st;

        for (unsigned i = 0; i < DEADLINE_USEC / 20000; i++) {
                if (stat(path, &st) == 0)
                        return;
                usleep(20000);
        }
}

static int verb_openlog(int argc, char *argv[]) {
        _cleanup_close_ int fd = -EBADF;
        const char *delay = getenv("HELPER_DELAY_US"), *opened = getenv("HELPER_OPENED_FILE");
        char buf[64 * 1024];
        int r;

        if (argc < 4)
                return fail("usage: openlog ID OFFSET [WAIT_FILE]", EINVAL);
        r = open_log(argv[2], strtoull(argv[3], NULL, 10), &fd);
        if (r < 0)
                return fail("OpenLog", r);
        if (opened) {
                int k = open(opened, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (k < 0)
                        return fail("HELPER_OPENED_FILE", -errno);
                close(k);
        }
        if (argc > 4)
                wait_for_file(argv[4]);
        for (;;) {
                ssize_t n = read(fd, buf, delay ? 4096 : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail("read", -errno);
                if (n == 0)
                        return EXIT_SUCCESS;
                r = loop_write(STDOUT_FILENO, buf, (size_t) n);
                if (r < 0)
                        return fail("write", r);
                if (delay)
                        usleep((useconds_t) atoi(delay));
        }
}

static void print_packets(int fd) {
        IpcPacket p = {};
        int r;

        while ((r = ipc_recv_packet(fd, 4096, 0, &p)) > 0) {
                printf("packet %.*s\n", (int) p.size, (const char *) p.data);
                fflush(stdout);
                ipc_packet_done(&p);
        }
}

static int verb_listen(int argc, char *argv[]) {
        struct pollfd fds[17];
        size_t n = 1;
        int fd;

        if (argc < 3)
                return fail("usage: listen PATH", EINVAL);
        fd = ipc_socket_listen(argv[2], true);
        if (fd < 0)
                return fail("listen", fd);
        fds[0] = (struct pollfd) { .fd = fd, .events = POLLIN };
        printf("listening\n");
        fflush(stdout);
        for (;;) {
                if (poll(fds, n, -1) < 0)
                        return fail("poll", -errno);
                if ((fds[0].revents & POLLIN) && n < ELEMENTSOF(fds)) {
                        int c = ipc_socket_accept(fd);
                        if (c >= 0) {
                                printf("connect\n");
                                fflush(stdout);
                                fds[n++] = (struct pollfd) { .fd = c, .events = POLLIN };
                        }
                }
                for (size_t i = 1; i < n; i++)
                        if (fds[i].revents & POLLIN)
                                print_packets(fds[i].fd);
        }
}

static int verb_notify_listen(int argc, char *argv[]) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char buf[4096];
        int fd;

        if (argc < 3 || strlen(argv[2]) >= sizeof(sa.sun_path))
                return fail("usage: notify-listen PATH", EINVAL);
        strscpy(sa.sun_path, sizeof(sa.sun_path), argv[2]);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return fail("bind", -errno);
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
                if (k < 0)
                        return fail("recv", -errno);
                buf[k] = 0;
                printf("%s\n", buf);
                fflush(stdout);
        }
}

static int verb_fds(void) {
        _cleanup_free_ char *line = strdup("fds");
        DIR *d = opendir("/proc/self/fd");
        int dfd = d ? dirfd(d) : -1;
        struct dirent *de;

        if (!d || !line)
                return fail("opendir", -errno);
        while ((de = readdir(d))) {
                char *t;
                if (de->d_name[0] == '.' || atoi(de->d_name) == dfd)
                        continue;
                t = strjoin(line, " ", de->d_name);
                if (!t)
                        return fail("strjoin", ENOMEM);
                free(line);
                line = t;
        }
        closedir(d);
        printf("%s\n", line);
        return EXIT_SUCCESS;
}

static int verb_agent_child(void) {
        char msg[64];
        int type = 0, r;
        socklen_t len = sizeof(type);

        if (!streq_ptr(getenv("TROUPE_AGENT_FD"), "3"))
                return fail("TROUPE_AGENT_FD is not 3", EINVAL);
        if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return fail("fd 3", -errno);
        if (type != SOCK_SEQPACKET)
                return fail("fd 3 is not SOCK_SEQPACKET", EPROTOTYPE);
        snprintf(msg, sizeof(msg), "hello from %d", (int) getpid());
        r = ipc_send_packet(3, msg, strlen(msg), NULL, 0);
        if (r < 0)
                return fail("send", r);
        printf("fd3 ok\n");
        fflush(stdout);
        return verb_fds();
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        char **argv = userdata;
        FILE *f;

        if (argv[3]) {
                f = fopen(argv[3], "ae");
                if (f) {
                        fprintf(f, "stop %s\n", argv[2]);
                        fclose(f);
                }
        }
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int verb_bus_name(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t mask;
        int r;

        if (argc < 3)
                return fail("usage: bus-name NAME [RECORD [DELAY_MS]]", EINVAL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if (argc > 4)
                usleep((useconds_t) atoi(argv[4]) * 1000);

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_term, argv);
        if (r >= 0)
                r = bus_open_daemon(event, &bus);
        if (r >= 0)
                r = bus_request_name(bus, argv[2]);
        if (r < 0)
                return fail("bus-name", r);
        printf("owning %s as pid %d\n", argv[2], (int) getpid());
        fflush(stdout);
        return sd_event_loop(event) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int verb_spawn(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *id;
        int r;

        if (argc < 4)
                return fail("usage: spawn NAME ARGV0 [KEY=VALUE...]", EINVAL);
        r = bus_open(&bus);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, "org.troupe.Supervisor1",
                                                   "/org/troupe/Supervisor1",
                                                   "org.troupe.Supervisor1.Manager", "Spawn");
        if (r >= 0)
                r = sd_bus_message_append(m, "sas", argv[2], 1, argv[3]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (int i = 4; r >= 0 && i < argc; i++) {
                _cleanup_free_ char *key = strndup(argv[i], strcspn(argv[i], "="));
                const char *value = argv[i] + strcspn(argv[i], "=");

                if (!key)
                        return fail("strndup", ENOMEM);
                r = sd_bus_message_append(m, "{sv}", key, "s", *value ? value + 1 : "");
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return fail("message", r);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                printf("%s %s\n", error.name, error.message);
                return EXIT_SUCCESS;
        }
        r = sd_bus_message_read(reply, "s", &id);
        if (r < 0)
                return fail("reply", r);
        printf("ok %s\n", id);
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        const char *verb = argc > 1 ? argv[1] : "";

        if (streq(verb, "watch-exits"))
                return verb_watch_exits();
        if (streq(verb, "openlog"))
                return verb_openlog(argc, argv);
        if (streq(verb, "listen"))
                return verb_listen(argc, argv);
        if (streq(verb, "notify-listen"))
                return verb_notify_listen(argc, argv);
        if (streq(verb, "fds"))
                return verb_fds();
        if (streq(verb, "agent-child"))
                return verb_agent_child();
        if (streq(verb, "bus-name"))
                return verb_bus_name(argc, argv);
        if (streq(verb, "spawn"))
                return verb_spawn(argc, argv);
        fprintf(stderr, "supervisor-helper: unknown verb '%s'\n", verb);
        return EXIT_FAILURE;
}
