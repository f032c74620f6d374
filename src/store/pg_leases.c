/*
 * pg_leases.c - named leases in the PostgreSQL backend (store.h: lease_hold, lease_release,
 * lease_recover; sqlite_leases.c is the twin), and the owners whose leases start-up recovery
 * releases (vg_pg_recover_owners, used by every *_recover of this backend).
 *
 * lease_hold is one INSERT … ON CONFLICT DO UPDATE … WHERE (expired or ours): the unique index
 * serialises nodes that race, and the row changed exactly when this node holds the lease after
 * the statement (a conflict whose WHERE fails changes nothing).
 *
 * Dead owners: this node's own name is dead by definition (store.h), and so is every
 * "<this host>:<pid>" whose process no longer runs here (vg_store_owner_dead): the default node
 * name of a restarted process is new, and this is how it still finds its previous life's leases
 * at once. Names of other hosts are never guessed dead: their leases expire.
 */
#include "common/alloc.h"
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

vg_status vg_pg_lease_hold(vg_store *base, const char *name, int64_t now_ms, int64_t ttl_ms,
                           bool *held)
{
    vg_pg *s = vg_pgs(base);
    int changes = 0;
    *held = false;
    vg_status rc = vg_pg_exec(
        s,
        "INSERT INTO leases (name, owner, until_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
        "until_ms = excluded.until_ms "
        "WHERE leases.owner = excluded.owner OR leases.until_ms < $4",
        PG_ARGS(PG_T(name), PG_T(s->node), PG_I(now_ms + ttl_ms), PG_I(now_ms)), &changes);
    if (rc == VG_OK) *held = changes == 1;
    return rc;
}

vg_status vg_pg_lease_release(vg_store *base, const char *name)
{
    vg_pg *s = vg_pgs(base);
    return vg_pg_exec(s, "DELETE FROM leases WHERE name = $1 AND owner = $2",
                      PG_ARGS(PG_T(name), PG_T(s->node)), NULL);
}

vg_status vg_pg_lease_recover(vg_store *base)
{
    vg_pg *s = vg_pgs(base);
    char *owners = NULL;
    vg_status rc = vg_pg_recover_owners(s, &owners);
    if (rc == VG_OK)
        rc = vg_pg_exec(s, "DELETE FROM leases WHERE owner = ANY($1::text[])",
                        PG_ARGS(PG_T(owners)), NULL);
    free(owners);
    return rc;
}

/* ---- the owners recovery releases ---------------------------------------------------------- */

typedef struct {
    char name[PG_NODE_MAX];
} owner_row;

static void fill_owner(const PGresult *r, int row, void *out)
{
    vg_pg_col_copy(r, row, 0, ((owner_row *)out)->name, sizeof((owner_row *)out)->name);
}

/* Appends `v` to the array literal being built in *buf (len *n): quoted, with " and \ escaped. */
static void append_elem(char **buf, size_t *n, const char *v)
{
    size_t need = *n + 2 * strlen(v) + 4;
    *buf = vg_realloc(*buf, need + 2);
    char *p = *buf + *n;
    if (*n > 1) *p++ = ',';
    *p++ = '"';
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '"';
    *p = '\0';
    *n = (size_t)(p - *buf);
}

vg_status vg_pg_recover_owners(vg_pg *s, char **out)
{
    *out = NULL;
    /* The host part of this node's default name ("<host>:<pid>"), with its colon. */
    char prefix[PG_NODE_MAX + 8];
    vg_store_default_node(prefix, sizeof prefix);
    char *colon = strrchr(prefix, ':');
    if (colon) colon[1] = '\0';
    owner_row *rows = NULL;
    size_t n = 0;
    vg_status rc = vg_pg_list(
        s,
        "SELECT lease_owner FROM tasks WHERE status = ANY($2) AND starts_with(lease_owner, $1) "
        "UNION SELECT t.lease_owner FROM upstream_tasks u JOIN tasks t ON t.id = u.task_id "
        "WHERE u.open = 1 AND starts_with(t.lease_owner, $1) "
        "UNION SELECT lease_owner FROM assets WHERE status = 'Processing' AND "
        "starts_with(lease_owner, $1) "
        "UNION SELECT lease_owner FROM webhook_deliveries WHERE status = 'pending' AND "
        "starts_with(lease_owner, $1) "
        "UNION SELECT owner FROM leases WHERE starts_with(owner, $1)",
        PG_ARGS(PG_T(prefix), PG_SET(VG_TASK_SET_ACTIVE)), sizeof *rows, fill_owner, 0,
        (void **)&rows, &n);
    if (rc != VG_OK) {
        free(rows);
        return rc;
    }
    size_t len = 1;
    char *buf = vg_strdup("{");
    append_elem(&buf, &len, s->node);
    append_elem(&buf, &len, ""); /* a lease written before owners were recorded */
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, s->node) && vg_store_owner_dead(rows[i].name))
            append_elem(&buf, &len, rows[i].name);
    buf = vg_realloc(buf, len + 2);
    buf[len++] = '}';
    buf[len] = '\0';
    free(rows);
    *out = buf;
    return VG_OK;
}
