/*
 * upstream_int.h - the parts of the upstream loop (upstream.h) that its files share; nothing
 * outside dispatch/upstream*.c includes it. Read upstream.h's design note first.
 *
 *   upstream.c          start, stop, notify, reload: the public face
 *   upstream_sched.c    the scheduler's round: route queued tasks, plan due work into jobs,
 *                       polls by cycles
 *   upstream_jobs.c     the job queue, the worker step, store helpers the handlers share
 *   upstream_state.c    per-channel runtime state (cool-down, request budget, learned run
 *                       time) and the timing built on it (backoff, next poll, progress)
 *   upstream_submit.c   job handlers: submit, resolve a lost submit, clean up
 *   upstream_poll.c     job handler: poll a batch
 *   upstream_finalize.c job handler: download the result and complete
 *   upstream_health.c   a read-only snapshot of the channel state for operators
 *
 * Locking: u->lock guards the channel set pointer, the channel state, the random state and the
 * job queue; it is never held across a store or HTTP call. The in-flight set has its own lock.
 */
#ifndef VG_DISPATCH_UPSTREAM_INT_H
#define VG_DISPATCH_UPSTREAM_INT_H
#include "common/pool.h"
#include "dispatch/env.h"
#include "dispatch/inflight.h"
#include "dispatch/upstream.h"

#include <pthread.h>
#include <stdatomic.h>

/* Status sets of conditional updates (store/upstream.h). */
#define VG_UPS_ACTIVE (VG_TASK_BIT(VG_TASK_DISPATCHING) | VG_TASK_BIT(VG_TASK_RUNNING))
#define VG_UPS_FINAL  VG_TASK_SET_FINAL
#define VG_UPS_ANY    VG_TASK_SET_ALL

typedef enum {
    VG_UPS_SUBMIT,
    VG_UPS_RESOLVE,
    VG_UPS_POLL,
    VG_UPS_FINALIZE,
    VG_UPS_CLEANUP,
    VG_UPS_KIND_COUNT
} vg_ups_kind;

/* One unit of work for a worker: rows of one kind on one channel. */
typedef struct vg_ups_job {
    struct vg_ups_job *next;
    vg_ups_kind kind;
    vg_channels *set; /* a reference */
    int ch;           /* index in set, -1 when the channel is gone */
    size_t n;
    vg_up_row *rows; /* owned */
} vg_ups_job;

/* Runtime state of a channel, kept by name across reloads. */
typedef struct {
    char name[64];
    int64_t cooldown_until;
    double tokens;
    int64_t refilled_at;
    double expected_ms; /* learned run time (the upstream's created → updated of a success) */
    bool learned;       /* expected_ms comes from a finished task, not the configured guess */
    int faults;         /* consecutive transient refusals */
    int64_t requests;   /* calls made since start (each spends a budget token) */
    int64_t errors;     /* transient refusals since start (each cooled the channel down) */
    /* the polling cycle (upstream_sched.c): open while the tasks due by cycle_end are being
     * handed out; the next one opens at cycle_next (wall ms, like next_poll_at) */
    bool cycle_open;
    int64_t cycle_end, cycle_next;
} vg_ups_chstate;

struct vg_upstream {
    vg_dispatch_env env;
    vg_up_env up_env; /* what submit is told, built from env */
    void (*notify_local)(void *ud);
    void *ud;
    atomic_bool stopping; /* set first by vg_upstream_stop: aborts HTTP calls, stops popping */
    pthread_mutex_t lock;
    vg_channels *set;
    vg_ups_chstate st[VG_MAX_CHANNELS]; /* parallel to set->ch */
    uint32_t rng;
    vg_ups_job *head, *tail;
    int queued, queue_cap;
    vg_inflight *busy;
    bool leader;             /* the scheduler holds the "upstream" lease (scheduler thread only) */
    int64_t lead_until;      /* wall ms: when the lease it holds ends (scheduler thread only) */
    int64_t route_full_next; /* wall ms: next routing pass while every channel is full (ditto) */
    vg_pool *sched;          /* one thread: the rounds */
    vg_pool *workers;        /* upstream_workers threads: the jobs */
};

