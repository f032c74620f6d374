/*
 * worker.c - the asset processing pool of worker.h (read its design note first).
 *
 * Per asset, on one worker: claim (lease, attempts + 1) → the bytes into a file (download into
 * DATA/tmp, or the staging copy of a Data upload) → size, SHA-256, FFmpeg probe, AssetType rules →
 * publish under the content lock (flush, link/rename to DATA/files/assets/<sha256>, commit Active)
 * or commit Failed → remove the job's file. Every path ends in exactly one store call, conditional
 * on the asset still being Processing; a store error leaves it Processing and its lease expiry
 * brings it back.
 */
#include "assets/worker.h"

#include "assets/probe.h"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pool.h"
#include "net/fetch.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS   1000
#define GC_BATCH       100
#define HASH_BUF_BYTES 65536

struct vg_assets {
    vg_assets_env env;
    vg_store *(*open_store)(void *ud);
    void *ud;
    vg_pool *pool;           /* the processing threads */
    vg_pool *offload;        /* the threads of vg_assets_offload() */
    atomic_llong next_gc_ms; /* whichever idle worker passes this time collects */
};

/* Publishing a content file and collecting one never interleave (see worker.h). */
static pthread_mutex_t content_lock = PTHREAD_MUTEX_INITIALIZER;
/* The running pool, for vg_assets_notify(). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_assets *current;

/* One asset being processed. */
typedef struct {
    const vg_assets_env *env;
    vg_store *s;
    const vg_asset *a;
    char src[1400]; /* the bytes: a download in DATA/tmp or the staging copy */
    bool staged;    /* src is the staging copy: linked, not moved, and removed after the commit */
    vg_asset_media media;
    char sha[65];
    const char *code; /* Error.Code once something failed */
    char msg[256];
} job;

static int job_fail(job *j, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int job_fail(job *j, const char *code, const char *fmt, ...)
{
    if (!j->code) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->msg, sizeof j->msg, fmt, ap);
        va_end(ap);
        j->code = code;
    }
    return -1;
}

/* ---- the steps of one asset -------------------------------------------------------------- */

static const char *fetch_code(int rc)
{
    return rc == VG_INVALID ? "URLNotAllowed" : rc == VG_TOOLARGE ? "FileTooLarge" : "FetchFailed";
}

/* The content key of a staged upload: "assets/staging/<id>", its path under DATA/files. */
static void staging_key(const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "assets/staging/%s", id);
}

/* A Data upload staged on another node reaches the bucket shortly after its row is inserted
 * (api/assets.c queues the upload): wait for it a while, then fetch it to j->src. */
static int fetch_staged(job *j)
{
    vg_content *c = j->env->content;
    char key[128], why[256] = "";
    if (!c || !vg_content_is_remote(c)) return -1;
    staging_key(j->a->id, key, sizeof key);
    int64_t deadline = vg_now_ms() + VG_CONTENT_STAGED_WAIT_MS;
    int rc;
    while ((rc = vg_content_fetch(c, key, why, sizeof why)) == VG_NOTFOUND &&
           vg_now_ms() < deadline)
        usleep(200 * 1000);
    if (rc == VG_ERR) vg_warn("asset %s: cannot fetch the staged upload: %s", j->a->id, why);
    return rc == VG_OK ? 0 : -1;
}

/* Puts the asset's bytes in j->src: downloaded (URL) or already staged (Data). */
static int obtain(job *j)
{
    const vg_asset *a = j->a;
    if (!a->source_url) {
        j->staged = true;
        vg_asset_staging_path(j->env->data_dir, a->id, j->src, sizeof j->src);
        if (access(j->src, F_OK) == 0 || fetch_staged(j) == 0) return 0;
        return job_fail(j, "UploadLost", "the uploaded bytes were lost; upload the asset again");
    }
    snprintf(j->src, sizeof j->src, "%s/asset-%s.%d", j->env->tmp_dir, a->id, a->attempts);
    vg_fetch_opts o = {.allow_http = j->env->allow_http,
                       .allow_private = j->env->allow_private,
                       .max_bytes = (size_t)vg_asset_max_bytes(a->type)};
    char ctype[VG_FETCH_CTYPE_BYTES], why[200] = "";
    size_t len = 0;
    int rc = vg_fetch_file(a->source_url, &o, j->src, &len, ctype, why, sizeof why);
    if (rc == VG_OK) return 0;
    return job_fail(j, fetch_code(rc), "cannot fetch the URL: %s", why[0] ? why : "failed");
}

