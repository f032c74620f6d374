/*
 * pg_assets.c - assets and asset groups in the PostgreSQL backend (spec §6; store.h documents
 * each operation; sqlite_assets.c is the twin).
 *
 * A deleted asset keeps its row (deleted_at, gc_at) until the collector has decided about its
 * bytes. Processing claims carry a lease (lease_until, unix ms) and its owner (lease_owner) and
 * pick their row with FOR UPDATE SKIP LOCKED. Insertion order (SQLite's rowid) is the seq column.
 */
#include "common/alloc.h"
#include "common/limits.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGROUP_COLS "id, key_id, name, description, group_type, is_default, created_at, updated_at"
#define ASSET_COLS                                                                                 \
    "id, key_id, group_id, name, asset_type, status, source_url, sha256, size_bytes, format, "     \
    "width, height, duration_ms, error_code, error_message, attempts, created_at, updated_at, "    \
    "deleted_at"

static void row_to_group(const PGresult *r, int row, void *out)
{
    vg_asset_group *g = out;
    memset(g, 0, sizeof *g);
    vg_pg_col_copy(r, row, 0, g->id, sizeof g->id);
    vg_pg_col_copy(r, row, 1, g->key_id, sizeof g->key_id);
    vg_pg_col_copy(r, row, 2, g->name, sizeof g->name);
    vg_pg_col_copy(r, row, 3, g->description, sizeof g->description);
    vg_pg_col_copy(r, row, 4, g->group_type, sizeof g->group_type);
    g->is_default = vg_pg_col_i64(r, row, 5) != 0;
    g->created_at = vg_pg_col_i64(r, row, 6);
    g->updated_at = vg_pg_col_i64(r, row, 7);
}

static void row_to_asset(const PGresult *r, int row, void *out)
{
    vg_asset *a = out;
    char buf[16];
    memset(a, 0, sizeof *a);
    vg_pg_col_copy(r, row, 0, a->id, sizeof a->id);
    vg_pg_col_copy(r, row, 1, a->key_id, sizeof a->key_id);
    vg_pg_col_copy(r, row, 2, a->group_id, sizeof a->group_id);
    vg_pg_col_copy(r, row, 3, a->name, sizeof a->name);
    vg_pg_col_copy(r, row, 4, buf, sizeof buf);
    a->type = (vg_asset_type)vg_asset_type_parse(buf);
    vg_pg_col_copy(r, row, 5, buf, sizeof buf);
    a->status = (vg_asset_status)vg_asset_status_parse(buf);
    a->source_url = vg_pg_col_dup(r, row, 6);
    vg_pg_col_copy(r, row, 7, a->sha256, sizeof a->sha256);
    a->media.size_bytes = vg_pg_col_i64(r, row, 8);
    vg_pg_col_copy(r, row, 9, a->media.format, sizeof a->media.format);
    a->media.width = (int)vg_pg_col_i64(r, row, 10);
    a->media.height = (int)vg_pg_col_i64(r, row, 11);
    a->media.duration_ms = vg_pg_col_i64(r, row, 12);
    vg_pg_col_copy(r, row, 13, a->error_code, sizeof a->error_code);
    vg_pg_col_copy(r, row, 14, a->error_message, sizeof a->error_message);
    a->attempts = (int)vg_pg_col_i64(r, row, 15);
    a->created_at = vg_pg_col_i64(r, row, 16);
    a->updated_at = vg_pg_col_i64(r, row, 17);
    a->deleted_at = vg_pg_col_i64(r, row, 18);
}

/* ---- groups -------------------------------------------------------------------------------- */

static vg_status group_insert(vg_pg *s, const vg_asset_group *g)
{
    return vg_pg_exec(s,
                      "INSERT INTO asset_groups (" AGROUP_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                      "$7, $8)",
                      PG_ARGS(PG_T(g->id), PG_T(g->key_id), PG_T(g->name), PG_T(g->description),
                              PG_T(g->group_type), PG_I(g->is_default), PG_I(g->created_at),
                              PG_I(g->updated_at)),
                      NULL);
}

vg_status vg_pg_asset_group_create(vg_store *base, const vg_asset_group *g)
{
    return group_insert(vg_pgs(base), g);
}

