/* router.c - see router.h. */
#include "http/router.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/metrics.h"
#include "http/keycache.h"
#include "http/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vg_route_match(const char *pattern, const char *path, size_t path_len, vg_ctx *c)
{
    const char *p = pattern, *s = path, *end = path + path_len;
    int n = 0;
    while (*p && s < end) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg_end = memchr(s, '/', (size_t)(end - s));
            if (!seg_end) seg_end = end;
            size_t len = (size_t)(seg_end - s);
            if (!close || len == 0 || len >= sizeof c->params[0] || n >= 3) return 0;
            memcpy(c->params[n], s, len);
            c->params[n++][len] = '\0';
            p = close + 1;
            s = seg_end;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    if (*p || s != end) return 0;
    c->nparams = n;
    return 1;
}

static bool id_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
}

/* Echoes a sane client request id, or makes one. */
static void set_request_id(vg_ctx *c)
{
    const char *rid = vg_ctx_req_header(c, "x-request-id");
    size_t n = rid ? strlen(rid) : 0;
    bool ok = n > 0 && n <= VG_MAX_REQUEST_ID_BYTES;
    for (size_t i = 0; ok && i < n; i++)
        ok = id_char_ok(rid[i]);
    if (ok) {
        memcpy(c->request_id, rid, n + 1);
    } else {
        char id[VG_ID_MAX];
        vg_id_new_label("req_", id);
        snprintf(c->request_id, sizeof c->request_id, "%s", id);
    }
    vg_ctx_header(c, "x-request-id", c->request_id);
}

/* Looks the secret of an "Authorization: Bearer …" value up. VG_OK with the key in *k (caller
 * frees), VG_NOTFOUND when missing, unknown, revoked or expired, VG_AGAIN when the store is
 * unreachable for now (a shared database that went away), VG_ERR when the store failed. */
static vg_status check_key(vg_store *store, const char *h, vg_key *k)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) return VG_NOTFOUND;
    const char *secret = h + 7;
    while (*secret == ' ')
        secret++;
    char hash[VG_SHA256_HEX_LEN + 1];
    vg_sha256_hex(secret, strlen(secret), hash);
    int64_t now = vg_mono_ms();
    int rc = VG_OK;
    if (!vg_keycache_get(hash, now, k)) {
        unsigned long gen = vg_keycache_generation(); /* before the read: see keycache.h */
        rc = vg_store_key_by_hash(store, hash, k);
        if (rc == VG_AGAIN) return VG_AGAIN;
        if (rc != VG_OK && rc != VG_NOTFOUND) return VG_ERR;
        if (rc == VG_OK) vg_keycache_put(k, now, gen);
    }
    /* The lookup is by hash, so timing reveals nothing of the secret; the constant-time compare
     * makes the check independent of how the index found the row. */
    if (rc == VG_OK && vg_ct_streq(k->hash, hash) && !k->revoked &&
        (k->expires_at == 0 || k->expires_at > vg_now_s()))
        return VG_OK;
    return VG_NOTFOUND;
}

/* The store is out of reach (a shared database that went away): 503 with Retry-After, so that
 * clients come back once it is, which the node notices by itself. */
static int reply_unreachable(vg_ctx *c)
{
    vg_err e = {0};
    vg_err_set(&e, 503, "unavailable", "", "the store is not reachable: try again");
    e.retry_after_s = VG_UNAVAILABLE_RETRY_AFTER_S;
    return vg_reply_err(c, &e);
}

/* Takes one request from the key's bucket: the store's, shared by every node, when it keeps one
 * (PostgreSQL), else this process's (http/ratelimit.h). Keys without a limit cost nothing. */
static vg_status take_rate(vg_ctx *c, int *retry)
{
    int per_min = c->key.rate_limit_per_min;
    if (per_min <= 0) return VG_OK;
    vg_status rc = vg_store_rate_take(c->store, c->key.id, per_min, retry);
    if (rc != VG_INVALID) return rc;
    return vg_ratelimit_take(c->key.id, per_min, vg_mono_ms(), retry) ? VG_OK : VG_LIMITED;
}

