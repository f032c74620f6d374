/*
 * provider.h - a provider turns a claimed task into result files (the local engine now; the Ark
 * upstream is the next one). The dispatcher owns the task's lifecycle; a provider only produces.
 *
 * run() is called on a worker thread and may block (rendering, fetching inputs). It writes its
 * files into env->out_dir (a fresh directory the dispatcher moves into the content store on
 * success), reports progress through env->progress (whose non-zero return means "stop now: the
 * server is shutting down"), and fills *out. Returns:
 *   VG_OK      finished; out->r holds usage and output size
 *   VG_INVALID the input is unusable (bad image, …): the task fails with out->error_code
 *   VG_AGAIN   interrupted; the dispatcher re-queues the task
 *   VG_ERR     failed; the task fails with out->error_code
 */
#ifndef VG_PROVIDER_H
#define VG_PROVIDER_H
#include "api/app.h"
#include "core/task.h"
#include "store/store.h"

typedef struct {
    const vg_app *app;
    const char *out_dir;
    int (*progress)(void *ud, int percent);
    void *ud;
} vg_run_env;

typedef struct {
    vg_task_result r;
    const char *error_code; /* static string */
    char error[256];
} vg_run_result;

typedef struct vg_provider {
    const char *name;
    int (*run)(const struct vg_provider *p, const vg_task *t, const vg_task_spec *spec,
               const vg_run_env *env, vg_run_result *out);
} vg_provider;

/** The built-in local render engine. */
extern const vg_provider vg_provider_local;

#endif
