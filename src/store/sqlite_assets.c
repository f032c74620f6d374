/*
 * sqlite_assets.c - assets and asset groups in the SQLite backend (spec §6; store.h documents
 * each operation).
 *
 * A deleted asset keeps its row (deleted_at, gc_at) until the collector has decided about its
 * bytes, which tasks may still need: those references are the task_assets rows written with each
 * task (sqlite_tasks.c). Processing claims carry a lease (lease_until, unix ms) and its owner
 * (lease_owner, this connection's node name), like task claims.
 */
#include "common/alloc.h"
#include "common/limits.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGROUP_COLS "id, key_id, name, description, group_type, is_default, created_at, updated_at"
#define ASSET_COLS                                                                                 \
    "id, key_id, group_id, name, asset_type, status, source_url, sha256, size_bytes, format, "     \
    "width, height, duration_ms, error_code, error_message, attempts, created_at, updated_at, "    \
    "deleted_at"

static void row_to_group(sqlite3_stmt *st, void *out)
{
    vg_asset_group *g = out;
    memset(g, 0, sizeof *g);
    vg_sq_col_copy(st, 0, g->id, sizeof g->id);
    vg_sq_col_copy(st, 1, g->key_id, sizeof g->key_id);
    vg_sq_col_copy(st, 2, g->name, sizeof g->name);
    vg_sq_col_copy(st, 3, g->description, sizeof g->description);
    vg_sq_col_copy(st, 4, g->group_type, sizeof g->group_type);
    g->is_default = sqlite3_column_int(st, 5) != 0;
    g->created_at = sqlite3_column_int64(st, 6);
    g->updated_at = sqlite3_column_int64(st, 7);
}

static void row_to_asset(sqlite3_stmt *st, void *out)
{
    vg_asset *a = out;
    char buf[16];
    memset(a, 0, sizeof *a);
    vg_sq_col_copy(st, 0, a->id, sizeof a->id);
    vg_sq_col_copy(st, 1, a->key_id, sizeof a->key_id);
    vg_sq_col_copy(st, 2, a->group_id, sizeof a->group_id);
    vg_sq_col_copy(st, 3, a->name, sizeof a->name);
    vg_sq_col_copy(st, 4, buf, sizeof buf);
    a->type = (vg_asset_type)vg_asset_type_parse(buf);
    vg_sq_col_copy(st, 5, buf, sizeof buf);
    a->status = (vg_asset_status)vg_asset_status_parse(buf);
    a->source_url = vg_sq_col_dup(st, 6);
    vg_sq_col_copy(st, 7, a->sha256, sizeof a->sha256);
    a->media.size_bytes = sqlite3_column_int64(st, 8);
    vg_sq_col_copy(st, 9, a->media.format, sizeof a->media.format);
    a->media.width = sqlite3_column_int(st, 10);
    a->media.height = sqlite3_column_int(st, 11);
    a->media.duration_ms = sqlite3_column_int64(st, 12);
    vg_sq_col_copy(st, 13, a->error_code, sizeof a->error_code);
    vg_sq_col_copy(st, 14, a->error_message, sizeof a->error_message);
    a->attempts = sqlite3_column_int(st, 15);
    a->created_at = sqlite3_column_int64(st, 16);
    a->updated_at = sqlite3_column_int64(st, 17);
    a->deleted_at = sqlite3_column_int64(st, 18);
}

/* ---- groups -------------------------------------------------------------------------------- */

static vg_status group_insert(vg_sqlite *s, const vg_asset_group *g)
{
    return vg_sq_exec(s,
                      "INSERT INTO asset_groups (" AGROUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                      "?7, ?8)",
                      SQ_ARGS(SQ_T(g->id), SQ_T(g->key_id), SQ_T(g->name), SQ_T(g->description),
                              SQ_T(g->group_type), SQ_I(g->is_default), SQ_I(g->created_at),
                              SQ_I(g->updated_at)),
                      NULL);
}

vg_status vg_sq_asset_group_create(vg_store *base, const vg_asset_group *g)
{
    return group_insert(vg_sq(base), g);
}