static int authenticate(vg_ctx *c)
{
    const char *h = vg_ctx_req_header(c, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
        return vg_reply_error(c, 401, "invalid_api_key", "",
                              "missing API key: send Authorization: Bearer <key>"),
               -1;
    vg_status rc = check_key(c->store, h, &c->key);
    if (rc == VG_AGAIN) return reply_unreachable(c), -1;
    if (rc == VG_ERR) return vg_reply_internal(c), -1;
    if (rc != VG_OK)
        return vg_reply_error(c, 401, "invalid_api_key", "", "invalid, revoked or expired API key"),
               -1;
    /* A valid key on a route it may not use is authenticated but not authorised: 403. */
    if (c->route->auth == VG_AUTH_ADMIN && !c->key.is_admin)
        return vg_reply_error(c, 403, "permission_denied", "",
                              "this route needs the admin key (VIDGATE_ADMIN_KEY); this key is "
                              "a user key"),
               -1;
    if (c->route->auth == VG_AUTH_USER && c->key.is_admin)
        return vg_reply_error(c, 403, "permission_denied", "",
                              "the admin key cannot create tasks or assets; create a user key "
                              "(POST /admin/keys) and use that"),
               -1;
    int retry = 0;
    rc = take_rate(c, &retry);
    if (rc == VG_AGAIN) return reply_unreachable(c), -1;
    if (rc == VG_LIMITED) {
        vg_err e = {0};
        vg_err_set(&e, 429, "rate_limit_exceeded", "",
                   "this key is limited to %d requests per minute", c->key.rate_limit_per_min);
        e.retry_after_s = retry;
        return vg_reply_err(c, &e), -1;
    }
    if (rc != VG_OK) return vg_reply_internal(c), -1;
    return 0;
}

/* The routes that take a body over the JSON cap (spec §9: multipart and asset data). Every other
 * route, and a path that matches none, takes at most VG_MAX_JSON_BODY_BYTES. */
static const struct {
    const char *method, *path;
    size_t max_body_bytes;
} large_body_routes[] = {
    {"POST", "/v1/videos", VG_MAX_MULTIPART_BODY_BYTES},
    {"POST", "/v1/seedance/asset/CreateAsset", VG_MAX_MULTIPART_BODY_BYTES},
};

size_t vg_router_max_body(const char *method, size_t mlen, const char *path, size_t plen)
{
    const char *q = memchr(path, '?', plen);
    if (q) plen = (size_t)(q - path);
    for (size_t i = 0; i < sizeof large_body_routes / sizeof large_body_routes[0]; i++) {
        const char *m = large_body_routes[i].method, *p = large_body_routes[i].path;
        if (strlen(m) == mlen && !memcmp(m, method, mlen) && strlen(p) == plen &&
            !memcmp(p, path, plen))
            return large_body_routes[i].max_body_bytes;
    }
    return VG_MAX_JSON_BODY_BYTES;
}

vg_status vg_router_admit(vg_store *store, const vg_reqhead *h, bool *keyed, vg_err *e)
{
    *keyed = false;
    size_t cap = vg_router_max_body(h->method.base, h->method.len, h->path.base, h->path.len);
    if (h->has_length && h->length > cap)
        return vg_err_set(e, 413, "request_too_large", "", "request body is larger than %zu bytes",
                          cap),
               VG_ERR;
    char auth[512];
    vg_status rc = VG_NOTFOUND;
    if (store && h->authorization.len && h->authorization.len < sizeof auth) {
        memcpy(auth, h->authorization.base, h->authorization.len);
        auth[h->authorization.len] = '\0';
        vg_key k;
        memset(&k, 0, sizeof k);
        rc = check_key(store, auth, &k);
        vg_key_free(&k);
    }
    *keyed = rc == VG_OK;
    /* A chunked body to a JSON route is capped by h2o at the JSON cap on an anonymous
     * connection; to an upload route it may grow past it, so it needs the key like a large one. */
    bool large = (h->chunked && cap > VG_MAX_JSON_BODY_BYTES) ||
                 (h->has_length && h->length > VG_MAX_JSON_BODY_BYTES);
    if (large && (rc == VG_ERR || rc == VG_AGAIN)) {
        vg_err_set(e, 503, "unavailable", "", "try again");
        e->retry_after_s = VG_UNAVAILABLE_RETRY_AFTER_S;
        return VG_ERR;
    }
    if (large && !*keyed)
        return vg_err_set(e, 401, "invalid_api_key", "",
                          "a request body over %u bytes needs a valid API key: send "
                          "Authorization: Bearer <key>",
                          VG_MAX_JSON_BODY_BYTES),
               VG_ERR;
    return VG_OK;
}

static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->path.len + req->method.len;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

/* The table given to the metrics; a request's route is counted by its index in it. */
static const vg_route *metric_routes;
static size_t metric_n;

void vg_router_metrics_init(const vg_router *r)
{
    const char **methods = vg_calloc(r->n_routes + 1, sizeof *methods);
    const char **patterns = vg_calloc(r->n_routes + 1, sizeof *patterns);
    for (size_t i = 0; i < r->n_routes; i++) {
        methods[i] = r->routes[i].method;
        patterns[i] = r->routes[i].pattern;
    }
    vg_metrics_http_routes(r->n_routes, methods, patterns);
    free(methods);
    free(patterns);
    metric_routes = r->routes;
    metric_n = r->n_routes;
}

void vg_router_log_access(const vg_ctx *c)
{
    h2o_req_t *req = c->req;
    uintptr_t at = (uintptr_t)c->route, base = (uintptr_t)metric_routes;
    int route = c->route && at >= base && at < base + metric_n * sizeof *metric_routes
                    ? (int)((at - base) / sizeof *metric_routes)
                    : -1;
    vg_metrics_http_request(route, req->method.base, req->method.len, req->res.status,
                            vg_mono_us() - c->start_us);
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    /* The query is left out: presigned URLs carry their signature there. */
    vg_log_access(&(vg_log_access_entry){.method = req->method.base,
                                         .method_len = (int)req->method.len,
                                         .path = req->path.base,
                                         .path_len = (int)plen,
                                         .status = req->res.status,
                                         .ms = vg_mono_ms() - c->start_ms,
                                         .key_id = c->key.id,
                                         .request_id = c->request_id});
}

static void dispatch(const vg_router *r, vg_ctx *c)
{
    h2o_req_t *req = c->req;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    bool path_known = false;
    for (size_t i = 0; i < r->n_routes; i++) {
        const vg_route *rt = &r->routes[i];
        if (!vg_route_match(rt->pattern, req->path.base, plen, c)) continue;
        path_known = true;
        if (strlen(rt->method) != req->method.len ||
            memcmp(rt->method, req->method.base, req->method.len) != 0)
            continue;
        c->route = rt;
        if (rt->auth != VG_AUTH_NONE && authenticate(c)) return;
        rt->fn(c);
        return;
    }
    if (path_known)
        vg_reply_error(c, 405, "method_not_allowed", "", "method %.*s is not allowed here",
                       (int)req->method.len, req->method.base);
    else
        vg_reply_error(c, 404, "not_found", "", "no such route: %.*s", (int)plen, req->path.base);
}

int vg_router_handle(const vg_router *r, h2o_req_t *req, void *app, vg_store *store)
{
    vg_ctx c;
    memset(&c, 0, sizeof c);
    c.start_ms = vg_mono_ms();
    c.start_us = vg_mono_us();
    c.req = req;
    c.app = app;
    c.store = store;
    set_request_id(&c);
    if (header_bytes(req) > VG_MAX_HEADER_BYTES)
        vg_reply_error(&c, 431, "request_too_large", "", "request headers exceed %u bytes",
                       VG_MAX_HEADER_BYTES);
    else
        dispatch(r, &c);
    if (c.parked) return 0; /* answered later; the parked copy logs and frees */
    vg_router_log_access(&c);
    vg_key_free(&c.key);
    return 0;
}
