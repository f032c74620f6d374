/* fuzz_urlpolicy.c - the one URL policy (core/urlpolicy.h): any bytes must give a verdict with a
 * reason, never a crash or undefined behaviour; an accepted URL stays accepted under a wider
 * policy (more allowed never refuses what less allowed accepted), and every acceptance has the
 * form the rule promises (a lower-case web scheme, no space, within the length cap). */
#include "common/limits.h"
#include "common/status.h"
#include "core/urlpolicy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* The first byte picks the policy; the rest is the URL. */
    vg_url_policy p = {
        .allow_http = data[0] & 1, .allow_private = data[0] & 2, .allow_loopback = data[0] & 4};
    char *url = malloc(size);
    if (!url) return 0;
    memcpy(url, data + 1, size - 1);
    url[size - 1] = '\0';
    vg_url_verdict why = VG_URL_OK;
    int rc = vg_urlpolicy_check(url, &p, &why);
    if ((rc == VG_OK) != (why == VG_URL_OK)) __builtin_trap();
    const char *reason = vg_urlpolicy_reason(why, &p);
    if (!reason || !*reason) __builtin_trap();
    if (rc == VG_OK) {
        if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) __builtin_trap();
        if (strlen(url) > VG_MAX_URL_BYTES || strpbrk(url, " \t\r\n")) __builtin_trap();
        vg_url_policy wide = {.allow_http = true, .allow_private = true, .allow_loopback = true};
        if (vg_urlpolicy_check(url, &wide, NULL) != VG_OK) __builtin_trap();
    }
    free(url);
    return 0;
}
