/*
 * upstream_poll.c - the job handler that refreshes a batch of upstream tasks of one channel
 * with one list call (a single GET for those the list does not name) and turns what the
 * upstream says into store changes: progress, running, finalizing (the result to download is
 * kept in the upstream row), or a final status. Poll errors never fail a task; the deadline
 * (upstream_task_ttl_s) does. See upstream.h for the policy.
 */
#include "dispatch/upstream_int.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "dispatch/settle.h"

#include <stdlib.h>

char *vg_ups_result_json(const vg_up_task *t)
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
static void settle_unsuccessful(vg_ups_worker *w, const vg_up_row *r, const vg_up_task *t)
{
    if (t->status == VG_UP_CANCELLED && r->status == VG_TASK_DISPATCHING &&
        vg_store_task_cancel(w->s, r->task_id, r->key_id, vg_now_s()) == VG_OK)
        vg_info("task %s cancelled upstream", r->task_id);
    else if (t->status == VG_UP_CANCELLED)
        vg_settle_fail(w->s, r->task_id, "cancelled", "the upstream cancelled the task");
    else if (t->status == VG_UP_EXPIRED)
        vg_settle_fail(w->s, r->task_id, "expired", "the upstream task expired");
    else
        vg_settle_fail(w->s, r->task_id, t->error_code[0] ? t->error_code : "upstream_failed",
                       t->error_message[0] ? t->error_message : "the upstream task failed");
    vg_ups_close(w->s, r);
}

/* Turns what the upstream said about r into updates appended at u (returns how many) or a
 * final transition (returns 0). *result receives a string the caller frees after the update. */
static int apply(vg_ups_worker *w, const vg_channel *ch, const vg_up_row *r, const vg_up_task *t,
                 vg_up_update *u, char **result)
{
    int64_t now = vg_now_ms();
    int n = 0;
    if (t->status >= VG_UP_SUCCEEDED && t->status <= VG_UP_EXPIRED && t->updated_at > 0)
        vg_metrics_observe(VG_MH_POLL_LAG, (double)(now - t->updated_at * 1000) / 1000.0);
    if (t->status == VG_UP_SUCCEEDED && r->status == VG_TASK_DISPATCHING) {
        /* Never seen running: pass through running (the state machine's only way on). */
        u[n] = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_DISPATCHING));
        u[n++].to_status = VG_TASK_RUNNING;
    }
    u += n;
    *u = vg_up_update_for(r->task_id, VG_UPS_ACTIVE);
    u->upstream_status = vg_up_status_name(t->status);
    u->poll_errors = 0;
    switch (t->status) {
    case VG_UP_SUCCEEDED:
        *result = vg_ups_result_json(t);
        u->from = VG_TASK_BIT(VG_TASK_RUNNING);
        u->to_status = VG_TASK_FINALIZING;
        u->progress = 99;
        u->result = *result;
        u->open = 0;
        u->next_poll_at = now;
        vg_ups_learn(w->u, ch->name, vg_ups_run_sample(r, t, now));
        return n + 1;
    case VG_UP_FAILED:
    case VG_UP_CANCELLED:
    case VG_UP_EXPIRED:
        settle_unsuccessful(w, r, t);
        return 0;
    default:
        if (vg_ups_past_deadline(w->u, r,
                                 now)) { /* the upstream task stays open: cleanup cancels it */
            vg_settle_fail(w->s, r->task_id, "expired", "the task did not finish in time");
            vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now, -1, -1);
            return 0;
        }
        if (t->status == VG_UP_RUNNING || t->status == VG_UP_UNKNOWN) {
            u->to_status = r->status == VG_TASK_DISPATCHING ? VG_TASK_RUNNING : -1;
            u->progress = vg_ups_progress(w->u, ch, r, now);
        }
        u->next_poll_at = vg_ups_next_poll(w->u, ch, r, now);
        return 1;
    }
}

static void poll_failed(vg_ups_worker *w, const vg_up_row *r, const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    if (vg_ups_past_deadline(w->u, r, now)) {
        vg_settle_fail(w->s, r->task_id, "expired", "the task did not finish in time");
        vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now, -1, -1);
        return;
    }
    vg_debug("task %s: poll failed (%s)", r->task_id, e->code);
    vg_ups_reschedule(w->s, r, VG_UPS_ACTIVE,
                      now + vg_ups_backoff(w->u, r->poll_errors,
                                           w->u->env.cfg->upstream_poll_min_ms,
                                           w->u->env.cfg->upstream_poll_max_ms),
                      r->poll_errors + 1, -1);
}

void vg_ups_run_poll(vg_ups_worker *w, vg_ups_job *j)
{
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    if (!ch) {
        for (size_t i = 0; i < j->n; i++) {
            vg_up_error e = {.code = "channel_gone"};
            poll_failed(w, &j->rows[i], &e);
        }
        return;
    }
    vg_upstream_endpoint ep = vg_ups_endpoint(ch);
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
        if (e.cls == VG_UP_OK && !found[i] && vg_ups_take(w->u, ch, true)) {
            /* Not in the list (older than its window, or a list quirk): ask for it alone. */
            ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &out[i], &ge);
            found[i] = ge.cls == VG_UP_OK;
        }
        if (ge.cls == VG_UP_NOTFOUND) {
            vg_settle_fail(w->s, r->task_id, "upstream_task_missing",
                           "the upstream no longer knows the task");
            vg_ups_close(w->s, r);
        } else if (!found[i]) {
            poll_failed(w, r, &ge);
        } else {
            n_ups += (size_t)apply(w, ch, r, &out[i], &ups[n_ups], &results[i]);
        }
    }
    if (n_ups && vg_store_upstream_update(w->s, ups, n_ups, vg_now_s()) != VG_OK)
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
