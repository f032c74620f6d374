/* fuzz_router.c - request paths: route matching over the whole route table and the query-string
 * reader. The first line of the input is the request path (with or without "?query"); every later
 * line is both a route pattern to try and a query parameter name to look up (the parameters the
 * handlers read are always looked up too).
 *
 * Checks: a match captures at most three non-empty segments without '/', and putting the captures
 * back into the pattern gives the path again; a query value is NUL-terminated in the request pool
 * and never longer than the query it came from. */
#include "api/handlers.h"
#include "http/router.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_LINE_BYTES 4096

/* The parameters the API handlers read. */
static const char *const g_names[] = {"limit", "after",   "before", "status",   "order",
                                      "wait",  "variant", "format", "expires",  "sig",
                                      "token", "key_id",  "detail", "group_by", ""};

/* Rebuilds the path from pattern and captures; 0 when it equals path. */
static int rebuild_equals(const char *pattern, const vg_ctx *c, const char *path, size_t len)
{
    char out[2 * MAX_LINE_BYTES];
    size_t n = 0;
    int k = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || k >= c->nparams) return -1;
            size_t l = strlen(c->params[k]);
            if (n + l >= sizeof out) return -1;
            memcpy(out + n, c->params[k++], l);
            n += l;
            p = close + 1;
        } else {
            if (n + 1 >= sizeof out) return -1;
            out[n++] = *p++;
        }
    }
    return k == c->nparams && n == len && !memcmp(out, path, len) ? 0 : -1;
}

static void try_pattern(const char *pattern, const char *path, size_t plen)
{
    vg_ctx c;
    memset(&c, 0, sizeof c);
    if (!vg_route_match(pattern, path, plen, &c)) return;
    if (c.nparams < 0 || c.nparams > 3) __builtin_trap();
    for (int i = 0; i < c.nparams; i++) {
        size_t l = strnlen(c.params[i], sizeof c.params[i]);
        if (l == 0 || l == sizeof c.params[i] || memchr(c.params[i], '/', l)) __builtin_trap();
    }
    if (rebuild_equals(pattern, &c, path, plen)) __builtin_trap();
}

static void try_query(vg_ctx *c, const char *name)
{
    const char *v = vg_ctx_query(c, name);
    if (!v) return;
    size_t qlen = c->req->query_at == SIZE_MAX ? 0 : c->req->path.len - c->req->query_at;
    if (strlen(v) > qlen) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const vg_route *routes;
    static size_t n_routes;
    if (!routes) routes = vg_api_routes(&n_routes); /* kept for the process's life */
    if (size > 4 * MAX_LINE_BYTES) return 0;

    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    if (plen > MAX_LINE_BYTES) return 0;
    /* h2o refuses control characters in the request target, so none reach the router. */
    for (size_t i = 0; i < plen; i++)
        if (data[i] < 0x20 || data[i] == 0x7f) return 0;
    char path[MAX_LINE_BYTES + 1];
    memcpy(path, data, plen);
    path[plen] = '\0';

    h2o_req_t req;
    memset(&req, 0, sizeof req);
    h2o_mem_init_pool(&req.pool);
    req.path = h2o_iovec_init(path, plen);
    const char *q = memchr(path, '?', plen);
    req.query_at = q ? (size_t)(q - path) : SIZE_MAX;
    size_t route_len = q ? (size_t)(q - path) : plen;
    vg_ctx c;
    memset(&c, 0, sizeof c);
    c.req = &req;

    for (size_t i = 0; i < n_routes; i++)
        try_pattern(routes[i].pattern, path, route_len);
    for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
        try_query(&c, g_names[i]);

    /* The remaining lines: patterns and names from the input. */
    const uint8_t *p = nl ? nl + 1 : data + size, *end = data + size;
    while (p < end) {
        const uint8_t *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        size_t l = (size_t)(e - p);
        if (l <= MAX_LINE_BYTES) {
            char line[MAX_LINE_BYTES + 1];
            memcpy(line, p, l);
            line[l] = '\0';
            try_pattern(line, path, route_len);
            try_query(&c, line);
        }
        p = e + 1;
    }
    h2o_mem_clear_pool(&req.pool);
    return 0;
}
