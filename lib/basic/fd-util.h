/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd-util.h: closing, flag changes and bounded reads and writes on file descriptors. */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "basic/macro.h"

int safe_close(int fd);
void closep(int *fd);
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

int fd_set_nonblock(int fd, bool nonblock);
int fd_set_cloexec(int fd, bool cloexec);

/* Read until `size` bytes or EOF; returns the count read. Retries on EINTR, not on EAGAIN. */
ssize_t loop_read(int fd, void *buf, size_t size);
/* Write all of `size` bytes or fail. */
int loop_write(int fd, const void *buf, size_t size);

/* Read a whole file, refusing one larger than max_size (-EFBIG). The buffer is NUL-terminated. */
int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size);
int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret_data, size_t *ret_size);
