/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/agentcard.h"

#include <stdio.h>

#include "agent/capability.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "json/json-util.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* Cards are small and flat: root -> skills -> skill -> examples is four levels; the rest is
 * room for the A2A fields troupe accepts but does not read (securitySchemes and the like). */
#define AGENT_CARD_DEPTH_MAX 32U
#define AGENT_SKILLS_MAX 64U
#define AGENT_EXEC_PATH_MAX 255U
#define AGENT_IDLE_TIMEOUT_SEC_MAX (7U * 24U * 3600U)

static const char *const agent_restart_table[_AGENT_RESTART_MAX] = {
        [AGENT_RESTART_NO] = "no",
        [AGENT_RESTART_ON_FAILURE] = "on-failure",
};
DEFINE_STRING_TABLE_LOOKUP(agent_restart, AgentRestart);

static const char *const agent_typed_params_table[_AGENT_TYPED_PARAMS_MAX] = {
        [AGENT_TYPED_PARAMS_NONE] = "none",
        [AGENT_TYPED_PARAMS_BOOTSTRAP] = "bootstrap",
};
DEFINE_STRING_TABLE_LOOKUP(agent_typed_params, AgentTypedParams);

static const char *const agent_keep_workspace_table[_AGENT_KEEP_WORKSPACE_MAX] = {
        [AGENT_KEEP_WORKSPACE_ALWAYS] = "always",
        [AGENT_KEEP_WORKSPACE_COMPLETED] = "completed",
};
DEFINE_STRING_TABLE_LOOKUP(agent_keep_workspace, AgentKeepWorkspace);

static void agent_skill_done(AgentSkill *s) {
        free(s->id);
        free(s->name);
        free(s->description);
        strv_free(s->tags);
        strv_free(s->examples);
        strv_free(s->input_modes);
        strv_free(s->output_modes);
}

AgentCard *agent_card_free(AgentCard *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->description);
        free(c->version);
        free(c->url);
        strv_free(c->default_input_modes);
        strv_free(c->default_output_modes);
        for (size_t i = 0; i < c->n_skills; i++)
                agent_skill_done(&c->skills[i]);
        free(c->skills);
        free(c->exec.path);
        strv_free(c->exec.args);
        strv_free(c->permissions.capabilities);
        strv_free(c->permissions.requestable);
        free(c->task.workspace_from_param);
        return mfree(c);
}

static AgentCard *agent_card_new(void) {
        AgentCard *c = calloc(1, sizeof(AgentCard));

        if (!c)
                return NULL;
        c->exec.restart = AGENT_RESTART_NO;
        c->limits = (AgentLimits) {
                .memory_max = 512 * MIB,
                .tasks_max = 256,
                .cpu_weight = 100,
                .timeout_sec = 600,
        };
        return c;
}

static const char *skip_version_number(const char *p) {
        size_t n = strspn(p, "0123456789");

        if (n == 0 || n > 9 || (n > 1 && p[0] == '0'))
                return NULL;
        return p + n;
}

static const char *skip_version_label(const char *p) {
        size_t n = strspn(p, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-");

        return n > 0 ? p + n : NULL;
}

/* "1.2", "1.2.3", "1.2.3-rc.1+build.5": semver, with the patch level optional. */
static bool version_is_valid(const char *s) {
        const char *p;

        if (strlen(s) > 64)
                return false;
        p = skip_version_number(s);
        if (!p || *p != '.')
                return false;
        p = skip_version_number(p + 1);
        if (p && *p == '.')
                p = skip_version_number(p + 1);
        if (p && *p == '-')
                p = skip_version_label(p + 1);
        if (p && *p == '+')
                p = skip_version_label(p + 1);
        return p && *p == 0;
}

/* "<before><quoted value><after>": outside input appears in messages only quoted and cut short. */
static int fail_quoted(char **ret_error, const char *path, const char *before, const char *value,
                       const char *after) {
        _cleanup_free_ char *q = NULL;

        if (json_quote(value, 64, &q) < 0)
                return -ENOMEM;
        return json_dispatch_fail(ret_error, path, "%s%s%s", before, q, after);
}

static int dispatch_version(const char *path, json_t *v, const JsonDispatch *field, void *data,
                            char **ret_error) {
        char **s = data;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        if (strlen(json_string_value(v)) != json_string_length(v) || !version_is_valid(json_string_value(v)))
                return fail_quoted(
                        ret_error, path, "", json_string_value(v),
                        " is not a valid version: expected MAJOR.MINOR[.PATCH][-PRERELEASE][+BUILD]");
        return free_and_strdup(s, json_string_value(v));
}

static int dispatch_url(const char *path, json_t *v, const JsonDispatch *field, void *data,
                        char **ret_error) {
        const char *s, *rest;
        int r;

        r = json_dispatch_string(path, v, field, data, ret_error);
        if (r < 0)
                return r;
        s = *(char **) data;
        rest = startswith(s, "https://") ?: startswith(s, "http://");
        if (!rest || !*rest)
                return json_dispatch_fail(ret_error, path, "must be an http:// or https:// URL");
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
                        return json_dispatch_fail(
                                ret_error, path, "must not contain spaces, control or non-ASCII characters");
        return 0;
}

/* TYPE/SUBTYPE with RFC 6838's restricted-name characters, lowercase so that one media type has
 * one spelling, and without parameters. */
static bool media_type_is_valid(const char *s) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-";
        size_t n = strspn(s, chars);

        if (n == 0 || n > 127 || s[n] != '/' || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
                return false;
        s += n + 1;
        n = strspn(s, chars);
        return n > 0 && n <= 127 && s[n] == 0 && strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]);
}

