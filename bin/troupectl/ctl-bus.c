/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "ctl-records.h"
#include "json/json-util.h"

const CtlService ctl_registry = {
        "org.troupe.Registry1",
        "/org/troupe/Registry1",
        "org.troupe.Registry1.Manager",
};
const CtlService ctl_supervisor = {
        "org.troupe.Supervisor1",
        "/org/troupe/Supervisor1",
        "org.troupe.Supervisor1.Manager",
};
const CtlService ctl_router = {
        "org.troupe.Router1",
        "/org/troupe/Router1",
        "org.troupe.Router1",
};
const CtlService *const ctl_suite[3] = {&ctl_registry, &ctl_supervisor, &ctl_router};

int ctl_bus_choose(Ctl *c, CtlBusSource *ret_source, char **ret_address) {
        _cleanup_free_ char *address = NULL;
        const char *e;
        CtlBusSource source;
        int r;

        e = getenv("TROUPE_BUS_ADDRESS");
        if (c->bus_address_option) {
                source = CTL_BUS_OPTION;
                address = strdup(c->bus_address_option);
        } else if (!isempty(e)) {
                source = CTL_BUS_ENVIRONMENT;
                address = strdup(e);
        } else {
                r = ctl_private_bus_get(&address, NULL);
                if (r < 0)
                        return r;
                source = r > 0 ? CTL_BUS_PRIVATE : CTL_BUS_SESSION;
        }
        if ((source == CTL_BUS_OPTION || source == CTL_BUS_ENVIRONMENT) && !address)
                return -ENOMEM;

        *ret_source = source;
        *ret_address = TAKE_PTR(address);
        return 0;
}

int ctl_bus_open_address(const char *address, sd_bus **ret) {
        int r;

        /* bus_open() is the one place that knows how troupe connects as a client: it takes
         * $TROUPE_BUS_ADDRESS, else the session bus. Point it at our choice; what we start (`up`)
         * inherits the same bus that way. */
        if (address)
                r = RET_NERRNO(setenv("TROUPE_BUS_ADDRESS", address, 1));
        else
                r = RET_NERRNO(unsetenv("TROUPE_BUS_ADDRESS"));
        if (r < 0)
                return r;
        return bus_open(ret);
}

int ctl_bus(Ctl *c, sd_bus **ret) {
        _cleanup_free_ char *address = NULL;
        const char *a;
        int r;

        if (c->bus) {
                *ret = c->bus;
                return 0;
        }

        r = ctl_bus_choose(c, &c->bus_source, &address);
        if (r < 0)
                return log_error_errno(r, "Failed to find out which bus to use: %m");

        r = ctl_bus_open_address(address, &c->bus);
        if (r < 0) {
                if (address)
                        return log_error_errno(r,
                                               "Cannot connect to the bus at %s (%s): %m. "
                                               "Check the address, or start the suite with: troupectl up",
                                               address, ctl_bus_source_describe(c->bus_source));
                return log_error_errno(r, "Cannot connect to the session bus: %m. "
                                          "Start the suite (and a private bus) with: troupectl up");
        }
        /* Long calls (Submit may start an agent and wait up to 10 s for it) get the default 25 s. */
        if (sd_bus_get_address(c->bus, &a) >= 0 && free_and_strdup(&c->bus_address, a) < 0)
                return log_oom();

        *ret = c->bus;
        return 0;
}

bool ctl_error_is_no_such_object(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, BUS_ERROR_NO_SUCH_TASK, BUS_ERROR_NO_SUCH_AGENT,
                                      BUS_ERROR_NO_SUCH_OBJECT, SD_BUS_ERROR_UNKNOWN_OBJECT);
}

bool ctl_error_is_not_running(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

int ctl_log_call_error(Ctl *c, const CtlService *service, const char *what, const sd_bus_error *error,
                       int r) {
        if (ctl_error_is_not_running(error))
                return log_error_errno(r, "%s is not running on %s. Start the suite with: troupectl up",
                                       service->name, strna(c->bus_address));
        if (sd_bus_error_is_set(error))
                return log_error_errno(r, "Failed to %s: %s", what, error->message ?: error->name);
        return log_error_errno(r, "Failed to %s: %m", what);
}

int ctl_snake_case(const char *name, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t j = 0;

        s = malloc(strlen(name) * 2 + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; name[i]; i++) {
                char ch = name[i];

                if (ch >= 'A' && ch <= 'Z') {
                        char prev = i > 0 ? name[i - 1] : 0;
                        if ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9'))
                                s[j++] = '_';
                        ch = (char) (ch - 'A' + 'a');
                }
                s[j++] = ch;
        }
        s[j] = 0;
        *ret = TAKE_PTR(s);
        return 0;
}

static int read_properties(sd_bus_message *reply, json_t **ret) {
        _cleanup_json_ json_t *o = json_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                _cleanup_free_ char *key = NULL;
                json_t *v = NULL;
                const char *name;

                r = sd_bus_message_read_basic(reply, 's', &name);
                if (r < 0)
                        return r;
                r = ctl_snake_case(name, &key);
                if (r < 0)
                        return r;
                r = ctl_message_read_json(reply, &v);
                if (r < 0)
                        return r;
                if (json_object_set_new(o, key, v) < 0)
                        return -ENOMEM;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

int ctl_get_properties(sd_bus *bus, const char *destination, const char *path, const char *interface,
                       sd_bus_error *error, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, destination, path, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", interface);
        if (r < 0)
                return r;
        return read_properties(reply, ret);
}

int ctl_message_read_fd(sd_bus_message *m, int *ret) {
        int fd, r;

        r = sd_bus_message_read_basic(m, 'h', &fd);
        if (r < 0)
                return r;
        /* The message owns its fd; keep our own past its lifetime. */
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}
