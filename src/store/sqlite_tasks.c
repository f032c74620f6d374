/*
 * sqlite_tasks.c - tasks in the SQLite backend: creation with its hold, idempotency record and
 * asset references; reads and lists; claims and leases; every status change; start-up recovery
 * (store.h documents each operation).
 *
 * Every status change is one conditional UPDATE whose "expected from" set is
 * vg_task_op_from(op), bound as a bit set (SQ_STATUS_IN), and whose new status is
 * vg_task_op_to(op): the state machine of core/task.c is the only place that says which moves
 * exist. No row changed means the task was not in an allowed status: VG_CONFLICT. A change that
 * ends a task moves its money in the same transaction (capture, release).
 *
 * Leases: a claim writes lease_until (unix ms) and lease_owner (this connection's node name);
 * task_recover re-queues every leased task (one node by definition: they are this process's
 * previous life's); task_requeue_expired, while running, those whose lease expired.
 */
#include "common/alloc.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_TTL_S (24 * 3600)

/* The status an operation leaves, as stored. */
static const char *to_name(vg_task_op op)
{
    return vg_task_status_name((vg_task_status)vg_task_op_to(op));
}

void vg_sq_row_to_task(sqlite3_stmt *st, void *out)
{
    vg_task *t = out;
    char buf[32];
    memset(t, 0, sizeof *t);
    vg_sq_col_copy(st, 0, t->id, sizeof t->id);
    vg_sq_col_copy(st, 1, t->key_id, sizeof t->key_id);
    vg_sq_col_copy(st, 2, t->model, sizeof t->model);
    vg_sq_col_copy(st, 3, buf, sizeof buf);
    t->status = (vg_task_status)vg_task_status_parse(buf);
    t->version = sqlite3_column_int(st, 4);
    t->progress = sqlite3_column_int(st, 5);
    t->created_at = sqlite3_column_int64(st, 6);
    t->updated_at = sqlite3_column_int64(st, 7);
    t->completed_at = sqlite3_column_int64(st, 8);
    t->expires_at = sqlite3_column_int64(st, 9);
    t->seconds = sqlite3_column_int(st, 10);
    vg_sq_col_copy(st, 11, buf, sizeof buf);
    t->resolution = (vg_resolution)vg_resolution_parse(buf);
    vg_sq_col_copy(st, 12, buf, sizeof buf);
    t->ratio = (vg_ratio)vg_ratio_parse(buf);
    t->width = sqlite3_column_int(st, 13);
    t->height = sqlite3_column_int(st, 14);
    t->seed = sqlite3_column_int64(st, 15);
    t->params = vg_sq_col_dup(st, 16);
    t->hold_micro = sqlite3_column_int64(st, 17);
    t->cost_micro = sqlite3_column_int64(st, 18);
    t->tokens = sqlite3_column_int64(st, 19);
    vg_sq_col_copy(st, 20, t->error_code, sizeof t->error_code);
    vg_sq_col_copy(st, 21, t->error_message, sizeof t->error_message);
    t->attempts = sqlite3_column_int(st, 22);
    t->lease_until_ms = sqlite3_column_int64(st, 23);
    t->has_last_frame = sqlite3_column_int(st, 24) != 0;
    t->content_deleted = sqlite3_column_int(st, 25) != 0;
    t->test_mode = sqlite3_column_int(st, 26) != 0;
}

/* ---- creation ------------------------------------------------------------------------------ */

typedef struct money_book money_book;

typedef struct {
    const vg_task *t;
    int max_active;
    const vg_idem *idem;
    money_book *book; /* a batch's (see admit), or NULL */
} create_ctx;

/* Claims the idempotency key for this task. A record older than the 24 h window no longer counts
 * and is replaced. */
