/*
 * pg_keys.c - keys and money in the PostgreSQL backend: keys, the ledger and its balances, usage
 * totals (store.h documents each operation; sqlite_keys.c is the twin).
 *
 * A key's balance_micro and held_micro are caches of its ledger: every ledger row is written by
 * vg_pg_ledger_move() together with the cache update it implies, inside the caller's transaction.
 * A decision on the money (a debit against the available amount, a hold at submit) reads the key
 * row with SELECT … FOR UPDATE: concurrent decisions on one key, from any connection of any node,
 * take turns, so the available amount can never be spent twice.
 *
 * Every change to a key row (insert, revoke, update, credit, debit) publishes
 * VG_STORE_TOPIC_KEYS in its own transaction (pg_events.c): the other nodes drop their cached
 * keys exactly when the change commits.
 */
#include "common/alloc.h"
#include "common/limits.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLS                                                                                   \
    "id, name, hash, is_admin, revoked_at, test_mode, balance_micro, held_micro, created_at, "     \
    "expires_at, max_active_tasks, rate_limit_per_min, allowed_models, webhook_url"

static void row_to_key(const PGresult *r, int row, void *out)
{
    vg_key *k = out;
    memset(k, 0, sizeof *k);
    vg_pg_col_copy(r, row, 0, k->id, sizeof k->id);
    vg_pg_col_copy(r, row, 1, k->name, sizeof k->name);
    vg_pg_col_copy(r, row, 2, k->hash, sizeof k->hash);
    k->is_admin = vg_pg_col_i64(r, row, 3) != 0;
    k->revoked = vg_pg_col_i64(r, row, 4) != 0;
    k->test_mode = vg_pg_col_i64(r, row, 5) != 0;
    k->balance_micro = vg_pg_col_i64(r, row, 6);
    k->held_micro = vg_pg_col_i64(r, row, 7);
    k->created_at = vg_pg_col_i64(r, row, 8);
    k->expires_at = vg_pg_col_i64(r, row, 9);
    k->max_active_tasks = (int)vg_pg_col_i64(r, row, 10);
    k->rate_limit_per_min = (int)vg_pg_col_i64(r, row, 11);
    k->allowed_models = vg_pg_col_dup(r, row, 12);
    k->webhook_url = vg_pg_col_dup(r, row, 13);
}

/* Which cached total each kind of ledger row moves, and in which direction. */
static const struct {
    const char *kind;
    const char *sql;
    int sign;
} g_moves[] = {
    {"credit", "UPDATE keys SET balance_micro = balance_micro + $1 WHERE id = $2", 1},
    {"debit", "UPDATE keys SET balance_micro = balance_micro + $1 WHERE id = $2", -1},
    {"capture", "UPDATE keys SET balance_micro = balance_micro + $1 WHERE id = $2", -1},
    {"hold", "UPDATE keys SET held_micro = held_micro + $1 WHERE id = $2", 1},
    {"release", "UPDATE keys SET held_micro = held_micro + $1 WHERE id = $2", -1},
};

vg_status vg_pg_ledger_move(vg_pg *s, const char *key_id, const char *task_id, const char *kind,
                            int64_t amount, const char *note, int64_t now)
{
    for (size_t i = 0; i < sizeof g_moves / sizeof g_moves[0]; i++) {
        if (strcmp(g_moves[i].kind, kind) != 0) continue;
        vg_status rc = vg_pg_exec(s,
                                  "INSERT INTO ledger (key_id, task_id, kind, amount_micro, note, "
                                  "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                                  PG_ARGS(PG_T(key_id), PG_T(task_id), PG_T(kind), PG_I(amount),
                                          PG_T(note ? note : ""), PG_I(now)),
                                  NULL);
        if (rc != VG_OK) return rc;
        rc = vg_pg_change(s, g_moves[i].sql, PG_ARGS(PG_I(g_moves[i].sign * amount), PG_T(key_id)),
                          VG_NOTFOUND);
        return rc == VG_NOTFOUND ? VG_ERR : rc;
    }
    return VG_INVALID;
}

/* A credit for a positive (or zero) delta, a debit for a negative one. */
static vg_status adjust(vg_pg *s, const char *key_id, int64_t delta, const char *note, int64_t now)
{
    return vg_pg_ledger_move(s, key_id, NULL, delta >= 0 ? "credit" : "debit",
                             delta >= 0 ? delta : -delta, note, now);
}

typedef struct {
    const vg_key *k;
    int64_t credit;
    const char *note;
} key_insert_ctx;

