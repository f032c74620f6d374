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

/* Signatures already computed by this thread. A link's expiry is fixed per object (a task's
 * expires_at, an asset's hour bucket), so a status poll signs the same messages again and again;
 * an HMAC costs more than the rest of writing the task. Direct-mapped, per thread (no lock), keyed
 * by the whole message and the secret; messages or secrets too long for a slot are not cached. */
#define SIG_SLOTS      256
#define SIG_MSG_MAX    160
#define SIG_SECRET_MAX 128

typedef struct {
    char msg[SIG_MSG_MAX];
    char secret[SIG_SECRET_MAX];
    char sig[VG_SHA256_HEX_LEN + 1];
} sig_slot;

static _Thread_local sig_slot sig_cache[SIG_SLOTS];

static void sign_cached(const char *secret, const char *kind, const char *id, const char *variant,
                        const char *expires, char out[VG_SHA256_HEX_LEN + 1])
{
    char msg[SIG_MSG_MAX];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%s", kind, id, variant, expires);
    size_t sl = strlen(secret);
    if (n < 0 || (size_t)n >= sizeof msg || sl >= SIG_SECRET_MAX) {
        sign(secret, kind, id, variant, expires, out);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)msg[i]) * 16777619u;
    sig_slot *s = &sig_cache[h % SIG_SLOTS];
    if (s->sig[0] && !strcmp(s->msg, msg) && !strcmp(s->secret, secret)) {
        memcpy(out, s->sig, sizeof s->sig);
        return;
    }
    vg_hmac_sha256_hex(secret, sl, msg, (size_t)n, out);
    memcpy(s->msg, msg, (size_t)n + 1);
    memcpy(s->secret, secret, sl + 1);
    memcpy(s->sig, out, sizeof s->sig);
}

void vg_presign_url(const char *secret, const char *base_url, const char *kind, const char *id,
                    const char *variant, int64_t expires, char *out, size_t outlen)
{
    char e[24], sig[VG_SHA256_HEX_LEN + 1];
    snprintf(e, sizeof e, "%lld", (long long)expires);
    sign_cached(secret, kind, id, variant, e, sig);
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
