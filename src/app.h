/*
 * app.h - the process state of vidgated: configuration, the presigning secret, the public base
 * URL, the data directories and the dispatcher. Owned by the top (vidgated.c): built once by
 * main() before any thread starts, read-only afterwards (the dispatcher's own functions are
 * thread-safe) but for what a reload changes (app.c): the reload's own state below, under its
 * lock, and the retention in the configuration (an atomic).
 *
 * It sits above every module on purpose: a module receives an environment with what it needs
 * (api/env.h for the handlers) rather than the whole process, so no lower layer depends on the
 * top. The dispatcher and the providers are still handed this struct (dispatch/dispatcher.h,
 * providers/provider.h); scripts/check-layers reports those includes.
 */
#ifndef VG_APP_H
#define VG_APP_H
#include "common/config.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

struct vg_dispatch;
struct vg_webhooks;
struct vg_content;

typedef struct {
    const vg_config *cfg;
    char secret[65];            /* hex; HMAC key of presigned URLs */
    char public_url[512];       /* no trailing slash */
    char files_dir[1100];       /* DATA/files: one directory per finished task */
    char tmp_dir[1100];         /* DATA/tmp: renders in progress */
    struct vg_content *content; /* where results and assets live (net/content.h); files_dir is
                                   its local directory */
    struct vg_dispatch *dispatch;
    struct vg_webhooks *webhooks; /* the delivery workers (dispatch/webhooks.h) */
    /* Reloads (app.c) */
    vg_config *live_cfg; /* = cfg, writable: the reloaded retention is stored there */
    int argc;            /* the command line, read again by each reload */
    char **argv;
    json_t *applied; /* the configuration in effect, as JSON (vg_config_to_json) */
    pthread_mutex_t reload_lock;
} vg_app;

/** Applies the log settings of c (level, format, access log). 0, or -1 with a reason. */
int vg_app_apply_log(const vg_config *c, char *err, size_t errlen);
/**
 * Reloads the configuration (see app.c): 0 with a report {"object":"reload","changed":[…],
 * "restart_required":[…],"models":{"added","removed","changed"}} (new reference), or -1 with the
 * reason in err and nothing changed. Both outcomes are logged. Thread-safe.
 */
int vg_app_reload(vg_app *app, json_t **report, char *err, size_t errlen);

#endif
