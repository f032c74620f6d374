/*
 * sqlite.c - the SQLite store backend (see store.h for the contract).
 *
 * One vg_sqlite per thread, each its own connection to DIR/vidgate.db in WAL mode, so readers never
 * wait for the writer. Writes that must be atomic run inside BEGIN IMMEDIATE, which takes the write
 * lock up front: two writers can never deadlock upgrading a read lock. busy_timeout makes a writer
 * wait for another instead of failing. synchronous=FULL: a committed transaction survives power
 * loss, which is what "a task that got a 2xx survives kill -9" rests on.
 *
 * Statements are prepared once per connection and kept in a table indexed by an enum.
 */
#include "store/store.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "store/migrations.h"
#include "store/sqlite_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_KEY_INSERT,
    Q_KEY_BY_HASH,
    Q_KEY_GET,
    Q_KEY_LIST,
    Q_KEY_REVOKE,
    Q_KEY_COUNT,
    Q_KEY_MONEY,
    Q_KEY_ADD_BALANCE,
    Q_KEY_ADD_HELD,
    Q_LEDGER_INSERT,
    Q_ACTIVE_COUNT,
    Q_TASK_INSERT,
    Q_TASK_GET,
    Q_TASK_GET_ANY,
    Q_TASK_CLAIM,
    Q_TASK_PROGRESS,
    Q_TASK_COMPLETE,
    Q_TASK_FAIL,
    Q_TASK_CANCEL,
    Q_TASK_REQUEUE,
    Q_TASK_DELETED,
    Q_TASK_MONEY,
    Q_TASK_ORPHANS,
    Q_TASK_EXPIRED,
    Q_IDEM_PURGE,
    Q_IDEM_INSERT,
    Q_IDEM_GET,
    Q_KEY_UPDATE,
    Q_LEDGER_LIST,
    Q_AGROUP_INSERT,
    Q_AGROUP_GET,
    Q_AGROUP_DEFAULT,
    Q_AGROUP_UPDATE,
    Q_AGROUP_USED,
    Q_AGROUP_DELETE,
    Q_ASSET_INSERT,
    Q_ASSET_GET,
    Q_ASSET_GET_ANY,
    Q_ASSET_UPDATE,
    Q_ASSET_DELETE,
    Q_ASSET_CLAIM,
    Q_ASSET_ACTIVATE,
    Q_ASSET_FAIL,
    Q_ASSET_RELEASE_ALL,
    Q_ASSET_GC_DUE,
    Q_ASSET_BLOB_ROWS,
    Q_ASSET_BLOB_TASKS,
    Q_ASSET_GC_DEFER,
    Q_ASSET_PURGE,
    Q_COUNT
};

#define KEY_COLS                                                                                   \
    "id, name, hash, is_admin, revoked_at, test_mode, balance_micro, held_micro, created_at, "     \
    "expires_at, max_active_tasks, rate_limit_per_min, allowed_models"
#define TASK_COLS                                                                                  \
    "id, key_id, model, status, version, progress, created_at, updated_at, completed_at, "         \
    "expires_at, seconds, resolution, ratio, width, height, seed, params, hold_micro, "            \
    "cost_micro, "                                                                                 \
    "tokens, error_code, error_message, attempts, lease_until, has_last_frame, content_deleted, "  \
    "test_mode"
#define ACTIVE "('queued','dispatching','running','finalizing')"

#define AGROUP_COLS "id, key_id, name, description, group_type, is_default, created_at, updated_at"
#define ASSET_COLS                                                                                 \
    "id, key_id, group_id, name, asset_type, status, source_url, sha256, size_bytes, format, "     \
    "width, height, duration_ms, error_code, error_message, attempts, created_at, updated_at, "    \
    "deleted_at"

