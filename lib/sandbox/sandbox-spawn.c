/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-spawn.c: starting a child the way posix_spawn() does, for callers that must run their
 * own code (sandbox_enter_in_child()) between the clone and the execve().
 *
 * fork() copies the parent's page tables and then pays a copy-on-write fault for every page either
 * side touches until the child execs; on a loaded machine that alone made a fork+exec of
 * /usr/bin/true 1.4x slower than posix_spawn() (docs/performance.md). clone(CLONE_VM|CLONE_VFORK)
 * shares the memory instead and suspends the parent until the child has exec'd or exited. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "sandbox/sandbox.h"

/* Under AddressSanitizer the child's stack may reuse addresses whose shadow still marks the redzones
 * of an earlier stack there (munmap() does not clear the shadow): clear it before each use. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPAWN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SPAWN_ASAN)
#define SPAWN_ASAN 1
#endif
#ifdef SPAWN_ASAN
#include <sanitizer/asan_interface.h>
#define stack_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define stack_unpoison(p, n) ((void) (p), (void) (n))
#endif

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
        stack_unpoison(stack + page, CHILD_STACK_SIZE);

        (void) sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &args.mask);
        /* The stack grows down on every architecture we build for. */
        pid = clone(child_main, stack + page + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
        if (pid < 0)
                r = -errno;
        (void) sigprocmask(SIG_SETMASK, &args.mask, NULL);
        stack_unpoison(stack + page, CHILD_STACK_SIZE);
        (void) munmap(stack, CHILD_STACK_SIZE + page);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}

/* ---- a parked child, placed from outside ------------------------------------------------------- */

/* The descriptors the parked child holds for us are moved at least this high, out of the way of a
 * child that rearranges 0..3 (spawn's stdio and agent socket) before it execs. */
#define PARKED_FD_MIN 10

typedef struct ParkedArgs {
        SandboxChildFunc fn;
        void *userdata;
        sigset_t mask;
        int go_fd; /* read end: one byte, 'G' to go on, anything else (or end of file) to exit */
        int go_write_fd; /* our copy of the write end, closed first: end of file if the parent dies */
} ParkedArgs;

/* Like child_main(), but first waits for the parent to place us, with every signal still blocked:
 * until the parent says go we run nothing of the caller's and touch no memory but our stack. */
static int parked_main(void *p) {
        const ParkedArgs *args = p;
        ssize_t n;
        char go = 0;

        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;

                if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
                        continue;
                sa = (struct sigaction){.sa_handler = SIG_DFL};
                (void) sigaction(sig, &sa, NULL);
        }
        (void) close(args->go_write_fd);
        do
                n = read(args->go_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1 || go != 'G')
                _exit(127);
        (void) sigprocmask(SIG_SETMASK, &args->mask, NULL);
        (void) args->fn(args->userdata);
        _exit(127);
}

static int pipe_high(int ret_fds[static 2]) {
        int fds[2], r = 0;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        for (size_t i = 0; i < 2; i++) {
                ret_fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, PARKED_FD_MIN);
                if (ret_fds[i] < 0 && r == 0)
                        r = -errno;
                (void) close(fds[i]);
        }
        if (r < 0) {
                for (size_t i = 0; i < 2; i++)
                        if (ret_fds[i] >= 0)
                                (void) close(ret_fds[i]);
                return r;
        }
        return 0;
}

/* Blocks until the child has exec'd or exited: then the kernel closes its copy of the write end,
 * the last one. */
static void wait_exec(int fd) {
        char c;
        ssize_t n;

        do
                n = read(fd, &c, 1);
        while (n > 0 || (n < 0 && errno == EINTR));
}

int sandbox_clone_parked(SandboxChildFunc fn, void *userdata, SandboxPlaceFunc place, void *place_userdata,
                         pid_t *ret_pid) {
        ParkedArgs args = {.fn = fn, .userdata = userdata};
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        int go[2] = {-EBADF, -EBADF}, done[2] = {-EBADF, -EBADF};
        sigset_t all;
        char *stack = MAP_FAILED;
        pid_t pid = -1;
        int r;

        assert_return(fn && place && ret_pid, -EINVAL);

        r = pipe_high(go);
        if (r >= 0)
                r = pipe_high(done);
        if (r >= 0) {
                stack = mmap(NULL, CHILD_STACK_SIZE + page, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
                if (stack == MAP_FAILED || mprotect(stack, page, PROT_NONE) < 0)
                        r = -errno;
                else
                        stack_unpoison(stack + page, CHILD_STACK_SIZE);
        }
        if (r < 0)
                goto finish;
        args.go_fd = go[0];
        args.go_write_fd = go[1];

        /* Signals stay blocked here until the child is gone from our memory: no handler of ours may
         * run meanwhile, and no read below is interrupted (the child shares our errno). */
        (void) sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &args.mask);
        pid = clone(parked_main, stack + page + CHILD_STACK_SIZE, CLONE_VM | SIGCHLD, &args);
        if (pid < 0) {
                r = -errno;
                (void) sigprocmask(SIG_SETMASK, &args.mask, NULL);
                goto finish;
        }
        done[1] = safe_close(done[1]);

        /* The child is parked in read(): it runs nothing else until the byte below. We keep our own
         * read end open until then, so that the write cannot raise SIGPIPE. */
        r = place(pid, place_userdata);
        (void) !write(go[1], r >= 0 ? "G" : "X", 1);
        go[1] = safe_close(go[1]);
        go[0] = safe_close(go[0]);
        wait_exec(done[0]);
        (void) sigprocmask(SIG_SETMASK, &args.mask, NULL);
        if (r < 0)
                (void) waitpid(pid, NULL, 0);
        else
                *ret_pid = pid;

finish:
        if (stack != MAP_FAILED) {
                stack_unpoison(stack + page, CHILD_STACK_SIZE);
                (void) munmap(stack, CHILD_STACK_SIZE + page);
        }
        for (size_t i = 0; i < 2; i++) {
                safe_close(go[i]);
                safe_close(done[i]);
        }
        return r < 0 ? r : 0;
}
