/*
 * content.h - where result and asset bytes live: a directory, or an S3-compatible bucket that
 * several nodes share, with the directory as this node's cache of it.
 *
 * Content is named by keys: "<task_id>/video.mp4" (and the task's other files), "assets/<sha256>".
 * A key is also a path under the local directory (vg_content_path): DATA/files by default. What
 * each kind of handle means:
 *   - directory ("/path", "file:///path", or empty = the default directory): the directory is the
 *     content. Publishing moves files into it; put is a no-op; fetch finds a file or not.
 *   - bucket ("s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=us-east-1", credentials from
 *     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): object "PREFIX/<key>" is the content, the
 *     directory a cache of it. Publishing = the local move, then one PUT per file (with the file's
 *     mtime as x-amz-meta-mtime, so that every node serves the same ETag); a fetch GETs an object
 *     into the cache (written aside, then renamed in) and sets that mtime; delete removes both.
 *     Requests are libcurl's, signed by CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"), path-style URLs.
 *
 * Threads: the blocking calls (publish, put, fetch, delete, stat) run on worker threads only (the
 * render pool, upstream and asset workers, the retention sweep), never on an event loop. An event
 * loop uses the non-blocking calls vg_content_fetch_start / vg_content_fetch_state,
 * vg_content_delete_task_later and vg_content_put_later: they hand the work to the handle's own
 * worker pool (common/pool.h, VG_CONTENT_WORKERS threads, bucket handles only). A fetch started
 * that way announces its end through common/taskwatch.h under the watch id its caller chose (a
 * parked request waits there, http/contentfile.h). The handle is thread-safe and outlives every
 * user (closed last).
 *
 * Crash: a fetch or copy in progress writes a "<path>.part-…" file beside its target and renames
 * it in when complete, so a half-written file is never served (a crash leaves the part file
 * behind). Publishers complete a task (activate an asset) only after its uploads: a crash in
 * between leaves it running (processing), and its re-run publishes again. An upload that fails
 * after its retries fails the task (refunded); an asset stays Processing and is tried again.
 */
#ifndef VG_NET_CONTENT_H
#define VG_NET_CONTENT_H
#include "common/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_content vg_content;

/** The files a task's result is made of (keys "<task_id>/<name>"), NULL-terminated. */
extern const char *const vg_content_task_files[];

/**
 * Opens url ("" = the directory default_dir). A bucket's cache is default_dir. VG_OK with *out,
 * or VG_INVALID with the reason in err (a bad URL, no credentials). Starts a bucket's workers.
 */
int vg_content_open(const char *url, const char *default_dir, vg_content **out, char *err,
                    size_t errlen);
/** Stops the worker pool (queued deletes are done first, queued fetches dropped) and frees c. */
void vg_content_close(vg_content *c);
/** Whether c is a bucket (so a missing local file may still exist). */
bool vg_content_is_remote(const vg_content *c);
/** The local directory (the content, or the bucket's cache). */
const char *vg_content_dir(const vg_content *c);
/** A printable description without secrets ("directory /x", "s3 bucket b at http://…"). */
const char *vg_content_describe(const vg_content *c);
/** The local path of key. -1 when key is not a valid key (empty, "..", odd characters). */
int vg_content_path(const vg_content *c, const char *key, char *out, size_t outlen);

/* ---- blocking: worker threads only ---------------------------------------------------------- */

/**
 * Publishes a finished directory: moves tmp_dir to DIR/<name> (replacing what an earlier attempt
 * left; copied when DIR is on another file system), flushes it, then puts each regular file in it
 * as "<name>/<file>". VG_OK, or VG_ERR with the reason in err (the local copy may stay: a retry
 * publishes again).
 */
int vg_content_publish_dir(vg_content *c, const char *tmp_dir, const char *name, char *err,
                           size_t errlen);
/** Uploads the local file of key (already in place) under key; a no-op for a directory. */
int vg_content_put(vg_content *c, const char *key, char *err, size_t errlen);
/**
 * Stores the file at src under key where the content lives: a copy into the directory (written
 * aside, renamed in, its mtime kept), or a PUT to the bucket (the cache is left alone). For moving
 * content from one place to another (`vidgated copy`). VG_OK, VG_INVALID (bad key) or VG_ERR.
 */
int vg_content_import(vg_content *c, const char *key, const char *src, char *err, size_t errlen);
/** Makes key's local file exist: VG_OK, VG_NOTFOUND (no such object), VG_ERR (reason in err). */
int vg_content_fetch(vg_content *c, const char *key, char *err, size_t errlen);
/** Removes key locally and from the bucket (a missing one is success). VG_OK or VG_ERR. */
int vg_content_delete(vg_content *c, const char *key);
/** Removes every file of a task ("<task_id>/…") locally and from the bucket. VG_OK or VG_ERR. */
int vg_content_delete_task(vg_content *c, const char *task_id);
/** Whether key exists where the content lives (HEAD for a bucket): VG_OK with its size,
 *  VG_NOTFOUND, or VG_ERR. */
int vg_content_stat(vg_content *c, const char *key, int64_t *size);

/* ---- non-blocking: any thread ---------------------------------------------------------------- */

/**
 * Starts fetching key into the cache, unless its file is there already. VG_OK: the file is there;
 * VG_AGAIN: a fetch runs (started now or earlier), and vg_taskwatch_notify(watch_id) follows its
 * end; VG_NOTFOUND: a directory without the file; VG_LIMITED: too many fetches at once.
 */
int vg_content_fetch_start(vg_content *c, const char *key, const char *watch_id);
/** The outcome of the last fetch of key: VG_OK (the file is there), VG_AGAIN (still running),
 *  VG_NOTFOUND (no such object), VG_ERR (the bucket failed). */
int vg_content_fetch_state(vg_content *c, const char *key);
/** Queues the bucket removal of a task's files (the caller removed the local ones). No-op for a
 *  directory. */
void vg_content_delete_task_later(vg_content *c, const char *task_id);
/** Queues the upload of key's local file (a staged upload another node may process). A file
 *  removed before its turn is not uploaded. No-op for a directory. */
void vg_content_put_later(vg_content *c, const char *key);

#endif
