/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "check-main.h"

typedef enum Color { COLOR_RED, COLOR_GREEN, _COLOR_MAX, _COLOR_INVALID = -EINVAL } Color;
static const char *const color_table[_COLOR_MAX] = { [COLOR_RED] = "red", [COLOR_GREEN] = "green" };
DEFINE_PRIVATE_STRING_TABLE_LOOKUP(color, Color);

START_TEST(test_take_ptr_and_fd) {
        _cleanup_free_ char *owned = NULL;
        char *p = strdup("x");
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        ck_assert_ptr_nonnull(p);
        ck_assert_int_ge(fd, 0);
        owned = TAKE_PTR(p);
        ck_assert_ptr_null(p);
        ck_assert_str_eq(owned, "x");
        {
                _cleanup_close_ int held = TAKE_FD(fd);
                ck_assert_int_eq(fd, -EBADF);
                ck_assert_int_ge(held, 0);
        }
        ck_assert_int_eq(safe_close(-EBADF), -EBADF);
}
END_TEST

START_TEST(test_string_table) {
        ck_assert_str_eq(color_to_string(COLOR_GREEN), "green");
        ck_assert_ptr_null(color_to_string(_COLOR_MAX));
        ck_assert_int_eq(color_from_string("red"), COLOR_RED);
        ck_assert_int_eq(color_from_string("blue"), -EINVAL);
        ck_assert_int_eq(color_from_string(NULL), -EINVAL);
}
END_TEST

START_TEST(test_prefix_suffix_join) {
        _cleanup_free_ char *j = strjoin("a", "/", "bc");

        ck_assert_str_eq(startswith("troupe-agent-echo", "troupe-agent-"), "echo");
        ck_assert_ptr_null(startswith("tro", "troupe"));
        ck_assert_str_eq(endswith("card.json", ".json"), ".json");
        ck_assert_ptr_null(endswith("json", "card.json"));
        ck_assert_str_eq(j, "a/bc");
}
END_TEST

START_TEST(test_strscpy) {
        char buf[4];

        ck_assert(strscpy(buf, sizeof(buf), "abc"));
        ck_assert_str_eq(buf, "abc");
        ck_assert(!strscpy(buf, sizeof(buf), "abcd"));
        ck_assert_str_eq(buf, "abc");
}
END_TEST

START_TEST(test_strv) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;

        ck_assert_int_eq(strv_length(l), 0);
        ck_assert_int_eq(strv_extend(&l, "one"), 0);
        ck_assert_int_eq(strv_extend(&l, "two"), 0);
        ck_assert_int_eq(strv_length(l), 2);
        ck_assert(strv_contains(l, "two"));
        ck_assert(!strv_contains(l, "three"));
        c = strv_copy(l);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c[1], "two");
        ck_assert_ptr_null(c[2]);
}
END_TEST

START_TEST(test_name_is_valid) {
        ck_assert(name_is_valid("billing", 64));
        ck_assert(name_is_valid("a1.b_c-d", 64));
        ck_assert(!name_is_valid("", 64));
        ck_assert(!name_is_valid(NULL, 64));
        ck_assert(!name_is_valid("../x", 64));
        ck_assert(!name_is_valid("a..b", 64));
        ck_assert(!name_is_valid(".x", 64));
        ck_assert(!name_is_valid("a/b", 64));
        ck_assert(!name_is_valid("Billing", 64));
        ck_assert(!name_is_valid("abcde", 4));
        ck_assert(name_is_valid("abcd", 4));
}
END_TEST

START_TEST(test_utf8) {
        ck_assert(utf8_is_valid_n("h\xc3\xa9llo", 6));
        ck_assert(!utf8_is_valid_n("\xc0\xaf", 2));         /* overlong '/' */
        ck_assert(!utf8_is_valid_n("\xed\xa0\x80", 3));     /* surrogate */
        ck_assert(!utf8_is_valid_n("a\0b", 3));             /* embedded NUL */
        ck_assert(!utf8_is_valid_n("\xe2\x82", 2));         /* truncated */
}
END_TEST

