/*
 * keys.c - admin key management (POST/GET/DELETE /admin/keys…) and GET /v1/me (spec §7).
 * Only the SHA-256 of a secret is stored; the secret is shown once, in the creation reply.
 */
#include "api/keys.h"

#include "api/handlers.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "core/models.h"
#include "core/money.h"
#include "http/keycache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vg_keys_create(vg_store *s, vg_key *k, int64_t credit_micro, const char *secret,
                   char secret_out[128])
{
    char fresh[VG_KEY_SECRET_LEN + 1];
    if (!secret) {
        vg_key_secret_new(fresh);
        secret = fresh;
    }
    snprintf(secret_out, 128, "%s", secret);
    vg_id_new("key_", k->id);
    vg_sha256_hex(secret, strlen(secret), k->hash);
    k->created_at = vg_now_s();
    return vg_store_key_insert(s, k, credit_micro, credit_micro ? "initial balance" : "");
}

vg_status vg_keys_live(vg_store *s, const char *key_id, int64_t now)
{
    vg_key k;
    vg_status rc = vg_store_key_get(s, key_id, &k);
    if (rc != VG_OK) return rc;
    bool live = !k.revoked && (k.expires_at == 0 || k.expires_at > now);
    vg_key_free(&k);
    return live ? VG_OK : VG_NOTFOUND;
}

static json_t *money(int64_t micro)
{
    char buf[VG_MONEY_STR_MAX];
    vg_money_format(micro, buf);
    return json_string(buf);
}

json_t *vg_key_json(const vg_key *k, bool admin_view)
{
    json_t *models = k->allowed_models ? json_loads(k->allowed_models, 0, NULL) : NULL;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:{s:i, s:i}, s:I, s:o}", "id", k->id, "object",
        "api_key", "name", k->name, "balance", money(k->balance_micro), "held",
        money(k->held_micro), "available", money(k->balance_micro - k->held_micro), "mode",
        k->test_mode ? "test" : "live", "allowed_models", models ? models : json_null(), "limits",
        "max_active_tasks", k->max_active_tasks, "rate_limit_per_min", k->rate_limit_per_min,
        "created_at", (json_int_t)k->created_at, "expires_at",
        k->expires_at ? json_integer(k->expires_at) : json_null());
    if (admin_view || k->is_admin) /* the admin key calling /v1/me learns what it is */
        json_object_set_new(j, "role", json_string(k->is_admin ? "admin" : "user"));
    if (admin_view) {
        json_object_set_new(j, "status", json_string(k->revoked ? "revoked" : "active"));
    }
    json_object_set_new(j, "webhook_url",
                        k->webhook_url && k->webhook_url[0] ? json_string(k->webhook_url)
                                                            : json_null());
    return j;
}

/* The largest balance a key may hold (common/limits.h), as the API writes amounts. */
typedef struct {
    char s[VG_MONEY_STR_MAX];
} money_text;

static money_text max_balance(void)
{
    money_text t;
    vg_money_format(VG_MAX_BALANCE_MICRO, t.s);
    return t;
}

/* allowed_models: an array of known model names, stored as JSON text. */
static int parse_models(vg_ctx *c, json_t *v, vg_key *k)
{
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return vg_reply_error(c, 400, "invalid_parameter", "allowed_models",
                              "allowed_models must be a non-empty array of model names"),
               -1;
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        if (!json_is_string(m) || !vg_model_find(json_string_value(m)))
            return vg_reply_error(c, 400, "invalid_parameter", "allowed_models",
                                  "allowed_models[%zu] is not a known model", i),
                   -1;
    }
    k->allowed_models = json_dumps(v, JSON_COMPACT);
    return 0;
}

static int parse_nonneg_int(vg_ctx *c, json_t *body, const char *field, int max, int *out)
{
    json_t *v = json_object_get(body, field);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return vg_reply_error(c, 400, "invalid_parameter", field,
                              "%s must be an integer from 0 to %d", field, max),
               -1;
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_name(vg_ctx *c, json_t *body, vg_key *k, bool required)
{
    json_t *name = json_object_get(body, "name");
    if (!name && !required) return 0;
    if (!json_is_string(name) || !json_string_length(name) ||
        json_string_length(name) > VG_MAX_KEY_NAME_BYTES)
        return vg_reply_error(c, 400, name ? "invalid_parameter" : "missing_parameter", "name",
                              "name is required: a string of 1 to %d bytes", VG_MAX_KEY_NAME_BYTES),
               -1;
    snprintf(k->name, sizeof k->name, "%s", json_string_value(name));
    return 0;
}

/* The fields an admin may set at creation and change later. */
static int parse_key_options(vg_ctx *c, json_t *body, vg_key *k)
{
    json_t *v = json_object_get(body, "expires_at");
    if (json_is_null(v)) k->expires_at = 0; /* null clears the expiry */
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= vg_now_s())
            return vg_reply_error(c, 400, "invalid_parameter", "expires_at",
                                  "expires_at must be a future unix time"),
                   -1;
        k->expires_at = json_integer_value(v);
    }
    if (parse_nonneg_int(c, body, "max_active_tasks", 1000000, &k->max_active_tasks) ||
        parse_nonneg_int(c, body, "rate_limit_per_min", 1000000, &k->rate_limit_per_min))
        return -1;
    const char *url = NULL;
    if ((v = json_object_get(body, "webhook_url"))) {
        if (vg_api_webhook_url_check(c, v, "webhook_url", &url)) return -1;
        free(k->webhook_url);
        k->webhook_url = vg_strdup(url);
    }
    if (!json_object_get(body, "allowed_models")) return 0;
    free(k->allowed_models);
    k->allowed_models = NULL;
    return parse_models(c, json_object_get(body, "allowed_models"), k);
}

