/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus helpers against a private dbus-daemon: a server child serves a test interface through
 * them, the test process calls it as a client, and SIGTERM ends the server through the loop helper. */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bus-test-util.h"
#include "bus/bus-describe.h"
#include "bus/bus-error.h"
#include "bus/bus-log-control.h"
#include "bus/bus-util.h"
#include "bus/daemon-util.h"
#include "check-main.h"

#define TEST_NAME "org.troupe.Test1"
#define TEST_PATH "/org/troupe/Test1"
#define TEST_IFACE "org.troupe.Test1.Manager"
#define TEST_ITEM_PREFIX "/org/troupe/Test1/item"
#define TEST_ITEM_IFACE "org.troupe.Test1.Item"
#define TEST_IDENTIFIER "troupe-test-bus"
#define OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"
#define AGENT_PREFIX "/org/troupe/Registry1/agent"
#define DEADLINE (10 * USEC_PER_SEC)
#define ITEMS_MAX 8

static TestBus *test_bus;

/* ---- the server: a daemon built from the helpers under test ---- */

typedef struct Item {
        char *name;
        char *state;
} Item;

typedef struct Server {
        Item items[ITEMS_MAX];
        size_t n_items;
        bool describe_fails;
} Server;

typedef struct Config {
        char *workspace;
        uint64_t memory_max;
        bool verbose;
        char **env;
} Config;

static const BusOption config_options[] = {
        { "workspace", "s", bus_option_string, offsetof(Config, workspace) },
        { "memory_max", "t", bus_option_uint64, offsetof(Config, memory_max) },
        { "verbose", "b", bus_option_bool, offsetof(Config, verbose) },
        { "env", "as", bus_option_strv, offsetof(Config, env) },
        {},
};

static void config_done(Config *c) {
        free(c->workspace);
        strv_free(c->env);
}

static void server_done(Server *s) {
        for (size_t i = 0; i < s->n_items; i++) {
                free(s->items[i].name);
                free(s->items[i].state);
        }
}

static Item *server_find_item(Server *s, const char *name) {
        for (size_t i = 0; i < s->n_items; i++)
                if (streq(s->items[i].name, name))
                        return s->items + i;
        return NULL;
}

/* Returns the bare errno it is given, so the table mapping is what the client sees. */
static int method_fail_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int32_t e;
        int r;

        r = sd_bus_message_read(m, "i", &e);
        if (r < 0)
                return r;
        if (e <= 0)
                return sd_bus_reply_method_return(m, NULL);
        return -e;
}
BUS_DEFINE_METHOD_HANDLER(method_fail, method_fail_impl);

static int method_get_agent(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        return bus_error_no_such_agent(error, name);
}

static int method_add_item(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        Server *s = userdata;
        const char *name;
        Item *item;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_object_path(TEST_ITEM_PREFIX, name, &path);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Invalid item name '%s'.", name);
        if (server_find_item(s, name))
                return bus_error_setf(error, BUS_ERROR_ALREADY_EXISTS, "Item '%s' exists.", name);
        if (s->n_items >= ITEMS_MAX)
                return -ENOBUFS;

        item = s->items + s->n_items;
        item->name = strdup(name);
        item->state = strdup("idle");
        s->n_items++;
        if (!item->name || !item->state)
                return -ENOMEM;

        r = bus_emit_object_added(sd_bus_message_get_bus(m), TEST_ITEM_PREFIX, name);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_remove_item(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Server *s = userdata;
        const char *name;
        Item *item;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        item = server_find_item(s, name);
        if (!item)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_OBJECT, "No item '%s'.", name);

        /* The signal lists the object's interfaces, so it goes out while the object still exists. */
        r = bus_emit_object_removed(sd_bus_message_get_bus(m), TEST_ITEM_PREFIX, name);
        if (r < 0)
                return r;

        free(item->name);
        free(item->state);
        *item = s->items[--s->n_items];
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_item_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name, *state;
        Server *s = userdata;
        Item *item;
        int r;

        r = sd_bus_message_read(m, "ss", &name, &state);
        if (r < 0)
                return r;
        item = server_find_item(s, name);
        if (!item)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_OBJECT, "No item '%s'.", name);
        r = free_and_strdup(&item->state, state);
        if (r < 0)
                return r;

        r = bus_emit_properties_changed(sd_bus_message_get_bus(m), TEST_ITEM_PREFIX, name, TEST_ITEM_IFACE,
                                        NULL);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_configure(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *summary = NULL;
        int r;

        r = bus_read_options(m, config_options, &c, error);
        if (r < 0)
                return r;
        r = asprintf_safe(&summary, "workspace=%s memory_max=%" PRIu64 " verbose=%d env=%zu",
                          strna(c.workspace), c.memory_max, c.verbose, strv_length(c.env));
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", summary);
}

static int method_set_describe_fails(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Server *s = userdata;
        int b, r;

        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        s->describe_fails = b;
        return sd_bus_reply_method_return(m, NULL);
}

