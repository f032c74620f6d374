/*
 * pg_internal.h - what the files of the PostgreSQL backend share: the connection behind a
 * vg_store, its prepared statements and the bind → execute → map helpers, the column lists and
 * row decoders, and each file's operations (pg_open.c puts them in the ops table). Nothing outside
 * src/store/ includes this.
 *
 * Files: pg_open.c (connecting, the ops table), pg_migrations.c (the schema, applied under an
 * advisory lock), pg_stmt.c (statements, transactions, reconnection, the helpers below),
 * pg_keys.c (keys, ledger, usage), pg_audit.c, pg_tasks.c, pg_assets.c, pg_upstream.c,
 * pg_webhooks.c, pg_settings.c, pg_leases.c (named leases, dead owners), pg_stats.c, pg_events.c
 * and pg_ratelimit.c (many nodes: events over LISTEN/NOTIFY and the shared rate-limit buckets,
 * which SQLite has no twin of). Each mirrors its sqlite_*.c twin operation for operation: same statuses, same
 * conditional updates (vg_task_op_from()), same ledger rules; only the dialect differs.
 *
 * Statements: a query is written once, where it is used, with $n parameters. On first use on a
 * connection it is prepared (PQprepare, named by a counter) with the types of its values and kept
 * in the connection's cache, keyed by its text; later uses only PQexecPrepared it. Values are
 * always bound, never put in the text: texts built at run time (lists with optional filters) only
 * choose among fixed fragments and number their parameters.
 *
 * Status sets: a vg_task_status_set is bound as one text[] (PG_SET: "{queued,running}") and
 * tested with "status = ANY($n)": the names come from core/task.c, the text stays static.
 *
 * Failures: unique and other integrity violations → VG_DUPLICATE (as SQLite's constraint errors);
 * a deadlock, a serialization failure or a lock wait past lock_timeout → VG_AGAIN (vg_pg_atomic
 * retries its body a few times first); a lost connection → VG_AGAIN, and the next call resets the
 * connection (PQreset) and prepares its statements again, so a node whose database went away
 * recovers by itself once it is back.
 */
#ifndef VG_STORE_PG_INTERNAL_H
#define VG_STORE_PG_INTERNAL_H
#include "store/store.h"

#include <libpq-fe.h>

#define PG_CACHE_SLOTS 256 /* a power of two; more distinct statements than any build uses */
#define PG_NODE_MAX    128

typedef struct {
    char *sql; /* owned copy of the text and the types it was prepared with */
    uint32_t hash;
    char name[16];
} vg_pg_cached;

/** The PostgreSQL connection of a store opened by vg_store_open(). */
typedef struct {
    vg_store base;
    PGconn *conn;
    char node[PG_NODE_MAX]; /* lease owner name */
    unsigned next_name;     /* statement names: "vg<n>" */
    bool in_tx;             /* inside vg_pg_atomic (no reconnection in the middle) */
    char sqlstate[6];       /* of the last failed statement ("" = none, or connection lost) */
    bool listening;         /* LISTEN issued on this session (pg_events.c) */
    vg_pg_cached cache[PG_CACHE_SLOTS];
} vg_pg;

static inline vg_pg *vg_pgs(vg_store *s)
{
    return (vg_pg *)s;
}

/* ---- values to bind: PG_ARGS(PG_T(text), PG_I(number), PG_SET(bits)) binds $1, $2, $3 ---- */
typedef struct {
    char type; /* 't' text (NULL binds NULL), 'i' bigint, 's' a status set as text[] */
    const char *t;
    int64_t i;
} vg_pg_val;

#define PG_T(v)   ((vg_pg_val){'t', (v), 0})
#define PG_I(v)   ((vg_pg_val){'i', NULL, (int64_t)(v)})
#define PG_SET(v) ((vg_pg_val){'s', NULL, (int64_t)(v)})
#define PG_ARGS(...)                                                                               \
    (const vg_pg_val[]){__VA_ARGS__}, sizeof((const vg_pg_val[]){__VA_ARGS__}) / sizeof(vg_pg_val)
#define PG_NONE       NULL, 0
#define PG_MAX_PARAMS 64

/** Decodes row `row` of r into *out. */
typedef void (*vg_pg_fill)(const PGresult *r, int row, void *out);

