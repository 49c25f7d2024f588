/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>
#include <string.h>

#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* Parses a string literal (size without the terminating NUL, so embedded NULs count). */
#define PARSE(lit, max, depth, flags, ret, err)                                                             \
        json_parse((lit), sizeof(lit) - 1, (max), (depth), (flags), (ret), (err))

static void assert_parse_error(const char *data, size_t size, unsigned depth, int error,
                               const char *message) {
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(json_parse(data, size, 4096, depth, 0, &v, &err), error);
        ck_assert_ptr_null(v);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err, message);
}
#define ASSERT_PARSE_ERROR(lit, depth, error, message)                                                      \
        assert_parse_error((lit), sizeof(lit) - 1, (depth), (error), (message))

START_TEST(test_parse_ok) {
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(PARSE("{\"a\": [1, \"x\"], \"b\": {\"c\": null}}", 4096, 0, 0, &v, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert(json_is_object(v));
        ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "a"), 0)), 1);
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "a"), 1)), "x");
        ck_assert(json_is_null(json_object_get(json_object_get(v, "b"), "c")));
}
END_TEST

START_TEST(test_parse_size_limit) {
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;

        /* Exactly the limit is fine; one byte more is -EFBIG before anything is parsed. */
        ck_assert_int_eq(PARSE("{\"a\":1}", 7, 0, 0, &v, &err), 0);
        ck_assert_ptr_nonnull(v);
        json_decref(TAKE_PTR(v));
        ck_assert_int_eq(PARSE("{\"a\":12}", 7, 0, 0, &v, &err), -EFBIG);
        ck_assert_ptr_null(v);
        ck_assert_str_eq(err, "input is larger than 7 bytes");
        /* Without a place for the message the error code is the same. */
        ck_assert_int_eq(PARSE("{\"a\":12}", 7, 0, 0, &v, NULL), -EFBIG);
}
END_TEST

START_TEST(test_parse_nul) {
        ASSERT_PARSE_ERROR("{\"a\":\0}", 0, -EINVAL, "line 1, column 6: NUL byte in input");
        ASSERT_PARSE_ERROR("{\"a\":\"x\0y\"}", 0, -EINVAL, "line 1, column 8: NUL byte in input");
        ASSERT_PARSE_ERROR("{\"a\":1}\0", 0, -EINVAL, "line 1, column 8: NUL byte in input");
        ASSERT_PARSE_ERROR("{\"a\":\"\\u0000\"}", 0, -EINVAL,
                           "line 1, column 13: NUL character (\\u0000) in a string");
}
END_TEST

START_TEST(test_parse_duplicate_keys) {
        ASSERT_PARSE_ERROR("{\"a\":1,\"a\":2}", 0, -EINVAL,
                           "line 1, column 10: duplicate object key near '\"a\"'");
        ASSERT_PARSE_ERROR("{\"o\":{\"k\":1,\n\"k\":2}}", 0, -EINVAL,
                           "line 2, column 3: duplicate object key near '\"k\"'");
}
END_TEST

START_TEST(test_parse_depth) {
        _cleanup_json_ json_t *v = NULL;
        char deep[2 * 2100 + 1];

        /* Brackets inside strings, escaped quotes included, are not nesting. */
        ck_assert_int_eq(PARSE("[[[1]]]", 4096, 3, 0, &v, NULL), 0);
        json_decref(TAKE_PTR(v));
        ck_assert_int_eq(PARSE("[\"\\\"[[[[{{{{\"]", 4096, 1, 0, &v, NULL), 0);
        json_decref(TAKE_PTR(v));
        ASSERT_PARSE_ERROR("[[[[1]]]]", 3, -EINVAL, "line 1, column 4: nesting deeper than 3 levels");
        ASSERT_PARSE_ERROR("{\"a\":{\"b\":[{}]}}", 3, -EINVAL,
                           "line 1, column 12: nesting deeper than 3 levels");
        /* Columns count characters, as jansson's do: "é" is one. */
        ASSERT_PARSE_ERROR("{\"é\":[\n [[1]]]}", 3, -EINVAL,
                           "line 2, column 3: nesting deeper than 3 levels");

        /* The default is 64; anything above jansson's own 2048 is capped there. */
        memset(deep, '[', 64);
        memset(deep + 64, ']', 64);
        ck_assert_int_eq(json_parse(deep, 128, 4096, 0, 0, &v, NULL), 0);
        json_decref(TAKE_PTR(v));
        memset(deep, '[', 65);
        memset(deep + 65, ']', 65);
        assert_parse_error(deep, 130, 0, -EINVAL, "line 1, column 65: nesting deeper than 64 levels");
        memset(deep, '[', 2049);
        memset(deep + 2049, ']', 2049);
        {
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(json_parse(deep, 4098, 8192, 5000, 0, &v, &err), -EINVAL);
                ck_assert_str_eq(err, "line 1, column 2049: nesting deeper than 2048 levels");
        }
}
END_TEST