static vg_status group_get(vg_pg *s, const char *id, const char *key_id, vg_asset_group *out)
{
    return vg_pg_one(s, "SELECT " AGROUP_COLS " FROM asset_groups WHERE id = $1 AND key_id = $2",
                     PG_ARGS(PG_T(id), PG_T(key_id)), row_to_group, out);
}

vg_status vg_pg_asset_group_get(vg_store *base, const char *id, const char *key_id,
                                vg_asset_group *out)
{
    return group_get(vg_pgs(base), id, key_id, out);
}

vg_status vg_pg_asset_group_update(vg_store *base, const char *id, const char *key_id,
                                   const char *name, const char *description, int64_t now)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE asset_groups SET name = coalesce($1, name), "
                        "description = coalesce($2, description), updated_at = $3 "
                        "WHERE id = $4 AND key_id = $5",
                        PG_ARGS(PG_T(name), PG_T(description), PG_I(now), PG_T(id), PG_T(key_id)),
                        VG_NOTFOUND);
}

typedef struct {
    const char *id, *key_id;
} group_ref;

/* Checked and deleted in one transaction with the group row locked, so an asset created
 * meanwhile (which locks it too, see resolve_group) cannot be orphaned. */
static vg_status group_delete(vg_pg *s, void *ctx)
{
    const group_ref *r = ctx;
    vg_asset_group g;
    int64_t used = 0;
    vg_status rc = vg_pg_one(
        s, "SELECT " AGROUP_COLS " FROM asset_groups WHERE id = $1 AND key_id = $2 FOR UPDATE",
        PG_ARGS(PG_T(r->id), PG_T(r->key_id)), row_to_group, &g);
    if (rc != VG_OK) return rc;
    rc = vg_pg_int64(s, "SELECT count(*) FROM assets WHERE group_id = $1 AND deleted_at = 0",
                     PG_ARGS(PG_T(r->id)), &used);
    if (rc != VG_OK) return rc == VG_AGAIN ? rc : VG_ERR;
    if (used > 0) return VG_CONFLICT;
    rc = vg_pg_change(s, "DELETE FROM asset_groups WHERE id = $1 AND key_id = $2",
                      PG_ARGS(PG_T(r->id), PG_T(r->key_id)), VG_ERR);
    return rc == VG_OK || rc == VG_AGAIN ? rc : VG_ERR;
}

vg_status vg_pg_asset_group_delete(vg_store *base, const char *id, const char *key_id)
{
    group_ref r = {id, key_id};
    return vg_pg_atomic(vg_pgs(base), group_delete, &r);
}

/* ---- assets -------------------------------------------------------------------------------- */

typedef struct {
    vg_asset *a;
    const vg_asset_group *dflt;
} create_ctx;

/* The group an asset goes into (see asset_create in store.h), locked until the commit. Two
 * first uploads of one key race to create its default group: the loser's insert hits the
 * one-default index (VG_DUPLICATE) and vg_pg_asset_create runs again, finding the winner's. */
static vg_status resolve_group(vg_pg *s, vg_asset *a, const vg_asset_group *dflt)
{
    vg_asset_group g;
    if (a->group_id[0])
        return vg_pg_one(s,
                         "SELECT " AGROUP_COLS " FROM asset_groups WHERE id = $1 AND key_id = $2 "
                         "FOR SHARE",
                         PG_ARGS(PG_T(a->group_id), PG_T(a->key_id)), row_to_group, &g);
    vg_status rc = vg_pg_one(s,
                             "SELECT " AGROUP_COLS " FROM asset_groups WHERE key_id = $1 AND "
                             "is_default = 1 FOR SHARE",
                             PG_ARGS(PG_T(a->key_id)), row_to_group, &g);
    if (rc == VG_NOTFOUND && dflt) {
        g = *dflt;
        rc = group_insert(s, &g);
    }
    if (rc == VG_OK) snprintf(a->group_id, sizeof a->group_id, "%s", g.id);
    return rc;
}

