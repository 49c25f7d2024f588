/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-seccomp.c: the syscall filter, compiled with libseccomp once per network variant in the
 * parent and kept as BPF; the child only hands the program to the kernel. The rules and the errno
 * of each are listed in docs/sandbox.md. */
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "sandbox/sandbox-internal.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* A program is at most BPF_MAXINSNS instructions. */
#define SECCOMP_PROGRAM_MAX ((size_t) BPF_MAXINSNS * sizeof(struct sock_filter))

static inline void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* Refused with EPERM, as if the process lacked the privilege (which it does: these are debugging,
 * mounting, kernel keyring, module, namespace and system-wide operations). io_uring is here because
 * its operations (IORING_OP_SOCKET, IORING_OP_OPENAT...) never pass through this filter. */
/* clang-format off */
static const char *const eperm_syscalls[] = {
        "ptrace", "process_vm_readv", "process_vm_writev",
        "mount", "umount2", "pivot_root", "chroot",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        "bpf", "perf_event_open", "userfaultfd",
        "keyctl", "add_key", "request_key",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "swapon", "swapoff", "reboot", "acct",
        "unshare", "setns",
        "open_by_handle_at", "name_to_handle_at",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
};
/* clang-format on */

static int add_eperm_rules(scmp_filter_ctx ctx) {
        for (size_t i = 0; i < ELEMENTSOF(eperm_syscalls); i++) {
                int nr = seccomp_syscall_resolve_name(eperm_syscalls[i]);

                /* A syscall this architecture does not have cannot be called either. */
                if (nr == __NR_SCMP_ERROR)
                        continue;
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* clone() with any namespace flag is refused; clone3() passes its flags in memory that a filter
 * cannot read, so it is ENOSYS: glibc (and everything else, as under systemd) falls back to clone(). */
static int add_clone_rules(scmp_filter_ctx ctx) {
        static const uint64_t flags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                         CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
                if (r < 0)
                        return r;
        }
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* socket(): AF_NETLINK stays, as NETLINK_ROUTE only (getaddrinfo() asks the routing tables; in a
 * private network namespace they are empty); AF_INET and AF_INET6 only when the network variant
 * grants them; every other family is EAFNOSUPPORT, AF_UNIX included: the process keeps the unix
 * sockets it inherited and socketpair(), but cannot reach the session bus or any other socket of the
 * user. A domain with high bits set is above AF_NETLINK and so refused too. */
static int add_socket_rules(scmp_filter_ctx ctx, SandboxNet net) {
        bool inet = net != SANDBOX_NET_NONE;
        int r;

        for (uint64_t family = 0; family < AF_NETLINK; family++) {
                if (inet && (family == AF_INET || family == AF_INET6))
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                     SCMP_A0(SCMP_CMP_EQ, family));
                if (r < 0)
                        return r;
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                             SCMP_A0(SCMP_CMP_GT, (uint64_t) AF_NETLINK));
        if (r < 0)
                return r;
        /* NETLINK_ROUTE answers getaddrinfo() and interface listing. The other protocols are not
         * needed, and NETLINK_USERSOCK carries messages between processes of the shared namespace. */
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
                                SCMP_A0(SCMP_CMP_EQ, (uint64_t) AF_NETLINK),
                                SCMP_A2(SCMP_CMP_NE, (uint64_t) NETLINK_ROUTE));
}

/* Typing into the terminal a process inherited would run commands outside the sandbox. The request
 * is an unsigned int: the upper bits of the register are ignored by the kernel, so by us too. */
static int add_ioctl_rules(scmp_filter_ctx ctx) {
        static const uint64_t requests[] = {TIOCSTI, TIOCLINUX};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, UINT64_C(0xffffffff), requests[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* libseccomp 2.5 exports BPF to an fd only; a memfd keeps it off the filesystem. */
static int export_program(scmp_filter_ctx ctx, struct sock_filter **ret, unsigned short *ret_length) {
        _cleanup_close_ int fd = memfd_create("troupe-seccomp", MFD_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, SECCOMP_PROGRAM_MAX, &data, &size);
        if (r < 0)
                return r;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return -EBADMSG;

        *ret_length = (unsigned short) (size / sizeof(struct sock_filter));
        *ret = (struct sock_filter *) TAKE_PTR(data);
        return 0;
}

static int compile_program(SandboxNet net, struct sock_filter **ret, unsigned short *ret_length) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r;

        if (!ctx)
                return -ENOMEM;
        /* Another architecture's syscall numbers (i386, x32 on x86_64) would dodge every rule. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        /* The child sets no_new_privs itself, before Landlock, which needs it first. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        /* A binary tree keeps the cost per syscall flat as the rule list grows. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return r;

        r = add_eperm_rules(ctx);
        if (r >= 0)
                r = add_clone_rules(ctx);
        if (r >= 0)
                r = add_socket_rules(ctx, net);
        if (r >= 0)
                r = add_ioctl_rules(ctx);
        if (r < 0)
                return r;
        return export_program(ctx, ret, ret_length);
}

int sandbox_filters_new(SandboxFilters **ret) {
        SandboxFilters *f;

        assert_return(ret, -EINVAL);
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->shared = (SandboxSharedNamespaces){.userns_fd = -EBADF, .netns_fd = -EBADF};
        *ret = f;
        return 0;
}

SandboxFilters *sandbox_filters_free(SandboxFilters *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(f->program); i++)
                free(f->program[i]);
        sandbox_landlock_cache_done(&f->landlock);
        sandbox_shared_namespaces_done(&f->shared);
        return mfree(f);
}

int sandbox_filters_get(SandboxFilters *f, SandboxNet net, struct sock_fprog *ret) {
        int r;

        assert_return(f, -EINVAL);
        assert_return(net >= 0 && net < _SANDBOX_NET_MAX, -EINVAL);

        if (!f->program[net]) {
                r = compile_program(net, &f->program[net], &f->length[net]);
                if (r < 0)
                        return r;
        }
        *ret = (struct sock_fprog){.len = f->length[net], .filter = f->program[net]};
        return 0;
}

int sandbox_seccomp_probe(const char **ret_reason) {
        uint32_t action = SECCOMP_RET_ERRNO;

        /* EINVAL: built without CONFIG_SECCOMP(_FILTER). */
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
                *ret_reason = "the kernel is built without seccomp";
                return 0;
        }
        if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0) {
                *ret_reason = "the kernel cannot return an errno from a seccomp filter";
                return 0;
        }
        action = SECCOMP_RET_KILL_PROCESS;
        if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0) {
                *ret_reason = "the kernel cannot kill a process from a seccomp filter";
                return 0;
        }
        return 1;
}

int sandbox_seccomp_enter_in_child(const struct sock_fprog *prog) {
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) >= 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
        return RET_NERRNO(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0));
}
