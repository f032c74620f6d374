/*
 * content.c - see content.h.
 *
 * A bucket handle keeps: the parsed URL (endpoint, bucket, prefix, region), the credentials as one
 * "KEY:SECRET" for CURLOPT_USERPWD, a queue of background jobs (fetches for parked requests,
 * removals of deleted tasks) served by a common/pool.h pool, and a small table of fetches by key
 * (running, or finished with an outcome kept for FETCH_KEEP_MS so the waiting request can read it).
 * Each request uses its own curl easy handle: the calls are few (one per published file, one per
 * cache miss) and a handle per call keeps the threads independent.
 */
#include "net/content.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/taskwatch.h"
#include "net/fetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define KEY_MAX       160
#define IDLE_MS       1000
#define FETCH_KEEP_MS 60000 /* a finished fetch's outcome stays readable this long */
#define PUT_TRIES     3
#define COPY_BUF      65536

const char *const vg_content_task_files[] = {"video.mp4", "thumbnail.jpg", "last_frame.png", NULL};

typedef enum { JOB_FETCH, JOB_DELETE_TASK, JOB_PUT } job_kind;

typedef struct job {
    struct job *next;
    job_kind kind;
    char key[KEY_MAX]; /* JOB_FETCH, JOB_PUT: the key; JOB_DELETE_TASK: the task id */
    char watch[VG_TASKWATCH_ID_MAX + 1]; /* JOB_FETCH: announced when done */
} job;

typedef struct {
    char key[KEY_MAX]; /* "" = free */
    int state;         /* VG_AGAIN while running, then the outcome */
    int64_t done_ms;
} fetch_slot;

struct vg_content {
    bool remote;
    char dir[1100];
    char describe[3000];
    /* a bucket */
    char endpoint[512]; /* scheme://host[:port], no trailing slash */
    char bucket[64];
    char prefix[256]; /* "" or "some/prefix/" */
    char sigv4[96];   /* "aws:amz:REGION:s3" */
    char userpwd[512];
    char token_header[1200]; /* "x-amz-security-token: …" or "" */
    vg_pool *pool;
    pthread_mutex_t lock; /* the queue and the fetch table */
    job *head, *tail;
    fetch_slot fetches[VG_CONTENT_FETCHES_MAX];
};

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

/* ---- keys and local files -------------------------------------------------------------------- */

static bool key_ok(const char *key)
{
    static const char chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/";
    size_t n = strlen(key);
    return n > 0 && n < KEY_MAX && strspn(key, chars) == n && key[0] != '/' && key[n - 1] != '/' &&
           !strstr(key, "..") && !strstr(key, "//");
}

int vg_content_path(const vg_content *c, const char *key, char *out, size_t outlen)
{
    if (!key_ok(key)) return -1;
    return (size_t)snprintf(out, outlen, "%s/%s", c->dir, key) < outlen ? 0 : -1;
}

/* A name for a file being written next to path: unique per thread and call. */
static void part_path(const char *path, char *out, size_t outlen)
{
    static _Atomic unsigned long seq;
    snprintf(out, outlen, "%s.part-%d-%lu", path, (int)getpid(), (unsigned long)++seq);
}

static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    char *buf = vg_malloc(COPY_BUF);
    struct stat sb;
    if (in < 0 || fstat(in, &sb)) goto out;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) goto out;
    ssize_t n;
    while ((n = read(in, buf, COPY_BUF)) > 0)
        if (write(out, buf, (size_t)n) != n) goto out;
    if (n < 0 || fsync(out)) goto out;
    struct timespec times[2] = {sb.st_atim, sb.st_mtim}; /* the ETag is made of mtime and size */
    futimens(out, times);
    rc = 0;
out:
    free(buf);
    if (in >= 0) close(in);
    if (out >= 0 && close(out)) rc = -1;
    return rc;
}

/* Moves directory src to dst across file systems: a copy beside dst, renamed in. */
static int copy_dir(const char *src, const char *dst)
{
    char part[1500];
    part_path(dst, part, sizeof part);
    if (vg_mkdir_p(part, 0700)) return -1;
    DIR *d = opendir(src);
    struct dirent *e;
    int rc = d ? 0 : -1;
    while (rc == 0 && d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[1500], b[1800];
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", part, e->d_name);
        rc = copy_file(a, b);
    }
    if (d) closedir(d);
    if (rc == 0) rc = rename(part, dst);
    if (rc) vg_rm_rf(part);
    return rc;
}