static int parse_key_body(vg_ctx *c, json_t *body, vg_key *k, int64_t *credit)
{
    json_t *v;
    if (parse_name(c, body, k, true)) return -1;
    if ((v = json_object_get(body, "balance")) && (vg_money_from_json(v, credit) || *credit < 0))
        return vg_reply_error(c, 400, "invalid_parameter", "balance",
                              "balance must be a non-negative amount such as \"100.00\", at "
                              "most %s",
                              max_balance().s),
               -1;
    if ((v = json_object_get(body, "mode"))) {
        const char *m = json_string_value(v);
        if (!m || (strcmp(m, "live") && strcmp(m, "test")))
            return vg_reply_error(c, 400, "invalid_parameter", "mode",
                                  "mode must be \"live\" or \"test\""),
                   -1;
        k->test_mode = !strcmp(m, "test");
    }
    return parse_key_options(c, body, k);
}

static int create_key(vg_ctx *c)
{
    json_t *body = NULL;
    if (vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body)) return 0;
    vg_key k;
    memset(&k, 0, sizeof k);
    int64_t credit = 0;
    char secret[128];
    if (parse_key_body(c, body, &k, &credit) == 0) {
        if (vg_keys_create(c->store, &k, credit, NULL, secret) != VG_OK) {
            vg_reply_internal(c);
        } else {
            k.balance_micro = credit;
            json_t *j = vg_key_json(&k, true);
            json_object_set_new(j, "key", json_string(secret));
            vg_reply_json(c, 201, j);
        }
    }
    vg_key_free(&k);
    json_decref(body);
    return 0;
}

static int list_keys(vg_ctx *c)
{
    vg_key *keys = NULL;
    size_t n = 0;
    if (vg_store_key_list(c->store, &keys, &n)) return vg_reply_internal(c);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(data, vg_key_json(&keys[i], true));
        vg_key_free(&keys[i]);
    }
    free(keys);
    return vg_reply_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static int load_key(vg_ctx *c, vg_key *k)
{
    int rc = vg_store_key_get(c->store, c->params[0], k);
    if (rc == VG_OK) return 0;
    if (rc == VG_NOTFOUND)
        vg_reply_error(c, 404, "key_not_found", "id", "no key %s", c->params[0]);
    else
        vg_reply_internal(c);
    return -1;
}

static int get_key(vg_ctx *c)
{
    vg_key k;
    if (load_key(c, &k)) return 0;
    vg_reply_json(c, 200, vg_key_json(&k, true));
    vg_key_free(&k);
    return 0;
}

static int revoke_key(vg_ctx *c)
{
    if (!strcmp(c->params[0], c->key.id))
        return vg_reply_error(c, 409, "conflict", "id", "a key cannot revoke itself");
    int rc = vg_store_key_revoke(c->store, c->params[0], vg_now_s());
    if (rc != VG_OK && rc != VG_CONFLICT && rc != VG_NOTFOUND) return vg_reply_internal(c);
    vg_keycache_invalidate();
    return get_key(c); /* 404 when unknown; revoking twice is harmless */
}

static int update_key(vg_ctx *c)
{
    json_t *body = NULL;
    if (vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body)) return 0;
    vg_key k;
    if (load_key(c, &k) == 0) {
        if (parse_name(c, body, &k, false) == 0 && parse_key_options(c, body, &k) == 0) {
            if (vg_store_key_update(c->store, &k, vg_now_s()) == VG_OK) {
                vg_keycache_invalidate();
                get_key(c);
            } else
                vg_reply_internal(c);
        }
        vg_key_free(&k);
    }
    json_decref(body);
    return 0;
}