static int server_describe(void *userdata, json_t **ret) {
        Server *s = userdata;
        json_t *v;

        if (s->describe_fails)
                return -EBUSY;
        v = json_pack("{s:s, s:I}", "name", TEST_NAME, "items", (json_int_t) s->n_items);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Fail", SD_BUS_ARGS("i", error), SD_BUS_NO_RESULT, method_fail,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetAgent", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_get_agent,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddItem", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path), method_add_item,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveItem", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_remove_item,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetItemState", SD_BUS_ARGS("s", name, "s", state), SD_BUS_NO_RESULT,
                                method_set_item_state, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Configure", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", summary),
                                method_configure, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetDescribeFails", SD_BUS_ARGS("b", fails), SD_BUS_NO_RESULT,
                                method_set_describe_fails, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable item_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Item, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", NULL, offsetof(Item, state), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static int item_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Item *item;

        if (bus_object_name(TEST_ITEM_PREFIX, path, &name) < 0)
                return 0;
        item = server_find_item(userdata, name);
        if (!item)
                return 0;
        *found = item;
        return 1;
}

static int item_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                          sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Server *s = userdata;
        int r;

        for (size_t i = 0; i < s->n_items; i++) {
                _cleanup_free_ char *p = NULL;

                r = bus_object_path(TEST_ITEM_PREFIX, s->items[i].name, &p);
                if (r < 0)
                        return r;
                r = strv_extend(&l, p);
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

static int server_add_objects(sd_bus *bus, Server *s) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, TEST_PATH, TEST_IFACE, manager_vtable, s);
        if (r < 0)
                return r;
        r = bus_describe_add(bus, TEST_PATH, TEST_IFACE, server_describe, s, NULL);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, TEST_ITEM_PREFIX, TEST_ITEM_IFACE, item_vtable, item_find,
                                       s);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, TEST_ITEM_PREFIX, item_enumerate, s);
        if (r < 0)
                return r;
        r = bus_add_object_manager(bus, TEST_PATH, NULL);
        if (r < 0)
                return r;
        return bus_log_control_add(bus, NULL);
}

/* The shape of a daemon's run(), in the child. Writes one byte to ready_fd once the name is ours. */
static int server_run(int ready_fd) {
        _cleanup_(server_done) Server s = {};
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        log_set_identifier(TEST_IDENTIFIER);
        log_set_target(LOG_TARGET_CONSOLE);

        r = daemon_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        r = bus_open_daemon(event, &bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        r = server_add_objects(bus, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the objects: %m");
        r = bus_request_name(bus, TEST_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take %s: %m", TEST_NAME);

        if (loop_write(ready_fd, "R", 1) < 0)
                return log_error_errno(errno, "Failed to report readiness: %m");
        ready_fd = safe_close(ready_fd);

        return daemon_event_loop(event, "Serving tests.");
}

static pid_t server_start(void) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE;
        struct pollfd p;
        int fds[2], r;
        char c = 0;
        pid_t pid;

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid = test_fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) close(fds[0]);
                ck_assert_int_eq(setenv("TROUPE_BUS_ADDRESS", test_bus->address, 1), 0);
                r = server_run(fds[1]);
                exit(r < 0 ? EXIT_FAILURE : r);
        }

        (void) close(fds[1]);
        p = (struct pollfd) { .fd = fds[0], .events = POLLIN };
        do
                r = poll(&p, 1, (int) ((deadline - now_usec(CLOCK_MONOTONIC)) / USEC_PER_MSEC));
        while (r < 0 && errno == EINTR && now_usec(CLOCK_MONOTONIC) < deadline);
        ck_assert_msg(r == 1, "server did not become ready in time");
        ck_assert_msg(read(fds[0], &c, 1) == 1 && c == 'R', "server failed to start (see its log)");
        (void) close(fds[0]);
        return pid;
}