static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_KEY_INSERT] = "INSERT INTO keys (" KEY_COLS ") VALUES (?,?,?,?,0,?,0,0,?,?,?,?,?)",
    [Q_KEY_BY_HASH] = "SELECT " KEY_COLS " FROM keys WHERE hash = ?",
    [Q_KEY_GET] = "SELECT " KEY_COLS " FROM keys WHERE id = ?",
    [Q_KEY_LIST] = "SELECT " KEY_COLS " FROM keys ORDER BY created_at, id",
    [Q_KEY_REVOKE] = "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0",
    [Q_KEY_COUNT] = "SELECT count(*) FROM keys",
    [Q_KEY_MONEY] = "SELECT balance_micro, held_micro FROM keys WHERE id = ?",
    [Q_KEY_ADD_BALANCE] = "UPDATE keys SET balance_micro = balance_micro + ? WHERE id = ?",
    [Q_KEY_ADD_HELD] = "UPDATE keys SET held_micro = held_micro + ? WHERE id = ?",
    [Q_LEDGER_INSERT] =
        "INSERT INTO ledger (key_id, task_id, kind, amount_micro, note, created_at) "
        "VALUES (?,?,?,?,?,?)",
    [Q_ACTIVE_COUNT] = "SELECT count(*) FROM tasks WHERE key_id = ? AND status IN " ACTIVE,
    [Q_TASK_INSERT] = "INSERT INTO tasks (" TASK_COLS ") VALUES "
                      "(?,?,?,'queued',0,0,?,?,0,0,?,?,?,?,?,?,?,?,-1,0,'','',0,0,0,0,?)",
    [Q_TASK_GET] = "SELECT " TASK_COLS " FROM tasks WHERE id = ? AND key_id = ?",
    [Q_TASK_GET_ANY] = "SELECT " TASK_COLS " FROM tasks WHERE id = ?",
    [Q_TASK_CLAIM] =
        "UPDATE tasks SET status = 'running', attempts = attempts + 1, "
        "version = version + 1, lease_until = ?1, updated_at = ?2 "
        "WHERE id = (SELECT id FROM tasks WHERE status = 'queued' ORDER BY id LIMIT 1) "
        "AND status = 'queued' RETURNING " TASK_COLS,
    [Q_TASK_PROGRESS] = "UPDATE tasks SET progress = max(progress, ?1), lease_until = ?2, "
                        "updated_at = ?3 WHERE id = ?4 AND status = 'running'",
    [Q_TASK_COMPLETE] =
        "UPDATE tasks SET status = 'completed', progress = 100, "
        "version = version + 1, updated_at = ?1, completed_at = ?1, expires_at = ?2, "
        "width = ?3, height = ?4, ratio = ?5, seed = ?6, tokens = ?7, "
        "cost_micro = ?8, has_last_frame = ?9, lease_until = 0 "
        "WHERE id = ?10 AND status IN ('running','finalizing') "
        "RETURNING key_id, hold_micro",
    [Q_TASK_FAIL] = "UPDATE tasks SET status = 'failed', version = version + 1, updated_at = ?1, "
                    "completed_at = ?1, error_code = ?2, error_message = ?3, lease_until = 0 "
                    "WHERE id = ?4 AND status IN " ACTIVE " RETURNING key_id, hold_micro",
    [Q_TASK_CANCEL] = "UPDATE tasks SET status = 'cancelled', version = version + 1, "
                      "updated_at = ?1, completed_at = ?1, error_code = 'cancelled', "
                      "error_message = 'cancelled by the caller' "
                      "WHERE id = ?2 AND key_id = ?3 AND status IN ('queued','dispatching') "
                      "RETURNING key_id, hold_micro",
    /* ?3 = 1 for an orderly interruption (shutdown): that claim does not count as an attempt. */
    [Q_TASK_REQUEUE] = "UPDATE tasks SET status = 'queued', version = version + 1, "
                       "updated_at = ?1, lease_until = 0, attempts = attempts - ?3 "
                       "WHERE id = ?2 AND status = 'running'",
    [Q_TASK_DELETED] = "UPDATE tasks SET content_deleted = 1, updated_at = ?1 "
                       "WHERE id = ?2 AND (?3 IS NULL OR key_id = ?3) AND status IN "
                       "('completed','failed','cancelled')",
    [Q_TASK_MONEY] = "SELECT key_id, hold_micro FROM tasks WHERE id = ?",
    /* Upstream tasks hold no lease (0): the upstream runs them, recovery re-polls them. */
    [Q_TASK_ORPHANS] =
        "SELECT id FROM tasks WHERE status = 'running' AND lease_until > 0 AND lease_until < ?",
    [Q_IDEM_PURGE] = "DELETE FROM idempotency WHERE key_id = ? AND idem_key = ? AND created_at < ?",
    [Q_IDEM_INSERT] = "INSERT INTO idempotency (key_id, idem_key, body_hash, task_id, response, "
                      "created_at) VALUES (?,?,?,?,?,?)",
    [Q_IDEM_GET] = "SELECT body_hash, response FROM idempotency WHERE key_id = ? AND idem_key = ? "
                   "AND created_at >= ?",
    [Q_KEY_UPDATE] = "UPDATE keys SET name = ?, allowed_models = ?, max_active_tasks = ?, "
                     "rate_limit_per_min = ?, expires_at = ? WHERE id = ?",
    [Q_LEDGER_LIST] =
        "SELECT id, key_id, coalesce(task_id, ''), kind, amount_micro, note, created_at "
        "FROM ledger WHERE key_id = ? AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?",
    [Q_TASK_EXPIRED] = "SELECT id FROM tasks WHERE status = 'completed' AND content_deleted = 0 "
                       "AND expires_at > 0 AND expires_at <= ? LIMIT ?",
    [Q_AGROUP_INSERT] = "INSERT INTO asset_groups (" AGROUP_COLS ") VALUES (?,?,?,?,?,?,?,?)",
    [Q_AGROUP_GET] = "SELECT " AGROUP_COLS " FROM asset_groups WHERE id = ? AND key_id = ?",
    [Q_AGROUP_DEFAULT] =
        "SELECT " AGROUP_COLS " FROM asset_groups WHERE key_id = ? AND is_default = 1",
    [Q_AGROUP_UPDATE] = "UPDATE asset_groups SET name = coalesce(?1, name), "
                        "description = coalesce(?2, description), updated_at = ?3 "
                        "WHERE id = ?4 AND key_id = ?5",
    [Q_AGROUP_USED] = "SELECT count(*) FROM assets WHERE group_id = ? AND deleted_at = 0",
    [Q_AGROUP_DELETE] = "DELETE FROM asset_groups WHERE id = ? AND key_id = ?",
    [Q_ASSET_INSERT] = "INSERT INTO assets (id, key_id, group_id, name, asset_type, status, "
                       "source_url, created_at, updated_at) VALUES (?,?,?,?,?,'Processing',?,?,?)",
    [Q_ASSET_GET] =
        "SELECT " ASSET_COLS " FROM assets WHERE id = ? AND key_id = ? AND deleted_at = 0",
    [Q_ASSET_GET_ANY] = "SELECT " ASSET_COLS " FROM assets WHERE id = ?",
    [Q_ASSET_UPDATE] = "UPDATE assets SET name = ?1, updated_at = ?2 "
                       "WHERE id = ?3 AND key_id = ?4 AND deleted_at = 0",
    [Q_ASSET_DELETE] = "UPDATE assets SET deleted_at = ?1, gc_at = ?2 "
                       "WHERE id = ?3 AND key_id = ?4 AND deleted_at = 0",
    [Q_ASSET_CLAIM] =
        "UPDATE assets SET attempts = attempts + 1, lease_until = ?1 "
        "WHERE id = (SELECT id FROM assets WHERE status = 'Processing' AND lease_until < ?2 "
        "ORDER BY rowid LIMIT 1) AND status = 'Processing' RETURNING " ASSET_COLS,
    [Q_ASSET_ACTIVATE] = "UPDATE assets SET status = 'Active', sha256 = ?1, size_bytes = ?2, "
                         "format = ?3, width = ?4, height = ?5, duration_ms = ?6, updated_at = ?7, "
                         "lease_until = 0 WHERE id = ?8 AND status = 'Processing'",
    [Q_ASSET_FAIL] = "UPDATE assets SET status = 'Failed', error_code = ?1, error_message = ?2, "
                     "updated_at = ?3, lease_until = 0 WHERE id = ?4 AND status = 'Processing'",
    [Q_ASSET_RELEASE_ALL] = "UPDATE assets SET lease_until = 0 WHERE status = 'Processing'",
    [Q_ASSET_GC_DUE] = "SELECT " ASSET_COLS " FROM assets WHERE deleted_at > 0 AND gc_at <= ? "
                       "AND status != 'Processing' ORDER BY gc_at LIMIT ?",
    [Q_ASSET_BLOB_ROWS] = "SELECT count(*) FROM assets WHERE sha256 = ?1 "
                          "AND (deleted_at = 0 OR deleted_at > ?2)",
    /* The stored spec of a task that uses an asset names its hash (asset://id?sha256=…). */
    [Q_ASSET_BLOB_TASKS] =
        "SELECT count(*) FROM tasks WHERE status IN " ACTIVE " AND instr(params, ?1) > 0",
    [Q_ASSET_GC_DEFER] = "UPDATE assets SET gc_at = ? WHERE id = ? AND deleted_at > 0",
    [Q_ASSET_PURGE] = "DELETE FROM assets WHERE id = ? AND deleted_at > 0",
};

typedef struct {
    vg_store base;
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
} vg_sqlite;

static sqlite3_stmt *stmt(vg_sqlite *s, int which)
{
    if (!s->q[which] && sqlite3_prepare_v3(s->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
                                           &s->q[which], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->q[which]);
    sqlite3_clear_bindings(s->q[which]);
    return s->q[which];
}

/* Runs a statement that returns no rows. Returns sqlite3_changes() or -1. */
static int exec_q(vg_sqlite *s, sqlite3_stmt *st)
{
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st) sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT) return -2;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return -1;
    return sqlite3_changes(s->db);
}

static int begin(vg_sqlite *s)
{
    return exec_q(s, stmt(s, Q_BEGIN)) < 0 ? VG_ERR : VG_OK;
}

static int commit(vg_sqlite *s)
{
    return exec_q(s, stmt(s, Q_COMMIT)) < 0 ? VG_ERR : VG_OK;
}

static int rollback(vg_sqlite *s, int status)
{
    exec_q(s, stmt(s, Q_ROLLBACK));
    return status;
}

void vg_sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void vg_sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? vg_strdup((const char *)v) : NULL;
}

static int one_int64(vg_sqlite *s, int which, const char *arg, int64_t *a, int64_t *b);

/* ---- keys -------------------------------------------------------------------------------- */

void vg_key_free(vg_key *k)
{
    if (!k) return;
    free(k->allowed_models);
    k->allowed_models = NULL;
}