START_TEST(test_parse_bad_utf8_and_garbage) {
        ASSERT_PARSE_ERROR("{\"a\":\"\xff\"}", 0, -EINVAL,
                           "line 1, column 6: unable to decode byte 0xff near '\"'");
        ASSERT_PARSE_ERROR("{\"a\":\"\xc3\"}", 0, -EINVAL,
                           "line 1, column 6: unable to decode byte 0xc3 near '\"'");
        ASSERT_PARSE_ERROR("{\"a\":1} x", 0, -EINVAL, "line 1, column 9: end of file expected near 'x'");
        ASSERT_PARSE_ERROR("{\"a\":1}{}", 0, -EINVAL, "line 1, column 8: end of file expected near '{'");
        ASSERT_PARSE_ERROR("{\"a\":1", 0, -EINVAL, "line 1, column 6: '}' expected near end of file");
        ASSERT_PARSE_ERROR("", 0, -EINVAL, "line 1, column 0: '[' or '{' expected near end of file");
        ASSERT_PARSE_ERROR("{\n  \"a\": tru\n}", 0, -EINVAL, "line 2, column 10: invalid token near 'tru'");
        ASSERT_PARSE_ERROR("{\"a\":99999999999999999999}", 0, -EINVAL,
                           "line 1, column 25: too big integer near '99999999999999999999'");
}
END_TEST

START_TEST(test_parse_top_level) {
        _cleanup_json_ json_t *v = NULL;

        ASSERT_PARSE_ERROR("\"x\"", 0, -EINVAL, "line 1, column 3: '[' or '{' expected near '\"x\"'");
        ck_assert_int_eq(PARSE("\"x\"", 4096, 0, JSON_PARSE_ANY_VALUE, &v, NULL), 0);
        ck_assert_str_eq(json_string_value(v), "x");
}
END_TEST

START_TEST(test_dump) {
        _cleanup_json_ json_t *v = NULL, *s = json_string("x");
        _cleanup_free_ char *compact = NULL, *sorted = NULL, *pretty = NULL, *scalar = NULL;

        ck_assert_int_eq(PARSE("{\"b\": 1, \"a\": [true, null, 0.5]}", 4096, 0, 0, &v, NULL), 0);
        ck_assert_int_eq(json_dump_string(v, JSON_DUMP_COMPACT, &compact), 0);
        ck_assert_str_eq(compact, "{\"b\":1,\"a\":[true,null,0.5]}");
        ck_assert_int_eq(json_dump_string(v, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, &sorted), 0);
        ck_assert_str_eq(sorted, "{\"a\":[true,null,0.5],\"b\":1}");
        ck_assert_int_eq(json_dump_string(v, JSON_DUMP_SORT_KEYS, &pretty), 0);
        ck_assert_str_eq(pretty, "{\n  \"a\": [\n    true,\n    null,\n    0.5\n  ],\n  \"b\": 1\n}");
        ck_assert_int_eq(json_dump_string(s, JSON_DUMP_COMPACT, &scalar), 0);
        ck_assert_str_eq(scalar, "\"x\"");
}
END_TEST

static void assert_quote(const char *s, size_t max, const char *expected) {
        _cleanup_free_ char *q = NULL;

        ck_assert_int_eq(json_quote(s, max, &q), 0);
        ck_assert_str_eq(q, expected);
}

