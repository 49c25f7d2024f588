/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's token key: generated once, kept in a 0600 file in the state directory. */
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/paths.h"
#include "token/token-internal.h"

_Static_assert(TOKEN_KEY_SIZE == crypto_auth_KEYBYTES, "token key size is crypto_auth's");
_Static_assert(TOKEN_MAC_SIZE == crypto_auth_BYTES, "token MAC size is crypto_auth's");

#define TOKEN_KEY_ID_CONTEXT "troupe.token.key-id.v1"

int token_sodium_init(void) {
        /* Idempotent and thread-safe; 1 means "already initialised". */
        return sodium_init() < 0 ? -EIO : 0;
}

TokenKey *token_key_free(TokenKey *k) {
        /* sodium_free() wipes the memory before unmapping it. */
        if (k)
                sodium_free(k);
        return NULL;
}

int token_key_from_bytes(const void *p, size_t size, TokenKey **ret) {
        TokenKey *k;
        int r;

        assert_return(p, -EINVAL);
        assert_return(size == TOKEN_KEY_SIZE, -EINVAL);
        assert_return(ret, -EINVAL);

        r = token_sodium_init();
        if (r < 0)
                return r;
        /* Guard pages around it and mlock()ed, so it does not end up in swap. */
        k = sodium_malloc(sizeof(TokenKey));
        if (!k)
                return -ENOMEM;
        memcpy(k->key, p, TOKEN_KEY_SIZE);
        crypto_generichash(k->id, sizeof(k->id), (const unsigned char *) TOKEN_KEY_ID_CONTEXT,
                           STRLEN(TOKEN_KEY_ID_CONTEXT), k->key, sizeof(k->key));
        *ret = k;
        return 0;
}

int token_key_generate(TokenKey **ret) {
        uint8_t buf[TOKEN_KEY_SIZE];
        int r;

        assert_return(ret, -EINVAL);

        r = token_sodium_init();
        if (r < 0)
                return r;
        randombytes_buf(buf, sizeof(buf));
        r = token_key_from_bytes(buf, sizeof(buf), ret);
        sodium_memzero(buf, sizeof(buf));
        return r;
}

const uint8_t *token_key_id(const TokenKey *k) {
        return k ? k->id : NULL;
}

const char *token_key_id_to_string(const uint8_t id[static TOKEN_KEY_ID_SIZE],
                                   char buf[static TOKEN_KEY_ID_STRING_SIZE]) {
        return sodium_bin2hex(buf, TOKEN_KEY_ID_STRING_SIZE, id, TOKEN_KEY_ID_SIZE);
}

/* An existing key file must be ours alone: a key that others can read lets them mint tokens. */
static int key_read_fd(int fd, TokenKey **ret) {
        uint8_t buf[TOKEN_KEY_SIZE + 1];
        struct stat st;
        ssize_t n;
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (st.st_uid != geteuid())
                return -EPERM;
        if ((st.st_mode & 0077) != 0)
                return -EPERM;
        if (st.st_size != TOKEN_KEY_SIZE)
                return -EBADMSG;

        /* One byte more than a key: a file that grew since fstat() is refused as well. */
        n = loop_read(fd, buf, sizeof(buf));
        if (n < 0)
                r = (int) n;
        else if (n != TOKEN_KEY_SIZE)
                r = -EBADMSG;
        else
                r = token_key_from_bytes(buf, TOKEN_KEY_SIZE, ret);
        sodium_memzero(buf, sizeof(buf));
        return r;
}

static int key_load_at(int dir_fd, const char *name, TokenKey **ret) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return key_read_fd(fd, ret);
}

/* Moves tmp to name unless name exists. RENAME_NOREPLACE where the file system has it, a hard
 * link (which never replaces either) where it does not. */
static int rename_noreplace_at(int dir_fd, const char *tmp, const char *name) {
        if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return -errno;
        if (linkat(dir_fd, tmp, dir_fd, name, 0) < 0)
                return -errno;
        (void) unlinkat(dir_fd, tmp, 0);
        return 0;
}

static int key_write_tmp(int dir_fd, const char *tmp, const uint8_t key[static TOKEN_KEY_SIZE]) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        /* The umask could only have taken bits away; make the mode exact all the same. */
        if (fchmod(fd, 0600) < 0)
                r = -errno;
        else {
                r = loop_write(fd, key, TOKEN_KEY_SIZE);
                if (r >= 0 && fsync(fd) < 0)
                        r = -errno;
        }
        if (r < 0)
                (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

/* Returns 1 when our new key went into place, 0 when another process's key was there first. */
static int key_create_at(int dir_fd, const char *name, TokenKey **ret) {
        _cleanup_free_ char *tmp = NULL;
        uint8_t key[TOKEN_KEY_SIZE];
        int r;

        if (asprintf_safe(&tmp, ".#%s.%08" PRIx32 "%08" PRIx32, name, randombytes_random(),
                          randombytes_random()) < 0)
                return -ENOMEM;

        randombytes_buf(key, sizeof(key));
        r = key_write_tmp(dir_fd, tmp, key);
        if (r >= 0) {
                r = rename_noreplace_at(dir_fd, tmp, name);
                if (r == -EEXIST) {
                        (void) unlinkat(dir_fd, tmp, 0);
                        sodium_memzero(key, sizeof(key));
                        return key_load_at(dir_fd, name, ret);
                }
                if (r < 0)
                        (void) unlinkat(dir_fd, tmp, 0);
        }
        if (r >= 0 && fsync(dir_fd) < 0)
                r = -errno;
        if (r >= 0)
                r = token_key_from_bytes(key, sizeof(key), ret);
        sodium_memzero(key, sizeof(key));
        return r < 0 ? r : 1;
}

int token_key_load_or_create(const char *path, TokenKey **ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        const char *name;
        int r;

        assert_return(path && path[0] == '/', -EINVAL);
        assert_return(ret, -EINVAL);

        r = token_sodium_init();
        if (r < 0)
                return r;

        name = strrchr(path, '/') + 1;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        dir = strndup(path, (size_t) (name - path));
        if (!dir)
                return -ENOMEM;
        r = mkdir_p_secure(dir, 0700, &dir_fd);
        if (r < 0)
                return r;

        r = key_load_at(dir_fd, name, ret);
        if (r != -ENOENT)
                return r;
        return key_create_at(dir_fd, name, ret);
}
