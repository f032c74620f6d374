/*
 * migrations.h - the schema, as numbered migrations. Migration N moves a database from
 * user_version N-1 to N; a database is never moved backwards, and a database newer than this build
 * is refused. The SQL is kept portable (SQLite and PostgreSQL dialects differ only where noted).
 */
#ifndef VG_MIGRATIONS_H
#define VG_MIGRATIONS_H

typedef struct {
    int version;
    const char *name;
    const char *sql;
} vg_migration;

/** The migrations in order; *n receives their count. */
const vg_migration *vg_migrations(int *n);

#endif
