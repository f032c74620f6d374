/*
 * upstream_submit.c - the job handlers that create upstream tasks or account for one that may
 * exist (see upstream.h for the policy): submit, resolve a submit whose outcome is unknown, and
 * clean up an upstream task we no longer want. Each runs on an upstream worker with that
 * worker's store connection and HTTP client; every store change is conditional on the status
 * the job expected.
 */
#include "dispatch/upstream_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "dispatch/settle.h"

#include <stdio.h>
#include <string.h>

#define RESOLVE_DELAY_MS 1000 /* first lookup of a lost submit */
#define LOOKUP_GAP_MS    2000 /* between the two lookups that must both miss */
#define LOOKUPS_TO_GIVE  2
#define CLEANUP_RETRY_MS 30000

/* The submit of r's attempt created upstream_id: record it; if the task ended meanwhile
 * (cancelled while dispatching), keep the id so that cleanup cancels the upstream task. */
void vg_ups_accepted(vg_ups_worker *w, const vg_channel *ch, vg_up_row *r, const char *upstream_id,
                     const char *outcome)
{
    int64_t now = vg_now_ms();
    vg_store_upstream_attempt_end(w->s, r->attempt_id, outcome, upstream_id, 200, "", now);
    r->accepted_at_ms = now;
    vg_up_update a = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_DISPATCHING));
    a.attempt_id = r->attempt_id;
    a.upstream_always = true;
    a.upstream_id = upstream_id;
    a.upstream_status = "queued";
    a.accepted_at_ms = now;
    a.next_poll_at = vg_ups_next_poll(w->u, ch, r, now);
    a.poll_errors = a.lookups = 0;
    if (vg_store_upstream_update(w->s, &a, 1, now / 1000) != VG_OK) {
        vg_warn("task %s: cannot record upstream id %s", r->task_id, upstream_id);
        return;
    }
    vg_info("task %s accepted by %s as %s (%s)", r->task_id, ch->name, upstream_id, outcome);
    if (!a.applied) {
        vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now, -1, -1);
        vg_upstream_notify(w->u);
    }
}

/* ---- job: submit --------------------------------------------------------------------------- */

/* A transient refusal: cool the channel down, send the task back to routing. */
static void submit_transient(vg_ups_worker *w, const vg_channel *ch, vg_up_row *r,
                             const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    int64_t cool = e->retry_after_s >= 0 ? (int64_t)e->retry_after_s * 1000
                   : e->channel_fault
                       ? 60000
                       : vg_ups_backoff(w->u, vg_ups_faults(w->u, ch->name), 1000, 60000);
    vg_ups_cooldown(w->u, ch->name, now + cool, true);
    vg_info("task %s: %s refused it for now (%s, HTTP %ld); channel cools down %lld ms", r->task_id,
            ch->name, e->code, e->http_status, (long long)cool);
    if (r->retries + 1 >= VG_UPSTREAM_MAX_RETRIES) {
        vg_settle_fail(w->s, r->task_id, "upstream_unavailable", "no channel accepted the task");
        vg_ups_close(w->s, r);
        return;
    }
    int64_t not_before = now + vg_ups_backoff(w->u, r->retries, 250, 10000);
    if (vg_store_upstream_requeue(w->s, r->task_id, r->attempt_id, not_before, ch->name, true,
                                  now / 1000) == VG_CONFLICT)
        vg_ups_close(w->s, r); /* cancelled meanwhile; nothing was created */
    vg_upstream_notify(w->u);
}