static int dispatch_modes(const char *path, json_t *v, const JsonDispatch *field, void *data,
                          char **ret_error) {
        char **l;
        size_t i = 0;
        int r;

        r = json_dispatch_strv(path, v, field, data, ret_error);
        if (r < 0)
                return r;
        l = *(char ***) data;
        if (!l[0])
                return json_dispatch_fail(ret_error, path, "must list at least one media type");
        STRV_FOREACH (m, l) {
                _cleanup_free_ char *p = NULL;

                if (media_type_is_valid(*m)) {
                        i++;
                        continue;
                }
                p = json_path_index(path, i);
                if (!p)
                        return -ENOMEM;
                return fail_quoted(
                        ret_error, p, "", *m,
                        " is not a media type: expected lowercase TYPE/SUBTYPE such as \"text/plain\"");
        }
        return 0;
}

static int dispatch_capabilities(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                 char **ret_error) {
        char **l;
        int r;

        r = json_dispatch_strv(path, v, field, data, ret_error);
        if (r < 0)
                return r;
        l = *(char ***) data;
        for (size_t i = 0; l[i]; i++) {
                _cleanup_free_ char *p = json_path_index(path, i), *q = NULL;
                const char *reason = NULL;

                if (!p || json_quote(l[i], 64, &q) < 0)
                        return -ENOMEM;
                if (capability_check(l[i], &reason) < 0)
                        return json_dispatch_fail(ret_error, p, "invalid capability %s: %s", q, reason);
                for (size_t j = 0; j < i; j++)
                        if (streq(l[i], l[j]))
                                return json_dispatch_fail(ret_error, p, "duplicate capability %s", q);
        }
        return 0;
}

static const JsonDispatch permissions_table[] = {
        {"capabilities", JSON_FIELD_ARRAY, dispatch_capabilities, offsetof(AgentPermissions, capabilities),
         0, .max_count = 64, .max_length = CAPABILITY_LENGTH_MAX},
        {"requestable", JSON_FIELD_ARRAY, dispatch_capabilities, offsetof(AgentPermissions, requestable), 0,
         .max_count = 64, .max_length = CAPABILITY_LENGTH_MAX},
        {},
};

static int dispatch_permissions(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                char **ret_error) {
        AgentPermissions *perm = data;
        int r;

        r = json_dispatch(v, path, permissions_table, 0, perm, ret_error);
        if (r < 0)
                return r;
        /* Asking consent for what is already granted would be a question with one answer. */
        for (size_t i = 0; perm->requestable && perm->requestable[i]; i++) {
                _cleanup_free_ char *req = NULL, *p = NULL, *caps = NULL, *q = NULL;

                if (!strv_contains(perm->capabilities, perm->requestable[i]))
                        continue;
                req = json_path_field(path, "requestable");
                p = req ? json_path_index(req, i) : NULL;
                caps = json_path_field(path, "capabilities");
                if (!p || !caps || json_quote(perm->requestable[i], 64, &q) < 0)
                        return -ENOMEM;
                return json_dispatch_fail(ret_error, p, "%s is already granted in %s", q, caps);
        }
        return 0;
}

