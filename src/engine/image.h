/*
 * image.h - still images into and out of the engine's working picture format.
 *
 * The working format is an AVFrame in yuv420p, BT.709 matrix, limited range: what the encoder
 * takes, so rendered frames go to x264 without a conversion. Input images are decoded from memory
 * (the container is detected from the bytes, restricted to a whitelist of still-image formats),
 * then cover-scaled into that format once per job; outputs (thumbnail, last frame) are converted
 * back to full-range RGB.
 *
 * Every AVFrame returned is owned by the caller (av_frame_free). Thread-safe; no shared state.
 */
#ifndef VG_ENGINE_IMAGE_H
#define VG_ENGINE_IMAGE_H
#include <stddef.h>

#include <libavutil/frame.h>

/** A new writable frame of w x h in fmt, or NULL when out of memory. */
AVFrame *vg_image_alloc(int w, int h, enum AVPixelFormat fmt);

/**
 * Decodes the first picture of an encoded image. VG_OK with *out set, or VG_INVALID with a reason
 * in err: undecodable, not a supported still format, or a side outside the limits.h bounds
 * (VG_ERR only when out of memory). An EXIF orientation stays in the frame's metadata, for
 * vg_image_cover to apply.
 */
int vg_image_decode(const unsigned char *data, size_t len, AVFrame **out, char *err, size_t errlen);

/**
 * Scales img (any pixel format) to COVER w x h and crops the centre: the result is exactly w x h
 * (both even) in the working format, turned upright by any EXIF orientation. Transparent images
 * are composited over white.
 * VG_OK, or VG_ERR with a reason in err.
 */
int vg_image_cover(const AVFrame *img, int w, int h, AVFrame **out, char *err, size_t errlen);

/**
 * Scales and converts src into dst, both allocated: sizes and pixel formats come from the frames,
 * the colour matrix and range from their colorspace and color_range fields (unset ones get the
 * usual meaning for the format). VG_OK, or VG_ERR with err.
 */
int vg_image_convert(const AVFrame *src, AVFrame *dst, char *err, size_t errlen);

/** Converts a working-format frame to full-range RGB24 of the same size; NULL with err on failure.
 */
AVFrame *vg_image_to_rgb(const AVFrame *yuv, char *err, size_t errlen);

#endif
