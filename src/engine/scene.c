/*
 * scene.c - see scene.h. World coordinates are output pixels relative to the frame centre; the
 * scene stores fractions of the frame and scales them per render, so any output size works.
 *
 * The gradient is a 1024-entry cyclic colour ramp (built once) indexed by a 32-bit phase that steps
 * linearly along each row: the camera pose is a similarity transform, so the phase stays affine in
 * screen position whatever the zoom, turn or offset. Orbs are drawn only inside their bounding box
 * with a squared-distance lookup into a per-orb falloff table: no square roots, no divisions.
 */
#include "engine/scene.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "common/alloc.h"

#define SCENE_STOPS   4
#define SCENE_RAMP    1024 /* ramp entries: the phase's top 10 bits */
#define SCENE_ORBS    6
#define SCENE_FALLOFF 1024
#define SCENE_SPAN    0.55 /* share of the colour cycle visible across the frame diagonal */

typedef struct {
    double cx, cy, ax, ay; /* centre and swing, fractions of the width / height */
    double wx, wy, px, py; /* angular speed (rad/s) and phase per axis */
    double radius;         /* fraction of the shorter side */
    uint8_t yuv[3];
    uint16_t falloff[SCENE_FALLOFF]; /* blend weight 0..256 by squared distance / radius^2 */
} scene_orb;

struct vg_scene {
    uint8_t ramp[3][SCENE_RAMP];
    double grad_angle, grad_spin, grad_drift; /* direction (rad), its turn (rad/s), cycles/s */
    scene_orb orbs[SCENE_ORBS];
};

/* splitmix64: a tiny, well-mixed generator; determinism is all that matters here. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_range(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng_next(state) >> 11) / (double)(1ull << 53);
}

static uint64_t scene_hash(const char *prompt, uint64_t seed)
{
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a over the prompt, then the seed folded in */
    for (const unsigned char *p = (const unsigned char *)(prompt ? prompt : ""); *p; p++)
        h = (h ^ *p) * 0x100000001B3ull;
    uint64_t state = h ^ (seed * 0x9E3779B97F4A7C15ull);
    return rng_next(&state);
}

/* HSV (all 0..1, hue wraps) to BT.709 limited-range YUV. */
static void hsv_to_yuv(double h, double s, double v, uint8_t out[3])
{
    h = (h - floor(h)) * 6;
    int i = (int)h % 6;
    double f = h - floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    double r = rgb[i][0], g = rgb[i][1], b = rgb[i][2];
    double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    out[0] = (uint8_t)lrint(16 + 219 * y);
    out[1] = (uint8_t)lrint(128 + 224 * (b - y) / 1.8556);
    out[2] = (uint8_t)lrint(128 + 224 * (r - y) / 1.5748);
}

static double smooth(double t)
{
    return t * t * (3 - 2 * t);
}

static void build_ramp(vg_scene *sc, uint64_t *rng, double hue)
{
    static const double schemes[2][SCENE_STOPS] = {{0, 0.07, 0.5, 0.57}, {0, 0.1, 0.2, 0.9}};
    const double *offs = schemes[rng_next(rng) & 1];
    uint8_t stops[SCENE_STOPS][3];
    for (int i = 0; i < SCENE_STOPS; i++) /* alternate deep and light stops for contrast */
        hsv_to_yuv(hue + offs[i], rng_range(rng, 0.45, 0.8),
                   i & 1 ? rng_range(rng, 0.65, 0.9) : rng_range(rng, 0.2, 0.4), stops[i]);
    for (int i = 0; i < SCENE_RAMP; i++) {
        int seg = i * SCENE_STOPS / SCENE_RAMP, next = (seg + 1) % SCENE_STOPS;
        double f = smooth((double)(i % (SCENE_RAMP / SCENE_STOPS)) / (SCENE_RAMP / SCENE_STOPS));
        for (int c = 0; c < 3; c++)
            sc->ramp[c][i] = (uint8_t)lrint(stops[seg][c] + (stops[next][c] - stops[seg][c]) * f);
    }
}

static void build_orb(scene_orb *o, uint64_t *rng, double hue)
{
    o->cx = rng_range(rng, -0.3, 0.3);
    o->cy = rng_range(rng, -0.25, 0.25);
    o->ax = rng_range(rng, 0.12, 0.3);
    o->ay = rng_range(rng, 0.1, 0.25);
    o->wx = rng_range(rng, 0.6, 1.5) * (rng_next(rng) & 1 ? 1 : -1);
    o->wy = rng_range(rng, 0.5, 1.3);
    o->px = rng_range(rng, 0, 2 * M_PI);
    o->py = rng_range(rng, 0, 2 * M_PI);
    o->radius = rng_range(rng, 0.1, 0.28);
    hsv_to_yuv(hue + rng_range(rng, -0.12, 0.12), rng_range(rng, 0.2, 0.5), rng_range(rng, 0.85, 1),
               o->yuv);
    /* a disc whose rim softens from `edge` of the radius outwards: from bokeh to pure glow */
    double peak = rng_range(rng, 0.3, 0.65) * 256, edge = rng_range(rng, 0.2, 0.8);
    for (int i = 0; i < SCENE_FALLOFF; i++) {
        double d = sqrt((double)i / SCENE_FALLOFF), u = (d - edge) / (1 - edge);
        o->falloff[i] = (uint16_t)lrint(peak * (u <= 0 ? 1 : 1 - smooth(u)));
    }
}

