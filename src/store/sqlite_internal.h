/*
 * sqlite_internal.h - what the files of the SQLite backend share: the connection behind a
 * vg_store, its statement cache and the bind → step → map helpers, the column lists and row
 * decoders, and each file's operations (sqlite_open.c puts them in the ops table). Nothing outside
 * src/store/ includes this.
 *
 * Files: sqlite_open.c (opening, migrating, the ops table), sqlite_stmt.c (statements,
 * transactions, the helpers below), sqlite_keys.c (keys, ledger, usage), sqlite_audit.c,
 * sqlite_tasks.c (tasks, idempotency, recovery), sqlite_assets.c, sqlite_upstream.c,
 * sqlite_webhooks.c (the webhook outbox and signing secrets), sqlite_stats.c (counts for
 * monitoring), sqlite_settings.c, sqlite_leases.c (named leases), sqlite_checkpoint.c (WAL
 * checkpoints off the committing threads).
 *
 * Statements: one strategy for every file. A statement is prepared on first use on a connection
 * and kept in that connection's cache, keyed by its SQL text (a hash of the text, then a string
 * compare), so a query is written once, where it is used, and never prepared twice. Queries whose
 * text is built at run time (lists with optional filters) go through the same cache: their
 * variants are few and each is kept like a static one.
 *
 * Status sets: tasks.status stays TEXT (readable rows, the audit queries, the existing indexes).
 * A set of statuses (vg_task_status_set, a bit set) is bound as one integer and tested with
 * SQ_STATUS_IN(col, n): "col IN (SELECT name FROM temp.task_status WHERE bit & ?n)". The temp
 * table is filled at open from core/task.c's names, so the names live in one place, the SQL text
 * stays static (one cached statement whatever the set), and the status indexes still serve the
 * claims (SQLite answers IN over a subquery with index lookups).
 */
#ifndef VG_STORE_SQLITE_INTERNAL_H
#define VG_STORE_SQLITE_INTERNAL_H
#include "store/store.h"

#include <sqlite3.h>

#define SQ_CACHE_SLOTS 256 /* a power of two; more distinct statements than any build uses */
#define SQ_NODE_MAX    128

typedef struct {
    const char *sql; /* owned copy of the text */
    uint32_t hash;
    sqlite3_stmt *st;
} vg_sq_cached;

/* The process's checkpointer of one database file (sqlite_checkpoint.c). */
typedef struct vg_sq_ckpt vg_sq_ckpt;

/** The SQLite connection of a store opened by vg_store_open(). */
typedef struct {
    vg_store base;
    sqlite3 *db;
    vg_sq_ckpt *ckpt;       /* NULL: SQLite's automatic checkpoints */
    bool reading;           /* inside a read_begin's transaction (sqlite_open.c) */
    char node[SQ_NODE_MAX]; /* lease owner name */
    vg_sq_cached cache[SQ_CACHE_SLOTS];
} vg_sqlite;

static inline vg_sqlite *vg_sq(vg_store *s)
{
    return (vg_sqlite *)s;
}

/* "col IN <the statuses whose bit is set in parameter ?n>" (see the design note). */
#define SQ_STATUS_IN(col, n)                                                                       \
    col " IN (SELECT name FROM temp.task_status WHERE (bit & ?" #n ") != 0)"
/* The oldest task id (by id) in any status of parameter ?n that also matches cond: one index
 * lookup per status in the set, where "status IN (…) ORDER BY id" would sort every candidate. */
#define SQ_OLDEST_IN(n, cond)                                                                      \
    "(SELECT min((SELECT id FROM tasks WHERE status = s.name" cond " ORDER BY id LIMIT 1)) "       \
    "FROM temp.task_status s WHERE (s.bit & ?" #n ") != 0)"

/* ---- values to bind: SQ_ARGS(SQ_T(text), SQ_I(number), SQ_NULL) binds ?1, ?2, ?3 ---- */
typedef struct {
    char type; /* 't' text (NULL binds NULL), 'i' integer, 'n' NULL */
    const char *t;
    int64_t i;
} vg_sq_val;

#define SQ_T(v) ((vg_sq_val){'t', (v), 0})
#define SQ_I(v) ((vg_sq_val){'i', NULL, (int64_t)(v)})
#define SQ_NULL ((vg_sq_val){'n', NULL, 0})
#define SQ_ARGS(...)                                                                               \
    (const vg_sq_val[]){__VA_ARGS__}, sizeof((const vg_sq_val[]){__VA_ARGS__}) / sizeof(vg_sq_val)
