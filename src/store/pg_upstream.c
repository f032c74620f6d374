/*
 * pg_upstream.c - the PostgreSQL operations for channels and upstream tasks (store.h, types and
 * columns in store/upstream.h; sqlite_upstream.c is the twin).
 *
 * Every status change is conditional on the current status: the "expected from" set is the state
 * machine's (vg_task_op_from(), or for vg_up_update the caller's set intersected with
 * vg_task_from(to_status)), bound as a text[]. Changes that must go together (the task row, its
 * upstream row, the attempt log) share one transaction. Money never moves here.
 *
 * Whenever this file sets tasks.next_poll_at it also records this node as tasks.lease_owner
 * (upstream_recover and upstream_takeover release other owners' schedules: see store.h).
 */
#include "common/alloc.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UP_COLS                                                                                    \
    "t.id, t.key_id, t.model, t.status, t.test_mode, t.created_at, t.next_poll_at, "               \
    "coalesce(u.channel, ''), coalesce(u.upstream_model, ''), coalesce(u.upstream_id, ''), "       \
    "coalesce(u.attempt_id, ''), coalesce(u.client_token, ''), coalesce(u.callback_token, ''), "   \
    "coalesce(u.avoid_channel, ''), coalesce(u.upstream_status, ''), coalesce(u.accepted_at, 0), " \
    "coalesce(u.attempt_started_at, 0), coalesce(u.retries, 0), coalesce(u.poll_errors, 0), "      \
    "coalesce(u.lookups, 0), coalesce(u.open, 0), u.result"

/* One query per kind of due work; $1 = due time (ms), $2 = limit, $3 = the statuses it takes. */
static const struct {
    const char *sql;
    vg_task_status_set statuses;
} g_due[VG_DUE_KIND_COUNT] = {
    [VG_DUE_ROUTE] = {"SELECT " UP_COLS " FROM tasks t LEFT JOIN upstream_tasks u ON u.task_id = "
                      "t.id WHERE t.status = ANY($3) AND t.channel = '' AND t.test_mode = 0 AND "
                      "t.next_poll_at <= $1 ORDER BY t.id LIMIT $2",
                      VG_TASK_BIT(VG_TASK_QUEUED)},
    [VG_DUE_RESOLVE] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = "
                        "t.id WHERE t.status = ANY($3) AND t.next_poll_at <= $1 "
                        "AND u.upstream_id = '' ORDER BY t.next_poll_at LIMIT $2",
                        VG_TASK_BIT(VG_TASK_DISPATCHING)},
    [VG_DUE_POLL] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                     "WHERE t.status = ANY($3) AND t.next_poll_at <= $1 "
                     "AND u.upstream_id != '' ORDER BY t.next_poll_at LIMIT $2",
                     VG_TASK_BIT(VG_TASK_DISPATCHING) | VG_TASK_BIT(VG_TASK_RUNNING)},
    [VG_DUE_FINALIZE] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = "
                         "t.id WHERE t.status = ANY($3) AND t.next_poll_at <= $1 "
                         "ORDER BY t.next_poll_at LIMIT $2",
                         VG_TASK_BIT(VG_TASK_FINALIZING)},
    [VG_DUE_CLEANUP] = {"SELECT " UP_COLS " FROM upstream_tasks u JOIN tasks t ON t.id = "
                        "u.task_id WHERE u.open = 1 AND t.status = ANY($3) AND "
                        "t.next_poll_at <= $1 LIMIT $2",
                        VG_TASK_SET_FINAL},
};

