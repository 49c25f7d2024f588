/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"

int bus_open_address(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        /* What sd_bus_open_user() does for the session bus: no per-method privilege checks. */
        r = sd_bus_set_trusted(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_open(sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *address;
        int r;

        assert_return(ret, -EINVAL);

        address = getenv("TROUPE_BUS_ADDRESS");
        if (!isempty(address))
                r = bus_open_address(address, &bus);
        else
                r = sd_bus_open_user(&bus);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_open_daemon(sd_event *event, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(event, -EINVAL);
        assert_return(ret, -EINVAL);

        r = bus_open(&bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* A daemon without its bus cannot be reached: leave the loop, and the service manager
         * restarts us. */
        r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_request_name(sd_bus *bus, const char *name) {
        int r;

        assert_return(bus, -EINVAL);
        assert_return(name, -EINVAL);

        /* Without SD_BUS_NAME_QUEUE the bus answers "exists" at once instead of queueing us. */
        r = sd_bus_request_name(bus, name, 0);
        if (r == -EALREADY)
                return 0;
        return r < 0 ? r : 0;
}

int bus_add_object_manager(sd_bus *bus, const char *path, sd_bus_slot **ret_slot) {
        assert_return(bus, -EINVAL);
        assert_return(path && sd_bus_object_path_is_valid(path), -EINVAL);

        return sd_bus_add_object_manager(bus, ret_slot, path);
}

int bus_object_path(const char *prefix, const char *name, char **ret) {
        assert_return(prefix && sd_bus_object_path_is_valid(prefix), -EINVAL);
        assert_return(ret, -EINVAL);

        if (!name_is_valid(name, BUS_OBJECT_NAME_MAX))
                return -EINVAL;
        return sd_bus_path_encode(prefix, name, ret);
}

int bus_object_name(const char *prefix, const char *path, char **ret) {
        _cleanup_free_ char *name = NULL;
        int r;

        assert_return(prefix && sd_bus_object_path_is_valid(prefix), -EINVAL);
        assert_return(path, -EINVAL);
        assert_return(ret, -EINVAL);

        if (!sd_bus_object_path_is_valid(path))
                return -EINVAL;
        r = sd_bus_path_decode(path, prefix, &name);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;
        if (!name_is_valid(name, BUS_OBJECT_NAME_MAX))
                return -EINVAL;

        *ret = TAKE_PTR(name);
        return 0;
}

static int object_path(const char *prefix, const char *name, char **ret) {
        char *p;

        if (name)
                return bus_object_path(prefix, name, ret);

        assert_return(prefix && sd_bus_object_path_is_valid(prefix), -EINVAL);
        p = strdup(prefix);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int bus_emit_object_added(sd_bus *bus, const char *prefix, const char *name) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert_return(bus, -EINVAL);

        r = object_path(prefix, name, &path);
        if (r < 0)
                return r;
        return sd_bus_emit_object_added(bus, path);
}

int bus_emit_object_removed(sd_bus *bus, const char *prefix, const char *name) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert_return(bus, -EINVAL);

        r = object_path(prefix, name, &path);
        if (r < 0)
                return r;
        return sd_bus_emit_object_removed(bus, path);
}

int bus_emit_properties_changed(sd_bus *bus, const char *prefix, const char *name, const char *interface,
                                char **properties) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert_return(bus, -EINVAL);
        assert_return(interface, -EINVAL);

        r = object_path(prefix, name, &path);
        if (r < 0)
                return r;
        return sd_bus_emit_properties_changed_strv(bus, path, interface, properties);
}

/* Grows *l to hold n + 1 entries plus the terminating NULL, doubling, so reading a long array is
 * linear rather than strv_extend()'s quadratic. */
static int strv_reserve(char ***l, size_t *allocated, size_t n) {
        size_t want = n + 2, k;
        char **t;

        if (want <= *allocated)
                return 0;
        k = MAX(want, *allocated * 2);
        t = reallocarray(*l, k, sizeof(char *));
        if (!t)
                return -ENOMEM;
        *l = t;
        *allocated = k;
        return 0;
}

int bus_read_strv(sd_bus_message *m, const char *what, size_t max_items, size_t max_len,
                  sd_bus_error *error, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, allocated = 0;
        int r;

        assert_return(m, -EINVAL);
        assert_return(what, -EINVAL);
        assert_return(ret, -EINVAL);

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s");
        if (r < 0)
                return r;

        r = strv_reserve(&l, &allocated, 0);
        if (r < 0)
                return r;
        l[0] = NULL;

        for (;;) {
                const char *s;

                r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                if (n >= max_items)
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Too many entries in '%s': at most %zu are allowed.", what,
                                              max_items);
                if (strlen(s) > max_len)
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Entry %zu of '%s' is too long: at most %zu bytes are "
                                              "allowed.",
                                              n, what, max_len);

                r = strv_reserve(&l, &allocated, n);
                if (r < 0)
                        return r;
                l[n] = strdup(s);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(l);
        return 0;
}

int bus_option_string(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        const char *s;
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &s);
        if (r < 0)
                return r;
        if (strlen(s) > BUS_OPTION_STRING_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' is too long: at most %u bytes are allowed.", key,
                                      BUS_OPTION_STRING_MAX);
        return free_and_strdup(p, s);
}

int bus_option_bool(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        int b, r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_BOOLEAN, &b);
        if (r < 0)
                return r;
        *(bool *) p = b;
        return 0;
}