static void server_stop(pid_t pid) {
        int status;

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(test_wait_pid(pid, DEADLINE, &status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status 0x%x", status);
}

static sd_bus *client_new(void) {
        sd_bus *bus = NULL;

        ck_assert_int_eq(test_bus_connect(test_bus, &bus), 0);
        return bus;
}

static void bus_setup(void) {
        int r = test_bus_start(&test_bus);
        ck_assert_msg(r >= 0, "Failed to start dbus-daemon: %s", strerror(-r));
}

static void bus_teardown(void) {
        test_bus = test_bus_stop(test_bus);
}

/* Calls `member` of the test server's manager object. */
static int call(sd_bus *bus, const char *member, sd_bus_error *error, sd_bus_message **reply,
                const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, TEST_NAME, TEST_PATH, TEST_IFACE, member, error, reply, types, ap);
        va_end(ap);
        return r;
}

/* Runs sd_bus_process() until *done, failing at the deadline. */
static void wait_until(sd_bus *bus, const bool *done) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE;
        int r;

        while (!*done) {
                usec_t n;

                r = sd_bus_process(bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                n = now_usec(CLOCK_MONOTONIC);
                ck_assert_msg(n < deadline, "timed out waiting for a signal");
                ck_assert_int_ge(sd_bus_wait(bus, deadline - n), 0);
        }
}

/* ---- tests without a bus ---- */

START_TEST(test_error_name_table) {
        ck_assert_str_eq(bus_error_name_from_errno(-EINVAL), BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(bus_error_name_from_errno(EPERM), BUS_ERROR_PERMISSION_DENIED);
        ck_assert_str_eq(bus_error_name_from_errno(-EACCES), BUS_ERROR_PERMISSION_DENIED);
        ck_assert_str_eq(bus_error_name_from_errno(-ENOKEY), BUS_ERROR_CONSENT_REQUIRED);
        ck_assert_str_eq(bus_error_name_from_errno(-ETIME), BUS_ERROR_TIMEOUT);
        ck_assert_str_eq(bus_error_name_from_errno(-ENOBUFS), BUS_ERROR_OVERLOADED);
        ck_assert_ptr_null(bus_error_name_from_errno(-ENOSPC));
        ck_assert_ptr_null(bus_error_name_from_errno(-ENOMEM));

        /* Names map back to errno in this process without any setup call. */
        for (const sd_bus_error_map *m = bus_troupe_errors; m->name; m++) {
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(m->name, NULL);
                ck_assert_int_eq(sd_bus_error_get_errno(&e), m->code);
        }
}
END_TEST

START_TEST(test_error_helpers) {
        _cleanup_(sd_bus_error_free) sd_bus_error e1 = SD_BUS_ERROR_NULL, e2 = SD_BUS_ERROR_NULL,
                                     e3 = SD_BUS_ERROR_NULL, e4 = SD_BUS_ERROR_NULL, e5 = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *longname = NULL;

        ck_assert_int_eq(bus_error_no_such_agent(&e1, "x"), -ENOENT);
        ck_assert_str_eq(e1.name, BUS_ERROR_NO_SUCH_AGENT);
        ck_assert_str_eq(e1.message, "No agent named 'x'. List agents with: troupectl agents");

        ck_assert_int_eq(bus_error_set_errnof(&e2, -EBUSY, "Agent '%s' is busy: %m", "echo"), -EBUSY);
        ck_assert_str_eq(e2.name, BUS_ERROR_BUSY);
        ck_assert_str_eq(e2.message, "Agent 'echo' is busy: Device or resource busy");

        /* An errno troupe has no name for keeps sd-bus's, and still comes back as itself. */
        ck_assert_int_eq(bus_error_set_errno(&e3, -ENOSPC), -ENOSPC);
        ck_assert_str_eq(e3.name, "System.Error.ENOSPC");
        ck_assert_int_eq(sd_bus_error_get_errno(&e3), ENOSPC);

        /* A message too long is cut at a character boundary; broken UTF-8 is replaced. */
        longname = malloc(3 * 1000 + 1);
        ck_assert_ptr_nonnull(longname);
        for (size_t i = 0; i < 1000; i++)
                memcpy(longname + 3 * i, "\xe2\x82\xac", 3); /* U+20AC */
        longname[3000] = 0;
        ck_assert_int_eq(bus_error_no_such_task(&e4, longname), -ENOENT);
        ck_assert_uint_le(strlen(e4.message), BUS_ERROR_MESSAGE_MAX);
        ck_assert(utf8_is_valid_n(e4.message, strlen(e4.message)));
        ck_assert_ptr_nonnull(startswith(e4.message, "No task with id '\xe2\x82\xac"));

        ck_assert_int_eq(bus_error_setf(&e5, BUS_ERROR_INVALID_ARGS, "bad \xff%s", "\xc3"), -EINVAL);
        ck_assert_str_eq(e5.message, "bad ??");
}
END_TEST

START_TEST(test_object_paths) {
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *n1 = NULL, *n2 = NULL;
        char longname[BUS_OBJECT_NAME_MAX + 2], *x = NULL;
        const char *bad_names[] = { "", "..", "a..b", "Echo", "a/b", ".hidden", "\xc3\xa9", longname };

        ck_assert_int_eq(bus_object_path(AGENT_PREFIX, "echo", &p1), 0);
        ck_assert_str_eq(p1, AGENT_PREFIX "/echo");
        ck_assert_int_eq(bus_object_path(AGENT_PREFIX, "my-agent.v2", &p2), 0);
        ck_assert_str_eq(p2, AGENT_PREFIX "/my_2dagent_2ev2");

        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, p2, &n1), 0);
        ck_assert_str_eq(n1, "my-agent.v2");
        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, p1, &n2), 0);
        ck_assert_str_eq(n2, "echo");

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++)
                ck_assert_int_eq(bus_object_path(AGENT_PREFIX, bad_names[i], &x), -EINVAL);
        ck_assert_int_eq(bus_object_path(AGENT_PREFIX, NULL, &x), -EINVAL);
        ck_assert_int_eq(bus_object_path("not/a/path", "echo", &x), -EINVAL);

        ck_assert_int_eq(bus_object_name("/org/troupe/Registry1/task", p1, &x), -ENXIO);
        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, AGENT_PREFIX "/a/b", &x), -EINVAL);
        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, AGENT_PREFIX "/_41", &x), -EINVAL);
        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, AGENT_PREFIX "/_2e_2e", &x), -EINVAL);
        ck_assert_int_eq(bus_object_name(AGENT_PREFIX, "//bad", &x), -EINVAL);
        ck_assert_ptr_null(x);
}
END_TEST

