/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "registryd-workspace.h"

#include <errno.h>
#include <string.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/path-resolve.h"
#include "paths/paths.h"

bool workspace_name_is_valid(const char *name) {
        return name_is_valid(name, WORKSPACE_NAME_MAX);
}

int workspace_create(const char *root, const char *name, bool reuse, char **ret_path) {
        _cleanup_close_ int root_fd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        int r;

        assert_return(root && root[0] == '/', -EINVAL);
        assert_return(ret_path, -EINVAL);

        /* The string check gives a precise error early; openat2() beneath the root is what
         * actually keeps the directory inside it. */
        if (!workspace_name_is_valid(name))
                return -EINVAL;

        r = mkdir_p_secure(root, 0700, &root_fd);
        if (r < 0)
                return r;

        fd = path_mkdir_beneath(root_fd, name, strlen(name), 0700, reuse ? PATH_MKDIR_EXIST_OK : 0);
        if (fd < 0)
                return fd;

        path = strjoin(root, "/", name);
        if (!path)
                return -ENOMEM;

        *ret_path = TAKE_PTR(path);
        return 0;
}
