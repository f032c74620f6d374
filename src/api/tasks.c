/*
 * tasks.c - the native task API (spec §3): submit, get, list, cancel/delete.
 *
 * Submit is the one write on the hot path: validate (core/spec) → check the key may use the model
 * and has the funds → check media URLs without fetching them (fetching happens on a worker, never
 * on the event loop) → store inline media → price the hold from the declared size (core/billing)
 * → one store transaction inserts task + hold → wake the dispatcher → 200. Nothing reaches a
 * worker before the row is committed.
 *
 * Inline media (data: URLs, uploaded files): the stored spec never holds their bytes. A submit
 * with some is parked on its event loop (http/longpoll.h, under the id its task will have) while
 * an off-loop thread (assets/worker.h vg_assets_offload) decodes each one, judges an image by its
 * header (core/imagehead), resolves an adaptive ratio from a first frame, and stores the bytes as
 * content (vg_assets_put_content: flushed before it returns), replacing the URL by
 * "asset://inline?sha256=<hex>"; then it announces the id (common/taskwatch.h) and the parked
 * request finishes on its loop: insert and reply as above. The row commits only after the files
 * are durable, so a task that got its 200 survives a crash at any point; a crash before the commit
 * leaves files nothing names, removed at the next start (assets/worker.h). The task_assets rows of
 * the task keep its media while it is active; the asset collector removes them after it ends.
 * A file part of a form (api/videos.c) arrives as raw bytes beside the body, which names it by a
 * reference only that request can hold (vg_api_uploads): it is staged like a decoded data: URL,
 * so a large upload is never encoded, copied into JSON or hashed on the loop.
 * A job is shared by the request (its pool) and the thread (one reference each): whichever lets go
 * last frees it, so a client that hangs up meanwhile costs nothing but the work.
 *
 * The commit: with a submit writer (env->submits, store/batch.h) the request is parked
 * (http/defer.h) and its task joins the next group commit; the loop serves other connections
 * meanwhile, and the reply is written on the loop once the batch is durable. Without one, or for
 * a submit already parked for its media (a request is parked once), the loop commits on its own
 * connection. Either way the same submit_done() turns the store's answer into the reply, so a 200
 * always means committed.
 *
 * Idempotency of uploads: the body hash must tell uploads apart, but hashing 12 MB takes tens of
 * milliseconds, too long for a loop. So the loop only hashes the body as sent (the references
 * with their random token blanked out) and the staging thread adds the digests of the parts,
 * which vg_assets_put_content computes anyway. The loop then only asks whether the key has a
 * record: if not, the submit goes on as usual with the hash ready once staged (a concurrent twin
 * meets VG_DUPLICATE at the insert and is replayed or refused by that hash, as for any submit); if
 * it has one, the submit is a retry or a misuse: the thread only hashes the parts, nothing is
 * validated or stored, and the record's reply is replayed or the 422 sent, as idempotency comes
 * before validation for every submit.
 */
#include "api/handlers.h"

#include "api/env.h"
#include "api/task_json.h"
#include "api/taskwait.h"
#include "assets/worker.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/taskwatch.h"
#include "core/billing.h"
#include "core/dataurl.h"
#include "core/imagehead.h"
#include "core/spec.h"
#include "http/defer.h"
#include "http/longpoll.h"
#include "store/batch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const media_field[] = {"image_url", "video_url", "audio_url"};

/* The field a media item came from, for error messages. Text items of metadata.content carry
 * no media, so the i-th media item is the i-th non-text item there. */
static void media_param(const json_t *body, const vg_media *m, int i, char *out, size_t n)
{
    json_t *items = json_object_get(json_object_get(body, "metadata"), "content");
    if (json_is_array(items)) {
        size_t k, seen = 0;
        json_t *it;
        json_array_foreach(items, k, it)
        {
            const char *type = json_string_value(json_object_get(it, "type"));
            if (type && !strcmp(type, "text")) continue;
            if ((int)seen++ == i) break;
        }
        snprintf(out, n, "metadata.content[%zu].%s.url", k, media_field[m->type]);
    } else if (json_object_get(body, "input_reference") && !json_object_get(body, "images"))
        snprintf(out, n, "input_reference");
    else
        snprintf(out, n, "images[%d]", i);
}