static void row_to_up(const PGresult *res, int row, void *out)
{
    vg_up_row *r = out;
    char buf[32];
    memset(r, 0, sizeof *r);
    vg_pg_col_copy(res, row, 0, r->task_id, sizeof r->task_id);
    vg_pg_col_copy(res, row, 1, r->key_id, sizeof r->key_id);
    vg_pg_col_copy(res, row, 2, r->model, sizeof r->model);
    vg_pg_col_copy(res, row, 3, buf, sizeof buf);
    r->status = (vg_task_status)vg_task_status_parse(buf);
    r->test_mode = vg_pg_col_i64(res, row, 4) != 0;
    r->created_at = vg_pg_col_i64(res, row, 5);
    r->next_poll_at = vg_pg_col_i64(res, row, 6);
    vg_pg_col_copy(res, row, 7, r->channel, sizeof r->channel);
    vg_pg_col_copy(res, row, 8, r->upstream_model, sizeof r->upstream_model);
    vg_pg_col_copy(res, row, 9, r->upstream_id, sizeof r->upstream_id);
    vg_pg_col_copy(res, row, 10, r->attempt_id, sizeof r->attempt_id);
    vg_pg_col_copy(res, row, 11, r->client_token, sizeof r->client_token);
    vg_pg_col_copy(res, row, 12, r->callback_token, sizeof r->callback_token);
    vg_pg_col_copy(res, row, 13, r->avoid_channel, sizeof r->avoid_channel);
    vg_pg_col_copy(res, row, 14, r->upstream_status, sizeof r->upstream_status);
    r->accepted_at_ms = vg_pg_col_i64(res, row, 15);
    r->attempt_started_ms = vg_pg_col_i64(res, row, 16);
    r->retries = (int)vg_pg_col_i64(res, row, 17);
    r->poll_errors = (int)vg_pg_col_i64(res, row, 18);
    r->lookups = (int)vg_pg_col_i64(res, row, 19);
    r->open = vg_pg_col_i64(res, row, 20) != 0;
    r->result = vg_pg_col_dup(res, row, 21);
}

vg_status vg_pg_task_claim_local(vg_store *base, int64_t now_ms, int64_t lease_ms,
                                 const char *local, bool take_unrouted, vg_task *out)
{
    vg_pg *s = vg_pgs(base);
    out->id[0] = '\0';
    vg_status rc = vg_pg_one(
        s,
        "UPDATE tasks SET status = $7, attempts = attempts + 1, version = version + 1, "
        "lease_until = $1, updated_at = $2, channel = $3, lease_owner = $5 WHERE id = "
        "(SELECT id FROM tasks WHERE status = ANY($6) AND (channel = $3 OR (channel = '' AND "
        "(test_mode = 1 OR $4 = 1))) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "AND status = ANY($6) RETURNING " PG_TASK_COLS,
        PG_ARGS(PG_I(now_ms + lease_ms), PG_I(now_ms / 1000), PG_T(local), PG_I(take_unrouted),
                PG_T(s->node), PG_SET(vg_task_op_from(VG_TASK_OP_CLAIM)),
                PG_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_CLAIM)))),
        vg_pg_row_to_task, out);
    if (rc != VG_OK && out->id[0]) vg_task_free(out);
    return rc;
}

vg_status vg_pg_task_route_local(vg_store *base, const char *id, const char *channel, int64_t now)
{
    return vg_pg_change(
        vg_pgs(base),
        "UPDATE tasks SET channel = $1, updated_at = $2 WHERE id = $3 AND status = ANY($4) "
        "AND channel = ''",
        PG_ARGS(PG_T(channel), PG_I(now), PG_T(id), PG_SET(vg_task_op_from(VG_TASK_OP_ROUTE))),
        VG_CONFLICT);
}

static void row_to_load(const PGresult *r, int row, void *out)
{
    vg_channel_load *l = out;
    vg_pg_col_copy(r, row, 0, l->channel, sizeof l->channel);
    l->active = vg_pg_col_i64(r, row, 1);
}

vg_status vg_pg_channel_load(vg_store *base, vg_channel_load **out, size_t *n)
{
    return vg_pg_list(vg_pgs(base),
                      "SELECT channel, count(*) FROM tasks WHERE status = ANY($1) AND "
                      "channel != '' GROUP BY channel",
                      PG_ARGS(PG_SET(VG_TASK_SET_ACTIVE)), sizeof **out, row_to_load, 0,
                      (void **)out, n);
}