static void row_to_key(sqlite3_stmt *st, vg_key *k)
{
    memset(k, 0, sizeof *k);
    vg_sq_col_copy(st, 0, k->id, sizeof k->id);
    vg_sq_col_copy(st, 1, k->name, sizeof k->name);
    vg_sq_col_copy(st, 2, k->hash, sizeof k->hash);
    k->is_admin = sqlite3_column_int(st, 3) != 0;
    k->revoked = sqlite3_column_int64(st, 4) != 0;
    k->test_mode = sqlite3_column_int(st, 5) != 0;
    k->balance_micro = sqlite3_column_int64(st, 6);
    k->held_micro = sqlite3_column_int64(st, 7);
    k->created_at = sqlite3_column_int64(st, 8);
    k->expires_at = sqlite3_column_int64(st, 9);
    k->max_active_tasks = sqlite3_column_int(st, 10);
    k->rate_limit_per_min = sqlite3_column_int(st, 11);
    k->allowed_models = col_dup(st, 12);
}

static int ledger_add(vg_sqlite *s, const char *key_id, const char *task_id, const char *kind,
                      int64_t amount, const char *note, int64_t now)
{
    sqlite3_stmt *st = stmt(s, Q_LEDGER_INSERT);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, key_id);
    vg_sq_bind_text(st, 2, task_id);
    vg_sq_bind_text(st, 3, kind);
    sqlite3_bind_int64(st, 4, amount);
    vg_sq_bind_text(st, 5, note ? note : "");
    sqlite3_bind_int64(st, 6, now);
    int rc = exec_q(s, st);
    return rc == -2 ? VG_DUPLICATE : rc < 0 ? VG_ERR : VG_OK;
}

static int key_add(vg_sqlite *s, int which, const char *key_id, int64_t delta)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, delta);
    vg_sq_bind_text(st, 2, key_id);
    return exec_q(s, st) == 1 ? VG_OK : VG_ERR;
}

static int sq_key_insert(vg_store *base, const vg_key *k, int64_t credit, const char *note)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    sqlite3_stmt *st = stmt(s, Q_KEY_INSERT);
    if (!st) return rollback(s, VG_ERR);
    vg_sq_bind_text(st, 1, k->id);
    vg_sq_bind_text(st, 2, k->name);
    vg_sq_bind_text(st, 3, k->hash);
    sqlite3_bind_int(st, 4, k->is_admin);
    sqlite3_bind_int(st, 5, k->test_mode);
    sqlite3_bind_int64(st, 6, k->created_at);
    sqlite3_bind_int64(st, 7, k->expires_at);
    sqlite3_bind_int(st, 8, k->max_active_tasks);
    sqlite3_bind_int(st, 9, k->rate_limit_per_min);
    vg_sq_bind_text(st, 10, k->allowed_models);
    int rc = exec_q(s, st);
    if (rc == -2) return rollback(s, VG_DUPLICATE);
    if (rc != 1) return rollback(s, VG_ERR);
    if (credit != 0) {
        const char *kind = credit > 0 ? "credit" : "debit";
        int64_t amount = credit > 0 ? credit : -credit;
        if (ledger_add(s, k->id, NULL, kind, amount, note, k->created_at) ||
            key_add(s, Q_KEY_ADD_BALANCE, k->id, credit))
            return rollback(s, VG_ERR);
    }
    return commit(s);
}

static int key_lookup(vg_sqlite *s, int which, const char *arg, vg_key *out)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, arg);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_to_key(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

static int sq_key_by_hash(vg_store *base, const char *hash, vg_key *out)
{
    return key_lookup((vg_sqlite *)base, Q_KEY_BY_HASH, hash, out);
}

static int sq_key_get(vg_store *base, const char *id, vg_key *out)
{
    return key_lookup((vg_sqlite *)base, Q_KEY_GET, id, out);
}

static int sq_key_list(vg_store *base, vg_key **out, size_t *n)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_KEY_LIST);
    if (!st) return VG_ERR;
    size_t cap = 16, len = 0;
    vg_key *arr = vg_malloc(cap * sizeof *arr);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) arr = vg_realloc(arr, (cap *= 2) * sizeof *arr);
        row_to_key(st, &arr[len++]);
    }
    sqlite3_reset(st);
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

static int sq_key_revoke(vg_store *base, const char *id, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_KEY_REVOKE);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    vg_sq_bind_text(st, 2, id);
    int rc = exec_q(s, st);
    if (rc < 0) return VG_ERR;
    if (rc == 1) return VG_OK;
    vg_key k;
    int found = sq_key_get(base, id, &k);
    if (found == VG_OK) vg_key_free(&k);
    return found == VG_OK ? VG_CONFLICT : found;
}

static int sq_key_count(vg_store *base, int64_t *n)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_KEY_COUNT);
    if (!st) return VG_ERR;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : VG_ERR;
}

static int sq_key_update(vg_store *base, const vg_key *k, int64_t now)
{
    (void)now;
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_KEY_UPDATE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, k->name);
    vg_sq_bind_text(st, 2, k->allowed_models);
    sqlite3_bind_int(st, 3, k->max_active_tasks);
    sqlite3_bind_int(st, 4, k->rate_limit_per_min);
    sqlite3_bind_int64(st, 5, k->expires_at);
    vg_sq_bind_text(st, 6, k->id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_NOTFOUND : VG_OK;
}

static int sq_key_adjust(vg_store *base, const char *key_id, int64_t delta, const char *note,
                         int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    int64_t balance = 0, held = 0;
    int rc = one_int64(s, Q_KEY_MONEY, key_id, &balance, &held);
    if (rc) return rollback(s, rc);
    if (delta < 0 && balance - held < -delta) return rollback(s, VG_NOFUNDS);
    if (ledger_add(s, key_id, NULL, delta >= 0 ? "credit" : "debit", delta >= 0 ? delta : -delta,
                   note, now) ||
        key_add(s, Q_KEY_ADD_BALANCE, key_id, delta))
        return rollback(s, VG_ERR);
    return commit(s);
}

static int sq_ledger_list(vg_store *base, const char *key_id, int64_t before_id, int limit,
                          vg_ledger_entry **out, size_t *n, bool *more)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_LEDGER_LIST);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, key_id);
    sqlite3_bind_int64(st, 2, before_id);
    sqlite3_bind_int64(st, 3, before_id);
    sqlite3_bind_int(st, 4, limit + 1);
    vg_ledger_entry *arr = vg_calloc((size_t)limit + 1, sizeof *arr);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        vg_ledger_entry *e = &arr[len++];
        e->id = sqlite3_column_int64(st, 0);
        vg_sq_col_copy(st, 1, e->key_id, sizeof e->key_id);
        vg_sq_col_copy(st, 2, e->task_id, sizeof e->task_id);
        vg_sq_col_copy(st, 3, e->kind, sizeof e->kind);
        e->amount_micro = sqlite3_column_int64(st, 4);
        vg_sq_col_copy(st, 5, e->note, sizeof e->note);
        e->created_at = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    *more = len > (size_t)limit;
    if (*more) len--;
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

