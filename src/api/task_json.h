/*
 * task_json.h - the task as clients see it: the native object (spec §3), and the
 * {"code":"success","data":…} envelope form. Presigned output URLs are built here.
 * Each function returns a new reference.
 */
#ifndef VG_API_TASK_JSON_H
#define VG_API_TASK_JSON_H
#include "api/app.h"
#include "core/task.h"

#include <jansson.h>

/** The native task object of GET /v1/video/generations/{id}. */
json_t *vg_task_json(const vg_app *app, const vg_task *t);
/** The short reply of a submit: id, task_id, object, model, status, progress, created_at. */
json_t *vg_task_json_submitted(const vg_task *t);

#endif