vg_status vg_pg_upstream_due(vg_store *base, vg_due_kind kind, int64_t due_ms, int limit,
                             vg_up_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)kind >= VG_DUE_KIND_COUNT) return VG_INVALID;
    return vg_pg_list(vg_pgs(base), g_due[kind].sql,
                      PG_ARGS(PG_I(due_ms), PG_I(limit), PG_SET(g_due[kind].statuses)),
                      sizeof **out, row_to_up, (size_t)(limit > 0 ? limit : 1), (void **)out, n);
}

vg_status vg_pg_upstream_get(vg_store *base, const char *task_id, vg_up_row *out)
{
    return vg_pg_one(vg_pgs(base),
                     "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                     "WHERE t.id = $1",
                     PG_ARGS(PG_T(task_id)), row_to_up, out);
}

/* A step of a transaction that must change exactly one row. */
static vg_status one_change(vg_status rc)
{
    return rc == VG_OK || rc == VG_AGAIN ? rc : VG_ERR;
}

static vg_status begin_attempt(vg_pg *s, void *ctx)
{
    const vg_up_attempt *a = ctx;
    vg_status rc = vg_pg_change(
        s,
        "UPDATE tasks SET status = $7, channel = $1, next_poll_at = $2, lease_owner = $5, "
        "version = version + 1, updated_at = $3 WHERE id = $4 AND status = ANY($6) "
        "AND channel = ''",
        PG_ARGS(PG_T(a->channel), PG_I(a->lease_until_ms), PG_I(a->now_ms / 1000), PG_T(a->task_id),
                PG_T(s->node), PG_SET(vg_task_op_from(VG_TASK_OP_SUBMIT)),
                PG_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_SUBMIT)))),
        VG_CONFLICT);
    if (rc != VG_OK) return rc == VG_CONFLICT ? rc : one_change(rc);
    rc = vg_pg_exec(s,
                    "INSERT INTO upstream_tasks (task_id, callback_token) VALUES ($1, $2) "
                    "ON CONFLICT (task_id) DO NOTHING",
                    PG_ARGS(PG_T(a->task_id), PG_T(a->callback_token)), NULL);
    if (rc != VG_OK) return one_change(rc);
    rc = vg_pg_change(s,
                      "UPDATE upstream_tasks SET channel = $1, upstream_model = $2, attempt_id = "
                      "$3, client_token = $4, attempt_started_at = $5, upstream_id = '', lookups "
                      "= 0, poll_errors = 0, upstream_status = '', open = 1 WHERE task_id = $6",
                      PG_ARGS(PG_T(a->channel), PG_T(a->upstream_model), PG_T(a->attempt_id),
                              PG_T(a->client_token), PG_I(a->now_ms), PG_T(a->task_id)),
                      VG_ERR);
    if (rc != VG_OK) return one_change(rc);
    return one_change(vg_pg_change(
        s,
        "INSERT INTO upstream_attempts (id, task_id, channel, upstream_model, client_token, "
        "started_at) VALUES ($1, $2, $3, $4, $5, $6)",
        PG_ARGS(PG_T(a->attempt_id), PG_T(a->task_id), PG_T(a->channel), PG_T(a->upstream_model),
                PG_T(a->client_token), PG_I(a->now_ms)),
        VG_ERR));
}

vg_status vg_pg_upstream_begin(vg_store *base, const vg_up_attempt *a)
{
    return vg_pg_atomic(vg_pgs(base), begin_attempt, (void *)a);
}

