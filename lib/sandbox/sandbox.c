/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox.c: turns a profile into a prepared Sandbox, enters it in the child, reports what it holds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/capability.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "sandbox/sandbox-internal.h"

/* More capabilities than any card may carry (64 granted + 64 requestable). */
#define SANDBOX_CAPABILITIES_MAX 256U

static const char *const sandbox_profile_kind_table[_SANDBOX_PROFILE_KIND_MAX] = {
        [SANDBOX_PROFILE_AGENT] = "agent",
        [SANDBOX_PROFILE_TASK] = "task",
        [SANDBOX_PROFILE_UNCONFINED] = "unconfined",
};
DEFINE_STRING_TABLE_LOOKUP(sandbox_profile_kind, SandboxProfileKind);

static const char *const sandbox_net_table[_SANDBOX_NET_MAX] = {
        [SANDBOX_NET_NONE] = "none",
        [SANDBOX_NET_LOOPBACK] = "loopback",
        [SANDBOX_NET_CONNECT] = "connect",
};
DEFINE_STRING_TABLE_LOOKUP(sandbox_net, SandboxNet);

int sandbox_add_missing(Sandbox *s, const char *layer, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        json_t *o = json_pack("{s:s, s:s}", "layer", layer, "reason", reason);
        if (!o || json_array_append_new(s->missing, o) < 0)
                return -ENOMEM;
        return 0;
}

static int add_port(Sandbox *s, uint16_t port) {
        for (size_t i = 0; i < s->n_ports; i++)
                if (s->ports[i] == port)
                        return 0;
        uint16_t *p = reallocarray(s->ports, s->n_ports + 1, sizeof(uint16_t));
        if (!p)
                return -ENOMEM;
        s->ports = p;
        s->ports[s->n_ports++] = port;
        return 0;
}

/* The network grants: "net.loopback" (the sandbox's own, not a card capability) and
 * "net.connect:HOST:PORT". Landlock can only hold the port, so the host is checked and dropped here;
 * the report says so. Other valid capabilities (fs.workspace, exec.*, secrets.read:*) are enforced
 * elsewhere and change nothing here. */
static int parse_capabilities(Sandbox *s, char *const *capabilities, char **reterr) {
        size_t n = 0;
        int r;

        s->net_requested = SANDBOX_NET_NONE;
        STRV_FOREACH (c, capabilities) {
                const char *reason = NULL, *port;

                if (++n > SANDBOX_CAPABILITIES_MAX) {
                        (void) asprintf_safe(reterr, "more than %u capabilities", SANDBOX_CAPABILITIES_MAX);
                        return -E2BIG;
                }
                if (streq(*c, "net.loopback")) {
                        if (s->net_requested == SANDBOX_NET_NONE)
                                s->net_requested = SANDBOX_NET_LOOPBACK;
                        continue;
                }
                if (capability_check(*c, &reason) < 0) {
                        _cleanup_free_ char *q = NULL;
                        (void) json_quote(*c, 64, &q);
                        (void) asprintf_safe(reterr, "invalid capability %s: %s", strna(q), reason);
                        return -EINVAL;
                }
                if (!startswith(*c, "net.connect:"))
                        continue;
                /* The grammar guarantees ":PORT" at the end, 1..65535 without leading zeros. */
                port = strrchr(*c, ':') + 1;
                r = add_port(s, (uint16_t) strtoul(port, NULL, 10));
                if (r < 0)
                        return r;
                /* Connecting out wins over a private loopback: binding stays refused. */
                s->net_requested = SANDBOX_NET_CONNECT;
        }
        return 0;
}

static int check_directory(const char *what, const char *path, char **reterr) {
        struct stat st;

        if (path[0] != '/') {
                (void) asprintf_safe(reterr, "%s '%s' is not an absolute path", what, path);
                return -EINVAL;
        }
        if (stat(path, &st) < 0) {
                int r = -errno;
                (void) asprintf_safe(reterr, "cannot access %s '%s': %s", what, path, strerror(-r));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                (void) asprintf_safe(reterr, "%s '%s' is not a directory", what, path);
                return -ENOTDIR;
        }
        return 0;
}

