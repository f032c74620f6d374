/*
 * pg_tasks.c - tasks in the PostgreSQL backend: creation with its hold, idempotency record and
 * asset references; reads and lists; claims and leases; every status change; start-up recovery
 * (store.h documents each operation; sqlite_tasks.c is the twin).
 *
 * Every status change is one conditional UPDATE whose "expected from" set is
 * vg_task_op_from(op), bound as a text[] (PG_SET, "status = ANY($n)"), and whose new status is
 * vg_task_op_to(op). No row changed means the task was not in an allowed status: VG_CONFLICT. A
 * change that ends a task moves its money in the same transaction (capture, release).
 *
 * Concurrency between connections (threads or nodes):
 * - Creation locks the key row (SELECT … FOR UPDATE) before it checks the funds and the active
 *   cap, so submits on one key take turns and never overspend. Its idempotency record is inserted
 *   first: a second submit with the same key waits on the unique index until the first commits,
 *   then fails with VG_DUPLICATE (the caller replays the first one's reply via idem_get).
 * - Claims pick the oldest due row with FOR UPDATE SKIP LOCKED: two workers never wait on, nor
 *   take, the same task.
 */
#include "common/alloc.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_TTL_S (24 * 3600)

/* The status an operation leaves, as stored. */
static const char *to_name(vg_task_op op)
{
    return vg_task_status_name((vg_task_status)vg_task_op_to(op));
}

void vg_pg_row_to_task(const PGresult *r, int row, void *out)
{
    vg_task *t = out;
    char buf[32];
    memset(t, 0, sizeof *t);
    vg_pg_col_copy(r, row, 0, t->id, sizeof t->id);
    vg_pg_col_copy(r, row, 1, t->key_id, sizeof t->key_id);
    vg_pg_col_copy(r, row, 2, t->model, sizeof t->model);
    vg_pg_col_copy(r, row, 3, buf, sizeof buf);
    t->status = (vg_task_status)vg_task_status_parse(buf);
    t->version = (int)vg_pg_col_i64(r, row, 4);
    t->progress = (int)vg_pg_col_i64(r, row, 5);
    t->created_at = vg_pg_col_i64(r, row, 6);
    t->updated_at = vg_pg_col_i64(r, row, 7);
    t->completed_at = vg_pg_col_i64(r, row, 8);
    t->expires_at = vg_pg_col_i64(r, row, 9);
    t->seconds = (int)vg_pg_col_i64(r, row, 10);
    vg_pg_col_copy(r, row, 11, buf, sizeof buf);
    t->resolution = (vg_resolution)vg_resolution_parse(buf);
    vg_pg_col_copy(r, row, 12, buf, sizeof buf);
    t->ratio = (vg_ratio)vg_ratio_parse(buf);
    t->width = (int)vg_pg_col_i64(r, row, 13);
    t->height = (int)vg_pg_col_i64(r, row, 14);
    t->seed = vg_pg_col_i64(r, row, 15);
    t->params = vg_pg_col_dup(r, row, 16);
    t->hold_micro = vg_pg_col_i64(r, row, 17);
    t->cost_micro = vg_pg_col_i64(r, row, 18);
    t->tokens = vg_pg_col_i64(r, row, 19);
    vg_pg_col_copy(r, row, 20, t->error_code, sizeof t->error_code);
    vg_pg_col_copy(r, row, 21, t->error_message, sizeof t->error_message);
    t->attempts = (int)vg_pg_col_i64(r, row, 22);
    t->lease_until_ms = vg_pg_col_i64(r, row, 23);
    t->has_last_frame = vg_pg_col_i64(r, row, 24) != 0;
    t->content_deleted = vg_pg_col_i64(r, row, 25) != 0;
    t->test_mode = vg_pg_col_i64(r, row, 26) != 0;
}

/* ---- creation ------------------------------------------------------------------------------ */

typedef struct {
    const vg_task *t;
    int max_active;
    const vg_idem *idem;
} create_ctx;

/* Claims the idempotency key for this task. A record older than the 24 h window no longer counts
 * and is replaced. */
