/* env.c - see env.h. */
#include "api/env.h"

#include <stdio.h>

void vg_api_env_wake(const vg_api_env *env)
{
    if (env->wake) env->wake(env->wake_ud);
}

void vg_api_env_task_file(const vg_api_env *env, const char *task_id, const char *name, char *out,
                          size_t outlen)
{
    snprintf(out, outlen, "%s/%s/%s", env->files_dir, task_id, name);
}
