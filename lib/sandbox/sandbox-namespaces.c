/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-namespaces.c: a private network namespace (only lo) for processes without the network,
 * made directly with CAP_SYS_ADMIN or inside a user namespace that maps only our own uid and gid. */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "sandbox/sandbox-internal.h"

/* Async-signal-safe: open, write, close. */
static int write_proc_file(const char *path, const char *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, data, size);
        if (n < 0)
                n = -errno;
        (void) close(fd);
        if (n < 0)
                return (int) n;
        return (size_t) n == size ? 0 : -EIO;
}

/* Must happen before the uid and gid maps: an unprivileged process may only write a gid_map after
 * giving up setgroups(), so that it cannot drop a supplementary group that denies it access. */
static int write_id_maps(const char *uid_map, size_t uid_map_len, const char *gid_map, size_t gid_map_len,
                         const char **ret_step) {
        int r;

        *ret_step = "writing /proc/self/setgroups";
        r = write_proc_file("/proc/self/setgroups", "deny", 4);
        if (r < 0)
                return r;
        *ret_step = "writing /proc/self/uid_map";
        r = write_proc_file("/proc/self/uid_map", uid_map, uid_map_len);
        if (r < 0)
                return r;
        *ret_step = "writing /proc/self/gid_map";
        return write_proc_file("/proc/self/gid_map", gid_map, gid_map_len);
}

static int format_id_map(char *buf, size_t size, unsigned id, size_t *ret_len) {
        int n = snprintf(buf, size, "%u %u 1\n", id, id);

        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        *ret_len = (size_t) n;
        return 0;
}

/* Reaps a helper child. ECHILD (a SIGCHLD handler of the caller's reaped it first) is fine: what
 * the child had to say came through its pipe. */
static void reap(pid_t pid) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* What the probe child sends back: the step that failed and its errno. */
typedef struct ProbeResult {
        int error;
        char step[64];
} ProbeResult;

static _noreturn_ void probe_child(int fd, bool user, const char *uid_map, size_t uid_map_len,
                                   const char *gid_map, size_t gid_map_len) {
        ProbeResult result = {};
        const char *step = user ? "unshare(CLONE_NEWUSER|CLONE_NEWNET)" : "unshare(CLONE_NEWNET)";
        int r;

        r = RET_NERRNO(unshare(user ? CLONE_NEWUSER | CLONE_NEWNET : CLONE_NEWNET));
        if (r >= 0 && user)
                r = write_id_maps(uid_map, uid_map_len, gid_map, gid_map_len, &step);
        if (r < 0) {
                result.error = -r;
                (void) strscpy(result.step, sizeof(result.step), step);
        }
        (void) loop_write(fd, &result, sizeof(result));
        _exit(0);
}

int sandbox_namespaces_probe(bool user, char **ret_reason) {
        char uid_map[SANDBOX_ID_MAP_MAX], gid_map[SANDBOX_ID_MAP_MAX];
        size_t uid_map_len, gid_map_len;
        ProbeResult result = {};
        int pipe_fds[2], r;
        pid_t pid;

        r = format_id_map(uid_map, sizeof(uid_map), getuid(), &uid_map_len);
        if (r >= 0)
                r = format_id_map(gid_map, sizeof(gid_map), getgid(), &gid_map_len);
        if (r < 0)
                return r;
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pipe_fds[0]);
                safe_close(pipe_fds[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(pipe_fds[0]);
                probe_child(pipe_fds[1], user, uid_map, uid_map_len, gid_map, gid_map_len);
        }
        safe_close(pipe_fds[1]);
        ssize_t n = loop_read(pipe_fds[0], &result, sizeof(result));
        safe_close(pipe_fds[0]);
        reap(pid);
        if (n != (ssize_t) sizeof(result))
                return asprintf_safe(ret_reason, "the probe process died") < 0 ? -ENOMEM : 0;
        if (result.error == 0)
                return 1;
        result.step[sizeof(result.step) - 1] = 0;
        r = asprintf_safe(ret_reason, "%s failed: %s", result.step, strerror(result.error));
        return r < 0 ? r : 0;
}

void sandbox_shared_namespaces_done(SandboxSharedNamespaces *n) {
        n->userns_fd = safe_close(n->userns_fd);
        n->netns_fd = safe_close(n->netns_fd);
        n->tried = false;
}

static int open_namespace(pid_t pid, const char *type) {
        char path[64];

        (void) snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) pid, type);
        return RET_NERRNO(open(path, O_RDONLY | O_CLOEXEC));
}

