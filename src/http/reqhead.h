/*
 * reqhead.h - a strict scan of an HTTP/1.x request head, done by the server on the bytes a new
 * connection has sent before h2o parses them, so that a request can be refused by its head
 * (malformed, too many headers, a body over the route's cap, no valid key for a large body) with
 * the JSON error envelope and without reading its body.
 *
 * Pure function over a buffer: no allocation, no state; the spans point into the buffer.
 * It accepts what h2o's parser accepts for well-formed requests (CRLF or LF line ends, leading
 * empty lines, obs-text in values) and refuses bytes h2o would refuse or that no client sends
 * (NUL and other control characters, folded header lines).
 */
#ifndef VG_HTTP_REQHEAD_H
#define VG_HTTP_REQHEAD_H
#include "common/status.h"
#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *base;
    size_t len;
} vg_span;

typedef struct {
    size_t head_len;       /* bytes from the buffer start up to and including the blank line */
    vg_span method;        /* e.g. "POST" */
    vg_span path;          /* the request target, query included */
    vg_span authorization; /* the Authorization value (trimmed); len 0 when absent */
    int minor_version;     /* HTTP/1.<minor> */
    int n_headers;
    bool has_length; /* a Content-Length was sent */
    uint64_t length; /* its value */
    bool chunked;    /* Transfer-Encoding: chunked */
    bool expect_100; /* Expect: 100-continue */
} vg_reqhead;

/**
 * Scans buf[0..len). VG_OK: a complete, acceptable head (*out filled). VG_AGAIN: incomplete and
 * still within max_bytes. Otherwise VG_ERR with the reply in *e: 431 (head over max_bytes or more
 * than max_headers fields), 400 (malformed, control bytes, conflicting or invalid
 * Content-Length, a Transfer-Encoding other than chunked, HTTP/2 or another version), 417 (an
 * Expect other than 100-continue).
 */
vg_status vg_reqhead_scan(const char *buf, size_t len, size_t max_bytes, int max_headers,
                          vg_reqhead *out, vg_err *e);

#endif
