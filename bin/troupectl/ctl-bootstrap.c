/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl bootstrap: make a project from a template (docs/templates.md) with the bootstrap agent,
 * and optionally follow it to its end; `bootstrap --list` shows the installed templates. The stack,
 * the option names and their values are checked here with lib/template for a clear message before
 * anything is sent; the agent checks them again and decides. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/daemon-util.h"
#include "ctl-bus.h"
#include "ctl-consent.h"
#include "ctl-open.h"
#include "ctl-output.h"
#include "ctl-stream.h"
#include "ctl-tasks.h"
#include "json/json-util.h"
#include "template/template.h"

/* The agent the router starts for bootstrap tasks (agents/bootstrap/bootstrap.json). */
#define BOOTSTRAP_AGENT "bootstrap"
/* The registry refuses params over 64 KiB. */
/* One event line: a task result plus its envelope, as in ctl-stream.c. */
#define BOOTSTRAP_EVENT_LINE_MAX (16U * 1024U * 1024U)
#define BOOTSTRAP_READ_CHUNK (64U * 1024U)

/* --- --list ----------------------------------------------------------------------------------- */

/* "3.11, 3.12, 3.10" */
static char *list_join(json_t *a) {
        char *s = strdup("");
        json_t *v;
        size_t i;

        json_array_foreach(a, i, v) {
                char *n;

                if (!s)
                        return NULL;
                n = strjoin(s, i > 0 ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
                free(s);
                s = n;
        }
        return s;
}

static int list_print_option(json_t *o) {
        json_t *choices = json_object_get(o, "choices");
        _cleanup_free_ char *def = NULL, *list = list_join(choices);
        const char *name = json_get_string(o, "name", "?"), *type = json_get_string(o, "type", "?");

        if (!list)
                return log_oom();
        if (json_is_true(json_object_get(o, "required")))
                def = strdup(streq(name, "project_name") ? "required: the NAME operand" : "required");
        else
                (void) asprintf_safe(&def, "default \"%s\"", json_get_string(o, "default", ""));
        if (!def)
                return log_oom();
        printf("    %-16s %s, %s%s%s\n", name, type, def, json_array_size(choices) > 0 ? "; one of " : "",
               list);
        printf("    %-16s %s\n", "", json_get_string(o, "help", ""));
        return 0;
}

static int bootstrap_list(Ctl *c) {
        _cleanup_template_list_free_ Template **l = NULL;
        _cleanup_json_ json_t *all = json_array();
        _cleanup_free_ char *dir = NULL, *error = NULL;
        int r;

        if (!all)
                return log_oom();
        r = template_get_dir(&dir);
        if (r < 0)
                return log_error_errno(r, "$TROUPE_TEMPLATES_DIR must be an absolute path.");
        r = template_list(dir, &l, &error);
        if (r == -ENOENT)
                return log_error_errno(
                        r,
                        "No templates in %s: reinstall troupe, or point $TROUPE_TEMPLATES_DIR "
                        "at a templates folder.",
                        dir);
        if (r < 0)
                return log_error_errno(r, "The templates in %s cannot be used: %s", dir,
                                       error ?: strerror(-r));

        for (Template **t = l; t && *t; t++) {
                json_t *j = NULL;

                r = template_to_json(*t, &j);
                if (r < 0)
                        return log_oom();
                if (json_array_append_new(all, j) < 0)
                        return log_oom();
        }
        if (c->json)
                return ctl_print_json(all, c->stdout_tty) < 0 ? log_oom() : CTL_EXIT_OK;

        if (json_array_size(all) == 0)
                printf("No templates in %s.\n", dir);
        size_t i;
        json_t *t;
        json_array_foreach(all, i, t) {
                size_t k;
                json_t *o;

                printf("%s%s: %s\n  options:\n", i > 0 ? "\n" : "", json_get_string(t, "name", "?"),
                       json_get_string(t, "description", ""));
                json_array_foreach(json_object_get(t, "options"), k, o) {
                        r = list_print_option(o);
                        if (r < 0)
                                return r;
                }
        }
        return fflush(stdout) == 0 ? CTL_EXIT_OK : log_error_errno(-errno, "Failed to print: %m");
}

/* --- checking the request before it is sent -------------------------------------------------- */

/* The stack's manifest: 0 with *ret set; CTL_EXIT_USAGE for an unknown stack, after listing the known
 * ones; a negative errno (logged) when the templates cannot be read. */
static int bootstrap_load(const char *stack, Template **ret) {
        _cleanup_free_ char *dir = NULL, *error = NULL, *shown = NULL, *known = NULL;
        char **names = NULL;
        int r;

        r = template_get_dir(&dir);
        if (r < 0)
                return log_error_errno(r, "$TROUPE_TEMPLATES_DIR must be an absolute path.");
        r = template_list_names(dir, &names);
        if (r == -ENOENT)
                return log_error_errno(
                        r,
                        "No templates in %s: reinstall troupe, or point $TROUPE_TEMPLATES_DIR "
                        "at a templates folder.",
                        dir);
        if (r < 0) {
                strv_free(names);
                return log_error_errno(r, "Failed to list the templates in %s: %m", dir);
        }
        if (!strv_contains(names, stack)) {
                shown = ctl_printable(stack);
                for (char **n = names; n && *n; n++) {
                        char *k = strjoin(strempty(known), known ? ", " : "", *n);
                        if (!k) {
                                strv_free(names);
                                return log_oom();
                        }
                        free(known);
                        known = k;
                }
                strv_free(names);
                log_error("Unknown stack '%s'. The stacks are: %s. See: troupectl bootstrap --list",
                          strna(shown), known ?: "none");
                return CTL_EXIT_USAGE;
        }
        strv_free(names);

        r = template_load(dir, stack, ret, &error);
        if (r < 0)
                return log_error_errno(r, "The template '%s' in %s cannot be used: %s", stack, dir,
                                       error ?: strerror(-r));
        return 0;
}

/* --set KEY=VALUE: the syntax here, the names and values with the manifest. -EINVAL is a usage error
 * (logged). */
static int bootstrap_check_values(const Template *t, Ctl *c, const char *name) {
        _cleanup_free_ char *error = NULL;
        char **values = NULL;
        int r;

        STRV_FOREACH (s, c->sets) {
                const char *eq = strchr(*s, '=');

                if (!eq || eq == *s) {
                        _cleanup_free_ char *shown = ctl_printable(*s);
                        return log_error_errno(-EINVAL,
                                               "--set wants KEY=VALUE, e.g. --set python_version=3.12, "
                                               "not '%s'.",
                                               strna(shown));
                }
                if (strncmp(*s, "project_name=", STRLEN("project_name=")) == 0)
                        return log_error_errno(-EINVAL,
                                               "The project name is the NAME operand, not a --set option: "
                                               "troupectl bootstrap %s NAME",
                                               t->name);
        }
        r = template_values_build(t, c->sets, name, &values, &error);
        strv_free(values);
        if (r == -EINVAL) {
                _cleanup_free_ char *shown = ctl_printable(error);
                return log_error_errno(r, "%s: %s. See: troupectl bootstrap --list", t->name, strna(shown));
        }
        if (r < 0)
                return log_error_errno(r, "Failed to check the options: %m");
        return 0;
}

/* {"stack","project_name","options":{...},"force","open"}, the agent's BootstrapParams. */
static int bootstrap_params(Ctl *c, const char *stack, const char *name, char **ret) {
        _cleanup_json_ json_t *options = json_object(), *params = NULL;

        if (!options)
                return log_oom();
        STRV_FOREACH (p, c->sets) {
                const char *eq = strchr(*p, '=');
                _cleanup_free_ char *key = strndup(*p, (size_t) (eq - *p));
                json_t *v = json_string(eq + 1);

                if (!key || !v) {
                        json_decref(v);
                        return log_error_errno(-EINVAL, "--set %s: the value is not valid UTF-8.", strna(key));
                }
                if (json_object_set_new(options, key, v) < 0)
                        return log_oom();
        }
        params = json_pack("{ss ss sO sb sb}", "stack", stack, "project_name", name, "options", options,
                           "force", c->force, "open", c->open);
        if (!params)
                return log_oom();
        return ctl_params_dump(params, "options", ret);
}

/* --- submitting --------------------------------------------------------------------------------- */

static int bootstrap_submit_error(Ctl *c, const char *name, const sd_bus_error *error, int r) {
        if (sd_bus_error_has_name(error, BUS_ERROR_ALREADY_EXISTS))
                return log_error_errno(-EEXIST, "Workspace '%s' exists; --force moves it aside.", name);
        if (sd_bus_error_has_name(error, BUS_ERROR_NO_SUCH_AGENT)) {
                log_error("The bootstrap agent is not available: %s", strna(error->message));
                return CTL_EXIT_NO_SUCH_OBJECT;
        }
        if (sd_bus_error_has_name(error, BUS_ERROR_INVALID_ARGS))
                return log_error_errno(r, "The suite refused the bootstrap: %s", strna(error->message));
        return ctl_log_call_error(c, &ctl_router, "submit the bootstrap", error, r);
}

/* Through the router, which starts the agent when it is not running and passes the options on to
 * the registry's CreateTask() as they are. */
static int bootstrap_submit(Ctl *c, sd_bus *bus, const char *name, const char *params, char **ret_id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *path;
        int r;

        /* replace_workspace only when asked: a registry without it still serves the rest. */
        if (c->force)
                r = sd_bus_call_method(bus, ctl_router.name, ctl_router.path, ctl_router.interface, "Submit",
                                       &error, &reply, "ssa{sv}", BOOTSTRAP_AGENT, "", 2, "params", "s",
                                       params, "replace_workspace", "b", 1);
        else
                r = sd_bus_call_method(bus, ctl_router.name, ctl_router.path, ctl_router.interface, "Submit",
                                       &error, &reply, "ssa{sv}", BOOTSTRAP_AGENT, "", 1, "params", "s",
                                       params);
        if (r < 0)
                return bootstrap_submit_error(c, name, &error, r);
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the Submit() reply: %m");
        *ret_id = strdup(id);
        return *ret_id ? 0 : log_oom();
}

/* --- --wait: the events, live, with consent notices ---------------------------------------------- */

typedef struct BootstrapWait {
        Ctl *ctl;
        const char *id;
        sd_event *event;
        char *buf;
        size_t n, allocated;
        bool final;
        bool done; /* the events ended, or we were told to stop: ret says how */
        int ret;
} BootstrapWait;

/* Not sd_event_exit(): the loop's exit would close the bus (sd-bus hooks it), and the task is still to
 * be read from it. */
static int wait_done(BootstrapWait *w, int ret) {
        w->done = true;
        w->ret = ret;
        return 0;
}

static void bootstrap_wait_done(BootstrapWait *w) {
        free(w->buf);
}

static int wait_event_line(BootstrapWait *w, const char *line) {
        _cleanup_json_ json_t *event = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (isempty(line))
                return 0;
        r = json_parse(line, strlen(line), BOOTSTRAP_EVENT_LINE_MAX, 0, 0, &event, &error);
        if (r < 0)
                return log_error_errno(r, "The registry sent an event that is not JSON (%s).", strna(error));
        if (streq(json_get_string(event, "type", ""), "state") &&
            task_state_is_final(json_get_string(event, "state", NULL)))
                w->final = true;
        /* The log is the point of --wait; with --json stdout is kept for the one object. */
        return ctl_event_print(event, false, w->ctl->json ? stderr : stdout);
}

static int wait_take_lines(BootstrapWait *w) {
        size_t start = 0;
        char *nl;
        int r;

        while ((nl = memchr(w->buf + start, '\n', w->n - start))) {
                *nl = 0;
                r = wait_event_line(w, w->buf + start);
                if (r < 0)
                        return r;
                start = (size_t) (nl - w->buf) + 1;
        }
        memmove(w->buf, w->buf + start, w->n - start);
        w->n -= start;
        return 0;
}

static int wait_read(BootstrapWait *w, int fd) {
        ssize_t k;

        if (w->allocated - w->n < BOOTSTRAP_READ_CHUNK + 1) {
                char *b;

                if (w->n > BOOTSTRAP_EVENT_LINE_MAX)
                        return log_error_errno(-E2BIG,
                                               "The registry sent an event line longer than %u bytes.",
                                               BOOTSTRAP_EVENT_LINE_MAX);
                b = realloc(w->buf, w->n + BOOTSTRAP_READ_CHUNK + 1);
                if (!b)
                        return log_oom();
                w->buf = b;
                w->allocated = w->n + BOOTSTRAP_READ_CHUNK + 1;
        }
        k = read(fd, w->buf + w->n, BOOTSTRAP_READ_CHUNK);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (k < 0)
                return log_error_errno(-errno, "Failed to read the task's events: %m");
        if (k == 0) {
                w->buf[w->n] = 0;
                return w->n > 0 ? wait_event_line(w, w->buf) : 0;
        }
        w->n += (size_t) k;
        return wait_take_lines(w) < 0 ? -EIO : 1;
}

static int on_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BootstrapWait *w = userdata;
        int r = wait_read(w, fd);

        if (r <= 0)
                return wait_done(w, r < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK);
        return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        BootstrapWait *w = userdata;

        log_info(
                "Stopped following task %s; it goes on. Follow it with: troupectl logs -f %s; stop it with: "
                "troupectl cancel %s",
                w->id, w->id, w->id);
        return wait_done(w, CTL_EXIT_FAILURE);
}

