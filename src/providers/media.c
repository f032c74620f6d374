/* media.c - see media.h. */
#include "providers/media.h"

#include "core/dataurl.h"
#include "core/status.h"
#include "net/fetch.h"

#include <stdio.h>
#include <string.h>

int vg_media_load(const vg_config *cfg, const char *url, unsigned char **out, size_t *out_len,
                  const char **code, char *err, size_t errlen)
{
    if (strncmp(url, "data:", 5) == 0) {
        char mime[64];
        if (vg_dataurl_decode(url, mime, out, out_len) == 0) return VG_OK;
        *code = "invalid_image";
        snprintf(err, errlen, "the data: URL does not decode");
        return VG_INVALID;
    }
    if (strncmp(url, "asset://", 8) == 0) {
        *code = "asset_not_found";
        snprintf(err, errlen, "asset not found");
        return VG_INVALID;
    }
    vg_fetch_opts o = {.allow_http = cfg->allow_http_fetch,
                       .allow_private = cfg->allow_private_fetch};
    char why[256] = "";
    int rc = vg_fetch_mem(url, &o, out, out_len, NULL, why, sizeof why);
    if (rc == VG_OK) return VG_OK;
    *code = "image_fetch_failed";
    snprintf(err, errlen, "cannot fetch the image: %s", why);
    return rc == VG_ERR ? VG_ERR : VG_INVALID;
}
