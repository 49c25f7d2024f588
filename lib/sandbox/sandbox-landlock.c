/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-landlock.c: the filesystem, TCP port and scope rules, built in the parent as a Landlock
 * ruleset fd that the child enters with landlock_restrict_self(). No library exists: raw syscalls. */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "sandbox/sandbox-internal.h"

/* Debian 12's headers are Linux 6.1's (ABI 2); the machines run newer kernels. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* Our own spelling of the ABI 4 and 6 structures and of the net port rule type: the 6.1 headers
 * lack the fields, and an enum value cannot be tested with #ifndef. The kernel accepts the longer
 * structure from older ABIs as long as the fields it does not know are zero. */
typedef struct LandlockRulesetAttr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
} LandlockRulesetAttr;

typedef struct LandlockNetPortAttr {
        uint64_t allowed_access;
        uint64_t port;
} LandlockNetPortAttr;

#define SANDBOX_LANDLOCK_RULE_NET_PORT 2

#define FS_READ_EXEC                                                                                        \
        (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* O_TRUNC needs TRUNCATE from ABI 3 on, and every shell opens `> /dev/null` with it. */
#define FS_DEVICE_RW                                                                                        \
        (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
/* The rights that mean something on a file rather than a directory: a rule on a file with any
 * other is refused with EINVAL. */
#define FS_FILE_RIGHTS                                                                                      \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |        \
         LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

static int sys_landlock_create_ruleset(const LandlockRulesetAttr *attr, size_t size, uint32_t flags) {
        return (int) syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static int sys_landlock_add_rule(int ruleset_fd, int type, const void *attr, uint32_t flags) {
        return (int) syscall(SYS_landlock_add_rule, ruleset_fd, type, attr, flags);
}

int sandbox_landlock_abi(const char **ret_reason) {
        int abi = sys_landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

        if (abi > 0)
                return abi;
        if (ret_reason)
                *ret_reason = errno == ENOSYS ? "the kernel is built without Landlock"
                              : errno == EOPNOTSUPP
                                      ? "Landlock is not enabled (add it to the lsm= boot option)"
                                      : "landlock_create_ruleset() failed";
        return 0;
}

/* Every filesystem right the ABI knows: handled rights are denied unless a rule grants them. */
static uint64_t fs_handled(int abi) {
        uint64_t a = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */

        if (abi >= 2)
                a |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                a |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5)
                a |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return a;
}

static int add_path_rule(int ruleset_fd, int fd, uint64_t access, uint64_t handled) {
        struct landlock_path_beneath_attr attr = {.parent_fd = fd};
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                access &= FS_FILE_RIGHTS;
        attr.allowed_access = access & handled;
        if (attr.allowed_access == 0)
                return 0;
        return RET_NERRNO(sys_landlock_add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0));
}

/* ---- the system paths, cached ------------------------------------------------------------------ */

void sandbox_landlock_cache_done(SandboxLandlockCache *c) {
        for (size_t i = 0; i < c->n_rules; i++) {
                safe_close(c->rules[i].fd);
                free(c->rules[i].path);
        }
        c->rules = mfree(c->rules);
        c->n_rules = 0;
        c->valid = false;
}

static bool path_beneath_usr(const char *p) {
        return streq(p, "/usr") || startswith(p, "/usr/");
}

/* One path of the fixed system list: skipped when this machine does not have it, and when it
 * resolves beneath /usr with no right /usr lacks (/bin, /lib64, /etc/os-release and /etc/localtime
 * on a merged-/usr system): a rule beneath a rule with the same rights adds nothing. */
static int cache_add(SandboxLandlockCache *c, const char *path, uint64_t access) {
        _cleanup_free_ char *resolved = realpath(path, NULL), *copy = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!resolved)
                return errno == ENOENT ? 0 : -errno;
        if (!streq(path, "/usr") && path_beneath_usr(resolved) && (access & ~FS_READ_EXEC) == 0)
                return 0;
        fd = open(resolved, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                access &= FS_FILE_RIGHTS;
        if (!streq(resolved, path) && !(copy = strdup(path)))
                return -ENOMEM;

        SandboxLandlockRule *rules = reallocarray(c->rules, c->n_rules + 1, sizeof(SandboxLandlockRule));
        if (!rules)
                return -ENOMEM;
        c->rules = rules;
        c->rules[c->n_rules++] = (SandboxLandlockRule){.fd = TAKE_FD(fd),
                                                       .access = access,
                                                       .path = TAKE_PTR(copy),
                                                       .dev = st.st_dev,
                                                       .ino = st.st_ino};
        return 0;
}

/* Files in /etc that programs read to link, resolve names, verify TLS and tell the time; not the
 * rest of /etc, which holds secrets (shadow, ssh host keys) and the machine's configuration. */
static const char *const etc_entries[] = {
        "ld.so.cache",   "ld.so.conf",  "ld.so.conf.d",    "localtime",      "passwd",     "group",
        "nsswitch.conf", "hosts",       "host.conf",       "resolv.conf",    "gai.conf",   "services",
        "protocols",     "ssl",         "ca-certificates", "alternatives",   "mime.types", "os-release",
        "locale.alias",  "locale.conf", "timezone",        "debian_version", "login.defs",
};

static int cache_add_etc(SandboxLandlockCache *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(etc_entries); i++) {
                path = mfree(path);
                path = strjoin("/etc/", etc_entries[i]);
                if (!path)
                        return -ENOMEM;
                r = cache_add(c, path, FS_READ);
                if (r < 0)
                        return r;
        }

        /* python3* (python3, python3.11...): the interpreter's site configuration. */
        DIR *d = opendir("/etc");
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (fnmatch("python3*", de->d_name, 0) != 0)
                        continue;
                path = mfree(path);
                path = strjoin("/etc/", de->d_name);
                r = path ? cache_add(c, path, FS_READ) : -ENOMEM;
        }
        closedir(d);
        return r;
}

