/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox.h: builds a confinement from a profile in the parent and enters it in a forked child.
 *
 * The split exists because the child of a fork may only do async-signal-safe work: everything that
 * allocates, parses or compiles (the seccomp filter, the Landlock ruleset, the cgroup, the uid map
 * text) is done by sandbox_prepare() in the parent; sandbox_enter_in_child() only issues syscalls
 * with what was prepared. The layers, their order and every errno a confined process sees are
 * described in docs/sandbox.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/macro.h"
#include "sandbox/limits.h"

typedef enum SandboxProfileKind {
        SANDBOX_PROFILE_AGENT, /* an agent process: no workspace unless one is given */
        SANDBOX_PROFILE_TASK, /* a command run for a task, in its workspace */
        SANDBOX_PROFILE_UNCONFINED, /* asked for by name only (the editor action): nothing applied */
        _SANDBOX_PROFILE_KIND_MAX,
        _SANDBOX_PROFILE_KIND_INVALID = -EINVAL,
} SandboxProfileKind;

const char *sandbox_profile_kind_to_string(SandboxProfileKind k) _const_;
SandboxProfileKind sandbox_profile_kind_from_string(const char *s) _pure_;

/* How much network a profile has, derived from its capabilities (docs/agent-card.md). */
typedef enum SandboxNet {
        SANDBOX_NET_NONE, /* own network namespace (only lo, down or up), AF_INET/AF_INET6 refused */
        SANDBOX_NET_LOOPBACK, /* "net.loopback": own network namespace with lo up, AF_INET allowed */
        SANDBOX_NET_CONNECT, /* "net.connect:HOST:PORT": the host's network, TCP connect to the
                              * granted ports only (Landlock ABI 4), no bind */
        _SANDBOX_NET_MAX,
        _SANDBOX_NET_INVALID = -EINVAL,
} SandboxNet;

/* What the caller wants. Strings and arrays are borrowed for the duration of sandbox_prepare(). */
typedef struct SandboxProfile {
        SandboxProfileKind kind;
        const char *workspace; /* absolute, existing directory, read-write and executable; NULL: none */
        const char *private_dir; /* absolute, beneath the workspace: HOME and TMPDIR; NULL: none */
        char *const *read_only; /* more absolute paths, read-only and executable (the build tree
                                 * in tests, an agent's card); NULL: none */
        char *const *capabilities; /* the grants: net.loopback, net.connect:HOST:PORT... */
        SandboxLimits limits;
} SandboxProfile;

const char *sandbox_net_to_string(SandboxNet n) _const_;
SandboxNet sandbox_net_from_string(const char *s) _pure_;

/* A systemd manager that makes transient scopes (sandbox-scope.c), reached once at start. */
typedef struct SandboxScopeManager SandboxScopeManager;
/* Tries, in order: the user manager's private socket ($XDG_RUNTIME_DIR/systemd/private, peer to peer
 * as `systemctl --user` does), the system manager's (/run/systemd/private, as root), and
 * org.freedesktop.systemd1 on the session bus and (as root) the system bus, on a connection of its
 * own. 1 and *ret when one answered Subscribe(); 0 and why none did in *ret_reason; <0: no memory. */
int sandbox_scope_manager_connect(SandboxScopeManager **ret, char **ret_reason);
SandboxScopeManager *sandbox_scope_manager_free(SandboxScopeManager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxScopeManager *, sandbox_scope_manager_free);
const char *sandbox_scope_manager_describe(const SandboxScopeManager *m) _pure_;