static vg_status idem_claim(vg_pg *s, const vg_task *t, const vg_idem *idem)
{
    vg_status rc = vg_pg_exec(
        s, "DELETE FROM idempotency WHERE key_id = $1 AND idem_key = $2 AND created_at < $3",
        PG_ARGS(PG_T(t->key_id), PG_T(idem->key), PG_I(t->created_at - IDEM_TTL_S)), NULL);
    if (rc != VG_OK) return rc;
    return vg_pg_exec(s,
                      "INSERT INTO idempotency (key_id, idem_key, body_hash, task_id, response, "
                      "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                      PG_ARGS(PG_T(t->key_id), PG_T(idem->key), PG_T(idem->body_hash), PG_T(t->id),
                              PG_T(idem->response), PG_I(t->created_at)),
                      NULL);
}

static void fill_money(const PGresult *r, int row, void *out)
{
    int64_t *m = out;
    m[0] = vg_pg_col_i64(r, row, 0);
    m[1] = vg_pg_col_i64(r, row, 1);
}

/* Checks funds and the active-task cap, holding the key row until the commit. */
static vg_status admit(vg_pg *s, const vg_task *t, int max_active)
{
    int64_t money[2] = {0, 0}, active = 0; /* balance, held */
    vg_status rc =
        vg_pg_one(s, "SELECT balance_micro, held_micro FROM keys WHERE id = $1 FOR UPDATE",
                  PG_ARGS(PG_T(t->key_id)), fill_money, money);
    if (rc != VG_OK) return rc;
    if (money[0] - money[1] < t->hold_micro) return VG_NOFUNDS;
    if (max_active <= 0) return VG_OK;
    rc = vg_pg_int64(s, "SELECT count(*) FROM tasks WHERE key_id = $1 AND status = ANY($2)",
                     PG_ARGS(PG_T(t->key_id), PG_SET(VG_TASK_SET_ACTIVE)), &active);
    if (rc != VG_OK) return rc == VG_AGAIN ? rc : VG_ERR;
    return active >= max_active ? VG_LIMITED : VG_OK;
}

/* The hashes of the assets the task renders from: what keeps their bytes from the collector. */
static vg_status asset_refs(vg_pg *s, const vg_task *t)
{
    char hashes[VG_MAX_MEDIA_ITEMS][65];
    int n = vg_task_params_asset_hashes(t->params, hashes);
    for (int i = 0; i < n; i++) {
        vg_status rc = vg_pg_exec(s, "INSERT INTO task_assets (task_id, sha256) VALUES ($1, $2)",
                                  PG_ARGS(PG_T(t->id), PG_T(hashes[i])), NULL);
        if (rc != VG_OK) return rc == VG_AGAIN ? rc : VG_ERR;
    }
    return VG_OK;
}

static vg_status task_create(vg_pg *s, void *ctx)
{
    const create_ctx *c = ctx;
    const vg_task *t = c->t;
    /* The key row is locked before anything else: the idempotency row's foreign key takes a KEY
     * SHARE lock on it, and two submits of one key that each held that and then asked for FOR
     * UPDATE (admit) would deadlock. */
    vg_status rc = vg_pg_exec(s, "SELECT 1 FROM keys WHERE id = $1 FOR UPDATE",
                              PG_ARGS(PG_T(t->key_id)), NULL);
    if (rc == VG_OK && c->idem) rc = idem_claim(s, t, c->idem);
    if (rc == VG_OK) rc = admit(s, t, c->max_active);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(
        s,
        "INSERT INTO tasks (" PG_TASK_COLS ") VALUES ($1, $2, $3, $15, 0, 0, $4, $5, 0, "
        "0, $6, $7, $8, $9, $10, $11, $12, $13, -1, 0, '', '', 0, 0, 0, 0, $14)",
        PG_ARGS(PG_T(t->id), PG_T(t->key_id), PG_T(t->model), PG_I(t->created_at),
                PG_I(t->created_at), PG_I(t->seconds), PG_T(vg_resolution_name(t->resolution)),
                PG_T(vg_ratio_name(t->ratio)), PG_I(t->width), PG_I(t->height), PG_I(t->seed),
                PG_T(t->params), PG_I(t->hold_micro), PG_I(t->test_mode),
                PG_T(vg_task_status_name(VG_TASK_QUEUED))),
        NULL);
    if (rc != VG_OK) return rc;
    rc = asset_refs(s, t);
    if (rc != VG_OK) return rc;
    rc = vg_pg_ledger_move(s, t->key_id, t->id, "hold", t->hold_micro, "", t->created_at);
    return rc == VG_OK || rc == VG_AGAIN ? rc : VG_ERR;
}

