/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/typed-params.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/string-util.h"
#include "json/json-util.h"

Troupe__V1__BootstrapParams *bootstrap_params_message_free(Troupe__V1__BootstrapParams *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_options; i++) {
                if (!p->options[i])
                        continue;
                free(p->options[i]->key);
                free(p->options[i]->value);
                free(p->options[i]);
        }
        free(p->options);
        free(p->stack);
        free(p->project_name);
        return mfree(p);
}

static bool option_key_is_valid(const char *s, size_t n) {
        return n >= 1 && n <= BOOTSTRAP_STRING_MAX && strlen(s) == n &&
               strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* "params.options.KEY: <message>". */
static int option_fail(char **ret_error, const char *path, const char *key, const char *message) {
        _cleanup_free_ char *p = json_path_field(path, key);

        if (!p)
                return -ENOMEM;
        return json_dispatch_fail(ret_error, p, "%s", message);
}

static int dispatch_options(const char *path, json_t *v, const JsonDispatch *field, void *data,
                            char **ret_error) {
        Troupe__V1__BootstrapParams *p = data;
        const char *key;
        json_t *value;

        if (json_object_size(v) > BOOTSTRAP_OPTIONS_COUNT_MAX)
                return json_dispatch_fail(ret_error, path, "at most %u options",
                                          BOOTSTRAP_OPTIONS_COUNT_MAX);
        p->options = calloc(json_object_size(v) + 1, sizeof(Troupe__V1__BootstrapParams__Option *));
        if (!p->options)
                return -ENOMEM;

        /* jansson keeps an object's members in the order they were parsed. */
        json_object_foreach(v, key, value) {
                Troupe__V1__BootstrapParams__Option *o;

                if (!option_key_is_valid(key, strlen(key))) {
                        _cleanup_free_ char *q = NULL;
                        if (json_quote(key, 64, &q) < 0)
                                return -ENOMEM;
                        return json_dispatch_fail(ret_error, path,
                                                  "%s is not an option name: 1-64 of a-z 0-9 _", q);
                }
                if (!json_is_string(value)) {
                        _cleanup_free_ char *m = strjoin("expected a string, got ", json_kind_name(value));
                        return m ? option_fail(ret_error, path, key, m) : -ENOMEM;
                }
                if (json_string_length(value) > BOOTSTRAP_OPTION_VALUE_MAX ||
                    !utf8_is_valid_n(json_string_value(value), json_string_length(value)))
                        return option_fail(ret_error, path, key,
                                           "must be at most 1024 bytes of UTF-8 without NUL bytes");

                o = malloc(sizeof(*o));
                if (!o)
                        return -ENOMEM;
                *o = (Troupe__V1__BootstrapParams__Option) TROUPE__V1__BOOTSTRAP_PARAMS__OPTION__INIT;
                p->options[p->n_options++] = o;
                o->key = strdup(key);
                o->value = strdup(json_string_value(value));
                if (!o->key || !o->value)
                        return -ENOMEM;
        }
        return 0;
}

static int dispatch_flag(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        *(protobuf_c_boolean *) data = json_is_true(v);
        return 0;
}

static const JsonDispatch bootstrap_table[] = {
        {"stack", JSON_FIELD_STRING, json_dispatch_string, offsetof(Troupe__V1__BootstrapParams, stack),
         JSON_DISPATCH_MANDATORY | JSON_DISPATCH_NONEMPTY, .max_length = BOOTSTRAP_STRING_MAX},
        {"project_name", JSON_FIELD_STRING, json_dispatch_string,
         offsetof(Troupe__V1__BootstrapParams, project_name),
         JSON_DISPATCH_MANDATORY | JSON_DISPATCH_NONEMPTY, .max_length = BOOTSTRAP_STRING_MAX},
        {"options", JSON_FIELD_OBJECT, dispatch_options, 0, 0},
        {"force", JSON_FIELD_BOOLEAN, dispatch_flag, offsetof(Troupe__V1__BootstrapParams, force), 0},
        {"open", JSON_FIELD_BOOLEAN, dispatch_flag, offsetof(Troupe__V1__BootstrapParams, open), 0},
        /* CreateTask's prompt, for params_json only. */
        {"prompt", JSON_FIELD_STRING, NULL, 0, 0},
        {},
};

int bootstrap_params_from_json(json_t *params, Troupe__V1__BootstrapParams **ret, char **ret_error) {
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *p = NULL;
        int r;

        assert_return(ret, -EINVAL);

        if (!json_is_object(params))
                return json_dispatch_fail(ret_error, "params", "expected an object, got %s",
                                          json_kind_name(params));
        p = malloc(sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (Troupe__V1__BootstrapParams) TROUPE__V1__BOOTSTRAP_PARAMS__INIT;
        /* The INIT macro points strings at protobuf-c's shared empty string: never free that. */
        p->stack = p->project_name = NULL;

        r = json_dispatch(params, "params", bootstrap_table, 0, p, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int typed_params_check(AgentTypedParams kind, json_t *params, char **ret_error) {
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *p = NULL;

        switch (kind) {
        case AGENT_TYPED_PARAMS_NONE:
                return 0;
        case AGENT_TYPED_PARAMS_BOOTSTRAP:
                return bootstrap_params_from_json(params, &p, ret_error);
        case _AGENT_TYPED_PARAMS_MAX:
        case _AGENT_TYPED_PARAMS_INVALID:
                break;
        }
        return -EINVAL;
}

/* One word of a prompt without the quotes and sentence punctuation around it ("'billing'." ->
 * "billing"); NULL when nothing is left. A leading '.' stays: "../x" must reach the agent's check as
 * written, not as a different name. */
static char *prompt_word(const char *w, size_t n) {
        while (n > 0 && strchr("\"'([", w[0]))
                w++, n--;
        while (n > 0 && strchr("\"'.,;:!?)]", w[n - 1]))
                n--;
        return n > 0 ? strndup(w, n) : NULL;
}

static int prompt_words(const char *prompt, char ***ret) {
        _cleanup_strv_free_ char **words = NULL;

        for (const char *p = prompt; *p;) {
                size_t n;

                p += strspn(p, " \t\r\n");
                n = strcspn(p, " \t\r\n");
                if (n == 0)
                        break;
                _cleanup_free_ char *w = prompt_word(p, n);
                if (w && strv_extend(&words, w) < 0)
                        return -ENOMEM;
                p += n;
        }
        *ret = TAKE_PTR(words);
        return 0;
}

int bootstrap_params_fill_from_prompt(json_t *params, char *const *stacks) {
        _cleanup_strv_free_ char **words = NULL;
        const char *stack = NULL, *name = NULL;
        json_t *prompt;
        int r;

        assert_return(json_is_object(params), -EINVAL);

        prompt = json_object_get(params, "prompt");
        if (!json_is_string(prompt))
                return 0;
        r = prompt_words(json_string_value(prompt), &words);
        if (r < 0)
                return r;

        for (size_t i = 0; words && words[i]; i++) {
                if (!stack)
                        for (char *const *s = stacks; s && *s; s++)
                                if (strcasecmp(words[i], *s) == 0)
                                        stack = *s;
                if (!name && words[i + 1] &&
                    (strcasecmp(words[i], "called") == 0 || strcasecmp(words[i], "named") == 0))
                        name = words[i + 1];
        }

        if (stack && !json_object_get(params, "stack") &&
            json_object_set_new(params, "stack", json_string(stack)) < 0)
                return -ENOMEM;
        /* The name is taken as written: the agent refuses one that is not a valid project name,
         * saying what is allowed, rather than the registry guessing a different one. */
        if (name && !json_object_get(params, "project_name") &&
            json_object_set_new(params, "project_name", json_string(name)) < 0)
                return -ENOMEM;
        return 0;
}
