/*
 * image.c - decoding still images from memory and converting between the engine's picture formats.
 *
 * Decoding: a read-only AVIOContext over the caller's bytes feeds libavformat, which detects the
 * container from the bytes alone; only the still-image demuxers below may answer, and only the
 * matching decoders are opened, so a video or anything exotic is refused before a decoder sees it.
 * max_pixels bounds what a decoder may allocate before we get to check the sides. A failure that is
 * the system's rather than the image's (out of memory, out of descriptors) is VG_ERR, not
 * VG_INVALID: the user's image is not at fault.
 *
 * Orientation: an EXIF orientation tag is honoured (sizes are reported as displayed, and the
 * cover view is cut from the stored picture then turned), since FFmpeg 5.1 only reports it.
 *
 * Colour: conversions go through swscale with the matrix and range taken from each frame's
 * fields, so a BT.601 full-range JPEG and an sRGB PNG both land correctly in BT.709 limited range.
 */
#include "engine/image.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "common/limits.h"
#include "common/status.h"
#include "engine/diag.h"
#include "engine/engine.h"

#define IMAGE_IO_BUF_BYTES   16384
#define IMAGE_ALIGN_SLACK_PX 128 /* see reader_open */
#define IMAGE_DEMUXERS       "jpeg_pipe,png_pipe,webp_pipe,bmp_pipe,gif,gif_pipe,tiff_pipe"
#define IMAGE_KINDS          "jpeg, png, webp, bmp, gif or tiff"
/* bicubic, accurately rounded, with chroma read and written at full resolution */
#define IMAGE_SWS_FLAGS (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP)

typedef struct {
    const unsigned char *data;
    size_t len, pos;
} mem_reader;

typedef struct {
    mem_reader mem;
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
} img_reader;

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    mem_reader *m = opaque;
    size_t left = m->len - m->pos;
    if (!left) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    mem_reader *m = opaque;
    int64_t base;
    if (whence & AVSEEK_SIZE) return (int64_t)m->len;
    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case SEEK_END:
        base = (int64_t)m->len;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (offset < -base || offset > (int64_t)m->len - base) return AVERROR(EINVAL); /* no overflow */
    m->pos = (size_t)(base + offset);
    return (int64_t)m->pos;
}

static int codec_allowed(enum AVCodecID id)
{
    static const enum AVCodecID ok[] = {AV_CODEC_ID_MJPEG, AV_CODEC_ID_PNG, AV_CODEC_ID_WEBP,
                                        AV_CODEC_ID_BMP,   AV_CODEC_ID_GIF, AV_CODEC_ID_TIFF};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == id) return 1;
    return 0;
}

/* Whether an FFmpeg error is the system's (resources, I/O), not something in the image. */
static int system_error(int averr)
{
    static const int errs[] = {ENOMEM, EMFILE, ENFILE, EIO, ENOSPC, EAGAIN};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (averr == AVERROR(errs[i])) return 1;
    return 0;
}

static void reader_close(img_reader *r)
{
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt); /* custom I/O: the AVIOContext is ours to free */
    if (r->io) av_freep(&r->io->buffer);
    avio_context_free(&r->io);
}

static int reader_open_container(img_reader *r, char *err, size_t errlen)
{
    unsigned char *buf = av_malloc(IMAGE_IO_BUF_BYTES);
    if (buf)
        r->io = avio_alloc_context(buf, IMAGE_IO_BUF_BYTES, 0, &r->mem, mem_read, NULL, mem_seek);
    if (!r->io) av_free(buf);
    if (r->io) r->fmt = avformat_alloc_context();
    if (!r->fmt) {
        vg_diag_set(err, errlen, "out of memory opening image");
        return VG_ERR;
    }
    r->fmt->pb = r->io;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "format_whitelist", IMAGE_DEMUXERS, 0);
    int ret = avformat_open_input(&r->fmt, "", NULL, &opts); /* frees r->fmt on failure */
    av_dict_free(&opts);
    if (ret < 0 || r->fmt->nb_streams < 1 ||
        !codec_allowed(r->fmt->streams[0]->codecpar->codec_id)) {
        vg_diag_set(err, errlen, "not a supported image (expected " IMAGE_KINDS ")");
        return VG_INVALID;
    }
    return VG_OK;
}