static vg_status idem_claim(vg_sqlite *s, const vg_task *t, const vg_idem *idem)
{
    vg_status rc = vg_sq_exec(
        s, "DELETE FROM idempotency WHERE key_id = ?1 AND idem_key = ?2 AND created_at < ?3",
        SQ_ARGS(SQ_T(t->key_id), SQ_T(idem->key), SQ_I(t->created_at - IDEM_TTL_S)), NULL);
    if (rc != VG_OK) return rc;
    return vg_sq_exec(s,
                      "INSERT INTO idempotency (key_id, idem_key, body_hash, task_id, response, "
                      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      SQ_ARGS(SQ_T(t->key_id), SQ_T(idem->key), SQ_T(idem->body_hash), SQ_T(t->id),
                              SQ_T(idem->response), SQ_I(t->created_at)),
                      NULL);
}

static void fill_money(sqlite3_stmt *st, void *out)
{
    int64_t *m = out;
    m[0] = sqlite3_column_int64(st, 0);
    m[1] = sqlite3_column_int64(st, 1);
}

/* A group commit's view of the money of the keys in its batch: each key's balance and held amount
 * read once, the holds of the batch's tasks added in memory, and each key's row written once
 * before the commit (flush_book). Reading and writing the key's row for every task was two of
 * the four statements of a submit. */
typedef struct {
    char key_id[48];
    int64_t balance, held; /* as the batch's next task sees them */
    int64_t added;         /* holds of this batch, not yet written to the key's row */
} book_key;

struct money_book {
    book_key *keys; /* as many as the batch has tasks */
    size_t n;
};

static vg_status read_money(vg_sqlite *s, const char *key_id, int64_t money[2])
{
    return vg_sq_one(s, "SELECT balance_micro, held_micro FROM keys WHERE id = ?1",
                     SQ_ARGS(SQ_T(key_id)), fill_money, money);
}

/* The book's entry of key_id, read from the store on first use. */
static vg_status book_entry(vg_sqlite *s, money_book *b, const char *key_id, book_key **out)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->keys[i].key_id, key_id)) return *out = &b->keys[i], VG_OK;
    int64_t money[2] = {0, 0};
    vg_status rc = read_money(s, key_id, money);
    if (rc != VG_OK) return rc;
    book_key *k = &b->keys[b->n++];
    snprintf(k->key_id, sizeof k->key_id, "%s", key_id);
    k->balance = money[0];
    k->held = money[1];
    k->added = 0;
    return *out = k, VG_OK;
}

/* Writes the batch's holds to the keys' rows (inside the batch's transaction). */
static vg_status flush_book(vg_sqlite *s, const money_book *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->keys[i].added) continue;
        vg_status rc =
            vg_sq_change(s, "UPDATE keys SET held_micro = held_micro + ?1 WHERE id = ?2",
                         SQ_ARGS(SQ_I(b->keys[i].added), SQ_T(b->keys[i].key_id)), VG_NOTFOUND);
        if (rc != VG_OK) return VG_ERR;
    }
    return VG_OK;
}

/* Checks funds (from the book when there is one, else from the key's row) and the active-task
 * cap. */
static vg_status admit(vg_sqlite *s, const vg_task *t, int max_active, money_book *book)
{
    int64_t money[2] = {0, 0}, active = 0; /* balance, held */
    book_key *k = NULL;
    vg_status rc = book ? book_entry(s, book, t->key_id, &k) : read_money(s, t->key_id, money);
    if (rc != VG_OK) return rc;
    if (k) money[0] = k->balance, money[1] = k->held;
    if (money[0] - money[1] < t->hold_micro) return VG_NOFUNDS;
    if (max_active <= 0) return VG_OK;
    rc = vg_sq_int64(s,
                     "SELECT count(*) FROM tasks WHERE key_id = ?1 AND " SQ_STATUS_IN("status", 2),
                     SQ_ARGS(SQ_T(t->key_id), SQ_I(VG_TASK_SET_ACTIVE)), &active);
    if (rc != VG_OK) return VG_ERR;
    return active >= max_active ? VG_LIMITED : VG_OK;
}

