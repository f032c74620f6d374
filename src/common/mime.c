/*
 * mime.c - see mime.h.
 *
 * A table of signatures, first match wins. Each is up to two byte strings at fixed offsets, which
 * is what the RIFF containers need ("RIFF" at 0, the form type at 8). Prefixes are the shortest
 * that identify the type ("\x89PNG", "GIF8"), so a truncated header still names its type.
 */
#include "common/mime.h"

#include <string.h>

typedef struct {
    size_t off, len;
    const char *bytes;
} mime_part;

static const struct {
    const char *mime;
    mime_part part[2]; /* the second may be empty (len 0) */
} g_signatures[] = {
    {"image/jpeg", {{0, 3, "\xff\xd8\xff"}}},
    {"image/png", {{0, 4, "\x89PNG"}}},
    {"image/gif", {{0, 4, "GIF8"}}},
    {"image/webp", {{0, 4, "RIFF"}, {8, 4, "WEBP"}}},
    {"audio/wav", {{0, 4, "RIFF"}, {8, 4, "WAVE"}}},
    {"image/bmp", {{0, 2, "BM"}}},
    {"image/tiff", {{0, 4, "II*\0"}}},
    {"image/tiff", {{0, 4, "MM\0*"}}},
    {"audio/mpeg", {{0, 3, "ID3"}}},
    {"audio/mpeg", {{0, 2, "\xff\xfb"}}},
    {"audio/mpeg", {{0, 2, "\xff\xf3"}}},
    {"audio/mpeg", {{0, 2, "\xff\xf2"}}},
};

static int part_matches(const mime_part *p, const unsigned char *data, size_t len)
{
    return p->len == 0 || (len >= p->off + p->len && !memcmp(data + p->off, p->bytes, p->len));
}

const char *vg_mime_sniff(const unsigned char *data, size_t len)
{
    if (!data) return NULL;
    for (size_t i = 0; i < sizeof g_signatures / sizeof g_signatures[0]; i++)
        if (part_matches(&g_signatures[i].part[0], data, len) &&
            part_matches(&g_signatures[i].part[1], data, len))
            return g_signatures[i].mime;
    return NULL;
}
