/* crypto.c - see crypto.h. */
#include "common/crypto.h"

#include "common/alloc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
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

void vg_sha256_hex(const void *data, size_t len, char out[VG_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    to_hex(md, 32, out);
}

void vg_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char out[VG_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, md, &md_len);
    to_hex(md, 32, out);
}

void vg_random_bytes(void *out, size_t len)
{
    if (RAND_bytes(out, (int)len) != 1) {
        fprintf(stderr, "vidgate: no randomness available\n");
        abort();
    }
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

char *vg_base64_encode(const void *in, size_t in_len)
{
    char *out = vg_malloc(4 * ((in_len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
    out[n] = '\0';
    return out;
}
