/*
 * channels.c - GET /admin/channels: the channels of the running configuration and how each fares
 * (admin key only), for operators and the web console. Per channel: name, type, priority, weight,
 * max_active, models (count; 0 on a local channel = every model), active (queued and running tasks
 * routed to it, from the store), requests and errors (upstream calls and transient refusals since
 * the process started), faults (consecutive refusals), cooldown_ms (time left before it is used
 * again), expected_ms and learned (the run time it schedules polls by).
 *
 * The counters live in the upstream loop's memory (dispatch/upstream_health.c) and are those of
 * this process only; the active counts are store facts.
 */
#include "api/env.h"
#include "api/handlers.h"
#include "dispatch/upstream.h"

#include <stdlib.h>
#include <string.h>

static int64_t active_of(const vg_channel_load *load, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(load[i].channel, name)) return load[i].active;
    return 0;
}

static int list_channels(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    vg_upstream_health h[VG_MAX_CHANNELS];
    int n = 0;
    vg_upstream_health_get(env->upstream, h, &n);
    vg_channel_load *load = NULL;
    size_t nload = 0;
    if (vg_store_channel_load(c->store, &load, &nload) != VG_OK) return vg_reply_internal(c);
    json_t *data = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(
            data,
            json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:i, s:I, s:I, s:b}",
                      "object", "channel", "name", h[i].name, "type", h[i].type, "priority",
                      h[i].priority, "weight", h[i].weight, "max_active", h[i].max_active, "models",
                      h[i].n_models, "active", (json_int_t)active_of(load, nload, h[i].name),
                      "requests", (json_int_t)h[i].requests, "errors", (json_int_t)h[i].errors,
                      "faults", h[i].faults, "cooldown_ms", (json_int_t)h[i].cooldown_ms,
                      "expected_ms", (json_int_t)h[i].expected_ms, "learned", h[i].learned));
    free(load);
    return vg_reply_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

const vg_route vg_routes_channels[] = {
    {"GET", "/admin/channels", VG_AUTH_ADMIN, list_channels},
};
const size_t vg_routes_channels_n = sizeof vg_routes_channels / sizeof vg_routes_channels[0];
