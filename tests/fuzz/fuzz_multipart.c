/* fuzz_multipart.c - multipart/form-data bodies: the first line of the input is the Content-Type,
 * the rest the body. Every part the parser returns must lie inside the body. */
#include "http/multipart.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void check_inside(const void *body, size_t len, const void *p, size_t n)
{
    const uint8_t *b = body, *q = p;
    if (q && (q < b || q + n > b + len)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || (size_t)(nl - data) > 512) return 0;
    char ctype[513];
    memcpy(ctype, data, (size_t)(nl - data));
    ctype[nl - data] = '\0';
    char boundary[VG_MP_MAX_BOUNDARY_BYTES + 1];
    if (vg_multipart_boundary(ctype, boundary)) return 0;
    const uint8_t *body = nl + 1;
    size_t len = size - (size_t)(body - data);
    static vg_multipart m; /* large: keep it off the stack */
    if (vg_multipart_parse(body, len, boundary, &m) != 0) return 0;
    for (int i = 0; i < m.n; i++) {
        check_inside(body, len, m.parts[i].data, m.parts[i].len);
        check_inside(body, len, m.parts[i].name.ptr, m.parts[i].name.len);
        check_inside(body, len, m.parts[i].filename.ptr, m.parts[i].filename.len);
    }
    return 0;
}
