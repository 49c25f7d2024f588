/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"
#include "template/template.h"

static char *templates_dir(void) {
        const char *top = getenv("TOP_SRCDIR");
        char *p = strjoin(top ?: ".", "/templates");

        ck_assert_ptr_nonnull(p);
        return p;
}

static Template *load_stack(const char *stack) {
        _cleanup_free_ char *dir = templates_dir(), *why = NULL;
        Template *t = NULL;
        int r = template_load(dir, stack, &t, &why);

        ck_assert_msg(r == 0, "loading %s: %d %s", stack, r, strna(why));
        return t;
}

/* Asserts the values are refused and the message holds each of the fragments. */
static void check_refused(const Template *t, char *const *assignments, const char *project_name,
                          const char *fragment1, const char *fragment2) {
        _cleanup_strv_free_ char **values = NULL;
        _cleanup_free_ char *why = NULL;
        int r = template_values_build(t, assignments, project_name, &values, &why);

        ck_assert_msg(r == -EINVAL, "%s: expected -EINVAL, got %d", strna(project_name), r);
        ck_assert_ptr_null(values);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, fragment1), "\"%s\" lacks \"%s\"", why, fragment1);
        if (fragment2)
                ck_assert_msg(strstr(why, fragment2), "\"%s\" lacks \"%s\"", why, fragment2);
}

START_TEST(test_list) {
        _cleanup_free_ char *dir = templates_dir(), *why = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_template_list_free_ Template **l = NULL;
        _cleanup_json_ json_t *j = NULL;

        ck_assert_int_eq(template_list_names(dir, &names), 0);
        ck_assert_int_eq(strv_length(names), 2);
        ck_assert_str_eq(names[0], "django");
        ck_assert_str_eq(names[1], "fastapi");

        ck_assert_int_eq(template_list(dir, &l, &why), 0);
        ck_assert_str_eq(l[0]->name, "django");
        ck_assert_str_eq(l[1]->name, "fastapi");
        ck_assert_ptr_null(l[2]);
        ck_assert_str_eq(l[1]->options[0].name, "project_name");
        ck_assert_int_eq(l[1]->options[0].type, TEMPLATE_OPTION_SLUG);
        ck_assert(l[1]->options[0].required);
        ck_assert_int_eq(l[1]->checks.health_status, 200);
        ck_assert_str_eq(l[1]->checks.health_path, "/health");

        ck_assert_int_eq(template_to_json(l[1], &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "fastapi");
        ck_assert_int_eq(json_array_size(json_object_get(j, "options")), 5);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "options"), 4), "type")),
                         "choice");

        ck_assert_int_eq(template_list_names("/nonexistent-troupe-dir", &names), -ENOENT);
}
END_TEST

START_TEST(test_dir_and_python) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        ck_assert_int_eq(setenv("TROUPE_TEMPLATES_DIR", "/x/templates", 1), 0);
        ck_assert_int_eq(template_get_dir(&a), 0);
        ck_assert_str_eq(a, "/x/templates");
        ck_assert_int_eq(setenv("TROUPE_TEMPLATES_DIR", "relative", 1), 0);
        ck_assert_int_eq(template_get_dir(&b), -EINVAL);
        ck_assert_int_eq(unsetenv("TROUPE_TEMPLATES_DIR"), 0);
        ck_assert_int_eq(template_get_dir(&b), 0);
        ck_assert_str_eq(b, TROUPE_DATADIR "/templates");

        ck_assert_int_eq(setenv("TROUPE_PYTHON", "/opt/py/bin/python3", 1), 0);
        ck_assert_str_eq(template_get_python(), "/opt/py/bin/python3");
        ck_assert_int_eq(setenv("TROUPE_PYTHON", "python3", 1), 0);
        ck_assert_str_eq(template_get_python(), TEMPLATE_PYTHON_DEFAULT);
        ck_assert_int_eq(unsetenv("TROUPE_PYTHON"), 0);
}
END_TEST

