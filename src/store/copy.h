/*
 * copy.h - copying a stopped single node's SQLite store (DIR/vidgate.db) into a new PostgreSQL
 * database, for an operator who moves from one node to many (`vidgated copy`).
 *
 * Contract: the source is opened read-only, after checking that no process has it open (a running
 * node would keep writing to it); its schema must be this build's. The target is opened like a
 * node opens it (migrated to this build's schema), must hold no state yet (this is not a merge),
 * and receives every row of every state table in one transaction: all of it or nothing. Columns
 * are matched by name; a column on either side without a counterpart stops the copy. Values travel
 * as text (NULL stays NULL, bytes as bytea's hex form), so the target's column types parse them.
 * Serial columns are advanced past the copied values, so rows the new nodes insert do not collide
 * with copied ones.
 *
 * Threads: a blocking call, for a command-line process; it opens and closes its own connections.
 */
#ifndef VG_STORE_COPY_H
#define VG_STORE_COPY_H
#include "common/status.h"

#include <stddef.h>
#include <stdint.h>

#define VG_STORE_COPY_TABLES_MAX 32

typedef struct {
    const char *source_dir; /* the data directory: DIR/vidgate.db */
    const char *target;     /* a PostgreSQL URL or key=value connection string */
    /* The presigning secret of DIR/secret, stored as setting "presign_secret" when the source's
     * settings lack one (a store last opened only by `check`); NULL = none. */
    const char *presign_secret;
} vg_store_copy_options;

typedef struct {
    size_t tables;
    struct {
        char name[64];
        int64_t rows;
    } table[VG_STORE_COPY_TABLES_MAX];
    int64_t rows; /* all tables */
} vg_store_copy_report;

/**
 * Copies the store as described above. VG_OK with *out filled; VG_CONFLICT when the source is in
 * use or the target already holds state; VG_INVALID for a source that is not this build's schema
 * or a target that is not PostgreSQL; VG_ERR otherwise. The reason is in err; the target is left
 * as it was on any failure.
 */
vg_status vg_store_copy(const vg_store_copy_options *o, vg_store_copy_report *out, char *err,
                        size_t errlen);

/**
 * Whether a process has the SQLite database at path open: VG_OK (nobody; also when the file is
 * missing), or VG_CONFLICT with the process id in *pid.
 */
vg_status vg_store_sqlite_in_use(const char *path, long *pid);

#endif
