/*
 * pg_settings.c - settings in the PostgreSQL backend (store.h: setting_claim; sqlite_settings.c
 * is the twin).
 *
 * INSERT … ON CONFLICT DO NOTHING, then the stored value read back, in one transaction: when
 * nodes start together, the second insert waits on the first's unique index entry and then does
 * nothing, so every node reads the first proposal.
 */
#include "common/alloc.h"
#include "store/pg_internal.h"

#include <stdlib.h>

typedef struct {
    const char *name, *proposal;
    char **out;
} claim_ctx;

static void fill_value(const PGresult *r, int row, void *out)
{
    *(char **)out = vg_pg_col_dup(r, row, 0);
}

static vg_status claim(vg_pg *s, void *ctx)
{
    const claim_ctx *c = ctx;
    vg_status rc = vg_pg_exec(s,
                              "INSERT INTO settings (name, value) VALUES ($1, $2) "
                              "ON CONFLICT (name) DO NOTHING",
                              PG_ARGS(PG_T(c->name), PG_T(c->proposal)), NULL);
    if (rc != VG_OK) return rc;
    free(*c->out);
    *c->out = NULL;
    return vg_pg_one(s, "SELECT value FROM settings WHERE name = $1", PG_ARGS(PG_T(c->name)),
                     fill_value, c->out);
}

vg_status vg_pg_setting_claim(vg_store *base, const char *name, const char *proposal, char **out)
{
    *out = NULL;
    claim_ctx c = {name, proposal, out};
    vg_status rc = vg_pg_atomic(vg_pgs(base), claim, &c);
    if (rc != VG_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
