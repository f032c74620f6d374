/*
 * handlers.h - the route tables of each API surface, and the few helpers surfaces share
 * (the OpenAI routes reuse the native task logic). Each surface lives in its own file:
 * tasks.c (native, spec §3), content.c (§5), keys.c (admin keys and /v1/me, §7), health.c (§10),
 * videos.c (OpenAI Videos API, §4), models_api.c (GET /v1/models, §2), assets.c (Assets API and
 * presigned asset content, §6).
 */
#ifndef VG_API_HANDLERS_H
#define VG_API_HANDLERS_H
#include "http/ctx.h"

#include <stddef.h>

extern const vg_route vg_routes_tasks[];
extern const size_t vg_routes_tasks_n;
extern const vg_route vg_routes_content[];
extern const size_t vg_routes_content_n;
extern const vg_route vg_routes_keys[];
extern const size_t vg_routes_keys_n;
extern const vg_route vg_routes_admin[];
extern const size_t vg_routes_admin_n;
extern const vg_route vg_routes_health[];
extern const size_t vg_routes_health_n;
extern const vg_route vg_routes_videos[];
extern const size_t vg_routes_videos_n;
extern const vg_route vg_routes_models[];
extern const size_t vg_routes_models_n;
extern const vg_route vg_routes_assets[];
extern const size_t vg_routes_assets_n;
extern const vg_route vg_routes_upstream[]; /* upstream.c: upstream (Ark) callbacks */
extern const size_t vg_routes_upstream_n;
extern const vg_route vg_routes_webhooks[]; /* webhooks.c: destinations, secrets, redelivery */
extern const size_t vg_routes_webhooks_n;
extern const vg_route vg_routes_metrics[]; /* metrics.c: GET /metrics (Prometheus) */
extern const size_t vg_routes_metrics_n;
extern const vg_route vg_routes_channels[]; /* channels.c: GET /admin/channels */
extern const size_t vg_routes_channels_n;
extern const vg_route vg_routes_console[]; /* console.c: the web console's files */
extern const size_t vg_routes_console_n;

/** All routes, concatenated once at start-up (malloc'd; lives for the process). */
const vg_route *vg_api_routes(size_t *n);

/** Builds the object of a task for a reply or a list (new reference). */
typedef json_t *(*vg_reply_fn)(vg_ctx *c, const vg_task *t);
/** The body of a submit's 200 reply for the new task, compact JSON text (malloc'd; NULL when it
 *  cannot be built). It is also the reply an Idempotency-Key replays. */
typedef char *(*vg_submit_reply_fn)(vg_ctx *c, const vg_task *t);

/**
 * The whole submit (tasks.c), shared by the native and OpenAI routes: Idempotency-Key handling
 * (same key + same route and body within 24 h → the recorded reply; different body → 422),
 * validation, pricing, the one-transaction insert of task + hold + idempotency record, the wake-up
 * of the dispatcher, and the reply built by `reply`. Always replies (a submit with inline media
 * replies later, from its loop: c->parked is then set and c must not be used); returns 0.
 */
int vg_api_submit_task(vg_ctx *c, const json_t *body, const char *route, const char *default_model,
                       vg_submit_reply_fn reply);

/** One file part of a form, copied out of the request (malloc'd). */
typedef struct {
    unsigned char *bytes;
    size_t len;
} vg_api_upload;

/**
 * The file parts of a form (videos.c), handed to the submit as raw bytes: base64 and hashing a
 * large upload would hold the event loop, so the body names part i by the string "<prefix><i>"
 * and the submit's off-loop staging judges and stores the bytes as it does for a data: URL. The
 * prefix holds a random token of the request: a client cannot write such a reference.
 */
typedef struct {
    char prefix[48]; /* "upload:<32 hex>:" */
    vg_api_upload *part;
    int n;
} vg_api_uploads;

/** vg_api_submit_task for a body naming uploads (tasks.c); takes *up's buffers (leaves it empty). */
int vg_api_submit_uploads(vg_ctx *c, const json_t *body, vg_api_uploads *up, const char *route,
                          const char *default_model, vg_submit_reply_fn reply);
/** Frees the buffers of *up and empties it. */
void vg_api_uploads_free(vg_api_uploads *up);

/** Lists the tasks f selects and replies {"object":"list","data":[render(task)…],"first_id",
 *  "last_id","has_more"} (tasks.c). Returns 0. */
int vg_api_reply_task_list(vg_ctx *c, const vg_task_filter *f, vg_reply_fn render);

/* Shared task helpers (tasks.c). Each replies itself and returns -1 on failure. */
int vg_api_load_task(vg_ctx *c, const char *id, vg_task *t);
int vg_api_cancel_or_delete(vg_ctx *c, vg_task *t);
int vg_api_delete_content(vg_ctx *c, const vg_task *t);
int vg_api_query_limit(vg_ctx *c, int *limit);

/**
 * The asset:// check of a submit (assets.c): the caller's asset must exist (else 400
 * asset_not_found, "asset not found", param = the field's dotted path), be Active (else 400
 * asset_not_ready) and be of the media's type. On success m->url is rewritten to
 * "asset://<id>?sha256=<hex>" (the task keeps the bytes it was accepted with) and an adaptive
 * ratio follows an image first frame. Returns 0, or -1 with err set.
 */
int vg_api_asset_media(vg_ctx *c, vg_media *m, const char *param, vg_task_spec *s, vg_err *err);

/**
 * Webhook helpers (webhooks.c). vg_api_webhook_url_check: a destination URL from the JSON value v
 * (a string under the operator's URL policy; null or "" means none, *url = ""); replies 400 naming
 * param and returns -1 when it is refused. vg_api_webhook_state: the delivery state of a task for
 * its object ({"id","type","status","url","attempts","last_http_status","last_error",
 * "delivered_at"}, new reference), NULL when it has no delivery.
 */
int vg_api_webhook_url_check(vg_ctx *c, const json_t *v, const char *param, const char **url);
json_t *vg_api_webhook_state(vg_ctx *c, const char *task_id);

#endif
