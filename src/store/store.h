/*
 * store.h - the only way to touch durable data: keys, tasks, the money ledger, assets, upstream
 * tasks.
 *
 * A backend (sqlite_*.c, pg_*.c) fills a vg_store_ops table and registers an opener in
 * open.c; callers open a store with vg_store_open() and go through the vg_store_* wrappers below,
 * never through ops and never seeing SQL. A vg_store is one connection: it belongs to one thread
 * at a time (each event-loop thread and each worker opens its own). Every function that changes a
 * task's status does it in ONE transaction together with its ledger rows, and only if the task is
 * still in a status the state machine allows for that operation (vg_task_op_from() in
 * core/task.h: a conditional update), so a crash or a second dispatcher can never apply a change
 * twice.
 *
 * Results: every operation returns a vg_status (common/status.h): VG_OK; VG_NOTFOUND (no such row,
 * or nothing due); VG_CONFLICT (the row is not in a state that allows it); VG_NOFUNDS, VG_LIMITED,
 * VG_DUPLICATE where documented; VG_AGAIN (the database was busy: try later); VG_ERR. Counts and
 * rows travel through out-parameters, never through the return value.
 *
 * Several processes may share one database (many nodes). Claims and leases carry the name of the
 * node that took them (vg_store_options.node, by default "<host>:<pid>"): start-up recovery
 * releases only the leases of nodes certainly dead — this node's name, and on PostgreSQL the names
 * "<this host>:<pid>" of processes no longer running here (a restarted node's previous lives) —
 * and leaves other nodes' leases alone until they expire. SQLite is one node by definition: its
 * recovery releases every lease, so a restart resumes everything at once.
 *
 * Named leases (lease_hold): one row per name that at most one node holds at a time, until a
 * time; the upstream scheduler plans only while it holds "upstream". Times are the nodes' wall
 * clocks (unix ms): nodes of one database keep their clocks in sync (NTP).
 * What one node must tell the others (a key changed, a reload) travels as events (notify,
 * listen_wait), and a key's rate limit is one bucket in the database (rate_take); a one-node
 * backend has neither (NULL).
 *
 * Money: micro-units. balance = credits − debits − captures; held = holds − releases. A task has at
 * most one hold, one capture and one release (unique in the ledger). On completion the capture is
 * the real cost and the release frees the whole hold.
 *
 * Settings: a few named values (the presigning secret) kept in the store, so that every node of a
 * shared database uses the same ones (setting_claim).
 *
 * Webhooks: the final transitions (task_complete, task_fail, task_cancel) also write the task's
 * webhook delivery (the outbox row, when the task has a callback_url or its key a webhook_url) in
 * their transaction; delivery workers claim due rows under a lease like tasks (webhook_claim).
 *
 * Ownership: out-structs are filled by the callee; free their heap fields with vg_task_free() /
 * vg_key_free() / vg_asset_free() / vg_webhook_free(). Arrays returned through **out are malloc'd; free each element
 * then the array.
 */
#ifndef VG_STORE_H
#define VG_STORE_H
#include "common/status.h"
#include "core/asset.h"
#include "core/task.h"
#include "core/webhook.h"
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
    char *webhook_url;      /* default webhook destination, NULL or "" = none; owned */
} vg_key;

void vg_key_free(vg_key *k);

/** How to open a store. */
typedef struct {
    const char *backend;  /* "sqlite" or "postgresql"; NULL or "" = chosen by database */
    const char *data_dir; /* sqlite without a database path: DIR/vidgate.db */
    /* A postgresql:// or postgres:// URL or a libpq key=value string (it has a '='): the
     * PostgreSQL backend; anything else is the path of a SQLite database; NULL or "" = the
     * default SQLite file in data_dir. */
    const char *database;
    const char *node; /* owner name of this process's leases; NULL or "" = "<host>:<pid>" */
    /* SQLite: checkpoint the WAL on a thread of the process's own rather than inside the commit
     * that fills it (the daemon, whose group commit would wait for it); ignored by PostgreSQL */
    bool checkpoint_thread;
} vg_store_options;

/** Whether a `database` value names a PostgreSQL database (see vg_store_options). */
bool vg_store_database_is_pg(const char *database);

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

/* One task_create of a batch (task_create_batch): the arguments, and the result. */
typedef struct {
    const vg_task *t;
    int max_active;
    const vg_idem *idem; /* NULL = none */
    vg_status rc;        /* out: what task_create would have returned */
} vg_task_create_req;

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

/* The webhook delivery of one event (one task's final status): the outbox row. */
typedef struct {
    char id[48]; /* "evt_…": the event id and webhook-id, stable across attempts */
    char task_id[48];
    char key_id[48];
    char type[32];      /* video.completed | video.failed | video.cancelled */
    char url[2049];     /* the task's callback_url, else the key's webhook_url, at the commit */
    char status[16];    /* pending | delivered | failed */
    int64_t created_at; /* unix s: when the final status was committed */
    int attempts;       /* attempts begun (a claim counts) */
    int64_t next_at_ms; /* pending: when the next attempt is due */
    int64_t deadline_ms;
    int last_http_status; /* 0 = no reply */
    char last_error[256];
    int64_t delivered_at; /* unix s, 0 = not delivered */
    char *body;           /* the event as first sent (every retry repeats it); NULL before; owned */
} vg_webhook;

void vg_webhook_free(vg_webhook *w);