START_TEST(test_notify_without_manager) {
        ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
        ck_assert_int_eq(daemon_notify_ready("Fine."), 0);
        ck_assert_int_eq(daemon_notify_stopping(), 0);
        ck_assert_int_eq(daemon_notify_ready("two\nlines"), -EINVAL);
}
END_TEST

/* Receives notifications until one contains `want`, failing at the deadline. */
static void expect_notification(int fd, const char *want, usec_t deadline) {
        char buf[4096];

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t n = now_usec(CLOCK_MONOTONIC);
                ssize_t k;

                ck_assert_msg(n < deadline, "no '%s' notification in time", want);
                if (poll(&p, 1, (int) DIV_ROUND_UP(deadline - n, USEC_PER_MSEC)) <= 0)
                        continue;
                k = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (k < 0)
                        continue;
                buf[k] = 0;
                if (strstr(buf, want))
                        return;
        }
}

static int loop_child(void) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        int r;

        r = daemon_event_new(&event);
        if (r < 0)
                return r;
        return daemon_event_loop(event, "Testing the loop.");
}

/* The loop exits with 0 on SIGTERM (_i == 0) or SIGINT (_i == 1), with READY=1, watchdog pings and
 * STOPPING=1 sent to $NOTIFY_SOCKET on the way. */
START_TEST(test_daemon_loop_signal) {
        _cleanup_free_ char *dir = make_tmpdir(), *sock = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int sig = _i == 0 ? SIGTERM : SIGINT, status;
        usec_t deadline;
        pid_t pid;

        ck_assert_ptr_nonnull(dir);
        sock = strjoin(dir, "/notify");
        ck_assert_ptr_nonnull(sock);
        ck_assert(strscpy(sa.sun_path, sizeof(sa.sun_path), sock));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        pid = test_fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int r;

                (void) setenv("NOTIFY_SOCKET", sock, 1);
                (void) setenv("WATCHDOG_USEC", "100000", 1);
                (void) unsetenv("WATCHDOG_PID");
                r = loop_child();
                exit(r == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
        }

        deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE;
        expect_notification(fd, "READY=1\nSTATUS=Testing the loop.", deadline);
        /* The first ping goes out when the watchdog is enabled; this one comes from the loop's timer. */
        expect_notification(fd, "WATCHDOG=1", deadline);
        ck_assert_int_eq(kill(pid, sig), 0);
        expect_notification(fd, "STOPPING=1", deadline);

        ck_assert_int_eq(test_wait_pid(pid, DEADLINE, &status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "loop exit status 0x%x", status);
        rm_rf_tmpdir(dir);
}
END_TEST

/* ---- tests on the private bus ---- */

static const struct {
        int error;
        const char *name;
        int back;
} errno_cases[] = {
        { EINVAL, BUS_ERROR_INVALID_ARGS, EINVAL },
        { EPERM, BUS_ERROR_PERMISSION_DENIED, EACCES },
        { EACCES, BUS_ERROR_PERMISSION_DENIED, EACCES },
        { ENOKEY, BUS_ERROR_CONSENT_REQUIRED, ENOKEY },
        { EBUSY, BUS_ERROR_BUSY, EBUSY },
        { ETIMEDOUT, BUS_ERROR_TIMEOUT, ETIMEDOUT },
        { ETIME, BUS_ERROR_TIMEOUT, ETIMEDOUT },
        { ENOBUFS, BUS_ERROR_OVERLOADED, ENOBUFS },
        { ENOENT, BUS_ERROR_NO_SUCH_OBJECT, ENOENT },
        { EEXIST, BUS_ERROR_ALREADY_EXISTS, EEXIST },
        { EOPNOTSUPP, BUS_ERROR_NOT_SUPPORTED, EOPNOTSUPP },
        { EIO, BUS_ERROR_FAILED, EIO },
        { ENOSPC, "System.Error.ENOSPC", ENOSPC },
};

START_TEST(test_errors_over_bus) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error agent_error = SD_BUS_ERROR_NULL;
        pid_t pid = server_start();
        int r;

        bus = client_new();
        for (size_t i = 0; i < ELEMENTSOF(errno_cases); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                r = call(bus, "Fail", &error, NULL, "i", (int32_t) errno_cases[i].error);
                ck_assert_int_eq(r, -errno_cases[i].back);
                ck_assert_str_eq(error.name, errno_cases[i].name);
                ck_assert_str_eq(error.message, strerror(errno_cases[i].error));
                ck_assert_int_eq(sd_bus_error_get_errno(&error), errno_cases[i].back);
        }
        ck_assert_int_ge(call(bus, "Fail", NULL, NULL, "i", 0), 0);

        r = call(bus, "GetAgent", &agent_error, NULL, "s", "x");
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_str_eq(agent_error.name, BUS_ERROR_NO_SUCH_AGENT);
        ck_assert_str_eq(agent_error.message, "No agent named 'x'. List agents with: troupectl agents");

        server_stop(pid);
}
END_TEST

static void get_string_property(sd_bus *bus, const char *name, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_string(bus, TEST_NAME, BUS_LOG_CONTROL_PATH, BUS_LOG_CONTROL_INTERFACE, name,
                                       &error, ret);
        ck_assert_msg(r >= 0, "Get %s: %s", name, strna(error.message));
}

