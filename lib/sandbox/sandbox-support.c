/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-support.c: what this machine's kernel and our privileges let the sandbox do, found once at
 * start and shown by `troupectl status`. */
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "basic/string-util.h"
#include "json/json-util.h"
#include "sandbox/sandbox-internal.h"

static int have_capability(cap_value_t c, bool *ret) {
        cap_t caps = cap_get_proc();
        cap_flag_value_t v = CAP_CLEAR;
        int r = 0;

        if (!caps)
                return -errno;
        if (cap_get_flag(caps, c, CAP_EFFECTIVE, &v) < 0)
                r = -errno;
        (void) cap_free(caps);
        if (r < 0)
                return r;
        *ret = v == CAP_SET;
        return 0;
}

static int detect_namespaces(SandboxSupport *s) {
        bool sys_admin;
        int r;

        r = have_capability(CAP_SYS_ADMIN, &sys_admin);
        if (r < 0)
                return r;

        _cleanup_free_ char *direct_reason = NULL, *user_reason = NULL;
        if (sys_admin) {
                r = sandbox_namespaces_probe(/* user= */ false, &direct_reason);
                if (r < 0)
                        return r;
                s->privileged = r > 0;
        }
        r = sandbox_namespaces_probe(/* user= */ true, &user_reason);
        if (r < 0)
                return r;
        s->user_namespaces = r > 0;
        s->network_namespaces = s->privileged || s->user_namespaces;
        if (s->network_namespaces)
                return 0;

        if (direct_reason)
                r = asprintf_safe(&s->netns_reason, "%s; %s", direct_reason, strna(user_reason));
        else
                r = free_and_strdup(&s->netns_reason, strna(user_reason));
        return r < 0 ? r : 0;
}

/* A scope is the second layer: only when the choice allows one and v2 is not usable. */
static int detect_scope(SandboxSupport *s) {
        if (s->cgroup_choice != SANDBOX_CGROUP_CHOICE_AUTO &&
            s->cgroup_choice != SANDBOX_CGROUP_CHOICE_SCOPE)
                return asprintf_safe(&s->scope_reason, "not tried (--cgroup=%s)",
                                     sandbox_cgroup_choice_to_string(s->cgroup_choice));
        if (s->limits.mode == SANDBOX_CGROUP_V2)
                return free_and_strdup(&s->scope_reason, "not needed: cgroup v2 is delegated to us");
        return sandbox_scope_manager_connect(&s->scope, &s->scope_reason);
}

int sandbox_support_detect(SandboxSupport *ret) {
        return sandbox_support_detect_choice(SANDBOX_CGROUP_CHOICE_AUTO, ret);
}

int sandbox_support_detect_choice(SandboxCgroupChoice choice, SandboxSupport *ret) {
        _cleanup_(sandbox_support_done) SandboxSupport s = {.cgroup_choice = choice};
        const char *reason = NULL;
        int r;

        assert_return(ret, -EINVAL);

        s.landlock_abi = sandbox_landlock_abi(&reason);
        if (s.landlock_abi == 0 && free_and_strdup(&s.landlock_reason, reason) < 0)
                return -ENOMEM;

        r = sandbox_seccomp_probe(&reason);
        s.seccomp = r > 0;
        if (!s.seccomp && free_and_strdup(&s.seccomp_reason, reason) < 0)
                return -ENOMEM;

        /* cap_max_bits() asks the kernel; CAP_LAST_CAP is only what our headers knew. */
        s.cap_last_cap = (int) cap_max_bits() - 1;
        if (s.cap_last_cap < 0)
                s.cap_last_cap = CAP_LAST_CAP;
        r = have_capability(CAP_SETPCAP, &s.setpcap);
        if (r < 0)
                return r;

        r = detect_namespaces(&s);
        if (r < 0)
                return r;

        r = sandbox_limits_detect_choice(choice, &s.limits);
        if (r < 0)
                return r;
        r = detect_scope(&s);
        if (r < 0)
                return r;

        *ret = s;
        s = (SandboxSupport){};
        return 0;
}

void sandbox_support_done(SandboxSupport *s) {
        if (!s)
                return;
        sandbox_limits_support_done(&s->limits);
        s->landlock_reason = mfree(s->landlock_reason);
        s->seccomp_reason = mfree(s->seccomp_reason);
        s->netns_reason = mfree(s->netns_reason);
        s->scope = sandbox_scope_manager_free(s->scope);
        s->scope_reason = mfree(s->scope_reason);
}