/* Streams the file through SHA-256 (never whole in memory). */
static int hash_file(job *j)
{
    int fd = open(j->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = vg_malloc(HASH_BUF_BYTES), digest[32];
    unsigned dlen = 0;
    ssize_t n = -1;
    bool ok = fd >= 0 && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while (ok && (n = read(fd, buf, HASH_BUF_BYTES)) > 0)
        ok = EVP_DigestUpdate(md, buf, (size_t)n);
    ok = ok && n == 0 && EVP_DigestFinal_ex(md, digest, &dlen) && dlen == 32;
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(j->sha + 2 * i, 3, "%02x", digest[i]);
    free(buf);
    EVP_MD_CTX_free(md);
    if (fd >= 0) close(fd);
    return ok ? 0 : job_fail(j, "InternalError", "the stored bytes cannot be read");
}

/* Size first (cheap, and bounds the work), then FFmpeg, then the AssetType's rules. */
static int validate(job *j)
{
    struct stat sb;
    int64_t max = vg_asset_max_bytes(j->a->type);
    if (stat(j->src, &sb)) return job_fail(j, "InternalError", "the stored bytes are missing");
    if ((int64_t)sb.st_size > max)
        return job_fail(j, "FileTooLarge",
                        "the file is %lld bytes; the limit for %s assets is %lld",
                        (long long)sb.st_size, vg_asset_type_name(j->a->type), (long long)max);
    const char *code = NULL;
    if (vg_asset_probe(j->src, &j->media, &code, j->msg, sizeof j->msg) != VG_OK)
        return j->code = code, -1;
    if (vg_asset_check(j->a->type, &j->media, &code, j->msg, sizeof j->msg) != VG_OK)
        return j->code = code, -1;
    return hash_file(j);
}

static int fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Makes the content file exist (durably) under its hash; identical content is stored once. */
static int place_content(job *j)
{
    char blob[1400], dir[1200];
    vg_asset_blob_path(j->env->data_dir, j->sha, blob, sizeof blob);
    vg_asset_store_dir(j->env->data_dir, dir, sizeof dir);
    if (access(blob, F_OK) == 0) return 0;
    if (fsync_file(j->src)) return -1;
    if ((j->staged ? link(j->src, blob) : rename(j->src, blob)) && errno != EEXIST) return -1;
    return vg_fsync_dir(dir);
}

/* The key's quota (worker.h): the Active assets of the key and this one. Checked under the
 * content lock, so two activations of one process cannot both squeeze under it. */
static int within_quota(job *j)
{
    int64_t used = 0, quota = j->env->quota_bytes;
    if (quota <= 0) return 0;
    if (vg_store_asset_usage(j->s, j->a->key_id, false, j->a->id, &used) != VG_OK) return -2;
    if (used + j->media.size_bytes <= quota) return 0;
    return job_fail(j, "QuotaExceeded",
                    "the key's assets would use %lld bytes; its storage quota is %lld bytes",
                    (long long)(used + j->media.size_bytes), (long long)quota);
}

/* The content key of a hash: "assets/<sha256>" (net/content.h), the path under DATA/files. */
static void blob_key(const char *sha, char *out, size_t outlen)
{
    snprintf(out, outlen, "assets/%s", sha);
}

/* Uploads the placed file to the bucket, if there is one (a file already there is put again:
 * cheaper than asking, and it repairs a bucket that lost it). */
static int upload_content(job *j)
{
    char key[128], why[300] = "";
    blob_key(j->sha, key, sizeof key);
    if (!j->env->content || vg_content_put(j->env->content, key, why, sizeof why) == VG_OK)
        return 0;
    vg_error("asset %s: cannot upload its content: %s", j->a->id, why);
    return -1;
}

/* Content file, then the commit, under the content lock (the collector takes it too). */
static int publish(job *j)
{
    pthread_mutex_lock(&content_lock);
    int rc = VG_ERR, q = within_quota(j);
    if (q == -1)
        rc = vg_store_asset_fail(j->s, j->a->id, j->code, j->msg, vg_now_s());
    else if (q == 0 && place_content(j) != 0)
        vg_error("asset %s: cannot store its content: %s", j->a->id, strerror(errno));
    else if (q == 0 && upload_content(j) == 0)
        rc = vg_store_asset_activate(j->s, j->a->id, j->sha, &j->media, vg_now_s());
    pthread_mutex_unlock(&content_lock);
    return rc;
}

/* Records the outcome; returns whether the job's file may go (the store took the outcome). */
static bool settle(job *j)
{
    const vg_asset *a = j->a;
    int rc;
    if (j->code) {
        rc = vg_store_asset_fail(j->s, a->id, j->code, j->msg, vg_now_s());
        if (rc == VG_OK) vg_info("asset %s failed: %s: %s", a->id, j->code, j->msg);
    } else {
        rc = publish(j);
        if (rc == VG_OK && j->code)
            vg_info("asset %s failed: %s: %s", a->id, j->code, j->msg);
        else if (rc == VG_OK)
            vg_info("asset %s active: %s, %lld bytes", a->id, j->media.format,
                    (long long)j->media.size_bytes);
    }
    if (rc == VG_OK || rc == VG_CONFLICT) return true;
    vg_error("asset %s: cannot record the outcome (%d); it will be processed again", a->id, rc);
    return false;
}

void vg_assets_process(const vg_assets_env *env, vg_store *s, const vg_asset *a)
{
    job j = {.env = env, .s = s, .a = a};
    if (a->attempts > VG_ASSET_MAX_ATTEMPTS)
        /* Claimed again and again while the process died: the input may be what kills it. */
        job_fail(&j, "ProcessingInterrupted", "processing was interrupted too many times");
    else if (obtain(&j) == 0)
        validate(&j);
    bool done = settle(&j);
    if (j.src[0] && (done || !j.staged)) unlink(j.src);
    if (done && j.staged && env->content) { /* the bucket's copy of the staged upload */
        char key[128];
        staging_key(a->id, key, sizeof key);
        vg_content_delete(env->content, key);
    }
}

/* ---- collection -------------------------------------------------------------------------- */

static void collect_one(const vg_assets_env *env, vg_store *s, const vg_asset *a, int64_t now)
{
    int64_t rows = 0, tasks = 0;
    pthread_mutex_lock(&content_lock);
    int rc = a->sha256[0]
                 ? vg_store_asset_blob_refs(s, a->sha256, now - VG_ASSET_GC_GRACE_S, &rows, &tasks)
                 : VG_OK;
    if (rc == VG_OK && rows == 0 && tasks > 0) {
        /* Only tasks still need the bytes: keep this row as their reminder. */
        vg_store_asset_gc_defer(s, a->id, now + VG_ASSET_GC_GRACE_S);
    } else if (rc == VG_OK) {
        char blob[1400], key[128];
        vg_asset_blob_path(env->data_dir, a->sha256, blob, sizeof blob);
        blob_key(a->sha256, key, sizeof key);
        if (a->sha256[0] && rows == 0 && unlink(blob) && errno != ENOENT)
            vg_warn("asset %s: cannot remove %s: %s", a->id, blob, strerror(errno));
        if (a->sha256[0] && rows == 0 && env->content) vg_content_delete(env->content, key);
        vg_store_asset_purge(s, a->id);
    }
    pthread_mutex_unlock(&content_lock);
}

/* Whether a content file was put (or touched) within the grace: a submit may be between its
 * vg_assets_put_content() and its commit, so its task does not name the hash yet. */
static bool recently_put(const char *blob, int64_t now)
{
    struct stat sb;
    return stat(blob, &sb) == 0 && (int64_t)sb.st_mtime > now - VG_ASSET_GC_GRACE_S;
}

/* A hash that final tasks name: its bytes go when no asset row and no active task names it
 * (inline media of finished tasks), then the final tasks' references go in any case. */
static void collect_ref(const vg_assets_env *env, vg_store *s, const char *sha, int64_t now)
{
    int64_t rows = 0, tasks = 0;
    char blob[1400];
    vg_asset_blob_path(env->data_dir, sha, blob, sizeof blob);
    pthread_mutex_lock(&content_lock);
    int rc = vg_store_asset_blob_refs(s, sha, now - VG_ASSET_GC_GRACE_S, &rows, &tasks);
    bool unused = rc == VG_OK && rows == 0 && tasks == 0;
    if (unused && recently_put(blob, now)) {
        rc = VG_AGAIN; /* keep the references: the next pass looks again */
    } else if (unused && unlink(blob) && errno != ENOENT) {
        vg_warn("assets: cannot remove %s: %s", blob, strerror(errno));
        rc = VG_ERR;
    } else if (unused && env->content) { /* the bucket's copy of inline media */
        char key[128];
        blob_key(sha, key, sizeof key);
        vg_content_delete(env->content, key);
    }
    if (rc == VG_OK) vg_store_asset_refs_prune(s, sha);
    pthread_mutex_unlock(&content_lock);
}

int vg_assets_collect(const vg_assets_env *env, vg_store *s, int64_t now)
{
    vg_asset *due = NULL;
    size_t n = 0;
    int purged = 0;
    if (vg_store_asset_gc_due(s, now, GC_BATCH, &due, &n) == VG_OK) {
        for (size_t i = 0; i < n; i++) {
            collect_one(env, s, &due[i], now);
            purged++;
        }
    }
    for (size_t i = 0; i < n; i++)
        vg_asset_free(&due[i]);
    free(due);
    return purged;
}

int vg_assets_collect_refs(const vg_assets_env *env, vg_store *s, int64_t now)
{
    char(*shas)[65] = NULL;
    size_t m = 0;
    if (vg_store_asset_refs_final(s, GC_BATCH, &shas, &m) == VG_OK)
        for (size_t i = 0; i < m; i++)
            collect_ref(env, s, shas[i], now);
    free(shas);
    return (int)m;
}

/* ---- content written for requests ------------------------------------------------------- */

/* The bytes into a new flushed file in DATA/tmp (the slow part, done outside the lock). */
static int write_tmp(const char *tmp, const unsigned char *bytes, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -1 : vg_write_all(fd, bytes, len);
    if (fd >= 0 && (fsync(fd) | close(fd))) rc = -1;
    if (rc) vg_error("assets: cannot write %s: %s", tmp, strerror(errno));
    return rc;
}

int vg_assets_put_content(vg_content *content, const char *data_dir, const char *tmp_dir,
                          const unsigned char *bytes, size_t len, char sha256[65])
{
    static atomic_uint seq;
    char blob[1400], dir[1200], tmp[1400];
    vg_sha256_hex(bytes, len, sha256);
    vg_asset_blob_path(data_dir, sha256, blob, sizeof blob);
    vg_asset_store_dir(data_dir, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/content-%s.%d.%u", tmp_dir, sha256, (int)getpid(),
             atomic_fetch_add(&seq, 1));
    bool written = false;
    int rc = -1;
    for (int round = 0; round < 2 && rc; round++) {
        /* Identical content is stored once: the copy is written only when it is missing (or
         * was collected since the look, the second round). */
        if (!written && access(blob, F_OK) != 0) {
            if (write_tmp(tmp, bytes, len)) break;
            written = true;
        }
        pthread_mutex_lock(&content_lock);
        if (access(blob, F_OK) == 0)
            /* touched: its mtime starts the collector's grace (recently_put) again */
            rc = utimensat(AT_FDCWD, blob, NULL, 0);
        else if (written)
            rc = link(tmp, blob) && errno != EEXIST ? -1 : 0;
        if (rc == 0) rc = vg_fsync_dir(dir);
        pthread_mutex_unlock(&content_lock);
    }
    if (written) unlink(tmp);
    if (rc) vg_error("assets: cannot store content %s: %s", sha256, strerror(errno));
    if (rc == 0 && content) {
        char key[128], why[300] = "";
        blob_key(sha256, key, sizeof key);
        rc = vg_content_put(content, key, why, sizeof why);
        if (rc) vg_error("assets: cannot upload content %s: %s", sha256, why);
    }
    return rc ? VG_ERR : VG_OK;
}

/* ---- off-loop jobs of requests --------------------------------------------------------- */

typedef struct offload_job {
    struct offload_job *next;
    void (*fn)(void *arg);
    void *arg;
} offload_job;

static pthread_mutex_t offload_lock = PTHREAD_MUTEX_INITIALIZER;
static offload_job *offload_head, **offload_tail = &offload_head;

static offload_job *offload_pop(void)
{
    pthread_mutex_lock(&offload_lock);
    offload_job *j = offload_head;
    if (j && !(offload_head = j->next)) offload_tail = &offload_head;
    pthread_mutex_unlock(&offload_lock);
    return j;
}

static int offload_step(void *ud, void *state)
{
    (void)ud;
    (void)state;
    offload_job *j = offload_pop();
    if (!j) return IDLE_POLL_MS;
    j->fn(j->arg);
    free(j);
    return 0;
}

/* ---- start-up recovery ------------------------------------------------------------------- */

static bool is_sha_name(const char *name)
{
    return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

/* Removes the entries of dir that wanted() says nothing backs (start-up sweeps). */
static void sweep_dir(const char *dir, vg_store *s, bool (*wanted)(vg_store *s, const char *name))
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || wanted(s, e->d_name)) continue;
        char path[1500];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
}

