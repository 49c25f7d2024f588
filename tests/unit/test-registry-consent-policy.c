/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The consent policy file: strict parsing with errors that name the field, first match wins, reloading. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "registryd-consent-policy.h"

static char *tmp;

static void setup(void) {
        tmp = make_tmpdir();
        log_set_max_level(LOG_CRIT);
}

static void teardown(void) {
        rm_rf_tmpdir(tmp);
        free(tmp);
        tmp = NULL;
}

/* Parses `text`; returns the error message ("" when it parsed) and the rules. */
static char *parse(const char *text, ConsentRule **ret, size_t *ret_n) {
        char *error = NULL;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = consent_policy_parse(text, strlen(text), ret, ret_n, &error);
        if (r >= 0) {
                ck_assert_ptr_null(error);
                return strdup("");
        }
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_nonnull(error);
        ck_assert_ptr_null(*ret);
        return error;
}

/* The message names the field: it contains `expected`. */
static void assert_refused(const char *text, const char *expected) {
        _cleanup_free_ char *error = NULL;
        ConsentRule *rules;
        size_t n;

        error = parse(text, &rules, &n);
        if (!strstr(error, expected))
                ck_abort_msg("for %s: expected an error containing '%s', got '%s'", text, expected, error);
}

START_TEST(test_parse_valid) {
        _cleanup_free_ char *error = NULL;
        ConsentRule *rules;
        size_t n;

        error = parse("{\"version\": 1, \"rules\": ["
                      "{\"agent\": \"bootstrap\", \"capability\": \"exec.editor\", \"decision\": \"allow\"},"
                      "{\"agent\": \"*\", \"capability\": \"net.connect:example.com:443\", \"decision\": "
                      "\"deny\"},"
                      "{\"agent\": \"*\", \"capability\": \"exec.editor\", \"decision\": \"deny\"}]}",
                      &rules, &n);
        ck_assert_str_eq(error, "");
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(rules[0].agent, "bootstrap");
        ck_assert(rules[0].allow);
        ck_assert(!rules[1].allow);

        /* The first rule that matches wins; the wildcard matches every agent; no rule: 0. */
        ck_assert_int_eq(consent_rules_decide(rules, n, "bootstrap", "exec.editor"), 1);
        ck_assert_int_eq(consent_rules_decide(rules, n, "other", "exec.editor"), -EACCES);
        ck_assert_int_eq(consent_rules_decide(rules, n, "other", "net.connect:example.com:443"), -EACCES);
        ck_assert_int_eq(consent_rules_decide(rules, n, "other", "net.connect:example.com:80"), 0);
        ck_assert_int_eq(consent_rules_decide(rules, n, "bootstrap", "fs.workspace"), 0);
        consent_rules_free(rules, n);

        free(error);
        error = parse("{\"version\": 1, \"rules\": []}", &rules, &n);
        ck_assert_str_eq(error, "");
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(consent_rules_decide(rules, n, "a", "exec.editor"), 0);
}
END_TEST

START_TEST(test_parse_refused) {
        assert_refused("", "line 1");
        assert_refused("[]", "expected an object");
        assert_refused("{\"rules\": []}", "version");
        assert_refused("{\"version\": 2, \"rules\": []}", "version");
        assert_refused("{\"version\": \"1\", \"rules\": []}", "version");
        assert_refused("{\"version\": 1}", "rules");
        assert_refused("{\"version\": 1, \"rules\": [], \"extra\": true}", "unknown field \"extra\"");
        assert_refused("{\"version\": 1, \"rules\": [1]}", "rules[0]");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"a\", \"capability\": \"exec.editor\"}]}",
                       "rules[0].decision");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"a\", \"capability\": \"exec.editor\", "
                       "\"decision\": \"allow\", \"why\": \"x\"}]}",
                       "rules[0]: unknown field \"why\"");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"a\", \"capability\": \"exec.editor\", "
                       "\"decision\": \"maybe\"}]}",
                       "rules[0].decision: must be \"allow\" or \"deny\"");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"A B\", \"capability\": \"exec.editor\", "
                       "\"decision\": \"allow\"}]}",
                       "rules[0].agent: must be an agent name or \"*\"");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"a*\", \"capability\": \"exec.editor\", "
                       "\"decision\": \"allow\"}]}",
                       "rules[0].agent");
        assert_refused(
                "{\"version\": 1, \"rules\": [{\"agent\": \"a\", \"capability\": \"exec.everything\", "
                "\"decision\": \"allow\"}]}",
                "rules[0].capability: invalid capability \"exec.everything\"");
        assert_refused("{\"version\": 1, \"rules\": [{\"agent\": \"a\", \"capability\": \"exec.editor\", "
                       "\"decision\": \"allow\"}, {\"agent\": \"b\", \"capability\": \"net.connect:x:0\", "
                       "\"decision\": \"deny\"}]}",
                       "rules[1].capability");
        /* Duplicate keys would make the rule mean whichever the parser kept. */
        assert_refused("{\"version\": 1, \"version\": 1, \"rules\": []}", "line 1");
}
END_TEST

static void write_policy(const char *path, const char *text) {
        _cleanup_free_ char *tmppath = strjoin(path, ".tmp");
        FILE *f;

        ck_assert_ptr_nonnull(tmppath);
        f = fopen(tmppath, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        /* A rename, as editors save: a new inode, so the change shows even within one mtime tick. */
        ck_assert_int_eq(rename(tmppath, path), 0);
}

START_TEST(test_policy_reload) {
        _cleanup_free_ char *path = strjoin(tmp, "/consent.json");
        ConsentPolicy *p = NULL;

        ck_assert_int_eq(consent_policy_new(path, &p), 0);
        /* No file: no rules. */
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), 0);

        write_policy(path, "{\"version\":1,\"rules\":[{\"agent\":\"a\",\"capability\":\"exec.editor\","
                           "\"decision\":\"allow\"}]}");
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), 1);
        ck_assert_int_eq(consent_policy_decide(p, "b", "exec.editor"), 0);

        write_policy(path, "{\"version\":1,\"rules\":[{\"agent\":\"*\",\"capability\":\"exec.editor\","
                           "\"decision\":\"deny\"}]}");
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), -EACCES);

        /* A broken file is ignored as a whole: back to asking. */
        write_policy(path, "{\"version\":1,\"rules\":[{\"agent\":\"*\",\"capability\":\"exec.editor\","
                           "\"decision\":\"deny\",\"typo\":1}]}");
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), 0);

        /* A directory where the file should be is no policy either. */
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), 0);
        ck_assert_int_eq(rmdir(path), 0);
        ck_assert_int_eq(consent_policy_decide(p, "a", "exec.editor"), 0);

        consent_policy_free(p);
        ck_assert_int_eq(consent_policy_decide(NULL, "a", "exec.editor"), 0);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("consent-policy");
        TCase *tc = tcase_create("policy");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_parse_valid);
        tcase_add_test(tc, test_parse_refused);
        tcase_add_test(tc, test_policy_reload);
        suite_add_tcase(s, tc);
        return s;
}