static int set_string_property(sd_bus *bus, const char *name, const char *value, sd_bus_error *error) {
        return sd_bus_set_property(bus, TEST_NAME, BUS_LOG_CONTROL_PATH, BUS_LOG_CONTROL_INTERFACE, name,
                                   error, "s", value);
}

START_TEST(test_log_control) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e1 = SD_BUS_ERROR_NULL, e2 = SD_BUS_ERROR_NULL,
                                     e3 = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *level = NULL, *level2 = NULL, *target = NULL, *target2 = NULL, *ident = NULL;
        pid_t pid = server_start();

        bus = client_new();
        get_string_property(bus, "LogLevel", &level);
        ck_assert_str_eq(level, "info");
        ck_assert_int_ge(set_string_property(bus, "LogLevel", "debug", NULL), 0);
        get_string_property(bus, "LogLevel", &level2);
        ck_assert_str_eq(level2, "debug");

        ck_assert_int_eq(set_string_property(bus, "LogLevel", "loud", &e1), -EINVAL);
        ck_assert_str_eq(e1.name, SD_BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(e1.message, "Invalid log level 'loud'. Allowed values: emerg, alert, crit, err, "
                                     "warning, notice, info, debug.");

        get_string_property(bus, "LogTarget", &target);
        ck_assert_str_eq(target, "console");
        ck_assert_int_ge(set_string_property(bus, "LogTarget", "null", NULL), 0);
        get_string_property(bus, "LogTarget", &target2);
        ck_assert_str_eq(target2, "null");
        ck_assert_int_eq(set_string_property(bus, "LogTarget", "kmsg", &e2), -EINVAL);
        ck_assert_str_eq(e2.name, SD_BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(e2.message,
                         "Invalid log target 'kmsg'. Allowed values: console, journal, auto, null.");

        get_string_property(bus, "SyslogIdentifier", &ident);
        ck_assert_str_eq(ident, TEST_IDENTIFIER);
        ck_assert_int_lt(set_string_property(bus, "SyslogIdentifier", "other", &e3), 0);
        ck_assert_str_eq(e3.name, SD_BUS_ERROR_PROPERTY_READ_ONLY);

        server_stop(pid);
}
END_TEST

/* Runs argv with stdout captured; returns the output and the exit status. */
static void run_capture(char *const argv[], char **ret_out, int *ret_status) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE;
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        int fds[2];
        pid_t pid;

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid = test_fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        (void) close(fds[1]);

        for (;;) {
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                usec_t n = now_usec(CLOCK_MONOTONIC);
                char buf[4096];
                ssize_t k;
                char *t;

                ck_assert_msg(n < deadline, "%s did not finish in time", argv[0]);
                if (poll(&p, 1, (int) DIV_ROUND_UP(deadline - n, USEC_PER_MSEC)) <= 0)
                        continue;
                k = read(fds[0], buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_int_ge(k, 0);
                if (k == 0)
                        break;
                ck_assert_uint_lt(size, 1024 * 1024);
                t = realloc(out, size + (size_t) k + 1);
                ck_assert_ptr_nonnull(t);
                out = t;
                memcpy(out + size, buf, (size_t) k);
                size += (size_t) k;
                out[size] = 0;
        }
        (void) close(fds[0]);

        ck_assert_int_eq(test_wait_pid(pid, DEADLINE, ret_status), 0);
        *ret_out = out ? TAKE_PTR(out) : strdup("");
}

START_TEST(test_busctl_introspect) {
        _cleanup_free_ char *busctl = test_find_executable("busctl"), *address = NULL, *out = NULL;
        char *argv[] = { busctl, NULL, (char *) "--no-pager", (char *) "introspect", (char *) TEST_NAME,
                         (char *) BUS_LOG_CONTROL_PATH, NULL };
        int status;
        pid_t pid;

        ck_assert_msg(busctl, "busctl not found in $PATH (it comes with the systemd package)");
        address = strjoin("--address=", test_bus->address);
        ck_assert_ptr_nonnull(address);
        argv[1] = address;

        pid = server_start();
        run_capture(argv, &out, &status);
        server_stop(pid);

        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "busctl failed: 0x%x", status);
        ck_assert_msg(strstr(out, "org.freedesktop.LogControl1"), "no LogControl1 in:\n%s", out);
        ck_assert_msg(strstr(out, ".LogLevel"), "no LogLevel in:\n%s", out);
        ck_assert_msg(strstr(out, ".LogTarget"), "no LogTarget in:\n%s", out);
        ck_assert_msg(strstr(out, ".SyslogIdentifier"), "no SyslogIdentifier in:\n%s", out);
}
END_TEST

static char *call_describe(sd_bus *bus, sd_bus_error *error, int *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;

        *ret = call(bus, "Describe", error, &reply, NULL);
        if (*ret < 0)
                return NULL;
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &s), 0);
        return strdup(s);
}

