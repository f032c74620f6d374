/* fuzz_ranges.c - the small parsers on the request path: Range headers, data: URLs, money
 * amounts, pixel sizes and image headers. Results must be self-consistent. */
#include "core/dataurl.h"
#include "core/imagehead.h"
#include "core/models.h"
#include "core/money.h"
#include "http/sendfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    int iw, ih;
    if (vg_imagehead_size(data, size, &iw, &ih, NULL, 0) == 0 && (iw <= 0 || ih <= 0))
        __builtin_trap();
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    off_t first, last, total = 1 + (off_t)(size * 977);
    if (vg_range_parse(s, total, &first, &last) == 1 &&
        (first < 0 || last < first || last >= total))
        __builtin_trap();
    char mime[64];
    unsigned char *bytes = NULL;
    size_t n = 0;
    if (vg_dataurl_decode(s, mime, &bytes, &n) == 0) free(bytes);
    int64_t micro;
    if (vg_money_parse(s, &micro) == 0) {
        char back[VG_MONEY_STR_MAX];
        vg_money_format(micro, back);
        int64_t again;
        if (vg_money_parse(back, &again) != 0 || again != micro) __builtin_trap();
    }
    vg_resolution r;
    vg_ratio q;
    if (vg_size_from_pixels(s, &r, &q) == 0 && (r >= VG_RES_COUNT || q >= VG_RATIO_ADAPTIVE))
        __builtin_trap();
    free(s);
    return 0;
}
