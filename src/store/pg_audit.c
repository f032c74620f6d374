/*
 * pg_audit.c - `vidgated check` in the PostgreSQL backend: recomputes every balance and hold from
 * the ledger and every task's money state from its status (store.h: audit; sqlite_audit.c is the
 * twin, check for check).
 *
 * All checks run in one REPEATABLE READ, READ ONLY transaction: one snapshot even while the nodes
 * write, and no lock that would hold them up. Amounts are BIGINT here, so the range checks only
 * look for values beyond ±VG_MAX_BALANCE_MICRO; sums are numeric and cannot overflow.
 */
#include "common/limits.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <string.h>

#define FINAL   "('completed','failed','cancelled')"
#define STR_(x) #x
#define STR(x)  STR_(x)
#define IN_RANGE(col)                                                                              \
    "(" col " BETWEEN -" STR(VG_MAX_BALANCE_MICRO) " AND " STR(VG_MAX_BALANCE_MICRO) ")"
#define LEDGER_JOIN "LEFT JOIN ledger l ON l.key_id = k.id AND " IN_RANGE("l.amount_micro")
#define BALANCE_SUM                                                                                \
    "coalesce(sum(CASE l.kind WHEN 'credit' THEN l.amount_micro WHEN 'debit' THEN "                \
    "-l.amount_micro WHEN 'capture' THEN -l.amount_micro ELSE 0 END), 0)"
#define HELD_SUM                                                                                   \
    "coalesce(sum(CASE l.kind WHEN 'hold' THEN l.amount_micro WHEN 'release' THEN "                \
    "-l.amount_micro ELSE 0 END), 0)"

static const struct {
    const char *what;
    const char *sql;
} g_checks[] = {
    {"key balance or held amount out of range",
     "SELECT id, balance_micro, held_micro FROM keys WHERE NOT " IN_RANGE(
         "balance_micro") " OR NOT " IN_RANGE("held_micro")},
    {"ledger amount out of range",
     "SELECT id, key_id, kind, amount_micro FROM ledger WHERE NOT " IN_RANGE("amount_micro")},
    {"key balance differs from its ledger",
     "SELECT k.id, k.balance_micro, " BALANCE_SUM " FROM keys k " LEDGER_JOIN
     " GROUP BY k.id HAVING " BALANCE_SUM " != k.balance_micro"},
    {"key held amount differs from its ledger",
     "SELECT k.id, k.held_micro, " HELD_SUM " FROM keys k " LEDGER_JOIN
     " GROUP BY k.id HAVING " HELD_SUM " != k.held_micro"},
    {"task without exactly one hold of its amount",
     "SELECT t.id, t.hold_micro, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id "
     "AND l.kind = 'hold' GROUP BY t.id HAVING count(l.id) != 1 OR "
     "coalesce(sum(l.amount_micro), -1) != t.hold_micro"},
    {"final task whose hold is not released exactly once",
     "SELECT t.id, t.status, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id AND "
     "l.kind = 'release' WHERE t.status IN " FINAL " GROUP BY t.id "
     "HAVING count(l.id) != 1 OR sum(l.amount_micro) != t.hold_micro"},
    {"active task with a release or capture",
     "SELECT t.id, t.status, l.kind FROM tasks t JOIN ledger l ON l.task_id = t.id AND l.kind IN "
     "('release','capture') WHERE t.status NOT IN " FINAL},
    {"completed task whose capture is not its cost",
     "SELECT t.id, t.cost_micro, count(l.id) FROM tasks t LEFT JOIN ledger l ON l.task_id = t.id "
     "AND l.kind = 'capture' WHERE t.status = 'completed' GROUP BY t.id HAVING count(l.id) != 1 "
     "OR sum(l.amount_micro) != t.cost_micro"},
    {"failed or cancelled task that was charged",
     "SELECT t.id, t.status, l.amount_micro FROM tasks t JOIN ledger l ON l.task_id = t.id AND "
     "l.kind = 'capture' WHERE t.status IN ('failed','cancelled')"},
    {"ledger row of an unknown task",
     "SELECT l.id, l.task_id, l.kind FROM ledger l LEFT JOIN tasks t ON t.id = l.task_id "
     "WHERE l.task_id IS NOT NULL AND t.id IS NULL"},
    {"negative ledger amount", "SELECT id, kind, amount_micro FROM ledger WHERE amount_micro < 0"},
};

static const struct {
    size_t offset;
    const char *sql;
} g_totals[] = {
    {offsetof(vg_audit, keys), "SELECT count(*) FROM keys"},
    {offsetof(vg_audit, tasks), "SELECT count(*) FROM tasks"},
    {offsetof(vg_audit, ledger_rows), "SELECT count(*) FROM ledger"},
    {offsetof(vg_audit, captured_micro),
     "SELECT coalesce(sum(amount_micro), 0) FROM ledger WHERE kind = 'capture'"},
    {offsetof(vg_audit, completed_cost_micro),
     "SELECT coalesce(sum(cost_micro), 0) FROM tasks WHERE status = 'completed'"},
};

/* Runs check i and reports each row. */
static vg_status run_check(vg_pg *s, size_t i, void (*report)(void *, const char *), void *ud,
                           int64_t *problems)
{
    vg_status rc;
    PGresult *r = vg_pg_run(s, g_checks[i].sql, PG_NONE, &rc);
    if (!r) return rc;
    for (int row = 0; row < PQntuples(r); row++) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s:", g_checks[i].what);
        for (int c = 0; c < PQnfields(r) && n < (int)sizeof line; c++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %s",
                          PQgetisnull(r, row, c) ? "null" : PQgetvalue(r, row, c));
        report(ud, line);
        (*problems)++;
    }
    PQclear(r);
    return VG_OK;
}

vg_status vg_pg_audit(vg_store *base, void (*report)(void *ud, const char *problem), void *ud,
                      vg_audit *out)
{
    vg_pg *s = vg_pgs(base);
    memset(out, 0, sizeof *out);
    vg_status rc = vg_pg_simple(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc != VG_OK) return rc;
    s->in_tx = true;
    for (size_t i = 0; i < sizeof g_checks / sizeof g_checks[0] && rc == VG_OK; i++)
        rc = run_check(s, i, report, ud, &out->problems);
    for (size_t i = 0; i < sizeof g_totals / sizeof g_totals[0] && rc == VG_OK; i++) {
        int64_t *v = (int64_t *)((char *)out + g_totals[i].offset);
        if (vg_pg_int64(s, g_totals[i].sql, PG_NONE, v) != VG_OK) *v = -1;
    }
    vg_pg_simple(s, rc == VG_OK ? "COMMIT" : "ROLLBACK");
    s->in_tx = false;
    if (rc == VG_OK && out->captured_micro != out->completed_cost_micro) {
        report(ud, "sum of captures differs from the sum of completed tasks' costs");
        out->problems++;
    }
    return rc;
}
