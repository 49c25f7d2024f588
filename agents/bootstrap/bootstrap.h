/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootstrap.h: troupe-agent-bootstrap: the agent (bootstrap-agent.c) and its step mode (bootstrap-step.c). */
#pragma once

/* The prefix of the last line a step prints: "troupe-step: {json}". The agent parses it from the
 * tail of the exec's output. */
#define BOOTSTRAP_STEP_PREFIX "troupe-step: "
/* The task's scratch folder in the workspace (cookiecutter's state, TMPDIR, the staging folder);
 * its name starts with '.', so it can never be a project folder. Removed by every step. */
#define BOOTSTRAP_SCRATCH ".troupe-bootstrap"

/* `troupe-agent-bootstrap step STEP ...` (argv[0] is "step"). Returns the exit status. */
int bootstrap_step_main(int argc, char *argv[]);

/* The agent: agent_main() with the bootstrap handlers. */
int bootstrap_agent_main(int argc, char *argv[]);
