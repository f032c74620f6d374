/*
 * upstream.c - the upstream loop of upstream.h (read its design note first).
 *
 * Layout: the scheduler's round (route, then plan each kind of due work into jobs), the job
 * queue and the in-flight set, the workers, and one handler per job kind (a table). A handler
 * reads nothing from memory that the store does not also hold, except the per-channel runtime
 * state (cool-down, request budget, learned run time), which only shapes timing.
 */
#include "dispatch/upstream.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"
#include "core/asset.h"
#include "core/presign.h"
#include "net/fetch.h"
#include "providers/ark.h"
#include "providers/media.h"
#include "providers/thumb.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUND_BUSY_MS    100
#define ROUND_IDLE_MS    500
#define ROUTE_LIMIT      200
#define DUE_LIMIT        1000
#define RESOLVE_DELAY_MS 1000 /* first lookup of a lost submit */
#define LOOKUP_GAP_MS    2000 /* between the two lookups that must both miss */
#define LOOKUPS_TO_GIVE  2
#define CLEANUP_RETRY_MS 30000
#define DOWNLOAD_FAILS   2 /* failed downloads before the result URL is refreshed */
#define INFLIGHT_BUCKETS 4096

#define ACTIVE_UP (VG_TASK_BIT(VG_TASK_DISPATCHING) | VG_TASK_BIT(VG_TASK_RUNNING))
#define FINAL     VG_TASK_SET_FINAL
#define ANY       VG_TASK_SET_ALL

typedef enum {
    JOB_SUBMIT,
    JOB_RESOLVE,
    JOB_POLL,
    JOB_FINALIZE,
    JOB_CLEANUP,
    JOB_KIND_COUNT
} job_kind;

typedef struct job {
    struct job *next;
    job_kind kind;
    vg_channels *set; /* a reference */
    int ch;           /* index in set, -1 when the channel is gone */
    size_t n;
    vg_up_row *rows; /* owned */
} job;

/* Runtime state of a channel, kept by name across reloads. */
typedef struct {
    char name[64];
    int64_t cooldown_until;
    double tokens;
    int64_t refilled_at;
    double expected_ms; /* learned run time (accepted → succeeded seen) */
    int faults;         /* consecutive transient refusals */
} ch_state;

typedef struct inflight {
    struct inflight *next;
    char id[48];
} inflight;

struct vg_upstream {
    const vg_app *app;
    vg_store *(*open_store)(void *app);
    void (*notify_local)(void *ud);
    void *ud;
    pthread_mutex_t lock;
    pthread_cond_t sched_wake, work_wake;
    bool wake_pending;
    atomic_bool stopping;
    vg_channels *set;
    volatile sig_atomic_t *reload_flag;
    ch_state st[VG_MAX_CHANNELS]; /* parallel to set->ch */
    job *head, *tail;
    int queued, queue_cap;
    inflight *busy[INFLIGHT_BUCKETS];
    pthread_t sched;
    pthread_t *workers;
    int n_workers;
    uint32_t rng;
};

typedef struct {
    vg_upstream *u;
    vg_store *s;
    vg_http_client *hc;
} worker;

/* ---- small helpers ------------------------------------------------------------------------ */

