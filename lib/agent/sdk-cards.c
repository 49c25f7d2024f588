/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agentcard.h"
#include "agent/sdk-cards.h"
#include "basic/string-util.h"
#include "paths/paths.h"

#ifndef TROUPE_DATADIR
#error "TROUPE_DATADIR must be defined by the build"
#endif
#ifndef TROUPE_LIBEXECDIR
#error "TROUPE_LIBEXECDIR must be defined by the build"
#endif

/* $TROUPE_AGENT_CARDS_DIR and $TROUPE_AGENT_PATH are lists of directories; more are ignored. */
#define SEARCH_DIRS_MAX 32U

static int dirs_add(char ***l, const char *dir) {
        size_t n = strlen(dir);

        /* Absolute, no empty entries, one spelling: "/a/b/" and "/a/b" are the same directory. */
        if (n == 0 || dir[0] != '/' || strv_length(*l) >= SEARCH_DIRS_MAX)
                return 0;
        while (n > 1 && dir[n - 1] == '/')
                n--;

        _cleanup_free_ char *d = strndup(dir, n);
        if (!d)
                return -ENOMEM;
        if (strv_contains(*l, d))
                return 0;
        return strv_extend(l, d);
}

static int dirs_add_env_list(char ***l, const char *variable) {
        _cleanup_free_ char *copy = NULL;
        const char *value = getenv(variable);
        char *state = NULL;
        int r;

        if (isempty(value))
                return 0;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        for (char *d = strtok_r(copy, ":", &state); d; d = strtok_r(NULL, ":", &state)) {
                r = dirs_add(l, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dirs_new(char ***ret) {
        char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

int agent_card_dirs(char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *config = NULL, *config_agents = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = dirs_new(&l);
        if (r < 0)
                return r;
        r = dirs_add_env_list(&l, "TROUPE_AGENT_CARDS_DIR");
        if (r < 0)
                return r;

        /* No $HOME and no $XDG_CONFIG_HOME (a bare service): that directory is skipped, not fatal. */
        r = troupe_path_get(TROUPE_PATH_CONFIG, &config);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                config_agents = strjoin(config, "/agents");
                if (!config_agents)
                        return -ENOMEM;
                r = dirs_add(&l, config_agents);
                if (r < 0)
                        return r;
        }

        r = dirs_add(&l, TROUPE_DATADIR "/agents");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_regular_file(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0 && S_ISREG(st.st_mode);
}

int agent_card_find_in(const char *dir, const char *name, char **ret_path) {
        _cleanup_free_ char *flat = NULL, *nested = NULL;

        assert_return(dir, -EINVAL);
        assert_return(ret_path, -EINVAL);

        if (!name_is_valid(name, AGENT_NAME_MAX))
                return -EINVAL;

        flat = strjoin(dir, "/", name, ".json");
        nested = strjoin(dir, "/", name, "/", name, ".json");
        if (!flat || !nested)
                return -ENOMEM;

        if (is_regular_file(flat)) {
                *ret_path = TAKE_PTR(flat);
                return 0;
        }
        if (is_regular_file(nested)) {
                *ret_path = TAKE_PTR(nested);
                return 0;
        }
        return -ENOENT;
}

int agent_card_find(const char *name, char **ret_path) {
        _cleanup_strv_free_ char **dirs = NULL;
        int r;

        assert_return(ret_path, -EINVAL);

        if (!name_is_valid(name, AGENT_NAME_MAX))
                return -EINVAL;
        r = agent_card_dirs(&dirs);
        if (r < 0)
                return r;
        STRV_FOREACH(d, dirs) {
                r = agent_card_find_in(*d, name, ret_path);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

int agent_exec_dirs(char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = dirs_new(&l);
        if (r < 0)
                return r;
        r = dirs_add_env_list(&l, "TROUPE_AGENT_PATH");
        if (r < 0)
                return r;
        r = dirs_add(&l, TROUPE_LIBEXECDIR "/agents");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(l);
        return 0;
}

int agent_exec_find(const char *file, char **ret_path) {
        _cleanup_strv_free_ char **dirs = NULL;
        int r;

        assert_return(ret_path, -EINVAL);

        if (isempty(file) || strchr(file, '/') || streq(file, ".") || streq(file, ".."))
                return -EINVAL;
        r = agent_exec_dirs(&dirs);
        if (r < 0)
                return r;
        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *p = strjoin(*d, "/", file);

                if (!p)
                        return -ENOMEM;
                if (is_regular_file(p) && access(p, X_OK) >= 0) {
                        *ret_path = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}
