/*
 * videos.c - the OpenAI-compatible Videos API (spec §4) over the same tasks as the native API:
 *   POST   /v1/videos              JSON or multipart/form-data → the `video` object
 *   GET    /v1/videos              cursor list
 * {"object":"list","data","first_id","last_id","has_more"} GET    /v1/videos/{id}         the
 * `video` object DELETE /v1/videos/{id}         finished: files deleted →
 * {"id","object":"video.deleted",…}; queued: cancelled → the `video` object (failed / "cancelled");
 *                                  running: 409 task_not_cancellable
 *   POST   /v1/videos/{id}/remix   400 unsupported (Seedance has no remix)
 * Content (GET /v1/videos/{id}/content) is served by content.c.
 *
 * A multipart form is turned into the JSON body the native route takes, then goes through the very
 * same vg_api_submit_task (idempotency, validation, pricing, hold, dispatch). The mapping:
 *   - "name", "name[key]…" and "name[]" build nested objects and arrays, as the official SDKs
 *     encode objects (metadata[seed]=7, input_reference[image_url]=…, images[]=…); "images" given
 *     several times collects into an array; "[]" is only allowed last (arrays of objects, such as
 *     metadata.content, go in a part holding JSON text);
 *   - a file part (it has a filename, or a non-text Content-Type) must be an image (its magic
 *     bytes show one, or they are unknown and its Content-Type is "image/…"); a file that is not
 *     an image is a 400 naming what it is. Its bytes are copied once, beside the body, which names
 *     them by a reference only this request holds (vg_api_uploads): the submit judges and stores
 *     them off the event loop as it does a data: URL's (same checks, same 400s naming the field),
 *     so a large upload is never base64-encoded or copied into JSON on the loop. An uploaded
 *     input_reference is a first frame;
 *   - text parts are strings, except the fields of g_typed (integers, booleans, JSON text), whose
 *     text is converted when it parses; when it does not, it stays a string and the validator names
 *     the field in its usual 400;
 *   - a field name given twice is a 400 (except lists); an object given both as a JSON part and
 *     as bracketed keys merges, and the bracketed keys win.
 */
#include "api/handlers.h"

#include "api/task_json.h"
#include "api/taskwait.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/mime.h"
#include "core/models.h"
#include "http/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME_SEGMENTS 4
#define MAX_SEGMENT_BYTES 63

/* ---- multipart form → JSON body ----------------------------------------------------------- */

typedef enum { AS_TEXT, AS_INT, AS_BOOL, AS_JSON, AS_LIST } field_kind;

/* Fields whose text is converted; everything else stays a string (the validator's types). */
static const struct {
    const char *path;
    field_kind kind;
} g_typed[] = {
    {"duration", AS_INT},
    {"images", AS_LIST},
    {"input_reference", AS_JSON},
    {"metadata", AS_JSON},
    {"metadata.content", AS_JSON},
    {"metadata.seed", AS_INT},
    {"metadata.generate_audio", AS_BOOL},
    {"metadata.return_last_frame", AS_BOOL},
    {"metadata.watermark", AS_BOOL},
    {"metadata.camera_fixed", AS_BOOL},
};

#define ACCEPTED_IMAGES "a JPEG, PNG, WebP, BMP, GIF or TIFF image"

typedef struct {
    char seg[MAX_NAME_SEGMENTS][MAX_SEGMENT_BYTES + 1];
    int n;
    bool append;                                              /* ended in "[]" */
    char dotted[MAX_NAME_SEGMENTS * (MAX_SEGMENT_BYTES + 1)]; /* "metadata.seed", for errors */
} field_path;

static int copy_segment(field_path *fp, const char *s, size_t len)
{
    if (len == 0 || len > MAX_SEGMENT_BYTES || fp->n == MAX_NAME_SEGMENTS || memchr(s, '\0', len))
        return -1;
    memcpy(fp->seg[fp->n], s, len);
    fp->seg[fp->n][len] = '\0';
    size_t used = strlen(fp->dotted);
    snprintf(fp->dotted + used, sizeof fp->dotted - used, "%s%s", fp->n ? "." : "", fp->seg[fp->n]);
    fp->n++;
    return 0;
}

/* "a", "a[b][c]" or "a[]" (only last) into segments. */
static int parse_name(vg_mp_str name, field_path *fp)
{
    const char *p = name.ptr, *end = name.ptr + name.len;
    const char *open = memchr(p, '[', name.len);
    memset(fp, 0, sizeof *fp);
    if (copy_segment(fp, p, (size_t)((open ? open : end) - p))) return -1;
    for (p = open; p && p < end;) {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (*p != '[' || !close || fp->append) return -1;
        if (close == p + 1)
            fp->append = true;
        else if (memchr(p + 1, '[', (size_t)(close - p - 1)) ||
                 copy_segment(fp, p + 1, (size_t)(close - p - 1)))
            return -1;
        p = close + 1;
    }
    return 0;
}

