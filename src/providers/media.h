/*
 * media.h - loads the bytes behind a media URL of a task: data: URLs are decoded, http(s) URLs
 * fetched with the SSRF rules (net/fetch.h) under the operator's policy, asset:// references
 * read from the asset content store: a stored spec names them "asset://<id>?sha256=<hex>" (written
 * at submit), and the bytes of that hash are loaded and checked, so a task renders what it was
 * accepted with even when the asset has been deleted since (core/asset.h). Inline media of a submit
 * are stored there too since the submit (named "asset://inline?sha256=<hex>"); data: URLs still
 * decode here for tasks stored before that.
 *
 * On success *out is malloc'd (caller frees). On failure returns VG_INVALID or VG_ERR with a static
 * error code ("image_fetch_failed", "invalid_image", "asset_not_found") and a message.
 */
#ifndef VG_MEDIA_H
#define VG_MEDIA_H
#include "net/content.h"
#include "net/fetch.h"

#include <stddef.h>

/* Where media come from: what a provider is told, never the whole process state. */
typedef struct {
    const char *data_dir; /* DATA: asset content lives in DATA/files/assets */
    vg_content *content;  /* with a bucket, where an asset this node lacks is fetched from (a
                             blocking fetch: media are loaded on worker threads); NULL = none */
    vg_fetch_opts fetch;  /* the operator's policy for http(s) URLs (allow_http, allow_private) */
} vg_media_env;

int vg_media_load(const vg_media_env *env, const char *url, unsigned char **out, size_t *out_len,
                  const char **code, char *err, size_t errlen);

#endif