/* The task's hold: a ledger row, and the key's held amount (in the book, or in its row). */
static vg_status hold(vg_sqlite *s, const vg_task *t, money_book *book)
{
    if (!book)
        return vg_sq_ledger_move(s, t->key_id, t->id, "hold", t->hold_micro, "", t->created_at);
    book_key *k = NULL;
    vg_status rc = book_entry(s, book, t->key_id, &k);
    if (rc == VG_OK)
        rc = vg_sq_ledger_row(s, t->key_id, t->id, "hold", t->hold_micro, "", t->created_at);
    if (rc != VG_OK) return rc;
    k->held += t->hold_micro;
    k->added += t->hold_micro;
    return VG_OK;
}

/* The hashes of the assets the task renders from: what keeps their bytes from the collector. */
static vg_status asset_refs(vg_sqlite *s, const vg_task *t)
{
    char hashes[VG_MAX_MEDIA_ITEMS][65];
    /* Most tasks name no asset: no need to parse their parameters to learn it. */
    if (!t->params || !strstr(t->params, "asset:")) return VG_OK;
    int n = vg_task_params_asset_hashes(t->params, hashes);
    for (int i = 0; i < n; i++) {
        vg_status rc = vg_sq_exec(s, "INSERT INTO task_assets (task_id, sha256) VALUES (?1, ?2)",
                                  SQ_ARGS(SQ_T(t->id), SQ_T(hashes[i])), NULL);
        if (rc != VG_OK) return VG_ERR;
    }
    return VG_OK;
}

/* Whether the idempotency key is held by a record still inside its window. */
static vg_status idem_taken(vg_sqlite *s, const vg_task *t, const vg_idem *idem)
{
    int64_t n = 0;
    vg_status rc = vg_sq_int64(
        s,
        "SELECT count(*) FROM idempotency WHERE key_id = ?1 AND "
        "idem_key = ?2 AND created_at >= ?3",
        SQ_ARGS(SQ_T(t->key_id), SQ_T(idem->key), SQ_I(t->created_at - IDEM_TTL_S)), &n);
    if (rc != VG_OK) return rc;
    return n ? VG_DUPLICATE : VG_OK;
}

/* Every refusal (VG_DUPLICATE, VG_NOFUNDS, VG_LIMITED) is decided by reads before the first
 * write, so a refused creation leaves the transaction as it found it: a batch needs no savepoint
 * per task (whose sub-journal copied every touched page again for each task). */
static vg_status task_create(vg_sqlite *s, void *ctx)
{
    const create_ctx *c = ctx;
    const vg_task *t = c->t;
    vg_status rc = c->idem ? idem_taken(s, t, c->idem) : VG_OK;
    if (rc == VG_OK) rc = admit(s, t, c->max_active, c->book);
    if (rc == VG_OK && c->idem) rc = idem_claim(s, t, c->idem);
    if (rc != VG_OK) return rc;
    rc = vg_sq_exec(
        s,
        "INSERT INTO tasks (" SQ_TASK_COLS ") VALUES (?1, ?2, ?3, ?15, 0, 0, ?4, ?5, 0, "
        "0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, -1, 0, '', '', 0, 0, 0, 0, ?14)",
        SQ_ARGS(SQ_T(t->id), SQ_T(t->key_id), SQ_T(t->model), SQ_I(t->created_at),
                SQ_I(t->created_at), SQ_I(t->seconds), SQ_T(vg_resolution_name(t->resolution)),
                SQ_T(vg_ratio_name(t->ratio)), SQ_I(t->width), SQ_I(t->height), SQ_I(t->seed),
                SQ_T(t->params), SQ_I(t->hold_micro), SQ_I(t->test_mode),
                SQ_T(vg_task_status_name(VG_TASK_QUEUED))),
        NULL);
    if (rc != VG_OK) return rc;
    if (asset_refs(s, t) != VG_OK) return VG_ERR;
    return hold(s, t, c->book) == VG_OK ? VG_OK : VG_ERR;
}