static vg_status group_get(vg_sqlite *s, const char *id, const char *key_id, vg_asset_group *out)
{
    return vg_sq_one(s, "SELECT " AGROUP_COLS " FROM asset_groups WHERE id = ?1 AND key_id = ?2",
                     SQ_ARGS(SQ_T(id), SQ_T(key_id)), row_to_group, out);
}

vg_status vg_sq_asset_group_get(vg_store *base, const char *id, const char *key_id,
                                vg_asset_group *out)
{
    return group_get(vg_sq(base), id, key_id, out);
}

vg_status vg_sq_asset_group_update(vg_store *base, const char *id, const char *key_id,
                                   const char *name, const char *description, int64_t now)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE asset_groups SET name = coalesce(?1, name), "
                        "description = coalesce(?2, description), updated_at = ?3 "
                        "WHERE id = ?4 AND key_id = ?5",
                        SQ_ARGS(SQ_T(name), SQ_T(description), SQ_I(now), SQ_T(id), SQ_T(key_id)),
                        VG_NOTFOUND);
}

typedef struct {
    const char *id, *key_id;
} group_ref;

/* Checked and deleted in one transaction, so an asset created meanwhile cannot be orphaned. */
static vg_status group_delete(vg_sqlite *s, void *ctx)
{
    const group_ref *r = ctx;
    vg_asset_group g;
    int64_t used = 0;
    vg_status rc = group_get(s, r->id, r->key_id, &g);
    if (rc != VG_OK) return rc;
    if (vg_sq_int64(s, "SELECT count(*) FROM assets WHERE group_id = ?1 AND deleted_at = 0",
                    SQ_ARGS(SQ_T(r->id)), &used) != VG_OK)
        return VG_ERR;
    if (used > 0) return VG_CONFLICT;
    rc = vg_sq_change(s, "DELETE FROM asset_groups WHERE id = ?1 AND key_id = ?2",
                      SQ_ARGS(SQ_T(r->id), SQ_T(r->key_id)), VG_ERR);
    return rc == VG_OK ? VG_OK : VG_ERR;
}

vg_status vg_sq_asset_group_delete(vg_store *base, const char *id, const char *key_id)
{
    group_ref r = {id, key_id};
    return vg_sq_atomic(vg_sq(base), group_delete, &r);
}

/* ---- assets -------------------------------------------------------------------------------- */

typedef struct {
    vg_asset *a;
    const vg_asset_group *dflt;
} create_ctx;

/* The group an asset goes into (see asset_create in store.h). */
static vg_status resolve_group(vg_sqlite *s, vg_asset *a, const vg_asset_group *dflt)
{
    vg_asset_group g;
    if (a->group_id[0]) return group_get(s, a->group_id, a->key_id, &g);
    vg_status rc = vg_sq_one(
        s, "SELECT " AGROUP_COLS " FROM asset_groups WHERE key_id = ?1 AND is_default = 1",
        SQ_ARGS(SQ_T(a->key_id)), row_to_group, &g);
    if (rc == VG_NOTFOUND && dflt) {
        g = *dflt;
        rc = group_insert(s, &g);
    }
    if (rc == VG_OK) snprintf(a->group_id, sizeof a->group_id, "%s", g.id);
    return rc;
}

static vg_status asset_create(vg_sqlite *s, void *ctx)
{
    const create_ctx *c = ctx;
    vg_asset *a = c->a;
    vg_status rc = resolve_group(s, a, c->dflt);
    if (rc != VG_OK) return rc;
    return vg_sq_exec(s,
                      "INSERT INTO assets (id, key_id, group_id, name, asset_type, status, "
                      "source_url, created_at, updated_at, size_bytes) VALUES (?1, ?2, ?3, ?4, "
                      "?5, 'Processing', ?6, ?7, ?8, ?9)",
                      SQ_ARGS(SQ_T(a->id), SQ_T(a->key_id), SQ_T(a->group_id), SQ_T(a->name),
                              SQ_T(vg_asset_type_name(a->type)), SQ_T(a->source_url),
                              SQ_I(a->created_at), SQ_I(a->updated_at), SQ_I(a->media.size_bytes)),
                      NULL);
}