/* An embedded image must be a supported image of an accepted size now (a 400 beats a failed
 * task). Only its header is read (core/imagehead): the render decodes the picture. Fills *w,*h. */
static int check_image_head(const unsigned char *bytes, size_t len, const char *param, int *w,
                            int *h, vg_err *err)
{
    char why[256] = "";
    int rc = vg_imagehead_size(bytes, len, w, h, why, sizeof why);
    if (rc == 0 && (*w < VG_IMAGE_MIN_SIDE_PX || *h < VG_IMAGE_MIN_SIDE_PX ||
                    *w > VG_IMAGE_MAX_SIDE_PX || *h > VG_IMAGE_MAX_SIDE_PX)) {
        snprintf(why, sizeof why, "image is %dx%d pixels; each side must be %d..%d", *w, *h,
                 VG_IMAGE_MIN_SIDE_PX, VG_IMAGE_MAX_SIDE_PX);
        rc = -1;
    }
    if (rc)
        return vg_err_set(err, 400, "invalid_image", param, "%s is not a decodable image%s%s",
                          param, why[0] ? ": " : "", why);
    return 0;
}

/* A submit on its way: what the off-loop staging of its inline media needs, and what the parked
 * request needs to finish. The spec is the thread's until `staged`, then the loop's. */
typedef struct {
    atomic_int refs;    /* the request's anchor and the staging thread */
    atomic_bool staged; /* the thread is done with the spec (err set on failure) */
    const char *data_dir, *tmp_dir;
    vg_content *content; /* a bucket the media are also uploaded to (NULL: none) */
    vg_task_spec spec;
    char param[VG_MAX_MEDIA_ITEMS][96]; /* each medium's field, for error messages */
    vg_err err;
    char task_id[48];
    char *idem_key; /* NULL without Idempotency-Key */
    char hash[65];  /* with uploads, set by the staging thread */
    vg_submit_reply_fn reply;
    vg_api_uploads up;  /* file parts the body names (owned) */
    char (*up_sha)[65]; /* each part's SHA-256 once staged or hashed ("" before) */
    char *hash_text;    /* with uploads and a key: the route and body that the digests complete */
    bool replay_only;   /* the key has a record: only the hash is needed (see the file comment) */
} submit_job;

static void job_release(submit_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    vg_task_spec_free(&j->spec);
    vg_api_uploads_free(&j->up);
    free(j->up_sha);
    free(j->hash_text);
    free(j->idem_key);
    free(j);
}

void vg_api_uploads_free(vg_api_uploads *up)
{
    for (int i = 0; i < up->n; i++)
        free(up->part[i].bytes);
    free(up->part);
    up->part = NULL;
    up->n = 0;
}

/* The bytes of an inline medium: judged, stored as content, and named by their hash (sha). */
static int stage_bytes(submit_job *j, vg_media *m, const char *param, const unsigned char *bytes,
                       size_t len, char sha[65])
{
    char ref[VG_ASSET_REF_MAX];
    int w = 0, h = 0;
    if (m->type == VG_MEDIA_IMAGE && check_image_head(bytes, len, param, &w, &h, &j->err))
        return -1;
    if (vg_assets_put_content(j->content, j->data_dir, j->tmp_dir, bytes, len, sha) != VG_OK) {
        vg_err_set(&j->err, 500, "internal_error", "", "internal error");
        return -1;
    }
    if (m->role == VG_ROLE_FIRST_FRAME && j->spec.ratio == VG_RATIO_ADAPTIVE)
        j->spec.ratio = vg_ratio_closest(w, h);
    vg_asset_ref_format(VG_ASSET_INLINE_ID, sha, ref);
    free(m->url);
    m->url = vg_strdup(ref);
    return 0;
}

/* One data: medium: decoded, then staged. */
static int stage_data_url(submit_job *j, vg_media *m, const char *param)
{
    static const char *const noun[] = {"image", "video", "audio"};
    char mime[64], sha[65];
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = -1;
    if (vg_dataurl_decode(m->url, mime, &bytes, &len))
        vg_err_set(&j->err, 400, m->type == VG_MEDIA_IMAGE ? "invalid_image" : "invalid_parameter",
                   param, "%s is not a base64 data: URL of an %s", param, noun[m->type]);
    else
        rc = stage_bytes(j, m, param, bytes, len, sha);
    free(bytes);
    return rc;
}