vg_status vg_pg_task_create(vg_store *base, const vg_task *t, int max_active, const vg_idem *idem)
{
    create_ctx c = {t, max_active, idem};
    return vg_pg_atomic(vg_pgs(base), task_create, &c);
}

typedef struct {
    char *hash;
    char **response;
} idem_out;

static void fill_idem(const PGresult *r, int row, void *out)
{
    idem_out *o = out;
    vg_pg_col_copy(r, row, 0, o->hash, 65);
    *o->response = vg_pg_col_dup(r, row, 1);
}

vg_status vg_pg_idem_get(vg_store *base, const char *key_id, const char *idem_key, int64_t since,
                         char hash[65], char **response)
{
    idem_out o = {hash, response};
    return vg_pg_one(vg_pgs(base),
                     "SELECT body_hash, response FROM idempotency WHERE key_id = $1 AND "
                     "idem_key = $2 AND created_at >= $3",
                     PG_ARGS(PG_T(key_id), PG_T(idem_key), PG_I(since)), fill_idem, &o);
}

/* ---- reads --------------------------------------------------------------------------------- */

vg_status vg_pg_task_get(vg_store *base, const char *id, const char *key_id, vg_task *out)
{
    if (key_id)
        return vg_pg_one(vg_pgs(base),
                         "SELECT " PG_TASK_COLS " FROM tasks WHERE id = $1 AND key_id = $2",
                         PG_ARGS(PG_T(id), PG_T(key_id)), vg_pg_row_to_task, out);
    return vg_pg_one(vg_pgs(base), "SELECT " PG_TASK_COLS " FROM tasks WHERE id = $1",
                     PG_ARGS(PG_T(id)), vg_pg_row_to_task, out);
}

/* The text depends on which filters are set (12 variants at most, each prepared once); the
 * fragments are fixed and the parameters numbered in order. */
vg_status vg_pg_task_list(vg_store *base, const vg_task_filter *f, vg_task **out, size_t *n,
                          bool *more)
{
    char sql[600];
    vg_pg_val v[4];
    size_t nv = 0;
    int len = snprintf(sql, sizeof sql, "SELECT " PG_TASK_COLS " FROM tasks WHERE true");
    if (f->key_id) {
        v[nv++] = PG_T(f->key_id);
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND key_id = $%zu", nv);
    }
    if (f->status >= 0) {
        v[nv++] = PG_T(vg_task_status_name((vg_task_status)f->status));
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND status = $%zu", nv);
    }
    if (f->after) {
        v[nv++] = PG_T(f->after);
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND id %s $%zu",
                        f->ascending ? ">" : "<", nv);
    }
    v[nv++] = PG_I(f->limit + 1); /* one more tells whether there is a next page */
    snprintf(sql + len, sizeof sql - (size_t)len, " ORDER BY id %s LIMIT $%zu",
             f->ascending ? "ASC" : "DESC", nv);
    vg_status rc = vg_pg_list(vg_pgs(base), sql, v, nv, sizeof **out, vg_pg_row_to_task,
                              (size_t)f->limit + 1, (void **)out, n);
    *more = *n > (size_t)f->limit;
    if (*more) vg_task_free(&(*out)[--*n]);
    return rc;
}

static void fill_id(const PGresult *r, int row, void *out)
{
    vg_pg_col_copy(r, row, 0, out, 48);
}

vg_status vg_pg_task_expired(vg_store *base, int64_t now, int limit, char (**ids)[48], size_t *n)
{
    return vg_pg_list(vg_pgs(base),
                      "SELECT id FROM tasks WHERE status = 'completed' AND content_deleted = 0 "
                      "AND expires_at > 0 AND expires_at <= $1 LIMIT $2",
                      PG_ARGS(PG_I(now), PG_I(limit)), sizeof **ids, fill_id, 0, (void **)ids, n);
}

/* ---- claims and leases --------------------------------------------------------------------- */

