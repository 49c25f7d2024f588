/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-probe: tries one forbidden (or allowed) thing per check and prints what the kernel said,
 * in the way of bubblewrap's try-syscall, for test-confinement.sh:
 *
 *   sandbox-probe CHECK [ARGS]... [CHECK [ARGS]...]...
 *
 * prints one line per check, "CHECK ok" or "CHECK ERRNONAME" (e.g. "read-file EACCES"), and exits
 * 0; lines starting with "#" are details for the test log. Checks:
 *   read-file PATH            open it read-only and read a byte
 *   write-file PATH           create or truncate it and write a byte
 *   exec PATH                 fork and execve() it (ok: the exec happened, whatever its status)
 *   tcp-connect HOST PORT     a TCP connection to a numeric IPv4 or IPv6 address
 *   unix-connect PATH         a stream connection to a unix socket
 *   ptrace PID                PTRACE_ATTACH (and detach again)
 *   kill PID                  signal 0
 *   unshare                   unshare(CLONE_NEWNS), (CLONE_NEWUSER), (CLONE_NEWNET), each in a
 *                             child of its own: lines "unshare-mount", "unshare-user", "unshare-net"
 *   mount DIR                 a tmpfs on DIR (unmounted again if that worked)
 *   fork-bomb N               forks up to N children that pause(); prints the errno of the fork
 *                             that failed (ok: all N were started), then kills and reaps them
 *   memory-hog MIB            maps and touches 1 MiB at a time; ENOMEM when a mapping is refused,
 *                             ok after MIB of them; a memory cgroup kills it with SIGKILL instead
 *   caps                      "caps eff=HEX prm=HEX inh=HEX bnd=HEX amb=HEX"
 *   no-new-privs              "no-new-privs 0|1"
 *   listen PORTFILE           for use outside a sandbox: listens on 127.0.0.1:0, writes the port to
 *                             PORTFILE and accepts (and closes) connections forever
 *
 * Plain C without libtroupe on purpose: no libtool wrapper script and no shared library of the
 * build tree stand between the sandbox and the syscall under test. It is built without sanitizers
 * too (tests/integration/local.mk): ASan reserves terabytes of address space at start, which an
 * RLIMIT_AS memory limit forbids before main() is reached. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024U * 1024U)
#define FORK_BOMB_MAX 100000L
#define MEMORY_HOG_MAX (1024L * 1024L) /* MiB: 1 TiB */

static const char *errno_name(int e) {
        const char *n = strerrorname_np(e);
        return n ?: "EUNKNOWN";
}

static void result(const char *check, int r) {
        if (r >= 0)
                printf("%s ok\n", check);
        else
                printf("%s %s\n", check, errno_name(-r));
        fflush(stdout);
}

static int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static int parse_long(const char *s, long min, long max, long *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int check_read_file(const char *path) {
        char c;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (read(fd, &c, 1) < 0)
                r = negative_errno();
        close(fd);
        return r;
}

static int check_write_file(const char *path) {
        int fd, r = 0;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        if (write(fd, "x", 1) != 1)
                r = negative_errno();
        if (close(fd) < 0 && r == 0)
                r = negative_errno();
        return r;
}

/* The child reports execve()'s errno through a close-on-exec pipe: end of file means it ran. */
static int check_exec(const char *path) {
        char *argv[] = {(char *) path, NULL}, *envp[] = {NULL};
        int fds[2], e = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                e = negative_errno();
                close(fds[0]);
                close(fds[1]);
                return e;
        }
        if (pid == 0) {
                close(fds[0]);
                execve(path, argv, envp);
                e = errno;
                if (write(fds[1], &e, sizeof(e)) < 0)
                        _exit(127);
                _exit(127);
        }
        close(fds[1]);
        do
                n = read(fds[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(fds[0]);
        (void) waitpid(pid, NULL, 0);
        if (n < 0)
                return -EIO;
        return n == (ssize_t) sizeof(e) ? -e : 0;
}

static int check_tcp_connect(const char *host, const char *port_s) {
        struct sockaddr_storage ss = {};
        socklen_t len;
        long port;
        int fd, family, r = 0;

        if (parse_long(port_s, 1, 65535, &port) < 0)
                return -EINVAL;
        if (strchr(host, ':')) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;

                family = a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        return -EINVAL;
                len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *) &ss;

                family = a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t) port);
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        return -EINVAL;
                len = sizeof(*a);
        }
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &ss, len) < 0)
                r = negative_errno();
        close(fd);
        return r;
}

