/* probe.c - identifying and decoding an asset's file with libavformat/libavcodec (see probe.h). */
#include "assets/probe.h"

#include "common/status.h"
#include "engine/diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Every demuxer that may answer; the rule of the declared AssetType decides later whether the
 * format found is the right one, so a PNG uploaded as a Video gets a precise message. */
#define PROBE_DEMUXERS "jpeg_pipe,png_pipe,webp_pipe,bmp_pipe,gif,gif_pipe,mov,wav,mp3"
/* Bounds what a decoder allocates for a lying header; the side rule is checked on the header. */
#define PROBE_MAX_PIXELS   ((int64_t)8192 * 8192)
#define PROBE_IO_BUF_BYTES 65536

typedef struct {
    const char *demuxer; /* first name of AVInputFormat.name */
    const char *format;  /* as vg_asset_media.format */
    enum AVMediaType kind;
} probe_format;

static const probe_format formats[] = {
    {"jpeg_pipe", "jpeg", AVMEDIA_TYPE_VIDEO}, {"png_pipe", "png", AVMEDIA_TYPE_VIDEO},
    {"webp_pipe", "webp", AVMEDIA_TYPE_VIDEO}, {"bmp_pipe", "bmp", AVMEDIA_TYPE_VIDEO},
    {"gif", "gif", AVMEDIA_TYPE_VIDEO},        {"gif_pipe", "gif", AVMEDIA_TYPE_VIDEO},
    {"mov", "mp4", AVMEDIA_TYPE_VIDEO},        {"wav", "wav", AVMEDIA_TYPE_AUDIO},
    {"mp3", "mp3", AVMEDIA_TYPE_AUDIO},
};

typedef struct {
    int fd;
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    const probe_format *pf;
    int stream;
    bool still;                 /* a still image: one picture is the whole job */
    int64_t first_pts, end_pts; /* of the stream's packets, in its time base */
    const char **code;
    char *msg;
    size_t msglen;
} probe_ctx;

static int fail(probe_ctx *p, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(probe_ctx *p, int status, const char *code, const char *fmt, ...)
{
    if (!p->msg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, p->msglen, fmt, ap);
        va_end(ap);
        *p->code = code;
    }
    return status;
}

static const probe_format *find_format(const AVInputFormat *in)
{
    size_t n = strcspn(in->name, ",");
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strlen(formats[i].demuxer) == n && !strncmp(formats[i].demuxer, in->name, n))
            return &formats[i];
    return NULL;
}

/* QuickTime files say so in their major brand; everything else the mov demuxer reads is mp4. */
static const char *mov_flavour(const AVFormatContext *fmt)
{
    const AVDictionaryEntry *e = av_dict_get(fmt->metadata, "major_brand", NULL, 0);
    return e && !strncmp(e->value, "qt", 2) ? "mov" : "mp4";
}

/* The file is read through our own AVIOContext over its descriptor: libavformat never sees its
 * name, so an extension cannot sway the detection (FFmpeg's image2 demuxer would listen to one). */
static int fd_read(void *opaque, uint8_t *buf, int size)
{
    ssize_t n = read(*(int *)opaque, buf, (size_t)size);
    return n > 0 ? (int)n : n == 0 ? AVERROR_EOF : AVERROR(errno);
}

