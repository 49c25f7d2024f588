/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Any D-Bus value as JSON, so `--json` shows whatever properties a daemon serves without troupectl
 * knowing their types in advance. */
#include <errno.h>
#include <stdio.h>

#include "ctl-bus.h"
#include "json/json-util.h"

/* D-Bus itself allows 64 levels of nesting in total. */
#define CTL_JSON_DEPTH_MAX 64U

static json_t *basic_to_json(char type, const void *p) {
        switch (type) {
        case 'y':
                return json_integer(*(const uint8_t *) p);
        case 'b':
                return json_boolean(*(const int *) p);
        case 'n':
                return json_integer(*(const int16_t *) p);
        case 'q':
                return json_integer(*(const uint16_t *) p);
        case 'i':
        case 'h':
                return json_integer(*(const int32_t *) p);
        case 'u':
                return json_integer(*(const uint32_t *) p);
        case 'x':
                return json_integer(*(const int64_t *) p);
        case 't': {
                uint64_t v = *(const uint64_t *) p;
                /* jansson integers are signed 64-bit; UINT64_MAX means "infinity" on the bus. */
                return v > (uint64_t) INT64_MAX ? json_real((double) v) : json_integer((json_int_t) v);
        }
        case 'd':
                return json_real(*(const double *) p);
        case 's':
        case 'o':
        case 'g':
                return json_string(*(const char *const *) p);
        }
        return NULL;
}

static int read_basic(sd_bus_message *m, char type, json_t **ret) {
        union {
                uint8_t u8;
                int i;
                int16_t i16;
                uint16_t u16;
                int32_t i32;
                uint32_t u32;
                int64_t i64;
                uint64_t u64;
                double d;
                const char *s;
        } v;
        json_t *j;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        j = basic_to_json(type, &v);
        if (!j)
                return type == 's' || type == 'o' || type == 'g' ? -EINVAL : -ENOMEM;
        *ret = j;
        return 0;
}

static int read_value(sd_bus_message *m, unsigned depth, json_t **ret);

/* The key of a dict entry as a string: JSON object keys are strings. */
static int read_key(sd_bus_message *m, char **ret) {
        _cleanup_json_ json_t *k = NULL;
        char *s = NULL;
        int r;

        r = read_value(m, CTL_JSON_DEPTH_MAX - 1, &k);
        if (r < 0)
                return r;
        if (json_is_string(k))
                s = strdup(json_string_value(k));
        else if (json_is_integer(k))
                r = asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(k)) < 0 ? -ENOMEM : 0;
        else
                r = asprintf(&s, "%.17g", json_number_value(k)) < 0 ? -ENOMEM : 0;
        if (r < 0 || !s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int read_dict(sd_bus_message *m, const char *contents, unsigned depth, json_t **ret) {
        _cleanup_json_ json_t *o = json_object();
        _cleanup_free_ char *entry = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        /* contents is "{kv}"; the entries are read as 'e' containers of "kv". */
        entry = strndup(contents + 1, strlen(contents) - 2);
        if (!entry)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', contents);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', entry)) > 0) {
                _cleanup_free_ char *key = NULL;
                json_t *v = NULL;

                r = read_key(m, &key);
                if (r < 0)
                        return r;
                r = read_value(m, depth + 1, &v);
                if (r < 0)
                        return r;
                if (json_object_set_new(o, key, v) < 0)
                        return -ENOMEM;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* An array or a struct: every element in order. */
static int read_sequence(sd_bus_message *m, char type, const char *contents, unsigned depth, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        for (;;) {
                json_t *v = NULL;

                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                r = read_value(m, depth + 1, &v);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, v) < 0)
                        return -ENOMEM;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

static int read_value(sd_bus_message *m, unsigned depth, json_t **ret) {
        const char *contents;
        char type;
        int r;

        if (depth >= CTL_JSON_DEPTH_MAX)
                return -E2BIG;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        switch (type) {
        case 'v': {
                _cleanup_json_ json_t *v = NULL;

                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = read_value(m, depth + 1, &v);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(v);
                return 0;
        }
        case 'a':
                if (contents[0] == '{')
                        return read_dict(m, contents, depth, ret);
                return read_sequence(m, 'a', contents, depth, ret);
        case 'r':
                return read_sequence(m, 'r', contents, depth, ret);
        }
        return read_basic(m, type, ret);
}

int ctl_message_read_json(sd_bus_message *m, json_t **ret) {
        return read_value(m, 0, ret);
}