/* The upload a medium's URL names, or -1 when it names none. */
static int upload_index(const submit_job *j, const char *url)
{
    size_t n = strlen(j->up.prefix);
    if (!j->up.n || strncmp(url, j->up.prefix, n)) return -1;
    char *end;
    long k = strtol(url + n, &end, 10);
    return end != url + n && *end == '\0' && k >= 0 && k < j->up.n ? (int)k : -1;
}

/* One uploaded file part: staged as it came (its digest kept for the body hash). */
static int stage_upload(submit_job *j, vg_media *m, const char *param, int k)
{
    return stage_bytes(j, m, param, j->up.part[k].bytes, j->up.part[k].len, j->up_sha[k]);
}

/* The body hash of a submit with uploads and a key: the blanked body, then each part's digest
 * (hashed here when no medium staged it). */
static void hash_uploads(submit_job *j)
{
    size_t n = strlen(j->hash_text) + 1 + (size_t)j->up.n * 65;
    char *text = vg_malloc(n + 1), *p = text + snprintf(text, n + 1, "%s\n", j->hash_text);
    for (int k = 0; k < j->up.n; k++) {
        if (!j->up_sha[k][0]) vg_sha256_hex(j->up.part[k].bytes, j->up.part[k].len, j->up_sha[k]);
        p += snprintf(p, (size_t)(text + n + 1 - p), "%s ", j->up_sha[k]);
    }
    vg_sha256_hex(text, strlen(text), j->hash);
    free(text);
}

/* The staging thread (or the caller's, without a pool): every inline medium, then the news. */
static void stage_media(void *arg)
{
    submit_job *j = arg;
    for (int i = 0; i < j->spec.n_media && !j->replay_only; i++) {
        vg_media *m = &j->spec.media[i];
        int k = upload_index(j, m->url);
        int rc = k >= 0                             ? stage_upload(j, m, j->param[i], k)
                 : strncmp(m->url, "data:", 5) == 0 ? stage_data_url(j, m, j->param[i])
                                                    : 0;
        if (rc) break;
    }
    if (j->hash_text && !j->err.http_status) hash_uploads(j);
    atomic_store(&j->staged, true);
    vg_taskwatch_notify(j->task_id);
    job_release(j);
}

static bool has_inline_media(const submit_job *j)
{
    for (int i = 0; i < j->spec.n_media; i++)
        if (strncmp(j->spec.media[i].url, "data:", 5) == 0 ||
            upload_index(j, j->spec.media[i].url) >= 0)
            return true;
    return false;
}

/* What the spec cannot check alone (web URLs were judged by the one URL policy in vg_spec_parse):
 * asset:// references; data: media are left to stage_media. */
static int check_media(vg_ctx *c, const json_t *body, vg_task_spec *s, vg_err *err)
{
    for (int i = 0; i < s->n_media; i++) {
        vg_media *m = &s->media[i];
        char param[96];
        media_param(body, m, i, param, sizeof param);
        if (strncmp(m->url, "asset://", 8) == 0 && vg_api_asset_media(c, m, param, s, err))
            return -1;
    }
    /* Adaptive without an image follows 16:9 (spec §2). */
    if (s->ratio == VG_RATIO_ADAPTIVE && !vg_task_spec_has_role(s, VG_ROLE_FIRST_FRAME) &&
        !vg_task_spec_has_role(s, VG_ROLE_REFERENCE_IMAGE))
        s->ratio = VG_RATIO_16_9;
    return 0;
}

static bool model_allowed(const vg_key *k, const char *model)
{
    if (!k->allowed_models) return true;
    json_t *arr = json_loads(k->allowed_models, 0, NULL);
    bool ok = false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) ok =
        ok || (json_is_string(v) && !strcmp(json_string_value(v), model));
    json_decref(arr);
    return ok;
}

/* The task row of a validated spec, priced by core/billing. VG_NOTFOUND: the model left the table. */
static int fill_task(vg_ctx *c, const vg_task_spec *s, const char *id, vg_task *t)
{
    memset(t, 0, sizeof *t);
    vg_billing_hold hold;
    int rc = vg_billing_estimate(s, c->key.test_mode, &hold);
    if (rc != VG_OK) return rc;
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->key_id, sizeof t->key_id, "%s", c->key.id);
    snprintf(t->model, sizeof t->model, "%s", s->model);
    t->status = VG_TASK_QUEUED;
    t->created_at = t->updated_at = vg_now_s();
    t->seconds = s->seconds;
    t->resolution = s->resolution;
    t->ratio = s->ratio;
    t->seed = s->seed;
    t->width = hold.width;
    t->height = hold.height;
    t->hold_micro = hold.hold_micro;
    t->cost_micro = -1;
    t->test_mode = c->key.test_mode;
    return VG_OK;
}

