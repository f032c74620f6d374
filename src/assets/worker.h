/*
 * worker.h - the asset processing pool: turns Processing assets into Active or Failed ones, and
 * collects the bytes of deleted assets once nothing needs them.
 *
 * Design:
 *   - What runs where. The HTTP handler of CreateAsset only checks the request, stages a Data
 *     upload in DATA/files/assets/staging/<id>, inserts the row (Processing) and wakes the pool;
 *     it never fetches or decodes. VG_ASSET_WORKERS threads (a common/pool.h pool), each with its
 *     own store connection, claim Processing assets one at a time (an atomic UPDATE … RETURNING
 *     with a lease; an idle one looks again every second unless woken), fetch a URL into DATA/tmp
 *     (net/fetch.h: https only unless allowed, SSRF checks at connect time, bounded size and
 *     time), probe the bytes with FFmpeg (probe.h), check the AssetType's rules (asset.h), and
 *     publish.
 *   - Publishing. The file is flushed, then hard-linked (a Data upload: its staging copy stays
 *     until the commit) or renamed (a download) to DATA/files/assets/<sha256>; identical content
 *     is stored once. With a bucket (net/content.h) the file is then uploaded as
 *     "assets/<sha256>", so that every node can serve it. Then the row becomes Active with its
 *     hash. Failures become Failed with an
 *     Error{Code, Message}; the downloaded or staged bytes are removed after the commit.
 *   - Several nodes (a bucket, net/content.h). The handler also queues the upload of a staged
 *     Data upload as "assets/staging/<id>"; a worker of another node that claims the asset and
 *     finds no staging copy waits up to VG_CONTENT_STAGED_WAIT_MS for that object and fetches it.
 *     The bucket's copy is removed with the local one, after the commit.
 *   - Who frees what. A claimed vg_asset is the worker's and freed by it; a job's files are
 *     removed by the job. Content files belong to the collector.
 *   - Collection (the bytes leave the bucket too). A deleted asset keeps its row for
 *     VG_ASSET_GC_GRACE_S (longer than a submit takes from its asset check to its commit). Then an
 *     idle worker removes the row, and the bytes too unless another asset row (live, or deleted
 *     within the grace) or an active task names the hash; when only tasks do, the row is kept and
 *     looked at again later. Publishing and collecting hold one lock, so a file is never removed
 *     while it is being made Active.
 *   - Crash. Start-up (vg_assets_start) releases every Processing asset's lease, so they are
 *     processed again from the start: a URL is fetched again (DATA/tmp was wiped), a Data upload
 *     still has its staging copy. Staging files without a Processing row (a crash between the
 *     staging and the insert) and content files no row or task names (a crash between a publish
 *     and its commit) are removed. An asset claimed more than VG_ASSET_MAX_ATTEMPTS times fails
 *     with ProcessingInterrupted rather than crash-loop the server.
 *   - Shutdown. vg_assets_stop() lets each worker finish its current asset (a fetch is bounded by
 *     VG_FETCH_TIMEOUT_MS), then joins the threads.
 *
 *   - Quota. With quota_bytes > 0, an asset becomes Active only if the key's other Active assets
 *     and this one fit in it (checked under the content lock, so the activations of one process
 *     cannot overtake each other); otherwise it fails with QuotaExceeded. CreateAsset checks the
 *     same quota first (api/assets.c), counting Processing Data uploads too.
 *
 * Content written for requests (vg_assets_put_content). Inline media of a task submit (data: URLs,
 * uploaded files) are stored like asset content, under their hash, and the task keeps a reference
 * to the hash (core/asset.h); task_assets rows keep them while the task is active. The file is
 * written to DATA/tmp and flushed, then linked in place under the content lock and the directory
 * flushed, all before the submit commits; identical content is written once and its file touched.
 * The collector (vg_assets_collect) also visits the hashes that final tasks name: their bytes go
 * when no asset row and no active task names them and the file was not put or touched within
 * VG_ASSET_GC_GRACE_S (a submit between its put and its commit), and the final tasks' rows go. A
 * crash between a put and the commit leaves a file nothing names: removed at the next start.
 *
 * Off-loop jobs of requests (vg_assets_offload): VG_ASSET_STAGE_WORKERS more threads run short
 * jobs that must not hold an event loop (base64 decoding, hashing and writing an upload), in FIFO
 * order. A job owns its argument and signals its own completion (api/ handlers announce it through
 * common/taskwatch.h to the request parked on its loop). At stop, jobs still queued run on the
 * stopping thread, so every job runs exactly once.
 *
 * One pool per process: vg_assets_notify() wakes the pool started last (handlers have no pointer
 * to it), and does nothing when none runs.
 */
#ifndef VG_ASSETS_WORKER_H
#define VG_ASSETS_WORKER_H
#include "net/content.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *data_dir; /* DATA: the content store is DATA/files/assets */
    const char *tmp_dir;  /* DATA/tmp: downloads in progress */
    vg_content *content;  /* where content is published ("assets/<sha256>"); DATA/files is its
                             local directory. NULL = the directory alone (tests) */
    bool allow_http;      /* the operator's fetch policy (config allow_http_fetch) */
    bool allow_private;   /* (config allow_private_fetch) */
    int64_t quota_bytes;  /* per-key storage quota of assets (config asset_quota_bytes); 0 = none */
} vg_assets_env;

typedef struct vg_assets vg_assets;

/**
 * Prepares the content store (directories, start-up recovery described above) with a connection
 * from open_store(ud), then starts `workers` threads. env and its strings must outlive the pool.
 * NULL with a reason in err on failure.
 */
vg_assets *vg_assets_start(const vg_assets_env *env, int workers, vg_store *(*open_store)(void *ud),
                           void *ud, char *err, size_t errlen);
/** Wakes an idle worker of the running pool (an asset was created). Thread-safe; cheap. */
void vg_assets_notify(void);
/**
 * Runs fn(arg) on an off-loop thread of the running pool (on the caller's thread when none runs).
 * Thread-safe. fn owns arg.
 */
void vg_assets_offload(void (*fn)(void *arg), void *arg);
/**
 * Stores len bytes as content: DATA/files/assets/<sha256>, durable (file and directory flushed)
 * when it returns VG_OK, with the hash in sha256. The one function that writes content for
 * requests; blocking (call it off the event loop). With a bucket (content not NULL) the file is
 * also uploaded before it returns, so a node that runs the task can fetch it. Thread-safe.
 * VG_ERR (logged) on a write or upload error.
 */
int vg_assets_put_content(vg_content *content, const char *data_dir, const char *tmp_dir,
                          const unsigned char *bytes, size_t len, char sha256[65]);
/** Stops the pool (each worker finishes its current asset) and frees it. NULL is a no-op. */
void vg_assets_stop(vg_assets *a);

/* The steps of a worker, exposed for tests. Each runs on the caller's thread. */

/** Processes one claimed asset to Active or Failed. */
void vg_assets_process(const vg_assets_env *env, vg_store *s, const vg_asset *a);
/** One collection pass over deleted assets due at `now`. Returns how many rows were removed. */
int vg_assets_collect(const vg_assets_env *env, vg_store *s, int64_t now);
/** One collection pass over the content hashes final tasks name (inline media of finished tasks,
 *  see the note above). Returns how many hashes it looked at. */
int vg_assets_collect_refs(const vg_assets_env *env, vg_store *s, int64_t now);
/** Start-up recovery: releases leases, removes orphaned staging and content files. */
int vg_assets_recover(const vg_assets_env *env, vg_store *s);

#endif
