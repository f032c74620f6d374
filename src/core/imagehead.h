/*
 * imagehead.h - the pixel size of an encoded still image read from its header, without decoding
 * it: what a submit needs (the side bounds, an adaptive ratio) in microseconds on the event loop,
 * whatever the size of the picture. The full decode happens later, in the render.
 *
 * Formats: those the engine decodes (engine/image.h): JPEG (the SOF segment), PNG (IHDR), GIF
 * (the logical screen), WebP (VP8, VP8L and VP8X chunks), BMP (the DIB header) and TIFF (IFD0).
 * Sizes are as displayed: an EXIF orientation of 5..8 (JPEG APP1, TIFF IFD0) swaps the sides, as
 * the engine does. Every read is bounded by len; the bytes after the header are not looked at,
 * so a valid header does not promise a decodable picture. Pure and thread-safe.
 */
#ifndef VG_CORE_IMAGEHEAD_H
#define VG_CORE_IMAGEHEAD_H
#include "common/status.h"

#include <stddef.h>

/**
 * Reads the displayed size of the image in data into *w and *h (> 0). VG_OK, or VG_INVALID with
 * a reason in why ("not a JPEG, PNG, GIF, WebP, BMP or TIFF image", "truncated PNG header").
 */
vg_status vg_imagehead_size(const unsigned char *data, size_t len, int *w, int *h, char *why,
                            size_t whylen);

#endif
