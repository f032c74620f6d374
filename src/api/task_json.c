/* task_json.c - see task_json.h. */
#include "api/task_json.h"

#include "common/alloc.h"

#include "core/money.h"
#include "core/presign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static void add_url(json_t *obj, const char *field, const vg_api_env *env, const vg_task *t,
                    const char *variant)
{
    char url[1024];
    vg_presign_url(env->secret, env->public_url, "files", t->id, variant, t->expires_at, url,
                   sizeof url);
    json_object_set_new(obj, field, json_string(url));
}

/* output/result_url/usage of a completed task whose files are still kept. */
static void add_results(json_t *j, const vg_api_env *env, const vg_task *t)
{
    if (t->status != VG_TASK_COMPLETED) return;
    json_object_set_new(j, "usage",
                        json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                  "total_tokens", (json_int_t)t->tokens));
    if (t->content_deleted) return;
    json_t *out = json_object();
    add_url(out, "video_url", env, t, "video");
    add_url(out, "thumbnail_url", env, t, "thumbnail");
    if (t->has_last_frame) add_url(out, "last_frame_url", env, t, "last_frame");
    json_object_set(j, "result_url", json_object_get(out, "video_url"));
    json_object_set_new(j, "output", out);
}

json_t *vg_task_json(const vg_api_env *env, const vg_task *t)
{
    char seconds[16], size[32], cost[VG_MONEY_STR_MAX];
    snprintf(seconds, sizeof seconds, "%d", t->seconds);
    snprintf(size, sizeof size, "%dx%d", t->width, t->height);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:s, s:s, s:s}", "id",
                          t->id, "task_id", t->id, "object", "video", "model", t->model, "status",
                          vg_task_status_public(t->status), "progress", t->progress, "created_at",
                          (json_int_t)t->created_at, "updated_at", (json_int_t)t->updated_at,
                          "completed_at", time_or_null(t->completed_at), "expires_at",
                          time_or_null(t->expires_at), "seconds", seconds, "resolution",
                          vg_resolution_name(t->resolution), "ratio", vg_ratio_name(t->ratio));
    json_object_set_new(j, "size", t->width ? json_string(size) : json_null());
    json_object_set_new(j, "seed", json_integer(t->seed));
    /* Test-mode keys' tasks run on the local engine and are never charged: say so. */
    json_object_set_new(j, "mode", json_string(t->test_mode ? "test" : "live"));
    add_results(j, env, t);
    if (t->cost_micro >= 0) vg_money_format(t->cost_micro, cost);
    json_object_set_new(j, "cost", t->cost_micro >= 0 ? json_string(cost) : json_null());
    json_object_set_new(j, "error",
                        t->error_code[0] ? json_pack("{s:s, s:s}", "code", t->error_code, "message",
                                                     t->error_message)
                                         : json_null());
    return j;
}

/* ---- the native object written directly ---------------------------------------------------
 *
 * A status poll is the hottest request, and building the object above in jansson and dumping it
 * cost about as much as the rest of the request together (allocations, a hash table, a second
 * pass to print). This writer prints the same bytes in one pass: the fields in the order
 * vg_task_json() inserts them, strings escaped as json_dumps() escapes them without
 * JSON_ENSURE_ASCII ('"', '\\', the short escapes \b \f \n \r \t, other bytes below 0x20 as
 * \u00XX upper-case, everything else verbatim), integers as "%lld". jansson refuses strings that
 * are not valid UTF-8; so does this writer, and the caller then takes the jansson path, which
 * decides what such a task looks like. tests/unit/test_openai.c compares both on many tasks. */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed; /* out of room, or a string jansson would refuse */
} jw;

static void jw_raw(jw *w, const char *s, size_t n)
{
    if (n > w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

#define JW_LIT(w, lit) jw_raw((w), lit, sizeof lit - 1)

static void jw_int(jw *w, long long v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *b = e;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        *--b = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--b = '-';
    jw_raw(w, b, (size_t)(e - b));
}

/* Length of the valid UTF-8 sequence at s (strict: no overlong forms, no surrogates, nothing past
 * U+10FFFF), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (!n) return 0;
    uint32_t cp = c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Short escapes of the bytes below 0x20 that have one (jansson's choice). */
static const char short_escape[0x20] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};

static void jw_str(jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    JW_LIT(w, "\"");
    while (*s && !w->failed) {
        const unsigned char *run = s;
        while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
            s++;
        jw_raw(w, (const char *)run, (size_t)(s - run));
        if (!*s) break;
        if (*s >= 0x80) {
            size_t n = utf8_seq(s);
            if (!n) {
                w->failed = true;
                return;
            }
            jw_raw(w, (const char *)s, n);
            s += n;
        } else if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s++};
            jw_raw(w, esc, 2);
        } else if (short_escape[*s]) {
            char esc[2] = {'\\', short_escape[*s++]};
            jw_raw(w, esc, 2);
        } else {
            static const char hex[] = "0123456789ABCDEF";
            char esc[6] = {'\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 15]};
            jw_raw(w, esc, 6);
            s++;
        }
    }
    JW_LIT(w, "\"");
}

