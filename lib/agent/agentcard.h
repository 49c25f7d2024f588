/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agentcard.h: parse and validate agent cards (A2A AgentCard + exec, permissions, limits). */
#pragma once

#include <jansson.h>

#include "basic/macro.h"

/* The format, every field, its limits and defaults: docs/agent-card.md. */

#define AGENT_CARD_SIZE_MAX (64U * 1024U)
#define AGENT_NAME_MAX 64U

typedef enum AgentRestart {
        AGENT_RESTART_NO,
        AGENT_RESTART_ON_FAILURE,
        _AGENT_RESTART_MAX,
        _AGENT_RESTART_INVALID = -EINVAL,
} AgentRestart;

const char *agent_restart_to_string(AgentRestart r) _const_;
AgentRestart agent_restart_from_string(const char *s) _pure_;

typedef struct AgentSkill {
        char *id; /* name_is_valid(), unique within the card */
        char *name;
        char *description;
        char **tags;
        char **examples;
        char **input_modes; /* NULL: the card's default_input_modes */
        char **output_modes; /* NULL: the card's default_output_modes */
} AgentSkill;

/* A2A's "capabilities": protocol features, not permissions. */
typedef struct AgentFeatures {
        bool streaming;
        bool push_notifications;
        bool state_transition_history;
} AgentFeatures;

typedef struct AgentExec {
        char *path; /* a file name beneath $libexecdir/troupe/agents; default troupe-agent-<name> */
        char **args;
        AgentRestart restart;
        bool retry; /* retry a task once if the agent dies running it */
        uint64_t idle_timeout_sec; /* 0: stay registered forever */
} AgentExec;

typedef struct AgentPermissions {
        char **capabilities; /* pre-granted */
        char **requestable; /* may be asked for, through a consent request */
} AgentPermissions;

typedef struct AgentLimits {
        uint64_t memory_max; /* bytes */
        uint64_t tasks_max;
        uint64_t cpu_weight; /* 1..10000, like cgroup v2 cpu.weight */
        uint64_t timeout_sec;
} AgentLimits;

/* The card's "task" object: how the registry prepares the agent's tasks. */
typedef enum AgentTypedParams {
        AGENT_TYPED_PARAMS_NONE, /* params_json only */
        AGENT_TYPED_PARAMS_BOOTSTRAP, /* StartTask.bootstrap, built from params (BootstrapParams) */
        _AGENT_TYPED_PARAMS_MAX,
        _AGENT_TYPED_PARAMS_INVALID = -EINVAL,
} AgentTypedParams;

const char *agent_typed_params_to_string(AgentTypedParams t) _const_;
AgentTypedParams agent_typed_params_from_string(const char *s) _pure_;

typedef enum AgentKeepWorkspace {
        AGENT_KEEP_WORKSPACE_ALWAYS,
        AGENT_KEEP_WORKSPACE_COMPLETED, /* a workspace the task created goes when it does not complete */
        _AGENT_KEEP_WORKSPACE_MAX,
        _AGENT_KEEP_WORKSPACE_INVALID = -EINVAL,
} AgentKeepWorkspace;

const char *agent_keep_workspace_to_string(AgentKeepWorkspace k) _const_;
AgentKeepWorkspace agent_keep_workspace_from_string(const char *s) _pure_;

typedef struct AgentTaskSettings {
        AgentTypedParams typed_params;
        char *workspace_from_param; /* a params member naming the workspace; NULL: none */
        AgentKeepWorkspace keep_workspace;
} AgentTaskSettings;

typedef struct AgentCard {
        char *name;
        char *description;
        char *version;
        char *url; /* optional */
        AgentFeatures features;
        char **default_input_modes;
        char **default_output_modes;
        AgentSkill *skills;
        size_t n_skills;
        AgentExec exec;
        AgentPermissions permissions;
        AgentLimits limits;
        AgentTaskSettings task;
} AgentCard;

AgentCard *agent_card_free(AgentCard *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AgentCard *, agent_card_free);

/* Parses and validates a card. Returns -EFBIG above AGENT_CARD_SIZE_MAX and -EINVAL on any
 * invalid input; on both, *ret_error (if given) gets a message naming the offending field, e.g.
 * "skills[1].id: duplicate skill id \"echo\"". */
int agent_card_parse(const char *data, size_t size, AgentCard **ret, char **ret_error);

/* Reads `path` (relative to dir_fd, or absolute) and parses it; read errors are returned as
 * they come, without a message. */
int agent_card_load(int dir_fd, const char *path, AgentCard **ret, char **ret_error);

const AgentSkill *agent_card_find_skill(const AgentCard *c, const char *id);

/* The card as JSON with every default written out, for Describe() and the registry; parsing the
 * result gives an equal card. */
int agent_card_to_json(const AgentCard *c, json_t **ret);