/**
 * Runs a statement with its values bound and returns its result (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK; the caller PQclear()s it), or NULL with the failure in *rc.
 */
PGresult *vg_pg_run(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_status *rc);
/** Runs a statement whose rows are ignored. *changes (may be NULL) = rows changed. */
vg_status vg_pg_exec(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, int *changes);
/** vg_pg_exec() where no row changed means `none` (VG_NOTFOUND or VG_CONFLICT). */
vg_status vg_pg_change(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_status none);
/** The first row (of a SELECT or an UPDATE … RETURNING) decoded by fill. VG_NOTFOUND. */
vg_status vg_pg_one(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_pg_fill fill,
                    void *out);
/**
 * Collects the rows into a malloc'd array of elem-sized items decoded by fill: at most max rows
 * (0 = no limit). *arr is always set: NULL on error (freeing it then is harmless).
 */
vg_status vg_pg_list(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, size_t elem,
                     vg_pg_fill fill, size_t max, void **arr, size_t *len);
/** The first column of a one-row SELECT as an integer (0 when NULL). */
vg_status vg_pg_int64(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, int64_t *out);
/** A statement without parameters and without preparing it (BEGIN, COMMIT, session settings). */
vg_status vg_pg_simple(vg_pg *s, const char *sql);

/**
 * Runs body inside BEGIN … COMMIT (READ COMMITTED: bodies lock the rows they decide on with
 * SELECT … FOR UPDATE); rolls back when it returns anything but VG_OK. A deadlock or a
 * serialization failure runs the body again (a few times) before it becomes VG_AGAIN.
 */
vg_status vg_pg_atomic(vg_pg *s, vg_status (*body)(vg_pg *s, void *ctx), void *ctx);

/**
 * Re-establishes a lost connection (never inside a transaction): VG_OK when it is up, VG_AGAIN
 * when the database is still unreachable. Statements call it themselves.
 */
vg_status vg_pg_ensure(vg_pg *s);
/** Forgets every prepared statement (at close, and after a reconnection). */
void vg_pg_cache_clear(vg_pg *s);
/** The per-session settings (time zone, lock timeout); run after every (re)connection. */
vg_status vg_pg_session(vg_pg *s);

/* Column helpers. */
/** Copies column i of row as text into dst (cap bytes, always terminated; "" for NULL). */
void vg_pg_col_copy(const PGresult *r, int row, int i, char *dst, size_t cap);
/** Column i as a malloc'd string, NULL for NULL. */
char *vg_pg_col_dup(const PGresult *r, int row, int i);
/** Column i as an integer (0 for NULL). */
int64_t vg_pg_col_i64(const PGresult *r, int row, int i);

/* ---- rows shared between files ---- */
#define PG_TASK_COLS                                                                               \
    "id, key_id, model, status, version, progress, created_at, updated_at, completed_at, "         \
    "expires_at, seconds, resolution, ratio, width, height, seed, params, hold_micro, "            \
    "cost_micro, tokens, error_code, error_message, attempts, lease_until, has_last_frame, "       \
    "content_deleted, test_mode"
/** Decodes a row that starts with PG_TASK_COLS (a vg_pg_fill for vg_task). */
void vg_pg_row_to_task(const PGresult *r, int row, void *out);

/* ---- the schema (pg_migrations.c) ---- */
/** Brings the database to this build's schema under an advisory lock. VG_ERR with err. */
vg_status vg_pg_migrate(PGconn *conn, char *err, size_t errlen);

/* ---- operations of each file (store.h documents each) ---- */
/* pg_keys.c */
vg_status vg_pg_key_insert(vg_store *s, const vg_key *k, int64_t credit, const char *note);
vg_status vg_pg_key_by_hash(vg_store *s, const char *hash, vg_key *out);
vg_status vg_pg_key_get(vg_store *s, const char *id, vg_key *out);
vg_status vg_pg_key_list(vg_store *s, vg_key **out, size_t *n);
vg_status vg_pg_key_revoke(vg_store *s, const char *id, int64_t now);
vg_status vg_pg_key_count(vg_store *s, int64_t *n);
vg_status vg_pg_key_update(vg_store *s, const vg_key *k, int64_t now);
vg_status vg_pg_key_adjust(vg_store *s, const char *key_id, int64_t delta, const char *note,
                           int64_t now);
