/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capability tokens: a small versioned binary layout, MAC'd with HMAC-SHA512-256 (docs/tokens.md). */
#include <sodium.h>

#include "agent/capability.h"
#include "basic/string-util.h"
#include "token/token-internal.h"

Token *token_free(Token *t) {
        if (!t)
                return NULL;
        free(t->task);
        free(t->agent);
        strv_free(t->capabilities);
        return mfree(t);
}

bool token_allows(const Token *t, const char *task, const char *capability) {
        if (!t || !task || !capability)
                return false;
        return streq_ptr(t->task, task) && strv_contains(t->capabilities, capability);
}

/* ---- encoding ---------------------------------------------------------------------------------- */

typedef struct Writer {
        uint8_t *p;
        size_t size;
} Writer;

static void put_bytes(Writer *w, const void *p, size_t n) {
        memcpy(w->p + w->size, p, n);
        w->size += n;
}

static void put_u8(Writer *w, uint8_t v) {
        w->p[w->size++] = v;
}

static void put_u16(Writer *w, uint16_t v) {
        put_u8(w, (uint8_t) (v >> 8));
        put_u8(w, (uint8_t) v);
}

static void put_u64(Writer *w, uint64_t v) {
        for (int shift = 56; shift >= 0; shift -= 8)
                put_u8(w, (uint8_t) (v >> shift));
}

static bool token_name_is_valid(const char *s) {
        return name_is_valid(s, TOKEN_NAME_MAX);
}

/* Checks what token_mint() was given and returns the encoded size, MAC included. */
static int mint_check(const char *task, const char *agent, char *const *capabilities, size_t *ret_size) {
        size_t n = TOKEN_HEADER_SIZE + 1 + strlen(task) + 1 + strlen(agent) + TOKEN_MAC_SIZE, count = 0;

        if (!token_name_is_valid(task) || !token_name_is_valid(agent))
                return -EINVAL;
        STRV_FOREACH (c, capabilities) {
                if (!capability_is_valid(*c))
                        return -EINVAL;
                /* One spelling per token: a list with repeats is not what the caller meant. */
                for (char *const *d = capabilities; d < c; d++)
                        if (streq(*c, *d))
                                return -EINVAL;
                if (++count > TOKEN_CAPABILITIES_MAX)
                        return -EINVAL;
                n += 2 + strlen(*c);
        }
        if (n > TOKEN_SIZE_MAX)
                return -EMSGSIZE;
        *ret_size = n;
        return 0;
}

