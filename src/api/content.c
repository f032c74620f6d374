/*
 * content.c - result bytes (spec §5): GET /v1/videos/{id}/content?variant=… with the API key, and
 * presigned GET /files/{id}/{variant}?expires=…&sig=… without it. Both stream the file from disk
 * (http/sendfile.h: ETag, Last-Modified, Range → 206, If-None-Match → 304); the whole file is never
 * read into memory. With content in a bucket, a file this node's cache lacks is fetched first, off
 * the event loop (http/contentfile.h).
 */
#include "api/env.h"
#include "api/handlers.h"
#include "api/keys.h"
#include "common/clock.h"
#include "core/presign.h"
#include "http/contentfile.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *variant;
    const char *file;
    const char *mime;
} variant_def;

static const variant_def variants[] = {
    {"video", "video.mp4", "video/mp4"},
    {"thumbnail", "thumbnail.jpg", "image/jpeg"},
    {"last_frame", "last_frame.png", "image/png"},
};

static const variant_def *find_variant(const char *name)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (!strcmp(variants[i].variant, name)) return &variants[i];
    return NULL;
}

/* Sends one variant of a task whose visibility the caller has already established. */
static int send_variant(vg_ctx *c, const vg_task *t, const char *variant_name)
{
    const vg_api_env *env = c->app;
    const variant_def *v = find_variant(variant_name);
    if (!v)
        return vg_reply_error(c, 400, "invalid_parameter", "variant",
                              "variant must be video, thumbnail or last_frame");
    if (t->status != VG_TASK_COMPLETED)
        return vg_reply_error(c, 409, "video_not_ready", "", "task %s is %s, not completed", t->id,
                              vg_task_status_public(t->status));
    /* Expiry first: the retention sweep also marks content deleted, and the caller should
     * learn why it is gone. */
    if (t->expires_at && t->expires_at <= vg_now_s())
        return vg_reply_error(c, 410, "video_expired", "", "the content of %s has expired", t->id);
    if (t->content_deleted)
        return vg_reply_error(c, 410, "video_deleted", "", "the content of %s was deleted", t->id);
    if (!strcmp(v->variant, "last_frame") && !t->has_last_frame)
        return vg_reply_error(c, 404, "not_found", "variant",
                              "no last frame: submit with metadata.return_last_frame=true");
    char key[160], gone[160];
    snprintf(key, sizeof key, "%s/%s", t->id, v->file);
    snprintf(gone, sizeof gone, "the content of %s is gone", t->id);
    const vg_content_missing missing = {410, "video_expired", gone};
    return vg_send_content(c, env->content, key, v->mime, t->id, &missing);
}

static int get_content(vg_ctx *c)
{
    vg_task t;
    if (vg_api_load_task(c, c->params[0], &t)) return 0;
    const char *variant = vg_ctx_query(c, "variant");
    send_variant(c, &t, variant ? variant : "video");
    vg_task_free(&t);
    return 0;
}

static int get_presigned(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    int rc = vg_presign_check(env->secret, "files", c->params[0], c->params[1],
                              vg_ctx_query(c, "expires"), vg_ctx_query(c, "sig"), vg_now_s());
    if (rc == -1)
        return vg_reply_error(c, 403, "invalid_signature", "sig", "the URL signature is invalid");
    if (rc == -2) return vg_reply_error(c, 403, "url_expired", "expires", "the URL has expired");
    vg_task t;
    rc = vg_store_task_get(c->store, c->params[0], NULL, &t);
    if (rc == VG_NOTFOUND) return vg_reply_error(c, 404, "task_not_found", "", "no such file");
    if (rc != VG_OK) return vg_reply_internal(c);
    /* A link is the key's authority lent out: revoking (or the expiry of) the key ends it. */
    rc = vg_keys_live(c->store, t.key_id, vg_now_s());
    if (rc == VG_OK)
        send_variant(c, &t, c->params[1]);
    else if (rc == VG_NOTFOUND)
        vg_reply_error(c, 403, "url_revoked", "",
                       "the key that issued this URL was revoked or has expired");
    else
        vg_reply_internal(c);
    vg_task_free(&t);
    return 0;
}

const vg_route vg_routes_content[] = {
    {"GET", "/v1/videos/{id}/content", VG_AUTH_KEY, get_content},
    {"GET", "/files/{id}/{variant}", VG_AUTH_NONE, get_presigned},
};
const size_t vg_routes_content_n = sizeof vg_routes_content / sizeof vg_routes_content[0];
