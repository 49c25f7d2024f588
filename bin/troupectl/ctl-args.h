/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-args.h: parsing troupectl's command line and dispatching to a verb with its help text. */
#pragma once

#include "ctl.h"

/* Parses options (anywhere on the line) and operands into a new Ctl. Returns 0 with *ret set, 1
 * when --version was printed and nothing is left to do, or -EINVAL on a usage error (logged). */
int ctl_parse_argv(int argc, char *argv[], Ctl **ret);

/* Runs the verb named by c->args[0], or prints its --help, after checking its operands and options.
 * Returns a CtlExit or a negative errno, as the verbs do. */
int ctl_dispatch(Ctl *c);
