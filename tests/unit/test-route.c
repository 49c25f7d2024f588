/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupe-routerd's skill-match scoring (bin/troupe-routerd/route.c). */
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"
#include "check-main.h"
#include "route.h"

/* Cards are built by hand: the scoring must not depend on the parser. */
static AgentSkill echo_skills[] = {
        {.id = (char *) "echo",
         .name = (char *) "Echo parameters",
         .description = (char *) "Returns the parameters unchanged",
         .tags = (char *[]){(char *) "echo", (char *) "repeat", (char *) "test", NULL},
         .examples = (char *[]){(char *) "echo hello world", NULL}},
        {.id = (char *) "wait",
         .name = (char *) "Wait and answer",
         .description = (char *) "Waits for a delay, then completes",
         .tags = (char *[]){(char *) "sleep", (char *) "delay", NULL},
         .examples = (char *[]){(char *) "wait two seconds", NULL}},
};
static AgentSkill bootstrap_skills[] = {
        {.id = (char *) "bootstrap",
         .name = (char *) "Bootstrap a project",
         .description = (char *) "Creates a new service from a template",
         .tags = (char *[]){(char *) "fastapi", (char *) "template", (char *) "scaffold", NULL},
         .examples = (char *[]){(char *) "bootstrap a FastAPI service called billing", NULL}},
};
static AgentSkill review_skills[] = {
        {.id = (char *) "code-review",
         .name = (char *) "Review code",
         .description = (char *) "Reads a repository and comments on its code",
         .tags = (char *[]){(char *) "review", (char *) "lint", NULL},
         .examples = (char *[]){(char *) "review this repo", NULL}},
};
/* Same words as "reviewer", for ties. */
static AgentSkill review2_skills[] = {
        {.id = (char *) "code-review",
         .name = (char *) "Review code",
         .description = (char *) "Reads a repository and comments on its code",
         .tags = (char *[]){(char *) "review", (char *) "lint", NULL},
         .examples = (char *[]){(char *) "review this repo", NULL}},
};

static AgentCard echo = {.name = (char *) "echo",
                         .description = (char *) "Sample agent",
                         .version = (char *) "1.0",
                         .skills = echo_skills,
                         .n_skills = ELEMENTSOF(echo_skills)};
static AgentCard bootstrap = {.name = (char *) "bootstrap",
                              .description = (char *) "Project generator",
                              .version = (char *) "1.0",
                              .skills = bootstrap_skills,
                              .n_skills = ELEMENTSOF(bootstrap_skills)};
static AgentCard reviewer = {.name = (char *) "reviewer",
                             .description = (char *) "Code reviewer",
                             .version = (char *) "1.0",
                             .skills = review_skills,
                             .n_skills = ELEMENTSOF(review_skills)};
static AgentCard reviewer2 = {.name = (char *) "another-reviewer",
                              .description = (char *) "Code reviewer",
                              .version = (char *) "1.0",
                              .skills = review2_skills,
                              .n_skills = ELEMENTSOF(review2_skills)};

static AgentCard *all[] = {&echo, &bootstrap, &reviewer};

static char *joined(char **l) {
        size_t n = 1;
        char *s;

        STRV_FOREACH(t, l)
                n += strlen(*t) + 1;
        s = calloc(1, n);
        ck_assert_ptr_nonnull(s);
        STRV_FOREACH(t, l) {
                if (*s)
                        strcat(s, " ");
                strcat(s, *t);
        }
        return s;
}

START_TEST(test_tokenize) {
        _cleanup_strv_free_ char **t = NULL;
        _cleanup_free_ char *j = NULL;

        ck_assert_int_eq(route_tokenize("Please bootstrap a FastAPI service, called Billing! billing?", &t),
                         0);
        j = joined(t);
        ck_assert_str_eq(j, "bootstrap fastapi service called billing");
        t = strv_free(t);
        j = mfree(j);

        /* Stop words only, punctuation only, nothing. */
        ck_assert_int_eq(route_tokenize("what is the ... of it?", &t), 0);
        ck_assert_uint_eq(strv_length(t), 0);
        t = strv_free(t);
        ck_assert_int_eq(route_tokenize(NULL, &t), 0);
        ck_assert_uint_eq(strv_length(t), 0);
        t = strv_free(t);

        /* Non-ASCII letters stay inside words; words are cut, not dropped. */
        ck_assert_int_eq(route_tokenize("Überprüfe café-Code", &t), 0);
        j = joined(t);
        ck_assert_str_eq(j, "Überprüfe café code");
}
END_TEST

