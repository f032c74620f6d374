/*
 * sqlite_webhooks.c - the webhook outbox and the signing secrets in the SQLite backend (store.h
 * documents each operation; migration 6 the tables).
 *
 * The outbox row of an event is written by vg_sq_webhook_enqueue() inside the transaction of the
 * task's final status (sqlite_tasks.c), so the event exists exactly when the status does: a crash
 * before the commit loses both, a crash after it keeps both, and no worker can see the row before
 * the commit. Its destination is resolved there too (the task's callback_url, else the key's
 * webhook_url): the event goes where the caller asked at the time of the result.
 *
 * Deliveries are claimed like tasks: one conditional UPDATE picks the row due longest ago whose
 * lease is not live and leases it to this node, so any number of workers (or nodes) share the
 * outbox without handing a row to two of them.
 */
#include "common/alloc.h"
#include "common/ids.h"
#include "common/limits.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_COLS                                                                                    \
    "id, task_id, key_id, type, url, status, created_at, attempts, next_at, deadline, "            \
    "last_http_status, last_error, delivered_at, body"

void vg_webhook_free(vg_webhook *w)
{
    if (!w) return;
    free(w->body);
    w->body = NULL;
}

static void row_to_webhook(sqlite3_stmt *st, void *out)
{
    vg_webhook *w = out;
    memset(w, 0, sizeof *w);
    vg_sq_col_copy(st, 0, w->id, sizeof w->id);
    vg_sq_col_copy(st, 1, w->task_id, sizeof w->task_id);
    vg_sq_col_copy(st, 2, w->key_id, sizeof w->key_id);
    vg_sq_col_copy(st, 3, w->type, sizeof w->type);
    vg_sq_col_copy(st, 4, w->url, sizeof w->url);
    vg_sq_col_copy(st, 5, w->status, sizeof w->status);
    w->created_at = sqlite3_column_int64(st, 6);
    w->attempts = sqlite3_column_int(st, 7);
    w->next_at_ms = sqlite3_column_int64(st, 8);
    w->deadline_ms = sqlite3_column_int64(st, 9);
    w->last_http_status = sqlite3_column_int(st, 10);
    vg_sq_col_copy(st, 11, w->last_error, sizeof w->last_error);
    w->delivered_at = sqlite3_column_int64(st, 12);
    w->body = vg_sq_col_dup(st, 13);
}

/* ---- the outbox ---------------------------------------------------------------------------- */

vg_status vg_sq_webhook_enqueue(vg_sqlite *s, const char *task_id, const char *type, int64_t now)
{
    if (!type) return VG_OK;
    char id[VG_ID_MAX];
    vg_id_new("evt_", id);
    /* SQLite dialect: json_extract (PostgreSQL: params::jsonb ->> 'callback_url'). */
    return vg_sq_exec(
        s,
        "INSERT INTO webhook_deliveries (id, task_id, key_id, type, url, created_at, next_at, "
        "deadline) SELECT ?1, id, key_id, ?2, url, ?3, ?4, ?5 FROM (SELECT t.id, t.key_id, "
        "coalesce(nullif(CASE WHEN json_valid(t.params) THEN "
        "json_extract(t.params, '$.callback_url') END, ''), k.webhook_url) AS url "
        "FROM tasks t JOIN keys k ON k.id = t.key_id WHERE t.id = ?6) "
        "WHERE url IS NOT NULL AND url != ''",
        SQ_ARGS(SQ_T(id), SQ_T(type), SQ_I(now), SQ_I(now * 1000),
                SQ_I((now + VG_WEBHOOK_RETRY_WINDOW_S) * 1000), SQ_T(task_id)),
        NULL);
}