static int cache_fill(SandboxLandlockCache *c) {
        static const char *const system_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                                  "/lib32", "/lib64", "/libx32"};
        static const struct {
                const char *path;
                uint64_t access;
        } devices[] = {
                {"/dev/null", FS_DEVICE_RW},
                {"/dev/zero", FS_DEVICE_RW},
                {"/dev/full", FS_DEVICE_RW},
                {"/dev/random", FS_DEVICE_RW},
                {"/dev/urandom", FS_DEVICE_RW},
                /* Terminal programs ask for their window size and modes. */
                {"/dev/tty", FS_DEVICE_RW | LANDLOCK_ACCESS_FS_IOCTL_DEV},
        };
        struct stat st;
        int r;

        sandbox_landlock_cache_done(c);
        /* Before reading /etc: a change while we read is then seen by the next check. */
        if (stat("/etc", &st) >= 0) {
                c->etc_dev = st.st_dev;
                c->etc_ino = st.st_ino;
                c->etc_mtime = st.st_mtim;
        }
        for (size_t i = 0; i < ELEMENTSOF(system_dirs); i++) {
                r = cache_add(c, system_dirs[i], FS_READ_EXEC);
                if (r < 0)
                        return r;
        }
        r = cache_add_etc(c);
        if (r < 0)
                return r;
        /* Other processes' /proc entries stay closed: Landlock scopes ptrace, and /proc checks it. */
        r = cache_add(c, "/proc", FS_READ);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                r = cache_add(c, devices[i].path, devices[i].access);
                if (r < 0)
                        return r;
        }
        c->valid = true;
        return 0;
}

/* A file renamed over an entry of /etc changes /etc's mtime; a symlinked entry may point elsewhere
 * now, or its target may have been replaced in its own directory. */
static bool cache_is_current(const SandboxLandlockCache *c) {
        struct stat st;

        if (!c->valid || stat("/etc", &st) < 0)
                return false;
        if (st.st_dev != c->etc_dev || st.st_ino != c->etc_ino || st.st_mtim.tv_sec != c->etc_mtime.tv_sec ||
            st.st_mtim.tv_nsec != c->etc_mtime.tv_nsec)
                return false;
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].path && (stat(c->rules[i].path, &st) < 0 || st.st_dev != c->rules[i].dev ||
                                         st.st_ino != c->rules[i].ino))
                        return false;
        return true;
}