vg_status vg_pg_ledger_list(vg_store *s, const char *key_id, int64_t before_id, int limit,
                            vg_ledger_entry **out, size_t *n, bool *more);
vg_status vg_pg_usage(vg_store *s, const char *group_by, int64_t from, int64_t to,
                      vg_usage_row **out, size_t *n);
/** Inside an open transaction: one ledger row and the key's cached total moved with it. */
vg_status vg_pg_ledger_move(vg_pg *s, const char *key_id, const char *task_id, const char *kind,
                            int64_t amount, const char *note, int64_t now);

/* pg_audit.c */
vg_status vg_pg_audit(vg_store *s, void (*report)(void *ud, const char *problem), void *ud,
                      vg_audit *out);

/* pg_tasks.c */
vg_status vg_pg_task_create(vg_store *s, const vg_task *t, int max_active, const vg_idem *idem);
vg_status vg_pg_idem_get(vg_store *s, const char *key_id, const char *idem_key, int64_t since,
                         char hash[65], char **response);
vg_status vg_pg_task_get(vg_store *s, const char *id, const char *key_id, vg_task *out);
vg_status vg_pg_task_list(vg_store *s, const vg_task_filter *f, vg_task **out, size_t *n,
                          bool *more);
vg_status vg_pg_task_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_task *out);
vg_status vg_pg_task_progress(vg_store *s, const char *id, int attempt, int progress,
                              int64_t lease_until_ms);
vg_status vg_pg_task_complete(vg_store *s, const char *id, const vg_task_result *r, int64_t now);
vg_status vg_pg_task_fail(vg_store *s, const char *id, const char *code, const char *msg,
                          int64_t now);
vg_status vg_pg_task_cancel(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_pg_task_requeue(vg_store *s, const char *id, bool orderly, int64_t now);
vg_status vg_pg_task_mark_deleted(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_pg_task_expired(vg_store *s, int64_t now, int limit, char (**ids)[48], size_t *n);
vg_status vg_pg_task_recover(vg_store *s, int64_t now_ms, int64_t *n);
vg_status vg_pg_task_requeue_expired(vg_store *s, int64_t now_ms, int64_t *n);

/* pg_assets.c */
vg_status vg_pg_asset_group_create(vg_store *s, const vg_asset_group *g);
vg_status vg_pg_asset_group_get(vg_store *s, const char *id, const char *key_id,
                                vg_asset_group *out);
vg_status vg_pg_asset_group_list(vg_store *s, const vg_asset_filter *f, vg_asset_group **out,
                                 size_t *n, int64_t *total);
vg_status vg_pg_asset_group_update(vg_store *s, const char *id, const char *key_id,
                                   const char *name, const char *description, int64_t now);
vg_status vg_pg_asset_group_delete(vg_store *s, const char *id, const char *key_id);
vg_status vg_pg_asset_create(vg_store *s, vg_asset *a, const vg_asset_group *dflt);
vg_status vg_pg_asset_get(vg_store *s, const char *id, const char *key_id, vg_asset *out);
vg_status vg_pg_asset_list(vg_store *s, const vg_asset_filter *f, vg_asset **out, size_t *n,
                           int64_t *total);
vg_status vg_pg_asset_update(vg_store *s, const char *id, const char *key_id, const char *name,
                             int64_t now);
vg_status vg_pg_asset_delete(vg_store *s, const char *id, const char *key_id, int64_t now);
vg_status vg_pg_asset_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_asset *out);
vg_status vg_pg_asset_activate(vg_store *s, const char *id, const char *sha256,
                               const vg_asset_media *m, int64_t now);
vg_status vg_pg_asset_fail(vg_store *s, const char *id, const char *code, const char *msg,
                           int64_t now);
vg_status vg_pg_asset_recover(vg_store *s, int64_t now_ms, int64_t *n);
vg_status vg_pg_asset_gc_due(vg_store *s, int64_t now, int limit, vg_asset **out, size_t *n);
vg_status vg_pg_asset_blob_refs(vg_store *s, const char *sha256, int64_t since, int64_t *rows,
                                int64_t *tasks);
vg_status vg_pg_asset_gc_defer(vg_store *s, const char *id, int64_t gc_at);
vg_status vg_pg_asset_purge(vg_store *s, const char *id);
vg_status vg_pg_asset_usage(vg_store *s, const char *key_id, bool with_processing,
                            const char *except_id, int64_t *bytes);
vg_status vg_pg_asset_refs_final(vg_store *s, int limit, char (**out)[65], size_t *n);
vg_status vg_pg_asset_refs_prune(vg_store *s, const char *sha256);

/* pg_stats.c */
vg_status vg_pg_stats(vg_store *s, vg_store_stats *out);

/* pg_upstream.c */
vg_status vg_pg_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms, const char *local,
                                 bool take_unrouted, vg_task *out);