static int dispatch_exec_path(const char *path, json_t *v, const JsonDispatch *field, void *data,
                              char **ret_error) {
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        /* Agents are executed only from troupe's agents directory, looked up by file name: a card
         * dropped into a config directory must not be able to name any binary on the system. */
        if (strchr(json_string_value(v), '/'))
                return json_dispatch_fail(ret_error, path,
                                          "must be a file name in $libexecdir/troupe/agents, not a path");
        return json_dispatch_name(path, v, field, data, ret_error);
}

static int dispatch_restart(const char *path, json_t *v, const JsonDispatch *field, void *data,
                            char **ret_error) {
        AgentRestart *restart = data, x;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        x = agent_restart_from_string(json_string_value(v));
        if (x < 0)
                return fail_quoted(ret_error, path, "", json_string_value(v),
                                   " is not a restart policy: expected \"no\" or \"on-failure\"");
        *restart = x;
        return 0;
}

static const JsonDispatch exec_table[] = {
        {"path", JSON_FIELD_STRING, dispatch_exec_path, offsetof(AgentExec, path), 0,
         .max_length = AGENT_EXEC_PATH_MAX},
        {"args", JSON_FIELD_ARRAY, json_dispatch_strv, offsetof(AgentExec, args), 0, .max_count = 64,
         .max_length = 4096},
        {"restart", JSON_FIELD_STRING, dispatch_restart, offsetof(AgentExec, restart), 0},
        {"retry", JSON_FIELD_BOOLEAN, json_dispatch_bool, offsetof(AgentExec, retry), 0},
        {"idle_timeout_sec", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(AgentExec, idle_timeout_sec),
         0, .min_uint = 0, .max_uint = AGENT_IDLE_TIMEOUT_SEC_MAX},
        {},
};

static int dispatch_typed_params(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                 char **ret_error) {
        AgentTypedParams *typed = data, x;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        /* "none" is the default's name in agent_card_to_json(), not something to write. */
        x = agent_typed_params_from_string(json_string_value(v));
        if (x <= AGENT_TYPED_PARAMS_NONE)
                return fail_quoted(ret_error, path, "", json_string_value(v),
                                   " is not a typed parameter message: the only one is \"bootstrap\" "
                                   "(leave the field out for params_json only)");
        *typed = x;
        return 0;
}

static int dispatch_keep_workspace(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                   char **ret_error) {
        AgentKeepWorkspace *keep = data, x;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        x = agent_keep_workspace_from_string(json_string_value(v));
        if (x < 0)
                return fail_quoted(ret_error, path, "", json_string_value(v),
                                   " is not a workspace policy: expected \"always\" or \"completed\"");
        *keep = x;
        return 0;
}

/* A member name of the params object: lowercase letters, digits and '_', starting with a letter. */
static bool param_name_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= 64 && strchr("abcdefghijklmnopqrstuvwxyz", s[0]) &&
               strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int dispatch_param_name(const char *path, json_t *v, const JsonDispatch *field, void *data,
                               char **ret_error) {
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        if (strlen(json_string_value(v)) != json_string_length(v) ||
            !param_name_is_valid(json_string_value(v)))
                return fail_quoted(
                        ret_error, path, "", json_string_value(v),
                        " is not a params member name: 1-64 of a-z 0-9 _, starting with a letter");
        return free_and_strdup(data, json_string_value(v));
}

static const JsonDispatch task_table[] = {
        {"typed_params", JSON_FIELD_STRING, dispatch_typed_params, offsetof(AgentTaskSettings, typed_params),
         0},
        {"workspace_from_param", JSON_FIELD_STRING, dispatch_param_name,
         offsetof(AgentTaskSettings, workspace_from_param), 0},
        {"keep_workspace", JSON_FIELD_STRING, dispatch_keep_workspace,
         offsetof(AgentTaskSettings, keep_workspace), 0},
        {},
};

static int dispatch_task(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        AgentTaskSettings *task = data;
        int r;

        r = json_dispatch(v, path, task_table, 0, task, ret_error);
        if (r < 0)
                return r;
        /* The workspace is named by a string the typed message carries, so both see the same name. */
        if (task->typed_params == AGENT_TYPED_PARAMS_BOOTSTRAP && task->workspace_from_param &&
            !streq(task->workspace_from_param, "project_name") &&
            !streq(task->workspace_from_param, "stack")) {
                _cleanup_free_ char *p = json_path_field(path, "workspace_from_param");
                if (!p)
                        return -ENOMEM;
                return fail_quoted(ret_error, p, "", task->workspace_from_param,
                                   " is not a string member of the bootstrap parameters: expected "
                                   "\"project_name\" or \"stack\"");
        }
        return 0;
}

