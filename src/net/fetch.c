/*
 * fetch.c - see fetch.h for the contract.
 *
 * Design: the address check must judge the address that is actually connected to, not the one a
 * resolver returned a moment earlier (DNS rebinding) and not only the first URL (redirects). So
 * the check lives in libcurl's open-socket callback: libcurl calls it with the resolved peer
 * address of every connection it makes, for the first URL and every redirect hop, and refusing to
 * create the socket stops that connection before a single packet is sent. The callback records
 * the refusal in the per-fetch context, which is how a refused fetch is told apart from an
 * ordinary connect failure afterwards. vg_fetch_check_url() is the cheap front door: the one URL
 * policy (core/urlpolicy.h, shared with request validation) catches bad forms, schemes and literal
 * addresses before anything is queued; the address tables live there too, so the front door and
 * the connect-time check can never disagree about what "public" means.
 */
#include "net/fetch.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "common/status.h"
#include "core/urlpolicy.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_USER_AGENT "vidgate/0.1"

/* The policy of a fetch: the URL-form part of the options. */
static vg_url_policy policy_of(const vg_fetch_opts *o)
{
    vg_url_policy p = {.allow_http = o->allow_http,
                       .allow_private = o->allow_private,
                       .allow_loopback = o->allow_loopback};
    return p;
}

int vg_fetch_addr_public(const struct sockaddr *sa)
{
    return vg_urlpolicy_addr_public(sa);
}

/* ---------------------------------------------------------------------------------------------
 * Messages and setup
 * ------------------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void vg_fetch_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

static const vg_fetch_opts default_opts;

/* ---------------------------------------------------------------------------------------------
 * Syntactic check
 * ------------------------------------------------------------------------------------------- */

int vg_fetch_check_url(const char *url, const vg_fetch_opts *o, char *err, size_t errlen)
{
    if (!o) o = &default_opts;
    vg_url_policy p = policy_of(o);
    vg_url_verdict why;
    if (vg_urlpolicy_check(url, &p, &why) != VG_OK)
        return fail(err, errlen, VG_INVALID, "url %s", vg_urlpolicy_reason(why, &p));
    /* The policy's split is stricter than libcurl's; this makes sure libcurl reads it at all. */
    vg_fetch_global_init();
    CURLU *u = curl_url();
    if (!u) return fail(err, errlen, VG_ERR, "url parser unavailable");
    int st = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
                 ? VG_OK
                 : fail(err, errlen, VG_INVALID, "url is malformed");
    curl_url_cleanup(u);
    return st;
}

int vg_fetch_url_host(const char *url, char *out, size_t n)
{
    if (!n) return VG_INVALID;
    out[0] = '\0';
    vg_fetch_global_init();
    char *host = NULL;
    CURLU *u = curl_url();
    int st = VG_INVALID;
    if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host &&
        strlen(host) < n) {
        memcpy(out, host, strlen(host) + 1);
        st = VG_OK;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Transfer
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const vg_fetch_opts *o;
    size_t max_bytes;
    long timeout_ms;
    int fd;             /* file sink, or -1 for the memory sink */
    unsigned char *buf; /* memory sink: len bytes used, cap allocated (always > len) */
    size_t len, cap;
    size_t total; /* bytes accepted from the body */
    bool refused; /* the socket callback refused a destination */
    bool too_large;
    int write_errno; /* the file sink failed */
} fetch_ctx;

static void ctx_init(fetch_ctx *c, const vg_fetch_opts *o, int fd)
{
    memset(c, 0, sizeof *c);
    c->o = o ? o : &default_opts;
    c->max_bytes = c->o->max_bytes && c->o->max_bytes < VG_FETCH_MAX_BYTES ? c->o->max_bytes
                                                                           : VG_FETCH_MAX_BYTES;
    c->timeout_ms = c->o->timeout_ms > 0 && c->o->timeout_ms < VG_FETCH_TIMEOUT_MS
                        ? c->o->timeout_ms
                        : VG_FETCH_TIMEOUT_MS;
    c->fd = fd;
}

static int addr_allowed(const fetch_ctx *c, const struct sockaddr *sa)
{
    vg_url_policy p = policy_of(c->o);
    return vg_urlpolicy_addr_allowed(&p, sa);
}

