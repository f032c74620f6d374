/*
 * dispatcher.c - the render pool of dispatcher.h (read its design note first), and the start and
 * stop of both halves.
 *
 * Per task, on one worker: claim (queued → running, lease) → parse the stored spec → provider run
 * into DATA/tmp/<id>.<attempt> → rename into DATA/files/<id> (and upload, with a bucket) → one
 * transaction: completed + usage + capture + release. Every failure path ends in exactly one store
 * call (fail, requeue or complete), and each of those is conditional on the task still being
 * `running`, so nothing is applied twice.
 *
 * Leases (task_lease_s): the lease keeper (renew.h) renews each claim every third of the lease,
 * during the render and while its result is published. A claim found lost (its lease expired and
 * the task was claimed again, here or on another node) is abandoned: the render stops at its next
 * progress report, and nothing is published or settled, since the task is someone else's now.
 * Before a settling call the worker renews once more itself (vg_renew_confirm), so the call lands
 * well inside a lease this node holds. Idle workers re-queue tasks whose lease expired (their node
 * died) every quarter of a lease, so another node renders them again within about a lease and a
 * quarter.
 */
#include "dispatch/dispatcher.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pool.h"
#include "dispatch/renew.h"
#include "dispatch/settle.h"
#include "dispatch/upstream.h"
#include "providers/provider.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_POLL_MS      1000
#define SWEEP_BATCH       100
#define COMPLETE_RETRY_MS 500 /* between tries of a completion while the store is away */

struct vg_dispatch {
    vg_dispatch_env env;
    vg_media_env media;          /* what a render may load, built from env */
    vg_pool *pool;               /* the render workers */
    atomic_llong next_sweep_ms;  /* whichever idle worker passes this time sweeps */
    int64_t sweep_every_ms;      /* a quarter of the retention, within 1..30 s */
    vg_upstream *up;             /* routing and upstream channels */
    int64_t lease_ms;            /* of a claim (task_lease_s) */
    vg_renew *renew;             /* keeps the claims' leases */
    atomic_llong next_expire_ms; /* whichever idle worker passes this time re-queues expired */
};

typedef struct {
    vg_dispatch *d;
    vg_store *store;
    const vg_task *task;
    int slot; /* in d->renew */
    int last_percent;
    int64_t last_write_ms;
    bool lost; /* a progress write found the claim gone */
} job_ctx;

/* Progress from the provider: persisted at most every 250 ms (each write is a transaction), and
 * each write extends the lease (the keeper renews it anyway). A non-zero return interrupts the
 * render: at shutdown, and once the claim is lost. */
static int on_progress(void *ud, int percent)
{
    job_ctx *j = ud;
    if (vg_pool_stopping(j->d->pool) || j->lost || vg_renew_lost(j->d->renew, j->slot)) return 1;
    int64_t now = vg_now_ms();
    if (percent <= j->last_percent || (now - j->last_write_ms < 250 && percent < 100)) return 0;
    j->last_percent = percent;
    j->last_write_ms = now;
    int shown = percent > 99 ? 99 : percent; /* 100 only once the result is committed */
    if (vg_store_task_progress(j->store, j->task->id, j->task->attempts, shown,
                               now + j->d->lease_ms) == VG_CONFLICT) {
        vg_warn("task %s: no longer this node's (lease lost or task ended); the render stops",
                j->task->id);
        j->lost = true;
        return 1;
    }
    return 0;
}

/* Whether the claim is still this node's, renewed just now: the worker may settle the task. */
static bool still_mine(vg_dispatch *d, vg_store *s, const vg_task *t, int slot)
{
    if (vg_renew_confirm(d->renew, slot, s)) return true;
    vg_info("task %s: abandoned, its lease was lost (another claim settles it)", t->id);
    return false;
}

static void finish(vg_dispatch *d, vg_store *s, const vg_task *t, const char *tmp_dir,
                   vg_run_result *res, int slot)
{
    res->r.expires_at = vg_now_s() + vg_config_retention_s(d->env.cfg);
    char why[300] = "";
    if (vg_settle_publish(d->env.content, tmp_dir, t->id, why, sizeof why) != VG_OK) {
        vg_error("task %s: cannot publish the result: %s", t->id, why);
        if (still_mine(d, s, t, slot))
            vg_settle_fail(s, t->id, "internal_error", "could not store the result");
        return;
    }
    if (!still_mine(d, s, t, slot)) return; /* publishing outlived the lease */
    int rc = vg_store_task_complete(s, t->id, &res->r, vg_now_s());
    /* The database away for a moment (a shared PostgreSQL restarting): the result is published,
     * so the completion is tried again while the claim stays this node's, for up to two leases.
     * A claim lost meanwhile (the lease expired and another node re-queued the task) ends it:
     * that claim renders and settles the task. */
    int64_t give_up = vg_now_ms() + 2 * d->lease_ms;
    while (rc == VG_AGAIN && vg_now_ms() < give_up && !vg_pool_stopping(d->pool)) {
        nanosleep(&(struct timespec){.tv_nsec = COMPLETE_RETRY_MS * 1000000L}, NULL);
        if (!still_mine(d, s, t, slot)) return;
        rc = vg_store_task_complete(s, t->id, &res->r, vg_now_s());
    }
    if (rc == VG_OK) {
        vg_info("task %s completed: %dx%d, %lld tokens", t->id, res->r.width, res->r.height,
                (long long)res->r.tokens);
    } else {
        vg_error("task %s: cannot record completion (%d)", t->id, rc);
    }
}

