/*
 * pg_stmt.c - the prepared statements of a PostgreSQL connection, the bind → execute → map
 * helpers every file of the backend uses, transactions, and reconnection (pg_internal.h documents
 * them and the design).
 *
 * The cache is an open-addressing table of PG_CACHE_SLOTS entries keyed by the SQL text together
 * with the types of its values (one statement may be used with a NULL text where it usually has
 * a number; the types are part of what was prepared). A full cache is a programming error and
 * makes the call fail with VG_ERR.
 *
 * Values travel in text format: integers are printed, status sets become text[] literals built
 * from core/task.c's names (which contain no characters an array literal would need quoted).
 */
#include "common/alloc.h"
#include "store/pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_INT8    20
#define OID_TEXT    25
#define OID_TEXTARR 1009
#define TX_RETRIES  5

/* FNV-1a over the text and the type letters. */
static uint32_t text_hash(const char *s, const char *types)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    for (; *types; types++)
        h = (h ^ (unsigned char)*types) * 16777619u;
    return h;
}

void vg_pg_cache_clear(vg_pg *s)
{
    for (unsigned i = 0; i < PG_CACHE_SLOTS; i++) {
        free(s->cache[i].sql);
        s->cache[i] = (vg_pg_cached){0};
    }
}

vg_status vg_pg_session(vg_pg *s)
{
    /* A writer that waits longer than this for a row lock gives up with VG_AGAIN, as SQLite's
     * busy_timeout does; client messages stay quiet. */
    return vg_pg_simple(s, "SET lock_timeout = '10s'; SET client_min_messages = warning; "
                           "SET TIME ZONE 'UTC'");
}

/* A lost connection is re-established before the next statement (never inside a transaction:
 * its work died with the connection, and the caller sees VG_AGAIN for it). */
static vg_status ensure_connected(vg_pg *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK) return VG_OK;
    if (s->in_tx) return VG_AGAIN;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) return VG_AGAIN;
    vg_pg_cache_clear(s); /* prepared statements belong to the old session */
    return vg_pg_session(s);
}

/* Maps a failed result (or none) to a status and remembers its SQLSTATE. */
static vg_status failure(vg_pg *s, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
    if (PQstatus(s->conn) != CONNECTION_OK || !state) return VG_AGAIN;
    if (strncmp(state, "23", 2) == 0) return VG_DUPLICATE;            /* integrity constraint */
    if (strncmp(state, "08", 2) == 0) return VG_AGAIN;                /* connection exception */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || /* serialization, deadlock */
        strcmp(state, "55P03") == 0 ||                                /* lock_timeout */
        strcmp(state, "57P01") == 0)                                  /* admin shutdown */
        return VG_AGAIN;
    return VG_ERR;
}

vg_status vg_pg_simple(vg_pg *s, const char *sql)
{
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    vg_status rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? VG_OK : failure(s, r);
    PQclear(r);
    return rc;
}

/* The prepared statement's name for sql with these value types, preparing it on first use. */
static const char *statement(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_status *rc)
{
    char types[PG_MAX_PARAMS + 1];
    Oid oids[PG_MAX_PARAMS];
    for (size_t i = 0; i < n; i++) {
        types[i] = v[i].type;
        oids[i] = v[i].type == 'i' ? OID_INT8 : v[i].type == 's' ? OID_TEXTARR : OID_TEXT;
    }
    types[n] = '\0';
    uint32_t h = text_hash(sql, types);
    size_t sql_len = strlen(sql);
    for (unsigned i = 0; i < PG_CACHE_SLOTS; i++) {
        vg_pg_cached *c = &s->cache[(h + i) & (PG_CACHE_SLOTS - 1)];
        if (c->sql) {
            if (c->hash == h && strncmp(c->sql, sql, sql_len) == 0 && c->sql[sql_len] == '\0' &&
                strcmp(c->sql + sql_len + 1, types) == 0)
                return c->name;
            continue;
        }
        char name[16];
        snprintf(name, sizeof name, "vg%u", s->next_name++);
        PGresult *r = PQprepare(s->conn, name, sql, (int)n, oids);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            *rc = failure(s, r);
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        c->sql = vg_malloc(sql_len + n + 2); /* text, NUL, types, NUL */
        memcpy(c->sql, sql, sql_len + 1);
        memcpy(c->sql + sql_len + 1, types, n + 1);
        c->hash = h;
        memcpy(c->name, name, sizeof name);
        return c->name;
    }
    *rc = VG_ERR;
    return NULL;
}

/* A status set as a text[] literal: "{queued,running}". */
static void set_literal(vg_task_status_set set, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "{");
    const char *sep = "";
    for (int i = 0; i < VG_TASK_STATUS_COUNT && len < cap; i++)
        if (set & VG_TASK_BIT(i)) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s", sep,
                                    vg_task_status_name((vg_task_status)i));
            sep = ",";
        }
    if (len < cap) snprintf(out + len, cap - len, "}");
}

