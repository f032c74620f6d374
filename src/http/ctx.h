/*
 * ctx.h - one request on its way through vidgate: the h2o request, the caller, the path
 * parameters, and the helpers that read input and write replies.
 *
 * Every reply goes through vg_reply_json() or vg_reply_err(), so every response carries
 * X-Request-Id and every error the one envelope {"error":{"message","type","code","param"}}.
 * Validation helpers reply for the handler and return -1, so handlers read as a straight line:
 *     if (vg_ctx_json_body(c, &body)) return 0;
 *
 * Memory: anything a helper returns as const char * lives in the request's pool (freed when the
 * request ends). json_t values handed to vg_reply_json() are consumed.
 */
#ifndef VG_HTTP_CTX_H
#define VG_HTTP_CTX_H
#include "common/limits.h"
#include "core/error.h"
#include "store/store.h"

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

typedef struct vg_ctx vg_ctx;
typedef int (*vg_handler)(vg_ctx *c);

/* Who may call a route: anyone; any valid key; a user key (the admin key is refused with 403:
 * it manages keys and has no balance, so it must not create tasks or assets); the admin key (a
 * user key gets 403). */
typedef enum { VG_AUTH_NONE, VG_AUTH_KEY, VG_AUTH_USER, VG_AUTH_ADMIN } vg_auth;

/** One row of a route table: "/v1/videos/{id}/content" — each {…} captures one path segment. */
typedef struct {
    const char *method;
    const char *pattern;
    vg_auth auth;
    vg_handler fn;
} vg_route;

struct vg_ctx {
    h2o_req_t *req;
    void *app;       /* the handlers' environment (api/env.h for vidgated) */
    vg_store *store; /* this thread's store connection */
    const vg_route *route;
    vg_key key; /* the authenticated caller (route auth != NONE) */
    char request_id[VG_MAX_REQUEST_ID_BYTES + 1];
    int nparams;
    char params[3][128]; /* captured path segments, in order */
    int64_t start_ms;    /* monotonic time the request reached the router (access log) */
    int64_t start_us;    /* the same in microseconds (latency metrics) */
    /* Set when the handler parked the request (http/longpoll.h): the parked copy of this ctx now
     * owns the key and writes the access-log line when it answers. */
    bool parked;
};

/** Adds a response header (name and value copied into the request pool). */
void vg_ctx_header(vg_ctx *c, const char *name, const char *value);
/** The value of a request header, NUL-terminated in the pool, or NULL. */
const char *vg_ctx_req_header(vg_ctx *c, const char *name);
/** Query parameter `name`, URL-decoded into the pool; NULL when absent. */
const char *vg_ctx_query(vg_ctx *c, const char *name);
/**
 * Query parameter `name` as a decimal integer in [min, max], the one way handlers read numbers
 * from a query string. Absent: *out = dflt, returns 0. Anything but an optional '-' and digits
 * (no spaces, no '+', no trailing junk), or a value out of range: replies 400 invalid_parameter
 * with param = name and returns -1.
 */
int vg_ctx_query_int(vg_ctx *c, const char *name, int64_t min, int64_t max, int64_t dflt,
                     int64_t *out);

/**
 * Parses the request body as a JSON object (size ≤ max_bytes, depth ≤ VG_MAX_JSON_DEPTH, UTF-8).
 * On success returns 0 and a new reference in *out (caller decrefs). Otherwise replies 400
 * invalid_json / 413 request_too_large / 415 unsupported_media_type and returns -1.
 */
int vg_ctx_json_body(vg_ctx *c, size_t max_bytes, json_t **out);

/** Replies with a JSON body (consumes j). Returns 0. */
int vg_reply_json(vg_ctx *c, int status, json_t *j);
/** Replies with JSON text already serialised (len bytes, copied). Returns 0. */
int vg_reply_json_text(vg_ctx *c, int status, const char *text, size_t len);
/** Replies with a body of another type (len bytes of text, copied; content_type as sent).
 *  Returns 0. */
int vg_reply_text(vg_ctx *c, int status, const char *content_type, const char *text, size_t len);
/** Replies with the error envelope of e (and Retry-After when set). Returns 0. */
int vg_reply_err(vg_ctx *c, const vg_err *e);
/** The envelope {"error":{…}} of e as a new JSON reference. */
json_t *vg_err_envelope(const vg_err *e);
/** The envelope of e as compact JSON text (malloc'd; caller frees), or NULL when out of memory.
 * For replies written outside a request (the server's refusals by request head). */
char *vg_err_envelope_text(const vg_err *e);
/** Builds and sends an error in one call. Returns 0. */
int vg_reply_error(vg_ctx *c, int status, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/** Replies 500 internal_error without details (the reason is logged by the caller); 503
 * unavailable with Retry-After instead when the store's connection is down (a shared database
 * went away), so every handler's store failure says "try again" then. */
int vg_reply_internal(vg_ctx *c);

/** Depth of JSON nesting in text (strings skipped); stops counting past limit. Exposed for tests.
 */
int vg_json_depth(const char *text, size_t len, int limit);

#endif
