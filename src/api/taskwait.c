/*
 * taskwait.c - see taskwait.h.
 *
 * The handler validates the query, then parks the request (http/longpoll.h) with what the caller
 * saw; every check, the first included, runs in check(): load the task, answer when it is final
 * or differs, else stay parked. Parking subscribes before that first load, so no commit can fall
 * between the load and the subscription unnoticed. A request that cannot be parked is answered
 * at once. When a change wakes many waiters of one task on a loop, the first check reads the task
 * and leaves it, and each body it renders, in the wake's shared slot: the others answer from it
 * (one store read per task per loop wake, one render per view).
 */
#include "api/taskwait.h"

#include "api/handlers.h"
#include "api/task_json.h"
#include "common/limits.h"
#include "http/longpoll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETAG_MAX 64

typedef struct {
    const vg_taskwait_view *view; /* static tables of the routes */
    bool have_seen;               /* seen_etag or since holds what the caller saw */
    bool by_status;               /* compare ?since= with the status only */
    char seen[ETAG_MAX];          /* an ETag, or a status name of the view */
} wait_state;

static void etag_of(const vg_task *t, char out[ETAG_MAX])
{
    snprintf(out, ETAG_MAX, "W/\"%s.%d\"", vg_task_status_public(t->status), t->progress);
}

/* What one wake read and wrote, shared by the waiters of one task on one loop (http/longpoll.h):
 * the task as one caller loaded it through one view's load, and the reply body per view. Tasks
 * belong to one key, so its waiters are all that key's; the key and the load are kept anyway, and
 * a waiter that is not the same caller reads for itself. */
#define SHARED_BODIES 4
typedef struct {
    int (*load)(vg_ctx *c, const char *id, vg_task *t);
    char key_id[sizeof((vg_key *)0)->id];
    vg_task t;
    int n_bodies;
    struct {
        const vg_taskwait_view *view;
        char *text;
        size_t len;
    } bodies[SHARED_BODIES];
} shared_read;

static void shared_free(void *p)
{
    shared_read *sr = p;
    vg_task_free(&sr->t);
    for (int i = 0; i < sr->n_bodies; i++)
        free(sr->bodies[i].text);
    free(sr);
}

/* The wake's read when it is c's own through view, else NULL. */
static shared_read *shared_of(vg_ctx *c, const vg_taskwait_view *view)
{
    vg_wait_shared *slot = vg_longpoll_shared();
    shared_read *sr = slot && slot->free_fn == shared_free ? slot->data : NULL;
    if (!sr || sr->load != view->load || strcmp(sr->key_id, c->key.id)) return NULL;
    return sr;
}

/* Moves t into the wake's slot when it is empty and returns it there; else NULL (t stays c's). */
static shared_read *share(vg_ctx *c, const vg_taskwait_view *view, vg_task *t)
{
    vg_wait_shared *slot = vg_longpoll_shared();
    if (!slot || slot->data) return NULL;
    shared_read *sr = calloc(1, sizeof *sr);
    if (!sr) return NULL;
    sr->load = view->load;
    snprintf(sr->key_id, sizeof sr->key_id, "%s", c->key.id);
    sr->t = *t;
    slot->data = sr;
    slot->free_fn = shared_free;
    return sr;
}

/* The reply body of t as view shows it: in buf, or malloc'd in *heap (caller frees); NULL when
 * out of memory. */
static const char *body_of(vg_ctx *c, const vg_taskwait_view *view, const vg_task *t,
                           char buf[VG_TASK_JSON_BUF_BYTES], size_t *len, char **heap)
{
    *heap = NULL;
    /* The native object is the one clients poll: written directly, without building it, unless it
     * carries the state of a webhook delivery. */
    bool native = view->render == vg_task_json;
    json_t *hook = native ? vg_api_webhook_state(c, t->id) : NULL;
    if (native && !hook && vg_task_json_write(c->app, t, buf, VG_TASK_JSON_BUF_BYTES, len) == VG_OK)
        return buf;
    json_t *j = view->render(c->app, t);
    if (hook) json_object_set_new(j, "webhook", hook);
    *heap = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (*heap) *len = strlen(*heap);
    return *heap;
}