PGresult *vg_pg_run(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_status *rc)
{
    *rc = n > PG_MAX_PARAMS ? VG_ERR : ensure_connected(s);
    if (*rc != VG_OK) return NULL;
    const char *name = statement(s, sql, v, n, rc);
    if (!name) return NULL;
    char bufs[PG_MAX_PARAMS][160]; /* a number, or a status set's literal */
    const char *values[PG_MAX_PARAMS];
    for (size_t i = 0; i < n; i++) {
        if (v[i].type == 'i') {
            snprintf(bufs[i], sizeof bufs[i], "%" PRId64, v[i].i);
            values[i] = bufs[i];
        } else if (v[i].type == 's') {
            set_literal((vg_task_status_set)v[i].i, bufs[i], sizeof bufs[i]);
            values[i] = bufs[i];
        } else {
            values[i] = v[i].t;
        }
    }
    PGresult *r = PQexecPrepared(s->conn, name, (int)n, values, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        s->sqlstate[0] = '\0';
        return r;
    }
    *rc = failure(s, r);
    PQclear(r);
    return NULL;
}

vg_status vg_pg_exec(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, int *changes)
{
    vg_status rc;
    PGresult *r = vg_pg_run(s, sql, v, n, &rc);
    if (changes) *changes = r ? atoi(PQcmdTuples(r)) : 0;
    PQclear(r);
    return rc;
}

vg_status vg_pg_change(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_status none)
{
    int changes = 0;
    vg_status rc = vg_pg_exec(s, sql, v, n, &changes);
    return rc != VG_OK ? rc : changes == 0 ? none : VG_OK;
}

vg_status vg_pg_one(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, vg_pg_fill fill,
                    void *out)
{
    vg_status rc;
    PGresult *r = vg_pg_run(s, sql, v, n, &rc);
    if (!r) return rc;
    rc = PQntuples(r) > 0 ? VG_OK : VG_NOTFOUND;
    if (rc == VG_OK && fill) fill(r, 0, out);
    PQclear(r);
    return rc;
}

vg_status vg_pg_list(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, size_t elem,
                     vg_pg_fill fill, size_t max, void **arr, size_t *len)
{
    *len = 0;
    *arr = NULL;
    vg_status rc;
    PGresult *r = vg_pg_run(s, sql, v, n, &rc);
    /* A failed query (the connection lost, say) allocates nothing: callers free the array only
     * on VG_OK, as with SQLite, so an array here leaked on every failed poll. */
    if (!r) return rc;
    size_t rows = (size_t)PQntuples(r);
    if (max && rows > max) rows = max;
    char *items = vg_calloc(rows ? rows : 1, elem);
    *arr = items;
    for (size_t i = 0; i < rows; i++)
        fill(r, (int)i, items + i * elem);
    *len = rows;
    PQclear(r);
    return VG_OK;
}

static void fill_int64(const PGresult *r, int row, void *out)
{
    *(int64_t *)out = vg_pg_col_i64(r, row, 0);
}

vg_status vg_pg_int64(vg_pg *s, const char *sql, const vg_pg_val *v, size_t n, int64_t *out)
{
    *out = 0;
    return vg_pg_one(s, sql, v, n, fill_int64, out);
}

/* Whether a failed transaction is worth running again at once. */
static bool retryable(const vg_pg *s)
{
    return strcmp(s->sqlstate, "40001") == 0 || strcmp(s->sqlstate, "40P01") == 0;
}

vg_status vg_pg_atomic(vg_pg *s, vg_status (*body)(vg_pg *s, void *ctx), void *ctx)
{
    vg_status rc = VG_AGAIN;
    for (int attempt = 0; attempt < TX_RETRIES; attempt++) {
        rc = ensure_connected(s);
        if (rc != VG_OK) return rc;
        rc = vg_pg_simple(s, "BEGIN");
        if (rc != VG_OK) return rc;
        s->in_tx = true;
        rc = body(s, ctx);
        if (rc == VG_OK) rc = vg_pg_simple(s, "COMMIT");
        if (rc != VG_OK && PQstatus(s->conn) == CONNECTION_OK) {
            char state[sizeof s->sqlstate];
            memcpy(state, s->sqlstate, sizeof state); /* ROLLBACK must not hide the cause */
            vg_pg_simple(s, "ROLLBACK");
            memcpy(s->sqlstate, state, sizeof state);
        }
        s->in_tx = false;
        if (rc != VG_AGAIN || !retryable(s)) return rc;
    }
    return rc;
}

void vg_pg_col_copy(const PGresult *r, int row, int i, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, i) ? "" : PQgetvalue(r, row, i));
}

char *vg_pg_col_dup(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? NULL : vg_strdup(PQgetvalue(r, row, i));
}

int64_t vg_pg_col_i64(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? 0 : strtoll(PQgetvalue(r, row, i), NULL, 10);
}