vg_status vg_sq_task_create(vg_store *base, const vg_task *t, int max_active, const vg_idem *idem)
{
    create_ctx c = {t, max_active, idem, NULL};
    return vg_sq_atomic(vg_sq(base), task_create, &c);
}

static bool is_refusal(vg_status rc)
{
    return rc == VG_DUPLICATE || rc == VG_NOFUNDS || rc == VG_LIMITED;
}

/* Group commit (store.h task_create_batch). A refusal wrote nothing (task_create), so the rows
 * run one after the other in the one transaction and each sees what the earlier ones did, as it
 * would one transaction at a time (the money of the batch's keys through its book, see admit). Anything else going wrong in a row (an I/O error, a broken
 * statement) rolls the batch back, and each row is then tried in a transaction of its own, so a
 * bad row fails alone. */
vg_status vg_sq_task_create_batch(vg_store *base, vg_task_create_req *r, size_t n)
{
    vg_sqlite *s = vg_sq(base);
    money_book book = {vg_calloc(n ? n : 1, sizeof *book.keys), 0};
    vg_status rc = vg_sq_exec(s, "BEGIN IMMEDIATE", SQ_NONE, NULL);
    bool row_failed = false;
    for (size_t i = 0; rc == VG_OK && !row_failed && i < n; i++) {
        create_ctx c = {r[i].t, r[i].max_active, r[i].idem, &book};
        r[i].rc = task_create(s, &c);
        row_failed = r[i].rc != VG_OK && !is_refusal(r[i].rc);
    }
    if (rc == VG_OK && !row_failed) row_failed = flush_book(s, &book) != VG_OK;
    free(book.keys);
    if (rc == VG_OK && !row_failed) rc = vg_sq_exec(s, "COMMIT", SQ_NONE, NULL);
    if (rc == VG_OK && !row_failed) return VG_OK;
    vg_sq_exec(s, "ROLLBACK", SQ_NONE, NULL);
    if (rc != VG_OK) { /* BEGIN or COMMIT failed: nothing was written */
        for (size_t i = 0; i < n; i++)
            r[i].rc = rc;
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        create_ctx c = {r[i].t, r[i].max_active, r[i].idem, NULL};
        r[i].rc = vg_sq_atomic(s, task_create, &c);
    }
    return VG_OK;
}

typedef struct {
    char *hash;
    char **response;
} idem_out;

static void fill_idem(sqlite3_stmt *st, void *out)
{
    idem_out *o = out;
    vg_sq_col_copy(st, 0, o->hash, 65);
    *o->response = vg_sq_col_dup(st, 1);
}

vg_status vg_sq_idem_get(vg_store *base, const char *key_id, const char *idem_key, int64_t since,
                         char hash[65], char **response)
{
    idem_out o = {hash, response};
    return vg_sq_one(vg_sq(base),
                     "SELECT body_hash, response FROM idempotency WHERE key_id = ?1 AND "
                     "idem_key = ?2 AND created_at >= ?3",
                     SQ_ARGS(SQ_T(key_id), SQ_T(idem_key), SQ_I(since)), fill_idem, &o);
}

/* ---- reads --------------------------------------------------------------------------------- */

/* With its key, a task is one search of the table's own b-tree (key_id, id): NOT INDEXED keeps
 * the planner, which knows no better without statistics, off the unique index on id, which would
 * cost a second b-tree (migration 11). */
