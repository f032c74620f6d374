/* presign.c - see presign.h. */
#include "core/presign.h"

#include "common/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sign(const char *secret, const char *kind, const char *id, const char *variant,
                 const char *expires, char out[VG_SHA256_HEX_LEN + 1])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%s", kind, id, variant, expires);
    vg_hmac_sha256_hex(secret, strlen(secret), msg, (size_t)n, out);
}

void vg_presign_url(const char *secret, const char *base_url, const char *kind, const char *id,
                    const char *variant, int64_t expires, char *out, size_t outlen)
{
    char e[24], sig[VG_SHA256_HEX_LEN + 1];
    snprintf(e, sizeof e, "%lld", (long long)expires);
    sign(secret, kind, id, variant, e, sig);
    snprintf(out, outlen, "%s/%s/%s/%s?expires=%s&sig=%s", base_url, kind, id, variant, e, sig);
}

int vg_presign_check(const char *secret, const char *kind, const char *id, const char *variant,
                     const char *expires, const char *sig, int64_t now)
{
    if (!expires || !sig || strlen(sig) != VG_SHA256_HEX_LEN || strlen(expires) > 20) return -1;
    char want[VG_SHA256_HEX_LEN + 1];
    sign(secret, kind, id, variant, expires, want);
    if (!vg_ct_equal(want, sig, VG_SHA256_HEX_LEN)) return -1;
    char *end;
    long long e = strtoll(expires, &end, 10);
    if (*end) return -1;
    return e > now ? 0 : -2;
}
