/* ctx.c - see ctx.h. */
#include "http/ctx.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void vg_ctx_header(vg_ctx *c, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *n = h2o_mem_alloc_pool(&c->req->pool, nl + 1);
    memcpy(n, name, nl + 1);
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers, n, nl, 1, NULL,
                          h2o_strdup(&c->req->pool, value, vl).base, vl);
}

const char *vg_ctx_req_header(vg_ctx *c, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, name, strlen(name), -1);
    if (i < 0) return NULL;
    h2o_iovec_t v = c->req->headers.entries[i].value;
    return h2o_strdup(&c->req->pool, v.base, v.len).base;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' of a query component into the pool. */
static const char *query_decode(h2o_mem_pool_t *pool, const char *s, size_t n)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

const char *vg_ctx_query(vg_ctx *c, const char *name)
{
    if (c->req->query_at == SIZE_MAX) return NULL;
    const char *q = c->req->path.base + c->req->query_at + 1;
    const char *end = c->req->path.base + c->req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) amp = end;
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        const char *kend = eq ? eq : amp;
        if ((size_t)(kend - q) == nl && memcmp(q, name, nl) == 0)
            return eq ? query_decode(&c->req->pool, eq + 1, (size_t)(amp - eq - 1)) : "";
        q = amp + 1;
    }
    return NULL;
}

int vg_ctx_query_int(vg_ctx *c, const char *name, int64_t min, int64_t max, int64_t dflt,
                     int64_t *out)
{
    const char *v = vg_ctx_query(c, name);
    *out = dflt;
    if (!v) return 0;
    /* strtoll() alone would take " 5", "+5" and "5x" (and wrap silently out of range): only an
     * optional '-' and digits, all of them consumed, inside the range. */
    const char *digits = v[0] == '-' ? v + 1 : v;
    char *end = NULL;
    errno = 0;
    long long n = *digits >= '0' && *digits <= '9' ? strtoll(v, &end, 10) : 0;
    if (!end || *end || errno == ERANGE || n < min || n > max) {
        if (max == INT64_MAX)
            return vg_reply_error(c, 400, "invalid_parameter", name,
                                  "%s must be an integer of at least %lld", name, (long long)min),
                   -1;
        return vg_reply_error(c, 400, "invalid_parameter", name,
                              "%s must be an integer from %lld to %lld", name, (long long)min,
                              (long long)max),
               -1;
    }
    *out = n;
    return 0;
}

int vg_json_depth(const char *text, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len && max <= limit; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max) max = depth;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return max;
}

static bool is_json_type(const char *ct)
{
    if (!ct) return true; /* curl -d without -H is common; the body decides */
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "application/json", 16) == 0 ||
           strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
           strncasecmp(ct, "text/plain", 10) == 0;
}

int vg_ctx_json_body(vg_ctx *c, size_t max_bytes, json_t **out)
{
    h2o_iovec_t b = c->req->entity;
    if (!is_json_type(vg_ctx_req_header(c, "content-type")))
        return vg_reply_error(c, 415, "unsupported_media_type", "",
                              "Content-Type must be application/json"),
               -1;
    if (b.len > max_bytes)
        return vg_reply_error(c, 413, "request_too_large", "",
                              "request body is larger than %zu bytes", max_bytes),
               -1;
    if (!b.base || b.len == 0)
        return vg_reply_error(c, 400, "invalid_json", "", "request body must be a JSON object"), -1;
    if (vg_json_depth(b.base, b.len, VG_MAX_JSON_DEPTH) > VG_MAX_JSON_DEPTH)
        return vg_reply_error(c, 400, "invalid_json", "", "JSON nesting deeper than %d",
                              VG_MAX_JSON_DEPTH),
               -1;
    json_error_t je;
    json_t *j = json_loadb(b.base, b.len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return vg_reply_error(c, 400, "invalid_json", "", "invalid JSON at line %d column %d: %s",
                              je.line, je.column, je.text),
               -1;
    if (!json_is_object(j)) {
        json_decref(j);
        return vg_reply_error(c, 400, "invalid_json", "", "request body must be a JSON object"), -1;
    }
    *out = j;
    return 0;
}

static void send_body(vg_ctx *c, int status, const char *body, size_t len)
{
    h2o_req_t *req = c->req;
    req->res.status = status;
    req->res.reason = "";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

int vg_reply_json(vg_ctx *c, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) {
        static const char fallback[] =
            "{\"error\":{\"message\":\"internal error\",\"type\":"
            "\"server_error\",\"code\":\"internal_error\",\"param\":null}}";
        send_body(c, 500, fallback, sizeof fallback - 1);
        return 0;
    }
    send_body(c, status, s, strlen(s));
    free(s);
    return 0;
}

int vg_reply_json_text(vg_ctx *c, int status, const char *text, size_t len)
{
    send_body(c, status, text, len);
    return 0;
}

int vg_reply_text(vg_ctx *c, int status, const char *content_type, const char *text, size_t len)
{
    h2o_req_t *req = c->req;
    req->res.status = status;
    req->res.reason = "";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_send_inline(req, text, len);
    return 0;
}

int vg_reply_err(vg_ctx *c, const vg_err *e)
{
    int status = e->http_status ? e->http_status : 500;
    if (e->retry_after_s > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", e->retry_after_s);
        vg_ctx_header(c, "retry-after", ra);
    }
    return vg_reply_json(c, status, vg_err_envelope(e));
}

json_t *vg_err_envelope(const vg_err *e)
{
    int status = e->http_status ? e->http_status : 500;
    const char *code = e->code ? e->code : "internal_error";
    json_t *err = json_pack("{s:s, s:s, s:s, s:o}", "message", e->message, "type",
                            e->type ? e->type : vg_err_type_for(status, code), "code", code,
                            "param", e->param[0] ? json_string(e->param) : json_null());
    return json_pack("{s:o}", "error", err);
}

char *vg_err_envelope_text(const vg_err *e)
{
    json_t *j = vg_err_envelope(e);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

int vg_reply_error(vg_ctx *c, int status, const char *code, const char *param, const char *fmt, ...)
{
    vg_err e = {0};
    char msg[sizeof e.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_err_set(&e, status, code, param, "%s", msg);
    return vg_reply_err(c, &e);
}

int vg_reply_internal(vg_ctx *c)
{
    /* A store call failed because the shared database went away (the connection says so): not
     * an internal error but a passing one, which the node recovers from by itself. */
    if (c->store && !vg_store_connected(c->store)) {
        vg_err e = {0};
        vg_err_set(&e, 503, "unavailable", "", "the store is not reachable: try again");
        e.retry_after_s = VG_UNAVAILABLE_RETRY_AFTER_S;
        return vg_reply_err(c, &e);
    }
    return vg_reply_error(c, 500, "internal_error", "", "internal error; request id %s",
                          c->request_id);
}
