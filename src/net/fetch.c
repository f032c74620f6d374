/*
 * fetch.c - see fetch.h for the contract.
 *
 * Design: the address check must judge the address that is actually connected to, not the one a
 * resolver returned a moment earlier (DNS rebinding) and not only the first URL (redirects). So
 * the check lives in libcurl's open-socket callback: libcurl calls it with the resolved peer
 * address of every connection it makes, for the first URL and every redirect hop, and refusing to
 * create the socket stops that connection before a single packet is sent. The callback records
 * the refusal in the per-fetch context, which is how a refused fetch is told apart from an
 * ordinary connect failure afterwards. vg_fetch_check_url() is the cheap front door that catches
 * literal addresses and bad schemes at submit time, before anything is queued.
 *
 * Address ranges are tables (first match wins), not if chains; IPv6 is an allow-list of global
 * unicast 2000::/3 so that ranges assigned in future default to refused.
 */
#include "net/fetch.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "common/status.h"

#include <arpa/inet.h>
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
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_USER_AGENT "vidgate/0.1"

/* ---------------------------------------------------------------------------------------------
 * Address classification
 * ------------------------------------------------------------------------------------------- */

typedef enum { ADDR_PUBLIC, ADDR_LOOPBACK, ADDR_NONPUBLIC } addr_class;

typedef struct {
    uint32_t net; /* host byte order */
    unsigned bits;
    addr_class cls;
} v4_range;

static const v4_range v4_ranges[] = {
    {0x00000000u, 8, ADDR_NONPUBLIC},  /* 0/8 "this network"; connect(0.0.0.0) reaches this host */
    {0x0a000000u, 8, ADDR_NONPUBLIC},  /* 10/8 private */
    {0x64400000u, 10, ADDR_NONPUBLIC}, /* 100.64/10 carrier-grade NAT */
    {0x7f000000u, 8, ADDR_LOOPBACK},   /* 127/8 loopback */
    {0xa9fe0000u, 16, ADDR_NONPUBLIC}, /* 169.254/16 link-local (cloud metadata lives here) */
    {0xac100000u, 12, ADDR_NONPUBLIC}, /* 172.16/12 private */
    {0xc0000000u, 24, ADDR_NONPUBLIC}, /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200u, 24, ADDR_NONPUBLIC}, /* 192.0.2/24 TEST-NET-1 */
    {0xc0586300u, 24, ADDR_NONPUBLIC}, /* 192.88.99/24 deprecated 6to4 relay anycast */
    {0xc0a80000u, 16, ADDR_NONPUBLIC}, /* 192.168/16 private */
    {0xc6120000u, 15, ADDR_NONPUBLIC}, /* 198.18/15 benchmarking */
    {0xc6336400u, 24, ADDR_NONPUBLIC}, /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100u, 24, ADDR_NONPUBLIC}, /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000u, 4, ADDR_NONPUBLIC},  /* 224/4 multicast */
    {0xf0000000u, 4, ADDR_NONPUBLIC},  /* 240/4 reserved, with 255.255.255.255 broadcast */
};

static addr_class classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++) {
        uint32_t mask = ~0u << (32 - v4_ranges[i].bits);
        if ((a & mask) == v4_ranges[i].net) return v4_ranges[i].cls;
    }
    return ADDR_PUBLIC;
}

typedef enum {
    V6_PUBLIC,
    V6_LOOPBACK,
    V6_NONPUBLIC,
    V6_MAPPED, /* ::ffff:a.b.c.d reaches a.b.c.d itself, loopback included */
    V6_NAT64,  /* 64:ff9b::a.b.c.d, via a gateway: only a public a.b.c.d is acceptable */
    V6_6TO4,   /* 2002:AABB:CCDD::/48 embeds a.b.c.d in bytes 2..5 */
} v6_kind;

typedef struct {
    uint8_t prefix[16];
    unsigned bits;
    v6_kind kind;
} v6_range;

/* First match wins; anything unmatched is non-public. */
static const v6_range v6_ranges[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, V6_MAPPED},
    {{0, 0x64, 0xff, 0x9b}, 96, V6_NAT64},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, V6_LOOPBACK},
    {{0x20, 0x02}, 16, V6_6TO4},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, V6_NONPUBLIC}, /* documentation */
    {{0x20, 0x01}, 23, V6_NONPUBLIC},             /* IETF assignments: Teredo, ORCHID, benchmarks */
    {{0x3f, 0xff}, 20, V6_NONPUBLIC},             /* documentation (RFC 9637) */
    {{0x20}, 3, V6_PUBLIC},                       /* global unicast */
};