START_TEST(test_unknown_stack) {
        _cleanup_free_ char *dir = templates_dir(), *why = NULL, *why2 = NULL;
        Template *t = NULL;

        ck_assert_int_eq(template_load(dir, "rails", &t, &why), -ENOENT);
        ck_assert_ptr_null(t);
        ck_assert_str_eq(why, "unknown stack \"rails\": the stacks are django, fastapi");
        ck_assert_int_eq(template_load(dir, "../templates/fastapi", &t, &why2), -ENOENT);
        ck_assert_ptr_nonnull(strstr(why2, "django, fastapi"));
        ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_valid_values) {
        _cleanup_template_free_ Template *t = load_stack("fastapi");
        _cleanup_strv_free_ char **v = NULL, **v2 = NULL;
        _cleanup_free_ char *why = NULL, *name64 = NULL, *desc = NULL;

        ck_assert_int_eq(template_values_build(t, NULL, "billing", &v, &why), 0);
        ck_assert_int_eq(strv_length(v), 5);
        ck_assert_str_eq(v[0], "project_name=billing");
        ck_assert_str_eq(template_values_get(v, "license"), "MIT");
        ck_assert_str_eq(template_values_get(v, "dockerfile"), "yes");
        ck_assert_ptr_null(template_values_get(v, "lic"));

        /* 64 characters, and a description of 200 code points (400 bytes). */
        name64 = malloc(65);
        memset(name64, 'a', 64);
        name64[64] = 0;
        desc = malloc(401 + STRLEN("description="));
        strcpy(desc, "description=");
        for (int i = 0; i < 200; i++)
                strcat(desc, "\xc3\xa9");
        ck_assert_int_eq(template_values_build(t,
                                               (char *const[]) { (char *) "license=Apache-2.0", (char *) "dockerfile=no",
                                                                 (char *) "python_version=3.12", desc, NULL },
                                               name64, &v2, &why),
                         0);
        ck_assert_str_eq(template_values_get(v2, "license"), "Apache-2.0");
        ck_assert_str_eq(template_values_get(v2, "project_name"), name64);
}
END_TEST

static const char *const hostile_names[] = {
        "../x", "/tmp/x", "a/b", ".x", "A", "my-app", "", "1abc", "billing\n", "bill ing", "bill\xc3\xa9",
};

START_TEST(test_hostile_names) {
        _cleanup_template_free_ Template *t = load_stack("fastapi");

        check_refused(t, NULL, hostile_names[_i], "project_name", "lowercase ASCII letters");
}
END_TEST

START_TEST(test_long_and_reserved_names) {
        _cleanup_template_free_ Template *t = load_stack("fastapi");
        char name[301];

        memset(name, 'a', 300);
        name[300] = 0;
        check_refused(t, NULL, name, "project_name is 300 characters long, at most 64", "lowercase");
        name[65] = 0;
        check_refused(t, NULL, name, "project_name is 65 characters long", NULL);
        check_refused(t, NULL, "json", "project_name \"json\" is reserved", NULL);
        check_refused(t, NULL, "fastapi", "reserved", NULL);
        check_refused(t, NULL, "class", "reserved", NULL);
        /* Required. */
        check_refused(t, NULL, NULL, "project_name is required", "Project name");
}
END_TEST

START_TEST(test_bad_values) {
        _cleanup_template_free_ Template *t = load_stack("fastapi");

        check_refused(t, (char *const[]) { (char *) "license=GPL", NULL }, "billing", "license \"GPL\" is not allowed",
                      "one of: MIT, Apache-2.0, BSD-3-Clause, proprietary");
        check_refused(t, (char *const[]) { (char *) "dockerfile=maybe", NULL }, "billing", "dockerfile \"maybe\"",
                      "one of: yes, no");
        check_refused(t, (char *const[]) { (char *) "dockerfile=Yes", NULL }, "billing", "dockerfile", NULL);
        check_refused(t, (char *const[]) { (char *) "python_version=3.9", NULL }, "billing", "python_version", NULL);
        check_refused(t, (char *const[]) { (char *) "description=a\nb", NULL }, "billing",
                      "description must be a single line", "no braces");
        check_refused(t, (char *const[]) { (char *) "description=a\tb", NULL }, "billing", "single line", NULL);
        check_refused(t, (char *const[]) { (char *) "description=a\xc2\x85 b", NULL }, "billing", "single line", NULL);
        check_refused(t, (char *const[]) { (char *) "description=a\xe2\x80\xa8 b", NULL }, "billing", "single line",
                      NULL);
        check_refused(t, (char *const[]) { (char *) "description={{ 7*7 }}", NULL }, "billing",
                      "description \"{{ 7*7 }}\" is not allowed", "no braces");
        check_refused(t, (char *const[]) { (char *) "description=\xff", NULL }, "billing", "not valid UTF-8", NULL);
        check_refused(t, (char *const[]) { (char *) "gpu=yes", NULL }, "billing", "unknown option \"gpu\"",
                      "the options of fastapi are project_name, description, python_version, dockerfile, license");
        check_refused(t, (char *const[]) { (char *) "license", NULL }, "billing", "expected KEY=VALUE", NULL);
        check_refused(t, (char *const[]) { (char *) "license=MIT", (char *) "license=MIT", NULL }, "billing",
                      "license is given twice", NULL);
        check_refused(t, (char *const[]) { (char *) "project_name=shop", NULL }, "billing",
                      "project_name is given twice", NULL);
        /* Every problem is reported, not only the first. */
        check_refused(t, (char *const[]) { (char *) "license=GPL", (char *) "x=1", NULL }, "../x", "license",
                      "unknown option \"x\"");

        char desc[STRLEN("description=") + 202];
        strcpy(desc, "description=");
        memset(desc + STRLEN("description="), 'd', 201);
        desc[sizeof(desc) - 1] = 0;
        check_refused(t, (char *const[]) { desc, NULL }, "billing", "description is 201 characters long, at most 200",
                      NULL);
}
END_TEST