static uint32_t next_rand(vg_upstream *u) /* under u->lock */
{
    u->rng = u->rng * 1664525u + 1013904223u;
    return u->rng >> 4;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Exponential backoff from base, capped, with ±20 % jitter. */
static int64_t backoff(vg_upstream *u, int n, int64_t base, int64_t cap)
{
    int64_t d = base;
    for (int i = 0; i < n && d < cap; i++)
        d *= 2;
    d = clamp64(d, base, cap);
    pthread_mutex_lock(&u->lock);
    int64_t j = (int64_t)(next_rand(u) % 41) - 20;
    pthread_mutex_unlock(&u->lock);
    return d + d * j / 100;
}

static bool past_deadline(const vg_upstream *u, const vg_up_row *r, int64_t now_ms)
{
    return r->created_at + u->app->cfg->upstream_task_ttl_s < now_ms / 1000;
}

static vg_upstream_endpoint endpoint(const vg_channel *c)
{
    return (vg_upstream_endpoint){.name = c->name,
                                  .base_url = c->base_url,
                                  .api_key = c->api_key,
                                  .timeout_ms = c->timeout_ms};
}

static ch_state *state_of(vg_upstream *u, const char *name) /* under u->lock */
{
    for (int i = 0; i < u->set->n; i++)
        if (!strcmp(u->st[i].name, name)) return &u->st[i];
    return NULL;
}

static void ch_cooldown(vg_upstream *u, const char *name, int64_t until, bool fault)
{
    pthread_mutex_lock(&u->lock);
    ch_state *c = state_of(u, name);
    if (c && until > c->cooldown_until) c->cooldown_until = until;
    if (c) c->faults = fault ? c->faults + 1 : 0;
    pthread_mutex_unlock(&u->lock);
}

static int ch_faults(vg_upstream *u, const char *name)
{
    pthread_mutex_lock(&u->lock);
    ch_state *c = state_of(u, name);
    int n = c ? c->faults : 0;
    pthread_mutex_unlock(&u->lock);
    return n;
}

static double ch_expected(vg_upstream *u, const char *name)
{
    pthread_mutex_lock(&u->lock);
    ch_state *c = state_of(u, name);
    double e = c ? c->expected_ms : 60000;
    pthread_mutex_unlock(&u->lock);
    return e;
}

static void ch_learn(vg_upstream *u, const char *name, int64_t sample_ms)
{
    pthread_mutex_lock(&u->lock);
    ch_state *c = state_of(u, name);
    if (c && sample_ms > 0) c->expected_ms = 0.8 * c->expected_ms + 0.2 * (double)sample_ms;
    pthread_mutex_unlock(&u->lock);
}

/* The request budget: a token bucket per channel (rate requests_per_s, burst twice that). */
static bool ch_take(vg_upstream *u, const vg_channel *ch, bool force)
{
    pthread_mutex_lock(&u->lock);
    ch_state *c = state_of(u, ch->name);
    bool ok = true;
    if (c) {
        int64_t now = vg_mono_ms();
        double cap = ch->requests_per_s * 2 < 1 ? 1 : ch->requests_per_s * 2;
        c->tokens += (double)(now - c->refilled_at) * ch->requests_per_s / 1000.0;
        if (c->tokens > cap) c->tokens = cap;
        c->refilled_at = now;
        ok = force || c->tokens >= 1;
        if (ok) c->tokens -= 1; /* forced calls (fallback GETs) may run into debt */
    }
    pthread_mutex_unlock(&u->lock);
    return ok;
}

/* When to poll a task next: half the time left to its expected finish, within the configured
 * bounds; past the expected finish the interval grows slowly again. */
static int64_t next_poll(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now)
{
    const vg_config *cfg = u->app->cfg;
    int64_t start = r->accepted_at_ms > 0 ? r->accepted_at_ms : now;
    int64_t eta = start + (int64_t)ch_expected(u, ch->name);
    int64_t iv = eta > now ? (eta - now) / 2 : cfg->upstream_poll_min_ms + (now - eta) / 4;
    iv = clamp64(iv, cfg->upstream_poll_min_ms, cfg->upstream_poll_max_ms);
    pthread_mutex_lock(&u->lock);
    int64_t j = (int64_t)(next_rand(u) % 21) - 10;
    pthread_mutex_unlock(&u->lock);
    return now + iv + iv * j / 100;
}

/* A progress figure for a running upstream task (Ark reports none): elapsed / expected. */
static int estimate_progress(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now)
{
    if (!r->accepted_at_ms) return -1;
    double p = 5.0 + 90.0 * (double)(now - r->accepted_at_ms) / ch_expected(u, ch->name);
    return p > 95 ? 95 : (int)p;
}

/* ---- in-flight set and job queue ----------------------------------------------------------- */

static unsigned bucket(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % INFLIGHT_BUCKETS;
}

static bool busy_has(vg_upstream *u, const char *id) /* under u->lock */
{
    for (inflight *f = u->busy[bucket(id)]; f; f = f->next)
        if (!strcmp(f->id, id)) return true;
    return false;
}

static void busy_add(vg_upstream *u, const char *id) /* under u->lock */
{
    inflight *f = vg_calloc(1, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    unsigned b = bucket(id);
    f->next = u->busy[b];
    u->busy[b] = f;
}

static void busy_remove(vg_upstream *u, const char *id) /* under u->lock */
{
    for (inflight **p = &u->busy[bucket(id)]; *p; p = &(*p)->next)
        if (!strcmp((*p)->id, id)) {
            inflight *f = *p;
            *p = f->next;
            free(f);
            return;
        }
}

static void job_free(job *j)
{
    for (size_t i = 0; i < j->n; i++)
        vg_up_row_free(&j->rows[i]);
    free(j->rows);
    vg_channels_unref(j->set);
    free(j);
}

static bool queue_full(vg_upstream *u)
{
    pthread_mutex_lock(&u->lock);
    bool full = u->queued >= u->queue_cap;
    pthread_mutex_unlock(&u->lock);
    return full;
}

/* Leases the rows (so later rounds skip them), marks them in flight and queues the job. */
static void enqueue(vg_upstream *u, vg_store *s, job *j, int64_t lease_ms)
{
    int64_t now = vg_now_ms();
    vg_up_update *ls = vg_calloc(j->n, sizeof *ls);
    for (size_t i = 0; i < j->n; i++) {
        ls[i] = vg_up_update_for(j->rows[i].task_id, ANY);
        ls[i].next_poll_at = now + lease_ms;
    }
    if (j->kind != JOB_SUBMIT && s->ops->upstream_update(s, ls, j->n, now / 1000) != VG_OK)
        vg_warn("upstream: cannot lease %zu task(s)", j->n);
    free(ls);
    pthread_mutex_lock(&u->lock);
    for (size_t i = 0; i < j->n; i++)
        busy_add(u, j->rows[i].task_id);
    if (u->tail)
        u->tail->next = j;
    else
        u->head = j;
    u->tail = j;
    u->queued++;
    pthread_cond_signal(&u->work_wake);
    pthread_mutex_unlock(&u->lock);
}

static job *job_new(vg_upstream *u, job_kind kind, int ch, size_t n)
{
    job *j = vg_calloc(1, sizeof *j);
    j->kind = kind;
    j->ch = ch;
    j->rows = vg_calloc(n, sizeof *j->rows);
    pthread_mutex_lock(&u->lock);
    j->set = vg_channels_ref(u->set);
    pthread_mutex_unlock(&u->lock);
    return j;
}

/* ---- store helpers used by the handlers ---------------------------------------------------- */

static void fail_task(vg_store *s, const vg_up_row *r, const char *code, const char *msg)
{
    int rc = s->ops->task_fail(s, r->task_id, code, msg, vg_now_s());
    if (rc == VG_OK)
        vg_info("task %s failed: %s: %s", r->task_id, code, msg);
    else if (rc != VG_CONFLICT)
        vg_warn("task %s: cannot record failure (%d)", r->task_id, rc);
}

/* The upstream task is final (or never existed): nothing left to cancel. */
static void close_upstream(vg_store *s, const vg_up_row *r)
{
    vg_up_update c = vg_up_update_for(r->task_id, ANY);
    c.open = 0;
    s->ops->upstream_update(s, &c, 1, vg_now_s());
}

static void reschedule(vg_store *s, const vg_up_row *r, vg_task_status_set from, int64_t at,
                       int poll_errors, int lookups)
{
    vg_up_update c = vg_up_update_for(r->task_id, from);
    c.next_poll_at = at;
    c.poll_errors = poll_errors;
    c.lookups = lookups;
    s->ops->upstream_update(s, &c, 1, vg_now_s());
}

/* The submit of r's attempt created upstream_id: record it; if the task ended meanwhile
 * (cancelled while dispatching), keep the id so that cleanup cancels the upstream task. */
static void accepted(worker *w, const vg_channel *ch, vg_up_row *r, const char *upstream_id,
                     const char *outcome)
{
    int64_t now = vg_now_ms();
    w->s->ops->upstream_attempt_end(w->s, r->attempt_id, outcome, upstream_id, 200, "", now);
    r->accepted_at_ms = now;
    vg_up_update a = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_DISPATCHING));
    a.attempt_id = r->attempt_id;
    a.upstream_always = true;
    a.upstream_id = upstream_id;
    a.upstream_status = "queued";
    a.accepted_at_ms = now;
    a.next_poll_at = next_poll(w->u, ch, r, now);
    a.poll_errors = a.lookups = 0;
    if (w->s->ops->upstream_update(w->s, &a, 1, now / 1000) != VG_OK) {
        vg_warn("task %s: cannot record upstream id %s", r->task_id, upstream_id);
        return;
    }
    vg_info("task %s accepted by %s as %s (%s)", r->task_id, ch->name, upstream_id, outcome);
    if (!a.applied) {
        reschedule(w->s, r, FINAL, now, -1, -1);
        vg_upstream_notify(w->u);
    }
}

/* ---- job: submit --------------------------------------------------------------------------- */

static void callback_url(const vg_app *app, const vg_up_row *r, char *out, size_t cap)
{
    out[0] = '\0';
    if (app->cfg->public_url[0] && r->callback_token[0])
        snprintf(out, cap, "%s" VG_UPSTREAM_CALLBACK_PREFIX "%s?token=%s", app->public_url,
                 r->task_id, r->callback_token);
}

