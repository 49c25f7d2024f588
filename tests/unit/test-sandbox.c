/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sandbox: bubblewrap's try-syscall pattern. Each test forks a child that enters a sandbox
 * prepared by the test process, tries one thing and sends back its errno over a pipe; the test
 * asserts the exact value. Runs as root (CI) and as an unprivileged user (the user-namespace path). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"
#include "sandbox/sandbox.h"

#define STRV(...) ((char **) (const char *[]){__VA_ARGS__, NULL})

/* Found once by test_suite(), before check forks a process per test. */
static SandboxSupport support;
static int kernel_landlock_abi;

/* Per test (checked fixture, inside the test's process). */
static SandboxFilters *filters;
static char *tmp, *workspace, *outside, *read_only_dir;
static int listen_fd = -EBADF, other_listen_fd = -EBADF;
static uint16_t listen_port, other_port;

typedef int (*Probe)(void);

typedef struct ProbeResult {
        int entered; /* sandbox_enter_in_child()'s result */
        char layer[32];
        int result; /* the probe's: 0 or a negative errno */
} ProbeResult;

static char *path_in(const char *dir, const char *name) {
        char *p = strjoin(dir, "/", name);
        ck_assert_ptr_nonnull(p);
        return p;
}

static void write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(loop_write(fd, text, strlen(text)), 0);
}

static uint16_t tcp_listen(int *ret_fd) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        *ret_fd = fd;
        return ntohs(a.sin_port);
}

static void setup(void) {
        _cleanup_free_ char *link = NULL, *ro_file = NULL;

        ck_assert_int_eq(sandbox_filters_new(&filters), 0);
        tmp = make_tmpdir();
        ck_assert_ptr_nonnull(tmp);
        workspace = path_in(tmp, "workspace");
        ck_assert_int_eq(mkdir(workspace, 0700), 0);
        outside = path_in(tmp, "outside.txt");
        write_file(outside, "outside\n");
        link = path_in(workspace, "link-out");
        ck_assert_int_eq(symlink(outside, link), 0);
        read_only_dir = path_in(tmp, "ro");
        ck_assert_int_eq(mkdir(read_only_dir, 0700), 0);
        ro_file = path_in(read_only_dir, "file.txt");
        write_file(ro_file, "read me\n");
        listen_port = tcp_listen(&listen_fd);
        other_port = tcp_listen(&other_listen_fd);
}

static void teardown(void) {
        listen_fd = safe_close(listen_fd);
        other_listen_fd = safe_close(other_listen_fd);
        rm_rf_tmpdir(tmp);
        tmp = mfree(tmp);
        workspace = mfree(workspace);
        outside = mfree(outside);
        read_only_dir = mfree(read_only_dir);
        filters = sandbox_filters_free(filters);
}

/* Set by the userns tests: as root, take the path an unprivileged supervisor takes. */
static bool force_userns;

static int prepare(char *const *capabilities, char *const *read_only, Sandbox **ret) {
        static unsigned counter;
        _cleanup_free_ char *err = NULL;
        SandboxSupport su = support;
        char name[64];
        SandboxProfile p = {
                .kind = SANDBOX_PROFILE_TASK,
                .workspace = workspace,
                .read_only = read_only,
                .capabilities = capabilities,
                .limits = SANDBOX_LIMITS_UNSET,
        };
        int r;

        if (force_userns)
                su.privileged = false;
        (void) snprintf(name, sizeof(name), "test-sandbox-%d-%u", (int) getpid(), counter++);
        r = sandbox_prepare(&p, &su, filters, name, ret, &err);
        ck_assert_msg(r == 0, "sandbox_prepare: %s (%s)", strerror(-r), strna(err));
        return r;
}

static _noreturn_ void probe_child(const Sandbox *s, Probe probe, int fd) {
        ProbeResult res = {};
        const char *layer = NULL;

        res.entered = sandbox_enter_in_child(s, &layer);
        if (res.entered < 0)
                (void) strscpy(res.layer, sizeof(res.layer), strna(layer));
        else
                res.result = probe();
        (void) loop_write(fd, &res, sizeof(res));
        /* _exit(): no atexit handlers (LeakSanitizer would try to ptrace us). */
        _exit(0);
}

