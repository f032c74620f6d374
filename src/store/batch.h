/*
 * batch.h - group commit of task creations: one writer thread per process takes the submits of
 * every event loop and commits them together, one transaction (one fsync) for all the tasks that
 * arrived while the previous commit was being made durable.
 *
 * Why: a durable submit costs one fsync; made one at a time on the event loops, every loop waits
 * for its own fsync (the loop blocks) and for the other writers' (the database's one write lock),
 * so submits are bounded by the disk's flush rate whatever the cores. Batched, the cost of a flush
 * is shared by every submit waiting for it, and the loops never block on one.
 *
 * How: vg_store_batch_submit() links a job into a queue (any thread, never blocks on the disk);
 * the writer takes everything queued (up to VG_MAX_SUBMIT_BATCH), runs it through the store's
 * task_create_batch (each creation exactly as alone: a refused one leaves the others alone),
 * then, after the COMMIT returned, calls committed() once when some task was created and
 * each job's done() in queue order. There is no wait to fill a batch: a commit starts as soon as
 * there is work, and what arrives meanwhile forms the next one, so a lone submit costs what it
 * cost before and a crowd shares flushes.
 *
 * Durability: done() runs only after the commit (synchronous=FULL: fsynced), so a reply sent
 * from it is a promise kept across kill -9; a job whose transaction failed gets the failure.
 *
 * Optional per backend: vg_store_batch_start() returns NULL for a store whose backend has no
 * task_create_batch (it commits cheaply alone); callers then call vg_store_task_create() on their
 * own connection as before.
 *
 * Ownership and threads: the batch owns the store connection it was started with (closed by
 * vg_store_batch_stop(), used only by the writer thread). A job belongs to the caller; it must
 * stay valid until its done() ran, which happens on the writer thread exactly once, and must be
 * quick (hand the result to the job's own thread; never block). vg_store_batch_stop() finishes
 * every job queued before it, then joins the writer; no submit may follow it.
 */
#ifndef VG_STORE_BATCH_H
#define VG_STORE_BATCH_H
#include "store/store.h"

typedef struct vg_store_batch vg_store_batch;

/** One task creation waiting for its commit. */
typedef struct vg_batch_job {
    vg_task_create_req req; /* in: t, max_active, idem (all valid until done); out: rc */
    void (*done)(struct vg_batch_job *j);
    struct vg_batch_job *next; /* the queue's */
} vg_batch_job;

/**
 * Starts the writer on s. committed(ud) (may be NULL) runs on the writer after each commit that
 * created at least one task (to wake whoever takes tasks from the store). NULL when s's backend
 * does not batch (s is left to the caller) or the thread cannot start (s is closed).
 */
vg_store_batch *vg_store_batch_start(vg_store *s, void (*committed)(void *ud), void *ud);

/** Queues j for the next commit (any thread). */
void vg_store_batch_submit(vg_store_batch *b, vg_batch_job *j);

/** Commits what is queued, stops the writer, closes its store. b may be NULL. */
void vg_store_batch_stop(vg_store_batch *b);

#endif
