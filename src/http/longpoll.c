/*
 * longpoll.c - see longpoll.h.
 *
 * Per loop (thread-local): a hash of its waiters by task id (chains of h2o link lists), one h2o
 * timer list per wait length in seconds (initialised on first use), one cross-thread message queue
 * with one receiver, and one taskwatch subscriber. The loop subscribes to an id when it parks its
 * first waiter of it and unsubscribes when its last one leaves.
 *
 * Who wakes whom: a thread commits a task change → store/watch.c → vg_taskwatch_notify(id) →
 * on_changed() on that thread allocates a message carrying the id and sends it to the loop's
 * receiver (h2o writes to the queue's pipe, which wakes the loop) → on_messages() on the loop
 * calls each waiter of that id, once per id in a batch of messages, the callbacks sharing one slot
 * (vg_longpoll_shared(): one read of the task for all its waiters on the loop). Messages in
 * flight are counted so that stopping a loop waits for them before it unregisters the receiver
 * (h2o asserts that none is pending).
 *
 * A waiter lives in its request's pool (in the first chunk when it fits, else on the heap), with a
 * small handle allocated by h2o_mem_alloc_shared whose dispose callback unlinks a waiter still
 * parked (and frees one on the heap): whatever ends the request also frees the waiter. Once the
 * waiter is written, and before anything links to it, the request's bytes and then its whole pool
 * (the waiter with it) are moved into blocks of their size (http/reqbuf.h, http/reqpool.h): a
 * parked request then holds about 1 KiB of pool instead of a 4 KiB chunk.
 */
#include "http/longpoll.h"
#include "http/reqpool.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/taskwatch.h"
#include "http/router.h"
#include "http/server.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

typedef enum { W_PARKED, W_DONE } waiter_state;

/* The parked ctx is kept without its fixed-size arrays (request id, path parameters: pool
 * strings here) and rebuilt on the stack for each callback, so that a waiter fits in what is left
 * of its request's first pool chunk instead of costing an allocation of its own. */
typedef struct waiter {
    h2o_linklist_t link; /* in its bucket */
    h2o_timeout_entry_t timer;
    struct loop_state *loop;
    waiter_state state;
    bool on_heap; /* did not fit in the pool chunk: freed with the request */
    vg_waiter_fn fn;
    h2o_req_t *req;
    void *app;
    vg_store *store;
    const vg_route *route;
    vg_key key; /* owned */
    int64_t start_ms, start_us;
    int nparams;
    const char *params[3]; /* in the request's pool */
    const char *request_id;
    char task_id[VG_TASKWATCH_ID_MAX + 1];
    size_t data_len;
    _Alignas(max_align_t) unsigned char data[];
} waiter;

typedef struct {
    h2o_multithread_message_t super;
    char task_id[VG_TASKWATCH_ID_MAX + 1];
} change_msg;

typedef struct loop_state {
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    vg_taskwatch_sub sub;
    atomic_long in_flight; /* messages sent and not yet received */
    h2o_timeout_t timeouts[VG_MAX_WAIT_S + 1];
    bool timeout_ready[VG_MAX_WAIT_S + 1];
    size_t n_waiters;
    vg_wait_shared *shared; /* the slot of the wake running now, or NULL */
    h2o_linklist_t buckets[BUCKETS];
} loop_state;

static _Thread_local loop_state *lp;

static h2o_linklist_t *bucket_of(loop_state *l, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &l->buckets[h % BUCKETS];
}

/* ---- the committing thread ------------------------------------------------------------------ */

static void on_changed(void *ud, const char *task_id)
{
    loop_state *l = ud;
    change_msg *m = vg_calloc(1, sizeof *m);
    snprintf(m->task_id, sizeof m->task_id, "%s", task_id);
    atomic_fetch_add(&l->in_flight, 1);
    h2o_multithread_send_message(&l->receiver, &m->super);
}

/* ---- the loop thread ------------------------------------------------------------------------ */