/* A staging file is kept only while its asset is still Processing (or the store cannot say). */
static bool staging_wanted(vg_store *s, const char *name)
{
    vg_asset a;
    int rc = vg_store_asset_get(s, name, NULL, &a);
    bool keep = rc == VG_ERR || (rc == VG_OK && a.status == VG_ASSET_PROCESSING);
    if (rc == VG_OK) vg_asset_free(&a);
    return keep;
}

/* A content file no asset row and no active task names is left over from a crash. */
static bool content_wanted(vg_store *s, const char *name)
{
    int64_t rows = 1, tasks = 1;
    return !is_sha_name(name) || vg_store_asset_blob_refs(s, name, -1, &rows, &tasks) != VG_OK ||
           rows || tasks;
}

int vg_assets_recover(const vg_assets_env *env, vg_store *s)
{
    char dir[1200];
    int64_t n = 0;
    vg_asset_staging_dir(env->data_dir, dir, sizeof dir);
    if (vg_mkdir_p(dir, 0700) || vg_store_asset_recover(s, vg_now_ms(), &n) != VG_OK) return -1;
    sweep_dir(dir, s, staging_wanted);
    vg_asset_store_dir(env->data_dir, dir, sizeof dir);
    sweep_dir(dir, s, content_wanted);
    if (n) vg_info("assets: resuming %lld Processing asset(s)", (long long)n);
    return 0;
}