static void jw_time_or_null(jw *w, int64_t t)
{
    if (t)
        jw_int(w, t);
    else
        JW_LIT(w, "null");
}

static void jw_url(jw *w, const vg_api_env *env, const vg_task *t, const char *variant)
{
    char url[1024];
    vg_presign_url(env->secret, env->public_url, "files", t->id, variant, t->expires_at, url,
                   sizeof url);
    jw_str(w, url);
}

/* usage, result_url and output, as add_results() adds them. */
static void jw_results(jw *w, const vg_api_env *env, const vg_task *t)
{
    if (t->status != VG_TASK_COMPLETED) return;
    JW_LIT(w, ",\"usage\":{\"completion_tokens\":");
    jw_int(w, t->tokens);
    JW_LIT(w, ",\"total_tokens\":");
    jw_int(w, t->tokens);
    JW_LIT(w, "}");
    if (t->content_deleted) return;
    /* result_url is the same string as output.video_url: written once, copied. */
    JW_LIT(w, ",\"result_url\":");
    size_t at = w->len;
    jw_url(w, env, t, "video");
    size_t n = w->len - at;
    JW_LIT(w, ",\"output\":{\"video_url\":");
    if (!w->failed) jw_raw(w, w->p + at, n);
    JW_LIT(w, ",\"thumbnail_url\":");
    jw_url(w, env, t, "thumbnail");
    if (t->has_last_frame) {
        JW_LIT(w, ",\"last_frame_url\":");
        jw_url(w, env, t, "last_frame");
    }
    JW_LIT(w, "}");
}

/* The fields the task object and a submit's short reply begin with, from "{" to created_at. */
static void jw_head(jw *w, const vg_task *t)
{
    JW_LIT(w, "{\"id\":");
    jw_str(w, t->id);
    JW_LIT(w, ",\"task_id\":");
    jw_str(w, t->id);
    JW_LIT(w, ",\"object\":\"video\",\"model\":");
    jw_str(w, t->model);
    JW_LIT(w, ",\"status\":");
    jw_str(w, vg_task_status_public(t->status));
    JW_LIT(w, ",\"progress\":");
    jw_int(w, t->progress);
    JW_LIT(w, ",\"created_at\":");
    jw_int(w, t->created_at);
}

vg_status vg_task_json_write(const vg_api_env *env, const vg_task *t, char *buf, size_t cap,
                             size_t *len)
{
    jw w = {.p = buf, .cap = cap};
    jw_head(&w, t);
    JW_LIT(&w, ",\"updated_at\":");
    jw_int(&w, t->updated_at);
    JW_LIT(&w, ",\"completed_at\":");
    jw_time_or_null(&w, t->completed_at);
    JW_LIT(&w, ",\"expires_at\":");
    jw_time_or_null(&w, t->expires_at);
    JW_LIT(&w, ",\"seconds\":\"");
    jw_int(&w, t->seconds);
    JW_LIT(&w, "\",\"resolution\":");
    jw_str(&w, vg_resolution_name(t->resolution));
    JW_LIT(&w, ",\"ratio\":");
    jw_str(&w, vg_ratio_name(t->ratio));
    JW_LIT(&w, ",\"size\":");
    if (t->width) {
        JW_LIT(&w, "\"");
        jw_int(&w, t->width);
        JW_LIT(&w, "x");
        jw_int(&w, t->height);
        JW_LIT(&w, "\"");
    } else {
        JW_LIT(&w, "null");
    }
    JW_LIT(&w, ",\"seed\":");
    jw_int(&w, t->seed);
    if (t->test_mode)
        JW_LIT(&w, ",\"mode\":\"test\"");
    else
        JW_LIT(&w, ",\"mode\":\"live\"");
    jw_results(&w, env, t);
    JW_LIT(&w, ",\"cost\":");
    if (t->cost_micro >= 0) {
        /* vg_money_format()'s "%llu.%06llu" of a non-negative amount, without printf. */
        JW_LIT(&w, "\"");
        jw_int(&w, t->cost_micro / 1000000);
        char frac[7] = {'.'};
        for (int i = 6, f = (int)(t->cost_micro % 1000000); i >= 1; i--, f /= 10)
            frac[i] = (char)('0' + f % 10);
        jw_raw(&w, frac, 7);
        JW_LIT(&w, "\"");
    } else {
        JW_LIT(&w, "null");
    }
    JW_LIT(&w, ",\"error\":");
    if (t->error_code[0]) {
        JW_LIT(&w, "{\"code\":");
        jw_str(&w, t->error_code);
        JW_LIT(&w, ",\"message\":");
        jw_str(&w, t->error_message);
        JW_LIT(&w, "}");
    } else {
        JW_LIT(&w, "null");
    }
    JW_LIT(&w, "}");
    if (w.failed) return VG_ERR;
    *len = w.len;
    return VG_OK;
}

