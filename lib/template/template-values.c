/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "basic/string-util.h"
#include "json/json-util.h"
#include "template/template-internal.h"

const TemplateOption *template_find_option(const Template *t, const char *name) {
        if (!t || !name)
                return NULL;
        for (size_t i = 0; i < t->n_options; i++)
                if (streq(t->options[i].name, name))
                        return &t->options[i];
        return NULL;
}

/* "a, b, c" */
static char *strv_join_comma(char *const *l) {
        size_t n = 1;
        char *s, *p;

        STRV_FOREACH(i, l)
                n += strlen(*i) + 2;
        s = p = malloc(n);
        if (!s)
                return NULL;
        *p = 0;
        STRV_FOREACH(i, l) {
                if (i != l)
                        p = stpcpy(p, ", ");
                p = stpcpy(p, *i);
        }
        return s;
}

/* A single line: no C0/C1 control character, no U+2028/U+2029. */
static bool string_is_single_line(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p < 0x20 || *p == 0x7F)
                        return false;
                if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
                        return false;
                if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
                        return false;
        }
        return true;
}

static bool string_is_ascii(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s >= 0x80)
                        return false;
        return true;
}

int template_option_check(const TemplateOption *o, const char *value, char **ret_error) {
        _cleanup_free_ char *q = NULL, *choices = NULL;
        size_t n;
        int r;

        assert_return(o, -EINVAL);
        assert_return(value, -EINVAL);

        n = strlen(value);
        r = json_quote(value, 80, &q);
        if (r < 0)
                return r;
        if (n > TEMPLATE_VALUE_MAX || !utf8_is_valid_n(value, n))
                return template_fail(ret_error, -EINVAL, "%s: the value is not valid UTF-8 of at most %u bytes: %s",
                                     o->name, TEMPLATE_VALUE_MAX, o->help);

        switch (o->type) {
        case TEMPLATE_OPTION_CHOICE:
        case TEMPLATE_OPTION_BOOL:
                if (strv_contains(o->choices, value))
                        return 0;
                choices = strv_join_comma(o->choices);
                if (!choices)
                        return -ENOMEM;
                return template_fail(ret_error, -EINVAL, "%s %s is not allowed: %s (one of: %s)", o->name, q, o->help,
                                     choices);
        case TEMPLATE_OPTION_SLUG:
        case TEMPLATE_OPTION_STRING:
                if (o->type == TEMPLATE_OPTION_SLUG && !string_is_ascii(value))
                        return template_fail(ret_error, -EINVAL, "%s %s is not allowed (not ASCII): %s", o->name, q,
                                             o->help);
                if (o->type == TEMPLATE_OPTION_STRING && !string_is_single_line(value))
                        return template_fail(ret_error, -EINVAL,
                                             "%s must be a single line without control characters: %s", o->name,
                                             o->help);
                if (template_utf8_length(value) > o->max_length)
                        return template_fail(ret_error, -EINVAL, "%s is %zu characters long, at most %zu are allowed: %s",
                                             o->name, template_utf8_length(value), o->max_length, o->help);
                if (o->has_regex && regexec(&o->regex, value, 0, NULL, 0) != 0)
                        return template_fail(ret_error, -EINVAL, "%s %s is not allowed: %s", o->name, q, o->help);
                if (strv_contains(o->reserved, value))
                        return template_fail(ret_error, -EINVAL,
                                             "%s %s is reserved (a Python keyword, a standard library module or a "
                                             "dependency of the stack): choose another name",
                                             o->name, q);
                return 0;
        case _TEMPLATE_OPTION_TYPE_MAX:
        case _TEMPLATE_OPTION_TYPE_INVALID:
                break;
        }
        return -EINVAL;
}

/* Appends "; message" (or message) to *acc, taking `message`. */
static int append_error(char **acc, char *message) {
        char *s;

        if (!message)
                return -ENOMEM;
        s = *acc ? strjoin(*acc, "; ", message) : strdup(message);
        free(message);
        if (!s)
                return -ENOMEM;
        free(*acc);
        *acc = s;
        return 0;
}

static int appendf(char **acc, const char *format, ...) _printf_(2, 3);
static int appendf(char **acc, const char *format, ...) {
        char *m = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&m, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return append_error(acc, m);
}

