/* webhook.c - see webhook.h. */
#include "core/webhook.h"

#include "common/crypto.h"
#include "common/limits.h"
#include "common/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vg_webhook_secret_new(char out[VG_WEBHOOK_SECRET_MAX])
{
    unsigned char raw[32];
    vg_random_bytes(raw, sizeof raw);
    char *b64 = vg_base64_encode(raw, sizeof raw);
    snprintf(out, VG_WEBHOOK_SECRET_MAX, "%s%s", VG_WEBHOOK_SECRET_PREFIX, b64);
    free(b64);
}

/* HMAC of "<id>.<ts>.<body>" under one secret, as "v1,<base64>" appended to out at *len. */
static int sign_one(const char *secret, const char *prefix, size_t prefix_len, const char *body,
                    size_t body_len, char *out, size_t outlen, size_t *len)
{
    size_t plen = strlen(VG_WEBHOOK_SECRET_PREFIX), key_len = strlen(secret);
    unsigned char *key = NULL;
    const void *k = secret;
    if (!strncmp(secret, VG_WEBHOOK_SECRET_PREFIX, plen)) {
        key = vg_base64_decode(secret + plen, key_len - plen, &key_len);
        if (!key) return VG_INVALID;
        k = key;
    }
    /* The signed content is prefix || body; HMAC is not incremental here, so join them once. */
    char *msg = malloc(prefix_len + body_len + 1);
    if (!msg) abort();
    memcpy(msg, prefix, prefix_len);
    memcpy(msg + prefix_len, body, body_len);
    unsigned char mac[32];
    vg_hmac_sha256(k, key_len, msg, prefix_len + body_len, mac);
    free(msg);
    free(key);
    char *b64 = vg_base64_encode(mac, sizeof mac);
    int n = snprintf(out + *len, outlen - *len, "%sv1,%s", *len ? " " : "", b64);
    free(b64);
    if (n < 0 || (size_t)n >= outlen - *len) return VG_INVALID;
    *len += (size_t)n;
    return VG_OK;
}

int vg_webhook_sign(const char *msg_id, int64_t timestamp, const char *body, size_t body_len,
                    const char *const *secrets, size_t n, char *out, size_t outlen)
{
    char prefix[128];
    int plen = snprintf(prefix, sizeof prefix, "%s.%" PRId64 ".", msg_id, timestamp);
    if (plen < 0 || (size_t)plen >= sizeof prefix || !outlen) return VG_INVALID;
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (sign_one(secrets[i], prefix, (size_t)plen, body, body_len, out, outlen, &len) != VG_OK)
            return VG_INVALID;
    return n ? VG_OK : VG_INVALID;
}

int64_t vg_webhook_backoff_ms(int attempt, int64_t base_ms, uint32_t rnd)
{
    if (base_ms < 1) base_ms = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < VG_WEBHOOK_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > VG_WEBHOOK_BACKOFF_MAX_MS) d = VG_WEBHOOK_BACKOFF_MAX_MS;
    /* factor = 1 + 0.3 · rnd / 2^32, in [1, 1.3); d <= 2^22 and 3·d·rnd < 2^56: no overflow */
    return d + (int64_t)(((uint64_t)d * 3 * rnd) >> 32) / 10;
}

static const char *const g_event_types[VG_TASK_STATUS_COUNT] = {
    [VG_TASK_COMPLETED] = "video.completed",
    [VG_TASK_FAILED] = "video.failed",
    [VG_TASK_CANCELLED] = "video.cancelled",
};

const char *vg_webhook_event_type(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_event_types[s] : NULL;
}
