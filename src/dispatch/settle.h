/*
 * settle.h - what both halves of the dispatcher (the render pool and the upstream workers) do
 * when a task's run ends: read the task's stored spec, move its result files into place, record
 * a failure. Each function runs on the caller's thread with the caller's store connection.
 */
#ifndef VG_DISPATCH_SETTLE_H
#define VG_DISPATCH_SETTLE_H
#include "core/task.h"
#include "net/content.h"
#include "store/store.h"

/** The spec stored with t (t->params). VG_OK, or VG_ERR when unreadable; free *spec either way. */
int vg_settle_read_spec(const vg_task *t, vg_task_spec *spec);

/**
 * Publishes the directory tmp as task_id's content (net/content.h): moved to DATA/files/<task_id>,
 * replacing what an earlier attempt that crashed between its move and its commit left there, and
 * with a bucket uploaded too, so that the task is completed only once every node can serve it.
 * Blocks (the uploads). VG_OK, or VG_ERR with the reason in err.
 */
int vg_settle_publish(vg_content *content, const char *tmp, const char *task_id, char *err,
                      size_t errlen);

/** Fails task_id with code and msg (conditional on it not being final) and logs the outcome. */
void vg_settle_fail(vg_store *s, const char *task_id, const char *code, const char *msg);

#endif
