/*
 * http_client.c - see http_client.h.
 *
 * Whether a failed request may have reached the server is read from libcurl's timings: when the
 * transfer never got past connecting (CURLINFO_PRETRANSFER_TIME_T is 0), no byte of the request
 * was written, so the failure is NOT_SENT; any later failure is LOST. Connection-level errors
 * that can only happen before sending (resolve, connect) are NOT_SENT by code.
 */
#include "net/http_client.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "common/status.h"
#include "net/fetch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_AGENT "vidgate/0.1"

struct vg_http_client {
    CURL *h;
    const atomic_bool *abort;
};

typedef struct {
    char *buf;
    size_t len, cap;
    bool too_large;
    bool public_only;
    bool refused;
    const atomic_bool *abort;
} xfer;

vg_http_client *vg_http_client_new(void)
{
    vg_fetch_global_init(); /* libcurl's global state, once per process */
    vg_http_client *c = vg_calloc(1, sizeof *c);
    c->h = curl_easy_init();
    return c;
}

void vg_http_client_set_abort(vg_http_client *c, const atomic_bool *flag)
{
    c->abort = flag;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const xfer *x = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    return x->abort && atomic_load(x->abort) ? 1 : 0;
}

void vg_http_client_free(vg_http_client *c)
{
    if (!c) return;
    if (c->h) curl_easy_cleanup(c->h);
    free(c);
}

void vg_http_resp_free(vg_http_resp *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->len + n > VG_UPSTREAM_MAX_REPLY_BYTES) {
        x->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (x->len + n + 1 > x->cap) {
        x->cap = (x->len + n + 1) * 2;
        x->buf = vg_realloc(x->buf, x->cap);
    }
    memcpy(x->buf + x->len, p, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = ud;
    (void)purpose;
    if (x->public_only && !vg_fetch_addr_public(&a->addr)) {
        x->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static CURLcode setup(CURL *h, const vg_http_req *r, xfer *x, struct curl_slist *hdrs)
{
    long timeout = r->timeout_ms > 0 ? r->timeout_ms : VG_UPSTREAM_TIMEOUT_MS;
    long connect = timeout < VG_UPSTREAM_CONNECT_MS ? timeout : VG_UPSTREAM_CONNECT_MS;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val);                                    \
    } while (0)
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CUSTOMREQUEST, r->method);
    SET(CURLOPT_NOBODY, strcmp(r->method, "HEAD") == 0 ? 1L : 0L);
    SET(CURLOPT_HTTPGET, r->body ? 0L : 1L);
    if (r->body) {
        SET(CURLOPT_POSTFIELDS, r->body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    }
    SET(CURLOPT_CUSTOMREQUEST, r->method); /* HTTPGET/POSTFIELDS reset it */
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, x);
    SET(CURLOPT_NOPROGRESS, x->abort ? 0L : 1L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    /* libcurl silently sends a request again when a reused connection dies before any reply;
     * for a POST that creates something that could create it twice. A fresh connection is
     * never resent. */
    SET(CURLOPT_FRESH_CONNECT, r->public_only || strcmp(r->method, "POST") == 0 ? 1L : 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
#undef SET
    return rc;
}

static bool never_sent(CURL *h, CURLcode rc)
{
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
        return true;
    curl_off_t pre = 0;
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre);
    return pre == 0;
}

static struct curl_slist *headers(const vg_http_req *r)
{
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, "Accept: application/json");
    l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip for bodies */
    if (r->body) l = curl_slist_append(l, "Content-Type: application/json");
    if (r->bearer) {
        char *a = vg_asprintf("Authorization: Bearer %s", r->bearer);
        l = curl_slist_append(l, a);
        free(a);
    }
    return l;
}

/* Retry-After in seconds (libcurl reads both the delay and the HTTP-date form), -1 when absent,
 * zero or a day or more away (a zero is read as absent: libcurl cannot tell them apart, and the
 * caller's own backoff is then the safer choice). */
static int retry_after(CURL *h)
{
    curl_off_t s = 0;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &s) != CURLE_OK || s <= 0 || s >= 86400)
        return -1;
    return (int)s;
}

int vg_http_do(vg_http_client *c, const vg_http_req *r, vg_http_resp *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    xfer x = {.public_only = r->public_only, .abort = c->abort};
    if (!c->h) c->h = curl_easy_init();
    if (!c->h) {
        out->outcome = VG_HTTP_NOT_SENT;
        snprintf(out->error, sizeof out->error, "cannot create a transfer");
        return VG_AGAIN;
    }
    curl_easy_reset(c->h); /* options only: the connection cache survives a reset */
    struct curl_slist *hdrs = headers(r);
    CURLcode rc = setup(c->h, r, &x, hdrs);
    if (rc == CURLE_OK) rc = curl_easy_perform(c->h);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK && !x.too_large) {
        out->outcome = VG_HTTP_DONE;
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = x.buf ? x.buf : vg_strdup("");
        out->body_len = x.len;
        out->retry_after_s = retry_after(c->h);
        return VG_OK;
    }
    free(x.buf);
    if (x.refused) {
        out->outcome = VG_HTTP_NOT_SENT;
        snprintf(out->error, sizeof out->error, "destination is not a public address");
    } else if (x.too_large) {
        out->outcome = VG_HTTP_LOST;
        snprintf(out->error, sizeof out->error, "reply larger than %u bytes",
                 VG_UPSTREAM_MAX_REPLY_BYTES);
    } else {
        out->outcome = never_sent(c->h, rc) ? VG_HTTP_NOT_SENT : VG_HTTP_LOST;
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
    }
    return VG_AGAIN;
}

void vg_http_query_escape(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    char *esc = curl_easy_escape(NULL, s, 0); /* the handle is ignored since libcurl 7.82 */
    if (!esc) return;
    size_t k = strlen(esc);
    if (n + k >= cap) {
        k = cap - 1 - n;
        /* never cut a %XX in half */
        if (k >= 1 && esc[k - 1] == '%')
            k -= 1;
        else if (k >= 2 && esc[k - 2] == '%')
            k -= 2;
    }
    memcpy(buf + n, esc, k);
    buf[n + k] = '\0';
    curl_free(esc);
}
