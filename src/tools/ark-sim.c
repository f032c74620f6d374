/*
 * ark-sim.c - a stand-alone simulator of the Ark content-generation task API (spec/upstream.md),
 * for tests and offline trials. It speaks the protocol over HTTP as strictly as the documents
 * allow: create (validated by providers/ark_check.h), query, list with filters and paging, delete,
 * callbacks on status changes, expiring result URLs that serve real MP4s, Bearer authentication,
 * and Ark's error envelope. Faults are injected on demand.
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
#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "core/models.h"
#include "engine/engine.h"
#include "http/sendfile.h"
#include "http/server.h"
#include "net/http_client.h"
#include "providers/ark_check.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

typedef enum { O_STR, O_INT, O_FLAG } opt_kind;

#define OS(f) O_STR, offsetof(sim_opts, f), sizeof(((sim_opts *)0)->f)
#define OI(f) O_INT, offsetof(sim_opts, f), 0
static const struct {
    const char *flag;
    opt_kind kind;
    size_t off, size;
    const char *help;
} g_opts[] = {
    {"--listen", OS(listen), "HOST:PORT to serve on"},
    {"--data", OS(data), "directory for cached result videos"},
    {"--key", OS(key), "API key clients must send (Bearer); none = any"},
    {"--faults", OS(faults), "global fault rules (see the source header)"},
    {"--video", OS(video), "full (render at the task's size) or tiny (64x36, 1 s)"},
    {"--models", OS(models), "comma-separated model ids (default: the dated 2.0 ids)"},
    {"--callback-allow-private", O_FLAG, offsetof(sim_opts, callback_private), 0,
     "deliver callbacks to loopback/private addresses"},
    {"--queue-ms", OI(queue_ms), "time a task stays queued (default 1000)"},
    {"--run-ms", OI(run_ms), "time a task stays running (default 5000)"},
    {"--url-ttl-s", OI(url_ttl_s), "result URL lifetime (default 86400)"},
    {"--max-queued", OI(max_queued), "queued tasks per account before 429 (0 = no limit)"},
    {"--threads", OI(threads), "HTTP event loops (default 2)"},
};
#define N_OPTS (sizeof g_opts / sizeof g_opts[0])

/* ---- faults ------------------------------------------------------------------------------ */

typedef enum { OP_CREATE, OP_GET, OP_LIST, OP_DELETE, OP_COUNT } sim_op;
static const char *const g_op_names[OP_COUNT] = {"create", "get", "list", "delete"};
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

static const char *const g_fault_names[F_COUNT] = {
    "none",      "429",  "500",  "502",       "503",   "latency", "timeout", "drop",
    "malformed", "lost", "hang", "sensitive", "never", "expire",  "slow",    "random",
};

/* What "random" may pick, per operation. */
static const fault_kind g_random_menu[OP_COUNT][10] = {
    [OP_CREATE] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_LOST, F_MALFORMED, F_HANG, F_SENSITIVE,
                   F_LATENCY},
    [OP_GET] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_MALFORMED, F_LATENCY},
    [OP_LIST] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_MALFORMED, F_LATENCY},
    [OP_DELETE] = {F_429, F_503, F_LATENCY},
};

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
static const char *const g_status_names[S_COUNT] = {"queued", "running",   "succeeded",
                                                    "failed", "cancelled", "expired"};

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

static struct {
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
} g;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- small helpers ----------------------------------------------------------------------- */

/* Copies src into dst (cap bytes), truncating. */
static void scopy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static double rnd(void) /* under g.lock */
{
    g.rng = g.rng * 1103515245u + 12345u;
    return (double)((g.rng >> 8) & 0xffffff) / (double)0x1000000;
}

static stask *find_task(const char *id) /* under g.lock */
{
    for (size_t i = 0; i < g.n_tasks; i++)
        if (!g.tasks[i]->deleted && !strcmp(g.tasks[i]->id, id)) return g.tasks[i];
    return NULL;
}

static int status_bucket(int status)
{
    if (status == 429) return 2;
    if (status >= 200 && status < 300) return 0;
    if (status >= 400 && status < 500) return 1;
    if (status >= 500 && status < 600) return 3;
    return status == 0 ? 4 : 5;
}

static void count_reply(sim_op op, int status)
{
    pthread_mutex_lock(&g.lock);
    g.by_status[op][status_bucket(status)]++;
    pthread_mutex_unlock(&g.lock);
}

static int ark_error(vg_ctx *c, sim_op op, int status, const char *code, const char *param,
                     const char *msg)
{
    vg_ark_err e = {0};
    vg_ark_err_set(&e, status, code, param, "%s", msg);
    count_reply(op, status);
    return vg_reply_json(c, status, vg_ark_err_json(&e));
}

static bool authorized(vg_ctx *c)
{
    if (!g.o.key[0]) return true;
    const char *h = vg_ctx_req_header(c, "authorization");
    return h && !strncmp(h, "Bearer ", 7) && vg_ct_streq(h + 7, g.o.key);
}

/* ---- fault rules ------------------------------------------------------------------------- */

static int parse_kind(const char *s)
{
    for (int i = 0; i < F_COUNT; i++)
        if (!strcmp(g_fault_names[i], s)) return i;
    return -1;
}

/* One rule "KIND key=value …". 0 or -1. */
static int parse_rule(char *text, fault_rule *r)
{
    memset(r, 0, sizeof *r);
    r->ops = OP_ALL;
    r->retry_after = 1;
    char *save = NULL, *tok = strtok_r(text, " \t", &save);
    int k = tok ? parse_kind(tok) : -1;
    if (k <= F_NONE) return -1;
    r->kind = (fault_kind)k;
    while ((tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) return -1;
        *eq++ = '\0';
        if (!strcmp(tok, "on")) {
            r->ops = 0;
            for (int i = 0; i < OP_COUNT; i++)
                if (!strcmp(eq, g_op_names[i])) r->ops = 1u << i;
            if (!strcmp(eq, "any")) r->ops = OP_ALL;
            if (!r->ops) return -1;
        } else if (!strcmp(tok, "p")) {
            r->p = atof(eq);
        } else if (!strcmp(tok, "n")) {
            r->n = atoi(eq);
        } else if (!strcmp(tok, "retry_after")) {
            r->retry_after = atoi(eq);
        } else if (!strcmp(tok, "ms")) {
            r->ms = atoi(eq);
        } else {
            return -1;
        }
    }
    if (r->n == 0 && r->p == 0) r->p = 1;
    return 0;
}

