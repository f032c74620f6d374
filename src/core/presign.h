/*
 * presign.h - presigned content URLs: "/files/{task_id}/{variant}?expires=E&sig=S" where
 * S = hex HMAC-SHA256(secret, "files\n{task_id}\n{variant}\n{E}"). They let a browser's <video> tag
 * fetch a result without the API key, until E (unix seconds). Verification is constant-time.
 * Thread-safe: vg_presign_url() remembers the signatures it made in a small cache per thread, so a
 * link polled again (its expiry is fixed per object) costs no HMAC.
 */
#ifndef VG_CORE_PRESIGN_H
#define VG_CORE_PRESIGN_H
#include <stddef.h>
#include <stdint.h>

/** Writes the absolute URL (base_url + path + query) into out. */
void vg_presign_url(const char *secret, const char *base_url, const char *kind, const char *id,
                    const char *variant, int64_t expires, char *out, size_t outlen);

/** 0 when sig is right and expires > now; -1 tampered (invalid_signature); -2 expired. */
int vg_presign_check(const char *secret, const char *kind, const char *id, const char *variant,
                     const char *expires, const char *sig, int64_t now);

#endif
