/*
 * encode.h - writing the engine's outputs: the H.264 MP4 (streamed frame by frame), the JPEG
 * thumbnail and the PNG last frame.
 *
 * The MP4 is written by one single-threaded x264, 24 fps constant, with
 * pts = frame index in a 1/24 time base and every packet lasting one frame, so the file holds
 * exactly the frames sent and lasts frames/24 s. Nothing time-varying is written (no creation
 * time, no encoder version tag), so identical input gives files that differ at most by
 * x264's heap-dependent choices (see encode.c).
 *
 * A vg_encoder belongs to one render; the functions keep no shared state and are thread-safe.
 */
#ifndef VG_ENGINE_ENCODE_H
#define VG_ENGINE_ENCODE_H
#include <stddef.h>

#include <libavutil/frame.h>

typedef struct vg_encoder vg_encoder;

/** Creates path and prepares a w x h H.264 MP4. VG_OK with *out, or VG_ERR with err. */
int vg_enc_open(const char *path, int w, int h, vg_encoder **out, char *err, size_t errlen);
/** Encodes the next frame (working format, w x h); its pts is assigned here. VG_OK or VG_ERR. */
int vg_enc_write(vg_encoder *enc, AVFrame *frame, char *err, size_t errlen);
/** Drains the encoder and finishes the file (moves the index to the front). VG_OK or VG_ERR. */
int vg_enc_finish(vg_encoder *enc, char *err, size_t errlen);
/** Frees the encoder; an unfinished file is left truncated for the caller to remove. NULL is ok. */
void vg_enc_free(vg_encoder *enc);

/** Writes a working-format frame as a full-range JPEG (BT.601, as JFIF defines). VG_OK/VG_ERR. */
int vg_enc_write_jpeg(const AVFrame *frame, const char *path, char *err, size_t errlen);
/** Writes a working-format frame as an RGB24 PNG. VG_OK or VG_ERR. */
int vg_enc_write_png(const AVFrame *frame, const char *path, char *err, size_t errlen);

#endif
