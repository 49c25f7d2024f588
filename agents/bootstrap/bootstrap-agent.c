/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent side: checks the parameters against the template's manifest, then runs the steps
 * (render, test, serve, clean) through ExecRequest in the task's sandbox, then exec.editor if asked. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/agent-sdk.h"
#include "agent/typed-params.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bootstrap.h"
#include "json/json-util.h"
#include "template/template.h"

typedef enum Step { STEP_RENDER, STEP_TEST, STEP_SERVE, STEP_CLEAN, STEP_OPEN, _STEP_MAX } Step;

static const char *const step_table[_STEP_MAX] = {
        [STEP_RENDER] = "render", [STEP_TEST] = "test", [STEP_SERVE] = "serve", [STEP_CLEAN] = "clean",
        [STEP_OPEN] = "open",
};
/* Progress when each step starts. */
static const double step_progress[_STEP_MAX] = { 0.05, 0.35, 0.65, 0.9, 0.95 };

static char *self_exe; /* absolute path of this binary, for the steps */

typedef struct Bootstrap {
        AgentTask *task;
        Template *template;
        char *templates_dir;
        char **values;     /* KEY=VALUE, every option */
        char *project_dir; /* relative to the workspace */
        bool force, open;
        Step step;
        sd_event_source *defer;
        json_t *files;
        json_t *checks;
} Bootstrap;

static Bootstrap *bootstrap_free(Bootstrap *b) {
        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->defer);
        template_free(b->template);
        free(b->templates_dir);
        strv_free(b->values);
        free(b->project_dir);
        json_decref(b->files);
        json_decref(b->checks);
        return mfree(b);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Bootstrap *, bootstrap_free);

/* Ends the task (the SDK frees it) and forgets it. */
static void bootstrap_end(Bootstrap *b, json_t *result, const char *error) {
        AgentTask *t = b->task;

        agent_task_set_userdata(t, NULL);
        bootstrap_free(b);
        if (error)
                (void) agent_task_fail(t, error);
        else
                (void) agent_task_complete(t, result);
}

static void bootstrap_failf(Bootstrap *b, const char *format, ...) _printf_(2, 3);
static void bootstrap_failf(Bootstrap *b, const char *format, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        bootstrap_end(b, NULL, m ?: "out of memory");
}

static json_t *bootstrap_result(Bootstrap *b) {
        _cleanup_free_ char *path = NULL, *run = NULL, *cmd = NULL;
        json_t *options = json_object();

        path = strjoin(agent_task_get_workspace(b->task), "/", b->project_dir);
        (void) template_expand(b->template->run, b->values, NULL, NULL, &run, NULL);
        if (path && run)
                cmd = strjoin("cd ", path, " && ", run);
        STRV_FOREACH(v, b->values) {
                const char *eq = strchr(*v, '=');
                _cleanup_free_ char *k = strndup(*v, eq - *v);
                if (k)
                        (void) json_object_set_new(options, k, json_string(eq + 1));
        }
        return json_pack("{s:s, s:s, s:s?, s:O?, s:O, s:s?, s:o}", "stack", b->template->name, "project_name",
                         template_values_get(b->values, "project_name"), "path", path, "files", b->files, "checks",
                         b->checks, "run", cmd, "options", options);
}

/* The step's final line in the exec's output, parsed. */
static json_t *parse_step_line(const AgentExecResult *r) {
        const char *p = NULL, *end = (const char *) r->output + r->output_size;
        _cleanup_free_ char *line = NULL;
        json_t *j = NULL;

        for (const char *s = (const char *) r->output; s && s < end;) {
                const char *hit = memmem(s, end - s, BOOTSTRAP_STEP_PREFIX, STRLEN(BOOTSTRAP_STEP_PREFIX));
                if (!hit)
                        break;
                if (hit == (const char *) r->output || hit[-1] == '\n')
                        p = hit;
                s = hit + 1;
        }
        if (!p)
                return NULL;
        p += STRLEN(BOOTSTRAP_STEP_PREFIX);
        const char *nl = memchr(p, '\n', end - p);
        line = strndup(p, (nl ?: end) - p);
        if (!line)
                return NULL;
        (void) json_parse(line, strlen(line), AGENT_EXEC_OUTPUT_MAX, 0, 0, &j, NULL);
        return j;
}

static int run_step(Bootstrap *b);