static int sq_usage(vg_store *base, const char *group_by, int64_t from, int64_t to,
                    vg_usage_row **out, size_t *n)
{
    vg_sqlite *s = (vg_sqlite *)base;
    const char *col = strcmp(group_by, "key") == 0 ? "key_id" : "model";
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT %s, count(*), sum(tokens), sum(cost_micro) FROM tasks WHERE status = "
             "'completed' AND completed_at >= ? AND completed_at < ? GROUP BY %s ORDER BY %s",
             col, col, col);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return VG_ERR;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    size_t cap = 8, len = 0;
    vg_usage_row *arr = vg_malloc(cap * sizeof *arr);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) arr = vg_realloc(arr, (cap *= 2) * sizeof *arr);
        vg_usage_row *r = &arr[len++];
        vg_sq_col_copy(st, 0, r->group, sizeof r->group);
        r->tasks = sqlite3_column_int64(st, 1);
        r->tokens = sqlite3_column_int64(st, 2);
        r->cost_micro = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

/* ---- audit ------------------------------------------------------------------------------- */

/* Each check is a query whose every row is a difference, described by its text columns. */
static const struct {
    const char *what;
    const char *sql;
} audits[] = {
    {"key balance differs from its ledger",
     "SELECT k.id, k.balance_micro, coalesce(sum(CASE l.kind WHEN 'credit' THEN l.amount_micro "
     "WHEN 'debit' THEN -l.amount_micro WHEN 'capture' THEN -l.amount_micro ELSE 0 END), 0) AS b "
     "FROM keys k LEFT JOIN ledger l ON l.key_id = k.id GROUP BY k.id HAVING b != k.balance_micro"},
    {"key held amount differs from its ledger",
     "SELECT k.id, k.held_micro, coalesce(sum(CASE l.kind WHEN 'hold' THEN l.amount_micro "
     "WHEN 'release' THEN -l.amount_micro ELSE 0 END), 0) AS h "
     "FROM keys k LEFT JOIN ledger l ON l.key_id = k.id GROUP BY k.id HAVING h != k.held_micro"},
    {"task without exactly one hold of its amount",
     "SELECT t.id, t.hold_micro, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id "
     "AND l.kind = 'hold' GROUP BY t.id HAVING count(l.id) != 1 OR "
     "coalesce(sum(l.amount_micro), -1) != t.hold_micro"},
    {"final task whose hold is not released exactly once",
     "SELECT t.id, t.status, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id AND "
     "l.kind = 'release' WHERE t.status IN ('completed','failed','cancelled') GROUP BY t.id "
     "HAVING count(l.id) != 1 OR sum(l.amount_micro) != t.hold_micro"},
    {"active task with a release or capture",
     "SELECT t.id, t.status, l.kind FROM tasks t JOIN ledger l ON l.task_id = t.id AND l.kind IN "
     "('release','capture') WHERE t.status NOT IN ('completed','failed','cancelled')"},
    {"completed task whose capture is not its cost",
     "SELECT t.id, t.cost_micro, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id "
     "AND l.kind = 'capture' WHERE t.status = 'completed' GROUP BY t.id HAVING count(l.id) != 1 "
     "OR sum(l.amount_micro) != t.cost_micro"},
    {"failed or cancelled task that was charged",
     "SELECT t.id, t.status, l.amount_micro FROM tasks t JOIN ledger l ON l.task_id = t.id AND "
     "l.kind = 'capture' WHERE t.status IN ('failed','cancelled')"},
    {"ledger row of an unknown task",
     "SELECT l.id, l.task_id, l.kind FROM ledger l LEFT JOIN tasks t ON t.id = l.task_id "
     "WHERE l.task_id IS NOT NULL AND t.id IS NULL"},
    {"negative ledger amount", "SELECT id, kind, amount_micro FROM ledger WHERE amount_micro < 0"},
};

static int64_t scalar(vg_sqlite *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int run_audit(vg_sqlite *s, size_t i, void (*report)(void *, const char *), void *ud,
                     int64_t *problems)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, audits[i].sql, -1, &st, NULL) != SQLITE_OK) return VG_ERR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s:", audits[i].what);
        for (int c = 0; c < sqlite3_column_count(st) && n < (int)sizeof line; c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            n += snprintf(line + n, sizeof line - (size_t)n, " %s", v ? (const char *)v : "null");
        }
        report(ud, line);
        (*problems)++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

static int sq_audit(vg_store *base, void (*report)(void *ud, const char *problem), void *ud,
                    vg_audit *out)
{
    vg_sqlite *s = (vg_sqlite *)base;
    memset(out, 0, sizeof *out);
    /* One read transaction: every check sees the same snapshot even while the server runs. */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return VG_ERR;
    int rc = VG_OK;
    for (size_t i = 0; i < sizeof audits / sizeof audits[0] && rc == VG_OK; i++)
        rc = run_audit(s, i, report, ud, &out->problems);
    out->keys = scalar(s, "SELECT count(*) FROM keys");
    out->tasks = scalar(s, "SELECT count(*) FROM tasks");
    out->ledger_rows = scalar(s, "SELECT count(*) FROM ledger");
    out->captured_micro =
        scalar(s, "SELECT coalesce(sum(amount_micro), 0) FROM ledger WHERE kind = 'capture'");
    out->completed_cost_micro =
        scalar(s, "SELECT coalesce(sum(cost_micro), 0) FROM tasks WHERE status = 'completed'");
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == VG_OK && out->captured_micro != out->completed_cost_micro) {
        report(ud, "sum of captures differs from the sum of completed tasks' costs");
        out->problems++;
    }
    return rc;
}

/* ---- tasks ------------------------------------------------------------------------------- */

static void row_to_task(sqlite3_stmt *st, vg_task *t)
{
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
    t->params = col_dup(st, 16);
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

sqlite3 *vg_sqlite_db(vg_store *base)
{
    return ((vg_sqlite *)base)->db;
}

const char vg_sq_task_cols[] = TASK_COLS;

void vg_sq_row_to_task(sqlite3_stmt *st, vg_task *t)
{
    row_to_task(st, t);
}

static int one_int64(vg_sqlite *s, int which, const char *arg, int64_t *a, int64_t *b)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, arg);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(st, 0);
        if (b) *b = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

/* Checks funds and the active-task cap inside the open transaction. */
static int admit(vg_sqlite *s, const vg_task *t, int max_active)
{
    int64_t balance = 0, held = 0;
    int rc = one_int64(s, Q_KEY_MONEY, t->key_id, &balance, &held);
    if (rc) return rc;
    if (balance - held < t->hold_micro) return VG_NOFUNDS;
    if (max_active > 0) {
        int64_t active = 0;
        if (one_int64(s, Q_ACTIVE_COUNT, t->key_id, &active, NULL)) return VG_ERR;
        if (active >= max_active) return VG_LIMITED;
    }
    return VG_OK;
}

#define IDEM_TTL_S (24 * 3600)

/* Claims the idempotency key for this task inside the open transaction. A record older than the
 * 24 h window no longer counts and is replaced. */
static int idem_claim(vg_sqlite *s, const vg_task *t, const vg_idem *idem)
{
    sqlite3_stmt *st = stmt(s, Q_IDEM_PURGE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, t->key_id);
    vg_sq_bind_text(st, 2, idem->key);
    sqlite3_bind_int64(st, 3, t->created_at - IDEM_TTL_S);
    if (exec_q(s, st) < 0 || !(st = stmt(s, Q_IDEM_INSERT))) return VG_ERR;
    vg_sq_bind_text(st, 1, t->key_id);
    vg_sq_bind_text(st, 2, idem->key);
    vg_sq_bind_text(st, 3, idem->body_hash);
    vg_sq_bind_text(st, 4, t->id);
    vg_sq_bind_text(st, 5, idem->response);
    sqlite3_bind_int64(st, 6, t->created_at);
    int rc = exec_q(s, st);
    return rc == -2 ? VG_DUPLICATE : rc == 1 ? VG_OK : VG_ERR;
}

