/*
 * upstream_finalize.c - the job handler that downloads a succeeded upstream task's result into
 * DATA/tmp/<task>.up (video, a thumbnail made from it, the last frame when offered), publishes it
 * to DATA/files/<task> (and the bucket, net/content.h) and completes the task in one transaction
 * that captures the real usage at the produced tier. Files are moved before the commit, so a committed "completed" always has its
 * files. An expired result URL is refreshed with a GET after DOWNLOAD_FAILS failures; if the
 * upstream no longer offers it the task fails "result_unavailable" (refunded).
 */
#include "dispatch/upstream_int.h"

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "core/models.h"
#include "dispatch/settle.h"
#include "providers/thumb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOWNLOAD_FAILS 2 /* failed downloads before the result URL is refreshed */

typedef struct {
    const char *video_url, *last_frame_url, *resolution, *ratio;
    int64_t tokens, seed;
} result_view;

/* A result URL of the channel's own hosts is trusted; any other is fetched like a user's URL. */
static int fetch(const vg_dispatch_env *env, const vg_channel *ch, const char *url,
                 const char *path, char *err, size_t errlen)
{
    bool trusted = ch && vg_channel_trusts_url(ch, url);
    vg_fetch_opts fo = env->fetch;
    fo.allow_http = trusted || fo.allow_http;
    fo.allow_private = trusted || fo.allow_private;
    size_t len = 0;
    int rc = vg_fetch_file(url, &fo, path, &len, NULL, err, errlen);
    vg_metrics_upstream(ch ? ch->name : "", VG_MU_DOWNLOAD,
                        rc == VG_OK                             ? VG_MU_OK
                        : rc == VG_INVALID || rc == VG_TOOLARGE ? VG_MU_REFUSED
                                                                : VG_MU_TRANSIENT);
    return rc;
}

/* The produced size and its price (spec §7: the tier actually produced). */
static void fill_result(const vg_task *t, const vg_task_spec *spec, const result_view *v,
                        bool last_frame, vg_task_result *res, int64_t retention_s)
{
    int rq = vg_resolution_parse(v->resolution), qq = vg_ratio_parse(v->ratio);
    vg_resolution rr = rq >= 0 ? (vg_resolution)rq : t->resolution;
    vg_ratio q = qq >= 0 && qq != VG_RATIO_ADAPTIVE ? (vg_ratio)qq
                 : t->ratio != VG_RATIO_ADAPTIVE    ? t->ratio
                                                    : VG_RATIO_16_9;
    memset(res, 0, sizeof *res);
    vg_output_size(rr, q, &res->width, &res->height);
    res->ratio = q;
    res->seed = v->seed;
    res->tokens = v->tokens;
    const vg_model *m = vg_model_find(t->model);
    bool ref_video = vg_task_spec_has_role(spec, VG_ROLE_REFERENCE_VIDEO);
    res->cost_micro = t->test_mode || !m ? 0 : vg_price_micro(m, rr, ref_video, v->tokens);
    res->has_last_frame = last_frame;
    res->expires_at = vg_now_s() + retention_s;
}

/* Downloads into tmp; VG_OK, or the fetch status with a reason. */
static int download(vg_ups_worker *w, const vg_channel *ch, const result_view *v, const char *tmp,
                    bool *last_frame, char *err, size_t errlen)
{
    char path[1500];
    snprintf(path, sizeof path, "%s/video.mp4", tmp);
    if (!v->video_url) return snprintf(err, errlen, "the upstream offers no video URL"), VG_ERR;
    int rc = fetch(&w->u->env, ch, v->video_url, path, err, errlen);
    if (rc != VG_OK) return rc;
    char thumb[1500], why[160] = "";
    snprintf(thumb, sizeof thumb, "%s/thumbnail.jpg", tmp);
    if (vg_video_thumbnail(path, thumb, why, sizeof why) != VG_OK) /* not a playable video */
        return snprintf(err, errlen, "the downloaded result is not a video: %s", why), VG_ERR;
    snprintf(path, sizeof path, "%s/last_frame.png", tmp);
    *last_frame = v->last_frame_url &&
                  fetch(&w->u->env, ch, v->last_frame_url, path, why, sizeof why) == VG_OK;
    if (v->last_frame_url && !*last_frame)
        vg_warn("task: the last frame could not be downloaded: %s", why);
    return VG_OK;
}