/* ---- the pool ---------------------------------------------------------------------------- */

static void maybe_collect(vg_assets *p, vg_store *s)
{
    long long due = atomic_load(&p->next_gc_ms), now_ms = vg_now_ms();
    if (now_ms < due ||
        !atomic_compare_exchange_strong(&p->next_gc_ms, &due, now_ms + VG_ASSET_GC_EVERY_MS))
        return;
    int64_t now = vg_now_s();
    int assets = vg_assets_collect(&p->env, s, now), refs = vg_assets_collect_refs(&p->env, s, now);
    if (assets == GC_BATCH || refs == GC_BATCH)
        atomic_store(&p->next_gc_ms, 0); /* more to do: collect again soon */
}

/* The pool's callbacks (common/pool.h): a store connection per thread, one asset per step. */
static void *worker_start(void *ud)
{
    vg_assets *p = ud;
    vg_store *s = p->open_store(p->ud);
    if (!s) vg_error("assets: a worker cannot open the store");
    return s;
}

static void worker_end(void *ud, void *state)
{
    (void)ud;
    vg_store_close(state);
}

static int worker_step(void *ud, void *state)
{
    vg_assets *p = ud;
    vg_store *s = state;
    vg_asset a;
    int rc = vg_store_asset_claim(s, vg_now_ms(), VG_ASSET_LEASE_MS, &a);
    if (rc == VG_OK) {
        vg_assets_process(&p->env, s, &a);
        vg_asset_free(&a);
        return 0;
    }
    if (rc != VG_NOTFOUND && rc != VG_AGAIN) vg_warn("assets: claim failed (%d)", rc);
    maybe_collect(p, s);
    return IDLE_POLL_MS;
}