static const JsonDispatch limits_table[] = {
        {"memory_max", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(AgentLimits, memory_max),
         JSON_DISPATCH_SIZE, .min_uint = MIB, .max_uint = 64 * GIB},
        {"tasks_max", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(AgentLimits, tasks_max), 0,
         .min_uint = 1, .max_uint = 32768},
        {"cpu_weight", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(AgentLimits, cpu_weight), 0,
         .min_uint = 1, .max_uint = 10000},
        {"timeout_sec", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(AgentLimits, timeout_sec), 0,
         .min_uint = 1, .max_uint = 86400},
        {},
};

/* A2A's "capabilities" object; "extensions" is A2A's and accepted without being read. */
static const JsonDispatch features_table[] = {
        {"streaming", JSON_FIELD_BOOLEAN, json_dispatch_bool, offsetof(AgentFeatures, streaming), 0},
        {"pushNotifications", JSON_FIELD_BOOLEAN, json_dispatch_bool,
         offsetof(AgentFeatures, push_notifications), 0},
        {"stateTransitionHistory", JSON_FIELD_BOOLEAN, json_dispatch_bool,
         offsetof(AgentFeatures, state_transition_history), 0},
        {"extensions", JSON_FIELD_ARRAY, NULL, 0, 0},
        {},
};

static const JsonDispatch skill_table[] = {
        {"id", JSON_FIELD_STRING, json_dispatch_name, offsetof(AgentSkill, id), JSON_DISPATCH_MANDATORY,
         .max_length = AGENT_NAME_MAX},
        {"name", JSON_FIELD_STRING, json_dispatch_string, offsetof(AgentSkill, name),
         JSON_DISPATCH_MANDATORY | JSON_DISPATCH_NONEMPTY, .max_length = 128},
        {"description", JSON_FIELD_STRING, json_dispatch_string, offsetof(AgentSkill, description),
         JSON_DISPATCH_MANDATORY | JSON_DISPATCH_NONEMPTY, .max_length = 4096},
        {"tags", JSON_FIELD_ARRAY, json_dispatch_strv, offsetof(AgentSkill, tags), JSON_DISPATCH_NONEMPTY,
         .max_count = 32, .max_length = 64},
        {"examples", JSON_FIELD_ARRAY, json_dispatch_strv, offsetof(AgentSkill, examples),
         JSON_DISPATCH_NONEMPTY, .max_count = 32, .max_length = 1024},
        {"inputModes", JSON_FIELD_ARRAY, dispatch_modes, offsetof(AgentSkill, input_modes), 0,
         .max_count = 16, .max_length = 255},
        {"outputModes", JSON_FIELD_ARRAY, dispatch_modes, offsetof(AgentSkill, output_modes), 0,
         .max_count = 16, .max_length = 255},
        {"security", JSON_FIELD_ARRAY, NULL, 0, 0},
        {},
};

static int dispatch_skill(const char *path, json_t *v, size_t index, const JsonDispatch *field, void *data,
                          char **ret_error) {
        AgentCard *c = data;
        AgentSkill *skills, *s;
        int r;

        skills = reallocarray(c->skills, c->n_skills + 1, sizeof(AgentSkill));
        if (!skills)
                return -ENOMEM;
        c->skills = skills;
        s = &c->skills[c->n_skills++];
        *s = (AgentSkill) {};

        r = json_dispatch(v, path, skill_table, 0, s, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i + 1 < c->n_skills; i++)
                if (streq(c->skills[i].id, s->id)) {
                        _cleanup_free_ char *p = json_path_field(path, "id");
                        if (!p)
                                return -ENOMEM;
                        return fail_quoted(ret_error, p, "duplicate skill id ", s->id, "");
                }
        return 0;
}

