/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"

static int log_max_level = LOG_INFO;
static LogTarget log_target = LOG_TARGET_AUTO;
static char log_identifier[64] = "troupe";
static int journal_stream_cached = -1;

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_CONSOLE] = "console",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_NULL] = "null",
};
DEFINE_STRING_TABLE_LOOKUP(log_target, LogTarget);

static const char *const log_level_table[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};
DEFINE_STRING_TABLE_LOOKUP(log_level, int);

void log_set_identifier(const char *ident) {
        const char *slash = strrchr(ident, '/');
        strscpy(log_identifier, sizeof(log_identifier), slash ? slash + 1 : ident);
}

const char *log_get_identifier(void) {
        return log_identifier;
}

void log_set_target(LogTarget target) {
        if (target >= 0 && target < _LOG_TARGET_MAX)
                log_target = target;
}

LogTarget log_get_target(void) {
        return log_target;
}

void log_set_max_level(int level) {
        if (level >= LOG_EMERG && level <= LOG_DEBUG)
                log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_parse_environment(void) {
        const char *e;

        e = getenv("TROUPE_LOG_LEVEL");
        if (e && log_level_from_string(e) >= 0)
                log_set_max_level(log_level_from_string(e));
        e = getenv("TROUPE_LOG_TARGET");
        if (e && log_target_from_string(e) >= 0)
                log_set_target(log_target_from_string(e));
}

/* systemd sets JOURNAL_STREAM=dev:ino when stderr is a journal stream; trust it only if it still
 * names our stderr, since children inherit the variable but not always the fd. */
static bool stderr_is_journal(void) {
        unsigned long long dev, ino;
        struct stat st;
        const char *e;

        if (journal_stream_cached >= 0)
                return journal_stream_cached;
        journal_stream_cached = 0;
        e = getenv("JOURNAL_STREAM");
        if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
            (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino)
                journal_stream_cached = 1;
        return journal_stream_cached;
}

static void log_to_journal(int level, int error, const char *field, const char *value, const char *file,
                           int line, const char *func, const char *msg) {
        char field_buf[128] = "";

        if (field && value)
                (void) snprintf(field_buf, sizeof(field_buf), "%s=%s", field, value);
        (void) sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s",
                               log_identifier, "CODE_FILE=%s", file, "CODE_LINE=%i", line,
                               "CODE_FUNC=%s", func, "ERRNO=%i", error,
                               field_buf[0] ? "%s" : NULL, field_buf, NULL);
}

int log_internal(int level, int error, const char *field, const char *field_value, const char *file,
                 int line, const char *func, const char *format, ...) {
        char msg[2048];
        LogTarget target = log_target;
        va_list ap;

        error = abs(error);
        if (target == LOG_TARGET_NULL || level > log_max_level)
                return -error;

        /* Make %m in the format refer to the error we were given, not whatever errno is now. */
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        if (target == LOG_TARGET_JOURNAL)
                log_to_journal(level, error, field, field_value, file, line, func, msg);
        else
                (void) fprintf(stderr, "%s: %s\n", log_identifier, msg);

        errno = error;
        return -error;
}