/* Forks a child that enters a sandbox with these grants and runs `probe`; returns its result. */
static int run_probe_full(char *const *capabilities, char *const *read_only, Probe probe) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        ProbeResult res = {};
        int fds[2], status;
        pid_t pid;

        prepare(capabilities, read_only, &s);
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                safe_close(fds[0]);
                probe_child(s, probe, fds[1]);
        }
        safe_close(fds[1]);
        ssize_t n = loop_read(fds[0], &res, sizeof(res));
        safe_close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(sandbox_release(s), 0);
        ck_assert_msg(n == (ssize_t) sizeof(res), "the probe died: status %d", status);
        ck_assert_msg(res.entered == 0, "entering the sandbox failed at %s: %s", res.layer,
                      strerror(-res.entered));
        return res.result;
}

static int run_probe(Probe probe) {
        return run_probe_full(NULL, NULL, probe);
}

#define ck_assert_errno(r, e)                                                                               \
        ck_assert_msg((r) == -(e), "expected %s, got %s", strerrorname_np(e),                               \
                      (r) == 0 ? "success" : strerrorname_np(-(r)))

static int open_result(const char *path, int flags) {
        int fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) close(fd);
        return 0;
}

/* ---- the filesystem -------------------------------------------------------------------------- */

static int probe_shadow(void) {
        return open_result("/etc/shadow", O_RDONLY);
}

START_TEST(test_etc_shadow) {
        ck_assert_errno(run_probe(probe_shadow), EACCES);
}
END_TEST

static int probe_passwd(void) {
        return open_result("/etc/passwd", O_RDONLY);
}

START_TEST(test_etc_passwd_readable) {
        ck_assert_int_eq(run_probe(probe_passwd), 0);
}
END_TEST

START_TEST(test_rules_reused) {
        /* The second and third sandboxes take the system rules from the filters' cache. */
        ck_assert_int_eq(run_probe(probe_passwd), 0);
        ck_assert_errno(run_probe(probe_shadow), EACCES);
        ck_assert_int_eq(run_probe(probe_passwd), 0);
}
END_TEST

static int probe_outside(void) {
        return open_result(outside, O_RDONLY);
}

START_TEST(test_outside_workspace) {
        ck_assert_errno(run_probe(probe_outside), EACCES);
}
END_TEST

static int probe_workspace_parent(void) {
        _cleanup_free_ char *p = path_in(workspace, "..");
        return open_result(p, O_RDONLY | O_DIRECTORY);
}

START_TEST(test_workspace_parent) {
        ck_assert_errno(run_probe(probe_workspace_parent), EACCES);
}
END_TEST

static int probe_dotdot_file(void) {
        _cleanup_free_ char *p = path_in(workspace, "../outside.txt");
        return open_result(p, O_RDONLY);
}

START_TEST(test_dotdot_file) {
        ck_assert_errno(run_probe(probe_dotdot_file), EACCES);
}
END_TEST

static int probe_symlink_out(void) {
        _cleanup_free_ char *p = path_in(workspace, "link-out");
        return open_result(p, O_RDONLY);
}

START_TEST(test_symlink_out) {
        ck_assert_errno(run_probe(probe_symlink_out), EACCES);
}
END_TEST

static int probe_tmp(void) {
        return open_result("/tmp", O_RDONLY | O_DIRECTORY);
}

START_TEST(test_tmp) {
        ck_assert_errno(run_probe(probe_tmp), EACCES);
}
END_TEST

static int probe_sys(void) {
        return open_result("/sys/kernel", O_RDONLY | O_DIRECTORY);
}

START_TEST(test_sys) {
        ck_assert_errno(run_probe(probe_sys), EACCES);
}
END_TEST

static int probe_truncate_outside(void) {
        return RET_NERRNO(truncate(outside, 0));
}

START_TEST(test_truncate_outside) {
        ck_assert_errno(run_probe(probe_truncate_outside), EACCES);
}
END_TEST

static int probe_write_workspace(void) {
        _cleanup_free_ char *file = path_in(workspace, "new.txt"), *dir = path_in(workspace, "sub"),
                            *moved = path_in(workspace, "sub/moved.txt");
        _cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int r;

        if (fd < 0)
                return -errno;
        r = loop_write(fd, "hello\n", 6);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0 || rename(file, moved) < 0 || unlink(moved) < 0 || rmdir(dir) < 0)
                return -errno;
        return 0;
}

