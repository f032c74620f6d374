/*
 * camera.c - which move a prompt names, what each move does over time, and the bilinear sampler.
 *
 * The sampler is fixed point: source positions are 16.16, bilinear weights 8 bits, and each row
 * starts from an exactly computed position (only the per-pixel step accumulates, well under a
 * tenth of a pixel across the widest row), so successive frames move smoothly without jitter.
 * Without rotation, rows and columns separate and the row loops are written for vector code
 * (see SAMPLE_CHUNK); the horizontal blend has an AVX2 path chosen at run time whose integer
 * arithmetic is the scalar path's, so the output does not depend on the CPU.
 */
#include "engine/camera.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define ZOOM_TRAVEL 0.15 /* push in / pull out: content scale change */
#define PAN_TRAVEL  0.12 /* pans and tilts: share of the frame the content travels */
#define ORBIT_DEG   4.0  /* orbit: clockwise turn over the clip */

/* The phrases naming each move. English ones match whole words, case-insensitively. */
static const struct {
    vg_camera_move move;
    const char *phrases[10];
} camera_phrases[] = {
    {VG_MOVE_PUSH_IN,
     {"push in", "pushes in", "pushing in", "zoom in", "zooms in", "zooming in", "dolly in", "推进",
      "拉近"}},
    {VG_MOVE_PULL_OUT,
     {"pull out", "pulls out", "pulling out", "pull back", "zoom out", "zooms out", "zooming out",
      "dolly out", "拉远"}},
    {VG_MOVE_PAN_LEFT, {"pan left", "pans left", "panning left", "左移", "左摇"}},
    {VG_MOVE_PAN_RIGHT, {"pan right", "pans right", "panning right", "右移", "右摇"}},
    {VG_MOVE_TILT_UP, {"tilt up", "tilts up", "tilting up", "上摇", "上移"}},
    {VG_MOVE_TILT_DOWN, {"tilt down", "tilts down", "tilting down", "下摇", "下移"}},
    {VG_MOVE_ORBIT,
     {"orbit", "orbits", "orbiting", "rotate", "rotates", "rotating", "rotation", "旋转", "环绕"}},
    {VG_MOVE_STATIC, {"static", "fixed", "固定镜头", "镜头固定", "静止"}},
};

/* What each move does between t = 0 and t = 1 (eased). Every move starts on the cover view
 * itself (zoom 1, no offset, no turn), so a first-frame image is the video's first frame exactly;
 * then the content is scaled to zoom_to, travels by a share of the frame and turns clockwise.
 * A travelling move needs a margin to travel into: its zoom reaches 1 + 2 * travel, and grows
 * ahead of the travel (see travel_zoom) so the window never leaves the cover view. An orbit's zoom
 * is not listed: it is whatever keeps the turned frame inside the cover view. A pull out ends
 * below zoom 1: the border it uncovers mirrors the image (see reflect16). */
static const struct {
    double zoom_to, travel_x, travel_y, turn_deg;
} camera_moves[] = {
    [VG_MOVE_PUSH_IN] = {1 + ZOOM_TRAVEL, 0, 0, 0},
    [VG_MOVE_PULL_OUT] = {1 / (1 + ZOOM_TRAVEL), 0, 0, 0},
    [VG_MOVE_PAN_LEFT] = {1 + 2 * PAN_TRAVEL, PAN_TRAVEL, 0, 0},
    [VG_MOVE_PAN_RIGHT] = {1 + 2 * PAN_TRAVEL, -PAN_TRAVEL, 0, 0},
    [VG_MOVE_TILT_UP] = {1 + 2 * PAN_TRAVEL, 0, PAN_TRAVEL, 0},
    [VG_MOVE_TILT_DOWN] = {1 + 2 * PAN_TRAVEL, 0, -PAN_TRAVEL, 0},
    [VG_MOVE_ORBIT] = {1, 0, 0, ORBIT_DEG},
    [VG_MOVE_STATIC] = {1, 0, 0, 0},
};