static vg_status key_insert(vg_pg *s, void *ctx)
{
    const key_insert_ctx *c = ctx;
    const vg_key *k = c->k;
    vg_status rc = vg_pg_exec(
        s,
        "INSERT INTO keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, 0, $5, 0, 0, $6, $7, $8, $9, "
        "$10, $11)",
        PG_ARGS(PG_T(k->id), PG_T(k->name), PG_T(k->hash), PG_I(k->is_admin), PG_I(k->test_mode),
                PG_I(k->created_at), PG_I(k->expires_at), PG_I(k->max_active_tasks),
                PG_I(k->rate_limit_per_min), PG_T(k->allowed_models),
                PG_T(k->webhook_url ? k->webhook_url : "")),
        NULL);
    if (rc == VG_OK) rc = vg_pg_webhook_secret_add(s, k->id, k->created_at);
    if (rc == VG_OK) rc = vg_pg_notify_tx(s, VG_STORE_TOPIC_KEYS);
    if (rc != VG_OK || c->credit == 0) return rc;
    rc = adjust(s, k->id, c->credit, c->note, k->created_at);
    return rc == VG_DUPLICATE ? VG_ERR : rc;
}

vg_status vg_pg_key_insert(vg_store *base, const vg_key *k, int64_t credit, const char *note)
{
    key_insert_ctx c = {k, credit, note};
    return vg_pg_atomic(vg_pgs(base), key_insert, &c);
}

vg_status vg_pg_key_by_hash(vg_store *base, const char *hash, vg_key *out)
{
    return vg_pg_one(vg_pgs(base), "SELECT " KEY_COLS " FROM keys WHERE hash = $1",
                     PG_ARGS(PG_T(hash)), row_to_key, out);
}

vg_status vg_pg_key_get(vg_store *base, const char *id, vg_key *out)
{
    return vg_pg_one(vg_pgs(base), "SELECT " KEY_COLS " FROM keys WHERE id = $1", PG_ARGS(PG_T(id)),
                     row_to_key, out);
}

vg_status vg_pg_key_list(vg_store *base, vg_key **out, size_t *n)
{
    return vg_pg_list(vg_pgs(base), "SELECT " KEY_COLS " FROM keys ORDER BY created_at, id",
                      PG_NONE, sizeof **out, row_to_key, 0, (void **)out, n);
}

typedef struct {
    const char *id;
    int64_t now;
} revoke_ctx;

static vg_status key_revoke(vg_pg *s, void *ctx)
{
    const revoke_ctx *c = ctx;
    vg_status rc =
        vg_pg_change(s, "UPDATE keys SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0",
                     PG_ARGS(PG_I(c->now), PG_T(c->id)), VG_CONFLICT);
    return rc == VG_OK ? vg_pg_notify_tx(s, VG_STORE_TOPIC_KEYS) : rc;
}

vg_status vg_pg_key_revoke(vg_store *base, const char *id, int64_t now)
{
    revoke_ctx c = {id, now};
    vg_status rc = vg_pg_atomic(vg_pgs(base), key_revoke, &c);
    if (rc != VG_CONFLICT) return rc;
    vg_key k;
    rc = vg_pg_key_get(base, id, &k); /* already revoked, or no such key? */
    if (rc == VG_OK) vg_key_free(&k);
    return rc == VG_OK ? VG_CONFLICT : rc;
}

vg_status vg_pg_key_count(vg_store *base, int64_t *n)
{
    return vg_pg_int64(vg_pgs(base), "SELECT count(*) FROM keys", PG_NONE, n);
}

static vg_status key_update(vg_pg *s, void *ctx)
{
    const vg_key *k = ctx;
    vg_status rc =
        vg_pg_change(s,
                     "UPDATE keys SET name = $1, allowed_models = $2, max_active_tasks = $3, "
                     "rate_limit_per_min = $4, expires_at = $5, webhook_url = $7 WHERE id = $6",
                     PG_ARGS(PG_T(k->name), PG_T(k->allowed_models), PG_I(k->max_active_tasks),
                             PG_I(k->rate_limit_per_min), PG_I(k->expires_at), PG_T(k->id),
                             PG_T(k->webhook_url ? k->webhook_url : "")),
                     VG_NOTFOUND);
    return rc == VG_OK ? vg_pg_notify_tx(s, VG_STORE_TOPIC_KEYS) : rc;
}

