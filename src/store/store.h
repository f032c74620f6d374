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
 * vg_key_free(). Arrays returned through **out are malloc'd; free each element then the array.
 */
#ifndef VG_STORE_H
#define VG_STORE_H
#include "core/status.h"
#include "core/task.h"

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

/* What a finished render/upstream run reports. */
typedef struct {
    int width, height;
    vg_ratio ratio;
    int64_t seed;
    int64_t tokens;     /* usage.completion_tokens */
    int64_t cost_micro; /* price of those tokens (0 for test-mode keys) */
    bool has_last_frame;
    int64_t expires_at; /* when the stored content will be removed */
} vg_task_result;

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
     * now_ms is INT64_MAX: start-up of a single-node store). *ids malloc'd array of VG_ID strings.
     */
    int (*task_orphans)(vg_store *s, int64_t now_ms, char (**ids)[48], size_t *n);
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