/* A transient refusal: cool the channel down, send the task back to routing. */
static void submit_transient(worker *w, const vg_channel *ch, vg_up_row *r, const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    int64_t cool = e->retry_after_s >= 0 ? (int64_t)e->retry_after_s * 1000
                   : e->channel_fault    ? 60000
                                         : backoff(w->u, ch_faults(w->u, ch->name), 1000, 60000);
    ch_cooldown(w->u, ch->name, now + cool, true);
    vg_info("task %s: %s refused it for now (%s, HTTP %ld); channel cools down %lld ms", r->task_id,
            ch->name, e->code, e->http_status, (long long)cool);
    if (r->retries + 1 >= VG_UPSTREAM_MAX_RETRIES) {
        fail_task(w->s, r, "upstream_unavailable", "no channel accepted the task");
        close_upstream(w->s, r);
        return;
    }
    int64_t not_before = now + backoff(w->u, r->retries, 250, 10000);
    if (w->s->ops->upstream_requeue(w->s, r->task_id, r->attempt_id, not_before, ch->name, true,
                                    now / 1000) == VG_CONFLICT)
        close_upstream(w->s, r); /* cancelled meanwhile; nothing was created */
    vg_upstream_notify(w->u);
}

static void submit_outcome(worker *w, const vg_channel *ch, vg_up_row *r, const char *id,
                           const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    static const char *const outcome[] = {[VG_UP_OK] = "accepted",
                                          [VG_UP_REFUSED] = "refused",
                                          [VG_UP_TRANSIENT] = "transient",
                                          [VG_UP_AMBIGUOUS] = "ambiguous",
                                          [VG_UP_NOTFOUND] = "refused"};
    if (e->cls == VG_UP_OK) {
        ch_cooldown(w->u, ch->name, 0, false);
        accepted(w, ch, r, id, "accepted");
        return;
    }
    char detail[340];
    snprintf(detail, sizeof detail, "%s: %s", e->code, e->message);
    w->s->ops->upstream_attempt_end(w->s, r->attempt_id, outcome[e->cls], NULL, e->http_status,
                                    detail, now);
    switch (e->cls) {
    case VG_UP_TRANSIENT:
        submit_transient(w, ch, r, e);
        break;
    case VG_UP_AMBIGUOUS:
        /* Maybe created: never resubmit before the list says it was not. */
        vg_info("task %s: submit to %s unanswered (%s); looking it up before any retry", r->task_id,
                ch->name, e->code);
        reschedule(w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING), now + RESOLVE_DELAY_MS, -1, 0);
        break;
    default:
        fail_task(w->s, r, e->code, e->message);
        close_upstream(w->s, r);
        break;
    }
}

/* asset:// media mean nothing to an upstream: images and audio travel inline as data: URLs,
 * videos as presigned vidgate URLs (which the upstream must be able to reach: public_url). */
static int inline_assets(const vg_app *app, vg_task_spec *s, const char **code, char *msg, size_t n)
{
    for (int i = 0; i < s->n_media; i++) {
        vg_media *m = &s->media[i];
        char *url = NULL, id[VG_ASSET_ID_MAX], sha[65];
        if (strncmp(m->url, "asset://", 8)) continue;
        if (m->type == VG_MEDIA_VIDEO) {
            *code = "asset_unreachable";
            if (!app->cfg->public_url[0] || vg_asset_ref_parse(m->url, id, sha))
                return snprintf(msg, n,
                                "a video asset needs public_url for the upstream to "
                                "fetch it"),
                       VG_INVALID;
            url = vg_malloc(2048);
            vg_presign_url(app->secret, app->public_url, "assets", id, "content",
                           vg_now_s() + VG_ASSET_URL_TTL_S, url, 2048);
        } else {
            unsigned char *bytes = NULL;
            size_t len = 0;
            int rc = vg_media_load(app->cfg, m->url, &bytes, &len, code, msg, n);
            if (rc != VG_OK) return rc;
            char *b64 = vg_base64_encode(bytes, len);
            url = vg_asprintf("data:%s;base64,%s", vg_ark_sniff_mime(bytes, len), b64);
            free(b64);
            free(bytes);
        }
        free(m->url);
        m->url = url;
    }
    return VG_OK;
}

static void run_submit(worker *w, job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = &j->set->ch[j->ch];
    vg_task t;
    vg_task_spec spec;
    memset(&spec, 0, sizeof spec);
    if (w->s->ops->task_get(w->s, r->task_id, NULL, &t) != VG_OK) return;
    json_t *params = json_loads(t.params ? t.params : "", 0, NULL);
    int ok = params && vg_task_spec_from_json(params, &spec) == 0;
    json_decref(params);
    if (t.status != VG_TASK_DISPATCHING || !ok) {
        /* Cancelled before the call (nothing was sent), or unreadable. */
        w->s->ops->upstream_attempt_end(w->s, r->attempt_id, "not_sent", NULL, 0, "", vg_now_ms());
        if (!ok) fail_task(w->s, r, "internal_error", "stored task parameters are unreadable");
        close_upstream(w->s, r);
        goto out;
    }
    const char *code = NULL;
    char cb[1024], id[128] = "", why[256] = "";
    if (inline_assets(w->u->app, &spec, &code, why, sizeof why) != VG_OK) {
        w->s->ops->upstream_attempt_end(w->s, r->attempt_id, "not_sent", NULL, 0, why, vg_now_ms());
        fail_task(w->s, r, code ? code : "asset_not_found", why);
        close_upstream(w->s, r);
        goto out;
    }
    callback_url(w->u->app, r, cb, sizeof cb);
    vg_up_submit o = {.upstream_model = r->upstream_model,
                      .client_token = r->client_token,
                      .callback_url = cb[0] ? cb : NULL,
                      .expires_after_s =
                          clamp64(w->u->app->cfg->upstream_task_ttl_s, 3600, 259200)};
    vg_upstream_endpoint ep = endpoint(ch);
    vg_up_error e;
    ch->provider->upstream->submit(&ep, w->hc, &t, &spec, &o, id, sizeof id, &e);
    submit_outcome(w, ch, r, id, &e);
out:
    vg_task_spec_free(&spec);
    vg_task_free(&t);
}

/* ---- job: resolve a submit whose outcome is unknown ---------------------------------------- */

