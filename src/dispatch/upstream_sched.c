/*
 * upstream_sched.c - the scheduler of the upstream loop: one thread (a pool of one, common/pool.h)
 * with its own store connection runs rounds. A round re-reads the channels after a SIGHUP, routes
 * queued tasks to channels (recording the write-ahead attempt of a submit, or routing to the
 * local channel and waking the render pool), then asks the store for each kind of due work and
 * plans it into jobs for the workers (polls batched per channel). It writes only leases, routing
 * decisions and failures of tasks no channel can ever take; everything else is the workers'.
 *
 * Polls go by cycles of upstream_poll_min_ms per channel: when a channel's cycle opens, every
 * in-flight task of it due before the next one opens is handed out at once, in lists of
 * VG_UPSTREAM_POLL_BATCH ids; between cycles none is. Polling what fell due in each 100 ms round
 * instead gave lists of a few ids (each task has its own due time), so nearly one request per
 * task refreshed; by cycles a task is polled at most one cycle early and a task that falls due
 * mid-cycle waits at most one cycle. A cycle stays open over the following rounds while some of
 * its tasks could not be handed out (request budget, full queue, more than a query's worth).
 * A task made due VG_UPSTREAM_POLL_AT_ONCE (a callback) is polled in the next round regardless.
 *
 * Pace: a round runs at once when vg_upstream_notify() was called since the last one began,
 * otherwise ROUND_BUSY_MS after the previous one while upstream channels exist or the round found
 * work, ROUND_IDLE_MS when neither.
 *
 * One planner per store: rounds run only while this node holds the store's lease "upstream"
 * (store.h lease_hold; VG_UPSTREAM_LEADER_TTL_MS, renewed once half of it is gone), so that with
 * many nodes on one database a due task is polled by one node, polls are batched over the whole
 * cluster and each channel's request budget holds for the cluster. Other nodes' schedulers only
 * try to take the lease every ROUND_IDLE_MS; their render pools still claim local tasks, which
 * the leader routes (or, with only local channels, nobody needs to route). A node that takes the
 * lease makes the work other nodes had scheduled due at once (upstream_takeover: a dead leader's
 * polls, downloads and cleanups wait for no job lease), except a submit whose call may still be
 * in flight, which keeps its attempt's lease and is then looked up by its client token. An
 * orderly stop gives the lease up, so another node takes over in its next idle round.
 */
#include "dispatch/upstream_int.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "dispatch/settle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUND_BUSY_MS 100
#define ROUND_IDLE_MS 500
#define ROUTE_LIMIT   200
#define ROUTE_FULL_MS 1000
#define DUE_LIMIT     1000
#define LEADER_LEASE  "upstream"

/* Records the write-ahead attempt and queues the submit. */
static void start_attempt(vg_upstream *u, vg_store *s, vg_channels *set, int idx, vg_up_row *r)
{
    const vg_channel *ch = &set->ch[idx];
    char attempt[VG_ID_MAX], token[72], cb[72];
    unsigned char raw[32];
    vg_id_new("att_", attempt);
    vg_random_bytes(raw, 8);
    snprintf(token, sizeof token, "%s.", r->key_id);
    for (int i = 0; i < 8; i++)
        snprintf(token + strlen(token), 3, "%02x", raw[i]);
    vg_random_bytes(raw, sizeof raw);
    for (int i = 0; i < 32; i++)
        snprintf(cb + 2 * i, 3, "%02x", raw[i]);
    const char *model = vg_channel_model(ch, r->model);
    int64_t now = vg_now_ms();
    vg_up_attempt a = {.task_id = r->task_id,
                       .attempt_id = attempt,
                       .channel = ch->name,
                       .upstream_model = model,
                       .client_token = token,
                       .callback_token = r->callback_token[0] ? r->callback_token : cb,
                       .now_ms = now,
                       /* the call may wait in the queue for up to one timeout (the worker does
                        * not start it later: upstream_submit.c) and then take another */
                       .lease_until_ms = now + 2 * ch->timeout_ms + 5000};
    if (vg_store_upstream_begin(s, &a) != VG_OK) return; /* cancelled meanwhile */
    vg_ups_job *j = vg_ups_job_new(set, VG_UPS_SUBMIT, idx, 1);
    j->n = 1;
    j->rows[0] = *r;
    j->rows[0].result = NULL;
    vg_up_row *jr = &j->rows[0];
    jr->status = VG_TASK_DISPATCHING;
    snprintf(jr->channel, sizeof jr->channel, "%s", ch->name);
    snprintf(jr->attempt_id, sizeof jr->attempt_id, "%s", attempt);
    snprintf(jr->client_token, sizeof jr->client_token, "%s", token);
    snprintf(jr->upstream_model, sizeof jr->upstream_model, "%s", model);
    snprintf(jr->callback_token, sizeof jr->callback_token, "%s", a.callback_token);
    jr->attempt_started_ms = now;
    jr->next_poll_at = a.lease_until_ms;
    vg_ups_enqueue(u, s, j, 0);
}

