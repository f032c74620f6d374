/*
 * router.h - matches a request against a route table, authenticates the caller, runs the handler
 * and writes the access-log line.
 *
 * Matching: exact method, then the path (without query) segment by segment; "{x}" captures one
 * segment (1..127 bytes). A path that matches a pattern with another method gets 405; no match 404.
 * Authentication: "Authorization: Bearer sk-…"; the secret is hashed (SHA-256) and looked up by its
 * hash, then compared in constant time. Revoked, expired or unknown keys → 401; an admin route with
 * a non-admin key → 401 too (admin routes are not advertised).
 * Admission: before a connection's first request body is read, the server asks
 * vg_router_admit() about the head (body cap of the route, key for a large body).
 */
#ifndef VG_HTTP_ROUTER_H
#define VG_HTTP_ROUTER_H
#include "http/ctx.h"
#include "http/reqhead.h"

#include <stddef.h>

typedef struct {
    const vg_route *routes;
    size_t n_routes;
} vg_router;

/** Handles one request on the calling event-loop thread. Always answers; returns 0. */
int vg_router_handle(const vg_router *r, h2o_req_t *req, void *app, vg_store *store);

/** Writes the access-log line of an answered request (method, path without query, status, time
 *  since c->start_ms, key, request id) and counts it in the metrics (common/metrics.h), once.
 *  The router does it, except for parked requests. */
void vg_router_log_access(const vg_ctx *c);

/** Gives the metrics r's route templates: a request is then counted under its matched route's
 *  pattern (never its path). Once at start, before the loops; r must outlive them. */
void vg_router_metrics_init(const vg_router *r);

/** Matches path against pattern, capturing {…} segments into c->params. 1 on match. */
int vg_route_match(const char *pattern, const char *path, size_t path_len, vg_ctx *c);

/** The body cap of a route: VG_MAX_MULTIPART_BODY_BYTES for the multipart and asset upload
 * routes, VG_MAX_JSON_BODY_BYTES for every other method and path (query ignored). */
size_t vg_router_max_body(const char *method, size_t mlen, const char *path, size_t plen);

/**
 * Decides on a request by its head alone, before its body is read (loop thread; store may be
 * NULL). VG_ERR with the reply in *e: 413 when Content-Length is over the route's cap, 401 when a
 * body over VG_MAX_JSON_BODY_BYTES (or a chunked one to an upload route) comes without a valid key,
 * 503 when the store failed. VG_OK admits it; *keyed tells whether it carried a valid key (not
 * necessarily admin). No rate-limit token is taken: the router does that when the request runs.
 */
vg_status vg_router_admit(vg_store *store, const vg_reqhead *h, bool *keyed, vg_err *e);

#endif
