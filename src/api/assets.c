/*
 * assets.c - the Assets API (spec §6): ten POST actions under /v1/seedance/asset/, the presigned
 * content route, and the asset:// check of a task submit.
 *
 * Every action shares one handler: the action is the last segment of the route's pattern and is
 * looked up in a table; its body is read (1 MiB, 40 MiB for CreateAsset) and every reply is the
 * Volcengine envelope, errors included (ResponseMetadata.Error{Code, Message} with the HTTP status
 * of spec §1). Codes: MissingParameter, InvalidParameter (400), NotFound (404, also for another
 * key's object), GroupNotEmpty (409), RequestTooLarge (413), UnsupportedMediaType (415),
 * InternalError (500). Authentication, rate limits and unknown routes are answered by the router
 * before a handler runs, in the §1 envelope.
 *
 * CreateAsset never fetches or decodes on the event loop: a URL is only checked (scheme, literal
 * addresses); Data is base64-decoded off the loop (assets/worker.h vg_assets_offload, the request
 * parked on its loop meanwhile under the new asset's id, http/longpoll.h) and staged in
 * DATA/files/assets/staging/<id> (written to DATA/tmp, then renamed); then, on the loop, the row
 * is inserted and the processing pool (assets/worker.h) is woken. Crash semantics: a crash before
 * the insert commits leaves at most a staging file without a row (removed at the next start);
 * after it, the asset is Processing and its staged bytes are there (not flushed: after a power loss
 * they may be short, and the asset then fails validation instead of becoming Active with bad
 * bytes).
 *
 * Quota: with asset_quota_bytes > 0, a CreateAsset whose Data would bring the key's live assets
 * (Active, and Processing uploads at their size as sent) over the quota, or any CreateAsset once
 * they are at it, is refused with 403 QuotaExceeded; a URL's size is only known once fetched, and
 * the activation checks the quota again (assets/worker.h).
 */
#include "api/asset_json.h"
#include "api/handlers.h"
#include "api/keys.h"

#include "api/env.h"
#include "assets/worker.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/taskwatch.h"
#include "core/presign.h"
#include "http/contentfile.h"
#include "core/urlpolicy.h"
#include "http/longpoll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ROUTE_PREFIX "/v1/seedance/asset/"

/* One request of an action: what error replies need. */
typedef struct {
    vg_ctx *c;
    const char *action;
} areq;

static int reply_fail(areq *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Replies with the error envelope; returns -1 so validation helpers read `return reply_fail(…)`. */
static int reply_fail(areq *r, int status, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_reply_json(r->c, status, vg_asset_envelope(r->c->request_id, r->action, NULL, code, msg));
    return -1;
}

static int reply_internal(areq *r)
{
    if (!vg_store_connected(r->c->store)) { /* a shared database went away: passing */
        char ra[16];
        snprintf(ra, sizeof ra, "%d", VG_UNAVAILABLE_RETRY_AFTER_S);
        vg_ctx_header(r->c, "retry-after", ra);
        return reply_fail(r, 503, "ServiceUnavailable", "the store is not reachable: try again");
    }
    return reply_fail(r, 500, "InternalError", "internal error; request id %s", r->c->request_id);
}

static int reply_not_found(areq *r, const char *what, const char *id)
{
    return reply_fail(r, 404, "NotFound", "%s not found: %.64s", what, id);
}

/* ---- reading the body and its fields ------------------------------------------------------ */

static bool json_content_type(const char *ct)
{
    static const char *const ok[] = {"application/json", "application/x-www-form-urlencoded",
                                     "text/plain"};
    if (!ct) return true; /* curl -d without -H: the body decides */
    while (*ct == ' ')
        ct++;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strncasecmp(ct, ok[i], strlen(ok[i]))) return true;
    return false;
}

