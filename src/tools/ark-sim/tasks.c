/*
 * tasks.c - the task table: a new task from a checked create, the task object Ark returns, and
 * status changes (each queues a callback for callbacks.c when the task has a callback_url).
 *
 * Every function here runs under g_sim.lock. A task's status only moves forward.
 */
#include "tools/ark-sim/sim.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "core/models.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const sim_status_names[S_COUNT] = {"queued", "running",   "succeeded",
                                               "failed", "cancelled", "expired"};

stask *sim_task_find(const char *id) /* under g_sim.lock */
{
    for (size_t i = 0; i < g_sim.n_tasks; i++)
        if (!g_sim.tasks[i]->deleted && !strcmp(g_sim.tasks[i]->id, id)) return g_sim.tasks[i];
    return NULL;
}

static void video_url(const stask *t, const char *file, char *out, size_t cap)
{
    char msg[256], sig[VG_SHA256_HEX_LEN + 1];
    snprintf(msg, sizeof msg, "%s\n%s\n%lld", t->id, file, (long long)t->url_expires_s);
    vg_hmac_sha256_hex(g_sim.secret, strlen(g_sim.secret), msg, strlen(msg), sig);
    snprintf(out, cap, "%s/sim/files/%s/%s?expires=%lld&sig=%s", g_sim.base_url, t->id, file,
             (long long)t->url_expires_s, sig);
}

/* The task object; list items name the error "failure_reason" (an Ark quirk). Under g_sim.lock. */
json_t *sim_task_json(const stask *t, bool list_item)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:i, s:i, s:b, s:s, s:I}", "id", t->id, "model",
        t->model, "status", sim_status_names[t->status], "created_at",
        (json_int_t)(t->created_ms / 1000), "updated_at", (json_int_t)(t->updated_ms / 1000),
        "seed", (json_int_t)t->seed, "resolution", t->resolution, "ratio", t->ratio, "duration",
        t->duration, "framespersecond", 24, "generate_audio", t->generate_audio, "service_tier",
        "default", "execution_expires_after", (json_int_t)t->expires_after_s);
    json_t *err = t->error_code[0]
                      ? json_pack("{s:s, s:s}", "code", t->error_code, "message", t->error_message)
                      : json_null();
    json_object_set_new(j, list_item ? "failure_reason" : "error", err);
    if (t->safety_identifier[0])
        json_object_set_new(j, "safety_identifier", json_string(t->safety_identifier));
    if (t->status == S_SUCCEEDED) {
        json_object_set_new(j, "usage",
                            json_pack("{s:I, s:I}", "completion_tokens", (json_int_t)t->tokens,
                                      "total_tokens", (json_int_t)t->tokens));
        if (t->url_expires_s > vg_now_s()) { /* later polls omit the expired URL */
            char url[1024];
            json_t *content = json_object();
            video_url(t, "video.mp4", url, sizeof url);
            json_object_set_new(content, "video_url", json_string(url));
            if (t->return_last_frame) {
                video_url(t, "last_frame.png", url, sizeof url);
                json_object_set_new(content, "last_frame_url", json_string(url));
            }
            json_object_set_new(j, "content", content);
        }
    }
    return j;
}

static void queue_callback(const stask *t) /* under g_sim.lock */
{
    if (!t->callback_url) return;
    cb_item *it = vg_calloc(1, sizeof *it);
    it->url = vg_strdup(t->callback_url);
    json_t *j = sim_task_json(t, false);
    it->body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (g_sim.cb_tail)
        g_sim.cb_tail->next = it;
    else
        g_sim.cb_head = it;
    g_sim.cb_tail = it;
    pthread_cond_signal(&g_sim.cb_wake);
}

void sim_task_set_status(stask *t, sstat s) /* under g_sim.lock */
{
    t->status = s;
    t->updated_ms = vg_now_ms();
    if (s == S_SUCCEEDED) t->url_expires_s = vg_now_s() + g_sim.o.url_ttl_s;
    queue_callback(t);
}

static void new_task_id(char out[40])
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char r[5];
    vg_random_bytes(r, sizeof r);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[16];
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    snprintf(out, 40, "cgt-%s-%c%c%c%c%c", stamp, alphabet[r[0] % 36], alphabet[r[1] % 36],
             alphabet[r[2] % 36], alphabet[r[3] % 36], alphabet[r[4] % 36]);
}

stask *sim_task_new(const vg_ark_create *in, fault_kind task_fault, const json_t *body)
{
    stask *t = vg_calloc(1, sizeof *t);
    new_task_id(t->id);
    snprintf(t->model, sizeof t->model, "%s", in->model);
    t->status = S_QUEUED;
    t->task_fault = task_fault;
    t->request = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int slow = task_fault == F_SLOW ? 10 : 1;
    t->created_ms = t->updated_ms = vg_now_ms();
    t->run_at_ms = t->created_ms + (int64_t)g_sim.o.queue_ms * slow;
    t->done_at_ms = t->run_at_ms + (int64_t)g_sim.o.run_ms * slow;
    snprintf(t->resolution, sizeof t->resolution, "%s", in->resolution);
    int q = vg_ratio_parse(in->ratio);
    if (q == VG_RATIO_ADAPTIVE)
        q = in->first_w ? (int)vg_ratio_closest(in->first_w, in->first_h) : VG_RATIO_16_9;
    snprintf(t->ratio, sizeof t->ratio, "%s", vg_ratio_name((vg_ratio)q));
    t->duration = in->duration > 0 ? in->duration : 5;
    vg_output_size((vg_resolution)vg_resolution_parse(t->resolution), (vg_ratio)q, &t->w, &t->h);
    t->tokens = vg_tokens(t->w, t->h, t->duration);
    t->seed = in->seed;
    if (t->seed < 0) {
        uint32_t r;
        vg_random_bytes(&r, sizeof r);
        t->seed = r;
    }
    t->expires_after_s = in->expires_after_s;
    t->generate_audio = in->generate_audio;
    t->return_last_frame = in->return_last_frame;
    t->callback_url = in->callback_url ? vg_strdup(in->callback_url) : NULL;
    if (in->safety_identifier)
        snprintf(t->safety_identifier, sizeof t->safety_identifier, "%s", in->safety_identifier);
    if (!strcmp(g_sim.o.video, "tiny"))
        snprintf(t->video_key, sizeof t->video_key, "tiny");
    else
        snprintf(t->video_key, sizeof t->video_key, "%dx%d-%d", t->w, t->h, t->duration);
    return t;
}

int sim_tasks_queued(void) /* under g_sim.lock */
{
    int n = 0;
    for (size_t i = 0; i < g_sim.n_tasks; i++)
        n += !g_sim.tasks[i]->deleted && g_sim.tasks[i]->status == S_QUEUED;
    return n;
}
