/*
 * metrics.c - GET /metrics: the Prometheus text exposition (format 0.0.4) of the registry
 * (common/metrics.h) and of what the store holds (tasks by status, the queue, money held).
 *
 * Access: open when metrics_token is unset, as Prometheus exporters usually are (the families
 * carry counts, never keys, ids or prompts); with it, the request needs "Authorization: Bearer
 * <token>", compared in constant time (both sides hashed first, so the comparison takes the same
 * time whatever the lengths), else 401 in the usual envelope. The route is outside the API keys'
 * authentication: a scraper is not a key holder.
 *
 * Cost: the store's counts are read through the scraping loop's store connection at most once per
 * VG_METRICS_STORE_CACHE_MS (a mutex guards the shared cache; only scrapes take it), so a burst
 * of scrapes, or several scrapers, cost one query set per second. A store that cannot be read
 * leaves its families out of that scrape; the registry's are always there.
 */
#include "api/env.h"
#include "api/handlers.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_store_stats cache;
static bool cache_ok;
static int64_t cache_at_ms = -1; /* monotonic; -1 = never read */

/* The store's counts, at most VG_METRICS_STORE_CACHE_MS old. false when the store failed. */
static bool store_stats(vg_store *s, vg_store_stats *out)
{
    pthread_mutex_lock(&cache_lock);
    int64_t now = vg_mono_ms();
    if (cache_at_ms < 0 || now - cache_at_ms >= VG_METRICS_STORE_CACHE_MS) {
        cache_ok = vg_store_stats_get(s, &cache) == VG_OK;
        cache_at_ms = now;
    }
    *out = cache;
    bool ok = cache_ok;
    pthread_mutex_unlock(&cache_lock);
    return ok;
}

static bool authorized(vg_ctx *c, const char *token)
{
    const char *h = vg_ctx_req_header(c, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    const char *got = h + 7;
    while (*got == ' ')
        got++;
    char want_hash[VG_SHA256_HEX_LEN + 1], got_hash[VG_SHA256_HEX_LEN + 1];
    vg_sha256_hex(token, strlen(token), want_hash);
    vg_sha256_hex(got, strlen(got), got_hash);
    return vg_ct_streq(want_hash, got_hash);
}

static void write_store(vg_metrics_out *o, const vg_store_stats *st, int64_t now_s)
{
    vg_metrics_family(o, "vidgate_tasks", "gauge",
                      "Tasks in the store by internal status (dispatching is shown to clients as "
                      "queued, finalizing as running).");
    for (int i = 0; i < VG_TASK_STATUS_COUNT; i++)
        vg_metrics_sample(o, "vidgate_tasks", "status", vg_task_status_name((vg_task_status)i),
                          (double)st->tasks[i]);
    vg_metrics_family(o, "vidgate_queue_depth", "gauge",
                      "Tasks queued: accepted and not yet taken by a render worker or a channel.");
    vg_metrics_sample(o, "vidgate_queue_depth", NULL, NULL, (double)st->tasks[VG_TASK_QUEUED]);
    vg_metrics_family(o, "vidgate_queue_oldest_age_seconds", "gauge",
                      "Age of the oldest queued task (0 when none is queued).");
    int64_t age =
        st->oldest_queued_at > 0 && now_s > st->oldest_queued_at ? now_s - st->oldest_queued_at : 0;
    vg_metrics_sample(o, "vidgate_queue_oldest_age_seconds", NULL, NULL, (double)age);
    char help[160];
    snprintf(help, sizeof help,
             "Money held for accepted tasks over every key, in %s (the currency label).",
             vg_metrics_currency());
    vg_metrics_family(o, "vidgate_money_held", "gauge", help);
    vg_metrics_sample_money(o, "vidgate_money_held", st->held_micro);
}

static int metrics(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    const char *token = env ? env->metrics_token : NULL;
    if (token && token[0] && !authorized(c, token))
        return vg_reply_error(c, 401, "invalid_metrics_token", "",
                              "this server's metrics need Authorization: Bearer <metrics_token>");
    vg_metrics_out o = {0};
    vg_store_stats st;
    if (store_stats(c->store, &st)) write_store(&o, &st, vg_now_s());
    vg_metrics_write(&o, vg_now_ms());
    vg_reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", o.text, o.len);
    vg_metrics_out_free(&o);
    return 0;
}

const vg_route vg_routes_metrics[] = {
    {"GET", "/metrics", VG_AUTH_NONE, metrics},
};
const size_t vg_routes_metrics_n = sizeof vg_routes_metrics / sizeof vg_routes_metrics[0];
