/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl consent watch: a terminal agent. It shows the pending consent requests and each new one
 * as ConsentRequested arrives, asks about them one at a time and answers with AnswerConsent(). A
 * request answered elsewhere meanwhile (ConsentAnswered) is reported and its prompt dropped. With
 * --json it only reports, one JSON object per event. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/daemon-util.h"
#include "ctl-bus.h"
#include "ctl-consent.h"
#include "ctl-output.h"
#include "json/json-util.h"

/* An answer is a word; a longer line is not one. */
#define WATCH_LINE_MAX 4096U
/* Ids remembered so a request both listed at the start and signalled is shown once. */
#define WATCH_SEEN_MAX 1024U

typedef struct Watch {
        Ctl *ctl;
        sd_bus *bus;
        sd_event *event;
        json_t *queue; /* requests not answered yet, oldest first: their property objects */
        char **seen; /* ids already shown, newest last, at most WATCH_SEEN_MAX */
        sd_bus_slot *requested_slot, *answered_slot, *owner_slot;
        bool prompting; /* a prompt is on the screen, without its newline */
        bool stdin_tty; /* the terminal echoes the answer and its newline; a pipe does not */
        char line[WATCH_LINE_MAX + 1];
        size_t n_line;
        bool line_too_long; /* dropping input until the next newline */
} Watch;

/* Drops the subscriptions (their userdata is this Watch) and the loop before the Watch goes away;
 * the bus itself belongs to the Ctl. */
static void watch_done(Watch *w) {
        sd_bus_slot_unref(w->requested_slot);
        sd_bus_slot_unref(w->answered_slot);
        sd_bus_slot_unref(w->owner_slot);
        if (w->bus && w->event)
                (void) sd_bus_detach_event(w->bus);
        json_decref(w->queue);
        strv_free(w->seen);
}