int token_mint(const TokenKey *key, const char *task, const char *agent, char *const *capabilities,
               usec_t ttl, void **ret_bytes, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t nonce[TOKEN_NONCE_SIZE];
        Writer w = {};
        size_t size;
        usec_t now;
        int r;

        assert_return(key, -EINVAL);
        assert_return(task && agent, -EINVAL);
        assert_return(ttl > 0, -EINVAL);
        assert_return(ret_bytes && ret_size, -EINVAL);

        r = mint_check(task, agent, capabilities, &size);
        if (r < 0)
                return r;
        r = token_sodium_init();
        if (r < 0)
                return r;
        now = now_usec(CLOCK_REALTIME);
        if (ttl >= USEC_INFINITY - now)
                return -ERANGE;

        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        w.p = buf;
        randombytes_buf(nonce, sizeof(nonce));

        put_u8(&w, TOKEN_VERSION);
        put_u8(&w, (uint8_t) strv_length(capabilities));
        put_bytes(&w, key->id, sizeof(key->id));
        put_bytes(&w, nonce, sizeof(nonce));
        put_u64(&w, now);
        put_u64(&w, now + ttl);
        put_u8(&w, (uint8_t) strlen(task));
        put_bytes(&w, task, strlen(task));
        put_u8(&w, (uint8_t) strlen(agent));
        put_bytes(&w, agent, strlen(agent));
        STRV_FOREACH (c, capabilities) {
                put_u16(&w, (uint16_t) strlen(*c));
                put_bytes(&w, *c, strlen(*c));
        }
        crypto_auth(w.p + w.size, w.p, w.size, key->key);
        w.size += TOKEN_MAC_SIZE;

        if (w.size != size) /* mint_check() and the writer disagree: a bug, never a token */
                return -EIO;
        *ret_bytes = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

typedef struct Reader {
        const uint8_t *p;
        size_t left;
} Reader;

static int get_bytes(Reader *rd, void *ret, size_t n) {
        if (rd->left < n)
                return -EBADMSG;
        memcpy(ret, rd->p, n);
        rd->p += n;
        rd->left -= n;
        return 0;
}

static int get_u8(Reader *rd, uint8_t *ret) {
        return get_bytes(rd, ret, 1);
}

static int get_u16(Reader *rd, uint16_t *ret) {
        uint8_t b[2];

        if (get_bytes(rd, b, sizeof(b)) < 0)
                return -EBADMSG;
        *ret = (uint16_t) ((b[0] << 8) | b[1]);
        return 0;
}

static int get_u64(Reader *rd, uint64_t *ret) {
        uint8_t b[8];
        uint64_t v = 0;

        if (get_bytes(rd, b, sizeof(b)) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < sizeof(b); i++)
                v = (v << 8) | b[i];
        *ret = v;
        return 0;
}

/* A string of n bytes, without NUL bytes inside. */
static int get_string(Reader *rd, size_t n, char **ret) {
        _cleanup_free_ char *s = NULL;

        if (rd->left < n || memchr(rd->p, 0, n))
                return -EBADMSG;
        s = strndup((const char *) rd->p, n);
        if (!s)
                return -ENOMEM;
        rd->p += n;
        rd->left -= n;
        *ret = TAKE_PTR(s);
        return 0;
}

static int get_name(Reader *rd, char **ret) {
        _cleanup_free_ char *s = NULL;
        uint8_t n;
        int r;

        r = get_u8(rd, &n);
        if (r < 0)
                return r;
        r = get_string(rd, n, &s);
        if (r < 0)
                return r;
        if (!token_name_is_valid(s))
                return -EBADMSG;
        *ret = TAKE_PTR(s);
        return 0;
}

static int get_capabilities(Reader *rd, size_t count, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        if (count > TOKEN_CAPABILITIES_MAX)
                return -EBADMSG;
        l = calloc(count + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                uint16_t n;
                int r;

                r = get_u16(rd, &n);
                if (r < 0)
                        return r;
                r = get_string(rd, n, &l[i]);
                if (r < 0)
                        return r;
                if (!capability_is_valid(l[i]))
                        return -EBADMSG;
                for (size_t j = 0; j < i; j++)
                        if (streq(l[i], l[j]))
                                return -EBADMSG;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Decodes what follows the version byte of an authentic token, MAC excluded. */
static int token_decode(const uint8_t *p, size_t size, Token **ret) {
        _cleanup_(token_freep) Token *t = NULL;
        Reader rd = {.p = p, .left = size};
        uint8_t version, count;
        int r;

        t = calloc(1, sizeof(Token));
        if (!t)
                return -ENOMEM;

        if (get_u8(&rd, &version) < 0 || version != TOKEN_VERSION)
                return -EBADMSG;
        if (get_u8(&rd, &count) < 0 || get_bytes(&rd, t->key_id, sizeof(t->key_id)) < 0 ||
            get_bytes(&rd, t->nonce, sizeof(t->nonce)) < 0 || get_u64(&rd, &t->issued_usec) < 0 ||
            get_u64(&rd, &t->expires_usec) < 0)
                return -EBADMSG;
        if (t->expires_usec <= t->issued_usec)
                return -EBADMSG;

        r = get_name(&rd, &t->task);
        if (r < 0)
                return r;
        r = get_name(&rd, &t->agent);
        if (r < 0)
                return r;
        r = get_capabilities(&rd, count, &t->capabilities);
        if (r < 0)
                return r;
        /* Exactly one encoding per token: nothing may follow the last capability. */
        if (rd.left != 0)
                return -EBADMSG;

        *ret = TAKE_PTR(t);
        return 0;
}

int token_verify(const TokenKey *key, const void *bytes, size_t size, usec_t now, Token **ret) {
        _cleanup_(token_freep) Token *t = NULL;
        const uint8_t *p = bytes;
        size_t body;
        int r;

        assert_return(key, -EINVAL);
        assert_return(bytes || size == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        if (size > TOKEN_SIZE_MAX)
                return -EMSGSIZE;
        if (size < TOKEN_SIZE_MIN || p[0] != TOKEN_VERSION)
                return -EBADMSG;
        /* A token of another key (a rotated one) is as good as a forged one, but says so earlier. */
        if (memcmp(p + 2, key->id, TOKEN_KEY_ID_SIZE) != 0)
                return -EKEYREJECTED;

        r = token_sodium_init();
        if (r < 0)
                return r;
        body = size - TOKEN_MAC_SIZE;
        /* crypto_auth_verify() compares in constant time. */
        if (crypto_auth_verify(p + body, p, body, key->key) != 0)
                return -EKEYREJECTED;

        r = token_decode(p, body, &t);
        if (r < 0)
                return r;
        if (now == 0)
                now = now_usec(CLOCK_REALTIME);
        if (now >= t->expires_usec)
                return -EKEYEXPIRED;

        *ret = TAKE_PTR(t);
        return 0;
}
