/*
 * sqlite_leases.c - named leases in the SQLite backend (store.h: lease_hold, lease_release,
 * lease_recover; migration 9; pg_leases.c is the twin).
 *
 * lease_hold is one upsert whose conflict update applies only while the row is expired or
 * already ours: the row changed (1 change) exactly when this node holds the lease afterwards.
 * A SQLite database is one node by definition, so recovery releases every lease.
 */
#include "store/sqlite_internal.h"

vg_status vg_sq_lease_hold(vg_store *base, const char *name, int64_t now_ms, int64_t ttl_ms,
                           bool *held)
{
    vg_sqlite *s = vg_sq(base);
    int changes = 0;
    *held = false;
    vg_status rc = vg_sq_exec(
        s,
        "INSERT INTO leases (name, owner, until_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
        "until_ms = excluded.until_ms "
        "WHERE leases.owner = excluded.owner OR leases.until_ms < ?4",
        SQ_ARGS(SQ_T(name), SQ_T(s->node), SQ_I(now_ms + ttl_ms), SQ_I(now_ms)), &changes);
    if (rc == VG_OK) *held = changes == 1;
    return rc;
}

vg_status vg_sq_lease_release(vg_store *base, const char *name)
{
    vg_sqlite *s = vg_sq(base);
    return vg_sq_exec(s, "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
                      SQ_ARGS(SQ_T(name), SQ_T(s->node)), NULL);
}

vg_status vg_sq_lease_recover(vg_store *base)
{
    return vg_sq_exec(vg_sq(base), "DELETE FROM leases", SQ_NONE, NULL);
}
