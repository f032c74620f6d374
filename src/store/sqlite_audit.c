/*
 * sqlite_audit.c - `vidgated check` in the SQLite backend: recomputes every balance and hold from
 * the ledger and every task's money state from its status (store.h: audit).
 *
 * Each check is a query whose every row is a difference, described by its text columns. All of
 * them run in one read transaction, so they see one snapshot even while the server writes.
 *
 * One bad row never stops the audit: amounts outside ±VG_MAX_BALANCE_MICRO (or not integers) are
 * reported by their own checks and left out of the sums, so the sums cannot overflow; a check that
 * fails anyway is reported as a difference and the next one runs.
 */
#include "common/limits.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#define FINAL   "('completed','failed','cancelled')"
#define STR_(x) #x
#define STR(x)  STR_(x)
/* An amount the audit can add up: an integer within the bound of every balance. */
#define IN_RANGE(col)                                                                              \
    "(typeof(" col ") = 'integer' AND " col                                                        \
    " BETWEEN -" STR(VG_MAX_BALANCE_MICRO) " AND " STR(VG_MAX_BALANCE_MICRO) ")"
#define LEDGER_JOIN "LEFT JOIN ledger l ON l.key_id = k.id AND " IN_RANGE("l.amount_micro")

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
     "SELECT k.id, k.balance_micro, coalesce(sum(CASE l.kind WHEN 'credit' THEN l.amount_micro "
     "WHEN 'debit' THEN -l.amount_micro WHEN 'capture' THEN -l.amount_micro ELSE 0 END), 0) AS b "
     "FROM keys k " LEDGER_JOIN " GROUP BY k.id HAVING b != k.balance_micro"},
    {"key held amount differs from its ledger",
     "SELECT k.id, k.held_micro, coalesce(sum(CASE l.kind WHEN 'hold' THEN l.amount_micro "
     "WHEN 'release' THEN -l.amount_micro ELSE 0 END), 0) AS h "
     "FROM keys k " LEDGER_JOIN " GROUP BY k.id HAVING h != k.held_micro"},
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

/* The totals of vg_audit: each one query. */
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

/* Runs check i and reports each row. A check that cannot finish (an overflow in rows the range
 * checks did not foresee) is one more difference: VG_ERR only when the database is unusable. */
static vg_status run_check(vg_sqlite *s, size_t i, void (*report)(void *, const char *), void *ud,
                           int64_t *problems)
{
    sqlite3_stmt *st = vg_sq_stmt(s, g_checks[i].sql);
    if (!st) return VG_ERR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s:", g_checks[i].what);
        for (int c = 0; c < sqlite3_column_count(st) && n < (int)sizeof line; c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            n += snprintf(line + n, sizeof line - (size_t)n, " %s", v ? (const char *)v : "null");
        }
        report(ud, line);
        (*problems)++;
    }
    int primary = rc & 0xff;
    if (primary == SQLITE_ERROR || primary == SQLITE_MISMATCH || primary == SQLITE_RANGE) {
        char line[512];
        snprintf(line, sizeof line, "%s: the check could not finish: %s", g_checks[i].what,
                 sqlite3_errmsg(s->db));
        report(ud, line);
        (*problems)++;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? VG_OK : VG_ERR;
}

vg_status vg_sq_audit(vg_store *base, void (*report)(void *ud, const char *problem), void *ud,
                      vg_audit *out)
{
    vg_sqlite *s = vg_sq(base);
    memset(out, 0, sizeof *out);
    /* A deferred (read) transaction: the check never blocks the server's writers. */
    if (vg_sq_exec(s, "BEGIN", SQ_NONE, NULL) != VG_OK) return VG_ERR;
    vg_status rc = VG_OK;
    for (size_t i = 0; i < sizeof g_checks / sizeof g_checks[0] && rc == VG_OK; i++)
        rc = run_check(s, i, report, ud, &out->problems);
    for (size_t i = 0; i < sizeof g_totals / sizeof g_totals[0]; i++) {
        int64_t *v = (int64_t *)((char *)out + g_totals[i].offset);
        if (vg_sq_int64(s, g_totals[i].sql, SQ_NONE, v) != VG_OK) *v = -1;
    }
    vg_sq_exec(s, "COMMIT", SQ_NONE, NULL);
    if (rc == VG_OK && out->captured_micro != out->completed_cost_micro) {
        report(ud, "sum of captures differs from the sum of completed tasks' costs");
        out->problems++;
    }
    return rc;
}
