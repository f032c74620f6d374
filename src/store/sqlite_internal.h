/*
 * sqlite_internal.h - what sqlite.c shares with its sibling backend files (sqlite_upstream.c):
 * the connection behind a vg_store, and those files' operations, which sqlite.c puts in its ops
 * table. Nothing outside src/store/ includes this.
 */
#ifndef VG_STORE_SQLITE_INTERNAL_H
#define VG_STORE_SQLITE_INTERNAL_H
#include "store/store.h"

#include <sqlite3.h>

/** The SQLite connection of a store opened by vg_store_open_sqlite(). */
sqlite3 *vg_sqlite_db(vg_store *s);

/* sqlite_upstream.c: channels and upstream tasks (store.h documents each). */
int vg_sq_task_claim_local(vg_store *s, int64_t now_ms, int64_t lease_ms, const char *local,
                           bool take_unrouted, vg_task *out);
int vg_sq_task_route_local(vg_store *s, const char *id, const char *channel, int64_t now);
int vg_sq_channel_load(vg_store *s, vg_channel_load **out, size_t *n);
int vg_sq_upstream_due(vg_store *s, vg_due_kind kind, int64_t due_ms, int limit, vg_up_row **out,
                       size_t *n);
int vg_sq_upstream_get(vg_store *s, const char *task_id, vg_up_row *out);
int vg_sq_upstream_begin(vg_store *s, const vg_up_attempt *a);
int vg_sq_upstream_attempt_end(vg_store *s, const char *attempt_id, const char *outcome,
                               const char *upstream_id, long http_status, const char *detail,
                               int64_t now_ms);
int vg_sq_upstream_requeue(vg_store *s, const char *task_id, const char *attempt_id,
                           int64_t not_before_ms, const char *avoid_channel, bool count_retry,
                           int64_t now);
int vg_sq_upstream_update(vg_store *s, vg_up_update *u, size_t n, int64_t now);
int vg_sq_upstream_recover(vg_store *s, int64_t now_ms);

/** Binds text, or NULL when v is NULL (SQLITE_TRANSIENT: the string may go away after). */
void vg_sq_bind_text(sqlite3_stmt *st, int i, const char *v);
/** Copies column i as text into dst (cap bytes, always terminated; "" for NULL). */
void vg_sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);

/* The task row decoder of sqlite.c, for statements that select TASK_COLS first. */
void vg_sq_row_to_task(sqlite3_stmt *st, vg_task *t);
/* TASK_COLS of sqlite.c, for sibling files' statements. */
extern const char vg_sq_task_cols[];

#endif