static field_kind kind_of(const char *dotted)
{
    for (size_t i = 0; i < sizeof g_typed / sizeof g_typed[0]; i++)
        if (!strcmp(g_typed[i].path, dotted)) return g_typed[i].kind;
    return AS_TEXT;
}

static bool is_file_part(const vg_mp_part *p)
{
    if (p->filename.ptr) return true;
    if (!p->content_type.ptr) return false;
    static const char *const text_types[] = {"text/", "application/json"};
    for (size_t i = 0; i < sizeof text_types / sizeof text_types[0]; i++) {
        size_t n = strlen(text_types[i]);
        if (p->content_type.len >= n && !strncasecmp(p->content_type.ptr, text_types[i], n))
            return false;
    }
    return true;
}

/* The declared media type, lower-cased and without parameters, when it is a plain type/subtype. */
static bool declared_type(const vg_mp_part *p, char mime[64])
{
    size_t n = 0;
    for (size_t i = 0; p->content_type.ptr && i < p->content_type.len && n < 63; i++) {
        char ch = (char)tolower((unsigned char)p->content_type.ptr[i]);
        if (ch == ';' || ch == ' ') break;
        if (!isalnum((unsigned char)ch) && !strchr("/.+-", ch)) return false;
        mime[n++] = ch;
    }
    mime[n] = '\0';
    return n > 0 && strchr(mime, '/');
}

/* A file part is an image (the only files the routes take): the bytes decide, and a declared
 * "image/…" type is trusted only for bytes not recognised here (the decoder judges them later).
 * Anything else is refused, saying what the file is and what is accepted. An image becomes the
 * next upload of up, and its reference the value. */
static json_t *file_ref(const vg_mp_part *p, const field_path *fp, vg_api_uploads *up, vg_err *err)
{
    char mime[64];
    bool declared = declared_type(p, mime);
    const char *sniffed = vg_mime_sniff(p->data, p->len);
    if (sniffed && !strncmp(sniffed, "image/", 6)) {
        snprintf(mime, sizeof mime, "%s", sniffed);
    } else if (sniffed || !declared || strncmp(mime, "image/", 6)) {
        char what[160];
        if (sniffed)
            snprintf(what, sizeof what, "%s (%s)", vg_mime_describe(p->data, p->len), sniffed);
        else if (declared)
            snprintf(what, sizeof what, "unrecognised data (sent as %s)", mime);
        else
            snprintf(what, sizeof what, "unrecognised data");
        return vg_err_set(err, 400, "invalid_image", fp->dotted,
                          "the file uploaded as %s is %s, not an image; upload " ACCEPTED_IMAGES,
                          fp->dotted, what),
               NULL;
    }
    /* The one copy on the loop: the request's buffer may go before the staging thread is done. */
    vg_api_upload *u = &up->part[up->n];
    u->bytes = vg_malloc(p->len + 1); /* + 1: an empty part still gets a buffer */
    memcpy(u->bytes, p->data, p->len);
    u->len = p->len;
    char ref[sizeof up->prefix + 12];
    snprintf(ref, sizeof ref, "%s%d", up->prefix, up->n++);
    return json_string(ref);
}

/* An object or array, as opposed to a plain string such as a URL. */
static bool looks_like_json(const char *v)
{
    char first = v[strspn(v, " \t\r\n")];
    return first == '{' || first == '[';
}

/* Converts text to the field's type when it parses; otherwise the string stays. */
static json_t *coerce(json_t *s, field_kind kind)
{
    const char *v = json_string_value(s);
    size_t len = json_string_length(s);
    json_t *out = NULL;
    if (kind == AS_INT && len > 0 && len < 21) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end == v + len) out = json_integer(n);
    } else if (kind == AS_BOOL && (!strcmp(v, "true") || !strcmp(v, "false"))) {
        out = json_boolean(v[0] == 't');
    } else if (kind == AS_JSON && looks_like_json(v) &&
               vg_json_depth(v, len, VG_MAX_JSON_DEPTH) <= VG_MAX_JSON_DEPTH) {
        out = json_loadb(v, len, JSON_REJECT_DUPLICATES, NULL);
    }
    if (!out) return s;
    json_decref(s);
    return out;
}

static json_t *part_value(const vg_mp_part *p, const field_path *fp, vg_api_uploads *up,
                          vg_err *err)
{
    if (is_file_part(p)) return file_ref(p, fp, up, err);
    json_t *s = json_stringn((const char *)p->data, p->len);
    if (!s) return vg_err_invalid(err, fp->dotted, "%s must be UTF-8 text", fp->dotted), NULL;
    return coerce(s, kind_of(fp->dotted));
}

