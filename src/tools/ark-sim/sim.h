/*
 * sim.h - ark-sim, a stand-alone simulator of the Ark content-generation task API
 * (spec/upstream.md), for tests and offline trials. It speaks the protocol over HTTP as strictly as
 * the documents allow: create (validated by providers/ark_check.h), query, list with filters and
 * paging, delete, callbacks on status changes, expiring result URLs that serve real MP4s, Bearer
 * authentication, and Ark's error envelope. Faults are injected on demand.
 *
 *   ark-sim --listen 127.0.0.1:PORT --data DIR [--key K] [--faults SPEC]
 *           [--callback-allow-private] [--queue-ms N] [--run-ms N] [--url-ttl-s N]
 *           [--video full|tiny] [--models a,b,…] [--max-queued N] [--threads N]
 *
 * Design (what runs where):
 *   - HTTP: http/server.h loops (--threads, default 2) run the handlers. All task state is one
 *     table under one mutex (g.lock), held only to read or change rows, never while rendering,
 *     sending a callback or waiting.
 *   - Ticker thread: every 20 ms moves tasks with time (queued → running after --queue-ms,
 *     running → succeeded/failed after --run-ms), renders each result size once with the local
 *     engine into DATA/videos (outside the lock; the task stays running until its file exists),
 *     expires tasks past execution_expires_after, and queues a callback per status change.
 *   - Callback thread: POSTs queued callbacks (the task object) to callback_url, oldest first,
 *     once each; loopback/private destinations only with --callback-allow-private.
 *   - Delayed and held replies (latency and timeout faults) are h2o timer entries on the loop that
 *     received the request, allocated in the request's pool (freed with it) and listed per thread
 *     so that a stopping loop answers them first (on_loop_stop).
 * Ordering: a task's status only moves forward; callbacks leave in the order they were queued.
 * Crash: state is in memory only; a restart forgets every task (videos stay cached on disk).
 *
 * Faults. A rule is "KIND [on=create|get|list|delete|any] [p=0.1] [n=3] [retry_after=S] [ms=N]";
 * rules are separated by ';'. Sources, first match wins: the request header X-Sim-Fault (one rule,
 * applies to that request), a "[sim:KIND]" or "[sim:KIND*N]" marker in a create's prompt (the
 * first N creates with that prompt, or every one), then the global rules (--faults, or POST
 * /sim/faults {"faults":"SPEC"}). Kinds: 429 (Retry-After), 500, 502, 503, latency (ms, then
 * normal), timeout (accept, never answer: hold ms, default 30000, then drop), drop (close with no
 * answer), malformed (200 with broken JSON; a create still creates), lost (do the work, then drop
 * the connection: "accepted but the response is lost"), hang (do the work, then hold like
 * timeout), and task faults for creates: sensitive (fails with
 * OutputVideoSensitiveContentDetected), never (never finishes), expire (ends expired), slow (ten
 * times the queue and run time).
 * "random" picks one kind suited to the operation.
 *
 * Admin routes (no key): GET /sim/stats (request counts per operation, tasks per status,
 * callbacks, batch polls: list calls by task ids and the task states they returned; ?detail=1 adds
 * every create's time, status and safety_identifier), GET /sim/requests/{id} (the create body a
 * task was made from, verbatim), POST /sim/faults, POST /sim/expire-urls (every issued result URL
 * expires now), POST /sim/reset-stats.
 */
#ifndef VG_TOOLS_ARK_SIM_H
#define VG_TOOLS_ARK_SIM_H
/*
 * The simulator's files, in reading order. This header is their one shared contract; nothing in
 * it is used outside src/tools/ark-sim/.
 *   main.c       options, start-up and shutdown; defines g_sim
 *   front.c      the HTTP front: route table, Ark's error replies, counting, result files
 *   ops.c        the four Ark operations: create, get (query), list, delete
 *   tasks.c      the task table: task objects, status changes, callbacks queued
 *   faults.c     fault rules: parsing, choosing one per request, applying it
 *   deferred.c   delayed and held replies (timers on the request's event loop)
 *   admin.c      the /sim/... routes: stats, create bodies, faults, URL expiry
 *   ticker.c     the ticker thread: time moves tasks; results rendered once per size
 *   callbacks.c  the callback thread
 */
