/* task_json.c - see task_json.h. */
#include "api/task_json.h"

#include "core/money.h"
#include "http/presign.h"

#include <stdio.h>

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static void add_url(json_t *obj, const char *field, const vg_app *app, const vg_task *t,
                    const char *variant)
{
    char url[1024];
    vg_presign_url(app->secret, app->public_url, "files", t->id, variant, t->expires_at, url,
                   sizeof url);
    json_object_set_new(obj, field, json_string(url));
}

/* output/result_url/usage of a completed task whose files are still kept. */
static void add_results(json_t *j, const vg_app *app, const vg_task *t)
{
    if (t->status != VG_TASK_COMPLETED) return;
    json_object_set_new(j, "usage", json_pack("{s:I, s:I}", "completion_tokens",
                                              (json_int_t)t->tokens, "total_tokens",
                                              (json_int_t)t->tokens));
    if (t->content_deleted) return;
    json_t *out = json_object();
    add_url(out, "video_url", app, t, "video");
    add_url(out, "thumbnail_url", app, t, "thumbnail");
    if (t->has_last_frame) add_url(out, "last_frame_url", app, t, "last_frame");
    json_object_set(j, "result_url", json_object_get(out, "video_url"));
    json_object_set_new(j, "output", out);
}

json_t *vg_task_json(const vg_app *app, const vg_task *t)
{
    char seconds[16], size[32], cost[VG_MONEY_STR_MAX];
    snprintf(seconds, sizeof seconds, "%d", t->seconds);
    snprintf(size, sizeof size, "%dx%d", t->width, t->height);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:s, s:s, s:s}",
                          "id", t->id, "task_id", t->id, "object", "video", "model", t->model,
                          "status", vg_task_status_public(t->status), "progress", t->progress,
                          "created_at", (json_int_t)t->created_at, "updated_at",
                          (json_int_t)t->updated_at, "completed_at", time_or_null(t->completed_at),
                          "expires_at", time_or_null(t->expires_at), "seconds", seconds,
                          "resolution", vg_resolution_name(t->resolution), "ratio",
                          vg_ratio_name(t->ratio));
    json_object_set_new(j, "size", t->width ? json_string(size) : json_null());
    json_object_set_new(j, "seed", json_integer(t->seed));
    add_results(j, app, t);
    if (t->cost_micro >= 0) vg_money_format(t->cost_micro, cost);
    json_object_set_new(j, "cost", t->cost_micro >= 0 ? json_string(cost) : json_null());
    json_object_set_new(j, "error",
                        t->error_code[0] ? json_pack("{s:s, s:s}", "code", t->error_code,
                                                     "message", t->error_message)
                                         : json_null());
    return j;
}

json_t *vg_task_json_submitted(const vg_task *t)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "id", t->id, "task_id", t->id,
                     "object", "video", "model", t->model, "status",
                     vg_task_status_public(t->status), "progress", t->progress, "created_at",
                     (json_int_t)t->created_at);
}