START_TEST(test_quote) {
        assert_quote("abc", 64, "\"abc\"");
        assert_quote("a\"b\\c\n\t\r\x01\x7f", 64, "\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u007f\"");
        assert_quote("abcdef", 3, "\"abc\"...");
        assert_quote("abc", 3, "\"abc\"");
        /* Cut before a character, never inside one. */
        assert_quote("h\xc3\xa9llo", 2, "\"h\"...");
        assert_quote("h\xc3\xa9llo", 3, "\"h\xc3\xa9\"...");
        assert_quote("\xff\xfe", 64, "\"\\xff\\xfe\"");
        assert_quote("", 64, "\"\"");
}
END_TEST

START_TEST(test_kind_and_bytes) {
        _cleanup_json_ json_t *o = json_object(), *a = json_array(), *r = json_real(1.5),
                              *i = json_integer(1);
        char buf[24];

        ck_assert_str_eq(json_kind_name(o), "an object");
        ck_assert_str_eq(json_kind_name(a), "an array");
        ck_assert_str_eq(json_kind_name(r), "a real number");
        ck_assert_str_eq(json_kind_name(i), "an integer");
        ck_assert_str_eq(json_kind_name(json_true()), "a boolean");
        ck_assert_str_eq(json_kind_name(json_null()), "null");

        ck_assert_str_eq(json_format_bytes(0, buf), "0");
        ck_assert_str_eq(json_format_bytes(1024, buf), "1K");
        ck_assert_str_eq(json_format_bytes(1536, buf), "1536");
        ck_assert_str_eq(json_format_bytes(MIB, buf), "1M");
        ck_assert_str_eq(json_format_bytes(64 * GIB, buf), "64G");
        ck_assert_str_eq(json_format_bytes(UINT64_C(1) << 60, buf), "1E");
        ck_assert_str_eq(json_format_bytes(UINT64_C(1) << 63, buf), "8E");
        ck_assert_str_eq(json_format_bytes(UINT64_MAX, buf), "18446744073709551615");
}
END_TEST

START_TEST(test_paths) {
        _cleanup_free_ char *a = json_path_field("", "x"), *b = json_path_field("a.b", "c"),
                            *c = json_path_index("items", 3), *d = json_path_field(NULL, "y");

        ck_assert_str_eq(a, "x");
        ck_assert_str_eq(b, "a.b.c");
        ck_assert_str_eq(c, "items[3]");
        ck_assert_str_eq(d, "y");
}
END_TEST

/* The dispatcher, exercised on a struct that uses every standard callback. */

typedef struct Item {
        char *id;
        char **examples;
} Item;

typedef struct Limits {
        uint64_t memory_max;
        uint64_t weight;
} Limits;

typedef struct Thing {
        char *name;
        char *title;
        char **tags;
        bool enabled;
        int64_t offset;
        uint64_t count;
        double ratio;
        Limits limits;
        Item *items;
        size_t n_items;
} Thing;

static void thing_done(Thing *t) {
        free(t->name);
        free(t->title);
        strv_free(t->tags);
        for (size_t i = 0; i < t->n_items; i++) {
                free(t->items[i].id);
                strv_free(t->items[i].examples);
        }
        free(t->items);
}

static const JsonDispatch item_table[] = {
        {"id", JSON_FIELD_STRING, json_dispatch_name, offsetof(Item, id), JSON_DISPATCH_MANDATORY},
        {"examples", JSON_FIELD_ARRAY, json_dispatch_strv, offsetof(Item, examples), 0},
        {},
};

static int item_element(const char *path, json_t *v, size_t index, const JsonDispatch *field, void *data,
                        char **ret_error) {
        Thing *t = data;
        Item *items;

        ck_assert_uint_eq(index, t->n_items);
        items = realloc(t->items, (t->n_items + 1) * sizeof(Item));
        if (!items)
                return -ENOMEM;
        t->items = items;
        t->items[t->n_items] = (Item) {};
        return json_dispatch(v, path, item_table, 0, &t->items[t->n_items++], ret_error);
}

static const JsonDispatch limits_table[] = {
        {"memory_max", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(Limits, memory_max),
         JSON_DISPATCH_SIZE, .min_uint = MIB, .max_uint = 64 * GIB},
        {"weight", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(Limits, weight), 0, .min_uint = 1,
         .max_uint = 10000},
        {},
};