static const char *const camera_names[] = {
    [VG_MOVE_PUSH_IN] = "push_in",   [VG_MOVE_PULL_OUT] = "pull_out",
    [VG_MOVE_PAN_LEFT] = "pan_left", [VG_MOVE_PAN_RIGHT] = "pan_right",
    [VG_MOVE_TILT_UP] = "tilt_up",   [VG_MOVE_TILT_DOWN] = "tilt_down",
    [VG_MOVE_ORBIT] = "orbit",       [VG_MOVE_STATIC] = "static",
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
    for (const char *s = prompt; *s; s++) /* earliest mention first */
        for (size_t i = 0; i < sizeof camera_phrases / sizeof camera_phrases[0]; i++)
            for (const char *const *p = camera_phrases[i].phrases; *p; p++)
                if (phrase_at(prompt, s, *p)) return camera_phrases[i].move;
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

/* How far a travelling move's zoom has gone at eased time e: e * (2 - e), which is never less
 * than e. With zoom 1 + 2T * that and an offset of T * e of the frame, the offset stays within the
 * margin the zoom gives, (zoom - 1) / 2 of the frame, at every instant; the zoom settles first
 * (its rate is 0 at the end) and the last stretch is pure travel. */
static double travel_zoom(double e)
{
    return e * (2 - e);
}

void vg_cam_pose_at(vg_camera_move m, double t, int w, int h, vg_cam_pose *pose)
{
    if ((unsigned)m >= sizeof camera_moves / sizeof camera_moves[0]) m = VG_MOVE_STATIC;
    double e = vg_cam_ease(t);
    bool travels = camera_moves[m].travel_x != 0 || camera_moves[m].travel_y != 0;
    pose->zoom = 1 + (camera_moves[m].zoom_to - 1) * (travels ? travel_zoom(e) : e);
    pose->dx = w * camera_moves[m].travel_x * e;
    pose->dy = h * camera_moves[m].travel_y * e;
    pose->angle = camera_moves[m].turn_deg * M_PI / 180 * e;
    if (pose->angle != 0) pose->zoom *= orbit_zoom(pose->angle, w, h);
}

double vg_cam_max_zoom(vg_camera_move m, int w, int h)
{
    vg_cam_pose start, end;
    vg_cam_pose_at(m, 0, w, h, &start);
    vg_cam_pose_at(m, 1, w, h, &end);
    return start.zoom > end.zoom ? start.zoom : end.zoom; /* every move is monotone in zoom */
}

/* Where one source plane is read for one output plane: source sample position of output sample
 * (0, 0), and its change per output column (xx, xy) and per output row (yx, yy). */
typedef struct {
    const uint8_t *src;
    ptrdiff_t stride;
    int32_t max_x, max_y; /* 16.16 clamps keeping the 2x2 neighbourhood inside the plane */
    double ox, oy, xx, xy, yx, yy;
    /* without rotation rows and columns separate: per-column source index and weight, and a
     * scratch row the current source row pair is blended into */
    int separable, col_lo, col_hi;
    bool near; /* in every 8 columns from a multiple of 8, the source columns ascend from the
                  first by at most 14: one 16-sample load covers what they read */
    uint32_t *col;
    uint16_t *vert;
} plane_map;

static int32_t fixed16(double v)
{
    return (int32_t)lrint(v * 65536.0);
}

static int32_t clamp16(int32_t v, int32_t max)
{
    return v < 0 ? 0 : v > max ? max : v;
}

/* A position outside the plane (only a pull out, below zoom 1, reads there) is mirrored back at
 * the edge, so the uncovered border continues the picture instead of smearing its last pixels. */
static int32_t reflect16(int32_t v, int32_t max)
{
    if (v < 0) v = -v;
    if (v > max) v = max - (v - max);
    return clamp16(v, max);
}

/* Positions are worked out in luma pixel units with pixel centres at +0.5, then brought into the
 * plane's sample grid (sub: 1 luma, 2 chroma). */
static void map_plane(plane_map *m, const AVFrame *src, const vg_cam_pose *p, const AVFrame *dst,
                      int plane)
{
    int sub = plane ? 2 : 1;
    double kx = (double)src->width / dst->width, ky = (double)src->height / dst->height;
    double c = cos(p->angle) / p->zoom, s = sin(p->angle) / p->zoom;
    double px = sub * 0.5 - dst->width / 2.0 - p->dx, py = sub * 0.5 - dst->height / 2.0 - p->dy;
    m->src = src->data[plane];
    m->stride = src->linesize[plane];
    m->max_x = (int32_t)(((int64_t)(src->width / sub - 1) << 16) - 1);
    m->max_y = (int32_t)(((int64_t)(src->height / sub - 1) << 16) - 1);
    m->ox = ((c * px + s * py) * kx + src->width / 2.0) / sub - 0.5;
    m->oy = ((-s * px + c * py) * ky + src->height / 2.0) / sub - 0.5;
    m->xx = c * kx, m->xy = -s * ky, m->yx = s * kx, m->yy = c * ky;
    m->separable = p->angle == 0;
}

/* Per output column: the source column (relative to col_lo) << 8 | its 8-bit weight. */
static void map_columns(plane_map *m, int n)
{
    m->col_lo = INT32_MAX, m->col_hi = 0;
    for (int x = 0; x < n; x++) {
        int32_t v = reflect16(fixed16(m->ox + m->xx * x), m->max_x);
        m->col[x] = (uint32_t)v >> 8; /* column << 8 | weight */
        if ((v >> 16) < m->col_lo) m->col_lo = v >> 16;
        if ((v >> 16) + 1 > m->col_hi) m->col_hi = (v >> 16) + 1;
    }
    m->near = true;
    for (int x = 0; x < n; x++) {
        m->col[x] -= (uint32_t)m->col_lo << 8;
        int32_t rel = (int32_t)(m->col[x] >> 8) - (int32_t)(m->col[x & ~7] >> 8);
        if (rel < 0 || rel > 14) m->near = false;
    }
}

/* The loops below over a row are written in steps of SAMPLE_CHUNK samples with a fixed inner
 * count and no aliasing, the shape the compiler turns into vector code at -O2 (where it only
 * vectorises a loop it can replace whole); a scalar tail finishes the row. */
#define SAMPLE_CHUNK 16

/* n 8.8 fixed-point samples of rows r0 and r1 blended by ay/256. */
static void blend_rows(const uint8_t *restrict r0, const uint8_t *restrict r1, unsigned ay,
                       uint16_t *restrict out, int n)
{
    uint16_t w0 = (uint16_t)(256 - ay), w1 = (uint16_t)ay;
    int i = 0;
    for (; i + SAMPLE_CHUNK <= n; i += SAMPLE_CHUNK)
        for (int k = 0; k < SAMPLE_CHUNK; k++)
            out[i + k] = (uint16_t)(r0[i + k] * w0 + r1[i + k] * w1);
    for (; i < n; i++)
        out[i] = (uint16_t)(r0[i] * w0 + r1[i] * w1);
}

/* out = out * (256 - mix) / 256 + row * mix / 256, rounded. */
static void mix_rows(uint8_t *restrict out, const uint8_t *restrict row, unsigned mix, int n)
{
    uint16_t w0 = (uint16_t)(256 - mix), w1 = (uint16_t)mix;
    int i = 0;
    for (; i + SAMPLE_CHUNK <= n; i += SAMPLE_CHUNK)
        for (int k = 0; k < SAMPLE_CHUNK; k++)
            out[i + k] = (uint8_t)((uint16_t)(out[i + k] * w0 + row[i + k] * w1 + 128) >> 8);
    for (; i < n; i++)
        out[i] = (uint8_t)((out[i] * w0 + row[i] * w1 + 128) >> 8);
}

/* The horizontal blend of a separable row: out[x] from the blended samples at col[x] >> 8 and
 * the next one, weighted by col[x] & 255; v0 + (v1 - v0) * a saves a multiply. A gather, which
 * plain vector code cannot do: scalar here, AVX2 below where the CPU has it, with the very same
 * integer arithmetic, so a render is byte-identical on either path. */
static void blend_columns(const uint16_t *restrict vert, const uint32_t *restrict col,
                          uint8_t *restrict out, int x, int n)
{
    for (; x < n; x++) {
        const uint16_t *v = vert + (col[x] >> 8);
        int32_t a = (int32_t)(col[x] & 255);
        out[x] = (uint8_t)((((int32_t)v[0] << 8) + (v[1] - v[0]) * a + 32768) >> 16);
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CAM_AVX2 1
#define AVX2     __attribute__((target("avx2")))

/* 8 samples from their neighbour pairs g (v0 in the low half, v1 in the high) and columns c. */
AVX2 static __m256i blend8_pairs(__m256i g, __m256i c)
{
    __m256i v0 = _mm256_and_si256(g, _mm256_set1_epi32(0xffff)), v1 = _mm256_srli_epi32(g, 16);
    __m256i a = _mm256_and_si256(c, _mm256_set1_epi32(255));
    __m256i d = _mm256_mullo_epi32(_mm256_sub_epi32(v1, v0), a);
    __m256i sum = _mm256_add_epi32(_mm256_slli_epi32(v0, 8), d);
    return _mm256_srai_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(32768)), 16);
}

/* 8 samples: one 32-bit gather per sample reads both neighbours. */
AVX2 static __m256i blend8_gather(const uint16_t *vert, const uint32_t *col)
{
    __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)col);
    __m256i g = _mm256_i32gather_epi32((const int *)(const void *)vert, _mm256_srli_epi32(c, 8), 2);
    return blend8_pairs(g, c);
}