static int check_unix_connect(const char *path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int fd, r = 0;

        if (strlen(path) >= sizeof(a.sun_path))
                return -ENAMETOOLONG;
        strcpy(a.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                r = negative_errno();
        close(fd);
        return r;
}

static int check_ptrace(const char *pid_s) {
        long pid;

        if (parse_long(pid_s, 1, INT32_MAX, &pid) < 0)
                return -EINVAL;
        if (ptrace(PTRACE_ATTACH, (pid_t) pid, NULL, NULL) < 0)
                return negative_errno();
        /* It worked: let the process go again, so that the test sees only our report. */
        (void) waitpid((pid_t) pid, NULL, __WALL);
        (void) ptrace(PTRACE_DETACH, (pid_t) pid, NULL, NULL);
        return 0;
}

static int check_kill(const char *pid_s) {
        long pid;

        if (parse_long(pid_s, 1, INT32_MAX, &pid) < 0)
                return -EINVAL;
        return kill((pid_t) pid, 0) < 0 ? negative_errno() : 0;
}

/* In a child, so a namespace that is granted does not change what the next checks see. */
static int unshare_in_child(int flags) {
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                _exit(unshare(flags) < 0 ? errno : 0);
        if (waitpid(pid, &status, 0) < 0)
                return negative_errno();
        if (!WIFEXITED(status))
                return -EIO;
        return -WEXITSTATUS(status);
}

static void check_unshare(void) {
        result("unshare-mount", unshare_in_child(CLONE_NEWNS));
        result("unshare-user", unshare_in_child(CLONE_NEWUSER));
        result("unshare-net", unshare_in_child(CLONE_NEWNET));
}

static int check_mount(const char *dir) {
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0)
                return negative_errno();
        (void) umount2(dir, MNT_DETACH);
        return 0;
}

/* Each child dies with us; the parent kills and reaps them all once fork() has failed. */
static int check_fork_bomb(const char *n_s) {
        pid_t *pids;
        long n, started = 0;
        int r = 0;

        if (parse_long(n_s, 1, FORK_BOMB_MAX, &n) < 0)
                return -EINVAL;
        pids = calloc((size_t) n, sizeof(pid_t));
        if (!pids)
                return -ENOMEM;
        for (; started < n; started++) {
                pid_t pid = fork();

                if (pid < 0) {
                        r = negative_errno();
                        break;
                }
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        for (;;)
                                pause();
                }
                pids[started] = pid;
        }
        printf("# fork-bomb: %ld children started\n", started);
        for (long i = 0; i < started; i++)
                (void) kill(pids[i], SIGKILL);
        for (long i = 0; i < started; i++)
                (void) waitpid(pids[i], NULL, 0);
        free(pids);
        return r;
}

static int check_memory_hog(const char *mib_s) {
        long mib;

        if (parse_long(mib_s, 1, MEMORY_HOG_MAX, &mib) < 0)
                return -EINVAL;
        /* The test reads what came before a SIGKILL. */
        fflush(stdout);
        for (long i = 0; i < mib; i++) {
                void *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

                if (p == MAP_FAILED) {
                        printf("# memory-hog: %ld MiB touched\n", i);
                        return negative_errno();
                }
                /* Only pages written to count against a memory limit. */
                memset(p, 0x5a, MIB);
        }
        return 0;
}

static int check_caps(void) {
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
        unsigned long long bnd = 0, amb = 0;

        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        for (int cap = 0; cap < 64; cap++) {
                int b = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                int a = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);

                if (b < 0) /* beyond the last capability this kernel knows */
                        break;
                bnd |= (unsigned long long) (b > 0) << cap;
                amb |= (unsigned long long) (a > 0) << cap;
        }
        printf("caps eff=%016llx prm=%016llx inh=%016llx bnd=%016llx amb=%016llx\n",
               (unsigned long long) d[1].effective << 32 | d[0].effective,
               (unsigned long long) d[1].permitted << 32 | d[0].permitted,
               (unsigned long long) d[1].inheritable << 32 | d[0].inheritable, bnd, amb);
        fflush(stdout);
        return 0;
}