vg_status vg_sq_task_get(vg_store *base, const char *id, const char *key_id, vg_task *out)
{
    if (key_id)
        return vg_sq_one(vg_sq(base),
                         "SELECT " SQ_TASK_COLS
                         " FROM tasks NOT INDEXED WHERE key_id = ?2 AND id = ?1",
                         SQ_ARGS(SQ_T(id), SQ_T(key_id)), vg_sq_row_to_task, out);
    return vg_sq_one(vg_sq(base), "SELECT " SQ_TASK_COLS " FROM tasks WHERE id = ?1",
                     SQ_ARGS(SQ_T(id)), vg_sq_row_to_task, out);
}

/* The text depends on which filters are set (12 variants at most, each cached like any other). */
vg_status vg_sq_task_list(vg_store *base, const vg_task_filter *f, vg_task **out, size_t *n,
                          bool *more)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " SQ_TASK_COLS " FROM tasks WHERE 1=1%s%s%s ORDER BY id %s LIMIT ?",
             f->key_id ? " AND key_id = ?" : "", f->status >= 0 ? " AND status = ?" : "",
             f->after ? (f->ascending ? " AND id > ?" : " AND id < ?") : "",
             f->ascending ? "ASC" : "DESC");
    vg_sq_val v[4];
    size_t nv = 0;
    if (f->key_id) v[nv++] = SQ_T(f->key_id);
    if (f->status >= 0) v[nv++] = SQ_T(vg_task_status_name((vg_task_status)f->status));
    if (f->after) v[nv++] = SQ_T(f->after);
    v[nv++] = SQ_I(f->limit + 1); /* one more tells whether there is a next page */
    vg_status rc = vg_sq_list(vg_sq(base), sql, v, nv, sizeof **out, vg_sq_row_to_task,
                              (size_t)f->limit + 1, (void **)out, n);
    *more = *n > (size_t)f->limit;
    if (*more) vg_task_free(&(*out)[--*n]);
    return rc;
}

static void fill_id(sqlite3_stmt *st, void *out)
{
    vg_sq_col_copy(st, 0, out, 48);
}

vg_status vg_sq_task_expired(vg_store *base, int64_t now, int limit, char (**ids)[48], size_t *n)
{
    return vg_sq_list(vg_sq(base),
                      "SELECT id FROM tasks WHERE status = 'completed' AND content_deleted = 0 "
                      "AND expires_at > 0 AND expires_at <= ?1 LIMIT ?2",
                      SQ_ARGS(SQ_I(now), SQ_I(limit)), sizeof **ids, fill_id, 0, (void **)ids, n);
}

/* ---- claims and leases --------------------------------------------------------------------- */

vg_status vg_sq_task_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_task *out)
{
    vg_sqlite *s = vg_sq(base);
    out->id[0] = '\0';
    vg_status rc =
        vg_sq_one(s,
                  "UPDATE tasks SET status = ?5, attempts = attempts + 1, version = version + 1, "
                  "lease_until = ?1, updated_at = ?2, lease_owner = ?3 WHERE id = " SQ_OLDEST_IN(
                      4, "") " AND " SQ_STATUS_IN("status", 4) " RETURNING " SQ_TASK_COLS,
                  SQ_ARGS(SQ_I(now_ms + lease_ms), SQ_I(now_ms / 1000), SQ_T(s->node),
                          SQ_I(vg_task_op_from(VG_TASK_OP_CLAIM)), SQ_T(to_name(VG_TASK_OP_CLAIM))),
                  vg_sq_row_to_task, out);
    if (rc != VG_OK && out->id[0]) vg_task_free(out);
    return rc;
}

vg_status vg_sq_task_progress(vg_store *base, const char *id, int attempt, int progress,
                              int64_t lease_until_ms)
{
    vg_sqlite *s = vg_sq(base);
    /* Only the claim that holds the lease: this node's, and the same claim (a task re-claimed
     * after its lease expired has more attempts, even when this node claimed it again). */
    return vg_sq_change(
        s,
        "UPDATE tasks SET progress = max(progress, ?1), lease_until = ?2, "
        "updated_at = CASE WHEN ?1 > progress THEN ?3 ELSE updated_at END "
        "WHERE id = ?4 AND " SQ_STATUS_IN("status", 5) " AND lease_owner = ?6 AND attempts = ?7",
        SQ_ARGS(SQ_I(progress), SQ_I(lease_until_ms), SQ_I(lease_until_ms / 1000), SQ_T(id),
                SQ_I(vg_task_op_from(VG_TASK_OP_PROGRESS)), SQ_T(s->node), SQ_I(attempt)),
        VG_CONFLICT);
}