/* The same without a gather, when the 8 source columns lie within 16 of the first
 * (plane_map.near): the pairs starting at even and at odd offsets from it, two loads, each
 * permuted into place, the right one taken per sample. Reads 17 samples from the first. */
AVX2 static __m256i blend8_near(const uint16_t *vert, const uint32_t *col)
{
    __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)col);
    uint32_t first = col[0] >> 8;
    __m256i rel = _mm256_sub_epi32(_mm256_srli_epi32(c, 8), _mm256_set1_epi32((int)first));
    __m256i idx = _mm256_srli_epi32(rel, 1);
    __m256i even = _mm256_loadu_si256((const __m256i *)(const void *)(vert + first));
    __m256i odd = _mm256_loadu_si256((const __m256i *)(const void *)(vert + first + 1));
    __m256 pe = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(even, idx));
    __m256 po = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(odd, idx));
    __m256 pick = _mm256_castsi256_ps(_mm256_slli_epi32(rel, 31)); /* sign bit: odd offset */
    return blend8_pairs(_mm256_castps_si256(_mm256_blendv_ps(pe, po, pick)), c);
}

AVX2 static void blend_columns_avx2(const uint16_t *vert, const uint32_t *col, uint8_t *out, int n,
                                    bool near)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m256i lo = near ? blend8_near(vert, col + x) : blend8_gather(vert, col + x);
        __m256i hi = near ? blend8_near(vert, col + x + 8) : blend8_gather(vert, col + x + 8);
        __m256i w = _mm256_packus_epi32(lo, hi);
        w = _mm256_permute4x64_epi64(w, 0xd8); /* packs work per 128-bit lane: restore order */
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storeu_si128((__m128i *)(void *)(out + x), b);
    }
    blend_columns(vert, col, out, x, n);
}

