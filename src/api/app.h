/*
 * app.h - the application state shared by handlers and workers: configuration, the presigning
 * secret, directories, and the dispatcher to wake. Built once by main() before any thread starts;
 * read-only afterwards (the dispatcher pointer's own functions are thread-safe).
 */
#ifndef VG_API_APP_H
#define VG_API_APP_H
#include "common/config.h"

#include <stddef.h>

struct vg_dispatch;

typedef struct {
    const vg_config *cfg;
    char secret[65];      /* hex; HMAC key of presigned URLs */
    char public_url[512]; /* no trailing slash */
    char files_dir[1100]; /* DATA/files: one directory per finished task */
    char tmp_dir[1100];   /* DATA/tmp: renders in progress */
    struct vg_dispatch *dispatch;
} vg_app;

/** DATA/files/<task_id>/<name> into out. */
void vg_app_task_file(const vg_app *app, const char *task_id, const char *name, char *out,
                      size_t outlen);

#endif