vg_status vg_pg_key_update(vg_store *base, const vg_key *k, int64_t now)
{
    (void)now;
    return vg_pg_atomic(vg_pgs(base), key_update, (void *)k);
}

typedef struct {
    const char *key_id;
    int64_t delta;
    const char *note;
    int64_t now;
} adjust_ctx;

static void fill_money(const PGresult *r, int row, void *out)
{
    int64_t *m = out;
    m[0] = vg_pg_col_i64(r, row, 0);
    m[1] = vg_pg_col_i64(r, row, 1);
}

static vg_status key_adjust(vg_pg *s, void *ctx)
{
    const adjust_ctx *c = ctx;
    int64_t money[2] = {0, 0}; /* balance, held */
    vg_status rc =
        vg_pg_one(s, "SELECT balance_micro, held_micro FROM keys WHERE id = $1 FOR UPDATE",
                  PG_ARGS(PG_T(c->key_id)), fill_money, money);
    if (rc != VG_OK) return rc;
    if (c->delta < 0 && money[0] - money[1] < -c->delta) return VG_NOFUNDS;
    if (c->delta > 0 && money[0] > VG_MAX_BALANCE_MICRO - c->delta) return VG_TOOLARGE;
    rc = adjust(s, c->key_id, c->delta, c->note, c->now);
    if (rc == VG_OK) rc = vg_pg_notify_tx(s, VG_STORE_TOPIC_KEYS);
    return rc == VG_DUPLICATE ? VG_ERR : rc;
}

vg_status vg_pg_key_adjust(vg_store *base, const char *key_id, int64_t delta, const char *note,
                           int64_t now)
{
    adjust_ctx c = {key_id, delta, note, now};
    return vg_pg_atomic(vg_pgs(base), key_adjust, &c);
}

static void row_to_entry(const PGresult *r, int row, void *out)
{
    vg_ledger_entry *e = out;
    e->id = vg_pg_col_i64(r, row, 0);
    vg_pg_col_copy(r, row, 1, e->key_id, sizeof e->key_id);
    vg_pg_col_copy(r, row, 2, e->task_id, sizeof e->task_id);
    vg_pg_col_copy(r, row, 3, e->kind, sizeof e->kind);
    e->amount_micro = vg_pg_col_i64(r, row, 4);
    vg_pg_col_copy(r, row, 5, e->note, sizeof e->note);
    e->created_at = vg_pg_col_i64(r, row, 6);
}

vg_status vg_pg_ledger_list(vg_store *base, const char *key_id, int64_t before_id, int limit,
                            vg_ledger_entry **out, size_t *n, bool *more)
{
    /* One row more than asked tells whether there is a next page. */
    vg_status rc = vg_pg_list(
        vg_pgs(base),
        "SELECT id, key_id, coalesce(task_id, ''), kind, amount_micro, note, created_at "
        "FROM ledger WHERE key_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
        PG_ARGS(PG_T(key_id), PG_I(before_id), PG_I(limit + 1)), sizeof **out, row_to_entry,
        (size_t)limit + 1, (void **)out, n);
    *more = *n > (size_t)limit;
    if (*more) (*n)--;
    return rc;
}

static void row_to_usage(const PGresult *r, int row, void *out)
{
    vg_usage_row *u = out;
    vg_pg_col_copy(r, row, 0, u->group, sizeof u->group);
    u->tasks = vg_pg_col_i64(r, row, 1);
    u->tokens = vg_pg_col_i64(r, row, 2);
    u->cost_micro = vg_pg_col_i64(r, row, 3);
}

vg_status vg_pg_usage(vg_store *base, const char *group_by, int64_t from, int64_t to,
                      vg_usage_row **out, size_t *n)
{
    /* Two fixed texts rather than a built one: a column name cannot be a parameter. */
    static const char by_key[] =
        "SELECT key_id, count(*), sum(tokens), sum(cost_micro) FROM tasks WHERE status = "
        "'completed' AND completed_at >= $1 AND completed_at < $2 GROUP BY key_id ORDER BY key_id";
    static const char by_model[] =
        "SELECT model, count(*), sum(tokens), sum(cost_micro) FROM tasks WHERE status = "
        "'completed' AND completed_at >= $1 AND completed_at < $2 GROUP BY model ORDER BY model";
    return vg_pg_list(vg_pgs(base), strcmp(group_by, "key") == 0 ? by_key : by_model,
                      PG_ARGS(PG_I(from), PG_I(to)), sizeof **out, row_to_usage, 0, (void **)out,
                      n);
}