START_TEST(test_write_workspace) {
        ck_assert_int_eq(run_probe(probe_write_workspace), 0);
}
END_TEST

static int probe_read_usr(void) {
        _cleanup_close_ int fd = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
        char buf[4];

        if (fd < 0)
                return -errno;
        return loop_read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "\177ELF", 4) == 0 ? 0 : -EIO;
}

START_TEST(test_read_usr) {
        ck_assert_int_eq(run_probe(probe_read_usr), 0);
}
END_TEST

static int probe_exec_true(void) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execve("/usr/bin/true", STRV("true"), STRV("PATH=/usr/bin"));
                _exit(100 + errno);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) >= 100)
                return -(WEXITSTATUS(status) - 100);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

START_TEST(test_exec_true) {
        ck_assert_int_eq(run_probe(probe_exec_true), 0);
}
END_TEST

static int probe_dev_null(void) {
        /* O_TRUNC, as a shell's `> /dev/null` opens it. */
        _cleanup_close_ int fd = open("/dev/null", O_WRONLY | O_TRUNC | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return loop_write(fd, "x", 1);
}

START_TEST(test_dev_null) {
        ck_assert_int_eq(run_probe(probe_dev_null), 0);
}
END_TEST

static int probe_read_only(void) {
        _cleanup_free_ char *file = path_in(read_only_dir, "file.txt"), *new = path_in(read_only_dir, "new");
        int r = open_result(file, O_RDONLY);

        if (r < 0)
                return r;
        /* Readable but not writable: report the write's errno. */
        r = open_result(file, O_WRONLY);
        if (r == 0)
                return -EEXIST;
        int fd = open(new, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
                (void) close(fd);
                return -EEXIST;
        }
        return -errno == r ? r : -EPROTO;
}

START_TEST(test_read_only_path) {
        ck_assert_errno(run_probe_full(NULL, STRV(read_only_dir), probe_read_only), EACCES);
}
END_TEST

/* ---- sockets and the network ------------------------------------------------------------------ */

static int socket_result(int family, int type) {
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) close(fd);
        return 0;
}

static int probe_socket_inet(void) {
        return socket_result(AF_INET, SOCK_STREAM);
}

START_TEST(test_socket_inet) {
        ck_assert_errno(run_probe(probe_socket_inet), EAFNOSUPPORT);
}
END_TEST

static int probe_socket_inet6(void) {
        return socket_result(AF_INET6, SOCK_DGRAM);
}

START_TEST(test_socket_inet6) {
        ck_assert_errno(run_probe(probe_socket_inet6), EAFNOSUPPORT);
}
END_TEST

static int probe_socket_unix(void) {
        return socket_result(AF_UNIX, SOCK_STREAM);
}

START_TEST(test_socket_unix) {
        ck_assert_errno(run_probe(probe_socket_unix), EAFNOSUPPORT);
}
END_TEST

static int probe_socket_packet(void) {
        return socket_result(AF_PACKET, SOCK_RAW);
}

START_TEST(test_socket_packet) {
        ck_assert_errno(run_probe(probe_socket_packet), EAFNOSUPPORT);
}
END_TEST

static int probe_socketpair(void) {
        int fds[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        (void) close(fds[0]);
        (void) close(fds[1]);
        return 0;
}

START_TEST(test_socketpair) {
        ck_assert_int_eq(run_probe(probe_socketpair), 0);
}
END_TEST

static int probe_netlink_usersock(void) {
        int r = socket_result(AF_NETLINK, SOCK_RAW), fd;

        if (r < 0)
                return -EBADE; /* NETLINK_ROUTE must work: not the errno under test */
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 2 /* NETLINK_USERSOCK */);
        if (fd < 0)
                return -errno;
        (void) close(fd);
        return 0;
}

START_TEST(test_netlink_usersock) {
        /* NETLINK_ROUTE (0) works, NETLINK_USERSOCK (2) would carry messages between sandboxes. */
        ck_assert_errno(run_probe(probe_netlink_usersock), EPROTONOSUPPORT);
}
END_TEST

/* Interfaces are listed over AF_NETLINK, which stays allowed: a private namespace has only lo. */
static int probe_interfaces(void) {
        struct if_nameindex *ifs = if_nameindex();
        int r = 0;

        if (!ifs)
                return -errno;
        for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
                if (!streq(i->if_name, "lo"))
                        r = -EEXIST;
        if_freenameindex(ifs);
        return r;
}