static const JsonDispatch card_table[] = {
        {"name", JSON_FIELD_STRING, json_dispatch_name, offsetof(AgentCard, name), JSON_DISPATCH_MANDATORY,
         .max_length = AGENT_NAME_MAX},
        {"description", JSON_FIELD_STRING, json_dispatch_string, offsetof(AgentCard, description),
         JSON_DISPATCH_MANDATORY | JSON_DISPATCH_NONEMPTY, .max_length = 4096},
        {"version", JSON_FIELD_STRING, dispatch_version, offsetof(AgentCard, version),
         JSON_DISPATCH_MANDATORY},
        {"url", JSON_FIELD_STRING, dispatch_url, offsetof(AgentCard, url), 0, .max_length = 2048},
        {"capabilities", JSON_FIELD_OBJECT, json_dispatch_object, offsetof(AgentCard, features), 0,
         .table = features_table},
        {"defaultInputModes", JSON_FIELD_ARRAY, dispatch_modes, offsetof(AgentCard, default_input_modes), 0,
         .max_count = 16, .max_length = 255},
        {"defaultOutputModes", JSON_FIELD_ARRAY, dispatch_modes, offsetof(AgentCard, default_output_modes),
         0, .max_count = 16, .max_length = 255},
        /* The element callback appends to the card itself, hence offset 0. */
        {"skills", JSON_FIELD_ARRAY, json_dispatch_array, 0, JSON_DISPATCH_MANDATORY,
         .element = dispatch_skill, .max_count = AGENT_SKILLS_MAX},
        {"exec", JSON_FIELD_OBJECT, json_dispatch_object, offsetof(AgentCard, exec), 0, .table = exec_table},
        {"permissions", JSON_FIELD_OBJECT, dispatch_permissions, offsetof(AgentCard, permissions), 0},
        {"limits", JSON_FIELD_OBJECT, json_dispatch_object, offsetof(AgentCard, limits), 0,
         .table = limits_table},
        {"task", JSON_FIELD_OBJECT, dispatch_task, offsetof(AgentCard, task), 0},
        /* A2A fields troupe does not use: accepted (type-checked) so A2A cards parse, then dropped. */
        {"protocolVersion", JSON_FIELD_STRING, NULL, 0, 0},
        {"preferredTransport", JSON_FIELD_STRING, NULL, 0, 0},
        {"additionalInterfaces", JSON_FIELD_ARRAY, NULL, 0, 0},
        {"iconUrl", JSON_FIELD_STRING, NULL, 0, 0},
        {"provider", JSON_FIELD_OBJECT, NULL, 0, 0},
        {"documentationUrl", JSON_FIELD_STRING, NULL, 0, 0},
        {"securitySchemes", JSON_FIELD_OBJECT, NULL, 0, 0},
        {"security", JSON_FIELD_ARRAY, NULL, 0, 0},
        {"supportsAuthenticatedExtendedCard", JSON_FIELD_BOOLEAN, NULL, 0, 0},
        {"signatures", JSON_FIELD_ARRAY, NULL, 0, 0},
        {},
};

static int strv_set_default(char ***l, const char *value) {
        if (*l)
                return 0;
        return strv_extend(l, value);
}

static int agent_card_fill_defaults(AgentCard *c, char **ret_error) {
        int r;

        if (c->n_skills == 0)
                return json_dispatch_fail(ret_error, "skills", "must list at least one skill");
        r = strv_set_default(&c->default_input_modes, "text/plain");
        if (r < 0)
                return r;
        r = strv_set_default(&c->default_output_modes, "text/plain");
        if (r < 0)
                return r;
        if (!c->exec.path) {
                c->exec.path = strjoin("troupe-agent-", c->name);
                if (!c->exec.path)
                        return -ENOMEM;
        }
        return 0;
}

static int agent_card_too_big(char **ret_error) {
        if (ret_error) {
                char *m = NULL;
                if (asprintf_safe(&m, "card is larger than %u bytes", AGENT_CARD_SIZE_MAX) < 0)
                        return -ENOMEM;
                free(*ret_error);
                *ret_error = m;
        }
        return -EFBIG;
}