/* Completes the task from the downloaded files. */
static void complete(vg_ups_worker *w, const vg_up_row *r, const result_view *v, bool last_frame,
                     const char *tmp)
{
    vg_task t;
    vg_task_spec spec;
    memset(&spec, 0, sizeof spec);
    if (vg_store_task_get(w->s, r->task_id, NULL, &t) != VG_OK) return;
    vg_settle_read_spec(&t, &spec); /* unreadable: priced as without a reference video */
    vg_task_result res;
    fill_result(&t, &spec, v, last_frame, &res, vg_config_retention_s(w->u->env.cfg));
    char why[300] = "";
    if (vg_settle_publish(w->u->env.content, tmp, r->task_id, why, sizeof why) != VG_OK) {
        vg_warn("task %s: cannot publish the result: %s", r->task_id, why);
        vg_settle_fail(w->s, r->task_id, "internal_error", "could not store the result");
    } else if (vg_store_task_complete(w->s, r->task_id, &res, vg_now_s()) == VG_OK) {
        vg_info("task %s completed upstream: %dx%d, %lld tokens", r->task_id, res.width, res.height,
                (long long)res.tokens);
    }
    vg_task_spec_free(&spec);
    vg_task_free(&t);
}

/* After repeated download failures: ask the upstream for the task again (a fresh URL). */
static void refresh_result(vg_ups_worker *w, const vg_channel *ch, const vg_up_row *r)
{
    vg_upstream_endpoint ep = vg_ups_endpoint(ch);
    vg_up_task ut;
    vg_up_error e;
    vg_ups_take(w->u, ch, true);
    ch->provider->upstream->get(&ep, w->hc, r->upstream_id, &ut, &e);
    if (e.cls == VG_UP_OK && ut.status == VG_UP_SUCCEEDED && ut.video_url) {
        char *res = vg_ups_result_json(&ut);
        vg_up_update c = vg_up_update_for(r->task_id, VG_TASK_BIT(VG_TASK_FINALIZING));
        c.result = res;
        c.poll_errors = 0;
        c.next_poll_at = vg_now_ms();
        vg_store_upstream_update(w->s, &c, 1, vg_now_s());
        free(res);
    } else if (e.cls == VG_UP_OK || e.cls == VG_UP_NOTFOUND) {
        vg_settle_fail(w->s, r->task_id, "result_unavailable",
                       "the upstream no longer offers the result");
    } else {
        vg_ups_reschedule(w->s, r, VG_TASK_BIT(VG_TASK_FINALIZING), vg_now_ms() + 5000,
                          r->poll_errors + 1, -1);
    }
    vg_up_task_free(&ut);
}

void vg_ups_run_finalize(vg_ups_worker *w, vg_ups_job *j)
{
    vg_up_row *r = &j->rows[0];
    const vg_channel *ch = j->ch >= 0 ? &j->set->ch[j->ch] : NULL;
    json_t *res = json_loads(r->result ? r->result : "", 0, NULL);
    result_view v = {.video_url = json_string_value(json_object_get(res, "video_url")),
                     .last_frame_url = json_string_value(json_object_get(res, "last_frame_url")),
                     .resolution = json_string_value(json_object_get(res, "resolution")),
                     .ratio = json_string_value(json_object_get(res, "ratio")),
                     .tokens = json_integer_value(json_object_get(res, "tokens")),
                     .seed = json_integer_value(json_object_get(res, "seed"))};
    char tmp[1400], err[256] = "";
    snprintf(tmp, sizeof tmp, "%s/%s.up", w->u->env.tmp_dir, r->task_id);
    vg_rm_rf(tmp);
    bool last_frame = false;
    int rc =
        vg_mkdir_p(tmp, 0700) ? VG_ERR : download(w, ch, &v, tmp, &last_frame, err, sizeof err);
    int64_t now = vg_now_ms();
    if (rc == VG_OK) {
        complete(w, r, &v, last_frame, tmp);
    } else if (rc == VG_INVALID || !ch || vg_ups_past_deadline(w->u, r, now)) {
        vg_settle_fail(w->s, r->task_id, "result_unavailable",
                       err[0] ? err : "the result cannot be fetched");
    } else if (r->poll_errors + 1 >= DOWNLOAD_FAILS && ch) {
        vg_info("task %s: result download failed (%s); asking for a fresh URL", r->task_id, err);
        refresh_result(w, ch, r);
    } else {
        vg_info("task %s: result download failed (%s); will retry", r->task_id, err);
        vg_ups_reschedule(w->s, r, VG_TASK_BIT(VG_TASK_FINALIZING),
                          now + vg_ups_backoff(w->u, r->poll_errors, 1000, 60000),
                          r->poll_errors + 1, -1);
    }
    vg_rm_rf(tmp);
    json_decref(res);
}
