/*
 * env.h - what the API handlers need from the process, and nothing more: where files live, how
 * to sign links, the currency prices are shown in, the URL policy for media, and a way to wake
 * the dispatcher. The process state itself (src/app.h) sits above the API and is never seen here;
 * the top builds one vg_api_env from it before the event loops start and hands it to the server,
 * which passes it to every handler as c->app. Read-only after start; the strings are owned by the
 * top and outlive the loops.
 *
 * Waking goes through a function pointer and its user data, so handlers need no knowledge of the
 * dispatcher's type or internals (and a test can leave it NULL).
 */
#ifndef VG_API_ENV_H
#define VG_API_ENV_H
#include "core/urlpolicy.h"
#include "net/content.h"

#include <jansson.h>
#include <stddef.h>

typedef struct {
    const char *data_dir;      /* DATA: asset blobs and their staging area (core/asset.h paths) */
    const char *files_dir;     /* DATA/files: one directory per finished task */
    const char *tmp_dir;       /* DATA/tmp: uploads in progress */
    vg_content *content;       /* results and assets (net/content.h); files_dir is its directory */
    const char *secret;        /* hex HMAC key of presigned URLs */
    const char *public_url;    /* base of presigned links, no trailing slash */
    const char *currency;      /* the currency prices and balances are shown in */
    vg_url_policy urls;        /* which web URLs clients may name as media */
    int64_t asset_quota_bytes; /* per-key storage quota of assets; 0 = none */
    /* Tells the dispatcher that work became due (a task was queued, a callback arrived).
     * Thread-safe and cheap; NULL = nobody to wake. */
    void (*wake)(void *ud);
    void *wake_ud;
    /* The group commit of submits (store/batch.h), which wakes the dispatcher itself after each
     * commit; NULL = each submit commits on its loop's own connection. */
    struct vg_store_batch *submits;
    /* Reloads the configuration (POST /admin/reload): 0 with a report of what changed (new
     * reference), or -1 with the reason the old configuration was kept. NULL = not offered. */
    int (*reload)(void *ud, json_t **report, char *err, size_t errlen);
    void *reload_ud;
    /* GET /metrics needs it as a Bearer token; NULL or "" = /metrics is open. */
    const char *metrics_token;
    /* The upstream loop, for GET /admin/channels (read-only snapshots); NULL = none. */
    struct vg_upstream *upstream;
    /* The web console's files (api/console.c); "" = the console is not served. */
    const char *console_dir;
} vg_api_env;

/** Wakes the dispatcher, if there is one. */
void vg_api_env_wake(const vg_api_env *env);

/** DATA/files/<task_id>/<name> into out. */
void vg_api_env_task_file(const vg_api_env *env, const char *task_id, const char *name, char *out,
                          size_t outlen);

#endif