/* What this machine's kernel and our privileges allow, detected once (sandbox_support_detect()). */
typedef struct SandboxSupport {
        int landlock_abi; /* 0: none */
        bool seccomp;
        bool user_namespaces; /* an unprivileged process can create a user+network namespace */
        bool network_namespaces; /* we can create a network namespace (directly or in a user ns) */
        bool privileged; /* CAP_SYS_ADMIN: namespaces without a user namespace */
        SandboxLimitsSupport limits;
        /* Added with the implementation: */
        int cap_last_cap; /* the highest capability this kernel knows (libcap's cap_max_bits() - 1) */
        bool setpcap; /* we hold CAP_SETPCAP: the bounding set and securebits can be changed */
        char *landlock_reason, *seccomp_reason, *netns_reason; /* why a layer is missing; NULL if not */
        /* The cgroup layers allowed (--cgroup=), and the systemd manager for transient scopes: tried
         * when the choice allows it and cgroup v2 is not usable; NULL with scope_reason if none. */
        SandboxCgroupChoice cgroup_choice;
        SandboxScopeManager *scope;
        char *scope_reason;
} SandboxSupport;

/* Probes the kernel (Landlock ABI, seccomp, a throwaway child that tries the namespaces) and the
 * cgroup hierarchy. Slow (a fork): call once at start. Release with sandbox_support_done(). */
int sandbox_support_detect(SandboxSupport *ret);
/* The same with the cgroup layers restricted to `choice`; also connects to a systemd manager for
 * transient scopes when the choice allows one and cgroup v2 cannot be used. */
int sandbox_support_detect_choice(SandboxCgroupChoice choice, SandboxSupport *ret);
void sandbox_support_done(SandboxSupport *s);
/* As JSON for `troupectl status` and the supervisor's ConfinementSupport property:
 * {"landlock_abi":7,"seccomp":true,...,"layers":[{"layer":"landlock","available":true,"detail":"ABI 7"},...]} */
int sandbox_support_to_json(const SandboxSupport *s, json_t **ret);

/* A prepared confinement. Holds fds (ruleset, cgroup) and the compiled filter. */
typedef struct Sandbox Sandbox;

/* The compiled seccomp programs, one per SandboxNet variant, built at most once per process and
 * shared by every Sandbox (the child only loads one); also the Landlock rules of the system paths,
 * opened once (O_PATH fds) and checked for replaced files before each use, and the network
 * namespace that every SANDBOX_NET_NONE process joins (docs/sandbox.md). Each is made on first use.
 * Not thread-safe; must outlive every Sandbox prepared with it. */
typedef struct SandboxFilters SandboxFilters;
int sandbox_filters_new(SandboxFilters **ret);
SandboxFilters *sandbox_filters_free(SandboxFilters *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxFilters *, sandbox_filters_free);

/* Builds everything the child needs. `name` names the cgroup (a process id). Fails with a negative
 * errno and a message in *reterr (for the caller's D-Bus error) when the profile cannot be built:
 * an invalid capability, a workspace that is not a directory. A layer the machine lacks is not an
 * error: it goes to the report's "missing" list with the reason. */
int sandbox_prepare(const SandboxProfile *p, const SandboxSupport *support, SandboxFilters *filters,
                    const char *name, Sandbox **ret, char **reterr);
Sandbox *sandbox_free(Sandbox *s); /* closes fds; does not remove the cgroup: sandbox_release() */
DEFINE_TRIVIAL_CLEANUP_FUNC(Sandbox *, sandbox_free);

/* In the forked child, after its fds, cwd and environment are set up, right before execve():
 * joins the cgroup, sets rlimits, unshares the namespaces, drops capabilities, sets no_new_privs,
 * restricts itself with Landlock and loads the seccomp filter, in that order. Async-signal-safe:
 * no allocation. Returns 0 or a negative errno; *ret_layer (if given) names the layer that failed. */
int sandbox_enter_in_child(const Sandbox *s, const char **ret_layer);

/* Whether the sandbox holds cgroups of its own that a parked child can be placed into, and the place
 * step itself: writes the pid into each group's cgroup.procs. 1: placed (enter with
 * sandbox_enter_in_child_placed(s, true)); 0: there was nothing to place it in. */
bool sandbox_has_cgroups(const Sandbox *s) _pure_;
int sandbox_place(const Sandbox *s, pid_t pid);

/* Whether the limits are to go to a transient systemd scope: then the child must be made with fork()
 * and wait, before it enters the sandbox, until sandbox_scope_place() has run in the parent (a
 * vfork()-suspended parent cannot make the call), and enter with sandbox_enter_in_child_placed(). */
