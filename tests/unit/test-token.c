/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/capability.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "paths/paths.h"
#include "token/token-internal.h"

#define HOUR_USEC (3600 * USEC_PER_SEC)
#define STRV(...) ((char **) (const char *[]){__VA_ARGS__, NULL})

static char *dir;
static TokenKey *key;

static void setup(void) {
        dir = make_tmpdir();
        ck_assert_ptr_nonnull(dir);
        ck_assert_int_eq(token_key_generate(&key), 0);
}

static void teardown(void) {
        rm_rf_tmpdir(dir);
        dir = mfree(dir);
        key = token_key_free(key);
}

static char **caps_default(void) {
        static const char *const caps[] = {"fs.workspace", "exec.editor", "net.connect:example.com:443",
                                           "secrets.read:github-token", NULL};
        return (char **) caps;
}

static void mint_ok(char *const *caps, usec_t ttl, uint8_t **ret, size_t *ret_size) {
        void *p = NULL;
        int r;

        r = token_mint(key, "a1b2c3d4e5f60718", "bootstrap", caps, ttl, &p, ret_size);
        ck_assert_msg(r == 0, "token_mint: %s", strerror(-r));
        ck_assert_uint_le(*ret_size, TOKEN_SIZE_MAX);
        *ret = p;
}

/* Appends a valid MAC of `key_bytes` to an arbitrary body: an authentic token of any shape. */
static size_t seal(uint8_t *buf, size_t body, const uint8_t key_bytes[static TOKEN_KEY_SIZE]) {
        crypto_auth(buf + body, buf, body, key_bytes);
        return body + TOKEN_MAC_SIZE;
}

START_TEST(test_round_trip) {
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        usec_t before = now_usec(CLOCK_REALTIME);
        size_t size;

        mint_ok(caps_default(), HOUR_USEC, &bytes, &size);
        ck_assert_int_eq(bytes[0], TOKEN_VERSION);
        ck_assert_int_eq(token_verify(key, bytes, size, 0, &t), 0);

        ck_assert_str_eq(t->task, "a1b2c3d4e5f60718");
        ck_assert_str_eq(t->agent, "bootstrap");
        ck_assert_uint_eq(strv_length(t->capabilities), 4);
        for (size_t i = 0; i < 4; i++)
                ck_assert_str_eq(t->capabilities[i], caps_default()[i]);
        ck_assert_uint_ge(t->issued_usec, before);
        ck_assert_uint_le(t->issued_usec, now_usec(CLOCK_REALTIME));
        ck_assert_uint_eq(t->expires_usec, t->issued_usec + HOUR_USEC);
        ck_assert_mem_eq(t->key_id, token_key_id(key), TOKEN_KEY_ID_SIZE);

        /* Two tokens for the same grant differ: each has its own nonce. */
        {
                _cleanup_free_ uint8_t *again = NULL;
                _cleanup_(token_freep) Token *u = NULL;
                size_t size2;

                mint_ok(caps_default(), HOUR_USEC, &again, &size2);
                ck_assert_int_eq(token_verify(key, again, size2, 0, &u), 0);
                ck_assert_mem_ne(t->nonce, u->nonce, TOKEN_NONCE_SIZE);
        }
}
END_TEST

START_TEST(test_no_capabilities) {
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        size_t size;

        mint_ok(NULL, 1, &bytes, &size);
        ck_assert_uint_eq(size, TOKEN_SIZE_MIN + strlen("a1b2c3d4e5f60718") - 1 + strlen("bootstrap") - 1);
        ck_assert_int_eq(token_verify(key, bytes, size, 1, &t), 0);
        ck_assert_uint_eq(t->expires_usec, t->issued_usec + 1);
        {
                Token *u = NULL;
                ck_assert_int_eq(token_verify(key, bytes, size, t->expires_usec, &u), -EKEYEXPIRED);
                ck_assert_ptr_null(u);
        }
        ck_assert_ptr_nonnull(t->capabilities);
        ck_assert_ptr_null(t->capabilities[0]);
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "fs.workspace"));
}
END_TEST