static int wait_open_events(Ctl *c, sd_bus *bus, const char *id, int *ret_fd) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = ctl_task_path(id, &path);
        if (r < 0)
                return log_error_errno(r, "The router answered with a task id that is not one: '%s'.", id);
        r = sd_bus_call_method(bus, ctl_registry.name, path, CTL_TASK_INTERFACE, "OpenEvents", &error,
                               &reply, "t", (uint64_t) 0);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "open the task's events", &error, r);
        r = ctl_message_read_fd(reply, ret_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to read the OpenEvents() reply: %m");
        return 0;
}

/* --- the outcome ----------------------------------------------------------------------------------- */

/* Agents write these: no escape sequence may reach the terminal, but the lines stay lines. */
static void print_text_block(FILE *f, const char *text) {
        for (const char *p = text; *p; p++)
                fputc(((unsigned char) *p < ' ' && *p != '\n' && *p != '\t') || *p == 0x7f ? '?' : *p, f);
        if (!isempty(text) && !endswith(text, "\n"))
                fputc('\n', f);
}

static void print_checks(json_t *result, FILE *f, bool tails) {
        json_t *check;
        size_t i;

        json_array_foreach(json_object_get(result, "checks"), i, check) {
                _cleanup_free_ char *name = ctl_printable(json_get_string(check, "name", "?"));
                bool ok = json_is_true(json_object_get(check, "ok"));

                fprintf(f, "  %-8s %-7s %.2f s\n", strna(name), ok ? "passed" : "FAILED",
                        (double) json_get_uint(check, "duration_ms") / 1000.0);
                if (tails && !ok)
                        print_text_block(f, json_get_string(check, "output_tail", ""));
        }
}

