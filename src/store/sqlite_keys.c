/*
 * sqlite_keys.c - keys and money in the SQLite backend: keys, the ledger and its balances, usage
 * totals (store.h documents each operation).
 *
 * A key's balance_micro and held_micro are caches of its ledger (the audit recomputes them): every
 * ledger row is written by vg_sq_ledger_move() together with the cache update it implies, inside
 * the caller's transaction.
 */
#include "common/alloc.h"
#include "common/limits.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLS                                                                                   \
    "id, name, hash, is_admin, revoked_at, test_mode, balance_micro, held_micro, created_at, "     \
    "expires_at, max_active_tasks, rate_limit_per_min, allowed_models, webhook_url"

void vg_key_free(vg_key *k)
{
    if (!k) return;
    free(k->allowed_models);
    free(k->webhook_url);
    k->allowed_models = k->webhook_url = NULL;
}

static void row_to_key(sqlite3_stmt *st, void *out)
{
    vg_key *k = out;
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
    k->allowed_models = vg_sq_col_dup(st, 12);
    k->webhook_url = vg_sq_col_dup(st, 13);
}

/* Which cached total each kind of ledger row moves, and in which direction. */
static const struct {
    const char *kind;
    const char *sql;
    int sign;
} g_moves[] = {
    {"credit", "UPDATE keys SET balance_micro = balance_micro + ?1 WHERE id = ?2", 1},
    {"debit", "UPDATE keys SET balance_micro = balance_micro + ?1 WHERE id = ?2", -1},
    {"capture", "UPDATE keys SET balance_micro = balance_micro + ?1 WHERE id = ?2", -1},
    {"hold", "UPDATE keys SET held_micro = held_micro + ?1 WHERE id = ?2", 1},
    {"release", "UPDATE keys SET held_micro = held_micro + ?1 WHERE id = ?2", -1},
};

vg_status vg_sq_ledger_row(vg_sqlite *s, const char *key_id, const char *task_id, const char *kind,
                           int64_t amount, const char *note, int64_t now)
{
    return vg_sq_exec(s,
                      "INSERT INTO ledger (key_id, task_id, kind, amount_micro, note, "
                      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      SQ_ARGS(SQ_T(key_id), SQ_T(task_id), SQ_T(kind), SQ_I(amount),
                              SQ_T(note ? note : ""), SQ_I(now)),
                      NULL);
}

vg_status vg_sq_ledger_move(vg_sqlite *s, const char *key_id, const char *task_id, const char *kind,
                            int64_t amount, const char *note, int64_t now)
{
    for (size_t i = 0; i < sizeof g_moves / sizeof g_moves[0]; i++) {
        if (strcmp(g_moves[i].kind, kind) != 0) continue;
        vg_status rc = vg_sq_ledger_row(s, key_id, task_id, kind, amount, note, now);
        if (rc != VG_OK) return rc;
        rc = vg_sq_change(s, g_moves[i].sql, SQ_ARGS(SQ_I(g_moves[i].sign * amount), SQ_T(key_id)),
                          VG_NOTFOUND);
        return rc == VG_NOTFOUND ? VG_ERR : rc;
    }
    return VG_INVALID;
}

/* A credit for a positive (or zero) delta, a debit for a negative one. */
static vg_status adjust(vg_sqlite *s, const char *key_id, int64_t delta, const char *note,
                        int64_t now)
{
    return vg_sq_ledger_move(s, key_id, NULL, delta >= 0 ? "credit" : "debit",
                             delta >= 0 ? delta : -delta, note, now);
}

typedef struct {
    const vg_key *k;
    int64_t credit;
    const char *note;
} key_insert_ctx;

