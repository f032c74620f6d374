/*
 * dataurl.c - see dataurl.h.
 *
 * Accepted form: "data:" <type "/" subtype> *(";" param) ";base64," <payload>. The scheme and the
 * "base64" marker match case-insensitively (RFC 2397), the media type is returned lower-cased. URLs
 * longer than VG_MAX_MULTIPART_BODY_BYTES are refused before any work: nothing larger can reach us.
 */
#include "core/dataurl.h"

#include "common/crypto.h"
#include "common/limits.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIME_MAX 64

/* RFC 2045 token characters, which is what a media type and its parameters are made of. */
static int is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* Copies "type/subtype" from p into mime (lower-cased); returns the bytes consumed or -1. */
static int read_mime(const char *p, char mime[MIME_MAX])
{
    int n = 0, slash = -1;
    for (; p[n] && p[n] != ';' && p[n] != ','; n++) {
        unsigned char c = (unsigned char)p[n];
        if (n >= MIME_MAX - 1) return -1;
        if (c == '/' && slash < 0 && n > 0)
            slash = n;
        else if (!is_token_char(c))
            return -1;
        mime[n] = (char)tolower(c);
    }
    mime[n] = '\0';
    if (n == 0) {
        /* RFC 2397: an omitted media type means text/plain. */
        strcpy(mime, "text/plain");
        return 0;
    }
    return slash > 0 && slash < n - 1 ? n : -1;
}

/* Skips ";param" pieces up to and including ";base64,"; returns a pointer to the payload or NULL.
 */
static const char *skip_params(const char *p)
{
    while (*p == ';') {
        const char *end = p + 1 + strcspn(p + 1, ";,");
        if (*end == ',' && end - p == 7 && strncasecmp(p + 1, "base64", 6) == 0) return end + 1;
        if (*end == '\0') return NULL;
        p = end;
    }
    return NULL; /* no ";base64" marker right before the comma: not a base64 data URL */
}

int vg_dataurl_head(const char *url, char mime[64], size_t *payload_len)
{
    if (!url || strncasecmp(url, "data:", 5) != 0) return -1;
    int n = read_mime(url + 5, mime);
    if (n < 0) return -1;
    const char *payload = skip_params(url + 5 + n);
    if (!payload) return -1;
    *payload_len = strnlen(payload, (size_t)VG_MAX_MULTIPART_BODY_BYTES + 1);
    return 0;
}

int vg_dataurl_decode(const char *url, char mime[64], unsigned char **out, size_t *out_len)
{
    if (!url || strncasecmp(url, "data:", 5) != 0) return -1;
    size_t len = strnlen(url, (size_t)VG_MAX_MULTIPART_BODY_BYTES + 1);
    if (len > VG_MAX_MULTIPART_BODY_BYTES) return -1;
    int n = read_mime(url + 5, mime);
    if (n < 0) return -1;
    const char *payload = skip_params(url + 5 + n);
    if (!payload) return -1;
    size_t plen = len - (size_t)(payload - url), dlen = 0;
    unsigned char *data = vg_base64_decode(payload, plen, &dlen);
    if (!data) return -1;
    if (dlen == 0) { /* an empty payload is no image, video or sound */
        free(data);
        return -1;
    }
    *out = data;
    *out_len = dlen;
    return 0;
}