/* Messages go to stdout, between prompts: a prompt on the screen gets its line ended first. */
static void watch_say(Watch *w, const char *format, ...) _printf_(2, 3);
static void watch_say(Watch *w, const char *format, ...) {
        va_list ap;

        if (w->prompting)
                putchar('\n');
        w->prompting = false;
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void watch_prompt(Watch *w) {
        _cleanup_free_ char *agent = NULL, *capability = NULL, *task = NULL, *reason = NULL;
        json_t *head = json_array_get(w->queue, 0);

        if (w->ctl->json || w->prompting || !head)
                return;
        agent = ctl_printable(json_get_string(head, "agent", "?"));
        capability = ctl_printable(json_get_string(head, "capability", "?"));
        task = ctl_printable(json_get_string(head, "task", "?"));
        reason = ctl_printable(json_get_string(head, "reason", ""));
        if (!agent || !capability || !task || !reason) {
                (void) log_oom();
                return;
        }
        printf("Allow %s to use %s for task %s (%s)? [o]nce, [a]lways, [d]eny, [s]kip: ", agent, capability,
               task, isempty(reason) ? "no reason given" : reason);
        fflush(stdout);
        w->prompting = true;
}

/* --json: one compact object per line, so that a reader can take the events line by line. */
static int watch_print_event(json_t *event) {
        return ctl_print_json(event, false);
}

/* The position of request `id` in the queue, or -ENOENT. */
static int queue_find(Watch *w, const char *id, size_t *ret) {
        json_t *consent;
        size_t i;

        json_array_foreach(w->queue, i, consent) {
                if (streq(json_get_string(consent, "id", ""), id)) {
                        *ret = i;
                        return 0;
                }
        }
        return -ENOENT;
}

static int seen_add(Watch *w, const char *id) {
        size_t n = strv_length(w->seen);

        if (n >= WATCH_SEEN_MAX) {
                free(w->seen[0]);
                memmove(w->seen, w->seen + 1, n * sizeof(char *));
        }
        return strv_extend(&w->seen, id);
}

/* Shows a new request and queues it for a prompt. */
static int watch_add(Watch *w, json_t *consent) {
        _cleanup_free_ char *agent = NULL, *capability = NULL, *task = NULL, *reason = NULL;
        const char *id = json_get_string(consent, "id", NULL);
        char expires[32];
        int r;

        if (!id || strv_contains(w->seen, id))
                return 0;
        if (seen_add(w, id) < 0)
                return log_oom();
        if (w->ctl->json) {
                _cleanup_json_ json_t *event = json_deep_copy(consent);

                if (!event || json_object_set_new(event, "event", json_string("requested")) < 0)
                        return log_oom();
                return watch_print_event(event);
        }

        agent = ctl_printable(json_get_string(consent, "agent", "?"));
        capability = ctl_printable(json_get_string(consent, "capability", "?"));
        task = ctl_printable(json_get_string(consent, "task", "?"));
        reason = ctl_printable(json_get_string(consent, "reason", ""));
        if (!agent || !capability || !task || !reason)
                return log_oom();
        watch_say(w, "Consent request %s: %s wants %s for task %s%s%s%s, expires in %s.", id, agent,
                  capability, task, isempty(reason) ? "" : " (", reason, isempty(reason) ? "" : ")",
                  format_expires_in(json_get_uint(consent, "expires_usec"), expires));
        r = json_array_append(w->queue, consent);
        return r < 0 ? log_oom() : 0;
}

static int watch_fetch_and_add(Watch *w, const char *path) {
        _cleanup_json_ json_t *consent = NULL;
        int r;

        r = ctl_consent_fetch(w->ctl, w->bus, path, &consent);
        if (r == -ENOENT) /* answered before we got to it; ConsentAnswered says by whom */
                return 0;
        if (r < 0)
                return r;
        if (!streq(json_get_string(consent, "state", "pending"), "pending"))
                return 0;
        return watch_add(w, consent);
}

static int on_requested(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *id, *path;
        int r;

        r = sd_bus_message_read(m, "so", &id, &path);
        if (r < 0) {
                log_warning_errno(r, "Ignoring a malformed ConsentRequested signal: %m");
                return 0;
        }
        r = watch_fetch_and_add(w, path);
        if (r < 0)
                return sd_event_exit(w->event, CTL_EXIT_FAILURE);
        watch_prompt(w);
        return 0;
}

static const char *answered_elsewhere(const char *decision) {
        if (streq(decision, "expired"))
                return "expired unanswered and was denied";
        if (streq(decision, "canceled"))
                return "was withdrawn: its task ended";
        return "was answered elsewhere";
}

static int on_answered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *decision_text = NULL;
        Watch *w = userdata;
        const char *id, *decision;
        size_t i;
        int r;

        r = sd_bus_message_read(m, "ss", &id, &decision);
        if (r < 0) {
                log_warning_errno(r, "Ignoring a malformed ConsentAnswered signal: %m");
                return 0;
        }
        if (w->ctl->json) {
                _cleanup_json_ json_t *event =
                        json_pack("{ss ss ss}", "event", "answered", "id", id, "decision", decision);
                if (!event || watch_print_event(event) < 0)
                        return sd_event_exit(w->event, CTL_EXIT_FAILURE);
                return 0;
        }

        /* Only requests still waiting for us; the ones we answered ourselves left the queue. */
        if (queue_find(w, id, &i) < 0)
                return 0;
        decision_text = ctl_printable(decision);
        watch_say(w, "Request %s %s (%s).", id, answered_elsewhere(decision), strna(decision_text));
        (void) json_array_remove(w->queue, i);
        /* What was being typed answered the question just dropped: it must not answer the next one,
         * which the user has not seen yet. */
        if (i == 0) {
                w->n_line = 0;
                w->line_too_long = false;
                if (w->stdin_tty)
                        (void) tcflush(STDIN_FILENO, TCIFLUSH);
        }
        watch_prompt(w);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !isempty(new_owner))
                return 0;
        /* Nothing more can be answered here; a registry that comes back has requests of its own, which
         * a new watch lists. */
        if (!w->ctl->json)
                watch_say(w, "%s left the bus.", ctl_registry.name);
        log_error("%s stopped. Watch again once the suite is back (troupectl up).", ctl_registry.name);
        return sd_event_exit(w->event, CTL_EXIT_FAILURE);
}