/* How an attempt ended. */
typedef struct {
    const char *id;
    bool delivered;     /* a 2xx */
    bool give_up;       /* failed for good (retry window over, or the destination is refused) */
    int64_t next_at_ms; /* otherwise: the next attempt */
    int http_status;
    const char *error; /* "" when delivered */
    int64_t now_ms;
} vg_webhook_result;

/* What the store holds right now, for monitoring. */
typedef struct {
    int64_t tasks[VG_TASK_STATUS_COUNT]; /* tasks per internal status */
    int64_t oldest_queued_at; /* created_at (unix s) of the oldest queued task; 0 = none */
    int64_t held_micro;       /* the sum of every key's held amount */
} vg_store_stats;

typedef struct vg_store vg_store;

typedef struct {
    const char *name;
    void (*close)(vg_store *s);
    vg_status (*ping)(vg_store *s);

    /* ---- keys and money ---- */
    /* Inserts a key with an opening credit (a ledger row when credit != 0). VG_DUPLICATE. */
    vg_status (*key_insert)(vg_store *s, const vg_key *k, int64_t credit_micro, const char *note);
    vg_status (*key_by_hash)(vg_store *s, const char *hash, vg_key *out);
    vg_status (*key_get)(vg_store *s, const char *id, vg_key *out);
    vg_status (*key_list)(vg_store *s, vg_key **out, size_t *n);
    /* VG_CONFLICT when already revoked, VG_NOTFOUND when there is no such key. */
    vg_status (*key_revoke)(vg_store *s, const char *id, int64_t now);
    vg_status (*key_count)(vg_store *s, int64_t *n);
    /* Updates name, allowed_models, limits, expiry and webhook_url of k->id. VG_NOTFOUND. */
    vg_status (*key_update)(vg_store *s, const vg_key *k, int64_t now);
    /* Credits (delta > 0) or debits (delta < 0) the balance with a ledger row. A debit larger
     * than the available amount (balance − held) → VG_NOFUNDS; a credit that would bring the
     * balance above VG_MAX_BALANCE_MICRO → VG_TOOLARGE. */
    vg_status (*key_adjust)(vg_store *s, const char *key_id, int64_t delta, const char *note,
                            int64_t now);
    /* Ledger rows of a key, newest first, with id < before_id (0 = from the newest). */
    vg_status (*ledger_list)(vg_store *s, const char *key_id, int64_t before_id, int limit,
                             vg_ledger_entry **out, size_t *n, bool *more);
    /* Completed tasks with completed_at in [from, to), grouped by "model" or "key". */
    vg_status (*usage)(vg_store *s, const char *group_by, int64_t from, int64_t to,
                       vg_usage_row **out, size_t *n);
    /* Recomputes every balance and hold from the ledger and every task's money state from its
     * status; calls report() once per difference. */
    vg_status (*audit)(vg_store *s, void (*report)(void *ud, const char *problem), void *ud,
                       vg_audit *out);

    /* ---- tasks ---- */
    /* Inserts the task (status queued), its hold, its asset references (the asset:// hashes of
     * t->params) and (when idem != NULL) its idempotency record in one transaction. VG_NOFUNDS
     * when balance − held < t->hold_micro; VG_LIMITED when the key's active-task cap is reached;
     * VG_DUPLICATE when the idempotency key was taken meanwhile (look it up with idem_get). */
    vg_status (*task_create)(vg_store *s, const vg_task *t, int max_active, const vg_idem *idem);
    /* Optional (NULL: the backend commits one task_create cheaply, and store/batch.h is not
     * used). Runs r[0..n) in order in ONE transaction, each exactly as task_create would alone
     * (a refused or failed one leaves nothing behind and does not disturb the others), so that
     * one commit (one fsync) covers them all. VG_OK: the transaction committed and each r[i].rc
     * says how its task went; otherwise nothing was written and every r[i].rc is the failure. */
    vg_status (*task_create_batch)(vg_store *s, vg_task_create_req *r, size_t n);
    /* The record of an idempotency key used by key_id since `since`: body hash into hash and
     * the reply into *response (malloc'd). VG_NOTFOUND when none. */
    vg_status (*idem_get)(vg_store *s, const char *key_id, const char *idem_key, int64_t since,
                          char hash[65], char **response);
    /* key_id NULL = any owner. VG_NOTFOUND also for another key's task. */
    vg_status (*task_get)(vg_store *s, const char *id, const char *key_id, vg_task *out);
    vg_status (*task_list)(vg_store *s, const vg_task_filter *f, vg_task **out, size_t *n,
                           bool *more);
    /* VG_TASK_OP_CLAIM of the oldest queued task: status → running, attempts+1, lease until
     * now+lease_ms held by this node. VG_NOTFOUND when none is due. */
    vg_status (*task_claim)(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_task *out);
    /* VG_TASK_OP_PROGRESS: raises progress (never lowers it; -1 = unchanged) and extends the
     * lease to lease_until_ms, only while this node holds the claim numbered `attempt` (the
     * task's attempts when claimed). VG_CONFLICT when the task is not running, or the lease is
     * no longer that claim's (it expired and the task was claimed again): stop working on it. */
    vg_status (*task_progress)(vg_store *s, const char *id, int attempt, int progress,
                               int64_t lease_until_ms);
    /* VG_TASK_OP_COMPLETE with usage; capture + release in the same transaction. VG_CONFLICT. */
    vg_status (*task_complete)(vg_store *s, const char *id, const vg_task_result *r, int64_t now);
    /* VG_TASK_OP_FAIL; releases the hold. VG_CONFLICT when already final. */
    vg_status (*task_fail)(vg_store *s, const char *id, const char *code, const char *msg,
                           int64_t now);
    /* VG_TASK_OP_CANCEL for this key; releases the hold. VG_CONFLICT when not cancellable. */
    vg_status (*task_cancel)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* VG_TASK_OP_REQUEUE. orderly = interrupted on purpose (shutdown): the claim is not counted
     * as an attempt; otherwise (a process died) it is. VG_CONFLICT. */
    vg_status (*task_requeue)(vg_store *s, const char *id, bool orderly, int64_t now);
    /* VG_TASK_OP_FORGET: marks a final task's content deleted (files are removed by the caller
     * after this). key_id NULL = any owner (retention sweeps). VG_CONFLICT. */
    vg_status (*task_mark_deleted)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* Up to `limit` completed tasks whose content expired before now and is still kept. */
    vg_status (*task_expired)(vg_store *s, int64_t now, int limit, char (**ids)[48], size_t *n);
    /* Start-up: VG_TASK_OP_REQUEUE (counted as an attempt) of every leased task whose lease is
     * a dead node's (the header's note: this process's previous life, whose holder is gone) or
     * expired before now_ms (its holder, another node, stopped renewing it). Upstream tasks hold
     * no lease. *n = how many. */
    vg_status (*task_recover)(vg_store *s, int64_t now_ms, int64_t *n);
    /* While running: VG_TASK_OP_REQUEUE (counted as an attempt) of every leased task whose lease
     * expired before now_ms, whoever held it (a node that stopped renewing it died, or lost
     * it). *n = how many. */
    vg_status (*task_requeue_expired)(vg_store *s, int64_t now_ms, int64_t *n);

    /* ---- assets and asset groups (spec §6; types in core/asset.h) ----
     * Everything belongs to one key: a key_id argument restricts the call to that key's objects,
     * and another key's object is VG_NOTFOUND. Lists are pages, newest first, with the total. */
    /* Inserts a group. VG_DUPLICATE on an id clash. */
    vg_status (*asset_group_create)(vg_store *s, const vg_asset_group *g);
    vg_status (*asset_group_get)(vg_store *s, const char *id, const char *key_id,
                                 vg_asset_group *out);
    vg_status (*asset_group_list)(vg_store *s, const vg_asset_filter *f, vg_asset_group **out,
                                  size_t *n, int64_t *total);
    /* Sets the name and/or the description (NULL = unchanged). VG_NOTFOUND. */
    vg_status (*asset_group_update)(vg_store *s, const char *id, const char *key_id,
                                    const char *name, const char *description, int64_t now);
    /* Deletes a group. VG_NOTFOUND; VG_CONFLICT while it holds assets (deleted ones excepted). */
    vg_status (*asset_group_delete)(vg_store *s, const char *id, const char *key_id);
    /* Inserts a Processing asset in one transaction with its group check: an empty a->group_id
     * means the key's default group, created from *dflt when the key has none (a->group_id is
     * filled in); a named group must be the key's (VG_NOTFOUND). VG_DUPLICATE on an id clash. */
    vg_status (*asset_create)(vg_store *s, vg_asset *a, const vg_asset_group *dflt);
    /* key_id set: the key's live asset (a deleted one is VG_NOTFOUND). key_id NULL: any row,
     * deleted ones included (workers, presigned content: check deleted_at). */
    vg_status (*asset_get)(vg_store *s, const char *id, const char *key_id, vg_asset *out);
    vg_status (*asset_list)(vg_store *s, const vg_asset_filter *f, vg_asset **out, size_t *n,
                            int64_t *total);
    /* Renames the key's live asset. VG_NOTFOUND. */
    vg_status (*asset_update)(vg_store *s, const char *id, const char *key_id, const char *name,
                              int64_t now);
    /* Marks the key's live asset deleted; its row and bytes are collected after
     * VG_ASSET_GC_GRACE_S (asset_gc_due). VG_NOTFOUND. */
    vg_status (*asset_delete)(vg_store *s, const char *id, const char *key_id, int64_t now);
    /* Claims the oldest Processing asset (deleted or not) whose lease expired before now_ms:
     * attempts + 1, lease until now_ms + lease_ms held by this node. VG_NOTFOUND when none. */
    vg_status (*asset_claim)(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_asset *out);
    /* Processing → Active with the content's hash and media. VG_CONFLICT when not Processing. */
    vg_status (*asset_activate)(vg_store *s, const char *id, const char *sha256,
                                const vg_asset_media *m, int64_t now);
    /* Processing → Failed with Error{code, msg}. VG_CONFLICT when not Processing. */
    vg_status (*asset_fail)(vg_store *s, const char *id, const char *code, const char *msg,
                            int64_t now);
    /* Start-up: releases the dead nodes' leases (the header's note) on Processing assets
     * (claimable at once); other nodes' leases stay until they expire. *n = how many. */
    vg_status (*asset_recover)(vg_store *s, int64_t now_ms, int64_t *n);
    /* Up to limit deleted, no longer Processing assets whose collection is due (gc_at <= now). */
    vg_status (*asset_gc_due)(vg_store *s, int64_t now, int limit, vg_asset **out, size_t *n);
    /* Who still needs the bytes sha256: *rows = assets with that hash that are live or were
     * deleted after `since`; *tasks = active (non-final) tasks that refer to it. */
    vg_status (*asset_blob_refs)(vg_store *s, const char *sha256, int64_t since, int64_t *rows,
                                 int64_t *tasks);
    /* Looks at a deleted asset again at gc_at (its bytes are still in use). */
    vg_status (*asset_gc_defer)(vg_store *s, const char *id, int64_t gc_at);
    /* Removes a deleted asset's row for good. */
    vg_status (*asset_purge)(vg_store *s, const char *id);
    /* The storage a key uses (the quota): *bytes = the sum of size_bytes of its live (not
     * deleted) Active assets, and of its Processing ones too when with_processing is set (a Data
     * upload's decoded size is recorded at asset_create; a URL's is 0 until fetched). Rows named
     * except_id are left out (NULL = none). */
    vg_status (*asset_usage)(vg_store *s, const char *key_id, bool with_processing,
                             const char *except_id, int64_t *bytes);
    /* Up to limit distinct content hashes that final tasks still name in task_assets (their
     * inline media and asset references, which nothing needs any more): the collector's work
     * list. *out is a malloc'd array of 65-byte hex strings (free it even on error). */
    vg_status (*asset_refs_final)(vg_store *s, int limit, char (**out)[65], size_t *n);
    /* Deletes the task_assets rows of final tasks that name sha256. */
    vg_status (*asset_refs_prune)(vg_store *s, const char *sha256);

    /* ---- channels and upstream tasks (types and columns in store/upstream.h) ---- */
    /* VG_TASK_OP_CLAIM of the oldest queued task for the local engine: one routed to
     * local_channel, or an unrouted one when it is in test mode or take_unrouted is set. Like
     * task_claim, and the task's channel becomes local_channel. */
    vg_status (*task_claim_local)(vg_store *s, int64_t now_ms, int64_t lease_ms,
                                  const char *local_channel, bool take_unrouted, vg_task *out);
    /* VG_TASK_OP_ROUTE: an unrouted task is routed to a local channel; it stays queued for the
     * render pool. VG_CONFLICT when it is no longer queued and unrouted. */
    vg_status (*task_route_local)(vg_store *s, const char *id, const char *channel, int64_t now);
    /* Active tasks per channel (malloc'd array). */
    vg_status (*channel_load)(vg_store *s, vg_channel_load **out, size_t *n);
    /* Up to limit tasks of one kind of due work whose next_poll_at <= due_ms (oldest first;
     * polls by next_poll_at). Free each row with vg_up_row_free(), then the array. */
    vg_status (*upstream_due)(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit,
                              vg_up_row **out, size_t *n);
    /* One task's row (any status). VG_NOTFOUND when it never went upstream. */
    vg_status (*upstream_get)(vg_store *s, const char *task_id, vg_up_row *out);
    /* Write-ahead of a submit, in one transaction: VG_TASK_OP_SUBMIT of an unrouted task on
     * a->channel, the upstream row set to this attempt (open), and the attempt logged.
     * VG_CONFLICT when the task is no longer queued and unrouted (cancelled meanwhile). */
    vg_status (*upstream_begin)(vg_store *s, const vg_up_attempt *a);
    /* Closes an attempt's log row: outcome accepted|found|refused|transient|ambiguous|
     * not_found, with the HTTP status and a short detail. VG_NOTFOUND. */
    vg_status (*upstream_attempt_end)(vg_store *s, const char *attempt_id, const char *outcome,
                                      const char *upstream_id, long http_status, const char *detail,
                                      int64_t now_ms);
    /* VG_TASK_OP_RETRY of this attempt (no upstream id): queued and unrouted again, retry not
     * before not_before_ms, avoiding avoid_channel; retries + 1 when count_retry. The attempt
     * created nothing upstream, so the upstream row is closed. VG_CONFLICT. */
    vg_status (*upstream_requeue)(vg_store *s, const char *task_id, const char *attempt_id,
                                  int64_t not_before_ms, const char *avoid_channel,
                                  bool count_retry, int64_t now);
    /* Applies n conditional changes in one transaction (see vg_up_update); sets u[i].applied. */
    vg_status (*upstream_update)(vg_store *s, vg_up_update *u, size_t n, int64_t now);
    /* Start-up: every upstream task that is not final, or whose upstream task may be open, and
     * whose next look was scheduled by a dead node (the header's note), is due now (those leases
     * died with it; another node's schedule stands until it comes due or upstream_takeover). */
    vg_status (*upstream_recover)(vg_store *s, int64_t now_ms);
    /* A node that became the upstream leader: the polls, downloads and cleanups another node
     * scheduled are due now (a repeated poll is harmless, completion is conditional), except a
     * submit whose call may still be in flight (dispatching, no upstream id, its attempt not
     * ended), which keeps its lease and is looked up when that ends. *n = how many. */
    vg_status (*upstream_takeover)(vg_store *s, int64_t now_ms, int64_t *n);

    /* ---- named leases (the header's note) ---- */
    /* Takes or renews lease `name` until now_ms + ttl_ms, in one statement, when it is free,
     * expired (until < now_ms) or already this node's: *held says whether this node holds it. */
    vg_status (*lease_hold)(vg_store *s, const char *name, int64_t now_ms, int64_t ttl_ms,
                            bool *held);
    /* Gives lease `name` up if this node holds it. */
    vg_status (*lease_release)(vg_store *s, const char *name);
    /* Start-up: releases the named leases of this node's previous lives (as task_recover). */
    vg_status (*lease_recover)(vg_store *s);

    /* ---- webhooks (the outbox rows are written by the final transitions) ---- */
    /* The key's signing secrets valid at now (not rotated out, or within their grace), newest
     * first, at most VG_WEBHOOK_MAX_SECRETS (malloc'd array). A key without one (made before
     * webhooks) gets one here. VG_NOTFOUND when there is no such key. */
    vg_status (*webhook_secrets)(vg_store *s, const char *key_id, int64_t now,
                                 char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n);
    /* A new secret for the key (into out); the current ones stay valid until now + grace_s.
     * VG_NOTFOUND. */
    vg_status (*webhook_secret_rotate)(vg_store *s, const char *key_id, int64_t now,
                                       int64_t grace_s, char out[VG_WEBHOOK_SECRET_MAX]);
    /* Claims the delivery due longest ago (pending, next_at <= now_ms, no live lease): attempts
     * + 1, lease until now_ms + lease_ms held by this node. VG_NOTFOUND when none is due; then
     * out->next_at_ms is when one will be, if that is within VG_WEBHOOK_IDLE_MS (else 0), and
     * nothing else is set. */
    vg_status (*webhook_claim)(vg_store *s, int64_t now_ms, int64_t lease_ms, vg_webhook *out);
    /* Records the body of the first attempt (kept for the retries). */
    vg_status (*webhook_set_body)(vg_store *s, const char *id, const char *body);
    /* Ends an attempt: delivered, failed for good, or pending again at next_at_ms; the lease is
     * released. VG_CONFLICT when the delivery is no longer pending. */
    vg_status (*webhook_attempt_end)(vg_store *s, const vg_webhook_result *r);
    /* The delivery of a task. VG_NOTFOUND when it has none. */
    vg_status (*webhook_get)(vg_store *s, const char *task_id, vg_webhook *out);
    /* Sends a task's event again (same id and body): pending, attempts 0, due now, retried until
     * deadline_ms. VG_NOTFOUND when the task has no delivery. */
    vg_status (*webhook_redeliver)(vg_store *s, const char *task_id, int64_t now_ms,
                                   int64_t deadline_ms);
    /* Start-up: releases the dead nodes' delivery leases (the header's note: an attempt in
     * flight died with its node). *n = how many. */
    vg_status (*webhook_recover)(vg_store *s, int64_t now_ms, int64_t *n);

    /* ---- monitoring ---- */
    /* Counts for GET /metrics (see vg_store_stats), cheap enough to run once a second: counts
     * over the status index (no task row is read), one indexed lookup, a sum over the keys.
     * Optional: a backend without it leaves it NULL (the wrapper answers VG_ERR). */
    vg_status (*stats)(vg_store *s, vg_store_stats *out);
    /* ---- reads that belong together ---- */
    /* Between read_begin and read_end the reads of this connection see one snapshot, taken at
     * the first of them, and pay for one read transaction instead of one each (a status poll
     * reads the task and its webhook delivery). No write may come in between. Optional (NULL:
     * each read is its own, as without); read_begin on a connection already inside a
     * transaction does nothing, nor does the read_end that follows it. */
    void (*read_begin)(vg_store *s);
    void (*read_end)(vg_store *s);

    /* ---- settings: values every node of a shared store agrees on ---- */
    /* The value of setting `name`: the stored one, or, when there is none yet, `proposal`, which
     * is stored (the first proposal wins when nodes race). *out is malloc'd. */
    vg_status (*setting_claim)(vg_store *s, const char *name, const char *proposal, char **out);

    /* ---- many nodes: events and shared limits (optional: NULL on a one-node backend) ---- */
    /* Whether the connection is up (false after a statement found the database gone, until a
     * later call reconnects). NULL: always up. */
    bool (*connected)(vg_store *s);
    /* Publishes topic (at most VG_EVENTS_TOPIC_BYTES − 1 bytes) to every node's listen_wait,
     * this one's included. Delivered at the commit of the statement, never before. Changes to
     * keys (key_insert, key_revoke, key_update, key_adjust) publish VG_STORE_TOPIC_KEYS
     * themselves, inside their own transaction. */
    vg_status (*notify)(vg_store *s, const char *topic);
    /* Waits up to timeout_ms for one published topic (into topic, len bytes). VG_OK: one came;
     * VG_NOTFOUND: none in time; VG_AGAIN: the database is unreachable (the next call reconnects).
     * After each (re)connection the first call subscribes and answers VG_OK with
     * VG_STORE_TOPIC_ALL: what was published meanwhile was missed. Use a connection of its own. */
    vg_status (*listen_wait)(vg_store *s, int timeout_ms, char *topic, size_t len);
    /* Takes one request from key_id's shared token bucket (per_min tokens, refilled at per_min/60
     * per second, on the database's clock) in one atomic statement. VG_OK: allowed; VG_LIMITED:
     * refused, with the seconds until one is allowed in *retry_after_s. */
    vg_status (*rate_take)(vg_store *s, const char *key_id, int per_min, int *retry_after_s);
} vg_store_ops;

