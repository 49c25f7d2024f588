/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The consent policy file: parsed all or nothing, read again when it changes, first matching rule wins. */
#include "registryd-consent-policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agentcard.h"
#include "agent/capability.h"
#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"

struct ConsentPolicy {
        char *path;
        /* What the rules were read from; a change of any of these means the file changed. */
        bool seen;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        ConsentRule *rules;
        size_t n_rules;
};

void consent_rules_free(ConsentRule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(rules[i].agent);
                free(rules[i].capability);
        }
        free(rules);
}

ConsentPolicy *consent_policy_free(ConsentPolicy *p) {
        if (!p)
                return NULL;
        consent_rules_free(p->rules, p->n_rules);
        free(p->path);
        return mfree(p);
}

typedef struct PolicyParse {
        int64_t version;
        ConsentRule *rules;
        size_t n_rules;
} PolicyParse;

static int dispatch_rule_agent(const char *path, json_t *v, const JsonDispatch *field, void *data,
                               char **ret_error) {
        const char *s = json_string_value(v);

        if (!streq(s, "*") && (!name_is_valid(s, AGENT_NAME_MAX) || strlen(s) != json_string_length(v)))
                return json_dispatch_fail(ret_error, path, "must be an agent name or \"*\"");
        return free_and_strdup(data, s);
}

static int dispatch_rule_capability(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                    char **ret_error) {
        _cleanup_free_ char *q = NULL;
        const char *s = json_string_value(v), *reason = NULL;

        if (strlen(s) != json_string_length(v) || capability_check(s, &reason) < 0) {
                if (json_quote(s, 64, &q) < 0)
                        return -ENOMEM;
                return json_dispatch_fail(ret_error, path, "invalid capability %s: %s", q,
                                          reason ?: "contains a NUL byte");
        }
        return free_and_strdup(data, s);
}

static int dispatch_rule_decision(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                  char **ret_error) {
        const char *s = json_string_value(v);

        if (streq(s, "allow"))
                *(bool *) data = true;
        else if (streq(s, "deny"))
                *(bool *) data = false;
        else
                return json_dispatch_fail(ret_error, path, "must be \"allow\" or \"deny\"");
        return 0;
}

static const JsonDispatch consent_rule_table[] = {
        {"agent", JSON_FIELD_STRING, dispatch_rule_agent, offsetof(ConsentRule, agent),
         JSON_DISPATCH_MANDATORY},
        {"capability", JSON_FIELD_STRING, dispatch_rule_capability, offsetof(ConsentRule, capability),
         JSON_DISPATCH_MANDATORY},
        {"decision", JSON_FIELD_STRING, dispatch_rule_decision, offsetof(ConsentRule, allow),
         JSON_DISPATCH_MANDATORY},
        {},
};

static int dispatch_rule(const char *path, json_t *v, size_t index, const JsonDispatch *field, void *data,
                         char **ret_error) {
        PolicyParse *p = data;
        ConsentRule rule = {}, *n;
        int r;

        r = json_dispatch(v, path, consent_rule_table, 0, &rule, ret_error);
        if (r < 0) {
                free(rule.agent);
                free(rule.capability);
                return r;
        }
        n = reallocarray(p->rules, p->n_rules + 1, sizeof(ConsentRule));
        if (!n) {
                free(rule.agent);
                free(rule.capability);
                return -ENOMEM;
        }
        p->rules = n;
        p->rules[p->n_rules++] = rule;
        return 0;
}

static const JsonDispatch consent_policy_table[] = {
        {"version", JSON_FIELD_INTEGER, json_dispatch_int64, offsetof(PolicyParse, version),
         JSON_DISPATCH_MANDATORY, .min_int = 1, .max_int = 1},
        {"rules", JSON_FIELD_ARRAY, json_dispatch_array, 0, JSON_DISPATCH_MANDATORY,
         .element = dispatch_rule, .max_count = CONSENT_POLICY_RULES_MAX},
        {},
};