static const JsonDispatch thing_table[] = {
        {"name", JSON_FIELD_STRING, json_dispatch_name, offsetof(Thing, name), JSON_DISPATCH_MANDATORY},
        {"title", JSON_FIELD_STRING, json_dispatch_string, offsetof(Thing, title),
         JSON_DISPATCH_NULLABLE | JSON_DISPATCH_NONEMPTY, .max_length = 8},
        {"tags", JSON_FIELD_ARRAY, json_dispatch_strv, offsetof(Thing, tags), 0, .max_length = 5,
         .max_count = 2},
        {"enabled", JSON_FIELD_BOOLEAN, json_dispatch_bool, offsetof(Thing, enabled), 0},
        {"offset", JSON_FIELD_INTEGER, json_dispatch_int64, offsetof(Thing, offset), 0, .min_int = -10,
         .max_int = 10},
        {"count", JSON_FIELD_INTEGER, json_dispatch_uint64, offsetof(Thing, count), 0},
        {"ratio", JSON_FIELD_NUMBER, json_dispatch_double, offsetof(Thing, ratio), 0, .min_real = 0,
         .max_real = 1},
        {"limits", JSON_FIELD_OBJECT, json_dispatch_object, offsetof(Thing, limits), 0,
         .table = limits_table},
        /* The element callback appends to the Thing itself. */
        {"items", JSON_FIELD_ARRAY, json_dispatch_array, 0, 0, .element = item_element, .max_count = 3},
        {"legacy", JSON_FIELD_STRING, NULL, 0, 0},
        {},
};

static int dispatch_text(const char *text, JsonDispatchFlags flags, Thing *t, char **ret_error) {
        _cleanup_json_ json_t *v = NULL;
        int r;

        r = json_parse(text, strlen(text), 4096, 0, JSON_PARSE_ANY_VALUE, &v, NULL);
        ck_assert_int_eq(r, 0);
        return json_dispatch(v, "", thing_table, flags, t, ret_error);
}

static void assert_dispatch_error(const char *text, const char *message) {
        _cleanup_free_ char *err = NULL;
        Thing t = {};

        ck_assert_int_eq(dispatch_text(text, 0, &t, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err, message);
        thing_done(&t);
}

START_TEST(test_dispatch_full) {
        _cleanup_free_ char *err = NULL;
        Thing t = {.limits.weight = 100};

        ck_assert_int_eq(
                dispatch_text("{\"name\": \"thing-1\", \"title\": \"Tîtle\", \"tags\": [\"a\", \"bcdef\"],"
                              " \"enabled\": true, \"offset\": -10, \"count\": 9223372036854775807,"
                              " \"ratio\": 1, \"limits\": {\"memory_max\": 67108864},"
                              " \"items\": [{\"id\": \"one\", \"examples\": [\"e1\", \"e2\"]},"
                              " {\"id\": \"two\"}], \"legacy\": \"ignored\"}",
                              0, &t, &err),
                0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(t.name, "thing-1");
        ck_assert_str_eq(t.title, "Tîtle");
        ck_assert_uint_eq(strv_length(t.tags), 2);
        ck_assert_str_eq(t.tags[1], "bcdef");
        ck_assert(t.enabled);
        ck_assert_int_eq(t.offset, -10);
        ck_assert_uint_eq(t.count, UINT64_C(9223372036854775807));
        ck_assert_double_eq(t.ratio, 1.0);
        ck_assert_uint_eq(t.limits.memory_max, 64 * MIB);
        ck_assert_uint_eq(t.limits.weight, 100); /* absent: the default stays */
        ck_assert_uint_eq(t.n_items, 2);
        ck_assert_str_eq(t.items[0].id, "one");
        ck_assert_str_eq(t.items[0].examples[1], "e2");
        ck_assert_ptr_null(t.items[0].examples[2]);
        ck_assert_str_eq(t.items[1].id, "two");
        ck_assert_ptr_null(t.items[1].examples);
        thing_done(&t);
}
END_TEST

START_TEST(test_dispatch_nested_paths) {
        assert_dispatch_error(
                "{\"name\": \"x\", \"items\": [{\"id\": \"a\"}, {\"id\": \"b\", \"examples\": [7]}]}",
                "items[1].examples[0]: expected a string, got an integer");
        assert_dispatch_error("{\"name\": \"x\", \"items\": [{\"id\": \"a\"}, \"b\"]}",
                              "items[1]: expected an object, got a string");
        assert_dispatch_error("{\"name\": \"x\", \"items\": [{}]}",
                              "items[0].id: required field is missing");
        assert_dispatch_error("{\"name\": \"x\", \"items\": [{\"id\": \"a\", \"extra\": 1}]}",
                              "items[0]: unknown field \"extra\"");
        assert_dispatch_error(
                "{\"name\": \"x\", \"items\": [{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"},"
                " {\"id\": \"d\"}]}",
                "items: must have at most 3 elements");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": []}",
                              "limits: expected an object, got an array");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"cpu\": 1}}",
                              "limits: unknown field \"cpu\"");
}
END_TEST

