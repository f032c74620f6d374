/*
 * sqlite_stats.c - the counts GET /metrics shows (store.h: stats), read without touching a task
 * row: each status is counted over the tasks_by_status index, the oldest queued task is the first
 * entry of that index for "queued" (ids are time-ordered), and the money held is a sum over the
 * keys table (one row per key). The caller caches the result (VG_METRICS_STORE_CACHE_MS), so this
 * runs at most once a second whatever the scrape rate.
 */
#include "store/sqlite_internal.h"

#include <string.h>

vg_status vg_sq_stats(vg_store *base, vg_store_stats *out)
{
    vg_sqlite *s = vg_sq(base);
    memset(out, 0, sizeof *out);
    vg_status rc = VG_OK;
    for (int i = 0; i < VG_TASK_STATUS_COUNT && rc == VG_OK; i++)
        rc = vg_sq_int64(s, "SELECT count(*) FROM tasks WHERE status = ?1",
                         SQ_ARGS(SQ_T(vg_task_status_name((vg_task_status)i))), &out->tasks[i]);
    if (rc != VG_OK) return rc;
    rc = vg_sq_int64(s, "SELECT created_at FROM tasks WHERE status = ?1 ORDER BY id LIMIT 1",
                     SQ_ARGS(SQ_T(vg_task_status_name(VG_TASK_QUEUED))), &out->oldest_queued_at);
    if (rc == VG_NOTFOUND) rc = VG_OK; /* nothing queued */
    if (rc != VG_OK) return rc;
    return vg_sq_int64(s, "SELECT coalesce(sum(held_micro), 0) FROM keys", SQ_NONE,
                       &out->held_micro);
}
