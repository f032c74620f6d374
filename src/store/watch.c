/*
 * watch.c - see watch.h.
 *
 * The wrapped table is a copy of the backend's with the task-changing entries replaced; the
 * replacements find the backend's table through `inner` (one backend per process today: a second
 * one would get its own copy the same way, keyed by its table).
 */
#include "store/watch.h"

#include "common/metrics.h"
#include "common/taskwatch.h"
#include "store/upstream.h"

#include <pthread.h>
#include <stddef.h>

static vg_store_ops wrapped;
static const vg_store_ops *inner;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void announce(int rc, const char *id)
{
    if (rc == VG_OK) vg_taskwatch_notify(id);
}

static int w_task_claim(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_task *out)
{
    int rc = inner->task_claim(s, now_ms, lease_ms, out);
    announce(rc, out->id);
    return rc;
}

static int w_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms, const char *local,
                              bool take_unrouted, vg_task *out)
{
    int rc = inner->task_claim_local(s, now_ms, lease_ms, local, take_unrouted, out);
    announce(rc, out->id);
    return rc;
}

static int w_task_progress(vg_store *s, const char *id, int attempt, int progress,
                           int64_t lease_until_ms)
{
    int rc = inner->task_progress(s, id, attempt, progress, lease_until_ms);
    announce(rc, id);
    return rc;
}

static int w_task_complete(vg_store *s, const char *id, const vg_task_result *r, int64_t now)
{
    int rc = inner->task_complete(s, id, r, now);
    if (rc == VG_OK) vg_metrics_captured(r->cost_micro); /* the capture is the cost (store.h) */
    announce(rc, id);
    return rc;
}

static int w_task_fail(vg_store *s, const char *id, const char *code, const char *msg, int64_t now)
{
    int rc = inner->task_fail(s, id, code, msg, now);
    announce(rc, id);
    return rc;
}

static int w_task_cancel(vg_store *s, const char *id, const char *key_id, int64_t now)
{
    int rc = inner->task_cancel(s, id, key_id, now);
    announce(rc, id);
    return rc;
}

static int w_task_requeue(vg_store *s, const char *id, bool orderly, int64_t now)
{
    int rc = inner->task_requeue(s, id, orderly, now);
    announce(rc, id);
    return rc;
}

/* Only the rows that matched and changed what a caller sees (status or progress). */
static int w_upstream_update(vg_store *s, vg_up_update *u, size_t n, int64_t now)
{
    int rc = inner->upstream_update(s, u, n, now);
    for (size_t i = 0; rc == VG_OK && i < n; i++)
        if (u[i].applied && (u[i].to_status >= 0 || u[i].progress >= 0))
            vg_taskwatch_notify(u[i].task_id);
    return rc;
}

static void build(const vg_store_ops *backend)
{
    inner = backend;
    wrapped = *inner;
    wrapped.task_claim = w_task_claim;
    wrapped.task_claim_local = w_task_claim_local;
    wrapped.task_progress = w_task_progress;
    wrapped.task_complete = w_task_complete;
    wrapped.task_fail = w_task_fail;
    wrapped.task_cancel = w_task_cancel;
    wrapped.task_requeue = w_task_requeue;
    wrapped.upstream_update = w_upstream_update;
}

void vg_store_watch(vg_store *s)
{
    if (!s) return;
    /* The first table seen is the backend's; every connection of the process uses the same. */
    pthread_mutex_lock(&lock);
    if (!inner) build(s->ops);
    if (s->ops == inner) s->ops = &wrapped;
    pthread_mutex_unlock(&lock);
}