#define SQ_NONE NULL, 0

/** Decodes the current row of st into *out. */
typedef void (*vg_sq_fill)(sqlite3_stmt *st, void *out);

/** The cached statement for sql, reset and with its bindings cleared; NULL on a prepare error. */
sqlite3_stmt *vg_sq_stmt(vg_sqlite *s, const char *sql);
/** Binds v[0..n) to ?1..?n of st. */
void vg_sq_bind(sqlite3_stmt *st, const vg_sq_val *v, size_t n);

/**
 * Runs a statement that returns no rows (or whose rows are ignored) to its end. *changes (may be
 * NULL) = rows changed. VG_DUPLICATE on a constraint violation, VG_AGAIN when busy, VG_ERR.
 */
vg_status vg_sq_exec(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, int *changes);
/** vg_sq_exec() where no row changed means `none` (VG_NOTFOUND or VG_CONFLICT). */
vg_status vg_sq_change(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, vg_status none);
/**
 * Runs a statement that yields at most one row of interest (a SELECT, or an UPDATE … RETURNING
 * that is stepped to its end so that the write completes) and decodes it with fill into out.
 * VG_NOTFOUND when there is no row; VG_AGAIN when busy; VG_ERR.
 */
vg_status vg_sq_one(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, vg_sq_fill fill,
                    void *out);
/**
 * Collects the rows of a SELECT into a malloc'd array of elem-sized items decoded by fill: at
 * most max rows (0 = no limit). *arr is always set (free it even on error; rows decoded before an
 * error are in it, *len of them).
 */
vg_status vg_sq_list(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, size_t elem,
                     vg_sq_fill fill, size_t max, void **arr, size_t *len);
/** The first column of a one-row SELECT as an integer (0 when NULL). */
vg_status vg_sq_int64(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, int64_t *out);

/** Runs body inside BEGIN IMMEDIATE … COMMIT; rolls back when it returns anything but VG_OK. */
vg_status vg_sq_atomic(vg_sqlite *s, vg_status (*body)(vg_sqlite *s, void *ctx), void *ctx);

/** Frees every cached statement (at close). */
void vg_sq_cache_clear(vg_sqlite *s);

/* Column helpers. */
/** Copies column i as text into dst (cap bytes, always terminated; "" for NULL). */
void vg_sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/** Column i as a malloc'd string, NULL for NULL. */
char *vg_sq_col_dup(sqlite3_stmt *st, int i);

/* ---- sqlite_checkpoint.c ---- */
/**
 * Hands db's WAL checkpoints to the checkpointer thread of path (started by the first connection
 * of that path, stopped with the last): db's commit hook wakes it once the WAL holds 1,000 pages,
 * and checkpoints itself only past 20,000. NULL (db keeps SQLite's automatic checkpoints) when
 * the thread cannot start. Detach after closing db.
 */
vg_sq_ckpt *vg_sq_ckpt_attach(const char *path, sqlite3 *db);
/** Drops a reference taken by vg_sq_ckpt_attach() (NULL: nothing); the last one joins the thread. */
void vg_sq_ckpt_detach(vg_sq_ckpt *c);

/* ---- rows shared between files ---- */
#define SQ_TASK_COLS                                                                               \
    "id, key_id, model, status, version, progress, created_at, updated_at, completed_at, "         \
    "expires_at, seconds, resolution, ratio, width, height, seed, params, hold_micro, "            \
    "cost_micro, tokens, error_code, error_message, attempts, lease_until, has_last_frame, "       \
    "content_deleted, test_mode"
/** Decodes a row that starts with SQ_TASK_COLS (a vg_sq_fill for vg_task). */
void vg_sq_row_to_task(sqlite3_stmt *st, void *out);

/* ---- operations of each file (store.h documents each) ---- */
/* sqlite_keys.c */
vg_status vg_sq_key_insert(vg_store *s, const vg_key *k, int64_t credit, const char *note);
vg_status vg_sq_key_by_hash(vg_store *s, const char *hash, vg_key *out);
vg_status vg_sq_key_get(vg_store *s, const char *id, vg_key *out);
vg_status vg_sq_key_list(vg_store *s, vg_key **out, size_t *n);
vg_status vg_sq_key_revoke(vg_store *s, const char *id, int64_t now);
vg_status vg_sq_key_count(vg_store *s, int64_t *n);
vg_status vg_sq_key_update(vg_store *s, const vg_key *k, int64_t now);
vg_status vg_sq_key_adjust(vg_store *s, const char *key_id, int64_t delta, const char *note,
                           int64_t now);