static vg_status key_insert(vg_sqlite *s, void *ctx)
{
    const key_insert_ctx *c = ctx;
    const vg_key *k = c->k;
    vg_status rc = vg_sq_exec(
        s,
        "INSERT INTO keys (" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, 0, ?5, 0, 0, ?6, ?7, ?8, ?9, ?10, "
        "?11)",
        SQ_ARGS(SQ_T(k->id), SQ_T(k->name), SQ_T(k->hash), SQ_I(k->is_admin), SQ_I(k->test_mode),
                SQ_I(k->created_at), SQ_I(k->expires_at), SQ_I(k->max_active_tasks),
                SQ_I(k->rate_limit_per_min), SQ_T(k->allowed_models),
                SQ_T(k->webhook_url ? k->webhook_url : "")),
        NULL);
    if (rc == VG_OK) rc = vg_sq_webhook_secret_add(s, k->id, k->created_at);
    if (rc != VG_OK || c->credit == 0) return rc;
    rc = adjust(s, k->id, c->credit, c->note, k->created_at);
    return rc == VG_DUPLICATE ? VG_ERR : rc;
}

vg_status vg_sq_key_insert(vg_store *base, const vg_key *k, int64_t credit, const char *note)
{
    key_insert_ctx c = {k, credit, note};
    return vg_sq_atomic(vg_sq(base), key_insert, &c);
}

vg_status vg_sq_key_by_hash(vg_store *base, const char *hash, vg_key *out)
{
    return vg_sq_one(vg_sq(base), "SELECT " KEY_COLS " FROM keys WHERE hash = ?1",
                     SQ_ARGS(SQ_T(hash)), row_to_key, out);
}

vg_status vg_sq_key_get(vg_store *base, const char *id, vg_key *out)
{
    return vg_sq_one(vg_sq(base), "SELECT " KEY_COLS " FROM keys WHERE id = ?1", SQ_ARGS(SQ_T(id)),
                     row_to_key, out);
}

vg_status vg_sq_key_list(vg_store *base, vg_key **out, size_t *n)
{
    return vg_sq_list(vg_sq(base), "SELECT " KEY_COLS " FROM keys ORDER BY created_at, id", SQ_NONE,
                      sizeof **out, row_to_key, 0, (void **)out, n);
}

vg_status vg_sq_key_revoke(vg_store *base, const char *id, int64_t now)
{
    vg_status rc = vg_sq_change(vg_sq(base),
                                "UPDATE keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at = 0",
                                SQ_ARGS(SQ_I(now), SQ_T(id)), VG_CONFLICT);
    if (rc != VG_CONFLICT) return rc;
    vg_key k;
    rc = vg_sq_key_get(base, id, &k); /* already revoked, or no such key? */
    if (rc == VG_OK) vg_key_free(&k);
    return rc == VG_OK ? VG_CONFLICT : rc;
}

vg_status vg_sq_key_count(vg_store *base, int64_t *n)
{
    return vg_sq_int64(vg_sq(base), "SELECT count(*) FROM keys", SQ_NONE, n);
}

vg_status vg_sq_key_update(vg_store *base, const vg_key *k, int64_t now)
{
    (void)now;
    return vg_sq_change(vg_sq(base),
                        "UPDATE keys SET name = ?1, allowed_models = ?2, max_active_tasks = ?3, "
                        "rate_limit_per_min = ?4, expires_at = ?5, webhook_url = ?7 WHERE id = ?6",
                        SQ_ARGS(SQ_T(k->name), SQ_T(k->allowed_models), SQ_I(k->max_active_tasks),
                                SQ_I(k->rate_limit_per_min), SQ_I(k->expires_at), SQ_T(k->id),
                                SQ_T(k->webhook_url ? k->webhook_url : "")),
                        VG_NOTFOUND);
}

typedef struct {
    const char *key_id;
    int64_t delta;
    const char *note;
    int64_t now;
} adjust_ctx;

static void fill_money(sqlite3_stmt *st, void *out)
{
    int64_t *m = out;
    m[0] = sqlite3_column_int64(st, 0);
    m[1] = sqlite3_column_int64(st, 1);
}