/* Whether some channel can take a task now (below its limit, not cooling down). */
static bool any_room(vg_upstream *u, const vg_channels *set, const int64_t *active, int64_t now)
{
    bool room = false;
    pthread_mutex_lock(&u->lock);
    for (int k = 0; k < set->n && !room; k++) {
        const vg_channel *c = &set->ch[k];
        room = (u->set != set || u->st[k].cooldown_until <= now) &&
               (c->max_active <= 0 || active[k] < c->max_active);
    }
    pthread_mutex_unlock(&u->lock);
    return room;
}

/* Routes queued tasks. While every channel is full, a pass runs only every ROUTE_FULL_MS (it can
 * then only fail the expired tasks and those of models no channel serves): reading the head of a
 * long queue every round, to route none of it, took a tenth of the CPU under a submit flood. */
static void route(vg_upstream *u, vg_store *s, vg_channels *set, int64_t *active)
{
    vg_up_row *rows = NULL;
    size_t n = 0;
    int64_t now = vg_now_ms(), cool[VG_MAX_CHANNELS];
    if (!any_room(u, set, active, now)) {
        if (now < u->route_full_next) return;
        u->route_full_next = now + ROUTE_FULL_MS;
    }
    if (vg_store_upstream_due(s, VG_DUE_ROUTE, now, ROUTE_LIMIT, &rows, &n)) return;
    for (size_t i = 0; i < n && !vg_ups_queue_full(u); i++) {
        vg_up_row *r = &rows[i];
        if (vg_ups_past_deadline(u, r, now)) {
            vg_settle_fail(s, r->task_id, "expired", "no channel could take the task in time");
            continue;
        }
        pthread_mutex_lock(&u->lock);
        for (int k = 0; k < set->n; k++)
            cool[k] = u->st[k].cooldown_until;
        uint32_t rnd = vg_ups_rand(u);
        pthread_mutex_unlock(&u->lock);
        bool served = false;
        int k = vg_channel_pick(set, r->model, active, cool, now, r->avoid_channel, rnd, &served);
        if (!served) {
            vg_settle_fail(s, r->task_id, "model_unavailable", "no channel serves this model");
            continue;
        }
        if (k < 0) continue; /* every channel for it is full or cooling down: later */
        const vg_channel *ch = &set->ch[k];
        if (ch->type == VG_CH_LOCAL) {
            if (vg_store_task_route_local(s, r->task_id, ch->name, now / 1000) == VG_OK) {
                active[k]++;
                u->notify_local(u->ud);
            }
            continue;
        }
        if (!vg_ups_take(u, ch, false)) continue; /* the channel's request budget is spent */
        start_attempt(u, s, set, k, r);
        active[k]++;
    }
    for (size_t i = 0; i < n; i++)
        vg_up_row_free(&rows[i]);
    free(rows);
}

/* Lease per kind: long enough for the job's calls, short enough to recover from a lost job, and
 * at most VG_UPSTREAM_JOB_LEASE_MAX_MS. A job that outlives its lease is still not planned again
 * by this node (its rows are in flight), and none of these calls creates anything upstream, so a
 * second look by another node after a crash is harmless. */
static int64_t lease_for(vg_ups_kind kind, const vg_channel *ch)
{
    long t = ch ? ch->timeout_ms : VG_UPSTREAM_TIMEOUT_MS;
    int64_t ms = 3 * (int64_t)t + 5000;
    if (kind == VG_UPS_FINALIZE) ms = 2 * VG_FETCH_TIMEOUT_MS + 10000;
    if (kind == VG_UPS_RESOLVE || kind == VG_UPS_CLEANUP)
        ms = (VG_UPSTREAM_LOOKUP_PAGES + 2) * (int64_t)t + 5000;
    return ms < VG_UPSTREAM_JOB_LEASE_MAX_MS ? ms : VG_UPSTREAM_JOB_LEASE_MAX_MS;
}

/* Queues jobs of rows[i] and the rows after it on the same channel that want[] (up to batch a
 * job), marking them taken; false when the queue or the channel's request budget said no. */