/* Records each given KEY=VALUE in given[] by option index; reports unknown and repeated keys. */
static int collect_given(const Template *t, char *const *assignments, const char *project_name,
                         const char **given, char **errors) {
        _cleanup_free_ char *known = NULL;
        int r;

        STRV_FOREACH(a, assignments) {
                _cleanup_free_ char *key = NULL, *q = NULL;
                const TemplateOption *o;
                const char *eq = strchr(*a, '=');

                key = eq ? strndup(*a, eq - *a) : strdup(*a);
                if (!key)
                        return -ENOMEM;
                r = json_quote(key, 64, &q);
                if (r < 0)
                        return r;
                if (!eq) {
                        r = appendf(errors, "%s: expected KEY=VALUE", q);
                        if (r < 0)
                                return r;
                        continue;
                }
                o = template_find_option(t, key);
                if (!o) {
                        if (!known) {
                                _cleanup_strv_free_ char **names = NULL;
                                for (size_t i = 0; i < t->n_options; i++)
                                        if (strv_extend(&names, t->options[i].name) < 0)
                                                return -ENOMEM;
                                known = strv_join_comma(names);
                                if (!known)
                                        return -ENOMEM;
                        }
                        r = appendf(errors, "unknown option %s: the options of %s are %s", q, t->name, known);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (given[o - t->options]) {
                        r = appendf(errors, "option %s is given twice", o->name);
                        if (r < 0)
                                return r;
                        continue;
                }
                given[o - t->options] = eq + 1;
        }
        if (project_name) {
                const TemplateOption *o = template_find_option(t, "project_name");
                size_t i = o - t->options;

                if (given[i] && !streq(given[i], project_name)) {
                        r = appendf(errors, "project_name is given twice with different values");
                        if (r < 0)
                                return r;
                }
                given[i] = project_name;
        }
        return 0;
}

int template_values_build(const Template *t, char *const *assignments, const char *project_name, char ***ret,
                          char **ret_error) {
        _cleanup_free_ const char **given = NULL;
        _cleanup_free_ char *errors = NULL;
        _cleanup_strv_free_ char **values = NULL;
        int r;

        assert_return(t, -EINVAL);
        assert_return(ret, -EINVAL);

        if (strv_length(assignments) > TEMPLATE_OPTIONS_MAX)
                return template_fail(ret_error, -EINVAL, "too many options: at most %u", TEMPLATE_OPTIONS_MAX);
        given = calloc(t->n_options, sizeof(char *));
        values = calloc(t->n_options + 1, sizeof(char *));
        if (!given || !values)
                return -ENOMEM;
        r = collect_given(t, assignments, project_name, given, &errors);
        if (r < 0)
                return r;

        for (size_t i = 0; i < t->n_options; i++) {
                const TemplateOption *o = &t->options[i];
                const char *v = given[i] ?: o->default_value;
                _cleanup_free_ char *why = NULL;

                if (o->required && !given[i]) {
                        r = appendf(&errors, "%s is required: %s", o->name, o->help);
                        if (r < 0)
                                return r;
                } else {
                        r = template_option_check(o, v, &why);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                r = append_error(&errors, TAKE_PTR(why));
                                if (r < 0)
                                        return r;
                        }
                }
                values[i] = strjoin(o->name, "=", v);
                if (!values[i])
                        return -ENOMEM;
        }

        for (size_t i = 0; i < t->n_constraints; i++) {
                const TemplateConstraint *c = &t->constraints[i];
                bool clash = false;

                STRV_FOREACH(a, c->distinct)
                        for (char *const *b = a + 1; *b; b++)
                                if (streq_ptr(template_values_get(values, *a), template_values_get(values, *b)))
                                        clash = true;
                if (clash) {
                        r = appendf(&errors, "%s", c->message);
                        if (r < 0)
                                return r;
                }
        }

        if (errors)
                return template_fail(ret_error, -EINVAL, "%s", errors);
        *ret = TAKE_PTR(values);
        return 0;
}

const char *template_values_get(char *const *values, const char *key) {
        size_t n;

        if (!key)
                return NULL;
        n = strlen(key);
        STRV_FOREACH(v, values)
                if (strncmp(*v, key, n) == 0 && (*v)[n] == '=')
                        return *v + n + 1;
        return NULL;
}