static int reply_store_refusal(vg_ctx *c, int rc, const vg_task *t)
{
    if (rc == VG_NOFUNDS) {
        char need[32];
        snprintf(need, sizeof need, "%lld.%06lld", (long long)(t->hold_micro / 1000000),
                 (long long)(t->hold_micro % 1000000));
        return vg_reply_error(c, 402, "insufficient_quota", "",
                              "the available balance cannot cover this task (%s %s needed)", need,
                              ((const vg_api_env *)c->app)->currency);
    }
    if (rc == VG_LIMITED) {
        vg_err e = {0};
        vg_err_set(&e, 429, "too_many_active_tasks", "",
                   "this key has reached its maximum number of active tasks");
        e.retry_after_s = 5;
        return vg_reply_err(c, &e);
    }
    vg_error("submit: store refused task %s (%d)", t->id, rc);
    return vg_reply_internal(c);
}

/* The smallest hold the spec can get: an adaptive ratio is only known once the first frame's
 * header is read, so every ratio is tried. */
static int64_t cheapest_hold(const vg_task_spec *s, bool test_mode)
{
    vg_task_spec probe = *s; /* shallow: only read by the estimate */
    vg_billing_hold hold;
    int64_t best = INT64_MAX;
    for (int r = 0; r < VG_RATIO_COUNT; r++) {
        if (s->ratio != VG_RATIO_ADAPTIVE && r != (int)s->ratio) continue;
        if (r == VG_RATIO_ADAPTIVE) continue;
        probe.ratio = (vg_ratio)r;
        if (vg_billing_estimate(&probe, test_mode, &hold) == VG_OK && hold.hold_micro < best)
            best = hold.hold_micro;
    }
    return best == INT64_MAX ? 0 : best;
}

/* Key, model and funds come before any look at the media: a key that cannot pay costs one
 * store read, whatever it sends. The store's transaction remains the check that counts, so a
 * submit without media, whose next step is that transaction, trusts the key as authenticated
 * (http/keycache.h: at most a second old) when it says the funds suffice; the store is asked
 * only when it says they are short, since a credit may have come since. Reading the key on
 * every submit cost a tenth of a loop's time under a flood of text-only submits. */
static int precheck_key(vg_ctx *c, const vg_task_spec *s, bool media)
{
    if (!model_allowed(&c->key, s->model))
        return vg_reply_error(c, 403, "model_not_allowed", "model", "this key may not use model %s",
                              s->model),
               -1;
    vg_task t = {.hold_micro = cheapest_hold(s, c->key.test_mode)};
    if (t.hold_micro <= 0) return 0;
    if (!media && c->key.balance_micro - c->key.held_micro >= t.hold_micro) return 0;
    vg_key k;
    if (vg_store_key_get(c->store, c->key.id, &k) != VG_OK) return vg_reply_internal(c), -1;
    int64_t available = k.balance_micro - k.held_micro;
    vg_key_free(&k);
    if (available < t.hold_micro) return reply_store_refusal(c, VG_NOFUNDS, &t), -1;
    return 0;
}

/* Parses and validates a submit body into a spec (key, model and funds first, then asset://
 * references); replies on error. The media params of the job are filled for stage_media. */
static int prepare_spec(vg_ctx *c, const json_t *body, const char *default_model, submit_job *j)
{
    const vg_api_env *env = c->app;
    vg_err err = {0};
    vg_spec_opts opts = {.urls = env->urls,
                         .default_model = default_model,
                         .upload_prefix = j->up.n ? j->up.prefix : NULL};
    if (vg_spec_parse(body, &opts, &j->spec, &err) != VG_OK) return vg_reply_err(c, &err), -1;
    if (precheck_key(c, &j->spec, j->spec.n_media > 0 || j->up.n > 0)) return -1;
    if (check_media(c, body, &j->spec, &err)) return vg_reply_err(c, &err), -1;
    for (int i = 0; i < j->spec.n_media; i++)
        media_param(body, &j->spec.media[i], i, j->param[i], sizeof j->param[i]);
    return 0;
}

