/*
 * spec.c - validation of a submit body into a vg_task_spec (spec §3); see spec.h.
 *
 * The body is checked by a fixed list of steps (g_steps), each owning a group of fields; the first
 * failure records its error and stops. Decisions the spec leaves open, made here:
 *   - Unknown top-level keys and unknown keys inside "metadata" are ignored (and never forwarded).
 *   - A JSON null counts as an absent field.
 *   - URL schemes are matched in lower case only ("https://", "data:", "asset://"), so every later
 *     layer can rely on the same spelling; web URLs follow the one URL policy (core/urlpolicy.h),
 *     private hosts included, so what is accepted here is what the fetcher will accept.
 *   - "seconds" as a string must be plain digits ("5"); a non-digit string or an out-of-range value
 * is invalid_duration, any other JSON type is invalid_parameter.
 *   - metadata.content: an image without a role is the first frame only when it is the sole such
 *     image and the content has no reference media and no explicit first frame; otherwise it is a
 *     reference image. A last_frame needs a first_frame. "text" items are ignored (the prompt stays
 *     required), and the caps (9 images, 3 videos, 3 audios, 12 media) count media items only.
 *   - "input_reference" (OpenAI) is a first frame and cannot be combined with images or
 *     metadata.content.
 *   - generate_audio defaults to true (the upstream's default for Seedance 2.0); the other flags to
 *     false.
 */
#include "core/spec.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "core/dataurl.h"
#include "common/status.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SECONDS 5
#define ECHO_MAX        64 /* bytes of a client's value quoted back in a message */

typedef struct {
    const json_t *body, *meta;
    const vg_url_policy *urls;
    const char *default_model;
    const char *upload_prefix;
    const vg_model *model;
    vg_task_spec *out;
    vg_err *err;
    bool size_has_ratio; /* "size" was a pixel string, which fixes the ratio too */
    vg_ratio size_ratio;
    int item_of_media[VG_MAX_MEDIA_ITEMS]; /* metadata.content index of each media item */
    int pending_role[VG_MAX_MEDIA_ITEMS];  /* the role given, or -1 until defaults are applied */
} parse_ctx;

/* ---- small helpers ------------------------------------------------------------------------ */

/* A field of an object, with JSON null treated as absent. */
static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* Length of the longest prefix of s, at most max bytes, that does not split a UTF-8 sequence. */
static int utf8_cut(const char *s, int max)
{
    int n = (int)strnlen(s, (size_t)max);
    if (s[n] != '\0')
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    return n;
}