static void on_action(AgentTask *t, const AgentActionResult *r, void *userdata) {
        Bootstrap *b = userdata;
        _cleanup_json_ json_t *result = NULL;
        static const char *const status[] = {
                [AGENT_ACTION_DONE] = "done", [AGENT_ACTION_DENIED] = "denied",
                [AGENT_ACTION_CONSENT_PENDING] = "consent-pending", [AGENT_ACTION_FAILED] = "failed",
        };
        const char *s = (size_t) r->status < ELEMENTSOF(status) && status[r->status] ? status[r->status] : "failed";

        if (r->status == AGENT_ACTION_CONSENT_PENDING) {
                (void) agent_task_logf(t, "Opening the project in the editor waits for consent (%s).", r->consent_id);
                return;
        }
        (void) agent_task_logf(t, "Open in editor: %s%s%s", s, isempty(r->message) ? "" : ": ", strempty(r->message));
        result = bootstrap_result(b);
        if (result)
                (void) json_object_set_new(result, "open", json_pack("{s:s, s:s}", "status", s, "message", strempty(r->message)));
        (void) agent_task_progress(t, 1.0, "done");
        bootstrap_end(b, result, result ? NULL : "out of memory");
}

/* A task's error is cut at 1 KiB, and the end of a failed command's output says why it failed (the
 * last line of a traceback): keep the last `max` bytes, from a line start when there is one. */
#define ERROR_TAIL_MAX 768U
static const char *tail_end(const char *s, size_t n, size_t max) {
        const char *p, *nl;

        if (n <= max)
                return s;
        p = s + n - max;
        nl = memchr(p, '\n', s + n - p);
        if (nl && nl + 1 < s + n)
                return nl + 1;
        while (p < s + n && ((unsigned char) *p & 0xC0) == 0x80) /* not in the middle of a character */
                p++;
        return p;
}

static void on_exec(AgentTask *t, const AgentExecResult *r, void *userdata) {
        Bootstrap *b = userdata;
        _cleanup_json_ json_t *j = NULL;
        const char *name = step_table[b->step];
        json_t *ok;

        if (r->error) {
                bootstrap_failf(b, "step %s: %s", name, r->error);
                return;
        }
        j = parse_step_line(r);
        ok = json_object_get(j, "ok");
        if (!j || !json_is_boolean(ok)) {
                const char *out = tail_end((const char *) r->output, r->output_size, ERROR_TAIL_MAX);
                _cleanup_free_ char *tail = utf8_sanitize_copy(out, (const char *) r->output + r->output_size - out,
                                                               ERROR_TAIL_MAX, NULL);
                bootstrap_failf(b, "step %s ended without a result (exit status %d, signal %d): %s", name, r->exit_code,
                                r->signal, strna(tail));
                return;
        }
        if (b->step == STEP_TEST || b->step == STEP_SERVE) {
                json_t *check = json_pack("{s:s, s:b, s:s, s:O}", "name", name, "ok", json_is_true(ok), "output_tail",
                                          json_string_value(json_object_get(j, "output_tail")) ?: "", "duration_ms",
                                          json_object_get(j, "duration_ms") ?: json_integer(0));
                if (check)
                        (void) json_array_append_new(b->checks, check);
        }
        if (!json_is_true(ok)) {
                const char *tail = json_string_value(json_object_get(j, "output_tail"));
                if (tail)
                        tail = tail_end(tail, strlen(tail), ERROR_TAIL_MAX);
                bootstrap_failf(b, "%s failed: %s%s%s", name, strna(json_string_value(json_object_get(j, "error"))),
                                tail ? "\n" : "", strempty(tail));
                return;
        }
        if (b->step == STEP_RENDER) {
                b->files = json_incref(json_object_get(j, "files"));
                (void) agent_task_logf(t, "Rendered %s: %zu files.", b->project_dir, json_array_size(b->files));
        } else
                (void) agent_task_logf(t, "Check %s passed in %" JSON_INTEGER_FORMAT " ms.", name,
                                       json_integer_value(json_object_get(j, "duration_ms")));
        b->step++;
        if (run_step(b) < 0)
                bootstrap_failf(b, "cannot start step %s", step_table[b->step]);
}

