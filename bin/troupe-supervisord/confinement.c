/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "confinement.h"
#include "json/json-util.h"

bool confinement_profile_is_known(const char *name) {
        return name && sandbox_profile_kind_from_string(name) >= 0;
}

SandboxProfileKind confinement_choose_profile(const SpawnOptions *o) {
        if (o->env_mode == SPAWN_ENV_SUITE)
                return SANDBOX_PROFILE_UNCONFINED;
        if (o->profile)
                return sandbox_profile_kind_from_string(o->profile);
        return o->workspace ? SANDBOX_PROFILE_TASK : SANDBOX_PROFILE_AGENT;
}

bool confinement_has_private_dirs(const SpawnOptions *o) {
        /* The unconfined profile exists for the user's own tools (the editor), which want the real
         * home; everything confined gets its own, where its sandbox lets it write. */
        return o->workspace && confinement_choose_profile(o) != SANDBOX_PROFILE_UNCONFINED;
}

int confinement_read_only_validate(char *const *paths, const char **ret_bad) {
        struct stat st;

        STRV_FOREACH(p, paths) {
                int r = 0;

                if ((*p)[0] != '/')
                        r = -EINVAL;
                else if (strlen(*p) >= PATH_MAX)
                        r = -ENAMETOOLONG;
                else if (stat(*p, &st) < 0)
                        r = -errno;
                if (r < 0) {
                        if (ret_bad)
                                *ret_bad = *p;
                        return r;
                }
        }
        if (strv_length(paths) > CONFINEMENT_READ_ONLY_MAX) {
                if (ret_bad)
                        *ret_bad = paths[CONFINEMENT_READ_ONLY_MAX];
                return -E2BIG;
        }
        return 0;
}

