/*
 * encode.c - see encode.h. The MP4 muxer picks its own track timescale, so packets are made in the
 * encoder's 1/24 time base with a duration of one frame and rescaled on the way out; the last
 * packet's duration is what makes the file last (24*S+1)/24 s rather than 24*S/24.
 */
#include "engine/encode.h"

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "common/alloc.h"
#include "common/status.h"
#include "engine/diag.h"
#include "engine/engine.h"
#include "engine/image.h"

#define ENC_PRESET  "veryfast"
#define ENC_CRF     "23"
#define ENC_GOP     (2 * VG_RENDER_FPS) /* a keyframe every 2 s keeps seeking cheap */
#define JPEG_QSCALE 3                   /* mjpeg quantiser: 2 best .. 31 worst */

struct vg_encoder {
    AVFormatContext *oc;
    AVCodecContext *cc;
    AVStream *st;
    AVPacket *pkt;
    int64_t next_pts;
};

static int open_x264(vg_encoder *e, int w, int h, char *err, size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    e->cc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (!e->cc) {
        vg_diag_set(err, errlen, "the libx264 encoder is not available");
        return VG_ERR;
    }
    AVCodecContext *cc = e->cc;
    cc->width = w;
    cc->height = h;
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->time_base = (AVRational){1, VG_RENDER_FPS};
    cc->framerate = (AVRational){VG_RENDER_FPS, 1};
    cc->sample_aspect_ratio = (AVRational){1, 1};
    cc->gop_size = ENC_GOP;
    cc->thread_count = 1; /* one core per render, and single-threaded x264 is deterministic */
    cc->color_primaries = AVCOL_PRI_BT709;
    cc->color_trc = AVCOL_TRC_BT709;
    cc->colorspace = AVCOL_SPC_BT709;
    cc->color_range = AVCOL_RANGE_MPEG;
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "preset", ENC_PRESET, 0);
    av_dict_set(&opts, "crf", ENC_CRF, 0);
    /* x264's macroblock-tree rate control reads lookahead memory before writing it, so two encodes
     * of the same frames in one process can differ slightly (PSNR ~54 dB). Turning it off would make
     * the bytes depend on the input alone, but made a test clip 69 % larger at this CRF: the frames
     * we draw are identical for identical jobs, the encoded files visually so. */
    vg_diag_reset();
    int ret = avcodec_open2(cc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "cannot open the H.264 encoder");
        return VG_ERR;
    }
    return VG_OK;
}

static int open_mp4(vg_encoder *e, const char *path, char *err, size_t errlen)
{
    e->st = avformat_new_stream(e->oc, NULL);
    if (!e->st || avcodec_parameters_from_context(e->st->codecpar, e->cc) < 0) {
        vg_diag_set(err, errlen, "cannot add the video stream");
        return VG_ERR;
    }
    e->st->time_base = e->cc->time_base;
    e->st->avg_frame_rate = e->cc->framerate;
    vg_diag_reset();
    int ret = avio_open(&e->oc->pb, path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "cannot create video.mp4");
        return VG_ERR;
    }
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(e->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "cannot write the MP4 header");
        return VG_ERR;
    }
    return VG_OK;
}

int vg_enc_open(const char *path, int w, int h, vg_encoder **out, char *err, size_t errlen)
{
    vg_encoder *e = vg_calloc(1, sizeof *e);
    *out = NULL;
    vg_diag_reset();
    int ret = avformat_alloc_output_context2(&e->oc, NULL, "mp4", path);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "cannot set up the MP4 muxer");
        goto fail;
    }
    e->oc->flags |= AVFMT_FLAG_BITEXACT; /* no encoder version tag: byte-identical reruns */
    e->pkt = av_packet_alloc();
    if (!e->pkt) goto fail;
    if (open_x264(e, w, h, err, errlen) != VG_OK || open_mp4(e, path, err, errlen) != VG_OK)
        goto fail;
    *out = e;
    return VG_OK;
fail:
    vg_diag_set(err, errlen, "cannot start the video encoder");
    vg_enc_free(e);
    return VG_ERR;
}

/* Moves every packet the encoder has ready into the file. */
static int drain(vg_encoder *e, char *err, size_t errlen)
{
    for (;;) {
        int ret = avcodec_receive_packet(e->cc, e->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return VG_OK;
        if (ret < 0) {
            vg_diag_av(err, errlen, ret, "H.264 encoding failed");
            return VG_ERR;
        }
        e->pkt->duration = 1; /* one frame, in the encoder's 1/24 time base */
        av_packet_rescale_ts(e->pkt, e->cc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        ret = av_interleaved_write_frame(e->oc, e->pkt); /* takes the packet's reference */
        if (ret < 0) {
            vg_diag_av(err, errlen, ret, "writing video.mp4 failed");
            return VG_ERR;
        }
    }
}

int vg_enc_write(vg_encoder *enc, AVFrame *frame, char *err, size_t errlen)
{
    frame->pts = enc->next_pts++;
    frame->pict_type = AV_PICTURE_TYPE_NONE; /* let x264 choose */
    vg_diag_reset();
    int ret = avcodec_send_frame(enc->cc, frame);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "H.264 encoding failed");
        return VG_ERR;
    }
    return drain(enc, err, errlen);
}

