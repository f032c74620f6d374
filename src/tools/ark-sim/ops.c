/*
 * ops.c - the four Ark operations as the simulator answers them: create (validated by
 * providers/ark_check.h, then a queued task), get (the task object), list (filters and paging over
 * the raw query, newest first) and delete (cancel a queued task, delete a finished one's record,
 * 409 for a running one).
 *
 * Each runs on an event-loop thread with the request's fault already chosen (a create chooses it
 * once its prompt is known) and takes g_sim.lock only to read or change the task table.
 */
#include "tools/ark-sim/sim.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_create(int status, const char *token)
{
    pthread_mutex_lock(&g_sim.lock);
    if (g_sim.n_creates < MAX_CREATE_LOG) {
        create_log *l = &g_sim.creates[g_sim.n_creates++];
        l->t_ms = vg_now_ms();
        l->status = status;
        snprintf(l->token, sizeof l->token, "%s", token ? token : "");
    }
    pthread_mutex_unlock(&g_sim.lock);
}

int sim_op_create(vg_ctx *c, fault_rule pre)
{
    json_t *body = sim_body_json(c);
    const vg_ark_check_opts co = {.models = (const char *const *)g_sim.models,
                                  .n_models = g_sim.n_models};
    vg_ark_create in;
    vg_ark_err e = {0};
    int rc = 0;
    if (!sim_authorized(c)) {
        sim_ark_error(c, OP_CREATE, 401, "AuthenticationError", "",
                      "the API key in the request is missing or invalid");
        log_create(401, NULL);
        goto out;
    }
    if (!body) {
        sim_ark_error(c, OP_CREATE, 400, "InvalidParameter", "", "the body is not a JSON object");
        log_create(400, NULL);
        goto out;
    }
    const char *prompt = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(body, "content"), i, it) if (!prompt) prompt =
        json_string_value(json_object_get(it, "text"));
    fault_rule f = pre.kind == F_UNDECIDED ? sim_fault_for(c, OP_CREATE, prompt) : pre;
    const char *token = json_string_value(json_object_get(body, "safety_identifier"));
    if (sim_fault_apply(c, OP_CREATE, f, sim_op_create)) {
        if (f.kind != F_LATENCY)
            log_create(f.kind == F_429 ? 429 : f.kind == F_503 ? 503 : 0, token);
        goto out;
    }
    if (vg_ark_check_create(body, &co, &in, &e)) {
        sim_count_reply(OP_CREATE, e.status);
        log_create(e.status, token);
        rc = vg_reply_json(c, e.status, vg_ark_err_json(&e));
        goto out;
    }
    pthread_mutex_lock(&g_sim.lock);
    bool full = g_sim.o.max_queued > 0 && sim_tasks_queued() >= g_sim.o.max_queued;
    stask *t = NULL;
    if (!full) {
        t = sim_task_new(&in, f.kind >= F_SENSITIVE ? f.kind : F_NONE, body);
        if (g_sim.n_tasks == g_sim.cap_tasks) {
            g_sim.cap_tasks = g_sim.cap_tasks ? g_sim.cap_tasks * 2 : 256;
            g_sim.tasks = vg_realloc(g_sim.tasks, g_sim.cap_tasks * sizeof *g_sim.tasks);
        }
        g_sim.tasks[g_sim.n_tasks++] = t;
    }
    char id[40];
    snprintf(id, sizeof id, "%s", t ? t->id : "");
    pthread_mutex_unlock(&g_sim.lock);
    if (full) {
        vg_ctx_header(c, "retry-after", "5");
        sim_ark_error(c, OP_CREATE, 429, "RateLimitExceeded.QueuedTasks", "",
                      "too many queued tasks for this account");
        log_create(429, token);
        goto out;
    }
    log_create(200, token);
    if (sim_fault_after(c, OP_CREATE, f)) goto out;
    sim_count_reply(OP_CREATE, 200);
    rc = vg_reply_json(c, 200, json_pack("{s:s}", "id", id));
out:
    json_decref(body);
    return rc;
}

/* ---- query, list, delete ----------------------------------------------------------------- */

int sim_op_get(vg_ctx *c, fault_rule f)
{
    if (!sim_authorized(c))
        return sim_ark_error(c, OP_GET, 401, "AuthenticationError", "", "invalid API key");
    if (sim_fault_apply(c, OP_GET, f, sim_op_get)) return 0;
    pthread_mutex_lock(&g_sim.lock);
    stask *t = sim_task_find(c->params[0]);
    json_t *j = t ? sim_task_json(t, false) : NULL;
    pthread_mutex_unlock(&g_sim.lock);
    if (!j)
        return sim_ark_error(c, OP_GET, 404, "ResourceNotFound", "id", "the task does not exist");
    if (sim_fault_after(c, OP_GET, f)) return json_decref(j), 0;
    sim_count_reply(OP_GET, 200);
    return vg_reply_json(c, 200, j);
}

/* Copies src into dst (cap bytes), truncating. */
static void scopy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = '\0';
}

