/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* string-util.h: comparisons, prefix checks, joining, string vectors and name validation. */
#pragma once

#include <stdarg.h>
#include <string.h>

#include "basic/macro.h"

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Returns a pointer just past `prefix` in s, or NULL. */
char *startswith(const char *s, const char *prefix) _pure_;
char *endswith(const char *s, const char *suffix) _pure_;

/* Concatenates NULL-terminated arguments into a new string. */
char *strjoin_real(const char *x, ...) _sentinel_;
#define strjoin(a, ...) strjoin_real((a), __VA_ARGS__, NULL)

/* asprintf() returning a negative errno. */
int asprintf_safe(char **ret, const char *fmt, ...) _printf_(2, 3);

/* Copies at most size-1 bytes and always terminates; returns true if nothing was cut. */
bool strscpy(char *dst, size_t size, const char *src);

/* Replaces *p with a copy of s (or NULL), freeing the old value. */
int free_and_strdup(char **p, const char *s);

/* A NULL-terminated array of strings. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l) _pure_;
bool strv_contains(char *const *l, const char *s) _pure_;
int strv_extend(char ***l, const char *value);
char **strv_copy(char *const *l);
#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

/* Checks a short identifier (agent, skill, workspace name): [a-z0-9][a-z0-9._-]*, no "..",
 * 1..max bytes. Used wherever a name from outside becomes part of a path or an object path. */
bool name_is_valid(const char *s, size_t max);

/* Checks UTF-8 validity of a buffer of the given length (no NUL accepted inside). */
bool utf8_is_valid_n(const char *s, size_t n) _pure_;

/* The length of the longest prefix of s[0..n) of at most `max` bytes that does not end inside a
 * UTF-8 sequence (judged by continuation bytes; the prefix is not otherwise validated). */
size_t utf8_truncate(const char *s, size_t n, size_t max) _pure_;

/* Copies at most `max` bytes of s[0..n) as valid UTF-8 without cutting a character: every byte
 * that does not start a valid sequence (and any NUL) becomes '?'. *ret_used (may be NULL) gets the
 * bytes of s consumed, so a caller can continue from there. NULL only when out of memory. */
char *utf8_sanitize_copy(const char *s, size_t n, size_t max, size_t *ret_used);