vg_status vg_sq_task_requeue(vg_store *base, const char *id, bool orderly, int64_t now)
{
    /* ?3 = 1 for an orderly interruption (shutdown): that claim does not count as an attempt. */
    return vg_sq_change(vg_sq(base),
                        "UPDATE tasks SET status = ?5, version = version + 1, updated_at = ?1, "
                        "lease_until = 0, lease_owner = '', attempts = attempts - ?3 "
                        "WHERE id = ?2 AND " SQ_STATUS_IN("status", 4),
                        SQ_ARGS(SQ_I(now), SQ_T(id), SQ_I(orderly ? 1 : 0),
                                SQ_I(vg_task_op_from(VG_TASK_OP_REQUEUE)),
                                SQ_T(to_name(VG_TASK_OP_REQUEUE))),
                        VG_CONFLICT);
}

vg_status vg_sq_task_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    (void)now_ms;
    /* One node by definition: every lease is this process's previous life's. */
    vg_status rc = vg_sq_exec(
        s,
        "UPDATE tasks SET status = ?2, version = version + 1, updated_at = ?3, lease_until = 0, "
        "lease_owner = '' WHERE " SQ_STATUS_IN("status", 1) " AND lease_until > 0",
        SQ_ARGS(SQ_I(vg_task_op_from(VG_TASK_OP_REQUEUE)), SQ_T(to_name(VG_TASK_OP_REQUEUE)),
                SQ_I(now_ms / 1000)),
        &changes);
    *n = changes;
    return rc;
}

vg_status vg_sq_task_requeue_expired(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    vg_status rc = vg_sq_exec(
        s,
        "UPDATE tasks SET status = ?3, version = version + 1, updated_at = ?4, lease_until = 0, "
        "lease_owner = '' WHERE " SQ_STATUS_IN("status", 2) " AND lease_until > 0 AND "
                                                            "lease_until < ?1",
        SQ_ARGS(SQ_I(now_ms), SQ_I(vg_task_op_from(VG_TASK_OP_REQUEUE)),
                SQ_T(to_name(VG_TASK_OP_REQUEUE)), SQ_I(now_ms / 1000)),
        &changes);
    *n = changes;
    return rc;
}

vg_status vg_sq_task_mark_deleted(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return vg_sq_change(
        vg_sq(base),
        "UPDATE tasks SET content_deleted = 1, updated_at = ?1 WHERE id = ?2 AND "
        "(?3 IS NULL OR key_id = ?3) AND " SQ_STATUS_IN("status", 4),
        SQ_ARGS(SQ_I(now), SQ_T(id), SQ_T(key_id), SQ_I(vg_task_op_from(VG_TASK_OP_FORGET))),
        VG_CONFLICT);
}

/* ---- changes that end a task and settle its money ------------------------------------------ */

typedef struct {
    char key_id[48];
    int64_t hold;
} returned_money;

static void fill_returned(sqlite3_stmt *st, void *out)
{
    returned_money *m = out;
    vg_sq_col_copy(st, 0, m->key_id, sizeof m->key_id);
    m->hold = sqlite3_column_int64(st, 1);
}

/* A final transition: a bound UPDATE … RETURNING key_id, hold_micro, then its money. */
typedef struct {
    const char *id;
    const char *sql;
    const vg_sq_val *v;
    size_t n;
    int64_t cost; /* captured when >= 0 */
    int64_t now;
    vg_task_status to; /* the final status: its webhook event is written in the same transaction */
} final_ctx;

