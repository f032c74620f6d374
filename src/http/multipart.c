/*
 * multipart.c - multipart/form-data splitting; see multipart.h for the contract.
 *
 * The body is scanned once: memmem finds each "CRLF--boundary"; a hit counts as a delimiter only
 * when the bytes after it make a delimiter line (see delim_tail), so a payload that happens to
 * contain the boundary text is not cut. Header blocks are searched within their cap only, so a
 * body without the blank line costs at most VG_MP_MAX_PART_HEADER_BYTES of scanning per part.
 */
#include "http/multipart.h"

#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *base, *end;
    char delim[4 + VG_MP_MAX_BOUNDARY_BYTES + 1]; /* "\r\n--" + boundary */
    size_t dlen;
    vg_multipart *out;
} parser;

static int fail(vg_multipart *m, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(vg_multipart *m, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    return rc;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static vg_mp_str trim(const char *p, const char *end)
{
    while (p < end && is_blank(*p))
        p++;
    while (end > p && is_blank(end[-1]))
        end--;
    return (vg_mp_str){p, (size_t)(end - p)};
}

static bool str_ieq(vg_mp_str s, const char *lit)
{
    return s.len == strlen(lit) && strncasecmp(s.ptr, lit, s.len) == 0;
}

/* ---- Content-Type ------------------------------------------------------------------------- */

bool vg_multipart_is_form(const char *ct)
{
    if (!ct) return false;
    while (is_blank(*ct))
        ct++;
    return strncasecmp(ct, "multipart/form-data", 19) == 0 &&
           (ct[19] == '\0' || ct[19] == ';' || is_blank(ct[19]));
}

/* Reads a parameter value (quoted-string with backslash escapes, or a token) into out, or just
 * skips it when out is NULL. Returns the position after it, or NULL when it is malformed or
 * longer than cap. */
static const char *param_value(const char *p, char *out, size_t cap, size_t *n)
{
    bool quoted = *p == '"';
    *n = 0;
    for (p += quoted; quoted ? *p != '"' : *p && *p != ';' && !is_blank(*p); p++) {
        if (quoted && *p == '\\' && p[1]) p++;
        if (!*p || (out && *n == cap)) return NULL;
        if (out) out[*n] = *p;
        (*n)++;
    }
    return p + quoted;
}

int vg_multipart_boundary(const char *ct, char out[VG_MP_MAX_BOUNDARY_BYTES + 1])
{
    if (!vg_multipart_is_form(ct)) return -1;
    const char *p = strchr(ct, ';');
    while (p && *p) {
        p++;
        while (is_blank(*p))
            p++;
        const char *eq = p + strcspn(p, "=;");
        if (*eq != '=') {
            p = strchr(p, ';');
            continue;
        }
        bool want = (size_t)(eq - p) == 8 && strncasecmp(p, "boundary", 8) == 0;
        size_t n = 0;
        p = param_value(eq + 1, want ? out : NULL, VG_MP_MAX_BOUNDARY_BYTES, &n);
        if (!p) return -1;
        if (want) {
            out[n] = '\0';
            /* RFC 2046: 1..70 characters, no control bytes, not ending in a space. */
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) return -1;
            return n == 0 || out[n - 1] == ' ' ? -1 : 0;
        }
        p = strchr(p, ';');
    }
    return -1;
}

/* ---- part headers ------------------------------------------------------------------------- */

/* The first byte at or after p that is in set (or end). The views are not NUL-terminated. */
static const char *scan_to(const char *p, const char *end, const char *set)
{
    while (p < end && !strchr(set, *p))
        p++;
    return p;
}

/* One parameter value at p: a quoted string (up to the next '"') or a token (up to ';'). */
static const char *disposition_value(vg_multipart *m, const char *p, const char *end, vg_mp_str *v)
{
    while (p < end && is_blank(*p))
        p++;
    if (p < end && *p == '"') {
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close)
            return fail(m, VG_INVALID, "part %d: unterminated quoted parameter", m->n + 1), NULL;
        *v = (vg_mp_str){p + 1, (size_t)(close - p - 1)};
        return close + 1;
    }
    const char *t = scan_to(p, end, ";");
    *v = trim(p, t);
    return t;
}

/* Content-Disposition: form-data; name="x"; filename="y". Other parameters are ignored. */
static int parse_disposition(vg_multipart *m, vg_mp_str v, vg_mp_part *part)
{
    const char *end = v.ptr + v.len, *p = scan_to(v.ptr, end, ";");
    if (!str_ieq(trim(v.ptr, p), "form-data"))
        return fail(m, VG_INVALID, "part %d: Content-Disposition must be form-data", m->n + 1);
    while (p < end) {
        const char *stop = scan_to(p + 1, end, "=;");
        vg_mp_str name = trim(p + 1, stop), val = {stop, 0};
        p = stop;
        if (p < end && *p == '=' && !(p = disposition_value(m, p + 1, end, &val)))
            return VG_INVALID;
        if (str_ieq(name, "name")) part->name = val;
        if (str_ieq(name, "filename")) part->filename = val;
        p = scan_to(p, end, ";"); /* anything after a quoted value up to the next ';' */
    }
    return VG_OK;
}

