/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store-internal.h: the Store object and error recording shared by the store's source files. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

#include "basic/macro.h"
#include "store/store.h"

struct Store {
        sqlite3 *db;
        char *path;
        char *error;       /* last failure's message, for the daemon's log */
        int lock_fd;       /* the writer's flock()ed "<path>.lock"; -EBADF for readers */
        bool read_only;
        dev_t dev;         /* identity of the file we opened, for store_health() */
        ino_t ino;
};

struct StoreStatement {
        Store *store;
        sqlite3_stmt *stmt;
};

/* Maps an SQLite result code (primary or extended) to a negative errno; sys_errno is what
 * sqlite3_system_errno() reported, used for CANTOPEN. */
int store_errno_from_sqlite(int rc, int sys_errno) _const_;

/* Records SQLite's message for a failure with result code rc; returns the mapped errno. */
int store_record_sqlite_error(Store *s, int rc);
/* Records our own message; returns `error`. */
int store_record_error(Store *s, int error, const char *format, ...) _printf_(3, 4);
