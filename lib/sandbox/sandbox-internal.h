/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-internal.h: the prepared state and the per-layer helpers of lib/sandbox/, not for callers.
 *
 * Each layer has a parent half (named *_prepare or *_build: may allocate, open, compile) and a child
 * half (named *_enter_in_child or *_in_child: only syscalls on what the parent prepared). */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "sandbox/sandbox.h"

typedef enum SandboxNamespaceMode {
        SANDBOX_NAMESPACE_NONE, /* no network namespace: the machine cannot make one */
        SANDBOX_NAMESPACE_DIRECT, /* we hold CAP_SYS_ADMIN: unshare(CLONE_NEWNET) */
        SANDBOX_NAMESPACE_USER, /* unshare(CLONE_NEWUSER|CLONE_NEWNET), mapping our own uid and gid */
} SandboxNamespaceMode;

/* "U U 1\n" with U at most 10 digits. */
#define SANDBOX_ID_MAP_MAX 32

struct Sandbox {
        SandboxProfileKind kind;
        SandboxNet net_requested; /* what the capabilities asked for */
        SandboxNet net; /* what the machine lets us give (never more than asked) */
        int landlock_abi;

        /* Landlock: a ruleset fd (O_CLOEXEC), -EBADF when the layer is missing. */
        int ruleset_fd;
        uint16_t *ports; /* net.connect ports, for the report */
        size_t n_ports;

        /* seccomp: .filter points into the SandboxFilters, which outlive the Sandbox; NULL: missing. */
        struct sock_fprog seccomp;

        SandboxNamespaceMode namespace;
        bool loopback_up; /* bring lo up in the new network namespace */
        /* Join these (borrowed from the SandboxFilters) instead of making new ones: -EBADF if not. */
        int join_userns_fd, join_netns_fd;
        char uid_map[SANDBOX_ID_MAP_MAX], gid_map[SANDBOX_ID_MAP_MAX];
        size_t uid_map_len, gid_map_len;

        int cap_last_cap;
        bool setpcap; /* the child holds CAP_SETPCAP when it drops capabilities */

        SandboxLimitsGroup *limits;
        SandboxLimits limits_requested;

        /* A transient systemd scope (sandbox-scope.c): the manager is borrowed from the support. */
        SandboxScopeManager *scope_manager;
        char *scope_unit, *scope_description;
        bool scope_placed, scope_stopped;

        json_t *missing; /* [{"layer","reason"}] found by sandbox_prepare() */
};

/* The rules for the fixed system paths, the same for every sandbox: opened once and reused, since
 * opening, checking and closing some forty paths was most of sandbox_prepare()'s time. Landlock
 * rules hold inodes, so a file replaced by rename() (/etc/passwd by useradd, resolv.conf by a
 * network manager) would keep a stale rule: each build first checks /etc's mtime and the targets of
 * the entries reached through a symlink, and starts over when any changed. */
typedef struct SandboxLandlockRule {
        int fd; /* O_PATH */
        uint64_t access; /* already narrowed to the file rights for a non-directory */
        char *path; /* when reached through a symlink: the path, to check its target; else NULL */
        dev_t dev;
        ino_t ino;
} SandboxLandlockRule;

typedef struct SandboxLandlockCache {
        SandboxLandlockRule *rules;
        size_t n_rules;
        bool valid;
        dev_t etc_dev;
        ino_t etc_ino;
        struct timespec etc_mtime;
} SandboxLandlockCache;

/* The network namespace every `none` sandbox joins (and, on the unprivileged path, the user
 * namespace that owns it), made on first use by a throwaway child and held open by these fds. A
 * fresh namespace per process cost more than everything else the sandbox does in the child: its
 * creation, and its teardown after the process exits, which the kernel does on a worker that
 * competes with the next spawns (docs/performance.md). Sharing is safe because a `none` process
 * can reach nothing in it: lo stays down, AF_INET, AF_INET6 and AF_UNIX are refused, netlink is
 * NETLINK_ROUTE only (which cannot carry messages between processes), and without CAP_NET_ADMIN
 * nothing in it can be changed. */
typedef struct SandboxSharedNamespaces {
        bool tried; /* made, or failed once: then each process makes its own */
        int userns_fd, netns_fd;
} SandboxSharedNamespaces;

/* Built once per process, shared by every Sandbox: see sandbox.h. */
struct SandboxFilters {
        struct sock_filter *program[_SANDBOX_NET_MAX];
        unsigned short length[_SANDBOX_NET_MAX];
        SandboxLandlockCache landlock;
        SandboxSharedNamespaces shared;
};

/* Landlock (sandbox-landlock.c). */
int sandbox_landlock_abi(const char **ret_reason);
void sandbox_landlock_cache_done(SandboxLandlockCache *c);
int sandbox_landlock_build(SandboxLandlockCache *cache, int abi, SandboxNet net, const char *workspace,
                           char *const *read_only, const uint16_t *ports, size_t n_ports, int *ret_fd,
                           char **reterr);
int sandbox_landlock_enter_in_child(int ruleset_fd);

/* seccomp (sandbox-seccomp.c). */
int sandbox_seccomp_probe(const char **ret_reason);
int sandbox_filters_get(SandboxFilters *f, SandboxNet net, struct sock_fprog *ret);
int sandbox_seccomp_enter_in_child(const struct sock_fprog *prog);

/* Network namespace (sandbox-namespaces.c). */
int sandbox_namespaces_probe(bool user, char **ret_reason);
int sandbox_namespaces_prepare(Sandbox *s, const SandboxSupport *support, SandboxFilters *filters);
void sandbox_shared_namespaces_done(SandboxSharedNamespaces *n);
int sandbox_namespaces_enter_in_child(const Sandbox *s);

/* Capabilities and no_new_privs (sandbox-caps.c). */
int sandbox_caps_drop_in_child(const Sandbox *s);
int sandbox_no_new_privs_in_child(void);

/* Transient systemd scopes (sandbox-scope.c). */
int sandbox_scope_start(SandboxScopeManager *m, const char *unit, const char *description,
                        const SandboxLimits *l, pid_t pid, char **ret_reason);
int sandbox_scope_stop(SandboxScopeManager *m, const char *unit);
int sandbox_scope_cgroups(pid_t pid, const char *unit, SandboxCgroupMode *ret_mode,
                          char *ret_dirs[static 3]);

/* Adds {"layer": layer, "reason": printf(fmt)} to the missing list. */
int sandbox_add_missing(Sandbox *s, const char *layer, const char *fmt, ...) _printf_(3, 4);