vg_status vg_pg_task_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_task *out)
{
    vg_pg *s = vg_pgs(base);
    out->id[0] = '\0';
    vg_status rc = vg_pg_one(
        s,
        "UPDATE tasks SET status = $5, attempts = attempts + 1, version = version + 1, "
        "lease_until = $1, updated_at = $2, lease_owner = $3 WHERE id = (SELECT id FROM tasks "
        "WHERE status = ANY($4) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = ANY($4) "
        "RETURNING " PG_TASK_COLS,
        PG_ARGS(PG_I(now_ms + lease_ms), PG_I(now_ms / 1000), PG_T(s->node),
                PG_SET(vg_task_op_from(VG_TASK_OP_CLAIM)), PG_T(to_name(VG_TASK_OP_CLAIM))),
        vg_pg_row_to_task, out);
    if (rc != VG_OK && out->id[0]) vg_task_free(out);
    return rc;
}

vg_status vg_pg_task_progress(vg_store *base, const char *id, int attempt, int progress,
                              int64_t lease_until_ms)
{
    vg_pg *s = vg_pgs(base);
    /* Only the claim that holds the lease: this node's, and the same claim (a task re-claimed
     * after its lease expired has more attempts, even when this node claimed it again). */
    return vg_pg_change(s,
                        "UPDATE tasks SET progress = greatest(progress, $1), lease_until = $2, "
                        "updated_at = CASE WHEN $1 > progress THEN $3 ELSE updated_at END "
                        "WHERE id = $4 AND status = ANY($5) AND lease_owner = $6 AND "
                        "attempts = $7",
                        PG_ARGS(PG_I(progress), PG_I(lease_until_ms), PG_I(lease_until_ms / 1000),
                                PG_T(id), PG_SET(vg_task_op_from(VG_TASK_OP_PROGRESS)),
                                PG_T(s->node), PG_I(attempt)),
                        VG_CONFLICT);
}

vg_status vg_pg_task_requeue(vg_store *base, const char *id, bool orderly, int64_t now)
{
    /* $3 = 1 for an orderly interruption (shutdown): that claim does not count as an attempt. */
    return vg_pg_change(vg_pgs(base),
                        "UPDATE tasks SET status = $5, version = version + 1, updated_at = $1, "
                        "lease_until = 0, lease_owner = '', attempts = attempts - $3 "
                        "WHERE id = $2 AND status = ANY($4)",
                        PG_ARGS(PG_I(now), PG_T(id), PG_I(orderly ? 1 : 0),
                                PG_SET(vg_task_op_from(VG_TASK_OP_REQUEUE)),
                                PG_T(to_name(VG_TASK_OP_REQUEUE))),
                        VG_CONFLICT);
}

vg_status vg_pg_task_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_pg *s = vg_pgs(base);
    int changes = 0;
    char *owners = NULL;
    vg_status rc = vg_pg_recover_owners(s, &owners);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(
        s,
        "UPDATE tasks SET status = $4, version = version + 1, updated_at = $5, lease_until = 0, "
        "lease_owner = '' WHERE status = ANY($3) AND lease_until > 0 AND "
        "(lease_owner = ANY($1::text[]) OR lease_until < $2)",
        PG_ARGS(PG_T(owners), PG_I(now_ms), PG_SET(vg_task_op_from(VG_TASK_OP_REQUEUE)),
                PG_T(to_name(VG_TASK_OP_REQUEUE)), PG_I(now_ms / 1000)),
        &changes);
    free(owners);
    *n = changes;
    return rc;
}

vg_status vg_pg_task_requeue_expired(vg_store *base, int64_t now_ms, int64_t *n)
{
    int changes = 0;
    vg_status rc = vg_pg_exec(
        vg_pgs(base),
        "UPDATE tasks SET status = $3, version = version + 1, updated_at = $4, lease_until = 0, "
        "lease_owner = '' WHERE status = ANY($2) AND lease_until > 0 AND lease_until < $1",
        PG_ARGS(PG_I(now_ms), PG_SET(vg_task_op_from(VG_TASK_OP_REQUEUE)),
                PG_T(to_name(VG_TASK_OP_REQUEUE)), PG_I(now_ms / 1000)),
        &changes);
    *n = changes;
    return rc;
}

vg_status vg_pg_task_mark_deleted(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return vg_pg_change(
        vg_pgs(base),
        "UPDATE tasks SET content_deleted = 1, updated_at = $1 WHERE id = $2 AND "
        "($3::text IS NULL OR key_id = $3) AND status = ANY($4)",
        PG_ARGS(PG_I(now), PG_T(id), PG_T(key_id), PG_SET(vg_task_op_from(VG_TASK_OP_FORGET))),
        VG_CONFLICT);
}

/* ---- changes that end a task and settle its money ------------------------------------------ */

