/*
 * front.c - the simulator's HTTP front: the route table, Ark's error envelope, the per-operation
 * request and reply counts, authentication, and the expiring result files.
 *
 * Every API route counts its request, then chooses the request's fault (faults.c) and runs the
 * operation (ops.c). Handlers run on the http/server.h loops; shared state is touched under
 * g_sim.lock only.
 */
#include "tools/ark-sim/sim.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "http/sendfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status_bucket(int status)
{
    if (status == 429) return 2;
    if (status >= 200 && status < 300) return 0;
    if (status >= 400 && status < 500) return 1;
    if (status >= 500 && status < 600) return 3;
    return status == 0 ? 4 : 5;
}

void sim_count_reply(sim_op op, int status)
{
    pthread_mutex_lock(&g_sim.lock);
    g_sim.by_status[op][status_bucket(status)]++;
    pthread_mutex_unlock(&g_sim.lock);
}

int sim_ark_error(vg_ctx *c, sim_op op, int status, const char *code, const char *param,
                  const char *msg)
{
    vg_ark_err e = {0};
    vg_ark_err_set(&e, status, code, param, "%s", msg);
    sim_count_reply(op, status);
    return vg_reply_json(c, status, vg_ark_err_json(&e));
}

bool sim_authorized(vg_ctx *c)
{
    if (!g_sim.o.key[0]) return true;
    const char *h = vg_ctx_req_header(c, "authorization");
    return h && !strncmp(h, "Bearer ", 7) && vg_ct_streq(h + 7, g_sim.o.key);
}

json_t *sim_body_json(vg_ctx *c)
{
    h2o_iovec_t b = c->req->entity;
    json_t *j = b.base ? json_loadb(b.base, b.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* ---- the Ark API routes ---------------------------------------------------------------- */

/* Each API route counts its request, then applies this request's fault. */
static int route_create(vg_ctx *c)
{
    pthread_mutex_lock(&g_sim.lock);
    g_sim.requests[OP_CREATE]++;
    pthread_mutex_unlock(&g_sim.lock);
    return sim_op_create(c, (fault_rule){.kind = F_UNDECIDED});
}

static int route_op(vg_ctx *c, sim_op op, op_fn fn)
{
    pthread_mutex_lock(&g_sim.lock);
    g_sim.requests[op]++;
    pthread_mutex_unlock(&g_sim.lock);
    return fn(c, sim_fault_for(c, op, NULL));
}

static int route_get(vg_ctx *c)
{
    return route_op(c, OP_GET, sim_op_get);
}

static int route_list(vg_ctx *c)
{
    return route_op(c, OP_LIST, sim_op_list);
}

static int route_delete(vg_ctx *c)
{
    return route_op(c, OP_DELETE, sim_op_delete);
}

/* ---- result files ------------------------------------------------------------------------ */

static int route_file(vg_ctx *c)
{
    const char *exp = vg_ctx_query(c, "expires"), *sig = vg_ctx_query(c, "sig");
    const char *file = c->params[1];
    bool known = !strcmp(file, "video.mp4") || !strcmp(file, "last_frame.png");
    char msg[512], want[VG_SHA256_HEX_LEN + 1], key[48] = "";
    snprintf(msg, sizeof msg, "%s\n%s\n%s", c->params[0], file, exp ? exp : "");
    vg_hmac_sha256_hex(g_sim.secret, strlen(g_sim.secret), msg, strlen(msg), want);
    pthread_mutex_lock(&g_sim.lock);
    g_sim.video_requests++;
    stask *t = sim_task_find(c->params[0]);
    if (t) snprintf(key, sizeof key, "%s", t->video_key);
    int64_t task_expiry = t ? t->url_expires_s : 0; /* POST /sim/expire-urls moves it */
    pthread_mutex_unlock(&g_sim.lock);
    if (!known || !exp || !sig || !vg_ct_streq(sig, want) || !key[0])
        return vg_reply_json(c, 403, json_pack("{s:s}", "error", "AccessDenied"));
    if (atoll(exp) <= vg_now_s() || task_expiry <= vg_now_s())
        return vg_reply_json(c, 403, json_pack("{s:s}", "error", "Request has expired"));
    char path[1400];
    snprintf(path, sizeof path, "%s/%s.%s", g_sim.videos_dir, key,
             !strcmp(file, "video.mp4") ? "mp4" : "png");
    if (vg_send_file(c, path, !strcmp(file, "video.mp4") ? "video/mp4" : "image/png"))
        return vg_reply_json(c, 404, json_pack("{s:s}", "error", "NoSuchKey"));
    return 0;
}

const vg_route sim_routes[] = {
    {"POST", SIM_PATH, VG_AUTH_NONE, route_create},
    {"GET", SIM_PATH, VG_AUTH_NONE, route_list},
    {"GET", SIM_PATH "/{id}", VG_AUTH_NONE, route_get},
    {"DELETE", SIM_PATH "/{id}", VG_AUTH_NONE, route_delete},
    {"GET", "/sim/files/{id}/{file}", VG_AUTH_NONE, route_file},
    {"GET", "/sim/stats", VG_AUTH_NONE, sim_admin_stats},
    {"GET", "/sim/requests/{id}", VG_AUTH_NONE, sim_admin_request},
    {"POST", "/sim/faults", VG_AUTH_NONE, sim_admin_faults},
    {"POST", "/sim/expire-urls", VG_AUTH_NONE, sim_admin_expire_urls},
    {"POST", "/sim/reset-stats", VG_AUTH_NONE, sim_admin_reset_stats},
};
const size_t sim_n_routes = sizeof sim_routes / sizeof sim_routes[0];