static bool others_wait_for(loop_state *l, const waiter *w)
{
    h2o_linklist_t *anchor = bucket_of(l, w->task_id);
    for (h2o_linklist_t *n = anchor->next; n != anchor; n = n->next) {
        waiter *o = H2O_STRUCT_FROM_MEMBER(waiter, link, n);
        if (o != w && !strcmp(o->task_id, w->task_id)) return true;
    }
    return false;
}

/* Takes w off every list; it answers (or is gone) next. */
static void unlink_waiter(waiter *w)
{
    loop_state *l = w->loop;
    w->state = W_DONE;
    if (h2o_timeout_is_linked(&w->timer)) h2o_timeout_unlink(&w->timer);
    if (!others_wait_for(l, w)) vg_taskwatch_remove(&l->sub, w->task_id);
    h2o_linklist_unlink(&w->link);
    l->n_waiters--;
    vg_metrics_gauge_add(VG_MG_LONGPOLLS, -1);
    vg_server_unwatch_client(w->req);
}

/* The ctx the handler parked, rebuilt for a callback (the key stays w's). */
static void ctx_of(const waiter *w, vg_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->req = w->req;
    c->app = w->app;
    c->store = w->store;
    c->route = w->route;
    c->key = w->key;
    snprintf(c->request_id, sizeof c->request_id, "%s", w->request_id);
    c->nparams = w->nparams;
    for (int i = 0; i < w->nparams; i++)
        snprintf(c->params[i], sizeof c->params[i], "%s", w->params[i]);
    c->start_ms = w->start_ms;
    c->start_us = w->start_us;
    c->parked = true;
}

/* After the callback replied: the access-log line, and the key the waiter owns. */
static void finish(waiter *w, vg_ctx *c)
{
    vg_router_log_access(c);
    vg_key_free(&w->key);
}

static void shared_release(vg_wait_shared *s)
{
    if (s->data && s->free_fn) s->free_fn(s->data);
    s->data = NULL;
    s->free_fn = NULL;
}

static void run_one(waiter *w, vg_wait_event ev);

/* Calls w's callback; an answered waiter is unlinked and finished. Outside a wake its callback
 * gets a slot of its own (vg_longpoll_shared()). */
static void run(waiter *w, vg_wait_event ev)
{
    loop_state *l = w->loop;
    if (l->shared) {
        run_one(w, ev);
        return;
    }
    vg_wait_shared slot = {0};
    l->shared = &slot;
    run_one(w, ev);
    l->shared = NULL;
    shared_release(&slot);
}

static void run_one(waiter *w, vg_wait_event ev)
{
    if (w->state != W_PARKED) return;
    if (ev != VG_WAIT_CHANGED) {
        /* it must answer now: stop watching before the reply goes out */
        unlink_waiter(w);
        vg_ctx c;
        ctx_of(w, &c);
        if (!w->fn(&c, w->data, ev)) vg_reply_internal(&c);
        finish(w, &c);
        return;
    }
    vg_ctx c;
    ctx_of(w, &c);
    if (!w->fn(&c, w->data, ev)) return;
    unlink_waiter(w); /* the reply is only queued: nothing is written before the loop turns */
    finish(w, &c);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    run(H2O_STRUCT_FROM_MEMBER(waiter, timer, entry), VG_WAIT_TIMEOUT);
}

/* The client hung up: end the request so h2o closes the connection and frees it (and w). */
static void on_gone(void *ud)
{
    waiter *w = ud;
    if (w->state != W_PARKED) return;
    unlink_waiter(w);
    vg_ctx c;
    ctx_of(w, &c);
    h2o_req_t *req = w->req;
    req->http1_is_persistent = 0;
    req->res.status = 499;
    req->res.reason = "Client Closed Request";
    h2o_send_inline(req, "", 0);
    finish(w, &c);
}

/* The request ended (its pool is being cleared: a waiter in it is still there). One that had no
 * answer from us (its connection was torn down) is unlinked. */
static void on_dispose(void *p)
{
    waiter *w = *(waiter **)p;
    if (w->state == W_PARKED) {
        unlink_waiter(w);
        vg_key_free(&w->key);
    }
    if (w->on_heap) free(w);
}