START_TEST(test_utf8_truncate) {
        const char *s = "a\xc3\xa9z";                       /* a, U+00E9 (2 bytes), z */

        ck_assert_uint_eq(utf8_truncate(s, 4, 10), 4);
        ck_assert_uint_eq(utf8_truncate(s, 4, 3), 3);
        ck_assert_uint_eq(utf8_truncate(s, 4, 2), 1);          /* would split U+00E9 */
        ck_assert_uint_eq(utf8_truncate(s, 4, 1), 1);
        ck_assert_uint_eq(utf8_truncate(s, 4, 0), 0);
}
END_TEST

START_TEST(test_utf8_sanitize_copy) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        size_t used = 0;

        a = utf8_sanitize_copy("ok\xc3\xa9", 4, 100, &used);
        ck_assert_str_eq(a, "ok\xc3\xa9");
        ck_assert_uint_eq(used, 4);
        /* Overlong, stray continuation and a NUL each become one '?'. */
        b = utf8_sanitize_copy("\xc0\xaf-\x80-\0-", 7, 100, &used);
        ck_assert_str_eq(b, "?" "?-?-?-");         /* split: "??-" would be a trigraph */
        ck_assert_uint_eq(used, 7);
        /* The budget never cuts a character; `used` says where to go on. */
        c = utf8_sanitize_copy("a\xc3\xa9z", 4, 2, &used);
        ck_assert_str_eq(c, "a");
        ck_assert_uint_eq(used, 1);
}
END_TEST

START_TEST(test_read_full_limits) {
        int p[2];
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        char big[100];

        memset(big, 'x', sizeof(big));
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(loop_write(p[1], big, 10), 0);
        safe_close(p[1]);
        ck_assert_int_eq(read_full_fd(p[0], 10, &data, &size), 0);
        ck_assert_int_eq(size, 10);
        ck_assert_int_eq(data[10], 0);
        safe_close(p[0]);

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(loop_write(p[1], big, 11), 0);
        safe_close(p[1]);
        ck_assert_int_eq(read_full_fd(p[0], 10, &data, &size), -EFBIG);
        safe_close(p[0]);

        ck_assert_int_eq(read_full_file_at(AT_FDCWD, "/nonexistent/file", 10, &data, NULL), -ENOENT);
}
END_TEST

START_TEST(test_log_returns_errno) {
        log_set_target(LOG_TARGET_NULL);
        ck_assert_int_eq(log_error_errno(-ENOENT, "x: %m"), -ENOENT);
        ck_assert_int_eq(log_debug_errno(EPERM, "y"), -EPERM);
        ck_assert_int_eq(log_level_from_string("debug"), LOG_DEBUG);
        ck_assert_str_eq(log_level_to_string(LOG_WARNING), "warning");
        ck_assert_int_eq(log_target_from_string("journal"), LOG_TARGET_JOURNAL);
        ck_assert_int_lt(log_target_from_string("kmsg"), 0);
        log_set_target(LOG_TARGET_AUTO);
}
END_TEST

START_TEST(test_monotonic) {
        usec_t a = now_usec(CLOCK_MONOTONIC), b = now_usec(CLOCK_MONOTONIC);
        ck_assert_uint_ge(b, a);
        ck_assert_uint_gt(a, 0);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("basic");
        TCase *tc = tcase_create("basic");

        tcase_add_test(tc, test_take_ptr_and_fd);
        tcase_add_test(tc, test_string_table);
        tcase_add_test(tc, test_prefix_suffix_join);
        tcase_add_test(tc, test_strscpy);
        tcase_add_test(tc, test_strv);
        tcase_add_test(tc, test_name_is_valid);
        tcase_add_test(tc, test_utf8);
        tcase_add_test(tc, test_utf8_truncate);
        tcase_add_test(tc, test_utf8_sanitize_copy);
        tcase_add_test(tc, test_read_full_limits);
        tcase_add_test(tc, test_log_returns_errno);
        tcase_add_test(tc, test_monotonic);
        suite_add_tcase(s, tc);
        return s;
}
