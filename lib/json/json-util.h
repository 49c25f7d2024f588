/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-util.h: bounded jansson parsing, dumping, and table-driven filling of C structs from JSON. */
#pragma once

#include <jansson.h>

#include "basic/macro.h"

/* jansson ships json_decrefp() itself; this only gives it troupe's spelling. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* jansson refuses anything deeper than 2048 levels; troupe's inputs are far shallower. */
#define JSON_DEPTH_MAX_DEFAULT 64U
#define JSON_DEPTH_MAX_LIMIT 2048U

typedef enum JsonParseFlags {
        /* Accept any value at the top level, not only an object or an array. */
        JSON_PARSE_ANY_VALUE = 1 << 0,
} JsonParseFlags;

/* Parses exactly `size` bytes. Always refuses NUL bytes (raw or \u0000), duplicate object keys,
 * invalid UTF-8, trailing garbage and nesting deeper than max_depth (0: JSON_DEPTH_MAX_DEFAULT).
 * Returns -EFBIG if size > max_size and -EINVAL on bad input; both set *ret_error (if given) to
 * a message, "line L, column C: ..." for syntax errors. */
int json_parse(const char *data, size_t size, size_t max_size, unsigned max_depth, JsonParseFlags flags,
               json_t **ret, char **ret_error);

typedef enum JsonDumpFlags {
        JSON_DUMP_COMPACT = 1 << 0, /* no whitespace; otherwise indented by 2 */
        JSON_DUMP_SORT_KEYS = 1 << 1, /* object keys sorted; otherwise insertion order */
} JsonDumpFlags;

/* Serializes any value to a malloc'd, NUL-terminated string. */
int json_dump_string(const json_t *v, JsonDumpFlags flags, char **ret);

/* Writes `s` as a JSON string literal for an error message: quoted, escaped, and cut at a UTF-8
 * boundary after `max` bytes (marked "..."), so outside input never lands in a log raw. */
int json_quote(const char *s, size_t max, char **ret);

/* "an object", "an integer", "null"...: how error messages name the type of a value. */
const char *json_kind_name(const json_t *v);

/* The table-driven dispatcher: systemd's JsonDispatch, over jansson. */

typedef enum JsonFieldType {
        JSON_FIELD_ANY,
        JSON_FIELD_OBJECT,
        JSON_FIELD_ARRAY,
        JSON_FIELD_STRING,
        JSON_FIELD_INTEGER,
        JSON_FIELD_NUMBER, /* integer or real */
        JSON_FIELD_BOOLEAN,
        _JSON_FIELD_TYPE_MAX,
} JsonFieldType;

typedef enum JsonDispatchFlags {
        /* A missing field is an error. */
        JSON_DISPATCH_MANDATORY = 1 << 0,
        /* null is accepted and treated as if the field were absent. */
        JSON_DISPATCH_NULLABLE = 1 << 1,
        /* On json_dispatch() or an object field: ignore fields the table does not name. */
        JSON_DISPATCH_ALLOW_UNKNOWN = 1 << 2,
        /* Strings, strv elements: "" is an error. */
        JSON_DISPATCH_NONEMPTY = 1 << 3,
        /* uint64: the value is in bytes, and ranges print as 1M, 64G. */
        JSON_DISPATCH_SIZE = 1 << 4,
} JsonDispatchFlags;

typedef struct JsonDispatch JsonDispatch;

/* Stores `v` (already checked against field->type) at `data` (the struct plus field->offset).
 * `path` names the value ("skills[1].id"). Bad input: return json_dispatch_fail(). */
typedef int (*JsonDispatchCallback)(const char *path, json_t *v, const JsonDispatch *field, void *data,
                                    char **ret_error);
/* Called by json_dispatch_array() for each element (an object) with its index. */
typedef int (*JsonElementCallback)(const char *path, json_t *v, size_t index, const JsonDispatch *field,
                                   void *data, char **ret_error);

struct JsonDispatch {
        const char *name;
        JsonFieldType type;
        JsonDispatchCallback callback;
        size_t offset;
        JsonDispatchFlags flags;

        /* Parameters of the standard callbacks; zero means the default given with each. */
        size_t max_length; /* string, strv elements: bytes; name: characters */
        size_t max_count; /* strv, array: elements */
        int64_t min_int, max_int; /* int64; both 0: the whole range */
        uint64_t min_uint, max_uint; /* uint64; both 0: the whole range */
        double min_real, max_real; /* double; both 0: any finite value */
        const JsonDispatch *table; /* object: the table for the nested object */
        JsonElementCallback element; /* array: called for each element */
};

#define JSON_STRING_MAX_DEFAULT 4096U
#define JSON_COUNT_MAX_DEFAULT 256U
#define JSON_NAME_MAX_DEFAULT 64U

/* Fills `userdata` from the object `v` by `table` (terminated by an entry with a NULL name); an
 * entry with a NULL callback accepts its field after the type check and stores nothing.
 * Unknown fields are refused unless flags has JSON_DISPATCH_ALLOW_UNKNOWN; they are checked
 * first, then the table's fields in table order, so the first error reported is stable.
 * `path` prefixes messages ("" or NULL at the top). Returns -EINVAL with *ret_error set on bad
 * input; fields dispatched before the error stay written, so the caller frees userdata. */
int json_dispatch(json_t *v, const char *path, const JsonDispatch table[], JsonDispatchFlags flags,
                  void *userdata, char **ret_error);

/* Sets *ret_error (if given) to "path: message" ("message" when path is empty) and returns
 * -EINVAL, or -ENOMEM if the message cannot be built. */
int json_dispatch_fail(char **ret_error, const char *path, const char *format, ...) _printf_(3, 4);

/* Path helpers for callbacks that report on parts of a value: "a.b", "a[3]" (NULL on OOM). */
char *json_path_field(const char *path, const char *name);
char *json_path_index(const char *path, size_t index);

/* Fails with "expected a string, got an integer" unless v has the given type. */
int json_dispatch_check_type(const char *path, json_t *v, JsonFieldType type, char **ret_error);

/* Standard callbacks; `data` points at the field of the type named. */
int json_dispatch_string(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error);
int json_dispatch_strv(const char *path, json_t *v, const JsonDispatch *field, void *data, char **ret_error);
int json_dispatch_bool(const char *path, json_t *v, const JsonDispatch *field, void *data, char **ret_error);
int json_dispatch_int64(const char *path, json_t *v, const JsonDispatch *field, void *data,
                        char **ret_error);
int json_dispatch_uint64(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error);
int json_dispatch_double(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error);
int json_dispatch_object(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error);
int json_dispatch_array(const char *path, json_t *v, const JsonDispatch *field, void *data,
                        char **ret_error);
int json_dispatch_name(const char *path, json_t *v, const JsonDispatch *field, void *data, char **ret_error);

/* "1M", "64G", or plain bytes when no unit divides evenly; buf needs 24 bytes. */
const char *json_format_bytes(uint64_t bytes, char buf[static 24]);