/* The topics of vg_store_notify / vg_store_listen_wait. */
#define VG_STORE_TOPIC_KEYS   "keys"   /* a key row changed: cached keys are stale */
#define VG_STORE_TOPIC_RELOAD "reload" /* "reload <origin>": a node applied a reload */
#define VG_STORE_TOPIC_ALL    "*"      /* (listen_wait only) anything may have changed */

struct vg_store {
    const vg_store_ops *ops;
};

/**
 * Opens a connection to the store o describes (creating and migrating it when needed).
 * VG_INVALID for an unknown backend; VG_ERR with the reason in err.
 */
vg_status vg_store_open(const vg_store_options *o, vg_store **out, char *err, size_t errlen);

/** The default node name: "<host>:<pid>" (host "localhost" when it has none). */
void vg_store_default_node(char *out, size_t outlen);

/**
 * Whether lease owner `owner` is certainly dead: a name "<this host>:<pid>" other than this
 * process whose pid runs no process here (kill(pid, 0) fails with ESRCH).
 */
bool vg_store_owner_dead(const char *owner);

static inline void vg_store_close(vg_store *s)
{
    if (s) s->ops->close(s);
}

/* ---- one wrapper per operation (documented at its member of vg_store_ops) ---- */
static inline vg_status vg_store_ping(vg_store *s)
{
    return s->ops->ping(s);
}