/* A waiter for req with room for data_len bytes of data and the strings (their total strings
 * bytes): in the request's first pool chunk when it fits there, else on the heap. A small
 * handle in the pool disposes of it with the request. */
static waiter *waiter_new(h2o_req_t *req, size_t data_len, size_t strings, waiter ***handle_out)
{
    h2o_mem_pool_t *pool = &req->pool;
    size_t need = sizeof(waiter) + data_len + strings + 2 * _Alignof(max_align_t);
    bool in_chunk = vg_reqpool_fits(pool, need);
    waiter **handle = h2o_mem_alloc_shared(pool, sizeof *handle, on_dispose);
    waiter *w = in_chunk ? h2o_mem_alloc_pool(pool, sizeof(waiter) + data_len)
                         : vg_calloc(1, sizeof(waiter) + data_len);
    memset(w, 0, sizeof *w);
    w->on_heap = !in_chunk;
    *handle = w;
    *handle_out = handle;
    return w;
}

/* Moves the request's bytes and its pool, with w in it, into blocks of their size (see the file
 * comment). Returns w where it is now. Nothing links to w yet, and the handle (a shared block of
 * this request only) is rewritten with the pool; it is set again for clarity. */
static waiter *compact(h2o_req_t *req, waiter *w, waiter **handle)
{
    vg_server_release_input(req);
    vg_reqpool_move m;
    if (w->on_heap || !vg_reqpool_compact(req, &m)) return w;
    w = vg_reqpool_moved(&m, w);
    *handle = w;
    return w;
}

static const char *pool_str(h2o_req_t *req, const char *s)
{
    return h2o_strdup(&req->pool, s, SIZE_MAX).base;
}

/* One wake of the waiters of task_id: they share one slot (one read of the task for all). */
static void wake_waiters_of(loop_state *l, const char *task_id)
{
    h2o_linklist_t *anchor = bucket_of(l, task_id);
    h2o_linklist_t *n = anchor->next;
    vg_wait_shared slot = {0};
    vg_wait_shared *outer = l->shared;
    l->shared = &slot;
    /* A callback may unlink its own waiter (it answered), never another: keep the next first. */
    while (n != anchor) {
        h2o_linklist_t *next = n->next;
        waiter *w = H2O_STRUCT_FROM_MEMBER(waiter, link, n);
        if (!strcmp(w->task_id, task_id)) run_one(w, VG_WAIT_CHANGED);
        n = next;
    }
    l->shared = outer;
    shared_release(&slot);
}

/* Drops the messages after first that carry its id: one wake reads the task after all of them
 * were committed, so it sees every change they announce. Looks only so far ahead: a repeat beyond
 * that costs one more wake, not a quadratic scan of a long batch. */
#define REPEAT_LOOKAHEAD 256

static void drop_repeats(loop_state *l, h2o_linklist_t *messages, const change_msg *first)
{
    h2o_linklist_t *n = first->super.link.next;
    for (int seen = 0; n != messages && seen < REPEAT_LOOKAHEAD; seen++) {
        h2o_linklist_t *next = n->next;
        change_msg *m = H2O_STRUCT_FROM_MEMBER(change_msg, super.link, n);
        if (!strcmp(m->task_id, first->task_id)) {
            h2o_linklist_unlink(n);
            free(m);
            atomic_fetch_sub(&l->in_flight, 1);
        }
        n = next;
    }
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    loop_state *l = H2O_STRUCT_FROM_MEMBER(loop_state, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        change_msg *m = H2O_STRUCT_FROM_MEMBER(change_msg, super.link, messages->next);
        drop_repeats(l, messages, m);
        h2o_linklist_unlink(&m->super.link);
        wake_waiters_of(l, m->task_id);
        free(m);
        atomic_fetch_sub(&l->in_flight, 1);
    }
}

