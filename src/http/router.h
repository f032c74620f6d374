/*
 * router.h - matches a request against a route table, authenticates the caller, runs the handler
 * and writes the access-log line.
 *
 * Matching: exact method, then the path (without query) segment by segment; "{x}" captures one
 * segment (1..127 bytes). A path that matches a pattern with another method gets 405; no match 404.
 * Authentication: "Authorization: Bearer sk-…"; the secret is hashed (SHA-256) and looked up by its
 * hash, then compared in constant time. Revoked, expired or unknown keys → 401; an admin route with
 * a non-admin key → 401 too (admin routes are not advertised).
 */
#ifndef VG_HTTP_ROUTER_H
#define VG_HTTP_ROUTER_H
#include "http/ctx.h"

#include <stddef.h>

typedef struct {
    const vg_route *routes;
    size_t n_routes;
} vg_router;

/** Handles one request on the calling event-loop thread. Always answers; returns 0. */
int vg_router_handle(const vg_router *r, h2o_req_t *req, void *app, vg_store *store);

/** Matches path against pattern, capturing {…} segments into c->params. 1 on match. */
int vg_route_match(const char *pattern, const char *path, size_t path_len, vg_ctx *c);

#endif