static void run_resolve(worker *w, job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    int64_t now = vg_now_ms();
    if (!ch || past_deadline(w->u, r, now)) {
        fail_task(w->s, r, "expired",
                  ch ? "the task did not finish in time"
                     : "the task's channel is no longer configured");
        reschedule(w->s, r, FINAL, now, -1, 0); /* cleanup still looks for it */
        return;
    }
    vg_upstream_endpoint ep = endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    ch->provider->upstream->find(&ep, w->hc, r->upstream_model, r->client_token,
                                 r->attempt_started_ms / 1000, &ut, &e);
    if (e.cls == VG_UP_OK) {
        accepted(w, ch, r, ut.id, "found");
    } else if (e.cls == VG_UP_NOTFOUND && r->lookups + 1 < LOOKUPS_TO_GIVE) {
        reschedule(w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING), now + LOOKUP_GAP_MS, -1,
                   r->lookups + 1);
    } else if (e.cls == VG_UP_NOTFOUND) {
        /* Two clean misses, LOOKUP_GAP_MS apart: the lost submit created nothing. */
        vg_info("task %s: lost submit to %s not found upstream; submitting again", r->task_id,
                ch->name);
        w->s->ops->upstream_attempt_end(w->s, r->attempt_id, "not_found", NULL, 0, "", now);
        if (r->retries + 1 >= VG_UPSTREAM_MAX_RETRIES) {
            fail_task(w->s, r, "upstream_unavailable", "no channel accepted the task");
            close_upstream(w->s, r);
        } else if (w->s->ops->upstream_requeue(w->s, r->task_id, r->attempt_id, now, NULL, true,
                                               now / 1000) != VG_OK) {
            close_upstream(w->s, r);
        }
        vg_upstream_notify(w->u);
    } else {
        reschedule(w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING),
                   now + backoff(w->u, r->poll_errors, 1000, VG_UPSTREAM_MAX_BACKOFF_MS),
                   r->poll_errors + 1, -1);
    }
    vg_up_task_free(&ut);
}

/* ---- job: poll a batch --------------------------------------------------------------------- */

static char *result_json(const vg_up_task *t)
{
    json_t *j = json_pack("{s:s, s:s?, s:s?, s:I, s:s, s:s, s:I, s:i}", "id", t->id, "video_url",
                          t->video_url, "last_frame_url", t->last_frame_url, "tokens",
                          (json_int_t)t->tokens, "resolution", t->resolution, "ratio", t->ratio,
                          "seed", (json_int_t)t->seed, "duration", t->duration);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* An upstream final status other than success: the matching final status here, refunded. */
static void settle_unsuccessful(worker *w, const vg_up_row *r, const vg_up_task *t)
{
    if (t->status == VG_UP_CANCELLED && r->status == VG_TASK_DISPATCHING &&
        w->s->ops->task_cancel(w->s, r->task_id, r->key_id, vg_now_s()) == VG_OK)
        vg_info("task %s cancelled upstream", r->task_id);
    else if (t->status == VG_UP_CANCELLED)
        fail_task(w->s, r, "cancelled", "the upstream cancelled the task");
    else if (t->status == VG_UP_EXPIRED)
        fail_task(w->s, r, "expired", "the upstream task expired");
    else
        fail_task(w->s, r, t->error_code[0] ? t->error_code : "upstream_failed",
                  t->error_message[0] ? t->error_message : "the upstream task failed");
    close_upstream(w->s, r);
}

/* Turns what the upstream said about r into updates appended at u (returns how many) or a
 * final transition (returns 0). *result receives a string the caller frees after the update. */
static int apply(worker *w, const vg_channel *ch, const vg_up_row *r, const vg_up_task *t,
                 vg_up_update *u, char **result)
{
    int64_t now = vg_now_ms();
    int n = 0;
    if (t->status == VG_UP_SUCCEEDED && r->status == VG_TASK_DISPATCHING) {
        /* Never seen running: pass through running (the state machine's only way on). */
        u[n] = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_DISPATCHING));
        u[n++].to_status = VG_TASK_RUNNING;
    }
    u += n;
    *u = vg_up_update_for(r->task_id, ACTIVE_UP);
    u->upstream_status = vg_up_status_name(t->status);
    u->poll_errors = 0;
    switch (t->status) {
    case VG_UP_SUCCEEDED:
        *result = result_json(t);
        u->from = VG_TASK_BIT(VG_TASK_RUNNING);
        u->to_status = VG_TASK_FINALIZING;
        u->progress = 99;
        u->result = *result;
        u->open = 0;
        u->next_poll_at = now;
        ch_learn(w->u, ch->name, r->accepted_at_ms ? now - r->accepted_at_ms : 0);
        return n + 1;
    case VG_UP_FAILED:
    case VG_UP_CANCELLED:
    case VG_UP_EXPIRED:
        settle_unsuccessful(w, r, t);
        return 0;
    default:
        if (past_deadline(w->u, r, now)) { /* the upstream task stays open: cleanup cancels it */
            fail_task(w->s, r, "expired", "the task did not finish in time");
            reschedule(w->s, r, FINAL, now, -1, -1);
            return 0;
        }
        if (t->status == VG_UP_RUNNING || t->status == VG_UP_UNKNOWN) {
            u->to_status = r->status == VG_TASK_DISPATCHING ? VG_TASK_RUNNING : -1;
            u->progress = estimate_progress(w->u, ch, r, now);
        }
        u->next_poll_at = next_poll(w->u, ch, r, now);
        return 1;
    }
}

static void poll_failed(worker *w, const vg_up_row *r, const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    if (past_deadline(w->u, r, now)) {
        fail_task(w->s, r, "expired", "the task did not finish in time");
        reschedule(w->s, r, FINAL, now, -1, -1);
        return;
    }
    vg_debug("task %s: poll failed (%s)", r->task_id, e->code);
    reschedule(w->s, r, ACTIVE_UP,
               now + backoff(w->u, r->poll_errors, w->u->app->cfg->upstream_poll_min_ms,
                             w->u->app->cfg->upstream_poll_max_ms),
               r->poll_errors + 1, -1);
}

static void run_poll(worker *w, job *j)
{
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    if (!ch) {
        for (size_t i = 0; i < j->n; i++) {
            vg_up_error e = {.code = "channel_gone"};
            poll_failed(w, &j->rows[i], &e);
        }
        return;
    }
    vg_upstream_endpoint ep = endpoint(ch);
    const char **ids = vg_calloc(j->n, sizeof *ids);
    vg_up_task *out = vg_calloc(j->n, sizeof *out);
    bool *found = vg_calloc(j->n, sizeof *found);
    vg_up_update *ups = vg_calloc(2 * j->n, sizeof *ups);
    char **results = vg_calloc(j->n, sizeof *results);
    size_t n_ups = 0;
    for (size_t i = 0; i < j->n; i++)
        ids[i] = j->rows[i].upstream_id;
    vg_up_error e;
    ch->provider->upstream->poll(&ep, w->hc, ids, j->n, out, found, &e);
    for (size_t i = 0; i < j->n; i++) {
        vg_up_row *r = &j->rows[i];
        vg_up_error ge = e;
        if (e.cls == VG_UP_OK && !found[i] && ch_take(w->u, ch, true)) {
            /* Not in the list (older than its window, or a list quirk): ask for it alone. */
            ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &out[i], &ge);
            found[i] = ge.cls == VG_UP_OK;
        }
        if (ge.cls == VG_UP_NOTFOUND) {
            fail_task(w->s, r, "upstream_task_missing", "the upstream no longer knows the task");
            close_upstream(w->s, r);
        } else if (!found[i]) {
            poll_failed(w, r, &ge);
        } else {
            n_ups += (size_t)apply(w, ch, r, &out[i], &ups[n_ups], &results[i]);
        }
    }
    if (n_ups && w->s->ops->upstream_update(w->s, ups, n_ups, vg_now_s()) != VG_OK)
        vg_warn("upstream: cannot record %zu poll result(s)", n_ups);
    bool finalize = false;
    for (size_t i = 0; i < n_ups; i++)
        finalize = finalize || (ups[i].applied && ups[i].to_status == VG_TASK_FINALIZING);
    if (finalize) vg_upstream_notify(w->u);
    for (size_t i = 0; i < j->n; i++) {
        vg_up_task_free(&out[i]);
        free(results[i]);
    }
    free(ids), free(out), free(found), free(ups), free(results);
}

