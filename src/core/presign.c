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

/* Joins the n parts into out (outlen > 0 bytes) as snprintf("%s%s…") would: cut to fit, always
 * terminated. Returns the whole length. The status poll writes three links: no format parsing. */
static size_t join(char *out, size_t outlen, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(parts[i]);
        if (len < outlen - 1) {
            size_t room = outlen - 1 - len;
            memcpy(out + len, parts[i], pl < room ? pl : room);
        }
        len += pl;
    }
    out[len < outlen - 1 ? len : outlen - 1] = '\0';
    return len;
}

static void sign_cached(const char *secret, const char *kind, const char *id, const char *variant,
                        const char *expires, char out[VG_SHA256_HEX_LEN + 1])
{
    char msg[SIG_MSG_MAX];
    const char *parts[] = {kind, "\n", id, "\n", variant, "\n", expires};
    size_t n = join(msg, sizeof msg, parts, sizeof parts / sizeof parts[0]);
    size_t sl = strlen(secret);
    if (n >= sizeof msg || sl >= SIG_SECRET_MAX) {
        sign(secret, kind, id, variant, expires, out);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)msg[i]) * 16777619u;
    sig_slot *s = &sig_cache[h % SIG_SLOTS];
    if (s->sig[0] && !strcmp(s->msg, msg) && !strcmp(s->secret, secret)) {
        memcpy(out, s->sig, sizeof s->sig);
        return;
    }
    vg_hmac_sha256_hex(secret, sl, msg, n, out);
    memcpy(s->msg, msg, n + 1);
    memcpy(s->secret, secret, sl + 1);
    memcpy(s->sig, out, sizeof s->sig);
}

void vg_presign_url(const char *secret, const char *base_url, const char *kind, const char *id,
                    const char *variant, int64_t expires, char *out, size_t outlen)
{
    char e[24], sig[VG_SHA256_HEX_LEN + 1];
    /* "%lld" of expires, by hand (see join). */
    char *b = e + sizeof e - 1;
    *b = '\0';
    unsigned long long u =
        expires < 0 ? 0ull - (unsigned long long)expires : (unsigned long long)expires;
    do
        *--b = (char)('0' + u % 10);
    while (u /= 10);
    if (expires < 0) *--b = '-';
    sign_cached(secret, kind, id, variant, b, sig);
    if (!outlen) return;
    const char *parts[] = {base_url, "/",         kind, "/",     id, "/",
                           variant,  "?expires=", b,    "&sig=", sig};
    join(out, outlen, parts, sizeof parts / sizeof parts[0]);
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
