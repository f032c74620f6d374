/* ids.c - see ids.h. */
#include "common/ids.h"

#include "common/clock.h"
#include "common/crypto.h"

#include <stdint.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#include <stdbool.h>

/* prefix + 26 Crockford digits of 48 bits of ms then the 80 bits of tail. */
static void encode(const char *prefix, const unsigned char tail[10], char out[VG_ID_MAX])
{
    unsigned char raw[16];
    uint64_t ms = (uint64_t)vg_now_ms();
    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
    memcpy(raw + 6, tail, 10);
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

void vg_id_new(const char *prefix, char out[VG_ID_MAX])
{
    unsigned char tail[10];
    vg_random_bytes(tail, sizeof tail);
    encode(prefix, tail, out);
}

/* A random start per thread, then a counter: one RAND_bytes() per thread instead of one per id
 * (the DRBG with its lock and fork check cost about 8 % of a status poll). */
static _Thread_local unsigned char label_tail[10];
static _Thread_local bool label_seeded;

void vg_id_new_label(const char *prefix, char out[VG_ID_MAX])
{
    if (!label_seeded) {
        vg_random_bytes(label_tail, sizeof label_tail);
        label_seeded = true;
    }
    for (int i = 9; i >= 0 && ++label_tail[i] == 0; i--)
        ;
    encode(prefix, label_tail, out);
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
