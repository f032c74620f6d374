/*
 * renew.h - keeps the leases of the renders this node runs (dispatcher.c): one thread with its
 * own store connection renews every registered claim every third of the lease, whatever the
 * render does — a render that reports no progress for a while, and the publishing of its result
 * (an upload to a bucket can take long), keep their lease the same way. Renewing from the render's
 * progress callback alone would miss both.
 *
 * A renewal is conditional on the claim (store.h task_progress: this node, the same attempt).
 * When it finds the claim gone (the lease expired and another node, or this one, claimed the task
 * again), the claim is marked lost: the render stops at its next progress report and the worker
 * neither publishes nor settles it. A store that cannot be reached for a whole lease marks it lost
 * too: after that long another node may have taken the task.
 *
 * Threads: vg_renew_add/remove/lost/confirm are called by the render workers, each for its own
 * slot; the renewer thread walks the slots under the keeper's lock (no store call under it).
 */
#ifndef VG_DISPATCH_RENEW_H
#define VG_DISPATCH_RENEW_H
#include "dispatch/env.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct vg_renew vg_renew;

/** A keeper of up to `slots` claims with leases of lease_ms; its thread starts at once. NULL when
 *  the thread cannot start (logged). */
vg_renew *vg_renew_start(const vg_dispatch_env *env, int slots, int64_t lease_ms);
/** Registers the claim of task_id numbered attempt, leased at claimed_ms; returns its slot (-1
 *  when every slot is taken, which a pool of `slots` workers never makes happen). */
int vg_renew_add(vg_renew *k, const char *task_id, int attempt, int64_t claimed_ms);
/** Whether the slot's claim is known lost. -1 is never lost. */
bool vg_renew_lost(vg_renew *k, int slot);
/** Renews the slot's lease now on the caller's connection s (before the result is committed, so
 *  that the commit happens well within a lease this node holds); false when the claim is known
 *  lost (then nothing of the task may be written). */
bool vg_renew_confirm(vg_renew *k, int slot, vg_store *s);
/** Forgets the slot's claim (the task was settled or given up). */
void vg_renew_remove(vg_renew *k, int slot);
/** Stops the thread and frees the keeper (after the render workers stopped). NULL is a no-op. */
void vg_renew_stop(vg_renew *k);

#endif