/* ---- one S3 request ------------------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *key;
    FILE *in; /* PUT: the body */
    int64_t in_size;
    int64_t mtime; /* PUT: sent as x-amz-meta-mtime */
    FILE *out;     /* GET: the body (only a 200's is kept by the caller) */
    long status;
    int64_t length;     /* HEAD: Content-Length */
    int64_t meta_mtime; /* GET/HEAD: x-amz-meta-mtime, or -1 */
} s3_req;

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    s3_req *r = ud;
    size_t len = size * n;
    static const char name[] = "x-amz-meta-mtime:";
    if (len > sizeof name && !strncasecmp(line, name, sizeof name - 1)) {
        char v[32];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v) vl = sizeof v - 1;
        memcpy(v, line + sizeof name - 1, vl);
        v[vl] = '\0';
        r->meta_mtime = strtoll(v, NULL, 10);
    }
    return len;
}

/* Runs r against the bucket. VG_OK when an HTTP answer came (r->status), VG_ERR (reason in err)
 * when none did. */
static int s3_do(vg_content *c, s3_req *r, char *err, size_t errlen)
{
    char url[1200], mtime_h[64];
    snprintf(url, sizeof url, "%s/%s/%s%s", c->endpoint, c->bucket, c->prefix, r->key);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    if (!h) return fail(err, errlen, VG_ERR, "out of memory");
    /* The payload is not hashed (a video is read once, while it is sent); TLS or loopback
     * carries it. curl signs with this value when the header is present. */
    hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (c->token_header[0]) hdrs = curl_slist_append(hdrs, c->token_header);
    if (r->in) {
        snprintf(mtime_h, sizeof mtime_h, "x-amz-meta-mtime: %" PRId64, r->mtime);
        hdrs = curl_slist_append(hdrs, mtime_h);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    }
    r->status = 0;
    r->length = -1;
    r->meta_mtime = -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)VG_CONTENT_CONNECT_TIMEOUT_MS);
    /* No overall limit (a large video takes what it takes); a stalled transfer ends. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(VG_CONTENT_STALL_MS / 1000));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (r->out) {
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r->out);
    } else {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    }
    if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READDATA, r->in);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->in_size);
    } else if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "DELETE")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode cc = curl_easy_perform(h);
    int rc = VG_OK;
    if (cc != CURLE_OK) {
        rc = fail(err, errlen, VG_ERR, "%s %s: %s", r->method, r->key, curl_easy_strerror(cc));
    } else {
        curl_off_t len = -1;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        r->length = len;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

static bool transient(long status)
{
    return status == 0 || status == 429 || status >= 500;
}

/* ---- blocking operations --------------------------------------------------------------------- */

/* PUTs the file at path as key, with retries on transient answers. */
static int put_from(vg_content *c, const char *key, const char *path, char *err, size_t errlen)
{
    int rc = VG_ERR;
    for (int attempt = 0; attempt < PUT_TRIES; attempt++) {
        if (attempt) usleep((useconds_t)(200000 << attempt));
        FILE *f = fopen(path, "rb");
        struct stat sb;
        if (!f || fstat(fileno(f), &sb)) {
            if (f) fclose(f);
            return fail(err, errlen, VG_ERR, "cannot read %s: %s", path, strerror(errno));
        }
        s3_req r = {.method = "PUT",
                    .key = key,
                    .in = f,
                    .in_size = sb.st_size,
                    .mtime = (int64_t)sb.st_mtime};
        rc = s3_do(c, &r, err, errlen);
        fclose(f);
        if (rc == VG_OK && r.status >= 200 && r.status < 300) return VG_OK;
        if (rc == VG_OK)
            rc = fail(err, errlen, VG_ERR, "PUT %s: the bucket answered %ld", key, r.status);
        if (!transient(r.status)) break;
    }
    return rc;
}

int vg_content_put(vg_content *c, const char *key, char *err, size_t errlen)
{
    char path[1400];
    if (vg_content_path(c, key, path, sizeof path))
        return fail(err, errlen, VG_INVALID, "bad content key %s", key);
    if (!c->remote) return VG_OK;
    return put_from(c, key, path, err, errlen);
}