int confinement_read_only_parse(const char *list, char ***l) {
        for (const char *p = list; p && *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *path = NULL;
                int r;

                if (n > 0) {
                        path = strndup(p, n);
                        if (!path)
                                return -ENOMEM;
                        r = strv_extend(l, path);
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return 0;
}

/* "Confinement: landlock (ABI 7), seccomp (filter), ...; missing: landlock-scopes (needs ...)". */
static int support_summary(const json_t *support, char **ret) {
        _cleanup_free_ char *have = strdup(""), *missing = strdup("");
        const json_t *layers = json_object_get(support, "layers");
        const json_t *limits = json_object_get(support, "limits");
        const char *mode = json_string_value(json_object_get(limits, "mode"));
        const char *reason = json_string_value(json_object_get(limits, "reason"));
        bool none = streq_ptr(mode, "none");
        json_t *l;
        size_t i;

        if (!have || !missing)
                return -ENOMEM;
        json_array_foreach(layers, i, l) {
                char **into = json_is_true(json_object_get(l, "available")) ? &have : &missing;
                char *n = strjoin(*into, isempty(*into) ? "" : ", ",
                                  strna(json_string_value(json_object_get(l, "layer"))), " (",
                                  strna(json_string_value(json_object_get(l, "detail"))), ")");

                if (!n)
                        return -ENOMEM;
                free(*into);
                *into = n;
        }
        if (asprintf_safe(ret, "Confinement: %s; limits: %s%s%s%s; missing: %s", have, strna(mode),
                          none ? " (" : "", none ? strna(reason) : "", none ? ")" : "",
                          isempty(missing) ? "nothing" : missing) < 0)
                return -ENOMEM;
        return 0;
}

int confinement_setup(Confinement *c, char **read_only, SandboxCgroupChoice cgroup_choice) {
        _cleanup_free_ char *summary = NULL;
        int r;

        c->read_only = read_only;
        r = sandbox_support_detect_choice(cgroup_choice, &c->machine);
        if (r < 0)
                return log_error_errno(r, "Failed to detect what confinement this machine supports: %m");
        r = sandbox_filters_new(&c->filters);
        if (r < 0)
                return log_error_errno(r, "Failed to compile the seccomp filters: %m");
        r = sandbox_support_to_json(&c->machine, &c->support);
        if (r >= 0)
                r = json_dump_string(c->support, JSON_DUMP_COMPACT, &c->support_json);
        if (r >= 0)
                r = support_summary(c->support, &summary);
        if (r < 0)
                return log_oom();
        log_info("%s", summary);
        STRV_FOREACH(p, c->read_only)
                log_debug("Confined processes may also read %s.", *p);
        return 0;
}

void confinement_done(Confinement *c) {
        sandbox_support_done(&c->machine);
        json_decref(c->support);
        c->support = NULL;
        c->filters = sandbox_filters_free(c->filters);
        c->read_only = strv_free(c->read_only);
        c->support_json = mfree(c->support_json);
}

int confinement_support_json(const Confinement *c, json_t **ret) {
        if (!c->support)
                return -ENODATA;
        *ret = json_incref(c->support);
        return 0;
}

int confinement_apply_in_child(const Sandbox *s, bool placed, const char **ret_layer) {
        if (!s)
                return 0;
        return sandbox_enter_in_child_placed(s, placed, ret_layer);
}

bool confinement_has_cgroups(const Sandbox *s) {
        return sandbox_has_cgroups(s);
}

int confinement_place_cgroups(const Sandbox *s, pid_t pid) {
        return s ? sandbox_place(s, pid) : 0;
}

int confinement_place(pid_t pid, void *userdata) {
        return sandbox_scope_place(userdata, pid);
}

static int json_set_new(json_t *o, const char *key, json_t *v) {
        if (!v)
                return -ENOMEM;
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_strv(char *const *l, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        STRV_FOREACH(s, l)
                if (json_array_append_new(a, json_string(*s)) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(a);
        return 0;
}

static int requested_limit(json_t *o, const char *key, uint64_t v) {
        if (v == SPAWN_LIMIT_UNSET)
                return 0;
        return json_set_new(o, key, json_integer((json_int_t) MIN(v, (uint64_t) INT64_MAX)));
}

static int requested_strv(json_t *o, const char *key, char *const *l) {
        json_t *a;
        int r;

        if (!l)
                return 0;
        r = json_strv(l, &a);
        if (r < 0)
                return r;
        return json_set_new(o, key, a);
}

int confinement_requested(const SpawnOptions *o, json_t **ret) {
        _cleanup_json_ json_t *req = json_object();
        int r;

        if (!req)
                return -ENOMEM;
        if (o->profile) {
                r = json_set_new(req, "profile", json_string(o->profile));
                if (r < 0)
                        return r;
        }
        r = requested_limit(req, "memory_max", o->memory_max);
        if (r >= 0)
                r = requested_limit(req, "tasks_max", o->tasks_max);
        if (r >= 0)
                r = requested_limit(req, "cpu_weight", o->cpu_weight);
        if (r >= 0)
                r = requested_strv(req, "capabilities", o->capabilities);
        if (r >= 0)
                r = requested_strv(req, "read_only", o->read_only);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(req);
        return 0;
}

int confinement_build_report(const Sandbox *s, const SpawnOptions *o, char **ret) {
        _cleanup_json_ json_t *report = NULL;
        json_t *requested;
        int r;

        r = sandbox_report(s, &report);
        if (r < 0)
                return r;
        r = confinement_requested(o, &requested);
        if (r < 0)
                return r;
        r = json_set_new(report, "requested", requested);
        if (r >= 0 && o->env_mode == SPAWN_ENV_SUITE)
                r = json_set_new(report, "note",
                                 json_string("a suite member: one of troupe's own daemons, which need the "
                                             "bus, so it runs unconfined"));
        if (r < 0)
                return r;
        return json_dump_string(report, JSON_DUMP_COMPACT, ret);
}

static int profile_read_only(const Confinement *c, const SpawnOptions *o, char ***ret) {
        _cleanup_strv_free_ char **l = strv_copy(c->read_only);
        int r;

        if (!l)
                return -ENOMEM;
        STRV_FOREACH(p, o->read_only) {
                r = strv_extend(&l, *p);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int confinement_prepare(const Confinement *c, const SpawnOptions *o, const char *id, const char *private_dir,
                        sd_bus_error *error, Sandbox **ret, char **ret_report) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_strv_free_ char **read_only = NULL;
        _cleanup_free_ char *reason = NULL, *report = NULL;
        SandboxProfile profile;
        int r;

        r = profile_read_only(c, o, &read_only);
        if (r < 0)
                return r;
        profile = (SandboxProfile) {
                .kind = confinement_choose_profile(o),
                .workspace = o->workspace,
                .private_dir = private_dir,
                .read_only = read_only,
                .capabilities = o->capabilities,
                .limits = {
                        .memory_max = o->memory_max,
                        .tasks_max = o->tasks_max,
                        .cpu_weight = o->cpu_weight,
                },
        };
        r = sandbox_prepare(&profile, &c->machine, c->filters, id, &s, &reason);
        /* A capability, workspace or path of the request that cannot be used is the caller's to fix;
         * anything else (a cgroup that cannot be made) is ours. Both carry the reason. */
        if (r < 0)
                return bus_error_setf(error,
                                      r == -EINVAL || r == -E2BIG || r == -ENOENT || r == -ENOTDIR
                                              ? BUS_ERROR_INVALID_ARGS
                                              : BUS_ERROR_FAILED,
                                      "Cannot confine the process (profile %s): %s",
                                      sandbox_profile_kind_to_string(profile.kind), reason ?: strerror(-r));
        r = confinement_build_report(s, o, &report);
        if (r < 0) {
                (void) sandbox_release(s);
                return r;
        }
        *ret = TAKE_PTR(s);
        *ret_report = TAKE_PTR(report);
        return 0;
}