START_TEST(test_netns_only_lo) {
        ck_assert_int_eq(run_probe(probe_interfaces), 0);
}
END_TEST

static int connect_result(int fd, uint16_t port) {
        struct sockaddr_in a = {
                .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        return RET_NERRNO(connect(fd, (struct sockaddr *) &a, sizeof(a)));
}

static int probe_loopback_self(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        _cleanup_close_ int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        _cleanup_close_ int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (l < 0 || c < 0)
                return -errno;
        if (bind(l, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        return connect_result(c, ntohs(a.sin_port));
}

START_TEST(test_loopback_self) {
        ck_assert_int_eq(run_probe_full(STRV("net.loopback"), NULL, probe_loopback_self), 0);
}
END_TEST

static int probe_loopback_host_listener(void) {
        _cleanup_close_ int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (c < 0)
                return -errno;
        return connect_result(c, listen_port);
}

START_TEST(test_loopback_host_listener) {
        ck_assert_errno(run_probe_full(STRV("net.loopback"), NULL, probe_loopback_host_listener),
                        ECONNREFUSED);
}
END_TEST

START_TEST(test_loopback_unix) {
        ck_assert_errno(run_probe_full(STRV("net.loopback"), NULL, probe_socket_unix), EAFNOSUPPORT);
}
END_TEST

static char *connect_grant(void) {
        static char grant[64];
        (void) snprintf(grant, sizeof(grant), "net.connect:127.0.0.1:%u", (unsigned) listen_port);
        return grant;
}

START_TEST(test_connect_granted_port) {
        ck_assert_int_eq(run_probe_full(STRV(connect_grant()), NULL, probe_loopback_host_listener), 0);
}
END_TEST

static int probe_connect_other_port(void) {
        _cleanup_close_ int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (c < 0)
                return -errno;
        return connect_result(c, other_port);
}

START_TEST(test_connect_other_port) {
        ck_assert_errno(run_probe_full(STRV(connect_grant()), NULL, probe_connect_other_port), EACCES);
}
END_TEST

static int probe_bind(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        return RET_NERRNO(bind(fd, (struct sockaddr *) &a, sizeof(a)));
}

START_TEST(test_connect_no_bind) {
        ck_assert_errno(run_probe_full(STRV(connect_grant()), NULL, probe_bind), EACCES);
}
END_TEST

/* ---- processes, namespaces, privileges -------------------------------------------------------- */

static int probe_ptrace(void) {
        return RET_NERRNO((int) ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
}

START_TEST(test_ptrace_parent) {
        ck_assert_errno(run_probe(probe_ptrace), EPERM);
}
END_TEST

static int probe_kill_parent(void) {
        return RET_NERRNO(kill(getppid(), 0));
}

START_TEST(test_kill_parent) {
        ck_assert_errno(run_probe(probe_kill_parent), EPERM);
}
END_TEST

static int probe_unshare(void) {
        return RET_NERRNO(unshare(CLONE_NEWNS));
}

START_TEST(test_unshare) {
        ck_assert_errno(run_probe(probe_unshare), EPERM);
}
END_TEST

static int probe_mount(void) {
        return RET_NERRNO(mount("none", workspace, "tmpfs", 0, NULL));
}

START_TEST(test_mount) {
        ck_assert_errno(run_probe(probe_mount), EPERM);
}
END_TEST

static int probe_clone_newuser(void) {
        long pid = syscall(SYS_clone, (unsigned long) (CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0);

        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return -errno;
        (void) waitpid((pid_t) pid, NULL, 0);
        return 0;
}

START_TEST(test_clone_newuser) {
        ck_assert_errno(run_probe(probe_clone_newuser), EPERM);
}
END_TEST

static int probe_clone3(void) {
        struct clone_args args = {.exit_signal = SIGCHLD};
        long pid = syscall(SYS_clone3, &args, sizeof(args));

        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return -errno;
        (void) waitpid((pid_t) pid, NULL, 0);
        return 0;
}

START_TEST(test_clone3) {
        ck_assert_errno(run_probe(probe_clone3), ENOSYS);
}
END_TEST

static int probe_keyctl(void) {
        /* KEYCTL_GET_KEYRING_ID of the session keyring. */
        return RET_NERRNO((int) syscall(SYS_keyctl, 0, -3, 0));
}

START_TEST(test_keyctl) {
        ck_assert_errno(run_probe(probe_keyctl), EPERM);
}
END_TEST

static int probe_bpf(void) {
        char attr[128] = {};
        return RET_NERRNO((int) syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof(attr)));
}

START_TEST(test_bpf) {
        ck_assert_errno(run_probe(probe_bpf), EPERM);
}
END_TEST

static int probe_io_uring(void) {
        char params[120] = {};
        return RET_NERRNO((int) syscall(SYS_io_uring_setup, 1, params));
}

START_TEST(test_io_uring) {
        ck_assert_errno(run_probe(probe_io_uring), EPERM);
}
END_TEST

static int probe_caps(void) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

        if (syscall(SYS_capget, &header, data) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(data); i++)
                if (data[i].effective || data[i].permitted || data[i].inheritable)
                        return -EEXIST;
        /* The bounding set is dropped whenever the child can (CAP_SETPCAP or a user namespace). */
        if ((support.setpcap || support.user_namespaces) &&
            prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
                return -ENOTEMPTY;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) != 0)
                return -ENOTEMPTY;
        return 0;
}

START_TEST(test_no_capabilities) {
        ck_assert_int_eq(run_probe(probe_caps), 0);
}
END_TEST

static int probe_no_new_privs(void) {
        int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        return r < 0 ? -errno : r;
}

START_TEST(test_no_new_privs) {
        ck_assert_int_eq(run_probe(probe_no_new_privs), 1);
}
END_TEST

/* ---- the user namespace path (an unprivileged supervisor's), also taken as root ------------------ */

static int probe_userns(void) {
        _cleanup_close_ int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
        unsigned inside, host, count;
        char map[64] = {};

        if (fd < 0)
                return -errno;
        if (loop_read(fd, map, sizeof(map) - 1) <= 0)
                return -EIO;
        /* Our own uid, mapped to itself, alone (the initial namespace maps 4294967295 ids). */
        if (sscanf(map, "%u %u %u", &inside, &host, &count) != 3 || inside != getuid() || count != 1)
                return -EPROTO;
        return 0;
}

START_TEST(test_userns_mapping) {
        force_userns = true;
        ck_assert_int_eq(run_probe(probe_userns), 0);
}
END_TEST

START_TEST(test_userns_shadow) {
        force_userns = true;
        ck_assert_errno(run_probe(probe_shadow), EACCES);
}
END_TEST

START_TEST(test_userns_no_capabilities) {
        force_userns = true;
        ck_assert_int_eq(run_probe(probe_caps), 0);
}
END_TEST

START_TEST(test_userns_netns_only_lo) {
        force_userns = true;
        ck_assert_int_eq(run_probe(probe_interfaces), 0);
}
END_TEST

START_TEST(test_userns_loopback_self) {
        force_userns = true;
        ck_assert_int_eq(run_probe_full(STRV("net.loopback"), NULL, probe_loopback_self), 0);
}
END_TEST

START_TEST(test_userns_unshare) {
        force_userns = true;
        ck_assert_errno(run_probe(probe_unshare), EPERM);
}
END_TEST

/* ---- sandbox_clone_vfork() ------------------------------------------------------------------------ */

typedef struct VforkChild {
        const Sandbox *sandbox;
        char *const *argv;
        int error; /* written by the child, read by the parent: the memory is shared */
        const char *layer;
} VforkChild;

static int vfork_child(void *userdata) {
        VforkChild *c = userdata;

        c->error = sandbox_enter_in_child(c->sandbox, &c->layer);
        if (c->error < 0)
                return c->error;
        /* The refusals the commands print are expected: keep them out of the test log. */
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd >= 0)
                (void) dup2(fd, STDERR_FILENO);
        execve(c->argv[0], c->argv, STRV("PATH=/usr/bin"));
        c->error = -errno;
        c->layer = "execve";
        return c->error;
}

/* Runs argv confined, started by sandbox_clone_vfork(); returns its exit status. */
static int run_vfork(char *const *argv) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        VforkChild c = {.argv = argv};
        int status;
        pid_t pid;

        prepare(NULL, NULL, &s);
        c.sandbox = s;
        ck_assert_int_eq(sandbox_clone_vfork(vfork_child, &c, &pid), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(sandbox_release(s), 0);
        ck_assert_msg(c.error == 0, "the child failed at %s: %s", strna(c.layer), strerror(-c.error));
        ck_assert(WIFEXITED(status));
        return WEXITSTATUS(status);
}

START_TEST(test_clone_vfork_true) {
        ck_assert_int_eq(run_vfork(STRV("/usr/bin/true")), 0);
}
END_TEST

START_TEST(test_clone_vfork_shadow) {
        /* cat says "Permission denied" and exits 1; a readable file would exit 0. */
        ck_assert_int_eq(run_vfork(STRV("/usr/bin/cat", "/etc/shadow")), 1);
}
END_TEST

START_TEST(test_clone_vfork_caps) {
        /* grep exits 0 when it finds a line: every capability set of the child is empty. */
        ck_assert_int_eq(run_vfork(STRV("/usr/bin/grep", "-q", "^CapEff:[[:space:]]*0000000000000000$",
                                        "/proc/self/status")),
                         0);
}
END_TEST

/* ---- the parent's side: support, reports, errors ---------------------------------------------- */

START_TEST(test_support_detect) {
        _cleanup_json_ json_t *j = NULL;

        ck_assert_int_gt(support.landlock_abi, 0);
        ck_assert_int_eq(support.landlock_abi, kernel_landlock_abi);
        ck_assert(support.seccomp);
        ck_assert_int_ge(support.cap_last_cap, CAP_CHECKPOINT_RESTORE);
        ck_assert_int_eq(sandbox_support_to_json(&support, &j), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "landlock_abi")), support.landlock_abi);
        ck_assert(json_is_array(json_object_get(j, "layers")));
        ck_assert(json_is_boolean(json_object_get(j, "network_namespaces")));
}
END_TEST

