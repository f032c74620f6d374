/*
 * sendfile.h - streams a file from disk as the response, with the HTTP caching and partial-content
 * rules a video player needs: ETag and Last-Modified; If-None-Match / If-Modified-Since → 304;
 * a single "Range: bytes=…" → 206 with Content-Range (If-Range honoured), an unsatisfiable range →
 * 416; Accept-Ranges: bytes. Several ranges in one request get the whole file (200).
 *
 * The file is read in chunks as the connection drains (never whole in memory); the descriptor is
 * closed when the request's memory is released, whatever way the response ends.
 */
#ifndef VG_HTTP_SENDFILE_H
#define VG_HTTP_SENDFILE_H
#include "http/ctx.h"

#include <stdint.h>
#include <sys/types.h>

/** Sends path with the given Content-Type. Returns 0 when a response was started; -1 when the
 *  file cannot be opened (nothing was sent: the caller replies). */
int vg_send_file(vg_ctx *c, const char *path, const char *mime);

/**
 * Parses a Range header against a size: 1 with [*first, *last] for one satisfiable range, 0 for
 * "serve the whole file" (absent, malformed, several ranges), -1 when unsatisfiable (416).
 * Exposed for tests.
 */
int vg_range_parse(const char *header, off_t size, off_t *first, off_t *last);

#endif
