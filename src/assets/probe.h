/*
 * probe.h - what an uploaded file really is, found by decoding it with FFmpeg: never by its name,
 * its URL, a declared Content-Type or a data: media type.
 *
 * The container is detected from the bytes, and only the demuxers of formats assets accept may
 * answer (jpeg, png, webp, bmp, gif; mp4/mov; wav, mp3). Then the first picture (images, video) or
 * audio frame is decoded with FFmpeg's strict error detection, so a truncated or corrupt file fails
 * here; for video and audio every packet is read and the duration measured from their timestamps.
 *
 * Thread-safe: several probes may run at once (one decoder thread each). FFmpeg's messages are
 * captured through engine/diag.h and folded into the message, never printed.
 */
#ifndef VG_ASSETS_PROBE_H
#define VG_ASSETS_PROBE_H
#include "core/asset.h"

#include <stddef.h>

/**
 * Probes the file at path into m (format, size, displayed width/height, duration). VG_OK; or
 * VG_INVALID with *code "UnsupportedFormat" (not a file of an accepted format) or "DecodeFailed"
 * (recognised but it does not decode: truncated, corrupt, no picture or sound) and a message;
 * VG_ERR (code "InternalError") when the file cannot be read or memory runs out.
 */
int vg_asset_probe(const char *path, vg_asset_media *m, const char **code, char *msg,
                   size_t msglen);

#endif
