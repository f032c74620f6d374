/*
 * taskwatch.h - "task X changed": the one place every committed task change is announced and
 * fanned out to whoever waits for that task (long-polls parked on the event loops).
 *
 * A subscriber is a callback and its user data (one per event loop); it subscribes to the task ids
 * it has waiters for. vg_taskwatch_notify() is called after a change is committed (store/watch.h
 * does it for every store operation that changes a task's status or progress) and calls the
 * callback of each subscriber of that id, on the notifying thread. The callback must be quick and
 * must not block or call back into this module: it hands the id to its own thread (http/longpoll.c
 * sends an h2o cross-thread message).
 *
 * Threads: every function is thread-safe (one mutex). Callbacks run under that mutex, so once
 * vg_taskwatch_remove() or vg_taskwatch_remove_all() returns, the subscriber's callback is not
 * running and will not run again for those ids. A notification for an id nobody watches costs one
 * atomic load. Memory: the registry owns its entries; the subscriber struct is the caller's and
 * must outlive its subscriptions.
 */
#ifndef VG_COMMON_TASKWATCH_H
#define VG_COMMON_TASKWATCH_H
#include "common/status.h"

typedef struct {
    /** Task task_id changed (a committed status or progress change). Any thread. */
    void (*changed)(void *ud, const char *task_id);
    void *ud;
} vg_taskwatch_sub;

/** Subscribes sub to task_id (ids longer than VG_TASKWATCH_ID_MAX bytes are refused: VG_ERR).
 *  Subscribing twice to one id is one subscription. */
vg_status vg_taskwatch_add(const vg_taskwatch_sub *sub, const char *task_id);
/** Ends sub's subscription to task_id (nothing when there is none). */
void vg_taskwatch_remove(const vg_taskwatch_sub *sub, const char *task_id);
/** Ends every subscription of sub. */
void vg_taskwatch_remove_all(const vg_taskwatch_sub *sub);
/** Announces that task_id changed: calls each subscriber of it. */
void vg_taskwatch_notify(const char *task_id);
/** Subscriptions held now (for tests and diagnostics). */
long vg_taskwatch_count(void);

#define VG_TASKWATCH_ID_MAX 63

#endif