static vg_status asset_create(vg_pg *s, void *ctx)
{
    const create_ctx *c = ctx;
    vg_asset *a = c->a;
    vg_status rc = resolve_group(s, a, c->dflt);
    if (rc != VG_OK) return rc;
    return vg_pg_exec(s,
                      "INSERT INTO assets (id, key_id, group_id, name, asset_type, status, "
                      "source_url, created_at, updated_at, size_bytes) VALUES ($1, $2, $3, $4, "
                      "$5, 'Processing', $6, $7, $8, $9)",
                      PG_ARGS(PG_T(a->id), PG_T(a->key_id), PG_T(a->group_id), PG_T(a->name),
                              PG_T(vg_asset_type_name(a->type)), PG_T(a->source_url),
                              PG_I(a->created_at), PG_I(a->updated_at), PG_I(a->media.size_bytes)),
                      NULL);
}

vg_status vg_pg_asset_create(vg_store *base, vg_asset *a, const vg_asset_group *dflt)
{
    create_ctx c = {a, dflt};
    bool named = a->group_id[0] != '\0';
    vg_status rc = vg_pg_atomic(vg_pgs(base), asset_create, &c);
    if (rc == VG_DUPLICATE && !named) { /* perhaps another first upload's default group */
        a->group_id[0] = '\0';
        rc = vg_pg_atomic(vg_pgs(base), asset_create, &c);
    }
    return rc;
}

vg_status vg_pg_asset_get(vg_store *base, const char *id, const char *key_id, vg_asset *out)
{
    if (key_id)
        return vg_pg_one(vg_pgs(base),
                         "SELECT " ASSET_COLS
                         " FROM assets WHERE id = $1 AND key_id = $2 AND deleted_at = 0",
                         PG_ARGS(PG_T(id), PG_T(key_id)), row_to_asset, out);
    return vg_pg_one(vg_pgs(base), "SELECT " ASSET_COLS " FROM assets WHERE id = $1",
                     PG_ARGS(PG_T(id)), row_to_asset, out);
}

/* ---- lists: the WHERE clause and its values, built once for the count and the page ---------- */

typedef struct {
    char where[1400];
    size_t len;
    vg_pg_val *v;
    size_t n;
} list_query;

/* Appends a fixed fragment; each '?' in it becomes the next parameter's $n. */
static void where_add(list_query *q, const char *clause, size_t first)
{
    for (const char *c = clause; *c && q->len < sizeof q->where; c++) {
        if (*c == '?')
            q->len +=
                (size_t)snprintf(q->where + q->len, sizeof q->where - q->len, "$%zu", first++);
        else
            q->where[q->len++] = *c;
    }
    if (q->len < sizeof q->where) q->where[q->len] = '\0';
}

static void add_value(list_query *q, const char *clause, vg_pg_val v)
{
    q->v[q->n++] = v;
    where_add(q, clause, q->n);
}

static void list_build(list_query *q, const vg_asset_filter *f, bool assets)
{
    q->v = vg_calloc(f->n_group_ids + VG_ASSET_STATUS_COUNT + 6, sizeof *q->v);
    add_value(q, assets ? " WHERE key_id = ? AND deleted_at = 0" : " WHERE key_id = ?",
              PG_T(f->key_id));
    if (f->name) add_value(q, " AND strpos(lower(name), lower(?)) > 0", PG_T(f->name));
    if (assets && f->n_group_ids) {
        for (size_t i = 0; i < f->n_group_ids; i++)
            add_value(q, i == 0 ? " AND group_id IN (?" : ",?", PG_T(f->group_ids[i]));
        where_add(q, ")", 0);
    }
    if (assets && f->statuses) {
        const char *sep = " AND status IN (?";
        for (int i = 0; i < VG_ASSET_STATUS_COUNT; i++)
            if (f->statuses & (1u << i)) {
                add_value(q, sep, PG_T(vg_asset_status_name((vg_asset_status)i)));
                sep = ",?";
            }
        where_add(q, ")", 0);
    }
    if (f->group_type)
        add_value(q,
                  assets ? " AND group_id IN (SELECT id FROM asset_groups WHERE group_type = ?)"
                         : " AND group_type = ?",
                  PG_T(f->group_type));
}