bool sandbox_wants_scope(const Sandbox *s) _pure_;
/* In the parent, with the waiting child's pid: StartTransientUnit("troupe-<name>.scope", "fail") with
 * PIDs=[pid], MemoryMax, TasksMax, CPUWeight, waiting for the job's JobRemoved "done". 1: the pid is
 * in the scope (whose groups now do sandbox_kill() and the report); 0: the manager refused, the
 * reason is in the report's missing list and the child must enter the fallback prepared by
 * sandbox_prepare(); -ETIMEDOUT: no answer in time (the spawn must fail: a scope made later would
 * move a running process); other <0: no memory. */
int sandbox_scope_place(Sandbox *s, pid_t pid);
/* sandbox_enter_in_child(), skipping the cgroup joins when `placed` (the parent placed the child in
 * its groups or in a scope), and the rlimits too when a scope holds the limits. */
int sandbox_enter_in_child_placed(const Sandbox *s, bool placed, const char **ret_layer);

/* Starts a child the way posix_spawn() does, for running sandbox_enter_in_child() and execve() in
 * it: clone(CLONE_VM|CLONE_VFORK) on a stack of its own, so that no page tables are copied (a
 * confined spawn took 1.9x posix_spawn()'s time with fork(), 1.3x with this; docs/performance.md),
 * and the more so the larger the parent. The caller is suspended until
 * the child has exec'd or exited. In the child, every signal handler is reset to the default and the
 * caller's signal mask is restored before fn(userdata) runs. fn shares the caller's memory: it may
 * only make async-signal-safe calls and write nothing but its own stack and what userdata points to
 * (which the caller reads after this returns: that is how fn reports an error). If fn returns, the
 * child exits with status 127. Returns 0 and the child's pid, or a negative errno. */
typedef int (*SandboxChildFunc)(void *userdata);
int sandbox_clone_vfork(SandboxChildFunc fn, void *userdata, pid_t *ret_pid);

/* Starts a child like sandbox_clone_vfork() (clone(CLONE_VM) on a stack of its own, no page tables
 * copied), but without suspending the caller at once: the child parks itself first (every signal
 * blocked, waiting on a pipe, running nothing of the caller's), the caller runs place(pid,
 * place_userdata) while it waits, and only then does the child go on to fn(userdata). The caller is
 * then suspended until the child has exec'd or exited (it waits for the end of file of a CLOEXEC pipe
 * the child holds), so fn has the same rules as under sandbox_clone_vfork(), and one more: it must
 * leave the descriptors from 10 up open (it may mark them close-on-exec). For a child that must be
 * moved into its cgroups from outside: a process that moves itself while it runs is rescheduled by
 * the cpu controller, which on a loaded machine cost milliseconds per spawn (docs/performance.md).
 * When place() fails, the child exits without running fn, is reaped, and its error is returned. */
typedef int (*SandboxPlaceFunc)(pid_t pid, void *userdata);
int sandbox_clone_parked(SandboxChildFunc fn, void *userdata, SandboxPlaceFunc place, void *place_userdata,
                         pid_t *ret_pid);

/* The report for the Confinement property: {"profile":"task","applied":["landlock",...],
 * "missing":[{"layer":...,"reason":...}],"landlock_abi":7,"net":"none","limits":{...},
 * "cgroup":"systemd-scope"|"cgroup-v2"|"cgroup-v1"|"none", "scope":{"unit","manager","placed",
 * "cgroup"} when a scope was asked for}. Only
 * layers that sandbox_enter_in_child() applies are in "applied". */
int sandbox_report(const Sandbox *s, json_t **ret);

/* After the process (and all it forked) ended or must end: kills what is left in its cgroup and
 * removes the cgroup (a scope: stops it, and the manager removes it). Safe to call more than once.
 * sandbox_kill() returns how many processes it signalled (sandbox_limits_kill()), or -EOPNOTSUPP when there
 * is no cgroup (the unconfined profile): the caller signals what it started itself. */
int sandbox_kill(Sandbox *s, int sig);
int sandbox_release(Sandbox *s);