static bool json_array_has(const json_t *a, const char *s) {
        size_t i;
        json_t *v;

        json_array_foreach(a, i, v) if (json_is_string(v) && streq(json_string_value(v), s)) return true;
        return false;
}

START_TEST(test_report_task) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_json_ json_t *j = NULL;
        json_t *applied;

        prepare(NULL, NULL, &s);
        ck_assert_int_eq(sandbox_report(s, &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "profile")), "task");
        ck_assert_str_eq(json_string_value(json_object_get(j, "net")), "none");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "landlock_abi")), support.landlock_abi);
        applied = json_object_get(j, "applied");
        ck_assert(json_array_has(applied, "landlock"));
        ck_assert(json_array_has(applied, "seccomp"));
        ck_assert(json_array_has(applied, "capabilities"));
        ck_assert(json_array_has(applied, "no-new-privs"));
        ck_assert(json_array_has(applied, "netns") == support.network_namespaces);
        if (support.network_namespaces)
                ck_assert_str_eq(json_string_value(json_object_get(j, "netns")), "shared");
        ck_assert(json_is_array(json_object_get(j, "missing")));
        ck_assert(json_is_object(json_object_get(j, "limits")));
        ck_assert_int_eq(sandbox_release(s), 0);
        ck_assert_int_eq(sandbox_release(s), 0);
}
END_TEST