START_TEST(test_every_bit_flip_refused) {
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t size;
        unsigned refused_mac = 0;

        mint_ok(caps_default(), HOUR_USEC, &bytes, &size);
        for (size_t i = 0; i < size; i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        Token *t = NULL;
                        int r;

                        bytes[i] ^= (uint8_t) (1U << bit);
                        r = token_verify(key, bytes, size, 0, &t);
                        bytes[i] ^= (uint8_t) (1U << bit);

                        ck_assert_msg(r < 0, "flipping bit %u of byte %zu was accepted", bit, i);
                        ck_assert_ptr_null(t);
                        /* Only the version byte is read before the MAC is checked. */
                        ck_assert_int_eq(r, i == 0 ? -EBADMSG : -EKEYREJECTED);
                        refused_mac += r == -EKEYREJECTED;
                }
        ck_assert_uint_eq(refused_mac, (size - 1) * 8);
}
END_TEST

START_TEST(test_truncated_extended_empty) {
        _cleanup_free_ uint8_t *bytes = NULL, *big = NULL;
        Token *t = NULL;
        size_t size;

        mint_ok(caps_default(), HOUR_USEC, &bytes, &size);
        for (size_t n = 0; n < size; n++) {
                int r = token_verify(key, bytes, n, 0, &t);

                ck_assert_msg(r == (n < TOKEN_SIZE_MIN ? -EBADMSG : -EKEYREJECTED), "prefix %zu: %d", n, r);
        }
        ck_assert_int_eq(token_verify(key, NULL, 0, 0, &t), -EBADMSG);
        ck_assert_int_eq(token_verify(key, "", 0, 0, &t), -EBADMSG);

        big = calloc(TOKEN_SIZE_MAX + 1, 1);
        ck_assert_ptr_nonnull(big);
        memcpy(big, bytes, size);
        /* One byte more: the MAC is no longer where it was. */
        ck_assert_int_eq(token_verify(key, big, size + 1, 0, &t), -EKEYREJECTED);
        ck_assert_int_eq(token_verify(key, big, TOKEN_SIZE_MAX, 0, &t), -EKEYREJECTED);
        ck_assert_int_eq(token_verify(key, big, TOKEN_SIZE_MAX + 1, 0, &t), -EMSGSIZE);
        ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_expiry) {
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        Token *u = NULL;
        size_t size;

        mint_ok(caps_default(), 10 * USEC_PER_SEC, &bytes, &size);
        ck_assert_int_eq(token_verify(key, bytes, size, 0, &t), 0);

        ck_assert_int_eq(token_verify(key, bytes, size, t->issued_usec, &u), 0);
        u = token_free(u);
        ck_assert_int_eq(token_verify(key, bytes, size, t->expires_usec - 1, &u), 0);
        u = token_free(u);
        ck_assert_int_eq(token_verify(key, bytes, size, t->expires_usec, &u), -EKEYEXPIRED);
        ck_assert_int_eq(token_verify(key, bytes, size, t->expires_usec + HOUR_USEC, &u), -EKEYEXPIRED);
        ck_assert_ptr_null(u);
}
END_TEST

