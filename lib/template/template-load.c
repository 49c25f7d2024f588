/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "template/template-internal.h"

static const char *const template_option_type_table[_TEMPLATE_OPTION_TYPE_MAX] = {
        [TEMPLATE_OPTION_SLUG] = "slug",
        [TEMPLATE_OPTION_STRING] = "string",
        [TEMPLATE_OPTION_CHOICE] = "choice",
        [TEMPLATE_OPTION_BOOL] = "bool",
};
DEFINE_STRING_TABLE_LOOKUP(template_option_type, TemplateOptionType);

int template_fail(char **ret_error, int r, const char *format, ...) {
        if (ret_error) {
                char *m = NULL;
                va_list ap;
                int k;

                va_start(ap, format);
                k = vasprintf(&m, format, ap);
                va_end(ap);
                if (k < 0)
                        return -ENOMEM;
                free(*ret_error);
                *ret_error = m;
        }
        return r;
}

size_t template_utf8_length(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

bool template_identifier_is_valid(const char *s, size_t n) {
        if (n == 0 || n > TEMPLATE_NAME_MAX)
                return false;
        if (!(s[0] >= 'a' && s[0] <= 'z') && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
                        return false;
        return true;
}

/* A stack's name: [a-z][a-z0-9_-]*, at most TEMPLATE_NAME_MAX bytes. */
static bool stack_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > TEMPLATE_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' &&
                    s[i] != '-')
                        return false;
        return true;
}

static void template_option_done(TemplateOption *o) {
        free(o->name);
        free(o->default_value);
        free(o->help);
        strv_free(o->choices);
        free(o->pattern);
        strv_free(o->reserved);
        if (o->has_regex)
                regfree(&o->regex);
}

Template *template_free(Template *t) {
        if (!t)
                return NULL;
        free(t->dir);
        free(t->name);
        free(t->description);
        free(t->project_dir);
        strv_free(t->requires_debian);
        strv_free(t->requires_modules);
        for (size_t i = 0; i < t->n_options; i++)
                template_option_done(&t->options[i]);
        free(t->options);
        for (size_t i = 0; i < t->n_constraints; i++) {
                strv_free(t->constraints[i].distinct);
                free(t->constraints[i].message);
        }
        free(t->constraints);
        for (size_t i = 0; i < t->n_files; i++) {
                free(t->files[i].path);
                strv_free(t->files[i].when);
        }
        free(t->files);
        strv_free(t->checks.env);
        strv_free(t->checks.test);
        strv_free(t->checks.serve);
        strv_free(t->checks.cleanup);
        free(t->checks.health_path);
        json_decref(t->checks.health_json);
        free(t->run);
        return mfree(t);
}

Template **template_list_free(Template **l) {
        if (!l)
                return NULL;
        for (Template **t = l; *t; t++)
                template_free(*t);
        return mfree(l);
}

