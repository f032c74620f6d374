/*
 * ark_check.c - see ark_check.h. Top-level parameters are one table (name, kind, range); content
 * items are checked one by one, then the role rules over the whole list.
 */
#include "providers/ark_check.h"

#include "core/dataurl.h"
#include "engine/engine.h"
#include "providers/ark.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_BYTES (30u << 20)
#define MAX_FILES       12

static const struct {
    int status;
    const char *type;
} g_err_types[] = {
    {400, "BadRequest"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "NotFound"},
    {409, "Conflict"},
    {429, "TooManyRequests"},
    {500, "InternalServiceError"},
    {502, "BadGateway"},
    {503, "ServiceUnavailable"},
};

const char *vg_ark_err_type(int status)
{
    for (size_t i = 0; i < sizeof g_err_types / sizeof g_err_types[0]; i++)
        if (g_err_types[i].status == status) return g_err_types[i].type;
    return status >= 500 ? "InternalServiceError" : "BadRequest";
}

json_t *vg_ark_err_json(const vg_ark_err *e)
{
    return json_pack("{s:{s:s, s:s, s:s, s:s}}", "error", "code", e->code, "message", e->message,
                     "param", e->param, "type", vg_ark_err_type(e->status));
}

int vg_ark_err_set(vg_ark_err *e, int status, const char *code, const char *param, const char *fmt,
                   ...)
{
    if (e->status) return -1;
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

#define BAD(e, param, ...) vg_ark_err_set((e), 400, "InvalidParameter", (param), __VA_ARGS__)

/* ---- top-level parameters ---------------------------------------------------------------- */

typedef enum { K_STRING, K_ARRAY, K_INT, K_BOOL } kind;

static const char *const g_resolutions[] = {"480p", "720p", "1080p", NULL};
static const char *const g_ratios[] = {"16:9", "4:3",  "1:1",      "3:4",
                                       "9:16", "21:9", "adaptive", NULL};

typedef struct {
    const char *name;
    kind k;
    bool required;
    long long lo, hi;          /* K_INT range; K_STRING length range */
    const char *const *one_of; /* K_STRING allowed values */
} param_rule;

static const param_rule g_params[] = {
    {"model", K_STRING, true, 1, 256, NULL},
    {"content", K_ARRAY, true, 1, MAX_FILES + 1, NULL},
    {"resolution", K_STRING, false, 0, 0, g_resolutions},
    {"ratio", K_STRING, false, 0, 0, g_ratios},
    {"duration", K_INT, false, 4, 15, NULL}, /* or -1, checked below */
    {"seed", K_INT, false, -1, 4294967295LL, NULL},
    {"generate_audio", K_BOOL, false, 0, 0, NULL},
    {"return_last_frame", K_BOOL, false, 0, 0, NULL},
    {"watermark", K_BOOL, false, 0, 0, NULL},
    {"camera_fixed", K_BOOL, false, 0, 0, NULL},
    {"callback_url", K_STRING, false, 8, 2048, NULL},
    {"execution_expires_after", K_INT, false, VG_ARK_EXPIRES_MIN_S, VG_ARK_EXPIRES_MAX_S, NULL},
    {"safety_identifier", K_STRING, false, 1, 64, NULL},
};
#define N_PARAMS (sizeof g_params / sizeof g_params[0])

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

static int check_param(const param_rule *r, const json_t *v, vg_ark_err *e)
{
    static const char *const kind_name[] = {"a string", "an array", "an integer", "a boolean"};
    bool type_ok = (r->k == K_STRING && json_is_string(v)) ||
                   (r->k == K_ARRAY && json_is_array(v)) || (r->k == K_INT && json_is_integer(v)) ||
                   (r->k == K_BOOL && json_is_boolean(v));
    if (!type_ok) return BAD(e, r->name, "%s must be %s", r->name, kind_name[r->k]);
    if (r->k == K_INT) {
        long long n = json_integer_value(v);
        bool model_decides = !strcmp(r->name, "duration") && n == -1;
        if (!model_decides && (n < r->lo || n > r->hi))
            return BAD(e, r->name, "%s must be from %lld to %lld", r->name, r->lo, r->hi);
    }
    if (r->k == K_STRING && r->one_of && !in_list(r->one_of, json_string_value(v)))
        return BAD(e, r->name, "%s has an unsupported value", r->name);
    if (r->k == K_STRING && !r->one_of &&
        (json_string_length(v) < (size_t)r->lo || json_string_length(v) > (size_t)r->hi))
        return BAD(e, r->name, "%s must be %lld to %lld bytes", r->name, r->lo, r->hi);
    if ((r->k == K_ARRAY) &&
        (json_array_size(v) < (size_t)r->lo || json_array_size(v) > (size_t)r->hi))
        return BAD(e, r->name, "%s must hold 1 to %d items", r->name, MAX_FILES + 1);
    return 0;
}

static int check_params(const json_t *body, vg_ark_err *e)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        size_t i;
        for (i = 0; i < N_PARAMS && strcmp(g_params[i].name, k); i++)
            ;
        if (i == N_PARAMS) return BAD(e, k, "unknown parameter %s", k);
        if (check_param(&g_params[i], v, e)) return -1;
    }
    for (size_t i = 0; i < N_PARAMS; i++)
        if (g_params[i].required && !json_object_get(body, g_params[i].name))
            return vg_ark_err_set(e, 400, "MissingParameter", g_params[i].name,
                                  "the parameter %s is required", g_params[i].name);
    return 0;
}

