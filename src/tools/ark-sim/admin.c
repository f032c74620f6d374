/*
 * admin.c - the simulator's own routes (no key): GET /sim/stats (?detail=1 adds every create),
 * GET /sim/requests/{id} (a task's create body, verbatim), POST /sim/faults (replace the global
 * rules), POST /sim/expire-urls, POST /sim/reset-stats. Each reads or changes g_sim under its
 * lock.
 */
#include "tools/ark-sim/sim.h"

#include "common/clock.h"

#include <string.h>

static json_t *op_counts(void) /* under g_sim.lock */
{
    static const char *const buckets[] = {"2xx", "4xx", "429", "5xx", "no_reply", "other"};
    json_t *j = json_object();
    for (int op = 0; op < OP_COUNT; op++) {
        json_t *b = json_object();
        for (int k = 0; k < 6; k++)
            json_object_set_new(b, buckets[k], json_integer(g_sim.by_status[op][k]));
        json_object_set_new(b, "requests", json_integer(g_sim.requests[op]));
        json_object_set_new(j, sim_op_names[op], b);
    }
    return j;
}

int sim_admin_stats(vg_ctx *c)
{
    bool detail = vg_ctx_query(c, "detail") != NULL;
    pthread_mutex_lock(&g_sim.lock);
    long api = 0, by[S_COUNT] = {0};
    for (int op = 0; op < OP_COUNT; op++)
        api += g_sim.requests[op];
    for (size_t i = 0; i < g_sim.n_tasks; i++)
        by[g_sim.tasks[i]->status]++;
    json_t *statuses = json_object(), *faults = json_object();
    for (int s = 0; s < S_COUNT; s++)
        json_object_set_new(statuses, sim_status_names[s], json_integer(by[s]));
    for (int f = 1; f < F_COUNT; f++)
        if (g_sim.faults_fired[f])
            json_object_set_new(faults, sim_fault_names[f], json_integer(g_sim.faults_fired[f]));
    json_t *j = json_pack("{s:o, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I}}", "operations", op_counts(),
                          "api_requests", (json_int_t)api, "tasks", (json_int_t)g_sim.n_tasks,
                          "video_requests", (json_int_t)g_sim.video_requests, "statuses", statuses,
                          "faults", faults, "callbacks", "sent", (json_int_t)g_sim.callbacks_sent,
                          "failed", (json_int_t)g_sim.callbacks_failed);
    json_object_set_new(j, "batch_polls",
                        json_pack("{s:I, s:I}", "calls", (json_int_t)g_sim.list_by_ids, "tasks",
                                  (json_int_t)g_sim.list_by_ids_items));
    if (detail) {
        json_t *creates = json_array();
        for (size_t i = 0; i < g_sim.n_creates; i++)
            json_array_append_new(creates, json_pack("{s:I, s:i, s:s}", "t_ms",
                                                     (json_int_t)g_sim.creates[i].t_ms, "status",
                                                     g_sim.creates[i].status, "token",
                                                     g_sim.creates[i].token));
        json_object_set_new(j, "creates", creates);
    }
    pthread_mutex_unlock(&g_sim.lock);
    return vg_reply_json(c, 200, j);
}

int sim_admin_request(vg_ctx *c)
{
    pthread_mutex_lock(&g_sim.lock);
    stask *t = NULL;
    for (size_t i = 0; i < g_sim.n_tasks && !t; i++)
        if (!strcmp(g_sim.tasks[i]->id, c->params[0])) t = g_sim.tasks[i];
    json_t *j = t && t->request ? json_loads(t->request, 0, NULL) : NULL;
    pthread_mutex_unlock(&g_sim.lock);
    if (!j) return vg_reply_json(c, 404, json_pack("{s:s}", "error", "no such task"));
    return vg_reply_json(c, 200, j);
}

int sim_admin_faults(vg_ctx *c)
{
    json_t *body = sim_body_json(c);
    const char *spec = json_string_value(json_object_get(body, "faults"));
    fault_rule rules[MAX_RULES];
    int n = spec ? sim_faults_parse(spec, rules, MAX_RULES) : -1;
    json_decref(body);
    if (n < 0)
        return vg_reply_json(c, 400, json_pack("{s:s}", "error", "invalid fault specification"));
    pthread_mutex_lock(&g_sim.lock);
    memcpy(g_sim.rules, rules, (size_t)n * sizeof *rules);
    g_sim.n_rules = n;
    pthread_mutex_unlock(&g_sim.lock);
    return vg_reply_json(c, 200, json_pack("{s:i}", "rules", n));
}

int sim_admin_expire_urls(vg_ctx *c)
{
    pthread_mutex_lock(&g_sim.lock);
    for (size_t i = 0; i < g_sim.n_tasks; i++)
        if (g_sim.tasks[i]->url_expires_s) g_sim.tasks[i]->url_expires_s = vg_now_s() - 1;
    pthread_mutex_unlock(&g_sim.lock);
    return vg_reply_json(c, 200, json_object());
}

int sim_admin_reset_stats(vg_ctx *c)
{
    pthread_mutex_lock(&g_sim.lock);
    memset(g_sim.requests, 0, sizeof g_sim.requests);
    memset(g_sim.by_status, 0, sizeof g_sim.by_status);
    memset(g_sim.faults_fired, 0, sizeof g_sim.faults_fired);
    g_sim.video_requests = g_sim.callbacks_sent = g_sim.callbacks_failed = 0;
    g_sim.list_by_ids = g_sim.list_by_ids_items = 0;
    g_sim.n_creates = 0;
    pthread_mutex_unlock(&g_sim.lock);
    return vg_reply_json(c, 200, json_object());
}