vg_status vg_sq_webhook_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_webhook *out)
{
    vg_sqlite *s = vg_sq(base);
    out->body = NULL;
    vg_status rc = vg_sq_one(
        s,
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = ?1, lease_owner = ?2 "
        "WHERE id = (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ?3 "
        "AND lease_until <= ?3 ORDER BY next_at LIMIT 1) AND status = 'pending' "
        "AND lease_until <= ?3 RETURNING " WH_COLS,
        SQ_ARGS(SQ_I(now_ms + lease_ms), SQ_T(s->node), SQ_I(now_ms)), row_to_webhook, out);
    if (rc != VG_OK) vg_webhook_free(out);
    if (rc == VG_NOTFOUND) {
        /* When the next one comes due within the idle poll, so that an idle worker sleeps just
         * that long (the index bounds the rows read to those). */
        out->next_at_ms = 0;
        vg_sq_int64(s,
                    "SELECT coalesce(min(max(next_at, lease_until)), 0) FROM webhook_deliveries "
                    "WHERE status = 'pending' AND next_at < ?1",
                    SQ_ARGS(SQ_I(now_ms + VG_WEBHOOK_IDLE_MS)), &out->next_at_ms);
    }
    return rc;
}

vg_status vg_sq_webhook_set_body(vg_store *base, const char *id, const char *body)
{
    return vg_sq_change(vg_sq(base), "UPDATE webhook_deliveries SET body = ?2 WHERE id = ?1",
                        SQ_ARGS(SQ_T(id), SQ_T(body)), VG_NOTFOUND);
}

vg_status vg_sq_webhook_attempt_end(vg_store *base, const vg_webhook_result *r)
{
    const char *status = r->delivered ? "delivered" : r->give_up ? "failed" : "pending";
    return vg_sq_change(
        vg_sq(base),
        "UPDATE webhook_deliveries SET status = ?2, next_at = ?3, last_http_status = ?4, "
        "last_error = ?5, delivered_at = ?6, lease_until = 0, lease_owner = '' "
        "WHERE id = ?1 AND status = 'pending'",
        SQ_ARGS(SQ_T(r->id), SQ_T(status), SQ_I(r->next_at_ms), SQ_I(r->http_status),
                SQ_T(r->error ? r->error : ""), SQ_I(r->delivered ? r->now_ms / 1000 : 0)),
        VG_CONFLICT);
}

vg_status vg_sq_webhook_get(vg_store *base, const char *task_id, vg_webhook *out)
{
    out->body = NULL;
    return vg_sq_one(vg_sq(base), "SELECT " WH_COLS " FROM webhook_deliveries WHERE task_id = ?1",
                     SQ_ARGS(SQ_T(task_id)), row_to_webhook, out);
}

vg_status vg_sq_webhook_redeliver(vg_store *base, const char *task_id, int64_t now_ms,
                                  int64_t deadline_ms)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                        "next_at = ?2, deadline = ?3, lease_until = 0, lease_owner = '', "
                        "last_error = '', last_http_status = 0 WHERE task_id = ?1",
                        SQ_ARGS(SQ_T(task_id), SQ_I(now_ms), SQ_I(deadline_ms)), VG_NOTFOUND);
}

vg_status vg_sq_webhook_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    (void)now_ms;
    /* One node by definition: every lease is this process's previous life's. */
    vg_status rc = vg_sq_exec(s,
                              "UPDATE webhook_deliveries SET lease_until = 0, lease_owner = '' "
                              "WHERE status = 'pending' AND lease_until > 0",
                              SQ_NONE, &changes);
    *n = changes;
    return rc;
}

/* ---- signing secrets ----------------------------------------------------------------------- */

vg_status vg_sq_webhook_secret_add(vg_sqlite *s, const char *key_id, int64_t now)
{
    char secret[VG_WEBHOOK_SECRET_MAX];
    vg_webhook_secret_new(secret);
    return vg_sq_exec(
        s, "INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES (?1, ?2, ?3)",
        SQ_ARGS(SQ_T(key_id), SQ_T(secret), SQ_I(now)), NULL);
}

