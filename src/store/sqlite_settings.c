/*
 * sqlite_settings.c - settings in the SQLite backend (store.h: setting_claim; migration 8).
 *
 * The proposal is inserted unless the name exists, then the stored value read back, in one
 * BEGIN IMMEDIATE transaction: whoever proposes first (another process on the same file too)
 * decides the value, and every caller gets that one.
 */
#include "common/alloc.h"
#include "store/sqlite_internal.h"

#include <stdlib.h>

typedef struct {
    const char *name, *proposal;
    char **out;
} claim_ctx;

static void fill_value(sqlite3_stmt *st, void *out)
{
    *(char **)out = vg_sq_col_dup(st, 0);
}

static vg_status claim(vg_sqlite *s, void *ctx)
{
    const claim_ctx *c = ctx;
    vg_status rc = vg_sq_exec(s,
                              "INSERT INTO settings (name, value) VALUES (?1, ?2) "
                              "ON CONFLICT (name) DO NOTHING",
                              SQ_ARGS(SQ_T(c->name), SQ_T(c->proposal)), NULL);
    if (rc != VG_OK) return rc;
    return vg_sq_one(s, "SELECT value FROM settings WHERE name = ?1", SQ_ARGS(SQ_T(c->name)),
                     fill_value, c->out);
}

vg_status vg_sq_setting_claim(vg_store *base, const char *name, const char *proposal, char **out)
{
    *out = NULL;
    claim_ctx c = {name, proposal, out};
    vg_status rc = vg_sq_atomic(vg_sq(base), claim, &c);
    if (rc != VG_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