static bool have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

/* Separable row: blend the two source rows once over the columns in use, then horizontally. */
static void row_separable(const plane_map *m, int y, uint8_t *restrict out, int n)
{
    int32_t fy = reflect16(fixed16(m->oy + m->yy * y), m->max_y);
    const uint8_t *r0 = m->src + (fy >> 16) * m->stride;
    blend_rows(r0 + m->col_lo, r0 + m->stride + m->col_lo, (fy >> 8) & 255, m->vert,
               m->col_hi - m->col_lo + 1);
#ifdef CAM_AVX2
    if (have_avx2()) {
        blend_columns_avx2(m->vert, m->col, out, n, m->near);
        return;
    }
#endif
    blend_columns(m->vert, m->col, out, 0, n);
}

static inline uint8_t bilinear(const uint8_t *src, ptrdiff_t ss, int32_t fx, int32_t fy)
{
    const uint8_t *p = src + (fy >> 16) * ss + (fx >> 16);
    unsigned ax = (fx >> 8) & 255, ay = (fy >> 8) & 255;
    unsigned top = p[0] * (256 - ax) + p[1] * ax;
    unsigned bot = p[ss] * (256 - ax) + p[ss + 1] * ax;
    return (uint8_t)((top * (256 - ay) + bot * ay + 32768) >> 16);
}