static int reader_open(img_reader *r, const unsigned char *data, size_t len, char *err,
                       size_t errlen)
{
    r->mem = (mem_reader){data, len, 0};
    int rc = reader_open_container(r, err, errlen);
    if (rc != VG_OK) return rc;
    const AVCodecParameters *par = r->fmt->streams[0]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    r->dec = codec ? avcodec_alloc_context3(codec) : NULL;
    r->pkt = av_packet_alloc();
    if (!r->dec || !r->pkt || avcodec_parameters_to_context(r->dec, par) < 0) {
        vg_diag_set(err, errlen, "cannot set up the %s decoder", avcodec_get_name(par->codec_id));
        return VG_ERR;
    }
    r->dec->thread_count = 1;
    /* FFmpeg checks the cap against the width rounded up to its stride alignment (up to 64),
     * so the exact square would refuse the largest image we accept; the sides are checked
     * exactly once decoded (check_sides). */
    int64_t side = VG_IMAGE_MAX_SIDE_PX + IMAGE_ALIGN_SLACK_PX;
    r->dec->max_pixels = side * side;
    vg_diag_reset();
    int ret = avcodec_open2(r->dec, codec, NULL);
    if (ret < 0) { /* its parameters came from the bytes: the image is at fault */
        vg_diag_av(err, errlen, ret, "cannot decode image");
        return system_error(ret) ? VG_ERR : VG_INVALID;
    }
    return VG_OK;
}

/* Feeds packets until the decoder yields its first picture (image demuxers may split a file). */
static int reader_first_frame(img_reader *r, AVFrame *frame)
{
    int ret;
    while ((ret = av_read_frame(r->fmt, r->pkt)) >= 0) {
        if (r->pkt->stream_index == 0) ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) return ret;
        ret = avcodec_receive_frame(r->dec, frame);
        if (ret != AVERROR(EAGAIN)) return ret;
    }
    if (ret != AVERROR_EOF) return ret;
    avcodec_send_packet(r->dec, NULL);
    return avcodec_receive_frame(r->dec, frame);
}

/* EXIF orientation (1..8) of a decoded picture: FFmpeg 5.1 reports the tag from JPEG and TIFF
 * files in the frame's metadata but does not apply it, and phone photos depend on it. */
static int exif_orientation(const AVFrame *f)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, "Orientation", NULL, 0);
    long o = e ? strtol(e->value, NULL, 10) : 1;
    return o >= 1 && o <= 8 ? (int)o : 1;
}

/* Orientations 5..8 turn the picture a quarter: its displayed width is its stored height. */
static int swaps_sides(int orientation)
{
    return orientation >= 5;
}

static int check_sides(const AVFrame *f, char *err, size_t errlen)
{
    if (f->width >= VG_IMAGE_MIN_SIDE_PX && f->height >= VG_IMAGE_MIN_SIDE_PX &&
        f->width <= VG_IMAGE_MAX_SIDE_PX && f->height <= VG_IMAGE_MAX_SIDE_PX)
        return VG_OK;
    vg_diag_set(err, errlen, "image is %dx%d pixels; each side must be %d..%d", f->width, f->height,
                VG_IMAGE_MIN_SIDE_PX, VG_IMAGE_MAX_SIDE_PX);
    return VG_INVALID;
}

int vg_image_decode(const unsigned char *data, size_t len, AVFrame **out, char *err, size_t errlen)
{
    img_reader r = {0};
    AVFrame *frame = NULL;
    int rc = VG_INVALID;
    *out = NULL;
    vg_diag_init();
    if (!data || !len) {
        vg_diag_set(err, errlen, "image is empty");
        goto out;
    }
    if (len > VG_RENDER_MAX_IMAGE_BYTES) {
        vg_diag_set(err, errlen, "image is larger than %u bytes", VG_RENDER_MAX_IMAGE_BYTES);
        goto out;
    }
    rc = reader_open(&r, data, len, err, errlen);
    if (rc != VG_OK) goto out;
    frame = av_frame_alloc();
    if (!frame) {
        rc = VG_ERR;
        goto out;
    }
    vg_diag_reset();
    int ret = reader_first_frame(&r, frame);
    if (ret < 0) {
        rc = system_error(ret) ? VG_ERR : VG_INVALID;
        vg_diag_av(err, errlen, ret,
                   ret == AVERROR_EOF ? "image holds no picture" : "cannot decode image");
        goto out;
    }
    rc = check_sides(frame, err, errlen);
    if (rc == VG_OK) {
        *out = frame;
        frame = NULL;
    }
out:
    av_frame_free(&frame);
    reader_close(&r);
    return rc;
}

