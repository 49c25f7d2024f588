/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json/json-util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/string-util.h"

static int parse_fail(char **ret_error, int line, int column, const char *text) {
        if (ret_error) {
                char *m = NULL;
                if (asprintf_safe(&m, "line %d, column %d: %s", line, column, text) < 0)
                        return -ENOMEM;
                free(*ret_error);
                *ret_error = m;
        }
        return -EINVAL;
}

/* jansson reads NUL-terminated strings out of a sized buffer happily and only caps depth at
 * 2048, so both are checked here first, counting lines and columns the way jansson does (the
 * column counts characters, not bytes) so every message points at the same place. */
static int json_prescan(const char *data, size_t size, unsigned max_depth, char **ret_error) {
        unsigned depth = 0;
        int line = 1, column = 0;
        bool in_string = false, escaped = false;

        for (size_t i = 0; i < size; i++) {
                unsigned char c = (unsigned char) data[i];

                if (c == '\n') {
                        line++;
                        column = 0;
                } else if ((c & 0xC0) != 0x80)
                        column++;

                if (c == 0)
                        return parse_fail(ret_error, line, column, "NUL byte in input");
                if (in_string) {
                        if (escaped)
                                escaped = false;
                        else if (c == '\\')
                                escaped = true;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == '"')
                        in_string = true;
                else if (c == '[' || c == '{') {
                        if (++depth > max_depth) {
                                char text[64];
                                (void) snprintf(text, sizeof(text), "nesting deeper than %u levels",
                                               max_depth);
                                return parse_fail(ret_error, line, column, text);
                        }
                } else if ((c == ']' || c == '}') && depth > 0)
                        depth--;
        }
        return 0;
}

