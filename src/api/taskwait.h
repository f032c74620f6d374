/*
 * taskwait.h - GET of one task that may wait for it to change (long-poll), shared by
 * GET /v1/video/generations/{id} and GET /v1/videos/{id}.
 *
 * ?wait=N (0..VG_MAX_WAIT_S seconds, default 0): 0 answers at once, as without it. Otherwise the
 * answer comes at once when the task is final or differs from what the caller last saw, else as
 * soon as a committed change makes it so (http/longpoll.h), or after N s with the current object.
 * What the caller last saw: the ETag of an earlier answer in If-None-Match (every answer carries
 * ETag: W/"<status>.<progress>", status as the native routes name it), or ?since=<status> in the
 * route's own vocabulary (status only), or else the task as it is when the request arrives. The
 * answer is always 200 with the object (never 304): a caller compares ETags to tell a change from
 * a timeout.
 */
#ifndef VG_API_TASKWAIT_H
#define VG_API_TASKWAIT_H
#include "api/env.h"
#include "http/ctx.h"

/** How one route loads, shows and names a task. */
typedef struct {
    /* Loads task id of c's key into *t; replies (404 …) and returns -1 when it cannot. */
    int (*load)(vg_ctx *c, const char *id, vg_task *t);
    json_t *(*render)(const vg_api_env *env, const vg_task *t);
    const char *(*status_name)(vg_task_status s); /* the vocabulary of ?since= */
} vg_taskwait_view;

/** Replies with task c->params[0] as view shows it, now or after waiting (above). Returns 0. */
int vg_api_get_task_waiting(vg_ctx *c, const vg_taskwait_view *view);

#endif
