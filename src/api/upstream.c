/*
 * upstream.c - POST /internal/ark/callback/{task}?token=…: where an upstream (Ark) posts a task's
 * status changes (the callback_url vidgate sends when public_url is configured). The token rides
 * in the query so that it never reaches the access log (which leaves queries out).
 *
 * A callback is a hint, never trusted alone: the body is not read at all. A known task with the
 * right token (an unguessable per-task secret, compared in constant time) that is still waiting
 * on its upstream is made due at once (VG_UPSTREAM_POLL_AT_ONCE) and the dispatcher is woken, so
 * the task is re-queried immediately instead of at its next poll. Anything else answers 404 and changes nothing. The
 * handler does two small store operations on the event loop, like every other handler; the
 * upstream call itself happens on an upstream worker.
 */
#include "api/env.h"
#include "api/handlers.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "dispatch/upstream.h"

#include <string.h>

static int callback(vg_ctx *c)
{
    vg_up_row r;
    int rc = vg_store_upstream_get(c->store, c->params[0], &r);
    if (rc == VG_ERR) return vg_reply_internal(c);
    const char *token = vg_ctx_query(c, "token");
    bool ok = rc == VG_OK && token && r.callback_token[0] && vg_ct_streq(r.callback_token, token);
    if (rc == VG_OK) vg_up_row_free(&r);
    if (!ok) return vg_reply_error(c, 404, "not_found", "", "no such callback");
    vg_up_update u = vg_up_update_for(c->params[0], VG_TASK_BIT(VG_TASK_DISPATCHING) |
                                                        VG_TASK_BIT(VG_TASK_RUNNING));
    u.next_poll_at = VG_UPSTREAM_POLL_AT_ONCE;
    if (vg_store_upstream_update(c->store, &u, 1, vg_now_s()) != VG_OK) return vg_reply_internal(c);
    if (u.applied) vg_api_env_wake(c->app);
    return vg_reply_json(c, 200, json_object());
}

const vg_route vg_routes_upstream[] = {
    {"POST", "/internal/ark/callback/{task}", VG_AUTH_NONE, callback},
};
const size_t vg_routes_upstream_n = sizeof vg_routes_upstream / sizeof vg_routes_upstream[0];
