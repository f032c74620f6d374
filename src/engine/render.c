/*
 * render.c - one render job, start to finish, on the calling thread.
 *
 * Flow: check the job; decode and cover-scale the input images once (the first frame at output
 * size and, for a zooming move, again at its largest zoom: camera.h's two levels; the last frame at
 * output size); open the encoder; then for each frame: camera pose -> sample the image or draw the
 * scene -> cross-fade towards the last frame -> encode. Only one output frame exists at a time, so
 * memory does not grow with the duration. The thumbnail is written from frame 0, last_frame.png
 * from the final frame after the loop.
 *
 * Progress: 0 once set up, then every 5% of encoded frames (scaled to 95), and 100 once every file
 * is complete. Any failure or abort removes the files this render may have written.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/frame.h>

#include "common/alloc.h"
#include "common/status.h"
#include "engine/camera.h"
#include "engine/diag.h"
#include "engine/encode.h"
#include "engine/engine.h"
#include "engine/image.h"
#include "engine/scene.h"

#define PROGRESS_STEP      5
#define PROGRESS_FRAMES_TO 95 /* the frame loop's share; finishing the files is the rest */
#define RENDER_INTERNAL_ERROR                                                                      \
    "the video could not be rendered because of an internal error; the task was not charged"

typedef struct {
    const vg_render_job *job;
    vg_render_result *res;
    AVFrame *first;  /* cover view at output size, or NULL: draw the scene */
    AVFrame *detail; /* cover view scaled by the move's largest zoom, or NULL (camera.h) */
    AVFrame *last;   /* cover view at output size, or NULL */
    vg_scene *scene;
    AVFrame *frame; /* the frame being rendered */
    vg_encoder *enc;
    int next_report;
    char video[PATH_MAX], thumb[PATH_MAX], last_png[PATH_MAX];
} render_ctx;

static int check_job(const vg_render_job *job, char *err, size_t errlen)
{
    if (!job->out_dir || !job->out_dir[0]) {
        vg_diag_set(err, errlen, "no output directory");
        return VG_ERR;
    }
    if (job->width < VG_RENDER_MIN_SIDE_PX || job->width > VG_RENDER_MAX_SIDE_PX ||
        job->height < VG_RENDER_MIN_SIDE_PX || job->height > VG_RENDER_MAX_SIDE_PX ||
        job->width % 2 || job->height % 2) {
        vg_diag_set(err, errlen, "output size %dx%d must be even and %d..%d per side", job->width,
                    job->height, VG_RENDER_MIN_SIDE_PX, VG_RENDER_MAX_SIDE_PX);
        return VG_ERR;
    }
    if (job->seconds < 1 || job->seconds > VG_RENDER_MAX_SECONDS) {
        vg_diag_set(err, errlen, "duration %d s must be 1..%d", job->seconds,
                    VG_RENDER_MAX_SECONDS);
        return VG_ERR;
    }
    return VG_OK;
}

static int make_paths(render_ctx *c)
{
    const char *dir = c->job->out_dir;
    size_t n = sizeof c->video;
    if ((size_t)snprintf(c->video, n, "%s/video.mp4", dir) >= n ||
        (size_t)snprintf(c->thumb, n, "%s/thumbnail.jpg", dir) >= n ||
        (size_t)snprintf(c->last_png, n, "%s/last_frame.png", dir) >= n) {
        vg_diag_set(c->res->error, sizeof c->res->error, "output directory path is too long");
        c->video[0] = c->thumb[0] = c->last_png[0] = '\0';
        return VG_ERR;
    }
    return VG_OK;
}

static int even_ceil(double v)
{
    int i = (int)ceil(v - 1e-9);
    return i + (i & 1);
}

/* Decodes one input image and cover-scales it to w x h, and when detail is given also to that
 * size times zoom; reasons are prefixed with which image it was. */
static int load_image(render_ctx *c, const char *which, const unsigned char *data, size_t len,
                      int w, int h, AVFrame **detail, double zoom, AVFrame **out)
{
    char why[200] = "";
    AVFrame *img = NULL;
    int rc = vg_image_decode(data, len, &img, why, sizeof why);
    if (rc == VG_OK) rc = vg_image_cover(img, w, h, out, why, sizeof why);
    if (rc == VG_OK && detail)
        rc = vg_image_cover(img, even_ceil(w * zoom), even_ceil(h * zoom), detail, why, sizeof why);
    av_frame_free(&img);
    if (rc != VG_OK) vg_diag_set(c->res->error, sizeof c->res->error, "%s: %s", which, why);
    return rc;
}

static int prepare_sources(render_ctx *c)
{
    const vg_render_job *j = c->job;
    int rc = VG_OK;
    if (j->first_frame) {
        double zoom = vg_cam_max_zoom(c->res->move, j->width, j->height);
        rc = load_image(c, "first frame", j->first_frame, j->first_frame_len, j->width, j->height,
                        zoom > 1 ? &c->detail : NULL, zoom, &c->first);
    } else {
        c->scene = vg_scene_new(j->prompt, j->seed);
    }
    if (rc == VG_OK && j->last_frame)
        rc = load_image(c, "last frame", j->last_frame, j->last_frame_len, j->width, j->height,
                        NULL, 1, &c->last);
    return rc;
}

