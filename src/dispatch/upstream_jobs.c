/*
 * upstream_jobs.c - the job queue between the scheduler and the upstream workers, the worker
 * step (one job per step, run by the handler of its kind), and the store changes the handlers
 * share (see upstream_int.h).
 *
 * A job is made and queued by the scheduler (vg_ups_enqueue marks its rows in flight), popped by
 * exactly one worker, which runs it, takes its rows out of the in-flight set and frees it. Jobs
 * still queued at shutdown are freed by vg_upstream_stop; their leases expire and the next start
 * makes them due again. The queue is FIFO and bounded (queue_cap): the scheduler plans no more
 * while it is full.
 */
#include "dispatch/upstream_int.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"

#include <stdlib.h>

/* A worker waits this long for a job before it looks again; vg_ups_enqueue() wakes it sooner. */
#define WORKER_IDLE_MS 1000

vg_ups_job *vg_ups_job_new(vg_channels *set, vg_ups_kind kind, int ch, size_t n)
{
    vg_ups_job *j = vg_calloc(1, sizeof *j);
    j->kind = kind;
    j->ch = ch;
    j->rows = vg_calloc(n, sizeof *j->rows);
    j->set = vg_channels_ref(set); /* the set ch indexes, even if a reload swaps it meanwhile */
    return j;
}

void vg_ups_job_free(vg_ups_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        vg_up_row_free(&j->rows[i]);
    free(j->rows);
    vg_channels_unref(j->set);
    free(j);
}

bool vg_ups_queue_full(vg_upstream *u)
{
    pthread_mutex_lock(&u->lock);
    bool full = u->queued >= u->queue_cap;
    pthread_mutex_unlock(&u->lock);
    return full;
}

void vg_ups_enqueue(vg_upstream *u, vg_store *s, vg_ups_job *j, int64_t lease_ms)
{
    int64_t now = vg_now_ms();
    vg_up_update *ls = vg_calloc(j->n, sizeof *ls);
    for (size_t i = 0; i < j->n; i++) {
        ls[i] = vg_up_update_for(j->rows[i].task_id, VG_UPS_ANY);
        ls[i].next_poll_at = now + lease_ms;
    }
    /* A submit's lease is its attempt record (upstream_begin), written already. */
    if (j->kind != VG_UPS_SUBMIT && vg_store_upstream_update(s, ls, j->n, now / 1000) != VG_OK)
        vg_warn("upstream: cannot lease %zu task(s)", j->n);
    free(ls);
    for (size_t i = 0; i < j->n; i++)
        vg_inflight_add(u->busy, j->rows[i].task_id);
    pthread_mutex_lock(&u->lock);
    if (u->tail)
        u->tail->next = j;
    else
        u->head = j;
    u->tail = j;
    u->queued++;
    pthread_mutex_unlock(&u->lock);
    vg_pool_notify(u->workers);
}

void vg_ups_drop_queue(vg_upstream *u)
{
    while (u->head) {
        vg_ups_job *j = u->head;
        u->head = j->next;
        vg_ups_job_free(j);
    }
    u->tail = NULL;
    u->queued = 0;
}

/* ---- the worker ------------------------------------------------------------------------------ */

static void (*const g_run[VG_UPS_KIND_COUNT])(vg_ups_worker *w, vg_ups_job *j) = {
    [VG_UPS_SUBMIT] = vg_ups_run_submit,   [VG_UPS_RESOLVE] = vg_ups_run_resolve,
    [VG_UPS_POLL] = vg_ups_run_poll,       [VG_UPS_FINALIZE] = vg_ups_run_finalize,
    [VG_UPS_CLEANUP] = vg_ups_run_cleanup,
};

void *vg_ups_worker_start(void *ud)
{
    vg_upstream *u = ud;
    vg_ups_worker *w = vg_calloc(1, sizeof *w);
    w->u = u;
    w->s = u->env.open_store(u->env.store_ud);
    if (!w->s) {
        vg_warn("upstream: a worker cannot open the store");
        free(w);
        return NULL;
    }
    w->hc = vg_http_client_new();
    vg_http_client_set_abort(w->hc, &u->stopping); /* shutdown aborts calls in progress */
    return w;
}

void vg_ups_worker_end(void *ud, void *state)
{
    (void)ud;
    vg_ups_worker *w = state;
    vg_http_client_free(w->hc);
    vg_store_close(w->s);
    free(w);
}

int vg_ups_worker_step(void *ud, void *state)
{
    vg_upstream *u = ud;
    pthread_mutex_lock(&u->lock);
    vg_ups_job *j = atomic_load(&u->stopping) ? NULL : u->head; /* stopping: start nothing */
    if (j) {
        u->head = j->next;
        if (!u->head) u->tail = NULL;
        u->queued--;
    }
    pthread_mutex_unlock(&u->lock);
    if (!j) return WORKER_IDLE_MS;
    g_run[j->kind](state, j);
    for (size_t i = 0; i < j->n; i++)
        vg_inflight_remove(u->busy, j->rows[i].task_id);
    vg_ups_job_free(j);
    return 0;
}

/* ---- store changes the handlers share -------------------------------------------------------- */

void vg_ups_close(vg_store *s, const vg_up_row *r)
{
    vg_up_update c = vg_up_update_for(r->task_id, VG_UPS_ANY);
    c.open = 0;
    vg_store_upstream_update(s, &c, 1, vg_now_s());
}

void vg_ups_reschedule(vg_store *s, const vg_up_row *r, vg_task_status_set from, int64_t at,
                       int poll_errors, int lookups)
{
    vg_up_update c = vg_up_update_for(r->task_id, from);
    c.next_poll_at = at;
    c.poll_errors = poll_errors;
    c.lookups = lookups;
    vg_store_upstream_update(s, &c, 1, vg_now_s());
}