#include "http/ctx.h"
#include "providers/ark_check.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICK_MS         20
#define DEFAULT_HOLD_MS 30000
#define MAX_RULES       32
#define MAX_CREATE_LOG  50000
#define SIM_PATH        "/api/v3/contents/generations/tasks"

/* ---- options ----------------------------------------------------------------------------- */

typedef struct {
    char listen[256];
    char data[1024];
    char key[256];
    char faults[2048];
    char video[8];
    char models[2048];
    bool callback_private;
    int queue_ms, run_ms, url_ttl_s, max_queued, threads;
} sim_opts;

/* ---- faults ------------------------------------------------------------------------------ */

typedef enum { OP_CREATE, OP_GET, OP_LIST, OP_DELETE, OP_COUNT } sim_op;
#define OP_ALL ((1u << OP_COUNT) - 1)

typedef enum {
    F_NONE,
    F_429,
    F_500,
    F_502,
    F_503,
    F_LATENCY,
    F_TIMEOUT,
    F_DROP,
    F_MALFORMED,
    F_LOST,
    F_HANG,
    F_SENSITIVE,
    F_NEVER,
    F_EXPIRE,
    F_SLOW,
    F_RANDOM,
    F_COUNT,
    F_UNDECIDED = F_COUNT /* not chosen yet (a create's marker needs the body) */
} fault_kind;

typedef struct {
    fault_kind kind;
    unsigned ops;    /* bit per sim_op */
    double p;        /* probability per matching request (when n == 0) */
    int n;           /* the next n matching requests (0 = use p) */
    int retry_after; /* seconds, for 429 */
    int ms;          /* latency / hold */
} fault_rule;

/* ---- tasks ------------------------------------------------------------------------------- */

typedef enum { S_QUEUED, S_RUNNING, S_SUCCEEDED, S_FAILED, S_CANCELLED, S_EXPIRED, S_COUNT } sstat;

typedef struct {
    char id[40];
    char model[128];
    sstat status;
    fault_kind task_fault; /* F_NONE, F_SENSITIVE, F_NEVER, F_EXPIRE */
    int64_t created_ms, updated_ms, run_at_ms, done_at_ms, url_expires_s;
    char resolution[8], ratio[16];
    int duration, w, h;
    int64_t seed, tokens, expires_after_s;
    bool generate_audio, return_last_frame;
    char *callback_url;
    char safety_identifier[72];
    char video_key[48]; /* cached file name stem */
    char error_code[64], error_message[160];
    char *request; /* the create body as received (GET /sim/requests/{id}) */
    bool deleted;
} stask;

typedef struct {
    char key[48];
    int w, h, seconds;
    bool ready, failed;
} video_entry;

typedef struct cb_item {
    struct cb_item *next;
    char *url, *body;
} cb_item;

typedef struct {
    int64_t t_ms;
    int status;
    char token[72];
} create_log;

typedef struct {
    sim_opts o;
    char secret[65];
    char base_url[300];
    char videos_dir[1100];
    char **models;
    int n_models;
    pthread_mutex_t lock;
    pthread_cond_t cb_wake;
    stask **tasks;
    size_t n_tasks, cap_tasks;
    video_entry *videos;
    size_t n_videos, cap_videos;
    cb_item *cb_head, *cb_tail;
    fault_rule rules[MAX_RULES];
    int n_rules;
    struct {
        char prompt_hash[65];
        int used;
    } * markers;
    size_t n_markers;
    long requests[OP_COUNT], by_status[OP_COUNT][6]; /* 2xx 4xx 429 5xx dropped/held other */
    long video_requests, callbacks_sent, callbacks_failed, faults_fired[F_COUNT];
    long list_by_ids, list_by_ids_items; /* batch polls and the task states they returned */
    create_log *creates;
    size_t n_creates;
    unsigned rng;
} sim_state;

