/*
 * upstream.c - the public face of the upstream loop (upstream.h; read its design note first):
 * start, notify, reload, stop. The scheduler is upstream_sched.c, the job queue and the worker
 * step upstream_jobs.c, the job handlers upstream_submit.c, upstream_poll.c and
 * upstream_finalize.c, the per-channel runtime state upstream_state.c; upstream_int.h ties them.
 */
#include "dispatch/upstream_int.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>

vg_upstream *vg_upstream_start(const vg_dispatch_env *env, vg_channels *set,
                               void (*notify_local)(void *ud), void *ud, char *err, size_t errlen)
{
    vg_store *s = env->open_store(env->store_ud);
    if (!s || vg_store_upstream_recover(s, vg_now_ms()) != VG_OK ||
        vg_store_lease_recover(s) != VG_OK) {
        snprintf(err, errlen, "upstream: cannot recover upstream tasks");
        vg_store_close(s);
        vg_channels_unref(set);
        return NULL;
    }
    vg_store_close(s);
    vg_upstream *u = vg_calloc(1, sizeof *u);
    u->env = *env;
    u->up_env = (vg_up_env){
        .public_url = env->public_url,
        .secret = env->secret,
        .media = {.data_dir = env->cfg->data_dir, .content = env->content, .fetch = env->fetch}};
    u->notify_local = notify_local;
    u->ud = ud;
    pthread_mutex_init(&u->lock, NULL);
    vg_random_bytes(&u->rng, sizeof u->rng);
    vg_ups_adopt_set(u, set);
    u->busy = vg_inflight_new();
    int n = env->cfg->upstream_workers;
    n = n < 1 ? 1 : n > VG_UPSTREAM_MAX_WORKERS ? VG_UPSTREAM_MAX_WORKERS : n;
    u->queue_cap = 4 * n + 16;
    u->workers = vg_pool_new(&(vg_pool_def){.name = "upstream",
                                            .threads = n,
                                            .ud = u,
                                            .thread_start = vg_ups_worker_start,
                                            .thread_end = vg_ups_worker_end,
                                            .step = vg_ups_worker_step});
    u->sched = vg_pool_new(&(vg_pool_def){.name = "upstream scheduler",
                                          .threads = 1,
                                          .ud = u,
                                          .thread_start = vg_ups_sched_start,
                                          .thread_end = vg_ups_sched_end,
                                          .step = vg_ups_sched_step});
    int started = vg_pool_start(u->workers);
    if (vg_pool_start(u->sched) != 1) {
        snprintf(err, errlen, "upstream: cannot start the scheduler");
        vg_upstream_stop(u);
        return NULL;
    }
    vg_info("upstream: %d channel(s), %d worker(s)", set->n, started);
    return u;
}

void vg_upstream_notify(vg_upstream *u)
{
    if (u) vg_pool_notify(u->sched);
}

void vg_upstream_reload(vg_upstream *u, vg_channels *set)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_adopt_set(u, set);
    pthread_mutex_unlock(&u->lock);
    vg_pool_notify(u->sched);
}

void vg_upstream_local_claim(vg_upstream *u, char name[64], bool *take_unrouted,
                             const vg_provider **provider)
{
    pthread_mutex_lock(&u->lock);
    const vg_channels *set = u->set;
    const vg_channel *local = set->local >= 0 ? &set->ch[set->local] : NULL;
    snprintf(name, 64, "%s", local ? local->name : "local");
    *take_unrouted = vg_channels_all_local(set);
    /* Without a local channel the render pool still runs test-mode tasks: on the provider the
     * channel table gives the local type. */
    *provider = local ? local->provider : vg_channel_type_provider(VG_CH_LOCAL);
    pthread_mutex_unlock(&u->lock);
}

void vg_upstream_stop(vg_upstream *u)
{
    if (!u) return;
    atomic_store(&u->stopping, true); /* aborts HTTP calls in progress; no job starts */
    vg_pool_stop(u->sched);
    vg_pool_stop(u->workers);
    vg_ups_drop_queue(u);
    vg_inflight_free(u->busy);
    vg_channels_unref(u->set);
    pthread_mutex_destroy(&u->lock);
    free(u);
}
