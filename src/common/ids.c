/* ids.c - see ids.h. */
#include "common/ids.h"

#include "common/clock.h"
#include "common/crypto.h"

#include <stdint.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void vg_id_new(const char *prefix, char out[VG_ID_MAX])
{
    unsigned char raw[16];
    uint64_t ms = (uint64_t)vg_now_ms();
    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
    vg_random_bytes(raw + 6, 10);
    size_t p = strlen(prefix);
    if (p > VG_ID_MAX - 27) p = VG_ID_MAX - 27;
    memcpy(out, prefix, p);
    /* 128 bits as 26 base32 digits: the first digit carries the top 3 bits. */
    for (int i = 0; i < 26; i++) {
        int bit = 128 - 130 + 5 * i; /* position of this digit's top bit, from the left */
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int pos = bit + b;
            v <<= 1;
            if (pos >= 0) v |= (raw[pos / 8] >> (7 - pos % 8)) & 1u;
        }
        out[p + (size_t)i] = crockford[v];
    }
    out[p + 26] = '\0';
}

void vg_key_secret_new(char out[VG_KEY_SECRET_LEN + 1])
{
    static const char urlsafe[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[40];
    vg_random_bytes(raw, sizeof raw);
    memcpy(out, "sk-", 3);
    for (int i = 0; i < 40; i++)
        out[3 + i] = urlsafe[raw[i] & 63];
    out[VG_KEY_SECRET_LEN] = '\0';
}

int vg_id_valid(const char *s, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(s, prefix, p) != 0 || strlen(s + p) != 26) return 0;
    for (const char *c = s + p; *c; c++)
        if (!strchr(crockford, *c)) return 0;
    return 1;
}