START_TEST(test_tokenize_limits) {
        _cleanup_strv_free_ char **t = NULL;
        _cleanup_free_ char *big = malloc(ROUTE_TOKENS_MAX * 8 + 200), *longword = malloc(300);
        size_t n = 0;

        ck_assert_ptr_nonnull(big);
        for (unsigned i = 0; i < ROUTE_TOKENS_MAX + 20; i++)
                n += (size_t) sprintf(big + n, "w%u ", i);
        ck_assert_int_eq(route_tokenize(big, &t), 0);
        ck_assert_uint_eq(strv_length(t), ROUTE_TOKENS_MAX);
        t = strv_free(t);

        memset(longword, 'x', 299);
        longword[299] = '\0';
        ck_assert_int_eq(route_tokenize(longword, &t), 0);
        ck_assert_uint_eq(strv_length(t), 1);
        ck_assert_uint_eq(strlen(t[0]), 64);
}
END_TEST

START_TEST(test_score) {
        _cleanup_strv_free_ char **t = NULL;
        const char *skill = NULL;
        double s, s2;

        /* Every word in the skill id: a perfect match. */
        ck_assert_int_eq(route_tokenize("echo", &t), 0);
        s = route_score_card(&echo, t, &skill);
        ck_assert(s == 1.0);
        ck_assert_str_eq(skill, "echo");
        t = strv_free(t);

        /* The same word in a weaker field scores lower; nothing scores 0. */
        ck_assert_int_eq(route_tokenize("sleep", &t), 0);
        s = route_score_card(&echo, t, &skill);
        ck_assert(s > 0.0 && s < 1.0);
        ck_assert_str_eq(skill, "wait");
        ck_assert(route_score_card(&bootstrap, t, NULL) == 0.0);
        t = strv_free(t);

        /* A prefix match ("echoes" ~ "echo") counts, less than the exact word. */
        ck_assert_int_eq(route_tokenize("echoes", &t), 0);
        s2 = route_score_card(&echo, t, NULL);
        ck_assert(s2 > 0.0 && s2 < 1.0);
        t = strv_free(t);
        /* ... but short words do not match by prefix. */
        ck_assert_int_eq(route_tokenize("ech", &t), 0);
        ck_assert(route_score_card(&echo, t, NULL) == 0.0);
        t = strv_free(t);

        /* Normalised by the words of the prompt: unmatched words lower the score, within 0..1. */
        ck_assert_int_eq(route_tokenize("echo unrelated words here", &t), 0);
        s = route_score_card(&echo, t, NULL);
        ck_assert(s > 0.2 && s < 0.5);
        t = strv_free(t);

        /* An empty prompt matches nothing. */
        ck_assert_int_eq(route_tokenize("", &t), 0);
        ck_assert(route_score_card(&echo, t, &skill) == 0.0);
        ck_assert_ptr_null(skill);
}
END_TEST

static void check_best(const char *prompt, const char *agent) {
        _cleanup_free_ RouteCandidate *c = NULL;
        int n = route_rank(all, ELEMENTSOF(all), prompt, &c);

        ck_assert_int_ge(n, 1);
        ck_assert_msg(streq(c[0].card->name, agent), "prompt '%s': expected %s first, got %s (%.3f)", prompt,
                      agent, c[0].card->name, c[0].score);
        for (int i = 1; i < n; i++)
                ck_assert(c[i - 1].score >= c[i].score);
        for (int i = 0; i < n; i++)
                ck_assert(c[i].score > 0.0 && c[i].score <= 1.0);
}

START_TEST(test_rank) {
        _cleanup_free_ RouteCandidate *c = NULL;

        check_best("bootstrap a FastAPI service called billing", "bootstrap");
        check_best("please review this repo", "reviewer");
        check_best("echo hello", "echo");
        check_best("reviewing the code", "reviewer");
        check_best("wait two seconds", "echo");
        check_best("scaffold a new service from a template", "bootstrap");

        /* Nothing in common: no candidates at all. */
        ck_assert_int_eq(route_rank(all, ELEMENTSOF(all), "xyzzy plugh", &c), 0);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(route_rank(all, ELEMENTSOF(all), "", &c), 0);
        ck_assert_int_eq(route_rank(NULL, 0, "echo", &c), 0);
}
END_TEST

START_TEST(test_rank_ties) {
        AgentCard *two[] = {&reviewer, &reviewer2};
        _cleanup_free_ RouteCandidate *c = NULL;

        /* Equal scores come out by name, whatever the input order. */
        ck_assert_int_eq(route_rank(two, ELEMENTSOF(two), "review", &c), 2);
        ck_assert(c[0].score == c[1].score);
        ck_assert_str_eq(c[0].card->name, "another-reviewer");
        ck_assert_str_eq(c[1].card->name, "reviewer");
        ck_assert_str_eq(c[0].skill, "code-review");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("route");
        TCase *tc = tcase_create("score");

        tcase_add_test(tc, test_tokenize);
        tcase_add_test(tc, test_tokenize_limits);
        tcase_add_test(tc, test_score);
        tcase_add_test(tc, test_rank);
        tcase_add_test(tc, test_rank_ties);
        suite_add_tcase(s, tc);
        return s;
}
