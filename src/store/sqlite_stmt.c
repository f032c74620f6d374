/*
 * sqlite_stmt.c - the statement cache of a SQLite connection and the bind → step → map helpers
 * every file of the backend uses (sqlite_internal.h documents them and the caching strategy).
 *
 * The cache is an open-addressing table of SQ_CACHE_SLOTS entries keyed by the SQL text, filled on
 * first use and emptied at close. It is sized well above the number of distinct statements of
 * the backend (static texts plus the few variants of the list queries); a full cache would be a
 * programming error and makes the call fail with VG_ERR rather than leak statements.
 *
 * Errors: SQLITE_CONSTRAINT → VG_DUPLICATE (the unique keys are what callers ask about),
 * SQLITE_BUSY/LOCKED → VG_AGAIN (another writer held the lock past busy_timeout), else VG_ERR.
 */
#include "common/alloc.h"
#include "common/metrics.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: short texts, a handful of lookups per operation. */
static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

sqlite3_stmt *vg_sq_stmt(vg_sqlite *s, const char *sql)
{
    uint32_t h = text_hash(sql);
    for (unsigned i = 0; i < SQ_CACHE_SLOTS; i++) {
        vg_sq_cached *c = &s->cache[(h + i) & (SQ_CACHE_SLOTS - 1)];
        if (c->sql && (c->hash != h || strcmp(c->sql, sql) != 0)) continue;
        if (!c->sql) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                SQLITE_OK) {
                sqlite3_finalize(st);
                vg_metrics_inc(VG_MC_DB_ERROR);
                return NULL;
            }
            c->sql = vg_strdup(sql);
            c->hash = h;
            c->st = st;
        }
        sqlite3_reset(c->st);
        sqlite3_clear_bindings(c->st);
        return c->st;
    }
    return NULL; /* SQ_CACHE_SLOTS distinct statements: a programming error, reported as VG_ERR */
}

void vg_sq_cache_clear(vg_sqlite *s)
{
    for (unsigned i = 0; i < SQ_CACHE_SLOTS; i++) {
        sqlite3_finalize(s->cache[i].st);
        free((void *)s->cache[i].sql);
        s->cache[i] = (vg_sq_cached){0};
    }
}

void vg_sq_bind(sqlite3_stmt *st, const vg_sq_val *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int at = (int)i + 1;
        if (v[i].type == 'i')
            sqlite3_bind_int64(st, at, v[i].i);
        else if (v[i].type == 't' && v[i].t)
            sqlite3_bind_text(st, at, v[i].t, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, at);
    }
}

static vg_status step_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_DONE:
    case SQLITE_ROW:
        return VG_OK;
    case SQLITE_CONSTRAINT:
        return VG_DUPLICATE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        vg_metrics_inc(VG_MC_DB_BUSY);
        return VG_AGAIN;
    default:
        vg_metrics_inc(VG_MC_DB_ERROR);
        return VG_ERR;
    }
}

/* Steps st until it is done, decoding the first row with fill. *rows = rows seen. */
static vg_status run(sqlite3_stmt *st, vg_sq_fill fill, void *out, int *rows)
{
    int rc, seen = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (seen++ == 0 && fill) fill(st, out);
    sqlite3_reset(st);
    if (rows) *rows = seen;
    return step_status(rc);
}

static sqlite3_stmt *bound(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n)
{
    sqlite3_stmt *st = vg_sq_stmt(s, sql);
    if (st) vg_sq_bind(st, v, n);
    return st;
}

vg_status vg_sq_exec(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, int *changes)
{
    sqlite3_stmt *st = bound(s, sql, v, n);
    if (!st) return VG_ERR;
    vg_status rc = run(st, NULL, NULL, NULL);
    if (changes) *changes = rc == VG_OK ? sqlite3_changes(s->db) : 0;
    return rc;
}

vg_status vg_sq_change(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, vg_status none)
{
    int changes = 0;
    vg_status rc = vg_sq_exec(s, sql, v, n, &changes);
    return rc != VG_OK ? rc : changes == 0 ? none : VG_OK;
}

vg_status vg_sq_one(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, vg_sq_fill fill,
                    void *out)
{
    sqlite3_stmt *st = bound(s, sql, v, n);
    if (!st) return VG_ERR;
    int rows = 0;
    vg_status rc = run(st, fill, out, &rows);
    return rc != VG_OK ? rc : rows == 0 ? VG_NOTFOUND : VG_OK;
}

vg_status vg_sq_list(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, size_t elem,
                     vg_sq_fill fill, size_t max, void **arr, size_t *len)
{
    /* Grown as rows come, not sized to max: the schedulers ask for up to 1,000 rows every round
     * and mostly get a few, and clearing max rows each time cost more than the queries. */
    size_t cap = max && max < 16 ? max : 16;
    char *items = vg_calloc(cap, elem);
    *arr = items;
    *len = 0;
    sqlite3_stmt *st = bound(s, sql, v, n);
    if (!st) return VG_ERR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (!max || *len < max)) {
        if (*len == cap) {
            cap = max && 2 * cap > max ? max : 2 * cap;
            items = vg_realloc(items, cap * elem);
            memset(items + *len * elem, 0, (cap - *len) * elem);
            *arr = items;
        }
        fill(st, items + (*len)++ * elem);
    }
    sqlite3_reset(st);
    return step_status(rc);
}

static void fill_int64(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
}

vg_status vg_sq_int64(vg_sqlite *s, const char *sql, const vg_sq_val *v, size_t n, int64_t *out)
{
    *out = 0;
    return vg_sq_one(s, sql, v, n, fill_int64, out);
}

vg_status vg_sq_atomic(vg_sqlite *s, vg_status (*body)(vg_sqlite *s, void *ctx), void *ctx)
{
    vg_status rc = vg_sq_exec(s, "BEGIN IMMEDIATE", SQ_NONE, NULL);
    if (rc != VG_OK) return rc;
    rc = body(s, ctx);
    if (rc == VG_OK) rc = vg_sq_exec(s, "COMMIT", SQ_NONE, NULL);
    if (rc != VG_OK) vg_sq_exec(s, "ROLLBACK", SQ_NONE, NULL);
    return rc;
}

void vg_sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

char *vg_sq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? vg_strdup((const char *)v) : NULL;
}