static vg_status finish(vg_sqlite *s, void *ctx)
{
    const final_ctx *c = ctx;
    returned_money m;
    vg_status rc = vg_sq_one(s, c->sql, c->v, c->n, fill_returned, &m);
    if (rc != VG_OK) return rc == VG_NOTFOUND ? VG_CONFLICT : rc;
    if (c->cost >= 0) rc = vg_sq_ledger_move(s, m.key_id, c->id, "capture", c->cost, "", c->now);
    if (rc == VG_OK) rc = vg_sq_ledger_move(s, m.key_id, c->id, "release", m.hold, "", c->now);
    if (rc == VG_OK) rc = vg_sq_webhook_enqueue(s, c->id, vg_webhook_event_type(c->to), c->now);
    return rc == VG_OK ? VG_OK : VG_ERR;
}

static vg_status final_transition(vg_store *base, const char *id, vg_task_status to,
                                  const char *sql, const vg_sq_val *v, size_t n, int64_t cost,
                                  int64_t now)
{
    final_ctx c = {id, sql, v, n, cost, now, to};
    return vg_sq_atomic(vg_sq(base), finish, &c);
}

vg_status vg_sq_task_complete(vg_store *base, const char *id, const vg_task_result *r, int64_t now)
{
    return final_transition(
        base, id, VG_TASK_COMPLETED,
        "UPDATE tasks SET status = ?12, progress = 100, version = version + 1, updated_at = ?1, "
        "completed_at = ?1, expires_at = ?2, width = ?3, height = ?4, ratio = ?5, seed = ?6, "
        "tokens = ?7, cost_micro = ?8, has_last_frame = ?9, lease_until = 0 "
        "WHERE id = ?10 AND " SQ_STATUS_IN("status", 11) " RETURNING key_id, hold_micro",
        SQ_ARGS(SQ_I(now), SQ_I(r->expires_at), SQ_I(r->width), SQ_I(r->height),
                SQ_T(vg_ratio_name(r->ratio)), SQ_I(r->seed), SQ_I(r->tokens), SQ_I(r->cost_micro),
                SQ_I(r->has_last_frame), SQ_T(id), SQ_I(vg_task_op_from(VG_TASK_OP_COMPLETE)),
                SQ_T(to_name(VG_TASK_OP_COMPLETE))),
        r->cost_micro, now);
}

vg_status vg_sq_task_fail(vg_store *base, const char *id, const char *code, const char *msg,
                          int64_t now)
{
    return final_transition(
        base, id, VG_TASK_FAILED,
        "UPDATE tasks SET status = ?6, version = version + 1, updated_at = ?1, completed_at = ?1, "
        "error_code = ?2, error_message = ?3, lease_until = 0 WHERE id = ?4 AND "
        "" SQ_STATUS_IN("status", 5) " RETURNING key_id, hold_micro",
        SQ_ARGS(SQ_I(now), SQ_T(code), SQ_T(msg), SQ_T(id), SQ_I(vg_task_op_from(VG_TASK_OP_FAIL)),
                SQ_T(to_name(VG_TASK_OP_FAIL))),
        -1, now);
}

vg_status vg_sq_task_cancel(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return final_transition(
        base, id, VG_TASK_CANCELLED,
        "UPDATE tasks SET status = ?5, version = version + 1, updated_at = ?1, completed_at = ?1, "
        "error_code = 'cancelled', error_message = 'cancelled by the caller' WHERE id = ?2 AND "
        "key_id = ?3 AND " SQ_STATUS_IN("status", 4) " RETURNING key_id, hold_micro",
        SQ_ARGS(SQ_I(now), SQ_T(id), SQ_T(key_id), SQ_I(vg_task_op_from(VG_TASK_OP_CANCEL)),
                SQ_T(to_name(VG_TASK_OP_CANCEL))),
        -1, now);
}
