/*
 * thumb.h - a thumbnail for a video made elsewhere (an upstream's result): the first picture of
 * the file, at its own size, as the JPEG the content route serves for variant=thumbnail (the local
 * engine writes its own while rendering).
 *
 * Thread-safe (one decoder thread per call, no shared state); FFmpeg's messages are captured
 * through engine/diag.h and folded into err, never printed.
 */
#ifndef VG_PROVIDERS_THUMB_H
#define VG_PROVIDERS_THUMB_H
#include <stddef.h>

/** Writes the first frame of the video at video_path to jpg_path. VG_OK, or VG_ERR with err. */
int vg_video_thumbnail(const char *video_path, const char *jpg_path, char *err, size_t errlen);

#endif