static int exec_env(char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        const char *v;
        int r = 0;

        /* A binary in the build tree finds libtroupe through the libtool wrapper's variable. */
        v = getenv("LD_LIBRARY_PATH");
        if (v) {
                _cleanup_free_ char *e = strjoin("LD_LIBRARY_PATH=", v);
                r = e ? strv_extend(&env, e) : -ENOMEM;
        }
        /* LeakSanitizer cannot run confined. */
        v = getenv("ASAN_OPTIONS");
        if (r >= 0 && v) {
                _cleanup_free_ char *e = strjoin("ASAN_OPTIONS=", v, ":detect_leaks=0");
                r = e ? strv_extend(&env, e) : -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

static int run_step(Bootstrap *b) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        AgentExecOptions o = {};
        char msg[64];
        int r;

        if (b->step == STEP_OPEN && !b->open) {
                _cleanup_json_ json_t *result = bootstrap_result(b);
                (void) agent_task_progress(b->task, 1.0, "done");
                bootstrap_end(b, result, result ? NULL : "out of memory");
                return 0;
        }
        snprintf(msg, sizeof(msg), "%s", step_table[b->step]);
        (void) agent_task_progress(b->task, step_progress[b->step], msg);
        if (b->step == STEP_OPEN) {
                (void) agent_task_logf(b->task, "Asking to open %s in the editor.", b->project_dir);
                return agent_task_action(b->task, "exec.editor", (char *const[]) { b->project_dir, NULL }, on_action, b);
        }

        const char *fixed[] = { self_exe, "step", step_table[b->step], "--templates-dir", b->templates_dir,
                                "--python", template_get_python(), "--stack", b->template->name };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                r = strv_extend(&argv, fixed[i]);
                if (r < 0)
                        return r;
        }
        if (b->force && strv_extend(&argv, "--force") < 0)
                return -ENOMEM;
        if (strv_extend(&argv, "--") < 0)
                return -ENOMEM;
        STRV_FOREACH(v, b->values)
                if (strv_extend(&argv, *v) < 0)
                        return -ENOMEM;
        r = exec_env(&env);
        if (r < 0)
                return r;
        o.env = env;
        switch (b->step) {
        case STEP_RENDER:
                o.timeout_usec = 330 * USEC_PER_SEC;
                (void) agent_task_logf(b->task, "Rendering the %s template into %s.", b->template->name, b->project_dir);
                break;
        case STEP_TEST:
                o.timeout_usec = (b->template->checks.test_timeout_sec + 30) * USEC_PER_SEC;
                (void) agent_task_logf(b->task, "Running the project's tests.");
                break;
        case STEP_SERVE:
                o.timeout_usec = (3 * b->template->checks.serve_timeout_sec + 60) * USEC_PER_SEC;
                (void) agent_task_logf(b->task, "Starting the dev server and probing %s.",
                                       b->template->checks.health_path);
                break;
        case STEP_CLEAN:
        case STEP_OPEN:
        case _STEP_MAX:
                o.timeout_usec = 60 * USEC_PER_SEC;
                break;
        }
        return agent_task_exec(b->task, argv, &o, on_exec, b);
}

static int on_defer(sd_event_source *s, void *userdata) {
        Bootstrap *b = userdata;

        b->defer = sd_event_source_disable_unref(b->defer);
        if (run_step(b) < 0)
                bootstrap_failf(b, "cannot start step %s", step_table[b->step]);
        return 0;
}

/* ---- parameters: typed, params_json, or the prompt ---- */

typedef struct Params {
        char *stack;
        char *project_name;
        char **assignments;
        bool force, open;
} Params;

static void params_done(Params *p) {
        free(p->stack);
        free(p->project_name);
        strv_free(p->assignments);
}

static int params_from_typed(const AgentBootstrapParams *bp, Params *p) {
        p->stack = strdup(bp->stack);
        p->project_name = strdup(bp->project_name);
        if (!p->stack || !p->project_name)
                return -ENOMEM;
        for (size_t i = 0; i < bp->n_options; i++) {
                _cleanup_free_ char *e = strjoin(bp->options[i].key, "=", bp->options[i].value);
                if (!e || strv_extend(&p->assignments, e) < 0)
                        return -ENOMEM;
        }
        p->force = bp->force;
        p->open = bp->open;
        return 0;
}

static int params_from_json(json_t *j, Params *p, char **ret_reason) {
        json_t *stack = json_object_get(j, "stack"), *name = json_object_get(j, "project_name"),
               *options = json_object_get(j, "options"), *v;
        const char *key;

        if (!json_is_string(stack) || !json_is_string(name))
                return asprintf_safe(ret_reason, "params: stack and project_name must be strings") < 0 ? -ENOMEM : -EINVAL;
        if (options && !json_is_object(options))
                return asprintf_safe(ret_reason, "params.options must be an object of strings") < 0 ? -ENOMEM : -EINVAL;
        p->stack = strdup(json_string_value(stack));
        p->project_name = strdup(json_string_value(name));
        if (!p->stack || !p->project_name)
                return -ENOMEM;
        json_object_foreach(options, key, v) {
                _cleanup_free_ char *e = NULL;
                if (!json_is_string(v))
                        return asprintf_safe(ret_reason, "params.options.%s must be a string", key) < 0 ? -ENOMEM : -EINVAL;
                e = strjoin(key, "=", json_string_value(v));
                if (!e || strv_extend(&p->assignments, e) < 0)
                        return -ENOMEM;
        }
        p->force = json_is_true(json_object_get(j, "force"));
        p->open = json_is_true(json_object_get(j, "open"));
        return 0;
}