int json_parse(const char *data, size_t size, size_t max_size, unsigned max_depth, JsonParseFlags flags,
               json_t **ret, char **ret_error) {
        json_error_t error;
        json_t *v;
        int r;

        assert_return(data || size == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        if (size > max_size) {
                if (ret_error) {
                        char *m = NULL;
                        if (asprintf_safe(&m, "input is larger than %zu bytes", max_size) < 0)
                                return -ENOMEM;
                        free(*ret_error);
                        *ret_error = m;
                }
                return -EFBIG;
        }
        if (max_depth == 0)
                max_depth = JSON_DEPTH_MAX_DEFAULT;
        max_depth = MIN(max_depth, JSON_DEPTH_MAX_LIMIT);

        r = json_prescan(data, size, max_depth, ret_error);
        if (r < 0)
                return r;

        v = json_loadb(data ?: "", size,
                       JSON_REJECT_DUPLICATES | (flags & JSON_PARSE_ANY_VALUE ? JSON_DECODE_ANY : 0),
                       &error);
        if (!v) {
                if (json_error_code(&error) == json_error_out_of_memory)
                        return -ENOMEM;
                /* jansson's own text names its flag, which means nothing to whoever wrote the file. */
                if (json_error_code(&error) == json_error_null_character)
                        return parse_fail(ret_error, error.line, error.column,
                                          "NUL character (\\u0000) in a string");
                return parse_fail(ret_error, error.line, error.column, error.text);
        }
        *ret = v;
        return 0;
}

int json_dump_string(const json_t *v, JsonDumpFlags flags, char **ret) {
        size_t f = JSON_ENCODE_ANY;
        char *s;

        assert_return(v, -EINVAL);
        assert_return(ret, -EINVAL);

        f |= flags & JSON_DUMP_COMPACT ? JSON_COMPACT : JSON_INDENT(2);
        if (flags & JSON_DUMP_SORT_KEYS)
                f |= JSON_SORT_KEYS;
        s = json_dumps(v, f);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static char *quote_byte(char *p, unsigned char c, bool utf8) {
        static const char hex[] = "0123456789abcdef";

        switch (c) {
        case '"':
        case '\\':
                *p++ = '\\';
                *p++ = (char)c;
                return p;
        case '\n':
                return stpcpy(p, "\\n");
        case '\t':
                return stpcpy(p, "\\t");
        case '\r':
                return stpcpy(p, "\\r");
        }
        if (c < 0x20 || c == 0x7f)
                return p + sprintf(p, "\\u%04x", c);
        if (c >= 0x80 && !utf8) {
                /* Not JSON, but an honest picture of bytes that are not text. */
                *p++ = '\\';
                *p++ = 'x';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
                return p;
        }
        *p++ = (char)c;
        return p;
}

int json_quote(const char *s, size_t max, char **ret) {
        size_t n, cut;
        char *buf, *p;
        bool utf8;

        assert_return(s, -EINVAL);
        assert_return(ret, -EINVAL);

        n = strlen(s);
        cut = utf8_truncate(s, n, max);
        utf8 = utf8_is_valid_n(s, cut);

        /* Worst case per byte is "\u00XX"; plus the quotes, "..." and the NUL. */
        buf = malloc(cut * 6 + 6);
        if (!buf)
                return -ENOMEM;
        p = buf;
        *p++ = '"';
        for (size_t i = 0; i < cut; i++)
                p = quote_byte(p, (unsigned char) s[i], utf8);
        *p++ = '"';
        if (cut < n)
                p = stpcpy(p, "...");
        *p = 0;
        *ret = buf;
        return 0;
}

const char *json_kind_name(const json_t *v) {
        if (!v)
                return "nothing";
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a real number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "an unknown value";
}

static const char *const json_field_type_table[_JSON_FIELD_TYPE_MAX] = {
        [JSON_FIELD_ANY] = "any value",      [JSON_FIELD_OBJECT] = "an object",
        [JSON_FIELD_ARRAY] = "an array",     [JSON_FIELD_STRING] = "a string",
        [JSON_FIELD_INTEGER] = "an integer", [JSON_FIELD_NUMBER] = "a number",
        [JSON_FIELD_BOOLEAN] = "a boolean",
};

static bool json_field_type_matches(JsonFieldType type, const json_t *v) {
        switch (type) {
        case JSON_FIELD_ANY:
                return true;
        case JSON_FIELD_OBJECT:
                return json_is_object(v);
        case JSON_FIELD_ARRAY:
                return json_is_array(v);
        case JSON_FIELD_STRING:
                return json_is_string(v);
        case JSON_FIELD_INTEGER:
                return json_is_integer(v);
        case JSON_FIELD_NUMBER:
                return json_is_number(v);
        case JSON_FIELD_BOOLEAN:
                return json_is_boolean(v);
        case _JSON_FIELD_TYPE_MAX:
                break;
        }
        return false;
}

char *json_path_field(const char *path, const char *name) {
        return isempty(path) ? strdup(name) : strjoin(path, ".", name);
}

char *json_path_index(const char *path, size_t index) {
        char *p = NULL;

        if (asprintf_safe(&p, "%s[%zu]", strempty(path), index) < 0)
                return NULL;
        return p;
}

int json_dispatch_fail(char **ret_error, const char *path, const char *format, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return -EINVAL;

        va_start(ap, format);
        r = vasprintf(&m, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        if (!isempty(path)) {
                char *t = strjoin(path, ": ", m);
                if (!t)
                        return -ENOMEM;
                free(m);
                m = t;
        }
        free(*ret_error);
        *ret_error = TAKE_PTR(m);
        return -EINVAL;
}

int json_dispatch_check_type(const char *path, json_t *v, JsonFieldType type, char **ret_error) {
        assert_return(type >= 0 && type < _JSON_FIELD_TYPE_MAX, -EINVAL);

        if (json_field_type_matches(type, v))
                return 0;
        return json_dispatch_fail(ret_error, path, "expected %s, got %s", json_field_type_table[type],
                                  json_kind_name(v));
}

static const JsonDispatch *json_dispatch_find(const JsonDispatch table[], const char *key) {
        for (const JsonDispatch *f = table; f->name; f++)
                if (streq(f->name, key))
                        return f;
        return NULL;
}

static int json_dispatch_unknown(json_t *v, const char *path, const JsonDispatch table[], char **ret_error) {
        const char *key;
        json_t *value;

        json_object_foreach(v, key, value) {
                _cleanup_free_ char *q = NULL;

                if (json_dispatch_find(table, key))
                        continue;
                if (json_quote(key, 64, &q) < 0)
                        return -ENOMEM;
                return json_dispatch_fail(ret_error, path, "unknown field %s", q);
        }
        return 0;
}

int json_dispatch(json_t *v, const char *path, const JsonDispatch table[], JsonDispatchFlags flags,
                  void *userdata, char **ret_error) {
        int r;

        assert_return(table, -EINVAL);

        r = json_dispatch_check_type(path, v, JSON_FIELD_OBJECT, ret_error);
        if (r < 0)
                return r;

        if (!(flags & JSON_DISPATCH_ALLOW_UNKNOWN)) {
                r = json_dispatch_unknown(v, path, table, ret_error);
                if (r < 0)
                        return r;
        }

        for (const JsonDispatch *f = table; f->name; f++) {
                json_t *value = json_object_get(v, f->name);
                _cleanup_free_ char *p = NULL;

                p = json_path_field(path, f->name);
                if (!p)
                        return -ENOMEM;
                if (!value) {
                        if (f->flags & JSON_DISPATCH_MANDATORY)
                                return json_dispatch_fail(ret_error, p, "required field is missing");
                        continue;
                }
                if (json_is_null(value) && (f->flags & JSON_DISPATCH_NULLABLE))
                        continue;
                r = json_dispatch_check_type(p, value, f->type, ret_error);
                if (r < 0)
                        return r;
                if (!f->callback)
                        continue;
                r = f->callback(p, value, f, (uint8_t *) userdata + f->offset, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int json_validate_string(const char *path, json_t *v, const JsonDispatch *field, char **ret_error) {
        size_t max = field->max_length ?: JSON_STRING_MAX_DEFAULT;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        /* jansson's parser guarantees this, but values built in code need not. */
        if (!utf8_is_valid_n(json_string_value(v), json_string_length(v)))
                return json_dispatch_fail(ret_error, path, "must be valid UTF-8 without NUL bytes");
        if ((field->flags & JSON_DISPATCH_NONEMPTY) && json_string_length(v) == 0)
                return json_dispatch_fail(ret_error, path, "must not be empty");
        if (json_string_length(v) > max)
                return json_dispatch_fail(ret_error, path, "must be at most %zu bytes", max);
        return 0;
}

int json_dispatch_string(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        char **s = data;
        int r;

        r = json_validate_string(path, v, field, ret_error);
        if (r < 0)
                return r;
        return free_and_strdup(s, json_string_value(v));
}

static int json_check_count(const char *path, json_t *v, const JsonDispatch *field, char **ret_error) {
        size_t max = field->max_count ?: JSON_COUNT_MAX_DEFAULT;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_ARRAY, ret_error);
        if (r < 0)
                return r;
        if (json_array_size(v) > max)
                return json_dispatch_fail(ret_error, path, "must have at most %zu elements", max);
        return 0;
}

int json_dispatch_strv(const char *path, json_t *v, const JsonDispatch *field, void *data,
                       char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        char ***strv = data;
        json_t *e;
        size_t i;
        int r;

        r = json_check_count(path, v, field, ret_error);
        if (r < 0)
                return r;

        l = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                _cleanup_free_ char *p = json_path_index(path, i);

                if (!p)
                        return -ENOMEM;
                r = json_validate_string(p, e, field, ret_error);
                if (r < 0)
                        return r;
                l[i] = strdup(json_string_value(e));
                if (!l[i])
                        return -ENOMEM;
        }
        strv_free(*strv);
        *strv = TAKE_PTR(l);
        return 0;
}

int json_dispatch_bool(const char *path, json_t *v, const JsonDispatch *field, void *data,
                       char **ret_error) {
        bool *b = data;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_BOOLEAN, ret_error);
        if (r < 0)
                return r;
        *b = json_is_true(v);
        return 0;
}

int json_dispatch_int64(const char *path, json_t *v, const JsonDispatch *field, void *data,
                        char **ret_error) {
        int64_t *i = data, x, min = INT64_MIN, max = INT64_MAX;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_INTEGER, ret_error);
        if (r < 0)
                return r;
        if (field->min_int != 0 || field->max_int != 0) {
                min = field->min_int;
                max = field->max_int;
        }
        x = (int64_t) json_integer_value(v);
        if (x < min || x > max)
                return json_dispatch_fail(ret_error, path, "must be between %" PRIi64 " and %" PRIi64, min,
                                          max);
        *i = x;
        return 0;
}

const char *json_format_bytes(uint64_t bytes, char buf[static 24]) {
        static const char units[] = "KMGTPE";
        unsigned u = 0;

        while (bytes > 0 && bytes % 1024 == 0 && u < sizeof(units) - 1) {
                bytes /= 1024;
                u++;
        }
        if (u == 0)
                (void) snprintf(buf, 24, "%" PRIu64, bytes);
        else
                (void) snprintf(buf, 24, "%" PRIu64 "%c", bytes, units[u - 1]);
        return buf;
}

static int json_fail_uint_range(const char *path, uint64_t min, uint64_t max, bool size, char **ret_error) {
        char a[24], b[24];

        if (!size)
                return json_dispatch_fail(ret_error, path, "must be between %" PRIu64 " and %" PRIu64, min,
                                          max);
        return json_dispatch_fail(ret_error, path, "must be between %s and %s", json_format_bytes(min, a),
                                  json_format_bytes(max, b));
}

int json_dispatch_uint64(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        uint64_t *u = data, min = 0, max = UINT64_MAX;
        json_int_t x;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_INTEGER, ret_error);
        if (r < 0)
                return r;
        if (field->min_uint != 0 || field->max_uint != 0) {
                min = field->min_uint;
                max = field->max_uint;
        }
        x = json_integer_value(v);
        if (x < 0 || (uint64_t) x < min || (uint64_t) x > max) {
                if (min == 0 && max == UINT64_MAX)
                        return json_dispatch_fail(ret_error, path, "must not be negative");
                return json_fail_uint_range(path, min, max, field->flags & JSON_DISPATCH_SIZE, ret_error);
        }
        *u = (uint64_t) x;
        return 0;
}

int json_dispatch_double(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        double *d = data, x;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_NUMBER, ret_error);
        if (r < 0)
                return r;
        x = json_number_value(v);
        if (!isfinite(x))
                return json_dispatch_fail(ret_error, path, "must be a finite number");
        if ((field->min_real != 0 || field->max_real != 0) && (x < field->min_real || x > field->max_real))
                return json_dispatch_fail(ret_error, path, "must be between %g and %g", field->min_real,
                                          field->max_real);
        *d = x;
        return 0;
}

