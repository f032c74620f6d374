/*
 * defer.h - requests answered later, when work another thread does for them is finished (a
 * submit waiting for the commit of its batch, store/batch.h).
 *
 * The handler parks its request (vg_defer_park), hands the returned handle to the worker with
 * the work, and returns without replying; the loop goes on serving other connections. When the
 * work is done the worker calls vg_defer_complete(handle) (any thread, once): an h2o cross-thread
 * message takes it to the request's own loop, where fn(c, data) answers through the ctx copy.
 * If the request was torn down meanwhile (its connection closed under it), fn(NULL, data) runs
 * instead, so that data is freed all the same.
 *
 * Ownership: the handle is malloc'd and freed on the loop after fn; it holds the copy of the ctx
 * (which takes the key: c->parked is set, so the router neither logs nor frees it) and writes the
 * access-log line after fn answered. data stays the caller's: fn frees it.
 *
 * Threads: park and the callbacks run on the loop thread; complete on any. A loop that stops
 * waits (bounded) for the completions of its parked requests before it drains, so a submit whose
 * commit is under way is still answered.
 */
#ifndef VG_HTTP_DEFER_H
#define VG_HTTP_DEFER_H
#include "http/ctx.h"

/** Answers c (or, c NULL, only frees data). Runs on the request's loop. */
typedef void (*vg_defer_fn)(vg_ctx *c, void *data);

typedef struct vg_deferred vg_deferred;

/**
 * Parks c's request (not yet answered) until vg_defer_complete(). NULL when the calling thread
 * is not a loop of the server (no loop state): c is untouched and the caller answers as usual.
 */
vg_deferred *vg_defer_park(vg_ctx *c, vg_defer_fn fn, void *data);

/** The work of d is done: fn runs on d's loop soon. Any thread, exactly once per handle. */
void vg_defer_complete(vg_deferred *d);

/** Sets up the calling loop thread (server.c, at loop start). */
void vg_defer_loop_start(h2o_evloop_t *loop);
/** Runs the loop until every parked request of it was completed (bounded), then tears down. */
void vg_defer_loop_stop(void);

#endif