static void fill_secret(sqlite3_stmt *st, void *out)
{
    vg_sq_col_copy(st, 0, out, VG_WEBHOOK_SECRET_MAX);
}

typedef struct {
    const char *key_id;
    int64_t now, grace_s;
    char (**list)[VG_WEBHOOK_SECRET_MAX];
    size_t *n;
    char *fresh;
} secrets_ctx;

static vg_status key_exists(vg_sqlite *s, const char *key_id)
{
    int64_t n = 0;
    vg_status rc =
        vg_sq_int64(s, "SELECT count(*) FROM keys WHERE id = ?1", SQ_ARGS(SQ_T(key_id)), &n);
    return rc != VG_OK ? rc : n ? VG_OK : VG_NOTFOUND;
}

static vg_status list_secrets(vg_sqlite *s, const secrets_ctx *c)
{
    free(*c->list);
    *c->list = NULL;
    return vg_sq_list(s,
                      "SELECT secret FROM webhook_secrets WHERE key_id = ?1 AND (expires_at = 0 "
                      "OR expires_at > ?2) ORDER BY expires_at = 0 DESC, created_at DESC, "
                      "rowid DESC LIMIT ?3",
                      SQ_ARGS(SQ_T(c->key_id), SQ_I(c->now), SQ_I(VG_WEBHOOK_MAX_SECRETS)),
                      VG_WEBHOOK_SECRET_MAX, fill_secret, VG_WEBHOOK_MAX_SECRETS, (void **)c->list,
                      c->n);
}

/* The valid secrets; a key without any (made before webhooks) gets its first one here. */
static vg_status secrets_body(vg_sqlite *s, void *ctx)
{
    const secrets_ctx *c = ctx;
    vg_status rc = key_exists(s, c->key_id);
    if (rc == VG_OK) rc = list_secrets(s, c);
    if (rc != VG_OK || *c->n > 0) return rc;
    rc = vg_sq_webhook_secret_add(s, c->key_id, c->now);
    return rc == VG_OK ? list_secrets(s, c) : rc;
}

vg_status vg_sq_webhook_secrets(vg_store *base, const char *key_id, int64_t now,
                                char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n)
{
    *out = NULL;
    *n = 0;
    secrets_ctx c = {.key_id = key_id, .now = now, .list = out, .n = n};
    /* The common case reads only; the write lock is taken when a secret must be made. */
    vg_status rc = key_exists(vg_sq(base), key_id);
    if (rc == VG_OK) rc = list_secrets(vg_sq(base), &c);
    if (rc == VG_OK && *n == 0) rc = vg_sq_atomic(vg_sq(base), secrets_body, &c);
    if (rc != VG_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static vg_status rotate_body(vg_sqlite *s, void *ctx)
{
    const secrets_ctx *c = ctx;
    vg_status rc = key_exists(s, c->key_id);
    if (rc != VG_OK) return rc;
    rc = vg_sq_exec(s,
                    "UPDATE webhook_secrets SET expires_at = ?2 WHERE key_id = ?1 AND "
                    "expires_at = 0",
                    SQ_ARGS(SQ_T(c->key_id), SQ_I(c->now + c->grace_s)), NULL);
    if (rc != VG_OK) return rc;
    vg_webhook_secret_new(c->fresh);
    return vg_sq_exec(
        s, "INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES (?1, ?2, ?3)",
        SQ_ARGS(SQ_T(c->key_id), SQ_T(c->fresh), SQ_I(c->now)), NULL);
}

vg_status vg_sq_webhook_secret_rotate(vg_store *base, const char *key_id, int64_t now,
                                      int64_t grace_s, char out[VG_WEBHOOK_SECRET_MAX])
{
    secrets_ctx c = {.key_id = key_id, .now = now, .grace_s = grace_s, .fresh = out};
    return vg_sq_atomic(vg_sq(base), rotate_body, &c);
}
