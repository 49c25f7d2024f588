/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* typed-params.h: the typed parameter messages of StartTask (BootstrapParams), built from a task's params
 * JSON. */
#pragma once

#include <jansson.h>

#include "agent/agentcard.h"
#include "basic/macro.h"
#include "troupe/v1/bootstrap.pb-c.h"

/* proto/troupe/v1/bootstrap.proto's limits. */
#define BOOTSTRAP_STRING_MAX 64U /* stack, project_name, an option key: bytes */
#define BOOTSTRAP_OPTION_VALUE_MAX 1024U /* bytes */
#define BOOTSTRAP_OPTIONS_COUNT_MAX 64U

/* Builds BootstrapParams from a CreateTask params object:
 *   {"stack": s, "project_name": s, "options": {"key": "value", ...}, "force": b, "open": b}
 * plus "prompt" (s), which CreateTask adds and only params_json carries. stack and project_name
 * are required, 1-64 bytes; option keys are 1-64 of a-z 0-9 _, values strings of at most 1 KiB, at
 * most 64 of them, in the object's order. Any other member, a wrong type or a limit crossed is
 * -EINVAL with *ret_error naming the member ("params.options.python_version: expected a string,
 * got an integer"). What the values mean (a known stack, a valid option) is the agent's to check.
 * Free the result with bootstrap_params_message_free(). */
int bootstrap_params_from_json(json_t *params, Troupe__V1__BootstrapParams **ret, char **ret_error);
Troupe__V1__BootstrapParams *bootstrap_params_message_free(Troupe__V1__BootstrapParams *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Troupe__V1__BootstrapParams *, bootstrap_params_message_free);

/* "bootstrap a FastAPI service called billing": fills params' "stack" with the first word of its
 * "prompt" that names one of `stacks` (in any case) and "project_name" with the word after "called"
 * or "named", each only when params lacks it, so explicit parameters always win. A prompt naming
 * neither leaves params as it was, for bootstrap_params_from_json() to refuse. */
int bootstrap_params_fill_from_prompt(json_t *params, char *const *stacks);

/* Checks `params` against the typed message `kind` names (AGENT_TYPED_PARAMS_NONE: anything
 * goes), with the errors of bootstrap_params_from_json(). */
int typed_params_check(AgentTypedParams kind, json_t *params, char **ret_error);