static bool plan_batch(vg_upstream *u, vg_channels *set, vg_ups_kind kind, vg_up_row *rows,
                       size_t n, size_t i, const bool *want, bool *taken, vg_store *s)
{
    size_t batch = kind == VG_UPS_POLL ? VG_UPSTREAM_POLL_BATCH : 1;
    const vg_channel *ch = vg_channels_find(set, rows[i].channel);
    int idx = ch ? (int)(ch - set->ch) : -1;
    if (vg_ups_queue_full(u) || (ch && kind != VG_UPS_FINALIZE && !vg_ups_take(u, ch, false)))
        return false;
    vg_ups_job *j = vg_ups_job_new(set, kind, idx, batch);
    for (size_t k = i; k < n && j->n < batch; k++) {
        if (taken[k] || (want && !want[k]) || strcmp(rows[k].channel, rows[i].channel)) continue;
        if (k != i && vg_inflight_has(u->busy, rows[k].task_id)) continue;
        taken[k] = true;
        j->rows[j->n++] = rows[k];
        rows[k].result = NULL; /* moved into the job */
    }
    vg_ups_enqueue(u, s, j, lease_for(kind, ch));
    return true;
}

static void free_rows(vg_up_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vg_up_row_free(&rows[i]);
    free(rows);
}

/* Groups due rows of one kind into jobs, one row each, and queues them. */
static int plan(vg_upstream *u, vg_store *s, vg_channels *set, vg_ups_kind kind, vg_due_kind due,
                int64_t due_ms)
{
    vg_up_row *rows = NULL;
    size_t n = 0;
    int planned = 0;
    if (vg_store_upstream_due(s, due, due_ms, DUE_LIMIT, &rows, &n)) return 0;
    bool *taken = vg_calloc(n ? n : 1, sizeof *taken);
    for (size_t i = 0; i < n; i++) {
        if (taken[i] || vg_inflight_has(u->busy, rows[i].task_id)) continue;
        if (plan_batch(u, set, kind, rows, n, i, NULL, taken, s)) planned++;
    }
    free_rows(rows, n);
    free(taken);
    return planned;
}

/* Opens the cycle of every upstream channel whose time has come; fills end[] with the due limit
 * of each open cycle (0: none open); returns the latest (0: none; a set without upstream channels
 * still gets now, so that tasks left on removed channels are polled, and fail over time). */
static int64_t open_cycles(vg_upstream *u, vg_channels *set, int64_t now, int64_t end[])
{
    int64_t cycle = u->env.cfg->upstream_poll_min_ms, horizon = set->any_upstream ? 0 : now;
    pthread_mutex_lock(&u->lock);
    for (int k = 0; k < set->n; k++) {
        vg_ups_chstate *c = &u->st[k]; /* parallel to u->set: only while that is still set */
        end[k] = 0;
        if (set->ch[k].type == VG_CH_LOCAL || u->set != set) continue;
        if (!c->cycle_open && now >= c->cycle_next) {
            c->cycle_open = true;
            c->cycle_end = c->cycle_next = now + cycle;
        }
        if (c->cycle_open) end[k] = c->cycle_end;
        if (end[k] > horizon) horizon = end[k];
    }
    pthread_mutex_unlock(&u->lock);
    return horizon;
}

/* Hands out the polls of the open cycles, those wanted at once (whatever the cycle), and those of
 * tasks whose channel is gone (which fail). */
static int plan_polls(vg_upstream *u, vg_store *s, vg_channels *set, int64_t now)
{
    int64_t end[VG_MAX_CHANNELS];
    int64_t horizon = open_cycles(u, set, now, end);
    vg_up_row *rows = NULL;
    size_t n = 0;
    int planned = 0;
    if (horizon < VG_UPSTREAM_POLL_AT_ONCE) horizon = VG_UPSTREAM_POLL_AT_ONCE;
    if (vg_store_upstream_due(s, VG_DUE_POLL, horizon, DUE_LIMIT, &rows, &n)) return 0;
    bool left[VG_MAX_CHANNELS];
    for (int k = 0; k < set->n; k++)
        left[k] = n == DUE_LIMIT; /* the query was cut short: more may be due */
    bool *want = vg_calloc(n ? n : 1, sizeof *want), *taken = vg_calloc(n ? n : 1, sizeof *taken);
    for (size_t i = 0; i < n; i++) {
        const vg_channel *ch = vg_channels_find(set, rows[i].channel);
        int k = ch ? (int)(ch - set->ch) : -1;
        want[i] = k < 0 || rows[i].next_poll_at <= VG_UPSTREAM_POLL_AT_ONCE ||
                  (end[k] && rows[i].next_poll_at <= end[k]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!want[i] || taken[i] || vg_inflight_has(u->busy, rows[i].task_id)) continue;
        if (plan_batch(u, set, VG_UPS_POLL, rows, n, i, want, taken, s)) {
            planned++;
            continue;
        }
        const vg_channel *ch = vg_channels_find(set, rows[i].channel);
        if (ch) left[ch - set->ch] = true;
    }
    pthread_mutex_lock(&u->lock);
    for (int k = 0; k < set->n && u->set == set; k++)
        if (end[k] && !left[k]) u->st[k].cycle_open = false;
    pthread_mutex_unlock(&u->lock);
    free_rows(rows, n);
    free(want);
    free(taken);
    return planned;
}

