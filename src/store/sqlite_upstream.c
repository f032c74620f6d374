/*
 * sqlite_upstream.c - the SQLite operations for channels and upstream tasks (store.h, types and
 * columns in store/upstream.h).
 *
 * Every status change is conditional on the current status, like the rest of the store: the
 * "expected from" set is the state machine's (vg_task_op_from(), or for vg_up_update the caller's
 * set intersected with vg_task_from(to_status)), bound as a bit set. Changes that must go together
 * (the task row, its upstream row, the attempt log) share one BEGIN IMMEDIATE transaction. Money
 * never moves here: failures, cancellations and completions of upstream tasks go through
 * task_fail / task_cancel / task_complete, which settle the ledger.
 *
 * Whenever this file sets tasks.next_poll_at it also records this node as tasks.lease_owner: the
 * time is this node's lease or schedule, which upstream_recover releases after a restart and
 * upstream_takeover when another node becomes the upstream leader.
 */
#include "common/alloc.h"
#include "store/sqlite_internal.h"

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

/* One query per kind of due work; ?1 = due time (ms), ?2 = limit, ?3 = the statuses it takes. */
static const struct {
    const char *sql;
    vg_task_status_set statuses;
} g_due[VG_DUE_KIND_COUNT] = {
    /* One status (bit = ?3), and no index on next_poll_at (the unary +): tasks_by_channel then
     * gives the rows in id order and the LIMIT stops the walk, where the status set and
     * tasks_due would sort every queued task on each round. */
    [VG_DUE_ROUTE] = {"SELECT " UP_COLS " FROM tasks t LEFT JOIN upstream_tasks u ON u.task_id = "
                      "t.id WHERE t.status = (SELECT name FROM temp.task_status WHERE bit = ?3) "
                      "AND t.channel = '' AND t.test_mode = 0 AND +t.next_poll_at <= ?1 "
                      "ORDER BY t.id LIMIT ?2",
                      VG_TASK_BIT(VG_TASK_QUEUED)},
    [VG_DUE_RESOLVE] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = "
                        "t.id WHERE " SQ_STATUS_IN(
                            "t.status",
                            3) " AND t.next_poll_at <= ?1 "
                               "AND u.upstream_id = '' ORDER BY t.next_poll_at LIMIT ?2",
                        VG_TASK_BIT(VG_TASK_DISPATCHING)},
    [VG_DUE_POLL] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                     "WHERE " SQ_STATUS_IN(
                         "t.status", 3) " AND t.next_poll_at <= ?1 "
                                        "AND u.upstream_id != '' ORDER BY t.next_poll_at LIMIT ?2",
                     VG_TASK_BIT(VG_TASK_DISPATCHING) | VG_TASK_BIT(VG_TASK_RUNNING)},
    [VG_DUE_FINALIZE] = {"SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = "
                         "t.id WHERE " SQ_STATUS_IN("t.status",
                                                    3) " AND t.next_poll_at <= ?1 "
                                                       "ORDER BY t.next_poll_at LIMIT ?2",
                         VG_TASK_BIT(VG_TASK_FINALIZING)},
    [VG_DUE_CLEANUP] = {"SELECT " UP_COLS " FROM upstream_tasks u JOIN tasks t ON t.id = "
                        "u.task_id WHERE u.open = 1 AND " SQ_STATUS_IN(
                            "t.status", 3) " AND "
                                           "t.next_poll_at <= ?1 LIMIT ?2",
                        VG_TASK_SET_FINAL},
};

void vg_up_row_free(vg_up_row *r)
{
    if (!r) return;
    free(r->result);
    r->result = NULL;
}