START_TEST(test_report_connect) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *text = NULL;

        prepare(STRV("net.connect:example.org:443", "net.connect:pypi.org:443", "fs.workspace"), NULL, &s);
        ck_assert_int_eq(sandbox_report(s, &j), 0);
        ck_assert_int_eq(json_dump_string(j, JSON_DUMP_COMPACT, &text), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "net")), "connect");
        ck_assert_int_eq(json_array_size(json_object_get(j, "connect_ports")), 1);
        ck_assert_msg(strstr(text, "\"host-filtering\""), "%s", text);
        ck_assert(!json_array_has(json_object_get(j, "applied"), "netns"));
        ck_assert_int_eq(sandbox_release(s), 0);
}
END_TEST

START_TEST(test_unconfined) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *text = NULL;
        SandboxProfile p = {.kind = SANDBOX_PROFILE_UNCONFINED, .limits = SANDBOX_LIMITS_UNSET};

        ck_assert_int_eq(sandbox_prepare(&p, NULL, NULL, NULL, &s, NULL), 0);
        /* Entering nothing is safe in the test process itself. */
        ck_assert_int_eq(sandbox_enter_in_child(s, NULL), 0);
        ck_assert_int_eq(sandbox_report(s, &j), 0);
        ck_assert_int_eq(json_dump_string(j, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, &text), 0);
        ck_assert_str_eq(text, "{\"applied\":[],\"profile\":\"unconfined\"}");
        ck_assert_int_eq(sandbox_kill(s, SIGKILL), -EOPNOTSUPP);
        ck_assert_int_eq(sandbox_release(s), 0);
}
END_TEST