/* The helper makes the namespaces as a sandboxed child would, says so, and waits until we have
 * opened them through /proc (the fds keep them alive after it exits). */
static _noreturn_ void shared_helper(const Sandbox *s, int ready_fd, int hold_fd) {
        int r = sandbox_namespaces_enter_in_child(s);
        char c;

        (void) loop_write(ready_fd, &r, sizeof(r));
        (void) loop_read(hold_fd, &c, 1);
        _exit(0);
}

static int make_shared(const Sandbox *s, SandboxSharedNamespaces *n) {
        _cleanup_close_ int userns_fd = -EBADF, netns_fd = -EBADF;
        int ready[2], hold[2], r = -EIO;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(hold, O_CLOEXEC) < 0) {
                r = -errno;
                safe_close(ready[0]);
                safe_close(ready[1]);
                return r;
        }
        pid = fork();
        if (pid == 0) {
                safe_close(ready[0]);
                safe_close(hold[1]);
                shared_helper(s, ready[1], hold[0]);
        }
        safe_close(ready[1]);
        safe_close(hold[0]);
        if (pid < 0) {
                r = -errno;
                safe_close(ready[0]);
                safe_close(hold[1]);
                return r;
        }
        if (loop_read(ready[0], &r, sizeof(r)) != (ssize_t) sizeof(r))
                r = -EIO;
        if (r >= 0 && s->namespace == SANDBOX_NAMESPACE_USER)
                r = userns_fd = open_namespace(pid, "user");
        if (r >= 0)
                r = netns_fd = open_namespace(pid, "net");
        safe_close(ready[0]);
        safe_close(hold[1]);
        reap(pid);
        if (r < 0)
                return r;
        n->userns_fd = TAKE_FD(userns_fd);
        n->netns_fd = TAKE_FD(netns_fd);
        return 0;
}

int sandbox_namespaces_prepare(Sandbox *s, const SandboxSupport *support, SandboxFilters *filters) {
        int r;

        s->join_userns_fd = s->join_netns_fd = -EBADF;
        if (support->privileged)
                s->namespace = SANDBOX_NAMESPACE_DIRECT;
        else if (support->user_namespaces)
                s->namespace = SANDBOX_NAMESPACE_USER;
        else {
                s->namespace = SANDBOX_NAMESPACE_NONE;
                return 0;
        }
        /* Our own ids and nothing else: files keep their owners, and no id can be switched to. */
        r = format_id_map(s->uid_map, sizeof(s->uid_map), getuid(), &s->uid_map_len);
        if (r < 0)
                return r;
        r = format_id_map(s->gid_map, sizeof(s->gid_map), getgid(), &s->gid_map_len);
        if (r < 0)
                return r;

        if (s->net != SANDBOX_NET_NONE)
                return 0;
        /* Made once; if that fails, each process makes its own, as before. */
        if (!filters->shared.tried) {
                filters->shared.tried = true;
                (void) make_shared(s, &filters->shared);
        }
        s->join_userns_fd = filters->shared.userns_fd;
        s->join_netns_fd = filters->shared.netns_fd;
        return 0;
}

/* A fresh network namespace has lo down; LOOPBACK processes talk to themselves over it. */
static int loopback_up(void) {
        struct ifreq ifr = {.ifr_name = "lo"};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int r = 0;

        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else if (!(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        (void) close(fd);
        return r;
}

int sandbox_namespaces_enter_in_child(const Sandbox *s) {
        const char *step;
        int r;

        if (s->join_netns_fd >= 0) {
                /* The user namespace first: it gives the capabilities needed to join its netns. */
                if (s->join_userns_fd >= 0 && setns(s->join_userns_fd, CLONE_NEWUSER) < 0)
                        return -errno;
                return RET_NERRNO(setns(s->join_netns_fd, CLONE_NEWNET));
        }
        switch (s->namespace) {
        case SANDBOX_NAMESPACE_NONE:
                return 0;
        case SANDBOX_NAMESPACE_DIRECT:
                if (unshare(CLONE_NEWNET) < 0)
                        return -errno;
                break;
        case SANDBOX_NAMESPACE_USER:
                if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
                        return -errno;
                r = write_id_maps(s->uid_map, s->uid_map_len, s->gid_map, s->gid_map_len, &step);
                if (r < 0)
                        return r;
                break;
        }
        return s->loopback_up ? loopback_up() : 0;
}