static volatile sig_atomic_t g_stop;

/* Every thread reads and writes it under g_sim.lock (the options excepted: set before any thread
 * starts, read-only afterwards). */
extern sim_state g_sim;
/* Set by SIGINT/SIGTERM; every loop and thread ends soon after. */
extern volatile sig_atomic_t g_sim_stop;

extern const char *const sim_op_names[OP_COUNT];
extern const char *const sim_fault_names[F_COUNT];
extern const char *const sim_status_names[S_COUNT];

/* An operation that answers a request (a delayed reply runs it again later, with F_NONE). */
typedef int (*op_fn)(vg_ctx *c, fault_rule f);

/* ---- front.c ---- */
extern const vg_route sim_routes[];
extern const size_t sim_n_routes;
/** Counts one reply of op by status class. Takes g_sim.lock. */
void sim_count_reply(sim_op op, int status);
/** Replies with Ark's error envelope (and counts it). Returns 0. */
int sim_ark_error(vg_ctx *c, sim_op op, int status, const char *code, const char *param,
                  const char *msg);
/** Whether the request carries the key (any request when --key is not set). */
bool sim_authorized(vg_ctx *c);
/** The request body as a JSON object (new reference), or NULL. */
json_t *sim_body_json(vg_ctx *c);

/* ---- ops.c: each answers its request with fault f; a create's fault is F_UNDECIDED until its
 * body is read ---- */
int sim_op_create(vg_ctx *c, fault_rule pre);
int sim_op_get(vg_ctx *c, fault_rule f);
int sim_op_list(vg_ctx *c, fault_rule f);
int sim_op_delete(vg_ctx *c, fault_rule f);

/* ---- tasks.c (all under g_sim.lock) ---- */
/** A live (not deleted) task by id, or NULL. */
stask *sim_task_find(const char *id);
/** A new queued task from a checked create; the caller adds it to the table. */
stask *sim_task_new(const vg_ark_create *in, fault_kind task_fault, const json_t *body);
/** The task object; list items name the error "failure_reason" (an Ark quirk). New reference. */
json_t *sim_task_json(const stask *t, bool list_item);
/** Moves t to s and queues its callback. */
void sim_task_set_status(stask *t, sstat s);
/** Live tasks still queued. */
int sim_tasks_queued(void);

/* ---- faults.c ---- */
/** Parses "rule; rule; ..." into out (at most max). Returns the count or -1. */
int sim_faults_parse(const char *spec, fault_rule *out, int max);
/** This request's fault: its header, then a create's prompt marker, then the global rules. */
fault_rule sim_fault_for(vg_ctx *c, sim_op op, const char *prompt);
/** Applies a fault that replaces the operation (errors, drops, delays). 1 when it answered (or
 *  will), 0 when the operation should run (with any after-effect it carries). */
int sim_fault_apply(vg_ctx *c, sim_op op, fault_rule f, op_fn fn);
/** After-effects once the work is done: the reply is lost, garbled or never comes. 1 = handled. */
int sim_fault_after(vg_ctx *c, sim_op op, fault_rule f);

/* ---- deferred.c (on the request's event-loop thread) ---- */
/** Answers the request later: fn after ms (latency), or a dropped connection when fn is NULL. */
int sim_defer(vg_ctx *c, int ms, op_fn fn);
/** Ends the request with no answer: the connection is shut down. */
void sim_drop_connection(h2o_req_t *req);
/** A stopping loop answers its pending replies first (vg_server_opts.on_loop_stop). */
void sim_on_loop_stop(void *app);

/* ---- admin.c ---- */
int sim_admin_stats(vg_ctx *c);
int sim_admin_request(vg_ctx *c);
int sim_admin_faults(vg_ctx *c);
int sim_admin_expire_urls(vg_ctx *c);
int sim_admin_reset_stats(vg_ctx *c);

/* ---- ticker.c, callbacks.c: thread bodies (arg unused), until g_sim_stop ---- */
void *sim_ticker_main(void *arg);
void *sim_callbacks_main(void *arg);

#endif