static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    fetch_ctx *c = clientp;
    size_t need = a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (purpose != CURLSOCKTYPE_IPCXN || (a->family != AF_INET && a->family != AF_INET6) ||
        a->addrlen < need || !addr_allowed(c, &a->addr)) {
        c->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int sink_file(fetch_ctx *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            c->write_errno = w < 0 ? errno : EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sink_mem(fetch_ctx *c, const char *p, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16384;
        if (cap < c->len + n + 1) cap = c->len + n + 1;
        if (cap > c->max_bytes + 1) cap = c->max_bytes + 1;
        c->buf = vg_realloc(c->buf, cap);
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
    fetch_ctx *c = userdata;
    size_t n = size * nmemb; /* size is always 1 */
    if (n > c->max_bytes - c->total) {
        c->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (c->fd >= 0) {
        if (sink_file(c, p, n) != 0) return 0;
    } else {
        sink_mem(c, p, n);
    }
    c->total += n;
    return n;
}

static CURLcode setup(CURL *h, const char *url, fetch_ctx *c)
{
    const char *schemes = c->o->allow_http ? "http,https" : "https";
    long connect_ms = VG_FETCH_CONNECT_MS < c->timeout_ms ? VG_FETCH_CONNECT_MS : c->timeout_ms;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val);                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, schemes);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, schemes);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)VG_FETCH_MAX_REDIRECTS);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    SET(CURLOPT_OPENSOCKETDATA, c);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, c);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SET(CURLOPT_USERAGENT, FETCH_USER_AGENT);
    SET(CURLOPT_PROXY, "");       /* ignore http_proxy and friends from the environment */
    SET(CURLOPT_FAILONERROR, 1L); /* do not read error bodies */
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
#undef SET
    return rc;
}

/* Lower-cased media type without parameters; "" when absent. */
static void copy_ctype(CURL *h, char ctype[VG_FETCH_CTYPE_BYTES])
{
    char *ct = NULL;
    size_t n = 0;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
        while (*ct == ' ' || *ct == '\t')
            ct++;
        while (n < VG_FETCH_CTYPE_BYTES - 1 && ct[n] && ct[n] != ';' && ct[n] != ' ' &&
               ct[n] != '\t') {
            ctype[n] = (char)tolower((unsigned char)ct[n]);
            n++;
        }
    }
    ctype[n] = '\0';
}

static int map_result(CURL *h, CURLcode rc, const fetch_ctx *c, char *err, size_t errlen)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return fail(err, errlen, VG_TOOLARGE, "download is larger than %zu bytes", c->max_bytes);
    if (c->write_errno)
        return fail(err, errlen, VG_ERR, "cannot write the download: %s", strerror(c->write_errno));
    if (rc != CURLE_OK && c->refused)
        return fail(err, errlen, VG_INVALID,
                    "destination is not a public address (loopback, private or reserved)");
    switch (rc) {
    case CURLE_OK:
        break;
    case CURLE_HTTP_RETURNED_ERROR:
        return fail(err, errlen, VG_ERR, "download failed with HTTP status %ld", status);
    case CURLE_UNSUPPORTED_PROTOCOL:
        return fail(err, errlen, VG_INVALID, "redirected to a scheme that is not allowed");
    case CURLE_TOO_MANY_REDIRECTS:
        return fail(err, errlen, VG_ERR, "more than %d redirects", VG_FETCH_MAX_REDIRECTS);
    case CURLE_OPERATION_TIMEDOUT:
        return fail(err, errlen, VG_ERR, "download timed out (limit %ld ms)", c->timeout_ms);
    case CURLE_COULDNT_RESOLVE_HOST:
        return fail(err, errlen, VG_ERR, "could not resolve the host");
    case CURLE_COULDNT_CONNECT:
        return fail(err, errlen, VG_ERR, "could not connect to the host");
    default:
        return fail(err, errlen, VG_ERR, "download failed: %s", curl_easy_strerror(rc));
    }
    if (status < 200 || status > 299)
        return fail(err, errlen, VG_ERR, "download failed with HTTP status %ld", status);
    return VG_OK;
}