static int sq_idem_get(vg_store *base, const char *key_id, const char *idem_key, int64_t since,
                       char hash[65], char **response)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_IDEM_GET);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, key_id);
    vg_sq_bind_text(st, 2, idem_key);
    sqlite3_bind_int64(st, 3, since);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        vg_sq_col_copy(st, 0, hash, 65);
        *response = col_dup(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

static int sq_task_create(vg_store *base, const vg_task *t, int max_active, const vg_idem *idem)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    int rc = idem ? idem_claim(s, t, idem) : VG_OK;
    if (rc) return rollback(s, rc);
    rc = admit(s, t, max_active);
    if (rc) return rollback(s, rc);
    sqlite3_stmt *st = stmt(s, Q_TASK_INSERT);
    if (!st) return rollback(s, VG_ERR);
    vg_sq_bind_text(st, 1, t->id);
    vg_sq_bind_text(st, 2, t->key_id);
    vg_sq_bind_text(st, 3, t->model);
    sqlite3_bind_int64(st, 4, t->created_at);
    sqlite3_bind_int64(st, 5, t->created_at);
    sqlite3_bind_int(st, 6, t->seconds);
    vg_sq_bind_text(st, 7, vg_resolution_name(t->resolution));
    vg_sq_bind_text(st, 8, vg_ratio_name(t->ratio));
    sqlite3_bind_int(st, 9, t->width);
    sqlite3_bind_int(st, 10, t->height);
    sqlite3_bind_int64(st, 11, t->seed);
    vg_sq_bind_text(st, 12, t->params);
    sqlite3_bind_int64(st, 13, t->hold_micro);
    sqlite3_bind_int(st, 14, t->test_mode);
    rc = exec_q(s, st);
    if (rc != 1) return rollback(s, rc == -2 ? VG_DUPLICATE : VG_ERR);
    if (ledger_add(s, t->key_id, t->id, "hold", t->hold_micro, "", t->created_at) ||
        key_add(s, Q_KEY_ADD_HELD, t->key_id, t->hold_micro))
        return rollback(s, VG_ERR);
    return commit(s);
}

static int sq_task_get(vg_store *base, const char *id, const char *key_id, vg_task *out)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, key_id ? Q_TASK_GET : Q_TASK_GET_ANY);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, id);
    if (key_id) vg_sq_bind_text(st, 2, key_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_to_task(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

/* Lists are built per call: the filter combinations are few but not worth a statement each. */
static int sq_task_list(vg_store *base, const vg_task_filter *f, vg_task **out, size_t *n,
                        bool *more)
{
    vg_sqlite *s = (vg_sqlite *)base;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " TASK_COLS " FROM tasks WHERE 1=1%s%s%s ORDER BY id %s LIMIT ?",
             f->key_id ? " AND key_id = :key" : "", f->status >= 0 ? " AND status = :status" : "",
             f->after ? (f->ascending ? " AND id > :after" : " AND id < :after") : "",
             f->ascending ? "ASC" : "DESC");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return VG_ERR;
    int i = 1;
    if (f->key_id) vg_sq_bind_text(st, i++, f->key_id);
    if (f->status >= 0) vg_sq_bind_text(st, i++, vg_task_status_name((vg_task_status)f->status));
    if (f->after) vg_sq_bind_text(st, i++, f->after);
    sqlite3_bind_int(st, i, f->limit + 1); /* one more tells whether there is a next page */
    vg_task *arr = vg_calloc((size_t)f->limit + 1, sizeof *arr);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        row_to_task(st, &arr[len++]);
    sqlite3_finalize(st);
    *more = len > (size_t)f->limit;
    if (*more) vg_task_free(&arr[--len]);
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

static int sq_task_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_task *out)
{
    vg_sqlite *s = (vg_sqlite *)base;
    out->id[0] = '\0';
    sqlite3_stmt *st = stmt(s, Q_TASK_CLAIM);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now_ms + lease_ms);
    sqlite3_bind_int64(st, 2, now_ms / 1000);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_task(st, out);
        rc = sqlite3_step(st); /* finish the statement so the write commits */
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc == SQLITE_BUSY ? VG_AGAIN : VG_ERR;
    return out->id[0] ? VG_OK : VG_NOTFOUND;
}

static int sq_task_progress(vg_store *base, const char *id, int progress, int64_t lease_until_ms)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_TASK_PROGRESS);
    if (!st) return VG_ERR;
    sqlite3_bind_int(st, 1, progress);
    sqlite3_bind_int64(st, 2, lease_until_ms);
    sqlite3_bind_int64(st, 3, lease_until_ms / 1000);
    vg_sq_bind_text(st, 4, id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

/* Runs a status-changing UPDATE … RETURNING key_id, hold_micro inside the open transaction. */
static int step_returning(sqlite3_stmt *st, char key_id[48], int64_t *hold)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        vg_sq_col_copy(st, 0, key_id, 48);
        *hold = sqlite3_column_int64(st, 1);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? VG_OK : VG_ERR;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? VG_CONFLICT : VG_ERR;
}

/* The money half of a final transition: capture (when cost >= 0) and release the hold. */
static int settle(vg_sqlite *s, const char *task_id, const char *key_id, int64_t hold, int64_t cost,
                  int64_t now)
{
    if (cost >= 0) {
        if (ledger_add(s, key_id, task_id, "capture", cost, "", now) ||
            key_add(s, Q_KEY_ADD_BALANCE, key_id, -cost))
            return VG_ERR;
    }
    if (ledger_add(s, key_id, task_id, "release", hold, "", now) ||
        key_add(s, Q_KEY_ADD_HELD, key_id, -hold))
        return VG_ERR;
    return VG_OK;
}

/* Runs a bound status-changing UPDATE … RETURNING key_id, hold_micro inside the open transaction,
 * settles the money of that change (a capture when cost >= 0, the release of the hold) and
 * commits: status and ledger change together or not at all. */
static int finish_transition(vg_sqlite *s, sqlite3_stmt *st, const char *id, int64_t cost,
                             int64_t now)
{
    char key_id[48];
    int64_t hold = 0;
    int rc = step_returning(st, key_id, &hold);
    if (rc) return rollback(s, rc);
    if (settle(s, id, key_id, hold, cost, now)) return rollback(s, VG_ERR);
    return commit(s);
}

static int sq_task_complete(vg_store *base, const char *id, const vg_task_result *r, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    sqlite3_stmt *st = stmt(s, Q_TASK_COMPLETE);
    if (!st) return rollback(s, VG_ERR);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, r->expires_at);
    sqlite3_bind_int(st, 3, r->width);
    sqlite3_bind_int(st, 4, r->height);
    vg_sq_bind_text(st, 5, vg_ratio_name(r->ratio));
    sqlite3_bind_int64(st, 6, r->seed);
    sqlite3_bind_int64(st, 7, r->tokens);
    sqlite3_bind_int64(st, 8, r->cost_micro);
    sqlite3_bind_int(st, 9, r->has_last_frame);
    vg_sq_bind_text(st, 10, id);
    return finish_transition(s, st, id, r->cost_micro, now);
}