/* The body as a JSON object, with the checks of vg_ctx_json_body() but the envelope of §6. */
static int read_body(areq *r, size_t max_bytes, json_t **out)
{
    h2o_iovec_t b = r->c->req->entity;
    if (!json_content_type(vg_ctx_req_header(r->c, "content-type")))
        return reply_fail(r, 415, "UnsupportedMediaType", "Content-Type must be application/json");
    if (b.len > max_bytes)
        return reply_fail(r, 413, "RequestTooLarge", "the body is larger than %zu bytes",
                          max_bytes);
    if (!b.base || !b.len) return reply_fail(r, 400, "InvalidParameter", "the body is empty");
    if (vg_json_depth(b.base, b.len, VG_MAX_JSON_DEPTH) > VG_MAX_JSON_DEPTH)
        return reply_fail(r, 400, "InvalidParameter", "JSON nesting deeper than %d",
                          VG_MAX_JSON_DEPTH);
    json_error_t je;
    json_t *j = json_loadb(b.base, b.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return reply_fail(r, 400, "InvalidParameter", "the body must be a JSON object%s%s",
                          j ? "" : ": ", j ? "" : je.text);
    }
    *out = j;
    return 0;
}

/* A field, with JSON null treated as absent. */
static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* A string field of at most max_chars characters (0 = no limit): *out NULL when absent. */
static int opt_string(areq *r, const json_t *obj, const char *key, size_t max_chars,
                      const char **out)
{
    const json_t *v = field(obj, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v))
        return reply_fail(r, 400, "InvalidParameter", "%s must be a string", key);
    if (max_chars && vg_utf8_chars(json_string_value(v)) > max_chars)
        return reply_fail(r, 400, "InvalidParameter", "%s must be at most %zu characters", key,
                          max_chars);
    *out = json_string_value(v);
    return 0;
}

static int req_string(areq *r, const json_t *obj, const char *key, size_t max_chars,
                      const char **out)
{
    if (opt_string(r, obj, key, max_chars, out)) return -1;
    if (!*out) return reply_fail(r, 400, "MissingParameter", "%s is required", key);
    if (!**out) return reply_fail(r, 400, "InvalidParameter", "%s must not be empty", key);
    return 0;
}

static int req_name(areq *r, const json_t *obj, const char **out)
{
    return req_string(r, obj, "Name", VG_ASSET_NAME_MAX_CHARS, out);
}

static int req_id(areq *r, const json_t *obj, const char **out)
{
    return req_string(r, obj, "Id", 0, out);
}

static int opt_group_type(areq *r, const json_t *obj, const char **out)
{
    if (opt_string(r, obj, "GroupType", 0, out)) return -1;
    if (*out && strcmp(*out, VG_ASSET_GROUP_TYPE) != 0)
        return reply_fail(r, 400, "InvalidParameter", "GroupType must be " VG_ASSET_GROUP_TYPE);
    return 0;
}

