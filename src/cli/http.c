/*
 * http.c - see http.h.
 *
 * One write callback serves both kinds of transfer: a JSON request buffers the answer in memory; a
 * download streams a 2xx answer to its .part file and buffers anything else, because an error
 * answer is a small JSON envelope we want to report, not save as a video.
 */
#include "cli/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/format.h"
#include "cli/interrupt.h"
#include "common/alloc.h"

struct vg_cli_http {
    CURL *curl;
};

/* The state one transfer's callbacks share. */
typedef struct {
    vg_cli_ctx *ctx;
    CURL *curl;
    vg_cli_status status; /* set by a callback that aborted the transfer */
    char *buf;
    size_t len, cap;
    char content_type[128];
    char etag[128];
    const char *part_path; /* non-NULL: stream 2xx bodies here */
    FILE *fp;
} transfer;

static CURL *handle(vg_cli_ctx *ctx)
{
    if (!ctx->http) {
        ctx->http = vg_calloc(1, sizeof *ctx->http);
        ctx->http->curl = curl_easy_init();
        if (!ctx->http->curl) {
            /* Only fails when memory is exhausted: the alloc.h policy applies. */
            fprintf(stderr, "vidgate: cannot initialise libcurl\n");
            abort();
        }
    }
    /* Reset options between requests but keep the connection cache. */
    curl_easy_reset(ctx->http->curl);
    return ctx->http->curl;
}

void vg_cli_http_cleanup(vg_cli_ctx *ctx)
{
    if (!ctx->http) return;
    curl_easy_cleanup(ctx->http->curl);
    free(ctx->http);
    ctx->http = NULL;
}

char *vg_cli_escape(const char *s)
{
    char *esc = curl_easy_escape(NULL, s, 0); /* the handle is ignored since libcurl 7.82 */
    char *out = vg_strdup(esc ? esc : "");
    curl_free(esc);
    return out;
}

char *vg_cli_id_path(const char *prefix, const char *id, const char *suffix)
{
    char *esc = vg_cli_escape(id);
    char *path = vg_asprintf("%s%s%s", prefix, esc, suffix);
    free(esc);
    return path;
}

static int buffer_append(transfer *t, const char *data, size_t n)
{
    if (t->len + n > VG_CLI_MAX_RESPONSE_BYTES) {
        t->status = vg_cli_fail(t->ctx, VG_CLI_API, "the server's reply exceeds %u bytes",
                                VG_CLI_MAX_RESPONSE_BYTES);
        return -1;
    }
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = vg_realloc(t->buf, t->cap);
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

static int file_append(transfer *t, const char *data, size_t n)
{
    if (!t->fp && !(t->fp = fopen(t->part_path, "wb"))) {
        t->status = vg_cli_fail(t->ctx, VG_CLI_LOCAL_IO, "cannot create %s: %s", t->part_path,
                                strerror(errno));
        return -1;
    }
    if (fwrite(data, 1, n, t->fp) != n) {
        t->status = vg_cli_fail(t->ctx, VG_CLI_LOCAL_IO, "cannot write %s: %s", t->part_path,
                                strerror(errno));
        return -1;
    }
    return 0;
}

static int is_2xx(long code)
{
    return code >= 200 && code < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    int rc = t->part_path && is_2xx(code) ? file_append(t, data, n) : buffer_append(t, data, n);
    return rc == 0 ? n : 0;
}

/* Copies a header value without the trailing CR LF and surrounding blanks. */
static void header_value(const char *v, size_t n, char *out, size_t out_size)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= out_size) n = out_size - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nmemb;
    /* A new status line starts a new answer (after a redirect or a 100 Continue). */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        t->content_type[0] = t->etag[0] = '\0';
    } else if (n > 5 && strncasecmp(data, "ETag:", 5) == 0) {
        header_value(data + 5, n - 5, t->etag, sizeof t->etag);
    } else if (n > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
        header_value(data + 13, n - 13, t->content_type, sizeof t->content_type);
    }
    return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)userdata, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return vg_cli_interrupted(); /* non-zero aborts the transfer */
}

