/*
 * pg_webhooks.c - the webhook outbox and the signing secrets in the PostgreSQL backend (store.h
 * documents each operation; sqlite_webhooks.c is the twin and explains the outbox).
 *
 * The outbox row of an event is written by vg_pg_webhook_enqueue() inside the transaction of the
 * task's final status (pg_tasks.c); its destination is the task's callback_url (read from the
 * stored spec with vg_json_text(), pg_migrations.c), else the key's webhook_url. Deliveries are
 * claimed like tasks, the row due longest ago picked with FOR UPDATE SKIP LOCKED, so the workers
 * of every node share the outbox without handing a row to two of them.
 */
#include "common/alloc.h"
#include "common/ids.h"
#include "common/limits.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_COLS                                                                                    \
    "id, task_id, key_id, type, url, status, created_at, attempts, next_at, deadline, "            \
    "last_http_status, last_error, delivered_at, body"

static void row_to_webhook(const PGresult *r, int row, void *out)
{
    vg_webhook *w = out;
    memset(w, 0, sizeof *w);
    vg_pg_col_copy(r, row, 0, w->id, sizeof w->id);
    vg_pg_col_copy(r, row, 1, w->task_id, sizeof w->task_id);
    vg_pg_col_copy(r, row, 2, w->key_id, sizeof w->key_id);
    vg_pg_col_copy(r, row, 3, w->type, sizeof w->type);
    vg_pg_col_copy(r, row, 4, w->url, sizeof w->url);
    vg_pg_col_copy(r, row, 5, w->status, sizeof w->status);
    w->created_at = vg_pg_col_i64(r, row, 6);
    w->attempts = (int)vg_pg_col_i64(r, row, 7);
    w->next_at_ms = vg_pg_col_i64(r, row, 8);
    w->deadline_ms = vg_pg_col_i64(r, row, 9);
    w->last_http_status = (int)vg_pg_col_i64(r, row, 10);
    vg_pg_col_copy(r, row, 11, w->last_error, sizeof w->last_error);
    w->delivered_at = vg_pg_col_i64(r, row, 12);
    w->body = vg_pg_col_dup(r, row, 13);
}

/* ---- the outbox ---------------------------------------------------------------------------- */

vg_status vg_pg_webhook_enqueue(vg_pg *s, const char *task_id, const char *type, int64_t now)
{
    if (!type) return VG_OK;
    char id[VG_ID_MAX];
    vg_id_new("evt_", id);
    return vg_pg_exec(
        s,
        "INSERT INTO webhook_deliveries (id, task_id, key_id, type, url, created_at, next_at, "
        "deadline) SELECT $1, id, key_id, $2, url, $3, $4, $5 FROM (SELECT t.id, t.key_id, "
        "coalesce(nullif(vg_json_text(t.params, 'callback_url'), ''), k.webhook_url) AS url "
        "FROM tasks t JOIN keys k ON k.id = t.key_id WHERE t.id = $6) d "
        "WHERE url IS NOT NULL AND url != ''",
        PG_ARGS(PG_T(id), PG_T(type), PG_I(now), PG_I(now * 1000),
                PG_I((now + VG_WEBHOOK_RETRY_WINDOW_S) * 1000), PG_T(task_id)),
        NULL);
}

vg_status vg_pg_webhook_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_webhook *out)
{
    vg_pg *s = vg_pgs(base);
    out->body = NULL;
    vg_status rc = vg_pg_one(
        s,
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = $1, lease_owner = $2 "
        "WHERE id = (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $3 "
        "AND lease_until <= $3 ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "AND status = 'pending' AND lease_until <= $3 RETURNING " WH_COLS,
        PG_ARGS(PG_I(now_ms + lease_ms), PG_T(s->node), PG_I(now_ms)), row_to_webhook, out);
    if (rc != VG_OK) vg_webhook_free(out);
    if (rc == VG_NOTFOUND) {
        /* When the next one comes due within the idle poll (see sqlite_webhooks.c). */
        out->next_at_ms = 0;
        vg_pg_int64(s,
                    "SELECT coalesce(min(greatest(next_at, lease_until)), 0) FROM "
                    "webhook_deliveries WHERE status = 'pending' AND next_at < $1",
                    PG_ARGS(PG_I(now_ms + VG_WEBHOOK_IDLE_MS)), &out->next_at_ms);
    }
    return rc;
}

vg_status vg_pg_webhook_set_body(vg_store *base, const char *id, const char *body)
{
    return vg_pg_change(vg_pgs(base), "UPDATE webhook_deliveries SET body = $2 WHERE id = $1",
                        PG_ARGS(PG_T(id), PG_T(body)), VG_NOTFOUND);
}

vg_status vg_pg_webhook_attempt_end(vg_store *base, const vg_webhook_result *r)
{
    const char *status = r->delivered ? "delivered" : r->give_up ? "failed" : "pending";
    return vg_pg_change(
        vg_pgs(base),
        "UPDATE webhook_deliveries SET status = $2, next_at = $3, last_http_status = $4, "
        "last_error = $5, delivered_at = $6, lease_until = 0, lease_owner = '' "
        "WHERE id = $1 AND status = 'pending'",
        PG_ARGS(PG_T(r->id), PG_T(status), PG_I(r->next_at_ms), PG_I(r->http_status),
                PG_T(r->error ? r->error : ""), PG_I(r->delivered ? r->now_ms / 1000 : 0)),
        VG_CONFLICT);
}