#define IDEM_WINDOW_S (24 * 3600)

/* Replays the recorded reply of an Idempotency-Key, or refuses a different body with 422.
 * Returns 1 when it replied, 0 when the key is unused. */
static int idem_replay(vg_ctx *c, const char *idem_key, const char *hash)
{
    char stored[65];
    char *response = NULL;
    int rc = vg_store_idem_get(c->store, c->key.id, idem_key, vg_now_s() - IDEM_WINDOW_S, stored,
                               &response);
    if (rc == VG_NOTFOUND) return 0;
    if (rc != VG_OK) return vg_reply_internal(c), 1;
    if (!vg_ct_streq(stored, hash)) {
        vg_reply_error(c, 422, "idempotency_key_reused", "Idempotency-Key",
                       "this Idempotency-Key was used with a different request body");
    } else {
        json_t *j = json_loads(response, 0, NULL);
        vg_ctx_header(c, "idempotent-replayed", "true");
        if (j)
            vg_reply_json(c, 200, j);
        else
            vg_reply_internal(c);
    }
    free(response);
    return 1;
}

/* What makes two submits "the same": the route and the body with keys sorted. The references
 * to uploads are blanked (their token differs per request; their digests are added later). */
static char *body_text(const char *route, const json_t *body, const vg_api_uploads *up)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    char *both = vg_asprintf("%s\n%s", route, text ? text : "");
    size_t n = strlen(up->prefix);
    for (char *p = both; up->n && (p = strstr(p, up->prefix)); p += n)
        memset(p, '*', n);
    free(text);
    return both;
}

/* Whether the key has a record (its reply to replay, or a 422); replies on a store error. */
static int idem_recorded(vg_ctx *c, const char *idem_key, bool *found)
{
    char stored[65];
    char *response = NULL;
    int rc = vg_store_idem_get(c->store, c->key.id, idem_key, vg_now_s() - IDEM_WINDOW_S, stored,
                               &response);
    free(response);
    *found = rc == VG_OK;
    if (rc == VG_OK || rc == VG_NOTFOUND) return 0;
    return vg_reply_internal(c), -1;
}

/* The reply to a submit once the store answered rc (on the request's loop, after the commit);
 * text is the body of a 200. */
static void submit_done(vg_ctx *c, int rc, const vg_task *t, const char *idem_key, const char *hash,
                        const char *text)
{
    if (rc == VG_OK) {
        vg_reply_json_text(c, 200, text, strlen(text));
    } else if (rc == VG_DUPLICATE && idem_key && idem_replay(c, idem_key, hash)) {
        /* a concurrent twin committed first (maybe in the same batch): its reply was replayed */
    } else {
        reply_store_refusal(c, rc, t);
    }
}

/* A submit waiting for its group commit: everything submit_done() needs, owned. */
typedef struct {
    vg_batch_job job;
    vg_deferred *parked;
    vg_task t;
    vg_idem idem;
    char *idem_key, *text;
    char hash[65];
} commit_job;

static void commit_job_free(commit_job *j)
{
    free(j->text);
    free(j->idem_key);
    vg_task_free(&j->t);
    free(j);
}

/* On the writer thread, after the commit: back to the request's loop. */
static void submit_committed(vg_batch_job *job)
{
    commit_job *j = (commit_job *)job;
    vg_defer_complete(j->parked);
}

/* On the loop (c NULL: the request is gone). */
static void submit_answer(vg_ctx *c, void *data)
{
    commit_job *j = data;
    if (c) submit_done(c, j->job.req.rc, &j->t, j->idem_key, j->hash, j->text);
    commit_job_free(j);
}

/* Hands t and text (moved) to the group commit; false when this thread cannot park (then they
 * are the caller's still). */
