/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-notify-ready: the baseline of bench-daemons: sends READY=1 to $NOTIFY_SOCKET with
 * sd_notify() as soon as it runs, as the daemons do once they are set up, then waits for SIGTERM
 * and exits 0. It links libc and libsystemd, the floor under every troupe daemon: its time to
 * READY=1 is exec + dynamic linking + one datagram, its RSS what those libraries cost when idle. */
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

int main(void) {
        sigset_t mask;
        int sig = 0;

        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGTERM) < 0 ||
            sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return EXIT_FAILURE;
        if (sd_notify(0, "READY=1") <= 0)
                return EXIT_FAILURE;
        while (sigwait(&mask, &sig) != 0 || sig != SIGTERM)
                ;
        return EXIT_SUCCESS;
}