static int int_field(areq *r, const json_t *obj, const char *key, int dflt, int min, int max,
                     int *out)
{
    const json_t *v = field(obj, key);
    *out = dflt;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return reply_fail(r, 400, "InvalidParameter", "%s must be an integer from %d to %d", key,
                          min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

/* PageNumber (1-based, default 1) and PageSize (default 20, at most 100) into f. */
static int paging(areq *r, const json_t *body, vg_asset_filter *f)
{
    if (int_field(r, body, "PageNumber", 1, 1, 1000000, &f->page)) return -1;
    return int_field(r, body, "PageSize", 20, 1, VG_ASSET_MAX_PAGE_SIZE, &f->page_size);
}

/* A Filter member that is an array of strings (at most VG_ASSET_MAX_FILTER_ITEMS). */
static int string_array(areq *r, const json_t *filter, const char *key, const char **out, size_t *n)
{
    const json_t *v = field(filter, key), *it;
    size_t i;
    *n = 0;
    if (!v) return 0;
    if (!json_is_array(v) || json_array_size(v) > VG_ASSET_MAX_FILTER_ITEMS)
        return reply_fail(r, 400, "InvalidParameter",
                          "Filter.%s must be an array of at most %d "
                          "strings",
                          key, VG_ASSET_MAX_FILTER_ITEMS);
    json_array_foreach(v, i, it)
    {
        if (!json_is_string(it))
            return reply_fail(r, 400, "InvalidParameter", "Filter.%s[%zu] must be a string", key,
                              i);
        out[(*n)++] = json_string_value(it);
    }
    return 0;
}

static const json_t *filter_of(areq *r, const json_t *body, int *bad)
{
    const json_t *f = field(body, "Filter");
    *bad = f && !json_is_object(f)
               ? reply_fail(r, 400, "InvalidParameter", "Filter must be an object")
               : 0;
    return f;
}

static json_t *page_result(json_t *items, int64_t total, const vg_asset_filter *f)
{
    return json_pack("{s:o, s:I, s:i, s:i}", "Items", items, "TotalCount", (json_int_t)total,
                     "PageNumber", f->page, "PageSize", f->page_size);
}

/* ---- groups ------------------------------------------------------------------------------ */

static void new_group(vg_ctx *c, const char *name, const char *description, bool is_default,
                      vg_asset_group *g)
{
    memset(g, 0, sizeof *g);
    int64_t now = vg_now_s();
    vg_asset_id_new("group", now, g->id);
    snprintf(g->key_id, sizeof g->key_id, "%s", c->key.id);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->description, sizeof g->description, "%s", description ? description : "");
    snprintf(g->group_type, sizeof g->group_type, VG_ASSET_GROUP_TYPE);
    g->is_default = is_default;
    g->created_at = g->updated_at = now;
}

static int create_group(areq *r, const json_t *body, json_t **result)
{
    const char *name, *desc, *type;
    if (req_name(r, body, &name) ||
        opt_string(r, body, "Description", VG_ASSET_DESC_MAX_CHARS, &desc) ||
        opt_group_type(r, body, &type))
        return -1;
    vg_asset_group g;
    new_group(r->c, name, desc, false, &g);
    if (vg_store_asset_group_create(r->c->store, &g) != VG_OK) return reply_internal(r);
    *result = json_pack("{s:s}", "Id", g.id);
    return 0;
}

static int load_group(areq *r, const char *id, vg_asset_group *g)
{
    int rc = vg_store_asset_group_get(r->c->store, id, r->c->key.id, g);
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset group", id);
    return rc == VG_OK ? 0 : reply_internal(r);
}

static int get_group(areq *r, const json_t *body, json_t **result)
{
    const char *id;
    vg_asset_group g;
    if (req_id(r, body, &id) || load_group(r, id, &g)) return -1;
    *result = vg_asset_group_json(&g);
    return 0;
}

static int list_groups(areq *r, const json_t *body, json_t **result)
{
    int bad;
    const json_t *filter = filter_of(r, body, &bad);
    vg_asset_filter f = {.key_id = r->c->key.id};
    if (bad || paging(r, body, &f) || opt_string(r, filter, "Name", 0, &f.name) ||
        opt_group_type(r, filter, &f.group_type))
        return -1;
    vg_asset_group *gs = NULL;
    size_t n = 0;
    int64_t total = 0;
    int rc = vg_store_asset_group_list(r->c->store, &f, &gs, &n, &total);
    json_t *items = json_array();
    for (size_t i = 0; rc == VG_OK && i < n; i++)
        json_array_append_new(items, vg_asset_group_json(&gs[i]));
    free(gs);
    if (rc != VG_OK) {
        json_decref(items);
        return reply_internal(r);
    }
    *result = page_result(items, total, &f);
    return 0;
}

static int update_group(areq *r, const json_t *body, json_t **result)
{
    const char *id, *name, *desc;
    if (req_id(r, body, &id) || opt_string(r, body, "Name", VG_ASSET_NAME_MAX_CHARS, &name) ||
        opt_string(r, body, "Description", VG_ASSET_DESC_MAX_CHARS, &desc))
        return -1;
    if (!name && !desc)
        return reply_fail(r, 400, "MissingParameter", "Name or Description is required");
    if (name && !*name) return reply_fail(r, 400, "InvalidParameter", "Name must not be empty");
    int rc = vg_store_asset_group_update(r->c->store, id, r->c->key.id, name, desc, vg_now_s());
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset group", id);
    if (rc != VG_OK) return reply_internal(r);
    *result = json_object();
    return 0;
}

/* A group that still holds assets is refused: deleting them with it would be easy to regret. */
static int delete_group(areq *r, const json_t *body, json_t **result)
{
    const char *id;
    if (req_id(r, body, &id)) return -1;
    int rc = vg_store_asset_group_delete(r->c->store, id, r->c->key.id);
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset group", id);
    if (rc == VG_CONFLICT)
        return reply_fail(r, 409, "GroupNotEmpty",
                          "asset group %s still holds assets; delete them first", id);
    if (rc != VG_OK) return reply_internal(r);
    *result = json_object();
    return 0;
}

/* ---- assets ------------------------------------------------------------------------------- */

/* The base64 of Data, after an optional "data:…;base64," prefix whose media type is ignored (the
 * bytes decide). Only the prefix is read here; the payload decodes off the loop. */
static int data_payload(areq *r, const char *data, const char **b64)
{
    *b64 = data;
    if (!strncmp(data, "data:", 5)) {
        const char *comma = strchr(data, ',');
        if (!comma || comma - data < 12 || strncmp(comma - 7, ";base64", 7) != 0)
            return reply_fail(r, 400, "InvalidParameter",
                              "Data must be base64, optionally as a data:…;base64, URL");
        *b64 = comma + 1;
    }
    if (!**b64) return reply_fail(r, 400, "InvalidParameter", "Data is empty");
    return 0;
}

/* The key's storage quota (see the top): `adding` bytes more, 0 for a URL (size unknown). */
static int check_quota(areq *r, int64_t adding)
{
    const vg_api_env *env = r->c->app;
    int64_t used = 0, quota = env->asset_quota_bytes;
    if (quota <= 0) return 0;
    if (vg_store_asset_usage(r->c->store, r->c->key.id, true, NULL, &used) != VG_OK)
        return reply_internal(r);
    if (used + adding <= quota && (adding > 0 || used < quota)) return 0;
    return reply_fail(r, 403, "QuotaExceeded",
                      "this key's assets use %lld bytes of its %lld-byte storage quota; this "
                      "upload (%lld bytes) does not fit: delete assets first",
                      (long long)used, (long long)quota, (long long)adding);
}

/* DATA/tmp/upload-<id>, then renamed into staging (see the crash note at the top). */
static int stage_upload(const char *data_dir, const char *tmp_dir, const char *id,
                        const unsigned char *bytes, size_t len, char *staged, size_t staged_len)
{
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s/upload-%s", tmp_dir, id);
    vg_asset_staging_path(data_dir, id, staged, staged_len);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int rc = vg_write_all(fd, bytes, len);
    if (close(fd)) rc = -1;
    if (rc == 0) rc = rename(tmp, staged);
    if (rc) unlink(tmp);
    return rc;
}

/* A Data upload on its way: decoded and staged off the loop, then inserted on it. Shared by the
 * parked request and the thread (one reference each, like a submit's job in tasks.c). */
typedef struct {
    atomic_int refs;
    atomic_bool staged; /* the thread is done: staged[] names the file, or code says why not */
    json_t *body;       /* holds b64 */
    const char *b64, *data_dir, *tmp_dir, *action;
    vg_content *content; /* the bucket to copy the staged file to (another node may process it) */
    vg_asset a;
    int status;       /* 400 or 500 when the staging failed, with code */
    const char *code; /* InvalidParameter / InternalError */
    char msg[128];
    char staged_path[1300];
} upload_job;

static void upload_release(upload_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    json_decref(j->body);
    vg_asset_free(&j->a);
    free(j);
}

static void upload_stage(void *arg)
{
    upload_job *j = arg;
    size_t len = 0;
    unsigned char *bytes = vg_base64_decode(j->b64, strlen(j->b64), &len);
    if (!bytes || !len) {
        j->status = 400;
        j->code = "InvalidParameter";
        snprintf(j->msg, sizeof j->msg, "%s", bytes ? "Data is empty" : "Data is not valid base64");
    } else if (stage_upload(j->data_dir, j->tmp_dir, j->a.id, bytes, len, j->staged_path,
                            sizeof j->staged_path)) {
        vg_error("asset %s: cannot stage the upload: %s", j->a.id, strerror(errno));
        j->status = 500;
        j->code = "InternalError";
        snprintf(j->msg, sizeof j->msg, "internal error");
    } else {
        j->a.media.size_bytes = (int64_t)len;
    }
    free(bytes);
    if (!j->status && j->content) {
        /* With a bucket, a worker of another node may take the asset: it fetches the staged copy. */
        char key[128];
        snprintf(key, sizeof key, "assets/staging/%s", j->a.id);
        vg_content_put_later(j->content, key);
    }
    atomic_store(&j->staged, true);
    vg_taskwatch_notify(j->a.id);
    upload_release(j);
}

static int asset_fields(areq *r, const json_t *body, vg_asset *a)
{
    const char *name, *type, *group;
    if (req_name(r, body, &name) || opt_string(r, body, "AssetType", 0, &type) ||
        opt_string(r, body, "GroupId", 0, &group))
        return -1;
    int t = type ? vg_asset_type_parse(type) : VG_ASSET_IMAGE;
    if (t < 0)
        return reply_fail(r, 400, "InvalidParameter", "AssetType must be Image, Video or Audio");
    int64_t now = vg_now_s();
    vg_asset_id_new("asset", now, a->id);
    snprintf(a->key_id, sizeof a->key_id, "%s", r->c->key.id);
    snprintf(a->group_id, sizeof a->group_id, "%s", group ? group : "");
    snprintf(a->name, sizeof a->name, "%s", name);
    a->type = (vg_asset_type)t;
    a->status = VG_ASSET_PROCESSING;
    a->created_at = a->updated_at = now;
    return 0;
}

/* The row of a new asset (its source checked, Data staged); replies on failure. */
static int insert_asset(areq *r, vg_asset *a, const char *staged, json_t **result)
{
    vg_asset_group dflt;
    new_group(r->c, "default", "assets created without a GroupId", true, &dflt);
    int rc = vg_store_asset_create(r->c->store, a, &dflt);
    if (rc != VG_OK && staged[0]) unlink(staged);
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset group", a->group_id);
    if (rc != VG_OK) return reply_internal(r);
    vg_assets_notify();
    *result = json_pack("{s:s}", "Id", a->id);
    return 0;
}

/* The parked CreateAsset (http/longpoll.h) of a Data upload being staged. */
static bool on_upload_staged(vg_ctx *c, void *data, vg_wait_event ev)
{
    upload_job *j = *(upload_job **)data;
    areq r = {.c = c, .action = j->action};
    json_t *result = NULL;
    if (!atomic_load(&j->staged)) {
        if (ev == VG_WAIT_CHANGED) return false;
        reply_fail(&r, 503, "ServiceUnavailable", "the server cannot take this upload now");
        return true;
    }
    if (j->code)
        reply_fail(&r, j->status, j->code, "%s", j->msg);
    else if (check_quota(&r, j->a.media.size_bytes) == 0 &&
             insert_asset(&r, &j->a, j->staged_path, &result) == 0)
        vg_reply_json(c, 200, vg_asset_envelope(c->request_id, j->action, result, NULL, NULL));
    else
        unlink(j->staged_path);
    return true;
}

static void drop_upload_anchor(void *p)
{
    upload_release(*(upload_job **)p);
}

/* Decodes and stages Data off the loop; the request finishes in on_upload_staged. */
static int park_upload(areq *r, json_t *body, const char *b64, vg_asset *a)
{
    const vg_api_env *env = r->c->app;
    upload_job *j = vg_calloc(1, sizeof *j);
    atomic_init(&j->refs, 2);
    j->body = json_incref(body);
    j->b64 = b64;
    j->data_dir = env->data_dir;
    j->tmp_dir = env->tmp_dir;
    j->content = env->content;
    j->action = r->action;
    j->a = *a; /* takes over source_url (NULL for Data) */
    memset(a, 0, sizeof *a);
    upload_job **anchor =
        h2o_mem_alloc_shared(&r->c->req->pool, sizeof *anchor, drop_upload_anchor);
    *anchor = j;
    vg_assets_offload(upload_stage, j);
    if (vg_longpoll_park(r->c, j->a.id, VG_MAX_WAIT_S, on_upload_staged, &j, sizeof j) != VG_OK)
        return reply_internal(r);
    return 1;
}

/* 0 with *result, -1 after an error reply, 1 when the request was parked (a Data upload). */
static int create_asset(areq *r, const json_t *body, json_t **result)
{
    vg_asset a;
    memset(&a, 0, sizeof a);
    const char *url, *data, *b64 = NULL;
    const vg_api_env *env = r->c->app;
    int rc = -1;
    if (asset_fields(r, body, &a) || opt_string(r, body, "URL", 0, &url) ||
        opt_string(r, body, "Data", 0, &data))
        goto out;
    if (url && data) {
        reply_fail(r, 400, "InvalidParameter", "give URL or Data, not both");
        goto out;
    }
    if (!url && !data) {
        reply_fail(r, 400, "MissingParameter", "URL or Data is required");
        goto out;
    }
    if (url) {
        vg_url_verdict why;
        if (vg_urlpolicy_check(url, &env->urls, &why) != VG_OK) {
            reply_fail(r, 400, "InvalidParameter", "URL is not allowed: url %s",
                       vg_urlpolicy_reason(why, &env->urls));
            goto out;
        }
        if (check_quota(r, 0)) goto out;
        a.source_url = vg_strdup(url);
        rc = insert_asset(r, &a, "", result);
        goto out;
    }
    if (data_payload(r, data, &b64)) goto out;
    /* The size as sent (base64: 3 bytes per 4 characters) bounds the decoded size. */
    if (check_quota(r, (int64_t)(strlen(b64) / 4 * 3))) goto out;
    rc = park_upload(r, (json_t *)body, b64, &a);
out:
    vg_asset_free(&a);
    return rc;
}

static int load_asset(areq *r, const char *id, vg_asset *a)
{
    int rc = vg_store_asset_get(r->c->store, id, r->c->key.id, a);
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset", id);
    return rc == VG_OK ? 0 : reply_internal(r);
}

static int get_asset(areq *r, const json_t *body, json_t **result)
{
    const char *id;
    vg_asset a;
    if (req_id(r, body, &id) || load_asset(r, id, &a)) return -1;
    *result = vg_asset_json(r->c->app, &a, vg_now_s());
    vg_asset_free(&a);
    return 0;
}

static int asset_filter(areq *r, const json_t *body, vg_asset_filter *f, const char **ids,
                        const char **statuses, size_t *n_statuses)
{
    int bad;
    const json_t *filter = filter_of(r, body, &bad);
    if (bad || paging(r, body, f) || opt_string(r, filter, "Name", 0, &f->name) ||
        opt_group_type(r, filter, &f->group_type) ||
        string_array(r, filter, "GroupIds", ids, &f->n_group_ids) ||
        string_array(r, filter, "Statuses", statuses, n_statuses))
        return -1;
    f->group_ids = ids;
    for (size_t i = 0; i < *n_statuses; i++) {
        int st = vg_asset_status_parse(statuses[i]);
        if (st < 0)
            return reply_fail(r, 400, "InvalidParameter",
                              "Filter.Statuses[%zu] must be Processing, Active or Failed", i);
        f->statuses |= 1u << st;
    }
    return 0;
}

static int list_assets(areq *r, const json_t *body, json_t **result)
{
    const char *ids[VG_ASSET_MAX_FILTER_ITEMS], *statuses[VG_ASSET_MAX_FILTER_ITEMS];
    size_t n_statuses = 0;
    vg_asset_filter f = {.key_id = r->c->key.id};
    if (asset_filter(r, body, &f, ids, statuses, &n_statuses)) return -1;
    vg_asset *as = NULL;
    size_t n = 0;
    int64_t total = 0, now = vg_now_s();
    int rc = vg_store_asset_list(r->c->store, &f, &as, &n, &total);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        if (rc == VG_OK) json_array_append_new(items, vg_asset_json(r->c->app, &as[i], now));
        vg_asset_free(&as[i]);
    }
    free(as);
    if (rc != VG_OK) {
        json_decref(items);
        return reply_internal(r);
    }
    *result = page_result(items, total, &f);
    return 0;
}