int vg_content_import(vg_content *c, const char *key, const char *src, char *err, size_t errlen)
{
    char path[1400], part[1500];
    if (vg_content_path(c, key, path, sizeof path))
        return fail(err, errlen, VG_INVALID, "bad content key %s", key);
    if (c->remote) return put_from(c, key, src, err, errlen);
    if (!strcmp(path, src)) return VG_OK;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int made = vg_mkdir_p(path, 0700);
    *slash = '/';
    part_path(path, part, sizeof part);
    if (made || copy_file(src, part) || rename(part, path)) {
        int e = errno;
        unlink(part);
        return fail(err, errlen, VG_ERR, "cannot copy %s to %s: %s", src, path, strerror(e));
    }
    return VG_OK;
}

int vg_content_publish_dir(vg_content *c, const char *tmp_dir, const char *name, char *err,
                           size_t errlen)
{
    char final[1400];
    if (vg_content_path(c, name, final, sizeof final))
        return fail(err, errlen, VG_INVALID, "bad content name %s", name);
    vg_rm_rf(final);
    if (rename(tmp_dir, final) && (errno != EXDEV || copy_dir(tmp_dir, final)))
        return fail(err, errlen, VG_ERR, "cannot move %s into place: %s", name, strerror(errno));
    if (vg_fsync_dir(c->dir))
        return fail(err, errlen, VG_ERR, "cannot flush %s: %s", c->dir, strerror(errno));
    if (!c->remote) return VG_OK;
    DIR *d = opendir(final);
    struct dirent *e;
    int rc = d ? VG_OK : fail(err, errlen, VG_ERR, "cannot list %s", final);
    while (rc == VG_OK && d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char key[KEY_MAX + 300];
        snprintf(key, sizeof key, "%s/%s", name, e->d_name);
        rc = vg_content_put(c, key, err, errlen);
    }
    if (d) closedir(d);
    return rc;
}

int vg_content_fetch(vg_content *c, const char *key, char *err, size_t errlen)
{
    char path[1400], part[1500], dir[1400];
    if (vg_content_path(c, key, path, sizeof path))
        return fail(err, errlen, VG_INVALID, "bad content key %s", key);
    if (access(path, F_OK) == 0) return VG_OK;
    if (!c->remote) return VG_NOTFOUND;
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (vg_mkdir_p(dir, 0700))
        return fail(err, errlen, VG_ERR, "cannot create %s: %s", dir, strerror(errno));
    part_path(path, part, sizeof part);
    FILE *f = fopen(part, "wb");
    if (!f) return fail(err, errlen, VG_ERR, "cannot create %s: %s", part, strerror(errno));
    s3_req r = {.method = "GET", .key = key, .out = f};
    int rc = s3_do(c, &r, err, errlen);
    bool written = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    if (rc == VG_OK && r.status == 404) {
        rc = VG_NOTFOUND;
    } else if (rc == VG_OK && r.status != 200) {
        rc = fail(err, errlen, VG_ERR, "GET %s: the bucket answered %ld", key, r.status);
    } else if (rc == VG_OK && !written) {
        rc = fail(err, errlen, VG_ERR, "cannot write %s: %s", part, strerror(errno));
    } else if (rc == VG_OK) {
        if (r.meta_mtime > 0) { /* the publisher's mtime: the same ETag on every node */
            struct timeval tv[2] = {{(time_t)r.meta_mtime, 0}, {(time_t)r.meta_mtime, 0}};
            utimes(part, tv);
        }
        if (rename(part, path))
            rc = fail(err, errlen, VG_ERR, "cannot place %s: %s", path, strerror(errno));
    }
    if (rc != VG_OK) unlink(part);
    return rc;
}

static int bucket_delete(vg_content *c, const char *key)
{
    char err[256] = "";
    s3_req r = {.method = "DELETE", .key = key};
    int rc = s3_do(c, &r, err, sizeof err);
    if (rc == VG_OK && (r.status == 204 || r.status == 200 || r.status == 404)) return VG_OK;
    if (rc == VG_OK) snprintf(err, sizeof err, "the bucket answered %ld", r.status);
    vg_warn("content: cannot delete %s from the bucket: %s", key, err);
    return VG_ERR;
}

