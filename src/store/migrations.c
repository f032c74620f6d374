/* migrations.c - see migrations.h. Append new migrations; never edit a released one. */
#include "store/migrations.h"

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
};

const vg_migration *vg_migrations(int *n)
{
    *n = (int)(sizeof migrations / sizeof migrations[0]);
    return migrations;
}