/* Parses "rule; rule; …" into out (at most max). Returns the count or -1. */
static int parse_rules(const char *spec, fault_rule *out, int max)
{
    char *copy = vg_strdup(spec), *save = NULL;
    int n = 0, rc = 0;
    for (char *part = strtok_r(copy, ";", &save); part && rc == 0;
         part = strtok_r(NULL, ";", &save)) {
        while (*part == ' ')
            part++;
        if (!*part) continue;
        if (n == max || parse_rule(part, &out[n])) rc = -1;
        n++;
    }
    free(copy);
    return rc ? -1 : n;
}

static fault_rule resolve_random(fault_rule r, sim_op op) /* under g.lock */
{
    if (r.kind != F_RANDOM) return r;
    size_t n = 0;
    while (n < 10 && g_random_menu[op][n] != F_NONE)
        n++;
    r.kind = g_random_menu[op][(size_t)(rnd() * (double)n) % n];
    if (r.kind == F_TIMEOUT && r.ms == 0) r.ms = 5000;
    if (r.kind == F_LATENCY && r.ms == 0) r.ms = 300;
    return r;
}

/* The global rules' verdict for one request. */
static fault_rule global_fault(sim_op op)
{
    fault_rule none = {.kind = F_NONE};
    pthread_mutex_lock(&g.lock);
    for (int i = 0; i < g.n_rules; i++) {
        fault_rule *r = &g.rules[i];
        if (!(r->ops & (1u << op))) continue;
        bool fire = false;
        if (r->n > 0) {
            r->n--;
            fire = true;
            if (r->n == 0) r->p = 0; /* a counted rule is spent, not probabilistic */
        } else if (r->p > 0) {
            fire = rnd() < r->p;
        }
        if (fire) {
            none = resolve_random(*r, op);
            break;
        }
    }
    pthread_mutex_unlock(&g.lock);
    return none;
}

static fault_rule header_fault(vg_ctx *c, sim_op op)
{
    fault_rule r = {.kind = F_NONE};
    const char *h = vg_ctx_req_header(c, "x-sim-fault");
    char *copy = h ? vg_strdup(h) : NULL;
    if (copy && parse_rule(copy, &r) == 0) {
        pthread_mutex_lock(&g.lock);
        r = resolve_random(r, op);
        pthread_mutex_unlock(&g.lock);
    } else {
        r.kind = F_NONE;
    }
    free(copy);
    return r;
}

/* "[sim:KIND]" or "[sim:KIND*N]" in a prompt: KIND for the first N creates of that prompt. */
static fault_rule marker_fault(const char *prompt)
{
    fault_rule r = {.kind = F_NONE, .retry_after = 1};
    const char *m = prompt ? strstr(prompt, "[sim:") : NULL;
    if (!m) return r;
    char kind[32] = "";
    int limit = 0;
    const char *end = strchr(m, ']');
    if (!end || end - m - 5 >= (long)sizeof kind) return r;
    memcpy(kind, m + 5, (size_t)(end - m - 5));
    kind[end - m - 5] = '\0';
    char *star = strchr(kind, '*');
    if (star) *star++ = '\0', limit = atoi(star);
    int k = parse_kind(kind);
    if (k <= F_NONE) return r;
    char hash[65];
    vg_sha256_hex(prompt, strlen(prompt), hash);
    pthread_mutex_lock(&g.lock);
    size_t i;
    for (i = 0; i < g.n_markers && strcmp(g.markers[i].prompt_hash, hash); i++)
        ;
    if (i == g.n_markers) {
        g.markers = vg_realloc(g.markers, (g.n_markers + 1) * sizeof *g.markers);
        snprintf(g.markers[i].prompt_hash, 65, "%s", hash);
        g.markers[i].used = 0;
        g.n_markers++;
    }
    bool fire = limit == 0 || g.markers[i].used < limit;
    g.markers[i].used++;
    if (fire) {
        r.kind = (fault_kind)k;
        r = resolve_random(r, OP_CREATE);
    }
    pthread_mutex_unlock(&g.lock);
    return r;
}

/* ---- delayed and held replies ------------------------------------------------------------ */

typedef int (*op_fn)(vg_ctx *c, fault_rule f);

typedef struct pending {
    h2o_timeout_entry_t entry;
    h2o_linklist_t link; /* this thread's list of pending replies */
    h2o_req_t *req;
    h2o_context_t *ctx;
    int64_t due_ms;
    op_fn fn; /* run at due time (latency); NULL = drop the connection (held) */
    char param[128];
    bool done;
} pending;

static _Thread_local h2o_linklist_t t_pending;
static _Thread_local bool t_pending_init;

static void drop_connection(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock) shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
    /* Finish the request so h2o releases it; the write fails and h2o closes the socket. */
    req->res.status = 500;
    req->res.reason = "dropped";
    h2o_send_inline(req, "", 0);
}

static void pending_fire(pending *p)
{
    if (p->done) return;
    p->done = true;
    if (h2o_timeout_is_linked(&p->entry)) h2o_timeout_unlink(&p->entry);
    if (h2o_linklist_is_linked(&p->link)) h2o_linklist_unlink(&p->link);
    if (!p->fn) {
        drop_connection(p->req);
        return;
    }
    vg_ctx c;
    memset(&c, 0, sizeof c);
    c.req = p->req;
    snprintf(c.params[0], sizeof c.params[0], "%s", p->param);
    c.nparams = 1;
    fault_rule none = {.kind = F_NONE};
    p->fn(&c, none);
}

static void on_pending_timer(h2o_timeout_entry_t *entry)
{
    pending *p = H2O_STRUCT_FROM_MEMBER(pending, entry, entry);
    if (vg_mono_ms() < p->due_ms) {
        h2o_timeout_link(p->ctx->loop, &p->ctx->hundred_ms_timeout, &p->entry);
        return;
    }
    pending_fire(p);
}

static void on_pending_dispose(void *mem)
{
    pending *p = mem;
    if (h2o_timeout_is_linked(&p->entry)) h2o_timeout_unlink(&p->entry);
    if (h2o_linklist_is_linked(&p->link)) h2o_linklist_unlink(&p->link);
}

