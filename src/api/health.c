/* health.c - operator probes (spec §10): /healthz (the process answers) and /readyz (the store
 * answers too). No authentication, no details that would help an attacker. */
#include "api/handlers.h"

static int healthz(vg_ctx *c)
{
    return vg_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static int readyz(vg_ctx *c)
{
    if (vg_store_ping(c->store) != VG_OK) {
        vg_err e = {0};
        vg_err_set(&e, 503, "unavailable", "", "the store is not reachable");
        e.retry_after_s = VG_UNAVAILABLE_RETRY_AFTER_S;
        return vg_reply_err(c, &e);
    }
    return vg_reply_json(c, 200, json_pack("{s:s}", "status", "ready"));
}

const vg_route vg_routes_health[] = {
    {"GET", "/healthz", VG_AUTH_NONE, healthz},
    {"GET", "/readyz", VG_AUTH_NONE, readyz},
};
const size_t vg_routes_health_n = sizeof vg_routes_health / sizeof vg_routes_health[0];