/* "SELECT count(*) FROM table WHERE …" into *total, then the page into *arr. */
static vg_status run_list(vg_pg *s, const vg_asset_filter *f, bool assets, size_t elem,
                          vg_pg_fill fill, void **arr, size_t *n, int64_t *total)
{
    const char *table = assets ? "assets" : "asset_groups";
    list_query q = {.len = 0};
    char sql[1800];
    vg_status rc = VG_ERR;
    *arr = NULL;
    *n = 0;
    *total = 0;
    list_build(&q, f, assets);
    if (q.len >= sizeof q.where - 1 || q.n + 2 > PG_MAX_PARAMS) goto out;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", table, q.where);
    rc = vg_pg_int64(s, sql, q.v, q.n, total);
    if (rc != VG_OK) goto out;
    q.v[q.n++] = PG_I(f->page_size);
    q.v[q.n++] = PG_I((int64_t)(f->page - 1) * f->page_size);
    snprintf(sql, sizeof sql,
             "SELECT %s FROM %s%s ORDER BY created_at DESC, seq DESC LIMIT $%zu "
             "OFFSET $%zu",
             assets ? ASSET_COLS : AGROUP_COLS, table, q.where, q.n - 1, q.n);
    rc = vg_pg_list(s, sql, q.v, q.n, elem, fill, (size_t)f->page_size, arr, n);
out:
    free(q.v);
    if (!*arr) *arr = vg_calloc(1, elem);
    return rc;
}

vg_status vg_pg_asset_group_list(vg_store *base, const vg_asset_filter *f, vg_asset_group **out,
                                 size_t *n, int64_t *total)
{
    return run_list(vg_pgs(base), f, false, sizeof **out, row_to_group, (void **)out, n, total);
}

vg_status vg_pg_asset_list(vg_store *base, const vg_asset_filter *f, vg_asset **out, size_t *n,
                           int64_t *total)
{
    return run_list(vg_pgs(base), f, true, sizeof **out, row_to_asset, (void **)out, n, total);
}

vg_status vg_pg_asset_update(vg_store *base, const char *id, const char *key_id, const char *name,
                             int64_t now)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE assets SET name = $1, updated_at = $2 "
                        "WHERE id = $3 AND key_id = $4 AND deleted_at = 0",
                        PG_ARGS(PG_T(name), PG_I(now), PG_T(id), PG_T(key_id)), VG_NOTFOUND);
}

vg_status vg_pg_asset_delete(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE assets SET deleted_at = $1, gc_at = $2 "
                        "WHERE id = $3 AND key_id = $4 AND deleted_at = 0",
                        PG_ARGS(PG_I(now), PG_I(now + VG_ASSET_GC_GRACE_S), PG_T(id), PG_T(key_id)),
                        VG_NOTFOUND);
}

/* ---- processing ---------------------------------------------------------------------------- */

vg_status vg_pg_asset_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_asset *out)
{
    vg_pg *s = vg_pgs(base);
    out->id[0] = '\0';
    out->source_url = NULL;
    vg_status rc = vg_pg_one(
        s,
        "UPDATE assets SET attempts = attempts + 1, lease_until = $1, lease_owner = $3 "
        "WHERE id = (SELECT id FROM assets WHERE status = 'Processing' AND lease_until < $2 "
        "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 'Processing' "
        "RETURNING " ASSET_COLS,
        PG_ARGS(PG_I(now_ms + lease_ms), PG_I(now_ms), PG_T(s->node)), row_to_asset, out);
    if (rc != VG_OK && out->id[0]) vg_asset_free(out);
    return rc;
}

vg_status vg_pg_asset_activate(vg_store *base, const char *id, const char *sha256,
                               const vg_asset_media *m, int64_t now)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE assets SET status = 'Active', sha256 = $1, size_bytes = $2, "
                        "format = $3, width = $4, height = $5, duration_ms = $6, updated_at = $7, "
                        "lease_until = 0 WHERE id = $8 AND status = 'Processing'",
                        PG_ARGS(PG_T(sha256), PG_I(m->size_bytes), PG_T(m->format), PG_I(m->width),
                                PG_I(m->height), PG_I(m->duration_ms), PG_I(now), PG_T(id)),
                        VG_CONFLICT);
}

vg_status vg_pg_asset_fail(vg_store *base, const char *id, const char *code, const char *msg,
                           int64_t now)
{
    return vg_pg_change(vg_pgs(base),
                        "UPDATE assets SET status = 'Failed', error_code = $1, error_message = $2, "
                        "updated_at = $3, lease_until = 0 WHERE id = $4 AND status = 'Processing'",
                        PG_ARGS(PG_T(code), PG_T(msg), PG_I(now), PG_T(id)), VG_CONFLICT);
}