/* Answers the request later: fn after ms (latency), or a dropped connection (hold). */
static int defer(vg_ctx *c, int ms, op_fn fn)
{
    if (!t_pending_init) {
        h2o_linklist_init_anchor(&t_pending);
        t_pending_init = true;
    }
    pending *p = h2o_mem_alloc_shared(&c->req->pool, sizeof *p, on_pending_dispose);
    memset(p, 0, sizeof *p);
    p->req = c->req;
    p->ctx = c->req->conn->ctx;
    p->due_ms = vg_mono_ms() + ms;
    p->fn = fn;
    snprintf(p->param, sizeof p->param, "%s", c->nparams ? c->params[0] : "");
    p->entry.cb = on_pending_timer;
    h2o_timeout_link(p->ctx->loop, &p->ctx->hundred_ms_timeout, &p->entry);
    h2o_linklist_insert(&t_pending, &p->link);
    return 0;
}

static void on_loop_stop(void *app)
{
    (void)app;
    while (t_pending_init && !h2o_linklist_is_empty(&t_pending))
        pending_fire(H2O_STRUCT_FROM_MEMBER(pending, link, t_pending.next));
}

/* Applies a fault that replaces the operation (errors, drops, delays). Returns 1 when it
 * answered (or will), 0 when the operation should run (with any after-effect it carries). */
static int apply_fault(vg_ctx *c, sim_op op, fault_rule f, op_fn fn)
{
    if (f.kind == F_NONE) return 0;
    pthread_mutex_lock(&g.lock);
    g.faults_fired[f.kind]++;
    pthread_mutex_unlock(&g.lock);
    char ra[16];
    switch (f.kind) {
    case F_429:
        snprintf(ra, sizeof ra, "%d", f.retry_after);
        vg_ctx_header(c, "retry-after", ra);
        ark_error(c, op, 429, "RateLimitExceeded.EndpointRPMExceeded", "",
                  "the request rate of this endpoint is exceeded; retry later");
        return 1;
    case F_500:
    case F_502:
    case F_503: {
        static const int st[] = {[F_500] = 500, [F_502] = 502, [F_503] = 503};
        ark_error(c, op, st[f.kind],
                  st[f.kind] == 503 ? "ServiceUnavailable" : "InternalServiceError", "",
                  "the service encountered an internal error");
        return 1;
    }
    case F_LATENCY:
        return defer(c, f.ms > 0 ? f.ms : 300, fn), 1;
    case F_TIMEOUT:
        count_reply(op, 0);
        return defer(c, f.ms > 0 ? f.ms : DEFAULT_HOLD_MS, NULL), 1;
    case F_DROP:
        count_reply(op, 0);
        drop_connection(c->req);
        return 1;
    default:
        return 0; /* malformed, lost, hang and task faults act after the work */
    }
}

/* After-effects: the work was done; the reply is lost, garbled or never comes. 1 = handled. */
static int after_fault(vg_ctx *c, sim_op op, fault_rule f)
{
    if (f.kind == F_MALFORMED) {
        static const char broken[] = "{\"id\": \"cgt-2026";
        count_reply(op, 200);
        c->req->res.status = 200;
        c->req->res.reason = "OK";
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        h2o_send_inline(c->req, broken, sizeof broken - 1);
        return 1;
    }
    if (f.kind == F_LOST) {
        count_reply(op, 0);
        drop_connection(c->req);
        return 1;
    }
    if (f.kind == F_HANG) {
        count_reply(op, 0);
        defer(c, f.ms > 0 ? f.ms : DEFAULT_HOLD_MS, NULL);
        return 1;
    }
    return 0;
}

static fault_rule request_fault(vg_ctx *c, sim_op op, const char *prompt)
{
    fault_rule f = header_fault(c, op);
    if (f.kind == F_NONE && op == OP_CREATE) f = marker_fault(prompt);
    if (f.kind == F_NONE) f = global_fault(op);
    /* Task faults only make sense for a create. */
    if (op != OP_CREATE && f.kind >= F_SENSITIVE) f.kind = F_NONE;
    return f;
}

/* ---- task objects ------------------------------------------------------------------------ */

static void video_url(const stask *t, const char *file, char *out, size_t cap)
{
    char msg[256], sig[VG_SHA256_HEX_LEN + 1];
    snprintf(msg, sizeof msg, "%s\n%s\n%lld", t->id, file, (long long)t->url_expires_s);
    vg_hmac_sha256_hex(g.secret, strlen(g.secret), msg, strlen(msg), sig);
    snprintf(out, cap, "%s/sim/files/%s/%s?expires=%lld&sig=%s", g.base_url, t->id, file,
             (long long)t->url_expires_s, sig);
}

/* The task object; list items name the error "failure_reason" (an Ark quirk). Under g.lock. */
static json_t *task_json(const stask *t, bool list_item)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:i, s:i, s:b, s:s, s:I}", "id", t->id, "model",
        t->model, "status", g_status_names[t->status], "created_at",
        (json_int_t)(t->created_ms / 1000), "updated_at", (json_int_t)(t->updated_ms / 1000),
        "seed", (json_int_t)t->seed, "resolution", t->resolution, "ratio", t->ratio, "duration",
        t->duration, "framespersecond", 24, "generate_audio", t->generate_audio, "service_tier",
        "default", "execution_expires_after", (json_int_t)t->expires_after_s);
    json_t *err = t->error_code[0]
                      ? json_pack("{s:s, s:s}", "code", t->error_code, "message", t->error_message)
                      : json_null();
    json_object_set_new(j, list_item ? "failure_reason" : "error", err);
    if (t->safety_identifier[0])
        json_object_set_new(j, "safety_identifier", json_string(t->safety_identifier));
    if (t->status == S_SUCCEEDED) {
        json_object_set_new(j, "usage",
                            json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                      "total_tokens", (json_int_t)t->tokens));
        if (t->url_expires_s > vg_now_s()) { /* later polls omit the expired URL */
            char url[1024];
            json_t *content = json_object();
            video_url(t, "video.mp4", url, sizeof url);
            json_object_set_new(content, "video_url", json_string(url));
            if (t->return_last_frame) {
                video_url(t, "last_frame.png", url, sizeof url);
                json_object_set_new(content, "last_frame_url", json_string(url));
            }
            json_object_set_new(j, "content", content);
        }
    }
    return j;
}

