/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-consent.h: what `troupectl consent` and its terminal agent (`consent watch`) share: reading
 * consent requests, answering them, and showing them to people. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "bus/bus-error.h"
#include "ctl.h"

/* The registry's error for a request that does not exist or is no longer pending, in case
 * lib/bus/bus-error.h does not name it. */
#ifndef BUS_ERROR_NO_SUCH_CONSENT
#define BUS_ERROR_NO_SUCH_CONSENT "org.troupe.Error.NoSuchConsent"
#endif

/* The decisions AnswerConsent() takes. */
#define CTL_CONSENT_ALLOW_ONCE "allow-once"
#define CTL_CONSENT_ALLOW_ALWAYS "allow-always"
#define CTL_CONSENT_DENY "deny"

/* Whether an error reply says the request (or grant) is unknown or no longer pending. */
bool ctl_error_is_no_such_consent(const sd_bus_error *error);

/* The properties of the request at `path` as a JSON object with snake_case keys (id, task, agent,
 * capability, reason, created_usec, expires_usec, state). -ENOENT, not logged, when it is gone;
 * other failures are logged. */
int ctl_consent_fetch(Ctl *c, sd_bus *bus, const char *path, json_t **ret);

/* Answers the request `id` with one of the decisions above. Returns CTL_EXIT_OK, -ENOENT (not
 * logged) when there is no such pending request, or a negative errno after logging why. */
int ctl_consent_answer(Ctl *c, const char *id, const char *decision);

/* Logs that `id` is not a pending request, with the way to list them; returns CTL_EXIT_NO_SUCH_OBJECT. */
int ctl_consent_log_missing(const char *id);

/* How long until a CLOCK_REALTIME deadline in µs: "45s", "4min 5s", "2h 10min"; "expired" once it
 * passed; "-" for 0 (none). buf needs 32 bytes. */
const char *format_expires_in(uint64_t usec, char buf[static 32]);

/* A copy of agent-supplied text fit for a terminal: control characters become '?'. */
char *ctl_printable(const char *s);

/* `troupectl consent watch`. */
int ctl_consent_watch(Ctl *c);
