/*
 * mime.h - the one media-type sniffer: the type of a file from its first bytes, for the places
 * that must name a type the sender did not (OpenAI multipart uploads, inlined assets sent to the
 * upstream, local files the CLI turns into data: URLs).
 *
 * Recognised: image/jpeg, image/png, image/gif, image/webp, image/bmp, image/tiff, audio/wav,
 * audio/mpeg, and (so that a refusal can say what was sent) application/pdf, video/mp4,
 * video/webm, audio/ogg, application/zip, application/gzip. Only signatures, never a decode: a caller that needs a valid image probes it.
 * Pure and thread-safe.
 */
#ifndef VG_COMMON_MIME_H
#define VG_COMMON_MIME_H
#include <stddef.h>

/** The media type data starts like ("image/png", ...), or NULL when none matches. Static storage. */
const char *vg_mime_sniff(const unsigned char *data, size_t len);
/** What data is, for a message ("a PDF document"), or NULL when vg_mime_sniff() knows it not. */
const char *vg_mime_describe(const unsigned char *data, size_t len);

#endif
