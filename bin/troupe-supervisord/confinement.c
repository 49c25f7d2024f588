/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <jansson.h>

#include "basic/string-util.h"
#include "confinement.h"
#include "json/json-util.h"

static const char *const known_profiles[] = {"agent", "task"};

bool confinement_profile_is_known(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(known_profiles); i++)
                if (streq_ptr(name, known_profiles[i]))
                        return true;
        return false;
}

int confinement_apply_in_child(const SpawnOptions *o) {
        /* Nothing is applied yet: confinement_report() says so. */
        return 0;
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

static int report_requested(const SpawnOptions *o, json_t **ret) {
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
        if (r < 0)
                return r;
        if (o->capabilities) {
                json_t *caps;

                r = json_strv(o->capabilities, &caps);
                if (r < 0)
                        return r;
                r = json_set_new(req, "capabilities", caps);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(req);
        return 0;
}

int confinement_report(const SpawnOptions *o, char **ret) {
        _cleanup_json_ json_t *report = json_object();
        json_t *requested;
        int r;

        if (!report)
                return -ENOMEM;
        r = json_set_new(report, "applied", json_array());
        if (r < 0)
                return r;
        r = report_requested(o, &requested);
        if (r < 0)
                return r;
        r = json_set_new(report, "requested", requested);
        if (r < 0)
                return r;
        r = json_set_new(report, "note",
                         json_string("confinement arrives with issue 4: no layer is applied yet"));
        if (r < 0)
                return r;
        return json_dump_string(report, JSON_DUMP_COMPACT, ret);
}