static vg_status key_adjust(vg_sqlite *s, void *ctx)
{
    const adjust_ctx *c = ctx;
    int64_t money[2] = {0, 0}; /* balance, held */
    vg_status rc = vg_sq_one(s, "SELECT balance_micro, held_micro FROM keys WHERE id = ?1",
                             SQ_ARGS(SQ_T(c->key_id)), fill_money, money);
    if (rc != VG_OK) return rc;
    if (c->delta < 0 && money[0] - money[1] < -c->delta) return VG_NOFUNDS;
    /* Both are bounded (the amount by parsing, the balance by this check), so the sum is exact;
     * SQLite would otherwise turn an overflowing sum into a float. */
    if (c->delta > 0 && money[0] > VG_MAX_BALANCE_MICRO - c->delta) return VG_TOOLARGE;
    rc = adjust(s, c->key_id, c->delta, c->note, c->now);
    return rc == VG_DUPLICATE ? VG_ERR : rc;
}

vg_status vg_sq_key_adjust(vg_store *base, const char *key_id, int64_t delta, const char *note,
                           int64_t now)
{
    adjust_ctx c = {key_id, delta, note, now};
    return vg_sq_atomic(vg_sq(base), key_adjust, &c);
}

static void row_to_entry(sqlite3_stmt *st, void *out)
{
    vg_ledger_entry *e = out;
    e->id = sqlite3_column_int64(st, 0);
    vg_sq_col_copy(st, 1, e->key_id, sizeof e->key_id);
    vg_sq_col_copy(st, 2, e->task_id, sizeof e->task_id);
    vg_sq_col_copy(st, 3, e->kind, sizeof e->kind);
    e->amount_micro = sqlite3_column_int64(st, 4);
    vg_sq_col_copy(st, 5, e->note, sizeof e->note);
    e->created_at = sqlite3_column_int64(st, 6);
}

vg_status vg_sq_ledger_list(vg_store *base, const char *key_id, int64_t before_id, int limit,
                            vg_ledger_entry **out, size_t *n, bool *more)
{
    /* One row more than asked tells whether there is a next page. */
    vg_status rc = vg_sq_list(
        vg_sq(base),
        "SELECT id, key_id, coalesce(task_id, ''), kind, amount_micro, note, created_at "
        "FROM ledger WHERE key_id = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
        SQ_ARGS(SQ_T(key_id), SQ_I(before_id), SQ_I(limit + 1)), sizeof **out, row_to_entry,
        (size_t)limit + 1, (void **)out, n);
    *more = *n > (size_t)limit;
    if (*more) (*n)--;
    return rc;
}

static void row_to_usage(sqlite3_stmt *st, void *out)
{
    vg_usage_row *r = out;
    vg_sq_col_copy(st, 0, r->group, sizeof r->group);
    r->tasks = sqlite3_column_int64(st, 1);
    r->tokens = sqlite3_column_int64(st, 2);
    r->cost_micro = sqlite3_column_int64(st, 3);
}

vg_status vg_sq_usage(vg_store *base, const char *group_by, int64_t from, int64_t to,
                      vg_usage_row **out, size_t *n)
{
    /* Two fixed texts rather than a built one: a column name cannot be a parameter. */
    static const char by_key[] =
        "SELECT key_id, count(*), sum(tokens), sum(cost_micro) FROM tasks WHERE status = "
        "'completed' AND completed_at >= ?1 AND completed_at < ?2 GROUP BY key_id ORDER BY key_id";
    static const char by_model[] =
        "SELECT model, count(*), sum(tokens), sum(cost_micro) FROM tasks WHERE status = "
        "'completed' AND completed_at >= ?1 AND completed_at < ?2 GROUP BY model ORDER BY model";
    return vg_sq_list(vg_sq(base), strcmp(group_by, "key") == 0 ? by_key : by_model,
                      SQ_ARGS(SQ_I(from), SQ_I(to)), sizeof **out, row_to_usage, 0, (void **)out,
                      n);
}
