/*
 * sqlite_open.c - opening the SQLite store backend: the connection, its configuration, the
 * schema migrations, the per-connection status table, and the ops table that sends each store
 * operation to its file (see sqlite_internal.h for the files and the shared design).
 *
 * One vg_sqlite per thread, each its own connection to DIR/vidgate.db in WAL mode, so readers never
 * wait for the writer. Writes that must be atomic run inside BEGIN IMMEDIATE, which takes the write
 * lock up front: two writers can never deadlock upgrading a read lock. busy_timeout makes a writer
 * wait for another instead of failing. synchronous=FULL: a committed transaction survives power
 * loss, which is what "a task that got a 2xx survives kill -9" rests on. With checkpoint_thread
 * (the daemon) the WAL is copied into the database by a thread of its own (sqlite_checkpoint.c),
 * not inside whichever commit filled it.
 *
 * temp.task_status (name, bit) is written at open from core/task.c's status names: it is how a
 * status bit set bound to a statement becomes a set of stored names (SQ_STATUS_IN).
 */
#include "common/alloc.h"
#include "store/backends.h"
#include "store/migrations.h"
#include "store/sqlite_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vg_status sq_ping(vg_store *base)
{
    int64_t n;
    return vg_sq_key_count(base, &n);
}

/* One read transaction for the reads up to sq_read_end (store.h read_begin). A deferred BEGIN
 * takes its snapshot at the first read; each read alone would take and drop the WAL's read lock
 * (the shared memory's mutex and a file lock), the larger part of a status poll's store time. */
static void sq_read_begin(vg_store *base)
{
    vg_sqlite *s = vg_sq(base);
    s->reading = sqlite3_get_autocommit(s->db) && vg_sq_exec(s, "BEGIN", SQ_NONE, NULL) == VG_OK;
}

static void sq_read_end(vg_store *base)
{
    vg_sqlite *s = vg_sq(base);
    if (!s->reading) return;
    s->reading = false;
    if (vg_sq_exec(s, "COMMIT", SQ_NONE, NULL) != VG_OK) vg_sq_exec(s, "ROLLBACK", SQ_NONE, NULL);
}

static void sq_close(vg_store *base)
{
    vg_sqlite *s = vg_sq(base);
    vg_sq_cache_clear(s);
    sqlite3_close(s->db);
    vg_sq_ckpt_detach(s->ckpt);
    free(s);
}

static const vg_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .key_insert = vg_sq_key_insert,
    .key_by_hash = vg_sq_key_by_hash,
    .key_get = vg_sq_key_get,
    .key_list = vg_sq_key_list,
    .key_revoke = vg_sq_key_revoke,
    .key_count = vg_sq_key_count,
    .key_update = vg_sq_key_update,
    .key_adjust = vg_sq_key_adjust,
    .ledger_list = vg_sq_ledger_list,
    .usage = vg_sq_usage,
    .audit = vg_sq_audit,
    .task_create = vg_sq_task_create,
    .task_create_batch = vg_sq_task_create_batch,
    .idem_get = vg_sq_idem_get,
    .task_get = vg_sq_task_get,
    .task_list = vg_sq_task_list,
    .task_claim = vg_sq_task_claim,
    .task_progress = vg_sq_task_progress,
    .task_complete = vg_sq_task_complete,
    .task_fail = vg_sq_task_fail,
    .task_cancel = vg_sq_task_cancel,
    .task_requeue = vg_sq_task_requeue,
    .task_mark_deleted = vg_sq_task_mark_deleted,
    .task_expired = vg_sq_task_expired,
    .task_recover = vg_sq_task_recover,
    .task_requeue_expired = vg_sq_task_requeue_expired,
    .asset_group_create = vg_sq_asset_group_create,
    .asset_group_get = vg_sq_asset_group_get,
    .asset_group_list = vg_sq_asset_group_list,
    .asset_group_update = vg_sq_asset_group_update,
    .asset_group_delete = vg_sq_asset_group_delete,
    .asset_create = vg_sq_asset_create,
    .asset_get = vg_sq_asset_get,
    .asset_list = vg_sq_asset_list,
    .asset_update = vg_sq_asset_update,
    .asset_delete = vg_sq_asset_delete,
    .asset_claim = vg_sq_asset_claim,
    .asset_activate = vg_sq_asset_activate,
    .asset_fail = vg_sq_asset_fail,
    .asset_recover = vg_sq_asset_recover,
    .asset_gc_due = vg_sq_asset_gc_due,
    .asset_blob_refs = vg_sq_asset_blob_refs,
    .asset_gc_defer = vg_sq_asset_gc_defer,
    .asset_purge = vg_sq_asset_purge,
    .asset_usage = vg_sq_asset_usage,
    .asset_refs_final = vg_sq_asset_refs_final,
    .asset_refs_prune = vg_sq_asset_refs_prune,
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
    .upstream_takeover = vg_sq_upstream_takeover,
    .lease_hold = vg_sq_lease_hold,
    .lease_release = vg_sq_lease_release,
    .lease_recover = vg_sq_lease_recover,
    .webhook_secrets = vg_sq_webhook_secrets,
    .webhook_secret_rotate = vg_sq_webhook_secret_rotate,
    .webhook_claim = vg_sq_webhook_claim,
    .webhook_set_body = vg_sq_webhook_set_body,
    .webhook_attempt_end = vg_sq_webhook_attempt_end,
    .webhook_get = vg_sq_webhook_get,
    .webhook_redeliver = vg_sq_webhook_redeliver,
    .webhook_recover = vg_sq_webhook_recover,
    .stats = vg_sq_stats,
    .setting_claim = vg_sq_setting_claim,
};