vg_status vg_pg_upstream_attempt_end(vg_store *base, const char *attempt_id, const char *outcome,
                                     const char *upstream_id, long http_status, const char *detail,
                                     int64_t now_ms)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE upstream_attempts SET outcome = $1, upstream_id = "
                        "coalesce($2, upstream_id), http_status = $3, detail = $4, "
                        "ended_at = $5 WHERE id = $6",
                        PG_ARGS(PG_T(outcome), PG_T(upstream_id), PG_I(http_status),
                                PG_T(detail ? detail : ""), PG_I(now_ms), PG_T(attempt_id)),
                        VG_NOTFOUND);
}

typedef struct {
    const char *task_id, *attempt_id, *avoid_channel;
    int64_t not_before_ms;
    bool count_retry;
    int64_t now;
} requeue_ctx;

static vg_status requeue(vg_pg *s, void *ctx)
{
    const requeue_ctx *c = ctx;
    vg_status rc = vg_pg_change(
        s,
        "UPDATE tasks SET status = $6, channel = '', next_poll_at = $1, lease_owner = $7, "
        "version = version + 1, updated_at = $2 WHERE id = $3 AND status = ANY($5) AND EXISTS "
        "(SELECT 1 FROM upstream_tasks WHERE task_id = $3 AND attempt_id = $4 AND "
        "upstream_id = '')",
        PG_ARGS(PG_I(c->not_before_ms), PG_I(c->now), PG_T(c->task_id), PG_T(c->attempt_id),
                PG_SET(vg_task_op_from(VG_TASK_OP_RETRY)),
                PG_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_RETRY))),
                PG_T(s->node)),
        VG_CONFLICT);
    if (rc != VG_OK) return rc == VG_CONFLICT ? rc : one_change(rc);
    return one_change(
        vg_pg_change(s,
                     "UPDATE upstream_tasks SET retries = retries + $1, "
                     "avoid_channel = $2, attempt_id = '', open = 0, lookups = 0 "
                     "WHERE task_id = $3",
                     PG_ARGS(PG_I(c->count_retry ? 1 : 0),
                             PG_T(c->avoid_channel ? c->avoid_channel : ""), PG_T(c->task_id)),
                     VG_ERR));
}

vg_status vg_pg_upstream_requeue(vg_store *base, const char *task_id, const char *attempt_id,
                                 int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                                 int64_t now)
{
    requeue_ctx c = {task_id, attempt_id, avoid_channel, not_before_ms, count_retry, now};
    return vg_pg_atomic(vg_pgs(base), requeue, &c);
}

/* The task half of one vg_up_update: *applied = whether the row matched. */
static vg_status update_task(vg_pg *s, const vg_up_update *u, int64_t now, bool *applied)
{
    vg_task_status_set from = u->from;
    if (u->to_status >= 0) from &= vg_task_from((vg_task_status)u->to_status);
    int changes = 0;
    vg_status rc = vg_pg_exec(
        s,
        "UPDATE tasks SET status = coalesce($1, status), "
        "next_poll_at = CASE WHEN $2 >= 0 THEN $2 ELSE next_poll_at END, "
        "lease_owner = CASE WHEN $2 >= 0 THEN $7 ELSE lease_owner END, "
        "updated_at = CASE WHEN $1 IS NOT NULL OR $3 > progress THEN $4 ELSE updated_at END, "
        "progress = greatest(progress, $3), "
        "version = version + CASE WHEN $1 IS NULL THEN 0 ELSE 1 END "
        "WHERE id = $5 AND status = ANY($6)",
        PG_ARGS(PG_T(u->to_status >= 0 ? vg_task_status_name((vg_task_status)u->to_status) : NULL),
                PG_I(u->next_poll_at), PG_I(u->progress), PG_I(now), PG_T(u->task_id), PG_SET(from),
                PG_T(s->node)),
        &changes);
    *applied = changes == 1;
    return rc;
}

