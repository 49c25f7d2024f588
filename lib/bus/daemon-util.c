/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/daemon-util.h"

static int signal_exit_handler(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* SIGTERM and SIGINT go to `handler`: blocked, so that sd-event's signalfd sees them. The sources
 * are floating: they go with the loop. */
static int event_add_stop_signals(sd_event *event, sd_event_signal_handler_t handler, void *userdata) {
        static const int signals[] = { SIGTERM, SIGINT };
        sigset_t mask;
        int r;

        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGTERM) < 0 || sigaddset(&mask, SIGINT) < 0)
                return -EINVAL;
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;

        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                r = sd_event_add_signal(event, NULL, signals[i], handler, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int daemon_event_new_internal(sd_event_signal_handler_t on_stop, void *userdata, sd_event **ret) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = sd_event_default(&event);
        if (r < 0)
                return r;
#ifdef HAVE_SD_EVENT_SET_SIGNAL_EXIT
        if (!on_stop) {
                r = sd_event_set_signal_exit(event, true);
                if (r < 0)
                        return r;
        } else
#endif
        {
                r = event_add_stop_signals(event, on_stop ?: signal_exit_handler, userdata);
                if (r < 0)
                        return r;
        }
        /* Does nothing unless the service manager set $WATCHDOG_USEC for us. */
        r = sd_event_set_watchdog(event, true);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(event);
        return 0;
}

int daemon_event_new(sd_event **ret) {
        return daemon_event_new_internal(NULL, NULL, ret);
}

int daemon_event_new_with_stop(sd_event_signal_handler_t on_stop, void *userdata, sd_event **ret) {
        assert_return(on_stop, -EINVAL);
        return daemon_event_new_internal(on_stop, userdata, ret);
}

int daemon_notify_ready(const char *status) {
        _cleanup_free_ char *s = NULL;

        if (!status)
                return sd_notify(false, "READY=1");
        /* A newline would start another assignment in the notification. */
        assert_return(!strchr(status, '\n'), -EINVAL);

        s = strjoin("READY=1\nSTATUS=", status);
        if (!s)
                return -ENOMEM;
        return sd_notify(false, s);
}

int daemon_notify_stopping(void) {
        return sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");
}

int daemon_event_loop(sd_event *event, const char *status) {
        int r, k;

        assert_return(event, -EINVAL);

        k = daemon_notify_ready(status);
        if (k < 0)
                (void) log_debug_errno(k, "Failed to send READY=1, ignoring: %m");

        r = sd_event_loop(event);

        k = daemon_notify_stopping();
        if (k < 0)
                (void) log_debug_errno(k, "Failed to send STOPPING=1, ignoring: %m");
        return r;
}
