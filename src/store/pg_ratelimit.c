/*
 * pg_ratelimit.c - the request rate limit of a key shared by every node of a PostgreSQL database
 * (store.h documents rate_take; http/ratelimit.c is the in-memory bucket one node uses alone).
 *
 * One row per limited key in rate_buckets: the tokens left and when they were counted (ms on the
 * database's clock, so that nodes whose clocks differ agree). A request is one INSERT … ON
 * CONFLICT DO UPDATE: the row lock makes concurrent requests of one key, from any node, take
 * turns; the update refills the bucket for the time elapsed (per_min/60 per second, at most
 * per_min), takes a token when there is a whole one, and says whether it did (`allowed`), which
 * RETURNING hands back with the wait until the next token. A new key's bucket starts full, as in
 * http/ratelimit.c; a changed limit applies at once (the refill is capped by the new one).
 */
#include "store/pg_internal.h"

#include <stdlib.h>

/* The bucket after refilling, from the row as it was ($2 = per_min). */
#define REFILLED                                                                                   \
    "least($2::float8, b.tokens + greatest(excluded.updated_ms - b.updated_ms, 0) * $2::float8 "   \
    "/ 60000)"

static void fill_take(const PGresult *r, int row, void *out)
{
    int64_t *v = out;
    v[0] = PQgetvalue(r, row, 0)[0] == 't';
    v[1] = vg_pg_col_i64(r, row, 1);
}

vg_status vg_pg_rate_take(vg_store *base, const char *key_id, int per_min, int *retry_after_s)
{
    if (per_min <= 0) return VG_OK;
    int64_t v[2] = {0, 0}; /* allowed, retry after (s) */
    vg_status rc = vg_pg_one(
        vg_pgs(base),
        "INSERT INTO rate_buckets AS b (key_id, tokens, allowed, updated_ms) VALUES ($1, $2 - 1, "
        "true, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
        "ON CONFLICT (key_id) DO UPDATE SET "
        "tokens = CASE WHEN " REFILLED " >= 1 THEN " REFILLED " - 1 ELSE " REFILLED " END, "
        "allowed = " REFILLED " >= 1, "
        "updated_ms = greatest(b.updated_ms, excluded.updated_ms) "
        "RETURNING allowed, CASE WHEN allowed THEN 0 "
        "ELSE floor((1 - tokens) * 60 / $2::float8)::bigint + 1 END",
        PG_ARGS(PG_T(key_id), PG_I(per_min)), fill_take, v);
    if (rc != VG_OK) return rc == VG_NOTFOUND ? VG_ERR : rc;
    if (v[0]) return VG_OK;
    *retry_after_s = (int)v[1];
    return VG_LIMITED;
}