int vg_content_delete(vg_content *c, const char *key)
{
    char path[1400];
    if (vg_content_path(c, key, path, sizeof path)) return VG_ERR;
    int rc = unlink(path) && errno != ENOENT ? VG_ERR : VG_OK;
    if (c->remote && bucket_delete(c, key) != VG_OK) rc = VG_ERR;
    return rc;
}

static int delete_task_remote(vg_content *c, const char *task_id)
{
    int rc = VG_OK;
    for (size_t i = 0; vg_content_task_files[i]; i++) {
        char key[KEY_MAX + 64];
        snprintf(key, sizeof key, "%s/%s", task_id, vg_content_task_files[i]);
        if (!key_ok(key) || bucket_delete(c, key) != VG_OK) rc = VG_ERR;
    }
    return rc;
}

int vg_content_delete_task(vg_content *c, const char *task_id)
{
    char dir[1400];
    if (vg_content_path(c, task_id, dir, sizeof dir)) return VG_ERR;
    int rc = vg_rm_rf(dir) ? VG_ERR : VG_OK;
    if (c->remote && delete_task_remote(c, task_id) != VG_OK) rc = VG_ERR;
    return rc;
}

int vg_content_stat(vg_content *c, const char *key, int64_t *size)
{
    char path[1400];
    if (vg_content_path(c, key, path, sizeof path)) return VG_ERR;
    if (!c->remote) {
        struct stat sb;
        if (stat(path, &sb)) return errno == ENOENT ? VG_NOTFOUND : VG_ERR;
        *size = sb.st_size;
        return VG_OK;
    }
    s3_req r = {.method = "HEAD", .key = key};
    char err[256];
    if (s3_do(c, &r, err, sizeof err) != VG_OK) return VG_ERR;
    if (r.status == 404) return VG_NOTFOUND;
    if (r.status != 200) return VG_ERR;
    *size = r.length;
    return VG_OK;
}

/* ---- background jobs ------------------------------------------------------------------------- */

static fetch_slot *slot_of(vg_content *c, const char *key)
{
    for (size_t i = 0; i < VG_CONTENT_FETCHES_MAX; i++)
        if (!strcmp(c->fetches[i].key, key)) return &c->fetches[i];
    return NULL;
}

/* A free slot, reclaiming finished ones whose outcome nobody can still be waiting for. A fetch
 * that succeeded needs no slot once done: its waiters find the file in the cache first. */
static fetch_slot *free_slot(vg_content *c, int64_t now)
{
    for (size_t i = 0; i < VG_CONTENT_FETCHES_MAX; i++) {
        fetch_slot *s = &c->fetches[i];
        if (s->key[0] && s->state != VG_AGAIN &&
            (s->state == VG_OK || now - s->done_ms > FETCH_KEEP_MS))
            s->key[0] = 0;
        if (!s->key[0]) return s;
    }
    return NULL;
}

static void push(vg_content *c, job *j)
{
    j->next = NULL;
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
}

int vg_content_fetch_start(vg_content *c, const char *key, const char *watch_id)
{
    char path[1400];
    if (vg_content_path(c, key, path, sizeof path)) return VG_NOTFOUND;
    if (access(path, F_OK) == 0) return VG_OK;
    if (!c->remote) return VG_NOTFOUND;
    int rc = VG_AGAIN;
    pthread_mutex_lock(&c->lock);
    fetch_slot *s = slot_of(c, key);
    if (s && s->state == VG_AGAIN) goto out; /* one fetch per key; its end wakes every waiter */
    if (!s) s = free_slot(c, vg_now_ms());
    if (!s) {
        rc = VG_LIMITED;
        goto out;
    }
    snprintf(s->key, sizeof s->key, "%s", key);
    s->state = VG_AGAIN;
    job *j = vg_calloc(1, sizeof *j);
    j->kind = JOB_FETCH;
    snprintf(j->key, sizeof j->key, "%s", key);
    snprintf(j->watch, sizeof j->watch, "%s", watch_id);
    push(c, j);
out:
    pthread_mutex_unlock(&c->lock);
    if (rc == VG_AGAIN) vg_pool_notify(c->pool);
    return rc;
}

