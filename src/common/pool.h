/*
 * pool.h - a fixed set of worker threads that share one job source: the one claim loop behind
 * the render pool (dispatch/dispatcher.c), the asset workers (assets/worker.c), and the upstream
 * scheduler and workers (dispatch/upstream.c).
 *
 * Each thread first asks thread_start() for its own state (a store connection, an HTTP client,
 * ...); NULL means it cannot work, and the thread ends at once (thread_start logs why). Then it
 * loops: step() looks for one unit of work (a store claim, a pop from an in-memory queue, a
 * scheduler round) and runs it; its return value says how long to wait before the next step: 0 =
 * step again at once (there may be more), n > 0 = wait up to n ms for vg_pool_notify(). Every
 * notification wakes one waiting thread, and one sent while every thread is busy is kept (up to
 * one per thread, see common/wake.h), so work committed while all are busy is not left waiting
 * for the timeout. Finally thread_end() frees the state on the thread that made it.
 *
 * Shutdown: vg_pool_stop() sets the stop flag, wakes every thread and joins them; a step in
 * progress finishes first (a long step watches vg_pool_stopping() to cut itself short), and no
 * step starts once the flag is set. Jobs a step source still holds are the source's to free.
 *
 * Thread-safety: vg_pool_notify() and vg_pool_stopping() may be called from any thread at any
 * time between vg_pool_new() and vg_pool_stop(); the others by the owner only.
 */
#ifndef VG_POOL_H
#define VG_POOL_H
#include <stdbool.h>

typedef struct {
    const char *name; /* for log lines: "render", "assets", ... */
    int threads;      /* how many (at least 1) */
    void *ud;         /* passed to every callback */
    /** Per-thread state; NULL = this thread cannot work and ends. NULL callback = no state. */
    void *(*thread_start)(void *ud);
    /** Frees what thread_start made (called on the same thread). May be NULL. */
    void (*thread_end)(void *ud, void *state);
    /** Runs at most one unit of work; returns 0 to step again at once, else the ms to wait. */
    int (*step)(void *ud, void *state);
} vg_pool_def;

typedef struct vg_pool vg_pool;

/** A pool with no thread running yet (notifications sent before the start are kept). */
vg_pool *vg_pool_new(const vg_pool_def *def);
/** Starts the threads; returns how many started (an error is logged for the others). */
int vg_pool_start(vg_pool *p);
/** Wakes one idle thread (work was committed). Thread-safe; cheap. */
void vg_pool_notify(vg_pool *p);
/** Whether vg_pool_stop() has begun: long steps check it to stop early. Thread-safe. */
bool vg_pool_stopping(vg_pool *p);
/** Stops and joins every thread (see the note above), then frees p. NULL is a no-op. */
void vg_pool_stop(vg_pool *p);

#endif