typedef struct {
    char key_id[48];
    int64_t hold;
} returned_money;

static void fill_returned(const PGresult *r, int row, void *out)
{
    returned_money *m = out;
    vg_pg_col_copy(r, row, 0, m->key_id, sizeof m->key_id);
    m->hold = vg_pg_col_i64(r, row, 1);
}

/* A final transition: a bound UPDATE … RETURNING key_id, hold_micro, then its money. */
typedef struct {
    const char *id;
    const char *sql;
    const vg_pg_val *v;
    size_t n;
    int64_t cost; /* captured when >= 0 */
    int64_t now;
    vg_task_status to; /* the final status: its webhook event is written in the same transaction */
} final_ctx;

static vg_status finish(vg_pg *s, void *ctx)
{
    const final_ctx *c = ctx;
    returned_money m;
    vg_status rc = vg_pg_one(s, c->sql, c->v, c->n, fill_returned, &m);
    if (rc != VG_OK) return rc == VG_NOTFOUND ? VG_CONFLICT : rc;
    if (c->cost >= 0) rc = vg_pg_ledger_move(s, m.key_id, c->id, "capture", c->cost, "", c->now);
    if (rc == VG_OK) rc = vg_pg_ledger_move(s, m.key_id, c->id, "release", m.hold, "", c->now);
    if (rc == VG_OK) rc = vg_pg_webhook_enqueue(s, c->id, vg_webhook_event_type(c->to), c->now);
    return rc == VG_OK || rc == VG_AGAIN ? rc : VG_ERR;
}

static vg_status final_transition(vg_store *base, const char *id, vg_task_status to,
                                  const char *sql, const vg_pg_val *v, size_t n, int64_t cost,
                                  int64_t now)
{
    final_ctx c = {id, sql, v, n, cost, now, to};
    return vg_pg_atomic(vg_pgs(base), finish, &c);
}

vg_status vg_pg_task_complete(vg_store *base, const char *id, const vg_task_result *r, int64_t now)
{
    return final_transition(
        base, id, VG_TASK_COMPLETED,
        "UPDATE tasks SET status = $12, progress = 100, version = version + 1, updated_at = $1, "
        "completed_at = $1, expires_at = $2, width = $3, height = $4, ratio = $5, seed = $6, "
        "tokens = $7, cost_micro = $8, has_last_frame = $9, lease_until = 0 "
        "WHERE id = $10 AND status = ANY($11) RETURNING key_id, hold_micro",
        PG_ARGS(PG_I(now), PG_I(r->expires_at), PG_I(r->width), PG_I(r->height),
                PG_T(vg_ratio_name(r->ratio)), PG_I(r->seed), PG_I(r->tokens), PG_I(r->cost_micro),
                PG_I(r->has_last_frame), PG_T(id), PG_SET(vg_task_op_from(VG_TASK_OP_COMPLETE)),
                PG_T(to_name(VG_TASK_OP_COMPLETE))),
        r->cost_micro, now);
}

vg_status vg_pg_task_fail(vg_store *base, const char *id, const char *code, const char *msg,
                          int64_t now)
{
    return final_transition(
        base, id, VG_TASK_FAILED,
        "UPDATE tasks SET status = $6, version = version + 1, updated_at = $1, completed_at = $1, "
        "error_code = $2, error_message = $3, lease_until = 0 WHERE id = $4 AND "
        "status = ANY($5) RETURNING key_id, hold_micro",
        PG_ARGS(PG_I(now), PG_T(code), PG_T(msg), PG_T(id),
                PG_SET(vg_task_op_from(VG_TASK_OP_FAIL)), PG_T(to_name(VG_TASK_OP_FAIL))),
        -1, now);
}

vg_status vg_pg_task_cancel(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return final_transition(
        base, id, VG_TASK_CANCELLED,
        "UPDATE tasks SET status = $5, version = version + 1, updated_at = $1, completed_at = $1, "
        "error_code = 'cancelled', error_message = 'cancelled by the caller' WHERE id = $2 AND "
        "key_id = $3 AND status = ANY($4) RETURNING key_id, hold_micro",
        PG_ARGS(PG_I(now), PG_T(id), PG_T(key_id), PG_SET(vg_task_op_from(VG_TASK_OP_CANCEL)),
                PG_T(to_name(VG_TASK_OP_CANCEL))),
        -1, now);
}