static void row_to_up(sqlite3_stmt *st, void *out)
{
    vg_up_row *r = out;
    char buf[32];
    memset(r, 0, sizeof *r);
    vg_sq_col_copy(st, 0, r->task_id, sizeof r->task_id);
    vg_sq_col_copy(st, 1, r->key_id, sizeof r->key_id);
    vg_sq_col_copy(st, 2, r->model, sizeof r->model);
    vg_sq_col_copy(st, 3, buf, sizeof buf);
    r->status = (vg_task_status)vg_task_status_parse(buf);
    r->test_mode = sqlite3_column_int(st, 4) != 0;
    r->created_at = sqlite3_column_int64(st, 5);
    r->next_poll_at = sqlite3_column_int64(st, 6);
    vg_sq_col_copy(st, 7, r->channel, sizeof r->channel);
    vg_sq_col_copy(st, 8, r->upstream_model, sizeof r->upstream_model);
    vg_sq_col_copy(st, 9, r->upstream_id, sizeof r->upstream_id);
    vg_sq_col_copy(st, 10, r->attempt_id, sizeof r->attempt_id);
    vg_sq_col_copy(st, 11, r->client_token, sizeof r->client_token);
    vg_sq_col_copy(st, 12, r->callback_token, sizeof r->callback_token);
    vg_sq_col_copy(st, 13, r->avoid_channel, sizeof r->avoid_channel);
    vg_sq_col_copy(st, 14, r->upstream_status, sizeof r->upstream_status);
    r->accepted_at_ms = sqlite3_column_int64(st, 15);
    r->attempt_started_ms = sqlite3_column_int64(st, 16);
    r->retries = sqlite3_column_int(st, 17);
    r->poll_errors = sqlite3_column_int(st, 18);
    r->lookups = sqlite3_column_int(st, 19);
    r->open = sqlite3_column_int(st, 20) != 0;
    const unsigned char *res = sqlite3_column_text(st, 21);
    r->result = res ? vg_strdup((const char *)res) : NULL;
}

/* The oldest claimable id: routed here (either mode), unrouted test-mode, unrouted live when ?4.
 * Each is one seek of tasks_by_channel (status, channel, test_mode, id); one condition with OR
 * would walk every queued task. */
#define CLAIM_LOCAL_OLDEST                                                                         \
    "(SELECT min((SELECT min(id) FROM ("                                                           \
    "SELECT (SELECT min(id) FROM tasks WHERE status = s.name AND channel = ?3 "                    \
    "AND test_mode = 0) AS id UNION ALL "                                                          \
    "SELECT (SELECT min(id) FROM tasks WHERE status = s.name AND channel = ?3 "                    \
    "AND test_mode = 1) UNION ALL "                                                                \
    "SELECT (SELECT min(id) FROM tasks WHERE status = s.name AND channel = '' "                    \
    "AND test_mode = 1) UNION ALL "                                                                \
    "SELECT (SELECT min(id) FROM tasks WHERE status = s.name AND channel = '' "                    \
    "AND test_mode = 0) WHERE ?4))) "                                                              \
    "FROM temp.task_status s WHERE (s.bit & ?6) != 0)"

vg_status vg_sq_task_claim_local(vg_store *base, int64_t now_ms, int64_t lease_ms,
                                 const char *local, bool take_unrouted, vg_task *out)
{
    vg_sqlite *s = vg_sq(base);
    out->id[0] = '\0';
    vg_status rc = vg_sq_one(
        s,
        "UPDATE tasks SET status = ?7, attempts = attempts + 1, version = version + 1, "
        "lease_until = ?1, updated_at = ?2, channel = ?3, lease_owner = ?5 WHERE id "
        "= " CLAIM_LOCAL_OLDEST " AND " SQ_STATUS_IN("status", 6) " RETURNING " SQ_TASK_COLS,
        SQ_ARGS(SQ_I(now_ms + lease_ms), SQ_I(now_ms / 1000), SQ_T(local), SQ_I(take_unrouted),
                SQ_T(s->node), SQ_I(vg_task_op_from(VG_TASK_OP_CLAIM)),
                SQ_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_CLAIM)))),
        vg_sq_row_to_task, out);
    if (rc != VG_OK && out->id[0]) vg_task_free(out);
    return rc;
}

vg_status vg_sq_task_route_local(vg_store *base, const char *id, const char *channel, int64_t now)
{
    return vg_sq_change(
        vg_sq(base),
        "UPDATE tasks SET channel = ?1, updated_at = ?2 WHERE id = ?3 AND "
        "" SQ_STATUS_IN("status", 4) " AND channel = ''",
        SQ_ARGS(SQ_T(channel), SQ_I(now), SQ_T(id), SQ_I(vg_task_op_from(VG_TASK_OP_ROUTE))),
        VG_CONFLICT);
}

