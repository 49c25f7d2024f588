/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-args.h"

typedef struct CtlVerb {
        const char *name;
        const char *synopsis; /* what follows "troupectl NAME" */
        const char *summary; /* one line for the overview */
        const char *help; /* the rest of `troupectl NAME --help` */
        unsigned min_args, max_args; /* operands after the verb */
        unsigned options; /* CtlOptionFlags the verb takes */
        int (*run)(Ctl *c);
} CtlVerb;

static const CtlVerb ctl_verbs[] = {
        {"up", "", "start the suite (on a private bus when there is no session bus)",
         "Starts troupe-supervisord --suite, which starts the registry and the router, and waits\n"
         "until all three answer on the bus. With no session bus it first starts a private\n"
         "dbus-daemon and records it in $XDG_RUNTIME_DIR/troupe/ so later commands find it.\n"
         "Does nothing when the suite is already running.\n",
         0, 0, 0, verb_up},
        {"down", "", "stop the suite that `troupectl up` started",
         "Asks the supervisor to shut the suite down, waits for its names to leave the bus, then\n"
         "stops the private dbus-daemon `troupectl up` started. Stops only what `up` started.\n",
         0, 0, 0, verb_down},
        {"status", "", "show the bus and each daemon's owner, health and state",
         "Prints the bus in use and, for the registry, the supervisor and the router: the name\n"
         "owner and its pid, the answer to Health() and a summary of Describe().\n"
         "With --json: one object {\"bus\", \"bus_source\", \"daemons\": [...]}.\n",
         0, 0, 0, verb_status},
        {"health", "", "exit 0 only if every daemon answers Health() \"ok\"",
         "Asks the registry, the supervisor and the router for Health() and prints each answer.\n"
         "Exits 0 when all three answer \"ok\", 1 otherwise.\n",
         0, 0, 0, verb_health},
        {"agents", "", "list the registered agents",
         "Lists the agents registered with the registry: name, state, pid, version, skills, the\n"
         "last heartbeat (CLOCK_MONOTONIC) and the tasks they are running.\n"
         "With --json: an array of objects with name, state, pid, version, skills,\n"
         "last_heartbeat_usec and current_tasks.\n",
         0, 0, 0, verb_agents},
        {"tasks", "[--agent NAME] [--state STATE] [--limit N]", "list tasks, newest first",
         "Lists tasks, newest first (at most 100 unless --limit says otherwise).\n"
         "With --json: an array of objects with id, agent, state, workspace, created_usec,\n"
         "finished_usec, progress, result (parsed JSON) and error.\n\n"
         "Options:\n"
         "      --agent NAME    only tasks of this agent\n"
         "      --state STATE   only tasks in this state (submitted, working, completed, ...)\n"
         "      --limit N       at most N tasks (1..10000)\n",
         0, 0, CTL_OPTION_AGENT | CTL_OPTION_STATE | CTL_OPTION_LIMIT, verb_tasks},
        {"task", "show ID", "show one task",
         "Prints every property of the task ID. With --json: one object, as `tasks --json`\n"
         "prints for each task. Exits 4 when there is no such task.\n",
         2, 2, 0, verb_task},
        {"run", "AGENT [--param K=V]... [--prompt TEXT] [--wait]", "submit a task to an agent",
         "Submits a task to AGENT through the router, which starts the agent when it is not\n"
         "running. Prints the task id. With --wait, follows the task's events until it ends and\n"
         "prints the task (with --json as one object); exits 3 when it did not complete.\n\n"
         "Options:\n"
         "  -p, --param K=V     a parameter with a string value (repeatable)\n"
         "  -p, --param K:=JSON a parameter with a JSON value, e.g. delay_ms:=500\n"
         "      --prompt TEXT   the free-text request passed to the agent\n"
         "      --wait          wait for the task to end and print it\n",
         1, 1, CTL_OPTION_PARAM | CTL_OPTION_PROMPT | CTL_OPTION_WAIT, verb_run},
        {"logs", "[-f] ID", "print a task's events or a process's output",
         "ID is a task id: prints its events (state changes, progress, log lines). Or ID is a\n"
         "process id or a process name of the supervisor: prints the process's output.\n"
         "Without -f, prints what was recorded so far; with -f, follows until the task or the\n"
         "process ends. With --json, task events are printed as JSON lines.\n\n"
         "Options:\n"
         "  -f, --follow        keep printing until the task or process ends\n",
         1, 1, CTL_OPTION_FOLLOW, verb_logs},
        {"cancel", "ID", "cancel a task",
         "Asks the registry to cancel the task ID; it ends canceled within 5 s.\n"
         "Exits 4 when there is no such task.\n",
         1, 1, 0, verb_cancel},
        {"consent", "list|watch|grants|allow ID [--always]|deny ID|revoke AGENT CAPABILITY",
         "answer agents' requests for capabilities",
         "An agent that needs a capability its card does not grant (the network, a secret, an\n"
         "editor...) raises a consent request; the task waits until someone answers it, and it is\n"
         "denied when nobody does in time.\n\n"
         "Commands:\n"
         "  list                 the pending requests: id, agent, capability, task, reason and\n"
         "                       the time left to answer. With --json: an array of objects with\n"
         "                       id, task, agent, capability, reason, created_usec, expires_usec\n"
         "                       and state\n"
         "  allow ID [--always]  allow the request ID once, or with --always for every later\n"
         "                       task of that agent too (a stored grant)\n"
         "  deny ID              deny the request ID\n"
         "  watch                print the pending requests and each new one as it arrives, and\n"
         "                       ask for an answer on standard input: o (once), a (always),\n"
         "                       d (deny) or s (skip). Ends at the end of input or on Ctrl-C.\n"
         "                       With --json: one object per event, without asking\n"
         "  grants               the stored \"always\" grants: agent, capability, when, and the\n"
         "                       request that made them\n"
         "  revoke AGENT CAPABILITY\n"
         "                       remove a stored grant; AGENT is asked again next time\n\n"
         "Options:\n"
         "      --always        with allow: remember the grant for this agent and capability\n\n"
         "Exits 4 when the request is unknown or no longer pending, or the grant does not exist.\n",
         1, 3, CTL_OPTION_ALWAYS, verb_consent},
        {"audit", "[verify] [--task ID] [--after SEQ] [--limit N]", "show or verify the audit log",
         "Prints the audit log, oldest first: every spawn, exec, action, refused token and consent\n"
         "decision, one row each, with its sequence number, time, actor, action, task, agent and\n"
         "a one-line summary of its details. With --json: the array of rows the registry returns\n"
         "(seq, time, actor, action, task, agent, detail, prev, hash).\n\n"
         "`troupectl audit verify` has the registry recompute the hash chain: it prints \"audit\n"
         "log intact: N rows, head HASH\" and exits 0, or names the first bad row and what is wrong\n"
         "with it and exits 1. With --json: {\"ok\", \"rows\", \"head\", \"bad_seq\", \"damage\"}.\n\n"
         "Options:\n"
         "      --task ID       only the rows of this task\n"
         "      --after SEQ     only rows after this sequence number\n"
         "      --limit N       at most N rows (1..10000); without it, every row\n",
         0, 1, CTL_OPTION_TASK | CTL_OPTION_AFTER | CTL_OPTION_LIMIT, verb_audit},
        {"bootstrap", "STACK NAME [--set KEY=VALUE]... [--wait] [--open] [--force] | --list",
         "make a new project from a template",
         "Asks the bootstrap agent (through the router, which starts it) to make the project NAME\n"
         "from the template STACK in the workspace NAME: render it, run its tests, start its dev\n"
         "server and probe /health. STACK, the option names and their values are checked against\n"
         "the installed templates first: an unknown stack is refused with the known ones (exit 2).\n"
         "Without --wait, prints only the task id. With --wait, prints the task's events as they\n"
         "come, then the project's path, its checks and the command to run it; exits 3 when the\n"
         "task did not complete. With --wait --json, the events go to standard error and the task\n"
         "(its result: path, files, checks, run) is printed as one JSON object.\n\n"
         "`troupectl bootstrap --list` shows the stacks, their options, types, defaults and\n"
         "choices; with --json as an array of objects.\n\n"
         "Options:\n"
         "      --set KEY=VALUE a template option, e.g. --set python_version=3.12 (repeatable)\n"
         "      --wait          follow the task to its end and print the result\n"
         "      --open          open the project in the editor once it is made (asks for consent)\n"
         "      --force         move an existing workspace NAME aside instead of refusing\n"
         "      --list          list the stacks and their options\n",
         0, 2, CTL_OPTION_SET | CTL_OPTION_WAIT | CTL_OPTION_OPEN | CTL_OPTION_FORCE | CTL_OPTION_LIST,
         verb_bootstrap},
        {"open", "NAME|ID [--path P]", "open a workspace in the editor",
         "Asks the registry to open the workspace NAME, or the workspace of the task ID, in the\n"
         "editor (exec.editor for the agent of that task; for a bootstrap task, the project\n"
         "folder). The first time this raises a consent request: open says so on standard error\n"
         "and waits for the answer (troupectl consent allow ID, or deny ID). Exits 0 when the\n"
         "editor was started, 1 when it was denied or failed, 4 when there is no such task or\n"
         "workspace. With --json: {\"status\", \"message\"}.\n\n"
         "Options:\n"
         "      --path P        open this path, relative to the workspace, instead\n",
         1, 1, CTL_OPTION_PATH, verb_open},
};