/* Decodes one UTF-8 sequence at s (len bytes left); returns its length, or 0 when malformed. */
static int utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
    static const struct {
        unsigned char mask, lead;
        int len;
        unsigned min;
    } forms[] = {{0x80, 0x00, 1, 0},
                 {0xE0, 0xC0, 2, 0x80},
                 {0xF0, 0xE0, 3, 0x800},
                 {0xF8, 0xF0, 4, 0x10000}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        if ((s[0] & forms[f].mask) != forms[f].lead) continue;
        int n = forms[f].len;
        if ((size_t)n > len) return 0;
        unsigned c = s[0] & (unsigned char)~forms[f].mask;
        for (int i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            c = (c << 6) | (s[i] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8. */
        if (c < forms[f].min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) return 0;
        *cp = c;
        return n;
    }
    return 0;
}

static bool is_space_cp(unsigned c)
{
    /* ASCII white space plus the Unicode spaces people paste into prompts (NBSP, ideographic). */
    static const unsigned spaces[] = {' ',    '\t',   '\n',   '\r',   '\v',   '\f',   0x85,
                                      0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                      0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x200B,
                                      0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        if (spaces[i] == c) return true;
    return false;
}

/* 1 = valid and not blank, 0 = valid but only white space, -1 = not UTF-8. */
static int utf8_check_text(const char *s, size_t len)
{
    bool blank = true;
    unsigned cp = 0;
    for (size_t i = 0; i < len;) {
        int n = utf8_next((const unsigned char *)s + i, len - i, &cp);
        if (n == 0) return -1;
        if (!is_space_cp(cp)) blank = false;
        i += (size_t)n;
    }
    return blank ? 0 : 1;
}

/* Joins the names of a table into buf: "480p, 720p, 1080p". */
static const char *join_names(const char *(*name)(int), int count, unsigned mask, char *buf,
                              size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (!(mask & (1u << i))) continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name(i));
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
    return buf;
}

static const char *res_name_i(int i)
{
    return vg_resolution_name((vg_resolution)i);
}

static const char *ratio_name_i(int i)
{
    return vg_ratio_name((vg_ratio)i);
}

/* param: the field the URL came from, kept so a failure at render time can name it. */
static int add_media(parse_ctx *c, vg_media_type type, int role, const char *url, int item,
                     const char *param)
{
    vg_task_spec *o = c->out;
    c->item_of_media[o->n_media] = item;
    c->pending_role[o->n_media] = role;
    vg_media *m = &o->media[o->n_media++];
    *m = (vg_media){.type = type,
                    .role = role < 0 ? VG_ROLE_REFERENCE_IMAGE : (vg_media_role)role,
                    .url = vg_strdup(url)};
    snprintf(m->param, sizeof m->param, "%s", param);
    return 0;
}

/* ---- URLs ----------------------------------------------------------------------------- */

enum { URL_WEB = 1, URL_DATA = 2, URL_ASSET = 4 };

/* What a media type accepts: the schemes and the data: media-type prefix. */
static const struct {
    unsigned kinds;
    const char *mime_prefix;
    const char *noun;
} g_media_rules[] = {
    [VG_MEDIA_IMAGE] = {URL_WEB | URL_DATA | URL_ASSET, "image/", "image"},
    [VG_MEDIA_VIDEO] = {URL_WEB | URL_ASSET, NULL, "video"},
    [VG_MEDIA_AUDIO] = {URL_WEB | URL_DATA | URL_ASSET, "audio/", "audio"},
};

static int url_error(parse_ctx *c, unsigned kinds, const char *param, const char *code)
{
    return vg_err_set(c->err, 400, code, param, "%s must be a URL starting with %s%s%s%s", param,
                      "https://", c->urls->allow_http ? " or http://" : "",
                      kinds & URL_DATA ? " or data:" : "", kinds & URL_ASSET ? " or asset://" : "");
}

/* A web URL: the one URL policy (core/urlpolicy.h), the same the fetcher applies later. */
static int check_web_url(parse_ctx *c, const char *url, unsigned kinds, const char *param,
                         const char *code)
{
    vg_url_verdict why;
    if (vg_urlpolicy_check(url, c->urls, &why) == VG_OK) return 0;
    if (why == VG_URL_SCHEME || why == VG_URL_EMPTY) return url_error(c, kinds, param, code);
    return vg_err_set(c->err, 400, code, param, "%s %s", param, vg_urlpolicy_reason(why, c->urls));
}

static int check_asset_url(parse_ctx *c, const char *url, const char *param, const char *code)
{
    const char *id = url + 8; /* after "asset://" */
    size_t n = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (n == 0 || id[n] != '\0' || strlen(url) > VG_MAX_URL_BYTES)
        return vg_err_set(c->err, 400, code, param,
                          "%s must be asset://<id> with an id of letters, digits, '-' and '_'",
                          param);
    return 0;
}

/* The header always; the payload only when it is small: a large one (an uploaded picture) is
 * decoded by the submit off the event loop (api/tasks.c), which answers the same 400. */
static int check_data_url(parse_ctx *c, vg_media_type type, const char *url, const char *param,
                          const char *code)
{
    char mime[64];
    unsigned char *bytes = NULL;
    size_t len = 0, plen = 0;
    const char *prefix = g_media_rules[type].mime_prefix;
    int rc = vg_dataurl_head(url, mime, &plen);
    if (rc == 0 && plen <= VG_DATAURL_PARSE_CHECK_BYTES) {
        rc = vg_dataurl_decode(url, mime, &bytes, &len);
        free(bytes); /* only the syntax and the type matter here; the submit decodes it again */
    }
    if (rc < 0 || plen == 0 || strncmp(mime, prefix, strlen(prefix)) != 0)
        return vg_err_set(c->err, 400, code, param, "%s is not a base64 data: URL of an %s", param,
                          g_media_rules[type].noun);
    return 0;
}

/* kinds narrows what the media type allows (the "images" array takes no asset:// URLs). */
static int check_url(parse_ctx *c, vg_media_type type, unsigned kinds, const char *url,
                     const char *param, const char *code)
{
    kinds &= g_media_rules[type].kinds;
    if (c->upload_prefix && strncmp(url, c->upload_prefix, strlen(c->upload_prefix)) == 0)
        return kinds & URL_DATA && type == VG_MEDIA_IMAGE ? 0 : url_error(c, kinds, param, code);
    if (strncmp(url, "data:", 5) == 0)
        return kinds & URL_DATA ? check_data_url(c, type, url, param, code)
                                : url_error(c, kinds, param, code);
    if (strncmp(url, "asset://", 8) == 0)
        return kinds & URL_ASSET ? check_asset_url(c, url, param, code)
                                 : url_error(c, kinds, param, code);
    return check_web_url(c, url, kinds, param, code);
}

/* ---- top-level scalars ------------------------------------------------------------------ */

static int parse_model(parse_ctx *c)
{
    const json_t *v = field(c->body, "model");
    const char *name = c->default_model;
    if (v && !json_is_string(v)) return vg_err_invalid(c->err, "model", "model must be a string");
    if (v) name = json_string_value(v);
    if (!name) return vg_err_missing(c->err, "model");
    c->model = vg_model_find(name);
    if (!c->model)
        return vg_err_set(c->err, 404, "model_not_found", "model", "model '%.*s' does not exist",
                          utf8_cut(name, ECHO_MAX), name);
    snprintf(c->out->model, sizeof c->out->model, "%s", c->model->name);
    return 0;
}

static int parse_prompt(parse_ctx *c)
{
    const json_t *v = field(c->body, "prompt");
    if (!v) return vg_err_missing(c->err, "prompt");
    if (!json_is_string(v)) return vg_err_invalid(c->err, "prompt", "prompt must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > VG_MAX_PROMPT_BYTES)
        return vg_err_invalid(c->err, "prompt", "prompt must be at most %d bytes",
                              VG_MAX_PROMPT_BYTES);
    if (strlen(s) != len)
        return vg_err_invalid(c->err, "prompt", "prompt must not contain NUL characters");
    int text = utf8_check_text(s, len);
    if (text < 0) return vg_err_invalid(c->err, "prompt", "prompt must be valid UTF-8");
    if (text == 0) return vg_err_invalid(c->err, "prompt", "prompt must not be empty");
    c->out->prompt = vg_strdup(s);
    return 0;
}

static int duration_range_error(parse_ctx *c, const char *param)
{
    return vg_err_set(c->err, 400, "invalid_duration", param,
                      "%s must be a whole number from %d to %d for %s", param,
                      c->model->min_seconds, c->model->max_seconds, c->model->name);
}

/* "seconds": digits or an integer; else "duration": an integer; else the default. */
static int parse_seconds(parse_ctx *c)
{
    const json_t *s = field(c->body, "seconds"), *d = field(c->body, "duration");
    const vg_model *m = c->model;
    if (s && !json_is_string(s) && !json_is_integer(s))
        return vg_err_invalid(c->err, "seconds", "seconds must be a string or an integer");
    if (d && !json_is_integer(d))
        return vg_err_invalid(c->err, "duration", "duration must be an integer");
    const char *param = s ? "seconds" : "duration";
    long long n;
    if (s && json_is_string(s)) {
        const char *t = json_string_value(s);
        size_t digits = strspn(t, "0123456789");
        if (digits == 0 || digits > 4 || t[digits] != '\0') return duration_range_error(c, param);
        n = atoll(t);
    } else if (s || d) {
        n = json_integer_value(s ? s : d);
    } else {
        /* The default, kept inside the range of a model the operator configured differently. */
        n = DEFAULT_SECONDS < m->min_seconds   ? m->min_seconds
            : DEFAULT_SECONDS > m->max_seconds ? m->max_seconds
                                               : DEFAULT_SECONDS;
    }
    if (n < m->min_seconds || n > m->max_seconds) return duration_range_error(c, param);
    c->out->seconds = (int)n;
    return 0;
}

static int parse_metadata_type(parse_ctx *c)
{
    c->meta = field(c->body, "metadata");
    if (c->meta && !json_is_object(c->meta))
        return vg_err_invalid(c->err, "metadata", "metadata must be an object");
    return 0;
}

/* "size": a resolution name or a pixel string of the table (which fixes the ratio too). */
static int parse_size(parse_ctx *c, int *r)
{
    char names[64];
    const json_t *size = field(c->body, "size");
    vg_resolution pr;
    if (!size) return 0;
    if (!json_is_string(size)) return vg_err_invalid(c->err, "size", "size must be a string");
    const char *s = json_string_value(size);
    if ((*r = vg_resolution_parse(s)) >= 0) return 0;
    if (vg_size_from_pixels(s, &pr, &c->size_ratio) < 0)
        return vg_err_set(c->err, 400, "invalid_resolution", "size",
                          "size must be one of %s or an output size such as 1280x720",
                          join_names(res_name_i, VG_RES_COUNT, ~0u, names, sizeof names));
    *r = (int)pr;
    c->size_has_ratio = true;
    return 0;
}

/* "size" then "metadata.resolution" (which wins); the model must support the result. */
static int parse_resolution(parse_ctx *c)
{
    char names[64];
    const json_t *mr = field(c->meta, "resolution");
    int r = -1;
    if (parse_size(c, &r) < 0) return -1;
    const char *param = r >= 0 ? "size" : NULL;
    if (mr) {
        if ((r = vg_resolution_parse(json_string_value(mr))) < 0)
            return vg_err_set(c->err, 400, "invalid_resolution", "metadata.resolution",
                              "metadata.resolution must be one of %s",
                              join_names(res_name_i, VG_RES_COUNT, ~0u, names, sizeof names));
        param = "metadata.resolution";
    }
    unsigned have = c->model->resolutions;
    if (r < 0) /* nothing asked: 720p, or the model's lowest when an operator removed 720p */
        r = have & (1u << VG_RES_720P) ? VG_RES_720P : __builtin_ctz(have);
    else if (!(have & (1u << r)))
        return vg_err_set(c->err, 400, "unsupported_resolution", param,
                          "%s does not support %s (it supports %s)", c->model->name,
                          vg_resolution_name((vg_resolution)r),
                          join_names(res_name_i, VG_RES_COUNT, have, names, sizeof names));
    c->out->resolution = (vg_resolution)r;
    return 0;
}

static int parse_ratio(parse_ctx *c)
{
    char names[96];
    const json_t *v = field(c->meta, "ratio");
    c->out->ratio = c->size_has_ratio ? c->size_ratio : VG_RATIO_ADAPTIVE;
    if (!v) return 0;
    int q = vg_ratio_parse(json_string_value(v));
    if (q < 0)
        return vg_err_set(c->err, 400, "invalid_ratio", "metadata.ratio",
                          "metadata.ratio must be one of %s",
                          join_names(ratio_name_i, VG_RATIO_COUNT, ~0u, names, sizeof names));
    c->out->ratio = (vg_ratio)q;
    return 0;
}

/* ---- media ------------------------------------------------------------------------------ */

static int parse_images(parse_ctx *c, const json_t *images)
{
    size_t n = json_array_size(images), i;
    const json_t *v;
    if (n > VG_MAX_IMAGES)
        return vg_err_invalid(c->err, "images", "images may hold at most %d URLs", VG_MAX_IMAGES);
    /* One image animates from that frame; several guide the look as references (spec §3). */
    int role = n == 1 ? VG_ROLE_FIRST_FRAME : VG_ROLE_REFERENCE_IMAGE;
    json_array_foreach(images, i, v)
    {
        char param[32];
        snprintf(param, sizeof param, "images[%zu]", i);
        if (!json_is_string(v))
            return vg_err_set(c->err, 400, "invalid_image", param, "%s must be a URL string",
                              param);
        if (check_url(c, VG_MEDIA_IMAGE, URL_WEB | URL_DATA, json_string_value(v), param,
                      "invalid_image") < 0)
            return -1;
        add_media(c, VG_MEDIA_IMAGE, role, json_string_value(v), (int)i, param);
    }
    return 0;
}

/* OpenAI's input_reference: "url" or {"image_url": "url" | {"url": "url"}}; the first frame. */
static int parse_input_reference(parse_ctx *c, const json_t *v)
{
    const char *param = "input_reference", *url = json_string_value(v);
    if (json_is_object(v)) {
        const json_t *iu = field(v, "image_url");
        url = json_is_object(iu) ? json_string_value(field(iu, "url")) : json_string_value(iu);
    }
    if (!url)
        return vg_err_invalid(c->err, param,
                              "input_reference must be an image URL or {\"image_url\": URL}");
    if (check_url(c, VG_MEDIA_IMAGE, URL_WEB | URL_DATA, url, param, "invalid_image") < 0)
        return -1;
    return add_media(c, VG_MEDIA_IMAGE, VG_ROLE_FIRST_FRAME, url, 0, param);
}

/* Content item types: the key that holds {"url"}, the media type, and the default role. */
static const struct {
    const char *name;
    vg_media_type type;
    int default_role; /* -1: decided once all items are known */
} g_item_types[] = {
    {"image_url", VG_MEDIA_IMAGE, -1},
    {"video_url", VG_MEDIA_VIDEO, VG_ROLE_REFERENCE_VIDEO},
    {"audio_url", VG_MEDIA_AUDIO, VG_ROLE_REFERENCE_AUDIO},
    {"text", VG_MEDIA_IMAGE, -2}, /* ignored: the prompt carries the text */
};
#define N_ITEM_TYPES (int)(sizeof g_item_types / sizeof g_item_types[0])

static const struct {
    const char *name;
    vg_media_role role;
    vg_media_type type;
    const char *for_type; /* the roles a type may take, for the message */
} g_roles[] = {
    {"first_frame", VG_ROLE_FIRST_FRAME, VG_MEDIA_IMAGE,
     "first_frame, last_frame or reference_image"},
    {"last_frame", VG_ROLE_LAST_FRAME, VG_MEDIA_IMAGE, NULL},
    {"reference_image", VG_ROLE_REFERENCE_IMAGE, VG_MEDIA_IMAGE, NULL},
    {"reference_video", VG_ROLE_REFERENCE_VIDEO, VG_MEDIA_VIDEO, "reference_video"},
    {"reference_audio", VG_ROLE_REFERENCE_AUDIO, VG_MEDIA_AUDIO, "reference_audio"},
};
#define N_ROLES (int)(sizeof g_roles / sizeof g_roles[0])

static const char *roles_for(vg_media_type t)
{
    for (int i = 0; i < N_ROLES; i++)
        if (g_roles[i].type == t && g_roles[i].for_type) return g_roles[i].for_type;
    return "";
}

static int item_type(parse_ctx *c, const json_t *it, const char *base)
{
    char param[64];
    snprintf(param, sizeof param, "%s.type", base);
    const json_t *t = field(it, "type");
    if (!t) return vg_err_missing(c->err, param);
    for (int k = 0; json_is_string(t) && k < N_ITEM_TYPES; k++)
        if (strcmp(g_item_types[k].name, json_string_value(t)) == 0) return k;
    return vg_err_invalid(c->err, param, "%s must be one of image_url, video_url, audio_url, text",
                          param);
}

/* The explicit role of an item of g_item_types[k], or -1 when it has none; -2 after an error. */
static int item_role(parse_ctx *c, const json_t *it, int k, const char *base)
{
    vg_media_type t = g_item_types[k].type;
    char param[64];
    snprintf(param, sizeof param, "%s.role", base);
    const json_t *r = field(it, "role");
    if (!r) return -1;
    for (int k = 0; json_is_string(r) && k < N_ROLES; k++)
        if (strcmp(g_roles[k].name, json_string_value(r)) == 0 && g_roles[k].type == t)
            return (int)g_roles[k].role;
    vg_err_invalid(c->err, param, "%s must be %s for a %s item", param, roles_for(t),
                   g_item_types[k].name);
    return -2;
}

static const char *item_url(parse_ctx *c, const json_t *it, int k, const char *base)
{
    char param[80];
    const json_t *holder = field(it, g_item_types[k].name);
    snprintf(param, sizeof param, "%s.%s", base, g_item_types[k].name);
    if (!holder) return vg_err_missing(c->err, param), NULL;
    if (!json_is_object(holder))
        return vg_err_invalid(c->err, param, "%s must be an object {\"url\": …}", param), NULL;
    snprintf(param, sizeof param, "%s.%s.url", base, g_item_types[k].name);
    const json_t *url = field(holder, "url");
    if (!url) return vg_err_missing(c->err, param), NULL;
    if (!json_is_string(url))
        return vg_err_invalid(c->err, param, "%s must be a string", param), NULL;
    const char *code =
        g_item_types[k].type == VG_MEDIA_IMAGE ? "invalid_image" : "invalid_parameter";
    if (check_url(c, g_item_types[k].type, ~0u, json_string_value(url), param, code) < 0)
        return NULL;
    return json_string_value(url);
}

static int parse_item(parse_ctx *c, const json_t *it, int i)
{
    char base[40];
    snprintf(base, sizeof base, "metadata.content[%d]", i);
    if (!json_is_object(it)) return vg_err_invalid(c->err, base, "%s must be an object", base);
    int k = item_type(c, it, base);
    if (k < 0) return -1;
    if (g_item_types[k].default_role == -2) return 0; /* text */
    if (c->out->n_media == VG_MAX_MEDIA_ITEMS)
        return vg_err_invalid(c->err, "metadata.content",
                              "metadata.content may hold at most %d media items",
                              VG_MAX_MEDIA_ITEMS);
    vg_media_type t = g_item_types[k].type;
    const char *url = item_url(c, it, k, base);
    if (!url) return -1;
    int role = item_role(c, it, k, base);
    if (role == -2) return -1;
    char param[80];
    snprintf(param, sizeof param, "%s.%s.url", base, g_item_types[k].name);
    return add_media(c, t, role >= 0 ? role : g_item_types[k].default_role, url, i, param);
}

/* Images without a role: the first frame when that is the only sensible reading (see top). */
static void apply_default_roles(parse_ctx *c)
{
    vg_task_spec *o = c->out;
    int unroled = 0;
    bool refs = false, first = false;
    for (int i = 0; i < o->n_media; i++) {
        int r = c->pending_role[i];
        unroled += r < 0;
        refs |= o->media[i].type != VG_MEDIA_IMAGE || r == VG_ROLE_REFERENCE_IMAGE;
        first |= r == VG_ROLE_FIRST_FRAME;
    }
    vg_media_role def =
        unroled == 1 && !refs && !first ? VG_ROLE_FIRST_FRAME : VG_ROLE_REFERENCE_IMAGE;
    for (int i = 0; i < o->n_media; i++)
        if (c->pending_role[i] < 0) o->media[i].role = def;
}

static int role_error(parse_ctx *c, int m, const char *msg)
{
    char param[48];
    snprintf(param, sizeof param, "metadata.content[%d].role", c->item_of_media[m]);
    return vg_err_invalid(c->err, param, "%s: %s", param, msg);
}

/* The combination rules of spec §3 and the upstream's per-type caps. */
static int check_combination(parse_ctx *c)
{
    static const int caps[] = {[VG_MEDIA_IMAGE] = VG_MAX_IMAGES,
                               [VG_MEDIA_VIDEO] = VG_MAX_VIDEOS,
                               [VG_MEDIA_AUDIO] = VG_MAX_AUDIOS};
    static const char *const nouns[] = {"images", "videos", "audios"};
    const vg_task_spec *o = c->out;
    int count[3] = {0}, frames[2] = {0}, refs = 0, last = -1;
    for (int i = 0; i < o->n_media; i++) {
        vg_media_role r = o->media[i].role;
        bool frame = r == VG_ROLE_FIRST_FRAME || r == VG_ROLE_LAST_FRAME;
        if (++count[o->media[i].type] > caps[o->media[i].type])
            return vg_err_invalid(c->err, "metadata.content",
                                  "metadata.content may hold at most %d %s", caps[o->media[i].type],
                                  nouns[o->media[i].type]);
        if (frame && ++frames[r] > 1)
            return role_error(c, i,
                              r == VG_ROLE_FIRST_FRAME ? "only one first_frame is allowed"
                                                       : "only one last_frame is allowed");
        if ((frame && refs) || (!frame && (frames[0] || frames[1])))
            return role_error(c, i, "first/last frames cannot be mixed with reference media");
        refs += !frame;
        if (r == VG_ROLE_LAST_FRAME) last = i;
    }
    if (last >= 0 && !frames[VG_ROLE_FIRST_FRAME])
        return role_error(c, last, "a last_frame needs a first_frame");
    if (count[VG_MEDIA_AUDIO] && !count[VG_MEDIA_IMAGE] && !count[VG_MEDIA_VIDEO])
        return vg_err_invalid(c->err, "metadata.content",
                              "reference audio needs at least one reference image or video");
    return 0;
}

static int parse_content(parse_ctx *c, const json_t *content)
{
    size_t i;
    const json_t *it;
    json_array_foreach(content, i, it)
    {
        if (parse_item(c, it, (int)i) < 0) return -1;
    }
    apply_default_roles(c);
    return check_combination(c);
}

static int parse_media(parse_ctx *c)
{
    const json_t *images = field(c->body, "images"), *ref = field(c->body, "input_reference");
    const json_t *content = field(c->meta, "content");
    if (images && !json_is_array(images))
        return vg_err_invalid(c->err, "images", "images must be an array of image URLs");
    if (content && !json_is_array(content))
        return vg_err_invalid(c->err, "metadata.content", "metadata.content must be an array");
    if (ref && !json_is_string(ref) && !json_is_object(ref))
        return vg_err_invalid(c->err, "input_reference",
                              "input_reference must be an image URL or {\"image_url\": URL}");
    if (ref && (content || json_array_size(images) > 0))
        return vg_err_invalid(c->err, "input_reference",
                              "input_reference cannot be combined with images or metadata.content");
    if (content) return parse_content(c, content); /* replaces images (spec §3) */
    if (images && parse_images(c, images) < 0) return -1;
    return ref ? parse_input_reference(c, ref) : 0;
}

/* ---- metadata scalars ------------------------------------------------------------------- */

static int parse_seed(parse_ctx *c)
{
    const json_t *v = field(c->meta, "seed");
    c->out->seed = -1;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > 4294967295LL)
        return vg_err_invalid(c->err, "metadata.seed",
                              "metadata.seed must be an integer from -1 to 4294967295");
    c->out->seed = json_integer_value(v);
    return 0;
}

static int parse_flags(parse_ctx *c)
{
    static const struct {
        const char *key, *param;
        size_t offset;
        bool def;
    } flags[] = {
        {"generate_audio", "metadata.generate_audio", offsetof(vg_task_spec, generate_audio), true},
        {"return_last_frame", "metadata.return_last_frame",
         offsetof(vg_task_spec, return_last_frame), false},
        {"watermark", "metadata.watermark", offsetof(vg_task_spec, watermark), false},
        {"camera_fixed", "metadata.camera_fixed", offsetof(vg_task_spec, camera_fixed), false},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        bool *dst = (bool *)((char *)c->out + flags[i].offset);
        const json_t *v = field(c->meta, flags[i].key);
        if (v && !json_is_boolean(v))
            return vg_err_invalid(c->err, flags[i].param, "%s must be true or false",
                                  flags[i].param);
        *dst = v ? json_is_true(v) : flags[i].def;
    }
    return 0;
}

static int parse_callback(parse_ctx *c)
{
    const json_t *v = field(c->body, "callback_url");
    if (!v) return 0;
    if (!json_is_string(v))
        return vg_err_invalid(c->err, "callback_url", "callback_url must be a string");
    const char *url = json_string_value(v);
    if (check_web_url(c, url, URL_WEB, "callback_url", "invalid_parameter") < 0) return -1;
    c->out->callback_url = vg_strdup(url);
    return 0;
}

/* ---- entry point ------------------------------------------------------------------------ */

static int (*const g_steps[])(parse_ctx *) = {
    parse_model, parse_prompt, parse_seconds, parse_metadata_type, parse_resolution,
    parse_ratio, parse_media,  parse_seed,    parse_flags,         parse_callback,
};

int vg_spec_parse(const json_t *body, const vg_spec_opts *opts, vg_task_spec *out, vg_err *err)
{
    static const vg_url_policy default_urls;
    parse_ctx c = {.body = body, .urls = &default_urls, .out = out, .err = err};
    if (opts) {
        c.urls = &opts->urls;
        c.default_model = opts->default_model;
        c.upload_prefix = opts->upload_prefix;
    }
    memset(out, 0, sizeof *out);
    out->seed = -1;
    if (!json_is_object(body)) {
        vg_err_set(err, 400, "invalid_json", "", "the request body must be a JSON object");
        return VG_INVALID;
    }
    for (size_t i = 0; i < sizeof g_steps / sizeof g_steps[0]; i++) {
        if (g_steps[i](&c) == 0) continue;
        /* Free what was built so far; the caller's vg_task_spec_free() is then a no-op. */
        vg_task_spec_free(out);
        return err && err->http_status == 404 ? VG_NOTFOUND : VG_INVALID;
    }
    return VG_OK;
}
