/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervisor-audit.h: the supervisor's rows in the registry's audit log: every Spawn() of a process that
 * is not one of the suite's own daemons is recorded (Registry1.RecordAudit) before it starts, and refused
 * when it cannot be; what happens to it afterwards is recorded as well as it can be. */
#pragma once

#include <stdint.h>

#include "basic/time-util.h"
#include "process.h"
#include "spawn-options.h"
#include "supervisor.h"

/* How long the registry has to make a spawn's row durable before that Spawn() is refused. */
#define SUPERVISOR_AUDIT_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* Called exactly once per supervisor_audit_spawn() that returned 0, from the event loop: with error 0
 * and the row's seq once the row is durable, or with a negative errno and a message saying why there
 * is no row (the registry's refusal, or that it is not on the bus). */
typedef void (*SupervisorAuditDone)(Context *c, int error, const char *message, uint64_t seq,
                                    void *userdata);
/* Frees the userdata of a call whose answer will never come (the bus went away first). */
typedef void (*SupervisorAuditFree)(void *userdata);

/* Asks the registry to record that `name` is about to be spawned with `argv` and `o` (action "spawn":
 * name, argv, profile, workspace, capabilities, limits...), asynchronously. */
int supervisor_audit_spawn(Context *c, const char *sender, const char *name, char *const *argv,
                           const SpawnOptions *o, SupervisorAuditDone done,
                           SupervisorAuditFree free_userdata, void *userdata);

/* Best effort, nobody waits for these rows: the spawn recorded as `spawn_seq` did not start
 * ("spawn-failed"), or did ("spawned": its id and pid), after which the process is followed so that
 * each exit ("exit": id, pid, code, status) and restart ("restart") is recorded too. */
void supervisor_audit_spawn_failed(Context *c, const char *name, uint64_t spawn_seq, const char *message);
void supervisor_audit_follow(Process *p, uint64_t spawn_seq);