static struct curl_slist *base_setup(vg_cli_ctx *ctx, CURL *c, transfer *t, const char *path,
                                     char *errbuf)
{
    char *url = vg_asprintf("%s%s", ctx->base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    free(url); /* libcurl keeps its own copy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)VG_CLI_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vidgate-cli/1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);

    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (ctx->key) {
        char *auth = vg_asprintf("Authorization: Bearer %s", ctx->key);
        h = curl_slist_append(h, auth);
        /* The secret should not linger in freed heap memory. */
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    return h;
}

/* Runs the transfer and turns a libcurl failure into the status the caller returns. */
static vg_cli_status perform(vg_cli_ctx *ctx, CURL *c, transfer *t, const char *errbuf)
{
    CURLcode rc = curl_easy_perform(c);
    /* errbuf is on the caller's stack: the handle must not keep it past this transfer. */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OK) return VG_CLI_OK;
    if (t->status != VG_CLI_OK) return t->status;
    if (rc == CURLE_ABORTED_BY_CALLBACK) return VG_CLI_INTERRUPTED;
    return vg_cli_fail(ctx, VG_CLI_NETWORK, "cannot reach %s: %s", ctx->base_url,
                       errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* Retry-After of the last answer in seconds (libcurl reads the delay and the HTTP-date forms);
 * -1 when absent or zero, so the caller uses its own interval. */
static long retry_after(CURL *c)
{
    curl_off_t s = 0;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &s) != CURLE_OK || s <= 0) return -1;
    return s > LONG_MAX ? LONG_MAX : (long)s;
}

vg_cli_status vg_cli_http_send(vg_cli_ctx *ctx, const vg_cli_request *req, vg_cli_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_s = -1;
    CURL *c = handle(ctx);
    transfer t = {.ctx = ctx, .curl = c};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = base_setup(ctx, c, &t, req->path, errbuf);
    char *body = req->body ? json_dumps(req->body, JSON_COMPACT) : NULL;
    if (body) h = curl_slist_append(h, "Content-Type: application/json");
    if (body || strcmp(req->method, "POST") == 0) {
        /* A POST always has a body, if only an empty one, so it carries a Content-Length. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
    }
    if (req->idempotency_key) {
        char *line = vg_asprintf("Idempotency-Key: %s", req->idempotency_key);
        h = curl_slist_append(h, line);
        free(line);
    }
    if (req->if_none_match) {
        char *line = vg_asprintf("If-None-Match: %s", req->if_none_match);
        h = curl_slist_append(h, line);
        free(line);
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)VG_CLI_REQUEST_TIMEOUT_MS);

    vg_cli_status st = perform(ctx, c, &t, errbuf);
    curl_slist_free_all(h);
    free(body);
    if (st == VG_CLI_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = t.buf ? t.buf : vg_strdup("");
    resp->len = t.len;
    resp->retry_after_s = retry_after(c);
    memcpy(resp->etag, t.etag, sizeof resp->etag);
    return st;
}

void vg_cli_response_free(vg_cli_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

static const char *envelope_str(json_t *err, const char *name)
{
    const char *s = json_string_value(json_object_get(err, name));
    return s && *s ? s : NULL;
}

vg_cli_status vg_cli_http_check(vg_cli_ctx *ctx, const vg_cli_response *resp)
{
    if (is_2xx(resp->status)) return VG_CLI_OK;
    json_t *root = json_loadb(resp->body, resp->len, 0, NULL);
    json_t *err = json_object_get(root, "error");
    const char *message = envelope_str(err, "message");
    char text[512];
    if (message) {
        const char *code = envelope_str(err, "code");
        const char *param = envelope_str(err, "param");
        vg_cli_printable(message, text, sizeof text);
        vg_cli_fail(ctx, VG_CLI_API, "%s (HTTP %ld%s%s%s%s)", text, resp->status, code ? ", " : "",
                    code ? code : "", param ? ", param " : "", param ? param : "");
    } else {
        /* Not our envelope (a proxy in between?): show the start of the body. */
        vg_cli_printable(resp->body, text, 160);
        vg_cli_fail(ctx, VG_CLI_API, "HTTP %ld from %s%s%s", resp->status, ctx->base_url,
                    text[0] ? ": " : "", text);
    }
    json_decref(root);
    return VG_CLI_API;
}