/* ---- job: download the result and complete -------------------------------------------------- */

typedef struct {
    const char *video_url, *last_frame_url, *resolution, *ratio;
    int64_t tokens, seed;
} result_view;

static int fetch(const vg_app *app, const vg_channel *ch, const char *url, const char *path,
                 char *err, size_t errlen)
{
    bool trusted = ch && vg_channel_trusts_url(ch, url);
    vg_fetch_opts fo = {.allow_http = trusted || app->cfg->allow_http_fetch,
                        .allow_private = trusted || app->cfg->allow_private_fetch};
    size_t len = 0;
    return vg_fetch_file(url, &fo, path, &len, NULL, err, errlen);
}

/* The produced size and its price (spec §7: the tier actually produced). */
static void fill_result(const vg_task *t, const vg_task_spec *spec, const result_view *v,
                        bool last_frame, vg_task_result *res, int64_t retention_s)
{
    int rq = vg_resolution_parse(v->resolution), qq = vg_ratio_parse(v->ratio);
    vg_resolution rr = rq >= 0 ? (vg_resolution)rq : t->resolution;
    vg_ratio q = qq >= 0 && qq != VG_RATIO_ADAPTIVE ? (vg_ratio)qq
                 : t->ratio != VG_RATIO_ADAPTIVE    ? t->ratio
                                                    : VG_RATIO_16_9;
    memset(res, 0, sizeof *res);
    vg_output_size(rr, q, &res->width, &res->height);
    res->ratio = q;
    res->seed = v->seed;
    res->tokens = v->tokens;
    const vg_model *m = vg_model_find(t->model);
    bool ref_video = vg_task_spec_has_role(spec, VG_ROLE_REFERENCE_VIDEO);
    res->cost_micro = t->test_mode || !m ? 0 : vg_price_micro(m, rr, ref_video, v->tokens);
    res->has_last_frame = last_frame;
    res->expires_at = vg_now_s() + retention_s;
}

static int publish(const vg_app *app, const char *tmp, const char *task_id)
{
    char final[1400];
    snprintf(final, sizeof final, "%s/%s", app->files_dir, task_id);
    vg_rm_rf(final);
    if (rename(tmp, final)) return -1;
    return vg_fsync_dir(app->files_dir);
}

/* Downloads into tmp; VG_OK, or the fetch status with a reason. */
static int download(worker *w, const vg_channel *ch, const result_view *v, const char *tmp,
                    bool *last_frame, char *err, size_t errlen)
{
    char path[1500];
    snprintf(path, sizeof path, "%s/video.mp4", tmp);
    if (!v->video_url) return snprintf(err, errlen, "the upstream offers no video URL"), VG_ERR;
    int rc = fetch(w->u->app, ch, v->video_url, path, err, errlen);
    if (rc != VG_OK) return rc;
    char thumb[1500], why[160] = "";
    snprintf(thumb, sizeof thumb, "%s/thumbnail.jpg", tmp);
    if (vg_video_thumbnail(path, thumb, why, sizeof why) != VG_OK) /* not a playable video */
        return snprintf(err, errlen, "the downloaded result is not a video: %s", why), VG_ERR;
    snprintf(path, sizeof path, "%s/last_frame.png", tmp);
    *last_frame = v->last_frame_url &&
                  fetch(w->u->app, ch, v->last_frame_url, path, why, sizeof why) == VG_OK;
    if (v->last_frame_url && !*last_frame)
        vg_warn("task: the last frame could not be downloaded: %s", why);
    return VG_OK;
}

/* Completes the task from the downloaded files. */
static void complete(worker *w, const vg_up_row *r, const result_view *v, bool last_frame,
                     const char *tmp)
{
    vg_task t;
    vg_task_spec spec;
    memset(&spec, 0, sizeof spec);
    if (w->s->ops->task_get(w->s, r->task_id, NULL, &t) != VG_OK) return;
    json_t *params = json_loads(t.params ? t.params : "", 0, NULL);
    if (params) vg_task_spec_from_json(params, &spec);
    json_decref(params);
    vg_task_result res;
    fill_result(&t, &spec, v, last_frame, &res, w->u->app->cfg->retention_s);
    if (publish(w->u->app, tmp, r->task_id)) {
        vg_warn("task %s: cannot move the result into place: %s", r->task_id, strerror(errno));
        fail_task(w->s, r, "internal_error", "could not store the result");
    } else if (w->s->ops->task_complete(w->s, r->task_id, &res, vg_now_s()) == VG_OK) {
        vg_info("task %s completed upstream: %dx%d, %lld tokens", r->task_id, res.width, res.height,
                (long long)res.tokens);
    }
    vg_task_spec_free(&spec);
    vg_task_free(&t);
}

/* After repeated download failures: ask the upstream for the task again (a fresh URL). */
static void refresh_result(worker *w, const vg_channel *ch, const vg_up_row *r)
{
    vg_upstream_endpoint ep = endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    ch_take(w->u, ch, true);
    ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &ut, &e);
    if (e.cls == VG_UP_OK && ut.status == VG_UP_SUCCEEDED && ut.video_url) {
        char *res = result_json(&ut);
        vg_up_update c = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_FINALIZING));
        c.result = res;
        c.poll_errors = 0;
        c.next_poll_at = vg_now_ms();
        w->s->ops->upstream_update(w->s, &c, 1, vg_now_s());
        free(res);
    } else if (e.cls == VG_UP_OK || e.cls == VG_UP_NOTFOUND) {
        fail_task(w->s, r, "result_unavailable", "the upstream no longer offers the result");
    } else {
        reschedule(w->s, r, VG_TASK_BIT(VG_TASK_FINALIZING), vg_now_ms() + 5000, r->poll_errors + 1,
                   -1);
    }
    vg_up_task_free(&ut);
}