START_TEST(test_describe) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *text = NULL, *manager = NULL;
        const char *xml, *start, *end;
        json_error_t jerr;
        json_t *v;
        pid_t pid = server_start();
        int r;

        bus = client_new();
        ck_assert_int_ge(call(bus, "AddItem", NULL, NULL, "s", "one"), 0);

        text = call_describe(bus, NULL, &r);
        ck_assert_int_ge(r, 0);
        v = json_loads(text, 0, &jerr);
        ck_assert_msg(v, "Describe returned invalid JSON (%s): %s", jerr.text, text);
        ck_assert(json_is_object(v));
        ck_assert_str_eq(json_string_value(json_object_get(v, "name")), TEST_NAME);
        ck_assert_int_eq(json_integer_value(json_object_get(v, "items")), 1);
        json_decref(v);

        ck_assert_int_ge(call(bus, "SetDescribeFails", NULL, NULL, "b", 1), 0);
        ck_assert_ptr_null(call_describe(bus, &error, &r));
        ck_assert_int_eq(r, -EBUSY);
        ck_assert_str_eq(error.name, BUS_ERROR_BUSY);
        ck_assert_str_eq(error.message, "Failed to describe the daemon's state: Device or resource busy");

        /* Added as its own vtable, Describe still shows up inside the daemon's main interface. */
        ck_assert_int_ge(sd_bus_call_method(bus, TEST_NAME, TEST_PATH, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, &reply, NULL),
                         0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &xml), 0);
        start = strstr(xml, "<interface name=\"" TEST_IFACE "\">");
        ck_assert_ptr_nonnull(start);
        end = strstr(start, "</interface>");
        ck_assert_ptr_nonnull(end);
        manager = strndup(start, (size_t) (end - start));
        ck_assert_ptr_nonnull(manager);
        ck_assert_ptr_nonnull(strstr(manager, "<method name=\"Fail\">"));
        ck_assert_ptr_nonnull(strstr(manager, "<method name=\"Describe\">"));
        ck_assert_ptr_nonnull(strstr(manager, "<arg type=\"s\" name=\"json\" direction=\"out\"/>"));

        server_stop(pid);
}
END_TEST

typedef struct Signals {
        bool added, removed, changed;
        char *added_path, *removed_path, *state;
        bool added_item_iface, removed_item_iface;
} Signals;

static void signals_done(Signals *s) {
        free(s->added_path);
        free(s->removed_path);
        free(s->state);
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *path, *iface;
        int r;

        ck_assert_int_ge(sd_bus_message_read(m, "o", &path), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "{sa{sv}}"), 0);
        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                ck_assert_int_ge(sd_bus_message_read(m, "s", &iface), 0);
                if (streq(iface, TEST_ITEM_IFACE))
                        s->added_item_iface = true;
                ck_assert_int_ge(sd_bus_message_skip(m, "a{sv}"), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        }
        ck_assert_int_ge(r, 0);
        s->added_path = strdup(path);
        s->added = true;
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **ifaces = NULL;
        Signals *s = userdata;
        const char *path;

        ck_assert_int_ge(sd_bus_message_read(m, "o", &path), 0);
        ck_assert_int_ge(sd_bus_message_read_strv(m, &ifaces), 0);
        s->removed_item_iface = strv_contains(ifaces, TEST_ITEM_IFACE);
        s->removed_path = strdup(path);
        s->removed = true;
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *iface, *key, *value;
        int r;

        ck_assert_int_ge(sd_bus_message_read(m, "s", &iface), 0);
        ck_assert_str_eq(iface, TEST_ITEM_IFACE);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "{sv}"), 0);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                ck_assert_int_ge(sd_bus_message_read(m, "s", &key), 0);
                if (streq(key, "State")) {
                        ck_assert_int_ge(sd_bus_message_read(m, "v", "s", &value), 0);
                        s->state = strdup(value);
                } else
                        ck_assert_int_ge(sd_bus_message_skip(m, "v"), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        }
        ck_assert_int_ge(r, 0);
        s->changed = true;
        return 0;
}

/* Whether GetManagedObjects lists `path` with `interface`. */
static bool managed_objects_contain(sd_bus *bus, const char *path, const char *interface) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        bool found = false;
        int r;

        r = sd_bus_call_method(bus, TEST_NAME, TEST_PATH, OBJECT_MANAGER, "GetManagedObjects", &error,
                               &reply, NULL);
        ck_assert_msg(r >= 0, "GetManagedObjects: %s", strna(error.message));

        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}"), 0);
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *p, *iface;

                ck_assert_int_ge(sd_bus_message_read(reply, "o", &p), 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}"), 0);
                while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        ck_assert_int_ge(sd_bus_message_read(reply, "s", &iface), 0);
                        if (streq(p, path) && streq(iface, interface))
                                found = true;
                        ck_assert_int_ge(sd_bus_message_skip(reply, "a{sv}"), 0);
                        ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                }
                ck_assert_int_ge(r, 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
        }
        ck_assert_int_ge(r, 0);
        return found;
}