int vg_image_probe(const unsigned char *data, size_t len, int *w, int *h, char *err, size_t errlen)
{
    AVFrame *frame = NULL;
    if (err && errlen) err[0] = '\0';
    if (vg_image_decode(data, len, &frame, err, errlen) != VG_OK) return -1;
    int swap = swaps_sides(exif_orientation(frame));
    if (w) *w = swap ? frame->height : frame->width;
    if (h) *h = swap ? frame->width : frame->height;
    av_frame_free(&frame);
    return 0;
}

AVFrame *vg_image_alloc(int w, int h, enum AVPixelFormat fmt)
{
    AVFrame *f = av_frame_alloc();
    if (!f) return NULL;
    f->width = w;
    f->height = h;
    f->format = fmt;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    if (d->flags & AV_PIX_FMT_FLAG_RGB) {
        f->colorspace = AVCOL_SPC_RGB;
        f->color_range = AVCOL_RANGE_JPEG;
    } else if (fmt == AV_PIX_FMT_YUVJ420P) { /* JPEG: BT.601 full range by definition */
        f->colorspace = AVCOL_SPC_BT470BG;
        f->color_range = AVCOL_RANGE_JPEG;
    } else {
        f->colorspace = AVCOL_SPC_BT709;
        f->color_range = AVCOL_RANGE_MPEG;
        f->color_primaries = AVCOL_PRI_BT709;
        f->color_trc = AVCOL_TRC_BT709;
    }
    return f;
}

/* Whether samples of f span 0..255 rather than 16..235: decoders leave range unset for most
 * stills, and an unset grey PNG is full range while an unset YUV picture is limited. */
static int full_range(const AVFrame *f)
{
    enum AVPixelFormat fmt = f->format;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    if (f->color_range != AVCOL_RANGE_UNSPECIFIED) return f->color_range == AVCOL_RANGE_JPEG;
    if (fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P || fmt == AV_PIX_FMT_YUVJ444P ||
        fmt == AV_PIX_FMT_YUVJ440P || fmt == AV_PIX_FMT_YUVJ411P)
        return 1;
    return (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) || d->nb_components <= 2;
}

int vg_image_convert(const AVFrame *src, AVFrame *dst, char *err, size_t errlen)
{
    vg_diag_reset();
    struct SwsContext *sws =
        sws_getContext(src->width, src->height, src->format, dst->width, dst->height, dst->format,
                       IMAGE_SWS_FLAGS, NULL, NULL, NULL);
    if (!sws) {
        vg_diag_av(err, errlen, AVERROR(EINVAL), "cannot convert the picture");
        return VG_ERR;
    }
    /* Not meaningful for RGB-to-RGB, where swscale reports it unsupported: harmless. */
    sws_setColorspaceDetails(sws, sws_getCoefficients(src->colorspace), full_range(src),
                             sws_getCoefficients(dst->colorspace), full_range(dst), 0, 1 << 16,
                             1 << 16);
    int ret = sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                        dst->data, dst->linesize);
    sws_freeContext(sws);
    if (ret <= 0) {
        vg_diag_av(err, errlen, ret < 0 ? ret : AVERROR(EINVAL), "cannot convert the picture");
        return VG_ERR;
    }
    return VG_OK;
}

/* A reference to img that av_frame_apply_cropping can crop on any side: bit-packed formats only
 * crop right and bottom, so those are widened to grey first. */
static AVFrame *croppable(const AVFrame *img, char *err, size_t errlen)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(img->format);
    if (!(d->flags & AV_PIX_FMT_FLAG_BITSTREAM)) return av_frame_clone(img);
    AVFrame *grey = vg_image_alloc(img->width, img->height, AV_PIX_FMT_GRAY8);
    if (grey) grey->color_range = AVCOL_RANGE_JPEG;
    if (grey && vg_image_convert(img, grey, err, errlen) != VG_OK) av_frame_free(&grey);
    return grey;
}

/* Crops f (in place, by pointer arithmetic) to the centred w:h window. */
static int crop_to_aspect(AVFrame *f, int w, int h)
{
    int64_t iw = f->width, ih = f->height;
    if (iw * h > ih * w) { /* wider than the output: trim the sides */
        int64_t cw = (ih * w + h / 2) / h;
        if (cw < 1) cw = 1;
        f->crop_left = (size_t)((iw - cw) / 2);
        f->crop_right = (size_t)(iw - cw) - f->crop_left;
    } else {
        int64_t ch = (iw * h + w / 2) / w;
        if (ch < 1) ch = 1;
        f->crop_top = (size_t)((ih - ch) / 2);
        f->crop_bottom = (size_t)(ih - ch) - f->crop_top;
    }
    /* swscale copes with the unaligned pointers this may leave (as FFmpeg's crop filter relies on)
     */
    return av_frame_apply_cropping(f, AV_FRAME_CROP_UNALIGNED);
}