int bus_option_uint64(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_UINT64, p);
        return r < 0 ? r : 0;
}

int bus_option_uint32(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_UINT32, p);
        return r < 0 ? r : 0;
}

int bus_option_strv(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        char ***field = p, **l;
        int r;

        r = bus_read_strv(m, key, BUS_OPTION_STRV_ITEMS_MAX, BUS_OPTION_STRING_MAX, error, &l);
        if (r < 0)
                return r;
        strv_free(*field);
        *field = l;
        return 0;
}

static const BusOption *option_find(const BusOption *table, const char *key, size_t *ret_index) {
        for (size_t i = 0; table[i].key; i++)
                if (streq(table[i].key, key)) {
                        *ret_index = i;
                        return table + i;
                }
        return NULL;
}

/* Names the known keys, so the caller sees the fix beside the mistake. */
static int option_unknown(const BusOption *table, const char *key, sd_bus_error *error) {
        _cleanup_free_ char *known = NULL;
        size_t len = 1, used = 0;

        for (size_t i = 0; table[i].key; i++)
                len += strlen(table[i].key) + 2;
        known = malloc(len);
        if (!known)
                return -ENOMEM;
        known[0] = 0;
        for (size_t i = 0; table[i].key; i++)
                used += (size_t) snprintf(known + used, len - used, "%s%s", i > 0 ? ", " : "",
                                          table[i].key);

        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Unknown option '%s'. Known options: %s.", key,
                              isempty(known) ? "none" : known);
}

static int option_read_one(sd_bus_message *m, const BusOption *table, void *userdata, uint64_t *seen,
                           sd_bus_error *error) {
        const char *key, *contents;
        const BusOption *o;
        size_t i;
        char type;
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &key);
        if (r < 0)
                return r;

        o = option_find(table, key, &i);
        if (!o)
                return option_unknown(table, key, error);
        if (*seen & (UINT64_C(1) << i))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option '%s' is given more than once.",
                                      key);

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != SD_BUS_TYPE_VARIANT || !streq(contents, o->signature))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' must have type '%s', not '%s'.", key, o->signature,
                                      strempty(contents));

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        r = o->parse(m, key, (uint8_t *) userdata + o->offset, error);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        *seen |= UINT64_C(1) << i;
        return 0;
}

int bus_read_options(sd_bus_message *m, const BusOption *table, void *userdata, sd_bus_error *error) {
        uint64_t seen = 0;
        size_t n = 0;
        int r;

        assert_return(m, -EINVAL);
        assert_return(table, -EINVAL);

        while (table[n].key) {
                assert_return(table[n].signature && table[n].parse, -EINVAL);
                n++;
        }
        assert_return(n <= BUS_OPTIONS_MAX, -E2BIG);

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        for (;;) {
                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                r = option_read_one(m, table, userdata, &seen, error);
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 0;
}
