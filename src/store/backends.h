/*
 * backends.h - the opener of each store backend, for open.c's table (nothing else includes this).
 * An opener receives the options and the resolved node name, and fills *out or returns VG_ERR
 * with the reason in err.
 */
#ifndef VG_STORE_BACKENDS_H
#define VG_STORE_BACKENDS_H
#include "store/store.h"

/** sqlite_open.c: the database path, else DATA_DIR/vidgate.db. */
vg_status vg_store_open_sqlite(const vg_store_options *o, const char *node, vg_store **out,
                               char *err, size_t errlen);

/** pg_open.c: the database connection string (URL or key=value). */
vg_status vg_store_open_pg(const vg_store_options *o, const char *node, vg_store **out, char *err,
                           size_t errlen);

#endif