static int prepare_error(const SandboxProfile *p, char **ret_err) {
        Sandbox *s = NULL;
        int r = sandbox_prepare(p, &support, filters, "test-sandbox-error", &s, ret_err);

        ck_assert_ptr_null(s);
        return r;
}

START_TEST(test_invalid_profiles) {
        _cleanup_free_ char *file = path_in(workspace, "file"), *missing = path_in(tmp, "missing"),
                            *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
        SandboxProfile p = {
                .kind = SANDBOX_PROFILE_TASK, .workspace = workspace, .limits = SANDBOX_LIMITS_UNSET};

        p.capabilities = STRV("net.connect:example.org:0");
        ck_assert_int_eq(prepare_error(&p, &e1), -EINVAL);
        ck_assert_msg(strstr(e1, "invalid capability"), "%s", e1);

        write_file(file, "x");
        p = (SandboxProfile){
                .kind = SANDBOX_PROFILE_TASK, .workspace = file, .limits = SANDBOX_LIMITS_UNSET};
        ck_assert_int_eq(prepare_error(&p, &e2), -ENOTDIR);

        p.workspace = NULL;
        ck_assert_int_eq(prepare_error(&p, &e3), -EINVAL);

        p.workspace = workspace;
        p.private_dir = tmp;
        ck_assert_int_eq(prepare_error(&p, &e4), -EINVAL);
        ck_assert_msg(strstr(e4, "beneath"), "%s", e4);

        p.private_dir = NULL;
        p.read_only = STRV(missing);
        ck_assert_int_eq(prepare_error(&p, &e5), -ENOENT);

        p.read_only = STRV("relative/path");
        ck_assert_int_eq(prepare_error(&p, &e6), -EINVAL);
}
END_TEST

START_TEST(test_names) {
        ck_assert_str_eq(sandbox_profile_kind_to_string(SANDBOX_PROFILE_TASK), "task");
        ck_assert_int_eq(sandbox_profile_kind_from_string("agent"), SANDBOX_PROFILE_AGENT);
        ck_assert_int_eq(sandbox_profile_kind_from_string("unconfined"), SANDBOX_PROFILE_UNCONFINED);
        ck_assert_int_eq(sandbox_profile_kind_from_string("root"), -EINVAL);
        ck_assert_str_eq(sandbox_net_to_string(SANDBOX_NET_LOOPBACK), "loopback");
        ck_assert_int_eq(sandbox_net_from_string("connect"), SANDBOX_NET_CONNECT);
        ck_assert_ptr_null(sandbox_profile_kind_to_string(_SANDBOX_PROFILE_KIND_MAX));
}
END_TEST

/* ---- the suite ---------------------------------------------------------------------------------- */

static _noreturn_ void skip_all(const char *why) {
        printf("1..0 # SKIP %s\n", why);
        fflush(stdout);
        exit(EXIT_SUCCESS);
}

/* Asks the kernel directly, not through the code under test, so a detection bug fails a test
 * instead of skipping them all. */