static void queue_callback(const stask *t) /* under g.lock */
{
    if (!t->callback_url) return;
    cb_item *it = vg_calloc(1, sizeof *it);
    it->url = vg_strdup(t->callback_url);
    json_t *j = task_json(t, false);
    it->body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (g.cb_tail)
        g.cb_tail->next = it;
    else
        g.cb_head = it;
    g.cb_tail = it;
    pthread_cond_signal(&g.cb_wake);
}

static void set_status(stask *t, sstat s) /* under g.lock */
{
    t->status = s;
    t->updated_ms = vg_now_ms();
    if (s == S_SUCCEEDED) t->url_expires_s = vg_now_s() + g.o.url_ttl_s;
    queue_callback(t);
}

/* ---- create ------------------------------------------------------------------------------ */

static void new_task_id(char out[40])
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char r[5];
    vg_random_bytes(r, sizeof r);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[16];
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    snprintf(out, 40, "cgt-%s-%c%c%c%c%c", stamp, alphabet[r[0] % 36], alphabet[r[1] % 36],
             alphabet[r[2] % 36], alphabet[r[3] % 36], alphabet[r[4] % 36]);
}

static stask *make_task(const vg_ark_create *in, fault_kind task_fault, const json_t *body)
{
    stask *t = vg_calloc(1, sizeof *t);
    new_task_id(t->id);
    snprintf(t->model, sizeof t->model, "%s", in->model);
    t->status = S_QUEUED;
    t->task_fault = task_fault;
    t->request = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int slow = task_fault == F_SLOW ? 10 : 1;
    t->created_ms = t->updated_ms = vg_now_ms();
    t->run_at_ms = t->created_ms + (int64_t)g.o.queue_ms * slow;
    t->done_at_ms = t->run_at_ms + (int64_t)g.o.run_ms * slow;
    snprintf(t->resolution, sizeof t->resolution, "%s", in->resolution);
    int q = vg_ratio_parse(in->ratio);
    if (q == VG_RATIO_ADAPTIVE)
        q = in->first_w ? (int)vg_ratio_closest(in->first_w, in->first_h) : VG_RATIO_16_9;
    snprintf(t->ratio, sizeof t->ratio, "%s", vg_ratio_name((vg_ratio)q));
    t->duration = in->duration > 0 ? in->duration : 5;
    vg_output_size((vg_resolution)vg_resolution_parse(t->resolution), (vg_ratio)q, &t->w, &t->h);
    t->tokens = vg_tokens(t->w, t->h, t->duration);
    t->seed = in->seed;
    if (t->seed < 0) {
        uint32_t r;
        vg_random_bytes(&r, sizeof r);
        t->seed = r;
    }
    t->expires_after_s = in->expires_after_s;
    t->generate_audio = in->generate_audio;
    t->return_last_frame = in->return_last_frame;
    t->callback_url = in->callback_url ? vg_strdup(in->callback_url) : NULL;
    if (in->safety_identifier)
        snprintf(t->safety_identifier, sizeof t->safety_identifier, "%s", in->safety_identifier);
    if (!strcmp(g.o.video, "tiny"))
        snprintf(t->video_key, sizeof t->video_key, "tiny");
    else
        snprintf(t->video_key, sizeof t->video_key, "%dx%d-%d", t->w, t->h, t->duration);
    return t;
}

static void log_create(int status, const char *token)
{
    pthread_mutex_lock(&g.lock);
    if (g.n_creates < MAX_CREATE_LOG) {
        create_log *l = &g.creates[g.n_creates++];
        l->t_ms = vg_now_ms();
        l->status = status;
        snprintf(l->token, sizeof l->token, "%s", token ? token : "");
    }
    pthread_mutex_unlock(&g.lock);
}

static int queued_count(void) /* under g.lock */
{
    int n = 0;
    for (size_t i = 0; i < g.n_tasks; i++)
        n += !g.tasks[i]->deleted && g.tasks[i]->status == S_QUEUED;
    return n;
}

static json_t *body_json(vg_ctx *c)
{
    h2o_iovec_t b = c->req->entity;
    json_t *j = b.base ? json_loadb(b.base, b.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int op_create(vg_ctx *c, fault_rule pre)
{
    json_t *body = body_json(c);
    const vg_ark_check_opts co = {.models = (const char *const *)g.models, .n_models = g.n_models};
    vg_ark_create in;
    vg_ark_err e = {0};
    int rc = 0;
    if (!authorized(c)) {
        ark_error(c, OP_CREATE, 401, "AuthenticationError", "",
                  "the API key in the request is missing or invalid");
        log_create(401, NULL);
        goto out;
    }
    if (!body) {
        ark_error(c, OP_CREATE, 400, "InvalidParameter", "", "the body is not a JSON object");
        log_create(400, NULL);
        goto out;
    }
    const char *prompt = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(body, "content"), i, it) if (!prompt) prompt =
        json_string_value(json_object_get(it, "text"));
    fault_rule f = pre.kind == F_UNDECIDED ? request_fault(c, OP_CREATE, prompt) : pre;
    const char *token = json_string_value(json_object_get(body, "safety_identifier"));
    if (apply_fault(c, OP_CREATE, f, op_create)) {
        if (f.kind != F_LATENCY)
            log_create(f.kind == F_429 ? 429 : f.kind == F_503 ? 503 : 0, token);
        goto out;
    }
    if (vg_ark_check_create(body, &co, &in, &e)) {
        count_reply(OP_CREATE, e.status);
        log_create(e.status, token);
        rc = vg_reply_json(c, e.status, vg_ark_err_json(&e));
        goto out;
    }
    pthread_mutex_lock(&g.lock);
    bool full = g.o.max_queued > 0 && queued_count() >= g.o.max_queued;
    stask *t = NULL;
    if (!full) {
        t = make_task(&in, f.kind >= F_SENSITIVE ? f.kind : F_NONE, body);
        if (g.n_tasks == g.cap_tasks) {
            g.cap_tasks = g.cap_tasks ? g.cap_tasks * 2 : 256;
            g.tasks = vg_realloc(g.tasks, g.cap_tasks * sizeof *g.tasks);
        }
        g.tasks[g.n_tasks++] = t;
    }
    char id[40];
    snprintf(id, sizeof id, "%s", t ? t->id : "");
    pthread_mutex_unlock(&g.lock);
    if (full) {
        vg_ctx_header(c, "retry-after", "5");
        ark_error(c, OP_CREATE, 429, "RateLimitExceeded.QueuedTasks", "",
                  "too many queued tasks for this account");
        log_create(429, token);
        goto out;
    }
    log_create(200, token);
    if (after_fault(c, OP_CREATE, f)) goto out;
    count_reply(OP_CREATE, 200);
    rc = vg_reply_json(c, 200, json_pack("{s:s}", "id", id));
out:
    json_decref(body);
    return rc;
}

/* ---- query, list, delete ----------------------------------------------------------------- */

static int op_get(vg_ctx *c, fault_rule f)
{
    if (!authorized(c))
        return ark_error(c, OP_GET, 401, "AuthenticationError", "", "invalid API key");
    if (apply_fault(c, OP_GET, f, op_get)) return 0;
    pthread_mutex_lock(&g.lock);
    stask *t = find_task(c->params[0]);
    json_t *j = t ? task_json(t, false) : NULL;
    pthread_mutex_unlock(&g.lock);
    if (!j) return ark_error(c, OP_GET, 404, "ResourceNotFound", "id", "the task does not exist");
    if (after_fault(c, OP_GET, f)) return json_decref(j), 0;
    count_reply(OP_GET, 200);
    return vg_reply_json(c, 200, j);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = '\0';
}

typedef struct {
    int page_num, page_size;
    int status; /* -1 any */
    char model[128];
    char (*ids)[64];
    size_t n_ids;
} list_query;

static int parse_int_param(const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) return -1;
    *out = (int)n;
    return 0;
}

