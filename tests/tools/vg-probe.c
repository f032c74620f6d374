/*
 * vg-probe - inspects media through libavformat for the black-box tests (which are Python and
 * cannot link FFmpeg). Every command prints one JSON line on stdout, or a message on stderr and
 * exits non-zero.
 *
 *   vg-probe info FILE               container, codec, size, pixel format, decoded frame count,
 *                                    packets, fps and duration (images: the first four and frames)
 *   vg-probe motion FILE             the similarity transform (dx, dy in pixels, scale, angle in
 *                                    degrees) best mapping the first decoded frame onto the last
 *   vg-probe frame FILE INDEX OUT    writes decoded frame INDEX (-1: the last) as binary PGM
 *   vg-probe compare IMAGE FILE [INDEX]
 *                                    PSNR (dB; luma, and RGB) between IMAGE cover-scaled to the
 *                                    size of FILE and its decoded frame INDEX (default 0, -1: the
 *                                    last); FILE may be a video or an image
 *
 * Motion convention (screen, y down): content moving right gives dx > 0, moving down dy > 0,
 * growing scale > 1, turning clockwise angle > 0. The estimator is generic and independent of the
 * engine: an exhaustive search on a small grey pyramid level, then local refinement level by
 * level, minimising the mean squared difference over the overlap.
 *
 * Test tool, not part of the server: it deliberately shares no code with src/engine so it checks
 * the engine rather than agreeing with it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MOTION_BASE_W      256 /* finest pyramid level width */
#define MOTION_COARSE_W    40 /* the exhaustive search runs on the first level narrower than this */
#define MOTION_MIN_OVERLAP 0.3

typedef struct {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    int stream;
    int64_t packets;
    int flushed;
} input;

typedef struct {
    int w, h;
    float *px;
} grey;

typedef struct {
    double s, a, dx, dy; /* scale, angle (rad, clockwise), offset (level pixels) */
} motion;

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vg-probe: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void input_close(input *in)
{
    avcodec_free_context(&in->dec);
    avformat_close_input(&in->fmt);
    av_packet_free(&in->pkt);
}

static int input_open(input *in, const char *path)
{
    memset(in, 0, sizeof *in);
    int ret = avformat_open_input(&in->fmt, path, NULL, NULL);
    if (ret >= 0) ret = avformat_find_stream_info(in->fmt, NULL);
    if (ret >= 0) ret = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (ret < 0) return fail("%s: %s", path, av_err2str(ret));
    in->stream = ret;
    const AVCodecParameters *par = in->fmt->streams[in->stream]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    in->dec = codec ? avcodec_alloc_context3(codec) : NULL;
    in->pkt = av_packet_alloc();
    if (!in->dec || !in->pkt || avcodec_parameters_to_context(in->dec, par) < 0)
        return fail("%s: no decoder for %s", path, avcodec_get_name(par->codec_id));
    ret = avcodec_open2(in->dec, codec, NULL);
    if (ret < 0) return fail("%s: %s", path, av_err2str(ret));
    return 0;
}

/* The next decoded frame: 1, 0 at the end, -1 on error. */
static int input_next(input *in, AVFrame *f)
{
    for (;;) {
        int ret = avcodec_receive_frame(in->dec, f);
        if (ret >= 0) return 1;
        if (ret == AVERROR_EOF) return 0;
        if (ret != AVERROR(EAGAIN)) return -fail("decode: %s", av_err2str(ret));
        if (in->flushed) return 0;
        ret = av_read_frame(in->fmt, in->pkt);
        if (ret == AVERROR_EOF) {
            in->flushed = 1;
            avcodec_send_packet(in->dec, NULL);
            continue;
        }
        if (ret < 0) return -fail("read: %s", av_err2str(ret));
        if (in->pkt->stream_index == in->stream) {
            in->packets++;
            ret = avcodec_send_packet(in->dec, in->pkt);
        }
        av_packet_unref(in->pkt);
        if (ret < 0) return -fail("decode: %s", av_err2str(ret));
    }
}