static void requeue(vg_store *s, const vg_task *t)
{
    if (vg_store_task_requeue(s, t->id, true, vg_now_s()) == VG_OK)
        vg_info("task %s re-queued (interrupted)", t->id);
}

static void render(vg_dispatch *d, vg_store *s, const vg_task *t, const vg_provider *p, int slot);

static void run_task(vg_dispatch *d, vg_store *s, const vg_task *t, const vg_provider *p,
                     int64_t claimed_ms)
{
    int slot = vg_renew_add(d->renew, t->id, t->attempts, claimed_ms);
    render(d, s, t, p, slot);
    vg_renew_remove(d->renew, slot);
}

static void render(vg_dispatch *d, vg_store *s, const vg_task *t, const vg_provider *p, int slot)
{
    if (t->attempts > VG_MAX_TASK_ATTEMPTS) {
        /* A task that was running whenever the process died, again and again, may be what
         * kills it: give up on it (refunded) rather than crash-loop. */
        vg_settle_fail(s, t->id, "task_interrupted", "the task was interrupted too many times");
        return;
    }
    if (!p || !p->run) { /* a channel table without a synchronous local provider */
        vg_settle_fail(s, t->id, "internal_error", "no provider runs local tasks");
        return;
    }
    vg_task_spec spec;
    if (vg_settle_read_spec(t, &spec) != VG_OK) {
        vg_task_spec_free(&spec);
        vg_settle_fail(s, t->id, "internal_error", "stored task parameters are unreadable");
        return;
    }
    char tmp_dir[1400];
    snprintf(tmp_dir, sizeof tmp_dir, "%s/%s.%d", d->env.tmp_dir, t->id, t->attempts);
    vg_rm_rf(tmp_dir);
    if (vg_mkdir_p(tmp_dir, 0700)) {
        vg_task_spec_free(&spec);
        vg_settle_fail(s, t->id, "internal_error", "cannot create a working directory");
        return;
    }
    job_ctx j = {.d = d, .store = s, .task = t, .slot = slot, .last_percent = 0};
    vg_run_env env = {.out_dir = tmp_dir, .media = d->media, .progress = on_progress, .ud = &j};
    vg_run_result res;
    memset(&res, 0, sizeof res);
    vg_metrics_gauge_add(VG_MG_RENDERS, 1);
    int64_t started_us = vg_mono_us();
    int rc = p->run(p, t, &spec, &env, &res);
    vg_metrics_observe(VG_MH_RENDER, (double)(vg_mono_us() - started_us) / 1e6);
    vg_metrics_gauge_add(VG_MG_RENDERS, -1);
    vg_task_spec_free(&spec);
    if (j.lost || !still_mine(d, s, t, slot))
        ; /* someone else's now: nothing to write */
    else if (rc == VG_OK)
        finish(d, s, t, tmp_dir, &res, slot);
    else if (rc == VG_AGAIN)
        requeue(s, t);
    else
        vg_settle_fail(s, t->id, res.error_code ? res.error_code : "render_failed",
                       res.error[0] ? res.error : "the render failed");
    vg_rm_rf(tmp_dir);
}

/* Retention: results past their expiry leave the disk. Marked first, removed second, so a crash
 * in between leaves only files nobody can reach. */
static void sweep_expired(vg_dispatch *d, vg_store *s)
{
    long long due = atomic_load(&d->next_sweep_ms), now = vg_now_ms();
    if (now < due ||
        !atomic_compare_exchange_strong(&d->next_sweep_ms, &due, now + d->sweep_every_ms))
        return;
    char(*ids)[48] = NULL;
    size_t n = 0;
    if (vg_store_task_expired(s, vg_now_s(), SWEEP_BATCH, &ids, &n)) return;
    for (size_t i = 0; i < n; i++) {
        if (vg_store_task_mark_deleted(s, ids[i], NULL, vg_now_s()) != VG_OK) continue;
        vg_content_delete_task(d->env.content, ids[i]); /* a bucket's objects too */
    }
    if (n) vg_info("retention: removed the results of %zu expired task(s)", n);
    if (n == SWEEP_BATCH) atomic_store(&d->next_sweep_ms, 0); /* more to do: sweep again soon */
    free(ids);
}

/* Tasks whose lease expired (their node died, or lost them) go back to the queue, and idle
 * workers are woken to claim them. */
