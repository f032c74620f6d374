/*
 * admin.c - operator views across keys (spec §7): every task with filters, and usage totals by
 * model or by key over a time range. Admin key only.
 */
#include "api/env.h"
#include "api/handlers.h"
#include "api/task_json.h"
#include "common/clock.h"
#include "common/isotime.h"
#include "core/money.h"

#include <stdlib.h>
#include <string.h>

/* The native object plus what only an operator sees. */
static json_t *admin_task_json(vg_ctx *c, const vg_task *t)
{
    json_t *j = vg_task_json(c->app, t);
    json_object_set_new(j, "key_id", json_string(t->key_id));
    json_object_set_new(j, "hold", json_integer(t->hold_micro));
    return j;
}

/* GET /admin/tasks?key_id=&status=&limit=&after= */
static int list_all_tasks(vg_ctx *c)
{
    vg_task_filter f = {
        .key_id = vg_ctx_query(c, "key_id"), .status = -1, .after = vg_ctx_query(c, "after")};
    if (vg_api_query_limit(c, &f.limit)) return 0;
    const char *st = vg_ctx_query(c, "status");
    if (st && (f.status = vg_task_status_parse(st)) < 0)
        return vg_reply_error(c, 400, "invalid_parameter", "status", "unknown status %s", st);
    return vg_api_reply_task_list(c, &f, admin_task_json);
}

static json_t *usage_entry(const char *label, const char *group, int64_t tasks, int64_t tokens,
                           int64_t cost)
{
    char buf[VG_MONEY_STR_MAX];
    vg_money_format(cost, buf);
    return json_pack("{s:s, s:I, s:I, s:s}", label, group, "tasks", (json_int_t)tasks, "tokens",
                     (json_int_t)tokens, "cost", buf);
}

/* A time bound of the query: unix seconds or ISO 8601 (common/isotime.h); absent = dflt. 0, or -1
 * with the 400 sent. */
static int query_time(vg_ctx *c, const char *name, int64_t dflt, int64_t *out)
{
    const char *v = vg_ctx_query(c, name);
    *out = dflt;
    if (!v) return 0;
    if (vg_isotime_parse(v, out) != VG_OK || *out < 0)
        return vg_reply_error(c, 400, "invalid_parameter", name,
                              "%s must be unix seconds or an ISO 8601 time such as 2026-11-26 or "
                              "2026-11-26T10:00:00Z",
                              name),
               -1;
    return 0;
}

/* The key's name for a usage row grouped by key ("" when the key is gone). */
static json_t *key_name(vg_ctx *c, const char *id)
{
    vg_key k;
    if (vg_store_key_get(c->store, id, &k) != VG_OK) return json_string("");
    json_t *name = json_string(k.name);
    vg_key_free(&k);
    return name ? name : json_string("");
}

/* GET /admin/usage?from=&to=&group_by=model|key (completed tasks, [from, to)). */
static int usage(vg_ctx *c)
{
    int64_t from, to;
    if (query_time(c, "from", 0, &from) || query_time(c, "to", vg_now_s() + 1, &to)) return 0;
    const char *g = vg_ctx_query(c, "group_by");
    if (!g) g = "model";
    if (strcmp(g, "model") && strcmp(g, "key"))
        return vg_reply_error(c, 400, "invalid_parameter", "group_by",
                              "group_by must be model or key");
    vg_usage_row *rows = NULL;
    size_t n = 0;
    if (vg_store_usage(c->store, g, from, to, &rows, &n)) return vg_reply_internal(c);
    json_t *data = json_array();
    int64_t tasks = 0, tokens = 0, cost = 0;
    const char *label = strcmp(g, "key") ? "model" : "key_id";
    for (size_t i = 0; i < n; i++) {
        json_t *e =
            usage_entry(label, rows[i].group, rows[i].tasks, rows[i].tokens, rows[i].cost_micro);
        /* Operators read names; ids are what the other admin routes take. */
        if (strcmp(g, "key") == 0) json_object_set_new(e, "name", key_name(c, rows[i].group));
        json_array_append_new(data, e);
        tasks += rows[i].tasks;
        tokens += rows[i].tokens;
        cost += rows[i].cost_micro;
    }
    free(rows);
    json_t *total = usage_entry(label, "all", tasks, tokens, cost);
    const vg_api_env *env = c->app;
    return vg_reply_json(c, 200,
                         json_pack("{s:s, s:I, s:I, s:s, s:s, s:o, s:o}", "object", "usage", "from",
                                   (json_int_t)from, "to", (json_int_t)to, "group_by", g,
                                   "currency", env->currency, "data", data, "total", total));
}

/* POST /admin/reload: what SIGHUP does, with the outcome in the reply. */
static int reload(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    char err[512] = "";
    json_t *report = NULL;
    if (!env->reload) return vg_reply_error(c, 501, "unsupported", "", "this server cannot reload");
    if (env->reload(env->reload_ud, &report, err, sizeof err))
        return vg_reply_error(c, 400, "invalid_config", "",
                              "configuration not reloaded, the old one is kept: %s", err);
    return vg_reply_json(c, 200, report);
}

const vg_route vg_routes_admin[] = {
    {"POST", "/admin/reload", VG_AUTH_ADMIN, reload},
    {"GET", "/admin/tasks", VG_AUTH_ADMIN, list_all_tasks},
    {"GET", "/admin/usage", VG_AUTH_ADMIN, usage},
};
const size_t vg_routes_admin_n = sizeof vg_routes_admin / sizeof vg_routes_admin[0];
