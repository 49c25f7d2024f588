/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "basic/string-util.h"

char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? (char *) s + l : NULL;
}

char *endswith(const char *s, const char *suffix) {
        size_t sl = strlen(s), xl = strlen(suffix);
        if (xl > sl)
                return NULL;
        return memcmp(s + sl - xl, suffix, xl) == 0 ? (char *) s + sl - xl : NULL;
}

char *strjoin_real(const char *x, ...) {
        va_list ap;
        size_t l = 0;
        char *r, *p;

        va_start(ap, x);
        for (const char *t = x; t; t = va_arg(ap, const char *))
                l += strlen(t);
        va_end(ap);

        r = malloc(l + 1);
        if (!r)
                return NULL;
        p = r;
        va_start(ap, x);
        for (const char *t = x; t; t = va_arg(ap, const char *))
                p = stpcpy(p, t);
        va_end(ap);
        *p = 0;
        return r;
}

int asprintf_safe(char **ret, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

bool strscpy(char *dst, size_t size, const char *src) {
        size_t l;

        if (size == 0)
                return false;
        l = strnlen(src, size);
        if (l >= size) {
                memcpy(dst, src, size - 1);
                dst[size - 1] = 0;
                return false;
        }
        memcpy(dst, src, l + 1);
        return true;
}

int free_and_strdup(char **p, const char *s) {
        char *t = NULL;

        if (s) {
                t = strdup(s);
                if (!t)
                        return -ENOMEM;
        }
        free(*p);
        *p = t;
        return 0;
}

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        STRV_FOREACH(s, l)
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

int strv_extend(char ***l, const char *value) {
        size_t n = strv_length(*l);
        char *v = strdup(value);
        char **t;

        if (!v)
                return -ENOMEM;
        t = realloc(*l, sizeof(char *) * (n + 2));
        if (!t) {
                free(v);
                return -ENOMEM;
        }
        t[n] = v;
        t[n + 1] = NULL;
        *l = t;
        return 0;
}

char **strv_copy(char *const *l) {
        _cleanup_strv_free_ char **r = calloc(strv_length(l) + 1, sizeof(char *));
        size_t i = 0;

        if (!r)
                return NULL;
        STRV_FOREACH(s, l) {
                r[i] = strdup(*s);
                if (!r[i])
                        return NULL;
                i++;
        }
        return TAKE_PTR(r);
}

bool name_is_valid(const char *s, size_t max) {
        size_t n;

        if (isempty(s))
                return false;
        n = strnlen(s, max + 1);
        if (n > max)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return !strstr(s, "..");
}

bool utf8_is_valid_n(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0;

        while (i < n) {
                unsigned char c = p[i];
                size_t len;
                uint32_t cp;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xE0) == 0xC0) {
                        len = 2;
                        cp = c & 0x1F;
                } else if ((c & 0xF0) == 0xE0) {
                        len = 3;
                        cp = c & 0x0F;
                } else if ((c & 0xF8) == 0xF0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3F);
                }
                /* Reject overlong forms, surrogates and values past U+10FFFF. */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                        return false;
                i += len;
        }
        return true;
}

size_t utf8_truncate(const char *s, size_t n, size_t max) {
        size_t cut = MIN(n, max);

        while (cut > 0 && cut < n && ((unsigned char) s[cut] & 0xc0) == 0x80)
                cut--;
        return cut;
}

/* The length of the UTF-8 sequence a lead byte announces; 0 for a byte no valid sequence starts
 * with (continuation bytes, the overlong leads 0xc0/0xc1, and leads past U+10FFFF). */
static size_t utf8_sequence_length(unsigned char c) {
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return 2;
        if (c >= 0xe0 && c <= 0xef)
                return 3;
        if (c >= 0xf0 && c <= 0xf4)
                return 4;
        return 0;
}

char *utf8_sanitize_copy(const char *s, size_t n, size_t max, size_t *ret_used) {
        char *out = malloc(MIN(n, max) + 1);
        size_t i = 0, o = 0;

        if (!out)
                return NULL;
        while (i < n) {
                size_t k = utf8_sequence_length((unsigned char) s[i]);

                if (k == 0 || i + k > n || s[i] == '\0' || !utf8_is_valid_n(s + i, k)) {
                        if (o + 1 > max)
                                break;
                        out[o++] = '?';
                        i++;
                        continue;
                }
                if (o + k > max)
                        break;
                memcpy(out + o, s + i, k);
                o += k;
                i += k;
        }
        out[o] = '\0';
        if (ret_used)
                *ret_used = i;
        return out;
}