static void run_finalize(worker *w, job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    json_t *res = json_loads(r->result ? r->result : "", 0, NULL);
    result_view v = {.video_url = json_string_value(json_object_get(res, "video_url")),
                     .last_frame_url = json_string_value(json_object_get(res, "last_frame_url")),
                     .resolution = json_string_value(json_object_get(res, "resolution")),
                     .ratio = json_string_value(json_object_get(res, "ratio")),
                     .tokens = json_integer_value(json_object_get(res, "tokens")),
                     .seed = json_integer_value(json_object_get(res, "seed"))};
    char tmp[1400], err[256] = "";
    snprintf(tmp, sizeof tmp, "%s/%s.up", w->u->app->tmp_dir, r->task_id);
    vg_rm_rf(tmp);
    bool last_frame = false;
    int rc =
        vg_mkdir_p(tmp, 0700) ? VG_ERR : download(w, ch, &v, tmp, &last_frame, err, sizeof err);
    int64_t now = vg_now_ms();
    if (rc == VG_OK) {
        complete(w, r, &v, last_frame, tmp);
    } else if (rc == VG_INVALID || !ch || past_deadline(w->u, r, now)) {
        fail_task(w->s, r, "result_unavailable", err[0] ? err : "the result cannot be fetched");
    } else if (r->poll_errors + 1 >= DOWNLOAD_FAILS && ch) {
        vg_info("task %s: result download failed (%s); asking for a fresh URL", r->task_id, err);
        refresh_result(w, ch, r);
    } else {
        vg_info("task %s: result download failed (%s); will retry", r->task_id, err);
        reschedule(w->s, r, VG_TASK_BIT(VG_TASK_FINALIZING),
                   now + backoff(w->u, r->poll_errors, 1000, 60000), r->poll_errors + 1, -1);
    }
    vg_rm_rf(tmp);
    json_decref(res);
}

/* ---- job: cancel an upstream task we no longer want ----------------------------------------- */

static void run_cleanup(worker *w, job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    int64_t now = vg_now_ms();
    if (!ch) { /* the channel is gone: nothing can be done */
        close_upstream(w->s, r);
        return;
    }
    vg_upstream_endpoint ep = endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    memset(&ut, 0, sizeof ut);
    if (!r->upstream_id[0]) { /* the submit's outcome was never learnt: find it first */
        ch->provider->upstream->find(&ep, w->hc, r->upstream_model, r->client_token,
                                     r->attempt_started_ms / 1000, &ut, &e);
        if (e.cls == VG_UP_OK) {
            vg_up_update c = vg_up_update_for(r->task_id, FINAL);
            c.upstream_id = ut.id;
            c.attempt_id = r->attempt_id;
            c.next_poll_at = now;
            w->s->ops->upstream_update(w->s, &c, 1, now / 1000);
            vg_upstream_notify(w->u);
        } else if (e.cls == VG_UP_NOTFOUND && r->lookups + 1 >= LOOKUPS_TO_GIVE) {
            close_upstream(w->s, r);
        } else {
            reschedule(w->s, r, FINAL, now + LOOKUP_GAP_MS, -1, r->lookups + 1);
        }
        vg_up_task_free(&ut);
        return;
    }
    ch->provider->upstream->cancel(&ep, w->hc, r->upstream_id, &e);
    if (e.cls == VG_UP_OK || e.cls == VG_UP_NOTFOUND) {
        vg_info("task %s: upstream task %s cancelled", r->task_id, r->upstream_id);
        close_upstream(w->s, r);
        return;
    }
    if (e.cls == VG_UP_REFUSED && ch_take(w->u, ch, true)) { /* running: refused until it ends */
        ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &ut, &e);
        bool over =
            e.cls == VG_UP_NOTFOUND || (e.cls == VG_UP_OK && ut.status != VG_UP_QUEUED &&
                                        ut.status != VG_UP_RUNNING && ut.status != VG_UP_UNKNOWN);
        vg_up_task_free(&ut);
        if (over)
            close_upstream(w->s, r);
        else
            reschedule(w->s, r, FINAL, now + CLEANUP_RETRY_MS, -1, -1);
        return;
    }
    reschedule(w->s, r, FINAL, now + backoff(w->u, r->poll_errors, 1000, 60000), -1, -1);
}

static void (*const g_run[JOB_KIND_COUNT])(worker *w, job *j) = {
    [JOB_SUBMIT] = run_submit,     [JOB_RESOLVE] = run_resolve, [JOB_POLL] = run_poll,
    [JOB_FINALIZE] = run_finalize, [JOB_CLEANUP] = run_cleanup,
};

static void *worker_main(void *arg)
{
    vg_upstream *u = arg;
    worker w = {.u = u, .s = u->open_store((void *)u->app), .hc = vg_http_client_new()};
    vg_http_client_set_abort(w.hc, &u->stopping);
    if (!w.s) vg_warn("upstream: a worker cannot open the store");
    while (w.s) {
        pthread_mutex_lock(&u->lock);
        while (!u->head && !atomic_load(&u->stopping))
            pthread_cond_wait(&u->work_wake, &u->lock);
        job *j = atomic_load(&u->stopping) ? NULL : u->head;
        if (j) {
            u->head = j->next;
            if (!u->head) u->tail = NULL;
            u->queued--;
        }
        pthread_mutex_unlock(&u->lock);
        if (!j) break;
        g_run[j->kind](&w, j);
        pthread_mutex_lock(&u->lock);
        for (size_t i = 0; i < j->n; i++)
            busy_remove(u, j->rows[i].task_id);
        pthread_mutex_unlock(&u->lock);
        job_free(j);
    }
    vg_http_client_free(w.hc);
    vg_store_close(w.s);
    return NULL;
}

/* ---- the scheduler -------------------------------------------------------------------------- */

static int channel_index(const vg_channels *set, const char *name)
{
    for (int i = 0; i < set->n; i++)
        if (!strcmp(set->ch[i].name, name)) return i;
    return -1;
}

static bool routes_everything_local(const vg_channels *set)
{
    return !set->any_upstream && set->local >= 0 && set->ch[set->local].n_models == 0;
}