static inline vg_status vg_store_key_insert(vg_store *s, const vg_key *k, int64_t credit_micro,
                                            const char *note)
{
    return s->ops->key_insert(s, k, credit_micro, note);
}

static inline vg_status vg_store_key_by_hash(vg_store *s, const char *hash, vg_key *out)
{
    return s->ops->key_by_hash(s, hash, out);
}

static inline vg_status vg_store_key_get(vg_store *s, const char *id, vg_key *out)
{
    return s->ops->key_get(s, id, out);
}

static inline vg_status vg_store_key_list(vg_store *s, vg_key **out, size_t *n)
{
    return s->ops->key_list(s, out, n);
}

static inline vg_status vg_store_key_revoke(vg_store *s, const char *id, int64_t now)
{
    return s->ops->key_revoke(s, id, now);
}

static inline vg_status vg_store_key_count(vg_store *s, int64_t *n)
{
    return s->ops->key_count(s, n);
}

static inline vg_status vg_store_key_update(vg_store *s, const vg_key *k, int64_t now)
{
    return s->ops->key_update(s, k, now);
}

static inline vg_status vg_store_key_adjust(vg_store *s, const char *key_id, int64_t delta,
                                            const char *note, int64_t now)
{
    return s->ops->key_adjust(s, key_id, delta, note, now);
}