START_TEST(test_django_constraint) {
        _cleanup_template_free_ Template *t = load_stack("django");
        _cleanup_strv_free_ char **v = NULL;

        check_refused(t, (char *const[]) { (char *) "app_name=shop", NULL }, "shop", "app_name must differ", NULL);
        check_refused(t, (char *const[]) { (char *) "app_name=admin", NULL }, "shop", "app_name \"admin\" is reserved",
                      NULL);
        ck_assert_int_eq(template_values_build(t, (char *const[]) { (char *) "app_name=catalog", NULL }, "shop", &v,
                                               NULL),
                         0);
        ck_assert_str_eq(template_values_get(v, "app_name"), "catalog");
}
END_TEST

START_TEST(test_placeholders) {
        _cleanup_template_free_ Template *t = load_stack("fastapi");
        _cleanup_strv_free_ char **v = NULL, **serve = NULL, **present = NULL, **absent = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *why = NULL, *why2 = NULL, *run = NULL;

        ck_assert_int_eq(template_values_build(t, (char *const[]) { (char *) "dockerfile=no", NULL }, "billing", &v,
                                               NULL),
                         0);
        ck_assert_int_eq(template_expand("{project_name}/main.py", v, NULL, NULL, &a, NULL), 0);
        ck_assert_str_eq(a, "billing/main.py");
        ck_assert_int_eq(template_expand("{python} -m x {project_name}{port}", v, "/py", "8000", &b, NULL), 0);
        ck_assert_str_eq(b, "/py -m x billing8000");
        ck_assert_int_eq(template_expand("{} { x } {A} {", v, NULL, NULL, &c, NULL), 0);
        ck_assert_str_eq(c, "{} { x } {A} {");
        ck_assert_int_eq(template_expand("--port {port}", v, NULL, NULL, &d, &why), -EINVAL);
        ck_assert_str_eq(why, "unknown placeholder {port} in \"--port {port}\"");
        ck_assert_ptr_null(d);
        ck_assert_int_eq(template_expand("{nope}", v, NULL, "1", &d, &why2), -EINVAL);
        ck_assert_ptr_nonnull(strstr(why2, "{nope}"));

        ck_assert_int_eq(template_expand_strv(t->checks.serve, v, "/usr/bin/python3", "4321", &serve, NULL), 0);
        ck_assert_str_eq(serve[0], "/usr/bin/python3");
        ck_assert_str_eq(serve[3], "billing.main:app");
        ck_assert_str_eq(serve[strv_length(serve) - 1], "4321");
        ck_assert_int_eq(template_expand(t->run, v, NULL, NULL, &run, NULL), 0);
        ck_assert_str_eq(run, "python -m uvicorn billing.main:app --reload");

        ck_assert_int_eq(template_files(t, v, &present, &absent), 0);
        ck_assert(strv_contains(present, "billing/main.py"));
        ck_assert(strv_contains(present, "README.md"));
        ck_assert(strv_contains(absent, "Dockerfile"));
        ck_assert(strv_contains(absent, ".dockerignore"));
        ck_assert(!strv_contains(present, "Dockerfile"));
}
END_TEST

/* ---- malformed manifests: the fastapi manifest, changed one way each ---- */

typedef struct Mutation {
        const char *what;
        const char *json_path; /* "a.b.c": the member to change */
        const char *value;     /* JSON; NULL: delete the member */
        const char *fragment;  /* expected in the error */
} Mutation;

static const Mutation mutations[] = {
        { "no format", "format", NULL, "format: missing" },
        { "format 2", "format", "2", "format 2 is not known" },
        { "other name", "name", "\"flask\"", "is not the folder's name" },
        { "no options", "options", NULL, "options: missing" },
        { "options not object", "options", "[]", "options: expected an object" },
        { "bad type", "options.license.type", "\"enum\"", "is not one of slug, string, choice, bool" },
        { "default not first", "options.license.default", "\"Apache-2.0\"", "default must be the first choice" },
        { "no help", "options.license.help", NULL, "options.license.help: missing" },
        { "bad regex", "options.description.pattern", "\"^[a-$\"", "not a valid extended regular expression" },
        { "bad default", "options.description.default", "\"{x}\"", "the defaults are not valid" },
        { "project_name not required", "options.project_name.required", "false", "must be a required slug" },
        { "no max_length", "options.description.max_length", NULL, "max_length: missing" },
        { "serve without port", "checks.serve", "[\"{python}\", \"-m\", \"x\"]", "must take {port}" },
        { "cleanup outside", "checks.cleanup", "[\"../x\"]", "not a relative path inside the project" },
        { "unknown placeholder", "run", "\"python -m {module}\"", "unknown placeholder {module}" },
        { "bad health path", "checks.health_path", "\"health\"", "must start with /" },
        { "timeout 0", "checks.test_timeout_sec", "0", "test_timeout_sec: must be between" },
        { "when unknown option", "files", "[{\"path\": \"a\", \"when\": {\"gpu\": \"yes\"}}]", "unknown option \"gpu\"" },
        { "test not argv", "checks.test", "\"pytest\"", "checks.test: expected an array" },
        { "constraint unknown", "constraints", "[{\"distinct\": [\"x\"], \"message\": \"m\"}]", "unknown option \"x\"" },
};

