/*
 * pg_migrations.c - the PostgreSQL schema as numbered migrations, and applying them at open.
 *
 * The numbering follows the SQLite schema's (migrations.c): version N here holds what SQLite's
 * migrations up to N hold, in this dialect. The first PostgreSQL schema is version 6, the whole
 * SQLite schema at the time (no PostgreSQL database ever existed at an earlier version, so no
 * backfills are needed); later migrations are appended to both lists with the same number.
 * Append; never edit a released one.
 *
 * Dialect: text columns compare bytewise (COLLATE "C", SQLite's BINARY), so id order, cursors
 * and lower() mean what they mean in SQLite whatever the database's locale; integers are BIGINT (unix seconds and milliseconds, micro-units, 0/1 flags), so every
 * comparison with a bound int8 value stays exact; `seq` columns (BIGSERIAL) stand in for SQLite's
 * rowid where the order of insertion matters; vg_json_text() reads one member of a JSON text and
 * answers NULL for text that is not a JSON object (SQLite's json_valid + json_extract).
 *
 * Many nodes may start at once against one database: migrate() runs under a session advisory
 * lock, so one of them migrates and the others find the schema current. schema_version holds the
 * version (one row).
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock key of the migrations ("vidgate" in ASCII, as a number). */
#define MIGRATION_LOCK "7603068030416229"

typedef struct {
    int version;
    const char *name;
    const char *sql;
} pg_migration;