static inline vg_status vg_store_ledger_list(vg_store *s, const char *key_id, int64_t before_id,
                                             int limit, vg_ledger_entry **out, size_t *n,
                                             bool *more)
{
    return s->ops->ledger_list(s, key_id, before_id, limit, out, n, more);
}

static inline vg_status vg_store_usage(vg_store *s, const char *group_by, int64_t from, int64_t to,
                                       vg_usage_row **out, size_t *n)
{
    return s->ops->usage(s, group_by, from, to, out, n);
}

static inline vg_status vg_store_audit(vg_store *s, void (*report)(void *ud, const char *problem),
                                       void *ud, vg_audit *out)
{
    return s->ops->audit(s, report, ud, out);
}

static inline vg_status vg_store_task_create(vg_store *s, const vg_task *t, int max_active,
                                             const vg_idem *idem)
{
    return s->ops->task_create(s, t, max_active, idem);
}

/** Whether the backend commits task creations in batches (task_create_batch). */
static inline bool vg_store_batches_creates(const vg_store *s)
{
    return s->ops->task_create_batch != NULL;
}

static inline vg_status vg_store_task_create_batch(vg_store *s, vg_task_create_req *r, size_t n)
{
    return s->ops->task_create_batch(s, r, n);
}

static inline vg_status vg_store_idem_get(vg_store *s, const char *key_id, const char *idem_key,
                                          int64_t since, char hash[65], char **response)
{
    return s->ops->idem_get(s, key_id, idem_key, since, hash, response);
}