/* Walks the raw query (filter.task_ids repeats). Returns NULL or the bad parameter's name. */
static const char *parse_list_query(h2o_req_t *req, list_query *q)
{
    q->page_num = 1;
    q->page_size = 10;
    q->status = -1;
    if (req->query_at == SIZE_MAX) return NULL;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        char k[64], v[256];
        url_decode(p, (size_t)((eq ? eq : amp) - p), k, sizeof k);
        url_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, v, sizeof v);
        p = amp + 1;
        if (!strcmp(k, "page_num") && parse_int_param(v, 1, 500, &q->page_num)) return "page_num";
        if (!strcmp(k, "page_size") && parse_int_param(v, 1, 500, &q->page_size))
            return "page_size";
        if (!strcmp(k, "filter.model")) scopy(q->model, sizeof q->model, v);
        if (!strcmp(k, "filter.status")) {
            q->status = -2;
            for (int i = 0; i < S_COUNT; i++)
                if (!strcmp(g_status_names[i], v)) q->status = i;
            if (q->status == -2) return "filter.status";
        }
        if (!strcmp(k, "filter.task_ids")) {
            if (q->n_ids == 500) return "filter.task_ids";
            q->ids = vg_realloc(q->ids, (q->n_ids + 1) * sizeof *q->ids);
            scopy(q->ids[q->n_ids++], 64, v);
        }
    }
    return NULL;
}

static bool list_match(const stask *t, const list_query *q)
{
    if (t->deleted) return false;
    if (q->status >= 0 && (int)t->status != q->status) return false;
    if (q->model[0] && strcmp(q->model, t->model)) return false;
    if (!q->n_ids) return true;
    for (size_t i = 0; i < q->n_ids; i++)
        if (!strcmp(q->ids[i], t->id)) return true;
    return false;
}

static int op_list(vg_ctx *c, fault_rule f)
{
    if (!authorized(c))
        return ark_error(c, OP_LIST, 401, "AuthenticationError", "", "invalid API key");
    if (apply_fault(c, OP_LIST, f, op_list)) return 0;
    list_query q;
    memset(&q, 0, sizeof q);
    const char *bad = parse_list_query(c->req, &q);
    if (bad) {
        free(q.ids);
        char msg[96];
        snprintf(msg, sizeof msg, "the parameter %s has an invalid value", bad);
        return ark_error(c, OP_LIST, 400, "InvalidParameter", bad, msg);
    }
    json_t *items = json_array();
    long total = 0, skip = (long)(q.page_num - 1) * q.page_size;
    pthread_mutex_lock(&g.lock);
    for (size_t i = g.n_tasks; i-- > 0;) { /* newest first */
        const stask *t = g.tasks[i];
        if (!list_match(t, &q)) continue;
        if (total >= skip && total < skip + q.page_size)
            json_array_append_new(items, task_json(t, true));
        total++;
    }
    if (q.n_ids) {
        g.list_by_ids++;
        g.list_by_ids_items += (long)json_array_size(items);
    }
    pthread_mutex_unlock(&g.lock);
    free(q.ids);
    json_t *j = json_pack("{s:I, s:o}", "total", (json_int_t)total, "items", items);
    if (after_fault(c, OP_LIST, f)) return json_decref(j), 0;
    count_reply(OP_LIST, 200);
    return vg_reply_json(c, 200, j);
}

static int op_delete(vg_ctx *c, fault_rule f)
{
    if (!authorized(c))
        return ark_error(c, OP_DELETE, 401, "AuthenticationError", "", "invalid API key");
    if (apply_fault(c, OP_DELETE, f, op_delete)) return 0;
    pthread_mutex_lock(&g.lock);
    stask *t = find_task(c->params[0]);
    int verdict = !t ? 404 : t->status == S_RUNNING ? 409 : 200;
    if (t && t->status == S_QUEUED)
        set_status(t, S_CANCELLED);
    else if (t && verdict == 200)
        t->deleted = true; /* a finished task's record is deleted */
    pthread_mutex_unlock(&g.lock);
    if (verdict == 404)
        return ark_error(c, OP_DELETE, 404, "ResourceNotFound", "id", "the task does not exist");
    if (verdict == 409)
        return ark_error(c, OP_DELETE, 409, "InvalidAction.TaskRunning", "id",
                         "a running task cannot be cancelled");
    if (after_fault(c, OP_DELETE, f)) return 0;
    count_reply(OP_DELETE, 200);
    return vg_reply_json(c, 200, json_object());
}

/* Each API route counts its request, then applies this request's fault. */
static int route_create(vg_ctx *c)
{
    pthread_mutex_lock(&g.lock);
    g.requests[OP_CREATE]++;
    pthread_mutex_unlock(&g.lock);
    return op_create(c, (fault_rule){.kind = F_UNDECIDED});
}

