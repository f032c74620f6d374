/*
 * ark.c - the Ark protocol of ark.h: translation, reply parsing, classification, URLs. Pure; the
 * calls that use it are in ark_provider.c.
 */
#include "providers/ark.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "common/mime.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS_PATH "/contents/generations/tasks"

vg_up_status vg_ark_status_parse(const char *s)
{
    for (int i = 0; s && i < VG_UP_UNKNOWN; i++) /* Ark's names are ours */
        if (!strcmp(vg_up_status_name((vg_up_status)i), s)) return (vg_up_status)i;
    return VG_UP_UNKNOWN;
}

/* ---- translation ------------------------------------------------------------------------- */

static const struct {
    const char *type;  /* content item type */
    const char *field; /* the object holding the url */
} g_media_kind[] = {
    [VG_MEDIA_IMAGE] = {"image_url", "image_url"},
    [VG_MEDIA_VIDEO] = {"video_url", "video_url"},
    [VG_MEDIA_AUDIO] = {"audio_url", "audio_url"},
};

static const char *const g_role_name[] = {
    [VG_ROLE_FIRST_FRAME] = "first_frame",         [VG_ROLE_LAST_FRAME] = "last_frame",
    [VG_ROLE_REFERENCE_IMAGE] = "reference_image", [VG_ROLE_REFERENCE_VIDEO] = "reference_video",
    [VG_ROLE_REFERENCE_AUDIO] = "reference_audio",
};

static json_t *content_items(const vg_task_spec *s)
{
    json_t *items = json_array();
    json_array_append_new(
        items, json_pack("{s:s, s:s}", "type", "text", "text", s->prompt ? s->prompt : ""));
    for (int i = 0; i < s->n_media; i++) {
        const vg_media *m = &s->media[i];
        json_array_append_new(items,
                              json_pack("{s:s, s:{s:s}, s:s}", "type", g_media_kind[m->type].type,
                                        g_media_kind[m->type].field, "url", m->url, "role",
                                        g_role_name[m->role]));
    }
    return items;
}

json_t *vg_ark_create_body(const vg_task *t, const vg_task_spec *s, const vg_ark_create_opts *o)
{
    json_t *j =
        json_pack("{s:s, s:o, s:s, s:s, s:i, s:I, s:b, s:b, s:b, s:b}", "model", o->upstream_model,
                  "content", content_items(s), "resolution", vg_resolution_name(t->resolution),
                  "ratio", vg_ratio_name(t->ratio), "duration", t->seconds, "seed",
                  (json_int_t)t->seed, "generate_audio", s->generate_audio, "return_last_frame",
                  s->return_last_frame, "watermark", s->watermark, "camera_fixed", s->camera_fixed);
    if (o->callback_url) json_object_set_new(j, "callback_url", json_string(o->callback_url));
    if (o->expires_after_s > 0)
        json_object_set_new(j, "execution_expires_after", json_integer(o->expires_after_s));
    if (o->client_token) json_object_set_new(j, "safety_identifier", json_string(o->client_token));
    return j;
}

const char *vg_ark_sniff_mime(const unsigned char *data, size_t len)
{
    const char *mime = vg_mime_sniff(data, len);
    return mime ? mime : "application/octet-stream";
}

/* ---- replies ----------------------------------------------------------------------------- */

