/*
 * upstream.h - the store's types for channels and upstream (Ark) tasks: what the dispatcher reads
 * and writes about a task that goes through a channel (migration 4). The operations themselves are
 * members of vg_store_ops (store.h); the SQLite ones live in sqlite_upstream.c.
 *
 * Columns: tasks.channel (the channel a task was routed to, '' = not routed yet) and
 * tasks.next_poll_at (unix ms: when the dispatcher looks at the task next — a retry's earliest
 * time while queued, the next poll while running, a lease while a worker holds it). The table
 * upstream_tasks holds one row per task that ever went upstream (its current attempt, upstream id,
 * callback token, poll state, and the upstream's result while it is downloaded);
 * upstream_attempts logs every submit attempt (write-ahead: recorded before the call).
 *
 * Upstream tasks never hold a render lease (tasks.lease_until = 0): no process runs them, the
 * upstream does, so start-up recovery re-polls them instead of re-queueing them. The node that
 * last scheduled a task's next look (tasks.lease_owner) is recorded with next_poll_at, so that a
 * restarted node re-polls at once what it had in hand and leaves other nodes' schedules alone,
 * and a node that becomes the upstream leader takes the other nodes' schedules over.
 */
#ifndef VG_STORE_UPSTREAM_H
#define VG_STORE_UPSTREAM_H
#include "core/task.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the scheduler asks for; each kind is one query (sqlite_upstream.c). */
typedef enum {
    VG_DUE_ROUTE,    /* queued, not routed, not test-mode, retry time passed */
    VG_DUE_RESOLVE,  /* dispatching without an upstream id: a submit whose outcome is unknown */
    VG_DUE_POLL,     /* dispatching/running with an upstream id, poll time passed */
    VG_DUE_FINALIZE, /* finalizing: the result is to be downloaded */
    VG_DUE_CLEANUP,  /* final for us, but the upstream task may still be open: cancel it */
    VG_DUE_KIND_COUNT
} vg_due_kind;

/* A task as the dispatcher sees it: the task row's scheduling part and its upstream row. */
typedef struct {
    char task_id[48];
    char key_id[48];
    char model[64];
    vg_task_status status;
    bool test_mode;
    int64_t created_at;   /* unix s */
    int64_t next_poll_at; /* unix ms */
    char channel[64];     /* of the current (or last) attempt; "" without an upstream row */
    char upstream_model[128];
    char upstream_id[128]; /* "" until accepted */
    char attempt_id[48];
    char client_token[72];
    char callback_token[72];
    char avoid_channel[64]; /* the channel that last refused it transiently */
    char upstream_status[16];
    int64_t accepted_at_ms, attempt_started_ms;
    int retries, poll_errors, lookups;
    bool open;    /* the upstream task may exist and not be final */
    char *result; /* the upstream's succeeded task (JSON) while finalizing; owned, may be NULL */
} vg_up_row;

void vg_up_row_free(vg_up_row *r);

/* A new submit attempt, recorded before the call (queued → dispatching). */
typedef struct {
    const char *task_id;
    const char *attempt_id;
    const char *channel;
    const char *upstream_model;
    const char *client_token;
    const char *callback_token; /* kept from the first attempt on */
    int64_t now_ms;
    int64_t lease_until_ms; /* next_poll_at: when an unfinished attempt is looked at again */
} vg_up_attempt;

/*
 * One conditional change of an upstream task. The task row changes only while its status is in
 * from (a set of VG_TASK_BIT()s); a status change (to_status >= 0) also only from where the state
 * machine allows it (the store intersects from with vg_task_from(to_status)). The upstream row
 * changes with it, or always when upstream_always is set (to keep an upstream id even when the
 * task was cancelled meanwhile), and only while its attempt is attempt_id (NULL = any). -1 / NULL
 * fields are left alone. A next_poll_at set here is scheduled by this node (see
 * upstream_recover).
 */
typedef struct {
    const char *task_id;
    vg_task_status_set from;
    int to_status;        /* vg_task_status, or -1 */
    int64_t next_poll_at; /* ms, or -1 */
    int progress;         /* raised only, or -1 */
    const char *attempt_id;
    bool upstream_always;
    const char *upstream_id;
    const char *upstream_status;
    int64_t accepted_at_ms;
    int poll_errors, lookups, open;
    const char *result;
    bool applied; /* out: the task row matched */
} vg_up_update;

/** An update of task_id (while its status is in from) that changes nothing yet. */
static inline vg_up_update vg_up_update_for(const char *task_id, vg_task_status_set from)
{
    return (vg_up_update){.task_id = task_id,
                          .from = from,
                          .to_status = -1,
                          .next_poll_at = -1,
                          .progress = -1,
                          .accepted_at_ms = -1,
                          .poll_errors = -1,
                          .lookups = -1,
                          .open = -1};
}

/* Active (non-final) tasks routed to a channel. */
typedef struct {
    char channel[64];
    int64_t active;
} vg_channel_load;

#endif