START_TEST(test_dispatch_ranges) {
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"memory_max\": 1048575}}",
                              "limits.memory_max: must be between 1M and 64G");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"memory_max\": 68719476737}}",
                              "limits.memory_max: must be between 1M and 64G");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"memory_max\": -1}}",
                              "limits.memory_max: must be between 1M and 64G");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"memory_max\": 1.5}}",
                              "limits.memory_max: expected an integer, got a real number");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"weight\": 0}}",
                              "limits.weight: must be between 1 and 10000");
        assert_dispatch_error("{\"name\": \"x\", \"limits\": {\"weight\": 10001}}",
                              "limits.weight: must be between 1 and 10000");
        assert_dispatch_error("{\"name\": \"x\", \"count\": -1}", "count: must not be negative");
        assert_dispatch_error("{\"name\": \"x\", \"count\": \"1\"}",
                              "count: expected an integer, got a string");
        assert_dispatch_error("{\"name\": \"x\", \"offset\": 11}", "offset: must be between -10 and 10");
        assert_dispatch_error("{\"name\": \"x\", \"offset\": -11}", "offset: must be between -10 and 10");
        assert_dispatch_error("{\"name\": \"x\", \"ratio\": 1.5}", "ratio: must be between 0 and 1");
        assert_dispatch_error("{\"name\": \"x\", \"ratio\": -0.25}", "ratio: must be between 0 and 1");
        assert_dispatch_error("{\"name\": \"x\", \"ratio\": \"0.5\"}",
                              "ratio: expected a number, got a string");
        assert_dispatch_error("{\"name\": \"x\", \"enabled\": \"yes\"}",
                              "enabled: expected a boolean, got a string");
        assert_dispatch_error("{\"name\": \"x\", \"enabled\": 1}",
                              "enabled: expected a boolean, got an integer");
}
END_TEST

START_TEST(test_dispatch_strings) {
        _cleanup_free_ char *err = NULL;
        Thing t = {};

        assert_dispatch_error("{\"name\": \"x\", \"title\": \"123456789\"}",
                              "title: must be at most 8 bytes");
        /* The limit is in bytes: five two-byte characters are ten. */
        assert_dispatch_error("{\"name\": \"x\", \"title\": \"ééééé\"}", "title: must be at most 8 bytes");
        assert_dispatch_error("{\"name\": \"x\", \"title\": \"\"}", "title: must not be empty");
        assert_dispatch_error("{\"name\": \"x\", \"title\": 5}", "title: expected a string, got an integer");
        assert_dispatch_error("{\"name\": \"x\", \"tags\": [\"a\", \"b\", \"c\"]}",
                              "tags: must have at most 2 elements");
        assert_dispatch_error("{\"name\": \"x\", \"tags\": [\"a\", \"abcdef\"]}",
                              "tags[1]: must be at most 5 bytes");
        assert_dispatch_error("{\"name\": \"x\", \"tags\": \"a\"}", "tags: expected an array, got a string");
        assert_dispatch_error("{\"name\": \"x\", \"legacy\": 1}",
                              "legacy: expected a string, got an integer");

        /* NULLABLE: null is as if absent; without it null is a type error. */
        ck_assert_int_eq(dispatch_text("{\"name\": \"x\", \"title\": null}", 0, &t, &err), 0);
        ck_assert_ptr_null(t.title);
        ck_assert_ptr_null(err);
        thing_done(&t);
        assert_dispatch_error("{\"name\": null}", "name: expected a string, got null");
}
END_TEST

