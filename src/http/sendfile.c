/* sendfile.c - see sendfile.h. */
#include "http/sendfile.h"

#include "common/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (64 * 1024)

typedef struct {
    h2o_generator_t super;
    int fd;
    off_t off;
    off_t left;
    char *buf;
} file_gen;

static void close_fd(void *p)
{
    file_gen *g = p;
    if (g->fd >= 0) close(g->fd);
    g->fd = -1;
}

static void proceed(h2o_generator_t *self, h2o_req_t *req)
{
    file_gen *g = (file_gen *)self;
    size_t want = g->left < CHUNK_BYTES ? (size_t)g->left : CHUNK_BYTES;
    ssize_t n;
    do
        n = pread(g->fd, g->buf, want, g->off);
    while (n < 0 && errno == EINTR);
    if (n <= 0) { /* the file shrank or failed under us: end the response as broken */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->off += n;
    g->left -= n;
    h2o_iovec_t v = h2o_iovec_init(g->buf, (size_t)n);
    h2o_send(req, &v, 1, g->left > 0 ? H2O_SEND_STATE_IN_PROGRESS : H2O_SEND_STATE_FINAL);
}

static void stop(h2o_generator_t *self, h2o_req_t *req)
{
    (void)self;
    (void)req; /* the fd is closed by the pool's dispose callback */
}

int vg_range_parse(const char *h, off_t size, off_t *first, off_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') { /* suffix: the last N bytes */
        long long n = strtoll(p + 1, &end, 10);
        if (end == p + 1 || *end || n < 0) return 0;
        if (n == 0 || size == 0) return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    long long a = strtoll(p, &end, 10);
    if (end == p || *end != '-' || a < 0) return 0;
    p = end + 1;
    long long b = size - 1;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (*end || b < a) return 0;
    }
    if (a >= size) return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

static void http_date(time_t t, char out[64])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* 1 when the client's cached copy (If-None-Match, else If-Modified-Since) is current. The date is
 * compared as a time, not as text (RFC 9110 §13.1.3): a copy from at or after the file's last
 * change is current, whatever its spelling; an unparsable date is ignored. */
static int not_modified(vg_ctx *c, const char *etag, time_t mtime)
{
    const char *inm = vg_ctx_req_header(c, "if-none-match");
    if (inm) return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
    const char *ims = vg_ctx_req_header(c, "if-modified-since");
    struct tm tm;
    if (!ims || h2o_time_parse_rfc1123(ims, strlen(ims), &tm) != 0) return 0;
    return timegm(&tm) >= mtime;
}

static int send_empty(vg_ctx *c, int status)
{
    static h2o_generator_t none = {NULL, NULL};
    c->req->res.status = status;
    c->req->res.reason = "";
    h2o_start_response(c->req, &none);
    h2o_send(c->req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

int vg_send_file(vg_ctx *c, const char *path, const char *mime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && errno != ENOENT) vg_metrics_inc(VG_MC_CONTENT_READ_ERROR); /* absent: no fault */
    if (fd < 0) return -1;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    file_gen *g = h2o_mem_alloc_shared(&c->req->pool, sizeof *g, close_fd);
    memset(g, 0, sizeof *g);
    g->fd = fd;
    char etag[64], modified[64], cr[96];
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st.st_mtime,
             (uint64_t)st.st_size);
    http_date(st.st_mtime, modified);
    vg_ctx_header(c, "etag", etag);
    vg_ctx_header(c, "last-modified", modified);
    vg_ctx_header(c, "accept-ranges", "bytes");
    if (not_modified(c, etag, st.st_mtime)) return send_empty(c, 304);

    off_t first = 0, last = st.st_size - 1;
    const char *if_range = vg_ctx_req_header(c, "if-range");
    int r = if_range && strcmp(if_range, etag) != 0
                ? 0
                : vg_range_parse(vg_ctx_req_header(c, "range"), st.st_size, &first, &last);
    if (r < 0) {
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)st.st_size);
        vg_ctx_header(c, "content-range", cr);
        return vg_reply_error(c, 416, "range_not_satisfiable", "Range",
                              "the requested range is outside the content");
    }
    if (r > 0) {
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)st.st_size);
        vg_ctx_header(c, "content-range", cr);
    }
    g->off = first;
    g->left = st.st_size ? last - first + 1 : 0;
    g->super.proceed = proceed;
    g->super.stop = stop;
    g->buf = h2o_mem_alloc_pool(&c->req->pool, CHUNK_BYTES);
    c->req->res.status = r > 0 ? 206 : 200;
    c->req->res.reason = r > 0 ? "Partial Content" : "OK";
    c->req->res.content_length = (size_t)g->left;
    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, mime,
                   strlen(mime));
    h2o_start_response(c->req, &g->super);
    if (g->left == 0)
        h2o_send(c->req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        proceed(&g->super, c->req);
    return 0;
}