static int print_summary(Ctl *c, json_t *task) {
        json_t *result = json_object_get(task, "result");
        json_t *files = json_object_get(result, "files");

        if (c->json)
                return ctl_print_json(task, c->stdout_tty);
        printf("\nProject %s (%s) is ready in %s\n", json_get_string(result, "project_name", "?"),
               json_get_string(result, "stack", "?"), json_get_string(result, "path", "?"));
        if (json_is_array(files))
                printf("  %zu files\n", json_array_size(files));
        print_checks(result, stdout, false);
        if (json_get_string(result, "run", NULL))
                printf("Run it: %s\n", json_get_string(result, "run", ""));
        return fflush(stdout) == 0 ? 0 : -errno;
}

static int bootstrap_outcome(Ctl *c, const char *id) {
        _cleanup_json_ json_t *task = NULL;
        const char *state;
        int r;

        r = ctl_task_fetch(c, id, &task);
        if (r == -ENOENT)
                return ctl_task_log_missing(id);
        if (r < 0)
                return r;
        state = json_get_string(task, "state", "?");
        if (!task_state_is_final(state))
                return log_error_errno(
                        -EPIPE,
                        "The events of task %s ended before the task did (it is %s). Follow it "
                        "again with: troupectl logs -f %s",
                        id, state, id);
        if (streq(state, "completed")) {
                r = print_summary(c, task);
                return r < 0 ? log_error_errno(r, "Failed to print the result: %m") : CTL_EXIT_OK;
        }
        if (c->json)
                (void) ctl_print_json(task, c->stdout_tty);
        else
                print_checks(json_object_get(task, "result"), stderr, true);
        log_error("Task %s %s%s%s", id, state, json_get_string(task, "error", NULL) ? ": " : ".",
                  json_get_string(task, "error", ""));
        return CTL_EXIT_TASK_INCOMPLETE;
}

