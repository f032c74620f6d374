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
    const char *what;  /* for messages: what the sender actually sent */
    mime_part part[2]; /* the second may be empty (len 0) */
} g_signatures[] = {
    {"image/jpeg", "a JPEG image", {{0, 3, "\xff\xd8\xff"}}},
    {"image/png", "a PNG image", {{0, 4, "\x89PNG"}}},
    {"image/gif", "a GIF image", {{0, 4, "GIF8"}}},
    {"image/webp", "a WebP image", {{0, 4, "RIFF"}, {8, 4, "WEBP"}}},
    {"audio/wav", "a WAV audio file", {{0, 4, "RIFF"}, {8, 4, "WAVE"}}},
    {"image/bmp", "a BMP image", {{0, 2, "BM"}}},
    {"image/tiff", "a TIFF image", {{0, 4, "II*\0"}}},
    {"image/tiff", "a TIFF image", {{0, 4, "MM\0*"}}},
    {"audio/mpeg", "an MP3 audio file", {{0, 3, "ID3"}}},
    {"audio/mpeg", "an MP3 audio file", {{0, 2, "\xff\xfb"}}},
    {"audio/mpeg", "an MP3 audio file", {{0, 2, "\xff\xf3"}}},
    {"audio/mpeg", "an MP3 audio file", {{0, 2, "\xff\xf2"}}},
    {"application/pdf", "a PDF document", {{0, 5, "%PDF-"}}},
    {"video/mp4", "an MP4 or QuickTime video", {{4, 4, "ftyp"}}},
    {"video/webm", "a WebM or Matroska video", {{0, 4, "\x1a\x45\xdf\xa3"}}},
    {"audio/ogg", "an Ogg file", {{0, 4, "OggS"}}},
    {"application/zip", "a ZIP archive", {{0, 4, "PK\x03\x04"}}},
    {"application/gzip", "a gzip archive", {{0, 2, "\x1f\x8b"}}},
};

static int part_matches(const mime_part *p, const unsigned char *data, size_t len)
{
    return p->len == 0 || (len >= p->off + p->len && !memcmp(data + p->off, p->bytes, p->len));
}

static int find(const unsigned char *data, size_t len)
{
    if (!data) return -1;
    for (size_t i = 0; i < sizeof g_signatures / sizeof g_signatures[0]; i++)
        if (part_matches(&g_signatures[i].part[0], data, len) &&
            part_matches(&g_signatures[i].part[1], data, len))
            return (int)i;
    return -1;
}

const char *vg_mime_sniff(const unsigned char *data, size_t len)
{
    int i = find(data, len);
    return i < 0 ? NULL : g_signatures[i].mime;
}

const char *vg_mime_describe(const unsigned char *data, size_t len)
{
    int i = find(data, len);
    return i < 0 ? NULL : g_signatures[i].what;
}
