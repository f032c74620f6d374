/*
 * app.h - the process state of vidgated: configuration, the presigning secret, the public base
 * URL, the data directories and the dispatcher. Owned by the top (vidgated.c): built once by
 * main() before any thread starts, read-only afterwards (the dispatcher's own functions are
 * thread-safe).
 *
 * It sits above every module on purpose: a module receives an environment with what it needs
 * (api/env.h for the handlers) rather than the whole process, so no lower layer depends on the
 * top. The dispatcher and the providers are still handed this struct (dispatch/dispatcher.h,
 * providers/provider.h); scripts/check-layers reports those includes.
 */
#ifndef VG_APP_H
#define VG_APP_H
#include "common/config.h"

#include <stddef.h>

struct vg_dispatch;
struct vg_webhooks;

typedef struct {
    const vg_config *cfg;
    char secret[65];      /* hex; HMAC key of presigned URLs */
    char public_url[512]; /* no trailing slash */
    char files_dir[1100]; /* DATA/files: one directory per finished task */
    char tmp_dir[1100];   /* DATA/tmp: renders in progress */
    struct vg_dispatch *dispatch;
    struct vg_webhooks *webhooks; /* the delivery workers (dispatch/webhooks.h) */
} vg_app;

#endif