/* The private dir becomes HOME and TMPDIR; outside the workspace it would be unwritable. */
static int check_private_dir(const SandboxProfile *p, char **reterr) {
        _cleanup_free_ char *ws = NULL, *dir = NULL;
        const char *rest;
        int r;

        if (!p->private_dir)
                return 0;
        r = check_directory("private directory", p->private_dir, reterr);
        if (r < 0)
                return r;
        ws = realpath(p->workspace, NULL);
        dir = realpath(p->private_dir, NULL);
        if (!ws || !dir)
                return -errno;
        rest = startswith(dir, ws);
        if (!rest || (rest[0] != '/' && !(rest[0] == 0 && streq(ws, "/")))) {
                (void) asprintf_safe(reterr, "private directory '%s' is not beneath the workspace '%s'",
                                     p->private_dir, p->workspace);
                return -EINVAL;
        }
        return 0;
}

static int check_profile(const SandboxProfile *p, char **reterr) {
        int r;

        if (p->kind == SANDBOX_PROFILE_TASK && !p->workspace) {
                (void) asprintf_safe(reterr, "the task profile needs a workspace");
                return -EINVAL;
        }
        if (p->private_dir && !p->workspace) {
                (void) asprintf_safe(reterr, "a private directory needs a workspace");
                return -EINVAL;
        }
        if (p->workspace) {
                r = check_directory("workspace", p->workspace, reterr);
                if (r < 0)
                        return r;
        }
        return check_private_dir(p, reterr);
}

/* Decides what network the process gets: never more than it asked for, and when a layer that would
 * hold a grant is missing, less (the grant is refused rather than left unenforced). */
static int prepare_net(Sandbox *s, const SandboxSupport *support, SandboxFilters *filters) {
        int r = 0;

        s->net = s->net_requested;
        if (s->net == SANDBOX_NET_CONNECT && s->landlock_abi < 4) {
                s->net = SANDBOX_NET_NONE;
                r = sandbox_add_missing(s, "landlock-net",
                                        "Landlock ABI %d cannot restrict TCP ports (needs 4): the "
                                        "net.connect grants are refused",
                                        s->landlock_abi);
                if (r < 0)
                        return r;
        }
        if (s->net == SANDBOX_NET_CONNECT) {
                r = sandbox_add_missing(s, "host-filtering",
                                        "Landlock restricts TCP ports, not hosts: a granted port is "
                                        "reachable on every host");
                if (r >= 0)
                        r = sandbox_add_missing(s, "udp-filtering",
                                                "Landlock restricts TCP only: UDP (DNS included) reaches "
                                                "any host and port");
                return r;
        }

        r = sandbox_namespaces_prepare(s, support, filters);
        if (r < 0)
                return r;
        if (s->namespace != SANDBOX_NAMESPACE_NONE) {
                s->loopback_up = s->net == SANDBOX_NET_LOOPBACK;
                return 0;
        }
        if (s->net == SANDBOX_NET_LOOPBACK) {
                /* Without a namespace, AF_INET would reach the host's network. */
                s->net = SANDBOX_NET_NONE;
                return sandbox_add_missing(s, "netns", "%s: net.loopback is refused (AF_INET stays blocked)",
                                           strna(support->netns_reason));
        }
        return sandbox_add_missing(s, "netns", "%s (seccomp still refuses AF_INET and AF_INET6)",
                                   strna(support->netns_reason));
}

static int prepare_landlock(Sandbox *s, const SandboxProfile *p, const SandboxSupport *support,
                            SandboxFilters *filters, char **reterr) {
        int r;

        if (s->landlock_abi <= 0)
                return sandbox_add_missing(s, "landlock", "%s: the filesystem is not restricted",
                                           strna(support->landlock_reason));
        if (s->landlock_abi < 3) {
                r = sandbox_add_missing(s, "landlock-truncate",
                                        "Landlock ABI %d cannot restrict truncate() (needs 3)",
                                        s->landlock_abi);
                if (r < 0)
                        return r;
        }
        if (s->landlock_abi < 5) {
                r = sandbox_add_missing(s, "landlock-ioctl-dev",
                                        "Landlock ABI %d cannot restrict device ioctls (needs 5)",
                                        s->landlock_abi);
                if (r < 0)
                        return r;
        }
        if (s->landlock_abi < 6) {
                r = sandbox_add_missing(s, "landlock-scopes",
                                        "Landlock ABI %d cannot scope abstract unix sockets and signals "
                                        "(needs 6): signals to processes outside are not refused",
                                        s->landlock_abi);
                if (r < 0)
                        return r;
        }
        return sandbox_landlock_build(&filters->landlock, s->landlock_abi, s->net, p->workspace,
                                      p->read_only, s->ports, s->n_ports, &s->ruleset_fd, reterr);
}

