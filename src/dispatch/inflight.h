/*
 * inflight.h - the set of task ids that are in an upstream job right now (queued or running),
 * so that the scheduler never plans a second job for a task while one is under way. It is an
 * in-memory guard on top of the store lease (next_poll_at), which can run out while a job waits
 * in the queue or takes longer than planned (and a submit job holds no lease at all).
 *
 * A hash set of ids with its own lock: every function is thread-safe. The scheduler adds, the
 * worker that ran the job removes; vg_inflight_free() drops whatever is left.
 */
#ifndef VG_DISPATCH_INFLIGHT_H
#define VG_DISPATCH_INFLIGHT_H
#include <stdbool.h>

typedef struct vg_inflight vg_inflight;

vg_inflight *vg_inflight_new(void);
void vg_inflight_free(vg_inflight *f);
bool vg_inflight_has(vg_inflight *f, const char *id);
void vg_inflight_add(vg_inflight *f, const char *id);
void vg_inflight_remove(vg_inflight *f, const char *id);

#endif
