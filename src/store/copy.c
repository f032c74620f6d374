/*
 * copy.c - see copy.h. Backend code on both sides: SQLite's C API for the source, libpq for the
 * target (the target is opened through vg_store_open, so it is migrated exactly as a node would
 * migrate it, and its connection is then used directly).
 *
 * Order: the source checks (not in use, this build's schema, no unknown table) come before the
 * target is touched. On the target, one transaction locks every copied table (a node started
 * against it meanwhile waits, then finds the copy), checks that none holds rows, replaces the
 * settings, streams the rows table by table (COPY FROM STDIN; parents first: foreign keys are
 * checked per row), advances the serial columns and commits.
 *
 * Columns: PostgreSQL's `seq` columns (BIGSERIAL) stand in for SQLite's rowid where insertion
 * order matters (pg_migrations.c), so a `seq` with no SQLite column of that name takes the rowid.
 */
#include "store/copy.h"

#include "common/alloc.h"
#include "store/migrations.h"
#include "store/pg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The tables that hold state, parents before children. Every table of the SQLite schema
 * (migrations.c) is here, or is one of SQLite's own (sqlite_sequence, sqlite_stat*: derived).
 * Not copied on the PostgreSQL side: schema_version (the target's migrations write it). Not in
 * either schema: temp.task_status (per connection, written at open). Leases (lease_owner,
 * lease_until) are copied as they are: they name the old node and expire by themselves. */
static const char *const g_tables[] = {
    "settings",          "keys",         "tasks",           "ledger",
    "idempotency",       "asset_groups", "assets",          "upstream_tasks",
    "upstream_attempts", "task_assets",  "webhook_secrets", "webhook_deliveries",
};
#define N_TABLES (sizeof g_tables / sizeof g_tables[0])

/* Tables of the schema that are not copied: state of the moment that the target's nodes make
 * afresh. leases: who plans upstream work now (the first node to start on the target takes it);
 * rate_buckets: tokens of the shared rate limits (a bucket starts full, as after a restart). */
static const char *const g_fresh[] = {"leases", "rate_buckets"};

/* Replaced rather than refused when the target has rows: a freshly migrated database may hold
 * values a node proposed (the presigning secret) before any key existed. */
static const char SETTINGS[] = "settings";

/* SQLite's walformat: every connection to a WAL database holds a shared lock on byte 128 of the
 * -shm file (the "DMS" lock) for as long as it is open. */
#define SHM_DMS_OFFSET 128

static vg_status fail(char *err, size_t errlen, vg_status rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static vg_status fail(char *err, size_t errlen, vg_status rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* libpq's message of the last failure, without its trailing newline. */
static const char *pq_msg(PGconn *conn)
{
    static _Thread_local char buf[512];
    snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

vg_status vg_store_sqlite_in_use(const char *path, long *pid)
{
    char shm[4200];
    snprintf(shm, sizeof shm, "%s-shm", path);
    int fd = open(shm, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return VG_OK; /* no -shm: no connection is open (the last one removes it) */
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHM_DMS_OFFSET, .l_len = 1};
    int rc = fcntl(fd, F_GETLK, &fl);
    close(fd);
    if (rc == 0 && fl.l_type != F_UNLCK) {
        *pid = (long)fl.l_pid;
        return VG_CONFLICT;
    }
    return VG_OK;
}

static bool known_table(const char *name)
{
    for (size_t i = 0; i < N_TABLES; i++)
        if (!strcmp(g_tables[i], name)) return true;
    for (size_t i = 0; i < sizeof g_fresh / sizeof g_fresh[0]; i++)
        if (!strcmp(g_fresh[i], name)) return true;
    return false;
}

/* ---- the source ------------------------------------------------------------------------------ */

/* Opens DIR/vidgate.db read-only after the checks of the design note; starts its read
 * transaction, so every table is read from one snapshot. */
static vg_status open_source(const char *dir, sqlite3 **out, char *err, size_t errlen)
{
    char path[4096];
    long pid = 0;
    snprintf(path, sizeof path, "%s/vidgate.db", dir);
    if (access(path, R_OK))
        return fail(err, errlen, VG_INVALID, "%s: %s (is %s a data directory?)", path,
                    strerror(errno), dir);
    if (vg_store_sqlite_in_use(path, &pid) != VG_OK)
        return fail(err, errlen, VG_CONFLICT,
                    "%s is in use (process %ld has it open): stop the vidgated running on %s "
                    "first",
                    path, pid, dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fail(err, errlen, VG_ERR, "cannot open %s: %s", path,
             db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return VG_ERR;
    }
    sqlite3_stmt *st = NULL;
    int n = 0, version = -1;
    vg_status rc = VG_ERR;
    const vg_migration *m = vg_migrations(&n);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        fail(err, errlen, VG_ERR, "cannot read %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    /* An older schema is not migrated here (the source stays read-only): the node does it. */
    if (version < m[n - 1].version) {
        rc = fail(err, errlen, VG_INVALID,
                  "%s has schema %d, this build %d: start this build's vidgated on %s once (it "
                  "migrates the database), stop it, then copy",
                  path, version, m[n - 1].version, dir);
        goto out;
    }
    if (version > m[n - 1].version) {
        rc = fail(err, errlen, VG_INVALID, "%s has schema %d, newer than this build (%d)", path,
                  version, m[n - 1].version);
        goto out;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' "
                           "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(err, errlen, VG_ERR, "cannot read %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    rc = VG_OK;
    while (rc == VG_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!known_table(name))
            rc = fail(err, errlen, VG_INVALID, "%s has a table \"%s\" that this build cannot copy",
                      path, name);
    }
out:
    sqlite3_finalize(st);
    if (rc == VG_OK)
        *out = db;
    else
        sqlite3_close(db);
    return rc;
}

/* ---- the columns of one table ---------------------------------------------------------------- */

typedef struct {
    char **names; /* the target's columns, in its order */
    bool *from_rowid;
    bool *binary; /* bytea: bound as bytes */
    int n;
} columns;

static void columns_free(columns *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->from_rowid);
    free(c->binary);
    memset(c, 0, sizeof *c);
}

/* The source's column names of table (PRAGMA table_info), NULL-terminated; NULL on a failure. */
static char **source_columns(sqlite3 *db, const char *table, int *n)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    char **names = NULL;
    *n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        names = vg_realloc(names, (size_t)(*n + 2) * sizeof *names);
        names[(*n)++] = vg_strdup((const char *)sqlite3_column_text(st, 1));
        names[*n] = NULL;
    }
    sqlite3_finalize(st);
    return names;
}

static void names_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

/* Matches the target's columns of table with the source's, by name (see the design note). */
static vg_status match_columns(sqlite3 *db, PGconn *pg, const char *table, columns *out, char *err,
                               size_t errlen)
{
    int ns = 0;
    char **src = source_columns(db, table, &ns);
    const char *params[1] = {table};
    PGresult *r = PQexecParams(pg,
                               "SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = current_schema() AND table_name = $1 "
                               "ORDER BY ordinal_position",
                               1, NULL, params, NULL, NULL, 0);
    vg_status rc = VG_ERR;
    bool *used = vg_calloc((size_t)ns + 1, sizeof *used);
    if (!src || !ns) {
        fail(err, errlen, VG_ERR, "cannot read the columns of %s in the source", table);
        goto out;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        fail(err, errlen, VG_ERR, "the target has no table %s: %s", table, pq_msg(pg));
        goto out;
    }
    out->n = PQntuples(r);
    out->names = vg_calloc((size_t)out->n, sizeof *out->names);
    out->from_rowid = vg_calloc((size_t)out->n, sizeof *out->from_rowid);
    out->binary = vg_calloc((size_t)out->n, sizeof *out->binary);
    for (int i = 0; i < out->n; i++) {
        const char *name = PQgetvalue(r, i, 0);
        out->names[i] = vg_strdup(name);
        out->binary[i] = !strcmp(PQgetvalue(r, i, 1), "bytea");
        int j = 0;
        while (j < ns && strcmp(src[j], name))
            j++;
        if (j < ns)
            used[j] = true;
        else if (!strcmp(name, "seq"))
            out->from_rowid[i] = true;
        else {
            fail(err, errlen, VG_ERR, "column %s.%s of the target has no counterpart in the source",
                 table, name);
            goto out;
        }
    }
    for (int j = 0; j < ns; j++)
        if (!used[j]) {
            fail(err, errlen, VG_ERR, "column %s.%s of the source has no counterpart in the target",
                 table, src[j]);
            goto out;
        }
    rc = VG_OK;
out:
    free(used);
    names_free(src);
    PQclear(r);
    if (rc != VG_OK) columns_free(out);
    return rc;
}

/* ---- copying --------------------------------------------------------------------------------- */

/* Whether table has a rowid (SQLite's task table has none since migration 11). */
static bool has_rowid(sqlite3 *db, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\" LIMIT 0", table);
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* The SELECT of the source and the COPY of the target for c (malloc'd): in insertion order
 * (rowid) when the table has one, else in its primary key's. */
static void statements(const char *table, const columns *c, bool rowid, char **select, char **copy)
{
    size_t sl = 0, cl = 0;
    FILE *s = open_memstream(select, &sl), *t = open_memstream(copy, &cl);
    fputs("SELECT ", s);
    fprintf(t, "COPY \"%s\" (", table);
    for (int k = 0; k < c->n; k++) {
        const char *sep = k ? ", " : "";
        if (c->from_rowid[k])
            fprintf(s, "%srowid", sep);
        else
            fprintf(s, "%s\"%s\"", sep, c->names[k]);
        fprintf(t, "%s\"%s\"", sep, c->names[k]);
    }
    fprintf(s, " FROM \"%s\"%s", table, rowid ? " ORDER BY rowid" : "");
    fputs(") FROM STDIN", t);
    fclose(s);
    fclose(t);
}

/* One row in COPY's text format: tab-separated, \N for NULL, backslash escapes, bytes as
 * "\\x<hex>" (bytea's hex input, its backslash escaped), a newline at the end. */
static void encode_row(sqlite3_stmt *st, const columns *c, FILE *out)
{
    for (int k = 0; k < c->n; k++) {
        if (k) fputc('\t', out);
        if (sqlite3_column_type(st, k) == SQLITE_NULL) {
            fputs("\\N", out);
        } else if (c->binary[k]) {
            const unsigned char *b = sqlite3_column_blob(st, k);
            int n = sqlite3_column_bytes(st, k);
            fputs("\\\\x", out);
            for (int i = 0; i < n; i++)
                fprintf(out, "%02x", b[i]);
        } else {
            const unsigned char *v = sqlite3_column_text(st, k);
            for (; *v; v++) {
                static const char plain[] = "\\\t\n\r", escaped[] = "\\tnr";
                const char *e = strchr(plain, *v);
                if (e)
                    fputc('\\', out), fputc(escaped[e - plain], out);
                else
                    fputc(*v, out);
            }
        }
    }
    fputc('\n', out);
}

/* Copies every row of table through COPY … FROM STDIN (one stream, not a round trip per row);
 * *rows counts them. */
static vg_status copy_table(sqlite3 *db, PGconn *pg, const char *table, int64_t *rows, char *err,
                            size_t errlen)
{
    columns c = {0};
    char *select = NULL, *copy = NULL, *line = NULL;
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    PGresult *r = NULL;
    bool streaming = false;
    vg_status rc = match_columns(db, pg, table, &c, err, errlen);
    if (rc != VG_OK) return rc;
    rc = VG_ERR;
    statements(table, &c, has_rowid(db, table), &select, &copy);
    if (sqlite3_prepare_v2(db, select, -1, &st, NULL) != SQLITE_OK) {
        fail(err, errlen, VG_ERR, "cannot read %s: %s", table, sqlite3_errmsg(db));
        goto out;
    }
    r = PQexec(pg, copy);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fail(err, errlen, VG_ERR, "cannot copy into %s: %s", table, pq_msg(pg));
        goto out;
    }
    streaming = true;
    *rows = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        FILE *f = open_memstream(&line, &cap);
        encode_row(st, &c, f);
        fclose(f);
        if (PQputCopyData(pg, line, (int)cap) != 1) {
            fail(err, errlen, VG_ERR, "cannot send %s: %s", table, pq_msg(pg));
            goto out;
        }
        free(line);
        line = NULL;
        (*rows)++;
    }
    if (step != SQLITE_DONE) {
        fail(err, errlen, VG_ERR, "cannot read %s: %s", table, sqlite3_errmsg(db));
        goto out;
    }
    streaming = false;
    PQclear(r);
    r = NULL;
    if (PQputCopyEnd(pg, NULL) != 1 || PQresultStatus(r = PQgetResult(pg)) != PGRES_COMMAND_OK) {
        fail(err, errlen, VG_ERR, "cannot copy into %s: %s", table, pq_msg(pg));
        goto out;
    }
    rc = VG_OK;
out:
    if (streaming) PQputCopyEnd(pg, "the source could not be read");
    /* Drain what remains of the COPY, so the connection is ready for the ROLLBACK. */
    do
        PQclear(r);
    while ((r = PQgetResult(pg)));
    free(line);
    sqlite3_finalize(st);
    free(select);
    free(copy);
    columns_free(&c);
    return rc;
}

/* One statement without parameters; VG_ERR with what it was for in err. */
static vg_status run(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return VG_OK;
    return fail(err, errlen, VG_ERR, "%s: %s", what, pq_msg(pg));
}

/* Locks the copied tables and refuses a target that holds any state. */
static vg_status claim_target(PGconn *pg, char *err, size_t errlen)
{
    size_t len = 0;
    char *sql = NULL;
    FILE *f = open_memstream(&sql, &len);
    fputs("LOCK TABLE ", f);
    for (size_t i = 0; i < N_TABLES; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", g_tables[i]);
    fputs(" IN EXCLUSIVE MODE", f);
    fclose(f);
    vg_status rc = run(pg, sql, "cannot lock the target's tables", err, errlen);
    free(sql);
    for (size_t i = 0; rc == VG_OK && i < N_TABLES; i++) {
        if (!strcmp(g_tables[i], SETTINGS)) continue;
        char q[160];
        snprintf(q, sizeof q, "SELECT EXISTS (SELECT 1 FROM \"%s\")", g_tables[i]);
        PGresult *r = PQexec(pg, q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = fail(err, errlen, VG_ERR, "cannot read the target's %s: %s", g_tables[i],
                      pq_msg(pg));
        else if (!strcmp(PQgetvalue(r, 0, 0), "t"))
            rc = fail(err, errlen, VG_CONFLICT,
                      "the target already holds %s (copy fills a new database, it does not "
                      "merge): give it an empty one",
                      g_tables[i]);
        PQclear(r);
    }
    if (rc == VG_OK) rc = run(pg, "DELETE FROM settings", "cannot clear the settings", err, errlen);
    return rc;
}

/* Moves every serial column's sequence past the values copied into it. */
static vg_status advance_sequences(PGconn *pg, char *err, size_t errlen)
{
    return run(pg,
               "DO $$ DECLARE c record; BEGIN "
               "FOR c IN SELECT table_name AS t, column_name AS col, "
               "    pg_get_serial_sequence(quote_ident(table_name), column_name) AS s "
               "  FROM information_schema.columns WHERE table_schema = current_schema() LOOP "
               "  CONTINUE WHEN c.s IS NULL; "
               "  EXECUTE format('SELECT setval(%L, coalesce(max(%I), 0) + 1, false) FROM %I', "
               "    c.s, c.col, c.t); "
               "END LOOP; END $$",
               "cannot advance the sequences", err, errlen);
}

/* The presigning secret of DIR/secret, when the source had none in its settings. */
static vg_status add_secret(PGconn *pg, const char *secret, char *err, size_t errlen)
{
    if (!secret || !secret[0]) return VG_OK;
    const char *params[1] = {secret};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO settings (name, value) VALUES ('presign_secret', $1) "
                               "ON CONFLICT (name) DO NOTHING",
                               1, NULL, params, NULL, NULL, 0);
    vg_status rc =
        PQresultStatus(r) == PGRES_COMMAND_OK
            ? VG_OK
            : fail(err, errlen, VG_ERR, "cannot store the presigning secret: %s", pq_msg(pg));
    PQclear(r);
    return rc;
}

static vg_status copy_all(sqlite3 *db, PGconn *pg, const vg_store_copy_options *o,
                          vg_store_copy_report *out, char *err, size_t errlen)
{
    /* SQLite's text is UTF-8, whatever the target database's encoding. */
    vg_status rc = run(pg, "SET client_encoding = 'UTF8'", "cannot set the encoding", err, errlen);
    if (rc == VG_OK) rc = run(pg, "BEGIN", "cannot start the transaction", err, errlen);
    if (rc == VG_OK) rc = claim_target(pg, err, errlen);
    for (size_t i = 0; rc == VG_OK && i < N_TABLES; i++) {
        int64_t rows = 0;
        rc = copy_table(db, pg, g_tables[i], &rows, err, errlen);
        snprintf(out->table[i].name, sizeof out->table[i].name, "%s", g_tables[i]);
        out->table[i].rows = rows;
        out->rows += rows;
        out->tables = i + 1;
    }
    if (rc == VG_OK) rc = add_secret(pg, o->presign_secret, err, errlen);
    if (rc == VG_OK) rc = advance_sequences(pg, err, errlen);
    if (rc == VG_OK) rc = run(pg, "COMMIT", "cannot commit", err, errlen);
    if (rc != VG_OK) PQclear(PQexec(pg, "ROLLBACK"));
    return rc;
}

vg_status vg_store_copy(const vg_store_copy_options *o, vg_store_copy_report *out, char *err,
                        size_t errlen)
{
    _Static_assert(N_TABLES <= VG_STORE_COPY_TABLES_MAX, "report too small");
    memset(out, 0, sizeof *out);
    if (!vg_store_database_is_pg(o->target))
        return fail(err, errlen, VG_INVALID,
                    "the target must be a PostgreSQL database (postgresql://… or key=value)");
    sqlite3 *db = NULL;
    vg_store *target = NULL;
    vg_status rc = open_source(o->source_dir, &db, err, errlen);
    if (rc != VG_OK) return rc;
    vg_store_options to = {.backend = "postgresql", .database = o->target, .node = "copy"};
    rc = vg_store_open(&to, &target, err, errlen);
    if (rc == VG_OK) rc = copy_all(db, vg_pgs(target)->conn, o, out, err, errlen);
    vg_store_close(target);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}
