/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "bus/bus-describe.h"
#include "bus/bus-error.h"

typedef struct BusDescribe {
        BusDescribeFunc func;
        void *userdata;
} BusDescribe;

/* Kept private: lib/json may define its own cleanup for json_t and the names must not clash. */
static void json_decref_p(json_t **p) {
        if (*p)
                json_decref(*p);
}

int bus_describe_reply(sd_bus_message *m, BusDescribeFunc func, void *userdata, sd_bus_error *error) {
        _cleanup_(json_decref_p) json_t *v = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        assert_return(m, -EINVAL);
        assert_return(func, -EINVAL);

        r = func(userdata, &v);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to describe the daemon's state: %m");
        if (!v)
                return bus_error_setf(error, BUS_ERROR_FAILED, "The daemon returned no state to describe.");

        text = json_dumps(v, JSON_COMPACT);
        if (!text)
                return -ENOMEM;

        return sd_bus_reply_method_return(m, "s", text);
}

static int method_describe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusDescribe *d = userdata;

        return bus_describe_reply(m, d->func, d->userdata, error);
}

static const sd_bus_vtable describe_vtable[] = {
        SD_BUS_VTABLE_START(0),
        BUS_DESCRIBE_METHOD(method_describe),
        SD_BUS_VTABLE_END,
};

int bus_describe_add(sd_bus *bus, const char *path, const char *interface, BusDescribeFunc func,
                     void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ BusDescribe *d = NULL;
        int r;

        assert_return(bus, -EINVAL);
        assert_return(path, -EINVAL);
        assert_return(interface, -EINVAL);
        assert_return(func, -EINVAL);

        d = malloc(sizeof(BusDescribe));
        if (!d)
                return -ENOMEM;
        *d = (BusDescribe) { .func = func, .userdata = userdata };

        r = sd_bus_add_object_vtable(bus, &slot, path, interface, describe_vtable, d);
        if (r < 0)
                return r;

        /* From here on the slot owns d and frees it when it goes, whoever drops it last. */
        r = sd_bus_slot_set_destroy_callback(slot, free);
        if (r < 0)
                return r;
        TAKE_PTR(d);

        if (ret_slot)
                *ret_slot = TAKE_PTR(slot);
        else {
                r = sd_bus_slot_set_floating(slot, true);
                if (r < 0)
                        return r;
        }
        return 0;
}