/* The object that holds the last segment, creating the ones on the way. */
static json_t *parent_of(json_t *root, const field_path *fp, vg_err *err)
{
    json_t *obj = root;
    for (int i = 0; i < fp->n - 1; i++) {
        json_t *next = json_object_get(obj, fp->seg[i]);
        if (!next) {
            next = json_object();
            json_object_set_new(obj, fp->seg[i], next);
        } else if (!json_is_object(next)) {
            return vg_err_invalid(err, fp->dotted, "%s is given both as a value and as an object",
                                  fp->seg[i]),
                   NULL;
        }
        obj = next;
    }
    return obj;
}

/* Stores v (consumed) at the field's path; see the file comment for duplicates. */
static int set_field(json_t *root, const field_path *fp, json_t *v, vg_err *err)
{
    json_t *obj = parent_of(root, fp, err);
    const char *last = fp->seg[fp->n - 1];
    json_t *cur = obj ? json_object_get(obj, last) : NULL;
    int rc = 0;
    if (!obj) {
        rc = -1;
    } else if (fp->append || kind_of(fp->dotted) == AS_LIST) {
        if (!cur) json_object_set_new(obj, last, cur = json_array());
        if (json_is_array(cur)) return json_array_append_new(cur, v), 0;
        rc = vg_err_invalid(err, fp->dotted, "%s is given both as a list and as a value",
                            fp->dotted);
    } else if (!cur) {
        return json_object_set_new(obj, last, v), 0;
    } else if (json_is_object(cur) && json_is_object(v)) {
        json_object_update_missing(cur, v); /* keys set by bracketed parts stay */
    } else if (fp->n > 1) {
        /* Parts repeat no name (see add_part), so this key came from a JSON part: replace it. */
        return json_object_set_new(obj, last, v), 0;
    } else {
        rc = vg_err_invalid(err, fp->dotted, "%s is given both as an object and as a value",
                            fp->dotted);
    }
    json_decref(v);
    return rc;
}

static bool name_seen_before(const vg_multipart *m, int i)
{
    for (int j = 0; j < i; j++)
        if (m->parts[j].name.len == m->parts[i].name.len &&
            !memcmp(m->parts[j].name.ptr, m->parts[i].name.ptr, m->parts[i].name.len))
            return true;
    return false;
}

static int add_part(json_t *root, const vg_multipart *m, int i, vg_api_uploads *up, vg_err *err)
{
    const vg_mp_part *p = &m->parts[i];
    field_path fp;
    if (parse_name(p->name, &fp))
        return vg_err_invalid(err, "", "'%.*s' is not a valid form field name",
                              (int)(p->name.len > 64 ? 64 : p->name.len), p->name.ptr);
    if (!fp.append && kind_of(fp.dotted) != AS_LIST && name_seen_before(m, i))
        return vg_err_invalid(err, fp.dotted, "%s is given more than once", fp.dotted);
    json_t *v = part_value(p, &fp, up, err);
    return v ? set_field(root, &fp, v, err) : -1;
}

/* References to this request's uploads start with "upload:" and a random token: a client cannot
 * guess one, so no text it sends names bytes (the submit accepts only this request's prefix). */
static void new_upload_prefix(vg_api_uploads *up)
{
    unsigned char token[16];
    vg_random_bytes(token, sizeof token);
    char *p = up->prefix + snprintf(up->prefix, sizeof up->prefix, "upload:");
    for (size_t i = 0; i < sizeof token; i++)
        p += snprintf(p, 3, "%02x", token[i]);
    snprintf(p, 2, ":");
}

/* Parses the multipart body into a JSON submit body and its uploads (*up, the caller's to free
 * or hand on); replies and returns -1 on failure. */
