/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupe-agent-bootstrap: makes a new project from a template; `step ...` runs one step of it in the task's sandbox. */
#include <string.h>

#include "bootstrap.h"

int main(int argc, char *argv[]) {
        if (argc >= 2 && strcmp(argv[1], "step") == 0)
                return bootstrap_step_main(argc - 1, argv + 1);
        return bootstrap_agent_main(argc, argv);
}
