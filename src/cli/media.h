/*
 * media.h - turns an --image / --last-frame argument into the URL the API takes (spec §3).
 *
 * http(s)://, data: and asset:// references pass through untouched: the server validates and
 * fetches them. Anything else is a local file, sent inline as a base64 data: URL whose media type
 * comes from the file's magic bytes (JPEG, PNG, WebP, GIF, BMP), never from its name. A file is
 * read whole, so it is capped at VG_MAX_JSON_BODY_BYTES: a bigger one could not fit in the request
 * anyway.
 */
#ifndef VG_CLI_MEDIA_H
#define VG_CLI_MEDIA_H
#include <stddef.h>

#include "cli/ctx.h"

/**
 * On VG_CLI_OK *out_url is a malloc'd URL for arg. An unreadable, too big or unrecognised file is
 * a recorded VG_CLI_USAGE error.
 */
vg_cli_status vg_cli_media_url(vg_cli_ctx *ctx, const char *arg, char **out_url);

/** The image media type of data from its magic bytes ("image/png", ...), or NULL. */
const char *vg_cli_media_sniff(const unsigned char *data, size_t len);

#endif