static void requeue_expired(vg_dispatch *d, vg_store *s)
{
    long long due = atomic_load(&d->next_expire_ms), now = vg_now_ms();
    if (now < due ||
        !atomic_compare_exchange_strong(&d->next_expire_ms, &due, now + d->lease_ms / 4))
        return;
    int64_t n = 0;
    if (vg_store_task_requeue_expired(s, now, &n) != VG_OK || n == 0) return;
    vg_info("dispatcher: re-queued %lld task(s) whose lease expired", (long long)n);
    vg_pool_notify(d->pool);
}

/* The render pool's callbacks (common/pool.h). */
static void *render_start(void *ud)
{
    vg_dispatch *d = ud;
    vg_store *s = d->env.open_store(d->env.store_ud);
    if (!s) vg_error("dispatcher: a worker cannot open the store");
    return s;
}

static void render_end(void *ud, void *state)
{
    (void)ud;
    vg_store_close(state);
}

static int render_step(void *ud, void *state)
{
    vg_dispatch *d = ud;
    vg_store *s = state;
    vg_task t;
    char local[64];
    bool take_unrouted = false;
    const vg_provider *p = NULL;
    vg_upstream_local_claim(d->up, local, &take_unrouted, &p);
    int64_t now = vg_now_ms();
    int rc = vg_store_task_claim_local(s, now, d->lease_ms, local, take_unrouted, &t);
    if (rc == VG_OK) {
        run_task(d, s, &t, p, now);
        vg_task_free(&t);
        return 0;
    }
    if (rc != VG_NOTFOUND && rc != VG_AGAIN) vg_warn("dispatcher: claim failed (%d)", rc);
    requeue_expired(d, s);
    sweep_expired(d, s);
    return IDLE_POLL_MS;
}

/* Renders this node left running when it stopped (and any whose lease expired) go back to the
 * queue: none of them can still be running anywhere. */
static int recover(vg_store *s)
{
    int64_t n = 0;
    if (vg_store_task_recover(s, vg_now_ms(), &n) != VG_OK) return -1;
    if (n) vg_info("dispatcher: re-queued %lld interrupted task(s)", (long long)n);
    return 0;
}

static void wake_render(void *ud)
{
    vg_dispatch *d = ud;
    vg_pool_notify(d->pool);
}

vg_dispatch *vg_dispatch_start(const vg_dispatch_env *env, int workers, char *err, size_t errlen)
{
    char why[512];
    vg_channels *set = vg_channels_build(env->cfg->channels, why, sizeof why);
    if (!set) {
        snprintf(err, errlen, "config: %s", why);
        return NULL;
    }
    vg_store *s = env->open_store(env->store_ud);
    if (!s || recover(s)) {
        snprintf(err, errlen, "dispatcher: cannot recover interrupted tasks");
        vg_store_close(s);
        vg_channels_unref(set);
        return NULL;
    }
    vg_store_close(s);
    vg_dispatch *d = vg_calloc(1, sizeof *d);
    d->env = *env;
    d->media = (vg_media_env){
        .data_dir = env->cfg->data_dir, .content = env->content, .fetch = env->fetch};
    d->sweep_every_ms = env->cfg->retention_s * 250;
    if (d->sweep_every_ms < 1000) d->sweep_every_ms = 1000;
    if (d->sweep_every_ms > 30000) d->sweep_every_ms = 30000;
    d->lease_ms = env->cfg->task_lease_s * 1000;
    if (d->lease_ms < VG_TASK_LEASE_MIN_MS) d->lease_ms = VG_TASK_LEASE_MIN_MS;
    d->renew = vg_renew_start(env, workers, d->lease_ms);
    if (!d->renew) {
        snprintf(err, errlen, "dispatcher: cannot start the lease keeper");
        vg_channels_unref(set);
        free(d);
        return NULL;
    }
    /* The pool exists (and keeps notifications) before the upstream loop can route a task to
     * it; its threads start once d->up, which they read, is set. */
    d->pool = vg_pool_new(&(vg_pool_def){.name = "dispatcher",
                                         .threads = workers,
                                         .ud = d,
                                         .thread_start = render_start,
                                         .thread_end = render_end,
                                         .step = render_step});
    d->up = vg_upstream_start(&d->env, set, wake_render, d, err, errlen);
    if (!d->up) {
        vg_pool_stop(d->pool);
        vg_renew_stop(d->renew);
        free(d);
        return NULL;
    }
    vg_info("dispatcher: %d render worker(s)", vg_pool_start(d->pool));
    return d;
}

void vg_dispatch_notify(vg_dispatch *d)
{
    if (!d) return;
    wake_render(d);
    vg_upstream_notify(d->up);
}

void vg_dispatch_reload_channels(vg_dispatch *d, vg_channels *set)
{
    vg_upstream_reload(d->up, set);
    wake_render(d); /* the local channel may have changed */
}

struct vg_upstream *vg_dispatch_upstream(vg_dispatch *d)
{
    return d ? d->up : NULL;
}

void vg_dispatch_stop(vg_dispatch *d)
{
    if (!d) return;
    vg_pool_stop(d->pool); /* renders abort at their next progress report and re-queue */
    vg_renew_stop(d->renew);
    vg_upstream_stop(d->up);
    free(d);
}