/* Blends towards the last frame by a/256 (a = 256 gives the last frame exactly). */
static void cross_fade(AVFrame *dst, const AVFrame *last, unsigned a)
{
    for (int plane = 0; plane < 3; plane++) {
        int w = plane ? dst->width / 2 : dst->width, h = plane ? dst->height / 2 : dst->height;
        for (int y = 0; y < h; y++) {
            uint8_t *d = dst->data[plane] + (ptrdiff_t)y * dst->linesize[plane];
            const uint8_t *l = last->data[plane] + (ptrdiff_t)y * last->linesize[plane];
            for (int x = 0; x < w; x++)
                d[x] = (uint8_t)((d[x] * (256 - a) + l[x] * a + 128) >> 8);
        }
    }
}

/* Calls the progress callback when pct reaches the next step; non-zero means abort. */
static int report(render_ctx *c, int pct)
{
    if (!c->job->progress || pct < c->next_report) return 0;
    c->next_report = pct - pct % PROGRESS_STEP + PROGRESS_STEP;
    return c->job->progress(c->job->ud, pct);
}

static int render_frame(render_ctx *c, int i)
{
    const vg_render_job *j = c->job;
    int frames = c->res->frames;
    double t = frames > 1 ? (double)i / (frames - 1) : 0;
    vg_cam_pose pose;
    vg_cam_pose_at(c->res->move, t, j->width, j->height, &pose);
    if (av_frame_make_writable(c->frame) < 0) {
        vg_diag_set(c->res->error, sizeof c->res->error, "out of memory rendering frame %d", i);
        return VG_ERR;
    }
    if (c->first)
        vg_cam_sample(c->first, c->detail, &pose, c->frame);
    else
        vg_scene_render(c->scene, (double)i / VG_RENDER_FPS, &pose, c->frame);
    if (c->last) cross_fade(c->frame, c->last, (unsigned)lrint(256 * vg_cam_ease(t)));
    return vg_enc_write(c->enc, c->frame, c->res->error, sizeof c->res->error);
}

static int render_frames(render_ctx *c)
{
    char *err = c->res->error;
    size_t errlen = sizeof c->res->error;
    for (int i = 0; i < c->res->frames; i++) {
        if (render_frame(c, i) != VG_OK) return VG_ERR;
        if (i == 0 && vg_enc_write_jpeg(c->frame, c->thumb, err, errlen) != VG_OK) return VG_ERR;
        if (report(c, (int)((int64_t)(i + 1) * PROGRESS_FRAMES_TO / c->res->frames))) {
            vg_diag_set(err, errlen, "render aborted at frame %d of %d", i + 1, c->res->frames);
            return VG_AGAIN;
        }
    }
    if (vg_enc_finish(c->enc, err, errlen) != VG_OK) return VG_ERR;
    if (c->job->return_last_frame && vg_enc_write_png(c->frame, c->last_png, err, errlen) != VG_OK)
        return VG_ERR;
    return VG_OK;
}

static int run(render_ctx *c)
{
    const vg_render_job *j = c->job;
    char *err = c->res->error;
    size_t errlen = sizeof c->res->error;
    int rc = make_paths(c);
    if (rc == VG_OK) rc = prepare_sources(c);
    if (rc != VG_OK) return rc;
    c->frame = vg_image_alloc(j->width, j->height, AV_PIX_FMT_YUV420P);
    if (!c->frame) {
        vg_diag_set(err, errlen, "out of memory allocating a %dx%d frame", j->width, j->height);
        return VG_ERR;
    }
    if (vg_enc_open(c->video, j->width, j->height, &c->enc, err, errlen) != VG_OK) return VG_ERR;
    if (report(c, 0)) {
        vg_diag_set(err, errlen, "render aborted before the first frame");
        return VG_AGAIN;
    }
    rc = render_frames(c);
    if (rc == VG_OK && report(c, 100)) {
        vg_diag_set(err, errlen, "render aborted after the last frame");
        rc = VG_AGAIN;
    }
    return rc;
}

static void remove_outputs(const render_ctx *c)
{
    const char *paths[] = {c->video, c->thumb, c->last_png};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i][0]) unlink(paths[i]);
}

int vg_render(const vg_render_job *job, vg_render_result *res)
{
    if (!res) return VG_ERR;
    memset(res, 0, sizeof *res);
    vg_diag_init();
    render_ctx *c = vg_calloc(1, sizeof *c); /* three PATH_MAX buffers: too big for a stack */
    c->job = job;
    c->res = res;
    int rc = VG_ERR;
    if (!job)
        vg_diag_set(res->error, sizeof res->error, "no job");
    else
        rc = check_job(job, res->error, sizeof res->error);
    if (rc == VG_OK) {
        res->frames = job->seconds * VG_RENDER_FPS + 1;
        res->tokens = (int64_t)job->width * job->height * res->frames / 1024;
        res->move = job->camera_fixed ? VG_MOVE_STATIC : vg_camera_from_prompt(job->prompt);
        rc = run(c);
    }
    vg_enc_free(c->enc); /* closes video.mp4 before it may be removed */
    if (rc != VG_OK) {
        remove_outputs(c);
        res->error_code = rc == VG_INVALID ? "invalid_image"
                          : rc == VG_AGAIN ? "render_aborted"
                                           : "render_failed";
        vg_diag_set(res->error, sizeof res->error, "render failed");
        snprintf(res->detail, sizeof res->detail, "%s", res->error);
        if (rc == VG_ERR) /* the system's or our fault, not the job's: the detail is for the log */
            snprintf(res->error, sizeof res->error, "%s", RENDER_INTERNAL_ERROR);
    }
    av_frame_free(&c->first);
    av_frame_free(&c->detail);
    av_frame_free(&c->last);
    av_frame_free(&c->frame);
    vg_scene_free(c->scene);
    free(c);
    return rc;
}
