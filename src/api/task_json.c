/* task_json.c - see task_json.h. */
#include "api/task_json.h"

#include "core/money.h"
#include "core/presign.h"

#include <stdio.h>

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static void add_url(json_t *obj, const char *field, const vg_api_env *env, const vg_task *t,
                    const char *variant)
{
    char url[1024];
    vg_presign_url(env->secret, env->public_url, "files", t->id, variant, t->expires_at, url,
                   sizeof url);
    json_object_set_new(obj, field, json_string(url));
}

/* output/result_url/usage of a completed task whose files are still kept. */
static void add_results(json_t *j, const vg_api_env *env, const vg_task *t)
{
    if (t->status != VG_TASK_COMPLETED) return;
    json_object_set_new(j, "usage",
                        json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                  "total_tokens", (json_int_t)t->tokens));
    if (t->content_deleted) return;
    json_t *out = json_object();
    add_url(out, "video_url", env, t, "video");
    add_url(out, "thumbnail_url", env, t, "thumbnail");
    if (t->has_last_frame) add_url(out, "last_frame_url", env, t, "last_frame");
    json_object_set(j, "result_url", json_object_get(out, "video_url"));
    json_object_set_new(j, "output", out);
}

json_t *vg_task_json(const vg_api_env *env, const vg_task *t)
{
    char seconds[16], size[32], cost[VG_MONEY_STR_MAX];
    snprintf(seconds, sizeof seconds, "%d", t->seconds);
    snprintf(size, sizeof size, "%dx%d", t->width, t->height);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:s, s:s, s:s}", "id",
                          t->id, "task_id", t->id, "object", "video", "model", t->model, "status",
                          vg_task_status_public(t->status), "progress", t->progress, "created_at",
                          (json_int_t)t->created_at, "updated_at", (json_int_t)t->updated_at,
                          "completed_at", time_or_null(t->completed_at), "expires_at",
                          time_or_null(t->expires_at), "seconds", seconds, "resolution",
                          vg_resolution_name(t->resolution), "ratio", vg_ratio_name(t->ratio));
    json_object_set_new(j, "size", t->width ? json_string(size) : json_null());
    json_object_set_new(j, "seed", json_integer(t->seed));
    /* Test-mode keys' tasks run on the local engine and are never charged: say so. */
    json_object_set_new(j, "mode", json_string(t->test_mode ? "test" : "live"));
    add_results(j, env, t);
    if (t->cost_micro >= 0) vg_money_format(t->cost_micro, cost);
    json_object_set_new(j, "cost", t->cost_micro >= 0 ? json_string(cost) : json_null());
    json_object_set_new(j, "error",
                        t->error_code[0] ? json_pack("{s:s, s:s}", "code", t->error_code, "message",
                                                     t->error_message)
                                         : json_null());
    return j;
}

json_t *vg_task_json_submitted(const vg_task *t)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "id", t->id, "task_id", t->id, "object",
                     "video", "model", t->model, "status", vg_task_status_public(t->status),
                     "progress", t->progress, "created_at", (json_int_t)t->created_at);
}

/* ---- OpenAI video object and the envelope form ------------------------------------------- */

static const struct {
    const char *openai;
    const char *envelope;
} g_status_names[VG_TASK_STATUS_COUNT] = {
    [VG_TASK_QUEUED] = {"queued", "QUEUED"},
    [VG_TASK_DISPATCHING] = {"queued", "QUEUED"},
    [VG_TASK_RUNNING] = {"in_progress", "IN_PROGRESS"},
    [VG_TASK_FINALIZING] = {"in_progress", "IN_PROGRESS"},
    [VG_TASK_COMPLETED] = {"completed", "SUCCESS"},
    /* OpenAI and the envelope have no "cancelled": the error object tells the two apart. */
    [VG_TASK_FAILED] = {"failed", "FAILURE"},
    [VG_TASK_CANCELLED] = {"failed", "FAILURE"},
};

const char *vg_openai_status(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status_names[s].openai : "failed";
}

const char *vg_envelope_status(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status_names[s].envelope : "FAILURE";
}

/* The prompt lives only in the stored spec; a missing or unreadable spec gives "". */
static json_t *prompt_of(const vg_task *t)
{
    json_t *spec = t->params ? json_loads(t->params, 0, NULL) : NULL;
    json_t *p = json_object_get(spec, "prompt");
    json_t *out = json_is_string(p) ? json_incref(p) : json_string("");
    json_decref(spec);
    return out;
}

static json_t *openai_error(const vg_task *t)
{
    if (t->status == VG_TASK_CANCELLED)
        return json_pack("{s:s, s:s}", "code", "cancelled", "message",
                         t->error_message[0] ? t->error_message : "the task was cancelled");
    if (t->status == VG_TASK_FAILED || t->error_code[0])
        return json_pack("{s:s, s:s}", "code", t->error_code[0] ? t->error_code : "failed",
                         "message", t->error_message);
    return json_null();
}

json_t *vg_task_json_openai(const vg_api_env *env, const vg_task *t)
{
    char seconds[16], size[32];
    snprintf(seconds, sizeof seconds, "%d", t->seconds);
    snprintf(size, sizeof size, "%dx%d", t->width, t->height);
    json_t *meta = json_object();
    if (t->status == VG_TASK_COMPLETED && !t->content_deleted)
        add_url(meta, "url", env, t, "video");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:s, s:o, s:n, s:o, s:o}",
                          "id", t->id, "object", "video", "model", t->model, "status",
                          vg_openai_status(t->status), "progress", t->progress, "created_at",
                          (json_int_t)t->created_at, "completed_at", time_or_null(t->completed_at),
                          "expires_at", time_or_null(t->expires_at), "prompt", prompt_of(t),
                          "seconds", seconds, "size", t->width ? json_string(size) : json_null(),
                          "remixed_from_video_id", "error", openai_error(t), "metadata", meta);
    if (t->status == VG_TASK_COMPLETED)
        json_object_set_new(j, "usage",
                            json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                      "total_tokens", (json_int_t)t->tokens));
    return j;
}

json_t *vg_task_json_openai_deleted(const vg_task *t)
{
    return json_pack("{s:s, s:s, s:b}", "id", t->id, "object", "video.deleted", "deleted", 1);
}

/* Why a task ended badly, for clients of the envelope format; "" while it has not. */
static const char *fail_reason(const vg_task *t)
{
    if (t->status != VG_TASK_FAILED && t->status != VG_TASK_CANCELLED) return "";
    return t->error_message[0] ? t->error_message : vg_task_status_public(t->status);
}

json_t *vg_task_json_envelope(const vg_api_env *env, const vg_task *t)
{
    char progress[8];
    snprintf(progress, sizeof progress, "%d%%", t->progress);
    json_t *data = vg_task_json(env, t);
    json_object_set_new(data, "status", json_string(vg_envelope_status(t->status)));
    json_object_set_new(data, "progress", json_string(progress));
    /* Clients of this format read result_url unconditionally: null until there is one. */
    if (!json_object_get(data, "result_url")) json_object_set_new(data, "result_url", json_null());
    json_object_set_new(data, "fail_reason", json_string(fail_reason(t)));
    return json_pack("{s:s, s:s, s:o}", "code", "success", "message", "", "data", data);
}
