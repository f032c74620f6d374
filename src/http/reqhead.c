/* reqhead.c - see reqhead.h. One pass over complete lines; nothing is copied. */
#include "http/reqhead.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the bytes of a method or a field name. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A field value byte: visible ASCII, space, tab, or obs-text. */
static bool is_value_byte(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool span_is(vg_span s, const char *lit)
{
    return s.len == strlen(lit) && strncasecmp(s.base, lit, s.len) == 0;
}

static vg_span trim(const char *b, const char *e)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return (vg_span){b, (size_t)(e - b)};
}

static vg_status bad(vg_err *e, const char *what)
{
    vg_err_set(e, 400, "invalid_request", "", "malformed HTTP request: %s", what);
    return VG_ERR;
}

static vg_status request_line(const char *b, const char *e, vg_reqhead *h, vg_err *err)
{
    const char *p = b;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == b || p == e || *p != ' ') return bad(err, "request line");
    h->method = (vg_span){b, (size_t)(p - b)};
    const char *t = ++p;
    while (p < e && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    if (p == t || p == e || *p != ' ') return bad(err, "request target");
    h->path = (vg_span){t, (size_t)(p - t)};
    p++;
    if (e - p == 8 && memcmp(p, "HTTP/2.0", 8) == 0)
        return bad(err, "HTTP/2 is not served here; use HTTP/1.1");
    if (e - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return bad(err, "HTTP version");
    h->minor_version = p[7] - '0';
    return VG_OK;
}

static vg_status content_length(vg_span v, vg_reqhead *h, vg_err *err)
{
    uint64_t n = 0;
    if (v.len == 0 || v.len > 18) return bad(err, "Content-Length");
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9') return bad(err, "Content-Length");
        n = n * 10 + (uint64_t)(v.base[i] - '0');
    }
    if (h->has_length && h->length != n) return bad(err, "conflicting Content-Length");
    h->has_length = true;
    h->length = n;
    return VG_OK;
}

/* The fields the server decides on; the others are only checked for their bytes. */
static vg_status field(vg_span name, vg_span v, vg_reqhead *h, vg_err *err)
{
    if (span_is(name, "content-length")) return content_length(v, h, err);
    if (span_is(name, "transfer-encoding")) {
        if (!span_is(v, "chunked")) return bad(err, "Transfer-Encoding other than chunked");
        h->chunked = true;
    } else if (span_is(name, "expect")) {
        if (!span_is(v, "100-continue")) {
            vg_err_set(err, 417, "expectation_failed", "",
                       "only Expect: 100-continue is supported");
            return VG_ERR;
        }
        h->expect_100 = true;
    } else if (span_is(name, "authorization")) {
        h->authorization = v;
    }
    return VG_OK;
}

static vg_status header_line(const char *b, const char *e, vg_reqhead *h, vg_err *err)
{
    if (*b == ' ' || *b == '\t') return bad(err, "folded header line");
    const char *colon = b;
    while (colon < e && is_tchar((unsigned char)*colon))
        colon++;
    if (colon == b || colon == e || *colon != ':') return bad(err, "header name");
    for (const char *p = colon + 1; p < e; p++)
        if (!is_value_byte((unsigned char)*p)) return bad(err, "control character in a header");
    return field((vg_span){b, (size_t)(colon - b)}, trim(colon + 1, e), h, err);
}

vg_status vg_reqhead_scan(const char *buf, size_t len, size_t max_bytes, int max_headers,
                          vg_reqhead *out, vg_err *e)
{
    memset(out, 0, sizeof *out);
    size_t limit = len < max_bytes ? len : max_bytes, pos = 0;
    while (pos < limit && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++; /* empty lines before a request are allowed (RFC 9112 §2.2) */
    bool first = true;
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', limit - pos);
        if (!nl) {
            if (len < max_bytes) return VG_AGAIN;
            vg_err_set(e, 431, "request_too_large", "", "request head exceeds %zu bytes",
                       max_bytes);
            return VG_ERR;
        }
        const char *b = buf + pos, *end = nl;
        if (end > b && end[-1] == '\r') end--;
        pos = (size_t)(nl - buf) + 1;
        if (memchr(b, '\0', (size_t)(end - b)))
            return bad(e, "NUL byte"); /* checked first: the message names the cause */
        if (first) {
            if (request_line(b, end, out, e)) return VG_ERR;
            first = false;
            continue;
        }
        if (end == b) break;
        if (++out->n_headers > max_headers) {
            vg_err_set(e, 431, "request_too_large", "", "more than %d header fields", max_headers);
            return VG_ERR;
        }
        if (header_line(b, end, out, e)) return VG_ERR;
    }
    if (out->chunked && out->has_length) return bad(e, "both Content-Length and Transfer-Encoding");
    out->head_len = pos;
    return VG_OK;
}