/* Frame index (-1: the last) of path into *out; the caller frees it. */
static int decode_frame(const char *path, int index, AVFrame **out, int64_t *count)
{
    input in;
    AVFrame *f = av_frame_alloc(), *keep = av_frame_alloc();
    int rc = input_open(&in, path), n = 0, got = 0;
    while (!rc && (got = input_next(&in, f)) == 1) {
        if (index < 0 || n == index) {
            av_frame_unref(keep);
            av_frame_move_ref(keep, f);
        }
        av_frame_unref(f);
        if (n++ == index) break;
    }
    if (!rc && got < 0) rc = 1;
    if (!rc && !keep->data[0]) rc = fail("%s: no frame %d (%d decoded)", path, index, n);
    if (count) *count = n;
    av_frame_free(&f);
    if (rc) av_frame_free(&keep);
    *out = keep;
    input_close(&in);
    return rc;
}

static int is_full_range(const AVFrame *f)
{
    const char *name = av_get_pix_fmt_name(f->format);
    return f->color_range == AVCOL_RANGE_JPEG || (name && !strncmp(name, "yuvj", 4));
}

/* src (any format) converted and scaled to w x h in fmt, with src's matrix and range honoured. */
static AVFrame *convert(const AVFrame *src, enum AVPixelFormat fmt, int w, int h)
{
    AVFrame *dst = av_frame_alloc();
    dst->format = fmt;
    dst->width = w;
    dst->height = h;
    if (av_frame_get_buffer(dst, 0) < 0) abort();
    struct SwsContext *sws =
        sws_getContext(src->width, src->height, src->format, w, h, fmt,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws) abort();
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    int src_full = (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) || is_full_range(src);
    sws_setColorspaceDetails(sws, sws_getCoefficients(src->colorspace), src_full,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
              dst->linesize);
    sws_freeContext(sws);
    return dst;
}

static int is_image_format(const char *name)
{
    return strstr(name, "_pipe") || !strcmp(name, "image2");
}

static int cmd_info(const char *path)
{
    input in;
    if (input_open(&in, path)) return 1;
    AVFrame *f = av_frame_alloc();
    int64_t frames = 0;
    int got, w = 0, h = 0, pix = AV_PIX_FMT_NONE;
    while ((got = input_next(&in, f)) == 1) {
        if (!frames++) w = f->width, h = f->height, pix = f->format;
        av_frame_unref(f);
    }
    av_frame_free(&f);
    const AVStream *st = in.fmt->streams[in.stream];
    const char *pixname = av_get_pix_fmt_name(pix);
    printf("{\"format\":\"%s\",\"codec\":\"%s\",\"width\":%d,\"height\":%d,\"pix_fmt\":\"%s\","
           "\"frames\":%lld",
           in.fmt->iformat->name, avcodec_get_name(st->codecpar->codec_id), w, h,
           pixname ? pixname : "none", (long long)frames);
    if (!is_image_format(in.fmt->iformat->name)) {
        AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        double dur = in.fmt->duration != AV_NOPTS_VALUE ? in.fmt->duration / (double)AV_TIME_BASE
                                                        : st->duration * av_q2d(st->time_base);
        printf(",\"packets\":%lld,\"fps\":%.4f,\"duration\":%.6f", (long long)in.packets,
               av_q2d(fr), dur);
    }
    printf("}\n");
    input_close(&in);
    return got < 0;
}

static int cmd_frame(const char *path, const char *index, const char *out)
{
    AVFrame *f;
    if (decode_frame(path, atoi(index), &f, NULL)) return 1;
    AVFrame *g = convert(f, AV_PIX_FMT_GRAY8, f->width, f->height);
    FILE *fp = fopen(out, "wb");
    int ok = fp && fprintf(fp, "P5\n%d %d\n255\n", g->width, g->height) > 0;
    for (int y = 0; ok && y < g->height; y++)
        ok = fwrite(g->data[0] + (ptrdiff_t)y * g->linesize[0], 1, (size_t)g->width, fp) ==
             (size_t)g->width;
    if (fp && fclose(fp)) ok = 0;
    if (ok) printf("{\"width\":%d,\"height\":%d}\n", g->width, g->height);
    av_frame_free(&f);
    av_frame_free(&g);
    return ok ? 0 : fail("cannot write %s", out);
}