vg_status vg_sq_ledger_list(vg_store *s, const char *key_id, int64_t before_id, int limit,
                            vg_ledger_entry **out, size_t *n, bool *more);
vg_status vg_sq_usage(vg_store *s, const char *group_by, int64_t from, int64_t to,
                      vg_usage_row **out, size_t *n);
/**
 * Inside an open transaction: one ledger row (kind credit, debit, hold, capture or release; amount
 * >= 0) and the key's balance or held amount moved with it. VG_DUPLICATE when the task already has
 * a row of that kind.
 */
vg_status vg_sq_ledger_move(vg_sqlite *s, const char *key_id, const char *task_id, const char *kind,
                            int64_t amount, const char *note, int64_t now);
/** The ledger row of vg_sq_ledger_move() alone: the caller moves the key's total itself (the
 *  group commit moves each key's held amount once per batch). */
vg_status vg_sq_ledger_row(vg_sqlite *s, const char *key_id, const char *task_id, const char *kind,
                           int64_t amount, const char *note, int64_t now);

/* sqlite_audit.c */
vg_status vg_sq_audit(vg_store *s, void (*report)(void *ud, const char *problem), void *ud,
                      vg_audit *out);

/* sqlite_tasks.c */
vg_status vg_sq_task_create(vg_store *s, const vg_task *t, int max_active, const vg_idem *idem);
vg_status vg_sq_task_create_batch(vg_store *s, vg_task_create_req *r, size_t n);
vg_status vg_sq_idem_get(vg_store *s, const char *key_id, const char *idem_key, int64_t since,
                         char hash[65], char **response);
vg_status vg_sq_task_get(vg_store *s, const char *id, const char *key_id, vg_task *out);
vg_status vg_sq_task_list(vg_store *s, const vg_task_filter *f, vg_task **out, size_t *n,
                          bool *more);
vg_status vg_sq_task_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_task *out);
vg_status vg_sq_task_progress(vg_store *s, const char *id, int attempt, int progress,
                              int64_t lease_until_ms);
vg_status vg_sq_task_complete(vg_store *s, const char *id, const vg_task_result *r, int64_t now);
vg_status vg_sq_task_fail(vg_store *s, const char *id, const char *code, const char *msg,
                          int64_t now);
