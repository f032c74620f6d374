/*
 * task_json.h - the task as clients see it: the native object (spec §3), the
 * {"code":"success","data":…} envelope form (§3 ?format=envelope) and the OpenAI `video` object
 * (§4). Presigned output URLs are built here. Each json_t function returns a new reference; the
 * status mappings are pure tables (unit-tested in tests/unit/test_openai.c).
 */
#ifndef VG_API_TASK_JSON_H
#define VG_API_TASK_JSON_H
#include "api/env.h"
#include "common/status.h"
#include "core/task.h"

#include <jansson.h>

/** The native task object of GET /v1/video/generations/{id}. */
json_t *vg_task_json(const vg_api_env *env, const vg_task *t);
/**
 * The same object as compact JSON text, written straight into buf (cap bytes, not terminated):
 * byte for byte what json_dumps(vg_task_json(env, t), JSON_COMPACT | JSON_PRESERVE_ORDER) gives,
 * without building the object (the status poll's hot path). VG_OK with the length in *len;
 * VG_ERR when it does not fit in cap or a string is not valid UTF-8: use vg_task_json() then.
 */
vg_status vg_task_json_write(const vg_api_env *env, const vg_task *t, char *buf, size_t cap,
                             size_t *len);
/** The short reply of a submit: id, task_id, object, model, status, progress, created_at. */
json_t *vg_task_json_submitted(const vg_task *t);
/** The same as compact JSON text (malloc'd; NULL only when jansson cannot print it either),
 *  written directly: byte for byte json_dumps(vg_task_json_submitted(t), JSON_COMPACT |
 *  JSON_PRESERVE_ORDER), as vg_task_json_write() is for the task object. */
char *vg_task_json_submitted_text(const vg_task *t);

/** OpenAI status of a task: queued (and dispatching) → "queued", running (and finalizing) →
 * "in_progress", completed → "completed", failed and cancelled → "failed". */
const char *vg_openai_status(vg_task_status s);
/** Envelope status: "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE" (failed and cancelled). */
const char *vg_envelope_status(vg_task_status s);

/**
 * The OpenAI `video` object (spec §4): id, object "video", model, status (vg_openai_status),
 * progress, created_at, completed_at, expires_at, prompt (from t->params), seconds, size,
 * remixed_from_video_id (null), error ({"code":"cancelled",…} for a cancelled task), metadata
 * ({"url": presigned video URL} once completed and still stored) and usage (when completed).
 */
json_t *vg_task_json_openai(const vg_api_env *env, const vg_task *t);
/** {"id","object":"video.deleted","deleted":true} for a task whose content was deleted. */
json_t *vg_task_json_openai_deleted(const vg_task *t);
/**
 * The envelope form: {"code":"success","message":"","data":{native object with status
 * upper-cased (vg_envelope_status), progress as "50%" and fail_reason ("" unless failed)}}.
 */
json_t *vg_task_json_envelope(const vg_api_env *env, const vg_task *t);

#endif