int template_expand(const char *text, char *const *values, const char *python, const char *port, char **ret,
                    char **ret_error) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f;

        assert_return(text, -EINVAL);
        assert_return(ret, -EINVAL);

        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = text; *p;) {
                const char *close = NULL, *v = NULL;
                _cleanup_free_ char *name = NULL;

                /* Only {identifier} is a placeholder, as in template-check.py; other braces stay. */
                if (*p == '{')
                        close = strchr(p + 1, '}');
                if (!close || !template_identifier_is_valid(p + 1, close - p - 1)) {
                        fputc(*p++, f);
                        continue;
                }
                name = strndup(p + 1, close - p - 1);
                if (!name) {
                        fclose(f);
                        return -ENOMEM;
                }
                if (streq(name, "python"))
                        v = python ?: template_get_python();
                else if (streq(name, "port"))
                        v = port;
                else
                        v = template_values_get(values, name);
                if (!v) {
                        fclose(f);
                        return template_fail(ret_error, -EINVAL, "unknown placeholder {%s} in \"%s\"", name, text);
                }
                fputs(v, f);
                p = close + 1;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

int template_expand_strv(char *const *l, char *const *values, const char *python, const char *port,
                         char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **out = NULL;
        size_t n = strv_length(l), i = 0;
        int r;

        assert_return(ret, -EINVAL);

        out = calloc(n + 1, sizeof(char *));
        if (!out)
                return -ENOMEM;
        STRV_FOREACH(s, l) {
                r = template_expand(*s, values, python, port, &out[i++], ret_error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int template_files(const Template *t, char *const *values, char ***ret_present, char ***ret_absent) {
        _cleanup_strv_free_ char **present = NULL, **absent = NULL;
        int r;

        assert_return(t, -EINVAL);

        for (size_t i = 0; i < t->n_files; i++) {
                _cleanup_free_ char *p = NULL;
                bool wanted = true;

                STRV_FOREACH(w, t->files[i].when) {
                        const char *eq = strchr(*w, '=');
                        _cleanup_free_ char *key = strndup(*w, eq - *w);

                        if (!key)
                                return -ENOMEM;
                        if (!streq_ptr(template_values_get(values, key), eq + 1))
                                wanted = false;
                }
                r = template_expand(t->files[i].path, values, NULL, NULL, &p, NULL);
                if (r < 0)
                        return r;
                r = strv_extend(wanted ? &present : &absent, p);
                if (r < 0)
                        return r;
        }
        if (ret_present) {
                if (!present && !(present = calloc(1, sizeof(char *))))
                        return -ENOMEM;
                *ret_present = TAKE_PTR(present);
        }
        if (ret_absent) {
                if (!absent && !(absent = calloc(1, sizeof(char *))))
                        return -ENOMEM;
                *ret_absent = TAKE_PTR(absent);
        }
        return 0;
}

static json_t *strv_to_json(char *const *l) {
        json_t *a = json_array();

        if (!a)
                return NULL;
        STRV_FOREACH(s, l)
                if (json_array_append_new(a, json_string(*s)) < 0)
                        return json_decref(a), NULL;
        return a;
}

int template_to_json(const Template *t, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *options = NULL;

        assert_return(t, -EINVAL);
        assert_return(ret, -EINVAL);

        options = json_array();
        if (!options)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_options; i++) {
                const TemplateOption *op = &t->options[i];
                json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", op->name, "type",
                                      template_option_type_to_string(op->type), "default", op->default_value,
                                      "required", op->required, "help", op->help);

                if (!j || json_array_append_new(options, j) < 0)
                        return -ENOMEM;
                if (op->choices && json_object_set_new(j, "choices", strv_to_json(op->choices)) < 0)
                        return -ENOMEM;
                if (op->max_length > 0 && json_object_set_new(j, "max_length", json_integer(op->max_length)) < 0)
                        return -ENOMEM;
                if (op->pattern && json_object_set_new(j, "pattern", json_string(op->pattern)) < 0)
                        return -ENOMEM;
        }
        o = json_pack("{s:s, s:s, s:O, s:{s:o, s:o}}", "name", t->name, "description", t->description, "options",
                      options, "requires", "debian", strv_to_json(t->requires_debian), "python_modules",
                      strv_to_json(t->requires_modules));
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