/* Runs one transfer into c's sink; the URL has already passed vg_fetch_check_url(). */
static int fetch_run(const char *url, fetch_ctx *c, char *ctype, char *err, size_t errlen)
{
    vg_fetch_global_init();
    if (global_rc != CURLE_OK) return fail(err, errlen, VG_ERR, "libcurl failed to initialise");
    CURL *h = curl_easy_init();
    if (!h) return fail(err, errlen, VG_ERR, "cannot create a transfer");
    int st;
    CURLcode rc = setup(h, url, c);
    if (rc != CURLE_OK) {
        st = fail(err, errlen, VG_ERR, "transfer setup failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(h);
    st = map_result(h, rc, c, err, errlen);
    if (st == VG_OK && ctype) copy_ctype(h, ctype);
out:
    curl_easy_cleanup(h);
    return st;
}

int vg_fetch_mem(const char *url, const vg_fetch_opts *o, unsigned char **out, size_t *out_len,
                 char ctype[VG_FETCH_CTYPE_BYTES], char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    if (ctype) ctype[0] = '\0';
    int st = vg_fetch_check_url(url, o, err, errlen);
    if (st != VG_OK) return st;
    fetch_ctx c;
    ctx_init(&c, o, -1);
    st = fetch_run(url, &c, ctype, err, errlen);
    if (st != VG_OK) {
        free(c.buf);
        return st;
    }
    if (!c.buf) c.buf = vg_malloc(1);
    c.buf[c.len] = '\0';
    *out = c.buf;
    *out_len = c.len;
    return VG_OK;
}

int vg_fetch_file(const char *url, const vg_fetch_opts *o, const char *path, size_t *out_len,
                  char ctype[VG_FETCH_CTYPE_BYTES], char *err, size_t errlen)
{
    *out_len = 0;
    if (ctype) ctype[0] = '\0';
    int st = vg_fetch_check_url(url, o, err, errlen);
    if (st != VG_OK) return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail(err, errlen, VG_ERR, "cannot create the file: %s", strerror(errno));
    fetch_ctx c;
    ctx_init(&c, o, fd);
    /* The file may have existed with a wider mode; O_CREAT's mode only applies to new files. */
    if (fchmod(fd, 0600) != 0)
        st = fail(err, errlen, VG_ERR, "cannot set the file mode: %s", strerror(errno));
    else
        st = fetch_run(url, &c, ctype, err, errlen);
    if (st == VG_OK && fsync(fd) != 0)
        st = fail(err, errlen, VG_ERR, "cannot flush the file: %s", strerror(errno));
    if (close(fd) != 0 && st == VG_OK)
        st = fail(err, errlen, VG_ERR, "cannot close the file: %s", strerror(errno));
    if (st != VG_OK) {
        unlink(path);
        if (ctype) ctype[0] = '\0';
        return st;
    }
    *out_len = c.total;
    return VG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * POST (webhook deliveries)
 * ------------------------------------------------------------------------------------------- */

/* The reply is not used: count it against the cap and drop it. */
static size_t discard_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
    (void)p;
    fetch_ctx *c = userdata;
    size_t n = size * nmemb;
    if (n > c->max_bytes - c->total) return 0;
    c->total += n;
    return n;
}

static CURLcode setup_post(CURL *h, const char *url, fetch_ctx *c, struct curl_slist *hdrs,
                           const char *body, size_t body_len)
{
    CURLcode rc = setup(h, url, c);
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val);                                    \
    } while (0)
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_FAILONERROR, 0L); /* every status is an answer to report */
    SET(CURLOPT_WRITEFUNCTION, discard_cb);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    SET(CURLOPT_HTTPHEADER, hdrs);
#undef SET
    return rc;
}

int vg_fetch_post(void *curl, const char *url, const vg_fetch_opts *o, const char *const *headers,
                  size_t n, const char *body, size_t body_len, long *http_status, char *err,
                  size_t errlen)
{
    *http_status = 0;
    int st = vg_fetch_check_url(url, o, err, errlen);
    if (st != VG_OK) return st;
    if (global_rc != CURLE_OK) return fail(err, errlen, VG_ERR, "libcurl failed to initialise");
    CURL *h = curl ? curl : curl_easy_init();
    if (!h) return fail(err, errlen, VG_ERR, "cannot create a transfer");
    curl_easy_reset(h); /* keeps the handle's connection cache */
    fetch_ctx c;
    ctx_init(&c, o, -1);
    c.max_bytes = VG_WEBHOOK_MAX_REPLY_BYTES;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL; /* no 100-continue round trip */
    for (size_t i = 0; hdrs && i < n; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    if (!hdrs) {
        st = fail(err, errlen, VG_ERR, "out of memory");
        goto out;
    }
    CURLcode rc = setup_post(h, url, &c, hdrs, body, body_len);
    if (rc != CURLE_OK) {
        st = fail(err, errlen, VG_ERR, "transfer setup failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http_status);
    if (rc == CURLE_WRITE_ERROR && *http_status) rc = CURLE_OK; /* a long reply: status known */
    if (rc != CURLE_OK && c.refused)
        st = fail(err, errlen, VG_INVALID,
                  "destination is not a public address (loopback, private or reserved)");
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        st = fail(err, errlen, VG_ERR, "timed out (limit %ld ms)", c.timeout_ms);
    else if (rc == CURLE_COULDNT_RESOLVE_HOST)
        st = fail(err, errlen, VG_ERR, "could not resolve the host");
    else if (rc == CURLE_COULDNT_CONNECT)
        st = fail(err, errlen, VG_ERR, "could not connect to the host");
    else if (rc != CURLE_OK)
        st = fail(err, errlen, VG_ERR, "delivery failed: %s", curl_easy_strerror(rc));
    else if (*http_status < 200 || *http_status > 299)
        st = fail(err, errlen, VG_ERR, "HTTP status %ld", *http_status);
    else
        st = VG_OK;
out:
    /* The handle must not keep pointers to what is freed here. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (!curl) curl_easy_cleanup(h);
    return st;
}