static int prepare_seccomp(Sandbox *s, const SandboxSupport *support, SandboxFilters *filters,
                           char **reterr) {
        int r;

        if (!support->seccomp)
                return sandbox_add_missing(s, "seccomp", "%s: syscalls are not filtered",
                                           strna(support->seccomp_reason));
        r = sandbox_filters_get(filters, s->net, &s->seccomp);
        if (r < 0)
                (void) asprintf_safe(reterr, "cannot compile the seccomp filter: %s", strerror(-r));
        return r;
}

static int prepare_confined(Sandbox *s, const SandboxProfile *p, const SandboxSupport *support,
                            SandboxFilters *filters, const char *name, char **reterr) {
        int r;

        s->missing = json_array();
        if (!s->missing)
                return -ENOMEM;
        s->landlock_abi = support->landlock_abi;
        s->cap_last_cap = support->cap_last_cap;

        r = parse_capabilities(s, p->capabilities, reterr);
        if (r < 0)
                return r;
        r = check_profile(p, reterr);
        if (r < 0)
                return r;
        r = prepare_net(s, support, filters);
        if (r < 0)
                return r;
        /* In a new user namespace the child holds every capability of that namespace. */
        s->setpcap = support->setpcap || s->namespace == SANDBOX_NAMESPACE_USER;
        r = prepare_landlock(s, p, support, filters, reterr);
        if (r < 0)
                return r;
        r = prepare_seccomp(s, support, filters, reterr);
        if (r < 0)
                return r;

        /* Last: the only step that leaves something behind (a cgroup) to undo. With a systemd
         * manager this is the fallback, used only if the scope cannot be made. */
        s->limits_requested = p->limits;
        r = sandbox_limits_create(&support->limits, &p->limits, name, &s->limits);
        if (r < 0) {
                (void) asprintf_safe(reterr, "cannot set up the limits: %s", strerror(-r));
                return r;
        }
        if (support->scope && support->limits.mode != SANDBOX_CGROUP_V2) {
                s->scope_manager = support->scope;
                if (asprintf_safe(&s->scope_unit, "troupe-%s.scope", name) < 0 ||
                    asprintf_safe(&s->scope_description, "troupe process %s (%s profile)", name,
                                  sandbox_profile_kind_to_string(p->kind)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int sandbox_prepare(const SandboxProfile *p, const SandboxSupport *support, SandboxFilters *filters,
                    const char *name, Sandbox **ret, char **reterr) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        assert_return(p, -EINVAL);
        assert_return(ret, -EINVAL);
        assert_return(p->kind >= 0 && p->kind < _SANDBOX_PROFILE_KIND_MAX, -EINVAL);
        assert_return(p->kind == SANDBOX_PROFILE_UNCONFINED || (support && filters && name), -EINVAL);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->kind = p->kind;
        s->ruleset_fd = -EBADF;
        s->join_userns_fd = s->join_netns_fd = -EBADF;

        if (p->kind != SANDBOX_PROFILE_UNCONFINED) {
                r = prepare_confined(s, p, support, filters, name, &err);
                if (r < 0) {
                        if (reterr)
                                *reterr = err ? TAKE_PTR(err) : strdup(strerror(-r));
                        return r;
                }
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Sandbox *sandbox_free(Sandbox *s) {
        if (!s)
                return NULL;
        safe_close(s->ruleset_fd);
        sandbox_limits_group_free(s->limits);
        free(s->scope_unit);
        free(s->scope_description);
        json_decref(s->missing);
        free(s->ports);
        return mfree(s);
}

/* Async-signal-safe from here to the end of sandbox_enter_in_child(). */
static int enter_layer(int r, const char *layer, const char **ret_layer) {
        if (r < 0 && ret_layer)
                *ret_layer = layer;
        return r;
}

int sandbox_enter_in_child(const Sandbox *s, const char **ret_layer) {
        return sandbox_enter_in_child_placed(s, /* placed= */ false, ret_layer);
}

int sandbox_enter_in_child_placed(const Sandbox *s, bool placed, const char **ret_layer) {
        int r;

        if (!s)
                return enter_layer(-EINVAL, "sandbox", ret_layer);
        if (s->kind == SANDBOX_PROFILE_UNCONFINED)
                return 0;

        /* Placed: the parent moved us into our groups, or into a scope that holds every limit. */
        if (s->limits && !placed) {
                r = sandbox_limits_join_in_child(s->limits);
                if (r < 0)
                        return enter_layer(r, "cgroup", ret_layer);
        }
        r = sandbox_namespaces_enter_in_child(s);
        if (r < 0)
                return enter_layer(r, "netns", ret_layer);
        /* After the user namespace exists: RLIMIT_NPROC counts the processes of the user in the
         * namespace it is set in, so set before, every fork() of an unprivileged sandbox would
         * already be over the limit. */
        if (s->limits && !(placed && s->scope_manager)) {
                r = sandbox_limits_set_rlimits_in_child(s->limits);
                if (r < 0)
                        return enter_layer(r, "rlimits", ret_layer);
        }
        r = sandbox_caps_drop_in_child(s);
        if (r < 0)
                return enter_layer(r, "capabilities", ret_layer);
        r = sandbox_no_new_privs_in_child();
        if (r < 0)
                return enter_layer(r, "no-new-privs", ret_layer);
        if (s->ruleset_fd >= 0) {
                r = sandbox_landlock_enter_in_child(s->ruleset_fd);
                if (r < 0)
                        return enter_layer(r, "landlock", ret_layer);
        }
        /* Last: the filter would refuse unshare() above. */
        if (s->seccomp.filter) {
                r = sandbox_seccomp_enter_in_child(&s->seccomp);
                if (r < 0)
                        return enter_layer(r, "seccomp", ret_layer);
        }
        return 0;
}

static int append_string(json_t *a, const char *s) {
        return json_array_append_new(a, json_string(s)) < 0 ? -ENOMEM : 0;
}

static int report_applied(const Sandbox *s, json_t *applied) {
        int r = 0;

        if (s->namespace == SANDBOX_NAMESPACE_USER)
                r = append_string(applied, "userns");
        if (r >= 0 && s->namespace != SANDBOX_NAMESPACE_NONE)
                r = append_string(applied, "netns");
        if (r >= 0)
                r = append_string(applied, "capabilities");
        if (r >= 0)
                r = append_string(applied, "no-new-privs");
        if (r >= 0 && s->ruleset_fd >= 0)
                r = append_string(applied, "landlock");
        if (r >= 0 && s->seccomp.filter)
                r = append_string(applied, "seccomp");
        return r;
}

static int report_scope(const Sandbox *s, json_t *o) {
        json_t *scope;

        if (json_object_set_new(o, "cgroup",
                                json_string(s->limits ? sandbox_limits_cgroup_kind(s->limits) : "none")) < 0)
                return -ENOMEM;
        if (!s->scope_manager)
                return 0;
        scope = json_pack("{s:s, s:s, s:b, s:s?}", "unit", s->scope_unit, "manager",
                          sandbox_scope_manager_describe(s->scope_manager), "placed", s->scope_placed,
                          "cgroup",
                          s->scope_placed && s->limits ? sandbox_limits_cgroup_dir(s->limits) : NULL);
        if (!scope || json_object_set_new(o, "scope", scope) < 0)
                return -ENOMEM;
        return 0;
}

static int report_confined(const Sandbox *s, json_t *o) {
        _cleanup_json_ json_t *applied = json_array(), *missing = json_deep_copy(s->missing),
                              *limits = json_object(), *ports = json_array();
        int r;

        if (!applied || !missing || !limits || !ports)
                return -ENOMEM;
        if (s->limits) {
                r = sandbox_limits_report(s->limits, applied, missing, limits);
                if (r < 0)
                        return r;
        }
        r = report_applied(s, applied);
        if (r < 0)
                return r;
        r = report_scope(s, o);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_ports && s->net == SANDBOX_NET_CONNECT; i++)
                if (json_array_append_new(ports, json_integer(s->ports[i])) < 0)
                        return -ENOMEM;

        if (json_object_set(o, "applied", applied) < 0 || json_object_set(o, "missing", missing) < 0 ||
            json_object_set_new(o, "landlock_abi", json_integer(s->landlock_abi)) < 0 ||
            json_object_set_new(o, "net", json_string(sandbox_net_to_string(s->net))) < 0 ||
            json_object_set(o, "limits", limits) < 0)
                return -ENOMEM;
        if (s->net != s->net_requested &&
            json_object_set_new(o, "net_requested", json_string(sandbox_net_to_string(s->net_requested))) <
                    0)
                return -ENOMEM;
        if (s->net == SANDBOX_NET_CONNECT && json_object_set(o, "connect_ports", ports) < 0)
                return -ENOMEM;
        if (s->namespace != SANDBOX_NAMESPACE_NONE && s->net != SANDBOX_NET_CONNECT &&
            json_object_set_new(o, "netns", json_string(s->join_netns_fd >= 0 ? "shared" : "own")) < 0)
                return -ENOMEM;
        return 0;
}

int sandbox_report(const Sandbox *s, json_t **ret) {
        _cleanup_json_ json_t *o = NULL;
        int r;

        assert_return(s, -EINVAL);
        assert_return(ret, -EINVAL);

        o = json_pack("{s:s, s:[]}", "profile", sandbox_profile_kind_to_string(s->kind), "applied");
        if (!o)
                return -ENOMEM;
        if (s->kind != SANDBOX_PROFILE_UNCONFINED) {
                r = report_confined(s, o);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int sandbox_kill(Sandbox *s, int sig) {
        assert_return(s, -EINVAL);

        /* Without a group the caller signals the process it started itself. */
        if (!s->limits)
                return -EOPNOTSUPP;
        return sandbox_limits_kill(s->limits, sig);
}

int sandbox_release(Sandbox *s) {
        int r;

        assert_return(s, -EINVAL);

        if (s->limits) {
                r = sandbox_limits_destroy(s->limits);
                if (r < 0)
                        return r;
                s->limits = sandbox_limits_group_free(s->limits);
        }
        /* Empty now: stopping it lets the manager remove its groups and collect the unit at once. */
        if (s->scope_placed && !s->scope_stopped) {
                r = sandbox_scope_stop(s->scope_manager, s->scope_unit);
                if (r < 0)
                        return r;
                s->scope_stopped = true;
        }
        return 0;
}

bool sandbox_has_cgroups(const Sandbox *s) {
        return s && s->kind != SANDBOX_PROFILE_UNCONFINED && !s->scope_manager &&
               sandbox_limits_has_cgroup(s->limits);
}

int sandbox_place(const Sandbox *s, pid_t pid) {
        assert_return(s, -EINVAL);
        assert_return(pid > 0, -EINVAL);

        return sandbox_limits_place(s->limits, pid);
}

bool sandbox_wants_scope(const Sandbox *s) {
        return s && s->scope_manager;
}

int sandbox_scope_place(Sandbox *s, pid_t pid) {
        _cleanup_free_ char *reason = NULL;
        char *dirs[3] = {};
        SandboxCgroupMode mode = SANDBOX_CGROUP_NONE;
        int r;

        assert_return(s && s->scope_manager && s->limits, -EINVAL);
        assert_return(pid > 0, -EINVAL);

        r = sandbox_scope_start(s->scope_manager, s->scope_unit, s->scope_description, &s->limits_requested,
                                pid, &reason);
        if (r < 0)
                return r;
        if (r > 0) {
                r = sandbox_scope_cgroups(pid, s->scope_unit, &mode, dirs);
                if (r < 0) {
                        /* The pid is in the scope but we cannot see its groups: kill() would miss what
                         * it forks. Stop the scope (the waiting child dies with it) and fail. */
                        (void) sandbox_scope_stop(s->scope_manager, s->scope_unit);
                        return r;
                }
                r = sandbox_limits_adopt_scope(s->limits, &s->limits_requested, mode, dirs);
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        free(dirs[i]);
                if (r < 0) {
                        (void) sandbox_scope_stop(s->scope_manager, s->scope_unit);
                        return r;
                }
                s->scope_placed = true;
                return 1;
        }
        r = sandbox_add_missing(s, "systemd-scope", "%s: the limits went to the next layer", reason);
        return r < 0 ? r : 0;
}