static bool submit_batched(vg_ctx *c, vg_task *t, const char *idem_key, const char *hash,
                           char *text)
{
    struct vg_store_batch *b = ((const vg_api_env *)c->app)->submits;
    if (!b) return false;
    commit_job *j = vg_calloc(1, sizeof *j);
    j->parked = vg_defer_park(c, submit_answer, j);
    if (!j->parked) {
        free(j);
        return false;
    }
    j->t = *t;
    memset(t, 0, sizeof *t);
    j->text = text;
    snprintf(j->hash, sizeof j->hash, "%s", hash);
    j->idem_key = idem_key ? vg_strdup(idem_key) : NULL;
    j->idem = (vg_idem){.key = j->idem_key, .body_hash = j->hash, .response = j->text};
    j->job.req = (vg_task_create_req){&j->t, c->key.max_active_tasks, idem_key ? &j->idem : NULL};
    j->job.done = submit_committed;
    vg_store_batch_submit(b, &j->job);
    return true;
}

/* The end of a submit, on the loop, once its media are staged: the task row, its one-transaction
 * insert (hold, idempotency record) and the reply, through the group commit when `batch` (a
 * request not parked already). Always replies. */
static void finish_submit(vg_ctx *c, submit_job *j, bool batch)
{
    if (j->err.http_status) {
        vg_reply_err(c, &j->err);
        return;
    }
    if (j->replay_only) {
        if (idem_replay(c, j->idem_key, j->hash)) return;
        /* The record left the window while the parts were hashed: the retry goes through. */
        vg_err e = {0};
        vg_err_set(&e, 503, "unavailable", "", "the server cannot take this task now; try again");
        e.retry_after_s = 1;
        vg_reply_err(c, &e);
        return;
    }
    vg_task_spec *s = &j->spec;
    if (s->seed < 0) {
        uint32_t r;
        vg_random_bytes(&r, sizeof r);
        s->seed = r;
    }
    vg_task t;
    if (fill_task(c, s, j->task_id, &t) != VG_OK) {
        vg_error("submit: model %s has no price", s->model);
        vg_reply_internal(c);
        return;
    }
    json_t *params = vg_task_spec_to_json(s);
    t.params = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    /* The reply, also what an Idempotency-Key's record replays. */
    char *text = j->reply(c, &t);
    if (!text) {
        vg_task_free(&t);
        vg_reply_internal(c);
        return;
    }
    if (batch && submit_batched(c, &t, j->idem_key, j->hash, text)) return;
    vg_idem idem = {.key = j->idem_key, .body_hash = j->hash, .response = text};
    int rc =
        vg_store_task_create(c->store, &t, c->key.max_active_tasks, j->idem_key ? &idem : NULL);
    if (rc == VG_OK) vg_api_env_wake(c->app);
    submit_done(c, rc, &t, j->idem_key, j->hash, text);
    free(text);
    vg_task_free(&t);
}

/* The parked request (http/longpoll.h) of a submit whose media are being staged. */
static bool on_staged(vg_ctx *c, void *data, vg_wait_event ev)
{
    submit_job *j = *(submit_job **)data;
    if (atomic_load(&j->staged)) {
        finish_submit(c, j, false);
        return true;
    }
    if (ev == VG_WAIT_CHANGED) return false;
    /* Staging takes well under the wait (a minute): the server is stopping or overloaded. */
    vg_err e = {0};
    vg_err_set(&e, 503, "unavailable", "", "the server cannot take this task now; try again");
    e.retry_after_s = 5;
    vg_reply_err(c, &e);
    return true;
}

/* The request's reference to its job, dropped when the request ends (however it ends). */
static void drop_anchor(void *p)
{
    job_release(*(submit_job **)p);
}

/* Stages the job's inline media off the loop and parks the request until they are stored. */
static void stage_and_park(vg_ctx *c, submit_job *j)
{
    const vg_api_env *env = c->app;
    j->data_dir = env->data_dir;
    j->content = env->content;
    j->tmp_dir = env->tmp_dir;
    atomic_init(&j->refs, 2);
    submit_job **anchor = h2o_mem_alloc_shared(&c->req->pool, sizeof *anchor, drop_anchor);
    *anchor = j;
    vg_assets_offload(stage_media, j);
    if (vg_longpoll_park(c, j->task_id, VG_MAX_WAIT_S, on_staged, &j, sizeof j) != VG_OK) {
        vg_error("submit: cannot park task %s while its media are stored", j->task_id);
        vg_reply_internal(c);
    }
}

/* The Idempotency-Key of a submit: replayed (or refused) here, or kept in j. Returns 1 when it
 * replied; with uploads, j->replay_only is set instead of replaying (see the file comment). */
