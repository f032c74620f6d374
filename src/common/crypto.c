/* crypto.c - see crypto.h. */
#include "common/crypto.h"

#include "common/alloc.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * OpenSSL 3 looks an algorithm up in its provider tables (under a lock) on every one-shot call;
 * on the request path that lookup costs more than the hashing. So SHA-256 and HMAC are fetched
 * once, and each thread keeps its own digest context and its own EVP_MAC context (set to SHA-256
 * once; each HMAC then only re-keys it).
 */
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key, mac_key;

static void free_ctx(void *p)
{
    EVP_MD_CTX_free(p);
}

static void free_mac(void *p)
{
    EVP_MAC_CTX_free(p);
}

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!sha256_md || !hmac_mac || pthread_key_create(&ctx_key, free_ctx) ||
        pthread_key_create(&mac_key, free_mac)) {
        fprintf(stderr, "vidgate: SHA-256 or HMAC is not available\n");
        abort();
    }
}

static EVP_MAC_CTX *thread_mac(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MAC_CTX *m = pthread_getspecific(mac_key);
    if (!m) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end()};
        m = EVP_MAC_CTX_new(hmac_mac);
        if (!m || !EVP_MAC_CTX_set_params(m, params)) abort();
        pthread_setspecific(mac_key, m);
    }
    return m;
}

static EVP_MD_CTX *thread_ctx(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (!ctx) abort();
        pthread_setspecific(ctx_key, ctx);
    }
    return ctx;
}

/* SHA-256 of the concatenation a || b into md (32 bytes). */
static void sha256_two(const void *a, size_t alen, const void *b, size_t blen, unsigned char *md)
{
    EVP_MD_CTX *ctx = thread_ctx();
    unsigned int n = 0;
    if (!EVP_DigestInit_ex(ctx, sha256_md, NULL) || !EVP_DigestUpdate(ctx, a, alen) ||
        !EVP_DigestUpdate(ctx, b, blen) || !EVP_DigestFinal_ex(ctx, md, &n))
        abort();
}

void vg_sha256_hex(const void *data, size_t len, char out[VG_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    sha256_two(data, len, "", 0, md);
    to_hex(md, 32, out);
}

void vg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    unsigned char out[32])
{
    size_t n = 0;
    EVP_MAC_CTX *m = thread_mac();
    /* A NULL key would mean "keep the previous one" to EVP_MAC_init(): always pass a pointer. */
    if (!EVP_MAC_init(m, key ? key : (const void *)"", key_len, NULL) ||
        !EVP_MAC_update(m, msg, msg_len) || !EVP_MAC_final(m, out, &n, 32) || n != 32)
        abort();
}

void vg_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char out[VG_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    vg_hmac_sha256(key, key_len, msg, msg_len, md);
    to_hex(md, 32, out);
}

static void random_fill(void *out, size_t len)
{
    if (RAND_bytes(out, (int)len) != 1) {
        fprintf(stderr, "vidgate: no randomness available\n");
        abort();
    }
}

/*
 * Each RAND_bytes() call takes the DRBG's lock, checks for a fork and re-keys its cipher: about
 * 10 % of a submit's CPU for the few small draws it makes (ids, tokens). So each thread draws
 * RAND_POOL bytes at once and hands them out; a byte handed out is wiped from the pool. After a
 * fork the child's copy of the forking thread's pool is dropped (atfork), so parent and child
 * never hand out the same bytes.
 */
#define RAND_POOL 512
static _Thread_local unsigned char rand_pool[RAND_POOL];
static _Thread_local size_t rand_left;

static void rand_forget(void)
{
    OPENSSL_cleanse(rand_pool, sizeof rand_pool);
    rand_left = 0;
}

static void rand_atfork(void)
{
    pthread_atfork(NULL, NULL, rand_forget);
}

void vg_random_bytes(void *out, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rand_atfork);
    if (len > RAND_POOL / 4) {
        random_fill(out, len);
        return;
    }
    if (rand_left < len) {
        random_fill(rand_pool, sizeof rand_pool);
        rand_left = sizeof rand_pool;
    }
    unsigned char *from = rand_pool + (sizeof rand_pool - rand_left);
    memcpy(out, from, len);
    OPENSSL_cleanse(from, len);
    rand_left -= len;
}

int vg_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int vg_ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return 0;
    return vg_ct_equal(a, b, la);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

unsigned char *vg_base64_decode(const char *in, size_t in_len, size_t *out_len)
{
    unsigned char *out = vg_malloc(in_len / 4 * 3 + 3);
    size_t n = 0, pad = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) goto bad; /* data after padding is not base64 */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (pad > 2 || bits >= 6) goto bad;
    *out_len = n;
    return out;
bad:
    free(out);
    return NULL;
}

size_t vg_base64_len(size_t n)
{
    return 4 * ((n + 2) / 3);
}

void vg_base64_encode_to(char *out, const void *in, size_t in_len)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
    out[n] = '\0';
}

char *vg_base64_encode(const void *in, size_t in_len)
{
    char *out = vg_malloc(4 * ((in_len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
    out[n] = '\0';
    return out;
}
