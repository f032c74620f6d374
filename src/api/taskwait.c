/*
 * taskwait.c - see taskwait.h.
 *
 * The handler validates the query, then parks the request (http/longpoll.h) with what the caller
 * saw; every check, the first included, runs in check(): load the task, answer when it is final
 * or differs, else stay parked. Parking subscribes before that first load, so no commit can fall
 * between the load and the subscription unnoticed. A request that cannot be parked is answered
 * at once.
 */
#include "api/taskwait.h"

#include "api/handlers.h"
#include "api/task_json.h"
#include "common/limits.h"
#include "http/longpoll.h"

#include <stdio.h>
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

static void reply_task(vg_ctx *c, const vg_taskwait_view *view, const vg_task *t)
{
    char etag[ETAG_MAX];
    etag_of(t, etag);
    vg_ctx_header(c, "etag", etag);
    /* The native object is the one clients poll: written directly, without building it, unless it
     * carries the state of a webhook delivery. */
    bool native = view->render == vg_task_json;
    json_t *hook = native ? vg_api_webhook_state(c, t->id) : NULL;
    char buf[VG_TASK_JSON_BUF_BYTES];
    size_t len;
    if (native && !hook && vg_task_json_write(c->app, t, buf, sizeof buf, &len) == VG_OK) {
        vg_reply_json_text(c, 200, buf, len);
        return;
    }
    json_t *j = view->render(c->app, t);
    if (hook) json_object_set_new(j, "webhook", hook);
    vg_reply_json(c, 200, j);
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
    vg_task t;
    if (w->view->load(c, c->params[0], &t)) return true; /* it replied (404, 500) */
    bool answer = ev != VG_WAIT_CHANGED || vg_task_status_final(t.status);
    if (!answer && !w->have_seen) {
        /* No ETag nor ?since=: the caller waits for the next change from the task as it is. */
        etag_of(&t, w->seen);
        w->have_seen = true;
    } else if (!answer) {
        answer = differs(w, &t);
    }
    if (answer) reply_task(c, w->view, &t);
    vg_task_free(&t);
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
    vg_task t;
    if (view->load(c, c->params[0], &t)) return 0;
    reply_task(c, view, &t);
    vg_task_free(&t);
    return 0;
}