int template_get_dir(char **ret) {
        const char *e = getenv("TROUPE_TEMPLATES_DIR");
        char *p;

        assert_return(ret, -EINVAL);

        if (!isempty(e)) {
                if (e[0] != '/')
                        return -EINVAL;
                p = strdup(e);
        } else
                p = strdup(TROUPE_DATADIR "/templates");
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

const char *template_get_python(void) {
        const char *e = getenv("TROUPE_PYTHON");

        return !isempty(e) && e[0] == '/' ? e : TEMPLATE_PYTHON_DEFAULT;
}

static int strv_sort_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int resolve_dir(const char *dir, char **ret_owned, const char **ret) {
        int r;

        if (dir) {
                *ret = dir;
                return 0;
        }
        r = template_get_dir(ret_owned);
        if (r < 0)
                return r;
        *ret = *ret_owned;
        return 0;
}

int template_list_names(const char *dir, char ***ret) {
        _cleanup_free_ char *owned = NULL;
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        int r;

        assert_return(ret, -EINVAL);

        r = resolve_dir(dir, &owned, &dir);
        if (r < 0)
                return r;
        d = opendir(dir);
        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *m = NULL;
                struct stat st;

                if (!stack_name_is_valid(de->d_name))
                        continue;
                m = strjoin(de->d_name, "/" TEMPLATE_MANIFEST);
                if (!m) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (fstatat(dirfd(d), m, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (strv_length(l) >= TEMPLATE_STACKS_MAX)
                        break;
                r = strv_extend(&l, de->d_name);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
        }
        closedir(d);
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        qsort(l, strv_length(l), sizeof(char *), strv_sort_cmp);
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- reading the manifest ---- */

static int need(json_t *obj, const char *key, JsonFieldType type, bool mandatory, const char *path,
                json_t **ret, char **ret_error) {
        _cleanup_free_ char *p = NULL;
        json_t *v = json_object_get(obj, key);
        int r;

        p = json_path_field(path, key);
        if (!p)
                return -ENOMEM;
        if (!v) {
                *ret = NULL;
                if (mandatory)
                        return template_fail(ret_error, -EINVAL, "%s: missing", p);
                return 0;
        }
        r = json_dispatch_check_type(p, v, type, ret_error);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

static int need_string(json_t *obj, const char *key, bool mandatory, const char *path, char **ret,
                       char **ret_error) {
        json_t *v;
        int r;

        r = need(obj, key, JSON_FIELD_STRING, mandatory, path, &v, ret_error);
        if (r < 0)
                return r;
        if (!v)
                return 0;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int need_uint(json_t *obj, const char *key, unsigned min, unsigned max, const char *path,
                     unsigned *ret, char **ret_error) {
        json_t *v;
        int r;

        r = need(obj, key, JSON_FIELD_INTEGER, true, path, &v, ret_error);
        if (r < 0)
                return r;
        if (json_integer_value(v) < min || json_integer_value(v) > max)
                return template_fail(ret_error, -EINVAL, "%s%s%s: must be between %u and %u", strempty(path),
                                     isempty(path) ? "" : ".", key, min, max);
        *ret = (unsigned) json_integer_value(v);
        return 0;
}

/* An array of strings (non-empty if `nonempty`); an absent optional member gives an empty strv. */
static int need_strv(json_t *obj, const char *key, bool mandatory, bool nonempty, const char *path,
                     char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *p = NULL;
        json_t *v, *e;
        size_t i;
        int r;

        r = need(obj, key, JSON_FIELD_ARRAY, mandatory, path, &v, ret_error);
        if (r < 0)
                return r;
        p = json_path_field(path, key);
        if (!p)
                return -ENOMEM;
        if (v && json_array_size(v) > 4096)
                return template_fail(ret_error, -EINVAL, "%s: too many elements", p);
        if (nonempty && json_array_size(v) == 0)
                return template_fail(ret_error, -EINVAL, "%s: must not be empty", p);
        l = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                        return template_fail(ret_error, -EINVAL, "%s[%zu]: expected a string, got %s", p, i,
                                             json_kind_name(e));
                l[i] = strdup(json_string_value(e));
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int load_option(const char *name, json_t *spec, TemplateOption *o, char **ret_error) {
        _cleanup_free_ char *path = NULL, *type = NULL;
        json_t *v;
        int r;

        path = json_path_field("options", name);
        if (!path)
                return -ENOMEM;
        if (!template_identifier_is_valid(name, strlen(name)))
                return template_fail(ret_error, -EINVAL, "%s: not a valid option name ([a-z_][a-z0-9_]*)", path);
        if (!json_is_object(spec))
                return template_fail(ret_error, -EINVAL, "%s: expected an object, got %s", path,
                                     json_kind_name(spec));
        o->name = strdup(name);
        if (!o->name)
                return -ENOMEM;
        r = need_string(spec, "type", true, path, &type, ret_error);
        if (r < 0)
                return r;
        o->type = template_option_type_from_string(type);
        if (o->type < 0)
                return template_fail(ret_error, -EINVAL, "%s.type: \"%s\" is not one of slug, string, choice, bool",
                                     path, type);
        r = need_string(spec, "default", true, path, &o->default_value, ret_error);
        if (r < 0)
                return r;
        r = need_string(spec, "help", true, path, &o->help, ret_error);
        if (r < 0)
                return r;
        r = need(spec, "required", JSON_FIELD_BOOLEAN, false, path, &v, ret_error);
        if (r < 0)
                return r;
        o->required = v && json_is_true(v);

        switch (o->type) {
        case TEMPLATE_OPTION_CHOICE:
                r = need_strv(spec, "choices", true, true, path, &o->choices, ret_error);
                if (r < 0)
                        return r;
                if (!streq(o->choices[0], o->default_value))
                        return template_fail(ret_error, -EINVAL, "%s: the default must be the first choice", path);
                break;
        case TEMPLATE_OPTION_BOOL:
                o->choices = strv_copy((char *const[]) { (char *) "yes", (char *) "no", NULL });
                if (!o->choices)
                        return -ENOMEM;
                break;
        case TEMPLATE_OPTION_SLUG:
        case TEMPLATE_OPTION_STRING: {
                unsigned max;

                r = need_uint(spec, "max_length", 1, TEMPLATE_VALUE_MAX, path, &max, ret_error);
                if (r < 0)
                        return r;
                o->max_length = max;
                r = need_string(spec, "pattern", o->type == TEMPLATE_OPTION_SLUG, path, &o->pattern, ret_error);
                if (r < 0)
                        return r;
                if (o->pattern) {
                        r = regcomp(&o->regex, o->pattern, REG_EXTENDED | REG_NOSUB);
                        if (r != 0)
                                return template_fail(ret_error, -EINVAL, "%s.pattern: not a valid extended regular expression",
                                                     path);
                        o->has_regex = true;
                }
                if (o->type == TEMPLATE_OPTION_SLUG) {
                        r = need_strv(spec, "reserved", false, false, path, &o->reserved, ret_error);
                        if (r < 0)
                                return r;
                }
                break;
        }
        case _TEMPLATE_OPTION_TYPE_MAX:
        case _TEMPLATE_OPTION_TYPE_INVALID:
                return -EINVAL;
        }
        return 0;
}

static int load_options(Template *t, json_t *m, char **ret_error) {
        const char *key;
        json_t *options, *spec;
        const TemplateOption *pn;
        int r;

        r = need(m, "options", JSON_FIELD_OBJECT, true, "", &options, ret_error);
        if (r < 0)
                return r;
        if (json_object_size(options) == 0 || json_object_size(options) > TEMPLATE_OPTIONS_MAX)
                return template_fail(ret_error, -EINVAL, "options: expected 1 to %u options", TEMPLATE_OPTIONS_MAX);
        t->options = calloc(json_object_size(options), sizeof(TemplateOption));
        if (!t->options)
                return -ENOMEM;
        /* jansson keeps insertion order, which is the manifest's order. */
        json_object_foreach(options, key, spec) {
                r = load_option(key, spec, &t->options[t->n_options++], ret_error);
                if (r < 0)
                        return r;
        }
        pn = template_find_option(t, "project_name");
        if (!pn || pn->type != TEMPLATE_OPTION_SLUG || !pn->required)
                return template_fail(ret_error, -EINVAL, "options.project_name: must be a required slug");
        return 0;
}

static int load_constraints(Template *t, json_t *m, char **ret_error) {
        json_t *l, *c;
        size_t i;
        int r;

        r = need(m, "constraints", JSON_FIELD_ARRAY, true, "", &l, ret_error);
        if (r < 0)
                return r;
        if (json_array_size(l) > TEMPLATE_OPTIONS_MAX)
                return template_fail(ret_error, -EINVAL, "constraints: too many");
        t->constraints = calloc(json_array_size(l) + 1, sizeof(TemplateConstraint));
        if (!t->constraints)
                return -ENOMEM;
        json_array_foreach(l, i, c) {
                TemplateConstraint *k = &t->constraints[t->n_constraints++];
                _cleanup_free_ char *path = json_path_index("constraints", i);

                if (!path)
                        return -ENOMEM;
                if (!json_is_object(c))
                        return template_fail(ret_error, -EINVAL, "%s: expected an object", path);
                r = need_strv(c, "distinct", true, true, path, &k->distinct, ret_error);
                if (r < 0)
                        return r;
                r = need_string(c, "message", true, path, &k->message, ret_error);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, k->distinct)
                        if (!template_find_option(t, *n))
                                return template_fail(ret_error, -EINVAL, "%s.distinct: unknown option \"%s\"", path, *n);
        }
        return 0;
}

static int load_files(Template *t, json_t *m, char **ret_error) {
        json_t *l, *f;
        size_t i;
        int r;

        r = need(m, "files", JSON_FIELD_ARRAY, true, "", &l, ret_error);
        if (r < 0)
                return r;
        if (json_array_size(l) == 0 || json_array_size(l) > 4096)
                return template_fail(ret_error, -EINVAL, "files: expected 1 to 4096 files");
        t->files = calloc(json_array_size(l), sizeof(TemplateFile));
        if (!t->files)
                return -ENOMEM;
        json_array_foreach(l, i, f) {
                TemplateFile *tf = &t->files[t->n_files++];
                _cleanup_free_ char *path = json_path_index("files", i);
                const char *key;
                json_t *when, *v;

                if (!path)
                        return -ENOMEM;
                if (!json_is_object(f))
                        return template_fail(ret_error, -EINVAL, "%s: expected an object", path);
                r = need_string(f, "path", true, path, &tf->path, ret_error);
                if (r < 0)
                        return r;
                if (tf->path[0] == '/' || isempty(tf->path))
                        return template_fail(ret_error, -EINVAL, "%s.path: must be a relative path", path);
                r = need(f, "when", JSON_FIELD_OBJECT, false, path, &when, ret_error);
                if (r < 0)
                        return r;
                json_object_foreach(when, key, v) {
                        _cleanup_free_ char *e = NULL;

                        if (!template_find_option(t, key))
                                return template_fail(ret_error, -EINVAL, "%s.when: unknown option \"%s\"", path, key);
                        if (!json_is_string(v))
                                return template_fail(ret_error, -EINVAL, "%s.when.%s: expected a string", path, key);
                        e = strjoin(key, "=", json_string_value(v));
                        if (!e)
                                return -ENOMEM;
                        r = strv_extend(&tf->when, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int load_checks(Template *t, json_t *m, char **ret_error) {
        TemplateChecks *c = &t->checks;
        const char *key;
        json_t *checks, *env, *v;
        bool port = false;
        int r;

        r = need(m, "checks", JSON_FIELD_OBJECT, true, "", &checks, ret_error);
        if (r < 0)
                return r;
        r = need(checks, "env", JSON_FIELD_OBJECT, false, "checks", &env, ret_error);
        if (r < 0)
                return r;
        json_object_foreach(env, key, v) {
                _cleanup_free_ char *e = NULL;

                if (!json_is_string(v) || isempty(key) || strchr(key, '=') || startswith(key, "TROUPE_"))
                        return template_fail(ret_error, -EINVAL, "checks.env.%s: expected NAME (not TROUPE_*) and a string",
                                             key);
                e = strjoin(key, "=", json_string_value(v));
                if (!e)
                        return -ENOMEM;
                r = strv_extend(&c->env, e);
                if (r < 0)
                        return r;
        }
        r = need_strv(checks, "test", true, true, "checks", &c->test, ret_error);
        if (r < 0)
                return r;
        r = need_uint(checks, "test_timeout_sec", 1, 3600, "checks", &c->test_timeout_sec, ret_error);
        if (r < 0)
                return r;
        r = need_strv(checks, "serve", true, true, "checks", &c->serve, ret_error);
        if (r < 0)
                return r;
        STRV_FOREACH(a, c->serve)
                if (strstr(*a, "{port}"))
                        port = true;
        if (!port)
                return template_fail(ret_error, -EINVAL, "checks.serve: must take {port}");
        r = need_uint(checks, "serve_timeout_sec", 1, 3600, "checks", &c->serve_timeout_sec, ret_error);
        if (r < 0)
                return r;
        r = need_strv(checks, "cleanup", false, false, "checks", &c->cleanup, ret_error);
        if (r < 0)
                return r;
        STRV_FOREACH(p, c->cleanup) {
                if (isempty(*p) || (*p)[0] == '/' || streq(*p, "..") || startswith(*p, "../") || endswith(*p, "/..") ||
                    strstr(*p, "/../"))
                        return template_fail(ret_error, -EINVAL,
                                             "checks.cleanup: \"%s\" is not a relative path inside the project", *p);
        }
        r = need_string(checks, "health_path", true, "checks", &c->health_path, ret_error);
        if (r < 0)
                return r;
        if (c->health_path[0] != '/' || strpbrk(c->health_path, " \r\n\t"))
                return template_fail(ret_error, -EINVAL, "checks.health_path: must start with / and hold no spaces");
        r = need_uint(checks, "health_status", 100, 599, "checks", &c->health_status, ret_error);
        if (r < 0)
                return r;
        v = json_object_get(checks, "health_json");
        if (!v)
                return template_fail(ret_error, -EINVAL, "checks.health_json: missing");
        c->health_json = json_incref(v);
        return 0;
}

/* Every text with placeholders expands with the defaults (and a port). */
static int check_placeholders(Template *t, char **ret_error) {
        _cleanup_strv_free_ char **values = NULL;
        int r;

        _cleanup_free_ char *why = NULL;

        r = template_values_build(t, NULL, template_find_option(t, "project_name")->default_value, &values, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return template_fail(ret_error, -EINVAL, "the defaults are not valid: %s", strna(why));
        char *texts[] = { t->project_dir, t->run };
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *x = NULL;
                r = template_expand(texts[i], values, NULL, "1", &x, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < t->n_files; i++) {
                _cleanup_free_ char *x = NULL;
                r = template_expand(t->files[i].path, values, NULL, "1", &x, ret_error);
                if (r < 0)
                        return r;
        }
        char **lists[] = { t->checks.test, t->checks.serve, t->checks.cleanup };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                _cleanup_strv_free_ char **x = NULL;
                r = template_expand_strv(lists[i], values, NULL, "1", &x, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int template_parse(const char *name, json_t *m, Template *t, char **ret_error) {
        _cleanup_free_ char *manifest_name = NULL;
        json_t *v, *req;
        int r;

        if (!json_is_object(m))
                return template_fail(ret_error, -EINVAL, "expected an object");
        r = need(m, "format", JSON_FIELD_INTEGER, true, "", &v, ret_error);
        if (r < 0)
                return r;
        if (json_integer_value(v) != TEMPLATE_FORMAT)
                return template_fail(ret_error, -EINVAL, "format %" JSON_INTEGER_FORMAT " is not known (only %d is)",
                                     json_integer_value(v), TEMPLATE_FORMAT);
        r = need_string(m, "name", true, "", &manifest_name, ret_error);
        if (r < 0)
                return r;
        if (!streq(manifest_name, name))
                return template_fail(ret_error, -EINVAL, "name \"%s\" is not the folder's name", manifest_name);
        t->name = TAKE_PTR(manifest_name);
        r = need_string(m, "description", true, "", &t->description, ret_error);
        if (r < 0)
                return r;
        r = need_string(m, "project_dir", true, "", &t->project_dir, ret_error);
        if (r < 0)
                return r;
        r = need_string(m, "run", true, "", &t->run, ret_error);
        if (r < 0)
                return r;
        r = need(m, "requires", JSON_FIELD_OBJECT, true, "", &req, ret_error);
        if (r < 0)
                return r;
        r = need_strv(req, "debian", true, false, "requires", &t->requires_debian, ret_error);
        if (r < 0)
                return r;
        r = need_strv(req, "python_modules", true, false, "requires", &t->requires_modules, ret_error);
        if (r < 0)
                return r;
        STRV_FOREACH(mod, t->requires_modules)
                if (!template_identifier_is_valid(*mod, strlen(*mod)) && !strchr(*mod, '.'))
                        return template_fail(ret_error, -EINVAL, "requires.python_modules: \"%s\" is not a module name",
                                             *mod);
        r = load_options(t, m, ret_error);
        if (r < 0)
                return r;
        r = load_constraints(t, m, ret_error);
        if (r < 0)
                return r;
        r = load_files(t, m, ret_error);
        if (r < 0)
                return r;
        r = load_checks(t, m, ret_error);
        if (r < 0)
                return r;
        return check_placeholders(t, ret_error);
}

int template_load_path(const char *stack_dir, Template **ret, char **ret_error) {
        _cleanup_template_free_ Template *t = NULL;
        _cleanup_free_ char *data = NULL, *name = NULL, *path = NULL, *why = NULL;
        _cleanup_json_ json_t *m = NULL;
        const char *slash;
        size_t size;
        int r;

        assert_return(stack_dir, -EINVAL);
        assert_return(ret, -EINVAL);

        /* The last component, without trailing slashes. */
        path = strdup(stack_dir);
        if (!path)
                return -ENOMEM;
        for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
                path[n - 1] = 0;
        slash = strrchr(path, '/');
        name = strdup(slash ? slash + 1 : path);
        if (!name)
                return -ENOMEM;
        if (!stack_name_is_valid(name))
                return template_fail(ret_error, -EINVAL, "%s: not a valid stack name", path);

        {
                _cleanup_free_ char *mp = strjoin(path, "/" TEMPLATE_MANIFEST);
                if (!mp)
                        return -ENOMEM;
                r = read_full_file_at(AT_FDCWD, mp, TEMPLATE_MANIFEST_SIZE_MAX, &data, &size);
                if (r == -EFBIG)
                        return template_fail(ret_error, r, "%s: larger than %u bytes", mp, TEMPLATE_MANIFEST_SIZE_MAX);
                if (r < 0)
                        return template_fail(ret_error, r, "%s: cannot read: %s", mp, strerror(-r));
                r = json_parse(data, size, TEMPLATE_MANIFEST_SIZE_MAX, 0, 0, &m, &why);
                if (r < 0)
                        return template_fail(ret_error, r, "%s: %s", mp, strna(why));
        }
        t = calloc(1, sizeof(Template));
        if (!t)
                return -ENOMEM;
        t->dir = TAKE_PTR(path);
        r = template_parse(name, m, t, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return template_fail(ret_error, r, "template %s (%s/" TEMPLATE_MANIFEST "): %s", name, t->dir,
                                     strna(why));
        *ret = TAKE_PTR(t);
        return 0;
}

int template_load(const char *dir, const char *stack, Template **ret, char **ret_error) {
        _cleanup_free_ char *owned = NULL, *path = NULL, *quoted = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        assert_return(stack, -EINVAL);
        assert_return(ret, -EINVAL);

        r = resolve_dir(dir, &owned, &dir);
        if (r < 0)
                return template_fail(ret_error, r, "TROUPE_TEMPLATES_DIR must be an absolute path");
        r = template_list_names(dir, &names);
        if (r == -ENOENT)
                return template_fail(ret_error, r, "no templates are installed: %s does not exist", dir);
        if (r < 0)
                return template_fail(ret_error, r, "cannot read the templates folder %s: %s", dir, strerror(-r));
        if (!strv_contains(names, stack)) {
                _cleanup_free_ char *known = NULL;

                r = json_quote(stack, 64, &quoted);
                if (r < 0)
                        return r;
                for (char **n = names; *n; n++) {
                        char *k = strjoin(strempty(known), known ? ", " : "", *n);
                        if (!k)
                                return -ENOMEM;
                        free(known);
                        known = k;
                }
                if (!known)
                        return template_fail(ret_error, -ENOENT, "unknown stack %s: no templates are installed in %s",
                                             quoted, dir);
                return template_fail(ret_error, -ENOENT, "unknown stack %s: the stacks are %s", quoted, known);
        }
        path = strjoin(dir, "/", stack);
        if (!path)
                return -ENOMEM;
        return template_load_path(path, ret, ret_error);
}

int template_list(const char *dir, Template ***ret, char **ret_error) {
        _cleanup_free_ char *owned = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_template_list_free_ Template **l = NULL;
        size_t n = 0;
        int r;

        assert_return(ret, -EINVAL);

        r = resolve_dir(dir, &owned, &dir);
        if (r < 0)
                return template_fail(ret_error, r, "TROUPE_TEMPLATES_DIR must be an absolute path");
        r = template_list_names(dir, &names);
        if (r == -ENOENT)
                return template_fail(ret_error, r, "no templates are installed: %s does not exist", dir);
        if (r < 0)
                return template_fail(ret_error, r, "cannot read the templates folder %s: %s", dir, strerror(-r));
        l = calloc(strv_length(names) + 1, sizeof(Template *));
        if (!l)
                return -ENOMEM;
        STRV_FOREACH(name, names) {
                r = template_load(dir, *name, &l[n], ret_error);
                if (r < 0)
                        return r;
                n++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