static void submit_outcome(vg_ups_worker *w, const vg_channel *ch, vg_up_row *r, const char *id,
                           const vg_up_error *e)
{
    int64_t now = vg_now_ms();
    static const char *const outcome[] = {
        [VG_UP_OK] = "accepted",         [VG_UP_REFUSED] = "refused",
        [VG_UP_TRANSIENT] = "transient", [VG_UP_AMBIGUOUS] = "ambiguous",
        [VG_UP_NOTFOUND] = "refused",    [VG_UP_UNSENDABLE] = "not_sent"};
    if (e->cls == VG_UP_OK) {
        vg_ups_cooldown(w->u, ch->name, 0, false);
        vg_ups_accepted(w, ch, r, id, "accepted");
        return;
    }
    char detail[340];
    if (e->cls == VG_UP_UNSENDABLE) /* nothing was sent: no upstream code to quote */
        snprintf(detail, sizeof detail, "%s", e->message);
    else
        snprintf(detail, sizeof detail, "%s: %s", e->code, e->message);
    vg_store_upstream_attempt_end(w->s, r->attempt_id, outcome[e->cls], NULL, e->http_status,
                                  detail, now);
    switch (e->cls) {
    case VG_UP_TRANSIENT:
        submit_transient(w, ch, r, e);
        break;
    case VG_UP_AMBIGUOUS:
        /* Maybe created: never resubmit before the list says it was not. */
        vg_info("task %s: submit to %s unanswered (%s); looking it up before any retry", r->task_id,
                ch->name, e->code);
        vg_ups_reschedule(w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING), now + RESOLVE_DELAY_MS, -1, 0);
        break;
    default:
        vg_settle_fail(w->s, r->task_id, e->code, e->message);
        vg_ups_close(w->s, r);
        break;
    }
}

void vg_ups_run_submit(vg_ups_worker *w, vg_ups_job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = &j->set->ch[j->ch];
    vg_task t;
    vg_task_spec spec;
    memset(&spec, 0, sizeof spec);
    if (vg_store_task_get(w->s, r->task_id, NULL, &t) != VG_OK) return;
    int ok = vg_settle_read_spec(&t, &spec) == VG_OK;
    if (t.status != VG_TASK_DISPATCHING || !ok) {
        /* Cancelled before the call (nothing was sent), or unreadable. */
        vg_store_upstream_attempt_end(w->s, r->attempt_id, "not_sent", NULL, 0, "", vg_now_ms());
        if (!ok)
            vg_settle_fail(w->s, r->task_id, "internal_error",
                           "stored task parameters are unreadable");
        vg_ups_close(w->s, r);
        goto out;
    }
    if (vg_now_ms() + ch->timeout_ms > r->next_poll_at) {
        /* The call could outlast the attempt's lease (the job waited in the queue too long):
         * once the lease ends, a scheduler (another node's, maybe) looks the attempt up and
         * submits again when it finds nothing, so a call still in flight then could create the
         * task twice. Not sent; the lookup finds nothing and it is submitted again. */
        vg_info("task %s: submit to %s not sent (its attempt lease is nearly over)", r->task_id,
                ch->name);
        goto out;
    }
    char id[128] = "";
    vg_up_submit o = {.upstream_model = r->upstream_model,
                      .client_token = r->client_token,
                      .callback_token = r->callback_token,
                      .ttl_s = w->u->env.cfg->upstream_task_ttl_s};
    vg_upstream_endpoint ep = vg_ups_endpoint(ch);
    vg_up_error e;
    ch->provider->upstream->submit(&ep, w->hc, &w->u->up_env, &t, &spec, &o, id, sizeof id, &e);
    submit_outcome(w, ch, r, id, &e);
out:
    vg_task_spec_free(&spec);
    vg_task_free(&t);
}

/* ---- job: resolve a submit whose outcome is unknown ---------------------------------------- */

