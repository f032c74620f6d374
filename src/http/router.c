/* router.c - see router.h. */
#include "http/router.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "http/keycache.h"
#include "http/ratelimit.h"

#include <stdio.h>
#include <string.h>

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
        vg_id_new("req_", id);
        snprintf(c->request_id, sizeof c->request_id, "%s", id);
    }
    vg_ctx_header(c, "x-request-id", c->request_id);
}

static int authenticate(vg_ctx *c)
{
    const char *h = vg_ctx_req_header(c, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
        return vg_reply_error(c, 401, "invalid_api_key", "",
                              "missing API key: send Authorization: Bearer <key>"),
               -1;
    const char *secret = h + 7;
    while (*secret == ' ')
        secret++;
    char hash[VG_SHA256_HEX_LEN + 1];
    vg_sha256_hex(secret, strlen(secret), hash);
    int64_t now = vg_mono_ms();
    int rc = VG_OK;
    if (!vg_keycache_get(hash, now, &c->key)) {
        rc = c->store->ops->key_by_hash(c->store, hash, &c->key);
        if (rc == VG_ERR) return vg_reply_internal(c), -1;
        if (rc == VG_OK) vg_keycache_put(&c->key, now);
    }
    /* The lookup is by hash, so timing reveals nothing of the secret; the constant-time compare
     * makes the check independent of how the index found the row. */
    bool ok = rc == VG_OK && vg_ct_streq(c->key.hash, hash) && !c->key.revoked &&
              (c->key.expires_at == 0 || c->key.expires_at > vg_now_s());
    if (!ok)
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
    if (!vg_ratelimit_take(c->key.id, c->key.rate_limit_per_min, now, &retry)) {
        vg_err e = {0};
        vg_err_set(&e, 429, "rate_limit_exceeded", "",
                   "this key is limited to %d requests per minute", c->key.rate_limit_per_min);
        e.retry_after_s = retry;
        return vg_reply_err(c, &e), -1;
    }
    return 0;
}

static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->path.len + req->method.len;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

static void access_log(vg_ctx *c, int64_t start)
{
    h2o_req_t *req = c->req;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    /* The query is left out: presigned URLs carry their signature there. */
    vg_info("%.*s %.*s %d %lldms key=%s rid=%s", (int)req->method.len, req->method.base, (int)plen,
            req->path.base, req->res.status, (long long)(vg_mono_ms() - start),
            c->key.id[0] ? c->key.id : "-", c->request_id);
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
    int64_t start = vg_mono_ms();
    vg_ctx c;
    memset(&c, 0, sizeof c);
    c.req = req;
    c.app = app;
    c.store = store;
    set_request_id(&c);
    if (header_bytes(req) > VG_MAX_HEADER_BYTES)
        vg_reply_error(&c, 431, "request_too_large", "", "request headers exceed %u bytes",
                       VG_MAX_HEADER_BYTES);
    else
        dispatch(r, &c);
    access_log(&c, start);
    vg_key_free(&c.key);
    return 0;
}
