/*
 * webhooks.c - the caller's side of webhooks (README "Webhooks"): a key's default destination
 * (GET/POST /v1/me/webhook; the admin sets it with PATCH /admin/keys/{id} "webhook_url"), its
 * signing secret (GET /v1/me/webhook-secret, POST /v1/me/webhook-secret/rotate, and the admin's
 * GET /admin/keys/{id}/webhook-secret), a task's delivery state (the "webhook" member of the task
 * object) and the admin's redelivery (POST /admin/tasks/{id}/webhook/redeliver).
 *
 * A secret is readable only by its key and the admin: the /v1/me routes act on the caller's own
 * key, the others are admin routes. Destinations pass the same URL policy as media URLs (the
 * operator's allow_http_fetch / allow_private_fetch), checked again at every delivery.
 */
#include "api/env.h"
#include "api/handlers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/limits.h"
#include "http/keycache.h"

#include <stdlib.h>
#include <string.h>

int vg_api_webhook_url_check(vg_ctx *c, const json_t *v, const char *param, const char **url)
{
    const vg_api_env *env = c->app;
    if (json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
        *url = "";
        return 0;
    }
    vg_url_verdict why = VG_URL_OK;
    if (!json_is_string(v) || vg_urlpolicy_check(json_string_value(v), &env->urls, &why) != 0) {
        vg_reply_error(c, 400, "invalid_parameter", param, "%s %s", param,
                       json_is_string(v) ? vg_urlpolicy_reason(why, &env->urls)
                                         : "must be a URL or null");
        return -1;
    }
    *url = json_string_value(v);
    return 0;
}

json_t *vg_api_webhook_state(vg_ctx *c, const char *task_id)
{
    vg_webhook d;
    if (vg_store_webhook_get(c->store, task_id, &d) != VG_OK) return NULL;
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "id", d.id, "type", d.type, "status",
                  d.status, "url", d.url, "attempts", d.attempts, "last_http_status",
                  d.last_http_status ? json_integer(d.last_http_status) : json_null(), "last_error",
                  d.last_error[0] ? json_string(d.last_error) : json_null(), "delivered_at",
                  d.delivered_at ? json_integer(d.delivered_at) : json_null());
    if (!strcmp(d.status, "pending"))
        json_object_set_new(j, "next_attempt_at", json_integer(d.next_at_ms / 1000));
    vg_webhook_free(&d);
    return j;
}

/* ---- the key's default destination ---------------------------------------------------------- */

static int webhook_reply(vg_ctx *c, const char *url)
{
    return vg_reply_json(c, 200,
                         json_pack("{s:s, s:o}", "object", "webhook_endpoint", "url",
                                   url && url[0] ? json_string(url) : json_null()));
}

static int get_my_webhook(vg_ctx *c)
{
    vg_key k;
    if (vg_store_key_get(c->store, c->key.id, &k) != VG_OK) return vg_reply_internal(c);
    webhook_reply(c, k.webhook_url);
    vg_key_free(&k);
    return 0;
}

/* POST /v1/me/webhook {"url": "https://…" | null} */
static int set_my_webhook(vg_ctx *c)
{
    json_t *body = NULL;
    if (vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body)) return 0;
    const char *url = NULL;
    vg_key k;
    if (!json_object_get(body, "url"))
        vg_reply_error(c, 400, "missing_parameter", "url", "url is required (a URL or null)");
    else if (vg_api_webhook_url_check(c, json_object_get(body, "url"), "url", &url) == 0) {
        if (vg_store_key_get(c->store, c->key.id, &k) != VG_OK)
            vg_reply_internal(c);
        else {
            free(k.webhook_url);
            k.webhook_url = vg_strdup(url);
            if (!k.webhook_url || vg_store_key_update(c->store, &k, vg_now_s()) != VG_OK)
                vg_reply_internal(c);
            else {
                vg_keycache_invalidate();
                webhook_reply(c, url);
            }
            vg_key_free(&k);
        }
    }
    json_decref(body);
    return 0;
}

/* ---- signing secrets ------------------------------------------------------------------------- */

static int reply_secret(vg_ctx *c, const char *key_id)
{
    char(*secrets)[VG_WEBHOOK_SECRET_MAX] = NULL;
    size_t n = 0;
    vg_status rc = vg_store_webhook_secrets(c->store, key_id, vg_now_s(), &secrets, &n);
    if (rc == VG_NOTFOUND)
        return vg_reply_error(c, 404, "key_not_found", "id", "no key %s", key_id);
    if (rc != VG_OK || n == 0) {
        free(secrets);
        return vg_reply_internal(c);
    }
    json_t *j = json_pack("{s:s, s:s}", "object", "webhook_secret", "secret", secrets[0]);
    free(secrets);
    return vg_reply_json(c, 200, j);
}

static int get_my_secret(vg_ctx *c)
{
    return reply_secret(c, c->key.id);
}

static int get_key_secret(vg_ctx *c)
{
    return reply_secret(c, c->params[0]);
}

static int rotate_my_secret(vg_ctx *c)
{
    char fresh[VG_WEBHOOK_SECRET_MAX];
    int64_t now = vg_now_s();
    if (vg_store_webhook_secret_rotate(c->store, c->key.id, now, VG_WEBHOOK_SECRET_GRACE_S,
                                       fresh) != VG_OK)
        return vg_reply_internal(c);
    return vg_reply_json(c, 200,
                         json_pack("{s:s, s:s, s:I}", "object", "webhook_secret", "secret", fresh,
                                   "previous_valid_until",
                                   (json_int_t)(now + VG_WEBHOOK_SECRET_GRACE_S)));
}

/* ---- redelivery -------------------------------------------------------------------------------- */

static int redeliver(vg_ctx *c)
{
    int64_t now = vg_now_ms();
    vg_status rc = vg_store_webhook_redeliver(c->store, c->params[0], now,
                                              now + VG_WEBHOOK_RETRY_WINDOW_S * 1000);
    if (rc == VG_NOTFOUND)
        return vg_reply_error(c, 404, "not_found", "id", "task %s has no webhook delivery",
                              c->params[0]);
    if (rc != VG_OK) return vg_reply_internal(c);
    vg_api_env_wake(c->app);
    json_t *j = vg_api_webhook_state(c, c->params[0]);
    return j ? vg_reply_json(c, 202, j) : vg_reply_internal(c);
}

const vg_route vg_routes_webhooks[] = {
    {"GET", "/v1/me/webhook", VG_AUTH_KEY, get_my_webhook},
    {"POST", "/v1/me/webhook", VG_AUTH_KEY, set_my_webhook},
    {"GET", "/v1/me/webhook-secret", VG_AUTH_KEY, get_my_secret},
    {"POST", "/v1/me/webhook-secret/rotate", VG_AUTH_KEY, rotate_my_secret},
    {"GET", "/admin/keys/{id}/webhook-secret", VG_AUTH_ADMIN, get_key_secret},
    {"POST", "/admin/tasks/{id}/webhook/redeliver", VG_AUTH_ADMIN, redeliver},
};
const size_t vg_routes_webhooks_n = sizeof vg_routes_webhooks / sizeof vg_routes_webhooks[0];