static void load_active(vg_store *s, vg_channels *set, int64_t *active)
{
    vg_channel_load *load = NULL;
    size_t n = 0;
    memset(active, 0, sizeof(int64_t) * VG_MAX_CHANNELS);
    if (vg_store_channel_load(s, &load, &n)) return;
    for (size_t i = 0; i < n; i++) {
        const vg_channel *c = vg_channels_find(set, load[i].channel);
        if (c) active[c - set->ch] = load[i].active;
    }
    free(load);
}

/* One round; returns whether it found work. */
static bool round_once(vg_upstream *u, vg_store *s)
{
    pthread_mutex_lock(&u->lock);
    vg_channels *set = vg_channels_ref(u->set);
    pthread_mutex_unlock(&u->lock);
    int64_t now = vg_now_ms(), active[VG_MAX_CHANNELS];
    int work = 0;
    if (!vg_channels_all_local(set)) {
        load_active(s, set, active);
        route(u, s, set, active);
    }
    work += plan(u, s, set, VG_UPS_RESOLVE, VG_DUE_RESOLVE, now);
    work += plan_polls(u, s, set, now);
    work += plan(u, s, set, VG_UPS_FINALIZE, VG_DUE_FINALIZE, now);
    work += plan(u, s, set, VG_UPS_CLEANUP, VG_DUE_CLEANUP, now);
    bool upstream = set->any_upstream;
    vg_channels_unref(set);
    return work > 0 || upstream;
}

/* This node became the leader: other nodes' schedules are due now (see the note above). */
static void take_over(vg_upstream *u, vg_store *s, int64_t now)
{
    int64_t n = 0;
    vg_store_upstream_takeover(s, now, &n);
    vg_info("upstream: node %s now plans upstream work (leader; %lld task(s) taken over)",
            u->env.cfg->node, (long long)n);
}

/* Whether this node holds the leader lease for this round: taken or renewed when half of it is
 * gone. A store that fails keeps a lease still running, and a round is skipped. */
static bool hold_lead(vg_upstream *u, vg_store *s)
{
    int64_t now = vg_now_ms();
    if (u->leader && now < u->lead_until - VG_UPSTREAM_LEADER_TTL_MS / 2) return true;
    bool held = false;
    vg_status rc = vg_store_lease_hold(s, LEADER_LEASE, now, VG_UPSTREAM_LEADER_TTL_MS, &held);
    if (rc != VG_OK) {
        if (u->leader && now >= u->lead_until) {
            u->leader = false;
            vg_metrics_gauge_add(VG_MG_UPSTREAM_LEADER, -1);
            vg_warn("upstream: node %s stops planning upstream work (lease not renewed)",
                    u->env.cfg->node);
        }
        return false;
    }
    if (held) {
        u->lead_until = now + VG_UPSTREAM_LEADER_TTL_MS;
        if (!u->leader) {
            u->leader = true;
            vg_metrics_gauge_add(VG_MG_UPSTREAM_LEADER, 1);
            take_over(u, s, now);
        }
        return true;
    }
    if (u->leader) {
        vg_info("upstream: node %s stops planning upstream work (another node holds the lease)",
                u->env.cfg->node);
        vg_metrics_gauge_add(VG_MG_UPSTREAM_LEADER, -1);
    }
    u->leader = false;
    return false;
}

void *vg_ups_sched_start(void *ud)
{
    vg_upstream *u = ud;
    vg_store *s = u->env.open_store(u->env.store_ud);
    if (!s) vg_warn("upstream: the scheduler cannot open the store");
    return s;
}

void vg_ups_sched_end(void *ud, void *state)
{
    vg_upstream *u = ud;
    /* An orderly stop: another node need not wait for the lease to expire. */
    if (u->leader && vg_store_lease_release(state, LEADER_LEASE) == VG_OK)
        vg_info("upstream: node %s gives up planning upstream work", u->env.cfg->node);
    if (u->leader) vg_metrics_gauge_add(VG_MG_UPSTREAM_LEADER, -1);
    u->leader = false;
    vg_store_close(state);
}

int vg_ups_sched_step(void *ud, void *state)
{
    if (!hold_lead(ud, state)) return ROUND_IDLE_MS;
    return round_once(ud, state) ? ROUND_BUSY_MS : ROUND_IDLE_MS;
}
