/*
 * mime.h - the one media-type sniffer: the type of a file from its first bytes, for the places
 * that must name a type the sender did not (OpenAI multipart uploads, inlined assets sent to the
 * upstream, local files the CLI turns into data: URLs).
 *
 * Recognised: image/jpeg, image/png, image/gif, image/webp, image/bmp, image/tiff, audio/wav,
 * audio/mpeg. Only signatures, never a decode: a caller that needs a valid image probes it.
 * Pure and thread-safe.
 */
#ifndef VG_COMMON_MIME_H
#define VG_COMMON_MIME_H
#include <stddef.h>

/** The media type data starts like ("image/png", ...), or NULL when none matches. Static storage. */
const char *vg_mime_sniff(const unsigned char *data, size_t len);

#endif