/* ---- opening and migrating --------------------------------------------------------------- */

/* The migrations newer than the database's, in one transaction (see migrate()). */
static int migrate_in_txn(sqlite3 *db, char *err, size_t errlen)
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

/* Runs the migrations newer than the database's, in one transaction. Foreign keys are off while
 * they run (the pragma cannot change inside a transaction): a migration that remakes a table
 * (SQLite's "twelve steps", migration 11) drops it while other tables refer to it, and renames its
 * replacement into its place. The rows a migration copies keep their keys, so no reference can
 * break; the checks are on again before any other statement of this connection. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "migration failed: %s", sqlite3_errmsg(db));
        return VG_ERR;
    }
    int rc = migrate_in_txn(db, err, errlen);
    if (sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK && !rc) {
        snprintf(err, errlen, "cannot turn foreign keys on: %s", sqlite3_errmsg(db));
        rc = VG_ERR;
    }
    return rc;
}

/* The status names of this build with their bits, for SQ_STATUS_IN (see the design note). */
static vg_status status_table(vg_sqlite *s)
{
    if (vg_sq_exec(s, "CREATE TEMP TABLE task_status (name TEXT PRIMARY KEY, bit INTEGER NOT NULL)",
                   SQ_NONE, NULL) != VG_OK)
        return VG_ERR;
    for (int i = 0; i < VG_TASK_STATUS_COUNT; i++)
        if (vg_sq_exec(s, "INSERT INTO temp.task_status (name, bit) VALUES (?1, ?2)",
                       SQ_ARGS(SQ_T(vg_task_status_name((vg_task_status)i)), SQ_I(VG_TASK_BIT(i))),
                       NULL) != VG_OK)
            return VG_ERR;
    return VG_OK;
}

/* SQLite's memory statistics take a process-wide mutex on every allocation: every connection of
 * every thread would queue on it. Must run before SQLite initialises itself. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

vg_status vg_store_open_sqlite(const vg_store_options *o, const char *node, vg_store **out,
                               char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    char path[4096];
    if (o->database && o->database[0])
        snprintf(path, sizeof path, "%s", o->database);
    else
        snprintf(path, sizeof path, "%s/vidgate.db", o->data_dir ? o->data_dir : ".");
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
    snprintf(s->node, sizeof s->node, "%s", node);
    if (status_table(s) != VG_OK) {
        snprintf(err, errlen, "cannot prepare %s: %s", path, sqlite3_errmsg(db));
        sq_close(&s->base);
        return VG_ERR;
    }
    if (o->checkpoint_thread) s->ckpt = vg_sq_ckpt_attach(path, db);
    *out = &s->base;
    return VG_OK;
}
