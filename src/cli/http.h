/*
 * http.h - the CLI's HTTP client: JSON requests and streamed downloads against the vidgate API,
 * over one reused libcurl handle (so polling keeps its connection).
 *
 * Every request carries "Authorization: Bearer <ctx->key>" when a key is set; the key never appears
 * in a recorded message. Failures are classified by the exit status they become: no HTTP answer is
 * VG_CLI_NETWORK, an HTTP error answer is VG_CLI_API (message taken from the §1 error envelope), a
 * Ctrl-C is VG_CLI_INTERRUPTED (recorded by the caller, which knows what to advise). Replies are
 * capped at VG_CLI_MAX_RESPONSE_BYTES in memory; downloads go to disk and are never held whole.
 * Needs curl_global_init() before the first call.
 */
#ifndef VG_CLI_HTTP_H
#define VG_CLI_HTTP_H
#include <jansson.h>
#include <stddef.h>

#include "cli/ctx.h"

typedef struct {
    const char *method;          /* "GET", "POST", "DELETE" */
    const char *path;            /* "/v1/...", query included and already escaped (vg_cli_escape) */
    const json_t *body;          /* sent as application/json; NULL for none */
    const char *idempotency_key; /* NULL for none */
    const char *if_none_match;   /* an ETag the caller saw (long-poll); NULL for none */
} vg_cli_request;

typedef struct {
    long status; /* HTTP status of the final answer */
    char *body;  /* NUL-terminated, malloc'd; free with vg_cli_response_free() */
    size_t len;
    long retry_after_s; /* Retry-After in seconds, -1 when absent or not a number */
    char etag[128];     /* ETag of the answer, "" when absent */
} vg_cli_response;

/**
 * Sends the request and reads the whole answer into resp. Returns VG_CLI_OK whenever an HTTP answer
 * arrived, whatever its status; VG_CLI_NETWORK (recorded) or VG_CLI_INTERRUPTED (not recorded)
 * otherwise. resp is always safe to free.
 */
vg_cli_status vg_cli_http_send(vg_cli_ctx *ctx, const vg_cli_request *req, vg_cli_response *resp);
/** VG_CLI_OK for a 2xx answer; otherwise records the error envelope and returns VG_CLI_API. */
vg_cli_status vg_cli_http_check(vg_cli_ctx *ctx, const vg_cli_response *resp);
/**
 * send + check + parse: on VG_CLI_OK *out is the decoded JSON reply (json_decref() it); an empty
 * 2xx body (204) decodes as JSON null.
 */
vg_cli_status vg_cli_http_json(vg_cli_ctx *ctx, const vg_cli_request *req, json_t **out);
void vg_cli_response_free(vg_cli_response *resp);

/** Where a download goes. */
typedef struct {
    const char *dest;        /* the output file; NULL to name it stem + an extension */
    const char *stem;        /* used when dest is NULL, e.g. "task_…" or "task_….thumbnail" */
    const char *default_ext; /* when dest is NULL and the Content-Type is not a known type */
} vg_cli_download;

/**
 * GETs path and streams a 2xx body into "<file>.part", renamed to the file once complete (a
 * failed or interrupted download leaves nothing behind). On VG_CLI_OK *out_path is the file
 * written (malloc'd). Errors: as vg_cli_http_send()/check(), or VG_CLI_LOCAL_IO (recorded).
 */
vg_cli_status vg_cli_http_download(vg_cli_ctx *ctx, const char *path, const vg_cli_download *dl,
                                   char **out_path);

/** Percent-encodes s for a path segment or query value (malloc'd). */
char *vg_cli_escape(const char *s);
/** prefix + escaped id + suffix, e.g. ("/v1/videos/", id, "/content") (malloc'd). */
char *vg_cli_id_path(const char *prefix, const char *id, const char *suffix);

/** Releases the connection state kept in ctx. */
void vg_cli_http_cleanup(vg_cli_ctx *ctx);

#endif
