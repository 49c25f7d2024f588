/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-open.h: telling the user, while troupectl waits (open, bootstrap --wait), that a consent
 * request of the task it waits for needs an answer. */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl.h"

typedef struct CtlConsentNotice {
        Ctl *ctl;
        sd_bus *bus;
        sd_bus_slot *slot;
        char *task; /* announce the requests of this task... */
        char *workspace; /* ...or of any task whose workspace has this name (NULL: none) */
        char **seen; /* ids announced already */
} CtlConsentNotice;

/* Subscribes to ConsentRequested on `bus`. Each request whose task is n->task, or whose task's
 * workspace is named n->workspace, is announced once on stderr as
 * "waiting for consent: troupectl consent allow ID (or deny ID)". n->task may be set later (after
 * the task was created): signals are only dispatched while the caller runs its loop. */
int ctl_consent_notice_start(CtlConsentNotice *n, Ctl *c, sd_bus *bus);
/* Drops the subscription and what the notice holds. */
void ctl_consent_notice_done(CtlConsentNotice *n);