static void skip_if_kernel_lacks_features(void) {
        kernel_landlock_abi =
                (int) syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (kernel_landlock_abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
                skip_all("the kernel has no Landlock");
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
                skip_all("the kernel has no seccomp");
}

static void add_or_note(TCase *tc, const TTest *t, bool ok, const char *why) {
        if (ok)
                _tcase_add_test(tc, t, 0, 0, 0, 1);
        else
                printf("# skipping %s: %s\n", t->name, why);
}

Suite *test_suite(void) {
        Suite *s = suite_create("sandbox");
        TCase *tc;
        int r;

        skip_if_kernel_lacks_features();
        r = sandbox_support_detect(&support);
        if (r < 0) {
                /* Not a skip: detection must work wherever the kernel has the features. */
                fprintf(stderr, "sandbox_support_detect: %s\n", strerror(-r));
                support = (SandboxSupport){.landlock_abi = -1};
        }

        tc = tcase_create("filesystem");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_etc_shadow);
        tcase_add_test(tc, test_etc_passwd_readable);
        tcase_add_test(tc, test_rules_reused);
        tcase_add_test(tc, test_outside_workspace);
        tcase_add_test(tc, test_workspace_parent);
        tcase_add_test(tc, test_dotdot_file);
        tcase_add_test(tc, test_symlink_out);
        tcase_add_test(tc, test_tmp);
        tcase_add_test(tc, test_sys);
        add_or_note(tc, test_truncate_outside, kernel_landlock_abi >= 3,
                    "Landlock ABI < 3 cannot restrict truncate()");
        tcase_add_test(tc, test_write_workspace);
        tcase_add_test(tc, test_read_usr);
        tcase_add_test(tc, test_exec_true);
        tcase_add_test(tc, test_dev_null);
        tcase_add_test(tc, test_read_only_path);
        suite_add_tcase(s, tc);

        tc = tcase_create("network");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_socket_inet);
        tcase_add_test(tc, test_socket_inet6);
        tcase_add_test(tc, test_socket_unix);
        tcase_add_test(tc, test_socket_packet);
        tcase_add_test(tc, test_socketpair);
        tcase_add_test(tc, test_netlink_usersock);
        add_or_note(tc, test_netns_only_lo, support.network_namespaces,
                    "no network namespaces on this machine");
        add_or_note(tc, test_loopback_self, support.network_namespaces,
                    "no network namespaces on this machine");
        add_or_note(tc, test_loopback_host_listener, support.network_namespaces,
                    "no network namespaces on this machine");
        tcase_add_test(tc, test_loopback_unix);
        add_or_note(tc, test_connect_granted_port, kernel_landlock_abi >= 4,
                    "Landlock ABI < 4 has no TCP rules");
        add_or_note(tc, test_connect_other_port, kernel_landlock_abi >= 4,
                    "Landlock ABI < 4 has no TCP rules");
        add_or_note(tc, test_connect_no_bind, kernel_landlock_abi >= 4, "Landlock ABI < 4 has no TCP rules");
        suite_add_tcase(s, tc);

        tc = tcase_create("privileges");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_ptrace_parent);
        add_or_note(tc, test_kill_parent, kernel_landlock_abi >= 6,
                    "Landlock ABI < 6 does not scope signals (reported as missing)");
        tcase_add_test(tc, test_unshare);
        tcase_add_test(tc, test_mount);
        tcase_add_test(tc, test_clone_newuser);
        tcase_add_test(tc, test_clone3);
        tcase_add_test(tc, test_keyctl);
        tcase_add_test(tc, test_bpf);
        tcase_add_test(tc, test_io_uring);
        tcase_add_test(tc, test_no_capabilities);
        tcase_add_test(tc, test_no_new_privs);
        suite_add_tcase(s, tc);

        tc = tcase_create("userns");
        tcase_add_checked_fixture(tc, setup, teardown);
        add_or_note(tc, test_userns_mapping, support.user_namespaces, "no user namespaces on this machine");
        add_or_note(tc, test_userns_shadow, support.user_namespaces, "no user namespaces on this machine");
        add_or_note(tc, test_userns_no_capabilities, support.user_namespaces,
                    "no user namespaces on this machine");
        add_or_note(tc, test_userns_netns_only_lo, support.user_namespaces,
                    "no user namespaces on this machine");
        add_or_note(tc, test_userns_loopback_self, support.user_namespaces,
                    "no user namespaces on this machine");
        add_or_note(tc, test_userns_unshare, support.user_namespaces, "no user namespaces on this machine");
        suite_add_tcase(s, tc);

        tc = tcase_create("clone-vfork");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_clone_vfork_true);
        tcase_add_test(tc, test_clone_vfork_shadow);
        tcase_add_test(tc, test_clone_vfork_caps);
        suite_add_tcase(s, tc);

        tc = tcase_create("parent");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_support_detect);
        tcase_add_test(tc, test_report_task);
        tcase_add_test(tc, test_report_connect);
        tcase_add_test(tc, test_unconfined);
        tcase_add_test(tc, test_invalid_profiles);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);

        fflush(stdout);
        return s;
}
