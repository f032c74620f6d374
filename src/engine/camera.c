/*
 * camera.c - which move a prompt names, what each move does over time, and the bilinear sampler.
 *
 * The sampler is fixed point: source positions are 16.16, bilinear weights 8 bits, and each row
 * starts from an exactly computed position (only the per-pixel step accumulates, well under a
 * tenth of a pixel across the widest row), so successive frames move smoothly without jitter.
 */
#include "engine/camera.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZOOM_TRAVEL 0.15 /* push in / pull out: content scale change */
#define PAN_TRAVEL  0.12 /* pans and tilts: fraction of the frame travelled (and the zoom margin) */
#define ORBIT_DEG   4.0  /* orbit: clockwise turn over the clip */

static const struct {
    const char *phrase;
    vg_camera_move move;
} camera_phrases[] = {
    {"push in", VG_MOVE_PUSH_IN},       {"pushes in", VG_MOVE_PUSH_IN},
    {"pushing in", VG_MOVE_PUSH_IN},    {"zoom in", VG_MOVE_PUSH_IN},
    {"zooms in", VG_MOVE_PUSH_IN},      {"zooming in", VG_MOVE_PUSH_IN},
    {"dolly in", VG_MOVE_PUSH_IN},      {"推进", VG_MOVE_PUSH_IN},
    {"拉近", VG_MOVE_PUSH_IN},          {"pull out", VG_MOVE_PULL_OUT},
    {"pulls out", VG_MOVE_PULL_OUT},    {"pulling out", VG_MOVE_PULL_OUT},
    {"pull back", VG_MOVE_PULL_OUT},    {"zoom out", VG_MOVE_PULL_OUT},
    {"zooms out", VG_MOVE_PULL_OUT},    {"zooming out", VG_MOVE_PULL_OUT},
    {"dolly out", VG_MOVE_PULL_OUT},    {"拉远", VG_MOVE_PULL_OUT},
    {"pan left", VG_MOVE_PAN_LEFT},     {"pans left", VG_MOVE_PAN_LEFT},
    {"panning left", VG_MOVE_PAN_LEFT}, {"左移", VG_MOVE_PAN_LEFT},
    {"左摇", VG_MOVE_PAN_LEFT},         {"pan right", VG_MOVE_PAN_RIGHT},
    {"pans right", VG_MOVE_PAN_RIGHT},  {"panning right", VG_MOVE_PAN_RIGHT},
    {"右移", VG_MOVE_PAN_RIGHT},        {"右摇", VG_MOVE_PAN_RIGHT},
    {"tilt up", VG_MOVE_TILT_UP},       {"tilts up", VG_MOVE_TILT_UP},
    {"tilting up", VG_MOVE_TILT_UP},    {"上摇", VG_MOVE_TILT_UP},
    {"上移", VG_MOVE_TILT_UP},          {"tilt down", VG_MOVE_TILT_DOWN},
    {"tilts down", VG_MOVE_TILT_DOWN},  {"tilting down", VG_MOVE_TILT_DOWN},
    {"下摇", VG_MOVE_TILT_DOWN},        {"下移", VG_MOVE_TILT_DOWN},
    {"orbit", VG_MOVE_ORBIT},           {"orbits", VG_MOVE_ORBIT},
    {"orbiting", VG_MOVE_ORBIT},        {"rotate", VG_MOVE_ORBIT},
    {"rotates", VG_MOVE_ORBIT},         {"rotating", VG_MOVE_ORBIT},
    {"rotation", VG_MOVE_ORBIT},        {"旋转", VG_MOVE_ORBIT},
    {"环绕", VG_MOVE_ORBIT},            {"static", VG_MOVE_STATIC},
    {"fixed", VG_MOVE_STATIC},          {"固定镜头", VG_MOVE_STATIC},
    {"镜头固定", VG_MOVE_STATIC},       {"静止", VG_MOVE_STATIC},
};

static const char *const camera_names[] = {
    [VG_MOVE_PUSH_IN] = "push_in",     [VG_MOVE_PULL_OUT] = "pull_out",
    [VG_MOVE_PAN_LEFT] = "pan_left",   [VG_MOVE_PAN_RIGHT] = "pan_right",
    [VG_MOVE_TILT_UP] = "tilt_up",     [VG_MOVE_TILT_DOWN] = "tilt_down",
    [VG_MOVE_ORBIT] = "orbit",         [VG_MOVE_STATIC] = "static",
};

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int is_word_char(int c)
{
    c = ascii_lower(c);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Whether needle (lowercase) starts at s, ignoring ASCII case; English phrases must also stand
 * as whole words, while CJK text has no spaces to check. */
static int phrase_at(const char *start, const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)s[i]) != (unsigned char)needle[i]) return 0;
    if (!is_word_char((unsigned char)needle[0])) return 1;
    if (s > start && is_word_char((unsigned char)s[-1])) return 0;
    return !is_word_char((unsigned char)s[n]);
}

vg_camera_move vg_camera_from_prompt(const char *prompt)
{
    if (!prompt) return VG_MOVE_PUSH_IN;
    for (const char *s = prompt; *s; s++)
        for (size_t i = 0; i < sizeof camera_phrases / sizeof camera_phrases[0]; i++)
            if (phrase_at(prompt, s, camera_phrases[i].phrase)) return camera_phrases[i].move;
    return VG_MOVE_PUSH_IN;
}

const char *vg_camera_name(vg_camera_move m)
{
    if ((unsigned)m >= sizeof camera_names / sizeof camera_names[0]) return "unknown";
    return camera_names[m];
}