/* Records the write-ahead attempt and queues the submit. */
static void start_attempt(vg_upstream *u, vg_store *s, const vg_channel *ch, int idx, vg_up_row *r)
{
    char attempt[VG_ID_MAX], token[72], cb[72];
    unsigned char raw[32];
    vg_id_new("att_", attempt);
    vg_random_bytes(raw, 8);
    snprintf(token, sizeof token, "%s.", r->key_id);
    for (int i = 0; i < 8; i++)
        snprintf(token + strlen(token), 3, "%02x", raw[i]);
    vg_random_bytes(raw, sizeof raw);
    for (int i = 0; i < 32; i++)
        snprintf(cb + 2 * i, 3, "%02x", raw[i]);
    const char *model = vg_channel_model(ch, r->model);
    int64_t now = vg_now_ms();
    vg_up_attempt a = {.task_id = r->task_id,
                       .attempt_id = attempt,
                       .channel = ch->name,
                       .upstream_model = model,
                       .client_token = token,
                       .callback_token = r->callback_token[0] ? r->callback_token : cb,
                       .now_ms = now,
                       .lease_until_ms = now + 2 * ch->timeout_ms + 5000};
    if (s->ops->upstream_begin(s, &a) != VG_OK) return; /* cancelled meanwhile */
    job *j = job_new(u, JOB_SUBMIT, idx, 1);
    j->n = 1;
    j->rows[0] = *r;
    j->rows[0].result = NULL;
    vg_up_row *jr = &j->rows[0];
    jr->status = VG_TASK_DISPATCHING;
    snprintf(jr->channel, sizeof jr->channel, "%s", ch->name);
    snprintf(jr->attempt_id, sizeof jr->attempt_id, "%s", attempt);
    snprintf(jr->client_token, sizeof jr->client_token, "%s", token);
    snprintf(jr->upstream_model, sizeof jr->upstream_model, "%s", model);
    snprintf(jr->callback_token, sizeof jr->callback_token, "%s", a.callback_token);
    jr->attempt_started_ms = now;
    enqueue(u, s, j, 0);
}

static void route(vg_upstream *u, vg_store *s, const vg_channels *set, int64_t *active)
{
    vg_up_row *rows = NULL;
    size_t n = 0;
    int64_t now = vg_now_ms(), cool[VG_MAX_CHANNELS];
    if (s->ops->upstream_due(s, VG_DUE_ROUTE, now, ROUTE_LIMIT, &rows, &n)) return;
    for (size_t i = 0; i < n && !queue_full(u); i++) {
        vg_up_row *r = &rows[i];
        if (past_deadline(u, r, now)) {
            fail_task(s, r, "expired", "no channel could take the task in time");
            continue;
        }
        pthread_mutex_lock(&u->lock);
        for (int k = 0; k < set->n; k++)
            cool[k] = u->st[k].cooldown_until;
        uint32_t rnd = next_rand(u);
        pthread_mutex_unlock(&u->lock);
        bool served = false;
        int k = vg_channel_pick(set, r->model, active, cool, now, r->avoid_channel, rnd, &served);
        if (!served) {
            fail_task(s, r, "model_unavailable", "no channel serves this model");
            continue;
        }
        if (k < 0) continue; /* every channel for it is full or cooling down: later */
        const vg_channel *ch = &set->ch[k];
        if (ch->type == VG_CH_LOCAL) {
            if (s->ops->task_route_local(s, r->task_id, ch->name, now / 1000) == VG_OK) {
                active[k]++;
                u->notify_local(u->ud);
            }
            continue;
        }
        if (!ch_take(u, ch, false)) continue; /* the channel's request budget is spent */
        start_attempt(u, s, ch, k, r);
        active[k]++;
    }
    for (size_t i = 0; i < n; i++)
        vg_up_row_free(&rows[i]);
    free(rows);
}

/* Lease per kind: long enough for the job's calls, short enough to recover from a lost job. */
static int64_t lease_for(job_kind kind, const vg_channel *ch)
{
    long t = ch ? ch->timeout_ms : VG_UPSTREAM_TIMEOUT_MS;
    if (kind == JOB_FINALIZE) return 2 * VG_FETCH_TIMEOUT_MS + 10000;
    if (kind == JOB_RESOLVE || kind == JOB_CLEANUP)
        return (VG_UPSTREAM_LOOKUP_PAGES + 2) * (int64_t)t + 5000;
    return 3 * (int64_t)t + 5000;
}

/* Groups due rows of one kind into jobs (polls: up to a batch per channel) and queues them. */
static int plan(vg_upstream *u, vg_store *s, const vg_channels *set, job_kind kind, vg_due_kind due,
                int64_t due_ms)
{
    vg_up_row *rows = NULL;
    size_t n = 0, batch = kind == JOB_POLL ? VG_UPSTREAM_POLL_BATCH : 1;
    int planned = 0;
    if (s->ops->upstream_due(s, due, due_ms, DUE_LIMIT, &rows, &n)) return 0;
    bool *taken = vg_calloc(n ? n : 1, sizeof *taken);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&u->lock);
        bool busy = busy_has(u, rows[i].task_id);
        pthread_mutex_unlock(&u->lock);
        if (taken[i] || busy) continue;
        int idx = channel_index(set, rows[i].channel);
        const vg_channel *ch = idx >= 0 ? &set->ch[idx] : NULL;
        if (queue_full(u) || (ch && kind != JOB_FINALIZE && !ch_take(u, ch, false))) continue;
        job *j = job_new(u, kind, idx, batch);
        for (size_t k = i; k < n && j->n < batch; k++) {
            if (taken[k] || strcmp(rows[k].channel, rows[i].channel)) continue;
            pthread_mutex_lock(&u->lock);
            busy = k != i && busy_has(u, rows[k].task_id);
            pthread_mutex_unlock(&u->lock);
            if (busy) continue;
            taken[k] = true;
            j->rows[j->n++] = rows[k];
            rows[k].result = NULL; /* moved into the job */
        }
        enqueue(u, s, j, lease_for(kind, ch));
        planned++;
    }
    for (size_t i = 0; i < n; i++)
        vg_up_row_free(&rows[i]);
    free(rows);
    free(taken);
    return planned;
}

static void load_active(vg_store *s, const vg_channels *set, int64_t *active)
{
    vg_channel_load *load = NULL;
    size_t n = 0;
    memset(active, 0, sizeof(int64_t) * VG_MAX_CHANNELS);
    if (s->ops->channel_load(s, &load, &n)) return;
    for (size_t i = 0; i < n; i++) {
        int k = channel_index(set, load[i].channel);
        if (k >= 0) active[k] = load[i].active;
    }
    free(load);
}

/* Rebuilds the per-channel runtime state for a new set, keeping what it knew by name. */
static void adopt_set(vg_upstream *u, vg_channels *set) /* under u->lock */
{
    ch_state fresh[VG_MAX_CHANNELS];
    memset(fresh, 0, sizeof fresh);
    for (int i = 0; i < set->n; i++) {
        const vg_channel *c = &set->ch[i];
        ch_state *old = u->set ? state_of(u, c->name) : NULL;
        if (old) {
            fresh[i] = *old;
        } else {
            snprintf(fresh[i].name, sizeof fresh[i].name, "%s", c->name);
            fresh[i].expected_ms = (double)c->expected_s * 1000;
            fresh[i].tokens = c->requests_per_s * 2 < 1 ? 1 : c->requests_per_s * 2;
            fresh[i].refilled_at = vg_mono_ms();
        }
    }
    memcpy(u->st, fresh, sizeof fresh);
    vg_channels *old = u->set;
    u->set = set;
    vg_channels_unref(old);
}