static inline vg_status vg_store_task_get(vg_store *s, const char *id, const char *key_id,
                                          vg_task *out)
{
    return s->ops->task_get(s, id, key_id, out);
}

static inline vg_status vg_store_task_list(vg_store *s, const vg_task_filter *f, vg_task **out,
                                           size_t *n, bool *more)
{
    return s->ops->task_list(s, f, out, n, more);
}

static inline vg_status vg_store_task_claim(vg_store *s, int64_t now_ms, int64_t lease_ms,
                                            vg_task *out)
{
    return s->ops->task_claim(s, now_ms, lease_ms, out);
}

static inline vg_status vg_store_task_progress(vg_store *s, const char *id, int attempt,
                                               int progress, int64_t lease_until_ms)
{
    return s->ops->task_progress(s, id, attempt, progress, lease_until_ms);
}

static inline vg_status vg_store_task_complete(vg_store *s, const char *id, const vg_task_result *r,
                                               int64_t now)
{
    return s->ops->task_complete(s, id, r, now);
}

static inline vg_status vg_store_task_fail(vg_store *s, const char *id, const char *code,
                                           const char *msg, int64_t now)
{
    return s->ops->task_fail(s, id, code, msg, now);
}

static inline vg_status vg_store_task_cancel(vg_store *s, const char *id, const char *key_id,
                                             int64_t now)
{
    return s->ops->task_cancel(s, id, key_id, now);
}

static inline vg_status vg_store_task_requeue(vg_store *s, const char *id, bool orderly,
                                              int64_t now)
{
    return s->ops->task_requeue(s, id, orderly, now);
}

static inline vg_status vg_store_task_mark_deleted(vg_store *s, const char *id, const char *key_id,
                                                   int64_t now)
{
    return s->ops->task_mark_deleted(s, id, key_id, now);
}

static inline vg_status vg_store_task_expired(vg_store *s, int64_t now, int limit, char (**ids)[48],
                                              size_t *n)
{
    return s->ops->task_expired(s, now, limit, ids, n);
}