vg_status vg_sq_asset_create(vg_store *base, vg_asset *a, const vg_asset_group *dflt)
{
    create_ctx c = {a, dflt};
    return vg_sq_atomic(vg_sq(base), asset_create, &c);
}

vg_status vg_sq_asset_get(vg_store *base, const char *id, const char *key_id, vg_asset *out)
{
    if (key_id)
        return vg_sq_one(vg_sq(base),
                         "SELECT " ASSET_COLS
                         " FROM assets WHERE id = ?1 AND key_id = ?2 AND deleted_at = 0",
                         SQ_ARGS(SQ_T(id), SQ_T(key_id)), row_to_asset, out);
    return vg_sq_one(vg_sq(base), "SELECT " ASSET_COLS " FROM assets WHERE id = ?1",
                     SQ_ARGS(SQ_T(id)), row_to_asset, out);
}

/* ---- lists: the WHERE clause and its values, built once for the count and the page ---------- */

typedef struct {
    char where[1024];
    size_t len;
    vg_sq_val *v;
    size_t n;
} list_query;

static void where_add(list_query *q, const char *clause)
{
    if (q->len < sizeof q->where)
        q->len += (size_t)snprintf(q->where + q->len, sizeof q->where - q->len, "%s", clause);
}

static void list_build(list_query *q, const vg_asset_filter *f, bool assets)
{
    q->v = vg_calloc(f->n_group_ids + VG_ASSET_STATUS_COUNT + 6, sizeof *q->v);
    where_add(q, assets ? " WHERE key_id = ? AND deleted_at = 0" : " WHERE key_id = ?");
    q->v[q->n++] = SQ_T(f->key_id);
    if (f->name) {
        where_add(q, " AND instr(lower(name), lower(?)) > 0");
        q->v[q->n++] = SQ_T(f->name);
    }
    if (assets && f->n_group_ids) {
        where_add(q, " AND group_id IN (?");
        for (size_t i = 1; i < f->n_group_ids; i++)
            where_add(q, ",?");
        where_add(q, ")");
        for (size_t i = 0; i < f->n_group_ids; i++)
            q->v[q->n++] = SQ_T(f->group_ids[i]);
    }
    if (assets && f->statuses) {
        const char *sep = " AND status IN (?";
        for (int i = 0; i < VG_ASSET_STATUS_COUNT; i++)
            if (f->statuses & (1u << i)) {
                where_add(q, sep);
                sep = ",?";
                q->v[q->n++] = SQ_T(vg_asset_status_name((vg_asset_status)i));
            }
        where_add(q, ")");
    }
    if (f->group_type) {
        where_add(q, assets ? " AND group_id IN (SELECT id FROM asset_groups WHERE "
                              "group_type = ?)"
                            : " AND group_type = ?");
        q->v[q->n++] = SQ_T(f->group_type);
    }
}

/* "SELECT count(*) FROM table WHERE …" into *total, then the page into *arr. */
static vg_status run_list(vg_sqlite *s, const vg_asset_filter *f, bool assets, size_t elem,
                          vg_sq_fill fill, void **arr, size_t *n, int64_t *total)
{
    const char *table = assets ? "assets" : "asset_groups";
    list_query q = {.len = 0};
    char sql[1400];
    vg_status rc = VG_ERR;
    *arr = NULL;
    *n = 0;
    *total = 0;
    list_build(&q, f, assets);
    if (q.len >= sizeof q.where) goto out;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", table, q.where);
    rc = vg_sq_int64(s, sql, q.v, q.n, total);
    if (rc != VG_OK) goto out;
    snprintf(sql, sizeof sql,
             "SELECT %s FROM %s%s ORDER BY created_at DESC, rowid DESC LIMIT ? "
             "OFFSET ?",
             assets ? ASSET_COLS : AGROUP_COLS, table, q.where);
    q.v[q.n++] = SQ_I(f->page_size);
    q.v[q.n++] = SQ_I((int64_t)(f->page - 1) * f->page_size);
    rc = vg_sq_list(s, sql, q.v, q.n, elem, fill, (size_t)f->page_size, arr, n);
out:
    free(q.v);
    if (!*arr) *arr = vg_calloc(1, elem);
    return rc;
}