static int sq_task_fail(vg_store *base, const char *id, const char *code, const char *msg,
                        int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    sqlite3_stmt *st = stmt(s, Q_TASK_FAIL);
    if (!st) return rollback(s, VG_ERR);
    sqlite3_bind_int64(st, 1, now);
    vg_sq_bind_text(st, 2, code);
    vg_sq_bind_text(st, 3, msg);
    vg_sq_bind_text(st, 4, id);
    return finish_transition(s, st, id, -1, now);
}

static int sq_task_cancel(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    sqlite3_stmt *st = stmt(s, Q_TASK_CANCEL);
    if (!st) return rollback(s, VG_ERR);
    sqlite3_bind_int64(st, 1, now);
    vg_sq_bind_text(st, 2, id);
    vg_sq_bind_text(st, 3, key_id);
    return finish_transition(s, st, id, -1, now);
}

static int simple_update(vg_sqlite *s, int which, int64_t now, const char *id, const char *key_id)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    vg_sq_bind_text(st, 2, id);
    if (key_id) vg_sq_bind_text(st, 3, key_id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

static int sq_task_requeue(vg_store *base, const char *id, bool orderly, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_TASK_REQUEUE);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    vg_sq_bind_text(st, 2, id);
    sqlite3_bind_int(st, 3, orderly ? 1 : 0);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

static int sq_task_mark_deleted(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return simple_update((vg_sqlite *)base, Q_TASK_DELETED, now, id, key_id);
}

/* Collects the first column of a prepared, bound statement as a list of ids. */
static int collect_ids(sqlite3_stmt *st, char (**ids)[48], size_t *n)
{
    size_t cap = 16, len = 0;
    char(*arr)[48] = vg_malloc(cap * sizeof *arr);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) arr = vg_realloc(arr, (cap *= 2) * sizeof *arr);
        vg_sq_col_copy(st, 0, arr[len++], 48);
    }
    sqlite3_reset(st);
    *ids = arr;
    *n = len;
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

static int sq_task_orphans(vg_store *base, int64_t now_ms, char (**ids)[48], size_t *n)
{
    sqlite3_stmt *st = stmt((vg_sqlite *)base, Q_TASK_ORPHANS);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now_ms);
    return collect_ids(st, ids, n);
}

static int sq_task_expired(vg_store *base, int64_t now, int limit, char (**ids)[48], size_t *n)
{
    sqlite3_stmt *st = stmt((vg_sqlite *)base, Q_TASK_EXPIRED);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    return collect_ids(st, ids, n);
}

/* ---- assets and asset groups ------------------------------------------------------------- */

static void row_to_group(sqlite3_stmt *st, vg_asset_group *g)
{
    memset(g, 0, sizeof *g);
    vg_sq_col_copy(st, 0, g->id, sizeof g->id);
    vg_sq_col_copy(st, 1, g->key_id, sizeof g->key_id);
    vg_sq_col_copy(st, 2, g->name, sizeof g->name);
    vg_sq_col_copy(st, 3, g->description, sizeof g->description);
    vg_sq_col_copy(st, 4, g->group_type, sizeof g->group_type);
    g->is_default = sqlite3_column_int(st, 5) != 0;
    g->created_at = sqlite3_column_int64(st, 6);
    g->updated_at = sqlite3_column_int64(st, 7);
}

static void row_to_asset(sqlite3_stmt *st, vg_asset *a)
{
    char buf[16];
    memset(a, 0, sizeof *a);
    vg_sq_col_copy(st, 0, a->id, sizeof a->id);
    vg_sq_col_copy(st, 1, a->key_id, sizeof a->key_id);
    vg_sq_col_copy(st, 2, a->group_id, sizeof a->group_id);
    vg_sq_col_copy(st, 3, a->name, sizeof a->name);
    vg_sq_col_copy(st, 4, buf, sizeof buf);
    a->type = (vg_asset_type)vg_asset_type_parse(buf);
    vg_sq_col_copy(st, 5, buf, sizeof buf);
    a->status = (vg_asset_status)vg_asset_status_parse(buf);
    a->source_url = col_dup(st, 6);
    vg_sq_col_copy(st, 7, a->sha256, sizeof a->sha256);
    a->media.size_bytes = sqlite3_column_int64(st, 8);
    vg_sq_col_copy(st, 9, a->media.format, sizeof a->media.format);
    a->media.width = sqlite3_column_int(st, 10);
    a->media.height = sqlite3_column_int(st, 11);
    a->media.duration_ms = sqlite3_column_int64(st, 12);
    vg_sq_col_copy(st, 13, a->error_code, sizeof a->error_code);
    vg_sq_col_copy(st, 14, a->error_message, sizeof a->error_message);
    a->attempts = sqlite3_column_int(st, 15);
    a->created_at = sqlite3_column_int64(st, 16);
    a->updated_at = sqlite3_column_int64(st, 17);
    a->deleted_at = sqlite3_column_int64(st, 18);
}

/* Steps a bound single-row SELECT into *out with fill(). */
static int one_row(sqlite3_stmt *st, void (*fill)(sqlite3_stmt *, void *), void *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) fill(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

static void fill_group(sqlite3_stmt *st, void *out)
{
    row_to_group(st, out);
}

static void fill_asset(sqlite3_stmt *st, void *out)
{
    row_to_asset(st, out);
}

static int group_insert(vg_sqlite *s, const vg_asset_group *g)
{
    sqlite3_stmt *st = stmt(s, Q_AGROUP_INSERT);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, g->id);
    vg_sq_bind_text(st, 2, g->key_id);
    vg_sq_bind_text(st, 3, g->name);
    vg_sq_bind_text(st, 4, g->description);
    vg_sq_bind_text(st, 5, g->group_type);
    sqlite3_bind_int(st, 6, g->is_default);
    sqlite3_bind_int64(st, 7, g->created_at);
    sqlite3_bind_int64(st, 8, g->updated_at);
    int rc = exec_q(s, st);
    return rc == -2 ? VG_DUPLICATE : rc == 1 ? VG_OK : VG_ERR;
}

static int sq_asset_group_create(vg_store *base, const vg_asset_group *g)
{
    return group_insert((vg_sqlite *)base, g);
}

static int group_lookup(vg_sqlite *s, int which, const char *a, const char *b, vg_asset_group *out)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, a);
    if (b) vg_sq_bind_text(st, 2, b);
    return one_row(st, fill_group, out);
}

static int sq_asset_group_get(vg_store *base, const char *id, const char *key_id,
                              vg_asset_group *out)
{
    return group_lookup((vg_sqlite *)base, Q_AGROUP_GET, id, key_id, out);
}

static int sq_asset_group_update(vg_store *base, const char *id, const char *key_id,
                                 const char *name, const char *description, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_AGROUP_UPDATE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, name);
    vg_sq_bind_text(st, 2, description);
    sqlite3_bind_int64(st, 3, now);
    vg_sq_bind_text(st, 4, id);
    vg_sq_bind_text(st, 5, key_id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_NOTFOUND : VG_OK;
}