static int64_t fd_seek(void *opaque, int64_t offset, int whence)
{
    int fd = *(int *)opaque;
    if (whence & AVSEEK_SIZE) {
        struct stat sb;
        return fstat(fd, &sb) ? AVERROR(errno) : (int64_t)sb.st_size;
    }
    off_t at = lseek(fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return at < 0 ? AVERROR(errno) : (int64_t)at;
}

static int open_io(probe_ctx *p)
{
    unsigned char *buf = av_malloc(PROBE_IO_BUF_BYTES);
    if (buf) p->io = avio_alloc_context(buf, PROBE_IO_BUF_BYTES, 0, &p->fd, fd_read, NULL, fd_seek);
    if (!p->io) av_free(buf);
    if (p->io) p->fmt = avformat_alloc_context();
    if (!p->fmt) return fail(p, VG_ERR, "InternalError", "out of memory probing the file");
    p->fmt->pb = p->io;
    return VG_OK;
}

static int open_container(probe_ctx *p, vg_asset_media *m)
{
    if (open_io(p)) return VG_ERR;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "format_whitelist", PROBE_DEMUXERS, 0);
    vg_diag_reset();
    int ret = avformat_open_input(&p->fmt, "", NULL, &opts); /* frees fmt on failure */
    av_dict_free(&opts);
    if (ret < 0 || !(p->pf = find_format(p->fmt->iformat)))
        return fail(p, VG_INVALID, "UnsupportedFormat",
                    "the content is not a file of a supported "
                    "format (jpeg, png, webp, bmp, gif, mp4, "
                    "mov, wav, mp3)");
    snprintf(m->format, sizeof m->format, "%s",
             strcmp(p->pf->demuxer, "mov") ? p->pf->format : mov_flavour(p->fmt));
    p->still = p->pf->kind == AVMEDIA_TYPE_VIDEO && strcmp(p->pf->demuxer, "mov") != 0;
    vg_diag_reset();
    ret = avformat_find_stream_info(p->fmt, NULL);
    if (ret < 0) {
        char why[200] = "";
        vg_diag_av(why, sizeof why, ret, "cannot read it");
        return fail(p, VG_INVALID, "DecodeFailed", "the %s file is corrupt: %s", m->format, why);
    }
    p->stream = av_find_best_stream(p->fmt, p->pf->kind, -1, -1, NULL, 0);
    if (p->stream < 0)
        return fail(p, VG_INVALID, "DecodeFailed", "the %s file holds no %s", m->format,
                    p->pf->kind == AVMEDIA_TYPE_AUDIO ? "sound" : "picture");
    return VG_OK;
}

static int open_decoder(probe_ctx *p)
{
    const AVCodecParameters *par = p->fmt->streams[p->stream]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return fail(p, VG_INVALID, "UnsupportedFormat",
                    "the %s file uses a codec (%s) that "
                    "cannot be decoded",
                    p->pf->format, avcodec_get_name(par->codec_id));
    p->dec = avcodec_alloc_context3(codec);
    p->pkt = av_packet_alloc();
    p->frame = av_frame_alloc();
    if (!p->dec || !p->pkt || !p->frame || avcodec_parameters_to_context(p->dec, par) < 0)
        return fail(p, VG_ERR, "InternalError", "out of memory probing the file");
    p->dec->thread_count = 1;
    p->dec->max_pixels = PROBE_MAX_PIXELS;
    /* Strict: a truncated or damaged file must fail, not decode into a half-grey picture. */
    p->dec->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
    vg_diag_reset();
    int ret = avcodec_open2(p->dec, codec, NULL);
    if (ret < 0) {
        char why[200] = "";
        vg_diag_av(why, sizeof why, ret, "cannot open the decoder");
        return fail(p, VG_INVALID, "DecodeFailed", "the %s file does not decode: %s", p->pf->format,
                    why);
    }
    return VG_OK;
}

static void track_time(probe_ctx *p, const AVPacket *pkt)
{
    if (pkt->pts == AV_NOPTS_VALUE) return;
    if (p->first_pts == AV_NOPTS_VALUE || pkt->pts < p->first_pts) p->first_pts = pkt->pts;
    int64_t end = pkt->pts + (pkt->duration > 0 ? pkt->duration : 0);
    if (p->end_pts == AV_NOPTS_VALUE || end > p->end_pts) p->end_pts = end;
}

/* Sends one packet (NULL = flush) and tries to take a frame: 1 got one, 0 not yet, <0 error. */
static int decode_step(probe_ctx *p, const AVPacket *pkt)
{
    int ret = avcodec_send_packet(p->dec, pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) return ret;
    ret = avcodec_receive_frame(p->dec, p->frame);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
    return ret < 0 ? ret : 1;
}

static int decode_failed(probe_ctx *p, int averr, const char *what)
{
    char why[200] = "";
    vg_diag_av(why, sizeof why, averr, what);
    return fail(p, VG_INVALID, "DecodeFailed", "the %s file is truncated or corrupt: %s",
                p->pf->format, why);
}