static const char ctl_global_help[] =
        "Global options:\n"
        "  -h, --help              show this help, or a verb's help after the verb\n"
        "      --version           show the version\n"
        "      --json              print JSON instead of text\n"
        "      --bus-address=ADDR  talk to the suite on this D-Bus address\n";

static const char ctl_exit_help[] =
        "Exit status: 0 ok, 1 failure (audit verify: the log is damaged), 2 usage error, 3 task did\n"
        "not complete, 4 no such object.\n";

static void print_overview(void) {
        printf("Usage: troupectl [OPTIONS] VERB [ARGS]\n\n"
               "Control the troupe suite: its daemons, agents, tasks, consent and audit log.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(ctl_verbs); i++) {
                const CtlVerb *v = &ctl_verbs[i];
                _cleanup_free_ char *left = strjoin(v->name, isempty(v->synopsis) ? "" : " ", v->synopsis);

                /* Long synopses get their summary on the next line. */
                if (left && strlen(left) <= 22)
                        printf("  %-22s  %s\n", left, v->summary);
                else
                        printf("  %s\n  %-22s  %s\n", left ? left : v->name, "", v->summary);
        }
        printf("\n%s\n%sSee troupectl(1) and `troupectl VERB --help`.\n", ctl_global_help, ctl_exit_help);
}