/* Checked and deleted in one transaction, so an asset created meanwhile cannot be orphaned. */
static int sq_asset_group_delete(vg_store *base, const char *id, const char *key_id)
{
    vg_sqlite *s = (vg_sqlite *)base;
    vg_asset_group g;
    if (begin(s)) return VG_ERR;
    int rc = group_lookup(s, Q_AGROUP_GET, id, key_id, &g);
    if (rc) return rollback(s, rc);
    int64_t used = 0;
    if (one_int64(s, Q_AGROUP_USED, id, &used, NULL)) return rollback(s, VG_ERR);
    if (used > 0) return rollback(s, VG_CONFLICT);
    sqlite3_stmt *st = stmt(s, Q_AGROUP_DELETE);
    if (!st) return rollback(s, VG_ERR);
    vg_sq_bind_text(st, 1, id);
    vg_sq_bind_text(st, 2, key_id);
    if (exec_q(s, st) != 1) return rollback(s, VG_ERR);
    return commit(s);
}

/* The group an asset goes into, inside the open transaction (see asset_create in store.h). */
static int resolve_group(vg_sqlite *s, vg_asset *a, const vg_asset_group *dflt)
{
    vg_asset_group g;
    if (a->group_id[0]) return group_lookup(s, Q_AGROUP_GET, a->group_id, a->key_id, &g);
    int rc = group_lookup(s, Q_AGROUP_DEFAULT, a->key_id, NULL, &g);
    if (rc == VG_NOTFOUND && dflt) {
        g = *dflt;
        rc = group_insert(s, &g);
    }
    if (rc == VG_OK) snprintf(a->group_id, sizeof a->group_id, "%s", g.id);
    return rc;
}

static int sq_asset_create(vg_store *base, vg_asset *a, const vg_asset_group *dflt)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (begin(s)) return VG_ERR;
    int rc = resolve_group(s, a, dflt);
    if (rc) return rollback(s, rc);
    sqlite3_stmt *st = stmt(s, Q_ASSET_INSERT);
    if (!st) return rollback(s, VG_ERR);
    vg_sq_bind_text(st, 1, a->id);
    vg_sq_bind_text(st, 2, a->key_id);
    vg_sq_bind_text(st, 3, a->group_id);
    vg_sq_bind_text(st, 4, a->name);
    vg_sq_bind_text(st, 5, vg_asset_type_name(a->type));
    vg_sq_bind_text(st, 6, a->source_url);
    sqlite3_bind_int64(st, 7, a->created_at);
    sqlite3_bind_int64(st, 8, a->updated_at);
    rc = exec_q(s, st);
    if (rc != 1) return rollback(s, rc == -2 ? VG_DUPLICATE : VG_ERR);
    return commit(s);
}

static int sq_asset_get(vg_store *base, const char *id, const char *key_id, vg_asset *out)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, key_id ? Q_ASSET_GET : Q_ASSET_GET_ANY);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, id);
    if (key_id) vg_sq_bind_text(st, 2, key_id);
    return one_row(st, fill_asset, out);
}

/* The WHERE clause of a list and its bindings, built once for the count and the page. */
typedef struct {
    char sql[1024];
    size_t len;
    const vg_asset_filter *f;
    bool assets;
} list_query;

static void where_add(list_query *q, const char *clause)
{
    if (q->len < sizeof q->sql)
        q->len += (size_t)snprintf(q->sql + q->len, sizeof q->sql - q->len, "%s", clause);
}

static void list_where(list_query *q)
{
    const vg_asset_filter *f = q->f;
    where_add(q, q->assets ? " WHERE key_id = ? AND deleted_at = 0" : " WHERE key_id = ?");
    if (f->name) where_add(q, " AND instr(lower(name), lower(?)) > 0");
    if (q->assets && f->n_group_ids) {
        where_add(q, " AND group_id IN (?");
        for (size_t i = 1; i < f->n_group_ids; i++)
            where_add(q, ",?");
        where_add(q, ")");
    }
    if (q->assets && f->statuses) {
        const char *sep = " AND status IN (?";
        for (int i = 0; i < VG_ASSET_STATUS_COUNT; i++)
            if (f->statuses & (1u << i)) {
                where_add(q, sep);
                sep = ",?";
            }
        where_add(q, ")");
    }
    if (f->group_type)
        where_add(q, q->assets ? " AND group_id IN (SELECT id FROM asset_groups WHERE "
                                 "group_type = ?)"
                               : " AND group_type = ?");
}

static int list_bind(const list_query *q, sqlite3_stmt *st)
{
    const vg_asset_filter *f = q->f;
    int i = 1;
    vg_sq_bind_text(st, i++, f->key_id);
    if (f->name) vg_sq_bind_text(st, i++, f->name);
    for (size_t k = 0; q->assets && k < f->n_group_ids; k++)
        vg_sq_bind_text(st, i++, f->group_ids[k]);
    for (int k = 0; q->assets && k < VG_ASSET_STATUS_COUNT; k++)
        if (f->statuses & (1u << k))
            vg_sq_bind_text(st, i++, vg_asset_status_name((vg_asset_status)k));
    if (f->group_type) vg_sq_bind_text(st, i++, f->group_type);
    return i;
}

/* Runs "SELECT count(*) FROM table WHERE …" then the page; fill() copies each row to arr[i]. */
static int run_list(vg_sqlite *s, list_query *q, const char *table, const char *cols,
                    void (*fill)(sqlite3_stmt *, void *, size_t), void *arr, int64_t *total,
                    size_t *n)
{
    char sql[1400];
    sqlite3_stmt *st = NULL;
    list_where(q);
    if (q->len >= sizeof q->sql) return VG_ERR;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", table, q->sql);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return VG_ERR;
    list_bind(q, st);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return VG_ERR;
    snprintf(sql, sizeof sql,
             "SELECT %s FROM %s%s ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?", cols,
             table, q->sql);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return VG_ERR;
    int i = list_bind(q, st);
    sqlite3_bind_int(st, i++, q->f->page_size);
    sqlite3_bind_int64(st, i, (int64_t)(q->f->page - 1) * q->f->page_size);
    size_t len = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < (size_t)q->f->page_size)
        fill(st, arr, len++);
    sqlite3_finalize(st);
    *n = len;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? VG_OK : VG_ERR;
}

static void fill_group_at(sqlite3_stmt *st, void *arr, size_t i)
{
    row_to_group(st, (vg_asset_group *)arr + i);
}

static void fill_asset_at(sqlite3_stmt *st, void *arr, size_t i)
{
    row_to_asset(st, (vg_asset *)arr + i);
}

static int sq_asset_group_list(vg_store *base, const vg_asset_filter *f, vg_asset_group **out,
                               size_t *n, int64_t *total)
{
    list_query q = {.f = f, .assets = false};
    vg_asset_group *arr = vg_calloc((size_t)f->page_size, sizeof *arr);
    int rc =
        run_list((vg_sqlite *)base, &q, "asset_groups", AGROUP_COLS, fill_group_at, arr, total, n);
    *out = arr;
    return rc;
}

static int sq_asset_list(vg_store *base, const vg_asset_filter *f, vg_asset **out, size_t *n,
                         int64_t *total)
{
    list_query q = {.f = f, .assets = true};
    vg_asset *arr = vg_calloc((size_t)f->page_size, sizeof *arr);
    int rc = run_list((vg_sqlite *)base, &q, "assets", ASSET_COLS, fill_asset_at, arr, total, n);
    *out = arr;
    return rc;
}

static int sq_asset_update(vg_store *base, const char *id, const char *key_id, const char *name,
                           int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_UPDATE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, now);
    vg_sq_bind_text(st, 3, id);
    vg_sq_bind_text(st, 4, key_id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_NOTFOUND : VG_OK;
}