static const pg_migration migrations[] = {
    {6, "schema of SQLite migrations 1-6",
     "CREATE TABLE keys ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  name TEXT COLLATE \"C\" NOT NULL,"
     "  hash TEXT COLLATE \"C\" NOT NULL UNIQUE,"
     "  is_admin BIGINT NOT NULL DEFAULT 0,"
     "  revoked_at BIGINT NOT NULL DEFAULT 0,"
     "  test_mode BIGINT NOT NULL DEFAULT 0,"
     "  balance_micro BIGINT NOT NULL DEFAULT 0,"
     "  held_micro BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL DEFAULT 0,"
     "  max_active_tasks BIGINT NOT NULL DEFAULT 0,"
     "  rate_limit_per_min BIGINT NOT NULL DEFAULT 0,"
     "  allowed_models TEXT COLLATE \"C\","
     "  webhook_url TEXT COLLATE \"C\" NOT NULL DEFAULT '');"
     "CREATE TABLE tasks ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  model TEXT COLLATE \"C\" NOT NULL,"
     "  status TEXT COLLATE \"C\" NOT NULL,"
     "  version BIGINT NOT NULL DEFAULT 0,"
     "  progress BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL,"
     "  completed_at BIGINT NOT NULL DEFAULT 0,"
     "  expires_at BIGINT NOT NULL DEFAULT 0,"
     "  seconds BIGINT NOT NULL,"
     "  resolution TEXT COLLATE \"C\" NOT NULL,"
     "  ratio TEXT COLLATE \"C\" NOT NULL,"
     "  width BIGINT NOT NULL DEFAULT 0,"
     "  height BIGINT NOT NULL DEFAULT 0,"
     "  seed BIGINT NOT NULL DEFAULT -1,"
     "  params TEXT COLLATE \"C\" NOT NULL,"
     "  hold_micro BIGINT NOT NULL DEFAULT 0,"
     "  cost_micro BIGINT NOT NULL DEFAULT -1,"
     "  tokens BIGINT NOT NULL DEFAULT 0,"
     "  error_code TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  error_message TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  lease_until BIGINT NOT NULL DEFAULT 0,"
     "  has_last_frame BIGINT NOT NULL DEFAULT 0,"
     "  content_deleted BIGINT NOT NULL DEFAULT 0,"
     "  test_mode BIGINT NOT NULL DEFAULT 0,"
     "  channel TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  next_poll_at BIGINT NOT NULL DEFAULT 0,"
     "  lease_owner TEXT COLLATE \"C\" NOT NULL DEFAULT '');"
     "CREATE INDEX tasks_by_key ON tasks(key_id, id);"
     "CREATE INDEX tasks_by_status ON tasks(status, id);"
     "CREATE INDEX tasks_by_completion ON tasks(status, completed_at);"
     "CREATE INDEX tasks_due ON tasks(status, next_poll_at);"
     /* The partial unique index makes "at most one hold, one capture and one release per task" a
      * database fact, as in SQLite. */
     "CREATE TABLE ledger ("
     "  id BIGSERIAL PRIMARY KEY,"
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  task_id TEXT COLLATE \"C\","
     "  kind TEXT COLLATE \"C\" NOT NULL CHECK (kind IN "
     "('credit','debit','hold','capture','release')),"
     "  amount_micro BIGINT NOT NULL,"
     "  note TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  created_at BIGINT NOT NULL);"
     "CREATE UNIQUE INDEX ledger_once_per_task ON ledger(task_id, kind) WHERE task_id IS NOT NULL;"
     "CREATE INDEX ledger_by_key ON ledger(key_id, id);"
     "CREATE TABLE idempotency ("
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  idem_key TEXT COLLATE \"C\" NOT NULL,"
     "  body_hash TEXT COLLATE \"C\" NOT NULL,"
     "  task_id TEXT COLLATE \"C\" NOT NULL,"
     "  response TEXT COLLATE \"C\" NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  PRIMARY KEY (key_id, idem_key));"
     "CREATE TABLE asset_groups ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  seq BIGSERIAL,"
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  name TEXT COLLATE \"C\" NOT NULL,"
     "  description TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  group_type TEXT COLLATE \"C\" NOT NULL DEFAULT 'AIGC',"
     "  is_default BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL);"
     "CREATE INDEX asset_groups_by_key ON asset_groups(key_id, created_at, id);"
     "CREATE UNIQUE INDEX asset_groups_one_default ON asset_groups(key_id) WHERE is_default = 1;"
     "CREATE TABLE assets ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  seq BIGSERIAL,"
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  group_id TEXT COLLATE \"C\" NOT NULL,"
     "  name TEXT COLLATE \"C\" NOT NULL,"
     "  asset_type TEXT COLLATE \"C\" NOT NULL CHECK (asset_type IN ('Image','Video','Audio')),"
     "  status TEXT COLLATE \"C\" NOT NULL CHECK (status IN ('Processing','Active','Failed')),"
     "  source_url TEXT COLLATE \"C\","
     "  sha256 TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  size_bytes BIGINT NOT NULL DEFAULT 0,"
     "  format TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  width BIGINT NOT NULL DEFAULT 0,"
     "  height BIGINT NOT NULL DEFAULT 0,"
     "  duration_ms BIGINT NOT NULL DEFAULT 0,"
     "  error_code TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  error_message TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  lease_until BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL,"
     "  deleted_at BIGINT NOT NULL DEFAULT 0,"
     "  gc_at BIGINT NOT NULL DEFAULT 0,"
     "  lease_owner TEXT COLLATE \"C\" NOT NULL DEFAULT '');"
     "CREATE INDEX assets_by_key ON assets(key_id, created_at, id);"
     "CREATE INDEX assets_by_group ON assets(group_id, deleted_at);"
     "CREATE INDEX assets_by_status ON assets(status, lease_until);"
     "CREATE INDEX assets_by_sha ON assets(sha256);"
     "CREATE INDEX assets_by_gc ON assets(gc_at) WHERE deleted_at > 0;"
     "CREATE TABLE upstream_tasks ("
     "  task_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES tasks(id),"
     "  channel TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  upstream_model TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  upstream_id TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  attempt_id TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  client_token TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  callback_token TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  avoid_channel TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  upstream_status TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  attempt_started_at BIGINT NOT NULL DEFAULT 0,"
     "  accepted_at BIGINT NOT NULL DEFAULT 0,"
     "  retries BIGINT NOT NULL DEFAULT 0,"
     "  poll_errors BIGINT NOT NULL DEFAULT 0,"
     "  lookups BIGINT NOT NULL DEFAULT 0,"
     "  open BIGINT NOT NULL DEFAULT 0,"
     "  result TEXT COLLATE \"C\");"
     "CREATE INDEX upstream_tasks_open ON upstream_tasks(task_id) WHERE open = 1;"
     "CREATE TABLE upstream_attempts ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  task_id TEXT COLLATE \"C\" NOT NULL REFERENCES tasks(id),"
     "  channel TEXT COLLATE \"C\" NOT NULL,"
     "  upstream_model TEXT COLLATE \"C\" NOT NULL,"
     "  client_token TEXT COLLATE \"C\" NOT NULL,"
     "  started_at BIGINT NOT NULL,"
     "  ended_at BIGINT NOT NULL DEFAULT 0,"
     "  outcome TEXT COLLATE \"C\" NOT NULL DEFAULT 'pending',"
     "  upstream_id TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  http_status BIGINT NOT NULL DEFAULT 0,"
     "  detail TEXT COLLATE \"C\" NOT NULL DEFAULT '');"
     "CREATE INDEX upstream_attempts_by_task ON upstream_attempts(task_id, started_at);"
     "CREATE TABLE task_assets ("
     "  task_id TEXT COLLATE \"C\" NOT NULL REFERENCES tasks(id),"
     "  sha256 TEXT COLLATE \"C\" NOT NULL,"
     "  PRIMARY KEY (task_id, sha256));"
     "CREATE INDEX task_assets_by_sha ON task_assets(sha256, task_id);"
     "CREATE TABLE webhook_secrets ("
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  secret TEXT COLLATE \"C\" NOT NULL,"
     "  seq BIGSERIAL,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (key_id, secret));"
     "CREATE TABLE webhook_deliveries ("
     "  id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  task_id TEXT COLLATE \"C\" NOT NULL UNIQUE REFERENCES tasks(id),"
     "  key_id TEXT COLLATE \"C\" NOT NULL REFERENCES keys(id),"
     "  type TEXT COLLATE \"C\" NOT NULL,"
     "  url TEXT COLLATE \"C\" NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  status TEXT COLLATE \"C\" NOT NULL DEFAULT 'pending',"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  next_at BIGINT NOT NULL,"
     "  deadline BIGINT NOT NULL,"
     "  lease_until BIGINT NOT NULL DEFAULT 0,"
     "  lease_owner TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  last_http_status BIGINT NOT NULL DEFAULT 0,"
     "  last_error TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
     "  delivered_at BIGINT NOT NULL DEFAULT 0,"
     "  body TEXT COLLATE \"C\");"
     "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) "
     "  WHERE status = 'pending';"
     "CREATE FUNCTION vg_json_text(doc TEXT, field TEXT) RETURNS TEXT LANGUAGE plpgsql "
     "  IMMUTABLE AS $f$ BEGIN "
     "    IF jsonb_typeof(doc::jsonb) = 'object' THEN RETURN doc::jsonb ->> field; END IF; "
     "    RETURN NULL; "
     "  EXCEPTION WHEN others THEN RETURN NULL; END $f$;"},
    {7, "settings",
     "CREATE TABLE settings ("
     "  name TEXT COLLATE \"C\" PRIMARY KEY,"
     "  value TEXT COLLATE \"C\" NOT NULL);"},
    {9, "named leases",
     "CREATE TABLE leases ("
     "  name TEXT COLLATE \"C\" PRIMARY KEY,"
     "  owner TEXT COLLATE \"C\" NOT NULL,"
     "  until_ms BIGINT NOT NULL);"},
    {10, "shared rate-limit buckets",
     /* One token bucket per rate-limited key, shared by every node (pg_ratelimit.c):
      * updated_ms is the database's clock in ms. */
     "CREATE TABLE rate_buckets ("
     "  key_id TEXT COLLATE \"C\" PRIMARY KEY,"
     "  tokens DOUBLE PRECISION NOT NULL,"
     "  allowed BOOLEAN NOT NULL,"
     "  updated_ms BIGINT NOT NULL);"},
    {11, "tasks stored by key",
     /* SQLite's task table lost its rowid (migrations.c); a PostgreSQL table is a heap with its
      * primary key's index already, and has nothing to change. The number keeps both schemas in
      * step. */
     "SELECT 1;"},
};