/* The first picture of an image file, cover-scaled (centre crop) to w x h, as RGB24. */
static AVFrame *cover_image(const AVFrame *img, int w, int h)
{
    AVFrame *rgb = convert(img, AV_PIX_FMT_RGB24, img->width, img->height);
    int64_t iw = img->width, ih = img->height, cw = iw, ch = ih;
    if (iw * h > ih * w)
        cw = (ih * w + h / 2) / h;
    else
        ch = (iw * h + w / 2) / w;
    rgb->data[0] += ((ih - ch) / 2) * rgb->linesize[0] + ((iw - cw) / 2) * 3;
    rgb->width = (int)cw;
    rgb->height = (int)ch;
    AVFrame *out = convert(rgb, AV_PIX_FMT_RGB24, w, h);
    av_frame_free(&rgb); /* the buffer reference still frees the original allocation */
    return out;
}

/* PSNR (dB) over the first bytes_per_px * width samples of each row of two same-size frames. */
static double psnr(const AVFrame *a, const AVFrame *b, int bytes_per_px)
{
    double sse = 0;
    for (int y = 0; y < a->height; y++) {
        const uint8_t *pa = a->data[0] + (ptrdiff_t)y * a->linesize[0];
        const uint8_t *pb = b->data[0] + (ptrdiff_t)y * b->linesize[0];
        for (int x = 0; x < a->width * bytes_per_px; x++)
            sse += (double)(pa[x] - pb[x]) * (pa[x] - pb[x]);
    }
    double mse = sse / ((double)a->width * a->height * bytes_per_px);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0;
}

/* "psnr" is on luma, the usual video measure: a yuv420p video cannot keep full-resolution colour,
 * so an RGB comparison mostly measures chroma subsampling; "psnr_rgb" is reported too. */
static int cmd_compare(const char *image, const char *video, const char *index)
{
    AVFrame *img, *frame;
    if (decode_frame(image, 0, &img, NULL)) return 1;
    if (decode_frame(video, index ? atoi(index) : 0, &frame, NULL)) {
        av_frame_free(&img);
        return 1;
    }
    AVFrame *a = cover_image(img, frame->width, frame->height);
    AVFrame *b = convert(frame, AV_PIX_FMT_RGB24, frame->width, frame->height);
    AVFrame *ay = convert(a, AV_PIX_FMT_GRAY8, a->width, a->height);
    AVFrame *by = convert(b, AV_PIX_FMT_GRAY8, b->width, b->height);
    printf("{\"psnr\":%.3f,\"psnr_rgb\":%.3f}\n", psnr(ay, by, 1), psnr(a, b, 3));
    AVFrame *all[] = {img, frame, a, b, ay, by};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        av_frame_free(&all[i]);
    return 0;
}

static grey grey_from_frame(const AVFrame *f, int w, int h)
{
    AVFrame *g = convert(f, AV_PIX_FMT_GRAY8, w, h);
    grey out = {w, h, malloc(sizeof(float) * (size_t)w * h)};
    if (!out.px) abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            out.px[y * w + x] = g->data[0][(ptrdiff_t)y * g->linesize[0] + x];
    av_frame_free(&g);
    return out;
}

static grey grey_half(const grey *g)
{
    grey out = {g->w / 2, g->h / 2, malloc(sizeof(float) * (size_t)(g->w / 2) * (g->h / 2))};
    if (!out.px) abort();
    for (int y = 0; y < out.h; y++)
        for (int x = 0; x < out.w; x++) {
            const float *p = g->px + (2 * y) * g->w + 2 * x;
            out.px[y * out.w + x] = (p[0] + p[1] + p[g->w] + p[g->w + 1]) / 4;
        }
    return out;
}

/* Mean squared difference between dst and src mapped through m, over the overlap. */
static double motion_cost(const grey *src, const grey *dst, const motion *m)
{
    double cx = dst->w / 2.0, cy = dst->h / 2.0, c = cos(m->a) / m->s, s = sin(m->a) / m->s;
    double sum = 0;
    long n = 0;
    for (int y = 0; y < dst->h; y++) {
        for (int x = 0; x < dst->w; x++) {
            double px = x + 0.5 - cx - m->dx, py = y + 0.5 - cy - m->dy;
            double sx = c * px + s * py + cx - 0.5, sy = -s * px + c * py + cy - 0.5;
            if (sx < 0 || sy < 0 || sx >= src->w - 1 || sy >= src->h - 1) continue;
            int ix = (int)sx, iy = (int)sy;
            double fx = sx - ix, fy = sy - iy;
            const float *p = src->px + iy * src->w + ix;
            double v = (p[0] * (1 - fx) + p[1] * fx) * (1 - fy) +
                       (p[src->w] * (1 - fx) + p[src->w + 1] * fx) * fy;
            double d = v - dst->px[y * dst->w + x];
            sum += d * d;
            n++;
        }
    }
    return n < MOTION_MIN_OVERLAP * dst->w * dst->h ? INFINITY : sum / n;
}

