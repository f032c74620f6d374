/*
 * local.c - the built-in provider: renders with the local engine (engine/engine.h).
 *
 * Inputs: the first frame (role first_frame, or the first reference image when there is none) and
 * the last frame; other references are accepted but do not steer the picture. The adaptive ratio
 * follows the first frame, else 16:9. Usage is the spec's token formula for the frames produced,
 * priced at the tier of what was actually produced.
 */
#include "providers/provider.h"

#include "common/log.h"
#include "engine/engine.h"
#include "providers/media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vg_media *find_media(const vg_task_spec *s, vg_media_role role)
{
    for (int i = 0; i < s->n_media; i++)
        if (s->media[i].role == role) return &s->media[i];
    return NULL;
}

static bool has_ref_video(const vg_task_spec *s)
{
    return find_media(s, VG_ROLE_REFERENCE_VIDEO) != NULL;
}

typedef struct {
    unsigned char *data;
    size_t len;
} blob;

/* A failure names the field the user gave the media in, so they know which URL to fix. */
static int load(const vg_run_env *env, const vg_media *m, blob *b, vg_run_result *out)
{
    if (!m) return VG_OK;
    char why[sizeof out->error - sizeof m->param - 2] = ""; /* room for "<param>: " */
    int rc =
        vg_media_load(&env->media, m->url, &b->data, &b->len, &out->error_code, why, sizeof why);
    if (rc != VG_OK)
        snprintf(out->error, sizeof out->error, "%s%s%s", m->param, m->param[0] ? ": " : "", why);
    return rc;
}

/* Output size: the task's, or for an adaptive ratio the one closest to the first frame. */
static int output_size(const vg_task *t, const blob *first, vg_run_result *out)
{
    vg_ratio q = t->ratio;
    if (q == VG_RATIO_ADAPTIVE) {
        int w = 0, h = 0;
        q = VG_RATIO_16_9;
        if (first->data) {
            if (vg_image_probe(first->data, first->len, &w, &h, out->error, sizeof out->error)) {
                out->error_code = "invalid_image";
                return VG_INVALID;
            }
            q = vg_ratio_closest(w, h);
        }
    }
    out->r.ratio = q;
    vg_output_size(t->resolution, q, &out->r.width, &out->r.height);
    return VG_OK;
}

static int local_run(const vg_provider *p, const vg_task *t, const vg_task_spec *spec,
                     const vg_run_env *env, vg_run_result *out)
{
    (void)p;
    const vg_media *fm = find_media(spec, VG_ROLE_FIRST_FRAME);
    if (!fm) fm = find_media(spec, VG_ROLE_REFERENCE_IMAGE);
    blob first = {0}, last = {0};
    int rc = load(env, fm, &first, out);
    if (rc == VG_OK) rc = load(env, find_media(spec, VG_ROLE_LAST_FRAME), &last, out);
    if (rc == VG_OK) rc = output_size(t, &first, out);
    if (rc == VG_OK) {
        vg_render_job job = {.width = out->r.width,
                             .height = out->r.height,
                             .seconds = t->seconds,
                             .seed = (uint64_t)t->seed,
                             .prompt = spec->prompt,
                             .first_frame = first.data,
                             .first_frame_len = first.len,
                             .last_frame = last.data,
                             .last_frame_len = last.len,
                             .camera_fixed = spec->camera_fixed,
                             .return_last_frame = spec->return_last_frame,
                             .out_dir = env->out_dir,
                             .progress = env->progress,
                             .ud = env->ud};
        vg_render_result rr;
        memset(&rr, 0, sizeof rr);
        rc = vg_render(&job, &rr);
        if (rc != VG_OK && rc != VG_AGAIN) {
            out->error_code = rr.error_code ? rr.error_code : "render_failed";
            snprintf(out->error, sizeof out->error, "%s", rr.error);
            if (rc == VG_ERR) vg_error("task %s: render failed: %s", t->id, rr.detail);
        }
        out->r.tokens = rr.tokens;
    }
    free(first.data);
    free(last.data);
    if (rc != VG_OK) return rc;
    const vg_model *m = vg_model_find(t->model);
    out->r.seed = t->seed;
    out->r.has_last_frame = spec->return_last_frame;
    out->r.cost_micro = t->test_mode || !m
                            ? 0
                            : vg_price_micro(m, t->resolution, has_ref_video(spec), out->r.tokens);
    return VG_OK;
}

const vg_provider vg_provider_local = {.name = "local", .run = local_run};
