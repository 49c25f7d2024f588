/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* macro.h: compiler attributes, cleanup helpers, ownership transfer and small arithmetic macros. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _unused_ __attribute__((__unused__))
#define _pure_ __attribute__((__pure__))
#define _const_ __attribute__((__const__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))
#define _noreturn_ __attribute__((__noreturn__))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _warn_unused_result_ __attribute__((__warn_unused_result__))
#define _sentinel_ __attribute__((__sentinel__))
#define _fallthrough_ __attribute__((__fallthrough__))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRLEN(x) (sizeof("" x "") - 1)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((uint64_t) UINT64_MAX)

/* Hand a pointer or fd on to a new owner: the variable is reset so its cleanup does nothing. */
#define TAKE_GENERIC(var, type, nullvalue)                \
        ({                                                \
                type *_pvar_ = &(var);                    \
                type _var_ = *_pvar_;                     \
                type _nullvalue_ = nullvalue;             \
                *_pvar_ = _nullvalue_;                    \
                _var_;                                    \
        })
#define TAKE_PTR(ptr) TAKE_GENERIC(ptr, typeof(ptr), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

/* Defines `static inline void funcp(type *p)` that calls func(*p) when *p is not empty. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)           \
        static inline void func##p(type *p) {             \
                if (*p)                                   \
                        func(*p);                         \
        }

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Turn a libc -1/errno result into a negative errno, at the call site. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
#define RET_NERRNO(expr)                                  \
        ({                                                \
                int _r_ = (expr);                         \
                _r_ < 0 ? negative_errno() : _r_;         \
        })

/* Like assert() but returns an error from a function instead of aborting: for API misuse. */
#define assert_return(expr, r)                            \
        do {                                              \
                if (_unlikely_(!(expr)))                  \
                        return (r);                       \
        } while (false)

/* A table of names for an enum whose values run 0.._MAX-1, with to/from string functions. */
#define _DEFINE_STRING_TABLE_LOOKUP(name, type, scope)                                  \
        scope const char *name##_to_string(type i) {                                          \
                if ((size_t) i >= ELEMENTSOF(name##_table))                             \
                        return NULL;                                                    \
                return name##_table[i];                                                 \
        }                                                                               \
        scope type name##_from_string(const char *s) {                                        \
                if (!s)                                                                 \
                        return (type) -EINVAL;                                          \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(name##_table); _i_++)             \
                        if (name##_table[_i_] && __builtin_strcmp(name##_table[_i_], s) == 0) \
                                return (type) _i_;                                      \
                return (type) -EINVAL;                                                  \
        }
#define DEFINE_STRING_TABLE_LOOKUP(name, type) _DEFINE_STRING_TABLE_LOOKUP(name, type, )
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP(name, type) _DEFINE_STRING_TABLE_LOOKUP(name, type, static)
