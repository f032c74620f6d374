/*
 * http_client.h - a small blocking HTTP/1.1 client for JSON APIs: vidgate's calls to an upstream
 * (Ark) and the simulator's callbacks. Built on libcurl.
 *
 * What it adds to a bare libcurl call is the one distinction an upstream caller needs to never
 * submit twice: whether a failed request may have reached the server.
 *   VG_HTTP_DONE      a complete response arrived (any status; read resp->status)
 *   VG_HTTP_NOT_SENT  nothing reached the server (name resolution or connect failed, or the
 *                     connect timed out): retrying cannot create a duplicate
 *   VG_HTTP_LOST      the request may have been received but no complete response came back
 *                     (timeout after connecting, connection dropped, truncated reply): whatever
 *                     it asked for may or may not have happened
 *
 * A POST is always sent on a fresh connection: libcurl resends a request by itself when a reused
 * connection turns out dead before any reply, and a resent create could create twice.
 *
 * Ownership and threads: a vg_http_client belongs to one thread at a time and keeps its
 * connections alive between calls (one libcurl easy handle). Response bodies are malloc'd and
 * released with vg_http_resp_free(). Bodies are capped at VG_UPSTREAM_MAX_REPLY_BYTES (larger
 * replies are LOST: they cannot be trusted). Error texts never contain the URL or credentials.
 */
#ifndef VG_NET_HTTP_CLIENT_H
#define VG_NET_HTTP_CLIENT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct vg_http_client vg_http_client;

typedef enum { VG_HTTP_DONE, VG_HTTP_NOT_SENT, VG_HTTP_LOST } vg_http_outcome;

typedef struct {
    const char *method; /* "GET", "POST", "DELETE" */
    const char *url;
    const char *bearer; /* sent as Authorization: Bearer …; NULL = none */
    const char *body;   /* JSON text (Content-Type: application/json) or NULL */
    long timeout_ms;    /* whole exchange; 0 = VG_UPSTREAM_TIMEOUT_MS */
    bool public_only;   /* refuse loopback/private/reserved destinations (SSRF rules of fetch.h) */
} vg_http_req;

typedef struct {
    vg_http_outcome outcome;
    long status;       /* HTTP status when DONE, else 0 */
    char *body;        /* malloc'd, NUL-terminated (may be ""); NULL when not DONE */
    size_t body_len;   /* without the terminator */
    int retry_after_s; /* Retry-After (seconds or HTTP date) in seconds; -1 absent, 0 or >= 1 day */
    char error[160];   /* why, when not DONE */
} vg_http_resp;

/** A client with no connection yet. Never NULL (allocation failure aborts). */
vg_http_client *vg_http_client_new(void);
/** Makes every later call on c give up (as LOST, or NOT_SENT before connecting) soon after
 *  *flag becomes true: a stopping process does not wait out a slow upstream. */
void vg_http_client_set_abort(vg_http_client *c, const atomic_bool *flag);
/** Closes its connections and frees it. NULL is fine. */
void vg_http_client_free(vg_http_client *c);

/**
 * Performs one request and fills *out (always; free it with vg_http_resp_free()). Returns VG_OK
 * when out->outcome is DONE, VG_AGAIN otherwise.
 */
int vg_http_do(vg_http_client *c, const vg_http_req *r, vg_http_resp *out);
void vg_http_resp_free(vg_http_resp *r);

/** Appends s to buf (capacity cap, always terminated) percent-encoded for a URL query value. */
void vg_http_query_escape(char *buf, size_t cap, const char *s);

#endif