static void composite_over_white(AVFrame *rgba)
{
    for (int y = 0; y < rgba->height; y++) {
        uint8_t *p = rgba->data[0] + (ptrdiff_t)y * rgba->linesize[0];
        for (int x = 0; x < rgba->width; x++, p += 4) {
            unsigned a = p[3], ia = 255 - a;
            if (a == 255) continue;
            for (int c = 0; c < 3; c++)
                p[c] = (uint8_t)((p[c] * a + 255 * ia + 127) / 255);
            p[3] = 255;
        }
    }
}

/* Where displayed pixel (x, y) is stored, per EXIF orientation: sx = ax*x + bx*y + cx*(sw-1), and
 * likewise sy with the stored height. */
static const signed char orient_map[9][6] = {
    [1] = {1, 0, 0, 0, 1, 0},   [2] = {-1, 0, 1, 0, 1, 0}, [3] = {-1, 0, 1, 0, -1, 1},
    [4] = {1, 0, 0, 0, -1, 1},  [5] = {0, 1, 0, 1, 0, 0},  [6] = {0, 1, 0, -1, 0, 1},
    [7] = {0, -1, 1, -1, 0, 1}, [8] = {0, -1, 1, 1, 0, 0},
};

/* Turns/mirrors src (RGBA, as stored) into dst (RGBA, as displayed). */
static void orient_rgba(const AVFrame *src, AVFrame *dst, int orientation)
{
    const signed char *m = orient_map[orientation];
    for (int y = 0; y < dst->height; y++) {
        uint8_t *out = dst->data[0] + (ptrdiff_t)y * dst->linesize[0];
        for (int x = 0; x < dst->width; x++) {
            int sx = m[0] * x + m[1] * y + m[2] * (src->width - 1);
            int sy = m[3] * x + m[4] * y + m[5] * (src->height - 1);
            memcpy(out + 4 * x, src->data[0] + (ptrdiff_t)sy * src->linesize[0] + 4 * sx, 4);
        }
    }
}

/* The cover view as stored (sides swapped for quarter turns), in RGBA on white, then displayed. */
static AVFrame *cover_rgba(const AVFrame *img, int w, int h, char *err, size_t errlen)
{
    int o = exif_orientation(img), sw = swaps_sides(o) ? h : w, sh = swaps_sides(o) ? w : h;
    AVFrame *src = croppable(img, err, errlen);
    AVFrame *rgba = vg_image_alloc(sw, sh, AV_PIX_FMT_RGBA), *shown = NULL;
    if (!src || !rgba || crop_to_aspect(src, sw, sh) < 0 ||
        vg_image_convert(src, rgba, err, errlen) != VG_OK)
        goto out;
    if (av_pix_fmt_desc_get(src->format)->flags & (AV_PIX_FMT_FLAG_ALPHA | AV_PIX_FMT_FLAG_PAL))
        composite_over_white(rgba);
    if (o == 1) {
        shown = rgba;
        rgba = NULL;
    } else if ((shown = vg_image_alloc(w, h, AV_PIX_FMT_RGBA))) {
        orient_rgba(rgba, shown, o);
    }
out:
    av_frame_free(&src);
    av_frame_free(&rgba);
    return shown;
}

int vg_image_cover(const AVFrame *img, int w, int h, AVFrame **out, char *err, size_t errlen)
{
    AVFrame *rgba = cover_rgba(img, w, h, err, errlen);
    AVFrame *yuv = rgba ? vg_image_alloc(w, h, AV_PIX_FMT_YUV420P) : NULL;
    int rc = yuv ? vg_image_convert(rgba, yuv, err, errlen) : VG_ERR;
    if (rc != VG_OK) {
        vg_diag_set(err, errlen, "cannot scale the image to %dx%d", w, h);
        av_frame_free(&yuv);
    }
    av_frame_free(&rgba);
    *out = yuv;
    return rc;
}

AVFrame *vg_image_to_rgb(const AVFrame *yuv, char *err, size_t errlen)
{
    AVFrame *rgb = vg_image_alloc(yuv->width, yuv->height, AV_PIX_FMT_RGB24);
    if (!rgb) vg_diag_set(err, errlen, "out of memory converting a frame to RGB");
    if (rgb && vg_image_convert(yuv, rgb, err, errlen) != VG_OK) av_frame_free(&rgb);
    return rgb;
}
