/* thumb.c - see thumb.h: demux, decode packets until the first picture, cover-scale it into the
 * engine's working format at its own (even) size, write it as a JPEG. */
#include "providers/thumb.h"

#include "common/status.h"
#include "engine/diag.h"
#include "engine/encode.h"
#include "engine/image.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Reads packets of stream si until the decoder yields a picture. */
static int first_frame(AVFormatContext *fmt, AVCodecContext *cc, int si, AVFrame *frame)
{
    AVPacket *pkt = av_packet_alloc();
    int rc = AVERROR(ENOMEM);
    while (pkt && (rc = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == si) rc = avcodec_send_packet(cc, pkt);
        av_packet_unref(pkt);
        if (rc < 0) break;
        rc = avcodec_receive_frame(cc, frame);
        if (rc == 0 || rc != AVERROR(EAGAIN)) break;
    }
    if (rc == AVERROR_EOF && pkt) { /* a short file: drain what the decoder holds */
        avcodec_send_packet(cc, NULL);
        rc = avcodec_receive_frame(cc, frame);
    }
    av_packet_free(&pkt);
    return rc;
}

int vg_video_thumbnail(const char *video_path, const char *jpg_path, char *err, size_t errlen)
{
    vg_diag_init();
    vg_diag_reset();
    AVFormatContext *fmt = NULL;
    AVCodecContext *cc = NULL;
    AVFrame *frame = av_frame_alloc(), *work = NULL;
    const AVCodec *dec = NULL;
    int st = VG_ERR, rc = avformat_open_input(&fmt, video_path, NULL, NULL);
    if (rc < 0 || (rc = avformat_find_stream_info(fmt, NULL)) < 0) {
        vg_diag_av(err, errlen, rc, "cannot read the video");
        goto out;
    }
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (si < 0 || !dec || !(cc = avcodec_alloc_context3(dec)) ||
        avcodec_parameters_to_context(cc, fmt->streams[si]->codecpar) < 0) {
        vg_diag_set(err, errlen, "the file has no decodable video stream");
        goto out;
    }
    cc->thread_count = 1;
    if ((rc = avcodec_open2(cc, dec, NULL)) < 0 || !frame ||
        (rc = first_frame(fmt, cc, si, frame)) < 0) {
        vg_diag_av(err, errlen, rc, "cannot decode the first frame");
        goto out;
    }
    if (vg_image_cover(frame, frame->width & ~1, frame->height & ~1, &work, err, errlen) ||
        vg_enc_write_jpeg(work, jpg_path, err, errlen))
        goto out;
    st = VG_OK;
out:
    av_frame_free(&work);
    av_frame_free(&frame);
    avcodec_free_context(&cc);
    avformat_close_input(&fmt);
    return st;
}