void vg_ups_run_resolve(vg_ups_worker *w, vg_ups_job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    int64_t now = vg_now_ms();
    if (!ch || vg_ups_past_deadline(w->u, r, now)) {
        vg_settle_fail(w->s, r->task_id, "expired",
                       ch ? "the task did not finish in time"
                          : "the task's channel is no longer configured");
        vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now, -1, 0); /* cleanup still looks for it */
        return;
    }
    vg_upstream_endpoint ep = vg_ups_endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    ch->provider->upstream->find(&ep, w->hc, r->upstream_model, r->client_token,
                                 r->attempt_started_ms / 1000, &ut, &e);
    if (e.cls == VG_UP_OK) {
        vg_ups_accepted(w, ch, r, ut.id, "found");
    } else if (e.cls == VG_UP_NOTFOUND && r->lookups + 1 < LOOKUPS_TO_GIVE) {
        vg_ups_reschedule(w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING), now + LOOKUP_GAP_MS, -1,
                          r->lookups + 1);
    } else if (e.cls == VG_UP_NOTFOUND) {
        /* Two clean misses, LOOKUP_GAP_MS apart: the lost submit created nothing. */
        vg_info("task %s: lost submit to %s not found upstream; submitting again", r->task_id,
                ch->name);
        vg_store_upstream_attempt_end(w->s, r->attempt_id, "not_found", NULL, 0, "", now);
        if (r->retries + 1 >= VG_UPSTREAM_MAX_RETRIES) {
            vg_settle_fail(w->s, r->task_id, "upstream_unavailable",
                           "no channel accepted the task");
            vg_ups_close(w->s, r);
        } else if (vg_store_upstream_requeue(w->s, r->task_id, r->attempt_id, now, NULL, true,
                                             now / 1000) != VG_OK) {
            vg_ups_close(w->s, r);
        }
        vg_upstream_notify(w->u);
    } else {
        vg_ups_reschedule(
            w->s, r, VG_TASK_BIT(VG_TASK_DISPATCHING),
            now + vg_ups_backoff(w->u, r->poll_errors, 1000, VG_UPSTREAM_MAX_BACKOFF_MS),
            r->poll_errors + 1, -1);
    }
    vg_up_task_free(&ut);
}

/* ---- job: cancel an upstream task we no longer want ----------------------------------------- */

void vg_ups_run_cleanup(vg_ups_worker *w, vg_ups_job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    int64_t now = vg_now_ms();
    if (!ch) { /* the channel is gone: nothing can be done */
        vg_ups_close(w->s, r);
        return;
    }
    vg_upstream_endpoint ep = vg_ups_endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    memset(&ut, 0, sizeof ut);
    if (!r->upstream_id[0]) { /* the submit's outcome was never learnt: find it first */
        ch->provider->upstream->find(&ep, w->hc, r->upstream_model, r->client_token,
                                     r->attempt_started_ms / 1000, &ut, &e);
        if (e.cls == VG_UP_OK) {
            vg_up_update c = vg_up_update_for(r->task_id, VG_UPS_FINAL);
            c.upstream_id = ut.id;
            c.attempt_id = r->attempt_id;
            c.next_poll_at = now;
            vg_store_upstream_update(w->s, &c, 1, now / 1000);
            vg_upstream_notify(w->u);
        } else if (e.cls == VG_UP_NOTFOUND && r->lookups + 1 >= LOOKUPS_TO_GIVE) {
            vg_ups_close(w->s, r);
        } else {
            vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now + LOOKUP_GAP_MS, -1, r->lookups + 1);
        }
        vg_up_task_free(&ut);
        return;
    }
    ch->provider->upstream->cancel(&ep, w->hc, r->upstream_id, &e);
    if (e.cls == VG_UP_OK || e.cls == VG_UP_NOTFOUND) {
        vg_info("task %s: upstream task %s cancelled", r->task_id, r->upstream_id);
        vg_ups_close(w->s, r);
        return;
    }
    if (e.cls == VG_UP_REFUSED &&
        vg_ups_take(w->u, ch, true)) { /* running: refused until it ends */
        ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &ut, &e);
        bool over =
            e.cls == VG_UP_NOTFOUND || (e.cls == VG_UP_OK && ut.status != VG_UP_QUEUED &&
                                        ut.status != VG_UP_RUNNING && ut.status != VG_UP_UNKNOWN);
        vg_up_task_free(&ut);
        if (over)
            vg_ups_close(w->s, r);
        else
            vg_ups_reschedule(w->s, r, VG_UPS_FINAL, now + CLEANUP_RETRY_MS, -1, -1);
        return;
    }
    vg_ups_reschedule(w->s, r, VG_UPS_FINAL,
                      now + vg_ups_backoff(w->u, r->poll_errors, 1000, 60000), -1, -1);
}
