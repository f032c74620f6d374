/*
 * upstream.h - the upstream loop: routes queued tasks to channels and drives the tasks that run
 * on upstream (Ark) channels from submit to a final status.
 *
 * Design (what runs where):
 *   - One node of a shared store plans: the scheduler runs rounds only while it holds the store's
 *     "upstream" lease (upstream_sched.c), so polls are batched and request budgets hold for the
 *     whole cluster; the other nodes' schedulers wait for the lease, and their workers stay idle.
 *   - One scheduler thread, with its own store connection, runs a round every 100 ms while an
 *     upstream channel is configured or the last round found work (every 500 ms otherwise), and
 *     at once whenever vg_upstream_notify() is called (a submit committed, a callback arrived, a
 *     worker finished something that is due at once). A round asks the store for each kind of
 *     due work (store/upstream.h: route, resolve, poll, finalize, cleanup), turns it into jobs and
 *     queues them; it writes only leases (next_poll_at in the future, so the next round does not
 *     hand out the same rows), routing decisions (the write-ahead attempt record of a submit, or
 *     the local channel), and failures of tasks no channel can ever take.
 *   - A pool of upstream workers (upstream_workers, each with its own store connection and HTTP
 *     client) runs the jobs in queue order: one HTTP exchange each (a list call refreshes up to
 *     VG_UPSTREAM_POLL_BATCH tasks), or a result download; then the store change. Nothing here
 *     runs on an HTTP event loop. Both the scheduler and the workers are common/pool.h pools.
 *   - What the upstream's dialect needs (how inputs travel, its execution limit, its callback
 *     URL) is the provider's business (providers/ark_provider.c); this loop hands it the task,
 *     the attempt's tokens and the process-wide vg_up_env, and acts on the class of the outcome.
 *   - Ordering: a task is in at most one job at a time (an in-flight set, on top of the lease);
 *     every store change is conditional on the status the job expected, so a cancel, a callback
 *     or a second process racing a job cannot apply anything twice.
 *   - Who frees: a job owns its rows and a reference to the channel set it was planned with; the
 *     worker that ran it frees both. The channel set is swapped on SIGHUP (vg_upstream_reload) and
 *     freed when the last job holding it ends.
 *   - Crash: nothing is kept in memory that the store does not also have. At start every upstream
 *     task is due at once (upstream_recover): dispatching without an upstream id is resolved
 *     through the list endpoint before any resubmission, running ones are re-polled, finalizing
 *     ones are downloaded again. Shutdown drops queued jobs (their leases expire; the next start
 *     makes them due) and waits for running ones, whose HTTP calls are aborted. A node that takes
 *     the leader lease over makes the other nodes' schedules due at once (upstream_takeover),
 *     except submits whose call may still be in flight.
 *
 * Policy (the README's "Channels / Ark upstream" section says the same for operators):
 *   submit outcome  unsendable (an input cannot be put into the request: an asset whose bytes are
 *                   gone, a video asset without public_url) → the task fails, refunded, and the
 *                   attempt is logged "not_sent";
 *                   definite refusal (4xx) → the task fails with the upstream code, refunded;
 *                   transient (not sent, 429, 503, bad key) → the channel cools down (Retry-After
 *                   when given) and the task goes back to routing, avoiding that channel, up to
 *                   VG_UPSTREAM_MAX_RETRIES times; ambiguous (timeout after sending, lost or
 *                   unreadable reply, 500/502/504) → the task stays dispatching and is looked up
 *                   by its per-attempt client token (safety_identifier) in the list filtered by
 *                   model; found → it continues as accepted; not found twice, 2 s apart → only
 *                   then a new attempt. Lookup errors never lead to a resubmission.
 *   polling         by cycles of upstream_poll_min_ms per channel: when a cycle opens, every task
 *                   of the channel due before the next one is refreshed, together, through the
 *                   list endpoint (filter.task_ids, VG_UPSTREAM_POLL_BATCH ids a call); tasks the
 *                   list does not name get a single GET. A task's next poll is half the time left
 *                   to the expected finish, between upstream_poll_min_ms and upstream_poll_max_ms
 *                   (every cycle until the channel has seen a task finish), and backs off on
 *                   errors. The expected run time is learned per channel from the upstream's own
 *                   created/updated times of succeeded tasks. Every call spends a token of the
 *                   channel's request budget. Poll errors never fail a task; upstream_task_ttl_s
 *                   after creation an unfinished task fails "expired".
 *   results         downloaded at once into DATA/files/<task>/ (tmp, then rename), then one
 *                   transaction completes the task and captures the real usage at the produced
 *                   tier. An expired result URL is refreshed with a GET; if the upstream no longer
 *                   offers it, the task fails "result_unavailable" (refunded).
 *   cleanup         a task that ends for us while its upstream task may still be open (cancelled
 *                   while dispatching, expired) has that upstream task cancelled.
 */
#ifndef VG_DISPATCH_UPSTREAM_H
#define VG_DISPATCH_UPSTREAM_H
#include "dispatch/channel.h"
#include "dispatch/env.h"

#include <signal.h>

typedef struct vg_upstream vg_upstream;

/* A next_poll_at that means "at once", not at the channel's next polling cycle: what a callback
 * (api/upstream.c) sets, since it says the task changed. */
#define VG_UPSTREAM_POLL_AT_ONCE 0

/**
 * Starts the scheduler and the workers with channel set `set` (the reference is taken over).
 * notify_local(ud) is called when a task was routed to the local channel. NULL with a reason.
 */
vg_upstream *vg_upstream_start(const vg_dispatch_env *env, vg_channels *set,
                               void (*notify_local)(void *ud), void *ud, char *err, size_t errlen);
/** Runs a scheduler round soon. Thread-safe; cheap. */
void vg_upstream_notify(vg_upstream *u);
/** Replaces the channel set (the reference is taken over). Thread-safe. */
void vg_upstream_reload(vg_upstream *u, vg_channels *set);
/**
 * How the local render pool should claim: the local channel's name, whether it may take tasks
 * nobody routed (true when every task can only go to the local engine), and the provider that
 * runs what it claims (the local channel's, else the channel table's for the local type).
 */
void vg_upstream_local_claim(vg_upstream *u, char name[64], bool *take_unrouted,
                             const vg_provider **provider);
/* How one channel fares, as operators see it (upstream_health.c). Counters start at zero with
 * the process and survive reloads for channels that keep their name. */
typedef struct {
    char name[64];
    const char *type;                           /* "local" or "ark" (static) */
    int priority, weight, max_active, n_models; /* n_models 0 on a local channel = every model */
    int64_t requests;                           /* upstream calls made */
    int64_t errors;      /* transient refusals (each cooled the channel down) */
    int faults;          /* consecutive transient refusals, 0 once a call succeeds */
    int64_t cooldown_ms; /* time left of the current cool-down, 0 when none */
    int64_t expected_ms; /* run time of a task: learned, or the configured guess */
    bool learned;        /* expected_ms comes from finished tasks */
} vg_upstream_health;

/** Snapshot of every channel of the current set, in configuration order, into out (at most
 *  VG_MAX_CHANNELS rows); *n is the count. Thread-safe (takes the loop's lock briefly). */
void vg_upstream_health_get(vg_upstream *u, vg_upstream_health out[VG_MAX_CHANNELS], int *n);

/** Stops everything and frees u (see the crash note above). */
void vg_upstream_stop(vg_upstream *u);

#endif
