/* asset.c - the asset domain: names, ids, validation rules, references (see asset.h). */
#include "core/asset.h"

#include "common/crypto.h"
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const type_names[] = {"Image", "Video", "Audio"};
static const char *const status_names[] = {"Processing", "Active", "Failed"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

const char *vg_asset_type_name(vg_asset_type t)
{
    return (unsigned)t < VG_ASSET_TYPE_COUNT ? type_names[t] : "Image";
}

int vg_asset_type_parse(const char *s)
{
    return lookup(type_names, VG_ASSET_TYPE_COUNT, s);
}

const char *vg_asset_status_name(vg_asset_status s)
{
    return (unsigned)s < VG_ASSET_STATUS_COUNT ? status_names[s] : "Failed";
}

int vg_asset_status_parse(const char *s)
{
    return lookup(status_names, VG_ASSET_STATUS_COUNT, s);
}

void vg_asset_free(vg_asset *a)
{
    if (!a) return;
    free(a->source_url);
    a->source_url = NULL;
}

/* ---- ids --------------------------------------------------------------------------------- */

static const char id_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
#define ID_ALPHABET_LEN 36
#define ID_STAMP_LEN    14 /* YYYYMMDDhhmmss */

void vg_asset_id_new(const char *prefix, int64_t now_s, char out[VG_ASSET_ID_MAX])
{
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n =
        snprintf(out, VG_ASSET_ID_MAX, "%.8s-%04d%02d%02d%02d%02d%02d-", prefix, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    /* Rejection sampling keeps every character equally likely: 252 = 7 × 36. */
    int filled = 0;
    while (filled < VG_ASSET_ID_RANDOM_CHARS) {
        unsigned char raw[32];
        vg_random_bytes(raw, sizeof raw);
        for (size_t i = 0; i < sizeof raw && filled < VG_ASSET_ID_RANDOM_CHARS; i++)
            if (raw[i] < 252) out[n + filled++] = id_alphabet[raw[i] % ID_ALPHABET_LEN];
    }
    out[n + filled] = '\0';
}

static int all_of(const char *s, size_t n, const char *set)
{
    return strspn(s, set) >= n;
}

int vg_asset_id_valid(const char *s, const char *prefix)
{
    size_t p = strlen(prefix);
    if (!s || strncmp(s, prefix, p) != 0 || s[p] != '-') return 0;
    s += p + 1;
    if (strlen(s) != ID_STAMP_LEN + 1 + VG_ASSET_ID_RANDOM_CHARS) return 0;
    return all_of(s, ID_STAMP_LEN, "0123456789") && s[ID_STAMP_LEN] == '-' &&
           all_of(s + ID_STAMP_LEN + 1, VG_ASSET_ID_RANDOM_CHARS, id_alphabet);
}

size_t vg_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80; /* count lead bytes, skip continuations */
    return n;
}

/* ---- validation rules -------------------------------------------------------------------- */

typedef struct {
    const char *formats[6]; /* NULL-terminated */
    const char *format_text;
    int64_t max_bytes;     /* inclusive */
    const char *size_text; /* the rule as the spec writes it */
    bool image;            /* sides and aspect apply */
    bool timed;            /* duration applies */
} asset_rule;

static const asset_rule rules[VG_ASSET_TYPE_COUNT] = {
    [VG_ASSET_IMAGE] = {{"jpeg", "png", "webp", "bmp", "gif", NULL},
                        "jpeg, png, webp, bmp or gif",
                        VG_ASSET_IMAGE_MAX_BYTES,
                        "smaller than 30 MB",
                        true,
                        false},
    [VG_ASSET_VIDEO] = {{"mp4", "mov", NULL},
                        "mp4 or mov",
                        VG_ASSET_VIDEO_MAX_BYTES,
                        "at most 50 MB",
                        false,
                        true},
    [VG_ASSET_AUDIO] = {{"wav", "mp3", NULL},
                        "wav or mp3",
                        VG_ASSET_AUDIO_MAX_BYTES,
                        "at most 15 MB",
                        false,
                        true},
};

static const struct {
    const char *format, *mime;
} mimes[] = {
    {"jpeg", "image/jpeg"},     {"png", "image/png"}, {"webp", "image/webp"},
    {"bmp", "image/bmp"},       {"gif", "image/gif"}, {"mp4", "video/mp4"},
    {"mov", "video/quicktime"}, {"wav", "audio/wav"}, {"mp3", "audio/mpeg"},
};

int64_t vg_asset_max_bytes(vg_asset_type t)
{
    return rules[(unsigned)t < VG_ASSET_TYPE_COUNT ? t : VG_ASSET_IMAGE].max_bytes;
}

const char *vg_asset_format_mime(const char *format)
{
    for (size_t i = 0; i < sizeof mimes / sizeof mimes[0]; i++)
        if (!strcmp(mimes[i].format, format)) return mimes[i].mime;
    return "application/octet-stream";
}

static bool format_allowed(const asset_rule *r, const char *format)
{
    for (int i = 0; r->formats[i]; i++)
        if (!strcmp(r->formats[i], format)) return true;
    return false;
}

static int bad(const char **code, const char *c, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bad(const char **code, const char *c, char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    *code = c;
    return VG_INVALID;
}

static bool side_ok(int px)
{
    return px >= VG_ASSET_IMAGE_MIN_SIDE_PX && px <= VG_ASSET_IMAGE_MAX_SIDE_PX;
}

static int check_image(const vg_asset_media *m, const char **code, char *msg, size_t msglen)
{
    if (!side_ok(m->width) || !side_ok(m->height))
        return bad(code, "InvalidDimensions", msg, msglen,
                   "the image is %dx%d pixels; each side must be %d to %d", m->width, m->height,
                   VG_ASSET_IMAGE_MIN_SIDE_PX, VG_ASSET_IMAGE_MAX_SIDE_PX);
    /* 0.4 <= w/h <= 2.5, in integers: 5w >= 2h and 2w <= 5h. */
    int64_t w = m->width, h = m->height;
    if (5 * w < 2 * h || 2 * w > 5 * h)
        return bad(code, "InvalidAspectRatio", msg, msglen,
                   "the image's aspect ratio (width/height) is %.3f; it must be 0.4 to 2.5",
                   (double)w / (double)h);
    return 0;
}

static int check_duration(const vg_asset_media *m, const char **code, char *msg, size_t msglen)
{
    if (m->duration_ms >= VG_ASSET_MIN_MEDIA_MS &&
        m->duration_ms <= VG_ASSET_MAX_MEDIA_MS + VG_ASSET_DURATION_SLACK_MS)
        return 0;
    return bad(code, "InvalidDuration", msg, msglen,
               "the duration is %.2f s; it must be %d to %d s", (double)m->duration_ms / 1000.0,
               VG_ASSET_MIN_MEDIA_MS / 1000, VG_ASSET_MAX_MEDIA_MS / 1000);
}

int vg_asset_check(vg_asset_type t, const vg_asset_media *m, const char **code, char *msg,
                   size_t msglen)
{
    const asset_rule *r = &rules[(unsigned)t < VG_ASSET_TYPE_COUNT ? t : VG_ASSET_IMAGE];
    if (!format_allowed(r, m->format))
        return bad(code, "UnsupportedFormat", msg, msglen,
                   "the content is %s%s; %s assets must be %s", m->format[0] ? "a " : "",
                   m->format[0] ? m->format : "not a recognised file", vg_asset_type_name(t),
                   r->format_text);
    if (m->size_bytes > r->max_bytes)
        return bad(code, "FileTooLarge", msg, msglen,
                   "the file is %lld bytes; %s assets must be %s", (long long)m->size_bytes,
                   vg_asset_type_name(t), r->size_text);
    if (r->image) return check_image(m, code, msg, msglen);
    if (r->timed) return check_duration(m, code, msg, msglen);
    return VG_OK;
}

/* ---- references and paths ---------------------------------------------------------------- */

#define REF_SCHEME "asset://"
#define REF_HASH   "?sha256="

void vg_asset_ref_format(const char *id, const char *sha256, char out[VG_ASSET_REF_MAX])
{
    snprintf(out, VG_ASSET_REF_MAX, REF_SCHEME "%s" REF_HASH "%s", id, sha256);
}

int vg_asset_ref_parse(const char *url, char id[VG_ASSET_ID_MAX], char sha256[65])
{
    static const char id_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    if (!url || strncmp(url, REF_SCHEME, strlen(REF_SCHEME)) != 0) return -1;
    const char *p = url + strlen(REF_SCHEME);
    size_t n = strspn(p, id_chars);
    if (n == 0 || n >= VG_ASSET_ID_MAX) return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    sha256[0] = '\0';
    p += n;
    if (!*p) return 0;
    if (strncmp(p, REF_HASH, strlen(REF_HASH)) != 0) return -1;
    p += strlen(REF_HASH);
    if (strlen(p) != 64 || !all_of(p, 64, "0123456789abcdef")) return -1;
    memcpy(sha256, p, 65);
    return 0;
}

int vg_asset_ref_is_inline(const char *url)
{
    char id[VG_ASSET_ID_MAX], sha[65];
    return vg_asset_ref_parse(url, id, sha) == 0 && sha[0] && !strcmp(id, VG_ASSET_INLINE_ID);
}

void vg_asset_store_dir(const char *data_dir, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/files/assets", data_dir);
}

void vg_asset_blob_path(const char *data_dir, const char *sha256, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/files/assets/%s", data_dir, sha256);
}

void vg_asset_staging_dir(const char *data_dir, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/files/assets/staging", data_dir);
}

void vg_asset_staging_path(const char *data_dir, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/files/assets/staging/%s", data_dir, id);
}