vg_scene *vg_scene_new(const char *prompt, uint64_t seed)
{
    vg_scene *sc = vg_calloc(1, sizeof *sc);
    uint64_t rng = scene_hash(prompt, seed);
    double hue = rng_range(&rng, 0, 1);
    build_ramp(sc, &rng, hue);
    sc->grad_angle = rng_range(&rng, 0, 2 * M_PI);
    sc->grad_spin = rng_range(&rng, 0.04, 0.12) * (rng_next(&rng) & 1 ? 1 : -1);
    sc->grad_drift = rng_range(&rng, 0.03, 0.06);
    for (int i = 0; i < SCENE_ORBS; i++)
        build_orb(&sc->orbs[i], &rng, hue + (i & 1 ? 0.5 : 0));
    return sc;
}

void vg_scene_free(vg_scene *sc)
{
    free(sc);
}

/* Fills one plane with the gradient. sub: plane subsampling (1 luma, 2 chroma). */
static void draw_gradient(const vg_scene *sc, double t, const vg_cam_pose *p, AVFrame *dst,
                          int plane, int sub)
{
    int w = dst->width, h = dst->height, pw = w / sub, ph = h / sub;
    double dir = sc->grad_angle + sc->grad_spin * t, diag = hypot(w, h);
    double c = cos(p->angle) / p->zoom, s = sin(p->angle) / p->zoom;
    /* u = world position . direction / diagonal, in cycles of the ramp */
    double ux = (c * cos(dir) - s * sin(dir)) * SCENE_SPAN / diag;
    double uy = (s * cos(dir) + c * sin(dir)) * SCENE_SPAN / diag;
    uint32_t step = (uint32_t)(int64_t)llrint(ux * sub * 4294967296.0);
    const uint8_t *ramp = sc->ramp[plane];
    for (int y = 0; y < ph; y++) {
        double px = sub * 0.5 - w / 2.0 - p->dx, py = sub * (y + 0.5) - h / 2.0 - p->dy;
        double u = ux * px + uy * py + sc->grad_drift * t;
        uint32_t phase = (uint32_t)(uint64_t)((u - floor(u)) * 4294967296.0);
        uint8_t *row = dst->data[plane] + (ptrdiff_t)y * dst->linesize[plane];
        for (int x = 0; x < pw; x++, phase += step)
            row[x] = ramp[phase >> 22];
    }
}

/* Blends one orb into one plane; (cx, cy) and r are in this plane's pixels. */
static void draw_orb(const scene_orb *o, AVFrame *dst, int plane, int sub, double cx, double cy,
                     double r)
{
    int pw = dst->width / sub, ph = dst->height / sub;
    int x0 = (int)floor(cx - r), x1 = (int)ceil(cx + r), y0 = (int)floor(cy - r);
    int y1 = (int)ceil(cy + r);
    int64_t r16 = llrint(r * 16), cx16 = llrint(cx * 16), cy16 = llrint(cy * 16);
    if (r16 < 1 || x1 < 0 || y1 < 0 || x0 >= pw || y0 >= ph) return;
    int64_t r2 = r16 * r16;
    uint64_t recip = ((uint64_t)SCENE_FALLOFF << 30) / (uint64_t)r2; /* d2*recip>>30 = index */
    unsigned col = o->yuv[plane];
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 >= pw ? pw - 1 : x1, y1 = y1 >= ph ? ph - 1 : y1;
    for (int y = y0; y <= y1; y++) {
        int64_t dy = y * 16 + 8 - cy16, dy2 = dy * dy;
        uint8_t *row = dst->data[plane] + (ptrdiff_t)y * dst->linesize[plane];
        if (dy2 >= r2) continue;
        for (int x = x0; x <= x1; x++) {
            int64_t dx = x * 16 + 8 - cx16, d2 = dx * dx + dy2;
            if (d2 >= r2) continue;
            unsigned a = o->falloff[((uint64_t)d2 * recip) >> 30];
            row[x] = (uint8_t)((row[x] * (256 - a) + col * a + 128) >> 8);
        }
    }
}

static void draw_orbs(const vg_scene *sc, double t, const vg_cam_pose *p, AVFrame *dst)
{
    int w = dst->width, h = dst->height, side = w < h ? w : h;
    double c = cos(p->angle) * p->zoom, s = sin(p->angle) * p->zoom;
    for (int i = 0; i < SCENE_ORBS; i++) {
        const scene_orb *o = &sc->orbs[i];
        double qx = (o->cx + o->ax * sin(o->wx * t + o->px)) * w;
        double qy = (o->cy + o->ay * sin(o->wy * t + o->py)) * h;
        double sx = c * qx - s * qy + p->dx + w / 2.0, sy = s * qx + c * qy + p->dy + h / 2.0;
        double r = o->radius * side * p->zoom;
        for (int plane = 0; plane < 3; plane++) {
            int sub = plane ? 2 : 1;
            draw_orb(o, dst, plane, sub, sx / sub, sy / sub, r / sub);
        }
    }
}

void vg_scene_render(const vg_scene *sc, double t_sec, const vg_cam_pose *pose, AVFrame *dst)
{
    for (int plane = 0; plane < 3; plane++)
        draw_gradient(sc, t_sec, pose, dst, plane, plane ? 2 : 1);
    draw_orbs(sc, t_sec, pose, dst);
}
