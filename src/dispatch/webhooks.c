/* webhooks.c - see webhooks.h. */
#include "dispatch/webhooks.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pool.h"
#include "core/webhook.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vg_webhooks {
    vg_webhooks_env env;
    vg_pool *pool;
};

typedef struct {
    vg_store *s;
    CURL *curl;
} worker;

static void *thread_start(void *ud)
{
    vg_webhooks *w = ud;
    worker *k = vg_calloc(1, sizeof *k);
    vg_fetch_global_init();
    k->s = w->env.open_store(w->env.store_ud);
    k->curl = curl_easy_init();
    if (!k->s || !k->curl) {
        vg_error("webhooks: a delivery worker cannot start (store or libcurl)");
        vg_store_close(k->s);
        if (k->curl) curl_easy_cleanup(k->curl);
        free(k);
        return NULL;
    }
    return k;
}

static void thread_end(void *ud, void *state)
{
    (void)ud;
    worker *k = state;
    vg_store_close(k->s);
    curl_easy_cleanup(k->curl);
    free(k);
}

/* The event of d as sent: {"object":"event","id","type","created_at","data":{task object}}. */
static char *build_body(vg_webhooks *w, worker *k, const vg_webhook *d)
{
    vg_task t;
    memset(&t, 0, sizeof t);
    if (vg_store_task_get(k->s, d->task_id, NULL, &t) != VG_OK) return NULL;
    json_t *data = w->env.task_object(w->env.object_ud, &t);
    vg_task_free(&t);
    if (!data) return NULL;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:o}", "object", "event", "id", d->id, "type",
                           d->type, "created_at", (json_int_t)d->created_at, "data", data);
    char *body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return body;
}

/* One attempt: sign with every valid secret of the key, POST, report. */
static void attempt(vg_webhooks *w, worker *k, vg_webhook *d)
{
    char err[256] = "", sig[VG_WEBHOOK_SIGNATURE_MAX];
    long status = 0;
    int rc = VG_ERR;
    if (!d->body) {
        d->body = build_body(w, k, d);
        if (!d->body || vg_store_webhook_set_body(k->s, d->id, d->body) != VG_OK) {
            snprintf(err, sizeof err, "the event could not be built");
            goto report;
        }
    }
    char(*secrets)[VG_WEBHOOK_SECRET_MAX] = NULL;
    size_t n = 0;
    int64_t ts = vg_now_s();
    const char *list[VG_WEBHOOK_MAX_SECRETS];
    if (vg_store_webhook_secrets(k->s, d->key_id, ts, &secrets, &n) == VG_OK)
        for (size_t i = 0; i < n && i < VG_WEBHOOK_MAX_SECRETS; i++)
            list[i] = secrets[i];
    int signed_ok = n > 0 && vg_webhook_sign(d->id, ts, d->body, strlen(d->body), list, n, sig,
                                             sizeof sig) == VG_OK;
    free(secrets);
    if (!signed_ok) {
        snprintf(err, sizeof err, "the event could not be signed");
        goto report;
    }
    char h_id[96], h_ts[64], h_sig[VG_WEBHOOK_SIGNATURE_MAX + 32];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", d->id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %" PRId64, ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    const char *headers[] = {h_id, h_ts, h_sig};
    vg_fetch_opts o = w->env.fetch;
    o.timeout_ms = VG_WEBHOOK_TIMEOUT_MS;
    rc = vg_fetch_post(k->curl, d->url, &o, headers, 3, d->body, strlen(d->body), &status, err,
                       sizeof err);
report:;
    int64_t now = vg_now_ms();
    uint32_t rnd;
    vg_random_bytes(&rnd, sizeof rnd);
    int64_t next = now + vg_webhook_backoff_ms(d->attempts, w->env.backoff_ms, rnd);
    vg_webhook_result r = {.id = d->id,
                           .delivered = rc == VG_OK,
                           .give_up = rc == VG_INVALID || (rc != VG_OK && next > d->deadline_ms),
                           .next_at_ms = next,
                           .http_status = (int)status,
                           .error = rc == VG_OK ? "" : err,
                           .now_ms = now};
    vg_metrics_inc(r.delivered ? VG_MC_WEBHOOK_DELIVERED
                   : r.give_up ? VG_MC_WEBHOOK_FAILED
                               : VG_MC_WEBHOOK_RETRY);
    if (r.delivered)
        vg_debug("webhooks: %s delivered (attempt %d)", d->id, d->attempts);
    else
        vg_info("webhooks: %s attempt %d failed: %s%s", d->id, d->attempts, err,
                r.give_up ? " (giving up)" : "");
    if (vg_store_webhook_attempt_end(k->s, &r) != VG_OK)
        vg_warn("webhooks: the outcome of %s could not be recorded; it will be sent again", d->id);
}

static int step(void *ud, void *state)
{
    vg_webhooks *w = ud;
    worker *k = state;
    vg_webhook d;
    int64_t now = vg_now_ms();
    vg_status rc = vg_store_webhook_claim(k->s, now, VG_WEBHOOK_LEASE_MS, &d);
    if (rc == VG_NOTFOUND) {
        /* A retry due sooner than the idle poll is not kept waiting for it. New events are
         * found by the poll (or a notification). */
        int64_t wait = d.next_at_ms > now ? d.next_at_ms - now : VG_WEBHOOK_IDLE_MS;
        return (int)(wait < VG_WEBHOOK_IDLE_MS ? (wait < 1 ? 1 : wait) : VG_WEBHOOK_IDLE_MS);
    }
    if (rc != VG_OK) return VG_WEBHOOK_IDLE_MS * 4; /* busy or broken: back off a little */
    attempt(w, k, &d);
    vg_webhook_free(&d);
    return 0;
}

vg_webhooks *vg_webhooks_start(const vg_webhooks_env *env, char *err, size_t errlen)
{
    vg_store *s = env->open_store(env->store_ud);
    if (!s) {
        snprintf(err, errlen, "webhooks: cannot open the store");
        return NULL;
    }
    int64_t released = 0;
    vg_status rc = vg_store_webhook_recover(s, vg_now_ms(), &released);
    vg_store_close(s);
    if (rc != VG_OK) {
        snprintf(err, errlen, "webhooks: cannot release the deliveries of the last run");
        return NULL;
    }
    if (released)
        vg_info("webhooks: %" PRId64 " delivery attempt(s) interrupted, resent", released);
    vg_webhooks *w = vg_calloc(1, sizeof *w);
    w->env = *env;
    int n = env->workers < 1                        ? 1
            : env->workers > VG_WEBHOOK_MAX_WORKERS ? VG_WEBHOOK_MAX_WORKERS
                                                    : env->workers;
    vg_pool_def def = {.name = "webhooks",
                       .threads = n,
                       .ud = w,
                       .thread_start = thread_start,
                       .thread_end = thread_end,
                       .step = step};
    w->pool = vg_pool_new(&def);
    if (vg_pool_start(w->pool) < 1) {
        snprintf(err, errlen, "webhooks: no delivery worker started");
        vg_pool_stop(w->pool);
        free(w);
        return NULL;
    }
    return w;
}

void vg_webhooks_notify(vg_webhooks *w)
{
    if (w) vg_pool_notify(w->pool);
}

void vg_webhooks_stop(vg_webhooks *w)
{
    if (!w) return;
    vg_pool_stop(w->pool);
    free(w);
}
