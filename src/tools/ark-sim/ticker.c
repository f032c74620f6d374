/*
 * ticker.c - the ticker thread: every TICK_MS it moves tasks with time (queued -> running after
 * --queue-ms, running -> succeeded/failed after --run-ms, expired past execution_expires_after)
 * and renders each result size once with the local engine into DATA/videos.
 *
 * Rendering happens outside g_sim.lock; a task stays running until its file exists. A failed
 * render fails every task of that size.
 */
#include "tools/ark-sim/sim.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static video_entry *video_for(const char *key, int w, int h, int seconds) /* under g_sim.lock */
{
    for (size_t i = 0; i < g_sim.n_videos; i++)
        if (!strcmp(g_sim.videos[i].key, key)) return &g_sim.videos[i];
    if (g_sim.n_videos == g_sim.cap_videos) {
        g_sim.cap_videos = g_sim.cap_videos ? g_sim.cap_videos * 2 : 16;
        g_sim.videos = vg_realloc(g_sim.videos, g_sim.cap_videos * sizeof *g_sim.videos);
    }
    video_entry *v = &g_sim.videos[g_sim.n_videos++];
    memset(v, 0, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    v->w = w, v->h = h, v->seconds = seconds;
    if (!strcmp(key, "tiny")) v->w = 64, v->h = 36, v->seconds = 1;
    return v;
}

/* Renders one video (no lock held): DATA/videos/<key>.mp4 and .png. */
static bool render_video(const video_entry *v)
{
    char dir[1300], from[1400], to[1400];
    snprintf(dir, sizeof dir, "%s/tmp-%s", g_sim.videos_dir, v->key);
    vg_rm_rf(dir);
    if (vg_mkdir_p(dir, 0700)) return false;
    vg_render_job job = {.width = v->w,
                         .height = v->h,
                         .seconds = v->seconds,
                         .seed = 1,
                         .prompt = "ark-sim",
                         .return_last_frame = true,
                         .out_dir = dir};
    vg_render_result rr;
    memset(&rr, 0, sizeof rr);
    bool ok = vg_render(&job, &rr) == VG_OK;
    static const char *const files[][2] = {{"video.mp4", "mp4"}, {"last_frame.png", "png"}};
    for (size_t i = 0; ok && i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", dir, files[i][0]);
        snprintf(to, sizeof to, "%s/%s.%s", g_sim.videos_dir, v->key, files[i][1]);
        ok = rename(from, to) == 0;
    }
    if (!ok) vg_warn("ark-sim: cannot render %s: %s", v->key, rr.error);
    vg_rm_rf(dir);
    return ok;
}

/* Finishes a task whose run time is over. Returns a video that must be rendered first. */
static video_entry *finish_task(stask *t) /* under g_sim.lock */
{
    if (t->task_fault == F_NEVER) return NULL;
    if (t->task_fault == F_SENSITIVE) {
        snprintf(t->error_code, sizeof t->error_code, "OutputVideoSensitiveContentDetected");
        snprintf(t->error_message, sizeof t->error_message,
                 "The generated video may contain sensitive content.");
        sim_task_set_status(t, S_FAILED);
        return NULL;
    }
    if (t->task_fault == F_EXPIRE) {
        sim_task_set_status(t, S_EXPIRED);
        return NULL;
    }
    video_entry *v = video_for(t->video_key, t->w, t->h, t->duration);
    if (v->failed) {
        snprintf(t->error_code, sizeof t->error_code, "InternalServiceError");
        snprintf(t->error_message, sizeof t->error_message, "rendering failed");
        sim_task_set_status(t, S_FAILED);
        return NULL;
    }
    if (!v->ready) return v;
    sim_task_set_status(t, S_SUCCEEDED);
    return NULL;
}

void *sim_ticker_main(void *arg)
{
    (void)arg;
    while (!g_sim_stop) {
        video_entry *todo = NULL;
        video_entry copy;
        int64_t now = vg_now_ms();
        pthread_mutex_lock(&g_sim.lock);
        for (size_t i = 0; i < g_sim.n_tasks; i++) {
            stask *t = g_sim.tasks[i];
            if (t->status >= S_SUCCEEDED) continue;
            if (now > t->created_ms + t->expires_after_s * 1000) {
                sim_task_set_status(t, S_EXPIRED);
                continue;
            }
            if (t->status == S_QUEUED && now >= t->run_at_ms) sim_task_set_status(t, S_RUNNING);
            if (t->status == S_RUNNING && now >= t->done_at_ms) {
                video_entry *v = finish_task(t);
                if (v && !todo) todo = v;
            }
        }
        if (todo) copy = *todo;
        pthread_mutex_unlock(&g_sim.lock);
        if (todo) {
            bool ok = render_video(&copy);
            pthread_mutex_lock(&g_sim.lock);
            video_entry *v = video_for(copy.key, copy.w, copy.h, copy.seconds);
            v->ready = ok;
            v->failed = !ok;
            pthread_mutex_unlock(&g_sim.lock);
            continue;
        }
        usleep(TICK_MS * 1000);
    }
    return NULL;
}