int vg_content_fetch_state(vg_content *c, const char *key)
{
    char path[1400];
    if (vg_content_path(c, key, path, sizeof path)) return VG_NOTFOUND;
    if (access(path, F_OK) == 0) return VG_OK;
    if (!c->remote) return VG_NOTFOUND;
    pthread_mutex_lock(&c->lock);
    fetch_slot *s = slot_of(c, key);
    int rc = s ? s->state : VG_ERR; /* forgotten: treat as failed, the caller may ask again */
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void vg_content_delete_task_later(vg_content *c, const char *task_id)
{
    if (!c->remote || !key_ok(task_id)) return;
    job *j = vg_calloc(1, sizeof *j);
    j->kind = JOB_DELETE_TASK;
    snprintf(j->key, sizeof j->key, "%s", task_id);
    pthread_mutex_lock(&c->lock);
    push(c, j);
    pthread_mutex_unlock(&c->lock);
    vg_pool_notify(c->pool);
}

void vg_content_put_later(vg_content *c, const char *key)
{
    if (!c->remote || !key_ok(key)) return;
    job *j = vg_calloc(1, sizeof *j);
    j->kind = JOB_PUT;
    snprintf(j->key, sizeof j->key, "%s", key);
    pthread_mutex_lock(&c->lock);
    push(c, j);
    pthread_mutex_unlock(&c->lock);
    vg_pool_notify(c->pool);
}

static void run_put(vg_content *c, const job *j)
{
    char path[1400], err[256] = "";
    if (vg_content_path(c, j->key, path, sizeof path) || access(path, F_OK)) return; /* done */
    if (vg_content_put(c, j->key, err, sizeof err) != VG_OK)
        vg_warn("content: cannot upload %s: %s", j->key, err);
}

static void run_fetch(vg_content *c, const job *j)
{
    char err[256] = "";
    int rc = vg_content_fetch(c, j->key, err, sizeof err);
    if (rc == VG_ERR) vg_warn("content: cannot fetch %s: %s", j->key, err);
    pthread_mutex_lock(&c->lock);
    fetch_slot *s = slot_of(c, j->key);
    if (s) {
        s->state = rc == VG_OK || rc == VG_NOTFOUND ? rc : VG_ERR;
        s->done_ms = vg_now_ms();
    }
    pthread_mutex_unlock(&c->lock);
    vg_taskwatch_notify(j->watch);
}

static int step(void *ud, void *state)
{
    (void)state;
    vg_content *c = ud;
    pthread_mutex_lock(&c->lock);
    job *j = c->head;
    if (j) {
        c->head = j->next;
        if (!c->head) c->tail = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (!j) return IDLE_MS;
    if (j->kind == JOB_FETCH)
        run_fetch(c, j);
    else if (j->kind == JOB_PUT)
        run_put(c, j);
    else
        delete_task_remote(c, j->key);
    free(j);
    return 0;
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Reads name=value from a URL query (values %-decoded). 1 when found. */
static int query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) || p[nl] != '=') continue;
        const char *v = p + nl + 1;
        size_t vl = strcspn(v, "&");
        int dl = 0;
        char *d = curl_easy_unescape(NULL, v, (int)vl, &dl);
        if (!d) return 0;
        bool fits = (size_t)dl < outlen;
        if (fits) memcpy(out, d, (size_t)dl + 1);
        curl_free(d);
        return fits;
    }
    return 0;
}

