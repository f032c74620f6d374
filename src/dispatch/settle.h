/*
 * settle.h - what both halves of the dispatcher (the render pool and the upstream workers) do
 * when a task's run ends: read the task's stored spec, move its result files into place, record
 * a failure. Each function runs on the caller's thread with the caller's store connection.
 */
#ifndef VG_DISPATCH_SETTLE_H
#define VG_DISPATCH_SETTLE_H
#include "core/task.h"
#include "store/store.h"

/** The spec stored with t (t->params). VG_OK, or VG_ERR when unreadable; free *spec either way. */
int vg_settle_read_spec(const vg_task *t, vg_task_spec *spec);

/**
 * Moves the directory tmp to files_dir/<task_id>, replacing what an earlier attempt that crashed
 * between its move and its commit left there, and flushes files_dir. 0, or -1 with errno.
 */
int vg_settle_publish(const char *files_dir, const char *tmp, const char *task_id);

/** Fails task_id with code and msg (conditional on it not being final) and logs the outcome. */
void vg_settle_fail(vg_store *s, const char *task_id, const char *code, const char *msg);

#endif