static int bootstrap_wait(BootstrapWait *w, sd_bus *bus, CtlConsentNotice *notice, const char *id) {
        _cleanup_close_ int fd = -EBADF;
        /* Declared after fd, so it leaves the loop before fd is closed. */
        _cleanup_(sd_event_source_unrefp) sd_event_source *source = NULL;
        Ctl *c = w->ctl;
        int r;

        w->id = id;
        notice->task = strdup(id);
        if (!notice->task)
                return log_oom();
        r = wait_open_events(c, bus, id, &fd);
        if (r < 0)
                return r;
        r = sd_event_add_io(w->event, &source, fd, EPOLLIN, on_events, w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the task's events: %m");
        while (!w->done) {
                r = sd_event_run(w->event, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Failed to run the event loop: %m");
        }
        if (w->ret != CTL_EXIT_OK)
                return w->ret;
        return bootstrap_outcome(c, id);
}

static int bootstrap_print_id(Ctl *c, const char *id) {
        int r;

        if (c->json) {
                _cleanup_json_ json_t *o = json_pack("{ss}", "id", id);
                if (!o)
                        return log_oom();
                r = ctl_print_json(o, c->stdout_tty);
        } else
                r = printf("%s\n", id) < 0 || fflush(stdout) != 0 ? -errno : 0;
        if (r < 0)
                return log_error_errno(r, "Failed to print the task id: %m");
        return CTL_EXIT_OK;
}

static int bootstrap_run(Ctl *c, const char *stack, const char *name) {
        _cleanup_template_free_ Template *t = NULL;
        _cleanup_free_ char *params = NULL, *id = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_consent_notice_done) CtlConsentNotice notice = {};
        _cleanup_(bootstrap_wait_done) BootstrapWait w = {.ctl = c};
        sd_bus *bus;
        int r;

        r = bootstrap_load(stack, &t);
        if (r != 0)
                return r;
        if (bootstrap_check_values(t, c, name) < 0)
                return CTL_EXIT_USAGE;
        if (bootstrap_params(c, stack, name, &params) < 0)
                return CTL_EXIT_USAGE;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        if (c->wait) {
                /* Before the task exists, so no consent request of it can slip past; signals are only
                 * dispatched once the loop runs, when notice.task is set. */
                r = daemon_event_new_with_stop(on_stop, &w, &event);
                if (r >= 0)
                        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the event loop: %m");
                r = ctl_consent_notice_start(&notice, c, bus);
                if (r < 0)
                        return r;
        }
        r = bootstrap_submit(c, bus, name, params, &id);
        if (r == 0 && !c->wait)
                return bootstrap_print_id(c, id);
        if (r == 0) {
                if (!c->json)
                        printf("Task %s: %s project %s\n", id, stack, name);
                w.event = event;
                r = bootstrap_wait(&w, bus, &notice, id);
        }
        if (event)
                (void) sd_bus_detach_event(bus);
        return r;
}

int verb_bootstrap(Ctl *c) {
        size_t n = strv_length(c->args) - 1;

        if (c->list) {
                if (n > 0 || (c->options_seen & ~CTL_OPTION_LIST) != 0) {
                        log_error("bootstrap --list takes no operands and no other option but --json.");
                        return CTL_EXIT_USAGE;
                }
                return bootstrap_list(c);
        }
        if (n != 2) {
                log_error("%s. Usage: troupectl bootstrap STACK NAME [--set KEY=VALUE]... [--wait] [--open] "
                          "[--force]; the stacks: troupectl bootstrap --list",
                          n == 0 ? "Missing the STACK and NAME operands" : "Missing the NAME operand");
                return CTL_EXIT_USAGE;
        }
        return bootstrap_run(c, c->args[1], c->args[2]);
}
