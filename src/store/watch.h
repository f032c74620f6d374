/*
 * watch.h - announces every committed task change (common/taskwatch.h) from the store itself.
 *
 * Task changes are committed by the render pool (claim, progress, complete, fail, requeue), the
 * upstream loop (upstream_update, complete, fail, cancel) and the API (cancel, the Ark callback):
 * every one of them goes through a store operation, so the one place that sees them all after
 * their commit is the operations table. vg_store_watch() gives a store connection a table whose
 * task-changing operations call the backend's, then, when it succeeded, vg_taskwatch_notify(id)
 * — after the transaction committed, never before. Everything else is the backend's own entry.
 *
 * Threads: as the store (one connection per thread); the wrapped table is built once and shared.
 */
#ifndef VG_STORE_WATCH_H
#define VG_STORE_WATCH_H
#include "store/store.h"

/** Makes s announce its committed task changes. Call once, right after opening; s may be NULL. */
void vg_store_watch(vg_store *s);

#endif