static inline vg_status vg_store_task_recover(vg_store *s, int64_t now_ms, int64_t *n)
{
    return s->ops->task_recover(s, now_ms, n);
}

static inline vg_status vg_store_task_requeue_expired(vg_store *s, int64_t now_ms, int64_t *n)
{
    return s->ops->task_requeue_expired(s, now_ms, n);
}

static inline vg_status vg_store_asset_group_create(vg_store *s, const vg_asset_group *g)
{
    return s->ops->asset_group_create(s, g);
}

static inline vg_status vg_store_asset_group_get(vg_store *s, const char *id, const char *key_id,
                                                 vg_asset_group *out)
{
    return s->ops->asset_group_get(s, id, key_id, out);
}

static inline vg_status vg_store_asset_group_list(vg_store *s, const vg_asset_filter *f,
                                                  vg_asset_group **out, size_t *n, int64_t *total)
{
    return s->ops->asset_group_list(s, f, out, n, total);
}

static inline vg_status vg_store_asset_group_update(vg_store *s, const char *id, const char *key_id,
                                                    const char *name, const char *description,
                                                    int64_t now)
{
    return s->ops->asset_group_update(s, id, key_id, name, description, now);
}

static inline vg_status vg_store_asset_group_delete(vg_store *s, const char *id, const char *key_id)
{
    return s->ops->asset_group_delete(s, id, key_id);
}

static inline vg_status vg_store_asset_create(vg_store *s, vg_asset *a, const vg_asset_group *dflt)
{
    return s->ops->asset_create(s, a, dflt);
}

static inline vg_status vg_store_asset_get(vg_store *s, const char *id, const char *key_id,
                                           vg_asset *out)
{
    return s->ops->asset_get(s, id, key_id, out);
}

static inline vg_status vg_store_asset_list(vg_store *s, const vg_asset_filter *f, vg_asset **out,
                                            size_t *n, int64_t *total)
{
    return s->ops->asset_list(s, f, out, n, total);
}

static inline vg_status vg_store_asset_update(vg_store *s, const char *id, const char *key_id,
                                              const char *name, int64_t now)
{
    return s->ops->asset_update(s, id, key_id, name, now);
}

static inline vg_status vg_store_asset_delete(vg_store *s, const char *id, const char *key_id,
                                              int64_t now)
{
    return s->ops->asset_delete(s, id, key_id, now);
}

static inline vg_status vg_store_asset_claim(vg_store *s, int64_t now_ms, int64_t lease_ms,
                                             vg_asset *out)
{
    return s->ops->asset_claim(s, now_ms, lease_ms, out);
}

static inline vg_status vg_store_asset_activate(vg_store *s, const char *id, const char *sha256,
                                                const vg_asset_media *m, int64_t now)
{
    return s->ops->asset_activate(s, id, sha256, m, now);
}

static inline vg_status vg_store_asset_fail(vg_store *s, const char *id, const char *code,
                                            const char *msg, int64_t now)
{
    return s->ops->asset_fail(s, id, code, msg, now);
}

static inline vg_status vg_store_asset_recover(vg_store *s, int64_t now_ms, int64_t *n)
{
    return s->ops->asset_recover(s, now_ms, n);
}

static inline vg_status vg_store_asset_gc_due(vg_store *s, int64_t now, int limit, vg_asset **out,
                                              size_t *n)
{
    return s->ops->asset_gc_due(s, now, limit, out, n);
}

static inline vg_status vg_store_asset_blob_refs(vg_store *s, const char *sha256, int64_t since,
                                                 int64_t *rows, int64_t *tasks)
{
    return s->ops->asset_blob_refs(s, sha256, since, rows, tasks);
}

static inline vg_status vg_store_asset_gc_defer(vg_store *s, const char *id, int64_t gc_at)
{
    return s->ops->asset_gc_defer(s, id, gc_at);
}

static inline vg_status vg_store_asset_purge(vg_store *s, const char *id)
{
    return s->ops->asset_purge(s, id);
}

static inline vg_status vg_store_asset_usage(vg_store *s, const char *key_id, bool with_processing,
                                             const char *except_id, int64_t *bytes)
{
    return s->ops->asset_usage(s, key_id, with_processing, except_id, bytes);
}

static inline vg_status vg_store_asset_refs_final(vg_store *s, int limit, char (**out)[65],
                                                  size_t *n)
{
    return s->ops->asset_refs_final(s, limit, out, n);
}

static inline vg_status vg_store_asset_refs_prune(vg_store *s, const char *sha256)
{
    return s->ops->asset_refs_prune(s, sha256);
}

static inline vg_status vg_store_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms,
                                                  const char *local_channel, bool take_unrouted,
                                                  vg_task *out)
{
    return s->ops->task_claim_local(s, now_ms, lease_ms, local_channel, take_unrouted, out);
}

static inline vg_status vg_store_task_route_local(vg_store *s, const char *id, const char *channel,
                                                  int64_t now)
{
    return s->ops->task_route_local(s, id, channel, now);
}

static inline vg_status vg_store_channel_load(vg_store *s, vg_channel_load **out, size_t *n)
{
    return s->ops->channel_load(s, out, n);
}

static inline vg_status vg_store_upstream_due(vg_store *s, vg_due_kind kind, int64_t due_ms,
                                              int limit, vg_up_row **out, size_t *n)
{
    return s->ops->upstream_due(s, kind, due_ms, limit, out, n);
}

