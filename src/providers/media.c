/* media.c - see media.h. */
#include "providers/media.h"

#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "core/asset.h"
#include "core/dataurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "asset://<id>?sha256=<hex>" (what a submit stores, also for inline media: id "inline"): the
 * content file of that hash, checked against it. A reference without its hash never reaches a
 * stored spec. */
static int load_asset(const vg_media_env *env, const char *url, unsigned char **out,
                      size_t *out_len, const char **code, char *err, size_t errlen)
{
    char id[VG_ASSET_ID_MAX], sha[65], path[1400], got[65];
    char *bytes = NULL;
    size_t len = 0;
    *code = "asset_not_found";
    if (vg_asset_ref_parse(url, id, sha) || !sha[0]) {
        snprintf(err, errlen, "asset not found");
        return VG_INVALID;
    }
    vg_asset_blob_path(env->data_dir, sha, path, sizeof path);
    if (env->content) { /* uploaded on another node: into this node's cache first */
        char key[128], why[256];
        snprintf(key, sizeof key, "assets/%s", sha);
        if (vg_content_fetch(env->content, key, why, sizeof why) == VG_ERR) {
            *code = "internal_error";
            snprintf(err, errlen, "the content of asset %s cannot be fetched: %s", id, why);
            return VG_ERR;
        }
    }
    struct stat sb; /* sized read: vg_read_file() allocates its cap */
    if (stat(path, &sb) || sb.st_size > VG_ASSET_VIDEO_MAX_BYTES ||
        vg_read_file(path, (size_t)sb.st_size, &bytes, &len)) {
        if (!strcmp(id, VG_ASSET_INLINE_ID))
            snprintf(err, errlen, "the inline media of this task are no longer stored");
        else
            snprintf(err, errlen, "the content of asset %s is no longer stored", id);
        return VG_INVALID;
    }
    vg_sha256_hex(bytes, len, got);
    if (strcmp(got, sha) != 0) {
        free(bytes);
        *code = "internal_error";
        snprintf(err, errlen, "the stored content of %s %s is damaged",
                 strcmp(id, VG_ASSET_INLINE_ID) ? "asset" : "media", id);
        return VG_ERR;
    }
    *out = (unsigned char *)bytes;
    *out_len = len;
    return VG_OK;
}

int vg_media_load(const vg_media_env *env, const char *url, unsigned char **out, size_t *out_len,
                  const char **code, char *err, size_t errlen)
{
    if (strncmp(url, "data:", 5) == 0) {
        char mime[64];
        if (vg_dataurl_decode(url, mime, out, out_len) == 0) return VG_OK;
        *code = "invalid_image";
        snprintf(err, errlen, "the data: URL does not decode");
        return VG_INVALID;
    }
    if (strncmp(url, "asset://", 8) == 0)
        return load_asset(env, url, out, out_len, code, err, errlen);
    char why[256] = "";
    int rc = vg_fetch_mem(url, &env->fetch, out, out_len, NULL, why, sizeof why);
    if (rc == VG_OK) return VG_OK;
    *code = "image_fetch_failed";
    char host[256];
    if (vg_fetch_url_host(url, host, sizeof host) == VG_OK)
        snprintf(err, errlen, "cannot fetch the image from %s: %s", host, why);
    else
        snprintf(err, errlen, "cannot fetch the image: %s", why);
    return rc == VG_ERR ? VG_ERR : VG_INVALID;
}