vg_assets *vg_assets_start(const vg_assets_env *env, int workers, vg_store *(*open_store)(void *ud),
                           void *ud, char *err, size_t errlen)
{
    vg_store *s = open_store(ud);
    if (!s || vg_assets_recover(env, s)) {
        snprintf(err, errlen, "assets: cannot prepare the content store in %s/files/assets",
                 env->data_dir);
        vg_store_close(s);
        return NULL;
    }
    vg_store_close(s);
    vg_assets *p = vg_calloc(1, sizeof *p);
    p->env = *env;
    p->open_store = open_store;
    p->ud = ud;
    p->pool = vg_pool_new(&(vg_pool_def){.name = "assets",
                                         .threads = workers,
                                         .ud = p,
                                         .thread_start = worker_start,
                                         .thread_end = worker_end,
                                         .step = worker_step});
    int started = vg_pool_start(p->pool);
    p->offload = vg_pool_new(&(vg_pool_def){
        .name = "staging", .threads = VG_ASSET_STAGE_WORKERS, .ud = p, .step = offload_step});
    vg_pool_start(p->offload);
    pthread_mutex_lock(&current_lock);
    current = p;
    pthread_mutex_unlock(&current_lock);
    vg_info("assets: %d processing worker(s)", started);
    return p;
}

void vg_assets_notify(void)
{
    pthread_mutex_lock(&current_lock);
    vg_assets *p = current;
    if (p) vg_pool_notify(p->pool);
    pthread_mutex_unlock(&current_lock);
}

void vg_assets_offload(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&current_lock);
    vg_assets *p = current;
    if (p) {
        offload_job *j = vg_calloc(1, sizeof *j);
        j->fn = fn;
        j->arg = arg;
        pthread_mutex_lock(&offload_lock);
        *offload_tail = j;
        offload_tail = &j->next;
        pthread_mutex_unlock(&offload_lock);
        vg_pool_notify(p->offload);
    }
    pthread_mutex_unlock(&current_lock);
    if (!p) fn(arg); /* no pool (tools, tests): the caller's thread does the work */
}

void vg_assets_stop(vg_assets *p)
{
    if (!p) return;
    pthread_mutex_lock(&current_lock);
    if (current == p) current = NULL;
    pthread_mutex_unlock(&current_lock);
    vg_pool_stop(p->offload);
    /* Jobs queued too late for the threads run here: each one's owner waits for its end. */
    for (offload_job *j; (j = offload_pop());) {
        j->fn(j->arg);
        free(j);
    }
    vg_pool_stop(p->pool);
    free(p);
}