START_TEST(test_wrong_key) {
        _cleanup_(token_key_freep) TokenKey *other = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        Token *t = NULL;
        size_t size;

        ck_assert_int_eq(token_key_generate(&other), 0);
        ck_assert_mem_ne(token_key_id(other), token_key_id(key), TOKEN_KEY_ID_SIZE);

        mint_ok(caps_default(), HOUR_USEC, &bytes, &size);
        ck_assert_int_eq(token_verify(other, bytes, size, 0, &t), -EKEYREJECTED);

        /* A forger who copies our key id still needs our key for the MAC. */
        memcpy(bytes + 2, token_key_id(other), TOKEN_KEY_ID_SIZE);
        crypto_auth(bytes + size - TOKEN_MAC_SIZE, bytes, size - TOKEN_MAC_SIZE, other->key);
        ck_assert_int_eq(token_verify(other, bytes, size, 0, &t), 0);
        t = token_free(t);
        memcpy(bytes + 2, token_key_id(key), TOKEN_KEY_ID_SIZE);
        ck_assert_int_eq(token_verify(key, bytes, size, 0, &t), -EKEYREJECTED);
        ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_scope) {
        char **caps = STRV("net.connect:example.com:443", "exec.editor");
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        size_t size;

        mint_ok(caps, HOUR_USEC, &bytes, &size);
        ck_assert_int_eq(token_verify(key, bytes, size, 0, &t), 0);

        ck_assert(token_allows(t, "a1b2c3d4e5f60718", "exec.editor"));
        ck_assert(token_allows(t, "a1b2c3d4e5f60718", "net.connect:example.com:443"));
        /* Another task, or a capability that is not listed word for word. */
        ck_assert(!token_allows(t, "b1b2c3d4e5f60718", "exec.editor"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f6071", "exec.editor"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "exec.command"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "fs.workspace"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "net.connect:example.com:80"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "net.connect:evil.example.com:443"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "net.connect:example.com"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "net.connect:example.com:4430"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", "EXEC.EDITOR"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", ""));
        ck_assert(!token_allows(t, NULL, "exec.editor"));
        ck_assert(!token_allows(t, "a1b2c3d4e5f60718", NULL));
        ck_assert(!token_allows(NULL, "a1b2c3d4e5f60718", "exec.editor"));
}
END_TEST

START_TEST(test_mint_refusals) {
        char **bad_cap = STRV("fs.workspace", "net.connect:Example.com:443");
        char **dup_cap = STRV("exec.editor", "fs.workspace", "exec.editor");
        char *many[TOKEN_CAPABILITIES_MAX + 2] = {}, *long_caps[20] = {};
        char buf[TOKEN_CAPABILITIES_MAX + 1][32], host[20][260];
        void *p = NULL;
        size_t size = 0;

        ck_assert_int_eq(token_mint(key, "", "agent", NULL, 1, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "task", "Agent", NULL, 1, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "../task", "agent", NULL, 1, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "task", "agent", NULL, 0, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "task", "agent", bad_cap, 1, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "task", "agent", dup_cap, 1, &p, &size), -EINVAL);
        ck_assert_int_eq(token_mint(key, "task", "agent", NULL, USEC_INFINITY, &p, &size), -ERANGE);

        for (size_t i = 0; i <= TOKEN_CAPABILITIES_MAX; i++) {
                snprintf(buf[i], sizeof(buf[i]), "secrets.read:s%zu", i);
                many[i] = buf[i];
        }
        ck_assert_int_eq(token_mint(key, "task", "agent", many, 1, &p, &size), -EINVAL);
        many[TOKEN_CAPABILITIES_MAX] = NULL;
        ck_assert_int_eq(token_mint(key, "task", "agent", many, 1, &p, &size), 0);
        p = mfree(p);

        /* Valid capabilities, but more than fits in TOKEN_SIZE_MAX. */
        for (size_t i = 0; i < ELEMENTSOF(long_caps) - 1; i++) {
                char label[61];

                memset(label, 'a', 60);
                label[60] = 0;
                /* Four labels of up to 63 bytes: a valid host name of ~245 bytes. */
                snprintf(host[i], sizeof(host[i]), "net.connect:h%02zu%.57s.%s.%s.%s:443", i, label, label,
                         label, label);
                ck_assert_msg(capability_is_valid(host[i]), "%s", host[i]);
                long_caps[i] = host[i];
        }
        size = 0;
        ck_assert_int_eq(token_mint(key, "task", "agent", long_caps, 1, &p, &size), -EMSGSIZE);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(size, 0);
}
END_TEST

/* Writes a token body field by field, for authentic tokens the registry would never mint. */
typedef struct Body {
        uint8_t b[TOKEN_SIZE_MAX];
        size_t n;
} Body;

static void body_u8(Body *b, uint8_t v) {
        b->b[b->n++] = v;
}

static void body_u64(Body *b, uint64_t v) {
        for (int s = 56; s >= 0; s -= 8)
                body_u8(b, (uint8_t) (v >> s));
}

static void body_mem(Body *b, const void *p, size_t n) {
        memcpy(b->b + b->n, p, n);
        b->n += n;
}

static void body_header(Body *b, uint8_t count, usec_t issued, usec_t expires) {
        static const uint8_t nonce[TOKEN_NONCE_SIZE] = {1, 2, 3};

        b->n = 0;
        body_u8(b, TOKEN_VERSION);
        body_u8(b, count);
        body_mem(b, token_key_id(key), TOKEN_KEY_ID_SIZE);
        body_mem(b, nonce, sizeof(nonce));
        body_u64(b, issued);
        body_u64(b, expires);
}

static void body_name(Body *b, const char *s, size_t n) {
        body_u8(b, (uint8_t) n);
        body_mem(b, s, n);
}

static void body_cap(Body *b, const char *s, size_t n) {
        body_u8(b, (uint8_t) (n >> 8));
        body_u8(b, (uint8_t) n);
        body_mem(b, s, n);
}

static int verify_body(Body *b) {
        Token *t = NULL;
        size_t size = seal(b->b, b->n, key->key);
        int r = token_verify(key, b->b, size, 100, &t);

        if (r >= 0)
                token_free(t);
        return r;
}

START_TEST(test_authentic_but_malformed) {
        Body b;

        /* The well-formed baseline, sealed the same way. */
        body_header(&b, 1, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.workspace", 12);
        ck_assert_int_eq(verify_body(&b), 0);

        /* A trailing byte before the MAC. */
        body_u8(&b, 0);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);

        /* More capabilities announced than present. */
        body_header(&b, 2, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.workspace", 12);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);

        /* Duplicate, invalid, NUL-carrying and overlong capabilities. */
        body_header(&b, 2, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.workspace", 12);
        body_cap(&b, "fs.workspace", 12);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, 1, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.everything", 13);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, 1, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.workspace\0x", 14);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, 1, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        body_cap(&b, "fs.workspace", 12);
        b.b[b.n - 14] = 0x07; /* a length of 0x070c: past the end */
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        {
                char cap[400];

                memset(cap, 'x', sizeof(cap));
                memcpy(cap, "secrets.read:", 13);
                body_header(&b, 1, 10, 1000);
                body_name(&b, "task", 4);
                body_name(&b, "agent", 5);
                body_cap(&b, cap, sizeof(cap));
                ck_assert_int_eq(verify_body(&b), -EBADMSG);
        }

        /* Bad names, and a name length past the end. */
        body_header(&b, 0, 10, 1000);
        body_name(&b, "ta/sk", 5);
        body_name(&b, "agent", 5);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, 0, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "", 0);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, 0, 10, 1000);
        body_name(&b, "task", 4);
        body_u8(&b, 200);
        body_mem(&b, "agent", 5);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);

        /* Expiry not after issue; too many capabilities announced. */
        body_header(&b, 0, 1000, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
        body_header(&b, TOKEN_CAPABILITIES_MAX + 1, 10, 1000);
        body_name(&b, "task", 4);
        body_name(&b, "agent", 5);
        ck_assert_int_eq(verify_body(&b), -EBADMSG);
}
END_TEST

static char *key_path(void) {
        char *p = strjoin(dir, "/state/sub/token.key");

        ck_assert_ptr_nonnull(p);
        return p;
}

/* Entries of a directory other than . and ..: a key creation leaves no temporary file behind. */
static size_t dir_count(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(loop_write(fd, p, n), 0);
        ck_assert_int_eq(fchmod(fd, mode), 0);
}

START_TEST(test_key_file) {
        _cleanup_(token_key_freep) TokenKey *k1 = NULL, *k2 = NULL;
        _cleanup_free_ char *path = key_path(), *parent = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        Token *t = NULL;
        struct stat st;
        size_t size;
        void *p;

        ck_assert_int_eq(token_key_load_or_create(path, &k1), 1);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(st.st_size, TOKEN_KEY_SIZE);
        ck_assert_int_eq(st.st_uid, geteuid());
        parent = strndup(path, strrchr(path, '/') - path);
        ck_assert_int_eq(stat(parent, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        ck_assert_uint_eq(dir_count(parent), 1);

        /* The second start loads the same key: tokens minted before still verify. */
        ck_assert_int_eq(token_key_load_or_create(path, &k2), 0);
        ck_assert_mem_eq(token_key_id(k1), token_key_id(k2), TOKEN_KEY_ID_SIZE);
        ck_assert_int_eq(token_mint(k1, "task", "agent", NULL, HOUR_USEC, &p, &size), 0);
        bytes = p;
        ck_assert_int_eq(token_verify(k2, bytes, size, 0, &t), 0);
        t = token_free(t);
        ck_assert_uint_eq(dir_count(parent), 1);

        ck_assert_int_eq(token_key_load_or_create("relative/key", &k2), -EINVAL);
        ck_assert_int_eq(token_key_load_or_create("/", &k2), -EINVAL);
}
END_TEST

START_TEST(test_key_file_refusals) {
        _cleanup_free_ char *path = key_path(), *parent = NULL, *link = NULL;
        uint8_t bytes[TOKEN_KEY_SIZE + 1] = {};
        TokenKey *k = NULL;

        parent = strndup(path, strrchr(path, '/') - path);
        ck_assert_int_eq(mkdir_p_secure(parent, 0700, NULL), 0);

        write_file(path, bytes, TOKEN_KEY_SIZE - 1, 0600);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EBADMSG);
        write_file(path, bytes, TOKEN_KEY_SIZE + 1, 0600);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EBADMSG);
        write_file(path, bytes, 0, 0600);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EBADMSG);

        write_file(path, bytes, TOKEN_KEY_SIZE, 0640);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EPERM);
        ck_assert_int_eq(chmod(path, 0604), 0);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EPERM);
        ck_assert_int_eq(chmod(path, 0610), 0);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EPERM);
        ck_assert_int_eq(chmod(path, 0400), 0);
        ck_assert_int_eq(token_key_load_or_create(path, &k), 0);
        k = token_key_free(k);

        /* Owned by someone else: only root can set that up. */
        if (geteuid() == 0) {
                ck_assert_int_eq(chmod(path, 0600), 0);
                ck_assert_int_eq(chown(path, 1, 1), 0);
                ck_assert_int_eq(token_key_load_or_create(path, &k), -EPERM);
        }
        ck_assert_int_eq(unlink(path), 0);

        /* A symlink to a perfectly good key, and a directory, are not key files. */
        link = strjoin(parent, "/real.key");
        write_file(link, bytes, TOKEN_KEY_SIZE, 0600);
        ck_assert_int_eq(symlink(link, path), 0);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -ELOOP);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(token_key_load_or_create(path, &k), -EBADMSG);
        ck_assert_ptr_null(k);

        ck_assert_int_eq(token_key_from_bytes(bytes, TOKEN_KEY_SIZE - 1, &k), -EINVAL);
        ck_assert_int_eq(token_key_from_bytes(bytes, TOKEN_KEY_SIZE + 1, &k), -EINVAL);
}
END_TEST

