/*
 * faults.c - fault injection: rules ("KIND [on=...] [p=...] [n=...] [retry_after=S] [ms=N]", see
 * sim.h), the choice of one fault per request (X-Sim-Fault header, then a create's "[sim:KIND]"
 * prompt marker, then the global rules), and its effect: instead of the operation (errors,
 * drops, delays) or after it (malformed, lost, hang).
 *
 * The global rules, the marker counts and the random generator are under g_sim.lock; the effects
 * run on the request's event-loop thread.
 */
#include "tools/ark-sim/sim.h"

#include "common/alloc.h"
#include "common/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sim_op_names[OP_COUNT] = {"create", "get", "list", "delete"};

const char *const sim_fault_names[F_COUNT] = {
    "none",      "429",  "500",  "502",       "503",   "latency", "timeout", "drop",
    "malformed", "lost", "hang", "sensitive", "never", "expire",  "slow",    "random",
};

/* What "random" may pick, per operation. */
static const fault_kind g_random_menu[OP_COUNT][10] = {
    [OP_CREATE] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_LOST, F_MALFORMED, F_HANG, F_SENSITIVE,
                   F_LATENCY},
    [OP_GET] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_MALFORMED, F_LATENCY},
    [OP_LIST] = {F_429, F_500, F_503, F_DROP, F_TIMEOUT, F_MALFORMED, F_LATENCY},
    [OP_DELETE] = {F_429, F_503, F_LATENCY},
};

static double rnd(void) /* under g_sim.lock */
{
    g_sim.rng = g_sim.rng * 1103515245u + 12345u;
    return (double)((g_sim.rng >> 8) & 0xffffff) / (double)0x1000000;
}

static int parse_kind(const char *s)
{
    for (int i = 0; i < F_COUNT; i++)
        if (!strcmp(sim_fault_names[i], s)) return i;
    return -1;
}

/* One rule "KIND key=value …". 0 or -1. */
static int parse_rule(char *text, fault_rule *r)
{
    memset(r, 0, sizeof *r);
    r->ops = OP_ALL;
    r->retry_after = 1;
    char *save = NULL, *tok = strtok_r(text, " \t", &save);
    int k = tok ? parse_kind(tok) : -1;
    if (k <= F_NONE) return -1;
    r->kind = (fault_kind)k;
    while ((tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) return -1;
        *eq++ = '\0';
        if (!strcmp(tok, "on")) {
            r->ops = 0;
            for (int i = 0; i < OP_COUNT; i++)
                if (!strcmp(eq, sim_op_names[i])) r->ops = 1u << i;
            if (!strcmp(eq, "any")) r->ops = OP_ALL;
            if (!r->ops) return -1;
        } else if (!strcmp(tok, "p")) {
            r->p = atof(eq);
        } else if (!strcmp(tok, "n")) {
            r->n = atoi(eq);
        } else if (!strcmp(tok, "retry_after")) {
            r->retry_after = atoi(eq);
        } else if (!strcmp(tok, "ms")) {
            r->ms = atoi(eq);
        } else {
            return -1;
        }
    }
    if (r->n == 0 && r->p == 0) r->p = 1;
    return 0;
}

/* Parses "rule; rule; …" into out (at most max). Returns the count or -1. */
int sim_faults_parse(const char *spec, fault_rule *out, int max)
{
    char *copy = vg_strdup(spec), *save = NULL;
    int n = 0, rc = 0;
    for (char *part = strtok_r(copy, ";", &save); part && rc == 0;
         part = strtok_r(NULL, ";", &save)) {
        while (*part == ' ')
            part++;
        if (!*part) continue;
        if (n == max || parse_rule(part, &out[n])) rc = -1;
        n++;
    }
    free(copy);
    return rc ? -1 : n;
}

static fault_rule resolve_random(fault_rule r, sim_op op) /* under g_sim.lock */
{
    if (r.kind != F_RANDOM) return r;
    size_t n = 0;
    while (n < 10 && g_random_menu[op][n] != F_NONE)
        n++;
    r.kind = g_random_menu[op][(size_t)(rnd() * (double)n) % n];
    if (r.kind == F_TIMEOUT && r.ms == 0) r.ms = 5000;
    if (r.kind == F_LATENCY && r.ms == 0) r.ms = 300;
    return r;
}

/* The global rules' verdict for one request. */
static fault_rule global_fault(sim_op op)
{
    fault_rule none = {.kind = F_NONE};
    pthread_mutex_lock(&g_sim.lock);
    for (int i = 0; i < g_sim.n_rules; i++) {
        fault_rule *r = &g_sim.rules[i];
        if (!(r->ops & (1u << op))) continue;
        bool fire = false;
        if (r->n > 0) {
            r->n--;
            fire = true;
            if (r->n == 0) r->p = 0; /* a counted rule is spent, not probabilistic */
        } else if (r->p > 0) {
            fire = rnd() < r->p;
        }
        if (fire) {
            none = resolve_random(*r, op);
            break;
        }
    }
    pthread_mutex_unlock(&g_sim.lock);
    return none;
}