vg_status vg_longpoll_park(vg_ctx *c, const char *task_id, int wait_s, vg_waiter_fn fn,
                           const void *data, size_t data_len)
{
    loop_state *l = lp;
    if (!l || wait_s < 1 || wait_s > VG_MAX_WAIT_S || strlen(task_id) > VG_TASKWATCH_ID_MAX)
        return VG_ERR;
    if (vg_taskwatch_add(&l->sub, task_id) != VG_OK) return VG_ERR;
    size_t strings = strlen(c->request_id) + 1;
    for (int i = 0; i < c->nparams; i++)
        strings += strlen(c->params[i]) + 1;
    waiter **handle;
    waiter *w = waiter_new(c->req, data_len, strings, &handle);
    w->loop = l;
    w->state = W_PARKED;
    w->req = c->req;
    w->app = c->app;
    w->store = c->store;
    w->route = c->route;
    w->key = c->key;
    w->start_ms = c->start_ms;
    w->start_us = c->start_us;
    w->request_id = pool_str(c->req, c->request_id);
    w->nparams = c->nparams < 3 ? c->nparams : 3;
    for (int i = 0; i < w->nparams; i++)
        w->params[i] = pool_str(c->req, c->params[i]);
    w->fn = fn;
    snprintf(w->task_id, sizeof w->task_id, "%s", task_id);
    w->data_len = data_len;
    if (data_len) memcpy(w->data, data, data_len);
    w = compact(c->req, w, handle);
    c->parked = true; /* the key now belongs to w */
    h2o_linklist_insert(bucket_of(l, task_id), &w->link);
    l->n_waiters++;
    vg_metrics_gauge_add(VG_MG_LONGPOLLS, 1);
    if (!l->timeout_ready[wait_s]) {
        h2o_timeout_init(l->loop, &l->timeouts[wait_s], (uint64_t)wait_s * 1000);
        l->timeout_ready[wait_s] = true;
    }
    w->timer.cb = on_timeout;
    h2o_timeout_link(l->loop, &l->timeouts[wait_s], &w->timer);
    /* Without a watch (not a connection of ours) the waiter still ends by change or time. */
    vg_server_watch_client(c->req, on_gone, w);
    run(w, VG_WAIT_CHANGED);
    return VG_OK;
}

void vg_longpoll_loop_start(h2o_evloop_t *loop)
{
    loop_state *l = vg_calloc(1, sizeof *l);
    l->loop = loop;
    l->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(l->queue, &l->receiver, on_messages);
    l->sub.changed = on_changed;
    l->sub.ud = l;
    for (size_t i = 0; i < BUCKETS; i++)
        h2o_linklist_init_anchor(&l->buckets[i]);
    lp = l;
}

#define STOP_DRAIN_MS 1000

void vg_longpoll_loop_stop(void)
{
    loop_state *l = lp;
    if (!l) return;
    size_t answered = l->n_waiters;
    for (size_t i = 0; i < BUCKETS; i++)
        while (!h2o_linklist_is_empty(&l->buckets[i]))
            run(H2O_STRUCT_FROM_MEMBER(waiter, link, l->buckets[i].next), VG_WAIT_STOP);
    if (answered) vg_info("shutdown: answered %zu waiting request(s)", answered);
    /* No new messages after this; the ones in flight are received before the receiver goes. */
    vg_taskwatch_remove_all(&l->sub);
    for (int i = 0; i < STOP_DRAIN_MS / 10 && atomic_load(&l->in_flight) > 0; i++)
        h2o_evloop_run(l->loop, 10);
    if (atomic_load(&l->in_flight) > 0) {
        /* h2o cannot unregister a receiver with pending messages: leave them to the exit. */
        vg_warn("shutdown: long-poll messages still pending");
        lp = NULL;
        return;
    }
    h2o_multithread_unregister_receiver(l->queue, &l->receiver);
    h2o_multithread_destroy_queue(l->queue);
    for (int s = 0; s <= VG_MAX_WAIT_S; s++)
        if (l->timeout_ready[s]) h2o_timeout_dispose(l->loop, &l->timeouts[s]);
    lp = NULL;
    free(l);
}

vg_wait_shared *vg_longpoll_shared(void)
{
    return lp ? lp->shared : NULL;
}

size_t vg_longpoll_parked(void)
{
    return lp ? lp->n_waiters : 0;
}