/* One statement without parameters; false with the server's message in err. */
static bool run(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) snprintf(err, errlen, "%s", PQerrorMessage(conn));
    PQclear(r);
    return ok;
}

/* The current version (0 for a new database), inside the migration transaction. */
static int current_version(PGconn *conn, char *err, size_t errlen)
{
    if (!run(conn, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)", err,
             errlen))
        return -1;
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    int v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = atoi(PQgetvalue(r, 0, 0));
    else
        snprintf(err, errlen, "%s", PQerrorMessage(conn));
    PQclear(r);
    return v;
}

static vg_status migrate_locked(PGconn *conn, char *err, size_t errlen)
{
    int n = (int)(sizeof migrations / sizeof migrations[0]);
    if (!run(conn, "BEGIN", err, errlen)) return VG_ERR;
    int current = current_version(conn, err, errlen);
    if (current < 0) goto fail;
    if (current > migrations[n - 1].version) {
        snprintf(err, errlen, "database schema %d is newer than this build (%d)", current,
                 migrations[n - 1].version);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (migrations[i].version <= current) continue;
        char set[96];
        snprintf(set, sizeof set,
                 "DELETE FROM schema_version; INSERT INTO schema_version "
                 "VALUES (%d)",
                 migrations[i].version);
        if (!run(conn, migrations[i].sql, err, errlen) || !run(conn, set, err, errlen)) goto fail;
    }
    if (!run(conn, "COMMIT", err, errlen)) goto fail;
    return VG_OK;
fail:
    run(conn, "ROLLBACK", err + strlen(err), 0);
    return VG_ERR;
}

vg_status vg_pg_migrate(PGconn *conn, char *err, size_t errlen)
{
    char why[512] = "";
    if (!run(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", why, sizeof why)) {
        snprintf(err, errlen, "cannot lock the schema: %s", why);
        return VG_ERR;
    }
    vg_status rc = migrate_locked(conn, why, sizeof why);
    run(conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", why + strlen(why), 0);
    if (rc != VG_OK) snprintf(err, errlen, "migration failed: %s", why);
    return rc;
}