vg_status vg_sq_asset_group_list(vg_store *base, const vg_asset_filter *f, vg_asset_group **out,
                                 size_t *n, int64_t *total)
{
    return run_list(vg_sq(base), f, false, sizeof **out, row_to_group, (void **)out, n, total);
}

vg_status vg_sq_asset_list(vg_store *base, const vg_asset_filter *f, vg_asset **out, size_t *n,
                           int64_t *total)
{
    return run_list(vg_sq(base), f, true, sizeof **out, row_to_asset, (void **)out, n, total);
}

vg_status vg_sq_asset_update(vg_store *base, const char *id, const char *key_id, const char *name,
                             int64_t now)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE assets SET name = ?1, updated_at = ?2 "
                        "WHERE id = ?3 AND key_id = ?4 AND deleted_at = 0",
                        SQ_ARGS(SQ_T(name), SQ_I(now), SQ_T(id), SQ_T(key_id)), VG_NOTFOUND);
}

vg_status vg_sq_asset_delete(vg_store *base, const char *id, const char *key_id, int64_t now)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE assets SET deleted_at = ?1, gc_at = ?2 "
                        "WHERE id = ?3 AND key_id = ?4 AND deleted_at = 0",
                        SQ_ARGS(SQ_I(now), SQ_I(now + VG_ASSET_GC_GRACE_S), SQ_T(id), SQ_T(key_id)),
                        VG_NOTFOUND);
}

/* ---- processing ---------------------------------------------------------------------------- */

vg_status vg_sq_asset_claim(vg_store *base, int64_t now_ms, int64_t lease_ms, vg_asset *out)
{
    vg_sqlite *s = vg_sq(base);
    out->id[0] = '\0';
    out->source_url = NULL;
    vg_status rc = vg_sq_one(
        s,
        "UPDATE assets SET attempts = attempts + 1, lease_until = ?1, lease_owner = ?3 "
        "WHERE id = (SELECT id FROM assets WHERE status = 'Processing' AND lease_until < ?2 "
        "ORDER BY rowid LIMIT 1) AND status = 'Processing' RETURNING " ASSET_COLS,
        SQ_ARGS(SQ_I(now_ms + lease_ms), SQ_I(now_ms), SQ_T(s->node)), row_to_asset, out);
    if (rc != VG_OK && out->id[0]) vg_asset_free(out);
    return rc;
}

vg_status vg_sq_asset_activate(vg_store *base, const char *id, const char *sha256,
                               const vg_asset_media *m, int64_t now)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE assets SET status = 'Active', sha256 = ?1, size_bytes = ?2, "
                        "format = ?3, width = ?4, height = ?5, duration_ms = ?6, updated_at = ?7, "
                        "lease_until = 0 WHERE id = ?8 AND status = 'Processing'",
                        SQ_ARGS(SQ_T(sha256), SQ_I(m->size_bytes), SQ_T(m->format), SQ_I(m->width),
                                SQ_I(m->height), SQ_I(m->duration_ms), SQ_I(now), SQ_T(id)),
                        VG_CONFLICT);
}

vg_status vg_sq_asset_fail(vg_store *base, const char *id, const char *code, const char *msg,
                           int64_t now)
{
    return vg_sq_change(vg_sq(base),
                        "UPDATE assets SET status = 'Failed', error_code = ?1, error_message = ?2, "
                        "updated_at = ?3, lease_until = 0 WHERE id = ?4 AND status = 'Processing'",
                        SQ_ARGS(SQ_T(code), SQ_T(msg), SQ_I(now), SQ_T(id)), VG_CONFLICT);
}

vg_status vg_sq_asset_recover(vg_store *base, int64_t now_ms, int64_t *n)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    (void)now_ms;
    /* One node by definition: every lease is this process's previous life's. */
    vg_status rc = vg_sq_exec(s,
                              "UPDATE assets SET lease_until = 0, lease_owner = '' WHERE "
                              "status = 'Processing' AND lease_until > 0",
                              SQ_NONE, &changes);
    *n = changes;
    return rc;
}