double vg_cam_ease(double t)
{
    if (t <= 0) return 0;
    if (t >= 1) return 1;
    return t * t * (3 - 2 * t);
}

/* The zoom that keeps a w x h window turned by angle inside the unturned cover view. */
static double orbit_zoom(double angle, int w, int h)
{
    double aspect = w > h ? (double)w / h : (double)h / w;
    return cos(angle) + aspect * sin(fabs(angle));
}

void vg_cam_pose_at(vg_camera_move m, double t, int w, int h, vg_cam_pose *pose)
{
    double e = vg_cam_ease(t), pan = e - 0.5;
    *pose = (vg_cam_pose){.zoom = 1};
    switch (m) {
    case VG_MOVE_PUSH_IN: pose->zoom = 1 + ZOOM_TRAVEL * e; break;
    case VG_MOVE_PULL_OUT: pose->zoom = 1 + ZOOM_TRAVEL * (1 - e); break;
    case VG_MOVE_PAN_LEFT: pose->zoom = 1 + PAN_TRAVEL, pose->dx = w * PAN_TRAVEL * pan; break;
    case VG_MOVE_PAN_RIGHT: pose->zoom = 1 + PAN_TRAVEL, pose->dx = -w * PAN_TRAVEL * pan; break;
    case VG_MOVE_TILT_UP: pose->zoom = 1 + PAN_TRAVEL, pose->dy = h * PAN_TRAVEL * pan; break;
    case VG_MOVE_TILT_DOWN: pose->zoom = 1 + PAN_TRAVEL, pose->dy = -h * PAN_TRAVEL * pan; break;
    case VG_MOVE_ORBIT:
        pose->angle = ORBIT_DEG * M_PI / 180 * e;
        pose->zoom = orbit_zoom(pose->angle, w, h);
        break;
    case VG_MOVE_STATIC: break;
    }
}

double vg_cam_max_zoom(vg_camera_move m, int w, int h)
{
    vg_cam_pose start, end;
    vg_cam_pose_at(m, 0, w, h, &start);
    vg_cam_pose_at(m, 1, w, h, &end);
    return start.zoom > end.zoom ? start.zoom : end.zoom; /* every move is monotone in zoom */
}

typedef struct {
    const uint8_t *src;
    ptrdiff_t stride;
    int32_t max_x, max_y; /* 16.16 clamps keeping the 2x2 neighbourhood inside the plane */
    int32_t step_xx, step_xy; /* 16.16 source step per output pixel along a row */
} plane_sampler;

static void sample_row(const plane_sampler *ps, int32_t fx, int32_t fy, uint8_t *out, int n)
{
    const ptrdiff_t ss = ps->stride;
    for (int i = 0; i < n; i++, fx += ps->step_xx, fy += ps->step_xy) {
        int32_t cx = fx < 0 ? 0 : fx > ps->max_x ? ps->max_x : fx;
        int32_t cy = fy < 0 ? 0 : fy > ps->max_y ? ps->max_y : fy;
        const uint8_t *p = ps->src + (cy >> 16) * ss + (cx >> 16);
        unsigned ax = (cx >> 8) & 255, ay = (cy >> 8) & 255;
        unsigned top = p[0] * (256 - ax) + p[1] * ax;
        unsigned bot = p[ss] * (256 - ax) + p[ss + 1] * ax;
        out[i] = (uint8_t)((top * (256 - ay) + bot * ay + 32768) >> 16);
    }
}

static int32_t fixed16(double v)
{
    return (int32_t)lrint(v * 65536.0);
}

/* Samples one plane; sub is its subsampling (1 luma, 2 chroma). Positions are worked out in luma
 * pixel units with pixel centres at +0.5, then brought into this plane's sample grid. */
static void sample_plane(const AVFrame *src, const vg_cam_pose *p, AVFrame *dst, int plane, int sub)
{
    int sw = src->width / sub, sh = src->height / sub, dw = dst->width / sub, dh = dst->height / sub;
    double kx = (double)src->width / dst->width, ky = (double)src->height / dst->height;
    double c = cos(p->angle) / p->zoom, s = sin(p->angle) / p->zoom;
    plane_sampler ps = {
        .src = src->data[plane],
        .stride = src->linesize[plane],
        .max_x = (int32_t)(((int64_t)(sw - 1) << 16) - 1),
        .max_y = (int32_t)(((int64_t)(sh - 1) << 16) - 1),
        .step_xx = fixed16(c * kx),
        .step_xy = fixed16(-s * ky),
    };
    for (int y = 0; y < dh; y++) {
        /* screen position of this row's first sample, relative to the centre, minus the offset */
        double px = sub * 0.5 - dst->width / 2.0 - p->dx;
        double py = sub * (y + 0.5) - dst->height / 2.0 - p->dy;
        double sx = ((c * px + s * py) * kx + src->width / 2.0) / sub - 0.5;
        double sy = ((-s * px + c * py) * ky + src->height / 2.0) / sub - 0.5;
        sample_row(&ps, fixed16(sx), fixed16(sy), dst->data[plane] + (ptrdiff_t)y * dst->linesize[plane],
                   dw);
    }
}

void vg_cam_sample(const AVFrame *src, const vg_cam_pose *pose, AVFrame *dst)
{
    if (pose->zoom == 1 && pose->angle == 0 && pose->dx == 0 && pose->dy == 0 &&
        src->width == dst->width && src->height == dst->height) {
        av_frame_copy(dst, src); /* the static move: nothing to resample */
        return;
    }
    for (int plane = 0; plane < 3; plane++) sample_plane(src, pose, dst, plane, plane ? 2 : 1);
}