/* Neither typed parameters nor a stack and name in params_json: the prompt may name them ("bootstrap a
 * FastAPI service called billing"), read the same way as the registry reads it. */
static int params_from_prompt(json_t *j, const char *dir, Params *p, char **ret_reason) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ json_t *copy = json_deep_copy(j);
        _cleanup_free_ char *known = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        (void) template_list_names(dir, &names);
        r = bootstrap_params_fill_from_prompt(copy, names);
        if (r < 0)
                return r;
        if (json_object_get(copy, "stack") && json_object_get(copy, "project_name"))
                return params_from_json(copy, p, ret_reason);

        STRV_FOREACH(n, names) {
                char *k = strjoin(strempty(known), known ? ", " : "", *n);
                if (!k)
                        return -ENOMEM;
                free(known);
                known = k;
        }
        return asprintf_safe(ret_reason,
                             "cannot tell from the request which stack and name to use: say e.g. "
                             "\"bootstrap a fastapi service called billing\" (stacks: %s)",
                             known ?: "none installed") < 0
                       ? -ENOMEM
                       : -EINVAL;
}

static int params_get(AgentTask *t, const char *dir, Params *p, char **ret_reason) {
        const AgentBootstrapParams *bp = agent_task_get_bootstrap_params(t);
        json_t *j = agent_task_get_params(t);

        if (bp)
                return params_from_typed(bp, p);
        if (json_object_get(j, "stack") || json_object_get(j, "project_name"))
                return params_from_json(j, p, ret_reason);
        if (json_is_object(j))
                return params_from_prompt(j, dir, p, ret_reason);
        return asprintf_safe(ret_reason, "no bootstrap parameters: give stack and project_name") < 0 ? -ENOMEM : -EINVAL;
}

static int reject(AgentTask *t, const char *reason) {
        (void) agent_task_set_reject_reason(t, reason);
        return -EINVAL;
}

static int bootstrap_start(Agent *a, AgentTask *t, void *userdata) {
        _cleanup_(bootstrap_freep) Bootstrap *b = NULL;
        _cleanup_(params_done) Params p = {};
        _cleanup_free_ char *why = NULL;
        int r;

        b = calloc(1, sizeof(Bootstrap));
        if (!b)
                return -ENOMEM;
        b->task = t;
        r = template_get_dir(&b->templates_dir);
        if (r < 0)
                return reject(t, "TROUPE_TEMPLATES_DIR must be an absolute path");
        r = params_get(t, b->templates_dir, &p, &why);
        if (r < 0)
                return r == -ENOMEM ? r : reject(t, strna(why));
        r = template_load(b->templates_dir, p.stack, &b->template, &why);
        if (r < 0)
                return r == -ENOMEM ? r : reject(t, strna(why));
        r = template_values_build(b->template, p.assignments, p.project_name, &b->values, &why);
        if (r < 0)
                return r == -ENOMEM ? r : reject(t, strna(why));
        r = template_expand(b->template->project_dir, b->values, NULL, NULL, &b->project_dir, &why);
        if (r < 0)
                return r == -ENOMEM ? r : reject(t, strna(why));
        if (isempty(agent_task_get_workspace(t)))
                return reject(t, "the task has no workspace");
        b->force = p.force;
        b->open = p.open;
        b->checks = json_array();
        if (!b->checks)
                return -ENOMEM;
        r = sd_event_add_defer(agent_get_event(a), &b->defer, on_defer, b);
        if (r < 0)
                return r;
        (void) agent_task_progress(t, 0.0, "accepted");
        agent_task_set_userdata(t, b);
        TAKE_PTR(b);
        return 0;
}

static int bootstrap_cancel(Agent *a, AgentTask *t, void *userdata) {
        /* The registry stops the step's processes; forget the task, the SDK ends it canceled. */
        bootstrap_free(agent_task_get_userdata(t));
        agent_task_set_userdata(t, NULL);
        return 0;
}

int bootstrap_agent_main(int argc, char *argv[]) {
        static const AgentDefinition def = {
                .name = "bootstrap",
                .summary = "Makes a new project from a template (FastAPI, Django) and checks that it works.",
                .start = bootstrap_start,
                .cancel = bootstrap_cancel,
        };
        char buf[PATH_MAX];
        ssize_t n;

        n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n <= 0 || buf[0] != '/') {
                fprintf(stderr, "Cannot resolve /proc/self/exe: %m\n");
                return 1;
        }
        buf[n] = 0;
        self_exe = buf;
        return agent_main(&def, argc, argv);
}