static int route_op(vg_ctx *c, sim_op op, op_fn fn)
{
    pthread_mutex_lock(&g.lock);
    g.requests[op]++;
    pthread_mutex_unlock(&g.lock);
    return fn(c, request_fault(c, op, NULL));
}

static int route_get(vg_ctx *c)
{
    return route_op(c, OP_GET, op_get);
}

static int route_list(vg_ctx *c)
{
    return route_op(c, OP_LIST, op_list);
}

static int route_delete(vg_ctx *c)
{
    return route_op(c, OP_DELETE, op_delete);
}

/* ---- result files ------------------------------------------------------------------------ */

static int route_file(vg_ctx *c)
{
    const char *exp = vg_ctx_query(c, "expires"), *sig = vg_ctx_query(c, "sig");
    const char *file = c->params[1];
    bool known = !strcmp(file, "video.mp4") || !strcmp(file, "last_frame.png");
    char msg[512], want[VG_SHA256_HEX_LEN + 1], key[48] = "";
    snprintf(msg, sizeof msg, "%s\n%s\n%s", c->params[0], file, exp ? exp : "");
    vg_hmac_sha256_hex(g.secret, strlen(g.secret), msg, strlen(msg), want);
    pthread_mutex_lock(&g.lock);
    g.video_requests++;
    stask *t = find_task(c->params[0]);
    if (t) snprintf(key, sizeof key, "%s", t->video_key);
    int64_t task_expiry = t ? t->url_expires_s : 0; /* POST /sim/expire-urls moves it */
    pthread_mutex_unlock(&g.lock);
    if (!known || !exp || !sig || !vg_ct_streq(sig, want) || !key[0])
        return vg_reply_json(c, 403, json_pack("{s:s}", "error", "AccessDenied"));
    if (atoll(exp) <= vg_now_s() || task_expiry <= vg_now_s())
        return vg_reply_json(c, 403, json_pack("{s:s}", "error", "Request has expired"));
    char path[1400];
    snprintf(path, sizeof path, "%s/%s.%s", g.videos_dir, key,
             !strcmp(file, "video.mp4") ? "mp4" : "png");
    if (vg_send_file(c, path, !strcmp(file, "video.mp4") ? "video/mp4" : "image/png"))
        return vg_reply_json(c, 404, json_pack("{s:s}", "error", "NoSuchKey"));
    return 0;
}

/* ---- admin routes ------------------------------------------------------------------------ */

static json_t *op_counts(void) /* under g.lock */
{
    static const char *const buckets[] = {"2xx", "4xx", "429", "5xx", "no_reply", "other"};
    json_t *j = json_object();
    for (int op = 0; op < OP_COUNT; op++) {
        json_t *b = json_object();
        for (int k = 0; k < 6; k++)
            json_object_set_new(b, buckets[k], json_integer(g.by_status[op][k]));
        json_object_set_new(b, "requests", json_integer(g.requests[op]));
        json_object_set_new(j, g_op_names[op], b);
    }
    return j;
}

static int route_stats(vg_ctx *c)
{
    bool detail = vg_ctx_query(c, "detail") != NULL;
    pthread_mutex_lock(&g.lock);
    long api = 0, by[S_COUNT] = {0};
    for (int op = 0; op < OP_COUNT; op++)
        api += g.requests[op];
    for (size_t i = 0; i < g.n_tasks; i++)
        by[g.tasks[i]->status]++;
    json_t *statuses = json_object(), *faults = json_object();
    for (int s = 0; s < S_COUNT; s++)
        json_object_set_new(statuses, g_status_names[s], json_integer(by[s]));
    for (int f = 1; f < F_COUNT; f++)
        if (g.faults_fired[f])
            json_object_set_new(faults, g_fault_names[f], json_integer(g.faults_fired[f]));
    json_t *j =
        json_pack("{s:o, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I}}", "operations", op_counts(),
                  "api_requests", (json_int_t)api, "tasks", (json_int_t)g.n_tasks, "video_requests",
                  (json_int_t)g.video_requests, "statuses", statuses, "faults", faults, "callbacks",
                  "sent", (json_int_t)g.callbacks_sent, "failed", (json_int_t)g.callbacks_failed);
    json_object_set_new(j, "batch_polls",
                        json_pack("{s:I, s:I}", "calls", (json_int_t)g.list_by_ids, "tasks",
                                  (json_int_t)g.list_by_ids_items));
    if (detail) {
        json_t *creates = json_array();
        for (size_t i = 0; i < g.n_creates; i++)
            json_array_append_new(
                creates, json_pack("{s:I, s:i, s:s}", "t_ms", (json_int_t)g.creates[i].t_ms,
                                   "status", g.creates[i].status, "token", g.creates[i].token));
        json_object_set_new(j, "creates", creates);
    }
    pthread_mutex_unlock(&g.lock);
    return vg_reply_json(c, 200, j);
}

static int route_request(vg_ctx *c)
{
    pthread_mutex_lock(&g.lock);
    stask *t = NULL;
    for (size_t i = 0; i < g.n_tasks && !t; i++)
        if (!strcmp(g.tasks[i]->id, c->params[0])) t = g.tasks[i];
    json_t *j = t && t->request ? json_loads(t->request, 0, NULL) : NULL;
    pthread_mutex_unlock(&g.lock);
    if (!j) return vg_reply_json(c, 404, json_pack("{s:s}", "error", "no such task"));
    return vg_reply_json(c, 200, j);
}

static int route_faults(vg_ctx *c)
{
    json_t *body = body_json(c);
    const char *spec = json_string_value(json_object_get(body, "faults"));
    fault_rule rules[MAX_RULES];
    int n = spec ? parse_rules(spec, rules, MAX_RULES) : -1;
    json_decref(body);
    if (n < 0)
        return vg_reply_json(c, 400, json_pack("{s:s}", "error", "invalid fault specification"));
    pthread_mutex_lock(&g.lock);
    memcpy(g.rules, rules, (size_t)n * sizeof *rules);
    g.n_rules = n;
    pthread_mutex_unlock(&g.lock);
    return vg_reply_json(c, 200, json_pack("{s:i}", "rules", n));
}

static int route_expire_urls(vg_ctx *c)
{
    pthread_mutex_lock(&g.lock);
    for (size_t i = 0; i < g.n_tasks; i++)
        if (g.tasks[i]->url_expires_s) g.tasks[i]->url_expires_s = vg_now_s() - 1;
    pthread_mutex_unlock(&g.lock);
    return vg_reply_json(c, 200, json_object());
}

