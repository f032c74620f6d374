/*
 * defer.c - see defer.h.
 *
 * Per loop (thread-local): one cross-thread message queue with one receiver, and the count of
 * requests parked and not yet completed. The handle is the message itself, so completing costs
 * no allocation. The request's pool holds a back pointer to the handle with a dispose callback:
 * a request torn down before its completion marks the handle gone (both happen on the loop, so
 * no lock), and a completed one clears the pointer before answering, so the later dispose of the
 * request never touches a freed handle.
 */
#include "http/defer.h"

#include "common/alloc.h"
#include "common/log.h"
#include "http/router.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct vg_deferred {
    h2o_multithread_message_t super;
    struct loop_state *loop;
    vg_ctx ctx; /* the parked copy: owns the key */
    vg_defer_fn fn;
    void *data;
    vg_deferred **back; /* in the request's pool; NULL once gone */
    bool gone;          /* the request ended before the completion */
};

typedef struct loop_state {
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    atomic_long parked; /* parked and not yet received back */
} loop_state;

static _Thread_local loop_state *dp;

static void on_dispose(void *p)
{
    vg_deferred *d = *(vg_deferred **)p;
    if (!d) return;
    d->gone = true;
    d->back = NULL;
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    loop_state *l = H2O_STRUCT_FROM_MEMBER(loop_state, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        vg_deferred *d = H2O_STRUCT_FROM_MEMBER(vg_deferred, super.link, messages->next);
        h2o_linklist_unlink(&d->super.link);
        if (d->gone) {
            d->fn(NULL, d->data);
        } else {
            *d->back = NULL; /* the request's dispose must not find d after this */
            d->fn(&d->ctx, d->data);
            vg_router_log_access(&d->ctx);
        }
        vg_key_free(&d->ctx.key);
        free(d);
        atomic_fetch_sub(&l->parked, 1);
    }
}

vg_deferred *vg_defer_park(vg_ctx *c, vg_defer_fn fn, void *data)
{
    loop_state *l = dp;
    if (!l) return NULL;
    vg_deferred *d = vg_calloc(1, sizeof *d);
    d->loop = l;
    d->ctx = *c;
    d->fn = fn;
    d->data = data;
    d->back = h2o_mem_alloc_shared(&c->req->pool, sizeof *d->back, on_dispose);
    *d->back = d;
    c->parked = true; /* the key now belongs to d->ctx */
    atomic_fetch_add(&l->parked, 1);
    return d;
}

void vg_defer_complete(vg_deferred *d)
{
    h2o_multithread_send_message(&d->loop->receiver, &d->super);
}

void vg_defer_loop_start(h2o_evloop_t *loop)
{
    loop_state *l = vg_calloc(1, sizeof *l);
    l->loop = loop;
    l->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(l->queue, &l->receiver, on_messages);
    dp = l;
}

/* Longer than a writer can wait for the database lock (busy_timeout) plus a commit. */
#define STOP_DRAIN_MS 15000

void vg_defer_loop_stop(void)
{
    loop_state *l = dp;
    if (!l) return;
    for (int i = 0; i < STOP_DRAIN_MS / 10 && atomic_load(&l->parked) > 0; i++)
        h2o_evloop_run(l->loop, 10);
    dp = NULL;
    if (atomic_load(&l->parked) > 0) {
        /* h2o cannot unregister a receiver with pending messages: leave them to the exit. */
        vg_warn("shutdown: %ld deferred request(s) still pending", atomic_load(&l->parked));
        return;
    }
    h2o_multithread_unregister_receiver(l->queue, &l->receiver);
    h2o_multithread_destroy_queue(l->queue);
    free(l);
}