/* Rotated row: full bilinear per sample, stepping the 16.16 position along the row. */
static void row_general(const plane_map *m, int y, uint8_t *out, int n)
{
    int32_t fx = fixed16(m->ox + m->yx * y), fy = fixed16(m->oy + m->yy * y);
    int32_t sxx = fixed16(m->xx), sxy = fixed16(m->xy);
    for (int i = 0; i < n; i++, fx += sxx, fy += sxy)
        out[i] = bilinear(m->src, m->stride, reflect16(fx, m->max_x), reflect16(fy, m->max_y));
}

static void sample_row(const plane_map *m, int y, uint8_t *out, int n)
{
    if (m->separable)
        row_separable(m, y, out, n);
    else
        row_general(m, y, out, n);
}

/* How much of the detail level a frame at this zoom reads, 0..256. */
static unsigned detail_mix(const AVFrame *detail, const vg_cam_pose *p, const AVFrame *dst)
{
    if (!detail) return 0;
    double scale = (double)detail->width / dst->width;
    if (scale < 1.001 || p->zoom <= 1) return 0;
    if (p->zoom >= scale - 0.01) return 256; /* the level is rounded up to even sizes */
    return (unsigned)lrint(256 * (p->zoom - 1) / (scale - 1));
}

/* Column tables and scratch rows for both levels, carved from one allocation (freed by caller). */
static void *alloc_maps(plane_map m[2], int dw, int sw)
{
    size_t cols = (size_t)dw + 1, verts = (size_t)sw + 2 + 16; /* + what blend8_near reads */
    size_t per = (cols * 4 + verts * 2 + 63) & ~(size_t)63;    /* keeps each table cache-aligned */
    unsigned char *mem = vg_calloc(2, per);
    for (int k = 0; k < 2; k++) {
        unsigned char *p = mem + k * per;
        m[k].col = (uint32_t *)(void *)p;
        m[k].vert = (uint16_t *)(void *)(p + cols * 4);
    }
    return mem;
}

static void sample_plane(const AVFrame *lvl[2], unsigned mix, const vg_cam_pose *p, AVFrame *dst,
                         int plane, plane_map m[2], uint8_t *row)
{
    int n = plane ? dst->width / 2 : dst->width, h = plane ? dst->height / 2 : dst->height;
    int use[2];
    use[0] = mix < 256; /* the base level */
    use[1] = mix > 0;   /* the detail level */
    for (int k = 0; k < 2; k++) {
        if (!use[k]) continue;
        map_plane(&m[k], lvl[k], p, dst, plane);
        if (m[k].separable) map_columns(&m[k], n);
    }
    for (int y = 0; y < h; y++) {
        uint8_t *out = dst->data[plane] + (ptrdiff_t)y * dst->linesize[plane];
        if (!use[1] || !use[0]) {
            sample_row(&m[use[1]], y, out, n);
            continue;
        }
        sample_row(&m[0], y, out, n);
        sample_row(&m[1], y, row, n);
        mix_rows(out, row, mix, n);
    }
}

void vg_cam_sample(const AVFrame *base, const AVFrame *detail, const vg_cam_pose *pose,
                   AVFrame *dst)
{
    if (pose->zoom == 1 && pose->angle == 0 && pose->dx == 0 && pose->dy == 0) {
        av_frame_copy(dst, base); /* the cover view itself: nothing to resample */
        return;
    }
    unsigned mix = detail_mix(detail, pose, dst);
    const AVFrame *lvl[2] = {base, detail ? detail : base};
    plane_map m[2] = {{0}};
    int sw = lvl[1]->width > base->width ? lvl[1]->width : base->width;
    void *mem = alloc_maps(m, dst->width, sw);
    uint8_t *row = vg_malloc((size_t)dst->width);
    for (int plane = 0; plane < 3; plane++)
        sample_plane(lvl, mix, pose, dst, plane, m, row);
    free(row);
    free(mem);
}
