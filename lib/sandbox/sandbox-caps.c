/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandbox-caps.c: the child gives up every capability, for good, and then no_new_privs. Raw
 * syscalls on prepared values: this runs between fork() and execve(). */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"

/* Root keeps no capabilities across execve() (NOROOT), a uid change gives none back
 * (NO_SETUID_FIXUP), none can be made ambient, and the bits are locked so that nothing undoes them. */
#define SANDBOX_SECUREBITS                                                                                  \
        (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |    \
         SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

int sandbox_caps_drop_in_child(const Sandbox *s) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        /* Without CAP_SETPCAP (an unprivileged process without a user namespace) the bounding set
         * cannot shrink; it also cannot matter, since no_new_privs stops every way to gain a
         * capability that it would bound. */
        if (s->setpcap) {
                for (int c = 0; c <= s->cap_last_cap; c++)
                        if (prctl(PR_CAPBSET_DROP, (unsigned long) c, 0, 0, 0) < 0 && errno != EINVAL)
                                return -errno;
                if (prctl(PR_SET_SECUREBITS, (unsigned long) SANDBOX_SECUREBITS, 0, 0, 0) < 0)
                        return -errno;
        }
        /* EINVAL: a kernel before ambient capabilities (4.3), which has none to clear. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        if (syscall(SYS_capset, &header, data) < 0)
                return -errno;
        return 0;
}

int sandbox_no_new_privs_in_child(void) {
        return RET_NERRNO(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}