vg_status vg_sq_asset_gc_due(vg_store *base, int64_t now, int limit, vg_asset **out, size_t *n)
{
    return vg_sq_list(vg_sq(base),
                      "SELECT " ASSET_COLS " FROM assets WHERE deleted_at > 0 AND gc_at <= ?1 "
                      "AND status != 'Processing' ORDER BY gc_at LIMIT ?2",
                      SQ_ARGS(SQ_I(now), SQ_I(limit)), sizeof **out, row_to_asset, (size_t)limit,
                      (void **)out, n);
}

vg_status vg_sq_asset_blob_refs(vg_store *base, const char *sha256, int64_t since, int64_t *rows,
                                int64_t *tasks)
{
    vg_sqlite *s = vg_sq(base);
    vg_status rc = vg_sq_int64(s,
                               "SELECT count(*) FROM assets WHERE sha256 = ?1 "
                               "AND (deleted_at = 0 OR deleted_at > ?2)",
                               SQ_ARGS(SQ_T(sha256), SQ_I(since)), rows);
    if (rc != VG_OK) return rc;
    return vg_sq_int64(s,
                       "SELECT count(*) FROM task_assets r JOIN tasks t ON t.id = r.task_id "
                       "WHERE r.sha256 = ?1 AND " SQ_STATUS_IN("t.status", 2),
                       SQ_ARGS(SQ_T(sha256), SQ_I(VG_TASK_SET_ACTIVE)), tasks);
}

vg_status vg_sq_asset_gc_defer(vg_store *base, const char *id, int64_t gc_at)
{
    return vg_sq_exec(vg_sq(base), "UPDATE assets SET gc_at = ?1 WHERE id = ?2 AND deleted_at > 0",
                      SQ_ARGS(SQ_I(gc_at), SQ_T(id)), NULL);
}

vg_status vg_sq_asset_purge(vg_store *base, const char *id)
{
    return vg_sq_exec(vg_sq(base), "DELETE FROM assets WHERE id = ? AND deleted_at > 0",
                      SQ_ARGS(SQ_T(id)), NULL);
}

vg_status vg_sq_asset_usage(vg_store *base, const char *key_id, bool with_processing,
                            const char *except_id, int64_t *bytes)
{
    return vg_sq_int64(
        vg_sq(base),
        "SELECT sum(size_bytes) FROM assets WHERE key_id = ?1 AND deleted_at = 0 "
        "AND (status = 'Active' OR (?2 AND status = 'Processing')) AND id != ?3",
        SQ_ARGS(SQ_T(key_id), SQ_I(with_processing), SQ_T(except_id ? except_id : "")), bytes);
}

static void fill_sha(sqlite3_stmt *st, void *out)
{
    vg_sq_col_copy(st, 0, out, 65);
}

vg_status vg_sq_asset_refs_final(vg_store *base, int limit, char (**out)[65], size_t *n)
{
    return vg_sq_list(
        vg_sq(base),
        "SELECT DISTINCT r.sha256 FROM task_assets r JOIN tasks t ON t.id = r.task_id "
        "WHERE " SQ_STATUS_IN("t.status", 1) " LIMIT ?2",
        SQ_ARGS(SQ_I(VG_TASK_SET_FINAL), SQ_I(limit)), sizeof **out, fill_sha, (size_t)limit,
        (void **)out, n);
}

vg_status vg_sq_asset_refs_prune(vg_store *base, const char *sha256)
{
    return vg_sq_exec(vg_sq(base),
                      "DELETE FROM task_assets WHERE sha256 = ?2 AND task_id IN (SELECT r.task_id "
                      "FROM task_assets r JOIN tasks t ON t.id = r.task_id WHERE r.sha256 = ?2 "
                      "AND " SQ_STATUS_IN("t.status", 1) ")",
                      SQ_ARGS(SQ_I(VG_TASK_SET_FINAL), SQ_T(sha256)), NULL);
}
