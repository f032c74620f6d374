/*
 * sqlite_upstream.c - the SQLite operations for channels and upstream tasks (store.h, types and
 * columns in store/upstream.h).
 *
 * Statements are prepared per call (they run a few times per task, not per request). Every
 * status change is conditional on the current status, like the rest of the store; changes that
 * must go together (the task row, its upstream row, the attempt log) share one BEGIN IMMEDIATE
 * transaction. Money never moves here: failures, cancellations and completions of upstream tasks
 * go through task_fail / task_cancel / task_complete, which settle the ledger.
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

/* One query per kind of due work; ?1 = due time (ms), ?2 = limit. */
static const char *const g_due_sql[VG_DUE_KIND_COUNT] = {
    [VG_DUE_ROUTE] = "SELECT " UP_COLS " FROM tasks t LEFT JOIN upstream_tasks u ON u.task_id = "
                     "t.id WHERE t.status = 'queued' AND t.channel = '' AND t.test_mode = 0 "
                     "AND t.next_poll_at <= ?1 ORDER BY t.id LIMIT ?2",
    [VG_DUE_RESOLVE] = "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                       "WHERE t.status = 'dispatching' AND t.next_poll_at <= ?1 "
                       "AND u.upstream_id = '' ORDER BY t.next_poll_at LIMIT ?2",
    [VG_DUE_POLL] = "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                    "WHERE t.status IN ('dispatching','running') AND t.next_poll_at <= ?1 "
                    "AND u.upstream_id != '' ORDER BY t.next_poll_at LIMIT ?2",
    [VG_DUE_FINALIZE] = "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = "
                        "t.id WHERE t.status = 'finalizing' AND t.next_poll_at <= ?1 "
                        "ORDER BY t.next_poll_at LIMIT ?2",
    [VG_DUE_CLEANUP] = "SELECT " UP_COLS " FROM upstream_tasks u JOIN tasks t ON t.id = u.task_id "
                       "WHERE u.open = 1 AND t.status IN ('completed','failed','cancelled') "
                       "AND t.next_poll_at <= ?1 LIMIT ?2",
};

void vg_up_row_free(vg_up_row *r)
{
    if (!r) return;
    free(r->result);
    r->result = NULL;
}

static sqlite3_stmt *prep(vg_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vg_sqlite_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Steps a statement that returns no rows and finalizes it: changes, or -1. */
static int run(vg_store *s, sqlite3_stmt *st)
{
    if (!st) return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? sqlite3_changes(vg_sqlite_db(s)) : -1;
}

static int exec(vg_store *s, const char *sql)
{
    return sqlite3_exec(vg_sqlite_db(s), sql, NULL, NULL, NULL) == SQLITE_OK ? VG_OK : VG_ERR;
}

static int rollback(vg_store *s, int status)
{
    exec(s, "ROLLBACK");
    return status;
}

static void row_to_up(sqlite3_stmt *st, vg_up_row *r)
{
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

int vg_sq_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms, const char *local,
                           bool take_unrouted, vg_task *out)
{
    char *sql = vg_asprintf(
        "UPDATE tasks SET status = 'running', attempts = attempts + 1, version = version + 1, "
        "lease_until = ?1, updated_at = ?2, channel = ?3 WHERE id = (SELECT id FROM tasks WHERE "
        "status = 'queued' AND (channel = ?3 OR (channel = '' AND (test_mode = 1 OR ?4))) "
        "ORDER BY id LIMIT 1) AND status = 'queued' RETURNING %s",
        vg_sq_task_cols);
    sqlite3_stmt *st = prep(s, sql);
    free(sql);
    out->id[0] = '\0';
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now_ms + lease_ms);
    sqlite3_bind_int64(st, 2, now_ms / 1000);
    vg_sq_bind_text(st, 3, local);
    sqlite3_bind_int(st, 4, take_unrouted);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        vg_sq_row_to_task(st, out);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        if (out->id[0]) vg_task_free(out);
        return rc == SQLITE_BUSY ? VG_AGAIN : VG_ERR;
    }
    return out->id[0] ? VG_OK : VG_NOTFOUND;
}