static int add_system_rules(SandboxLandlockCache *c, int ruleset_fd, uint64_t handled) {
        int r;

        if (!cache_is_current(c)) {
                r = cache_fill(c);
                if (r < 0) {
                        sandbox_landlock_cache_done(c);
                        return r;
                }
        }
        for (size_t i = 0; i < c->n_rules; i++) {
                struct landlock_path_beneath_attr attr = {
                        .parent_fd = c->rules[i].fd,
                        .allowed_access = c->rules[i].access & handled,
                };

                if (attr.allowed_access != 0 &&
                    sys_landlock_add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
                        return -errno;
        }
        return 0;
}

/* A path the caller named: it must exist. */
static int add_named_rule(int ruleset_fd, const char *what, const char *path, int flags, uint64_t access,
                          uint64_t handled, char **reterr) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path || path[0] != '/') {
                (void) asprintf_safe(reterr, "%s path '%s' is not absolute", what, strna(path));
                return -EINVAL;
        }
        fd = open(path, O_PATH | O_CLOEXEC | flags);
        if (fd < 0) {
                r = -errno;
                (void) asprintf_safe(reterr, "cannot open %s '%s': %s", what, path, strerror(-r));
                return r;
        }
        r = add_path_rule(ruleset_fd, fd, access, handled);
        if (r < 0)
                (void) asprintf_safe(reterr, "cannot add a Landlock rule for %s '%s': %s", what, path,
                                     strerror(-r));
        return r;
}

static int add_port_rules(int ruleset_fd, const uint16_t *ports, size_t n_ports, char **reterr) {
        for (size_t i = 0; i < n_ports; i++) {
                LandlockNetPortAttr attr = {.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP,
                                            .port = ports[i]};

                if (sys_landlock_add_rule(ruleset_fd, SANDBOX_LANDLOCK_RULE_NET_PORT, &attr, 0) < 0) {
                        int r = -errno;
                        (void) asprintf_safe(reterr, "cannot add a Landlock rule for TCP port %u: %s",
                                             (unsigned) ports[i], strerror(-r));
                        return r;
                }
        }
        return 0;
}

int sandbox_landlock_build(SandboxLandlockCache *cache, int abi, SandboxNet net, const char *workspace,
                           char *const *read_only, const uint16_t *ports, size_t n_ports, int *ret_fd,
                           char **reterr) {
        LandlockRulesetAttr attr = {.handled_access_fs = fs_handled(abi)};
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert_return(cache, -EINVAL);
        assert_return(abi > 0, -EOPNOTSUPP);
        assert_return(ret_fd, -EINVAL);

        /* NONE and LOOPBACK are isolated by their network namespace (and seccomp); handling TCP
         * here too would only break the loopback a LOOPBACK profile is granted. */
        if (abi >= 4 && net == SANDBOX_NET_CONNECT)
                attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
        if (abi >= 6)
                attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;

        fd = sys_landlock_create_ruleset(&attr, sizeof(attr), 0);
        if (fd < 0) {
                r = -errno;
                (void) asprintf_safe(reterr, "cannot create a Landlock ruleset: %s", strerror(-r));
                return r;
        }

        r = add_system_rules(cache, fd, attr.handled_access_fs);
        if (r < 0) {
                (void) asprintf_safe(reterr, "cannot add the Landlock rules for system paths: %s",
                                     strerror(-r));
                return r;
        }
        if (workspace) {
                r = add_named_rule(fd, "workspace", workspace, O_DIRECTORY, attr.handled_access_fs,
                                   attr.handled_access_fs, reterr);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH (p, read_only) {
                r = add_named_rule(fd, "read-only", *p, 0, FS_READ_EXEC, attr.handled_access_fs, reterr);
                if (r < 0)
                        return r;
        }
        if (attr.handled_access_net != 0) {
                r = add_port_rules(fd, ports, n_ports, reterr);
                if (r < 0)
                        return r;
        }

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int sandbox_landlock_enter_in_child(int ruleset_fd) {
        return RET_NERRNO((int) syscall(SYS_landlock_restrict_self, ruleset_fd, 0));
}