vg_status vg_pg_asset_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_pg *s = vg_pgs(base);
    int changes = 0;
    (void)now_ms; /* another node's lease, expired or not, is left to asset_claim's test */
    char *owners = NULL;
    vg_status rc = vg_pg_recover_owners(s, &owners);
    if (rc != VG_OK) return rc;
    rc = vg_pg_exec(s,
                    "UPDATE assets SET lease_until = 0, lease_owner = '' WHERE "
                    "status = 'Processing' AND lease_owner = ANY($1::text[])",
                    PG_ARGS(PG_T(owners)), &changes);
    free(owners);
    *n = changes;
    return rc;
}

vg_status vg_pg_asset_gc_due(vg_store *base, int64_t now, int limit, vg_asset **out, size_t *n)
{
    return vg_pg_list(vg_pgs(base),
                      "SELECT " ASSET_COLS " FROM assets WHERE deleted_at > 0 AND gc_at <= $1 "
                      "AND status != 'Processing' ORDER BY gc_at LIMIT $2",
                      PG_ARGS(PG_I(now), PG_I(limit)), sizeof **out, row_to_asset, (size_t)limit,
                      (void **)out, n);
}

vg_status vg_pg_asset_blob_refs(vg_store *base, const char *sha256, int64_t since, int64_t *rows,
                                int64_t *tasks)
{
    vg_pg *s = vg_pgs(base);
    vg_status rc = vg_pg_int64(s,
                               "SELECT count(*) FROM assets WHERE sha256 = $1 "
                               "AND (deleted_at = 0 OR deleted_at > $2)",
                               PG_ARGS(PG_T(sha256), PG_I(since)), rows);
    if (rc != VG_OK) return rc;
    return vg_pg_int64(s,
                       "SELECT count(*) FROM task_assets r JOIN tasks t ON t.id = r.task_id "
                       "WHERE r.sha256 = $1 AND t.status = ANY($2)",
                       PG_ARGS(PG_T(sha256), PG_SET(VG_TASK_SET_ACTIVE)), tasks);
}

vg_status vg_pg_asset_gc_defer(vg_store *base, const char *id, int64_t gc_at)
{
    return vg_pg_exec(vg_pgs(base), "UPDATE assets SET gc_at = $1 WHERE id = $2 AND deleted_at > 0",
                      PG_ARGS(PG_I(gc_at), PG_T(id)), NULL);
}

vg_status vg_pg_asset_purge(vg_store *base, const char *id)
{
    return vg_pg_exec(vg_pgs(base), "DELETE FROM assets WHERE id = $1 AND deleted_at > 0",
                      PG_ARGS(PG_T(id)), NULL);
}

vg_status vg_pg_asset_usage(vg_store *base, const char *key_id, bool with_processing,
                            const char *except_id, int64_t *bytes)
{
    return vg_pg_int64(
        vg_pgs(base),
        "SELECT coalesce(sum(size_bytes), 0)::bigint FROM assets WHERE key_id = $1 "
        "AND deleted_at = 0 AND (status = 'Active' OR ($2 <> 0 AND status = 'Processing')) "
        "AND id <> $3",
        PG_ARGS(PG_T(key_id), PG_I(with_processing), PG_T(except_id ? except_id : "")), bytes);
}

static void fill_sha(const PGresult *r, int row, void *out)
{
    vg_pg_col_copy(r, row, 0, out, 65);
}

vg_status vg_pg_asset_refs_final(vg_store *base, int limit, char (**out)[65], size_t *n)
{
    return vg_pg_list(vg_pgs(base),
                      "SELECT DISTINCT r.sha256 FROM task_assets r JOIN tasks t ON t.id = "
                      "r.task_id WHERE t.status = ANY($1) LIMIT $2",
                      PG_ARGS(PG_SET(VG_TASK_SET_FINAL), PG_I(limit)), sizeof **out, fill_sha,
                      (size_t)limit, (void **)out, n);
}

vg_status vg_pg_asset_refs_prune(vg_store *base, const char *sha256)
{
    return vg_pg_exec(vg_pgs(base),
                      "DELETE FROM task_assets r USING tasks t WHERE r.sha256 = $2 "
                      "AND t.id = r.task_id AND t.status = ANY($1)",
                      PG_ARGS(PG_SET(VG_TASK_SET_FINAL), PG_T(sha256)), NULL);
}