int vg_enc_finish(vg_encoder *enc, char *err, size_t errlen)
{
    vg_diag_reset();
    int ret = avcodec_send_frame(enc->cc, NULL);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "H.264 encoding failed");
        return VG_ERR;
    }
    if (drain(enc, err, errlen) != VG_OK) return VG_ERR;
    ret = av_write_trailer(enc->oc);
    if (ret >= 0) ret = avio_closep(&enc->oc->pb);
    if (ret < 0) {
        vg_diag_av(err, errlen, ret, "finishing video.mp4 failed");
        return VG_ERR;
    }
    return VG_OK;
}

void vg_enc_free(vg_encoder *enc)
{
    if (!enc) return;
    if (enc->oc && enc->oc->pb) avio_closep(&enc->oc->pb);
    avformat_free_context(enc->oc);
    avcodec_free_context(&enc->cc);
    av_packet_free(&enc->pkt);
    free(enc);
}

static int write_file(const char *path, const AVPacket *pkt, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(pkt->data, 1, (size_t)pkt->size, f) == (size_t)pkt->size;
    if (f && fclose(f) != 0) ok = 0;
    const char *name =
        strrchr(path, '/'); /* the directory is the server's business, not the job's */
    if (!ok) vg_diag_set(err, errlen, "cannot write %s", name ? name + 1 : path);
    return ok ? VG_OK : VG_ERR;
}

static int open_still_encoder(AVCodecContext **out, enum AVCodecID id, const AVFrame *pic)
{
    const AVCodec *codec = avcodec_find_encoder(id);
    AVCodecContext *cc = codec ? avcodec_alloc_context3(codec) : NULL;
    *out = cc;
    if (!cc) return AVERROR_ENCODER_NOT_FOUND;
    cc->width = pic->width;
    cc->height = pic->height;
    cc->pix_fmt = pic->format;
    cc->color_range = pic->color_range;
    cc->colorspace = pic->colorspace;
    cc->time_base = (AVRational){1, VG_RENDER_FPS};
    cc->thread_count = 1;
    cc->flags |= AV_CODEC_FLAG_BITEXACT; /* no "Lavc" version comment */
    if (id == AV_CODEC_ID_MJPEG) {
        cc->flags |= AV_CODEC_FLAG_QSCALE;
        cc->global_quality = JPEG_QSCALE * FF_QP2LAMBDA;
    }
    return avcodec_open2(cc, codec, NULL);
}

/* Encodes one picture with a still-image encoder and writes the resulting file. */
static int encode_still(enum AVCodecID id, AVFrame *pic, const char *path, char *err, size_t errlen)
{
    AVCodecContext *cc = NULL;
    AVPacket *pkt = av_packet_alloc();
    vg_diag_reset();
    int ret = pkt ? open_still_encoder(&cc, id, pic) : AVERROR(ENOMEM);
    pic->quality = cc ? cc->global_quality : 0;
    if (ret >= 0) ret = avcodec_send_frame(cc, pic);
    if (ret >= 0) ret = avcodec_send_frame(cc, NULL);
    if (ret >= 0) ret = avcodec_receive_packet(cc, pkt);
    int rc = VG_ERR;
    if (ret < 0)
        vg_diag_av(err, errlen, ret,
                   id == AV_CODEC_ID_PNG ? "PNG encoding failed" : "JPEG encoding failed");
    else
        rc = write_file(path, pkt, err, errlen);
    av_packet_free(&pkt);
    avcodec_free_context(&cc);
    return rc;
}

int vg_enc_write_jpeg(const AVFrame *frame, const char *path, char *err, size_t errlen)
{
    AVFrame *rgb = vg_image_to_rgb(frame, err, errlen);
    AVFrame *jpg = rgb ? vg_image_alloc(frame->width, frame->height, AV_PIX_FMT_YUVJ420P) : NULL;
    int rc = VG_ERR;
    if (jpg && vg_image_convert(rgb, jpg, err, errlen) == VG_OK)
        rc = encode_still(AV_CODEC_ID_MJPEG, jpg, path, err, errlen);
    if (rc != VG_OK) vg_diag_set(err, errlen, "cannot write the thumbnail");
    av_frame_free(&rgb);
    av_frame_free(&jpg);
    return rc;
}

int vg_enc_write_png(const AVFrame *frame, const char *path, char *err, size_t errlen)
{
    AVFrame *rgb = vg_image_to_rgb(frame, err, errlen);
    int rc = rgb ? encode_still(AV_CODEC_ID_PNG, rgb, path, err, errlen) : VG_ERR;
    if (rc != VG_OK) vg_diag_set(err, errlen, "cannot write the last frame");
    av_frame_free(&rgb);
    return rc;
}