/* Decodes the first frame and, for timed media, reads every packet to measure the duration. */
static int read_stream(probe_ctx *p)
{
    int got = 0, ret;
    p->first_pts = p->end_pts = AV_NOPTS_VALUE;
    vg_diag_reset();
    while ((ret = av_read_frame(p->fmt, p->pkt)) >= 0) {
        if (p->pkt->stream_index == p->stream) {
            if (p->pkt->flags & AV_PKT_FLAG_CORRUPT) ret = AVERROR_INVALIDDATA;
            track_time(p, p->pkt);
            if (ret >= 0 && !got) {
                ret = decode_step(p, p->pkt);
                got = ret > 0;
            }
        }
        av_packet_unref(p->pkt);
        if (ret < 0) return decode_failed(p, ret, "cannot decode it");
        if (got && p->still) return VG_OK;
    }
    if (ret != AVERROR_EOF) return decode_failed(p, ret, "cannot read it");
    if (!got && (ret = decode_step(p, NULL)) < 0) return decode_failed(p, ret, "cannot decode it");
    got = got || ret > 0;
    if (!got)
        return fail(p, VG_INVALID, "DecodeFailed", "the %s file holds no %s", p->pf->format,
                    p->pf->kind == AVMEDIA_TYPE_AUDIO ? "sound" : "picture");
    return VG_OK;
}

/* EXIF orientations 5..8 turn the picture a quarter: the displayed width is the stored height. */
static bool swaps_sides(const AVFrame *f)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, "Orientation", NULL, 0);
    long o = e ? strtol(e->value, NULL, 10) : 1;
    return o >= 5 && o <= 8;
}

static void fill_media(probe_ctx *p, vg_asset_media *m)
{
    const AVStream *st = p->fmt->streams[p->stream];
    if (p->pf->kind == AVMEDIA_TYPE_VIDEO) {
        bool swap = swaps_sides(p->frame);
        m->width = swap ? p->frame->height : p->frame->width;
        m->height = swap ? p->frame->width : p->frame->height;
    }
    if (p->still) return;
    if (p->first_pts != AV_NOPTS_VALUE && p->end_pts > p->first_pts)
        m->duration_ms =
            av_rescale_q(p->end_pts - p->first_pts, st->time_base, (AVRational){1, 1000});
    else if (p->fmt->duration > 0)
        m->duration_ms = p->fmt->duration / (AV_TIME_BASE / 1000);
}

/* A header announcing sides out of range is reported as such without decoding (spec rule). */
static bool header_out_of_range(probe_ctx *p, vg_asset_media *m)
{
    const AVCodecParameters *par = p->fmt->streams[p->stream]->codecpar;
    if (!p->still ||
        (par->width <= VG_ASSET_IMAGE_MAX_SIDE_PX && par->height <= VG_ASSET_IMAGE_MAX_SIDE_PX))
        return false;
    m->width = par->width;
    m->height = par->height;
    return true;
}

int vg_asset_probe(const char *path, vg_asset_media *m, const char **code, char *msg, size_t msglen)
{
    probe_ctx p = {.code = code, .msg = msg, .msglen = msglen};
    struct stat sb;
    memset(m, 0, sizeof *m);
    msg[0] = '\0';
    vg_diag_init();
    p.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (p.fd < 0 || fstat(p.fd, &sb)) {
        if (p.fd >= 0) close(p.fd);
        return fail(&p, VG_ERR, "InternalError", "the stored file cannot be read");
    }
    m->size_bytes = (int64_t)sb.st_size;
    int rc = open_container(&p, m);
    if (rc == VG_OK && !header_out_of_range(&p, m)) {
        rc = open_decoder(&p);
        if (rc == VG_OK) rc = read_stream(&p);
        if (rc == VG_OK) fill_media(&p, m);
    }
    av_frame_free(&p.frame);
    av_packet_free(&p.pkt);
    avcodec_free_context(&p.dec);
    avformat_close_input(&p.fmt); /* custom I/O: the AVIOContext is ours to free */
    if (p.io) av_freep(&p.io->buffer);
    avio_context_free(&p.io);
    close(p.fd);
    return rc;
}
