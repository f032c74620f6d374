/*
 * store.h - the only way to touch durable data: keys, tasks, the money ledger.
 *
 * A backend (sqlite.c now, pg.c later) fills a vg_store_ops table; callers go through the
 * vg_store_* inline wrappers and never see SQL. A vg_store is one connection: it belongs to one
 * thread at a time (each event-loop thread and each worker opens its own). Every function that
 * changes a task's status does it in ONE transaction together with its ledger rows, and only if the
 * task is still in the expected state (a conditional update), so a crash or a second dispatcher can
 * never apply a change twice.
 *
 * Money: micro-units. balance = credits − debits − captures; held = holds − releases. A task has at
 * most one hold, one capture and one release (unique in the ledger). On completion the capture is
 * the real cost and the release frees the whole hold.
 *
 * Ownership: out-structs are filled by the callee; free their heap fields with vg_task_free() /
 * vg_key_free() / vg_asset_free(). Arrays returned through **out are malloc'd; free each element
 * then the array.
 */
#ifndef VG_STORE_H
#define VG_STORE_H
#include "core/asset.h"
#include "common/status.h"
#include "core/task.h"
#include "store/upstream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char id[48];
    char name[129];
    char hash[65]; /* hex SHA-256 of the secret */
    bool is_admin;
    bool revoked;
    bool test_mode;
    int64_t balance_micro;
    int64_t held_micro;
    int64_t created_at;
    int64_t expires_at;     /* 0 = never */
    int max_active_tasks;   /* 0 = no limit */
    int rate_limit_per_min; /* 0 = no limit */
    char *allowed_models;   /* JSON array text, NULL = all; owned */
} vg_key;

void vg_key_free(vg_key *k);

typedef struct {
    const char *key_id; /* NULL = every key (admin) */
    int status;         /* -1 = any, else a vg_task_status (public grouping applied by caller) */
    const char *after; /* cursor: tasks created before this id (newest-first order), NULL = start */
    bool ascending;    /* oldest first (then `after` means: created after this id) */
    int limit;         /* 1..VG_MAX_LIST_LIMIT */
} vg_task_filter;

/* One money movement (spec §7). kind: credit, debit, hold, capture, release. */
typedef struct {
    int64_t id;
    char key_id[48];
    char task_id[48]; /* "" when the entry has no task */
    char kind[16];
    int64_t amount_micro; /* always >= 0; kind gives the direction */
    char note[256];
    int64_t created_at;
} vg_ledger_entry;

/* An Idempotency-Key to record with a new task, and the reply to replay for it. */
typedef struct {
    const char *key;       /* the header's value */
    const char *body_hash; /* hex SHA-256 of route + canonical body */
    const char *response;  /* the 200 reply body to replay */
} vg_idem;

/* Usage totals of completed tasks, grouped by model or key. */
typedef struct {
    char group[64];
    int64_t tasks, tokens, cost_micro;
} vg_usage_row;

/* What an audit found (vidgated check). */
typedef struct {
    int64_t keys, tasks, ledger_rows, problems;
    int64_t captured_micro;       /* sum of capture rows */
    int64_t completed_cost_micro; /* sum of cost of completed tasks */
} vg_audit;

typedef struct vg_store vg_store;