static void maybe_reload(vg_upstream *u)
{
    if (!u->reload_flag || !*u->reload_flag) return;
    *u->reload_flag = 0;
    const char *file = u->app->cfg->config_file;
    json_t *arr = NULL;
    char err[512];
    if (!file[0]) {
        vg_warn("SIGHUP: no configuration file to read channels from");
        return;
    }
    if (vg_config_read_channels(file, &arr, err, sizeof err)) {
        vg_warn("SIGHUP: channels not reloaded: %s", err);
        return;
    }
    vg_channels *set = vg_channels_build(arr, err, sizeof err);
    json_decref(arr);
    if (!set) {
        vg_warn("SIGHUP: channels not reloaded: %s", err);
        return;
    }
    vg_upstream_reload(u, set);
    vg_info("SIGHUP: %d channel(s) loaded", set->n);
}

/* One round; returns whether it found work. */
static bool round_once(vg_upstream *u, vg_store *s)
{
    maybe_reload(u);
    pthread_mutex_lock(&u->lock);
    vg_channels *set = vg_channels_ref(u->set);
    pthread_mutex_unlock(&u->lock);
    int64_t now = vg_now_ms(), active[VG_MAX_CHANNELS];
    int work = 0;
    if (!routes_everything_local(set)) {
        load_active(s, set, active);
        route(u, s, set, active);
    }
    work += plan(u, s, set, JOB_RESOLVE, VG_DUE_RESOLVE, now);
    work += plan(u, s, set, JOB_POLL, VG_DUE_POLL, now + u->app->cfg->upstream_poll_min_ms / 2);
    work += plan(u, s, set, JOB_FINALIZE, VG_DUE_FINALIZE, now);
    work += plan(u, s, set, JOB_CLEANUP, VG_DUE_CLEANUP, now);
    bool upstream = set->any_upstream;
    vg_channels_unref(set);
    return work > 0 || upstream;
}

static void *scheduler_main(void *arg)
{
    vg_upstream *u = arg;
    vg_store *s = u->open_store((void *)u->app);
    if (!s) {
        vg_warn("upstream: the scheduler cannot open the store");
        return NULL;
    }
    while (!atomic_load(&u->stopping)) {
        bool busy = round_once(u, s);
        pthread_mutex_lock(&u->lock);
        if (!u->wake_pending && !atomic_load(&u->stopping)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long ms = busy ? ROUND_BUSY_MS : ROUND_IDLE_MS;
            ts.tv_nsec += ms * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&u->sched_wake, &u->lock, &ts);
        }
        u->wake_pending = false;
        pthread_mutex_unlock(&u->lock);
    }
    vg_store_close(s);
    return NULL;
}

/* ---- public ---------------------------------------------------------------------------------- */

vg_upstream *vg_upstream_start(const vg_app *app, vg_channels *set,
                               vg_store *(*open_store)(void *app), void (*notify_local)(void *ud),
                               void *ud, char *err, size_t errlen)
{
    vg_store *s = open_store((void *)app);
    if (!s || s->ops->upstream_recover(s, vg_now_ms()) != VG_OK) {
        snprintf(err, errlen, "upstream: cannot recover upstream tasks");
        vg_store_close(s);
        vg_channels_unref(set);
        return NULL;
    }
    vg_store_close(s);
    vg_upstream *u = vg_calloc(1, sizeof *u);
    u->app = app;
    u->open_store = open_store;
    u->notify_local = notify_local;
    u->ud = ud;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->sched_wake, NULL);
    pthread_cond_init(&u->work_wake, NULL);
    vg_random_bytes(&u->rng, sizeof u->rng);
    adopt_set(u, set);
    int n = app->cfg->upstream_workers;
    n = n < 1 ? 1 : n > VG_UPSTREAM_MAX_WORKERS ? VG_UPSTREAM_MAX_WORKERS : n;
    u->queue_cap = 4 * n + 16;
    u->workers = vg_calloc((size_t)n, sizeof *u->workers);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&u->workers[i], NULL, worker_main, u)) break;
        u->n_workers++;
    }
    if (pthread_create(&u->sched, NULL, scheduler_main, u)) {
        snprintf(err, errlen, "upstream: cannot start the scheduler");
        vg_upstream_stop(u);
        return NULL;
    }
    vg_info("upstream: %d channel(s), %d worker(s)", set->n, u->n_workers);
    return u;
}

void vg_upstream_notify(vg_upstream *u)
{
    if (!u) return;
    pthread_mutex_lock(&u->lock);
    u->wake_pending = true;
    pthread_cond_signal(&u->sched_wake);
    pthread_mutex_unlock(&u->lock);
}

void vg_upstream_reload(vg_upstream *u, vg_channels *set)
{
    pthread_mutex_lock(&u->lock);
    adopt_set(u, set);
    u->wake_pending = true;
    pthread_cond_signal(&u->sched_wake);
    pthread_mutex_unlock(&u->lock);
}

void vg_upstream_watch_reload(vg_upstream *u, volatile sig_atomic_t *flag)
{
    pthread_mutex_lock(&u->lock);
    u->reload_flag = flag;
    pthread_mutex_unlock(&u->lock);
}

void vg_upstream_local_claim(vg_upstream *u, char name[64], bool *take_unrouted)
{
    pthread_mutex_lock(&u->lock);
    const vg_channels *set = u->set;
    snprintf(name, 64, "%s", set->local >= 0 ? set->ch[set->local].name : "local");
    *take_unrouted = routes_everything_local(set);
    pthread_mutex_unlock(&u->lock);
}

void vg_upstream_stop(vg_upstream *u)
{
    if (!u) return;
    pthread_mutex_lock(&u->lock);
    atomic_store(&u->stopping, true);
    pthread_cond_broadcast(&u->sched_wake);
    pthread_cond_broadcast(&u->work_wake);
    pthread_mutex_unlock(&u->lock);
    if (u->sched) pthread_join(u->sched, NULL);
    for (int i = 0; i < u->n_workers; i++)
        pthread_join(u->workers[i], NULL);
    while (u->head) {
        job *j = u->head;
        u->head = j->next;
        job_free(j);
    }
    for (int b = 0; b < INFLIGHT_BUCKETS; b++)
        while (u->busy[b]) {
            inflight *f = u->busy[b];
            u->busy[b] = f->next;
            free(f);
        }
    free(u->workers);
    vg_channels_unref(u->set);
    pthread_cond_destroy(&u->sched_wake);
    pthread_cond_destroy(&u->work_wake);
    pthread_mutex_destroy(&u->lock);
    free(u);
}