static int route_reset_stats(vg_ctx *c)
{
    pthread_mutex_lock(&g.lock);
    memset(g.requests, 0, sizeof g.requests);
    memset(g.by_status, 0, sizeof g.by_status);
    memset(g.faults_fired, 0, sizeof g.faults_fired);
    g.video_requests = g.callbacks_sent = g.callbacks_failed = 0;
    g.list_by_ids = g.list_by_ids_items = 0;
    g.n_creates = 0;
    pthread_mutex_unlock(&g.lock);
    return vg_reply_json(c, 200, json_object());
}

static const vg_route g_routes[] = {
    {"POST", SIM_PATH, VG_AUTH_NONE, route_create},
    {"GET", SIM_PATH, VG_AUTH_NONE, route_list},
    {"GET", SIM_PATH "/{id}", VG_AUTH_NONE, route_get},
    {"DELETE", SIM_PATH "/{id}", VG_AUTH_NONE, route_delete},
    {"GET", "/sim/files/{id}/{file}", VG_AUTH_NONE, route_file},
    {"GET", "/sim/stats", VG_AUTH_NONE, route_stats},
    {"GET", "/sim/requests/{id}", VG_AUTH_NONE, route_request},
    {"POST", "/sim/faults", VG_AUTH_NONE, route_faults},
    {"POST", "/sim/expire-urls", VG_AUTH_NONE, route_expire_urls},
    {"POST", "/sim/reset-stats", VG_AUTH_NONE, route_reset_stats},
};

/* ---- ticker: time moves tasks; results are rendered once per size ----------------------- */

static video_entry *video_for(const char *key, int w, int h, int seconds) /* under g.lock */
{
    for (size_t i = 0; i < g.n_videos; i++)
        if (!strcmp(g.videos[i].key, key)) return &g.videos[i];
    if (g.n_videos == g.cap_videos) {
        g.cap_videos = g.cap_videos ? g.cap_videos * 2 : 16;
        g.videos = vg_realloc(g.videos, g.cap_videos * sizeof *g.videos);
    }
    video_entry *v = &g.videos[g.n_videos++];
    memset(v, 0, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    v->w = w, v->h = h, v->seconds = seconds;
    if (!strcmp(key, "tiny")) v->w = 64, v->h = 36, v->seconds = 1;
    return v;
}

/* Renders one video (no lock held): DATA/videos/<key>.mp4 and .png. */
static bool render_video(const video_entry *v)
{
    char dir[1300], from[1400], to[1400];
    snprintf(dir, sizeof dir, "%s/tmp-%s", g.videos_dir, v->key);
    vg_rm_rf(dir);
    if (vg_mkdir_p(dir, 0700)) return false;
    vg_render_job job = {.width = v->w,
                         .height = v->h,
                         .seconds = v->seconds,
                         .seed = 1,
                         .prompt = "ark-sim",
                         .return_last_frame = true,
                         .out_dir = dir};
    vg_render_result rr;
    memset(&rr, 0, sizeof rr);
    bool ok = vg_render(&job, &rr) == VG_OK;
    static const char *const files[][2] = {{"video.mp4", "mp4"}, {"last_frame.png", "png"}};
    for (size_t i = 0; ok && i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", dir, files[i][0]);
        snprintf(to, sizeof to, "%s/%s.%s", g.videos_dir, v->key, files[i][1]);
        ok = rename(from, to) == 0;
    }
    if (!ok) vg_warn("ark-sim: cannot render %s: %s", v->key, rr.error);
    vg_rm_rf(dir);
    return ok;
}

/* Finishes a task whose run time is over. Returns a video that must be rendered first. */
static video_entry *finish_task(stask *t) /* under g.lock */
{
    if (t->task_fault == F_NEVER) return NULL;
    if (t->task_fault == F_SENSITIVE) {
        snprintf(t->error_code, sizeof t->error_code, "OutputVideoSensitiveContentDetected");
        snprintf(t->error_message, sizeof t->error_message,
                 "The generated video may contain sensitive content.");
        set_status(t, S_FAILED);
        return NULL;
    }
    if (t->task_fault == F_EXPIRE) {
        set_status(t, S_EXPIRED);
        return NULL;
    }
    video_entry *v = video_for(t->video_key, t->w, t->h, t->duration);
    if (v->failed) {
        snprintf(t->error_code, sizeof t->error_code, "InternalServiceError");
        snprintf(t->error_message, sizeof t->error_message, "rendering failed");
        set_status(t, S_FAILED);
        return NULL;
    }
    if (!v->ready) return v;
    set_status(t, S_SUCCEEDED);
    return NULL;
}

static void *ticker_main(void *arg)
{
    (void)arg;
    while (!g_stop) {
        video_entry *todo = NULL;
        video_entry copy;
        int64_t now = vg_now_ms();
        pthread_mutex_lock(&g.lock);
        for (size_t i = 0; i < g.n_tasks; i++) {
            stask *t = g.tasks[i];
            if (t->status >= S_SUCCEEDED) continue;
            if (now > t->created_ms + t->expires_after_s * 1000) {
                set_status(t, S_EXPIRED);
                continue;
            }
            if (t->status == S_QUEUED && now >= t->run_at_ms) set_status(t, S_RUNNING);
            if (t->status == S_RUNNING && now >= t->done_at_ms) {
                video_entry *v = finish_task(t);
                if (v && !todo) todo = v;
            }
        }
        if (todo) copy = *todo;
        pthread_mutex_unlock(&g.lock);
        if (todo) {
            bool ok = render_video(&copy);
            pthread_mutex_lock(&g.lock);
            video_entry *v = video_for(copy.key, copy.w, copy.h, copy.seconds);
            v->ready = ok;
            v->failed = !ok;
            pthread_mutex_unlock(&g.lock);
            continue;
        }
        usleep(TICK_MS * 1000);
    }
    return NULL;
}

/* ---- callbacks --------------------------------------------------------------------------- */

static void *callback_main(void *arg)
{
    (void)arg;
    vg_http_client *hc = vg_http_client_new();
    pthread_mutex_lock(&g.lock);
    while (!g_stop) {
        cb_item *it = g.cb_head;
        if (!it) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&g.cb_wake, &g.lock, &ts);
            continue;
        }
        g.cb_head = it->next;
        if (!g.cb_head) g.cb_tail = NULL;
        pthread_mutex_unlock(&g.lock);
        vg_http_req rq = {.method = "POST",
                          .url = it->url,
                          .body = it->body,
                          .timeout_ms = 5000,
                          .public_only = !g.o.callback_private};
        vg_http_resp rs;
        int rc = vg_http_do(hc, &rq, &rs);
        bool ok = rc == VG_OK && rs.status >= 200 && rs.status < 300;
        vg_http_resp_free(&rs);
        free(it->url);
        free(it->body);
        free(it);
        pthread_mutex_lock(&g.lock);
        if (ok)
            g.callbacks_sent++;
        else
            g.callbacks_failed++;
    }
    pthread_mutex_unlock(&g.lock);
    vg_http_client_free(hc);
    return NULL;
}

