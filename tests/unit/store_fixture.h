/*
 * store_fixture.h - the store fixture the store-level unit tests share: a fresh store opened as
 * node "node-a", with one key ("tester", secret "sk-test", balance 10.000000). Header-only (each
 * test is its own program); setup/teardown go to cmocka.
 *
 * Backends: every test runs on SQLite (a fresh file in a temporary directory) and, when
 * VG_TEST_PG_URL names a PostgreSQL server (scripts/pg-test-cluster prints one), once more on
 * PostgreSQL, each test in a schema of its own on that server's database (CREATE SCHEMA at setup,
 * DROP SCHEMA … CASCADE at teardown; its stores connect with that schema as their search_path).
 * fx_run_groups() runs a test table on each; fx_open() opens another connection to the same
 * store; fx_sql()/fx_sql_int() reach the database directly (how a test puts a row in any state).
 * A program with a fixture of its own (FX_OWN_FIXTURE) gets its database from fx_db_begin().
 */
#ifndef VG_TESTS_STORE_FIXTURE_H
#define VG_TESTS_STORE_FIXTURE_H
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "store/store.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { FX_SQLITE, FX_PG } fx_backend;

/* The backend the current group runs on (fx_run_groups sets it). */
static fx_backend fx_current = FX_SQLITE;

/* VG_TEST_PG_URL's connection options with `options` set to search_path=schema, as a
 * key=value string. */
static inline void fx_pg_conninfo(const char *schema, char *out, size_t cap)
{
    char *msg = NULL, opt[96];
    PQconninfoOption *opts = PQconninfoParse(getenv("VG_TEST_PG_URL"), &msg);
    if (!opts) fail_msg("VG_TEST_PG_URL: %s", msg ? msg : "unparsable");
    snprintf(opt, sizeof opt, "-c search_path=%s", schema);
    size_t len = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, "options") == 0 ? opt : o->val;
        if (!v || !*v) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s='", len ? " " : "", o->keyword);
        for (const char *c = v; *c && len + 3 < cap; c++) {
            if (*c == '\'' || *c == '\\') out[len++] = '\\';
            out[len++] = *c;
        }
        len += (size_t)snprintf(out + len, cap - len, "'");
    }
    PQconninfoFree(opts);
}

/* Runs sql on conn; fails the test on an error. The result is the caller's to PQclear. */
static inline PGresult *fx_pg_exec(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    return r;
}

/* One statement on VG_TEST_PG_URL's database (CREATE / DROP SCHEMA), on a connection kept for
 * the whole run. */
static inline void fx_pg_admin(const char *sql)
{
    static PGconn *admin;
    if (!admin) {
        admin = PQconnectdb(getenv("VG_TEST_PG_URL"));
        if (PQstatus(admin) != CONNECTION_OK) fail_msg("VG_TEST_PG_URL: %s", PQerrorMessage(admin));
        PQclear(fx_pg_exec(admin, "SET client_min_messages = warning"));
    }
    PQclear(fx_pg_exec(admin, sql));
}

/* The current backend's database for one test: on PostgreSQL a new schema (its name in schema)
 * and the conninfo that selects it (in database); on SQLite "" (DIR/vidgate.db). */
static inline void fx_db_begin(char schema[64], char *database, size_t cap)
{
    static int serial;
    database[0] = '\0';
    if (fx_current != FX_PG) return;
    char sql[128];
    snprintf(schema, 64, "vgt_%d_%d", (int)getpid(), ++serial);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    fx_pg_admin(sql);
    fx_pg_conninfo(schema, database, cap);
}

/* Drops what fx_db_begin made (nothing on SQLite). */
static inline void fx_db_end(const char *schema)
{
    if (fx_current != FX_PG) return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    fx_pg_admin(sql);
}

/* A test program with a fixture of its own (more than one key, other modules' state) defines
 * FX_OWN_FIXTURE before the include and uses fx_db_begin/fx_db_end and fx_run_groups only. */
#ifndef FX_OWN_FIXTURE
typedef struct {
    char dir[64];
    char schema[64];     /* PostgreSQL: this test's schema */
    PGconn *direct;      /* PostgreSQL: fx_sql's connection, opened on first use */
    char database[2048]; /* what stores are opened with ("" = DIR/vidgate.db) */
    vg_store *s;
    vg_key key;
} fixture;

/** Another connection to the fixture's store, as node `node`. */
static inline vg_status fx_open(fixture *f, const char *node, vg_store **out)
{
    char err[256];
    vg_status rc = vg_store_open(
        &(vg_store_options){.data_dir = f->dir, .database = f->database, .node = node}, out, err,
        sizeof err);
    if (rc != VG_OK) print_error("open: %s\n", err);
    return rc;
}

static inline int64_t fx_sql_run(fixture *f, const char *sql, bool want_int)
{
    int64_t n = 0;
    if (fx_current == FX_PG) {
        if (!f->direct) f->direct = PQconnectdb(f->database);
        PGresult *r = fx_pg_exec(f->direct, sql);
        if (want_int && PQntuples(r) > 0) n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return n;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/vidgate.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (want_int) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    } else {
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(db);
    return n;
}

/** Runs statements (separated by ';') on the store's database directly. */
static inline void fx_sql(fixture *f, const char *sql)
{
    fx_sql_run(f, sql, false);
}

/** The first column of a one-row query on the store's database, as an integer. */
static inline int64_t fx_sql_int(fixture *f, const char *sql)
{
    return fx_sql_run(f, sql, true);
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vg-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    fx_db_begin(f->schema, f->database, sizeof f->database);
    assert_int_equal(fx_open(f, "node-a", &f->s), VG_OK);
    vg_id_new("key_", f->key.id);
    snprintf(f->key.name, sizeof f->key.name, "tester");
    vg_sha256_hex("sk-test", 7, f->key.hash);
    f->key.created_at = 1000;
    assert_int_equal(vg_store_key_insert(f->s, &f->key, 10000000, "initial"), VG_OK);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    vg_store_close(f->s);
    PQfinish(f->direct); /* NULL on SQLite: a no-op */
    fx_db_end(f->schema);
    vg_rm_rf(f->dir);
    free(f);
    return 0;
}

#endif /* FX_OWN_FIXTURE */

/** Runs tests on SQLite, then on PostgreSQL when VG_TEST_PG_URL is set; failures add up. */
static inline int fx_run_groups(const char *name, const struct CMUnitTest *tests, size_t n)
{
    char label[96];
    snprintf(label, sizeof label, "%s (sqlite)", name);
    fx_current = FX_SQLITE;
    int failed = _cmocka_run_group_tests(label, tests, n, NULL, NULL);
    const char *url = getenv("VG_TEST_PG_URL");
    if (!url || !*url) return failed;
    snprintf(label, sizeof label, "%s (postgresql)", name);
    fx_current = FX_PG;
    return failed + _cmocka_run_group_tests(label, tests, n, NULL, NULL);
}

#endif
