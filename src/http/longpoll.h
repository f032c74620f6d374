/*
 * longpoll.h - requests parked on their event loop until a task changes (GET …?wait=N).
 *
 * A handler that cannot answer yet parks its request: the waiter stays on the loop that received
 * it (no thread, no blocking), and its callback runs on that loop when
 *  - the task changed: a commit announced through common/taskwatch.h reached this loop as an h2o
 *    cross-thread message (the committing thread never touches a waiter);
 *  - its time ran out (an h2o timer, one per distinct wait);
 *  - the server stops (every waiter is answered before the connections drain).
 * The callback answers through the ctx (vg_reply_json …) and returns true, or returns false to
 * stay parked (only for VG_WAIT_CHANGED: the change was not one the caller waits for).
 *
 * A client that disconnects is noticed at once (the server reads the parked connection): its waiter
 * is unlinked and the request ended with a 499 nobody reads, so h2o closes the connection and frees
 * the request, and with it the waiter (it lives in the request's pool).
 *
 * Ownership: vg_longpoll_park() copies the ctx (and takes its key) into the request's pool and sets
 * c->parked, so the router neither logs nor frees it; the waiter writes the access-log line when
 * it answers. Each callback gets a ctx rebuilt from that copy for the call: it must not keep its
 * address nor replace its key. Threads: everything here runs on loop threads, each with its own
 * waiters; only the taskwatch callback (sending the message) runs on the committing thread.
 */
#ifndef VG_HTTP_LONGPOLL_H
#define VG_HTTP_LONGPOLL_H
#include "common/status.h"
#include "http/ctx.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    VG_WAIT_CHANGED, /* the task changed (or the first check right after parking) */
    VG_WAIT_TIMEOUT, /* the wait is over: answer with the current object */
    VG_WAIT_STOP,    /* the server stops: answer with the current object */
} vg_wait_event;

/** Runs on the waiter's loop with its (parked) ctx and its data. Returns true once it replied. */
typedef bool (*vg_waiter_fn)(vg_ctx *c, void *data, vg_wait_event ev);

/**
 * Parks c's request (not yet answered) for up to wait_s seconds (1..VG_MAX_WAIT_S) on task_id,
 * with a copy of data_len bytes of data for fn. Subscribes first, then calls fn(VG_WAIT_CHANGED)
 * once, so a change committed before the subscription is not missed (fn may answer right away).
 * VG_OK: the request belongs to the waiter now (c->parked). VG_ERR: not parked (no loop state,
 * an id too long); c is untouched and the caller answers as usual.
 */
vg_status vg_longpoll_park(vg_ctx *c, const char *task_id, int wait_s, vg_waiter_fn fn,
                           const void *data, size_t data_len);

/** Sets up the calling loop thread: its message receiver and timers (server.c, at loop start). */
void vg_longpoll_loop_start(h2o_evloop_t *loop);
/** Answers every waiter of the calling loop (VG_WAIT_STOP), then tears its state down. */
void vg_longpoll_loop_stop(void);

/**
 * What the callbacks of one wake share: when a change of a task reaches a loop, the callbacks of
 * all its waiters there run one after another, and the first that reads the task may leave what
 * it read (and rendered) here for the others, so a change costs one read per task per loop, not
 * one per waiter. The slot starts empty (data NULL) for each task id and each wake; after the
 * last callback of that wake, free_fn(data) is called. Outside a VG_WAIT_CHANGED wake (the first
 * check, timeouts, stop) the slot lives for one callback only. What is left here must be valid
 * for every waiter of the id on this loop, whoever its caller: keep the caller's identity in it.
 */
typedef struct {
    void *data;
    void (*free_fn)(void *data);
} vg_wait_shared;

/** The current wake's shared slot on the calling loop: inside a waiter callback only (else NULL).
 */
vg_wait_shared *vg_longpoll_shared(void);

/** Waiters parked on the calling loop (for diagnostics). */
size_t vg_longpoll_parked(void);

#endif