int json_dispatch_object(const char *path, json_t *v, const JsonDispatch *field, void *data,
                         char **ret_error) {
        assert_return(field->table, -EINVAL);
        return json_dispatch(v, path, field->table, field->flags & JSON_DISPATCH_ALLOW_UNKNOWN, data,
                             ret_error);
}

int json_dispatch_array(const char *path, json_t *v, const JsonDispatch *field, void *data,
                        char **ret_error) {
        json_t *e;
        size_t i;
        int r;

        assert_return(field->element, -EINVAL);

        r = json_check_count(path, v, field, ret_error);
        if (r < 0)
                return r;
        json_array_foreach(v, i, e) {
                _cleanup_free_ char *p = json_path_index(path, i);

                if (!p)
                        return -ENOMEM;
                r = json_dispatch_check_type(p, e, JSON_FIELD_OBJECT, ret_error);
                if (r < 0)
                        return r;
                r = field->element(p, e, i, field, data, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_dispatch_name(const char *path, json_t *v, const JsonDispatch *field, void *data,
                       char **ret_error) {
        size_t max = field->max_length ?: JSON_NAME_MAX_DEFAULT;
        _cleanup_free_ char *q = NULL;
        char **s = data;
        int r;

        r = json_dispatch_check_type(path, v, JSON_FIELD_STRING, ret_error);
        if (r < 0)
                return r;
        if (json_string_length(v) > max)
                return json_dispatch_fail(ret_error, path, "must be at most %zu characters", max);
        /* An embedded NUL would hide the rest of the string from name_is_valid(). */
        if (strlen(json_string_value(v)) != json_string_length(v))
                return json_dispatch_fail(ret_error, path, "must be valid UTF-8 without NUL bytes");
        if (name_is_valid(json_string_value(v), max))
                return free_and_strdup(s, json_string_value(v));

        if (json_quote(json_string_value(v), max, &q) < 0)
                return -ENOMEM;
        return json_dispatch_fail(ret_error, path,
                                  "%s is not a valid name: use lowercase letters, digits, '.', '_' or '-', "
                                  "starting with a letter or digit, without \"..\"",
                                  q);
}
