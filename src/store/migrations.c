/* migrations.c - see migrations.h. Append new migrations; never edit a released one. */
#include "store/migrations.h"

/* The task table's columns at schema 10, in their order (migration 11 copies them). */
#define TASK_COLUMNS_V10                                                                           \
    "id, key_id, model, status, version, progress, created_at, updated_at, completed_at, "         \
    "expires_at, seconds, resolution, ratio, width, height, seed, params, hold_micro, "            \
    "cost_micro, tokens, error_code, error_message, attempts, lease_until, has_last_frame, "       \
    "content_deleted, test_mode, channel, next_poll_at, lease_owner"

static const vg_migration migrations[] = {
    {1, "initial schema",
     "CREATE TABLE keys ("
     "  id TEXT PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  hash TEXT NOT NULL UNIQUE,"
     "  is_admin INTEGER NOT NULL DEFAULT 0,"
     "  revoked_at INTEGER NOT NULL DEFAULT 0,"
     "  test_mode INTEGER NOT NULL DEFAULT 0,"
     "  balance_micro INTEGER NOT NULL DEFAULT 0,"
     "  held_micro INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL DEFAULT 0,"
     "  max_active_tasks INTEGER NOT NULL DEFAULT 0,"
     "  rate_limit_per_min INTEGER NOT NULL DEFAULT 0,"
     "  allowed_models TEXT);"
     "CREATE TABLE tasks ("
     "  id TEXT PRIMARY KEY,"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  model TEXT NOT NULL,"
     "  status TEXT NOT NULL,"
     "  version INTEGER NOT NULL DEFAULT 0,"
     "  progress INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  completed_at INTEGER NOT NULL DEFAULT 0,"
     "  expires_at INTEGER NOT NULL DEFAULT 0,"
     "  seconds INTEGER NOT NULL,"
     "  resolution TEXT NOT NULL,"
     "  ratio TEXT NOT NULL,"
     "  width INTEGER NOT NULL DEFAULT 0,"
     "  height INTEGER NOT NULL DEFAULT 0,"
     "  seed INTEGER NOT NULL DEFAULT -1,"
     "  params TEXT NOT NULL,"
     "  hold_micro INTEGER NOT NULL DEFAULT 0,"
     "  cost_micro INTEGER NOT NULL DEFAULT -1,"
     "  tokens INTEGER NOT NULL DEFAULT 0,"
     "  error_code TEXT NOT NULL DEFAULT '',"
     "  error_message TEXT NOT NULL DEFAULT '',"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  lease_until INTEGER NOT NULL DEFAULT 0,"
     "  has_last_frame INTEGER NOT NULL DEFAULT 0,"
     "  content_deleted INTEGER NOT NULL DEFAULT 0,"
     "  test_mode INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX tasks_by_key ON tasks(key_id, id);"
     "CREATE INDEX tasks_by_status ON tasks(status, id);"
     /* Every money movement. The partial unique index is what makes "at most one hold, one
      * capture and one release per task" a database fact rather than a code convention. */
     "CREATE TABLE ledger ("
     "  id INTEGER PRIMARY KEY,"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  task_id TEXT,"
     "  kind TEXT NOT NULL CHECK (kind IN ('credit','debit','hold','capture','release')),"
     "  amount_micro INTEGER NOT NULL,"
     "  note TEXT NOT NULL DEFAULT '',"
     "  created_at INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX ledger_once_per_task ON ledger(task_id, kind) WHERE task_id IS NOT NULL;"
     "CREATE INDEX ledger_by_key ON ledger(key_id, id);"},
    {2, "idempotency keys",
     /* Written in the same transaction as the task it created, so a retried submit either finds
      * the record (and replays the reply) or creates the task: never both, never twice. */
     "CREATE TABLE idempotency ("
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  idem_key TEXT NOT NULL,"
     "  body_hash TEXT NOT NULL,"
     "  task_id TEXT NOT NULL,"
     "  response TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (key_id, idem_key));"
     "CREATE INDEX tasks_by_completion ON tasks(status, completed_at);"},
    {3, "assets",
     /* Groups and assets belong to one key. A deleted asset keeps its row (deleted_at) until the
      * collector has decided about its bytes, which may still be needed by tasks (gc_at: when to
      * look next). group_id has no foreign key: such rows may outlive their group. */
     "CREATE TABLE asset_groups ("
     "  id TEXT PRIMARY KEY,"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  name TEXT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  group_type TEXT NOT NULL DEFAULT 'AIGC',"
     "  is_default INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL);"
     "CREATE INDEX asset_groups_by_key ON asset_groups(key_id, created_at, id);"
     "CREATE UNIQUE INDEX asset_groups_one_default ON asset_groups(key_id) WHERE is_default = 1;"
     "CREATE TABLE assets ("
     "  id TEXT PRIMARY KEY,"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  group_id TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  asset_type TEXT NOT NULL CHECK (asset_type IN ('Image','Video','Audio')),"
     "  status TEXT NOT NULL CHECK (status IN ('Processing','Active','Failed')),"
     "  source_url TEXT,"
     "  sha256 TEXT NOT NULL DEFAULT '',"
     "  size_bytes INTEGER NOT NULL DEFAULT 0,"
     "  format TEXT NOT NULL DEFAULT '',"
     "  width INTEGER NOT NULL DEFAULT 0,"
     "  height INTEGER NOT NULL DEFAULT 0,"
     "  duration_ms INTEGER NOT NULL DEFAULT 0,"
     "  error_code TEXT NOT NULL DEFAULT '',"
     "  error_message TEXT NOT NULL DEFAULT '',"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  lease_until INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  deleted_at INTEGER NOT NULL DEFAULT 0,"
     "  gc_at INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX assets_by_key ON assets(key_id, created_at, id);"
     "CREATE INDEX assets_by_group ON assets(group_id, deleted_at);"
     "CREATE INDEX assets_by_status ON assets(status, lease_until);"
     "CREATE INDEX assets_by_sha ON assets(sha256);"
     "CREATE INDEX assets_by_gc ON assets(gc_at) WHERE deleted_at > 0;"},
    {4, "channels and upstream tasks",
     /* tasks.channel: where a task was routed ('' = not yet); tasks.next_poll_at (unix ms): when
      * the dispatcher looks at it next. upstream_tasks: one row per task that went upstream;
      * upstream_attempts: every submit, logged before it is sent (write-ahead). */
     "ALTER TABLE tasks ADD COLUMN channel TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE tasks ADD COLUMN next_poll_at INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX tasks_due ON tasks(status, next_poll_at);"
     "CREATE TABLE upstream_tasks ("
     "  task_id TEXT PRIMARY KEY REFERENCES tasks(id),"
     "  channel TEXT NOT NULL DEFAULT '',"
     "  upstream_model TEXT NOT NULL DEFAULT '',"
     "  upstream_id TEXT NOT NULL DEFAULT '',"
     "  attempt_id TEXT NOT NULL DEFAULT '',"
     "  client_token TEXT NOT NULL DEFAULT '',"
     "  callback_token TEXT NOT NULL DEFAULT '',"
     "  avoid_channel TEXT NOT NULL DEFAULT '',"
     "  upstream_status TEXT NOT NULL DEFAULT '',"
     "  attempt_started_at INTEGER NOT NULL DEFAULT 0,"
     "  accepted_at INTEGER NOT NULL DEFAULT 0,"
     "  retries INTEGER NOT NULL DEFAULT 0,"
     "  poll_errors INTEGER NOT NULL DEFAULT 0,"
     "  lookups INTEGER NOT NULL DEFAULT 0,"
     "  open INTEGER NOT NULL DEFAULT 0,"
     "  result TEXT);"
     "CREATE INDEX upstream_tasks_open ON upstream_tasks(task_id) WHERE open = 1;"
     "CREATE TABLE upstream_attempts ("
     "  id TEXT PRIMARY KEY,"
     "  task_id TEXT NOT NULL REFERENCES tasks(id),"
     "  channel TEXT NOT NULL,"
     "  upstream_model TEXT NOT NULL,"
     "  client_token TEXT NOT NULL,"
     "  started_at INTEGER NOT NULL,"
     "  ended_at INTEGER NOT NULL DEFAULT 0,"
     "  outcome TEXT NOT NULL DEFAULT 'pending',"
     "  upstream_id TEXT NOT NULL DEFAULT '',"
     "  http_status INTEGER NOT NULL DEFAULT 0,"
     "  detail TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX upstream_attempts_by_task ON upstream_attempts(task_id, started_at);"},
    {5, "lease owners and task asset references",
     /* lease_owner: the node that holds a task's lease (lease_until) or scheduled its next look
      * (next_poll_at), and the node that claimed a Processing asset; '' = none (or written before
      * this migration, which recovery treats as its own). task_assets: the content hashes a task
      * renders from (its asset:// references), written with the task, so the collector asks an
      * index instead of searching every stored spec. The backfill reads the specs once. */
     "ALTER TABLE tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE assets ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';"
     "CREATE TABLE task_assets ("
     "  task_id TEXT NOT NULL REFERENCES tasks(id),"
     "  sha256 TEXT NOT NULL,"
     "  PRIMARY KEY (task_id, sha256));"
     "CREATE INDEX task_assets_by_sha ON task_assets(sha256, task_id);"
     /* SQLite dialect: json_each (PostgreSQL: jsonb_array_elements). */
     "INSERT INTO task_assets (task_id, sha256) "
     "  SELECT DISTINCT task_id, substr(url, instr(url, '?sha256=') + 8) FROM "
     "    (SELECT t.id AS task_id, json_extract(e.value, '$.url') AS url FROM tasks t, "
     "      json_each(CASE WHEN json_valid(t.params) THEN t.params ELSE '{}' END, '$.media') e) "
     "  WHERE url LIKE 'asset://%?sha256=%' "
     "    AND length(substr(url, instr(url, '?sha256=') + 8)) = 64;"},
    {6, "webhooks: the delivery outbox, signing secrets, default URLs",
     /* webhook_deliveries: the outbox. One row per task whose final status had somewhere to go,
      * written in the transaction of that status (sqlite_webhooks.c), so an event is never lost
      * by a crash and never sent before the commit. next_at and deadline are unix ms; body is the
      * event as first sent, kept so that every retry carries the same bytes. webhook_secrets:
      * each key's signing secrets; a rotated-out one has expires_at > 0. */
     "ALTER TABLE keys ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';"
     "CREATE TABLE webhook_secrets ("
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  secret TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (key_id, secret));"
     "CREATE TABLE webhook_deliveries ("
     "  id TEXT PRIMARY KEY,"
     "  task_id TEXT NOT NULL UNIQUE REFERENCES tasks(id),"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  type TEXT NOT NULL,"
     "  url TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  status TEXT NOT NULL DEFAULT 'pending',"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  next_at INTEGER NOT NULL,"
     "  deadline INTEGER NOT NULL,"
     "  lease_until INTEGER NOT NULL DEFAULT 0,"
     "  lease_owner TEXT NOT NULL DEFAULT '',"
     "  last_http_status INTEGER NOT NULL DEFAULT 0,"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  delivered_at INTEGER NOT NULL DEFAULT 0,"
     "  body TEXT);"
     "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) "
     "  WHERE status = 'pending';"},
    {7, "tasks by status, channel and mode",
     /* What the render pool's claims, the routing of queued tasks and the channel loads look
      * up: one index seek each instead of a walk over every queued task (a long queue made each
      * of them cost milliseconds, on every submit). */
     "CREATE INDEX tasks_by_channel ON tasks(status, channel, test_mode, id);"},
    {8, "settings",
     /* Values every node of a shared store must agree on (the presigning secret): the first
      * value proposed is kept (setting_claim). */
     "CREATE TABLE settings ("
     "  name TEXT PRIMARY KEY,"
     "  value TEXT NOT NULL);"},
    {9, "named leases",
     /* A name at most one node holds at a time, until until_ms (unix ms): the upstream
      * scheduler's leadership (lease_hold). */
     "CREATE TABLE leases ("
     "  name TEXT PRIMARY KEY,"
     "  owner TEXT NOT NULL,"
     "  until_ms INTEGER NOT NULL);"},
    {10, "shared rate-limit buckets",
     /* The PostgreSQL backend's shared token buckets (pg_ratelimit.c). A SQLite store is one
      * node and limits rates in memory (http/ratelimit.c): the table stays empty here, and
      * exists so that both schemas carry the same numbers. */
     "CREATE TABLE rate_buckets ("
     "  key_id TEXT PRIMARY KEY,"
     "  tokens REAL NOT NULL,"
     "  allowed INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL);"},
    {11, "tasks stored by key",
     /* The task table without rowid, its rows in the b-tree of (key_id, id): a caller's tasks
      * lie together (ordered by their random ids within the key), so that
      * the status polls of one caller read a few adjacent leaves however many tasks the others
      * have, and a lookup reads one b-tree instead of the id index's and then the table's (bench
      * B3: 1,000 tasks of a key among 1,000,000 were 1,000 leaves of each, far beyond SQLite's
      * page cache). A lookup by id alone (dispatch, admin) goes through the unique index on id,
      * which the tables referring to tasks(id) need anyway. SQLite's way of changing a table
      * (its "twelve steps"): a new table, the rows copied, the old one dropped, the new one
      * renamed, the indexes made again; migrate() runs it with foreign keys off, so the drop
      * does not check the tables referring to tasks(id), whose references then name the new
      * table. Same columns, same order, same defaults; tasks_by_key is the primary key now. */
     "CREATE TABLE tasks_new ("
     "  id TEXT NOT NULL,"
     "  key_id TEXT NOT NULL REFERENCES keys(id),"
     "  model TEXT NOT NULL,"
     "  status TEXT NOT NULL,"
     "  version INTEGER NOT NULL DEFAULT 0,"
     "  progress INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  completed_at INTEGER NOT NULL DEFAULT 0,"
     "  expires_at INTEGER NOT NULL DEFAULT 0,"
     "  seconds INTEGER NOT NULL,"
     "  resolution TEXT NOT NULL,"
     "  ratio TEXT NOT NULL,"
     "  width INTEGER NOT NULL DEFAULT 0,"
     "  height INTEGER NOT NULL DEFAULT 0,"
     "  seed INTEGER NOT NULL DEFAULT -1,"
     "  params TEXT NOT NULL,"
     "  hold_micro INTEGER NOT NULL DEFAULT 0,"
     "  cost_micro INTEGER NOT NULL DEFAULT -1,"
     "  tokens INTEGER NOT NULL DEFAULT 0,"
     "  error_code TEXT NOT NULL DEFAULT '',"
     "  error_message TEXT NOT NULL DEFAULT '',"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  lease_until INTEGER NOT NULL DEFAULT 0,"
     "  has_last_frame INTEGER NOT NULL DEFAULT 0,"
     "  content_deleted INTEGER NOT NULL DEFAULT 0,"
     "  test_mode INTEGER NOT NULL DEFAULT 0,"
     "  channel TEXT NOT NULL DEFAULT '',"
     "  next_poll_at INTEGER NOT NULL DEFAULT 0,"
     "  lease_owner TEXT NOT NULL DEFAULT '',"
     "  PRIMARY KEY (key_id, id)) WITHOUT ROWID;"
     "INSERT INTO tasks_new SELECT " TASK_COLUMNS_V10 " FROM tasks;"
     "DROP TABLE tasks;"
     "ALTER TABLE tasks_new RENAME TO tasks;"
     "CREATE UNIQUE INDEX tasks_id ON tasks(id);"
     "CREATE INDEX tasks_by_status ON tasks(status, id);"
     "CREATE INDEX tasks_by_completion ON tasks(status, completed_at);"
     "CREATE INDEX tasks_due ON tasks(status, next_poll_at);"
     "CREATE INDEX tasks_by_channel ON tasks(status, channel, test_mode, id);"},
};

const vg_migration *vg_migrations(int *n)
{
    *n = (int)(sizeof migrations / sizeof migrations[0]);
    return migrations;
}