vg_cli_status vg_cli_http_json(vg_cli_ctx *ctx, const vg_cli_request *req, json_t **out)
{
    *out = NULL;
    vg_cli_response resp;
    vg_cli_status st = vg_cli_http_send(ctx, req, &resp);
    if (st == VG_CLI_OK) st = vg_cli_http_check(ctx, &resp);
    if (st == VG_CLI_OK) {
        *out = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : json_null();
        if (!*out)
            st = vg_cli_fail(ctx, VG_CLI_API, "the server sent invalid JSON for %s %s", req->method,
                             req->path);
    }
    vg_cli_response_free(&resp);
    return st;
}

/* The file extension for a downloaded Content-Type, or NULL when we do not know the type. */
static const char *ext_for(const char *content_type)
{
    static const struct {
        const char *type, *ext;
    } map[] = {{"video/mp4", ".mp4"}, {"image/webp", ".webp"}, {"image/jpeg", ".jpg"},
               {"image/png", ".png"}, {"image/gif", ".gif"},   {"video/quicktime", ".mov"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncasecmp(content_type, map[i].type, strlen(map[i].type)) == 0) return map[i].ext;
    return NULL;
}

/* Closes the part file and moves it to its final name; the part is removed on any failure. */
static vg_cli_status finish_file(vg_cli_ctx *ctx, transfer *t, const vg_cli_download *dl,
                                 vg_cli_status st, char **out_path)
{
    /* An empty 2xx body never reached the write callback; it is still a (empty) file. */
    if (st == VG_CLI_OK && !t->fp && file_append(t, "", 0) != 0) st = t->status;
    if (t->fp && fclose(t->fp) != 0 && st == VG_CLI_OK)
        st =
            vg_cli_fail(ctx, VG_CLI_LOCAL_IO, "cannot write %s: %s", t->part_path, strerror(errno));
    t->fp = NULL;
    if (st == VG_CLI_OK) {
        const char *ext = ext_for(t->content_type);
        char *final = dl->dest ? vg_strdup(dl->dest)
                               : vg_asprintf("%s%s", dl->stem, ext ? ext : dl->default_ext);
        if (rename(t->part_path, final) == 0) {
            *out_path = final;
            return VG_CLI_OK;
        }
        st = vg_cli_fail(ctx, VG_CLI_LOCAL_IO, "cannot rename %s to %s: %s", t->part_path, final,
                         strerror(errno));
        free(final);
    }
    unlink(t->part_path);
    return st;
}

vg_cli_status vg_cli_http_download(vg_cli_ctx *ctx, const char *path, const vg_cli_download *dl,
                                   char **out_path)
{
    *out_path = NULL;
    CURL *c = handle(ctx);
    char *part = vg_asprintf("%s.part", dl->dest ? dl->dest : dl->stem);
    transfer t = {.ctx = ctx, .curl = c, .part_path = part};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = base_setup(ctx, c, &t, path, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    /* libcurl sends our Authorization header to the original host only, so following is safe. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    /* Big files take as long as they take; only a stalled transfer fails. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)VG_CLI_STALL_TIMEOUT_S);

    vg_cli_status st = perform(ctx, c, &t, errbuf);
    curl_slist_free_all(h);
    vg_cli_response resp = {.body = t.buf ? t.buf : vg_strdup(""), .len = t.len};
    if (st == VG_CLI_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
        st = vg_cli_http_check(ctx, &resp);
    }
    st = finish_file(ctx, &t, dl, st, out_path);
    vg_cli_response_free(&resp);
    free(part);
    return st;
}