static int update_asset(areq *r, const json_t *body, json_t **result)
{
    const char *id, *name;
    if (req_id(r, body, &id) || req_name(r, body, &name)) return -1;
    int rc = vg_store_asset_update(r->c->store, id, r->c->key.id, name, vg_now_s());
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset", id);
    if (rc != VG_OK) return reply_internal(r);
    *result = json_object();
    return 0;
}

/* The row is marked deleted; tasks already accepted keep their bytes (see assets/worker.h). */
static int delete_asset(areq *r, const json_t *body, json_t **result)
{
    const char *id;
    if (req_id(r, body, &id)) return -1;
    int rc = vg_store_asset_delete(r->c->store, id, r->c->key.id, vg_now_s());
    if (rc == VG_NOTFOUND) return reply_not_found(r, "asset", id);
    if (rc != VG_OK) return reply_internal(r);
    *result = json_object();
    return 0;
}

/* ---- the action table and its one handler ------------------------------------------------- */

typedef struct {
    const char *name;
    size_t max_body;
    int (*run)(areq *r, const json_t *body, json_t **result);
} asset_action;

static const asset_action actions[] = {
    {"CreateAssetGroup", VG_MAX_JSON_BODY_BYTES, create_group},
    {"GetAssetGroup", VG_MAX_JSON_BODY_BYTES, get_group},
    {"ListAssetGroups", VG_MAX_JSON_BODY_BYTES, list_groups},
    {"UpdateAssetGroup", VG_MAX_JSON_BODY_BYTES, update_group},
    {"DeleteAssetGroup", VG_MAX_JSON_BODY_BYTES, delete_group},
    {"CreateAsset", VG_MAX_MULTIPART_BODY_BYTES, create_asset},
    {"GetAsset", VG_MAX_JSON_BODY_BYTES, get_asset},
    {"ListAssets", VG_MAX_JSON_BODY_BYTES, list_assets},
    {"UpdateAsset", VG_MAX_JSON_BODY_BYTES, update_asset},
    {"DeleteAsset", VG_MAX_JSON_BODY_BYTES, delete_asset},
};