typedef struct {
    const char *name;
    void (*close)(vg_store *s);
    int (*ping)(vg_store *s);

    int (*key_insert)(vg_store *s, const vg_key *k, int64_t credit_micro, const char *note);
    int (*key_by_hash)(vg_store *s, const char *hash, vg_key *out);
    int (*key_get)(vg_store *s, const char *id, vg_key *out);
    int (*key_list)(vg_store *s, vg_key **out, size_t *n);
    int (*key_revoke)(vg_store *s, const char *id, int64_t now);
    int (*key_count)(vg_store *s, int64_t *n);
    /* Updates name, allowed_models, limits and expiry of k->id. */
    int (*key_update)(vg_store *s, const vg_key *k, int64_t now);
    /* Credits (delta > 0) or debits (delta < 0) the balance with a ledger row. A debit larger
     * than the available amount (balance − held) → VG_NOFUNDS. */
    int (*key_adjust)(vg_store *s, const char *key_id, int64_t delta, const char *note,
                      int64_t now);
    /* Ledger rows of a key, newest first, with id < before_id (0 = from the newest). */
    int (*ledger_list)(vg_store *s, const char *key_id, int64_t before_id, int limit,
                       vg_ledger_entry **out, size_t *n, bool *more);
    /* Completed tasks with completed_at in [from, to), grouped by "model" or "key". */
    int (*usage)(vg_store *s, const char *group_by, int64_t from, int64_t to, vg_usage_row **out,
                 size_t *n);
    /* Recomputes every balance and hold from the ledger and every task's money state from its
     * status; calls report() once per difference. */
    int (*audit)(vg_store *s, void (*report)(void *ud, const char *problem), void *ud,
                 vg_audit *out);

    /* Inserts the task (status queued), its hold and (when idem != NULL) its idempotency record
     * in one transaction. VG_NOFUNDS when balance − held < t->hold_micro; VG_LIMITED when the
     * key's active-task cap is reached; VG_DUPLICATE when the idempotency key was taken meanwhile
     * (look it up with idem_get). */
    int (*task_create)(vg_store *s, const vg_task *t, int max_active, const vg_idem *idem);
    /* The record of an idempotency key used by key_id since `since`: body hash into hash and
     * the reply into *response (malloc'd). VG_NOTFOUND when none. */
    int (*idem_get)(vg_store *s, const char *key_id, const char *idem_key, int64_t since,
                    char hash[65], char **response);
    /* key_id NULL = any owner. VG_NOTFOUND also for another key's task. */
    int (*task_get)(vg_store *s, const char *id, const char *key_id, vg_task *out);
    int (*task_list)(vg_store *s, const vg_task_filter *f, vg_task **out, size_t *n, bool *more);
    /* Claims the oldest due queued task: status → running, attempts+1, lease until now+lease_ms.
     * VG_NOTFOUND when none is due. */
    int (*task_claim)(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_task *out);
    /* Raises progress (never lowers it) and extends the lease, while the task is running. */
    int (*task_progress)(vg_store *s, const char *id, int progress, int64_t lease_until_ms);
    /* running → completed with usage; capture + release in the same transaction. */
    int (*task_complete)(vg_store *s, const char *id, const vg_task_result *r, int64_t now);
    /* any non-final → failed; releases the hold. VG_CONFLICT when already final. */
    int (*task_fail)(vg_store *s, const char *id, const char *code, const char *msg, int64_t now);
    /* queued → cancelled for this key; releases the hold. VG_CONFLICT when not queued. */
    int (*task_cancel)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* running → queued again. orderly = interrupted on purpose (shutdown): the claim is not
     * counted as an attempt; otherwise (a process died) it is. */
    int (*task_requeue)(vg_store *s, const char *id, bool orderly, int64_t now);
    /* Marks a finished task's content deleted (files are removed by the caller after this).
     * key_id NULL = any owner (retention sweeps). */
    int (*task_mark_deleted)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* Up to `limit` completed tasks whose content expired before now and is still kept. */
    int (*task_expired)(vg_store *s, int64_t now, int limit, char (**ids)[48], size_t *n);
    /* Ids of tasks in `running` whose lease expired before now_ms (or all running ones when
     * now_ms is INT64_MAX: start-up of a single-node store). Upstream tasks hold no lease and are
     * never orphans (store/upstream.h). *ids malloc'd array of VG_ID strings.
     */
    int (*task_orphans)(vg_store *s, int64_t now_ms, char (**ids)[48], size_t *n);

    /* ---- assets and asset groups (spec §6; types in assets/asset.h) ----
     * Everything belongs to one key: a key_id argument restricts the call to that key's objects,
     * and another key's object is VG_NOTFOUND. Lists are pages, newest first, with the total. */
    /* Inserts a group. VG_DUPLICATE on an id clash. */
    int (*asset_group_create)(vg_store *s, const vg_asset_group *g);
    int (*asset_group_get)(vg_store *s, const char *id, const char *key_id, vg_asset_group *out);
    int (*asset_group_list)(vg_store *s, const vg_asset_filter *f, vg_asset_group **out, size_t *n,
                            int64_t *total);
    /* Sets the name and/or the description (NULL = unchanged). VG_NOTFOUND. */
    int (*asset_group_update)(vg_store *s, const char *id, const char *key_id, const char *name,
                              const char *description, int64_t now);
    /* Deletes a group. VG_NOTFOUND; VG_CONFLICT while it holds assets (deleted ones excepted). */
    int (*asset_group_delete)(vg_store *s, const char *id, const char *key_id);
    /* Inserts a Processing asset in one transaction with its group check: an empty a->group_id
     * means the key's default group, created from *dflt when the key has none (a->group_id is
     * filled in); a named group must be the key's (VG_NOTFOUND). VG_DUPLICATE on an id clash. */
    int (*asset_create)(vg_store *s, vg_asset *a, const vg_asset_group *dflt);
    /* key_id set: the key's live asset (a deleted one is VG_NOTFOUND). key_id NULL: any row,
     * deleted ones included (workers, presigned content: check deleted_at). */
    int (*asset_get)(vg_store *s, const char *id, const char *key_id, vg_asset *out);
    int (*asset_list)(vg_store *s, const vg_asset_filter *f, vg_asset **out, size_t *n,
                      int64_t *total);
    /* Renames the key's live asset. VG_NOTFOUND. */
    int (*asset_update)(vg_store *s, const char *id, const char *key_id, const char *name,
                        int64_t now);
    /* Marks the key's live asset deleted; its row and bytes are collected after
     * VG_ASSET_GC_GRACE_S (asset_gc_due). VG_NOTFOUND. */
    int (*asset_delete)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* Claims the oldest Processing asset (deleted or not) whose lease expired before now_ms:
     * attempts + 1, lease until now_ms + lease_ms. VG_NOTFOUND when none is due. */
    int (*asset_claim)(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_asset *out);
    /* Processing → Active with the content's hash and media. VG_CONFLICT when not Processing. */
    int (*asset_activate)(vg_store *s, const char *id, const char *sha256, const vg_asset_media *m,
                          int64_t now);
    /* Processing → Failed with Error{code, msg}. VG_CONFLICT when not Processing. */
    int (*asset_fail)(vg_store *s, const char *id, const char *code, const char *msg, int64_t now);
    /* Start-up of a single-node store: releases the lease of every Processing asset (a process
     * that held one is gone); *n = how many assets are Processing. */
    int (*asset_release_all)(vg_store *s, int64_t *n);
    /* Up to limit deleted, no longer Processing assets whose collection is due (gc_at <= now). */
    int (*asset_gc_due)(vg_store *s, int64_t now, int limit, vg_asset **out, size_t *n);
    /* Who still needs the bytes sha256: *rows = assets with that hash that are live or were
     * deleted after `since`; *tasks = active (non-final) tasks whose stored spec names it. */
    int (*asset_blob_refs)(vg_store *s, const char *sha256, int64_t since, int64_t *rows,
                           int64_t *tasks);
    /* Looks at a deleted asset again at gc_at (its bytes are still in use). */
    int (*asset_gc_defer)(vg_store *s, const char *id, int64_t gc_at);
    /* Removes a deleted asset's row for good. */
    int (*asset_purge)(vg_store *s, const char *id);
    /* ---- channels and upstream tasks (types and columns in store/upstream.h; migration 4) ---- */
    /* Claims the oldest queued task for the local engine: one routed to local_channel, or an
     * unrouted one when it is in test mode or take_unrouted is set. Like task_claim (queued →
     * running, attempts+1, lease) and the task's channel becomes local_channel. */
    int (*task_claim_local)(vg_store *s, int64_t now_ms, int64_t lease_ms,
                            const char *local_channel, bool take_unrouted, vg_task *out);
    /* Routes a queued, unrouted task to a local channel; it stays queued for the render pool.
     * VG_CONFLICT when it is no longer queued and unrouted. */
    int (*task_route_local)(vg_store *s, const char *id, const char *channel, int64_t now);
    /* Active tasks per channel (malloc'd array). */
    int (*channel_load)(vg_store *s, vg_channel_load **out, size_t *n);
    /* Up to limit tasks of one kind of due work whose next_poll_at <= due_ms (oldest first;
     * polls by next_poll_at). Free each row with vg_up_row_free(), then the array. */
    int (*upstream_due)(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit, vg_up_row **out,
                        size_t *n);
    /* One task's row (any status). VG_NOTFOUND when it never went upstream. */
    int (*upstream_get)(vg_store *s, const char *task_id, vg_up_row *out);
    /* Write-ahead of a submit, in one transaction: queued (unrouted) → dispatching on
     * a->channel, the upstream row set to this attempt (open), and the attempt logged.
     * VG_CONFLICT when the task is no longer queued and unrouted (cancelled meanwhile). */
    int (*upstream_begin)(vg_store *s, const vg_up_attempt *a);
    /* Closes an attempt's log row: outcome accepted|found|refused|transient|ambiguous|
     * not_found, with the HTTP status and a short detail. */
    int (*upstream_attempt_end)(vg_store *s, const char *attempt_id, const char *outcome,
                                const char *upstream_id, long http_status, const char *detail,
                                int64_t now_ms);
    /* dispatching (this attempt, no upstream id) → queued and unrouted again, retry not before
     * not_before_ms, avoiding avoid_channel; retries + 1 when count_retry. The attempt created
     * nothing upstream, so the upstream row is closed. */
    int (*upstream_requeue)(vg_store *s, const char *task_id, const char *attempt_id,
                            int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                            int64_t now);
    /* Applies n conditional changes in one transaction (see vg_up_update); sets u[i].applied. */
    int (*upstream_update)(vg_store *s, vg_up_update *u, size_t n, int64_t now);
    /* Start-up: every upstream task that is not final, or whose upstream task may be open, is
     * due now (leases of a previous process mean nothing). */
    int (*upstream_recover)(vg_store *s, int64_t now_ms);
} vg_store_ops;

struct vg_store {
    const vg_store_ops *ops;
};

/** Opens a connection to the store in data_dir (creating and migrating it when needed). */
int vg_store_open_sqlite(const char *data_dir, vg_store **out, char *err, size_t errlen);

static inline void vg_store_close(vg_store *s)
{
    if (s) s->ops->close(s);
}

#endif