int vg_sq_task_route_local(vg_store *s, const char *id, const char *channel, int64_t now)
{
    sqlite3_stmt *st = prep(s, "UPDATE tasks SET channel = ?1, updated_at = ?2 WHERE id = ?3 "
                               "AND status = 'queued' AND channel = ''");
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, now);
    vg_sq_bind_text(st, 3, id);
    int rc = run(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_CONFLICT : VG_OK;
}

int vg_sq_channel_load(vg_store *s, vg_channel_load **out, size_t *n)
{
    sqlite3_stmt *st = prep(s, "SELECT channel, count(*) FROM tasks WHERE status IN "
                               "('queued','dispatching','running','finalizing') AND channel != '' "
                               "GROUP BY channel");
    *out = NULL;
    *n = 0;
    if (!st) return VG_ERR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = vg_realloc(*out, (*n + 1) * sizeof **out);
        vg_sq_col_copy(st, 0, (*out)[*n].channel, sizeof(*out)[*n].channel);
        (*out)[*n].active = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

int vg_sq_upstream_due(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit, vg_up_row **out,
                       size_t *n)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)kind >= VG_DUE_KIND_COUNT) return VG_INVALID;
    sqlite3_stmt *st = prep(s, g_due_sql[kind]);
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, due_ms);
    sqlite3_bind_int(st, 2, limit);
    vg_up_row *arr = vg_calloc((size_t)(limit > 0 ? limit : 1), sizeof *arr);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < (size_t)limit)
        row_to_up(st, &arr[len++]);
    sqlite3_finalize(st);
    *out = arr;
    *n = len;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? VG_OK : VG_ERR;
}