static inline vg_status vg_store_upstream_get(vg_store *s, const char *task_id, vg_up_row *out)
{
    return s->ops->upstream_get(s, task_id, out);
}

static inline vg_status vg_store_upstream_begin(vg_store *s, const vg_up_attempt *a)
{
    return s->ops->upstream_begin(s, a);
}

static inline vg_status vg_store_upstream_attempt_end(vg_store *s, const char *attempt_id,
                                                      const char *outcome, const char *upstream_id,
                                                      long http_status, const char *detail,
                                                      int64_t now_ms)
{
    return s->ops->upstream_attempt_end(s, attempt_id, outcome, upstream_id, http_status, detail,
                                        now_ms);
}

static inline vg_status vg_store_upstream_requeue(vg_store *s, const char *task_id,
                                                  const char *attempt_id, int64_t not_before_ms,
                                                  const char *avoid_channel, bool count_retry,
                                                  int64_t now)
{
    return s->ops->upstream_requeue(s, task_id, attempt_id, not_before_ms, avoid_channel,
                                    count_retry, now);
}

static inline vg_status vg_store_upstream_update(vg_store *s, vg_up_update *u, size_t n,
                                                 int64_t now)
{
    return s->ops->upstream_update(s, u, n, now);
}

static inline vg_status vg_store_upstream_recover(vg_store *s, int64_t now_ms)
{
    return s->ops->upstream_recover(s, now_ms);
}

static inline vg_status vg_store_upstream_takeover(vg_store *s, int64_t now_ms, int64_t *n)
{
    return s->ops->upstream_takeover(s, now_ms, n);
}

static inline vg_status vg_store_lease_hold(vg_store *s, const char *name, int64_t now_ms,
                                            int64_t ttl_ms, bool *held)
{
    return s->ops->lease_hold(s, name, now_ms, ttl_ms, held);
}

static inline vg_status vg_store_lease_release(vg_store *s, const char *name)
{
    return s->ops->lease_release(s, name);
}

static inline vg_status vg_store_lease_recover(vg_store *s)
{
    return s->ops->lease_recover(s);
}

static inline vg_status vg_store_webhook_secrets(vg_store *s, const char *key_id, int64_t now,
                                                 char (**out)[VG_WEBHOOK_SECRET_MAX], size_t *n)
{
    return s->ops->webhook_secrets(s, key_id, now, out, n);
}

static inline vg_status vg_store_webhook_secret_rotate(vg_store *s, const char *key_id, int64_t now,
                                                       int64_t grace_s,
                                                       char out[VG_WEBHOOK_SECRET_MAX])
{
    return s->ops->webhook_secret_rotate(s, key_id, now, grace_s, out);
}

static inline vg_status vg_store_webhook_claim(vg_store *s, int64_t now_ms, int64_t lease_ms,
                                               vg_webhook *out)
{
    return s->ops->webhook_claim(s, now_ms, lease_ms, out);
}

static inline vg_status vg_store_webhook_set_body(vg_store *s, const char *id, const char *body)
{
    return s->ops->webhook_set_body(s, id, body);
}

static inline vg_status vg_store_webhook_attempt_end(vg_store *s, const vg_webhook_result *r)
{
    return s->ops->webhook_attempt_end(s, r);
}

static inline vg_status vg_store_webhook_get(vg_store *s, const char *task_id, vg_webhook *out)
{
    return s->ops->webhook_get(s, task_id, out);
}

static inline vg_status vg_store_webhook_redeliver(vg_store *s, const char *task_id, int64_t now_ms,
                                                   int64_t deadline_ms)
{
    return s->ops->webhook_redeliver(s, task_id, now_ms, deadline_ms);
}

static inline vg_status vg_store_webhook_recover(vg_store *s, int64_t now_ms, int64_t *n)
{
    return s->ops->webhook_recover(s, now_ms, n);
}

static inline vg_status vg_store_stats_get(vg_store *s, vg_store_stats *out)
{
    return s->ops->stats ? s->ops->stats(s, out) : VG_ERR;
}

/** Whether the store's connection is up (a one-node backend always is). */
static inline void vg_store_read_begin(vg_store *s)
{
    if (s->ops->read_begin) s->ops->read_begin(s);
}

static inline void vg_store_read_end(vg_store *s)
{
    if (s->ops->read_end) s->ops->read_end(s);
}

static inline bool vg_store_connected(vg_store *s)
{
    return !s->ops->connected || s->ops->connected(s);
}

/** VG_INVALID when the backend has no events (one node). */
static inline vg_status vg_store_notify(vg_store *s, const char *topic)
{
    return s->ops->notify ? s->ops->notify(s, topic) : VG_INVALID;
}

/** VG_INVALID when the backend has no events (one node). */
static inline vg_status vg_store_listen_wait(vg_store *s, int timeout_ms, char *topic, size_t len)
{
    return s->ops->listen_wait ? s->ops->listen_wait(s, timeout_ms, topic, len) : VG_INVALID;
}

/** VG_INVALID when the backend keeps no shared buckets (one node: limit in memory). */
static inline vg_status vg_store_rate_take(vg_store *s, const char *key_id, int per_min,
                                           int *retry_after_s)
{
    return s->ops->rate_take ? s->ops->rate_take(s, key_id, per_min, retry_after_s) : VG_INVALID;
}

static inline vg_status vg_store_setting_claim(vg_store *s, const char *name, const char *proposal,
                                               char **out)
{
    return s->ops->setting_claim(s, name, proposal, out);
}

#endif
