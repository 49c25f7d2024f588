/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which editor exec.editor runs: $TROUPE_EDITOR, editor= in troupe.conf, else code, $VISUAL or xdg-open;
 * the command split into words like a shell would, without one, and its program found in $PATH. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/paths.h"
#include "registryd-editor.h"

#define EDITOR_WORDS_MAX 64U
#define EDITOR_COMMAND_MAX 4096U
#define TROUPE_CONF_FILE "troupe.conf"
#define TROUPE_CONF_SIZE_MAX ((size_t) 64U * 1024U)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Splits a command line into words the way a shell would, without running one: blanks separate,
 * '...' is literal, "..." and a backslash escape; nothing is expanded. */
static int split_command(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *word = NULL;
        size_t n = 0, len = strlen(s);
        bool in_word = false;
        char quote = 0;

        if (len > EDITOR_COMMAND_MAX)
                return -E2BIG;
        word = malloc(len + 1);
        if (!word)
                return -ENOMEM;

        for (const char *p = s;; p++) {
                char ch = *p;

                if (ch == 0 || (!quote && strchr(" \t\n", ch))) {
                        if (quote)
                                return -EINVAL;
                        if (in_word) {
                                word[n] = 0;
                                if (strv_length(l) >= EDITOR_WORDS_MAX)
                                        return -E2BIG;
                                if (strv_extend(&l, word) < 0)
                                        return -ENOMEM;
                                n = 0;
                                in_word = false;
                        }
                        if (ch == 0)
                                break;
                        continue;
                }
                in_word = true;
                if (quote == '\'') {
                        if (ch == '\'')
                                quote = 0;
                        else
                                word[n++] = ch;
                } else if (ch == '\\' && (!quote || p[1] == '"' || p[1] == '\\')) {
                        if (p[1] == 0)
                                return -EINVAL;
                        word[n++] = *++p;
                } else if (ch == '"' || (!quote && ch == '\''))
                        quote = quote ? 0 : ch;
                else
                        word[n++] = ch;
        }
        if (!l)
                return -ENOENT;
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_executable_file(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0 && S_ISREG(st.st_mode) && access(path, X_OK) >= 0;
}

/* The absolute path of `name`: itself when it has a slash (then it must be absolute), else the first
 * executable of that name in the registry's $PATH. */
static int find_executable(const char *name, char **ret) {
        const char *path, *p;

        if (strchr(name, '/')) {
                if (name[0] != '/' || !is_executable_file(name))
                        return -ENOENT;
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        path = getenv("PATH");
        for (p = isempty(path) ? DEFAULT_PATH : path; *p;) {
                size_t k = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;

                /* Relative entries would depend on our working directory: skipped. */
                if (k > 0 && p[0] == '/') {
                        if (asprintf_safe(&candidate, "%.*s/%s", (int) k, p, name) < 0)
                                return -ENOMEM;
                        if (is_executable_file(candidate)) {
                                *ret = TAKE_PTR(candidate);
                                return 0;
                        }
                }
                p += k;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

/* `editor=` in troupe.conf: the last one wins; NULL when there is none. */
static int troupe_conf_editor(char **ret) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *value = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_CONFIG, &dir);
        if (r == -ENXIO) {
                /* No $HOME and no override: there is no config file to read. */
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        path = strjoin(dir, "/" TROUPE_CONF_FILE);
        if (!path)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, path, TROUPE_CONF_SIZE_MAX, &text, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;

        for (char *line = text, *next; line; line = next) {
                char *v, *end;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line += strspn(line, " \t");
                if (!startswith(line, "editor"))
                        continue;
                v = line + strlen("editor");
                v += strspn(v, " \t");
                if (*v != '=')
                        continue;
                v++;
                v += strspn(v, " \t");
                for (end = v + strlen(v); end > v && strchr(" \t\r", end[-1]); end--)
                        ;
                *end = 0;
                r = free_and_strdup(&value, isempty(v) ? NULL : v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(value);
        return 0;
}

/* Sets *reterr to the message for the agent and returns `error` (-ENOMEM if even that fails). */
static int editor_fail(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int editor_fail(char **reterr, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(reterr, format, ap);
        va_end(ap);
        if (r < 0) {
                *reterr = NULL;
                return -ENOMEM;
        }
        return error;
}

/* `command` as argv with argv[0] made absolute; -ENOENT when it is not installed, and then
 * *ret_missing (if given) is the program it names. */
static int editor_command(const char *command, char ***ret, char **ret_missing) {
        _cleanup_strv_free_ char **argv = NULL;
        char *exe;
        int r;

        r = split_command(command, &argv);
        if (r < 0)
                return r;
        r = find_executable(argv[0], &exe);
        if (r == -ENOENT && ret_missing) {
                *ret_missing = strdup(argv[0]);
                if (!*ret_missing)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        free(argv[0]);
        argv[0] = exe;
        *ret = TAKE_PTR(argv);
        return 0;
}

/* The editor command as argv with argv[0] absolute: $TROUPE_EDITOR, else editor= in troupe.conf (an
 * explicit choice that is not installed is an error, not a reason to pick another), else the first
 * of code, $VISUAL and xdg-open that is installed. */
int editor_resolve(char ***ret, char **reterr) {
        _cleanup_free_ char *conf = NULL, *missing = NULL;
        const char *explicit, *from = "$TROUPE_EDITOR";
        const char *fallbacks[] = {"code", getenv("VISUAL"), "xdg-open"};
        int r;

        explicit = getenv("TROUPE_EDITOR");
        if (isempty(explicit)) {
                r = troupe_conf_editor(&conf);
                if (r < 0)
                        return editor_fail(reterr, r, "cannot read %s: %s", TROUPE_CONF_FILE, strerror(-r));
                explicit = conf;
                from = "editor= in " TROUPE_CONF_FILE;
        }
        if (!isempty(explicit)) {
                r = editor_command(explicit, ret, &missing);
                if (r == -ENOENT && missing)
                        return editor_fail(reterr, r,
                                           "editor '%s' (from %s) is not installed or not in PATH", missing,
                                           from);
                if (r < 0 && r != -ENOMEM)
                        return editor_fail(reterr, r,
                                           "the editor command from %s cannot be split into words", from);
                return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(fallbacks); i++) {
                if (isempty(fallbacks[i]))
                        continue;
                r = editor_command(fallbacks[i], ret, NULL);
                if (r >= 0 || r == -ENOMEM)
                        return r;
        }
        return editor_fail(
                reterr, -ENOENT,
                "no editor found: set $TROUPE_EDITOR or editor= in %s (tried code, $VISUAL, xdg-open)",
                TROUPE_CONF_FILE);
}