static double coarse_search(const grey *src, const grey *dst, motion *best)
{
    double best_cost = INFINITY;
    int rx = (int)(dst->w * 0.3), ry = (int)(dst->h * 0.3);
    for (double s = 0.75; s <= 1.3001; s += 0.025)
        for (double a = -10; a <= 10.001; a += 1)
            for (int dy = -ry; dy <= ry; dy++)
                for (int dx = -rx; dx <= rx; dx++) {
                    motion m = {s, a * M_PI / 180, dx, dy};
                    double cost = motion_cost(src, dst, &m);
                    if (cost < best_cost) best_cost = cost, *best = m;
                }
    return best_cost;
}

/* Pattern search: moves to the best of the 81 neighbours until none improves. */
static double refine(const grey *src, const grey *dst, motion *m, const double step[4])
{
    double best = motion_cost(src, dst, m);
    for (int iter = 0; iter < 50; iter++) {
        motion next = *m;
        for (int k = 0; k < 81; k++) {
            int d[4] = {k % 3 - 1, k / 3 % 3 - 1, k / 9 % 3 - 1, k / 27 - 1};
            motion t = {m->s + d[0] * step[0], m->a + d[1] * step[1], m->dx + d[2] * step[2],
                        m->dy + d[3] * step[3]};
            double cost = motion_cost(src, dst, &t);
            if (cost < best) best = cost, next = t;
        }
        if (!memcmp(&next, m, sizeof next)) break;
        *m = next;
    }
    return best;
}

static int cmd_motion(const char *path)
{
    AVFrame *first, *last;
    int64_t frames = 0;
    if (decode_frame(path, 0, &first, NULL)) return 1;
    if (decode_frame(path, -1, &last, &frames)) {
        av_frame_free(&first);
        return 1;
    }
    int bw = first->width < MOTION_BASE_W ? first->width : MOTION_BASE_W;
    int bh = (int)lrint((double)first->height * bw / first->width);
    grey a[8], b[8];
    int levels = 1;
    a[0] = grey_from_frame(first, bw, bh);
    b[0] = grey_from_frame(last, bw, bh);
    while (levels < 8 && a[levels - 1].w >= MOTION_COARSE_W && a[levels - 1].h >= 16) {
        a[levels] = grey_half(&a[levels - 1]);
        b[levels] = grey_half(&b[levels - 1]);
        levels++;
    }
    motion m;
    double cost = coarse_search(&a[levels - 1], &b[levels - 1], &m);
    double step[4] = {0.0125, 0.5 * M_PI / 180, 0.5, 0.5};
    for (int l = levels - 1; l >= 0; l--) {
        if (l != levels - 1) m.dx *= 2, m.dy *= 2;
        cost = refine(&a[l], &b[l], &m, step);
        for (int k = 0; k < 4; k++)
            step[k] /= 2;
        cost = refine(&a[l], &b[l], &m, step);
    }
    double k = (double)first->width / bw;
    printf("{\"dx\":%.2f,\"dy\":%.2f,\"scale\":%.4f,\"angle\":%.3f,\"rms\":%.2f,\"frames\":%lld}\n",
           m.dx * k, m.dy * k, m.s, m.a * 180 / M_PI, sqrt(cost), (long long)frames);
    for (int l = 0; l < levels; l++)
        free(a[l].px), free(b[l].px);
    av_frame_free(&first);
    av_frame_free(&last);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: vg-probe info FILE\n"
                    "       vg-probe motion FILE\n"
                    "       vg-probe frame FILE INDEX OUT.pgm\n"
                    "       vg-probe compare IMAGE FILE [INDEX]\n");
    return 2;
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    if (argc == 3 && !strcmp(argv[1], "info")) return cmd_info(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "motion")) return cmd_motion(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "frame")) return cmd_frame(argv[2], argv[3], argv[4]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "compare"))
        return cmd_compare(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    return usage();
}