static vg_status update_upstream(vg_pg *s, const vg_up_update *u)
{
    return vg_pg_exec(s,
                      "UPDATE upstream_tasks SET upstream_id = coalesce($1, upstream_id), "
                      "upstream_status = coalesce($2, upstream_status), "
                      "accepted_at = CASE WHEN $3 >= 0 THEN $3 ELSE accepted_at END, "
                      "poll_errors = CASE WHEN $4 >= 0 THEN $4 ELSE poll_errors END, "
                      "lookups = CASE WHEN $5 >= 0 THEN $5 ELSE lookups END, "
                      "open = CASE WHEN $6 >= 0 THEN $6 ELSE open END, "
                      "result = coalesce($7, result) "
                      "WHERE task_id = $8 AND ($9::text IS NULL OR attempt_id = $9)",
                      PG_ARGS(PG_T(u->upstream_id), PG_T(u->upstream_status),
                              PG_I(u->accepted_at_ms), PG_I(u->poll_errors), PG_I(u->lookups),
                              PG_I(u->open), PG_T(u->result), PG_T(u->task_id),
                              PG_T(u->attempt_id)),
                      NULL);
}

typedef struct {
    vg_up_update *u;
    size_t n;
    int64_t now;
} update_ctx;

static vg_status update_all(vg_pg *s, void *ctx)
{
    const update_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        vg_up_update *u = &c->u[i];
        vg_status rc = update_task(s, u, c->now, &u->applied);
        if (rc == VG_OK && (u->applied || u->upstream_always)) rc = update_upstream(s, u);
        if (rc != VG_OK) return one_change(rc);
    }
    return VG_OK;
}

vg_status vg_pg_upstream_update(vg_store *base, vg_up_update *u, size_t n, int64_t now)
{
    if (n == 0) return VG_OK;
    update_ctx c = {u, n, now};
    return vg_pg_atomic(vg_pgs(base), update_all, &c);
}

vg_status vg_pg_upstream_recover(vg_store *base, int64_t now_ms)
{
    vg_pg *s = vg_pgs(base);
    char *owners = NULL;
    vg_status rc = vg_pg_recover_owners(s, &owners);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(s,
                    "UPDATE tasks SET next_poll_at = $1, lease_owner = $4 WHERE next_poll_at > $1 "
                    "AND lease_owner = ANY($2::text[]) AND id IN (SELECT task_id FROM "
                    "upstream_tasks) AND (status = ANY($3) OR id IN (SELECT task_id FROM "
                    "upstream_tasks WHERE open = 1))",
                    PG_ARGS(PG_I(now_ms), PG_T(owners),
                            PG_SET(VG_TASK_SET_ACTIVE & ~VG_TASK_BIT(VG_TASK_QUEUED)),
                            PG_T(s->node)),
                    NULL);
    free(owners);
    return rc;
}

vg_status vg_pg_upstream_takeover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_pg *s = vg_pgs(base);
    int changes = 0;
    /* Dispatching, running, finalizing, or final with the upstream task perhaps open; scheduled
     * by another node; not a submit that may still be in flight (no upstream id yet and its
     * attempt not ended). */
    vg_status rc = vg_pg_exec(
        s,
        "UPDATE tasks t SET next_poll_at = $1, lease_owner = $2 FROM upstream_tasks u "
        "WHERE u.task_id = t.id AND t.next_poll_at > $1 AND t.lease_owner != $2 AND "
        "(u.open = 1 OR t.status = ANY($3)) AND (u.upstream_id != '' OR t.status != $4 OR "
        "EXISTS (SELECT 1 FROM upstream_attempts a WHERE a.id = u.attempt_id AND "
        "a.ended_at > 0))",
        PG_ARGS(PG_I(now_ms), PG_T(s->node),
                PG_SET(VG_TASK_SET_ACTIVE & ~VG_TASK_BIT(VG_TASK_QUEUED)),
                PG_T(vg_task_status_name(VG_TASK_DISPATCHING))),
        &changes);
    *n = changes;
    return rc;
}