START_TEST(test_dispatch_names) {
        assert_dispatch_error("{}", "name: required field is missing");
        assert_dispatch_error(
                "{\"name\": \"../x\"}",
                "name: \"../x\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_dispatch_error(
                "{\"name\": \"Echo\"}",
                "name: \"Echo\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_dispatch_error(
                "{\"name\": \"a\\nb\"}",
                "name: \"a\\nb\" is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, without \"..\"");
        assert_dispatch_error(
                "{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                "name: must be at most 64 characters");
}
END_TEST

START_TEST(test_dispatch_unknown_and_top) {
        _cleanup_free_ char *err = NULL;
        Thing t = {};

        assert_dispatch_error("{\"nmae\": \"x\", \"name\": \"x\"}", "unknown field \"nmae\"");
        assert_dispatch_error("{\"name\": \"x\", \"a\\u0001\": 1}", "unknown field \"a\\u0001\"");
        assert_dispatch_error("[]", "expected an object, got an array");
        assert_dispatch_error("\"x\"", "expected an object, got a string");

        ck_assert_int_eq(
                dispatch_text("{\"nmae\": 1, \"name\": \"x\"}", JSON_DISPATCH_ALLOW_UNKNOWN, &t, &err), 0);
        ck_assert_str_eq(t.name, "x");
        ck_assert_ptr_null(err);
        thing_done(&t);

        /* Errors without a place for the message still fail the same way. */
        t = (Thing) {};
        ck_assert_int_eq(dispatch_text("{\"name\": 1}", 0, &t, NULL), -EINVAL);
        thing_done(&t);
}
END_TEST

START_TEST(test_dispatch_built_values) {
        /* Values built in code, not parsed, can hold what the parser refuses. */
        _cleanup_json_ json_t *bad_utf8 =
                json_pack("{s:s,s:o}", "name", "x", "title", json_stringn_nocheck("\xff", 1));
        _cleanup_json_ json_t *nul_name = json_pack("{s:o}", "name", json_stringn("a\0b", 3));
        _cleanup_json_ json_t *s = json_string("x");
        _cleanup_free_ char *err1 = NULL, *err2 = NULL, *err3 = NULL;
        Thing t = {};

        ck_assert_int_eq(json_dispatch(bad_utf8, "", thing_table, 0, &t, &err1), -EINVAL);
        ck_assert_str_eq(err1, "title: must be valid UTF-8 without NUL bytes");
        thing_done(&t);
        t = (Thing) {};
        ck_assert_int_eq(json_dispatch(nul_name, "", thing_table, 0, &t, &err2), -EINVAL);
        ck_assert_str_eq(err2, "name: must be valid UTF-8 without NUL bytes");
        thing_done(&t);

        ck_assert_int_eq(json_dispatch_check_type("p", s, JSON_FIELD_ANY, &err3), 0);
        ck_assert_int_eq(json_dispatch_check_type("p", s, JSON_FIELD_NUMBER, &err3), -EINVAL);
        ck_assert_str_eq(err3, "p: expected a number, got a string");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("json");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_ok);
        tcase_add_test(tc, test_parse_size_limit);
        tcase_add_test(tc, test_parse_nul);
        tcase_add_test(tc, test_parse_duplicate_keys);
        tcase_add_test(tc, test_parse_depth);
        tcase_add_test(tc, test_parse_bad_utf8_and_garbage);
        tcase_add_test(tc, test_parse_top_level);
        tcase_add_test(tc, test_dump);
        tcase_add_test(tc, test_quote);
        tcase_add_test(tc, test_kind_and_bytes);
        tcase_add_test(tc, test_paths);
        tcase_add_test(tc, test_dispatch_full);
        tcase_add_test(tc, test_dispatch_nested_paths);
        tcase_add_test(tc, test_dispatch_ranges);
        tcase_add_test(tc, test_dispatch_strings);
        tcase_add_test(tc, test_dispatch_names);
        tcase_add_test(tc, test_dispatch_unknown_and_top);
        tcase_add_test(tc, test_dispatch_built_values);
        suite_add_tcase(s, tc);
        return s;
}