vg_status vg_sq_task_cancel(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_sq_task_requeue(vg_store *s, const char *id, bool orderly, int64_t now);
vg_status vg_sq_task_mark_deleted(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_sq_task_expired(vg_store *s, int64_t now, int limit, char (**ids)[48], size_t *n);
vg_status vg_sq_task_recover(vg_store *s, int64_t now_ms, int64_t *n);
vg_status vg_sq_task_requeue_expired(vg_store *s, int64_t now_ms, int64_t *n);

/* sqlite_assets.c */
vg_status vg_sq_asset_group_create(vg_store *s, const vg_asset_group *g);
vg_status vg_sq_asset_group_get(vg_store *s, const char *id, const char *key_id,
                                vg_asset_group *out);
vg_status vg_sq_asset_group_list(vg_store *s, const vg_asset_filter *f, vg_asset_group **out,
                                 size_t *n, int64_t *total);
vg_status vg_sq_asset_group_update(vg_store *s, const char *id, const char *key_id,
                                   const char *name, const char *description, int64_t now);
vg_status vg_sq_asset_group_delete(vg_store *s, const char *id, const char *key_id);
vg_status vg_sq_asset_create(vg_store *s, vg_asset *a, const vg_asset_group *dflt);
vg_status vg_sq_asset_get(vg_store *s, const char *id, const char *key_id, vg_asset *out);
vg_status vg_sq_asset_list(vg_store *s, const vg_asset_filter *f, vg_asset **out, size_t *n,
                           int64_t *total);
vg_status vg_sq_asset_update(vg_store *s, const char *id, const char *key_id, const char *name,
                             int64_t now);
vg_status vg_sq_asset_delete(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_sq_asset_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_asset *out);
vg_status vg_sq_asset_activate(vg_store *s, const char *id, const char *sha256,
                               const vg_asset_media *m, int64_t now);
vg_status vg_sq_asset_fail(vg_store *s, const char *id, const char *code, const char *msg,
                           int64_t now);
vg_status vg_sq_asset_recover(vg_store *s, int64_t now_ms, int64_t *n);
vg_status vg_sq_asset_gc_due(vg_store *s, int64_t now, int limit, vg_asset **out, size_t *n);
vg_status vg_sq_asset_blob_refs(vg_store *s, const char *sha256, int64_t since, int64_t *rows,
                                int64_t *tasks);
vg_status vg_sq_asset_gc_defer(vg_store *s, const char *id, int64_t gc_at);
vg_status vg_sq_asset_purge(vg_store *s, const char *id);
vg_status vg_sq_asset_usage(vg_store *s, const char *key_id, bool with_processing,
                            const char *except_id, int64_t *bytes);
vg_status vg_sq_asset_refs_final(vg_store *s, int limit, char (**out)[65], size_t *n);
vg_status vg_sq_asset_refs_prune(vg_store *s, const char *sha256);

/* sqlite_upstream.c */
vg_status vg_sq_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms, const char *local,
                                 bool take_unrouted, vg_task *out);
vg_status vg_sq_task_route_local(vg_store *s, const char *id, const char *channel, int64_t now);
vg_status vg_sq_channel_load(vg_store *s, vg_channel_load **out, size_t *n);
vg_status vg_sq_upstream_due(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit,
                             vg_up_row **out, size_t *n);
vg_status vg_sq_upstream_get(vg_store *s, const char *task_id, vg_up_row *out);
vg_status vg_sq_upstream_begin(vg_store *s, const vg_up_attempt *a);
vg_status vg_sq_upstream_attempt_end(vg_store *s, const char *attempt_id, const char *outcome,
                                     const char *upstream_id, long http_status, const char *detail,
                                     int64_t now_ms);
vg_status vg_sq_upstream_requeue(vg_store *s, const char *task_id, const char *attempt_id,
                                 int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                                 int64_t now);
vg_status vg_sq_upstream_update(vg_store *s, vg_up_update *u, size_t n, int64_t now);
vg_status vg_sq_upstream_recover(vg_store *s, int64_t now_ms);
vg_status vg_sq_upstream_takeover(vg_store *s, int64_t now_ms, int64_t *n);

/* sqlite_webhooks.c */
vg_status vg_sq_webhook_secrets(vg_store *s, const char *key_id, int64_t now,
                                char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n);
vg_status vg_sq_webhook_secret_rotate(vg_store *s, const char *key_id, int64_t now, int64_t grace_s,
                                      char out[VG_WEBHOOK_SECRET_MAX]);
vg_status vg_sq_webhook_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_webhook *out);
vg_status vg_sq_webhook_set_body(vg_store *s, const char *id, const char *body);
vg_status vg_sq_webhook_attempt_end(vg_store *s, const vg_webhook_result *r);
vg_status vg_sq_webhook_get(vg_store *s, const char *task_id, vg_webhook *out);
vg_status vg_sq_webhook_redeliver(vg_store *s, const char *task_id, int64_t now_ms,
                                  int64_t deadline_ms);
vg_status vg_sq_webhook_recover(vg_store *s, int64_t now_ms, int64_t *n);
/* sqlite_settings.c */
vg_status vg_sq_setting_claim(vg_store *s, const char *name, const char *proposal, char **out);
/* sqlite_leases.c */
vg_status vg_sq_lease_hold(vg_store *s, const char *name, int64_t now_ms, int64_t ttl_ms,
                           bool *held);
vg_status vg_sq_lease_release(vg_store *s, const char *name);
vg_status vg_sq_lease_recover(vg_store *s);

/** Inside an open transaction: a new signing secret for key_id. */
vg_status vg_sq_webhook_secret_add(vg_sqlite *s, const char *key_id, int64_t now);
/**
 * Inside the transaction of a task's final status (unix s now): the outbox row of its event of
 * type `type`, when the task has a callback_url or its key a webhook_url; nothing otherwise.
 */
vg_status vg_sq_webhook_enqueue(vg_sqlite *s, const char *task_id, const char *type, int64_t now);

/* sqlite_stats.c */
vg_status vg_sq_stats(vg_store *s, vg_store_stats *out);

#endif