vg_status vg_pg_webhook_get(vg_store *base, const char *task_id, vg_webhook *out)
{
    out->body = NULL;
    return vg_pg_one(vg_pgs(base), "SELECT " WH_COLS " FROM webhook_deliveries WHERE task_id = $1",
                     PG_ARGS(PG_T(task_id)), row_to_webhook, out);
}

vg_status vg_pg_webhook_redeliver(vg_store *base, const char *task_id, int64_t now_ms,
                                  int64_t deadline_ms)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                        "next_at = $2, deadline = $3, lease_until = 0, lease_owner = '', "
                        "last_error = '', last_http_status = 0 WHERE task_id = $1",
                        PG_ARGS(PG_T(task_id), PG_I(now_ms), PG_I(deadline_ms)), VG_NOTFOUND);
}

vg_status vg_pg_webhook_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_pg *s = vg_pgs(base);
    int changes = 0;
    (void)now_ms;
    char *owners = NULL;
    vg_status rc = vg_pg_recover_owners(s, &owners);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(s,
                    "UPDATE webhook_deliveries SET lease_until = 0, lease_owner = '' "
                    "WHERE status = 'pending' AND lease_until > 0 AND "
                    "lease_owner = ANY($1::text[])",
                    PG_ARGS(PG_T(owners)), &changes);
    free(owners);
    *n = changes;
    return rc;
}

/* ---- signing secrets ----------------------------------------------------------------------- */

vg_status vg_pg_webhook_secret_add(vg_pg *s, const char *key_id, int64_t now)
{
    char secret[VG_WEBHOOK_SECRET_MAX];
    vg_webhook_secret_new(secret);
    return vg_pg_exec(
        s, "INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES ($1, $2, $3)",
        PG_ARGS(PG_T(key_id), PG_T(secret), PG_I(now)), NULL);
}

static void fill_secret(const PGresult *r, int row, void *out)
{
    vg_pg_col_copy(r, row, 0, out, VG_WEBHOOK_SECRET_MAX);
}

typedef struct {
    const char *key_id;
    int64_t now, grace_s;
    char (**list)[VG_WEBHOOK_SECRET_MAX];
    size_t *n;
    char *fresh;
} secrets_ctx;

/* The key exists (and, with lock, is held until the commit, so that two connections making its
 * first secret or rotating it take turns). */
static vg_status key_exists(vg_pg *s, const char *key_id, bool lock)
{
    int64_t n = 0;
    vg_status rc = vg_pg_int64(s,
                               lock ? "SELECT 1 FROM keys WHERE id = $1 FOR UPDATE"
                                    : "SELECT 1 FROM keys WHERE id = $1",
                               PG_ARGS(PG_T(key_id)), &n);
    return rc;
}

static vg_status list_secrets(vg_pg *s, const secrets_ctx *c)
{
    free(*c->list);
    *c->list = NULL;
    return vg_pg_list(s,
                      "SELECT secret FROM webhook_secrets WHERE key_id = $1 AND (expires_at = 0 "
                      "OR expires_at > $2) ORDER BY expires_at = 0 DESC, created_at DESC, "
                      "seq DESC LIMIT $3",
                      PG_ARGS(PG_T(c->key_id), PG_I(c->now), PG_I(VG_WEBHOOK_MAX_SECRETS)),
                      VG_WEBHOOK_SECRET_MAX, fill_secret, VG_WEBHOOK_MAX_SECRETS, (void **)c->list,
                      c->n);
}

/* The valid secrets; a key without any (made before webhooks) gets its first one here. */
static vg_status secrets_body(vg_pg *s, void *ctx)
{
    const secrets_ctx *c = ctx;
    vg_status rc = key_exists(s, c->key_id, true);
    if (rc == VG_OK) rc = list_secrets(s, c);
    if (rc != VG_OK || *c->n > 0) return rc;
    rc = vg_pg_webhook_secret_add(s, c->key_id, c->now);
    return rc == VG_OK ? list_secrets(s, c) : rc;
}

vg_status vg_pg_webhook_secrets(vg_store *base, const char *key_id, int64_t now,
                                char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n)
{
    *out = NULL;
    *n = 0;
    secrets_ctx c = {.key_id = key_id, .now = now, .list = out, .n = n};
    /* The common case reads only; the key row is locked when a secret must be made. */
    vg_status rc = key_exists(vg_pgs(base), key_id, false);
    if (rc == VG_OK) rc = list_secrets(vg_pgs(base), &c);
    if (rc == VG_OK && *n == 0) rc = vg_pg_atomic(vg_pgs(base), secrets_body, &c);
    if (rc != VG_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static vg_status rotate_body(vg_pg *s, void *ctx)
{
    const secrets_ctx *c = ctx;
    vg_status rc = key_exists(s, c->key_id, true);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(s,
                    "UPDATE webhook_secrets SET expires_at = $2 WHERE key_id = $1 AND "
                    "expires_at = 0",
                    PG_ARGS(PG_T(c->key_id), PG_I(c->now + c->grace_s)), NULL);
    if (rc != VG_OK) return rc;
    vg_webhook_secret_new(c->fresh);
    return vg_pg_exec(
        s, "INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES ($1, $2, $3)",
        PG_ARGS(PG_T(c->key_id), PG_T(c->fresh), PG_I(c->now)), NULL);
}

vg_status vg_pg_webhook_secret_rotate(vg_store *base, const char *key_id, int64_t now,
                                      int64_t grace_s, char out[VG_WEBHOOK_SECRET_MAX])
{
    secrets_ctx c = {.key_id = key_id, .now = now, .grace_s = grace_s, .fresh = out};
    return vg_pg_atomic(vg_pgs(base), rotate_body, &c);
}
