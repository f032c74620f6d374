/*
 * keys.c - admin key management (POST/GET/DELETE /admin/keys…) and GET /v1/me (spec §7).
 * Only the SHA-256 of a secret is stored; the secret is shown once, in the creation reply.
 */
#include "api/keys.h"

#include "api/handlers.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "core/models.h"
#include "core/money.h"

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
    return s->ops->key_insert(s, k, credit_micro, credit_micro ? "initial balance" : "");
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
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:{s:i, s:i}, s:I, s:o}", "id",
                          k->id, "object", "api_key", "name", k->name, "balance",
                          money(k->balance_micro), "held", money(k->held_micro), "available",
                          money(k->balance_micro - k->held_micro), "mode",
                          k->test_mode ? "test" : "live", "allowed_models",
                          models ? models : json_null(), "limits", "max_active_tasks",
                          k->max_active_tasks, "rate_limit_per_min", k->rate_limit_per_min,
                          "created_at", (json_int_t)k->created_at, "expires_at",
                          k->expires_at ? json_integer(k->expires_at) : json_null());
    if (admin_view) {
        json_object_set_new(j, "role", json_string(k->is_admin ? "admin" : "user"));
        json_object_set_new(j, "status", json_string(k->revoked ? "revoked" : "active"));
    }
    return j;
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

static int parse_key_body(vg_ctx *c, json_t *body, vg_key *k, int64_t *credit)
{
    json_t *name = json_object_get(body, "name"), *v;
    if (!json_is_string(name) || !json_string_length(name) ||
        json_string_length(name) > VG_MAX_KEY_NAME_BYTES)
        return vg_reply_error(c, 400, name ? "invalid_parameter" : "missing_parameter", "name",
                              "name is required: a string of 1 to %d bytes",
                              VG_MAX_KEY_NAME_BYTES),
               -1;
    snprintf(k->name, sizeof k->name, "%s", json_string_value(name));
    if ((v = json_object_get(body, "balance")) &&
        (vg_money_from_json(v, credit) || *credit < 0))
        return vg_reply_error(c, 400, "invalid_parameter", "balance",
                              "balance must be a non-negative amount such as \"100.00\""),
               -1;
    if ((v = json_object_get(body, "mode"))) {
        const char *m = json_string_value(v);
        if (!m || (strcmp(m, "live") && strcmp(m, "test")))
            return vg_reply_error(c, 400, "invalid_parameter", "mode",
                                  "mode must be \"live\" or \"test\""),
                   -1;
        k->test_mode = !strcmp(m, "test");
    }
    if ((v = json_object_get(body, "expires_at")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= vg_now_s())
            return vg_reply_error(c, 400, "invalid_parameter", "expires_at",
                                  "expires_at must be a future unix time"),
                   -1;
        k->expires_at = json_integer_value(v);
    }
    if (parse_nonneg_int(c, body, "max_active_tasks", 1000000, &k->max_active_tasks) ||
        parse_nonneg_int(c, body, "rate_limit_per_min", 1000000, &k->rate_limit_per_min))
        return -1;
    return parse_models(c, json_object_get(body, "allowed_models"), k);
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
    if (c->store->ops->key_list(c->store, &keys, &n)) return vg_reply_internal(c);
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
    int rc = c->store->ops->key_get(c->store, c->params[0], k);
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
    int rc = c->store->ops->key_revoke(c->store, c->params[0], vg_now_s());
    if (rc != VG_OK && rc != VG_CONFLICT && rc != VG_NOTFOUND) return vg_reply_internal(c);
    return get_key(c); /* 404 when unknown; revoking twice is harmless */
}

static int me(vg_ctx *c)
{
    return vg_reply_json(c, 200, vg_key_json(&c->key, false));
}

const vg_route vg_routes_keys[] = {
    {"GET", "/v1/me", VG_AUTH_KEY, me},
    {"POST", "/admin/keys", VG_AUTH_ADMIN, create_key},
    {"GET", "/admin/keys", VG_AUTH_ADMIN, list_keys},
    {"GET", "/admin/keys/{id}", VG_AUTH_ADMIN, get_key},
    {"DELETE", "/admin/keys/{id}", VG_AUTH_ADMIN, revoke_key},
};
const size_t vg_routes_keys_n = sizeof vg_routes_keys / sizeof vg_routes_keys[0];