/* Parses the policy: all or nothing, so a typo never half-applies. */
int consent_policy_parse(const char *text, size_t size, ConsentRule **ret, size_t *ret_n, char **ret_error) {
        _cleanup_json_ json_t *v = NULL;
        PolicyParse p = {};
        int r;

        r = json_parse(text, size, CONSENT_POLICY_SIZE_MAX, 0, 0, &v, ret_error);
        if (r < 0)
                return r;
        if (!json_is_object(v))
                return json_dispatch_fail(ret_error, "", "expected an object, got %s", json_kind_name(v));
        r = json_dispatch(v, "", consent_policy_table, 0, &p, ret_error);
        if (r < 0) {
                consent_rules_free(p.rules, p.n_rules);
                return r;
        }
        *ret = p.rules;
        *ret_n = p.n_rules;
        return 0;
}

/* Re-reads the policy when the file is not the one read last (another inode, size or mtime). A file
 * that is refused is remembered the same way, so its error is logged once, not at every request. */
void consent_policy_refresh(ConsentPolicy *p) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_close_ int fd = -EBADF;
        ConsentRule *rules = NULL;
        size_t n = 0, size = 0;
        struct stat st;
        int r;

        if (stat(p->path, &st) < 0) {
                if (p->seen && errno == ENOENT)
                        log_info("Consent policy %s removed; every request asks the user.", p->path);
                else if (errno != ENOENT)
                        log_warning_errno(-errno, "Failed to check the consent policy %s, ignoring it: %m",
                                          p->path);
                consent_rules_free(TAKE_PTR(p->rules), p->n_rules);
                p->n_rules = 0;
                p->seen = false;
                return;
        }
        if (p->seen && st.st_dev == p->dev && st.st_ino == p->ino && st.st_size == p->size &&
            st.st_mtim.tv_sec == p->mtime.tv_sec && st.st_mtim.tv_nsec == p->mtime.tv_nsec)
                return;

        consent_rules_free(TAKE_PTR(p->rules), p->n_rules);
        p->n_rules = 0;

        fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                r = -errno;
        else if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EBADFD;
        else
                r = read_full_fd(fd, CONSENT_POLICY_SIZE_MAX, &text, &size);
        /* Remember this version of the file whatever it holds: a bad one is not read again until
         * it changes. */
        p->seen = true;
        p->dev = st.st_dev;
        p->ino = st.st_ino;
        p->size = st.st_size;
        p->mtime = st.st_mtim;

        if (r == -EBADFD) {
                log_error(
                        "Consent policy %s is not a regular file; ignoring it, every request asks the user.",
                        p->path);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to read the consent policy %s, ignoring it: %m", p->path);
                return;
        }
        r = consent_policy_parse(text, size, &rules, &n, &error);
        if (r == -ENOMEM) {
                log_oom();
                p->seen = false; /* try again next time */
                return;
        }
        if (r < 0) {
                log_error("Consent policy %s rejected: %s; ignoring the whole file, every request asks the "
                          "user.",
                          p->path, error ?: strerror(-r));
                return;
        }
        p->rules = rules;
        p->n_rules = n;
        log_info("Consent policy %s loaded: %zu rules.", p->path, n);
}

int consent_rules_decide(const ConsentRule *rules, size_t n, const char *agent, const char *capability) {
        for (size_t i = 0; i < n; i++) {
                const ConsentRule *rule = &rules[i];

                if ((streq(rule->agent, "*") || streq(rule->agent, agent)) &&
                    streq(rule->capability, capability))
                        return rule->allow ? 1 : -EACCES;
        }
        return 0;
}

int consent_policy_new(const char *path, ConsentPolicy **ret) {
        ConsentPolicy *p;

        assert_return(path && ret, -EINVAL);

        p = calloc(1, sizeof(ConsentPolicy));
        if (!p)
                return -ENOMEM;
        p->path = strdup(path);
        if (!p->path)
                return mfree(p), -ENOMEM;
        *ret = p;
        return 0;
}

int consent_policy_decide(ConsentPolicy *p, const char *agent, const char *capability) {
        if (!p)
                return 0;
        consent_policy_refresh(p);
        return consent_rules_decide(p->rules, p->n_rules, agent, capability);
}