/* POST /admin/keys/{id}/credit and /debit: {"amount": "10.00", "note": "…"}. */
static int adjust(vg_ctx *c, int sign)
{
    json_t *body = NULL;
    if (vg_ctx_json_body(c, VG_MAX_JSON_BODY_BYTES, &body)) return 0;
    int64_t amount = 0;
    json_t *note = json_object_get(body, "note");
    if (vg_money_from_json(json_object_get(body, "amount"), &amount) || amount <= 0)
        vg_reply_error(c, 400, "invalid_parameter", "amount",
                       "amount must be a positive amount such as \"10.00\", at most %s",
                       max_balance().s);
    else if (note && (!json_is_string(note) || json_string_length(note) > 255))
        vg_reply_error(c, 400, "invalid_parameter", "note",
                       "note must be a string of 255 bytes at most");
    else {
        int rc = vg_store_key_adjust(c->store, c->params[0], sign * amount,
                                     note ? json_string_value(note) : "", vg_now_s());
        if (rc == VG_OK) {
            vg_keycache_invalidate();
            get_key(c);
        } else if (rc == VG_NOTFOUND)
            vg_reply_error(c, 404, "key_not_found", "id", "no key %s", c->params[0]);
        else if (rc == VG_NOFUNDS)
            vg_reply_error(c, 409, "insufficient_balance", "amount",
                           "the debit is larger than the available balance");
        else if (rc == VG_TOOLARGE)
            vg_reply_error(c, 409, "balance_limit_exceeded", "amount",
                           "the credit would bring the balance above the maximum balance of %s",
                           max_balance().s);
        else
            vg_reply_internal(c);
    }
    json_decref(body);
    return 0;
}

static int credit_key(vg_ctx *c)
{
    return adjust(c, 1);
}

static int debit_key(vg_ctx *c)
{
    return adjust(c, -1);
}

static json_t *ledger_json(const vg_ledger_entry *e)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:s, s:I}", "id", (json_int_t)e->id, "object",
                     "ledger_entry", "kind", e->kind, "amount", money(e->amount_micro), "task_id",
                     e->task_id[0] ? json_string(e->task_id) : json_null(), "note", e->note,
                     "created_at", (json_int_t)e->created_at);
}

/* The ledger of key_id, newest first (?limit=&before=). */
static int reply_ledger(vg_ctx *c, const char *key_id)
{
    int limit;
    if (vg_api_query_limit(c, &limit)) return 0;
    int64_t before;
    if (vg_ctx_query_int(c, "before", 0, INT64_MAX, 0, &before)) return 0;
    vg_ledger_entry *rows = NULL;
    size_t n = 0;
    bool more = false;
    if (vg_store_ledger_list(c->store, key_id, before, limit, &rows, &n, &more))
        return vg_reply_internal(c);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, ledger_json(&rows[i]));
    json_t *next = more && n ? json_integer(rows[n - 1].id) : json_null();
    free(rows);
    return vg_reply_json(c, 200,
                         json_pack("{s:s, s:o, s:b, s:o}", "object", "list", "data", data,
                                   "has_more", more, "next_before", next));
}

/* GET /admin/keys/{id}/ledger?limit=&before= */
static int key_ledger(vg_ctx *c)
{
    vg_key k;
    if (load_key(c, &k)) return 0;
    vg_key_free(&k);
    return reply_ledger(c, c->params[0]);
}

/* GET /v1/me/ledger?limit=&before=: a key sees its own money movements. */
static int my_ledger(vg_ctx *c)
{
    return reply_ledger(c, c->key.id);
}

/* The authenticated key may come from the key cache: money is read fresh. */
static int me(vg_ctx *c)
{
    vg_key k;
    if (vg_store_key_get(c->store, c->key.id, &k) != VG_OK) return vg_reply_internal(c);
    vg_reply_json(c, 200, vg_key_json(&k, false));
    vg_key_free(&k);
    return 0;
}

const vg_route vg_routes_keys[] = {
    {"GET", "/v1/me", VG_AUTH_KEY, me},
    {"GET", "/v1/me/ledger", VG_AUTH_KEY, my_ledger},
    {"POST", "/admin/keys", VG_AUTH_ADMIN, create_key},
    {"GET", "/admin/keys", VG_AUTH_ADMIN, list_keys},
    {"GET", "/admin/keys/{id}", VG_AUTH_ADMIN, get_key},
    {"DELETE", "/admin/keys/{id}", VG_AUTH_ADMIN, revoke_key},
    {"PATCH", "/admin/keys/{id}", VG_AUTH_ADMIN, update_key},
    {"POST", "/admin/keys/{id}/credit", VG_AUTH_ADMIN, credit_key},
    {"POST", "/admin/keys/{id}/debit", VG_AUTH_ADMIN, debit_key},
    {"GET", "/admin/keys/{id}/ledger", VG_AUTH_ADMIN, key_ledger},
};
const size_t vg_routes_keys_n = sizeof vg_routes_keys / sizeof vg_routes_keys[0];
