/*
 * imagehead.c - see imagehead.h.
 *
 * One reader per format, chosen by signature from a table. A reader gets the whole buffer and
 * checks each offset against its length before it reads; sides are unsigned in the files and
 * are clamped to INT32_MAX so a caller's bounds check sees them as too large, never negative.
 */
#include "core/imagehead.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const unsigned char *d;
    size_t len;
    bool le; /* TIFF byte order */
} span;

typedef struct {
    uint32_t w, h;
    int orientation; /* EXIF 1..8; 1 when absent */
} head;

static uint32_t be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}
static uint32_t le24(const unsigned char *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Whether n bytes at off lie inside s (no overflow in the sum). */
static bool has(const span *s, size_t off, size_t n)
{
    return off <= s->len && n <= s->len - off;
}

static uint32_t t16(const span *s, size_t off)
{
    return s->le ? le16(s->d + off) : be16(s->d + off);
}
static uint32_t t32(const span *s, size_t off)
{
    return s->le ? le32(s->d + off) : be32(s->d + off);
}

/* Walks TIFF IFD0 (s starts at the byte-order mark): width (256), height (257), orientation
 * (274). want_size: a TIFF file needs both sides; an EXIF block only its orientation. */
static int tiff_ifd0(span *s, head *hd, bool want_size)
{
    if (!has(s, 0, 8)) return -1;
    if (!memcmp(s->d, "II*\0", 4))
        s->le = true;
    else if (!memcmp(s->d, "MM\0*", 4))
        s->le = false;
    else
        return -1;
    size_t ifd = t32(s, 4);
    if (!has(s, ifd, 2)) return -1;
    size_t n = t16(s, ifd);
    for (size_t i = 0; i < n; i++) {
        size_t e = ifd + 2 + 12 * i;
        if (!has(s, e, 12)) return -1;
        uint32_t tag = t16(s, e), type = t16(s, e + 2);
        uint32_t v = type == 3 ? t16(s, e + 8) : type == 4 ? t32(s, e + 8) : 0;
        if (tag == 256) hd->w = v;
        if (tag == 257) hd->h = v;
        if (tag == 274 && v >= 1 && v <= 8) hd->orientation = (int)v;
    }
    return want_size && (!hd->w || !hd->h) ? -1 : 0;
}

static int read_tiff(span *s, head *hd)
{
    return tiff_ifd0(s, hd, true);
}

static int read_png(span *s, head *hd)
{
    if (!has(s, 8, 16) || memcmp(s->d + 12, "IHDR", 4)) return -1;
    hd->w = be32(s->d + 16);
    hd->h = be32(s->d + 20);
    return 0;
}

static int read_gif(span *s, head *hd)
{
    if (!has(s, 6, 4)) return -1;
    hd->w = le16(s->d + 6);
    hd->h = le16(s->d + 8);
    return 0;
}

static int read_bmp(span *s, head *hd)
{
    if (!has(s, 14, 4)) return -1;
    uint32_t dib = le32(s->d + 14);
    if (dib == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sides */
        if (!has(s, 18, 4)) return -1;
        hd->w = le16(s->d + 18);
        hd->h = le16(s->d + 20);
        return 0;
    }
    if (dib < 40 || !has(s, 18, 8)) return -1;
    int32_t w = (int32_t)le32(s->d + 18), h = (int32_t)le32(s->d + 22);
    if (w <= 0 || h == 0 || h == INT32_MIN) return -1;
    hd->w = (uint32_t)w;
    hd->h = (uint32_t)(h < 0 ? -h : h); /* negative: stored top-down */
    return 0;
}

static int read_webp(span *s, head *hd)
{
    if (!has(s, 12, 18)) return -1;
    const unsigned char *c = s->d + 12, *p = s->d + 20;
    if (!memcmp(c, "VP8 ", 4)) { /* lossy: frame tag, start code, 14-bit sides */
        if (memcmp(p + 3, "\x9d\x01\x2a", 3)) return -1;
        hd->w = le16(p + 6) & 0x3fff;
        hd->h = le16(p + 8) & 0x3fff;
    } else if (!memcmp(c, "VP8L", 4)) { /* lossless: signature, then 14-bit sides minus one */
        if (p[0] != 0x2f) return -1;
        uint32_t bits = le32(p + 1);
        hd->w = (bits & 0x3fff) + 1;
        hd->h = ((bits >> 14) & 0x3fff) + 1;
    } else if (!memcmp(c, "VP8X", 4)) { /* extended: flags, 24-bit canvas sides minus one */
        hd->w = le24(p + 4) + 1;
        hd->h = le24(p + 7) + 1;
    } else
        return -1;
    return 0;
}

/* SOFn markers: C0..CF but DHT (C4), JPG (C8) and DAC (CC). */
static bool jpeg_sof(unsigned m)
{
    return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static int read_jpeg(span *s, head *hd)
{
    size_t pos = 2;
    for (;;) {
        while (has(s, pos, 1) && s->d[pos] == 0xff && has(s, pos + 1, 1) && s->d[pos + 1] == 0xff)
            pos++; /* fill bytes */
        if (!has(s, pos, 2) || s->d[pos] != 0xff) return -1;
        unsigned m = s->d[pos + 1];
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { /* markers without a length */
            pos += 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda || !has(s, pos + 2, 2)) return -1; /* no SOF before the scan */
        size_t seg = be16(s->d + pos + 2);
        if (seg < 2 || !has(s, pos + 2, seg)) return -1;
        if (jpeg_sof(m)) {
            if (seg < 7) return -1;
            hd->h = be16(s->d + pos + 5);
            hd->w = be16(s->d + pos + 7);
            return 0;
        }
        if (m == 0xe1 && seg >= 8 && !memcmp(s->d + pos + 4, "Exif\0\0", 6)) {
            span exif = {s->d + pos + 10, seg - 8, false};
            head eh = {0, 0, 1};
            if (tiff_ifd0(&exif, &eh, false) == 0) hd->orientation = eh.orientation;
        }
        pos += 2 + seg;
    }
}

static const struct {
    const char *sig;
    size_t off, n;
    const char *name;
    int (*read)(span *, head *);
} g_formats[] = {
    {"\xff\xd8\xff", 0, 3, "JPEG", read_jpeg}, {"\x89PNG\r\n\x1a\n", 0, 8, "PNG", read_png},
    {"GIF87a", 0, 6, "GIF", read_gif},         {"GIF89a", 0, 6, "GIF", read_gif},
    {"WEBP", 8, 4, "WebP", read_webp},         {"BM", 0, 2, "BMP", read_bmp},
    {"II*\0", 0, 4, "TIFF", read_tiff},        {"MM\0*", 0, 4, "TIFF", read_tiff},
};

vg_status vg_imagehead_size(const unsigned char *data, size_t len, int *w, int *h, char *why,
                            size_t whylen)
{
    span s = {data, data ? len : 0, false};
    for (size_t i = 0; i < sizeof g_formats / sizeof g_formats[0]; i++) {
        if (!has(&s, g_formats[i].off, g_formats[i].n) ||
            memcmp(data + g_formats[i].off, g_formats[i].sig, g_formats[i].n))
            continue;
        if (g_formats[i].off == 8 && memcmp(data, "RIFF", 4)) continue;
        head hd = {0, 0, 1};
        if (g_formats[i].read(&s, &hd) || !hd.w || !hd.h) {
            if (why) snprintf(why, whylen, "truncated or malformed %s header", g_formats[i].name);
            return VG_INVALID;
        }
        uint32_t dw = hd.orientation >= 5 ? hd.h : hd.w, dh = hd.orientation >= 5 ? hd.w : hd.h;
        *w = dw > INT32_MAX ? INT32_MAX : (int)dw;
        *h = dh > INT32_MAX ? INT32_MAX : (int)dh;
        return VG_OK;
    }
    if (why) snprintf(why, whylen, "not a JPEG, PNG, GIF, WebP, BMP or TIFF image");
    return VG_INVALID;
}
