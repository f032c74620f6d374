/* app.c - see app.h. */
#include "api/app.h"

#include <stdio.h>

void vg_app_task_file(const vg_app *app, const char *task_id, const char *name, char *out,
                      size_t outlen)
{
    snprintf(out, outlen, "%s/%s/%s", app->files_dir, task_id, name);
}