static int check_no_new_privs(void) {
        int v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);

        if (v < 0)
                return negative_errno();
        printf("no-new-privs %d\n", v);
        fflush(stdout);
        return 0;
}

/* Writes the port to PORTFILE.tmp and renames it, so a reader never sees half a number. */
static int write_port_file(const char *path, unsigned port) {
        char tmp[4096];
        FILE *f;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        fprintf(f, "%u\n", port);
        if (fclose(f) != 0)
                return negative_errno();
        return rename(tmp, path) < 0 ? negative_errno() : 0;
}

static int run_listener(const char *portfile) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return negative_errno();
        r = write_port_file(portfile, ntohs(a.sin_port));
        if (r < 0)
                return r;
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (c >= 0)
                        close(c);
        }
}

static int usage(void) {
        fprintf(stderr, "Usage: sandbox-probe CHECK [ARGS]... [CHECK [ARGS]...]...\n"
                        "Checks: read-file PATH, write-file PATH, exec PATH, tcp-connect HOST PORT,\n"
                        "unix-connect PATH, ptrace PID, kill PID, unshare, mount DIR, fork-bomb N,\n"
                        "memory-hog MIB, caps, no-new-privs, listen PORTFILE.\n");
        return 2;
}

static const struct {
        const char *name;
        int nargs;
} checks[] = {
        {"read-file", 1}, {"write-file", 1}, {"exec", 1}, {"tcp-connect", 2}, {"unix-connect", 1},
        {"ptrace", 1}, {"kill", 1}, {"unshare", 0}, {"mount", 1}, {"fork-bomb", 1},
        {"memory-hog", 1}, {"caps", 0}, {"no-new-privs", 0}, {"listen", 1},
};

/* How many arguments the check at argv[0] takes with its name, or -1 for a usage error. */
static int check_length(int argc, char **argv) {
        for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
                if (strcmp(argv[0], checks[i].name) == 0)
                        return argc > checks[i].nargs ? checks[i].nargs + 1 : -1;
        return -1;
}

static void run_check(char **argv) {
        const char *name = argv[0];
        int r;

        if (strcmp(name, "read-file") == 0)
                r = check_read_file(argv[1]);
        else if (strcmp(name, "write-file") == 0)
                r = check_write_file(argv[1]);
        else if (strcmp(name, "exec") == 0)
                r = check_exec(argv[1]);
        else if (strcmp(name, "tcp-connect") == 0)
                r = check_tcp_connect(argv[1], argv[2]);
        else if (strcmp(name, "unix-connect") == 0)
                r = check_unix_connect(argv[1]);
        else if (strcmp(name, "ptrace") == 0)
                r = check_ptrace(argv[1]);
        else if (strcmp(name, "kill") == 0)
                r = check_kill(argv[1]);
        else if (strcmp(name, "unshare") == 0) {
                check_unshare();
                return;
        } else if (strcmp(name, "mount") == 0)
                r = check_mount(argv[1]);
        else if (strcmp(name, "fork-bomb") == 0)
                r = check_fork_bomb(argv[1]);
        else if (strcmp(name, "memory-hog") == 0)
                r = check_memory_hog(argv[1]);
        else if (strcmp(name, "caps") == 0) {
                r = check_caps();
                if (r >= 0)
                        return;
        } else if (strcmp(name, "no-new-privs") == 0) {
                r = check_no_new_privs();
                if (r >= 0)
                        return;
        } else {
                r = run_listener(argv[1]);
                fprintf(stderr, "sandbox-probe: listen: %s\n", strerror(-r));
                exit(EXIT_FAILURE);
        }
        result(name, r);
}

int main(int argc, char *argv[]) {
        int n;

        if (argc < 2)
                return usage();
        /* Every check is known and has its arguments before the first one runs. */
        for (int i = 1; i < argc; i += n) {
                n = check_length(argc - i, argv + i);
                if (n < 0)
                        return usage();
        }
        for (int i = 1; i < argc; i += check_length(argc - i, argv + i))
                run_check(argv + i);
        return EXIT_SUCCESS;
}