static fault_rule header_fault(vg_ctx *c, sim_op op)
{
    fault_rule r = {.kind = F_NONE};
    const char *h = vg_ctx_req_header(c, "x-sim-fault");
    char *copy = h ? vg_strdup(h) : NULL;
    if (copy && parse_rule(copy, &r) == 0) {
        pthread_mutex_lock(&g_sim.lock);
        r = resolve_random(r, op);
        pthread_mutex_unlock(&g_sim.lock);
    } else {
        r.kind = F_NONE;
    }
    free(copy);
    return r;
}

/* "[sim:KIND]" or "[sim:KIND*N]" in a prompt: KIND for the first N creates of that prompt. */
static fault_rule marker_fault(const char *prompt)
{
    fault_rule r = {.kind = F_NONE, .retry_after = 1};
    const char *m = prompt ? strstr(prompt, "[sim:") : NULL;
    if (!m) return r;
    char kind[32] = "";
    int limit = 0;
    const char *end = strchr(m, ']');
    if (!end || end - m - 5 >= (long)sizeof kind) return r;
    memcpy(kind, m + 5, (size_t)(end - m - 5));
    kind[end - m - 5] = '\0';
    char *star = strchr(kind, '*');
    if (star) *star++ = '\0', limit = atoi(star);
    int k = parse_kind(kind);
    if (k <= F_NONE) return r;
    char hash[65];
    vg_sha256_hex(prompt, strlen(prompt), hash);
    pthread_mutex_lock(&g_sim.lock);
    size_t i;
    for (i = 0; i < g_sim.n_markers && strcmp(g_sim.markers[i].prompt_hash, hash); i++)
        ;
    if (i == g_sim.n_markers) {
        g_sim.markers = vg_realloc(g_sim.markers, (g_sim.n_markers + 1) * sizeof *g_sim.markers);
        snprintf(g_sim.markers[i].prompt_hash, 65, "%s", hash);
        g_sim.markers[i].used = 0;
        g_sim.n_markers++;
    }
    bool fire = limit == 0 || g_sim.markers[i].used < limit;
    g_sim.markers[i].used++;
    if (fire) {
        r.kind = (fault_kind)k;
        r = resolve_random(r, OP_CREATE);
    }
    pthread_mutex_unlock(&g_sim.lock);
    return r;
}

fault_rule sim_fault_for(vg_ctx *c, sim_op op, const char *prompt)
{
    fault_rule f = header_fault(c, op);
    if (f.kind == F_NONE && op == OP_CREATE) f = marker_fault(prompt);
    if (f.kind == F_NONE) f = global_fault(op);
    /* Task faults only make sense for a create. */
    if (op != OP_CREATE && f.kind >= F_SENSITIVE) f.kind = F_NONE;
    return f;
}

/* ---- effects ------------------------------------------------------------------------------ */

/* Applies a fault that replaces the operation (errors, drops, delays). Returns 1 when it
 * answered (or will), 0 when the operation should run (with any after-effect it carries). */
int sim_fault_apply(vg_ctx *c, sim_op op, fault_rule f, op_fn fn)
{
    if (f.kind == F_NONE) return 0;
    pthread_mutex_lock(&g_sim.lock);
    g_sim.faults_fired[f.kind]++;
    pthread_mutex_unlock(&g_sim.lock);
    char ra[16];
    switch (f.kind) {
    case F_429:
        snprintf(ra, sizeof ra, "%d", f.retry_after);
        vg_ctx_header(c, "retry-after", ra);
        sim_ark_error(c, op, 429, "RateLimitExceeded.EndpointRPMExceeded", "",
                      "the request rate of this endpoint is exceeded; retry later");
        return 1;
    case F_500:
    case F_502:
    case F_503: {
        static const int st[] = {[F_500] = 500, [F_502] = 502, [F_503] = 503};
        sim_ark_error(c, op, st[f.kind],
                      st[f.kind] == 503 ? "ServiceUnavailable" : "InternalServiceError", "",
                      "the service encountered an internal error");
        return 1;
    }
    case F_LATENCY:
        return sim_defer(c, f.ms > 0 ? f.ms : 300, fn), 1;
    case F_TIMEOUT:
        sim_count_reply(op, 0);
        return sim_defer(c, f.ms > 0 ? f.ms : DEFAULT_HOLD_MS, NULL), 1;
    case F_DROP:
        sim_count_reply(op, 0);
        sim_drop_connection(c->req);
        return 1;
    default:
        return 0; /* malformed, lost, hang and task faults act after the work */
    }
}

/* After-effects: the work was done; the reply is lost, garbled or never comes. 1 = handled. */
int sim_fault_after(vg_ctx *c, sim_op op, fault_rule f)
{
    if (f.kind == F_MALFORMED) {
        static const char broken[] = "{\"id\": \"cgt-2026";
        sim_count_reply(op, 200);
        c->req->res.status = 200;
        c->req->res.reason = "OK";
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        h2o_send_inline(c->req, broken, sizeof broken - 1);
        return 1;
    }
    if (f.kind == F_LOST) {
        sim_count_reply(op, 0);
        sim_drop_connection(c->req);
        return 1;
    }
    if (f.kind == F_HANG) {
        sim_count_reply(op, 0);
        sim_defer(c, f.ms > 0 ? f.ms : DEFAULT_HOLD_MS, NULL);
        return 1;
    }
    return 0;
}