static void row_to_load(sqlite3_stmt *st, void *out)
{
    vg_channel_load *l = out;
    vg_sq_col_copy(st, 0, l->channel, sizeof l->channel);
    l->active = sqlite3_column_int64(st, 1);
}

vg_status vg_sq_channel_load(vg_store *base, vg_channel_load **out, size_t *n)
{
    return vg_sq_list(vg_sq(base),
                      "SELECT channel, count(*) FROM tasks WHERE " SQ_STATUS_IN(
                          "status", 1) " AND "
                                       "channel > '' GROUP BY channel", /* a seek, not != */
                      SQ_ARGS(SQ_I(VG_TASK_SET_ACTIVE)), sizeof **out, row_to_load, 0, (void **)out,
                      n);
}

vg_status vg_sq_upstream_due(vg_store *base, vg_due_kind kind, int64_t due_ms, int limit,
                             vg_up_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)kind >= VG_DUE_KIND_COUNT) return VG_INVALID;
    return vg_sq_list(vg_sq(base), g_due[kind].sql,
                      SQ_ARGS(SQ_I(due_ms), SQ_I(limit), SQ_I(g_due[kind].statuses)), sizeof **out,
                      row_to_up, (size_t)(limit > 0 ? limit : 1), (void **)out, n);
}

vg_status vg_sq_upstream_get(vg_store *base, const char *task_id, vg_up_row *out)
{
    return vg_sq_one(vg_sq(base),
                     "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                     "WHERE t.id = ?1",
                     SQ_ARGS(SQ_T(task_id)), row_to_up, out);
}

/* A step of a transaction that must change exactly one row. */
static vg_status one_change(vg_status rc)
{
    return rc == VG_OK ? VG_OK : VG_ERR;
}

static vg_status begin_attempt(vg_sqlite *s, void *ctx)
{
    const vg_up_attempt *a = ctx;
    vg_status rc = vg_sq_change(
        s,
        "UPDATE tasks SET status = ?7, channel = ?1, next_poll_at = ?2, lease_owner = ?5, "
        "version = version + 1, updated_at = ?3 WHERE id = ?4 AND " SQ_STATUS_IN(
            "status", 6) " AND channel = ''",
        SQ_ARGS(SQ_T(a->channel), SQ_I(a->lease_until_ms), SQ_I(a->now_ms / 1000), SQ_T(a->task_id),
                SQ_T(s->node), SQ_I(vg_task_op_from(VG_TASK_OP_SUBMIT)),
                SQ_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_SUBMIT)))),
        VG_CONFLICT);
    if (rc != VG_OK) return rc == VG_CONFLICT ? rc : VG_ERR;
    rc = vg_sq_exec(s,
                    "INSERT INTO upstream_tasks (task_id, callback_token) VALUES (?1, ?2) "
                    "ON CONFLICT (task_id) DO NOTHING",
                    SQ_ARGS(SQ_T(a->task_id), SQ_T(a->callback_token)), NULL);
    if (rc != VG_OK) return VG_ERR;
    rc = vg_sq_change(s,
                      "UPDATE upstream_tasks SET channel = ?1, upstream_model = ?2, attempt_id = "
                      "?3, client_token = ?4, attempt_started_at = ?5, upstream_id = '', lookups "
                      "= 0, poll_errors = 0, upstream_status = '', open = 1 WHERE task_id = ?6",
                      SQ_ARGS(SQ_T(a->channel), SQ_T(a->upstream_model), SQ_T(a->attempt_id),
                              SQ_T(a->client_token), SQ_I(a->now_ms), SQ_T(a->task_id)),
                      VG_ERR);
    if (rc != VG_OK) return VG_ERR;
    return one_change(vg_sq_change(
        s,
        "INSERT INTO upstream_attempts (id, task_id, channel, upstream_model, client_token, "
        "started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        SQ_ARGS(SQ_T(a->attempt_id), SQ_T(a->task_id), SQ_T(a->channel), SQ_T(a->upstream_model),
                SQ_T(a->client_token), SQ_I(a->now_ms)),
        VG_ERR));
}