static int open_bucket(vg_content *c, const char *url, char *err, size_t errlen)
{
    const char *p = url + strlen("s3://");
    const char *q = strchr(p, '?');
    size_t path_len = q ? (size_t)(q - p) : strlen(p);
    size_t bl = strcspn(p, "/?");
    static const char bucket_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";
    if (bl < 3 || bl >= sizeof c->bucket || strspn(p, bucket_chars) < bl)
        return fail(err, errlen, VG_INVALID, "content: bad bucket name in %s", url);
    memcpy(c->bucket, p, bl);
    c->bucket[bl] = '\0';
    /* The prefix, without its slashes at either end, then with one at its end. */
    const char *pre = p + bl;
    size_t pl = path_len - bl;
    while (pl && *pre == '/')
        pre++, pl--;
    while (pl && pre[pl - 1] == '/')
        pl--;
    if (pl) {
        if (pl + 2 > sizeof c->prefix)
            return fail(err, errlen, VG_INVALID, "content: the prefix is too long");
        memcpy(c->prefix, pre, pl);
        c->prefix[pl] = '/';
        c->prefix[pl + 1] = '\0';
        char check[sizeof c->prefix];
        snprintf(check, sizeof check, "%.*s", (int)pl, pre);
        if (!key_ok(check)) return fail(err, errlen, VG_INVALID, "content: bad prefix in %s", url);
    }
    char region[64] = "us-east-1";
    if (q) query_get(q + 1, "region", region, sizeof region);
    if (!region[0] || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
        return fail(err, errlen, VG_INVALID, "content: bad region in %s", url);
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:s3", region);
    if (!q || !query_get(q + 1, "endpoint", c->endpoint, sizeof c->endpoint))
        snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", region);
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        c->endpoint[--el] = '\0';
    if (strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8))
        return fail(err, errlen, VG_INVALID, "content: the endpoint must be http:// or https://");
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = getenv("AWS_SESSION_TOKEN");
    if (!ak || !*ak || !sk || !*sk)
        return fail(err, errlen, VG_INVALID,
                    "content: an s3:// URL needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    if (strchr(ak, ':') ||
        (size_t)snprintf(c->userpwd, sizeof c->userpwd, "%s:%s", ak, sk) >= sizeof c->userpwd)
        return fail(err, errlen, VG_INVALID, "content: unusable AWS_ACCESS_KEY_ID");
    if (tok && *tok)
        snprintf(c->token_header, sizeof c->token_header, "x-amz-security-token: %s", tok);
    snprintf(c->describe, sizeof c->describe, "s3 bucket %s%s%s at %s (cache %s)", c->bucket,
             c->prefix[0] ? "/" : "", c->prefix, c->endpoint, c->dir);
    c->remote = true;
    return VG_OK;
}

int vg_content_open(const char *url, const char *default_dir, vg_content **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    vg_content *c = vg_calloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    const char *dir = default_dir;
    int rc = VG_OK;
    if (url && !strncmp(url, "s3://", 5)) {
        snprintf(c->dir, sizeof c->dir, "%s", default_dir);
        rc = open_bucket(c, url, err, errlen);
    } else {
        if (url && !strncmp(url, "file://", 7)) url += 7;
        if (url && *url) dir = url;
        if (*dir != '/' && *dir != '.')
            rc = fail(err, errlen, VG_INVALID,
                      "content: %s is neither a directory path nor an s3:// URL", dir);
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            n--;
        if (n >= sizeof c->dir) rc = fail(err, errlen, VG_INVALID, "content: path too long");
        snprintf(c->dir, sizeof c->dir, "%.*s", (int)n, dir);
        snprintf(c->describe, sizeof c->describe, "directory %s", c->dir);
    }
    if (rc == VG_OK && vg_mkdir_p(c->dir, 0700))
        rc =
            fail(err, errlen, VG_INVALID, "content: cannot create %s: %s", c->dir, strerror(errno));
    if (rc != VG_OK) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return rc;
    }
    if (c->remote) {
        vg_fetch_global_init();
        c->pool = vg_pool_new(&(vg_pool_def){
            .name = "content", .threads = VG_CONTENT_WORKERS, .ud = c, .step = step});
        vg_pool_start(c->pool);
    }
    *out = c;
    return VG_OK;
}

void vg_content_close(vg_content *c)
{
    if (!c) return;
    vg_pool_stop(c->pool);
    /* What the pool did not reach: deletes and uploads are done now (a removed task must leave
     * the bucket, a staged upload reach it), fetches dropped (their requests were answered when
     * the loops stopped). */
    for (job *j = c->head, *next; j; j = next) {
        next = j->next;
        if (j->kind == JOB_DELETE_TASK) delete_task_remote(c, j->key);
        if (j->kind == JOB_PUT) run_put(c, j);
        free(j);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

bool vg_content_is_remote(const vg_content *c)
{
    return c->remote;
}

const char *vg_content_dir(const vg_content *c)
{
    return c->dir;
}

const char *vg_content_describe(const vg_content *c)
{
    return c->describe;
}