START_TEST(test_object_manager) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(signals_done) Signals sig = {};
        const char *path = TEST_ITEM_PREFIX "/alpha_2eone";
        pid_t pid = server_start();

        bus = client_new();
        ck_assert_int_ge(sd_bus_match_signal(bus, NULL, NULL, TEST_PATH, OBJECT_MANAGER, "InterfacesAdded",
                                             on_interfaces_added, &sig),
                         0);
        ck_assert_int_ge(sd_bus_match_signal(bus, NULL, NULL, TEST_PATH, OBJECT_MANAGER, "InterfacesRemoved",
                                             on_interfaces_removed, &sig),
                         0);
        ck_assert_int_ge(sd_bus_match_signal(bus, NULL, NULL, path, "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged", on_properties_changed, &sig),
                         0);

        ck_assert(!managed_objects_contain(bus, path, TEST_ITEM_IFACE));

        ck_assert_int_ge(call(bus, "AddItem", NULL, NULL, "s", "alpha.one"), 0);
        wait_until(bus, &sig.added);
        ck_assert_str_eq(sig.added_path, path);
        ck_assert(sig.added_item_iface);
        ck_assert(managed_objects_contain(bus, path, TEST_ITEM_IFACE));

        ck_assert_int_ge(call(bus, "SetItemState", NULL, NULL, "ss", "alpha.one", "busy"), 0);
        wait_until(bus, &sig.changed);
        ck_assert_str_eq(sig.state, "busy");

        ck_assert_int_ge(call(bus, "RemoveItem", NULL, NULL, "s", "alpha.one"), 0);
        wait_until(bus, &sig.removed);
        ck_assert_str_eq(sig.removed_path, path);
        ck_assert(sig.removed_item_iface);
        ck_assert(!managed_objects_contain(bus, path, TEST_ITEM_IFACE));

        server_stop(pid);
}
END_TEST

START_TEST(test_name_owned) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        pid_t pid = server_start();

        bus = client_new();
        ck_assert_int_eq(bus_request_name(bus, TEST_NAME), -EEXIST);
        ck_assert_int_eq(bus_request_name(bus, "org.troupe.Test2"), 0);
        ck_assert_int_eq(bus_request_name(bus, "org.troupe.Test2"), 0);

        server_stop(pid);
}
END_TEST

START_TEST(test_open_from_environment) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *b1 = NULL, *b2 = NULL;
        _cleanup_free_ char *dir = make_tmpdir();
        const char *unique;
        sd_bus *b3 = NULL;

        ck_assert_ptr_nonnull(dir);
        ck_assert_int_eq(setenv("TROUPE_BUS_ADDRESS", test_bus->address, 1), 0);
        ck_assert_int_eq(setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1), 0);
        ck_assert_int_eq(bus_open(&b1), 0);
        ck_assert_int_ge(sd_bus_get_unique_name(b1, &unique), 0);

        ck_assert_int_eq(unsetenv("TROUPE_BUS_ADDRESS"), 0);
        ck_assert_int_eq(setenv("DBUS_SESSION_BUS_ADDRESS", test_bus->address, 1), 0);
        ck_assert_int_eq(bus_open(&b2), 0);
        ck_assert_int_ge(sd_bus_get_unique_name(b2, &unique), 0);

        /* Nothing to connect to: an error, and no half-made connection handed out. */
        ck_assert_int_eq(unsetenv("DBUS_SESSION_BUS_ADDRESS"), 0);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", dir, 1), 0);
        ck_assert_int_lt(bus_open(&b3), 0);
        ck_assert_ptr_null(b3);
        rm_rf_tmpdir(dir);
}
END_TEST

static sd_bus_message *options_message(sd_bus *bus) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, TEST_NAME, TEST_PATH, TEST_IFACE,
                                                        "Configure"),
                         0);
        return m;
}

/* Seals m and reads it back as a server would. */
static int read_options(sd_bus_message *m, Config *c, sd_bus_error *error) {
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        return bus_read_options(m, config_options, c, error);
}

static void expect_refused(sd_bus_message *m, const char *message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(read_options(m, &c, &error), -EINVAL);
        ck_assert_str_eq(error.name, BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(error.message, message);
        sd_bus_message_unref(m);
}

START_TEST(test_options) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client_new();
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *good = NULL, *empty = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(config_done) Config c = {}, d = { .memory_max = 7 };
        _cleanup_free_ char *huge = NULL;
        sd_bus_message *m;

        good = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(good, "a{sv}", 4, "workspace", "s", "/w", "memory_max", "t",
                                               UINT64_C(5), "verbose", "b", 1, "env", "as", 2, "A=1", "B=2"),
                         0);
        ck_assert_int_eq(read_options(good, &c, &error), 0);
        ck_assert_str_eq(c.workspace, "/w");
        ck_assert_uint_eq(c.memory_max, 5);
        ck_assert(c.verbose);
        ck_assert_uint_eq(strv_length(c.env), 2);
        ck_assert_str_eq(c.env[1], "B=2");

        empty = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(empty, "a{sv}", 0), 0);
        ck_assert_int_eq(read_options(empty, &d, &error), 0);
        ck_assert_ptr_null(d.workspace);
        ck_assert_uint_eq(d.memory_max, 7);

        m = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 2, "workspace", "s", "/w", "color", "s", "red"),
                         0);
        expect_refused(m, "Unknown option 'color'. Known options: workspace, memory_max, verbose, env.");

        m = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 1, "memory_max", "s", "5"), 0);
        expect_refused(m, "Option 'memory_max' must have type 't', not 's'.");

        m = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 2, "verbose", "b", 1, "verbose", "b", 0), 0);
        expect_refused(m, "Option 'verbose' is given more than once.");

        huge = malloc(BUS_OPTION_STRING_MAX + 2);
        ck_assert_ptr_nonnull(huge);
        memset(huge, 'x', BUS_OPTION_STRING_MAX + 1);
        huge[BUS_OPTION_STRING_MAX + 1] = 0;
        m = options_message(bus);
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 1, "workspace", "s", huge), 0);
        expect_refused(m, "Option 'workspace' is too long: at most 4096 bytes are allowed.");

        m = options_message(bus);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "{sv}"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'e', "sv"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "s", "env"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'v', "as"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "s"), 0);
        for (unsigned i = 0; i <= BUS_OPTION_STRV_ITEMS_MAX; i++)
                ck_assert_int_ge(sd_bus_message_append(m, "s", "K=V"), 0);
        for (unsigned i = 0; i < 4; i++)
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        expect_refused(m, "Too many entries in 'env': at most 256 are allowed.");
}
END_TEST