/* ---- content items ----------------------------------------------------------------------- */

typedef enum { M_TEXT, M_IMAGE, M_VIDEO, M_AUDIO, M_COUNT } media;

static const struct {
    const char *type;
    const char *const roles[4]; /* allowed roles; the first is the default when omitted */
    bool data_ok;               /* data: URLs allowed */
} g_media[M_COUNT] = {
    [M_TEXT] = {"text", {NULL}, false},
    [M_IMAGE] = {"image_url", {"first_frame", "last_frame", "reference_image", NULL}, true},
    [M_VIDEO] = {"video_url", {"reference_video", NULL}, false},
    [M_AUDIO] = {"audio_url", {"reference_audio", NULL}, true},
};

static const char *const g_image_mimes[] = {"image/jpeg", "image/jpg",  "image/png", "image/webp",
                                            "image/bmp",  "image/tiff", "image/gif", NULL};

typedef struct {
    int count[M_COUNT];
    int first, last, refimg, unroled_images;
    const char *prompt;
} tally;

static int check_data_image(const char *url, const char *param, vg_ark_create *out, bool first,
                            vg_ark_err *e)
{
    char mime[64];
    unsigned char *bytes = NULL;
    size_t len = 0;
    int w = 0, h = 0, rc = -1;
    if (vg_dataurl_decode(url, mime, &bytes, &len))
        BAD(e, param, "%s is not a valid base64 data URL", param);
    else if (!in_list(g_image_mimes, mime))
        BAD(e, param, "%s: image format %s is not supported", param, mime);
    else if (len >= MAX_IMAGE_BYTES)
        BAD(e, param, "%s: the image must be smaller than 30 MB", param);
    else if (vg_image_probe(bytes, len, &w, &h, NULL, 0))
        BAD(e, param, "%s: the image cannot be decoded", param);
    else if (w < 300 || h < 300 || w > 6000 || h > 6000)
        BAD(e, param, "%s: image sides must be 300 to 6000 px (got %dx%d)", param, w, h);
    else if (w * 10 < h * 4 || w * 10 > h * 25)
        BAD(e, param, "%s: the aspect ratio must be 0.4 to 2.5", param);
    else
        rc = 0;
    if (rc == 0 && first) out->first_w = w, out->first_h = h;
    free(bytes);
    return rc;
}

static int check_url(media m, const char *url, const char *param, const char *role,
                     vg_ark_create *out, vg_ark_err *e)
{
    if (!strncmp(url, "https://", 8) && strlen(url) > 8) return 0;
    if (!strncmp(url, "asset://", 8) && strlen(url) > 8) return 0;
    if (!strncmp(url, "data:", 5) && g_media[m].data_ok) {
        if (m == M_AUDIO)
            return strncmp(url, "data:audio/", 11) ? BAD(e, param, "%s: not audio", param) : 0;
        return check_data_image(url, param, out, role && !strcmp(role, "first_frame"), e);
    }
    return BAD(e, param, "%s must be an https://%s or asset:// URL", param,
               g_media[m].data_ok ? ", data:" : "");
}

static int check_item_keys(const json_t *it, media m, const char *param, vg_ark_err *e)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)it, k, v)
    {
        bool ok = !strcmp(k, "type") || (m == M_TEXT && !strcmp(k, "text")) ||
                  (m != M_TEXT && (!strcmp(k, "role") || !strcmp(k, g_media[m].type)));
        if (!ok) return BAD(e, param, "%s: unknown field %s", param, k);
    }
    return 0;
}

static int check_item(const json_t *it, size_t i, tally *t, vg_ark_create *out, vg_ark_err *e)
{
    char param[32];
    snprintf(param, sizeof param, "content[%zu]", i % 100000);
    const char *type = json_string_value(json_object_get(it, "type"));
    if (!json_is_object(it) || !type)
        return BAD(e, param, "%s must be an object with a type", param);
    int m;
    for (m = 0; m < M_COUNT && strcmp(g_media[m].type, type); m++)
        ;
    if (m == M_COUNT) return BAD(e, param, "%s: unknown type %s", param, type);
    if (check_item_keys(it, (media)m, param, e)) return -1;
    t->count[m]++;
    if (m == M_TEXT) {
        const char *text = json_string_value(json_object_get(it, "text"));
        if (!text) return BAD(e, param, "%s.text must be a string", param);
        if (t->count[M_TEXT] > 1) return BAD(e, param, "only one text item is allowed");
        t->prompt = text;
        return 0;
    }
    const char *url = json_string_value(json_object_get(json_object_get(it, type), "url"));
    char uparam[64];
    snprintf(uparam, sizeof uparam, "%s.%s.url", param, g_media[m].type);
    if (!url) return vg_ark_err_set(e, 400, "MissingParameter", uparam, "%s is required", uparam);
    const json_t *rj = json_object_get(it, "role");
    const char *role = json_string_value(rj);
    if (rj && (!role || !in_list(g_media[m].roles, role)))
        return BAD(e, param, "%s.role is not valid for %s", param, type);
    if (m == M_IMAGE && !role) t->unroled_images++;
    if (m == M_IMAGE && role) {
        t->first += !strcmp(role, "first_frame");
        t->last += !strcmp(role, "last_frame");
        t->refimg += !strcmp(role, "reference_image");
    }
    if (m == M_VIDEO) out->has_ref_video = true;
    return check_url((media)m, url, uparam, role, out, e);
}