vg_status vg_sq_upstream_begin(vg_store *base, const vg_up_attempt *a)
{
    return vg_sq_atomic(vg_sq(base), begin_attempt, (void *)a);
}

vg_status vg_sq_upstream_attempt_end(vg_store *base, const char *attempt_id, const char *outcome,
                                     const char *upstream_id, long http_status, const char *detail,
                                     int64_t now_ms)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE upstream_attempts SET outcome = ?1, upstream_id = "
                        "coalesce(?2, upstream_id), http_status = ?3, detail = ?4, "
                        "ended_at = ?5 WHERE id = ?6",
                        SQ_ARGS(SQ_T(outcome), SQ_T(upstream_id), SQ_I(http_status),
                                SQ_T(detail ? detail : ""), SQ_I(now_ms), SQ_T(attempt_id)),
                        VG_NOTFOUND);
}

typedef struct {
    const char *task_id, *attempt_id, *avoid_channel;
    int64_t not_before_ms;
    bool count_retry;
    int64_t now;
} requeue_ctx;

static vg_status requeue(vg_sqlite *s, void *ctx)
{
    const requeue_ctx *c = ctx;
    vg_status rc = vg_sq_change(
        s,
        "UPDATE tasks SET status = ?6, channel = '', next_poll_at = ?1, lease_owner = ?7, "
        "version = version + 1, updated_at = ?2 WHERE id = ?3 AND " SQ_STATUS_IN(
            "status", 5) " AND EXISTS (SELECT 1 FROM upstream_tasks WHERE task_id = ?3 AND "
                         "attempt_id = ?4 AND "
                         "upstream_id = '')",
        SQ_ARGS(SQ_I(c->not_before_ms), SQ_I(c->now), SQ_T(c->task_id), SQ_T(c->attempt_id),
                SQ_I(vg_task_op_from(VG_TASK_OP_RETRY)),
                SQ_T(vg_task_status_name((vg_task_status)vg_task_op_to(VG_TASK_OP_RETRY))),
                SQ_T(s->node)),
        VG_CONFLICT);
    if (rc != VG_OK) return rc == VG_CONFLICT ? rc : VG_ERR;
    return one_change(
        vg_sq_change(s,
                     "UPDATE upstream_tasks SET retries = retries + ?1, "
                     "avoid_channel = ?2, attempt_id = '', open = 0, lookups = 0 "
                     "WHERE task_id = ?3",
                     SQ_ARGS(SQ_I(c->count_retry ? 1 : 0),
                             SQ_T(c->avoid_channel ? c->avoid_channel : ""), SQ_T(c->task_id)),
                     VG_ERR));
}

vg_status vg_sq_upstream_requeue(vg_store *base, const char *task_id, const char *attempt_id,
                                 int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                                 int64_t now)
{
    requeue_ctx c = {task_id, attempt_id, avoid_channel, not_before_ms, count_retry, now};
    return vg_sq_atomic(vg_sq(base), requeue, &c);
}

/* The task half of one vg_up_update: *applied = whether the row matched. */
static vg_status update_task(vg_sqlite *s, const vg_up_update *u, int64_t now, bool *applied)
{
    vg_task_status_set from = u->from;
    if (u->to_status >= 0) from &= vg_task_from((vg_task_status)u->to_status);
    int changes = 0;
    vg_status rc = vg_sq_exec(
        s,
        "UPDATE tasks SET status = coalesce(?1, status), "
        "next_poll_at = CASE WHEN ?2 >= 0 THEN ?2 ELSE next_poll_at END, "
        "lease_owner = CASE WHEN ?2 >= 0 THEN ?7 ELSE lease_owner END, "
        "updated_at = CASE WHEN ?1 IS NOT NULL OR ?3 > progress THEN ?4 ELSE updated_at END, "
        "progress = max(progress, ?3), version = version + (?1 IS NOT NULL) "
        "WHERE id = ?5 AND " SQ_STATUS_IN("status", 6),
        SQ_ARGS(u->to_status >= 0 ? SQ_T(vg_task_status_name((vg_task_status)u->to_status))
                                  : SQ_NULL,
                SQ_I(u->next_poll_at), SQ_I(u->progress), SQ_I(now), SQ_T(u->task_id), SQ_I(from),
                SQ_T(s->node)),
        &changes);
    *applied = changes == 1;
    return rc;
}