typedef struct {
    int page_num, page_size;
    int status; /* -1 any */
    char model[128];
    char (*ids)[64];
    size_t n_ids;
} list_query;

static int parse_int_param(const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) return -1;
    *out = (int)n;
    return 0;
}

/* Walks the raw query (filter.task_ids repeats). Returns NULL or the bad parameter's name. */
static const char *parse_list_query(h2o_req_t *req, list_query *q)
{
    q->page_num = 1;
    q->page_size = 10;
    q->status = -1;
    if (req->query_at == SIZE_MAX) return NULL;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        char k[64], v[256];
        url_decode(p, (size_t)((eq ? eq : amp) - p), k, sizeof k);
        url_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, v, sizeof v);
        p = amp + 1;
        if (!strcmp(k, "page_num") && parse_int_param(v, 1, 500, &q->page_num)) return "page_num";
        if (!strcmp(k, "page_size") && parse_int_param(v, 1, 500, &q->page_size))
            return "page_size";
        if (!strcmp(k, "filter.model")) scopy(q->model, sizeof q->model, v);
        if (!strcmp(k, "filter.status")) {
            q->status = -2;
            for (int i = 0; i < S_COUNT; i++)
                if (!strcmp(sim_status_names[i], v)) q->status = i;
            if (q->status == -2) return "filter.status";
        }
        if (!strcmp(k, "filter.task_ids")) {
            if (q->n_ids == 500) return "filter.task_ids";
            q->ids = vg_realloc(q->ids, (q->n_ids + 1) * sizeof *q->ids);
            scopy(q->ids[q->n_ids++], 64, v);
        }
    }
    return NULL;
}

static bool list_match(const stask *t, const list_query *q)
{
    if (t->deleted) return false;
    if (q->status >= 0 && (int)t->status != q->status) return false;
    if (q->model[0] && strcmp(q->model, t->model)) return false;
    if (!q->n_ids) return true;
    for (size_t i = 0; i < q->n_ids; i++)
        if (!strcmp(q->ids[i], t->id)) return true;
    return false;
}

int sim_op_list(vg_ctx *c, fault_rule f)
{
    if (!sim_authorized(c))
        return sim_ark_error(c, OP_LIST, 401, "AuthenticationError", "", "invalid API key");
    if (sim_fault_apply(c, OP_LIST, f, sim_op_list)) return 0;
    list_query q;
    memset(&q, 0, sizeof q);
    const char *bad = parse_list_query(c->req, &q);
    if (bad) {
        free(q.ids);
        char msg[96];
        snprintf(msg, sizeof msg, "the parameter %s has an invalid value", bad);
        return sim_ark_error(c, OP_LIST, 400, "InvalidParameter", bad, msg);
    }
    json_t *items = json_array();
    long total = 0, skip = (long)(q.page_num - 1) * q.page_size;
    pthread_mutex_lock(&g_sim.lock);
    for (size_t i = g_sim.n_tasks; i-- > 0;) { /* newest first */
        const stask *t = g_sim.tasks[i];
        if (!list_match(t, &q)) continue;
        if (total >= skip && total < skip + q.page_size)
            json_array_append_new(items, sim_task_json(t, true));
        total++;
    }
    if (q.n_ids) {
        g_sim.list_by_ids++;
        g_sim.list_by_ids_items += (long)json_array_size(items);
    }
    pthread_mutex_unlock(&g_sim.lock);
    free(q.ids);
    json_t *j = json_pack("{s:I, s:o}", "total", (json_int_t)total, "items", items);
    if (sim_fault_after(c, OP_LIST, f)) return json_decref(j), 0;
    sim_count_reply(OP_LIST, 200);
    return vg_reply_json(c, 200, j);
}

int sim_op_delete(vg_ctx *c, fault_rule f)
{
    if (!sim_authorized(c))
        return sim_ark_error(c, OP_DELETE, 401, "AuthenticationError", "", "invalid API key");
    if (sim_fault_apply(c, OP_DELETE, f, sim_op_delete)) return 0;
    pthread_mutex_lock(&g_sim.lock);
    stask *t = sim_task_find(c->params[0]);
    int verdict = !t ? 404 : t->status == S_RUNNING ? 409 : 200;
    if (t && t->status == S_QUEUED)
        sim_task_set_status(t, S_CANCELLED);
    else if (t && verdict == 200)
        t->deleted = true; /* a finished task's record is deleted */
    pthread_mutex_unlock(&g_sim.lock);
    if (verdict == 404)
        return sim_ark_error(c, OP_DELETE, 404, "ResourceNotFound", "id",
                             "the task does not exist");
    if (verdict == 409)
        return sim_ark_error(c, OP_DELETE, 409, "InvalidAction.TaskRunning", "id",
                             "a running task cannot be cancelled");
    if (sim_fault_after(c, OP_DELETE, f)) return 0;
    sim_count_reply(OP_DELETE, 200);
    return vg_reply_json(c, 200, json_object());
}
