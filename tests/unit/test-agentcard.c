/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agentcard.h"
#include "agent/capability.h"
#include "agent/typed-params.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"

#define SKILL "{\"id\": \"echo\", \"name\": \"Echo\", \"description\": \"Echoes.\"}"
#define HEAD "\"name\": \"echo\", \"description\": \"Echoes text.\", \"version\": \"1.0.0\""
/* A valid card with `extra` (starting with a comma) added to its top level. */
#define CARD(extra) "{" HEAD ", \"skills\": [" SKILL "]" extra "}"

static int data_dir(void) {
        const char *top = getenv("TOP_SRCDIR");
        _cleanup_free_ char *p = NULL;
        int fd;

        ck_assert_msg(top, "TOP_SRCDIR is not set");
        p = strjoin(top, "/tests/data/agentcards");
        ck_assert_ptr_nonnull(p);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

static AgentCard *load_sample(const char *name) {
        _cleanup_close_ int dir = data_dir();
        _cleanup_free_ char *err = NULL;
        AgentCard *c = NULL;

        ck_assert_int_eq(agent_card_load(dir, name, &c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_ptr_nonnull(c);
        return c;
}

static json_t *load_sample_json(const char *name) {
        _cleanup_close_ int dir = data_dir();
        _cleanup_free_ char *data = NULL;
        json_t *v = NULL;
        size_t size;

        ck_assert_int_eq(read_full_file_at(dir, name, AGENT_CARD_SIZE_MAX, &data, &size), 0);
        ck_assert_int_eq(json_parse(data, size, AGENT_CARD_SIZE_MAX, 0, 0, &v, NULL), 0);
        return v;
}

static void assert_strv_eq(char *const *a, const char *const *b) {
        size_t i = 0;

        for (; b[i]; i++) {
                ck_assert_ptr_nonnull(a);
                ck_assert_ptr_nonnull(a[i]);
                ck_assert_str_eq(a[i], b[i]);
        }
        ck_assert_uint_eq(strv_length(a), i);
}

START_TEST(test_minimal_defaults) {
        _cleanup_(agent_card_freep) AgentCard *c = load_sample("minimal.json");

        ck_assert_str_eq(c->name, "echo");
        ck_assert_str_eq(c->version, "1.0");
        ck_assert_ptr_null(c->url);
        ck_assert(!c->features.streaming && !c->features.push_notifications &&
                  !c->features.state_transition_history);
        assert_strv_eq(c->default_input_modes, (const char *[]) {"text/plain", NULL});
        assert_strv_eq(c->default_output_modes, (const char *[]) {"text/plain", NULL});
        ck_assert_uint_eq(c->n_skills, 1);
        ck_assert_str_eq(c->skills[0].id, "echo");
        ck_assert_ptr_null(c->skills[0].tags);
        ck_assert_ptr_null(c->skills[0].input_modes);

        /* The documented defaults. */
        ck_assert_str_eq(c->exec.path, "troupe-agent-echo");
        ck_assert_ptr_null(c->exec.args);
        ck_assert_int_eq(c->exec.restart, AGENT_RESTART_NO);
        ck_assert(!c->exec.retry);
        ck_assert_uint_eq(c->exec.idle_timeout_sec, 0);
        ck_assert_ptr_null(c->permissions.capabilities);
        ck_assert_ptr_null(c->permissions.requestable);
        ck_assert_uint_eq(c->limits.memory_max, UINT64_C(512) << 20);
        ck_assert_uint_eq(c->limits.tasks_max, 256);
        ck_assert_uint_eq(c->limits.cpu_weight, 100);
        ck_assert_uint_eq(c->limits.timeout_sec, 600);
}
END_TEST

START_TEST(test_full) {
        _cleanup_(agent_card_freep) AgentCard *c = load_sample("full.json");
        _cleanup_json_ json_t *original = load_sample_json("full.json"), *j = NULL;

        ck_assert_str_eq(c->name, "bootstrap");
        ck_assert_str_eq(c->version, "1.2.0-rc.1+build.7");
        ck_assert_str_eq(c->url, "https://troupe.example.org/agents/bootstrap");
        ck_assert(c->features.streaming && !c->features.push_notifications &&
                  c->features.state_transition_history);
        assert_strv_eq(c->default_input_modes, (const char *[]) {"text/plain", "application/json", NULL});
        ck_assert_uint_eq(c->n_skills, 2);
        assert_strv_eq(c->skills[0].tags, (const char *[]) {"python", "fastapi", "bootstrap", NULL});
        assert_strv_eq(c->skills[0].output_modes, (const char *[]) {"application/json", NULL});
        assert_strv_eq(c->skills[1].examples, (const char *[]) {NULL});
        ck_assert_str_eq(c->exec.path, "troupe-agent-bootstrap");
        assert_strv_eq(c->exec.args, (const char *[]) {"--templates", "default", NULL});
        ck_assert_int_eq(c->exec.restart, AGENT_RESTART_ON_FAILURE);
        ck_assert(c->exec.retry);
        ck_assert_uint_eq(c->exec.idle_timeout_sec, 300);
        assert_strv_eq(c->permissions.capabilities, (const char *[]) {"fs.workspace", "exec.command", NULL});
        ck_assert_uint_eq(strv_length(c->permissions.requestable), 6);
        ck_assert_str_eq(c->permissions.requestable[4], "net.connect:[2001:db8::1]:8443");
        ck_assert_uint_eq(c->limits.memory_max, UINT64_C(1) << 30);
        ck_assert_uint_eq(c->limits.tasks_max, 512);
        ck_assert_uint_eq(c->limits.cpu_weight, 200);
        ck_assert_uint_eq(c->limits.timeout_sec, 1800);

        /* full.json spells out every field troupe keeps, so to_json must give it back exactly. */
        ck_assert_int_eq(agent_card_to_json(c, &j), 0);
        ck_assert(json_equal(original, j));
}
END_TEST

static void assert_round_trip(const char *sample) {
        _cleanup_(agent_card_freep) AgentCard *a = load_sample(sample), *b = NULL;
        _cleanup_json_ json_t *ja = NULL, *jb = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;

        ck_assert_int_eq(agent_card_to_json(a, &ja), 0);
        ck_assert_int_eq(json_dump_string(ja, 0, &text), 0);
        ck_assert_int_eq(agent_card_parse(text, strlen(text), &b, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(agent_card_to_json(b, &jb), 0);
        ck_assert(json_equal(ja, jb));

        ck_assert_str_eq(a->name, b->name);
        ck_assert_str_eq(a->description, b->description);
        ck_assert_str_eq(a->version, b->version);
        ck_assert(streq_ptr(a->url, b->url));
        ck_assert_uint_eq(a->n_skills, b->n_skills);
        for (size_t i = 0; i < a->n_skills; i++) {
                ck_assert_str_eq(a->skills[i].id, b->skills[i].id);
                ck_assert_str_eq(a->skills[i].description, b->skills[i].description);
                ck_assert_uint_eq(strv_length(a->skills[i].examples), strv_length(b->skills[i].examples));
                ck_assert(!a->skills[i].input_modes == !b->skills[i].input_modes);
        }
        ck_assert_str_eq(a->exec.path, b->exec.path);
        ck_assert_int_eq(a->exec.restart, b->exec.restart);
        ck_assert_uint_eq(strv_length(a->permissions.requestable), strv_length(b->permissions.requestable));
        ck_assert(memcmp(&a->limits, &b->limits, sizeof(AgentLimits)) == 0);
        ck_assert(memcmp(&a->features, &b->features, sizeof(AgentFeatures)) == 0);
}

START_TEST(test_round_trip) {
        assert_round_trip("minimal.json");
        assert_round_trip("full.json");
        assert_round_trip("a2a.json");
}
END_TEST

START_TEST(test_a2a_fields) {
        _cleanup_(agent_card_freep) AgentCard *c = load_sample("a2a.json");
        _cleanup_json_ json_t *j = NULL;

        ck_assert_str_eq(c->name, "reviewer");
        ck_assert_str_eq(c->url, "http://localhost:8080/a2a");
        ck_assert(c->features.streaming);
        assert_strv_eq(c->default_output_modes, (const char *[]) {"text/markdown", NULL});
        /* A2A's fields troupe does not use are accepted and dropped. */
        ck_assert_int_eq(agent_card_to_json(c, &j), 0);
        ck_assert_ptr_null(json_object_get(j, "provider"));
        ck_assert_ptr_null(json_object_get(j, "securitySchemes"));
        ck_assert_ptr_null(json_object_get(json_object_get(j, "capabilities"), "extensions"));
}
END_TEST

static void assert_invalid(const char *text, int error, const char *message) {
        _cleanup_(agent_card_freep) AgentCard *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(agent_card_parse(text, strlen(text), &c, &err), error);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err, message);
}

START_TEST(test_invalid_names) {
        assert_invalid("{\"description\": \"d\", \"version\": \"1.0\", \"skills\": [" SKILL "]}", -EINVAL,
                       "name: required field is missing");
        assert_invalid(
                "{\"name\": \"../x\", \"description\": \"d\", \"version\": \"1.0\", \"skills\": [" SKILL
                "]}",
                -EINVAL,
                "name: \"../x\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_invalid(
                "{\"name\": \"Echo\", \"description\": \"d\", \"version\": \"1.0\", \"skills\": [" SKILL
                "]}",
                -EINVAL,
                "name: \"Echo\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_invalid("{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                       " \"description\": \"d\", \"version\": \"1.0\", \"skills\": [" SKILL "]}",
                       -EINVAL, "name: must be at most 64 characters");
        assert_invalid("{\"name\": 5, \"description\": \"d\", \"version\": \"1.0\", \"skills\": [" SKILL
                       "]}",
                       -EINVAL, "name: expected a string, got an integer");
        assert_invalid(
                "{\"name\": \"echo\", \"description\": \"\", \"version\": \"1.0\", \"skills\": [" SKILL "]}",
                -EINVAL, "description: must not be empty");
}
END_TEST

START_TEST(test_invalid_versions) {
        static const char *const bad[] = {"1",    "v1.0", "1.02.3", "1.0.0.0", "1.0-",
                                          "1.0+", "1.0 ", "",       "1..0"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = NULL, *message = NULL;

                ck_assert_int_ge(asprintf(&text,
                                          "{\"name\": \"echo\", \"description\": \"d\", \"version\": \"%s\","
                                          " \"skills\": [" SKILL "]}",
                                          bad[i]),
                                 0);
                ck_assert_int_ge(asprintf(&message,
                                          "version: \"%s\" is not a valid version: expected "
                                          "MAJOR.MINOR[.PATCH][-PRERELEASE][+BUILD]",
                                          bad[i]),
                                 0);
                assert_invalid(text, -EINVAL, message);
        }
        assert_invalid("{\"name\": \"echo\", \"description\": \"d\", \"skills\": [" SKILL "]}", -EINVAL,
                       "version: required field is missing");
}
END_TEST

START_TEST(test_invalid_skills) {
        assert_invalid("{" HEAD "}", -EINVAL, "skills: required field is missing");
        assert_invalid("{" HEAD ", \"skills\": []}", -EINVAL, "skills: must list at least one skill");
        assert_invalid("{" HEAD ", \"skills\": {}}", -EINVAL, "skills: expected an array, got an object");
        assert_invalid("{" HEAD ", \"skills\": [\"echo\"]}", -EINVAL,
                       "skills[0]: expected an object, got a string");
        assert_invalid("{" HEAD ", \"skills\": [" SKILL ", " SKILL "]}", -EINVAL,
                       "skills[1].id: duplicate skill id \"echo\"");
        assert_invalid("{" HEAD ", \"skills\": [" SKILL
                       ", {\"id\": \"two\", \"name\": \"Two\", \"description\": \"d\","
                       " \"examples\": [\"fine\", 2]}]}",
                       -EINVAL, "skills[1].examples[1]: expected a string, got an integer");
        assert_invalid("{" HEAD ", \"skills\": [{\"id\": \"x\", \"name\": \"X\"}]}", -EINVAL,
                       "skills[0].description: required field is missing");
        assert_invalid(
                "{" HEAD ", \"skills\": [{\"id\": \"X\", \"name\": \"X\", \"description\": \"d\"}]}",
                -EINVAL,
                "skills[0].id: \"X\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_invalid("{" HEAD ", \"skills\": [{\"id\": \"x\", \"name\": \"X\", \"description\": \"d\", "
                       "\"tags\": [\"\"]}]}",
                       -EINVAL, "skills[0].tags[0]: must not be empty");
        assert_invalid(
                "{" HEAD ", \"skills\": [{\"id\": \"x\", \"name\": \"X\", \"description\": \"d\", "
                "\"inputModes\": [\"text\"]}]}",
                -EINVAL,
                "skills[0].inputModes[0]: \"text\" is not a media type: expected lowercase TYPE/SUBTYPE "
                "such as \"text/plain\"");
        assert_invalid("{" HEAD ", \"skills\": [{\"id\": \"x\", \"name\": \"X\", \"description\": \"d\", "
                       "\"colour\": \"red\"}]}",
                       -EINVAL, "skills[0]: unknown field \"colour\"");
        assert_invalid(CARD(", \"defaultOutputModes\": []"), -EINVAL,
                       "defaultOutputModes: must list at least one media type");
        assert_invalid(
                CARD(", \"defaultInputModes\": [\"text/plain\", \"Text/Plain\"]"), -EINVAL,
                "defaultInputModes[1]: \"Text/Plain\" is not a media type: expected lowercase TYPE/SUBTYPE "
                "such as \"text/plain\"");
}
END_TEST

START_TEST(test_invalid_permissions) {
        assert_invalid(
                CARD(", \"permissions\": {\"capabilities\": [\"net.listen:80\"]}"), -EINVAL,
                "permissions.capabilities[0]: invalid capability \"net.listen:80\": unknown capability; "
                "expected fs.workspace, exec.editor, exec.command, net.loopback, net.connect:HOST:PORT "
                "or secrets.read:NAME");
        assert_invalid(
                CARD(", \"permissions\": {\"requestable\": [\"exec.editor\", "
                     "\"net.connect:example.org:0\"]}"),
                -EINVAL,
                "permissions.requestable[1]: invalid capability \"net.connect:example.org:0\": PORT must be "
                "a number between 1 and 65535");
        assert_invalid(
                CARD(", \"permissions\": {\"requestable\": [\"net.connect:example.org:70000\"]}"), -EINVAL,
                "permissions.requestable[0]: invalid capability \"net.connect:example.org:70000\": PORT "
                "must be a number between 1 and 65535");
        assert_invalid(CARD(", \"permissions\": {\"capabilities\": [\"fs.workspace\", \"fs.workspace\"]}"),
                       -EINVAL, "permissions.capabilities[1]: duplicate capability \"fs.workspace\"");
        assert_invalid(CARD(", \"permissions\": {\"capabilities\": [\"fs.workspace\"], "
                            "\"requestable\": [\"exec.editor\", \"fs.workspace\"]}"),
                       -EINVAL,
                       "permissions.requestable[1]: \"fs.workspace\" is already granted in "
                       "permissions.capabilities");
        assert_invalid(CARD(", \"permissions\": {\"capabilities\": \"fs.workspace\"}"), -EINVAL,
                       "permissions.capabilities: expected an array, got a string");
        assert_invalid(CARD(", \"permissions\": {\"granted\": []}"), -EINVAL,
                       "permissions: unknown field \"granted\"");
}
END_TEST

START_TEST(test_invalid_exec_and_limits) {
        assert_invalid(CARD(", \"exec\": {\"path\": \"/usr/bin/sh\"}"), -EINVAL,
                       "exec.path: must be a file name in $libexecdir/troupe/agents, not a path");
        assert_invalid(CARD(", \"exec\": {\"path\": \"../troupe-agent-echo\"}"), -EINVAL,
                       "exec.path: must be a file name in $libexecdir/troupe/agents, not a path");
        assert_invalid(CARD(", \"exec\": {\"path\": \".hidden\"}"), -EINVAL,
                       "exec.path: \".hidden\" is not a valid name: use lowercase letters, digits, '.', '_' "
                       "or '-', "
                       "starting with a letter or digit, without \"..\"");
        assert_invalid(
                CARD(", \"exec\": {\"restart\": \"always\"}"), -EINVAL,
                "exec.restart: \"always\" is not a restart policy: expected \"no\" or \"on-failure\"");
        assert_invalid(CARD(", \"exec\": {\"retry\": \"yes\"}"), -EINVAL,
                       "exec.retry: expected a boolean, got a string");
        assert_invalid(CARD(", \"exec\": {\"idle_timeout_sec\": 604801}"), -EINVAL,
                       "exec.idle_timeout_sec: must be between 0 and 604800");
        assert_invalid(CARD(", \"exec\": {\"args\": [\"--x\", null]}"), -EINVAL,
                       "exec.args[1]: expected a string, got null");
        assert_invalid(CARD(", \"exec\": {\"pth\": \"x\"}"), -EINVAL, "exec: unknown field \"pth\"");

        assert_invalid(CARD(", \"limits\": {\"memory_max\": -1}"), -EINVAL,
                       "limits.memory_max: must be between 1M and 64G");
        assert_invalid(CARD(", \"limits\": {\"memory_max\": 68719476737}"), -EINVAL,
                       "limits.memory_max: must be between 1M and 64G");
        assert_invalid(CARD(", \"limits\": {\"memory_max\": \"512M\"}"), -EINVAL,
                       "limits.memory_max: expected an integer, got a string");
        assert_invalid(CARD(", \"limits\": {\"tasks_max\": -5}"), -EINVAL,
                       "limits.tasks_max: must be between 1 and 32768");
        assert_invalid(CARD(", \"limits\": {\"cpu_weight\": 0}"), -EINVAL,
                       "limits.cpu_weight: must be between 1 and 10000");
        assert_invalid(CARD(", \"limits\": {\"cpu_weight\": 10001}"), -EINVAL,
                       "limits.cpu_weight: must be between 1 and 10000");
        assert_invalid(CARD(", \"limits\": {\"timeout_sec\": 0}"), -EINVAL,
                       "limits.timeout_sec: must be between 1 and 86400");
        assert_invalid(CARD(", \"limits\": {\"timeout_sec\": 1.5}"), -EINVAL,
                       "limits.timeout_sec: expected an integer, got a real number");
        assert_invalid(CARD(", \"limits\": 5"), -EINVAL, "limits: expected an object, got an integer");
}
END_TEST

START_TEST(test_invalid_top_level) {
        assert_invalid(CARD(", \"permisions\": {}"), -EINVAL, "unknown field \"permisions\"");
        assert_invalid(CARD(", \"x-vendor\": 1"), -EINVAL, "unknown field \"x-vendor\"");
        /* An A2A field troupe ignores is still type-checked. */
        assert_invalid(CARD(", \"provider\": \"me\""), -EINVAL,
                       "provider: expected an object, got a string");
        assert_invalid(CARD(", \"url\": \"ftp://example.org\""), -EINVAL,
                       "url: must be an http:// or https:// URL");
        assert_invalid(CARD(", \"url\": \"https://example.org/a b\""), -EINVAL,
                       "url: must not contain spaces, control or non-ASCII characters");
        assert_invalid(CARD(", \"capabilities\": {\"streaming\": 1}"), -EINVAL,
                       "capabilities.streaming: expected a boolean, got an integer");
        assert_invalid("[" CARD("") "]", -EINVAL, "expected an object, got an array");
        assert_invalid("\"echo\"", -EINVAL, "expected an object, got a string");
        assert_invalid(CARD(", \"name\": \"echo\""), -EINVAL,
                       "line 1, column 144: duplicate object key near '\"name\"'");
        assert_invalid("{\"name\": \"echo\",}", -EINVAL,
                       "line 1, column 17: string or '}' expected near '}'");
        assert_invalid("", -EINVAL, "line 1, column 0: unexpected token near end of file");
}
END_TEST

START_TEST(test_oversize) {
        _cleanup_(agent_card_freep) AgentCard *c = NULL;
        _cleanup_free_ char *buf = NULL, *err = NULL, *dir = make_tmpdir();
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        const char *card = CARD("");
        size_t n = strlen(card);

        ck_assert_ptr_nonnull(dir);
        buf = malloc(AGENT_CARD_SIZE_MAX + 2);
        ck_assert_ptr_nonnull(buf);

        /* Exactly the limit (padded with whitespace) is fine; one byte more is -EFBIG. */
        memset(buf, ' ', AGENT_CARD_SIZE_MAX + 1);
        memcpy(buf, card, n);
        ck_assert_int_eq(agent_card_parse(buf, AGENT_CARD_SIZE_MAX, &c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_ptr_nonnull(c);
        c = agent_card_free(c);
        ck_assert_int_eq(agent_card_parse(buf, AGENT_CARD_SIZE_MAX + 1, &c, &err), -EFBIG);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, "card is larger than 65536 bytes");
        err = mfree(err);

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
        fd = openat(dfd, "big.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(loop_write(fd, buf, AGENT_CARD_SIZE_MAX + 1), 0);
        ck_assert_int_eq(agent_card_load(dfd, "big.json", &c, &err), -EFBIG);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, "card is larger than 65536 bytes");
        err = mfree(err);

        /* A read error has no message. */
        ck_assert_int_eq(agent_card_load(dfd, "missing.json", &c, &err), -ENOENT);
        ck_assert_ptr_null(err);
        rm_rf_tmpdir(dir);
}
END_TEST

START_TEST(test_invalid_files) {
        static const struct {
                const char *file;
                const char *message;
        } cases[] = {
                {"invalid-name.json", "name: \"Echo\" is not a valid name: use lowercase letters, digits, "
                                      "'.', '_' or '-', starting "
                                      "with a letter or digit, without \"..\""},
                {"invalid-duplicate-skill.json", "skills[1].id: duplicate skill id \"echo\""},
                {"invalid-port.json", "permissions.requestable[0]: invalid capability "
                                      "\"net.connect:example.org:70000\": PORT must be "
                                      "a number between 1 and 65535"},
                {"invalid-limits.json", "limits.memory_max: must be between 1M and 64G"},
                {"invalid-unknown-field.json", "unknown field \"permisions\""},
                {"invalid-truncated.json", "line 5, column 23: premature end of input near '\"ec'"},
                {"invalid-task-typed-params.json",
                 "task.typed_params: \"deploy\" is not a typed parameter message: the only one is "
                 "\"bootstrap\" (leave the field out for params_json only)"},
        };
        _cleanup_close_ int dir = data_dir();

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(agent_card_freep) AgentCard *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(agent_card_load(dir, cases[i].file, &c, &err), -EINVAL);
                ck_assert_ptr_null(c);
                ck_assert_msg(err && streq(err, cases[i].message), "%s: got '%s'", cases[i].file,
                              strna(err));
        }
}
END_TEST

START_TEST(test_find_skill_and_restart) {
        _cleanup_(agent_card_freep) AgentCard *c = load_sample("full.json");
        const AgentSkill *s;

        s = agent_card_find_skill(c, "open-in-editor");
        ck_assert_ptr_eq(s, &c->skills[1]);
        ck_assert_str_eq(s->name, "Open in editor");
        ck_assert_ptr_null(agent_card_find_skill(c, "open"));
        ck_assert_ptr_null(agent_card_find_skill(c, NULL));
        ck_assert_ptr_null(agent_card_find_skill(NULL, "echo"));

        ck_assert_str_eq(agent_restart_to_string(AGENT_RESTART_ON_FAILURE), "on-failure");
        ck_assert_int_eq(agent_restart_from_string("no"), AGENT_RESTART_NO);
        ck_assert_int_eq(agent_restart_from_string("always"), -EINVAL);
}
END_TEST

static void assert_capability_invalid(const char *s, const char *reason) {
        const char *r = NULL;

        ck_assert_msg(!capability_is_valid(s), "%s accepted", s);
        ck_assert_int_eq(capability_check(s, &r), -EINVAL);
        ck_assert_msg(r && streq(r, reason), "%s: got '%s'", s, strna(r));
}

START_TEST(test_capability_grammar) {
        static const char *const good[] = {
                "fs.workspace",
                "exec.editor",
                "exec.command",
                "net.loopback",
                "net.connect:pypi.org:443",
                "net.connect:localhost:1",
                "net.connect:a-b.c0.example:65535",
                "net.connect:10.0.0.1:8080",
                "net.connect:[::1]:8080",
                "net.connect:[2001:db8::1]:443",
                "net.connect:[::ffff:192.0.2.1]:80",
                "secrets.read:github-token",
                "secrets.read:a",
        };
        const char *host_reason =
                "HOST must be a lowercase DNS name, an IPv4 address or an IPv6 address in brackets";
        const char *port_reason = "PORT must be a number between 1 and 65535";
        const char *unknown_reason = "unknown capability; expected fs.workspace, exec.editor, exec.command, "
                                     "net.loopback, net.connect:HOST:PORT or secrets.read:NAME";
        char label[80], long_name[300];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(capability_is_valid(good[i]), "%s refused", good[i]);
        ck_assert(!capability_is_valid(NULL));

        assert_capability_invalid("", unknown_reason);
        assert_capability_invalid("fs.home", unknown_reason);
        assert_capability_invalid("fs.workspace:rw", unknown_reason);
        assert_capability_invalid("FS.WORKSPACE", unknown_reason);
        assert_capability_invalid("net.loopback:8000", "net.loopback takes no argument");
        assert_capability_invalid("net.loopbacks", unknown_reason);
        assert_capability_invalid("net.local", unknown_reason);
        assert_capability_invalid("net.connect", "expected net.connect:HOST:PORT");
        assert_capability_invalid("net.connect:example.org", "expected net.connect:HOST:PORT");
        assert_capability_invalid("net.connect:example.org:0", port_reason);
        assert_capability_invalid("net.connect:example.org:70000", port_reason);
        assert_capability_invalid("net.connect:example.org:65536", port_reason);
        assert_capability_invalid("net.connect:example.org:080", port_reason);
        assert_capability_invalid("net.connect:example.org:", port_reason);
        assert_capability_invalid("net.connect:example.org:+80", port_reason);
        assert_capability_invalid("net.connect:example.org:*", port_reason);
        assert_capability_invalid("net.connect:Example.org:80", host_reason);
        assert_capability_invalid("net.connect:-a.org:80", host_reason);
        assert_capability_invalid("net.connect:a-.org:80", host_reason);
        assert_capability_invalid("net.connect:a..org:80", host_reason);
        assert_capability_invalid("net.connect:example.org.:80", host_reason);
        assert_capability_invalid("net.connect:*.example.org:80", host_reason);
        assert_capability_invalid("net.connect::80", host_reason);
        assert_capability_invalid("net.connect:a_b.org:80", host_reason);
        assert_capability_invalid("net.connect:::1:80", "an IPv6 HOST must be written in brackets");
        assert_capability_invalid("net.connect:256.1.1.1:80",
                                  "HOST must be an IPv4 address in dotted-decimal form");
        assert_capability_invalid("net.connect:010.0.0.1:80",
                                  "HOST must be an IPv4 address in dotted-decimal form");
        assert_capability_invalid("net.connect:1.2.3:80",
                                  "HOST must be an IPv4 address in dotted-decimal form");
        assert_capability_invalid("net.connect:0.0.0.0:80", "HOST must not be an unspecified address");
        assert_capability_invalid("net.connect:[::]:80", "HOST must not be an unspecified address");
        assert_capability_invalid("net.connect:[0::1]:80",
                                  "HOST in brackets must be an IPv6 address in canonical form");
        assert_capability_invalid("net.connect:[2001:DB8::1]:80",
                                  "HOST in brackets must be an IPv6 address in canonical form");
        assert_capability_invalid("net.connect:[::1]80", "expected net.connect:HOST:PORT");
        assert_capability_invalid("net.connect:[::1:80", "expected net.connect:HOST:PORT");
        assert_capability_invalid("secrets.read", "expected secrets.read:NAME");
        assert_capability_invalid("secrets.read:",
                                  "NAME must be 1-64 lowercase letters, digits, '.', '_' or '-', "
                                  "starting with a letter or digit");
        assert_capability_invalid("secrets.read:../key",
                                  "NAME must be 1-64 lowercase letters, digits, '.', '_' "
                                  "or '-', starting with a letter or digit");

        /* DNS limits: 63 bytes a label, 253 a name. */
        memset(label, 'a', 63);
        (void) snprintf(label + 63, sizeof(label) - 63, ".org:443");
        {
                _cleanup_free_ char *ok = strjoin("net.connect:", label), *bad = NULL;
                ck_assert(capability_is_valid(ok));
                memset(label, 'a', 64);
                (void) snprintf(label + 64, sizeof(label) - 64, ".org:443");
                bad = strjoin("net.connect:", label);
                assert_capability_invalid(bad, host_reason);
        }
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        for (size_t i = 63; i < sizeof(long_name) - 1; i += 64)
                long_name[i] = '.';
        {
                _cleanup_free_ char *name254 = NULL, *name253 = NULL;
                ck_assert_int_ge(asprintf(&name253, "net.connect:%.253s:1", long_name), 0);
                ck_assert_int_ge(asprintf(&name254, "net.connect:%.254s:1", long_name), 0);
                ck_assert(capability_is_valid(name253));
                assert_capability_invalid(name254, host_reason);
        }
}
END_TEST

START_TEST(test_task_settings) {
        _cleanup_(agent_card_freep) AgentCard *minimal = load_sample("minimal.json"), *boot = NULL,
                                              *keeper = NULL;
        _cleanup_json_ json_t *j = NULL;

        /* The defaults: params_json only, no workspace from a parameter, workspaces kept. */
        ck_assert_int_eq(minimal->task.typed_params, AGENT_TYPED_PARAMS_NONE);
        ck_assert_ptr_null(minimal->task.workspace_from_param);
        ck_assert_int_eq(minimal->task.keep_workspace, AGENT_KEEP_WORKSPACE_ALWAYS);
        ck_assert_int_eq(agent_card_to_json(minimal, &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "task"), "keep_workspace")),
                         "always");
        ck_assert_ptr_null(json_object_get(json_object_get(j, "task"), "typed_params"));

        boot = load_sample("task-bootstrap.json");
        ck_assert_int_eq(boot->task.typed_params, AGENT_TYPED_PARAMS_BOOTSTRAP);
        ck_assert_str_eq(boot->task.workspace_from_param, "project_name");
        ck_assert_int_eq(boot->task.keep_workspace, AGENT_KEEP_WORKSPACE_COMPLETED);
        keeper = load_sample("task-keeper.json");
        ck_assert_int_eq(keeper->task.typed_params, AGENT_TYPED_PARAMS_NONE);
        ck_assert_str_eq(keeper->task.workspace_from_param, "ws");
        assert_round_trip("task-bootstrap.json");
        assert_round_trip("task-keeper.json");

        ck_assert_str_eq(agent_keep_workspace_to_string(AGENT_KEEP_WORKSPACE_COMPLETED), "completed");
        ck_assert_int_eq(agent_typed_params_from_string("bootstrap"), AGENT_TYPED_PARAMS_BOOTSTRAP);
}
END_TEST

START_TEST(test_invalid_task_settings) {
        assert_invalid(CARD(", \"task\": {\"typed_params\": \"deploy\"}"), -EINVAL,
                       "task.typed_params: \"deploy\" is not a typed parameter message: the only one is "
                       "\"bootstrap\" (leave the field out for params_json only)");
        assert_invalid(CARD(", \"task\": {\"typed_params\": \"none\"}"), -EINVAL,
                       "task.typed_params: \"none\" is not a typed parameter message: the only one is "
                       "\"bootstrap\" (leave the field out for params_json only)");
        assert_invalid(CARD(", \"task\": {\"typed_params\": 1}"), -EINVAL,
                       "task.typed_params: expected a string, got an integer");
        assert_invalid(CARD(", \"task\": {\"keep_workspace\": \"never\"}"), -EINVAL,
                       "task.keep_workspace: \"never\" is not a workspace policy: expected \"always\" or "
                       "\"completed\"");
        assert_invalid(CARD(", \"task\": {\"workspace_from_param\": \"Project-Name\"}"), -EINVAL,
                       "task.workspace_from_param: \"Project-Name\" is not a params member name: 1-64 of "
                       "a-z 0-9 _, starting with a letter");
        assert_invalid(CARD(", \"task\": {\"workspace_from_param\": \"\"}"), -EINVAL,
                       "task.workspace_from_param: \"\" is not a params member name: 1-64 of a-z 0-9 _, "
                       "starting with a letter");
        assert_invalid(
                CARD(", \"task\": {\"typed_params\": \"bootstrap\", \"workspace_from_param\": \"force\"}"),
                -EINVAL,
                "task.workspace_from_param: \"force\" is not a string member of the bootstrap "
                "parameters: expected \"project_name\" or \"stack\"");
        assert_invalid(CARD(", \"task\": {\"keep\": \"always\"}"), -EINVAL, "task: unknown field \"keep\"");
        assert_invalid(CARD(", \"task\": []"), -EINVAL, "task: expected an object, got an array");
}
END_TEST

static void assert_bootstrap_invalid(const char *params, const char *message) {
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *p = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(json_parse(params, strlen(params), 65536, 0, JSON_PARSE_ANY_VALUE, &v, NULL), 0);
        ck_assert_int_eq(bootstrap_params_from_json(v, &p, &err), -EINVAL);
        ck_assert_ptr_null(p);
        ck_assert_msg(err && streq(err, message), "%s: got '%s'", params, strna(err));
        err = mfree(err);
        ck_assert_int_eq(typed_params_check(AGENT_TYPED_PARAMS_BOOTSTRAP, v, &err), -EINVAL);
        ck_assert_int_eq(typed_params_check(AGENT_TYPED_PARAMS_NONE, v, NULL), 0);
}

START_TEST(test_bootstrap_params) {
        static const char text[] =
                "{\"prompt\": \"make billing\", \"stack\": \"fastapi\", \"project_name\": "
                "\"billing\", \"options\": {\"python_version\": \"3.11\", \"docker\": "
                "\"no\", \"description\": \"\"}, \"open\": true}";
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *p = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL, *big = NULL, *many = NULL;

        ck_assert_int_eq(json_parse(text, strlen(text), 65536, 0, 0, &v, NULL), 0);
        ck_assert_int_eq(bootstrap_params_from_json(v, &p, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(p->stack, "fastapi");
        ck_assert_str_eq(p->project_name, "billing");
        ck_assert(!p->force);
        ck_assert(p->open);
        /* In the order given. */
        ck_assert_uint_eq(p->n_options, 3);
        ck_assert_str_eq(p->options[0]->key, "python_version");
        ck_assert_str_eq(p->options[0]->value, "3.11");
        ck_assert_str_eq(p->options[1]->key, "docker");
        ck_assert_str_eq(p->options[2]->key, "description");
        ck_assert_str_eq(p->options[2]->value, "");

        assert_bootstrap_invalid("{\"project_name\": \"billing\"}",
                                 "params.stack: required field is missing");
        assert_bootstrap_invalid("{\"stack\": \"fastapi\"}",
                                 "params.project_name: required field is missing");
        assert_bootstrap_invalid("{\"stack\": \"\", \"project_name\": \"b\"}",
                                 "params.stack: must not be empty");
        assert_bootstrap_invalid("{\"stack\": \"fastapi\", \"project_name\": \"b\", \"template\": \"x\"}",
                                 "params: unknown field \"template\"");
        assert_bootstrap_invalid("{\"stack\": \"fastapi\", \"project_name\": \"b\", \"force\": \"yes\"}",
                                 "params.force: expected a boolean, got a string");
        assert_bootstrap_invalid("{\"stack\": \"fastapi\", \"project_name\": \"b\", \"options\": []}",
                                 "params.options: expected an object, got an array");
        assert_bootstrap_invalid(
                "{\"stack\": \"fastapi\", \"project_name\": \"b\", \"options\": {\"python_version\": 3}}",
                "params.options.python_version: expected a string, got an integer");
        assert_bootstrap_invalid(
                "{\"stack\": \"fastapi\", \"project_name\": \"b\", \"options\": {\"Python-Version\": "
                "\"3\"}}",
                "params.options: \"Python-Version\" is not an option name: 1-64 of a-z 0-9 _");
        assert_bootstrap_invalid("[1]", "params: expected an object, got an array");

        /* The proto's limits: 64 bytes, 1 KiB values, 64 options. */
        ck_assert_int_ge(asprintf(&big, "{\"stack\": \"fastapi\", \"project_name\": \"%065d\"}", 0), 0);
        assert_bootstrap_invalid(big, "params.project_name: must be at most 64 bytes");
        big = mfree(big);
        ck_assert_int_ge(
                asprintf(&big,
                         "{\"stack\": \"s\", \"project_name\": \"b\", \"options\": {\"k\": \"%01025d\"}}",
                         0),
                0);
        assert_bootstrap_invalid(big,
                                 "params.options.k: must be at most 1024 bytes of UTF-8 without NUL bytes");
        many = strdup("{\"stack\": \"s\", \"project_name\": \"b\", \"options\": {");
        ck_assert_ptr_nonnull(many);
        for (unsigned i = 0; i < 65; i++) {
                char *m = NULL;
                ck_assert_int_ge(asprintf(&m, "%s%s\"k%u\": \"v\"", many, i ? ", " : "", i), 0);
                free(many);
                many = m;
        }
        big = mfree(big);
        ck_assert_int_ge(asprintf(&big, "%s}}", many), 0);
        assert_bootstrap_invalid(big, "params.options: at most 64 options");
}
END_TEST

/* Fills params from `prompt` with the stacks fastapi and django; returns the result as compact JSON. */
static char *fill_from_prompt(const char *params) {
        char *stacks[] = {(char *) "django", (char *) "fastapi", NULL};
        _cleanup_json_ json_t *v = NULL;
        char *out = NULL;

        ck_assert_int_eq(json_parse(params, strlen(params), 65536, 0, 0, &v, NULL), 0);
        ck_assert_int_eq(bootstrap_params_fill_from_prompt(v, stacks), 0);
        ck_assert_int_eq(json_dump_string(v, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, &out), 0);
        return out;
}

#define assert_filled(params, expected)                        \
        do {                                                   \
                _cleanup_free_ char *_o = fill_from_prompt(params); \
                ck_assert_str_eq(_o, expected);                \
        } while (0)

START_TEST(test_bootstrap_params_from_prompt) {
        assert_filled("{\"prompt\": \"bootstrap a FastAPI service called billing.\"}",
                      "{\"project_name\":\"billing\",\"prompt\":\"bootstrap a FastAPI service called billing.\","
                      "\"stack\":\"fastapi\"}");
        assert_filled("{\"prompt\": \"new django project named 'shop'\"}",
                      "{\"project_name\":\"shop\",\"prompt\":\"new django project named 'shop'\",\"stack\":\"django\"}");
        /* Explicit parameters win over the prompt. */
        assert_filled("{\"prompt\": \"a django site called blog\", \"stack\": \"fastapi\", \"project_name\": \"api\"}",
                      "{\"project_name\":\"api\",\"prompt\":\"a django site called blog\",\"stack\":\"fastapi\"}");
        /* The name is taken as written, for the agent to refuse; nothing named: nothing added. */
        assert_filled("{\"prompt\": \"a flask app called ../x\"}",
                      "{\"project_name\":\"../x\",\"prompt\":\"a flask app called ../x\"}");
        assert_filled("{\"prompt\": \"called\"}", "{\"prompt\":\"called\"}");
        assert_filled("{\"stack\": \"django\"}", "{\"stack\":\"django\"}");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("agentcard");
        TCase *tc = tcase_create("agentcard");

        tcase_add_test(tc, test_minimal_defaults);
        tcase_add_test(tc, test_full);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_a2a_fields);
        tcase_add_test(tc, test_invalid_names);
        tcase_add_test(tc, test_invalid_versions);
        tcase_add_test(tc, test_invalid_skills);
        tcase_add_test(tc, test_invalid_permissions);
        tcase_add_test(tc, test_invalid_exec_and_limits);
        tcase_add_test(tc, test_invalid_top_level);
        tcase_add_test(tc, test_oversize);
        tcase_add_test(tc, test_invalid_files);
        tcase_add_test(tc, test_find_skill_and_restart);
        tcase_add_test(tc, test_capability_grammar);
        tcase_add_test(tc, test_task_settings);
        tcase_add_test(tc, test_invalid_task_settings);
        tcase_add_test(tc, test_bootstrap_params);
        tcase_add_test(tc, test_bootstrap_params_from_prompt);
        suite_add_tcase(s, tc);
        return s;
}