/* o, a, d, s, or their words; NULL when the line is not an answer. "" means skip. */
static const char *decision_from_line(const char *line) {
        static const struct {
                const char *word, *decision;
        } answers[] = {
                {"o", CTL_CONSENT_ALLOW_ONCE},
                {"once", CTL_CONSENT_ALLOW_ONCE},
                {"a", CTL_CONSENT_ALLOW_ALWAYS},
                {"always", CTL_CONSENT_ALLOW_ALWAYS},
                {"d", CTL_CONSENT_DENY},
                {"deny", CTL_CONSENT_DENY},
                {"s", ""},
                {"skip", ""},
        };

        for (size_t i = 0; i < ELEMENTSOF(answers); i++)
                if (strcasecmp(line, answers[i].word) == 0)
                        return answers[i].decision;
        return NULL;
}

static const char *decision_done(const char *decision) {
        if (streq(decision, CTL_CONSENT_ALLOW_ONCE))
                return "Allowed once";
        if (streq(decision, CTL_CONSENT_ALLOW_ALWAYS))
                return "Allowed always (revoke with: troupectl consent revoke AGENT CAPABILITY)";
        return "Denied";
}

/* One line of input, answering the request at the head of the queue. */
static int watch_answer_line(Watch *w, char *line) {
        _cleanup_free_ char *id = NULL;
        const char *decision;
        size_t n = strlen(line);
        int r;

        /* A terminal sends "\r\n" in some modes; spaces around the answer do not matter. */
        while (n > 0 && strchr(" \t\r", line[n - 1]))
                line[--n] = 0;
        line += strspn(line, " \t");
        /* On a terminal the user's newline ended the prompt's line; from a pipe, we end it. */
        if (w->stdin_tty)
                w->prompting = false;

        if (json_array_size(w->queue) == 0) {
                if (!isempty(line))
                        watch_say(w, "No request to answer; ignoring \"%s\".", line);
                return 0;
        }
        decision = decision_from_line(line);
        if (!decision) {
                watch_say(w, "Please answer o (allow once), a (allow always), d (deny) or s (skip).");
                return 0;
        }
        id = strdup(json_get_string(json_array_get(w->queue, 0), "id", ""));
        if (!id)
                return log_oom();
        (void) json_array_remove(w->queue, 0);
        if (isempty(decision)) {
                watch_say(w, "Skipped %s; it stays pending until it is answered or expires.", id);
                return 0;
        }

        r = ctl_consent_answer(w->ctl, id, decision);
        if (r == -ENOENT) {
                watch_say(w, "Request %s is no longer pending: it was answered elsewhere or expired.", id);
                return 0;
        }
        if (r < 0)
                return r;
        watch_say(w, "%s: %s.", decision_done(decision), id);
        return 0;
}

/* Hands each complete line in w->line to watch_answer_line(); keeps the rest. */
static int watch_take_lines(Watch *w) {
        char *nl;
        int r;

        while ((nl = memchr(w->line, '\n', w->n_line))) {
                size_t used = (size_t) (nl - w->line) + 1;

                *nl = 0;
                if (w->line_too_long)
                        w->line_too_long = false;
                else {
                        /* Lines typed ahead (or piped) each answer the question shown just before. */
                        watch_prompt(w);
                        r = watch_answer_line(w, w->line);
                        if (r < 0)
                                return r;
                }
                memmove(w->line, w->line + used, w->n_line - used);
                w->n_line -= used;
        }
        if (w->n_line >= WATCH_LINE_MAX) {
                watch_say(w, "That line is too long to be an answer; ignoring it.");
                w->line_too_long = true;
                w->n_line = 0;
        }
        return 0;
}