static int parse_header_line(vg_multipart *m, const char *line, const char *eol, vg_mp_part *part)
{
    for (const char *q = line; q < eol; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
            return fail(m, VG_INVALID, "part %d: control character in a header", m->n + 1);
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    if (!colon || colon == line)
        return fail(m, VG_INVALID, "part %d: malformed header line", m->n + 1);
    vg_mp_str name = trim(line, colon), value = trim(colon + 1, eol);
    if (str_ieq(name, "content-disposition")) return parse_disposition(m, value, part);
    if (str_ieq(name, "content-type")) part->content_type = value;
    return VG_OK;
}

/* Parses the header block at p; *data is where the payload starts. */
static int parse_headers(parser *ps, const char *p, vg_mp_part *part, const char **data)
{
    vg_multipart *m = ps->out;
    size_t avail = (size_t)(ps->end - p);
    const char *hend = NULL;
    if (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
        hend = p; /* no headers at all: caught below as a part without a name */
        *data = p + 2;
    } else {
        size_t window =
            avail < VG_MP_MAX_PART_HEADER_BYTES + 4 ? avail : VG_MP_MAX_PART_HEADER_BYTES + 4;
        hend = memmem(p, window, "\r\n\r\n", 4);
        if (!hend && avail > VG_MP_MAX_PART_HEADER_BYTES)
            return fail(m, VG_TOOLARGE, "part %d: headers exceed %u bytes", m->n + 1,
                        VG_MP_MAX_PART_HEADER_BYTES);
        if (!hend) return fail(m, VG_INVALID, "part %d: headers are not terminated", m->n + 1);
        *data = hend + 4;
    }
    for (const char *line = p; line < hend;) {
        const char *eol = memmem(line, (size_t)(hend + 2 - line), "\r\n", 2);
        int rc = parse_header_line(m, line, eol, part);
        if (rc != VG_OK) return rc;
        line = eol + 2;
    }
    if (!part->name.ptr || part->name.len == 0)
        return fail(m, VG_INVALID, "part %d has no name", m->n + 1);
    return VG_OK;
}

/* ---- delimiters --------------------------------------------------------------------------- */

/* What follows "--boundary": "--" (the close, *close set) or blanks + CRLF. Returns the length of
 * that tail, or 0 when these bytes do not end a delimiter line. */
static size_t delim_tail(const char *p, const char *end, bool *close)
{
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
        *close = true;
        return 2;
    }
    const char *q = p;
    while (q < end && is_blank(*q))
        q++;
    if (end - q < 2 || q[0] != '\r' || q[1] != '\n') return 0;
    *close = false;
    return (size_t)(q + 2 - p);
}

/* The next delimiter ("CRLF--boundary" + tail) at or after p; NULL when there is none. */
static const char *next_delim(const parser *ps, const char *p, size_t *tail, bool *close)
{
    while (p < ps->end) {
        const char *q = memmem(p, (size_t)(ps->end - p), ps->delim, ps->dlen);
        if (!q) return NULL;
        if ((*tail = delim_tail(q + ps->dlen, ps->end, close)) > 0) return q;
        p = q + 1;
    }
    return NULL;
}

/* The first delimiter may start the body without a CRLF before it. Returns the position after
 * its tail, or NULL. */
static const char *first_delim(const parser *ps, bool *close)
{
    size_t tail, dash_len = ps->dlen - 2;
    if ((size_t)(ps->end - ps->base) >= dash_len &&
        memcmp(ps->base, ps->delim + 2, dash_len) == 0 &&
        (tail = delim_tail(ps->base + dash_len, ps->end, close)) > 0)
        return ps->base + dash_len + tail;
    const char *q = next_delim(ps, ps->base, &tail, close);
    return q ? q + ps->dlen + tail : NULL;
}

/* ---- entry points ------------------------------------------------------------------------- */

static int parse_parts(parser *ps, const char *p, bool close)
{
    vg_multipart *m = ps->out;
    while (!close) {
        if (m->n == VG_MP_MAX_PARTS)
            return fail(m, VG_TOOLARGE, "more than %d parts", VG_MP_MAX_PARTS);
        vg_mp_part part = {0};
        const char *data = NULL;
        int rc = parse_headers(ps, p, &part, &data);
        if (rc != VG_OK) return rc;
        size_t tail;
        const char *q = next_delim(ps, data, &tail, &close);
        if (!q) return fail(m, VG_INVALID, "part %d: no closing boundary", m->n + 1);
        if ((size_t)(q - data) > VG_MP_MAX_PART_BYTES)
            return fail(m, VG_TOOLARGE, "part '%.*s' is larger than %u bytes",
                        (int)(part.name.len > 64 ? 64 : part.name.len), part.name.ptr,
                        VG_MP_MAX_PART_BYTES);
        part.data = (const unsigned char *)data;
        part.len = (size_t)(q - data);
        m->parts[m->n++] = part;
        p = q + ps->dlen + tail;
    }
    return m->n ? VG_OK : fail(m, VG_INVALID, "the form has no parts");
}

int vg_multipart_parse(const void *body, size_t len, const char *boundary, vg_multipart *out)
{
    out->n = 0;
    out->err[0] = '\0';
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen == 0 || blen > VG_MP_MAX_BOUNDARY_BYTES)
        return fail(out, VG_INVALID, "invalid multipart boundary");
    if (len > VG_MAX_MULTIPART_BODY_BYTES)
        return fail(out, VG_TOOLARGE, "multipart body is larger than %u bytes",
                    VG_MAX_MULTIPART_BODY_BYTES);
    if (!body || len == 0) return fail(out, VG_INVALID, "empty multipart body");
    parser ps = {.base = body, .end = (const char *)body + len, .out = out};
    ps.dlen = (size_t)snprintf(ps.delim, sizeof ps.delim, "\r\n--%s", boundary);
    bool close = false;
    const char *p = first_delim(&ps, &close);
    if (!p) return fail(out, VG_INVALID, "no opening boundary in the multipart body");
    return parse_parts(&ps, p, close);
}

const vg_mp_part *vg_multipart_find(const vg_multipart *m, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < m->n; i++)
        if (m->parts[i].name.len == n && memcmp(m->parts[i].name.ptr, name, n) == 0)
            return &m->parts[i];
    return NULL;
}
