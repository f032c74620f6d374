/*
 * crypto.h - hashing, HMAC, randomness, constant-time comparison and base64, all through OpenSSL.
 * All functions are thread-safe and allocate nothing unless stated.
 */
#ifndef VG_CRYPTO_H
#define VG_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

#define VG_SHA256_HEX_LEN 64

/** Hex SHA-256 of data into out (65 bytes with the terminator). */
void vg_sha256_hex(const void *data, size_t len, char out[VG_SHA256_HEX_LEN + 1]);
/** Raw HMAC-SHA256 of msg under key into out (32 bytes). */
void vg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    unsigned char out[32]);
/** Hex HMAC-SHA256 of msg under key into out (65 bytes). */
void vg_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char out[VG_SHA256_HEX_LEN + 1]);
/** Cryptographically secure random bytes; aborts if the system cannot provide them. */
void vg_random_bytes(void *out, size_t len);
/** 1 when a and b are equal, compared in time that depends only on len. */
int vg_ct_equal(const void *a, const void *b, size_t len);
/** Same for NUL-terminated strings (lengths may differ; the length is not secret). */
int vg_ct_streq(const char *a, const char *b);

/**
 * Decodes standard base64 (whitespace tolerated, padding optional). Returns a malloc'd buffer and
 * its length in *out_len, or NULL when the input is not valid base64. The caller frees it.
 */
unsigned char *vg_base64_decode(const char *in, size_t in_len, size_t *out_len);
/** Encodes to standard base64; returns a malloc'd NUL-terminated string. */
char *vg_base64_encode(const void *in, size_t in_len);
/** The base64 of in_len bytes written at out (room for vg_base64_len(in_len) + 1 bytes, NUL
 *  included), so a caller can put it after a prefix without another copy. */
void vg_base64_encode_to(char *out, const void *in, size_t in_len);
/** The length of the base64 of n bytes (without the NUL). */
size_t vg_base64_len(size_t n);

#endif