static void copy_str(const json_t *obj, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(obj, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

static char *dup_str(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? vg_strdup(v) : NULL;
}

/* error / failure_reason: an object {code, message}, or (seen in list items) a bare string. */
static void parse_error(const json_t *obj, vg_up_task *out)
{
    const json_t *e = json_object_get(obj, "error");
    if (!e || json_is_null(e)) e = json_object_get(obj, "failure_reason");
    if (json_is_object(e)) {
        copy_str(e, "code", out->error_code, sizeof out->error_code);
        copy_str(e, "message", out->error_message, sizeof out->error_message);
    } else if (json_is_string(e)) {
        snprintf(out->error_message, sizeof out->error_message, "%s", json_string_value(e));
    }
}

int vg_ark_task_parse(const json_t *obj, vg_up_task *out)
{
    memset(out, 0, sizeof *out);
    const char *id = json_string_value(json_object_get(obj, "id"));
    const char *status = json_string_value(json_object_get(obj, "status"));
    if (!json_is_object(obj) || !id || !*id || !status) return -1;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->status = vg_ark_status_parse(status);
    parse_error(obj, out);
    const json_t *content = json_object_get(obj, "content");
    out->video_url = dup_str(content, "video_url");
    out->last_frame_url = dup_str(content, "last_frame_url");
    out->tokens =
        json_integer_value(json_object_get(json_object_get(obj, "usage"), "completion_tokens"));
    out->created_at = json_integer_value(json_object_get(obj, "created_at"));
    out->updated_at = json_integer_value(json_object_get(obj, "updated_at"));
    out->seed = json_integer_value(json_object_get(obj, "seed"));
    out->duration = (int)json_integer_value(json_object_get(obj, "duration"));
    copy_str(obj, "resolution", out->resolution, sizeof out->resolution);
    copy_str(obj, "ratio", out->ratio, sizeof out->ratio);
    copy_str(obj, "safety_identifier", out->client_token, sizeof out->client_token);
    return 0;
}

/* First match wins; statuses outside every range are REFUSED when 4xx, AMBIGUOUS otherwise. */
static const struct {
    long lo, hi;
    vg_up_class cls;
} g_status_class[] = {
    {200, 299, VG_UP_OK},        {408, 408, VG_UP_TRANSIENT}, {429, 429, VG_UP_TRANSIENT},
    {503, 503, VG_UP_TRANSIENT}, {400, 499, VG_UP_REFUSED},   {500, 599, VG_UP_AMBIGUOUS},
};

/* Codes about the account, not the request: another channel (or later) may work. */
static const char *const g_channel_codes[] = {"AuthenticationError", "AccountOverdueError"};

void vg_ark_classify(const vg_http_resp *r, vg_up_error *err)
{
    memset(err, 0, sizeof *err);
    err->retry_after_s = -1;
    if (r->outcome != VG_HTTP_DONE) {
        err->cls = r->outcome == VG_HTTP_NOT_SENT ? VG_UP_TRANSIENT : VG_UP_AMBIGUOUS;
        snprintf(err->code, sizeof err->code, "%s",
                 r->outcome == VG_HTTP_NOT_SENT ? "upstream_unreachable" : "upstream_no_reply");
        snprintf(err->message, sizeof err->message, "%s", r->error);
        return;
    }
    err->http_status = r->status;
    err->retry_after_s = r->retry_after_s;
    err->cls = VG_UP_AMBIGUOUS;
    for (size_t i = 0; i < sizeof g_status_class / sizeof g_status_class[0]; i++)
        if (r->status >= g_status_class[i].lo && r->status <= g_status_class[i].hi) {
            err->cls = g_status_class[i].cls;
            break;
        }
    if (err->cls == VG_UP_OK) return;
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);
    const json_t *e = json_object_get(j, "error");
    copy_str(e, "code", err->code, sizeof err->code);
    copy_str(e, "message", err->message, sizeof err->message);
    json_decref(j);
    if (!err->code[0]) snprintf(err->code, sizeof err->code, "upstream_http_%ld", r->status);
    if (!err->message[0])
        snprintf(err->message, sizeof err->message, "the upstream answered HTTP %ld", r->status);
    for (size_t i = 0; i < sizeof g_channel_codes / sizeof g_channel_codes[0]; i++)
        if (!strcmp(err->code, g_channel_codes[i])) {
            err->cls = VG_UP_TRANSIENT;
            err->channel_fault = true;
        }
}

/* ---- URLs -------------------------------------------------------------------------------- */

int vg_ark_task_url(const char *base, const char *id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s" TASKS_PATH "%s", base, id ? "/" : "");
    if (n < 0 || (size_t)n >= cap) return -1;
    if (id) vg_http_query_escape(out, cap, id);
    return strlen(out) + 4 < cap ? 0 : -1;
}

int vg_ark_list_url(const char *base, const char *const *ids, size_t n, const char *model,
                    int page_num, int page_size, char *out, size_t cap)
{
    int len =
        snprintf(out, cap, "%s" TASKS_PATH "?page_num=%d&page_size=%d", base, page_num, page_size);
    if (len < 0 || (size_t)len >= cap) return -1;
    for (size_t i = 0; i < n; i++) {
        strncat(out, "&filter.task_ids=", cap - strlen(out) - 1);
        vg_http_query_escape(out, cap, ids[i]);
    }
    if (model) {
        strncat(out, "&filter.model=", cap - strlen(out) - 1);
        vg_http_query_escape(out, cap, model);
    }
    return strlen(out) + 4 < cap ? 0 : -1;
}
