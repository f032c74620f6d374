/*
 * fetch.h - downloads user-supplied URLs (first-frame images, asset URLs, upstream results) without
 * letting a user point the server at itself or at the network behind it (SSRF).
 *
 * Policy, enforced in two places:
 *   1. vg_fetch_check_url(), before every fetch: the one URL policy of core/urlpolicy.h (the same
 *      rule request validation applies at submit): https (or http when allowed), a host, no
 *      userinfo, a valid port, at most VG_MAX_URL_BYTES, and a host written as a literal IP (any
 *      form libcurl accepts) is a public address.
 *   2. While fetching, every socket libcurl wants to open is vetted first, against the address it
 *      is about to connect to. That covers DNS names that resolve to private addresses, DNS
 *      rebinding, and every redirect hop. Redirects are also limited to the same schemes and to
 *      VG_FETCH_MAX_REDIRECTS hops.
 * Sizes are bounded by max_bytes (checked against Content-Length up front and while reading) and
 * time by timeout_ms. No proxy from the environment, no cookies, no credentials, no decompression.
 *
 * Ownership: vg_fetch_mem() hands back a malloc'd buffer the caller frees. Error messages go into
 * the caller's buffer (may be NULL); they name the reason (policy, HTTP status, timeout, ...) but
 * never echo the URL, resolved addresses or libcurl's detail text.
 *
 * Thread-safety: every function may be called from any thread at the same time; each fetch uses
 * its own libcurl easy handle. libcurl's global state is set up once through
 * vg_fetch_global_init(), which the fetch functions call themselves.
 */
#ifndef VG_FETCH_H
#define VG_FETCH_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define VG_FETCH_CTYPE_BYTES 128

typedef struct {
    bool allow_http;     /* accept http:// as well as https:// */
    bool allow_private;  /* accept any non-public destination: loopback, private, link-local, ... */
    bool allow_loopback; /* accept loopback only (127/8, ::1, ::ffff:127/104): a same-host setup */
    size_t max_bytes;    /* 0 = VG_FETCH_MAX_BYTES; larger values are lowered to it */
    long timeout_ms;     /* whole transfer; 0 = VG_FETCH_TIMEOUT_MS; larger values are lowered */
} vg_fetch_opts;

/** Sets up libcurl's global state once per process. Idempotent and thread-safe. */
void vg_fetch_global_init(void);

/**
 * Cheap syntactic check, no network: vg_urlpolicy_check() with the policy part of o, and libcurl
 * must be able to parse the URL. o may be NULL (defaults). Returns VG_OK, or VG_INVALID with the
 * reason ("url <why>") in err.
 */
int vg_fetch_check_url(const char *url, const vg_fetch_opts *o, char *err, size_t errlen);

/**
 * The host of url as libcurl reads it (lower case as written, IPv6 in brackets), for messages
 * that tell a user which of their URLs failed. Returns VG_OK, or VG_INVALID (out = "") when url
 * has no host or it does not fit n bytes.
 */
int vg_fetch_url_host(const char *url, char *out, size_t n);

/** vg_urlpolicy_addr_public(): 1 when sa is a public unicast destination (see urlpolicy.h). */
int vg_fetch_addr_public(const struct sockaddr *sa);

/**
 * Fetches url into memory. On VG_OK, *out is a malloc'd buffer the caller frees (NUL-terminated
 * for convenience; the terminator is not counted in *out_len), and ctype, when not NULL, holds the
 * media type in lower case without parameters ("" when the server sent none). On failure *out is
 * NULL and the status is: VG_INVALID refused by policy (scheme, userinfo, destination address,
 * redirect to another scheme); VG_TOOLARGE the body exceeds max_bytes (nothing more is read);
 * VG_ERR an HTTP status outside 2xx (the message has it), too many redirects, a timeout or another
 * network error.
 */
int vg_fetch_mem(const char *url, const vg_fetch_opts *o, unsigned char **out, size_t *out_len,
                 char ctype[VG_FETCH_CTYPE_BYTES], char *err, size_t errlen);

/**
 * Same policy and statuses, but streams the body to path, never holding it in memory. The file
 * is created (or truncated) with mode 0600 and O_NOFOLLOW, and flushed with fsync() before VG_OK.
 * On any failure after it was opened, path is removed; a URL refused by vg_fetch_check_url() never
 * creates it. *out_len receives the byte count (0 on failure).
 */
int vg_fetch_file(const char *url, const vg_fetch_opts *o, const char *path, size_t *out_len,
                  char ctype[VG_FETCH_CTYPE_BYTES], char *err, size_t errlen);

/**
 * POSTs body (content type application/json) to url with the extra header lines headers[0..n)
 * ("Name: value"), under the same policy as a fetch (the URL check first, then every connection
 * vetted at connect time), without following redirects (a receiver answers where it was asked).
 * o->timeout_ms bounds the whole attempt. curl is the caller's libcurl easy handle, reused from
 * one call to the next so that a worker keeps its connections (NULL: one is made for the call).
 * The reply's body is read up to VG_WEBHOOK_MAX_REPLY_BYTES and dropped. *http_status = the
 * reply's status, 0 when there was none. VG_OK for a 2xx; VG_INVALID refused by policy; VG_ERR
 * otherwise (the message in err names the status or the network error).
 */
int vg_fetch_post(void *curl, const char *url, const vg_fetch_opts *o, const char *const *headers,
                  size_t n, const char *body, size_t body_len, long *http_status, char *err,
                  size_t errlen);

#endif