char *vg_task_json_submitted_text(const vg_task *t)
{
    char buf[1024];
    jw w = {.p = buf, .cap = sizeof buf};
    jw_head(&w, t);
    JW_LIT(&w, "}");
    if (w.failed) {
        json_t *j = vg_task_json_submitted(t);
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        return text;
    }
    char *text = vg_malloc(w.len + 1);
    memcpy(text, buf, w.len);
    text[w.len] = '\0';
    return text;
}

json_t *vg_task_json_submitted(const vg_task *t)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "id", t->id, "task_id", t->id, "object",
                     "video", "model", t->model, "status", vg_task_status_public(t->status),
                     "progress", t->progress, "created_at", (json_int_t)t->created_at);
}

/* ---- OpenAI video object and the envelope form ------------------------------------------- */

static const struct {
    const char *openai;
    const char *envelope;
} g_status_names[VG_TASK_STATUS_COUNT] = {
    [VG_TASK_QUEUED] = {"queued", "QUEUED"},
    [VG_TASK_DISPATCHING] = {"queued", "QUEUED"},
    [VG_TASK_RUNNING] = {"in_progress", "IN_PROGRESS"},
    [VG_TASK_FINALIZING] = {"in_progress", "IN_PROGRESS"},
    [VG_TASK_COMPLETED] = {"completed", "SUCCESS"},
    /* OpenAI and the envelope have no "cancelled": the error object tells the two apart. */
    [VG_TASK_FAILED] = {"failed", "FAILURE"},
    [VG_TASK_CANCELLED] = {"failed", "FAILURE"},
};

const char *vg_openai_status(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status_names[s].openai : "failed";
}

const char *vg_envelope_status(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status_names[s].envelope : "FAILURE";
}

/* The prompt lives only in the stored spec; a missing or unreadable spec gives "". */
static json_t *prompt_of(const vg_task *t)
{
    json_t *spec = t->params ? json_loads(t->params, 0, NULL) : NULL;
    json_t *p = json_object_get(spec, "prompt");
    json_t *out = json_is_string(p) ? json_incref(p) : json_string("");
    json_decref(spec);
    return out;
}

static json_t *openai_error(const vg_task *t)
{
    if (t->status == VG_TASK_CANCELLED)
        return json_pack("{s:s, s:s}", "code", "cancelled", "message",
                         t->error_message[0] ? t->error_message : "the task was cancelled");
    if (t->status == VG_TASK_FAILED || t->error_code[0])
        return json_pack("{s:s, s:s}", "code", t->error_code[0] ? t->error_code : "failed",
                         "message", t->error_message);
    return json_null();
}

json_t *vg_task_json_openai(const vg_api_env *env, const vg_task *t)
{
    char seconds[16], size[32];
    snprintf(seconds, sizeof seconds, "%d", t->seconds);
    snprintf(size, sizeof size, "%dx%d", t->width, t->height);
    json_t *meta = json_object();
    if (t->status == VG_TASK_COMPLETED && !t->content_deleted)
        add_url(meta, "url", env, t, "video");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:s, s:o, s:n, s:o, s:o}",
                          "id", t->id, "object", "video", "model", t->model, "status",
                          vg_openai_status(t->status), "progress", t->progress, "created_at",
                          (json_int_t)t->created_at, "completed_at", time_or_null(t->completed_at),
                          "expires_at", time_or_null(t->expires_at), "prompt", prompt_of(t),
                          "seconds", seconds, "size", t->width ? json_string(size) : json_null(),
                          "remixed_from_video_id", "error", openai_error(t), "metadata", meta);
    if (t->status == VG_TASK_COMPLETED)
        json_object_set_new(j, "usage",
                            json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                      "total_tokens", (json_int_t)t->tokens));
    return j;
}

json_t *vg_task_json_openai_deleted(const vg_task *t)
{
    return json_pack("{s:s, s:s, s:b}", "id", t->id, "object", "video.deleted", "deleted", 1);
}

/* Why a task ended badly, for clients of the envelope format; "" while it has not. */
static const char *fail_reason(const vg_task *t)
{
    if (t->status != VG_TASK_FAILED && t->status != VG_TASK_CANCELLED) return "";
    return t->error_message[0] ? t->error_message : vg_task_status_public(t->status);
}

json_t *vg_task_json_envelope(const vg_api_env *env, const vg_task *t)
{
    char progress[8];
    snprintf(progress, sizeof progress, "%d%%", t->progress);
    json_t *data = vg_task_json(env, t);
    json_object_set_new(data, "status", json_string(vg_envelope_status(t->status)));
    json_object_set_new(data, "progress", json_string(progress));
    /* Clients of this format read result_url unconditionally: null until there is one. */
    if (!json_object_get(data, "result_url")) json_object_set_new(data, "result_url", json_null());
    json_object_set_new(data, "fail_reason", json_string(fail_reason(t)));
    return json_pack("{s:s, s:s, s:o}", "code", "success", "message", "", "data", data);
}