int vg_sq_upstream_get(vg_store *s, const char *task_id, vg_up_row *out)
{
    sqlite3_stmt *st =
        prep(s, "SELECT " UP_COLS " FROM tasks t JOIN upstream_tasks u ON u.task_id = t.id "
                "WHERE t.id = ?1");
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, task_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_to_up(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? VG_OK : rc == SQLITE_DONE ? VG_NOTFOUND : VG_ERR;
}

int vg_sq_upstream_begin(vg_store *s, const vg_up_attempt *a)
{
    if (exec(s, "BEGIN IMMEDIATE")) return VG_ERR;
    sqlite3_stmt *st = prep(s, "UPDATE tasks SET status = 'dispatching', channel = ?1, "
                               "next_poll_at = ?2, version = version + 1, updated_at = ?3 "
                               "WHERE id = ?4 AND status = 'queued' AND channel = ''");
    if (!st) return rollback(s, VG_ERR);
    vg_sq_bind_text(st, 1, a->channel);
    sqlite3_bind_int64(st, 2, a->lease_until_ms);
    sqlite3_bind_int64(st, 3, a->now_ms / 1000);
    vg_sq_bind_text(st, 4, a->task_id);
    int rc = run(s, st);
    if (rc != 1) return rollback(s, rc == 0 ? VG_CONFLICT : VG_ERR);
    st = prep(s, "INSERT INTO upstream_tasks (task_id, callback_token) VALUES (?1, ?2) "
                 "ON CONFLICT (task_id) DO NOTHING");
    if (st) vg_sq_bind_text(st, 1, a->task_id), vg_sq_bind_text(st, 2, a->callback_token);
    if (run(s, st) < 0) return rollback(s, VG_ERR);
    st = prep(s, "UPDATE upstream_tasks SET channel = ?1, upstream_model = ?2, attempt_id = ?3, "
                 "client_token = ?4, attempt_started_at = ?5, upstream_id = '', lookups = 0, "
                 "poll_errors = 0, upstream_status = '', open = 1 WHERE task_id = ?6");
    if (st) {
        vg_sq_bind_text(st, 1, a->channel);
        vg_sq_bind_text(st, 2, a->upstream_model);
        vg_sq_bind_text(st, 3, a->attempt_id);
        vg_sq_bind_text(st, 4, a->client_token);
        sqlite3_bind_int64(st, 5, a->now_ms);
        vg_sq_bind_text(st, 6, a->task_id);
    }
    if (run(s, st) != 1) return rollback(s, VG_ERR);
    st = prep(s, "INSERT INTO upstream_attempts (id, task_id, channel, upstream_model, "
                 "client_token, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (st) {
        vg_sq_bind_text(st, 1, a->attempt_id);
        vg_sq_bind_text(st, 2, a->task_id);
        vg_sq_bind_text(st, 3, a->channel);
        vg_sq_bind_text(st, 4, a->upstream_model);
        vg_sq_bind_text(st, 5, a->client_token);
        sqlite3_bind_int64(st, 6, a->now_ms);
    }
    if (run(s, st) != 1) return rollback(s, VG_ERR);
    return exec(s, "COMMIT") ? rollback(s, VG_ERR) : VG_OK;
}

int vg_sq_upstream_attempt_end(vg_store *s, const char *attempt_id, const char *outcome,
                               const char *upstream_id, long http_status, const char *detail,
                               int64_t now_ms)
{
    sqlite3_stmt *st = prep(s, "UPDATE upstream_attempts SET outcome = ?1, upstream_id = "
                               "coalesce(?2, upstream_id), http_status = ?3, detail = ?4, "
                               "ended_at = ?5 WHERE id = ?6");
    if (!st) return VG_ERR;
    vg_sq_bind_text(st, 1, outcome);
    vg_sq_bind_text(st, 2, upstream_id);
    sqlite3_bind_int64(st, 3, http_status);
    vg_sq_bind_text(st, 4, detail ? detail : "");
    sqlite3_bind_int64(st, 5, now_ms);
    vg_sq_bind_text(st, 6, attempt_id);
    int rc = run(s, st);
    return rc < 0 ? VG_ERR : rc == 0 ? VG_NOTFOUND : VG_OK;
}

int vg_sq_upstream_requeue(vg_store *s, const char *task_id, const char *attempt_id,
                           int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                           int64_t now)
{
    if (exec(s, "BEGIN IMMEDIATE")) return VG_ERR;
    sqlite3_stmt *st = prep(
        s, "UPDATE tasks SET status = 'queued', channel = '', next_poll_at = ?1, "
           "version = version + 1, updated_at = ?2 WHERE id = ?3 AND status = 'dispatching' AND "
           "EXISTS (SELECT 1 FROM upstream_tasks WHERE task_id = ?3 AND attempt_id = ?4 AND "
           "upstream_id = '')");
    if (!st) return rollback(s, VG_ERR);
    sqlite3_bind_int64(st, 1, not_before_ms);
    sqlite3_bind_int64(st, 2, now);
    vg_sq_bind_text(st, 3, task_id);
    vg_sq_bind_text(st, 4, attempt_id);
    int rc = run(s, st);
    if (rc != 1) return rollback(s, rc == 0 ? VG_CONFLICT : VG_ERR);
    st = prep(s, "UPDATE upstream_tasks SET retries = retries + ?1, avoid_channel = ?2, "
                 "attempt_id = '', open = 0, lookups = 0 WHERE task_id = ?3");
    if (st) {
        sqlite3_bind_int(st, 1, count_retry ? 1 : 0);
        vg_sq_bind_text(st, 2, avoid_channel ? avoid_channel : "");
        vg_sq_bind_text(st, 3, task_id);
    }
    if (run(s, st) != 1) return rollback(s, VG_ERR);
    return exec(s, "COMMIT") ? rollback(s, VG_ERR) : VG_OK;
}

/* The task half of one vg_up_update. Returns changes (0/1) or -1. */
static int update_task(vg_store *s, const vg_up_update *u, int64_t now)
{
    sqlite3_stmt *st = prep(
        s, "UPDATE tasks SET status = coalesce(?1, status), "
           "next_poll_at = CASE WHEN ?2 >= 0 THEN ?2 ELSE next_poll_at END, "
           "updated_at = CASE WHEN ?1 IS NOT NULL OR ?3 > progress THEN ?4 ELSE updated_at END, "
           "progress = max(progress, ?3), version = version + (?1 IS NOT NULL) "
           "WHERE id = ?5 AND instr(?6, ',' || status || ',') > 0");
    if (!st) return -1;
    if (u->to_status >= 0)
        vg_sq_bind_text(st, 1, vg_task_status_name((vg_task_status)u->to_status));
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, u->next_poll_at);
    sqlite3_bind_int(st, 3, u->progress);
    sqlite3_bind_int64(st, 4, now);
    vg_sq_bind_text(st, 5, u->task_id);
    vg_sq_bind_text(st, 6, u->from);
    return run(s, st);
}

