/*
 * deferred.c - replies that come late or never: a latency fault answers after its delay, a
 * timeout or hang holds the request, then drops the connection.
 *
 * Each pending reply is an h2o timer entry on the loop that received the request, allocated in
 * the request's pool (freed with it, which unlinks it) and listed per thread, so that a stopping
 * loop answers them all first (sim_on_loop_stop). Nothing here takes g_sim.lock.
 */
#include "tools/ark-sim/sim.h"

#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

typedef struct pending {
    h2o_timeout_entry_t entry;
    h2o_linklist_t link; /* this thread's list of pending replies */
    h2o_req_t *req;
    h2o_context_t *ctx;
    int64_t due_ms;
    op_fn fn; /* run at due time (latency); NULL = drop the connection (held) */
    char param[128];
    bool done;
} pending;

static _Thread_local h2o_linklist_t t_pending;
static _Thread_local bool t_pending_init;

void sim_drop_connection(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock) shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
    /* Finish the request so h2o releases it; the write fails and h2o closes the socket. */
    req->res.status = 500;
    req->res.reason = "dropped";
    h2o_send_inline(req, "", 0);
}

static void pending_fire(pending *p)
{
    if (p->done) return;
    p->done = true;
    if (h2o_timeout_is_linked(&p->entry)) h2o_timeout_unlink(&p->entry);
    if (h2o_linklist_is_linked(&p->link)) h2o_linklist_unlink(&p->link);
    if (!p->fn) {
        sim_drop_connection(p->req);
        return;
    }
    vg_ctx c;
    memset(&c, 0, sizeof c);
    c.req = p->req;
    snprintf(c.params[0], sizeof c.params[0], "%s", p->param);
    c.nparams = 1;
    fault_rule none = {.kind = F_NONE};
    p->fn(&c, none);
}

static void on_pending_timer(h2o_timeout_entry_t *entry)
{
    pending *p = H2O_STRUCT_FROM_MEMBER(pending, entry, entry);
    if (vg_mono_ms() < p->due_ms) {
        h2o_timeout_link(p->ctx->loop, &p->ctx->hundred_ms_timeout, &p->entry);
        return;
    }
    pending_fire(p);
}

static void on_pending_dispose(void *mem)
{
    pending *p = mem;
    if (h2o_timeout_is_linked(&p->entry)) h2o_timeout_unlink(&p->entry);
    if (h2o_linklist_is_linked(&p->link)) h2o_linklist_unlink(&p->link);
}

/* Answers the request later: fn after ms (latency), or a dropped connection (hold). */
int sim_defer(vg_ctx *c, int ms, op_fn fn)
{
    if (!t_pending_init) {
        h2o_linklist_init_anchor(&t_pending);
        t_pending_init = true;
    }
    pending *p = h2o_mem_alloc_shared(&c->req->pool, sizeof *p, on_pending_dispose);
    memset(p, 0, sizeof *p);
    p->req = c->req;
    p->ctx = c->req->conn->ctx;
    p->due_ms = vg_mono_ms() + ms;
    p->fn = fn;
    snprintf(p->param, sizeof p->param, "%s", c->nparams ? c->params[0] : "");
    p->entry.cb = on_pending_timer;
    h2o_timeout_link(p->ctx->loop, &p->ctx->hundred_ms_timeout, &p->entry);
    h2o_linklist_insert(&t_pending, &p->link);
    return 0;
}

void sim_on_loop_stop(void *app)
{
    (void)app;
    while (t_pending_init && !h2o_linklist_is_empty(&t_pending))
        pending_fire(H2O_STRUCT_FROM_MEMBER(pending, link, t_pending.next));
}
