/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl open: the registry's OpenWorkspace(), which runs exec.editor for the task's agent (and
 * may have to ask the user first); and the consent notices that `open` and `bootstrap --wait` print
 * while they wait. */
#include "ctl-open.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/daemon-util.h"
#include "ctl-bus.h"
#include "ctl-consent.h"
#include "ctl-output.h"
#include "ctl-tasks.h"
#include "json/json-util.h"

/* When the registry does not say how long it waits for an answer (ConsentTimeoutUSec). */
#define OPEN_CONSENT_TIMEOUT_FALLBACK_USEC (120 * USEC_PER_SEC)
/* Beyond the consent timeout: the editor's start and the registry's answer. */
#define OPEN_EXTRA_USEC (30 * USEC_PER_SEC)

/* The last path component of a task's workspace: the name it was made under. */
static const char *workspace_basename(const char *workspace) {
        const char *slash = strrchr(workspace, '/');

        return slash ? slash + 1 : workspace;
}

static bool notice_wants(CtlConsentNotice *n, const char *task) {
        _cleanup_json_ json_t *t = NULL;

        if (streq_ptr(n->task, task))
                return true;
        if (!n->workspace || ctl_task_fetch(n->ctl, task, &t) < 0)
                return false;
        return streq(workspace_basename(json_get_string(t, "workspace", "")), n->workspace);
}

static int on_consent_requested(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_json_ json_t *consent = NULL;
        _cleanup_free_ char *capability = NULL, *reason = NULL;
        CtlConsentNotice *n = userdata;
        const char *id, *path;
        int r;

        r = sd_bus_message_read(m, "so", &id, &path);
        if (r < 0 || strv_contains(n->seen, id))
                return 0;
        /* Gone already: answered (by a policy or another client) before we looked. */
        if (ctl_consent_fetch(n->ctl, n->bus, path, &consent) < 0)
                return 0;
        if (!notice_wants(n, json_get_string(consent, "task", "")))
                return 0;
        if (strv_extend(&n->seen, id) < 0)
                return log_oom();
        capability = ctl_printable(json_get_string(consent, "capability", "?"));
        reason = ctl_printable(json_get_string(consent, "reason", ""));
        if (!capability || !reason)
                return log_oom();
        fprintf(stderr,
                "%s asks for %s%s%s%s.\nwaiting for consent: troupectl consent allow %s (or deny %s)\n",
                json_get_string(consent, "agent", "the agent"), capability, isempty(reason) ? "" : " (",
                reason, isempty(reason) ? "" : ")", id, id);
        fflush(stderr);
        return 0;
}

int ctl_consent_notice_start(CtlConsentNotice *n, Ctl *c, sd_bus *bus) {
        int r;

        n->ctl = c;
        n->bus = bus;
        r = sd_bus_match_signal(bus, &n->slot, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                                "ConsentRequested", on_consent_requested, n);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the registry's consent requests: %m");
        return 0;
}

void ctl_consent_notice_done(CtlConsentNotice *n) {
        n->slot = sd_bus_slot_unref(n->slot);
        n->task = mfree(n->task);
        n->workspace = mfree(n->workspace);
        n->seen = strv_free(n->seen);
}

typedef struct OpenCall {
        Ctl *ctl;
        const char *target;
        sd_bus_message *reply; /* the answer, once it came */
} OpenCall;

static int on_open_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        OpenCall *o = userdata;

        o->reply = sd_bus_message_ref(m);
        return 0;
}

static uint64_t open_timeout(sd_bus *bus) {
        uint64_t t = 0;

        if (sd_bus_get_property_trivial(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                                        "ConsentTimeoutUSec", NULL, 't', &t) < 0 ||
            t == 0 || t > UINT64_MAX / 2)
                t = OPEN_CONSENT_TIMEOUT_FALLBACK_USEC;
        return t + OPEN_EXTRA_USEC;
}

static int open_call(Ctl *c, sd_bus *bus, OpenCall *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, ctl_registry.name, ctl_registry.path,
                                           ctl_registry.interface, "OpenWorkspace");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", o->target);
        if (r >= 0 && c->path)
                r = sd_bus_message_append(m, "a{sv}", 1, "path", "s", c->path);
        else if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build the OpenWorkspace() call: %m");
        r = sd_bus_call_async(bus, NULL, m, on_open_reply, o, open_timeout(bus));
        if (r < 0)
                return log_error_errno(r, "Failed to call OpenWorkspace(): %m");
        return 0;
}

static int open_error(Ctl *c, const char *target, const sd_bus_error *error) {
        if (sd_bus_error_has_names(error, BUS_ERROR_NO_SUCH_TASK, BUS_ERROR_NO_SUCH_OBJECT)) {
                log_error("No task or workspace '%s'. List the tasks with: troupectl tasks", target);
                return CTL_EXIT_NO_SUCH_OBJECT;
        }
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_METHOD))
                return log_error_errno(-EOPNOTSUPP,
                                       "The registry cannot open workspaces (no OpenWorkspace()): "
                                       "update the suite.");
        return ctl_log_call_error(c, &ctl_registry, "open the workspace", error, -EIO);
}

static int open_print(Ctl *c, const char *target, const char *status, const char *message) {
        _cleanup_free_ char *text = ctl_printable(message);

        if (!text)
                return log_oom();
        if (c->json) {
                _cleanup_json_ json_t *o =
                        json_pack("{ss ss ss}", "target", target, "status", status, "message", message);
                if (!o || ctl_print_json(o, c->stdout_tty) < 0)
                        return log_oom();
        } else if (streq(status, "done"))
                printf("Opened %s in the editor%s%s\n", target, isempty(text) ? "." : ": ", text);
        if (streq(status, "done"))
                return CTL_EXIT_OK;
        log_error("Could not open %s in the editor (%s)%s%s", target, status, isempty(text) ? "." : ": ",
                  text);
        return CTL_EXIT_FAILURE;
}

int verb_open(Ctl *c) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_consent_notice_done) CtlConsentNotice notice = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        OpenCall o = {.ctl = c, .target = c->args[1]};
        const char *status, *message;
        sd_bus *bus;
        int r;

        if (isempty(o.target)) {
                log_error("open wants a workspace name or a task id. See: troupectl open --help");
                return CTL_EXIT_USAGE;
        }
        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        /* Subscribed before the call: the request it raises cannot slip past. */
        notice.task = strdup(o.target);
        notice.workspace = strdup(o.target);
        if (!notice.task || !notice.workspace)
                return log_oom();
        r = ctl_consent_notice_start(&notice, c, bus);
        if (r < 0)
                return r;
        r = open_call(c, bus, &o);
        if (r < 0)
                return r;
        /* Not sd_event_loop(): its exit would close the bus, which the notices may still read from. */
        while (!o.reply) {
                r = sd_event_run(event, UINT64_MAX);
                if (r < 0) {
                        (void) sd_bus_detach_event(bus);
                        return log_error_errno(r, "Failed to run the event loop: %m");
                }
        }
        (void) sd_bus_detach_event(bus);
        reply = TAKE_PTR(o.reply);
        if (sd_bus_message_is_method_error(reply, NULL))
                return open_error(c, o.target, sd_bus_message_get_error(reply));
        r = sd_bus_message_read(reply, "ss", &status, &message);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the OpenWorkspace() reply: %m");
        return open_print(c, o.target, status, message);
}