static sd_bus_message *strv_message(sd_bus *bus, char **l) {
        sd_bus_message *m = options_message(bus);

        ck_assert_int_ge(sd_bus_message_append_strv(m, l), 0);
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        return m;
}

START_TEST(test_read_strv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = client_new();
        _cleanup_(sd_bus_error_free) sd_bus_error e1 = SD_BUS_ERROR_NULL, e2 = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **ok = NULL, **none = NULL;
        char *three[] = { (char *) "a", (char *) "bb", (char *) "ccc", NULL }, *zero[] = { NULL };
        char **x = NULL;
        sd_bus_message *m;

        m = strv_message(bus, three);
        ck_assert_int_eq(bus_read_strv(m, "argv", 3, 3, NULL, &ok), 0);
        ck_assert_uint_eq(strv_length(ok), 3);
        ck_assert_str_eq(ok[2], "ccc");
        sd_bus_message_unref(m);

        m = strv_message(bus, zero);
        ck_assert_int_eq(bus_read_strv(m, "argv", 3, 3, NULL, &none), 0);
        ck_assert_ptr_nonnull(none);
        ck_assert_ptr_null(none[0]);
        sd_bus_message_unref(m);

        m = strv_message(bus, three);
        ck_assert_int_eq(bus_read_strv(m, "argv", 2, 3, &e1, &x), -EINVAL);
        ck_assert_str_eq(e1.message, "Too many entries in 'argv': at most 2 are allowed.");
        sd_bus_message_unref(m);

        m = strv_message(bus, three);
        ck_assert_int_eq(bus_read_strv(m, "argv", 3, 2, &e2, &x), -EINVAL);
        ck_assert_str_eq(e2.name, BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(e2.message, "Entry 2 of 'argv' is too long: at most 2 bytes are allowed.");
        ck_assert_ptr_null(x);
        sd_bus_message_unref(m);
}
END_TEST

/* The whole path over the bus: the refusal reaches the client as org.troupe.Error.InvalidArgs. */
START_TEST(test_options_over_bus) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *summary;
        pid_t pid = server_start();
        int r;

        bus = client_new();
        r = call(bus, "Configure", NULL, &reply, "a{sv}", 2, "workspace", "s", "/w", "env", "as", 1,
                 "A=1");
        ck_assert_int_ge(r, 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &summary), 0);
        ck_assert_str_eq(summary, "workspace=/w memory_max=0 verbose=0 env=1");

        r = call(bus, "Configure", &error, NULL, "a{sv}", 1, "verbose", "s", "yes");
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(error.name, BUS_ERROR_INVALID_ARGS);
        ck_assert_str_eq(error.message, "Option 'verbose' must have type 'b', not 's'.");

        server_stop(pid);
}
END_TEST

Suite *test_suite(void) {
        Suite *s;
        TCase *tc;

        test_bus_skip_if_unavailable();
        s = suite_create("bus");

        tc = tcase_create("offline");
        tcase_add_test(tc, test_error_name_table);
        tcase_add_test(tc, test_error_helpers);
        tcase_add_test(tc, test_object_paths);
        tcase_add_test(tc, test_notify_without_manager);
        tcase_add_loop_test(tc, test_daemon_loop_signal, 0, 2);
        suite_add_tcase(s, tc);

        tc = tcase_create("private-bus");
        tcase_add_unchecked_fixture(tc, bus_setup, bus_teardown);
        tcase_add_test(tc, test_errors_over_bus);
        tcase_add_test(tc, test_log_control);
        tcase_add_test(tc, test_busctl_introspect);
        tcase_add_test(tc, test_describe);
        tcase_add_test(tc, test_object_manager);
        tcase_add_test(tc, test_name_owned);
        tcase_add_test(tc, test_open_from_environment);
        tcase_add_test(tc, test_options);
        tcase_add_test(tc, test_read_strv);
        tcase_add_test(tc, test_options_over_bus);
        suite_add_tcase(s, tc);

        return s;
}