/* ---- start-up ---------------------------------------------------------------------------- */

static const char *const g_default_models[] = {
    "doubao-seedance-2-0-260128",        "doubao-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-260128",      "dreamina-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-mini-260615",
};

static void usage(void)
{
    printf("usage: ark-sim --listen HOST:PORT --data DIR [options]\n\n");
    for (size_t i = 0; i < N_OPTS; i++)
        printf("  %-26s %s\n", g_opts[i].flag, g_opts[i].help);
}

static int parse_args(int argc, char **argv)
{
    sim_opts *o = &g.o;
    snprintf(o->video, sizeof o->video, "full");
    o->queue_ms = 1000, o->run_ms = 5000, o->url_ttl_s = 86400, o->threads = 2;
    for (int i = 1; i < argc; i++) {
        size_t k;
        for (k = 0; k < N_OPTS && strcmp(g_opts[k].flag, argv[i]); k++)
            ;
        if (k == N_OPTS) {
            if (strcmp(argv[i], "--help")) fprintf(stderr, "ark-sim: unknown option %s\n", argv[i]);
            usage();
            return -1;
        }
        char *field = (char *)o + g_opts[k].off;
        if (g_opts[k].kind == O_FLAG) {
            *(bool *)field = true;
            continue;
        }
        if (i + 1 >= argc) return fprintf(stderr, "ark-sim: %s needs a value\n", argv[i]), -1;
        const char *v = argv[++i];
        if (g_opts[k].kind == O_INT)
            *(int *)field = atoi(v);
        else
            snprintf(field, g_opts[k].size, "%s", v);
    }
    if (!o->listen[0] || !o->data[0]) return usage(), -1;
    if (strcmp(o->video, "full") && strcmp(o->video, "tiny"))
        return fprintf(stderr, "ark-sim: --video must be full or tiny\n"), -1;
    return 0;
}

static void setup_models(void)
{
    if (!g.o.models[0]) {
        g.n_models = (int)(sizeof g_default_models / sizeof g_default_models[0]);
        g.models = vg_calloc((size_t)g.n_models, sizeof *g.models);
        for (int i = 0; i < g.n_models; i++)
            g.models[i] = vg_strdup(g_default_models[i]);
        return;
    }
    char *copy = vg_strdup(g.o.models), *save = NULL;
    for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        g.models = vg_realloc(g.models, (size_t)(g.n_models + 1) * sizeof *g.models);
        g.models[g.n_models++] = vg_strdup(m);
    }
    free(copy);
}

static void cleanup(void)
{
    for (size_t i = 0; i < g.n_tasks; i++) {
        free(g.tasks[i]->callback_url);
        free(g.tasks[i]->request);
        free(g.tasks[i]);
    }
    free(g.tasks);
    for (int i = 0; i < g.n_models; i++)
        free(g.models[i]);
    free(g.models);
    free(g.videos);
    free(g.markers);
    free(g.creates);
    while (g.cb_head) {
        cb_item *n = g.cb_head->next;
        free(g.cb_head->url);
        free(g.cb_head->body);
        free(g.cb_head);
        g.cb_head = n;
    }
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv)) return 2;
    vg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "%s", g.o.listen);
    char host[256];
    int port = 0;
    if (vg_config_listen_addr(&cfg, host, sizeof host, &port)) {
        fprintf(stderr, "ark-sim: invalid --listen %s\n", g.o.listen);
        return 2;
    }
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cb_wake, NULL);
    vg_random_bytes(&g.rng, sizeof g.rng);
    unsigned char raw[32];
    vg_random_bytes(raw, sizeof raw);
    for (int i = 0; i < 32; i++)
        snprintf(g.secret + 2 * i, 3, "%02x", raw[i]);
    snprintf(g.base_url, sizeof g.base_url, "http://%s", g.o.listen);
    snprintf(g.videos_dir, sizeof g.videos_dir, "%s/videos", g.o.data);
    if (vg_mkdir_p(g.videos_dir, 0700)) {
        fprintf(stderr, "ark-sim: cannot create %s: %s\n", g.videos_dir, strerror(errno));
        return 1;
    }
    g.creates = vg_calloc(MAX_CREATE_LOG, sizeof *g.creates);
    setup_models();
    if (g.o.faults[0] && (g.n_rules = parse_rules(g.o.faults, g.rules, MAX_RULES)) < 0) {
        fprintf(stderr, "ark-sim: invalid --faults\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_t ticker, callbacks;
    pthread_create(&ticker, NULL, ticker_main, NULL);
    pthread_create(&callbacks, NULL, callback_main, NULL);
    vg_server_opts so = {.host = host,
                         .port = port,
                         .threads = g.o.threads > 0 ? g.o.threads : 2,
                         .max_body_bytes = 64u << 20,
                         .max_connections = 4096,
                         .request_timeout_ms = 60000,
                         .router = {g_routes, sizeof g_routes / sizeof g_routes[0]},
                         .app = &g,
                         .open_store = NULL,
                         .on_loop_stop = on_loop_stop};
    char err[256];
    int rc = vg_server_run(&so, &g_stop, err, sizeof err);
    if (rc) fprintf(stderr, "ark-sim: %s\n", err);
    g_stop = 1;
    pthread_mutex_lock(&g.lock);
    pthread_cond_broadcast(&g.cb_wake);
    pthread_mutex_unlock(&g.lock);
    pthread_join(ticker, NULL);
    pthread_join(callbacks, NULL);
    cleanup();
    return rc ? 1 : 0;
}
