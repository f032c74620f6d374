/* media.c - see media.h. */
#include "cli/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/mime.h"

/* The CLI sends images only; any other type is left for the caller to refuse. */
const char *vg_cli_media_sniff(const unsigned char *data, size_t len)
{
    const char *mime = vg_mime_sniff(data, len);
    return mime && strncmp(mime, "image/", 6) == 0 ? mime : NULL;
}

static int is_reference(const char *arg)
{
    static const char *const schemes[] = {"http://", "https://", "data:", "asset://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncasecmp(arg, schemes[i], strlen(schemes[i])) == 0) return 1;
    return 0;
}

/* Reads at most cap bytes; a longer file is an error rather than a silent truncation. */
static vg_cli_status read_capped(vg_cli_ctx *ctx, const char *path, size_t cap, unsigned char **out,
                                 size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return vg_cli_fail(ctx, VG_CLI_USAGE, "cannot read %s: %s", path, strerror(errno));
    unsigned char *buf = vg_malloc(cap + 1);
    size_t n = fread(buf, 1, cap + 1, f);
    int failed = ferror(f);
    fclose(f);
    vg_cli_status st = VG_CLI_OK;
    if (failed)
        st = vg_cli_fail(ctx, VG_CLI_USAGE, "cannot read %s", path);
    else if (n > cap)
        st = vg_cli_fail(ctx, VG_CLI_USAGE,
                         "%s is too big to send inline (over %zu KiB); pass an https:// URL", path,
                         cap >> 10);
    if (st != VG_CLI_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = n;
    return VG_CLI_OK;
}

vg_cli_status vg_cli_media_url(vg_cli_ctx *ctx, const char *arg, char **out_url)
{
    if (is_reference(arg)) {
        *out_url = vg_strdup(arg);
        return VG_CLI_OK;
    }
    /* base64 grows by 4/3, and the result must fit in one JSON body. */
    size_t cap = (size_t)VG_MAX_JSON_BODY_BYTES / 4 * 3;
    unsigned char *data = NULL;
    size_t len = 0;
    vg_cli_status st = read_capped(ctx, arg, cap, &data, &len);
    if (st != VG_CLI_OK) return st;
    const char *mime = vg_cli_media_sniff(data, len);
    if (!mime) {
        free(data);
        return vg_cli_fail(ctx, VG_CLI_USAGE, "%s is not a JPEG, PNG, WebP, GIF or BMP image", arg);
    }
    char *b64 = vg_base64_encode(data, len);
    *out_url = vg_asprintf("data:%s;base64,%s", mime, b64);
    free(b64);
    free(data);
    return VG_CLI_OK;
}