static void print_verb_help(const CtlVerb *v) {
        printf("Usage: troupectl %s%s%s [--json] [--bus-address=ADDR]\n\n%s\n%s\n%s", v->name,
               isempty(v->synopsis) ? "" : " ", v->synopsis, v->help, ctl_global_help, ctl_exit_help);
}

static const CtlVerb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(ctl_verbs); i++)
                if (streq(ctl_verbs[i].name, name))
                        return &ctl_verbs[i];
        return NULL;
}

/* The spelling of each verb option, for refusing one a verb does not take. */
static const struct {
        unsigned flag;
        const char *name;
} ctl_option_names[] = {
        {CTL_OPTION_WAIT, "--wait"},     {CTL_OPTION_FOLLOW, "--follow"}, {CTL_OPTION_PARAM, "--param"},
        {CTL_OPTION_PROMPT, "--prompt"}, {CTL_OPTION_AGENT, "--agent"},   {CTL_OPTION_STATE, "--state"},
        {CTL_OPTION_LIMIT, "--limit"},   {CTL_OPTION_ALWAYS, "--always"}, {CTL_OPTION_TASK, "--task"},
        {CTL_OPTION_AFTER, "--after"},   {CTL_OPTION_SET, "--set"},       {CTL_OPTION_OPEN, "--open"},
        {CTL_OPTION_FORCE, "--force"},   {CTL_OPTION_LIST, "--list"},     {CTL_OPTION_PATH, "--path"},
};

static const char *option_name(unsigned flags) {
        for (size_t i = 0; i < ELEMENTSOF(ctl_option_names); i++)
                if (flags & ctl_option_names[i].flag)
                        return ctl_option_names[i].name;
        return "such";
}

static int verb_check(Ctl *c, const CtlVerb *v) {
        size_t n = strv_length(c->args) - 1;
        unsigned extra = c->options_seen & ~v->options;

        if (n < v->min_args || n > v->max_args)
                return log_error_errno(-EINVAL, "%s operands for '%s'. Usage: troupectl %s %s",
                                       n < v->min_args ? "Missing" : "Too many", v->name, v->name,
                                       v->synopsis);
        if (extra != 0)
                return log_error_errno(-EINVAL, "'%s' takes no %s option. See: troupectl %s --help", v->name,
                                       option_name(extra), v->name);
        return 0;
}

int ctl_dispatch(Ctl *c) {
        const CtlVerb *v;

        if (!c->args[0]) {
                if (c->help) {
                        print_overview();
                        return CTL_EXIT_OK;
                }
                log_error("No verb given. See: troupectl --help");
                return CTL_EXIT_USAGE;
        }

        v = verb_find(c->args[0]);
        if (!v) {
                log_error("Unknown verb '%s'. See: troupectl --help", c->args[0]);
                return CTL_EXIT_USAGE;
        }
        if (c->help) {
                print_verb_help(v);
                return CTL_EXIT_OK;
        }
        if (verb_check(c, v) < 0)
                return CTL_EXIT_USAGE;

        return v->run(c);
}
