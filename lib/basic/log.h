/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h: leveled logging to the journal (under systemd) or stderr, with structured fields. */
#pragma once

#include <syslog.h>

#include "basic/macro.h"

typedef enum LogTarget {
        LOG_TARGET_CONSOLE,  /* stderr */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_AUTO,     /* journal when stderr is connected to it (JOURNAL_STREAM), else console */
        LOG_TARGET_NULL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

const char *log_target_to_string(LogTarget t) _const_;
LogTarget log_target_from_string(const char *s) _pure_;

/* Level names are syslog's: emerg alert crit err warning notice info debug. */
const char *log_level_to_string(int level) _const_;
int log_level_from_string(const char *s) _pure_;

void log_set_identifier(const char *ident);
const char *log_get_identifier(void);
void log_set_target(LogTarget target);
LogTarget log_get_target(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Reads TROUPE_LOG_LEVEL and TROUPE_LOG_TARGET; invalid values are ignored. */
void log_parse_environment(void);

/* Logs at `level`, with errno `error` (positive or negative, 0 for none) and one optional
 * structured field (e.g. "AGENT", name) added to the journal entry. Returns -abs(error). */
int log_internal(int level, int error, const char *field, const char *field_value, const char *file,
                 int line, const char *func, const char *format, ...) _printf_(8, 9);

#define log_full_errno_field(level, error, field, value, ...)                                     \
        ({                                                                                        \
                int _level_ = (level), _e_ = (error);                                             \
                (log_get_max_level() >= _level_)                                                  \
                        ? log_internal(_level_, _e_, field, value, __FILE__, __LINE__, __func__,  \
                                       __VA_ARGS__)                                               \
                        : -abs(_e_);                                                              \
        })
#define log_full_errno(level, error, ...) log_full_errno_field(level, error, NULL, NULL, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

/* These return the negative errno so a caller can `return log_error_errno(r, "...: %m");` */
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