vg_status vg_pg_task_route_local(vg_store *s, const char *id, const char *channel, int64_t now);
vg_status vg_pg_channel_load(vg_store *s, vg_channel_load **out, size_t *n);
vg_status vg_pg_upstream_due(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit,
                             vg_up_row **out, size_t *n);
vg_status vg_pg_upstream_get(vg_store *s, const char *task_id, vg_up_row *out);
vg_status vg_pg_upstream_begin(vg_store *s, const vg_up_attempt *a);
vg_status vg_pg_upstream_attempt_end(vg_store *s, const char *attempt_id, const char *outcome,
                                     const char *upstream_id, long http_status, const char *detail,
                                     int64_t now_ms);
vg_status vg_pg_upstream_requeue(vg_store *s, const char *task_id, const char *attempt_id,
                                 int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                                 int64_t now);
vg_status vg_pg_upstream_update(vg_store *s, vg_up_update *u, size_t n, int64_t now);
vg_status vg_pg_upstream_recover(vg_store *s, int64_t now_ms);
vg_status vg_pg_upstream_takeover(vg_store *s, int64_t now_ms, int64_t *n);

/* pg_webhooks.c */
vg_status vg_pg_webhook_secrets(vg_store *s, const char *key_id, int64_t now,
                                char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n);
vg_status vg_pg_webhook_secret_rotate(vg_store *s, const char *key_id, int64_t now, int64_t grace_s,
                                      char out[VG_WEBHOOK_SECRET_MAX]);
vg_status vg_pg_webhook_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_webhook *out);
vg_status vg_pg_webhook_set_body(vg_store *s, const char *id, const char *body);
vg_status vg_pg_webhook_attempt_end(vg_store *s, const vg_webhook_result *r);
vg_status vg_pg_webhook_get(vg_store *s, const char *task_id, vg_webhook *out);
vg_status vg_pg_webhook_redeliver(vg_store *s, const char *task_id, int64_t now_ms,
                                  int64_t deadline_ms);
vg_status vg_pg_webhook_recover(vg_store *s, int64_t now_ms, int64_t *n);
/* pg_events.c */
bool vg_pg_connected(vg_store *s);
vg_status vg_pg_notify(vg_store *s, const char *topic);
vg_status vg_pg_listen_wait(vg_store *s, int timeout_ms, char *topic, size_t len);
/** Inside an open transaction: publishes topic at its commit. */
vg_status vg_pg_notify_tx(vg_pg *s, const char *topic);

/* pg_ratelimit.c */
vg_status vg_pg_rate_take(vg_store *s, const char *key_id, int per_min, int *retry_after_s);

/* pg_settings.c */
vg_status vg_pg_setting_claim(vg_store *s, const char *name, const char *proposal, char **out);
/* pg_leases.c */
vg_status vg_pg_lease_hold(vg_store *s, const char *name, int64_t now_ms, int64_t ttl_ms,
                           bool *held);
vg_status vg_pg_lease_release(vg_store *s, const char *name);
vg_status vg_pg_lease_recover(vg_store *s);
/**
 * The owners whose leases start-up recovery releases, as a text[] literal to bind with
 * "= ANY($n::text[])": this node, '' (leases written before owners were recorded), and the
 * certainly dead "<this host>:<pid>" names that hold leases (pg_leases.c). *out is malloc'd.
 */
vg_status vg_pg_recover_owners(vg_pg *s, char **out);

/** Inside an open transaction: a new signing secret for key_id. */
vg_status vg_pg_webhook_secret_add(vg_pg *s, const char *key_id, int64_t now);
/** Inside the transaction of a task's final status: its outbox row (see sqlite_webhooks.c). */
vg_status vg_pg_webhook_enqueue(vg_pg *s, const char *task_id, const char *type, int64_t now);

#endif
