/*
 * pg_open.c - opening the PostgreSQL store backend: the connection, the schema (pg_migrations.c),
 * and the ops table that sends each store operation to its file (see pg_internal.h for the files
 * and the shared design).
 *
 * One vg_pg per thread, each its own connection (libpq connections are not shared between
 * threads). The connection string is the `database` option as given: a postgresql:// URL or a
 * libpq key=value string. Any number of processes (nodes) may connect to one database; leases
 * carry this process's node name.
 */
#include "common/alloc.h"
#include "store/backends.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_CONNECT_TIMEOUT_S "5" /* libpq's default is to wait for ever */

static vg_status pg_ping(vg_store *base)
{
    int64_t n;
    return vg_pg_int64(vg_pgs(base), "SELECT 1", PG_NONE, &n);
}

static void pg_close(vg_store *base)
{
    vg_pg *s = vg_pgs(base);
    vg_pg_cache_clear(s);
    PQfinish(s->conn);
    free(s);
}

static const vg_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .ping = pg_ping,
    .key_insert = vg_pg_key_insert,
    .key_by_hash = vg_pg_key_by_hash,
    .key_get = vg_pg_key_get,
    .key_list = vg_pg_key_list,
    .key_revoke = vg_pg_key_revoke,
    .key_count = vg_pg_key_count,
    .key_update = vg_pg_key_update,
    .key_adjust = vg_pg_key_adjust,
    .ledger_list = vg_pg_ledger_list,
    .usage = vg_pg_usage,
    .audit = vg_pg_audit,
    .task_create = vg_pg_task_create,
    .idem_get = vg_pg_idem_get,
    .task_get = vg_pg_task_get,
    .task_list = vg_pg_task_list,
    .task_claim = vg_pg_task_claim,
    .task_progress = vg_pg_task_progress,
    .task_complete = vg_pg_task_complete,
    .task_fail = vg_pg_task_fail,
    .task_cancel = vg_pg_task_cancel,
    .task_requeue = vg_pg_task_requeue,
    .task_mark_deleted = vg_pg_task_mark_deleted,
    .task_expired = vg_pg_task_expired,
    .task_recover = vg_pg_task_recover,
    .task_requeue_expired = vg_pg_task_requeue_expired,
    .asset_group_create = vg_pg_asset_group_create,
    .asset_group_get = vg_pg_asset_group_get,
    .asset_group_list = vg_pg_asset_group_list,
    .asset_group_update = vg_pg_asset_group_update,
    .asset_group_delete = vg_pg_asset_group_delete,
    .asset_create = vg_pg_asset_create,
    .asset_get = vg_pg_asset_get,
    .asset_list = vg_pg_asset_list,
    .asset_update = vg_pg_asset_update,
    .asset_delete = vg_pg_asset_delete,
    .asset_claim = vg_pg_asset_claim,
    .asset_activate = vg_pg_asset_activate,
    .asset_fail = vg_pg_asset_fail,
    .asset_recover = vg_pg_asset_recover,
    .asset_gc_due = vg_pg_asset_gc_due,
    .asset_blob_refs = vg_pg_asset_blob_refs,
    .asset_gc_defer = vg_pg_asset_gc_defer,
    .asset_purge = vg_pg_asset_purge,
    .asset_usage = vg_pg_asset_usage,
    .asset_refs_final = vg_pg_asset_refs_final,
    .asset_refs_prune = vg_pg_asset_refs_prune,
    .stats = vg_pg_stats,
    .task_claim_local = vg_pg_task_claim_local,
    .task_route_local = vg_pg_task_route_local,
    .channel_load = vg_pg_channel_load,
    .upstream_due = vg_pg_upstream_due,
    .upstream_get = vg_pg_upstream_get,
    .upstream_begin = vg_pg_upstream_begin,
    .upstream_attempt_end = vg_pg_upstream_attempt_end,
    .upstream_requeue = vg_pg_upstream_requeue,
    .upstream_update = vg_pg_upstream_update,
    .upstream_recover = vg_pg_upstream_recover,
    .upstream_takeover = vg_pg_upstream_takeover,
    .lease_hold = vg_pg_lease_hold,
    .lease_release = vg_pg_lease_release,
    .lease_recover = vg_pg_lease_recover,
    .webhook_secrets = vg_pg_webhook_secrets,
    .webhook_secret_rotate = vg_pg_webhook_secret_rotate,
    .webhook_claim = vg_pg_webhook_claim,
    .webhook_set_body = vg_pg_webhook_set_body,
    .webhook_attempt_end = vg_pg_webhook_attempt_end,
    .webhook_get = vg_pg_webhook_get,
    .webhook_redeliver = vg_pg_webhook_redeliver,
    .webhook_recover = vg_pg_webhook_recover,
    .setting_claim = vg_pg_setting_claim,
    .connected = vg_pg_connected,
    .notify = vg_pg_notify,
    .listen_wait = vg_pg_listen_wait,
    .rate_take = vg_pg_rate_take,
};

/* libpq's message without its trailing newline. */
static void conn_error(PGconn *conn, const char *what, char *err, size_t errlen)
{
    const char *m = conn ? PQerrorMessage(conn) : "no memory";
    int len = (int)strlen(m);
    while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' '))
        len--;
    snprintf(err, errlen, "%s: %.*s", what, len, m);
}

vg_status vg_store_open_pg(const vg_store_options *o, const char *node, vg_store **out, char *err,
                           size_t errlen)
{
    /* Defaults that the connection string may override (expand_dbname: its own values come
     * after these): a bounded connect, so that a reconnection to a database that went away
     * cannot hold a thread for long, and a name in pg_stat_activity. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT_S, "vidgated", o->database ? o->database : "",
                                  NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        conn_error(conn, "cannot connect to the database", err, errlen);
        PQfinish(conn);
        return VG_ERR;
    }
    vg_pg *s = vg_calloc(1, sizeof *s);
    s->base.ops = &pg_ops;
    s->conn = conn;
    snprintf(s->node, sizeof s->node, "%s", node);
    if (vg_pg_session(s) != VG_OK) {
        conn_error(conn, "cannot configure the session", err, errlen);
        pg_close(&s->base);
        return VG_ERR;
    }
    if (vg_pg_migrate(conn, err, errlen) != VG_OK) {
        pg_close(&s->base);
        return VG_ERR;
    }
    *out = &s->base;
    return VG_OK;
}