/* Processes that start at once all end up with the one key that made it into place. */
START_TEST(test_key_file_race) {
        _cleanup_free_ char *path = key_path();
        uint8_t ids[8][TOKEN_KEY_ID_SIZE];
        int go[2], result[2];
        pid_t pids[8];

        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(result, O_CLOEXEC), 0);
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0) {
                        TokenKey *k = NULL;
                        uint8_t msg[1 + TOKEN_KEY_ID_SIZE] = {};
                        char c;

                        safe_close(go[1]);
                        (void) loop_read(go[0], &c, 1); /* all start when the pipe closes */
                        if (token_key_load_or_create(path, &k) >= 0) {
                                msg[0] = (uint8_t) i;
                                memcpy(msg + 1, token_key_id(k), TOKEN_KEY_ID_SIZE);
                        } else
                                msg[0] = 0xff;
                        _exit(write(result[1], msg, sizeof(msg)) == sizeof(msg) ? 0 : 1);
                }
        }
        safe_close(go[0]);
        safe_close(go[1]);
        safe_close(result[1]);
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                uint8_t msg[1 + TOKEN_KEY_ID_SIZE];
                int status;

                ck_assert_int_eq(loop_read(result[0], msg, sizeof(msg)), sizeof(msg));
                ck_assert_int_ne(msg[0], 0xff);
                memcpy(ids[i], msg + 1, TOKEN_KEY_ID_SIZE);
                ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        safe_close(result[0]);
        for (size_t i = 1; i < ELEMENTSOF(pids); i++)
                ck_assert_mem_eq(ids[0], ids[i], TOKEN_KEY_ID_SIZE);
        {
                _cleanup_free_ char *parent = strndup(path, strrchr(path, '/') - path);
                ck_assert_uint_eq(dir_count(parent), 1);
        }
}
END_TEST

START_TEST(test_key_id_string) {
        static const uint8_t id[TOKEN_KEY_ID_SIZE] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0x10, 0x99, 0xff};
        char buf[TOKEN_KEY_ID_STRING_SIZE];

        ck_assert_str_eq(token_key_id_to_string(id, buf), "0001abcdef1099ff");
        ck_assert_uint_eq(strlen(token_key_id_to_string(token_key_id(key), buf)), 16);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("token");
        TCase *tc = tcase_create("token");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_no_capabilities);
        tcase_add_test(tc, test_every_bit_flip_refused);
        tcase_add_test(tc, test_truncated_extended_empty);
        tcase_add_test(tc, test_expiry);
        tcase_add_test(tc, test_wrong_key);
        tcase_add_test(tc, test_scope);
        tcase_add_test(tc, test_mint_refusals);
        tcase_add_test(tc, test_authentic_but_malformed);
        tcase_add_test(tc, test_key_file);
        tcase_add_test(tc, test_key_file_refusals);
        tcase_add_test(tc, test_key_file_race);
        tcase_add_test(tc, test_key_id_string);
        suite_add_tcase(s, tc);
        return s;
}