/* A worker thread's own connections. */
typedef struct {
    vg_upstream *u;
    vg_store *s;
    vg_http_client *hc;
} vg_ups_worker;

/* ---- upstream_state.c (each takes u->lock itself unless marked) ---- */
void vg_ups_adopt_set(vg_upstream *u, vg_channels *set); /* under u->lock */
uint32_t vg_ups_rand(vg_upstream *u);                    /* under u->lock */
int64_t vg_ups_backoff(vg_upstream *u, int n, int64_t base, int64_t cap);
void vg_ups_cooldown(vg_upstream *u, const char *name, int64_t until, bool fault);
int vg_ups_faults(vg_upstream *u, const char *name);
void vg_ups_learn(vg_upstream *u, const char *name, int64_t sample_ms);
/** A run time sample for r from what the upstream said about its success (its own created and
 *  updated times when it gives them, else accepted → now). */
int64_t vg_ups_run_sample(const vg_up_row *r, const vg_up_task *t, int64_t now);
bool vg_ups_take(vg_upstream *u, const vg_channel *ch, bool force);
int64_t vg_ups_next_poll(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now);
int vg_ups_progress(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now);
bool vg_ups_past_deadline(const vg_upstream *u, const vg_up_row *r, int64_t now_ms);
vg_upstream_endpoint vg_ups_endpoint(const vg_channel *c);

/* ---- upstream_jobs.c ---- */
/** A job of kind on channel ch of set (of which it takes a reference), room for n rows. */
vg_ups_job *vg_ups_job_new(vg_channels *set, vg_ups_kind kind, int ch, size_t n);
void vg_ups_job_free(vg_ups_job *j);
bool vg_ups_queue_full(vg_upstream *u);
/** Leases the rows (so later rounds skip them), marks them in flight and queues the job. */
void vg_ups_enqueue(vg_upstream *u, vg_store *s, vg_ups_job *j, int64_t lease_ms);
/** Frees the jobs still queued (at stop, once no thread runs). */
void vg_ups_drop_queue(vg_upstream *u);
/* The worker pool's callbacks (common/pool.h); ud is the vg_upstream. */
void *vg_ups_worker_start(void *ud);
void vg_ups_worker_end(void *ud, void *state);
int vg_ups_worker_step(void *ud, void *state);
/* Store changes the handlers share. */
/** The upstream task is final (or never existed): nothing left to cancel. */
void vg_ups_close(vg_store *s, const vg_up_row *r);
void vg_ups_reschedule(vg_store *s, const vg_up_row *r, vg_task_status_set from, int64_t at,
                       int poll_errors, int lookups);

/* ---- the handlers, one per kind ---- */
void vg_ups_run_submit(vg_ups_worker *w, vg_ups_job *j);   /* upstream_submit.c */
void vg_ups_run_resolve(vg_ups_worker *w, vg_ups_job *j);  /* upstream_submit.c */
void vg_ups_run_cleanup(vg_ups_worker *w, vg_ups_job *j);  /* upstream_submit.c */
void vg_ups_run_poll(vg_ups_worker *w, vg_ups_job *j);     /* upstream_poll.c */
void vg_ups_run_finalize(vg_ups_worker *w, vg_ups_job *j); /* upstream_finalize.c */
/** The submit of r's attempt created upstream_id: record it (upstream_submit.c). */
void vg_ups_accepted(vg_ups_worker *w, const vg_channel *ch, vg_up_row *r, const char *upstream_id,
                     const char *outcome);
/** The JSON kept in the upstream row while a result is downloaded (upstream_poll.c). */
char *vg_ups_result_json(const vg_up_task *t);

/* ---- upstream_sched.c: the scheduler pool's callbacks; ud is the vg_upstream ---- */
void *vg_ups_sched_start(void *ud);
void vg_ups_sched_end(void *ud, void *state);
int vg_ups_sched_step(void *ud, void *state);

#endif