static int add_layer(json_t *layers, const char *layer, bool available, const char *detail) {
        json_t *o = json_pack("{s:s, s:b, s:s}", "layer", layer, "available", available, "detail", detail);

        return o && json_array_append_new(layers, o) >= 0 ? 0 : -ENOMEM;
}

static int landlock_layers(const SandboxSupport *s, json_t *layers) {
        char detail[32];
        int r;

        (void) snprintf(detail, sizeof(detail), "ABI %d", s->landlock_abi);
        r = add_layer(layers, "landlock", s->landlock_abi > 0,
                      s->landlock_abi > 0 ? detail : strna(s->landlock_reason));
        if (r >= 0)
                r = add_layer(layers, "landlock-truncate", s->landlock_abi >= 3,
                              s->landlock_abi >= 3 ? "truncate() restricted" : "needs Landlock ABI 3");
        if (r >= 0)
                r = add_layer(layers, "landlock-net", s->landlock_abi >= 4,
                              s->landlock_abi >= 4 ? "TCP bind and connect restricted by port"
                                                   : "needs Landlock ABI 4");
        if (r >= 0)
                r = add_layer(layers, "landlock-ioctl-dev", s->landlock_abi >= 5,
                              s->landlock_abi >= 5 ? "device ioctls restricted" : "needs Landlock ABI 5");
        if (r >= 0)
                r = add_layer(layers, "landlock-scopes", s->landlock_abi >= 6,
                              s->landlock_abi >= 6 ? "abstract unix sockets and signals scoped"
                                                   : "needs Landlock ABI 6");
        return r;
}

static int build_layers(const SandboxSupport *s, json_t *layers) {
        const char *netns = s->privileged        ? "direct (CAP_SYS_ADMIN)"
                            : s->user_namespaces ? "inside a user namespace"
                                                 : strna(s->netns_reason);
        int r;

        r = landlock_layers(s, layers);
        if (r >= 0)
                r = add_layer(layers, "seccomp", s->seccomp,
                              s->seccomp ? "filter" : strna(s->seccomp_reason));
        if (r >= 0)
                r = add_layer(layers, "netns", s->network_namespaces, netns);
        if (r >= 0)
                r = add_layer(layers, "capabilities", true,
                              s->setpcap || s->user_namespaces ? "all dropped, bounding set included"
                                                               : "all dropped (the bounding set stays; "
                                                                 "no_new_privs makes it moot)");
        if (r >= 0)
                r = add_layer(layers, "no-new-privs", true, "always");
        if (r >= 0)
                r = add_layer(layers, "systemd-scope", s->scope,
                              s->scope ? sandbox_scope_manager_describe(s->scope) : strna(s->scope_reason));
        return r;
}

int sandbox_support_to_json(const SandboxSupport *s, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *layers = json_array(), *limits = NULL;
        int r;

        assert_return(s, -EINVAL);
        assert_return(ret, -EINVAL);
        if (!layers)
                return -ENOMEM;

        r = build_layers(s, layers);
        if (r < 0)
                return r;
        r = sandbox_limits_support_to_json(&s->limits, &limits);
        if (r < 0)
                return r;
        if (json_object_set_new(limits, "choice",
                                json_string(sandbox_cgroup_choice_to_string(s->cgroup_choice))) < 0 ||
            json_object_set_new(limits, "scope",
                                s->scope ? json_string(sandbox_scope_manager_describe(s->scope))
                                         : json_null()) < 0 ||
            json_object_set_new(limits, "scope_reason",
                                s->scope_reason ? json_string(s->scope_reason) : json_null()) < 0)
                return -ENOMEM;
        /* With a manager, every limit goes to the scope first (the layer named above is its fallback). */
        if (s->scope)
                for (size_t i = 0; i < 3; i++) {
                        static const char *const keys[] = {"memory_max", "tasks_max", "cpu_weight"};
                        json_t *fallback = json_object_get(limits, keys[i]);
                        _cleanup_free_ char *t = NULL;

                        if (asprintf_safe(&t, "systemd-scope (else %s)",
                                          strna(json_string_value(fallback))) < 0 ||
                            json_object_set_new(limits, keys[i], json_string(t)) < 0)
                                return -ENOMEM;
                }

        o = json_pack("{s:i, s:b, s:b, s:b, s:b, s:i, s:O, s:O}", "landlock_abi", s->landlock_abi, "seccomp",
                      s->seccomp, "user_namespaces", s->user_namespaces, "network_namespaces",
                      s->network_namespaces, "privileged", s->privileged, "cap_last_cap", s->cap_last_cap,
                      "limits", limits, "layers", layers);
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