static int check_roles(const tally *t, vg_ark_create *out, vg_ark_err *e)
{
    int images = t->count[M_IMAGE], files = images + t->count[M_VIDEO] + t->count[M_AUDIO];
    if (images > 9) return BAD(e, "content", "at most 9 images");
    if (t->count[M_VIDEO] > 3) return BAD(e, "content", "at most 3 videos");
    if (t->count[M_AUDIO] > 3) return BAD(e, "content", "at most 3 audios");
    if (files > MAX_FILES) return BAD(e, "content", "at most %d files", MAX_FILES);
    if (t->count[M_AUDIO] && !images && !t->count[M_VIDEO])
        return BAD(e, "content", "audio cannot be the only reference");
    if (t->unroled_images && images > 1)
        return BAD(e, "content", "every image needs a role when there are several");
    int first = t->first + (t->unroled_images == 1 && images == 1);
    bool frames = first || t->last, refs = t->refimg || t->count[M_VIDEO] || t->count[M_AUDIO];
    if (frames && refs)
        return BAD(e, "content", "first/last frames cannot be mixed with reference media");
    if (first > 1 || t->last > 1) return BAD(e, "content", "one first and one last frame at most");
    if (t->last && !first) return BAD(e, "content", "a last frame needs a first frame");
    if (!t->prompt && !files)
        return vg_ark_err_set(e, 400, "MissingParameter", "content", "no text and no media");
    out->has_first_frame = first == 1;
    return 0;
}

static bool model_known(const vg_ark_check_opts *o, const char *model)
{
    if (!strncmp(model, "ep-", 3)) return true;
    for (int i = 0; i < o->n_models; i++)
        if (!strcmp(o->models[i], model)) return true;
    return false;
}

static const char *str_or(const json_t *body, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(body, key));
    return v ? v : dflt;
}

static bool bool_or(const json_t *body, const char *key, bool dflt)
{
    const json_t *v = json_object_get(body, key);
    return v ? json_is_true(v) : dflt;
}

int vg_ark_check_create(const json_t *body, const vg_ark_check_opts *o, vg_ark_create *out,
                        vg_ark_err *e)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body)) return BAD(e, "", "the body must be a JSON object");
    if (check_params(body, e)) return -1;
    out->model = json_string_value(json_object_get(body, "model"));
    if (!model_known(o, out->model))
        return vg_ark_err_set(e, 404, "InvalidEndpointOrModel.NotFound", "model",
                              "the model or endpoint %s does not exist or you do not have access",
                              out->model);
    tally t;
    memset(&t, 0, sizeof t);
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(body, "content"), i,
                       it) if (check_item(it, i, &t, out, e)) return -1;
    if (check_roles(&t, out, e)) return -1;
    out->prompt = t.prompt ? t.prompt : "";
    out->resolution = str_or(body, "resolution", "720p");
    out->ratio = str_or(body, "ratio", "adaptive");
    bool small = strstr(out->model, "-fast") || strstr(out->model, "-mini");
    if (small && !strcmp(out->resolution, "1080p"))
        return BAD(e, "resolution", "%s does not support 1080p", out->model);
    const json_t *d = json_object_get(body, "duration"), *s = json_object_get(body, "seed");
    out->duration = d ? (int)json_integer_value(d) : 5;
    out->seed = s ? json_integer_value(s) : -1;
    out->generate_audio = bool_or(body, "generate_audio", true);
    out->return_last_frame = bool_or(body, "return_last_frame", false);
    out->watermark = bool_or(body, "watermark", false);
    out->camera_fixed = bool_or(body, "camera_fixed", false);
    out->callback_url = str_or(body, "callback_url", NULL);
    if (out->callback_url && strncmp(out->callback_url, "https://", 8) &&
        strncmp(out->callback_url, "http://", 7))
        return BAD(e, "callback_url", "callback_url must be an http(s) URL");
    const json_t *x = json_object_get(body, "execution_expires_after");
    out->expires_after_s = x ? json_integer_value(x) : 172800;
    out->safety_identifier = str_or(body, "safety_identifier", NULL);
    return 0;
}