static int form_body(vg_ctx *c, const char *content_type, json_t **out, vg_api_uploads *up)
{
    char boundary[VG_MP_MAX_BOUNDARY_BYTES + 1];
    if (vg_multipart_boundary(content_type, boundary))
        return vg_reply_error(c, 400, "invalid_parameter", "",
                              "multipart/form-data needs a boundary parameter of 1 to %d "
                              "characters",
                              VG_MP_MAX_BOUNDARY_BYTES),
               -1;
    vg_multipart *m = vg_malloc(sizeof *m); /* ~5 KiB: kept off the event loop's stack */
    vg_err err = {0};
    json_t *body = json_object();
    int rc = vg_multipart_parse(c->req->entity.base, c->req->entity.len, boundary, m);
    if (rc == VG_OK) {
        new_upload_prefix(up);
        up->part = vg_calloc((size_t)m->n, sizeof *up->part);
    }
    if (rc == VG_TOOLARGE)
        vg_err_set(&err, 413, "request_too_large", "", "%s", m->err);
    else if (rc != VG_OK)
        vg_err_set(&err, 400, "invalid_parameter", "", "malformed multipart body: %s", m->err);
    for (int i = 0; rc == VG_OK && i < m->n; i++)
        if (add_part(body, m, i, up, &err)) rc = VG_INVALID;
    free(m);
    if (rc != VG_OK) {
        json_decref(body);
        vg_api_uploads_free(up);
        return vg_reply_err(c, &err), -1;
    }
    *out = body;
    return 0;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static char *video_reply(vg_ctx *c, const vg_task *t)
{
    json_t *j = vg_task_json_openai(c->app, t);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return text;
}

static int create_video(vg_ctx *c)
{
    const char *ct = vg_ctx_req_header(c, "content-type");
    json_t *body = NULL;
    vg_api_uploads up = {.n = 0};
    int rc = vg_multipart_is_form(ct) ? form_body(c, ct, &body, &up)
                                      : vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body);
    if (rc) return 0;
    const vg_model *def = vg_model_at(0);
    vg_api_submit_uploads(c, body, &up, "openai", def ? def->name : NULL, video_reply);
    json_decref(body);
    return 0;
}

/* A video its owner deleted is gone from this surface, as at OpenAI: 404 to retrieve and delete.
 * Content the retention sweep removed is not a deletion (the video object stays, its content
 * answers 410), nor is anything on the native routes. */
static int load_video(vg_ctx *c, const char *id, vg_task *t)
{
    if (vg_api_load_task(c, id, t)) return -1;
    bool expired = t->expires_at && t->expires_at <= vg_now_s();
    if (!t->content_deleted || expired) return 0;
    vg_task_free(t);
    vg_reply_error(c, 404, "video_not_found", "video_id", "video %s was deleted", id);
    return -1;
}

static const vg_taskwait_view video_view = {load_video, vg_task_json_openai, vg_openai_status};

static int get_video(vg_ctx *c)
{
    return vg_api_get_task_waiting(c, &video_view);
}

static const struct {
    const char *name;
    bool ascending;
} g_orders[] = {{"desc", false}, {"asc", true}};

static int query_order(vg_ctx *c, bool *ascending)
{
    const char *v = vg_ctx_query(c, "order");
    *ascending = false; /* OpenAI's default: newest first */
    if (!v) return 0;
    for (size_t i = 0; i < sizeof g_orders / sizeof g_orders[0]; i++)
        if (!strcmp(g_orders[i].name, v)) return *ascending = g_orders[i].ascending, 0;
    return vg_reply_error(c, 400, "invalid_parameter", "order", "order must be asc or desc"), -1;
}

static json_t *openai_json(vg_ctx *c, const vg_task *t)
{
    return vg_task_json_openai(c->app, t);
}

static int list_videos(vg_ctx *c)
{
    vg_task_filter f = {.key_id = c->key.id, .status = -1, .after = vg_ctx_query(c, "after")};
    if (f.after && !*f.after) f.after = NULL;
    if (vg_api_query_limit(c, &f.limit) || query_order(c, &f.ascending)) return 0;
    return vg_api_reply_task_list(c, &f, openai_json);
}

/* A queued task is cancelled and shown as it now is (failed, error "cancelled"); a finished
 * one loses its files and gets OpenAI's deletion object. */
static int delete_video(vg_ctx *c)
{
    vg_task t;
    if (load_video(c, c->params[0], &t)) return 0;
    if (vg_api_cancel_or_delete(c, &t) == 0)
        vg_reply_json(c, 200,
                      t.content_deleted ? vg_task_json_openai_deleted(&t)
                                        : vg_task_json_openai(c->app, &t));
    vg_task_free(&t);
    return 0;
}

static int remix_video(vg_ctx *c)
{
    return vg_reply_error(c, 400, "unsupported", "",
                          "remix is not supported: Seedance has no remix; submit a new video");
}

const vg_route vg_routes_videos[] = {
    {"POST", "/v1/videos", VG_AUTH_USER, create_video},
    {"GET", "/v1/videos", VG_AUTH_KEY, list_videos},
    {"GET", "/v1/videos/{id}", VG_AUTH_KEY, get_video},
    {"DELETE", "/v1/videos/{id}", VG_AUTH_KEY, delete_video},
    {"POST", "/v1/videos/{id}/remix", VG_AUTH_KEY, remix_video},
};
const size_t vg_routes_videos_n = sizeof vg_routes_videos / sizeof vg_routes_videos[0];