/* Replies with t as view shows it; with sr (the wake's read of t), renders once per view. */
static void reply_task(vg_ctx *c, const vg_taskwait_view *view, const vg_task *t, shared_read *sr)
{
    char etag[ETAG_MAX];
    etag_of(t, etag);
    vg_ctx_header(c, "etag", etag);
    for (int i = 0; sr && i < sr->n_bodies; i++)
        if (sr->bodies[i].view == view) {
            vg_reply_json_text(c, 200, sr->bodies[i].text, sr->bodies[i].len);
            return;
        }
    char buf[VG_TASK_JSON_BUF_BYTES];
    char *heap;
    size_t len;
    const char *text = body_of(c, view, t, buf, &len, &heap);
    if (!text) {
        vg_reply_internal(c);
        return;
    }
    vg_reply_json_text(c, 200, text, len);
    if (sr && sr->n_bodies < SHARED_BODIES) {
        char *copy = heap ? heap : malloc(len);
        if (copy) {
            if (!heap) memcpy(copy, text, len);
            sr->bodies[sr->n_bodies].view = view;
            sr->bodies[sr->n_bodies].text = copy;
            sr->bodies[sr->n_bodies].len = len;
            sr->n_bodies++;
            return;
        }
    }
    free(heap);
}

static bool differs(const wait_state *w, const vg_task *t)
{
    if (w->by_status) return strcmp(w->view->status_name(t->status), w->seen) != 0;
    char etag[ETAG_MAX];
    etag_of(t, etag);
    return strcmp(etag, w->seen) != 0;
}

static bool check(vg_ctx *c, void *data, vg_wait_event ev)
{
    wait_state *w = data;
    shared_read *sr = shared_of(c, w->view);
    vg_task own;
    if (!sr) {
        if (w->view->load(c, c->params[0], &own)) return true; /* it replied (404, 500) */
        sr = share(c, w->view, &own);
    }
    const vg_task *t = sr ? &sr->t : &own;
    bool answer = ev != VG_WAIT_CHANGED || vg_task_status_final(t->status);
    if (!answer && !w->have_seen) {
        /* No ETag nor ?since=: the caller waits for the next change from the task as it is. */
        etag_of(t, w->seen);
        w->have_seen = true;
    } else if (!answer) {
        answer = differs(w, t);
    }
    if (answer) reply_task(c, w->view, t, sr);
    if (!sr) vg_task_free(&own);
    return answer;
}

/* If-None-Match as this API writes ETags: one value, W/ optional. */
static void seen_etag(vg_ctx *c, wait_state *w)
{
    const char *v = vg_ctx_req_header(c, "if-none-match");
    if (!v || !*v) return;
    if (strncmp(v, "W/", 2) == 0) v += 2;
    snprintf(w->seen, sizeof w->seen, "W/%s", v);
    w->have_seen = true;
}

static int seen_status(vg_ctx *c, wait_state *w)
{
    const char *since = vg_ctx_query(c, "since");
    if (!since) return 0;
    for (int s = 0; s < VG_TASK_STATUS_COUNT; s++)
        if (!strcmp(w->view->status_name((vg_task_status)s), since)) {
            snprintf(w->seen, sizeof w->seen, "%s", since);
            w->have_seen = w->by_status = true;
            return 0;
        }
    return vg_reply_error(c, 400, "invalid_parameter", "since",
                          "since must be a status this route shows, e.g. %s",
                          w->view->status_name(VG_TASK_RUNNING)),
           -1;
}

int vg_api_get_task_waiting(vg_ctx *c, const vg_taskwait_view *view)
{
    int64_t wait_s;
    if (vg_ctx_query_int(c, "wait", 0, VG_MAX_WAIT_S, 0, &wait_s)) return 0;
    wait_state w = {.view = view};
    if (seen_status(c, &w)) return 0;
    if (!w.have_seen) seen_etag(c, &w);
    if (wait_s > 0 && vg_longpoll_park(c, c->params[0], (int)wait_s, check, &w, sizeof w) == VG_OK)
        return 0;
    /* The task and its webhook delivery from one snapshot, in one read transaction. */
    vg_task t;
    vg_store_read_begin(c->store);
    if (view->load(c, c->params[0], &t)) {
        vg_store_read_end(c->store);
        return 0;
    }
    reply_task(c, view, &t, NULL);
    vg_store_read_end(c->store);
    vg_task_free(&t);
    return 0;
}