int agent_card_parse(const char *data, size_t size, AgentCard **ret, char **ret_error) {
        _cleanup_(agent_card_freep) AgentCard *c = NULL;
        _cleanup_json_ json_t *v = NULL;
        int r;

        assert_return(data || size == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        if (size > AGENT_CARD_SIZE_MAX)
                return agent_card_too_big(ret_error);
        r = json_parse(data, size, AGENT_CARD_SIZE_MAX, AGENT_CARD_DEPTH_MAX, JSON_PARSE_ANY_VALUE, &v,
                       ret_error);
        if (r < 0)
                return r;

        c = agent_card_new();
        if (!c)
                return -ENOMEM;
        r = json_dispatch(v, "", card_table, 0, c, ret_error);
        if (r < 0)
                return r;
        r = agent_card_fill_defaults(c, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int agent_card_load(int dir_fd, const char *path, AgentCard **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        assert_return(path, -EINVAL);
        assert_return(ret, -EINVAL);

        r = read_full_file_at(dir_fd, path, AGENT_CARD_SIZE_MAX, &data, &size);
        if (r == -EFBIG)
                return agent_card_too_big(ret_error);
        if (r < 0)
                return r;
        return agent_card_parse(data, size, ret, ret_error);
}

const AgentSkill *agent_card_find_skill(const AgentCard *c, const char *id) {
        if (!c || !id)
                return NULL;
        for (size_t i = 0; i < c->n_skills; i++)
                if (streq(c->skills[i].id, id))
                        return &c->skills[i];
        return NULL;
}

static json_t *strv_to_json(char *const *l) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        STRV_FOREACH (s, l)
                if (json_array_append_new(a, json_string(*s)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* Adds l under key; an absent list stays absent when `optional`, else becomes []. */
static int json_set_strv(json_t *o, const char *key, char *const *l, bool optional) {
        json_t *a;

        if (!l && optional)
                return 0;
        a = strv_to_json(l);
        if (!a)
                return -ENOMEM;
        return json_object_set_new(o, key, a) < 0 ? -ENOMEM : 0;
}

static json_t *agent_skill_to_json(const AgentSkill *s) {
        _cleanup_json_ json_t *o = NULL;

        o = json_pack("{s:s, s:s, s:s}", "id", s->id, "name", s->name, "description", s->description);
        if (!o || json_set_strv(o, "tags", s->tags, false) < 0 ||
            json_set_strv(o, "examples", s->examples, false) < 0 ||
            json_set_strv(o, "inputModes", s->input_modes, true) < 0 ||
            json_set_strv(o, "outputModes", s->output_modes, true) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *agent_card_troupe_to_json(const AgentCard *c) {
        _cleanup_json_ json_t *o = NULL;
        json_t *exec, *permissions, *task;

        o = json_pack("{s:{s:s, s:s, s:b, s:I}, s:{}, s:{s:I, s:I, s:I, s:I}}", "exec", "path", c->exec.path,
                      "restart", agent_restart_to_string(c->exec.restart), "retry", c->exec.retry,
                      "idle_timeout_sec", (json_int_t) c->exec.idle_timeout_sec, "permissions", "limits",
                      "memory_max", (json_int_t) c->limits.memory_max, "tasks_max",
                      (json_int_t) c->limits.tasks_max, "cpu_weight", (json_int_t) c->limits.cpu_weight,
                      "timeout_sec", (json_int_t) c->limits.timeout_sec);
        if (!o)
                return NULL;
        exec = json_object_get(o, "exec");
        permissions = json_object_get(o, "permissions");
        if (json_set_strv(exec, "args", c->exec.args, false) < 0 ||
            json_set_strv(permissions, "capabilities", c->permissions.capabilities, false) < 0 ||
            json_set_strv(permissions, "requestable", c->permissions.requestable, false) < 0)
                return NULL;
        task = json_pack("{s:s, s:s*}", "keep_workspace",
                         agent_keep_workspace_to_string(c->task.keep_workspace), "workspace_from_param",
                         c->task.workspace_from_param);
        if (!task || json_object_set_new(o, "task", task) < 0)
                return NULL;
        /* Absent when none: "none" is not a value a card may write. */
        if (c->task.typed_params != AGENT_TYPED_PARAMS_NONE &&
            json_object_set_new(task, "typed_params",
                                json_string(agent_typed_params_to_string(c->task.typed_params))) < 0)
                return NULL;
        return TAKE_PTR(o);
}

int agent_card_to_json(const AgentCard *c, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *skills = NULL, *troupe = NULL;

        assert_return(c, -EINVAL);
        assert_return(ret, -EINVAL);

        o = json_pack("{s:s, s:s, s:s, s:s*, s:{s:b, s:b, s:b}}", "name", c->name, "description",
                      c->description, "version", c->version, "url", c->url, "capabilities", "streaming",
                      c->features.streaming, "pushNotifications", c->features.push_notifications,
                      "stateTransitionHistory", c->features.state_transition_history);
        if (!o || json_set_strv(o, "defaultInputModes", c->default_input_modes, false) < 0 ||
            json_set_strv(o, "defaultOutputModes", c->default_output_modes, false) < 0)
                return -ENOMEM;

        skills = json_array();
        if (!skills)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_skills; i++)
                if (json_array_append_new(skills, agent_skill_to_json(&c->skills[i])) < 0)
                        return -ENOMEM;
        if (json_object_set_new(o, "skills", TAKE_PTR(skills)) < 0)
                return -ENOMEM;

        troupe = agent_card_troupe_to_json(c);
        if (!troupe || json_object_update(o, troupe) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}