static void write_manifest(const char *dir, const char *stack, const char *text) {
        _cleanup_free_ char *d = strjoin(dir, "/", stack), *p = strjoin(dir, "/", stack, "/" TEMPLATE_MANIFEST);
        FILE *f;

        ck_assert_int_eq(mkdir(d, 0755), 0);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_malformed) {
        const Mutation *m = &mutations[_i];
        _cleanup_free_ char *src = templates_dir(), *path = NULL, *text = NULL, *why = NULL, *dup = NULL;
        _cleanup_json_ json_t *root = NULL;
        char *tmp = make_tmpdir();
        json_t *parent;
        char *key, *dot;
        Template *t = NULL;

        path = strjoin(src, "/fastapi/" TEMPLATE_MANIFEST);
        root = json_load_file(path, 0, NULL);
        ck_assert_ptr_nonnull(root);
        dup = strdup(m->json_path);
        parent = root;
        key = dup;
        while ((dot = strchr(key, '.'))) {
                *dot = 0;
                parent = json_object_get(parent, key);
                ck_assert_ptr_nonnull(parent);
                key = dot + 1;
        }
        if (m->value)
                ck_assert_int_eq(json_object_set_new(parent, key, json_loads(m->value, JSON_DECODE_ANY, NULL)), 0);
        else
                ck_assert_int_eq(json_object_del(parent, key), 0);
        text = json_dumps(root, 0);
        write_manifest(tmp, "fastapi", text);

        ck_assert_int_eq(template_load(tmp, "fastapi", &t, &why), -EINVAL);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(why, m->fragment), "%s: \"%s\" lacks \"%s\"", m->what, why, m->fragment);
        ck_assert_msg(startswith(why, "template fastapi ("), "%s: %s", m->what, why);
        rm_rf_tmpdir(tmp);
        free(tmp);
}
END_TEST

START_TEST(test_not_json) {
        char *tmp = make_tmpdir();
        _cleanup_free_ char *why = NULL, *why2 = NULL, *big = NULL;
        _cleanup_template_list_free_ Template **l = NULL;
        Template *t = NULL;

        write_manifest(tmp, "broken", "{\"format\": 1,");
        ck_assert_int_eq(template_load(tmp, "broken", &t, &why), -EINVAL);
        ck_assert_ptr_nonnull(strstr(why, "troupe-template.json: line"));
        /* One broken stack makes the listing fail, naming it. */
        ck_assert_int_eq(template_list(tmp, &l, &why2), -EINVAL);
        ck_assert_ptr_nonnull(strstr(why2, "broken"));

        big = malloc(TEMPLATE_MANIFEST_SIZE_MAX + 2);
        memset(big, ' ', TEMPLATE_MANIFEST_SIZE_MAX + 1);
        big[TEMPLATE_MANIFEST_SIZE_MAX + 1] = 0;
        write_manifest(tmp, "big", big);
        ck_assert_int_eq(template_load(tmp, "big", &t, NULL), -EFBIG);
        ck_assert_ptr_null(t);
        rm_rf_tmpdir(tmp);
        free(tmp);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("template");
        TCase *tc = tcase_create("manifest");

        tcase_add_test(tc, test_list);
        tcase_add_test(tc, test_dir_and_python);
        tcase_add_test(tc, test_unknown_stack);
        tcase_add_loop_test(tc, test_malformed, 0, ELEMENTSOF(mutations));
        tcase_add_test(tc, test_not_json);
        suite_add_tcase(s, tc);

        tc = tcase_create("values");
        tcase_add_test(tc, test_valid_values);
        tcase_add_loop_test(tc, test_hostile_names, 0, ELEMENTSOF(hostile_names));
        tcase_add_test(tc, test_long_and_reserved_names);
        tcase_add_test(tc, test_bad_values);
        tcase_add_test(tc, test_django_constraint);
        tcase_add_test(tc, test_placeholders);
        suite_add_tcase(s, tc);
        return s;
}