static int prefix_match(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, whole) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (prefix[whole] & mask);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static addr_class classify_v6(const uint8_t a[16])
{
    for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++) {
        const v6_range *r = &v6_ranges[i];
        if (!prefix_match(a, r->prefix, r->bits)) continue;
        switch (r->kind) {
        case V6_PUBLIC:
            return ADDR_PUBLIC;
        case V6_LOOPBACK:
            return ADDR_LOOPBACK;
        case V6_NONPUBLIC:
            return ADDR_NONPUBLIC;
        case V6_MAPPED:
            return classify_v4(be32_at(a + 12));
        case V6_NAT64:
            return classify_v4(be32_at(a + 12)) == ADDR_PUBLIC ? ADDR_PUBLIC : ADDR_NONPUBLIC;
        case V6_6TO4:
            return classify_v4(be32_at(a + 2)) == ADDR_PUBLIC ? ADDR_PUBLIC : ADDR_NONPUBLIC;
        }
    }
    return ADDR_NONPUBLIC;
}

static addr_class classify(const struct sockaddr *sa)
{
    if (!sa) return ADDR_NONPUBLIC;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return classify_v4(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return classify_v6(in6.sin6_addr.s6_addr);
    }
    return ADDR_NONPUBLIC;
}

int vg_fetch_addr_public(const struct sockaddr *sa)
{
    return classify(sa) == ADDR_PUBLIC;
}

static int addr_allowed(const vg_fetch_opts *o, const struct sockaddr *sa)
{
    addr_class c = classify(sa);
    if (c == ADDR_PUBLIC || o->allow_private) return 1;
    return c == ADDR_LOOPBACK && o->allow_loopback;
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

/* Length of the scheme prefix ("https://" or "http://") when allowed, 0 otherwise. */
static size_t allowed_scheme(const char *url, const vg_fetch_opts *o)
{
    if (strncasecmp(url, "https://", 8) == 0) return 8;
    if (o->allow_http && strncasecmp(url, "http://", 7) == 0) return 7;
    return 0;
}

/* Judges a host that libcurl will treat as a literal IP; 1 when it is a name or allowed. */
static int literal_host_allowed(const char *host, const vg_fetch_opts *o)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        char inner[INET6_ADDRSTRLEN + 1];
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        if (n - 2 >= sizeof inner) return 0;
        memcpy(inner, host + 1, n - 2);
        inner[n - 2] = '\0';
        if (inet_pton(AF_INET6, inner, &in6.sin6_addr) != 1) return 0;
        return addr_allowed(o, (const struct sockaddr *)&in6);
    }
    /* inet_aton() accepts the same legacy forms libcurl does (0x7f000001, 2130706433, 0177.1);
     * a trailing dot is dropped so that "127.0.0.1." is judged as the address too. */
    char *v4 = vg_strndup(host, n);
    if (n > 0 && v4[n - 1] == '.') v4[n - 1] = '\0';
    struct sockaddr_in in = {.sin_family = AF_INET};
    int ok = inet_aton(v4, &in.sin_addr) == 0 || addr_allowed(o, (const struct sockaddr *)&in);
    free(v4);
    return ok;
}

int vg_fetch_check_url(const char *url, const vg_fetch_opts *o, char *err, size_t errlen)
{
    if (!o) o = &default_opts;
    if (!url || !*url) return fail(err, errlen, VG_INVALID, "url is empty");
    size_t len = strnlen(url, VG_MAX_URL_BYTES + 1);
    if (len > VG_MAX_URL_BYTES)
        return fail(err, errlen, VG_INVALID, "url is longer than %d bytes", VG_MAX_URL_BYTES);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch == 0x7f)
            return fail(err, errlen, VG_INVALID, "url contains spaces or control characters");
    }
    size_t skip = allowed_scheme(url, o);
    if (skip == 0)
        return fail(err, errlen, VG_INVALID, "url scheme must be %s",
                    o->allow_http ? "http or https" : "https");
    /* libcurl would read "https:///x" as host "x"; we insist on a written authority. */
    if (strchr("/\\?#", url[skip]) || url[skip] == '\0')
        return fail(err, errlen, VG_INVALID, "url has no host");

    vg_fetch_global_init();
    int st = VG_OK;
    char *host = NULL, *user = NULL, *password = NULL;
    CURLU *u = curl_url();
    if (!u) return fail(err, errlen, VG_ERR, "url parser unavailable");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        st = fail(err, errlen, VG_INVALID, "url is malformed");
        goto out;
    }
    /* Both libcurl's view and the raw authority are checked: "https://@host/" has an empty
     * user that libcurl may or may not report. */
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK ||
        strcspn(url + skip, "@") < strcspn(url + skip, "/?#")) {
        st = fail(err, errlen, VG_INVALID, "url must not contain credentials (user@)");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        st = fail(err, errlen, VG_INVALID, "url has no host");
        goto out;
    }
    if (!literal_host_allowed(host, o))
        st = fail(err, errlen, VG_INVALID,
                  "url host is not a public address (loopback, private or reserved)");
out:
    curl_free(host);
    curl_free(user);
    curl_free(password);
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

static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    fetch_ctx *c = clientp;
    size_t need = a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (purpose != CURLSOCKTYPE_IPCXN || (a->family != AF_INET && a->family != AF_INET6) ||
        a->addrlen < need || !addr_allowed(c->o, &a->addr)) {
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