static vg_status update_upstream(vg_sqlite *s, const vg_up_update *u)
{
    return vg_sq_exec(s,
                      "UPDATE upstream_tasks SET upstream_id = coalesce(?1, upstream_id), "
                      "upstream_status = coalesce(?2, upstream_status), "
                      "accepted_at = CASE WHEN ?3 >= 0 THEN ?3 ELSE accepted_at END, "
                      "poll_errors = CASE WHEN ?4 >= 0 THEN ?4 ELSE poll_errors END, "
                      "lookups = CASE WHEN ?5 >= 0 THEN ?5 ELSE lookups END, "
                      "open = CASE WHEN ?6 >= 0 THEN ?6 ELSE open END, "
                      "result = coalesce(?7, result) "
                      "WHERE task_id = ?8 AND (?9 IS NULL OR attempt_id = ?9)",
                      SQ_ARGS(SQ_T(u->upstream_id), SQ_T(u->upstream_status),
                              SQ_I(u->accepted_at_ms), SQ_I(u->poll_errors), SQ_I(u->lookups),
                              SQ_I(u->open), SQ_T(u->result), SQ_T(u->task_id),
                              SQ_T(u->attempt_id)),
                      NULL);
}

typedef struct {
    vg_up_update *u;
    size_t n;
    int64_t now;
} update_ctx;

static vg_status update_all(vg_sqlite *s, void *ctx)
{
    const update_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        vg_up_update *u = &c->u[i];
        if (update_task(s, u, c->now, &u->applied) != VG_OK) return VG_ERR;
        if ((u->applied || u->upstream_always) && update_upstream(s, u) != VG_OK) return VG_ERR;
    }
    return VG_OK;
}

vg_status vg_sq_upstream_update(vg_store *base, vg_up_update *u, size_t n, int64_t now)
{
    if (n == 0) return VG_OK;
    update_ctx c = {u, n, now};
    return vg_sq_atomic(vg_sq(base), update_all, &c);
}

vg_status vg_sq_upstream_recover(vg_store *base, int64_t now_ms)
{
    vg_sqlite *s = vg_sq(base);
    /* Not final, or final with the upstream task perhaps still open; one node by definition,
     * so every schedule is this process's previous life's. */
    return vg_sq_exec(s,
                      "UPDATE tasks SET next_poll_at = ?1, lease_owner = ?2 WHERE next_poll_at > "
                      "?1 AND id IN (SELECT task_id FROM upstream_tasks) "
                      "AND (" SQ_STATUS_IN("status", 3) " OR id IN (SELECT task_id FROM "
                                                        "upstream_tasks WHERE open = 1))",
                      SQ_ARGS(SQ_I(now_ms), SQ_T(s->node),
                              SQ_I(VG_TASK_SET_ACTIVE & ~VG_TASK_BIT(VG_TASK_QUEUED))),
                      NULL);
}

vg_status vg_sq_upstream_takeover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    /* Dispatching, running, finalizing, or final with the upstream task perhaps open; scheduled
     * by another node; not a submit that may still be in flight (no upstream id yet and its
     * attempt not ended). */
    vg_status rc = vg_sq_exec(
        s,
        "UPDATE tasks SET next_poll_at = ?1, lease_owner = ?2 WHERE next_poll_at > ?1 AND "
        "lease_owner != ?2 AND id IN (SELECT u.task_id FROM upstream_tasks u WHERE "
        "(u.open = 1 OR " SQ_STATUS_IN(
            "tasks.status",
            3) ") AND (u.upstream_id != '' OR "
               "tasks.status != ?4 OR EXISTS (SELECT 1 FROM upstream_attempts a WHERE "
               "a.id = u.attempt_id AND a.ended_at > 0)))",
        SQ_ARGS(SQ_I(now_ms), SQ_T(s->node),
                SQ_I(VG_TASK_SET_ACTIVE & ~VG_TASK_BIT(VG_TASK_QUEUED)),
                SQ_T(vg_task_status_name(VG_TASK_DISPATCHING))),
        &changes);
    *n = changes;
    return rc;
}
