/*
 * ark_provider.c - the vg_provider_ark operations (provider.h) over the Ark protocol (ark.h).
 *
 * Each operation is one blocking exchange on the caller's vg_http_client (find may read a few
 * list pages). Nothing is retried here: the dispatcher owns retries, because only it knows
 * whether a retry could submit twice. Every list call (poll's batch refresh and find's search by
 * client token) goes through list_page().
 *
 * Submit shapes the request for Ark first: asset:// media (assets, and the inline media of a
 * submit, stored as content since) mean nothing to an upstream, so images and audio travel
 * inline as data: URLs (their media type sniffed from the bytes) and videos as
 * presigned vidgate links (which Ark must be able to reach: env->public_url); our task TTL becomes
 * execution_expires_after within Ark's range; the callback URL is Ark's route on public_url. An
 * input that cannot be shaped fails the submit as VG_UP_UNSENDABLE before anything is sent.
 */
#include "providers/ark.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/metrics.h"
#include "common/mime.h"
#include "common/status.h"
#include "core/asset.h"
#include "core/presign.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failure decided here, before or without a call. */
static void set_error(vg_up_error *err, vg_up_class cls, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(vg_up_error *err, vg_up_class cls, const char *code, const char *fmt, ...)
{
    memset(err, 0, sizeof *err);
    err->cls = cls;
    err->retry_after_s = -1;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void url_error(vg_up_error *err)
{
    set_error(err, VG_UP_REFUSED, "internal_error", "the upstream URL is too long");
}

/* An answered call whose reply does not have the expected shape: for a create, whether a task
 * exists is unknown, so it is ambiguous like a lost reply. */
static void malformed(vg_up_error *err, const char *message)
{
    err->cls = VG_UP_AMBIGUOUS;
    snprintf(err->code, sizeof err->code, "upstream_malformed_reply");
    if (message) snprintf(err->message, sizeof err->message, "%s", message);
}

/* Counts one call in the metrics: its kind from the method (a GET with a query is a list). */
static void count(const vg_upstream_endpoint *ep, const char *method, const char *url,
                  vg_up_class cls)
{
    vg_metric_up_kind kind = !strcmp(method, "POST")     ? VG_MU_CREATE
                             : !strcmp(method, "DELETE") ? VG_MU_DELETE
                             : strchr(url, '?')          ? VG_MU_LIST
                                                         : VG_MU_GET;
    static const vg_metric_up_result result[] = {
        [VG_UP_OK] = VG_MU_OK,
        [VG_UP_UNSENDABLE] = VG_MU_REFUSED,
        [VG_UP_REFUSED] = VG_MU_REFUSED,
        [VG_UP_TRANSIENT] = VG_MU_TRANSIENT,
        [VG_UP_AMBIGUOUS] = VG_MU_AMBIGUOUS,
        [VG_UP_NOTFOUND] = VG_MU_OK, /* an answer: the upstream does not know the task */
    };
    vg_metrics_upstream(ep->name ? ep->name : "", kind, result[cls]);
}

/* One exchange; the reply is classified into err and, when OK, parsed into *json. */
static void call(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *method,
                 const char *url, const char *body, json_t **json, vg_up_error *err)
{
    vg_http_req rq = {.method = method,
                      .url = url,
                      .bearer = ep->api_key,
                      .body = body,
                      .timeout_ms = ep->timeout_ms};
    vg_http_resp rs;
    vg_http_do(hc, &rq, &rs);
    vg_ark_classify(&rs, err);
    if (json) *json = NULL;
    if (err->cls == VG_UP_OK && json) {
        *json = json_loadb(rs.body, rs.body_len, 0, NULL);
        if (!json_is_object(*json)) {
            json_decref(*json);
            *json = NULL;
            /* Readers treat this like any other failed read. */
            malformed(err, "the upstream reply is not JSON");
        }
    }
    count(ep, method, url, err->cls); /* after the parse: a malformed reply is an error */
    vg_http_resp_free(&rs);
}

/* ---- submit ------------------------------------------------------------------------------- */

/* One asset:// medium as Ark can take it: a presigned link (video) or a data: URL. */
static char *inline_asset(const vg_up_env *env, const vg_media *m, vg_up_error *err)
{
    char id[VG_ASSET_ID_MAX], sha[65], msg[256] = "";
    if (m->type == VG_MEDIA_VIDEO) {
        if (!env->public_url[0] || vg_asset_ref_parse(m->url, id, sha)) {
            set_error(err, VG_UP_UNSENDABLE, "asset_unreachable",
                      "a video asset needs public_url for the upstream to fetch it");
            return NULL;
        }
        char *url = vg_malloc(2048);
        vg_presign_url(env->secret, env->public_url, "assets", id, "content",
                       vg_now_s() + VG_ASSET_URL_TTL_S, url, 2048);
        return url;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    const char *code = NULL;
    if (vg_media_load(&env->media, m->url, &bytes, &len, &code, msg, sizeof msg) != VG_OK) {
        set_error(err, VG_UP_UNSENDABLE, code ? code : "asset_not_found", "%s", msg);
        return NULL;
    }
    /* Bytes of no known type keep at least their kind (an inline audio file in a format not
     * sniffed here was sent as data:audio/…; its stored copy has no declared type any more). */
    const char *mime = vg_mime_sniff(bytes, len);
    if (!mime) mime = m->type == VG_MEDIA_AUDIO ? "audio/mpeg" : vg_ark_sniff_mime(bytes, len);
    char *b64 = vg_base64_encode(bytes, len);
    char *url = vg_asprintf("data:%s;base64,%s", mime, b64);
    free(b64);
    free(bytes);
    return url;
}

/* The spec as it is sent: wire is a shallow copy of spec whose asset:// URLs are replaced by
 * new strings (owned[i] set); free those with drop_wire(). */
static int shape_media(const vg_up_env *env, const vg_task_spec *spec, vg_task_spec *wire,
                       bool *owned, vg_up_error *err)
{
    *wire = *spec;
    for (int i = 0; i < spec->n_media; i++) {
        if (strncmp(spec->media[i].url, "asset://", 8)) continue;
        char *url = inline_asset(env, &spec->media[i], err);
        if (!url) return VG_INVALID;
        wire->media[i].url = url;
        owned[i] = true;
    }
    return VG_OK;
}

static void drop_wire(vg_task_spec *wire, const bool *owned)
{
    for (int i = 0; i < wire->n_media; i++)
        if (owned[i]) free(wire->media[i].url);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void ark_submit(const vg_upstream_endpoint *ep, vg_http_client *hc, const vg_up_env *env,
                       const vg_task *t, const vg_task_spec *spec, const vg_up_submit *o, char *id,
                       size_t cap, vg_up_error *err)
{
    char url[2048], cb[1024] = "";
    vg_task_spec wire;
    bool owned[VG_MAX_MEDIA_ITEMS] = {false};
    json_t *reply = NULL;
    if (shape_media(env, spec, &wire, owned, err) != VG_OK) goto out;
    if (vg_ark_task_url(ep->base_url, NULL, url, sizeof url)) {
        url_error(err);
        goto out;
    }
    if (env->public_url[0] && o->callback_token && o->callback_token[0])
        snprintf(cb, sizeof cb, "%s" VG_ARK_CALLBACK_PREFIX "%s?token=%s", env->public_url, t->id,
                 o->callback_token);
    vg_ark_create_opts ao = {.upstream_model = o->upstream_model,
                             .client_token = o->client_token,
                             .callback_url = cb[0] ? cb : NULL,
                             .expires_after_s =
                                 clamp64(o->ttl_s, VG_ARK_EXPIRES_MIN_S, VG_ARK_EXPIRES_MAX_S)};
    json_t *body = vg_ark_create_body(t, &wire, &ao);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    call(ep, hc, "POST", url, text, &reply, err);
    free(text);
    const char *got = json_string_value(json_object_get(reply, "id"));
    if (err->cls == VG_UP_OK && (!got || !*got || strlen(got) >= cap))
        malformed(err, "the create reply has no task id");
    else if (err->cls == VG_UP_OK)
        snprintf(id, cap, "%s", got);
out:
    json_decref(reply);
    drop_wire(&wire, owned);
}

/* ---- reading tasks ------------------------------------------------------------------------ */

static void ark_get(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *id,
                    vg_up_task *out, vg_up_error *err)
{
    char url[2048];
    memset(out, 0, sizeof *out);
    if (vg_ark_task_url(ep->base_url, id, url, sizeof url)) {
        url_error(err);
        return;
    }
    json_t *reply = NULL;
    call(ep, hc, "GET", url, NULL, &reply, err);
    if (err->http_status == 404) err->cls = VG_UP_NOTFOUND;
    if (err->cls == VG_UP_OK && vg_ark_task_parse(reply, out)) malformed(err, NULL);
    json_decref(reply);
}

/*
 * The one list call: page page_num of page_size tasks, filtered by task ids (n > 0) and/or by
 * model. Every task object of the page goes to visit(ctx, task), which owns it from then on and
 * returns true to stop reading the page. Returns how many items the page held (a short page is
 * the last one); err says how the call went.
 */
static size_t list_page(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *const *ids,
                        size_t n, const char *model, int page_num, int page_size,
                        bool (*visit)(void *ctx, vg_up_task *t), void *ctx, vg_up_error *err)
{
    char url[8192];
    if (vg_ark_list_url(ep->base_url, ids, n, model, page_num, page_size, url, sizeof url)) {
        url_error(err);
        return 0;
    }
    json_t *reply = NULL;
    call(ep, hc, "GET", url, NULL, &reply, err);
    const json_t *items = json_object_get(reply, "items");
    if (err->cls == VG_UP_OK && !json_is_array(items)) malformed(err, NULL);
    size_t k, held = err->cls == VG_UP_OK ? json_array_size(items) : 0;
    const json_t *it;
    json_array_foreach(err->cls == VG_UP_OK ? items : NULL, k, it)
    {
        vg_up_task t;
        if (vg_ark_task_parse(it, &t) == 0 && visit(ctx, &t)) break;
    }
    json_decref(reply);
    return held;
}

typedef struct {
    const char *const *ids;
    size_t n;
    vg_up_task *out;
    bool *found;
} poll_ctx;

/* A task of the batch goes to its slot; anything else is dropped. */
static bool poll_visit(void *ctx, vg_up_task *t)
{
    poll_ctx *c = ctx;
    size_t i;
    for (i = 0; i < c->n && (c->found[i] || strcmp(c->ids[i], t->id)); i++)
        ;
    if (i == c->n) {
        vg_up_task_free(t);
        return false;
    }
    c->out[i] = *t;
    c->found[i] = true;
    return false;
}

static void ark_poll(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *const *ids,
                     size_t n, vg_up_task *out, bool *found, vg_up_error *err)
{
    memset(out, 0, n * sizeof *out);
    memset(found, 0, n * sizeof *found);
    poll_ctx c = {.ids = ids, .n = n, .out = out, .found = found};
    list_page(ep, hc, ids, n, NULL, 1, (int)(n ? n : 1), poll_visit, &c, err);
}

typedef struct {
    const char *token;
    int64_t since_s;
    vg_up_task *out;
    bool found, older;
} find_ctx;

/* A match of the client token ends the search; a task created before the attempt says that
 * later pages (newest first) can only hold older ones. */
static bool find_visit(void *ctx, vg_up_task *t)
{
    find_ctx *c = ctx;
    if (!strcmp(t->client_token, c->token)) {
        *c->out = *t;
        c->found = true;
        return true;
    }
    if (t->created_at && t->created_at < c->since_s) c->older = true;
    vg_up_task_free(t);
    return false;
}

static void ark_find(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *model,
                     const char *token, int64_t since_s, vg_up_task *out, vg_up_error *err)
{
    const int page_size = 500; /* Ark's largest page: fewest calls per lookup */
    memset(out, 0, sizeof *out);
    find_ctx c = {.token = token, .since_s = since_s - 60, .out = out};
    for (int page = 1; page <= VG_UPSTREAM_LOOKUP_PAGES; page++) {
        size_t held = list_page(ep, hc, NULL, 0, model, page, page_size, find_visit, &c, err);
        if (err->cls != VG_UP_OK || c.found) return;
        if (c.older || held < (size_t)page_size) break;
    }
    err->cls = VG_UP_NOTFOUND;
}

static void ark_cancel(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *id,
                       vg_up_error *err)
{
    char url[2048];
    if (vg_ark_task_url(ep->base_url, id, url, sizeof url)) {
        url_error(err);
        return;
    }
    vg_http_req rq = {
        .method = "DELETE", .url = url, .bearer = ep->api_key, .timeout_ms = ep->timeout_ms};
    vg_http_resp rs;
    vg_http_do(hc, &rq, &rs);
    vg_ark_classify(&rs, err); /* any 2xx body ("" or {}) is fine */
    if (err->http_status == 404) err->cls = VG_UP_NOTFOUND;
    vg_http_resp_free(&rs);
}

static const vg_upstream_ops ark_ops = {
    .submit = ark_submit,
    .poll = ark_poll,
    .get = ark_get,
    .find = ark_find,
    .cancel = ark_cancel,
};

const vg_provider vg_provider_ark = {.name = "ark", .upstream = &ark_ops};