static int take_idem_key(vg_ctx *c, const json_t *body, const char *route, submit_job *j)
{
    const char *idem_key = vg_ctx_req_header(c, "idempotency-key");
    if (!idem_key) return 0;
    size_t n = strlen(idem_key);
    if (n == 0 || n > VG_MAX_IDEMPOTENCY_KEY_BYTES)
        return vg_reply_error(c, 400, "invalid_parameter", "Idempotency-Key",
                              "Idempotency-Key must be 1 to %d bytes",
                              VG_MAX_IDEMPOTENCY_KEY_BYTES),
               1;
    char *text = body_text(route, body, &j->up);
    if (j->up.n) {
        j->hash_text = text;
        if (idem_recorded(c, idem_key, &j->replay_only)) return 1;
    } else {
        vg_sha256_hex(text, strlen(text), j->hash);
        free(text);
        if (idem_replay(c, idem_key, j->hash)) return 1;
    }
    j->idem_key = vg_strdup(idem_key);
    return 0;
}

int vg_api_submit_task(vg_ctx *c, const json_t *body, const char *route, const char *default_model,
                       vg_submit_reply_fn reply)
{
    vg_api_uploads none = {.n = 0};
    return vg_api_submit_uploads(c, body, &none, route, default_model, reply);
}

int vg_api_submit_uploads(vg_ctx *c, const json_t *body, vg_api_uploads *up, const char *route,
                          const char *default_model, vg_submit_reply_fn reply)
{
    submit_job *j = vg_calloc(1, sizeof *j);
    atomic_init(&j->refs, 1);
    j->reply = reply;
    j->up = *up;
    *up = (vg_api_uploads){.n = 0};
    j->up_sha = vg_calloc(j->up.n ? (size_t)j->up.n : 1, sizeof *j->up_sha);
    if (take_idem_key(c, body, route, j)) goto out;
    /* A retry of an upload is not validated: its record answers (see the file comment). */
    if (!j->replay_only && prepare_spec(c, body, default_model, j)) goto out;
    vg_id_new("task_", j->task_id);
    /* With uploads and a key, the thread completes the hash even when no medium needs it. */
    if (has_inline_media(j) || j->hash_text) {
        stage_and_park(c, j); /* takes over j's reference */
        return 0;
    }
    finish_submit(c, j, true);
out:
    job_release(j);
    return 0;
}

static char *submitted_reply(vg_ctx *c, const vg_task *t)
{
    (void)c;
    return vg_task_json_submitted_text(t);
}

static int submit(vg_ctx *c)
{
    json_t *body = NULL;
    if (vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body)) return 0;
    vg_api_submit_task(c, body, "native", NULL, submitted_reply);
    json_decref(body);
    return 0;
}

int vg_api_load_task(vg_ctx *c, const char *id, vg_task *t)
{
    int rc = vg_store_task_get(c->store, id, c->key.id, t);
    if (rc == VG_OK) return 0;
    if (rc == VG_NOTFOUND)
        vg_reply_error(c, 404, "task_not_found", "task_id", "no task %s", id);
    else
        vg_reply_internal(c);
    return -1;
}

/* ?format= of GET /v1/video/generations/{id}: absent = the native object (spec §3). */
static const vg_taskwait_view native_view = {vg_api_load_task, vg_task_json, vg_task_status_public};
static const struct {
    const char *name;
    vg_taskwait_view view;
} task_formats[] = {
    {"envelope", {vg_api_load_task, vg_task_json_envelope, vg_envelope_status}},
};

static int get_task(vg_ctx *c)
{
    const char *format = vg_ctx_query(c, "format");
    const vg_taskwait_view *view = format ? NULL : &native_view;
    for (size_t i = 0; format && i < sizeof task_formats / sizeof task_formats[0]; i++)
        if (!strcmp(task_formats[i].name, format)) view = &task_formats[i].view;
    if (!view)
        return vg_reply_error(c, 400, "invalid_parameter", "format", "format must be envelope");
    return vg_api_get_task_waiting(c, view);
}

/* Parses ?limit= (1..100, default 20); replies 400 on a bad value. */
int vg_api_query_limit(vg_ctx *c, int *limit)
{
    int64_t n;
    if (vg_ctx_query_int(c, "limit", 1, VG_MAX_LIST_LIMIT, 20, &n)) return -1;
    *limit = (int)n;
    return 0;
}

