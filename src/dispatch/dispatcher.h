/*
 * dispatcher.h - moves tasks from queued to a final status.
 *
 * Design: a fixed pool of worker threads, each with its own store connection. A worker claims the
 * oldest queued task (an atomic UPDATE … RETURNING: two workers, or two processes on one database,
 * never get the same task), runs its provider with a lease that progress reports extend, moves the
 * result files into place, then commits completion (status + usage + capture + release) in one
 * transaction. Files are moved before the commit, so a committed "completed" always has its files;
 * a crash between the two leaves files that the retried render replaces.
 *
 * Wake-up: vg_dispatch_notify() after a submit commits; otherwise workers poll every second.
 * Crash recovery: at start every task left `running` by a previous process is re-queued (the store
 * is single-node SQLite; a shared store would use lease expiry instead), and renders restart.
 * Shutdown: vg_dispatch_stop() makes running renders abort at their next progress report and puts
 * their tasks back in the queue, so nothing is lost on SIGTERM either.
 * A task interrupted more than VG_MAX_TASK_ATTEMPTS times is failed (a poison input must not loop).
 */
#ifndef VG_DISPATCHER_H
#define VG_DISPATCHER_H
#include "api/app.h"
#include "store/store.h"

typedef struct vg_dispatch vg_dispatch;

/** Re-queues orphaned tasks and starts `workers` threads. NULL with a reason on failure. */
vg_dispatch *vg_dispatch_start(const vg_app *app, int workers, vg_store *(*open_store)(void *app),
                               char *err, size_t errlen);
/** Wakes an idle worker (a task was queued). Thread-safe; cheap. */
void vg_dispatch_notify(vg_dispatch *d);
/** Stops the workers (interrupting renders, re-queueing their tasks) and frees d. */
void vg_dispatch_stop(vg_dispatch *d);

#endif
