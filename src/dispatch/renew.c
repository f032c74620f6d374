/*
 * renew.c - the render lease keeper of renew.h (read its design note first).
 *
 * Slots are a fixed array, one per render worker at most. The renewer copies the live slots'
 * ids under the lock, renews each (a store call per claim, outside the lock) and writes the
 * outcome back only if the slot still holds the same claim (a generation number tells).
 */
#include "dispatch/renew.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    bool lost;
    uint64_t gen; /* bumped by every add: tells a renewal of an older claim */
    char id[48];
    int attempt;
    int64_t renewed_ms; /* when the lease was last written (the claim, or a renewal) */
} slot;

struct vg_renew {
    vg_dispatch_env env;
    int64_t lease_ms;
    pthread_mutex_t lock;
    int n;
    slot *s;
    vg_pool *pool;
};

/* One renewal of claim c on s; returns whether the claim is still this node's (sets lost). */
static bool renew_one(vg_store *s, const slot *c, int64_t lease_ms, int64_t now, bool *lost)
{
    vg_status rc = vg_store_task_progress(s, c->id, c->attempt, -1, now + lease_ms);
    if (rc == VG_OK) return true;
    if (rc == VG_CONFLICT) {
        vg_warn("task %s: lease lost (claimed again elsewhere); the render stops", c->id);
        *lost = true;
    } else if (now - c->renewed_ms >= lease_ms) {
        vg_warn("task %s: lease not renewed for %lld ms (store unreachable); the render stops",
                c->id, (long long)(now - c->renewed_ms));
        *lost = true;
    }
    return false;
}

static void *keeper_start(void *ud)
{
    vg_renew *k = ud;
    vg_store *s = k->env.open_store(k->env.store_ud);
    if (!s) vg_error("dispatcher: the lease keeper cannot open the store");
    return s;
}

static void keeper_end(void *ud, void *state)
{
    (void)ud;
    vg_store_close(state);
}

/* Renews every claim whose last renewal is a third of a lease old; waits until the next one is. */
static int keeper_step(void *ud, void *state)
{
    vg_renew *k = ud;
    int64_t every = k->lease_ms / 3, next = every;
    for (int i = 0; i < k->n; i++) {
        pthread_mutex_lock(&k->lock);
        slot c = k->s[i];
        pthread_mutex_unlock(&k->lock);
        if (!c.used || c.lost) continue;
        int64_t now = vg_now_ms(), due = c.renewed_ms + every;
        if (due > now) {
            if (due - now < next) next = due - now;
            continue;
        }
        bool lost = false, ok = renew_one(state, &c, k->lease_ms, now, &lost);
        pthread_mutex_lock(&k->lock);
        if (k->s[i].used && k->s[i].gen == c.gen) {
            if (ok) k->s[i].renewed_ms = now;
            if (lost) k->s[i].lost = true;
        }
        pthread_mutex_unlock(&k->lock);
        if (!ok && !lost && next > 1000) next = 1000; /* the store failed: try again soon */
    }
    return next > 0 ? (int)next : 1;
}

vg_renew *vg_renew_start(const vg_dispatch_env *env, int slots, int64_t lease_ms)
{
    vg_renew *k = vg_calloc(1, sizeof *k);
    k->env = *env;
    k->lease_ms = lease_ms;
    k->n = slots;
    k->s = vg_calloc((size_t)slots, sizeof *k->s);
    pthread_mutex_init(&k->lock, NULL);
    k->pool = vg_pool_new(&(vg_pool_def){.name = "lease keeper",
                                         .threads = 1,
                                         .ud = k,
                                         .thread_start = keeper_start,
                                         .thread_end = keeper_end,
                                         .step = keeper_step});
    if (vg_pool_start(k->pool) != 1) {
        vg_renew_stop(k);
        return NULL;
    }
    return k;
}

int vg_renew_add(vg_renew *k, const char *task_id, int attempt, int64_t claimed_ms)
{
    int found = -1;
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->n && found < 0; i++) {
        if (k->s[i].used) continue;
        slot *c = &k->s[i];
        c->used = true;
        c->lost = false;
        c->gen++;
        snprintf(c->id, sizeof c->id, "%s", task_id);
        c->attempt = attempt;
        c->renewed_ms = claimed_ms;
        found = i;
    }
    pthread_mutex_unlock(&k->lock);
    return found;
}

bool vg_renew_lost(vg_renew *k, int i)
{
    if (i < 0) return false;
    pthread_mutex_lock(&k->lock);
    bool lost = k->s[i].lost;
    pthread_mutex_unlock(&k->lock);
    return lost;
}

bool vg_renew_confirm(vg_renew *k, int i, vg_store *s)
{
    if (i < 0) return true;
    pthread_mutex_lock(&k->lock);
    slot c = k->s[i];
    pthread_mutex_unlock(&k->lock);
    if (c.lost) return false;
    int64_t now = vg_now_ms();
    bool lost = false, ok = renew_one(s, &c, k->lease_ms, now, &lost);
    pthread_mutex_lock(&k->lock);
    if (ok) k->s[i].renewed_ms = now;
    if (lost) k->s[i].lost = true;
    pthread_mutex_unlock(&k->lock);
    return !lost; /* a store that failed once, within the lease, still leaves it this node's */
}

void vg_renew_remove(vg_renew *k, int i)
{
    if (i < 0) return;
    pthread_mutex_lock(&k->lock);
    k->s[i].used = false;
    pthread_mutex_unlock(&k->lock);
}

void vg_renew_stop(vg_renew *k)
{
    if (!k) return;
    vg_pool_stop(k->pool);
    pthread_mutex_destroy(&k->lock);
    free(k->s);
    free(k);
}