static int update_upstream(vg_store *s, const vg_up_update *u)
{
    sqlite3_stmt *st =
        prep(s, "UPDATE upstream_tasks SET upstream_id = coalesce(?1, upstream_id), "
                "upstream_status = coalesce(?2, upstream_status), "
                "accepted_at = CASE WHEN ?3 >= 0 THEN ?3 ELSE accepted_at END, "
                "poll_errors = CASE WHEN ?4 >= 0 THEN ?4 ELSE poll_errors END, "
                "lookups = CASE WHEN ?5 >= 0 THEN ?5 ELSE lookups END, "
                "open = CASE WHEN ?6 >= 0 THEN ?6 ELSE open END, result = coalesce(?7, result) "
                "WHERE task_id = ?8 AND (?9 IS NULL OR attempt_id = ?9)");
    if (!st) return -1;
    vg_sq_bind_text(st, 1, u->upstream_id);
    vg_sq_bind_text(st, 2, u->upstream_status);
    sqlite3_bind_int64(st, 3, u->accepted_at_ms);
    sqlite3_bind_int(st, 4, u->poll_errors);
    sqlite3_bind_int(st, 5, u->lookups);
    sqlite3_bind_int(st, 6, u->open);
    vg_sq_bind_text(st, 7, u->result);
    vg_sq_bind_text(st, 8, u->task_id);
    vg_sq_bind_text(st, 9, u->attempt_id);
    return run(s, st);
}

int vg_sq_upstream_update(vg_store *s, vg_up_update *u, size_t n, int64_t now)
{
    if (n == 0) return VG_OK;
    if (exec(s, "BEGIN IMMEDIATE")) return VG_ERR;
    for (size_t i = 0; i < n; i++) {
        int rc = update_task(s, &u[i], now);
        if (rc < 0) return rollback(s, VG_ERR);
        u[i].applied = rc == 1;
        if ((u[i].applied || u[i].upstream_always) && update_upstream(s, &u[i]) < 0)
            return rollback(s, VG_ERR);
    }
    return exec(s, "COMMIT") ? rollback(s, VG_ERR) : VG_OK;
}

int vg_sq_upstream_recover(vg_store *s, int64_t now_ms)
{
    sqlite3_stmt *st = prep(
        s, "UPDATE tasks SET next_poll_at = ?1 WHERE next_poll_at > ?1 AND id IN "
           "(SELECT task_id FROM upstream_tasks) AND (status IN "
           "('dispatching','running','finalizing') OR id IN (SELECT task_id FROM upstream_tasks "
           "WHERE open = 1))");
    if (!st) return VG_ERR;
    sqlite3_bind_int64(st, 1, now_ms);
    return run(s, st) < 0 ? VG_ERR : VG_OK;
}