static json_t *id_or_null(const vg_task *ts, size_t n, size_t i)
{
    return n ? json_string(ts[i].id) : json_null();
}

int vg_api_reply_task_list(vg_ctx *c, const vg_task_filter *f, vg_reply_fn render)
{
    vg_task *ts = NULL;
    size_t n = 0;
    bool more = false;
    if (vg_store_task_list(c->store, f, &ts, &n, &more)) return vg_reply_internal(c);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render(c, &ts[i]));
    json_t *list = json_pack("{s:s, s:o, s:o, s:o, s:b}", "object", "list", "data", data,
                             "first_id", id_or_null(ts, n, 0), "last_id",
                             id_or_null(ts, n, n ? n - 1 : 0), "has_more", more);
    for (size_t i = 0; i < n; i++)
        vg_task_free(&ts[i]);
    free(ts);
    return vg_reply_json(c, 200, list);
}

static json_t *native_json(vg_ctx *c, const vg_task *t)
{
    return vg_task_json(c->app, t);
}

static int list_tasks(vg_ctx *c)
{
    vg_task_filter f = {.key_id = c->key.id, .status = -1, .after = vg_ctx_query(c, "after")};
    if (vg_api_query_limit(c, &f.limit)) return 0;
    const char *st = vg_ctx_query(c, "status");
    if (st && (f.status = vg_task_status_parse(st)) < 0)
        return vg_reply_error(c, 400, "invalid_parameter", "status",
                              "status must be queued, running, completed, failed or cancelled");
    return vg_api_reply_task_list(c, &f, native_json);
}

/* Removes a finished task's files: marked in the store first, so a crash between the two leaves
 * only unreachable files (the content routes already answer 410). */
int vg_api_delete_content(vg_ctx *c, const vg_task *t)
{
    const vg_api_env *env = c->app;
    if (vg_store_task_mark_deleted(c->store, t->id, c->key.id, vg_now_s()) != VG_OK) return -1;
    char dir[1400];
    snprintf(dir, sizeof dir, "%s/%s", env->files_dir, t->id);
    if (vg_rm_rf(dir)) vg_warn("task %s: could not remove %s", t->id, dir);
    /* A bucket's copies go on a content worker: the event loop does not wait for the bucket. */
    if (env->content) vg_content_delete_task_later(env->content, t->id);
    return 0;
}

/* Cancels a queued task or deletes a finished task's files. Replies 409 for a running task.
 * Returns 0 and reloads *t on success; replies and returns -1 otherwise. */
int vg_api_cancel_or_delete(vg_ctx *c, vg_task *t)
{
    int rc = VG_OK;
    if (t->status == VG_TASK_QUEUED || t->status == VG_TASK_DISPATCHING)
        rc = vg_store_task_cancel(c->store, t->id, c->key.id, vg_now_s());
    else if (vg_task_status_final(t->status))
        rc = t->content_deleted ? VG_OK : vg_api_delete_content(c, t);
    else
        rc = VG_CONFLICT;
    if (rc == VG_CONFLICT)
        return vg_reply_error(c, 409, "task_not_cancellable", "task_id",
                              "task %s is already running and cannot be cancelled", t->id),
               -1;
    if (rc != VG_OK) return vg_reply_internal(c), -1;
    char id[48];
    snprintf(id, sizeof id, "%s", t->id);
    vg_task_free(t);
    return vg_api_load_task(c, id, t);
}

static int delete_task(vg_ctx *c)
{
    vg_task t;
    if (vg_api_load_task(c, c->params[0], &t)) return 0;
    if (vg_api_cancel_or_delete(c, &t) == 0) vg_reply_json(c, 200, vg_task_json(c->app, &t));
    vg_task_free(&t);
    return 0;
}

const vg_route vg_routes_tasks[] = {
    {"POST", "/v1/video/generations", VG_AUTH_USER, submit},
    {"GET", "/v1/video/generations", VG_AUTH_KEY, list_tasks},
    {"GET", "/v1/video/generations/{id}", VG_AUTH_KEY, get_task},
    {"DELETE", "/v1/video/generations/{id}", VG_AUTH_KEY, delete_task},
};
const size_t vg_routes_tasks_n = sizeof vg_routes_tasks / sizeof vg_routes_tasks[0];
