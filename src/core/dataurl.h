/*
 * dataurl.h - RFC 2397 data: URLs with base64 payloads ("data:image/png;base64,....").
 */
#ifndef VG_DATAURL_H
#define VG_DATAURL_H
#include <stddef.h>

/**
 * Decodes a base64 data: URL. On success returns 0, the media type (lower-case, e.g. "image/png")
 * in mime, and a malloc'd buffer the caller frees. Returns -1 when it is not a base64 data: URL or
 * the payload is not valid base64.
 */
int vg_dataurl_decode(const char *url, char mime[64], unsigned char **out, size_t *out_len);

/**
 * Reads only the header of a base64 data: URL (constant time, whatever the payload's size): 0
 * with the media type in mime and the payload's length in characters, -1 when it is not a base64
 * data: URL. The payload itself is not checked.
 */
int vg_dataurl_head(const char *url, char mime[64], size_t *payload_len);

#endif
