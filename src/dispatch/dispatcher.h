/*
 * dispatcher.h - moves tasks from queued to a final status, on the local engine or through an
 * upstream channel.
 *
 * Two halves. The upstream loop (dispatch/upstream.h: one scheduler thread and a pool of upstream
 * workers) routes queued tasks to channels (dispatch/channel.h) and drives the tasks of upstream
 * channels; the render pool below runs the tasks routed to the local engine. With the default
 * configuration (one local channel) the render pool takes every queued task itself, as before
 * channels existed; test-mode tasks always go to the render pool.
 *
 * Render pool: a fixed pool of worker threads (common/pool.h), each with its own store
 * connection. A worker claims the oldest queued task meant for the local engine (an atomic
 * UPDATE … RETURNING: two workers, or two processes on one database, never get the same task),
 * runs it on the local channel's provider (through the channel table, like every provider) with a
 * lease that the lease keeper (renew.h) renews every third of task_lease_s, moves the result files
 * into place, then commits completion
 * (status + usage + capture + release) in one transaction. Files are moved before the commit, so
 * a committed "completed" always has its files; a crash between the two leaves files that the
 * retried render replaces. An idle worker also sweeps expired results (retention).
 *
 * Wake-up: vg_dispatch_notify() after a submit commits (or a callback arrives), and the upstream
 * scheduler when it routes a task to the local channel; otherwise idle workers look every second.
 * Crash recovery: at start every task left `running` by a dead process (this node's previous life,
 * store.h) is re-queued, and renders restart; while running, idle workers re-queue tasks whose
 * lease expired (another node died), so some node renders them again within about a lease.
 * Shutdown: vg_dispatch_stop() makes running renders abort at their next progress report and puts
 * their tasks back in the queue, so nothing is lost on SIGTERM either.
 * A task interrupted more than VG_MAX_TASK_ATTEMPTS times is failed (a poison input must not loop).
 */
#ifndef VG_DISPATCHER_H
#define VG_DISPATCHER_H
#include "dispatch/channel.h"
#include "dispatch/env.h"

#include <signal.h>

typedef struct vg_dispatch vg_dispatch;

/** Builds the channel set from env->cfg->channels, re-queues orphaned local tasks, makes every
 *  upstream task due, and starts the upstream loop and `workers` render threads. env is copied
 *  (its strings are borrowed). NULL with a reason on failure (an invalid channel configuration
 *  among them). */
vg_dispatch *vg_dispatch_start(const vg_dispatch_env *env, int workers, char *err, size_t errlen);
/** Wakes an idle worker and the upstream scheduler (a task was queued, a callback arrived).
 *  Thread-safe; cheap. */
void vg_dispatch_notify(vg_dispatch *d);
/** Swaps in a new channel set (a reload; built with vg_channels_build_for), taking its reference.
 *  Work in flight keeps the set it started with. Thread-safe. */
void vg_dispatch_reload_channels(vg_dispatch *d, vg_channels *set);
/** The upstream loop (for read-only views such as vg_upstream_health); lives as long as d. */
struct vg_upstream *vg_dispatch_upstream(vg_dispatch *d);
/** Stops the workers (interrupting renders, re-queueing their tasks) and frees d. */
void vg_dispatch_stop(vg_dispatch *d);

#endif