/* Reads what stdin has; returns 1 at its end. */
static int watch_read_stdin(Watch *w) {
        ssize_t k;
        int r;

        k = read(STDIN_FILENO, w->line + w->n_line, WATCH_LINE_MAX - w->n_line);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (k < 0)
                return log_error_errno(-errno, "Failed to read standard input: %m");
        if (k == 0) {
                /* A last line without its newline still counts. */
                if (w->n_line > 0 && !w->line_too_long) {
                        w->line[w->n_line] = 0;
                        w->n_line = 0;
                        watch_prompt(w);
                        r = watch_answer_line(w, w->line);
                        if (r < 0)
                                return r;
                }
                return 1;
        }
        w->n_line += (size_t) k;
        r = watch_take_lines(w);
        return r < 0 ? r : 0;
}

static void watch_stdin_result(Watch *w, int r) {
        if (r == 0) {
                watch_prompt(w);
                return;
        }
        /* End of input: nobody is left to answer. A prompt on the screen gets its line ended. */
        if (r > 0 && w->prompting)
                putchar('\n');
        w->prompting = false;
        fflush(stdout);
        (void) sd_event_exit(w->event, r > 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE);
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Watch *w = userdata;
        watch_stdin_result(w, watch_read_stdin(w));
        return 0;
}

/* Regular files and /dev/null cannot be polled, and need not be: they never block. */
static int on_stdin_file(sd_event_source *s, void *userdata) {
        Watch *w = userdata;
        watch_stdin_result(w, watch_read_stdin(w));
        return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Watch *w = userdata;

        if (w->prompting)
                putchar('\n');
        w->prompting = false;
        fflush(stdout);
        return sd_event_exit(w->event, CTL_EXIT_OK);
}

static int watch_add_stdin(Watch *w) {
        sd_event_source *s = NULL;
        int r;

        r = sd_event_add_io(w->event, NULL, STDIN_FILENO, EPOLLIN, on_stdin, w);
        if (r != -EPERM)
                return r;
        r = sd_event_add_defer(w->event, &s, on_stdin_file, w);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_source_set_floating(s, true);
        sd_event_source_unref(s);
        return r;
}

/* The signals first, then the list: a request raised in between is in one or the other (or both,
 * which the seen list sorts out), never in neither. */
static int watch_subscribe(Watch *w) {
        _cleanup_free_ char *match = NULL;
        int r;

        r = sd_bus_match_signal(w->bus, &w->requested_slot, ctl_registry.name, ctl_registry.path,
                                ctl_registry.interface, "ConsentRequested", on_requested, w);
        if (r >= 0)
                r = sd_bus_match_signal(w->bus, &w->answered_slot, ctl_registry.name, ctl_registry.path,
                                        ctl_registry.interface, "ConsentAnswered", on_answered, w);
        if (r >= 0)
                r = asprintf_safe(&match,
                                  "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                  "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                                  ctl_registry.name);
        if (r >= 0)
                r = sd_bus_add_match(w->bus, &w->owner_slot, match, on_owner_changed, w);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the registry's consent signals: %m");
        return 0;
}

static int watch_list_pending(Watch *w) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *agent, *capability, *path;
        int r;

        r = sd_bus_call_method(w->bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "ListConsents", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_call_error(w->ctl, &ctl_registry, "list consent requests", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &id, &agent, &capability, &path)) > 0) {
                r = watch_fetch_and_add(w, path);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListConsents() reply: %m");
        if (!w->ctl->json && json_array_size(w->queue) == 0)
                watch_say(w, "No pending consent requests; waiting for new ones (Ctrl-C or end of input to "
                             "stop).");
        return 0;
}

int ctl_consent_watch(Ctl *c) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(watch_done) Watch w = {.ctl = c, .stdin_tty = isatty(STDIN_FILENO) > 0};
        int r;

        w.queue = json_array();
        if (!w.queue)
                return log_oom();
        r = ctl_bus(c, &w.bus);
        if (r < 0)
                return r;
        r = daemon_event_new_with_stop(on_stop, &w, &event);
        if (r >= 0)
                r = sd_bus_attach_event(w.bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        w.event = event;

        r = watch_subscribe(&w);
        if (r < 0)
                return r;
        r = watch_list_pending(&w);
        if (r < 0)
                return r;
        if (!c->json) {
                r = watch_add_stdin(&w);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch standard input: %m");
                watch_prompt(&w);
        }

        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "Failed to run the event loop: %m");
        return r;
}