static int handle_action(vg_ctx *c)
{
    const char *name = c->route->pattern + strlen(ROUTE_PREFIX);
    const asset_action *act = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(actions[i].name, name)) act = &actions[i];
    areq r = {.c = c, .action = name};
    if (!act) return reply_internal(&r), 0;
    json_t *body = NULL, *result = NULL;
    /* run: 0 = reply with result; -1 = replied; 1 = parked (it replies later) */
    if (read_body(&r, act->max_body, &body) == 0 && act->run(&r, body, &result) == 0)
        vg_reply_json(c, 200, vg_asset_envelope(c->request_id, name, result, NULL, NULL));
    json_decref(body);
    return 0;
}

/* ---- presigned content ------------------------------------------------------------------- */

static int get_content(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    int rc = vg_presign_check(env->secret, "assets", c->params[0], "content",
                              vg_ctx_query(c, "expires"), vg_ctx_query(c, "sig"), vg_now_s());
    if (rc == -1)
        return vg_reply_error(c, 403, "invalid_signature", "sig", "the URL signature is invalid");
    if (rc == -2) return vg_reply_error(c, 403, "url_expired", "expires", "the URL has expired");
    vg_asset a;
    rc = vg_store_asset_get(c->store, c->params[0], NULL, &a);
    if (rc == VG_ERR) return vg_reply_internal(c);
    bool visible = rc == VG_OK && !a.deleted_at && a.status == VG_ASSET_ACTIVE;
    /* A link is the key's authority lent out: revoking (or the expiry of) the key ends it. */
    int live = visible ? vg_keys_live(c->store, a.key_id, vg_now_s()) : VG_OK;
    if (live != VG_OK) {
        vg_asset_free(&a);
        if (live == VG_ERR) return vg_reply_internal(c);
        return vg_reply_error(c, 403, "url_revoked", "",
                              "the key that issued this URL was revoked or has expired");
    }
    static const vg_content_missing missing = {404, "asset_not_found", "asset not found"};
    char key[128];
    if (visible) snprintf(key, sizeof key, "assets/%s", a.sha256);
    if (!visible)
        vg_reply_error(c, 404, "asset_not_found", "", "asset not found");
    else /* fetched into this node's cache first when only the bucket has it */
        vg_send_content(c, env->content, key, vg_asset_format_mime(a.media.format), a.id, &missing);
    if (rc == VG_OK) vg_asset_free(&a);
    return 0;
}

