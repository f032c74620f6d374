/*
 * multipart.h - a bounded, zero-copy parser for multipart/form-data request bodies (RFC 7578 on
 * RFC 2046), as the official OpenAI SDKs, browsers and curl -F send them.
 *
 * Contract:
 *   - The parser copies nothing: every name, filename, content type and payload is a view into the
 *     caller's body buffer, which must outlive the vg_multipart (the request's entity does).
 *   - Everything is bounded: the body by VG_MAX_MULTIPART_BODY_BYTES (limits.h), the number of
 *     parts, each part's payload and each part's header block by the VG_MP_* caps below. A cap hit
 *     is VG_TOOLARGE (HTTP 413); malformed input is VG_INVALID (HTTP 400). The reason is written
 *     once into vg_multipart.err.
 *   - A delimiter is "CRLF--boundary" followed by "--" (the close) or by optional blanks and CRLF;
 *     boundary text anywhere else, even at a line start, is part of the payload. A preamble before
 *     the first delimiter and an epilogue after the close are ignored.
 *   - Part headers: only Content-Disposition (must be form-data with a non-empty name; filename
 *     optional) and Content-Type are read; others are ignored. Quoted parameter values end at the
 *     next '"' and are not unescaped (browsers and the SDKs percent-encode quotes in names).
 *
 * Pure: no allocation, no I/O; thread-safe.
 */
#ifndef VG_HTTP_MULTIPART_H
#define VG_HTTP_MULTIPART_H
#include "common/limits.h"

#include <stdbool.h>
#include <stddef.h>

/* Caps of this parser (spec §9 bounds the whole body; these bound its pieces). */

/** A view into the body: not NUL-terminated; ptr is NULL when the item is absent. */
typedef struct {
    const char *ptr;
    size_t len;
} vg_mp_str;

typedef struct {
    vg_mp_str name;         /* the form field name; never empty */
    vg_mp_str filename;     /* set for file parts */
    vg_mp_str content_type; /* the part's Content-Type value, when given */
    const unsigned char *data;
    size_t len;
} vg_mp_part;

typedef struct {
    vg_mp_part parts[VG_MP_MAX_PARTS];
    int n;
    char err[160]; /* why parsing failed, for the 400/413 message */
} vg_multipart;

/** Whether a Content-Type header value names multipart/form-data (parameters not checked). */
bool vg_multipart_is_form(const char *content_type);

/**
 * Extracts the boundary parameter (token or quoted-string, 1..70 bytes) of a multipart/form-data
 * Content-Type into out. Returns 0, or -1 when the type is not multipart/form-data or the boundary
 * is missing or malformed.
 */
int vg_multipart_boundary(const char *content_type, char out[VG_MP_MAX_BOUNDARY_BYTES + 1]);

/**
 * Splits body into parts. Returns VG_OK with out->parts[0..n) filled (n ≥ 1), VG_TOOLARGE when a
 * cap is exceeded, VG_INVALID when the body is malformed (no opening delimiter, no closing
 * delimiter, a part without a name, a bad header line); out->err says why.
 */
int vg_multipart_parse(const void *body, size_t len, const char *boundary, vg_multipart *out);

/** The first part named name, or NULL. */
const vg_mp_part *vg_multipart_find(const vg_multipart *m, const char *name);

#endif