static int sq_asset_delete(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_DELETE);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, now + VG_ASSET_GC_GRACE_S);
    vg_sq_bind_text(st, 3, id);
    vg_sq_bind_text(st, 4, key_id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_NOTFOUND : VG_OK;
}

static int sq_asset_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_asset *out)
{
    vg_sqlite *s = (vg_sqlite *)base;
    out->id[0] = '\0';
    sqlite3_stmt *st = stmt(s, Q_ASSET_CLAIM);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now_ms + lease_ms);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_asset(st, out);
        rc = sqlite3_step(st); /* finish the statement so the write commits */
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        vg_asset_free(out);
        return rc == SQLITE_BUSY ? VG_AGAIN : VG_ERR;
    }
    return out->id[0] ? VG_OK : VG_NOTFOUND;
}

static int sq_asset_activate(vg_store *base, const char *id, const char *sha256,
                             const vg_asset_media *m, int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_ACTIVATE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, sha256);
    sqlite3_bind_int64(st, 2, m->size_bytes);
    vg_sq_bind_text(st, 3, m->format);
    sqlite3_bind_int(st, 4, m->width);
    sqlite3_bind_int(st, 5, m->height);
    sqlite3_bind_int64(st, 6, m->duration_ms);
    sqlite3_bind_int64(st, 7, now);
    vg_sq_bind_text(st, 8, id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

static int sq_asset_fail(vg_store *base, const char *id, const char *code, const char *msg,
                         int64_t now)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_FAIL);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, code);
    vg_sq_bind_text(st, 2, msg);
    sqlite3_bind_int64(st, 3, now);
    vg_sq_bind_text(st, 4, id);
    int rc = exec_q(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

static int sq_asset_release_all(vg_store *base, int64_t *n)
{
    vg_sqlite *s = (vg_sqlite *)base;
    int rc = exec_q(s, stmt(s, Q_ASSET_RELEASE_ALL));
    *n = rc > 0 ? rc : 0;
    return rc < 0 ? VG_ERR : VG_OK;
}

static int sq_asset_gc_due(vg_store *base, int64_t now, int limit, vg_asset **out, size_t *n)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_GC_DUE);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    vg_asset *arr = vg_calloc((size_t)limit, sizeof *arr);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < (size_t)limit)
        row_to_asset(st, &arr[len++]);
    sqlite3_reset(st);
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? VG_OK : VG_ERR;
}

static int count_q(vg_sqlite *s, int which, const char *text, const int64_t *num, int64_t *out)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, text);
    if (num) sqlite3_bind_int64(st, 2, *num);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? VG_OK : VG_ERR;
}

static int sq_asset_blob_refs(vg_store *base, const char *sha256, int64_t since, int64_t *rows,
                              int64_t *tasks)
{
    vg_sqlite *s = (vg_sqlite *)base;
    if (count_q(s, Q_ASSET_BLOB_ROWS, sha256, &since, rows)) return VG_ERR;
    return count_q(s, Q_ASSET_BLOB_TASKS, sha256, NULL, tasks);
}

static int sq_asset_gc_defer(vg_store *base, const char *id, int64_t gc_at)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_GC_DEFER);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, gc_at);
    vg_sq_bind_text(st, 2, id);
    return exec_q(s, st) < 0 ? VG_ERR : VG_OK;
}

static int sq_asset_purge(vg_store *base, const char *id)
{
    vg_sqlite *s = (vg_sqlite *)base;
    sqlite3_stmt *st = stmt(s, Q_ASSET_PURGE);
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, id);
    return exec_q(s, st) < 0 ? VG_ERR : VG_OK;
}

static int sq_ping(vg_store *base)
{
    int64_t n;
    return sq_key_count(base, &n);
}

static void sq_close(vg_store *base)
{
    vg_sqlite *s = (vg_sqlite *)base;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

static const vg_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .key_insert = sq_key_insert,
    .key_by_hash = sq_key_by_hash,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .key_count = sq_key_count,
    .task_create = sq_task_create,
    .task_get = sq_task_get,
    .task_list = sq_task_list,
    .task_claim = sq_task_claim,
    .task_progress = sq_task_progress,
    .task_complete = sq_task_complete,
    .task_fail = sq_task_fail,
    .task_cancel = sq_task_cancel,
    .task_requeue = sq_task_requeue,
    .task_mark_deleted = sq_task_mark_deleted,
    .task_orphans = sq_task_orphans,
    .task_expired = sq_task_expired,
    .idem_get = sq_idem_get,
    .key_update = sq_key_update,
    .key_adjust = sq_key_adjust,
    .ledger_list = sq_ledger_list,
    .usage = sq_usage,
    .audit = sq_audit,
    .asset_group_create = sq_asset_group_create,
    .asset_group_get = sq_asset_group_get,
    .asset_group_list = sq_asset_group_list,
    .asset_group_update = sq_asset_group_update,
    .asset_group_delete = sq_asset_group_delete,
    .asset_create = sq_asset_create,
    .asset_get = sq_asset_get,
    .asset_list = sq_asset_list,
    .asset_update = sq_asset_update,
    .asset_delete = sq_asset_delete,
    .asset_claim = sq_asset_claim,
    .asset_activate = sq_asset_activate,
    .asset_fail = sq_asset_fail,
    .asset_release_all = sq_asset_release_all,
    .asset_gc_due = sq_asset_gc_due,
    .asset_blob_refs = sq_asset_blob_refs,
    .asset_gc_defer = sq_asset_gc_defer,
    .asset_purge = sq_asset_purge,
    .task_claim_local = vg_sq_task_claim_local,
    .task_route_local = vg_sq_task_route_local,
    .channel_load = vg_sq_channel_load,
    .upstream_due = vg_sq_upstream_due,
    .upstream_get = vg_sq_upstream_get,
    .upstream_begin = vg_sq_upstream_begin,
    .upstream_attempt_end = vg_sq_upstream_attempt_end,
    .upstream_requeue = vg_sq_upstream_requeue,
    .upstream_update = vg_sq_upstream_update,
    .upstream_recover = vg_sq_upstream_recover,
};

/* ---- opening and migrating --------------------------------------------------------------- */

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int n = 0;
    const vg_migration *m = vg_migrations(&n);
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) goto fail;
    sqlite3_stmt *st = NULL;
    int current = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        current = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (current > m[n - 1].version) {
        snprintf(err, errlen, "database schema %d is newer than this build (%d)", current,
                 m[n - 1].version);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return VG_ERR;
    }
    for (int i = 0; i < n; i++) {
        if (m[i].version <= current) continue;
        if (sqlite3_exec(db, m[i].sql, NULL, NULL, &msg) != SQLITE_OK) goto fail;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m[i].version);
        if (sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK) goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) goto fail;
    return VG_OK;
fail:
    snprintf(err, errlen, "migration failed: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return VG_ERR;
}

/* SQLite's memory statistics take a process-wide mutex on every allocation: every connection of
 * every thread would queue on it. Must run before SQLite initialises itself. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int vg_store_open_sqlite(const char *data_dir, vg_store **out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    char path[4096];
    snprintf(path, sizeof path, "%s/vidgate.db", data_dir);
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return VG_ERR;
    }
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return VG_ERR;
    }
    if (migrate(db, err, errlen)) {
        sqlite3_close(db);
        return VG_ERR;
    }
    vg_sqlite *s = vg_calloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->db = db;
    *out = &s->base;
    return VG_OK;
}