/* ---- asset:// in a task ------------------------------------------------------------------- */

static const vg_asset_type media_asset_type[] = {
    [VG_MEDIA_IMAGE] = VG_ASSET_IMAGE,
    [VG_MEDIA_VIDEO] = VG_ASSET_VIDEO,
    [VG_MEDIA_AUDIO] = VG_ASSET_AUDIO,
};

int vg_api_asset_media(vg_ctx *c, vg_media *m, const char *param, vg_task_spec *s, vg_err *err)
{
    char id[VG_ASSET_ID_MAX], sha[65], ref[VG_ASSET_REF_MAX];
    vg_asset a;
    if (vg_asset_ref_parse(m->url, id, sha))
        return vg_err_set(err, 400, "asset_not_found", param, "asset not found");
    int rc = vg_store_asset_get(c->store, id, c->key.id, &a);
    if (rc == VG_NOTFOUND) return vg_err_set(err, 400, "asset_not_found", param, "asset not found");
    if (rc != VG_OK) return vg_err_set(err, 500, "internal_error", "", "internal error");
    if (a.status != VG_ASSET_ACTIVE)
        rc = vg_err_set(err, 400, "asset_not_ready", param, "asset %s is %s, not Active", id,
                        vg_asset_status_name(a.status));
    else if (a.type != media_asset_type[m->type])
        rc = vg_err_set(err, 400, "invalid_parameter", param, "%s is an %s asset", param,
                        vg_asset_type_name(a.type));
    if (rc == VG_OK) {
        /* The task keeps the content hash: it renders from these bytes, whatever happens to
         * the asset later. */
        vg_asset_ref_format(id, a.sha256, ref);
        free(m->url);
        m->url = vg_strdup(ref);
        if (m->role == VG_ROLE_FIRST_FRAME && s->ratio == VG_RATIO_ADAPTIVE)
            s->ratio = vg_ratio_closest(a.media.width, a.media.height);
    }
    vg_asset_free(&a);
    return rc == VG_OK ? 0 : -1;
}

const vg_route vg_routes_assets[] = {
    {"POST", ROUTE_PREFIX "CreateAssetGroup", VG_AUTH_USER, handle_action},
    {"POST", ROUTE_PREFIX "GetAssetGroup", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "ListAssetGroups", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "UpdateAssetGroup", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "DeleteAssetGroup", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "CreateAsset", VG_AUTH_USER, handle_action},
    {"POST", ROUTE_PREFIX "GetAsset", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "ListAssets", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "UpdateAsset", VG_AUTH_KEY, handle_action},
    {"POST", ROUTE_PREFIX "DeleteAsset", VG_AUTH_KEY, handle_action},
    {"GET", "/assets/{id}/content", VG_AUTH_NONE, get_content},
};
const size_t vg_routes_assets_n = sizeof vg_routes_assets / sizeof vg_routes_assets[0];
