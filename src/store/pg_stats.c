/*
 * pg_stats.c - the counts GET /metrics shows (store.h: stats) in the PostgreSQL backend, the twin
 * of sqlite_stats.c: tasks per status in one GROUP BY over the status index, the oldest queued
 * task's creation time, the money held summed over the keys. The caller caches the result
 * (VG_METRICS_STORE_CACHE_MS), so each node runs this at most once a second.
 */
#include "store/pg_internal.h"

#include <string.h>

static void fill_count(const PGresult *r, int row, void *out)
{
    vg_store_stats *st = out;
    char name[32];
    vg_pg_col_copy(r, row, 0, name, sizeof name);
    for (int i = 0; i < VG_TASK_STATUS_COUNT; i++)
        if (!strcmp(name, vg_task_status_name((vg_task_status)i)))
            st->tasks[i] = vg_pg_col_i64(r, row, 1);
}

vg_status vg_pg_stats(vg_store *base, vg_store_stats *out)
{
    vg_pg *s = vg_pgs(base);
    memset(out, 0, sizeof *out);
    vg_status rc = VG_OK;
    PGresult *r = vg_pg_run(s, "SELECT status, count(*) FROM tasks GROUP BY status", PG_NONE, &rc);
    if (!r) return rc;
    for (int i = 0; i < PQntuples(r); i++)
        fill_count(r, i, out);
    PQclear(r);
    rc = vg_pg_int64(s, "SELECT coalesce(min(created_at), 0) FROM tasks WHERE status = $1",
                     PG_ARGS(PG_T(vg_task_status_name(VG_TASK_QUEUED))), &out->oldest_queued_at);
    if (rc != VG_OK) return rc;
    return vg_pg_int64(s, "SELECT coalesce(sum(held_micro), 0)::bigint FROM keys", PG_NONE,
                       &out->held_micro);
}
