/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-spawn.c: starting a child the way posix_spawn() does, for callers that must run their
 * own code (sandbox_enter_in_child()) between the clone and the execve().
 *
 * fork() copies the parent's page tables and then pays a copy-on-write fault for every page either
 * side touches until the child execs; on a loaded machine that alone made a fork+exec of
 * /usr/bin/true 1.4x slower than posix_spawn() (docs/performance.md). clone(CLONE_VM|CLONE_VFORK)
 * shares the memory instead and suspends the parent until the child has exec'd or exited. */
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* Enough for sandbox_enter_in_child() and a caller's fd and environment set-up, with room for
 * sanitizer builds; only the pages touched are ever allocated. */
#define CHILD_STACK_SIZE ((size_t) 256U * 1024U)

typedef struct CloneArgs {
        SandboxChildFunc fn;
        void *userdata;
        sigset_t mask;
} CloneArgs;

/* Runs on the shared memory: writes only its own stack (and errno, which the parent does not read
 * before it is overwritten). A handler the parent installed must never run here, on the parent's
 * data: every signal is blocked on entry, each handler is reset to the default, and only then is
 * the parent's mask restored (execve() would reset the handlers too, but only once it is reached). */
static int child_main(void *p) {
        const CloneArgs *args = p;

        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;

                if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
                        continue;
                sa = (struct sigaction){.sa_handler = SIG_DFL};
                (void) sigaction(sig, &sa, NULL);
        }
        (void) sigprocmask(SIG_SETMASK, &args->mask, NULL);
        (void) args->fn(args->userdata);
        _exit(127);
}

int sandbox_clone_vfork(SandboxChildFunc fn, void *userdata, pid_t *ret_pid) {
        CloneArgs args = {.fn = fn, .userdata = userdata};
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        sigset_t all;
        char *stack;
        pid_t pid;
        int r = 0;

        assert_return(fn, -EINVAL);
        assert_return(ret_pid, -EINVAL);

        stack = mmap(NULL, CHILD_STACK_SIZE + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
        if (stack == MAP_FAILED)
                return -errno;
        /* A guard page below, so that an overflow faults instead of writing over a neighbour. */
        if (mprotect(stack, page, PROT_NONE) < 0) {
                r = -errno;
                (void) munmap(stack, CHILD_STACK_SIZE + page);
                return r;
        }

        (void) sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &args.mask);
        /* The stack grows down on every architecture we build for. */
        pid = clone(child_main, stack + page + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
        if (pid < 0)
                r = -errno;
        (void) sigprocmask(SIG_SETMASK, &args.mask, NULL);
        (void) munmap(stack, CHILD_STACK_SIZE + page);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}
